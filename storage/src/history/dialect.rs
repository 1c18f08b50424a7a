//! The three SQL dialects the history store speaks, and the one place they differ in syntax.
//!
//! The store goes through sqlx's `Any` driver so that every query is written once. `Any` passes
//! SQL through verbatim, though, and the three databases disagree on two spellings every query
//! needs: placeholders (`?` for SQLite and MySQL, `$1…` for PostgreSQL) and quoted identifiers
//! (the original table has a column named `group`, a reserved word: `"group"` in standard SQL,
//! `` `group` `` in MySQL). So all SQL in this module is written with `?` and `"…"`, and
//! [`Dialect::sql`] rewrites it for the database at hand. Our SQL never puts `?` or `"` inside a
//! string literal (values are always bound), which is what makes the rewrite safe.
//!
//! What differs beyond spelling (column types, upsert syntax, integer division) is a method here
//! too, so the rest of the module stays dialect-free.

use sqlx::AssertSqlSafe;

use super::error::{HistoryError, Result};

/// Which database a history URL points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    MySql,
    Postgres,
}

impl Dialect {
    /// The dialect of `url`, by its scheme.
    pub fn of_url(url: &str) -> Result<Self> {
        let scheme = url.split(':').next().unwrap_or_default();
        match scheme {
            "sqlite" => Ok(Self::Sqlite),
            "mysql" | "mariadb" => Ok(Self::MySql),
            "postgres" | "postgresql" => Ok(Self::Postgres),
            _ => Err(HistoryError::UnsupportedUrl(url.to_string())),
        }
    }

    /// `sql` (written with `?` placeholders and `"quoted"` identifiers) in this dialect.
    pub fn sql(self, sql: &str) -> AssertSqlSafe<String> {
        let text = match self {
            Self::Sqlite => sql.to_string(),
            Self::MySql => sql.replace('"', "`"),
            Self::Postgres => {
                let mut out = String::with_capacity(sql.len() + 16);
                let mut n = 0;
                for c in sql.chars() {
                    if c == '?' {
                        n += 1;
                        out.push('$');
                        out.push_str(&n.to_string());
                    } else {
                        out.push(c);
                    }
                }
                out
            }
        };
        AssertSqlSafe(text)
    }

    /// A column type for short text of up to `n` characters, able to hold any Unicode.
    pub fn varchar(self, n: u32) -> String {
        match self {
            Self::MySql => format!("VARCHAR({n}) CHARACTER SET utf8mb4"),
            Self::Sqlite | Self::Postgres => format!("VARCHAR({n})"),
        }
    }

    /// A column type for text up to [`super::fit::MAX_TEXT_BYTES`], able to hold any Unicode
    /// (MySQL's `TEXT` stops at 64 KB, too small for 64 KiB of four-byte characters).
    pub fn long_text(self) -> &'static str {
        match self {
            Self::MySql => "MEDIUMTEXT CHARACTER SET utf8mb4",
            Self::Sqlite | Self::Postgres => "TEXT",
        }
    }

    /// `status` as a column the `Any` driver can decode: it cannot read MySQL's `TINYINT`.
    pub fn status_column(self) -> &'static str {
        match self {
            Self::MySql => "CAST(status AS SIGNED) AS status",
            Self::Sqlite | Self::Postgres => "status",
        }
    }

    /// Integer division of two integer expressions (MySQL's `/` gives a decimal).
    pub fn div(self, a: &str, b: &str) -> String {
        match self {
            Self::MySql => format!("({a} DIV {b})"),
            Self::Sqlite | Self::Postgres => format!("({a} / {b})"),
        }
    }

    /// The tail of an `INSERT INTO job_execute_snapshot (columns) VALUES …` that turns it into
    /// an upsert on the primary key `id`, the later write replacing every other column.
    pub fn upsert_tail(self, columns: &[&str]) -> String {
        let others = columns.iter().filter(|c| **c != "id");
        let set: Vec<String> = match self {
            Self::MySql => others
                .map(|c| format!("\"{c}\" = VALUES(\"{c}\")"))
                .collect(),
            Self::Sqlite | Self::Postgres => others
                .map(|c| format!("\"{c}\" = excluded.\"{c}\""))
                .collect(),
        };
        match self {
            Self::MySql => format!(" ON DUPLICATE KEY UPDATE {}", set.join(", ")),
            Self::Sqlite | Self::Postgres => {
                format!(" ON CONFLICT (id) DO UPDATE SET {}", set.join(", "))
            }
        }
    }

    /// What to put after `FROM job_execute_snapshot` so a listing walks `index` (see
    /// [`super::query`]). Only SQLite gets a hint: its statistics are sampled
    /// (`analysis_limit`) and say nothing about how job and status correlate, so it sometimes
    /// walks the status index backwards through a million rows looking for one job's runs.
    /// PostgreSQL and MariaDB keep per-value statistics and pick the exact-match index
    /// themselves; a forced index there would only stop them adapting.
    pub fn index_hint(self, index: &str) -> String {
        match self {
            Self::Sqlite => format!(" INDEXED BY {index}"),
            Self::MySql | Self::Postgres => String::new(),
        }
    }

    /// How to ask for the plan of a query: the prefix, and which column of each returned row
    /// holds a line of it (SQLite's `detail`, PostgreSQL's `QUERY PLAN`, MySQL's JSON).
    pub fn explain(self) -> (&'static str, usize) {
        match self {
            Self::Sqlite => ("EXPLAIN QUERY PLAN ", 3),
            Self::MySql => ("EXPLAIN FORMAT=JSON ", 0),
            Self::Postgres => ("EXPLAIN ", 0),
        }
    }

    /// Epoch milliseconds of the text column `col` holding `yyyy-MM-dd HH:mm:ss`, read as UTC
    /// (the original wrote local time, but no dialect can tell which zone that was); NULL when
    /// the text has another shape, so one odd row cannot fail a migration.
    pub fn utc_text_ms(self, col: &str) -> String {
        const SHAPE: &str = "^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}$";
        const GLOB: &str =
            "[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9] [0-9][0-9]:[0-9][0-9]:[0-9][0-9]";
        match self {
            // SQLite has no REGEXP; strftime reads these as UTC, and NULL from text it cannot
            // parse, but also reads other shapes ('now', a bare date), hence the GLOB.
            Self::Sqlite => format!(
                "(CASE WHEN {col} GLOB '{GLOB}' \
                 THEN CAST(strftime('%s', {col}) AS INTEGER) * 1000 END)"
            ),
            Self::MySql => format!(
                "(CASE WHEN {col} REGEXP '{SHAPE}' \
                 THEN TIMESTAMPDIFF(SECOND, '1970-01-01 00:00:00', {col}) * 1000 END)"
            ),
            // A timestamp without time zone has no zone to convert from: its epoch is UTC's.
            Self::Postgres => format!(
                "(CASE WHEN {col} ~ '{SHAPE}' \
                 THEN CAST(EXTRACT(EPOCH FROM CAST({col} AS TIMESTAMP)) AS BIGINT) * 1000 END)"
            ),
        }
    }

    /// SQL that waits until this session holds the migration lock and then returns one row
    /// with `got` = 1, or `None` where no lock is needed: a SQLite file belongs to one node.
    /// Both locks belong to the session, so closing the connection releases them.
    pub fn migration_lock(self) -> Option<&'static str> {
        match self {
            Self::Sqlite => None,
            // GET_LOCK names are server-wide: the database's name keeps two forests on one
            // server apart. It gives 0 after the timeout (an hour: a migration of a huge
            // adopted table may take minutes), NULL on error.
            Self::MySql => Some(
                "SELECT CAST(GET_LOCK(CONCAT('forest.history.migrate:', DATABASE()), 3600) \
                 AS SIGNED) AS got",
            ),
            // Advisory locks are per database. pg_advisory_lock returns void, which the Any
            // driver cannot read: count its row.
            Self::Postgres => Some(
                "SELECT COUNT(*) AS got FROM \
                 (SELECT pg_advisory_lock(hashtext('forest.history.migrate'))) AS locked",
            ),
        }
    }

    /// Whether the original columns may only hold three-byte UTF-8: the original MySQL table is
    /// `CHARSET=utf8` (utf8mb3), where strict mode rejects an emoji.
    pub fn original_columns_are_utf8mb3(self) -> bool {
        self == Self::MySql
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrites_placeholders_and_quotes() {
        let q = "SELECT \"group\" FROM t WHERE a = ? AND b = ?";
        assert_eq!(Dialect::Sqlite.sql(q).0, q);
        assert_eq!(
            Dialect::Postgres.sql(q).0,
            "SELECT \"group\" FROM t WHERE a = $1 AND b = $2"
        );
        assert_eq!(
            Dialect::MySql.sql(q).0,
            "SELECT `group` FROM t WHERE a = ? AND b = ?"
        );
    }

    #[test]
    fn knows_schemes() {
        assert_eq!(Dialect::of_url("sqlite://x.db").ok(), Some(Dialect::Sqlite));
        assert_eq!(Dialect::of_url("mysql://u@h/db").ok(), Some(Dialect::MySql));
        assert_eq!(
            Dialect::of_url("postgresql://h/db").ok(),
            Some(Dialect::Postgres)
        );
        assert!(Dialect::of_url("redis://h").is_err());
    }
}
