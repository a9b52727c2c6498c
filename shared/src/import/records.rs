//! A window's outcomes turned into records and results: one record per transaction imported (the
//! guard's condition is the final word on duplicates), the latest refused attempt of each refused
//! id, and the results in batch order.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::documents::discard;
use super::importer::{Importer, Outcome};
use super::model::{BatchError, StoredDocument, TxnRecord, TxnResult};
use super::repo::{Recorded, RECORDS_PER_WRITE};
use super::transaction::status;

impl Importer {
    /// One record per transaction (the guard's condition is the final word on duplicates) and
    /// the latest refused attempt of each refused id; the results in batch order.
    pub(super) async fn record(
        &self,
        batch_id: &str,
        outcomes: Vec<Outcome>,
        docs: HashMap<usize, Result<Vec<StoredDocument>, String>>,
        now: DateTime<Utc>,
        finished: &(dyn Fn(usize) + Send + Sync),
    ) -> Result<Vec<TxnResult>, BatchError> {
        let Records { mut results, imports, tries } = to_records(batch_id, outcomes, docs, now);
        let repo = self.repo();
        for chunk in imports.chunks(RECORDS_PER_WRITE) {
            let group: Vec<&TxnRecord> = chunk.iter().map(|(_, rec)| rec).collect();
            let recorded = repo.record_imported(&group).await?;
            for ((i, rec), how) in chunk.iter().zip(recorded) {
                if how == Recorded::Written {
                    continue;
                }
                // Someone imported it meanwhile. The same batch delivered twice at once: the
                // other run recorded it, and it is this batch's.
                if repo.imported(&rec.id).await?.is_some_and(|other| other.batch_id == batch_id) {
                    continue;
                }
                discard(self.ports.objects.as_ref(), &repo, &rec.id, rec.documents.iter().map(|d| d.key.as_str()))
                    .await;
                results[*i] = duplicate(&rec.id, &rec.policy_number, "by a batch running at the same time");
            }
            finished(chunk.len());
        }
        repo.record_attempts(&tries).await?;
        let failed_fetches = results.iter().filter(|r| r.status == status::DOCUMENT_FETCH).count();
        finished(failed_fetches);
        Ok(results)
    }
}

/// A window's outcomes ready to write: the results in batch order, the records to import (each
/// with its place in the results), and the refused attempts to keep.
struct Records {
    results: Vec<TxnResult>,
    imports: Vec<(usize, TxnRecord)>,
    tries: Vec<TxnRecord>,
}

/// Each outcome's result, and its record to import or its refused attempt to keep.
fn to_records(
    batch_id: &str,
    outcomes: Vec<Outcome>,
    mut docs: HashMap<usize, Result<Vec<StoredDocument>, String>>,
    now: DateTime<Utc>,
) -> Records {
    let total = outcomes.len();
    let mut results: Vec<TxnResult> = Vec::with_capacity(total);
    let mut imports: Vec<(usize, TxnRecord)> = Vec::new();
    let mut tries: Vec<TxnRecord> = Vec::new();
    for (i, o) in outcomes.into_iter().enumerate() {
        match o {
            Outcome::Rejected(r) => {
                // The latest refused attempt is kept by id: only for an id that can be a key
                // (one with a NUL byte, say, is refused for itself and kept nowhere).
                if let (Some(id), Some(pn)) = (&r.id, &r.policy_number) {
                    if crate::types::usable_id(id) {
                        tries.push(record(id, pn, batch_id, &r, vec![], None, now));
                    }
                }
                results.push(r);
            }
            Outcome::Done(r) => results.push(r),
            Outcome::Accepted(a) => {
                let t = &a.transaction;
                match docs.remove(&i).unwrap_or_else(|| Err("Error: not fetched.".into())) {
                    Err(message) => {
                        let r = TxnResult {
                            id: Some(t.id.clone()),
                            policy_number: Some(t.policy_number.clone()),
                            status: status::DOCUMENT_FETCH,
                            status_message: message,
                            warnings: vec![],
                            calculated: Some(a.calculated.clone()),
                        };
                        tries.push(record(&t.id, &t.policy_number, batch_id, &r, vec![], Some(a.department), now));
                        results.push(r);
                    }
                    Ok(stored) => {
                        let r = TxnResult {
                            id: Some(t.id.clone()),
                            policy_number: Some(t.policy_number.clone()),
                            status: status::OK,
                            status_message: "Success".into(),
                            warnings: a.warnings.clone(),
                            calculated: Some(a.calculated.clone()),
                        };
                        let mut rec = record(&t.id, &t.policy_number, batch_id, &r, stored, Some(a.department), now);
                        rec.transaction = Some(Box::new(a.transaction.clone()));
                        imports.push((i, rec));
                        results.push(r);
                    }
                }
            }
        }
    }
    Records { results, imports, tries }
}

pub(super) fn duplicate(id: &str, policy_number: &str, when: &str) -> TxnResult {
    TxnResult {
        id: Some(id.to_string()),
        policy_number: Some(policy_number.to_string()),
        status: status::DUPLICATE,
        status_message: format!("Error: duplicate transaction is submitted (id '{id}' was imported {when})."),
        warnings: vec![],
        calculated: None,
    }
}

fn record(
    id: &str,
    policy_number: &str,
    batch_id: &str,
    r: &TxnResult,
    documents: Vec<StoredDocument>,
    department: Option<&str>,
    at: DateTime<Utc>,
) -> TxnRecord {
    TxnRecord {
        id: id.to_string(),
        batch_id: batch_id.to_string(),
        policy_number: policy_number.to_string(),
        status: r.status,
        status_message: r.status_message.clone(),
        warnings: r.warnings.clone(),
        calculated: r.calculated.clone(),
        documents,
        department: department.map(str::to_string),
        at,
        transaction: None,
    }
}
