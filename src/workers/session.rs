//! One worker stream from hello to goodbye.
//!
//! The session mirrors two key ranges to the worker: its snapshots (work to do) and its
//! cancellations. It reads each range once and then watches it from the next revision, so
//! nothing written in between is missed, and it pushes a snapshot again after a reconnect
//! (at least once; the worker deduplicates by id). It never has more runs dispatched and
//! unfinished than the worker's capacity: the rest wait, in id (= scheduled time) order.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use futures::StreamExt;
use tokio::sync::mpsc;
use tonic::{Status, Streaming};

use super::registration::{self, Local, Registration};
use super::runs;
use super::{limits, Timings};
use crate::kv::{ops, Kv, WatchStream};
use crate::model::{keys, JobExecuteSnapshot, JobSnapshot, WireJson};
use crate::pb::forest::{
    node_message, worker_message, Cancel, Claimed, Dispatch, Hello, NodeMessage, Recorded, Welcome,
    WorkerMessage,
};
use crate::pb::kv::{event::EventType, RangeRequest};

type Out = mpsc::Sender<Result<NodeMessage, Status>>;

/// How long a dispatch may stay unclaimed before it is pushed again.
const RESEND_AFTER: std::time::Duration = std::time::Duration::from_secs(5);

/// Runs a stream to its end; `Err` carries the reason the node closes it with.
pub async fn run(
    kv: &Kv,
    timings: Timings,
    local: &Local,
    who: &crate::auth::Principal,
    mut inbound: Streaming<WorkerMessage>,
    out: &Out,
) -> Ended {
    let (hello, reg) = match open(kv, timings, local, who, &mut inbound).await {
        Ok(Some(opened)) => opened,
        Ok(None) => {
            return Ended {
                end: Ok(()),
                registration: None,
            }
        }
        Err(status) => return status.into(),
    };
    let mut session = Session {
        kv: kv.clone(),
        out: out.clone(),
        capacity: hello.capacity as usize,
        waiting: BTreeMap::new(),
        sent: BTreeMap::new(),
        running: HashMap::new(),
        reg,
    };
    let end = session.serve(timings, hello.running, inbound).await;
    Ended {
        end,
        registration: Some(session.reg),
    }
}

/// The hello, checked, and the worker registered; `None` if the stream ended before a word.
async fn open(
    kv: &Kv,
    timings: Timings,
    local: &Local,
    who: &crate::auth::Principal,
    inbound: &mut Streaming<WorkerMessage>,
) -> Result<Option<(Hello, Registration)>, Status> {
    let first = tokio::time::timeout(timings.heartbeat * 10, inbound.next())
        .await
        .map_err(|_| Status::deadline_exceeded("no hello"))?;
    let msg = match first {
        Some(msg) => msg?,
        None => return Ok(None),
    };
    limits::check_message(&msg, false)?;
    let Some(worker_message::Kind::Hello(hello)) = msg.kind else {
        return Err(Status::internal("a checked first message is a hello"));
    };
    // The stream serves only the group it registers in, so a worker kept to its token's
    // groups here can neither claim nor report another group's runs, nor see their params.
    if !who.sees_group(&hello.group) {
        return Err(Status::permission_denied(format!(
            "this worker's token may not serve group {:?}",
            hello.group
        )));
    }
    let reg = registration::register(kv, timings, local, &hello).await?;
    Ok(Some((hello, reg)))
}

/// How a stream ended, and the registration to release once the worker has been told.
pub struct Ended {
    pub end: Result<(), Status>,
    pub registration: Option<Registration>,
}

impl From<Status> for Ended {
    fn from(status: Status) -> Self {
        Ended {
            end: Err(status),
            registration: None,
        }
    }
}

struct Session {
    kv: Kv,
    out: Out,
    reg: Registration,
    capacity: usize,
    /// Snapshots under the worker's key not yet pushed.
    waiting: BTreeMap<String, JobSnapshot>,
    /// Pushed, not yet claimed, and when.
    sent: BTreeMap<String, (JobSnapshot, Instant)>,
    /// Claimed (or still running from before a reconnect), not yet reported: id → output.
    running: HashMap<String, String>,
}

fn closed() -> Status {
    Status::cancelled("the worker's stream is gone")
}

fn dispatch(s: &JobSnapshot) -> NodeMessage {
    let kind = node_message::Kind::Dispatch(Dispatch {
        snapshot_id: s.id.clone(),
        job_id: s.job_id.clone(),
        job_name: s.name.clone(),
        group: s.group.clone(),
        target: s.target.clone(),
        params: s.params.clone(),
        scheduled_at_ms: s.scheduled_at.map_or(0, |t| t.timestamp_millis()),
        attempt: s.attempt,
        shard_index: s.shard_index,
        shard_total: s.shard_total,
        timeout_ms: s.timeout.saturating_mul(1000),
        snapshot_json: s.to_json(),
    });
    NodeMessage { kind: Some(kind) }
}

impl Session {
    async fn send(&self, kind: node_message::Kind) -> Result<(), Status> {
        self.out
            .send(Ok(NodeMessage { kind: Some(kind) }))
            .await
            .map_err(|_| closed())
    }

    /// Reads a range of the worker's keys and watches it from the revision read.
    async fn mirror(&self, prefix: &str) -> Result<(Vec<(String, Vec<u8>)>, WatchStream), Status> {
        let r = self.kv.range(ops::prefix_range(prefix)).await?;
        let at = r.header.as_ref().map_or(0, |h| h.revision);
        let kvs = r
            .kvs
            .into_iter()
            .map(|kv| (String::from_utf8_lossy(&kv.key).into_owned(), kv.value))
            .collect();
        Ok((
            kvs,
            self.kv.watch(ops::prefix_watch(prefix, at + 1, false))?,
        ))
    }

    async fn serve(
        &mut self,
        timings: Timings,
        still_running: Vec<String>,
        mut inbound: Streaming<WorkerMessage>,
    ) -> Result<(), Status> {
        let (group, name) = (self.reg.info.group.clone(), self.reg.info.name.clone());
        for id in still_running {
            self.running.insert(id, String::new());
        }
        self.send(node_message::Kind::Welcome(Welcome {
            node_id: self.kv.cluster().id(),
            node: self.reg.info.node.clone(),
            lease_id: self.reg.info.lease,
            lease_ttl_ms: timings.lease_ttl.as_millis() as u32,
            heartbeat_ms: timings.heartbeat.as_millis() as u32,
        }))
        .await?;

        let (work, mut work_watch) = self
            .mirror(&keys::snapshot_worker_prefix(&group, &name))
            .await?;
        for (_, value) in work {
            self.offer(&value);
        }
        let (cancels, mut cancel_watch) = self
            .mirror(&keys::cancel_worker_prefix(&group, &name))
            .await?;
        for (key, reason) in cancels {
            self.cancel(&key, &reason).await?;
        }
        self.offer_orphans().await?;
        self.pump().await?;

        let mut rate = limits::Rate::new();
        let mut last_heard = Instant::now();
        let mut ticker = tokio::time::interval(timings.lease_ttl / 3);
        loop {
            tokio::select! {
                msg = inbound.next() => {
                    let Some(msg) = msg else { return Ok(()) };
                    let msg = msg?;
                    last_heard = Instant::now();
                    if let Err(flood) = rate.admit() {
                        // Output beyond the rate is dropped; anything else that fast is abuse.
                        if !matches!(msg.kind, Some(worker_message::Kind::Progress(_))) {
                            return Err(flood);
                        }
                        continue;
                    }
                    self.on_message(msg).await?;
                }
                w = work_watch.next() => {
                    let w = w.ok_or_else(|| Status::unavailable("the node's watch ended"))??;
                    for ev in w.events {
                        let kv = ev.kv.unwrap_or_default();
                        if ev.r#type == EventType::Delete as i32 {
                            self.withdrawn(&kv.key);
                        } else {
                            self.offer(&kv.value);
                        }
                    }
                    self.pump().await?;
                }
                c = cancel_watch.next() => {
                    let c = c.ok_or_else(|| Status::unavailable("the node's watch ended"))??;
                    for ev in c.events {
                        let kv = ev.kv.unwrap_or_default();
                        if ev.r#type == EventType::Put as i32 {
                            self.cancel(&String::from_utf8_lossy(&kv.key), &kv.value).await?;
                        }
                    }
                }
                _ = ticker.tick() => {
                    if last_heard.elapsed() > timings.heartbeat * 3 {
                        return Err(Status::deadline_exceeded("no heartbeat for three intervals"));
                    }
                    registration::keep_alive(&self.kv, &self.reg).await?;
                    self.resend_unclaimed();
                    self.offer_orphans().await?;
                    self.pump().await?;
                }
            }
        }
    }

    /// A snapshot under the worker's key: queue it unless it is already out.
    fn offer(&mut self, value: &[u8]) {
        let Ok(s) = JobSnapshot::from_json(value) else {
            return;
        };
        if !self.sent.contains_key(&s.id) && !self.running.contains_key(&s.id) {
            self.waiting.insert(s.id.clone(), s);
        }
    }

    /// A snapshot key went: claimed (by this worker) or moved away by the scheduler.
    fn withdrawn(&mut self, key: &[u8]) {
        if let Some(w) = keys::parse_snapshot_key(&String::from_utf8_lossy(key)) {
            self.waiting.remove(w.id);
            self.sent.remove(w.id);
        }
    }

    /// Runs reported running under the worker's key that the worker does not know it has: a
    /// claim that was committed while its answer was lost with a stream. The worker never
    /// started them (it runs only what it saw claimed), so they are dispatched again; its
    /// repeated claim holds, and the run is not left "running" forever.
    async fn offer_orphans(&mut self) -> Result<(), Status> {
        let prefix = keys::execute_worker_prefix(&self.reg.info.group, &self.reg.info.name);
        let reports = self
            .kv
            .range(RangeRequest {
                serializable: true,
                ..ops::prefix_range(&prefix)
            })
            .await?;
        for kv in reports.kvs {
            let Ok(run) = JobExecuteSnapshot::from_json(&kv.value) else {
                continue;
            };
            let known = self.running.contains_key(&run.id)
                || self.sent.contains_key(&run.id)
                || self.waiting.contains_key(&run.id);
            if !run.status.is_final() && !known {
                tracing::info!(snapshot = %run.id, worker = %self.reg.info.name, "a claimed run its worker never heard of: dispatched again");
                self.waiting
                    .insert(run.id.clone(), JobSnapshot::of_run(&run));
            }
        }
        Ok(())
    }

    /// Dispatches the worker has not claimed for a while go out again (at least once: the
    /// first may have been lost with a stream, or dropped by a worker that was full).
    fn resend_unclaimed(&mut self) {
        let stale: Vec<String> = self
            .sent
            .iter()
            .filter(|(_, (_, at))| at.elapsed() > RESEND_AFTER)
            .map(|(id, _)| id.clone())
            .collect();
        for id in stale {
            if let Some((s, _)) = self.sent.remove(&id) {
                self.waiting.insert(id, s);
            }
        }
    }

    /// Pushes waiting snapshots while the worker has room.
    async fn pump(&mut self) -> Result<(), Status> {
        while self.sent.len() + self.running.len() < self.capacity {
            let Some((id, s)) = self.waiting.pop_first() else {
                break;
            };
            self.out
                .send(Ok(dispatch(&s)))
                .await
                .map_err(|_| closed())?;
            tracing::debug!(snapshot = %id, worker = %self.reg.info.name, "dispatched");
            self.sent.insert(id, (s, Instant::now()));
        }
        Ok(())
    }

    async fn cancel(&mut self, key: &str, reason: &[u8]) -> Result<(), Status> {
        let Some(w) = keys::parse_cancel_key(key) else {
            return Ok(());
        };
        let id = w.id.to_string();
        self.waiting.remove(&id);
        self.send(node_message::Kind::Cancel(Cancel {
            snapshot_id: id,
            reason: String::from_utf8_lossy(reason).into_owned(),
        }))
        .await
    }

    async fn on_message(&mut self, msg: WorkerMessage) -> Result<(), Status> {
        let (group, name) = (self.reg.info.group.clone(), self.reg.info.name.clone());
        limits::check_message(&msg, true)?;
        match msg.kind {
            // Refused by the check above.
            None | Some(worker_message::Kind::Hello(_)) => {}
            Some(worker_message::Kind::Heartbeat(_)) => {}
            Some(worker_message::Kind::Claim(c)) => {
                self.sent.remove(&c.snapshot_id);
                self.waiting.remove(&c.snapshot_id);
                // Whatever was pushed on which stream: a worker may claim what is under its
                // key, once, and a claim repeated after a reconnect holds if the run is
                // already its own.
                let answer = runs::claim(&self.kv, &group, &name, &c.snapshot_id).await?;
                if answer.is_ok() {
                    self.running.insert(c.snapshot_id.clone(), String::new());
                }
                let (ok, reason) = split(answer);
                self.send(node_message::Kind::Claimed(Claimed {
                    snapshot_id: c.snapshot_id,
                    ok,
                    reason,
                }))
                .await?;
                self.pump().await?;
            }
            Some(worker_message::Kind::Progress(p)) => {
                if let Some(out) = self.running.get_mut(&p.snapshot_id) {
                    limits::append_tail(out, &p.output);
                }
            }
            Some(worker_message::Kind::Result(r)) => {
                // A result may come for a run claimed on an earlier stream: what counts is
                // that the run is this worker's and still going.
                let progress = self.running.remove(&r.snapshot_id).unwrap_or_default();
                self.sent.remove(&r.snapshot_id);
                self.waiting.remove(&r.snapshot_id);
                let answer = runs::finish(&self.kv, &group, &name, &r, &progress).await?;
                let (ok, reason) = split(answer);
                self.send(node_message::Kind::Recorded(Recorded {
                    snapshot_id: r.snapshot_id,
                    ok,
                    reason,
                }))
                .await?;
                self.pump().await?;
            }
            Some(worker_message::Kind::CancelAck(a)) => {
                self.kv
                    .delete(crate::pb::kv::DeleteRangeRequest {
                        key: keys::cancel(&group, &name, &a.snapshot_id).into_bytes(),
                        ..Default::default()
                    })
                    .await?;
            }
        }
        Ok(())
    }
}

fn split(answer: Result<(), runs::Refusal>) -> (bool, String) {
    match answer {
        Ok(()) => (true, String::new()),
        Err(reason) => (false, reason),
    }
}
