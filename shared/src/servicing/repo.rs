//! Why one file of ~560 lines: every key, item and write of the area in one place, next to the
//! one key layout below.
//!
//! The servicing area's repository: its keys, its items and its writes, over the generic store
//! port. Service code asks for named writes ([`Named`]) and commits them together; a failed
//! condition comes back as the [`Conflict`] it means, never as an index into the transaction.
//!
//! Key layout (same table as the accounts; `<t>` team id, `<p>` pull id):
//!
//! | item | pk | sk | index (gsi1) |
//! |---|---|---|---|
//! | pull | `T#<t>#P#<p>` | `PULL` | `T#<t>#PULLS` / `<created>#<p>` |
//! | consent record | `T#<t>#P#<p>` | `CONSENT` | - |
//! | sealed credentials + session | `T#<t>#P#<p>` | `CRED` | - |
//! | servicing action | `T#<t>#P#<p>` | `SA#<position:03>` | - |
//! | action pointer (get by id) | `T#<t>#SA#<id>` | `SA` | `T#<t>#SERVICINGS` / `<created>#<position:03>#<id>` |
//! | webhook event | `T#<t>#P#<p>` | `EV#<seq:06>` | - |
//! | delivery cursor per endpoint | `T#<t>#P#<p>` | `WH#<webhook>` | - |
//! | delivery attempt | `T#<t>#P#<p>` | `AT#<seq:06>#<webhook>#<µs:015>` | - |
//! | redelivery request | `T#<t>#P#<p>` | `RD#<seq:06>#<webhook>` | - |
//! | webhook endpoint | `T#<t>#WEBHOOKS` | `WH#<id>` | - |
//! | worker job (one per pull) | `JOB#<t>#<p>` | `JOB` | `JOBS` / `<due ms:015>#<t>#<p>` |
//! | sandbox carrier account | `T#<t>#SANDBOX#<digest>` | `S` | - |
//!
//! The own-policies connector logs in through the accounts' online access
//! (`T#<t>#ONLINE#<digest>` / `U`), which `accounts::repo` owns.

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::model::{
    event_body, Attempt, Consent, DeliveryCursor, Event, EventType, Pull, Redelivery, ServicingAction, Webhook,
    MAX_ACTIONS, MAX_WEBHOOKS,
};
use crate::crypto::Sealed;
use crate::store::{Cond, Item, Store, StoreError, Write};

/// The job a table stream record names, by its partition key: `(team, pull)`, or `None` when the
/// key is no job's. The key format is this repo's alone.
pub fn job_of_key(pk: &str) -> Option<(String, String)> {
    keys::job_of(pk)
}

mod keys {
    use chrono::{DateTime, Utc};

    pub fn pull_pk(team: &str, pull: &str) -> String {
        format!("T#{team}#P#{pull}")
    }
    pub const PULL_SK: &str = "PULL";
    pub const CONSENT_SK: &str = "CONSENT";
    pub const CRED_SK: &str = "CRED";
    pub fn pulls_index(team: &str) -> String {
        format!("T#{team}#PULLS")
    }
    pub fn pull_index_sk(created: DateTime<Utc>, pull: &str) -> String {
        format!("{}#{pull}", created.to_rfc3339())
    }
    pub const ACTION_PREFIX: &str = "SA#";
    pub fn action_sk(position: u32) -> String {
        format!("SA#{position:03}")
    }
    pub fn action_pointer(team: &str, id: &str) -> String {
        format!("T#{team}#SA#{id}")
    }
    pub const POINTER_SK: &str = "SA";
    pub fn servicings_index(team: &str) -> String {
        format!("T#{team}#SERVICINGS")
    }
    pub fn servicing_index_sk(created: DateTime<Utc>, position: u32, id: &str) -> String {
        format!("{}#{position:03}#{id}", created.to_rfc3339())
    }
    pub const EVENT_PREFIX: &str = "EV#";
    pub fn event_sk(seq: u64) -> String {
        format!("EV#{seq:06}")
    }
    pub fn cursor_sk(webhook: &str) -> String {
        format!("WH#{webhook}")
    }
    pub const ATTEMPT_PREFIX: &str = "AT#";
    pub fn attempt_sk(seq: u64, webhook: &str, micros: i64) -> String {
        format!("AT#{seq:06}#{webhook}#{micros:015}")
    }
    pub const REDELIVERY_PREFIX: &str = "RD#";
    pub fn redelivery_sk(seq: u64, webhook: &str) -> String {
        format!("RD#{seq:06}#{webhook}")
    }
    pub fn webhooks_pk(team: &str) -> String {
        format!("T#{team}#WEBHOOKS")
    }
    pub const WEBHOOK_PREFIX: &str = "WH#";
    pub fn webhook_sk(id: &str) -> String {
        format!("WH#{id}")
    }
    pub fn job_pk(team: &str, pull: &str) -> String {
        format!("JOB#{team}#{pull}")
    }
    /// The team and pull of a job's partition key (`JOB#<team>#<pull>`), as a table stream names it.
    pub fn job_of(pk: &str) -> Option<(String, String)> {
        let (team, pull) = pk.strip_prefix("JOB#")?.split_once('#')?;
        (!team.is_empty() && !pull.is_empty()).then(|| (team.to_string(), pull.to_string()))
    }
    pub const JOB_SK: &str = "JOB";
    pub const JOBS_INDEX: &str = "JOBS";
    pub fn job_index_sk(due_ms: i64, team: &str, pull: &str) -> String {
        format!("{:015}#{team}#{pull}", due_ms.max(0))
    }
    pub fn sandbox_account(team: &str, digest: &str) -> String {
        format!("T#{team}#SANDBOX#{digest}")
    }
    pub const SANDBOX_SK: &str = "S";
}

/// What a failed condition in a servicing transaction means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Conflict {
    /// The pull changed (or appeared) since it was read: another writer got there first.
    #[error("the pull changed meanwhile")]
    PullChanged,
    /// A servicing action changed (or appeared) since it was read.
    #[error("the servicing action changed meanwhile")]
    ActionChanged,
    /// A webhook event's sequence number was taken meanwhile.
    #[error("the webhook event exists already")]
    EventExists,
    /// A new servicing action's id is taken (never, with random ids; named for completeness).
    #[error("the servicing action id is taken")]
    PointerExists,
    /// A new pull's consent record exists already.
    #[error("the consent record exists already")]
    ConsentExists,
    /// The sealed credentials changed since they were read.
    #[error("the credentials changed meanwhile")]
    CredentialsChanged,
    /// A new webhook's id is taken (never, with random ids; named for completeness).
    #[error("the webhook exists already")]
    WebhookExists,
    /// A webhook endpoint changed (or went) since it was read.
    #[error("the webhook changed meanwhile")]
    WebhookChanged,
    /// An endpoint's delivery cursor moved since it was read: another run delivered.
    #[error("the delivery cursor moved meanwhile")]
    CursorChanged,
    /// A delivery attempt under the same key (never: attempts are written unconditionally).
    #[error("the delivery attempt exists already")]
    AttemptExists,
    /// A redelivery request changed (was asked for again) since it was read.
    #[error("the redelivery request changed meanwhile")]
    RedeliveryChanged,
    /// A pull's job was claimed by another worker or poked since it was read.
    #[error("the job was claimed or poked meanwhile")]
    JobChanged,
    /// A sandbox carrier account changed since it was read.
    #[error("the sandbox account changed meanwhile")]
    SandboxAccountChanged,
}

/// How long a webhook delivery attempt stays in the event log (then TTL removes it).
pub const ATTEMPT_DAYS: i64 = 90;

/// A write of this area with the [`Conflict`] its failed condition means.
pub(crate) type Named = crate::store::Named<Conflict>;

/// A change to one pull, committed as one transaction by [`Repo::commit_pull`].
pub(crate) struct PullChange {
    pub pull: Pull,
    /// The version read (0 for a new pull).
    pub version: u64,
    /// Actions written, with the version each was read at (0 for new ones).
    pub actions: Vec<(ServicingAction, u64)>,
    /// Webhook events the change causes, numbered from the pull's next sequence.
    pub events: Vec<(EventType, Value)>,
    /// Further writes of the same transaction (credentials, consent, pointers).
    pub extra: Vec<Named>,
    /// Whether the worker has something to do now.
    pub poke: bool,
}

impl PullChange {
    /// A change to `pull` (read at `version`) alone: no action, event or other write, no poke.
    pub fn of(pull: Pull, version: u64) -> PullChange {
        PullChange { pull, version, actions: vec![], events: vec![], extra: vec![], poke: false }
    }
}

/// Where a servicing action lives, stored under its id.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct ActionPointer {
    pub pull_id: String,
    pub position: u32,
}

/// A pull's worker job: due at `due_ms`, leased to a worker until `lease_until_ms`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Job {
    pub team_id: String,
    pub pull_id: String,
    pub due_ms: i64,
    pub lease_until_ms: i64,
}

/// Item bodies are plain data: encoding cannot fail for them.
fn encode<T: Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

fn versioned<T: DeserializeOwned>(item: &Item) -> Result<(T, u64), StoreError> {
    Ok((item.decode()?, item.version))
}

fn expect_of(version: u64) -> Cond {
    if version == 0 {
        Cond::Absent
    } else {
        Cond::Version(version)
    }
}

/// The jobs due by `now`, from one page of the job index (a later sweep takes the rest).
pub(crate) async fn due_jobs(store: &dyn Store, now: DateTime<Utc>) -> Result<Vec<Job>, StoreError> {
    let limit = keys::job_index_sk(now.timestamp_millis(), "~", "~");
    let page = store.query_index(keys::JOBS_INDEX, None, 200).await?;
    page.items.iter().filter(|i| i.index.as_ref().is_some_and(|x| x.sk <= limit)).map(Item::decode).collect()
}

/// One team's servicing items in the store.
#[derive(Clone, Copy)]
pub(crate) struct Repo<'a> {
    pub store: &'a dyn Store,
    pub team: &'a str,
}

impl Repo<'_> {
    fn pull_pk(&self, pull_id: &str) -> String {
        keys::pull_pk(self.team, pull_id)
    }

    /// One item, decoded, with its version.
    async fn get<T: DeserializeOwned>(&self, pk: &str, sk: &str) -> Result<Option<(T, u64)>, StoreError> {
        self.store.get(pk, sk).await?.as_ref().map(versioned).transpose()
    }

    // ---- reads ----

    /// The pull and its version.
    pub async fn pull(&self, pull_id: &str) -> Result<Option<(Pull, u64)>, StoreError> {
        self.get(&self.pull_pk(pull_id), keys::PULL_SK).await
    }

    /// The pull's actions in position order, each with its version.
    pub async fn actions(&self, pull_id: &str) -> Result<Vec<(ServicingAction, u64)>, StoreError> {
        let page = self.store.query(&self.pull_pk(pull_id), keys::ACTION_PREFIX, None, MAX_ACTIONS + 1).await?;
        page.items.iter().map(versioned).collect()
    }

    /// The action at `position` of a pull.
    pub async fn action_at(&self, pull_id: &str, position: u32) -> Result<Option<ServicingAction>, StoreError> {
        Ok(self.get(&self.pull_pk(pull_id), &keys::action_sk(position)).await?.map(|(v, _)| v))
    }

    /// Where the action with this id lives.
    pub async fn pointer(&self, action_id: &str) -> Result<Option<ActionPointer>, StoreError> {
        Ok(self.get(&keys::action_pointer(self.team, action_id), keys::POINTER_SK).await?.map(|(v, _)| v))
    }

    /// The team's pull count and the pulls `offset..offset + limit`, newest first.
    pub async fn pulls_newest_first(&self, offset: usize, limit: usize) -> Result<(usize, Vec<Pull>), StoreError> {
        self.index_page(&keys::pulls_index(self.team), offset, limit).await
    }

    /// The team's servicing action count and the pointers `offset..offset + limit`, newest first.
    pub async fn pointers_newest_first(
        &self,
        offset: usize,
        limit: usize,
    ) -> Result<(usize, Vec<ActionPointer>), StoreError> {
        self.index_page(&keys::servicings_index(self.team), offset, limit).await
    }

    /// The consent a pull was created under.
    pub async fn consent(&self, pull_id: &str) -> Result<Option<Consent>, StoreError> {
        Ok(self.get(&self.pull_pk(pull_id), keys::CONSENT_SK).await?.map(|(v, _)| v))
    }

    /// A pull's sealed credentials and their version.
    pub async fn credentials(&self, pull_id: &str) -> Result<Option<(Sealed, u64)>, StoreError> {
        self.get(&self.pull_pk(pull_id), keys::CRED_SK).await
    }

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

    /// A pull's worker job and its version.
    pub async fn job(&self, pull_id: &str) -> Result<Option<(Job, u64)>, StoreError> {
        self.get(&keys::job_pk(self.team, pull_id), keys::JOB_SK).await
    }

    /// The sandbox carrier account of a username's digest, and its version.
    pub async fn sandbox_account<T: DeserializeOwned>(&self, digest: &str) -> Result<Option<(T, u64)>, StoreError> {
        self.get(&keys::sandbox_account(self.team, digest), keys::SANDBOX_SK).await
    }

    /// Every item of a pull's partition under a sort-key prefix, a page at a time.
    async fn all(&self, pull_id: &str, prefix: &str) -> Result<Vec<Item>, StoreError> {
        let pk = self.pull_pk(pull_id);
        let mut out = Vec::new();
        let mut after = None;
        loop {
            let page = self.store.query(&pk, prefix, after.as_ref(), 500).await?;
            out.extend(page.items);
            match page.next {
                Some(c) => after = Some(c),
                None => return Ok(out),
            }
        }
    }

    /// The entry count under `index` and the entries `offset..offset + limit`, newest first
    /// (the whole list is read: fine for thousands).
    async fn index_page<T: DeserializeOwned>(
        &self,
        index: &str,
        offset: usize,
        limit: usize,
    ) -> Result<(usize, Vec<T>), StoreError> {
        let mut all = Vec::new();
        let mut after = None;
        loop {
            let page = self.store.query_index(index, after.as_ref(), 500).await?;
            all.extend(page.items);
            match page.next {
                Some(c) => after = Some(c),
                None => break,
            }
        }
        let entries = all.iter().rev().skip(offset).take(limit).map(Item::decode).collect::<Result<_, _>>()?;
        Ok((all.len(), entries))
    }

    // ---- writes ----

    /// The pull at `read + 1`, over the one read at `read` (0: a new pull).
    fn put_pull(&self, p: &Pull, read: u64) -> Named {
        let item = Item::new(self.pull_pk(&p.pull_id), keys::PULL_SK, read + 1, encode(p))
            .with_index(keys::pulls_index(self.team), keys::pull_index_sk(p.created_at, &p.pull_id));
        Named { write: Write::Put { item, cond: expect_of(read) }, conflict: Conflict::PullChanged }
    }

    /// An action at `read + 1`, over the one read at `read` (0: a new action).
    fn put_action(&self, a: &ServicingAction, read: u64) -> Named {
        let item = Item::new(self.pull_pk(&a.pull_id), keys::action_sk(a.position), read + 1, encode(a));
        Named { write: Write::Put { item, cond: expect_of(read) }, conflict: Conflict::ActionChanged }
    }

    /// A new webhook event of a pull (its body frozen).
    fn put_event(&self, pull_id: &str, e: &Event) -> Named {
        let item = Item::new(self.pull_pk(pull_id), keys::event_sk(e.sequence), 1, encode(e));
        Named { write: Write::Put { item, cond: Cond::Absent }, conflict: Conflict::EventExists }
    }

    /// The pointer to a new action, listed in the team's servicings.
    pub fn put_pointer(&self, a: &ServicingAction) -> Named {
        let id = &a.servicing_action_id;
        let pointer = ActionPointer { pull_id: a.pull_id.clone(), position: a.position };
        let item = Item::new(keys::action_pointer(self.team, id), keys::POINTER_SK, 1, encode(&pointer))
            .with_index(keys::servicings_index(self.team), keys::servicing_index_sk(a.created_at, a.position, id));
        Named { write: Write::Put { item, cond: Cond::Absent }, conflict: Conflict::PointerExists }
    }

    /// The consent record of a new pull.
    pub fn put_consent(&self, pull_id: &str, c: &Consent) -> Named {
        let item = Item::new(self.pull_pk(pull_id), keys::CONSENT_SK, 1, encode(c));
        Named { write: Write::Put { item, cond: Cond::Absent }, conflict: Conflict::ConsentExists }
    }

    /// A pull's sealed credentials over the ones read at `read` (0: none yet).
    pub fn put_credentials(&self, pull_id: &str, sealed: &Sealed, read: u64) -> Named {
        let item = Item::new(self.pull_pk(pull_id), keys::CRED_SK, read + 1, encode(sealed));
        Named { write: Write::Put { item, cond: expect_of(read) }, conflict: Conflict::CredentialsChanged }
    }

    /// An endpoint's delivery cursor over the one read at `read` (0: none yet).
    pub fn put_cursor(&self, pull_id: &str, c: &DeliveryCursor, read: u64) -> Named {
        let item = Item::new(self.pull_pk(pull_id), keys::cursor_sk(&c.webhook_id), read + 1, encode(c));
        Named { write: Write::Put { item, cond: expect_of(read) }, conflict: Conflict::CursorChanged }
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
        Named { write: Write::Put { item, cond: expect_of(read) }, conflict }
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

    /// Pokes a pull's job: due at `due`, unleased, at a version no claim can be holding, so a poke
    /// always wins over a claim (whose reschedule then fails and leaves the poked job).
    pub fn poke_job(&self, pull_id: &str, due: DateTime<Utc>) -> Named {
        let due_ms = due.timestamp_millis();
        let version = (Utc::now().timestamp_micros().max(1) as u64) | (1 << 62);
        let job = Job { team_id: self.team.into(), pull_id: pull_id.into(), due_ms, lease_until_ms: 0 };
        Named {
            write: Write::Put { item: self.job_item(&job, version, due_ms), cond: Cond::Any },
            conflict: Conflict::JobChanged,
        }
    }

    /// Claims a job read at `read` until `lease_until` (listed as due then, should the worker die).
    pub fn claim_job(&self, job: &Job, read: u64, lease_until: DateTime<Utc>) -> Named {
        let ms = lease_until.timestamp_millis();
        let claimed = Job { lease_until_ms: ms, ..job.clone() };
        Named {
            write: Write::Put { item: self.job_item(&claimed, read + 1, ms), cond: Cond::Version(read) },
            conflict: Conflict::JobChanged,
        }
    }

    /// Hands back the job claimed at `claimed`, due again at `due`.
    pub fn reschedule_job(&self, pull_id: &str, claimed: u64, due: DateTime<Utc>) -> Named {
        let due_ms = due.timestamp_millis();
        let job = Job { team_id: self.team.into(), pull_id: pull_id.into(), due_ms, lease_until_ms: 0 };
        Named {
            write: Write::Put { item: self.job_item(&job, claimed + 1, due_ms), cond: Cond::Version(claimed) },
            conflict: Conflict::JobChanged,
        }
    }

    /// Removes the job claimed at `claimed`: nothing left to do.
    pub fn finish_job(&self, pull_id: &str, claimed: u64) -> Named {
        Named {
            write: Write::Delete {
                pk: keys::job_pk(self.team, pull_id),
                sk: keys::JOB_SK.into(),
                cond: Cond::Version(claimed),
            },
            conflict: Conflict::JobChanged,
        }
    }

    fn job_item(&self, job: &Job, version: u64, listed_ms: i64) -> Item {
        Item::new(keys::job_pk(self.team, &job.pull_id), keys::JOB_SK, version, encode(job))
            .with_index(keys::JOBS_INDEX, keys::job_index_sk(listed_ms, self.team, &job.pull_id))
    }

    /// A sandbox carrier account over the one read at `read` (`None`: a new one).
    pub fn put_sandbox_account(&self, digest: &str, body: Value, read: Option<u64>) -> Named {
        let item = Item::new(keys::sandbox_account(self.team, digest), keys::SANDBOX_SK, read.unwrap_or(0) + 1, body);
        Named {
            write: Write::Put { item, cond: read.map_or(Cond::Absent, Cond::Version) },
            conflict: Conflict::SandboxAccountChanged,
        }
    }

    /// Applies the writes in one transaction: `Ok(Err(conflict))` names the condition that failed.
    pub async fn commit(&self, writes: Vec<Named>) -> Result<Result<(), Conflict>, StoreError> {
        crate::store::transact_named(self.store, writes).await
    }

    /// Commits a change to one pull: the pull (stamped `now`), its changed actions, the events
    /// it causes (numbered and frozen here), the extra writes and the poke of its job, all or
    /// nothing. Returns the pull as written.
    pub async fn commit_pull(
        &self,
        mut c: PullChange,
        now: DateTime<Utc>,
    ) -> Result<Result<Pull, Conflict>, StoreError> {
        debug_assert_eq!(c.pull.team_id, self.team);
        c.pull.updated_at = now;
        let mut events = Vec::new();
        for (t, data) in &c.events {
            let seq = c.pull.next_event;
            c.pull.next_event += 1;
            let event_id = format!("{}.{seq}", c.pull.pull_id);
            let body = event_body(&c.pull, &event_id, seq, *t, data, now);
            events.push(Event { event_id, sequence: seq, event_type: *t, created_at: now, body });
        }
        let mut writes = vec![self.put_pull(&c.pull, c.version)];
        for (a, read) in &c.actions {
            let mut a = a.clone();
            a.updated_at = now;
            writes.push(self.put_action(&a, *read));
        }
        writes.extend(events.iter().map(|e| self.put_event(&c.pull.pull_id, e)));
        writes.extend(c.extra);
        if c.poke {
            writes.push(self.poke_job(&c.pull.pull_id, now));
        }
        let ended: Vec<&'static str> =
            c.actions.iter().filter(|(a, _)| a.status.is_final()).map(|(a, _)| a.status.code()).collect();
        let committed = self.commit(writes).await?;
        if committed.is_ok() {
            for outcome in ended {
                crate::metrics::count("ServicingActions", "outcome", outcome, 1);
            }
        }
        Ok(committed.map(|()| c.pull))
    }
}
