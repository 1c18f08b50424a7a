//! `forest ctl`: everything the REST API offers, from the command line, so an operator never
//! needs the UI: jobs (from flags or a JSON/YAML file), groups, workers, pending snapshots,
//! runs, statistics and the cluster. Any node answers (`--server`, several for failover);
//! `--output json` prints the API's JSON as sent, `text` (or `table`, the default) prints it
//! for people.

mod api;
mod jobs;
mod ops;
mod runs;
mod tokens;

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
    /// The API token to send (`fst_…`), when the node runs with --auth. Prefer --token-file or
    /// the environment: a flag's value shows in the process list.
    #[arg(long, global = true, env = "FOREST_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// A file holding the API token (e.g. the node's admin.token).
    #[arg(
        long,
        global = true,
        env = "FOREST_TOKEN_FILE",
        conflicts_with = "token"
    )]
    pub token_file: Option<std::path::PathBuf>,
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
    /// API tokens: create (the token is printed once), list, revoke. Admin only.
    #[command(subcommand)]
    Token(tokens::TokenCommand),
}

pub async fn run(opts: CtlOptions, cmd: CtlCommand) -> anyhow::Result<()> {
    let token = match (&opts.token, &opts.token_file) {
        (Some(t), _) => Some(t.trim().to_string()),
        (None, Some(path)) => Some(
            std::fs::read_to_string(path)
                .map_err(|e| anyhow::anyhow!("cannot read --token-file {}: {e}", path.display()))?
                .trim()
                .to_string(),
        ),
        (None, None) => None,
    };
    let api = Api::new(&opts.server, token)?;
    let out = opts.output;
    match cmd {
        CtlCommand::Job(c) => jobs::run_job(&api, out, c).await,
        CtlCommand::Group(c) => jobs::run_group(&api, out, c).await,
        CtlCommand::Run(c) => runs::run(&api, out, c).await,
        CtlCommand::Workers { group } => ops::workers(&api, out, group).await,
        CtlCommand::Snapshot(c) => ops::snapshots(&api, out, c).await,
        CtlCommand::Stats => ops::stats(&api, out).await,
        CtlCommand::Cluster => ops::cluster(&api, out).await,
        CtlCommand::Token(c) => tokens::run(&api, out, c).await,
    }
}
