//! Shared test helpers: store backends and (for the API suite) a client per way of serving.
#![allow(dead_code)]

/// `both!(f, g, ...)`: each `async fn f(Transport)` of the suite as two tests, one on the local
/// server over the embedded store, one on the local server over DynamoDB Local.
#[allow(unused_macros)]
macro_rules! both_stores {
    ($($name:ident),* $(,)?) => {
        mod embedded {
            use super::*;
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name(Transport::Local).await; })*
        }
        mod dynamodb {
            use super::*;
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name(Transport::LocalDynamo).await; })*
        }
    };
}

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use coverdesk::store::Store;
use coverdesk_dynamo::DynamoStore;
use coverdesk_local::EmbeddedStore;

/// The DynamoDB-API server the test command starts (DynamoDB Local); override with
/// `COVERDESK_TEST_DYNAMODB_ENDPOINT`.
pub fn dynamodb_endpoint() -> String {
    std::env::var("COVERDESK_TEST_DYNAMODB_ENDPOINT").unwrap_or_else(|_| "http://127.0.0.1:8000".into())
}

pub fn unique(prefix: &str) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    format!("{prefix}-{}-{nanos}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}

/// A client for DynamoDB Local. Each test makes its own: a client's pooled connections belong to
/// the runtime that opened them, and every `#[tokio::test]` has its own runtime.
pub fn dynamo_client() -> aws_sdk_dynamodb::Client {
    let creds = aws_sdk_dynamodb::config::Credentials::new("test", "test", None, None, "tests");
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
        .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
        .endpoint_url(dynamodb_endpoint())
        .credentials_provider(creds)
        .build();
    aws_sdk_dynamodb::Client::from_conf(config)
}

/// A fresh table on DynamoDB Local.
pub async fn dynamo_store() -> Arc<DynamoStore> {
    let store = DynamoStore::new(dynamo_client(), unique("coverdesk-test"));
    store.create_table().await.unwrap_or_else(|e| {
        panic!(
            "cannot create a table on DynamoDB Local at {} ({e}); the README's test command starts it",
            dynamodb_endpoint()
        )
    });
    Arc::new(store)
}

/// A fresh embedded store in a temporary folder (kept alive by the returned guard).
pub fn embedded_store() -> (Arc<EmbeddedStore>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(dir.path().join("store.redb")).unwrap();
    (Arc::new(store), dir)
}

/// Dependencies for tests: a random deployment key, webhooks allowed to loopback, and the
/// reference's retry schedule scaled from seconds to milliseconds.
pub fn test_deps(store: Arc<dyn Store>) -> coverdesk::deps::Deps {
    let key = coverdesk::crypto::random_bytes::<32>().unwrap();
    let dir = std::env::temp_dir().join(unique("objects"));
    let objects = Arc::new(coverdesk::objects::FolderStore::new(dir));
    let mut deps = coverdesk_http::connect(coverdesk::deps::Deps::new(
        store,
        objects,
        coverdesk::crypto::Keys::from_bytes(&key),
        true,
    ));
    deps.fetch_limits = coverdesk::fetch::FetchLimits {
        max_bytes: 256 << 10,
        timeout: std::time::Duration::from_secs(5),
        attempts: 3,
        max_redirects: 5,
        budget: None,
    };
    deps.retry = coverdesk::servicing::webhooks::RetryPolicy {
        max_retries: 3,
        base: std::time::Duration::from_millis(60),
        unit: std::time::Duration::from_millis(1),
        timeout: std::time::Duration::from_secs(2),
    };
    deps
}

/// The S3-API server the test command starts (moto); override with `COVERDESK_TEST_S3_ENDPOINT`.
pub fn s3_endpoint() -> String {
    std::env::var("COVERDESK_TEST_S3_ENDPOINT").unwrap_or_else(|_| "http://127.0.0.1:8766".into())
}

/// A fresh bucket on the S3-API server.
pub async fn s3_store() -> Arc<coverdesk_s3::S3Store> {
    let creds = aws_sdk_s3::config::Credentials::new("test", "test", None, None, "tests");
    let config = aws_sdk_s3::Config::builder()
        .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
        .region(aws_sdk_s3::config::Region::new("us-east-1"))
        .endpoint_url(s3_endpoint())
        .force_path_style(true)
        .credentials_provider(creds)
        .build();
    let bucket = unique("bucket").to_lowercase().replace('_', "-").chars().take(60).collect::<String>();
    let store = coverdesk_s3::S3Store::new(aws_sdk_s3::Client::from_conf(config), bucket);
    store.create_bucket().await.unwrap_or_else(|e| {
        panic!(
            "cannot create a bucket on the S3-API server at {} ({e}); the README's test command starts it",
            s3_endpoint()
        )
    });
    Arc::new(store)
}

pub enum Backend {
    Embedded,
    Dynamo,
}

pub struct StoreUnderTest {
    pub store: Arc<dyn Store>,
    _dir: Option<tempfile::TempDir>,
}

pub async fn store_for(backend: Backend) -> StoreUnderTest {
    match backend {
        Backend::Embedded => {
            let (s, d) = embedded_store();
            StoreUnderTest { store: s, _dir: Some(d) }
        }
        Backend::Dynamo => StoreUnderTest { store: dynamo_store().await, _dir: None },
    }
}
pub mod api;
pub mod hooks;

/// A store call, as a test wrapper ([`Around`]) sees it before it reaches the store under it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Call {
    Get,
    Query,
    Transact,
    /// [`Store::write_each`] of this many writes.
    WriteEach(usize),
    NextSequence,
    Sequence,
}

/// What a test wrapper ([`Wrapped`]) adds around the store under it: every call is shown to
/// `before` first (an error answers the call instead), every page read to `read`; of a
/// `write_each`, only the first `kept(n)` writes reach the store, the others fail with `lost()`.
/// A new `Store` method is forwarded once, in `Wrapped`.
pub trait Around: Send + Sync + 'static {
    fn before(&self, _call: Call) -> Result<(), coverdesk::store::StoreError> {
        Ok(())
    }
    fn read(&self, _page: &coverdesk::store::Page) {}
    fn kept(&self, n: usize) -> usize {
        n
    }
    fn lost(&self) -> coverdesk::store::StoreError {
        coverdesk::store::StoreError::Unavailable("lost (test)".into())
    }
}

/// The store under it with `around` added to every call.
pub struct Wrapped<A> {
    pub inner: Arc<dyn Store>,
    pub around: A,
}

impl<A: Around> Wrapped<A> {
    pub fn new(inner: Arc<dyn Store>, around: A) -> Self {
        Wrapped { inner, around }
    }
    fn page(
        &self,
        page: Result<coverdesk::store::Page, coverdesk::store::StoreError>,
    ) -> Result<coverdesk::store::Page, coverdesk::store::StoreError> {
        let page = page?;
        self.around.read(&page);
        Ok(page)
    }
}

impl<A> std::ops::Deref for Wrapped<A> {
    type Target = A;
    fn deref(&self) -> &A {
        &self.around
    }
}

#[async_trait::async_trait]
impl<A: Around> Store for Wrapped<A> {
    async fn get(&self, pk: &str, sk: &str) -> Result<Option<coverdesk::store::Item>, coverdesk::store::StoreError> {
        self.around.before(Call::Get)?;
        self.inner.get(pk, sk).await
    }
    async fn query(
        &self,
        pk: &str,
        sk_prefix: &str,
        after: Option<&coverdesk::store::Cursor>,
        limit: usize,
    ) -> Result<coverdesk::store::Page, coverdesk::store::StoreError> {
        self.around.before(Call::Query)?;
        self.page(self.inner.query(pk, sk_prefix, after, limit).await)
    }
    async fn query_between(
        &self,
        pk: &str,
        range: (&str, &str),
        after: Option<&coverdesk::store::Cursor>,
        limit: usize,
    ) -> Result<coverdesk::store::Page, coverdesk::store::StoreError> {
        self.around.before(Call::Query)?;
        self.page(self.inner.query_between(pk, range, after, limit).await)
    }
    async fn query_index_in(
        &self,
        index: coverdesk::store::Index,
        index_pk: &str,
        after: Option<&coverdesk::store::Cursor>,
        limit: usize,
    ) -> Result<coverdesk::store::Page, coverdesk::store::StoreError> {
        self.around.before(Call::Query)?;
        self.page(self.inner.query_index_in(index, index_pk, after, limit).await)
    }
    async fn transact(&self, writes: Vec<coverdesk::store::Write>) -> Result<(), coverdesk::store::StoreError> {
        self.around.before(Call::Transact)?;
        self.inner.transact(writes).await
    }
    async fn write_each(
        &self,
        mut writes: Vec<coverdesk::store::Write>,
    ) -> Vec<Result<(), coverdesk::store::StoreError>> {
        let n = writes.len();
        if let Err(e) = self.around.before(Call::WriteEach(n)) {
            return std::iter::once(Err(e)).chain((1..n).map(|_| Err(self.around.lost()))).take(n).collect();
        }
        let lost = writes.split_off(self.around.kept(n).min(n));
        let mut out = if writes.is_empty() { vec![] } else { self.inner.write_each(writes).await };
        out.extend(lost.iter().map(|_| Err(self.around.lost())));
        out
    }
    async fn next_sequence(&self, pk: &str, sk: &str, count: u64) -> Result<u64, coverdesk::store::StoreError> {
        self.around.before(Call::NextSequence)?;
        self.inner.next_sequence(pk, sk, count).await
    }
    async fn sequence(&self, pk: &str, sk: &str) -> Result<u64, coverdesk::store::StoreError> {
        self.around.before(Call::Sequence)?;
        self.inner.sequence(pk, sk).await
    }
}

/// Reads of one item answer `Unavailable` (DynamoDB throttling or an outage) while `failing` is
/// set; everything else passes to the store under it.
#[derive(Default)]
pub struct Flaky {
    pub failing: std::sync::atomic::AtomicBool,
}
pub type FlakyStore = Wrapped<Flaky>;

impl Around for Flaky {
    fn before(&self, call: Call) -> Result<(), coverdesk::store::StoreError> {
        if call == Call::Get && self.failing.load(Ordering::SeqCst) {
            return Err(coverdesk::store::StoreError::Unavailable("throttled (test)".into()));
        }
        Ok(())
    }
}

impl FlakyStore {
    pub fn flaky(inner: Arc<dyn Store>, failing: bool) -> Self {
        Wrapped::new(inner, Flaky { failing: failing.into() })
    }
}

/// The process "dies" after `left` more single writes ([`Store::write_each`], the import's
/// records): from then on every write fails, as if nothing after it ever ran. Reads pass through.
pub struct Crashing {
    pub left: std::sync::atomic::AtomicIsize,
}
pub type CrashingStore = Wrapped<Crashing>;

impl Around for Crashing {
    fn before(&self, call: Call) -> Result<(), coverdesk::store::StoreError> {
        let dead = self.left.load(Ordering::SeqCst) < 0;
        match call {
            Call::Transact | Call::NextSequence if dead => Err(self.lost()),
            _ => Ok(()),
        }
    }
    fn kept(&self, n: usize) -> usize {
        let before = self.left.fetch_sub(n as isize, Ordering::SeqCst);
        before.clamp(0, n as isize) as usize
    }
    fn lost(&self) -> coverdesk::store::StoreError {
        coverdesk::store::StoreError::Unavailable("crashed (test)".into())
    }
}

impl CrashingStore {
    pub fn crashing_after(inner: Arc<dyn Store>, writes: isize) -> Self {
        Wrapped::new(inner, Crashing { left: writes.into() })
    }
}

/// Counts the requests made through it, by kind (the cost of one operation, measured on the
/// real backends).
#[derive(Default)]
pub struct Counting {
    pub gets: std::sync::atomic::AtomicUsize,
    pub queries: std::sync::atomic::AtomicUsize,
    pub writes: std::sync::atomic::AtomicUsize,
    /// Items the queries returned.
    pub items: std::sync::atomic::AtomicUsize,
}
pub type CountingStore = Wrapped<Counting>;

impl Around for Counting {
    fn before(&self, call: Call) -> Result<(), coverdesk::store::StoreError> {
        let counter = match call {
            Call::Get | Call::Sequence => &self.gets,
            Call::Query => &self.queries,
            Call::Transact | Call::NextSequence => &self.writes,
            Call::WriteEach(n) => {
                // Each one its own request.
                self.writes.fetch_add(n, Ordering::SeqCst);
                return Ok(());
            }
        };
        counter.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
    fn read(&self, page: &coverdesk::store::Page) {
        self.items.fetch_add(page.items.len(), Ordering::SeqCst);
    }
}

#[allow(dead_code)]
impl CountingStore {
    pub fn counting(inner: Arc<dyn Store>) -> Self {
        Wrapped::new(inner, Counting::default())
    }
    /// (reads of one item, queries, transactions and counters) so far, and back to zero.
    pub fn take(&self) -> (usize, usize, usize) {
        (
            self.gets.swap(0, Ordering::SeqCst),
            self.queries.swap(0, Ordering::SeqCst),
            self.writes.swap(0, Ordering::SeqCst),
        )
    }
}

/// An object store that counts HEADs and PUTs made through it (the counters are shared with the
/// test that keeps a clone) and passes every call to the store under it.
#[derive(Clone)]
pub struct CountingObjects {
    pub inner: Arc<dyn coverdesk::objects::ObjectStore>,
    pub heads: Arc<std::sync::atomic::AtomicUsize>,
    pub puts: Arc<std::sync::atomic::AtomicUsize>,
}

#[allow(dead_code)]
impl CountingObjects {
    pub fn new(inner: Arc<dyn coverdesk::objects::ObjectStore>) -> Self {
        CountingObjects { inner, heads: Default::default(), puts: Default::default() }
    }
}

#[async_trait::async_trait]
impl coverdesk::objects::ObjectStore for CountingObjects {
    async fn put_file(
        &self,
        key: &str,
        path: &std::path::Path,
        meta: &coverdesk::objects::ObjectMeta,
    ) -> Result<(), coverdesk::objects::ObjectError> {
        self.puts.fetch_add(1, Ordering::SeqCst);
        self.inner.put_file(key, path, meta).await
    }
    async fn put_bytes(
        &self,
        key: &str,
        bytes: Vec<u8>,
        meta: &coverdesk::objects::ObjectMeta,
    ) -> Result<(), coverdesk::objects::ObjectError> {
        self.puts.fetch_add(1, Ordering::SeqCst);
        self.inner.put_bytes(key, bytes, meta).await
    }
    async fn put_new(
        &self,
        key: &str,
        body: coverdesk::fetch::Body,
        meta: &coverdesk::objects::ObjectMeta,
    ) -> Result<bool, coverdesk::objects::ObjectError> {
        self.puts.fetch_add(1, Ordering::SeqCst);
        self.inner.put_new(key, body, meta).await
    }
    async fn get_bytes(&self, key: &str) -> Result<Option<Vec<u8>>, coverdesk::objects::ObjectError> {
        self.inner.get_bytes(key).await
    }
    async fn get_file(
        &self,
        key: &str,
        dest: &std::path::Path,
        limit: u64,
    ) -> Result<Option<u64>, coverdesk::objects::ObjectError> {
        self.inner.get_file(key, dest, limit).await
    }
    async fn head(&self, key: &str) -> Result<Option<coverdesk::objects::Stat>, coverdesk::objects::ObjectError> {
        self.heads.fetch_add(1, Ordering::SeqCst);
        self.inner.head(key).await
    }
    async fn delete(&self, key: &str) -> Result<(), coverdesk::objects::ObjectError> {
        self.inner.delete(key).await
    }
    async fn list(&self, prefix: &str) -> Result<Vec<String>, coverdesk::objects::ObjectError> {
        self.inner.list(prefix).await
    }
}

/// Each named test body (`async fn name(api: &TestApi)`) run on both transports: the local
/// server over the embedded store, and the Lambda handlers over DynamoDB Local.
#[allow(unused_macros)]
macro_rules! both {
    ($($name:ident),* $(,)?) => {
        mod local_server {
            use super::*;
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name(&TestApi::new(Transport::Local).await).await; })*
        }
        mod lambda_on_dynamodb {
            use super::*;
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name(&TestApi::new(Transport::Lambda).await).await; })*
        }
    };
}

/// A document server on loopback (the test deps allow private addresses): every path is a small
/// PDF naming its path.
pub async fn pdf_server() -> std::net::SocketAddr {
    use http_body_util::Full;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { return };
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(|req: hyper::Request<hyper::body::Incoming>| async move {
                    let body = format!("%PDF-1.4 document {} {}\n%%EOF\n", req.uri().path(), "x".repeat(2000));
                    let mut r = hyper::Response::new(Full::new(bytes::Bytes::from(body)));
                    r.headers_mut().insert("content-type", "application/pdf".parse().unwrap());
                    Ok::<_, std::convert::Infallible>(r)
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    addr
}
