//! What can go wrong at the KV door, and how each failure reaches a gRPC client.

use forest_storage::{ApplyError, ReadError, Reply};
use tonic::Status;

use super::{MAX_KEY_BYTES, MAX_LEASE_TTL, MAX_TXN_OPS, MAX_VALUE_BYTES};
use crate::cluster::ClusterError;

/// Why a request was refused before anything was proposed. One variant per rule, so that a
/// front end (the etcd adapter) can answer each with its own protocol's error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Invalid {
    #[error("key is empty")]
    EmptyKey,
    #[error("key is {0} bytes; the limit is {MAX_KEY_BYTES}")]
    KeyTooLong(usize),
    #[error("value is {0} bytes; the limit is {MAX_VALUE_BYTES}")]
    ValueTooLarge(usize),
    #[error("limit must not be negative")]
    NegativeLimit,
    #[error("lease id must not be negative")]
    NegativeLease,
    #[error("lease TTL must be 1..={MAX_LEASE_TTL} seconds, not {0}")]
    LeaseTtl(i64),
    #[error("a put with ignore_value must not carry a value")]
    ValueProvided,
    #[error("a put with ignore_lease must not carry a lease")]
    LeaseProvided,
    #[error("txn has {0} operations; the limit is {MAX_TXN_OPS}")]
    TooManyOps(usize),
    #[error("duplicate key given in txn request")]
    DuplicateKey,
    #[error("a range inside a txn reads the txn's own state; it takes no revision")]
    RevisionInTxn,
    #[error("txn operation is empty")]
    EmptyOp,
}

#[derive(Debug, thiserror::Error)]
pub enum KvError {
    #[error(transparent)]
    InvalidArgument(#[from] Invalid),
    #[error(transparent)]
    Rejected(#[from] ApplyError),
    #[error(transparent)]
    Cluster(#[from] ClusterError),
    #[error("{0}")]
    Internal(String),
    /// An answer relayed from the leader as it was given.
    #[error("{}", .0.message())]
    Remote(Status),
}

impl KvError {
    /// Whether the lease (or key) asked for does not exist, here or at the leader.
    pub fn is_not_found(&self) -> bool {
        match self {
            KvError::Rejected(ApplyError::LeaseNotFound(_)) => true,
            KvError::Remote(s) => s.code() == tonic::Code::NotFound,
            _ => false,
        }
    }

    pub fn unexpected(reply: Reply) -> Self {
        KvError::Internal(format!("unexpected reply {reply:?}"))
    }
}

impl From<ReadError> for KvError {
    fn from(e: ReadError) -> Self {
        match e {
            ReadError::Rejected(e) => KvError::Rejected(e),
            ReadError::Storage(s) => KvError::Internal(s),
        }
    }
}

impl From<KvError> for Status {
    fn from(e: KvError) -> Status {
        let msg = e.to_string();
        match e {
            KvError::Remote(status) => status,
            KvError::InvalidArgument(_) => Status::invalid_argument(msg),
            KvError::Rejected(ApplyError::LeaseNotFound(_) | ApplyError::KeyNotFound) => {
                Status::not_found(msg)
            }
            KvError::Rejected(ApplyError::LeaseExists(_)) => Status::already_exists(msg),
            KvError::Rejected(ApplyError::Compacted { .. } | ApplyError::FutureRevision { .. }) => {
                Status::out_of_range(msg)
            }
            KvError::Cluster(ClusterError::NoLeader(_) | ClusterError::NotLeader) => {
                Status::unavailable(msg)
            }
            KvError::Cluster(ClusterError::Unknown(_)) => Status::unknown(msg),
            KvError::Cluster(_) | KvError::Internal(_) => Status::internal(msg),
        }
    }
}
