//! Automatic compaction: the leader keeps the change history to the last `retain` revisions,
//! so watches can resume and past revisions be read within that window while the history
//! does not grow without bound.

use std::time::Duration;

use forest_storage::Command;

use crate::cluster::Cluster;
use crate::pb::kv as pb;

const EVERY: Duration = Duration::from_secs(5);

pub async fn run(cluster: Cluster, retain: i64) {
    let mut tick = tokio::time::interval(EVERY);
    loop {
        tick.tick().await;
        if !cluster.is_leader() {
            continue;
        }
        let applied = cluster.state().applied().await;
        let target = applied.revision - retain;
        if target <= applied.compacted {
            continue;
        }
        let cmd = Command::Compact(pb::CompactionRequest { revision: target });
        match cluster.write_as_leader(cmd).await {
            Ok(_) => tracing::debug!(revision = target, "compacted"),
            Err(e) => tracing::warn!(error = %e, "compaction failed"),
        }
    }
}
