//! Snapshots not yet taken by a worker: ticks waiting in their group's queue
//! (`/forest/server/pending/…`) and ticks dispatched to a worker that has not claimed them
//! (`/forest/client/snapshot/…`). Operators list them and withdraw them.
//!
//! Withdrawing a tick records it: it ends as a cancelled run in the history, never by
//! vanishing. A waiting tick's record is written straight to the history key. A dispatched
//! one is withdrawn by replacing its snapshot with a final report in one transaction, which
//! the leader collects like any report: to the leader, deleting a snapshot key alone is an
//! original client's claim, and the tick would count as running until its worker left.

use chrono::Local;

use super::{JobError, Jobs};
use crate::kv::ops::{self, delete, mod_revision_is, put};
use crate::model::{keys, ExecuteStatus, JobExecuteSnapshot, JobSnapshot, WireJson};
use crate::pb::kv::TxnRequest;

/// Where a snapshot waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Waiting {
    /// In its group's queue, for a worker to come online (or for its retry backoff).
    Waiting,
    /// Handed to a worker (`ip`), not yet claimed.
    Dispatched,
}

/// A snapshot and where it waits.
#[derive(Debug, Clone)]
pub struct Unclaimed {
    pub state: Waiting,
    pub snapshot: JobSnapshot,
    key: String,
    rev: i64,
}

impl Jobs {
    /// The unclaimed snapshots of every group, or of `group` (and of its `worker`, which
    /// leaves out waiting ones: they have no worker yet).
    pub async fn unclaimed(
        &self,
        group: Option<&str>,
        worker: Option<&str>,
    ) -> Result<Vec<Unclaimed>, JobError> {
        let (pending, dispatched) = match (group, worker) {
            (Some(g), Some(w)) => (None, keys::snapshot_worker_prefix(g, w)),
            (Some(g), None) => (
                Some(keys::pending_group_prefix(g)),
                keys::snapshot_group_prefix(g),
            ),
            _ => (
                Some(keys::PENDING_PREFIX.to_string()),
                keys::SNAPSHOT_PREFIX.to_string(),
            ),
        };
        let mut out = Vec::new();
        if let Some(prefix) = pending {
            out.extend(self.read_unclaimed(&prefix, Waiting::Waiting).await?);
        }
        out.extend(
            self.read_unclaimed(&dispatched, Waiting::Dispatched)
                .await?
                .into_iter()
                .filter(|u| keys::parse_snapshot_key(&u.key).is_some()),
        );
        Ok(out)
    }

    async fn read_unclaimed(
        &self,
        prefix: &str,
        state: Waiting,
    ) -> Result<Vec<Unclaimed>, JobError> {
        let kvs = self.kv.range(ops::prefix_range(prefix)).await?.kvs;
        Ok(kvs
            .into_iter()
            .filter_map(|kv| {
                // Values that are not snapshots (an original client's junk) are not listed.
                let snapshot = JobSnapshot::from_json(&kv.value).ok()?;
                Some(Unclaimed {
                    state,
                    snapshot,
                    key: String::from_utf8(kv.key).ok()?,
                    rev: kv.mod_revision,
                })
            })
            .collect())
    }

    /// Withdraws snapshot `id` of `group`, waiting or dispatched, recording it cancelled with
    /// `reason`.
    pub async fn withdraw(&self, group: &str, id: &str, reason: &str) -> Result<(), JobError> {
        let found = self
            .unclaimed(Some(group), None)
            .await?
            .into_iter()
            .find(|u| u.snapshot.id == id)
            .ok_or_else(|| JobError::SnapshotNotFound {
                group: group.to_string(),
                id: id.to_string(),
            })?;
        let now = Local::now().naive_local();
        let mut run = JobExecuteSnapshot::started(&found.snapshot, &now);
        run.finish(
            ExecuteStatus::CANCELLED,
            reason.to_string(),
            &now,
            std::time::Duration::ZERO,
        );
        let record = match keys::parse_snapshot_key(&found.key) {
            Some(work) => keys::execute_snapshot(group, work.worker, id),
            None => keys::history(id),
        };
        let txn = TxnRequest {
            compare: vec![
                mod_revision_is(&found.key, found.rev),
                mod_revision_is(&record, 0),
            ],
            success: vec![delete(&found.key), put(&record, run.to_json())],
            failure: vec![],
        };
        if !self.kv.txn(txn).await?.succeeded {
            return Err(JobError::SnapshotNotFound {
                group: group.to_string(),
                id: id.to_string(),
            });
        }
        Ok(())
    }
}
