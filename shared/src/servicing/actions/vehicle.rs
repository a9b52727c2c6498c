//! Vehicles on auto policies.

use super::*;

/// AddVehicle: a vehicle added (or replacing one), with its lien holders and primary driver.
pub(super) fn add(
    policies: &[Policy],
    mut o: Fields,
    next_id: &mut dyn FnMut() -> u64,
    counts: &mut Added,
) -> Result<Planned, Invalid> {
    let (i, p) = target(policies, &mut o, AUTO_LINES, "vehicles")?;
    let new = vehicle_fields(&mut o)?;
    let owner = o.string("registered_owner_full_name", optional().code("INVALID_VEHICLE"), 120)?;
    let garaging = address(&mut o, "garaging_address", false)?;
    let primary = o.string("primary_driver_full_name", optional().code("PRIMARY_DRIVER_NOT_FOUND"), 120)?;
    let replacing = vin(&mut o, "replacing_vin", false, "REPLACING_VIN_NOT_FOUND")?;
    let (ownership_type, mut liens) = ownership_fields(&mut o)?;
    o.end()?;
    if let Some(name) = &primary {
        if !p.drivers.iter().any(|d| same_name(&full_name(d), name)) {
            return Err(invalid("PRIMARY_DRIVER_NOT_FOUND", "primary_driver_full_name is not a driver on the policy"));
        }
    }
    let mut np = p.clone();
    let before = match &replacing {
        Some(r) => {
            let k =
                np.vehicles.iter().position(|v| &v.vin == r).ok_or_else(|| {
                    invalid("REPLACING_VIN_NOT_FOUND", "replacing_vin is not a vehicle on the policy")
                })?;
            Some(np.vehicles.remove(k))
        }
        None => None,
    };
    if np.vehicles.iter().any(|v| v.vin == new.vin) {
        return Err(invalid("DUPLICATE_VIN", "the vehicle is already on the policy"));
    }
    for l in &mut liens {
        l.id = next_id();
    }
    let added = Vehicle { id: next_id(), lien_holders: liens, ..new };
    let mut after = vehicle_view(&added);
    after["ownership_type"] = json!(ownership_type);
    after["registered_owner_full_name"] = json!(owner);
    after["primary_driver_full_name"] = json!(primary);
    after["garaging_address"] = json!(garaging.as_ref().map(address_view));
    np.vehicles.push(added);
    if before.is_none() {
        counts.vehicles = 1;
    }
    Ok((
        vec![(i, np)],
        json!({"carrier_policy_number": p.policy_number, "before": before.as_ref().map(vehicle_view), "after": after}),
    ))
}

/// The `vehicle` object of an AddVehicle payload: the vehicle without ids or lien holders.
fn vehicle_fields(o: &mut Fields) -> Result<Vehicle, Invalid> {
    let mut v = o.object("vehicle", required().code("INVALID_VEHICLE"))?.unwrap_or_else(|| unreachable!("required"));
    let _vehicle_type =
        v.one_of("type", optional().code("INVALID_VEHICLE"), &["CAR", "TRUCK", "SUV", "VAN", "MOTORCYCLE", "OTHER"])?;
    let model_year = match v.take("model_year") {
        Some(Value::Number(n)) => n.as_i64().filter(|y| (1900..=2100).contains(y)),
        _ => None,
    }
    .ok_or_else(|| invalid("INVALID_VEHICLE", "vehicle.model_year must be a year from 1900 to 2100"))?;
    let new_vin = vin(&mut v, "vin", true, "INVALID_VIN")?.unwrap_or_default();
    let make = v.string("make", required().code("INVALID_VEHICLE"), 40)?.unwrap_or_default();
    let model = v.string("model", required().code("INVALID_VEHICLE"), 40)?.unwrap_or_default();
    v.end()?;
    Ok(Vehicle { id: 0, vin: new_vin, make, model, model_year: model_year as i32, lien_holders: vec![] })
}

/// The optional `vehicle_ownership` object: its type, and its financing companies as lien holders
/// without ids.
fn ownership_fields(o: &mut Fields) -> Result<(Option<String>, Vec<LienHolder>), Invalid> {
    let mut liens = Vec::new();
    let mut ownership_type = None;
    if let Some(mut own) = o.object("vehicle_ownership", optional().code("INVALID_FINANCING_COMPANY"))? {
        ownership_type =
            own.one_of("type", required().code("INVALID_FINANCING_COMPANY"), &["OWN", "LEASE", "FINANCE"])?;
        let companies = own.objects("financing_companies", optional().code("INVALID_FINANCING_COMPANY"), 3)?;
        for mut f in companies.unwrap_or_default() {
            let t = f.one_of("type", required(), LIEN_TYPES)?.unwrap_or_default();
            let name = f.string("name", required(), 120)?.unwrap_or_default();
            let address = address(&mut f, "address", true)?.ok_or_else(|| invalid("INVALID_ADDRESS", "address"))?;
            f.end()?;
            if liens.iter().any(|l: &LienHolder| same_name(&l.name, &name)) {
                return Err(invalid("DUPLICATE_FINANCING_COMPANY", "a financing company appears twice"));
            }
            liens.push(LienHolder { id: 0, name, lien_type: t, address });
        }
        if ownership_type.as_deref() == Some("OWN") && !liens.is_empty() {
            return Err(invalid("INVALID_FINANCING_COMPANY", "an owned vehicle has no financing companies"));
        }
        own.end()?;
    }
    Ok((ownership_type, liens))
}
