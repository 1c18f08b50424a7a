//! The worker stream: `forest.v1.WorkerService.Connect` (DESIGN §5).
//!
//! A worker holds one bidirectional stream to any node. The node turns the stream into exactly
//! the keys an original etcd client keeps, so the scheduler sees one kind of worker:
//!
//! - [`registration`]: the worker's `/forest/client/<group>/clients/<name>` key and its
//!   details, under a lease the node keeps alive while the stream and its heartbeats live. A
//!   reconnect with the same session takes the registration over, from any node; a stranger
//!   with a name already online is refused.
//! - [`session`]: one stream's life: it watches the worker's snapshot and cancel keys and
//!   pushes what they say (never more unfinished runs than the worker's capacity), and writes
//!   claims and results back ([`runs`]) as the original clients do.
//! - [`limits`]: what a worker may send, checked before anything is written.
//!
//! The node trusts nothing a worker says: every message is bounded and checked, and a worker
//! that breaks the protocol loses its stream (with the reason as its gRPC status), never the
//! node or other workers.

pub(crate) mod limits;
mod registration;
pub(crate) mod runs;
mod session;

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures::Stream;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use crate::kv::Kv;
use crate::pb::forest::{worker_service_server, NodeMessage, WorkerMessage};

pub use limits::MAX_MESSAGE_BYTES;

/// Timings of the worker protocol.
#[derive(Debug, Clone, Copy)]
pub struct Timings {
    /// How often a worker says it is alive; three missed and its stream is closed.
    pub heartbeat: Duration,
    /// The registration lease's time to live: how long a worker whose node died stays online.
    pub lease_ttl: Duration,
    /// How long a registration outlives a closed stream, for a worker that reconnects.
    pub grace: Duration,
}

impl Default for Timings {
    fn default() -> Self {
        Timings {
            heartbeat: Duration::from_secs(1),
            lease_ttl: Duration::from_secs(6),
            grace: Duration::from_secs(2),
        }
    }
}

/// The service one node offers workers.
#[derive(Clone)]
pub struct WorkerService {
    kv: Kv,
    timings: Timings,
    local: Arc<registration::Local>,
}

impl WorkerService {
    pub fn new(kv: Kv, timings: Timings) -> Self {
        WorkerService {
            kv,
            timings,
            local: Arc::default(),
        }
    }

    pub fn server(self) -> worker_service_server::WorkerServiceServer<Self> {
        worker_service_server::WorkerServiceServer::new(self)
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
    }
}

type Outbound = Pin<Box<dyn Stream<Item = Result<NodeMessage, Status>> + Send>>;

#[tonic::async_trait]
impl worker_service_server::WorkerService for WorkerService {
    type ConnectStream = Outbound;

    async fn connect(
        &self,
        req: Request<Streaming<WorkerMessage>>,
    ) -> Result<Response<Outbound>, Status> {
        let peer = req.remote_addr();
        // The auth layer put the caller here; a node without --auth lets any worker in.
        let who = req
            .extensions()
            .get::<crate::auth::Principal>()
            .cloned()
            .unwrap_or_else(crate::auth::Principal::local);
        let inbound = req.into_inner();
        let (tx, rx) = mpsc::channel(256);
        let me = self.clone();
        tokio::spawn(async move {
            let ended = session::run(&me.kv, me.timings, &me.local, &who, inbound, &tx).await;
            // Tell the worker first (it reconnects at once), then release its registration
            // after the grace period, unless it came back.
            if let Err(status) = ended.end {
                tracing::info!(?peer, reason = status.message(), "worker stream closed");
                let _ = tx.send(Err(status)).await;
            }
            drop(tx);
            if let Some(reg) = ended.registration {
                registration::release(me.kv.clone(), me.timings, &me.local, reg).await;
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }
}
