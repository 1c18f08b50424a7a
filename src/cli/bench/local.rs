//! A cluster of `forest serve` processes on 127.0.0.1, started by a benchmark from this very
//! binary in a temporary directory, and stopped (SIGTERM) when dropped.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use crate::cli::client::channel;
use crate::pb::kv::{cluster_client::ClusterClient, StatusRequest};

pub struct LocalCluster {
    pub endpoints: Vec<String>,
    children: Vec<Child>,
    _dir: tempfile::TempDir,
}

fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn start_node(dir: &Path, id: usize, grpc: &str, peers: &str) -> anyhow::Result<Child> {
    let exe = std::env::current_exe().context("cannot find the forest binary")?;
    let log = std::fs::File::create(dir.join(format!("node{id}.log")))?;
    let http = format!("127.0.0.1:{}", free_port()?);
    let data = dir.join(format!("node{id}"));
    let mut cmd = Command::new(exe);
    cmd.arg("serve")
        .args([
            "--id",
            &id.to_string(),
            "--grpc-addr",
            grpc,
            "--http-addr",
            &http,
        ])
        .arg("--data-dir")
        .arg(&data)
        .env("FOREST_LOG", "info,openraft=warn")
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    if !peers.is_empty() {
        cmd.args(["--peers", peers]);
    }
    cmd.spawn().context("cannot start a node")
}

impl LocalCluster {
    /// Starts `n` nodes and waits until one of them leads.
    pub async fn start(n: usize) -> anyhow::Result<LocalCluster> {
        let dir = tempfile::tempdir()?;
        let endpoints: Vec<String> = (0..n)
            .map(|_| Ok(format!("127.0.0.1:{}", free_port()?)))
            .collect::<anyhow::Result<_>>()?;
        let peers = if n > 1 {
            endpoints
                .iter()
                .enumerate()
                .map(|(i, e)| format!("{}={e}", i + 1))
                .collect::<Vec<_>>()
                .join(",")
        } else {
            String::new()
        };
        let mut children = Vec::new();
        for (i, e) in endpoints.iter().enumerate() {
            children.push(start_node(dir.path(), i + 1, e, &peers)?);
        }
        let cluster = LocalCluster {
            endpoints,
            children,
            _dir: dir,
        };
        cluster.wait_for_leader().await?;
        eprintln!(
            "started {n} node(s) at {}; logs in {}",
            cluster.endpoints.join(","),
            cluster._dir.path().display()
        );
        Ok(cluster)
    }

    async fn wait_for_leader(&self) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            for e in &self.endpoints {
                if let Ok(ch) = channel(e).await {
                    if let Ok(s) = ClusterClient::new(ch).status(StatusRequest {}).await {
                        if s.get_ref().leader_id != 0 {
                            return Ok(());
                        }
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!("the local cluster elected no leader within 30 s")
    }

    /// Each node's resident memory in MiB (Linux), in node order.
    pub fn rss_mib(&self) -> Vec<f64> {
        self.children
            .iter()
            .map(|c| {
                std::fs::read_to_string(format!("/proc/{}/status", c.id()))
                    .ok()
                    .and_then(|s| {
                        s.lines()
                            .find_map(|l| l.strip_prefix("VmRSS:"))
                            .and_then(|v| {
                                v.trim().trim_end_matches("kB").trim().parse::<f64>().ok()
                            })
                    })
                    .map_or(0.0, |kb| kb / 1024.0)
            })
            .collect()
    }
}

impl Drop for LocalCluster {
    /// Stops the nodes; their logs and data go too unless FOREST_BENCH_KEEP is set.
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = Command::new("kill").arg(c.id().to_string()).status();
        }
        for c in &mut self.children {
            let _ = c.wait();
        }
        if std::env::var_os("FOREST_BENCH_KEEP").is_some() {
            let dir = std::mem::replace(
                &mut self._dir,
                tempfile::TempDir::new().expect("a temp dir"),
            );
            eprintln!("kept {}", dir.keep().display());
        }
    }
}
