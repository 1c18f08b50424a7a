//! The worker's side of the protocol, across streams.
//!
//! A worker process has one session (its Hello's `session` id) and, over its life, many
//! streams: a node dies, a stream breaks, the worker connects to the next node of its list.
//! The session is what must not be lost when that happens: the runs under way (they go on,
//! and the next Hello lists them in `running`), the results no node has acknowledged yet
//! (sent again after the next Welcome, until a Recorded comes back), and the snapshot ids
//! already taken (a dispatch sent again is not run again).
//!
//! What belongs to one stream only is dropped with it: dispatches not yet running (queued for
//! a free slot, or claimed without an answer) go back to the node, which re-dispatches them,
//! and the cancel acks owed to it.
//!
//! Capacity: a dispatch is claimed only while runs plus claims in flight are fewer than the
//! concurrency, so no more than that ever run at once, whatever a node sends.
//!
//! Shutdown goes in phases: serving → draining (no new claims; runs under way may finish,
//! until the drain timeout) → cancelling (runs still going are cancelled, and get a short
//! grace to report) → stopped.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tonic::Streaming;
use tracing::{debug, info, info_span, warn, Instrument};

use crate::backoff::Backoff;
use crate::connection::{self, send, Conn, ConnError};
use crate::pb;
use crate::pb::node_message::Kind as NodeKind;
use crate::pb::worker_message::Kind;
use crate::recent::RecentIds;
use crate::run;
use crate::worker::Config;
use crate::{Context, Target};

/// How many snapshot ids are remembered to ignore repeated dispatches.
const REMEMBERED_IDS: usize = 4096;
/// Heartbeat period when a node's Welcome gives none.
const DEFAULT_HEARTBEAT: Duration = Duration::from_secs(5);
/// How long runs cancelled at the end of a drain get to report.
const CANCEL_GRACE: Duration = Duration::from_secs(5);
const SHUTDOWN_REASON: &str = "the worker is shutting down";

pub(crate) struct Session {
    config: Arc<Config>,
    /// Runs under way, by snapshot id.
    runs: HashMap<String, Running>,
    /// Results no node has answered with a Recorded yet, by snapshot id.
    unrecorded: BTreeMap<String, pb::Result>,
    /// Snapshot ids taken: claimed, or waiting for a slot to be claimed.
    seen: RecentIds,
    /// Where run tasks deliver their results.
    finished_tx: mpsc::UnboundedSender<pb::Result>,
    finished_rx: mpsc::UnboundedReceiver<pb::Result>,
    /// The current stream's sender, for the runs' Progress.
    link: watch::Sender<Option<mpsc::Sender<pb::WorkerMessage>>>,
    stop: CancellationToken,
    phase: Phase,
}

struct Running {
    ctx: Context,
    /// The current stream's node asked for this run's cancellation: it is owed a CancelAck.
    ack: bool,
}

/// What belongs to the current stream: its sender and its dispatches not running yet.
struct Stream {
    tx: mpsc::Sender<pb::WorkerMessage>,
    claiming: HashMap<String, Claiming>,
    queued: VecDeque<pb::Dispatch>,
}

struct Claiming {
    dispatch: pb::Dispatch,
    /// A Cancel came before the Claimed: the reason.
    cancelled: Option<String>,
}

#[derive(Clone, Copy)]
enum Phase {
    Serving,
    Draining(Instant),
    Cancelling(Instant),
    Stopped,
}

impl Session {
    pub(crate) fn new(config: Arc<Config>, stop: CancellationToken) -> Self {
        let (finished_tx, finished_rx) = mpsc::unbounded_channel();
        Session {
            config,
            runs: HashMap::new(),
            unrecorded: BTreeMap::new(),
            seen: RecentIds::new(REMEMBERED_IDS),
            finished_tx,
            finished_rx,
            link: watch::Sender::new(None),
            stop,
            phase: Phase::Serving,
        }
    }

    /// Connects, serves, reconnects, until stopped and drained.
    pub(crate) async fn run(mut self) {
        let span =
            info_span!("worker", group = %self.config.hello.group, name = %self.config.hello.name);
        async {
            let config = self.config.clone();
            let (min, max) = config.backoff;
            let mut backoff = Backoff::new(min, max);
            for (endpoint, parsed) in config.endpoints.iter().cycle() {
                self.collect_finished();
                if self.is_done() {
                    break;
                }
                let opened = tokio::select! {
                    opened = connection::open(parsed, self.hello(), config.token.as_deref()) => opened,
                    () = phase_ends(&self.stop, &self.phase) => {
                        self.advance();
                        continue;
                    }
                };
                let ended = match opened {
                    Ok(conn) => {
                        backoff.reset();
                        info!(endpoint, node = %conn.welcome.node, "connected");
                        self.serve(conn).await
                    }
                    Err(e) => Err(e),
                };
                match ended {
                    Ok(()) => break,
                    Err(e) => warn!(endpoint, error = %e, "no stream; trying the next node"),
                }
                tokio::select! {
                    () = tokio::time::sleep(backoff.next_delay()) => {}
                    () = phase_ends(&self.stop, &self.phase) => self.advance(),
                }
            }
            if !self.unrecorded.is_empty() || !self.runs.is_empty() {
                warn!(
                    unreported = self.unrecorded.len(),
                    running = self.runs.len(),
                    "stopped before every result was recorded"
                );
            }
            info!("stopped");
        }
        .instrument(span)
        .await
    }

    fn hello(&self) -> pb::Hello {
        pb::Hello {
            running: self.runs.keys().cloned().collect(),
            ..self.config.hello.clone()
        }
    }

    /// Shutting down and nothing is left to do, or out of time.
    fn is_done(&self) -> bool {
        match self.phase {
            Phase::Serving => false,
            Phase::Draining(_) | Phase::Cancelling(_) => {
                self.runs.is_empty() && self.unrecorded.is_empty()
            }
            Phase::Stopped => true,
        }
    }

    fn advance(&mut self) {
        self.phase = match self.phase {
            Phase::Serving => {
                info!(running = self.runs.len(), "draining: no new claims");
                Phase::Draining(Instant::now() + self.config.drain_timeout)
            }
            Phase::Draining(_) => {
                warn!(running = self.runs.len(), "drain timeout: cancelling runs");
                for run in self.runs.values() {
                    run.ctx.cancel(SHUTDOWN_REASON);
                }
                Phase::Cancelling(Instant::now() + CANCEL_GRACE)
            }
            Phase::Cancelling(_) | Phase::Stopped => Phase::Stopped,
        }
    }

    /// Results of runs that ended while no stream was up: to be sent after the next Welcome.
    fn collect_finished(&mut self) {
        while let Ok(result) = self.finished_rx.try_recv() {
            self.runs.remove(&result.snapshot_id);
            self.unrecorded.insert(result.snapshot_id.clone(), result);
        }
    }

    async fn serve(&mut self, conn: Conn) -> Result<(), ConnError> {
        let Conn {
            tx,
            mut inbound,
            welcome,
        } = conn;
        self.link.send_replace(Some(tx.clone()));
        let mut stream = Stream {
            tx,
            claiming: HashMap::new(),
            queued: VecDeque::new(),
        };
        let ended = self.converse(&mut stream, &mut inbound, &welcome).await;
        self.link.send_replace(None);
        // What was not running yet is the node's again: take it if it comes back.
        for id in stream.claiming.keys() {
            self.seen.remove(id);
        }
        for dispatch in &stream.queued {
            self.seen.remove(&dispatch.snapshot_id);
        }
        for run in self.runs.values_mut() {
            run.ack = false;
        }
        ended
    }

    async fn converse(
        &mut self,
        stream: &mut Stream,
        inbound: &mut Streaming<pb::NodeMessage>,
        welcome: &pb::Welcome,
    ) -> Result<(), ConnError> {
        for result in self.unrecorded.values() {
            send(&stream.tx, Kind::Result(result.clone())).await?;
        }
        let every = match welcome.heartbeat_ms {
            0 => DEFAULT_HEARTBEAT,
            ms => Duration::from_millis(u64::from(ms)),
        };
        let mut heartbeat = tokio::time::interval_at(Instant::now() + every, every);
        loop {
            if self.is_done() && stream.claiming.is_empty() {
                return Ok(());
            }
            tokio::select! {
                message = inbound.message() => match message? {
                    Some(pb::NodeMessage { kind: Some(kind) }) => {
                        self.on_node_message(kind, stream).await?
                    }
                    // A kind this SDK does not know (a newer node): nothing to do.
                    Some(_) => debug!("unknown node message ignored"),
                    None => return Err(ConnError::Closed),
                },
                Some(result) = self.finished_rx.recv() => {
                    let ack = self
                        .runs
                        .remove(&result.snapshot_id)
                        .is_some_and(|run| run.ack);
                    self.report(result, ack, stream).await?
                }
                _ = heartbeat.tick() => send(&stream.tx, Kind::Heartbeat(pb::Heartbeat {})).await?,
                () = phase_ends(&self.stop, &self.phase) => {
                    self.advance();
                    for dispatch in stream.queued.drain(..) {
                        self.seen.remove(&dispatch.snapshot_id);
                    }
                }
            }
        }
    }

    async fn on_node_message(
        &mut self,
        kind: NodeKind,
        stream: &mut Stream,
    ) -> Result<(), ConnError> {
        match kind {
            NodeKind::Dispatch(dispatch) => self.on_dispatch(dispatch, stream).await,
            NodeKind::Claimed(claimed) => self.on_claimed(claimed, stream).await,
            NodeKind::Cancel(cancel) => self.on_cancel(cancel, stream).await,
            NodeKind::Recorded(recorded) => {
                self.on_recorded(recorded);
                Ok(())
            }
            NodeKind::Welcome(_) => {
                warn!("a second Welcome on one stream; ignored");
                Ok(())
            }
        }
    }

    async fn on_dispatch(
        &mut self,
        dispatch: pb::Dispatch,
        stream: &mut Stream,
    ) -> Result<(), ConnError> {
        let id = dispatch.snapshot_id.clone();
        if !matches!(self.phase, Phase::Serving) {
            debug!(snapshot_id = %id, "draining: dispatch not claimed");
            return Ok(());
        }
        if self.runs.contains_key(&id)
            || self.unrecorded.contains_key(&id)
            || !self.seen.insert(&id)
        {
            debug!(snapshot_id = %id, "dispatch already taken; ignored");
            return Ok(());
        }
        if self.free_slots(stream) > 0 {
            self.claim(dispatch, stream).await
        } else if stream.queued.len() < self.config.concurrency {
            debug!(snapshot_id = %id, "no free slot: queued");
            stream.queued.push_back(dispatch);
            Ok(())
        } else {
            warn!(snapshot_id = %id, "more dispatches than capacity; left to the node");
            self.seen.remove(&id);
            Ok(())
        }
    }

    fn free_slots(&self, stream: &Stream) -> usize {
        self.config
            .concurrency
            .saturating_sub(self.runs.len() + stream.claiming.len())
    }

    async fn claim(
        &mut self,
        dispatch: pb::Dispatch,
        stream: &mut Stream,
    ) -> Result<(), ConnError> {
        let id = dispatch.snapshot_id.clone();
        send(
            &stream.tx,
            Kind::Claim(pb::Claim {
                snapshot_id: id.clone(),
            }),
        )
        .await?;
        stream.claiming.insert(
            id,
            Claiming {
                dispatch,
                cancelled: None,
            },
        );
        Ok(())
    }

    /// Claims queued dispatches while there are free slots.
    async fn claim_queued(&mut self, stream: &mut Stream) -> Result<(), ConnError> {
        while self.free_slots(stream) > 0 {
            let Some(dispatch) = stream.queued.pop_front() else {
                break;
            };
            self.claim(dispatch, stream).await?;
        }
        Ok(())
    }

    async fn on_claimed(
        &mut self,
        claimed: pb::Claimed,
        stream: &mut Stream,
    ) -> Result<(), ConnError> {
        let id = claimed.snapshot_id;
        let Some(Claiming {
            dispatch,
            cancelled,
        }) = stream.claiming.remove(&id)
        else {
            warn!(snapshot_id = %id, "Claimed for no claim of this stream; ignored");
            return Ok(());
        };
        if !claimed.ok {
            info!(snapshot_id = %id, reason = %claimed.reason, "claim refused: not running it");
            // Not ours now; if the scheduler gives it back later, take it then.
            self.seen.remove(&id);
            if cancelled.is_some() {
                send(&stream.tx, cancel_ack(&id)).await?;
            }
            return self.claim_queued(stream).await;
        }
        if let Some(reason) = cancelled {
            return self
                .report(run::cancelled_before_start(&id, &reason), true, stream)
                .await;
        }
        match self.config.targets.get(&dispatch.target) {
            Some(target) => {
                self.start(target.clone(), dispatch);
                Ok(())
            }
            None => {
                warn!(snapshot_id = %id, target = %dispatch.target, "no such target");
                self.report(run::unknown_target(&dispatch), false, stream)
                    .await
            }
        }
    }

    fn start(&mut self, target: Arc<dyn Target>, dispatch: pb::Dispatch) {
        let span = info_span!(
            "run",
            snapshot_id = %dispatch.snapshot_id,
            job_id = %dispatch.job_id,
            target = %dispatch.target,
        );
        let id = dispatch.snapshot_id.clone();
        let ctx = Context::attached(dispatch, self.link.subscribe());
        self.runs.insert(
            id,
            Running {
                ctx: ctx.clone(),
                ack: false,
            },
        );
        let finished = self.finished_tx.clone();
        tokio::spawn(
            async move {
                info!("claimed: running");
                // The session owns the receiver for as long as any run can finish.
                let _ = finished.send(run::execute(target, ctx).await);
            }
            .instrument(span),
        );
    }

    /// Sends a run's Result (kept until recorded), the CancelAck it owes, and claims into the
    /// slot it freed.
    async fn report(
        &mut self,
        result: pb::Result,
        ack: bool,
        stream: &mut Stream,
    ) -> Result<(), ConnError> {
        let id = result.snapshot_id.clone();
        self.unrecorded.insert(id.clone(), result.clone());
        send(&stream.tx, Kind::Result(result)).await?;
        if ack {
            send(&stream.tx, cancel_ack(&id)).await?;
        }
        self.claim_queued(stream).await
    }

    async fn on_cancel(
        &mut self,
        cancel: pb::Cancel,
        stream: &mut Stream,
    ) -> Result<(), ConnError> {
        let id = cancel.snapshot_id;
        if let Some(run) = self.runs.get_mut(&id) {
            info!(snapshot_id = %id, reason = %cancel.reason, "cancelling");
            run.ack = true;
            run.ctx.cancel(&cancel.reason);
            return Ok(());
        }
        if let Some(claiming) = stream.claiming.get_mut(&id) {
            claiming.cancelled = Some(cancel.reason);
            return Ok(());
        }
        // Queued (never to be claimed now), finished, or unknown: it is stopped.
        stream.queued.retain(|d| d.snapshot_id != id);
        send(&stream.tx, cancel_ack(&id)).await
    }

    fn on_recorded(&mut self, recorded: pb::Recorded) {
        let id = recorded.snapshot_id;
        if self.unrecorded.remove(&id).is_none() {
            debug!(snapshot_id = %id, "Recorded for no result waiting; ignored");
        } else if recorded.ok {
            debug!(snapshot_id = %id, "result recorded");
        } else {
            warn!(snapshot_id = %id, reason = %recorded.reason, "result not recorded: the run was already closed");
        }
    }
}

fn cancel_ack(snapshot_id: &str) -> Kind {
    Kind::CancelAck(pb::CancelAck {
        snapshot_id: snapshot_id.to_string(),
    })
}

/// Resolves when the current shutdown phase ends (never, while stopped).
async fn phase_ends(stop: &CancellationToken, phase: &Phase) {
    match phase {
        Phase::Serving => stop.cancelled().await,
        Phase::Draining(until) | Phase::Cancelling(until) => tokio::time::sleep_until(*until).await,
        Phase::Stopped => std::future::pending().await,
    }
}
