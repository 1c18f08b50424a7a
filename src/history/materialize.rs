//! Copying collected runs from the replicated log into the history store.
//!
//! The scheduler collects each final report into `/forest/server/history/<id>`. Every node
//! reads those keys (once, then by a watch from the revision read) and writes them into its
//! store in batches, each batch together with the revision it reaches in one database
//! transaction. After a crash the node starts again from its store's revision: a record
//! written twice is one row (the store upserts by id), and none is skipped, because the
//! leader deletes a history key only once every node says it has it ([`super::trim`]).
//!
//! With a shared external database only the leader writes; every node still reports the
//! store's revision, which is then the same for all.

use std::time::Duration;

use forest_storage::history::{History, Record};
use futures::StreamExt;

use super::record;
use crate::kv::{ops, Kv};
use crate::model::{keys, JobExecuteSnapshot, WireJson};
use crate::pb::kv::{event::EventType, PutRequest};

/// Records per database transaction.
const BATCH: usize = 500;
/// How long a batch may wait to fill.
const LINGER: Duration = Duration::from_millis(100);

#[derive(Debug, thiserror::Error)]
enum Error {
    #[error(transparent)]
    Kv(#[from] crate::kv::KvError),
    #[error(transparent)]
    Store(#[from] forest_storage::history::HistoryError),
    #[error("the watch ended")]
    WatchEnded,
    #[error("no longer the leader")]
    NotLeader,
}

/// Runs for the life of the node.
pub async fn run(kv: Kv, store: History, shared: bool) {
    tokio::spawn(publish(kv.clone(), store.clone()));
    loop {
        if shared && !kv.cluster().is_leader() {
            tokio::time::sleep(Duration::from_millis(500)).await;
            continue;
        }
        if let Err(e) = follow(&kv, &store, shared).await {
            tracing::warn!(error = %e, "history: materializing paused");
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}

fn parse(value: &[u8]) -> Option<Record> {
    JobExecuteSnapshot::from_json(value)
        .ok()
        .map(|run| record::from_run(&run))
}

async fn follow(kv: &Kv, store: &History, shared: bool) -> Result<(), Error> {
    let applied = store.applied().await?;
    let now = kv.range(ops::prefix_range(keys::HISTORY_PREFIX)).await?;
    let at = now.header.as_ref().map_or(0, |h| h.revision);
    let missing: Vec<Record> = now
        .kvs
        .iter()
        .filter(|kv| kv.mod_revision > applied)
        .filter_map(|kv| parse(&kv.value))
        .collect();
    let mut chunks = missing.chunks(BATCH).peekable();
    while let Some(chunk) = chunks.next() {
        let reached = if chunks.peek().is_none() { at } else { applied };
        store.record(chunk, reached).await?;
    }
    if missing.is_empty() && at > applied {
        store.record(&[], at).await?;
    }
    tracing::info!(records = missing.len(), revision = at, "history: caught up");
    let mut watch = kv.watch(ops::prefix_watch(keys::HISTORY_PREFIX, at + 1, false))?;
    loop {
        let first = watch.next().await.ok_or(Error::WatchEnded)??;
        let mut batch = Vec::new();
        let mut reached = 0;
        let mut take = |w: crate::pb::kv::WatchResponse, batch: &mut Vec<Record>| {
            for ev in w.events {
                let Some(kv) = ev.kv else { continue };
                reached = reached.max(kv.mod_revision);
                if ev.r#type == EventType::Put as i32 {
                    if let Some(r) = parse(&kv.value) {
                        batch.push(r);
                    }
                }
            }
        };
        take(first, &mut batch);
        let linger = tokio::time::sleep(LINGER);
        tokio::pin!(linger);
        while batch.len() < BATCH {
            tokio::select! {
                more = watch.next() => {
                    take(more.ok_or(Error::WatchEnded)??, &mut batch);
                }
                _ = &mut linger => break,
            }
        }
        if shared && !kv.cluster().is_leader() {
            return Err(Error::NotLeader);
        }
        if reached > 0 {
            store.record(&batch, reached).await?;
            for r in &batch {
                let status = crate::model::ExecuteStatus::from_code(i64::from(r.status));
                metrics::counter!(crate::http::metrics::RUNS, "status" => status.name().unwrap_or("other"))
                    .increment(1);
            }
        }
    }
}

/// Tells the cluster, about once a second, how far this node's store has got.
async fn publish(kv: Kv, store: History) {
    let key = keys::indexed(kv.cluster().name());
    let mut told = -1;
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let Ok(applied) = store.applied().await else {
            continue;
        };
        if applied == told {
            continue;
        }
        let put = PutRequest {
            key: key.clone().into_bytes(),
            value: applied.to_string().into_bytes(),
            ..Default::default()
        };
        if kv.put(put).await.is_ok() {
            told = applied;
        }
    }
}
