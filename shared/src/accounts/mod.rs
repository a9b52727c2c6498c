//! The account domain of seed 001: accounts, their children, the status machine and the merge.
//!
//! Keys, items and writes live in [`repo`], which names what a failed condition means.

pub mod children;
pub mod error;
pub mod filter;
pub mod input;
pub mod merge;
pub mod model;
pub mod online;
pub mod render;
pub mod repo;
pub mod search;
pub mod service;
pub mod terms;

pub use error::{AccountError, Detail};
pub use model::*;
pub use service::{Accounts, ListQuery, ListResult};

pub use crate::types::TeamId;
