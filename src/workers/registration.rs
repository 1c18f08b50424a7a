//! A worker's place in the registry: `/forest/client/<group>/clients/<name>` (the original's
//! key, which is all the scheduler looks at) and `/forest/server/worker/<group>/<name>` (its
//! details), both under one lease.
//!
//! Registering is one transaction that fails if either key exists, so two workers can never
//! hold one name, whatever nodes they reach. A worker that reconnects says the session it
//! registered with and takes the registration over (same lease, the runs it holds stay its
//! own) instead of being refused. When a stream ends, the node waits a grace period and then
//! revokes the lease, so failover starts at once, unless the worker has come back meanwhile.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::Utc;
use tonic::Status;

use super::Timings;
use crate::kv::{ops, Kv, KvError};
use crate::model::{keys, WireJson, WorkerInfo};
use crate::pb::forest::Hello;
use crate::pb::kv::TxnRequest;

/// This node's registrations: which stream holds each (group, name) now, so an ending stream
/// does not revoke what a newer stream on this node took over.
#[derive(Default)]
pub struct Local {
    holders: Mutex<HashMap<(String, String), u64>>,
    next: std::sync::atomic::AtomicU64,
}

impl Local {
    fn claim(&self, group: &str, name: &str) -> u64 {
        let ticket = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if let Ok(mut h) = self.holders.lock() {
            h.insert((group.to_string(), name.to_string()), ticket);
        }
        ticket
    }

    /// Whether `ticket` still holds the name, forgetting it if so.
    fn release(&self, group: &str, name: &str, ticket: u64) -> bool {
        let Ok(mut h) = self.holders.lock() else {
            return false;
        };
        let key = (group.to_string(), name.to_string());
        if h.get(&key) == Some(&ticket) {
            h.remove(&key);
            return true;
        }
        false
    }
}

pub struct Registration {
    pub info: WorkerInfo,
    ticket: u64,
}

fn kv_status(e: KvError) -> Status {
    e.into()
}

async fn get(kv: &Kv, key: &str) -> Result<Option<(Vec<u8>, i64)>, Status> {
    Ok(kv
        .get(key, false)
        .await
        .map_err(kv_status)?
        .map(|kv| (kv.value, kv.mod_revision)))
}

pub async fn register(
    kv: &Kv,
    timings: Timings,
    local: &Local,
    hello: &Hello,
) -> Result<Registration, Status> {
    let (group, name) = (hello.group.as_str(), hello.name.as_str());
    if get(kv, &keys::group(group)).await?.is_none() {
        return Err(Status::not_found(format!(
            "group {group:?} does not exist; create it first (forest ctl group add)"
        )));
    }
    let mut info = WorkerInfo {
        group: group.to_string(),
        name: name.to_string(),
        session: hello.session.clone(),
        lease: 0,
        node: kv.cluster().name().to_string(),
        capacity: hello.capacity,
        targets: hello.targets.clone(),
        labels: hello.labels.clone().into_iter().collect(),
        version: hello.version.clone(),
        connected_at: Utc::now().to_rfc3339(),
    };
    let info_key = keys::worker_info(group, name);
    if let Some((value, rev)) = get(kv, &info_key).await? {
        let held = WorkerInfo::from_json(&value).ok();
        match held {
            Some(old) if old.session == hello.session => {
                if kv.lease_keep_alive(old.lease).await.is_ok() {
                    info.lease = old.lease;
                    info.connected_at = old.connected_at;
                    let txn = TxnRequest {
                        compare: vec![ops::mod_revision_is(&info_key, rev)],
                        success: vec![ops::put_leased(&info_key, info.to_json(), info.lease)],
                        failure: vec![],
                    };
                    if kv.txn(txn).await.map_err(kv_status)?.succeeded {
                        tracing::info!(%group, worker = %name, lease = info.lease, "worker reconnected");
                        let ticket = local.claim(group, name);
                        return Ok(Registration { info, ticket });
                    }
                }
                return Err(Status::unavailable(
                    "the previous registration is ending; reconnect",
                ));
            }
            Some(old) => {
                return Err(Status::already_exists(format!(
                    "a worker named {name:?} is already online in group {group:?} (on node {})",
                    old.node
                )))
            }
            None => {}
        }
    }
    let ttl = timings.lease_ttl.as_secs().max(1) as i64;
    info.lease = kv.lease_grant(ttl, 0).await.map_err(kv_status)?.id;
    let client_key = keys::client(group, name);
    let txn = TxnRequest {
        compare: vec![
            ops::mod_revision_is(&client_key, 0),
            ops::mod_revision_is(&info_key, 0),
        ],
        success: vec![
            ops::put_leased(&client_key, name, info.lease),
            ops::put_leased(&info_key, info.to_json(), info.lease),
        ],
        failure: vec![],
    };
    let ok = kv.txn(txn).await.map_err(kv_status)?.succeeded;
    if !ok {
        let _ = kv.lease_revoke(info.lease).await;
        return Err(Status::already_exists(format!(
            "a worker named {name:?} is already online in group {group:?}"
        )));
    }
    tracing::info!(%group, worker = %name, lease = info.lease, "worker registered");
    let ticket = local.claim(group, name);
    Ok(Registration { info, ticket })
}

/// Revokes the registration's lease a grace period after its stream ended, unless the worker
/// came back (to this node or another) in the meantime. The grace counts from when the
/// cluster answers again: a stream that ended because the cluster was electing a leader must
/// not cost its worker the registration it is trying to take back.
pub async fn release(kv: Kv, timings: Timings, local: &Local, reg: Registration) {
    let (group, name) = (&reg.info.group, &reg.info.name);
    let key = keys::worker_info(group, name);
    while get(&kv, &key).await.is_err() {
        tokio::time::sleep(timings.heartbeat).await;
    }
    tokio::time::sleep(timings.grace).await;
    if !local.release(group, name, reg.ticket) {
        return;
    }
    let current = get(&kv, &key)
        .await
        .ok()
        .flatten()
        .and_then(|(v, _)| WorkerInfo::from_json(&v).ok());
    let still_ours =
        current.is_some_and(|c| c.session == reg.info.session && c.node == reg.info.node);
    if still_ours {
        if let Err(e) = kv.lease_revoke(reg.info.lease).await {
            tracing::warn!(%group, worker = %name, error = %e, "worker lease not revoked; it expires instead");
        } else {
            tracing::info!(%group, worker = %name, "worker gone: registration revoked");
        }
    }
}

/// Keeps the registration's lease alive; `Err` when it is gone (the worker must register anew).
pub async fn keep_alive(kv: &Kv, reg: &Registration) -> Result<(), Status> {
    match kv.lease_keep_alive(reg.info.lease).await {
        Ok(_) => Ok(()),
        Err(e) if e.is_not_found() => Err(Status::unavailable(
            "the worker's registration expired; reconnect",
        )),
        Err(e) => {
            tracing::debug!(error = %e, "worker lease keepalive failed; retrying");
            Ok(())
        }
    }
}
