//! Dependencies, built once per cold start. A missing setting fails the start, not a request.

use std::path::PathBuf;
use std::sync::Arc;

use crate::crypto::{CryptoError, Keys, KEY_ENV};
use crate::fetch::{FetchLimits, Fetcher};
use crate::objects::{FolderStore, ObjectStore, S3Store};
use crate::servicing::carriers::Catalogue;
use crate::servicing::webhooks::{LazyHttpSender, RetryPolicy, WebhookSender};
use crate::servicing::worker::Worker;
use crate::store::dynamo::DynamoStore;
use crate::store::embedded::EmbeddedStore;
use crate::store::{Store, StoreError};

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

/// Whether a function is given the deployment key ([`crate::api::Route::needs_key`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyUse {
    Needed,
    NotNeeded,
}

/// The deployment key of a function that needs it: `COVERDESK_SECRET_KEY` (base64, for local
/// runs such as `cargo lambda watch`), else the Secrets Manager secret named by
/// `COVERDESK_KEY_SECRET_ARN`, read once per cold start.
async fn deployment_key(config: &aws_config::SdkConfig) -> Result<Keys, ConfigError> {
    if let Ok(k) = std::env::var(KEY_ENV) {
        return Ok(Keys::from_base64(&k)?);
    }
    let arn = std::env::var(KEY_SECRET_ENV).map_err(|_| ConfigError::Missing(KEY_SECRET_ENV))?;
    key_from_secrets_manager(&aws_sdk_secretsmanager::Client::new(config), &arn).await
}

/// Reads the deployment key from a Secrets Manager secret (see [`Keys::from_secret`]). Errors
/// name the secret's ARN and the service's error, never the secret.
pub async fn key_from_secrets_manager(client: &aws_sdk_secretsmanager::Client, arn: &str) -> Result<Keys, ConfigError> {
    let out = client.get_secret_value().secret_id(arn).send().await.map_err(|e| {
        ConfigError::Other(format!("cannot read the deployment key from {arn}: {}", crate::net::error_chain(&e)))
    })?;
    let text = out.secret_string().ok_or_else(|| ConfigError::Other(format!("the secret {arn} holds no string")))?;
    Ok(Keys::from_secret(text)?)
}

impl Deps {
    pub fn new(
        store: Arc<dyn Store>,
        objects: Arc<dyn ObjectStore>,
        keys: Keys,
        allow_private_urls: bool,
    ) -> Result<Self, ConfigError> {
        let sender: Arc<dyn WebhookSender> = Arc::new(LazyHttpSender::new(allow_private_urls));
        Ok(Deps {
            store,
            keys: Arc::new(keys),
            catalogue: Arc::new(Catalogue::builtin()),
            sender,
            retry: RetryPolicy::default(),
            allow_private_urls,
            objects,
            fetch_limits: FetchLimits::default(),
            fetcher: Arc::new(tokio::sync::OnceCell::new()),
        })
    }

    /// The document fetcher, built on first use (functions that never fetch skip the TLS roots).
    pub async fn fetcher(&self) -> Result<Arc<Fetcher>, String> {
        self.fetcher
            .get_or_try_init(|| async { Fetcher::new(self.allow_private_urls, self.fetch_limits).map(Arc::new) })
            .await
            .cloned()
    }

    /// Where fetched documents are spooled on their way to the object store.
    pub fn spool_dir(&self) -> PathBuf {
        std::env::temp_dir().join("coverdesk-spool")
    }

    /// Production: DynamoDB, table from `COVERDESK_TABLE`, the deployment key (when `key` says
    /// the function needs it) from Secrets Manager; endpoints and credentials from the standard
    /// AWS environment (`AWS_ENDPOINT_URL_DYNAMODB` points it at DynamoDB Local).
    pub async fn from_env(key: KeyUse) -> Result<Deps, ConfigError> {
        let table = std::env::var(TABLE_ENV).map_err(|_| ConfigError::Missing(TABLE_ENV))?;
        let bucket = std::env::var(BUCKET_ENV).map_err(|_| ConfigError::Missing(BUCKET_ENV))?;
        // The AWS configuration (region, credentials, endpoints) is loaded once for every client.
        let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        let keys = match key {
            KeyUse::Needed => deployment_key(&config).await?,
            KeyUse::NotNeeded => Keys::absent(),
        };
        let allow = std::env::var(ALLOW_PRIVATE_ENV).is_ok_and(|v| v == "true");
        let objects = Arc::new(S3Store::from_config(&config, bucket));
        Deps::new(Arc::new(DynamoStore::from_config(&config, table)), objects, keys, allow)
    }

    /// Local: the embedded store under `dir`, objects in `dir/objects`, the key from `COVERDESK_SECRET_KEY` or from
    /// `dir/secret.key` (created on first use, readable by the owner only).
    pub fn embedded(dir: impl Into<PathBuf>) -> Result<Deps, ConfigError> {
        let dir = dir.into();
        crate::store::embedded::owner_only_dir(&dir)
            .map_err(|e| ConfigError::Other(format!("{}: {e}", dir.display())))?;
        let store = Arc::new(EmbeddedStore::open(dir.join("coverdesk.redb"))?);
        let objects = Arc::new(FolderStore::new(dir.join("objects")));
        Deps::new(store, objects, local_keys(&dir)?, true)
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
