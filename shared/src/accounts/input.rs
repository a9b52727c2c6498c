//! Request bodies to validated domain input. Fields are read one by one (not through serde's
//! derive) so that every problem is reported at once, with the path of the field, without ever
//! echoing the value the client sent (it may be personal data), and so that unknown fields are
//! named and refused.

use chrono::{Datelike, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde_json::{Map, Value};

use super::error::{AccountError, Detail};
use super::model::*;

pub const CURRENCIES: &[&str] = &[
    "usd", "cad", "eur", "gbp", "aud", "nzd", "jpy", "chf", "mxn", "brl", "cny", "hkd", "sgd", "inr", "krw", "sek",
    "nok", "dkk", "pln", "zar",
];
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
pub use crate::types::{CA_PROVINCES, US_STATES};
pub const NOTE_TOPICS: &[&str] = &["general", "underwriting", "billing", "claims", "servicing", "legal"];
pub const ACTIVITY_PRIORITIES: &[&str] = &["low", "normal", "high", "urgent"];
pub const MORTGAGEE_TYPES: &[&str] = &["FIRST", "SECOND", "THIRD"];
pub const LIEN_TYPES: &[&str] = &["LIEN_HOLDER", "LESSOR", "LOSS_PAYEE"];

/// Collected problems with one request.
#[derive(Default)]
pub struct Problems(pub Vec<Detail>);

impl Problems {
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0.push(Detail::at(field, message));
    }
    pub fn into_result<T>(self, value: T) -> Result<T, AccountError> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(AccountError::bad_input(self.0))
        }
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

enum Slot<'a> {
    Absent,
    Null,
    Value(&'a Value),
}

/// A JSON object being read field by field; `end` reports the fields nobody asked for.
pub struct Obj<'a> {
    path: String,
    map: &'a Map<String, Value>,
    seen: Vec<&'a str>,
}

impl<'a> Obj<'a> {
    pub fn new(path: &str, v: &'a Value, p: &mut Problems) -> Option<Obj<'a>> {
        match v {
            Value::Object(map) => Some(Obj { path: path.to_string(), map, seen: Vec::new() }),
            other => {
                p.add(path, format!("must be an object, not {}", type_name(other)));
                None
            }
        }
    }

    pub fn field(&self, name: &str) -> String {
        format!("{}.{name}", self.path)
    }

    pub fn has(&self, name: &str) -> bool {
        self.map.contains_key(name)
    }

    /// A field's value. `null` is never a value here (to leave a field out, leave it out): it is
    /// reported at the field and read as handled, so no "is required" follows it.
    fn get(&mut self, p: &mut Problems, name: &str) -> Slot<'a> {
        let Some((k, v)) = self.map.get_key_value(name) else { return Slot::Absent };
        self.seen.push(k.as_str());
        if v.is_null() {
            p.add(&self.field(name), "must not be null; leave the attribute out instead");
            Slot::Null
        } else {
            Slot::Value(v)
        }
    }

    /// Marks a field as known without reading it (read-only echoes such as a typekey's `name`).
    pub fn ignore(&mut self, name: &str) {
        if let Some((k, _)) = self.map.get_key_value(name) {
            self.seen.push(k.as_str());
        }
    }

    /// The value of a field that is present and not null; reports a missing required field.
    fn value(&mut self, p: &mut Problems, name: &str, required: bool) -> Option<&'a Value> {
        match self.get(p, name) {
            Slot::Absent => {
                if required {
                    p.add(&self.field(name), "is required");
                }
                None
            }
            Slot::Null => None,
            Slot::Value(v) => Some(v),
        }
    }

    pub fn string(&mut self, p: &mut Problems, name: &str, required: bool, max: usize) -> Option<String> {
        let field = self.field(name);
        let Value::String(s) = self.value(p, name, required)? else {
            let other = self.map.get(name).map(type_name).unwrap_or("nothing");
            p.add(&field, format!("must be a string, not {other}"));
            return None;
        };
        let t = s.trim();
        if t.is_empty() {
            p.add(&field, "must not be blank");
            None
        } else if t.chars().count() > max {
            p.add(&field, format!("must be at most {max} characters"));
            None
        } else if t.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
            p.add(&field, "must not contain control characters");
            None
        } else {
            Some(t.to_string())
        }
    }

    pub fn boolean(&mut self, p: &mut Problems, name: &str) -> Option<bool> {
        let field = self.field(name);
        match self.value(p, name, false)? {
            Value::Bool(b) => Some(*b),
            other => {
                p.add(&field, format!("must be a boolean, not {}", type_name(other)));
                None
            }
        }
    }

    pub fn integer(&mut self, p: &mut Problems, name: &str, required: bool, min: i64, max: i64) -> Option<i64> {
        let field = self.field(name);
        match self.value(p, name, required)? {
            Value::Number(n) => match n.as_i64() {
                Some(i) if (min..=max).contains(&i) => Some(i),
                _ => {
                    p.add(&field, format!("must be a whole number from {min} to {max}"));
                    None
                }
            },
            other => {
                p.add(&field, format!("must be a number, not {}", type_name(other)));
                None
            }
        }
    }

    pub fn date(&mut self, p: &mut Problems, name: &str, required: bool) -> Option<NaiveDate> {
        let field = self.field(name);
        let s = self.string(p, name, required, 10)?;
        match NaiveDate::parse_from_str(&s, "%Y-%m-%d") {
            Ok(d) if s.len() == 10 => Some(d),
            _ => {
                p.add(&field, "must be a date in the form yyyy-mm-dd");
                None
            }
        }
    }

    pub fn object(&mut self, p: &mut Problems, name: &str, required: bool) -> Option<Obj<'a>> {
        let field = self.field(name);
        let v = self.value(p, name, required)?;
        Obj::new(&field, v, p)
    }

    pub fn array(&mut self, p: &mut Problems, name: &str, required: bool, max: usize) -> Option<Vec<Obj<'a>>> {
        let field = self.field(name);
        let Value::Array(items) = self.value(p, name, required)? else {
            let other = self.map.get(name).map(type_name).unwrap_or("nothing");
            p.add(&field, format!("must be an array, not {other}"));
            return None;
        };
        if items.len() > max {
            p.add(&field, format!("must have at most {max} entries"));
            return None;
        }
        let mut out = Vec::with_capacity(items.len());
        for (i, v) in items.iter().enumerate() {
            out.push(Obj::new(&format!("{field}[{i}]"), v, p)?);
        }
        Some(out)
    }

    /// A typekey `{code}` (a `name` beside it is accepted and ignored), checked against `allowed`.
    pub fn typekey(&mut self, p: &mut Problems, name: &str, required: bool, allowed: &[&str]) -> Option<String> {
        let field = self.field(name);
        let mut o = self.object(p, name, required)?;
        o.ignore("name");
        let code = o.string(p, "code", true, 64);
        o.end(p);
        let code = code?;
        if allowed.contains(&code.as_str()) {
            Some(code)
        } else {
            p.add(&format!("{field}.code"), format!("is not one of the allowed codes: {}", allowed.join(", ")));
            None
        }
    }

    /// A reference `{id}` to a `pc:<n>` resource.
    pub fn reference(&mut self, p: &mut Problems, name: &str, required: bool) -> Option<u64> {
        let field = self.field(name);
        let mut o = self.object(p, name, required)?;
        o.ignore("displayName");
        o.ignore("type");
        o.ignore("uri");
        let id = o.string(p, "id", true, 32);
        o.end(p);
        let id = id?;
        match parse_id(&id) {
            Some(n) => Some(n),
            None => {
                p.add(&format!("{field}.id"), "is not an id of the form pc:<number>");
                None
            }
        }
    }

    pub fn end(self, p: &mut Problems) {
        for k in self.map.keys() {
            if !self.seen.contains(&k.as_str()) {
                p.add(&self.field(k), "is not a known attribute");
            }
        }
    }
}

/// A PATCH must name something to change.
fn refuse_empty(a: &Obj, p: &mut Problems) {
    if a.map.is_empty() {
        p.add(&a.path, "names no attribute to change");
    }
}

/// Reads `{"data": {"attributes": {...}, "checksum": "..."}}`.
pub fn envelope<'a>(body: &'a Value, p: &mut Problems) -> Option<(Obj<'a>, Option<String>)> {
    let mut root = Obj::new("body", body, p)?;
    let mut data = root.object(p, "data", true)?;
    root.end(p);
    let checksum = data.string(p, "checksum", false, 64);
    data.ignore("links");
    data.ignore("id");
    data.ignore("type");
    let attrs = data.object(p, "attributes", true);
    data.end(p);
    Some((attrs?, checksum))
}

pub fn address_fields(o: &mut Obj, p: &mut Problems) -> Option<Address> {
    let line1 = o.string(p, "addressLine1", true, 120);
    let line2 = o.string(p, "addressLine2", false, 120);
    let city = o.string(p, "city", true, 60);
    let country = if o.has("country") { o.typekey(p, "country", false, &["US", "CA"]) } else { Some("US".to_string()) };
    let field = o.field("state");
    let state = o.typekey(p, "state", true, if country.as_deref() == Some("CA") { CA_PROVINCES } else { US_STATES });
    let _ = field;
    let postal_field = o.field("postalCode");
    let postal = o.string(p, "postalCode", true, 10);
    o.ignore("displayName");
    let (line1, city, state, postal, country) = (line1?, city?, state?, postal?, country?);
    let Some(postal) = crate::types::PostalCode::parse(&postal, &country) else {
        p.add(&postal_field, "is not a valid postal code for the country");
        return None;
    };
    Some(Address { line1, line2, city, state, postal_code: postal.as_str().to_string(), country })
}

pub fn address(o: &mut Obj, p: &mut Problems, name: &str, required: bool) -> Option<Address> {
    let mut a = o.object(p, name, required)?;
    let addr = address_fields(&mut a, p);
    a.end(p);
    addr
}

fn email(o: &mut Obj, p: &mut Problems, name: &str) -> Option<String> {
    let field = o.field(name);
    let e = o.string(p, name, false, 254)?;
    match crate::types::Email::parse(&e) {
        Some(e) => Some(e.into_string()),
        None => {
            p.add(&field, "is not an email address");
            None
        }
    }
}

fn phone(o: &mut Obj, p: &mut Problems, name: &str) -> Option<String> {
    let field = o.field(name);
    let s = o.string(p, name, false, 25)?;
    let digits = s.chars().filter(char::is_ascii_digit).count();
    if (7..=15).contains(&digits) && s.chars().all(|c| c.is_ascii_digit() || " +-().x".contains(c)) {
        Some(s)
    } else {
        p.add(&field, "is not a phone number");
        None
    }
}

/// The contact fields shared by create and PATCH; `subtype` decides which name fields are allowed.
pub struct ContactFields {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub company_name: Option<String>,
    pub email: Option<String>,
    pub home_phone: Option<String>,
    pub work_phone: Option<String>,
    pub cell_phone: Option<String>,
    pub address: Option<Address>,
}

fn contact_fields(o: &mut Obj, p: &mut Problems, subtype: ContactSubtype, creating: bool) -> ContactFields {
    let (first_name, last_name, company_name) = match subtype {
        ContactSubtype::Person => {
            if o.has("companyName") {
                let f = o.field("companyName");
                o.ignore("companyName");
                p.add(&f, "is for Company contacts; this contact is a Person");
            }
            (o.string(p, "firstName", creating, 60), o.string(p, "lastName", creating, 60), None)
        }
        ContactSubtype::Company => {
            for n in ["firstName", "lastName"] {
                if o.has(n) {
                    let f = o.field(n);
                    o.ignore(n);
                    p.add(&f, "is for Person contacts; this contact is a Company");
                }
            }
            (None, None, o.string(p, "companyName", creating, 120))
        }
    };
    o.ignore("displayName");
    ContactFields {
        first_name,
        last_name,
        company_name,
        email: email(o, p, "emailAddress1"),
        home_phone: phone(o, p, "homePhone"),
        work_phone: phone(o, p, "workPhone"),
        cell_phone: phone(o, p, "cellPhone"),
        address: address(o, p, "primaryAddress", false),
    }
}

fn subtype(o: &mut Obj, p: &mut Problems) -> Option<ContactSubtype> {
    let field = o.field("contactSubtype");
    match o.string(p, "contactSubtype", true, 16)?.as_str() {
        "Person" => Some(ContactSubtype::Person),
        "Company" => Some(ContactSubtype::Company),
        _ => {
            p.add(&field, "must be Person or Company");
            None
        }
    }
}

/// `initialAccountHolder` or a new contact: subtype, names, details.
pub fn new_contact(o: &mut Obj, p: &mut Problems, address_required: bool) -> Option<(ContactSubtype, ContactFields)> {
    let st = subtype(o, p)?;
    let f = contact_fields(o, p, st, true);
    if address_required && f.address.is_none() && !o.has("primaryAddress") {
        p.add(&o.field("primaryAddress"), "is required");
    }
    Some((st, f))
}

pub fn contact_patch(o: &mut Obj, p: &mut Problems, subtype: ContactSubtype) -> ContactFields {
    if o.has("contactSubtype") {
        let f = o.field("contactSubtype");
        o.ignore("contactSubtype");
        p.add(&f, "cannot be changed");
    }
    contact_fields(o, p, subtype, false)
}

pub struct NewAccount {
    pub holder_subtype: ContactSubtype,
    pub holder: ContactFields,
    pub location: Address,
    pub producer_codes: Vec<String>,
    pub organization_type: Option<String>,
    pub coverage_currency: String,
    pub settlement_currency: String,
}

fn producer_codes(o: &mut Obj, p: &mut Problems, required: bool) -> Option<Vec<String>> {
    let field = o.field("producerCodes");
    let items = o.array(p, "producerCodes", required, 20)?;
    let mut out = Vec::new();
    for (i, mut item) in items.into_iter().enumerate() {
        item.ignore("displayName");
        let f = item.field("id");
        if let Some(id) = item.string(p, "id", true, 64) {
            if id.chars().all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c)) {
                if !out.contains(&id) {
                    out.push(id);
                }
            } else {
                p.add(&f, "may hold letters, digits and - _ . : only");
            }
        }
        item.end(p);
        let _ = i;
    }
    if required && out.is_empty() {
        p.add(&field, "must name at least one producer code");
    }
    Some(out)
}

pub fn new_account(body: &Value) -> Result<NewAccount, AccountError> {
    let mut p = Problems::default();
    let Some((mut a, _)) = envelope(body, &mut p) else { return Err(AccountError::bad_input(p.0)) };
    let holder = a.object(&mut p, "initialAccountHolder", true).and_then(|mut h| {
        let r = new_contact(&mut h, &mut p, true);
        h.end(&mut p);
        r
    });
    let location = a.object(&mut p, "initialPrimaryLocation", true).and_then(|mut l| {
        let r = address_fields(&mut l, &mut p);
        l.end(&mut p);
        r
    });
    let codes = producer_codes(&mut a, &mut p, true);
    let org = a.typekey(&mut p, "organizationType", false, ORGANIZATION_TYPES);
    let cov = a.typekey(&mut p, "preferredCoverageCurrency", false, CURRENCIES);
    let set = a.typekey(&mut p, "preferredSettlementCurrency", false, CURRENCIES);
    a.end(&mut p);
    if !p.0.is_empty() {
        return Err(AccountError::bad_input(p.0));
    }
    let (holder_subtype, holder) =
        holder.ok_or_else(|| AccountError::bad("body.data.attributes.initialAccountHolder", "is invalid"))?;
    let organization_type =
        org.or_else(|| (holder_subtype == ContactSubtype::Person).then(|| "individual".to_string()));
    Ok(NewAccount {
        holder_subtype,
        holder,
        location: location
            .ok_or_else(|| AccountError::bad("body.data.attributes.initialPrimaryLocation", "is invalid"))?,
        producer_codes: codes.unwrap_or_default(),
        organization_type,
        coverage_currency: cov.unwrap_or_else(|| "usd".into()),
        settlement_currency: set.unwrap_or_else(|| "usd".into()),
    })
}

/// The attributes a PATCH may change. `None` leaves a field as it is.
#[derive(Default)]
pub struct AccountPatch {
    pub coverage_currency: Option<String>,
    pub settlement_currency: Option<String>,
    pub organization_type: Option<String>,
    pub producer_codes: Option<Vec<String>>,
    pub primary_location: Option<u64>,
    pub business_operations_description: Option<String>,
    pub year_business_started: Option<i32>,
}

/// Attributes a client sees but may not write.
const READ_ONLY: &[&str] =
    &["id", "accountNumber", "accountStatus", "accountHolder", "numberOfContacts", "createdDate", "updatedDate"];

pub fn account_patch(body: &Value) -> Result<(AccountPatch, Option<String>), AccountError> {
    let mut p = Problems::default();
    let Some((mut a, checksum)) = envelope(body, &mut p) else { return Err(AccountError::bad_input(p.0)) };
    refuse_empty(&a, &mut p);
    for ro in READ_ONLY {
        if a.has(ro) {
            let f = a.field(ro);
            a.ignore(ro);
            p.add(&f, "is read-only");
        }
    }
    let this_year = Utc::now().year() as i64;
    let patch = AccountPatch {
        coverage_currency: a.typekey(&mut p, "preferredCoverageCurrency", false, CURRENCIES),
        settlement_currency: a.typekey(&mut p, "preferredSettlementCurrency", false, CURRENCIES),
        organization_type: a.typekey(&mut p, "organizationType", false, ORGANIZATION_TYPES),
        producer_codes: if a.has("producerCodes") { producer_codes(&mut a, &mut p, true) } else { None },
        primary_location: a.reference(&mut p, "primaryLocation", false),
        business_operations_description: a.string(&mut p, "businessOperationsDescription", false, 1000),
        year_business_started: a.integer(&mut p, "yearBusinessStarted", false, 1700, this_year).map(|y| y as i32),
    };
    a.end(&mut p);
    p.into_result((patch, checksum))
}

/// The merge body of seed 001: `{"data": {"attributes": {"account": {"id": "<source>"}}}}`.
pub fn merge_body(body: &Value) -> Result<(u64, Option<String>), AccountError> {
    let mut p = Problems::default();
    let Some((mut a, checksum)) = envelope(body, &mut p) else { return Err(AccountError::bad_input(p.0)) };
    let source = a.reference(&mut p, "account", true);
    a.end(&mut p);
    let source = p.into_result(source)?;
    Ok((source.expect("no problems means the source was read"), checksum))
}

pub fn new_note(body: &Value) -> Result<(Option<String>, String, String, bool), AccountError> {
    let mut p = Problems::default();
    let Some((mut a, _)) = envelope(body, &mut p) else { return Err(AccountError::bad_input(p.0)) };
    let subject = a.string(&mut p, "subject", false, 255);
    let text = a.string(&mut p, "body", true, 65_000);
    let topic = a.typekey(&mut p, "topic", false, NOTE_TOPICS).unwrap_or_else(|| "general".into());
    let confidential = a.boolean(&mut p, "confidential").unwrap_or(false);
    a.end(&mut p);
    let text = p.into_result(text)?;
    Ok((subject, text.unwrap_or_default(), topic, confidential))
}

pub struct NewActivity {
    pub subject: String,
    pub description: Option<String>,
    pub priority: String,
    pub due_date: Option<NaiveDate>,
}

pub fn new_activity(body: &Value) -> Result<NewActivity, AccountError> {
    let mut p = Problems::default();
    let Some((mut a, _)) = envelope(body, &mut p) else { return Err(AccountError::bad_input(p.0)) };
    let subject = a.string(&mut p, "subject", true, 255);
    let description = a.string(&mut p, "description", false, 4000);
    let priority = a.typekey(&mut p, "priority", false, ACTIVITY_PRIORITIES).unwrap_or_else(|| "normal".into());
    let due_date = a.date(&mut p, "dueDate", false);
    a.end(&mut p);
    let subject = p.into_result(subject)?;
    Ok(NewActivity { subject: subject.unwrap_or_default(), description, priority, due_date })
}

pub fn new_location(body: &Value) -> Result<Address, AccountError> {
    let mut p = Problems::default();
    let Some((mut a, _)) = envelope(body, &mut p) else { return Err(AccountError::bad_input(p.0)) };
    a.ignore("locationCode");
    let addr = address_fields(&mut a, &mut p);
    a.end(&mut p);
    p.into_result(addr)?.ok_or_else(|| AccountError::bad("body.data.attributes", "is not an address"))
}

pub fn new_contact_body(body: &Value) -> Result<(ContactSubtype, ContactFields), AccountError> {
    let mut p = Problems::default();
    let Some((mut a, _)) = envelope(body, &mut p) else { return Err(AccountError::bad_input(p.0)) };
    let c = new_contact(&mut a, &mut p, false);
    a.end(&mut p);
    p.into_result(c)?.ok_or_else(|| AccountError::bad("body.data.attributes", "is not a contact"))
}

pub fn contact_patch_body(
    body: &Value,
    subtype: ContactSubtype,
) -> Result<(ContactFields, Option<String>), AccountError> {
    let mut p = Problems::default();
    let Some((mut a, checksum)) = envelope(body, &mut p) else { return Err(AccountError::bad_input(p.0)) };
    refuse_empty(&a, &mut p);
    let f = contact_patch(&mut a, &mut p, subtype);
    a.end(&mut p);
    p.into_result((f, checksum))
}

/// A VIN: 17 characters without I, O or Q, whose ninth is the North American check digit.
/// Whether `vin` is a valid 17-character VIN (check digit included): see [`crate::types::Vin`].
pub fn vin_is_valid(vin: &str) -> bool {
    crate::types::Vin::parse(vin).is_some_and(|v| v.as_str() == vin)
}

pub struct NewPolicy {
    pub policy: Policy,
    /// How many sub-element ids (mortgagees, drivers, vehicles, lien holders) the policy needs.
    pub sub_ids: u64,
}

/// A policy (our extension). Sub-elements get ids later, when the service reserves them.
pub fn new_policy(body: &Value) -> Result<NewPolicy, AccountError> {
    let mut p = Problems::default();
    let Some((mut a, _)) = envelope(body, &mut p) else { return Err(AccountError::bad_input(p.0)) };
    let all_lines: Vec<&str> = PROPERTY_LINES.iter().chain(AUTO_LINES).chain(OTHER_LINES).copied().collect();
    let number_field = a.field("policyNumber");
    let number = a.string(&mut p, "policyNumber", true, 50);
    if let Some(n) = &number {
        if !n.chars().all(|c| c.is_ascii_alphanumeric() || " -_/.".contains(c)) {
            p.add(&number_field, "may hold letters, digits, spaces and - _ / . only");
        }
    }
    let line = a.typekey(&mut p, "lineOfBusiness", true, &all_lines);
    let eff = a.date(&mut p, "effectiveDate", true);
    let exp_field = a.field("expirationDate");
    let exp = a.date(&mut p, "expirationDate", true);
    if let (Some(e), Some(x)) = (eff, exp) {
        if x <= e {
            p.add(&exp_field, "must be after effectiveDate");
        }
    }
    let premium = a.object(&mut p, "totalPremium", false).and_then(|mut m| {
        let f = m.field("amount");
        let amount = m.string(&mut p, "amount", true, 20);
        let currency = m.typekey_plain(&mut p, "currency", CURRENCIES);
        m.end(&mut p);
        let amount = match amount?.parse::<Decimal>() {
            Ok(d) if d >= Decimal::ZERO && d.scale() <= 2 => d,
            _ => {
                p.add(&f, "must be a non-negative decimal string with at most 2 decimals, e.g. \"1200.00\"");
                return None;
            }
        };
        Some(Money { amount, currency: currency? })
    });
    let insured = a.object(&mut p, "insured", true).map(|mut o| {
        let first_name = o.string(&mut p, "firstName", false, 60);
        let last_name = o.string(&mut p, "lastName", false, 60);
        let company_name = o.string(&mut p, "companyName", false, 120);
        if company_name.is_none()
            && (first_name.is_none() || last_name.is_none())
            && !p.0.iter().any(|d| d.field.as_deref().is_some_and(|f| f.starts_with(&o.path)))
        {
            p.add(&o.path, "needs firstName and lastName, or companyName");
        }
        let ins = Insured {
            first_name,
            last_name,
            company_name,
            email: email(&mut o, &mut p, "emailAddress1"),
            phone: phone(&mut o, &mut p, "primaryPhone"),
            address: address(&mut o, &mut p, "primaryAddress", false),
        };
        o.end(&mut p);
        ins
    });
    let is_property = line.as_deref().is_some_and(|l| PROPERTY_LINES.contains(&l));
    let is_auto = line.as_deref().is_some_and(|l| AUTO_LINES.contains(&l));
    let mut mortgagees = Vec::new();
    if a.has("mortgagees") && line.is_some() && !is_property {
        p.add(&a.field("mortgagees"), "are only for property lines of business");
    }
    for mut m in a.array(&mut p, "mortgagees", false, 3).unwrap_or_default() {
        let name = m.string(&mut p, "name", true, 120);
        let t_field = m.field("mortgageeType");
        let t = m.typekey(&mut p, "mortgageeType", true, MORTGAGEE_TYPES);
        let loan = m.string(&mut p, "loanNumber", false, 50);
        let addr = address(&mut m, &mut p, "address", true);
        m.end(&mut p);
        if let Some(t) = &t {
            if mortgagees.iter().any(|x: &Mortgagee| &x.mortgagee_type == t) {
                p.add(&t_field, "appears twice: one mortgagee per type");
            }
        }
        if let (Some(name), Some(t), Some(addr)) = (name, t, addr) {
            mortgagees.push(Mortgagee { id: 0, name, mortgagee_type: t, loan_number: loan, address: addr });
        }
    }
    let mut drivers = Vec::new();
    let mut vehicles = Vec::new();
    for field in ["drivers", "vehicles"] {
        if a.has(field) && line.is_some() && !is_auto {
            p.add(&a.field(field), "are only for auto lines of business");
        }
    }
    for mut d in a.array(&mut p, "drivers", false, 20).unwrap_or_default() {
        let first = d.string(&mut p, "firstName", true, 60);
        let last = d.string(&mut p, "lastName", true, 60);
        let dob = d.date(&mut p, "dateOfBirth", false);
        let lic = d.string(&mut p, "licenseNumber", false, 30);
        let st = d.typekey(&mut p, "licenseState", false, US_STATES);
        d.end(&mut p);
        if let (Some(first_name), Some(last_name)) = (first, last) {
            drivers.push(Driver {
                id: 0,
                first_name,
                last_name,
                date_of_birth: dob,
                license_number: lic,
                license_state: st,
            });
        }
    }
    let max_year = Utc::now().year() as i64 + 2;
    for mut v in a.array(&mut p, "vehicles", false, 20).unwrap_or_default() {
        let vin_field = v.field("vin");
        let vin = v.string(&mut p, "vin", true, 17).map(|s| s.to_uppercase());
        if let Some(vin) = &vin {
            if !vin_is_valid(vin) {
                p.add(&vin_field, "is not a valid 17-character VIN (its check digit does not match)");
            } else if vehicles.iter().any(|x: &Vehicle| &x.vin == vin) {
                p.add(&vin_field, "appears twice on the policy");
            }
        }
        let make = v.string(&mut p, "make", true, 40);
        let model = v.string(&mut p, "model", true, 40);
        let year = v.integer(&mut p, "modelYear", true, 1900, max_year);
        let mut liens = Vec::new();
        for mut l in v.array(&mut p, "lienHolders", false, 3).unwrap_or_default() {
            let name = l.string(&mut p, "name", true, 120);
            let t =
                if l.has("type") { l.typekey(&mut p, "type", false, LIEN_TYPES) } else { Some("LIEN_HOLDER".into()) };
            let addr = address(&mut l, &mut p, "address", true);
            l.end(&mut p);
            if let (Some(name), Some(lien_type), Some(address)) = (name, t, addr) {
                liens.push(LienHolder { id: 0, name, lien_type, address });
            }
        }
        v.end(&mut p);
        if let (Some(vin), Some(make), Some(model), Some(model_year)) = (vin, make, model, year) {
            vehicles.push(Vehicle { id: 0, vin, make, model, model_year: model_year as i32, lien_holders: liens });
        }
    }
    a.end(&mut p);
    if !p.0.is_empty() {
        return Err(AccountError::bad_input(p.0));
    }
    let (Some(policy_number), Some(line_of_business), Some(effective_date), Some(expiration_date), Some(insured)) =
        (number, line, eff, exp, insured)
    else {
        return Err(AccountError::bad("body.data.attributes", "is not a policy"));
    };
    let sub_ids =
        (mortgagees.len() + drivers.len() + vehicles.iter().map(|v| 1 + v.lien_holders.len()).sum::<usize>()) as u64;
    Ok(NewPolicy {
        policy: Policy {
            policy_number,
            line_of_business,
            status: "InForce".into(),
            effective_date,
            expiration_date,
            total_premium: premium,
            insured,
            mortgagees,
            drivers,
            vehicles,
            created_at: Utc::now(),
        },
        sub_ids,
    })
}

impl<'a> Obj<'a> {
    /// A currency given as a plain code string (`"usd"`), as money amounts carry it.
    pub fn typekey_plain(&mut self, p: &mut Problems, name: &str, allowed: &[&str]) -> Option<String> {
        let field = self.field(name);
        let code = self.string(p, name, true, 8)?;
        if allowed.contains(&code.as_str()) {
            Some(code)
        } else {
            p.add(&field, format!("is not one of the allowed codes: {}", allowed.join(", ")));
            None
        }
    }
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
        assert_eq!(patch.coverage_currency.as_deref(), Some("cad"));
        assert_eq!(patch.settlement_currency.as_deref(), Some("cad"));
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
}
