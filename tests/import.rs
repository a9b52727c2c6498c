//! Why one file of ~1,650 lines: one suite per API, sharing its document server, its two stores
//! and the local server it starts; splitting it would copy those three.
//!
//! Transaction import end to end: batches POSTed to the local server (embedded store and
//! DynamoDB Local) with documents fetched from a real local HTTP server; uploads through the S3
//! trigger against an S3-API server; the fetcher's guards; every response checked against
//! openapi.json.

#[macro_use]
mod support;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use chrono::NaiveDate;
use coverdesk::import::rules::{rules, Base, Charge, Field, Jurisdiction, Period, Rounding};
use coverdesk::objects::ObjectStore;
use http_body_util::Full;
use rust_decimal::{Decimal, RoundingStrategy};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use support::api::{TestApi, Transport};

// ---- a document server ----

#[derive(Clone)]
struct Docs {
    addr: SocketAddr,
    flaky_left: Arc<AtomicUsize>,
    /// Requests for `/paced/<name>` (each answered after 20 ms).
    paced_hits: Arc<AtomicUsize>,
    /// Requests for `/held/<name>`, each answered once [`Docs::release`] is called.
    held_hits: Arc<AtomicUsize>,
    released: Arc<tokio::sync::watch::Sender<bool>>,
}

/// A document past what the fetcher keeps in memory (`IN_MEMORY_MAX`, 1 MiB): 3 MiB.
fn large_document() -> Vec<u8> {
    (0..3u32 << 20).map(|i| (i % 251) as u8).collect()
}

fn pdf(name: &str) -> Vec<u8> {
    format!("%PDF-1.4 document {name} {}", "x".repeat(2000)).into_bytes()
}

impl Docs {
    async fn start() -> Docs {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let flaky_left = Arc::new(AtomicUsize::new(2));
        let paced_hits = Arc::new(AtomicUsize::new(0));
        let held_hits = Arc::new(AtomicUsize::new(0));
        let released = Arc::new(tokio::sync::watch::Sender::new(false));
        let (flaky, paced, held, gate) = (flaky_left.clone(), paced_hits.clone(), held_hits.clone(), released.clone());
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { return };
                let (flaky, paced, held, gate) = (flaky.clone(), paced.clone(), held.clone(), gate.clone());
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                        let (flaky, paced, held, mut gate) =
                            (flaky.clone(), paced.clone(), held.clone(), gate.subscribe());
                        async move {
                            let path = req.uri().path().to_string();
                            let trace = req.headers().get("x-amzn-trace-id").map(|v| v.as_bytes().to_vec());
                            let (status, body, location): (u16, Vec<u8>, Option<String>) = if let Some(name) =
                                path.strip_prefix("/doc/")
                            {
                                (200, pdf(name), None)
                            } else if let Some(name) = path.strip_prefix("/paced/") {
                                paced.fetch_add(1, Ordering::SeqCst);
                                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                                (200, pdf(name), None)
                            } else if let Some(name) = path.strip_prefix("/held/") {
                                held.fetch_add(1, Ordering::SeqCst);
                                let _ = gate.wait_for(|open| *open).await;
                                (200, pdf(name), None)
                            } else if path == "/echo-trace" {
                                (200, trace.unwrap_or_default(), None)
                            } else if path == "/flaky" {
                                if flaky.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok()
                                {
                                    (503, b"busy".to_vec(), None)
                                } else {
                                    (200, pdf("flaky"), None)
                                }
                            } else if path == "/slow" {
                                tokio::time::sleep(std::time::Duration::from_secs(2)).await;
                                (200, pdf("slow"), None)
                            } else if path == "/big" {
                                (200, vec![b'x'; 300 << 10], None)
                            } else if path == "/large" {
                                (200, large_document(), None)
                            } else if path == "/to-doc" {
                                (302, vec![], Some("/doc/redirected".into()))
                            } else if path == "/to-ftp" {
                                (302, vec![], Some("ftp://example.com/file".into()))
                            } else {
                                (404, b"no".to_vec(), None)
                            };
                            let mut r = hyper::Response::new(Full::new(Bytes::from(body)));
                            *r.status_mut() = hyper::StatusCode::from_u16(status).unwrap();
                            r.headers_mut().insert("content-type", "application/pdf".parse().unwrap());
                            if let Some(l) = location {
                                r.headers_mut().insert("location", l.parse().unwrap());
                            }
                            Ok::<_, std::convert::Infallible>(r)
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        Docs { addr, flaky_left, paced_hits, held_hits, released }
    }
    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
    /// Returns once `n` requests for held documents have arrived (failing with `why` after 20 s).
    async fn held_asked(&self, n: usize, why: &str) {
        let started = std::time::Instant::now();
        while self.held_hits.load(Ordering::SeqCst) < n {
            assert!(started.elapsed().as_secs() < 20, "{why}");
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }
    /// Answers every request for `/held/<name>`, those waiting and those to come.
    fn release(&self) {
        self.released.send_replace(true);
    }
}

/// Seed 002's example, with its documents on the local server.
fn seed_example(docs: &Docs, id: &str) -> Value {
    json!({
        "id": id, "policy_number": "CA20170228-05", "policy_effective_date": "2017-02-01",
        "transaction_effective_date": "2017-02-01", "transaction_type": "PN", "account_written_as": "B",
        "rpg": 0, "premium": 3900.00, "agency_fee": 200.00, "inspection_fee": 0.00, "sl_tax": 117.00,
        "stamping_fee": 7.80, "sl_service_charge": 0.00, "municipal_fee": 0.00, "fm_tax": 0.00, "total": 4224.80,
        "commission_received": 0, "non_admitted_insured_name": "1001", "invoice_date": "2017-02-01",
        "purchasing_group_name": "Cal Association", "ecp": 0, "risk_description": "This is a risk description",
        "mailing_insured_name": "Westfield Galleria at Roseville", "mailing_address": "1151 Galleria Blvd",
        "mailing_city": "Roseville", "mailing_zip_code": "95678", "mailing_state_code": "CA",
        "physical_same_as_mailing": 1, "transaction_line_of_business": "1001", "exempt": 0, "export_list": 0,
        "multi_state": 0,
        "transaction_documents": [
            {"code": "D1DISC", "url": docs.url("/doc/d1"), "id": 1000001},
            {"code": "POLIC", "url": docs.url("/doc/polic"), "id": 1000002}
        ]
    })
}

fn with(mut v: Value, field: &str, value: Value) -> Value {
    if value.is_null() {
        v.as_object_mut().unwrap().remove(field);
    } else {
        v[field] = value;
    }
    v
}

fn uid(tag: &str) -> String {
    support::unique(tag)
}

/// A batch answered inline, whatever its size.
async fn post_batch(api: &TestApi, batch: Value) -> Value {
    let r = api.post("/import/v1/transactions?mode=sync", batch).await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body
}

// ---- the flows ----

async fn the_seed_example_imports_with_its_documents(t: Transport) {
    let api = TestApi::new(t).await;
    let docs = Docs::start().await;
    let id = uid("seed");
    let body = post_batch(&api, json!([seed_example(&docs, &id)])).await;
    let tx = &body["transactions"][0];
    assert_eq!((tx["status"].as_u64(), tx["status_message"].as_str()), (Some(0), Some("Success")), "{body}");
    assert_eq!(tx["id"], id.as_str());
    assert_eq!(tx["policy_number"], "CA20170228-05");
    assert!(tx.get("warnings").is_none(), "117.00 and 7.80 are what the rules compute");
    assert_eq!(body["batch_id"].as_str().unwrap().len(), 32);

    // The documents are stored under team / transaction / document, with size, type and SHA-256.
    let r = api.get(&format!("/import/v1/transactions/{id}")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let stored = r.body["documents"].as_array().unwrap();
    assert_eq!(stored.len(), 2);
    let batch_id = body["batch_id"].as_str().unwrap();
    for (d, name) in stored.iter().zip(["d1", "polic"]) {
        let key = d["key"].as_str().unwrap();
        // Under the transaction, not the batch: a rerun or a batch sent again reuses it.
        assert!(key.contains(&id) && !key.contains(batch_id), "{key}");
        let bytes = api.deps.objects.get_bytes(key).await.unwrap().unwrap();
        assert_eq!(bytes, pdf(name));
        assert_eq!(d["size"].as_u64(), Some(bytes.len() as u64));
        assert_eq!(
            d["sha256"].as_str().unwrap(),
            Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect::<String>()
        );
        assert_eq!(d["content_type"], "application/pdf");
    }

    // The same transaction again: 3001. Results readable later by batch id.
    let again = post_batch(&api, json!([seed_example(&docs, &id)])).await;
    assert_eq!(again["transactions"][0]["status"], 3001, "{again}");
    let r = api.get(&format!("/import/v1/transaction-import-results?batch_id={batch_id}")).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["transactions"][0]["status"], 0);
    assert_eq!(r.body["status"], "processed");
    assert_eq!(api.get("/import/v1/transaction-import-results?batch_id=nope").await.status, 404);
    assert_eq!(api.without_auth().get("/import/v1/transaction-import-results?batch_id=x").await.status, 401);
    // Another team sees none of it.
    let other = api.new_team().await;
    assert_eq!(other.get(&format!("/import/v1/transactions/{id}")).await.status, 404);
}

/// One batch, one transaction per status code and conditional rule: each gets its own answer,
/// and the good one is imported whatever the others do.
async fn every_status_code_in_one_batch(t: Transport) {
    coverdesk::metrics::capture();
    let api = TestApi::new(t).await;
    let docs = Docs::start().await;
    let ex = |tag: &str| seed_example(&docs, &uid(tag));
    let nh = |tag: &str, commission: Value, agency: f64, total: f64| {
        let mut v = ex(tag);
        v["mailing_state_code"] = json!("NH");
        v["transaction_documents"] = json!([{"code": "POLIC", "url": docs.url("/doc/p")}]);
        v["stamping_fee"] = json!(0);
        v["agency_fee"] = json!(agency);
        v["total"] = json!(total);
        with(v, "commission_received", commission)
    };
    let mut physical = ex("physical");
    physical["physical_same_as_mailing"] = json!(0);
    let mut utah = ex("utah");
    utah["mailing_state_code"] = json!("UT");
    utah["policy_effective_date"] = json!("2024-01-01");
    utah.as_object_mut().unwrap().remove("export_list");
    let mut rpg = ex("rpg");
    rpg["rpg"] = json!(1);
    rpg.as_object_mut().unwrap().remove("risk_description");
    let dup = uid("dup");
    let cases: Vec<(Value, u16, &str)> = vec![
        (ex("ok"), 0, "Success"),
        (
            with(ex("docs"), "transaction_documents", json!([{"code": "POLIC", "url": docs.url("/doc/p")}])),
            1001,
            "'D1DISC'",
        ),
        (with(ex("type"), "transaction_type", json!("XX")), 1002, "transaction type"),
        (with(ex("lob"), "transaction_line_of_business", json!("1023")), 1003, "line of business"),
        (with(ex("dept"), "mailing_state_code", json!("ZZ")), 1004, "department not found for state 'ZZ'"),
        (with(ex("rule"), "policy_effective_date", json!("2008-12-31")), 1005, "effective from 2009-01-01"),
        (with(ex("amount"), "premium", json!(3900.005)), 2001, "'premium'"),
        // A total that is not the sum of the figures: a warning, as the filing service answers.
        (with(ex("total"), "total", json!(4224.81)), 0, "Success"),
        (rpg, 2001, "'risk_description'"),
        (physical, 2001, "'physical_address'"),
        (utah, 2001, "'export_list'"),
        (nh("nh-missing", Value::Null, 0.0, 4017.0), 2001, "'commission_received'"),
        (nh("nh-fee", json!(1), 200.0, 4217.0), 2001, "tax rule #33"),
        (nh("nh-ok", json!(1), 0.0, 4017.0), 0, "Success"),
        (
            with(
                ex("fetch"),
                "transaction_documents",
                json!([{"code": "D1DISC", "url": docs.url("/doc/a")}, {"code": "POLIC", "url": docs.url("/missing")}]),
            ),
            2002,
            "HTTP 404",
        ),
        (
            with(
                ex("big"),
                "transaction_documents",
                json!([{"code": "D1DISC", "url": docs.url("/big")}, {"code": "POLIC", "url": docs.url("/doc/p")}]),
            ),
            2002,
            "larger than",
        ),
        (
            with(
                ex("flaky"),
                "transaction_documents",
                json!([{"code": "D1DISC", "url": docs.url("/flaky")}, {"code": "POLIC", "url": docs.url("/to-doc")}]),
            ),
            0,
            "Success",
        ),
        (
            with(
                ex("redirect"),
                "transaction_documents",
                json!([{"code": "D1DISC", "url": docs.url("/to-ftp")}, {"code": "POLIC", "url": docs.url("/doc/p")}]),
            ),
            2002,
            "http or https",
        ),
        (json!("not an object"), 2001, "JSON object"),
        (with(ex("x"), "id", json!(dup)), 0, "Success"),
        (with(ex("y"), "id", json!(dup)), 3001, "earlier in this batch"),
    ];
    docs.flaky_left.store(2, Ordering::SeqCst);
    let batch: Vec<Value> = cases.iter().map(|(v, _, _)| v.clone()).collect();
    let body = post_batch(&api, json!(batch)).await;
    let got = body["transactions"].as_array().unwrap();
    assert_eq!(got.len(), cases.len());
    for (i, (g, (_, code, needle))) in got.iter().zip(&cases).enumerate() {
        assert_eq!(g["status"].as_u64(), Some(u64::from(*code)), "case {i}: {g}");
        assert!(g["status_message"].as_str().unwrap().contains(needle), "case {i}: {g}");
    }
    // A transaction whose document failed left nothing behind.
    let fetch_id = got[14]["id"].as_str().unwrap();
    let keys = api.deps.objects.list("documents/").await.unwrap();
    assert!(!keys.iter().any(|k| k.contains(fetch_id)), "{keys:?}");
    // A refused transaction can be sent again, and its last attempt is readable.
    let r = api.get(&format!("/import/v1/transactions/{fetch_id}")).await;
    assert_eq!(r.body["status"], 2002);

    // Not JSON at all: one clear error, nothing imported.
    let r = api.call("POST", "/import/v1/transactions", Some("[{\"id\": ".into()), &[]).await;
    assert_eq!((r.status, r.body["error"].as_str()), (400, Some("INVALID_BATCH")), "{}", r.body);
    let r = api.post("/import/v1/transactions", json!({"id": "1"})).await;
    assert_eq!(r.body["error"], "INVALID_BATCH");
    let r = api.post("/import/v1/transactions", json!([])).await;
    assert_eq!(r.body["error"], "INVALID_BATCH");
    // Issue 10: CloudWatch metrics (EMF): transactions counted by status.
    // This test's team only: the embedded and DynamoDB runs of it share the process's records.
    let records: Vec<Value> = coverdesk::metrics::capture()
        .iter()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|r| r["team"] == api.team.as_str())
        .collect();
    for status in ["0", "1001", "2002", "3001"] {
        assert!(
            records.iter().any(|r| r["status"] == status && r["ImportTransactions"].as_f64() >= Some(1.0)),
            "no ImportTransactions record for status {status}"
        );
    }
}

async fn tax_rules_per_state(t: Transport) {
    let api = TestApi::new(t).await;
    let r = api.get("/import/v1/tax-rules/CA?effective_date=2017-02-01").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let fees = r.body["fees"].as_array().unwrap();
    assert!(fees.iter().any(|f| f["field"] == "sl_tax" && f["rate"] == "0.03"));
    assert!(fees.iter().any(|f| f["field"] == "stamping_fee" && f["rate"] == "0.002"));
    let codes: Vec<&str> =
        r.body["state_documents"].as_array().unwrap().iter().map(|d| d["code"].as_str().unwrap()).collect();
    assert!(codes.contains(&"POLIC") && codes.contains(&"D1DISC"));
    let r = api.get("/import/v1/tax-rules/ca?effective_date=2024-01-01").await;
    assert!(r.body["fees"].as_array().unwrap().iter().any(|f| f["field"] == "stamping_fee" && f["rate"] == "0.0018"));
    assert_eq!(api.get("/import/v1/tax-rules/OR").await.body["fees"][2]["flat_amount"], "10.00");
    assert_eq!(api.get("/import/v1/tax-rules/ZZ").await.status, 404);
    assert_eq!(api.get("/import/v1/tax-rules/CA?effective_date=soon").await.status, 400);
    assert_eq!(api.get("/import/v1/tax-rules/CA?history=maybe").await.status, 400);
    assert_eq!(api.get("/import/v1/tax-rules/CA?surprise=1").await.status, 400);
    // Every one of the 54 jurisdictions answers, every period with its source and whether a
    // public source confirms it.
    for code in coverdesk::import::rules::JURISDICTIONS {
        let r = api.get(&format!("/import/v1/tax-rules/{code}?effective_date=2024-06-01&history=true")).await;
        assert_eq!(r.status, 200, "{code}: {}", r.body);
        for fee in r.body["history"].as_array().unwrap() {
            for p in fee["periods"].as_array().unwrap() {
                assert!(!p["source"].as_str().unwrap().is_empty(), "{code}: {p}");
                assert!(p["verified"].is_boolean(), "{code}: {p}");
            }
        }
    }
    // The CA history: five stamping periods in date order; before the first, a warning (1005).
    let r = api.get("/import/v1/tax-rules/CA?effective_date=2008-06-01&history=true").await;
    let stamping = r.body["history"].as_array().unwrap().iter().find(|f| f["field"] == "stamping_fee").unwrap().clone();
    let rates: Vec<&str> =
        stamping["periods"].as_array().unwrap().iter().map(|p| p["rate"].as_str().unwrap()).collect();
    assert_eq!(rates, ["0.00225", "0.0025", "0.002", "0.0025", "0.0018"]);
    assert!(r.body["warning"].as_str().unwrap().contains("2009-01-01"), "{}", r.body);
    assert_eq!(r.body["fees"], json!([]));
}

/// A transaction of `code` effective `date` with the given money fields, its figures and total
/// as given, carrying every document the jurisdiction names for its type.
fn transaction_in(
    docs: &Docs,
    j: &coverdesk::import::rules::Jurisdiction,
    date: &str,
    kind: &str,
    line: u16,
    money: [Decimal; 3],
    figures: [Decimal; 5],
) -> Value {
    let [premium, agency, inspection] = money;
    let total = premium + agency + inspection + figures.iter().copied().sum::<Decimal>();
    let documents: Vec<Value> = j
        .documents
        .iter()
        .filter(|d| d.transaction_types.iter().any(|t| t.code() == kind))
        .map(|d| json!({"code": d.code, "url": docs.url(&format!("/doc/{}", d.code))}))
        .collect();
    let mut v = seed_example(docs, &uid(&format!("{}-{date}", j.code)));
    for (k, x) in [
        ("mailing_state_code", json!(j.code)),
        ("policy_effective_date", json!(date)),
        ("transaction_effective_date", json!(date)),
        ("invoice_date", json!(date)),
        ("transaction_type", json!(kind)),
        ("transaction_line_of_business", json!(line.to_string())),
        ("premium", json!(premium.to_string())),
        ("agency_fee", json!(agency.to_string())),
        ("inspection_fee", json!(inspection.to_string())),
        ("sl_tax", json!(figures[0].to_string())),
        ("stamping_fee", json!(figures[1].to_string())),
        ("sl_service_charge", json!(figures[2].to_string())),
        ("fm_tax", json!(figures[3].to_string())),
        ("empa_tax", json!(figures[4].to_string())),
        ("municipal_fee", json!("0")),
        ("total", json!(total.to_string())),
        ("transaction_documents", json!(documents)),
    ] {
        v[k] = x;
    }
    v
}

/// The figure of one period, worked out here from the period's own terms as the rule data states
/// them (not by the engine): rate x base x line share, or the flat amount, rounded half away from
/// zero. A consistency check only: a wrong rate, base, date or rounding in the data moves this and
/// the engine together. The figures from the sources are `tests/published.rs`'s.
fn own_terms_figure(p: &Period, kind: &str, line: u16, [premium, agency, inspection]: [Decimal; 3]) -> Decimal {
    if !p.transaction_types.is_empty() && !p.transaction_types.iter().any(|t| t.code() == kind) {
        return Decimal::ZERO;
    }
    if p.lines_excluded.contains(&line) {
        return Decimal::ZERO;
    }
    let hundred = Decimal::from(100);
    let share = match &p.line_shares {
        None => hundred,
        Some(s) => s.get(&line).copied().unwrap_or_default(),
    };
    if share.is_zero() {
        return Decimal::ZERO;
    }
    let raw = match p.charge {
        Charge::Amount(a) => a,
        Charge::Percent { percent, base } => {
            let base = match base {
                Base::Premium => premium,
                Base::PremiumAndInsurerFees => premium + inspection,
                Base::PremiumAndAllFees => premium + inspection + agency,
            };
            base * percent / hundred * share / hundred
        }
    };
    let dp = if p.rounding == Rounding::Dollar { 0 } else { 2 };
    raw.round_dp_with_strategy(dp, RoundingStrategy::MidpointAwayFromZero)
}

/// The five figures of a transaction on `date`, period by period.
fn own_terms_figures(j: &Jurisdiction, date: NaiveDate, kind: &str, line: u16, money: [Decimal; 3]) -> [Decimal; 5] {
    let mut out = [Decimal::ZERO; 5];
    for fee in &j.fees {
        if let Some(p) = fee.periods.iter().find(|p| p.from <= date && p.to.is_none_or(|t| date <= t)) {
            let slot = Field::ALL.iter().position(|f| *f == fee.field).unwrap();
            out[slot] += own_terms_figure(p, kind, line, money);
        }
    }
    out
}

/// Issue 8's table, a consistency check (issue 21): for every period of every jurisdiction, a
/// transaction at the figures the rule data's own terms give imports with status 0 and no warning,
/// and one at the neighbouring period's figure warns on that field (and the total). Its expected
/// figures come from the rule data itself, so it cannot catch a wrong rate in the data: the figures
/// worked out from each period's source are checked by `tests/published.rs`.
async fn every_period_of_every_jurisdiction_consistent_with_the_rule_data(t: Transport) {
    let api = TestApi::new(t).await;
    let docs = Docs::start().await;
    let money = [Decimal::new(1_234_567, 2), Decimal::new(15_000, 2), Decimal::new(7_500, 2)];
    let mut batch = Vec::new();
    // (index in the batch, the field that must warn, the expected figures)
    let mut expect: Vec<(Option<&str>, [Decimal; 5], String)> = Vec::new();
    for (code, j) in &rules().jurisdictions {
        for fee in &j.fees {
            for (k, p) in fee.periods.iter().enumerate() {
                let kind = p.transaction_types.first().map(|t| t.code()).unwrap_or("PN");
                let line = match &p.line_shares {
                    Some(s) => *s.keys().next().unwrap(),
                    None => (1001..=1022).rev().find(|l| !p.lines_excluded.contains(l)).unwrap(),
                };
                let date = p.from;
                let figures = own_terms_figures(j, date, kind, line, money);
                let what = format!("{code} {} from {date}", fee.name);
                batch.push(transaction_in(&docs, j, &date.to_string(), kind, line, money, figures));
                expect.push((None, figures, what.clone()));
                // The neighbouring period's figure for this field: a warning on it.
                let slot = Field::ALL.iter().position(|f| *f == fee.field).unwrap();
                let neighbour = if k > 0 { fee.periods.get(k - 1) } else { fee.periods.get(k + 1) };
                if let Some(q) = neighbour {
                    let mine = own_terms_figure(p, kind, line, money);
                    let theirs = own_terms_figure(q, kind, line, money);
                    if mine != theirs {
                        let mut wrong = figures;
                        wrong[slot] += theirs - mine;
                        batch.push(transaction_in(&docs, j, &date.to_string(), kind, line, money, wrong));
                        expect.push((
                            Some(fee.field.warning().0),
                            figures,
                            format!("{what} at the figure from {}", q.from),
                        ));
                    }
                }
            }
        }
    }
    assert!(batch.len() > 150, "{} transactions", batch.len());
    let body = post_batch(&api, json!(batch)).await;
    let got = body["transactions"].as_array().unwrap();
    assert_eq!(got.len(), expect.len());
    for (g, (warn, figures, what)) in got.iter().zip(&expect) {
        assert_eq!(g["status"], 0, "{what}: {g}");
        let calc = &g["calculated"];
        for (f, v) in Field::ALL.iter().zip(figures) {
            // `empa_tax` is shown only where there is one.
            let shown = calc[f.name()].as_str().or((f.name() == "empa_tax").then_some("0.00"));
            assert_eq!(shown, Some(format!("{v:.2}").as_str()), "{what}: {g}");
        }
        let warnings: Vec<&str> =
            g["warnings"].as_object().map(|w| w.keys().map(String::as_str).collect()).unwrap_or_default();
        match warn {
            None => assert!(warnings.is_empty(), "{what}: {g}"),
            Some(key) => assert_eq!(warnings, [*key, "total"], "{what}: {g}"),
        }
    }
}

/// Endorsements and cancellations take the rate in force at inception; return premiums give
/// negative figures; Illinois rounds to the dollar; a code that is no jurisdiction is 1004.
async fn the_rules_applied_to_endorsements_returns_and_rounding(t: Transport) {
    let api = TestApi::new(t).await;
    let docs = Docs::start().await;
    let ca = rules().jurisdictions.get("CA").unwrap();
    let il = rules().jurisdictions.get("IL").unwrap();
    let d = |s: &str| Decimal::from_str_exact(s).unwrap();
    let with_txn_date = |mut v: Value, date: &str| {
        v["transaction_effective_date"] = json!(date);
        v
    };
    let zero = d("0");
    let cases: Vec<(Value, [&str; 4], &str)> = vec![
        // A 2019 policy (0.20% stamping) endorsed in 2020 (0.25% for new policies): 0.20%.
        (
            with_txn_date(
                transaction_in(
                    &docs,
                    ca,
                    "2019-06-01",
                    "APE",
                    1010,
                    [d("1000.00"), zero, zero],
                    [d("30.00"), d("2.00"), zero, zero, zero],
                ),
                "2020-03-01",
            ),
            ["30.00", "2.00", "0.00", "0.00"],
            "APE after a rate change",
        ),
        // Return premium: negative tax and fee.
        (
            transaction_in(
                &docs,
                ca,
                "2019-06-01",
                "RPE",
                1010,
                [d("-1000.00"), zero, zero],
                [d("-30.00"), d("-2.00"), zero, zero, zero],
            ),
            ["-30.00", "-2.00", "0.00", "0.00"],
            "RPE",
        ),
        // A flat cancellation of a 2022 policy (0.25%) filed in 2023 (0.18%): -0.25%.
        (
            with_txn_date(
                transaction_in(
                    &docs,
                    ca,
                    "2022-06-01",
                    "FC",
                    1010,
                    [d("-3900.00"), zero, zero],
                    [d("-117.00"), d("-9.75"), zero, zero, zero],
                ),
                "2023-02-01",
            ),
            ["-117.00", "-9.75", "0.00", "0.00"],
            "FC after a rate change",
        ),
        // Illinois: 3.5% of 3,333.33 = 116.67 -> 117; 0.04% -> 1; fire marshal 1% of 40% (package).
        (
            transaction_in(
                &docs,
                il,
                "2023-03-01",
                "PN",
                1013,
                [d("3333.33"), zero, zero],
                [d("117"), d("1"), zero, d("13"), zero],
            ),
            ["117.00", "1.00", "0.00", "13.00"],
            "IL whole dollars",
        ),
    ];
    let mut batch: Vec<Value> = cases.iter().map(|(v, _, _)| v.clone()).collect();
    // Illinois at the cent: a warning on the tax, in the original's words.
    batch.push(transaction_in(
        &docs,
        il,
        "2023-03-01",
        "PN",
        1010,
        [d("3333.33"), zero, zero],
        [d("116.67"), d("1"), zero, zero, zero],
    ));
    batch.push(with(seed_example(&docs, &uid("zz")), "mailing_state_code", json!("ZZ")));
    let body = post_batch(&api, json!(batch)).await;
    let got = body["transactions"].as_array().unwrap();
    for (g, (_, figures, what)) in got.iter().zip(&cases) {
        assert_eq!(g["status"], 0, "{what}: {g}");
        assert!(g.get("warnings").is_none(), "{what}: {g}");
        let calc = &g["calculated"];
        let seen = [&calc["sl_tax"], &calc["stamping_fee"], &calc["sl_service_charge"], &calc["fm_tax"]];
        assert_eq!(seen.map(|v| v.as_str().unwrap().to_string()), figures.map(str::to_string), "{what}");
    }
    assert_eq!(
        got[4]["warnings"]["slTax"], "SL tax values don't match. Provided - 116.67. Calculated - 117.00",
        "{}",
        got[4]
    );
    assert_eq!(
        (got[5]["status"].as_u64(), got[5]["status_message"].as_str()),
        (Some(1004), Some("Error: department not found for state 'ZZ'."))
    );
    // The record keeps the figures too.
    let id = got[1]["id"].as_str().unwrap();
    let r = api.get(&format!("/import/v1/transactions/{id}")).await;
    assert_eq!(r.body["calculated"]["sl_tax"], "-30.00", "{}", r.body);
    assert_eq!(r.body["calculated"]["total"], "-1032.00");
}

/// Issue 11: a batch's results a page at a time. The pages, read with their cursors, are the
/// whole answer in order; filters by status and by policy number page too; a cursor is refused
/// with another batch, another filter or another team, and so is a limit out of range.
async fn results_are_paged_with_cursors_bound_to_their_batch(t: Transport) {
    let api = TestApi::new(t).await;
    let docs = Docs::start().await;
    let tag = uid("page");
    // 230 transactions: every fifth with its documents (imported, 0), the rest without (1001).
    let batch: Vec<Value> = (0..230)
        .map(|i| {
            let t = with(seed_example(&docs, &format!("{tag}-{i}")), "policy_number", json!(format!("PN-{}", i % 7)));
            if i % 5 == 0 {
                t
            } else {
                with(t, "transaction_documents", json!([]))
            }
        })
        .collect();
    let whole = post_batch(&api, Value::Array(batch)).await;
    let batch_id = whole["batch_id"].as_str().unwrap().to_string();
    let results = |q: &str| format!("/import/v1/transaction-import-results?batch_id={batch_id}{q}");

    // Without a limit: every result (fewer than a page), no cursor.
    let r = api.get(&results("")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["transactions"], whole["transactions"]);
    assert_eq!(r.body["total"], 230);
    assert!(r.body.get("next_cursor").is_none());

    // Pages of 60 with their cursors: 60, 60, 60, 50, in order, the last without a cursor.
    let read_all = |filter: &'static str, limit: usize| {
        let (api, results) = (&api, &results);
        async move {
            let (mut all, mut sizes, mut cursor) = (Vec::new(), Vec::new(), None::<String>);
            loop {
                let c = cursor.as_ref().map(|c| format!("&cursor={c}")).unwrap_or_default();
                let r = api.get(&results(&format!("&limit={limit}{filter}{c}"))).await;
                assert_eq!(r.status, 200, "{}", r.body);
                let page = r.body["transactions"].as_array().unwrap().clone();
                sizes.push(page.len());
                all.extend(page);
                match r.body.get("next_cursor") {
                    Some(c) => cursor = Some(c.as_str().unwrap().to_string()),
                    None => return (all, sizes),
                }
            }
        }
    };
    let (all, sizes) = read_all("", 60).await;
    assert_eq!(sizes, [60, 60, 60, 50]);
    assert_eq!(Value::Array(all), whole["transactions"]);
    // A filter pages over what it keeps.
    let (ok, sizes) = read_all("&status=0", 20).await;
    assert_eq!(sizes, [20, 20, 6]);
    assert!(ok.iter().all(|t| t["status"] == 0));
    let (missing, _) = read_all("&status=1001", 1000).await;
    assert_eq!(missing.len(), 184);
    let (one_policy, _) = read_all("&policy_number=PN-3", 10).await;
    assert_eq!(one_policy.len(), 33);
    assert!(one_policy.iter().all(|t| t["policy_number"] == "PN-3"));

    // A cursor belongs to its batch, its filter and its team.
    let first = api.get(&results("&limit=10")).await;
    let cursor = first.body["next_cursor"].as_str().unwrap().to_string();
    let refused = |r: &support::api::Resp| {
        assert_eq!((r.status, r.body["error"].as_str()), (400, Some("INVALID_INPUT")), "{}", r.body);
    };
    refused(&api.get(&results(&format!("&limit=10&status=0&cursor={cursor}"))).await);
    let other_batch =
        post_batch(&api, json!([with(seed_example(&docs, &uid("other")), "transaction_documents", json!([]))])).await;
    let other_id = other_batch["batch_id"].as_str().unwrap();
    refused(&api.get(&format!("/import/v1/transaction-import-results?batch_id={other_id}&cursor={cursor}")).await);
    refused(&api.get(&results("&cursor=bm90LWEtY3Vyc29y")).await);
    refused(&api.get(&results("&cursor=%00")).await);
    refused(&api.get(&results("&limit=0")).await);
    refused(&api.get(&results("&limit=1001")).await);
    refused(&api.get(&results("&status=x")).await);
    let other = api.new_team().await;
    refused(&other.get(&results(&format!("&cursor={cursor}"))).await);
    assert_eq!(other.get(&results("")).await.status, 404);
    // The cursor still works where it belongs.
    let second = api.get(&results(&format!("&limit=10&cursor={cursor}"))).await;
    assert_eq!(second.body["transactions"][0], whole["transactions"][10]);
}

/// Issue 11: single-transaction import, as the original offers it. Three items make one batch,
/// answered one by one in the seed's shape; the batch is processed when the last arrives and its
/// results read like any batch's; a position sent again answers as imported; an envelope that
/// cannot be read, or names a batch it cannot join, is refused and writes nothing.
async fn single_transactions_accumulate_into_one_batch(t: Transport) {
    let api = TestApi::new(t).await;
    let docs = Docs::start().await;
    let tag = uid("single");
    let txn =
        |i: usize| with(seed_example(&docs, &format!("{tag}-{i}")), "policy_number", json!(format!("{tag}-P{i}")));
    let send = |body: Value| {
        let api = &api;
        async move { api.post("/import/v1/transaction", body).await }
    };
    let first = send(json!({"total_items": 3, "current_item": 1, "transaction": txn(1)})).await;
    assert_eq!(first.status, 200, "{}", first.body);
    let batch_id = first.body["batch_id"].as_str().unwrap().to_string();
    assert_eq!(batch_id.len(), 32);
    assert_eq!(first.body["status"], "processing");
    assert_eq!(first.body["transactions"].as_array().unwrap().len(), 1);
    assert_eq!(first.body["transactions"][0]["status"], 0, "{}", first.body);
    let results = format!("/import/v1/transaction-import-results?batch_id={batch_id}");
    let r = api.get(&results).await;
    assert_eq!(
        (r.body["status"].as_str(), r.body["transactions"].as_array().map(Vec::len)),
        (Some("processing"), Some(0))
    );
    // Its progress: the positions received so far.
    assert_eq!((r.body["done"].as_u64(), r.body["total"].as_u64()), (Some(1), Some(3)), "{}", r.body);

    // The third before the second; the third is refused (no documents: 1001), the second imported.
    let third = send(json!({"batch_id": batch_id, "total_items": 3, "current_item": 3,
        "transaction": with(txn(3), "transaction_documents", json!([]))}))
    .await;
    assert_eq!(third.body["transactions"][0]["status"], 1001, "{}", third.body);
    assert_eq!(third.body["status"], "processing");
    assert_eq!(api.get(&results).await.body["done"], 2);
    let second = send(json!({"batch_id": batch_id, "total_items": 3, "current_item": 2, "transaction": txn(2)})).await;
    assert_eq!(second.body["status"], "processed", "{}", second.body);
    let r = api.get(&results).await;
    let statuses: Vec<u64> =
        r.body["transactions"].as_array().unwrap().iter().map(|t| t["status"].as_u64().unwrap()).collect();
    assert_eq!(statuses, [0, 0, 1001], "{}", r.body);
    assert_eq!(r.body["transactions"][1], second.body["transactions"][0]);
    // Paged and by policy number like any batch.
    let one = api.get(&format!("{results}&policy_number={tag}-P2")).await;
    assert_eq!(one.body["transactions"].as_array().unwrap().len(), 1);
    let page = api.get(&format!("{results}&limit=2")).await;
    let cursor = page.body["next_cursor"].as_str().unwrap();
    let rest = api.get(&format!("{results}&limit=2&cursor={cursor}")).await;
    assert_eq!(rest.body["transactions"][0]["status"], 1001);
    assert!(rest.body.get("next_cursor").is_none());

    // The second again (a retry): imported by this batch, not a duplicate. The third corrected:
    // imported now, and its result replaced.
    let again = send(json!({"batch_id": batch_id, "total_items": 3, "current_item": 2, "transaction": txn(2)})).await;
    assert_eq!(again.body["transactions"][0]["status"], 0, "{}", again.body);
    let fixed = send(json!({"batch_id": batch_id, "total_items": 3, "current_item": 3, "transaction": txn(3)})).await;
    assert_eq!(fixed.body["transactions"][0]["status"], 0, "{}", fixed.body);
    let r = api.get(&results).await;
    assert!(r.body["transactions"].as_array().unwrap().iter().all(|t| t["status"] == 0), "{}", r.body);
    let rec = api.get(&format!("/import/v1/transactions/{tag}-3")).await;
    assert_eq!((rec.status, rec.body["batch_id"].as_str()), (200, Some(batch_id.as_str())));

    // Refused, writing nothing: each names its problem in the import envelope.
    let posted = post_batch(&api, json!([with(txn(9), "transaction_documents", json!([]))])).await;
    let posted_id = posted["batch_id"].as_str().unwrap();
    for (body, says) in [
        (
            json!({"batch_id": batch_id, "total_items": 4, "current_item": 1, "transaction": txn(5)}),
            "not a single-transaction batch",
        ),
        (
            json!({"batch_id": posted_id, "total_items": 1, "current_item": 1, "transaction": txn(5)}),
            "not a single-transaction batch",
        ),
        (
            json!({"batch_id": "fresh-batch", "total_items": 2, "current_item": 3, "transaction": txn(5)}),
            "current_item must be at most total_items",
        ),
        (json!({"batch_id": "fresh-batch", "total_items": 2, "current_item": 1}), "transaction is required"),
        (
            json!({"batch_id": "fresh-batch", "total_items": 2, "current_item": 1, "transaction": txn(5), "extra": 1}),
            "extra is not a known field",
        ),
        (
            json!({"batch_id": "fresh/batch", "total_items": 2, "current_item": 1, "transaction": txn(5)}),
            "batch_id must be",
        ),
        (json!([txn(5)]), "must be an object"),
    ] {
        let r = send(body).await;
        assert_eq!((r.status, r.body["error"].as_str()), (400, Some("INVALID_BATCH")), "{}", r.body);
        assert!(r.body["message"].as_str().unwrap().contains(says), "{} / {says}", r.body);
    }
    assert_eq!(api.get("/import/v1/transaction-import-results?batch_id=fresh-batch").await.status, 404);
    assert_eq!(api.get(&format!("/import/v1/transactions/{tag}-5")).await.status, 404);
    assert_eq!(api.without_auth().post("/import/v1/transaction", json!({})).await.status, 401);
}

/// Issue 11: a batch above the inline size is accepted (202, Location) and imported in the
/// background; once processed, its paged results equal the inline answer to the same
/// transactions (posted by another team, so they are not duplicates). `mode` forces either way.
async fn a_large_batch_is_imported_asynchronously_with_the_inline_results(t: Transport) {
    let api = TestApi::new(t).await;
    let docs = Docs::start().await;
    let tag = uid("async");
    let batch: Vec<Value> = (0..1000)
        .map(|i| {
            let t = with(seed_example(&docs, &format!("{tag}-{i}")), "policy_number", json!(format!("PN-{}", i % 13)));
            if i % 10 == 0 {
                t
            } else {
                with(t, "transaction_documents", json!([]))
            }
        })
        .collect();
    let batch = Value::Array(batch);
    let other = api.new_team().await;
    let inline = other.post("/import/v1/transactions?mode=sync", batch.clone()).await;
    assert_eq!(inline.status, 200, "{}", inline.body);

    let accepted = api.post("/import/v1/transactions", batch).await;
    assert_eq!(accepted.status, 202, "{}", accepted.body);
    let batch_id = accepted.body["batch_id"].as_str().unwrap().to_string();
    assert_eq!(accepted.body["status"], "processing");
    assert_eq!(accepted.body["total"], 1000);
    assert_eq!(accepted.body["transactions"], json!([]));
    let location = accepted.header("location").unwrap();
    assert_eq!(location, format!("/import/v1/transaction-import-results?batch_id={batch_id}"));
    let started = std::time::Instant::now();
    let done = loop {
        let r = api.get(location).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert!(r.body["done"].as_u64().unwrap() <= 1000);
        if r.body["status"] == "processed" {
            break r;
        }
        assert!(started.elapsed().as_secs() < 120, "still processing: {}", r.body);
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    assert_eq!((done.body["total"].as_u64(), done.body["done"].as_u64()), (Some(1000), Some(1000)));
    assert_eq!(done.body["transactions"], inline.body["transactions"]);
    let mut paged = Vec::new();
    let mut cursor = String::new();
    loop {
        let r = api.get(&format!("{location}&limit=300{cursor}")).await;
        paged.extend(r.body["transactions"].as_array().unwrap().clone());
        match r.body["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(Value::Array(paged), inline.body["transactions"]);

    // Forced: a small batch in the background, and nothing written for a body that is no batch.
    let small = api
        .post(
            "/import/v1/transactions?mode=async",
            json!([with(seed_example(&docs, &uid("small")), "transaction_documents", json!([]))]),
        )
        .await;
    assert_eq!(small.status, 202, "{}", small.body);
    for (query, body, status) in [
        ("?mode=async", json!({"not": "a batch"}), 400),
        ("?mode=later", json!([]), 400),
        ("?mode=async", json!([]), 400),
    ] {
        let r = api.post(&format!("/import/v1/transactions{query}"), body).await;
        assert_eq!(r.status, status, "{query}: {}", r.body);
    }
}

/// Issue 11: a batch left processing past its lease (its import died, or its notification was
/// lost) is imported again from its upload by the sweep; one whose lease still runs is left to
/// its import; one whose upload is gone is marked failed.
async fn a_batch_whose_import_died_is_resumed_after_its_lease(t: Transport) {
    use coverdesk::import::service::{BatchMeta, UploadRef};
    let api = TestApi::new(t).await;
    let docs = Docs::start().await;
    let repo = coverdesk::import::repo::ImportRepo::new(api.store(), &api.team);
    let stuck = |id: &str, key: &str, lease_min: i64| BatchMeta {
        batch_id: id.to_string(),
        status: coverdesk::import::model::BatchStatus::Processing,
        source: "api".into(),
        created_at: chrono::Utc::now(),
        finished_at: None,
        total: 2,
        imported: 0,
        chunks: 0,
        done: 0,
        single: false,
        upload: Some(UploadRef { bucket: String::new(), key: key.to_string(), etag: String::new() }),
        lease_until: Some(chrono::Utc::now() + chrono::TimeDelta::minutes(lease_min)),
    };
    let hex = |tag: &str| format!("{:x}", Sha256::digest(uid(tag).as_bytes()))[..32].to_string();
    let (dead, live, gone) = (hex("dead"), hex("live"), hex("gone"));
    let batch = json!([seed_example(&docs, &uid("r1")), seed_example(&docs, &uid("r2"))]).to_string().into_bytes();
    for (id, lease) in [(&dead, -1), (&live, 10)] {
        let key = coverdesk::import::upload::api_upload_key(&api.team, id);
        api.deps
            .objects
            .put_bytes(&key, batch.clone(), &coverdesk::objects::ObjectMeta::plain("application/json"))
            .await
            .unwrap();
        repo.put_batch(&stuck(id, &key, lease), 1).await.unwrap();
    }
    let gone_key = coverdesk::import::upload::api_upload_key(&api.team, &gone);
    repo.put_batch(&stuck(&gone, &gone_key, -1), 1).await.unwrap();

    // Other tests' stale batches may be swept too (the table is shared): sweep until ours is done.
    for _ in 0..20 {
        coverdesk::import::upload::resume_stale(&api.deps.imports(), 10).await.unwrap();
        if repo.batch(&dead).await.unwrap().unwrap().status.code() == "processed" {
            break;
        }
    }
    let r = api.get(&format!("/import/v1/transaction-import-results?batch_id={dead}")).await;
    assert_eq!((r.body["status"].as_str(), r.body["done"].as_u64()), (Some("processed"), Some(2)), "{}", r.body);
    assert!(r.body["transactions"].as_array().unwrap().iter().all(|t| t["status"] == 0), "{}", r.body);
    assert_eq!(repo.batch(&live).await.unwrap().unwrap().status.code(), "processing");
    assert_eq!(repo.batch(&gone).await.unwrap().unwrap().status.code(), "failed");
}

/// Issue 11: an upload is read as a stream, a window of 1,000 transactions at a time: a batch of
/// several windows (the last one short) imports in order, an id repeated two windows later is
/// still a duplicate, progress climbs to the total, the result file (written as a stream) equals
/// the paged results, and the upload delivered again answers the same from the stored results.
async fn an_upload_is_imported_a_window_at_a_time(t: Transport) {
    let api = TestApi::new(t).await;
    let docs = Docs::start().await;
    let tag = uid("win");
    let n = 2 * coverdesk::import::stream::WINDOW + 345;
    let ids: Vec<String> = (0..n).map(|i| if i == 1500 { format!("{tag}-10") } else { format!("{tag}-{i}") }).collect();
    let batch: Vec<Value> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let t = seed_example(&docs, id);
            if i == 2200 {
                with(t, "transaction_type", json!("XX"))
            } else {
                t
            }
        })
        .collect();
    let key = format!("uploads/{}/windows.json", api.team.as_str());
    let body = serde_json::to_vec_pretty(&batch).unwrap();
    api.deps.objects.put_bytes(&key, body, &coverdesk::objects::ObjectMeta::plain("application/json")).await.unwrap();
    let seen = std::sync::Mutex::new(Vec::new());
    let progress = |done: usize, total: usize| seen.lock().unwrap().push((done, total));
    let out =
        coverdesk::import::upload::import_object(&api.deps.imports(), "local", &key, "w1", &progress).await.unwrap();
    assert_eq!((out.total, out.imported, out.rejected), (n, n - 2, false));
    let seen = seen.into_inner().unwrap();
    assert!(seen.windows(2).all(|w| w[0].0 <= w[1].0) && seen.iter().all(|&(_, t)| t == n), "{seen:?}");
    assert_eq!(seen.last(), Some(&(n, n)));

    let stored = api.deps.objects.get_bytes(&out.result_key).await.unwrap().unwrap();
    let result: Value = serde_json::from_slice(&stored).unwrap();
    assert_eq!(
        (result["batch_id"].as_str(), result["status"].as_str()),
        (Some(out.batch_id.as_str()), Some("processed"))
    );
    let txns = result["transactions"].as_array().unwrap();
    assert_eq!(txns.len(), n);
    for (i, t) in txns.iter().enumerate() {
        let want = match i {
            1500 => 3001,
            2200 => 1002,
            _ => 0,
        };
        assert_eq!((t["id"].as_str(), t["status"].as_u64()), (Some(ids[i].as_str()), Some(want)), "{i}: {t}");
    }
    let mut paged = Vec::new();
    let mut cursor = String::new();
    loop {
        let r = api.get(&format!("/import/v1/transaction-import-results?batch_id={}{cursor}", out.batch_id)).await;
        assert_eq!(r.status, 200, "{}", r.body);
        paged.extend(r.body["transactions"].as_array().unwrap().clone());
        match r.body["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(&paged, txns);

    let again =
        coverdesk::import::upload::import_object(&api.deps.imports(), "local", &key, "w1", &|_, _| {}).await.unwrap();
    assert_eq!(again, out);
    assert_eq!(api.deps.objects.get_bytes(&out.result_key).await.unwrap().unwrap(), stored);

    // A batch file over the upload limit is rejected whole, unread: its result file says why.
    let mut small = api.deps.clone();
    small.max_upload_bytes = 1000;
    let key = format!("uploads/{}/too-large.json", api.team.as_str());
    let big = serde_json::to_vec(&batch[..10]).unwrap();
    api.deps.objects.put_bytes(&key, big, &coverdesk::objects::ObjectMeta::plain("application/json")).await.unwrap();
    let out =
        coverdesk::import::upload::import_object(&small.imports(), "local", &key, "w2", &|_, _| {}).await.unwrap();
    assert_eq!((out.total, out.rejected), (0, true));
    let r: Value =
        serde_json::from_slice(&api.deps.objects.get_bytes(&out.result_key).await.unwrap().unwrap()).unwrap();
    assert_eq!((r["status"].as_str(), r["error"].as_str()), (Some("rejected"), Some("INVALID_BATCH")), "{r}");
    assert!(r["message"].as_str().unwrap().contains("at most 1000 bytes"), "{r}");
    // Nothing imported; the batch is recorded failed (its webhooks are told: tests/import_events.rs).
    let repo = coverdesk::import::repo::ImportRepo::new(api.store(), &api.team);
    let meta = repo.batch(&out.batch_id).await.unwrap().expect("the failed batch");
    assert_eq!((meta.status.code(), meta.total, meta.imported), ("failed", 0, 0));
}

/// Issue 19: the filing service's documented example (its 2025 CA policy, no `id`, its own
/// fields, a total that is not the sum of its figures, insurer and syndicate shares of 50% and
/// 60%) with two documents served here: status 0 with warnings, on the batch route and on the
/// single route in its v2 form (the transaction alone); the record keeps every field. Figures
/// from the sources, not the engine: 3% of the premium (Cal. Ins. Code 1775.5; the broker's
/// fees are not taxed in CA) = 93.255 -> 93.26; stamping 0.18% from 2023 (SLA Bulletin #1429)
/// = 5.5953 -> 5.60. A bad new field is a 2001 naming it, and stores no document.
async fn the_filing_services_example_imports_with_its_figures(t: Transport) {
    let api = TestApi::new(t).await;
    let docs = Docs::start().await;
    let mut example = filing_service_example(&docs);
    let body = post_batch(&api, json!([example])).await;
    let tx = &body["transactions"][0];
    assert_eq!(tx["status"], 0, "{body}");
    let id = tx["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("auto-"), "{id}");
    assert_eq!(tx["calculated"]["sl_tax"], "93.26", "{tx}");
    assert_eq!(tx["calculated"]["stamping_fee"], "5.60", "{tx}");
    // premium + agency fee + collection fee + the two figures.
    assert_eq!(tx["calculated"]["total"], "3408.47", "{tx}");
    assert_eq!(tx["calculated"]["verified"], false, "a collection fee's taxability is nobody's word");
    let warnings = tx["warnings"].as_object().unwrap();
    for key in ["slTax", "stampingFee", "total", "insuranceCompanyList", "syndicateList"] {
        assert!(warnings.contains_key(key), "{key}: {tx}");
    }
    let r = api.get(&format!("/import/v1/transactions/{id}")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let kept = &r.body["transaction"];
    assert_eq!(kept["invoice_number"], "INVN-100011");
    assert_eq!(kept["policy_expiration_date"], "2025-06-02");
    assert_eq!(kept["collection_fee"], "1.11");
    assert_eq!(kept["line_of_business_list"][0]["item"], "GEN-1001");
    assert_eq!(kept["syndicate_list"][0]["coverage"], "60");
    assert_eq!(kept["agent_id"], 13947);
    assert_eq!(kept["retail_agency_name"], "Producer Agency Name");
    assert_eq!(r.body["documents"].as_array().unwrap().len(), 2);
    // The same transaction again, as the v2 single route takes it: a duplicate of the first.
    let r = api.post("/import/v1/transaction", example.clone()).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["transactions"][0]["status"], 3001, "{}", r.body);
    // Another policy on the single route: imported.
    example["policy_number"] = json!("CA20250602-06");
    let r = api.post("/import/v1/transaction", example.clone()).await;
    assert_eq!(r.body["transactions"][0]["status"], 0, "{}", r.body);

    // A bad new field: 2001 naming it; no document fetched or stored for it.
    let before = docs.paced_hits.load(Ordering::SeqCst);
    example["policy_number"] = json!("CA20250602-07");
    example["insured_email"] = json!("not an address");
    let body = post_batch(&api, json!([example])).await;
    let tx = &body["transactions"][0];
    assert_eq!(tx["status"], 2001, "{body}");
    assert!(tx["status_message"].as_str().unwrap().contains("'insured_email'"), "{tx}");
    assert_eq!(docs.paced_hits.load(Ordering::SeqCst), before, "nothing fetched");
    let r = api.get(&format!("/import/v1/transactions/{}", tx["id"].as_str().unwrap())).await;
    assert!(r.body.get("transaction").is_none() && r.body["documents"] == json!([]), "{}", r.body);
}

/// Issue 19: transactions found by invoice number, documents added later by id or by invoice
/// number (fetched with the import's rules, stored under the same keys, never twice), a fetch
/// that fails adds and leaves nothing, and bad requests get the import API's envelope.
async fn transactions_by_invoice_take_documents_later(t: Transport) {
    let api = TestApi::new(t).await;
    let docs = Docs::start().await;
    let invoice = uid("INV");
    let mut first = filing_service_example(&docs);
    first["invoice_number"] = json!(invoice);
    let body = post_batch(&api, json!([first])).await;
    assert_eq!(body["transactions"][0]["status"], 0, "{body}");
    let id = body["transactions"][0]["id"].as_str().unwrap().to_string();

    let find = format!("/import/v1/transactions?invoice_number={invoice}");
    let r = api.get(&find).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["transactions"].as_array().unwrap().len(), 1, "{}", r.body);
    assert_eq!(r.body["transactions"][0]["id"], id.as_str());
    assert_eq!(api.get("/import/v1/transactions?invoice_number=nobody").await.body["transactions"], json!([]));
    assert_eq!(api.get("/import/v1/transactions").await.status, 400);
    assert_eq!(api.new_team().await.get(&find).await.body["transactions"], json!([]), "another team's");

    // By id: a third document; the same again adds nothing.
    let more = json!({"transaction_documents": [{"code": "SLA1", "url": docs.url("/doc/later")}]});
    let path = format!("/import/v1/transactions/{id}/documents");
    for _ in 0..2 {
        let r = api.post(&path, more.clone()).await;
        assert_eq!((r.status, r.body["status"].as_u64()), (200, Some(0)), "{}", r.body);
        assert_eq!(r.body["documents"].as_array().unwrap().len(), 3, "{}", r.body);
    }
    let rec = api.get(&format!("/import/v1/transactions/{id}")).await.body;
    let key = rec["documents"][2]["key"].as_str().unwrap();
    assert!(key.contains("/02-SLA1-"), "after the two imported: {key}");
    assert_eq!(api.deps.objects.get_bytes(key).await.unwrap().unwrap(), pdf("later"));

    // By invoice number; a fetch that fails adds and leaves nothing.
    let by_invoice =
        |url: String| json!({"invoice_number": invoice, "transaction_documents": [{"code": "ENDT", "url": url}]});
    let r = api.post("/import/v1/documents", by_invoice(docs.url("/doc/endt"))).await;
    assert_eq!((r.status, r.body["status"].as_u64()), (200, Some(0)), "{}", r.body);
    assert_eq!(r.body["documents"].as_array().unwrap().len(), 4);
    let r = api.post("/import/v1/documents", by_invoice(docs.url("/missing"))).await;
    assert_eq!((r.status, r.body["status"].as_u64()), (200, Some(2002)), "{}", r.body);
    assert_eq!(r.body["documents"].as_array().unwrap().len(), 4, "nothing added");
    let prefix = key.rsplit_once('/').unwrap().0;
    assert_eq!(api.deps.objects.list(prefix).await.unwrap().len(), 4, "nothing left stored");

    // Two transactions with the invoice number: by invoice is ambiguous, by id still works.
    let mut second = filing_service_example(&docs);
    second["invoice_number"] = json!(invoice);
    second["policy_number"] = json!("CA20250602-99");
    assert_eq!(post_batch(&api, json!([second])).await["transactions"][0]["status"], 0);
    let page1 = api.get(&format!("{find}&limit=1")).await.body;
    assert_eq!(page1["transactions"].as_array().unwrap().len(), 1, "{page1}");
    let next = page1["next_cursor"].as_str().expect("a next page").to_string();
    let page2 = api.get(&format!("{find}&limit=1&cursor={next}")).await.body;
    assert_eq!(page2["transactions"].as_array().unwrap().len(), 1, "{page2}");
    assert_ne!(page2["transactions"][0]["id"], page1["transactions"][0]["id"]);
    let r = api.post("/import/v1/documents", by_invoice(docs.url("/doc/x"))).await;
    assert_eq!((r.status, r.body["error"].as_str()), (400, Some("INVALID_INPUT")), "{}", r.body);

    // Bad requests: the envelope, nothing written.
    for (path, body, status) in [
        ("/import/v1/transactions/nope/documents".to_string(), more.clone(), 404),
        (path.clone(), json!({"transaction_documents": []}), 400),
        (path.clone(), json!({"transaction_documents": [{"code": "X", "url": "ftp://x"}]}), 400),
        (path.clone(), json!({"transaction_documents": [{"code": "X", "url": docs.url("/doc/y")}], "extra": 1}), 400),
        (
            "/import/v1/documents".to_string(),
            json!({"transaction_documents": [{"code": "X", "url": docs.url("/doc/y")}]}),
            400,
        ),
        (
            "/import/v1/documents".to_string(),
            json!({"invoice_number": "nobody", "transaction_documents": [{"code": "X", "url": docs.url("/doc/y")}]}),
            404,
        ),
    ] {
        let r = api.post(&path, body).await;
        assert_eq!(r.status, status, "{path}: {}", r.body);
        assert!(r.body["error"].is_string() && r.body["message"].is_string(), "{}", r.body);
    }
    assert_eq!(api.deps.objects.list(prefix).await.unwrap().len(), 4);
}

/// The filing service's v2 example (developer.inscipher.com, single-transaction import; the file
/// the domain's unit tests read too), with its two documents served here.
fn filing_service_example(docs: &Docs) -> Value {
    let mut v: Value = serde_json::from_str(include_str!("../shared/src/import/filing-service-example.json")).unwrap();
    v["transaction_documents"] = json!([{"code": "D1DISC", "url": docs.url("/paced/d1")},
                                        {"code": "POLIC", "url": docs.url("/paced/polic")}]);
    v
}

// ---- API keys (issue 19) ----

/// The filing service's API key, created by the code the CLI runs (`team api-key create`), opens
/// every import route in the `apiKey` header and in the `apikey` query parameter, as its team;
/// it is listed without the key; once revoked, or when wrong or malformed, it gets the very 401 of
/// wrong Basic credentials and writes nothing; it never opens the accounts or servicing APIs.
async fn an_api_key_opens_the_import_api_until_it_is_revoked(t: Transport) {
    use coverdesk::auth::{create_api_key, list_api_keys, revoke_api_key};
    let api = TestApi::new(t).await;
    let docs = Docs::start().await;
    let store = api.store();
    let (listed, key) = create_api_key(store.as_ref(), &api.client_id, Some("nightly sync")).await.unwrap();
    assert!(key.starts_with("cdk_") && key.len() == 47, "{key}");
    let keyed = api.without_auth();
    let by_header = |method: &'static str, path: String, body: Option<Value>| {
        let (keyed, key) = (&keyed, &key);
        async move { keyed.call(method, &path, body.map(|b| b.to_string()), &[("apiKey", key)]).await }
    };
    let by_query = |method: &'static str, path: String, body: Option<Value>| {
        let (keyed, key) = (&keyed, &key);
        let sep = if path.contains('?') { '&' } else { '?' };
        async move { keyed.call(method, &format!("{path}{sep}apikey={key}"), body.map(|b| b.to_string()), &[]).await }
    };

    // Every import operation, each way.
    let id = uid("keyed");
    let r =
        by_header("POST", "/import/v1/transactions?mode=sync".into(), Some(json!([seed_example(&docs, &id)]))).await;
    assert_eq!((r.status, r.body["transactions"][0]["status"].as_u64()), (200, Some(0)), "{}", r.body);
    let batch_id = r.body["batch_id"].as_str().unwrap().to_string();
    let r = by_query("GET", format!("/import/v1/transaction-import-results?batch_id={batch_id}"), None).await;
    assert_eq!((r.status, r.body["transactions"][0]["id"].as_str()), (200, Some(id.as_str())), "{}", r.body);
    let r = by_query("GET", format!("/import/v1/transactions/{id}"), None).await;
    assert_eq!((r.status, r.body["policy_number"].as_str()), (200, Some("CA20170228-05")), "{}", r.body);
    let r = by_header("GET", format!("/import/v1/transactions/{id}"), None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    // Imported as the key's team: its Basic credentials see it.
    assert_eq!(api.get(&format!("/import/v1/transactions/{id}")).await.status, 200);
    let single = json!({"total_items": 1, "current_item": 1, "transaction": seed_example(&docs, &uid("keyed-1"))});
    let r = by_query("POST", "/import/v1/transaction".into(), Some(single)).await;
    assert_eq!((r.status, r.body["status"].as_str()), (200, Some("processed")), "{}", r.body);
    for r in [
        by_header("GET", "/import/v1/tax-rules/CA?effective_date=2020-01-01".into(), None).await,
        by_query("GET", "/import/v1/tax-rules/CA?effective_date=2020-01-01".into(), None).await,
    ] {
        assert_eq!((r.status, r.body["state"].as_str()), (200, Some("CA")), "{}", r.body);
    }
    // The parameter is read once, like any other.
    let r = by_query("GET", format!("/import/v1/tax-rules/CA?apikey={key}"), None).await;
    assert_eq!((r.status, r.body["error"].as_str()), (400, Some("INVALID_INPUT")), "{}", r.body);
    assert!(!r.text.contains(&key), "{}", r.text);

    // Listed, never shown again.
    let keys = list_api_keys(store.as_ref(), &api.client_id).await.unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!((keys[0].key_id.as_str(), keys[0].name.as_deref()), (listed.key_id.as_str(), Some("nightly sync")));

    // Not a credential of the other APIs.
    let r = keyed.call("GET", "/account/v1/accounts", None, &[("apiKey", &key)]).await;
    assert_eq!(r.status, 401, "{}", r.body);
    let r = keyed.call("GET", &format!("/teams/{}/pulls?apikey={key}", api.team), None, &[("apiKey", &key)]).await;
    assert_eq!((r.status, r.body["error"].as_str()), (401, Some("UNAUTHORIZED")), "{}", r.body);
    assert!(!r.text.contains(&key));

    // Wrong Basic credentials: the answer every refused key must get.
    let wrong_basic = api.without_auth();
    let wrong_basic = wrong_basic.call("GET", "/import/v1/tax-rules/CA", None, &[("authorization", "Basic bm86cGU=")]);
    let refused = wrong_basic.await;
    assert_eq!(refused.status, 401);
    let same_401 = |r: support::api::Resp, why: &str| {
        assert_eq!((r.status, &r.body), (401, &refused.body), "{why}");
        assert_eq!(r.header("www-authenticate"), refused.header("www-authenticate"), "{why}");
    };
    let other_key = format!("cdk_{}", "A".repeat(43));
    for (k, why) in [(other_key.as_str(), "unknown"), ("cdk_short", "malformed"), ("", "empty"), ("x y", "space")] {
        same_401(keyed.call("GET", "/import/v1/tax-rules/CA", None, &[("apiKey", k)]).await, why);
    }
    same_401(keyed.get(&format!("/import/v1/tax-rules/CA?apikey={other_key}")).await, "unknown in the query");
    // A wrong credential is not rescued by a good one behind it.
    let r = keyed
        .call("GET", "/import/v1/tax-rules/CA", None, &[("authorization", "Basic bm86cGU="), ("apiKey", &key)])
        .await;
    same_401(r, "wrong Basic before a good key");

    // Another team's key sees none of this team's records.
    let other = api.new_team().await;
    let (_, other_key) = create_api_key(store.as_ref(), &other.client_id, None).await.unwrap();
    let r = keyed.call("GET", &format!("/import/v1/transactions/{id}"), None, &[("apiKey", &other_key)]).await;
    assert_eq!(r.status, 404, "{}", r.body);

    // Revoked: refused at once, both ways, and nothing a refused request sends is written.
    revoke_api_key(store.as_ref(), &api.client_id, &listed.key_id).await.unwrap();
    same_401(by_header("GET", "/import/v1/tax-rules/CA".into(), None).await, "revoked, header");
    same_401(by_query("GET", "/import/v1/tax-rules/CA".into(), None).await, "revoked, query");
    let late = uid("late");
    let r =
        by_header("POST", "/import/v1/transactions?mode=sync".into(), Some(json!([seed_example(&docs, &late)]))).await;
    same_401(r, "revoked, POST");
    assert_eq!(api.get(&format!("/import/v1/transactions/{late}")).await.status, 404, "nothing written");
    assert!(list_api_keys(store.as_ref(), &api.client_id).await.unwrap().is_empty());
    assert!(matches!(
        revoke_api_key(store.as_ref(), &api.client_id, &listed.key_id).await,
        Err(coverdesk::auth::AuthError::NoSuchKey { .. })
    ));
    // The other team's key is untouched.
    let r = keyed.call("GET", "/import/v1/tax-rules/CA", None, &[("apiKey", &other_key)]).await;
    assert_eq!(r.status, 200);
}

/// The same flow through the Lambda handlers: API Gateway's event carries the key in its
/// headers and its raw query string.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_key_opens_the_import_functions_until_it_is_revoked() {
    an_api_key_opens_the_import_api_until_it_is_revoked(Transport::Lambda).await;
}

/// Issue 20: the tax calculator and the import agree on every period of every jurisdiction: a
/// quote and the transaction it becomes (same state, date, type, line, premium and fees) get the
/// same figures, and the quote's charges add up to them.
async fn the_calculator_and_the_import_agree_on_every_period(t: Transport) {
    let api = TestApi::new(t).await;
    let docs = Docs::start().await;
    let money = [Decimal::new(1_234_567, 2), Decimal::new(15_000, 2), Decimal::new(7_500, 2)];
    let (mut quotes, mut batch) = (Vec::new(), Vec::new());
    for (code, j) in &rules().jurisdictions {
        for fee in &j.fees {
            for p in &fee.periods {
                let kind = p.transaction_types.first().map(|t| t.code()).unwrap_or("PN");
                let line = match &p.line_shares {
                    Some(s) => *s.keys().next().unwrap(),
                    None => (1001..=1022).rev().find(|l| !p.lines_excluded.contains(l)).unwrap(),
                };
                let date = p.from.to_string();
                quotes.push(
                    json!({"id": format!("{code} {} {date}", fee.name), "state": code, "policy_effective_date": date,
                                   "transaction_type": kind, "transaction_line_of_business": line.to_string(),
                                   "premium": money[0].to_string(), "agency_fee": money[1].to_string(),
                                   "inspection_fee": money[2].to_string()}),
                );
                batch.push(transaction_in(&docs, j, &date, kind, line, money, [Decimal::ZERO; 5]));
            }
        }
    }
    let imported = post_batch(&api, json!(batch)).await;
    let imported = imported["transactions"].as_array().unwrap();
    let mut answers = Vec::new();
    for chunk in quotes.chunks(100) {
        let r = api.post("/import/v1/tax-calculations", json!(chunk)).await;
        assert_eq!(r.status, 200, "{}", r.body);
        answers.extend(r.body["quotes"].as_array().unwrap().iter().cloned());
    }
    assert_eq!((answers.len(), imported.len()), (quotes.len(), quotes.len()));
    for (q, (a, i)) in quotes.iter().zip(answers.iter().zip(imported)) {
        assert_eq!((a["status"].as_u64(), i["status"].as_u64()), (Some(0), Some(0)), "{}: {a} {i}", q["id"]);
        assert_eq!(a["calculated"], i["calculated"], "{}", q["id"]);
        let sum: Decimal = a["charges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["amount"].as_str().unwrap().parse::<Decimal>().unwrap())
            .sum();
        let figures: Decimal = Field::ALL
            .iter()
            .map(|f| a["calculated"][f.name()].as_str().unwrap_or("0").parse::<Decimal>().unwrap())
            .sum();
        assert_eq!(sum, figures, "{}: {a}", q["id"]);
    }
    assert!(quotes.len() > 130, "{} periods", quotes.len());
}

/// Issue 20: what is owed, for June 2025, from a batch whose figures are worked out here from the
/// sources (not by the engine): California 3% of premium and the insurer's fees (Cal. Ins. Code
/// 1775.5) and the SLA's 0.18% (Bulletin #1429), half-cents away from zero; Florida 4.94% and
/// FSLSO's 0.06% of premium and every fee (fslso.com table) and the $4 EMPA surcharge on a
/// commercial property policy (F.S. 252.372). A July transaction is outside the period.
async fn the_tax_report_totals_a_period_by_jurisdiction_and_charge(t: Transport) {
    let api = TestApi::new(t).await;
    let docs = Docs::start().await;
    let rules = rules();
    let (ca, fl) = (rules.jurisdictions.get("CA").unwrap(), rules.jurisdictions.get("FL").unwrap());
    let d = |s: &str| Decimal::from_str_exact(s).unwrap();
    let zero = [Decimal::ZERO; 5];
    let batch = vec![
        transaction_in(&docs, ca, "2025-06-02", "PN", 1001, [d("3108.50"), d("200.00"), d("0")], zero),
        transaction_in(&docs, ca, "2025-06-15", "PN", 1001, [d("10000.00"), d("0"), d("0")], zero),
        transaction_in(&docs, ca, "2025-06-20", "RPE", 1010, [d("-1000.00"), d("0"), d("0")], zero),
        transaction_in(&docs, fl, "2025-06-10", "PN", 1005, [d("5000.00"), d("0"), d("0")], zero),
        transaction_in(&docs, ca, "2025-07-01", "PN", 1001, [d("1000.00"), d("0"), d("0")], zero),
    ];
    let body = post_batch(&api, json!(batch)).await;
    assert!(body["transactions"].as_array().unwrap().iter().all(|t| t["status"] == 0), "{body}");

    let r = api.get("/import/v1/reports/taxes?from=2025-06-01&to=2025-06-30").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let states = r.body["jurisdictions"].as_array().unwrap();
    assert_eq!(states.len(), 2, "{}", r.body);
    let charge = |s: &Value, f: &str| {
        s["charges"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["field"] == f)
            .map(|c| c["amount"].as_str().unwrap().to_string())
    };
    let (ca, fl) = (&states[0], &states[1]);
    assert_eq!((ca["state"].as_str(), ca["transactions"].as_u64()), (Some("CA"), Some(3)));
    assert_eq!((ca["premium"].as_str(), ca["fees"].as_str()), (Some("12108.50"), Some("200.00")));
    // 93.255 -> 93.26, + 300.00, - 30.00; 5.5953 -> 5.60, + 18.00, - 1.80.
    assert_eq!(charge(ca, "sl_tax").as_deref(), Some("363.26"));
    assert_eq!(charge(ca, "stamping_fee").as_deref(), Some("21.80"));
    assert_eq!(ca["owed"], "385.06");
    // The SLA of California counts a transaction by its invoice date (slacal.com FAQ).
    assert_eq!(ca["filing"]["reported_by"], "invoice_date");
    assert_eq!((fl["state"].as_str(), fl["transactions"].as_u64()), (Some("FL"), Some(1)));
    assert_eq!(charge(fl, "sl_tax").as_deref(), Some("247.00"));
    assert_eq!(charge(fl, "stamping_fee").as_deref(), Some("3.00"));
    assert_eq!(charge(fl, "empa_tax").as_deref(), Some("4.00"));
    assert_eq!(
        (fl["owed"].as_str(), fl["unverified_transactions"].as_u64()),
        (Some("254.00"), Some(1)),
        "EMPA's lines are our reading"
    );

    let r = api.get("/import/v1/reports/taxes?from=2025-06-01&to=2025-06-30&state=fl&format=csv").await;
    assert_eq!(r.status, 200);
    let text = r.text.clone();
    let mut rows = text.lines();
    assert!(rows.next().unwrap().starts_with("state,charge,amount,unverified_amount,"), "{text}");
    let rows: Vec<&str> = rows.collect();
    assert_eq!(rows.len(), 3, "{text}");
    assert!(
        rows.iter().any(|r| r.starts_with("FL,empa_tax,4.00,4.00,1,1,1,5000.00,0.00,transaction_effective_date,")),
        "{text}"
    );
    assert_eq!(
        api.get("/import/v1/reports/taxes?from=2025-07-01&to=2025-07-31").await.body["jurisdictions"][0]
            ["transactions"],
        1
    );
    for bad in [
        "from=2025-06-01",
        "from=2025-06-30&to=2025-06-01",
        "from=2024-01-01&to=2025-06-30",
        "from=2025-06-01&to=2025-06-30&state=Florida",
        "from=x&to=y",
        "from=2025-06-01&to=2025-06-30&format=xml",
    ] {
        let r = api.get(&format!("/import/v1/reports/taxes?{bad}")).await;
        assert_eq!((r.status, r.body["error"].as_str()), (400, Some("INVALID_INPUT")), "{bad}: {}", r.body);
    }
    assert_eq!(
        api.new_team().await.get("/import/v1/reports/taxes?from=2025-06-01&to=2025-06-30").await.body["jurisdictions"],
        json!([])
    );
}

/// Issue 23: an import that dies between its records (each its own conditional write, the
/// record its own report line) resumes from its upload with nothing lost and nothing twice: every
/// transaction imported once, under the crashed batch, in the report once; and a transaction of
/// it sent again in another batch is still 3001.
async fn a_crash_between_records_resumes_with_nothing_lost_or_twice(t: Transport) {
    let api = TestApi::new(t).await;
    let docs = Docs::start().await;
    let tag = uid("crash");
    let n = 250;
    let ids: Vec<String> = (0..n).map(|i| format!("{tag}-{i}")).collect();
    let batch: Vec<Value> = ids.iter().map(|id| seed_example(&docs, id)).collect();
    let key = format!("uploads/{}/crash.json", api.team.as_str());
    api.deps
        .objects
        .put_bytes(
            &key,
            serde_json::to_vec(&batch).unwrap(),
            &coverdesk::objects::ObjectMeta::plain("application/json"),
        )
        .await
        .unwrap();
    let mut dying = api.deps.imports();
    dying.store = Arc::new(support::CrashingStore::crashing_after(api.store(), 130));
    let none = |_: usize, _: usize| {};
    let died = coverdesk::import::upload::import_object(&dying, "local", &key, "e1", &none).await;
    assert!(died.is_err(), "the import was to die mid-way");
    let repo = coverdesk::import::repo::ImportRepo::new(api.store(), &api.team);
    let mut before = 0;
    for id in &ids {
        before += usize::from(repo.imported(id).await.unwrap().is_some());
    }
    assert_eq!(before, 130, "the records written before the crash stay");

    let out = coverdesk::import::upload::import_object(&api.deps.imports(), "local", &key, "e1", &none).await.unwrap();
    assert_eq!((out.total, out.imported), (n, n));
    let results = repo.batch_with_results(&out.batch_id).await.unwrap().unwrap().1;
    assert!(results.iter().all(|r| r.status == 0), "{:?}", results.iter().find(|r| r.status != 0));
    for id in &ids {
        assert_eq!(repo.imported(id).await.unwrap().unwrap().batch_id, out.batch_id, "{id}");
    }
    let first = repo.imported(&ids[0]).await.unwrap().unwrap();
    let day = coverdesk::import::report::ReportLine::of(&first).unwrap().date;
    let mut reported: Vec<String> = repo
        .report_lines(day, day)
        .await
        .unwrap()
        .into_iter()
        .filter(|l| l.id.starts_with(&format!("{tag}-")))
        .map(|l| l.id)
        .collect();
    reported.sort();
    let mut want = ids.clone();
    want.sort();
    assert_eq!(reported, want, "each transaction in the report once");

    let again = post_batch(&api, json!([seed_example(&docs, &ids[7]), seed_example(&docs, &uid("new"))])).await;
    let got: Vec<u64> =
        again["transactions"].as_array().unwrap().iter().map(|t| t["status"].as_u64().unwrap()).collect();
    assert_eq!(got, vec![3001, 0], "{again}");
}

/// Issue 23: report lines written before the second index (an item of their own in the month's
/// partition) are still counted, each transaction once: one whose record is also listed in the
/// index (a record rewritten since, say) is not counted twice.
async fn report_lines_written_before_the_index_still_count_once(t: Transport) {
    use coverdesk::import::report::ReportLine;
    use coverdesk::store::{Cond, Item, Write};
    let api = TestApi::new(t).await;
    let docs = Docs::start().await;
    let id = uid("rep");
    let body = post_batch(&api, json!([seed_example(&docs, &id)])).await;
    assert_eq!(body["transactions"][0]["status"], 0, "{body}");
    let repo = coverdesk::import::repo::ImportRepo::new(api.store(), &api.team);
    let rec = repo.imported(&id).await.unwrap().unwrap();
    let line = ReportLine::of(&rec).unwrap();
    let older = ReportLine { id: format!("{id}-older"), ..line.clone() };
    let pk = format!("T#{}#IMP#REP#{}", api.team.as_str(), line.month());
    let writes = [&line, &older]
        .iter()
        .map(|l| Write::Put {
            item: Item::new(pk.clone(), format!("{}#{}", l.date, l.id), 1, serde_json::to_value(l).unwrap()),
            cond: Cond::Any,
        })
        .collect();
    api.store().transact(writes).await.unwrap();
    let mut ids: Vec<String> = repo
        .report_lines(line.date, line.date)
        .await
        .unwrap()
        .into_iter()
        .filter(|l| l.id.starts_with(&id))
        .map(|l| l.id)
        .collect();
    ids.sort();
    assert_eq!(ids, vec![id.clone(), format!("{id}-older")]);
}

both_stores!(
    an_api_key_opens_the_import_api_until_it_is_revoked,
    the_seed_example_imports_with_its_documents,
    the_filing_services_example_imports_with_its_figures,
    transactions_by_invoice_take_documents_later,
    the_calculator_and_the_import_agree_on_every_period,
    the_tax_report_totals_a_period_by_jurisdiction_and_charge,
    every_status_code_in_one_batch,
    tax_rules_per_state,
    every_period_of_every_jurisdiction_consistent_with_the_rule_data,
    the_rules_applied_to_endorsements_returns_and_rounding,
    control_characters_in_ids_never_reach_the_store,
    results_are_paged_with_cursors_bound_to_their_batch,
    single_transactions_accumulate_into_one_batch,
    a_large_batch_is_imported_asynchronously_with_the_inline_results,
    a_batch_whose_import_died_is_resumed_after_its_lease,
    an_upload_is_imported_a_window_at_a_time,
    a_crash_between_records_resumes_with_nothing_lost_or_twice,
    report_lines_written_before_the_index_still_count_once,
);

// ---- crash and rerun ----

/// Issue 11: `coverdesk import` killed (SIGKILL) mid-way, then run again on the same file: the
/// rerun resumes the same batch (the file's), reuses the documents stored before the kill instead
/// of fetching them again, and leaves every stored document referenced by a record and every
/// record's documents stored: no orphan.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_cli_import_resumes_on_rerun_and_leaves_no_orphan() {
    let docs = Docs::start().await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let tag = uid("kill");
    let batch: Vec<Value> = (0..300)
        .map(|i| {
            with(
                seed_example(&docs, &format!("{tag}-{i}")),
                "transaction_documents",
                json!([
                    {"code": "D1DISC", "url": docs.url(&format!("/paced/d1-{i}")), "id": 1},
                    {"code": "POLIC", "url": docs.url(&format!("/paced/polic-{i}")), "id": 2}
                ]),
            )
        })
        .collect();
    std::fs::write(dir.path().join("daily.json"), Value::Array(batch).to_string()).unwrap();
    let tmp = dir.path().join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let spool_folders = || std::fs::read_dir(tmp.join("coverdesk-spool")).map_or(0, |d| d.count());
    let cli = || {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_coverdesk"));
        c.args(["import", "daily.json"])
            .env("COVERDESK_DATA_DIR", &data)
            .env("TMPDIR", &tmp)
            .current_dir(dir.path())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null());
        c
    };
    let documents = data.join("objects/documents");
    let count_files = || {
        let mut n = 0;
        let mut stack = vec![documents.clone()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
                if e.path().is_dir() {
                    stack.push(e.path());
                } else if e.file_name().to_string_lossy().ends_with(".meta.json") {
                    n += 1;
                }
            }
        }
        n
    };
    let mut first = cli().spawn().unwrap();
    let started = std::time::Instant::now();
    while count_files() < 100 {
        assert!(started.elapsed().as_secs() < 60, "no document stored");
        assert!(first.try_wait().unwrap().is_none(), "the import ended before it could be killed");
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    first.kill().unwrap();
    first.wait().unwrap();
    assert_eq!(spool_folders(), 1, "the killed import left its spool folder (its upload's copy)");
    let fetched_before = docs.paced_hits.load(Ordering::SeqCst);
    let stored_before = count_files();
    assert!((100..600).contains(&stored_before), "killed mid-way: {stored_before} of 600 stored");

    let mut again = cli();
    let rerun = tokio::task::spawn_blocking(move || again.output().unwrap()).await.unwrap();
    let stdout = String::from_utf8_lossy(&rerun.stdout).to_string();
    assert_eq!(rerun.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("imported=300/300"), "{stdout}");
    let fetched_again = docs.paced_hits.load(Ordering::SeqCst) - fetched_before;
    assert!(fetched_again <= 600 - stored_before, "refetched {fetched_again} with {stored_before} stored before");
    // The rerun removed the dead import's spool folder; only its own is left (for the next).
    assert_eq!(spool_folders(), 1);
    let left: Vec<_> = std::fs::read_dir(tmp.join("coverdesk-spool")).unwrap().flatten().collect();
    let files: Vec<_> = std::fs::read_dir(left[0].path()).unwrap().flatten().map(|e| e.file_name()).collect();
    assert_eq!(files, vec![std::ffi::OsString::from(".lock")], "a finished import leaves nothing behind");

    // Every stored document is a record's, and every record's document is stored.
    let store = coverdesk_local::EmbeddedStore::open(data.join("coverdesk.redb")).unwrap();
    let store: Arc<dyn coverdesk::store::Store> = Arc::new(store);
    let team = coverdesk::auth::team_by_client_id(store.as_ref(), "local").await.unwrap().unwrap();
    let repo = coverdesk::import::repo::ImportRepo::new(store.clone(), &team);
    let mut referenced = Vec::new();
    for i in 0..300 {
        let rec = repo.transaction(&format!("{tag}-{i}")).await.unwrap().unwrap();
        assert_eq!(rec.status, 0);
        referenced.extend(rec.documents.into_iter().map(|d| d.key));
    }
    referenced.sort();
    let objects = coverdesk::objects::FolderStore::new(data.join("objects"));
    let stored = objects.list("documents/").await.unwrap();
    assert_eq!(stored.len(), 600);
    assert_eq!(stored, referenced);
}

// ---- a client that hangs up ----

/// The local server (the path `coverdesk serve` takes: hyper, which drops a request's future when
/// its client hangs up) over `store`, its objects in `objects`; its address, and a new team with
/// its Basic credentials.
async fn serve_on(
    store: Arc<dyn coverdesk::store::Store>,
    objects: Arc<dyn ObjectStore>,
) -> (coverdesk::deps::Deps, SocketAddr, coverdesk::types::TeamId, String) {
    let mut deps = support::test_deps(store);
    deps.objects = objects;
    let listener = coverdesk_local::bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let served = deps.clone();
    tokio::spawn(async move { coverdesk_local::serve(listener, served).await });
    let (team, secret) =
        coverdesk::auth::create_team(deps.store.as_ref(), "test", Some(&uid("t")), None, None).await.unwrap();
    (deps, addr, team.team_id, support::api::basic(&team.client_id, &secret))
}

/// The seed's example whose first document is answered at once and whose second is held until
/// [`Docs::release`].
fn held_second_document(docs: &Docs, id: &str) -> Value {
    two_documents(docs, id, &format!("/doc/d1-{id}"), &format!("/held/polic-{id}"))
}

/// The seed example as transaction `id` with the two documents California asks for, at these
/// paths of the document server.
fn two_documents(docs: &Docs, id: &str, d1: &str, polic: &str) -> Value {
    with(
        seed_example(docs, id),
        "transaction_documents",
        json!([
            {"code": "D1DISC", "url": docs.url(d1), "id": 1},
            {"code": "POLIC", "url": docs.url(polic), "id": 2}
        ]),
    )
}

/// POSTs `body` to `path` on a connection of its own and hangs up (drops the connection) once
/// the documents are being fetched: `held` requests for held documents have arrived.
async fn post_and_hang_up(addr: SocketAddr, path: &str, auth: &str, body: &Value, docs: &Docs, held: usize) {
    use tokio::io::AsyncWriteExt;
    let body = body.to_string();
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nhost: localhost\r\nauthorization: {auth}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body.as_bytes()).await.unwrap();
    docs.held_asked(held, "the documents were never asked for").await;
    drop(stream);
}

/// Issue 19: a client hangs up while its documents are being fetched (each transaction's first
/// document stored, its second held by the document server), on a batch POST and on a
/// single-transaction POST; then the documents come. The import goes on to its end: every
/// stored document belongs to an imported record, every record's documents are stored, and the
/// batch's results are readable by its id.
async fn a_client_that_hangs_up_mid_fetch_leaves_nothing_behind(
    store: Arc<dyn coverdesk::store::Store>,
    objects: Arc<dyn ObjectStore>,
) {
    let (deps, addr, team, auth) = serve_on(store, objects).await;
    let repo = coverdesk::import::repo::ImportRepo::new(deps.store.clone(), &team);
    let tag = uid("hangup");
    let txn = held_second_document;
    let (batch_docs, single_docs) = (Docs::start().await, Docs::start().await);
    let ids: Vec<String> = (0..4).map(|i| format!("{tag}-{i}")).collect();
    let batch = Value::Array(ids.iter().map(|id| txn(&batch_docs, id)).collect());
    post_and_hang_up(addr, "/import/v1/transactions", &auth, &batch, &batch_docs, ids.len()).await;
    let single = format!("{tag}-single");
    let item = json!({"total_items": 1, "current_item": 1, "transaction": txn(&single_docs, &single)});
    post_and_hang_up(addr, "/import/v1/transaction", &auth, &item, &single_docs, 1).await;
    // The server sees the connections close (and drops the requests' futures) before the rest comes.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let every: Vec<&String> = ids.iter().chain([&single]).collect();
    for id in &every {
        assert!(repo.imported(id).await.unwrap().is_none(), "{id} was recorded before its second document came");
    }
    assert_eq!(deps.objects.list("documents/").await.unwrap().len(), every.len(), "the first documents are stored");
    batch_docs.release();
    single_docs.release();

    let started = std::time::Instant::now();
    let records = loop {
        let mut found = Vec::new();
        for id in &every {
            found.extend(repo.imported(id).await.unwrap());
        }
        if found.len() == every.len() || started.elapsed().as_secs() >= 15 {
            break found;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    let mut referenced: Vec<String> = records.iter().flat_map(|r| r.documents.iter().map(|d| d.key.clone())).collect();
    referenced.sort();
    let stored = deps.objects.list("documents/").await.unwrap();
    let orphans: Vec<&String> = stored.iter().filter(|k| !referenced.contains(k)).collect();
    assert!(
        orphans.is_empty(),
        "{} of {} stored documents belong to no record: {orphans:?}",
        orphans.len(),
        stored.len()
    );
    assert_eq!(stored, referenced, "every record's documents are stored");
    assert_eq!(records.len(), every.len(), "every transaction imported");
    assert!(records.iter().all(|r| r.status == 0 && r.documents.len() == 2));
    // Readable later by batch id (a client that retries learns it from its 3001 answers).
    for (id, n) in [(&ids[0], ids.len()), (&single, 1)] {
        let batch_id = &records.iter().find(|r| &r.id == id).unwrap().batch_id;
        // Its records are written a moment before it is marked processed.
        let (meta, results) = loop {
            let (meta, results) = repo.batch_with_results(batch_id).await.unwrap().unwrap();
            if meta.status.code() == "processed" || started.elapsed().as_secs() >= 20 {
                break (meta, results);
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        };
        assert_eq!((meta.status.code(), results.len()), ("processed", n), "{id}");
        assert!(results.iter().all(|r| r.status == 0), "{results:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_hangs_up_leaves_nothing_on_the_embedded_store_and_a_folder() {
    let (store, _dir) = support::embedded_store();
    let objects = tempfile::tempdir().unwrap();
    let folder = Arc::new(coverdesk::objects::FolderStore::new(objects.path()));
    a_client_that_hangs_up_mid_fetch_leaves_nothing_behind(store, folder).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_hangs_up_leaves_nothing_on_dynamodb_and_s3() {
    a_client_that_hangs_up_mid_fetch_leaves_nothing_behind(support::dynamo_store().await, support::s3_store().await)
        .await;
}

/// Issue 19: `coverdesk serve` stopped (Ctrl-C) while an import it took fetches its documents
/// (its client gone too) takes no new request but lets the import end before it exits: the
/// documents are recorded, not left behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_local_server_lets_its_running_imports_end() {
    let docs = Docs::start().await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut server = std::process::Command::new(env!("CARGO_BIN_EXE_coverdesk"))
        .args(["serve", "--port", &port.to_string()])
        .env("COVERDESK_DATA_DIR", &data)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let started = std::time::Instant::now();
    while tokio::net::TcpStream::connect(addr).await.is_err() {
        assert!(started.elapsed().as_secs() < 30, "the server never listened");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let id = uid("stopped");
    let batch = json!([held_second_document(&docs, &id)]);
    let auth = support::api::basic("local", "local-secret");
    post_and_hang_up(addr, "/import/v1/transactions", &auth, &batch, &docs, 1).await;
    let interrupted = std::process::Command::new("kill").args(["-INT", &server.id().to_string()]).status().unwrap();
    assert!(interrupted.success());
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(server.try_wait().unwrap().is_none(), "the server waits for the import it runs");
    docs.release();
    let started = std::time::Instant::now();
    let exit = loop {
        if let Some(exit) = server.try_wait().unwrap() {
            break exit;
        }
        if started.elapsed().as_secs() >= 20 {
            server.kill().unwrap();
            panic!("the server did not stop once its import ended");
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert!(exit.success(), "{exit:?}");

    let store: Arc<dyn coverdesk::store::Store> =
        Arc::new(coverdesk_local::EmbeddedStore::open(data.join("coverdesk.redb")).unwrap());
    let team = coverdesk::auth::team_by_client_id(store.as_ref(), "local").await.unwrap().unwrap();
    let rec = coverdesk::import::repo::ImportRepo::new(store, &team).imported(&id).await.unwrap();
    let referenced: Vec<String> = rec.iter().flat_map(|r| r.documents.iter().map(|d| d.key.clone())).collect();
    let stored = coverdesk::objects::FolderStore::new(data.join("objects")).list("documents/").await.unwrap();
    assert_eq!(stored, referenced, "every stored document is the record's");
    assert_eq!(referenced.len(), 2, "imported with its two documents");
}

// ---- S3 ----

/// The object store contract on the S3-API server and on a folder.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn object_stores_keep_what_they_are_given() {
    let dir = tempfile::tempdir().unwrap();
    let stores: Vec<Arc<dyn ObjectStore>> =
        vec![support::s3_store().await, Arc::new(coverdesk::objects::FolderStore::new(dir.path()))];
    for s in stores {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), b"hello document").unwrap();
        let meta = coverdesk::objects::ObjectMeta { content_type: "application/pdf".into(), sha256: "ab".repeat(32) };
        s.put_file("documents/t/b/x/00-POLIC", file.path(), &meta).await.unwrap();
        assert_eq!(s.get_bytes("documents/t/b/x/00-POLIC").await.unwrap().unwrap(), b"hello document");
        // Streamed into a file (an upload is never read into memory whole).
        let copy = dir.path().join("copy");
        assert_eq!(s.get_file("documents/t/b/x/00-POLIC", &copy, 14).await.unwrap(), Some(14));
        assert_eq!(std::fs::read(&copy).unwrap(), b"hello document");
        assert_eq!(s.get_file("documents/t/b/x/absent", &copy, 14).await.unwrap(), None);
        // Larger than the limit: not copied, its size says so.
        std::fs::remove_file(&copy).unwrap();
        assert_eq!(s.get_file("documents/t/b/x/00-POLIC", &copy, 13).await.unwrap(), Some(14));
        assert!(!copy.exists());
        // Stored without metadata (a result file): listed, but no document to reuse.
        let plain = coverdesk::objects::ObjectMeta { content_type: "application/json".into(), sha256: String::new() };
        s.put_file("results/t/streamed.json", file.path(), &plain).await.unwrap();
        assert_eq!(s.get_bytes("results/t/streamed.json").await.unwrap().unwrap(), b"hello document");
        assert!(s.head("results/t/streamed.json").await.unwrap().is_none_or(|st| st.meta.sha256.is_empty()));
        // What was stored beside it comes back: a rerun reuses a stored document by it.
        let stat = s.head("documents/t/b/x/00-POLIC").await.unwrap().unwrap();
        assert_eq!((stat.size, &stat.meta), (14, &meta));
        s.put_bytes("results/t/r.json", b"{}".to_vec(), &coverdesk::objects::ObjectMeta::plain("application/json"))
            .await
            .unwrap();
        assert!(s.head("results/t/r.json").await.unwrap().is_none_or(|st| st.meta.sha256.is_empty()));
        // A small document, stored from memory: its metadata is kept as a file's is.
        s.put_bytes("documents/t/b/y/00-DEC", b"small".to_vec(), &meta).await.unwrap();
        let stat = s.head("documents/t/b/y/00-DEC").await.unwrap().unwrap();
        assert_eq!((stat.size, &stat.meta), (5, &meta));
        s.delete("documents/t/b/y/00-DEC").await.unwrap();
        // A document stored only if its key is free, from memory or from a spooled file (past
        // 1 MiB, deleted once stored); a key taken is left as it is.
        let body = coverdesk::fetch::Body::Memory(b"small".to_vec());
        assert!(s.put_new("documents/t/b/y/00-DEC", body, &meta).await.unwrap());
        let again = coverdesk::fetch::Body::Memory(b"other".to_vec());
        assert!(!s.put_new("documents/t/b/y/00-DEC", again, &meta).await.unwrap());
        assert_eq!(s.get_bytes("documents/t/b/y/00-DEC").await.unwrap().unwrap(), b"small");
        let spooled = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(spooled.path(), large_document()).unwrap();
        let path = spooled.into_temp_path();
        let file_path = path.to_path_buf();
        assert!(s.put_new("documents/t/b/y/01-POLIC", coverdesk::fetch::Body::File(path), &meta).await.unwrap());
        assert!(!file_path.exists(), "the spooled file is gone once stored");
        assert_eq!(s.get_bytes("documents/t/b/y/01-POLIC").await.unwrap().unwrap(), large_document());
        let stat = s.head("documents/t/b/y/01-POLIC").await.unwrap().unwrap();
        assert_eq!((stat.size, &stat.meta), (3 << 20, &meta));
        for key in ["documents/t/b/y/00-DEC", "documents/t/b/y/01-POLIC"] {
            s.delete(key).await.unwrap();
        }
        assert_eq!(s.list("documents/").await.unwrap(), vec!["documents/t/b/x/00-POLIC".to_string()]);
        assert_eq!(
            s.list("results/t/").await.unwrap(),
            vec!["results/t/r.json".to_string(), "results/t/streamed.json".to_string()]
        );
        s.delete("documents/t/b/x/00-POLIC").await.unwrap();
        assert_eq!(s.get_bytes("documents/t/b/x/00-POLIC").await.unwrap(), None);
        assert_eq!(s.head("documents/t/b/x/00-POLIC").await.unwrap(), None);
        assert!(s.put_bytes("../escape", vec![], &coverdesk::objects::ObjectMeta::plain("x")).await.is_err());
    }
}

/// An S3 event as S3 sends it (the sample in events/), naming `key` in `bucket`.
fn s3_event(bucket: &str, keys: &[&str], etag: &str) -> aws_lambda_events::event::s3::S3Event {
    let sample: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../events/import-s3.json")).unwrap(),
    )
    .unwrap();
    let records: Vec<Value> = keys
        .iter()
        .map(|k| {
            let mut r = sample["Records"][0].clone();
            r["s3"]["bucket"]["name"] = json!(bucket);
            r["s3"]["object"]["key"] = json!(k);
            r["s3"]["object"]["eTag"] = json!(etag);
            r
        })
        .collect();
    serde_json::from_value(json!({ "Records": records })).unwrap()
}

/// An upload to S3 is imported (DynamoDB Local + the S3-API server), its result written beside
/// it; the same object delivered twice gives the same batch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_s3_upload_is_imported_once_however_often_it_is_delivered() {
    let docs = Docs::start().await;
    let s3 = support::s3_store().await;
    let store = support::dynamo_store().await;
    let mut deps = support::test_deps(store);
    deps.objects = s3.clone();
    let ids: Vec<String> = (0..30).map(|i| uid(&format!("s3-{i}"))).collect();
    let mut batch: Vec<Value> = ids.iter().map(|id| seed_example(&docs, id)).collect();
    batch.push(with(seed_example(&docs, &uid("bad")), "transaction_type", json!("XX")));
    let key = "uploads/team-a/2026-11-22.json";
    s3.put_bytes(key, serde_json::to_vec(&batch).unwrap(), &coverdesk::objects::ObjectMeta::plain("application/json"))
        .await
        .unwrap();
    let event = s3_event(s3.bucket(), &["uploads/team-a/2026-11-22.json"], "abc123");
    let out = coverdesk_lambda::handle_s3_event(&deps, &event).await.unwrap();
    assert_eq!(out["imported"][0]["imported"], 30, "{out}");
    let result: Value =
        serde_json::from_slice(&s3.get_bytes("results/team-a/2026-11-22.result.json").await.unwrap().unwrap()).unwrap();
    assert_eq!(result["transactions"].as_array().unwrap().len(), 31);
    assert_eq!(result["transactions"][30]["status"], 1002);
    assert_eq!(s3.list("documents/team-a/").await.unwrap().len(), 60);
    let again = coverdesk_lambda::handle_s3_event(&deps, &event).await.unwrap();
    assert_eq!(again["imported"][0]["batch_id"], out["imported"][0]["batch_id"]);
    let result2: Value =
        serde_json::from_slice(&s3.get_bytes("results/team-a/2026-11-22.result.json").await.unwrap().unwrap()).unwrap();
    assert_eq!(result2, result, "the same answer, no duplicates");
    // A batch file that is not JSON gets one clear error in its result.
    s3.put_bytes(
        "uploads/team-a/broken.json",
        b"[{".to_vec(),
        &coverdesk::objects::ObjectMeta::plain("application/json"),
    )
    .await
    .unwrap();
    // Beside it, records that can never be imported are skipped and counted, not retried: a key
    // outside uploads/, an object already deleted, a record naming no key.
    let mut ev = s3_event(
        s3.bucket(),
        &["uploads/team-a/broken.json", "elsewhere/x.json", "uploads/team-a/deleted.json", "uploads/team-a/nokey.json"],
        "e",
    );
    ev.records[3].s3.object.key = None;
    let out = coverdesk_lambda::handle_s3_event(&deps, &ev).await.unwrap();
    assert_eq!((out["imported"].as_array().unwrap().len(), out["skipped"].as_u64()), (1, Some(3)), "{out}");
    let r: Value =
        serde_json::from_slice(&s3.get_bytes("results/team-a/broken.result.json").await.unwrap().unwrap()).unwrap();
    assert_eq!(r["error"], "INVALID_BATCH");

    // Issue 10: the store fails (throttled): the event fails so that Lambda retries it, and the
    // result file says the import failed meanwhile; once the store answers, the retry imports and
    // the result file says so.
    let flaky = Arc::new(support::FlakyStore::flaky(deps.store.clone(), true));
    let mut failing = deps.clone();
    failing.store = flaky.clone();
    let ids: Vec<String> = (0..3).map(|i| uid(&format!("retry-{i}"))).collect();
    let batch: Vec<Value> = ids.iter().map(|id| seed_example(&docs, id)).collect();
    s3.put_bytes(
        "uploads/team-a/retried.json",
        serde_json::to_vec(&batch).unwrap(),
        &coverdesk::objects::ObjectMeta::plain("application/json"),
    )
    .await
    .unwrap();
    let ev = s3_event(s3.bucket(), &["uploads/team-a/retried.json"], "r1");
    let e = coverdesk_lambda::handle_s3_event(&failing, &ev).await.expect_err("a retryable failure");
    assert!(!e.is_permanent(), "{e}");
    let r: Value =
        serde_json::from_slice(&s3.get_bytes("results/team-a/retried.result.json").await.unwrap().unwrap()).unwrap();
    assert_eq!((r["status"].as_str(), r["error"].as_str()), (Some("failed"), Some("IMPORT_FAILED")), "{r}");
    assert!(!r["message"].as_str().unwrap().contains("throttled (test)"), "no internals: {r}");
    flaky.failing.store(false, std::sync::atomic::Ordering::SeqCst);
    let out = coverdesk_lambda::handle_s3_event(&failing, &ev).await.unwrap();
    assert_eq!(out["imported"][0]["imported"], 3, "{out}");
    let r: Value =
        serde_json::from_slice(&s3.get_bytes("results/team-a/retried.result.json").await.unwrap().unwrap()).unwrap();
    assert_eq!(r["transactions"].as_array().unwrap().len(), 3, "{r}");
    // Delivered once more while the store fails again: the event fails, the answer stands.
    flaky.failing.store(true, std::sync::atomic::Ordering::SeqCst);
    assert!(coverdesk_lambda::handle_s3_event(&failing, &ev).await.is_err());
    let kept: Value =
        serde_json::from_slice(&s3.get_bytes("results/team-a/retried.result.json").await.unwrap().unwrap()).unwrap();
    assert_eq!(kept, r, "a processed upload's answer is never replaced by a failure");
}

// ---- the fetcher's guards ----

/// Issue 10: inside the import request, all of a batch's documents share one time budget; a
/// transaction whose document is not stored by then is refused (2002) and the request answers in
/// time, with the others imported.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documents_fetched_inside_a_request_share_its_time_budget() {
    let docs = Docs::start().await;
    let mut api = TestApi::new(Transport::Lambda).await;
    api.deps.fetch_limits.budget = Some(std::time::Duration::from_millis(1200));
    let fast = seed_example(&docs, &uid("fast"));
    let mut slow = seed_example(&docs, &uid("slow"));
    slow["transaction_documents"][0]["url"] = json!(docs.url("/slow"));
    let started = std::time::Instant::now();
    let r = post_batch(&api, json!([fast, slow])).await;
    assert!(started.elapsed() < std::time::Duration::from_secs(2), "the slow document (2 s) was not waited for");
    assert_eq!(r["transactions"][0]["status"], 0, "{r}");
    assert_eq!(r["transactions"][1]["status"], 2002, "{r}");
    assert!(r["transactions"][1]["status_message"].as_str().unwrap().contains("time ran out"), "{r}");
}

/// Issue 23: a transaction's documents are fetched at once, not one after another: both of its
/// documents are asked for while neither has been answered; once answered, it imports with both,
/// in its order. A transaction whose second document cannot be fetched keeps none of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transactions_documents_are_fetched_at_once() {
    let docs = Docs::start().await;
    let api = TestApi::new(Transport::Lambda).await;
    let id = uid("together");
    let both_held = two_documents(&docs, &id, &format!("/held/d1-{id}"), &format!("/held/polic-{id}"));
    let posting = tokio::spawn({
        let api = api.clone();
        async move { post_batch(&api, json!([both_held])).await }
    });
    docs.held_asked(2, "the second document waited for the first").await;
    docs.release();
    let r = posting.await.unwrap();
    assert_eq!(r["transactions"][0]["status"], 0, "{r}");
    let stored = api.deps.objects.list(&coverdesk::import::document_prefix(&api.team, &id)).await.unwrap();
    assert_eq!(stored.len(), 2, "{stored:?}");
    assert!(stored[0].contains("/00-D1DISC-") && stored[1].contains("/01-POLIC-"), "in its order: {stored:?}");

    let lost = uid("lost");
    let second_missing = two_documents(&docs, &lost, &format!("/doc/d1-{lost}"), "/missing");
    let r = post_batch(&api, json!([second_missing])).await;
    assert_eq!(r["transactions"][0]["status"], 2002, "{r}");
    let message = r["transactions"][0]["status_message"].as_str().unwrap_or_default();
    assert!(message.contains("'POLIC' (transaction_documents[1])"), "{r}");
    let prefix = coverdesk::import::document_prefix(&api.team, &lost);
    assert_eq!(api.deps.objects.list(&prefix).await.unwrap(), Vec::<String>::new(), "nothing left behind");
}

/// Issue 10: a document request carries the invocation's X-Ray trace header, and none outside an
/// invocation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn document_requests_carry_the_trace_header() {
    let docs = Docs::start().await;
    let dir = tempfile::tempdir().unwrap();
    let fetcher = coverdesk_http::Fetcher::new(true, Default::default()).unwrap();
    let trace = "Root=1-67891233-abcdef012345678912345678;Parent=53995c3f42cd8ad8;Sampled=1";
    coverdesk::net::set_trace_id(Some(trace.into()));
    let got = fetcher.fetch(&docs.url("/echo-trace"), dir.path()).await.unwrap();
    coverdesk::net::set_trace_id(None);
    assert_eq!(body_of(&got), trace.as_bytes());
    let got = fetcher.fetch(&docs.url("/echo-trace"), dir.path()).await.unwrap();
    assert_eq!(body_of(&got), b"");
}

/// Issue 23: a batch POSTed in the background (admitted, then imported from its stored body) is a
/// first run: its documents are stored by one PUT each, nothing asked first. A batch an import
/// had begun and died in is a rerun: each document is asked for (HEAD) before it is fetched, so
/// what the dead run stored is not fetched again (`a_killed_cli_import_resumes_...` counts that).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_background_batch_asks_for_no_document_and_a_rerun_of_one_that_died_asks_first() {
    use coverdesk::import::{service::new_batch_id, upload};
    let docs = Docs::start().await;
    let (store, _dir) = support::embedded_store();
    let team = coverdesk::examples::ensure_local_team(store.as_ref()).await.unwrap();
    let folder = tempfile::tempdir().unwrap();
    let counting = support::CountingObjects::new(Arc::new(coverdesk::objects::FolderStore::new(folder.path())));
    let imports = support::test_deps(store.clone()).with_objects(counting.clone()).imports();
    let counts = || (counting.heads.swap(0, Ordering::SeqCst), counting.puts.swap(0, Ordering::SeqCst));
    let admitted = async |tag: &str| {
        let body = serde_json::to_vec(&json!([seed_example(&docs, &uid(tag))])).unwrap();
        let (meta, key) = upload::admit(&imports, &team, &new_batch_id().unwrap(), body, 1).await.unwrap();
        (meta, key)
    };

    let (_, key) = admitted("background").await;
    counts();
    let out = upload::import_object(&imports, "local", &key, "", &|_, _| {}).await.unwrap();
    assert_eq!((out.total, out.imported), (1, 1));
    assert_eq!(counts(), (0, 3), "two documents stored by a PUT each, nothing asked; then the result file");

    // Begun by a run that died before its documents: the rerun asks for each, then stores it.
    let (meta, key) = admitted("died").await;
    let begun = coverdesk::import::service::BatchMeta { chunks: 1, ..meta };
    assert!(begun.begun());
    coverdesk::import::repo::ImportRepo::new(store, &team).put_batch(&begun, 1).await.unwrap();
    counts();
    let out = upload::import_object(&imports, "local", &key, "", &|_, _| {}).await.unwrap();
    assert_eq!((out.total, out.imported), (1, 1));
    assert_eq!(counts(), (2, 3), "each document asked for first, then stored; then the result file");
}

/// A small document stays in memory (no file, no spool folder needed); one past 1 MiB is spooled
/// to a file in the folder given, created then, whole and with its digest; the file goes when
/// the document is dropped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn small_documents_stay_in_memory_and_large_ones_are_spooled() {
    use sha2::Digest;
    let docs = Docs::start().await;
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("not-yet-made");
    let fetcher = coverdesk_http::Fetcher::new(true, Default::default()).unwrap();
    let small = fetcher.fetch(&docs.url("/doc/s"), &dir).await.unwrap();
    assert!(matches!(small.body, coverdesk::fetch::Body::Memory(_)), "{:?}", small.size);
    assert_eq!(body_of(&small), pdf("s"));
    assert_eq!(small.sha256, format!("{:x}", sha2::Sha256::digest(pdf("s"))));
    assert!(!dir.exists(), "nothing spooled, no folder made");

    let large = fetcher.fetch(&docs.url("/large"), &dir).await.unwrap();
    let coverdesk::fetch::Body::File(path) = &large.body else { panic!("a 3 MiB document is spooled") };
    assert!(path.starts_with(&dir));
    assert_eq!((large.size, body_of(&large)), (3 << 20, large_document()));
    assert_eq!(large.sha256, format!("{:x}", sha2::Sha256::digest(large_document())));
    let path = path.to_path_buf();
    drop(large);
    assert!(!path.exists(), "the spooled file goes with the document");
}

/// A fetched document's bytes, wherever the fetcher kept them.
fn body_of(f: &coverdesk::fetch::Fetched) -> Vec<u8> {
    match &f.body {
        coverdesk::fetch::Body::Memory(b) => b.clone(),
        coverdesk::fetch::Body::File(p) => std::fs::read(p).unwrap(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fetcher_refuses_private_addresses_and_other_schemes() {
    let docs = Docs::start().await;
    let dir = tempfile::tempdir().unwrap();
    let guarded = coverdesk_http::Fetcher::new(false, Default::default()).unwrap();
    for url in [
        docs.url("/doc/a"),
        "http://169.254.169.254/latest/meta-data/".to_string(),
        "http://[::1]:9/x".to_string(),
        format!("http://localhost:{}/doc/a", docs.addr.port()),
        "ftp://example.com/a".to_string(),
        "file:///etc/passwd".to_string(),
    ] {
        let e = guarded.fetch(&url, dir.path()).await.unwrap_err();
        assert!(matches!(e, coverdesk::fetch::FetchError::Refused(_)), "{url}: {e:?}");
    }
    // A name that resolves to loopback is refused after resolution.
    let mut resolver = coverdesk_http::GuardedResolver { allow_private: false };
    let name: hyper_util::client::legacy::connect::dns::Name = "localhost".parse().unwrap();
    assert!(tower_service::Service::call(&mut resolver, name).await.is_err());
    // A server that does not answer in time: each attempt is cut off, then the fetch fails.
    let limits = coverdesk::fetch::FetchLimits {
        timeout: std::time::Duration::from_millis(300),
        attempts: 2,
        ..Default::default()
    };
    let open = coverdesk_http::Fetcher::new(true, limits).unwrap();
    let started = std::time::Instant::now();
    let e = open.fetch(&docs.url("/slow"), dir.path()).await.unwrap_err();
    assert!(e.to_string().contains("no complete answer within 0.3 s"), "{e}");
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
    let ok = open.fetch(&docs.url("/doc/z"), dir.path()).await.unwrap();
    assert_eq!(ok.size, pdf("z").len() as u64);
    drop(ok);
    // Nothing was left in the spool folder.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

/// Issue 9: a NUL (or any control character) in an id is answered 404/400 in the import envelope,
/// and a batch holding such a transaction completes, the others imported.
async fn control_characters_in_ids_never_reach_the_store(t: Transport) {
    let api = TestApi::new(t).await;
    let docs = Docs::start().await;
    for path in [
        "/import/v1/transaction-import-results?batch_id=%00",
        "/import/v1/transactions/%00",
        "/import/v1/transactions/a%01b",
    ] {
        let r = api.get(path).await;
        assert!(r.status == 404 || r.status == 400, "{path}: {} {}", r.status, r.body);
        assert!(r.body["error"].is_string(), "{path}: {}", r.body);
    }
    let good = uid("good");
    let bad = with(seed_example(&docs, "x"), "id", json!("x\u{0}"));
    let body = post_batch(&api, json!([bad, seed_example(&docs, &good)])).await;
    assert_eq!(body["status"], "processed", "{body}");
    let got = body["transactions"].as_array().unwrap();
    assert_eq!(got[0]["status"], 2001, "{body}");
    assert!(got[0]["status_message"].as_str().unwrap().contains("'id'"), "{body}");
    assert_eq!(got[1]["status"], 0, "{body}");
    let batch = body["batch_id"].as_str().unwrap();
    let r = api.get(&format!("/import/v1/transaction-import-results?batch_id={batch}")).await;
    assert_eq!((r.status, r.body["status"].as_str()), (200, Some("processed")), "{}", r.body);
    assert_eq!(api.get(&format!("/import/v1/transactions/{good}")).await.status, 200);
}

/// Issue 23: what a batch's documents cost the bucket. A first run stores each document with one
/// conditional PUT (stored only if its key is free) and asks for nothing first; a transaction
/// imported before is refused (3001) with no fetch, HEAD or PUT at all. When its documents were
/// stored before (a crashed run, the same transaction sent in another batch: here another
/// store's import of it into the same bucket), the PUT finds the key taken and one HEAD reads the
/// stored copy, which the record names; also when the document's URL no longer answers. Reuse on
/// a rerun after a crash is also `a_killed_cli_import_resumes_on_rerun_and_leaves_no_orphan`'s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batchs_documents_cost_one_put_each_a_duplicate_none_and_a_stored_copy_is_reused() {
    let docs = Docs::start().await;
    let folder = tempfile::tempdir().unwrap();
    let counting = support::CountingObjects::new(Arc::new(coverdesk::objects::FolderStore::new(folder.path())));
    let counts = || (counting.heads.swap(0, Ordering::SeqCst), counting.puts.swap(0, Ordering::SeqCst));
    // A server of one document that can be stopped, for the URL that stops answering.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let gone_url = format!("http://{}/d", listener.local_addr().unwrap());
    let gone = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { return };
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(|_req: hyper::Request<hyper::body::Incoming>| async {
                    Ok::<_, std::convert::Infallible>(hyper::Response::new(Full::new(Bytes::from(pdf("gone")))))
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    let id = uid("first-run");
    let mut txn = seed_example(&docs, &id);
    txn["transaction_documents"][1]["url"] = json!(gone_url);
    let body = serde_json::to_vec(&json!([txn])).unwrap();
    // An importer on a store of its own, over the one bucket.
    let importer = async || {
        let (store, dir) = support::embedded_store();
        let team = coverdesk::examples::ensure_local_team(store.as_ref()).await.unwrap();
        (support::test_deps(store).with_objects(counting.clone()).imports().importer(&team), dir)
    };

    let (first, _dir1) = importer().await;
    let (_, results) = first.import(&uid("batch"), &body, "api", &|_, _| {}).await.unwrap();
    assert_eq!(results[0].status, 0, "{:?}", results[0].status_message);
    assert_eq!(counts(), (0, 2), "two documents: each stored by one PUT, nothing asked for first");
    let (_, again) = first.import(&uid("batch"), &body, "api", &|_, _| {}).await.unwrap();
    assert_eq!(again[0].status, 3001);
    assert_eq!(counts(), (0, 0));

    // Stored before: both keys are taken; each PUT says so, a HEAD reads the stored copy.
    let prefix = coverdesk::import::document_prefix(&coverdesk::types::TeamId::new("local"), &id);
    let stored = counting.list(&prefix).await.unwrap();
    assert_eq!(stored.len(), 2);
    let (second, _dir2) = importer().await;
    let (_, results) = second.import(&uid("batch"), &body, "api", &|_, _| {}).await.unwrap();
    assert_eq!(results[0].status, 0, "{:?}", results[0].status_message);
    assert_eq!(counts(), (2, 2), "each PUT found its key taken; each stored copy read once");
    // The URL stops answering: the stored copy is still reused, nothing fetched or stored again.
    gone.abort();
    let _ = gone.await;
    let (third, _dir3) = importer().await;
    let (_, results) = third.import(&uid("batch"), &body, "api", &|_, _| {}).await.unwrap();
    assert_eq!(results[0].status, 0, "{:?}", results[0].status_message);
    assert_eq!(counts(), (2, 1), "the answering URL's PUT found its key taken; both copies read");
    assert_eq!(counting.list(&prefix).await.unwrap(), stored, "the same two objects");
}
