//! The import API's views, in seed 002's shapes: one transaction's answer, its record, a batch's
//! answer.

use serde_json::{json, Value};

use super::model::Calculated;
use super::model::{BatchMeta, TxnRecord, TxnResult};
use super::transaction::warnings_json;

impl TxnResult {
    pub fn view(&self) -> Value {
        let mut v = json!({"id": self.id, "policy_number": self.policy_number, "status": self.status, "status_message": self.status_message});
        if !self.warnings.is_empty() {
            v["warnings"] = warnings_json(&self.warnings);
        }
        if let Some(c) = &self.calculated {
            v["calculated"] = c.view();
        }
        v
    }
}

impl TxnRecord {
    pub fn view(&self) -> Value {
        let mut v = json!({
            "id": self.id,
            "batch_id": self.batch_id,
            "policy_number": self.policy_number,
            "status": self.status,
            "status_message": self.status_message,
            "warnings": warnings_json(&self.warnings),
            "calculated": self.calculated.as_ref().map(Calculated::view),
            "department": self.department,
            "documents": self.documents.iter().map(|d| json!({"code": d.code, "id": d.id, "key": d.key, "size": d.size, "content_type": d.content_type, "sha256": d.sha256})).collect::<Vec<_>>(),
            "processed_at": self.at,
        });
        if let Some(t) = &self.transaction {
            v["transaction"] = json!(t);
        }
        v
    }
}

/// The seed's answer: `{batch_id, transactions: [{id, policy_number, status, status_message}]}`
/// (plus `warnings` where there are some, and `status` once processed).
pub fn batch_view(meta: &BatchMeta, results: &[TxnResult]) -> Value {
    json!({
        "batch_id": meta.batch_id,
        "status": meta.status,
        "transactions": results.iter().map(TxnResult::view).collect::<Vec<_>>(),
    })
}

/// A page of a batch's results: the seed's answer, with the batch's `total`, its progress `done`
/// (transactions answered so far) and, while more results remain, the `next_cursor` that reads
/// them.
pub fn results_page(meta: &BatchMeta, page: &[TxnResult], next_cursor: Option<&str>) -> Value {
    let mut v = batch_view(meta, page);
    v["total"] = json!(meta.total);
    v["done"] = json!(meta.done);
    if let Some(c) = next_cursor {
        v["next_cursor"] = json!(c);
    }
    v
}
