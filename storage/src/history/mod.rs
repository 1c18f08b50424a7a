//! The execution history: every run's record, queryable from any node (DESIGN §6).
//!
//! Records come from the replicated log: each node materializes the finished runs it applies
//! into its own history database with [`History::record`], which stores the batch and the KV
//! revision it reached in one transaction, so a crash never loses or doubles a record
//! ([`History::applied`] says where to resume). Writing a run id again replaces its row.
//!
//! The database is chosen by URL (`--history-url`): `sqlite://PATH` (the default, a file in the
//! data directory, created if missing, in WAL mode), `mysql://…` or `postgres://…`. On every
//! backend the table is the original forest's `job_execute_snapshot`, with its columns, types
//! and status codes unchanged, so an existing MySQL user's table is adopted and their own
//! queries and reports keep working; Forest's extra columns are appended ([`schema`]).
//!
//! Files: [`dialect`] (the SQL differences), [`record`] and [`fit`] (the row and making it fit),
//! [`status`] (codes), [`schema`] (migrations), `write`, [`query`], [`stats`], `prune`,
//! [`bench`].

pub mod bench;
mod dialect;
mod error;
pub mod fit;
mod prune;
pub mod query;
mod record;
mod schema;
pub mod stats;
pub mod status;
mod write;

use std::str::FromStr;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor};

pub use dialect::Dialect;
pub use error::{HistoryError, Result};
pub use query::{Page, Query};
pub use record::Record;
pub use schema::LATEST as SCHEMA_VERSION;
pub use stats::{MinuteCount, Stats};

/// An open history database, migrated to [`SCHEMA_VERSION`]. Cheap to clone (a pool).
#[derive(Debug, Clone)]
pub struct History {
    pool: AnyPool,
    dialect: Dialect,
}

impl History {
    /// Opens (creating a SQLite file if missing) and migrates the history database at `url`.
    pub async fn open(url: &str) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let dialect = Dialect::of_url(url)?;
        let connect_error = |source| HistoryError::Connect {
            url: redact(url),
            source,
        };
        let url = match dialect {
            Dialect::Sqlite if !url.contains("mode=") => {
                let sep = if url.contains('?') { '&' } else { '?' };
                format!("{url}{sep}mode=rwc")
            }
            _ => url.to_string(),
        };
        let options = AnyConnectOptions::from_str(&url).map_err(connect_error)?;
        let pool = AnyPoolOptions::new()
            .max_connections(8)
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if dialect == Dialect::Sqlite {
                        // WAL lets readers (the API) run while a node writes; NORMAL is
                        // durable across process crashes, which is what the applied revision
                        // needs (a lost OS tail is re-materialized from the KV log).
                        conn.execute("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;")
                            .await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .map_err(connect_error)?;
        schema::migrate(&pool, dialect).await?;
        let history = Self { pool, dialect };
        history.optimize().await?;
        Ok(history)
    }

    /// Refreshes the query planner's statistics, for the queries that leave the choice of
    /// index to it (statistics, retention); listings name theirs on SQLite, whose sampled
    /// statistics once sent a job+status listing down the status index for seconds (see
    /// [`query`]). PostgreSQL and MySQL keep their statistics up to date themselves; SQLite
    /// samples a bounded number of rows per index (`analysis_limit`), so this stays in
    /// milliseconds at any size. Done at open and after pruning; call it after bulk loads.
    pub async fn optimize(&self) -> Result<()> {
        if self.dialect == Dialect::Sqlite {
            for statement in ["PRAGMA analysis_limit = 1000", "ANALYZE"] {
                sqlx::query(statement)
                    .execute(&self.pool)
                    .await
                    .map_err(HistoryError::db("refreshing query statistics"))?;
            }
        }
        Ok(())
    }

    /// Which database this is.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// Closes the pool, waiting for connections to finish.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// `url` with any password replaced, for error messages and logs.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    match rest.split_once('@') {
        Some((userinfo, host)) if userinfo.contains(':') => {
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:***@{host}")
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn redacts_passwords() {
        assert_eq!(
            super::redact("mysql://forest:secret@127.0.0.1/db"),
            "mysql://forest:***@127.0.0.1/db"
        );
        assert_eq!(super::redact("sqlite://a.db"), "sqlite://a.db");
    }
}
