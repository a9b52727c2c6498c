//! Online access to an account (this deployment's extension of the Accounts API): the username
//! and password a consumer logs in with through the servicing widget (carrier `coverdesk`).
//! `PUT`/`DELETE /account/v1/accounts/{id}/online-access`. The body is read by
//! [`super::input::online_access`], the answer drawn by [`super::render::online_access`].

pub use super::model::OnlineAccess;
use super::model::{Conflict, OnlinePointer};
use super::{AccountError, Accounts, TeamId};
use crate::crypto::Keys;
use crate::store::Store;
use crate::types::Username;

/// The online access a username logs in with, if any.
pub async fn login(
    store: &dyn Store,
    keys: &Keys,
    team: &TeamId,
    username: &Username,
) -> Result<Option<OnlineAccess>, AccountError> {
    let repo = Accounts::new(store, team).repo();
    Ok(repo.online_login(&keys.lookup_key(username.as_str())?).await?)
}

impl Accounts<'_> {
    /// Sets the username and password a consumer of account `n` logs in with. The password is kept
    /// only as a PBKDF2 hash; a username belongs to one account of the team at a time.
    pub async fn set_online_access(
        &self,
        keys: &Keys,
        n: u64,
        username: Username,
        password: String,
    ) -> Result<OnlineAccess, AccountError> {
        let account = self.load(n).await?;
        if account.value.merge.is_some() {
            return Err(AccountError::Conflict { message: "the account is being merged".into() });
        }
        let hash = tokio::task::spawn_blocking(move || crate::crypto::hash_password(&password))
            .await
            .map_err(AccountError::internal)?
            .map_err(AccountError::internal)?;
        let repo = self.repo();
        let old = repo.online_pointer(n).await?;
        let hashed = keys.lookup_key(username.as_str())?;
        let guard = repo.online_login_key(&hashed);
        let access =
            OnlineAccess { account: n, username: username.as_str().to_string(), password: hash, updated_at: self.now };
        let pointer = OnlinePointer { username: access.username.clone(), guard: guard.clone(), updated_at: self.now };
        let (old_version, next) = old.as_ref().map_or((0, 1), |p| (p.version, p.version + 1));
        let mut writes =
            vec![repo.check_account(n, account.version), repo.put_online_pointer(n, next, old_version, &pointer)?];
        match old.map(|p| p.value.guard) {
            Some(old_guard) if old_guard == guard => {
                writes.push(repo.put_online_login(&hashed, self.now.timestamp_micros() as u64, true, &access)?)
            }
            old_guard => {
                writes.push(repo.put_online_login(&hashed, 1, false, &access)?);
                writes.extend(old_guard.map(|g| repo.delete_online_login(&g)));
            }
        }
        match repo.commit(writes).await? {
            Ok(()) => Ok(access),
            Err(c @ Conflict::UsernameTaken) => Err(AccountError::Conflict { message: c.to_string() }),
            Err(_) => Err(AccountError::Conflict { message: "the account changed meanwhile; try again".into() }),
        }
    }

    /// Removes account `n`'s online access: the consumer can no longer log in.
    pub async fn remove_online_access(&self, n: u64) -> Result<(), AccountError> {
        self.load(n).await?;
        let repo = self.repo();
        let not_found =
            || AccountError::NotFound { uri: format!("{}/online-access", crate::accounts::service::account_uri(n)) };
        let mut old = repo.online_pointer(n).await?.ok_or_else(not_found)?;
        // A concurrent PUT replaced the access meanwhile: remove what it wrote; a concurrent removal
        // already did what was asked.
        for _ in 0..4 {
            let writes = vec![repo.delete_online_pointer(n, old.version), repo.delete_online_login(&old.value.guard)];
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
}
