//! `forest bench`: closed-loop load against a running cluster (see the README's performance
//! section).

use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum BenchCommand {}

pub async fn run(cmd: BenchCommand) -> anyhow::Result<()> {
    match cmd {}
}
