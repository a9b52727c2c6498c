//! Webhook endpoints per team, the sender port and its HTTP adapter, the retry schedule, the
//! delivery log and redelivery.

use std::time::Duration as StdDuration;

use async_trait::async_trait;
use chrono::Utc;
use serde_json::{json, Value};

use super::model::{EventType, Subject};
use super::repo::{Conflict, Named, Repo};
use super::ServicingError;
use crate::crypto::{random_bytes, uuid, Keys};
use crate::store::{Store, StoreError};
use crate::types::TeamId;

use super::input::WebhookInput;
pub use super::model::{Attempt, DeliveryCursor, Redelivery, Webhook, MAX_WEBHOOKS};

/// The signature header: `t=<unix seconds>,s=<hex HMAC-SHA256 of "t.body">`.
pub const SIGNATURE_HEADER: &str = "coverdesk-signature";
pub const EVENT_ID_HEADER: &str = "coverdesk-event-id";

pub fn secret_context(team: &TeamId, webhook: &str) -> String {
    format!("webhook:{team}:{webhook}")
}

/// When to try again: the reference's schedule is 10 retries, `60 s + attempt^4 s` apart (about
/// 7 hours in all). `unit` scales it (tests run it in milliseconds).
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub max_retries: u32,
    pub base: StdDuration,
    pub unit: StdDuration,
    pub timeout: StdDuration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 10,
            base: StdDuration::from_secs(60),
            unit: StdDuration::from_secs(1),
            timeout: StdDuration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// The delay before retry number `retry` (1-based).
    pub fn delay(&self, retry: u32) -> StdDuration {
        self.base + self.unit * retry.pow(4)
    }

    /// After an attempt that followed `retries` retries: `None` when delivery is over (it
    /// succeeded, or the retries are used up), else the next retry's number and when it is due.
    /// The one schedule of in-order deliveries and of redeliveries.
    pub fn next_try(&self, ok: bool, retries: u32) -> Option<(u32, chrono::DateTime<chrono::Utc>)> {
        if ok || retries >= self.max_retries {
            return None;
        }
        let retry = retries + 1;
        let delay = chrono::Duration::from_std(self.delay(retry)).unwrap_or(chrono::Duration::minutes(1));
        Some((retry, chrono::Utc::now() + delay))
    }
}

/// The outcome of one POST.
#[derive(Debug, Clone, PartialEq)]
pub enum SendOutcome {
    Status(u16),
    /// No answer (timeout, refused, blocked address); the text names the cause, never the body.
    Failed(String),
}

/// Sends one webhook request.
#[async_trait]
pub trait WebhookSender: Send + Sync {
    async fn post(
        &self,
        url: &str,
        headers: Vec<(&'static str, String)>,
        body: Vec<u8>,
        timeout: StdDuration,
    ) -> SendOutcome;
}

/// No sender: dependencies built without an HTTP client. Every delivery fails, naming the bug.
pub struct NoSender;

#[async_trait]
impl WebhookSender for NoSender {
    async fn post(&self, _: &str, _: Vec<(&'static str, String)>, _: Vec<u8>, _: StdDuration) -> SendOutcome {
        SendOutcome::Failed("no webhook sender in these dependencies (a bug: add one with Deps::with_http)".into())
    }
}

pub struct Webhooks<'a> {
    pub store: &'a dyn Store,
    pub keys: &'a Keys,
}

impl Webhooks<'_> {
    fn repo<'b>(&'b self, team: &'b TeamId) -> Repo<'b> {
        Repo { store: self.store, team }
    }

    /// The team's endpoints, each with its version.
    pub async fn list(&self, team: &TeamId) -> Result<Vec<(Webhook, u64)>, StoreError> {
        self.repo(team).webhooks().await
    }

    async fn get(&self, team: &TeamId, id: &str) -> Result<(Webhook, u64), ServicingError> {
        self.repo(team).webhook(id).await?.ok_or_else(|| ServicingError::not_found("The webhook"))
    }

    /// Registers an endpoint; the signing secret is in this answer only.
    pub async fn create(&self, team: &TeamId, input: WebhookInput) -> Result<Value, ServicingError> {
        let WebhookInput { url, types, active } = input;
        if self.list(team).await?.len() >= MAX_WEBHOOKS {
            return Err(ServicingError::bad(
                "INVALID_INPUT",
                format!("a team may register at most {MAX_WEBHOOKS} webhooks"),
            ));
        }
        let id = uuid()?;
        let secret = format!("whsec_{}", hex::encode(random_bytes::<24>()?));
        let now = Utc::now();
        let w = Webhook {
            webhook_id: id.clone(),
            url: url.unwrap_or_default(),
            event_types: types.unwrap_or_else(|| EventType::ALL.to_vec()),
            is_active: active.unwrap_or(true),
            secret: self.keys.seal(&secret_context(team, &id), secret.as_bytes())?,
            created_at: now,
            updated_at: now,
        };
        let repo = self.repo(team);
        repo.commit(vec![repo.put_webhook(&w, 0)]).await??;
        let mut v = w.view();
        v["signing_secret"] = json!(secret);
        Ok(v)
    }

    pub async fn update(&self, team: &TeamId, id: &str, input: WebhookInput) -> Result<Value, ServicingError> {
        let WebhookInput { url, types, active } = input;
        let (mut w, version) = self.get(team, id).await?;
        if let Some(u) = url {
            w.url = u;
        }
        if let Some(t) = types {
            w.event_types = t;
        }
        if let Some(a) = active {
            w.is_active = a;
        }
        w.updated_at = Utc::now();
        let repo = self.repo(team);
        match repo.commit(vec![repo.put_webhook(&w, version)]).await? {
            Ok(()) => Ok(w.view()),
            Err(Conflict::WebhookChanged) => {
                Err(ServicingError::Conflict("The webhook changed meanwhile; read it and try again".into()))
            }
            Err(c) => Err(c.into()),
        }
    }

    pub async fn delete(&self, team: &TeamId, id: &str) -> Result<Value, ServicingError> {
        let (_, mut version) = self.get(team, id).await?;
        let repo = self.repo(team);
        // Changed meanwhile (a PATCH): read it again and delete that; gone meanwhile: deleted.
        for attempt in 0..4 {
            if attempt > 0 {
                let Some((_, v)) = repo.webhook(id).await? else { break };
                version = v;
            }
            match repo.commit(vec![repo.delete_webhook(id, version)]).await? {
                Ok(()) => return Ok(json!({"webhook_id": id, "deleted": true})),
                Err(Conflict::WebhookChanged) => continue,
                Err(c) => return Err(c.into()),
            }
        }
        match repo.webhook(id).await? {
            None => Ok(json!({"webhook_id": id, "deleted": true})),
            Some(_) => Err(ServicingError::Conflict("The webhook keeps changing; try again".into())),
        }
    }

    /// The pull's events with each endpoint's delivery status and attempts.
    pub async fn event_log(&self, team: &TeamId, pull_id: &str) -> Result<Value, ServicingError> {
        if self.repo(team).pull(pull_id).await?.is_none() {
            return Err(ServicingError::not_found("The pull"));
        }
        self.log_of(team, &Subject::Pull(pull_id.to_string())).await
    }

    /// A subject's events with each endpoint's delivery status and attempts: `{pull_id | batch_id,
    /// events}`. Whether the subject exists is the caller's to check (a batch is the import's).
    pub async fn log_of(&self, team: &TeamId, subject: &Subject) -> Result<Value, ServicingError> {
        let repo = self.repo(team);
        let events = repo.events(subject).await?;
        let attempts = repo.attempts(subject).await?;
        let mut out = Vec::new();
        for e in &events {
            let mine: Vec<&Attempt> = attempts.iter().filter(|a| a.sequence == e.sequence).collect();
            let mut hooks: Vec<&str> = mine.iter().map(|a| a.webhook_id.as_str()).collect();
            hooks.dedup();
            let deliveries: Vec<Value> = hooks
                .iter()
                .map(|h| {
                    let list: Vec<&&Attempt> = mine.iter().filter(|a| a.webhook_id == *h).collect();
                    let status = if list.iter().any(|a| a.outcome == "DELIVERED") {
                        "DELIVERED"
                    } else if list.last().is_some_and(|a| a.outcome == "GAVE_UP") {
                        "FAILED"
                    } else {
                        "RETRYING"
                    };
                    json!({"webhook_id": h, "status": status, "attempts": list.iter().map(|a| a.view()).collect::<Vec<_>>()})
                })
                .collect();
            let body: Value = serde_json::from_str(&e.body).unwrap_or(Value::Null);
            out.push(json!({
                "event_id": e.event_id,
                "sequence": e.sequence,
                "event_type": e.event_type.code(),
                "created_at": e.created_at,
                "body": body,
                "deliveries": deliveries,
            }));
        }
        let mut log = serde_json::Map::new();
        log.insert(subject.id_field().into(), json!(subject.id()));
        log.insert("events".into(), Value::Array(out));
        Ok(Value::Object(log))
    }

    /// Queues a pull's event to be sent again to one endpoint or to every endpoint that wants it.
    pub async fn redeliver(
        &self,
        team: &TeamId,
        pull_id: &str,
        event_id: &str,
        only: Option<String>,
    ) -> Result<Value, ServicingError> {
        self.redeliver_of(team, &Subject::Pull(pull_id.to_string()), event_id, only).await
    }

    /// Queues a subject's event (`<pull or batch id>.<sequence>`) to be sent again to one
    /// endpoint or to every endpoint that wants it.
    pub async fn redeliver_of(
        &self,
        team: &TeamId,
        subject: &Subject,
        event_id: &str,
        only: Option<String>,
    ) -> Result<Value, ServicingError> {
        let repo = self.repo(team);
        let seq = event_id
            .strip_prefix(subject.id())
            .and_then(|s| s.strip_prefix('.'))
            .and_then(|s| s.parse::<u64>().ok())
            .ok_or_else(|| ServicingError::not_found("The event"))?;
        let event = repo.event(subject, seq).await?.ok_or_else(|| ServicingError::not_found("The event"))?;
        let hooks = self.list(team).await?;
        let targets: Vec<&Webhook> = hooks
            .iter()
            .map(|(w, _)| w)
            .filter(|w| match &only {
                Some(id) => &w.webhook_id == id,
                None => w.is_active && w.event_types.contains(&event.event_type),
            })
            .collect();
        if let Some(id) = &only {
            if targets.is_empty() {
                return Err(ServicingError::not_found(&format!("The webhook {id}")));
            }
        }
        let now = Utc::now();
        let mut writes: Vec<Named> = targets
            .iter()
            .map(|w| {
                let r = Redelivery { sequence: seq, webhook_id: w.webhook_id.clone(), retries: 0, next_attempt_ms: 0 };
                repo.request_redelivery(subject, &r)
            })
            .collect();
        let queued: Vec<&str> = targets.iter().map(|w| w.webhook_id.as_str()).collect();
        if !writes.is_empty() {
            writes.push(repo.poke_job(subject, now));
            repo.commit(writes).await??;
        }
        Ok(json!({"event_id": event_id, "queued_for": queued}))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_schedule_is_the_references() {
        let p = RetryPolicy::default();
        assert_eq!(p.delay(1), StdDuration::from_secs(61));
        assert_eq!(p.delay(10), StdDuration::from_secs(60 + 10_000));
        let total: StdDuration = (1..=10).map(|n| p.delay(n)).sum();
        assert!(total > StdDuration::from_secs(6 * 3600) && total < StdDuration::from_secs(8 * 3600));
    }
}
