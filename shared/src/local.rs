//! The local server: every route of the table on one port, over the embedded store.

use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::api::{self, ApiRequest, ApiResponse, MAX_BODY};
use crate::deps::Deps;

async fn serve_one(deps: Deps, req: Request<Incoming>) -> Result<Response<Full<Bytes>>, std::convert::Infallible> {
    let (parts, body) = req.into_parts();
    let limit = if parts.uri.path().starts_with("/import/") { api::import::MAX_IMPORT_BODY } else { MAX_BODY };
    let api_response = match Limited::new(body, limit).collect().await {
        Ok(collected) => {
            let req = ApiRequest {
                method: parts.method,
                path: parts.uri.path().to_string(),
                query: parts.uri.query().map(str::to_string),
                headers: parts.headers,
                body: collected.to_bytes(),
            };
            api::handle(&deps, req).await
        }
        Err(_) => api::plain_error(
            413,
            "RequestEntityTooLargeException",
            &format!("The body must be at most {MAX_BODY} bytes."),
        ),
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

/// Binds `addr`; hand the listener to [`serve`] (its `local_addr` tells the port when `addr` asks for 0).
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await
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
    let _worker = AbortOnDrop(tokio::spawn(deps.worker().run_forever(WORKER_EVERY)));
    loop {
        let (stream, _) = listener.accept().await?;
        let deps = deps.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req| serve_one(deps.clone(), req));
            if let Err(e) = http1::Builder::new().serve_connection(TokioIo::new(stream), svc).await {
                tracing::debug!(error = %e, "connection closed with an error");
            }
        });
    }
}
