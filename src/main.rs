//! The `forest` binary: parses the command line and reports failures as one line.

use clap::Parser;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = forest::cli::Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_env("FOREST_LOG").unwrap_or_else(|_| {
                EnvFilter::new("info,openraft=error,openraft::replication=off")
            }),
        )
        .with_writer(std::io::stderr)
        .init();
    match forest::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
