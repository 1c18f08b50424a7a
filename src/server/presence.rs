//! The original key layout's view of the scheduler nodes: every node keeps
//! `/forest/server/node/<name>` alive under a lease of its own, and the Raft leader mirrors its
//! leadership into `/forest/server/elect/leader`. These keys follow Raft; nothing elects by
//! them.

use std::time::Duration;

use crate::kv::Kv;
use crate::model::keys;
use crate::pb::kv as pb;

/// The node key's lease TTL, as in the original (5 s) with room for a leader change.
const TTL: i64 = 10;
const RENEW_EVERY: Duration = Duration::from_secs(3);

pub async fn run(kv: Kv) {
    let name = kv.cluster().name().to_string();
    let mut metrics = kv.cluster().raft().metrics();
    let mut lease = 0i64;
    let mut mirrored_term = None;
    loop {
        if let Err(e) = tick(&kv, &name, &mut lease, &mut mirrored_term).await {
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
        *lease = kv.lease_grant(TTL, 0).await?.id;
        *mirrored_term = None;
        kv.put(pb::PutRequest {
            key: keys::node(name).into_bytes(),
            value: name.as_bytes().to_vec(),
            lease: *lease,
            ..Default::default()
        })
        .await?;
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
