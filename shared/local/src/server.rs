//! The local server: every route of the table on one port, over the embedded store.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::time::Duration;
use tokio::net::{TcpListener, TcpSocket};

use coverdesk::api::{self, ApiRequest, ApiResponse};
use coverdesk::deps::Deps;

/// How long a client may take over its request: the headers, then the body. A connection that
/// stalls is closed, so half-sent requests cannot hold the server's sockets.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    pub headers: Duration,
    pub body: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts { headers: Duration::from_secs(10), body: Duration::from_secs(60) }
    }
}

/// Cross-origin requests as API Gateway answers them for the stack (`CorsConfiguration`, origins
/// from the `AllowedOrigins` parameter): the local server does the same, with the origins of
/// `COVERDESK_CORS_ORIGINS` (comma-separated; `*`, the default, allows any). A preflight (OPTIONS
/// with `Origin` and `Access-Control-Request-Method`) is answered 204; an answer to an allowed
/// origin names it in `Access-Control-Allow-Origin`. No credentials mode: the widget sends its
/// token in the `pull-jwt` header, never a cookie.
#[derive(Debug, Clone)]
pub struct Cors {
    origins: Vec<String>,
}

/// The request headers a browser may send cross-origin (the template's `AllowHeaders`).
pub const CORS_ALLOW_HEADERS: &[&str] =
    &["authorization", "content-type", "gw-checksum", "gw-dbtransaction-id", "pull-jwt"];
/// The methods a browser may use cross-origin (the template's `AllowMethods`).
pub const CORS_ALLOW_METHODS: &[&str] = &["DELETE", "GET", "PATCH", "POST", "PUT"];
/// How long a browser may cache a preflight answer, in seconds (the template's `MaxAge`).
pub const CORS_MAX_AGE: u32 = 600;

impl Cors {
    pub fn new(origins: &str) -> Cors {
        Cors { origins: origins.split(',').map(|o| o.trim().to_string()).filter(|o| !o.is_empty()).collect() }
    }

    pub fn from_env() -> Cors {
        Cors::new(&std::env::var("COVERDESK_CORS_ORIGINS").unwrap_or_else(|_| "*".into()))
    }

    /// What `Access-Control-Allow-Origin` says to `origin`, if it is allowed.
    fn allow(&self, origin: &str) -> Option<String> {
        if self.origins.iter().any(|o| o == "*") {
            Some("*".into())
        } else {
            self.origins.iter().any(|o| o.eq_ignore_ascii_case(origin)).then(|| origin.to_string())
        }
    }

    /// The answer to a preflight, or `None` when the request is not one.
    fn preflight(&self, method: &http::Method, headers: &http::HeaderMap) -> Option<ApiResponse> {
        let origin = headers.get("origin")?.to_str().ok()?;
        if method != http::Method::OPTIONS || !headers.contains_key("access-control-request-method") {
            return None;
        }
        let mut r = ApiResponse { status: 204, headers: vec![("vary", "Origin".into())], body: Vec::new() };
        if let Some(allowed) = self.allow(origin) {
            r.headers.push(("access-control-allow-origin", allowed));
            r.headers.push(("access-control-allow-methods", CORS_ALLOW_METHODS.join(",")));
            r.headers.push(("access-control-allow-headers", CORS_ALLOW_HEADERS.join(",")));
            r.headers.push(("access-control-max-age", CORS_MAX_AGE.to_string()));
        }
        Some(r)
    }

    /// What an ordinary answer to these request headers names as the allowed origin, if any.
    fn allowed_origin(&self, headers: &http::HeaderMap) -> Option<String> {
        headers.get("origin").and_then(|o| o.to_str().ok()).and_then(|o| self.allow(o))
    }

    /// Names an allowed origin on an ordinary answer.
    fn decorate(allowed: Option<String>, r: &mut ApiResponse) {
        if let Some(allowed) = allowed {
            r.headers.push(("access-control-allow-origin", allowed));
            r.headers.push(("vary", "Origin".into()));
        }
    }
}

/// The connection is closed without an answer: the body stopped coming or the peer went away.
#[derive(Debug)]
struct BodyGone;

impl std::fmt::Display for BodyGone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the request body did not arrive in time")
    }
}

impl std::error::Error for BodyGone {}

async fn serve_one(
    deps: Arc<Deps>,
    body_timeout: Duration,
    site: Arc<Site>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, BodyGone> {
    let (parts, body) = req.into_parts();
    if let Some(r) = site.cors.preflight(&parts.method, &parts.headers) {
        return Ok(to_hyper(r));
    }
    // Read before the request moves on: the answer names an allowed origin.
    let origin = site.cors.allowed_origin(&parts.headers);
    let mut answer = answer(deps, body_timeout, &site, parts, body).await?;
    Cors::decorate(origin, &mut answer);
    Ok(to_hyper(answer))
}

/// What the local server knows of itself: its OpenAPI document and its CORS origins.
struct Site {
    openapi: Vec<u8>,
    cors: Cors,
}

async fn answer(
    deps: Arc<Deps>,
    body_timeout: Duration,
    site: &Site,
    parts: http::request::Parts,
    body: Incoming,
) -> Result<ApiResponse, BodyGone> {
    if api::is_openapi(&parts.method, parts.uri.path()) {
        return Ok(api::openapi_response(site.openapi.clone()));
    }
    if hyper::body::Body::is_end_stream(&body) {
        // No body to wait for (a GET, a DELETE): no timer, nothing to collect.
        return Ok(api::handle(&deps, ApiRequest::from_parts(parts, Bytes::new())).await);
    }
    let limit = api::body_limit(parts.uri.path());
    let api_response = match tokio::time::timeout(body_timeout, Limited::new(body, limit).collect()).await {
        Ok(Ok(collected)) => api::handle(&deps, ApiRequest::from_parts(parts, collected.to_bytes())).await,
        Ok(Err(e)) if e.downcast_ref::<http_body_util::LengthLimitError>().is_some() => {
            api::too_large(parts.uri.path())
        }
        // A body whose framing is broken (a bad chunk size line, say) while the peer still listens:
        // answered 400 in the API's envelope, then hyper closes the connection.
        Ok(Err(e))
            if e.downcast_ref::<hyper::Error>().is_some_and(|e| !e.is_incomplete_message() && !e.is_closed()) =>
        {
            api::unreadable_body(parts.uri.path())
        }
        // A body that stops coming, or a broken connection: nothing to answer on.
        Ok(Err(_)) | Err(_) => return Err(BodyGone),
    };
    Ok(api_response)
}

fn to_hyper(r: ApiResponse) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(r.body)));
    *resp.status_mut() = http::StatusCode::from_u16(r.status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    for (k, v) in r.headers {
        if let Ok(v) = http::HeaderValue::from_str(&v) {
            resp.headers_mut().insert(k, v);
        }
    }
    resp
}

/// Pending connections the kernel queues before the server accepts them.
pub const BACKLOG: u32 = 1024;

/// Binds `addr` with a listen queue of [`BACKLOG`]; hand the listener to [`serve`] (its
/// `local_addr` tells the port when `addr` asks for 0).
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(BACKLOG)
}

/// How often the in-process servicing worker looks for due jobs.
pub const WORKER_EVERY: std::time::Duration = std::time::Duration::from_millis(200);

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Serves every route on `listener`, with the servicing worker running in-process over the same
/// store, until the future is dropped.
pub async fn serve(listener: TcpListener, deps: Deps) -> std::io::Result<()> {
    serve_with(listener, deps, Timeouts::default()).await
}

/// [`serve`] with other [`Timeouts`].
pub async fn serve_with(listener: TcpListener, deps: Deps, timeouts: Timeouts) -> std::io::Result<()> {
    // The served OpenAPI document names this server (its port), whatever PORT or --port said.
    let mut addr = listener.local_addr()?;
    if addr.ip().is_unspecified() {
        addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    let site = Arc::new(Site { openapi: api::openapi_for(&format!("http://{addr}")), cors: Cors::from_env() });
    let _worker = AbortOnDrop(tokio::spawn(deps.worker().run_forever(WORKER_EVERY)));
    // As the upload function's schedule does in AWS: batches whose import died are imported again.
    let resumer = deps.clone();
    let _resumer = AbortOnDrop(tokio::spawn(async move {
        loop {
            if let Err(e) = coverdesk::import::upload::resume_stale(&resumer.imports(), 3).await {
                tracing::warn!(error = %e, "resuming stale imports failed");
            }
            tokio::time::sleep(Duration::from_secs(60)).await;
        }
    }));
    let shared = Arc::new(deps);
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(s) => s,
            // Out of file descriptors and the like: wait a moment rather than give up serving.
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        // Answers go out whole as soon as written (as the hello's do): Nagle's algorithm would
        // hold a small answer back waiting for an acknowledgement.
        let _ = stream.set_nodelay(true);
        // One shared copy of the dependencies per server, not a copy per request.
        let deps = shared.clone();
        let site = site.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req| serve_one(deps.clone(), timeouts.body, site.clone(), req));
            let conn = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(timeouts.headers)
                .serve_connection(TokioIo::new(stream), svc);
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection closed with an error");
            }
        });
    }
}

#[cfg(test)]
mod cors_tests {
    use super::*;

    #[test]
    fn only_listed_origins_get_cors_headers() {
        let cors = Cors::new("https://a.example, https://b.example");
        let mut h = http::HeaderMap::new();
        h.insert("origin", "https://b.example".parse().unwrap());
        h.insert("access-control-request-method", "POST".parse().unwrap());
        let r = cors.preflight(&http::Method::OPTIONS, &h).unwrap();
        assert!(r.headers.contains(&("access-control-allow-origin", "https://b.example".into())));
        h.insert("origin", "https://evil.example".parse().unwrap());
        let r = cors.preflight(&http::Method::OPTIONS, &h).unwrap();
        assert_eq!(r.status, 204);
        assert!(!r.headers.iter().any(|(k, _)| *k == "access-control-allow-origin"));
        let mut answer = ApiResponse { status: 200, headers: vec![], body: vec![] };
        Cors::decorate(cors.allowed_origin(&h), &mut answer);
        assert!(answer.headers.is_empty());
        assert!(cors.preflight(&http::Method::GET, &h).is_none(), "not a preflight");
    }
}
