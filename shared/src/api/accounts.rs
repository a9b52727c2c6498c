//! The accounts routes (seed 001): reading the request (client transaction id, JSON body, paging
//! and filters), calling the account service and rendering the original's envelopes.

use http::Method;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

use super::{header, ApiRequest, ApiResponse, Query, Route, CHECKSUM_HEADER, TRANSACTION_HEADER};
use crate::accounts::filter::Filter;
use crate::accounts::input;
use crate::accounts::render;
use crate::accounts::service::{account_uri, ClientTxn, ListQuery, Versioned};
use crate::accounts::{
    format_id, parse_id, Account, AccountError, Accounts, Activity, ChildKind, Contact, Job, Location, Note, Policy,
    Stored, TeamId,
};
use crate::deps::Deps;

fn client_txn(req: &ApiRequest, route: Route) -> Result<Option<ClientTxn>, AccountError> {
    match req.headers.get(TRANSACTION_HEADER) {
        None => Ok(None),
        Some(v) => {
            let s =
                v.to_str().map_err(|_| AccountError::bad("header.GW-DBTransaction-ID", "must be printable ASCII"))?;
            if s.is_empty() || s.len() > 128 || !s.chars().all(|c| c.is_ascii_graphic()) {
                return Err(AccountError::bad(
                    "header.GW-DBTransaction-ID",
                    "must be 1 to 128 printable ASCII characters",
                ));
            }
            Ok(Some(ClientTxn { id: s.to_string(), operation: route.name().to_string() }))
        }
    }
}

fn json_body(req: &ApiRequest) -> Result<Value, AccountError> {
    super::json_body(req)?.ok_or_else(|| AccountError::bad("body", "is required"))
}

fn no_body(req: &ApiRequest) -> Result<(), AccountError> {
    if super::is_empty_body(&req.body) {
        Ok(())
    } else {
        Err(AccountError::bad("body", "must be empty for this action"))
    }
}

/// The query parameters a collection GET accepts; anything else is refused.
struct Paging {
    size: usize,
    offset: usize,
    include_total: bool,
    filters: Vec<Filter>,
    /// Normalised, for the links.
    filter_raw: Vec<String>,
}

/// `fields` is accepted with the original's values and changes nothing: we always answer every field.
const FIELDS: &[&str] = &["*all", "*default", "*summary"];

fn paging(req: &ApiRequest, filters_allowed: bool) -> Result<Paging, AccountError> {
    let allowed: &[&str] = if filters_allowed {
        &["pageSize", "pageOffset", "includeTotal", "filter", "fields"]
    } else {
        &["pageSize", "pageOffset", "includeTotal", "fields"]
    };
    let q = Query::parse(req, allowed)?;
    q.one_of("fields", FIELDS)?;
    let mut p = Paging {
        size: q.whole("pageSize", 1, 100)?.unwrap_or(25),
        offset: q.whole("pageOffset", 0, 1_000_000)?.unwrap_or(0),
        include_total: q.flag("includeTotal")?.unwrap_or(false),
        filters: vec![],
        filter_raw: vec![],
    };
    for v in q.all("filter") {
        p.filters.push(Filter::parse(v)?);
        p.filter_raw.push(v.to_string());
    }
    Ok(p)
}

fn encode_query(v: &str) -> String {
    percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC).to_string()
}

fn collection(path: &str, p: &Paging, data: Vec<Value>, has_more: bool, total: Option<usize>) -> Value {
    let href = |offset: usize| {
        let mut s = format!("{path}?pageSize={}", p.size);
        for f in &p.filter_raw {
            s.push_str("&filter=");
            s.push_str(&encode_query(f));
        }
        if p.include_total {
            s.push_str("&includeTotal=true");
        }
        if offset > 0 {
            s.push_str(&format!("&pageOffset={offset}"));
        }
        json!({"href": s, "methods": ["get"]})
    };
    let mut links = serde_json::Map::new();
    links.insert("self".into(), href(p.offset));
    links.insert("first".into(), href(0));
    if has_more {
        links.insert("next".into(), href(p.offset + p.size));
    }
    if p.offset > 0 {
        links.insert("prev".into(), href(p.offset.saturating_sub(p.size)));
    }
    let mut out = json!({"count": data.len(), "data": data, "links": links});
    if let Some(t) = total {
        out["total"] = json!(t);
    }
    out
}

/// Pages a child list that was read whole.
fn page_children<T>(path: &str, p: &Paging, items: Vec<T>, render: impl Fn(&T) -> Value) -> Value {
    let total = items.len();
    let data: Vec<Value> = items.iter().skip(p.offset).take(p.size).map(render).collect();
    let has_more = p.offset + data.len() < total;
    collection(path, p, data, has_more, p.include_total.then_some(total))
}

/// The account id of the path, or 404.
fn n(params: &[String]) -> Result<u64, AccountError> {
    let raw = params.first().map(String::as_str).unwrap_or("");
    parse_id(raw).ok_or_else(|| AccountError::NotFound { uri: format!("/account/v1/accounts/{raw}") })
}

fn child_id<T>(params: &[String], view: ChildView<T>) -> Result<u64, AccountError> {
    let raw = params.get(1).map(String::as_str).unwrap_or("");
    let account = params.first().map(String::as_str).unwrap_or("");
    parse_id(raw)
        .ok_or_else(|| AccountError::NotFound { uri: format!("/account/v1/accounts/{account}/{}/{raw}", view.segment) })
}

/// What every accounts route does first: the caller's team (HTTP Basic), then, on a write, the
/// client transaction id (`GW-DBTransaction-ID`) that makes a retry harmless.
struct Call<'a> {
    deps: &'a Deps,
    team: TeamId,
    txn: Option<ClientTxn>,
}

impl<'a> Call<'a> {
    async fn new(deps: &'a Deps, route: Route, req: &ApiRequest) -> Result<Call<'a>, AccountError> {
        let team = super::authenticate(deps, req).await?;
        let txn = if req.method == Method::GET { None } else { client_txn(req, route)? };
        Ok(Call { deps, team, txn })
    }

    fn svc(&self) -> Accounts<'_> {
        Accounts::new(self.deps.store.as_ref(), &self.team)
    }

    fn txn(&self) -> Option<&ClientTxn> {
        self.txn.as_ref()
    }
}

type Answer = Result<ApiResponse, AccountError>;

fn ok(v: Value) -> Answer {
    Ok(ApiResponse::json(200, &v))
}

/// POST /account/v1/accounts
pub async fn create_account(deps: &Deps, _: &[String], req: &ApiRequest) -> Answer {
    let c = Call::new(deps, Route::CreateAccount, req).await?;
    let input = input::new_account(&json_body(req)?)?;
    let a = c.svc().create(input, c.txn()).await?;
    let mut r = ApiResponse::json(201, &render::single(render::account_element(&a)));
    r.headers.push(("location", account_uri(a.value.id)));
    Ok(r)
}

/// GET /account/v1/accounts
pub async fn list_accounts(deps: &Deps, _: &[String], req: &ApiRequest) -> Answer {
    let c = Call::new(deps, Route::ListAccounts, req).await?;
    let p = paging(req, true)?;
    let q = ListQuery {
        filters: p.filters.clone(),
        page_size: p.size,
        page_offset: p.offset,
        include_total: p.include_total,
    };
    let res = c.svc().list(&q).await?;
    let data = res.items.iter().map(render::account_element).collect();
    ok(collection("/account/v1/accounts", &p, data, res.has_more, res.total))
}

/// GET /account/v1/accounts/{accountId}
pub async fn get_account(deps: &Deps, params: &[String], req: &ApiRequest) -> Answer {
    let c = Call::new(deps, Route::GetAccount, req).await?;
    paging_free(req)?;
    ok(render::single(render::account_element(&c.svc().load(n(params)?).await?)))
}

/// PATCH /account/v1/accounts/{accountId}
pub async fn patch_account(deps: &Deps, params: &[String], req: &ApiRequest) -> Answer {
    let c = Call::new(deps, Route::PatchAccount, req).await?;
    let n = n(params)?;
    let (patch, checksum) = input::account_patch(&json_body(req)?)?;
    let a = c.svc().patch(n, patch, checksum.as_deref(), c.txn()).await?;
    ok(render::single(render::account_element(&a)))
}

/// POST /account/v1/accounts/{accountId}/merge
pub async fn merge_accounts(deps: &Deps, params: &[String], req: &ApiRequest) -> Answer {
    let c = Call::new(deps, Route::MergeAccounts, req).await?;
    let n = n(params)?;
    let (source, checksum) = input::merge_body(&json_body(req)?)?;
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
    one_of(&c.svc(), params, CONTACTS).await
}

/// POST /account/v1/accounts/{accountId}/contacts
pub async fn create_contact(deps: &Deps, params: &[String], req: &ApiRequest) -> Answer {
    let c = Call::new(deps, Route::CreateContact, req).await?;
    let (st, fields) = input::new_contact_body(&json_body(req)?)?;
    created_child(CONTACTS, c.svc().add_contact(n(params)?, st, fields, c.txn()).await?)
}

/// PATCH /account/v1/accounts/{accountId}/contacts/{contactId}
pub async fn patch_contact(deps: &Deps, params: &[String], req: &ApiRequest) -> Answer {
    let c = Call::new(deps, Route::PatchContact, req).await?;
    let cid = child_id(params, CONTACTS)?;
    let body = json_body(req)?;
    let (account, contact) =
        c.svc().patch_contact(n(params)?, cid, |st| input::contact_patch_body(&body, st), c.txn()).await?;
    ok(render::single(child_json(CONTACTS, &account, &contact)))
}

/// GET /account/v1/accounts/{accountId}/locations
pub async fn list_locations(deps: &Deps, params: &[String], req: &ApiRequest) -> Answer {
    let c = Call::new(deps, Route::ListLocations, req).await?;
    list_of(&c.svc(), req, n(params)?, LOCATIONS).await
}

/// GET /account/v1/accounts/{accountId}/locations/{locationId}
pub async fn get_location(deps: &Deps, params: &[String], req: &ApiRequest) -> Answer {
    let c = Call::new(deps, Route::GetLocation, req).await?;
    one_of(&c.svc(), params, LOCATIONS).await
}

/// POST /account/v1/accounts/{accountId}/locations
pub async fn create_location(deps: &Deps, params: &[String], req: &ApiRequest) -> Answer {
    let c = Call::new(deps, Route::CreateLocation, req).await?;
    let address = input::new_location(&json_body(req)?)?;
    created_child(LOCATIONS, c.svc().add_location(n(params)?, address, c.txn()).await?)
}

/// GET /account/v1/accounts/{accountId}/notes
pub async fn list_notes(deps: &Deps, params: &[String], req: &ApiRequest) -> Answer {
    let c = Call::new(deps, Route::ListNotes, req).await?;
    list_of(&c.svc(), req, n(params)?, NOTES).await
}

/// POST /account/v1/accounts/{accountId}/notes
pub async fn create_note(deps: &Deps, params: &[String], req: &ApiRequest) -> Answer {
    let c = Call::new(deps, Route::CreateNote, req).await?;
    let note = input::new_note(&json_body(req)?)?;
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
    let activity = input::new_activity(&json_body(req)?)?;
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
    one_of(&c.svc(), params, POLICIES).await
}

/// POST /account/v1/accounts/{accountId}/policies
pub async fn create_policy(deps: &Deps, params: &[String], req: &ApiRequest) -> Answer {
    let c = Call::new(deps, Route::CreatePolicy, req).await?;
    let policy = input::new_policy(&json_body(req)?)?;
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
    let (username, password) = input::online_access(&json_body(req)?)?;
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

/// How one kind of child is addressed and shown.
struct ChildView<T> {
    kind: ChildKind,
    /// The path segment under the account, e.g. `notes`.
    segment: &'static str,
    attributes: fn(&Account, &Stored<T>) -> Value,
}

// Manual impls: a derive would ask `T: Copy`, and the view holds no `T`.
impl<T> Clone for ChildView<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for ChildView<T> {}

const CONTACTS: ChildView<Contact> =
    ChildView { kind: ChildKind::Contact, segment: "contacts", attributes: render::contact_attributes };
const LOCATIONS: ChildView<Location> =
    ChildView { kind: ChildKind::Location, segment: "locations", attributes: render::location_attributes };
const NOTES: ChildView<Note> =
    ChildView { kind: ChildKind::Note, segment: "notes", attributes: render::note_attributes };
const ACTIVITIES: ChildView<Activity> =
    ChildView { kind: ChildKind::Activity, segment: "activities", attributes: render::activity_attributes };
const POLICIES: ChildView<Policy> =
    ChildView { kind: ChildKind::Policy, segment: "policies", attributes: render::policy_attributes };
const JOBS: ChildView<Job> = ChildView { kind: ChildKind::Job, segment: "jobs", attributes: render::job_attributes };

fn child_json<T>(view: ChildView<T>, account: &Account, c: &Versioned<Stored<T>>) -> Value {
    render::child_element(account.id, view.segment, c.value.id, c.version, (view.attributes)(account, &c.value))
}

async fn list_of<T: DeserializeOwned>(
    svc: &Accounts<'_>,
    req: &ApiRequest,
    n: u64,
    view: ChildView<T>,
) -> Result<ApiResponse, AccountError> {
    let p = paging(req, false)?;
    let (account, items) = svc.list_children::<T>(n, view.kind).await?;
    let path = format!("{}/{}", account_uri(n), view.segment);
    Ok(ApiResponse::json(200, &page_children(&path, &p, items, |c| child_json(view, &account, c))))
}

async fn one_of<T: DeserializeOwned>(
    svc: &Accounts<'_>,
    params: &[String],
    view: ChildView<T>,
) -> Result<ApiResponse, AccountError> {
    let (account, c) = svc.get_child::<T>(n(params)?, view.kind, child_id(params, view)?).await?;
    Ok(ApiResponse::json(200, &render::single(child_json(view, &account, &c))))
}

fn created_child<T>(
    view: ChildView<T>,
    (account, c): (Account, Versioned<Stored<T>>),
) -> Result<ApiResponse, AccountError> {
    let mut r = ApiResponse::json(201, &render::single(child_json(view, &account, &c)));
    r.headers.push(("location", format!("{}/{}/{}", account_uri(account.id), view.segment, format_id(c.value.id))));
    Ok(r)
}

/// Single-resource GETs take no paging parameters.
fn paging_free(req: &ApiRequest) -> Result<(), AccountError> {
    Query::parse(req, &["fields"])?.one_of("fields", FIELDS)?;
    Ok(())
}
