//! One term of leadership: load, then fire, dispatch, fail over, time out, retry and collect
//! until the term ends.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap};
use std::time::Duration;

use chrono::{DateTime, Local, TimeZone, Utc};
use futures::{FutureExt, StreamExt};

use super::book::{Book, Place};
use super::concurrency::{self, Admit};
use super::misfire;
use super::records;
use super::route::{self, Placement};
use crate::cron::Schedule;
use crate::kv::ops;
use crate::kv::{prefix_end, Kv, KvError, WatchStream};
use crate::model::ids::job_of;
use crate::model::job::{Concurrency, Route};
use crate::model::plan::Cursor;
use crate::model::snapshot::parse_time;
use crate::model::{
    keys, ExecuteStatus, JobConf, JobExecuteSnapshot, JobSnapshot, SnapshotId, WireJson,
};
use crate::pb::kv::{
    event::EventType, DeleteRangeRequest, KeyValue, RangeRequest, RequestOp, TxnRequest,
};

/// The longest the loop sleeps: pending deadlines, retries, timeouts and leadership are
/// checked at least this often.
const IDLE: Duration = Duration::from_millis(500);
/// Jobs per firing transaction (each job takes a compare and one or more puts).
const JOBS_PER_TXN: usize = 20;

#[derive(Debug, thiserror::Error)]
pub enum LeadError {
    #[error(transparent)]
    Kv(#[from] KvError),
    #[error("the watch ended")]
    WatchEnded,
    #[error("no longer the leader")]
    Deposed,
}

/// A batch's firing transaction and, per job, (id, new cursor, ticks fired, ticks missed).
struct Planned {
    txn: TxnRequest,
    decided: Vec<(String, DateTime<Utc>, usize, usize)>,
}

struct Job {
    conf: JobConf,
    schedule: Schedule,
    /// The last handled tick, and the mod revision of its cursor key (0 = no key yet).
    cursor: DateTime<Utc>,
    cursor_rev: i64,
}

pub struct Leader {
    kv: Kv,
    term: u64,
    /// Every job that parses, paused ones included (their runs still time out).
    jobs: HashMap<String, Job>,
    /// (next tick, job id); stale entries are skipped when popped.
    due: BinaryHeap<Reverse<(DateTime<Utc>, String)>>,
    /// group → online worker names.
    workers: BTreeMap<String, BTreeSet<String>>,
    round_robin: HashMap<String, usize>,
    /// group → pending snapshot id → (snapshot, its key's mod revision).
    pending: BTreeMap<String, BTreeMap<String, (JobSnapshot, i64)>>,
    /// Snapshots a legacy client claimed (deleted) but has not yet reported on, by snapshot
    /// id: if the client goes away first, the run is recorded lost instead of vanishing.
    claimed: HashMap<String, (String, JobSnapshot)>,
    book: Book,
    /// Reports seen in the watch message being handled, collected together after it.
    reports: Vec<KeyValue>,
    lateness: Lateness,
}

/// How late ticks are committed (commit time minus scheduled time), logged every
/// [`Lateness::EVERY`] so an operator sees a scheduler falling behind.
struct Lateness {
    ms: hdrhistogram::Histogram<u64>,
    since: std::time::Instant,
}

impl Lateness {
    const EVERY: Duration = Duration::from_secs(10);

    fn new() -> Self {
        Lateness {
            ms: hdrhistogram::Histogram::new(3).expect("3 significant digits is valid"),
            since: std::time::Instant::now(),
        }
    }

    fn record(&mut self, late: chrono::Duration) {
        let _ = self.ms.record(late.num_milliseconds().max(0) as u64);
        metrics::histogram!(crate::http::metrics::FIRE_DELAY)
            .record(late.num_milliseconds().max(0) as f64 / 1000.0);
        if self.since.elapsed() >= Self::EVERY {
            tracing::info!(
                fires = self.ms.len(),
                p50_ms = self.ms.value_at_quantile(0.5),
                p99_ms = self.ms.value_at_quantile(0.99),
                max_ms = self.ms.max(),
                "ticks committed in the last {:?}, and how late",
                Self::EVERY
            );
            self.ms.reset();
            self.since = std::time::Instant::now();
        }
    }
}

fn text(b: &[u8]) -> &str {
    std::str::from_utf8(b).unwrap_or("")
}

/// The transaction of a hand-over: `key`, if still as read at `rev`, makes way for `with`.
fn hand_over_txn(key: &str, rev: i64, with: Vec<RequestOp>) -> TxnRequest {
    let mut success = vec![ops::delete(key)];
    success.extend(with);
    TxnRequest {
        compare: vec![ops::mod_revision_is(key, rev)],
        success,
        failure: vec![],
    }
}

/// Collections in flight at once; the KV batches them into few Raft entries.
const COLLECT_IN_FLIGHT: usize = 256;

/// Commits independent transactions, [`COLLECT_IN_FLIGHT`] at a time; the first error ends it.
async fn commit_all(kv: Kv, txns: Vec<TxnRequest>) -> Result<(), KvError> {
    for chunk in txns.chunks(COLLECT_IN_FLIGHT) {
        let answers =
            futures::future::join_all(chunk.iter().map(|t| kv.txn_as_leader(t.clone()))).await;
        for a in answers {
            a?;
        }
    }
    Ok(())
}

fn local_now() -> chrono::NaiveDateTime {
    Local::now().naive_local()
}

/// Closes a report with a status the scheduler decides (lost, timed out, missed, cancelled).
fn closed(mut run: JobExecuteSnapshot, status: ExecuteStatus, why: String) -> JobExecuteSnapshot {
    run.finish(status, why, &local_now(), Duration::ZERO);
    run
}

impl Leader {
    pub async fn lead(kv: Kv, term: u64) -> Result<(), LeadError> {
        let mut leader = Leader {
            kv,
            term,
            jobs: HashMap::new(),
            due: BinaryHeap::new(),
            workers: BTreeMap::new(),
            round_robin: HashMap::new(),
            claimed: HashMap::new(),
            pending: BTreeMap::new(),
            book: Book::default(),
            reports: Vec::new(),
            lateness: Lateness::new(),
        };
        let mut changes = leader.load().await?;
        leader.recover_orphans().await?;
        leader.flush_pending().await?;
        let mut metrics = leader.kv.cluster().raft().metrics();
        loop {
            leader.fire_due().await?;
            leader.expire_pending().await?;
            leader.expire_runs().await?;
            leader.flush_pending().await?;
            let wait = leader
                .due
                .peek()
                .map(|Reverse((t, _))| (*t - Utc::now()).to_std().unwrap_or_default())
                .unwrap_or(IDLE)
                .min(IDLE);
            tokio::select! {
                msg = changes.next() => {
                    let msg = msg.ok_or(LeadError::WatchEnded)??;
                    for ev in msg.events {
                        let deleted = ev.r#type == EventType::Delete as i32;
                        leader.on_event(deleted, ev.kv.unwrap_or_default(), ev.prev_kv).await?;
                    }
                    let reports = std::mem::take(&mut leader.reports);
                    leader.collect_in_background(&reports);
                }
                _ = tokio::time::sleep(wait) => {}
                _ = metrics.changed() => {}
            }
            let m = leader.kv.cluster().metrics();
            if m.state != openraft::ServerState::Leader || m.current_term != leader.term {
                return Err(LeadError::Deposed);
            }
        }
    }

    /// Reads everything at one revision and returns the watch of what follows it.
    async fn load(&mut self) -> Result<WatchStream, LeadError> {
        let confs = self.kv.range(ops::prefix_range(keys::CONF_PREFIX)).await?;
        let at = confs.header.as_ref().map_or(0, |h| h.revision);
        let read = |p: &str| RangeRequest {
            revision: at,
            ..ops::prefix_range(p)
        };
        let plans = self.kv.range(read(keys::PLAN_PREFIX)).await?;
        let clients = self.kv.range(read(keys::CLIENT_ROOT)).await?;
        let pending = self.kv.range(read(keys::PENDING_PREFIX)).await?;

        let mut cursors: HashMap<String, (DateTime<Utc>, i64)> = HashMap::new();
        for kv in plans.kvs {
            if let (Some(id), Some(c)) = (
                keys::parse_plan_key(text(&kv.key)),
                Cursor::from_json(&kv.value),
            ) {
                cursors.insert(id.to_string(), (c.last, kv.mod_revision));
            }
        }
        for kv in &clients.kvs {
            let key = text(&kv.key);
            if let Some((group, worker)) = keys::parse_client_key(key) {
                self.workers
                    .entry(group.to_string())
                    .or_default()
                    .insert(worker.to_string());
            } else if let Some(w) = keys::parse_snapshot_key(key) {
                self.book.set(
                    w.id,
                    Place::Dispatched {
                        group: w.group.to_string(),
                        worker: w.worker.to_string(),
                    },
                );
            }
        }
        for kv in pending.kvs {
            self.on_pending(kv);
        }
        for kv in confs.kvs {
            let cursor =
                keys::parse_job_conf_key(text(&kv.key)).and_then(|id| cursors.get(id).copied());
            self.upsert_job(&kv, cursor);
        }
        // Running reports last: their timeouts come from the jobs just loaded.
        for kv in &clients.kvs {
            if keys::parse_execute_snapshot_key(text(&kv.key)).is_some() {
                self.on_report(kv);
            }
        }
        tracing::info!(
            term = self.term,
            revision = at,
            jobs = self.jobs.len(),
            "scheduler loaded"
        );
        Ok(self.kv.watch(ops::prefix_watch("/forest/", at + 1, true))?)
    }

    fn upsert_job(&mut self, kv: &KeyValue, cursor: Option<(DateTime<Utc>, i64)>) {
        let Ok(conf) = JobConf::from_json(&kv.value) else {
            tracing::warn!(
                key = text(&kv.key),
                "scheduler: a job that does not parse is not scheduled"
            );
            return;
        };
        let previous = self.jobs.remove(&conf.id);
        let schedule = match crate::jobs::schedule(&conf) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(job = %conf.id, error = %e, "scheduler: job not scheduled");
                return;
            }
        };
        // A job resumed after a pause starts from now: the paused ticks were not owed.
        let now = Utc::now();
        let (cursor, cursor_rev) = match (previous, cursor) {
            (Some(p), _) if p.conf.is_running() => (p.cursor, p.cursor_rev),
            (Some(p), _) => (now, p.cursor_rev),
            (None, Some((last, rev))) => (last, rev),
            (None, None) => (now, 0),
        };
        if conf.is_running() {
            if let Some(next) = schedule.next_after(cursor) {
                self.due.push(Reverse((next, conf.id.clone())));
            }
        }
        let id = conf.id.clone();
        self.jobs.insert(
            id,
            Job {
                conf,
                schedule,
                cursor,
                cursor_rev,
            },
        );
    }

    /// The running job's conf, if it is scheduled (not paused or deleted).
    fn running_job(&self, job_id: &str) -> Option<&JobConf> {
        self.jobs
            .get(job_id)
            .map(|j| &j.conf)
            .filter(|c| c.is_running())
    }

    fn on_pending(&mut self, kv: KeyValue) {
        if let Ok(s) = JobSnapshot::from_json(&kv.value) {
            self.book.set(
                &s.id,
                Place::Pending {
                    group: s.group.clone(),
                },
            );
            self.pending
                .entry(s.group.clone())
                .or_default()
                .insert(s.id.clone(), (s, kv.mod_revision));
        }
    }

    /// A report under `/forest/client/execute/snapshot/...`: running ones go in the book with
    /// their timeout, final ones wait for collection.
    fn on_report(&mut self, kv: &KeyValue) {
        let Some(w) = keys::parse_execute_snapshot_key(text(&kv.key)) else {
            return;
        };
        let Ok(run) = JobExecuteSnapshot::from_json(&kv.value) else {
            return;
        };
        if run.status.is_final() {
            self.book.clear(w.id);
            return;
        }
        let started = parse_time(&run.start_time)
            .and_then(|t| Local.from_local_datetime(&t).earliest())
            .map_or_else(Utc::now, |t| t.with_timezone(&Utc));
        let deadline = self
            .jobs
            .get(&run.job_id)
            .and_then(|j| j.conf.run_timeout())
            .and_then(|t| chrono::Duration::from_std(t).ok())
            .map(|t| started + t);
        self.book.set(
            w.id,
            Place::Running {
                group: w.group.to_string(),
                worker: w.worker.to_string(),
                rev: kv.mod_revision,
                deadline,
            },
        );
    }

    async fn on_event(
        &mut self,
        deleted: bool,
        kv: KeyValue,
        prev: Option<KeyValue>,
    ) -> Result<(), LeadError> {
        let key = text(&kv.key).to_string();
        if let Some(work) = keys::parse_snapshot_key(&key) {
            // A delete is a claim (or a move, whose put follows in the same revision).
            let id = work.id.to_string();
            match prev.and_then(|p| JobSnapshot::from_json(&p.value).ok()) {
                Some(s) if deleted => {
                    self.book.set(
                        &id,
                        Place::Running {
                            group: work.group.to_string(),
                            worker: work.worker.to_string(),
                            rev: 0,
                            deadline: None,
                        },
                    );
                    self.claimed.insert(id, (work.worker.to_string(), s));
                }
                _ => {
                    self.claimed.remove(&id);
                    self.book.set(
                        &id,
                        Place::Dispatched {
                            group: work.group.to_string(),
                            worker: work.worker.to_string(),
                        },
                    );
                }
            }
        } else if let Some(id) = keys::parse_job_conf_key(&key) {
            if deleted {
                self.jobs.remove(id);
            } else {
                self.upsert_job(&kv, None);
            }
        } else if let Some((group, worker)) = keys::parse_client_key(&key) {
            let (group, worker) = (group.to_string(), worker.to_string());
            if deleted {
                if let Some(set) = self.workers.get_mut(&group) {
                    set.remove(&worker);
                }
                tracing::info!(%group, %worker, "worker gone: failing over its work");
                self.fail_over(&group, &worker).await?;
            } else if self
                .workers
                .entry(group.clone())
                .or_default()
                .insert(worker)
            {
                self.flush_pending().await?;
            }
        } else if let Some(work) = keys::parse_execute_snapshot_key(&key) {
            self.claimed.remove(work.id);
            if deleted {
                self.book.clear(work.id);
            } else {
                self.on_report(&kv);
                self.reports.push(kv);
            }
        } else if let Some((group, id)) = key
            .strip_prefix(keys::PENDING_PREFIX)
            .and_then(|r| r.split_once('/'))
        {
            let (group, id) = (group.to_string(), id.to_string());
            if deleted {
                self.book.clear(&id);
                if let Some(m) = self.pending.get_mut(&group) {
                    m.remove(&id);
                }
            } else {
                self.on_pending(kv);
                self.flush_pending().await?;
            }
        } else if let Some(id) = key.strip_prefix(keys::HISTORY_PREFIX) {
            self.book.clear(id);
        }
        Ok(())
    }

    /// Where the snapshots of one run of `conf` go, by its route. `avoid`: a worker to pass
    /// over when another is online.
    fn place(&mut self, conf: &JobConf, route: Route, avoid: Option<&str>) -> Vec<Placement> {
        let online: Vec<String> = self
            .workers
            .get(&conf.group)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default();
        let load = if route == Route::LeastBusy {
            self.book.load_of(&conf.group)
        } else {
            HashMap::new()
        };
        let turn = self.round_robin.entry(conf.group.clone()).or_default();
        route::place(
            route,
            conf.shards,
            &conf.id,
            route::Group {
                online: &online,
                load: &load,
                turn,
            },
            avoid,
        )
    }

    /// One worker for one snapshot that already exists (waiting, or moving off a worker that
    /// left), by its job's route; a slot of a broadcast or sharded tick goes round robin.
    fn pick_one(&mut self, group: &str, job_id: &str, avoid: Option<&str>) -> Option<String> {
        let conf = self
            .jobs
            .get(job_id)
            .map(|j| j.conf.clone())
            .unwrap_or_else(|| JobConf {
                group: group.to_string(),
                id: job_id.to_string(),
                ..Default::default()
            });
        let route = Some(conf.route)
            .filter(|r| !r.fans_out())
            .unwrap_or(Route::RoundRobin);
        self.place(&conf, route, avoid)
            .into_iter()
            .find_map(|p| p.worker)
    }

    /// The snapshot of one tick's slot, for a worker (or pending when it has none).
    fn snapshot(conf: &JobConf, tick: DateTime<Utc>, p: &Placement) -> Option<JobSnapshot> {
        let mut id = SnapshotId::tick(&tick, &conf.id).ok()?;
        if p.total > 0 {
            id = id.with_slot(p.slot).ok()?;
        }
        let mut s = JobSnapshot::from_conf(
            conf,
            id.to_string(),
            p.worker.clone().unwrap_or_default(),
            &local_now(),
        );
        s.scheduled_at = Some(tick.fixed_offset());
        s.shard_index = p.slot;
        s.shard_total = p.total;
        s.deadline = Some((tick + conf.starting_window()).fixed_offset());
        Some(s)
    }

    /// The record of a tick that does not run.
    fn missed(conf: &JobConf, tick: DateTime<Utc>, why: &str) -> Option<JobExecuteSnapshot> {
        let unplaced = Placement {
            slot: 0,
            total: 0,
            worker: None,
        };
        let s = Self::snapshot(conf, tick, &unplaced)?;
        let run = JobExecuteSnapshot::started(&s, &local_now());
        Some(closed(run, ExecuteStatus::MISSED, why.to_string()))
    }

    /// Fires every job whose next tick has come: one transaction per batch of jobs, all
    /// batches in flight together (they touch different jobs), so a burst of due jobs costs a
    /// few Raft round trips, not one per batch.
    async fn fire_due(&mut self) -> Result<(), LeadError> {
        let now = Utc::now();
        let mut ready = Vec::new();
        let mut seen = std::collections::HashSet::new();
        while let Some(Reverse((t, _))) = self.due.peek() {
            if *t > now {
                break;
            }
            let Some(Reverse((_, id))) = self.due.pop() else {
                break;
            };
            if self.running_job(&id).is_some() && seen.insert(id.clone()) {
                ready.push(id);
            }
        }
        let mut replaced = Vec::new();
        let planned: Vec<(&[String], Planned)> = ready
            .chunks(JOBS_PER_TXN)
            .filter_map(|batch| Some((batch, self.plan_batch(batch, now, &mut replaced)?)))
            .collect();
        for (id, place) in replaced {
            self.cancel(
                &id,
                &place,
                "cancelled: replaced by a newer run (concurrency replace)",
            )
            .await?;
        }
        let kv = self.kv.clone();
        let answers =
            futures::future::join_all(planned.iter().map(|(_, p)| kv.txn_as_leader(p.txn.clone())))
                .await;
        for ((batch, planned), answer) in planned.into_iter().zip(answers) {
            let resp = match answer {
                Err(KvError::Cluster(crate::cluster::ClusterError::NotLeader)) => {
                    return Err(LeadError::Deposed)
                }
                other => other?,
            };
            if !resp.succeeded {
                self.reload_cursors(batch).await?;
                continue;
            }
            let rev = resp.header.map_or(0, |h| h.revision);
            let committed = Utc::now();
            for (id, cursor, fired, missed) in planned.decided {
                tracing::debug!(job = %id, %cursor, fired, missed, "fired");
                if fired > 0 {
                    self.lateness.record(committed - cursor);
                }
                if let Some(job) = self.jobs.get_mut(&id) {
                    job.cursor = cursor;
                    job.cursor_rev = rev;
                    if let Some(next) = job.schedule.next_after(cursor) {
                        self.due.push(Reverse((next, id.clone())));
                    }
                }
            }
        }
        // Ticks that went pending come back through the watch, which files them.
        Ok(())
    }

    /// Decides the ticks of a batch of jobs and the transaction that fires them; the runs a
    /// `replace` job's new tick displaces go to `replaced`.
    fn plan_batch(
        &mut self,
        ids: &[String],
        now: DateTime<Utc>,
        replaced: &mut Vec<(String, Place)>,
    ) -> Option<Planned> {
        let mut txn = TxnRequest::default();
        let mut decided = Vec::new();
        for id in ids {
            let Some(job) = self.jobs.get(id) else {
                continue;
            };
            let d = misfire::decide(
                &job.schedule,
                job.cursor,
                now,
                job.conf.starting_window(),
                job.conf.misfire,
                job.conf.misfire_limit_or_default(),
            );
            let Some(cursor) = d.cursor else { continue };
            let conf = job.conf.clone();
            txn.compare
                .push(ops::mod_revision_is(keys::plan(id), job.cursor_rev));
            txn.success.push(records::cursor(id, cursor));
            let mut going = self.book.outstanding(id, "");
            for tick in &d.fire {
                match concurrency::admit(conf.concurrency, std::mem::take(&mut going)) {
                    Admit::Skip => {
                        if let Some(run) = Self::missed(&conf, *tick, concurrency::SKIPPED) {
                            txn.success.push(records::finished(&run));
                        }
                        going = self.book.outstanding(id, "");
                        continue;
                    }
                    Admit::Run { mut replacing } => replaced.append(&mut replacing),
                }
                for p in self.place(&conf, conf.route, None) {
                    if let Some(s) = Self::snapshot(&conf, *tick, &p) {
                        txn.success.push(if p.worker.is_some() {
                            records::dispatch(&s)
                        } else {
                            records::pending(&s)
                        });
                        going.push((s.id, Place::Pending { group: s.group }));
                    }
                }
            }
            for tick in &d.missed {
                if let Some(run) =
                    Self::missed(&conf, *tick, "missed: no leader could fire it in time")
                {
                    txn.success.push(records::finished(&run));
                }
            }
            decided.push((id.clone(), cursor, d.fire.len(), d.missed.len()));
        }
        (!decided.is_empty()).then_some(Planned { txn, decided })
    }

    /// Re-reads the cursors of jobs whose firing transaction failed (another writer moved
    /// one) and schedules them again from there: the next pass decides their ticks anew.
    async fn reload_cursors(&mut self, ids: &[String]) -> Result<(), LeadError> {
        for id in ids {
            let plan = self.kv.get(&keys::plan(id), false).await?;
            let Some(job) = self.jobs.get_mut(id) else {
                continue;
            };
            match plan {
                Some(kv) => {
                    if let Some(c) = Cursor::from_json(&kv.value) {
                        job.cursor = c.last;
                    }
                    job.cursor_rev = kv.mod_revision;
                }
                None => job.cursor_rev = 0,
            }
            if let Some(next) = job.schedule.next_after(job.cursor) {
                self.due.push(Reverse((next, id.clone())));
            }
        }
        Ok(())
    }

    /// Moves the runs waiting in groups that now have a worker to their workers: ticks that
    /// found nobody, manual runs, and retries whose backoff has passed. A pending snapshot's
    /// `ip` names the worker its previous attempt failed on, which a retry avoids.
    async fn flush_pending(&mut self) -> Result<(), LeadError> {
        let now = Utc::now();
        let groups: Vec<String> = self.pending.keys().cloned().collect();
        for group in groups {
            let waiting: Vec<(JobSnapshot, i64)> = self
                .pending
                .get(&group)
                .map(|m| m.values().cloned().collect())
                .unwrap_or_default();
            for (mut s, rev) in waiting {
                if s.not_before.is_some_and(|t| t > now) {
                    continue;
                }
                let key = keys::pending(&group, &s.id);
                let policy = self
                    .jobs
                    .get(&s.job_id)
                    .map_or(Concurrency::Allow, |j| j.conf.concurrency);
                // Runs that started, or wait ahead of this one in the queue.
                let rivals: Vec<(String, Place)> = self
                    .book
                    .outstanding(&s.job_id, &s.id)
                    .into_iter()
                    .filter(|(id, p)| !matches!(p, Place::Pending { .. }) || *id < s.id)
                    .collect();
                let Admit::Run { replacing } = concurrency::admit(policy, rivals) else {
                    let run = closed(
                        JobExecuteSnapshot::started(&s, &local_now()),
                        ExecuteStatus::MISSED,
                        concurrency::SKIPPED.into(),
                    );
                    self.hand_over(&key, rev, vec![records::finished(&run)])
                        .await?;
                    self.forget_pending(&group, &s.id);
                    continue;
                };
                let avoid = (!s.ip.is_empty()).then(|| s.ip.clone());
                let Some(worker) = self.pick_one(&group, &s.job_id, avoid.as_deref()) else {
                    break;
                };
                for (id, place) in replacing {
                    self.cancel(&id, &place, concurrency::REPLACED).await?;
                }
                s.ip = worker;
                s.not_before = None;
                self.hand_over(&key, rev, vec![records::dispatch(&s)])
                    .await?;
                self.forget_pending(&group, &s.id);
            }
        }
        Ok(())
    }

    fn forget_pending(&mut self, group: &str, id: &str) {
        if let Some(m) = self.pending.get_mut(group) {
            m.remove(id);
        }
    }

    /// Records as missed the pending runs whose starting deadline passed with no worker.
    async fn expire_pending(&mut self) -> Result<(), LeadError> {
        let now = Utc::now();
        let mut expired = Vec::new();
        for (group, m) in &self.pending {
            for (id, (s, rev)) in m {
                if s.deadline.is_some_and(|d| d < now) {
                    expired.push((group.clone(), id.clone(), s.clone(), *rev));
                }
            }
        }
        for (group, id, s, rev) in expired {
            let key = keys::pending(&group, &id);
            let run = closed(
                JobExecuteSnapshot::started(&s, &local_now()),
                ExecuteStatus::MISSED,
                "missed: no worker of the group came online before its deadline".into(),
            );
            self.hand_over(&key, rev, vec![records::finished(&run)])
                .await?;
            tracing::info!(snapshot = %id, %group, "tick missed: no worker before its deadline");
            self.forget_pending(&group, &id);
        }
        Ok(())
    }

    /// Runs past their timeout: recorded timed out (and retried if the job allows), and
    /// their worker told to stop, in one transaction.
    async fn expire_runs(&mut self) -> Result<(), LeadError> {
        for (id, place) in self.book.overdue(Utc::now()) {
            self.book.clear(&id);
            let why = match self.jobs.get(job_of(&id)) {
                Some(j) => format!("timeout: ran longer than {} s", j.conf.timeout),
                None => "timeout".to_string(),
            };
            tracing::info!(snapshot = %id, "run timed out");
            self.cancel_as(&id, &place, ExecuteStatus::TIMEOUT, &why)
                .await?;
        }
        Ok(())
    }

    /// Ends a run that has not finished: recorded cancelled, its worker told to stop.
    async fn cancel(&mut self, id: &str, place: &Place, why: &str) -> Result<(), LeadError> {
        tracing::info!(snapshot = %id, "run cancelled: {why}");
        self.cancel_as(id, place, ExecuteStatus::CANCELLED, why)
            .await
    }

    async fn cancel_as(
        &mut self,
        id: &str,
        place: &Place,
        status: ExecuteStatus,
        why: &str,
    ) -> Result<(), LeadError> {
        let (key, worker) = match place {
            Place::Pending { group } => (keys::pending(group, id), None),
            Place::Dispatched { group, worker } => (keys::snapshot(group, worker, id), None),
            Place::Running { group, worker, .. } => (
                keys::execute_snapshot(group, worker, id),
                Some((group.clone(), worker.clone())),
            ),
        };
        let Some(kv) = self.kv.get(&key, false).await? else {
            return Ok(());
        };
        let run = match JobExecuteSnapshot::from_json(&kv.value) {
            Ok(run) if worker.is_some() => run,
            _ => match JobSnapshot::from_json(&kv.value) {
                Ok(s) => JobExecuteSnapshot::started(&s, &local_now()),
                Err(_) => return Ok(()),
            },
        };
        let run = closed(run, status, why.to_string());
        let mut with = self.closing(&run, worker.as_ref().map(|(_, w)| w.as_str()));
        if let Some((group, worker)) = &worker {
            with.push(ops::put(keys::cancel(group, worker, id), why));
        }
        self.hand_over(&key, kv.mod_revision, with).await
    }

    /// Replaces `key`, if it is still as read at `rev`, by `with` in one transaction: every
    /// hand-over (pending → worker, worker → worker, report → history) is this move.
    async fn hand_over(&self, key: &str, rev: i64, with: Vec<RequestOp>) -> Result<(), LeadError> {
        self.kv.txn_as_leader(hand_over_txn(key, rev, with)).await?;
        Ok(())
    }

    /// What closing a run writes: its history record, and its retry when it failed and the
    /// job allows another attempt (waiting out its backoff in the group's queue, avoiding
    /// `worker`, the one it failed on).
    fn closing(&self, run: &JobExecuteSnapshot, worker: Option<&str>) -> Vec<RequestOp> {
        let mut ops = vec![records::finished(run)];
        if let Some(retry) = self.retry_of(run, worker) {
            tracing::info!(snapshot = %run.id, retry = %retry.id, attempt = retry.attempt, not_before = ?retry.not_before, "retrying");
            ops.push(records::pending(&retry));
        }
        ops
    }

    fn retry_of(&self, run: &JobExecuteSnapshot, worker: Option<&str>) -> Option<JobSnapshot> {
        let retriable = [
            ExecuteStatus::ERROR,
            ExecuteStatus::TIMEOUT,
            ExecuteStatus::LOST,
        ];
        if !retriable.contains(&run.status) {
            return None;
        }
        let conf = self.running_job(&run.job_id)?;
        let retries = conf.retries?;
        let attempt = run.attempt + 1;
        if attempt > retries.count {
            return None;
        }
        let id = run
            .id
            .parse::<SnapshotId>()
            .ok()?
            .with_attempt(attempt)
            .ok()?;
        let mut s = JobSnapshot::from_conf(
            conf,
            id.to_string(),
            worker.unwrap_or_default().to_string(),
            &local_now(),
        );
        let not_before =
            Utc::now() + chrono::Duration::from_std(retries.delay(attempt)).unwrap_or_default();
        s.scheduled_at = run.scheduled_at;
        s.attempt = attempt;
        s.shard_index = run.shard_index;
        s.shard_total = run.shard_total;
        s.not_before = Some(not_before.fixed_offset());
        s.deadline = Some((not_before + conf.starting_window()).fixed_offset());
        Some(s)
    }

    /// A final report becomes a history record (and maybe a retry) and its key goes, in one
    /// transaction.
    async fn collect(&mut self, kv: &KeyValue) -> Result<(), LeadError> {
        self.collect_all(std::slice::from_ref(kv)).await
    }

    /// [`collect`](Self::collect) for many reports, their transactions in flight together.
    async fn collect_all(&mut self, reports: &[KeyValue]) -> Result<(), LeadError> {
        match commit_all(self.kv.clone(), self.collections(reports)).await {
            Err(KvError::Cluster(crate::cluster::ClusterError::NotLeader)) => {
                Err(LeadError::Deposed)
            }
            other => Ok(other?),
        }
    }

    /// Collects the reports of one watch message without holding up the loop: firing must
    /// not wait for bookkeeping. A collection that fails (the term ended) is left to the next
    /// leader, which collects every report it finds.
    fn collect_in_background(&mut self, reports: &[KeyValue]) {
        let txns = self.collections(reports);
        if txns.is_empty() {
            return;
        }
        tokio::spawn(commit_all(self.kv.clone(), txns).map(|r| {
            if let Err(e) = r {
                tracing::debug!(error = %e, "collection left to the next leader");
            }
        }));
    }

    fn collections(&self, reports: &[KeyValue]) -> Vec<TxnRequest> {
        reports
            .iter()
            .filter_map(|kv| self.collection(kv))
            .collect()
    }

    /// The transaction that collects a final report; `None` for a report still running.
    fn collection(&self, kv: &KeyValue) -> Option<TxnRequest> {
        let Ok(run) = JobExecuteSnapshot::from_json(&kv.value) else {
            tracing::warn!(
                key = text(&kv.key),
                "an execution report that does not parse is left alone"
            );
            return None;
        };
        if !run.status.is_final() {
            return None;
        }
        let worker = keys::parse_execute_snapshot_key(text(&kv.key)).map(|w| w.worker);
        let with = self.closing(&run, worker);
        Some(hand_over_txn(text(&kv.key), kv.mod_revision, with))
    }

    /// Work held by a worker that is gone: unclaimed snapshots move to another worker of the
    /// group (keeping their ids) or wait pending; runs it had started are recorded lost (and
    /// retried if the job allows); cancellations nobody will read go.
    async fn fail_over(&mut self, group: &str, worker: &str) -> Result<(), LeadError> {
        let vanished: Vec<JobSnapshot> = self
            .claimed
            .values()
            .filter(|(w, s)| w == worker && s.group == group)
            .map(|(_, s)| s.clone())
            .collect();
        for s in vanished {
            self.claimed.remove(&s.id);
            self.book.clear(&s.id);
            let run = closed(
                JobExecuteSnapshot::started(&s, &local_now()),
                ExecuteStatus::LOST,
                format!("lost: worker {worker} claimed the run and went away before reporting"),
            );
            // Only if no report arrived after all (neither pending nor collected).
            let txn = TxnRequest {
                compare: vec![
                    ops::mod_revision_is(keys::execute_snapshot(group, worker, &s.id), 0),
                    ops::mod_revision_is(keys::history(&s.id), 0),
                ],
                success: self.closing(&run, Some(worker)),
                failure: vec![],
            };
            self.kv.txn_as_leader(txn).await?;
            tracing::info!(snapshot = %s.id, %worker, "claimed run lost with its worker");
        }
        let held = self
            .kv
            .range(ops::prefix_range(&keys::snapshot_worker_prefix(
                group, worker,
            )))
            .await?;
        for kv in held.kvs {
            let Ok(mut s) = JobSnapshot::from_json(&kv.value) else {
                continue;
            };
            let old = text(&kv.key).to_string();
            let target = self
                .pick_one(group, &s.job_id, Some(worker))
                .filter(|w| w != worker);
            s.ip = target.clone().unwrap_or_default();
            let moved: RequestOp = if target.is_some() {
                records::dispatch(&s)
            } else {
                records::pending(&s)
            };
            self.hand_over(&old, kv.mod_revision, vec![moved]).await?;
        }
        let running = self
            .kv
            .range(ops::prefix_range(&keys::execute_worker_prefix(
                group, worker,
            )))
            .await?;
        for kv in running.kvs {
            let Ok(run) = JobExecuteSnapshot::from_json(&kv.value) else {
                continue;
            };
            if run.status.is_final() {
                self.collect(&kv).await?;
                continue;
            }
            let run = closed(
                run,
                ExecuteStatus::LOST,
                format!("lost: worker {worker} went away during the run"),
            );
            let with = self.closing(&run, Some(worker));
            self.hand_over(text(&kv.key), kv.mod_revision, with).await?;
            tracing::info!(snapshot = %run.id, %worker, "run lost with its worker");
        }
        let cancels = keys::cancel_worker_prefix(group, worker);
        self.kv
            .delete(DeleteRangeRequest {
                range_end: prefix_end(cancels.as_bytes()).unwrap_or_default(),
                key: cancels.into_bytes(),
                prev_kv: false,
            })
            .await?;
        Ok(())
    }

    /// A new leader checks every group at once: work held by workers that are not online,
    /// and final reports nobody collected.
    async fn recover_orphans(&mut self) -> Result<(), LeadError> {
        let mut holders = BTreeSet::new();
        for p in [keys::SNAPSHOT_PREFIX, keys::EXECUTE_PREFIX] {
            let r = self
                .kv
                .range(RangeRequest {
                    keys_only: true,
                    ..ops::prefix_range(p)
                })
                .await?;
            for kv in r.kvs {
                let key = text(&kv.key);
                if let Some(w) =
                    keys::parse_snapshot_key(key).or_else(|| keys::parse_execute_snapshot_key(key))
                {
                    holders.insert((w.group.to_string(), w.worker.to_string()));
                }
            }
        }
        for (group, worker) in holders {
            let online = self
                .workers
                .get(&group)
                .is_some_and(|s| s.contains(&worker));
            if online {
                let reports = self
                    .kv
                    .range(ops::prefix_range(&keys::execute_worker_prefix(
                        &group, &worker,
                    )))
                    .await?;
                for kv in reports.kvs {
                    self.collect(&kv).await?;
                }
            } else {
                self.fail_over(&group, &worker).await?;
            }
        }
        Ok(())
    }
}
