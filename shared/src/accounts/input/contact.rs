//! Reading contacts: a new contact (person or company) and a contact PATCH, and the contact a
//! read makes.

use chrono::{DateTime, Utc};

use super::*;
use crate::accounts::error::AccountError;
use crate::fields::{optional, required, Read};

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
    pub tax_id: Option<String>,
}

fn contact_fields(o: &mut Obj, subtype: ContactSubtype, creating: bool) -> Read<ContactFields> {
    let (first_name, last_name, company_name) = match subtype {
        ContactSubtype::Person => {
            refuse_field(o, "companyName", "is for Company contacts; this contact is a Person")?;
            (o.string("firstName", want(creating), 60)?, o.string("lastName", want(creating), 60)?, None)
        }
        ContactSubtype::Company => {
            for n in ["firstName", "lastName"] {
                refuse_field(o, n, "is for Person contacts; this contact is a Company")?;
            }
            (None, None, o.string("companyName", want(creating), 120)?)
        }
    };
    o.ignore("displayName");
    Ok(ContactFields {
        first_name,
        last_name,
        company_name,
        email: email(o, "emailAddress1")?,
        home_phone: phone(o, "homePhone")?,
        work_phone: phone(o, "workPhone")?,
        cell_phone: phone(o, "cellPhone")?,
        address: address(o, "primaryAddress", optional())?,
        tax_id: tax_id(o, "taxId")?,
    })
}

/// A taxpayer id: an SSN (`123-45-6789`) or an EIN (`12-3456789`), or its nine digits; kept as
/// the digits. Answers show the last four only; a refusal never echoes it.
pub(super) fn tax_id(o: &mut Obj, name: &str) -> Read<Option<String>> {
    let Some(s) = o.string(name, optional(), 11)? else { return Ok(None) };
    let b = s.as_bytes();
    let digits_at = |at: &[usize]| at.iter().all(|&i| b.get(i).is_some_and(u8::is_ascii_digit));
    let shape = match b.len() {
        9 => digits_at(&[0, 1, 2, 3, 4, 5, 6, 7, 8]),
        11 => b[3] == b'-' && b[6] == b'-' && digits_at(&[0, 1, 2, 4, 5, 7, 8, 9, 10]),
        10 => b[2] == b'-' && digits_at(&[0, 1, 3, 4, 5, 6, 7, 8, 9]),
        _ => false,
    };
    if !shape {
        o.problem(name, optional(), "is not a taxpayer id: an SSN ddd-dd-dddd, an EIN dd-ddddddd, or nine digits")?;
        return Ok(None);
    }
    Ok(Some(s.chars().filter(char::is_ascii_digit).collect()))
}

fn subtype(o: &mut Obj) -> Read<Option<ContactSubtype>> {
    match o.one_of("contactSubtype", required(), &["Person", "Company"])?.as_deref() {
        Some("Person") => Ok(Some(ContactSubtype::Person)),
        Some(_) => Ok(Some(ContactSubtype::Company)),
        None => Ok(None),
    }
}

/// `initialAccountHolder` or a new contact: subtype, names, details.
pub fn new_contact(o: &mut Obj, address_required: bool) -> Read<Option<(ContactSubtype, ContactFields)>> {
    let Some(st) = subtype(o)? else { return Ok(None) };
    let f = contact_fields(o, st, true)?;
    if address_required && f.address.is_none() && !o.has("primaryAddress") {
        o.problem("primaryAddress", required(), "is required")?;
    }
    Ok(Some((st, f)))
}

pub fn contact_patch(o: &mut Obj, subtype: ContactSubtype) -> Read<ContactFields> {
    refuse_field(o, "contactSubtype", "cannot be changed")?;
    contact_fields(o, subtype, false)
}

pub fn new_contact_body<'v>(v: impl Into<Sent<'v>>) -> Result<(ContactSubtype, ContactFields), AccountError> {
    let (contact, _) = body(v, |a| new_contact(a, false))?;
    Ok(contact)
}

pub fn contact_patch_body<'v>(
    v: impl Into<Sent<'v>>,
    subtype: ContactSubtype,
) -> Result<(ContactFields, Option<String>), AccountError> {
    body(v, |a| {
        refuse_empty(a)?;
        contact_patch(a, subtype).map(Some)
    })
}

pub(crate) fn contact_from(subtype: ContactSubtype, f: ContactFields, now: DateTime<Utc>) -> Contact {
    Contact {
        subtype,
        first_name: f.first_name,
        last_name: f.last_name,
        company_name: f.company_name,
        email: f.email,
        home_phone: f.home_phone,
        work_phone: f.work_phone,
        cell_phone: f.cell_phone,
        tax_id: f.tax_id,
        address: f.address,
        created_at: now,
    }
}
