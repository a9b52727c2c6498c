//! The HTTP client of Coverdesk: documents fetched from client URLs and webhooks posted to client
//! endpoints, over hyper and rustls, every address guarded ([`coverdesk::net::is_public`] on the
//! URL, on every redirect and on every DNS answer). The domain crate names what it needs
//! ([`DocumentFetcher`], [`WebhookSender`]); this crate is the one adapter, so the domain links no
//! transport.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use async_trait::async_trait;
use coverdesk::deps::Deps;
use coverdesk::fetch::{Body, DocumentFetcher, FetchError, FetchLimits, Fetched, IN_MEMORY_MAX};
use coverdesk::net::{check_url, is_public};
use coverdesk::servicing::webhooks::{SendOutcome, WebhookSender};
use http_body_util::BodyExt;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

/// `deps` with this crate's document fetcher and webhook sender, each built on first use (a
/// function that never fetches or sends builds no TLS configuration), allowed private addresses
/// when `deps.allow_private_urls` is.
pub fn connect(deps: Deps) -> Deps {
    let allow = deps.allow_private_urls;
    deps.with_http(Arc::new(Fetcher::lazy(allow, FetchLimits::default())), Arc::new(LazyHttpSender::new(allow)))
}

/// A DNS resolver that drops every address [`is_public`] refuses (unless private networks are
/// allowed, as on a laptop), so a hostile name cannot point a request inside the network.
#[derive(Clone)]
pub struct GuardedResolver {
    pub allow_private: bool,
}

impl tower_service::Service<hyper_util::client::legacy::connect::dns::Name> for GuardedResolver {
    type Response = std::vec::IntoIter<std::net::SocketAddr>;
    type Error = std::io::Error;
    type Future = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, _: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: hyper_util::client::legacy::connect::dns::Name) -> Self::Future {
        let allow = self.allow_private;
        Box::pin(async move {
            let addrs: Vec<_> =
                tokio::net::lookup_host((name.as_str(), 0)).await?.filter(|a| allow || is_public(a.ip())).collect();
            if addrs.is_empty() {
                return Err(std::io::Error::new(std::io::ErrorKind::PermissionDenied, "no permitted address"));
            }
            Ok(addrs.into_iter())
        })
    }
}

pub type HttpsClient = hyper_util::client::legacy::Client<
    hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector<GuardedResolver>>,
    http_body_util::Full<bytes::Bytes>,
>;

/// The HTTPS client over the guarded resolver: HTTP/1.1, rustls trusting the roots of Mozilla's
/// CA program (`webpki-roots`, compiled in: nothing read or parsed when a function starts; the
/// system's roots cost a cold start's first fetch several milliseconds of reading and parsing
/// every certificate), a 10-second connect timeout; redirects are never followed by it. Every
/// address it reaches is public ([`GuardedResolver`]; unless private addresses are allowed, as on
/// a laptop), so every certificate it is shown is a public CA's: a private CA is not trusted. The
/// roots are as new as `webpki-roots` in Cargo.lock (README, "TLS roots of outgoing requests").
pub fn https_client(allow_private: bool) -> Result<HttpsClient, String> {
    let mut http =
        hyper_util::client::legacy::connect::HttpConnector::new_with_resolver(GuardedResolver { allow_private });
    http.enforce_http(false);
    http.set_connect_timeout(Some(StdDuration::from_secs(10)));
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_webpki_roots(rustls::crypto::aws_lc_rs::default_provider())
        .map_err(|e| format!("TLS configuration: {e}"))?
        .https_or_http()
        .enable_http1()
        .wrap_connector(http);
    Ok(hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build(https))
}

/// Fetches documents over HTTP(S): the client is built on first use.
pub struct Fetcher {
    client: tokio::sync::OnceCell<HttpsClient>,
    allow_private: bool,
    /// What [`Fetcher::fetch`] uses (the import passes its own to each attempt).
    pub limits: FetchLimits,
}

impl Fetcher {
    /// A fetcher whose client is built now.
    pub fn new(allow_private: bool, limits: FetchLimits) -> Result<Fetcher, String> {
        let client = tokio::sync::OnceCell::new_with(Some(https_client(allow_private)?));
        Ok(Fetcher { client, allow_private, limits })
    }

    /// A fetcher whose client is built by its first fetch.
    pub fn lazy(allow_private: bool, limits: FetchLimits) -> Fetcher {
        Fetcher { client: tokio::sync::OnceCell::new(), allow_private, limits }
    }

    async fn client(&self) -> Result<&HttpsClient, String> {
        self.client.get_or_try_init(|| async { https_client(self.allow_private) }).await
    }

    /// Fetches `url` (spooled under `dir` past [`IN_MEMORY_MAX`]) with this fetcher's limits,
    /// retrying what may succeed on a retry ([`coverdesk::fetch::fetch`]).
    pub async fn fetch(&self, url: &str, dir: &Path) -> Result<Fetched, FetchError> {
        coverdesk::fetch::fetch(self, url, dir, &self.limits).await
    }

    async fn once(&self, url: &str, dir: &Path, limits: &FetchLimits) -> Result<Fetched, FetchError> {
        let client = self.client().await.map_err(FetchError::Network)?;
        let mut current = url.to_string();
        for _ in 0..=limits.max_redirects {
            let uri = check_url(&current, self.allow_private).map_err(FetchError::Refused)?;
            let mut req = http::Request::get(uri.clone()).header("user-agent", "coverdesk-import/1");
            if let Some(trace) = coverdesk::net::trace_id() {
                req = req.header(coverdesk::net::TRACE_HEADER, trace);
            }
            let req = req
                .body(http_body_util::Full::new(bytes::Bytes::new()))
                .map_err(|e| FetchError::Refused(e.to_string()))?;
            let resp = client.request(req).await.map_err(|e| {
                let cause = coverdesk::net::error_chain(&e);
                if cause.contains("no permitted address") {
                    FetchError::Refused("the host resolves to a private, loopback or link-local address".into())
                } else {
                    FetchError::Network(cause)
                }
            })?;
            let status = resp.status();
            if status.is_redirection() {
                let location = resp
                    .headers()
                    .get(http::header::LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .ok_or(FetchError::Status(status.as_u16()))?;
                current = resolve(&uri, location);
                continue;
            }
            if !status.is_success() {
                return Err(FetchError::Status(status.as_u16()));
            }
            if let Some(len) =
                resp.headers().get(http::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
            {
                if len > limits.max_bytes {
                    return Err(FetchError::TooLarge(limits.max_bytes));
                }
            }
            return spool(resp, dir, limits).await;
        }
        Err(FetchError::Redirects)
    }
}

#[async_trait]
impl DocumentFetcher for Fetcher {
    async fn fetch_once(&self, url: &str, dir: &Path, limits: &FetchLimits) -> Result<Fetched, FetchError> {
        self.once(url, dir, limits).await
    }
}

/// The production sender: HTTP/1.1 over rustls ([`https_client`]'s roots), no redirects followed,
/// addresses guarded.
pub struct HttpSender {
    client: HttpsClient,
    allow_private: bool,
}

impl HttpSender {
    pub fn new(allow_private: bool) -> Result<HttpSender, String> {
        Ok(HttpSender { client: https_client(allow_private)?, allow_private })
    }
}

/// An [`HttpSender`] built on first use, so functions that never send a webhook build no TLS
/// configuration at cold start.
pub struct LazyHttpSender {
    allow_private: bool,
    inner: tokio::sync::OnceCell<Result<HttpSender, String>>,
}

impl LazyHttpSender {
    pub fn new(allow_private: bool) -> Self {
        LazyHttpSender { allow_private, inner: tokio::sync::OnceCell::new() }
    }
}

#[async_trait]
impl WebhookSender for LazyHttpSender {
    async fn post(
        &self,
        url: &str,
        headers: Vec<(&'static str, String)>,
        body: Vec<u8>,
        timeout: StdDuration,
    ) -> SendOutcome {
        match self.inner.get_or_init(|| async { HttpSender::new(self.allow_private) }).await {
            Ok(s) => s.post(url, headers, body, timeout).await,
            Err(e) => SendOutcome::Failed(e.clone()),
        }
    }
}

#[async_trait]
impl WebhookSender for HttpSender {
    async fn post(
        &self,
        url: &str,
        headers: Vec<(&'static str, String)>,
        body: Vec<u8>,
        timeout: StdDuration,
    ) -> SendOutcome {
        let uri = match check_url(url, self.allow_private) {
            Ok(u) => u,
            Err(e) => return SendOutcome::Failed(e),
        };
        let mut req = http::Request::builder().method(http::Method::POST).uri(uri);
        req = req.header("content-type", "application/json").header("user-agent", "coverdesk-webhooks/1");
        if let Some(trace) = coverdesk::net::trace_id() {
            req = req.header(coverdesk::net::TRACE_HEADER, trace);
        }
        for (k, v) in headers {
            req = req.header(k, v);
        }
        let req = match req.body(http_body_util::Full::new(bytes::Bytes::from(body))) {
            Ok(r) => r,
            Err(e) => return SendOutcome::Failed(format!("request: {e}")),
        };
        match tokio::time::timeout(timeout, self.client.request(req)).await {
            Err(_) => SendOutcome::Failed(format!("no answer within {} s", timeout.as_secs_f32())),
            Ok(Err(e)) => SendOutcome::Failed(coverdesk::net::error_chain(&e)),
            Ok(Ok(resp)) => SendOutcome::Status(resp.status().as_u16()),
        }
    }
}

/// A successful answer's body, its SHA-256 computed as it arrives, cut off past
/// `limits.max_bytes`: kept in memory up to [`IN_MEMORY_MAX`], and past that streamed into a
/// temporary file under `dir` (what arrived so far written first).
async fn spool(
    resp: hyper::Response<hyper::body::Incoming>,
    dir: &Path,
    limits: &FetchLimits,
) -> Result<Fetched, FetchError> {
    let content_type = resp
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .filter(|v| v.len() <= 200)
        .unwrap_or("application/octet-stream")
        .to_string();
    let failed = |e: std::io::Error| FetchError::Network(e.to_string());
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    let mut held: Vec<u8> = Vec::new();
    let mut file: Option<(tokio::fs::File, tempfile::TempPath)> = None;
    let mut body = resp.into_body();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| FetchError::Network(e.to_string()))?;
        let Some(chunk) = frame.data_ref() else { continue };
        size += chunk.len() as u64;
        if size > limits.max_bytes {
            return Err(FetchError::TooLarge(limits.max_bytes));
        }
        hasher.update(chunk);
        if file.is_none() && held.len() + chunk.len() <= IN_MEMORY_MAX {
            held.extend_from_slice(chunk);
            continue;
        }
        if file.is_none() {
            coverdesk::spool::ready(dir).map_err(failed)?;
            let (f, path) = tempfile::Builder::new().prefix("doc-").tempfile_in(dir).map_err(failed)?.into_parts();
            let mut f = tokio::fs::File::from_std(f);
            f.write_all(&std::mem::take(&mut held)).await.map_err(failed)?;
            file = Some((f, path));
        }
        if let Some((f, _)) = file.as_mut() {
            f.write_all(chunk).await.map_err(failed)?;
        }
    }
    let body = match file {
        Some((mut f, path)) => {
            f.flush().await.map_err(failed)?;
            Body::File(path)
        }
        None => Body::Memory(held),
    };
    Ok(Fetched { body, size, content_type, sha256: hex::encode(hasher.finalize()) })
}

/// A redirect target relative to the URL that answered (RFC 3986 reference resolution: dot
/// segments, scheme-relative and query-only references), or the target as given when the base
/// cannot be read; the caller checks the result like any client URL.
fn resolve(base: &http::Uri, location: &str) -> String {
    match url::Url::parse(&base.to_string()).and_then(|b| b.join(location)) {
        Ok(u) => u.to_string(),
        Err(_) => location.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::resolve;

    #[test]
    fn redirects_resolve_as_rfc_3986_says() {
        let base: http::Uri = "http://docs.example/a/b/c.pdf?x=1".parse().unwrap();
        for (location, want) in [
            ("../d.pdf", "http://docs.example/a/d.pdf"),
            ("./e/../f.pdf", "http://docs.example/a/b/f.pdf"),
            ("/g.pdf", "http://docs.example/g.pdf"),
            ("//other.example/h", "http://other.example/h"),
            ("?y=2", "http://docs.example/a/b/c.pdf?y=2"),
            ("https://elsewhere.example/i", "https://elsewhere.example/i"),
            ("ftp://example.com/file", "ftp://example.com/file"),
        ] {
            assert_eq!(resolve(&base, location), want, "{location}");
        }
    }
}
