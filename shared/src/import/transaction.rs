//! Why one file of ~510 lines: the seed's field list, the reading and the rule checks of one
//! transaction belong together; about 130 lines are unit tests.
//!
//! One surplus-lines transaction of seed 002: read field by field from the raw JSON (amounts from
//! their exact text into `rust_decimal`, never through a float), checked against the seed's types
//! and limits and its conditional rules, then against the state's tax rules.

use rust_decimal::Decimal;
use serde_json::{json, Value};

use super::filing::{a_year_after, filing, filing_rules, filing_warnings, line_code, lines, Txn, LINE_OF_BUSINESS};
use super::model::{Calculated, Field};
use super::rules;
use crate::fields::{optional, required, Empty, Known, Mode, Problem, Raw, Read, Report, Rules, Want};
use crate::types::StateCode;

pub use super::model::{money, status, Cents, Document, Filing, LineCoverage, Share, Transaction, TxnType, LINES};

/// A transaction refused: its status code and message.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejected {
    pub status: u16,
    pub message: String,
}

fn invalid(field: &str, why: impl std::fmt::Display) -> Rejected {
    Rejected { status: status::INVALID_FIELD, message: format!("Error: invalid field '{field}': {why}.") }
}

/// Every field of seed 002 and of the filing service's documented transaction (its
/// single-transaction import page); anything else is refused.
const KNOWN: &[&str] = &[
    "policy_expiration_date",
    "expiring_policy_number",
    "invoice_number",
    "policy_type",
    "layered_risk",
    "broker_of_record",
    "risk_retention_group",
    "policy_limit",
    "property_limit",
    "line_of_business_list",
    "insurance_company_list",
    "syndicate_list",
    "collection_fee",
    "empa_tax",
    "insured_entity",
    "insured_email",
    "insured_phone",
    "insured_county",
    "agent_id",
    "agent_notes",
    "stamping_fee_invoice_id",
    "sl_tax_invoice_id",
    "business_group_id",
    "customer_code",
    "retail_producer_name",
    "retail_agency_name",
    "id",
    "policy_number",
    "policy_effective_date",
    "transaction_effective_date",
    "transaction_type",
    "account_written_as",
    "rpg",
    "premium",
    "agency_fee",
    "inspection_fee",
    "sl_tax",
    "stamping_fee",
    "sl_service_charge",
    "municipal_fee",
    "fm_tax",
    "total",
    "commission_received",
    "non_admitted_insured_name",
    "invoice_date",
    "purchasing_group_name",
    "ecp",
    "risk_description",
    "mailing_insured_name",
    "mailing_address",
    "mailing_address2",
    "mailing_city",
    "mailing_zip_code",
    "mailing_state_code",
    "physical_same_as_mailing",
    "physical_address",
    "physical_address2",
    "physical_city",
    "physical_zip_code",
    "physical_state_code",
    "transaction_line_of_business",
    "exempt",
    "export_list",
    "multi_state",
    "transaction_documents",
];
static KNOWN_FIELDS: std::sync::LazyLock<Known> = std::sync::LazyLock::new(|| Known::new(KNOWN));

/// What a refused transaction is answered with: its id and policy number as far as they read,
/// found again in its text only when it is refused ([`Labels::read`]).
#[derive(Debug, Clone, Copy)]
pub struct Labels<'a>(Raw<'a>);

impl Labels<'_> {
    /// The id (made from the text when none is sent, as [`read`] makes it) and the policy
    /// number, each as sent; both `None` when the transaction is no object.
    pub fn read(self) -> (Option<String>, Option<String>) {
        let report = Report::new(RULES);
        let Ok(Some(o)) = report.open("", self.0) else { return (None, None) };
        let id = o.peek_text("id", 255).filter(|id| !id.trim().is_empty()).unwrap_or_else(|| content_id(self.0));
        (Some(id), o.peek_text("policy_number", 255))
    }
}

/// How import reads: the first problem decides the transaction's status; `null` and blank are
/// "not given"; ids and codes may come as numbers (see [`crate::fields`]).
pub(super) const RULES: Rules =
    Rules { mode: Mode::First, empty: Empty::Absent, numbers_as_text: true, code: INVALID_FIELD };
const INVALID_FIELD: &str = "INVALID_FIELD";
const TRANSACTION_TYPE: &str = "TRANSACTION_TYPE";

/// A problem as the transaction's status and message.
pub(super) fn rejected(p: &Problem) -> Rejected {
    match p.code {
        TRANSACTION_TYPE => Rejected {
            status: status::TRANSACTION_TYPE,
            message: "Error: transaction type not found (one of PN, PR, APE, RPE, AE, FC, ZPE, BD, RW, EE, OS, PC)."
                .into(),
        },
        LINE_OF_BUSINESS => Rejected {
            status: status::LINE_OF_BUSINESS,
            message: "Error: transaction line of business is missing or invalid (1001-1022).".into(),
        },
        _ if p.path.is_empty() => {
            Rejected { status: status::INVALID_FIELD, message: "Error: a transaction must be a JSON object.".into() }
        }
        _ => invalid(&p.path, &p.message),
    }
}

/// Reads and checks one batch element. Statuses in this order: an unreadable `id` (2001), then
/// `transaction_type` (1002), `transaction_line_of_business` (1003), an unknown field, any other
/// malformed field or broken rule of the seed (2001).
pub fn read<'a>(raw: impl Into<Raw<'a>>) -> (Labels<'a>, Result<Transaction, Rejected>) {
    let raw = raw.into();
    let attempt = |unknown_first: bool| {
        let report = Report::new(RULES);
        let read = (|| -> Read<Transaction> {
            let Some(mut o) = report.open("", raw)? else { return report.refuse("", INVALID_FIELD, "not an object") };
            fields(&mut o, raw, unknown_first)
        })();
        report.finish(read)
    };
    // Most transactions read whole, and their names are then checked on the fields left unread
    // (usually none). One that does not is read again, unknown fields looked for first, so its
    // answer is the first problem in the order above.
    let result = attempt(false).or_else(|_| attempt(true)).map_err(|problems| match problems.first() {
        Some(p) => rejected(p),
        None => invalid("", "could not be read"),
    });
    (Labels(raw), result)
}

/// The id of a transaction sent without one (the filing service's newest example has none):
/// made from its exact text, so the same transaction sent again is a duplicate (3001), not a
/// second import.
fn content_id(raw: Raw) -> String {
    use sha2::{Digest, Sha256};
    format!("auto-{}", hex::encode(&Sha256::digest(raw.get().as_bytes())[..12]))
}

/// A transaction's type and line, the first checks of its reading (the import's and the tax
/// calculator's): a type none of ours is 1002 (and so is a missing one, unless `default`
/// stands in); a line that is none of seed 002's is 1003, and a missing one too unless a
/// `line_of_business_list` gives it (0 here, set from the list by `filing_rules`).
pub(super) fn type_and_line(o: &mut Txn, default: Option<TxnType>) -> Read<(TxnType, u16)> {
    let want_type = optional().code(TRANSACTION_TYPE);
    let sent = o.text("transaction_type", want_type, 10)?;
    let Some(transaction_type) = sent.as_deref().map_or(default, |s| TxnType::parse(&s.to_ascii_uppercase())) else {
        return o.refuse("transaction_type", want_type, "not found");
    };
    let want_line = optional().code(LINE_OF_BUSINESS);
    let from_list = o.peek("transaction_line_of_business").is_none() && o.has_items("line_of_business_list");
    let line = match o.text("transaction_line_of_business", want_line, 4)?.map(|s| line_code(&s)) {
        Some(Some(line)) => line,
        None if from_list => 0,
        _ => return o.refuse("transaction_line_of_business", want_line, "not found"),
    };
    Ok((transaction_type, line))
}

/// The fields in the order their problems are answered; an unknown field is answered after the
/// id, type and line and before everything else. `unknown_first`: names are checked there, else
/// (a reading that then finds no problem, see [`read`]) after everything.
fn fields(o: &mut Txn, raw: Raw, unknown_first: bool) -> Read<Transaction> {
    let id = o.string("id", optional(), 255)?.unwrap_or_else(|| content_id(raw));
    let (transaction_type, line) = type_and_line(o, None)?;
    if unknown_first {
        o.only(&KNOWN_FIELDS)?;
    }
    let account_written_as = o.text("account_written_as", required(), 2)?.unwrap_or_default().to_ascii_uppercase();
    if account_written_as != "B" && account_written_as != "DC" {
        o.problem("account_written_as", required(), "must be B (Brokerage) or DC (Direct Client)")?;
    }
    let mut t = body(o, id, transaction_type, line, account_written_as)?;
    seed_rules(o, &t)?;
    filing_rules(o, &mut t)?;
    o.only_unread(&KNOWN_FIELDS)?;
    Ok(t)
}

/// The rest of the fields, one a line, in the order their problems are reported.
fn body(
    o: &mut Txn,
    id: String,
    transaction_type: TxnType,
    line: u16,
    account_written_as: String,
) -> Read<Transaction> {
    let amount =
        |o: &mut Txn, f: &str, want: Want| -> Read<Decimal> { Ok(o.decimal(f, want, 10, 2)?.unwrap_or_default()) };
    let policy_number = o.string("policy_number", required(), 50)?.unwrap_or_default();
    // The filing service: "uses transaction date if empty".
    let policy_effective_date = o.day("policy_effective_date", optional())?;
    let policy_expiration_date = o.day("policy_expiration_date", optional())?;
    let transaction_effective_date = o.day("transaction_effective_date", required())?.unwrap_or_default();
    let policy_effective_date = policy_effective_date.unwrap_or(transaction_effective_date);
    Ok(Transaction {
        id,
        policy_number,
        policy_effective_date,
        policy_expiration_date: policy_expiration_date.unwrap_or_else(|| a_year_after(policy_effective_date)),
        transaction_effective_date,
        transaction_type,
        account_written_as,
        rpg: o.flag("rpg", optional())?.unwrap_or(false),
        premium: amount(o, "premium", required())?,
        agency_fee: amount(o, "agency_fee", optional())?,
        inspection_fee: amount(o, "inspection_fee", optional())?,
        collection_fee: amount(o, "collection_fee", optional())?,
        sl_tax: amount(o, "sl_tax", optional())?,
        stamping_fee: amount(o, "stamping_fee", optional())?,
        sl_service_charge: amount(o, "sl_service_charge", optional())?,
        municipal_fee: amount(o, "municipal_fee", optional())?,
        fm_tax: amount(o, "fm_tax", optional())?,
        empa_tax: amount(o, "empa_tax", optional())?,
        total: amount(o, "total", required())?,
        commission_received: o.flag("commission_received", optional())?,
        // Seed 002 requires it; the filing service's newest example has none.
        non_admitted_insured_name: o.string("non_admitted_insured_name", optional(), 255)?.unwrap_or_default(),
        invoice_date: o.day("invoice_date", required())?.unwrap_or_default(),
        purchasing_group_name: o.string("purchasing_group_name", optional(), 255)?,
        ecp: o.flag("ecp", optional())?.unwrap_or(false),
        risk_description: o.string("risk_description", optional(), 255)?,
        mailing_insured_name: o.string("mailing_insured_name", required(), 100)?.unwrap_or_default(),
        mailing_address: o.string("mailing_address", required(), 255)?.unwrap_or_default(),
        mailing_address2: o.string("mailing_address2", optional(), 255)?,
        mailing_city: o.string("mailing_city", required(), 100)?.unwrap_or_default(),
        mailing_zip_code: o.string("mailing_zip_code", required(), 20)?.unwrap_or_default(),
        mailing_state_code: required_state(o, "mailing_state_code")?,
        physical_same_as_mailing: o.flag("physical_same_as_mailing", optional())?.unwrap_or(true),
        physical_address: o.string("physical_address", optional(), 255)?,
        physical_address2: o.string("physical_address2", optional(), 255)?,
        physical_city: o.string("physical_city", optional(), 100)?,
        physical_zip_code: o.string("physical_zip_code", optional(), 20)?,
        physical_state_code: state(o, "physical_state_code", optional())?,
        transaction_line_of_business: line,
        line_of_business_list: lines(o)?,
        exempt: o.flag("exempt", optional())?,
        export_list: o.flag("export_list", optional())?,
        multi_state: o.flag("multi_state", optional())?,
        transaction_documents: documents(o)?,
        filing: filing(o)?,
    })
}

/// The seed's conditional rules: the fields `rpg` and `physical_same_as_mailing` require.
fn seed_rules(o: &mut Txn, t: &Transaction) -> Read<()> {
    if t.rpg {
        if t.purchasing_group_name.is_none() {
            o.problem("purchasing_group_name", required(), "is required when rpg is 1")?;
        }
        if t.risk_description.is_none() {
            o.problem("risk_description", required(), "is required when rpg is 1")?;
        }
    }
    if !t.physical_same_as_mailing {
        for (f, missing) in [
            ("physical_address", t.physical_address.is_none()),
            ("physical_city", t.physical_city.is_none()),
            ("physical_zip_code", t.physical_zip_code.is_none()),
            ("physical_state_code", t.physical_state_code.is_none()),
        ] {
            if missing {
                o.problem(f, required(), "is required when physical_same_as_mailing is 0")?;
            }
        }
    }
    Ok(())
}

/// A state code: any two letters (a code that is no jurisdiction of ours is the seed's 1004,
/// department not found, decided with the rules, not here).
fn state(o: &mut Txn, f: &str, want: Want) -> Read<Option<StateCode>> {
    match o.text(f, want, 2)? {
        Some(s) => match StateCode::parse(&s) {
            Some(code) => Ok(Some(code)),
            None => o.problem(f, want, "must be a 2-letter state code").map(|_| None),
        },
        None => Ok(None),
    }
}

/// A required state code. Reading stops at the first problem (`Mode::First`), so a missing one
/// has been reported and ended the reading before `None` could come back here.
pub(super) fn required_state(o: &mut Txn, f: &str) -> Read<StateCode> {
    state(o, f, required())?.ok_or_else(|| {
        crate::fields::Stop(Box::new(Problem { path: f.into(), message: "is required".into(), code: INVALID_FIELD }))
    })
}

pub(super) fn documents(o: &mut Txn) -> Read<Vec<Document>> {
    let items = o.objects("transaction_documents", optional(), 50)?.unwrap_or_default();
    let mut out = Vec::with_capacity(items.len());
    for mut d in items {
        let mut code = d.string("code", required(), 20)?.unwrap_or_default();
        if !code.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
            d.problem("code", required(), "must be a document code from the tax rules")?;
        }
        let url = d.string("url", required(), 2048)?.unwrap_or_default();
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            d.problem("url", required(), "must be an http or https URL")?;
        }
        let id = match d.text("id", optional(), 20)? {
            None => None,
            Some(s) => match s.parse::<i64>() {
                Ok(n) => Some(n),
                Err(_) => d.problem("id", optional(), "must be a whole number").map(|_| None)?,
            },
        };
        d.end()?;
        code.make_ascii_uppercase();
        out.push(Document { code, url, id });
    }
    Ok(out)
}

/// A transaction that passed every check: what the rules calculated, and the warnings.
#[derive(Debug, Clone, PartialEq)]
pub struct Accepted {
    pub transaction: Transaction,
    pub calculated: Calculated,
    pub warnings: Vec<(String, String)>,
    pub department: &'static str,
}

/// Applies the state's rules: department (1004), tax rule (1005), NH and UT rules (2001),
/// required documents (1001); computes the taxes and compares them with what was sent.
pub fn assess(t: Transaction) -> Result<Accepted, Rejected> {
    let r = rules_for(&t)?;
    let state = t.home_state();
    if r.commission_rule {
        match t.commission_received {
            None => return Err(invalid("commission_received", format!("is required in {state}"))),
            Some(true) if !t.agency_fee.is_zero() => {
                return Err(invalid("agency_fee", "must be 0 when commission is received (tax rule #33)"))
            }
            _ => {}
        }
    }
    if r.utah_flags {
        for (f, v) in [("exempt", t.exempt), ("export_list", t.export_list), ("multi_state", t.multi_state)] {
            if v.is_none() {
                return Err(invalid(f, format!("is required in {state}")));
            }
        }
    }
    if let Some(doc) = r.required_documents(&t).find(|doc| !t.transaction_documents.iter().any(|d| d.code == doc.code))
    {
        return Err(Rejected {
            status: status::MISSING_DOCUMENT,
            message: format!("Error: missing required document with code '{}'.", doc.code),
        });
    }
    let calculated = r.calculate(&t);
    let mut warnings = mismatches(&t, &calculated);
    warnings.extend(filing_warnings(&t));
    Ok(Accepted { transaction: t, calculated, warnings, department: &r.department })
}

/// The rules that tax `t`: its home state's (1004 when that is no jurisdiction), known for its
/// policy effective date (1005 when not). The import and the tax calculator both start here.
pub fn rules_for(t: &Transaction) -> Result<&'static rules::Jurisdiction, Rejected> {
    let state = t.home_state();
    let Some(r) = rules::jurisdiction(state.as_str()) else {
        return Err(Rejected {
            status: status::DEPARTMENT,
            message: format!("Error: department not found for state '{state}'."),
        });
    };
    if !r.covers(t.policy_effective_date) {
        let known = r.known_span();
        return Err(Rejected {
            status: status::TAX_RULE,
            message: format!(
                "Error: unable to assign tax rule for state {state}, line of business {}, policy effective {} ({known}).",
                t.transaction_line_of_business, t.policy_effective_date
            ),
        });
    }
    Ok(r)
}

/// A warning for each figure sent that is not what the rules calculate.
fn mismatches(t: &Transaction, calculated: &Calculated) -> Vec<(String, String)> {
    let mut warnings = Vec::with_capacity(4);
    for field in Field::ALL {
        let (provided, calc) = (field.provided(t), calculated.get(field));
        if provided != calc {
            let (key, label) = field.warning();
            warnings.push((key.to_string(), mismatch(label, provided, calc)));
        }
    }
    if calculated.total != t.total {
        warnings.push(("total".to_string(), mismatch("Total", t.total, calculated.total)));
    }
    warnings
}

/// "{label} values don't match. Provided - {provided}. Calculated - {calculated}", the
/// original's words, written once into a string of about its length.
fn mismatch(label: &str, provided: Decimal, calculated: Decimal) -> String {
    let mut m = String::with_capacity(label.len() + 72);
    m.push_str(label);
    m.push_str(" values don't match. Provided - ");
    Cents(provided).push_to(&mut m);
    m.push_str(". Calculated - ");
    Cents(calculated).push_to(&mut m);
    m
}

/// The warnings as the answer shows them: `{key: message}`.
pub fn warnings_json(w: &[(String, String)]) -> Value {
    Value::Object(w.iter().map(|(k, v)| (k.clone(), json!(v))).collect())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub fn seed_example() -> Value {
        json!({
            "id": "201702028950", "policy_number": "CA20170228-05", "policy_effective_date": "2017-02-01",
            "transaction_effective_date": "2017-02-01", "transaction_type": "PN", "account_written_as": "B",
            "rpg": 0, "premium": 3900.00, "agency_fee": 200.00, "inspection_fee": 0.00, "sl_tax": 117.00,
            "stamping_fee": 7.80, "sl_service_charge": 0.00, "municipal_fee": 0.00, "fm_tax": 0.00, "total": 4224.80,
            "commission_received": 0, "non_admitted_insured_name": "1001", "invoice_date": "2017-02-01",
            "purchasing_group_name": "Cal Association", "ecp": 0, "risk_description": "This is a risk description",
            "mailing_insured_name": "Westfield Galleria at Roseville", "mailing_address": "1151 Galleria Blvd",
            "mailing_city": "Roseville", "mailing_zip_code": "95678", "mailing_state_code": "CA",
            "physical_same_as_mailing": 1, "transaction_line_of_business": "1001", "exempt": 0, "export_list": 0,
            "multi_state": 0,
            "transaction_documents": [{"code": "D1DISC", "url": "http://docs.example/1", "id": 1000001},
                                      {"code": "POLIC", "url": "http://docs.example/2", "id": 1000002}]
        })
    }

    pub(crate) fn run(v: &Value) -> Result<Accepted, Rejected> {
        let text = v.to_string();
        let raw: &serde_json::value::RawValue = serde_json::from_str(&text).unwrap();
        read(raw).1.and_then(assess)
    }

    pub(crate) fn with(field: &str, value: Value) -> Value {
        let mut v = seed_example();
        if value.is_null() {
            v.as_object_mut().unwrap().remove(field);
        } else {
            v[field] = value;
        }
        v
    }

    #[test]
    fn the_seed_example_computes_117_and_7_80_with_no_warning() {
        let a = run(&seed_example()).unwrap();
        assert_eq!(a.warnings, vec![]);
        assert_eq!(a.transaction.premium, Decimal::new(390000, 2));
        // 3% of 3,900 (the agency fee of 200 is not taxed in CA); 0.20% stamping in 2017.
        assert_eq!(a.calculated.sl_tax, Decimal::new(11700, 2));
        assert_eq!(a.calculated.stamping_fee, Decimal::new(780, 2));
        assert_eq!(a.calculated.total, Decimal::new(422480, 2));
        assert_eq!(a.department, "Surplus Line Association of California");
    }

    #[test]
    fn a_mismatch_is_a_warning_in_the_originals_words() {
        let v = with("sl_tax", json!(93.26));
        let v = {
            let mut v = v;
            v["total"] = json!(4201.06);
            v
        };
        let a = run(&v).unwrap();
        assert_eq!(
            a.warnings[0],
            ("slTax".to_string(), "SL tax values don't match. Provided - 93.26. Calculated - 117.00".to_string())
        );
        assert_eq!(a.warnings[1].0, "total");
    }

    #[test]
    fn each_rule_has_its_status() {
        let cases: Vec<(Value, u16, &str)> = vec![
            (with("transaction_type", json!("XYZ")), 1002, "transaction type"),
            (with("transaction_type", Value::Null), 1002, "transaction type"),
            (with("transaction_line_of_business", json!("999")), 1003, "line of business"),
            (with("transaction_line_of_business", Value::Null), 1003, "line of business"),
            (with("mailing_state_code", json!("ZZ")), 1004, "'ZZ'"),
            (with("mailing_state_code", json!("as")), 1004, "'AS'"),
            (with("policy_effective_date", json!("2008-12-31")), 1005, "effective from 2009-01-01"),
            (with("transaction_documents", json!([{"code": "POLIC", "url": "http://x/1"}])), 1001, "'D1DISC'"),
            (with("premium", json!(3900.001)), 2001, "'premium'"),
            (with("premium", json!(12345678901.0)), 2001, "'premium'"),
            (with("premium", json!("abc")), 2001, "'premium'"),
            (with("policy_effective_date", json!("2017-2-1")), 2001, "'policy_effective_date'"),
            (with("invoice_date", json!("2017-02-30")), 2001, "'invoice_date'"),
            (with("rpg", json!(2)), 2001, "'rpg'"),
            (with("account_written_as", json!("X")), 2001, "'account_written_as'"),
            (with("mailing_state_code", json!("California")), 2001, "'mailing_state_code'"),
            (with("policy_number", json!("x".repeat(51))), 2001, "'policy_number'"),
            (with("surprise", json!(1)), 2001, "'surprise'"),
            (with("transaction_documents", json!([{"code": "POLIC", "url": "ftp://x/1"}])), 2001, "url"),
        ];
        for (v, code, needle) in cases {
            let e = run(&v).map(|_| ()).unwrap_err();
            assert_eq!(e.status, code, "{}", e.message);
            assert!(e.message.contains(needle), "{} lacks {needle}", e.message);
        }
    }

    #[test]
    fn an_unknown_field_is_answered_before_any_other_problem_but_after_the_type() {
        let mut v = with("premium", json!("abc"));
        v["surprise"] = json!(1);
        assert!(run(&v).unwrap_err().message.contains("'surprise'"));
        let mut v = with("rpg", json!(1));
        v.as_object_mut().unwrap().remove("purchasing_group_name");
        v["zzz"] = json!(null);
        assert!(run(&v).unwrap_err().message.contains("'zzz'"));
        let mut v = with("transaction_type", json!("XYZ"));
        v["surprise"] = json!(1);
        assert_eq!(run(&v).unwrap_err().status, 1002);
        // Read whole, then refused for its unknown field; labelled as any refused one.
        let mut v = seed_example();
        v["surprise"] = json!(1);
        let text = v.to_string();
        let raw: &serde_json::value::RawValue = serde_json::from_str(&text).unwrap();
        let (labels, read) = read(raw);
        assert!(read.unwrap_err().message.contains("'surprise'"));
        assert_eq!(labels.read(), (Some("201702028950".into()), Some("CA20170228-05".into())));
    }

    #[test]
    fn conditional_rules() {
        let mut v = with("rpg", json!(1));
        v.as_object_mut().unwrap().remove("purchasing_group_name");
        assert!(run(&v).unwrap_err().message.contains("purchasing_group_name"));
        let mut v = with("rpg", json!(1));
        v.as_object_mut().unwrap().remove("risk_description");
        assert!(run(&v).unwrap_err().message.contains("risk_description"));
        // With both, an RPG transaction needs no document of its own (none is sourced).
        assert_eq!(
            run(&with("rpg", json!(1))).unwrap().transaction.purchasing_group_name.as_deref(),
            Some("Cal Association")
        );

        let nh = |extra: Value| {
            let mut v = with("mailing_state_code", json!("NH"));
            v["transaction_documents"] = json!([{"code": "POLIC", "url": "http://x/1"}]);
            v["sl_tax"] = json!(117.00);
            v["stamping_fee"] = json!(0);
            v["total"] = json!(4217.00);
            for (k, x) in extra.as_object().unwrap() {
                v[k] = x.clone();
            }
            v
        };
        let mut missing = nh(json!({}));
        missing.as_object_mut().unwrap().remove("commission_received");
        assert!(run(&missing).unwrap_err().message.contains("commission_received"));
        assert!(run(&nh(json!({"commission_received": 1}))).unwrap_err().message.contains("tax rule #33"));
        let ok = run(&nh(json!({"commission_received": 1, "agency_fee": 0, "total": 4017.00}))).unwrap();
        assert_eq!(ok.warnings, vec![]);

        let mut ut = with("mailing_state_code", json!("UT"));
        ut["policy_effective_date"] = json!("2024-01-01");
        ut["transaction_documents"] =
            json!([{"code": "POLIC", "url": "http://x/1"}, {"code": "UTAFF", "url": "http://x/2"}]);
        ut.as_object_mut().unwrap().remove("multi_state");
        assert!(run(&ut).unwrap_err().message.contains("'multi_state'"));
    }
}
