//! The servicing area's key table: how every key of the layout in [`super`] is spelled.

use chrono::{DateTime, Utc};

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
pub fn job_pk(team: &TeamId, pull: &str) -> String {
    format!("JOB#{team}#{pull}")
}
/// The team and pull of a job's partition key (`JOB#<team>#<pull>`), as a table stream names it.
pub fn job_of(pk: &str) -> Option<(TeamId, String)> {
    let (team, pull) = pk.strip_prefix("JOB#")?.split_once('#')?;
    (!team.is_empty() && !pull.is_empty()).then(|| (TeamId::new(team), pull.to_string()))
}
pub const JOB_SK: &str = "JOB";
pub const JOBS_INDEX: &str = "JOBS";
pub fn job_index_sk(due_ms: i64, team: &TeamId, pull: &str) -> String {
    format!("{:015}#{team}#{pull}", due_ms.max(0))
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
        assert_eq!(pull_pk(&t, "p"), "T#t1#P#p");
        assert_eq!(webhooks_pk(&t), "T#t1#WEBHOOKS");
        assert_eq!(job_pk(&t, "p"), "JOB#t1#p");
        assert_eq!(job_of(&job_pk(&t, "p")), Some((t.clone(), "p".to_string())));
        assert_eq!(job_index_sk(5, &t, "p"), "000000000000005#t1#p");
        assert_eq!(jobs_due_by(5), "000000000000005#~#~");
        assert_eq!(jobs_due_by(5), job_index_sk(5, &TeamId::new("~"), "~"));
    }
}
