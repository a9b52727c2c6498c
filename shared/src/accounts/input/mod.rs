//! Why one file of ~640 lines: every accounts body shares these few readers (envelope, typekey,
//! address, contact), and about 75 lines are its unit tests.
//!
//! Request bodies to validated domain input. Fields are read one by one (not through serde's
//! derive) so that every problem is reported at once, with the path of the field, without ever
//! echoing the value the client sent (it may be personal data), and so that unknown fields are
//! named and refused.

use chrono::{Datelike, NaiveDate, Utc};
use serde_json::Value;

use super::error::{AccountError, Detail};
use super::model::*;
use crate::fields::{optional, required, Empty, Fields, Kind, Mode, Node, Read, Report, Rules, Unknown, Want};
use crate::types::{CurrencyCode, StateCode, Username};

pub const ORGANIZATION_TYPES: &[&str] = &[
    "individual",
    "soleprop",
    "partnership",
    "llc",
    "corporation",
    "jointventure",
    "nonprofit",
    "trust",
    "government",
    "other",
];
pub use crate::types::{CA_PROVINCES, CURRENCIES, US_STATES};

mod contact;
mod policy;
mod search;

pub use contact::*;
pub use policy::*;
pub use search::*;
pub const NOTE_TOPICS: &[&str] = &["general", "underwriting", "billing", "claims", "servicing", "legal"];
pub const ACTIVITY_PRIORITIES: &[&str] = &["low", "normal", "high", "urgent"];
pub const MORTGAGEE_TYPES: &[&str] = &["FIRST", "SECOND", "THIRD"];
pub const LIEN_TYPES: &[&str] = &["LIEN_HOLDER", "LESSOR", "LOSS_PAYEE"];

/// How accounts reads (see [`crate::fields`]): every problem at once; `null` and blank refused.
const RULES: Rules = Rules { mode: Mode::All, empty: Empty::Refused, numbers_as_text: false, code: "INVALID" };

/// An accounts object being read.
pub type Obj<'a> = Fields<'a, &'a Value>;

fn want(is_required: bool) -> Want {
    if is_required {
        required()
    } else {
        optional()
    }
}

/// A request body and what its reading does with properties it does not know: the original's
/// `GW-UnknownPropertyHandling` header (`reject`, the default, refuses them; `ignore` passes over
/// them; `log` passes over them and logs how many). A bare `&Value` is read with the default.
#[derive(Clone, Copy)]
pub struct Sent<'a> {
    pub value: &'a Value,
    pub unknown: Unknown,
    /// Log the number of unknown properties passed over (`log`).
    pub log: bool,
}

impl<'a> From<&'a Value> for Sent<'a> {
    fn from(value: &'a Value) -> Sent<'a> {
        Sent { value, unknown: Unknown::Refuse, log: false }
    }
}

/// Reads `{"data": {"attributes": {...}, "checksum": "..."}}`: `read` takes the attributes and
/// answers `None` only when it recorded a problem. Every problem comes back at once, by path.
pub fn body<'v, T>(
    sent: impl Into<Sent<'v>>,
    read: impl FnOnce(&mut Obj<'_>) -> Read<Option<T>>,
) -> Result<(T, Option<String>), AccountError> {
    let sent = sent.into();
    let body = sent.value;
    let report = Report::new(RULES).unknown(sent.unknown);
    let out = (|| -> Read<Option<(T, Option<String>)>> {
        let Some(mut root) = report.open("body", body)? else { return Ok(None) };
        let data = root.object("data", required())?;
        root.end()?;
        let Some(mut data) = data else { return Ok(None) };
        let checksum = data.string("checksum", optional(), 64)?;
        data.ignore("links");
        data.ignore("id");
        data.ignore("type");
        let attrs = data.object("attributes", required())?;
        data.end()?;
        let Some(mut attrs) = attrs else { return Ok(None) };
        let value = read(&mut attrs)?;
        // Passing over unknown attributes must not turn a request of nothing but those into a
        // change of nothing (a PATCH would still write, and move the checksum).
        if sent.unknown == Unknown::Ignore && !attrs.is_empty() && attrs.read_count() == 0 {
            attrs.problem_here("names no attribute this resource has (every one is unknown)")?;
        }
        attrs.end()?;
        Ok(value.map(|v| (v, checksum)))
    })();
    if sent.log && report.ignored() > 0 {
        // Names are the client's own words: only their number is logged.
        tracing::info!(
            unknown_properties = report.ignored(),
            "unknown properties ignored (GW-UnknownPropertyHandling: log)"
        );
    }
    match report.finish(out) {
        Ok(Some(v)) => Ok(v),
        Ok(None) => Err(AccountError::bad("body.data.attributes", "is not valid")),
        Err(problems) => {
            Err(AccountError::bad_input(problems.into_iter().map(|p| Detail::at(p.path, p.message)).collect()))
        }
    }
}

/// A typekey `{code}` (a `name` beside it is accepted and ignored), checked against `allowed`.
pub fn typekey(o: &mut Obj, name: &str, want: Want, allowed: &[&str]) -> Read<Option<String>> {
    let Some(mut k) = o.object(name, want)? else { return Ok(None) };
    display_name(&mut k)?;
    let code = k.one_of("code", required(), allowed)?;
    k.end()?;
    Ok(code)
}

/// A typekey's display `name`, which the original sends with its code and clients send back: a
/// string if given (any string: the code decides), never stored.
fn display_name(k: &mut Obj) -> Read<()> {
    if k.peek("name").is_some_and(|n| !matches!(n.kind(), Kind::String(_))) {
        k.problem("name", optional(), "must be a string")?;
    }
    k.ignore("name");
    Ok(())
}

/// A currency typekey `{code}`, one of [`CURRENCIES`].
fn currency(o: &mut Obj, name: &str) -> Read<Option<CurrencyCode>> {
    Ok(typekey(o, name, optional(), CURRENCIES)?.as_deref().and_then(CurrencyCode::parse))
}

/// A state or province typekey `{code}` for the country (two letters, either case).
fn state(o: &mut Obj, name: &str, want: Want, country: Option<&str>) -> Read<Option<StateCode>> {
    let Some(mut k) = o.object(name, want)? else { return Ok(None) };
    display_name(&mut k)?;
    let code = k.string("code", required(), 64)?;
    k.end()?;
    let Some(code) = code else { return Ok(None) };
    let canadian = country == Some("CA");
    match StateCode::parse(&code).filter(|s| if canadian { s.is_ca() } else { s.is_us() }) {
        Some(s) => Ok(Some(s)),
        None => {
            let allowed = if canadian { CA_PROVINCES } else { US_STATES };
            let path = format!("{}.code", o.path(name));
            o.report().add(&path, "INVALID", format!("is not one of the allowed codes: {}", allowed.join(", ")))?;
            Ok(None)
        }
    }
}

/// A reference `{id}` to a `pc:<n>` resource.
pub fn reference(o: &mut Obj, name: &str, want: Want) -> Read<Option<u64>> {
    let Some(mut r) = o.object(name, want)? else { return Ok(None) };
    for echo in ["displayName", "type", "uri"] {
        r.ignore(echo);
    }
    let id = r.string("id", required(), 32)?;
    let n = match id.as_deref().map(parse_id) {
        Some(None) => r.problem("id", required(), "is not an id of the form pc:<number>").map(|_| None)?,
        other => other.flatten(),
    };
    r.end()?;
    Ok(n)
}

/// A PATCH must name something to change.
fn refuse_empty(a: &Obj) -> Read<()> {
    if a.is_empty() {
        a.problem_here("names no attribute to change")?;
    }
    Ok(())
}

pub fn address_fields(o: &mut Obj) -> Read<Option<Address>> {
    let line1 = o.string("addressLine1", required(), 120)?;
    let line2 = o.string("addressLine2", optional(), 120)?;
    let city = o.string("city", required(), 60)?;
    let country = if o.has("country") { typekey(o, "country", optional(), &["US", "CA"])? } else { Some("US".into()) };
    let state = state(o, "state", required(), country.as_deref())?;
    let postal = o.string("postalCode", required(), 10)?;
    o.ignore("displayName");
    let (Some(line1), Some(city), Some(state), Some(postal), Some(country)) = (line1, city, state, postal, country)
    else {
        return Ok(None);
    };
    let Some(postal) = crate::types::PostalCode::parse(&postal, &country) else {
        return o.problem("postalCode", required(), "is not a valid postal code for the country").map(|_| None);
    };
    Ok(Some(Address { line1, line2, city, state, postal_code: postal.as_str().to_string(), country }))
}

pub fn address(o: &mut Obj, name: &str, want: Want) -> Read<Option<Address>> {
    let Some(mut a) = o.object(name, want)? else { return Ok(None) };
    let addr = address_fields(&mut a)?;
    a.end()?;
    Ok(addr)
}

fn email(o: &mut Obj, name: &str) -> Read<Option<String>> {
    let Some(e) = o.string(name, optional(), 254)? else { return Ok(None) };
    match crate::types::Email::parse(&e) {
        Some(e) => Ok(Some(e.into_string())),
        None => o.problem(name, optional(), "is not an email address").map(|_| None),
    }
}

fn phone(o: &mut Obj, name: &str) -> Read<Option<String>> {
    let Some(s) = o.string(name, optional(), 25)? else { return Ok(None) };
    let digits = s.chars().filter(char::is_ascii_digit).count();
    if (7..=15).contains(&digits) && s.chars().all(|c| c.is_ascii_digit() || " +-().x".contains(c)) {
        Ok(Some(s))
    } else {
        o.problem(name, optional(), "is not a phone number").map(|_| None)
    }
}

/// Refuses a field the client may not send here, saying why.
fn refuse_field(o: &mut Obj, name: &str, why: &str) -> Read<()> {
    if o.has(name) {
        o.ignore(name);
        o.problem(name, optional(), why)?;
    }
    Ok(())
}

pub struct NewAccount {
    pub holder_subtype: ContactSubtype,
    pub holder: ContactFields,
    pub location: Address,
    pub producer_codes: Vec<String>,
    pub organization_type: Option<String>,
    pub coverage_currency: CurrencyCode,
    pub settlement_currency: CurrencyCode,
}

fn producer_codes(o: &mut Obj, is_required: bool) -> Read<Option<Vec<String>>> {
    let Some(items) = o.objects("producerCodes", want(is_required), 20)? else { return Ok(None) };
    let mut out = Vec::new();
    for mut item in items {
        item.ignore("displayName");
        if let Some(id) = item.string("id", required(), 64)? {
            if !id.chars().all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c)) {
                item.problem("id", required(), "may hold letters, digits and - _ . : only")?;
            } else if !out.contains(&id) {
                out.push(id);
            }
        }
        item.end()?;
    }
    if is_required && out.is_empty() && !o.report().has_problem_under(&o.path("producerCodes")) {
        o.problem("producerCodes", required(), "must name at least one producer code")?;
    }
    Ok(Some(out))
}

pub fn new_account<'v>(v: impl Into<Sent<'v>>) -> Result<NewAccount, AccountError> {
    let (account, _) = body(v, |a| {
        let holder = match a.object("initialAccountHolder", required())? {
            Some(mut h) => {
                let r = new_contact(&mut h, true)?;
                h.end()?;
                r
            }
            None => None,
        };
        let location = match a.object("initialPrimaryLocation", required())? {
            Some(mut l) => {
                let r = address_fields(&mut l)?;
                l.end()?;
                r
            }
            None => None,
        };
        let codes = producer_codes(a, true)?;
        let org = typekey(a, "organizationType", optional(), ORGANIZATION_TYPES)?;
        let cov = currency(a, "preferredCoverageCurrency")?;
        let set = currency(a, "preferredSettlementCurrency")?;
        let (Some((holder_subtype, holder)), Some(location)) = (holder, location) else { return Ok(None) };
        let organization_type =
            org.or_else(|| (holder_subtype == ContactSubtype::Person).then(|| "individual".to_string()));
        Ok(Some(NewAccount {
            holder_subtype,
            holder,
            location,
            producer_codes: codes.unwrap_or_default(),
            organization_type,
            coverage_currency: cov.unwrap_or(CurrencyCode::USD),
            settlement_currency: set.unwrap_or(CurrencyCode::USD),
        }))
    })?;
    Ok(account)
}

/// The attributes a PATCH may change. `None` leaves a field as it is.
#[derive(Default)]
pub struct AccountPatch {
    pub coverage_currency: Option<CurrencyCode>,
    pub settlement_currency: Option<CurrencyCode>,
    pub organization_type: Option<String>,
    pub producer_codes: Option<Vec<String>>,
    pub primary_location: Option<u64>,
    pub business_operations_description: Option<String>,
    pub year_business_started: Option<i32>,
}

/// Attributes a client sees but may not write.
const READ_ONLY: &[&str] =
    &["id", "accountNumber", "accountStatus", "accountHolder", "numberOfContacts", "createdDate", "updatedDate"];

pub fn account_patch<'v>(v: impl Into<Sent<'v>>) -> Result<(AccountPatch, Option<String>), AccountError> {
    body(v, |a| {
        refuse_empty(a)?;
        for ro in READ_ONLY {
            refuse_field(a, ro, "is read-only")?;
        }
        let this_year = Utc::now().year() as i64;
        Ok(Some(AccountPatch {
            coverage_currency: currency(a, "preferredCoverageCurrency")?,
            settlement_currency: currency(a, "preferredSettlementCurrency")?,
            organization_type: typekey(a, "organizationType", optional(), ORGANIZATION_TYPES)?,
            producer_codes: if a.has("producerCodes") { producer_codes(a, true)? } else { None },
            primary_location: reference(a, "primaryLocation", optional())?,
            business_operations_description: a.text_block("businessOperationsDescription", optional(), 1000)?,
            year_business_started: a.integer("yearBusinessStarted", optional(), 1700, this_year)?.map(|y| y as i32),
        }))
    })
}

/// The merge body of seed 001: `{"data": {"attributes": {"account": {"id": "<source>"}}}}`.
pub fn merge_body<'v>(v: impl Into<Sent<'v>>) -> Result<(u64, Option<String>), AccountError> {
    body(v, |a| reference(a, "account", required()))
}

pub fn new_note<'v>(v: impl Into<Sent<'v>>) -> Result<(Option<String>, String, String, bool), AccountError> {
    let (note, _) = body(v, |a| {
        let subject = a.string("subject", optional(), 255)?;
        let text = a.text_block("body", required(), 65_000)?;
        let topic = typekey(a, "topic", optional(), NOTE_TOPICS)?.unwrap_or_else(|| "general".into());
        let confidential = a.boolean("confidential", optional())?.unwrap_or(false);
        Ok(text.map(|text| (subject, text, topic, confidential)))
    })?;
    Ok(note)
}

pub struct NewActivity {
    pub subject: String,
    pub description: Option<String>,
    pub priority: String,
    pub due_date: Option<NaiveDate>,
}

pub fn new_activity<'v>(v: impl Into<Sent<'v>>) -> Result<NewActivity, AccountError> {
    let (activity, _) = body(v, |a| {
        let subject = a.string("subject", required(), 255)?;
        let description = a.text_block("description", optional(), 4000)?;
        let priority = typekey(a, "priority", optional(), ACTIVITY_PRIORITIES)?.unwrap_or_else(|| "normal".into());
        let due_date = a.date("dueDate", optional())?;
        Ok(subject.map(|subject| NewActivity { subject, description, priority, due_date }))
    })?;
    Ok(activity)
}

pub fn new_location<'v>(v: impl Into<Sent<'v>>) -> Result<Address, AccountError> {
    let (address, _) = body(v, |a| {
        a.ignore("locationCode");
        address_fields(a)
    })?;
    Ok(address)
}

/// `PATCH .../locations/{locationId}`: any of the address's attributes; the address they make
/// with the current one's others is checked whole (a state of the country, a postal code of
/// it). A new country needs its state. The location's code is the server's.
pub fn location_patch_body<'v>(
    v: impl Into<Sent<'v>>,
    current: &Address,
) -> Result<(Address, Option<String>), AccountError> {
    body(v, |a| {
        refuse_empty(a)?;
        refuse_field(a, "locationCode", "is given by the server and cannot be changed")?;
        let line1 = a.string("addressLine1", optional(), 120)?;
        let line2 = a.string("addressLine2", optional(), 120)?;
        let city = a.string("city", optional(), 60)?;
        let country = match a.has("country") {
            true => typekey(a, "country", optional(), &["US", "CA"])?,
            false => Some(current.country.clone()),
        };
        let new_country = country.as_deref().is_some_and(|c| c != current.country);
        let state = match a.has("state") {
            true => state(a, "state", optional(), country.as_deref())?,
            false if new_country => {
                a.problem("state", required(), "is required when the country changes").map(|_| None)?
            }
            false => Some(current.state),
        };
        let postal = a.string("postalCode", optional(), 10)?;
        a.ignore("displayName");
        let (Some(state), Some(country)) = (state, country) else { return Ok(None) };
        let postal_text = postal.unwrap_or_else(|| current.postal_code.clone());
        let Some(postal) = crate::types::PostalCode::parse(&postal_text, &country) else {
            return a.problem("postalCode", required(), "is not a valid postal code for the country").map(|_| None);
        };
        Ok(Some(Address {
            line1: line1.unwrap_or_else(|| current.line1.clone()),
            line2: line2.or_else(|| current.line2.clone()),
            city: city.unwrap_or_else(|| current.city.clone()),
            state,
            postal_code: postal.as_str().to_string(),
            country,
        }))
    })
}

/// `PUT .../online-access`: `{data: {attributes: {username, password}}}`. The username is read
/// in its canonical form ([`Username`]: 5 to 200 characters, no spaces); the password as sent,
/// untrimmed (the servicing login compares it exactly as typed), 10 to 200 characters.
pub fn online_access<'v>(v: impl Into<Sent<'v>>) -> Result<(Username, String), AccountError> {
    let (pair, _) = body(v, |o| {
        let raw = o.string("username", required(), 200)?;
        let password = o.string_as_sent("password", required(), 10, 200)?;
        let username = match raw.as_deref().map(Username::parse) {
            None => None,
            Some(Err(e)) => o.problem("username", required(), e.to_string()).map(|_| None)?,
            Some(Ok(u)) if u.as_str().chars().count() < 5 || u.as_str().contains(' ') => {
                o.problem("username", required(), "must be 5 to 200 characters without spaces").map(|_| None)?
            }
            Some(Ok(u)) => Some(u),
        };
        Ok(username.zip(password))
    })?;
    Ok(pair)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields(e: AccountError) -> Vec<String> {
        match e {
            AccountError::BadInput { details, .. } => details.into_iter().filter_map(|d| d.field).collect(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn vins_need_their_check_digit() {
        assert!(vin_is_valid("1M8GDM9AXKP042788"));
        assert!(vin_is_valid("11111111111111111"));
        assert!(!vin_is_valid("1M8GDM9A1KP042788"));
        assert!(!vin_is_valid("1M8GDM9AXKP04278"));
        assert!(!vin_is_valid("IM8GDM9AXKP042788"));
    }

    #[test]
    fn the_seed_patch_parses() {
        let body = json!({"data": {"attributes": {"preferredCoverageCurrency": {"code": "cad"}, "preferredSettlementCurrency": {"code": "cad"}}}});
        let (patch, checksum) = account_patch(&body).unwrap();
        assert_eq!(patch.coverage_currency.map(|c| c.as_str()), Some("cad"));
        assert_eq!(patch.settlement_currency.map(|c| c.as_str()), Some("cad"));
        assert!(checksum.is_none());
    }

    #[test]
    fn unknown_read_only_and_invalid_attributes_are_all_reported() {
        let body = json!({"data": {"attributes": {"preferredCoverageCurrency": {"code": "xyz"}, "colour": "red", "accountStatus": {"code": "Active"}}}});
        let got = fields(account_patch(&body).err().unwrap());
        assert!(got.contains(&"body.data.attributes.preferredCoverageCurrency.code".to_string()), "{got:?}");
        assert!(got.contains(&"body.data.attributes.colour".to_string()), "{got:?}");
        assert!(got.contains(&"body.data.attributes.accountStatus".to_string()), "{got:?}");
    }

    #[test]
    fn error_messages_never_echo_the_value_sent() {
        let secret = "Jane-Secret-Doe";
        let body = json!({"data": {"attributes": {"initialAccountHolder": {"contactSubtype": "Person", "firstName": 5, "lastName": secret, "emailAddress1": secret, "primaryAddress": {"addressLine1": secret, "city": "X", "state": {"code": secret}, "postalCode": secret}}}}});
        let e = new_account(&body).err().unwrap();
        assert!(!format!("{e:?}").contains(secret));
    }

    #[test]
    fn a_new_account_needs_holder_location_and_producer_codes() {
        let got = fields(new_account(&json!({"data": {"attributes": {}}})).err().unwrap());
        for f in ["initialAccountHolder", "initialPrimaryLocation", "producerCodes"] {
            assert!(got.contains(&format!("body.data.attributes.{f}")), "{got:?}");
        }
    }

    #[test]
    fn one_line_fields_refuse_line_breaks_while_notes_keep_them() {
        let body = json!({"data": {"attributes": {"initialAccountHolder": {"contactSubtype": "Person", "firstName": "Ann\nX", "lastName": "Lee", "primaryAddress": {"addressLine1": "1 Main", "city": "Austin", "state": {"code": "TX"}, "postalCode": "78701"}}, "initialPrimaryLocation": {"addressLine1": "1 Main", "city": "Austin", "state": {"code": "TX"}, "postalCode": "78701"}, "producerCodes": [{"id": "pc:1"}]}}});
        let got = fields(new_account(&body).err().unwrap());
        assert_eq!(got, ["body.data.attributes.initialAccountHolder.firstName"]);
        let (_, text, _, _) = new_note(&json!({"data": {"attributes": {"body": "line one\n\tline two"}}})).unwrap();
        assert_eq!(text, "line one\n\tline two");
    }

    #[test]
    fn null_and_blank_attributes_are_refused_at_their_path() {
        let body = json!({"data": {"attributes": {"businessOperationsDescription": null, "organizationType": {"code": "  "}}}});
        let got = fields(account_patch(&body).err().unwrap());
        assert_eq!(
            got,
            ["body.data.attributes.organizationType.code", "body.data.attributes.businessOperationsDescription"]
        );
    }
}
