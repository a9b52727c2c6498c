//! The import area's repository: it alone knows the import's keys and items and writes them.
//!
//! Keys (same table): transaction imported `T#<t>#IMP#TX#<id>` / `TX` (written only if absent:
//! that is the 3001 rule; listed in the first index under its invoice number, in the second under
//! its report month `T#<t>#IMP#REP#<yyyy-mm>` / `<date>#<id>`: the record is its own report line),
//! latest refused attempt `T#<t>#IMP#TX#<id>` / `TRY`, batch
//! `T#<t>#IMP#B#<batch>` / `META` and its results in chunks `R#<00000>` of [`CHUNK`]; a
//! single-transaction batch's results one per position `I#<000001>`, with the count of positions
//! received in the counter `RECEIVED`. The batch's partition also holds the webhook events that
//! tell its end, with their delivery cursors and attempts, written and read through
//! `servicing::repo` (its key table spells them).

use std::sync::Arc;

use serde_json::{json, Value};

use super::model::{BatchMeta, BatchStatus, TxnRecord, TxnResult};
use super::report::{months, ReportLine};
use crate::servicing::model::EventType;
use crate::store::{Cond, Cursor, Index, Item, Store, StoreError, Write, MAX_PAGE};
use crate::types::TeamId;
use chrono::NaiveDate;

/// Results per stored chunk: 200 worst-case results stay well under DynamoDB's 400 KB item limit.
pub const CHUNK: usize = 200;
/// Imported records handed to the store at once ([`ImportRepo::record_imported`]): each its own
/// conditional write.
pub const RECORDS_PER_WRITE: usize = 100;
/// Refused attempts written per transaction.
const ATTEMPTS_PER_WRITE: usize = 25;

fn tx_pk(team: &TeamId, id: &str) -> String {
    format!("T#{team}#IMP#TX#{id}")
}
/// A month's imported transactions in the second index (sorted by report date, then id); and,
/// in the table, the partition of the report lines written before that index (each a copy of
/// its record's line, written beside the record), read too.
fn report_pk(team: &TeamId, month: &str) -> String {
    format!("T#{team}#IMP#REP#{month}")
}
fn report_sk(line: &ReportLine) -> String {
    format!("{}#{}", line.date, line.id)
}

/// The index partition of a team's imported transactions with one invoice number (sorted by id).
fn invoice_pk(team: &TeamId, invoice: &str) -> String {
    format!("T#{team}#IMP#INV#{invoice}")
}
fn batch_pk(team: &TeamId, batch: &str) -> String {
    format!("T#{team}#IMP#B#{batch}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::servicing::model::Subject;

    #[test]
    fn a_batchs_webhook_events_live_in_its_own_partition() {
        let t = TeamId::new("t1");
        let events = crate::servicing::repo::events_partition(&t, &Subject::Batch("b".into()));
        assert_eq!(events, batch_pk(&t, "b"));
    }
}
fn chunk_sk(n: usize) -> String {
    format!("R#{n:05}")
}
fn item_sk(position: usize) -> String {
    format!("I#{position:06}")
}
const ITEM_PREFIX: &str = "I#";
const RECEIVED_SK: &str = "RECEIVED";
const META_SK: &str = "META";
const IMPORTED_SK: &str = "TX";
const ATTEMPT_SK: &str = "TRY";

/// The index partition of batches processing under a lease, sorted by lease end.
const LEASED: &str = "IMP#LEASED";

fn meta_item(team: &TeamId, meta: &BatchMeta, version: u64) -> Item {
    let item = Item::new(batch_pk(team, &meta.batch_id), META_SK, version, json!(meta));
    match (&meta.lease_until, meta.status) {
        (Some(until), BatchStatus::Processing) => {
            item.with_index(LEASED, format!("{:015}#{team}", until.timestamp_millis()))
        }
        _ => item,
    }
}

/// An imported record's item, listed under its invoice number when it has one, and under the
/// month of its report line when it has one.
fn imported_item(team: &TeamId, rec: &TxnRecord, version: u64) -> Item {
    let mut item = Item::new(tx_pk(team, &rec.id), IMPORTED_SK, version, json!(rec));
    if let Some(invoice) = rec.transaction.as_ref().and_then(|t| t.filing.invoice_number.as_deref()) {
        item = item.with_index(invoice_pk(team, invoice), rec.id.clone());
    }
    if let Some(line) = ReportLine::of(rec) {
        item = item.with_index2(report_pk(team, &line.month()), report_sk(&line));
    }
    item
}

/// A batch whose lease ran out: its team and its record.
pub struct Stale {
    pub team: TeamId,
    pub meta: BatchMeta,
}

/// Batches of every team still processing whose lease ended before `now`, oldest first, at
/// most `limit`.
pub async fn stale_batches(
    store: &dyn Store,
    now: chrono::DateTime<chrono::Utc>,
    limit: usize,
) -> Result<Vec<Stale>, StoreError> {
    let page = store.query_index(LEASED, None, limit).await?;
    let mut out = Vec::new();
    for item in page.items {
        let meta: BatchMeta = item.decode()?;
        if meta.lease_until.is_none_or(|until| until > now) {
            break;
        }
        let team =
            item.index.as_ref().and_then(|i| i.sk.split_once('#')).map(|(_, t)| t.to_string()).unwrap_or_default();
        out.push(Stale { team: TeamId::new(team), meta });
    }
    Ok(out)
}

/// How writing an imported record went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// The record was written.
    Written,
    /// Its id was imported meanwhile (by another batch or a second delivery of this one): not
    /// written.
    IdTaken,
}

/// One team's import items.
#[derive(Clone)]
pub struct ImportRepo {
    store: Arc<dyn Store>,
    team: TeamId,
}

impl ImportRepo {
    pub fn new(store: Arc<dyn Store>, team: &TeamId) -> ImportRepo {
        ImportRepo { store, team: team.clone() }
    }

    /// A batch and, once processed, its results.
    pub async fn batch_with_results(&self, batch_id: &str) -> Result<Option<(BatchMeta, Vec<TxnResult>)>, StoreError> {
        let Some(meta) = self.batch(batch_id).await? else { return Ok(None) };
        if meta.status != BatchStatus::Processed {
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
        Ok(self.results_page(meta, 0, usize::MAX, &|_| true).await?.0)
    }

    /// A page of a processed batch's results: from index `from` on, those `keep` accepts, at
    /// most `limit`; and the index of the next one it accepts, while one remains. Reads only the
    /// chunks the page spans (and, with a filter, those up to the next match).
    pub async fn results_page(
        &self,
        meta: &BatchMeta,
        from: usize,
        limit: usize,
        keep: &(dyn Fn(&TxnResult) -> bool + Sync),
    ) -> Result<(Vec<TxnResult>, Option<usize>), StoreError> {
        let pk = batch_pk(&self.team, &meta.batch_id);
        let mut page = Vec::new();
        if meta.single {
            // Position p (1-based) is result p - 1: continue after position `from`.
            let mut after = (from > 0).then(|| Cursor { pk: pk.clone(), sk: item_sk(from), index_sk: None });
            loop {
                let got = self.store.query(&pk, ITEM_PREFIX, after.as_ref(), MAX_PAGE).await?;
                for item in &got.items {
                    let r: TxnResult = item.decode()?;
                    let i = item.sk[ITEM_PREFIX.len()..].parse::<usize>().unwrap_or(1).saturating_sub(1);
                    if !keep(&r) {
                        continue;
                    }
                    if page.len() == limit {
                        return Ok((page, Some(i)));
                    }
                    page.push(r);
                }
                match got.next {
                    Some(next) => after = Some(next),
                    None => return Ok((page, None)),
                }
            }
        }
        for n in from / CHUNK..meta.chunks {
            let item = self.store.get(&pk, &chunk_sk(n)).await?.ok_or_else(|| StoreError::Corrupt {
                pk: pk.clone(),
                sk: chunk_sk(n),
                reason: "missing result chunk".into(),
            })?;
            for (j, r) in item.decode::<Vec<TxnResult>>()?.into_iter().enumerate() {
                let i = n * CHUNK + j;
                if i < from || !keep(&r) {
                    continue;
                }
                if page.len() == limit {
                    return Ok((page, Some(i)));
                }
                page.push(r);
            }
        }
        Ok((page, None))
    }

    /// The batch's record, written as `version` (1 when it starts, 2 when processed). A batch
    /// processing under a lease is listed in the index by lease end, for the sweep.
    pub async fn put_batch(&self, meta: &BatchMeta, version: u64) -> Result<(), StoreError> {
        let item = meta_item(&self.team, meta, version);
        self.store.transact(vec![Write::Put { item, cond: Cond::Any }]).await
    }

    /// The batch's final record (processed or failed, as version 2) and, in the same transaction,
    /// the webhook event `(t, data)` that tells it, when an active endpoint of the team wants it.
    /// Each type is written once per batch: a batch recorded processed again (its upload
    /// delivered twice, a position of a single-transaction batch sent again) writes its record
    /// alone.
    pub async fn put_finished(&self, meta: &BatchMeta, (t, data): (EventType, Value)) -> Result<(), StoreError> {
        let record = Write::Put { item: meta_item(&self.team, meta, 2), cond: Cond::Any };
        let status = meta.status.code();
        let now = chrono::Utc::now();
        let event =
            crate::servicing::repo::batch_event(self.store.as_ref(), &self.team, &meta.batch_id, status, t, &data, now)
                .await?;
        if let Some([event, poke]) = event {
            match self.store.transact(vec![record.clone(), event, poke]).await {
                Ok(()) => return Ok(()),
                // The event's is the one condition: it was written before.
                Err(StoreError::ConditionFailed { index: 1 }) => {}
                Err(e) => return Err(e),
            }
        }
        self.store.transact(vec![record]).await
    }

    /// The batch's first record, unless the import got there first (it writes its own).
    pub async fn put_batch_if_absent(&self, meta: &BatchMeta) -> Result<(), StoreError> {
        let item = meta_item(&self.team, meta, 1);
        match self.store.transact(vec![Write::Put { item, cond: Cond::Absent }]).await {
            Ok(()) | Err(StoreError::ConditionFailed { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Results in chunks of [`CHUNK`], the first being chunk `first_chunk` (written before the
    /// batch is marked processed). Only the batch's last chunk may be short.
    pub async fn put_results(
        &self,
        batch_id: &str,
        first_chunk: usize,
        results: &[TxnResult],
    ) -> Result<(), StoreError> {
        let pk = batch_pk(&self.team, batch_id);
        for (n, chunk) in results.chunks(CHUNK).enumerate() {
            let item = Item::new(pk.clone(), chunk_sk(first_chunk + n), 1, json!(chunk));
            self.store.transact(vec![Write::Put { item, cond: Cond::Any }]).await?;
        }
        Ok(())
    }

    /// A single-transaction batch's record as it stands, written first by whichever of its items
    /// arrives first (`meta`) and read by the others.
    pub async fn open_single(&self, meta: &BatchMeta) -> Result<BatchMeta, StoreError> {
        let item = Item::new(batch_pk(&self.team, &meta.batch_id), META_SK, 1, json!(meta));
        match self.store.transact(vec![Write::Put { item, cond: Cond::Absent }]).await {
            Ok(()) => Ok(meta.clone()),
            Err(StoreError::ConditionFailed { .. }) => {
                self.batch(&meta.batch_id).await?.ok_or_else(|| StoreError::Corrupt {
                    pk: batch_pk(&self.team, &meta.batch_id),
                    sk: META_SK.into(),
                    reason: "the batch vanished while read".into(),
                })
            }
            Err(e) => Err(e),
        }
    }

    /// Keeps the result of a single-transaction batch's position; whether it is the first for
    /// that position (a position sent again replaces its result).
    pub async fn put_item_result(&self, batch_id: &str, position: usize, r: &TxnResult) -> Result<bool, StoreError> {
        let pk = batch_pk(&self.team, batch_id);
        let item = Item::new(pk.clone(), item_sk(position), 1, json!(r));
        match self.store.transact(vec![Write::Put { item: item.clone(), cond: Cond::Absent }]).await {
            Ok(()) => Ok(true),
            Err(StoreError::ConditionFailed { .. }) => {
                self.store.transact(vec![Write::Put { item, cond: Cond::Any }]).await?;
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }

    /// Counts one more position received (each once); the count so far.
    pub async fn count_received(&self, batch_id: &str) -> Result<u64, StoreError> {
        self.store.next_sequence(&batch_pk(&self.team, batch_id), RECEIVED_SK, 1).await
    }

    /// How many positions of a single-transaction batch have been received so far (each once).
    pub async fn received(&self, batch_id: &str) -> Result<usize, StoreError> {
        Ok(self.store.sequence(&batch_pk(&self.team, batch_id), RECEIVED_SK).await? as usize)
    }

    /// How many positions of a single-transaction batch hold a result.
    pub async fn count_items(&self, batch_id: &str) -> Result<usize, StoreError> {
        let pk = batch_pk(&self.team, batch_id);
        let (mut n, mut after) = (0, None);
        loop {
            let page = self.store.query(&pk, ITEM_PREFIX, after.as_ref(), MAX_PAGE).await?;
            n += page.items.len();
            match page.next {
                Some(next) => after = Some(next),
                None => return Ok(n),
            }
        }
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

    /// A team's imported transactions with `invoice`, in id order, at most `limit` after the id
    /// `after`; the id to continue after when more may follow. One index query.
    pub async fn by_invoice(
        &self,
        invoice: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<TxnRecord>, Option<String>), StoreError> {
        let cursor = after.map(|id| Cursor {
            pk: tx_pk(&self.team, id),
            sk: IMPORTED_SK.into(),
            index_sk: Some(id.to_string()),
        });
        let page = self.store.query_index(&invoice_pk(&self.team, invoice), cursor.as_ref(), limit).await?;
        let records: Vec<TxnRecord> = page.items.iter().map(Item::decode).collect::<Result<_, _>>()?;
        let next = page.next.and_then(|_| records.last().map(|r| r.id.clone()));
        Ok((records, next))
    }

    /// The report lines of the months `from..=to` touches (the caller keeps the days it wants):
    /// each imported record of the month (the second index), and the lines written before that
    /// index in the month's partition, each transaction once. The index is eventually consistent
    /// in DynamoDB: a transaction imported a moment ago may take a moment to be counted.
    pub async fn report_lines(&self, from: NaiveDate, to: NaiveDate) -> Result<Vec<ReportLine>, StoreError> {
        let mut lines = Vec::new();
        for month in months(from, to) {
            let pk = report_pk(&self.team, &month);
            let mut after: Option<Cursor> = None;
            loop {
                let page = self.store.query_index_in(Index::Second, &pk, after.as_ref(), MAX_PAGE).await?;
                for item in &page.items {
                    let rec: TxnRecord = item.decode()?;
                    let Some(mut line) = ReportLine::of(&rec) else { continue };
                    // Its date as listed when it was written (the filing rule of that day), so the
                    // line stays in the month it is kept under even if the rule changes since.
                    let listed = item.index2.as_ref().and_then(|k| k.sk.split_once('#'));
                    if let Some(date) = listed.and_then(|(d, _)| d.parse::<NaiveDate>().ok()) {
                        line.date = date;
                    }
                    lines.push(line);
                }
                match page.next {
                    Some(c) => after = Some(c),
                    None => break,
                }
            }
            let indexed: std::collections::HashSet<String> = lines.iter().map(|l| l.id.clone()).collect();
            after = None;
            loop {
                let page = self.store.query(&pk, "", after.as_ref(), MAX_PAGE).await?;
                for item in &page.items {
                    let line: ReportLine = item.decode()?;
                    if !indexed.contains(&line.id) {
                        lines.push(line);
                    }
                }
                match page.next {
                    Some(c) => after = Some(c),
                    None => break,
                }
            }
        }
        Ok(lines)
    }

    /// The imported record of `id` with its version, to change it.
    pub async fn imported_at(&self, id: &str) -> Result<Option<(TxnRecord, u64)>, StoreError> {
        match self.store.get(&tx_pk(&self.team, id), IMPORTED_SK).await? {
            Some(item) => Ok(Some((item.decode()?, item.version))),
            None => Ok(None),
        }
    }

    /// Replaces an imported record read at `version`; false when it changed meanwhile.
    pub async fn replace_imported(&self, rec: &TxnRecord, version: u64) -> Result<bool, StoreError> {
        let write = Write::Put { item: imported_item(&self.team, rec, version + 1), cond: Cond::Version(version) };
        match self.store.transact(vec![write]).await {
            Ok(()) => Ok(true),
            Err(StoreError::ConditionFailed { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Writes imported records, each on its own and only if its id was never imported (the 3001
    /// rule): one conditional write per record, which is also its report line (the second
    /// index), so no record is ever without its line or a line without its record. How each went,
    /// in order; the first failure of the store is the answer when there is one (the records
    /// written before it stay: a rerun finds them its own).
    pub async fn record_imported(&self, records: &[&TxnRecord]) -> Result<Vec<Recorded>, StoreError> {
        debug_assert!(records.len() <= RECORDS_PER_WRITE);
        let writes = records
            .iter()
            .map(|rec| Write::Put { item: imported_item(&self.team, rec, 1), cond: Cond::Absent })
            .collect();
        self.store
            .write_each(writes)
            .await
            .into_iter()
            .map(|r| match r {
                Ok(()) => Ok(Recorded::Written),
                Err(StoreError::ConditionFailed { .. }) => Ok(Recorded::IdTaken),
                Err(e) => Err(e),
            })
            .collect()
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
