//! The S3 adapter of the object store port ([`coverdesk::objects::ObjectStore`]): uploaded batch
//! files, fetched documents, result files. Its own crate so that only the import functions link
//! the S3 client.

use std::path::Path;

use async_trait::async_trait;
use coverdesk::deps::{ConfigError, BUCKET_ENV};
use coverdesk::fetch::Body;
use coverdesk::objects::{check_key, ObjectError, ObjectMeta, ObjectStore, Stat};

/// The bucket named by `COVERDESK_BUCKET`, over an AWS configuration already loaded.
pub fn from_env(config: &aws_config::SdkConfig) -> Result<S3Store, ConfigError> {
    let bucket = std::env::var(BUCKET_ENV).map_err(|_| ConfigError::Missing(BUCKET_ENV))?;
    Ok(S3Store::from_config(config, bucket))
}

/// S3: one bucket; the endpoint and credentials from the standard AWS environment
/// (`AWS_ENDPOINT_URL_S3` points it at a local S3-API server, path-style).
pub struct S3Store {
    client: aws_sdk_s3::Client,
    bucket: String,
}

impl S3Store {
    pub fn new(client: aws_sdk_s3::Client, bucket: impl Into<String>) -> Self {
        S3Store { client, bucket: bucket.into() }
    }

    /// A client from an AWS configuration already loaded (a cold start loads it once);
    /// `AWS_ENDPOINT_URL_S3` (an S3-API server) turns on path-style addressing.
    pub fn from_config(config: &aws_config::SdkConfig, bucket: String) -> Self {
        let mut b = aws_sdk_s3::config::Builder::from(config);
        if std::env::var("AWS_ENDPOINT_URL_S3").is_ok() {
            b = b.force_path_style(true);
        }
        S3Store::new(aws_sdk_s3::Client::from_conf(b.build()), bucket)
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// One PutObject: `body` under `key`, its content type, and its digest as the `sha256`
    /// metadata when it has one ([`ObjectStore::head`] reads it back); with `only_new`, only if no
    /// object is there (`If-None-Match: *`): [`Put::Taken`] when one is (412), [`Put::Conflict`]
    /// when another conditional write of the key is in flight (409).
    async fn put(
        &self,
        key: &str,
        body: aws_sdk_s3::primitives::ByteStream,
        meta: &ObjectMeta,
        only_new: bool,
    ) -> Result<Put, ObjectError> {
        check_key(key)?;
        let mut put = self.client.put_object().bucket(&self.bucket).key(key).content_type(&meta.content_type);
        if !meta.sha256.is_empty() {
            put = put.metadata("sha256", &meta.sha256);
        }
        if only_new {
            put = put.if_none_match("*");
        }
        match put.body(body).send().await {
            Ok(_) => Ok(Put::Stored),
            Err(aws_sdk_s3::error::SdkError::ServiceError(e)) if only_new && e.raw().status().as_u16() == 412 => {
                Ok(Put::Taken)
            }
            Err(aws_sdk_s3::error::SdkError::ServiceError(e)) if only_new && e.raw().status().as_u16() == 409 => {
                Ok(Put::Conflict)
            }
            Err(e) => Err(sdk_error(&e)),
        }
    }

    /// Creates the bucket (tests and local setups).
    pub async fn create_bucket(&self) -> Result<(), ObjectError> {
        self.client.create_bucket().bucket(&self.bucket).send().await.map(|_| ()).map_err(|e| sdk_error(&e))
    }
}

/// What a PutObject did.
enum Put {
    Stored,
    /// `If-None-Match: *` and an object is there (412).
    Taken,
    /// `If-None-Match: *` and another conditional write of the key is in flight (409).
    Conflict,
}

fn sdk_error<E: std::error::Error + 'static>(e: &aws_sdk_s3::error::SdkError<E>) -> ObjectError {
    use aws_sdk_s3::error::SdkError;
    let text = aws_sdk_s3::error::DisplayErrorContext(e).to_string();
    match e {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => ObjectError::Unavailable(text),
        SdkError::ServiceError(s) if s.raw().status().as_u16() == 503 => ObjectError::Unavailable(text),
        _ => ObjectError::Backend(text),
    }
}

#[async_trait]
impl ObjectStore for S3Store {
    async fn put_file(&self, key: &str, path: &Path, meta: &ObjectMeta) -> Result<(), ObjectError> {
        let body = aws_sdk_s3::primitives::ByteStream::from_path(path)
            .await
            .map_err(|e| ObjectError::Backend(e.to_string()))?;
        self.put(key, body, meta, false).await.map(|_| ())
    }

    async fn put_bytes(&self, key: &str, bytes: Vec<u8>, meta: &ObjectMeta) -> Result<(), ObjectError> {
        self.put(key, bytes.into(), meta, false).await.map(|_| ())
    }

    async fn put_new(&self, key: &str, body: Body, meta: &ObjectMeta) -> Result<bool, ObjectError> {
        // A spooled file is read as the request is sent: its path (deleting the file when
        // dropped) lives until the PUT has ended. A conflicting write in flight (409) is retried
        // once, then left to the caller's HEAD.
        let (bytes, path) = match body {
            Body::Memory(b) => (bytes::Bytes::from(b), None),
            Body::File(p) => (bytes::Bytes::new(), Some(p)),
        };
        let stream = async || match &path {
            Some(path) => aws_sdk_s3::primitives::ByteStream::from_path(path)
                .await
                .map_err(|e| ObjectError::Backend(e.to_string())),
            None => Ok(aws_sdk_s3::primitives::ByteStream::from(bytes.clone())),
        };
        match self.put(key, stream().await?, meta, true).await? {
            Put::Conflict => {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                Ok(matches!(self.put(key, stream().await?, meta, true).await?, Put::Stored))
            }
            put => Ok(matches!(put, Put::Stored)),
        }
    }

    async fn get_bytes(&self, key: &str) -> Result<Option<Vec<u8>>, ObjectError> {
        check_key(key)?;
        match self.client.get_object().bucket(&self.bucket).key(key).send().await {
            Ok(out) => {
                let data = out.body.collect().await.map_err(|e| ObjectError::Unavailable(e.to_string()))?;
                Ok(Some(data.into_bytes().to_vec()))
            }
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => Ok(None),
            Err(e) => Err(sdk_error(&e)),
        }
    }

    async fn get_file(&self, key: &str, dest: &Path, limit: u64) -> Result<Option<u64>, ObjectError> {
        use tokio::io::AsyncWriteExt;
        check_key(key)?;
        let mut out = match self.client.get_object().bucket(&self.bucket).key(key).send().await {
            Ok(out) => out,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => return Ok(None),
            Err(e) => return Err(sdk_error(&e)),
        };
        let announced = out.content_length().unwrap_or(0).max(0) as u64;
        if announced > limit {
            return Ok(Some(announced));
        }
        let io = |e: std::io::Error| ObjectError::Backend(e.to_string());
        let mut file = tokio::fs::File::create(dest).await.map_err(io)?;
        let mut size = 0u64;
        while let Some(chunk) = out.body.try_next().await.map_err(|e| ObjectError::Unavailable(e.to_string()))? {
            size += chunk.len() as u64;
            if size > limit {
                return Ok(Some(size));
            }
            file.write_all(&chunk).await.map_err(io)?;
        }
        file.flush().await.map_err(io)?;
        Ok(Some(size))
    }

    async fn head(&self, key: &str) -> Result<Option<Stat>, ObjectError> {
        check_key(key)?;
        match self.client.head_object().bucket(&self.bucket).key(key).send().await {
            Ok(out) => Ok(Some(Stat {
                size: out.content_length().unwrap_or(0).max(0) as u64,
                meta: ObjectMeta {
                    content_type: out.content_type().unwrap_or_default().to_string(),
                    sha256: out.metadata().and_then(|m| m.get("sha256")).cloned().unwrap_or_default(),
                },
            })),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => Ok(None),
            Err(e) => Err(sdk_error(&e)),
        }
    }

    async fn delete(&self, key: &str) -> Result<(), ObjectError> {
        check_key(key)?;
        self.client.delete_object().bucket(&self.bucket).key(key).send().await.map(|_| ()).map_err(|e| sdk_error(&e))
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, ObjectError> {
        let out = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(prefix)
            .send()
            .await
            .map_err(|e| sdk_error(&e))?;
        let mut keys: Vec<String> = out.contents().iter().filter_map(|o| o.key().map(str::to_string)).collect();
        keys.sort();
        Ok(keys)
    }
}
