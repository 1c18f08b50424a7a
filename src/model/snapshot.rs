//! The work itself: a [`JobSnapshot`] is one run waiting for its worker at
//! `/forest/client/snapshot/<group>/<worker>/<id>`; a [`JobExecuteSnapshot`] is that run's
//! report at `/forest/client/execute/snapshot/<group>/<worker>/<id>`, and then its row in the
//! execution history (forest-compat §2.2, §2.3, §4.4-4.7).
//!
//! The original's fields keep their names, types and order and are always written; Forest's
//! are written only when set, so legacy clients (the Go `bus` and Java `cat` SDKs) read
//! Forest's snapshots and Forest reads their reports, fastjson's omitted nulls included.
//!
//! Times in the original's fields are the local wall clock as `yyyy-MM-dd HH:mm:ss`
//! ([`TIME_FORMAT`]): strings that sort as times (the history's `ORDER BY create_time` relies
//! on it) but carry no zone. The new `scheduledAt` and `deadline` are RFC 3339 with an offset,
//! like the original's plan times, so they are unambiguous.
//!
//! Execution status codes ([`ExecuteStatus`]) are the original's 1 running, 2 success,
//! 3 unknown target, -1 error, plus Forest's final codes -2 timeout, -3 lost, -4 missed,
//! -5 cancelled. New codes are negative like the original's error, so a tool that only knows
//! the original's codes can still tell success (2) from the rest; and they avoid 4, which the
//! original's DDL comment wrongly gave to "error" (§7.2 item 20), so a row written from that
//! comment does not pass for one of them.

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, FixedOffset, NaiveDateTime};
use serde::{Deserialize, Serialize};

use super::job::JobConf;
use super::json::{is_default, WireJson};

/// The original's time format (Go `2006-01-02 15:04:05`), in the local wall clock.
pub const TIME_FORMAT: &str = "%Y-%m-%d %H:%M:%S";

/// A time in the original's format.
pub fn format_time(t: &NaiveDateTime) -> String {
    t.format(TIME_FORMAT).to_string()
}

/// Reads a time in the original's format; `None` for anything else (including `""`, the
/// `finishTime` of a run still going).
pub fn parse_time(s: &str) -> Option<NaiveDateTime> {
    NaiveDateTime::parse_from_str(s, TIME_FORMAT).ok()
}

/// One run waiting for its worker: the job's fields copied at dispatch time.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct JobSnapshot {
    /// The snapshot id ([`SnapshotId`](super::SnapshotId)), also the last key segment.
    pub id: String,
    pub job_id: String,
    pub name: String,
    /// The name of the worker it is for (an IP for the original's clients).
    pub ip: String,
    pub group: String,
    pub cron: String,
    pub target: String,
    pub params: String,
    pub mobile: String,
    pub remark: String,
    /// When it was dispatched, [`TIME_FORMAT`].
    pub create_time: String,

    /// The tick it runs for (for a manual run, when it was asked for).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheduled_at: Option<DateTime<FixedOffset>>,
    /// 0 = the run itself, n = its n-th retry.
    #[serde(skip_serializing_if = "is_default")]
    pub attempt: u32,
    /// With `shardTotal`: which shard this is (0-based), or the worker's place in a broadcast.
    #[serde(skip_serializing_if = "is_default")]
    pub shard_index: u32,
    /// How many shards (or broadcast copies) the tick has; 0 = it is not split.
    #[serde(skip_serializing_if = "is_default")]
    pub shard_total: u32,
    /// The latest instant the run may start (its tick plus the starting deadline). After it
    /// the scheduler withdraws the snapshot and records the tick missed; a worker that gets
    /// it later should not run it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deadline: Option<DateTime<FixedOffset>>,
    /// Seconds the run may take before it is cancelled; 0 = no limit (the job's `timeout`).
    #[serde(skip_serializing_if = "is_default")]
    pub timeout: u64,
    /// A retry waits in its group's queue until this instant (its backoff).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_before: Option<DateTime<FixedOffset>>,
}

impl JobSnapshot {
    /// A snapshot of `conf` for the worker `ip`, dispatched at `create_time` (local). The new
    /// fields other than `timeout` are left for the caller to set.
    pub fn from_conf(conf: &JobConf, id: String, ip: String, create_time: &NaiveDateTime) -> Self {
        JobSnapshot {
            id,
            job_id: conf.id.clone(),
            name: conf.name.clone(),
            ip,
            group: conf.group.clone(),
            cron: conf.cron.clone(),
            target: conf.target.clone(),
            params: conf.params.clone(),
            mobile: conf.mobile.clone(),
            remark: conf.remark.clone(),
            create_time: format_time(create_time),
            timeout: conf.timeout,
            ..JobSnapshot::default()
        }
    }

    /// The snapshot a run's report was made from (all but its timeout, which reports do not
    /// carry).
    pub fn of_run(run: &JobExecuteSnapshot) -> Self {
        JobSnapshot {
            id: run.id.clone(),
            job_id: run.job_id.clone(),
            name: run.name.clone(),
            ip: run.ip.clone(),
            group: run.group.clone(),
            cron: run.cron.clone(),
            target: run.target.clone(),
            params: run.params.clone(),
            mobile: run.mobile.clone(),
            remark: run.remark.clone(),
            create_time: run.create_time.clone(),
            scheduled_at: run.scheduled_at,
            attempt: run.attempt,
            shard_index: run.shard_index,
            shard_total: run.shard_total,
            ..JobSnapshot::default()
        }
    }

    /// The run's timeout; `None` = no limit.
    pub fn run_timeout(&self) -> Option<Duration> {
        (self.timeout > 0).then(|| Duration::from_secs(self.timeout))
    }
}

impl WireJson for JobSnapshot {
    const FIELDS: &'static [&'static str] = &[
        "id",
        "jobId",
        "name",
        "ip",
        "group",
        "cron",
        "target",
        "params",
        "mobile",
        "remark",
        "createTime",
        "scheduledAt",
        "attempt",
        "shardIndex",
        "shardTotal",
        "deadline",
        "timeout",
        "notBefore",
    ];
}

/// An execution status code, written as the original's number.
///
/// Any number reads, so a report with a code this version does not know (0 when a client
/// left the field out, 4 from the original's DDL comment) is neither running nor final:
/// [`is_known`](Self::is_known) tells, and the collector decides.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(transparent)]
pub struct ExecuteStatus(i64);

impl ExecuteStatus {
    /// The run started and has not reported an end (the original's "执行中", duck "EXECUTING").
    pub const RUNNING: Self = Self(1);
    /// The target returned normally (original "执行成功", duck "COMPLETE").
    pub const SUCCESS: Self = Self(2);
    /// The worker has no such target (original "未知", duck "UNKNOW").
    pub const UNKNOWN_TARGET: Self = Self(3);
    /// The target failed (original "执行失败", duck "ERROR").
    pub const ERROR: Self = Self(-1);
    /// New: the run outlived the job's `timeout` and was cancelled.
    pub const TIMEOUT: Self = Self(-2);
    /// New: the run's worker went away (lease ended) before it reported an end.
    pub const LOST: Self = Self(-3);
    /// New: the tick never started: no worker took it within its starting deadline, the
    /// misfire policy dropped it, or concurrency `forbid` skipped it.
    pub const MISSED: Self = Self(-4);
    /// New: the run was stopped on purpose (concurrency `replace` started a newer run, or an
    /// operator cancelled it).
    pub const CANCELLED: Self = Self(-5);

    const FINAL: [Self; 7] = [
        Self::SUCCESS,
        Self::UNKNOWN_TARGET,
        Self::ERROR,
        Self::TIMEOUT,
        Self::LOST,
        Self::MISSED,
        Self::CANCELLED,
    ];

    pub const fn from_code(code: i64) -> Self {
        Self(code)
    }

    pub const fn code(self) -> i64 {
        self.0
    }

    /// Whether the run is over: every known code but [`RUNNING`](Self::RUNNING). The
    /// original's collector moved 2, 3 and -1 into the history and deleted their keys.
    pub fn is_final(self) -> bool {
        Self::FINAL.contains(&self)
    }

    /// Whether the run is over without success (what retries and alerts react to).
    pub fn is_failure(self) -> bool {
        self.is_final() && self != Self::SUCCESS
    }

    pub fn is_known(self) -> bool {
        self == Self::RUNNING || self.is_final()
    }

    /// A short English name for logs, metrics and the API; `None` for unknown codes.
    pub fn name(self) -> Option<&'static str> {
        Some(match self {
            Self::RUNNING => "running",
            Self::SUCCESS => "success",
            Self::UNKNOWN_TARGET => "unknown_target",
            Self::ERROR => "error",
            Self::TIMEOUT => "timeout",
            Self::LOST => "lost",
            Self::MISSED => "missed",
            Self::CANCELLED => "cancelled",
            _ => return None,
        })
    }
}

/// The [`name`](ExecuteStatus::name), or `code <n>` for an unknown code.
impl fmt::Display for ExecuteStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "code {}", self.0),
        }
    }
}

/// A run's report, written by its worker (running, then final), and its history row.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct JobExecuteSnapshot {
    /// The snapshot's id; the history's primary key.
    pub id: String,
    pub job_id: String,
    pub name: String,
    pub ip: String,
    pub group: String,
    pub cron: String,
    pub target: String,
    pub params: String,
    pub mobile: String,
    pub remark: String,
    /// The snapshot's `createTime`.
    pub create_time: String,
    /// When the worker started it, [`TIME_FORMAT`].
    pub start_time: String,
    /// When it ended, [`TIME_FORMAT`]; `""` while running.
    pub finish_time: String,
    /// Whole seconds it took (truncated, as the Go SDK).
    pub times: i64,
    pub status: ExecuteStatus,
    /// What the target returned (or the error text).
    pub result: String,

    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheduled_at: Option<DateTime<FixedOffset>>,
    #[serde(skip_serializing_if = "is_default")]
    pub attempt: u32,
    #[serde(skip_serializing_if = "is_default")]
    pub shard_index: u32,
    #[serde(skip_serializing_if = "is_default")]
    pub shard_total: u32,
    /// Milliseconds it took, once it ended.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    /// Captured output (the built-in worker's stdout and stderr), possibly truncated.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub output: String,
    /// The node whose worker stream carried the run (empty for legacy clients).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub node: String,
}

impl JobExecuteSnapshot {
    /// The first report of a run: the snapshot's fields, status running, started at
    /// `start_time` (local).
    pub fn started(snapshot: &JobSnapshot, start_time: &NaiveDateTime) -> Self {
        JobExecuteSnapshot {
            id: snapshot.id.clone(),
            job_id: snapshot.job_id.clone(),
            name: snapshot.name.clone(),
            ip: snapshot.ip.clone(),
            group: snapshot.group.clone(),
            cron: snapshot.cron.clone(),
            target: snapshot.target.clone(),
            params: snapshot.params.clone(),
            mobile: snapshot.mobile.clone(),
            remark: snapshot.remark.clone(),
            create_time: snapshot.create_time.clone(),
            start_time: format_time(start_time),
            status: ExecuteStatus::RUNNING,
            scheduled_at: snapshot.scheduled_at,
            attempt: snapshot.attempt,
            shard_index: snapshot.shard_index,
            shard_total: snapshot.shard_total,
            ..JobExecuteSnapshot::default()
        }
    }

    /// Turns the report into its final one: `status`, `result`, the finish time (local) and
    /// how long it took.
    pub fn finish(
        &mut self,
        status: ExecuteStatus,
        result: String,
        finish_time: &NaiveDateTime,
        took: Duration,
    ) {
        self.status = status;
        self.result = result;
        self.finish_time = format_time(finish_time);
        self.times = i64::try_from(took.as_secs()).unwrap_or(i64::MAX);
        self.duration_ms = Some(u64::try_from(took.as_millis()).unwrap_or(u64::MAX));
    }
}

impl WireJson for JobExecuteSnapshot {
    const FIELDS: &'static [&'static str] = &[
        "id",
        "jobId",
        "name",
        "ip",
        "group",
        "cron",
        "target",
        "params",
        "mobile",
        "remark",
        "createTime",
        "startTime",
        "finishTime",
        "times",
        "status",
        "result",
        "scheduledAt",
        "attempt",
        "shardIndex",
        "shardTotal",
        "durationMs",
        "output",
        "node",
    ];
}

#[cfg(test)]
mod tests {
    use chrono::{NaiveDate, TimeZone};
    use serde_json::Value;

    use super::*;

    /// The example from the bus SDK's test file (forest-compat §2.2), with an id filled in;
    /// fastjson wrote its members in alphabetical order.
    const BUS: &str = r#"{"createTime":"2019-12-24 17:43:04","cron":"0 0 * * * ?","group":"trade","id":"2019122417430400000020190707191011593096","ip":"127.0.0.1","jobId":"110","mobile":"13800000000","name":"第一个任务","params":"我是参数","remark":"备注","target":"com.busgo.cat.job.EchoJob"}"#;
    /// The same snapshot as Go writes it: struct order.
    const GO: &str = r#"{"id":"2019122417430400000020190707191011593096","jobId":"110","name":"第一个任务","ip":"127.0.0.1","group":"trade","cron":"0 0 * * * ?","target":"com.busgo.cat.job.EchoJob","params":"我是参数","mobile":"13800000000","remark":"备注","createTime":"2019-12-24 17:43:04"}"#;

    fn local(h: u32, m: u32, s: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2019, 12, 24)
            .and_then(|d| d.and_hms_opt(h, m, s))
            .expect("a valid time")
    }

    fn bus_snapshot() -> JobSnapshot {
        JobSnapshot {
            id: "2019122417430400000020190707191011593096".into(),
            job_id: "110".into(),
            name: "第一个任务".into(),
            ip: "127.0.0.1".into(),
            group: "trade".into(),
            cron: "0 0 * * * ?".into(),
            target: "com.busgo.cat.job.EchoJob".into(),
            params: "我是参数".into(),
            mobile: "13800000000".into(),
            remark: "备注".into(),
            create_time: "2019-12-24 17:43:04".into(),
            ..JobSnapshot::default()
        }
    }

    #[test]
    fn snapshot_reads_the_sdk_example_and_writes_go_order() {
        assert_eq!(
            JobSnapshot::from_json(BUS.as_bytes()).ok(),
            Some(bus_snapshot())
        );
        assert_eq!(bus_snapshot().to_json(), GO);
        assert_eq!(
            JobSnapshot::from_json(GO.as_bytes()).ok(),
            Some(bus_snapshot())
        );
    }

    #[test]
    fn snapshot_new_fields() {
        let at = FixedOffset::east_opt(8 * 3600)
            .and_then(|zone| zone.with_ymd_and_hms(2019, 12, 24, 17, 43, 0).single())
            .expect("a valid time");
        let snapshot = JobSnapshot {
            scheduled_at: Some(at),
            attempt: 2,
            shard_index: 1,
            shard_total: 4,
            deadline: Some(at + chrono::Duration::seconds(60)),
            timeout: 30,
            ..bus_snapshot()
        };
        let text = snapshot.to_json();
        let tail = r#","scheduledAt":"2019-12-24T17:43:00+08:00","attempt":2,"shardIndex":1,"shardTotal":4,"deadline":"2019-12-24T17:44:00+08:00","timeout":30}"#;
        assert_eq!(text, format!("{}{tail}", &GO[..GO.len() - 1]));
        assert_eq!(JobSnapshot::from_json(text.as_bytes()).ok(), Some(snapshot));
        assert!(JobSnapshot::from_json(br#"{"scheduledAt":"yesterday"}"#).is_err());
    }

    #[test]
    fn snapshot_from_conf() {
        let conf = JobConf {
            id: "110".into(),
            name: "第一个任务".into(),
            group: "trade".into(),
            cron: "0 0 * * * ?".into(),
            status: 1,
            target: "com.busgo.cat.job.EchoJob".into(),
            params: "我是参数".into(),
            mobile: "13800000000".into(),
            remark: "备注".into(),
            version: 3,
            ..JobConf::default()
        };
        let snapshot = JobSnapshot::from_conf(
            &conf,
            "2019122417430400000020190707191011593096".into(),
            "127.0.0.1".into(),
            &local(17, 43, 4),
        );
        assert_eq!(snapshot, bus_snapshot());
        assert_eq!(snapshot.run_timeout(), None);
        let timed = JobSnapshot::from_conf(
            &JobConf { timeout: 5, ..conf },
            String::new(),
            String::new(),
            &local(0, 0, 0),
        );
        assert_eq!(timed.run_timeout(), Some(Duration::from_secs(5)));
    }

    #[test]
    fn report_life_and_exact_go_bytes() {
        let mut report = JobExecuteSnapshot::started(&bus_snapshot(), &local(17, 43, 5));
        let running = r#"{"id":"2019122417430400000020190707191011593096","jobId":"110","name":"第一个任务","ip":"127.0.0.1","group":"trade","cron":"0 0 * * * ?","target":"com.busgo.cat.job.EchoJob","params":"我是参数","mobile":"13800000000","remark":"备注","createTime":"2019-12-24 17:43:04","startTime":"2019-12-24 17:43:05","finishTime":"","times":0,"status":1,"result":""}"#;
        assert_eq!(report.to_json(), running);
        assert_eq!(
            JobExecuteSnapshot::from_json(running.as_bytes())
                .ok()
                .as_ref(),
            Some(&report)
        );
        report.finish(
            ExecuteStatus::SUCCESS,
            "<ok> & done".into(),
            &local(17, 43, 7),
            Duration::from_millis(2_750),
        );
        let done = report.to_json();
        assert!(done.contains(r#""finishTime":"2019-12-24 17:43:07","times":2,"status":2,"result":"\u003cok\u003e \u0026 done","durationMs":2750}"#), "{done}");
        assert_eq!(
            JobExecuteSnapshot::from_json(done.as_bytes()).ok(),
            Some(report)
        );
    }

    #[test]
    fn java_reports_without_nulls_read() {
        // cat's running report: fastjson omits null members (no finishTime, no result).
        let java = r#"{"createTime":"2019-12-24 17:43:04","cron":"0 0 * * * ?","group":"trade","id":"X","ip":"127.0.0.1","jobId":"110","name":"n","params":"","startTime":"2019-12-24 17:43:05","status":1,"target":"t","times":0}"#;
        let report = JobExecuteSnapshot::from_json(java.as_bytes());
        let Ok(report) = report else {
            panic!("{report:?}");
        };
        assert_eq!(report.status, ExecuteStatus::RUNNING);
        assert_eq!(report.finish_time, "");
        assert_eq!(report.result, "");
        assert_eq!(parse_time(&report.start_time), Some(local(17, 43, 5)));
        assert_eq!(parse_time(&report.finish_time), None);
        // Long times, status as an unknown code, explicit nulls.
        let odd =
            r#"{"id":"X","times":12345678901,"status":4,"finishTime":null,"durationMs":null}"#;
        let report = JobExecuteSnapshot::from_json(odd.as_bytes()).ok();
        assert_eq!(report.as_ref().map(|r| r.times), Some(12_345_678_901));
        assert_eq!(report.as_ref().map(|r| r.status.is_known()), Some(false));
        assert!(JobExecuteSnapshot::from_json(br#"{"status":"2"}"#).is_err());
    }

    #[test]
    fn new_report_fields_are_camel_case() {
        let report = JobExecuteSnapshot {
            status: ExecuteStatus::TIMEOUT,
            attempt: 1,
            shard_index: 2,
            shard_total: 3,
            duration_ms: Some(0),
            output: "line\n".into(),
            node: "node-1".into(),
            ..JobExecuteSnapshot::default()
        };
        let value: Value = serde_json::from_str(&report.to_json()).unwrap_or_default();
        for (name, want) in [
            ("status", Value::from(-2)),
            ("attempt", Value::from(1)),
            ("shardIndex", Value::from(2)),
            ("shardTotal", Value::from(3)),
            ("durationMs", Value::from(0)),
            ("output", Value::from("line\n")),
            ("node", Value::from("node-1")),
        ] {
            assert_eq!(value.get(name), Some(&want), "{name}");
        }
        let mut names: Vec<&str> = value
            .as_object()
            .map(|members| members.keys().map(String::as_str).collect())
            .unwrap_or_default();
        names.sort_unstable();
        let mut want: Vec<&str> = JobExecuteSnapshot::FIELDS
            .iter()
            .copied()
            .filter(|name| *name != "scheduledAt")
            .collect();
        want.sort_unstable();
        assert_eq!(names, want);
    }

    #[test]
    fn a_report_gives_back_its_snapshot() {
        let at = FixedOffset::east_opt(0)
            .and_then(|zone| zone.with_ymd_and_hms(2020, 1, 1, 0, 0, 0).single());
        let snapshot = JobSnapshot {
            id: "2020010100000000010020261124000000000001".into(),
            job_id: "20261124000000000001".into(),
            name: "nightly".into(),
            ip: "w1".into(),
            group: "g".into(),
            target: "shell".into(),
            params: "true".into(),
            create_time: "2020-01-01 00:00:00".into(),
            scheduled_at: at,
            attempt: 1,
            shard_index: 2,
            shard_total: 3,
            ..JobSnapshot::default()
        };
        let start = NaiveDateTime::parse_from_str("2020-01-01 00:00:01", TIME_FORMAT).unwrap();
        let run = JobExecuteSnapshot::started(&snapshot, &start);
        assert_eq!(JobSnapshot::of_run(&run), snapshot);
    }

    #[test]
    fn snapshot_fields_list_matches_the_struct() {
        let at = FixedOffset::east_opt(0)
            .and_then(|zone| zone.with_ymd_and_hms(2020, 1, 1, 0, 0, 0).single());
        let snapshot = JobSnapshot {
            scheduled_at: at,
            attempt: 1,
            shard_index: 1,
            shard_total: 1,
            deadline: at,
            timeout: 1,
            not_before: at,
            ..JobSnapshot::default()
        };
        let value: Value = serde_json::to_value(&snapshot).unwrap_or_default();
        let mut names: Vec<&str> = value
            .as_object()
            .map(|members| members.keys().map(String::as_str).collect())
            .unwrap_or_default();
        names.sort_unstable();
        let mut want = JobSnapshot::FIELDS.to_vec();
        want.sort_unstable();
        assert_eq!(names, want);
    }

    #[test]
    fn status_codes() {
        let codes = [
            (ExecuteStatus::RUNNING, 1, false, "running"),
            (ExecuteStatus::SUCCESS, 2, true, "success"),
            (ExecuteStatus::UNKNOWN_TARGET, 3, true, "unknown_target"),
            (ExecuteStatus::ERROR, -1, true, "error"),
            (ExecuteStatus::TIMEOUT, -2, true, "timeout"),
            (ExecuteStatus::LOST, -3, true, "lost"),
            (ExecuteStatus::MISSED, -4, true, "missed"),
            (ExecuteStatus::CANCELLED, -5, true, "cancelled"),
        ];
        for (status, code, is_final, label) in codes {
            assert_eq!(status.code(), code);
            assert_eq!(ExecuteStatus::from_code(code), status);
            assert_eq!(status.is_final(), is_final, "{label}");
            assert!(status.is_known());
            assert_eq!(status.name(), Some(label));
            assert_eq!(status.to_string(), label);
            assert_eq!(serde_json::to_string(&status).ok(), Some(code.to_string()));
            assert_eq!(
                serde_json::from_str::<ExecuteStatus>(&code.to_string()).ok(),
                Some(status)
            );
            assert_eq!(
                status.is_failure(),
                is_final && status != ExecuteStatus::SUCCESS
            );
        }
        for unknown in [0, 4, -6, i64::MAX] {
            let status = ExecuteStatus::from_code(unknown);
            assert!(!status.is_known() && !status.is_final() && !status.is_failure());
            assert_eq!(status.name(), None);
            assert_eq!(status.to_string(), format!("code {unknown}"));
        }
        assert_eq!(ExecuteStatus::default().code(), 0);
    }

    #[test]
    fn time_format() {
        assert_eq!(format_time(&local(17, 43, 4)), "2019-12-24 17:43:04");
        assert_eq!(parse_time("2019-12-24 17:43:04"), Some(local(17, 43, 4)));
        for junk in [
            "",
            "2019-12-24T17:43:04",
            "2019-12-24 17:43",
            "2019-13-24 17:43:04",
        ] {
            assert_eq!(parse_time(junk), None, "{junk:?}");
        }
    }
}
