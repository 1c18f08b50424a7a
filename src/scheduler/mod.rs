//! The scheduler: leader-only firing of cron jobs, exactly once per tick (DESIGN §4).
//!
//! Every node runs [`run`]; it does nothing until its node leads, then [`leader::Leader`]
//! takes over for that term. It reads jobs, firing cursors, workers and pending work from the
//! KV at one revision and follows changes by a watch from there, so no change is missed
//! between the two.
//!
//! A tick is fired by one transaction that moves the job's cursor (`/forest/server/plan/<id>`,
//! compared by mod revision) and creates the tick's snapshot: a deposed leader's transaction
//! fails (it is never forwarded), and a new leader resumes from the durable cursors, so no tick
//! is lost and none is fired twice. The scheduler reaches workers only through keys: the
//! snapshot under the worker's key is the dispatch; the worker's reports under
//! `/forest/client/execute/snapshot/...` are collected into `/forest/server/history/`.

mod book;
mod concurrency;
mod leader;
pub mod misfire;
mod records;
mod route;

use std::time::Duration;

use crate::kv::Kv;

/// Runs on every node for the life of the process.
pub async fn run(kv: Kv) {
    let mut metrics = kv.cluster().raft().metrics();
    loop {
        let (leading, term) = {
            let m = metrics.borrow_and_update();
            (m.state == openraft::ServerState::Leader, m.current_term)
        };
        if leading {
            tracing::info!(term, "scheduler: leading, loading jobs");
            if let Err(e) = leader::Leader::lead(kv.clone(), term).await {
                tracing::warn!(term, error = %e, "scheduler: stepped down");
                // Let a failing KV settle before loading again.
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            continue;
        }
        if metrics.changed().await.is_err() {
            return;
        }
    }
}
