//! Claims and results as KV writes: the same keys an original client writes (forest-compat §5),
//! so the scheduler collects a streamed worker's runs exactly like a legacy client's.
//!
//! A claim deletes the snapshot and writes the running report in one transaction that holds
//! only if the snapshot is still there: a run is claimed once, and never after the scheduler
//! moved it elsewhere. A result replaces the running report only if that report is still the
//! one written at claim time: a run the scheduler already closed (timed out, or lost while its
//! worker was away) keeps its record, and the worker is told.

use std::time::Duration;

use chrono::{DateTime, Local, NaiveDateTime, Offset, TimeZone};
use tonic::Status;

use super::limits;
use crate::kv::{ops, Kv};
use crate::model::{keys, JobExecuteSnapshot, JobSnapshot, WireJson};
use crate::pb::forest::Result as RunResult;
use crate::pb::kv::TxnRequest;

/// Why a claim or result was not taken.
pub type Refusal = String;

/// A worker's Unix milliseconds on `zone`'s wall clock; `None` past chrono's range. Checked,
/// because a worker may send any i64: near the range's ends the local time does not exist
/// (chrono's `naive_local` panics there on a zone east or west of UTC).
fn local_time(zone: &impl TimeZone, ms: i64) -> Option<NaiveDateTime> {
    let utc = DateTime::from_timestamp_millis(ms)?.naive_utc();
    utc.checked_add_offset(zone.offset_from_utc_datetime(&utc).fix())
}

pub async fn claim(
    kv: &Kv,
    group: &str,
    worker: &str,
    id: &str,
) -> Result<Result<(), Refusal>, Status> {
    let key = keys::snapshot(group, worker, id);
    // This node's own copy is enough: the worker learned of the snapshot from this node's
    // watch, so it is applied here, and the transaction below compares its revision anyway.
    let found = kv.get(&key, true).await.map_err(Status::from)?;
    let Some((snapshot, rev)) =
        found.and_then(|kv| Some((JobSnapshot::from_json(&kv.value).ok()?, kv.mod_revision)))
    else {
        // Its answer may have been lost with a stream: a repeated claim of a run already
        // this worker's holds.
        return Ok(match going(kv, group, worker, id).await? {
            Some(_) => Ok(()),
            None => Err("the snapshot is no longer yours (moved or deleted)".into()),
        });
    };
    let mut run = JobExecuteSnapshot::started(&snapshot, &Local::now().naive_local());
    run.ip = worker.to_string();
    run.node = kv.cluster().name().to_string();
    let txn = TxnRequest {
        compare: vec![ops::mod_revision_is(&key, rev)],
        success: vec![
            ops::delete(&key),
            ops::put(keys::execute_snapshot(group, worker, id), run.to_json()),
        ],
        failure: vec![],
    };
    let ok = kv.txn(txn).await.map_err(Status::from)?.succeeded;
    Ok(if ok {
        Ok(())
    } else {
        Err("the snapshot is no longer yours (moved or deleted)".into())
    })
}

/// The run's report under this worker's key, if it is still going, with its mod revision.
///
/// This node's own copy is read first: the transactions that follow compare the revision read,
/// so a stale copy can only make them fail, never write over a newer report. Only when the
/// copy has no such run (the claim may not be applied here yet) is the cluster asked.
async fn going(
    kv: &Kv,
    group: &str,
    worker: &str,
    id: &str,
) -> Result<Option<(JobExecuteSnapshot, i64)>, Status> {
    for serializable in [true, false] {
        let found = kv
            .get(&keys::execute_snapshot(group, worker, id), serializable)
            .await
            .map_err(Status::from)?;
        let run = found.and_then(|kv| {
            let run = JobExecuteSnapshot::from_json(&kv.value).ok()?;
            (!run.status.is_final()).then_some((run, kv.mod_revision))
        });
        if run.is_some() {
            return Ok(run);
        }
    }
    Ok(None)
}

/// Records a result (checked by [`limits::check_message`]) as the run's final report.
pub async fn finish(
    kv: &Kv,
    group: &str,
    worker: &str,
    r: &RunResult,
    progress: &str,
) -> Result<Result<(), Refusal>, Status> {
    let key = keys::execute_snapshot(group, worker, &r.snapshot_id);
    let Some((run, rev)) = going(kv, group, worker, &r.snapshot_id).await? else {
        return Ok(Err(
            "no run of that id is going under this worker (never claimed, or closed: timed out or lost)".into(),
        ));
    };
    let run = report(run, r, progress, &Local, &Local::now().naive_local())?;
    let txn = TxnRequest {
        compare: vec![ops::mod_revision_is(&key, rev)],
        success: vec![ops::put(&key, run.to_json())],
        failure: vec![],
    };
    let ok = kv.txn(txn).await.map_err(Status::from)?.succeeded;
    Ok(if ok {
        Ok(())
    } else {
        Err("the run was closed while the result was on its way".into())
    })
}

/// The final report of a `run` still going, from the worker's result and the output kept
/// from its progress. Times are written on `zone`'s wall clock (the node's local zone, as the
/// original clients wrote them); `now` stands in for a finish time the worker did not give.
pub fn report(
    mut run: JobExecuteSnapshot,
    r: &RunResult,
    progress: &str,
    zone: &impl TimeZone,
    now: &NaiveDateTime,
) -> Result<JobExecuteSnapshot, Status> {
    let status = limits::result_status(r.status)?;
    let finished = local_time(zone, r.finished_at_ms).unwrap_or(*now);
    if let Some(started) = local_time(zone, r.started_at_ms) {
        run.start_time = crate::model::snapshot::format_time(&started);
    }
    let took = if r.started_at_ms > 0 && r.finished_at_ms >= r.started_at_ms {
        Duration::from_millis((r.finished_at_ms - r.started_at_ms) as u64)
    } else {
        Duration::ZERO
    };
    run.finish(status, r.result.clone(), &finished, took);
    let mut output = progress.to_string();
    if !r.output.is_empty() {
        output.clear();
        limits::append_tail(&mut output, &r.output);
    }
    run.output = output;
    Ok(run)
}

#[cfg(test)]
mod tests {
    use chrono::FixedOffset;

    use super::*;
    use crate::model::ExecuteStatus;

    fn result(started_at_ms: i64, finished_at_ms: i64) -> RunResult {
        RunResult {
            snapshot_id: "s".into(),
            status: 2,
            started_at_ms,
            finished_at_ms,
            ..RunResult::default()
        }
    }

    #[test]
    fn a_result_is_written_on_the_zones_wall_clock() {
        let east = FixedOffset::east_opt(8 * 3600).expect("+08:00");
        let run = report(
            JobExecuteSnapshot::default(),
            &result(1_700_000_000_000, 1_700_000_001_500),
            "",
            &east,
            &NaiveDateTime::default(),
        )
        .expect("a report");
        assert_eq!(run.status, ExecuteStatus::SUCCESS);
        assert_eq!(run.start_time, "2023-11-15 06:13:20");
        assert_eq!(run.finish_time, "2023-11-15 06:13:21");
        assert_eq!(run.duration_ms, Some(1_500));
    }

    /// Found while writing the `worker_messages` fuzz target: times at the ends of chrono's
    /// range panicked on a node whose zone is not UTC.
    #[test]
    fn times_past_the_calendar_do_not_panic() {
        let now = NaiveDateTime::default();
        let max = DateTime::<chrono::Utc>::MAX_UTC.timestamp_millis();
        let min = DateTime::<chrono::Utc>::MIN_UTC.timestamp_millis();
        for offset in [14 * 3600, -12 * 3600] {
            let zone = FixedOffset::east_opt(offset).expect("an offset");
            for (started, finished) in [(max, max), (min, min), (i64::MIN, i64::MAX)] {
                let run = report(
                    JobExecuteSnapshot::default(),
                    &result(started, finished),
                    "",
                    &zone,
                    &now,
                )
                .expect("a report");
                assert!(!run.finish_time.is_empty());
            }
        }
    }
}
