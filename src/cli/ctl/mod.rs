//! `forest ctl`: everything the REST API offers, from the command line, so an operator never
//! needs the UI: jobs (from flags or a JSON/YAML file), groups, workers, pending snapshots,
//! runs, statistics and the cluster. Any node answers (`--server`, several for failover);
//! `--output json` prints the API's JSON as sent, `text` (or `table`, the default) prints it
//! for people.

mod api;
mod jobs;
mod ops;
mod runs;

use clap::Subcommand;

use super::Output;

pub use api::Api;

#[derive(Debug, Clone, clap::Args)]
pub struct CtlOptions {
    /// Nodes' HTTP addresses (http://HOST:PORT, or HOST:PORT); the first that answers serves.
    #[arg(
        long,
        global = true,
        default_value = "http://127.0.0.1:2856",
        env = "FOREST_SERVER",
        value_delimiter = ','
    )]
    pub server: Vec<String>,
    /// How answers are printed.
    #[arg(long, global = true, value_enum, default_value_t = Output::Text)]
    pub output: Output,
}

#[derive(Debug, Subcommand)]
pub enum CtlCommand {
    /// Add, change, inspect, pause, run and delete jobs.
    #[command(subcommand)]
    Job(jobs::JobCommand),
    /// Create and list job groups.
    #[command(subcommand)]
    Group(jobs::GroupCommand),
    /// Runs: running and finished, filtered; one with its output; a job's statistics.
    #[command(subcommand, alias = "history")]
    Run(runs::RunCommand),
    /// Workers online, what they hold.
    Workers {
        #[arg(long)]
        group: Option<String>,
    },
    /// Ticks no worker has taken yet: list them, or withdraw one (it is recorded cancelled).
    #[command(subcommand)]
    Snapshot(ops::SnapshotCommand),
    /// The dashboard's figures: jobs, workers, the last hour's runs, recent failures.
    Stats,
    /// The cluster's members, roles, terms and indexes.
    Cluster,
}

pub async fn run(opts: CtlOptions, cmd: CtlCommand) -> anyhow::Result<()> {
    let api = Api::new(&opts.server)?;
    let out = opts.output;
    match cmd {
        CtlCommand::Job(c) => jobs::run_job(&api, out, c).await,
        CtlCommand::Group(c) => jobs::run_group(&api, out, c).await,
        CtlCommand::Run(c) => runs::run(&api, out, c).await,
        CtlCommand::Workers { group } => ops::workers(&api, out, group).await,
        CtlCommand::Snapshot(c) => ops::snapshots(&api, out, c).await,
        CtlCommand::Stats => ops::stats(&api, out).await,
        CtlCommand::Cluster => ops::cluster(&api, out).await,
    }
}
