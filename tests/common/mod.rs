//! Test harness: real `forest` processes on free 127.0.0.1 ports, reached only through their
//! public interfaces (the gRPC API and the `forest` CLI).
#![allow(dead_code)]

pub mod http;
pub mod stream;

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use forest::pb::kv::{
    cluster_client::ClusterClient, kv_client::KvClient, lease_client::LeaseClient,
    watch_client::WatchClient, Member, PutRequest, RangeRequest, StatusRequest,
};
use tonic::transport::Channel;

pub const BIN: &str = env!("CARGO_BIN_EXE_forest");

/// How long a cluster may take to do what a test waits for (elections, catch-up, expiry).
pub const PATIENCE: Duration = Duration::from_secs(30);

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// One `forest` process (a node or a worker) and what it needs to be restarted.
pub struct Proc {
    pub log: PathBuf,
    args: Vec<String>,
    child: Option<Child>,
}

impl Proc {
    pub fn new(args: Vec<String>, log: PathBuf) -> Proc {
        Proc {
            log,
            args,
            child: None,
        }
    }

    pub fn start(&mut self) {
        assert!(self.child.is_none(), "{:?} is already running", self.args);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("a log file");
        let child = Command::new(BIN)
            .args(&self.args)
            .env("FOREST_LOG", "info,openraft=warn")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("forest starts");
        self.child = Some(child);
    }

    /// kill -9.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM, then wait for the process to exit; returns whether it exited cleanly.
    pub fn terminate(&mut self) -> bool {
        let Some(mut c) = self.child.take() else {
            return true;
        };
        signal(&c, "TERM");
        let status = c.wait().expect("wait for forest");
        status.success()
    }

    pub fn pause(&self) {
        signal(self.child.as_ref().expect("running"), "STOP");
    }

    pub fn resume(&self) {
        signal(self.child.as_ref().expect("running"), "CONT");
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Some(c) = &self.child {
            let _ = Command::new("kill")
                .arg("-CONT")
                .arg(c.id().to_string())
                .status();
        }
        self.kill();
    }
}

/// A `forest serve` process.
pub struct Node {
    pub id: u64,
    pub grpc: String,
    pub http: String,
    pub data_dir: PathBuf,
    proc: Proc,
}

impl Node {
    pub fn endpoint(&self) -> String {
        self.grpc.clone()
    }

    /// The file a node run with `--auth` writes its first administrator token into.
    pub fn admin_token_file(&self) -> PathBuf {
        self.data_dir.join("admin.token")
    }

    /// That token, once the node has written it.
    pub async fn admin_token(&self) -> String {
        let path = self.admin_token_file();
        eventually("the node writes its administrator token", || async {
            std::fs::read_to_string(&path).is_ok_and(|t| t.starts_with("fst_"))
        })
        .await;
        std::fs::read_to_string(&path)
            .expect("the token")
            .trim()
            .to_string()
    }
}

impl std::ops::Deref for Node {
    type Target = Proc;
    fn deref(&self) -> &Proc {
        &self.proc
    }
}

impl std::ops::DerefMut for Node {
    fn deref_mut(&mut self) -> &mut Proc {
        &mut self.proc
    }
}

/// A running `forest worker --group <group> --name <name> --allow-shell` on `endpoints`
/// (comma-separated), logging into `dir`: the worker the tests' shell jobs need.
pub fn worker_process(dir: &std::path::Path, endpoints: &str, group: &str, name: &str) -> Proc {
    worker_process_with(dir, endpoints, group, name, &["--allow-shell"])
}

/// [`worker_process`] with these `flags` instead of `--allow-shell` (none: a worker that runs
/// nothing).
pub fn worker_process_with(
    dir: &std::path::Path,
    endpoints: &str,
    group: &str,
    name: &str,
    flags: &[&str],
) -> Proc {
    let args = [
        "worker",
        "--endpoints",
        endpoints,
        "--group",
        group,
        "--name",
        name,
        "--drain-timeout-ms",
        "1000",
    ];
    let mut p = Proc::new(
        args.iter().chain(flags).map(|s| s.to_string()).collect(),
        dir.join(format!("worker-{name}.log")),
    );
    p.start();
    p
}

fn signal(c: &Child, sig: &str) {
    let ok = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(c.id().to_string())
        .status()
        .expect("kill runs")
        .success();
    assert!(ok, "kill -{sig} failed");
}

/// A cluster of real nodes in a temporary directory.
pub struct Cluster {
    pub nodes: Vec<Node>,
    pub dir: tempfile::TempDir,
}

impl Drop for Cluster {
    /// A failing test leaves its nodes' logs and data behind, and says where.
    fn drop(&mut self) {
        if std::thread::panicking() {
            let keep = std::env::temp_dir().join(format!(
                "forest-failed-{}-{}",
                std::process::id(),
                free_port()
            ));
            for n in &mut self.nodes {
                n.kill();
            }
            if std::fs::rename(self.dir.path(), &keep).is_ok() {
                eprintln!("the failed test's logs and data are in {}", keep.display());
            }
        }
    }
}

impl Cluster {
    /// Starts `n` nodes with the given extra `serve` flags and waits for a leader.
    pub async fn start(n: u64, extra: &[&str]) -> Cluster {
        let dir = tempfile::tempdir().expect("a temp dir");
        let grpc: Vec<String> = (0..n)
            .map(|_| format!("127.0.0.1:{}", free_port()))
            .collect();
        let peers = (1..=n)
            .map(|id| format!("{id}={}", grpc[id as usize - 1]))
            .collect::<Vec<_>>()
            .join(",");
        let mut nodes = Vec::new();
        for id in 1..=n {
            let http = format!("127.0.0.1:{}", free_port());
            let data_dir = dir.path().join(format!("node{id}"));
            let mut args: Vec<String> = vec![
                "serve".into(),
                "--id".into(),
                id.to_string(),
                "--data-dir".into(),
                data_dir.display().to_string(),
                "--grpc-addr".into(),
                grpc[id as usize - 1].clone(),
                "--http-addr".into(),
                http.clone(),
            ];
            if n > 1 {
                args.extend(["--peers".into(), peers.clone()]);
            }
            args.extend(extra.iter().map(|s| s.to_string()));
            let mut node = Node {
                id,
                grpc: grpc[id as usize - 1].clone(),
                http,
                data_dir,
                proc: Proc::new(args, dir.path().join(format!("node{id}.log"))),
            };
            node.start();
            nodes.push(node);
        }
        let cluster = Cluster { nodes, dir };
        cluster.wait_for_leader(&cluster.running()).await;
        cluster
    }

    pub fn node(&mut self, id: u64) -> &mut Node {
        &mut self.nodes[id as usize - 1]
    }

    pub fn running(&self) -> Vec<u64> {
        self.nodes
            .iter()
            .filter(|n| n.is_running())
            .map(|n| n.id)
            .collect()
    }

    pub fn endpoints(&self) -> String {
        self.nodes
            .iter()
            .map(|n| n.grpc.clone())
            .collect::<Vec<_>>()
            .join(",")
    }

    pub fn endpoint(&self, id: u64) -> String {
        self.nodes[id as usize - 1].grpc.clone()
    }

    /// Waits until every node in `among` answers and they agree on one leader among them;
    /// returns it.
    pub async fn wait_for_leader(&self, among: &[u64]) -> u64 {
        let deadline = Instant::now() + PATIENCE;
        loop {
            // /healthz is open whatever the node's authentication: each node's own view.
            let mut views = Vec::new();
            for id in among {
                views.push(healthz(&self.nodes[*id as usize - 1].http).await);
            }
            let leaders: Vec<u64> = among
                .iter()
                .zip(&views)
                .filter(|(_, v)| v.as_ref().is_some_and(|v| v["state"] == "Leader"))
                .map(|(id, _)| *id)
                .collect();
            if let [leader] = leaders[..] {
                // Every asked node must agree on it.
                let agreed = views.iter().all(|v| {
                    v.as_ref()
                        .is_some_and(|v| v["leader"].as_u64() == Some(leader))
                });
                if agreed {
                    return leader;
                }
            }
            assert!(
                Instant::now() < deadline,
                "no single leader among {among:?} within {PATIENCE:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// A node's `/healthz`: its id, state, known leader and term; `None` if it does not answer.
pub async fn healthz(http: &str) -> Option<serde_json::Value> {
    let text = reqwest::get(format!("http://{http}/healthz"))
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    serde_json::from_str(&text).ok()
}

pub async fn channel(endpoint: &str) -> Result<Channel, tonic::transport::Error> {
    tonic::transport::Endpoint::from_shared(format!("http://{endpoint}"))?
        .connect_timeout(Duration::from_secs(1))
        .timeout(Duration::from_secs(10))
        .connect()
        .await
}

pub async fn kv(endpoint: &str) -> KvClient<Channel> {
    KvClient::new(channel(endpoint).await.expect("connect"))
}

pub async fn lease(endpoint: &str) -> LeaseClient<Channel> {
    LeaseClient::new(channel(endpoint).await.expect("connect"))
}

pub async fn watch(endpoint: &str) -> WatchClient<Channel> {
    WatchClient::new(channel(endpoint).await.expect("connect"))
}

pub async fn cluster_client(
    endpoint: &str,
) -> Result<ClusterClient<Channel>, tonic::transport::Error> {
    Ok(ClusterClient::new(channel(endpoint).await?))
}

/// This node's own view of itself, or None if it does not answer.
pub async fn member(endpoint: &str) -> Option<Member> {
    let mut c = cluster_client(endpoint).await.ok()?;
    c.member(StatusRequest {})
        .await
        .ok()
        .map(|r| r.into_inner())
}

pub fn put_req(key: &str, value: &str) -> PutRequest {
    PutRequest {
        key: key.into(),
        value: value.into(),
        ..Default::default()
    }
}

/// Puts `key` and returns the revision the cluster committed it at.
pub async fn put_at_revision(c: &mut KvClient<Channel>, key: &str, value: &str) -> i64 {
    let resp = c.put(put_req(key, value)).await.expect("put").into_inner();
    resp.header.expect("a response header").revision
}

/// A key's value as the node at `endpoint` has applied it (serializable: no leader involved).
pub async fn local_value(endpoint: &str, key: &str) -> Option<String> {
    let mut c = KvClient::new(channel(endpoint).await.ok()?);
    let r = c
        .range(RangeRequest {
            key: key.into(),
            serializable: true,
            ..Default::default()
        })
        .await
        .ok()?
        .into_inner();
    r.kvs
        .first()
        .map(|kv| String::from_utf8_lossy(&kv.value).into_owned())
}

/// Every key under `prefix`, read linearizably through the node at `endpoint`.
pub async fn read_prefix(endpoint: &str, prefix: &str) -> forest::pb::kv::RangeResponse {
    let end = forest::kv::prefix_end(prefix.as_bytes()).expect("a prefix with an end");
    kv(endpoint)
        .await
        .range(RangeRequest {
            key: prefix.into(),
            range_end: end,
            ..Default::default()
        })
        .await
        .expect("a linearizable range read")
        .into_inner()
}

/// Polls `check` until it holds or PATIENCE runs out (for convergence that has no event to
/// await from outside, such as a follower applying an entry).
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + PATIENCE;
    while !check().await {
        assert!(Instant::now() < deadline, "not within {PATIENCE:?}: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Runs the `forest` CLI.
pub fn cli(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().expect("forest runs")
}

/// Runs a `forest` command that must succeed and print one JSON document; returns it.
pub fn ok_json(args: &[&str]) -> serde_json::Value {
    let out = cli(args);
    assert!(
        out.status.success(),
        "forest {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("--output json prints JSON")
}

/// [`ok_json`] for a client command, against `endpoint` with `--output json`.
pub fn ok_json_at(endpoint: &str, args: &[&str]) -> serde_json::Value {
    let mut all = args.to_vec();
    all.extend(["--endpoints", endpoint, "--output", "json"]);
    ok_json(&all)
}

/// [`ok_json`] for `forest ctl`, against the node whose HTTP listener is `http`.
pub fn ctl_json(http: &str, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["ctl"];
    all.extend(args);
    all.extend(["--server", http, "--output", "json"]);
    ok_json(&all)
}

/// [`refused`] for `forest ctl`, against the node whose HTTP listener is `http`.
pub fn ctl_refused(http: &str, args: &[&str]) -> String {
    let mut all = vec!["ctl"];
    all.extend(args);
    all.extend(["--server", http]);
    refused(&all)
}

/// Runs a command that must fail; returns its one-line reason.
pub fn refused(args: &[&str]) -> String {
    let out = cli(args);
    assert!(!out.status.success(), "forest {args:?} should have failed");
    let err = String::from_utf8_lossy(&out.stderr).trim().to_string();
    assert!(
        err.starts_with("error: ") && !err.contains('\n'),
        "one-line reason, got {err:?}"
    );
    err
}

/// [`refused`] for a client command, against `endpoint`.
pub fn refused_at(endpoint: &str, args: &[&str]) -> String {
    let mut all = args.to_vec();
    all.extend(["--endpoints", endpoint]);
    refused(&all)
}

/// A job as the original's JSON would give it: enabled, target `noop`.
pub fn job(id: &str, group: &str, cron: &str) -> forest::model::JobConf {
    forest::model::JobConf {
        id: id.into(),
        name: format!("job {id}"),
        group: group.into(),
        cron: cron.into(),
        status: 1,
        target: "noop".into(),
        ..Default::default()
    }
}

pub async fn put_json(ep: &str, key: String, value: String) {
    kv(ep).await.put(put_req(&key, &value)).await.expect("put");
}

/// Creates a group through the KV, as the original's UI did.
pub async fn add_group(ep: &str, name: &str) {
    put_json(
        ep,
        forest::model::keys::group(name),
        format!(r#"{{"name":"{name}","remark":""}}"#),
    )
    .await;
}

/// The runs in the node's execution history, by snapshot id, as the History API lists them
/// (read through `forest.v1.History`, so tests see what users see).
pub async fn history(
    ep: &str,
) -> std::collections::BTreeMap<String, forest::model::JobExecuteSnapshot> {
    use forest::model::WireJson;
    use forest::pb::forest::{history_client::HistoryClient, RunQuery};
    let mut client = HistoryClient::new(channel(ep).await.expect("connect"));
    let mut all = std::collections::BTreeMap::new();
    loop {
        let page = client
            .list_runs(RunQuery {
                offset: all.len() as u64,
                limit: 1000,
                ..Default::default()
            })
            .await
            .expect("the history answers")
            .into_inner();
        let n = page.runs.len();
        for json in page.runs {
            let run = forest::model::JobExecuteSnapshot::from_json(json.as_bytes())
                .expect("a run as JSON");
            all.insert(run.id.clone(), run);
        }
        if n < 1000 {
            return all;
        }
    }
}

/// One run from the node's history, with its output (`forest.v1.History.GetRun`).
pub async fn run_record(ep: &str, id: &str) -> Option<forest::model::JobExecuteSnapshot> {
    use forest::model::WireJson;
    use forest::pb::forest::{history_client::HistoryClient, RunId};
    let mut client = HistoryClient::new(channel(ep).await.expect("connect"));
    match client.get_run(RunId { id: id.into() }).await {
        Ok(r) => Some(
            forest::model::JobExecuteSnapshot::from_json(r.into_inner().json.as_bytes())
                .expect("a run as JSON"),
        ),
        Err(s) if s.code() == tonic::Code::NotFound => None,
        Err(s) => panic!("the history answers: {s}"),
    }
}

/// Waits until no run is dispatched, running or waiting anywhere (every run finished and was
/// collected); on timeout, fails naming what is left.
pub async fn settled(ep: &str) {
    use forest::model::keys;
    let deadline = Instant::now() + PATIENCE;
    loop {
        let mut left = Vec::new();
        for p in [
            keys::SNAPSHOT_PREFIX,
            keys::EXECUTE_PREFIX,
            keys::PENDING_PREFIX,
        ] {
            for kv in read_prefix(ep, p).await.kvs {
                left.push(format!(
                    "{} = {}",
                    String::from_utf8_lossy(&kv.key),
                    String::from_utf8_lossy(&kv.value)
                ));
            }
        }
        if left.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "runs still unfinished after {PATIENCE:?}: {left:#?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
