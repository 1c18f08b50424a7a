//! The node-to-node gRPC service: openraft's RPCs, and [`PeerRequest`]s (forwarded writes,
//! read indexes, bootstrap hellos). Payloads are bincode of openraft's and our serde types.

use forest_storage::{Command, NodeId, Response, TypeConfig};
use openraft::raft::{AppendEntriesRequest, InstallSnapshotRequest, VoteRequest};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use tonic::{Request, Status};

use super::Raft;
use crate::pb::raft::{raft_server, Payload};

/// What a node asks another that is not a Raft RPC.
#[derive(Debug, Serialize, Deserialize)]
pub enum PeerRequest {
    /// Apply this write if you lead.
    Write(Command),
    /// Confirm you lead and say which log index a linearizable read must wait for.
    ReadIndex,
    /// Who are you, and have you joined a cluster yet?
    Hello,
}

#[derive(Debug, Serialize, Deserialize)]
pub enum PeerReply {
    Written(Response),
    ReadIndex(u64),
    Hello {
        id: NodeId,
        name: String,
        initialized: bool,
    },
    /// The asked node does not lead (any more): ask again once a leader is known.
    NotLeader,
    Failed(String),
}

pub fn encode<T: Serialize>(v: &T) -> Payload {
    Payload {
        data: bincode::serialize(v).unwrap_or_default(),
    }
}

pub fn decode<T: DeserializeOwned>(p: &Payload) -> Result<T, Status> {
    bincode::deserialize(&p.data)
        .map_err(|e| Status::invalid_argument(format!("undecodable payload: {e}")))
}

pub struct RaftRpc {
    pub raft: Raft,
    pub batcher: super::batch::Batcher,
    pub id: NodeId,
    pub name: String,
}

impl RaftRpc {
    async fn call(&self, req: PeerRequest) -> PeerReply {
        use openraft::error::RaftError;
        match req {
            PeerRequest::Write(cmd) => {
                match self.batcher.write(cmd, super::batch::Lane::Clients).await {
                    Ok(r) => PeerReply::Written(r),
                    Err(super::ClusterError::NotLeader) => PeerReply::NotLeader,
                    Err(e) => PeerReply::Failed(e.to_string()),
                }
            }
            PeerRequest::ReadIndex => match self.raft.get_read_log_id().await {
                Ok((read, _)) => PeerReply::ReadIndex(read.map_or(0, |l| l.index)),
                Err(RaftError::APIError(_)) => PeerReply::NotLeader,
                Err(e) => PeerReply::Failed(e.to_string()),
            },
            PeerRequest::Hello => PeerReply::Hello {
                id: self.id,
                name: self.name.clone(),
                initialized: self.raft.is_initialized().await.unwrap_or(false),
            },
        }
    }
}

#[tonic::async_trait]
impl raft_server::Raft for RaftRpc {
    async fn append_entries(
        &self,
        req: Request<Payload>,
    ) -> Result<tonic::Response<Payload>, Status> {
        let rpc: AppendEntriesRequest<TypeConfig> = decode(req.get_ref())?;
        Ok(tonic::Response::new(encode(
            &self.raft.append_entries(rpc).await,
        )))
    }

    async fn vote(&self, req: Request<Payload>) -> Result<tonic::Response<Payload>, Status> {
        let rpc: VoteRequest<NodeId> = decode(req.get_ref())?;
        Ok(tonic::Response::new(encode(&self.raft.vote(rpc).await)))
    }

    async fn install_snapshot(
        &self,
        req: Request<Payload>,
    ) -> Result<tonic::Response<Payload>, Status> {
        let rpc: InstallSnapshotRequest<TypeConfig> = decode(req.get_ref())?;
        Ok(tonic::Response::new(encode(
            &self.raft.install_snapshot(rpc).await,
        )))
    }

    async fn call(&self, req: Request<Payload>) -> Result<tonic::Response<Payload>, Status> {
        let request: PeerRequest = decode(req.get_ref())?;
        Ok(tonic::Response::new(encode(
            &RaftRpc::call(self, request).await,
        )))
    }
}
