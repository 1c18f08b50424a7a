//! `forest bench schedule`: many jobs firing on a local cluster (issue: "exactly-once cron
//! scheduling", its benchmark).
//!
//! It starts `--nodes` local nodes, connects `--workers` no-op workers, loads `--jobs` jobs
//! each firing once a minute at spread seconds (job i at second i mod 60), and watches every
//! dispatch: the fire delay is the moment the dispatch reaches the watcher minus its scheduled
//! time (so it includes the commit and the watch delivery). After `--duration` it checks that
//! every tick due in the window was dispatched exactly once, and prints fires/s, the delay
//! percentiles and each node's RSS. Then a burst: `--burst` more jobs all due in the same
//! second.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use chrono::{DateTime, Timelike, Utc};
use hdrhistogram::Histogram;
use serde::Serialize;

use super::setup::{self, load_jobs};
use super::{histogram, Millis};
use crate::cli::Output;
use crate::model::{JobSnapshot, WireJson};
use crate::pb::kv::event::EventType;

#[derive(Debug, clap::Args)]
pub struct ScheduleBench {
    /// Nodes of the local cluster.
    #[arg(long, default_value_t = 3)]
    nodes: usize,
    /// Jobs firing once a minute each.
    #[arg(long, default_value_t = 100_000)]
    jobs: usize,
    /// Seconds to measure after loading.
    #[arg(long, default_value_t = 120)]
    duration: u64,
    /// Jobs all due in one second, after the steady phase (0: no burst).
    #[arg(long, default_value_t = 10_000)]
    burst: usize,
    /// No-op workers.
    #[arg(long, default_value_t = 8)]
    workers: usize,
    #[arg(long, value_enum, default_value_t = Output::Text)]
    output: Output,
}

/// Dispatches seen by the watcher: snapshot id → (scheduled time, when it was seen).
type Seen = HashMap<String, (DateTime<Utc>, DateTime<Utc>)>;

/// The delays of the dispatches `pick` selects, and how many there were.
fn delays(seen: &Seen, pick: impl Fn(&str, DateTime<Utc>) -> bool) -> (usize, Histogram<u64>) {
    let mut h = histogram();
    let mut n = 0;
    for (id, (at, arrived)) in seen {
        if pick(id, *at) {
            n += 1;
            let _ = h.record((*arrived - *at).num_microseconds().unwrap_or(0).max(1) as u64);
        }
    }
    (n, h)
}

#[derive(Serialize)]
struct Report {
    nodes: usize,
    jobs: usize,
    load_jobs_per_s: f64,
    window_s: u64,
    fires: usize,
    fires_per_s: f64,
    expected_fires: usize,
    missing: usize,
    fire_delay: Millis,
    worker_start_delay: Millis,
    rss_mib: Vec<f64>,
    burst: Option<BurstReport>,
}

#[derive(Serialize)]
struct BurstReport {
    jobs: usize,
    fired: usize,
    fire_delay: Millis,
    all_fired_within_ms: f64,
}

/// Watches every dispatch to the bench group from now on.
async fn watch_dispatches(endpoint: &str, seen: Arc<Mutex<Seen>>) -> anyhow::Result<()> {
    let prefix = crate::model::keys::snapshot_group_prefix(setup::GROUP);
    let mut stream = setup::watch(endpoint, &prefix).await?;
    tokio::spawn(async move {
        while let Ok(Some(w)) = stream.message().await {
            let now = Utc::now();
            let Ok(mut seen) = seen.lock() else { return };
            for ev in w.events {
                if ev.r#type != EventType::Put as i32 {
                    continue;
                }
                let Some(s) = ev.kv.and_then(|kv| JobSnapshot::from_json(&kv.value).ok()) else {
                    continue;
                };
                let Some(at) = s.scheduled_at.map(|t| t.with_timezone(&Utc)) else {
                    continue;
                };
                seen.entry(s.id).or_insert((at, now));
            }
        }
    });
    Ok(())
}

pub async fn run(opts: ScheduleBench) -> anyhow::Result<()> {
    if opts.jobs == 0 || opts.nodes == 0 {
        bail!("need at least one node and one job");
    }
    let (cluster, tally) = setup::start(opts.nodes, opts.workers).await?;
    let ep = cluster.endpoints[0].clone();
    let seen: Arc<Mutex<Seen>> = Arc::default();
    watch_dispatches(&cluster.endpoints[opts.nodes - 1], seen.clone()).await?;

    let started = Instant::now();
    let ids = load_jobs(&ep, 0, opts.jobs, |i| format!("{} * * * * ?", i % 60)).await?;
    let load_rate = ids.len() as f64 / started.elapsed().as_secs_f64();
    // Measure whole seconds from a clean start: every job is loaded and scheduled.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let from =
        Utc::now().with_nanosecond(0).context("a whole second")? + chrono::Duration::seconds(1);
    tally.reset();
    eprintln!("measuring for {} s", opts.duration);
    tokio::time::sleep(Duration::from_secs(opts.duration)).await;
    let to = from + chrono::Duration::seconds(opts.duration as i64 - 2);
    // Let the window's last dispatches arrive.
    tokio::time::sleep(Duration::from_secs(3)).await;

    let per_second: usize = opts.jobs / 60;
    let (fires, expected, missing, delay) = {
        let s = seen.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
        let (fires, delay) = delays(&s, |_, at| at >= from && at < to);
        let mut expected = 0;
        let mut t = from;
        while t < to {
            let sec = t.second() as usize;
            expected += per_second + usize::from(sec < opts.jobs % 60);
            t += chrono::Duration::seconds(1);
        }
        (
            fires,
            expected,
            expected.saturating_sub(fires),
            Millis::of(&delay),
        )
    };
    let window = (to - from).num_seconds().max(1) as u64;
    let worker_start_delay = Millis::of(
        &*tally
            .start_delay
            .lock()
            .map_err(|_| anyhow::anyhow!("poisoned"))?,
    );
    let rss_mib = cluster.rss_mib();

    let burst = if opts.burst > 0 {
        Some(run_burst(&ep, &opts, seen.clone()).await?)
    } else {
        None
    };
    let r = Report {
        nodes: opts.nodes,
        jobs: opts.jobs,
        load_jobs_per_s: load_rate,
        window_s: window,
        fires,
        fires_per_s: fires as f64 / window as f64,
        expected_fires: expected,
        missing,
        fire_delay: delay,
        worker_start_delay,
        rss_mib,
        burst,
    };
    if opts.output == Output::Json {
        println!("{}", serde_json::to_string(&r)?);
    } else {
        println!(
            "nodes {}  jobs {}  (loaded at {:.0} jobs/s)",
            r.nodes, r.jobs, r.load_jobs_per_s
        );
        println!(
            "window {} s: {} fires ({:.0}/s), {} expected, {} missing",
            r.window_s, r.fires, r.fires_per_s, r.expected_fires, r.missing
        );
        println!("fire delay          {}", r.fire_delay);
        println!("worker start delay  {}", r.worker_start_delay);
        println!("{}", super::rss_line(&r.rss_mib));
        if let Some(b) = &r.burst {
            println!(
                "burst {} jobs in one second: {} fired, delay {}, all within {:.0} ms",
                b.jobs, b.fired, b.fire_delay, b.all_fired_within_ms
            );
        }
    }
    if missing > 0 {
        bail!("{missing} ticks in the window were never dispatched");
    }
    Ok(())
}

/// Adds `--burst` jobs due in the same second (far enough ahead to load them all) and
/// measures how late they fire.
async fn run_burst(
    ep: &str,
    opts: &ScheduleBench,
    seen: Arc<Mutex<Seen>>,
) -> anyhow::Result<BurstReport> {
    let at = (Utc::now() + chrono::Duration::seconds(30))
        .with_nanosecond(0)
        .context("a whole second")?;
    let cron = at.format("%-S %-M %-H * * ?").to_string();
    eprintln!("burst: {} jobs due at {at}", opts.burst);
    let base = opts.jobs;
    let ids: HashSet<String> = load_jobs(ep, base, base + opts.burst, |_| cron.clone())
        .await?
        .into_iter()
        .collect();
    // Until every burst job has fired, or a minute past their second.
    let give_up = at + chrono::Duration::seconds(60);
    let of_burst =
        |id: &str, when: DateTime<Utc>| when == at && ids.contains(crate::model::ids::job_of(id));
    let (fired, h) = loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let s = seen.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
        let (fired, h) = delays(&s, of_burst);
        if fired >= opts.burst || Utc::now() > give_up {
            break (fired, h);
        }
    };
    Ok(BurstReport {
        jobs: opts.burst,
        fired,
        all_fired_within_ms: h.max() as f64 / 1000.0,
        fire_delay: Millis::of(&h),
    })
}
