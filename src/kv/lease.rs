//! Lease clocks. The replicated state records which leases exist and their TTL; when one
//! expires is decided by the leader alone, from clocks it keeps in memory, and carried out as a
//! revoke through Raft. A new leader starts every lease's clock afresh (as etcd does), so a
//! leader change never expires a lease early; keepalives reach the leader wherever they arrive.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use forest_storage::state::KvState;
use forest_storage::ApplyError;
use tokio::time::Instant;

use super::KvError;
use crate::cluster::Cluster;
use crate::pb::kv::{self as pb, lease_client::LeaseClient};

/// How often the leader looks for expired leases.
const TICK: Duration = Duration::from_millis(100);

#[derive(Default)]
pub struct LeaseKeeper {
    clocks: Mutex<Clocks>,
}

#[derive(Default)]
struct Clocks {
    /// The leader term these deadlines belong to.
    term: Option<u64>,
    deadline: HashMap<i64, Instant>,
}

impl LeaseKeeper {
    fn clocks(&self) -> std::sync::MutexGuard<'_, Clocks> {
        self.clocks.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn granted(&self, id: i64, ttl: i64) {
        self.clocks().deadline.insert(id, deadline(ttl));
    }

    pub async fn renew(&self, state: &KvState, id: i64) -> Result<i64, KvError> {
        let ttl = state
            .leases()
            .await
            .get(&id)
            .copied()
            .ok_or(KvError::Rejected(ApplyError::LeaseNotFound(id)))?;
        self.clocks().deadline.insert(id, deadline(ttl));
        Ok(ttl)
    }

    /// Seconds left on a lease's clock (the full TTL if the clock has not started yet).
    pub fn remaining(&self, id: i64, granted: i64) -> i64 {
        match self.clocks().deadline.get(&id) {
            Some(d) => d
                .saturating_duration_since(Instant::now())
                .as_secs_f64()
                .ceil() as i64,
            None => granted,
        }
    }
}

fn deadline(ttl: i64) -> Instant {
    Instant::now() + Duration::from_secs(ttl.max(0) as u64)
}

/// The leader's duty: revoke every lease whose clock ran out.
pub async fn expire_loop(cluster: Cluster, keeper: std::sync::Arc<LeaseKeeper>) {
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let metrics = cluster.metrics();
        if metrics.state != openraft::ServerState::Leader {
            let mut c = keeper.clocks();
            c.term = None;
            c.deadline.clear();
            continue;
        }
        let leases = cluster.state().leases().await;
        let now = Instant::now();
        let expired: Vec<i64> = {
            let mut c = keeper.clocks();
            if c.term != Some(metrics.current_term) {
                c.term = Some(metrics.current_term);
                c.deadline.clear();
            }
            c.deadline.retain(|id, _| leases.contains_key(id));
            for (id, ttl) in &leases {
                c.deadline.entry(*id).or_insert_with(|| deadline(*ttl));
            }
            c.deadline
                .iter()
                .filter(|(_, d)| **d <= now)
                .map(|(id, _)| *id)
                .collect()
        };
        for id in expired {
            tracing::info!(lease = id, "lease expired");
            let cmd = forest_storage::Command::LeaseRevoke(pb::LeaseRevokeRequest { id });
            match cluster.write_as_leader(cmd).await {
                Ok(_) => {
                    keeper.clocks().deadline.remove(&id);
                }
                Err(e) => {
                    tracing::warn!(lease = id, error = %e, "revoking an expired lease failed")
                }
            }
        }
    }
}

async fn leader_client(
    cluster: &Cluster,
) -> Result<LeaseClient<tonic::transport::Channel>, KvError> {
    let (_, node) =
        cluster
            .leader()
            .ok_or(KvError::Cluster(crate::cluster::ClusterError::NoLeader(
                Duration::ZERO,
            )))?;
    let channel = cluster
        .peers()
        .channel(&node.addr)
        .map_err(|e| KvError::Internal(e.to_string()))?;
    Ok(LeaseClient::new(channel))
}

pub async fn keep_alive_at_leader(
    cluster: &Cluster,
    id: i64,
) -> Result<pb::LeaseKeepAliveResponse, KvError> {
    let mut client = leader_client(cluster).await?;
    let resp = client
        .lease_keep_alive(pb::LeaseKeepAliveRequest { id })
        .await
        .map_err(KvError::Remote)?;
    Ok(resp.into_inner())
}

pub async fn time_to_live_at_leader(
    cluster: &Cluster,
    req: pb::LeaseTimeToLiveRequest,
) -> Result<pb::LeaseTimeToLiveResponse, KvError> {
    let mut client = leader_client(cluster).await?;
    let resp = client
        .lease_time_to_live(req)
        .await
        .map_err(KvError::Remote)?;
    Ok(resp.into_inner())
}
