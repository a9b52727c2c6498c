//! The consumer's answers to a pull that waits for them: the MFA option, the code, new
//! credentials after a refused login, and the confirmation (or rejection) of a servicing action,
//! which the team may also give for its consumer. Each is one conditional change of the pull that
//! pokes its worker job; a race with the worker or another answer is read again.

use serde_json::{json, Value};

use super::actions;
use super::model::{ActionStatus, MfaState, Pull, PullStatus, Secrets};
use super::repo::{Conflict, PullChange};
use super::service::Servicing;
use super::ServicingError;
use crate::fields::{optional, required};
use crate::store::StoreError;
use crate::types::TeamId;

impl Servicing<'_> {
    /// Confirms or rejects the action waiting for the consumer. Two racing confirmations: one
    /// wins, the other gets `INVALID_ACTION`.
    pub async fn confirm(&self, team: &TeamId, pull_id: &str, body: &Value) -> Result<Value, ServicingError> {
        let mut b = actions::request(body)?;
        let action_id =
            b.string_as_sent("servicing_action_id", required().code("INVALID_INPUT"), 1, 64)?.unwrap_or_default();
        let confirmed = match b.take("is_confirmed") {
            Some(Value::Bool(v)) => *v,
            _ => return Err(ServicingError::bad("INVALID_INPUT", "is_confirmed must be true or false")),
        };
        b.end()?;
        for _ in 0..4 {
            let ((mut pull, version), actions) = self.load_pull_with_actions(team, pull_id).await?;
            let (mut action, av) = actions
                .into_iter()
                .find(|(a, _)| a.servicing_action_id == action_id)
                .ok_or_else(|| ServicingError::not_found("The servicing action"))?;
            if action.status != ActionStatus::WaitingForConsumerConfirmation
                || pull.status != PullStatus::WaitingForConsumerConfirmation
            {
                return Err(ServicingError::bad(
                    "INVALID_ACTION",
                    format!("The servicing action is {}, not waiting for confirmation", action.status.code()),
                ));
            }
            if confirmed {
                action.status = ActionStatus::SubmittingConfirmation;
                pull.status = PullStatus::SubmittingConfirmation;
            } else {
                action.status = ActionStatus::Unconfirmed;
                pull.status = PullStatus::Servicing;
            }
            let change = PullChange { actions: vec![(action, av)], poke: true, ..PullChange::of(pull, version) };
            match self.repo(team).commit_pull(change, self.now).await? {
                Ok(_) => return Ok(json!({"pull_id": pull_id})),
                // Another confirmation or the worker got there first: look again.
                Err(Conflict::PullChanged | Conflict::ActionChanged) => continue,
                Err(c) => return Err(c.into()),
            }
        }
        Err(ServicingError::from(StoreError::Contention))
    }

    async fn update_waiting<F>(
        &self,
        team: &TeamId,
        pull_id: &str,
        expected: PullStatus,
        f: F,
    ) -> Result<Value, ServicingError>
    where
        F: Fn(&mut Pull, &mut Secrets) -> Result<(), ServicingError>,
    {
        for _ in 0..4 {
            let (mut pull, version) = self.load_pull(team, pull_id).await?;
            if pull.status != expected {
                return Err(ServicingError::bad(
                    "INVALID_ACTION",
                    format!("The pull is {}, not {}", pull.status.code(), expected.code()),
                ));
            }
            let (mut secrets, sv) = self.open_secrets(team, pull_id).await?;
            f(&mut pull, &mut secrets)?;
            let extra = vec![self.secrets_write(team, pull_id, &secrets, sv)?];
            let change = PullChange { extra, poke: true, ..PullChange::of(pull, version) };
            match self.repo(team).commit_pull(change, self.now).await? {
                Ok(_) => return Ok(json!({"pull_id": pull_id})),
                // The worker or another request got there first: look again.
                Err(Conflict::PullChanged | Conflict::CredentialsChanged) => continue,
                Err(c) => return Err(c.into()),
            }
        }
        Err(ServicingError::from(StoreError::Contention))
    }

    /// `POST /widget/pull/{pullId}/idvoptions {optionKey}`.
    pub async fn choose_option(&self, team: &TeamId, pull_id: &str, body: &Value) -> Result<Value, ServicingError> {
        let mut b = actions::request(body)?;
        let key = b.string_as_sent("optionKey", required().code("INVALID_INPUT"), 1, 100)?.unwrap_or_default();
        b.end()?;
        self.update_waiting(team, pull_id, PullStatus::IdentityVerificationOptions, |pull, _| {
            if !pull.mfa.options.iter().any(|o| o.key == key) {
                return Err(ServicingError::bad("INVALID_INPUT", "optionKey is not one of the options offered"));
            }
            pull.mfa.option_key = Some(key.clone());
            pull.status = PullStatus::Processing;
            Ok(())
        })
        .await
    }

    /// `POST /widget/pull/{pullId}/idv {mfaValue}`.
    pub async fn submit_code(&self, team: &TeamId, pull_id: &str, body: &Value) -> Result<Value, ServicingError> {
        let mut b = actions::request(body)?;
        let code = b.string_as_sent("mfaValue", required().code("INVALID_INPUT"), 1, 50)?.unwrap_or_default();
        b.end()?;
        self.update_waiting(team, pull_id, PullStatus::IdentityVerification, |pull, secrets| {
            secrets.mfa_code = Some(code.trim().to_string());
            pull.mfa.code_submitted = true;
            pull.status = PullStatus::Processing;
            Ok(())
        })
        .await
    }

    /// `POST /widget/pull/{pullId}/connect`: new credentials after `NOT_AUTHENTICATED`.
    pub async fn reconnect(&self, team: &TeamId, pull_id: &str, body: &Value) -> Result<Value, ServicingError> {
        let mut b = actions::request(body)?;
        let carrier =
            b.string_as_sent("insurerName", required().code("UNSUPPORTED_INSURER"), 1, 100)?.unwrap_or_default();
        let username =
            b.string_as_sent("insurerUsername", required().code("INVALID_USERNAME"), 5, 200)?.unwrap_or_default();
        let password = b.string_as_sent("insurerPassword", required().code("INVALID_PASSWORD"), 5, 200)?;
        let third = b.string_as_sent("insurerThirdField", optional().code("INVALID_THIRDFIELD"), 1, 200)?;
        b.end()?;
        self.update_waiting(team, pull_id, PullStatus::NotAuthenticated, |pull, secrets| {
            if pull.insurance_provider_name != carrier {
                return Err(ServicingError::bad("UNSUPPORTED_INSURER", "insurerName must be the pull's carrier"));
            }
            *secrets = Secrets {
                username: username.clone(),
                password: password.clone(),
                third_field: third.clone(),
                mfa_code: None,
                session: None,
            };
            pull.mfa = MfaState::default();
            pull.login_error_message = None;
            pull.status = PullStatus::Queued;
            Ok(())
        })
        .await
    }
}
