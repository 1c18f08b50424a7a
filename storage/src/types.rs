//! The openraft type configuration: what a Raft entry carries and what applying it returns.

use std::fmt;
use std::io::Cursor;

use serde::{Deserialize, Serialize};

use crate::error::ApplyError;
use crate::pb;

pub type NodeId = u64;

/// A cluster member as Raft membership records it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Node {
    /// The node's name (`/forest/server/node/<name>`).
    pub name: String,
    /// host:port of its gRPC listener.
    pub addr: String,
}

impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.name, self.addr)
    }
}

/// A write to the replicated store: the client's own request, applied as sent.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Command {
    Put(pb::PutRequest),
    Delete(pb::DeleteRangeRequest),
    Txn(pb::TxnRequest),
    Compact(pb::CompactionRequest),
    /// The id is chosen by the proposer (never 0), so every replica applies the same one.
    LeaseGrant(pb::LeaseGrantRequest),
    LeaseRevoke(pb::LeaseRevokeRequest),
    /// Several clients' commands in one Raft entry (group commit): each is applied as if it
    /// were an entry of its own, with its own revision and outcome.
    Batch(Vec<Command>),
}

/// What applying a command produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Reply {
    /// Raft's own entries (blank, membership).
    None,
    Put(pb::PutResponse),
    Delete(pb::DeleteRangeResponse),
    Txn(pb::TxnResponse),
    Compact(pb::CompactionResponse),
    LeaseGrant(pb::LeaseGrantResponse),
    LeaseRevoke(pb::LeaseRevokeResponse),
    /// One response per command of a [`Command::Batch`], in order.
    Batch(Vec<Response>),
}

/// Unwraps a [`Reply`] into the response of the command that produced it.
macro_rules! reply_as {
    ($($variant:ident($t:ty)),* $(,)?) => {$(
        impl TryFrom<Reply> for $t {
            type Error = Reply;
            fn try_from(r: Reply) -> Result<$t, Reply> {
                match r {
                    Reply::$variant(x) => Ok(x),
                    other => Err(other),
                }
            }
        }
    )*};
}

reply_as!(
    Put(pb::PutResponse),
    Delete(pb::DeleteRangeResponse),
    Txn(pb::TxnResponse),
    Compact(pb::CompactionResponse),
    LeaseGrant(pb::LeaseGrantResponse),
    LeaseRevoke(pb::LeaseRevokeResponse),
);

/// The outcome of one entry. A rejected command (unknown lease, compacted revision) changed
/// nothing; the error is deterministic, so every replica rejects it alike.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Response {
    /// The store revision after this entry.
    pub revision: i64,
    pub result: Result<Reply, ApplyError>,
}

openraft::declare_raft_types!(
    /// Forest's Raft: node ids are u64, entries carry [`Command`]s.
    pub TypeConfig:
        D = Command,
        R = Response,
        Node = Node,
);
