//! One term of leadership: load, then fire, dispatch, fail over and collect until the term ends.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap};
use std::time::Duration;

use chrono::{DateTime, Local, Utc};
use futures::StreamExt;

use super::misfire;
use super::records;
use crate::cron::Schedule;
use crate::kv::ops;
use crate::kv::{prefix_end, Kv, KvError, WatchStream};
use crate::model::plan::Cursor;
use crate::model::{
    keys, ExecuteStatus, JobConf, JobExecuteSnapshot, JobSnapshot, SnapshotId, WireJson,
};
use crate::pb::kv::{
    event::EventType, KeyValue, RangeRequest, RequestOp, TxnRequest, WatchRequest,
};

/// The longest the loop sleeps: pending deadlines and leadership are checked at least this often.
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
    jobs: HashMap<String, Job>,
    /// (next tick, job id); stale entries are skipped when popped.
    due: BinaryHeap<Reverse<(DateTime<Utc>, String)>>,
    /// group → online worker names.
    workers: BTreeMap<String, BTreeSet<String>>,
    round_robin: HashMap<String, usize>,
    /// group → pending snapshot id → (snapshot, its key's mod revision).
    pending: BTreeMap<String, BTreeMap<String, (JobSnapshot, i64)>>,
    /// Snapshots a worker claimed (deleted) but has not yet reported on, by snapshot id: if
    /// the worker goes away first, the run is recorded lost instead of vanishing.
    claimed: HashMap<String, (String, JobSnapshot)>,
}

fn prefix(p: &str) -> RangeRequest {
    RangeRequest {
        key: p.as_bytes().to_vec(),
        range_end: prefix_end(p.as_bytes()).unwrap_or_default(),
        ..Default::default()
    }
}

fn text(b: &[u8]) -> &str {
    std::str::from_utf8(b).unwrap_or("")
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
        };
        let mut changes = leader.load().await?;
        leader.recover_orphans().await?;
        leader.flush_pending().await?;
        let mut metrics = leader.kv.cluster().raft().metrics();
        loop {
            leader.fire_due().await?;
            leader.expire_pending().await?;
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
        let confs = self.kv.range(prefix(keys::CONF_PREFIX)).await?;
        let at = confs.header.as_ref().map_or(0, |h| h.revision);
        let read = |p: &str| RangeRequest {
            revision: at,
            ..prefix(p)
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
            if let Some((group, worker)) = keys::parse_client_key(text(&kv.key)) {
                self.workers
                    .entry(group.to_string())
                    .or_default()
                    .insert(worker.to_string());
            }
        }
        for kv in pending.kvs {
            if let Ok(s) = JobSnapshot::from_json(&kv.value) {
                self.pending
                    .entry(s.group.clone())
                    .or_default()
                    .insert(s.id.clone(), (s, kv.mod_revision));
            }
        }
        for kv in confs.kvs {
            let cursor =
                keys::parse_job_conf_key(text(&kv.key)).and_then(|id| cursors.get(id).copied());
            self.upsert_job(&kv, cursor);
        }
        tracing::info!(
            term = self.term,
            revision = at,
            jobs = self.jobs.len(),
            "scheduler loaded"
        );
        Ok(self.kv.watch(WatchRequest {
            key: b"/forest/".to_vec(),
            range_end: prefix_end(b"/forest/").unwrap_or_default(),
            start_revision: at + 1,
            prev_kv: true,
        })?)
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
        if !conf.is_running() {
            return;
        }
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
            (Some(p), _) => (p.cursor, p.cursor_rev),
            (None, Some((last, rev))) => (last, rev),
            (None, None) => (now, 0),
        };
        if let Some(next) = schedule.next_after(cursor) {
            self.due.push(Reverse((next, conf.id.clone())));
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
                    self.claimed.insert(id, (work.worker.to_string(), s));
                }
                _ => {
                    self.claimed.remove(&id);
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
            if !deleted {
                self.collect(&kv).await?;
            }
        } else if let Some((group, id)) = key
            .strip_prefix(keys::PENDING_PREFIX)
            .and_then(|r| r.split_once('/'))
        {
            let (group, id) = (group.to_string(), id.to_string());
            if deleted {
                if let Some(m) = self.pending.get_mut(&group) {
                    m.remove(&id);
                }
            } else if let Ok(s) = JobSnapshot::from_json(&kv.value) {
                self.pending
                    .entry(group)
                    .or_default()
                    .insert(id, (s, kv.mod_revision));
                self.flush_pending().await?;
            }
        }
        Ok(())
    }

    /// The group's next online worker, round robin.
    fn pick_worker(&mut self, group: &str) -> Option<String> {
        let online = self.workers.get(group).filter(|s| !s.is_empty())?;
        let turn = self.round_robin.entry(group.to_string()).or_default();
        *turn = turn.wrapping_add(1);
        online.iter().nth(*turn % online.len()).cloned()
    }

    /// The snapshot of one tick, for a worker (or pending when `worker` is None).
    fn snapshot(
        &self,
        conf: &JobConf,
        tick: DateTime<Utc>,
        worker: Option<&str>,
    ) -> Option<JobSnapshot> {
        let id = SnapshotId::tick(&tick, &conf.id).ok()?;
        let now = Local::now().naive_local();
        let mut s = JobSnapshot::from_conf(
            conf,
            id.to_string(),
            worker.unwrap_or_default().to_string(),
            &now,
        );
        s.scheduled_at = Some(tick.fixed_offset());
        let deadline = tick
            + chrono::Duration::from_std(conf.starting_deadline_or_default()).unwrap_or_default();
        s.deadline = Some(deadline.fixed_offset());
        Some(s)
    }

    fn missed(conf: &JobConf, tick: DateTime<Utc>, why: &str) -> Option<JobExecuteSnapshot> {
        let id = SnapshotId::tick(&tick, &conf.id).ok()?;
        let now = Local::now().naive_local();
        let s = JobSnapshot::from_conf(conf, id.to_string(), String::new(), &now);
        let mut run = JobExecuteSnapshot::started(&s, &now);
        run.scheduled_at = Some(tick.fixed_offset());
        run.finish(ExecuteStatus::MISSED, why.to_string(), &now, Duration::ZERO);
        Some(run)
    }

    /// Fires every job whose next tick has come, in batched transactions.
    async fn fire_due(&mut self) -> Result<(), LeadError> {
        let now = Utc::now();
        let mut ready = Vec::new();
        while let Some(Reverse((t, _))) = self.due.peek() {
            if *t > now {
                break;
            }
            let Some(Reverse((_, id))) = self.due.pop() else {
                break;
            };
            if self.jobs.contains_key(&id) && !ready.contains(&id) {
                ready.push(id);
            }
        }
        for batch in ready.chunks(JOBS_PER_TXN) {
            self.fire_batch(batch, now).await?;
        }
        Ok(())
    }

    async fn fire_batch(&mut self, ids: &[String], now: DateTime<Utc>) -> Result<(), LeadError> {
        let mut txn = TxnRequest::default();
        let mut decided = Vec::new();
        for id in ids {
            let Some(job) = self.jobs.get(id) else {
                continue;
            };
            let deadline = chrono::Duration::from_std(job.conf.starting_deadline_or_default())
                .unwrap_or_default();
            let d = misfire::decide(
                &job.schedule,
                job.cursor,
                now,
                deadline,
                job.conf.misfire,
                job.conf.misfire_limit_or_default(),
            );
            let Some(cursor) = d.cursor else { continue };
            let conf = job.conf.clone();
            txn.compare
                .push(ops::mod_revision_is(&keys::plan(id), job.cursor_rev));
            txn.success.push(records::cursor(id, cursor));
            for tick in &d.fire {
                let worker = self.pick_worker(&conf.group);
                if let Some(s) = self.snapshot(&conf, *tick, worker.as_deref()) {
                    txn.success.push(if worker.is_some() {
                        records::dispatch(&s)
                    } else {
                        records::pending(&s)
                    });
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
        if decided.is_empty() {
            return Ok(());
        }
        let resp = match self.kv.txn_as_leader(txn).await {
            Err(KvError::Cluster(crate::cluster::ClusterError::NotLeader)) => {
                return Err(LeadError::Deposed)
            }
            other => other?,
        };
        if !resp.succeeded {
            return self.reload_cursors(ids).await;
        }
        let rev = resp.header.map_or(0, |h| h.revision);
        for (id, cursor, fired, missed) in decided {
            tracing::debug!(job = %id, %cursor, fired, missed, "fired");
            if let Some(job) = self.jobs.get_mut(&id) {
                job.cursor = cursor;
                job.cursor_rev = rev;
                if let Some(next) = job.schedule.next_after(cursor) {
                    self.due.push(Reverse((next, id.clone())));
                }
            }
        }
        // Ticks that went pending come back through the watch, which files them.
        Ok(())
    }

    /// Re-reads the cursors of jobs whose firing transaction failed (another writer moved
    /// one) and schedules them again from there: the next pass decides their ticks anew.
    async fn reload_cursors(&mut self, ids: &[String]) -> Result<(), LeadError> {
        for id in ids {
            let r = self
                .kv
                .range(RangeRequest {
                    key: keys::plan(id).into_bytes(),
                    ..Default::default()
                })
                .await?;
            let Some(job) = self.jobs.get_mut(id) else {
                continue;
            };
            match r.kvs.first() {
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

    /// Moves the ticks waiting in groups that now have a worker to their workers.
    async fn flush_pending(&mut self) -> Result<(), LeadError> {
        let groups: Vec<String> = self.pending.keys().cloned().collect();
        for group in groups {
            let waiting: Vec<(JobSnapshot, i64)> = self
                .pending
                .get(&group)
                .map(|m| m.values().cloned().collect())
                .unwrap_or_default();
            for (mut s, rev) in waiting {
                let Some(worker) = self.pick_worker(&group) else {
                    break;
                };
                let key = keys::pending(&group, &s.id);
                s.ip = worker;
                self.hand_over(&key, rev, records::dispatch(&s)).await?;
                if let Some(m) = self.pending.get_mut(&group) {
                    m.remove(&s.id);
                }
            }
        }
        Ok(())
    }

    /// Records as missed the pending ticks whose starting deadline passed with no worker.
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
            let local = Local::now().naive_local();
            let mut run = JobExecuteSnapshot::started(&s, &local);
            run.finish(
                ExecuteStatus::MISSED,
                "missed: no worker of the group came online before its deadline".into(),
                &local,
                Duration::ZERO,
            );
            self.hand_over(&key, rev, records::finished(&run)).await?;
            tracing::info!(snapshot = %id, %group, "tick missed: no worker before its deadline");
            if let Some(m) = self.pending.get_mut(&group) {
                m.remove(&id);
            }
        }
        Ok(())
    }

    /// Replaces `key`, if it is still as read at `rev`, by `with` in one transaction: every
    /// hand-over (pending → worker, worker → worker, report → history) is this move.
    async fn hand_over(&self, key: &str, rev: i64, with: RequestOp) -> Result<(), LeadError> {
        let txn = TxnRequest {
            compare: vec![ops::mod_revision_is(key, rev)],
            success: vec![ops::delete(key), with],
            failure: vec![],
        };
        self.kv.txn_as_leader(txn).await?;
        Ok(())
    }

    /// A final report becomes a history record and its key goes, in one transaction.
    async fn collect(&mut self, kv: &KeyValue) -> Result<(), LeadError> {
        let Ok(run) = JobExecuteSnapshot::from_json(&kv.value) else {
            tracing::warn!(
                key = text(&kv.key),
                "an execution report that does not parse is left alone"
            );
            return Ok(());
        };
        if !run.status.is_final() {
            return Ok(());
        }
        let key = text(&kv.key);
        self.hand_over(key, kv.mod_revision, records::finished(&run))
            .await?;
        Ok(())
    }

    /// Work held by a worker that is gone: unclaimed snapshots move to another worker of the
    /// group (keeping their ids) or wait pending; runs it had started are recorded lost.
    async fn fail_over(&mut self, group: &str, worker: &str) -> Result<(), LeadError> {
        let vanished: Vec<JobSnapshot> = self
            .claimed
            .values()
            .filter(|(w, s)| w == worker && s.group == group)
            .map(|(_, s)| s.clone())
            .collect();
        for s in vanished {
            self.claimed.remove(&s.id);
            let local = Local::now().naive_local();
            let mut run = JobExecuteSnapshot::started(&s, &local);
            run.finish(
                ExecuteStatus::LOST,
                format!("lost: worker {worker} claimed the run and went away before reporting"),
                &local,
                Duration::ZERO,
            );
            // Only if no report arrived after all (neither pending nor collected).
            let txn = TxnRequest {
                compare: vec![
                    ops::mod_revision_is(keys::execute_snapshot(group, worker, &s.id), 0),
                    ops::mod_revision_is(keys::history(&s.id), 0),
                ],
                success: vec![records::finished(&run)],
                failure: vec![],
            };
            self.kv.txn_as_leader(txn).await?;
            tracing::info!(snapshot = %s.id, %worker, "claimed run lost with its worker");
        }
        let held = self
            .kv
            .range(prefix(&keys::snapshot_worker_prefix(group, worker)))
            .await?;
        for kv in held.kvs {
            let Ok(mut s) = JobSnapshot::from_json(&kv.value) else {
                continue;
            };
            let old = text(&kv.key).to_string();
            let target = self.pick_worker(group);
            s.ip = target.clone().unwrap_or_default();
            let moved: RequestOp = if target.is_some() {
                records::dispatch(&s)
            } else {
                records::pending(&s)
            };
            self.hand_over(&old, kv.mod_revision, moved).await?;
        }
        let running = self
            .kv
            .range(prefix(&keys::execute_worker_prefix(group, worker)))
            .await?;
        for kv in running.kvs {
            let Ok(mut run) = JobExecuteSnapshot::from_json(&kv.value) else {
                continue;
            };
            if run.status.is_final() {
                self.collect(&kv).await?;
                continue;
            }
            let local = Local::now().naive_local();
            run.finish(
                ExecuteStatus::LOST,
                format!("lost: worker {worker} went away during the run"),
                &local,
                Duration::ZERO,
            );
            let key = text(&kv.key);
            self.hand_over(key, kv.mod_revision, records::finished(&run))
                .await?;
            tracing::info!(snapshot = %run.id, %worker, "run lost with its worker");
        }
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
                    ..prefix(p)
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
                    .range(prefix(&keys::execute_worker_prefix(&group, &worker)))
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
