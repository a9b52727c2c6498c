//! Online access to an account (this deployment's extension of the Accounts API): the username
//! and password a consumer logs in with through the servicing widget (carrier `coverdesk`).
//! `PUT`/`DELETE /account/v1/accounts/{id}/online-access`.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::model::Conflict;
use super::{AccountError, Accounts, TeamId};
use crate::crypto::{Keys, PasswordHash};
use crate::fields::required;
use crate::store::Store;
use crate::types::Username;

/// Online access to an account: a username and a slow salted hash of the password. Stored at
/// `T#<team>#ONLINE#<keyed digest of the canonical username>` / `U` (see [`Username`]: NFKC and
/// case folding, so every spelling of one name reaches one account); the account holds the
/// pointer back at `T#<team>#A#<n>` / `ONLINE`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OnlineAccess {
    pub account: u64,
    pub username: String,
    pub password: PasswordHash,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

/// The online access a username logs in with, if any.
pub async fn login(
    store: &dyn Store,
    keys: &Keys,
    team: &TeamId,
    username: &Username,
) -> Result<Option<OnlineAccess>, AccountError> {
    let repo = Accounts::new(store, team).repo();
    let item = repo.online_login(&keys.lookup_key(username.as_str())?).await?;
    Ok(item.map(|i| i.decode()).transpose()?)
}

fn online_view(username: Option<&str>, updated: chrono::DateTime<chrono::Utc>) -> Value {
    crate::accounts::render::single(json!({"attributes": {"username": username, "updatedAt": updated}}))
}

/// `PUT /account/v1/accounts/{id}/online-access`: sets the username and password a consumer logs
/// in with through the servicing widget (carrier `coverdesk`). The password is kept only as a
/// PBKDF2 hash; a username belongs to one account of the team at a time.
pub async fn set_online_access(
    store: &dyn Store,
    keys: &Keys,
    team: &TeamId,
    n: u64,
    body: &Value,
) -> Result<Value, AccountError> {
    let ((username, password), _) = crate::accounts::input::body(body, |o| {
        let raw = o.string("username", required(), 200)?;
        // As sent, untrimmed: the servicing login compares the password exactly as typed.
        let password = o.string_as_sent("password", required(), 10, 200)?;
        let username = match raw.as_deref().map(Username::parse) {
            None => None,
            Some(Err(e)) => o.problem("username", required(), e.to_string()).map(|_| None)?,
            Some(Ok(u)) if u.as_str().chars().count() < 5 || u.as_str().contains(' ') => {
                o.problem("username", required(), "must be 5 to 200 characters without spaces").map(|_| None)?
            }
            Some(Ok(u)) => Some(u),
        };
        Ok(username.zip(password))
    })?;
    let accounts = Accounts::new(store, team);
    let account = accounts.load(n).await?;
    if account.value.merge.is_some() {
        return Err(AccountError::Conflict { message: "the account is being merged".into() });
    }
    let hash = tokio::task::spawn_blocking(move || crate::crypto::hash_password(&password))
        .await
        .map_err(AccountError::internal)?
        .map_err(AccountError::internal)?;
    let now = chrono::Utc::now();
    let repo = accounts.repo();
    let old = repo.online_pointer(n).await?;
    let hashed = keys.lookup_key(username.as_str())?;
    let new_pk = repo.online_login_key(&hashed);
    let access = OnlineAccess { account: n, username: username.as_str().to_string(), password: hash, updated_at: now };
    let old_pk = old.as_ref().and_then(|i| i.body.get("guard").and_then(Value::as_str).map(str::to_string));
    let pointer = json!({"username": username.as_str(), "guard": new_pk, "updated_at": now});
    let (old_version, next) = old.as_ref().map_or((0, 1), |i| (i.version, i.version + 1));
    let mut writes =
        vec![repo.check_account(n, account.version), repo.put_online_pointer(n, next, old_version, pointer)];
    let body = serde_json::to_value(&access).map_err(AccountError::internal)?;
    if old_pk.as_deref() == Some(new_pk.as_str()) {
        writes.push(repo.put_online_login(&hashed, now.timestamp_micros() as u64, true, body));
    } else {
        writes.push(repo.put_online_login(&hashed, 1, false, body));
        if let Some(old_pk) = old_pk {
            writes.push(repo.delete_online_login(&old_pk));
        }
    }
    match repo.commit(writes).await? {
        Ok(()) => Ok(online_view(Some(&access.username), now)),
        Err(c @ Conflict::UsernameTaken) => Err(AccountError::Conflict { message: c.to_string() }),
        Err(_) => Err(AccountError::Conflict { message: "the account changed meanwhile; try again".into() }),
    }
}

/// `DELETE /account/v1/accounts/{id}/online-access`: the consumer can no longer log in.
pub async fn remove_online_access(store: &dyn Store, team: &TeamId, n: u64) -> Result<(), AccountError> {
    let accounts = Accounts::new(store, team);
    accounts.load(n).await?;
    let repo = accounts.repo();
    let not_found =
        || AccountError::NotFound { uri: format!("{}/online-access", crate::accounts::service::account_uri(n)) };
    let mut old = repo.online_pointer(n).await?.ok_or_else(not_found)?;
    // A concurrent PUT replaced the access meanwhile: remove what it wrote; a concurrent removal
    // already did what was asked.
    for _ in 0..4 {
        let mut writes = vec![repo.delete_online_pointer(n, old.version)];
        if let Some(g) = old.body.get("guard").and_then(Value::as_str) {
            writes.push(repo.delete_online_login(g));
        }
        if repo.commit(writes).await?.is_ok() {
            return Ok(());
        }
        match repo.online_pointer(n).await? {
            Some(now) => old = now,
            None => return Ok(()),
        }
    }
    Err(AccountError::Conflict { message: "the online access keeps changing; try again".into() })
}
