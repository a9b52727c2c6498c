//! The accounts area's repository: its keys, its items and its writes, over the generic store
//! port. Service code asks for named writes ([`Named`]) and commits them together; a failed
//! condition comes back as the [`Conflict`] it means, never as an index into the transaction.
//!
//! Key layout (one table, every key scoped by team so one team's requests can never name
//! another team's items):
//!
//! | item | pk | sk | index (gsi1) |
//! |---|---|---|---|
//! | account | `T#<team>#A#<n>` | `ACCOUNT` | `T#<team>#ACCOUNTS` / `<n:012>` |
//! | child (contact, location, note, policy, job, activity) | `T#<team>#A#<n>` | `CH#<kind>#<id:012>` | - |
//! | servicing action applied to the account's policies | `T#<team>#A#<n>` | `SVC#<action id>` | - |
//! | online-access pointer | `T#<team>#A#<n>` | `ONLINE` | - |
//! | id counters | `T#<team>` | `SEQ#account`, `SEQ#child` | - |
//! | account-number guard | `T#<team>#ACCTNO#<number>` | `U` | - |
//! | policy-number guard | `T#<team>#POLNO#<number>` | `U` | - |
//! | client transaction id | `T#<team>#TXN#<id>` | `TXN` | - |
//! | merge record | `T#<team>#MERGE#<source n>` | `M` | - |
//! | online-access login | `T#<team>#ONLINE#<keyed digest of the canonical username>` | `U` | - |
//! | search index entry: the account has this search key | `T#<team>#FIND#<digest of the key>` | `<n:012>` | - |
//!
//! Search keys (`super::terms`: words, a taxpayer id's digest, producer codes) are stored as the
//! first 80 bits of their SHA-256, so no name, phone number or id is part of a key; a search
//! checks every account it finds against the account's own terms.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};

use super::error::AccountError;
use super::model::{Account, ChildKind, ClientTxn, MergeRecord, Stored, Versioned};
use super::TeamId;
use crate::store::{Cond, Cursor, Item, Page, Store, StoreError, Write};

mod online;

pub(crate) mod keys {
    use super::{ChildKind, TeamId};

    pub fn account_pk(team: &TeamId, n: u64) -> String {
        format!("T#{}#A#{n}", team)
    }
    pub const ACCOUNT_SK: &str = "ACCOUNT";
    pub fn accounts_index(team: &TeamId) -> String {
        format!("T#{}#ACCOUNTS", team)
    }
    pub fn account_index_sk(n: u64) -> String {
        format!("{n:012}")
    }
    /// Every child of an account starts its sort key so.
    pub const CHILDREN: &str = "CH#";
    pub fn child_prefix(kind: ChildKind) -> String {
        format!("CH#{}#", kind.key())
    }
    pub fn child_sk(kind: ChildKind, id: u64) -> String {
        format!("CH#{}#{id:012}", kind.key())
    }
    pub fn applied_sk(action_id: &str) -> String {
        format!("SVC#{action_id}")
    }
    pub const ONLINE_POINTER_SK: &str = "ONLINE";
    pub fn online_login(team: &TeamId, hashed_username: &str) -> String {
        format!("T#{}#ONLINE#{hashed_username}", team)
    }
    pub const LOGIN_SK: &str = "U";
    /// The partition of the team's id counters (sort keys `SEQ#account`, `SEQ#child`).
    pub fn counters(team: &TeamId) -> String {
        format!("T#{}", team)
    }
    pub fn account_number(team: &TeamId, number: &str) -> String {
        format!("T#{}#ACCTNO#{number}", team)
    }
    pub fn policy_number(team: &TeamId, number: &str) -> String {
        format!("T#{}#POLNO#{number}", team)
    }
    pub const GUARD_SK: &str = "U";
    pub fn transaction(team: &TeamId, id: &str) -> String {
        format!("T#{}#TXN#{id}", team)
    }
    pub const TRANSACTION_SK: &str = "TXN";
    pub fn merge_record(team: &TeamId, source: u64) -> String {
        format!("T#{}#MERGE#{source}", team)
    }
    pub const MERGE_SK: &str = "M";
    pub fn find(team: &TeamId, key: &str) -> String {
        let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, key.as_bytes());
        format!("T#{}#FIND#{}", team, hex::encode(&d.as_ref()[..10]))
    }
}

pub use super::model::Conflict;

/// How long a client transaction id (`GW-DBTransaction-ID`) refuses a second use; then TTL
/// removes its record.
pub const TRANSACTION_ID_DAYS: i64 = 30;
/// How long a committed merge's record stays (a repeated merge request finds it and only cleans
/// up); then TTL removes it.
pub const MERGE_RECORD_DAYS: i64 = 30;

/// A write of this area with the [`Conflict`] its failed condition means.
pub(crate) type Named = crate::store::Named<Conflict>;

impl<T: DeserializeOwned> TryFrom<&Item> for Versioned<T> {
    type Error = StoreError;
    fn try_from(item: &Item) -> Result<Self, StoreError> {
        Ok(Versioned { value: item.decode()?, version: item.version })
    }
}

pub(crate) fn encode<T: Serialize>(v: &T) -> Result<Value, AccountError> {
    serde_json::to_value(v).map_err(AccountError::internal)
}

/// The accounts of one team in the store.
#[derive(Clone, Copy)]
pub(crate) struct Repo<'a> {
    pub store: &'a dyn Store,
    pub team: &'a TeamId,
}

impl<'a> Repo<'a> {
    // ---- reads ----

    pub async fn account(&self, n: u64) -> Result<Option<Versioned<Account>>, StoreError> {
        self.store
            .get(&keys::account_pk(self.team, n), keys::ACCOUNT_SK)
            .await?
            .as_ref()
            .map(Versioned::try_from)
            .transpose()
    }

    /// One page of the team's accounts, in creation order.
    pub async fn accounts_page(&self, after: Option<&Cursor>, limit: usize) -> Result<Page, StoreError> {
        self.store.query_index(&keys::accounts_index(self.team), after, limit).await
    }

    pub async fn child<T: DeserializeOwned>(
        &self,
        n: u64,
        kind: ChildKind,
        id: u64,
    ) -> Result<Option<Versioned<Stored<T>>>, StoreError> {
        self.store
            .get(&keys::account_pk(self.team, n), &keys::child_sk(kind, id))
            .await?
            .as_ref()
            .map(Versioned::try_from)
            .transpose()
    }

    /// One page of an account's children of one kind (every kind with `None`), in id order.
    pub async fn children_page(
        &self,
        n: u64,
        kind: Option<ChildKind>,
        after: Option<&Cursor>,
        limit: usize,
    ) -> Result<Page, StoreError> {
        let prefix = kind.map_or_else(|| keys::CHILDREN.to_string(), keys::child_prefix);
        self.store.query(&keys::account_pk(self.team, n), &prefix, after, limit).await
    }

    /// Every item left under an account's key (a merged source being cleaned up), a page at a time.
    pub async fn account_items(&self, n: u64, limit: usize) -> Result<Page, StoreError> {
        self.store.query(&keys::account_pk(self.team, n), "", None, limit).await
    }

    /// Up to `limit` accounts that have the search key, in id order, from the first above
    /// `above` (0: from the start); and whether more may follow.
    pub async fn found(&self, key: &str, above: u64, limit: usize) -> Result<(Vec<u64>, bool), StoreError> {
        let pk = keys::find(self.team, key);
        let after = (above > 0).then(|| Cursor { pk: pk.clone(), sk: keys::account_index_sk(above), index_sk: None });
        let page = self.store.query(&pk, "", after.as_ref(), limit).await?;
        let ids = page
            .items
            .iter()
            .map(|i| {
                i.sk.parse::<u64>().map_err(|_| StoreError::Corrupt {
                    pk: i.pk.clone(),
                    sk: i.sk.clone(),
                    reason: "a search entry's sort key is not an account number".into(),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok((ids, page.next.is_some()))
    }

    pub async fn transaction_used(&self, id: &str) -> Result<bool, StoreError> {
        Ok(self.store.get(&keys::transaction(self.team, id), keys::TRANSACTION_SK).await?.is_some())
    }

    pub async fn policy_number_taken(&self, number: &str) -> Result<bool, StoreError> {
        Ok(self.store.get(&keys::policy_number(self.team, number), keys::GUARD_SK).await?.is_some())
    }

    pub async fn action_applied(&self, n: u64, action_id: &str) -> Result<bool, StoreError> {
        Ok(self.store.get(&keys::account_pk(self.team, n), &keys::applied_sk(action_id)).await?.is_some())
    }

    pub async fn merge_record(&self, source: u64) -> Result<Option<Versioned<MergeRecord>>, StoreError> {
        self.store
            .get(&keys::merge_record(self.team, source), keys::MERGE_SK)
            .await?
            .as_ref()
            .map(Versioned::try_from)
            .transpose()
    }

    pub async fn next_account_id(&self) -> Result<u64, StoreError> {
        self.store.next_sequence(&keys::counters(self.team), "SEQ#account", 1).await
    }

    /// `count` consecutive child ids; the first is returned.
    pub async fn next_child_ids(&self, count: u64) -> Result<u64, StoreError> {
        self.store.next_sequence(&keys::counters(self.team), "SEQ#child", count).await
    }

    // ---- writes ----

    /// The account at `version`, written over the one read at `read` (0: a new account).
    pub fn put_account(&self, a: &Account, version: u64, read: u64) -> Result<Named, AccountError> {
        let item = Item::new(keys::account_pk(self.team, a.id), keys::ACCOUNT_SK, version, encode(a)?)
            .with_index(keys::accounts_index(self.team), keys::account_index_sk(a.id));
        Ok(Named { write: Write::Put { item, cond: Cond::read_at(read) }, conflict: Conflict::AccountChanged })
    }

    /// The search index entries that take account `n` from the keys `old` to `new`: the keys it
    /// lost deleted, the keys it gained written (none when the two are the same).
    pub fn index_changes(&self, n: u64, old: &BTreeSet<String>, new: &BTreeSet<String>) -> Vec<Named> {
        let sk = keys::account_index_sk(n);
        let gone = old.difference(new).map(|k| Write::Delete {
            pk: keys::find(self.team, k),
            sk: sk.clone(),
            cond: Cond::Any,
        });
        let added = new.difference(old).map(|k| Write::Put {
            item: Item::new(keys::find(self.team, k), sk.clone(), 1, json!({})),
            cond: Cond::Any,
        });
        // Unconditional: these writes cannot fail; the account's own write guards the change.
        gone.chain(added).map(|write| Named { write, conflict: Conflict::AccountChanged }).collect()
    }

    /// The account is still at `version`, unchanged.
    pub fn check_account(&self, n: u64, version: u64) -> Named {
        Named {
            write: Write::Check {
                pk: keys::account_pk(self.team, n),
                sk: keys::ACCOUNT_SK.into(),
                cond: Cond::Version(version),
            },
            conflict: Conflict::AccountChanged,
        }
    }

    pub fn delete_account(&self, n: u64, version: u64) -> Named {
        Named {
            write: Write::Delete {
                pk: keys::account_pk(self.team, n),
                sk: keys::ACCOUNT_SK.into(),
                cond: Cond::Version(version),
            },
            conflict: Conflict::AccountChanged,
        }
    }

    /// A child at `version`, written over the one read at `read` (0: a new child).
    pub fn put_child<T: Serialize>(
        &self,
        account: u64,
        kind: ChildKind,
        child: &Stored<T>,
        version: u64,
        read: u64,
    ) -> Result<Named, AccountError> {
        let item =
            Item::new(keys::account_pk(self.team, account), keys::child_sk(kind, child.id), version, encode(child)?);
        let conflict = if read == 0 { Conflict::ChildExists } else { Conflict::ChildChanged };
        Ok(Named { write: Write::Put { item, cond: Cond::read_at(read) }, conflict })
    }

    /// Deletes a child still at `version` (a contact or location the client removes).
    pub fn delete_child(&self, account: u64, kind: ChildKind, id: u64, version: u64) -> Named {
        Named {
            write: Write::Delete {
                pk: keys::account_pk(self.team, account),
                sk: keys::child_sk(kind, id),
                cond: Cond::Version(version),
            },
            conflict: Conflict::ChildChanged,
        }
    }

    /// A merge's copy of a source child under the target: its sort key and version kept, its
    /// body as given (marked with the merge); written over an earlier attempt's copy.
    pub fn copy_child(&self, target: u64, from: &Item, body: Value) -> Named {
        let item = Item::new(keys::account_pk(self.team, target), from.sk.clone(), from.version, body);
        Named { write: Write::Put { item, cond: Cond::Any }, conflict: Conflict::MergeChanged }
    }

    /// Deletes an item read from under an account (cleanup of a merged source).
    pub fn delete_item(&self, item: &Item) -> Named {
        Named {
            write: Write::Delete { pk: item.pk.clone(), sk: item.sk.clone(), cond: Cond::Any },
            conflict: Conflict::MergeChanged,
        }
    }

    /// The child is still at `version` (unchanged since it was read).
    pub fn check_child_at(&self, account: u64, kind: ChildKind, id: u64, version: u64) -> Named {
        Named {
            write: Write::Check {
                pk: keys::account_pk(self.team, account),
                sk: keys::child_sk(kind, id),
                cond: Cond::Version(version),
            },
            conflict: Conflict::ChildChanged,
        }
    }

    pub fn claim_account_number(&self, number: &str, account: u64) -> Named {
        Named {
            write: Write::Put {
                item: Item::new(
                    keys::account_number(self.team, number),
                    keys::GUARD_SK,
                    1,
                    json!({"account": account}),
                ),
                cond: Cond::Absent,
            },
            conflict: Conflict::AccountNumberTaken,
        }
    }

    pub fn release_account_number(&self, number: &str) -> Named {
        Named {
            write: Write::Delete {
                pk: keys::account_number(self.team, number),
                sk: keys::GUARD_SK.into(),
                cond: Cond::Any,
            },
            conflict: Conflict::AccountNumberTaken,
        }
    }

    pub fn claim_policy_number(&self, number: &str, policy: u64) -> Named {
        Named {
            write: Write::Put {
                item: Item::new(keys::policy_number(self.team, number), keys::GUARD_SK, 1, json!({"policy": policy})),
                cond: Cond::Absent,
            },
            conflict: Conflict::PolicyNumberTaken,
        }
    }

    /// Records a client transaction id with what it did; a second use is refused.
    pub fn record_transaction(&self, txn: &ClientTxn, status: u16, uri: &str, now: DateTime<Utc>) -> Named {
        Named {
            write: Write::Put {
                item: Item::new(
                    keys::transaction(self.team, &txn.id),
                    keys::TRANSACTION_SK,
                    1,
                    json!({"operation": txn.operation, "status": status, "uri": uri, "executedAt": now}),
                )
                .expiring(now + chrono::Duration::days(TRANSACTION_ID_DAYS)),
                cond: Cond::Absent,
            },
            conflict: Conflict::TransactionIdUsed,
        }
    }

    /// Marks a servicing action as applied to the account's policies (once).
    pub fn record_applied(&self, n: u64, action_id: &str, body: Value) -> Named {
        Named {
            write: Write::Put {
                item: Item::new(keys::account_pk(self.team, n), keys::applied_sk(action_id), 1, body),
                cond: Cond::Absent,
            },
            conflict: Conflict::ActionApplied,
        }
    }

    /// The merge record at `version` over the one read at `read` (any, with `None`).
    pub fn put_merge_record(
        &self,
        source: u64,
        r: &MergeRecord,
        version: u64,
        read: Option<u64>,
    ) -> Result<Named, AccountError> {
        let mut item = Item::new(keys::merge_record(self.team, source), keys::MERGE_SK, version, encode(r)?);
        if r.committed {
            item = item.expiring(Utc::now() + chrono::Duration::days(MERGE_RECORD_DAYS));
        }
        Ok(Named {
            write: Write::Put { item, cond: read.map_or(Cond::Any, Cond::read_at) },
            conflict: Conflict::MergeChanged,
        })
    }

    /// Applies the writes in one transaction: `Ok(Err(conflict))` names the condition that failed.
    pub async fn commit(&self, writes: Vec<Named>) -> Result<Result<(), Conflict>, StoreError> {
        crate::store::transact_named(self.store, writes).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::NoStore;

    #[test]
    fn transient_records_expire() {
        // Only the writes are built: no store is asked.
        let store = NoStore;
        let team = TeamId::new("t");
        let repo = Repo { store: &store, team: &team };
        let now = Utc::now();
        let txn = ClientTxn { id: "x".into(), operation: "create".into() };
        let Write::Put { item, .. } = repo.record_transaction(&txn, 201, "/u", now).write else { panic!() };
        assert_eq!(item.expires_at, Some((now + chrono::Duration::days(TRANSACTION_ID_DAYS)).timestamp()));
        let open = MergeRecord { merge_id: "m".into(), target: 1, committed: false };
        let Write::Put { item, .. } = repo.put_merge_record(2, &open, 1, None).unwrap().write else { panic!() };
        assert_eq!(item.expires_at, None, "an open merge's record stays until the merge completes");
        let done = MergeRecord { committed: true, ..open };
        let Write::Put { item, .. } = repo.put_merge_record(2, &done, 2, Some(1)).unwrap().write else { panic!() };
        assert!(item.expires_at.unwrap() > now.timestamp() + 29 * 86_400);
    }
}
