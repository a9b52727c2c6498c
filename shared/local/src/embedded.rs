//! The embedded backend: one redb file, durable on every commit (fsync), for the local server.
//!
//! Layout: `items` maps `pk \0 sk` to the stored record; `index` (the first index) and `index2`
//! (the second) map `index_pk \0 index_sk \0 pk \0 sk` to nothing; `counters` maps `pk \0 sk` to
//! a number. A
//! transaction is one redb write transaction: every condition is checked, then every write applied,
//! then one commit, so a crash leaves all or nothing.

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use redb::{AccessGuard, Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use coverdesk::store::{
    validate_key, validate_transaction, Cond, Cursor, Index, IndexKey, Item, Page, Store, StoreError, Write, MAX_PAGE,
};

const ITEMS: TableDefinition<&str, &[u8]> = TableDefinition::new("items");
const INDEX: TableDefinition<&str, ()> = TableDefinition::new("index");
const INDEX2: TableDefinition<&str, ()> = TableDefinition::new("index2");

/// The table of an index's entries.
fn index_table(index: Index) -> TableDefinition<'static, &'static str, ()> {
    match index {
        Index::First => INDEX,
        Index::Second => INDEX2,
    }
}
const COUNTERS: TableDefinition<&str, u64> = TableDefinition::new("counters");

#[derive(Serialize, Deserialize)]
struct Stored {
    v: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ipk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    isk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    i2pk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    i2sk: Option<String>,
    body: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ttl: Option<i64>,
}

#[derive(Clone)]
pub struct EmbeddedStore {
    db: Arc<Database>,
}

fn key(pk: &str, sk: &str) -> String {
    format!("{pk}\0{sk}")
}

fn index_key(ipk: &str, isk: &str, pk: &str, sk: &str) -> String {
    format!("{ipk}\0{isk}\0{pk}\0{sk}")
}

fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

fn decode(pk: &str, sk: &str, bytes: &[u8]) -> Result<Item, StoreError> {
    let s: Stored = serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt {
        pk: pk.to_string(),
        sk: sk.to_string(),
        reason: e.to_string(),
    })?;
    let key = |pk: Option<String>, sk: Option<String>| match (pk, sk) {
        (Some(pk), Some(sk)) => Some(IndexKey { pk, sk }),
        _ => None,
    };
    Ok(Item {
        pk: pk.to_string(),
        sk: sk.to_string(),
        version: s.v,
        index: key(s.ipk, s.isk),
        index2: key(s.i2pk, s.i2sk),
        body: s.body,
        expires_at: s.ttl,
    })
}

fn encode(item: &Item) -> Result<Vec<u8>, StoreError> {
    let s = Stored {
        v: item.version,
        ipk: item.index.as_ref().map(|i| i.pk.clone()),
        isk: item.index.as_ref().map(|i| i.sk.clone()),
        i2pk: item.index2.as_ref().map(|i| i.pk.clone()),
        i2sk: item.index2.as_ref().map(|i| i.sk.clone()),
        body: item.body.clone(),
        ttl: item.expires_at,
    };
    serde_json::to_vec(&s).map_err(backend)
}

fn holds(cond: Cond, current: Option<u64>) -> bool {
    match (cond, current) {
        (Cond::Any, _) => true,
        (Cond::Absent, None) => true,
        (Cond::Exists, Some(_)) => true,
        (Cond::Version(want), Some(have)) => want == have,
        _ => false,
    }
}

/// Creates `dir` (and its parents) readable by the owner only, and makes an existing `dir` so:
/// the local data folder holds the store, the deployment key and the documents.
pub fn owner_only_dir(dir: &Path) -> std::io::Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    b.create(dir)?;
    #[cfg(unix)]
    std::fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(0o700))?;
    Ok(())
}

impl EmbeddedStore {
    /// Opens (or creates) the store file at `path`, creating its folder.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let path = path.as_ref();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            owner_only_dir(dir).map_err(backend)?;
        }
        let db = Database::create(path).map_err(|e| match e {
            redb::DatabaseError::DatabaseAlreadyOpen => StoreError::Unavailable(format!(
                "{} is in use by another coverdesk process (is `coverdesk serve` running?)",
                path.display()
            )),
            other => backend(other),
        })?;
        // The store holds every team's data: readable by its owner only.
        #[cfg(unix)]
        std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o600)).map_err(backend)?;
        let tx = db.begin_write().map_err(backend)?;
        {
            tx.open_table(ITEMS).map_err(backend)?;
            tx.open_table(INDEX).map_err(backend)?;
            tx.open_table(INDEX2).map_err(backend)?;
            tx.open_table(COUNTERS).map_err(backend)?;
        }
        tx.commit().map_err(backend)?;
        Ok(EmbeddedStore { db: Arc::new(db) })
    }

    /// A read, run where it is asked for: a redb read takes no lock a writer holds (it reads the
    /// last committed snapshot) and its pages are in memory once read, so it takes microseconds --
    /// less than handing it to a blocking thread and back. Writes, which wait for the disk, go to
    /// one ([`EmbeddedStore::blocking`]).
    fn reading<T>(&self, f: impl FnOnce(&Database) -> Result<T, StoreError>) -> Result<T, StoreError> {
        f(&self.db)
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Database) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || f(&db)).await.map_err(backend)?
    }
}

/// One page of a range scan from `start` (skipped when it is the cursor's own entry) while keys
/// are `within` the range; with `limit` items read and more to come, the cursor is the last
/// item's. Every query (table, range and index) pages through this.
fn scan<E>(
    entries: impl Iterator<Item = Result<E, StoreError>>,
    key_of: impl Fn(&E) -> &str,
    (start, skip_first): (&str, bool),
    within: impl Fn(&str) -> bool,
    limit: usize,
    load: impl Fn(&E) -> Result<Item, StoreError>,
    cursor: impl Fn(&Item) -> Cursor,
) -> Result<Page, StoreError> {
    let mut page = Page::default();
    let now = chrono::Utc::now().timestamp();
    for entry in entries {
        let entry = entry?;
        let k = key_of(&entry);
        if skip_first && k == start {
            continue;
        }
        if !within(k) {
            break;
        }
        if let Some(last) = page.items.last().filter(|_| page.items.len() == limit) {
            page.next = Some(cursor(last));
            break;
        }
        let item = load(&entry)?;
        if item.is_live(now) {
            page.items.push(item);
        }
    }
    Ok(page)
}

type ItemsTable<'t> = redb::Table<'t, &'static str, &'static [u8]>;
type IndexTables<'t> = [redb::Table<'t, &'static str, ()>; 2];

/// The items table and the two indexes' (first, second), open for writing.
fn open_tables(tx: &redb::WriteTransaction) -> Result<(ItemsTable<'_>, IndexTables<'_>), StoreError> {
    let items = tx.open_table(ITEMS).map_err(backend)?;
    let indexes = [tx.open_table(INDEX).map_err(backend)?, tx.open_table(INDEX2).map_err(backend)?];
    Ok((items, indexes))
}

/// The item stored at a key, expired or not (its index entries go with it either way).
fn stored(items: &ItemsTable<'_>, (pk, sk): (&str, &str)) -> Result<Option<Item>, StoreError> {
    match items.get(key(pk, sk).as_str()).map_err(backend)? {
        Some(v) => Ok(Some(decode(pk, sk, v.value())?)),
        None => Ok(None),
    }
}

/// Whether `cond` holds of what is stored: an expired item counts as absent, as on DynamoDB (see
/// `dynamo::condition`).
fn holds_over(cond: Cond, existing: Option<&Item>) -> bool {
    let live = existing.filter(|e| e.is_live(chrono::Utc::now().timestamp()));
    holds(cond, live.map(|e| e.version))
}

/// A put's index keys are keys too: non-empty partition, no NUL byte.
fn check_index_keys(w: &Write) -> Result<(), StoreError> {
    let Write::Put { item, .. } = w else { return Ok(()) };
    for which in [Index::First, Index::Second] {
        if let Some(ik) = item.index_key(which) {
            if ik.pk.contains('\0') || ik.sk.contains('\0') || ik.pk.is_empty() {
                return Err(StoreError::Invalid("bad index key".into()));
            }
        }
    }
    Ok(())
}

/// Applies a write whose condition held over `existing`: the item and its index entries replaced
/// or removed.
fn apply(
    items: &mut ItemsTable<'_>,
    indexes: &mut IndexTables<'_>,
    w: &Write,
    existing: Option<Item>,
) -> Result<(), StoreError> {
    if matches!(w, Write::Check { .. }) {
        return Ok(());
    }
    if let Some(old) = &existing {
        for (which, index) in [Index::First, Index::Second].into_iter().zip(indexes.iter_mut()) {
            if let Some(ik) = old.index_key(which) {
                index.remove(index_key(&ik.pk, &ik.sk, &old.pk, &old.sk).as_str()).map_err(backend)?;
            }
        }
    }
    match w {
        Write::Put { item, .. } => {
            let bytes = encode(item)?;
            items.insert(key(&item.pk, &item.sk).as_str(), bytes.as_slice()).map_err(backend)?;
            for (which, index) in [Index::First, Index::Second].into_iter().zip(indexes.iter_mut()) {
                if let Some(ik) = item.index_key(which) {
                    index.insert(index_key(&ik.pk, &ik.sk, &item.pk, &item.sk).as_str(), ()).map_err(backend)?;
                }
            }
        }
        Write::Delete { pk, sk, .. } => {
            items.remove(key(pk, sk).as_str()).map_err(backend)?;
        }
        Write::Check { .. } => {}
    }
    Ok(())
}

impl EmbeddedStore {
    /// A page of partition `pk`'s items from the key `from` (or after the cursor) while keys are
    /// `within` the range: the table queries' one scan.
    fn items_from(
        &self,
        pk: &str,
        from: &str,
        within: impl Fn(&str) -> bool,
        after: Option<&Cursor>,
        limit: usize,
    ) -> Result<Page, StoreError> {
        let limit = limit.clamp(1, MAX_PAGE);
        let start = match after {
            Some(c) => key(pk, &c.sk),
            None => from.to_string(),
        };
        let skip_first = after.is_some();
        self.reading(move |db| {
            let tx = db.begin_read().map_err(backend)?;
            let t = tx.open_table(ITEMS).map_err(backend)?;
            let entries = t.range(start.as_str()..).map_err(backend)?.map(|e| e.map_err(backend));
            let load = |(k, v): &(AccessGuard<&str>, AccessGuard<&[u8]>)| {
                let (ipk, isk) = split_item_key(k.value()).ok_or_else(|| backend("malformed key"))?;
                decode(ipk, isk, v.value())
            };
            let cursor = |last: &Item| Cursor { pk: last.pk.clone(), sk: last.sk.clone(), index_sk: None };
            scan(entries, |(k, _)| k.value(), (&start, skip_first), within, limit, load, cursor)
        })
    }
}

fn split_item_key(k: &str) -> Option<(&str, &str)> {
    k.split_once('\0')
}

#[async_trait]
impl Store for EmbeddedStore {
    async fn get(&self, pk: &str, sk: &str) -> Result<Option<Item>, StoreError> {
        validate_key(pk, sk)?;
        self.reading(|db| {
            let tx = db.begin_read().map_err(backend)?;
            let t = tx.open_table(ITEMS).map_err(backend)?;
            match t.get(key(pk, sk).as_str()).map_err(backend)? {
                // An expired item is absent to readers, as on DynamoDB before its TTL deletes it.
                Some(v) => Ok(Some(decode(pk, sk, v.value())?).filter(|i| i.is_live(chrono::Utc::now().timestamp()))),
                None => Ok(None),
            }
        })
    }

    async fn query(&self, pk: &str, sk_prefix: &str, after: Option<&Cursor>, limit: usize) -> Result<Page, StoreError> {
        if pk.is_empty() || pk.contains('\0') || sk_prefix.contains('\0') {
            return Err(StoreError::Invalid("bad query key".into()));
        }
        let prefix = format!("{pk}\0{sk_prefix}");
        self.items_from(pk, &prefix, |k| k.starts_with(&prefix), after, limit)
    }

    async fn query_between(
        &self,
        pk: &str,
        (first, last): (&str, &str),
        after: Option<&Cursor>,
        limit: usize,
    ) -> Result<Page, StoreError> {
        if pk.is_empty() || pk.contains('\0') || first.contains('\0') || last.contains('\0') {
            return Err(StoreError::Invalid("bad query key".into()));
        }
        let (from, to) = (key(pk, first), key(pk, last));
        self.items_from(pk, &from, |k| k <= to.as_str(), after, limit)
    }

    async fn query_index_in(
        &self,
        which: Index,
        index_pk: &str,
        after: Option<&Cursor>,
        limit: usize,
    ) -> Result<Page, StoreError> {
        if index_pk.is_empty() || index_pk.contains('\0') {
            return Err(StoreError::Invalid("bad index key".into()));
        }
        let limit = limit.clamp(1, MAX_PAGE);
        let prefix = format!("{index_pk}\0");
        let start = match after {
            Some(c) => index_key(index_pk, c.index_sk.as_deref().unwrap_or(""), &c.pk, &c.sk),
            None => prefix.clone(),
        };
        let skip_first = after.is_some();
        self.reading(move |db| {
            let tx = db.begin_read().map_err(backend)?;
            let index = tx.open_table(index_table(which)).map_err(backend)?;
            let items = tx.open_table(ITEMS).map_err(backend)?;
            let entries = index.range(start.as_str()..).map_err(backend)?.map(|e| e.map_err(backend));
            let load = |(k, _): &(AccessGuard<&str>, AccessGuard<()>)| {
                let mut parts = k.value()[prefix.len()..].splitn(3, '\0');
                let (pk, sk) = match (parts.next(), parts.next(), parts.next()) {
                    (Some(_), Some(pk), Some(sk)) => (pk, sk),
                    _ => return Err(backend("malformed index key")),
                };
                let v = items.get(key(pk, sk).as_str()).map_err(backend)?.ok_or_else(|| StoreError::Corrupt {
                    pk: pk.to_string(),
                    sk: sk.to_string(),
                    reason: "index entry without item".into(),
                })?;
                decode(pk, sk, v.value())
            };
            let cursor = |last: &Item| Cursor {
                pk: last.pk.clone(),
                sk: last.sk.clone(),
                index_sk: last.index_key(which).map(|i| i.sk.clone()),
            };
            scan(entries, |(k, _)| k.value(), (&start, skip_first), |k| k.starts_with(&prefix), limit, load, cursor)
        })
    }

    async fn transact(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        validate_transaction(&writes)?;
        writes.iter().try_for_each(check_index_keys)?;
        self.blocking(move |db| {
            let tx = db.begin_write().map_err(backend)?;
            {
                let (mut items, mut indexes) = open_tables(&tx)?;
                // Check every condition first; an early return drops (aborts) the transaction.
                let mut current: Vec<Option<Item>> = Vec::with_capacity(writes.len());
                for (i, w) in writes.iter().enumerate() {
                    let existing = stored(&items, w.key())?;
                    if !holds_over(w.cond(), existing.as_ref()) {
                        return Err(StoreError::ConditionFailed { index: i });
                    }
                    current.push(existing);
                }
                for (w, existing) in writes.iter().zip(current) {
                    apply(&mut items, &mut indexes, w, existing)?;
                }
            }
            tx.commit().map_err(backend)?;
            Ok(())
        })
        .await
    }

    /// Every write checked and applied on its own, in order, and one commit for them all.
    async fn write_each(&self, writes: Vec<Write>) -> Vec<Result<(), StoreError>> {
        let n = writes.len();
        let checked: Vec<Result<Write, StoreError>> = writes
            .into_iter()
            .map(|w| {
                let (pk, sk) = w.key();
                validate_key(pk, sk)?;
                check_index_keys(&w)?;
                Ok(w)
            })
            .collect();
        let done = self
            .blocking(move |db| {
                let tx = db.begin_write().map_err(backend)?;
                let mut out = Vec::with_capacity(checked.len());
                {
                    let (mut items, mut indexes) = open_tables(&tx)?;
                    for w in checked {
                        out.push(match w {
                            Err(e) => Err(e),
                            Ok(w) => {
                                // An item that cannot be read back fails its own write only.
                                let existing = match stored(&items, w.key()) {
                                    Err(e @ StoreError::Corrupt { .. }) => {
                                        out.push(Err(e));
                                        continue;
                                    }
                                    other => other?,
                                };
                                if holds_over(w.cond(), existing.as_ref()) {
                                    apply(&mut items, &mut indexes, &w, existing)?;
                                    Ok(())
                                } else {
                                    Err(StoreError::ConditionFailed { index: 0 })
                                }
                            }
                        });
                    }
                }
                tx.commit().map_err(backend)?;
                Ok(out)
            })
            .await;
        match done {
            Ok(out) => out,
            // Nothing was committed: every write failed alike.
            Err(e) => (0..n).map(|_| Err(StoreError::Backend(e.to_string()))).collect(),
        }
    }

    async fn next_sequence(&self, pk: &str, sk: &str, count: u64) -> Result<u64, StoreError> {
        validate_key(pk, sk)?;
        if count == 0 {
            return Err(StoreError::Invalid("count must be at least 1".into()));
        }
        let k = key(pk, sk);
        self.blocking(move |db| {
            let tx = db.begin_write().map_err(backend)?;
            let first = {
                let mut t = tx.open_table(COUNTERS).map_err(backend)?;
                let last = t.get(k.as_str()).map_err(backend)?.map(|v| v.value()).unwrap_or(0);
                t.insert(k.as_str(), last + count).map_err(backend)?;
                last + 1
            };
            tx.commit().map_err(backend)?;
            Ok(first)
        })
        .await
    }

    async fn sequence(&self, pk: &str, sk: &str) -> Result<u64, StoreError> {
        validate_key(pk, sk)?;
        let k = key(pk, sk);
        self.reading(move |db| {
            let tx = db.begin_read().map_err(backend)?;
            let t = tx.open_table(COUNTERS).map_err(backend)?;
            let last = t.get(k.as_str()).map_err(backend)?.map(|v| v.value()).unwrap_or(0);
            Ok(last)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[tokio::test]
    async fn data_survives_closing_and_reopening_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/store.redb");
        {
            let s = EmbeddedStore::open(&path).unwrap();
            let item = Item::new("P", "S", 3, json!({"kept": true})).with_index("I", "1");
            s.transact(vec![Write::Put { item, cond: Cond::Absent }]).await.unwrap();
            assert_eq!(s.next_sequence("T", "SEQ", 2).await.unwrap(), 1);
        }
        let s = EmbeddedStore::open(&path).unwrap();
        assert_eq!(s.get("P", "S").await.unwrap().unwrap().body, json!({"kept": true}));
        assert_eq!(s.query_index("I", None, 10).await.unwrap().items.len(), 1);
        assert_eq!(s.next_sequence("T", "SEQ", 1).await.unwrap(), 3);
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn the_data_folder_and_the_store_file_are_the_owners_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        // An existing folder made with the usual 0755 is tightened too.
        std::fs::create_dir(&data).unwrap();
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
        let deps = crate::deps(&data).unwrap();
        drop(deps);
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&data), 0o700);
        assert_eq!(mode(&data.join("coverdesk.redb")), 0o600);
        if std::env::var(coverdesk::crypto::KEY_ENV).is_err() {
            assert_eq!(mode(&data.join("secret.key")), 0o600);
        }
        let nested = dir.path().join("a/b/store.redb");
        EmbeddedStore::open(&nested).unwrap();
        assert_eq!(mode(&dir.path().join("a/b")), 0o700);
        assert_eq!(mode(&nested), 0o600);
    }
}
