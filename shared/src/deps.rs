//! Dependencies, built once per cold start. A missing setting fails the start, not a request.

use std::path::PathBuf;
use std::sync::Arc;

use crate::crypto::{CryptoError, Keys, KEY_ENV};
use crate::fetch::{FetchLimits, Fetcher};
use crate::objects::{FolderStore, NoObjects, ObjectStore};
use crate::servicing::carriers::Catalogue;
use crate::servicing::webhooks::{LazyHttpSender, RetryPolicy, WebhookSender};
use crate::servicing::worker::Worker;
use crate::store::embedded::EmbeddedStore;
use crate::store::{NoStore, Store, StoreError};

#[derive(Clone)]
pub struct Deps {
    pub store: Arc<dyn Store>,
    pub keys: Arc<Keys>,
    pub catalogue: Arc<Catalogue>,
    pub sender: Arc<dyn WebhookSender>,
    pub retry: RetryPolicy,
    /// Whether webhooks may target loopback and private addresses (local use; never in AWS).
    pub allow_private_urls: bool,
    /// Uploaded batches, fetched documents, result files.
    pub objects: Arc<dyn ObjectStore>,
    pub fetch_limits: FetchLimits,
    fetcher: Arc<tokio::sync::OnceCell<Arc<Fetcher>>>,
    /// Who imports a batch stored under `uploads/` (an asynchronous POST's).
    pub uploads: Uploads,
    /// The largest batch file an upload may be ([`crate::import::upload::MAX_UPLOAD_BYTES`]).
    pub max_upload_bytes: u64,
}

/// Who imports what is stored under `uploads/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Uploads {
    /// The bucket's notification invokes the upload function (AWS).
    Notified,
    /// This process, in the background, as soon as it is stored (the local server, the tests).
    InProcess,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("the environment variable {0} is required")]
    Missing(&'static str),
    #[error("cannot open the store: {0}")]
    Store(#[from] StoreError),
    #[error("{KEY_ENV}: {0}")]
    Key(#[from] CryptoError),
    #[error("{0}")]
    Other(String),
}

/// The table every function uses, from `COVERDESK_TABLE`.
pub const TABLE_ENV: &str = "COVERDESK_TABLE";
/// `true` lets webhooks reach loopback and private addresses (set by the local server only).
pub const ALLOW_PRIVATE_ENV: &str = "COVERDESK_ALLOW_PRIVATE_URLS";
/// The bucket for uploads, documents and results, from `COVERDESK_BUCKET`.
pub const BUCKET_ENV: &str = "COVERDESK_BUCKET";
/// The Secrets Manager secret holding the deployment key (its ARN, not the key), set in AWS on
/// the functions that need the key.
pub const KEY_SECRET_ENV: &str = "COVERDESK_KEY_SECRET_ARN";

impl Deps {
    pub fn new(store: Arc<dyn Store>, objects: Arc<dyn ObjectStore>, keys: Keys, allow_private_urls: bool) -> Self {
        let sender: Arc<dyn WebhookSender> = Arc::new(LazyHttpSender::new(allow_private_urls));
        Deps {
            store,
            keys: Arc::new(keys),
            catalogue: Arc::new(Catalogue::builtin()),
            sender,
            retry: RetryPolicy::default(),
            allow_private_urls,
            objects,
            fetch_limits: FetchLimits::default(),
            fetcher: Arc::new(tokio::sync::OnceCell::new()),
            uploads: Uploads::InProcess,
            max_upload_bytes: crate::import::upload::MAX_UPLOAD_BYTES,
        }
    }

    /// Has the object just stored under `key` (`uploads/...`) imported: in AWS the bucket's
    /// notification does it; locally it starts here, in the background. A failure is logged; the
    /// batch stays `processing` until it is imported again (`coverdesk import`, a redelivery).
    pub fn start_import(&self, key: &str) {
        if self.uploads == Uploads::Notified {
            return;
        }
        let (deps, key) = (self.clone(), key.to_string());
        tokio::spawn(async move {
            let r = crate::import::upload::import_object(&deps, "local", &key, "", &|_, _| {}).await;
            if let Err(e) = r {
                tracing::warn!(error = %e, "background import failed");
            }
        });
    }

    /// The document fetcher, built on first use (functions that never fetch skip the TLS roots).
    pub async fn fetcher(&self) -> Result<Arc<Fetcher>, String> {
        self.fetcher
            .get_or_try_init(|| async { Fetcher::new(self.allow_private_urls, self.fetch_limits).map(Arc::new) })
            .await
            .cloned()
    }

    /// Where an import spools its files (fetched documents, an upload's copy, its result file):
    /// this process's own folder ([`crate::spool`]).
    pub fn spool_dir(&self) -> PathBuf {
        crate::spool::dir()
    }

    /// A Lambda function's dependencies before its `main` adds the store, object store and key
    /// its route uses ([`Deps::with_store`], ...): the others stay absent ([`NoStore`],
    /// [`NoObjects`], [`Keys::absent`]). Each `main` builds only the clients its route needs (the
    /// `coverdesk-dynamo`, `-s3` and `-secrets` crates), so no other client is linked into it.
    pub fn lambda() -> Deps {
        let allow = std::env::var(ALLOW_PRIVATE_ENV).is_ok_and(|v| v == "true");
        Deps { uploads: Uploads::Notified, ..Deps::new(Arc::new(NoStore), Arc::new(NoObjects), Keys::absent(), allow) }
    }

    pub fn with_store(mut self, store: impl Store + 'static) -> Deps {
        self.store = Arc::new(store);
        self
    }

    pub fn with_objects(mut self, objects: impl ObjectStore + 'static) -> Deps {
        self.objects = Arc::new(objects);
        self
    }

    pub fn with_keys(mut self, keys: Keys) -> Deps {
        self.keys = Arc::new(keys);
        self
    }

    /// Local: the embedded store under `dir`, objects in `dir/objects`, the key from `COVERDESK_SECRET_KEY` or from
    /// `dir/secret.key` (created on first use, readable by the owner only).
    pub fn embedded(dir: impl Into<PathBuf>) -> Result<Deps, ConfigError> {
        let dir = dir.into();
        crate::store::embedded::owner_only_dir(&dir)
            .map_err(|e| ConfigError::Other(format!("{}: {e}", dir.display())))?;
        let store = Arc::new(EmbeddedStore::open(dir.join("coverdesk.redb"))?);
        let objects = Arc::new(FolderStore::new(dir.join("objects")));
        Ok(Deps::new(store, objects, local_keys(&dir)?, true))
    }

    /// The servicing worker over these dependencies.
    pub fn worker(&self) -> Worker {
        Worker {
            store: self.store.clone(),
            keys: self.keys.clone(),
            catalogue: self.catalogue.clone(),
            sender: self.sender.clone(),
            retry: self.retry,
            allow_private: self.allow_private_urls,
        }
    }
}

/// The local deployment key: the environment's, else the one kept in `dir/secret.key`.
pub fn local_keys(dir: &std::path::Path) -> Result<Keys, ConfigError> {
    if let Ok(k) = std::env::var(KEY_ENV) {
        return Ok(Keys::from_base64(&k)?);
    }
    let path = dir.join("secret.key");
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(Keys::from_base64(&text)?),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            crate::store::embedded::owner_only_dir(dir).map_err(|e| ConfigError::Other(e.to_string()))?;
            let key = Keys::generate_base64()?;
            let mut opts = std::fs::OpenOptions::new();
            opts.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
            let mut f = opts.open(&path).map_err(|e| ConfigError::Other(format!("{}: {e}", path.display())))?;
            std::io::Write::write_all(&mut f, key.as_bytes()).map_err(|e| ConfigError::Other(e.to_string()))?;
            Ok(Keys::from_base64(&key)?)
        }
        Err(e) => Err(ConfigError::Other(format!("{}: {e}", path.display()))),
    }
}
