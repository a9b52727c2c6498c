//! Dependencies, built once per cold start. A missing setting fails the start, not a request.

use std::path::PathBuf;
use std::sync::Arc;

use crate::store::dynamo::DynamoStore;
use crate::store::embedded::EmbeddedStore;
use crate::store::{Store, StoreError};

#[derive(Clone)]
pub struct Deps {
    pub store: Arc<dyn Store>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("the environment variable {0} is required")]
    Missing(&'static str),
    #[error("cannot open the store: {0}")]
    Store(#[from] StoreError),
}

/// The table every function uses, from `COVERDESK_TABLE`.
pub const TABLE_ENV: &str = "COVERDESK_TABLE";

impl Deps {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Deps { store }
    }

    /// Production: DynamoDB, table from `COVERDESK_TABLE`, endpoint and credentials from the
    /// standard AWS environment (`AWS_ENDPOINT_URL_DYNAMODB` points it at DynamoDB Local).
    pub async fn from_env() -> Result<Deps, ConfigError> {
        let table = std::env::var(TABLE_ENV).map_err(|_| ConfigError::Missing(TABLE_ENV))?;
        Ok(Deps::new(Arc::new(DynamoStore::from_env(table).await)))
    }

    /// Local: the embedded store under `dir`.
    pub fn embedded(dir: impl Into<PathBuf>) -> Result<Deps, ConfigError> {
        let path = dir.into().join("coverdesk.redb");
        Ok(Deps::new(Arc::new(EmbeddedStore::open(path)?)))
    }
}
