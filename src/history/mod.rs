//! Execution history on every node (DESIGN §6): the bridge between runs the scheduler
//! collects into the replicated KV and the history store (`forest_storage::history`), and the
//! queries on it.
//!
//! - [`materialize`]: every node copies collected runs into its store exactly once, and says
//!   how far it got;
//! - [`trim`]: the leader deletes the KV copies every member has;
//! - [`retention`]: old rows leave the store by age and by count per job;
//! - [`grpc`]: `forest.v1.History`, answered by any node from its own store;
//! - [`record`]: runs as store rows and as the API's JSON.

pub mod grpc;
mod materialize;
pub mod record;
mod retention;
mod trim;

use forest_storage::history::{Dialect, History};

use crate::kv::Kv;

pub use retention::Retention;

/// Starts this node's history duties.
pub fn start(kv: Kv, store: History, retention: Retention) {
    let shared = store.dialect() != Dialect::Sqlite;
    tokio::spawn(materialize::run(kv.clone(), store.clone(), shared));
    tokio::spawn(trim::run(kv.clone()));
    tokio::spawn(retention::run(kv, store, retention, shared));
}
