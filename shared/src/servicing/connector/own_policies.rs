//! This deployment's own policies as a carrier: a consumer logs in with the online-access
//! credentials the insurer set on the account, and actions change the account's policies.

use std::sync::Arc;

use async_trait::async_trait;
use rust_decimal::Decimal;
use serde_json::{json, Value};

use super::{with_premium, Connector, ConnectorError, Login, Profile};
use crate::accounts::online;
use crate::accounts::service::Versioned;
use crate::accounts::{Account, AccountError, AccountStatus, Accounts, ChildKind, Contact, Policy, Stored, TeamId};
use crate::crypto::{verify_password, Keys};
use crate::servicing::actions::{plan, Invalid};
use crate::servicing::model::{MfaState, Secrets, ServicingAction};
use crate::store::{Store, StoreError};
use crate::types::Username;

pub struct OwnPolicies {
    pub(super) store: Arc<dyn Store>,
    pub(super) keys: Arc<Keys>,
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
