//! Snapshots: the whole state tree at one applied log id.
//!
//! Building one must not stop the world: copying a large state under the state machine's lock
//! held up every apply for seconds. So the pairs are copied without the lock and then repaired
//! to one consistent cut: every key changed after the revision the copy started at is set back
//! to its value then, from the retained events (each keeps the value it replaced); leases and
//! metadata are small and taken under the lock at that moment; attachments follow from the
//! keys. Should a compaction remove events the repair needs, the copy is taken under the lock
//! instead. The snapshot is kept in `snapshot.bin` beside the database (written to a temporary file, synced,
//! then renamed, so a crash leaves the old snapshot or the new one) and hands it to openraft,
//! which streams it to a lagging follower in chunks. Installing one replaces the state tree in a
//! single batch.

use std::collections::BTreeMap;
use std::io::{Cursor, Write};
use std::sync::atomic::Ordering;

use openraft::{RaftSnapshotBuilder, Snapshot, SnapshotMeta, StorageError, StorageIOError};

use super::{keys, reload, Notice, StateMachine};
use crate::codec::{decode, encode};
use crate::{pb, Node, NodeId, TypeConfig};
use prost::Message;

/// The state tree's pairs, as a snapshot carries them.
type Pairs = Vec<(Vec<u8>, Vec<u8>)>;

impl RaftSnapshotBuilder<TypeConfig> for StateMachine {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StorageError<NodeId>> {
        let inner = &*self.inner;
        let cut = match self.cut_without_lock().await? {
            Some(cut) => cut,
            None => self.cut_under_lock().await?,
        };
        let seq = inner.snapshot_seq.fetch_add(1, Ordering::Relaxed);
        let snapshot_id = match cut.applied {
            Some(l) => format!("{}-{}-{}", l.leader_id.term, l.index, seq),
            None => format!("0-0-{seq}"),
        };
        let meta = SnapshotMeta {
            last_log_id: cut.applied,
            last_membership: cut.membership,
            snapshot_id,
        };
        let this = self.clone();
        let (meta, data) = blocking(move || {
            let data = encode(&cut.pairs);
            this.save(&meta, &data)?;
            Ok((meta, data))
        })
        .await?;
        tracing::info!(snapshot_id = %meta.snapshot_id, bytes = data.len(), "built a snapshot");
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

/// The state tree as of one applied log id.
struct Cut {
    applied: Option<openraft::LogId<NodeId>>,
    membership: openraft::StoredMembership<NodeId, Node>,
    pairs: Pairs,
}

/// Runs disk- and CPU-heavy work (copying, encoding, writing a whole state) on the blocking
/// pool, so the runtime's few threads keep serving Raft and clients meanwhile.
async fn blocking<T, F>(f: F) -> Result<T, StorageError<NodeId>>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, StorageError<NodeId>> + Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StorageIOError::read_state_machine(&std::io::Error::other(e.to_string())))?
}

fn read_err(e: sled::Error) -> StorageError<NodeId> {
    StorageIOError::read_state_machine(&e).into()
}

impl StateMachine {
    /// Copies everything while holding the lock: simple, but applies wait for it.
    async fn cut_under_lock(&self) -> Result<Cut, StorageError<NodeId>> {
        let inner = &*self.inner;
        let meta = inner.meta.read().await;
        let mut pairs: Pairs = Vec::new();
        for item in inner.tree.iter() {
            let (k, v) = item.map_err(read_err)?;
            if k.as_ref() != keys::META_APPLIED && k.as_ref() != keys::META_MEMBERSHIP {
                pairs.push((k.to_vec(), v.to_vec()));
            }
        }
        Ok(Cut {
            applied: meta.applied,
            membership: meta.membership.clone(),
            pairs,
        })
    }

    /// Copies the keys and events without the lock, then repairs them to the revision the
    /// copy started at. None if the events needed for the repair were compacted meanwhile.
    async fn cut_without_lock(&self) -> Result<Option<Cut>, StorageError<NodeId>> {
        let inner = &*self.inner;
        let start = inner.meta.read().await.clone();
        let rev = start.revision;
        let tree = inner.tree.clone();
        let compacted = start.compacted;
        let (mut kvs, events) = blocking(move || {
            let mut kvs: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
            for item in tree.range(vec![keys::KV]..vec![keys::KV + 1]) {
                let (k, v) = item.map_err(read_err)?;
                kvs.insert(k.to_vec(), v.to_vec());
            }
            let mut events: Pairs = Vec::new();
            for item in tree.range(keys::event(compacted + 1)..keys::event(rev + 1)) {
                let (k, v) = item.map_err(read_err)?;
                events.push((k.to_vec(), v.to_vec()));
            }
            Ok((kvs, events))
        })
        .await?;
        {
            // Holding the lock while reading the later events: none is applied meanwhile.
            let now = inner.meta.read().await;
            if now.compacted > rev || now.compacted > start.compacted {
                return Ok(None);
            }
            let later: Vec<_> = inner
                .tree
                .range(keys::event(rev + 1)..keys::event(now.revision + 1))
                .collect::<Result<_, _>>()
                .map_err(read_err)?;
            for (_, v) in later.iter().rev() {
                let changes: Vec<pb::Event> =
                    decode(v).map_err(|e| StorageIOError::read_state_machine(&e))?;
                for ev in changes.iter().rev() {
                    let Some(kv) = &ev.kv else { continue };
                    let key = keys::kv(&kv.key);
                    match &ev.prev_kv {
                        Some(prev) => kvs.insert(key, prev.encode_to_vec()),
                        None => kvs.remove(&key),
                    };
                }
            }
        }
        let leases = start.leases.clone();
        let pairs = blocking(move || {
            let mut pairs: Pairs = Vec::with_capacity(kvs.len() * 2 + events.len() + leases.len());
            for (id, ttl) in &leases {
                pairs.push((keys::lease(*id), encode(ttl)));
            }
            for (k, v) in kvs {
                let kv = pb::KeyValue::decode(v.as_slice())
                    .map_err(|e| StorageIOError::read_state_machine(&e))?;
                if kv.lease != 0 {
                    pairs.push((keys::attach(kv.lease, &kv.key), Vec::new()));
                }
                pairs.push((k, v));
            }
            pairs.extend(events);
            pairs.push((keys::META_REVISION.to_vec(), encode(&Some(rev))));
            pairs.push((keys::META_COMPACTED.to_vec(), encode(&compacted)));
            Ok(pairs)
        })
        .await?;
        Ok(Some(Cut {
            applied: start.applied,
            membership: start.membership,
            pairs,
        }))
    }
    fn save(
        &self,
        meta: &SnapshotMeta<NodeId, Node>,
        data: &[u8],
    ) -> Result<(), StorageError<NodeId>> {
        let sig = Some(meta.signature());
        let path = &self.inner.snapshot_path;
        let tmp = path.with_extension("tmp");
        let write = || -> std::io::Result<()> {
            let mut f = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
            bincode::serialize_into(&mut f, meta).map_err(std::io::Error::other)?;
            f.write_all(data)?;
            let f = f.into_inner().map_err(|e| e.into_error())?;
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
        // The file is the snapshot's meta (bincode) followed by its data.
        let mut reader = Cursor::new(bytes.as_slice());
        let meta: SnapshotMeta<NodeId, Node> = bincode::deserialize_from(&mut reader)
            .map_err(|e| StorageIOError::read_snapshot(None, &e))?;
        let data = bytes[reader.position() as usize..].to_vec();
        Ok(Some(Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(data)),
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
        let (this, kept) = (self.clone(), meta.clone());
        blocking(move || this.save(&kept, &data)).await?;
        tracing::info!(snapshot_id = %meta.snapshot_id, "installed a snapshot");
        let _ = inner.notices.send(Notice::Reset);
        Ok(())
    }
}
