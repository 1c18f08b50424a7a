//! `forest worker`: a ready-made worker, built on the SDK (`forest-sdk`) like any other, for
//! jobs that need no code of their own: a job whose target is `shell` runs its params as a
//! `/bin/sh` command ([`shell`]), one whose target is `http` makes the HTTP request its params
//! describe ([`http`]). Any other target is answered with status 3 (unknown target), as the
//! original forest clients answer it.
//!
//! Everything else (the stream to the cluster, claims, concurrency, reconnects, timeouts,
//! draining on SIGTERM) is the SDK's.

pub mod http;
pub mod shell;

use std::time::Duration;

use anyhow::Context as _;
use forest_sdk::Worker;

/// `forest worker` flags.
#[derive(Debug, Clone, clap::Args)]
pub struct WorkerOptions {
    /// Nodes to connect to, HOST:PORT of their gRPC listeners; any one will do, the others
    /// are where the worker goes when its node is lost.
    #[arg(
        long,
        default_value = "127.0.0.1:7070",
        env = "FOREST_ENDPOINTS",
        value_delimiter = ','
    )]
    pub endpoints: Vec<String>,
    /// The job group to serve (it must exist: `forest ctl group add`).
    #[arg(long, env = "FOREST_GROUP")]
    pub group: String,
    /// This worker's name, unique within its group; defaults to the host name.
    #[arg(long, env = "FOREST_WORKER_NAME")]
    pub name: Option<String>,
    /// How many runs at once.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub concurrency: u32,
    /// A label, KEY=VALUE; may be repeated.
    #[arg(long = "label", value_name = "KEY=VALUE", value_parser = parse_label)]
    pub labels: Vec<(String, String)>,
    /// On SIGTERM or ctrl-c, how long runs under way may go on before they are cancelled.
    #[arg(long, default_value_t = 30_000)]
    pub drain_timeout_ms: u64,
}

/// Serves the group until SIGTERM or ctrl-c, then drains.
pub async fn run(opts: WorkerOptions) -> anyhow::Result<()> {
    let mut builder = Worker::builder()
        .endpoints(opts.endpoints)
        .group(opts.group)
        .concurrency(opts.concurrency)
        .drain_timeout(Duration::from_millis(opts.drain_timeout_ms))
        .version(concat!("forest-worker/", env!("CARGO_PKG_VERSION")))
        .target(shell::TARGET, shell::Shell)
        .target(http::TARGET, http::Http::new()?);
    if let Some(name) = opts.name {
        builder = builder.name(name);
    }
    for (key, value) in opts.labels {
        builder = builder.label(key, value);
    }
    let worker = builder.build().context("cannot start the worker")?;
    tracing::info!(name = worker.name(), "worker starting");
    worker.run().await;
    Ok(())
}

fn parse_label(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| format!("{s:?} is not KEY=VALUE"))
}
