//! The asynchronous side of servicing: one job item per pull says "there is work" (written in the
//! same transaction as the state change that caused it). A worker claims the job with a lease,
//! advances the pull's state machine until it waits for someone, delivers the pull's webhook
//! events in order, then deletes the job or reschedules it for the next retry. An import batch's
//! events have a job of their own, run the same way with nothing to advance: only delivered.
//!
//! In AWS the worker runs in the `servicing-worker` function, triggered by the table's stream
//! (job items only) and by a schedule that sweeps due jobs (retries, and anything a failed
//! invocation left). Locally the server runs the same sweep in-process. A function dying mid-way
//! leaves the job behind with a lease that expires; the next sweep takes it up again. Every step
//! is a conditional write and carrier `apply` is idempotent per action, so a repeated step does no
//! harm; webhook delivery is at least once.
//!
//! The state machine's steps are here; webhook delivery (signing, attempts, redeliveries) is in
//! `worker/delivery.rs`.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use serde_json::json;

use super::carriers::Catalogue;
use super::connector::{self, ConnectorError, Login};
use super::model::{ActionStatus, EventType, MfaState, Pull, PullStatus, ServicingAction, Subject};
use super::repo::{due_jobs, Conflict, PullChange, Repo};
use super::service::Servicing;
use super::webhooks::{RetryPolicy, WebhookSender};
use super::ServicingError;
use crate::crypto::Keys;
use crate::store::{Store, StoreError};
use crate::types::TeamId;

mod delivery;

/// A logged-in carrier session a step works in.
#[derive(Clone, Copy)]
struct Session<'s> {
    team: &'s TeamId,
    conn: &'s dyn connector::Connector,
    session: &'s str,
}

/// How long a claimed job is ours; longer than the worker function's timeout.
pub const LEASE: Duration = Duration::minutes(3);
/// When a transient failure (store busy, carrier timeout) is tried again.
pub const TRANSIENT_RETRY: Duration = Duration::seconds(10);
/// Steps per job run, so a run always ends.
const MAX_STEPS: usize = 64;

#[derive(Clone)]
pub struct Worker {
    pub store: Arc<dyn Store>,
    pub keys: Arc<Keys>,
    pub catalogue: Arc<Catalogue>,
    pub sender: Arc<dyn WebhookSender>,
    pub retry: RetryPolicy,
    /// Webhooks to private addresses allowed (local use only).
    pub allow_private: bool,
}

/// An action the consumer has to answer (waiting for the answer, or the answer being applied):
/// while one is, no other is prepared.
fn waiting(a: &ServicingAction) -> bool {
    matches!(a.status, ActionStatus::WaitingForConsumerConfirmation | ActionStatus::SubmittingConfirmation)
}

/// The action prepared with the carrier's `confirmation`: it and the pull wait for the consumer;
/// the event that says so.
fn wait_for_consumer(
    pull: &mut Pull,
    action: &mut ServicingAction,
    confirmation: serde_json::Value,
) -> (EventType, serde_json::Value) {
    action.status = ActionStatus::WaitingForConsumerConfirmation;
    action.confirmation_data = Some(confirmation);
    pull.status = PullStatus::WaitingForConsumerConfirmation;
    (EventType::ServicingWaitingForConsumerConfirmation, json!({"servicing_action_id": action.servicing_action_id}))
}

enum Step {
    /// Something changed; look again.
    Again,
    /// Waiting for the consumer, or finished.
    Idle,
    /// Try again at this time.
    Later(DateTime<Utc>),
}

impl Worker {
    /// Runs every due job once; returns how many ran. Jobs run concurrently, a few at a time.
    pub async fn sweep(&self) -> Result<usize, StoreError> {
        let due = due_jobs(self.store.as_ref(), Utc::now()).await?;
        let n = due.len();
        let mut set = tokio::task::JoinSet::new();
        for job in due {
            if set.len() >= 8 {
                set.join_next().await;
            }
            let w = self.clone();
            set.spawn(async move {
                if let Err(e) = w.run(&job.team_id, &job.subject).await {
                    tracing::warn!(error = %e, "job run failed; it stays queued");
                }
            });
        }
        while set.join_next().await.is_some() {}
        Ok(n)
    }

    /// Claims and runs the job of one pull.
    pub async fn run_job(&self, team: &TeamId, pull_id: &str) -> Result<(), StoreError> {
        self.run(team, &Subject::Pull(pull_id.to_string())).await
    }

    /// Claims and runs the job of one subject (a stream record names it): a pull is advanced,
    /// then its events delivered; an import batch's events are delivered.
    pub async fn run(&self, team: &TeamId, subject: &Subject) -> Result<(), StoreError> {
        let repo = Repo { store: self.store.as_ref(), team };
        let Some((job, version)) = repo.job(subject).await? else { return Ok(()) };
        let now = Utc::now();
        if job.due_ms > now.timestamp_millis() || job.lease_until_ms > now.timestamp_millis() {
            return Ok(());
        }
        if let Err(conflict) = repo.commit(vec![repo.claim_job(&job, version, now + LEASE)]).await? {
            // Another worker claimed it, or it was poked (and runs again).
            debug_assert_eq!(conflict, Conflict::JobChanged);
            return Ok(());
        }
        let claimed = version + 1;
        let mut next: Option<DateTime<Utc>> = None;
        let advanced = match subject {
            Subject::Pull(pull_id) => self.advance(team, pull_id).await,
            Subject::Batch(_) => Ok(None),
        };
        match advanced {
            Ok(Some(t)) => next = Some(t),
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(error = %crate::net::error_chain(&e), "pull step failed; retrying later");
                next = Some(Utc::now() + TRANSIENT_RETRY);
            }
        }
        match self.deliver(team, subject).await {
            Ok(Some(t)) => next = Some(next.map_or(t, |n| n.min(t))),
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(error = %e, "webhook delivery pass failed; retrying later");
                next = Some(Utc::now() + TRANSIENT_RETRY);
            }
        }
        let write = match next {
            Some(t) => repo.reschedule_job(subject, claimed, t),
            None => repo.finish_job(subject, claimed),
        };
        if let Err(conflict) = repo.commit(vec![write]).await? {
            // Poked meanwhile: the new job stays and runs again.
            debug_assert_eq!(conflict, Conflict::JobChanged);
        }
        Ok(())
    }

    fn servicing(&self) -> Servicing<'_> {
        Servicing::new(self.store.as_ref(), &self.keys, &self.catalogue)
    }

    /// Steps the pull until it waits; `Some(t)` asks to be run again at `t`.
    async fn advance(&self, team: &TeamId, pull_id: &str) -> Result<Option<DateTime<Utc>>, ServicingError> {
        for _ in 0..MAX_STEPS {
            match self.step(team, pull_id).await? {
                Step::Again => continue,
                Step::Idle => return Ok(None),
                Step::Later(t) => return Ok(Some(t)),
            }
        }
        Ok(Some(Utc::now()))
    }

    /// One step of a pull's state machine: log in (or answer MFA), submit a confirmed action, or
    /// prepare the next queued one; each ends in one conditional save, or says when to look again.
    async fn step(&self, team: &TeamId, pull_id: &str) -> Result<Step, ServicingError> {
        let s = self.servicing();
        let ((pull, version), actions) = match s.load_pull_with_actions(team, pull_id).await {
            Ok(p) => p,
            Err(ServicingError::NotFound(_)) => return Ok(Step::Idle),
            Err(e) => return Err(e),
        };
        if !pull.status.needs_work() {
            return Ok(Step::Idle);
        }
        let Some(carrier) = self.catalogue.get(&pull.insurance_provider_name) else {
            return self.fail(pull, version, None, PullStatus::InternalError, "the carrier is no longer offered").await;
        };
        let Some(conn) =
            carrier.connector.as_deref().and_then(|n| connector::by_name(n, self.store.clone(), self.keys.clone()))
        else {
            return self.fail(pull, version, None, PullStatus::InternalError, "the carrier has no connector").await;
        };
        let (secrets, sv) = s.open_secrets(team, pull_id).await?;
        if matches!(pull.status, PullStatus::Queued | PullStatus::Processing) || secrets.session.is_none() {
            return self.login(team, conn.as_ref(), (pull, version), (secrets, sv), actions).await;
        }
        let session = secrets.session.clone().unwrap_or_default();
        let on = Session { team, conn: conn.as_ref(), session: &session };
        match pull.status {
            PullStatus::SubmittingConfirmation => self.submit_confirmed(on, (pull, version), actions).await,
            _ => self.prepare_next(on, (pull, version), actions).await,
        }
    }

    /// Logs in (with the MFA answer the consumer gave, if any): the pull moves to servicing, to an
    /// MFA question, or to `NOT_AUTHENTICATED`, and an `AUTH_STATUS` event says which. Logged in,
    /// the first queued action is prepared in the same save (what the next step would write on its
    /// own, one write less); when preparing it fails, the login is saved alone and the next step
    /// prepares it again, as it always did.
    async fn login(
        &self,
        team: &TeamId,
        conn: &dyn connector::Connector,
        (mut pull, version): (Pull, u64),
        (mut secrets, sv): (super::model::Secrets, u64),
        actions: Vec<(ServicingAction, u64)>,
    ) -> Result<Step, ServicingError> {
        let auth = |status: &str, msg: Option<&str>| json!({"auth_status": status, "login_error_message": msg});
        let event = match conn.login(team, &secrets, &pull.mfa).await {
            Ok(Login::Authenticated { profile, session }) => {
                pull.status = PullStatus::Servicing;
                pull.account_identifier = Some(profile.account_identifier);
                pull.first_name = profile.first_name;
                pull.last_name = profile.last_name;
                pull.email = profile.email;
                pull.login_error_message = None;
                pull.mfa = MfaState::default();
                secrets.mfa_code = None;
                secrets.session = Some(session);
                auth("SUCCESS", None)
            }
            Ok(Login::ChooseOption(options)) => {
                pull.status = PullStatus::IdentityVerificationOptions;
                pull.encountered_mfa = true;
                pull.mfa = MfaState { options, option_key: None, code_submitted: false };
                auth("IDENTITY_VERIFICATION_OPTIONS", None)
            }
            Ok(Login::EnterCode) => {
                pull.status = PullStatus::IdentityVerification;
                pull.encountered_mfa = true;
                auth("IDENTITY_VERIFICATION", None)
            }
            Ok(Login::Refused(message)) => {
                pull.status = PullStatus::NotAuthenticated;
                pull.login_error_message = Some(message.clone());
                pull.mfa = MfaState::default();
                secrets.mfa_code = None;
                auth("NOT_AUTHENTICATED", Some(&message))
            }
            Err(ConnectorError::Transient(e)) => {
                tracing::warn!(error = %e, "login deferred");
                return Ok(Step::Later(Utc::now() + TRANSIENT_RETRY));
            }
            Err(ConnectorError::Provider(m)) => {
                return self.fail(pull, version, None, PullStatus::ProviderError, &m).await;
            }
            Err(e) => return self.fail(pull, version, None, PullStatus::InternalError, &e.to_string()).await,
        };
        let extra = vec![self.servicing().secrets_write(team, &pull.pull_id, &secrets, sv)?];
        tracing::info!(pull = %pull.pull_id, status = pull.status.code(), "login step");
        // Told with the status the login left, even when the save goes on to prepare an action.
        let earlier = vec![(pull.status, EventType::AuthStatus, event)];
        let (mut events, mut prepared) = (vec![], vec![]);
        if let (PullStatus::Servicing, Some(session)) = (pull.status, secrets.session.as_deref()) {
            let any_waiting = actions.iter().any(|(a, _)| waiting(a));
            let queued = actions.into_iter().find(|(a, _)| a.status == ActionStatus::Queued);
            if let (false, Some((mut action, av))) = (any_waiting, queued) {
                if let Ok(confirmation) = conn.prepare(team, session, &action).await {
                    events.push(wait_for_consumer(&mut pull, &mut action, confirmation));
                    prepared.push((action, av));
                }
            }
        }
        self.save(PullChange { earlier, events, extra, actions: prepared, ..PullChange::of(pull, version) }).await
    }

    /// Applies the action the consumer confirmed; the pull goes back to servicing.
    async fn submit_confirmed(
        &self,
        on: Session<'_>,
        (mut pull, version): (Pull, u64),
        actions: Vec<(ServicingAction, u64)>,
    ) -> Result<Step, ServicingError> {
        // Nothing queued behind it: applied, the pull is complete in the same save (what the next
        // step would write on its own, one write less).
        let last = !actions.iter().any(|(a, _)| a.status == ActionStatus::Queued);
        let Some((mut action, av)) =
            actions.into_iter().find(|(a, _)| a.status == ActionStatus::SubmittingConfirmation)
        else {
            pull.status = PullStatus::Servicing;
            return self.save(PullChange::of(pull, version)).await;
        };
        match on.conn.apply(on.team, on.session, &action).await {
            Ok(()) => {
                action.status = ActionStatus::Success;
                tracing::info!(pull = %pull.pull_id, action = action.action_type.code(), "action applied");
                let events = if last {
                    pull.status = PullStatus::Success;
                    tracing::info!(pull = %pull.pull_id, "pull complete");
                    vec![(EventType::Complete, json!({}))]
                } else {
                    pull.status = PullStatus::Servicing;
                    vec![]
                };
                self.save(PullChange { actions: vec![(action, av)], events, ..PullChange::of(pull, version) }).await
            }
            Err(e) => self.action_failed(pull, version, action, av, e).await,
        }
    }

    /// Prepares the next queued action for the consumer's confirmation, or completes the pull when
    /// none is left; waits while an action awaits the consumer.
    async fn prepare_next(
        &self,
        on: Session<'_>,
        (mut pull, version): (Pull, u64),
        actions: Vec<(ServicingAction, u64)>,
    ) -> Result<Step, ServicingError> {
        if actions.iter().any(|(a, _)| waiting(a)) {
            return Ok(Step::Idle);
        }
        let Some((mut action, av)) = actions.into_iter().find(|(a, _)| a.status == ActionStatus::Queued) else {
            pull.status = PullStatus::Success;
            tracing::info!(pull = %pull.pull_id, "pull complete");
            let events = vec![(EventType::Complete, json!({}))];
            return self.save(PullChange { events, ..PullChange::of(pull, version) }).await;
        };
        match on.conn.prepare(on.team, on.session, &action).await {
            Ok(confirmation) => {
                let events = vec![wait_for_consumer(&mut pull, &mut action, confirmation)];
                self.save(PullChange { actions: vec![(action, av)], events, ..PullChange::of(pull, version) }).await
            }
            Err(e) => self.action_failed(pull, version, action, av, e).await,
        }
    }

    async fn save(&self, change: PullChange) -> Result<Step, ServicingError> {
        let team = change.pull.team_id.clone();
        let repo = Repo { store: self.store.as_ref(), team: &team };
        match repo.commit_pull(change, Utc::now()).await {
            // Saved, or another writer got there first (any conflict): look again.
            Ok(Ok(_)) | Ok(Err(_)) => Ok(Step::Again),
            Err(StoreError::Contention) | Err(StoreError::Unavailable(_)) => {
                Ok(Step::Later(Utc::now() + TRANSIENT_RETRY))
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn action_failed(
        &self,
        pull: Pull,
        version: u64,
        mut action: ServicingAction,
        av: u64,
        e: ConnectorError,
    ) -> Result<Step, ServicingError> {
        let (status, pull_status, message) = match e {
            ConnectorError::Transient(m) => {
                tracing::warn!(error = %m, "servicing step deferred");
                return Ok(Step::Later(Utc::now() + TRANSIENT_RETRY));
            }
            ConnectorError::Invalid(inv) => {
                action.validation_error_type = Some(inv.kind.to_string());
                (ActionStatus::ValidationError, PullStatus::ValidationError, inv.message)
            }
            ConnectorError::Provider(m) => (ActionStatus::ProviderError, PullStatus::ProviderError, m),
            ConnectorError::Internal(m) => {
                tracing::error!(error = %m, "servicing action failed internally");
                (ActionStatus::InternalError, PullStatus::InternalError, "The action could not be processed".into())
            }
        };
        action.status = status;
        action.error_message = Some(message.clone());
        self.fail(pull, version, Some((action, av)), pull_status, &message).await
    }

    /// Ends the pull with an error: no later action runs. One `ERROR` event.
    async fn fail(
        &self,
        mut pull: Pull,
        version: u64,
        action: Option<(ServicingAction, u64)>,
        status: PullStatus,
        message: &str,
    ) -> Result<Step, ServicingError> {
        pull.status = status;
        let mut data = json!({"type": status.code(), "message": message});
        if let Some((a, _)) = &action {
            data["servicing_action_id"] = json!(a.servicing_action_id);
            data["validation_error_type"] = json!(a.validation_error_type);
        }
        tracing::info!(pull = %pull.pull_id, status = status.code(), "pull stopped");
        let actions = action.into_iter().collect();
        self.save(PullChange { actions, events: vec![(EventType::Error, data)], ..PullChange::of(pull, version) }).await
    }

    /// The local worker: sweeps until the process ends.
    pub async fn run_forever(self, every: StdDuration) {
        loop {
            if let Err(e) = self.sweep().await {
                tracing::warn!(error = %e, "sweep failed");
            }
            tokio::time::sleep(every).await;
        }
    }
}
