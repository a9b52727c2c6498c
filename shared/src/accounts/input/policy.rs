//! Reading a policy body: its line, dates, premium, insured, and the mortgagees, drivers and
//! vehicles its line carries.

use chrono::{Datelike, Utc};
use rust_decimal::Decimal;

use super::*;
use crate::accounts::error::AccountError;
use crate::fields::{optional, required, Read};

/// Whether `vin` is a valid 17-character VIN (check digit included): see [`crate::types::Vin`].
pub fn vin_is_valid(vin: &str) -> bool {
    crate::types::Vin::parse(vin).is_some_and(|v| v.as_str() == vin)
}

pub struct NewPolicy {
    pub policy: Policy,
    /// How many sub-element ids (mortgagees, drivers, vehicles, lien holders) the policy needs.
    pub sub_ids: u64,
}

fn premium(a: &mut Obj) -> Read<Option<Money>> {
    let Some(mut m) = a.object("totalPremium", optional())? else { return Ok(None) };
    let mut amount = m.decimal("amount", required(), 16, 2)?;
    if amount.is_some_and(|d| d < Decimal::ZERO) {
        m.problem("amount", required(), "must not be negative")?;
        amount = None;
    }
    let currency = m.one_of("currency", required(), CURRENCIES)?;
    m.end()?;
    Ok(amount.zip(currency).map(|(amount, currency)| Money { amount, currency }))
}

fn insured(a: &mut Obj) -> Read<Option<Insured>> {
    let Some(mut o) = a.object("insured", required())? else { return Ok(None) };
    let first_name = o.string("firstName", optional(), 60)?;
    let last_name = o.string("lastName", optional(), 60)?;
    let company_name = o.string("companyName", optional(), 120)?;
    if company_name.is_none()
        && (first_name.is_none() || last_name.is_none())
        && !o.report().has_problem_under(&o.here())
    {
        o.problem_here("needs firstName and lastName, or companyName")?;
    }
    let ins = Insured {
        first_name,
        last_name,
        company_name,
        email: email(&mut o, "emailAddress1")?,
        phone: phone(&mut o, "primaryPhone")?,
        address: address(&mut o, "primaryAddress", optional())?,
    };
    o.end()?;
    Ok(Some(ins))
}

fn mortgagees(a: &mut Obj) -> Read<Vec<Mortgagee>> {
    let mut out: Vec<Mortgagee> = Vec::new();
    for mut m in a.objects("mortgagees", optional(), 3)?.unwrap_or_default() {
        let name = m.string("name", required(), 120)?;
        let t = typekey(&mut m, "mortgageeType", required(), MORTGAGEE_TYPES)?;
        let loan = m.string("loanNumber", optional(), 50)?;
        let addr = address(&mut m, "address", required())?;
        if let Some(t) = &t {
            if out.iter().any(|x| &x.mortgagee_type == t) {
                m.problem("mortgageeType", required(), "appears twice: one mortgagee per type")?;
            }
        }
        m.end()?;
        if let (Some(name), Some(t), Some(addr)) = (name, t, addr) {
            out.push(Mortgagee { id: 0, name, mortgagee_type: t, loan_number: loan, address: addr });
        }
    }
    Ok(out)
}

fn drivers(a: &mut Obj) -> Read<Vec<Driver>> {
    let mut out = Vec::new();
    for mut d in a.objects("drivers", optional(), 20)?.unwrap_or_default() {
        let first = d.string("firstName", required(), 60)?;
        let last = d.string("lastName", required(), 60)?;
        let dob = d.date("dateOfBirth", optional())?;
        let lic = d.string("licenseNumber", optional(), 30)?;
        let st = state(&mut d, "licenseState", optional(), Some("US"))?;
        d.end()?;
        if let (Some(first_name), Some(last_name)) = (first, last) {
            out.push(Driver {
                id: 0,
                first_name,
                last_name,
                date_of_birth: dob,
                license_number: lic,
                license_state: st,
            });
        }
    }
    Ok(out)
}

fn vehicles(a: &mut Obj) -> Read<Vec<Vehicle>> {
    let max_year = Utc::now().year() as i64 + 2;
    let mut out: Vec<Vehicle> = Vec::new();
    for mut v in a.objects("vehicles", optional(), 20)?.unwrap_or_default() {
        let vin = v.string("vin", required(), 17)?.map(|s| s.to_uppercase());
        if let Some(vin) = &vin {
            if !vin_is_valid(vin) {
                v.problem("vin", required(), "is not a valid 17-character VIN (its check digit does not match)")?;
            } else if out.iter().any(|x| &x.vin == vin) {
                v.problem("vin", required(), "appears twice on the policy")?;
            }
        }
        let make = v.string("make", required(), 40)?;
        let model = v.string("model", required(), 40)?;
        let year = v.integer("modelYear", required(), 1900, max_year)?;
        let mut liens = Vec::new();
        for mut l in v.objects("lienHolders", optional(), 3)?.unwrap_or_default() {
            let name = l.string("name", required(), 120)?;
            let t = if l.has("type") {
                typekey(&mut l, "type", optional(), LIEN_TYPES)?
            } else {
                Some("LIEN_HOLDER".into())
            };
            let addr = address(&mut l, "address", required())?;
            l.end()?;
            if let (Some(name), Some(lien_type), Some(address)) = (name, t, addr) {
                liens.push(LienHolder { id: 0, name, lien_type, address });
            }
        }
        v.end()?;
        if let (Some(vin), Some(make), Some(model), Some(model_year)) = (vin, make, model, year) {
            out.push(Vehicle { id: 0, vin, make, model, model_year: model_year as i32, lien_holders: liens });
        }
    }
    Ok(out)
}

/// A policy (our extension). Sub-elements get ids later, when the service reserves them.
pub fn new_policy<'v>(v: impl Into<Sent<'v>>) -> Result<NewPolicy, AccountError> {
    let (policy, _) = body(v, |a| {
        let all_lines: Vec<&str> = PROPERTY_LINES.iter().chain(AUTO_LINES).chain(OTHER_LINES).copied().collect();
        let number = a.string("policyNumber", required(), 50)?;
        if number.as_ref().is_some_and(|n| !n.chars().all(|c| c.is_ascii_alphanumeric() || " -_/.".contains(c))) {
            a.problem("policyNumber", required(), "may hold letters, digits, spaces and - _ / . only")?;
        }
        let line = typekey(a, "lineOfBusiness", required(), &all_lines)?;
        let eff = a.date("effectiveDate", required())?;
        let exp = a.date("expirationDate", required())?;
        if let (Some(e), Some(x)) = (eff, exp) {
            if x <= e {
                a.problem("expirationDate", required(), "must be after effectiveDate")?;
            }
        }
        let total_premium = premium(a)?;
        let insured = insured(a)?;
        let is_property = line.as_deref().is_some_and(|l| PROPERTY_LINES.contains(&l));
        let is_auto = line.as_deref().is_some_and(|l| AUTO_LINES.contains(&l));
        // An empty list is no list: only a line that carries them may list any.
        if a.has_items("mortgagees") && line.is_some() && !is_property {
            a.problem("mortgagees", optional(), "are only for property lines of business")?;
        }
        let mortgagees = mortgagees(a)?;
        for field in ["drivers", "vehicles"] {
            if a.has_items(field) && line.is_some() && !is_auto {
                a.problem(field, optional(), "are only for auto lines of business")?;
            }
        }
        let drivers = drivers(a)?;
        let vehicles = vehicles(a)?;
        let (Some(policy_number), Some(line_of_business), Some(effective_date), Some(expiration_date), Some(insured)) =
            (number, line, eff, exp, insured)
        else {
            return Ok(None);
        };
        let sub_ids = (mortgagees.len()
            + drivers.len()
            + vehicles.iter().map(|v| 1 + v.lien_holders.len()).sum::<usize>()) as u64;
        Ok(Some(NewPolicy {
            policy: Policy {
                policy_number,
                line_of_business,
                status: "InForce".into(),
                effective_date,
                expiration_date,
                total_premium,
                insured,
                mortgagees,
                drivers,
                vehicles,
                created_at: Utc::now(),
            },
            sub_ids,
        }))
    })?;
    Ok(policy)
}
