//! Coverdesk on a laptop: the local server (every route on one port, the servicing worker and the
//! import sweep in-process) and the embedded store (redb, one file under the data folder). Kept
//! beside the domain crate, so no Lambda function links a server or a storage engine it never
//! uses.

pub mod embedded;
mod server;

use std::path::PathBuf;
use std::sync::Arc;

use coverdesk::crypto::{Keys, KEY_ENV};
use coverdesk::deps::{ConfigError, Deps};
use coverdesk::objects::FolderStore;

pub use embedded::{owner_only_dir, EmbeddedStore};
pub use server::{
    bind, serve, serve_with, Cors, Timeouts, BACKLOG, CORS_ALLOW_HEADERS, CORS_ALLOW_METHODS, CORS_MAX_AGE,
    WORKER_EVERY,
};

/// Local: the embedded store under `dir`, objects in `dir/objects`, the key from
/// `COVERDESK_SECRET_KEY` or from `dir/secret.key` (created on first use, readable by the owner
/// only), the HTTP client allowed private addresses (documents and webhooks on this machine), the
/// hosted Connect page framed by the CORS origins (`*` by default).
pub fn deps(dir: impl Into<PathBuf>) -> Result<Deps, ConfigError> {
    let dir = dir.into();
    owner_only_dir(&dir).map_err(|e| ConfigError::Other(format!("{}: {e}", dir.display())))?;
    let store = Arc::new(EmbeddedStore::open(dir.join("coverdesk.redb"))?);
    let objects = Arc::new(FolderStore::new(dir.join("objects")));
    // The hosted page may be framed by the origins that may call the API (`COVERDESK_CORS_ORIGINS`).
    let embed = std::env::var("COVERDESK_CORS_ORIGINS").unwrap_or_else(|_| "*".into());
    Ok(coverdesk_http::connect(Deps::new(store, objects, local_keys(&dir)?, true)).with_embed_origins(&embed))
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
            owner_only_dir(dir).map_err(|e| ConfigError::Other(e.to_string()))?;
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
