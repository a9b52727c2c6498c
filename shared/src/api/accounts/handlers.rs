//! The accounts routes, one async fn each: read the request, call the account service, render.

use super::*;

type Answer = Result<ApiResponse, AccountError>;

fn ok(v: Value) -> Answer {
    Ok(ApiResponse::json(200, &v))
}

/// POST /account/v1/accounts
pub async fn create_account(deps: &Deps, _: &[String], req: &ApiRequest) -> Answer {
    let c = Call::new(deps, Route::CreateAccount, req).await?;
    let input = input::new_account(sent(req, &json_body(req)?)?)?;
    let a = c.svc().create(input, c.txn()).await?;
    let mut r = ApiResponse::json(201, &render::single(render::account_element(&a)));
    r.headers.push(("location", account_uri(a.value.id)));
    Ok(r)
}

/// GET /account/v1/accounts
pub async fn list_accounts(deps: &Deps, _: &[String], req: &ApiRequest) -> Answer {
    let c = Call::new(deps, Route::ListAccounts, req).await?;
    let p = paging(req, LIST_PARAMS, ACCOUNT_FIELDS, LIST_FIELDS)?;
    let q = ListQuery {
        filters: p.filters.clone(),
        sort: p.sort.clone(),
        page_size: p.size,
        page_offset: p.offset,
        include_total: p.include_total,
    };
    let svc = c.svc();
    let res = svc.list(&q).await?;
    accounts_page(&svc, "/account/v1/accounts", &p, res).await
}

/// POST /account/v1/search/accounts: the original's criteria, every one given met. A search
/// reads only: a `GW-DBTransaction-ID` sent with it is not recorded.
pub async fn search_accounts(deps: &Deps, _: &[String], req: &ApiRequest) -> Answer {
    let c = Call::new(deps, Route::SearchAccounts, req).await?;
    let p = Paging { method: "post", ..paging(req, SEARCH_PARAMS, ACCOUNT_FIELDS, &[])? };
    let criteria = input::search_criteria(sent(req, &json_body(req)?)?)?;
    let svc = c.svc();
    let res = svc.search(&Search::Criteria(Box::new(criteria)), p.size, p.offset, p.include_total).await?;
    accounts_page(&svc, "/account/v1/search/accounts", &p, res).await
}

/// POST /account/v1/search/accounts-freetext: accounts having every word of `searchValue`.
pub async fn search_accounts_freetext(deps: &Deps, _: &[String], req: &ApiRequest) -> Answer {
    let c = Call::new(deps, Route::SearchAccountsFreeText, req).await?;
    let p = Paging { method: "post", ..paging(req, SEARCH_PARAMS, ACCOUNT_FIELDS, &[])? };
    let text = input::free_text(sent(req, &json_body(req)?)?)?;
    let svc = c.svc();
    let res = svc.search(&Search::FreeText(text), p.size, p.offset, p.include_total).await?;
    accounts_page(&svc, "/account/v1/search/accounts-freetext", &p, res).await
}

/// A page of accounts in the original's collection envelope, with what `fields` keeps and
/// `include` brings.
async fn accounts_page(svc: &Accounts<'_>, path: &str, p: &Paging, res: ListResult<Versioned<Account>>) -> Answer {
    let mut data: Vec<Value> = res.items.iter().map(|a| p.select.apply(render::account_element(a))).collect();
    let accounts: Vec<&Account> = res.items.iter().map(|a| &a.value).collect();
    let included = include(svc, &accounts, &mut data, &p.include).await?;
    let mut body = collection(path, p, data, res.has_more, res.total);
    if let Some(included) = included {
        body["included"] = included;
    }
    ok(body)
}

/// GET /account/v1/accounts/{accountId}
pub async fn get_account(deps: &Deps, params: &[String], req: &ApiRequest) -> Answer {
    let c = Call::new(deps, Route::GetAccount, req).await?;
    let q = query(req, &["fields", "include"])?;
    let select = Selection::parse(q.text("fields"), ACCOUNT_FIELDS)?;
    let kinds = includes(q.text("include"))?;
    let svc = c.svc();
    let a = svc.load(n(params)?).await?;
    if select.is_every() && kinds.is_empty() {
        // The usual read, written straight to JSON (the same bytes; render's test compares).
        return Ok(ApiResponse::json_text(200, render::account_single_json(&a)));
    }
    let mut element = select.apply(render::account_element(&a));
    let included = include(&svc, &[&a.value], std::slice::from_mut(&mut element), &kinds).await?;
    let mut body = render::single(element);
    if let Some(included) = included {
        body["included"] = included;
    }
    ok(body)
}

/// PATCH /account/v1/accounts/{accountId}
pub async fn patch_account(deps: &Deps, params: &[String], req: &ApiRequest) -> Answer {
    let c = Call::new(deps, Route::PatchAccount, req).await?;
    let n = n(params)?;
    let (patch, checksum) = input::account_patch(sent(req, &json_body(req)?)?)?;
    let a = c.svc().patch(n, patch, checksum.as_deref(), c.txn()).await?;
    ok(render::single(render::account_element(&a)))
}

/// POST /account/v1/accounts/{accountId}/merge
pub async fn merge_accounts(deps: &Deps, params: &[String], req: &ApiRequest) -> Answer {
    let c = Call::new(deps, Route::MergeAccounts, req).await?;
    let n = n(params)?;
    let (source, checksum) = input::merge_body(sent(req, &json_body(req)?)?)?;
    let a = c.svc().merge(n, source, checksum.as_deref(), c.txn()).await?;
    ok(render::single(render::account_element(&a)))
}

/// POST /account/v1/accounts/{accountId}/withdraw
pub async fn withdraw_account(deps: &Deps, params: &[String], req: &ApiRequest) -> Answer {
    let c = Call::new(deps, Route::WithdrawAccount, req).await?;
    let n = n(params)?;
    no_body(req)?;
    ok(render::single(render::account_element(&c.svc().withdraw(n, header(req, CHECKSUM_HEADER), c.txn()).await?)))
}

/// POST /account/v1/accounts/{accountId}/reopen
pub async fn reopen_account(deps: &Deps, params: &[String], req: &ApiRequest) -> Answer {
    let c = Call::new(deps, Route::ReopenAccount, req).await?;
    let n = n(params)?;
    no_body(req)?;
    ok(render::single(render::account_element(&c.svc().reopen(n, header(req, CHECKSUM_HEADER), c.txn()).await?)))
}

/// GET /account/v1/accounts/{accountId}/contacts
pub async fn list_contacts(deps: &Deps, params: &[String], req: &ApiRequest) -> Answer {
    let c = Call::new(deps, Route::ListContacts, req).await?;
    list_of(&c.svc(), req, n(params)?, CONTACTS).await
}

/// GET /account/v1/accounts/{accountId}/contacts/{contactId}
pub async fn get_contact(deps: &Deps, params: &[String], req: &ApiRequest) -> Answer {
    let c = Call::new(deps, Route::GetContact, req).await?;
    one_of(&c.svc(), req, params, CONTACTS).await
}

/// POST /account/v1/accounts/{accountId}/contacts
pub async fn create_contact(deps: &Deps, params: &[String], req: &ApiRequest) -> Answer {
    let c = Call::new(deps, Route::CreateContact, req).await?;
    let (st, fields) = input::new_contact_body(sent(req, &json_body(req)?)?)?;
    created_child(CONTACTS, c.svc().add_contact(n(params)?, st, fields, c.txn()).await?)
}

/// PATCH /account/v1/accounts/{accountId}/contacts/{contactId}
pub async fn patch_contact(deps: &Deps, params: &[String], req: &ApiRequest) -> Answer {
    let c = Call::new(deps, Route::PatchContact, req).await?;
    let cid = child_id(params, CONTACTS)?;
    let body = json_body(req)?;
    let sent = sent(req, &body)?;
    let (account, contact) =
        c.svc().patch_contact(n(params)?, cid, |st| input::contact_patch_body(sent, st), c.txn()).await?;
    ok(render::single(child_json(CONTACTS, &account, &contact)))
}

/// DELETE /account/v1/accounts/{accountId}/contacts/{contactId}: any contact but the holder;
/// `GW-Checksum` (optional) must be the contact's current checksum. 204, no body.
pub async fn delete_contact(deps: &Deps, params: &[String], req: &ApiRequest) -> Answer {
    let c = Call::new(deps, Route::DeleteContact, req).await?;
    let cid = child_id(params, CONTACTS)?;
    no_body(req)?;
    c.svc().delete_contact(n(params)?, cid, header(req, CHECKSUM_HEADER), c.txn()).await?;
    Ok(ApiResponse { status: 204, headers: vec![], body: vec![] })
}

/// GET /account/v1/accounts/{accountId}/locations
pub async fn list_locations(deps: &Deps, params: &[String], req: &ApiRequest) -> Answer {
    let c = Call::new(deps, Route::ListLocations, req).await?;
    list_of(&c.svc(), req, n(params)?, LOCATIONS).await
}

/// GET /account/v1/accounts/{accountId}/locations/{locationId}
pub async fn get_location(deps: &Deps, params: &[String], req: &ApiRequest) -> Answer {
    let c = Call::new(deps, Route::GetLocation, req).await?;
    one_of(&c.svc(), req, params, LOCATIONS).await
}

/// POST /account/v1/accounts/{accountId}/locations
pub async fn create_location(deps: &Deps, params: &[String], req: &ApiRequest) -> Answer {
    let c = Call::new(deps, Route::CreateLocation, req).await?;
    let address = input::new_location(sent(req, &json_body(req)?)?)?;
    created_child(LOCATIONS, c.svc().add_location(n(params)?, address, c.txn()).await?)
}

/// PATCH /account/v1/accounts/{accountId}/locations/{locationId}
pub async fn patch_location(deps: &Deps, params: &[String], req: &ApiRequest) -> Answer {
    let c = Call::new(deps, Route::PatchLocation, req).await?;
    let lid = child_id(params, LOCATIONS)?;
    let body = json_body(req)?;
    let sent = sent(req, &body)?;
    let (account, location) =
        c.svc().patch_location(n(params)?, lid, |current| input::location_patch_body(sent, current), c.txn()).await?;
    ok(render::single(child_json(LOCATIONS, &account, &location)))
}

/// DELETE /account/v1/accounts/{accountId}/locations/{locationId}: any location but the
/// primary; `GW-Checksum` (optional) must be the location's current checksum. 204, no body.
pub async fn delete_location(deps: &Deps, params: &[String], req: &ApiRequest) -> Answer {
    let c = Call::new(deps, Route::DeleteLocation, req).await?;
    let lid = child_id(params, LOCATIONS)?;
    no_body(req)?;
    c.svc().delete_location(n(params)?, lid, header(req, CHECKSUM_HEADER), c.txn()).await?;
    Ok(ApiResponse { status: 204, headers: vec![], body: vec![] })
}

/// GET /account/v1/accounts/{accountId}/notes
pub async fn list_notes(deps: &Deps, params: &[String], req: &ApiRequest) -> Answer {
    let c = Call::new(deps, Route::ListNotes, req).await?;
    list_of(&c.svc(), req, n(params)?, NOTES).await
}

/// POST /account/v1/accounts/{accountId}/notes
pub async fn create_note(deps: &Deps, params: &[String], req: &ApiRequest) -> Answer {
    let c = Call::new(deps, Route::CreateNote, req).await?;
    let note = input::new_note(sent(req, &json_body(req)?)?)?;
    created_child(NOTES, c.svc().add_note(n(params)?, note, c.txn()).await?)
}

/// GET /account/v1/accounts/{accountId}/activities
pub async fn list_activities(deps: &Deps, params: &[String], req: &ApiRequest) -> Answer {
    let c = Call::new(deps, Route::ListActivities, req).await?;
    list_of(&c.svc(), req, n(params)?, ACTIVITIES).await
}

/// POST /account/v1/accounts/{accountId}/activities
pub async fn create_activity(deps: &Deps, params: &[String], req: &ApiRequest) -> Answer {
    let c = Call::new(deps, Route::CreateActivity, req).await?;
    let activity = input::new_activity(sent(req, &json_body(req)?)?)?;
    created_child(ACTIVITIES, c.svc().add_activity(n(params)?, activity, c.txn()).await?)
}

/// GET /account/v1/accounts/{accountId}/policies
pub async fn list_policies(deps: &Deps, params: &[String], req: &ApiRequest) -> Answer {
    let c = Call::new(deps, Route::ListPolicies, req).await?;
    list_of(&c.svc(), req, n(params)?, POLICIES).await
}

/// GET /account/v1/accounts/{accountId}/policies/{policyId}
pub async fn get_policy(deps: &Deps, params: &[String], req: &ApiRequest) -> Answer {
    let c = Call::new(deps, Route::GetPolicy, req).await?;
    one_of(&c.svc(), req, params, POLICIES).await
}

/// POST /account/v1/accounts/{accountId}/policies
pub async fn create_policy(deps: &Deps, params: &[String], req: &ApiRequest) -> Answer {
    let c = Call::new(deps, Route::CreatePolicy, req).await?;
    let policy = input::new_policy(sent(req, &json_body(req)?)?)?;
    created_child(POLICIES, c.svc().add_policy(n(params)?, policy, c.txn()).await?)
}

/// GET /account/v1/accounts/{accountId}/jobs
pub async fn list_jobs(deps: &Deps, params: &[String], req: &ApiRequest) -> Answer {
    let c = Call::new(deps, Route::ListJobs, req).await?;
    list_of(&c.svc(), req, n(params)?, JOBS).await
}

/// PUT /account/v1/accounts/{accountId}/online-access
pub async fn set_online_access(deps: &Deps, params: &[String], req: &ApiRequest) -> Answer {
    let c = Call::new(deps, Route::SetOnlineAccess, req).await?;
    let (username, password) = input::online_access(sent(req, &json_body(req)?)?)?;
    let access = c.svc().set_online_access(&deps.keys, n(params)?, username, password).await?;
    ok(render::online_access(&access))
}

/// DELETE /account/v1/accounts/{accountId}/online-access
pub async fn remove_online_access(deps: &Deps, params: &[String], req: &ApiRequest) -> Answer {
    let c = Call::new(deps, Route::RemoveOnlineAccess, req).await?;
    no_body(req)?;
    c.svc().remove_online_access(n(params)?).await?;
    Ok(ApiResponse { status: 204, headers: vec![], body: vec![] })
}
