//! What the cluster benchmarks share: a local cluster with the bench group and no-op workers,
//! jobs loaded through the job service, and watches of a key prefix.

use std::sync::Arc;
use std::time::Instant;

use futures::StreamExt;
use tonic::Streaming;

use super::local::LocalCluster;
use super::noop;
use crate::cli::client::{channel, status};
use crate::model::{JobConf, WireJson};
use crate::pb::forest::{jobs_client::JobsClient, GroupJson, JobJson};
use crate::pb::kv::{watch_client::WatchClient, WatchResponse};

/// The group every benchmark job and worker belongs to.
pub const GROUP: &str = "bench";

/// Starts `nodes` local nodes, creates the bench group and connects `workers` no-op workers.
pub async fn start(
    nodes: usize,
    workers: usize,
) -> anyhow::Result<(LocalCluster, Arc<noop::Tally>)> {
    let cluster = LocalCluster::start(nodes).await?;
    JobsClient::new(channel(&cluster.endpoints[0]).await?)
        .add_group(GroupJson {
            json: format!(r#"{{"name":"{GROUP}","remark":"forest bench"}}"#),
        })
        .await
        .map_err(status)?;
    let tally = noop::Tally::new();
    noop::spawn(&cluster.endpoints, GROUP, workers, tally.clone()).await?;
    eprintln!("{workers} no-op workers connected");
    Ok((cluster, tally))
}

fn job_json(i: usize, cron: String) -> String {
    JobConf {
        name: format!("bench-{i}"),
        group: GROUP.into(),
        cron,
        status: 1,
        target: "noop".into(),
        timezone: "UTC".into(),
        ..Default::default()
    }
    .to_json()
}

/// Adds jobs `from..to` with `cron(i)`, 32 requests in flight; returns the job ids.
pub async fn load_jobs(
    endpoint: &str,
    from: usize,
    to: usize,
    cron: impl Fn(usize) -> String,
) -> anyhow::Result<Vec<String>> {
    let jobs = JobsClient::new(channel(endpoint).await?);
    let started = Instant::now();
    let mut ids = Vec::with_capacity(to - from);
    let mut calls = futures::stream::iter(from..to)
        .map(|i| {
            let mut jobs = jobs.clone();
            let json = job_json(i, cron(i));
            async move { jobs.add_job(JobJson { json }).await }
        })
        .buffer_unordered(32);
    while let Some(r) = calls.next().await {
        let stored = JobConf::from_json(r.map_err(status)?.get_ref().json.as_bytes())?;
        ids.push(stored.id);
        if ids.len() % 10_000 == 0 {
            eprintln!(
                "loaded {} jobs ({:.0}/s)",
                ids.len(),
                ids.len() as f64 / started.elapsed().as_secs_f64()
            );
        }
    }
    Ok(ids)
}

/// Every change under `prefix` from now on, through the node at `endpoint`.
pub async fn watch(endpoint: &str, prefix: &str) -> anyhow::Result<Streaming<WatchResponse>> {
    Ok(WatchClient::new(channel(endpoint).await?)
        .watch(crate::kv::ops::prefix_watch(prefix, 0, false))
        .await
        .map_err(status)?
        .into_inner())
}
