//! The servicing API's request bodies, read once at the edge into typed requests: a consent, a
//! servicing on an earlier pull's consent, a webhook, a redelivery. Problems carry the original's
//! error codes and never echo a value sent (credentials above all). The service takes what is read
//! here; a servicing action's payload is read when the action runs ([`super::actions`]).

use serde_json::{json, Value};

use super::actions;
use super::actions::Fields;
use super::model::{ActionRequest, ActionType, Consent, EventType, MAX_ACTIONS, MAX_META_DATA};
use super::ServicingError;
use crate::fields::{optional, required, Empty, Mode, Report, Rules};
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
    /// Where the actions and meta data come from (see [`ActionSource`]).
    pub source: ActionSource,
}

/// Who chose a consent's servicing actions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActionSource {
    /// The caller, in `servicing_actions` (the Auth API: the integrator's backend calls).
    Body,
    /// The integrator, in advance: the `connect_token` the hosted page was given. The body carries
    /// no actions and no meta data.
    Token(String),
    /// Nobody: `connect_only: true` connects the account and runs no action (a hosted link
    /// without a token); `POST /teams/{teamId}/servicings` reuses its consent later.
    ConnectOnly,
}

/// The longest consent text, in characters as sent.
const MAX_CONSENT_LANGUAGE: usize = 1024;
/// The largest servicing action payload, in bytes as JSON.
const MAX_PAYLOAD: usize = 16 * 1024;
/// The longest webhook url, in characters.
const MAX_WEBHOOK_URL: usize = 2048;

/// Reads a consent body.
pub fn consent(body: &Value) -> Result<ConsentRequest, ServicingError> {
    let mut b = actions::request(body)?;
    let device = b
        .string_as_sent("device_identifier", required().code("MISSING_DEVICE_IDENTIFIER"), 1, 200)?
        .unwrap_or_default();
    let terms_version = b.integer("terms_version", required(), 0, i64::MAX)?.unwrap_or_default();
    if matches!(b.peek("consent_language"), Some(Value::String(s)) if s.chars().count() > MAX_CONSENT_LANGUAGE) {
        return Err(ServicingError::bad(
            "CONSENT_LANGUAGE_TOO_LONG",
            format!("consent_language may hold at most {MAX_CONSENT_LANGUAGE} characters"),
        ));
    }
    let consent_language = b
        .text_block("consent_language", required().code("INVALID_CONSENT_LANGUAGE"), MAX_CONSENT_LANGUAGE)?
        .unwrap_or_default();
    let alias = b.string_as_sent("public_alias", required().code("INVALID_PUBLIC_ALIAS"), 1, 64)?.unwrap_or_default();
    let source = read_source(&mut b)?;
    let meta_data = meta_data(&mut b)?;
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
        source,
    })
}

/// The longest connect token, in characters ([`super::service::new_connect_token`] makes 46).
pub const MAX_CONNECT_TOKEN: usize = 64;

/// `connect_token` and `connect_only`, which exclude each other and, when given, leave the actions
/// and the meta data to the token or to nobody: a consumer cannot add or change them.
fn read_source(b: &mut Fields) -> Result<ActionSource, ServicingError> {
    let token = b.string_as_sent("connect_token", optional(), 1, MAX_CONNECT_TOKEN)?;
    let only = b.boolean("connect_only", optional())?.unwrap_or(false);
    let source = match (token, only) {
        (Some(_), true) => {
            return Err(ServicingError::bad("INVALID_INPUT", "connect_token and connect_only exclude each other"))
        }
        (Some(t), false) => ActionSource::Token(t),
        (None, true) => ActionSource::ConnectOnly,
        (None, false) => return Ok(ActionSource::Body),
    };
    // With a token the integrator chose both; with connect_only there is nothing to run (the
    // meta data stays the caller's, as the SDK's `pullMetaData`).
    let fixed: &[&str] = match source {
        ActionSource::Token(_) => &["servicing_actions", "meta_data"],
        _ => &["servicing_actions"],
    };
    if let Some(field) = fixed.iter().find(|f| b.has(f)) {
        let why = match source {
            ActionSource::Token(_) => "comes from the connect token",
            _ => "is not taken with connect_only",
        };
        return Err(ServicingError::bad("INVALID_INPUT", format!("{field} {why}")));
    }
    Ok(source)
}

/// `meta_data`: the integrator's own object, kept as sent (a shape of its own, read whole).
fn meta_data(b: &mut Fields) -> Result<Value, ServicingError> {
    match b.take("meta_data") {
        None => Ok(json!({})),
        Some(m @ Value::Object(_)) if m.to_string().len() <= MAX_META_DATA => Ok(m.clone()),
        Some(_) => Err(ServicingError::bad(
            "INVALID_INPUT",
            format!("meta_data must be an object of at most {MAX_META_DATA} bytes"),
        )),
    }
}

/// The shortest and longest life of a connect token, and its default, in seconds.
pub const CONNECT_TOKEN_SECONDS: (i64, i64, i64) = (60, 86_400, 3_600);

/// `POST /teams/{teamId}/connectTokens`: what one hosted-page visit will run.
pub struct ConnectTokenRequest {
    /// Empty: the pull only connects the account.
    pub actions: Vec<ActionRequest>,
    pub meta_data: Value,
    pub expires_in: i64,
}

pub fn connect_token(body: &Value) -> Result<ConnectTokenRequest, ServicingError> {
    let mut b = actions::request(body)?;
    let raw = b.take("servicing_actions").cloned();
    // No carrier is known yet: the types are checked against the one the consumer picks.
    let actions = match raw {
        None => Vec::new(),
        Some(v) => read_actions(Some(&v), None)
            .map_err(as_invalid_input)?
            .into_iter()
            .map(|(action_type, payload)| ActionRequest { action_type, payload })
            .collect(),
    };
    let meta_data = meta_data(&mut b)?;
    let (min, max, default) = CONNECT_TOKEN_SECONDS;
    let expires_in = b.integer("expires_in", optional(), min, max)?.unwrap_or(default);
    b.end()?;
    Ok(ConnectTokenRequest { actions, meta_data, expires_in })
}

/// `POST /widget/connectToken`: the team's public alias and the token the page was given.
pub fn token_lookup(body: &Value) -> Result<(String, String), ServicingError> {
    let mut b = actions::request(body)?;
    let alias = b.string_as_sent("public_alias", required().code("INVALID_PUBLIC_ALIAS"), 1, 64)?.unwrap_or_default();
    let token = b.string_as_sent("connect_token", required(), 1, MAX_CONNECT_TOKEN)?.unwrap_or_default();
    b.end()?;
    Ok((alias, token))
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
    let Some(body) = body else { return Ok(None) };
    let mut b = strict(body, "The body must be a JSON object or empty")?;
    let webhook = b.string_as_sent("webhook_id", optional(), 1, crate::types::MAX_ID_BYTES)?;
    b.end()?;
    Ok(webhook)
}

/// A body whose fields may be left out but never sent as `null` or blank (a webhook, a
/// redelivery: there `null` would read as "clear it"); `not_object` when it is no object.
fn strict<'a>(body: &'a Value, not_object: &str) -> Result<Fields<'a>, ServicingError> {
    let rules = Rules { mode: Mode::First, empty: Empty::Refused, numbers_as_text: false, code: "INVALID_INPUT" };
    match body {
        Value::Object(_) => {
            Ok(Report::new(rules).open("", body)?.ok_or_else(|| ServicingError::bad("INVALID_INPUT", not_object))?)
        }
        _ => Err(ServicingError::bad("INVALID_INPUT", not_object)),
    }
}

/// Reads `servicing_actions`: 1 to [`MAX_ACTIONS`] objects `{type, payload}` of types the carrier
/// supports. Payload fields are checked when the action runs (a bad one ends `VALIDATION_ERROR`).
/// With no carrier (a connect token, before the consumer picks one) only the types are checked.
pub(crate) fn read_actions(
    v: Option<&Value>,
    carrier: Option<&super::carriers::Carrier>,
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
    let report = Report::new(Rules {
        mode: Mode::First,
        empty: Empty::Absent,
        numbers_as_text: false,
        code: "INVALID_SERVICING_ACTIONS",
    });
    let codes: Vec<&str> = ActionType::ALL.iter().map(|t| t.code()).collect();
    for (i, item) in items.iter().enumerate() {
        let here = format!("servicing_actions[{i}]");
        // In this mode a read that finds a problem returns it, so `None` below is only the type.
        let not_read = || ServicingError::bad("INVALID_SERVICING_ACTIONS", format!("{here} must be {{type, payload}}"));
        let mut o = report.open(&here, item)?.ok_or_else(not_read)?;
        let t = o.one_of("type", required(), &codes)?.as_deref().and_then(ActionType::parse).ok_or_else(not_read)?;
        if let Some(c) = carrier {
            check_supported(c, &here, t)?;
        }
        let payload = match o.take("payload") {
            Some(p @ Value::Object(_)) if p.to_string().len() <= MAX_PAYLOAD => p.clone(),
            _ => return o.refuse("payload", required(), "must be an object of at most 16 KiB").map_err(Into::into),
        };
        o.end()?;
        out.push((t, payload));
    }
    Ok(out)
}

/// An action of type `t` at `here` (`servicing_actions[i]`) the carrier must offer.
fn check_supported(carrier: &super::carriers::Carrier, here: &str, t: ActionType) -> Result<(), ServicingError> {
    if carrier.supports(t) {
        return Ok(());
    }
    Err(ServicingError::bad(
        "INVALID_SERVICING_ACTIONS",
        format!("{here}.type {} is not a servicing action this carrier supports", t.code()),
    ))
}

/// A connect token's actions (read when it was created) for the carrier the consumer picked:
/// each type must be one it offers, as [`read_actions`] checks a body's.
pub(crate) fn token_actions(
    actions: Vec<ActionRequest>,
    carrier: &super::carriers::Carrier,
) -> Result<Vec<(ActionType, Value)>, ServicingError> {
    let mut out = Vec::with_capacity(actions.len());
    for (i, a) in actions.into_iter().enumerate() {
        check_supported(carrier, &format!("servicing_actions[{i}]"), a.action_type)?;
        out.push((a.action_type, a.payload));
    }
    Ok(out)
}

/// An action problem in a request whose own input the actions are (a servicing, a connect
/// token): its message under `INVALID_INPUT`, as the original's team routes answer.
pub(crate) fn as_invalid_input(e: ServicingError) -> ServicingError {
    match e {
        ServicingError::Invalid { message, .. } => ServicingError::bad("INVALID_INPUT", message),
        other => other,
    }
}

fn read_types(b: &mut Fields) -> Result<Option<Vec<EventType>>, ServicingError> {
    let Some(items) = b.array("event_types", optional(), 64)? else { return Ok(None) };
    let mut out = Vec::new();
    for item in items {
        let t = item.as_str().and_then(EventType::parse);
        let Some(t) = t else {
            let codes: Vec<&str> = EventType::ALL.iter().map(|t| t.code()).collect();
            return b.refuse("event_types", optional(), format!("holds only {}", codes.join(", "))).map_err(Into::into);
        };
        if !out.contains(&t) {
            out.push(t);
        }
    }
    if out.is_empty() {
        return b.refuse("event_types", optional(), "must hold at least one event type").map_err(Into::into);
    }
    Ok(Some(out))
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
    let mut b = strict(body, "The body must be a JSON object")?;
    let want_url = if creating { required() } else { optional() };
    let url = b.string("url", want_url, MAX_WEBHOOK_URL)?;
    if let Some(u) = &url {
        check_url(u, allow_private).map_err(|e| ServicingError::bad("INVALID_INPUT", e))?;
    }
    let types = read_types(&mut b)?;
    let active = b.boolean("is_active", optional())?;
    b.end()?;
    Ok(WebhookInput { url, types, active })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(r: Result<impl Sized, ServicingError>) -> String {
        match r {
            Err(ServicingError::Invalid { code, message }) => format!("{code}: {message}"),
            Err(e) => format!("other: {e}"),
            Ok(_) => "ok".into(),
        }
    }

    #[test]
    fn webhooks_and_redeliveries_leave_fields_out_never_null() {
        let ok =
            webhook(&json!({"url": "https://example.com/h", "event_types": ["COMPLETE", "COMPLETE"]}), true, false)
                .unwrap();
        assert_eq!(ok.types, Some(vec![EventType::Complete]));
        assert_eq!(ok.active, None);
        for (body, creating, want) in [
            (json!({"event_types": ["COMPLETE"]}), true, "INVALID_INPUT: url is required"),
            (json!({"url": null}), false, "INVALID_INPUT: url must not be null; leave the attribute out instead"),
            (json!({"is_active": null}), false, "INVALID_INPUT: is_active must not be null"),
            (json!({"is_active": "yes"}), false, "INVALID_INPUT: is_active must be a boolean"),
            (json!({"event_types": []}), false, "INVALID_INPUT: event_types must hold at least one event type"),
            (json!({"event_types": ["NOPE"]}), false, "INVALID_INPUT: event_types holds only AUTH_STATUS"),
            (json!({"secret": "x"}), false, "INVALID_INPUT: secret is not a known field"),
            (json!([1]), false, "INVALID_INPUT: The body must be a JSON object"),
        ] {
            let got = code(webhook(&body, creating, false));
            assert!(got.starts_with(want), "{body}: {got}");
        }
        assert_eq!(redelivery(None).unwrap(), None);
        assert_eq!(redelivery(Some(&json!({}))).unwrap(), None);
        assert_eq!(redelivery(Some(&json!({"webhook_id": "w1"}))).unwrap().as_deref(), Some("w1"));
        for body in [json!(null), json!({"webhook_id": null}), json!({"webhook_id": 7}), json!({"other": "w"})] {
            assert!(code(redelivery(Some(&body))).starts_with("INVALID_INPUT"), "{body}");
        }
    }

    #[test]
    fn the_consent_text_is_a_text_block_and_the_terms_version_a_whole_number() {
        let body = |extra: Value| {
            let mut b = json!({
                "device_identifier": "d-1", "terms_version": 1, "consent_language": "  I agree.\nTruly.  ",
                "public_alias": "local", "insurerName": "sandbox", "insurerUsername": "user_good",
                "insurerPassword": "pass_good", "servicing_actions": [],
            });
            for (k, v) in extra.as_object().unwrap() {
                b[k] = v.clone();
            }
            b
        };
        let read = consent(&body(json!({}))).unwrap();
        assert_eq!(read.consent.consent_language, "I agree.\nTruly.");
        assert_eq!(read.consent.terms_version, 1);
        assert_eq!(read.meta_data, json!({}));
        for (extra, want) in [
            (json!({"terms_version": 1.0}), "ok"),
            (json!({"terms_version": -1}), "INVALID_INPUT: terms_version must be a whole number"),
            (json!({"terms_version": "1"}), "INVALID_INPUT: terms_version must be a number"),
            (json!({"consent_language": "x".repeat(1025)}), "CONSENT_LANGUAGE_TOO_LONG"),
            (json!({"consent_language": " "}), "INVALID_CONSENT_LANGUAGE: consent_language is required"),
            (
                json!({"consent_language": "a\u{0}b"}),
                "INVALID_CONSENT_LANGUAGE: consent_language must not contain control",
            ),
            (json!({"meta_data": [1]}), "INVALID_INPUT: meta_data must be an object"),
        ] {
            let got = code(consent(&body(extra.clone())));
            assert!(got.starts_with(want), "{extra}: {got}");
        }
    }
}
