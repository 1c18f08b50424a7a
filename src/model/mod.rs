//! The vocabulary every layer above kv shares: the original forest's key layout and JSON.
//!
//! Kept free of any other Forest module so any layer may use it (DESIGN §1).
//!
//! - [`keys`]: the `/forest/...` key layout, byte for byte the original's (forest-compat §1),
//!   plus Forest's own prefixes, and parsers for keys that come from clients.
//! - [`job`]: [`JobConf`] and [`GroupConf`], the original's fields and JSON names, plus the
//!   optional per-job settings Forest adds (time zone, misfire, concurrency, retries, routing…).
//! - [`snapshot`]: [`JobSnapshot`] (pending work) and [`JobExecuteSnapshot`] (a run's report),
//!   with the original's execution status codes and Forest's new ones.
//! - [`ids`]: the original's serial numbers and Forest's deterministic snapshot ids.
//! - [`worker`]: [`WorkerInfo`], a streamed worker's details beside its registry key.
//! - [`json`]: reading and writing these values the way the original's Go code did.

pub mod ids;
pub mod job;
pub mod json;
pub mod keys;
pub mod plan;
pub mod snapshot;
pub mod worker;

pub use ids::SnapshotId;
pub use job::{GroupConf, JobConf};
pub use json::WireJson;
pub use snapshot::{ExecuteStatus, JobExecuteSnapshot, JobSnapshot};
pub use worker::WorkerInfo;

/// What is wrong with a value of this vocabulary: which field, and why.
///
/// The message names the JSON field (as a client wrote it) so an API can hand it back as is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    #[error("{field}: {reason}")]
    Invalid {
        /// The JSON name of the offending field (e.g. `name`, `retries.count`).
        field: &'static str,
        reason: String,
    },
}

impl ModelError {
    pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        ModelError::Invalid {
            field,
            reason: reason.into(),
        }
    }
}
