//! The command line: `forest serve` runs a node, `forest worker` runs jobs, `forest ctl`
//! manages jobs and runs over the HTTP API; `kv`, `lease` and `cluster` reach the replicated
//! KV over gRPC (any node, through `--endpoints`), for operators and for tests. Each prints text or, with `--output json`, one JSON document (a JSON line per event
//! for `watch`), and exits non-zero with a one-line reason on failure.

mod bench;
mod client;
mod ctl;
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
    /// For people: tables and one field per line.
    #[value(alias = "table")]
    Text,
    /// One JSON document.
    Json,
}

impl Output {
    /// Prints the JSON document or the text, as asked.
    pub fn print(self, json: &str, text: &str) {
        match self {
            Output::Json => println!("{json}"),
            Output::Text => println!("{text}"),
        }
    }
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
    /// Manage jobs, groups, runs, workers and snapshots over the HTTP API.
    Ctl {
        #[command(flatten)]
        opts: ctl::CtlOptions,
        #[command(subcommand)]
        command: ctl::CtlCommand,
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
        Command::Ctl { opts, command } => ctl::run(opts, command).await,
        Command::Bench { command } => bench::run(command).await,
    }
}
