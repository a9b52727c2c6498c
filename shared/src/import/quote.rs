//! The tax calculator (`POST /import/v1/tax-calculations`): a quote, or up to 100, taxed before
//! the fact by the import's own rules and engine ([`super::transaction::rules_for`],
//! [`super::rules::Jurisdiction::charges`]), so a quote and the transaction it becomes get the
//! same figures. Each quote is answered on its own: every charge with its base, rate, rounding,
//! source and whether a source confirms it, the total, and the documents its state requires; a
//! quote that cannot be taxed gets the seed's status and message (1002, 1003, 1004, 1005, 2001)
//! in its place.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde_json::value::RawValue;
use serde_json::{json, Value};

use super::filing::Txn;
use super::filing::{a_year_after, filing_rules, lines};
use super::model::{money, Filing, Transaction, TxnType};
use super::transaction::{rejected, required_state, rules_for, type_and_line, Rejected, RULES};
use super::ImportError;
use crate::fields::{optional, required, Known, Raw, Read, Report};

/// Quotes one request may carry.
pub const MAX_QUOTES: usize = 100;

/// A quote's fields: where and when, what kind of transaction, its lines, its premium and every
/// fee the import accepts, and the flags that decide its documents.
const KNOWN: &[&str] = &[
    "id",
    "state",
    "policy_effective_date",
    "transaction_type",
    "transaction_line_of_business",
    "line_of_business_list",
    "premium",
    "agency_fee",
    "inspection_fee",
    "collection_fee",
    "municipal_fee",
    "rpg",
    "ecp",
    "exempt",
    "export_list",
];
static KNOWN_FIELDS: std::sync::LazyLock<Known> = std::sync::LazyLock::new(|| Known::new(KNOWN));

/// Answers a request: one quote (an object) or up to 100 (an array), `{quotes: [...]}` in order.
/// A body that is neither is refused whole (400); a bad quote is answered in its place.
pub fn calculate(body: &[u8]) -> Result<Value, ImportError> {
    let text = std::str::from_utf8(body).map_err(|_| ImportError::InvalidInput("the body is not UTF-8".into()))?;
    crate::json::check(body).map_err(ImportError::InvalidInput)?;
    let shape =
        || ImportError::InvalidInput(format!("the body must be a quote or an array of 1 to {MAX_QUOTES} quotes"));
    let quotes: Vec<&RawValue> = match text.trim_start().as_bytes().first() {
        Some(b'[') => serde_json::from_str(text).map_err(|_| shape())?,
        Some(b'{') => vec![serde_json::from_str(text).map_err(|_| shape())?],
        _ => return Err(shape()),
    };
    if quotes.is_empty() || quotes.len() > MAX_QUOTES {
        return Err(shape());
    }
    Ok(json!({"quotes": quotes.into_iter().map(answer).collect::<Vec<_>>()}))
}

/// One quote's answer.
fn answer(raw: &RawValue) -> Value {
    let report = Report::new(RULES);
    let mut id = None;
    let read = (|| -> Read<Transaction> {
        let Some(mut o) = report.open("", Raw::from(raw))? else {
            return report.refuse("", RULES.code, "not an object");
        };
        id = o.peek_text("id", 255);
        quote(&mut o)
    })();
    let t = match report.finish(read) {
        Ok(t) => t,
        Err(problems) => return refused(id, problems.first().map(rejected)),
    };
    let r = match rules_for(&t) {
        Ok(r) => r,
        Err(e) => return refused(id, Some(e)),
    };
    let lines = r.charges(&t);
    let charges: Vec<Value> = lines
        .iter()
        .map(|line| {
            let mut v = line.period.view(line.fee.field, &line.fee.name);
            if let super::rules::Charge::Percent { base, .. } = line.period.charge {
                v["base_amount"] = json!(money(base.of(&t)));
                v["share"] = json!((line.share / Decimal::ONE_HUNDRED).normalize().to_string());
            }
            v["amount"] = json!(money(line.amount));
            // Whether a source confirms this figure for this quote (its period's, and its base's
            // when the quote carries fees).
            v["verified"] = json!(line.verified);
            v
        })
        .collect();
    let documents: Vec<Value> = r
        .required_documents(&t)
        .map(|d| json!({"code": d.code, "name": d.name, "source": d.source, "verified": d.verified}))
        .collect();
    json!({
        "id": id,
        "status": super::model::status::OK,
        "status_message": "Success",
        "state": r.code,
        "department": r.department,
        "policy_effective_date": t.policy_effective_date,
        "transaction_type": t.transaction_type.code(),
        "transaction_line_of_business": t.transaction_line_of_business.to_string(),
        "charges": charges,
        "calculated": super::rules::Jurisdiction::sum(&t, &lines).view(),
        "documents": documents,
    })
}

fn refused(id: Option<String>, e: Option<Rejected>) -> Value {
    let e = e.unwrap_or(Rejected {
        status: super::model::status::INVALID_FIELD,
        message: "Error: the quote could not be read.".into(),
    });
    json!({"id": id, "status": e.status, "status_message": e.message})
}

/// Reads a quote as the transaction it would be: the import's readers and rules for each field
/// it has; the rest as a new policy with nothing sent (no figures, no documents).
fn quote(o: &mut Txn) -> Read<Transaction> {
    o.string("id", optional(), 255)?;
    let (transaction_type, line) = type_and_line(o, Some(TxnType::PN))?;
    o.only(&KNOWN_FIELDS)?;
    let state = required_state(o, "state")?;
    let date: NaiveDate = o.day("policy_effective_date", required())?.unwrap_or_default();
    let amount = |o: &mut Txn, f: &str| -> Read<Decimal> { Ok(o.decimal(f, optional(), 10, 2)?.unwrap_or_default()) };
    let premium = o.decimal("premium", required(), 10, 2)?.unwrap_or_default();
    let mut t = Transaction {
        id: String::new(),
        policy_number: String::new(),
        policy_effective_date: date,
        policy_expiration_date: a_year_after(date),
        transaction_effective_date: date,
        transaction_type,
        account_written_as: "B".into(),
        rpg: o.flag("rpg", optional())?.unwrap_or(false),
        premium,
        agency_fee: amount(o, "agency_fee")?,
        inspection_fee: amount(o, "inspection_fee")?,
        collection_fee: amount(o, "collection_fee")?,
        sl_tax: Decimal::ZERO,
        stamping_fee: Decimal::ZERO,
        sl_service_charge: Decimal::ZERO,
        municipal_fee: amount(o, "municipal_fee")?,
        fm_tax: Decimal::ZERO,
        empa_tax: Decimal::ZERO,
        total: Decimal::ZERO,
        commission_received: None,
        non_admitted_insured_name: String::new(),
        invoice_date: date,
        purchasing_group_name: None,
        ecp: o.flag("ecp", optional())?.unwrap_or(false),
        risk_description: None,
        mailing_insured_name: String::new(),
        mailing_address: String::new(),
        mailing_address2: None,
        mailing_city: String::new(),
        mailing_zip_code: String::new(),
        mailing_state_code: state,
        physical_same_as_mailing: true,
        physical_address: None,
        physical_address2: None,
        physical_city: None,
        physical_zip_code: None,
        physical_state_code: None,
        transaction_line_of_business: line,
        line_of_business_list: lines(o)?,
        exempt: o.flag("exempt", optional())?,
        export_list: o.flag("export_list", optional())?,
        multi_state: None,
        transaction_documents: vec![],
        filing: Filing::default(),
    };
    filing_rules(o, &mut t)?;
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(q: Value) -> Value {
        calculate(q.to_string().as_bytes()).unwrap()["quotes"][0].clone()
    }

    #[test]
    fn a_quote_gets_every_charge_with_its_terms_and_the_documents() {
        let a =
            one(json!({"state": "CA", "policy_effective_date": "2017-02-01", "transaction_line_of_business": "1001",
                           "premium": 3900.00, "agency_fee": 200}));
        assert_eq!(a["status"], 0, "{a}");
        assert_eq!(a["calculated"]["sl_tax"], "117.00");
        assert_eq!(a["calculated"]["stamping_fee"], "7.80");
        assert_eq!(a["calculated"]["total"], "4224.80");
        let tax = &a["charges"][0];
        assert_eq!(
            (tax["field"].as_str(), tax["rate"].as_str(), tax["base"].as_str()),
            (Some("sl_tax"), Some("0.03"), Some("premium_and_insurer_fees"))
        );
        assert_eq!(tax["base_amount"], "3900.00");
        assert!(tax["source"].as_str().unwrap().len() > 10 && tax["verified"] == true, "{tax}");
        let codes: Vec<&str> = a["documents"].as_array().unwrap().iter().map(|d| d["code"].as_str().unwrap()).collect();
        assert_eq!(codes, ["POLIC", "D1DISC"]);
    }

    #[test]
    fn a_quote_that_cannot_be_taxed_gets_the_seeds_status_in_its_place() {
        let r = calculate(json!([
            {"state": "ZZ", "policy_effective_date": "2020-01-01", "transaction_line_of_business": "1001", "premium": 1},
            {"state": "CA", "policy_effective_date": "2008-01-01", "transaction_line_of_business": "1001", "premium": 1},
            {"state": "CA", "policy_effective_date": "2020-01-01", "transaction_line_of_business": "1099", "premium": 1},
            {"state": "CA", "policy_effective_date": "2020-01-01", "transaction_type": "XX", "transaction_line_of_business": "1001", "premium": 1},
            {"id": "q5", "state": "CA", "policy_effective_date": "2020-01-01", "transaction_line_of_business": "1001", "premium": "x"},
            {"state": "CA", "policy_effective_date": "2020-01-01", "transaction_line_of_business": "1001", "premium": 1, "total": 1},
            {"state": "CA", "policy_effective_date": "2020-01-01", "transaction_line_of_business": "1001", "premium": 1}
        ]).to_string().as_bytes()).unwrap();
        let statuses: Vec<u64> =
            r["quotes"].as_array().unwrap().iter().map(|q| q["status"].as_u64().unwrap()).collect();
        assert_eq!(statuses, [1004, 1005, 1003, 1002, 2001, 2001, 0]);
        assert_eq!(r["quotes"][4]["id"], "q5");
        assert!(r["quotes"][4]["status_message"].as_str().unwrap().contains("'premium'"));
        assert!(r["quotes"][5]["status_message"].as_str().unwrap().contains("'total'"));
    }

    #[test]
    fn a_body_that_is_no_quote_is_refused_whole() {
        for bad in ["", "1", "[]", "\"x\"", "{", "[1,"] {
            assert!(calculate(bad.as_bytes()).is_err(), "{bad}");
        }
        let many = Value::Array(vec![json!({}); MAX_QUOTES + 1]).to_string();
        assert!(calculate(many.as_bytes()).is_err());
    }
}
