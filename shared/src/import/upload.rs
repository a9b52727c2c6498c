//! Batches uploaded as objects: `uploads/<team id>/<name>.json` is imported for that team and the
//! answer written to `results/<team id>/<name>.result.json`. Only who can write to the bucket
//! can upload, so the team named by the key is trusted. The batch id comes from the object's
//! bucket, key and ETag: a second delivery of the same object answers with the same batch.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::model::{BatchMeta, BatchStatus, IMPORT_LEASE};
pub use super::service::Imports;
use super::service::{batch_id_for_object, BatchError, TxnResult, UploadRef};
use crate::objects::{check_key, ObjectError, ObjectMeta};
use crate::types::TeamId;

/// Why an upload was not imported. The S3 function skips what can never be imported
/// ([`UploadError::is_permanent`]) and lets Lambda retry the rest.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    /// The key is not `uploads/<team>/<name>`: nothing to do with it, ever.
    #[error("not an upload: {0}")]
    NotAnUpload(String),
    /// The object was deleted before it was read.
    #[error("the object {0} is gone")]
    Gone(String),
    #[error(transparent)]
    Objects(#[from] ObjectError),
    #[error(transparent)]
    Batch(#[from] BatchError),
}

impl UploadError {
    /// A retry would fail the same way.
    pub fn is_permanent(&self) -> bool {
        matches!(self, UploadError::NotAnUpload(_) | UploadError::Gone(_))
    }

    /// What failed, in words for the result file (no internals).
    pub fn kind(&self) -> &'static str {
        match self {
            UploadError::NotAnUpload(_) | UploadError::Gone(_) => "the object is not an upload",
            UploadError::Objects(_) | UploadError::Batch(BatchError::Objects(_)) => {
                "the bucket could not be read or written"
            }
            UploadError::Batch(BatchError::Store(_)) => "the data store was unavailable",
            UploadError::Batch(BatchError::NotJson(_) | BatchError::NotArray | BatchError::Envelope(_)) => {
                "the batch is not a JSON array"
            }
        }
    }
}

pub const UPLOAD_PREFIX: &str = "uploads/";

/// The largest batch file an upload may be: 50,000 transactions of 10 KB each. It is spooled to
/// the function's `/tmp` (2 GB in template.yaml, beside 16 documents of up to 25 MB and the result
/// file); a larger one is rejected as a whole (`INVALID_BATCH`), never read.
pub const MAX_UPLOAD_BYTES: u64 = 500_000_000;

/// Where an asynchronous POST's batch is stored for the upload path to import:
/// `uploads/<team>/api-<batch id>.json`. Such a name carries its batch id (see
/// [`upload_batch_id`]), so the POST can answer it before the import starts.
pub fn api_upload_key(team: &TeamId, batch_id: &str) -> String {
    format!("{UPLOAD_PREFIX}{team}/api-{batch_id}.json")
}

/// Admits a POSTed batch to the upload path: its body stored as `uploads/<team>/api-<batch
/// id>.json` and the batch recorded `processing`, holding a lease (the function's own bucket; the
/// key names the batch). Should its import never start (a lost notification), the lease runs out
/// and the upload function's sweep imports it. The caller starts the import (`Deps::start_import`
/// with the returned key; in AWS the bucket's notification does).
pub async fn admit(
    imports: &Imports,
    team: &TeamId,
    batch_id: &str,
    body: Vec<u8>,
    total: usize,
) -> Result<(BatchMeta, String), BatchError> {
    let key = api_upload_key(team, batch_id);
    imports.objects.put_bytes(&key, body, &ObjectMeta::plain("application/json")).await?;
    let now = chrono::Utc::now();
    let meta = BatchMeta {
        batch_id: batch_id.to_string(),
        status: BatchStatus::Processing,
        source: "api".into(),
        created_at: now,
        finished_at: None,
        total,
        imported: 0,
        chunks: 0,
        done: 0,
        single: false,
        upload: Some(UploadRef { bucket: String::new(), key: key.clone(), etag: String::new() }),
        lease_until: Some(now + IMPORT_LEASE),
    };
    super::repo::ImportRepo::new(imports.store.clone(), team).put_batch_if_absent(&meta).await?;
    Ok((meta, key))
}

/// The batch of an uploaded object: the id an asynchronous POST named (`api-<32 hex>.json`), else
/// one derived from the object (bucket, key, ETag), so the same object delivered twice is the
/// same batch.
pub fn upload_batch_id(bucket: &str, key: &str, etag: &str) -> String {
    let named = key
        .rsplit('/')
        .next()
        .and_then(|name| name.strip_prefix("api-")?.strip_suffix(".json"))
        .filter(|id| id.len() == 32 && id.chars().all(|c| c.is_ascii_hexdigit()));
    match named {
        Some(id) => id.to_string(),
        None => batch_id_for_object(bucket, key, etag),
    }
}

/// What stands for an S3 ETag where there is none (the CLI's file): the content's SHA-256, hex,
/// read as a stream.
pub fn content_tag(mut content: impl std::io::Read) -> std::io::Result<String> {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    std::io::copy(&mut content, &mut h)?;
    Ok(hex::encode(h.finalize()))
}
pub const RESULT_PREFIX: &str = "results/";

/// What an upload became.
#[derive(Debug, Clone, PartialEq)]
pub struct UploadOutcome {
    pub batch_id: String,
    pub result_key: String,
    pub total: usize,
    pub imported: usize,
    /// The batch as a whole was refused (not JSON, not an array): nothing imported.
    pub rejected: bool,
}

/// The team and result key of an upload key, or why it is not one.
pub fn parse_upload_key(key: &str) -> Result<(TeamId, String), UploadError> {
    let not = |why: &str| UploadError::NotAnUpload(why.to_string());
    check_key(key).map_err(|e| not(&e.to_string()))?;
    let rest = key.strip_prefix(UPLOAD_PREFIX).ok_or_else(|| not("not under uploads/"))?;
    let (team, name) = rest.split_once('/').ok_or_else(|| not("expected uploads/<team>/<name>"))?;
    if name.contains('/') || team.is_empty() || name.is_empty() || !crate::types::usable_id(team) {
        return Err(not("expected uploads/<team>/<name>"));
    }
    let stem = name.strip_suffix(".json").unwrap_or(name);
    Ok((TeamId::new(team), format!("{RESULT_PREFIX}{team}/{stem}.result.json")))
}

/// Imports one uploaded object and writes its result beside it.
pub async fn import_object(
    deps: &Imports,
    bucket: &str,
    key: &str,
    etag: &str,
    progress: &(dyn Fn(usize, usize) + Send + Sync),
) -> Result<UploadOutcome, UploadError> {
    let (team, result_key) = parse_upload_key(key)?;
    let batch_id = upload_batch_id(bucket, key, etag);
    let upload = UploadRef { bucket: bucket.to_string(), key: key.to_string(), etag: etag.to_string() };
    match import_to(deps, upload, &team, &batch_id, &result_key, progress).await {
        Err(e) if !e.is_permanent() => {
            // Lambda retries the event (and, past its retries, the failure queue keeps it): the
            // result file says so meanwhile; a later success overwrites it. If even this write
            // fails, the event's error still stands.
            let answer = serde_json::json!({
                "batch_id": batch_id,
                "status": "failed",
                "error": "IMPORT_FAILED",
                "message": format!("The import could not complete ({}); it is retried automatically.", e.kind()),
                "transactions": [],
            });
            // A redelivered event of an upload imported before keeps that batch's answer. When
            // the store cannot say (it is what failed), the result file can (read whole: rare).
            let repo = super::repo::ImportRepo::new(deps.store.clone(), &team);
            let done_before = match repo.batch(&batch_id).await {
                Ok(found) => found.is_some_and(|m| m.status == BatchStatus::Processed),
                Err(_) => match deps.objects.get_bytes(&result_key).await {
                    Ok(Some(bytes)) => serde_json::from_slice::<Value>(&bytes)
                        .is_ok_and(|v| v["batch_id"] == batch_id.as_str() && v["status"] == "processed"),
                    _ => false,
                },
            };
            if !done_before {
                if let Err(w) = write_result(deps, &result_key, &answer).await {
                    tracing::warn!(error = %w, "could not write the failed import's result");
                }
            }
            Err(e)
        }
        other => other,
    }
}

/// Local files an import spools (the upload, its result file), removed however it ends.
struct Spooled(Vec<PathBuf>);

impl Drop for Spooled {
    fn drop(&mut self) {
        for p in &self.0 {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// The upload's result file, written to a spool file as the import goes (a window of results at
/// a time, never the whole batch in memory) and stored once complete: the seed's answer
/// `{"batch_id", "status", "transactions": [...]}`, one transaction a line.
struct ResultFile {
    w: std::io::BufWriter<std::fs::File>,
    first: bool,
}

impl ResultFile {
    fn create(path: &Path, batch_id: &str) -> std::io::Result<ResultFile> {
        let mut w = std::io::BufWriter::with_capacity(1 << 16, std::fs::File::create(path)?);
        write!(w, "{{\"batch_id\": {}, \"status\": \"processed\", \"transactions\": [", Value::from(batch_id))?;
        Ok(ResultFile { w, first: true })
    }

    fn append(&mut self, results: &[TxnResult]) -> std::io::Result<()> {
        for r in results {
            self.w.write_all(if self.first { b"\n" } else { b",\n" })?;
            self.first = false;
            serde_json::to_writer(&mut self.w, &r.view())?;
        }
        Ok(())
    }

    fn finish(mut self) -> std::io::Result<()> {
        self.w.write_all(b"\n]}\n")?;
        self.w.flush()
    }
}

/// The upload imported as batch `batch_id` of `team`, its answer written to `result_key`.
async fn import_to(
    deps: &Imports,
    upload: UploadRef,
    team: &TeamId,
    batch_id: &str,
    result_key: &str,
    progress: &(dyn Fn(usize, usize) + Send + Sync),
) -> Result<UploadOutcome, UploadError> {
    let io = |e: std::io::Error| UploadError::Objects(ObjectError::Backend(e.to_string()));
    let spool = deps.spool.clone();
    crate::spool::ready(&spool).map_err(io)?;
    let name = crate::crypto::uuid().map_err(|e| ObjectError::Backend(e.to_string()))?;
    let (upload_file, result_file) =
        (spool.join(format!("upload-{name}.json")), spool.join(format!("result-{name}.json")));
    let _spooled = Spooled(vec![upload_file.clone(), result_file.clone()]);
    let size = deps
        .objects
        .get_file(&upload.key, &upload_file, deps.max_upload_bytes)
        .await?
        .ok_or_else(|| UploadError::Gone(upload.key.clone()))?;
    // Refused as a whole: the result file says why, nothing is imported; the batch is recorded
    // failed, which tells the team's webhooks (IMPORT_BATCH_FAILED, once however often the
    // upload is delivered).
    let source = format!("s3://{}/{}", upload.bucket, upload.key);
    let uploaded = upload.clone();
    let reject = async |message: String| {
        let answer = serde_json::json!({"batch_id": batch_id, "status": "rejected", "error": "INVALID_BATCH", "message": message, "transactions": []});
        write_result(deps, result_key, &answer).await?;
        let now = chrono::Utc::now();
        let failed = super::service::BatchMeta {
            batch_id: batch_id.to_string(),
            status: BatchStatus::Failed,
            source: source.clone(),
            created_at: now,
            finished_at: Some(now),
            total: 0,
            imported: 0,
            chunks: 0,
            done: 0,
            single: false,
            upload: Some(uploaded.clone()),
            lease_until: None,
        };
        let event = super::events::failed(&failed, &super::events::Failure::InvalidBatch(message));
        let repo = super::repo::ImportRepo::new(deps.store.clone(), team);
        repo.put_finished(&failed, event).await.map_err(BatchError::Store)?;
        let (batch_id, result_key) = (batch_id.to_string(), result_key.to_string());
        Ok(UploadOutcome { batch_id, result_key, total: 0, imported: 0, rejected: true })
    };
    if size > deps.max_upload_bytes {
        let max = deps.max_upload_bytes;
        return reject(format!("The batch file is {size} bytes; an upload may be at most {max} bytes.")).await;
    }
    let importer = deps.importer(team);
    let mut out = ResultFile::create(&result_file, batch_id).map_err(io)?;
    let mut append = |results: &[TxnResult]| {
        out.append(results).map_err(|e| BatchError::Objects(ObjectError::Backend(e.to_string())))
    };
    let run = super::service::Run { batch_id, source: &source, progress };
    match importer.import_file(run, &upload_file, upload, &mut append).await {
        Ok(meta) => {
            out.finish().map_err(io)?;
            let meta_json = ObjectMeta { content_type: "application/json".into(), sha256: String::new() };
            deps.objects.put_file(result_key, &result_file, &meta_json).await?;
            let (batch_id, result_key) = (batch_id.to_string(), result_key.to_string());
            Ok(UploadOutcome { batch_id, result_key, total: meta.total, imported: meta.imported, rejected: false })
        }
        Err(e @ (BatchError::NotJson(_) | BatchError::NotArray)) => reject(e.to_string()).await,
        Err(e) => Err(e.into()),
    }
}

async fn write_result(deps: &Imports, key: &str, v: &Value) -> Result<(), UploadError> {
    let bytes = serde_json::to_vec_pretty(v).map_err(|e| ObjectError::Backend(e.to_string()))?;
    Ok(deps.objects.put_bytes(key, bytes, &ObjectMeta::plain("application/json")).await?)
}

/// Imports again every batch left processing past its lease (its import died: a crash, a
/// timeout, a lost notification), from its upload, at most `limit` of them; how many it
/// finished. The upload function runs it on a schedule; the local server every minute.
pub async fn resume_stale(deps: &Imports, limit: usize) -> Result<usize, UploadError> {
    let stale =
        super::repo::stale_batches(deps.store.as_ref(), chrono::Utc::now(), limit).await.map_err(BatchError::Store)?;
    let mut finished = 0;
    for s in stale {
        let Some(upload) = s.meta.upload.clone() else { continue };
        tracing::info!(batch = %s.meta.batch_id, "resuming a batch whose import died");
        match import_object(deps, &upload.bucket, &upload.key, &upload.etag, &|_, _| {}).await {
            Ok(_) => finished += 1,
            Err(e) if e.is_permanent() => {
                // The upload is gone: nothing can finish the batch; say so on it.
                tracing::warn!(batch = %s.meta.batch_id, error = %e, "a stale batch cannot be resumed");
                let repo = super::repo::ImportRepo::new(deps.store.clone(), &s.team);
                let failed =
                    super::service::BatchMeta { status: BatchStatus::Failed, lease_until: None, ..s.meta.clone() };
                let event = super::events::failed(&failed, &super::events::Failure::UploadGone);
                repo.put_finished(&failed, event).await.map_err(BatchError::Store)?;
            }
            Err(e) => return Err(e),
        }
    }
    Ok(finished)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upload_keys_name_the_team_and_the_result() {
        assert_eq!(
            parse_upload_key("uploads/local/2026-11-22.json").unwrap(),
            (TeamId::new("local"), "results/local/2026-11-22.result.json".to_string())
        );
        for bad in
            ["results/local/x.json", "uploads/x.json", "uploads/a/b/c.json", "uploads/../x.json", "uploads/a b/x.json"]
        {
            assert!(parse_upload_key(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn an_asynchronous_post_names_its_batch_and_any_other_upload_is_its_object() {
        let id = "0123456789abcdef0123456789abcdef";
        let key = api_upload_key(&TeamId::new("local"), id);
        assert_eq!(key, format!("uploads/local/api-{id}.json"));
        assert_eq!(upload_batch_id("b", &key, "etag-1"), id);
        assert!(parse_upload_key(&key).is_ok());
        // Not 32 hex digits: an ordinary upload, its batch from bucket, key and ETag.
        for name in ["uploads/local/api-short.json", "uploads/local/daily.json"] {
            assert_eq!(upload_batch_id("b", name, "e"), batch_id_for_object("b", name, "e"));
            assert_ne!(upload_batch_id("b", name, "e"), upload_batch_id("b", name, "f"));
        }
    }
}
