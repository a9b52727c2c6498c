//! Batches uploaded as objects: `uploads/<team id>/<name>.json` is imported for that team and the
//! answer written to `results/<team id>/<name>.result.json`. Only who can write to the bucket
//! can upload, so the team named by the key is trusted. The batch id comes from the object's
//! bucket, key and ETag: a second delivery of the same object answers with the same batch.

use serde_json::Value;

use super::service::{batch_id_for_object, batch_view, BatchError, Importer};
use crate::deps::Deps;
use crate::objects::check_key;

pub const UPLOAD_PREFIX: &str = "uploads/";
pub const RESULT_PREFIX: &str = "results/";

/// What an upload became.
#[derive(Debug, Clone, PartialEq)]
pub struct UploadOutcome {
    pub batch_id: String,
    pub result_key: String,
    pub total: usize,
    pub imported: usize,
}

/// The team and result key of an upload key, or why it is not one.
pub fn parse_upload_key(key: &str) -> Result<(String, String), String> {
    check_key(key).map_err(|e| e.to_string())?;
    let rest = key.strip_prefix(UPLOAD_PREFIX).ok_or("not under uploads/")?;
    let (team, name) = rest.split_once('/').ok_or("expected uploads/<team>/<name>")?;
    if name.contains('/') || team.is_empty() || name.is_empty() {
        return Err("expected uploads/<team>/<name>".into());
    }
    let stem = name.strip_suffix(".json").unwrap_or(name);
    Ok((team.to_string(), format!("{RESULT_PREFIX}{team}/{stem}.result.json")))
}

/// Imports one uploaded object and writes its result beside it.
pub async fn import_object(
    deps: &Deps,
    bucket: &str,
    key: &str,
    etag: &str,
    progress: &(dyn Fn(usize, usize) + Send + Sync),
) -> Result<UploadOutcome, String> {
    let (team, result_key) = parse_upload_key(key)?;
    let body = deps.objects.get_bytes(key).await.map_err(|e| e.to_string())?.ok_or("the object is gone")?;
    let fetcher = deps.fetcher().await?;
    let importer =
        Importer { store: deps.store.clone(), objects: deps.objects.clone(), fetcher, team, spool: deps.spool_dir() };
    let batch_id = batch_id_for_object(bucket, key, etag);
    let answer: Value = match importer.import(&batch_id, &body, &format!("s3://{bucket}/{key}"), progress).await {
        Ok((meta, results)) => {
            let v = batch_view(&meta, &results);
            let out = UploadOutcome {
                batch_id: batch_id.clone(),
                result_key: result_key.clone(),
                total: meta.total,
                imported: meta.imported,
            };
            write_result(deps, &result_key, &v).await?;
            return Ok(out);
        }
        Err(e @ (BatchError::NotJson(_) | BatchError::NotArray)) => {
            serde_json::json!({"batch_id": batch_id, "status": "rejected", "error": "INVALID_BATCH", "message": e.to_string(), "transactions": []})
        }
        Err(e) => return Err(e.to_string()),
    };
    write_result(deps, &result_key, &answer).await?;
    Ok(UploadOutcome { batch_id, result_key, total: 0, imported: 0 })
}

async fn write_result(deps: &Deps, key: &str, v: &Value) -> Result<(), String> {
    let bytes = serde_json::to_vec_pretty(v).map_err(|e| e.to_string())?;
    deps.objects.put_bytes(key, bytes, "application/json").await.map_err(|e| e.to_string())
}

/// The objects named by an S3 event: `(bucket, key, etag)`, keys decoded.
pub fn s3_records(event: &Value) -> Option<Vec<(String, String, String)>> {
    let records = event.get("Records")?.as_array()?;
    Some(
        records
            .iter()
            .filter(|r| r.get("eventSource").and_then(Value::as_str) == Some("aws:s3"))
            .filter_map(|r| {
                let bucket = r.pointer("/s3/bucket/name")?.as_str()?.to_string();
                let raw = r.pointer("/s3/object/key")?.as_str()?.replace('+', " ");
                let key = percent_encoding::percent_decode_str(&raw).decode_utf8().ok()?.into_owned();
                let etag = r.pointer("/s3/object/eTag").and_then(Value::as_str).unwrap_or("").to_string();
                Some((bucket, key, etag))
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upload_keys_name_the_team_and_the_result() {
        assert_eq!(
            parse_upload_key("uploads/local/2026-11-22.json").unwrap(),
            ("local".to_string(), "results/local/2026-11-22.result.json".to_string())
        );
        for bad in
            ["results/local/x.json", "uploads/x.json", "uploads/a/b/c.json", "uploads/../x.json", "uploads/a b/x.json"]
        {
            assert!(parse_upload_key(bad).is_err(), "{bad}");
        }
    }
}
