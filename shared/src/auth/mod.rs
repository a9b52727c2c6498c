//! Teams and their credentials. A team calls with HTTP Basic `client_id:client_secret`; the
//! secret is stored only as SHA-256 over a per-team salt and the secret.
//!
//! Why not a slow password hash: secrets are 256 random bits generated here, not passwords a
//! person chose, so guessing is hopeless at any hash speed, and a slow hash would cost every
//! request tens of milliseconds of Lambda time.
//!
//! The import API also takes the filing service's credential, an API key ([`api_keys`]).

pub mod api_keys;
pub use api_keys::{authenticate_key, create_api_key, list_api_keys, revoke_api_key, ApiKey};

use base64::Engine;
use chrono::Utc;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::store::{Cond, Item, Store, StoreError, Write};
use crate::types::TeamId;

/// What can go wrong with teams and their credentials. Each API maps it in `api/errors.rs`:
/// `Unauthenticated` is 401, a store that is busy or down 503.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Missing, malformed or wrong credentials: never says which.
    #[error("authentication failed")]
    Unauthenticated,
    #[error("a client id holds 1 to 64 letters, digits, - and _")]
    InvalidClientId,
    #[error("a team with client id {0} exists")]
    ClientIdTaken(String),
    #[error("no team with client id {0}")]
    NoSuchTeam(String),
    #[error("no API key {key_id} for client id {client_id}")]
    NoSuchKey { client_id: String, key_id: String },
    #[error("an API key's name holds at most 100 characters, none of them a control character")]
    InvalidKeyName,
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A failure on our side, its cause kept.
    #[error("internal error")]
    Internal(#[source] crate::cause::Cause),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Team {
    pub team_id: TeamId,
    pub client_id: String,
    pub name: String,
    salt: String,
    secret_hash: String,
    pub created_at: chrono::DateTime<Utc>,
    pub rotated_at: chrono::DateTime<Utc>,
}

pub fn team_pk(client_id: &str) -> String {
    format!("TEAM#{client_id}")
}
pub const TEAM_SK: &str = "TEAM";

fn random_hex(bytes: usize) -> Result<String, AuthError> {
    let mut b = vec![0u8; bytes];
    getrandom::fill(&mut b).map_err(|e| AuthError::Internal(crate::cause::cause(format!("random bytes: {e}"))))?;
    Ok(hex::encode(b))
}

fn hash(salt: &str, secret: &str) -> String {
    let mut h = Sha256::new();
    h.update(salt.as_bytes());
    h.update([0u8]);
    h.update(secret.as_bytes());
    hex::encode(h.finalize())
}

pub fn new_secret() -> Result<String, AuthError> {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).map_err(|e| AuthError::Internal(crate::cause::cause(format!("random bytes: {e}"))))?;
    Ok(format!("cds_{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)))
}

fn valid_client_id(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// Creates a team; with no secret given, a random one. Returns the team and its secret, which is
/// shown this once and never stored.
pub async fn create_team(
    store: &dyn Store,
    name: &str,
    client_id: Option<&str>,
    secret: Option<&str>,
    team_id: Option<&str>,
) -> Result<(Team, String), AuthError> {
    let client_id = match client_id {
        Some(c) if valid_client_id(c) => c.to_string(),
        Some(_) => return Err(AuthError::InvalidClientId),
        None => format!("cd_{}", random_hex(10)?),
    };
    let secret = match secret {
        Some(s) => s.to_string(),
        None => new_secret()?,
    };
    let salt = random_hex(16)?;
    let now = Utc::now();
    let team = Team {
        team_id: TeamId::new(team_id.map(str::to_string).unwrap_or(random_hex(12)?)),
        client_id: client_id.clone(),
        name: name.to_string(),
        secret_hash: hash(&salt, &secret),
        salt,
        created_at: now,
        rotated_at: now,
    };
    let item = Item::new(
        team_pk(&client_id),
        TEAM_SK,
        1,
        serde_json::to_value(&team).map_err(|e| AuthError::Internal(crate::cause::cause(e)))?,
    );
    match store.transact(vec![Write::Put { item, cond: Cond::Absent }]).await {
        Ok(()) => Ok((team, secret)),
        Err(StoreError::ConditionFailed { .. }) => Err(AuthError::ClientIdTaken(client_id)),
        Err(e) => Err(e.into()),
    }
}

/// Replaces a team's secret with a new random one; the old one stops working at once.
pub async fn rotate_secret(store: &dyn Store, client_id: &str) -> Result<String, AuthError> {
    let item =
        store.get(&team_pk(client_id), TEAM_SK).await?.ok_or_else(|| AuthError::NoSuchTeam(client_id.to_string()))?;
    let mut team: Team =
        serde_json::from_value(item.body.clone()).map_err(|e| AuthError::Internal(crate::cause::cause(e)))?;
    let secret = new_secret()?;
    team.salt = random_hex(16)?;
    team.secret_hash = hash(&team.salt, &secret);
    team.rotated_at = Utc::now();
    let new = Item::new(
        item.pk.clone(),
        TEAM_SK,
        item.version + 1,
        serde_json::to_value(&team).map_err(|e| AuthError::Internal(crate::cause::cause(e)))?,
    );
    store.transact(vec![Write::Put { item: new, cond: Cond::Version(item.version) }]).await?;
    Ok(secret)
}

/// Makes sure a team exists (the local server's team); an existing one is left as it is.
pub async fn ensure_team(store: &dyn Store, team_id: &str, client_id: &str, secret: &str) -> Result<(), AuthError> {
    if store.get(&team_pk(client_id), TEAM_SK).await?.is_some() {
        return Ok(());
    }
    match create_team(store, "Local team", Some(client_id), Some(secret), Some(team_id)).await {
        Ok(_) | Err(AuthError::ClientIdTaken(_)) => Ok(()),
        Err(e) => Err(e),
    }
}

/// The team whose client id is `client_id` (the widget's `public_alias`), if any.
pub async fn team_by_client_id(store: &dyn Store, client_id: &str) -> Result<Option<TeamId>, StoreError> {
    Ok(team_record(store, client_id).await?.map(|t| t.team_id))
}

/// The whole team record of a client id (its name is public: the hosted page shows it).
pub async fn team_record(store: &dyn Store, client_id: &str) -> Result<Option<Team>, StoreError> {
    if !valid_client_id(client_id) {
        return Ok(None);
    }
    store.get(&team_pk(client_id), TEAM_SK).await?.map(|item| item.decode()).transpose()
}

/// The team named by an `Authorization: Basic ...` header, or 401. Reads the team every time
/// (the CLI and the store's contract); requests go through [`Credentials::authenticate`].
pub async fn authenticate(store: &dyn Store, authorization: Option<&str>) -> Result<TeamId, AuthError> {
    let (client_id, secret) = basic(authorization)?;
    let team = read_team(store, &client_id).await?;
    check(&team, &secret)
}

/// `client_id` and secret of a Basic header, or 401.
fn basic(authorization: Option<&str>) -> Result<(String, String), AuthError> {
    let encoded = authorization
        .and_then(|h| h.strip_prefix("Basic ").or_else(|| h.strip_prefix("basic ")))
        .ok_or(AuthError::Unauthenticated)?;
    let decoded =
        base64::engine::general_purpose::STANDARD.decode(encoded.trim()).map_err(|_| AuthError::Unauthenticated)?;
    let decoded = String::from_utf8(decoded).map_err(|_| AuthError::Unauthenticated)?;
    let (client_id, secret) = decoded.split_once(':').ok_or(AuthError::Unauthenticated)?;
    if !valid_client_id(client_id) || secret.is_empty() || secret.len() > 256 {
        return Err(AuthError::Unauthenticated);
    }
    Ok((client_id.to_string(), secret.to_string()))
}

async fn read_team(store: &dyn Store, client_id: &str) -> Result<Team, AuthError> {
    let item = store.get(&team_pk(client_id), TEAM_SK).await?.ok_or(AuthError::Unauthenticated)?;
    serde_json::from_value(item.body).map_err(|e| AuthError::Internal(crate::cause::cause(e)))
}

fn check(team: &Team, secret: &str) -> Result<TeamId, AuthError> {
    let given = hash(&team.salt, secret);
    if given.as_bytes().ct_eq(team.secret_hash.as_bytes()).into() {
        Ok(team.team_id.clone())
    } else {
        Err(AuthError::Unauthenticated)
    }
}

/// How long a process keeps a team's record after reading it: a rotated secret (or a deleted
/// team) stops working at most this long after the change, in every container.
pub const CREDENTIAL_TTL: std::time::Duration = std::time::Duration::from_secs(5);

/// The teams' records a process read lately, by client id, each kept [`CREDENTIAL_TTL`]: a request
/// whose secret the kept record takes reads nothing. A secret it does not take reads the record
/// again (a secret just rotated works at once), and a refusal is never answered from what is
/// kept: every secret accepted is checked against a record read within the lifetime. At most
/// [`Credentials::MAX`] records (all dropped when full).
pub struct Credentials {
    ttl: std::time::Duration,
    teams: std::sync::Mutex<std::collections::HashMap<String, (std::time::Instant, Team)>>,
}

impl Default for Credentials {
    fn default() -> Self {
        Credentials::new(CREDENTIAL_TTL)
    }
}

impl Credentials {
    pub const MAX: usize = 1024;

    pub fn new(ttl: std::time::Duration) -> Self {
        Credentials { ttl, teams: Default::default() }
    }

    fn kept(&self, client_id: &str) -> Option<Team> {
        let teams = self.teams.lock().ok()?;
        teams.get(client_id).filter(|(at, _)| at.elapsed() < self.ttl).map(|(_, t)| t.clone())
    }

    /// Keeps `team` as read by a read that started at `read_at`: its age counts from the read's
    /// start (a slow read cannot stretch an old secret's life), and a record read later is never
    /// replaced by one read earlier.
    fn keep(&self, client_id: &str, team: &Team, read_at: std::time::Instant) {
        if let Ok(mut teams) = self.teams.lock() {
            if teams.get(client_id).is_some_and(|(at, _)| *at > read_at) {
                return;
            }
            if teams.len() >= Self::MAX {
                teams.clear();
            }
            teams.insert(client_id.to_string(), (read_at, team.clone()));
        }
    }

    /// The team named by an `Authorization: Basic ...` header, or 401: from the kept record when
    /// it takes the secret, else from the store.
    pub async fn authenticate(&self, store: &dyn Store, authorization: Option<&str>) -> Result<TeamId, AuthError> {
        let (client_id, secret) = basic(authorization)?;
        if let Some(team) = self.kept(&client_id) {
            if let Ok(id) = check(&team, &secret) {
                return Ok(id);
            }
        }
        let read_at = std::time::Instant::now();
        let team = read_team(store, &client_id).await?;
        self.keep(&client_id, &team, read_at);
        check(&team, &secret)
    }
}
