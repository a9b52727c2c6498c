//! The webhook side of the servicing repository: endpoints, the events' delivery cursors and
//! attempts, and redelivery requests, in the partition of the events' subject (a pull, an import
//! batch). The events themselves are written with the change they tell: a pull's by
//! [`Repo::commit_pull`], a batch's by the import in the write that finishes the batch
//! ([`batch_event`]).

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::{encode, keys, versioned, Conflict, Named, Repo};
use crate::servicing::model::{
    batch_event_body, Attempt, DeliveryCursor, Event, EventType, Redelivery, Subject, Webhook, MAX_WEBHOOKS,
};
use crate::store::{Cond, Item, Store, StoreError, Write};
use crate::types::TeamId;

/// How long a webhook delivery attempt stays in the event log (then TTL removes it).
pub const ATTEMPT_DAYS: i64 = 90;

/// An import batch's event, for the transaction that records what it tells (the batch processed
/// or failed): the event (its body frozen, numbered by its type and written only if absent: see
/// [`EventType::batch_sequence`]) and the poke of the batch's job, in that order. `None` when no
/// active endpoint of the team wants the type (nothing would ever send it; one query).
pub async fn batch_event(
    store: &dyn Store,
    team: &TeamId,
    batch_id: &str,
    status: &str,
    t: EventType,
    data: &Value,
    now: DateTime<Utc>,
) -> Result<Option<[Write; 2]>, StoreError> {
    let Some(seq) = t.batch_sequence() else {
        return Err(StoreError::Invalid(format!("{} is no import batch event", t.code())));
    };
    let repo = Repo { store, team };
    if !repo.webhooks().await?.iter().any(|(w, _)| w.is_active && w.event_types.contains(&t)) {
        return Ok(None);
    }
    let subject = Subject::Batch(batch_id.to_string());
    let event_id = format!("{batch_id}.{seq}");
    let body = batch_event_body(team, batch_id, status, &event_id, seq, t, data, now);
    let e = Event { event_id, sequence: seq, event_type: t, created_at: now, body };
    let item = Item::new(keys::events_pk(team, &subject), keys::event_sk(seq), 1, encode(&e));
    Ok(Some([Write::Put { item, cond: Cond::Absent }, super::jobs::poke(team, &subject, now)]))
}

impl Repo<'_> {
    // ---- reads ----

    /// Every webhook event of a subject, in sequence order.
    pub async fn events(&self, s: &Subject) -> Result<Vec<Event>, StoreError> {
        self.all(s, keys::EVENT_PREFIX).await?.iter().map(Item::decode).collect()
    }

    /// The webhook event of a subject with sequence number `seq`.
    pub async fn event(&self, s: &Subject, seq: u64) -> Result<Option<Event>, StoreError> {
        Ok(self.get(&self.events_pk(s), &keys::event_sk(seq)).await?.map(|(v, _)| v))
    }

    /// Every delivery attempt of a subject's events, by event, endpoint and time.
    pub async fn attempts(&self, s: &Subject) -> Result<Vec<Attempt>, StoreError> {
        self.all(s, keys::ATTEMPT_PREFIX).await?.iter().map(Item::decode).collect()
    }

    /// A subject's open redelivery requests, each with its version.
    pub async fn redeliveries(&self, s: &Subject) -> Result<Vec<(Redelivery, u64)>, StoreError> {
        self.all(s, keys::REDELIVERY_PREFIX).await?.iter().map(versioned).collect()
    }

    /// Where one endpoint stands in a subject's events, and the cursor's version.
    pub async fn cursor(&self, s: &Subject, webhook_id: &str) -> Result<Option<(DeliveryCursor, u64)>, StoreError> {
        self.get(&self.events_pk(s), &keys::cursor_sk(webhook_id)).await
    }

    /// The team's webhook endpoints, each with its version.
    pub async fn webhooks(&self) -> Result<Vec<(Webhook, u64)>, StoreError> {
        let page =
            self.store.query(&keys::webhooks_pk(self.team), keys::WEBHOOK_PREFIX, None, MAX_WEBHOOKS * 2).await?;
        page.items.iter().map(versioned).collect()
    }

    /// One webhook endpoint and its version.
    pub async fn webhook(&self, id: &str) -> Result<Option<(Webhook, u64)>, StoreError> {
        self.get(&keys::webhooks_pk(self.team), &keys::webhook_sk(id)).await
    }

    // ---- writes ----

    /// An endpoint's delivery cursor over the one read at `read` (0: none yet).
    pub fn put_cursor(&self, s: &Subject, c: &DeliveryCursor, read: u64) -> Named {
        let item = Item::new(self.events_pk(s), keys::cursor_sk(&c.webhook_id), read + 1, encode(c));
        Named { write: Write::Put { item, cond: Cond::read_at(read) }, conflict: Conflict::CursorChanged }
    }

    /// Records one delivery attempt.
    pub fn record_attempt(&self, s: &Subject, a: &Attempt) -> Named {
        let sk = keys::attempt_sk(a.sequence, &a.webhook_id, a.attempted_at.timestamp_micros());
        let item = Item::new(self.events_pk(s), sk, 1, encode(a))
            .expiring(a.attempted_at + chrono::Duration::days(ATTEMPT_DAYS));
        Named { write: Write::Put { item, cond: Cond::Any }, conflict: Conflict::AttemptExists }
    }

    /// Asks for a redelivery, replacing an open request for the same event and endpoint.
    pub fn request_redelivery(&self, s: &Subject, r: &Redelivery) -> Named {
        let item = Item::new(self.events_pk(s), keys::redelivery_sk(r.sequence, &r.webhook_id), 1, encode(r));
        Named { write: Write::Put { item, cond: Cond::Any }, conflict: Conflict::RedeliveryChanged }
    }

    /// A redelivery request after a failed attempt, over the one read at `read`.
    pub fn update_redelivery(&self, s: &Subject, r: &Redelivery, read: u64) -> Named {
        let sk = keys::redelivery_sk(r.sequence, &r.webhook_id);
        let item = Item::new(self.events_pk(s), sk, read + 1, encode(r));
        Named { write: Write::Put { item, cond: Cond::Version(read) }, conflict: Conflict::RedeliveryChanged }
    }

    /// Removes a redelivery request (done, given up, or naming something gone), as read at `read`.
    pub fn delete_redelivery(&self, s: &Subject, r: &Redelivery, read: u64) -> Named {
        Named {
            write: Write::Delete {
                pk: self.events_pk(s),
                sk: keys::redelivery_sk(r.sequence, &r.webhook_id),
                cond: Cond::Version(read),
            },
            conflict: Conflict::RedeliveryChanged,
        }
    }

    /// A webhook endpoint over the one read at `read` (0: a new endpoint).
    pub fn put_webhook(&self, w: &Webhook, read: u64) -> Named {
        let item = Item::new(keys::webhooks_pk(self.team), keys::webhook_sk(&w.webhook_id), read + 1, encode(w));
        let conflict = if read == 0 { Conflict::WebhookExists } else { Conflict::WebhookChanged };
        Named { write: Write::Put { item, cond: Cond::read_at(read) }, conflict }
    }

    /// Removes a webhook endpoint as read at `read`.
    pub fn delete_webhook(&self, id: &str, read: u64) -> Named {
        Named {
            write: Write::Delete {
                pk: keys::webhooks_pk(self.team),
                sk: keys::webhook_sk(id),
                cond: Cond::Version(read),
            },
            conflict: Conflict::WebhookChanged,
        }
    }
}
