//! The command line: `forest serve` runs a node, `forest worker` runs jobs; the other commands
//! are clients of a running cluster (any node, through `--endpoints`), for operators and for
//! tests. Each prints text or, with `--output json`, one JSON document (a JSON line per event
//! for `watch`), and exits non-zero with a one-line reason on failure.

mod bench;
mod client;
mod history;
mod jobs;
mod kv;
mod render;

use clap::{Parser, Subcommand, ValueEnum};

use crate::server::ServeOptions;
use crate::worker::WorkerOptions;

#[derive(Debug, Parser)]
#[command(
    name = "forest",
    version,
    about = "A distributed cron scheduler in one binary"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, clap::Args)]
pub struct ClientOptions {
    /// Nodes to talk to, HOST:PORT of their gRPC listeners; any one will do.
    #[arg(
        long,
        global = true,
        default_value = "127.0.0.1:7070",
        env = "FOREST_ENDPOINTS",
        value_delimiter = ','
    )]
    pub endpoints: Vec<String>,
    /// Output format.
    #[arg(long, global = true, value_enum, default_value_t = Output::Text)]
    pub output: Output,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a Forest node.
    Serve(ServeOptions),
    /// Run jobs of one group: targets `shell` (a /bin/sh command) and `http` (a request).
    Worker(WorkerOptions),
    /// Read and write keys.
    Kv {
        #[command(flatten)]
        client: ClientOptions,
        #[command(subcommand)]
        command: kv::KvCommand,
    },
    /// Grant, revoke and keep leases alive.
    Lease {
        #[command(flatten)]
        client: ClientOptions,
        #[command(subcommand)]
        command: kv::LeaseCommand,
    },
    /// Inspect the cluster.
    Cluster {
        #[command(flatten)]
        client: ClientOptions,
        #[command(subcommand)]
        command: kv::ClusterCommand,
    },
    /// Create and list job groups.
    Group {
        #[command(flatten)]
        client: ClientOptions,
        #[command(subcommand)]
        command: jobs::GroupCommand,
    },
    /// Add, change, inspect, pause, run and delete jobs.
    Job {
        #[command(flatten)]
        client: ClientOptions,
        #[command(subcommand)]
        command: jobs::JobCommand,
    },
    /// Search the execution history.
    History {
        #[command(flatten)]
        client: ClientOptions,
        #[command(subcommand)]
        command: history::HistoryCommand,
    },
    /// Measure throughput and latency.
    Bench {
        #[command(subcommand)]
        command: bench::BenchCommand,
    },
}

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(opts) => crate::server::serve(opts).await,
        Command::Worker(opts) => crate::worker::run(opts).await,
        Command::Kv { client, command } => kv::run_kv(&client, command).await,
        Command::Lease { client, command } => kv::run_lease(&client, command).await,
        Command::Cluster { client, command } => kv::run_cluster(&client, command).await,
        Command::Group { client, command } => jobs::run_group(&client, command).await,
        Command::Job { client, command } => jobs::run_job(&client, command).await,
        Command::History { client, command } => history::run(&client, command).await,
        Command::Bench { command } => bench::run(command).await,
    }
}
