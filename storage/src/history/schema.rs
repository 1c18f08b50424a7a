//! The history schema and its versioned migrations, run at every open.
//!
//! Version 1 is the original forest's table `job_execute_snapshot`, created with the original
//! DDL on MySQL (an equivalent on SQLite and PostgreSQL) only if it does not exist: an existing
//! original table, with years of an old user's rows, is adopted, never recreated. Version 2
//! appends Forest's columns (all nullable or defaulted, so the original INSERTs and SELECTs
//! still work) and the indexes Forest's queries need. Version 3 adds the index for the UI's
//! commonest listing, one job's runs of one status. Version 4 gives the rows the original
//! forest wrote a place in time (see [`backfill`]).
//!
//! The version lives in our own table `forest_meta` (`name`, `value`), which also holds the
//! materialized KV revision (see [`super::write`]). Migrating is idempotent: steps at or below
//! the stored version are skipped. A database at a version above [`LATEST`] was written by a
//! newer forest and is refused rather than misread. Each step runs in one transaction with the
//! version bump; on SQLite and PostgreSQL DDL is transactional, on MySQL each DDL statement
//! commits by itself, so a crash in the middle of a MySQL step needs the step finished by hand.
//!
//! Several nodes may share one MySQL or PostgreSQL database and start together: the whole
//! migration runs under a database lock (see [`Dialect::migration_lock`]), so one node migrates
//! and the others, once they get the lock, find the version already at [`LATEST`].

use sqlx::{AnyConnection, AnyPool, Connection, Row};

use super::dialect::Dialect;
use super::error::{HistoryError, Result};

/// The schema version this binary writes and understands.
pub const LATEST: i64 = 4;

/// The `forest_meta` row holding the schema version.
const VERSION_KEY: &str = "schema_version";
/// The `forest_meta` row holding the KV revision materialized so far.
pub(crate) const APPLIED_KEY: &str = "applied_revision";

/// The original DDL, verbatim from the original README (forest-compat §2.4) but for
/// `IF NOT EXISTS`.
const ORIGINAL_MYSQL: &str = "CREATE TABLE IF NOT EXISTS `job_execute_snapshot` (
  `id` varchar(64) NOT NULL COMMENT '主键',
  `job_id` varchar(32) NOT NULL COMMENT '任务定义id',
  `name` varchar(32) NOT NULL COMMENT '任务名称',
  `group` varchar(32) NOT NULL COMMENT '任务集群',
  `cron` varchar(32) NOT NULL COMMENT 'cron表达式',
  `target` varchar(255) NOT NULL COMMENT '目标任务',
  `params` varchar(255) DEFAULT NULL COMMENT '参数',
  `ip` varchar(32) NOT NULL COMMENT 'ip',
  `status` tinyint(4) NOT NULL COMMENT '状态 1-执行中 2-完成  3-未知  4-错误',
  `mobile` varchar(32) DEFAULT NULL COMMENT '手机号码',
  `remark` varchar(255) DEFAULT NULL COMMENT '备注',
  `create_time` varchar(32) NOT NULL COMMENT '创建时间',
  `start_time` varchar(255) DEFAULT NULL COMMENT '开始时间',
  `finish_time` varchar(32) DEFAULT NULL COMMENT '结束时间',
  `times` bigint(20) DEFAULT '0' COMMENT '耗时',
  `result` varchar(255) DEFAULT NULL COMMENT '返回结果',
  PRIMARY KEY (`id`), KEY `ip` (`ip`), KEY `job_id` (`job_id`), KEY `status` (`status`), KEY `group` (`group`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8 COMMENT='任务作业执行快照'";

/// The original table in standard SQL, for SQLite and PostgreSQL: same columns, same types
/// where they exist (`SMALLINT` for `tinyint`).
const ORIGINAL_STANDARD: &str = "CREATE TABLE IF NOT EXISTS job_execute_snapshot (
  id VARCHAR(64) NOT NULL PRIMARY KEY,
  job_id VARCHAR(32) NOT NULL,
  name VARCHAR(32) NOT NULL,
  \"group\" VARCHAR(32) NOT NULL,
  cron VARCHAR(32) NOT NULL,
  target VARCHAR(255) NOT NULL,
  params VARCHAR(255) DEFAULT NULL,
  ip VARCHAR(32) NOT NULL,
  status SMALLINT NOT NULL,
  mobile VARCHAR(32) DEFAULT NULL,
  remark VARCHAR(255) DEFAULT NULL,
  create_time VARCHAR(32) NOT NULL,
  start_time VARCHAR(255) DEFAULT NULL,
  finish_time VARCHAR(32) DEFAULT NULL,
  times BIGINT DEFAULT 0,
  result VARCHAR(255) DEFAULT NULL
)";

/// The statements of migration step `version` in `dialect`.
fn step(version: i64, dialect: Dialect) -> Vec<String> {
    match version {
        1 => vec![match dialect {
            Dialect::MySql => ORIGINAL_MYSQL.to_string(),
            Dialect::Sqlite | Dialect::Postgres => ORIGINAL_STANDARD.to_string(),
        }],
        2 => {
            let text = dialect.long_text();
            let name = dialect.varchar(255);
            let columns = [
                format!("result_full {text} NULL"),
                "created_at BIGINT NOT NULL DEFAULT 0".to_string(),
                // finished_at, or created_at while running: the one key every listing sorts
                // by, so each index below ends with it (then id, to break ties stably).
                "sort_ms BIGINT NOT NULL DEFAULT 0".to_string(),
                "scheduled_at BIGINT NULL".to_string(),
                "finished_at BIGINT NULL".to_string(),
                "attempt INT NOT NULL DEFAULT 0".to_string(),
                format!("worker {name} NOT NULL DEFAULT ''"),
                format!("node {name} NOT NULL DEFAULT ''"),
                "duration_ms BIGINT NULL".to_string(),
                "shard_index INT NULL".to_string(),
                format!("output {text} NULL"),
            ];
            // "Newest first with a filter" walks one of these backwards and stops after a page:
            // no sort, no scan of rows that do not match.
            let indexes = [
                ("fx_sort", "sort_ms, id"),
                ("fx_job_sort", "job_id, sort_ms, id"),
                ("fx_group_sort", "\"group\", sort_ms, id"),
                ("fx_worker_sort", "worker, sort_ms, id"),
                ("fx_ip_sort", "ip, sort_ms, id"),
                ("fx_status_sort", "status, sort_ms, id"),
            ];
            columns
                .iter()
                .map(|c| format!("ALTER TABLE job_execute_snapshot ADD COLUMN {c}"))
                .chain(indexes.iter().map(|(name, cols)| {
                    format!("CREATE INDEX {name} ON job_execute_snapshot ({cols})")
                }))
                .collect()
        }
        // Without it a job+status listing walks the job's index and reads every one of the
        // job's rows to test its status, and cannot count from the index alone.
        3 => vec![
            "CREATE INDEX fx_job_status_sort ON job_execute_snapshot (job_id, status, sort_ms, id)"
                .to_string(),
        ],
        4 => vec![backfill(dialect)],
        _ => Vec::new(),
    }
}

/// Rows the original forest wrote have `created_at` and `sort_ms` 0, so every listing put
/// them last, in no order, and time filters never found them. They get their `create_time`
/// (the original UI's sort key too) as both. The text is local time in a zone no database
/// knows, so it is read as UTC: off by the zone offset, in the right order. Text of any
/// other shape leaves the row at 0.
fn backfill(dialect: Dialect) -> String {
    let ms = dialect.utc_text_ms("create_time");
    format!(
        "UPDATE job_execute_snapshot SET created_at = COALESCE({ms}, 0), sort_ms = COALESCE({ms}, 0) \
         WHERE sort_ms = 0 AND created_at = 0"
    )
}

/// Brings the database at `pool` to [`LATEST`], or refuses one that is newer, holding the
/// migration lock throughout.
pub(crate) async fn migrate(pool: &AnyPool, dialect: Dialect) -> Result<()> {
    // A connection of its own, closed at the end: the lock belongs to the session, so closing
    // releases it whatever happened, and it can never go back to the pool still held.
    let mut conn = pool
        .acquire()
        .await
        .map_err(HistoryError::db("connecting to migrate"))?
        .detach();
    if let Some(lock) = dialect.migration_lock() {
        let got: Option<i64> = sqlx::query(lock)
            .fetch_one(&mut conn)
            .await
            .and_then(|row| row.try_get("got"))
            .map_err(HistoryError::db("taking the migration lock"))?;
        if got != Some(1) {
            return Err(HistoryError::MigrationLock);
        }
    }
    let migrated = migrate_locked(&mut conn, dialect).await;
    let closed = conn.close().await;
    migrated?;
    closed.map_err(HistoryError::db("releasing the migration lock"))
}

/// [`migrate`], once the lock is held, on its connection.
async fn migrate_locked(conn: &mut AnyConnection, dialect: Dialect) -> Result<()> {
    sqlx::query(dialect.sql(
        "CREATE TABLE IF NOT EXISTS forest_meta (name VARCHAR(64) NOT NULL PRIMARY KEY, value BIGINT NOT NULL)",
    ))
    .execute(&mut *conn)
    .await
    .map_err(HistoryError::db("creating forest_meta"))?;

    let found = read_meta(&mut *conn, dialect, VERSION_KEY).await?;
    let current = match found {
        Some(v) => v,
        None => {
            for key in [VERSION_KEY, APPLIED_KEY] {
                sqlx::query(dialect.sql("INSERT INTO forest_meta (name, value) VALUES (?, 0)"))
                    .bind(key)
                    .execute(&mut *conn)
                    .await
                    .map_err(HistoryError::db("initialising forest_meta"))?;
            }
            0
        }
    };
    if current > LATEST {
        return Err(HistoryError::SchemaTooNew {
            found: current,
            known: LATEST,
        });
    }
    for version in current + 1..=LATEST {
        let failed = |source| HistoryError::Migrate { version, source };
        let mut tx = conn.begin().await.map_err(failed)?;
        for statement in step(version, dialect) {
            sqlx::query(dialect.sql(&statement))
                .execute(&mut *tx)
                .await
                .map_err(failed)?;
        }
        sqlx::query(dialect.sql("UPDATE forest_meta SET value = ? WHERE name = ?"))
            .bind(version)
            .bind(VERSION_KEY)
            .execute(&mut *tx)
            .await
            .map_err(failed)?;
        tx.commit().await.map_err(failed)?;
        tracing::info!(version, "history schema migrated");
    }
    Ok(())
}

/// The value of `forest_meta` row `key`, if it exists.
pub(crate) async fn read_meta<'c>(
    executor: impl sqlx::Executor<'c, Database = sqlx::Any>,
    dialect: Dialect,
    key: &str,
) -> Result<Option<i64>> {
    let row = sqlx::query(dialect.sql("SELECT value FROM forest_meta WHERE name = ?"))
        .bind(key)
        .fetch_optional(executor)
        .await
        .map_err(HistoryError::db("reading forest_meta"))?;
    row.map(|r| r.try_get::<i64, _>("value"))
        .transpose()
        .map_err(HistoryError::db("reading forest_meta"))
}
