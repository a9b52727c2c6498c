//! Issue 21: every rule period of every jurisdiction at the figures its cited source gives.
//!
//! `tests/data/published-figures.csv` holds one row per period of `shared/data/tax-rules/*.toml`
//! (and one for each jurisdiction or date the engine must refuse): a transaction inside the period
//! and the figures worked out by hand from the period's source -- its rate, base and rounding, not
//! the rule data's -- with `verified` as the engine must answer it and the source named. Each row
//! is imported through the API (local server, embedded store and DynamoDB Local) and every figure
//! compared; a failure names the row. The rule data is read here for one thing only: the document
//! codes a jurisdiction requires, so that each transaction carries them.

#[macro_use]
mod support;

use std::collections::BTreeMap;
use std::net::SocketAddr;

use coverdesk::import::rules::{rules, Period};
use serde_json::{json, Value};
use support::api::{TestApi, Transport};

const TABLE: &str = include_str!("data/published-figures.csv");

/// The charges compared, in the table's order.
const FIGURES: [&str; 5] = ["sl_tax", "stamping_fee", "sl_service_charge", "fm_tax", "empa_tax"];

/// One row of the table.
#[derive(Debug)]
struct Row {
    /// `line N (id)`: what a failure names.
    name: String,
    state: String,
    date: String,
    kind: String,
    line: String,
    /// premium, agency_fee, inspection_fee, collection_fee
    money: [String; 4],
    status: u64,
    figures: [String; 5],
    verified: bool,
    /// The period the row is about: `<field> <first day>`, or `-` for a refusal.
    period: String,
}

/// The fields of one CSV record (RFC 4180: quoted fields, `""` inside quotes).
fn fields(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    assert!(!quoted, "an unclosed quote in: {line}");
    out.push(cur);
    out
}

const COLUMNS: [&str; 21] = [
    "id",
    "state",
    "policy_effective_date",
    "transaction_type",
    "line_of_business",
    "premium",
    "agency_fee",
    "inspection_fee",
    "collection_fee",
    "status",
    "sl_tax",
    "stamping_fee",
    "sl_service_charge",
    "fm_tax",
    "empa_tax",
    "verified",
    "period",
    "working",
    "source",
    "source_reread",
    "note",
];

fn table() -> Vec<Row> {
    let mut lines = TABLE.lines().enumerate().filter(|(_, l)| !l.trim().is_empty());
    let (_, header) = lines.next().unwrap();
    assert_eq!(fields(header), COLUMNS, "the table's header");
    lines
        .map(|(n, l)| {
            let f = fields(l);
            let name = format!("line {} ({})", n + 1, f[0]);
            assert_eq!(f.len(), COLUMNS.len(), "{name}: {} fields", f.len());
            assert!(!f[18].trim().is_empty(), "{name}: every row names its source");
            assert!(matches!(f[19].as_str(), "yes" | "no"), "{name}: source_reread is yes or no");
            let verified = match f[15].as_str() {
                "true" => true,
                "false" => false,
                v => panic!("{name}: verified {v:?}"),
            };
            if !verified || f[19] == "no" {
                assert!(
                    !f[20].trim().is_empty(),
                    "{name}: an unverified row, or one whose source was not re-read, says why"
                );
            }
            Row {
                state: f[1].clone(),
                date: f[2].clone(),
                kind: f[3].clone(),
                line: f[4].clone(),
                money: [f[5].clone(), f[6].clone(), f[7].clone(), f[8].clone()],
                status: f[9].parse().unwrap_or_else(|_| panic!("{name}: status {:?}", f[9])),
                figures: [f[10].clone(), f[11].clone(), f[12].clone(), f[13].clone(), f[14].clone()],
                verified,
                period: f[16].clone(),
                name,
            }
        })
        .collect()
}

fn dec(s: &str) -> rust_decimal::Decimal {
    rust_decimal::Decimal::from_str_exact(s).unwrap_or_else(|e| panic!("{s:?}: {e}"))
}

/// The row as a transaction: its figures as the ones provided (so a disagreement also warns), and
/// every document its jurisdiction requires for its type.
fn transaction(row: &Row, docs: SocketAddr) -> Value {
    let documents: Vec<Value> = rules()
        .jurisdictions
        .get(&row.state)
        .map(|j| {
            j.documents
                .iter()
                .filter(|d| d.transaction_types.iter().any(|t| t.code() == row.kind))
                .map(|d| json!({"code": d.code, "url": format!("http://{docs}/doc/{}", d.code)}))
                .collect()
        })
        .unwrap_or_default();
    let total: rust_decimal::Decimal =
        row.money.iter().chain(&row.figures).map(|s| dec(if s.is_empty() { "0" } else { s })).sum();
    let or_zero = |s: &String| if s.is_empty() { "0".to_string() } else { s.clone() };
    let mut v = json!({
        "id": support::unique(&format!("pub-{}", row.state)),
        "policy_number": format!("PUB-{}-{}", row.state, row.date),
        "policy_effective_date": row.date,
        "transaction_effective_date": row.date,
        "invoice_date": row.date,
        "transaction_type": row.kind,
        "transaction_line_of_business": row.line,
        "account_written_as": "B",
        "rpg": 0, "ecp": 0, "exempt": 0, "export_list": 0, "multi_state": 0,
        "commission_received": 0,
        "premium": row.money[0], "agency_fee": row.money[1], "inspection_fee": row.money[2],
        "collection_fee": row.money[3],
        "sl_tax": or_zero(&row.figures[0]), "stamping_fee": or_zero(&row.figures[1]),
        "sl_service_charge": or_zero(&row.figures[2]), "fm_tax": or_zero(&row.figures[3]),
        "empa_tax": or_zero(&row.figures[4]), "municipal_fee": "0",
        "total": total.to_string(),
        "non_admitted_insured_name": "Published Figures Ltd",
        "purchasing_group_name": "",
        "risk_description": "A risk at the published figures",
        "mailing_insured_name": "Published Figures Ltd",
        "mailing_address": "1 Source Street", "mailing_city": "Capital", "mailing_zip_code": "00000",
        "mailing_state_code": row.state,
        "physical_same_as_mailing": 1,
        "transaction_documents": documents,
    });
    if row.kind == "PR" {
        v["expiring_policy_number"] = json!(format!("PUB-{}-EXPIRING", row.state));
    }
    v
}

async fn every_period_of_every_jurisdiction_at_its_sources_figures(t: Transport) {
    let rows = table();
    // Every jurisdiction has a row (GU's says that no rule is known).
    for code in coverdesk::import::rules::JURISDICTIONS {
        assert!(rows.iter().any(|r| r.state == *code), "no row for {code}");
    }
    // Every period of the rule data has its row, dated inside it, and every row names a period
    // (or `-`, a refusal): a period added without its figures fails here. The rule data's dates
    // are read for this, never its figures. Two charges of one field may start on one day (MI's
    // tax and regulatory fee): such a period is named by as many rows as there are periods.
    let mut periods: BTreeMap<(String, String), Vec<&Period>> = BTreeMap::new();
    for (code, j) in &rules().jurisdictions {
        for fee in &j.fees {
            for p in &fee.periods {
                periods.entry((code.clone(), format!("{} {}", fee.field.name(), p.from))).or_default().push(p);
            }
        }
    }
    for ((code, period), ps) in &periods {
        let named: Vec<&Row> = rows.iter().filter(|r| r.state == *code && r.period == *period).collect();
        assert_eq!(named.len(), ps.len(), "{code} {period}: {} rows name it", named.len());
        for row in named {
            let date = chrono::NaiveDate::parse_from_str(&row.date, "%Y-%m-%d").unwrap();
            assert!(ps.iter().any(|p| p.covers(date)), "{}: {} is outside {code} {period}", row.name, row.date);
        }
    }
    for row in &rows {
        let key = (row.state.clone(), row.period.clone());
        assert!(row.period == "-" || periods.contains_key(&key), "{}: no period {}", row.name, row.period);
        assert!((row.period == "-") == (row.status != 0), "{}: a refusal names no period", row.name);
    }
    let api = TestApi::new(t).await;
    let docs = support::pdf_server().await;
    let batch: Vec<Value> = rows.iter().map(|r| transaction(r, docs)).collect();
    let r = api.post("/import/v1/transactions?mode=sync", json!(batch)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let got = r.body["transactions"].as_array().unwrap();
    assert_eq!(got.len(), rows.len());
    let mut failures = Vec::new();
    for (row, g) in rows.iter().zip(got) {
        if g["status"].as_u64() != Some(row.status) {
            failures.push(format!("{}: status {} (expected {}): {g}", row.name, g["status"], row.status));
            continue;
        }
        if row.status != 0 {
            continue;
        }
        let calc = &g["calculated"];
        for (field, want) in FIGURES.iter().zip(&row.figures) {
            // `empa_tax` is shown only where there is one.
            let seen = calc[field].as_str().unwrap_or("0.00");
            let want = if want.is_empty() { "0.00" } else { want };
            if dec(seen) != dec(want) {
                failures.push(format!("{}: {field} {seen} (expected {want})", row.name));
            }
        }
        if calc["verified"].as_bool() != Some(row.verified) {
            failures.push(format!("{}: verified {} (expected {})", row.name, calc["verified"], row.verified));
        }
        if let Some(w) = g.get("warnings") {
            failures.push(format!("{}: warnings {w}", row.name));
        }
    }
    assert!(failures.is_empty(), "{} differences in {} rows:\n{}", failures.len(), rows.len(), failures.join("\n"));
}

both_stores!(every_period_of_every_jurisdiction_at_its_sources_figures);
