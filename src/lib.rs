//! Forest: a distributed cron scheduler in one binary.
//!
//! The nodes form their own Raft group ([`cluster`]) and replicate one key-value store
//! ([`kv`], on `forest-storage`), keeping the original forest's `/forest/...` key layout
//! ([`model`]). [`server`] assembles a running node; [`worker`] is the ready-made worker (on
//! `forest-sdk`); [`cli`] is the command line.

pub mod auth;
pub mod cli;
pub mod cluster;
pub mod cron;
pub mod etcd;
/// The fuzz targets' bodies, for `fuzz/` and the regression tests.
#[doc(hidden)]
pub mod fuzz;
pub mod history;
pub mod http;
pub mod jobs;
pub mod kv;
pub mod model;
pub mod scheduler;
pub mod server;
pub mod worker;
pub mod workers;

/// Generated gRPC code.
pub mod pb {
    /// The public KV API: messages from forest-storage, services generated here.
    pub mod kv {
        pub use forest_storage::pb::*;
        tonic::include_proto!("forest.kv.v1");
    }
    /// Forest's own services (jobs, groups, the worker stream): generated once, in the SDK.
    pub use forest_sdk::pb as forest;
    /// etcd's v3 API (`proto/etcd/`, etcd's own packages): the adapter serves it, the KV
    /// benchmark speaks it to Forest and to a real etcd alike.
    pub mod etcd {
        pub mod etcdserverpb {
            tonic::include_proto!("etcdserverpb");
        }
        pub mod mvccpb {
            tonic::include_proto!("mvccpb");
        }
        pub mod authpb {
            tonic::include_proto!("authpb");
        }
    }
    /// Node-to-node traffic.
    pub mod raft {
        tonic::include_proto!("forest.raft.v1");
    }
}
