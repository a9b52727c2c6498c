//! Pulls, servicing actions and their statuses, as stored and as shown (field names follow the
//! original API: snake_case).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::crypto::Sealed;
use crate::types::{str_enum, TeamId};

str_enum!(PullStatus {
    Queued = "QUEUED",
    Processing = "PROCESSING",
    IdentityVerificationOptions = "IDENTITY_VERIFICATION_OPTIONS",
    IdentityVerification = "IDENTITY_VERIFICATION",
    Servicing = "SERVICING",
    WaitingForConsumerConfirmation = "WAITING_FOR_CONSUMER_CONFIRMATION",
    SubmittingConfirmation = "SUBMITTING_CONFIRMATION",
    NotAuthenticated = "NOT_AUTHENTICATED",
    InternalError = "INTERNAL_ERROR",
    ProviderError = "PROVIDER_ERROR",
    ValidationError = "VALIDATION_ERROR",
    Success = "SUCCESS",
});

str_enum!(ActionStatus {
    Queued = "QUEUED",
    InProgress = "IN_PROGRESS",
    WaitingForConsumerConfirmation = "WAITING_FOR_CONSUMER_CONFIRMATION",
    SubmittingConfirmation = "SUBMITTING_CONFIRMATION",
    Unconfirmed = "UNCONFIRMED",
    Success = "SUCCESS",
    ValidationError = "VALIDATION_ERROR",
    ProviderError = "PROVIDER_ERROR",
    InternalError = "INTERNAL_ERROR",
});

str_enum!(ActionType {
    AddMortgagee = "ADD_MORTGAGEE",
    EditMortgagee = "EDIT_MORTGAGEE",
    RemoveMortgagee = "REMOVE_MORTGAGEE",
    AddVehicle = "ADD_VEHICLE",
    AddDriver = "ADD_DRIVER",
    ReplaceDriver = "REPLACE_DRIVER",
    AddLienholder = "ADD_LIENHOLDER",
    ReplaceLienholder = "REPLACE_LIENHOLDER",
    UpdateContactInfo = "UPDATE_CONTACT_INFO",
});

str_enum!(EventType {
    AuthStatus = "AUTH_STATUS",
    ServicingWaitingForConsumerConfirmation = "SERVICING_WAITING_FOR_CONSUMER_CONFIRMATION",
    Error = "ERROR",
    Complete = "COMPLETE",
    // An import batch's (issue 20): sent by the same machinery, about a batch instead of a pull.
    ImportBatchFailed = "IMPORT_BATCH_FAILED",
    ImportBatchProcessed = "IMPORT_BATCH_PROCESSED",
});

impl EventType {
    /// An import batch's events are numbered by their type, so that each is written at most once
    /// per batch (a batch recorded processed twice sends one event): `IMPORT_BATCH_FAILED` is
    /// event 1, `IMPORT_BATCH_PROCESSED` event 2 (a batch that failed and was imported later
    /// sends both, in that order). A pull's events are numbered as they come.
    pub fn batch_sequence(self) -> Option<u64> {
        match self {
            EventType::ImportBatchFailed => Some(1),
            EventType::ImportBatchProcessed => Some(2),
            _ => None,
        }
    }
}

/// Whose webhook events: a pull's or an import batch's. Each has its own event partition (its
/// events, delivery cursors, attempts and redeliveries) and its own worker job; the delivery code
/// is one.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Subject {
    #[serde(rename = "pull_id")]
    Pull(String),
    #[serde(rename = "batch_id")]
    Batch(String),
}

impl Subject {
    /// The pull's or the batch's id.
    pub fn id(&self) -> &str {
        match self {
            Subject::Pull(id) | Subject::Batch(id) => id,
        }
    }
    /// The name of its id in a webhook body and in the delivery log: `pull_id` or `batch_id`.
    pub fn id_field(&self) -> &'static str {
        match self {
            Subject::Pull(_) => "pull_id",
            Subject::Batch(_) => "batch_id",
        }
    }
}

impl ActionStatus {
    /// Outcomes after which the action never changes again.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            ActionStatus::Success
                | ActionStatus::ValidationError
                | ActionStatus::ProviderError
                | ActionStatus::InternalError
                | ActionStatus::Unconfirmed
        )
    }
}

impl PullStatus {
    /// States in which the worker has something to do.
    pub fn needs_work(self) -> bool {
        matches!(
            self,
            PullStatus::Queued | PullStatus::Processing | PullStatus::Servicing | PullStatus::SubmittingConfirmation
        )
    }
    /// States after which nothing more happens (a `NOT_AUTHENTICATED` pull may be reconnected).
    pub fn is_final(self) -> bool {
        matches!(
            self,
            PullStatus::InternalError | PullStatus::ProviderError | PullStatus::ValidationError | PullStatus::Success
        )
    }
}

/// The consent a consumer gave, kept as a record (the original only takes it as input).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Consent {
    pub terms_version: i64,
    pub consent_language: String,
    pub device_identifier: String,
    pub given_at: DateTime<Utc>,
}

/// What an integrator prepared for one hosted-page visit (`POST /teams/{teamId}/connectTokens`):
/// the servicing actions the pull will run (none: the pull only connects the account) and the
/// integrator's `meta_data`. Stored under a digest of its token, used once, gone at `expires_at`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectToken {
    /// The actions as the integrator sent them (types checked; each checked against the carrier
    /// the consumer picks when the pull is created).
    pub servicing_actions: Vec<ActionRequest>,
    pub meta_data: Value,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// A servicing action as requested: its type and its payload, unread until the action runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionRequest {
    #[serde(rename = "type")]
    pub action_type: ActionType,
    pub payload: Value,
}

/// Where a consumer's multi-factor login stands.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MfaState {
    /// The options the carrier offered.
    #[serde(default)]
    pub options: Vec<MfaOption>,
    /// The option the consumer chose.
    #[serde(default)]
    pub option_key: Option<String>,
    /// The code the consumer typed, until the worker has used it (sealed in the credentials item).
    #[serde(default)]
    pub code_submitted: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MfaOption {
    pub key: String,
    pub label: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pull {
    pub pull_id: String,
    pub team_id: TeamId,
    pub status: PullStatus,
    #[serde(rename = "type")]
    pub pull_type: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub insurance_provider_name: String,
    pub insurance_provider_friendly_name: String,
    pub account_identifier: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub meta_data: Value,
    pub parent_pull_id: Option<String>,
    pub encountered_mfa: bool,
    pub is_archived: bool,
    /// The consent time of the consent this pull runs under (the parent's, when reused).
    pub consented_at: DateTime<Utc>,
    pub servicing_action_ids: Vec<String>,
    #[serde(default)]
    pub mfa: MfaState,
    #[serde(default)]
    pub login_error_message: Option<String>,
    /// The next webhook event sequence number of this pull.
    pub next_event: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServicingAction {
    pub servicing_action_id: String,
    pub pull_id: String,
    /// Position in the pull, from 0.
    pub position: u32,
    pub status: ActionStatus,
    #[serde(rename = "type")]
    pub action_type: ActionType,
    pub payload: Value,
    pub confirmation_data: Option<Value>,
    pub validation_error_type: Option<String>,
    #[serde(default)]
    pub error_message: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The consumer's credentials and carrier session, sealed as one value.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Secrets {
    pub username: String,
    pub password: Option<String>,
    pub third_field: Option<String>,
    #[serde(default)]
    pub mfa_code: Option<String>,
    /// What the carrier connector returned at login, for later calls.
    #[serde(default)]
    pub session: Option<String>,
}

/// One webhook event of a pull, body frozen at creation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub event_id: String,
    pub sequence: u64,
    pub event_type: EventType,
    pub created_at: DateTime<Utc>,
    /// The exact JSON body every delivery sends.
    pub body: String,
}

/// Servicing actions per pull.
pub const MAX_ACTIONS: usize = 20;
/// The largest `meta_data`, serialised.
pub const MAX_META_DATA: usize = 4096;
/// Endpoints per team.
pub const MAX_WEBHOOKS: usize = 10;
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Webhook {
    pub webhook_id: String,
    pub url: String,
    pub event_types: Vec<EventType>,
    pub is_active: bool,
    pub secret: Sealed,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Webhook {
    pub fn view(&self) -> Value {
        json!({
            "webhook_id": self.webhook_id,
            "url": self.url,
            "is_active": self.is_active,
            "event_types": self.event_types.iter().map(|t| t.code()).collect::<Vec<_>>(),
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        })
    }
    pub fn wants(&self, e: &Event) -> bool {
        self.is_active && self.event_types.contains(&e.event_type) && e.created_at >= self.created_at
    }
}

/// Where one endpoint stands in a pull's events.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct DeliveryCursor {
    pub webhook_id: String,
    /// The next event sequence to deliver.
    pub next_sequence: u64,
    /// Failed attempts at that event so far.
    pub retries: u32,
    pub next_attempt_ms: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Redelivery {
    pub sequence: u64,
    pub webhook_id: String,
    pub retries: u32,
    pub next_attempt_ms: i64,
}

/// One delivery attempt as recorded.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Attempt {
    pub sequence: u64,
    pub event_id: String,
    pub webhook_id: String,
    pub attempted_at: DateTime<Utc>,
    pub status_code: Option<u16>,
    pub error: Option<String>,
    pub duration_ms: u64,
    /// `DELIVERED`, `FAILED` (will retry) or `GAVE_UP`.
    pub outcome: String,
    pub redelivery: bool,
}

impl Attempt {
    pub fn view(&self) -> Value {
        json!({
            "attempted_at": self.attempted_at,
            "status_code": self.status_code,
            "error": self.error,
            "duration_ms": self.duration_ms,
            "outcome": self.outcome,
            "redelivery": self.redelivery,
        })
    }
}

/// The webhook body of an import batch's event: the pull's envelope with `batch_id` in place of
/// `pull_id`, the batch's status (`processed`, `failed`), and no meta data or account.
#[allow(clippy::too_many_arguments)]
pub fn batch_event_body(
    team: &TeamId,
    batch_id: &str,
    status: &str,
    event_id: &str,
    seq: u64,
    t: EventType,
    data: &Value,
    at: DateTime<Utc>,
) -> String {
    json!({
        "event_id": event_id,
        "sequence": seq,
        "team_id": team,
        "batch_id": batch_id,
        "status": status,
        "meta_data": {},
        "event_type": t.code(),
        "account_identifier": null,
        "data": data,
        "created_at": at,
    })
    .to_string()
}

/// The webhook body of an event, in the original's shape plus `event_id`, `sequence` and
/// `created_at`.
pub fn event_body(p: &Pull, event_id: &str, seq: u64, t: EventType, data: &Value, at: DateTime<Utc>) -> String {
    json!({
        "event_id": event_id,
        "sequence": seq,
        "team_id": p.team_id,
        "pull_id": p.pull_id,
        "status": p.status.code(),
        "meta_data": p.meta_data,
        "event_type": t.code(),
        "account_identifier": p.account_identifier,
        "data": data,
        "created_at": at,
    })
    .to_string()
}
