//! Account operations over the store port. Each state change is one conditional transaction:
//! the account's version guards every read-check-write, and a client transaction id, when given,
//! is recorded in the same transaction so a retried request cannot act twice.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};

use super::error::{AccountError, Detail};
use super::input::contact_from;
use super::input::{AccountPatch, NewAccount};
use super::model::*;
pub use super::model::{account_uri, ClientTxn, Versioned};
use super::repo::{Named, Repo};
use super::terms::{self, PlaceTerms, Terms};
use super::TeamId;
use crate::store::{Store, StoreError};

/// How often an operation re-reads and retries when a concurrent writer got there first. With
/// jittered backoff between attempts, a dozen simultaneous writers on one account all get through;
/// past that, the client gets 503 with Retry-After.
const MAX_ATTEMPTS: usize = 16;

/// The attempts of an optimistic operation: [`Attempts::next`] waits (jittered backoff) before
/// every attempt but the first, and after [`MAX_ATTEMPTS`] gives up with busy (503).
pub(crate) struct Attempts(usize);

impl Attempts {
    pub(crate) fn new() -> Self {
        Attempts(0)
    }
    pub(crate) async fn next(&mut self) -> Result<(), AccountError> {
        if self.0 >= MAX_ATTEMPTS {
            return Err(AccountError::Store(StoreError::Contention));
        }
        if self.0 > 0 {
            // 2 ms doubling to 64 ms, plus up to 8 ms of jitter.
            crate::store::backoff(2, self.0 as u32 - 1, 5, 8).await;
        }
        self.0 += 1;
        Ok(())
    }
}

/// Whether a commit lost the optimistic race: an account changed because another writer got
/// there first, or the store saw contention. Read again and retry.
pub(crate) fn lost_race(e: &AccountError) -> bool {
    matches!(e, AccountError::Conflicted(Conflict::AccountChanged) | AccountError::Store(StoreError::Contention))
}

pub struct Accounts<'a> {
    pub store: &'a dyn Store,
    pub team: &'a TeamId,
    pub now: DateTime<Utc>,
}

#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub filters: Vec<super::filter::Filter>,
    /// Empty: creation order, read a page at a time; else every match is read, then sorted.
    pub sort: super::filter::Sort,
    pub page_size: usize,
    pub page_offset: usize,
    pub include_total: bool,
}

pub struct ListResult<T> {
    pub items: Vec<T>,
    pub has_more: bool,
    pub total: Option<usize>,
}

impl<'a> Accounts<'a> {
    pub fn new(store: &'a dyn Store, team: &'a TeamId) -> Self {
        Accounts { store, team, now: Utc::now() }
    }

    pub(crate) fn repo(&self) -> Repo<'a> {
        Repo { store: self.store, team: self.team }
    }

    /// Reads an account, or 404.
    pub async fn load(&self, n: u64) -> Result<Versioned<Account>, AccountError> {
        self.repo().account(n).await?.ok_or_else(|| AccountError::NotFound { uri: account_uri(n) })
    }

    /// Refuses a transaction id that was already used, before any work is done.
    pub(crate) async fn check_txn(&self, txn: Option<&ClientTxn>) -> Result<(), AccountError> {
        if let Some(t) = txn {
            if self.repo().transaction_used(&t.id).await? {
                return Err(AccountError::AlreadyExecuted { transaction_id: t.id.clone() });
            }
        }
        Ok(())
    }

    /// Runs a change, with the client transaction record when there is one (the id used
    /// meanwhile is 400 `AlreadyExecutedException`); any other failed condition comes back named.
    pub(crate) async fn commit(
        &self,
        mut writes: Vec<Named>,
        txn: Option<(&ClientTxn, u16, &str)>,
    ) -> Result<(), AccountError> {
        if let Some((t, status, uri)) = txn {
            writes.push(self.repo().record_transaction(t, status, uri, self.now));
        }
        match self.repo().commit(writes).await? {
            Ok(()) => Ok(()),
            Err(Conflict::TransactionIdUsed) => {
                Err(AccountError::AlreadyExecuted { transaction_id: txn.map(|t| t.0.id.clone()).unwrap_or_default() })
            }
            Err(c) => Err(AccountError::Conflicted(c)),
        }
    }

    pub(crate) fn check_checksum(&self, supplied: Option<&str>, current: u64, uri: &str) -> Result<(), AccountError> {
        match supplied {
            Some(s) if s != current.to_string() => Err(AccountError::ChecksumMismatch {
                supplied: s.to_string(),
                current: current.to_string(),
                uri: uri.to_string(),
            }),
            _ => Ok(()),
        }
    }

    pub(crate) fn not_merging(a: &Account) -> Result<(), AccountError> {
        match &a.merge {
            Some(m) => Err(AccountError::Conflict {
                message: format!(
                    "Account {} is part of a merge in progress (source {}, target {}); retry that merge to complete it.",
                    format_id(a.id),
                    format_id(m.source),
                    format_id(m.target)
                ),
            }),
            None => Ok(()),
        }
    }

    async fn new_account_number(&self) -> Result<String, AccountError> {
        let mut b = [0u8; 8];
        getrandom::fill(&mut b).map_err(|e| AccountError::internal(format!("random bytes: {e}")))?;
        let n = 1_000_000_000 + u64::from_le_bytes(b) % 9_000_000_000;
        Ok(n.to_string())
    }

    pub async fn create(&self, input: NewAccount, txn: Option<&ClientTxn>) -> Result<Versioned<Account>, AccountError> {
        self.check_txn(txn).await?;
        let id = self.repo().next_account_id().await?;
        let child = self.repo().next_child_ids(2).await?;
        let (contact_id, location_id) = (child, child + 1);
        let holder = contact_from(input.holder_subtype, input.holder, self.now);
        let location = Location { code: "1".into(), address: input.location, created_at: self.now };
        let uri = account_uri(id);
        for _ in 0..MAX_ATTEMPTS {
            let number = self.new_account_number().await?;
            let account = Account {
                id,
                number: number.clone(),
                status: AccountStatus::Pending,
                holder: HolderSummary { contact_id, subtype: holder.subtype, display_name: holder.display_name() },
                primary_location: LocationSummary { id: location_id, display_name: location.display_name() },
                organization_type: input.organization_type.clone(),
                producer_codes: input.producer_codes.clone(),
                coverage_currency: input.coverage_currency,
                settlement_currency: input.settlement_currency,
                business_operations_description: None,
                year_business_started: None,
                contact_count: 1,
                location_count: 1,
                policy_count: 0,
                created_at: self.now,
                updated_at: self.now,
                merge: None,
                search: Some(Terms::of(&holder, &location.address)),
            };
            let repo = self.repo();
            let mut writes = vec![
                repo.put_account(&account, 1, 0)?,
                repo.put_child(
                    id,
                    ChildKind::Contact,
                    &Stored { id: contact_id, pending_merge: None, data: holder.clone() },
                    1,
                    0,
                )?,
                repo.put_child(
                    id,
                    ChildKind::Location,
                    &Stored { id: location_id, pending_merge: None, data: location.clone() },
                    1,
                    0,
                )?,
                repo.claim_account_number(&number, id),
            ];
            writes.extend(repo.index_changes(id, &BTreeSet::new(), &terms::keys(&account)));
            match self.commit(writes, txn.map(|t| (t, 201, uri.as_str()))).await {
                Ok(()) => return Ok(Versioned { value: account, version: 1 }),
                // The random account number is taken: draw another.
                Err(AccountError::Conflicted(Conflict::AccountNumberTaken)) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(AccountError::internal("no free account number after several draws"))
    }

    /// Reads one account after another, in creation order, applying the filters; a sorted list
    /// reads every match first (the team's accounts, as `includeTotal` does), then pages.
    pub async fn list(&self, q: &ListQuery) -> Result<ListResult<Versioned<Account>>, AccountError> {
        if !q.sort.is_empty() {
            return self.list_sorted(q).await;
        }
        let mut out = ListResult { items: Vec::new(), has_more: false, total: None };
        let mut matched = 0usize;
        // The page and one more (to know whether another page follows), unless every account is
        // counted.
        let wanted =
            if q.include_total { usize::MAX } else { q.page_offset.saturating_add(q.page_size).saturating_add(1) };
        self.each_match(&q.filters, wanted, |a| {
            if matched >= q.page_offset {
                if out.items.len() < q.page_size {
                    out.items.push(a);
                } else {
                    out.has_more = true;
                }
            }
            matched += 1;
            !out.has_more || q.include_total
        })
        .await?;
        if q.include_total {
            out.total = Some(matched);
        }
        Ok(out)
    }

    /// A sorted page: every account of the team is read (a page of 200 at a time) and the
    /// filters applied; only the best `offset + size + 1` are kept (sorted and cut whenever
    /// twice that many are held), so memory follows the page asked for, not the team.
    async fn list_sorted(&self, q: &ListQuery) -> Result<ListResult<Versioned<Account>>, AccountError> {
        let keep = q.page_offset.saturating_add(q.page_size).saturating_add(1);
        let mut best: Vec<(super::filter::SortKey, Versioned<Account>)> = Vec::new();
        let mut matched = 0usize;
        self.each_match(&q.filters, usize::MAX, |a| {
            matched += 1;
            best.push((q.sort.key(&a.value), a));
            if best.len() >= keep.saturating_mul(2).max(1024) {
                best.sort_unstable_by(|x, y| x.0.cmp(&y.0));
                best.truncate(keep);
            }
            true
        })
        .await?;
        best.sort_unstable_by(|x, y| x.0.cmp(&y.0));
        let items: Vec<_> = best.into_iter().skip(q.page_offset).take(q.page_size).map(|(_, a)| a).collect();
        let has_more = q.page_offset.saturating_add(items.len()) < matched;
        Ok(ListResult { items, has_more, total: q.include_total.then_some(matched) })
    }

    /// Hands `visit` each account of the team that passes `filters`, in creation order, until
    /// `visit` answers false or none is left. Unfiltered, a page reads only the `wanted` accounts
    /// the caller can use (a list page of 25 at offset 0 reads 26 index items, not 200); filtered,
    /// pages of 200, as matches are sparse.
    async fn each_match(
        &self,
        filters: &[super::filter::Filter],
        wanted: usize,
        mut visit: impl FnMut(Versioned<Account>) -> bool,
    ) -> Result<(), AccountError> {
        let mut after = None;
        let mut read = 0usize;
        loop {
            let limit = if filters.is_empty() { wanted.saturating_sub(read).clamp(1, 1000) } else { 200 };
            let page = self.repo().accounts_page(after.as_ref(), limit).await?;
            read += page.items.len();
            for item in &page.items {
                let a: Account = item.decode()?;
                if filters.iter().all(|f| f.matches(&a)) && !visit(Versioned { value: a, version: item.version }) {
                    return Ok(());
                }
            }
            match page.next {
                Some(c) => after = Some(c),
                None => return Ok(()),
            }
        }
    }

    /// Re-reads and retries `f` while a concurrent writer changes the account under it. With a
    /// client checksum, a concurrent change is the client's conflict instead (409).
    pub(crate) async fn update_account<F>(
        &self,
        n: u64,
        checksum: Option<&str>,
        txn: Option<&ClientTxn>,
        mut f: F,
    ) -> Result<Versioned<Account>, AccountError>
    where
        F: FnMut(&mut Account) -> Result<Vec<Named>, AccountError>,
    {
        self.check_txn(txn).await?;
        let uri = account_uri(n);
        let mut attempts = Attempts::new();
        loop {
            attempts.next().await?;
            let current = self.load(n).await?;
            self.check_checksum(checksum, current.version, &uri)?;
            let mut a = current.value.clone();
            Self::not_merging(&a)?;
            if a.search.is_none() {
                a.search = Some(self.terms_of(&a).await?);
            }
            let mut writes = f(&mut a)?;
            a.updated_at = self.now;
            let version = current.version + 1;
            writes.insert(0, self.repo().put_account(&a, version, current.version)?);
            writes.extend(self.repo().index_changes(n, &terms::keys(&current.value), &terms::keys(&a)));
            match self.commit(writes, txn.map(|t| (t, 200, uri.as_str()))).await {
                Err(e) if lost_race(&e) => continue,
                done => return done.map(|()| Versioned { value: a, version }),
            }
        }
    }

    /// An upgrade's backfill: gives every account of the team stored before search existed its
    /// search terms and index entries, its version (the client's checksum) unchanged. An account
    /// in a merge is left for its next change. Returns how many were indexed.
    pub async fn index_missing(&self) -> Result<usize, AccountError> {
        let mut missing = Vec::new();
        self.each_match(&[], usize::MAX, |a| {
            if a.value.search.is_none() && a.value.merge.is_none() {
                missing.push(a.value.id);
            }
            true
        })
        .await?;
        let mut indexed = 0;
        for n in missing {
            let mut attempts = Attempts::new();
            loop {
                attempts.next().await?;
                // Merged away, indexed or locked meanwhile: nothing to do.
                let Some(current) = self.repo().account(n).await? else { break };
                if current.value.search.is_some() || current.value.merge.is_some() {
                    break;
                }
                let mut a = current.value.clone();
                a.search = Some(self.terms_of(&a).await?);
                let mut writes = vec![self.repo().put_account(&a, current.version, current.version)?];
                writes.extend(self.repo().index_changes(n, &BTreeSet::new(), &terms::keys(&a)));
                match self.commit(writes, None).await {
                    Err(e) if lost_race(&e) => continue,
                    done => {
                        done?;
                        indexed += 1;
                        break;
                    }
                }
            }
        }
        Ok(indexed)
    }

    /// The search terms of an account stored before search existed, from its holder and primary
    /// location (two reads, once: the account keeps them from its next write on).
    async fn terms_of(&self, a: &Account) -> Result<Terms, AccountError> {
        // The account is in hand: its two children are read by key (not through `get_child`,
        // which would read the account again for each).
        let missing = |what: &str| AccountError::internal(format!("account {} has no {what}", format_id(a.id)));
        let holder = self.repo().child::<Contact>(a.id, ChildKind::Contact, a.holder.contact_id).await?;
        let place = self.repo().child::<Location>(a.id, ChildKind::Location, a.primary_location.id).await?;
        let (holder, place) =
            (holder.ok_or_else(|| missing("holder contact"))?, place.ok_or_else(|| missing("primary location"))?);
        Ok(Terms::of(&holder.value.data, &place.value.data.address))
    }

    pub async fn patch(
        &self,
        n: u64,
        patch: AccountPatch,
        checksum: Option<&str>,
        txn: Option<&ClientTxn>,
    ) -> Result<Versioned<Account>, AccountError> {
        // The location named primary is read, and checked unchanged at commit: its address (the
        // account shows it) may be changed by a location PATCH meanwhile; then read it again.
        let mut attempts = Attempts::new();
        loop {
            attempts.next().await?;
            match self.patch_once(n, &patch, checksum, txn).await {
                Err(AccountError::Conflicted(Conflict::ChildChanged)) => continue,
                done => return done,
            }
        }
    }

    async fn patch_once(
        &self,
        n: u64,
        patch: &AccountPatch,
        checksum: Option<&str>,
        txn: Option<&ClientTxn>,
    ) -> Result<Versioned<Account>, AccountError> {
        let location = match patch.primary_location {
            Some(loc) => Some(self.get_child::<Location>(n, ChildKind::Location, loc).await.map(|(_, l)| l).map_err(
                |e| match e {
                    AccountError::NotFound { .. } => AccountError::bad(
                        "body.data.attributes.primaryLocation.id",
                        "is not a location of this account",
                    ),
                    other => other,
                },
            )?),
            None => None,
        };
        self.update_account(n, checksum, txn, |a| {
            if let Some(c) = patch.coverage_currency {
                a.coverage_currency = c;
            }
            if let Some(c) = patch.settlement_currency {
                a.settlement_currency = c;
            }
            if let Some(o) = &patch.organization_type {
                a.organization_type = Some(o.clone());
            }
            if let Some(p) = &patch.producer_codes {
                a.producer_codes = p.clone();
            }
            if let Some(d) = &patch.business_operations_description {
                a.business_operations_description = Some(d.clone());
            }
            if let Some(y) = patch.year_business_started {
                a.year_business_started = Some(y);
            }
            let mut writes = Vec::new();
            if let Some(loc) = &location {
                a.primary_location = LocationSummary { id: loc.value.id, display_name: loc.value.data.display_name() };
                if let Some(t) = a.search.as_mut() {
                    t.place = PlaceTerms::of(&loc.value.data.address);
                }
                writes.push(self.repo().check_child_at(n, ChildKind::Location, loc.value.id, loc.version));
            }
            Ok(writes)
        })
        .await
    }

    pub async fn withdraw(
        &self,
        n: u64,
        checksum: Option<&str>,
        txn: Option<&ClientTxn>,
    ) -> Result<Versioned<Account>, AccountError> {
        self.update_account(n, checksum, txn, |a| {
            require_status(a, "withdraw", &[AccountStatus::Pending])?;
            if a.policy_count > 0 {
                return Err(AccountError::bad_input(vec![Detail::new(format!(
                    "Account {} has {} policies; only an account without policies can be withdrawn.",
                    format_id(a.id),
                    a.policy_count
                ))]));
            }
            a.status = AccountStatus::Withdrawn;
            Ok(Vec::new())
        })
        .await
    }

    pub async fn reopen(
        &self,
        n: u64,
        checksum: Option<&str>,
        txn: Option<&ClientTxn>,
    ) -> Result<Versioned<Account>, AccountError> {
        self.update_account(n, checksum, txn, |a| {
            require_status(a, "reopen", &[AccountStatus::Withdrawn])?;
            a.status = AccountStatus::Pending;
            Ok(Vec::new())
        })
        .await
    }
}

/// The status rule of every action: the account's status must be one of `allowed`.
pub(crate) fn require_status(a: &Account, action: &'static str, allowed: &[AccountStatus]) -> Result<(), AccountError> {
    if allowed.contains(&a.status) {
        return Ok(());
    }
    Err(AccountError::WrongStatus {
        action,
        resource: format_id(a.id),
        current: a.status.code(),
        allowed: allowed.iter().map(|s| s.code()).collect(),
    })
}

pub(crate) fn refuse_if_withdrawn(a: &Account, action: &'static str) -> Result<(), AccountError> {
    require_status(a, action, &[AccountStatus::Pending, AccountStatus::Active])
}
