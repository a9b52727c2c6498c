//! What each servicing action does to a policy: payload reading and the change itself, as pure
//! functions over the account's policies, so both carrier connectors apply the very same rules.
//!
//! A payload problem ends the action as `VALIDATION_ERROR` with a `validation_error_type`: the
//! original's names where it has one (`INVALID_POLICY_NUMBER`, `INVALID_POLICY_TYPE`,
//! `INVALID_MORTGAGEE_NAME`, `DUPLICATE_MORTGAGEE_TYPE`, `REPLACING_VIN_NOT_FOUND`, `INVALID_VIN`,
//! `PRIMARY_DRIVER_NOT_FOUND`, `DUPLICATE_FINANCING_COMPANY`, `POLICY_UNAVAILABLE_FOR_SERVICING`),
//! and new ones in its style for the rest (see [`KINDS`]).

use chrono::NaiveDate;
use serde_json::{json, Value};

use super::model::ActionType;
use crate::accounts::input::{LIEN_TYPES, MORTGAGEE_TYPES};
use crate::accounts::{Address, Driver, Insured, LienHolder, Mortgagee, Policy, Vehicle, AUTO_LINES, PROPERTY_LINES};
use crate::fields::{optional, required, Empty, Mode, Report, Rules, Stop, Want};
use crate::types::{StateCode, US_STATES};

mod contact;
mod driver;
mod lienholder;
mod mortgagee;
mod vehicle;

/// Every `validation_error_type` this module produces.
pub const KINDS: &[&str] = &[
    "INVALID_PAYLOAD",
    "INVALID_POLICY_NUMBER",
    "INVALID_POLICY_TYPE",
    "POLICY_UNAVAILABLE_FOR_SERVICING",
    "INVALID_MORTGAGEE_NAME",
    "INVALID_MORTGAGEE_TYPE",
    "INVALID_LOAN_NUMBER",
    "INVALID_ADDRESS",
    "DUPLICATE_MORTGAGEE_TYPE",
    "MORTGAGEE_NOT_FOUND",
    "INVALID_VIN",
    "INVALID_VEHICLE",
    "DUPLICATE_VIN",
    "REPLACING_VIN_NOT_FOUND",
    "PRIMARY_DRIVER_NOT_FOUND",
    "INVALID_FINANCING_COMPANY",
    "DUPLICATE_FINANCING_COMPANY",
    "INVALID_DRIVER",
    "DUPLICATE_DRIVER",
    "REPLACING_DRIVER_NOT_FOUND",
    "VEHICLE_NOT_FOUND",
    "INVALID_LIENHOLDER",
    "DUPLICATE_LIENHOLDER",
    "REPLACING_LIENHOLDER_NOT_FOUND",
    "INVALID_EMAIL",
    "INVALID_PHONE",
    "NO_CHANGES",
];

#[derive(Debug, Clone, PartialEq)]
pub struct Invalid {
    pub kind: &'static str,
    pub message: String,
}

fn invalid(kind: &'static str, message: impl Into<String>) -> Invalid {
    debug_assert!(KINDS.contains(&kind));
    Invalid { kind, message: message.into() }
}

/// The outcome of planning an action: the policies it changes (by index) and what the consumer
/// is asked to confirm.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub changed: Vec<(usize, Policy)>,
    pub confirmation: Value,
    /// Vehicles and drivers added (the sandbox rates them).
    pub vehicles_added: u32,
    pub drivers_added: u32,
}

/// A servicing object being read through the one field reader ([`crate::fields`]): the first
/// problem ends the action or request, with the read's code.
pub(crate) type Fields<'a> = crate::fields::Fields<'a, &'a Value>;

/// A read's requirement and code, for helpers called both ways.
fn want(is_required: bool, code: &'static str) -> Want {
    if is_required { required() } else { optional() }.code(code)
}

fn rules(code: &'static str) -> Rules {
    Rules { mode: Mode::First, empty: Empty::Absent, numbers_as_text: false, code }
}

impl From<Stop> for Invalid {
    fn from(Stop(p): Stop) -> Invalid {
        let message = if p.path.is_empty() { p.message } else { format!("{} {}", p.path, p.message) };
        Invalid { kind: p.code, message }
    }
}

/// An action payload (its problems are `INVALID_PAYLOAD` unless a read names its own code).
pub(crate) fn payload(v: &Value) -> Result<Fields<'_>, Invalid> {
    let root = v.is_object().then(|| Report::new(rules("INVALID_PAYLOAD")).open("", v)).transpose()?.flatten();
    root.ok_or_else(|| invalid("INVALID_PAYLOAD", "payload must be an object"))
}

/// A request body (its problems are `INVALID_INPUT` unless a read names its own code).
pub(crate) fn request(v: &Value) -> Result<Fields<'_>, Invalid> {
    let root = v.is_object().then(|| Report::new(rules("INVALID_INPUT")).open("", v)).transpose()?.flatten();
    root.ok_or_else(|| Invalid { kind: "INVALID_INPUT", message: "The body must be a JSON object".into() })
}

fn address(o: &mut Fields, f: &'static str, is_required: bool) -> Result<Option<Address>, Invalid> {
    let Some(mut a) = o.object(f, want(is_required, "INVALID_ADDRESS"))? else { return Ok(None) };
    let line1 = a.string("line1", required().code("INVALID_ADDRESS"), 120)?.unwrap_or_default();
    let line2 = a.string("line2", optional().code("INVALID_ADDRESS"), 120)?;
    let city = a.string("city", required().code("INVALID_ADDRESS"), 60)?.unwrap_or_default();
    let state = a.one_of("state", required().code("INVALID_ADDRESS"), US_STATES)?.and_then(|s| StateCode::parse(&s));
    let Some(state) = state else { return Err(invalid("INVALID_ADDRESS", format!("{} is required", a.path("state")))) };
    let raw_postal = a.string("postal_code", required().code("INVALID_ADDRESS"), 10)?.unwrap_or_default();
    let Some(postal_code) = crate::types::PostalCode::parse(&raw_postal, "US") else {
        return Err(invalid(
            "INVALID_ADDRESS",
            format!("{} must be a US ZIP code (12345 or 12345-6789)", a.path("postal_code")),
        ));
    };
    let postal_code = postal_code.as_str().to_string();
    let country = a.one_of("country", optional().code("INVALID_ADDRESS"), &["US"])?.unwrap_or_else(|| "US".into());
    a.end()?;
    Ok(Some(Address { line1, line2, city, state, postal_code, country }))
}

fn address_view(a: &Address) -> Value {
    json!({"line1": a.line1, "line2": a.line2, "city": a.city, "state": a.state, "postal_code": a.postal_code, "country": a.country})
}

fn mortgagee_view(m: &Mortgagee) -> Value {
    json!({"name": m.name, "mortgagee_type": m.mortgagee_type, "loan_number": m.loan_number, "address": address_view(&m.address)})
}

fn lien_view(l: &LienHolder) -> Value {
    json!({"type": l.lien_type, "name": l.name, "address": address_view(&l.address)})
}

fn vehicle_view(v: &Vehicle) -> Value {
    json!({"vin": v.vin, "make": v.make, "model": v.model, "model_year": v.model_year,
           "lien_holders": v.lien_holders.iter().map(lien_view).collect::<Vec<_>>()})
}

fn driver_view(d: &Driver) -> Value {
    json!({"full_name": full_name(d), "first_name": d.first_name, "last_name": d.last_name,
           "date_of_birth": d.date_of_birth, "license_state": d.license_state,
           // The license number is shown masked: the last four characters are enough to recognise it.
           "license_number_last4": d.license_number.as_ref().map(|n| n.chars().rev().take(4).collect::<Vec<_>>().into_iter().rev().collect::<String>())})
}

fn contact_view(i: &Insured) -> Value {
    json!({"email": i.email, "phone": i.phone, "address": i.address.as_ref().map(address_view)})
}

fn full_name(d: &Driver) -> String {
    format!("{} {}", d.first_name, d.last_name)
}

fn same_name(a: &str, b: &str) -> bool {
    let norm = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase();
    norm(a) == norm(b)
}

/// Finds the policy an action names and checks it can take this kind of change.
fn target<'p>(
    policies: &'p [Policy],
    o: &mut Fields,
    lines: &[&str],
    what: &str,
) -> Result<(usize, &'p Policy), Invalid> {
    let number = o.string("carrier_policy_number", required().code("INVALID_POLICY_NUMBER"), 40)?.unwrap_or_default();
    let (i, p) = policies
        .iter()
        .enumerate()
        .find(|(_, p)| p.policy_number == number)
        .ok_or_else(|| invalid("INVALID_POLICY_NUMBER", "carrier_policy_number is not a policy of this account"))?;
    if !lines.contains(&p.line_of_business.as_str()) {
        return Err(invalid(
            "INVALID_POLICY_TYPE",
            format!("{what} can only be changed on {} policies", lines.join(", ")),
        ));
    }
    if p.status != "InForce" {
        return Err(invalid("POLICY_UNAVAILABLE_FOR_SERVICING", "the policy is not in force"));
    }
    Ok((i, p))
}

fn mortgagee_fields(o: &mut Fields) -> Result<(String, Option<String>, Address, String), Invalid> {
    let name = o.string("name", required().code("INVALID_MORTGAGEE_NAME"), 120)?.unwrap_or_default();
    let loan = o.string("loan_number", optional().code("INVALID_LOAN_NUMBER"), 40)?;
    let addr = address(o, "address", true)?.unwrap_or_else(|| unreachable!("required"));
    let t = o.one_of("mortgagee_type", required().code("INVALID_MORTGAGEE_TYPE"), MORTGAGEE_TYPES)?.unwrap_or_default();
    Ok((name, loan, addr, t))
}

fn driver_fields(o: &mut Fields, f: &'static str) -> Result<Driver, Invalid> {
    let mut d = o.object(f, required().code("INVALID_DRIVER"))?.unwrap_or_else(|| unreachable!("required"));
    let first_name = d.string("first_name", required().code("INVALID_DRIVER"), 60)?.unwrap_or_default();
    let last_name = d.string("last_name", required().code("INVALID_DRIVER"), 60)?.unwrap_or_default();
    let dob = match d.string("date_of_birth", optional().code("INVALID_DRIVER"), 10)? {
        None => None,
        Some(s) => Some(
            NaiveDate::parse_from_str(&s, "%Y-%m-%d")
                .map_err(|_| invalid("INVALID_DRIVER", "driver.date_of_birth must be a date yyyy-mm-dd"))?,
        ),
    };
    let license_number = d.string("license_number", optional().code("INVALID_DRIVER"), 30)?;
    let license_state =
        d.one_of("license_state", optional().code("INVALID_DRIVER"), US_STATES)?.and_then(|s| StateCode::parse(&s));
    d.end()?;
    Ok(Driver { id: 0, first_name, last_name, date_of_birth: dob, license_number, license_state })
}

fn lien_fields(o: &mut Fields, f: &'static str, kind: &'static str) -> Result<LienHolder, Invalid> {
    let mut l = o.object(f, required().code(kind))?.unwrap_or_else(|| unreachable!("required"));
    let lien_type = l.one_of("type", required().code(kind), LIEN_TYPES)?.unwrap_or_default();
    let name = l.string("name", required().code(kind), 120)?.unwrap_or_default();
    let address = address(&mut l, "address", true)?.unwrap_or_else(|| unreachable!("required"));
    l.end()?;
    Ok(LienHolder { id: 0, name, lien_type, address })
}

fn vin(o: &mut Fields, f: &'static str, is_required: bool, kind: &'static str) -> Result<Option<String>, Invalid> {
    match o.string(f, want(is_required, kind), 17)? {
        None => Ok(None),
        Some(v) => match crate::types::Vin::parse(&v) {
            Some(vin) => Ok(Some(vin.as_str().to_string())),
            None => Err(invalid(kind, format!("{} is not a valid VIN (17 characters, check digit)", o.path(f)))),
        },
    }
}

/// Plans `action` against `policies`; `next_id` numbers the new sub-elements (zero while only
/// previewing).
/// The policies an action changes, and what the consumer is asked to confirm.
type Planned = (Vec<(usize, Policy)>, Value);

/// What an action added that the sandbox rates.
#[derive(Default)]
struct Added {
    vehicles: u32,
    drivers: u32,
}

pub fn plan(
    policies: &[Policy],
    action: ActionType,
    payload: &Value,
    next_id: &mut dyn FnMut() -> u64,
) -> Result<Plan, Invalid> {
    let o = self::payload(payload)?;
    let mut added = Added::default();
    let (changed, confirmation) = match action {
        ActionType::AddMortgagee | ActionType::EditMortgagee => mortgagee::add_or_edit(policies, action, o, next_id)?,
        ActionType::RemoveMortgagee => mortgagee::remove(policies, o)?,
        ActionType::AddVehicle => vehicle::add(policies, o, next_id, &mut added)?,
        ActionType::AddDriver | ActionType::ReplaceDriver => {
            driver::add_or_replace(policies, action, o, next_id, &mut added)?
        }
        ActionType::AddLienholder | ActionType::ReplaceLienholder => {
            lienholder::add_or_replace(policies, action, o, next_id)?
        }
        ActionType::UpdateContactInfo => contact::update(policies, o)?,
    };
    Ok(Plan { changed, confirmation, vehicles_added: added.vehicles, drivers_added: added.drivers })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn addr() -> Address {
        Address {
            line1: "1 Main St".into(),
            line2: None,
            city: "Austin".into(),
            state: StateCode::from_ascii(*b"TX"),
            postal_code: "78701".into(),
            country: "US".into(),
        }
    }

    pub(crate) fn home() -> Policy {
        Policy {
            policy_number: "H-1".into(),
            line_of_business: "Homeowners".into(),
            status: "InForce".into(),
            effective_date: NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
            expiration_date: NaiveDate::from_ymd_opt(2027, 1, 1).unwrap(),
            total_premium: None,
            insured: Insured {
                first_name: Some("Ana".into()),
                last_name: Some("Diaz".into()),
                company_name: None,
                email: Some("ana@example.com".into()),
                phone: None,
                address: None,
            },
            mortgagees: vec![Mortgagee {
                id: 1,
                name: "First Bank".into(),
                mortgagee_type: "FIRST".into(),
                loan_number: None,
                address: addr(),
            }],
            drivers: vec![],
            vehicles: vec![],
            created_at: Utc::now(),
        }
    }

    fn auto() -> Policy {
        let mut p = home();
        p.policy_number = "A-1".into();
        p.line_of_business = "PersonalAuto".into();
        p.mortgagees.clear();
        p.drivers.push(Driver {
            id: 2,
            first_name: "Ana".into(),
            last_name: "Diaz".into(),
            date_of_birth: None,
            license_number: None,
            license_state: None,
        });
        p.vehicles.push(Vehicle {
            id: 3,
            vin: "1HGCM82633A004352".into(),
            make: "Honda".into(),
            model: "Accord".into(),
            model_year: 2003,
            lien_holders: vec![],
        });
        p
    }

    fn run(t: ActionType, payload: Value) -> Result<Plan, Invalid> {
        let mut n = 100;
        plan(&[home(), auto()], t, &payload, &mut || {
            n += 1;
            n
        })
    }

    fn addr_json() -> Value {
        json!({"line1": "9 Elm St", "city": "Dallas", "state": "TX", "postal_code": "75201"})
    }

    #[test]
    fn add_mortgagee_shows_before_null_and_refuses_a_taken_type() {
        let p = run(ActionType::AddMortgagee, json!({"carrier_policy_number": "H-1", "name": "Second Bank", "address": addr_json(), "mortgagee_type": "SECOND"})).unwrap();
        assert_eq!(p.confirmation["before"], Value::Null);
        assert_eq!(p.confirmation["after"]["name"], "Second Bank");
        assert_eq!(p.changed[0].1.mortgagees.len(), 2);
        let e = run(
            ActionType::AddMortgagee,
            json!({"carrier_policy_number": "H-1", "name": "X", "address": addr_json(), "mortgagee_type": "FIRST"}),
        )
        .unwrap_err();
        assert_eq!(e.kind, "DUPLICATE_MORTGAGEE_TYPE");
    }

    #[test]
    fn each_bad_payload_names_its_kind() {
        let cases = [
            (
                ActionType::AddMortgagee,
                json!({"carrier_policy_number": "nope", "name": "X", "address": addr_json(), "mortgagee_type": "SECOND"}),
                "INVALID_POLICY_NUMBER",
            ),
            (
                ActionType::AddMortgagee,
                json!({"carrier_policy_number": "A-1", "name": "X", "address": addr_json(), "mortgagee_type": "SECOND"}),
                "INVALID_POLICY_TYPE",
            ),
            (
                ActionType::AddMortgagee,
                json!({"carrier_policy_number": "H-1", "name": " ", "address": addr_json(), "mortgagee_type": "SECOND"}),
                "INVALID_MORTGAGEE_NAME",
            ),
            (
                ActionType::AddMortgagee,
                json!({"carrier_policy_number": "H-1", "name": "X", "address": addr_json(), "mortgagee_type": "FOURTH"}),
                "INVALID_MORTGAGEE_TYPE",
            ),
            (
                ActionType::AddMortgagee,
                json!({"carrier_policy_number": "H-1", "name": "X", "address": {"line1": "x"}, "mortgagee_type": "SECOND"}),
                "INVALID_ADDRESS",
            ),
            (
                // Ten digits without the dash is no ZIP+4 (the one postal-code rule of types.rs).
                ActionType::AddMortgagee,
                json!({"carrier_policy_number": "H-1", "name": "X", "address": {"line1": "9 Elm St", "city": "Dallas", "state": "TX", "postal_code": "7520112345"}, "mortgagee_type": "SECOND"}),
                "INVALID_ADDRESS",
            ),
            (
                ActionType::AddMortgagee,
                json!({"carrier_policy_number": "H-1", "name": "X", "address": addr_json(), "mortgagee_type": "SECOND", "extra": 1}),
                "INVALID_PAYLOAD",
            ),
            (
                ActionType::EditMortgagee,
                json!({"carrier_policy_number": "H-1", "name": "X", "address": addr_json(), "mortgagee_type": "THIRD"}),
                "MORTGAGEE_NOT_FOUND",
            ),
            (
                ActionType::RemoveMortgagee,
                json!({"carrier_policy_number": "H-1", "mortgagee_type": "SECOND"}),
                "MORTGAGEE_NOT_FOUND",
            ),
            (
                ActionType::AddVehicle,
                json!({"carrier_policy_number": "A-1", "vehicle": {"model_year": 2020, "vin": "123", "make": "Kia", "model": "Rio"}}),
                "INVALID_VIN",
            ),
            (
                ActionType::AddVehicle,
                json!({"carrier_policy_number": "A-1", "vehicle": {"model_year": 2020, "vin": "1HGCM82633A004352", "make": "Kia", "model": "Rio"}}),
                "DUPLICATE_VIN",
            ),
            (
                ActionType::AddVehicle,
                json!({"carrier_policy_number": "A-1", "replacing_vin": "2HGFG12818H000015", "vehicle": {"model_year": 2020, "vin": "1FTFW1ET9DFC10312", "make": "Kia", "model": "Rio"}}),
                "REPLACING_VIN_NOT_FOUND",
            ),
            (
                ActionType::AddVehicle,
                json!({"carrier_policy_number": "A-1", "primary_driver_full_name": "Bo Li", "vehicle": {"model_year": 2020, "vin": "1FTFW1ET9DFC10312", "make": "Kia", "model": "Rio"}}),
                "PRIMARY_DRIVER_NOT_FOUND",
            ),
            (
                ActionType::AddVehicle,
                json!({"carrier_policy_number": "A-1", "vehicle": {"model_year": 2020, "vin": "1FTFW1ET9DFC10312", "make": "Kia", "model": "Rio"}, "vehicle_ownership": {"type": "FINANCE", "financing_companies": [{"type": "LIEN_HOLDER", "name": "Bank", "address": addr_json()}, {"type": "LIEN_HOLDER", "name": "bank", "address": addr_json()}]}}),
                "DUPLICATE_FINANCING_COMPANY",
            ),
            (
                ActionType::ReplaceDriver,
                json!({"carrier_policy_number": "A-1", "replacing_driver_full_name": "Bo Li", "driver": {"first_name": "Cy", "last_name": "Wu"}}),
                "REPLACING_DRIVER_NOT_FOUND",
            ),
            (
                ActionType::AddDriver,
                json!({"carrier_policy_number": "A-1", "driver": {"first_name": "Cy", "last_name": "Wu", "date_of_birth": "2001-02-30"}}),
                "INVALID_DRIVER",
            ),
            (
                ActionType::AddLienholder,
                json!({"carrier_policy_number": "A-1", "vin": "1FTFW1ET9DFC10312", "lien_holder": {"type": "LIEN_HOLDER", "name": "B", "address": addr_json()}}),
                "VEHICLE_NOT_FOUND",
            ),
            (ActionType::UpdateContactInfo, json!({"email": "not-an-email"}), "INVALID_EMAIL"),
            (ActionType::UpdateContactInfo, json!({"email": "a@@b.com"}), "INVALID_EMAIL"),
            (ActionType::UpdateContactInfo, json!({"email": "a@b..com"}), "INVALID_EMAIL"),
            (ActionType::UpdateContactInfo, json!({"phone": "12"}), "INVALID_PHONE"),
            (ActionType::UpdateContactInfo, json!({}), "NO_CHANGES"),
            (ActionType::UpdateContactInfo, json!("x"), "INVALID_PAYLOAD"),
        ];
        for (t, payload, kind) in cases {
            let got = run(t, payload.clone()).map(|_| ()).unwrap_err();
            assert_eq!(got.kind, kind, "{t:?} {payload}: {}", got.message);
        }
    }

    #[test]
    fn replacing_a_vehicle_swaps_it_and_keeps_the_count() {
        let p = run(ActionType::AddVehicle, json!({"carrier_policy_number": "A-1", "replacing_vin": "1hgcm82633a004352", "primary_driver_full_name": "ana  diaz",
            "vehicle": {"model_year": 2021, "vin": "1FTFW1ET9DFC10312", "make": "Ford", "model": "F-150"},
            "vehicle_ownership": {"type": "FINANCE", "financing_companies": [{"type": "LIEN_HOLDER", "name": "Ford Credit", "address": addr_json()}]}})).unwrap();
        let np = &p.changed[0].1;
        assert_eq!(np.vehicles.len(), 1);
        assert_eq!(np.vehicles[0].vin, "1FTFW1ET9DFC10312");
        assert_eq!(np.vehicles[0].lien_holders[0].name, "Ford Credit");
        assert_eq!(p.confirmation["before"]["vin"], "1HGCM82633A004352");
        assert_eq!(p.vehicles_added, 0);
    }

    #[test]
    fn contact_update_changes_every_policy_in_force() {
        let p =
            run(ActionType::UpdateContactInfo, json!({"email": "new@example.com", "address": addr_json()})).unwrap();
        assert_eq!(p.changed.len(), 2);
        assert_eq!(p.confirmation["before"]["email"], "ana@example.com");
        assert_eq!(p.confirmation["after"]["email"], "new@example.com");
    }
}
