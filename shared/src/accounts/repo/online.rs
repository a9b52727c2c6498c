//! The online-access items of an account: the pointer under the account and the login item
//! under the hashed username (its key is the repository's, in [`super::keys`]).

use super::{encode, keys, Conflict, Named, Repo};
use crate::accounts::error::AccountError;
use crate::accounts::model::{OnlineAccess, OnlinePointer, Versioned};
use crate::store::{Cond, Item, StoreError, Write};

impl Repo<'_> {
    pub async fn online_pointer(&self, n: u64) -> Result<Option<Versioned<OnlinePointer>>, StoreError> {
        let item = self.store.get(&keys::account_pk(self.team, n), keys::ONLINE_POINTER_SK).await?;
        item.as_ref().map(Versioned::try_from).transpose()
    }

    pub async fn online_login(&self, hashed_username: &str) -> Result<Option<OnlineAccess>, StoreError> {
        let item = self.store.get(&keys::online_login(self.team, hashed_username), keys::LOGIN_SK).await?;
        item.map(|i| i.decode()).transpose()
    }

    /// The account's online-access pointer over the one read at `read` (0: none).
    pub fn put_online_pointer(
        &self,
        n: u64,
        version: u64,
        read: u64,
        p: &OnlinePointer,
    ) -> Result<Named, AccountError> {
        let item = Item::new(keys::account_pk(self.team, n), keys::ONLINE_POINTER_SK, version, encode(p)?);
        Ok(Named { write: Write::Put { item, cond: Cond::read_at(read) }, conflict: Conflict::OnlineAccessChanged })
    }

    pub fn delete_online_pointer(&self, n: u64, version: u64) -> Named {
        Named {
            write: Write::Delete {
                pk: keys::account_pk(self.team, n),
                sk: keys::ONLINE_POINTER_SK.into(),
                cond: Cond::Version(version),
            },
            conflict: Conflict::OnlineAccessChanged,
        }
    }

    /// A login under a username's keyed hash: claimed new (`replace` false), or rewritten in
    /// place for the same username.
    pub fn put_online_login(
        &self,
        hashed_username: &str,
        version: u64,
        replace: bool,
        access: &OnlineAccess,
    ) -> Result<Named, AccountError> {
        let item = Item::new(keys::online_login(self.team, hashed_username), keys::LOGIN_SK, version, encode(access)?);
        let cond = if replace { Cond::Exists } else { Cond::Absent };
        Ok(Named { write: Write::Put { item, cond }, conflict: Conflict::UsernameTaken })
    }

    /// Deletes a login by the key its pointer holds.
    pub fn delete_online_login(&self, pk: &str) -> Named {
        Named {
            write: Write::Delete { pk: pk.to_string(), sk: keys::LOGIN_SK.into(), cond: Cond::Any },
            conflict: Conflict::OnlineAccessChanged,
        }
    }

    /// The key a login lives under (what an account's pointer records).
    pub fn online_login_key(&self, hashed_username: &str) -> String {
        keys::online_login(self.team, hashed_username)
    }
}
