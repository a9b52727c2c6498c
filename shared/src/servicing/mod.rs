//! Servicing (seed 000): consent and carrier credentials, pulls whose servicing actions run one at
//! a time and wait for the consumer's confirmation, and the webhooks that report every step.
//!
//! Key layout (same table as the accounts; `<t>` team id, `<p>` pull id):
//!
//! | item | pk | sk | index (gsi1) |
//! |---|---|---|---|
//! | pull | `T#<t>#P#<p>` | `PULL` | `T#<t>#PULLS` / `<created>#<p>` |
//! | consent record | `T#<t>#P#<p>` | `CONSENT` | - |
//! | sealed credentials + session | `T#<t>#P#<p>` | `CRED` | - |
//! | servicing action | `T#<t>#P#<p>` | `SA#<position:03>` | - |
//! | action pointer (get by id) | `T#<t>#SA#<id>` | `SA` | `T#<t>#SERVICINGS` / `<created>#<id>` |
//! | webhook event | `T#<t>#P#<p>` | `EV#<seq:06>` | - |
//! | delivery cursor per endpoint | `T#<t>#P#<p>` | `WH#<webhook>` | - |
//! | delivery attempt | `T#<t>#P#<p>` | `AT#<seq:06>#<webhook>#<ms>` | - |
//! | redelivery request | `T#<t>#P#<p>` | `RD#<seq:06>#<webhook>` | - |
//! | webhook endpoint | `T#<t>#WEBHOOKS` | `WH#<id>` | - |
//! | worker job (one per pull) | `JOB#<t>#<p>` | `JOB` | `JOBS` / `<due ms:015>#<t>#<p>` |
//! | sandbox carrier account | `T#<t>#SANDBOX#<digest>` | `S` | - |
//! | online access (own policies) | `T#<t>#ONLINE#<digest>` | `U` | - |

pub mod actions;
pub mod carriers;
pub mod connector;
pub mod model;
pub mod render;
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
    #[error("internal: {0}")]
    Internal(String),
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
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        ServicingError::Internal(detail.to_string())
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

impl From<crate::crypto::CryptoError> for ServicingError {
    fn from(e: crate::crypto::CryptoError) -> Self {
        ServicingError::internal(e)
    }
}

pub(crate) mod keys {
    pub fn pull_pk(team: &str, pull: &str) -> String {
        format!("T#{team}#P#{pull}")
    }
    pub const PULL_SK: &str = "PULL";
    pub const CONSENT_SK: &str = "CONSENT";
    pub const CRED_SK: &str = "CRED";
    pub fn pulls_index(team: &str) -> String {
        format!("T#{team}#PULLS")
    }
    pub const ACTION_PREFIX: &str = "SA#";
    pub fn action_sk(position: u32) -> String {
        format!("SA#{position:03}")
    }
    pub fn action_pointer(team: &str, id: &str) -> String {
        format!("T#{team}#SA#{id}")
    }
    pub const POINTER_SK: &str = "SA";
    pub fn servicings_index(team: &str) -> String {
        format!("T#{team}#SERVICINGS")
    }
    pub const EVENT_PREFIX: &str = "EV#";
    pub fn event_sk(seq: u64) -> String {
        format!("EV#{seq:06}")
    }
    pub fn cursor_sk(webhook: &str) -> String {
        format!("WH#{webhook}")
    }
    pub const ATTEMPT_PREFIX: &str = "AT#";
    pub fn attempt_sk(seq: u64, webhook: &str, ms: i64) -> String {
        format!("AT#{seq:06}#{webhook}#{ms:015}")
    }
    pub const REDELIVERY_PREFIX: &str = "RD#";
    pub fn redelivery_sk(seq: u64, webhook: &str) -> String {
        format!("RD#{seq:06}#{webhook}")
    }
    pub fn webhooks_pk(team: &str) -> String {
        format!("T#{team}#WEBHOOKS")
    }
    pub const WEBHOOK_PREFIX: &str = "WH#";
    pub fn webhook_sk(id: &str) -> String {
        format!("WH#{id}")
    }
    pub fn job_pk(team: &str, pull: &str) -> String {
        format!("JOB#{team}#{pull}")
    }
    pub const JOB_SK: &str = "JOB";
    pub const JOBS_INDEX: &str = "JOBS";
    pub fn job_index_sk(due_ms: i64, team: &str, pull: &str) -> String {
        format!("{:015}#{team}#{pull}", due_ms.max(0))
    }
}
