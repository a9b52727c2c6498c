//! The two account searches: the accounts that have every one of a search's index keys are found
//! by walking the keys' index partitions together, in account order (a merge join that seeks
//! past ids one key lacks), then read and checked whole against the search.
//!
//! Cost of one search: one query per key for every 1,000 accounts holding it (the first reads
//! at most 100), plus one read per account shown. A structured search also reads the accounts
//! it finds before the page asked (each is checked whole); with `includeTotal`, every account it
//! finds. A free-text search's keys are its rule, so those are counted without a read.

use std::collections::{BTreeSet, VecDeque};

use super::error::AccountError;
use super::model::{Account, Versioned};
use super::repo::Repo;
use super::service::{Accounts, ListResult};
use super::terms::{Criteria, FreeText};
use crate::store::{StoreError, MAX_PAGE};

/// What a search finds accounts by.
#[derive(Debug, Clone)]
pub enum Search {
    Criteria(Box<Criteria>),
    FreeText(FreeText),
}

impl Search {
    fn keys(&self) -> BTreeSet<String> {
        match self {
            Search::Criteria(c) => c.keys(),
            Search::FreeText(f) => f.keys(),
        }
    }

    fn matches(&self, a: &Account) -> bool {
        match self {
            Search::Criteria(c) => c.matches(a),
            Search::FreeText(f) => f.matches(a),
        }
    }

    /// Whether having every key is the match itself (free text), so an account found outside
    /// the page is counted without reading it.
    fn keys_decide(&self) -> bool {
        matches!(self, Search::FreeText(_))
    }
}

/// The first page read of a key's partition; later pages read [`MAX_PAGE`].
const FIRST_PAGE: usize = 100;

impl<'a> Accounts<'a> {
    /// One page of the accounts a search finds, in creation order.
    pub async fn search(
        &self,
        search: &Search,
        page_size: usize,
        page_offset: usize,
        include_total: bool,
    ) -> Result<ListResult<Versioned<Account>>, AccountError> {
        let mut join = Join::new(self.repo(), search.keys());
        let mut out = ListResult { items: Vec::new(), has_more: false, total: None };
        let window_end = page_offset.saturating_add(page_size);
        let mut matched = 0usize;
        while let Some(id) = join.next().await? {
            let in_window = matched >= page_offset && matched < window_end;
            if in_window {
                if let Some(a) = self.repo().account(id).await?.filter(|a| search.matches(&a.value)) {
                    out.items.push(a);
                    matched += 1;
                }
                continue;
            }
            let is_match =
                search.keys_decide() || self.repo().account(id).await?.is_some_and(|a| search.matches(&a.value));
            if is_match {
                matched += 1;
                if matched > window_end {
                    out.has_more = true;
                    if !include_total {
                        break;
                    }
                }
            }
        }
        out.total = include_total.then_some(matched);
        Ok(out)
    }
}

/// One key's partition being walked.
struct Partition {
    key: String,
    ids: VecDeque<u64>,
    /// The highest id read so far.
    read_to: u64,
    more: bool,
    pages: usize,
}

/// The ids every key's partition holds, in ascending order.
struct Join<'a> {
    repo: Repo<'a>,
    parts: Vec<Partition>,
    /// The lowest id the next answer may be.
    floor: u64,
}

impl<'a> Join<'a> {
    fn new(repo: Repo<'a>, keys: BTreeSet<String>) -> Self {
        let parts =
            keys.into_iter().map(|key| Partition { key, ids: VecDeque::new(), read_to: 0, more: true, pages: 0 });
        Join { repo, parts: parts.collect(), floor: 1 }
    }

    async fn next(&mut self) -> Result<Option<u64>, StoreError> {
        if self.parts.is_empty() {
            return Ok(None);
        }
        let mut target = self.floor;
        loop {
            let mut agreed = true;
            for i in 0..self.parts.len() {
                match self.first_from(i, target).await? {
                    None => return Ok(None),
                    Some(h) if h > target => {
                        target = h;
                        agreed = false;
                    }
                    Some(_) => {}
                }
            }
            if agreed {
                self.floor = target + 1;
                return Ok(Some(target));
            }
        }
    }

    /// The first id of partition `i` at or above `target`, reading on (from `target`, past
    /// what lies below it) as needed.
    async fn first_from(&mut self, i: usize, target: u64) -> Result<Option<u64>, StoreError> {
        let repo = self.repo;
        let p = &mut self.parts[i];
        loop {
            while p.ids.front().is_some_and(|&h| h < target) {
                p.ids.pop_front();
            }
            if let Some(&h) = p.ids.front() {
                return Ok(Some(h));
            }
            if !p.more {
                return Ok(None);
            }
            let above = target.saturating_sub(1).max(p.read_to);
            let limit = if p.pages == 0 { FIRST_PAGE } else { MAX_PAGE };
            let (ids, more) = repo.found(&p.key, above, limit).await?;
            p.pages += 1;
            p.more = more;
            p.read_to = ids.last().copied().unwrap_or(above);
            p.ids = ids.into();
        }
    }
}
