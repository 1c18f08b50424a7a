//! What can go wrong at the KV door, and how each failure reaches a gRPC client.

use forest_storage::{ApplyError, ReadError, Reply};
use tonic::Status;

use crate::cluster::ClusterError;

#[derive(Debug, thiserror::Error)]
pub enum KvError {
    #[error("{0}")]
    InvalidArgument(String),
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
    pub fn invalid(msg: impl Into<String>) -> Self {
        KvError::InvalidArgument(msg.into())
    }

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
            KvError::Rejected(ApplyError::LeaseNotFound(_)) => Status::not_found(msg),
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
