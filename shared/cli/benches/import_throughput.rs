//! Issue 11's throughput bench: validation plus tax computation alone (no store, no documents),
//! in transactions per second on one core, beside fair baselines on the same bytes in the same
//! run (issue 21): a typed `#[derive(Deserialize)]` parse of the same fields (what a hand-written
//! importer with no checks would do; goal: ours >= 0.5x of it), a parse into `serde_json::Value`,
//! and the bare element split (`Vec<&RawValue>`). Ours is what a POST runs, from the body's bytes:
//! the split into windows of checked transactions, then each read and assessed; its first steps
//! are timed alone too, to show where the time goes. The cases run in a different order each
//! round, so none always runs on a warm or a cold cache.
//!
//! ```text
//! cargo bench -p coverdesk-cli --bench import_throughput            # 50,000 transactions, 5 rounds
//! cargo bench -p coverdesk-cli --bench import_throughput -- --transactions 10000 --rounds 9
//! cargo test -p coverdesk-cli --bench import_throughput -- --quick  # its checks, small (test command)
//! cargo bench -p coverdesk-cli --bench import_throughput -- --only ours   # one case, for a profiler
//! ```
//! The file mixes jurisdictions, transaction types and lines, and a few refused transactions, as
//! a day's batch does; each round times every case on the same bytes; medians are printed. The
//! last line times what an upload does instead: the same file read as a stream from disk, twice
//! (checked, then read element by element), with the same validation and tax computation.

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

/// The same fields, typed: the baseline a plain `#[derive(Deserialize)]` importer parses into.
#[derive(serde::Deserialize)]
#[allow(dead_code)] // read only by the parse being timed
struct Typed {
    id: String,
    policy_number: String,
    policy_effective_date: String,
    transaction_effective_date: String,
    transaction_type: String,
    account_written_as: String,
    rpg: u8,
    premium: f64,
    agency_fee: f64,
    inspection_fee: f64,
    sl_tax: f64,
    stamping_fee: f64,
    sl_service_charge: f64,
    municipal_fee: f64,
    fm_tax: f64,
    total: f64,
    commission_received: u8,
    non_admitted_insured_name: String,
    invoice_date: String,
    ecp: u8,
    mailing_insured_name: String,
    mailing_address: String,
    mailing_city: String,
    mailing_zip_code: String,
    mailing_state_code: String,
    physical_same_as_mailing: u8,
    transaction_line_of_business: String,
    exempt: u8,
    export_list: u8,
    multi_state: u8,
    transaction_documents: Vec<TypedDocument>,
}

#[derive(serde::Deserialize)]
#[allow(dead_code)]
struct TypedDocument {
    code: String,
    url: String,
    id: u64,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

// Long on purpose: a bench's main is its whole protocol (set up, run each case, print the
// table), read top to bottom once.
fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let only: Option<String> = {
        let args: Vec<String> = std::env::args().collect();
        args.iter().position(|a| a == "--only").and_then(|i| args.get(i + 1).cloned())
    };
    let n = arg("--transactions", if quick { 2_000 } else { 50_000 });
    let rounds = arg("--rounds", if quick { 2 } else { 5 }).max(1);
    let file = serde_json::to_vec(&Value::Array((0..n).map(transaction).collect())).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("batch.json");
    std::fs::write(&path, &file).unwrap();
    let open = || std::fs::File::open(&path).unwrap();
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
    let expected = by_status.get(&0).map(|(c, _)| *c).unwrap_or(0);
    // The bench's own checks: the file is the day's mix it claims (most accepted, the planted
    // 1002s refused), so a change that refuses everything cannot look fast.
    let planted = (0..n).filter(|i| i % 50 == 7).count();
    assert_eq!(by_status.get(&1002).map(|(c, _)| *c), Some(planted), "{by_status:?}");
    assert_eq!(expected + by_status.get(&1002).unwrap().0, n, "{by_status:?}");
    const CASES: [&str; 7] = ["split", "typed", "value", "windows", "read", "ours", "streamed"];
    let mut rates: Vec<Vec<f64>> = vec![Vec::new(); CASES.len()];
    for round in 0..rounds {
        // A different order each round.
        let mut order: Vec<usize> = (0..CASES.len()).collect();
        order.rotate_left(round % CASES.len());
        // `--only ours` (a case's name): that case alone, for a profiler.
        if let Some(only) = only.as_deref() {
            order.retain(|&c| CASES[c] == only);
        }
        for case in order {
            let t0 = Instant::now();
            let count = match CASES[case] {
                "split" => serde_json::from_slice::<Vec<&RawValue>>(&file).unwrap().len(),
                "typed" => serde_json::from_slice::<Vec<Typed>>(&file).unwrap().len(),
                "value" => serde_json::from_slice::<Vec<Value>>(&file).unwrap().len(),
                // What a POST does: the body split into windows of checked transactions
                // (`stream::each_window`, as `Importer::import` calls it), each read and assessed;
                // "windows" and "read" are its first steps alone, to show where the time goes.
                "windows" | "read" | "ours" => {
                    let mut ok = 0;
                    coverdesk::import::stream::each_window(&file[..], |window| {
                        for raw in window.iter() {
                            ok += match CASES[case] {
                                "windows" => 1,
                                "read" => usize::from(coverdesk::import::transaction::read(raw).1.is_ok()),
                                _ => {
                                    let (_, read) = coverdesk::import::transaction::read(raw);
                                    usize::from(read.and_then(coverdesk::import::transaction::assess).is_ok())
                                }
                            };
                        }
                        Ok(())
                    })
                    .unwrap();
                    ok
                }
                _ => {
                    assert_eq!(coverdesk::import::stream::count(open()).unwrap(), n);
                    let mut ok = 0;
                    coverdesk::import::stream::each(open(), |raw| {
                        let (_, read) = coverdesk::import::transaction::read(raw);
                        ok += usize::from(read.and_then(coverdesk::import::transaction::assess).is_ok());
                        Ok(())
                    })
                    .unwrap();
                    ok
                }
            };
            rates[case].push(n as f64 / t0.elapsed().as_secs_f64());
            // Reading refuses the planted 1002s; the tax rules refuse nothing more in this file.
            let want = if matches!(CASES[case], "read" | "ours" | "streamed") { expected } else { n };
            assert_eq!(count, want, "{}", CASES[case]);
        }
    }
    if only.is_some() {
        return; // a profiler's run: no table
    }
    let m: Vec<f64> = rates.into_iter().map(median).collect();
    let (split, typed, value, windows, read, ours, streamed) = (m[0], m[1], m[2], m[3], m[4], m[5], m[6]);
    println!(
        "{n} transactions ({:.1} MB), {expected} accepted, median of {rounds} rounds on one core, cases in rotating order:",
        file.len() as f64 / 1e6
    );
    for (status, (count, example)) in &by_status {
        println!("  status {status}: {count} {example}");
    }
    let us = |rate: f64| 1e6 / rate;
    println!("  bare element split (Vec<&RawValue>):       {split:>8.0} transactions/s  {:>6.2} us each", us(split));
    println!("  typed #[derive(Deserialize)] parse:        {typed:>8.0} transactions/s  {:>6.2} us each", us(typed));
    println!("  parse to serde_json::Value:                {value:>8.0} transactions/s  {:>6.2} us each", us(value));
    println!("  ours, a POST's steps:");
    println!(
        "    split into checked windows:              {windows:>8.0} transactions/s  {:>6.2} us each",
        us(windows)
    );
    println!("    + every field read and checked:          {read:>8.0} transactions/s  {:>6.2} us each", us(read));
    println!(
        "    + tax computation (validation + tax):    {ours:>8.0} transactions/s  {:>6.2} us each  ({:.2}x the typed parse, goal >= 0.5x; {:.2}x the Value parse)",
        us(ours),
        ours / typed,
        ours / value
    );
    println!(
        "  the same, streamed from a file (upload):   {streamed:>8.0} transactions/s  {:>6.2} us each  ({:.2}x the typed parse)",
        us(streamed),
        streamed / typed
    );
}
