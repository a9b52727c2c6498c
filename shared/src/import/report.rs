//! What a team owes each jurisdiction for a period (issue 20): every imported transaction is its
//! own report line, its record listed under the month of the date its office files it by (the
//! jurisdiction's `[filing] date`, our choice where no source says; `import::repo` keeps the
//! listing), and the report sums the lines of a period by
//! jurisdiction and charge -- premium, fees, each charge, counts, and the figures no source
//! confirms counted apart -- with each office's filing and payment terms as its source gives them.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::model::{money, Calculated, Field, TxnRecord, TxnType};
use super::rules::{jurisdiction, FilingTerms};
use crate::types::StateCode;

/// One imported transaction as the report counts it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportLine {
    pub id: String,
    pub state: StateCode,
    /// The date the jurisdiction's office files it by.
    pub date: NaiveDate,
    pub transaction_type: TxnType,
    #[serde(with = "rust_decimal::serde::str")]
    pub premium: Decimal,
    /// Agency, inspection, collection and municipal fees as sent.
    #[serde(with = "rust_decimal::serde::str")]
    pub fees: Decimal,
    pub calculated: Calculated,
}

impl ReportLine {
    /// The line of an imported record (none for a record that keeps no transaction: those
    /// imported before reports existed, and refused attempts).
    pub fn of(rec: &TxnRecord) -> Option<ReportLine> {
        let t = rec.transaction.as_ref()?;
        let calculated = rec.calculated.clone()?;
        let state = t.home_state();
        let date = jurisdiction(state.as_str()).map(|j| j.filing.date).unwrap_or_default().of(t);
        Some(ReportLine {
            id: rec.id.clone(),
            state,
            date,
            transaction_type: t.transaction_type,
            premium: t.premium,
            fees: t.agency_fee + t.inspection_fee + t.collection_fee + t.municipal_fee,
            calculated,
        })
    }

    /// The month the line is kept under (`yyyy-mm`).
    pub fn month(&self) -> String {
        month_of(self.date)
    }
}

pub fn month_of(d: NaiveDate) -> String {
    format!("{:04}-{:02}", d.year(), d.month())
}

/// The months from `from` to `to`, each `yyyy-mm`.
pub fn months(from: NaiveDate, to: NaiveDate) -> Vec<String> {
    let mut out = Vec::new();
    let mut d = from.with_day(1).unwrap_or(from);
    while d <= to {
        out.push(month_of(d));
        d = d.checked_add_months(chrono::Months::new(1)).unwrap_or(to + chrono::Days::new(1));
    }
    out
}

/// A period's report.
#[derive(Debug, Clone, PartialEq)]
pub struct TaxReport {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub states: BTreeMap<String, StateTotals>,
}

/// One jurisdiction's totals for the period.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StateTotals {
    pub transactions: u64,
    pub premium: Decimal,
    pub fees: Decimal,
    /// Each charge: its amount, and the part of it (and the transactions) whose figures are not
    /// verified.
    pub charges: BTreeMap<Field, ChargeTotals>,
    pub unverified_transactions: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ChargeTotals {
    pub amount: Decimal,
    pub transactions: u64,
    pub unverified_amount: Decimal,
}

impl TaxReport {
    /// Sums the lines dated `from..=to` (and of `state`, when given).
    pub fn of(from: NaiveDate, to: NaiveDate, state: Option<StateCode>, lines: &[ReportLine]) -> TaxReport {
        let mut states: BTreeMap<String, StateTotals> = BTreeMap::new();
        for l in lines.iter().filter(|l| from <= l.date && l.date <= to && state.is_none_or(|s| s == l.state)) {
            let s = states.entry(l.state.to_string()).or_default();
            s.transactions += 1;
            s.premium += l.premium;
            s.fees += l.fees;
            if !l.calculated.verified {
                s.unverified_transactions += 1;
            }
            for f in Field::ALL {
                let v = l.calculated.get(f);
                if v.is_zero() {
                    continue;
                }
                let c = s.charges.entry(f).or_default();
                c.amount += v;
                c.transactions += 1;
                if !l.calculated.verified {
                    c.unverified_amount += v;
                }
            }
        }
        TaxReport { from, to, states }
    }

    /// The report as JSON: per jurisdiction its totals and its office's terms.
    pub fn view(&self) -> Value {
        let states: Vec<Value> = self
            .states
            .iter()
            .map(|(code, s)| {
                let terms = jurisdiction(code).map(|j| (j.name.clone(), j.department.clone(), j.filing.clone()));
                let (name, department, filing) = terms.unwrap_or_default();
                let charges: Vec<Value> = s
                    .charges
                    .iter()
                    .map(|(f, c)| {
                        json!({"field": f.name(), "amount": money(c.amount), "transactions": c.transactions,
                               "unverified_amount": money(c.unverified_amount)})
                    })
                    .collect();
                let owed: Decimal = s.charges.values().map(|c| c.amount).sum();
                json!({
                    "state": code, "name": name, "department": department,
                    "transactions": s.transactions, "unverified_transactions": s.unverified_transactions,
                    "premium": money(s.premium), "fees": money(s.fees),
                    "charges": charges, "owed": money(owed),
                    "filing": terms_view(&filing),
                })
            })
            .collect();
        json!({"from": self.from, "to": self.to, "jurisdictions": states})
    }

    /// The report as CSV: one row per jurisdiction and charge (a jurisdiction with no charge
    /// gets one row with an empty charge).
    pub fn csv(&self) -> String {
        let mut out = String::from(
            "state,charge,amount,unverified_amount,charge_transactions,transactions,unverified_transactions,premium,fees,reported_by,reported_by_source,filing_due,payment_due\n",
        );
        for (code, s) in &self.states {
            let filing = jurisdiction(code).map(|j| j.filing.clone()).unwrap_or_default();
            let tail = [
                s.transactions.to_string(),
                s.unverified_transactions.to_string(),
                money(s.premium),
                money(s.fees),
                filing.date.name().to_string(),
                filing.source.clone().unwrap_or_else(|| UNSOURCED_DATE.into()),
                filing.filing_due.clone().unwrap_or_else(|| UNKNOWN_DUE.into()),
                filing.payment_due.clone().unwrap_or_else(|| UNKNOWN_DUE.into()),
            ];
            let rows: Vec<[String; 4]> = if s.charges.is_empty() {
                vec![[String::new(), money(Decimal::ZERO), money(Decimal::ZERO), "0".into()]]
            } else {
                s.charges
                    .iter()
                    .map(|(f, c)| {
                        [f.name().into(), money(c.amount), money(c.unverified_amount), c.transactions.to_string()]
                    })
                    .collect()
            };
            for r in rows {
                let cells: Vec<String> =
                    [code.clone()].into_iter().chain(r).chain(tail.iter().cloned()).map(|c| csv_cell(&c)).collect();
                out.push_str(&cells.join(","));
                out.push('\n');
            }
        }
        out
    }
}

const UNSOURCED_DATE: &str = "our choice: no source read says which date this office files by";
const UNKNOWN_DUE: &str = "unknown: no source read";

fn terms_view(f: &FilingTerms) -> Value {
    json!({
        "reported_by": f.date.name(),
        "reported_by_source": f.source.as_deref().unwrap_or(UNSOURCED_DATE),
        "filing_due": f.filing_due.as_deref().unwrap_or(UNKNOWN_DUE),
        "payment_due": f.payment_due.as_deref().unwrap_or(UNKNOWN_DUE),
    })
}

/// A CSV cell (RFC 4180): quoted when it holds a comma, a quote or a line break; a cell that a
/// spreadsheet would run as a formula (`=`, `+`, `-`, `@` first) is prefixed with `'`.
fn csv_cell(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '@']) || (s.starts_with('-') && s.parse::<Decimal>().is_err()) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}
