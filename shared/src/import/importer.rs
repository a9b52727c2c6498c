//! What an import runs with: the ports it is built from ([`Imports`]), one team's [`Importer`],
//! one [`Run`] of it, and what became of each transaction read ([`Outcome`]).

use crate::types::TeamId;
use std::path::PathBuf;
use std::sync::Arc;

use super::model::TxnResult;
use super::repo::ImportRepo;
use crate::fetch::{DocumentFetcher, FetchLimits};
use crate::objects::ObjectStore;
use crate::store::Store;

/// What an import uses from outside: the ports, the fetcher's limits, where it spools, and the
/// largest upload it reads. The entry points build it (`Deps::imports`); the area never sees them.
#[derive(Clone)]
pub struct Imports {
    pub store: Arc<dyn Store>,
    pub objects: Arc<dyn ObjectStore>,
    pub fetcher: Arc<dyn DocumentFetcher>,
    pub limits: FetchLimits,
    pub spool: PathBuf,
    pub max_upload_bytes: u64,
}

impl Imports {
    /// The importer of `team`'s transactions.
    pub fn importer(&self, team: &TeamId) -> Importer {
        Importer { ports: self.clone(), team: team.clone() }
    }
}

/// One run of an import: the batch, where it came from (`api`, `s3://bucket/key`), and whom to
/// tell how far it got (`progress(done, total)`).
#[derive(Clone, Copy)]
pub struct Run<'r> {
    pub batch_id: &'r str,
    pub source: &'r str,
    pub progress: &'r (dyn Fn(usize, usize) + Send + Sync),
}

/// One team's import: the ports it works through (their `limits` hold each document's attempts
/// and, inside a request, the batch's time budget) and whose transactions they are.
#[derive(Clone)]
pub struct Importer {
    pub ports: Imports,
    pub team: TeamId,
}

pub(super) enum Outcome {
    Rejected(TxnResult),
    Accepted(Box<super::transaction::Accepted>),
    /// Imported earlier by this very batch (a rerun).
    Done(TxnResult),
}

impl Importer {
    pub(super) fn repo(&self) -> ImportRepo {
        ImportRepo::new(self.ports.store.clone(), &self.team)
    }
}
