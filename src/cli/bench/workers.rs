//! `forest bench workers`: end-to-end runs through streamed workers (issue: "workers over gRPC
//! streams", its benchmark).
//!
//! It starts `--nodes` local nodes, connects `--workers` no-op workers spread over them, and
//! loads `--jobs` jobs firing every second. A run counts once the node has recorded its final
//! result (fire → dispatch → claim → result, each a Raft write); the scheduler then collects
//! it into the history. Prints runs/s recorded and collected, and how late runs reached their
//! worker (scheduled time to arrival).

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::bail;
use serde::Serialize;

use super::{setup, Millis};
use crate::cli::Output;
use crate::pb::kv::event::EventType;

#[derive(Debug, clap::Args)]
pub struct WorkersBench {
    #[arg(long, default_value_t = 3)]
    nodes: usize,
    #[arg(long, default_value_t = 200)]
    workers: usize,
    /// Jobs firing every second.
    #[arg(long, default_value_t = 5_000)]
    jobs: usize,
    /// Seconds to measure.
    #[arg(long, default_value_t = 30)]
    duration: u64,
    #[arg(long, value_enum, default_value_t = Output::Text)]
    output: Output,
}

#[derive(Serialize)]
struct Report {
    nodes: usize,
    workers: usize,
    jobs: usize,
    window_s: f64,
    recorded_per_s: f64,
    collected_per_s: f64,
    start_delay: Millis,
    rss_mib: Vec<f64>,
}

pub async fn run(opts: WorkersBench) -> anyhow::Result<()> {
    if opts.nodes == 0 || opts.workers == 0 {
        bail!("need at least one node and one worker");
    }
    let (cluster, tally) = setup::start(opts.nodes, opts.workers).await?;
    let ep = cluster.endpoints[0].clone();

    setup::load_jobs(&ep, 0, opts.jobs, |_| "* * * * * *".to_string()).await?;
    eprintln!("{} jobs loaded; warming up", opts.jobs);
    tokio::time::sleep(Duration::from_secs(5)).await;

    let collected = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let prefix = crate::model::keys::HISTORY_PREFIX;
    let mut watch = setup::watch(&cluster.endpoints[opts.nodes - 1], prefix).await?;
    let counter = collected.clone();
    tokio::spawn(async move {
        while let Ok(Some(w)) = watch.message().await {
            let puts = w
                .events
                .iter()
                .filter(|e| e.r#type == EventType::Put as i32)
                .count();
            counter.fetch_add(puts as u64, Ordering::Relaxed);
        }
    });
    tally.reset();
    let started = Instant::now();
    eprintln!("measuring for {} s", opts.duration);
    tokio::time::sleep(Duration::from_secs(opts.duration)).await;
    let window = started.elapsed().as_secs_f64();
    let recorded = tally.recorded.load(Ordering::Relaxed) as f64;
    let collected = collected.load(Ordering::Relaxed) as f64;
    let start_delay = Millis::of(
        &*tally
            .start_delay
            .lock()
            .map_err(|_| anyhow::anyhow!("poisoned"))?,
    );
    let r = Report {
        nodes: opts.nodes,
        workers: opts.workers,
        jobs: opts.jobs,
        window_s: window,
        recorded_per_s: recorded / window,
        collected_per_s: collected / window,
        start_delay,
        rss_mib: cluster.rss_mib(),
    };
    if opts.output == Output::Json {
        println!("{}", serde_json::to_string(&r)?);
    } else {
        println!(
            "nodes {}  workers {}  jobs {} (every second)",
            r.nodes, r.workers, r.jobs
        );
        println!(
            "runs recorded {:.0}/s, collected into history {:.0}/s over {:.0} s",
            r.recorded_per_s, r.collected_per_s, r.window_s
        );
        println!("scheduled → worker  {}", r.start_delay);
        println!("{}", super::rss_line(&r.rss_mib));
    }
    Ok(())
}
