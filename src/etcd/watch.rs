//! etcd's Watch service. etcd multiplexes many watches over one bidirectional stream: the
//! client creates and cancels watches by message and asks for progress; each answer names its
//! watch. Here every watch is one [`Kv::watch`] feed, forwarded by a task of its own into the
//! stream with the watch's id, its filters applied.
//!
//! Progress (a response with no events, saying how far the watch has seen) is reported from
//! what the feed has delivered, never from the store's newer revision: a client that takes a
//! progress revision as "everything up to here has reached me" is never misled, even while
//! events are still on their way.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::mpsc;
use tokio::task::{AbortHandle, JoinSet};
use tokio_stream::wrappers::ReceiverStream;
use tonic::codegen::BoxStream;
use tonic::{Request, Response, Status, Streaming};

use super::convert::header;
use super::error::{status, DUPLICATE_WATCH_ID, EMPTY_WATCH_RANGE};
use super::EtcdService;
use crate::kv::WatchStream;
use crate::pb::etcd::etcdserverpb::{
    self as etcd, watch_create_request::FilterType, watch_request::RequestUnion, watch_server,
};
use crate::pb::etcd::mvccpb;
use crate::pb::kv::event::EventType;

/// The watch id of answers that belong to no watch (etcd's `InvalidWatchID`).
const NO_WATCH: i64 = -1;

type Tx = mpsc::Sender<Result<etcd::WatchResponse, Status>>;

#[tonic::async_trait]
impl watch_server::Watch for EtcdService {
    async fn watch(
        &self,
        req: Request<Streaming<etcd::WatchRequest>>,
    ) -> Result<Response<BoxStream<etcd::WatchResponse>>, Status> {
        let (tx, rx) = mpsc::channel(64);
        let session = Session {
            etcd: self.clone(),
            tx,
            watches: HashMap::new(),
            tasks: JoinSet::new(),
            next_id: 0,
        };
        tokio::spawn(session.run(req.into_inner()));
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }
}

/// One client stream and its watches.
struct Session {
    etcd: EtcdService,
    tx: Tx,
    watches: HashMap<i64, Watch>,
    /// The forwarding tasks; each ends with its watch's id. Dropped with the session, which
    /// aborts them all.
    tasks: JoinSet<i64>,
    /// The next id to try for a watch that asks for none.
    next_id: i64,
}

struct Watch {
    task: AbortHandle,
    /// Every event of the watch up to this revision has been sent.
    delivered: Arc<AtomicI64>,
}

impl Session {
    async fn run(mut self, mut incoming: Streaming<etcd::WatchRequest>) {
        let mut reading = true;
        loop {
            tokio::select! {
                msg = incoming.message(), if reading => match msg {
                    Ok(Some(req)) => {
                        if !self.handle(req).await {
                            break;
                        }
                    }
                    // A client that closes its sending side still hears its watches, as
                    // with etcd.
                    Ok(None) => reading = false,
                    Err(e) => {
                        tracing::debug!(error = %e, "etcd watch stream broken");
                        break;
                    }
                },
                Some(Ok(id)) = self.tasks.join_next() => {
                    self.watches.remove(&id);
                }
                _ = self.tx.closed() => break,
            }
        }
        tracing::debug!(watches = self.watches.len(), "etcd watch stream closed");
    }

    /// Handles one client message; false when the client is gone.
    async fn handle(&mut self, req: etcd::WatchRequest) -> bool {
        match req.request_union {
            Some(RequestUnion::CreateRequest(create)) => self.create(create).await,
            Some(RequestUnion::CancelRequest(cancel)) => self.cancel(cancel.watch_id).await,
            Some(RequestUnion::ProgressRequest(_)) => self.progress().await,
            None => true,
        }
    }

    async fn create(&mut self, create: etcd::WatchCreateRequest) -> bool {
        let req: crate::pb::kv::WatchRequest = (&create).into();
        // etcd: an explicit range end must lie after the key ("\0", every key from the key
        // on, is no explicit end).
        if !matches!(req.range_end.as_slice(), [] | [0]) && req.key >= req.range_end {
            return self.refuse(EMPTY_WATCH_RANGE.to_string()).await;
        }
        let id = match create.watch_id {
            0 => {
                while self.watches.contains_key(&self.next_id) {
                    self.next_id += 1;
                }
                self.next_id += 1;
                self.next_id - 1
            }
            id if self.watches.contains_key(&id) => {
                return self.refuse(DUPLICATE_WATCH_ID.to_string()).await;
            }
            id => id,
        };
        let feed = match self.etcd.kv.watch(req) {
            Ok(feed) => feed,
            Err(e) => return self.refuse(status(e).message().to_string()).await,
        };
        tracing::debug!(
            watch_id = id,
            key = %String::from_utf8_lossy(&create.key),
            range_end = %String::from_utf8_lossy(&create.range_end),
            start_revision = create.start_revision,
            "etcd watch created"
        );
        let delivered = Arc::new(AtomicI64::new(create.start_revision - 1));
        let forward = Forward {
            etcd: self.etcd.clone(),
            tx: self.tx.clone(),
            id,
            no_put: create.filters.contains(&(FilterType::Noput as i32)),
            no_delete: create.filters.contains(&(FilterType::Nodelete as i32)),
            progress: create
                .progress_notify
                .then_some(self.etcd.config.progress_interval),
            start_revision: create.start_revision,
            delivered: delivered.clone(),
        };
        let task = self.tasks.spawn(forward.run(feed));
        self.watches.insert(id, Watch { task, delivered });
        true
    }

    /// A create that fails: etcd answers created and canceled at once, with the reason.
    async fn refuse(&self, reason: String) -> bool {
        tracing::debug!(reason, "etcd watch refused");
        let resp = etcd::WatchResponse {
            header: header(self.etcd.kv.header_now().await),
            watch_id: NO_WATCH,
            created: true,
            canceled: true,
            cancel_reason: reason,
            ..Default::default()
        };
        self.tx.send(Ok(resp)).await.is_ok()
    }

    /// Cancelling a watch the stream does not have is answered with nothing, as by etcd.
    async fn cancel(&mut self, id: i64) -> bool {
        let Some(watch) = self.watches.remove(&id) else {
            return true;
        };
        watch.task.abort();
        tracing::debug!(watch_id = id, "etcd watch canceled");
        let resp = etcd::WatchResponse {
            header: header(self.etcd.kv.header_now().await),
            watch_id: id,
            canceled: true,
            ..Default::default()
        };
        self.tx.send(Ok(resp)).await.is_ok()
    }

    /// One answer for the whole stream (watch id -1): the revision every watch has seen.
    async fn progress(&self) -> bool {
        let now = self.etcd.kv.header_now().await;
        let revision = self
            .watches
            .values()
            .map(|w| w.delivered.load(Ordering::Relaxed))
            .min()
            .unwrap_or_else(|| now.as_ref().map_or(0, |h| h.revision));
        let resp = etcd::WatchResponse {
            header: header(self.etcd.kv.header(revision)),
            watch_id: NO_WATCH,
            ..Default::default()
        };
        self.tx.send(Ok(resp)).await.is_ok()
    }
}

/// One watch's task: its feed, shaped as etcd answers, into the client's stream.
struct Forward {
    etcd: EtcdService,
    tx: Tx,
    id: i64,
    no_put: bool,
    no_delete: bool,
    /// Progress notifications, when the watch asked for them: how often.
    progress: Option<Duration>,
    start_revision: i64,
    delivered: Arc<AtomicI64>,
}

impl Forward {
    /// Runs until the feed ends or the client goes; returns the watch's id.
    async fn run(self, mut feed: WatchStream) -> i64 {
        let mut ticker = self.progress.map(|every| {
            let mut t = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
            t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            t
        });
        let mut created = false;
        // Whether anything was sent since the last progress tick.
        let mut quiet = true;
        loop {
            let tick = async {
                match ticker.as_mut() {
                    Some(t) => t.tick().await,
                    None => std::future::pending().await,
                }
            };
            let msg = tokio::select! {
                msg = feed.next() => msg,
                _ = tick => {
                    if quiet && created && !self.progress_notify().await {
                        return self.id;
                    }
                    quiet = true;
                    continue;
                }
            };
            let resp = match msg {
                None => return self.id,
                Some(Err(e)) => {
                    let resp = etcd::WatchResponse {
                        header: header(self.etcd.kv.header_now().await),
                        watch_id: self.id,
                        canceled: true,
                        cancel_reason: status(e).message().to_string(),
                        ..Default::default()
                    };
                    let _ = self.tx.send(Ok(resp)).await;
                    return self.id;
                }
                Some(Ok(resp)) => resp,
            };
            let revision = resp.header.as_ref().map_or(0, |h| h.revision);
            let answer = if !created {
                // The feed's first message: the watch is in place, at the current revision.
                created = true;
                if self.start_revision == 0 || self.start_revision > revision {
                    self.delivered.store(revision, Ordering::Relaxed);
                }
                etcd::WatchResponse {
                    header: header(resp.header),
                    watch_id: self.id,
                    created: true,
                    ..Default::default()
                }
            } else if resp.compact_revision != 0 {
                let answer = etcd::WatchResponse {
                    header: header(resp.header),
                    watch_id: self.id,
                    canceled: true,
                    compact_revision: resp.compact_revision,
                    ..Default::default()
                };
                let _ = self.tx.send(Ok(answer)).await;
                return self.id;
            } else {
                self.delivered.store(revision, Ordering::Relaxed);
                let events: Vec<mvccpb::Event> = resp
                    .events
                    .into_iter()
                    .filter(|e| self.wanted(e))
                    .map(Into::into)
                    .collect();
                // etcd sends nothing when the filters left nothing.
                if events.is_empty() {
                    continue;
                }
                quiet = false;
                etcd::WatchResponse {
                    header: header(resp.header),
                    watch_id: self.id,
                    events,
                    ..Default::default()
                }
            };
            if self.tx.send(Ok(answer)).await.is_err() {
                return self.id;
            }
        }
    }

    fn wanted(&self, e: &crate::pb::kv::Event) -> bool {
        match EventType::try_from(e.r#type) {
            Ok(EventType::Put) => !self.no_put,
            Ok(EventType::Delete) => !self.no_delete,
            Err(_) => false,
        }
    }

    /// A watch that heard nothing for a while says how far it has seen; false when the
    /// client is gone.
    async fn progress_notify(&self) -> bool {
        let revision = self.delivered.load(Ordering::Relaxed);
        let resp = etcd::WatchResponse {
            header: header(self.etcd.kv.header(revision)),
            watch_id: self.id,
            ..Default::default()
        };
        self.tx.send(Ok(resp)).await.is_ok()
    }
}
