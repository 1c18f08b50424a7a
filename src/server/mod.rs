//! A running Forest node: storage, Raft, the KV door, and the listeners, started in order and
//! stopped gracefully on SIGTERM or Ctrl-C.

mod presence;
mod shutdown;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{bail, Context};
use shutdown::Shutdown;
use tokio::net::TcpListener;

use crate::cluster::{peers, Cluster, ClusterConfig};
use crate::kv::service::KvService;
use crate::kv::{Kv, KvConfig};

/// How long a SIGTERM waits for open connections to finish.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(3);

/// `forest serve`'s settings.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeOptions {
    /// This node's id in the cluster (a positive integer, unique among the peers).
    #[arg(long, default_value_t = 1, env = "FOREST_ID")]
    pub id: u64,
    /// This node's name (`/forest/server/node/<name>`); defaults to `node-<id>`.
    #[arg(long, env = "FOREST_NAME")]
    pub name: Option<String>,
    /// The cluster's name; a data directory is tied to it.
    #[arg(long, default_value = "forest", env = "FOREST_CLUSTER")]
    pub cluster: String,
    /// Where this node keeps its Raft log and state.
    #[arg(long, default_value = "./forest-data", env = "FOREST_DATA_DIR")]
    pub data_dir: PathBuf,
    /// gRPC listener: Raft between nodes, the KV API, workers.
    #[arg(long, default_value = "127.0.0.1:7070", env = "FOREST_GRPC_ADDR")]
    pub grpc_addr: SocketAddr,
    /// HTTP listener: the REST API, the original forest routes, /metrics and the web UI.
    #[arg(long, default_value = "127.0.0.1:2856", env = "FOREST_HTTP_ADDR")]
    pub http_addr: SocketAddr,
    /// The initial members, `ID=HOST:PORT,...` (this node included). Empty: a single-node
    /// cluster.
    #[arg(long, default_value = "", env = "FOREST_PEERS")]
    pub peers: String,
    /// The address other nodes reach this one at; defaults to its entry in --peers, or
    /// --grpc-addr.
    #[arg(long, env = "FOREST_ADVERTISE_ADDR")]
    pub advertise_addr: Option<String>,
    /// Raft heartbeat interval.
    #[arg(long, default_value_t = 100)]
    pub heartbeat_ms: u64,
    /// Raft election timeout (a follower waits between this and twice this before it stands
    /// for election). Keep it well above the disk's worst fsync stall.
    #[arg(long, default_value_t = 300)]
    pub election_timeout_ms: u64,
    /// Build a snapshot, and purge the log below it, after this many log entries.
    #[arg(long, default_value_t = 20_000)]
    pub snapshot_logs: u64,
    /// Revisions of change history kept for watches and past reads.
    #[arg(long, default_value_t = 100_000)]
    pub retain_revisions: i64,
    /// Where runs are recorded: `sqlite://PATH` (default: history.db in the data directory),
    /// `mysql://…` (the original forest's job_execute_snapshot table) or `postgres://…`.
    #[arg(long, env = "FOREST_HISTORY_URL")]
    pub history_url: Option<String>,
    /// Runs older than this many days leave the history (0: kept forever).
    #[arg(long, default_value_t = 30, env = "FOREST_HISTORY_DAYS")]
    pub history_days: u64,
    /// At most this many runs per job stay in the history (0: no limit).
    #[arg(long, default_value_t = 10_000, env = "FOREST_HISTORY_PER_JOB")]
    pub history_per_job: u64,
    /// Allow listening on a non-loopback address without authentication (a warning on every
    /// start, and /readyz says so).
    #[arg(long)]
    pub insecure: bool,
    /// Require an API token (`Authorization: Bearer …`) on the HTTP API. On the cluster's first
    /// start an administrator token is made and written, mode 0600, to `admin.token` in the
    /// data directory (or taken from --admin-token-file); it never appears in a log.
    #[arg(long, env = "FOREST_AUTH")]
    pub auth: bool,
    /// With --auth: the first administrator token, read from this file (one line,
    /// `fst_<id>_<secret>`, as `forest ctl token create` prints), instead of a generated one.
    #[arg(long, env = "FOREST_ADMIN_TOKEN_FILE")]
    pub admin_token_file: Option<PathBuf>,
    /// A file holding the cluster secret (at least 16 characters, the same on every node):
    /// Raft and forwarded writes are accepted only from callers that send it, so a stranger
    /// cannot vote, append or join.
    #[arg(long, env = "FOREST_CLUSTER_SECRET_FILE")]
    pub cluster_secret_file: Option<PathBuf>,
    /// With --auth: the original forest's POST routes answer callers on this machine
    /// (loopback) without a token, for the old duck UI, which cannot send one.
    #[arg(long)]
    pub legacy_open: bool,
}

impl ServeOptions {
    fn cluster_config(&self) -> anyhow::Result<ClusterConfig> {
        let mut peers: BTreeMap<u64, String> = peers::parse(&self.peers)?;
        if self.id == 0 {
            bail!("--id must be a positive integer");
        }
        let advertise = match (&self.advertise_addr, peers.get(&self.id)) {
            (Some(a), _) => a.clone(),
            (None, Some(a)) => a.clone(),
            (None, None) => self.grpc_addr.to_string(),
        };
        if peers.is_empty() {
            peers.insert(self.id, advertise.clone());
        } else if !peers.contains_key(&self.id) {
            return Err(peers::PeersError::SelfMissing(self.id).into());
        }
        if self.election_timeout_ms < 3 * self.heartbeat_ms {
            bail!("--election-timeout-ms must be at least three heartbeats");
        }
        Ok(ClusterConfig {
            id: self.id,
            name: self
                .name
                .clone()
                .unwrap_or_else(|| format!("node-{}", self.id)),
            cluster: self.cluster.clone(),
            data_dir: self.data_dir.clone(),
            advertise_addr: advertise,
            peers,
            heartbeat_ms: self.heartbeat_ms,
            election_timeout_ms: self.election_timeout_ms,
            snapshot_logs: self.snapshot_logs.max(10),
            secret: self
                .cluster_secret_file
                .as_deref()
                .map(|path| {
                    crate::auth::Secret::from_file(path).with_context(|| {
                        format!("cannot read --cluster-secret-file {}", path.display())
                    })
                })
                .transpose()?,
        })
    }

    fn history_url(&self) -> String {
        self.history_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("history.db").display()))
    }

    fn retention(&self) -> crate::history::Retention {
        crate::history::Retention {
            max_age: (self.history_days > 0)
                .then(|| std::time::Duration::from_secs(self.history_days * 86_400)),
            max_per_job: (self.history_per_job > 0).then_some(self.history_per_job),
        }
    }

    /// A listener on a non-loopback address needs authentication for what it serves: the HTTP
    /// API takes tokens (--auth); the gRPC listener serves clients and workers (tokens, --auth)
    /// and, in a cluster of several nodes, its peers (--cluster-secret-file). --insecure lets
    /// anything through, loudly.
    fn check_binds(&self) -> anyhow::Result<()> {
        let several = self.peers.contains(',');
        let grpc_ok = self.auth && (self.cluster_secret_file.is_some() || !several);
        for (flag, addr, authenticated, fix) in [
            (
                "--grpc-addr",
                self.grpc_addr,
                grpc_ok,
                "pass --auth and, with peers, --cluster-secret-file, ",
            ),
            (
                "--http-addr",
                self.http_addr,
                self.auth,
                "pass --auth (API tokens), ",
            ),
        ] {
            if addr.ip().is_loopback() || authenticated {
                continue;
            }
            if !self.insecure {
                bail!(
                    "{flag} {addr} is not a loopback address and nothing authenticates its callers; \
                     listen on 127.0.0.1, {fix}or pass --insecure to accept anyone who can reach it"
                );
            }
            tracing::warn!(%addr, "listening on a non-loopback address WITHOUT authentication (--insecure)");
        }
        if self.admin_token_file.is_some() && !self.auth {
            bail!("--admin-token-file needs --auth");
        }
        Ok(())
    }
}

/// Runs a node until SIGTERM / Ctrl-C.
pub async fn serve(opts: ServeOptions) -> anyhow::Result<()> {
    opts.check_binds()?;
    crate::http::metrics::install();
    let cfg = opts.cluster_config()?;
    let grpc = TcpListener::bind(opts.grpc_addr)
        .await
        .with_context(|| format!("cannot listen on --grpc-addr {}", opts.grpc_addr))?;
    let http = TcpListener::bind(opts.http_addr)
        .await
        .with_context(|| format!("cannot listen on --http-addr {}", opts.http_addr))?;

    let cluster = Cluster::start(&cfg).await?;
    let history = forest_storage::history::History::open(&opts.history_url())
        .await
        .context("cannot open the execution history (--history-url)")?;
    let kv = Kv::start(
        cluster.clone(),
        KvConfig {
            retain_revisions: opts.retain_revisions.max(1),
        },
    );
    let (stop, shutdown) = Shutdown::new();

    let routes = KvService::new(kv.clone())
        .routes()
        .add_service(cluster.rpc_service())
        .add_service(crate::pb::forest::jobs_server::JobsServer::new(
            crate::jobs::Jobs::new(kv.clone()),
        ))
        .add_service(crate::workers::WorkerService::new(kv.clone(), Default::default()).server())
        .add_service(crate::pb::forest::history_server::HistoryServer::new(
            crate::history::grpc::HistoryService::new(history.clone()),
        ));
    let grpc_auth = crate::auth::grpc::GrpcAuthLayer(crate::auth::grpc::GrpcAuth {
        tokens: opts
            .auth
            .then(|| crate::auth::tokens::Tokens::new(kv.clone())),
        peer_secret: cfg.secret.clone(),
    });
    let grpc_server = tokio::spawn({
        let shutdown = shutdown.clone();
        async move {
            // Nagle's algorithm held small replies ~40 ms for the peer's delayed ACK: every
            // accepted connection (clients and Raft peers alike) sends at once.
            let incoming =
                tonic::transport::server::TcpIncoming::from(grpc).with_nodelay(Some(true));
            tonic::transport::Server::builder()
                .layer(grpc_auth)
                .add_routes(routes)
                .serve_with_incoming_shutdown(incoming, shutdown.wait())
                .await
        }
    });
    let http_server = tokio::spawn({
        let shutdown = shutdown.clone();
        let tokens = opts
            .auth
            .then(|| crate::auth::tokens::Tokens::new(kv.clone()));
        if let Some(tokens) = &tokens {
            tokio::spawn(crate::auth::bootstrap::run(
                tokens.clone(),
                opts.data_dir.clone(),
                opts.admin_token_file.clone(),
            ));
        }
        let auth = crate::http::auth::HttpAuth {
            tokens,
            legacy_open: opts.legacy_open,
            insecure: opts.insecure,
        };
        let app = crate::http::router(crate::http::AppState::new(
            kv.clone(),
            history.clone(),
            auth,
        ));
        async move {
            axum::serve(
                http,
                app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
            )
            .with_graceful_shutdown(shutdown.wait())
            .await
        }
    });
    tokio::spawn({
        let cluster = cluster.clone();
        let cfg = cfg.clone();
        async move { cluster.bootstrap(&cfg).await }
    });
    tokio::spawn(presence::run(kv.clone()));
    tokio::spawn(crate::scheduler::run(kv.clone()));
    crate::history::start(kv.clone(), history.clone(), opts.retention());
    tokio::spawn(log_role_changes(cluster.clone()));
    tracing::info!(
        id = cfg.id,
        name = %cfg.name,
        grpc = %opts.grpc_addr,
        http = %opts.http_addr,
        data_dir = %cfg.data_dir.display(),
        "forest node started"
    );

    wait_for_signal().await;
    tracing::info!("shutting down");
    let _ = stop.send(true);
    // Open streams (watches, workers) would hold a graceful stop forever: they get a grace
    // period, then the listeners are dropped.
    if tokio::time::timeout(SHUTDOWN_GRACE, async {
        let _ = grpc_server.await;
        let _ = http_server.await;
    })
    .await
    .is_err()
    {
        tracing::warn!(grace = ?SHUTDOWN_GRACE, "connections still open after the grace period; closing them");
    }
    cluster.shutdown().await;
    history.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// One log line each time this node's role, term or known leader changes.
async fn log_role_changes(cluster: Cluster) {
    let mut metrics = cluster.raft().metrics();
    let mut last = None;
    loop {
        let now = {
            let m = metrics.borrow_and_update();
            (m.state, m.current_term, m.current_leader)
        };
        if last != Some(now) {
            let (state, term, leader) = now;
            if last.is_some_and(|(_, _, before)| before != leader) && leader.is_some() {
                metrics::counter!(crate::http::metrics::LEADER_CHANGES).increment(1);
            }
            tracing::info!(node = cluster.id(), ?state, term, ?leader, "raft role");
            last = Some(now);
        }
        if metrics.changed().await.is_err() {
            return;
        }
    }
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot listen for SIGTERM");
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
