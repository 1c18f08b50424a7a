//! `forest worker`: a ready-made worker, built on the SDK (`forest-sdk`) like any other, for
//! jobs that need no code of their own: a job whose target is `shell` runs its params as a
//! `/bin/sh` command ([`shell`]), one whose target is `http` makes the HTTP request its params
//! describe ([`http`]). Any other target is answered with status 3 (unknown target), as the
//! original forest clients answer it.
//!
//! Both run only what the worker was started to allow ([`allow`]): no shell command without
//! `--allow-shell`, no HTTP call to a host not in `--http-allow`.
//!
//! Everything else (the stream to the cluster, claims, concurrency, reconnects, timeouts,
//! draining on SIGTERM) is the SDK's.

pub mod allow;
pub mod http;
pub mod shell;

use std::time::Duration;

use anyhow::Context as _;
use forest_sdk::Worker;

use allow::{CommandPattern, HostPattern, HttpPolicy, ShellPolicy};

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
    /// A file holding the worker token (role worker, scoped to the group), for a cluster that
    /// runs with --auth; or the token itself in FOREST_TOKEN.
    #[arg(long, env = "FOREST_TOKEN_FILE")]
    pub token_file: Option<std::path::PathBuf>,
    /// On SIGTERM or ctrl-c, how long runs under way may go on before they are cancelled.
    #[arg(long, default_value_t = 30_000)]
    pub drain_timeout_ms: u64,
    /// Run `shell` jobs. Off by default: whoever may create a job would otherwise run any
    /// command on this machine.
    #[arg(long)]
    pub allow_shell: bool,
    /// With --allow-shell, run only commands this regex matches as a whole (anchored at both
    /// ends); may be repeated, a command matching any one runs.
    #[arg(
        long,
        value_name = "REGEX",
        requires = "allow_shell",
        value_parser = CommandPattern::parse
    )]
    pub shell_allow: Vec<CommandPattern>,
    /// A host `http` jobs may call: HOST, HOST:PORT, *.DOMAIN or * (any); may be repeated or
    /// comma-separated. None: every HTTP call is refused.
    #[arg(
        long,
        value_name = "HOST[:PORT]",
        value_delimiter = ',',
        value_parser = HostPattern::parse
    )]
    pub http_allow: Vec<HostPattern>,
}

/// Serves the group until SIGTERM or ctrl-c, then drains.
pub async fn run(opts: WorkerOptions) -> anyhow::Result<()> {
    let shell = ShellPolicy::new(opts.allow_shell, opts.shell_allow);
    let http = HttpPolicy::new(opts.http_allow);
    tracing::info!(%shell, %http, "what this worker runs");
    if matches!(shell, ShellPolicy::Closed) && http.check_open().is_err() {
        tracing::warn!("every job will be refused: start with --allow-shell or --http-allow");
    }
    let mut builder = Worker::builder()
        .endpoints(opts.endpoints)
        .group(opts.group)
        .concurrency(opts.concurrency)
        .drain_timeout(Duration::from_millis(opts.drain_timeout_ms))
        .version(concat!("forest-worker/", env!("CARGO_PKG_VERSION")))
        .target(shell::TARGET, shell::Shell::new(shell))
        .target(http::TARGET, http::Http::new(http)?);
    if let Some(name) = opts.name {
        builder = builder.name(name);
    }
    let token = match &opts.token_file {
        Some(path) => Some(
            std::fs::read_to_string(path)
                .with_context(|| format!("cannot read --token-file {}", path.display()))?
                .trim()
                .to_string(),
        ),
        None => std::env::var("FOREST_TOKEN").ok(),
    };
    if let Some(token) = token {
        builder = builder.token(token);
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
