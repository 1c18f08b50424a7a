//! openraft's network over tonic: one lazily connected channel per peer address.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use forest_storage::{Node, NodeId, TypeConfig};
use openraft::error::{
    InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, Unreachable,
};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use serde::{de::DeserializeOwned, Serialize};
use tonic::transport::{Channel, Endpoint};

use super::rpc::{decode, encode};
use crate::pb::raft::raft_client::RaftClient;

/// The largest node-to-node message: a batch of entries or a snapshot chunk.
pub const MAX_PEER_MESSAGE: usize = 64 * 1024 * 1024;

/// Channels to peers, shared by Raft replication and forwarding, and the cluster secret every
/// request to a peer carries.
#[derive(Clone, Default)]
pub struct Peers {
    channels: Arc<Mutex<HashMap<String, Channel>>>,
    secret: Option<crate::auth::Secret>,
}

impl Peers {
    pub fn new(secret: Option<crate::auth::Secret>) -> Self {
        Peers {
            channels: Arc::default(),
            secret,
        }
    }

    /// A request to a peer, proving membership when the cluster has a secret.
    pub fn request<T>(&self, message: T, timeout: Duration) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        request.set_timeout(timeout);
        if let Some(secret) = &self.secret {
            if let Ok(value) = secret.expose().parse() {
                request
                    .metadata_mut()
                    .insert(crate::auth::grpc::PEER_HEADER, value);
            }
        }
        request
    }

    pub fn client(&self, addr: &str) -> Result<RaftClient<Channel>, tonic::transport::Error> {
        Ok(RaftClient::new(self.channel(addr)?)
            .max_decoding_message_size(MAX_PEER_MESSAGE)
            .max_encoding_message_size(MAX_PEER_MESSAGE))
    }

    /// A channel to the node at `addr` (connected on first use, then kept).
    pub fn channel(&self, addr: &str) -> Result<Channel, tonic::transport::Error> {
        let mut channels = self.channels.lock().unwrap_or_else(|p| p.into_inner());
        let channel = match channels.get(addr) {
            Some(c) => c.clone(),
            None => {
                let c = Endpoint::from_shared(format!("http://{addr}"))?
                    .connect_timeout(Duration::from_millis(500))
                    .tcp_nodelay(true)
                    .http2_keep_alive_interval(Duration::from_secs(5))
                    .keep_alive_timeout(Duration::from_secs(5))
                    .connect_lazy();
                channels.insert(addr.to_string(), c.clone());
                c
            }
        };
        Ok(channel)
    }
}

pub struct NetworkFactory {
    pub peers: Peers,
}

pub struct Connection {
    peers: Peers,
    target: NodeId,
    addr: String,
}

impl RaftNetworkFactory<TypeConfig> for NetworkFactory {
    type Network = Connection;

    async fn new_client(&mut self, target: NodeId, node: &Node) -> Connection {
        Connection {
            peers: self.peers.clone(),
            target,
            addr: node.addr.clone(),
        }
    }
}

type RpcResult<T, E> = Result<T, RPCError<NodeId, Node, RaftError<NodeId, E>>>;

impl Connection {
    async fn send<Req, Resp, E>(
        &self,
        which: Rpc,
        req: &Req,
        option: &RPCOption,
    ) -> RpcResult<Resp, E>
    where
        Req: Serialize,
        Resp: DeserializeOwned,
        E: std::error::Error + DeserializeOwned,
    {
        let mut client = self
            .peers
            .client(&self.addr)
            .map_err(|e| RPCError::Unreachable(Unreachable::new(&e)))?;
        let request = self.peers.request(encode(req), option.hard_ttl());
        let reply = match which {
            Rpc::Append => client.append_entries(request).await,
            Rpc::Vote => client.vote(request).await,
            Rpc::Snapshot => client.install_snapshot(request).await,
        };
        let payload = reply.map_err(|status| match status.code() {
            tonic::Code::Unavailable | tonic::Code::DeadlineExceeded | tonic::Code::Cancelled => {
                RPCError::Unreachable(Unreachable::new(&status))
            }
            _ => RPCError::Network(NetworkError::new(&status)),
        })?;
        let result: Result<Resp, RaftError<NodeId, E>> =
            decode(payload.get_ref()).map_err(|s| RPCError::Network(NetworkError::new(&s)))?;
        result.map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
    }
}

enum Rpc {
    Append,
    Vote,
    Snapshot,
}

impl RaftNetwork<TypeConfig> for Connection {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> RpcResult<AppendEntriesResponse<NodeId>, openraft::error::Infallible> {
        self.send(Rpc::Append, &rpc, &option).await
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> RpcResult<InstallSnapshotResponse<NodeId>, InstallSnapshotError> {
        self.send(Rpc::Snapshot, &rpc, &option).await
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        option: RPCOption,
    ) -> RpcResult<VoteResponse<NodeId>, openraft::error::Infallible> {
        self.send(Rpc::Vote, &rpc, &option).await
    }
}
