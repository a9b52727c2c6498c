//! Fetching documents from client-supplied URLs, which are hostile: the port ([`DocumentFetcher`])
//! and its rules. Only http(s); no loopback, private, link-local or metadata address, checked on
//! the URL and on every redirect and every DNS answer; a size cap enforced while streaming; a
//! timeout per attempt; retries on 5xx and on network failures ([`fetch`]). The body is kept in
//! memory up to [`IN_MEMORY_MAX`] while its SHA-256 is computed, and spooled to a temporary file
//! past that ([`Body`]). The HTTP client that does it is the `coverdesk-http` crate's: the domain
//! holds no transport.

use std::path::Path;
use std::time::Duration;

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

/// The largest document kept in memory on its way to the object store; a larger one is spooled to
/// a temporary file as it arrives. 1 MiB: at most [`crate::import::model::FETCH_CONCURRENCY`] (16)
/// documents are fetched at once, so an import holds 16 MiB of them at most, and a typical
/// policy PDF (tens to hundreds of KB) costs no file, no blocking-pool hand-off per write and no
/// unlink (what a cold function's first answer pays; README, "Cold start").
pub const IN_MEMORY_MAX: usize = 1 << 20;

/// A fetched document's bytes: in memory when small, else in a temporary file (deleted when this
/// is dropped).
pub enum Body {
    Memory(Vec<u8>),
    File(tempfile::TempPath),
}

/// Never the bytes (a document in an error or test message would be up to 1 MiB of it).
impl std::fmt::Debug for Body {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Body::Memory(b) => write!(f, "Memory({} bytes)", b.len()),
            Body::File(p) => write!(f, "File({})", p.display()),
        }
    }
}

/// A fetched document.
#[derive(Debug)]
pub struct Fetched {
    pub body: Body,
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
    /// Whether another attempt may succeed: no answer, or a server error.
    pub fn retryable(&self) -> bool {
        matches!(self, FetchError::Network(_)) || matches!(self, FetchError::Status(s) if *s >= 500)
    }
}

/// Fetches documents: the port the import fetches through. The HTTP adapter (`coverdesk-http`)
/// guards every address and redirect; tests may stand in their own.
#[async_trait::async_trait]
pub trait DocumentFetcher: Send + Sync {
    /// One attempt: `url` (redirects followed, at most `limits.max_redirects`, each URL checked),
    /// at most `limits.max_bytes`, in memory or, past [`IN_MEMORY_MAX`], in a temporary file under
    /// `dir` (created then: [`crate::spool::ready`]).
    async fn fetch_once(&self, url: &str, dir: &Path, limits: &FetchLimits) -> Result<Fetched, FetchError>;
}

/// Fetches `url` (spooling under `dir` past [`IN_MEMORY_MAX`]), retrying what may succeed on a
/// retry (network failures and 5xx), each attempt bounded by `limits.timeout`, waiting 200 ms,
/// 800 ms, ... between.
pub async fn fetch(
    fetcher: &dyn DocumentFetcher,
    url: &str,
    dir: &Path,
    limits: &FetchLimits,
) -> Result<Fetched, FetchError> {
    let mut last = FetchError::Network("not tried".into());
    for attempt in 0..limits.attempts.max(1) {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_millis(200 * 4u64.pow(attempt - 1))).await;
        }
        match tokio::time::timeout(limits.timeout, fetcher.fetch_once(url, dir, limits)).await {
            Ok(Ok(f)) => return Ok(f),
            Ok(Err(e)) if e.retryable() => last = e,
            Ok(Err(e)) => return Err(e),
            Err(_) => {
                last = FetchError::Network(format!("no complete answer within {:.1} s", limits.timeout.as_secs_f32()))
            }
        }
    }
    Err(last)
}

/// No fetcher: dependencies built without an HTTP client. A use is a bug in how they were built.
pub struct NoFetcher;

#[async_trait::async_trait]
impl DocumentFetcher for NoFetcher {
    async fn fetch_once(&self, _: &str, _: &Path, _: &FetchLimits) -> Result<Fetched, FetchError> {
        Err(FetchError::Network("no document fetcher in these dependencies".into()))
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
