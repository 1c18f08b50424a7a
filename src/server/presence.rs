//! The original key layout's view of the scheduler nodes: every node keeps
//! `/forest/server/node/<name>` alive under a lease of its own, and the Raft leader mirrors its
//! leadership into `/forest/server/elect/leader`. These keys follow Raft; nothing elects by
//! them. A node that serves the etcd API also keeps its client URL at `/forest/server/etcd/
//! <name>` under the same lease, for etcd's MemberList on every node.

use std::time::Duration;

use crate::kv::{ops, Kv};
use crate::model::keys;
use crate::pb::kv as pb;

/// The node key's lease TTL, as in the original (5 s) with room for a leader change.
const TTL: i64 = 10;
const RENEW_EVERY: Duration = Duration::from_secs(3);

pub async fn run(kv: Kv, etcd_url: Option<String>) {
    let name = kv.cluster().name().to_string();
    let mut metrics = kv.cluster().raft().metrics();
    let mut lease = 0i64;
    let mut mirrored_term = None;
    loop {
        if let Err(e) = tick(
            &kv,
            &name,
            etcd_url.as_deref(),
            &mut lease,
            &mut mirrored_term,
        )
        .await
        {
            tracing::debug!(error = %e, "node presence not refreshed yet");
        }
        tokio::select! {
            _ = tokio::time::sleep(RENEW_EVERY) => {}
            changed = metrics.changed() => if changed.is_err() { return },
        }
    }
}

async fn tick(
    kv: &Kv,
    name: &str,
    etcd_url: Option<&str>,
    lease: &mut i64,
    mirrored_term: &mut Option<u64>,
) -> Result<(), crate::kv::KvError> {
    if *lease != 0 {
        match kv.lease_keep_alive(*lease).await {
            Ok(_) => {}
            // Expired while this node was cut off: register anew.
            Err(e) if e.is_not_found() => *lease = 0,
            Err(e) => return Err(e),
        }
    }
    if *lease == 0 {
        let granted = kv.lease_grant(TTL, 0).await?.id;
        let mut puts = vec![ops::put_leased(keys::node(name), name, granted)];
        if let Some(url) = etcd_url {
            puts.push(ops::put_leased(keys::etcd(name), url, granted));
        }
        kv.txn(pb::TxnRequest {
            success: puts,
            ..Default::default()
        })
        .await?;
        // Only once the keys are in: should the write fail, the lease expires unused and the
        // next tick registers anew.
        *lease = granted;
        *mirrored_term = None;
    }
    let m = kv.cluster().metrics();
    if m.state == openraft::ServerState::Leader && *mirrored_term != Some(m.current_term) {
        kv.put(pb::PutRequest {
            key: keys::ELECT_LEADER.as_bytes().to_vec(),
            value: name.as_bytes().to_vec(),
            lease: *lease,
            ..Default::default()
        })
        .await?;
        *mirrored_term = Some(m.current_term);
        tracing::info!(
            term = m.current_term,
            "leading; /forest/server/elect/leader updated"
        );
    }
    Ok(())
}
