//! The account API's errors; mapped to HTTP and the original's envelope in `api::errors`.

use serde::Serialize;

use crate::store::StoreError;

/// One entry of the error body's `details`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Detail {
    pub message: String,
    /// The offending input, as a path like `data.attributes.preferredCoverageCurrency.code`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Named facts about the problem, as the original gives a stale checksum's
    /// (`{uri, currentChecksum, suppliedChecksum}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub properties: Option<serde_json::Value>,
}

impl Detail {
    pub fn new(message: impl Into<String>) -> Self {
        Detail { message: message.into(), field: None, properties: None }
    }
    pub fn at(field: impl Into<String>, message: impl Into<String>) -> Self {
        Detail { message: message.into(), field: Some(field.into()), properties: None }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// 400: the request is malformed or breaks a rule; nothing was changed.
    #[error("bad input: {user_message}")]
    BadInput { user_message: String, details: Vec<Detail> },
    /// 400: the action is not allowed in the resource's current status.
    #[error("cannot take action '{action}'")]
    WrongStatus { action: &'static str, resource: String, current: &'static str, allowed: Vec<&'static str> },
    /// 401: no or wrong credentials.
    #[error("not authenticated")]
    Unauthenticated,
    /// 404: unknown, or not this team's.
    #[error("not found: {uri}")]
    NotFound { uri: String },
    /// 409 (the original documents the body, not the status): the client's checksum is stale.
    #[error("checksum mismatch on {uri}")]
    ChecksumMismatch { supplied: String, current: String, uri: String },
    /// 400 `AlreadyExecutedException`, as the original documents it: the client transaction id
    /// was used before.
    #[error("transaction already executed")]
    AlreadyExecuted { transaction_id: String },
    /// 409: the change collides with another one (a merge under way, a duplicate policy number).
    #[error("conflict: {message}")]
    Conflict { message: String },
    /// A change's condition failed, named by the repository. Callers handle the ones they expect
    /// (retry, draw again); one that reaches the client is 503 when another writer got there first
    /// (retry shortly), else 409 with its description.
    #[error("conflict: {0}")]
    Conflicted(Conflict),
    /// 503 or 500: the store failed; the client sees no internals.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// 500: a bug or corrupt data.
    #[error("internal error")]
    Internal(#[source] crate::cause::Cause),
}

impl AccountError {
    pub fn bad_input(details: Vec<Detail>) -> Self {
        AccountError::BadInput {
            user_message: "The request is not valid. See the details element for further information.".into(),
            details,
        }
    }
    pub fn bad(field: &str, message: impl Into<String>) -> Self {
        Self::bad_input(vec![Detail::at(field, message)])
    }
    /// A failure on our side (500), its cause kept for the log.
    pub fn internal(cause: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        AccountError::Internal(crate::cause::cause(cause))
    }
}

impl From<crate::crypto::CryptoError> for AccountError {
    fn from(e: crate::crypto::CryptoError) -> Self {
        AccountError::internal(e)
    }
}

impl From<crate::auth::AuthError> for AccountError {
    fn from(e: crate::auth::AuthError) -> Self {
        use crate::auth::AuthError::*;
        match e {
            Unauthenticated => AccountError::Unauthenticated,
            InvalidClientId => AccountError::bad("client_id", "may hold 1 to 64 letters, digits, - and _"),
            ClientIdTaken(id) => AccountError::Conflict { message: format!("A team with client id {id} exists.") },
            NoSuchTeam(id) => AccountError::NotFound { uri: format!("team {id}") },
            NoSuchKey { key_id, .. } => AccountError::NotFound { uri: format!("API key {key_id}") },
            InvalidKeyName => {
                AccountError::bad("name", "may hold at most 100 characters, none of them a control character")
            }
            Store(s) => AccountError::Store(s),
            Internal(m) => AccountError::Internal(m),
        }
    }
}

/// What a failed condition in an accounts transaction means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Conflict {
    /// An account changed (or appeared, or went) since it was read: another writer got there first.
    #[error("the account changed meanwhile")]
    AccountChanged,
    #[error("the account number is taken")]
    AccountNumberTaken,
    #[error("A policy with this policy number already exists.")]
    PolicyNumberTaken,
    #[error("the client transaction id was used meanwhile")]
    TransactionIdUsed,
    /// A child changed since it was read (its checksum is stale).
    #[error("the resource changed meanwhile")]
    ChildChanged,
    /// A new child's id is taken (never, with the id counters; named for completeness).
    #[error("the resource exists already")]
    ChildExists,
    #[error("the merge changed meanwhile")]
    MergeChanged,
    #[error("the servicing action was applied meanwhile")]
    ActionApplied,
    #[error("this username is already in use for online access")]
    UsernameTaken,
    #[error("the online access changed meanwhile")]
    OnlineAccessChanged,
}
