//! Drivers on auto policies.

use super::*;

/// AddDriver, ReplaceDriver.
pub(super) fn add_or_replace(
    policies: &[Policy],
    action: ActionType,
    mut o: Fields,
    next_id: &mut dyn FnMut() -> u64,
    counts: &mut Added,
) -> Result<Planned, Invalid> {
    let (i, p) = target(policies, &mut o, AUTO_LINES, "drivers")?;
    let replacing = if action == ActionType::ReplaceDriver {
        o.string("replacing_driver_full_name", required().code("REPLACING_DRIVER_NOT_FOUND"), 120)?
    } else {
        None
    };
    let mut d = driver_fields(&mut o, "driver")?;
    o.end()?;
    let mut np = p.clone();
    let before = match &replacing {
        Some(name) => {
            let k = np.drivers.iter().position(|x| same_name(&full_name(x), name)).ok_or_else(|| {
                invalid("REPLACING_DRIVER_NOT_FOUND", "replacing_driver_full_name is not a driver on the policy")
            })?;
            Some(np.drivers.remove(k))
        }
        None => None,
    };
    if np.drivers.iter().any(|x| same_name(&full_name(x), &full_name(&d)) && x.date_of_birth == d.date_of_birth) {
        return Err(invalid("DUPLICATE_DRIVER", "the driver is already on the policy"));
    }
    d.id = next_id();
    let after = driver_view(&d);
    np.drivers.push(d);
    if before.is_none() {
        counts.drivers = 1;
    }
    Ok((
        vec![(i, np)],
        json!({"carrier_policy_number": p.policy_number, "before": before.as_ref().map(driver_view), "after": after}),
    ))
}
