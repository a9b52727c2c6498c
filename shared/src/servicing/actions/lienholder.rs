//! Lien holders of a vehicle.

use super::*;

/// AddLienholder, ReplaceLienholder: on one vehicle.
pub(super) fn add_or_replace(
    policies: &[Policy],
    action: ActionType,
    mut o: Fields,
    next_id: &mut dyn FnMut() -> u64,
) -> Result<Planned, Invalid> {
    let (i, p) = target(policies, &mut o, AUTO_LINES, "lien holders")?;
    let on_vin = vin(&mut o, "vin", true, "INVALID_VIN")?.unwrap_or_default();
    let replacing = if action == ActionType::ReplaceLienholder {
        o.string("replacing_lien_holder_name", required().code("REPLACING_LIENHOLDER_NOT_FOUND"), 120)?
    } else {
        None
    };
    let mut l = lien_fields(&mut o, "lien_holder", "INVALID_LIENHOLDER")?;
    o.end()?;
    let mut np = p.clone();
    let v = np
        .vehicles
        .iter_mut()
        .find(|v| v.vin == on_vin)
        .ok_or_else(|| invalid("VEHICLE_NOT_FOUND", "vin is not a vehicle on the policy"))?;
    let before = match &replacing {
        Some(name) => {
            let k = v.lien_holders.iter().position(|x| same_name(&x.name, name)).ok_or_else(|| {
                invalid(
                    "REPLACING_LIENHOLDER_NOT_FOUND",
                    "replacing_lien_holder_name is not a lien holder of the vehicle",
                )
            })?;
            Some(v.lien_holders.remove(k))
        }
        None => None,
    };
    if v.lien_holders.iter().any(|x| same_name(&x.name, &l.name)) {
        return Err(invalid("DUPLICATE_LIENHOLDER", "the lien holder is already on the vehicle"));
    }
    if v.lien_holders.len() >= 3 {
        return Err(invalid("INVALID_LIENHOLDER", "a vehicle has at most 3 lien holders"));
    }
    l.id = next_id();
    let after = lien_view(&l);
    v.lien_holders.push(l);
    Ok((
        vec![(i, np)],
        json!({"carrier_policy_number": p.policy_number, "vin": on_vin, "before": before.as_ref().map(lien_view), "after": after}),
    ))
}
