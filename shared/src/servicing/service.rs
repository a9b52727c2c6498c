//! The servicing operations behind the HTTP routes. Every state change is one conditional
//! transaction that also writes the webhook events it causes and pokes the pull's worker job, so
//! nothing is lost if a function dies right after it.

use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};

use super::carriers::Catalogue;
use super::input::{
    as_invalid_input, read_actions, token_actions, ActionSource, ConnectTokenRequest, ConsentRequest, ServicingRequest,
};
use super::model::{
    ActionStatus, ActionType, ConnectToken, Consent, MfaState, Pull, PullStatus, Secrets, ServicingAction,
};
use super::render::{action_view, pull_view};
use super::repo::{ActionPointer, Conflict, Named, PullChange, Repo};
use super::ServicingError;
use crate::crypto::{uuid, Keys, Sealed};
use crate::json::object;
use crate::store::{Store, StoreError};
use crate::types::TeamId;

/// A consent (and the credentials given with it) may be reused for this long.
pub const CONSENT_REUSE_DAYS: i64 = 90;
/// A pull token is valid for this long.
pub const PULL_TOKEN_DAYS: i64 = 7;
pub use super::model::MAX_ACTIONS;
pub use super::model::MAX_META_DATA;

pub struct Servicing<'a> {
    pub store: &'a dyn Store,
    pub keys: &'a Keys,
    pub catalogue: &'a Catalogue,
    pub now: DateTime<Utc>,
}

pub fn cred_context(team: &TeamId, pull: &str) -> String {
    format!("cred:{team}:{pull}")
}

/// A pull to create: its carrier, the consumer's credentials and consent, the client's meta data,
/// the pull whose consent it reuses (a servicing), and its actions as read.
struct NewPull<'c> {
    carrier: &'c super::carriers::Carrier,
    secrets: &'c Secrets,
    consent: Consent,
    meta_data: Value,
    parent: Option<String>,
    actions: Vec<(ActionType, Value)>,
    /// The connect token the pull uses up, in the same transaction.
    token_use: Option<Named>,
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

/// A new connect token: `ct_` and 256 random bits, base64url (46 characters).
pub fn new_connect_token() -> Result<String, ServicingError> {
    use base64::Engine;
    let bytes = crate::crypto::random_bytes::<32>()?;
    Ok(format!("ct_{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)))
}

/// The key a connect token is stored under: its SHA-256, hex (a random 256-bit token needs no
/// keyed digest; a leaked table holds no usable token).
fn token_digest(token: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(token.as_bytes()))
}

/// The answer to a connect token that is unknown, expired, used, or another team's: 401, one
/// answer for all four (the page shows "this link has expired").
fn token_refused() -> ServicingError {
    ServicingError::Unauthorized
}

/// What a connect token will run, as the integrator and the page read it: when it expires and
/// its action types (never the payloads).
fn token_view(t: &ConnectToken) -> Value {
    let types: Vec<&str> = t.servicing_actions.iter().map(|a| a.action_type.code()).collect();
    json!({"expires_at": t.expires_at, "servicing_action_types": types})
}

/// The pull a widget token names.
pub struct WidgetAuth {
    pub team: TeamId,
    pub pull_id: String,
}

impl<'a> Servicing<'a> {
    pub fn new(store: &'a dyn Store, keys: &'a Keys, catalogue: &'a Catalogue) -> Self {
        Servicing { store, keys, catalogue, now: Utc::now() }
    }

    /// The store as one team's servicing items.
    pub(crate) fn repo<'b>(&'b self, team: &'b TeamId) -> Repo<'b> {
        Repo { store: self.store, team }
    }

    pub fn token(&self, team: &TeamId, pull_id: &str) -> Result<String, ServicingError> {
        let exp = (self.now + Duration::days(PULL_TOKEN_DAYS)).timestamp();
        Ok(self.keys.sign_token(&json!({"pull_id": pull_id, "team_id": team, "exp": exp}))?)
    }

    /// Checks a `pull-jwt` against the pull of the path: 401 when missing, not ours or expired
    /// (like every other token that no longer admits), 403 when it names another pull.
    pub fn widget_auth(&self, token: Option<&str>, path_pull: &str) -> Result<WidgetAuth, ServicingError> {
        let claims = match token {
            Some(t) => self.keys.verify_token(t.trim())?,
            None => None,
        }
        .ok_or_else(ServicingError::unauthorized)?;
        let pull_id = claims.get("pull_id").and_then(Value::as_str).ok_or_else(ServicingError::unauthorized)?;
        let team = claims.get("team_id").and_then(Value::as_str).ok_or_else(ServicingError::unauthorized)?;
        let exp = claims.get("exp").and_then(Value::as_i64).unwrap_or(0);
        if exp < self.now.timestamp() {
            return Err(ServicingError::unauthorized());
        }
        if pull_id != path_pull {
            return Err(ServicingError::forbidden("The pull token is for another pull"));
        }
        Ok(WidgetAuth { team: TeamId::new(team), pull_id: pull_id.to_string() })
    }

    pub async fn load_pull(&self, team: &TeamId, pull_id: &str) -> Result<(Pull, u64), ServicingError> {
        self.repo(team).pull(pull_id).await?.ok_or_else(|| ServicingError::not_found("The pull"))
    }

    /// The pull and its actions, in one read.
    pub async fn load_pull_with_actions(
        &self,
        team: &TeamId,
        pull_id: &str,
    ) -> Result<super::repo::PullAndActions, ServicingError> {
        self.repo(team).pull_with_actions(pull_id).await?.ok_or_else(|| ServicingError::not_found("The pull"))
    }

    pub async fn load_actions(&self, team: &TeamId, pull_id: &str) -> Result<Vec<(ServicingAction, u64)>, StoreError> {
        self.repo(team).actions(pull_id).await
    }

    fn seal_secrets(&self, team: &TeamId, pull_id: &str, s: &Secrets) -> Result<Sealed, ServicingError> {
        let plain = serde_json::to_vec(s).map_err(ServicingError::internal)?;
        Ok(self.keys.seal(&cred_context(team, pull_id), &plain)?)
    }

    pub async fn open_secrets(&self, team: &TeamId, pull_id: &str) -> Result<(Secrets, u64), ServicingError> {
        let (sealed, version) = self
            .repo(team)
            .credentials(pull_id)
            .await?
            .ok_or_else(|| ServicingError::internal("credentials missing"))?;
        let plain = self.keys.open(&cred_context(team, pull_id), &sealed)?;
        Ok((serde_json::from_slice(&plain).map_err(ServicingError::internal)?, version))
    }

    /// The credentials sealed and written over the ones read at `read_version` (0: none yet).
    pub(crate) fn secrets_write(
        &self,
        team: &TeamId,
        pull_id: &str,
        s: &Secrets,
        read_version: u64,
    ) -> Result<Named, ServicingError> {
        Ok(self.repo(team).put_credentials(pull_id, &self.seal_secrets(team, pull_id, s)?, read_version))
    }

    /// A new pull's actions, queued in the order given, each with a fresh id (and read version 0).
    fn new_actions(
        &self,
        pull_id: &str,
        actions: Vec<(ActionType, Value)>,
    ) -> Result<Vec<(ServicingAction, u64)>, ServicingError> {
        let mut rows = Vec::with_capacity(actions.len());
        for (i, (t, payload)) in actions.into_iter().enumerate() {
            let a = ServicingAction {
                servicing_action_id: uuid()?,
                pull_id: pull_id.to_string(),
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
            rows.push((a, 0));
        }
        Ok(rows)
    }

    async fn create_pull(&self, team: &TeamId, new: NewPull<'_>) -> Result<Created, ServicingError> {
        let NewPull { carrier, secrets, consent, meta_data, parent, actions, token_use } = new;
        let repo = self.repo(team);
        let pull_id = uuid()?;
        let action_rows = self.new_actions(&pull_id, actions)?;
        let ids: Vec<String> = action_rows.iter().map(|(a, _)| a.servicing_action_id.clone()).collect();
        let mut extra: Vec<Named> = action_rows.iter().map(|(a, _)| repo.put_pointer(a)).collect();
        extra.push(repo.put_consent(&pull_id, &consent));
        extra.push(self.secrets_write(team, &pull_id, secrets, 0)?);
        let pull = Pull {
            pull_id: pull_id.clone(),
            team_id: team.clone(),
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
        extra.extend(token_use);
        let change = PullChange { actions: action_rows, extra, poke: true, ..PullChange::of(pull, 0) };
        match repo.commit_pull(change, self.now).await? {
            Ok(_) => {}
            // Another consent used the token first (or it expired meanwhile): it admits one pull.
            Err(Conflict::ConnectTokenUsed) => return Err(token_refused()),
            Err(other) => return Err(other.into()),
        }
        tracing::info!(pull = %pull_id, actions = ids.len(), "pull created");
        Ok(Created { pull_jwt: self.token(team, &pull_id)?, pull_id, servicing_action_ids: ids })
    }

    /// `POST /widget/pull/consentAndConnect`, its body read by [`super::input::consent`]. The
    /// actions come from the body, from the connect token (used up by the pull), or from nobody.
    pub async fn consent_and_connect(&self, req: ConsentRequest) -> Result<Created, ServicingError> {
        let ConsentRequest { consent, alias, meta_data, carrier_id, secrets, actions: actions_raw, source } = req;
        let carrier = self.catalogue.get(&carrier_id).filter(|c| c.connector.is_some()).ok_or_else(|| {
            ServicingError::bad("UNSUPPORTED_INSURER", "insurerName is not a carrier this deployment can connect to")
        })?;
        // A body's actions are read before the team is looked up, as ever: a bad body costs no read.
        let body_actions = match source {
            ActionSource::Body => read_actions(actions_raw.as_ref(), Some(carrier))?,
            _ => Vec::new(),
        };
        let team = crate::auth::team_by_client_id(self.store, &alias)
            .await?
            .ok_or_else(|| ServicingError::bad("INVALID_PUBLIC_ALIAS", "public_alias names no team"))?;
        let (actions, meta_data, token_use) = match source {
            ActionSource::Body | ActionSource::ConnectOnly => (body_actions, meta_data, None),
            ActionSource::Token(token) => {
                let digest = token_digest(&token);
                let (t, version) = self.repo(&team).connect_token(&digest).await?.ok_or_else(token_refused)?;
                let actions = token_actions(t.servicing_actions, carrier)?;
                (actions, t.meta_data, Some(self.repo(&team).use_connect_token(&digest, version)))
            }
        };
        let consent = Consent { given_at: self.now, ..consent };
        let new = NewPull { carrier, secrets: &secrets, consent, meta_data, parent: None, actions, token_use };
        self.create_pull(&team, new).await
    }

    /// `POST /teams/{teamId}/connectTokens`: stores what one hosted-page visit will run and
    /// answers the token (shown this once; only its digest is kept).
    pub async fn create_connect_token(&self, team: &TeamId, req: ConnectTokenRequest) -> Result<Value, ServicingError> {
        let token = new_connect_token()?;
        let t = ConnectToken {
            servicing_actions: req.actions,
            meta_data: req.meta_data,
            created_at: self.now,
            expires_at: self.now + Duration::seconds(req.expires_in),
        };
        let repo = self.repo(team);
        repo.commit(vec![repo.put_connect_token(&token_digest(&token), &t)]).await??;
        let mut view = token_view(&t);
        view["connect_token"] = json!(token);
        Ok(view)
    }

    /// `POST /widget/connectToken`: what a connect token will run, for the hosted page to offer only
    /// the carriers that can (types only: payloads stay with the integrator). Does not use it up.
    pub async fn look_up_connect_token(&self, alias: &str, token: &str) -> Result<Value, ServicingError> {
        let team = crate::auth::team_by_client_id(self.store, alias)
            .await?
            .ok_or_else(|| ServicingError::bad("INVALID_PUBLIC_ALIAS", "public_alias names no team"))?;
        let (t, _) = self.repo(&team).connect_token(&token_digest(token)).await?.ok_or_else(token_refused)?;
        Ok(token_view(&t))
    }

    /// `POST /teams/{teamId}/servicings`: a new pull reusing an earlier pull's consent and
    /// credentials.
    pub async fn create_servicing(&self, team: &TeamId, req: ServicingRequest) -> Result<Created, ServicingError> {
        let ServicingRequest { pull_id: parent_id, actions: actions_raw } = req;
        let (parent, _) = self.load_pull(team, &parent_id).await?;
        let carrier = self
            .catalogue
            .get(&parent.insurance_provider_name)
            .ok_or_else(|| ServicingError::bad("INVALID_INPUT", "the pull's carrier is no longer offered"))?;
        // Here the actions are this request's input: their problems are INVALID_INPUT.
        let actions = read_actions(actions_raw.as_ref(), Some(carrier)).map_err(as_invalid_input)?;
        if self.now - parent.consented_at > Duration::days(CONSENT_REUSE_DAYS) {
            return Err(ServicingError::bad(
                "PULL_TOO_OLD",
                format!("The consent of that pull is older than {CONSENT_REUSE_DAYS} days; collect it again"),
            ));
        }
        let consent = self
            .repo(team)
            .consent(&parent_id)
            .await?
            .ok_or_else(|| ServicingError::internal("consent record missing"))?;
        let (mut secrets, _) = self.open_secrets(team, &parent_id).await?;
        secrets.mfa_code = None;
        secrets.session = None;
        let meta_data = parent.meta_data.clone();
        let new = NewPull {
            carrier,
            secrets: &secrets,
            consent,
            meta_data,
            parent: Some(parent_id),
            actions,
            token_use: None,
        };
        self.create_pull(team, new).await
    }

    pub async fn get_pull(&self, team: &TeamId, pull_id: &str) -> Result<Value, ServicingError> {
        let ((pull, _), actions) = self.load_pull_with_actions(team, pull_id).await?;
        let actions: Vec<ServicingAction> = actions.into_iter().map(|(a, _)| a).collect();
        Ok(pull_view(&pull, &actions))
    }

    pub async fn list_pulls(&self, team: &TeamId, limit: usize, offset: usize) -> Result<Value, ServicingError> {
        let (total, page) = self.repo(team).pulls_newest_first(offset, limit).await?;
        let mut pulls = Vec::new();
        for p in &page {
            let actions: Vec<ServicingAction> =
                self.load_actions(team, &p.pull_id).await?.into_iter().map(|(a, _)| a).collect();
            pulls.push(pull_view(p, &actions));
        }
        Ok(object([("total_pulls", json!(total)), ("pulls", Value::Array(pulls))]))
    }

    pub async fn list_servicings(
        &self,
        team: &TeamId,
        pull_id: Option<&str>,
        limit: usize,
        offset: usize,
    ) -> Result<Value, ServicingError> {
        let actions: Vec<ServicingAction> = match pull_id {
            Some(p) => self.load_pull_with_actions(team, p).await?.1.into_iter().map(|(a, _)| a).collect(),
            None => {
                let (total, pointers) = self.repo(team).pointers_newest_first(offset, limit).await?;
                let mut out = Vec::new();
                for ptr in &pointers {
                    out.push(self.action_by_pointer(team, ptr).await?);
                }
                let page = out.iter().map(action_view).collect();
                return Ok(object([("total_servicings", json!(total)), ("servicings", Value::Array(page))]));
            }
        };
        let total = actions.len();
        let page: Vec<Value> = actions.iter().skip(offset).take(limit).map(action_view).collect();
        Ok(object([("total_servicings", json!(total)), ("servicings", Value::Array(page))]))
    }

    async fn action_by_pointer(&self, team: &TeamId, ptr: &ActionPointer) -> Result<ServicingAction, ServicingError> {
        self.repo(team)
            .action_at(&ptr.pull_id, ptr.position)
            .await?
            .ok_or_else(|| ServicingError::internal("servicing action pointer without its action"))
    }

    pub async fn get_servicing(&self, team: &TeamId, action_id: &str) -> Result<Value, ServicingError> {
        let ptr = self
            .repo(team)
            .pointer(action_id)
            .await?
            .ok_or_else(|| ServicingError::not_found("The servicing action"))?;
        Ok(action_view(&self.action_by_pointer(team, &ptr).await?))
    }
}
