//! openraft wiring: a node's Raft instance, its transport, bootstrap and forwarding.
//!
//! Any node accepts any request. [`Cluster::write`] proposes locally when this node leads and
//! otherwise forwards the command to the leader; [`Cluster::read_barrier`] makes a following
//! local read linearizable (read index: the leader confirms its leadership with a quorum and
//! names the log index this node must have applied first).

mod batch;
mod bootstrap;
pub mod network;
pub mod peers;
mod rpc;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use forest_storage::state::KvState;
use forest_storage::{Command, Identity, Node, NodeId, Response, TypeConfig};
use openraft::error::RaftError;
use openraft::{RaftMetrics, ServerState, SnapshotPolicy};

pub use network::Peers;
use rpc::{PeerReply, PeerRequest, RaftRpc};

pub type Raft = openraft::Raft<TypeConfig>;

/// How long a request waits for a leader to exist before it gives up.
const LEADER_WAIT: Duration = Duration::from_secs(5);

/// What a node needs to join its cluster.
#[derive(Debug, Clone)]
pub struct ClusterConfig {
    pub id: NodeId,
    pub name: String,
    pub cluster: String,
    pub data_dir: PathBuf,
    /// The address other nodes dial to reach this one.
    pub advertise_addr: String,
    /// Every initial member, this node included.
    pub peers: BTreeMap<NodeId, String>,
    pub heartbeat_ms: u64,
    pub election_timeout_ms: u64,
    /// Build a snapshot (and purge the log) after this many entries.
    pub snapshot_logs: u64,
    /// What peers prove membership with; `None`: any caller of the Raft service is a peer.
    pub secret: Option<crate::auth::Secret>,
}

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("no leader was elected within {0:?} (is a majority of the nodes up?)")]
    NoLeader(Duration),
    #[error("the leader did not confirm in time; the write may or may not have been applied: {0}")]
    Unknown(String),
    #[error("cannot open the data directory: {0}")]
    Open(#[from] forest_storage::OpenError),
    #[error("this node is not the leader")]
    NotLeader,
    #[error("raft: {0}")]
    Raft(String),
}

/// A running cluster member.
#[derive(Clone)]
pub struct Cluster {
    inner: Arc<Inner>,
}

struct Inner {
    id: NodeId,
    name: String,
    raft: Raft,
    kv: KvState,
    peers: Peers,
    batcher: batch::Batcher,
}

impl Cluster {
    /// Opens the data directory and starts Raft (not yet serving: see [`Cluster::rpc_service`]).
    pub async fn start(cfg: &ClusterConfig) -> Result<Cluster, ClusterError> {
        let store = forest_storage::open(
            &cfg.data_dir,
            &Identity {
                cluster: cfg.cluster.clone(),
                node_id: cfg.id,
            },
        )?;
        let config = openraft::Config {
            cluster_name: cfg.cluster.clone(),
            heartbeat_interval: cfg.heartbeat_ms,
            election_timeout_min: cfg.election_timeout_ms,
            election_timeout_max: cfg.election_timeout_ms * 2,
            install_snapshot_timeout: 10_000,
            snapshot_policy: SnapshotPolicy::LogsSinceLast(cfg.snapshot_logs),
            max_in_snapshot_log_to_keep: (cfg.snapshot_logs / 10).max(10),
            max_payload_entries: 1000,
            ..Default::default()
        };
        let config = Arc::new(
            config
                .validate()
                .map_err(|e| ClusterError::Raft(e.to_string()))?,
        );
        let peers = Peers::new(cfg.secret.clone());
        let raft = Raft::new(
            cfg.id,
            config,
            network::NetworkFactory {
                peers: peers.clone(),
            },
            store.log,
            store.state_machine,
        )
        .await
        .map_err(|e| ClusterError::Raft(e.to_string()))?;
        let cluster = Cluster {
            inner: Arc::new(Inner {
                id: cfg.id,
                name: cfg.name.clone(),
                batcher: batch::Batcher::start(raft.clone()),
                raft,
                kv: store.kv,
                peers,
            }),
        };
        Ok(cluster)
    }

    /// Forms the cluster the first time its members meet; a no-op for a node that has joined
    /// before. Runs until done, so spawn it once the gRPC service listens.
    pub async fn bootstrap(&self, cfg: &ClusterConfig) {
        bootstrap::run(self, cfg).await
    }

    /// The gRPC service other nodes call.
    pub fn rpc_service(
        &self,
    ) -> crate::pb::raft::raft_server::RaftServer<impl crate::pb::raft::raft_server::Raft> {
        crate::pb::raft::raft_server::RaftServer::new(RaftRpc {
            raft: self.inner.raft.clone(),
            batcher: self.inner.batcher.clone(),
            id: self.inner.id,
            name: self.inner.name.clone(),
        })
        .max_decoding_message_size(network::MAX_PEER_MESSAGE)
        .max_encoding_message_size(network::MAX_PEER_MESSAGE)
    }

    pub fn id(&self) -> NodeId {
        self.inner.id
    }

    pub fn name(&self) -> &str {
        &self.inner.name
    }

    pub fn raft(&self) -> &Raft {
        &self.inner.raft
    }

    /// The applied state of this node.
    pub fn state(&self) -> &KvState {
        &self.inner.kv
    }

    pub fn peers(&self) -> &Peers {
        &self.inner.peers
    }

    pub fn metrics(&self) -> RaftMetrics<NodeId, Node> {
        self.inner.raft.metrics().borrow().clone()
    }

    pub fn is_leader(&self) -> bool {
        self.metrics().state == ServerState::Leader
    }

    /// The leader this node knows of, with its address.
    pub fn leader(&self) -> Option<(NodeId, Node)> {
        let m = self.metrics();
        let id = m.current_leader?;
        let node = m.membership_config.membership().get_node(&id)?.clone();
        Some((id, node))
    }

    async fn wait_for_leader(&self) -> Result<(NodeId, Node), ClusterError> {
        if let Some(l) = self.leader() {
            return Ok(l);
        }
        self.inner
            .raft
            .wait(Some(LEADER_WAIT))
            .metrics(|m| m.current_leader.is_some(), "a leader")
            .await
            .map_err(|_| ClusterError::NoLeader(LEADER_WAIT))?;
        self.leader().ok_or(ClusterError::NoLeader(LEADER_WAIT))
    }

    /// Sends a request to the leader and retries while leadership moves.
    async fn ask_leader(&self, req: &PeerRequest) -> Result<PeerReply, ClusterError> {
        let deadline = tokio::time::Instant::now() + LEADER_WAIT;
        loop {
            let (_, node) = self.wait_for_leader().await?;
            let sent = async {
                let mut client = self
                    .inner
                    .peers
                    .client(&node.addr)
                    .map_err(|e| e.to_string())?;
                let request = self.inner.peers.request(rpc::encode(req), LEADER_WAIT);
                client.call(request).await.map_err(|s| s.to_string())
            };
            match sent.await {
                Ok(reply) => match rpc::decode::<PeerReply>(reply.get_ref()) {
                    Ok(PeerReply::NotLeader) => {}
                    Ok(reply) => return Ok(reply),
                    Err(e) => return Err(ClusterError::Raft(e.to_string())),
                },
                Err(e) if matches!(req, PeerRequest::Write(_)) && !never_sent(&e) => {
                    return Err(ClusterError::Unknown(e))
                }
                Err(e) => {
                    tracing::debug!(error = %e, leader = %node, "leader unreachable, retrying")
                }
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(ClusterError::NoLeader(LEADER_WAIT));
            }
            // Leadership is moving: give the election a moment before asking again.
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Commits a write through Raft, wherever the leader is.
    pub async fn write(&self, cmd: Command) -> Result<Response, ClusterError> {
        match self
            .inner
            .batcher
            .write(cmd.clone(), batch::Lane::Clients)
            .await
        {
            Err(ClusterError::NotLeader) => {}
            done => return done,
        }
        match self.ask_leader(&PeerRequest::Write(cmd)).await? {
            PeerReply::Written(r) => Ok(r),
            PeerReply::Failed(e) => Err(ClusterError::Raft(e)),
            other => Err(ClusterError::Raft(format!("unexpected reply {other:?}"))),
        }
    }

    /// Commits a write only if this node leads: leader-only duties (firing jobs, expiring
    /// leases) use it so that a deposed leader's work fails instead of being forwarded.
    pub async fn write_as_leader(&self, cmd: Command) -> Result<Response, ClusterError> {
        self.inner.batcher.write(cmd, batch::Lane::Leader).await
    }

    /// Returns once this node has applied everything committed before the call: a local read
    /// after it is linearizable.
    pub async fn read_barrier(&self) -> Result<(), ClusterError> {
        let index = match self.inner.raft.ensure_linearizable().await {
            Ok(_) => return Ok(()),
            Err(RaftError::APIError(_)) => match self.ask_leader(&PeerRequest::ReadIndex).await? {
                PeerReply::ReadIndex(i) => i,
                PeerReply::Failed(e) => return Err(ClusterError::Raft(e)),
                other => return Err(ClusterError::Raft(format!("unexpected reply {other:?}"))),
            },
            Err(e) => return Err(ClusterError::Raft(e.to_string())),
        };
        self.inner
            .raft
            .wait(Some(LEADER_WAIT))
            .applied_index_at_least(Some(index), "read index")
            .await
            .map_err(|e| ClusterError::Raft(e.to_string()))?;
        Ok(())
    }

    /// Stops Raft (on SIGTERM, after the listeners closed).
    pub async fn shutdown(&self) {
        if let Err(e) = self.inner.raft.shutdown().await {
            tracing::warn!(error = %e, "raft shutdown");
        }
    }
}

/// Whether a failed call certainly never reached the peer (it could not even connect), so
/// retrying cannot apply a write twice.
fn never_sent(error: &str) -> bool {
    error.contains("tcp connect error") || error.contains("Connection refused")
}
