//! Importing a batch, a window of [`WINDOW`] transactions at a time: every transaction read and
//! assessed on its own (one bad transaction never sinks the rest), ids already imported refused
//! (3001), documents fetched concurrently into the object store, then one record per transaction
//! and the window's results written. An upload is read from its file as a stream
//! ([`super::stream`]), so memory stays flat in the batch's size.
//!
//! What is stored, and under which keys, is [`super::repo`]'s alone.
//!
//! A batch id is random for a POST and derived from the object (bucket, key, ETag) for an S3
//! upload, so the same object delivered twice gives the same batch: a finished batch answers with
//! its stored results; an unfinished one (a crash mid-way) runs again, and its own transactions
//! come back as imported, not as duplicates.

use std::collections::{HashSet, VecDeque};
use std::path::Path;
use std::sync::Arc;

use crate::fields::Raws;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use super::importer::Outcome;
use super::records::duplicate;
use super::repo::CHUNK;
use super::stream::{self, WINDOW};
use super::transaction::{self, assess, status, Rejected};
use crate::objects::ObjectError;
use crate::store::StoreError;

pub use super::documents::document_prefix;
pub use super::importer::{Importer, Imports, Run};
pub use super::model::{
    BatchError, BatchMeta, BatchStatus, StoredDocument, TxnRecord, TxnResult, UploadRef, FETCH_CONCURRENCY,
    IMPORT_LEASE, MAX_TRANSACTIONS,
};

/// A random batch id in the seed's style (32 hex digits).
pub fn new_batch_id() -> Result<String, crate::crypto::CryptoError> {
    Ok(hex::encode(crate::crypto::random_bytes::<16>()?))
}

/// The batch id of an uploaded object: the same object always gives the same batch.
pub fn batch_id_for_object(bucket: &str, key: &str, etag: &str) -> String {
    let mut h = Sha256::new();
    h.update(format!("{bucket}\n{key}\n{etag}").as_bytes());
    hex::encode(&h.finalize()[..16])
}

impl Importer {
    /// Imports `body` (the seed's array, in memory: a POST) as the new batch `batch_id` (a POST's
    /// id is random: no batch has it yet, so nothing is read to find one), a window at a time;
    /// `progress(done, total)` is called as transactions finish.
    pub async fn import(
        &self,
        batch_id: &str,
        body: &[u8],
        source: &str,
        progress: &(dyn Fn(usize, usize) + Send + Sync),
    ) -> Result<(BatchMeta, Vec<TxnResult>), BatchError> {
        let mut windows = VecDeque::new();
        let total = stream::each_window(body, |window| {
            windows.push_back(window);
            Ok(())
        })?;
        let mut results = Vec::with_capacity(total);
        let run = Run { batch_id, source, progress };
        let meta = self
            .import_windows(&run, total, None, Windows::Memory(windows), false, &mut |window| {
                results.extend_from_slice(window);
                Ok(())
            })
            .await?;
        Ok((meta, results))
    }

    /// Imports the batch in the file at `path` (an upload, spooled to disk) as batch `batch_id`,
    /// reading it as a stream: checked whole first (a file that is not a batch writes nothing),
    /// then imported a window at a time, so memory stays flat in the batch's size. The batch
    /// names its upload and holds a lease while it runs, so the upload function's sweep can
    /// import it again if this import dies. `out` gets the results in batch order, a window at a
    /// time (a batch processed before hands over its stored results).
    pub async fn import_file(
        &self,
        run: Run<'_>,
        path: &Path,
        upload: UploadRef,
        out: &mut (dyn FnMut(&[TxnResult]) -> Result<(), BatchError> + Send),
    ) -> Result<BatchMeta, BatchError> {
        let batch_id = run.batch_id;
        let file = path.to_path_buf();
        let total = tokio::task::spawn_blocking(move || {
            let f = std::fs::File::open(&file).map_err(|e| ObjectError::Backend(e.to_string()))?;
            stream::count(f)
        })
        .await
        .map_err(|e| ObjectError::Backend(e.to_string()))??;
        let repo = self.repo();
        let found = repo.batch(batch_id).await?;
        if let Some(meta) = found.as_ref() {
            if meta.status == BatchStatus::Processed {
                let mut from = 0;
                loop {
                    let (page, next) = repo.results_page(meta, from, WINDOW, &|_| true).await?;
                    out(&page)?;
                    match next {
                        Some(i) => from = i,
                        None => return Ok(meta.clone()),
                    }
                }
            }
        }
        // Found begun and still processing: an earlier run died (a redelivery, the sweep,
        // `coverdesk import` run again), so its documents are asked for before they are fetched.
        // An admitted batch (POSTed in the background) is found too, but no run has begun it.
        let rerun = found.as_ref().is_some_and(BatchMeta::begun);
        let windows = Windows::File(stream::windows(path.to_path_buf()));
        self.import_windows(&run, total, Some(upload), windows, rerun, out).await
    }

    /// The import itself: the batch marked processing (while the first window is screened), then
    /// each window of transactions assessed, checked against the ids seen before (in this batch
    /// and imported earlier), its documents fetched, its records and results written and handed
    /// to `out`; then the batch marked processed. Holds one window at a time (and a 16-byte digest per id seen).
    /// `rerun`: an earlier run of the batch died ([`Importer::fetch_documents`]).
    async fn import_windows(
        &self,
        run: &Run<'_>,
        total: usize,
        upload: Option<UploadRef>,
        mut windows: Windows,
        rerun: bool,
        out: &mut (dyn FnMut(&[TxnResult]) -> Result<(), BatchError> + Send),
    ) -> Result<BatchMeta, BatchError> {
        let Run { batch_id, source, progress } = *run;
        let now = Utc::now();
        let mut seen = HashSet::new();
        // The first window is read, assessed and checked against the ids imported before while
        // the batch is marked processing: the mark writes only the batch's record and the
        // screening only reads, and nothing else is written until both have ended, so the import
        // waits one round trip less. Both run to their end (`join!`, not `try_join!`): a window
        // that cannot be read never cuts the mark off half-way; the mark's error comes first.
        let first = async {
            match windows.next().await {
                Some(window) => Ok::<_, BatchError>(Some(self.screen(batch_id, window?, &mut seen).await?)),
                None => Ok(None),
            }
        };
        let (meta, first) = tokio::join!(self.begin(batch_id, source, total, now, upload), first);
        let (mut meta, mut first) = (meta?, first?);
        let repo = self.repo();
        let mut by_status = std::collections::BTreeMap::<u16, u64>::new();
        let done = std::sync::atomic::AtomicUsize::new(0);
        let finished = |n: usize| progress(done.fetch_add(n, std::sync::atomic::Ordering::Relaxed) + n, total);
        let mut read = 0;
        loop {
            let outcomes = match first.take() {
                Some(outcomes) => outcomes,
                None => match windows.next().await {
                    Some(window) => self.screen(batch_id, window?, &mut seen).await?,
                    None => break,
                },
            };
            finished(outcomes.iter().filter(|o| !matches!(o, Outcome::Accepted(_))).count());
            let docs = self.fetch_documents(&outcomes, rerun).await?;
            let results = self.record(batch_id, outcomes, docs, now, &finished).await?;
            repo.put_results(batch_id, read / CHUNK, &results).await?;
            for r in &results {
                *by_status.entry(r.status).or_default() += 1;
            }
            out(&results)?;
            read += results.len();
            if read < total {
                // Progress for readers of a batch still processing.
                meta.done = read;
                repo.put_batch(&meta, 1).await?;
            }
        }
        if read != total {
            return Err(BatchError::Objects(ObjectError::Backend(format!(
                "the batch changed while it was read ({total} transactions counted, {read} read)"
            ))));
        }
        meta.imported = by_status.get(&status::OK).copied().unwrap_or(0) as usize;
        self.finish(&mut meta, &by_status).await?;
        tracing::info!(batch = %batch_id, total, imported = meta.imported, "batch imported");
        for (status, n) in by_status {
            let about = [("team", self.team.as_str()), ("batch_id", batch_id)];
            crate::metrics::count("ImportTransactions", "status", &status.to_string(), n, &about);
        }
        Ok(meta)
    }

    /// A window's transactions, each assessed on its own, an id seen before in the batch refused,
    /// and those imported before found (one read each): what to fetch and record.
    async fn screen(&self, batch_id: &str, window: Raws, seen: &mut HashSet<u128>) -> Result<Vec<Outcome>, BatchError> {
        let mut outcomes = assess_each(window.iter());
        drop(window);
        mark_repeated_ids(&mut outcomes, seen);
        self.mark_imported_before(batch_id, &mut outcomes).await?;
        Ok(outcomes)
    }

    /// The batch marked `processing` before any transaction is recorded.
    async fn begin(
        &self,
        batch_id: &str,
        source: &str,
        total: usize,
        now: DateTime<Utc>,
        upload: Option<UploadRef>,
    ) -> Result<BatchMeta, BatchError> {
        let lease_until = upload.is_some().then(|| now + IMPORT_LEASE);
        let meta = BatchMeta {
            batch_id: batch_id.to_string(),
            status: BatchStatus::Processing,
            source: source.to_string(),
            created_at: now,
            finished_at: None,
            total,
            imported: 0,
            chunks: total.div_ceil(CHUNK),
            done: 0,
            single: false,
            upload,
            lease_until,
        };
        self.repo().put_batch(&meta, 1).await?;
        Ok(meta)
    }

    /// Ids imported before: 3001, unless by this very batch (a rerun: its own, done).
    pub(super) async fn mark_imported_before(
        &self,
        batch_id: &str,
        outcomes: &mut [Outcome],
    ) -> Result<(), BatchError> {
        let mut set = tokio::task::JoinSet::new();
        let sem = Arc::new(tokio::sync::Semaphore::new(32));
        for (i, o) in outcomes.iter().enumerate() {
            if let Outcome::Accepted(a) = o {
                let (repo, id, sem) = (self.repo(), a.transaction.id.clone(), sem.clone());
                set.spawn(async move {
                    let _permit = sem.acquire_owned().await;
                    (i, repo.imported(&id).await)
                });
            }
        }
        while let Some(joined) = set.join_next().await {
            let (i, found) = joined.map_err(|e| StoreError::Backend(e.to_string()))?;
            if let Some(rec) = found? {
                outcomes[i] = if rec.batch_id == batch_id {
                    Outcome::Done(TxnResult {
                        id: Some(rec.id),
                        policy_number: Some(rec.policy_number),
                        status: status::OK,
                        status_message: "Success".into(),
                        warnings: rec.warnings,
                        calculated: rec.calculated,
                    })
                } else {
                    Outcome::Rejected(duplicate(&rec.id, &rec.policy_number, &format!("in batch {}", rec.batch_id)))
                };
            }
        }
        Ok(())
    }

    /// The batch marked processed, once every result chunk is written (readers see all or
    /// nothing), with its `IMPORT_BATCH_PROCESSED` event.
    async fn finish(
        &self,
        meta: &mut BatchMeta,
        by_status: &std::collections::BTreeMap<u16, u64>,
    ) -> Result<(), BatchError> {
        let repo = self.repo();
        meta.status = BatchStatus::Processed;
        meta.finished_at = Some(Utc::now());
        meta.done = meta.total;
        meta.lease_until = None;
        repo.put_finished(meta, super::events::processed(meta, by_status)).await?;
        Ok(())
    }
}

/// How many transactions a batch holds, or why it is not a batch (nothing written): the same
/// reading an upload gets ([`stream::count`]).
pub fn count_batch(body: &[u8]) -> Result<usize, BatchError> {
    stream::count(body)
}

/// A batch's transactions a window at a time: read from memory (a POST) or parsed from a file
/// as the import goes (an upload).
enum Windows {
    Memory(VecDeque<Raws>),
    File(tokio::sync::mpsc::Receiver<Result<Raws, BatchError>>),
}

impl Windows {
    async fn next(&mut self) -> Option<Result<Raws, BatchError>> {
        match self {
            Windows::Memory(windows) => windows.pop_front().map(Ok),
            Windows::File(rx) => rx.recv().await,
        }
    }
}

/// Each transaction read and assessed on its own: one bad transaction never sinks the rest.
pub(super) fn assess_each<'r, R: Into<crate::fields::Raw<'r>>>(elements: impl IntoIterator<Item = R>) -> Vec<Outcome> {
    elements
        .into_iter()
        .map(|raw| {
            let (labels, read) = transaction::read(raw);
            match read.and_then(assess) {
                Ok(a) => Outcome::Accepted(Box::new(a)),
                Err(Rejected { status, message }) => {
                    let (id, policy_number) = labels.read();
                    Outcome::Rejected(TxnResult {
                        id,
                        policy_number,
                        status,
                        status_message: message,
                        warnings: vec![],
                        calculated: None,
                    })
                }
            }
        })
        .collect()
}

/// The same id twice in one batch: the later ones are duplicates. `seen` holds the ids of the
/// windows before, as 128-bit digests (16 bytes each, not the ids themselves: 50,000 of them
/// take under 2 MB).
fn mark_repeated_ids(outcomes: &mut [Outcome], seen: &mut HashSet<u128>) {
    for o in outcomes.iter_mut() {
        if let Outcome::Accepted(a) = o {
            let digest = Sha256::digest(a.transaction.id.as_bytes());
            let mut first = [0u8; 16];
            first.copy_from_slice(&digest[..16]);
            if !seen.insert(u128::from_be_bytes(first)) {
                *o = Outcome::Rejected(duplicate(
                    &a.transaction.id,
                    &a.transaction.policy_number,
                    "earlier in this batch",
                ));
            }
        }
    }
}
