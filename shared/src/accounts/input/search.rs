//! Reading the two account searches' bodies: the original's criteria (`POST
//! /account/v1/search/accounts`) with its rules, and a free text
//! (`POST /account/v1/search/accounts-freetext`).

use super::*;
use crate::accounts::terms::{Criteria, FreeText};

/// The criteria of which the original's page asks at least one.
const REQUIRED_ONE_OF: &str =
    "accountNumber, companyName, firstName with lastName, organization, phoneNumber, producerCode or taxId";

/// `{"data": {"attributes": {accountNumber, companyName, firstName, lastName, organization {id},
/// phoneNumber, producerCode {id}, taxId, postalCode, city, state {code}}}}`, by the original's
/// rules: at least one of its criteria; `companyName` without `firstName`/`lastName`; those two
/// together. `postalCode`, `city` and `state` (the primary location's) narrow a search only.
pub fn search_criteria<'v>(v: impl Into<Sent<'v>>) -> Result<Criteria, AccountError> {
    let (criteria, _) = body(v, |a| {
        let mut states: Vec<&str> = US_STATES.to_vec();
        states.extend_from_slice(CA_PROVINCES);
        let c = Criteria {
            account_number: a.string("accountNumber", optional(), 32)?,
            company_name: a.string("companyName", optional(), 120)?,
            first_name: a.string("firstName", optional(), 60)?,
            last_name: a.string("lastName", optional(), 60)?,
            phone_number: phone(a, "phoneNumber")?,
            tax_id: contact::tax_id(a, "taxId")?,
            producer_code: code_reference(a, "producerCode")?,
            postal_code: a.string("postalCode", optional(), 10)?,
            city: a.string("city", optional(), 60)?,
            state: typekey(a, "state", optional(), &states)?,
        };
        if a.has("organization") {
            a.ignore("organization");
            a.problem(
                "organization",
                optional(),
                "cannot be searched here: accounts of this service carry producer codes, not producer organizations (search by producerCode)",
            )?;
        }
        if a.has("companyName") {
            for name in ["firstName", "lastName"] {
                if a.has(name) {
                    a.problem(
                        name,
                        optional(),
                        "cannot be combined with companyName (a company has no first or last name)",
                    )?;
                }
            }
        } else if a.has("firstName") != a.has("lastName") {
            let missing = if a.has("firstName") { "lastName" } else { "firstName" };
            a.problem(
                missing,
                required(),
                "is required with the other name: a person is searched by first and last name together",
            )?;
        }
        let named = [
            "accountNumber",
            "companyName",
            "firstName",
            "lastName",
            "organization",
            "phoneNumber",
            "producerCode",
            "taxId",
        ]
        .iter()
        .any(|n| a.has(n));
        if !named {
            a.problem_here(format!("must name at least one of {REQUIRED_ONE_OF}"))?;
        }
        Ok(Some(c))
    })?;
    Ok(criteria)
}

/// A reference `{id}` to a producer code, as the account's `producerCodes` carry them.
fn code_reference(o: &mut Obj, name: &str) -> Read<Option<String>> {
    let Some(mut r) = o.object(name, optional())? else { return Ok(None) };
    r.ignore("displayName");
    let id = r.string("id", required(), 64)?;
    let id = match id {
        Some(id) if !id.chars().all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c)) => {
            r.problem("id", required(), "may hold letters, digits and - _ . : only")?;
            None
        }
        other => other,
    };
    r.end()?;
    Ok(id)
}

/// `{"data": {"attributes": {"searchValue": "..."}}}`: one to eight words.
pub fn free_text<'v>(v: impl Into<Sent<'v>>) -> Result<FreeText, AccountError> {
    let (text, _) = body(v, |a| {
        let Some(value) = a.string("searchValue", required(), 200)? else { return Ok(None) };
        let text = FreeText::parse(&value);
        if text.0.is_empty() {
            a.problem("searchValue", required(), "holds no word (letters or digits) to search for")?;
        } else if text.0.len() > FreeText::MAX_WORDS {
            a.problem("searchValue", required(), format!("holds more than {} words", FreeText::MAX_WORDS))?;
        }
        Ok(Some(text))
    })?;
    Ok(text)
}
