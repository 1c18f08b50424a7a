//! `forest bench history`: the history store's sustained insert rate (records written in
//! batches, as nodes materialize them) and the p99 of the UI's typical filtered, paginated
//! query once the table is large (issue: "execution history on sqlx", its benchmark).

use serde::Serialize;

use crate::cli::Output;
use forest_storage::history::bench::{self, BenchConfig};

#[derive(Debug, clap::Args)]
pub struct HistoryBench {
    /// The database: `sqlite://PATH`, `mysql://…` or `postgres://…` (default: a fresh SQLite
    /// file in a temporary directory). Rows are added to whatever is there.
    #[arg(long)]
    url: Option<String>,
    /// Records to insert.
    #[arg(long, default_value_t = 1_000_000)]
    rows: u64,
    /// Records per transaction.
    #[arg(long, default_value_t = 1_000)]
    batch: usize,
    /// Distinct jobs the records are spread over.
    #[arg(long, default_value_t = 1_000)]
    jobs: u64,
    /// Filtered page queries to time.
    #[arg(long, default_value_t = 1_000)]
    queries: usize,
    #[arg(long, value_enum, default_value_t = Output::Text)]
    output: Output,
}

#[derive(Serialize)]
struct Report {
    rows: u64,
    inserts_per_s: f64,
    query_p50_ms: f64,
    query_p99_ms: f64,
    query_max_ms: f64,
    slowest_plan: Vec<String>,
}

pub async fn run(opts: HistoryBench) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let url = opts
        .url
        .unwrap_or_else(|| format!("sqlite://{}", dir.path().join("history.db").display()));
    eprintln!(
        "filling with {} records in batches of {}",
        opts.rows, opts.batch
    );
    let r = bench::run(&BenchConfig {
        url,
        rows: opts.rows,
        batch: opts.batch,
        jobs: opts.jobs,
        queries: opts.queries,
    })
    .await?;
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1000.0;
    let report = Report {
        rows: r.rows,
        inserts_per_s: r.inserts_per_second,
        query_p50_ms: ms(r.query_p50),
        query_p99_ms: ms(r.query_p99),
        query_max_ms: ms(r.query_max),
        slowest_plan: r.slowest_plan,
    };
    if opts.output == Output::Json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!(
            "rows {}  inserts {:.0}/s",
            report.rows, report.inserts_per_s
        );
        println!(
            "filtered page query: p50 {:.2} ms  p99 {:.2} ms  max {:.2} ms",
            report.query_p50_ms, report.query_p99_ms, report.query_max_ms
        );
        println!("slowest query's plan: {}", report.slowest_plan.join(" | "));
    }
    Ok(())
}
