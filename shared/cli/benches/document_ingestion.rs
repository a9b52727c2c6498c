//! Issue 11's document-ingestion bench: documents fetched the way an import fetches them (the
//! fetcher hashes each as it arrives, keeps it in memory up to 1 MiB and streams a larger one to a
//! spool file, then the object store stores it) beside a plain concurrent copy of the same bytes
//! from the same local server to files, 16 at a time both. For each size up to the 25 MB cap:
//! throughput of both, and the process's peak memory during ours (VmHWM, reset before each size),
//! which stays flat in the document's size past 1 MiB because no larger document is held whole.
//!
//! The two cases alternate which runs first from one size to the next, and a peak that could not
//! be reset is said so, never printed as if it were this size's.
//!
//! ```text
//! cargo bench -p coverdesk-cli --bench document_ingestion
//! cargo bench -p coverdesk-cli --bench document_ingestion -- --total-mb 200
//! cargo test -p coverdesk-cli --bench document_ingestion -- --quick   # its checks, small (test command)
//! ```

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use coverdesk::objects::{FolderStore, ObjectMeta, ObjectStore};
use http_body_util::BodyExt;
use hyper::body::{Body, Frame};

const CONCURRENCY: usize = 16;

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)?.parse().ok()).unwrap_or(default)
}

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn status_kib(key: &str) -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status.lines().find(|l| l.starts_with(key)).and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
}

/// Resets the peak to the current resident size (Linux: `clear_refs` 5); whether it took (the
/// peak is then within a MiB of the resident size).
fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
        && matches!((status_kib("VmHWM:"), status_kib("VmRSS:")), (Some(h), Some(r)) if h <= r + 1024.0)
}

/// A body of `left` bytes sent in 64 KB frames of one shared buffer: the server holds no document.
struct Repeat {
    left: usize,
    chunk: Bytes,
}

impl Body for Repeat {
    type Data = Bytes;
    type Error = std::convert::Infallible;
    fn poll_frame(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if self.left == 0 {
            return Poll::Ready(None);
        }
        let n = self.left.min(self.chunk.len());
        self.left -= n;
        Poll::Ready(Some(Ok(Frame::data(self.chunk.slice(..n)))))
    }
}

/// Serves `/<size>/<n>`: `size` bytes of PDF-ish filler.
async fn serve() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let chunk = Bytes::from(vec![b'%'; 64 << 10]);
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { return };
            let chunk = chunk.clone();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let size = req.uri().path().split('/').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
                    let body = Repeat { left: size, chunk: chunk.clone() };
                    async move {
                        let mut r = hyper::Response::new(body);
                        r.headers_mut().insert("content-type", "application/pdf".parse().unwrap());
                        r.headers_mut().insert("content-length", size.to_string().parse().unwrap());
                        Ok::<_, std::convert::Infallible>(r)
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    format!("http://{addr}")
}

type Client = hyper_util::client::legacy::Client<
    hyper_util::client::legacy::connect::HttpConnector,
    http_body_util::Empty<Bytes>,
>;

/// Plain: download each to a file, nothing else; MB/s.
async fn plain_copy(client: &Client, base: &str, size: usize, count: usize, root: &std::path::Path) -> f64 {
    std::fs::create_dir_all(root).unwrap();
    let sem = Arc::new(tokio::sync::Semaphore::new(CONCURRENCY));
    let t0 = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for n in 0..count {
        let (client, sem, url, path) =
            (client.clone(), sem.clone(), format!("{base}/{size}/{n}"), root.join(n.to_string()));
        set.spawn(async move {
            let _p = sem.acquire().await.unwrap();
            let mut body = client.get(url.parse().unwrap()).await.unwrap().into_body();
            let mut file = tokio::fs::File::create(&path).await.unwrap();
            while let Some(frame) = body.frame().await {
                if let Ok(data) = frame.unwrap().into_data() {
                    tokio::io::AsyncWriteExt::write_all(&mut file, &data).await.unwrap();
                }
            }
            tokio::io::AsyncWriteExt::flush(&mut file).await.unwrap();
        });
    }
    while let Some(done) = set.join_next().await {
        done.unwrap();
    }
    let rate = (count * size) as f64 / 1e6 / t0.elapsed().as_secs_f64();
    std::fs::remove_dir_all(root).unwrap();
    rate
}

/// Ours: fetched while hashed (in memory up to 1 MiB, else to a spool file), then stored; MB/s,
/// and the peak memory during it (`None` when the peak could not be reset).
async fn ours(
    fetcher: &Arc<coverdesk_http::Fetcher>,
    base: &str,
    size: usize,
    count: usize,
    round: &std::path::Path,
) -> (f64, Option<f64>) {
    let spool = round.join("spool");
    std::fs::create_dir_all(&spool).unwrap();
    let objects: Arc<dyn ObjectStore> = Arc::new(FolderStore::new(round.join("objects")));
    let sem = Arc::new(tokio::sync::Semaphore::new(CONCURRENCY));
    let reset = reset_peak();
    let t0 = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for n in 0..count {
        let (fetcher, objects, sem, spool, url) =
            (fetcher.clone(), objects.clone(), sem.clone(), spool.clone(), format!("{base}/{size}/{n}"));
        set.spawn(async move {
            let _p = sem.acquire().await.unwrap();
            let f = fetcher.fetch(&url, &spool).await.unwrap();
            assert_eq!(f.size as usize, size);
            let meta = ObjectMeta { content_type: f.content_type.clone(), sha256: f.sha256.clone() };
            assert!(objects.put_new(&format!("documents/t/x/{n:05}-POLIC"), f.body, &meta).await.unwrap());
        });
    }
    while let Some(done) = set.join_next().await {
        done.unwrap();
    }
    let rate = (count * size) as f64 / 1e6 / t0.elapsed().as_secs_f64();
    let peak = reset.then(peak_rss_mib);
    // Counted in the folder (a listing stops at 1,000 keys): each document and its metadata.
    let stored = std::fs::read_dir(round.join("objects/documents/t/x")).unwrap().count();
    assert_eq!(stored, 2 * count, "every document stored, with its metadata");
    (rate, peak)
}

// Long on purpose: a bench's main is its whole protocol (set up, run each case, print the
// table), read top to bottom once.
#[tokio::main]
async fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let total_mb = arg("--total-mb", if quick { 16 } else { 400 });
    let base = serve().await;
    let dir = tempfile::tempdir().unwrap();
    let cap = coverdesk::fetch::FetchLimits::default().max_bytes as usize;
    let fetcher = Arc::new(coverdesk_http::Fetcher::new(true, coverdesk::fetch::FetchLimits::default()).unwrap());
    let client: Client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Empty<Bytes>>();
    println!("{CONCURRENCY} at a time, {total_mb} MB per size; peak memory of the whole process during ours");
    println!(
        "{:>9} {:>6} {:>22} {:>22} {:>7} {:>12}  first",
        "document", "count", "ours (fetch + store)", "plain copy to files", "ratio", "peak RSS"
    );
    // Up to 1 MiB a document stays in memory; past it, it is spooled (the quick mode checks both).
    let sizes: Vec<usize> = if quick { vec![256 << 10, 2 << 20] } else { vec![256 << 10, 1 << 20, 5 << 20, cap] };
    for (i, size) in sizes.into_iter().enumerate() {
        let count = ((total_mb << 20) / size).max(CONCURRENCY);
        let round = dir.path().join(format!("r{size}"));
        // Which runs first alternates from one size to the next.
        let ours_first = i % 2 == 1;
        let (mut plain, mut mine) = (0.0, (0.0, None));
        for step in 0..2 {
            if (step == 0) == ours_first {
                mine = ours(&fetcher, &base, size, count, &round).await;
            } else {
                plain = plain_copy(&client, &base, size, count, &round.join("plain")).await;
            }
        }
        std::fs::remove_dir_all(&round).unwrap();
        let peak = mine.1.map_or("n/a (reset refused)".to_string(), |p| format!("{p:.1} MiB"));
        println!(
            "{:>6} KB {count:>6} {:>17.0} MB/s {:>17.0} MB/s {:>6.2}x {:>12}  {}",
            size >> 10,
            mine.0,
            plain,
            mine.0 / plain,
            peak,
            if ours_first { "ours" } else { "plain" }
        );
    }
}
