//! A batch of 10,000 transactions (two documents each) imported the way an S3 upload is: the
//! batch file read from the object store, every document fetched from a local HTTP server and
//! stored, every transaction recorded. Prints the time and the process's peak memory (VmHWM).
//! The batch file is written to the object store a transaction at a time, so the bench itself
//! never holds the batch: the peak is the import's.
//!
//! ```text
//! cargo bench -p coverdesk-cli --bench import_10k                       # embedded store + folder
//! COVERDESK_BENCH_S3=http://127.0.0.1:8766 COVERDESK_BENCH_DYNAMODB=http://127.0.0.1:8765 \
//!   cargo bench -p coverdesk-cli --bench import_10k                     # DynamoDB Local + S3-API server
//! cargo bench -p coverdesk-cli --bench import_10k -- --sizes 1000,10000,50000 --document-bytes 2048
//! cargo test -p coverdesk-cli --bench import_10k -- --quick          # its checks, small (test command)
//! ```
//! Options after `--`: `--transactions N` (10000), `--documents N` (2 per transaction, each
//! `--document-bytes` long, 40960). `--sizes A,B,C` imports each size in a fresh process of its
//! own (so one size's memory never counts in the next) and prints peak memory per size, side by
//! side, with each size's ratio to the smallest.

use std::io::Write as _;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use coverdesk::objects::{FolderStore, ObjectStore};
use coverdesk::store::Store;
use coverdesk_s3::S3Store;
use http_body_util::Full;
use serde_json::json;

const CODES: [&str; 3] = ["D1DISC", "POLIC", "SSW"];

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)?.parse().ok()).unwrap_or(default)
}

async fn serve_documents(bytes: usize) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let body = Bytes::from(vec![b'%'; bytes]);
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { return };
            let body = body.clone();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |_req| {
                    let body = body.clone();
                    async move {
                        let mut r = hyper::Response::new(Full::new(body));
                        r.headers_mut().insert("content-type", "application/pdf".parse().unwrap());
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

/// `--sizes`: each size in a process of its own; a table of their peaks.
fn sizes(list: &str) {
    let exe = std::env::current_exe().unwrap();
    let pass: Vec<String> = ["--documents", "--document-bytes"]
        .iter()
        .filter_map(|name| {
            let args: Vec<String> = std::env::args().collect();
            let i = args.iter().position(|a| a == name)?;
            Some([name.to_string(), args.get(i + 1)?.clone()])
        })
        .flatten()
        .collect();
    let mut rows = Vec::new();
    for n in list.split(',') {
        let out = std::process::Command::new(&exe).args(["--transactions", n]).args(&pass).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        print!("{text}");
        assert!(out.status.success(), "size {n} failed: {}", String::from_utf8_lossy(&out.stderr));
        let row = text.lines().find_map(|l| l.strip_prefix("ROW ")).unwrap().to_string();
        let f: Vec<f64> = row.split_whitespace().map(|x| x.parse().unwrap()).collect();
        rows.push(f);
    }
    println!(
        "\n| transactions | batch file | time | transactions/s | peak RSS | before the import | peak / smallest's |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    let smallest = rows[0][4];
    for f in &rows {
        println!(
            "| {:.0} | {:.1} MB | {:.1} s | {:.0} | {:.0} MiB | {:.0} MiB | {:.2}x |",
            f[0],
            f[1],
            f[2],
            f[0] / f[2],
            f[4],
            f[3],
            f[4] / smallest
        );
    }
}

// Long on purpose: a bench's main is its whole protocol (set up, run each case, print the
// table), read top to bottom once.
#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(list) = args.iter().position(|a| a == "--sizes").and_then(|i| args.get(i + 1)) {
        return sizes(list);
    }
    // `--quick`: a small run of the same protocol, so its checks run in the test command.
    let quick = args.iter().any(|a| a == "--quick");
    let n = arg("--transactions", if quick { 200 } else { 10_000 });
    let docs_per = arg("--documents", 2);
    let dir = tempfile::tempdir().unwrap();
    let base = serve_documents(arg("--document-bytes", if quick { 2 << 10 } else { 40 << 10 })).await;
    let (store, objects, label): (Arc<dyn Store>, Arc<dyn ObjectStore>, &str) =
        match (std::env::var("COVERDESK_BENCH_DYNAMODB"), std::env::var("COVERDESK_BENCH_S3")) {
            (Ok(ddb), Ok(s3)) => {
                let creds = aws_sdk_dynamodb::config::Credentials::new("b", "b", None, None, "bench");
                let dconf = aws_sdk_dynamodb::Config::builder()
                    .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
                    .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
                    .endpoint_url(ddb)
                    .credentials_provider(creds.clone())
                    .build();
                let table = format!("bench-{}", std::process::id());
                let d = coverdesk_dynamo::DynamoStore::new(aws_sdk_dynamodb::Client::from_conf(dconf), table);
                d.create_table().await.unwrap();
                let sconf = aws_sdk_s3::Config::builder()
                    .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
                    .region(aws_sdk_s3::config::Region::new("us-east-1"))
                    .endpoint_url(s3)
                    .force_path_style(true)
                    .credentials_provider(aws_sdk_s3::config::Credentials::new("b", "b", None, None, "bench"))
                    .build();
                let s = S3Store::new(aws_sdk_s3::Client::from_conf(sconf), format!("bench-{}", std::process::id()));
                s.create_bucket().await.unwrap();
                (Arc::new(d), Arc::new(s), "DynamoDB Local + S3-API server")
            }
            _ => {
                let s = coverdesk_local::EmbeddedStore::open(dir.path().join("s.redb")).unwrap();
                (Arc::new(s), Arc::new(FolderStore::new(dir.path().join("objects"))), "embedded store + folder")
            }
        };
    let deps = coverdesk_http::connect(coverdesk::deps::Deps::new(
        store,
        objects,
        coverdesk::crypto::Keys::from_bytes(&[9u8; 32]),
        true,
    ));

    // The batch written a transaction at a time, then stored: the bench never holds it.
    let file = dir.path().join("batch.json");
    let mut w = std::io::BufWriter::new(std::fs::File::create(&file).unwrap());
    w.write_all(b"[").unwrap();
    for i in 0..n {
        let docs: Vec<_> = (0..docs_per)
            .map(|k| json!({"code": CODES[k % 3], "url": format!("{base}/doc/{i}/{k}"), "id": i * 10 + k}))
            .collect();
        let t = json!({
            "id": format!("BENCH-{i:06}"), "policy_number": format!("CA-{i}"), "policy_effective_date": "2024-03-01",
            "transaction_effective_date": "2024-03-01", "transaction_type": "PN", "account_written_as": "B", "rpg": 0,
            "premium": 3900.00, "agency_fee": 200.00, "inspection_fee": 0.00, "sl_tax": 117.00, "stamping_fee": 7.02,
            "sl_service_charge": 0.00, "municipal_fee": 0.00, "fm_tax": 0.00, "total": 4224.02, "commission_received": 0,
            "non_admitted_insured_name": "Lloyd's Syndicate", "invoice_date": "2024-03-01", "ecp": 0,
            "mailing_insured_name": "Insured", "mailing_address": "1 Main St", "mailing_city": "Roseville",
            "mailing_zip_code": "95678", "mailing_state_code": "CA", "physical_same_as_mailing": 1,
            "transaction_line_of_business": "1010", "transaction_documents": docs
        });
        if i > 0 {
            w.write_all(b",\n").unwrap();
        }
        serde_json::to_writer(&mut w, &t).unwrap();
    }
    w.write_all(b"]").unwrap();
    w.flush().unwrap();
    drop(w);
    let size = std::fs::metadata(&file).unwrap().len() as usize;
    coverdesk::auth::ensure_team(deps.store.as_ref(), "bench", "bench", "bench-secret-0").await.unwrap();
    let plain = coverdesk::objects::ObjectMeta { content_type: "application/json".into(), sha256: String::new() };
    deps.objects.put_file("uploads/bench/batch.json", &file, &plain).await.unwrap();
    std::fs::remove_file(&file).unwrap();
    let before = peak_rss_mib();
    let started = Instant::now();
    let out = coverdesk::import::upload::import_object(
        &deps.imports(),
        "bench",
        "uploads/bench/batch.json",
        "etag-1",
        &|_, _| {},
    )
    .await
    .unwrap();
    let secs = started.elapsed().as_secs_f64();
    println!(
        "import_10k [{label}]: {} transactions ({:.1} MB batch file, {} documents) imported {} in {secs:.1} s ({:.0} transactions/s); peak RSS {:.0} MiB (before the import {:.0} MiB)",
        out.total,
        size as f64 / 1e6,
        out.total * docs_per,
        out.imported,
        out.total as f64 / secs,
        peak_rss_mib(),
        before
    );
    println!("ROW {} {} {secs} {before} {}", out.total, size as f64 / 1e6, peak_rss_mib());
    assert_eq!(out.imported, n, "every transaction imported");
}
