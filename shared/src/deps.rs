//! Dependencies, built once per cold start. A missing setting fails the start, not a request.

use std::path::PathBuf;
use std::sync::Arc;

use crate::crypto::{CryptoError, Keys, KEY_ENV};
use crate::fetch::{DocumentFetcher, FetchLimits, NoFetcher};
use crate::import::upload::Imports;
use crate::objects::{NoObjects, ObjectStore};
use crate::servicing::carriers::Catalogue;
use crate::servicing::webhooks::{NoSender, RetryPolicy, WebhookSender};
use crate::servicing::worker::Worker;
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
    /// Fetches transaction documents (the `coverdesk-http` crate's client, built on first use).
    pub fetcher: Arc<dyn DocumentFetcher>,
    /// Who imports a batch stored under `uploads/` (an asynchronous POST's).
    pub uploads: Uploads,
    /// The largest batch file an upload may be ([`crate::import::upload::MAX_UPLOAD_BYTES`]).
    pub max_upload_bytes: u64,
    /// The origins that may embed the hosted Connect page in a frame (its `frame-ancestors`):
    /// the stack's `AllowedOrigins` in AWS (`COVERDESK_EMBED_ORIGINS`), the CORS origins locally;
    /// `*` allows any, none allows only this origin.
    pub embed_origins: Vec<String>,
    /// The teams' records read lately (Basic credentials), kept a few seconds per process.
    pub credentials: Arc<crate::auth::Credentials>,
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
/// The origins that may frame the hosted Connect page (comma-separated; the connect-page function's).
pub const EMBED_ORIGINS_ENV: &str = "COVERDESK_EMBED_ORIGINS";

impl Deps {
    /// Dependencies over these ports, with no HTTP client yet ([`NoFetcher`], [`NoSender`]): the
    /// entry points add one (`coverdesk_http::connect`).
    pub fn new(store: Arc<dyn Store>, objects: Arc<dyn ObjectStore>, keys: Keys, allow_private_urls: bool) -> Self {
        let sender: Arc<dyn WebhookSender> = Arc::new(NoSender);
        Deps {
            store,
            keys: Arc::new(keys),
            catalogue: Arc::new(Catalogue::builtin()),
            sender,
            retry: RetryPolicy::default(),
            allow_private_urls,
            objects,
            fetch_limits: FetchLimits::default(),
            fetcher: Arc::new(NoFetcher),
            uploads: Uploads::InProcess,
            max_upload_bytes: crate::import::upload::MAX_UPLOAD_BYTES,
            embed_origins: Vec::new(),
            credentials: Arc::default(),
        }
    }

    /// These dependencies with the origins that may embed the hosted page, comma-separated.
    pub fn with_embed_origins(mut self, origins: &str) -> Deps {
        self.embed_origins = origins.split(',').map(|o| o.trim().to_string()).filter(|o| !o.is_empty()).collect();
        self
    }

    /// Has the object just stored under `key` (`uploads/...`) imported: in AWS the bucket's
    /// notification does it; locally it starts here, in the background. A failure is logged; the
    /// batch stays `processing` until it is imported again (`coverdesk import`, a redelivery).
    pub fn start_import(&self, key: &str) {
        if self.uploads == Uploads::Notified {
            return;
        }
        let (imports, key) = (self.imports(), key.to_string());
        tokio::spawn(async move {
            let r = crate::import::upload::import_object(&imports, "local", &key, "", &|_, _| {}).await;
            if let Err(e) = r {
                tracing::warn!(error = %crate::net::error_chain(&e), "background import failed");
            }
        });
    }

    /// What an import uses of these dependencies: the store, the object store, the fetcher and
    /// its limits, the spool folder and the upload limit.
    pub fn imports(&self) -> Imports {
        Imports {
            store: self.store.clone(),
            objects: self.objects.clone(),
            fetcher: self.fetcher.clone(),
            limits: self.fetch_limits,
            spool: self.spool_dir(),
            max_upload_bytes: self.max_upload_bytes,
        }
    }

    /// These dependencies with an HTTP client: the document fetcher and the webhook sender.
    pub fn with_http(mut self, fetcher: Arc<dyn DocumentFetcher>, sender: Arc<dyn WebhookSender>) -> Deps {
        self.fetcher = fetcher;
        self.sender = sender;
        self
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
        let deps = Deps::new(Arc::new(NoStore), Arc::new(NoObjects), Keys::absent(), allow);
        let embed = std::env::var(EMBED_ORIGINS_ENV).unwrap_or_default();
        Deps { uploads: Uploads::Notified, ..deps }.with_embed_origins(&embed)
    }

    pub fn with_store(mut self, store: impl Store + 'static) -> Deps {
        self.store = Arc::new(store);
        // Records read from another store are not this one's.
        self.credentials = Arc::default();
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
