//! The sandbox carrier: magic credentials drive every path, and each username is its own account.

use std::sync::Arc;

use async_trait::async_trait;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{with_premium, Connector, ConnectorError, Login, Profile};
use crate::accounts::{Address, Driver, Insured, Money, Mortgagee, Policy, TeamId, Vehicle};
use crate::crypto::Keys;
use crate::servicing::actions::plan;
use crate::servicing::model::{MfaOption, MfaState, Secrets, ServicingAction};
use crate::servicing::repo::{Conflict, Repo};
use crate::store::{Store, StoreError};
use crate::types::StateCode;

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
    pub(super) store: Arc<dyn Store>,
    pub(super) keys: Arc<Keys>,
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
        Repo { store: self.store.as_ref(), team }
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
