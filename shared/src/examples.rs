//! Example data for trying the API and the sample events in `events/`: the local team and three
//! accounts. `coverdesk seed` writes it; `tests/layout.rs` replays every event against it.
//!
//! | account | holder | state | children |
//! |---|---|---|---|
//! | pc:1 | Ray Newton | Active | contact pc:1, location pc:2, policy pc:7 (HO-2026-0001) |
//! | pc:2 | Ann Source | Pending | contact pc:3, location pc:4 |
//! | pc:3 | Wil Drawn | Withdrawn | contact pc:5, location pc:6 |

use serde_json::json;

use crate::accounts::{input, service::ListQuery, AccountError, Accounts, TeamId};
use crate::auth;
use crate::store::Store;

pub const LOCAL_TEAM_ID: &str = "local";
pub const LOCAL_CLIENT_ID: &str = "local";
pub const LOCAL_SECRET: &str = "local-secret";

/// Makes sure the local team exists (with the README's credentials, unless rotated since).
pub async fn ensure_local_team(store: &dyn Store) -> Result<TeamId, AccountError> {
    auth::ensure_team(store, LOCAL_TEAM_ID, LOCAL_CLIENT_ID, LOCAL_SECRET).await?;
    Ok(TeamId::new(LOCAL_TEAM_ID))
}

fn account(first: &str, last: &str) -> serde_json::Value {
    let addr =
        json!({"addressLine1": "1253 Paloma Ave", "city": "Arcadia", "state": {"code": "CA"}, "postalCode": "91007"});
    json!({"data": {"attributes": {
        "initialAccountHolder": {"contactSubtype": "Person", "firstName": first, "lastName": last, "primaryAddress": addr},
        "initialPrimaryLocation": addr,
        "producerCodes": [{"id": "pc:16"}]
    }}})
}

/// Writes the example accounts into the local team, if it has no accounts yet. Returns whether
/// it wrote them.
pub async fn seed(store: &dyn Store) -> Result<bool, AccountError> {
    let team = ensure_local_team(store).await?;
    let svc = Accounts::new(store, &team);
    let existing = svc.list(&ListQuery { page_size: 1, ..Default::default() }).await?;
    if !existing.items.is_empty() {
        return Ok(false);
    }
    let a1 = svc.create(input::new_account(&account("Ray", "Newton"))?, None).await?;
    svc.create(input::new_account(&account("Ann", "Source"))?, None).await?;
    let a3 = svc.create(input::new_account(&account("Wil", "Drawn"))?, None).await?;
    let policy = json!({"data": {"attributes": {
        "policyNumber": "HO-2026-0001", "lineOfBusiness": {"code": "Homeowners"},
        "effectiveDate": "2026-01-01", "expirationDate": "2027-01-01",
        "totalPremium": {"amount": "1450.00", "currency": "usd"},
        "insured": {"firstName": "Ray", "lastName": "Newton", "emailAddress1": "ray@example.com"},
        "mortgagees": [{"name": "First Home Bank", "mortgageeType": {"code": "FIRST"}, "loanNumber": "L-0001",
                        "address": {"addressLine1": "1 Bank Plaza", "city": "Pasadena", "state": {"code": "CA"}, "postalCode": "91101"}}]
    }}});
    svc.add_policy(a1.value.id, input::new_policy(&policy)?, None).await?;
    svc.withdraw(a3.value.id, None, None).await?;
    Ok(true)
}
