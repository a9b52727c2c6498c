//! The original's JSON shapes: `{"data": {"attributes", "checksum", "links"}}` for one resource,
//! `{count, data, links, total}` for collections, typekeys as `{code, name}`.

use serde_json::{json, Map, Value};

use super::model::*;
use crate::json::object;

pub fn typekey(code: &str) -> Value {
    json!({"code": code, "name": typekey_name(code)})
}

fn typekey_name(code: &str) -> String {
    match code {
        "InForce" => "In Force".into(),
        "soleprop" => "Sole proprietorship".into(),
        "llc" => "LLC".into(),
        "jointventure" => "Joint venture".into(),
        "nonprofit" => "Non-profit".into(),
        c if c.len() == 3 && c.chars().all(|c| c.is_ascii_lowercase()) => c.to_uppercase(),
        c => {
            let mut s = c.to_string();
            if let Some(f) = s.get_mut(0..1) {
                f.make_ascii_uppercase();
            }
            s
        }
    }
}

fn link(href: &str, methods: &[&str]) -> Value {
    json!({"href": href, "methods": methods})
}

pub fn address_attrs(a: &Address, m: &mut Map<String, Value>) {
    m.insert("addressLine1".into(), json!(a.line1));
    if let Some(l2) = &a.line2 {
        m.insert("addressLine2".into(), json!(l2));
    }
    m.insert("city".into(), json!(a.city));
    m.insert("state".into(), json!({"code": a.state.as_str(), "name": a.state.as_str()}));
    m.insert("postalCode".into(), json!(a.postal_code));
    m.insert("country".into(), json!({"code": a.country, "name": a.country}));
    m.insert("displayName".into(), json!(a.display()));
}

fn address(a: &Address) -> Value {
    let mut m = Map::new();
    address_attrs(a, &mut m);
    Value::Object(m)
}

pub fn account_attributes(a: &Account) -> Value {
    let uri = account_uri(a.id);
    let mut m = Map::new();
    m.insert("id".into(), json!(format_id(a.id)));
    m.insert("accountNumber".into(), json!(a.number));
    m.insert("accountStatus".into(), typekey(a.status.code()));
    m.insert(
        "accountHolder".into(),
        json!({"displayName": a.holder.display_name, "id": format_id(a.holder.contact_id), "type": a.holder.subtype.code(),
               "uri": format!("{uri}/contacts/{}", format_id(a.holder.contact_id))}),
    );
    if let Some(o) = &a.organization_type {
        m.insert("organizationType".into(), typekey(o));
    }
    m.insert(
        "primaryLocation".into(),
        json!({"displayName": a.primary_location.display_name, "id": format_id(a.primary_location.id), "type": "AccountLocation",
               "uri": format!("{uri}/locations/{}", format_id(a.primary_location.id))}),
    );
    m.insert(
        "producerCodes".into(),
        Value::Array(a.producer_codes.iter().map(|p| json!({"displayName": p, "id": p})).collect()),
    );
    m.insert("numberOfContacts".into(), json!(a.contact_count.to_string()));
    m.insert("preferredCoverageCurrency".into(), typekey(a.coverage_currency.as_str()));
    m.insert("preferredSettlementCurrency".into(), typekey(a.settlement_currency.as_str()));
    if let Some(d) = &a.business_operations_description {
        m.insert("businessOperationsDescription".into(), json!(d));
    }
    if let Some(y) = a.year_business_started {
        m.insert("yearBusinessStarted".into(), json!(y));
    }
    m.insert("createdDate".into(), json!(a.created_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)));
    m.insert("updatedDate".into(), json!(a.updated_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)));
    Value::Object(m)
}

fn account_links(a: &Account) -> Value {
    let uri = account_uri(a.id);
    let mut links = Map::new();
    links.insert("self".into(), link(&uri, &["get", "patch"]));
    match a.status {
        AccountStatus::Pending if a.policy_count == 0 => {
            links.insert("withdraw".into(), link(&format!("{uri}/withdraw"), &["post"]));
        }
        AccountStatus::Withdrawn => {
            links.insert("reopen".into(), link(&format!("{uri}/reopen"), &["post"]));
        }
        _ => {}
    }
    if a.status != AccountStatus::Withdrawn {
        links.insert("merge".into(), link(&format!("{uri}/merge"), &["post"]));
    }
    for sub in ["contacts", "locations", "notes", "policies", "activities"] {
        links.insert(sub.into(), link(&format!("{uri}/{sub}"), &["get", "post"]));
    }
    links.insert("jobs".into(), link(&format!("{uri}/jobs"), &["get"]));
    Value::Object(links)
}

pub fn account_element(a: &Versioned<Account>) -> Value {
    object([
        ("attributes", account_attributes(&a.value)),
        ("checksum", Value::String(a.version.to_string())),
        ("links", account_links(&a.value)),
    ])
}

pub fn single(element: Value) -> Value {
    object([("data", element)])
}

/// `{"data": element}` of an account shown whole, written straight to JSON text: the same bytes
/// as [`single`]`(`[`account_element`]`(a))` serialised -- its members in the order a `Value`
/// sorts them, each struct below spelling them so (a test compares the two over accounts of
/// every shape) -- without building and dropping the `Value` tree, which was half of what a
/// `GET` of an account cost the local server.
pub fn account_single_json(a: &Versioned<Account>) -> Vec<u8> {
    use serde::Serialize;
    #[derive(Serialize)]
    struct TypeKey<'a> {
        code: &'a str,
        name: String,
    }
    fn tk(code: &str) -> TypeKey<'_> {
        TypeKey { code, name: typekey_name(code) }
    }
    #[derive(Serialize)]
    struct Ref<'a> {
        #[serde(rename = "displayName")]
        display_name: &'a str,
        id: String,
        #[serde(rename = "type")]
        kind: &'a str,
        uri: String,
    }
    #[derive(Serialize)]
    struct Code<'a> {
        #[serde(rename = "displayName")]
        display_name: &'a str,
        id: &'a str,
    }
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Attributes<'a> {
        account_holder: Ref<'a>,
        account_number: &'a str,
        account_status: TypeKey<'a>,
        #[serde(skip_serializing_if = "Option::is_none")]
        business_operations_description: Option<&'a str>,
        created_date: String,
        id: String,
        number_of_contacts: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        organization_type: Option<TypeKey<'a>>,
        preferred_coverage_currency: TypeKey<'a>,
        preferred_settlement_currency: TypeKey<'a>,
        primary_location: Ref<'a>,
        producer_codes: Vec<Code<'a>>,
        updated_date: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        year_business_started: Option<i32>,
    }
    #[derive(Serialize)]
    struct Link {
        href: String,
        methods: &'static [&'static str],
    }
    #[derive(Serialize)]
    struct Links {
        activities: Link,
        contacts: Link,
        jobs: Link,
        locations: Link,
        #[serde(skip_serializing_if = "Option::is_none")]
        merge: Option<Link>,
        notes: Link,
        policies: Link,
        #[serde(skip_serializing_if = "Option::is_none")]
        reopen: Option<Link>,
        #[serde(rename = "self")]
        this: Link,
        #[serde(skip_serializing_if = "Option::is_none")]
        withdraw: Option<Link>,
    }
    #[derive(Serialize)]
    struct Element<'a> {
        attributes: Attributes<'a>,
        checksum: String,
        links: Links,
    }
    #[derive(Serialize)]
    struct Single<'a> {
        data: Element<'a>,
    }
    let v = &a.value;
    let uri = account_uri(v.id);
    let millis = |t: &chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let at = |sub: &str, methods| Link { href: format!("{uri}/{sub}"), methods };
    let attributes = Attributes {
        account_holder: Ref {
            display_name: &v.holder.display_name,
            id: format_id(v.holder.contact_id),
            kind: v.holder.subtype.code(),
            uri: format!("{uri}/contacts/{}", format_id(v.holder.contact_id)),
        },
        account_number: &v.number,
        account_status: tk(v.status.code()),
        business_operations_description: v.business_operations_description.as_deref(),
        created_date: millis(&v.created_at),
        id: format_id(v.id),
        number_of_contacts: v.contact_count.to_string(),
        organization_type: v.organization_type.as_deref().map(tk),
        preferred_coverage_currency: tk(v.coverage_currency.as_str()),
        preferred_settlement_currency: tk(v.settlement_currency.as_str()),
        primary_location: Ref {
            display_name: &v.primary_location.display_name,
            id: format_id(v.primary_location.id),
            kind: "AccountLocation",
            uri: format!("{uri}/locations/{}", format_id(v.primary_location.id)),
        },
        producer_codes: v.producer_codes.iter().map(|p| Code { display_name: p, id: p }).collect(),
        updated_date: millis(&v.updated_at),
        year_business_started: v.year_business_started,
    };
    let links = Links {
        activities: at("activities", &["get", "post"]),
        contacts: at("contacts", &["get", "post"]),
        jobs: at("jobs", &["get"]),
        locations: at("locations", &["get", "post"]),
        merge: (v.status != AccountStatus::Withdrawn).then(|| at("merge", &["post"])),
        notes: at("notes", &["get", "post"]),
        policies: at("policies", &["get", "post"]),
        reopen: (v.status == AccountStatus::Withdrawn).then(|| at("reopen", &["post"])),
        withdraw: (v.status == AccountStatus::Pending && v.policy_count == 0).then(|| at("withdraw", &["post"])),
        this: Link { href: uri.clone(), methods: &["get", "patch"] },
    };
    let single = Single { data: Element { attributes, checksum: a.version.to_string(), links } };
    serde_json::to_vec(&single).unwrap_or_default()
}

/// A child in the original's element shape; its `self` link names the methods its state allows.
pub fn child_element(
    account: &Account,
    kind: ChildKind,
    kind_path: &str,
    id: u64,
    version: u64,
    attributes: Value,
) -> Value {
    let href = format!("{}/{kind_path}/{}", account_uri(account.id), format_id(id));
    object([
        ("attributes", attributes),
        ("checksum", Value::String(version.to_string())),
        ("links", object([("self", link(&href, child_methods(account, kind, id)))])),
    ])
}

/// What a client may do with a child now: change any contact or location, remove one that is
/// not the holder or the primary location; the others are read-only here.
pub fn child_methods(account: &Account, kind: ChildKind, id: u64) -> &'static [&'static str] {
    match kind {
        ChildKind::Contact if account.holder.contact_id == id => &["get", "patch"],
        ChildKind::Location if account.primary_location.id == id => &["get", "patch"],
        ChildKind::Contact | ChildKind::Location => &["get", "patch", "delete"],
        _ => &["get"],
    }
}

pub fn contact_attributes(account: &Account, c: &Stored<Contact>) -> Value {
    let d = &c.data;
    let mut m = Map::new();
    m.insert("id".into(), json!(format_id(c.id)));
    m.insert("contactSubtype".into(), json!(d.subtype.code()));
    m.insert("displayName".into(), json!(d.display_name()));
    for (k, v) in [
        ("firstName", &d.first_name),
        ("lastName", &d.last_name),
        ("companyName", &d.company_name),
        ("emailAddress1", &d.email),
        ("homePhone", &d.home_phone),
        ("workPhone", &d.work_phone),
        ("cellPhone", &d.cell_phone),
    ] {
        if let Some(v) = v {
            m.insert(k.into(), json!(v));
        }
    }
    if let Some(a) = &d.address {
        m.insert("primaryAddress".into(), address(a));
    }
    if let Some(t) = d.masked_tax_id() {
        m.insert("taxId".into(), json!(t));
    }
    m.insert("accountHolder".into(), json!(account.holder.contact_id == c.id));
    Value::Object(m)
}

pub fn location_attributes(account: &Account, l: &Stored<Location>) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), json!(format_id(l.id)));
    m.insert("locationCode".into(), json!(l.data.code));
    address_attrs(&l.data.address, &mut m);
    m.insert("displayName".into(), json!(l.data.display_name()));
    m.insert("primaryLocation".into(), json!(account.primary_location.id == l.id));
    Value::Object(m)
}

pub fn note_attributes(_: &Account, n: &Stored<Note>) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), json!(format_id(n.id)));
    if let Some(s) = &n.data.subject {
        m.insert("subject".into(), json!(s));
    }
    m.insert("body".into(), json!(n.data.body));
    m.insert("topic".into(), typekey(&n.data.topic));
    m.insert("confidential".into(), json!(n.data.confidential));
    m.insert("createdDate".into(), json!(n.data.created_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)));
    Value::Object(m)
}

pub fn activity_attributes(_: &Account, a: &Stored<Activity>) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), json!(format_id(a.id)));
    m.insert("subject".into(), json!(a.data.subject));
    if let Some(d) = &a.data.description {
        m.insert("description".into(), json!(d));
    }
    m.insert("priority".into(), typekey(&a.data.priority));
    m.insert("status".into(), typekey("open"));
    if let Some(d) = a.data.due_date {
        m.insert("dueDate".into(), json!(d.to_string()));
    }
    m.insert("createdDate".into(), json!(a.data.created_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)));
    Value::Object(m)
}

pub fn job_attributes(account: &Account, j: &Stored<Job>) -> Value {
    json!({
        "id": format_id(j.id),
        "jobNumber": j.data.job_number,
        "jobType": typekey(&j.data.job_type),
        "policy": {"id": format_id(j.data.policy_id), "displayName": j.data.policy_number,
                   "uri": format!("{}/policies/{}", account_uri(account.id), format_id(j.data.policy_id))},
        "createdDate": j.data.created_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    })
}

pub fn policy_attributes(_: &Account, p: &Stored<Policy>) -> Value {
    let d = &p.data;
    let mut m = Map::new();
    m.insert("id".into(), json!(format_id(p.id)));
    m.insert("policyNumber".into(), json!(d.policy_number));
    m.insert("lineOfBusiness".into(), typekey(&d.line_of_business));
    m.insert("status".into(), typekey(&d.status));
    m.insert("effectiveDate".into(), json!(d.effective_date.to_string()));
    m.insert("expirationDate".into(), json!(d.expiration_date.to_string()));
    if let Some(money) = &d.total_premium {
        m.insert("totalPremium".into(), json!({"amount": money.amount.to_string(), "currency": money.currency}));
    }
    m.insert("insured".into(), insured(&d.insured));
    m.insert("mortgagees".into(), d.mortgagees.iter().map(mortgagee).collect());
    m.insert("drivers".into(), d.drivers.iter().map(driver).collect());
    m.insert("vehicles".into(), d.vehicles.iter().map(vehicle).collect());
    m.insert("createdDate".into(), json!(d.created_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)));
    Value::Object(m)
}

fn insured(i: &Insured) -> Value {
    let mut ins = Map::new();
    for (k, v) in [
        ("firstName", &i.first_name),
        ("lastName", &i.last_name),
        ("companyName", &i.company_name),
        ("emailAddress1", &i.email),
        ("primaryPhone", &i.phone),
    ] {
        if let Some(v) = v {
            ins.insert(k.into(), json!(v));
        }
    }
    if let Some(a) = &i.address {
        ins.insert("primaryAddress".into(), address(a));
    }
    Value::Object(ins)
}

fn mortgagee(x: &Mortgagee) -> Value {
    let mut o = json!({"id": format_id(x.id), "name": x.name, "mortgageeType": typekey(&x.mortgagee_type), "address": address(&x.address)});
    if let Some(l) = &x.loan_number {
        o["loanNumber"] = json!(l);
    }
    o
}

fn driver(x: &Driver) -> Value {
    let mut o = json!({"id": format_id(x.id), "firstName": x.first_name, "lastName": x.last_name});
    if let Some(v) = x.date_of_birth {
        o["dateOfBirth"] = json!(v.to_string());
    }
    if let Some(v) = &x.license_number {
        o["licenseNumber"] = json!(v);
    }
    if let Some(v) = &x.license_state {
        o["licenseState"] = json!({"code": v, "name": v});
    }
    o
}

fn vehicle(v: &Vehicle) -> Value {
    let lien = |l: &LienHolder| json!({"id": format_id(l.id), "name": l.name, "type": typekey(&l.lien_type), "address": address(&l.address)});
    json!({"id": format_id(v.id), "vin": v.vin, "make": v.make, "model": v.model, "modelYear": v.model_year,
           "lienHolders": v.lien_holders.iter().map(lien).collect::<Vec<_>>()})
}

/// The online access of an account as `PUT .../online-access` answers it: the username and when
/// it was set (never the password or its hash).
pub fn online_access(access: &super::model::OnlineAccess) -> Value {
    single(json!({"attributes": {"username": access.username, "updatedAt": access.updated_at}}))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::CurrencyCode;

    #[test]
    fn an_account_written_straight_is_the_same_bytes_as_its_value() {
        let mut r = crate::testing::xorshift(23);
        let statuses = [AccountStatus::Pending, AccountStatus::Active, AccountStatus::Withdrawn];
        let text = ["Ray \"R\" Newton", "Zoë & Co, LLC", "a\\b\u{1}c", "", "1253 Paloma Ave, Arcadia, CA 91007"];
        for i in 0..300u64 {
            let pick = |r: &mut dyn FnMut() -> u64, n: usize| (r() % n as u64) as usize;
            let mut next = || r();
            let status = statuses[pick(&mut next, 3)];
            let when = chrono::DateTime::from_timestamp(
                1_600_000_000 + (next() % 200_000_000) as i64,
                (next() % 1_000_000_000) as u32,
            )
            .unwrap();
            let account = Account {
                id: next() % 100_000,
                number: format!("{}", next() % 10_000_000_000),
                status,
                holder: HolderSummary {
                    contact_id: next() % 1000,
                    subtype: if next() % 2 == 0 { ContactSubtype::Person } else { ContactSubtype::Company },
                    display_name: text[pick(&mut next, text.len())].into(),
                },
                primary_location: LocationSummary {
                    id: next() % 1000,
                    display_name: text[pick(&mut next, text.len())].into(),
                },
                organization_type: match next() % 4 {
                    0 => None,
                    1 => Some("llc".into()),
                    2 => Some("soleprop".into()),
                    _ => Some("partnership".into()),
                },
                producer_codes: (0..next() % 3).map(|k| format!("pc:{k}")).collect(),
                coverage_currency: CurrencyCode::USD,
                settlement_currency: CurrencyCode::parse(["usd", "eur", "cad"][pick(&mut next, 3)])
                    .unwrap_or(CurrencyCode::USD),
                business_operations_description: (next() % 2 == 0).then(|| text[pick(&mut next, text.len())].into()),
                year_business_started: (next() % 2 == 0).then(|| 1900 + (next() % 125) as i32),
                contact_count: (next() % 5) as u32,
                location_count: 1,
                policy_count: (next() % 2) as u32,
                created_at: when,
                updated_at: when + chrono::TimeDelta::milliseconds((next() % 10_000) as i64),
                merge: None,
                search: None,
            };
            let a = Versioned { value: account, version: i % 7 };
            let want = serde_json::to_vec(&single(account_element(&a))).unwrap();
            assert_eq!(String::from_utf8(account_single_json(&a)).unwrap(), String::from_utf8(want).unwrap());
        }
    }
}
