//! The object store port (uploaded batch files, fetched documents, result files) and its
//! adapters: S3 in production (the `coverdesk-s3` crate, linked by the import functions only), a
//! folder on a laptop, and [`NoObjects`] for the functions that store no object. A document
//! arrives in memory when small and as a spooled temporary file past
//! [`crate::fetch::IN_MEMORY_MAX`], streamed from disk then, so no large document is ever held
//! whole in memory.

use std::path::{Path, PathBuf};

use async_trait::async_trait;

#[derive(Debug, thiserror::Error)]
pub enum ObjectError {
    #[error("object store unavailable: {0}")]
    Unavailable(String),
    #[error("invalid object key: {0}")]
    InvalidKey(String),
    #[error("object store failure: {0}")]
    Backend(String),
}

/// What is stored beside an object.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectMeta {
    pub content_type: String,
    pub sha256: String,
}

impl ObjectMeta {
    /// An object's content type alone, no digest (a result file, an upload): stored without
    /// metadata, so [`ObjectStore::head`] does not take it for a document.
    pub fn plain(content_type: &str) -> ObjectMeta {
        ObjectMeta { content_type: content_type.to_string(), sha256: String::new() }
    }
}

/// An object's size and the [`ObjectMeta`] stored beside it.
#[derive(Debug, Clone, PartialEq)]
pub struct Stat {
    pub size: u64,
    pub meta: ObjectMeta,
}

#[async_trait]
pub trait ObjectStore: Send + Sync {
    /// Stores the file at `path` under `key` (streamed from disk). An empty `meta.sha256` stores
    /// the object without metadata (a result file: [`ObjectStore::head`] is for documents).
    async fn put_file(&self, key: &str, path: &Path, meta: &ObjectMeta) -> Result<(), ObjectError>;
    /// Stores `bytes` under `key`, `meta` as [`ObjectStore::put_file`] stores it.
    async fn put_bytes(&self, key: &str, bytes: Vec<u8>, meta: &ObjectMeta) -> Result<(), ObjectError>;
    /// Stores a fetched document's body under `key` (from memory or from its spooled file) only
    /// if nothing is stored there yet, in one request (S3: `If-None-Match: *`): whether it stored
    /// it. `false` leaves what is there untouched (a rerun's, or another batch's with the same
    /// transaction: [`ObjectStore::head`] tells what).
    async fn put_new(&self, key: &str, body: crate::fetch::Body, meta: &ObjectMeta) -> Result<bool, ObjectError>;
    /// The whole object, or `None`. For small objects (a result file read back); an upload is
    /// read with [`ObjectStore::get_file`].
    async fn get_bytes(&self, key: &str) -> Result<Option<Vec<u8>>, ObjectError>;
    /// Streams the object into the file at `dest` (created or truncated); its size, or `None`
    /// when absent. For uploads, which can be larger than the memory an import may hold. An
    /// object larger than `limit` bytes is not copied: its size (above `limit`) comes back.
    async fn get_file(&self, key: &str, dest: &Path, limit: u64) -> Result<Option<u64>, ObjectError>;
    /// What is stored under `key` by [`ObjectStore::put_file`]: its size and what was stored
    /// beside it; `None` when absent (or stored without that, e.g. cut off half-way).
    async fn head(&self, key: &str) -> Result<Option<Stat>, ObjectError>;
    async fn delete(&self, key: &str) -> Result<(), ObjectError>;
    /// Keys under `prefix`, sorted (at most 1000).
    async fn list(&self, prefix: &str) -> Result<Vec<String>, ObjectError>;
}

/// Keys are `/`-separated segments of letters, digits and `._-=`; no empty or dot-only segment.
pub fn check_key(key: &str) -> Result<(), ObjectError> {
    let ok = !key.is_empty()
        && key.len() <= 900
        && key.split('/').all(|seg| {
            !seg.is_empty()
                && seg != "."
                && seg != ".."
                && seg.chars().all(|c| c.is_ascii_alphanumeric() || "._-=".contains(c))
        });
    if ok {
        Ok(())
    } else {
        Err(ObjectError::InvalidKey(key.chars().take(80).collect()))
    }
}

/// A folder: the key is the relative path; metadata in a `<file>.meta.json` beside it.
pub struct FolderStore {
    root: PathBuf,
}

impl FolderStore {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        FolderStore { root: root.into() }
    }
    fn path(&self, key: &str) -> Result<PathBuf, ObjectError> {
        check_key(key)?;
        Ok(self.root.join(key))
    }
    async fn write_atomically(
        &self,
        dest: &Path,
        write: impl AsyncFnOnce(&Path) -> std::io::Result<()>,
    ) -> Result<(), ObjectError> {
        let io = |e: std::io::Error| ObjectError::Backend(e.to_string());
        let dir = dest.parent().ok_or_else(|| ObjectError::InvalidKey("no parent".into()))?;
        tokio::fs::create_dir_all(dir).await.map_err(io)?;
        let tmp = dir.join(format!(".tmp-{}", crate::crypto::uuid().map_err(|e| ObjectError::Backend(e.to_string()))?));
        if let Err(e) = write(&tmp).await {
            let _ = tokio::fs::remove_file(&tmp).await;
            return Err(io(e));
        }
        tokio::fs::rename(&tmp, dest).await.map_err(io)
    }
    /// `meta` in `<file>.meta.json` beside the object at `dest`, after it (a document whose
    /// metadata is missing counts as absent: [`ObjectStore::head`]); none when it has no digest.
    async fn write_meta(&self, dest: &Path, meta: &ObjectMeta) -> Result<(), ObjectError> {
        if meta.sha256.is_empty() {
            return Ok(());
        }
        let meta_json = serde_json::json!({"content_type": meta.content_type, "sha256": meta.sha256}).to_string();
        let meta_path = PathBuf::from(format!("{}.meta.json", dest.display()));
        self.write_atomically(&meta_path, async |tmp| tokio::fs::write(tmp, meta_json.as_bytes()).await).await
    }
}

#[async_trait]
impl ObjectStore for FolderStore {
    async fn put_file(&self, key: &str, path: &Path, meta: &ObjectMeta) -> Result<(), ObjectError> {
        let dest = self.path(key)?;
        self.write_atomically(&dest, async |tmp| tokio::fs::copy(path, tmp).await.map(|_| ())).await?;
        self.write_meta(&dest, meta).await
    }

    async fn put_bytes(&self, key: &str, bytes: Vec<u8>, meta: &ObjectMeta) -> Result<(), ObjectError> {
        let dest = self.path(key)?;
        self.write_atomically(&dest, async |tmp| tokio::fs::write(tmp, &bytes).await).await?;
        self.write_meta(&dest, meta).await
    }

    /// Stored unless a complete document (its metadata written) is there; one cut off half-way is
    /// replaced. Two processes putting the same key at once both store it, the last rename wins:
    /// a folder is one machine's, and both copies are the transaction's same document.
    async fn put_new(&self, key: &str, body: crate::fetch::Body, meta: &ObjectMeta) -> Result<bool, ObjectError> {
        if self.head(key).await?.is_some_and(|stat| !stat.meta.sha256.is_empty()) {
            return Ok(false);
        }
        match body {
            crate::fetch::Body::Memory(bytes) => self.put_bytes(key, bytes, meta).await?,
            crate::fetch::Body::File(path) => self.put_file(key, &path, meta).await?,
        }
        Ok(true)
    }

    async fn get_bytes(&self, key: &str) -> Result<Option<Vec<u8>>, ObjectError> {
        match tokio::fs::read(self.path(key)?).await {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(ObjectError::Backend(e.to_string())),
        }
    }

    async fn get_file(&self, key: &str, dest: &Path, limit: u64) -> Result<Option<u64>, ObjectError> {
        let source = self.path(key)?;
        let found = |r: std::io::Result<u64>| match r {
            Ok(n) => Ok(Some(n)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(ObjectError::Backend(e.to_string())),
        };
        match found(tokio::fs::metadata(&source).await.map(|m| m.len()))? {
            Some(size) if size > limit => Ok(Some(size)),
            Some(_) => found(tokio::fs::copy(&source, dest).await),
            None => Ok(None),
        }
    }

    async fn head(&self, key: &str) -> Result<Option<Stat>, ObjectError> {
        let p = self.path(key)?;
        let absent = |e: &std::io::Error| e.kind() == std::io::ErrorKind::NotFound;
        // The metadata is written after the file: without it the file was cut off half-way.
        let text = match tokio::fs::read(format!("{}.meta.json", p.display())).await {
            Ok(t) => t,
            Err(e) if absent(&e) => return Ok(None),
            Err(e) => return Err(ObjectError::Backend(e.to_string())),
        };
        let size = match tokio::fs::metadata(&p).await {
            Ok(m) => m.len(),
            Err(e) if absent(&e) => return Ok(None),
            Err(e) => return Err(ObjectError::Backend(e.to_string())),
        };
        let v: serde_json::Value = serde_json::from_slice(&text).map_err(|e| ObjectError::Backend(e.to_string()))?;
        let field = |k: &str| v[k].as_str().unwrap_or_default().to_string();
        Ok(Some(Stat { size, meta: ObjectMeta { content_type: field("content_type"), sha256: field("sha256") } }))
    }

    async fn delete(&self, key: &str) -> Result<(), ObjectError> {
        let p = self.path(key)?;
        for path in [p.clone(), PathBuf::from(format!("{}.meta.json", p.display()))] {
            match tokio::fs::remove_file(&path).await {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(ObjectError::Backend(e.to_string())),
            }
        }
        Ok(())
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, ObjectError> {
        let mut out = Vec::new();
        let mut stack = vec![self.root.clone()];
        while let Some(dir) = stack.pop() {
            let mut rd = match tokio::fs::read_dir(&dir).await {
                Ok(r) => r,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(ObjectError::Backend(e.to_string())),
            };
            while let Some(entry) = rd.next_entry().await.map_err(|e| ObjectError::Backend(e.to_string()))? {
                let p = entry.path();
                if p.is_dir() {
                    stack.push(p);
                    continue;
                }
                let rel = p.strip_prefix(&self.root).unwrap_or(&p).to_string_lossy().replace('\\', "/");
                let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                if rel.starts_with(prefix) && !name.starts_with(".tmp-") && !name.ends_with(".meta.json") {
                    out.push(rel);
                }
            }
        }
        out.sort();
        out.truncate(1000);
        Ok(out)
    }
}

/// The object store of a function that stores no object (every function but the import ones):
/// a use is a bug, answered as a failure on our side that names it, never a panic.
pub struct NoObjects;

impl NoObjects {
    fn refuse() -> ObjectError {
        ObjectError::Backend("this function has no object store (a bug: its route uses one)".into())
    }
}

#[async_trait]
impl ObjectStore for NoObjects {
    async fn put_file(&self, _: &str, _: &Path, _: &ObjectMeta) -> Result<(), ObjectError> {
        Err(Self::refuse())
    }
    async fn put_bytes(&self, _: &str, _: Vec<u8>, _: &ObjectMeta) -> Result<(), ObjectError> {
        Err(Self::refuse())
    }
    async fn put_new(&self, _: &str, _: crate::fetch::Body, _: &ObjectMeta) -> Result<bool, ObjectError> {
        Err(Self::refuse())
    }
    async fn get_bytes(&self, _: &str) -> Result<Option<Vec<u8>>, ObjectError> {
        Err(Self::refuse())
    }
    async fn get_file(&self, _: &str, _: &Path, _: u64) -> Result<Option<u64>, ObjectError> {
        Err(Self::refuse())
    }
    async fn head(&self, _: &str) -> Result<Option<Stat>, ObjectError> {
        Err(Self::refuse())
    }
    async fn delete(&self, _: &str) -> Result<(), ObjectError> {
        Err(Self::refuse())
    }
    async fn list(&self, _: &str) -> Result<Vec<String>, ObjectError> {
        Err(Self::refuse())
    }
}
