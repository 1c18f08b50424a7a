//! etcd's side of the tests: Debian's real `etcd` and `etcdctl` (found through
//! FOREST_TEST_ETCD / FOREST_TEST_ETCDCTL, which `.ci/etcd.sh` prints), and a client of the
//! original forest's SDKs (forest-compat §5) speaking etcd's v3 API through the generated etcd
//! protos, as Go's `bus` and Java's `cat` do through clientv3 and jetcd.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use forest::pb::etcd::etcdserverpb::{
    compare, kv_client::KvClient, lease_client::LeaseClient, request_op, Compare,
    DeleteRangeRequest, LeaseGrantRequest, LeaseKeepAliveRequest, PutRequest, RangeRequest,
    RequestOp, TxnRequest,
};
use tonic::transport::Channel;

use super::{eventually, free_port};

/// The real etcd and etcdctl, or None (and a SKIPPED line) when the environment has none.
pub fn tools(test: &str) -> Option<(PathBuf, PathBuf)> {
    let found = |var: &str| std::env::var_os(var).map(PathBuf::from);
    match (found("FOREST_TEST_ETCD"), found("FOREST_TEST_ETCDCTL")) {
        (Some(etcd), Some(etcdctl)) => Some((etcd, etcdctl)),
        _ => {
            println!(
                "SKIPPED: {test}: FOREST_TEST_ETCD and FOREST_TEST_ETCDCTL are not set \
                 (eval \"$(.ci/etcd.sh)\" installs and names them)"
            );
            None
        }
    }
}

/// What one etcdctl command did.
#[derive(Debug, Clone, PartialEq)]
pub struct Output {
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `etcdctl --endpoints=<endpoints> <args>`, feeding `stdin`.
pub fn etcdctl(bin: &PathBuf, endpoints: &str, args: &[&str], stdin: &str) -> Output {
    use std::io::Write;
    let mut child = Command::new(bin)
        .env("ETCDCTL_API", "3")
        .arg(format!("--endpoints={endpoints}"))
        .args(["--dial-timeout=3s", "--command-timeout=10s"])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("etcdctl starts");
    child
        .stdin
        .take()
        .expect("a stdin")
        .write_all(stdin.as_bytes())
        .expect("etcdctl reads its input");
    let out = child.wait_with_output().expect("etcdctl ends");
    Output {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs `etcdctl watch ...` until a line equal to `last` has been printed, then stops it;
/// returns what it printed. (A watch never ends by itself.)
pub fn etcdctl_watch(bin: &PathBuf, endpoints: &str, args: &[&str], last: &str) -> String {
    use std::io::BufRead;
    let mut child: Child = Command::new(bin)
        .env("ETCDCTL_API", "3")
        .arg(format!("--endpoints={endpoints}"))
        .arg("watch")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("etcdctl starts");
    let stdout = child.stdout.take().expect("a stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    let last = last.to_string();
    std::thread::spawn(move || {
        let mut seen = String::new();
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            seen.push_str(&line);
            seen.push('\n');
            if line == last {
                break;
            }
        }
        let _ = tx.send(seen);
    });
    let seen = rx
        .recv_timeout(super::PATIENCE)
        .expect("the watch printed its last line in time");
    let _ = child.kill();
    let _ = child.wait();
    seen
}

/// A throw-away single-member etcd on free loopback ports, data in a temporary directory.
pub struct RealEtcd {
    pub endpoint: String,
    child: Child,
    _dir: tempfile::TempDir,
}

impl RealEtcd {
    pub async fn start(bin: &PathBuf, etcdctl_bin: &PathBuf) -> RealEtcd {
        let dir = tempfile::tempdir().expect("a temp dir");
        let (client, peer) = (free_port(), free_port());
        let client_url = format!("http://127.0.0.1:{client}");
        let peer_url = format!("http://127.0.0.1:{peer}");
        let log = std::fs::File::create(dir.path().join("etcd.log")).expect("a log file");
        let mut cmd = Command::new(bin);
        // etcd reads ETCD_* variables as flags: none from the environment.
        for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("ETCD_")) {
            cmd.env_remove(k);
        }
        let child = cmd
            .args(["--name", "e1", "--data-dir"])
            .arg(dir.path().join("data"))
            .args(["--listen-client-urls", &client_url])
            .args(["--advertise-client-urls", &client_url])
            .args(["--listen-peer-urls", &peer_url])
            .args(["--initial-advertise-peer-urls", &peer_url])
            .args(["--initial-cluster", &format!("e1={peer_url}")])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("etcd starts");
        let etcd = RealEtcd {
            endpoint: format!("127.0.0.1:{client}"),
            child,
            _dir: dir,
        };
        eventually("the real etcd is healthy", || async {
            etcdctl(etcdctl_bin, &etcd.endpoint, &["endpoint", "health"], "").ok
        })
        .await;
        etcd
    }
}

impl Drop for RealEtcd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A client of the original forest's SDKs (forest-compat §5), given every endpoint: each call
/// goes to the endpoint in use and, when it cannot be reached, to the next one, as clientv3's
/// balancer does.
pub struct LegacyClient {
    pub group: String,
    pub ip: String,
    pub lease: i64,
    endpoints: Vec<String>,
    current: Arc<Mutex<usize>>,
    keepalive: tokio::task::JoinHandle<()>,
}

/// What a client is handed to run: a snapshot's key and its JSON.
pub struct Snapshot {
    pub key: Vec<u8>,
    pub json: serde_json::Value,
}

impl Snapshot {
    pub fn id(&self) -> &str {
        self.json["id"].as_str().expect("a snapshot has an id")
    }
}

impl LegacyClient {
    /// Registers as the SDKs do: a lease of `ttl` seconds kept alive (the keepalive starts
    /// before the transaction), then `/forest/client/<group>/clients/<ip>` = ip created only if
    /// absent. Retries while the key is still held (a previous instance's lease not yet gone).
    pub async fn register(endpoints: &str, group: &str, ip: &str, ttl: i64) -> LegacyClient {
        let endpoints: Vec<String> = endpoints.split(',').map(str::to_string).collect();
        let current = Arc::new(Mutex::new(0));
        let lease = retrying(&endpoints, &current, |ch| async move {
            LeaseClient::new(ch)
                .lease_grant(LeaseGrantRequest { ttl, id: 0 })
                .await
                .map(|r| r.into_inner().id)
        })
        .await;
        let keepalive = tokio::spawn(keep_alive(
            endpoints.clone(),
            current.clone(),
            lease,
            Duration::from_millis((ttl * 1000 / 3) as u64),
        ));
        let client = LegacyClient {
            group: group.into(),
            ip: ip.into(),
            lease,
            endpoints,
            current,
            keepalive,
        };
        let key = forest::model::keys::client(group, ip);
        eventually("the client registers", || async {
            client.create_if_absent(&key, ip).await
        })
        .await;
        client
    }

    /// `Txn If(Version(key) == 0) Then(Put key value WithLease) Else(Get key)`.
    async fn create_if_absent(&self, key: &str, value: &str) -> bool {
        let txn = TxnRequest {
            compare: vec![Compare {
                result: compare::CompareResult::Equal as i32,
                target: compare::CompareTarget::Version as i32,
                key: key.into(),
                target_union: Some(compare::TargetUnion::Version(0)),
                ..Default::default()
            }],
            success: vec![RequestOp {
                request: Some(request_op::Request::RequestPut(PutRequest {
                    key: key.into(),
                    value: value.into(),
                    lease: self.lease,
                    ..Default::default()
                })),
            }],
            failure: vec![RequestOp {
                request: Some(request_op::Request::RequestRange(RangeRequest {
                    key: key.into(),
                    ..Default::default()
                })),
            }],
        };
        self.call(|ch| {
            let txn = txn.clone();
            async move { KvClient::new(ch).txn(txn).await.map(|r| r.into_inner()) }
        })
        .await
        .succeeded
    }

    /// The snapshots waiting under `/forest/client/snapshot/<group>/<ip>/`, oldest first, at
    /// most 50 (the Go SDK's poll).
    pub async fn poll(&self) -> Vec<Snapshot> {
        let prefix = forest::model::keys::snapshot_worker_prefix(&self.group, &self.ip);
        let req = RangeRequest {
            range_end: forest::kv::prefix_end(prefix.as_bytes()).expect("an end"),
            key: prefix.into_bytes(),
            limit: 50,
            ..Default::default()
        };
        let found = self
            .call(|ch| {
                let req = req.clone();
                async move { KvClient::new(ch).range(req).await.map(|r| r.into_inner()) }
            })
            .await;
        found
            .kvs
            .into_iter()
            .map(|kv| Snapshot {
                json: serde_json::from_slice(&kv.value).expect("a snapshot is JSON"),
                key: kv.key,
            })
            .collect()
    }

    /// Claims a snapshot by deleting its key; true when this client's delete removed it.
    pub async fn claim(&self, s: &Snapshot) -> bool {
        let req = DeleteRangeRequest {
            key: s.key.clone(),
            ..Default::default()
        };
        let deleted = self
            .call(|ch| {
                let req = req.clone();
                async move {
                    KvClient::new(ch)
                        .delete_range(req)
                        .await
                        .map(|r| r.into_inner().deleted)
                }
            })
            .await;
        deleted > 0
    }

    /// Puts a report of `s` at `/forest/client/execute/snapshot/<group>/<ip>/<id>`, with every
    /// field the Go SDK writes.
    pub async fn report(&self, s: &Snapshot, status: i64, result: &str) {
        let now = chrono::Local::now().format("%Y-%m-%d %H:%M:%S").to_string();
        let finished = status != 1;
        let mut report = s.json.clone();
        report["startTime"] = now.clone().into();
        report["finishTime"] = if finished { now } else { String::new() }.into();
        report["times"] = 0.into();
        report["status"] = status.into();
        report["result"] = result.into();
        let req = PutRequest {
            key: forest::model::keys::execute_snapshot(&self.group, &self.ip, s.id()).into_bytes(),
            value: report.to_string().into_bytes(),
            ..Default::default()
        };
        self.call(|ch| {
            let req = req.clone();
            async move { KvClient::new(ch).put(req).await.map(drop) }
        })
        .await;
    }

    /// Stops keeping the lease alive, as a client that dies does: the lease then runs out.
    pub fn stop_keepalive(&self) {
        self.keepalive.abort();
    }

    /// One call, moving on to the next endpoint while the one in use cannot be reached.
    async fn call<T, F, Fut>(&self, op: F) -> T
    where
        F: Fn(Channel) -> Fut,
        Fut: std::future::Future<Output = Result<T, tonic::Status>>,
    {
        retrying(&self.endpoints, &self.current, op).await
    }
}

impl Drop for LegacyClient {
    fn drop(&mut self) {
        self.keepalive.abort();
    }
}

/// Whether a failed call says the endpoint (or its cluster, for now) is unavailable: worth
/// trying again elsewhere. Anything else is the server's real answer and fails the test.
fn unavailable(s: &tonic::Status) -> bool {
    matches!(
        s.code(),
        tonic::Code::Unavailable | tonic::Code::Unknown | tonic::Code::Cancelled
    )
}

async fn retrying<T, F, Fut>(endpoints: &[String], current: &Mutex<usize>, op: F) -> T
where
    F: Fn(Channel) -> Fut,
    Fut: std::future::Future<Output = Result<T, tonic::Status>>,
{
    let deadline = tokio::time::Instant::now() + super::PATIENCE;
    loop {
        let i = *current.lock().expect("not poisoned");
        let answer = match super::channel(&endpoints[i]).await {
            Ok(ch) => op(ch).await,
            Err(e) => Err(tonic::Status::unavailable(e.to_string())),
        };
        match answer {
            Ok(t) => return t,
            Err(s) if unavailable(&s) && tokio::time::Instant::now() < deadline => {
                *current.lock().expect("not poisoned") = (i + 1) % endpoints.len();
                // Give an election a moment before the next endpoint is asked.
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(s) => panic!("{} answered {s:?}", endpoints[i]),
        }
    }
}

/// The SDKs' keepalive: one stream, a renewal every `every`; a broken stream is opened again
/// on the next endpoint.
async fn keep_alive(
    endpoints: Vec<String>,
    current: Arc<Mutex<usize>>,
    lease: i64,
    every: Duration,
) {
    loop {
        let i = *current.lock().expect("not poisoned");
        let ended = async {
            let ch = super::channel(&endpoints[i]).await.map_err(drop)?;
            let (tx, rx) = tokio::sync::mpsc::channel(1);
            // The first renewal goes out with the call: a server may answer the call only
            // with its first message.
            tx.send(LeaseKeepAliveRequest { id: lease })
                .await
                .map_err(drop)?;
            let mut answers = LeaseClient::new(ch)
                .lease_keep_alive(tokio_stream::wrappers::ReceiverStream::new(rx))
                .await
                .map_err(drop)?
                .into_inner();
            loop {
                match answers.message().await {
                    Ok(Some(a)) if a.ttl > 0 => {}
                    // The lease is gone: the SDKs register anew; these tests never need to.
                    Ok(Some(_)) => return Ok::<(), ()>(()),
                    _ => return Err(()),
                }
                tokio::time::sleep(every).await;
                tx.send(LeaseKeepAliveRequest { id: lease })
                    .await
                    .map_err(drop)?;
            }
        };
        if ended.await.is_ok() {
            return;
        }
        *current.lock().expect("not poisoned") = (i + 1) % endpoints.len();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
