//! Snapshots: the whole state tree at one applied log id.
//!
//! Building one copies every pair of the state tree under the read lock (so it is one consistent
//! cut), keeps it in `snapshot.bin` beside the database (written to a temporary file, synced,
//! then renamed, so a crash leaves the old snapshot or the new one) and hands it to openraft,
//! which streams it to a lagging follower in chunks. Installing one replaces the state tree in a
//! single batch.

use std::io::{Cursor, Write};
use std::sync::atomic::Ordering;

use openraft::{RaftSnapshotBuilder, Snapshot, SnapshotMeta, StorageError, StorageIOError};
use serde::{Deserialize, Serialize};

use super::{keys, reload, Notice, StateMachine};
use crate::codec::{decode, encode};
use crate::{Node, NodeId, TypeConfig};

/// The state tree's pairs, as a snapshot carries them.
type Pairs = Vec<(Vec<u8>, Vec<u8>)>;

#[derive(Serialize, Deserialize)]
struct StoredSnapshot {
    meta: SnapshotMeta<NodeId, Node>,
    data: Vec<u8>,
}

impl RaftSnapshotBuilder<TypeConfig> for StateMachine {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StorageError<NodeId>> {
        let inner = &*self.inner;
        let (meta, data) = {
            let meta = inner.meta.read().await;
            let mut pairs: Pairs = Vec::new();
            for item in inner.tree.iter() {
                let (k, v) = item.map_err(|e| StorageIOError::read_state_machine(&e))?;
                if k.as_ref() == keys::META_APPLIED || k.as_ref() == keys::META_MEMBERSHIP {
                    continue;
                }
                pairs.push((k.to_vec(), v.to_vec()));
            }
            let seq = inner.snapshot_seq.fetch_add(1, Ordering::Relaxed);
            let snapshot_id = match meta.applied {
                Some(l) => format!("{}-{}-{}", l.leader_id.term, l.index, seq),
                None => format!("0-0-{seq}"),
            };
            let snap_meta = SnapshotMeta {
                last_log_id: meta.applied,
                last_membership: meta.membership.clone(),
                snapshot_id,
            };
            (snap_meta, encode(&pairs))
        };
        tracing::info!(snapshot_id = %meta.snapshot_id, bytes = data.len(), "built a snapshot");
        self.save(&meta, &data)?;
        // The state the snapshot covers must be durable before openraft purges the log below it.
        inner
            .db
            .flush_async()
            .await
            .map_err(|e| StorageIOError::write_state_machine(&e))?;
        Ok(Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(data)),
        })
    }
}

impl StateMachine {
    fn save(
        &self,
        meta: &SnapshotMeta<NodeId, Node>,
        data: &[u8],
    ) -> Result<(), StorageError<NodeId>> {
        let sig = Some(meta.signature());
        let path = &self.inner.snapshot_path;
        let tmp = path.with_extension("tmp");
        let write = || -> std::io::Result<()> {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&encode(&StoredSnapshot {
                meta: meta.clone(),
                data: data.to_vec(),
            }))?;
            f.sync_all()?;
            std::fs::rename(&tmp, path)?;
            if let Some(dir) = path.parent() {
                std::fs::File::open(dir)?.sync_all()?;
            }
            Ok(())
        };
        write().map_err(|e| StorageIOError::write_snapshot(sig, &e).into())
    }

    pub(super) fn load_snapshot(
        &self,
    ) -> Result<Option<Snapshot<TypeConfig>>, StorageError<NodeId>> {
        let bytes = match std::fs::read(&self.inner.snapshot_path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(StorageIOError::read_snapshot(None, &e).into()),
        };
        let stored: StoredSnapshot =
            decode(&bytes).map_err(|e| StorageIOError::read_snapshot(None, &e))?;
        Ok(Some(Snapshot {
            meta: stored.meta,
            snapshot: Box::new(Cursor::new(stored.data)),
        }))
    }

    pub(super) async fn install(
        &self,
        meta: &SnapshotMeta<NodeId, Node>,
        data: Vec<u8>,
    ) -> Result<(), StorageError<NodeId>> {
        let sig = Some(meta.signature());
        let pairs: Pairs =
            decode(&data).map_err(|e| StorageIOError::read_snapshot(sig.clone(), &e))?;
        let inner = &*self.inner;
        let mut guard = inner.meta.write().await;
        let mut batch = sled::Batch::default();
        for item in inner.tree.iter() {
            let (k, _) = item.map_err(|e| StorageIOError::write_snapshot(sig.clone(), &e))?;
            batch.remove(k);
        }
        for (k, v) in pairs {
            batch.insert(k, v);
        }
        batch.insert(keys::META_APPLIED, encode(&meta.last_log_id));
        batch.insert(keys::META_MEMBERSHIP, encode(&meta.last_membership));
        inner
            .tree
            .apply_batch(batch)
            .map_err(|e| StorageIOError::write_snapshot(sig.clone(), &e))?;
        inner
            .db
            .flush_async()
            .await
            .map_err(|e| StorageIOError::write_snapshot(sig.clone(), &e))?;
        *guard = reload(inner)?;
        drop(guard);
        self.save(meta, &data)?;
        tracing::info!(snapshot_id = %meta.snapshot_id, "installed a snapshot");
        let _ = inner.notices.send(Notice::Reset);
        Ok(())
    }
}
