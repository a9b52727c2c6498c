//! The accounts routes (seed 001): reading the request (client transaction id, JSON body, paging
//! and filters), calling the account service and rendering the original's envelopes.

use http::Method;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

use super::{
    header, ApiRequest, ApiResponse, Query, Route, CHECKSUM_HEADER, TRANSACTION_HEADER, UNKNOWN_PROPERTY_HEADER,
    UNKNOWN_QUERY_HEADER,
};
use crate::accounts::filter::{Filter, Sort, LIST_FIELDS};
use crate::accounts::input;
use crate::accounts::render;
use crate::accounts::search::Search;
use crate::accounts::service::{account_uri, ClientTxn, ListQuery, ListResult, Versioned};
use crate::accounts::{
    format_id, parse_id, Account, AccountError, Accounts, Activity, ChildKind, Contact, Job, Location, Note, Policy,
    Stored, TeamId,
};
use crate::deps::Deps;
use crate::fields::Unknown;

mod handlers;
mod select;

use select::Selection;

pub use handlers::*;

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

/// What the request asks done with what the API does not know, by the original's header `name`
/// ("Handling a call with unknown elements"): `reject` (also when the header is absent) refuses
/// it; `ignore` passes over it; `log` passes over it and logs how many (never their names).
/// Case-insensitive; any other value is 400.
fn handling(req: &ApiRequest, name: &'static str) -> Result<(Unknown, bool), AccountError> {
    let Some(v) = req.headers.get(name) else { return Ok((Unknown::Refuse, false)) };
    match v.to_str().map(|s| s.trim().to_ascii_lowercase()).as_deref() {
        Ok("reject") => Ok((Unknown::Refuse, false)),
        Ok("ignore") => Ok((Unknown::Ignore, false)),
        Ok("log") => Ok((Unknown::Ignore, true)),
        _ => Err(AccountError::bad(&format!("header.{name}"), "must be one of reject, ignore, log")),
    }
}

/// A body as its reader takes it, with the request's `GW-UnknownPropertyHandling`.
fn sent<'v>(req: &ApiRequest, value: &'v Value) -> Result<input::Sent<'v>, AccountError> {
    let (unknown, log) = handling(req, UNKNOWN_PROPERTY_HEADER)?;
    Ok(input::Sent { value, unknown, log })
}

/// The query string against the parameters a route takes, with the request's
/// `GW-UnknownQueryParamHandling`: an unknown parameter is refused, or passed over.
fn query(req: &ApiRequest, allowed: &[&str]) -> Result<Query, AccountError> {
    let (unknown, log) = handling(req, UNKNOWN_QUERY_HEADER)?;
    let q = Query::parse_as(req, allowed, unknown)?;
    if log && q.ignored > 0 {
        tracing::info!(
            unknown_query_params = q.ignored,
            "unknown query parameters ignored (GW-UnknownQueryParamHandling: log)"
        );
    }
    Ok(q)
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
    /// What each element keeps (`fields`).
    select: Selection,
    /// The child collections each account brings along (`include`).
    include: Vec<ChildKind>,
    /// The account list's order (`sort`), and as sent, for the links.
    sort: Sort,
    /// `sort`, `fields` and `include` as sent, kept in the links so every page has one shape.
    sort_raw: Option<String>,
    fields_raw: Option<String>,
    include_raw: Option<String>,
    /// How the page links are followed: `get`, or `post` for a search (its body sent again).
    method: &'static str,
}

/// An account's attributes, for `fields` (the `Account` schema of `openapi.json`; a test keeps
/// the two the same).
const ACCOUNT_FIELDS: &[&str] = &[
    "id",
    "accountNumber",
    "accountStatus",
    "accountHolder",
    "organizationType",
    "primaryLocation",
    "producerCodes",
    "numberOfContacts",
    "preferredCoverageCurrency",
    "preferredSettlementCurrency",
    "businessOperationsDescription",
    "yearBusinessStarted",
    "createdDate",
    "updatedDate",
];

/// The query parameters of the account list (the original's full set).
const LIST_PARAMS: &[&str] = &["pageSize", "pageOffset", "includeTotal", "filter", "fields", "include", "sort"];
/// A child list's: paging, `fields` and `sort`.
const CHILD_LIST_PARAMS: &[&str] = &["pageSize", "pageOffset", "includeTotal", "fields", "sort"];
/// A search's: paging, `fields` and `include` (its answer is in creation order; its body filters).
const SEARCH_PARAMS: &[&str] = &["pageSize", "pageOffset", "includeTotal", "fields", "include"];

/// Reads a list's query: `allowed` its parameters, `known` the fields `fields` may name, `sortable`
/// those `sort` may.
fn paging(req: &ApiRequest, allowed: &[&str], known: &[&str], sortable: &[&str]) -> Result<Paging, AccountError> {
    let q = query(req, allowed)?;
    // With `GW-UnknownQueryParamHandling: ignore`, a parameter this route does not take is passed
    // over, never read.
    let takes = |name: &str| allowed.contains(&name);
    let text = |name: &str| q.text(name).filter(|_| takes(name));
    let select = Selection::parse(text("fields"), known)?;
    let mut p = Paging {
        size: q.whole("pageSize", 1, 100)?.unwrap_or(25),
        offset: q.whole("pageOffset", 0, 1_000_000)?.unwrap_or(0),
        include_total: q.flag("includeTotal")?.unwrap_or(false),
        filters: vec![],
        filter_raw: vec![],
        select,
        include: includes(text("include"))?,
        sort: text("sort").map(|v| Sort::parse_for(v, sortable)).transpose()?.unwrap_or_default(),
        sort_raw: text("sort").map(str::to_string),
        fields_raw: text("fields").map(str::to_string),
        include_raw: text("include").map(str::to_string),
        method: "get",
    };
    if takes("filter") {
        for v in q.all("filter") {
            p.filters.push(Filter::parse(v)?);
            p.filter_raw.push(v.to_string());
        }
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
        for (name, value) in [("sort", &p.sort_raw), ("fields", &p.fields_raw), ("include", &p.include_raw)] {
            if let Some(v) = value {
                s.push_str(&format!("&{name}="));
                s.push_str(&encode_query(v));
            }
        }
        if p.include_total {
            s.push_str("&includeTotal=true");
        }
        if offset > 0 {
            s.push_str(&format!("&pageOffset={offset}"));
        }
        json!({"href": s, "methods": [p.method]})
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
    let mut out = crate::json::object([
        ("count", json!(data.len())),
        ("data", Value::Array(data)),
        ("links", Value::Object(links)),
    ]);
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
        // A write takes no query parameter: one sent is unknown, refused unless the request's
        // `GW-UnknownQueryParamHandling` passes over it (reads and searches read their own).
        let reads_query =
            req.method == Method::GET || matches!(route, Route::SearchAccounts | Route::SearchAccountsFreeText);
        if !reads_query {
            query(req, &[])?;
        }
        Ok(Call { deps, team, txn })
    }

    fn svc(&self) -> Accounts<'_> {
        Accounts::new(self.deps.store.as_ref(), &self.team)
    }

    fn txn(&self) -> Option<&ClientTxn> {
        self.txn.as_ref()
    }
}

/// How one kind of child is addressed and shown.
struct ChildView<T> {
    kind: ChildKind,
    /// The path segment under the account, e.g. `notes`.
    segment: &'static str,
    attributes: fn(&Account, &Stored<T>) -> Value,
    /// Its attributes, for `fields` (its schema's in `openapi.json`; a test keeps them the same).
    fields: &'static [&'static str],
    /// The attributes its list sorts on (`sort`): those of one value (text, a date, a typekey's
    /// code, a flag), never a structure.
    sortable: &'static [&'static str],
}

// Manual impls: a derive would ask `T: Copy`, and the view holds no `T`.
impl<T> Clone for ChildView<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for ChildView<T> {}

const CONTACTS: ChildView<Contact> = ChildView {
    kind: ChildKind::Contact,
    segment: "contacts",
    attributes: render::contact_attributes,
    fields: &[
        "id",
        "contactSubtype",
        "displayName",
        "firstName",
        "lastName",
        "companyName",
        "emailAddress1",
        "homePhone",
        "workPhone",
        "cellPhone",
        "primaryAddress",
        "taxId",
        "accountHolder",
    ],
    sortable: &["id", "contactSubtype", "displayName", "firstName", "lastName", "companyName", "emailAddress1"],
};
const LOCATIONS: ChildView<Location> = ChildView {
    kind: ChildKind::Location,
    segment: "locations",
    attributes: render::location_attributes,
    fields: &[
        "id",
        "locationCode",
        "displayName",
        "addressLine1",
        "addressLine2",
        "city",
        "state",
        "postalCode",
        "country",
        "primaryLocation",
    ],
    sortable: &["id", "locationCode", "displayName", "addressLine1", "city", "state", "postalCode", "country"],
};
const NOTES: ChildView<Note> = ChildView {
    kind: ChildKind::Note,
    segment: "notes",
    attributes: render::note_attributes,
    fields: &["id", "subject", "body", "topic", "confidential", "createdDate"],
    sortable: &["id", "subject", "topic", "confidential", "createdDate"],
};
const ACTIVITIES: ChildView<Activity> = ChildView {
    kind: ChildKind::Activity,
    segment: "activities",
    attributes: render::activity_attributes,
    fields: &["id", "subject", "description", "priority", "status", "dueDate", "createdDate"],
    sortable: &["id", "subject", "priority", "status", "dueDate", "createdDate"],
};
const POLICIES: ChildView<Policy> = ChildView {
    kind: ChildKind::Policy,
    segment: "policies",
    attributes: render::policy_attributes,
    fields: &[
        "id",
        "policyNumber",
        "status",
        "lineOfBusiness",
        "effectiveDate",
        "expirationDate",
        "totalPremium",
        "insured",
        "mortgagees",
        "drivers",
        "vehicles",
        "createdDate",
    ],
    sortable: &["id", "policyNumber", "status", "lineOfBusiness", "effectiveDate", "expirationDate", "createdDate"],
};
const JOBS: ChildView<Job> = ChildView {
    kind: ChildKind::Job,
    segment: "jobs",
    attributes: render::job_attributes,
    fields: &["id", "jobNumber", "jobType", "policy", "createdDate"],
    sortable: &["id", "jobNumber", "jobType", "createdDate"],
};

fn child_json<T>(view: ChildView<T>, account: &Account, c: &Versioned<Stored<T>>) -> Value {
    render::child_element(account, view.kind, view.segment, c.value.id, c.version, (view.attributes)(account, &c.value))
}

async fn list_of<T: DeserializeOwned>(
    svc: &Accounts<'_>,
    req: &ApiRequest,
    n: u64,
    view: ChildView<T>,
) -> Result<ApiResponse, AccountError> {
    let p = paging(req, CHILD_LIST_PARAMS, view.fields, view.sortable)?;
    let (account, items) = svc.list_children::<T>(n, view.kind).await?;
    let path = format!("{}/{}", account_uri(n), view.segment);
    if p.sort.is_empty() {
        // In id order: only the page is rendered.
        return Ok(ApiResponse::json(
            200,
            &page_children(&path, &p, items, |c| p.select.apply(child_json(view, &account, c))),
        ));
    }
    // Read whole (an account's children), so rendered and sorted whole, then paged.
    let mut elements: Vec<Value> = items.iter().map(|c| child_json(view, &account, c)).collect();
    select::sort_elements(&p.sort, &mut elements);
    Ok(ApiResponse::json(200, &page_children(&path, &p, elements, |e| p.select.apply(e.clone()))))
}

async fn one_of<T: DeserializeOwned>(
    svc: &Accounts<'_>,
    req: &ApiRequest,
    params: &[String],
    view: ChildView<T>,
) -> Result<ApiResponse, AccountError> {
    let select = paging_free(req, view.fields)?;
    let (account, c) = svc.get_child::<T>(n(params)?, view.kind, child_id(params, view)?).await?;
    Ok(ApiResponse::json(200, &render::single(select.apply(child_json(view, &account, &c)))))
}

fn created_child<T>(
    view: ChildView<T>,
    (account, c): (Account, Versioned<Stored<T>>),
) -> Result<ApiResponse, AccountError> {
    let mut r = ApiResponse::json(201, &render::single(child_json(view, &account, &c)));
    r.headers.push(("location", format!("{}/{}/{}", account_uri(account.id), view.segment, format_id(c.value.id))));
    Ok(r)
}

/// What `include` may name on an account (its child collections), and each one's resource type
/// in `included`.
const INCLUDES: &[(&str, ChildKind, &str)] = &[
    ("contacts", ChildKind::Contact, "AccountContact"),
    ("locations", ChildKind::Location, "AccountLocation"),
    ("notes", ChildKind::Note, "Note"),
    ("activities", ChildKind::Activity, "Activity"),
    ("policies", ChildKind::Policy, "Policy"),
    ("jobs", ChildKind::Job, "Job"),
];

/// The original's `include`: a comma-separated list of an account's child collections.
fn includes(value: Option<&str>) -> Result<Vec<ChildKind>, AccountError> {
    let Some(value) = value else { return Ok(vec![]) };
    let mut kinds = Vec::new();
    for name in value.split(',').map(str::trim) {
        match INCLUDES.iter().find(|(n, _, _)| *n == name) {
            Some((_, kind, _)) if !kinds.contains(kind) => kinds.push(*kind),
            Some(_) => {}
            None => {
                let names: Vec<&str> = INCLUDES.iter().map(|(n, _, _)| *n).collect();
                return Err(AccountError::bad(
                    "query.include",
                    format!("names what an account cannot include; it includes: {}", names.join(", ")),
                ));
            }
        }
    }
    Ok(kinds)
}

/// Adds to each account element (`data` of a get, each element of a list) the children `kinds`
/// name: `related: {contacts: {count, data: [{id, type}]}}` on the account, the children
/// themselves once each in `included: {AccountContact: [...]}`. One children query per account.
async fn include(
    svc: &Accounts<'_>,
    accounts: &[&Account],
    elements: &mut [Value],
    kinds: &[ChildKind],
) -> Result<Option<Value>, AccountError> {
    if kinds.is_empty() {
        return Ok(None);
    }
    let mut included = serde_json::Map::new();
    for (account, element) in accounts.iter().zip(elements.iter_mut()) {
        let children = svc.children_of(account, kinds).await?;
        let mut related = serde_json::Map::new();
        for (name, kind, type_name) in INCLUDES.iter().filter(|(_, k, _)| kinds.contains(k)) {
            let rendered: Vec<Value> = match kind {
                ChildKind::Contact => children.contacts.iter().map(|c| child_json(CONTACTS, account, c)).collect(),
                ChildKind::Location => children.locations.iter().map(|c| child_json(LOCATIONS, account, c)).collect(),
                ChildKind::Note => children.notes.iter().map(|c| child_json(NOTES, account, c)).collect(),
                ChildKind::Activity => children.activities.iter().map(|c| child_json(ACTIVITIES, account, c)).collect(),
                ChildKind::Policy => children.policies.iter().map(|c| child_json(POLICIES, account, c)).collect(),
                ChildKind::Job => children.jobs.iter().map(|c| child_json(JOBS, account, c)).collect(),
            };
            let refs: Vec<Value> =
                rendered.iter().map(|e| json!({"id": e["attributes"]["id"], "type": type_name})).collect();
            related.insert((*name).into(), json!({"count": refs.len(), "data": refs}));
            let list = included.entry(*type_name).or_insert_with(|| Value::Array(vec![]));
            if let Value::Array(list) = list {
                list.extend(rendered);
            }
        }
        element["related"] = Value::Object(related);
    }
    Ok(Some(Value::Object(included)))
}

/// Single-resource GETs take no paging parameters: `fields` only.
fn paging_free(req: &ApiRequest, known: &[&str]) -> Result<Selection, AccountError> {
    Selection::parse(query(req, &["fields"])?.text("fields"), known)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fields_each_resource_takes_are_its_schemas_properties() {
        let doc: Value = serde_json::from_str(crate::api::OPENAPI).unwrap();
        let kinds = [
            ("Account", ACCOUNT_FIELDS),
            ("Contact", CONTACTS.fields),
            ("Location", LOCATIONS.fields),
            ("Note", NOTES.fields),
            ("Activity", ACTIVITIES.fields),
            ("Policy", POLICIES.fields),
            ("Job", JOBS.fields),
        ];
        for (schema, fields) in kinds {
            let props = doc["components"]["schemas"][schema]["properties"].as_object().unwrap();
            let mut documented: Vec<&str> = props.keys().map(String::as_str).collect();
            let mut ours = fields.to_vec();
            documented.sort_unstable();
            ours.sort_unstable();
            assert_eq!(ours, documented, "{schema}");
        }
    }
}
