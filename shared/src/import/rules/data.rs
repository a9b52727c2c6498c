//! The rule files' format (`shared/data/tax-rules/README.md`): read into the model with every
//! problem named by file and place, and checked beyond the format (periods contiguous, sourced,
//! in range; the checks are in check.rs).

use std::collections::BTreeMap;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Deserialize;

use super::{Base, Charge, Fee, Field, FilingTerms, Jurisdiction, Period, ReportDate, Rounding, Rules, StateDocument};
use crate::import::transaction::{TxnType, LINES};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileData {
    code: String,
    name: String,
    department: String,
    department_source: String,
    notes: Option<String>,
    #[serde(default)]
    commission_rule: bool,
    #[serde(default)]
    utah_flags: bool,
    #[serde(default)]
    municipal_fee: bool,
    common_documents: Option<bool>,
    filing: Option<FilingData>,
    #[serde(default)]
    fee: Vec<FeeData>,
    #[serde(default)]
    document: Vec<DocumentData>,
}

/// How the office files: the date a transaction is reported by, and when a period's filing and
/// payment are due, each with its source.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FilingData {
    date: ReportDate,
    date_source: String,
    filing_due: Option<String>,
    payment_due: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FeeData {
    field: Field,
    name: String,
    period: Vec<PeriodData>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PeriodData {
    effective_from: toml::value::Datetime,
    effective_to: Option<toml::value::Datetime>,
    percent: Option<String>,
    amount: Option<String>,
    base: Option<Base>,
    rounding: Rounding,
    #[serde(default)]
    transaction_types: Vec<String>,
    #[serde(default)]
    lines_excluded: Vec<String>,
    line_shares: Option<BTreeMap<String, String>>,
    returned_by: Option<Vec<String>>,
    source: String,
    verified: bool,
    unknown: Option<String>,
    base_unknown: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DocumentData {
    code: String,
    name: String,
    transaction_types: Vec<String>,
    #[serde(default)]
    rpg_only: bool,
    #[serde(default)]
    waived_for_ecp: bool,
    #[serde(default)]
    waived_if_exempt: bool,
    #[serde(default)]
    waived_if_export_list: bool,
    source: String,
    verified: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DefaultsData {
    document: Vec<DocumentData>,
}

/// Collects problems while converting one file.
struct Reader<'a> {
    file: &'a str,
    problems: Vec<String>,
}

impl Reader<'_> {
    fn problem(&mut self, at: &str, what: impl std::fmt::Display) {
        self.problems.push(format!("{}: {at}: {what}", self.file));
    }

    fn date(&mut self, at: &str, d: &toml::value::Datetime) -> Option<NaiveDate> {
        match (d.date, d.time, d.offset) {
            (Some(x), None, None) => NaiveDate::from_ymd_opt(x.year.into(), x.month.into(), x.day.into()),
            _ => {
                self.problem(at, "must be a date yyyy-mm-dd");
                None
            }
        }
    }

    fn decimal(&mut self, at: &str, s: &str) -> Option<Decimal> {
        match Decimal::from_str_exact(s) {
            Ok(d) => Some(d),
            Err(_) => {
                self.problem(at, format!("{s:?} is not a decimal"));
                None
            }
        }
    }

    fn types(&mut self, at: &str, codes: &[String]) -> Vec<TxnType> {
        codes
            .iter()
            .filter_map(|c| {
                let t = TxnType::parse(c);
                if t.is_none() {
                    self.problem(at, format!("{c:?} is not a transaction type"));
                }
                t
            })
            .collect()
    }

    fn line(&mut self, at: &str, s: &str) -> Option<u16> {
        let l = s.parse::<u16>().ok().filter(|n| LINES.iter().any(|(c, _)| c == n));
        if l.is_none() {
            self.problem(at, format!("{s:?} is not a line of business (1001-1022)"));
        }
        l
    }

    fn period(&mut self, at: &str, p: PeriodData) -> Option<Period> {
        let from = self.date(&format!("{at}.effective_from"), &p.effective_from);
        let to = p.effective_to.as_ref().map(|d| self.date(&format!("{at}.effective_to"), d));
        let charge = match (&p.percent, &p.amount, p.base) {
            (Some(pc), None, Some(base)) => {
                self.decimal(&format!("{at}.percent"), pc).map(|percent| Charge::Percent { percent, base })
            }
            (Some(_), None, None) => {
                self.problem(at, "a percent needs a base");
                None
            }
            (None, Some(a), None) => self.decimal(&format!("{at}.amount"), a).map(Charge::Amount),
            (None, Some(_), Some(_)) => {
                self.problem(at, "a flat amount has no base");
                None
            }
            _ => {
                self.problem(at, "needs exactly one of percent and amount");
                None
            }
        };
        let transaction_types = self.types(&format!("{at}.transaction_types"), &p.transaction_types);
        let returned_by = p.returned_by.as_ref().map(|t| self.types(&format!("{at}.returned_by"), t));
        let lines_excluded =
            p.lines_excluded.iter().filter_map(|l| self.line(&format!("{at}.lines_excluded"), l)).collect();
        let line_shares = p.line_shares.as_ref().map(|m| {
            m.iter()
                .filter_map(|(l, v)| {
                    let at = format!("{at}.line_shares.{l}");
                    Some((self.line(&at, l)?, self.decimal(&at, v)?))
                })
                .collect()
        });
        Some(Period {
            from: from?,
            to: match to {
                None => None,
                Some(d) => Some(d?),
            },
            charge: charge?,
            rounding: p.rounding,
            transaction_types,
            lines_excluded,
            line_shares,
            returned_by,
            source: p.source,
            verified: p.verified,
            unknown: p.unknown,
            base_unknown: p.base_unknown,
        })
    }

    fn document(&mut self, at: &str, d: DocumentData) -> StateDocument {
        StateDocument {
            transaction_types: self.types(&format!("{at}.transaction_types"), &d.transaction_types),
            code: d.code,
            name: d.name,
            rpg_only: d.rpg_only,
            waived_for_ecp: d.waived_for_ecp,
            waived_if_exempt: d.waived_if_exempt,
            waived_if_export_list: d.waived_if_export_list,
            source: d.source,
            verified: d.verified,
        }
    }

    /// One jurisdiction's file; `None` when it does not parse (the problem is kept).
    fn jurisdiction(&mut self, code: &str, text: &str, common: &[StateDocument]) -> Option<Jurisdiction> {
        let data = match toml::from_str::<FileData>(text) {
            Ok(d) => d,
            Err(e) => {
                let at = e.span().map(|s| format!("line {}", text[..s.start].lines().count().max(1)));
                self.problem(at.as_deref().unwrap_or("file"), e.message());
                return None;
            }
        };
        if data.code != *code {
            self.problem("code", format!("{:?} is not the file's code", data.code));
        }
        let mut fees = Vec::new();
        for (i, f) in data.fee.into_iter().enumerate() {
            let periods: Vec<Period> = f
                .period
                .into_iter()
                .enumerate()
                .filter_map(|(j, p)| self.period(&format!("fee[{i}] ({}).period[{j}]", f.name), p))
                .collect();
            fees.push(Fee { field: f.field, name: f.name, periods });
        }
        let mut documents = if data.common_documents.unwrap_or(true) { common.to_vec() } else { vec![] };
        for (i, d) in data.document.into_iter().enumerate() {
            documents.push(self.document(&format!("document[{i}]"), d));
        }
        Some(Jurisdiction {
            code: data.code,
            name: data.name,
            department: data.department,
            department_source: data.department_source,
            notes: data.notes,
            commission_rule: data.commission_rule,
            utah_flags: data.utah_flags,
            municipal_fee: data.municipal_fee,
            filing: match data.filing {
                Some(f) => FilingTerms {
                    date: f.date,
                    source: Some(f.date_source),
                    filing_due: f.filing_due,
                    payment_due: f.payment_due,
                },
                None => FilingTerms::default(),
            },
            fees,
            documents,
        })
    }
}

impl Rules {
    /// Parses every file; on failure, every problem found, each naming its file and place.
    pub fn parse(files: &[(&str, &str)], defaults: &str) -> Result<Rules, Vec<String>> {
        let (common, mut problems) = common_documents(defaults);
        let mut jurisdictions = BTreeMap::new();
        for (code, text) in files {
            let file = format!("{code}.toml");
            let mut r = Reader { file: &file, problems: vec![] };
            let read = r.jurisdiction(code, text, &common);
            problems.append(&mut r.problems);
            if let Some(j) = read {
                jurisdictions.insert(code.to_string(), j);
            }
        }
        if problems.is_empty() {
            Ok(Rules { jurisdictions })
        } else {
            Err(problems)
        }
    }

    /// One jurisdiction's file read alone, with the common documents (what an import or a rules
    /// request needs: the other 53 files are not read).
    pub fn parse_one((code, text): (&str, &str), defaults: &str) -> Result<Jurisdiction, Vec<String>> {
        let (common, mut problems) = common_documents(defaults);
        let file = format!("{code}.toml");
        let mut r = Reader { file: &file, problems: vec![] };
        let read = r.jurisdiction(code, text, &common);
        problems.append(&mut r.problems);
        match read {
            Some(j) if problems.is_empty() => Ok(j),
            _ => Err(problems),
        }
    }
}

/// The documents of `defaults.toml`, and the problems found reading them.
fn common_documents(defaults: &str) -> (Vec<StateDocument>, Vec<String>) {
    let mut r = Reader { file: "defaults.toml", problems: vec![] };
    let common: Vec<StateDocument> = match toml::from_str::<DefaultsData>(defaults) {
        Ok(d) => d.document.into_iter().enumerate().map(|(i, x)| r.document(&format!("document[{i}]"), x)).collect(),
        Err(e) => {
            r.problem("file", e.message());
            vec![]
        }
    };
    (common, r.problems)
}
