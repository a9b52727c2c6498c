//! What an import tells the team's webhooks when a batch ends: `IMPORT_BATCH_PROCESSED` with its
//! counts by status, or `IMPORT_BATCH_FAILED` with the reason. The servicing webhooks send them
//! (signature, retries, delivery log, redelivery); [`super::repo::ImportRepo::put_finished`]
//! writes each in the transaction that records the batch's end.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::model::BatchMeta;
use crate::servicing::model::EventType;

/// Why a batch failed, as its event says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// Its import died and its upload was gone when the sweep came to import it again.
    UploadGone,
    /// The uploaded file is no batch (not a JSON array, or too large): why, as its result file
    /// says it.
    InvalidBatch(String),
}

impl Failure {
    pub fn code(&self) -> &'static str {
        match self {
            Failure::UploadGone => "UPLOAD_GONE",
            Failure::InvalidBatch(_) => "INVALID_BATCH",
        }
    }
    pub fn message(&self) -> String {
        match self {
            Failure::UploadGone => "The batch's import stopped and its uploaded file was gone when it was to be \
                                    imported again: send the batch again."
                .into(),
            Failure::InvalidBatch(why) => format!("The uploaded file is not a batch, nothing was imported: {why}"),
        }
    }
}

/// The event of a processed batch: `{batch_id, source, total, imported, status_counts: {"<status
/// code>": n}, finished_at}`.
pub fn processed(meta: &BatchMeta, by_status: &BTreeMap<u16, u64>) -> (EventType, Value) {
    let counts: serde_json::Map<String, Value> = by_status.iter().map(|(s, n)| (s.to_string(), json!(n))).collect();
    let data = json!({
        "batch_id": meta.batch_id,
        "source": meta.source,
        "total": meta.total,
        "imported": meta.imported,
        "status_counts": counts,
        "finished_at": meta.finished_at,
    });
    (EventType::ImportBatchProcessed, data)
}

/// The event of a failed batch: `{batch_id, source, total, done, reason, message}`.
pub fn failed(meta: &BatchMeta, why: &Failure) -> (EventType, Value) {
    let data = json!({
        "batch_id": meta.batch_id,
        "source": meta.source,
        "total": meta.total,
        "done": meta.done,
        "reason": why.code(),
        "message": why.message(),
    });
    (EventType::ImportBatchFailed, data)
}
