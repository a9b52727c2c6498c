//! The insured's contact details.

use super::*;

/// UpdateContactInfo: on every policy in force.
pub(super) fn update(policies: &[Policy], mut o: Fields) -> Result<Planned, Invalid> {
    let email = o.string("email", optional().code("INVALID_EMAIL"), 254)?;
    if let Some(e) = &email {
        if crate::types::Email::parse(e).is_none() {
            return Err(invalid("INVALID_EMAIL", "email is not an email address"));
        }
    }
    let phone = o.string("phone", optional().code("INVALID_PHONE"), 20)?;
    if let Some(ph) = &phone {
        let digits = ph.chars().filter(char::is_ascii_digit).count();
        if !(10..=15).contains(&digits) || !ph.chars().all(|c| c.is_ascii_digit() || " +-().".contains(c)) {
            return Err(invalid("INVALID_PHONE", "phone must hold 10 to 15 digits"));
        }
    }
    let addr = address(&mut o, "address", false)?;
    o.end()?;
    if email.is_none() && phone.is_none() && addr.is_none() {
        return Err(invalid("NO_CHANGES", "give at least one of email, phone, address"));
    }
    let serviceable: Vec<usize> =
        policies.iter().enumerate().filter(|(_, p)| p.status == "InForce").map(|(i, _)| i).collect();
    let Some(&first) = serviceable.first() else {
        return Err(invalid("POLICY_UNAVAILABLE_FOR_SERVICING", "the account has no policy in force"));
    };
    let before = contact_view(&policies[first].insured);
    let mut changed = Vec::new();
    for i in serviceable {
        let mut np = policies[i].clone();
        if let Some(e) = &email {
            np.insured.email = Some(e.clone());
        }
        if let Some(ph) = &phone {
            np.insured.phone = Some(ph.clone());
        }
        if let Some(a) = &addr {
            np.insured.address = Some(a.clone());
        }
        if np != policies[i] {
            changed.push((i, np));
        }
    }
    let Some((_, sample)) = changed.first() else {
        return Err(invalid("NO_CHANGES", "the contact information already reads exactly so"));
    };
    let after = contact_view(&sample.insured);
    let numbers: Vec<&str> = changed.iter().map(|(i, _)| policies[*i].policy_number.as_str()).collect();
    let confirmation = json!({"carrier_policy_numbers": numbers, "before": before, "after": after});
    Ok((changed, confirmation))
}
