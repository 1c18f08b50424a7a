//! The replicated key-value state machine (etcd's data model) on sled.
//!
//! openraft owns the [`StateMachine`] and applies committed entries to it; the rest of Forest
//! reads through a [`KvState`] handle to the same data. A readers-writer lock makes each entry's
//! effect appear whole: readers never see half of a transaction.
//!
//! After each entry that changed keys, its events go out on a broadcast channel; watchers pair
//! that live feed with the retained events in the tree (see `read.rs`) to resume from any
//! revision that has not been compacted.

mod apply;
mod keys;
mod read;
mod snapshot;
mod writer;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use openraft::storage::RaftStateMachine;
use openraft::{
    Entry, EntryPayload, LogId, OptionalSend, StorageError, StorageIOError, StoredMembership,
};
use tokio::sync::{broadcast, RwLock};

pub use keys::{in_range, prefix_end};
pub use read::Batches;

use crate::codec::{decode, encode, read_err};
use crate::error::ReadError;
use crate::{pb, Command, Node, NodeId, Reply, Response, TypeConfig};
use apply::{Applier, Failure};
use writer::Writer;

/// What watchers hear after each applied change.
#[derive(Debug, Clone)]
pub enum Notice {
    /// The events of one revision, in the order they happened.
    Events(i64, Arc<Vec<pb::Event>>),
    /// The whole state was replaced by a snapshot: re-read the retained events.
    Reset,
}

/// In-memory mirror of the small state every entry touches.
#[derive(Debug, Default, Clone)]
pub struct Meta {
    pub applied: Option<LogId<NodeId>>,
    pub membership: StoredMembership<NodeId, Node>,
    pub revision: i64,
    pub compacted: i64,
    /// Lease id → granted TTL (seconds).
    pub leases: BTreeMap<i64, i64>,
}

pub(crate) struct Inner {
    db: sled::Db,
    tree: sled::Tree,
    snapshot_path: PathBuf,
    meta: RwLock<Meta>,
    notices: broadcast::Sender<Notice>,
    snapshot_seq: AtomicU64,
}

/// The state machine openraft drives.
#[derive(Clone)]
pub struct StateMachine {
    inner: Arc<Inner>,
}

/// Read access to the applied state, for the layers above storage. Cheap to clone.
#[derive(Clone)]
pub struct KvState {
    inner: Arc<Inner>,
}

/// A summary of the applied state.
#[derive(Debug, Clone)]
pub struct Applied {
    pub log_id: Option<LogId<NodeId>>,
    pub revision: i64,
    pub compacted: i64,
}

fn load_meta(tree: &sled::Tree) -> Result<Meta, String> {
    fn get<T: serde::de::DeserializeOwned + Default>(
        tree: &sled::Tree,
        k: &[u8],
    ) -> Result<T, String> {
        match tree.get(k).map_err(|e| e.to_string())? {
            None => Ok(T::default()),
            Some(v) => decode(&v).map_err(|e| format!("{}: {e}", String::from_utf8_lossy(k))),
        }
    }
    let mut leases = BTreeMap::new();
    for item in tree.scan_prefix([keys::LEASE]) {
        let (k, v) = item.map_err(|e| e.to_string())?;
        let id = crate::codec::from_be(&k[1..]).ok_or("a lease key is not 8 bytes")? as i64;
        leases.insert(id, decode::<i64>(&v).map_err(|e| e.to_string())?);
    }
    Ok(Meta {
        applied: get(tree, keys::META_APPLIED)?,
        membership: get(tree, keys::META_MEMBERSHIP)?,
        revision: get::<Option<i64>>(tree, keys::META_REVISION)?.unwrap_or(1),
        compacted: get(tree, keys::META_COMPACTED)?,
        leases,
    })
}

impl StateMachine {
    pub(crate) fn new(db: sled::Db, snapshot_path: PathBuf) -> Result<Self, String> {
        let tree = db.open_tree("state").map_err(|e| e.to_string())?;
        let meta = load_meta(&tree)?;
        let (notices, _) = broadcast::channel(4096);
        Ok(StateMachine {
            inner: Arc::new(Inner {
                db,
                tree,
                snapshot_path,
                meta: RwLock::new(meta),
                notices,
                snapshot_seq: AtomicU64::new(0),
            }),
        })
    }

    pub fn reader(&self) -> KvState {
        KvState {
            inner: self.inner.clone(),
        }
    }
}

fn failure_to_storage(f: Failure) -> StorageError<NodeId> {
    match f {
        Failure::Io(e) => StorageIOError::write_state_machine(&e).into(),
        Failure::Corrupt(s) => {
            StorageIOError::write_state_machine(&std::io::Error::other(s)).into()
        }
        Failure::Rejected(e) => {
            StorageIOError::write_state_machine(&std::io::Error::other(e.to_string())).into()
        }
    }
}

fn failure_to_read(f: Failure) -> ReadError {
    match f {
        Failure::Rejected(e) => ReadError::Rejected(e),
        Failure::Io(e) => ReadError::Storage(e.to_string()),
        Failure::Corrupt(s) => ReadError::Storage(s),
    }
}

/// Stages one command's effect in `w`. A rejected command stages nothing (the applier checks
/// everything before it writes), so commands sharing an entry cannot taint one another.
fn apply_one(
    w: &mut Writer<'_>,
    meta: &mut Meta,
    cmd: Command,
    notices: &mut Vec<Notice>,
) -> Result<Response, StorageError<NodeId>> {
    let mut applier = Applier {
        w,
        meta,
        events: Vec::new(),
    };
    let result = match applier.apply(cmd) {
        Ok(reply) => Ok(reply),
        Err(Failure::Rejected(e)) => Err(e),
        Err(f) => return Err(failure_to_storage(f)),
    };
    let events = std::mem::take(&mut applier.events);
    if !events.is_empty() {
        meta.revision += 1;
        w.put(keys::event(meta.revision), encode(&events));
        notices.push(Notice::Events(meta.revision, Arc::new(events)));
    }
    Ok(Response {
        revision: meta.revision,
        result,
    })
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotBuilder = Self;

    async fn applied_state(
        &mut self,
    ) -> Result<(Option<LogId<NodeId>>, StoredMembership<NodeId, Node>), StorageError<NodeId>> {
        let meta = self.inner.meta.read().await;
        Ok((meta.applied, meta.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<Response>, StorageError<NodeId>>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let inner = &*self.inner;
        let mut meta = inner.meta.write().await;
        let mut replies = Vec::new();
        for entry in entries {
            let mut w = Writer::new(&inner.tree);
            let mut notices = Vec::new();
            let compacted_before = meta.compacted;
            let result = match entry.payload {
                EntryPayload::Blank => Ok(Reply::None),
                EntryPayload::Membership(m) => {
                    meta.membership = StoredMembership::new(Some(entry.log_id), m);
                    w.put(keys::META_MEMBERSHIP.to_vec(), encode(&meta.membership));
                    Ok(Reply::None)
                }
                EntryPayload::Normal(Command::Batch(cmds)) => {
                    let mut each = Vec::with_capacity(cmds.len());
                    for cmd in cmds {
                        each.push(apply_one(&mut w, &mut meta, cmd, &mut notices)?);
                    }
                    Ok(Reply::Batch(each))
                }
                EntryPayload::Normal(cmd) => {
                    apply_one(&mut w, &mut meta, cmd, &mut notices)?.result
                }
            };
            if !notices.is_empty() {
                w.put(keys::META_REVISION.to_vec(), encode(&Some(meta.revision)));
            }
            if meta.compacted != compacted_before {
                w.put(keys::META_COMPACTED.to_vec(), encode(&meta.compacted));
            }
            meta.applied = Some(entry.log_id);
            w.put(keys::META_APPLIED.to_vec(), encode(&meta.applied));
            inner
                .tree
                .apply_batch(w.into_batch())
                .map_err(|e| StorageIOError::write_state_machine(&e))?;
            for notice in notices {
                let _ = inner.notices.send(notice);
            }
            replies.push(Response {
                revision: meta.revision,
                result,
            });
        }
        Ok(replies)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.clone()
    }

    async fn begin_receiving_snapshot(
        &mut self,
    ) -> Result<Box<std::io::Cursor<Vec<u8>>>, StorageError<NodeId>> {
        Ok(Box::new(std::io::Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &openraft::SnapshotMeta<NodeId, Node>,
        snapshot: Box<std::io::Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError<NodeId>> {
        self.install(meta, snapshot.into_inner()).await
    }

    async fn get_current_snapshot(
        &mut self,
    ) -> Result<Option<openraft::Snapshot<TypeConfig>>, StorageError<NodeId>> {
        self.load_snapshot()
    }
}

impl KvState {
    /// Reads a range as applied on this node (now, or at `req.revision`).
    pub async fn range(&self, req: &pb::RangeRequest) -> Result<pb::RangeResponse, ReadError> {
        let meta = self.inner.meta.read().await;
        self.inner
            .range_locked(req, meta.revision, meta.compacted)
            .map_err(failure_to_read)
    }

    /// The retained events from revision `from` up to now that touch the range, and the
    /// revision they run to. Fails with `Compacted` when `from` is no longer retained.
    pub async fn events_since(
        &self,
        from: i64,
        key: &[u8],
        range_end: &[u8],
    ) -> Result<(Batches, i64), ReadError> {
        let meta = self.inner.meta.read().await;
        if from <= meta.compacted {
            return Err(ReadError::Rejected(crate::ApplyError::Compacted {
                requested: from,
                compacted: meta.compacted,
            }));
        }
        let batches = self
            .inner
            .events_locked(from, meta.revision, key, range_end)
            .map_err(failure_to_read)?;
        Ok((batches, meta.revision))
    }

    /// Live feed of applied changes. Subscribe before reading history, then skip what the
    /// history already gave.
    pub fn subscribe(&self) -> broadcast::Receiver<Notice> {
        self.inner.notices.subscribe()
    }

    pub async fn applied(&self) -> Applied {
        let meta = self.inner.meta.read().await;
        Applied {
            log_id: meta.applied,
            revision: meta.revision,
            compacted: meta.compacted,
        }
    }

    /// Bytes the node's database takes on disk (the Raft log included).
    pub fn size_on_disk(&self) -> Result<u64, ReadError> {
        self.inner
            .db
            .size_on_disk()
            .map_err(|e| ReadError::Storage(e.to_string()))
    }

    /// Every lease and its granted TTL.
    pub async fn leases(&self) -> BTreeMap<i64, i64> {
        self.inner.meta.read().await.leases.clone()
    }

    /// A lease's granted TTL and the keys attached to it.
    pub async fn lease(&self, id: i64) -> Result<Option<(i64, Vec<Vec<u8>>)>, ReadError> {
        let meta = self.inner.meta.read().await;
        let Some(ttl) = meta.leases.get(&id).copied() else {
            return Ok(None);
        };
        let prefix = keys::attach_prefix(id);
        let mut attached = Vec::new();
        for item in self.inner.tree.scan_prefix(&prefix) {
            let (k, _) = item.map_err(|e| ReadError::Storage(e.to_string()))?;
            attached.push(k[prefix.len()..].to_vec());
        }
        Ok(Some((ttl, attached)))
    }
}

pub(crate) fn reload(inner: &Inner) -> Result<Meta, StorageError<NodeId>> {
    load_meta(&inner.tree).map_err(|e| read_err(std::io::Error::other(e)))
}
