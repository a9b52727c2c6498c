//! Single-transaction import (`POST /import/v1/transaction`), as the original offers it: a client
//! sends a batch's transactions one request each, `{batch_id?, total_items, current_item,
//! transaction}`, or (the filing service's v2 form) the transaction alone, a batch of one. Each is read, taxed, its documents fetched and recorded as in a batch, and
//! answered at once in the seed's shape; its result is kept at its position, so the batch's
//! results read like any batch's once all `total_items` positions have arrived (then it is
//! `processed`). A position sent again (a retry, or a corrected transaction) is assessed again
//! and its result replaced; a transaction this batch imported already answers as imported.

use super::model::{BatchError, BatchMeta, BatchStatus, TxnResult, MAX_TRANSACTIONS};
use super::repo::ImportRepo;
use super::service::Importer;
use crate::fields::{optional, required, Empty, Mode, Raw, Report, Rules, Tape};

/// One request's envelope.
pub struct Item<'a> {
    pub batch_id: Option<String>,
    pub total_items: usize,
    pub current_item: usize,
    pub transaction: Raw<'a>,
}

const RULES: Rules = Rules { mode: Mode::First, empty: Empty::Absent, numbers_as_text: false, code: "INVALID_BATCH" };

/// Reads the envelope (never the transaction: that is the transaction reader's, with its own
/// status codes). Problems name the field, never its value. `tape` holds where its values are
/// ([`Raw::parse`]) for as long as the item is read.
pub fn read_item<'a>(body: &'a [u8], tape: &'a mut Tape) -> Result<Item<'a>, BatchError> {
    std::str::from_utf8(body).map_err(|_| BatchError::NotJson("not UTF-8".into()))?;
    let raw = Raw::parse(body, tape).map_err(BatchError::NotJson)?;
    let report = Report::new(RULES);
    let read = (|| {
        let Some(mut o) = report.open("", raw)? else {
            return report.refuse(
                "",
                RULES.code,
                "must be an object {batch_id, total_items, current_item, transaction}",
            );
        };
        // The filing service's v2 form: the transaction itself, no envelope (a batch of one).
        if ["batch_id", "total_items", "current_item", "transaction"].iter().all(|k| !o.has(k)) {
            return Ok(Item { batch_id: None, total_items: 1, current_item: 1, transaction: raw });
        }
        let batch_id = o.string("batch_id", optional(), 64)?;
        let max = MAX_TRANSACTIONS as i64;
        let total = o.integer("total_items", required(), 1, max)?.unwrap_or(1);
        let current = o.integer("current_item", required(), 1, max)?.unwrap_or(1);
        let transaction = o.take("transaction");
        o.end()?;
        if let Some(b) = &batch_id {
            if !b.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
                return report.refuse("batch_id", RULES.code, "must be letters, digits, '-' or '_'");
            }
        }
        if current > total {
            return report.refuse("current_item", RULES.code, "must be at most total_items");
        }
        let Some(transaction) = transaction else { return report.refuse("transaction", RULES.code, "is required") };
        Ok(Item { batch_id, total_items: total as usize, current_item: current as usize, transaction })
    })();
    report.finish(read).map_err(|problems| match problems.first() {
        Some(p) if p.path.is_empty() => BatchError::Envelope(p.message.clone()),
        Some(p) => BatchError::Envelope(format!("{} {}", p.path, p.message)),
        None => BatchError::Envelope("could not be read".into()),
    })
}

impl Importer {
    /// Imports one item of a single-transaction batch; the batch (as it stands after this item)
    /// and the item's result. A `batch_id` of a batch that is not a single-transaction batch of
    /// `total_items` is refused, writing nothing.
    pub async fn import_item(&self, batch_id: &str, item: &Item<'_>) -> Result<(BatchMeta, TxnResult), BatchError> {
        let now = chrono::Utc::now();
        let repo: ImportRepo = self.repo();
        let fresh = BatchMeta {
            batch_id: batch_id.to_string(),
            status: BatchStatus::Processing,
            source: "single".into(),
            created_at: now,
            finished_at: None,
            total: item.total_items,
            imported: 0,
            chunks: 0,
            done: 0,
            single: true,
            upload: None,
            lease_until: None,
        };
        let meta = repo.open_single(&fresh).await?;
        if !meta.single || meta.total != item.total_items {
            return Err(BatchError::Envelope(
                "batch_id names a batch that is not a single-transaction batch of total_items transactions".into(),
            ));
        }
        let mut outcomes = super::service::assess_each([item.transaction]);
        self.mark_imported_before(batch_id, &mut outcomes).await?;
        // A position sent again finds its documents by their keys being taken (no HEAD first).
        let docs = self.fetch_documents(&outcomes, false).await?;
        let result = self.record(batch_id, outcomes, docs, now, &|_| {}).await?.remove(0);
        let first = repo.put_item_result(batch_id, item.current_item, &result).await?;
        let mut meta = repo.batch(batch_id).await?.unwrap_or(meta);
        // The last position to arrive finishes the batch. A position sent again recounts them
        // all (rare): its first request may have stored it and stopped before counting it.
        let (complete, received) = if first {
            let received = repo.count_received(batch_id).await? as usize;
            (received == item.total_items, received)
        } else {
            let complete =
                meta.status == BatchStatus::Processed || repo.count_items(batch_id).await? == item.total_items;
            (complete, repo.received(batch_id).await?)
        };
        // Progress while processing: the positions received so far.
        meta.done = received.min(meta.total);
        if complete {
            meta.status = BatchStatus::Processed;
            meta.done = meta.total;
            meta.finished_at.get_or_insert_with(chrono::Utc::now);
            let results = repo.results(&meta).await?;
            let mut by_status = std::collections::BTreeMap::<u16, u64>::new();
            for r in &results {
                *by_status.entry(r.status).or_default() += 1;
            }
            meta.imported = by_status.get(&super::transaction::status::OK).copied().unwrap_or(0) as usize;
            repo.put_finished(&meta, super::events::processed(&meta, &by_status)).await?;
        }
        let about = [("team", self.team.as_str()), ("batch_id", batch_id)];
        crate::metrics::count("ImportTransactions", "status", &result.status.to_string(), 1, &about);
        Ok((meta, result))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(body: &str) -> String {
        match read_item(body.as_bytes(), &mut Tape::new()) {
            Err(BatchError::Envelope(m)) => m,
            Err(e) => e.to_string(),
            Ok(_) => "read".into(),
        }
    }

    #[test]
    fn the_envelope_is_read_field_by_field_and_never_echoed() {
        let mut tape = Tape::new();
        let ok = read_item(br#"{"total_items": 3, "current_item": 2, "transaction": {"id": "1"}}"#, &mut tape).unwrap();
        assert_eq!((ok.batch_id, ok.total_items, ok.current_item), (None, 3, 2));
        assert_eq!(ok.transaction.get(), r#"{"id": "1"}"#);
        assert_eq!(
            problem(r#"{"total_items": 3, "current_item": 4, "transaction": {}}"#),
            "current_item must be at most total_items"
        );
        assert_eq!(
            problem(r#"{"total_items": 0, "current_item": 1, "transaction": {}}"#),
            "total_items must be a whole number from 1 to 50000"
        );
        assert_eq!(problem(r#"{"total_items": 1, "current_item": 1}"#), "transaction is required");
        assert_eq!(
            problem(r#"{"total_items": 1, "current_item": 1, "transaction": {}, "secret": "s3cr3t"}"#),
            "secret is not a known field"
        );
        assert_eq!(
            problem(r#"{"batch_id": "a/b", "total_items": 1, "current_item": 1, "transaction": {}}"#),
            "batch_id must be letters, digits, '-' or '_'"
        );
        assert!(!problem(r#"{"total_items": "s3cr3t", "current_item": 1, "transaction": {}}"#).contains("s3cr3t"));
        assert!(problem("[1]").starts_with("must be an object"));
    }
}
