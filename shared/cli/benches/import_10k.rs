//! A batch of 10,000 transactions (two documents each) imported the way an S3 upload is: the
//! batch file read from the object store, every document fetched from a local HTTP server and
//! stored, every transaction recorded. Prints the time and the process's peak memory (VmHWM).
//!
//! ```text
//! cargo bench -p coverdesk-cli --bench import_10k                       # embedded store + folder
//! COVERDESK_BENCH_S3=http://127.0.0.1:8766 COVERDESK_BENCH_DYNAMODB=http://127.0.0.1:8765 \
//!   cargo bench -p coverdesk-cli --bench import_10k                     # DynamoDB Local + S3-API server
//! ```
//! Options after `--`: `--transactions N` (10000), `--documents N` (2 per transaction).

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

async fn serve_documents() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let body = Bytes::from(vec![b'%'; 40 << 10]);
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

#[tokio::main]
async fn main() {
    let n = arg("--transactions", 10_000);
    let docs_per = arg("--documents", 2);
    let dir = tempfile::tempdir().unwrap();
    let base = serve_documents().await;
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
                let s = coverdesk::store::embedded::EmbeddedStore::open(dir.path().join("s.redb")).unwrap();
                (Arc::new(s), Arc::new(FolderStore::new(dir.path().join("objects"))), "embedded store + folder")
            }
        };
    let deps = coverdesk::deps::Deps::new(store, objects, coverdesk::crypto::Keys::from_bytes(&[9u8; 32]), true);

    let batch: Vec<serde_json::Value> = (0..n)
        .map(|i| {
            let docs: Vec<_> = (0..docs_per)
                .map(|k| json!({"code": CODES[k % 3], "url": format!("{base}/doc/{i}/{k}"), "id": i * 10 + k}))
                .collect();
            json!({
                "id": format!("BENCH-{i:06}"), "policy_number": format!("CA-{i}"), "policy_effective_date": "2024-03-01",
                "transaction_effective_date": "2024-03-01", "transaction_type": "PN", "account_written_as": "B", "rpg": 0,
                "premium": 3900.00, "agency_fee": 200.00, "inspection_fee": 0.00, "sl_tax": 117.00, "stamping_fee": 7.02,
                "sl_service_charge": 0.00, "municipal_fee": 0.00, "fm_tax": 0.00, "total": 4224.02, "commission_received": 0,
                "non_admitted_insured_name": "Lloyd's Syndicate", "invoice_date": "2024-03-01", "ecp": 0,
                "mailing_insured_name": "Insured", "mailing_address": "1 Main St", "mailing_city": "Roseville",
                "mailing_zip_code": "95678", "mailing_state_code": "CA", "physical_same_as_mailing": 1,
                "transaction_line_of_business": "1010", "transaction_documents": docs
            })
        })
        .collect();
    let bytes = serde_json::to_vec(&batch).unwrap();
    let size = bytes.len();
    drop(batch);
    coverdesk::auth::ensure_team(deps.store.as_ref(), "bench", "bench", "bench-secret-0").await.unwrap();
    deps.objects.put_bytes("uploads/bench/batch.json", bytes, "application/json").await.unwrap();
    let before = peak_rss_mib();
    let started = Instant::now();
    let out =
        coverdesk::import::upload::import_object(&deps, "bench", "uploads/bench/batch.json", "etag-1", &|_, _| {})
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
    assert_eq!(out.imported, n, "every transaction imported");
}
