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

use crate::api::{self, ApiRequest, ApiResponse};
use crate::deps::Deps;

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
    deps: Deps,
    body_timeout: Duration,
    openapi: Arc<Vec<u8>>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, BodyGone> {
    let (parts, body) = req.into_parts();
    if api::is_openapi(&parts.method, parts.uri.path()) {
        let doc = ApiResponse {
            status: 200,
            headers: vec![("content-type", "application/json".into())],
            body: openapi.as_ref().clone(),
        };
        return Ok(to_hyper(doc));
    }
    let limit = api::body_limit(parts.uri.path());
    let api_response = match tokio::time::timeout(body_timeout, Limited::new(body, limit).collect()).await {
        Ok(Ok(collected)) => {
            let req = ApiRequest {
                method: parts.method,
                path: parts.uri.path().to_string(),
                query: parts.uri.query().map(str::to_string),
                headers: parts.headers,
                body: collected.to_bytes(),
            };
            api::handle(&deps, req).await
        }
        Ok(Err(e)) if e.downcast_ref::<http_body_util::LengthLimitError>().is_some() => {
            api::too_large(parts.uri.path())
        }
        // A body that stops coming, or a broken connection: nothing to answer on.
        Ok(Err(_)) | Err(_) => return Err(BodyGone),
    };
    Ok(to_hyper(api_response))
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
    let openapi = Arc::new(api::openapi_for(&format!("http://{addr}")));
    let _worker = AbortOnDrop(tokio::spawn(deps.worker().run_forever(WORKER_EVERY)));
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
        let deps = deps.clone();
        let openapi = openapi.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req| serve_one(deps.clone(), timeouts.body, openapi.clone(), req));
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
