//! `forest bench kv` measures KV throughput and latency as a client sees them, against Forest's
//! own KV API or through etcd's API (`--target etcd`: Forest's `--etcd-addr`, or a real etcd),
//! with the same code (DESIGN §9, §10). `--etcd-endpoints` runs the same workload through
//! etcd's API against a second system right after (a real etcd beside Forest) and prints both
//! and their ratio, so one run compares them on the same machine. `--clients` workers share
//! `--conns` gRPC channels (HTTP/2 connections, round-robin over `--endpoints`; requests to a
//! follower are forwarded to the leader by either system). Each worker sends one request, waits
//! for its answer and sends the next (closed loop) until `--total` requests have been sent in
//! all. A write phase puts `--val-size`-byte values at keys `/bench/<n>`, n random in
//! `--key-space`; then, unless `--writes-only`, a read phase does as many linearizable
//! single-key Ranges of keys the write phase wrote (a read that finds no value is an error).
//! Each phase reports its wall time, successful requests per second and the latency
//! percentiles of successful requests. More than 1% failed requests abort the run.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::bail;
use clap::ValueEnum;
use hdrhistogram::Histogram;
use serde::Serialize;
use tonic::transport::Channel;

use super::histogram;
use crate::cli::client::channel;
use crate::cli::Output;
use crate::kv::service::MAX_REQUEST_BYTES;
use crate::pb::kv::{kv_client::KvClient, PutRequest, RangeRequest};

use crate::pb::etcd::etcdserverpb::{self as etcd, kv_client::KvClient as EtcdKvClient};

#[derive(Debug, clap::Args)]
pub struct KvBench {
    /// gRPC listeners, HOST:PORT; the connections go round-robin over all of them.
    #[arg(
        long,
        default_value = "127.0.0.1:7070",
        env = "FOREST_ENDPOINTS",
        value_delimiter = ','
    )]
    endpoints: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Output::Text)]
    output: Output,
    /// Which API the endpoints speak: Forest's KV API, or etcd's (a real etcd, or Forest's
    /// --etcd-addr).
    #[arg(long, value_enum, default_value_t = Target::Forest)]
    target: Target,
    /// A real etcd to run the same workload against afterwards, through etcd's API, for a
    /// side-by-side comparison (HOST:PORT,...).
    #[arg(long, value_delimiter = ',')]
    etcd_endpoints: Vec<String>,
    /// Concurrent workers, each with one request in flight.
    #[arg(long, default_value_t = 64)]
    clients: usize,
    /// gRPC connections the workers share, round-robin over the endpoints (default: one per
    /// endpoint).
    #[arg(long)]
    conns: Option<usize>,
    /// Requests per phase, over all workers.
    #[arg(long, default_value_t = 10_000)]
    total: u64,
    /// Bytes per value.
    #[arg(long, default_value_t = 256)]
    val_size: usize,
    /// Distinct keys to write to (default: --total).
    #[arg(long)]
    key_space: Option<u64>,
    /// Write keys 0, 1, 2, … in order instead of at random (to load an exact number of keys).
    #[arg(long)]
    sequential: bool,
    /// Skip the read phase.
    #[arg(long)]
    writes_only: bool,
    /// Read the answering node's copy without confirming it is current (etcd's
    /// `--consistency s`): measures the read path without the linearizability round.
    #[arg(long)]
    serializable: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
enum Target {
    Forest,
    Etcd,
}

#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename_all = "lowercase")]
enum Phase {
    Put,
    Range,
}

impl Phase {
    fn name(self) -> &'static str {
        match self {
            Phase::Put => "put",
            Phase::Range => "range",
        }
    }
}

/// One connection's client of the target's KV service: the same messages on either.
#[derive(Clone)]
enum Kv {
    Forest(KvClient<Channel>),
    Etcd(EtcdKvClient<Channel>),
}

impl Kv {
    fn new(target: Target, ch: Channel) -> Kv {
        let max = MAX_REQUEST_BYTES;
        match target {
            Target::Forest => Kv::Forest(
                KvClient::new(ch)
                    .max_decoding_message_size(max)
                    .max_encoding_message_size(max),
            ),
            Target::Etcd => Kv::Etcd(
                EtcdKvClient::new(ch)
                    .max_decoding_message_size(max)
                    .max_encoding_message_size(max),
            ),
        }
    }

    /// One request of `load`'s phase on key `n`; Err is a one-line reason.
    async fn op(&mut self, load: &Load, n: u64) -> Result<(), String> {
        let key = format!("/bench/{n}").into_bytes();
        match load.phase {
            Phase::Put => {
                let value = load.value.clone();
                let res = match self {
                    Kv::Forest(c) => c
                        .put(PutRequest {
                            key,
                            value,
                            ..Default::default()
                        })
                        .await
                        .map(drop),
                    Kv::Etcd(c) => c
                        .put(etcd::PutRequest {
                            key,
                            value,
                            ..Default::default()
                        })
                        .await
                        .map(drop),
                };
                res.map_err(status_line)
            }
            Phase::Range => {
                let serializable = load.serializable;
                let found = match self {
                    Kv::Forest(c) => c
                        .range(RangeRequest {
                            key,
                            serializable,
                            ..Default::default()
                        })
                        .await
                        .map(|r| r.into_inner().kvs.len()),
                    Kv::Etcd(c) => c
                        .range(etcd::RangeRequest {
                            key,
                            serializable,
                            ..Default::default()
                        })
                        .await
                        .map(|r| r.into_inner().kvs.len()),
                };
                match found.map_err(status_line)? {
                    1 => Ok(()),
                    k => Err(format!("read of /bench/{n} found {k} keys, expected 1")),
                }
            }
        }
    }
}

/// A failed request's reason, e.g. "Some requested entity was not found: no leader".
fn status_line(s: tonic::Status) -> String {
    match s.message() {
        "" => s.code().to_string(),
        m => format!("{}: {m}", s.code()),
    }
}

/// A request not answered by then counts as failed.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// What the workers of one phase share.
struct Load {
    phase: Phase,
    total: u64,
    max_errors: u64,
    /// Requests handed out so far (set to `total` to stop everyone).
    next: AtomicU64,
    errors: AtomicU64,
    last_error: Mutex<String>,
    value: Vec<u8>,
    serializable: bool,
    key_space: u64,
    sequential: bool,
    /// Keys to read (read phase): those the write phase wrote.
    keys: Vec<u64>,
}

impl Load {
    /// The key of request number `i`.
    fn key(&self, i: u64) -> u64 {
        match self.phase {
            Phase::Put if self.sequential => i % self.key_space,
            Phase::Put => rand::random_range(0..self.key_space),
            Phase::Range => self.keys[rand::random_range(0..self.keys.len())],
        }
    }
}

/// One closed-loop worker: returns the latencies (µs) and keys of its successful requests.
async fn worker(mut kv: Kv, load: Arc<Load>) -> (Histogram<u64>, Vec<u64>) {
    let mut hist = histogram();
    let mut done = Vec::new();
    loop {
        let i = load.next.fetch_add(1, Ordering::Relaxed);
        if i >= load.total {
            break;
        }
        let n = load.key(i);
        let start = Instant::now();
        let res = tokio::time::timeout(REQUEST_TIMEOUT, kv.op(&load, n)).await;
        match res.unwrap_or_else(|_| Err(format!("timed out after {REQUEST_TIMEOUT:?}"))) {
            Ok(()) => {
                hist.saturating_record(start.elapsed().as_micros() as u64);
                done.push(n);
            }
            Err(e) => {
                *load.last_error.lock().unwrap() = e;
                if load.errors.fetch_add(1, Ordering::Relaxed) + 1 > load.max_errors {
                    load.next.store(load.total, Ordering::Relaxed);
                }
            }
        }
    }
    (hist, done)
}

/// What `--output json` prints (and text shows).
#[derive(Debug, Serialize)]
struct Report<'a> {
    target: Target,
    endpoints: &'a [String],
    clients: usize,
    conns: usize,
    total: u64,
    key_space: u64,
    val_size: usize,
    serializable: bool,
    phases: Vec<PhaseReport>,
    /// The same workload through etcd's API against `--etcd-endpoints`, when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    etcd: Option<Comparison<'a>>,
}

/// The run against the real etcd, and how the target compares with it.
#[derive(Debug, Serialize)]
struct Comparison<'a> {
    endpoints: &'a [String],
    conns: usize,
    phases: Vec<PhaseReport>,
    ratios: Vec<Ratio>,
}

/// One phase of the target against the same phase of etcd.
#[derive(Debug, Serialize)]
struct Ratio {
    phase: Phase,
    /// The target's requests per second over etcd's (above 1: the target is faster).
    ops_per_s: f64,
    /// The target's p99 latency over etcd's (below 1: the target's tail is shorter).
    p99: f64,
}

/// The figures of one phase.
#[derive(Debug, Serialize)]
struct PhaseReport {
    phase: Phase,
    ops: u64,
    errors: u64,
    elapsed_s: f64,
    ops_per_s: f64,
    p50_ms: f64,
    p90_ms: f64,
    p99_ms: f64,
    max_ms: f64,
}

/// Runs one phase with `clients` workers over the connections `kvs`; returns its figures and
/// the keys of its successful requests.
async fn run_phase(
    load: Load,
    kvs: &[Kv],
    clients: usize,
) -> anyhow::Result<(PhaseReport, Vec<u64>)> {
    let load = Arc::new(load);
    let phase = load.phase;
    let start = Instant::now();
    let workers: Vec<_> = (0..clients)
        .map(|i| tokio::spawn(worker(kvs[i % kvs.len()].clone(), load.clone())))
        .collect();
    let (mut hist, mut done) = (histogram(), Vec::new());
    for w in workers {
        let (h, d) = w.await?;
        hist.add(h)?;
        done.extend(d);
    }
    let elapsed = start.elapsed();
    let errors = load.errors.load(Ordering::Relaxed);
    if errors > load.max_errors {
        bail!(
            "{} phase: {errors} requests failed (more than 1% of {}), last: {}",
            phase.name(),
            load.total,
            load.last_error.lock().unwrap()
        );
    }
    let ms = |us: u64| us as f64 / 1000.0;
    let report = PhaseReport {
        phase,
        ops: hist.len(),
        errors,
        elapsed_s: elapsed.as_secs_f64(),
        ops_per_s: hist.len() as f64 / elapsed.as_secs_f64(),
        p50_ms: ms(hist.value_at_quantile(0.50)),
        p90_ms: ms(hist.value_at_quantile(0.90)),
        p99_ms: ms(hist.value_at_quantile(0.99)),
        max_ms: ms(hist.max()),
    };
    Ok((report, done))
}

pub async fn run(opts: KvBench) -> anyhow::Result<()> {
    if opts.endpoints.is_empty() || opts.clients == 0 || opts.total == 0 {
        bail!("need at least one endpoint, one client and one request");
    }
    let key_space = opts.key_space.unwrap_or(opts.total).max(1);
    let (conns, phases) = measure(&opts, opts.target, &opts.endpoints, key_space).await?;
    let etcd = match opts.etcd_endpoints.as_slice() {
        [] => None,
        endpoints => {
            let (conns, theirs) = measure(&opts, Target::Etcd, endpoints, key_space).await?;
            let ratios = phases
                .iter()
                .zip(&theirs)
                .map(|(ours, theirs)| Ratio {
                    phase: ours.phase,
                    ops_per_s: ours.ops_per_s / theirs.ops_per_s,
                    p99: ours.p99_ms / theirs.p99_ms,
                })
                .collect();
            Some(Comparison {
                endpoints,
                conns,
                phases: theirs,
                ratios,
            })
        }
    };
    let r = Report {
        target: opts.target,
        endpoints: &opts.endpoints,
        clients: opts.clients,
        conns,
        total: opts.total,
        key_space,
        val_size: opts.val_size,
        serializable: opts.serializable,
        phases,
        etcd,
    };
    if opts.output == Output::Json {
        println!("{}", serde_json::to_string(&r)?);
        return Ok(());
    }
    let target = r.target.to_possible_value().expect("no skipped variants");
    println!("target     {}", target.get_name());
    println!("endpoints  {}", r.endpoints.join(","));
    println!("clients    {} over {} connection(s)", r.clients, r.conns);
    println!(
        "total      {} per phase, key space {}, values {} B{}",
        r.total,
        r.key_space,
        r.val_size,
        if r.serializable {
            ", serializable reads"
        } else {
            ""
        }
    );
    print_phases(&r.phases);
    if let Some(c) = &r.etcd {
        println!();
        println!(
            "etcd       {} over {} connection(s)",
            c.endpoints.join(","),
            c.conns
        );
        print_phases(&c.phases);
        println!();
        for ratio in &c.ratios {
            println!(
                "{:<6} {} / etcd: {:.2}x the requests per second, {:.2}x the p99",
                ratio.phase.name(),
                target.get_name(),
                ratio.ops_per_s,
                ratio.p99
            );
        }
    }
    Ok(())
}

/// Runs the put phase, then (unless `--writes-only`) the read phase, against `endpoints`
/// through `target`'s API; returns the connections used and each phase's figures.
async fn measure(
    opts: &KvBench,
    target: Target,
    endpoints: &[String],
    key_space: u64,
) -> anyhow::Result<(usize, Vec<PhaseReport>)> {
    let conns = opts.conns.unwrap_or(endpoints.len()).clamp(1, opts.clients);
    let mut kvs = Vec::with_capacity(conns);
    for i in 0..conns {
        kvs.push(Kv::new(
            target,
            channel(&endpoints[i % endpoints.len()]).await?,
        ));
    }
    let load = |phase, keys| Load {
        phase,
        total: opts.total,
        max_errors: opts.total / 100,
        next: AtomicU64::new(0),
        errors: AtomicU64::new(0),
        last_error: Mutex::new(String::new()),
        value: vec![b'x'; opts.val_size],
        serializable: opts.serializable,
        key_space,
        sequential: opts.sequential,
        keys,
    };
    let (put, written) = run_phase(load(Phase::Put, Vec::new()), &kvs, opts.clients).await?;
    let mut phases = vec![put];
    if !opts.writes_only {
        if written.is_empty() {
            bail!("no put succeeded: nothing to read");
        }
        let read = load(Phase::Range, written);
        phases.push(run_phase(read, &kvs, opts.clients).await?.0);
    }
    Ok((conns, phases))
}

fn print_phases(phases: &[PhaseReport]) {
    println!(
        "{:<6} {:>8} {:>6} {:>9} {:>9} {:>8} {:>8} {:>8} {:>8}",
        "phase", "ops", "errors", "elapsed_s", "ops/s", "p50_ms", "p90_ms", "p99_ms", "max_ms"
    );
    for p in phases {
        println!(
            "{:<6} {:>8} {:>6} {:>9.2} {:>9.0} {:>8.2} {:>8.2} {:>8.2} {:>8.2}",
            p.phase.name(),
            p.ops,
            p.errors,
            p.elapsed_s,
            p.ops_per_s,
            p.p50_ms,
            p.p90_ms,
            p.p99_ms,
            p.max_ms
        );
    }
}
