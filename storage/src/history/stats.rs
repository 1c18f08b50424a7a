//! Aggregates for the UI: per-job statistics and runs per minute for the dashboard.
//!
//! Success and failure are classified once, in [`super::status`]; cancelled and running runs
//! count as runs but as neither. Percentiles are nearest-rank over the finished runs that have
//! a duration, read with `ORDER BY … LIMIT 1 OFFSET k`, which every backend has (MySQL has no
//! percentile function), and which touches only the one job's rows through its index.

use sqlx::Row;

use super::error::{HistoryError, Result};
use super::status::{FAILURE_SQL, SUCCESS_SQL};
use super::History;

/// What one job's history adds up to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    pub runs: i64,
    pub successes: i64,
    pub failures: i64,
    /// Median duration of the runs that have one, in ms.
    pub p50_duration_ms: Option<i64>,
    pub p95_duration_ms: Option<i64>,
    /// When the last successful run finished, epoch ms.
    pub last_success_ms: Option<i64>,
    /// When the last failed run finished, epoch ms.
    pub last_failure_ms: Option<i64>,
}

/// Runs finished in one minute.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MinuteCount {
    /// The minute's start, epoch ms.
    pub minute_ms: i64,
    pub successes: i64,
    pub failures: i64,
}

impl History {
    /// The statistics of job `job_id`'s history.
    pub async fn stats(&self, job_id: &str) -> Result<Stats> {
        let sql = format!(
            "SELECT COUNT(*) AS runs,
                    COUNT(CASE WHEN {SUCCESS_SQL} THEN 1 END) AS successes,
                    COUNT(CASE WHEN {FAILURE_SQL} THEN 1 END) AS failures,
                    COUNT(CASE WHEN duration_ms IS NOT NULL THEN 1 END) AS timed,
                    MAX(CASE WHEN {SUCCESS_SQL} THEN sort_ms END) AS last_success,
                    MAX(CASE WHEN {FAILURE_SQL} THEN sort_ms END) AS last_failure
             FROM job_execute_snapshot WHERE job_id = ?"
        );
        let failed = HistoryError::db("computing job statistics");
        let row = sqlx::query(self.dialect.sql(&sql))
            .bind(job_id.to_string())
            .fetch_one(&self.pool)
            .await
            .map_err(HistoryError::db("computing job statistics"))?;
        let get = |c: &str| row.try_get::<Option<i64>, _>(c);
        let (runs, successes, failures, timed, last_success_ms, last_failure_ms) = (|| {
            Ok::<_, sqlx::Error>((
                get("runs")?.unwrap_or_default(),
                get("successes")?.unwrap_or_default(),
                get("failures")?.unwrap_or_default(),
                get("timed")?.unwrap_or_default(),
                get("last_success")?,
                get("last_failure")?,
            ))
        })()
        .map_err(failed)?;
        Ok(Stats {
            runs,
            successes,
            failures,
            p50_duration_ms: self.duration_rank(job_id, timed, 50).await?,
            p95_duration_ms: self.duration_rank(job_id, timed, 95).await?,
            last_success_ms,
            last_failure_ms,
        })
    }

    /// The nearest-rank `percent`th percentile of the `timed` durations of job `job_id`.
    async fn duration_rank(&self, job_id: &str, timed: i64, percent: i64) -> Result<Option<i64>> {
        if timed == 0 {
            return Ok(None);
        }
        // Nearest rank: the ceil(p/100 * n)th smallest, counted from 1.
        let rank = (percent * timed + 99) / 100;
        let row = sqlx::query(self.dialect.sql(
            "SELECT duration_ms FROM job_execute_snapshot WHERE job_id = ? AND duration_ms IS NOT NULL
             ORDER BY duration_ms LIMIT 1 OFFSET ?",
        ))
        .bind(job_id.to_string())
        .bind(rank.max(1) - 1)
        .fetch_optional(&self.pool)
        .await
        .map_err(HistoryError::db("computing a duration percentile"))?;
        row.map(|r| r.try_get::<i64, _>("duration_ms"))
            .transpose()
            .map_err(HistoryError::db("computing a duration percentile"))
    }

    /// Successes and failures per minute for runs finished in `[from_ms, to_ms)`, oldest
    /// first. Minutes without a finished run are left out.
    pub async fn runs_per_minute(&self, from_ms: i64, to_ms: i64) -> Result<Vec<MinuteCount>> {
        let minute = self.dialect.div("sort_ms", "60000");
        let sql = format!(
            "SELECT {minute} AS minute,
                    COUNT(CASE WHEN {SUCCESS_SQL} THEN 1 END) AS successes,
                    COUNT(CASE WHEN {FAILURE_SQL} THEN 1 END) AS failures
             FROM job_execute_snapshot
             WHERE sort_ms >= ? AND sort_ms < ? AND finished_at IS NOT NULL
             GROUP BY {minute} ORDER BY minute"
        );
        let rows = sqlx::query(self.dialect.sql(&sql))
            .bind(from_ms)
            .bind(to_ms)
            .fetch_all(&self.pool)
            .await
            .map_err(HistoryError::db("counting runs per minute"))?;
        rows.iter()
            .map(|r| {
                Ok(MinuteCount {
                    minute_ms: r.try_get::<i64, _>("minute")? * 60_000,
                    successes: r.try_get("successes")?,
                    failures: r.try_get("failures")?,
                })
            })
            .collect::<std::result::Result<_, sqlx::Error>>()
            .map_err(HistoryError::db("counting runs per minute"))
    }
}
