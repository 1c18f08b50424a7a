//! Building a worker and running it.
//!
//! [`Builder`] collects who the worker is (group, name, labels), how much it takes on at once,
//! where the cluster is and which targets it runs; [`Builder::build`] checks all of it against
//! what a node accepts, so a mistake shows at start and not as a refused stream later.
//! [`Worker::run`] then serves until SIGTERM or ctrl-c and drains: it stops claiming, lets the
//! runs under way finish (up to the drain timeout, then cancels them), reports them, and
//! closes its stream.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tonic::transport::Endpoint;
use tracing::{info, warn};

use crate::session::Session;
use crate::{pb, Error, Target};

/// A worker name's length limit, as a node checks it.
pub(crate) const MAX_NAME_BYTES: usize = 128;
const MAX_CONCURRENCY: u32 = 1024;
const MAX_LABELS: usize = 32;
const MAX_LABEL_BYTES: usize = 256;

/// Sets a worker up; see [`Worker::builder`].
pub struct Builder {
    endpoints: Vec<String>,
    group: String,
    name: Option<String>,
    concurrency: u32,
    labels: HashMap<String, String>,
    targets: HashMap<String, Arc<dyn Target>>,
    drain_timeout: Duration,
    backoff: (Duration, Duration),
    version: String,
    token: Option<String>,
}

/// A configured worker, ready to run.
pub struct Worker {
    config: Arc<Config>,
}

/// A built worker's settings, shared by its session and connections.
pub(crate) struct Config {
    /// The nodes, tried in turn: (as given, parsed).
    pub(crate) endpoints: Vec<(String, Endpoint)>,
    /// Every Hello but its `running` list.
    pub(crate) hello: pb::Hello,
    pub(crate) targets: HashMap<String, Arc<dyn Target>>,
    pub(crate) concurrency: usize,
    pub(crate) drain_timeout: Duration,
    pub(crate) backoff: (Duration, Duration),
    /// The `Authorization: Bearer` value for clusters that run with `--auth`.
    pub(crate) token: Option<String>,
}

impl Worker {
    /// A builder with the defaults: concurrency 8, the host name as the worker's name, a 30 s
    /// drain timeout, reconnect delays from 100 ms up to 10 s.
    pub fn builder() -> Builder {
        Builder {
            endpoints: Vec::new(),
            group: String::new(),
            name: None,
            concurrency: 8,
            labels: HashMap::new(),
            targets: HashMap::new(),
            drain_timeout: Duration::from_secs(30),
            backoff: (Duration::from_millis(100), Duration::from_secs(10)),
            version: concat!("forest-sdk/", env!("CARGO_PKG_VERSION")).to_string(),
            token: None,
        }
    }

    /// The worker's name, as it registers.
    pub fn name(&self) -> &str {
        &self.config.hello.name
    }

    /// Serves until SIGTERM or ctrl-c, then drains.
    pub async fn run(self) {
        self.run_until(shutdown_signal()).await
    }

    /// Serves until `shutdown` completes, then drains: no new claims, the runs under way get
    /// the drain timeout to finish (then they are cancelled), their results are delivered, and
    /// the stream is closed.
    pub async fn run_until(self, shutdown: impl Future<Output = ()>) {
        let stop = CancellationToken::new();
        let session = Session::new(self.config, stop.clone()).run();
        tokio::pin!(session);
        tokio::select! {
            () = &mut session => return,
            () = shutdown => stop.cancel(),
        }
        session.await
    }
}

impl Builder {
    /// The nodes to connect to (`host:port` of their gRPC listener, or a URL); any one will do,
    /// the others are where the worker goes when it loses its node.
    pub fn endpoints<I, S>(mut self, endpoints: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.endpoints = endpoints.into_iter().map(Into::into).collect();
        self
    }

    /// The worker token (`fst_…`, role worker, scoped to this group) for a cluster that runs
    /// with `--auth`.
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// The job group this worker serves (it must exist in the cluster).
    pub fn group(mut self, group: impl Into<String>) -> Self {
        self.group = group.into();
        self
    }

    /// The worker's name, unique within its group; default: the host name.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// How many runs at once (1..=1024); default 8.
    pub fn concurrency(mut self, concurrency: u32) -> Self {
        self.concurrency = concurrency;
        self
    }

    /// Adds a label (at most 32; keys and values at most 256 bytes).
    pub fn label(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.labels.insert(key.into(), value.into());
        self
    }

    /// Runs jobs whose target is `name` with `target`.
    pub fn target(mut self, name: impl Into<String>, target: impl Target) -> Self {
        self.targets.insert(name.into(), Arc::new(target));
        self
    }

    /// How long a shutdown waits for runs under way before cancelling them; default 30 s.
    pub fn drain_timeout(mut self, timeout: Duration) -> Self {
        self.drain_timeout = timeout;
        self
    }

    /// The first and the longest delay between reconnect attempts; default 100 ms and 10 s.
    pub fn backoff(mut self, min: Duration, max: Duration) -> Self {
        self.backoff = (min.max(Duration::from_millis(1)), max.max(min));
        self
    }

    /// The software the worker reports in its Hello; default `forest-sdk/<version>`.
    pub fn version(mut self, version: impl Into<String>) -> Self {
        self.version = version.into();
        self
    }

    /// Checks the settings and makes the worker.
    pub fn build(self) -> Result<Worker, Error> {
        if self.endpoints.is_empty() {
            return Err(Error::NoEndpoints);
        }
        let endpoints = self
            .endpoints
            .into_iter()
            .map(|e| endpoint(&e).map(|parsed| (e, parsed)))
            .collect::<Result<_, _>>()?;
        if self.group.is_empty() {
            return Err(Error::NoGroup);
        }
        let name = match self.name {
            Some(name) => name,
            None => hostname().ok_or(Error::NoHostname)?,
        };
        if !valid_name(&name) {
            return Err(Error::Name(name));
        }
        if !(1..=MAX_CONCURRENCY).contains(&self.concurrency) {
            return Err(Error::Concurrency(self.concurrency));
        }
        check_labels(&self.labels)?;
        if self.targets.is_empty() {
            return Err(Error::NoTargets);
        }
        if let Some(bad) = self.targets.keys().find(|t| t.is_empty()) {
            return Err(Error::TargetName(bad.clone()));
        }
        let mut targets: Vec<String> = self.targets.keys().cloned().collect();
        targets.sort();
        let hello = pb::Hello {
            group: self.group,
            name,
            targets,
            capacity: self.concurrency,
            labels: self.labels,
            version: self.version,
            session: format!("{:032x}", rand::random::<u128>()),
            running: Vec::new(),
        };
        Ok(Worker {
            config: Arc::new(Config {
                endpoints,
                hello,
                targets: self.targets,
                concurrency: self.concurrency as usize,
                drain_timeout: self.drain_timeout,
                backoff: self.backoff,
                token: self.token,
            }),
        })
    }
}

fn endpoint(given: &str) -> Result<Endpoint, Error> {
    let url = if given.contains("://") {
        given.to_string()
    } else {
        format!("http://{given}")
    };
    let endpoint = Endpoint::from_shared(url).map_err(|source| Error::Endpoint {
        endpoint: given.to_string(),
        source,
    })?;
    Ok(endpoint
        .connect_timeout(Duration::from_secs(3))
        .tcp_nodelay(true)
        // A node that vanishes without closing the connection is noticed within seconds.
        .http2_keep_alive_interval(Duration::from_secs(10))
        .keep_alive_timeout(Duration::from_secs(5))
        .keep_alive_while_idle(true))
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME_BYTES
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':'))
}

fn check_labels(labels: &HashMap<String, String>) -> Result<(), Error> {
    if labels.len() > MAX_LABELS {
        return Err(Error::Labels(format!(
            "{} labels, at most {MAX_LABELS}",
            labels.len()
        )));
    }
    match labels
        .iter()
        .find(|(k, v)| k.is_empty() || k.len() > MAX_LABEL_BYTES || v.len() > MAX_LABEL_BYTES)
    {
        Some((k, _)) => Err(Error::Labels(format!(
            "label {k:?}: keys 1 to {MAX_LABEL_BYTES} bytes, values at most {MAX_LABEL_BYTES}"
        ))),
        None => Ok(()),
    }
}

/// The host's name, as the kernel or the environment has it.
fn hostname() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
}

/// SIGTERM (how service managers and Kubernetes stop a process) or ctrl-c.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => info!("SIGTERM: draining"),
                    _ = tokio::signal::ctrl_c() => info!("ctrl-c: draining"),
                }
                return;
            }
            Err(e) => warn!(error = %e, "cannot watch SIGTERM; ctrl-c only"),
        }
    }
    match tokio::signal::ctrl_c().await {
        Ok(()) => info!("ctrl-c: draining"),
        Err(e) => {
            // No signal can reach us: serve until the process is killed.
            warn!(error = %e, "cannot watch ctrl-c");
            std::future::pending::<()>().await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Context, RunError};

    fn builder() -> Builder {
        Worker::builder()
            .endpoints(["127.0.0.1:1"])
            .group("g")
            .name("w-1")
            .target("t", |_: Context| async { Ok::<_, RunError>(String::new()) })
    }

    #[test]
    fn build_checks_what_a_node_would_refuse() {
        assert!(builder().build().is_ok());
        assert!(matches!(
            builder().endpoints(Vec::<String>::new()).build(),
            Err(Error::NoEndpoints)
        ));
        assert!(matches!(builder().group("").build(), Err(Error::NoGroup)));
        assert!(matches!(builder().name("a b").build(), Err(Error::Name(_))));
        assert!(matches!(
            builder().concurrency(0).build(),
            Err(Error::Concurrency(0))
        ));
        assert!(matches!(
            builder().label("", "x").build(),
            Err(Error::Labels(_))
        ));
    }

    #[test]
    fn the_session_id_is_random_per_worker() {
        let a = builder().build().map(|w| w.config.hello.session.clone());
        let b = builder().build().map(|w| w.config.hello.session.clone());
        assert_ne!(a.ok(), b.ok());
    }
}
