//! A fake Forest node for the SDK's tests: a real tonic server of `WorkerService` on
//! 127.0.0.1:0 that hands every stream to the test, which then plays the node's part message
//! by message. Nothing is sent on the test's behalf, not even the Welcome.
//!
//! Also a probe target: runs that block until the test releases them, counting how many run
//! at once and announcing when they start and end, so tests wait for events, not for time.

#![allow(dead_code)] // each test binary uses its own part of the harness

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use forest_sdk::pb::node_message::Kind as NodeKind;
use forest_sdk::pb::worker_message::Kind;
use forest_sdk::pb::worker_service_server::{WorkerService, WorkerServiceServer};
use forest_sdk::pb::{self, NodeMessage, WorkerMessage};
use forest_sdk::{Context, RunError};
use tokio::sync::{mpsc, Mutex, Semaphore};
use tokio_stream::wrappers::{TcpListenerStream, UnboundedReceiverStream};
use tokio_stream::Stream;
use tonic::{Request, Response, Status, Streaming};

/// How long a test waits for an event before it fails.
const PATIENCE: Duration = Duration::from_secs(10);

pub struct FakeNode {
    pub addr: SocketAddr,
    streams: mpsc::UnboundedReceiver<WorkerStream>,
}

/// One worker stream as the node sees it, after the Hello.
pub struct WorkerStream {
    pub hello: pb::Hello,
    from_worker: mpsc::UnboundedReceiver<Kind>,
    to_worker: mpsc::UnboundedSender<Result<NodeMessage, Status>>,
}

struct Service {
    streams: mpsc::UnboundedSender<WorkerStream>,
}

#[tonic::async_trait]
impl WorkerService for Service {
    type ConnectStream = Pin<Box<dyn Stream<Item = Result<NodeMessage, Status>> + Send>>;

    async fn connect(
        &self,
        request: Request<Streaming<WorkerMessage>>,
    ) -> Result<Response<Self::ConnectStream>, Status> {
        let mut inbound = request.into_inner();
        let hello = match inbound.message().await? {
            Some(WorkerMessage {
                kind: Some(Kind::Hello(hello)),
            }) => hello,
            other => return Err(Status::invalid_argument(format!("not a Hello: {other:?}"))),
        };
        let (from_tx, from_worker) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok(Some(WorkerMessage { kind: Some(kind) })) = inbound.message().await {
                if from_tx.send(kind).is_err() {
                    break;
                }
            }
        });
        let (to_worker, rx) = mpsc::unbounded_channel();
        self.streams
            .send(WorkerStream {
                hello,
                from_worker,
                to_worker,
            })
            .map_err(|_| Status::unavailable("the test is gone"))?;
        Ok(Response::new(Box::pin(UnboundedReceiverStream::new(rx))))
    }
}

impl FakeNode {
    pub async fn start() -> FakeNode {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (streams_tx, streams) = mpsc::unbounded_channel();
        let service = WorkerServiceServer::new(Service {
            streams: streams_tx,
        });
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming(TcpListenerStream::new(listener)),
        );
        FakeNode { addr, streams }
    }

    pub fn endpoint(&self) -> String {
        self.addr.to_string()
    }

    /// The next stream a worker opens (not yet welcomed).
    pub async fn accept(&mut self) -> WorkerStream {
        within(self.streams.recv()).await.expect("node gone")
    }

    /// The next stream, welcomed.
    pub async fn accept_welcomed(&mut self) -> WorkerStream {
        let stream = self.accept().await;
        stream.welcome();
        stream
    }
}

impl WorkerStream {
    pub fn send(&self, kind: NodeKind) {
        let _ = self.to_worker.send(Ok(NodeMessage { kind: Some(kind) }));
    }

    pub fn welcome(&self) {
        self.send(NodeKind::Welcome(pb::Welcome {
            node_id: 1,
            node: "fake".into(),
            lease_id: 7,
            lease_ttl_ms: 3000,
            heartbeat_ms: 50,
        }));
    }

    pub fn dispatch(&self, dispatch: pb::Dispatch) {
        self.send(NodeKind::Dispatch(dispatch));
    }

    pub fn claimed(&self, snapshot_id: &str, ok: bool) {
        self.send(NodeKind::Claimed(pb::Claimed {
            snapshot_id: snapshot_id.into(),
            ok,
            reason: if ok { "" } else { "taken" }.into(),
        }));
    }

    pub fn recorded(&self, snapshot_id: &str) {
        self.send(NodeKind::Recorded(pb::Recorded {
            snapshot_id: snapshot_id.into(),
            ok: true,
            reason: String::new(),
        }));
    }

    pub fn cancel(&self, snapshot_id: &str, reason: &str) {
        self.send(NodeKind::Cancel(pb::Cancel {
            snapshot_id: snapshot_id.into(),
            reason: reason.into(),
        }));
    }

    /// Ends the stream with an error status, as a dying or refusing node does.
    pub fn fail(self) {
        let _ = self
            .to_worker
            .send(Err(Status::unavailable("the node is going away")));
    }

    /// The worker's next message but heartbeats; None once the worker closed the stream.
    pub async fn next(&mut self) -> Option<Kind> {
        loop {
            match within(self.from_worker.recv()).await {
                Some(Kind::Heartbeat(_)) => continue,
                other => return other,
            }
        }
    }

    /// The next message, which must be a heartbeat.
    pub async fn heartbeat(&mut self) {
        let got = within(self.from_worker.recv()).await;
        assert!(matches!(got, Some(Kind::Heartbeat(_))), "{got:?}");
    }

    pub async fn claim(&mut self) -> String {
        match self.next().await {
            Some(Kind::Claim(c)) => c.snapshot_id,
            other => panic!("expected a Claim, got {other:?}"),
        }
    }

    /// The next Result, skipping Progress (which runs send on their own).
    pub async fn result(&mut self) -> pb::Result {
        loop {
            match self.next().await {
                Some(Kind::Result(r)) => return r,
                Some(Kind::Progress(_)) => continue,
                other => panic!("expected a Result, got {other:?}"),
            }
        }
    }

    /// Claims the next claimed dispatch for the worker.
    pub async fn grant_claim(&mut self) -> String {
        let id = self.claim().await;
        self.claimed(&id, true);
        id
    }
}

/// A dispatch of `target` with `params`.
pub fn dispatch(snapshot_id: &str, target: &str, params: &str) -> pb::Dispatch {
    pb::Dispatch {
        snapshot_id: snapshot_id.into(),
        job_id: format!("job-{snapshot_id}"),
        job_name: "a job".into(),
        group: "g".into(),
        target: target.into(),
        params: params.into(),
        scheduled_at_ms: 1_700_000_000_000,
        attempt: 0,
        shard_index: 0,
        shard_total: 0,
        timeout_ms: 0,
        snapshot_json: "{}".into(),
    }
}

pub async fn within<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(PATIENCE, f)
        .await
        .expect("the awaited event did not come")
}

/// Runs that wait for the test: each announces its start, blocks until released (or
/// cancelled), and announces its end.
#[derive(Clone)]
pub struct Probe {
    inner: Arc<ProbeInner>,
}

struct ProbeInner {
    running: AtomicUsize,
    max: AtomicUsize,
    gate: Semaphore,
    started_tx: mpsc::UnboundedSender<String>,
    started: Mutex<mpsc::UnboundedReceiver<String>>,
    ended_tx: mpsc::UnboundedSender<(String, Option<String>)>,
    ended: Mutex<mpsc::UnboundedReceiver<(String, Option<String>)>>,
}

impl Probe {
    pub fn new() -> Probe {
        let (started_tx, started) = mpsc::unbounded_channel();
        let (ended_tx, ended) = mpsc::unbounded_channel();
        Probe {
            inner: Arc::new(ProbeInner {
                running: AtomicUsize::new(0),
                max: AtomicUsize::new(0),
                gate: Semaphore::new(0),
                started_tx,
                started: Mutex::new(started),
                ended_tx,
                ended: Mutex::new(ended),
            }),
        }
    }

    /// The target: `ctx.output`s its params, then blocks.
    pub fn target(&self) -> impl forest_sdk::Target {
        let probe = self.clone();
        move |ctx: Context| {
            let p = probe.inner.clone();
            async move {
                let now = p.running.fetch_add(1, Ordering::SeqCst) + 1;
                p.max.fetch_max(now, Ordering::SeqCst);
                let _ = p.started_tx.send(ctx.snapshot_id().to_string());
                ctx.output(format!("{}\n", ctx.params()));
                let outcome = tokio::select! {
                    permit = p.gate.acquire() => {
                        permit.map(|p| p.forget()).map_err(RunError::from)
                    }
                    () = ctx.cancelled() => Err("stopped".into()),
                };
                p.running.fetch_sub(1, Ordering::SeqCst);
                let _ = p
                    .ended_tx
                    .send((ctx.snapshot_id().to_string(), ctx.cancel_reason()));
                outcome.map(|()| format!("done {}", ctx.params()))
            }
        }
    }

    /// Lets `n` runs finish.
    pub fn release(&self, n: usize) {
        self.inner.gate.add_permits(n);
    }

    pub async fn started(&self) -> String {
        within(self.inner.started.lock().await.recv())
            .await
            .unwrap()
    }

    /// The id of the next run to end, and its cancel reason if it was cancelled.
    pub async fn ended(&self) -> (String, Option<String>) {
        within(self.inner.ended.lock().await.recv()).await.unwrap()
    }

    pub async fn nothing_started(&self) -> bool {
        self.inner.started.lock().await.try_recv().is_err()
    }

    pub fn max_running(&self) -> usize {
        self.inner.max.load(Ordering::SeqCst)
    }
}
