//! The webhook side of the servicing repository: endpoints, the events' delivery cursors and
//! attempts, and redelivery requests (the events themselves are written with their pull).

use super::{encode, keys, versioned, Conflict, Named, Repo};
use crate::servicing::model::{Attempt, DeliveryCursor, Event, Redelivery, Webhook, MAX_WEBHOOKS};
use crate::store::{Cond, Item, StoreError, Write};

/// How long a webhook delivery attempt stays in the event log (then TTL removes it).
pub const ATTEMPT_DAYS: i64 = 90;

impl Repo<'_> {
    // ---- reads ----

    /// Every webhook event of a pull, in sequence order.
    pub async fn events(&self, pull_id: &str) -> Result<Vec<Event>, StoreError> {
        self.all(pull_id, keys::EVENT_PREFIX).await?.iter().map(Item::decode).collect()
    }

    /// The webhook event of a pull with sequence number `seq`.
    pub async fn event(&self, pull_id: &str, seq: u64) -> Result<Option<Event>, StoreError> {
        Ok(self.get(&self.pull_pk(pull_id), &keys::event_sk(seq)).await?.map(|(v, _)| v))
    }

    /// Every delivery attempt of a pull's events, by event, endpoint and time.
    pub async fn attempts(&self, pull_id: &str) -> Result<Vec<Attempt>, StoreError> {
        self.all(pull_id, keys::ATTEMPT_PREFIX).await?.iter().map(Item::decode).collect()
    }

    /// A pull's open redelivery requests, each with its version.
    pub async fn redeliveries(&self, pull_id: &str) -> Result<Vec<(Redelivery, u64)>, StoreError> {
        self.all(pull_id, keys::REDELIVERY_PREFIX).await?.iter().map(versioned).collect()
    }

    /// Where one endpoint stands in a pull's events, and the cursor's version.
    pub async fn cursor(&self, pull_id: &str, webhook_id: &str) -> Result<Option<(DeliveryCursor, u64)>, StoreError> {
        self.get(&self.pull_pk(pull_id), &keys::cursor_sk(webhook_id)).await
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
    pub fn put_cursor(&self, pull_id: &str, c: &DeliveryCursor, read: u64) -> Named {
        let item = Item::new(self.pull_pk(pull_id), keys::cursor_sk(&c.webhook_id), read + 1, encode(c));
        Named { write: Write::Put { item, cond: Cond::read_at(read) }, conflict: Conflict::CursorChanged }
    }

    /// Records one delivery attempt.
    pub fn record_attempt(&self, pull_id: &str, a: &Attempt) -> Named {
        let sk = keys::attempt_sk(a.sequence, &a.webhook_id, a.attempted_at.timestamp_micros());
        let item = Item::new(self.pull_pk(pull_id), sk, 1, encode(a))
            .expiring(a.attempted_at + chrono::Duration::days(ATTEMPT_DAYS));
        Named { write: Write::Put { item, cond: Cond::Any }, conflict: Conflict::AttemptExists }
    }

    /// Asks for a redelivery, replacing an open request for the same event and endpoint.
    pub fn request_redelivery(&self, pull_id: &str, r: &Redelivery) -> Named {
        let item = Item::new(self.pull_pk(pull_id), keys::redelivery_sk(r.sequence, &r.webhook_id), 1, encode(r));
        Named { write: Write::Put { item, cond: Cond::Any }, conflict: Conflict::RedeliveryChanged }
    }

    /// A redelivery request after a failed attempt, over the one read at `read`.
    pub fn update_redelivery(&self, pull_id: &str, r: &Redelivery, read: u64) -> Named {
        let sk = keys::redelivery_sk(r.sequence, &r.webhook_id);
        let item = Item::new(self.pull_pk(pull_id), sk, read + 1, encode(r));
        Named { write: Write::Put { item, cond: Cond::Version(read) }, conflict: Conflict::RedeliveryChanged }
    }

    /// Removes a redelivery request (done, given up, or naming something gone), as read at `read`.
    pub fn delete_redelivery(&self, pull_id: &str, r: &Redelivery, read: u64) -> Named {
        Named {
            write: Write::Delete {
                pk: self.pull_pk(pull_id),
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
