//! Servicing (seed 000): consent and carrier credentials, pulls whose servicing actions run one at
//! a time and wait for the consumer's confirmation, and the webhooks that report every step.
//!
//! Keys, items and writes: [`repo`].

pub mod actions;
pub mod carriers;
pub mod connector;
mod consumer;
pub mod input;
pub mod model;
pub mod render;
pub mod repo;
pub mod service;
pub mod webhooks;
pub mod worker;

use crate::store::StoreError;

/// What went wrong in a servicing operation, in the original's vocabulary. `api/errors.rs` alone
/// turns it into HTTP (`{"error": "<ENUM>", "message"}`); nothing here logs.
#[derive(Debug, thiserror::Error)]
pub enum ServicingError {
    /// The request breaks a rule: the original's error enum (`INVALID_INPUT`, `PULL_TOO_OLD`,
    /// `INVALID_ACTION`, ...) and a message safe to show. Nothing was changed.
    #[error("{code}: {message}")]
    Invalid { code: &'static str, message: String },
    /// No or wrong credentials or token.
    #[error("missing or invalid credentials")]
    Unauthorized,
    /// Valid credentials for something else (another team's path, another pull's token).
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// `{0} was not found`: unknown, or not this team's.
    #[error("{0} was not found")]
    NotFound(String),
    /// Changed meanwhile: read again and retry.
    #[error("conflict: {0}")]
    Conflict(String),
    /// A body over the limit, in bytes.
    #[error("the body is over {0} bytes")]
    TooLarge(usize),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A failure on our side (500), its cause kept for the log.
    #[error("internal error")]
    Internal(#[source] crate::cause::Cause),
}

impl ServicingError {
    pub fn bad(code: &'static str, message: impl Into<String>) -> Self {
        ServicingError::Invalid { code, message: message.into() }
    }
    pub fn not_found(what: &str) -> Self {
        ServicingError::NotFound(what.to_string())
    }
    pub fn unauthorized() -> Self {
        ServicingError::Unauthorized
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        ServicingError::Forbidden(message.into())
    }
    pub fn internal(cause: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        ServicingError::Internal(crate::cause::cause(cause))
    }
}

impl From<crate::auth::AuthError> for ServicingError {
    fn from(e: crate::auth::AuthError) -> Self {
        match e {
            crate::auth::AuthError::Store(s) => ServicingError::Store(s),
            crate::auth::AuthError::Internal(m) => ServicingError::Internal(m),
            _ => ServicingError::Unauthorized,
        }
    }
}

impl From<crate::fields::Stop> for ServicingError {
    fn from(stop: crate::fields::Stop) -> Self {
        actions::Invalid::from(stop).into()
    }
}

impl From<actions::Invalid> for ServicingError {
    fn from(e: actions::Invalid) -> Self {
        ServicingError::Invalid { code: e.kind, message: e.message }
    }
}

/// A failed condition nobody retries (a fresh id taken, ...): a bug or a race, answered 500 like
/// any store failure that is not "busy".
impl From<repo::Conflict> for ServicingError {
    fn from(c: repo::Conflict) -> Self {
        ServicingError::internal(c)
    }
}

impl From<crate::crypto::CryptoError> for ServicingError {
    fn from(e: crate::crypto::CryptoError) -> Self {
        ServicingError::internal(e)
    }
}
