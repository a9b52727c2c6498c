//! Coverdesk: the domain crate shared by every Lambda function, the local server and the tests.
//!
//! - [`store`]: the storage port and its DynamoDB and embedded adapters.
//! - [`accounts`]: the account domain (seed 001): rules, status machine, merge, validation.
//! - [`auth`]: teams and their credentials.
//! - [`servicing`]: servicing pulls (seed 000): consent, carriers, actions, the worker, webhooks.
//! - [`crypto`]: sealing secrets at rest, pull tokens, webhook signatures, password hashes.
//! - [`api`]: HTTP handlers over plain requests, the route table, the error envelope.
//! - [`lambda`] and [`local`]: the two ways the handlers are served.
#![recursion_limit = "256"] // serde_json::json! of a whole filing-service transaction in tests

pub mod accounts;
pub mod api;
pub mod auth;
pub mod cause;
pub mod crypto;
pub mod deps;
pub mod examples;
pub mod fetch;
pub mod fields;
pub mod import;
pub mod json;
pub mod metrics;
pub mod net;
pub mod objects;
pub mod servicing;
pub mod spool;
pub mod store;
pub mod types;

/// What the unit tests share.
#[cfg(test)]
pub(crate) mod testing {
    /// A xorshift generator from `seed` (not zero): the same numbers every run, for tests that
    /// compare two readings on many generated inputs.
    pub fn xorshift(seed: u64) -> impl FnMut() -> u64 {
        let mut x = seed;
        move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        }
    }
}
