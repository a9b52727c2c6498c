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
//! | webhook event | `<subject>` | `EV#<seq:06>` | - |
//! | delivery cursor per endpoint | `<subject>` | `WH#<webhook>` | - |
//! | delivery attempt | `<subject>` | `AT#<seq:06>#<webhook>#<µs:015>` | - |
//! | redelivery request | `<subject>` | `RD#<seq:06>#<webhook>` | - |
//! | webhook endpoint | `T#<t>#WEBHOOKS` | `WH#<id>` | - |
//! | worker job (one per pull) | `JOB#<t>#<p>` | `JOB` | `JOBS` / `<due ms:015>#<t>#<p>` |
//! | worker job (one per import batch `<b>`) | `JOB#<t>#IMP#B#<b>` | `JOB` | `JOBS` / `<due ms:015>#<t>#IMP#B#<b>` |
//!
//! `<subject>` is the partition of whom the events are about: a pull's `T#<t>#P#<p>`, or an import
//! batch's own `T#<t>#IMP#B#<b>` (whose batch items `import::repo` owns).
//! | sandbox carrier account | `T#<t>#SANDBOX#<digest>` | `S` | - |
//! | connect token (expires; used once) | `T#<t>#CT#<sha256 of the token>` | `CT` | - |
//!
//! The own-policies connector logs in through the accounts' online access
//! (`T#<t>#ONLINE#<digest>` / `U`), which `accounts::repo` owns.
//!
//! The layout is told once, here; its spelling lives in `repo/keys.rs`, the webhook items and
//! writes in `repo/webhooks.rs`, the worker's jobs in `repo/jobs.rs`.

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::model::{
    event_body, ConnectToken, Consent, Event, EventType, Pull, PullStatus, ServicingAction, Subject, MAX_ACTIONS,
};
use crate::crypto::Sealed;
use crate::store::{Cond, Item, Store, StoreError, Write, MAX_PAGE};
use crate::types::TeamId;

/// The job a table stream record names, by its partition key: `(team, subject)`, or `None` when
/// the key is no job's. The key format is this repo's alone.
pub fn job_of_key(pk: &str) -> Option<(TeamId, Subject)> {
    keys::job_of(pk)
}

/// The partition of a subject's webhook events, for the import's key check.
pub fn events_partition(team: &TeamId, s: &Subject) -> String {
    keys::events_pk(team, s)
}

mod jobs;
mod keys;
mod webhooks;

pub(crate) use jobs::due_jobs;
pub use webhooks::{batch_event, ATTEMPT_DAYS};

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
    /// A new connect token's digest is taken (never, with random tokens; named for completeness).
    #[error("the connect token exists already")]
    ConnectTokenExists,
    /// The connect token was used (or expired) since it was read: it admits one pull only.
    #[error("the connect token was used meanwhile")]
    ConnectTokenUsed,
}

/// A write of this area with the [`Conflict`] its failed condition means.
pub(crate) type Named = crate::store::Named<Conflict>;

/// A change to one pull, committed as one transaction by [`Repo::commit_pull`].
pub(crate) struct PullChange {
    pub pull: Pull,
    /// The version read (0 for a new pull).
    pub version: u64,
    /// Actions written, with the version each was read at (0 for new ones).
    pub actions: Vec<(ServicingAction, u64)>,
    /// Webhook events of a state the change passes through on its way, each told with the
    /// pull's status at that point (a login's `AUTH_STATUS` when the same save also prepares the
    /// first action): numbered first.
    pub earlier: Vec<(PullStatus, EventType, Value)>,
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
        PullChange { pull, version, actions: vec![], earlier: vec![], events: vec![], extra: vec![], poke: false }
    }
}

/// Where a servicing action lives, stored under its id.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct ActionPointer {
    pub pull_id: String,
    pub position: u32,
}

/// Item bodies are plain data: encoding cannot fail for them.
fn encode<T: Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

fn versioned<T: DeserializeOwned>(item: &Item) -> Result<(T, u64), StoreError> {
    Ok((item.decode()?, item.version))
}

/// A pull with its version, and its actions in position order with theirs.
pub(crate) type PullAndActions = ((Pull, u64), Vec<(ServicingAction, u64)>);

/// One team's servicing items in the store.
#[derive(Clone, Copy)]
pub(crate) struct Repo<'a> {
    pub store: &'a dyn Store,
    pub team: &'a TeamId,
}

impl Repo<'_> {
    fn pull_pk(&self, pull_id: &str) -> String {
        keys::pull_pk(self.team, pull_id)
    }

    fn events_pk(&self, s: &Subject) -> String {
        keys::events_pk(self.team, s)
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

    /// The pull with its version and its actions in position order, each with its version: one
    /// strongly consistent query of the partition from `PULL` to the last action (the pull's
    /// redelivery requests, which sort between them, are skipped).
    pub async fn pull_with_actions(&self, pull_id: &str) -> Result<Option<PullAndActions>, StoreError> {
        let pk = self.pull_pk(pull_id);
        let last = format!("{}~", keys::ACTION_PREFIX);
        let (mut pull, mut actions, mut after) = (None, Vec::new(), None);
        loop {
            let page = self.store.query_between(&pk, (keys::PULL_SK, &last), after.as_ref(), MAX_PAGE).await?;
            for item in &page.items {
                if item.sk == keys::PULL_SK {
                    pull = Some(versioned(item)?);
                } else if item.sk.starts_with(keys::ACTION_PREFIX) {
                    actions.push(versioned(item)?);
                }
            }
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        Ok(pull.map(|p| (p, actions)))
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

    /// The sandbox carrier account of a username's digest, and its version.
    pub async fn sandbox_account<T: DeserializeOwned>(&self, digest: &str) -> Result<Option<(T, u64)>, StoreError> {
        self.get(&keys::sandbox_account(self.team, digest), keys::SANDBOX_SK).await
    }

    /// The unexpired, unused connect token with this digest, and its version.
    pub async fn connect_token(&self, digest: &str) -> Result<Option<(ConnectToken, u64)>, StoreError> {
        self.get(&keys::connect_token(self.team, digest), keys::CONNECT_TOKEN_SK).await
    }

    /// Every item of a subject's event partition under a sort-key prefix, a page at a time.
    async fn all(&self, s: &Subject, prefix: &str) -> Result<Vec<Item>, StoreError> {
        let pk = self.events_pk(s);
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
        Named { write: Write::Put { item, cond: Cond::read_at(read) }, conflict: Conflict::PullChanged }
    }

    /// An action at `read + 1`, over the one read at `read` (0: a new action).
    fn put_action(&self, a: &ServicingAction, read: u64) -> Named {
        let item = Item::new(self.pull_pk(&a.pull_id), keys::action_sk(a.position), read + 1, encode(a));
        Named { write: Write::Put { item, cond: Cond::read_at(read) }, conflict: Conflict::ActionChanged }
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
        Named { write: Write::Put { item, cond: Cond::read_at(read) }, conflict: Conflict::CredentialsChanged }
    }

    /// A sandbox carrier account over the one read at `read` (`None`: a new one).
    pub fn put_sandbox_account(&self, digest: &str, body: Value, read: Option<u64>) -> Named {
        let item = Item::new(keys::sandbox_account(self.team, digest), keys::SANDBOX_SK, read.unwrap_or(0) + 1, body);
        Named {
            write: Write::Put { item, cond: read.map_or(Cond::Absent, Cond::Version) },
            conflict: Conflict::SandboxAccountChanged,
        }
    }

    /// A new connect token under its digest, gone (to every read and condition) at its expiry.
    pub fn put_connect_token(&self, digest: &str, t: &ConnectToken) -> Named {
        let item = Item::new(keys::connect_token(self.team, digest), keys::CONNECT_TOKEN_SK, 1, encode(t))
            .expiring(t.expires_at);
        Named { write: Write::Put { item, cond: Cond::Absent }, conflict: Conflict::ConnectTokenExists }
    }

    /// Uses up the connect token read at `read`: deleted in the transaction that creates its pull,
    /// so two pulls can never come from one token.
    pub fn use_connect_token(&self, digest: &str, read: u64) -> Named {
        let write = Write::Delete {
            pk: keys::connect_token(self.team, digest),
            sk: keys::CONNECT_TOKEN_SK.into(),
            cond: Cond::Version(read),
        };
        Named { write, conflict: Conflict::ConnectTokenUsed }
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
        debug_assert_eq!(&c.pull.team_id, self.team);
        c.pull.updated_at = now;
        let mut events = Vec::new();
        let told = c.earlier.iter().map(|(s, t, d)| (Some(*s), t, d)).chain(c.events.iter().map(|(t, d)| (None, t, d)));
        for (status, t, data) in told {
            let seq = c.pull.next_event;
            c.pull.next_event += 1;
            let event_id = format!("{}.{seq}", c.pull.pull_id);
            let body = match status {
                Some(s) => event_body(&Pull { status: s, ..c.pull.clone() }, &event_id, seq, *t, data, now),
                None => event_body(&c.pull, &event_id, seq, *t, data, now),
            };
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
            writes.push(self.poke_job(&Subject::Pull(c.pull.pull_id.clone()), now));
        }
        let ended: Vec<&'static str> =
            c.actions.iter().filter(|(a, _)| a.status.is_final()).map(|(a, _)| a.status.code()).collect();
        let committed = self.commit(writes).await?;
        if committed.is_ok() {
            let about = [("team", self.team.as_str()), ("pull_id", c.pull.pull_id.as_str())];
            for outcome in ended {
                crate::metrics::count("ServicingActions", "outcome", outcome, 1, &about);
            }
        }
        Ok(committed.map(|()| c.pull))
    }
}
