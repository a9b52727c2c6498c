//! A transaction's documents fetched into the object store: their keys (under the team and the
//! transaction, named by code and source URL), and what a transaction that is not recorded leaves
//! behind (nothing).

use crate::types::TeamId;
use std::collections::HashMap;
use std::sync::Arc;

use sha2::{Digest, Sha256};
use tokio::time::Instant;

use super::importer::{Importer, Imports, Outcome};
use super::model::{BatchError, Document, StoredDocument, FETCH_CONCURRENCY};
use super::repo::ImportRepo;
use crate::objects::{ObjectMeta, ObjectStore};
use crate::store::StoreError;

/// A key segment naming a transaction: its id when that is key-safe, else a digest of it.
fn key_segment(id: &str) -> String {
    if !id.is_empty()
        && id.len() <= 100
        && id.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        && id != "."
        && id != ".."
    {
        id.to_string()
    } else {
        hex::encode(&Sha256::digest(id.as_bytes())[..12])
    }
}

/// Where a transaction's documents are stored: under the team and the transaction, not the
/// batch, so a rerun after a crash (or the batch sent again) finds what it stored before.
pub fn document_prefix(team: &TeamId, transaction_id: &str) -> String {
    format!("documents/{}/{}", key_segment(team.as_str()), key_segment(transaction_id))
}

/// The part of a document's key that names its source: the same transaction's document from
/// another URL is another object.
fn url_tag(url: &str) -> String {
    hex::encode(&Sha256::digest(url.as_bytes())[..6])
}

/// Deletes the documents a transaction stored and will not record, but never one an imported
/// record of that transaction references: document keys are the transaction's, so a batch
/// importing the same transaction at the same time holds the very same keys. When the record
/// cannot be read, the documents stay (a rerun reuses them).
pub(super) async fn discard<'k>(
    objects: &dyn ObjectStore,
    repo: &ImportRepo,
    id: &str,
    keys: impl Iterator<Item = &'k str>,
) {
    let kept: Vec<String> = match repo.imported(id).await {
        Ok(Some(rec)) => rec.documents.into_iter().map(|d| d.key).collect(),
        Ok(None) => vec![],
        Err(_) => return,
    };
    for key in keys.filter(|k| !kept.iter().any(|x| x == k)) {
        let _ = objects.delete(key).await;
    }
}

impl Importer {
    /// The documents of the accepted transactions, fetched a few at a time into the object store;
    /// per transaction, what was stored or why it failed (nothing left behind then). `rerun`: the
    /// batch's earlier run died, so its documents are likely stored: each is asked for (HEAD)
    /// before it is fetched ([`store_document`]).
    pub(super) async fn fetch_documents(
        &self,
        outcomes: &[Outcome],
        rerun: bool,
    ) -> Result<HashMap<usize, Result<Vec<StoredDocument>, String>>, BatchError> {
        let mut docs: HashMap<usize, Result<Vec<StoredDocument>, String>> = HashMap::new();
        let mut set = tokio::task::JoinSet::new();
        let sem = Arc::new(tokio::sync::Semaphore::new(FETCH_CONCURRENCY));
        // Inside a request, every document must be stored by the budget's end.
        let deadline = self.ports.limits.budget.map(|b| Instant::now() + b);
        for (i, o) in outcomes.iter().enumerate() {
            if let Outcome::Accepted(a) = o {
                let t = a.transaction.clone();
                let (imp, sem) = (self.clone(), sem.clone());
                set.spawn(async move {
                    (i, imp.store_all(&t.id, &t.transaction_documents, 0, &sem, deadline, rerun).await)
                });
            }
        }
        while let Some(joined) = set.join_next().await {
            let (i, r) = joined.map_err(|e| StoreError::Backend(e.to_string()))?;
            docs.insert(i, r);
        }
        Ok(docs)
    }
}

impl Importer {
    /// The documents `docs` of transaction `id` in the object store, at key positions `first`
    /// onwards, all at once as `sem` permits (a transaction's first answer waits for its slowest
    /// document, not for the sum of them); once one fails, those not yet started are not fetched,
    /// those stored are removed once every one has ended (never one an imported record names),
    /// and the answer names the first in order that failed, and why. `rerun` as in
    /// [`Importer::fetch_documents`].
    pub(super) async fn store_all(
        &self,
        id: &str,
        docs: &[Document],
        first: usize,
        sem: &Arc<tokio::sync::Semaphore>,
        deadline: Option<Instant>,
        rerun: bool,
    ) -> Result<Vec<StoredDocument>, String> {
        let prefix = document_prefix(&self.team, id);
        let keys: Vec<String> = docs.iter().enumerate().map(|(i, d)| document_key(&prefix, first + i, d)).collect();
        let failed = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut set = tokio::task::JoinSet::new();
        for (i, d) in docs.iter().enumerate() {
            let (imp, sem, d, key, failed) = (self.clone(), sem.clone(), d.clone(), keys[i].clone(), failed.clone());
            set.spawn(async move {
                let _permit = sem.acquire().await;
                if failed.load(std::sync::atomic::Ordering::SeqCst) {
                    return (i, Slot::Skipped);
                }
                match store_document(&imp.ports, &d, key, deadline, rerun).await {
                    Ok(s) => (i, Slot::Stored(s)),
                    Err(why) => {
                        failed.store(true, std::sync::atomic::Ordering::SeqCst);
                        (i, Slot::Failed(why))
                    }
                }
            });
        }
        let mut each: Vec<Slot> = docs.iter().map(|_| Slot::Lost).collect();
        while let Some(joined) = set.join_next().await {
            match joined {
                Ok((i, slot)) => each[i] = slot,
                Err(e) => tracing::warn!(error = %e, "a document's task failed"),
            }
        }
        let mut stored = Vec::with_capacity(docs.len());
        let (mut failure, mut lost) = (None, Vec::new());
        for (i, slot) in each.into_iter().enumerate() {
            match slot {
                Slot::Stored(s) => stored.push(s),
                Slot::Failed(why) => failure = failure.or(Some((i, why))),
                Slot::Skipped => {}
                // A task that panicked may have stored its document: its key is removed too.
                Slot::Lost => {
                    lost.push(keys[i].as_str());
                    failure = failure.or(Some((i, "an internal error stopped it; try again".to_string())));
                }
            }
        }
        if let Some((i, why)) = failure {
            // Leave nothing behind.
            let keys = stored.iter().map(|s| s.key.as_str()).chain(lost);
            discard(self.ports.objects.as_ref(), &self.repo(), id, keys).await;
            return Err(format!(
                "Error: document '{}' (transaction_documents[{i}]) could not be fetched: {why}.",
                docs[i].code
            ));
        }
        Ok(stored)
    }
}

/// What became of one document of a transaction in [`Importer::store_all`].
enum Slot {
    Stored(StoredDocument),
    Failed(String),
    /// Not started: another document of the transaction failed first.
    Skipped,
    /// Its task never reported (it panicked): it may have stored its document.
    Lost,
}

/// A document's key: its transaction's prefix, its position, its code and its source's digest.
pub(super) fn document_key(prefix: &str, position: usize, d: &Document) -> String {
    format!("{prefix}/{position:02}-{}-{}", key_segment(&d.code), url_tag(&d.url))
}

/// Whether `key` is the stored copy of `d` (at whatever position): its code and source match.
pub(super) fn holds(key: &str, d: &Document) -> bool {
    key.ends_with(&format!("-{}-{}", key_segment(&d.code), url_tag(&d.url)))
}

/// One document in the object store under `key`: fetched (by `deadline`, inside a request) and
/// stored if nothing is stored there yet, in one request; else the copy stored there before (the
/// transaction sent again in another batch after a crash), also when its URL no longer answers;
/// else why not. A first run makes one GET of the URL and one PUT, no HEAD: the store says
/// whether the key was free ([`ObjectStore::put_new`]). A `rerun` of a batch that died asks for
/// the stored copy first (a HEAD), so what the dead run stored is not fetched again.
async fn store_document(
    ports: &Imports,
    d: &Document,
    key: String,
    deadline: Option<Instant>,
    rerun: bool,
) -> Result<StoredDocument, String> {
    let Imports { objects, fetcher, spool, limits, .. } = ports;
    let (objects, fetcher) = (objects.as_ref(), fetcher.as_ref());
    if rerun {
        if let Some(stored) = stored_before(objects, d, key.clone()).await {
            return Ok(stored);
        }
    }
    let fetched = match deadline {
        Some(at) => tokio::time::timeout_at(at, crate::fetch::fetch(fetcher, &d.url, spool, limits))
            .await
            .unwrap_or_else(|_| {
                Err(crate::fetch::FetchError::Network(
                    "the request's time ran out (upload batches whose documents take longer)".into(),
                ))
            }),
        None => crate::fetch::fetch(fetcher, &d.url, spool, limits).await,
    };
    let f = match fetched {
        Ok(f) => f,
        // A rerun asked already.
        Err(e) if rerun => return Err(e.to_string()),
        // Stored before, its URL since expired or down: the stored copy is reused.
        Err(e) => return stored_before(objects, d, key).await.ok_or_else(|| e.to_string()),
    };
    let meta = ObjectMeta { content_type: f.content_type.clone(), sha256: f.sha256.clone() };
    match objects.put_new(&key, f.body, &meta).await {
        Ok(true) => Ok(StoredDocument {
            code: d.code.clone(),
            id: d.id,
            key,
            size: f.size,
            content_type: f.content_type,
            sha256: f.sha256,
        }),
        // Stored before: that copy is kept and named (the record says what it holds).
        Ok(false) => {
            stored_before(objects, d, key).await.ok_or_else(|| "it could not be stored; try again".to_string())
        }
        Err(e) => {
            tracing::warn!(error = %e, "document store failed");
            Err("it could not be stored; try again".to_string())
        }
    }
}

/// The copy of `d` stored under `key` before, complete (its digest stored beside it).
async fn stored_before(objects: &dyn ObjectStore, d: &Document, key: String) -> Option<StoredDocument> {
    let stat = objects.head(&key).await.ok()??;
    (!stat.meta.sha256.is_empty()).then(|| StoredDocument {
        code: d.code.clone(),
        id: d.id,
        key,
        size: stat.size,
        content_type: stat.meta.content_type,
        sha256: stat.meta.sha256,
    })
}
