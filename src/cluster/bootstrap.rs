//! Forming the cluster: the first time the initial members all answer, every one of them
//! initializes Raft with the same membership (openraft allows that: the same config from
//! several nodes is safe). A node that finds any peer already initialized waits instead to be
//! reached by the leader; a node restarting with its data skips all this.

use std::collections::BTreeMap;
use std::time::Duration;

use forest_storage::Node;

use super::rpc::{self, PeerReply, PeerRequest};
use super::{Cluster, ClusterConfig};

pub async fn run(cluster: &Cluster, cfg: &ClusterConfig) {
    let raft = cluster.raft();
    if raft.is_initialized().await.unwrap_or(true) {
        return;
    }
    let mut waited = 0u32;
    loop {
        let mut members = BTreeMap::new();
        let mut missing = Vec::new();
        let mut joined = false;
        for (&id, addr) in &cfg.peers {
            if id == cfg.id {
                members.insert(
                    id,
                    Node {
                        name: cfg.name.clone(),
                        addr: cfg.advertise_addr.clone(),
                    },
                );
                continue;
            }
            match hello(cluster, addr).await {
                Some(PeerReply::Hello {
                    id: got,
                    name,
                    initialized,
                }) if got == id => {
                    joined |= initialized;
                    members.insert(
                        id,
                        Node {
                            name,
                            addr: addr.clone(),
                        },
                    );
                }
                Some(PeerReply::Hello { id: got, .. }) => {
                    tracing::error!(
                        peer = id,
                        addr,
                        answered = got,
                        "a peer answers with another node id; check --peers"
                    );
                    missing.push(id);
                }
                _ => missing.push(id),
            }
        }
        if joined {
            tracing::info!("the cluster exists already; waiting for its leader to reach this node");
            return;
        }
        if missing.is_empty() {
            match raft.initialize(members).await {
                Ok(()) => tracing::info!(members = cfg.peers.len(), "initialized the cluster"),
                Err(e) => tracing::info!(reason = %e, "cluster already initialized"),
            }
            return;
        }
        if waited.is_multiple_of(20) {
            tracing::info!(
                ?missing,
                "waiting for every initial member to answer before forming the cluster"
            );
        }
        waited += 1;
        tokio::time::sleep(Duration::from_millis(250)).await;
        if raft.is_initialized().await.unwrap_or(true) {
            return;
        }
    }
}

async fn hello(cluster: &Cluster, addr: &str) -> Option<PeerReply> {
    let mut client = cluster.peers().client(addr).ok()?;
    let request = cluster
        .peers()
        .request(rpc::encode(&PeerRequest::Hello), Duration::from_secs(1));
    let reply = client.call(request).await.ok()?;
    rpc::decode(reply.get_ref()).ok()
}
