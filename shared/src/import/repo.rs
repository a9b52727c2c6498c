//! The import area's repository: it alone knows the import's keys and items and writes them.
//!
//! Keys (same table): transaction imported `T#<t>#IMP#TX#<id>` / `TX` (written only if absent:
//! that is the 3001 rule), latest refused attempt `T#<t>#IMP#TX#<id>` / `TRY`, batch
//! `T#<t>#IMP#B#<batch>` / `META` and its results in chunks `R#<00000>` of [`CHUNK`].

use std::sync::Arc;

use serde_json::json;

use super::service::{BatchMeta, TxnRecord, TxnResult};
use crate::store::{Cond, Item, Store, StoreError, Write};

/// Results per stored chunk: 200 worst-case results stay well under DynamoDB's 400 KB item limit.
pub const CHUNK: usize = 200;
/// Imported records written per transaction (one [`ImportRepo::record_imported`] takes at most so
/// many).
pub const RECORDS_PER_WRITE: usize = 100;
/// Refused attempts written per transaction.
const ATTEMPTS_PER_WRITE: usize = 25;

fn tx_pk(team: &str, id: &str) -> String {
    format!("T#{team}#IMP#TX#{id}")
}
fn batch_pk(team: &str, batch: &str) -> String {
    format!("T#{team}#IMP#B#{batch}")
}
fn chunk_sk(n: usize) -> String {
    format!("R#{n:05}")
}
const META_SK: &str = "META";
const IMPORTED_SK: &str = "TX";
const ATTEMPT_SK: &str = "TRY";

/// How writing imported records went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// Every record was written.
    All,
    /// One of the ids was imported meanwhile (by another batch or a second delivery of this
    /// one): nothing of this group was written.
    IdTaken,
}

/// One team's import items.
#[derive(Clone)]
pub struct ImportRepo {
    store: Arc<dyn Store>,
    team: String,
}

impl ImportRepo {
    pub fn new(store: Arc<dyn Store>, team: &str) -> ImportRepo {
        ImportRepo { store, team: team.to_string() }
    }

    /// A batch and, once processed, its results.
    pub async fn batch_with_results(&self, batch_id: &str) -> Result<Option<(BatchMeta, Vec<TxnResult>)>, StoreError> {
        let Some(meta) = self.batch(batch_id).await? else { return Ok(None) };
        if meta.status != "processed" {
            return Ok(Some((meta, vec![])));
        }
        let results = self.results(&meta).await?;
        Ok(Some((meta, results)))
    }

    /// The batch's record, if any.
    pub async fn batch(&self, batch_id: &str) -> Result<Option<BatchMeta>, StoreError> {
        match self.store.get(&batch_pk(&self.team, batch_id), META_SK).await? {
            Some(item) => Ok(Some(item.decode()?)),
            None => Ok(None),
        }
    }

    /// The results of a processed batch, in batch order; a missing chunk is corrupt data.
    pub async fn results(&self, meta: &BatchMeta) -> Result<Vec<TxnResult>, StoreError> {
        let pk = batch_pk(&self.team, &meta.batch_id);
        let mut results = Vec::with_capacity(meta.total);
        for n in 0..meta.chunks {
            let item = self.store.get(&pk, &chunk_sk(n)).await?.ok_or_else(|| StoreError::Corrupt {
                pk: pk.clone(),
                sk: chunk_sk(n),
                reason: "missing result chunk".into(),
            })?;
            results.extend(item.decode::<Vec<TxnResult>>()?);
        }
        Ok(results)
    }

    /// The batch's record, written as `version` (1 when it starts, 2 when processed).
    pub async fn put_batch(&self, meta: &BatchMeta, version: u64) -> Result<(), StoreError> {
        let item = Item::new(batch_pk(&self.team, &meta.batch_id), META_SK, version, json!(meta));
        self.store.transact(vec![Write::Put { item, cond: Cond::Any }]).await
    }

    /// The results in chunks of [`CHUNK`] (written before the batch is marked processed).
    pub async fn put_results(&self, batch_id: &str, results: &[TxnResult]) -> Result<(), StoreError> {
        let pk = batch_pk(&self.team, batch_id);
        for (n, chunk) in results.chunks(CHUNK).enumerate() {
            let item = Item::new(pk.clone(), chunk_sk(n), 1, json!(chunk));
            self.store.transact(vec![Write::Put { item, cond: Cond::Any }]).await?;
        }
        Ok(())
    }

    /// The imported record of `id`, if it was imported.
    pub async fn imported(&self, id: &str) -> Result<Option<TxnRecord>, StoreError> {
        match self.store.get(&tx_pk(&self.team, id), IMPORTED_SK).await? {
            Some(item) => Ok(Some(item.decode()?)),
            None => Ok(None),
        }
    }

    /// What a team reads of `id`: its imported record, else its latest refused attempt.
    pub async fn transaction(&self, id: &str) -> Result<Option<TxnRecord>, StoreError> {
        let pk = tx_pk(&self.team, id);
        for sk in [IMPORTED_SK, ATTEMPT_SK] {
            if let Some(item) = self.store.get(&pk, sk).await? {
                return Ok(Some(item.decode()?));
            }
        }
        Ok(None)
    }

    /// Writes imported records, each only if its id was never imported (the 3001 rule), all or
    /// none; at most 100 at a time.
    pub async fn record_imported(&self, records: &[&TxnRecord]) -> Result<Recorded, StoreError> {
        debug_assert!(records.len() <= RECORDS_PER_WRITE);
        let writes = records
            .iter()
            .map(|rec| Write::Put {
                item: Item::new(tx_pk(&self.team, &rec.id), IMPORTED_SK, 1, json!(rec)),
                cond: Cond::Absent,
            })
            .collect();
        match self.store.transact(writes).await {
            Ok(()) => Ok(Recorded::All),
            Err(StoreError::ConditionFailed { .. }) => Ok(Recorded::IdTaken),
            Err(e) => Err(e),
        }
    }

    /// The latest refused attempt of each id (replacing an earlier one).
    pub async fn record_attempts(&self, records: &[TxnRecord]) -> Result<(), StoreError> {
        for chunk in records.chunks(ATTEMPTS_PER_WRITE) {
            let writes = chunk
                .iter()
                .map(|rec| Write::Put {
                    item: Item::new(tx_pk(&self.team, &rec.id), ATTEMPT_SK, 1, json!(rec)),
                    cond: Cond::Any,
                })
                .collect();
            self.store.transact(writes).await?;
        }
        Ok(())
    }
}
