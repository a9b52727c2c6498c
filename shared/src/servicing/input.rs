//! The servicing API's request bodies, read once at the edge into typed requests: a consent, a
//! servicing on an earlier pull's consent, a webhook, a redelivery. Problems carry the original's
//! error codes and never echo a value sent (credentials above all). The service takes what is read
//! here; a servicing action's payload is read when the action runs ([`super::actions`]).

use serde_json::{json, Value};

use super::actions;
use super::model::{ActionType, Consent, EventType, MAX_ACTIONS, MAX_META_DATA};
use super::ServicingError;
use crate::fields::{optional, required};
use crate::net::check_url;

/// `POST /widget/pull/consentAndConnect`: the consent, the team's public alias, the carrier and
/// the consumer's credentials. The actions are read once the carrier is known ([`read_actions`]),
/// so an unknown carrier is named before any action problem.
pub struct ConsentRequest {
    /// Its `given_at` is set when the pull is created.
    pub consent: Consent,
    pub alias: String,
    pub meta_data: Value,
    pub carrier_id: String,
    pub secrets: super::model::Secrets,
    pub actions: Option<Value>,
}

/// Reads a consent body.
pub fn consent(body: &Value) -> Result<ConsentRequest, ServicingError> {
    let mut b = actions::request(body)?;
    let device = b
        .string_as_sent("device_identifier", required().code("MISSING_DEVICE_IDENTIFIER"), 1, 200)?
        .unwrap_or_default();
    let terms_version = match b.take("terms_version") {
        Some(Value::Number(n)) => crate::fields::whole_number(&n.to_string()).filter(|v| *v >= 0),
        _ => None,
    }
    .ok_or_else(|| ServicingError::bad("INVALID_INPUT", "terms_version must be a whole number from 0"))?;
    let consent_language = match b.take("consent_language") {
        Some(Value::String(s)) if s.chars().count() > 1024 => {
            return Err(ServicingError::bad(
                "CONSENT_LANGUAGE_TOO_LONG",
                "consent_language may hold at most 1024 characters",
            ))
        }
        Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
        _ => {
            return Err(ServicingError::bad(
                "INVALID_CONSENT_LANGUAGE",
                "consent_language is required: the text the consumer agreed to",
            ))
        }
    };
    let alias = b.string_as_sent("public_alias", required().code("INVALID_PUBLIC_ALIAS"), 1, 64)?.unwrap_or_default();
    let meta_data = match b.take("meta_data") {
        None => json!({}),
        Some(m @ Value::Object(_)) if m.to_string().len() <= MAX_META_DATA => m.clone(),
        Some(_) => {
            return Err(ServicingError::bad(
                "INVALID_INPUT",
                format!("meta_data must be an object of at most {MAX_META_DATA} bytes"),
            ))
        }
    };
    let carrier_id =
        b.string_as_sent("insurerName", required().code("UNSUPPORTED_INSURER"), 1, 100)?.unwrap_or_default();
    let username =
        b.string_as_sent("insurerUsername", required().code("INVALID_USERNAME"), 5, 200)?.unwrap_or_default();
    let password = b.string_as_sent("insurerPassword", required().code("INVALID_PASSWORD"), 5, 200)?;
    let third = b.string_as_sent("insurerThirdField", optional().code("INVALID_THIRDFIELD"), 1, 200)?;
    let actions_raw = b.take("servicing_actions");
    b.end()?;
    Ok(ConsentRequest {
        consent: Consent { terms_version, consent_language, device_identifier: device, given_at: chrono::Utc::now() },
        alias,
        meta_data,
        carrier_id,
        secrets: super::model::Secrets { username, password, third_field: third, mfa_code: None, session: None },
        actions: actions_raw.cloned(),
    })
}

/// `POST /teams/{teamId}/servicings`: the earlier pull whose consent and credentials it reuses, and
/// its actions (read once that pull's carrier is known).
pub struct ServicingRequest {
    pub pull_id: String,
    pub actions: Option<Value>,
}

pub fn servicing(body: &Value) -> Result<ServicingRequest, ServicingError> {
    let mut b = actions::request(body)?;
    let pull_id = b.string_as_sent("pull_id", required().code("INVALID_INPUT"), 1, 64)?.unwrap_or_default();
    let actions = b.take("servicing_actions").cloned();
    b.end()?;
    Ok(ServicingRequest { pull_id, actions })
}

/// A redelivery's body: none, or `{"webhook_id"}` to send to that endpoint only. A JSON `null` is
/// a body, and not an object: refused.
pub fn redelivery(body: Option<&Value>) -> Result<Option<String>, ServicingError> {
    match body {
        None => Ok(None),
        Some(Value::Object(o)) => {
            if let Some(k) = o.keys().find(|k| *k != "webhook_id") {
                return Err(ServicingError::bad("INVALID_INPUT", format!("{k} is not a field of a redelivery")));
            }
            match o.get("webhook_id") {
                None => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(ServicingError::bad("INVALID_INPUT", "webhook_id must be a string")),
            }
        }
        Some(_) => Err(ServicingError::bad("INVALID_INPUT", "The body must be a JSON object or empty")),
    }
}

/// Reads `servicing_actions`: 1 to [`MAX_ACTIONS`] objects `{type, payload}` of types the carrier
/// supports. Payload fields are checked when the action runs (a bad one ends `VALIDATION_ERROR`).
pub(crate) fn read_actions(
    v: Option<&Value>,
    carrier: &super::carriers::Carrier,
) -> Result<Vec<(ActionType, Value)>, ServicingError> {
    let items = match v {
        None => {
            return Err(ServicingError::bad(
                "MISSING_SERVICING_ACTIONS",
                "servicing_actions is required: this deployment runs servicing pulls",
            ))
        }
        Some(Value::Array(items)) if items.is_empty() => {
            return Err(ServicingError::bad("MISSING_SERVICING_ACTIONS", "servicing_actions needs at least one action"))
        }
        Some(Value::Array(items)) if items.len() <= MAX_ACTIONS => items,
        Some(_) => {
            return Err(ServicingError::bad(
                "INVALID_SERVICING_ACTIONS",
                format!("servicing_actions must be an array of 1 to {MAX_ACTIONS} actions"),
            ))
        }
    };
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let bad = |m: &str| ServicingError::bad("INVALID_SERVICING_ACTIONS", format!("servicing_actions[{i}]: {m}"));
        let Value::Object(o) = item else { return Err(bad("must be an object {type, payload}")) };
        if let Some(k) = o.keys().find(|k| *k != "type" && *k != "payload") {
            return Err(bad(&format!("{k} is not a field of a servicing action")));
        }
        let t = o
            .get("type")
            .and_then(Value::as_str)
            .and_then(ActionType::parse)
            .ok_or_else(|| bad("type must be one of the servicing action types"))?;
        if !carrier.supports(t) {
            return Err(bad(&format!("{} is not a servicing action this carrier supports", t.code())));
        }
        let payload = match o.get("payload") {
            Some(p @ Value::Object(_)) if p.to_string().len() <= 16 * 1024 => p.clone(),
            _ => return Err(bad("payload must be an object of at most 16 KiB")),
        };
        out.push((t, payload));
    }
    Ok(out)
}

fn read_types(v: Option<&Value>) -> Result<Vec<EventType>, ServicingError> {
    match v {
        None => Ok(EventType::ALL.to_vec()),
        Some(Value::Array(items)) if !items.is_empty() => {
            let mut out = Vec::new();
            for i in items {
                let t = i.as_str().and_then(EventType::parse).ok_or_else(|| {
                    ServicingError::bad(
                        "INVALID_INPUT",
                        format!(
                            "event_types holds only {}",
                            EventType::ALL.iter().map(|t| t.code()).collect::<Vec<_>>().join(", ")
                        ),
                    )
                })?;
                if !out.contains(&t) {
                    out.push(t);
                }
            }
            Ok(out)
        }
        Some(_) => Err(ServicingError::bad("INVALID_INPUT", "event_types must be a non-empty array of event types")),
    }
}

/// A webhook request: url, event types, active flag (each optional on update).
pub struct WebhookInput {
    pub url: Option<String>,
    pub types: Option<Vec<EventType>>,
    pub active: Option<bool>,
}

/// Reads a webhook registration (`creating`: the url is required) or update. A url must be http(s)
/// to a public address unless private addresses are allowed ([`check_url`]).
pub fn webhook(body: &Value, creating: bool, allow_private: bool) -> Result<WebhookInput, ServicingError> {
    let Value::Object(o) = body else {
        return Err(ServicingError::bad("INVALID_INPUT", "The body must be a JSON object"));
    };
    if let Some(k) = o.keys().find(|k| !["url", "event_types", "is_active"].contains(&k.as_str())) {
        return Err(ServicingError::bad("INVALID_INPUT", format!("{k} is not a field of a webhook")));
    }
    let url = match o.get("url") {
        None if creating => return Err(ServicingError::bad("INVALID_INPUT", "url is required")),
        None => None,
        Some(Value::String(u)) => {
            check_url(u, allow_private).map_err(|e| ServicingError::bad("INVALID_INPUT", e))?;
            Some(u.clone())
        }
        Some(_) => return Err(ServicingError::bad("INVALID_INPUT", "url must be a string")),
    };
    let types = match o.get("event_types") {
        None => None,
        v => Some(read_types(v)?),
    };
    let active = match o.get("is_active") {
        None => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(_) => return Err(ServicingError::bad("INVALID_INPUT", "is_active must be true or false")),
    };
    Ok(WebhookInput { url, types, active })
}
