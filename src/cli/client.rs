//! Connecting to a cluster: the first of `--endpoints` that answers.

use std::time::Duration;

use anyhow::{anyhow, Context};
use tonic::transport::{Channel, Endpoint};

use crate::kv::service::MAX_REQUEST_BYTES;
use crate::pb::kv::{
    cluster_client::ClusterClient, kv_client::KvClient, lease_client::LeaseClient,
    watch_client::WatchClient,
};

/// gRPC clients of one node.
pub struct Clients {
    pub kv: KvClient<Channel>,
    pub lease: LeaseClient<Channel>,
    pub watch: WatchClient<Channel>,
    pub cluster: ClusterClient<Channel>,
}

pub async fn connect(endpoints: &[String]) -> anyhow::Result<Clients> {
    let mut last = anyhow!("no --endpoints given");
    for ep in endpoints {
        match channel(ep).await {
            Ok(ch) => {
                return Ok(Clients {
                    kv: KvClient::new(ch.clone())
                        .max_decoding_message_size(MAX_REQUEST_BYTES)
                        .max_encoding_message_size(MAX_REQUEST_BYTES),
                    lease: LeaseClient::new(ch.clone()),
                    watch: WatchClient::new(ch.clone()),
                    cluster: ClusterClient::new(ch),
                })
            }
            Err(e) => last = e,
        }
    }
    Err(last)
}

pub async fn channel(endpoint: &str) -> anyhow::Result<Channel> {
    let url = if endpoint.contains("://") {
        endpoint.to_string()
    } else {
        format!("http://{endpoint}")
    };
    Endpoint::from_shared(url)
        .with_context(|| format!("bad endpoint {endpoint:?}"))?
        .connect_timeout(Duration::from_secs(2))
        .tcp_nodelay(true)
        .connect()
        .await
        .with_context(|| format!("cannot connect to {endpoint}"))
}

/// A gRPC failure as one line.
pub fn status(s: tonic::Status) -> anyhow::Error {
    anyhow!("{}: {}", code_name(s.code()), s.message())
}

fn code_name(c: tonic::Code) -> &'static str {
    use tonic::Code::*;
    match c {
        InvalidArgument => "invalid argument",
        NotFound => "not found",
        AlreadyExists => "already exists",
        FailedPrecondition => "conflict",
        OutOfRange => "out of range",
        Unavailable => "unavailable",
        Unknown => "outcome unknown",
        DeadlineExceeded => "timed out",
        _ => "error",
    }
}
