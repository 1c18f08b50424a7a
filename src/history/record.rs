//! A finished run as the history store keeps it ([`Record`]), made from the report the
//! scheduler collected, and as the API shows it: JSON with the original JobExecuteSnapshot's
//! names, so a client that reads reports reads history rows too.

use chrono::{Local, NaiveDateTime, TimeZone};
use forest_storage::history::{Record, Stats};
use serde_json::{json, Value};

use crate::model::snapshot::parse_time;
use crate::model::JobExecuteSnapshot;

fn local_ms(t: &NaiveDateTime) -> Option<i64> {
    Local
        .from_local_datetime(t)
        .earliest()
        .map(|t| t.timestamp_millis())
}

fn ms_of(text: &str) -> Option<i64> {
    parse_time(text).as_ref().and_then(local_ms)
}

pub fn from_run(run: &JobExecuteSnapshot) -> Record {
    let finished_at = ms_of(&run.finish_time);
    Record {
        id: run.id.clone(),
        job_id: run.job_id.clone(),
        name: run.name.clone(),
        group: run.group.clone(),
        cron: run.cron.clone(),
        target: run.target.clone(),
        params: run.params.clone(),
        ip: run.ip.clone(),
        status: i32::try_from(run.status.code()).unwrap_or(i32::MIN),
        mobile: run.mobile.clone(),
        remark: run.remark.clone(),
        create_time: run.create_time.clone(),
        start_time: run.start_time.clone(),
        finish_time: run.finish_time.clone(),
        times: run.times,
        result: run.result.clone(),
        created_at: ms_of(&run.create_time)
            .or(finished_at)
            .unwrap_or_else(|| chrono::Utc::now().timestamp_millis()),
        scheduled_at: run.scheduled_at.map(|t| t.timestamp_millis()),
        finished_at,
        attempt: i32::try_from(run.attempt).unwrap_or(i32::MAX),
        worker: run.ip.clone(),
        node: run.node.clone(),
        duration_ms: run.duration_ms.and_then(|d| i64::try_from(d).ok()),
        shard_index: (run.shard_total > 0).then(|| i32::try_from(run.shard_index).unwrap_or(0)),
        output: run.output.clone(),
    }
}

fn rfc3339(ms: Option<i64>) -> Value {
    ms.and_then(chrono::DateTime::from_timestamp_millis)
        .map_or(Value::Null, |t| Value::String(t.to_rfc3339()))
}

pub fn to_json(r: &Record) -> String {
    let mut v = json!({
        "id": r.id,
        "jobId": r.job_id,
        "name": r.name,
        "ip": r.ip,
        "group": r.group,
        "cron": r.cron,
        "target": r.target,
        "params": r.params,
        "mobile": r.mobile,
        "remark": r.remark,
        "createTime": r.create_time,
        "startTime": r.start_time,
        "finishTime": r.finish_time,
        "times": r.times,
        "status": r.status,
        "result": r.result,
        "scheduledAt": rfc3339(r.scheduled_at),
        "attempt": r.attempt,
        "worker": r.worker,
        "node": r.node,
        "durationMs": r.duration_ms,
        "shardIndex": r.shard_index,
        "output": r.output,
    });
    if let Value::Object(m) = &mut v {
        m.retain(|_, v| !v.is_null());
    }
    v.to_string()
}

pub fn stats_json(s: &Stats) -> String {
    json!({
        "runs": s.runs,
        "successes": s.successes,
        "failures": s.failures,
        "p50DurationMs": s.p50_duration_ms,
        "p95DurationMs": s.p95_duration_ms,
        "lastSuccessMs": s.last_success_ms,
        "lastFailureMs": s.last_failure_ms,
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ExecuteStatus, WireJson};

    #[test]
    fn a_record_reads_back_as_the_report_it_came_from() {
        let mut run = JobExecuteSnapshot {
            id: "2026112400000000000020261124000000000001".into(),
            job_id: "20261124000000000001".into(),
            name: "nightly".into(),
            ip: "w1".into(),
            group: "g".into(),
            create_time: "2026-11-24 00:00:00".into(),
            start_time: "2026-11-24 00:00:01".into(),
            attempt: 2,
            output: "out".into(),
            scheduled_at: chrono::DateTime::parse_from_rfc3339("2026-11-24T00:00:00Z").ok(),
            ..Default::default()
        };
        run.finish(
            ExecuteStatus::SUCCESS,
            "ok".into(),
            &parse_time("2026-11-24 00:00:03").unwrap(),
            std::time::Duration::from_millis(2500),
        );
        let r = from_run(&run);
        assert_eq!(r.status, 2);
        assert_eq!(r.duration_ms, Some(2500));
        assert!(r.finished_at.unwrap() > r.created_at);
        let back = JobExecuteSnapshot::from_json(to_json(&r).as_bytes()).unwrap();
        assert_eq!(back, run);
    }
}
