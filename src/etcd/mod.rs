//! The etcd v3 compatibility adapter (DESIGN §8): etcd's gRPC API on `--etcd-addr`, over the
//! same replicated store as everything else, so the original forest's clients (Go `bus`, Java
//! `cat`), etcdctl and scripts keep working when pointed at Forest instead of etcd. To the
//! scheduler a legacy client is a worker like any other: it only ever sees keys.
//!
//! A front end over [`Kv`] and nothing else: Forest's KV API keeps etcd's model and field
//! numbers, so each service is a thin mapping ([`convert`]) plus what etcd's server does on top
//! of its store: request checks etcd makes and Forest's KV does not ([`kv`]), multiplexed watch
//! streams ([`watch`]), streamed keepalives ([`lease`]). Refusals answer with etcd's own status
//! and message ([`error`]), which clients turn back into etcd's typed errors. One module per
//! etcd service; methods not listed there answer Unimplemented (generated default stubs), as
//! etcd answers what it does not know.

mod auth;
mod cluster;
mod convert;
mod error;
mod kv;
mod lease;
mod maintenance;
mod watch;

use std::sync::Arc;
use std::time::Duration;

use crate::kv::service::MAX_REQUEST_BYTES;
use crate::kv::Kv;
use crate::pb::etcd::etcdserverpb::{
    auth_server, cluster_server, kv_server, lease_server, maintenance_server, watch_server,
};

/// The version Maintenance.Status reports: clients that check the server's version (and
/// refuse one older than 3.x) accept it; it names the API level the adapter follows.
pub const VERSION: &str = "3.5.0";

/// How one node serves the etcd API.
#[derive(Debug, Clone)]
pub struct EtcdConfig {
    /// The URL clients reach this node's etcd endpoint at, as MemberList reports it.
    pub client_url: String,
    /// How often a watch that asked for progress notifications and saw no event gets one
    /// (etcd's `--experimental-watch-progress-notify-interval`).
    pub progress_interval: Duration,
}

/// The etcd services of one node. Cheap to clone.
#[derive(Clone)]
pub struct EtcdService {
    kv: Kv,
    config: Arc<EtcdConfig>,
}

impl EtcdService {
    pub fn new(kv: Kv, config: EtcdConfig) -> Self {
        EtcdService {
            kv,
            config: Arc::new(config),
        }
    }

    /// etcd's KV, Watch, Lease, Cluster, Maintenance and Auth services, each refusing requests
    /// larger than the KV service accepts.
    pub fn routes(self) -> tonic::service::Routes {
        let max = MAX_REQUEST_BYTES;
        tonic::service::Routes::new(
            kv_server::KvServer::new(self.clone()).max_decoding_message_size(max),
        )
        .add_service(watch_server::WatchServer::new(self.clone()).max_decoding_message_size(max))
        .add_service(lease_server::LeaseServer::new(self.clone()).max_decoding_message_size(max))
        .add_service(
            cluster_server::ClusterServer::new(self.clone()).max_decoding_message_size(max),
        )
        .add_service(
            maintenance_server::MaintenanceServer::new(self.clone()).max_decoding_message_size(max),
        )
        .add_service(auth_server::AuthServer::new(self).max_decoding_message_size(max))
    }
}
