//! The one place where errors become HTTP: the original's envelope
//! `{status, errorCode, userMessage, developerMessage, details}`.

use serde_json::json;

use super::{ApiResponse, BodyProblem, QueryProblem};
use crate::accounts::model::Conflict;
use crate::accounts::{AccountError, Detail};
use crate::import::ImportError;
use crate::servicing::ServicingError;
use crate::store::StoreError;

const PREFIX: &str = "gw.api.rest.exceptions.";

/// An error outside the domain's vocabulary (405, 413), in the same envelope.
pub fn plain_error(status: u16, code: &str, message: &str) -> ApiResponse {
    ApiResponse::json(
        status,
        &json!({"status": status, "errorCode": format!("{PREFIX}{code}"), "userMessage": message, "developerMessage": message, "details": []}),
    )
}

/// The accounts envelope of every [`AccountError`]. One arm per variant, on purpose: this is the
/// one table that maps the area's errors to statuses and codes, read in one place.
pub fn error_response(e: &AccountError) -> ApiResponse {
    let (status, code, user, developer, details): (u16, &str, String, String, Vec<Detail>) = match e {
        AccountError::BadInput { user_message, details } => {
            (400, "BadInputException", user_message.clone(), user_message.clone(), details.clone())
        }
        AccountError::WrongStatus { action, resource, current, allowed } => (
            400,
            "BadInputException",
            format!("Cannot take action '{action}'. See the details element for further information."),
            format!("Cannot take action '{action}' on account {resource}."),
            vec![Detail::new(format!(
                "Account {resource} status is '{current}' but must be in one of the following statuses: {}.",
                allowed.join(", ")
            ))],
        ),
        AccountError::Unauthenticated => (
            401,
            "RestAuthenticationException",
            "Authentication failed.".into(),
            "Send HTTP Basic credentials client_id:client_secret of a team.".into(),
            vec![],
        ),
        AccountError::NotFound { uri } => (
            404,
            "NotFoundException",
            format!("The requested resource '{uri}' was not found."),
            format!("No resource at '{uri}' is visible to this team."),
            vec![],
        ),
        // The original's "Checksums" page: the error's detail names the resource and both
        // checksums; its errorCode is the one Guidewire's own generated clients look for
        // (the page shows no status: 409, a conflict with the resource's current state, is ours).
        AccountError::ChecksumMismatch { supplied, current, uri } => (
            409,
            "gw.api.modules.rest.framework.v1.exceptions.ConcurrentModificationException",
            "The resource has changed since it was read. Read it again and retry.".into(),
            format!("The supplied checksum '{supplied}' does not match the current checksum '{current}' for the resource with uri '{uri}'."),
            vec![Detail {
                message: format!("The supplied checksum '{supplied}' does not match the current checksum '{current}' for the resource with uri '{uri}'"),
                field: None,
                properties: Some(json!({"uri": uri, "currentChecksum": current, "suppliedChecksum": supplied})),
            }],
        ),
        // The original's "Preventing duplicate database transactions": "Cloud API returns a 400
        // status code with an gw.api.webservice.exception.AlreadyExecutedException error."
        AccountError::AlreadyExecuted { transaction_id } => (
            400,
            "gw.api.webservice.exception.AlreadyExecutedException",
            "A request with this transaction id was already executed; it was not executed again.".into(),
            format!("The transaction id '{transaction_id}' was used before."),
            vec![],
        ),
        AccountError::Conflict { message } => (409, "ConflictException", message.clone(), message.clone(), vec![]),
        AccountError::Conflicted(c) if *c != Conflict::AccountChanged => {
            (409, "ConflictException", c.to_string(), c.to_string(), vec![])
        }
        AccountError::Store(StoreError::Unavailable(_))
        | AccountError::Store(StoreError::Contention)
        | AccountError::Conflicted(_) => (
            503,
            "ServiceUnavailableException",
            "The service is busy. Retry the request shortly.".into(),
            "The data store is throttling or unreachable; nothing was changed.".into(),
            vec![],
        ),
        AccountError::Store(_) | AccountError::Internal(_) => (
            500,
            "InternalServerException",
            "An internal error occurred.".into(),
            "An internal error occurred; it has been logged.".into(),
            vec![],
        ),
    };
    // A code named in full (another package of the original's) is kept as it is.
    let code = if code.starts_with("gw.") { code.to_string() } else { format!("{PREFIX}{code}") };
    let mut r = ApiResponse::json(
        status,
        &json!({"status": status, "errorCode": code, "userMessage": user, "developerMessage": developer, "details": details}),
    );
    match status {
        401 => r.headers.push(("www-authenticate", "Basic realm=\"coverdesk\"".into())),
        503 => r.headers.push(("retry-after", "1".into())),
        _ => {}
    }
    r
}

/// `{"error": "<ENUM>", "message"}`, the envelope of the servicing and import APIs, with the
/// headers its status asks for.
fn enum_envelope(status: u16, code: &str, message: &str) -> ApiResponse {
    let mut r = ApiResponse::json(status, &json!({"error": code, "message": message}));
    match status {
        401 => r.headers.push(("www-authenticate", "Basic realm=\"coverdesk\"".into())),
        503 => r.headers.push(("retry-after", "1".into())),
        _ => {}
    }
    r
}

const BUSY: &str = "The service is busy; retry shortly";
const INTERNAL: &str = "Something went wrong on our side; nothing was changed";

/// A store failure as the servicing and import APIs answer it: busy (503) or internal (500).
fn store_failure(s: &StoreError) -> ApiResponse {
    match s {
        StoreError::Unavailable(_) | StoreError::Contention => enum_envelope(503, "SERVICE_UNAVAILABLE", BUSY),
        _ => enum_envelope(500, "INTERNAL_ERROR", INTERNAL),
    }
}

/// 405 in the envelope of the API `path` belongs to, with the methods it allows.
pub fn method_not_allowed(path: &str, method: &http::Method, allowed: &[&str]) -> ApiResponse {
    let message = format!("The method {method} is not allowed here.");
    let mut r = match super::routes::Family::of_path(path) {
        super::routes::Family::Accounts => plain_error(405, "MethodNotAllowedException", &message),
        _ => enum_envelope(405, "METHOD_NOT_ALLOWED", &message),
    };
    r.headers.push(("allow", allowed.join(", ")));
    r
}

/// 415 in the envelope of the API `path` belongs to: a body sent as something other than JSON.
pub fn unsupported_media_type(path: &str) -> ApiResponse {
    let message = "The body must be JSON: send it with content-type application/json (or none).";
    match super::routes::Family::of_path(path) {
        super::routes::Family::Accounts => plain_error(415, "UnsupportedMediaTypeException", message),
        _ => enum_envelope(415, "UNSUPPORTED_MEDIA_TYPE", message),
    }
}

pub fn servicing_response(e: &ServicingError) -> ApiResponse {
    match e {
        ServicingError::Invalid { code, message } => enum_envelope(400, code, message),
        ServicingError::Unauthorized => enum_envelope(401, "UNAUTHORIZED", "Missing or invalid credentials"),
        ServicingError::Forbidden(m) => enum_envelope(403, "UNAUTHORIZED", m),
        ServicingError::NotFound(what) => enum_envelope(404, "NOT_FOUND", &format!("{what} was not found")),
        ServicingError::Conflict(m) => enum_envelope(409, "CONFLICT", m),
        ServicingError::TooLarge(limit) => {
            enum_envelope(413, "INVALID_INPUT", &format!("The body must be at most {limit} bytes"))
        }
        ServicingError::Store(s) => store_failure(s),
        ServicingError::Internal(_) => enum_envelope(500, "INTERNAL_ERROR", INTERNAL),
    }
}

pub fn import_response(e: &ImportError) -> ApiResponse {
    match e {
        ImportError::InvalidBatch(m) => enum_envelope(400, "INVALID_BATCH", m),
        ImportError::InvalidInput(m) => enum_envelope(400, "INVALID_INPUT", m),
        ImportError::TooLarge(limit) => enum_envelope(
            413,
            "INVALID_BATCH",
            &format!("A batch POST may carry at most {limit} bytes; upload larger batches"),
        ),
        ImportError::NotFound(what) => enum_envelope(404, "NOT_FOUND", &format!("{what} was not found")),
        ImportError::NoDepartment(state) => {
            enum_envelope(404, "NOT_FOUND", &format!("No department for state '{state}'"))
        }
        ImportError::Unauthorized => enum_envelope(401, "UNAUTHORIZED", "Missing or invalid credentials"),
        ImportError::Store(s) => store_failure(s),
        ImportError::Objects(_) | ImportError::Internal(_) => enum_envelope(500, "INTERNAL_ERROR", INTERNAL),
    }
}

impl From<QueryProblem> for AccountError {
    fn from(p: QueryProblem) -> Self {
        AccountError::bad(&format!("query.{}", p.name), p.message)
    }
}

impl From<QueryProblem> for ServicingError {
    fn from(p: QueryProblem) -> Self {
        ServicingError::bad("INVALID_INPUT", format!("{} {}", p.name, p.message))
    }
}

impl From<BodyProblem> for AccountError {
    fn from(p: BodyProblem) -> Self {
        match p {
            BodyProblem::TooLarge(limit) => AccountError::bad("body", format!("must be at most {limit} bytes")),
            // serde_json's syntax errors name a line and column, never the text.
            BodyProblem::NotJson(e) => AccountError::bad("body", format!("is not valid JSON ({e})")),
        }
    }
}

impl From<BodyProblem> for ServicingError {
    fn from(p: BodyProblem) -> Self {
        match p {
            BodyProblem::TooLarge(limit) => ServicingError::TooLarge(limit),
            BodyProblem::NotJson(e) => {
                ServicingError::bad("INVALID_INPUT", format!("The body is not valid JSON ({e})"))
            }
        }
    }
}

impl From<QueryProblem> for ImportError {
    fn from(p: QueryProblem) -> Self {
        ImportError::InvalidInput(format!("{} {}", p.name, p.message))
    }
}

/// An area's error, answered in its API's envelope: the one mapping of each area's errors.
pub trait Envelope: std::error::Error {
    fn response(&self) -> ApiResponse;
}

impl Envelope for AccountError {
    fn response(&self) -> ApiResponse {
        error_response(self)
    }
}

impl Envelope for ServicingError {
    fn response(&self) -> ApiResponse {
        servicing_response(self)
    }
}

impl Envelope for ImportError {
    fn response(&self) -> ApiResponse {
        import_response(self)
    }
}
