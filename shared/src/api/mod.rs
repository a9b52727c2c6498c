//! HTTP handlers over plain requests, one function per route. A Lambda function's `main` names its
//! own route's handler ([`handler!`]), so only that handler's code is linked into it; the local
//! server and the tests serve every route through [`handle`] and the table [`handler`]. Every way
//! of serving runs the very same handler code.

pub mod accounts;
pub mod connect;
mod errors;
pub mod import;
pub mod routes;
pub mod servicing;

use std::future::Future;
use std::pin::Pin;
use std::time::Instant;

use bytes::Bytes;
use http::{HeaderMap, Method};
use serde_json::Value;

use crate::accounts::{AccountError, TeamId};
use crate::deps::Deps;
use crate::fields::Unknown;
pub use crate::types::{usable_id, MAX_ID_BYTES};
pub use errors::{
    error_response, import_response, method_not_allowed, plain_error, servicing_response, unsupported_media_type,
    Envelope,
};
pub use routes::{handler, Needs, Route, ROUTES};

/// The largest request body accepted.
pub const MAX_BODY: usize = 1 << 20;
/// The client transaction id header that makes a retried POST harmless.
pub const TRANSACTION_HEADER: &str = "GW-DBTransaction-ID";
/// The checksum header for body-less actions (withdraw, reopen).
pub const CHECKSUM_HEADER: &str = "GW-Checksum";
/// The original Account API's handling of unknown body properties and query parameters:
/// `reject` (the default), `ignore` or `log`.
pub const UNKNOWN_PROPERTY_HEADER: &str = "GW-UnknownPropertyHandling";
pub const UNKNOWN_QUERY_HEADER: &str = "GW-UnknownQueryParamHandling";

pub const OPENAPI: &str = include_str!("../../openapi.json");

/// Whether a request asks for the OpenAPI document.
pub fn is_openapi(method: &Method, path: &str) -> bool {
    method == Method::GET && (path == "/openapi.json" || path == "/account/v1/openapi.json")
}

/// The answer that serves an OpenAPI document.
pub fn openapi_response(document: Vec<u8>) -> ApiResponse {
    ApiResponse { status: 200, headers: vec![("content-type", "application/json".into())], body: document }
}

/// The OpenAPI document naming `base` (e.g. `http://127.0.0.1:3997`, what the server listens on)
/// as its server, so a client generated from it calls the server that served it.
pub fn openapi_for(base: &str) -> Vec<u8> {
    let mut doc: serde_json::Value = match serde_json::from_str(OPENAPI) {
        Ok(d) => d,
        Err(_) => return OPENAPI.as_bytes().to_vec(),
    };
    doc["servers"] = serde_json::json!([{"url": base, "description": "this server"}]);
    serde_json::to_vec_pretty(&doc).unwrap_or_else(|_| OPENAPI.as_bytes().to_vec())
}

#[derive(Debug, Clone)]
pub struct ApiRequest {
    pub method: Method,
    /// The path as sent (percent-encoded).
    pub path: String,
    pub query: Option<String>,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl ApiRequest {
    /// A request from its HTTP head and its whole body (the local server's, a Lambda event's).
    pub fn from_parts(parts: http::request::Parts, body: Bytes) -> ApiRequest {
        ApiRequest {
            method: parts.method,
            path: parts.uri.path().to_string(),
            query: parts.uri.query().map(str::to_string),
            headers: parts.headers,
            body,
        }
    }
}

#[derive(Debug, Clone)]
pub struct ApiResponse {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

impl ApiResponse {
    pub fn json(status: u16, v: &Value) -> Self {
        ApiResponse::json_text(status, serde_json::to_vec(v).unwrap_or_default())
    }

    /// An answer whose JSON text is already written.
    pub fn json_text(status: u16, body: Vec<u8>) -> Self {
        ApiResponse { status, headers: vec![("content-type", "application/json".into())], body }
    }
}

/// A route's answer on its way: what a [`Handler`] returns.
pub type Answer<'a> = Pin<Box<dyn Future<Output = ApiResponse> + Send + 'a>>;

/// A route's handler: the dependencies, the path's decoded parameters and the request in; the
/// answer, errors in the route's API envelope, out.
pub type Handler = for<'a> fn(&'a Deps, &'a [String], &'a ApiRequest) -> Answer<'a>;

/// The [`Handler`] of a route function (`async fn(&Deps, &[String], &ApiRequest) -> Result<ApiResponse, E>`
/// where `E` is an area's error): `coverdesk::handler!(coverdesk::api::accounts::get_account)`.
#[macro_export]
macro_rules! handler {
    ($f:path) => {{
        fn handler<'a>(
            deps: &'a $crate::deps::Deps,
            params: &'a [String],
            req: &'a $crate::api::ApiRequest,
        ) -> $crate::api::Answer<'a> {
            Box::pin(async move { $crate::api::answer($f(deps, params, req).await) })
        }
        handler as $crate::api::Handler
    }};
}

/// A route function's result as its answer; a failure on our side (5xx) is logged here, once,
/// with its cause chain (never a client's data: those errors carry none).
pub fn answer<E: Envelope>(result: Result<ApiResponse, E>) -> ApiResponse {
    match result {
        Ok(r) => r,
        Err(e) => {
            let response = e.response();
            if response.status >= 500 {
                tracing::error!(status = response.status, error = %crate::net::error_chain(&e), "request failed");
            }
            response
        }
    }
}

/// Serves any route of the table (the local server), and the OpenAPI document.
pub async fn handle(deps: &Deps, req: ApiRequest) -> ApiResponse {
    if is_openapi(&req.method, &req.path) {
        return openapi_response(OPENAPI.as_bytes().to_vec());
    }
    match routes::match_path(&req.method, &req.path) {
        routes::Match::Found(route, params) => {
            let started = Instant::now();
            let mut response = serve(deps, handler(route), params, &req).await;
            // The request's id, as API Gateway gives one in the same header: the client can name
            // the request's log line.
            let id = request_id();
            crate::metrics::local_request(&id, route.name(), response.status, started.elapsed().as_millis() as u64);
            response.headers.push((REQUEST_ID_HEADER, id));
            response
        }
        routes::Match::WrongMethod(allowed) => method_not_allowed(&req.path, &req.method, &allowed),
        routes::Match::None => not_found(&req.path),
    }
}

/// The response header naming the request's id: API Gateway's HTTP API sends it; the local
/// server sends its own.
pub const REQUEST_ID_HEADER: &str = "apigw-requestid";

/// A new request id, 32 hex digits (the local server's; in AWS, API Gateway's): 8 random bytes
/// drawn once per process, then a count -- unique within the process and across its restarts,
/// without a system call per request.
fn request_id() -> String {
    static PREFIX: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    static COUNT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let prefix = *PREFIX.get_or_init(|| {
        let mut b = [0u8; 8];
        let _ = getrandom::fill(&mut b);
        u64::from_le_bytes(b)
    });
    format!("{prefix:016x}{:016x}", COUNT.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
}

/// Serves one route only (one Lambda function) with its handler; any other path is 404.
pub async fn handle_route(deps: &Deps, route: Route, handler: Handler, req: ApiRequest) -> ApiResponse {
    match routes::match_route(route, &req.method, &req.path) {
        Some(params) => serve(deps, handler, params, &req).await,
        None => not_found(&req.path),
    }
}

async fn serve(deps: &Deps, handler: Handler, params: Vec<String>, req: &ApiRequest) -> ApiResponse {
    if !params.iter().all(|p| usable_id(p)) {
        return not_found(&req.path);
    }
    if !is_empty_body(&req.body) && !json_content_type(req) {
        return unsupported_media_type(&req.path);
    }
    handler(deps, &params, req).await
}

/// Whether a body carries nothing: no bytes, or only JSON white space.
pub(crate) fn is_empty_body(body: &[u8]) -> bool {
    body.iter().all(u8::is_ascii_whitespace)
}

/// Whether the request's `content-type` lets its body be read as JSON: absent (the README's
/// early examples and many scripts send none), `application/json` or an `application/*+json`
/// type, with any parameters. Anything else with a body is refused 415 on every route, before the
/// handler reads a byte: a form or a text body is never guessed at.
fn json_content_type(req: &ApiRequest) -> bool {
    let Some(value) = req.headers.get(http::header::CONTENT_TYPE) else { return true };
    let Ok(value) = value.to_str() else { return false };
    let essence = value.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    essence == "application/json"
        || essence.strip_prefix("application/").is_some_and(|sub| sub.len() > 5 && sub.ends_with("+json"))
}

/// What keeps a request body from being read as JSON, before any API reads a field of it.
#[derive(Debug)]
pub(crate) enum BodyProblem {
    /// Over the limit, in bytes.
    TooLarge(usize),
    /// Not one JSON value of unique member names and Unicode strings ([`crate::json::check`]):
    /// serde_json's message, which names a line and column, never the text.
    NotJson(String),
}

/// The one reader of the accounts and servicing APIs' JSON bodies (the import reads its batches a
/// transaction at a time, through the same [`crate::json::check`]): `None` when there is no body
/// (no bytes). A body of white space alone is a body, and not JSON.
pub(crate) fn json_body(req: &ApiRequest) -> Result<Option<Value>, BodyProblem> {
    if req.body.len() > MAX_BODY {
        return Err(BodyProblem::TooLarge(MAX_BODY));
    }
    if req.body.is_empty() {
        return Ok(None);
    }
    crate::json::parse(&req.body).map(Some).map_err(BodyProblem::NotJson)
}

/// The largest body a request to `path` may carry: an import batch up to Lambda's synchronous
/// payload limit, anything else [`MAX_BODY`].
pub fn body_limit(path: &str) -> usize {
    match routes::Family::of_path(path) {
        routes::Family::Import => import::MAX_IMPORT_BODY,
        _ => MAX_BODY,
    }
}

/// The answer to a body over [`body_limit`], in the envelope of the API `path` belongs to.
pub fn too_large(path: &str) -> ApiResponse {
    let limit = body_limit(path);
    match routes::Family::of_path(path) {
        routes::Family::Accounts => {
            plain_error(413, "RequestEntityTooLargeException", &format!("The body must be at most {limit} bytes."))
        }
        routes::Family::Import => import_response(&crate::import::ImportError::TooLarge(limit)),
        routes::Family::Servicing => servicing_response(&crate::servicing::ServicingError::TooLarge(limit)),
    }
}

/// The answer to a body the transport could not read (its chunked framing is malformed), in the
/// envelope of the API `path` belongs to.
pub fn unreadable_body(path: &str) -> ApiResponse {
    const WHY: &str = "could not be read: its HTTP framing (chunked encoding) is malformed";
    match routes::Family::of_path(path) {
        routes::Family::Accounts => error_response(&AccountError::bad("body", WHY)),
        routes::Family::Import => import_response(&crate::import::ImportError::InvalidInput(format!("The body {WHY}"))),
        routes::Family::Servicing => {
            servicing_response(&crate::servicing::ServicingError::bad("INVALID_INPUT", format!("The body {WHY}")))
        }
    }
}

fn not_found(path: &str) -> ApiResponse {
    match routes::Family::of_path(path) {
        routes::Family::Accounts => error_response(&AccountError::NotFound { uri: path.to_string() }),
        routes::Family::Import => import_response(&crate::import::ImportError::NotFound("The resource")),
        routes::Family::Servicing => servicing_response(&crate::servicing::ServicingError::not_found("The resource")),
    }
}

/// The team of the request's HTTP Basic credentials. Each API's error converts from
/// [`crate::auth::AuthError`]: wrong or missing credentials are 401, a store that is throttling or
/// down is 503 (never 401).
async fn authenticate(deps: &Deps, req: &ApiRequest) -> Result<TeamId, crate::auth::AuthError> {
    deps.credentials.authenticate(deps.store.as_ref(), header(req, "authorization")).await
}

/// The header and the query parameter that carry an API key (the filing service's names; a
/// header name is read case-insensitively, the query parameter's exactly).
pub const API_KEY_HEADER: &str = "apikey";
pub const API_KEY_QUERY: &str = "apikey";

/// The team of an import request: its HTTP Basic credentials, or else an API key, from the
/// `apiKey` header or else the `apikey` query parameter (one credential is read, in that order:
/// a request that sends a wrong one is refused whatever else it sends). Only the import API takes
/// keys: they are the filing service's credential for its import API, and a credential that can
/// travel in a URL stays off the APIs that hold accounts and consumer credentials. A wrong,
/// revoked or malformed key is the same 401 as wrong Basic credentials.
async fn authenticate_import(deps: &Deps, req: &ApiRequest) -> Result<TeamId, crate::auth::AuthError> {
    if let Some(basic) = header(req, "authorization") {
        return deps.credentials.authenticate(deps.store.as_ref(), Some(basic)).await;
    }
    let key = match req.headers.get(API_KEY_HEADER) {
        Some(value) => value.to_str().ok().map(str::to_string),
        None => query_value(req, API_KEY_QUERY),
    };
    match key {
        Some(key) => crate::auth::authenticate_key(deps.store.as_ref(), &key).await,
        None => Err(crate::auth::AuthError::Unauthenticated),
    }
}

/// The last value of one query parameter, decoded (the route's own reader checks the rest).
fn query_value(req: &ApiRequest, name: &str) -> Option<String> {
    form_urlencoded::parse(req.query.as_deref()?.as_bytes())
        .filter(|(k, _)| k == name)
        .last()
        .map(|(_, v)| v.into_owned())
}

fn header<'r>(req: &'r ApiRequest, name: &str) -> Option<&'r str> {
    req.headers.get(name).and_then(|v| v.to_str().ok())
}

/// A query string read against the names its route allows: the one query reader of every API.
/// Pairs are decoded as forms are (`+` is a space, `%XX` a byte, invalid UTF-8 replaced); a name
/// not allowed is refused, and so is a name given twice unless it is repeatable ([`Query::all`]).
/// Problems name the parameter and never echo its value; each API puts them in its envelope.
pub(crate) struct Query {
    pairs: Vec<(String, String)>,
    /// Parameters passed over as unknown ([`Query::parse_as`] with [`Unknown::Ignore`]).
    pub(crate) ignored: usize,
}

/// The query parameters a request may repeat (accounts' `filter`); any other name is given once.
const REPEATABLE: &[&str] = &["filter"];

/// A query parameter refused: its name (at most 40 characters) and why.
#[derive(Debug)]
pub(crate) struct QueryProblem {
    pub name: String,
    pub message: String,
}

fn refused(name: &str, message: impl Into<String>) -> QueryProblem {
    QueryProblem { name: name.chars().take(40).collect(), message: message.into() }
}

impl Query {
    pub(crate) fn parse(req: &ApiRequest, allowed: &[&str]) -> Result<Query, QueryProblem> {
        Query::parse_as(req, allowed, Unknown::Refuse)
    }

    /// As [`Query::parse`], with a parameter not allowed refused or passed over (the accounts
    /// API's `GW-UnknownQueryParamHandling: ignore`).
    pub(crate) fn parse_as(req: &ApiRequest, allowed: &[&str], unknown: Unknown) -> Result<Query, QueryProblem> {
        let mut pairs: Vec<(String, String)> = form_urlencoded::parse(req.query.as_deref().unwrap_or("").as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let before = pairs.len();
        if unknown == Unknown::Ignore {
            pairs.retain(|(k, _)| allowed.contains(&k.as_str()));
        }
        let ignored = before - pairs.len();
        if let Some((k, _)) = pairs.iter().find(|(k, _)| !allowed.contains(&k.as_str())) {
            return Err(refused(k, "is not a supported query parameter"));
        }
        for (i, (k, _)) in pairs.iter().enumerate() {
            if !REPEATABLE.contains(&k.as_str()) && pairs[..i].iter().any(|(p, _)| p == k) {
                return Err(refused(k, "may be given once"));
            }
        }
        Ok(Query { pairs, ignored })
    }

    pub(crate) fn text(&self, name: &str) -> Option<&str> {
        self.pairs.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// Every value of a repeatable parameter, in order.
    pub(crate) fn all<'q>(&'q self, name: &'q str) -> impl Iterator<Item = &'q str> + 'q {
        self.pairs.iter().filter(move |(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    pub(crate) fn whole(&self, name: &str, min: usize, max: usize) -> Result<Option<usize>, QueryProblem> {
        match self.text(name) {
            None => Ok(None),
            Some(v) => match v.parse::<usize>() {
                Ok(n) if (min..=max).contains(&n) => Ok(Some(n)),
                _ => Err(refused(name, format!("must be a whole number from {min} to {max}"))),
            },
        }
    }

    pub(crate) fn flag(&self, name: &str) -> Result<Option<bool>, QueryProblem> {
        match self.text(name) {
            None => Ok(None),
            Some("true") => Ok(Some(true)),
            Some("false") => Ok(Some(false)),
            Some(_) => Err(refused(name, "must be true or false")),
        }
    }

    pub(crate) fn date(&self, name: &str) -> Result<Option<chrono::NaiveDate>, QueryProblem> {
        match self.text(name) {
            None => Ok(None),
            Some(v) => match chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d") {
                Ok(d) if v.len() == 10 => Ok(Some(d)),
                _ => Err(refused(name, "must be a date yyyy-mm-dd")),
            },
        }
    }

    pub(crate) fn one_of(&self, name: &str, allowed: &[&str]) -> Result<Option<&str>, QueryProblem> {
        match self.text(name) {
            Some(v) if !allowed.contains(&v) => Err(refused(name, format!("must be one of {}", allowed.join(", ")))),
            other => Ok(other),
        }
    }

    /// An id parameter: one the store can hold ([`usable_id`]).
    pub(crate) fn id(&self, name: &str) -> Result<Option<&str>, QueryProblem> {
        match self.text(name) {
            Some(v) if !usable_id(v) => Err(refused(name, "is not an id")),
            other => Ok(other),
        }
    }
}

#[cfg(test)]
mod query_tests {
    use super::*;

    fn req(q: &str) -> ApiRequest {
        ApiRequest {
            method: Method::GET,
            path: "/x".into(),
            query: Some(q.into()),
            headers: HeaderMap::new(),
            body: bytes::Bytes::new(),
        }
    }

    #[test]
    fn only_allowed_names_once_each_except_repeatable_ones() {
        let q = Query::parse(&req("pageSize=5&filter=a&filter=b"), &["pageSize", "filter"]).unwrap();
        assert_eq!(q.whole("pageSize", 1, 100).unwrap(), Some(5));
        assert_eq!(q.all("filter").collect::<Vec<_>>(), ["a", "b"]);
        let e = Query::parse(&req("pageSize=5&pageSize=999"), &["pageSize"]).err().unwrap();
        assert_eq!((e.name.as_str(), e.message.as_str()), ("pageSize", "may be given once"));
        let e = Query::parse(&req("bogus=1"), &["pageSize"]).err().unwrap();
        assert_eq!(e.message, "is not a supported query parameter");
        assert!(Query::parse(&req("pageSize=0"), &["pageSize"]).unwrap().whole("pageSize", 1, 100).is_err());
    }
}

#[cfg(test)]
mod import_auth_tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::auth::AuthError;
    use crate::store::{Cursor, Item, Page, Store, StoreError, Write};

    #[test]
    fn request_ids_are_32_hex_digits_and_never_repeat() {
        let ids: std::collections::HashSet<String> = (0..1000).map(|_| request_id()).collect();
        assert_eq!(ids.len(), 1000);
        assert!(ids.iter().all(|id| id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit())));
    }

    /// A store that holds nothing and records the keys read.
    #[derive(Default)]
    struct Reads(Mutex<Vec<String>>);

    #[async_trait::async_trait]
    impl Store for Reads {
        async fn get(&self, pk: &str, _: &str) -> Result<Option<Item>, StoreError> {
            self.0.lock().unwrap().push(pk.to_string());
            Ok(None)
        }
        async fn query(&self, _: &str, _: &str, _: Option<&Cursor>, _: usize) -> Result<Page, StoreError> {
            Ok(Page::default())
        }
        async fn query_between(
            &self,
            _: &str,
            _: (&str, &str),
            _: Option<&Cursor>,
            _: usize,
        ) -> Result<Page, StoreError> {
            Ok(Page::default())
        }
        async fn query_index_in(
            &self,
            _: crate::store::Index,
            _: &str,
            _: Option<&Cursor>,
            _: usize,
        ) -> Result<Page, StoreError> {
            Ok(Page::default())
        }
        async fn transact(&self, _: Vec<Write>) -> Result<(), StoreError> {
            Ok(())
        }
        async fn next_sequence(&self, _: &str, _: &str, _: u64) -> Result<u64, StoreError> {
            Ok(1)
        }
        async fn sequence(&self, _: &str, _: &str) -> Result<u64, StoreError> {
            Ok(0)
        }
    }

    fn req(headers: &[(&'static str, &str)], query: Option<&str>) -> ApiRequest {
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            map.insert(*k, v.parse().unwrap());
        }
        ApiRequest {
            method: Method::GET,
            path: "/import/v1/tax-rules/CA".into(),
            query: query.map(str::to_string),
            headers: map,
            body: Bytes::new(),
        }
    }

    /// What one request reads: Basic before the header, the header before the query parameter,
    /// one credential only; a malformed key reads nothing; a well-formed one reads its digest.
    #[tokio::test]
    async fn one_credential_is_read_basic_then_header_then_query() {
        let key = format!("cdk_{}", "k".repeat(43));
        let other = format!("cdk_{}", "o".repeat(43));
        let by_query = format!("x=1&apikey={other}");
        // (headers, query, the key prefix read, or "" for no read)
        type Case<'a> = (Vec<(&'static str, &'a str)>, Option<&'a str>, &'a str);
        let cases: Vec<Case> = vec![
            (vec![], None, ""),
            (vec![], Some("apikey=cdk_short"), ""),
            (vec![("apiKey", "cdk_short")], Some(&by_query), ""),
            (vec![("authorization", "Basic bG9jYWw6cw==")], Some(&by_query), "TEAM#local"),
            (vec![("APIKEY", key.as_str())], Some(&by_query), "APIKEY#"),
            (vec![], Some(&by_query), "APIKEY#"),
        ];
        for (headers, query, read) in cases {
            let store = Arc::new(Reads::default());
            let deps =
                Deps::new(store.clone(), Arc::new(crate::objects::NoObjects), crate::crypto::Keys::absent(), false);
            let got = authenticate_import(&deps, &req(&headers, query)).await;
            assert!(matches!(got, Err(AuthError::Unauthenticated)), "{headers:?} {query:?}");
            let reads = store.0.lock().unwrap().clone();
            if read.is_empty() {
                assert!(reads.is_empty(), "{headers:?} {query:?}: {reads:?}");
            } else {
                assert_eq!(reads.len(), 1, "{headers:?} {query:?}: {reads:?}");
                assert!(reads[0].starts_with(read), "{headers:?} {query:?}: {reads:?}");
            }
        }
        // The header's key is the one read, not the query's.
        let store = Arc::new(Reads::default());
        let deps = Deps::new(store.clone(), Arc::new(crate::objects::NoObjects), crate::crypto::Keys::absent(), false);
        let _ = authenticate_import(&deps, &req(&[("apikey", key.as_str())], Some(&by_query))).await;
        let _ = authenticate_import(&deps, &req(&[], Some(&format!("apikey={key}")))).await;
        let reads = store.0.lock().unwrap().clone();
        assert_eq!(reads[0], reads[1], "the header's key and the same key in the query name one item");
    }
}
