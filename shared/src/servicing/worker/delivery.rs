//! Webhook delivery, as the worker runs it: each endpoint's events in order from its cursor, the
//! redeliveries the team asked for, and one signed attempt at a time.

use chrono::{DateTime, Utc};

use super::Worker;
use crate::crypto::webhook_signature;
use crate::servicing::model::{Event, Subject};
use crate::servicing::repo::{Conflict, Named, Repo};
use crate::servicing::webhooks::{
    secret_context, Attempt, DeliveryCursor, SendOutcome, Webhook, EVENT_ID_HEADER, SIGNATURE_HEADER,
};
use crate::store::StoreError;
use crate::types::TeamId;

/// The sooner of two "come back at" times, either of which may be none.
fn sooner(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

impl Worker {
    /// Delivers the subject's events (a pull's, an import batch's) to every endpoint, in order
    /// per endpoint; returns when to come back for retries still due.
    pub(super) async fn deliver(&self, team: &TeamId, subject: &Subject) -> Result<Option<DateTime<Utc>>, StoreError> {
        let repo = Repo { store: self.store.as_ref(), team };
        let hooks = repo.webhooks().await?;
        if hooks.is_empty() {
            // No endpoint, nothing to send: the events and the redelivery requests are not read
            // (two queries a run). A request names an endpoint, so one whose endpoint was
            // deleted since waits to be dropped by the next delivery that has an endpoint.
            return Ok(None);
        }
        let events = repo.events(subject).await?;
        let mut next: Option<DateTime<Utc>> = None;
        for (hook, _) in &hooks {
            next = sooner(next, self.deliver_in_order(repo, subject, hook, &events).await?);
        }
        // Redeliveries asked for by the team.
        next = sooner(next, self.redeliver(repo, subject, &hooks, &events).await?);
        Ok(next)
    }

    /// Delivers one endpoint's events in order from its cursor, until one fails or waits for its
    /// retry, and records the attempts and the cursor; returns when the waiting retry is due.
    async fn deliver_in_order(
        &self,
        repo: Repo<'_>,
        subject: &Subject,
        hook: &Webhook,
        events: &[Event],
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        let (mut cursor, cv) = repo.cursor(subject, &hook.webhook_id).await?.unwrap_or_else(|| {
            (DeliveryCursor { webhook_id: hook.webhook_id.clone(), next_sequence: 1, ..Default::default() }, 0)
        });
        let start = cursor.clone();
        let mut attempts = Vec::new();
        // Set at most once: the loop ends where a retry waits.
        let mut later: Option<DateTime<Utc>> = None;
        let from = cursor.next_sequence;
        for e in events.iter().filter(|e| e.sequence >= from) {
            if !hook.wants(e) {
                cursor.next_sequence = e.sequence + 1;
                continue;
            }
            let now = Utc::now();
            if cursor.next_attempt_ms > now.timestamp_millis() {
                later = Some(DateTime::from_timestamp_millis(cursor.next_attempt_ms).unwrap_or(now));
                break;
            }
            let (attempt, ok) = self.attempt(repo.team, hook, e, cursor.retries, false).await;
            attempts.push(attempt);
            match self.retry.next_try(ok, cursor.retries) {
                None => {
                    cursor.next_sequence = e.sequence + 1;
                    cursor.retries = 0;
                    cursor.next_attempt_ms = 0;
                }
                Some((retries, at)) => {
                    cursor.retries = retries;
                    cursor.next_attempt_ms = at.timestamp_millis();
                    later = Some(at);
                    break;
                }
            }
        }
        if attempts.is_empty() && start.next_sequence == cursor.next_sequence {
            return Ok(later);
        }
        record_pass(repo, subject, &attempts, &cursor, cv).await?;
        Ok(later)
    }

    /// Tries the redeliveries the team asked for that are due; returns when the next one is due.
    async fn redeliver(
        &self,
        repo: Repo<'_>,
        subject: &Subject,
        hooks: &[(Webhook, u64)],
        events: &[Event],
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        let mut next: Option<DateTime<Utc>> = None;
        let mut later = |t: DateTime<Utc>| next = Some(next.map_or(t, |n: DateTime<Utc>| n.min(t)));
        for (mut r, version) in repo.redeliveries(subject).await? {
            let now = Utc::now();
            if r.next_attempt_ms > now.timestamp_millis() {
                later(DateTime::from_timestamp_millis(r.next_attempt_ms).unwrap_or(now));
                continue;
            }
            let hook = hooks.iter().map(|(w, _)| w).find(|w| w.webhook_id == r.webhook_id);
            let event = events.iter().find(|e| e.sequence == r.sequence);
            let (Some(hook), Some(event)) = (hook, event) else {
                // The endpoint or the event is gone: the request goes too (if it fails, next time).
                repo.commit(vec![repo.delete_redelivery(subject, &r, version)]).await.ok();
                continue;
            };
            let (attempt, ok) = self.attempt(repo.team, hook, event, r.retries, true).await;
            let mut writes = vec![repo.record_attempt(subject, &attempt)];
            match self.retry.next_try(ok, r.retries) {
                None => writes.push(repo.delete_redelivery(subject, &r, version)),
                Some((retries, at)) => {
                    r.retries = retries;
                    r.next_attempt_ms = at.timestamp_millis();
                    later(at);
                    writes.push(repo.update_redelivery(subject, &r, version));
                }
            }
            if let Err(conflict) = repo.commit(writes).await? {
                // Asked for again meanwhile: the new request stands.
                debug_assert_eq!(conflict, Conflict::RedeliveryChanged);
            }
        }
        Ok(next)
    }

    async fn attempt(
        &self,
        team: &TeamId,
        hook: &Webhook,
        e: &Event,
        retries: u32,
        redelivery: bool,
    ) -> (Attempt, bool) {
        let started = std::time::Instant::now();
        let now = Utc::now();
        let outcome = match self.keys.open(&secret_context(team, &hook.webhook_id), &hook.secret) {
            Ok(secret) => {
                let secret = String::from_utf8_lossy(&secret).into_owned();
                let sig = webhook_signature(&secret, now.timestamp(), e.body.as_bytes());
                let headers = vec![(SIGNATURE_HEADER, sig), (EVENT_ID_HEADER, e.event_id.clone())];
                self.sender.post(&hook.url, headers, e.body.as_bytes().to_vec(), self.retry.timeout).await
            }
            Err(_) => SendOutcome::Failed("the signing secret cannot be opened".into()),
        };
        let ok = matches!(outcome, SendOutcome::Status(s) if (200..300).contains(&s));
        let gave_up = !ok && retries >= self.retry.max_retries;
        let (status_code, error) = match outcome {
            SendOutcome::Status(s) => (Some(s), None),
            SendOutcome::Failed(m) => (None, Some(m)),
        };
        tracing::info!(event = %e.event_id, status = ?status_code, ok, "webhook attempt");
        let attempt = Attempt {
            sequence: e.sequence,
            event_id: e.event_id.clone(),
            webhook_id: hook.webhook_id.clone(),
            attempted_at: now,
            status_code,
            error,
            duration_ms: started.elapsed().as_millis() as u64,
            outcome: if ok {
                "DELIVERED"
            } else if gave_up {
                "GAVE_UP"
            } else {
                "FAILED"
            }
            .into(),
            redelivery,
        };
        crate::metrics::count("WebhookDeliveries", "outcome", &attempt.outcome, 1, &[("team", team.as_str())]);
        (attempt, ok)
    }
}

/// Records one endpoint's delivery pass: its attempts and, first, where its cursor now stands.
async fn record_pass(
    repo: Repo<'_>,
    subject: &Subject,
    attempts: &[Attempt],
    cursor: &DeliveryCursor,
    cv: u64,
) -> Result<(), StoreError> {
    let mut writes: Vec<Named> = attempts.iter().map(|a| repo.record_attempt(subject, a)).collect();
    writes.push(repo.put_cursor(subject, cursor, cv));
    for chunk in writes.chunks(90).collect::<Vec<_>>().into_iter().rev() {
        // The cursor is in the last chunk and written first: a crash after it records fewer
        // attempts, never a second delivery of a delivered event.
        if let Err(conflict) = repo.commit(chunk.to_vec()).await? {
            // Another run moved the cursor meanwhile: its record stands.
            debug_assert_eq!(conflict, Conflict::CursorChanged);
            break;
        }
    }
    Ok(())
}
