//! The account domain of seed 001: accounts, their children, the status machine and the merge.
//!
//! Everything is scoped by team: every key starts with `T#<team>`, so one team's requests can
//! never name another team's items. Key layout (one table):
//!
//! | item | pk | sk | index (gsi1) |
//! |---|---|---|---|
//! | account | `T#<team>#A#<n>` | `ACCOUNT` | `T#<team>#ACCOUNTS` / `<n:012>` |
//! | child (contact, location, note, policy, job, activity) | `T#<team>#A#<n>` | `CH#<kind>#<id:012>` | - |
//! | id counters | `T#<team>` | `SEQ#account`, `SEQ#child` | - |
//! | account-number guard | `T#<team>#ACCTNO#<number>` | `U` | - |
//! | policy-number guard | `T#<team>#POLNO#<number>` | `U` | - |
//! | client transaction id | `T#<team>#TXN#<id>` | `TXN` | - |
//! | merge record | `T#<team>#MERGE#<source n>` | `M` | - |

pub mod error;
pub mod input;
pub mod merge;
pub mod model;
pub mod online;
pub mod render;
pub mod service;

pub use error::{AccountError, Detail};
pub use model::*;
pub use service::{Accounts, ListQuery, ListResult};

pub use crate::types::TeamId;

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
    pub fn child_prefix(kind: ChildKind) -> String {
        format!("CH#{}#", kind.key())
    }
    pub fn child_sk(kind: ChildKind, id: u64) -> String {
        format!("CH#{}#{id:012}", kind.key())
    }
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
}
