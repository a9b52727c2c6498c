//! The carrier connector port and the two connectors that ship: the sandbox carrier, whose magic
//! credentials drive every path, and this deployment's own policies (the Accounts API), where a
//! consumer logs in with the online-access credentials the insurer set on the account.
//!
//! The port, its errors and [`by_name`] are here; each connector has its file
//! (`connector/sandbox.rs`, `connector/own_policies.rs`).

use std::sync::Arc;

use async_trait::async_trait;
use rust_decimal::Decimal;
use serde_json::{json, Value};

use super::actions::{Invalid, Plan};
use super::model::{MfaOption, MfaState, Secrets, ServicingAction};
use crate::accounts::{AccountError, Policy, TeamId};
use crate::crypto::Keys;
use crate::store::{Store, StoreError};

mod own_policies;
mod sandbox;

pub use own_policies::OwnPolicies;
pub use sandbox::{
    Sandbox, SANDBOX_DOWN_POLICY, SANDBOX_MFA_CODE, SANDBOX_MFA_USER, SANDBOX_PASSWORD, SANDBOX_PROVIDER_ERROR_USER,
};

/// Who logged in, as the pull shows it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Profile {
    pub account_identifier: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Login {
    /// Logged in; the session string is kept (sealed) for the later calls.
    Authenticated { profile: Profile, session: String },
    /// The carrier asks the consumer to pick where a code goes.
    ChooseOption(Vec<MfaOption>),
    /// A code was sent; the consumer must type it.
    EnterCode,
    /// Wrong credentials or code; the message is safe to show the consumer.
    Refused(String),
}

#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    /// The carrier failed or is down (`PROVIDER_ERROR`).
    #[error("provider error: {0}")]
    Provider(String),
    /// The payload cannot be applied (`VALIDATION_ERROR`).
    #[error("validation error {}: {}", .0.kind, .0.message)]
    Invalid(Invalid),
    /// Our side failed and may succeed if tried again (store unavailable, contention).
    #[error("transient: {0}")]
    Transient(String),
    /// Our side failed for good (`INTERNAL_ERROR`).
    #[error("internal: {0}")]
    Internal(String),
}

impl From<crate::crypto::CryptoError> for ConnectorError {
    fn from(e: crate::crypto::CryptoError) -> Self {
        ConnectorError::Internal(e.to_string())
    }
}

impl From<StoreError> for ConnectorError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Contention | StoreError::Unavailable(_) => ConnectorError::Transient(e.to_string()),
            other => ConnectorError::Internal(other.to_string()),
        }
    }
}

impl From<AccountError> for ConnectorError {
    fn from(e: AccountError) -> Self {
        match e {
            AccountError::Store(s) => s.into(),
            AccountError::Conflict { message } => ConnectorError::Invalid(Invalid {
                kind: "POLICY_UNAVAILABLE_FOR_SERVICING",
                message: format!("the account cannot be changed now: {message}"),
            }),
            AccountError::NotFound { .. } => ConnectorError::Invalid(Invalid {
                kind: "POLICY_UNAVAILABLE_FOR_SERVICING",
                message: "the online account no longer exists".into(),
            }),
            other => ConnectorError::Internal(other.to_string()),
        }
    }
}

/// A carrier, as servicing needs it. Calls are stateless: the session string from login is
/// passed back. `apply` must be idempotent per action id: the worker may call it again after a
/// crash.
#[async_trait]
pub trait Connector: Send + Sync {
    async fn login(&self, team: &TeamId, secrets: &Secrets, mfa: &MfaState) -> Result<Login, ConnectorError>;
    /// The confirmation data the consumer confirms or rejects.
    async fn prepare(&self, team: &TeamId, session: &str, action: &ServicingAction) -> Result<Value, ConnectorError>;
    async fn apply(&self, team: &TeamId, session: &str, action: &ServicingAction) -> Result<(), ConnectorError>;
}

/// Connectors by the catalogue's `connector` name.
pub fn by_name(name: &str, store: Arc<dyn Store>, keys: Arc<Keys>) -> Option<Arc<dyn Connector>> {
    match name {
        "sandbox" => Some(Arc::new(Sandbox { store, keys })),
        "accounts" => Some(Arc::new(OwnPolicies { store, keys })),
        _ => None,
    }
}

fn premium_cents(p: &Policy) -> Option<i64> {
    p.total_premium.as_ref().and_then(|m| (m.amount * Decimal::from(100)).round().try_into().ok())
}

/// Adds the premium effect to a single-policy plan's confirmation data.
fn with_premium(plan: &Plan, policies: &[Policy], surcharge: Decimal) -> Value {
    let mut c = plan.confirmation.clone();
    if let [(i, _)] = plan.changed.as_slice() {
        let current = premium_cents(&policies[*i]);
        let adjusted = current.map(|cents| cents + (surcharge * Decimal::from(100)).round().try_into().unwrap_or(0i64));
        c["current_policy_premium_cents"] = json!(current);
        c["adjusted_policy_premium_cents"] = json!(adjusted);
    }
    c
}
