//! Surplus-lines transaction import (seed 002): batches of policy transactions, validated field by
//! field, taxed by effective-dated state rules, answered per transaction with the seed's status
//! codes.

mod documents;
pub mod events;
mod filing;
mod importer;
pub mod later;
pub mod model;
pub mod quote;
mod records;
pub mod render;
pub mod repo;
pub mod report;
pub mod rules;
pub mod service;
pub mod single;
pub mod stream;
pub mod transaction;
pub mod upload;

/// Where a transaction's documents are stored (the tests look there).
pub use documents::document_prefix;

use crate::objects::ObjectError;
use crate::store::StoreError;

/// What went wrong with an import request as a whole (one transaction's problems are its status
/// code, never this). `api/errors.rs` alone turns it into HTTP (`{"error", "message"}`).
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The batch is not a JSON array of transactions: `INVALID_BATCH`, nothing imported.
    #[error("{0}")]
    InvalidBatch(String),
    /// A query parameter is missing or wrong: `INVALID_INPUT`.
    #[error("{0}")]
    InvalidInput(String),
    /// A batch POST over the limit, in bytes.
    #[error("a batch POST may carry at most {0} bytes")]
    TooLarge(usize),
    #[error("{0} was not found")]
    NotFound(&'static str),
    /// A state code that is no jurisdiction here (status 1004 for a transaction).
    #[error("no department for state '{0}'")]
    NoDepartment(String),
    #[error("missing or invalid credentials")]
    Unauthorized,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Objects(#[from] ObjectError),
    /// A failure on our side; its cause is kept for the one log line of the request.
    #[error("internal error")]
    Internal(#[source] crate::cause::Cause),
}

/// Runs an import request's work as a task of its own, which owns all it needs, and waits for it.
/// Whoever waits may stop (the local server drops a request's future when its client hangs up),
/// but the work goes on to its end: documents stored are then recorded, the batch is finished
/// and its results are readable by its id, instead of documents left with no record (a
/// transaction's documents are stored before its record is written, and a future dropped
/// between the two leaves them behind). In Lambda nothing drops the request (API Gateway lets
/// the function run when its client hangs up), so there this changes nothing; what stops an
/// import there is the function's timeout, which is a crash, not a hang-up.
pub async fn to_the_end<T: Send + 'static>(
    work: impl std::future::Future<Output = Result<T, ImportError>> + Send + 'static,
) -> Result<T, ImportError> {
    let running = Running::start();
    tokio::spawn(async move {
        let _running = running;
        work.await
    })
    .await
    .map_err(ImportError::internal)?
}

/// How many [`to_the_end`] tasks run in this process, and a wake-up when the last one ends.
static RUNNING: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
static ALL_ENDED: tokio::sync::Notify = tokio::sync::Notify::const_new();

/// One running [`to_the_end`] task, counted while it lives (however it ends).
struct Running;

impl Running {
    fn start() -> Running {
        RUNNING.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Running
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if RUNNING.fetch_sub(1, std::sync::atomic::Ordering::SeqCst) == 1 {
            ALL_ENDED.notify_waiters();
        }
    }
}

/// How many imports started by requests are running in this process.
pub fn running() -> usize {
    RUNNING.load(std::sync::atomic::Ordering::SeqCst)
}

/// Waits until no import started by a request runs in this process: a server that stops lets
/// them end first (a process that exits mid-import is a crash, which leaves their documents
/// behind). Imports of uploads need not be waited for: their lease lets the sweep resume them.
pub async fn all_ended() {
    loop {
        let ended = ALL_ENDED.notified();
        tokio::pin!(ended);
        ended.as_mut().enable();
        if running() == 0 {
            return;
        }
        ended.await;
    }
}

impl ImportError {
    pub fn internal(cause: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        ImportError::Internal(crate::cause::cause(cause))
    }
}

impl From<service::BatchError> for ImportError {
    fn from(e: service::BatchError) -> Self {
        match e {
            service::BatchError::NotJson(_) | service::BatchError::NotArray | service::BatchError::Envelope(_) => {
                ImportError::InvalidBatch(e.to_string())
            }
            service::BatchError::Store(s) => ImportError::Store(s),
            service::BatchError::Objects(o) => ImportError::Objects(o),
        }
    }
}

impl From<crate::auth::AuthError> for ImportError {
    fn from(e: crate::auth::AuthError) -> Self {
        match e {
            crate::auth::AuthError::Store(s) => ImportError::Store(s),
            crate::auth::AuthError::Internal(c) => ImportError::Internal(c),
            _ => ImportError::Unauthorized,
        }
    }
}
