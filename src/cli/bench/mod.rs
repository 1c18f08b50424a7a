//! `forest bench`: load generators whose figures the README's performance section reports.
//! Benchmarks, never timed tests: they print what they measured and fail only when the system
//! under load misbehaves (a lost tick, a failed request beyond a tolerance).
//!
//! - [`kv`]: KV throughput and latency against a running Forest or a real etcd.
//! - [`schedule`]: many jobs on a cluster of local nodes it starts ([`local`]): fires per
//!   second, fire delay, lost ticks, memory.
//! - [`workers`]: end-to-end runs per second through many streamed no-op workers ([`noop`]).
//! - [`history`]: the history store's insert rate and query latency.

mod history;
mod kv;
mod local;
mod noop;
mod schedule;
mod setup;
mod workers;

use clap::Subcommand;
use hdrhistogram::Histogram;
use serde::Serialize;

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Closed-loop puts, then linearizable reads, from concurrent clients; prints throughput
    /// and latency percentiles.
    Kv(kv::KvBench),
    /// Starts a local cluster, loads many cron jobs and measures fires/s, fire delay and RSS.
    Schedule(schedule::ScheduleBench),
    /// Starts a local cluster with many no-op workers and measures end-to-end runs/s.
    Workers(workers::WorkersBench),
    /// Fills a history store and measures its insert rate and filtered query latency.
    History(history::HistoryBench),
}

pub async fn run(cmd: BenchCommand) -> anyhow::Result<()> {
    match cmd {
        BenchCommand::Kv(opts) => kv::run(opts).await,
        BenchCommand::Schedule(opts) => schedule::run(opts).await,
        BenchCommand::Workers(opts) => workers::run(opts).await,
        BenchCommand::History(opts) => history::run(opts).await,
    }
}

/// Latencies from 1 µs to a minute, to 3 significant digits.
fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid bounds")
}

/// A latency distribution in milliseconds.
#[derive(Debug, Serialize)]
struct Millis {
    count: u64,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
}

impl Millis {
    /// From a histogram of microseconds.
    fn of(h: &Histogram<u64>) -> Millis {
        let ms = |us: u64| us as f64 / 1000.0;
        Millis {
            count: h.len(),
            p50_ms: ms(h.value_at_quantile(0.50)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            max_ms: ms(h.max()),
        }
    }
}

impl std::fmt::Display for Millis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "n={} p50={:.1} ms p99={:.1} ms max={:.1} ms",
            self.count, self.p50_ms, self.p99_ms, self.max_ms
        )
    }
}

/// Each node's resident memory, as one text line.
fn rss_line(rss_mib: &[f64]) -> String {
    let each: Vec<String> = rss_mib.iter().map(|m| format!("{m:.0}")).collect();
    format!("rss MiB             {}", each.join(" "))
}
