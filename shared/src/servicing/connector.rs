//! The carrier connector port and the two connectors that ship: the sandbox carrier, whose magic
//! credentials drive every path, and this deployment's own policies (the Accounts API), where a
//! consumer logs in with the online-access credentials the insurer set on the account.

use std::sync::Arc;

use async_trait::async_trait;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::actions::{plan, Invalid, Plan};
use super::model::{MfaOption, MfaState, Secrets, ServicingAction};
use super::repo::{Conflict, Repo};
use crate::accounts::online;
use crate::accounts::service::Versioned;
use crate::accounts::{
    Account, AccountError, AccountStatus, Accounts, Address, ChildKind, Contact, Driver, Insured, Money, Mortgagee,
    Policy, Stored, TeamId, Vehicle,
};
use crate::crypto::{verify_password, Keys};
use crate::store::{Store, StoreError};
use crate::types::{StateCode, Username};

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

// ---------------------------------------------------------------------------------------------
// Sandbox

/// The sandbox carrier. Magic credentials (also in the README):
/// - password `pass_good` logs in; any other password is refused (`NOT_AUTHENTICATED`);
/// - username `user_mfa` asks for a verification option, then a code: `123456` passes;
/// - username `user_provider_error` fails at login with `PROVIDER_ERROR`;
/// - `carrier_policy_number` `SBX-DOWN` in an action fails it with `PROVIDER_ERROR`;
/// - any payload the rules refuse (e.g. an unknown policy number) ends as `VALIDATION_ERROR`.
///
/// Every other username is its own sandbox account (home policy `SBX-HOME-1`, auto policy
/// `SBX-AUTO-1`), kept per team, so changes persist across pulls.
pub struct Sandbox {
    store: Arc<dyn Store>,
    keys: Arc<Keys>,
}

pub const SANDBOX_PASSWORD: &str = "pass_good";
pub const SANDBOX_MFA_USER: &str = "user_mfa";
pub const SANDBOX_MFA_CODE: &str = "123456";
pub const SANDBOX_PROVIDER_ERROR_USER: &str = "user_provider_error";
pub const SANDBOX_DOWN_POLICY: &str = "SBX-DOWN";
/// Sandbox rates: what one more vehicle or driver adds to the annual premium.
const SANDBOX_VEHICLE_RATE: Decimal = Decimal::from_parts(61200, 0, 0, false, 2);
const SANDBOX_DRIVER_RATE: Decimal = Decimal::from_parts(38400, 0, 0, false, 2);

#[derive(Debug, Clone, Serialize, Deserialize)]
struct SandboxAccount {
    policies: Vec<Policy>,
    next_id: u64,
    /// The actions already applied (newest last), so a repeated apply changes nothing.
    applied: Vec<String>,
}

/// The sandbox carrier's state (checked when compiled).
const SANDBOX_STATE: StateCode = StateCode::from_ascii(*b"TX");

fn sandbox_address() -> Address {
    Address {
        line1: "100 Sandbox Way".into(),
        line2: None,
        city: "Austin".into(),
        state: SANDBOX_STATE,
        postal_code: "78701".into(),
        country: "US".into(),
    }
}

fn sandbox_account() -> SandboxAccount {
    let now = chrono::Utc::now();
    let insured = Insured {
        first_name: Some("Sam".into()),
        last_name: Some("Sandbox".into()),
        company_name: None,
        email: Some("sam.sandbox@example.com".into()),
        phone: Some("512-555-0100".into()),
        address: Some(sandbox_address()),
    };
    let date = |y, m, d| chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default();
    let money = |cents: i64| Some(Money { amount: Decimal::new(cents, 2), currency: "USD".into() });
    let home = Policy {
        policy_number: "SBX-HOME-1".into(),
        line_of_business: "Homeowners".into(),
        status: "InForce".into(),
        effective_date: date(2026, 1, 1),
        expiration_date: date(2027, 1, 1),
        total_premium: money(120_000),
        insured: insured.clone(),
        mortgagees: vec![Mortgagee {
            id: 1,
            name: "Sandbox First Bank".into(),
            mortgagee_type: "FIRST".into(),
            loan_number: Some("LN-0001".into()),
            address: sandbox_address(),
        }],
        drivers: vec![],
        vehicles: vec![],
        created_at: now,
    };
    let auto = Policy {
        policy_number: "SBX-AUTO-1".into(),
        line_of_business: "PersonalAuto".into(),
        status: "InForce".into(),
        effective_date: date(2026, 1, 1),
        expiration_date: date(2026, 7, 1),
        total_premium: money(180_000),
        insured,
        mortgagees: vec![],
        drivers: vec![Driver {
            id: 2,
            first_name: "Sam".into(),
            last_name: "Sandbox".into(),
            date_of_birth: Some(date(1985, 5, 17)),
            license_number: Some("S1234567".into()),
            license_state: Some(SANDBOX_STATE),
        }],
        vehicles: vec![Vehicle {
            id: 3,
            vin: "1HGCM82633A004352".into(),
            make: "Honda".into(),
            model: "Accord".into(),
            model_year: 2003,
            lien_holders: vec![],
        }],
        created_at: now,
    };
    SandboxAccount { policies: vec![home, auto], next_id: 4, applied: Vec::new() }
}

impl Sandbox {
    fn repo<'a>(&'a self, team: &'a TeamId) -> Repo<'a> {
        Repo { store: self.store.as_ref(), team: team.as_str() }
    }

    /// The account of a username (the example account until its first change), and the version
    /// read (`None`: never written).
    async fn load(&self, team: &TeamId, username: &str) -> Result<(SandboxAccount, Option<u64>), ConnectorError> {
        match self.repo(team).sandbox_account(&self.keys.lookup_key(username)?).await? {
            Some((acc, version)) => Ok((acc, Some(version))),
            None => Ok((sandbox_account(), None)),
        }
    }

    fn check_down(action: &ServicingAction) -> Result<(), ConnectorError> {
        if action.payload.get("carrier_policy_number").and_then(Value::as_str) == Some(SANDBOX_DOWN_POLICY) {
            return Err(ConnectorError::Provider("The carrier's system did not answer.".into()));
        }
        Ok(())
    }
}

#[async_trait]
impl Connector for Sandbox {
    async fn login(&self, _team: &TeamId, secrets: &Secrets, mfa: &MfaState) -> Result<Login, ConnectorError> {
        if secrets.username == SANDBOX_PROVIDER_ERROR_USER {
            return Err(ConnectorError::Provider("The carrier's login page did not load.".into()));
        }
        if secrets.password.as_deref() != Some(SANDBOX_PASSWORD) {
            return Ok(Login::Refused("The username or password is not correct.".into()));
        }
        if secrets.username == SANDBOX_MFA_USER {
            match (&mfa.option_key, &secrets.mfa_code) {
                (None, _) => {
                    return Ok(Login::ChooseOption(vec![
                        MfaOption { key: "email".into(), label: "Email a code to s***@example.com".into() },
                        MfaOption { key: "sms".into(), label: "Text a code to ***-***-0100".into() },
                    ]))
                }
                (Some(_), None) => return Ok(Login::EnterCode),
                (Some(_), Some(code)) if code != SANDBOX_MFA_CODE => {
                    return Ok(Login::Refused("The verification code is not correct.".into()))
                }
                _ => {}
            }
        }
        Ok(Login::Authenticated {
            profile: Profile {
                account_identifier: format!("SBX-{}", &self.keys.lookup_key(&secrets.username)?[..8].to_uppercase()),
                first_name: Some("Sam".into()),
                last_name: Some("Sandbox".into()),
                email: Some("sam.sandbox@example.com".into()),
            },
            session: secrets.username.clone(),
        })
    }

    async fn prepare(&self, team: &TeamId, session: &str, action: &ServicingAction) -> Result<Value, ConnectorError> {
        Self::check_down(action)?;
        let (acc, _) = self.load(team, session).await?;
        let plan =
            plan(&acc.policies, action.action_type, &action.payload, &mut || 0).map_err(ConnectorError::Invalid)?;
        let surcharge = SANDBOX_VEHICLE_RATE * Decimal::from(plan.vehicles_added)
            + SANDBOX_DRIVER_RATE * Decimal::from(plan.drivers_added);
        Ok(with_premium(&plan, &acc.policies, surcharge))
    }

    async fn apply(&self, team: &TeamId, session: &str, action: &ServicingAction) -> Result<(), ConnectorError> {
        Self::check_down(action)?;
        for _ in 0..8 {
            let (mut acc, version) = self.load(team, session).await?;
            if acc.applied.contains(&action.servicing_action_id) {
                return Ok(());
            }
            let mut next = acc.next_id;
            let plan = plan(&acc.policies, action.action_type, &action.payload, &mut || {
                next += 1;
                next - 1
            })
            .map_err(ConnectorError::Invalid)?;
            let surcharge = SANDBOX_VEHICLE_RATE * Decimal::from(plan.vehicles_added)
                + SANDBOX_DRIVER_RATE * Decimal::from(plan.drivers_added);
            for (i, mut p) in plan.changed {
                if let Some(m) = p.total_premium.as_mut() {
                    m.amount += surcharge;
                }
                acc.policies[i] = p;
            }
            acc.next_id = next;
            acc.applied.push(action.servicing_action_id.clone());
            if acc.applied.len() > 200 {
                acc.applied.remove(0);
            }
            let body = serde_json::to_value(&acc).map_err(|e| ConnectorError::Internal(e.to_string()))?;
            let repo = self.repo(team);
            match repo.commit(vec![repo.put_sandbox_account(&self.keys.lookup_key(session)?, body, version)]).await {
                Ok(Ok(())) => return Ok(()),
                Ok(Err(conflict)) => {
                    // Another delivery changed the account meanwhile: look again.
                    debug_assert_eq!(conflict, Conflict::SandboxAccountChanged);
                    continue;
                }
                Err(StoreError::Contention) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(ConnectorError::Transient("the sandbox account kept changing".into()))
    }
}

// ---------------------------------------------------------------------------------------------
// This deployment's own policies

pub struct OwnPolicies {
    store: Arc<dyn Store>,
    keys: Arc<Keys>,
}

impl OwnPolicies {
    fn account_of(session: &str) -> Result<u64, ConnectorError> {
        session.parse().map_err(|_| ConnectorError::Internal("bad session".into()))
    }

    async fn policies(
        &self,
        team: &TeamId,
        n: u64,
    ) -> Result<(Account, Vec<Versioned<Stored<Policy>>>), ConnectorError> {
        let accounts = Accounts::new(self.store.as_ref(), team);
        let (account, policies) = accounts.list_children::<Policy>(n, ChildKind::Policy).await?;
        if account.status == AccountStatus::Withdrawn || account.merge.is_some() {
            return Err(ConnectorError::Invalid(Invalid {
                kind: "POLICY_UNAVAILABLE_FOR_SERVICING",
                message: "the account is withdrawn or being merged".into(),
            }));
        }
        Ok((account, policies))
    }
}

#[async_trait]
impl Connector for OwnPolicies {
    async fn login(&self, team: &TeamId, secrets: &Secrets, _mfa: &MfaState) -> Result<Login, ConnectorError> {
        let refused = || Ok(Login::Refused("The username or password is not correct.".into()));
        let Ok(username) = Username::parse(&secrets.username) else { return refused() };
        let Some(access) = online::login(self.store.as_ref(), &self.keys, team, &username).await? else {
            return refused();
        };
        let password = secrets.password.clone().unwrap_or_default();
        let hash = access.password.clone();
        let ok = tokio::task::spawn_blocking(move || verify_password(&hash, &password))
            .await
            .map_err(|e| ConnectorError::Internal(e.to_string()))?;
        if !ok {
            return refused();
        }
        let accounts = Accounts::new(self.store.as_ref(), team);
        let account = match accounts.load(access.account).await {
            Ok(a) => a.value,
            Err(AccountError::NotFound { .. }) => return refused(),
            Err(e) => return Err(e.into()),
        };
        if account.status == AccountStatus::Withdrawn {
            return Ok(Login::Refused("The online account is closed.".into()));
        }
        let holder =
            accounts.get_child::<Contact>(account.id, ChildKind::Contact, account.holder.contact_id).await.ok();
        let holder = holder.map(|(_, c)| c.value.data);
        Ok(Login::Authenticated {
            profile: Profile {
                account_identifier: account.number.clone(),
                first_name: holder.as_ref().and_then(|c| c.first_name.clone()),
                last_name: holder.as_ref().and_then(|c| c.last_name.clone()),
                email: holder.as_ref().and_then(|c| c.email.clone()),
            },
            session: account.id.to_string(),
        })
    }

    async fn prepare(&self, team: &TeamId, session: &str, action: &ServicingAction) -> Result<Value, ConnectorError> {
        let n = Self::account_of(session)?;
        let (_, stored) = self.policies(team, n).await?;
        let policies: Vec<Policy> = stored.into_iter().map(|v| v.value.data).collect();
        let plan = plan(&policies, action.action_type, &action.payload, &mut || 0).map_err(ConnectorError::Invalid)?;
        // This deployment does not rate: the premium is shown unchanged.
        Ok(with_premium(&plan, &policies, Decimal::ZERO))
    }

    async fn apply(&self, team: &TeamId, session: &str, action: &ServicingAction) -> Result<(), ConnectorError> {
        let n = Self::account_of(session)?;
        let accounts = Accounts::new(self.store.as_ref(), team);
        let repo = accounts.repo();
        for _ in 0..8 {
            if repo.action_applied(n, &action.servicing_action_id).await? {
                return Ok(());
            }
            let (_, stored) = self.policies(team, n).await?;
            let policies: Vec<Policy> = stored.iter().map(|v| v.value.data.clone()).collect();
            let ids = accounts.child_ids(8).await?;
            let mut k = 0;
            let plan = plan(&policies, action.action_type, &action.payload, &mut || {
                k += 1;
                ids + (k - 1).min(7)
            })
            .map_err(ConnectorError::Invalid)?;
            let mut writes = Vec::new();
            for (i, p) in &plan.changed {
                let current = &stored[*i];
                let child = Stored { id: current.value.id, pending_merge: None, data: p.clone() };
                writes.push(repo.put_child(n, ChildKind::Policy, &child, current.version + 1, current.version)?);
            }
            let applied =
                json!({"pull_id": action.pull_id, "type": action.action_type.code(), "applied_at": chrono::Utc::now()});
            writes.push(repo.record_applied(n, &action.servicing_action_id, applied));
            match accounts.update_account(n, None, None, |_| Ok(writes.clone())).await {
                Ok(_) => return Ok(()),
                // A policy changed, or another delivery applied the action: look again.
                Err(AccountError::Conflicted(_)) | Err(AccountError::Store(StoreError::Contention)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(ConnectorError::Transient("the policies kept changing".into()))
    }
}
