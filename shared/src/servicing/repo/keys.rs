//! The servicing area's key table: how every key of the layout in [`super`] is spelled.

use chrono::{DateTime, Utc};

use crate::servicing::model::Subject;
use crate::types::TeamId;

pub fn pull_pk(team: &TeamId, pull: &str) -> String {
    format!("T#{team}#P#{pull}")
}
pub const PULL_SK: &str = "PULL";
pub const CONSENT_SK: &str = "CONSENT";
pub const CRED_SK: &str = "CRED";
pub fn pulls_index(team: &TeamId) -> String {
    format!("T#{team}#PULLS")
}
pub fn pull_index_sk(created: DateTime<Utc>, pull: &str) -> String {
    format!("{}#{pull}", created.to_rfc3339())
}
pub const ACTION_PREFIX: &str = "SA#";
pub fn action_sk(position: u32) -> String {
    format!("SA#{position:03}")
}
pub fn action_pointer(team: &TeamId, id: &str) -> String {
    format!("T#{team}#SA#{id}")
}
pub const POINTER_SK: &str = "SA";
pub fn servicings_index(team: &TeamId) -> String {
    format!("T#{team}#SERVICINGS")
}
pub fn servicing_index_sk(created: DateTime<Utc>, position: u32, id: &str) -> String {
    format!("{}#{position:03}#{id}", created.to_rfc3339())
}
pub const EVENT_PREFIX: &str = "EV#";
pub fn event_sk(seq: u64) -> String {
    format!("EV#{seq:06}")
}
pub fn cursor_sk(webhook: &str) -> String {
    format!("WH#{webhook}")
}
pub const ATTEMPT_PREFIX: &str = "AT#";
pub fn attempt_sk(seq: u64, webhook: &str, micros: i64) -> String {
    format!("AT#{seq:06}#{webhook}#{micros:015}")
}
pub const REDELIVERY_PREFIX: &str = "RD#";
pub fn redelivery_sk(seq: u64, webhook: &str) -> String {
    format!("RD#{seq:06}#{webhook}")
}
pub fn webhooks_pk(team: &TeamId) -> String {
    format!("T#{team}#WEBHOOKS")
}
pub const WEBHOOK_PREFIX: &str = "WH#";
pub fn webhook_sk(id: &str) -> String {
    format!("WH#{id}")
}
/// The partition a subject's webhook events live in (with their delivery cursors, attempts and
/// redeliveries): the pull's, or the import batch's own (`import::repo` spells it too; a test
/// there checks the two agree).
pub fn events_pk(team: &TeamId, s: &Subject) -> String {
    match s {
        Subject::Pull(pull) => pull_pk(team, pull),
        Subject::Batch(batch) => format!("T#{team}#IMP#B#{batch}"),
    }
}
/// What follows the team in a job's keys: the pull id, or `IMP#B#<batch>`.
fn job_tail(s: &Subject) -> String {
    match s {
        Subject::Pull(pull) => pull.clone(),
        Subject::Batch(batch) => format!("IMP#B#{batch}"),
    }
}
pub fn job_pk(team: &TeamId, s: &Subject) -> String {
    format!("JOB#{team}#{}", job_tail(s))
}
/// The team and subject of a job's partition key (`JOB#<team>#<pull>`, `JOB#<team>#IMP#B#<batch>`),
/// as a table stream names it.
pub fn job_of(pk: &str) -> Option<(TeamId, Subject)> {
    let (team, rest) = pk.strip_prefix("JOB#")?.split_once('#')?;
    let subject = match rest.strip_prefix("IMP#B#") {
        Some(batch) => Subject::Batch(batch.to_string()),
        None => Subject::Pull(rest.to_string()),
    };
    (!team.is_empty() && !subject.id().is_empty()).then(|| (TeamId::new(team), subject))
}
pub const JOB_SK: &str = "JOB";
pub const JOBS_INDEX: &str = "JOBS";
pub fn job_index_sk(due_ms: i64, team: &TeamId, s: &Subject) -> String {
    format!("{:015}#{team}#{}", due_ms.max(0), job_tail(s))
}
/// The bound of the jobs due by `due_ms` in the job index (`~` sorts after the characters of team
/// and pull ids).
pub fn jobs_due_by(due_ms: i64) -> String {
    format!("{:015}#~#~", due_ms.max(0))
}
pub fn sandbox_account(team: &TeamId, digest: &str) -> String {
    format!("T#{team}#SANDBOX#{digest}")
}
pub const SANDBOX_SK: &str = "S";
/// A connect token, under the hex SHA-256 digest of its text (the text itself is never stored).
pub fn connect_token(team: &TeamId, digest: &str) -> String {
    format!("T#{team}#CT#{digest}")
}
pub const CONNECT_TOKEN_SK: &str = "CT";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn team_keys_are_spelled_with_the_bare_team_id() {
        let t = TeamId::new("t1");
        let (p, b) = (Subject::Pull("p".into()), Subject::Batch("b".into()));
        assert_eq!(pull_pk(&t, "p"), "T#t1#P#p");
        assert_eq!(events_pk(&t, &p), "T#t1#P#p");
        assert_eq!(events_pk(&t, &b), "T#t1#IMP#B#b");
        assert_eq!(webhooks_pk(&t), "T#t1#WEBHOOKS");
        assert_eq!(job_pk(&t, &p), "JOB#t1#p");
        assert_eq!(job_pk(&t, &b), "JOB#t1#IMP#B#b");
        assert_eq!(job_of(&job_pk(&t, &p)), Some((t.clone(), p.clone())));
        assert_eq!(job_of(&job_pk(&t, &b)), Some((t.clone(), b.clone())));
        assert_eq!(job_of("JOB#t1#IMP#B#"), None);
        assert_eq!(job_index_sk(5, &t, &p), "000000000000005#t1#p");
        assert_eq!(job_index_sk(5, &t, &b), "000000000000005#t1#IMP#B#b");
        assert_eq!(jobs_due_by(5), "000000000000005#~#~");
        assert_eq!(jobs_due_by(5), job_index_sk(5, &TeamId::new("~"), &Subject::Pull("~".into())));
    }
}
