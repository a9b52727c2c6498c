//! The servicing API's views of pulls and actions, and the webhook body of an event, in the
//! original's shapes: what a client reads, built in one place.

use serde_json::{json, Value};

use super::model::{Pull, PullStatus, ServicingAction};

pub fn pull_view(p: &Pull, actions: &[ServicingAction]) -> Value {
    let mut v = json!({
        "pull_id": p.pull_id,
        "status": p.status.code(),
        "type": p.pull_type,
        "created_at": p.consented_at,
        "insurance_provider_name": p.insurance_provider_name,
        "insurance_provider_friendly_name": p.insurance_provider_friendly_name,
        "account_identifier": p.account_identifier,
        "first_name": p.first_name,
        "last_name": p.last_name,
        "email": p.email,
        "meta_data": p.meta_data,
        "parent_pull_id": p.parent_pull_id,
        "encountered_mfa": p.encountered_mfa,
        "is_archived": p.is_archived,
        "login_error_message": p.login_error_message,
        "servicing_actions": actions.iter().map(action_view).collect::<Vec<_>>(),
    });
    if p.status == PullStatus::IdentityVerificationOptions {
        v["mfa_options"] =
            json!(p.mfa.options.iter().map(|o| json!({"optionKey": o.key, "label": o.label})).collect::<Vec<_>>());
    }
    v
}

pub fn action_view(a: &ServicingAction) -> Value {
    json!({
        "servicing_action_id": a.servicing_action_id,
        "pull_id": a.pull_id,
        "status": a.status.code(),
        "type": a.action_type.code(),
        "payload": a.payload,
        "confirmation_data": a.confirmation_data,
        "validation_error_type": a.validation_error_type,
        "error_message": a.error_message,
        "created_at": a.created_at,
        "updated_at": a.updated_at,
    })
}
