//! The one place where errors become HTTP: the original's envelope
//! `{status, errorCode, userMessage, developerMessage, details}`.

use serde_json::json;

use super::ApiResponse;
use crate::accounts::{AccountError, Detail};
use crate::store::StoreError;

const PREFIX: &str = "gw.api.rest.exceptions.";

/// An error outside the domain's vocabulary (405, 413), in the same envelope.
pub fn plain_error(status: u16, code: &str, message: &str) -> ApiResponse {
    ApiResponse::json(
        status,
        &json!({"status": status, "errorCode": format!("{PREFIX}{code}"), "userMessage": message, "developerMessage": message, "details": []}),
    )
}

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
        AccountError::ChecksumMismatch { supplied, current, uri } => (
            409,
            "ChecksumMismatchException",
            "The resource has changed since it was read. Read it again and retry.".into(),
            format!("The supplied checksum '{supplied}' does not match the current checksum '{current}' for the resource with uri '{uri}'."),
            vec![],
        ),
        AccountError::AlreadyExecuted { transaction_id } => (
            409,
            "AlreadyExecutedException",
            "A request with this transaction id was already executed; it was not executed again.".into(),
            format!("The transaction id '{transaction_id}' was used before."),
            vec![],
        ),
        AccountError::Conflict { message } => (409, "ConflictException", message.clone(), message.clone(), vec![]),
        AccountError::Store(StoreError::Unavailable(_)) | AccountError::Store(StoreError::Contention) => (
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
    let mut r = ApiResponse::json(
        status,
        &json!({"status": status, "errorCode": format!("{PREFIX}{code}"), "userMessage": user, "developerMessage": developer, "details": details}),
    );
    match status {
        401 => r.headers.push(("www-authenticate", "Basic realm=\"coverdesk\"".into())),
        503 => r.headers.push(("retry-after", "1".into())),
        _ => {}
    }
    r
}
