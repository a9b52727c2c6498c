//! Stored shapes of accounts and their children. Renamed fields would break stored data: add, never
//! rename.

use crate::types::{CurrencyCode, StateCode};
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// Account ids are `pc:<n>` as in seed 001; `n` comes from the team's counter.
pub fn format_id(n: u64) -> String {
    format!("pc:{n}")
}

/// Parses `pc:<n>`; anything else names no resource.
pub fn parse_id(s: &str) -> Option<u64> {
    let n = s.strip_prefix("pc:")?;
    if n.is_empty() || n.len() > 15 || !n.bytes().all(|b| b.is_ascii_digit()) || n.starts_with('0') {
        return None;
    }
    n.parse().ok()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AccountStatus {
    Pending,
    Active,
    Withdrawn,
}

impl AccountStatus {
    pub fn code(self) -> &'static str {
        match self {
            AccountStatus::Pending => "Pending",
            AccountStatus::Active => "Active",
            AccountStatus::Withdrawn => "Withdrawn",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ContactSubtype {
    Person,
    Company,
}

impl ContactSubtype {
    pub fn code(self) -> &'static str {
        match self {
            ContactSubtype::Person => "Person",
            ContactSubtype::Company => "Company",
        }
    }
}

/// The kinds of item an account owns; a merge moves every kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChildKind {
    Contact,
    Location,
    Note,
    Policy,
    Job,
    Activity,
}

impl ChildKind {
    pub const ALL: [ChildKind; 6] = [
        ChildKind::Contact,
        ChildKind::Location,
        ChildKind::Note,
        ChildKind::Policy,
        ChildKind::Job,
        ChildKind::Activity,
    ];
    pub fn key(self) -> &'static str {
        match self {
            ChildKind::Contact => "contact",
            ChildKind::Location => "location",
            ChildKind::Note => "note",
            ChildKind::Policy => "policy",
            ChildKind::Job => "job",
            ChildKind::Activity => "activity",
        }
    }
    pub fn from_key(s: &str) -> Option<Self> {
        ChildKind::ALL.into_iter().find(|k| k.key() == s)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    pub line1: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line2: Option<String>,
    pub city: String,
    pub state: StateCode,
    pub postal_code: String,
    pub country: String,
}

impl Address {
    pub fn display(&self) -> String {
        format!("{}, {}, {} {}", self.line1, self.city, self.state, self.postal_code)
    }
}

/// An account's search terms, folded (made and matched in [`super::terms`]). An account stored
/// before search existed has none: it is indexed at its next change.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Terms {
    pub holder: HolderTerms,
    pub place: PlaceTerms,
}

/// The holder contact's terms.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HolderTerms {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last: Option<String>,
    /// Each phone number's digits.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub phones: Vec<String>,
    /// The taxpayer id's digest (`terms::tax_digest`); the digits are kept only on the contact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tax: Option<String>,
    pub words: Vec<String>,
}

/// The primary location's terms.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlaceTerms {
    /// Upper case, spaces removed (`94105-1234`, `K1A0B1`).
    pub postal: String,
    pub city: String,
    /// The state or province code, upper case.
    pub state: String,
    pub words: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HolderSummary {
    pub contact_id: u64,
    pub subtype: ContactSubtype,
    pub display_name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocationSummary {
    pub id: u64,
    pub display_name: String,
}

/// A merge under way, marked on both accounts until it commits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MergeLock {
    pub merge_id: String,
    pub source: u64,
    pub target: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Account {
    pub id: u64,
    pub number: String,
    pub status: AccountStatus,
    pub holder: HolderSummary,
    pub primary_location: LocationSummary,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization_type: Option<String>,
    pub producer_codes: Vec<String>,
    pub coverage_currency: CurrencyCode,
    pub settlement_currency: CurrencyCode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub business_operations_description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub year_business_started: Option<i32>,
    pub contact_count: u32,
    pub location_count: u32,
    pub policy_count: u32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merge: Option<MergeLock>,
    /// What the searches find the account by (see [`super::terms`]); `None` on an account
    /// stored before search existed, until its next change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search: Option<Terms>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Contact {
    pub subtype: ContactSubtype,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub home_phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub work_phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cell_phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<Address>,
    /// The taxpayer id (SSN or EIN) as its nine digits; every answer shows only the last four
    /// ([`Contact::masked_tax_id`]), as the original does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tax_id: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl Contact {
    /// `***-**-6789`: the original's masked taxId.
    pub fn masked_tax_id(&self) -> Option<String> {
        let t = self.tax_id.as_deref()?;
        Some(format!("***-**-{}", t.get(t.len().saturating_sub(4)..).unwrap_or("")))
    }

    pub fn display_name(&self) -> String {
        match self.subtype {
            ContactSubtype::Company => self.company_name.clone().unwrap_or_default(),
            ContactSubtype::Person => format!(
                "{} {}",
                self.first_name.as_deref().unwrap_or_default(),
                self.last_name.as_deref().unwrap_or_default()
            )
            .trim()
            .to_string(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Location {
    pub code: String,
    pub address: Address,
    pub created_at: DateTime<Utc>,
}

impl Location {
    pub fn display_name(&self) -> String {
        format!("{}: {}", self.code, self.address.display())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Note {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    pub body: String,
    pub topic: String,
    pub confidential: bool,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Activity {
    pub subject: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub priority: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_date: Option<NaiveDate>,
    pub created_at: DateTime<Utc>,
}

/// A policy transaction ("job"); adding a policy records its issuance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    pub job_number: String,
    pub job_type: String,
    pub policy_id: u64,
    pub policy_number: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Money {
    pub amount: Decimal,
    pub currency: String,
}

/// The insured as named on the policy, with the contact details servicing edits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Insured {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<Address>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Mortgagee {
    pub id: u64,
    pub name: String,
    pub mortgagee_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loan_number: Option<String>,
    pub address: Address,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Driver {
    pub id: u64,
    pub first_name: String,
    pub last_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_of_birth: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license_state: Option<StateCode>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LienHolder {
    pub id: u64,
    pub name: String,
    pub lien_type: String,
    pub address: Address,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Vehicle {
    pub id: u64,
    pub vin: String,
    pub make: String,
    pub model: String,
    pub model_year: i32,
    pub lien_holders: Vec<LienHolder>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Policy {
    pub policy_number: String,
    pub line_of_business: String,
    pub status: String,
    pub effective_date: NaiveDate,
    pub expiration_date: NaiveDate,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_premium: Option<Money>,
    pub insured: Insured,
    pub mortgagees: Vec<Mortgagee>,
    pub drivers: Vec<Driver>,
    pub vehicles: Vec<Vehicle>,
    pub created_at: DateTime<Utc>,
}

/// A child item as stored: its id, and the merge that copied it here, while that merge has not
/// committed (readers skip such copies).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stored<T> {
    pub id: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_merge: Option<String>,
    pub data: T,
}

/// Lines of business a policy may carry, and what servicing may edit on each.
pub const PROPERTY_LINES: &[&str] = &["Homeowners", "Dwelling", "Condo", "Renters", "CommercialProperty"];
pub const AUTO_LINES: &[&str] = &["PersonalAuto", "BusinessAuto"];
pub const OTHER_LINES: &[&str] = &["GeneralLiability", "Umbrella", "WorkersComp", "ProfessionalLiability"];

/// A client-supplied transaction id (header `GW-DBTransaction-ID`) and what it was used for.
#[derive(Debug, Clone)]
pub struct ClientTxn {
    pub id: String,
    pub operation: String,
}

/// A stored account and its version (the client's `checksum`).
#[derive(Debug, Clone)]
pub struct Versioned<T> {
    pub value: T,
    pub version: u64,
}

/// The URI of account `n`, as links and errors name it.
pub fn account_uri(n: u64) -> String {
    format!("/account/v1/accounts/{}", format_id(n))
}

/// What a merge has done so far, kept under the source's number (see the repository).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MergeRecord {
    pub merge_id: String,
    pub target: u64,
    pub committed: bool,
}

pub use super::error::Conflict;

/// Online access to an account (this deployment's extension of the Accounts API): a username and
/// a slow salted hash of the password, stored under the keyed digest of the canonical username
/// (see [`crate::types::Username`]: NFKC and case folding, so every spelling of one name reaches
/// one account).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OnlineAccess {
    pub account: u64,
    pub username: String,
    pub password: crate::crypto::PasswordHash,
    pub updated_at: DateTime<Utc>,
}

/// The account's pointer to its online access: the username shown, and the key of the login item
/// it guards (so a change of username removes the old one).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OnlinePointer {
    pub username: String,
    pub guard: String,
    pub updated_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_reject_anything_else() {
        assert_eq!(parse_id(&format_id(477)), Some(477));
        for bad in ["477", "pc:", "pc:0", "pc:007", "pc:-1", "pc:1a", "xx:1", "pc:9999999999999999"] {
            assert_eq!(parse_id(bad), None, "{bad}");
        }
    }
}
