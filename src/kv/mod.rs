//! The one door to replicated state. Everything above storage reads and writes through [`Kv`]:
//! put / range / delete / txn / compact, leases, and watches, with etcd's semantics.
//!
//! Writes become Raft commands (forwarded to the leader by [`crate::cluster`]); reads are
//! linearizable unless the request asks for a serializable (local, possibly stale) read.
//! Requests are checked here, before anything is proposed: a bad one changes nothing.

mod compaction;
mod error;
mod lease;
pub mod ops;
pub mod service;
mod watch;

use std::sync::Arc;

use forest_storage::{Command, Reply, Response};

use crate::cluster::Cluster;
use crate::pb::kv as pb;
pub use error::{Invalid, KvError};
pub use forest_storage::state::prefix_end;
use lease::LeaseKeeper;
pub use watch::WatchStream;

/// The largest key (etcd's limit is of the same order).
pub const MAX_KEY_BYTES: usize = 1536;
/// The largest value: 1.5 MiB, etcd's request limit.
pub const MAX_VALUE_BYTES: usize = 1536 * 1024;
/// The most operations one transaction may carry (etcd's default).
pub const MAX_TXN_OPS: usize = 128;
/// The longest lease TTL, in seconds (etcd's).
pub const MAX_LEASE_TTL: i64 = 9_000_000_000;

/// Tunables of the KV layer.
#[derive(Debug, Clone)]
pub struct KvConfig {
    /// How many revisions of change history to keep for watches and past reads.
    pub retain_revisions: i64,
}

/// Handle to the replicated store. Cheap to clone.
#[derive(Clone)]
pub struct Kv {
    cluster: Cluster,
    leases: Arc<LeaseKeeper>,
}

impl Kv {
    /// Starts the leader-side duties (lease expiry, compaction); they idle on followers.
    pub fn start(cluster: Cluster, config: KvConfig) -> Kv {
        let leases = Arc::new(LeaseKeeper::default());
        tokio::spawn(lease::expire_loop(cluster.clone(), leases.clone()));
        tokio::spawn(compaction::run(cluster.clone(), config.retain_revisions));
        Kv { cluster, leases }
    }

    pub fn cluster(&self) -> &Cluster {
        &self.cluster
    }

    /// The header of an answer at `revision`: this cluster, this node, its Raft term.
    pub fn header(&self, revision: i64) -> Option<pb::ResponseHeader> {
        Some(pb::ResponseHeader {
            revision,
            member_id: self.cluster.id(),
            raft_term: self.cluster.metrics().current_term,
            cluster_id: self.cluster.cluster_id(),
        })
    }

    /// Commits a command and returns its response, its header naming this node and term.
    async fn propose<T>(&self, cmd: Command) -> Result<T, KvError>
    where
        T: TryFrom<Reply, Error = Reply> + Stamped,
    {
        let Response { result, .. } = self.cluster.write(cmd).await?;
        self.unwrap_reply(result)
    }

    fn unwrap_reply<T>(
        &self,
        result: Result<Reply, forest_storage::ApplyError>,
    ) -> Result<T, KvError>
    where
        T: TryFrom<Reply, Error = Reply> + Stamped,
    {
        let mut resp = T::try_from(result?).map_err(KvError::unexpected)?;
        let header = resp.header();
        *header = self.header(header.as_ref().map_or(0, |h| h.revision));
        Ok(resp)
    }

    pub async fn range(&self, req: pb::RangeRequest) -> Result<pb::RangeResponse, KvError> {
        check_key(&req.key)?;
        if req.limit < 0 {
            return Err(Invalid::NegativeLimit.into());
        }
        if !req.serializable {
            self.cluster.read_barrier().await?;
        }
        let mut resp = self.cluster.state().range(&req).await?;
        resp.header = self.header(resp.header.map_or(0, |h| h.revision));
        Ok(resp)
    }

    /// One key, if it exists: read linearizably, or from this node's own copy when
    /// `serializable`.
    pub async fn get(
        &self,
        key: &str,
        serializable: bool,
    ) -> Result<Option<pb::KeyValue>, KvError> {
        let r = self
            .range(pb::RangeRequest {
                key: key.as_bytes().to_vec(),
                serializable,
                ..Default::default()
            })
            .await?;
        Ok(r.kvs.into_iter().next())
    }

    pub async fn put(&self, req: pb::PutRequest) -> Result<pb::PutResponse, KvError> {
        check_put(&req)?;
        self.propose(Command::Put(req)).await
    }

    pub async fn delete(
        &self,
        req: pb::DeleteRangeRequest,
    ) -> Result<pb::DeleteRangeResponse, KvError> {
        check_key(&req.key)?;
        self.propose(Command::Delete(req)).await
    }

    pub async fn txn(&self, req: pb::TxnRequest) -> Result<pb::TxnResponse, KvError> {
        check_txn(&req)?;
        self.propose(Command::Txn(req)).await
    }

    /// A transaction committed only while this node leads (it is never forwarded): for
    /// leader-only duties, so that a deposed leader's work fails instead of landing.
    pub async fn txn_as_leader(&self, req: pb::TxnRequest) -> Result<pb::TxnResponse, KvError> {
        check_txn(&req)?;
        let Response { result, .. } = self.cluster.write_as_leader(Command::Txn(req)).await?;
        self.unwrap_reply(result)
    }

    pub async fn compact(&self, revision: i64) -> Result<pb::CompactionResponse, KvError> {
        self.propose(Command::Compact(pb::CompactionRequest { revision }))
            .await
    }

    /// Grants a lease; `id` 0 picks a fresh one.
    pub async fn lease_grant(&self, ttl: i64, id: i64) -> Result<pb::LeaseGrantResponse, KvError> {
        if ttl <= 0 || ttl > MAX_LEASE_TTL {
            return Err(Invalid::LeaseTtl(ttl).into());
        }
        if id < 0 {
            return Err(Invalid::NegativeLease.into());
        }
        let id = if id == 0 {
            rand::random_range(1..i64::MAX)
        } else {
            id
        };
        let resp = self
            .propose(Command::LeaseGrant(pb::LeaseGrantRequest { ttl, id }))
            .await?;
        self.leases.granted(id, ttl);
        Ok(resp)
    }

    pub async fn lease_revoke(&self, id: i64) -> Result<pb::LeaseRevokeResponse, KvError> {
        self.propose(Command::LeaseRevoke(pb::LeaseRevokeRequest { id }))
            .await
    }

    /// Renews a lease for its full TTL. Only the leader keeps lease clocks, so a follower
    /// passes the call on.
    pub async fn lease_keep_alive(&self, id: i64) -> Result<pb::LeaseKeepAliveResponse, KvError> {
        if !self.cluster.is_leader() {
            return lease::keep_alive_at_leader(&self.cluster, id).await;
        }
        let ttl = self.leases.renew(self.cluster.state(), id).await?;
        let revision = self.cluster.state().applied().await.revision;
        Ok(pb::LeaseKeepAliveResponse {
            header: self.header(revision),
            id,
            ttl,
        })
    }

    pub async fn lease_time_to_live(
        &self,
        req: pb::LeaseTimeToLiveRequest,
    ) -> Result<pb::LeaseTimeToLiveResponse, KvError> {
        if !self.cluster.is_leader() {
            return lease::time_to_live_at_leader(&self.cluster, req).await;
        }
        let state = self.cluster.state();
        let revision = state.applied().await.revision;
        let mut resp = pb::LeaseTimeToLiveResponse {
            header: self.header(revision),
            id: req.id,
            ttl: -1,
            ..Default::default()
        };
        if let Some((granted, keys)) = state.lease(req.id).await? {
            resp.granted_ttl = granted;
            resp.ttl = self.leases.remaining(req.id, granted);
            if req.keys {
                resp.keys = keys;
            }
        }
        Ok(resp)
    }

    /// Every lease's id, as of a linearizable read, with the header of that read.
    pub async fn lease_ids(&self) -> Result<(Option<pb::ResponseHeader>, Vec<i64>), KvError> {
        self.cluster.read_barrier().await?;
        let state = self.cluster.state();
        let ids = state.leases().await.into_keys().collect();
        Ok((self.header(state.applied().await.revision), ids))
    }

    /// Bytes this node's database takes on disk (the Raft log included).
    pub fn size_on_disk(&self) -> Result<u64, KvError> {
        Ok(self.cluster.state().size_on_disk()?)
    }

    /// The header of an answer that reads no keys: the revision this node has applied.
    pub async fn header_now(&self) -> Option<pb::ResponseHeader> {
        self.header(self.cluster.state().applied().await.revision)
    }

    /// Every change to the range from `start_revision` on (or from now), in order.
    pub fn watch(&self, req: pb::WatchRequest) -> Result<WatchStream, KvError> {
        check_key(&req.key)?;
        Ok(watch::start(self.clone(), req))
    }
}

/// A response whose header [`Kv`] fills in.
trait Stamped {
    fn header(&mut self) -> &mut Option<pb::ResponseHeader>;
}

macro_rules! stamped {
    ($($t:ty),*) => {$(
        impl Stamped for $t {
            fn header(&mut self) -> &mut Option<pb::ResponseHeader> {
                &mut self.header
            }
        }
    )*};
}

stamped!(
    pb::PutResponse,
    pb::DeleteRangeResponse,
    pb::TxnResponse,
    pb::CompactionResponse,
    pb::LeaseGrantResponse,
    pb::LeaseRevokeResponse
);

fn check_key(key: &[u8]) -> Result<(), Invalid> {
    if key.is_empty() {
        return Err(Invalid::EmptyKey);
    }
    if key.len() > MAX_KEY_BYTES {
        return Err(Invalid::KeyTooLong(key.len()));
    }
    Ok(())
}

fn check_put(req: &pb::PutRequest) -> Result<(), Invalid> {
    check_key(&req.key)?;
    if req.value.len() > MAX_VALUE_BYTES {
        return Err(Invalid::ValueTooLarge(req.value.len()));
    }
    if req.lease < 0 {
        return Err(Invalid::NegativeLease);
    }
    if req.ignore_value && !req.value.is_empty() {
        return Err(Invalid::ValueProvided);
    }
    if req.ignore_lease && req.lease != 0 {
        return Err(Invalid::LeaseProvided);
    }
    Ok(())
}

fn check_txn(req: &pb::TxnRequest) -> Result<(), Invalid> {
    check_txn_within(req, MAX_TXN_OPS)
}

/// A nested transaction may carry only what its parent leaves of the limit (etcd's rule).
fn check_txn_within(req: &pb::TxnRequest, max_ops: usize) -> Result<(), Invalid> {
    let ops = req
        .compare
        .len()
        .max(req.success.len())
        .max(req.failure.len());
    if ops > max_ops {
        return Err(Invalid::TooManyOps(ops));
    }
    for c in &req.compare {
        check_key(&c.key)?;
    }
    for branch in [&req.success, &req.failure] {
        let mut written = std::collections::HashSet::new();
        for op in branch {
            use pb::request_op::Request;
            match &op.request {
                Some(Request::Put(p)) => {
                    check_put(p)?;
                    if !written.insert(&p.key) {
                        return Err(Invalid::DuplicateKey);
                    }
                }
                Some(Request::Range(r)) => {
                    check_key(&r.key)?;
                    if r.revision != 0 {
                        return Err(Invalid::RevisionInTxn);
                    }
                }
                Some(Request::DeleteRange(d)) => check_key(&d.key)?,
                Some(Request::Txn(t)) => check_txn_within(t, max_ops - ops)?,
                None => return Err(Invalid::EmptyOp),
            }
        }
    }
    Ok(())
}
