//! Fetching documents from client-supplied URLs, which are hostile: only http(s); no loopback,
//! private, link-local or metadata address, checked on the URL and on every redirect and every
//! DNS answer; a size cap enforced while streaming; a timeout per attempt; retries on 5xx and on
//! network failures. The body is streamed to a temporary file while its SHA-256 is computed.

use std::path::Path;
use std::time::Duration;

use http_body_util::BodyExt;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use crate::net::{check_url, https_client, HttpsClient};

#[derive(Debug, Clone, Copy)]
pub struct FetchLimits {
    pub max_bytes: u64,
    /// For one attempt, from the request to the last byte.
    pub timeout: Duration,
    pub attempts: u32,
    pub max_redirects: u32,
    /// For all the documents of one batch together, when they are fetched inside a request:
    /// a document not stored by then fails its transaction (2002), never the request.
    pub budget: Option<Duration>,
}

impl Default for FetchLimits {
    fn default() -> Self {
        FetchLimits {
            max_bytes: 25 << 20,
            timeout: Duration::from_secs(60),
            attempts: 3,
            max_redirects: 5,
            budget: None,
        }
    }
}

impl FetchLimits {
    /// Inside an API request (the `import-transactions` function: API Gateway answers 503 after
    /// 30 s, the function's timeout is 29 s): two attempts of 10 s each, and all of a batch's
    /// documents within 22 s, leaving the rest for recording the answer. Batches whose documents
    /// need longer go through an upload (`import-s3`, 15 minutes, the default limits).
    pub fn within_request() -> FetchLimits {
        FetchLimits {
            timeout: Duration::from_secs(10),
            attempts: 2,
            budget: Some(Duration::from_secs(22)),
            ..FetchLimits::default()
        }
    }

    /// The longest one document can take: every attempt timing out, with the waits between them.
    pub fn worst_case(&self) -> Duration {
        let waits: u64 = (1..self.attempts.max(1)).map(|a| 200 * 4u64.pow(a - 1)).sum();
        self.timeout * self.attempts.max(1) + Duration::from_millis(waits)
    }
}

/// A fetched document, spooled to a temporary file (deleted when this is dropped).
#[derive(Debug)]
pub struct Fetched {
    pub file: tempfile::TempPath,
    pub size: u64,
    pub content_type: String,
    pub sha256: String,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FetchError {
    #[error("the URL is refused: {0}")]
    Refused(String),
    #[error("the document is larger than {0} bytes")]
    TooLarge(u64),
    #[error("the server answered HTTP {0}")]
    Status(u16),
    #[error("no answer: {0}")]
    Network(String),
    #[error("too many redirects")]
    Redirects,
}

impl FetchError {
    fn retryable(&self) -> bool {
        matches!(self, FetchError::Network(_)) || matches!(self, FetchError::Status(s) if *s >= 500)
    }
}

pub struct Fetcher {
    client: HttpsClient,
    allow_private: bool,
    pub limits: FetchLimits,
}

impl Fetcher {
    pub fn new(allow_private: bool, limits: FetchLimits) -> Result<Fetcher, String> {
        Ok(Fetcher { client: https_client(allow_private)?, allow_private, limits })
    }

    /// Fetches `url` into a temporary file under `dir`, retrying what may succeed on a retry.
    pub async fn fetch(&self, url: &str, dir: &Path) -> Result<Fetched, FetchError> {
        let mut last = FetchError::Network("not tried".into());
        for attempt in 0..self.limits.attempts.max(1) {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(200 * 4u64.pow(attempt - 1))).await;
            }
            match tokio::time::timeout(self.limits.timeout, self.once(url, dir)).await {
                Ok(Ok(f)) => return Ok(f),
                Ok(Err(e)) if e.retryable() => last = e,
                Ok(Err(e)) => return Err(e),
                Err(_) => {
                    last = FetchError::Network(format!(
                        "no complete answer within {:.1} s",
                        self.limits.timeout.as_secs_f32()
                    ))
                }
            }
        }
        Err(last)
    }

    async fn once(&self, url: &str, dir: &Path) -> Result<Fetched, FetchError> {
        let mut current = url.to_string();
        for _ in 0..=self.limits.max_redirects {
            let uri = check_url(&current, self.allow_private).map_err(FetchError::Refused)?;
            let mut req = http::Request::get(uri.clone()).header("user-agent", "coverdesk-import/1");
            if let Some(trace) = crate::net::trace_id() {
                req = req.header(crate::net::TRACE_HEADER, trace);
            }
            let req = req
                .body(http_body_util::Full::new(bytes::Bytes::new()))
                .map_err(|e| FetchError::Refused(e.to_string()))?;
            let resp = self.client.request(req).await.map_err(|e| {
                let cause = crate::net::error_chain(&e);
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
                if len > self.limits.max_bytes {
                    return Err(FetchError::TooLarge(self.limits.max_bytes));
                }
            }
            let content_type = resp
                .headers()
                .get(http::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .filter(|v| v.len() <= 200)
                .unwrap_or("application/octet-stream")
                .to_string();
            let tmp = tempfile::Builder::new()
                .prefix("doc-")
                .tempfile_in(dir)
                .map_err(|e| FetchError::Network(e.to_string()))?;
            let (file, path) = tmp.into_parts();
            let mut out = tokio::fs::File::from_std(file);
            let mut hasher = Sha256::new();
            let mut size = 0u64;
            let mut body = resp.into_body();
            while let Some(frame) = body.frame().await {
                let frame = frame.map_err(|e| FetchError::Network(e.to_string()))?;
                if let Some(chunk) = frame.data_ref() {
                    size += chunk.len() as u64;
                    if size > self.limits.max_bytes {
                        return Err(FetchError::TooLarge(self.limits.max_bytes));
                    }
                    hasher.update(chunk);
                    out.write_all(chunk).await.map_err(|e| FetchError::Network(e.to_string()))?;
                }
            }
            out.flush().await.map_err(|e| FetchError::Network(e.to_string()))?;
            let sha256 = hex::encode(hasher.finalize());
            return Ok(Fetched { file: path, size, content_type, sha256 });
        }
        Err(FetchError::Redirects)
    }
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

#[cfg(test)]
mod limit_tests {
    use super::*;

    #[test]
    fn the_worst_case_counts_every_attempt_and_wait() {
        assert_eq!(FetchLimits::default().worst_case(), Duration::from_millis(3 * 60_000 + 200 + 800));
        assert_eq!(FetchLimits::within_request().worst_case(), Duration::from_millis(2 * 10_000 + 200));
    }
}
