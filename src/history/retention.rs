//! Old runs leave the store in the background: by age and by count per job, in small batches
//! (the store's `prune`), so writers never wait long. With a shared database the leader prunes.

use std::time::Duration;

use forest_storage::history::History;

use crate::kv::Kv;

const EVERY: Duration = Duration::from_secs(600);

#[derive(Debug, Clone, Copy)]
pub struct Retention {
    /// Runs that finished longer ago go; `None`: kept whatever their age.
    pub max_age: Option<Duration>,
    /// Runs of one job beyond this many (the newest stay); `None`: no limit.
    pub max_per_job: Option<u64>,
}

pub async fn run(kv: Kv, store: History, retention: Retention, shared: bool) {
    if retention.max_age.is_none() && retention.max_per_job.is_none() {
        return;
    }
    loop {
        tokio::time::sleep(EVERY).await;
        if shared && !kv.cluster().is_leader() {
            continue;
        }
        match store.prune(retention.max_age, retention.max_per_job).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(pruned = n, "history: old runs pruned"),
            Err(e) => tracing::warn!(error = %e, "history: pruning failed"),
        }
    }
}
