//! The worker's job items: one per subject (a pull, an import batch) with work to do, due at a
//! time and leased to one worker.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{encode, keys, Conflict, Named, Repo};
use crate::servicing::model::Subject;
use crate::store::{Cond, Item, Store, StoreError, Write};
use crate::types::TeamId;

/// A subject's worker job: due at `due_ms`, leased to a worker until `lease_until_ms`. Stored as
/// `{team_id, pull_id | batch_id, due_ms, lease_until_ms}` (a pull's job as before batches had
/// any).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Job {
    pub team_id: TeamId,
    #[serde(flatten)]
    pub subject: Subject,
    pub due_ms: i64,
    pub lease_until_ms: i64,
}

/// The jobs due by `now`, from one page of the job index (a later sweep takes the rest).
pub(crate) async fn due_jobs(store: &dyn Store, now: DateTime<Utc>) -> Result<Vec<Job>, StoreError> {
    let limit = keys::jobs_due_by(now.timestamp_millis());
    let page = store.query_index(keys::JOBS_INDEX, None, 200).await?;
    page.items.iter().filter(|i| i.index.as_ref().is_some_and(|x| x.sk <= limit)).map(Item::decode).collect()
}

/// The poke of a subject's job (see [`Repo::poke_job`]), for a transaction of another area.
pub(crate) fn poke(team: &TeamId, s: &Subject, due: DateTime<Utc>) -> Write {
    let due_ms = due.timestamp_millis();
    let version = (Utc::now().timestamp_micros().max(1) as u64) | (1 << 62);
    let job = Job { team_id: team.clone(), subject: s.clone(), due_ms, lease_until_ms: 0 };
    Write::Put { item: job_item(&job, version, due_ms), cond: Cond::Any }
}

fn job_item(job: &Job, version: u64, listed_ms: i64) -> Item {
    Item::new(keys::job_pk(&job.team_id, &job.subject), keys::JOB_SK, version, encode(job))
        .with_index(keys::JOBS_INDEX, keys::job_index_sk(listed_ms, &job.team_id, &job.subject))
}

impl Repo<'_> {
    /// A subject's worker job and its version.
    pub async fn job(&self, s: &Subject) -> Result<Option<(Job, u64)>, StoreError> {
        self.get(&keys::job_pk(self.team, s), keys::JOB_SK).await
    }

    /// Pokes a subject's job: due at `due`, unleased, at a version no claim can be holding, so a
    /// poke always wins over a claim (whose reschedule then fails and leaves the poked job).
    pub fn poke_job(&self, s: &Subject, due: DateTime<Utc>) -> Named {
        Named { write: poke(self.team, s, due), conflict: Conflict::JobChanged }
    }

    /// Claims a job read at `read` until `lease_until` (listed as due then, should the worker die).
    pub fn claim_job(&self, job: &Job, read: u64, lease_until: DateTime<Utc>) -> Named {
        let ms = lease_until.timestamp_millis();
        let claimed = Job { lease_until_ms: ms, ..job.clone() };
        Named {
            write: Write::Put { item: job_item(&claimed, read + 1, ms), cond: Cond::Version(read) },
            conflict: Conflict::JobChanged,
        }
    }

    /// Hands back the job claimed at `claimed`, due again at `due`.
    pub fn reschedule_job(&self, s: &Subject, claimed: u64, due: DateTime<Utc>) -> Named {
        let due_ms = due.timestamp_millis();
        let job = Job { team_id: self.team.clone(), subject: s.clone(), due_ms, lease_until_ms: 0 };
        Named {
            write: Write::Put { item: job_item(&job, claimed + 1, due_ms), cond: Cond::Version(claimed) },
            conflict: Conflict::JobChanged,
        }
    }

    /// Removes the job claimed at `claimed`: nothing left to do.
    pub fn finish_job(&self, s: &Subject, claimed: u64) -> Named {
        Named {
            write: Write::Delete {
                pk: keys::job_pk(self.team, s),
                sk: keys::JOB_SK.into(),
                cond: Cond::Version(claimed),
            },
            conflict: Conflict::JobChanged,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_names_its_pull_or_its_batch_and_reads_the_jobs_stored_before_batches() {
        let job = Job { team_id: TeamId::new("t"), subject: Subject::Batch("b".into()), due_ms: 5, lease_until_ms: 0 };
        let v = serde_json::to_value(&job).unwrap();
        assert_eq!(v, serde_json::json!({"team_id": "t", "batch_id": "b", "due_ms": 5, "lease_until_ms": 0}));
        let old = serde_json::json!({"team_id": "t", "pull_id": "p", "due_ms": 5, "lease_until_ms": 0});
        let read: Job = serde_json::from_value(old).unwrap();
        assert_eq!(read.subject, Subject::Pull("p".into()));
    }
}
