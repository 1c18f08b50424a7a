//! The history benchmark behind `forest bench history`.
//!
//! Two figures decide whether a backend keeps up: how many records per second it materializes
//! when written in batches (the way nodes write them), and how fast the UI's typical query
//! answers once the table is large: one job's runs, newest first, a page of 20, with its total.
//! The library measures and returns; the caller prints.

use std::time::{Duration, Instant};

use super::error::Result;
use super::{status, History, Query, Record};

/// What to run.
#[derive(Debug, Clone)]
pub struct BenchConfig {
    /// Where: a fresh database is best (rows are added to whatever is there).
    pub url: String,
    /// Records to insert.
    pub rows: u64,
    /// Records per [`History::record`] call.
    pub batch: usize,
    /// Distinct jobs the records are spread over.
    pub jobs: u64,
    /// Filtered page queries to time after filling.
    pub queries: usize,
}

/// What it measured.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchReport {
    /// Rows in the table when the queries ran.
    pub rows: u64,
    pub insert_seconds: f64,
    pub inserts_per_second: f64,
    pub query_p50: Duration,
    pub query_p99: Duration,
    pub query_max: Duration,
    /// The slowest query, and how the database ran it ([`History::plan`]): a p99 far above
    /// the p50 is usually one shape the planner runs differently.
    pub slowest: Query,
    pub slowest_plan: Vec<String>,
}

/// A synthetic run: job `n % jobs`, one run a second, mostly successes.
fn synthetic(n: u64, jobs: u64) -> Record {
    let job = n % jobs.max(1);
    let at = 1_700_000_000_000 + i64::try_from(n).unwrap_or(i64::MAX) * 1000;
    Record {
        id: format!("{n:040}"),
        job_id: format!("job-{job}"),
        name: format!("bench job {job}"),
        group: format!("group-{}", job % 10),
        cron: "*/1 * * * * ?".into(),
        target: "bench.Target".into(),
        ip: "127.0.0.1".into(),
        status: if n.is_multiple_of(20) {
            status::ERROR
        } else {
            status::SUCCESS
        },
        create_time: "2023-11-14 22:13:20".into(),
        start_time: "2023-11-14 22:13:20".into(),
        finish_time: "2023-11-14 22:13:21".into(),
        times: 1,
        result: "ok".into(),
        created_at: at - 1000,
        scheduled_at: Some(at - 1000),
        finished_at: Some(at),
        worker: format!("worker-{}", n % 20),
        node: "1".into(),
        duration_ms: Some(i64::try_from(n % 1000).unwrap_or(0)),
        output: "bench output line\n".into(),
        ..Record::default()
    }
}

/// Fills `config.url` with `config.rows` synthetic records, then times filtered page queries.
pub async fn run(config: &BenchConfig) -> Result<BenchReport> {
    let history = History::open(&config.url).await?;
    let batch = config.batch.max(1) as u64;
    let started = Instant::now();
    let mut written = 0;
    while written < config.rows {
        let n = batch.min(config.rows - written);
        let records: Vec<Record> = (written..written + n)
            .map(|i| synthetic(i, config.jobs))
            .collect();
        written += n;
        history
            .record(&records, i64::try_from(written).unwrap_or(i64::MAX))
            .await?;
        if written % (batch * 100) == 0 {
            tracing::debug!(written, "history bench filling");
        }
    }
    let insert_seconds = started.elapsed().as_secs_f64();
    history.optimize().await?;

    let mut latencies = Vec::with_capacity(config.queries);
    for i in 0..config.queries {
        let job = (i as u64 * 7919) % config.jobs.max(1);
        let q = Query {
            job_id: Some(format!("job-{job}")),
            status: (i % 2 == 0).then_some(status::SUCCESS),
            offset: (i as u64 % 5) * 20,
            limit: 20,
            ..Query::default()
        };
        let t = Instant::now();
        history.list(&q).await?;
        latencies.push((t.elapsed(), q));
    }
    latencies.sort_by_key(|(took, _)| *took);
    let (query_max, slowest) = latencies.last().cloned().unwrap_or_default();
    let slowest_plan = history.plan(&slowest).await?;
    tracing::info!(?slowest, ?query_max, plan = ?slowest_plan, "history bench slowest query");
    let at = |p: usize| {
        latencies
            .get((latencies.len() * p / 100).min(latencies.len().saturating_sub(1)))
            .map(|(took, _)| *took)
            .unwrap_or_default()
    };
    history.close().await;
    Ok(BenchReport {
        rows: written,
        insert_seconds,
        inserts_per_second: written as f64 / insert_seconds.max(f64::EPSILON),
        query_p50: at(50),
        query_p99: at(99),
        query_max,
        slowest,
        slowest_plan,
    })
}
