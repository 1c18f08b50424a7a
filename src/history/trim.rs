//! Deleting history keys the whole cluster has: a leader duty.
//!
//! A collected run stays in the replicated KV (`/forest/server/history/<id>`) until every
//! member's store has it (each member reports its revision under `/forest/server/indexed/`),
//! so a node that was down catches up from the KV, not from a peer's database. A member that
//! stays down must not make the KV grow without end: past [`MAX_WAITING`] records the oldest
//! go anyway, and the lagging members are named in the log (they miss those runs).

use std::collections::HashMap;
use std::time::Duration;

use crate::kv::{ops, Kv, KvError};
use crate::model::keys;
use crate::pb::kv::{RangeRequest, TxnRequest};

const EVERY: Duration = Duration::from_secs(2);
/// History keys kept for members that have not indexed them.
pub const MAX_WAITING: usize = 50_000;
/// Deletes per transaction (the KV takes at most 128 operations in one).
const PER_TXN: usize = 100;

pub async fn run(kv: Kv) {
    loop {
        tokio::time::sleep(EVERY).await;
        if !kv.cluster().is_leader() {
            continue;
        }
        if let Err(e) = trim(&kv).await {
            tracing::debug!(error = %e, "history: trimming deferred");
        }
    }
}

fn prefix(p: &str, keys_only: bool) -> RangeRequest {
    RangeRequest {
        keys_only,
        ..ops::prefix_range(p)
    }
}

async fn trim(kv: &Kv) -> Result<(), KvError> {
    let members: Vec<String> = kv
        .cluster()
        .metrics()
        .membership_config
        .nodes()
        .map(|(_, n)| n.name.clone())
        .collect();
    let indexed: HashMap<String, i64> = kv
        .range(prefix(keys::INDEXED_PREFIX, false))
        .await?
        .kvs
        .into_iter()
        .filter_map(|kv| {
            let name = String::from_utf8_lossy(&kv.key)
                .strip_prefix(keys::INDEXED_PREFIX)?
                .to_string();
            let rev = std::str::from_utf8(&kv.value).ok()?.parse().ok()?;
            Some((name, rev))
        })
        .collect();
    let floor = members
        .iter()
        .map(|m| indexed.get(m).copied().unwrap_or(0))
        .min()
        .unwrap_or(0);
    let mut held: Vec<(i64, Vec<u8>)> = kv
        .range(prefix(keys::HISTORY_PREFIX, true))
        .await?
        .kvs
        .into_iter()
        .map(|kv| (kv.mod_revision, kv.key))
        .collect();
    held.sort();
    let indexed_by_all = held.partition_point(|(rev, _)| *rev <= floor);
    let over = held.len().saturating_sub(MAX_WAITING);
    let cut = indexed_by_all.max(over);
    if cut > indexed_by_all {
        let lagging: Vec<&String> = members
            .iter()
            .filter(|m| indexed.get(*m).copied().unwrap_or(0) <= floor)
            .collect();
        tracing::warn!(
            ?lagging,
            dropped = cut - indexed_by_all,
            "history: members this far behind miss the oldest runs"
        );
    }
    for chunk in held[..cut].chunks(PER_TXN) {
        let txn = TxnRequest {
            compare: vec![],
            success: chunk.iter().map(|(_, k)| ops::delete(k)).collect(),
            failure: vec![],
        };
        kv.txn(txn).await?;
    }
    Ok(())
}
