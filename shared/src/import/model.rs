//! The import area's types: a transaction as read, its result, its record, a batch and its
//! status, the status codes of seed 002. Nothing here reads, stores or renders.

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::store::StoreError;
use crate::types::{str_enum, StateCode};
use serde_json::{json, Value};

str_enum!(BatchStatus {
    /// Admitted, or being imported: `done` says how far.
    Processing = "processing",
    /// Every transaction answered: the results are final.
    Processed = "processed",
    /// Its upload vanished before it could be imported again: nothing will finish it.
    Failed = "failed",
});

/// The status codes of seed 002, and ours for what it does not name.
pub mod status {
    pub const OK: u16 = 0;
    pub const MISSING_DOCUMENT: u16 = 1001;
    pub const TRANSACTION_TYPE: u16 = 1002;
    pub const LINE_OF_BUSINESS: u16 = 1003;
    pub const DEPARTMENT: u16 = 1004;
    pub const TAX_RULE: u16 = 1005;
    /// Ours: a field is malformed or breaks one of the seed's rules (named in the message).
    pub const INVALID_FIELD: u16 = 2001;
    /// Ours: a document could not be fetched.
    pub const DOCUMENT_FETCH: u16 = 2002;
    pub const DUPLICATE: u16 = 3001;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[allow(clippy::upper_case_acronyms)]
pub enum TxnType {
    PN,
    PR,
    APE,
    RPE,
    AE,
    FC,
    /// Zero premium endorsement.
    ZPE,
    /// Binder.
    BD,
    /// Rewrite.
    RW,
    /// Extension endorsement.
    EE,
    /// Listed by the filing service with no meaning given.
    OS,
    /// Prorated cancellation.
    PC,
}

impl TxnType {
    pub const ALL: [TxnType; 12] = [
        TxnType::PN,
        TxnType::PR,
        TxnType::APE,
        TxnType::RPE,
        TxnType::AE,
        TxnType::FC,
        TxnType::ZPE,
        TxnType::BD,
        TxnType::RW,
        TxnType::EE,
        TxnType::OS,
        TxnType::PC,
    ];
    pub fn code(self) -> &'static str {
        match self {
            TxnType::PN => "PN",
            TxnType::PR => "PR",
            TxnType::APE => "APE",
            TxnType::RPE => "RPE",
            TxnType::AE => "AE",
            TxnType::FC => "FC",
            TxnType::ZPE => "ZPE",
            TxnType::BD => "BD",
            TxnType::RW => "RW",
            TxnType::EE => "EE",
            TxnType::OS => "OS",
            TxnType::PC => "PC",
        }
    }
    pub fn parse(s: &str) -> Option<TxnType> {
        TxnType::ALL.into_iter().find(|t| t.code() == s)
    }
    /// Seed 002's six types, whose treatment the stamping offices' sources settle. The filing
    /// service's other six (ZPE, BD, RW, EE, OS, PC) are accepted and taxed on their premium like
    /// any transaction, but no source we read says how each office treats them, so their figures
    /// are never `verified`.
    pub fn settled(self) -> bool {
        matches!(self, TxnType::PN | TxnType::PR | TxnType::APE | TxnType::RPE | TxnType::AE | TxnType::FC)
    }
}

/// Lines of business 1001-1022 of seed 002.
pub const LINES: &[(u16, &str)] = &[
    (1001, "Accident & Health"),
    (1002, "BOP Liability"),
    (1003, "Business Auto"),
    (1004, "Business Owners"),
    (1005, "Commercial Property"),
    (1006, "Data Breach"),
    (1007, "Employment Practice Liability Insurance"),
    (1008, "Errors & Omissions"),
    (1009, "Garage & Dealers"),
    (1010, "General Liability"),
    (1011, "Inland Marine (C)"),
    (1012, "Med/Professional Liab"),
    (1013, "Package (C)"),
    (1014, "Professional Liability1"),
    (1015, "Umbrella(C)"),
    (1016, "Directors and Officers"),
    (1017, "Foreign Liability"),
    (1018, "Pollution"),
    (1019, "Workers Compensation"),
    (1020, "Monoline"),
    (1021, "Earthquake Liability"),
    (1022, "Special Events"),
];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Document {
    pub code: String,
    pub url: String,
    pub id: Option<i64>,
}

/// One line of `line_of_business_list`: its code as sent (`GEN-1001`), the seed's line it names
/// (1001), and the premium written on it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LineCoverage {
    pub item: String,
    pub line: u16,
    #[serde(with = "cents")]
    pub coverage: Decimal,
}

/// One insurer or Lloyd's syndicate and its share of the risk, in percent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Share {
    pub item: String,
    #[serde(with = "rust_decimal::serde::str")]
    pub coverage: Decimal,
}

/// What the filing service documents beyond seed 002 that no tax depends on: kept on the record
/// and returned as sent (after checking), never used to compute.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Filing {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expiring_policy_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invoice_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layered_risk: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub broker_of_record: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub risk_retention_group: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none", with = "rust_decimal::serde::str_option", default)]
    pub policy_limit: Option<Decimal>,
    #[serde(skip_serializing_if = "Option::is_none", with = "rust_decimal::serde::str_option", default)]
    pub property_limit: Option<Decimal>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub insurance_company_list: Vec<Share>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub syndicate_list: Vec<Share>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub insured_entity: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub insured_email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub insured_phone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub insured_county: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent_notes: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stamping_fee_invoice_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sl_tax_invoice_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub business_group_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retail_producer_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retail_agency_name: Option<String>,
}

/// A transaction as read and checked: seed 002's fields, the filing service's that change what
/// is owed (expiration, lines with their premiums, collection fee, EMPA), and the rest in
/// [`Filing`]. Kept on the transaction's record (amounts as exact decimal strings).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transaction {
    pub id: String,
    pub policy_number: String,
    pub policy_effective_date: NaiveDate,
    /// As sent, or 12 months after the effective date (the filing service's default).
    pub policy_expiration_date: NaiveDate,
    pub transaction_effective_date: NaiveDate,
    pub transaction_type: TxnType,
    pub account_written_as: String,
    pub rpg: bool,
    #[serde(with = "cents")]
    pub premium: Decimal,
    #[serde(with = "cents")]
    pub agency_fee: Decimal,
    #[serde(with = "cents")]
    pub inspection_fee: Decimal,
    /// A fee the broker charges for collecting the premium (the filing service's field); taxed
    /// like `agency_fee` (see the tax-rules README).
    #[serde(with = "cents", default)]
    pub collection_fee: Decimal,
    #[serde(with = "cents")]
    pub sl_tax: Decimal,
    #[serde(with = "cents")]
    pub stamping_fee: Decimal,
    #[serde(with = "cents")]
    pub sl_service_charge: Decimal,
    #[serde(with = "cents")]
    pub municipal_fee: Decimal,
    #[serde(with = "cents")]
    pub fm_tax: Decimal,
    /// Florida's Emergency Management surcharge (F.S. 252.372).
    #[serde(with = "cents", default)]
    pub empa_tax: Decimal,
    #[serde(with = "cents")]
    pub total: Decimal,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commission_received: Option<bool>,
    pub non_admitted_insured_name: String,
    pub invoice_date: NaiveDate,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purchasing_group_name: Option<String>,
    pub ecp: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub risk_description: Option<String>,
    pub mailing_insured_name: String,
    pub mailing_address: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mailing_address2: Option<String>,
    pub mailing_city: String,
    pub mailing_zip_code: String,
    pub mailing_state_code: StateCode,
    pub physical_same_as_mailing: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub physical_address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub physical_address2: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub physical_city: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub physical_zip_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub physical_state_code: Option<StateCode>,
    /// As sent, or the line of `line_of_business_list` with the most premium.
    pub transaction_line_of_business: u16,
    /// The lines and the premium on each; empty: all of it on `transaction_line_of_business`.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub line_of_business_list: Vec<LineCoverage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exempt: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub export_list: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multi_state: Option<bool>,
    pub transaction_documents: Vec<Document>,
    #[serde(flatten)]
    pub filing: Filing,
}

impl Transaction {
    /// Each line and its part of the premium (the parts add up to 1): the list's lines by
    /// their premium, or the one line. A list with no premium on it (a zero-premium
    /// endorsement) counts each line equally.
    pub fn line_weights(&self) -> Vec<(u16, Decimal)> {
        if self.line_of_business_list.is_empty() {
            return vec![(self.transaction_line_of_business, Decimal::ONE)];
        }
        let sum: Decimal = self.line_of_business_list.iter().map(|l| l.coverage).sum();
        let n = Decimal::from(self.line_of_business_list.len());
        self.line_of_business_list
            .iter()
            .map(|l| (l.line, if sum.is_zero() { Decimal::ONE / n } else { l.coverage / sum }))
            .collect()
    }

    /// The state whose rules apply: the physical (risk) state, which is the mailing state when
    /// `physical_same_as_mailing` is 1.
    pub fn home_state(&self) -> StateCode {
        match (self.physical_state_code, self.physical_same_as_mailing) {
            (Some(s), false) => s,
            _ => self.mailing_state_code,
        }
    }
}

/// An amount as its text to the cent: `"200.00"`, `"-7.80"`.
pub fn money(d: Decimal) -> String {
    Cents(d).to_string()
}

/// An amount written to the cent (rounded half to even, as `round_dp`), written as [`money`]
/// writes it but with no string of its own: its digits from the integer to the cent, not through
/// `Decimal`'s own formatting (an answer with thousands of figures writes many).
pub struct Cents(pub Decimal);

impl Cents {
    /// The amount's text in `buf`, or `None` for a value `rescale` cannot bring to two places,
    /// or a negative zero, or cents past a `u64` (written by `Decimal`'s formatting instead).
    fn text<'b>(&self, buf: &'b mut [u8; 24]) -> Option<&'b str> {
        let mut d = self.0.round_dp(2);
        d.rescale(2);
        let cents = d.mantissa();
        if d.scale() != 2 || (cents == 0 && d.is_sign_negative()) {
            return None;
        }
        // Digits from the last: the two of the cents, the point, then at least one more.
        let mut n = u64::try_from(cents.unsigned_abs()).ok()?;
        let mut i = buf.len();
        for k in 0.. {
            if k == 2 {
                i -= 1;
                buf[i] = b'.';
            }
            i -= 1;
            buf[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 && k >= 2 {
                break;
            }
        }
        if cents < 0 {
            i -= 1;
            buf[i] = b'-';
        }
        std::str::from_utf8(&buf[i..]).ok()
    }

    /// Appends the amount to `out`, as `Display` writes it.
    pub fn push_to(&self, out: &mut String) {
        match self.text(&mut [0; 24]) {
            Some(text) => out.push_str(text),
            None => {
                use std::fmt::Write as _;
                let _ = write!(out, "{self}");
            }
        }
    }
}

impl std::fmt::Display for Cents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.text(&mut [0; 24]) {
            Some(text) => f.write_str(text),
            None => write!(f, "{:.2}", self.0.round_dp(2)),
        }
    }
}

/// An amount kept and shown as its text to the cent (`"200.00"`), as [`money`] writes it.
mod cents {
    use rust_decimal::Decimal;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Decimal, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::money(*d))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Decimal, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Transactions per batch.
pub const MAX_TRANSACTIONS: usize = 50_000;
/// Documents fetched at once per batch.
pub const FETCH_CONCURRENCY: usize = 16;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredDocument {
    pub code: String,
    pub id: Option<i64>,
    pub key: String,
    pub size: u64,
    pub content_type: String,
    pub sha256: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TxnResult {
    pub id: Option<String>,
    pub policy_number: Option<String>,
    pub status: u16,
    pub status_message: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<(String, String)>,
    /// What the rules calculated, for a transaction that got as far as its taxes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calculated: Option<Calculated>,
}

/// The record of one transaction as a team reads it later.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TxnRecord {
    pub id: String,
    pub batch_id: String,
    pub policy_number: String,
    pub status: u16,
    pub status_message: String,
    pub warnings: Vec<(String, String)>,
    #[serde(default)]
    pub calculated: Option<Calculated>,
    pub documents: Vec<StoredDocument>,
    pub department: Option<String>,
    pub at: DateTime<Utc>,
    /// The transaction as imported (records of refused attempts, and records written before it
    /// was kept, have none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction: Option<Box<Transaction>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BatchMeta {
    pub batch_id: String,
    pub status: BatchStatus,
    pub source: String,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub total: usize,
    pub imported: usize,
    pub chunks: usize,
    /// Transactions answered so far (progress while processing; `total` once processed).
    #[serde(default)]
    pub done: usize,
    /// A single-transaction batch: its results are kept one per position, not in chunks.
    #[serde(default)]
    pub single: bool,
    /// Where an uploaded (or asynchronously POSTed) batch's bytes are, so a batch left
    /// processing can be imported again from them.
    #[serde(default)]
    pub upload: Option<UploadRef>,
    /// While processing from an upload: until when its import holds the batch. Past it (the
    /// import died), the upload function's sweep imports it again.
    #[serde(default)]
    pub lease_until: Option<DateTime<Utc>>,
}

impl BatchMeta {
    /// Whether an import run has begun this batch: a run counts its results' chunks as it begins
    /// (a batch has at least one transaction); a batch only admitted (`upload::admit`: POSTed in
    /// the background, waiting for its import) has none yet.
    pub fn begun(&self) -> bool {
        self.chunks > 0
    }
}

/// An uploaded object: bucket, key and ETag (its batch id derives from them).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UploadRef {
    pub bucket: String,
    pub key: String,
    pub etag: String,
}

/// How long an import holds its batch: longer than the upload function may run (15 minutes), so
/// a lease that ran out means the import died.
pub const IMPORT_LEASE: chrono::TimeDelta = chrono::TimeDelta::minutes(16);

#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    #[error("The batch is not valid JSON: {0}")]
    NotJson(String),
    #[error("The batch must be a JSON array of 1 to {MAX_TRANSACTIONS} transactions")]
    NotArray,
    /// A single-transaction request's envelope (`POST /import/v1/transaction`) that cannot be
    /// read, or names a batch it cannot join.
    #[error("{0}")]
    Envelope(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("object store: {0}")]
    Objects(#[from] crate::objects::ObjectError),
}

/// Which transaction field a charge is reported in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    SlTax,
    StampingFee,
    SlServiceCharge,
    FmTax,
    EmpaTax,
}

impl Field {
    pub const ALL: [Field; 5] =
        [Field::SlTax, Field::StampingFee, Field::SlServiceCharge, Field::FmTax, Field::EmpaTax];
    pub fn name(self) -> &'static str {
        match self {
            Field::SlTax => "sl_tax",
            Field::StampingFee => "stamping_fee",
            Field::SlServiceCharge => "sl_service_charge",
            Field::FmTax => "fm_tax",
            Field::EmpaTax => "empa_tax",
        }
    }
    /// The key and label of a mismatch warning, in the original's style.
    pub fn warning(self) -> (&'static str, &'static str) {
        match self {
            Field::SlTax => ("slTax", "SL tax"),
            Field::StampingFee => ("stampingFee", "Stamping fee"),
            Field::SlServiceCharge => ("slServiceCharge", "SL service charge"),
            Field::FmTax => ("fmTax", "FM tax"),
            Field::EmpaTax => ("empaTax", "EMPA tax"),
        }
    }
    /// What the client sent in this field.
    pub fn provided(self, t: &Transaction) -> Decimal {
        match self {
            Field::SlTax => t.sl_tax,
            Field::StampingFee => t.stamping_fee,
            Field::SlServiceCharge => t.sl_service_charge,
            Field::FmTax => t.fm_tax,
            Field::EmpaTax => t.empa_tax,
        }
    }
}

/// What the rules compute for one transaction, field by field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calculated {
    #[serde(with = "rust_decimal::serde::str")]
    pub sl_tax: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    pub stamping_fee: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    pub sl_service_charge: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    pub fm_tax: Decimal,
    #[serde(with = "rust_decimal::serde::str", default)]
    pub empa_tax: Decimal,
    /// Premium, agency, inspection and collection fees, the municipal fee as sent, and the five
    /// above.
    #[serde(with = "rust_decimal::serde::str")]
    pub total: Decimal,
    /// False when a period used is not confirmed by a public source, or its base is our choice
    /// and the transaction carries fees.
    pub verified: bool,
}

impl Calculated {
    pub fn get(&self, f: Field) -> Decimal {
        match f {
            Field::SlTax => self.sl_tax,
            Field::StampingFee => self.stamping_fee,
            Field::SlServiceCharge => self.sl_service_charge,
            Field::FmTax => self.fm_tax,
            Field::EmpaTax => self.empa_tax,
        }
    }
    pub(crate) fn add(&mut self, f: Field, v: Decimal) {
        let slot = match f {
            Field::SlTax => &mut self.sl_tax,
            Field::StampingFee => &mut self.stamping_fee,
            Field::SlServiceCharge => &mut self.sl_service_charge,
            Field::FmTax => &mut self.fm_tax,
            Field::EmpaTax => &mut self.empa_tax,
        };
        *slot += v;
    }
    /// The figures as the answer shows them, to the cent; `empa_tax` only where there is one
    /// (Florida), so the seed's answers keep their shape.
    pub fn view(&self) -> Value {
        let m = money;
        let mut v = json!({
            "sl_tax": m(self.sl_tax),
            "stamping_fee": m(self.stamping_fee),
            "sl_service_charge": m(self.sl_service_charge),
            "fm_tax": m(self.fm_tax),
            "total": m(self.total),
            "verified": self.verified,
        });
        if !self.empa_tax.is_zero() {
            v["empa_tax"] = json!(m(self.empa_tax));
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cents_are_written_as_decimal_writes_them() {
        let mut next = crate::testing::xorshift(0x9E37_79B9_7F4A_7C15);
        let mut values = vec![Decimal::ZERO, Decimal::MAX, Decimal::MIN, Decimal::new(-0, 2), Decimal::new(5, 3)];
        let mut negative_zero = Decimal::new(0, 2);
        negative_zero.set_sign_negative(true);
        values.push(negative_zero);
        values.push(Decimal::from_str_exact("-0.004").unwrap());
        values.push(Decimal::from_str_exact("-0.005").unwrap());
        values.push(Decimal::from_str_exact("0.015").unwrap());
        for _ in 0..200_000 {
            let mantissa =
                (next() as i64 >> (next() % 60)) as i128 * if next().is_multiple_of(3) { 1_000_000_007 } else { 1 };
            values.push(Decimal::from_i128_with_scale(mantissa, (next() % 29) as u32));
        }
        values.extend(
            ["0.01", "0.1", "1", "-1", "9.995", "18446744073709551.615", "-18446744073709551.616"]
                .map(|t| Decimal::from_str_exact(t).unwrap()),
        );
        for d in values {
            let want = format!("{:.2}", d.round_dp(2));
            assert_eq!(Cents(d).to_string(), want, "{d:?}");
            let mut pushed = String::from("x");
            Cents(d).push_to(&mut pushed);
            assert_eq!(pushed[1..], want, "{d:?}");
        }
    }
}
