//! HTTP handlers over plain requests: the Lambda binaries, the local server and the tests all call
//! [`handle`] or [`handle_route`], so every way of serving runs the very same code.

mod errors;
pub mod routes;

use std::time::Instant;

use bytes::Bytes;
use http::{HeaderMap, Method};
use serde_json::{json, Value};

use crate::accounts::input;
use crate::accounts::render::{self, Filter};
use crate::accounts::service::{ClientTxn, ListQuery, Versioned};
use crate::accounts::{parse_id, AccountError, Accounts, ChildKind, TeamId};
use crate::deps::Deps;
pub use errors::{error_response, plain_error};
pub use routes::{Route, ROUTES};

/// The largest request body accepted.
pub const MAX_BODY: usize = 1 << 20;
/// The client transaction id header that makes a retried POST harmless.
pub const TRANSACTION_HEADER: &str = "GW-DBTransaction-ID";
/// The checksum header for body-less actions (withdraw, reopen).
pub const CHECKSUM_HEADER: &str = "GW-Checksum";

pub const OPENAPI: &str = include_str!("../../openapi.json");

#[derive(Debug, Clone)]
pub struct ApiRequest {
    pub method: Method,
    /// The path as sent (percent-encoded).
    pub path: String,
    pub query: Option<String>,
    pub headers: HeaderMap,
    pub body: Bytes,
}

#[derive(Debug, Clone)]
pub struct ApiResponse {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

impl ApiResponse {
    pub fn json(status: u16, v: &Value) -> Self {
        ApiResponse {
            status,
            headers: vec![("content-type", "application/json".into())],
            body: serde_json::to_vec(v).unwrap_or_default(),
        }
    }
}

/// Serves any route of the table (the local server), and the OpenAPI document.
pub async fn handle(deps: &Deps, req: ApiRequest) -> ApiResponse {
    if req.method == Method::GET && (req.path == "/openapi.json" || req.path == "/account/v1/openapi.json") {
        return ApiResponse {
            status: 200,
            headers: vec![("content-type", "application/json".into())],
            body: OPENAPI.as_bytes().to_vec(),
        };
    }
    match routes::match_path(&req.method, &req.path) {
        routes::Match::Found(route, params) => run(deps, route, params, req).await,
        routes::Match::WrongMethod(allowed) => {
            let mut r = plain_error(
                405,
                "MethodNotAllowedException",
                &format!("The method {} is not allowed here.", req.method),
            );
            r.headers.push(("allow", allowed.join(", ")));
            r
        }
        routes::Match::None => error_response(&AccountError::NotFound { uri: req.path.clone() }),
    }
}

/// Serves one route only (one Lambda function); any other path is 404.
pub async fn handle_route(deps: &Deps, route: Route, req: ApiRequest) -> ApiResponse {
    match routes::match_route(route, &req.method, &req.path) {
        Some(params) => run(deps, route, params, req).await,
        None => error_response(&AccountError::NotFound { uri: req.path.clone() }),
    }
}

async fn run(deps: &Deps, route: Route, params: Vec<String>, req: ApiRequest) -> ApiResponse {
    let started = Instant::now();
    let result = dispatch(deps, route, &params, &req).await;
    let response = match result {
        Ok(r) => r,
        Err(e) => {
            match &e {
                AccountError::Store(_) | AccountError::Internal(_) => {
                    tracing::error!(route = route.name(), error = %e, "request failed")
                }
                _ => {}
            }
            error_response(&e)
        }
    };
    // Never the path, query, headers or body: they carry ids, credentials and personal data.
    tracing::info!(
        route = route.name(),
        status = response.status,
        ms = started.elapsed().as_millis() as u64,
        "request"
    );
    response
}

fn header<'r>(req: &'r ApiRequest, name: &str) -> Option<&'r str> {
    req.headers.get(name).and_then(|v| v.to_str().ok())
}

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
    if req.body.len() > MAX_BODY {
        return Err(AccountError::bad("body", format!("must be at most {MAX_BODY} bytes")));
    }
    if req.body.iter().all(u8::is_ascii_whitespace) {
        return Err(AccountError::bad("body", "is required"));
    }
    serde_json::from_slice(&req.body).map_err(|e| {
        // serde_json's syntax errors name a line and column, never the text.
        AccountError::bad("body", format!("is not valid JSON ({e})"))
    })
}

fn no_body(req: &ApiRequest) -> Result<(), AccountError> {
    if req.body.iter().all(u8::is_ascii_whitespace) {
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

fn decode_component(s: &str) -> String {
    percent_encoding::percent_decode_str(&s.replace('+', " ")).decode_utf8_lossy().into_owned()
}

fn query_pairs(q: Option<&str>) -> Vec<(String, String)> {
    q.unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (decode_component(k), decode_component(v)),
            None => (decode_component(p), String::new()),
        })
        .collect()
}

fn paging(req: &ApiRequest, filters_allowed: bool) -> Result<Paging, AccountError> {
    let mut p = Paging { size: 25, offset: 0, include_total: false, filters: vec![], filter_raw: vec![] };
    for (k, v) in query_pairs(req.query.as_deref()) {
        match k.as_str() {
            "pageSize" => match v.parse::<usize>() {
                Ok(n) if (1..=100).contains(&n) => p.size = n,
                _ => return Err(AccountError::bad("query.pageSize", "must be a whole number from 1 to 100")),
            },
            "pageOffset" => match v.parse::<usize>() {
                Ok(n) if n <= 1_000_000 => p.offset = n,
                _ => return Err(AccountError::bad("query.pageOffset", "must be a whole number from 0")),
            },
            "includeTotal" => match v.as_str() {
                "true" => p.include_total = true,
                "false" => p.include_total = false,
                _ => return Err(AccountError::bad("query.includeTotal", "must be true or false")),
            },
            "filter" if filters_allowed => {
                p.filters.push(Filter::parse(&v)?);
                p.filter_raw.push(v);
            }
            "fields" if ["*all", "*default", "*summary"].contains(&v.as_str()) => {}
            _ => return Err(AccountError::bad(&format!("query.{k}"), "is not a supported query parameter")),
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

fn account_id(params: &[String]) -> Result<u64, AccountError> {
    let raw = params.first().map(String::as_str).unwrap_or("");
    parse_id(raw).ok_or_else(|| AccountError::NotFound { uri: format!("/account/v1/accounts/{raw}") })
}

fn child_id(params: &[String], kind: &str) -> Result<u64, AccountError> {
    let raw = params.get(1).map(String::as_str).unwrap_or("");
    parse_id(raw).ok_or_else(|| AccountError::NotFound { uri: format!("{kind}/{raw}") })
}

async fn dispatch(deps: &Deps, route: Route, params: &[String], req: &ApiRequest) -> Result<ApiResponse, AccountError> {
    let team: TeamId = crate::auth::authenticate(deps.store.as_ref(), header(req, "authorization")).await?;
    let svc = Accounts::new(deps.store.as_ref(), &team);
    let txn = if req.method == Method::GET { None } else { client_txn(req, route)? };
    let txn = txn.as_ref();
    let ok = |v: Value| Ok(ApiResponse::json(200, &v));
    let created = |v: Value, location: String| {
        let mut r = ApiResponse::json(201, &v);
        r.headers.push(("location", location));
        Ok(r)
    };
    let base = |n: u64| crate::accounts::service::account_uri(n);
    use Route::*;
    match route {
        CreateAccount => {
            let input = input::new_account(&json_body(req)?)?;
            let a = svc.create(input, txn).await?;
            created(render::single(render::account_element(&a)), base(a.value.id))
        }
        ListAccounts => {
            let p = paging(req, true)?;
            let q = ListQuery {
                filters: p.filters.clone(),
                page_size: p.size,
                page_offset: p.offset,
                include_total: p.include_total,
            };
            let res = svc.list(&q).await?;
            let data = res.items.iter().map(render::account_element).collect();
            ok(collection("/account/v1/accounts", &p, data, res.has_more, res.total))
        }
        GetAccount => {
            paging_free(req)?;
            ok(render::single(render::account_element(&svc.load(account_id(params)?).await?)))
        }
        PatchAccount => {
            let n = account_id(params)?;
            let (patch, checksum) = input::account_patch(&json_body(req)?)?;
            let a = svc.patch(n, patch, checksum.as_deref(), txn).await?;
            ok(render::single(render::account_element(&a)))
        }
        MergeAccounts => {
            let n = account_id(params)?;
            let (source, checksum) = input::merge_body(&json_body(req)?)?;
            let a = svc.merge(n, source, checksum.as_deref(), txn).await?;
            ok(render::single(render::account_element(&a)))
        }
        WithdrawAccount | ReopenAccount => {
            let n = account_id(params)?;
            no_body(req)?;
            let checksum = header(req, CHECKSUM_HEADER);
            let a = if route == WithdrawAccount {
                svc.withdraw(n, checksum, txn).await?
            } else {
                svc.reopen(n, checksum, txn).await?
            };
            ok(render::single(render::account_element(&a)))
        }
        ListContacts => {
            let n = account_id(params)?;
            let p = paging(req, false)?;
            let account = svc.load(n).await?.value;
            let items = svc.list_children(n, ChildKind::Contact).await?;
            ok(page_children(&format!("{}/contacts", base(n)), &p, items, |c| {
                render::child_element(
                    n,
                    "contacts",
                    c.value.id,
                    c.version,
                    render::contact_attributes(&account, &c.value),
                )
            }))
        }
        GetContact => {
            let n = account_id(params)?;
            let c = svc.get_child(n, ChildKind::Contact, child_id(params, &format!("{}/contacts", base(n)))?).await?;
            let account = svc.load(n).await?.value;
            ok(render::single(render::child_element(
                n,
                "contacts",
                c.value.id,
                c.version,
                render::contact_attributes(&account, &c.value),
            )))
        }
        CreateContact => {
            let n = account_id(params)?;
            let (st, fields) = input::new_contact_body(&json_body(req)?)?;
            let c = svc.add_contact(n, st, fields, txn).await?;
            let account = svc.load(n).await?.value;
            let uri = format!("{}/contacts/{}", base(n), crate::accounts::format_id(c.value.id));
            created(
                render::single(render::child_element(
                    n,
                    "contacts",
                    c.value.id,
                    c.version,
                    render::contact_attributes(&account, &c.value),
                )),
                uri,
            )
        }
        PatchContact => {
            let n = account_id(params)?;
            let cid = child_id(params, &format!("{}/contacts", base(n)))?;
            let body = json_body(req)?;
            let c = svc.patch_contact(n, cid, |st| input::contact_patch_body(&body, st), txn).await?;
            let account = svc.load(n).await?.value;
            ok(render::single(render::child_element(
                n,
                "contacts",
                c.value.id,
                c.version,
                render::contact_attributes(&account, &c.value),
            )))
        }
        ListLocations => {
            let n = account_id(params)?;
            let p = paging(req, false)?;
            let account = svc.load(n).await?.value;
            let items = svc.list_children(n, ChildKind::Location).await?;
            ok(page_children(&format!("{}/locations", base(n)), &p, items, |l| {
                render::child_element(
                    n,
                    "locations",
                    l.value.id,
                    l.version,
                    render::location_attributes(&account, &l.value),
                )
            }))
        }
        GetLocation => {
            let n = account_id(params)?;
            let l = svc.get_child(n, ChildKind::Location, child_id(params, &format!("{}/locations", base(n)))?).await?;
            let account = svc.load(n).await?.value;
            ok(render::single(render::child_element(
                n,
                "locations",
                l.value.id,
                l.version,
                render::location_attributes(&account, &l.value),
            )))
        }
        CreateLocation => {
            let n = account_id(params)?;
            let address = input::new_location(&json_body(req)?)?;
            let l = svc.add_location(n, address, txn).await?;
            let account = svc.load(n).await?.value;
            let uri = format!("{}/locations/{}", base(n), crate::accounts::format_id(l.value.id));
            created(
                render::single(render::child_element(
                    n,
                    "locations",
                    l.value.id,
                    l.version,
                    render::location_attributes(&account, &l.value),
                )),
                uri,
            )
        }
        ListNotes => {
            let n = account_id(params)?;
            let p = paging(req, false)?;
            let items = svc.list_children(n, ChildKind::Note).await?;
            ok(page_children(&format!("{}/notes", base(n)), &p, items, |x| {
                render::child_element(n, "notes", x.value.id, x.version, render::note_attributes(&x.value))
            }))
        }
        CreateNote => {
            let n = account_id(params)?;
            let note = input::new_note(&json_body(req)?)?;
            let x = svc.add_note(n, note, txn).await?;
            let uri = format!("{}/notes/{}", base(n), crate::accounts::format_id(x.value.id));
            created(
                render::single(render::child_element(
                    n,
                    "notes",
                    x.value.id,
                    x.version,
                    render::note_attributes(&x.value),
                )),
                uri,
            )
        }
        ListActivities => {
            let n = account_id(params)?;
            let p = paging(req, false)?;
            let items = svc.list_children(n, ChildKind::Activity).await?;
            ok(page_children(&format!("{}/activities", base(n)), &p, items, |x| {
                render::child_element(n, "activities", x.value.id, x.version, render::activity_attributes(&x.value))
            }))
        }
        CreateActivity => {
            let n = account_id(params)?;
            let a = input::new_activity(&json_body(req)?)?;
            let x = svc.add_activity(n, a, txn).await?;
            let uri = format!("{}/activities/{}", base(n), crate::accounts::format_id(x.value.id));
            created(
                render::single(render::child_element(
                    n,
                    "activities",
                    x.value.id,
                    x.version,
                    render::activity_attributes(&x.value),
                )),
                uri,
            )
        }
        ListPolicies => {
            let n = account_id(params)?;
            let p = paging(req, false)?;
            let items = svc.list_children(n, ChildKind::Policy).await?;
            ok(page_children(&format!("{}/policies", base(n)), &p, items, |x| {
                render::child_element(n, "policies", x.value.id, x.version, render::policy_attributes(&x.value))
            }))
        }
        GetPolicy => {
            let n = account_id(params)?;
            let x = svc.get_child(n, ChildKind::Policy, child_id(params, &format!("{}/policies", base(n)))?).await?;
            ok(render::single(render::child_element(
                n,
                "policies",
                x.value.id,
                x.version,
                render::policy_attributes(&x.value),
            )))
        }
        CreatePolicy => {
            let n = account_id(params)?;
            let policy = input::new_policy(&json_body(req)?)?;
            let x = svc.add_policy(n, policy, txn).await?;
            let uri = format!("{}/policies/{}", base(n), crate::accounts::format_id(x.value.id));
            created(
                render::single(render::child_element(
                    n,
                    "policies",
                    x.value.id,
                    x.version,
                    render::policy_attributes(&x.value),
                )),
                uri,
            )
        }
        ListJobs => {
            let n = account_id(params)?;
            let p = paging(req, false)?;
            let items = svc.list_children(n, ChildKind::Job).await?;
            ok(page_children(&format!("{}/jobs", base(n)), &p, items, |x: &Versioned<_>| {
                render::child_element(n, "jobs", x.value.id, x.version, render::job_attributes(n, &x.value))
            }))
        }
    }
}

/// Single-resource GETs take no paging parameters.
fn paging_free(req: &ApiRequest) -> Result<(), AccountError> {
    for (k, v) in query_pairs(req.query.as_deref()) {
        if !(k == "fields" && ["*all", "*default", "*summary"].contains(&v.as_str())) {
            return Err(AccountError::bad(&format!("query.{k}"), "is not a supported query parameter"));
        }
    }
    Ok(())
}
