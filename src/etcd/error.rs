//! Refusals as etcd words them. etcd's clients recognise a server error by its exact message
//! (clientv3 maps it back to a typed error such as `rpctypes.ErrLeaseNotFound`) and decide
//! whether to retry by its code, so each Forest refusal answers with the status etcd gives in
//! the same situation. What Forest does not support answers Unimplemented, never a wrong
//! answer.

use forest_storage::ApplyError;
use tonic::{Code, Status};

use crate::cluster::ClusterError;
use crate::kv::{Invalid, KvError};

pub const EMPTY_KEY: &str = "etcdserver: key is not provided";
pub const KEY_NOT_FOUND: &str = "etcdserver: key not found";
pub const DUPLICATE_KEY: &str = "etcdserver: duplicate key given in txn request";
pub const LEASE_NOT_FOUND: &str = "etcdserver: requested lease not found";
pub const AUTH_NOT_ENABLED: &str = "etcdserver: authentication is not enabled";
pub const NO_LEADER: &str = "etcdserver: no leader";
/// A watch asked for an empty range (etcd's mvcc says so in the cancel reason).
pub const EMPTY_WATCH_RANGE: &str = "mvcc: watcher range is empty";
/// A watch asked for an id the stream already uses.
pub const DUPLICATE_WATCH_ID: &str = "mvcc: duplicate watch ID provided on the WatchStream";

/// etcd's status for a refusal of Forest's KV.
pub fn status(e: KvError) -> Status {
    tracing::debug!(error = %e, "etcd request refused");
    match e {
        KvError::InvalidArgument(invalid) => match invalid {
            Invalid::EmptyKey => Status::invalid_argument(EMPTY_KEY),
            Invalid::KeyTooLong(_) | Invalid::ValueTooLarge(_) => {
                Status::invalid_argument("etcdserver: request is too large")
            }
            Invalid::ValueProvided => Status::invalid_argument("etcdserver: value is provided"),
            Invalid::LeaseProvided => Status::invalid_argument("etcdserver: lease is provided"),
            Invalid::TooManyOps(_) => {
                Status::invalid_argument("etcdserver: too many operations in txn request")
            }
            Invalid::DuplicateKey => Status::invalid_argument(DUPLICATE_KEY),
            // etcd's answer to a transaction operation that is none of its kinds.
            Invalid::EmptyOp => Status::invalid_argument(KEY_NOT_FOUND),
            // No lease has a negative id.
            Invalid::NegativeLease => Status::not_found(LEASE_NOT_FOUND),
            // The adapter raises shorter TTLs to the minimum, so only a too large one is left.
            Invalid::LeaseTtl(_) => Status::out_of_range("etcdserver: too large lease TTL"),
            // etcd reads a past revision inside a transaction; Forest does not.
            Invalid::RevisionInTxn => Status::unimplemented(invalid.to_string()),
            // The adapter reads a negative limit as none, as etcd does: never reached.
            Invalid::NegativeLimit => Status::invalid_argument(invalid.to_string()),
        },
        KvError::Rejected(rejected) => match rejected {
            ApplyError::LeaseNotFound(_) => Status::not_found(LEASE_NOT_FOUND),
            ApplyError::LeaseExists(_) => {
                Status::failed_precondition("etcdserver: lease already exists")
            }
            ApplyError::KeyNotFound => Status::invalid_argument(KEY_NOT_FOUND),
            ApplyError::Compacted { .. } => {
                Status::out_of_range("etcdserver: mvcc: required revision has been compacted")
            }
            ApplyError::FutureRevision { .. } => {
                Status::out_of_range("etcdserver: mvcc: required revision is a future revision")
            }
        },
        KvError::Cluster(ClusterError::NoLeader(_)) => Status::unavailable(NO_LEADER),
        KvError::Cluster(ClusterError::NotLeader) => {
            Status::failed_precondition("etcdserver: not leader")
        }
        // The write may or may not have been committed: etcd's words for that.
        KvError::Cluster(ClusterError::Unknown(_)) => {
            Status::unavailable("etcdserver: request timed out")
        }
        // The leader's own answer, relayed: Forest's words, etcd's meaning by code.
        KvError::Remote(s) if s.code() == Code::NotFound => Status::not_found(LEASE_NOT_FOUND),
        KvError::Remote(s) => s,
        // etcd answers an error it has no status for with Unknown and the error's text.
        e @ (KvError::Cluster(_) | KvError::Internal(_)) => Status::unknown(e.to_string()),
    }
}
