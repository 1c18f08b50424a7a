//! forest-storage: everything Forest keeps on disk.
//!
//! A node's data directory holds one sled database with two parts:
//! - [`log::LogStore`]: the Raft log, vote and committed index. An append is acknowledged to
//!   openraft only after it is flushed; concurrent appends share one flush (group commit).
//! - [`state::StateMachine`]: the replicated key-value store with etcd's model (a global
//!   revision, per-key create/mod revision, version and lease; compare-and-swap transactions;
//!   leases; a retained window of change events for watches). Each Raft entry is applied in one
//!   atomic sled batch together with `last_applied`, so a crash never loses or doubles an apply.
//!
//! Beside it, [`history::History`] keeps the execution history (every run's record) in SQLite,
//! MySQL or PostgreSQL through sqlx, in the original forest's `job_execute_snapshot` table.
//!
//! This crate knows nothing of networking, scheduling or HTTP: it is driven by openraft in
//! `forest::cluster` and read by `forest::kv`.

pub mod pb {
    //! The `forest.kv.v1` messages: the public KV API and the Raft commands at once.
    include!(concat!(env!("OUT_DIR"), "/forest.kv.v1.rs"));
}

mod codec;
mod error;
pub mod history;
pub mod log;
mod open;
pub mod state;
mod types;

pub use error::{ApplyError, OpenError, ReadError};
pub use open::{open, Identity, Store};
pub use types::{Command, Node, NodeId, Reply, Response, TypeConfig};
