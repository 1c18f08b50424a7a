//! Errors of the storage layer.

use serde::{Deserialize, Serialize};

/// Why a command was rejected when applied. Part of the replicated outcome, so it is data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum ApplyError {
    #[error("lease {0} not found")]
    LeaseNotFound(i64),
    #[error("lease {0} already exists")]
    LeaseExists(i64),
    /// A put that keeps the key's value or lease (ignore_value / ignore_lease) found no key.
    #[error("key not found")]
    KeyNotFound,
    #[error("revision {requested} has been compacted (compacted up to {compacted})")]
    Compacted { requested: i64, compacted: i64 },
    #[error("revision {requested} is a future revision (current {current})")]
    FutureRevision { requested: i64, current: i64 },
}

/// Why a data directory could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("cannot open the database in {path}: {source}")]
    Db { path: String, source: sled::Error },
    #[error("the data directory {path} belongs to {found}, not to {expected}")]
    WrongIdentity {
        path: String,
        found: String,
        expected: String,
    },
    #[error("the data directory {path} is damaged: {reason}")]
    Corrupt { path: String, reason: String },
}

/// Why a read of the applied state failed.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error(transparent)]
    Rejected(#[from] ApplyError),
    #[error("storage failure: {0}")]
    Storage(String),
}
