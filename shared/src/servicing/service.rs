//! The servicing operations behind the HTTP routes. Every state change is one conditional
//! transaction that also writes the webhook events it causes and pokes the pull's worker job, so
//! nothing is lost if a function dies right after it.

use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};

use super::actions;
use super::carriers::Catalogue;
use super::keys;
use super::model::{
    ActionStatus, ActionType, Consent, Event, EventType, MfaState, Pull, PullStatus, Secrets, ServicingAction,
};
use super::render::{action_view, event_body, pull_view};
use super::ServicingError;
use crate::accounts::TeamId;
use crate::crypto::{uuid, Keys};
use crate::fields::{optional, required};
use crate::store::{Cond, Cursor, Item, Store, StoreError, Write};

/// A consent (and the credentials given with it) may be reused for this long.
pub const CONSENT_REUSE_DAYS: i64 = 90;
/// A pull token is valid for this long.
pub const PULL_TOKEN_DAYS: i64 = 7;
/// Servicing actions per pull.
pub const MAX_ACTIONS: usize = 20;
/// The largest `meta_data`, serialised.
pub const MAX_META_DATA: usize = 4096;

pub struct Servicing<'a> {
    pub store: &'a dyn Store,
    pub keys: &'a Keys,
    pub catalogue: &'a Catalogue,
    pub now: DateTime<Utc>,
}

pub fn cred_context(team: &str, pull: &str) -> String {
    format!("cred:{team}:{pull}")
}

pub(crate) fn encode<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

/// A change to one pull, committed as one transaction.
pub(crate) struct PullChange {
    pub pull: Pull,
    /// The version read (0 for a new pull).
    pub version: u64,
    /// Actions written, with the version each was read at (0 for new ones).
    pub actions: Vec<(ServicingAction, u64)>,
    pub events: Vec<(EventType, Value)>,
    pub extra: Vec<Write>,
    /// Whether the worker has something to do now.
    pub poke: bool,
}

pub(crate) fn job_write(team: &str, pull: &str, due: DateTime<Utc>) -> Write {
    let due_ms = due.timestamp_millis();
    // Any version the worker's claim cannot be holding: a poke always wins over a claim.
    let version = (Utc::now().timestamp_micros().max(1) as u64) | (1 << 62);
    Write::Put {
        item: Item::new(
            keys::job_pk(team, pull),
            keys::JOB_SK,
            version,
            json!({"team_id": team, "pull_id": pull, "due_ms": due_ms, "lease_until_ms": 0}),
        )
        .with_index(keys::JOBS_INDEX, keys::job_index_sk(due_ms, team, pull)),
        cond: Cond::Any,
    }
}

fn pull_item(p: &Pull, version: u64) -> Item {
    Item::new(keys::pull_pk(&p.team_id, &p.pull_id), keys::PULL_SK, version, encode(p))
        .with_index(keys::pulls_index(&p.team_id), format!("{}#{}", p.created_at.to_rfc3339(), p.pull_id))
}

fn action_item(team: &str, a: &ServicingAction, version: u64) -> Item {
    Item::new(keys::pull_pk(team, &a.pull_id), keys::action_sk(a.position), version, encode(a))
}

pub(crate) async fn commit(store: &dyn Store, mut c: PullChange, now: DateTime<Utc>) -> Result<Pull, StoreError> {
    c.pull.updated_at = now;
    let team = c.pull.team_id.clone();
    let mut writes = Vec::new();
    let mut events = Vec::new();
    for (t, data) in &c.events {
        let seq = c.pull.next_event;
        c.pull.next_event += 1;
        let event_id = format!("{}.{seq}", c.pull.pull_id);
        let body = event_body(&c.pull, &event_id, seq, *t, data, now);
        events.push(Event { event_id, sequence: seq, event_type: *t, created_at: now, body });
    }
    let cond = if c.version == 0 { Cond::Absent } else { Cond::Version(c.version) };
    writes.push(Write::Put { item: pull_item(&c.pull, c.version + 1), cond });
    for (a, v) in &c.actions {
        let mut a = a.clone();
        a.updated_at = now;
        let cond = if *v == 0 { Cond::Absent } else { Cond::Version(*v) };
        writes.push(Write::Put { item: action_item(&team, &a, v + 1), cond });
    }
    for e in &events {
        writes.push(Write::Put {
            item: Item::new(keys::pull_pk(&team, &c.pull.pull_id), keys::event_sk(e.sequence), 1, encode(e)),
            cond: Cond::Absent,
        });
    }
    writes.extend(c.extra);
    if c.poke {
        writes.push(job_write(&team, &c.pull.pull_id, now));
    }
    store.transact(writes).await?;
    Ok(c.pull)
}

/// Reads `servicing_actions`: 1 to [`MAX_ACTIONS`] objects `{type, payload}` of types the carrier
/// supports. Payload fields are checked when the action runs (a bad one ends `VALIDATION_ERROR`).
fn read_actions(
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

/// The answer to a pull creation: `{pull_id, pull_jwt, servicing_action_ids}`.
pub struct Created {
    pub pull_id: String,
    pub pull_jwt: String,
    pub servicing_action_ids: Vec<String>,
}

impl Created {
    pub fn view(&self) -> Value {
        json!({"pull_id": self.pull_id, "pull_jwt": self.pull_jwt, "servicing_action_ids": self.servicing_action_ids})
    }
}

/// The pull a widget token names.
pub struct WidgetAuth {
    pub team: String,
    pub pull_id: String,
}

impl<'a> Servicing<'a> {
    pub fn new(store: &'a dyn Store, keys: &'a Keys, catalogue: &'a Catalogue) -> Self {
        Servicing { store, keys, catalogue, now: Utc::now() }
    }

    pub fn token(&self, team: &str, pull_id: &str) -> String {
        let exp = (self.now + Duration::days(PULL_TOKEN_DAYS)).timestamp();
        self.keys.sign_token(&json!({"pull_id": pull_id, "team_id": team, "exp": exp}))
    }

    /// Checks a `pull-jwt` against the pull of the path: 401 when missing or not ours, 403 when it
    /// names another pull or has expired.
    pub fn widget_auth(&self, token: Option<&str>, path_pull: &str) -> Result<WidgetAuth, ServicingError> {
        let claims = token.and_then(|t| self.keys.verify_token(t.trim())).ok_or_else(ServicingError::unauthorized)?;
        let pull_id = claims.get("pull_id").and_then(Value::as_str).ok_or_else(ServicingError::unauthorized)?;
        let team = claims.get("team_id").and_then(Value::as_str).ok_or_else(ServicingError::unauthorized)?;
        let exp = claims.get("exp").and_then(Value::as_i64).unwrap_or(0);
        if exp < self.now.timestamp() {
            return Err(ServicingError::forbidden("The pull token has expired"));
        }
        if pull_id != path_pull {
            return Err(ServicingError::forbidden("The pull token is for another pull"));
        }
        Ok(WidgetAuth { team: team.to_string(), pull_id: pull_id.to_string() })
    }

    pub async fn load_pull(&self, team: &str, pull_id: &str) -> Result<(Pull, u64), ServicingError> {
        match self.store.get(&keys::pull_pk(team, pull_id), keys::PULL_SK).await? {
            Some(item) => Ok((item.decode()?, item.version)),
            None => Err(ServicingError::not_found("The pull")),
        }
    }

    pub async fn load_actions(&self, team: &str, pull_id: &str) -> Result<Vec<(ServicingAction, u64)>, StoreError> {
        let pk = keys::pull_pk(team, pull_id);
        let page = self.store.query(&pk, keys::ACTION_PREFIX, None, MAX_ACTIONS + 1).await?;
        page.items.iter().map(|i| i.decode().map(|a| (a, i.version))).collect()
    }

    fn seal_secrets(&self, team: &str, pull_id: &str, s: &Secrets) -> Result<Value, ServicingError> {
        let plain = serde_json::to_vec(s).map_err(ServicingError::internal)?;
        Ok(encode(&self.keys.seal(&cred_context(team, pull_id), &plain)?))
    }

    pub async fn open_secrets(&self, team: &str, pull_id: &str) -> Result<(Secrets, u64), ServicingError> {
        let item = self
            .store
            .get(&keys::pull_pk(team, pull_id), keys::CRED_SK)
            .await?
            .ok_or_else(|| ServicingError::internal("credentials missing"))?;
        let sealed = item.decode()?;
        let plain = self.keys.open(&cred_context(team, pull_id), &sealed)?;
        Ok((serde_json::from_slice(&plain).map_err(ServicingError::internal)?, item.version))
    }

    pub(crate) fn secrets_write(
        &self,
        team: &str,
        pull_id: &str,
        s: &Secrets,
        read_version: u64,
    ) -> Result<Write, ServicingError> {
        let item = Item::new(
            keys::pull_pk(team, pull_id),
            keys::CRED_SK,
            read_version + 1,
            self.seal_secrets(team, pull_id, s)?,
        );
        let cond = if read_version == 0 { Cond::Absent } else { Cond::Version(read_version) };
        Ok(Write::Put { item, cond })
    }

    #[allow(clippy::too_many_arguments)]
    async fn create_pull(
        &self,
        team: &str,
        carrier: &super::carriers::Carrier,
        secrets: &Secrets,
        consent: Consent,
        meta_data: Value,
        parent: Option<String>,
        actions: Vec<(ActionType, Value)>,
    ) -> Result<Created, ServicingError> {
        let pull_id = uuid()?;
        let mut ids = Vec::with_capacity(actions.len());
        let mut action_rows = Vec::with_capacity(actions.len());
        let mut extra = Vec::new();
        for (i, (t, payload)) in actions.into_iter().enumerate() {
            let id = uuid()?;
            let a = ServicingAction {
                servicing_action_id: id.clone(),
                pull_id: pull_id.clone(),
                position: i as u32,
                status: ActionStatus::Queued,
                action_type: t,
                payload,
                confirmation_data: None,
                validation_error_type: None,
                error_message: None,
                created_at: self.now,
                updated_at: self.now,
            };
            extra.push(Write::Put {
                item: Item::new(
                    keys::action_pointer(team, &id),
                    keys::POINTER_SK,
                    1,
                    json!({"pull_id": pull_id, "position": i}),
                )
                .with_index(keys::servicings_index(team), format!("{}#{:03}#{id}", self.now.to_rfc3339(), i)),
                cond: Cond::Absent,
            });
            ids.push(id);
            action_rows.push((a, 0));
        }
        extra.push(Write::Put {
            item: Item::new(keys::pull_pk(team, &pull_id), keys::CONSENT_SK, 1, encode(&consent)),
            cond: Cond::Absent,
        });
        extra.push(self.secrets_write(team, &pull_id, secrets, 0)?);
        let pull = Pull {
            pull_id: pull_id.clone(),
            team_id: team.to_string(),
            status: PullStatus::Queued,
            pull_type: "SERVICING".into(),
            created_at: self.now,
            updated_at: self.now,
            insurance_provider_name: carrier.carrier_id.clone(),
            insurance_provider_friendly_name: carrier.name.clone(),
            account_identifier: None,
            first_name: None,
            last_name: None,
            email: None,
            meta_data,
            parent_pull_id: parent,
            encountered_mfa: false,
            is_archived: false,
            consented_at: consent.given_at,
            servicing_action_ids: ids.clone(),
            mfa: MfaState::default(),
            login_error_message: None,
            next_event: 1,
        };
        let change = PullChange { pull, version: 0, actions: action_rows, events: vec![], extra, poke: true };
        commit(self.store, change, self.now).await?;
        tracing::info!(pull = %pull_id, actions = ids.len(), "pull created");
        Ok(Created { pull_jwt: self.token(team, &pull_id), pull_id, servicing_action_ids: ids })
    }

    /// `POST /widget/pull/consentAndConnect`.
    pub async fn consent_and_connect(&self, body: &Value) -> Result<Created, ServicingError> {
        let mut b = actions::request(body)?;
        let device = b
            .string_as_sent("device_identifier", required().code("MISSING_DEVICE_IDENTIFIER"), 1, 200)?
            .unwrap_or_default();
        let terms_version = match b.take("terms_version") {
            Some(Value::Number(n)) => n.as_i64().filter(|v| *v >= 0),
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
        let alias =
            b.string_as_sent("public_alias", required().code("INVALID_PUBLIC_ALIAS"), 1, 64)?.unwrap_or_default();
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
        let carrier = self.catalogue.get(&carrier_id).filter(|c| c.connector.is_some()).ok_or_else(|| {
            ServicingError::bad("UNSUPPORTED_INSURER", "insurerName is not a carrier this deployment can connect to")
        })?;
        let actions = read_actions(actions_raw, carrier)?;
        let team = crate::auth::team_by_client_id(self.store, &alias)
            .await?
            .ok_or_else(|| ServicingError::bad("INVALID_PUBLIC_ALIAS", "public_alias names no team"))?;
        let consent = Consent { terms_version, consent_language, device_identifier: device, given_at: self.now };
        let secrets = Secrets { username, password, third_field: third, mfa_code: None, session: None };
        self.create_pull(team.as_str(), carrier, &secrets, consent, meta_data, None, actions).await
    }

    /// `POST /teams/{teamId}/servicings`: a new pull reusing an earlier pull's consent and
    /// credentials.
    pub async fn create_servicing(&self, team: &TeamId, body: &Value) -> Result<Created, ServicingError> {
        let mut b = actions::request(body)?;
        let parent_id = b.string_as_sent("pull_id", required().code("INVALID_INPUT"), 1, 64)?.unwrap_or_default();
        let actions_raw = b.take("servicing_actions");
        b.end()?;
        let (parent, _) = self.load_pull(team.as_str(), &parent_id).await?;
        let carrier = self
            .catalogue
            .get(&parent.insurance_provider_name)
            .ok_or_else(|| ServicingError::bad("INVALID_INPUT", "the pull's carrier is no longer offered"))?;
        // Here the actions are this request's input: their problems are INVALID_INPUT.
        let actions = read_actions(actions_raw, carrier).map_err(|e| match e {
            ServicingError::Invalid { message, .. } => ServicingError::bad("INVALID_INPUT", message),
            other => other,
        })?;
        if self.now - parent.consented_at > Duration::days(CONSENT_REUSE_DAYS) {
            return Err(ServicingError::bad(
                "PULL_TOO_OLD",
                format!("The consent of that pull is older than {CONSENT_REUSE_DAYS} days; collect it again"),
            ));
        }
        let consent_item = self
            .store
            .get(&keys::pull_pk(team.as_str(), &parent_id), keys::CONSENT_SK)
            .await?
            .ok_or_else(|| ServicingError::internal("consent record missing"))?;
        let consent: Consent = consent_item.decode()?;
        let (mut secrets, _) = self.open_secrets(team.as_str(), &parent_id).await?;
        secrets.mfa_code = None;
        secrets.session = None;
        self.create_pull(team.as_str(), carrier, &secrets, consent, parent.meta_data.clone(), Some(parent_id), actions)
            .await
    }

    pub async fn get_pull(&self, team: &str, pull_id: &str) -> Result<Value, ServicingError> {
        let (pull, _) = self.load_pull(team, pull_id).await?;
        let actions: Vec<ServicingAction> =
            self.load_actions(team, pull_id).await?.into_iter().map(|(a, _)| a).collect();
        Ok(pull_view(&pull, &actions))
    }

    /// All index entries under `index`, newest first.
    async fn index_newest_first(&self, index: &str) -> Result<Vec<Item>, StoreError> {
        let mut out = Vec::new();
        let mut after: Option<Cursor> = None;
        loop {
            let page = self.store.query_index(index, after.as_ref(), 500).await?;
            out.extend(page.items);
            match page.next {
                Some(c) => after = Some(c),
                None => break,
            }
        }
        out.reverse();
        Ok(out)
    }

    pub async fn list_pulls(&self, team: &str, limit: usize, offset: usize) -> Result<Value, ServicingError> {
        let all = self.index_newest_first(&keys::pulls_index(team)).await?;
        let mut pulls = Vec::new();
        for item in all.iter().skip(offset).take(limit) {
            let p: Pull = item.decode()?;
            let actions: Vec<ServicingAction> =
                self.load_actions(team, &p.pull_id).await?.into_iter().map(|(a, _)| a).collect();
            pulls.push(pull_view(&p, &actions));
        }
        Ok(json!({"total_pulls": all.len(), "pulls": pulls}))
    }

    pub async fn list_servicings(
        &self,
        team: &str,
        pull_id: Option<&str>,
        limit: usize,
        offset: usize,
    ) -> Result<Value, ServicingError> {
        let actions: Vec<ServicingAction> = match pull_id {
            Some(p) => {
                self.load_pull(team, p).await?;
                self.load_actions(team, p).await?.into_iter().map(|(a, _)| a).collect()
            }
            None => {
                let pointers = self.index_newest_first(&keys::servicings_index(team)).await?;
                let total = pointers.len();
                let mut out = Vec::new();
                for ptr in pointers.iter().skip(offset).take(limit) {
                    out.push(self.action_by_pointer(team, ptr).await?);
                }
                return Ok(
                    json!({"total_servicings": total, "servicings": out.iter().map(action_view).collect::<Vec<_>>()}),
                );
            }
        };
        let total = actions.len();
        let page: Vec<Value> = actions.iter().skip(offset).take(limit).map(action_view).collect();
        Ok(json!({"total_servicings": total, "servicings": page}))
    }

    async fn action_by_pointer(&self, team: &str, ptr: &Item) -> Result<ServicingAction, ServicingError> {
        let pull = ptr.body.get("pull_id").and_then(Value::as_str).unwrap_or_default();
        let position = ptr.body.get("position").and_then(Value::as_u64).unwrap_or_default();
        let item = self
            .store
            .get(&keys::pull_pk(team, pull), &keys::action_sk(position as u32))
            .await?
            .ok_or_else(|| ServicingError::internal("servicing action pointer without its action"))?;
        Ok(item.decode()?)
    }

    pub async fn get_servicing(&self, team: &str, action_id: &str) -> Result<Value, ServicingError> {
        let ptr = self
            .store
            .get(&keys::action_pointer(team, action_id), keys::POINTER_SK)
            .await?
            .ok_or_else(|| ServicingError::not_found("The servicing action"))?;
        Ok(action_view(&self.action_by_pointer(team, &ptr).await?))
    }

    /// Confirms or rejects the action waiting for the consumer. Two racing confirmations: one
    /// wins, the other gets `INVALID_ACTION`.
    pub async fn confirm(&self, team: &str, pull_id: &str, body: &Value) -> Result<Value, ServicingError> {
        let mut b = actions::request(body)?;
        let action_id =
            b.string_as_sent("servicing_action_id", required().code("INVALID_INPUT"), 1, 64)?.unwrap_or_default();
        let confirmed = match b.take("is_confirmed") {
            Some(Value::Bool(v)) => *v,
            _ => return Err(ServicingError::bad("INVALID_INPUT", "is_confirmed must be true or false")),
        };
        b.end()?;
        for _ in 0..4 {
            let (mut pull, version) = self.load_pull(team, pull_id).await?;
            let actions = self.load_actions(team, pull_id).await?;
            let (mut action, av) = actions
                .into_iter()
                .find(|(a, _)| a.servicing_action_id == action_id)
                .ok_or_else(|| ServicingError::not_found("The servicing action"))?;
            if action.status != ActionStatus::WaitingForConsumerConfirmation
                || pull.status != PullStatus::WaitingForConsumerConfirmation
            {
                return Err(ServicingError::bad(
                    "INVALID_ACTION",
                    format!("The servicing action is {}, not waiting for confirmation", action.status.code()),
                ));
            }
            if confirmed {
                action.status = ActionStatus::SubmittingConfirmation;
                pull.status = PullStatus::SubmittingConfirmation;
            } else {
                action.status = ActionStatus::Unconfirmed;
                pull.status = PullStatus::Servicing;
            }
            let change =
                PullChange { pull, version, actions: vec![(action, av)], events: vec![], extra: vec![], poke: true };
            match commit(self.store, change, self.now).await {
                Ok(_) => return Ok(json!({"pull_id": pull_id})),
                Err(StoreError::ConditionFailed { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(ServicingError::from(StoreError::Contention))
    }

    async fn update_waiting<F>(
        &self,
        team: &str,
        pull_id: &str,
        expected: PullStatus,
        f: F,
    ) -> Result<Value, ServicingError>
    where
        F: Fn(&mut Pull, &mut Secrets) -> Result<(), ServicingError>,
    {
        for _ in 0..4 {
            let (mut pull, version) = self.load_pull(team, pull_id).await?;
            if pull.status != expected {
                return Err(ServicingError::bad(
                    "INVALID_ACTION",
                    format!("The pull is {}, not {}", pull.status.code(), expected.code()),
                ));
            }
            let (mut secrets, sv) = self.open_secrets(team, pull_id).await?;
            f(&mut pull, &mut secrets)?;
            let extra = vec![self.secrets_write(team, pull_id, &secrets, sv)?];
            let change = PullChange { pull, version, actions: vec![], events: vec![], extra, poke: true };
            match commit(self.store, change, self.now).await {
                Ok(_) => return Ok(json!({"pull_id": pull_id})),
                Err(StoreError::ConditionFailed { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(ServicingError::from(StoreError::Contention))
    }

    /// `POST /widget/pull/{pullId}/idvoptions {optionKey}`.
    pub async fn choose_option(&self, team: &str, pull_id: &str, body: &Value) -> Result<Value, ServicingError> {
        let mut b = actions::request(body)?;
        let key = b.string_as_sent("optionKey", required().code("INVALID_INPUT"), 1, 100)?.unwrap_or_default();
        b.end()?;
        self.update_waiting(team, pull_id, PullStatus::IdentityVerificationOptions, |pull, _| {
            if !pull.mfa.options.iter().any(|o| o.key == key) {
                return Err(ServicingError::bad("INVALID_INPUT", "optionKey is not one of the options offered"));
            }
            pull.mfa.option_key = Some(key.clone());
            pull.status = PullStatus::Processing;
            Ok(())
        })
        .await
    }

    /// `POST /widget/pull/{pullId}/idv {mfaValue}`.
    pub async fn submit_code(&self, team: &str, pull_id: &str, body: &Value) -> Result<Value, ServicingError> {
        let mut b = actions::request(body)?;
        let code = b.string_as_sent("mfaValue", required().code("INVALID_INPUT"), 1, 50)?.unwrap_or_default();
        b.end()?;
        self.update_waiting(team, pull_id, PullStatus::IdentityVerification, |pull, secrets| {
            secrets.mfa_code = Some(code.trim().to_string());
            pull.mfa.code_submitted = true;
            pull.status = PullStatus::Processing;
            Ok(())
        })
        .await
    }

    /// `POST /widget/pull/{pullId}/connect`: new credentials after `NOT_AUTHENTICATED`.
    pub async fn reconnect(&self, team: &str, pull_id: &str, body: &Value) -> Result<Value, ServicingError> {
        let mut b = actions::request(body)?;
        let carrier =
            b.string_as_sent("insurerName", required().code("UNSUPPORTED_INSURER"), 1, 100)?.unwrap_or_default();
        let username =
            b.string_as_sent("insurerUsername", required().code("INVALID_USERNAME"), 5, 200)?.unwrap_or_default();
        let password = b.string_as_sent("insurerPassword", required().code("INVALID_PASSWORD"), 5, 200)?;
        let third = b.string_as_sent("insurerThirdField", optional().code("INVALID_THIRDFIELD"), 1, 200)?;
        b.end()?;
        self.update_waiting(team, pull_id, PullStatus::NotAuthenticated, |pull, secrets| {
            if pull.insurance_provider_name != carrier {
                return Err(ServicingError::bad("UNSUPPORTED_INSURER", "insurerName must be the pull's carrier"));
            }
            *secrets = Secrets {
                username: username.clone(),
                password: password.clone(),
                third_field: third.clone(),
                mfa_code: None,
                session: None,
            };
            pull.mfa = MfaState::default();
            pull.login_error_message = None;
            pull.status = PullStatus::Queued;
            Ok(())
        })
        .await
    }
}
