//! Retention: deleting old records in small batches.
//!
//! A retention pass may have millions of rows to delete. One big DELETE would hold locks (and
//! on SQLite, the single writer slot) for seconds, stalling the nodes materializing new runs.
//! So rows go [`BATCH`] at a time, each batch its own short transaction: first their ids are
//! selected through an index, then deleted by id (MySQL allows neither `LIMIT` in an `IN`
//! subquery nor selecting from the table being deleted from, so this works everywhere).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::Row;

use super::error::{HistoryError, Result};
use super::query::{bind_values, Value};
use super::History;

/// Rows deleted per statement.
const BATCH: usize = 1000;

impl History {
    /// Deletes records older than `max_age` (by finished, or created time) and, per job, all
    /// but the newest `max_per_job`. `None` keeps everything by that rule. Returns how many
    /// rows went.
    pub async fn prune(&self, max_age: Option<Duration>, max_per_job: Option<u64>) -> Result<u64> {
        let mut deleted = 0;
        if let Some(age) = max_age {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default();
            let cutoff = i64::try_from(now.saturating_sub(age).as_millis()).unwrap_or(i64::MAX);
            deleted += self
                .delete_batches("sort_ms < ?", &[Value::Int(cutoff)])
                .await?;
        }
        if let Some(keep) = max_per_job {
            let keep = i64::try_from(keep).unwrap_or(i64::MAX);
            let jobs = sqlx::query(self.dialect.sql(
                "SELECT job_id FROM job_execute_snapshot GROUP BY job_id HAVING COUNT(*) > ?",
            ))
            .bind(keep)
            .fetch_all(&self.pool)
            .await
            .map_err(HistoryError::db("finding jobs over their retention count"))?;
            for job in jobs {
                let job: String = job
                    .try_get("job_id")
                    .map_err(HistoryError::db("finding jobs over their retention count"))?;
                deleted += self.prune_job(&job, keep).await?;
            }
        }
        if deleted > 0 {
            tracing::info!(deleted, "history pruned");
            self.optimize().await?;
        }
        Ok(deleted)
    }

    /// Deletes all but the newest `keep` records of `job`.
    async fn prune_job(&self, job: &str, keep: i64) -> Result<u64> {
        // The newest row to delete; it and everything older in (sort_ms, id) order go.
        let first = sqlx::query(self.dialect.sql(
            "SELECT sort_ms, id FROM job_execute_snapshot WHERE job_id = ?
             ORDER BY sort_ms DESC, id DESC LIMIT 1 OFFSET ?",
        ))
        .bind(job.to_string())
        .bind(keep)
        .fetch_optional(&self.pool)
        .await
        .map_err(HistoryError::db("finding a job's retention boundary"))?;
        let Some(first) = first else {
            return Ok(0);
        };
        let (sort_ms, id): (i64, String) =
            (|| Ok((first.try_get("sort_ms")?, first.try_get("id")?)))()
                .map_err(HistoryError::db("finding a job's retention boundary"))?;
        self.delete_batches(
            "job_id = ? AND (sort_ms < ? OR (sort_ms = ? AND id <= ?))",
            &[
                Value::Text(job.to_string()),
                Value::Int(sort_ms),
                Value::Int(sort_ms),
                Value::Text(id),
            ],
        )
        .await
    }

    /// Deletes the rows matching `condition` (with `values` bound), [`BATCH`] at a time.
    async fn delete_batches(&self, condition: &str, values: &[Value]) -> Result<u64> {
        let select = format!("SELECT id FROM job_execute_snapshot WHERE {condition} LIMIT {BATCH}");
        let mut deleted = 0;
        loop {
            let ids = bind_values(sqlx::query(self.dialect.sql(&select)), values)
                .fetch_all(&self.pool)
                .await
                .map_err(HistoryError::db("selecting history records to prune"))?;
            if ids.is_empty() {
                return Ok(deleted);
            }
            let delete = format!(
                "DELETE FROM job_execute_snapshot WHERE id IN ({})",
                vec!["?"; ids.len()].join(", ")
            );
            let mut q = sqlx::query(self.dialect.sql(&delete));
            for row in &ids {
                let id: String = row
                    .try_get("id")
                    .map_err(HistoryError::db("selecting history records to prune"))?;
                q = q.bind(id);
            }
            deleted += q
                .execute(&self.pool)
                .await
                .map_err(HistoryError::db("pruning history records"))?
                .rows_affected();
            if ids.len() < BATCH {
                return Ok(deleted);
            }
        }
    }
}
