//! Surplus-lines transaction import (seed 002): batches of policy transactions, validated field by
//! field, taxed by effective-dated state rules, answered per transaction with the seed's status
//! codes.

pub mod rules;
pub mod service;
pub mod transaction;
pub mod upload;
