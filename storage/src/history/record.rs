//! One run's row: the original `job_execute_snapshot` columns plus Forest's own.
//!
//! The original columns keep their names, types and string formats (`yyyy-MM-dd HH:mm:ss`
//! times, `times` in whole seconds), because old users read the table with their own SQL.
//! Everything Forest adds is a new column appended after them. Times Forest itself sorts and
//! filters by are epoch milliseconds (`i64`), the one time type sqlx's `Any` driver carries on
//! every backend; the original string times are written for old readers, never read back by
//! Forest's queries.
//!
//! The column list, the binding order and the decoding live together here so they cannot drift.

use sqlx::any::{AnyArguments, AnyRow};
use sqlx::query::Query;
use sqlx::{Any, Row};

use super::dialect::Dialect;

/// One run of a job, as stored in the history.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Record {
    /// The run id (the snapshot id: 40 characters, unique per scheduled tick and attempt).
    pub id: String,
    pub job_id: String,
    pub name: String,
    pub group: String,
    pub cron: String,
    pub target: String,
    pub params: String,
    /// The worker's address as the original reported it.
    pub ip: String,
    /// See [`super::status`].
    pub status: i32,
    pub mobile: String,
    pub remark: String,
    /// `yyyy-MM-dd HH:mm:ss`, the original's text times.
    pub create_time: String,
    pub start_time: String,
    /// Empty while running.
    pub finish_time: String,
    /// Run time in whole seconds (the original's unit).
    pub times: i64,
    /// The job's short result. Full length here; the original `result` column gets at most
    /// 255 characters (see [`super::fit`]).
    pub result: String,
    /// When the run record was created (dispatched), epoch ms.
    pub created_at: i64,
    /// The cron tick this run belongs to, epoch ms; `None` for manual runs.
    pub scheduled_at: Option<i64>,
    /// When it finished, epoch ms; `None` while running.
    pub finished_at: Option<i64>,
    /// 0 for the first try, then 1, 2… for retries.
    pub attempt: i32,
    /// The worker's name.
    pub worker: String,
    /// The node that dispatched it.
    pub node: String,
    pub duration_ms: Option<i64>,
    /// For sharded jobs, which shard this run is.
    pub shard_index: Option<i32>,
    /// What the job printed: the last [`super::fit::MAX_TEXT_BYTES`] bytes at most. Empty in
    /// [`super::Page`] listings; filled by [`super::History::get`].
    pub output: String,
}

impl Record {
    /// Where the run sits in time for sorting and time filters: when it finished, or while it
    /// is still running, when it was created.
    pub fn sort_ms(&self) -> i64 {
        self.finished_at.unwrap_or(self.created_at)
    }
}

/// Every column written, in binding order: the original sixteen, then Forest's.
pub(crate) const COLUMNS: [&str; 27] = [
    "id",
    "job_id",
    "name",
    "group",
    "cron",
    "target",
    "params",
    "ip",
    "status",
    "mobile",
    "remark",
    "create_time",
    "start_time",
    "finish_time",
    "times",
    "result",
    "result_full",
    "created_at",
    "sort_ms",
    "scheduled_at",
    "finished_at",
    "attempt",
    "worker",
    "node",
    "duration_ms",
    "shard_index",
    "output",
];

/// Binds `r` (already fitted to the columns) in [`COLUMNS`] order. `result` is the full text;
/// `short_result` what fits the original column.
pub(crate) fn bind<'q>(
    q: Query<'q, Any, AnyArguments>,
    r: &Record,
    short_result: String,
) -> Query<'q, Any, AnyArguments> {
    q.bind(r.id.clone())
        .bind(r.job_id.clone())
        .bind(r.name.clone())
        .bind(r.group.clone())
        .bind(r.cron.clone())
        .bind(r.target.clone())
        .bind(r.params.clone())
        .bind(r.ip.clone())
        .bind(r.status)
        .bind(r.mobile.clone())
        .bind(r.remark.clone())
        .bind(r.create_time.clone())
        .bind(r.start_time.clone())
        .bind(r.finish_time.clone())
        .bind(r.times)
        .bind(short_result)
        .bind(r.result.clone())
        .bind(r.created_at)
        .bind(r.sort_ms())
        .bind(r.scheduled_at)
        .bind(r.finished_at)
        .bind(r.attempt)
        .bind(r.worker.clone())
        .bind(r.node.clone())
        .bind(r.duration_ms)
        .bind(r.shard_index)
        .bind(r.output.clone())
}

/// The SELECT list that [`from_row`] reads; `output` only when asked, as it can be large.
pub(crate) fn select_list(dialect: Dialect, with_output: bool) -> String {
    let mut cols: Vec<String> = COLUMNS
        .iter()
        .filter(|c| !matches!(**c, "sort_ms" | "output" | "status"))
        .map(|c| format!("\"{c}\""))
        .collect();
    cols.push(dialect.status_column().to_string());
    if with_output {
        cols.push("output".to_string());
    }
    cols.join(", ")
}

/// A [`Record`] from a row selected with [`select_list`]. Rows written by the original forest
/// have NULL in its nullable columns and in all of Forest's: they read as empty or `None`.
pub(crate) fn from_row(row: &AnyRow, with_output: bool) -> Result<Record, sqlx::Error> {
    let text = |c: &str| -> Result<String, sqlx::Error> {
        Ok(row.try_get::<Option<String>, _>(c)?.unwrap_or_default())
    };
    let full_result: Option<String> = row.try_get("result_full")?;
    Ok(Record {
        id: text("id")?,
        job_id: text("job_id")?,
        name: text("name")?,
        group: text("group")?,
        cron: text("cron")?,
        target: text("target")?,
        params: text("params")?,
        ip: text("ip")?,
        status: row.try_get("status")?,
        mobile: text("mobile")?,
        remark: text("remark")?,
        create_time: text("create_time")?,
        start_time: text("start_time")?,
        finish_time: text("finish_time")?,
        times: row.try_get::<Option<i64>, _>("times")?.unwrap_or_default(),
        result: match full_result {
            Some(full) => full,
            None => text("result")?,
        },
        created_at: row
            .try_get::<Option<i64>, _>("created_at")?
            .unwrap_or_default(),
        scheduled_at: row.try_get("scheduled_at")?,
        finished_at: row.try_get("finished_at")?,
        attempt: row
            .try_get::<Option<i32>, _>("attempt")?
            .unwrap_or_default(),
        worker: text("worker")?,
        node: text("node")?,
        duration_ms: row.try_get("duration_ms")?,
        shard_index: row.try_get("shard_index")?,
        output: if with_output {
            text("output")?
        } else {
            String::new()
        },
    })
}
