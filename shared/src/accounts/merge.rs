//! Merging a source account into a target (seed 001), crash-safe beyond one transaction's limit.
//!
//! A merge can move more children than one DynamoDB transaction takes (100), so it runs in steps,
//! each one transaction, and every step can be repeated:
//! 1. **begin**: both accounts are locked with a merge id (their versions change, so no other
//!    change slips in) and a merge record is written.
//! 2. **copy**: the source's children are copied under the target, 99 a transaction, marked with
//!    the merge id. Readers of the target skip copies whose merge id is the target's lock, so they
//!    see none of the merge yet; readers of the source still see it whole.
//! 3. **commit**: one transaction deletes the source account, unlocks the target with its new
//!    counts and status, and marks the merge record committed. From here readers see all of it.
//! 4. **cleanup**: the source's leftover children, invisible since the source is gone, are
//!    deleted.
//!
//! A crash anywhere leaves a state that the same merge request, repeated, completes: before the
//! commit it copies again (copies are overwritten, never duplicated); after it, it only cleans up.

use serde_json::Value;

use super::error::{AccountError, Detail};
use super::model::*;
use super::service::{require_status, Accounts};
use crate::store::{StoreError, MAX_TRANSACT_ITEMS};

/// For crash tests: stop a merge after this many copy transactions, as if the process died. Only
/// `merge_with_fault` (feature `fault-injection`, for the test command) sets it; a production
/// build always merges with the default, no fault.
#[derive(Debug, Clone, Copy, Default)]
pub struct MergeFault {
    pub stop_after_copy_batches: Option<usize>,
}

const COPY_BATCH: usize = MAX_TRANSACT_ITEMS - 1;

impl<'a> Accounts<'a> {
    pub async fn merge(
        &self,
        target: u64,
        source: u64,
        checksum: Option<&str>,
        txn: Option<&ClientTxn>,
    ) -> Result<Versioned<Account>, AccountError> {
        self.merge_inner(target, source, checksum, txn, MergeFault::default()).await
    }

    #[cfg(feature = "fault-injection")]
    pub async fn merge_with_fault(
        &self,
        target: u64,
        source: u64,
        checksum: Option<&str>,
        txn: Option<&ClientTxn>,
        fault: MergeFault,
    ) -> Result<Versioned<Account>, AccountError> {
        self.merge_inner(target, source, checksum, txn, fault).await
    }

    async fn merge_inner(
        &self,
        target: u64,
        source: u64,
        checksum: Option<&str>,
        txn: Option<&ClientTxn>,
        fault: MergeFault,
    ) -> Result<Versioned<Account>, AccountError> {
        const SOURCE_FIELD: &str = "body.data.attributes.account.id";
        if target == source {
            return Err(AccountError::bad(SOURCE_FIELD, "An account cannot be merged into itself."));
        }
        let t = self.load(target).await?;
        if let Some(Versioned { value: r, .. }) = self.repo().merge_record(source).await? {
            if r.committed && r.target == target {
                // Committed before: finish the cleanup a crash may have cut short, whatever the
                // answer to this request.
                self.cleanup(source).await?;
                self.check_txn(txn).await?;
                return Ok(t);
            }
        }
        self.check_txn(txn).await?;
        let s = match self.repo().account(source).await? {
            Some(s) => s,
            None => {
                return Err(AccountError::bad(
                    SOURCE_FIELD,
                    format!("No account {} exists to merge.", format_id(source)),
                ))
            }
        };

        let (merge_id, t, s) = self.lock_or_resume(t, s, checksum).await?;
        let moved = self.copy(&t.value, source, &merge_id, fault).await?;
        let merged = self.commit_merge(t, s, &merge_id, moved, txn).await?;
        self.cleanup(source).await?;
        Ok(merged)
    }

    /// Both accounts locked for this merge: resumed when an interrupted run of the same merge
    /// locked them, locked now ([`Self::begin`]) when neither is, refused when either is part of
    /// another merge.
    async fn lock_or_resume(
        &self,
        t: Versioned<Account>,
        s: Versioned<Account>,
        checksum: Option<&str>,
    ) -> Result<(String, Versioned<Account>, Versioned<Account>), AccountError> {
        let (target, source) = (t.value.id, s.value.id);
        match (&t.value.merge, &s.value.merge) {
            (Some(a), Some(b)) if a == b && a.source == source && a.target == target => {
                // The same merge, interrupted: resume it.
                Ok((a.merge_id.clone(), t, s))
            }
            (None, None) => self.begin(t, s, checksum).await,
            _ => Err(AccountError::Conflict {
                message: format!(
                    "Account {} or {} is part of another merge in progress; complete that merge first.",
                    format_id(target),
                    format_id(source)
                ),
            }),
        }
    }

    /// Commit: the source disappears and the target shows everything, in one transaction (the
    /// target unlocked with its new counts and status, the merge record marked committed).
    async fn commit_merge(
        &self,
        t: Versioned<Account>,
        s: Versioned<Account>,
        merge_id: &str,
        moved: Moved,
        txn: Option<&ClientTxn>,
    ) -> Result<Versioned<Account>, AccountError> {
        let (target, source) = (t.value.id, s.value.id);
        let mut merged = t.value.clone();
        merged.merge = None;
        merged.contact_count += moved.contacts;
        merged.location_count += moved.locations;
        merged.policy_count += moved.policies;
        if moved.policies > 0 && merged.status == AccountStatus::Pending {
            merged.status = AccountStatus::Active;
        }
        merged.updated_at = self.now;
        let version = t.version + 1;
        let record_version = self.repo().merge_record(source).await?.map(|r| r.version).unwrap_or(0);
        let repo = self.repo();
        let mut writes = vec![
            repo.put_account(&merged, version, t.version)?,
            repo.delete_account(source, s.version),
            repo.put_merge_record(
                source,
                &MergeRecord { merge_id: merge_id.to_string(), target, committed: true },
                record_version + 1,
                Some(record_version),
            )?,
            repo.release_account_number(&s.value.number),
        ];
        // The source leaves the search index with the account.
        writes.extend(repo.index_changes(source, &super::terms::keys(&s.value), &Default::default()));
        let uri = account_uri(target);
        match self.commit(writes, txn.map(|x| (x, 200, uri.as_str()))).await {
            Ok(()) => Ok(Versioned { value: merged, version }),
            Err(AccountError::Conflicted(_)) | Err(AccountError::Store(StoreError::Contention)) => {
                Err(AccountError::Conflict {
                    message: "The accounts changed while merging; retry the merge to complete it.".into(),
                })
            }
            Err(e) => Err(e),
        }
    }

    /// Checks the merge rules and locks both accounts.
    async fn begin(
        &self,
        t: Versioned<Account>,
        s: Versioned<Account>,
        checksum: Option<&str>,
    ) -> Result<(String, Versioned<Account>, Versioned<Account>), AccountError> {
        if let Some(c) = checksum {
            if c != t.version.to_string() {
                return Err(AccountError::ChecksumMismatch {
                    supplied: c.to_string(),
                    current: t.version.to_string(),
                    uri: account_uri(t.value.id),
                });
            }
        }
        for a in [&t.value, &s.value] {
            require_status(a, "merge", &[AccountStatus::Pending, AccountStatus::Active])?;
        }
        if t.value.holder.subtype != s.value.holder.subtype {
            return Err(AccountError::bad_input(vec![Detail::at(
                "body.data.attributes.account.id",
                format!(
                    "The account holders must have the same contact subtype: target {} is {}, source {} is {}.",
                    format_id(t.value.id),
                    t.value.holder.subtype.code(),
                    format_id(s.value.id),
                    s.value.holder.subtype.code()
                ),
            )]));
        }
        let mut id = [0u8; 12];
        getrandom::fill(&mut id).map_err(|e| AccountError::internal(format!("random bytes: {e}")))?;
        let merge_id = hex::encode(id);
        let lock = MergeLock { merge_id: merge_id.clone(), source: s.value.id, target: t.value.id };
        let mut tl = t.value.clone();
        tl.merge = Some(lock.clone());
        let mut sl = s.value.clone();
        sl.merge = Some(lock);
        let repo = self.repo();
        let writes = vec![
            repo.put_account(&tl, t.version + 1, t.version)?,
            repo.put_account(&sl, s.version + 1, s.version)?,
            repo.put_merge_record(
                s.value.id,
                &MergeRecord { merge_id: merge_id.clone(), target: t.value.id, committed: false },
                1,
                None,
            )?,
        ];
        match repo.commit(writes).await? {
            Ok(()) => {}
            Err(Conflict::AccountChanged | Conflict::MergeChanged) => {
                return Err(AccountError::Conflict {
                    message: "One of the accounts changed while the merge began; read them again and retry.".into(),
                })
            }
            Err(c) => return Err(AccountError::Conflicted(c)),
        }
        Ok((merge_id, Versioned { value: tl, version: t.version + 1 }, Versioned { value: sl, version: s.version + 1 }))
    }

    /// Copies every child of the source under the target, marked with the merge id. Repeatable:
    /// a copy overwrites the copy an earlier attempt made.
    async fn copy(
        &self,
        target: &Account,
        source: u64,
        merge_id: &str,
        fault: MergeFault,
    ) -> Result<Moved, AccountError> {
        let mut moved = Moved::default();
        let mut after = None;
        let mut batches = 0;
        loop {
            let page = self.repo().children_page(source, None, after.as_ref(), COPY_BATCH).await?;
            let mut writes = Vec::with_capacity(page.items.len());
            for item in &page.items {
                let kind = item.sk.split('#').nth(1).and_then(ChildKind::from_key).ok_or_else(|| {
                    AccountError::Store(StoreError::Corrupt {
                        pk: item.pk.clone(),
                        sk: item.sk.clone(),
                        reason: "unknown child kind".into(),
                    })
                })?;
                let mut body = item.body.clone();
                body["pending_merge"] = Value::String(merge_id.to_string());
                match kind {
                    ChildKind::Contact => moved.contacts += 1,
                    ChildKind::Policy => moved.policies += 1,
                    ChildKind::Location => {
                        moved.locations += 1;
                        // Location codes number an account's locations: continue the target's.
                        body["data"]["code"] = Value::String((target.location_count + moved.locations).to_string());
                    }
                    _ => {}
                }
                writes.push(self.repo().copy_child(target.id, item, body));
            }
            if !writes.is_empty() {
                if let Err(c) = self.repo().commit(writes).await? {
                    return Err(AccountError::Conflicted(c));
                }
                batches += 1;
                if fault.stop_after_copy_batches == Some(batches) {
                    return Err(AccountError::internal("merge interrupted by a test fault"));
                }
            }
            match page.next {
                Some(c) => after = Some(c),
                None => return Ok(moved),
            }
        }
    }

    /// Deletes what is left of a merged source, 100 items a transaction.
    async fn cleanup(&self, source: u64) -> Result<(), AccountError> {
        loop {
            let page = self.repo().account_items(source, MAX_TRANSACT_ITEMS).await?;
            if page.items.is_empty() {
                return Ok(());
            }
            let writes = page.items.iter().map(|i| self.repo().delete_item(i)).collect();
            if let Err(c) = self.repo().commit(writes).await? {
                return Err(AccountError::Conflicted(c));
            }
        }
    }
}

#[derive(Default)]
struct Moved {
    contacts: u32,
    locations: u32,
    policies: u32,
}
