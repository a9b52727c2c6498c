//! Mortgagees on property policies.

use super::*;

/// AddMortgagee, EditMortgagee: a mortgagee added to or changed on a property policy.
pub(super) fn add_or_edit(
    policies: &[Policy],
    action: ActionType,
    mut o: Fields,
    next_id: &mut dyn FnMut() -> u64,
) -> Result<Planned, Invalid> {
    let (i, p) = target(policies, &mut o, PROPERTY_LINES, "mortgagees")?;
    let (name, loan_number, address, t) = mortgagee_fields(&mut o)?;
    o.end()?;
    let mut np = p.clone();
    let existing = np.mortgagees.iter().position(|m| m.mortgagee_type == t);
    let before = existing.map(|k| mortgagee_view(&np.mortgagees[k]));
    match (action, existing) {
        (ActionType::AddMortgagee, Some(_)) => {
            return Err(invalid("DUPLICATE_MORTGAGEE_TYPE", format!("the policy already has a {t} mortgagee")))
        }
        (ActionType::AddMortgagee, None) => {
            np.mortgagees.push(Mortgagee { id: next_id(), name, mortgagee_type: t.clone(), loan_number, address })
        }
        (_, None) => return Err(invalid("MORTGAGEE_NOT_FOUND", format!("the policy has no {t} mortgagee"))),
        (_, Some(k)) => {
            let m = &mut np.mortgagees[k];
            m.name = name;
            m.loan_number = loan_number;
            m.address = address;
        }
    }
    let after = np.mortgagees.iter().find(|m| m.mortgagee_type == t).map(mortgagee_view);
    if before == after {
        return Err(invalid("NO_CHANGES", "the mortgagee already reads exactly so"));
    }
    np.mortgagees.sort_by(|a, b| a.mortgagee_type.cmp(&b.mortgagee_type));
    Ok((vec![(i, np)], json!({"carrier_policy_number": p.policy_number, "before": before, "after": after})))
}

/// RemoveMortgagee.
pub(super) fn remove(policies: &[Policy], mut o: Fields) -> Result<Planned, Invalid> {
    let (i, p) = target(policies, &mut o, PROPERTY_LINES, "mortgagees")?;
    let t = o.one_of("mortgagee_type", required().code("INVALID_MORTGAGEE_TYPE"), MORTGAGEE_TYPES)?.unwrap_or_default();
    o.end()?;
    let mut np = p.clone();
    let k = np
        .mortgagees
        .iter()
        .position(|m| m.mortgagee_type == t)
        .ok_or_else(|| invalid("MORTGAGEE_NOT_FOUND", format!("the policy has no {t} mortgagee")))?;
    let removed = np.mortgagees.remove(k);
    Ok((
        vec![(i, np)],
        json!({"carrier_policy_number": p.policy_number, "before": mortgagee_view(&removed), "after": null}),
    ))
}
