//! Writing records: batched upserts, atomic with the materialized KV revision.
//!
//! Every node turns the finished runs it applies from the replicated log into history rows.
//! [`History::record`] writes a batch and the revision it reached in one transaction, and the
//! node resumes after a crash from [`History::applied`]: rows and revision agree, so nothing is
//! lost or written twice. A run id written again (a retry of the same batch, a running row
//! later finished) replaces its row: the later write wins.

use super::error::{HistoryError, Result};
use super::fit::fit;
use super::record::{bind, COLUMNS};
use super::schema::{read_meta, APPLIED_KEY};
use super::{History, Record};

/// Rows per INSERT statement: 27 placeholders each stays well under every backend's limit
/// (SQLite 32766, MySQL and PostgreSQL 65535).
const ROWS_PER_STATEMENT: usize = 500;

impl History {
    /// Upserts `records` and stores `applied` (the KV revision up to which this database now
    /// holds every record) in one transaction. `applied` never moves backwards.
    pub async fn record(&self, records: &[Record], applied: i64) -> Result<()> {
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(HistoryError::db("starting a history write"))?;
        // One statement may not touch a row twice (PostgreSQL refuses): keep each id's last
        // write, as the later write wins anyway.
        let mut last = std::collections::HashMap::with_capacity(records.len());
        for (i, r) in records.iter().enumerate() {
            last.insert(r.id.as_str(), i);
        }
        let unique: Vec<&Record> = records
            .iter()
            .enumerate()
            .filter(|(i, r)| last.get(r.id.as_str()) == Some(i))
            .map(|(_, r)| r)
            .collect();
        for chunk in unique.chunks(ROWS_PER_STATEMENT) {
            let columns: Vec<String> = COLUMNS.iter().map(|c| format!("\"{c}\"")).collect();
            let row = format!("({})", vec!["?"; COLUMNS.len()].join(", "));
            let sql = format!(
                "INSERT INTO job_execute_snapshot ({}) VALUES {}{}",
                columns.join(", "),
                vec![row; chunk.len()].join(", "),
                self.dialect.upsert_tail(&COLUMNS),
            );
            let mut q = sqlx::query(self.dialect.sql(&sql));
            for r in chunk {
                let (fitted, short) = fit(r, self.dialect);
                q = bind(q, &fitted, short);
            }
            q.execute(&mut *tx)
                .await
                .map_err(HistoryError::db("writing history records"))?;
        }
        sqlx::query(
            self.dialect
                .sql("UPDATE forest_meta SET value = ? WHERE name = ? AND value < ?"),
        )
        .bind(applied)
        .bind(APPLIED_KEY)
        .bind(applied)
        .execute(&mut *tx)
        .await
        .map_err(HistoryError::db("storing the applied revision"))?;
        tx.commit()
            .await
            .map_err(HistoryError::db("committing history records"))
    }

    /// The KV revision up to which this database holds every record (0 when new).
    pub async fn applied(&self) -> Result<i64> {
        Ok(read_meta(&self.pool, self.dialect, APPLIED_KEY)
            .await?
            .unwrap_or_default())
    }
}
