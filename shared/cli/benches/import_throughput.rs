//! Issue 11's throughput bench: validation plus tax computation alone (no store, no documents),
//! in transactions per second on one core, beside a plain `serde_json` parse of the same file in
//! the same run. Goal: >= 50,000 transactions/s and >= 0.5x the plain parse.
//!
//! ```text
//! cargo bench -p coverdesk-cli --bench import_throughput            # 50,000 transactions, 5 rounds
//! cargo bench -p coverdesk-cli --bench import_throughput -- --transactions 10000 --rounds 9
//! ```
//! The file mixes jurisdictions, transaction types and lines, and a few refused transactions, as
//! a day's batch does; each round times both on the same bytes; medians are printed. A third
//! line times what an upload adds: the same file read as a stream from disk, twice (checked,
//! then read element by element), with the same validation and tax computation.

use std::time::Instant;

use serde_json::value::RawValue;
use serde_json::{json, Value};

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)?.parse().ok()).unwrap_or(default)
}

const STATES: [(&str, &str, &str); 6] = [
    ("CA", "Roseville", "95678"),
    ("NY", "Albany", "12207"),
    ("TX", "Austin", "78701"),
    ("FL", "Miami", "33101"),
    ("IL", "Chicago", "60601"),
    ("WA", "Seattle", "98101"),
];

fn transaction(i: usize) -> Value {
    let (state, city, zip) = STATES[i % STATES.len()];
    let kind = ["PN", "PR", "APE", "AE"][i % 4];
    let premium = 1000 + (i % 97) * 37;
    // Every code any of these states asks for: a transaction carries the documents it needs.
    let documents: Vec<Value> = ["POLIC", "ENDT", "D1DISC", "DILEF", "SSW"]
        .iter()
        .enumerate()
        .map(|(n, code)| json!({"code": code, "url": format!("https://docs.example/{i}/{n}.pdf"), "id": i * 10 + n}))
        .collect();
    let mut t = json!({
        "id": format!("T{i:07}"), "policy_number": format!("P{:06}", i / 3), "policy_effective_date": "2024-03-01",
        "transaction_effective_date": "2024-03-01", "transaction_type": kind, "account_written_as": "B",
        "rpg": 0, "premium": format!("{premium}.00").parse::<f64>().unwrap(), "agency_fee": 25.00, "inspection_fee": 0.00,
        "sl_tax": 0.00, "stamping_fee": 0.00, "sl_service_charge": 0.00, "municipal_fee": 0.00, "fm_tax": 0.00,
        "total": premium as f64 + 25.0, "commission_received": 0, "non_admitted_insured_name": "Insured Co",
        "invoice_date": "2024-03-01", "ecp": 0, "mailing_insured_name": "Insured Co", "mailing_address": "1 Main St",
        "mailing_city": city, "mailing_zip_code": zip, "mailing_state_code": state, "physical_same_as_mailing": 1,
        "transaction_line_of_business": format!("{}", 1001 + i % 22), "exempt": 0, "export_list": 0, "multi_state": 0,
        "transaction_documents": documents
    });
    if i % 50 == 7 {
        t["transaction_type"] = json!("XX"); // refused: 1002
    }
    t
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

// Long on purpose: a bench's main is its whole protocol (set up, run each case, print the
// table), read top to bottom once.
fn main() {
    let n = arg("--transactions", 50_000);
    let rounds = arg("--rounds", 5).max(1);
    let file = serde_json::to_vec(&Value::Array((0..n).map(transaction).collect())).unwrap();
    let (mut plain, mut assessed, mut streamed) = (Vec::new(), Vec::new(), Vec::new());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("batch.json");
    std::fs::write(&path, &file).unwrap();
    let open = || std::fs::File::open(&path).unwrap();
    let mut accepted = 0;
    // What the file holds, by status (outside the timing).
    let mut by_status = std::collections::BTreeMap::<u16, (usize, String)>::new();
    for raw in serde_json::from_slice::<Vec<&RawValue>>(&file).unwrap() {
        let (_, read) = coverdesk::import::transaction::read(raw);
        let (status, message) = match read.and_then(coverdesk::import::transaction::assess) {
            Ok(_) => (0, String::new()),
            Err(r) => (r.status, r.message),
        };
        by_status.entry(status).or_insert((0, message)).0 += 1;
    }
    for _ in 0..rounds {
        let t0 = Instant::now();
        let parsed: Vec<Value> = serde_json::from_slice(&file).unwrap();
        assert_eq!(parsed.len(), n);
        drop(parsed);
        plain.push(n as f64 / t0.elapsed().as_secs_f64());

        let t0 = Instant::now();
        let raws: Vec<&RawValue> = serde_json::from_slice(&file).unwrap();
        accepted = raws
            .iter()
            .filter(|raw| {
                let (_, read) = coverdesk::import::transaction::read(raw);
                read.and_then(coverdesk::import::transaction::assess).is_ok()
            })
            .count();
        assessed.push(n as f64 / t0.elapsed().as_secs_f64());

        let t0 = Instant::now();
        assert_eq!(coverdesk::import::stream::count(open()).unwrap(), n);
        let mut ok = 0;
        coverdesk::import::stream::each(open(), |raw: &RawValue| {
            let (_, read) = coverdesk::import::transaction::read(raw);
            ok += usize::from(read.and_then(coverdesk::import::transaction::assess).is_ok());
            Ok(())
        })
        .unwrap();
        assert_eq!(ok, accepted);
        streamed.push(n as f64 / t0.elapsed().as_secs_f64());
    }
    let (p, a, s) = (median(plain), median(assessed), median(streamed));
    println!(
        "{n} transactions ({:.1} MB), {accepted} accepted, median of {rounds} rounds on one core:",
        file.len() as f64 / 1e6
    );
    for (status, (count, example)) in &by_status {
        println!("  status {status}: {count} {example}");
    }
    println!("  plain serde_json parse to Value:        {p:>10.0} transactions/s");
    println!("  validation + tax computation (ours):    {a:>10.0} transactions/s  ({:.2}x the plain parse)", a / p);
    println!("  the same, streamed from a file (upload): {s:>9.0} transactions/s  ({:.2}x the plain parse)", s / p);
}
