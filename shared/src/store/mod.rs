//! The storage port: a small conditional item store shaped like DynamoDB's single-table model.
//!
//! Every backend (the embedded [`embedded::EmbeddedStore`] and the `coverdesk-dynamo` crate's
//! `DynamoStore`, linked only by the functions that use it) gives the same guarantees, checked by one contract suite (`tests/store_contract.rs`):
//! - items live under a partition key `pk` and sort key `sk`, and carry a `version` and a JSON body;
//! - `query` returns one partition's items whose `sk` starts with a prefix, in `sk` order, paged
//!   (`query_between`: whose `sk` is in a range);
//! - `query_index` returns items by their secondary key (`index_pk`, ordered by `index_sk`) in the
//!   first index, `query_index_in` in either ([`Index`]): an item may be listed in both at once;
//! - `transact` applies up to [`MAX_TRANSACT_ITEMS`] conditional writes all or nothing, and names the
//!   first write whose condition failed;
//! - `next_sequence` hands out increasing numbers, never the same one twice.
//!
//! All business rules live above this port; a backend only stores.

use async_trait::async_trait;
use serde_json::Value;

/// DynamoDB's TransactWriteItems takes at most 100 actions; the embedded backend enforces the
/// same bound so that no rule can come to depend on a larger transaction.
pub const MAX_TRANSACT_ITEMS: usize = 100;

/// The longest page a query returns; callers ask for less.
pub const MAX_PAGE: usize = 1000;

/// A stored item.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub pk: String,
    pub sk: String,
    /// Bumped by the writer on every change; conditions compare it.
    pub version: u64,
    /// Secondary index keys, when the item is listed in the first index ([`Index::First`]).
    pub index: Option<IndexKey>,
    /// Its keys in the second index ([`Index::Second`]), when it is listed there too.
    pub index2: Option<IndexKey>,
    pub body: Value,
    /// When a transient item (a client transaction id, a merge record, a delivery attempt)
    /// expires, in Unix seconds: from then on every read treats it as absent, and DynamoDB's TTL
    /// deletes it (within about two days; the embedded store keeps it, unseen). Conditions treat
    /// it as absent too.
    pub expires_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexKey {
    pub pk: String,
    pub sk: String,
}

impl Item {
    /// The body read back as `T`; a body that does not fit is [`StoreError::Corrupt`], never
    /// skipped. The one decoder of every area's items.
    pub fn decode<T: serde::de::DeserializeOwned>(&self) -> Result<T, StoreError> {
        // Read from the body in place: no copy of the whole body first.
        T::deserialize(&self.body).map_err(|e| StoreError::Corrupt {
            pk: self.pk.clone(),
            sk: self.sk.clone(),
            reason: e.to_string(),
        })
    }

    pub fn new(pk: impl Into<String>, sk: impl Into<String>, version: u64, body: Value) -> Self {
        Item { pk: pk.into(), sk: sk.into(), version, index: None, index2: None, body, expires_at: None }
    }

    /// The item expires at `at` (see [`Item::expires_at`]).
    pub fn expiring(mut self, at: chrono::DateTime<chrono::Utc>) -> Self {
        self.expires_at = Some(at.timestamp());
        self
    }

    /// Whether a read at `now` (Unix seconds) sees the item.
    pub fn is_live(&self, now: i64) -> bool {
        self.expires_at.is_none_or(|at| at > now)
    }

    pub fn with_index(mut self, pk: impl Into<String>, sk: impl Into<String>) -> Self {
        self.index = Some(IndexKey { pk: pk.into(), sk: sk.into() });
        self
    }

    /// The item listed in the second index too.
    pub fn with_index2(mut self, pk: impl Into<String>, sk: impl Into<String>) -> Self {
        self.index2 = Some(IndexKey { pk: pk.into(), sk: sk.into() });
        self
    }

    /// Its keys in `index`, if it is listed there.
    pub fn index_key(&self, index: Index) -> Option<&IndexKey> {
        match index {
            Index::First => self.index.as_ref(),
            Index::Second => self.index2.as_ref(),
        }
    }
}

/// The table's two secondary indexes (DynamoDB's `gsi1` and `gsi2`, every attribute projected).
/// The first lists every area's items (accounts by team, jobs by due time, ...); the second is
/// sparse, for an item that needs a second order beside its first: an imported transaction by the
/// month its office files it in (the tax report), beside its invoice number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Index {
    First,
    Second,
}

/// What must hold of the stored item before a write applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cond {
    /// No condition.
    Any,
    /// The item must not exist.
    Absent,
    /// The item must exist.
    Exists,
    /// The item must exist with exactly this version.
    Version(u64),
}

impl Cond {
    /// The condition of a write over what was read at `version`: absent when nothing was (0),
    /// else still at that version.
    pub fn read_at(version: u64) -> Cond {
        if version == 0 {
            Cond::Absent
        } else {
            Cond::Version(version)
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Write {
    Put { item: Item, cond: Cond },
    Delete { pk: String, sk: String, cond: Cond },
    Check { pk: String, sk: String, cond: Cond },
}

impl Write {
    pub fn key(&self) -> (&str, &str) {
        match self {
            Write::Put { item, .. } => (&item.pk, &item.sk),
            Write::Delete { pk, sk, .. } | Write::Check { pk, sk, .. } => (pk, sk),
        }
    }

    pub fn cond(&self) -> Cond {
        match self {
            Write::Put { cond, .. } | Write::Delete { cond, .. } | Write::Check { cond, .. } => *cond,
        }
    }
}

/// Where a query page ended; hand it back to continue after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub pk: String,
    pub sk: String,
    /// Set for index queries.
    pub index_sk: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct Page {
    pub items: Vec<Item>,
    /// Present when more items may follow.
    pub next: Option<Cursor>,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The condition of write number `index` (0-based, in the order given) did not hold; nothing
    /// was written.
    #[error("condition failed on write {index}")]
    ConditionFailed { index: usize },
    /// Another transaction touched the same items at the same time; nothing was written and the
    /// whole operation may be retried.
    #[error("transaction conflict")]
    Contention,
    /// The store is throttling or out of reach; nothing is known to have been written.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// A caller bug: too many writes, one item twice, a key with a NUL byte, ...
    #[error("invalid store request: {0}")]
    Invalid(String),
    /// Stored data that cannot be read back: never silently skipped.
    #[error("corrupt item {pk}/{sk}: {reason}")]
    Corrupt { pk: String, sk: String, reason: String },
    #[error("store failure: {0}")]
    Backend(String),
}

#[async_trait]
pub trait Store: Send + Sync {
    /// A strongly consistent read of one item.
    async fn get(&self, pk: &str, sk: &str) -> Result<Option<Item>, StoreError>;

    /// Items of partition `pk` whose sort key starts with `sk_prefix`, in sort-key order, after
    /// `after` when given, at most `limit` (capped at [`MAX_PAGE`]).
    async fn query(&self, pk: &str, sk_prefix: &str, after: Option<&Cursor>, limit: usize) -> Result<Page, StoreError>;

    /// Items of partition `pk` whose sort key is between `first` and `last` (both included), in
    /// sort-key order, after `after` when given, at most `limit` (capped at [`MAX_PAGE`]):
    /// neighbouring kinds of one partition read in one request.
    async fn query_between(
        &self,
        pk: &str,
        first_last: (&str, &str),
        after: Option<&Cursor>,
        limit: usize,
    ) -> Result<Page, StoreError>;

    /// Items whose key in `index` has partition `index_pk`, in that index's sort-key order.
    /// Eventually consistent in DynamoDB: a caller that must see its own write reads the item by
    /// key.
    async fn query_index_in(
        &self,
        index: Index,
        index_pk: &str,
        after: Option<&Cursor>,
        limit: usize,
    ) -> Result<Page, StoreError>;

    /// [`Store::query_index_in`] the first index.
    async fn query_index(&self, index_pk: &str, after: Option<&Cursor>, limit: usize) -> Result<Page, StoreError> {
        self.query_index_in(Index::First, index_pk, after, limit).await
    }

    /// Applies every write or none.
    async fn transact(&self, writes: Vec<Write>) -> Result<(), StoreError>;

    /// Applies each write on its own, its condition checked for it alone: the outcome of each,
    /// in the order given (a failed condition is `ConditionFailed { index: 0 }`, its write's
    /// own). Not all or none: a crash may leave any of them applied. For writes that need no
    /// partner, at the write units of single writes (a DynamoDB transaction bills every item
    /// twice): DynamoDB sends each as its own request, a few at a time; the embedded store
    /// commits them together. One by one here, for stores that need nothing better.
    async fn write_each(&self, writes: Vec<Write>) -> Vec<Result<(), StoreError>> {
        let mut out = Vec::with_capacity(writes.len());
        for w in writes {
            out.push(self.transact(vec![w]).await);
        }
        out
    }

    /// Reserves `count` consecutive numbers of the counter at (`pk`, `sk`) and returns the first.
    /// Counters start at 1.
    async fn next_sequence(&self, pk: &str, sk: &str, count: u64) -> Result<u64, StoreError>;

    /// The counter at (`pk`, `sk`) as it stands: the last number reserved, 0 before any.
    async fn sequence(&self, pk: &str, sk: &str) -> Result<u64, StoreError>;
}

/// Checks that a transaction is one DynamoDB would accept: 1..=100 writes, each item at most once.
pub fn validate_transaction(writes: &[Write]) -> Result<(), StoreError> {
    if writes.is_empty() || writes.len() > MAX_TRANSACT_ITEMS {
        return Err(StoreError::Invalid(format!(
            "a transaction takes 1 to {MAX_TRANSACT_ITEMS} writes, not {}",
            writes.len()
        )));
    }
    let mut seen = std::collections::HashSet::with_capacity(writes.len());
    for w in writes {
        let (pk, sk) = w.key();
        validate_key(pk, sk)?;
        if !seen.insert((pk, sk)) {
            return Err(StoreError::Invalid(format!("item {pk}/{sk} appears twice in one transaction")));
        }
    }
    Ok(())
}

/// A write and what its failed condition means to the area that asked for it (each area's
/// repository names its own conflicts).
#[derive(Debug, Clone)]
pub struct Named<C> {
    pub write: Write,
    pub conflict: C,
}

/// Applies the writes in one transaction: `Ok(Err(conflict))` is the meaning of the write whose
/// condition failed, never its index. Every repository commits through this.
pub async fn transact_named<C: Copy>(store: &dyn Store, writes: Vec<Named<C>>) -> Result<Result<(), C>, StoreError> {
    let conflicts: Vec<C> = writes.iter().map(|w| w.conflict).collect();
    match store.transact(writes.into_iter().map(|w| w.write).collect()).await {
        Ok(()) => Ok(Ok(())),
        Err(StoreError::ConditionFailed { index }) => match conflicts.get(index) {
            Some(c) => Ok(Err(*c)),
            None => Err(StoreError::ConditionFailed { index }),
        },
        Err(e) => Err(e),
    }
}

/// How long to wait before retrying a write that lost a race: `base_ms` doubled per earlier retry
/// (`doublings` of them, capped at `max_doublings`), plus up to `jitter_ms` of random jitter so
/// writers that collided do not collide again in lockstep. The one backoff of every
/// optimistic-concurrency retry (the DynamoDB adapter's cancelled transactions, the accounts
/// area's version races).
pub async fn backoff(base_ms: u64, doublings: u32, max_doublings: u32, jitter_ms: u8) {
    let mut b = [0u8; 1];
    let _ = getrandom::fill(&mut b);
    let ms = (base_ms << doublings.min(max_doublings)) + u64::from(b[0] % jitter_ms.max(1));
    tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
}

/// DynamoDB's key limits, enforced by every adapter so no rule can depend on more.
pub const MAX_PK_BYTES: usize = 2048;
pub const MAX_SK_BYTES: usize = 1024;

pub fn validate_key(pk: &str, sk: &str) -> Result<(), StoreError> {
    if pk.is_empty() || sk.is_empty() || pk.contains('\0') || sk.contains('\0') {
        return Err(StoreError::Invalid("keys are non-empty and hold no NUL byte".into()));
    }
    if pk.len() > MAX_PK_BYTES || sk.len() > MAX_SK_BYTES {
        return Err(StoreError::Invalid(format!(
            "a partition key holds at most {MAX_PK_BYTES} bytes and a sort key {MAX_SK_BYTES}"
        )));
    }
    Ok(())
}

/// The store of a function that keeps no data (carriers-list and carriers-get): a use is a bug,
/// answered as a failure on our side that names it, never a panic.
pub struct NoStore;

impl NoStore {
    fn refuse() -> StoreError {
        StoreError::Backend("this function has no store (a bug: its route uses one)".into())
    }
}

#[async_trait]
impl Store for NoStore {
    async fn get(&self, _: &str, _: &str) -> Result<Option<Item>, StoreError> {
        Err(Self::refuse())
    }
    async fn query(&self, _: &str, _: &str, _: Option<&Cursor>, _: usize) -> Result<Page, StoreError> {
        Err(Self::refuse())
    }
    async fn query_between(&self, _: &str, _: (&str, &str), _: Option<&Cursor>, _: usize) -> Result<Page, StoreError> {
        Err(Self::refuse())
    }
    async fn query_index_in(&self, _: Index, _: &str, _: Option<&Cursor>, _: usize) -> Result<Page, StoreError> {
        Err(Self::refuse())
    }
    async fn transact(&self, _: Vec<Write>) -> Result<(), StoreError> {
        Err(Self::refuse())
    }
    async fn next_sequence(&self, _: &str, _: &str, _: u64) -> Result<u64, StoreError> {
        Err(Self::refuse())
    }
    async fn sequence(&self, _: &str, _: &str) -> Result<u64, StoreError> {
        Err(Self::refuse())
    }
}
