//! Listing and fetching records: filters, newest first, pages with a total.
//!
//! Every listing sorts by `sort_ms` (finished, or created while running) then `id`, newest
//! first. Each equality filter has an index ending in `(sort_ms, id)` (see [`super::schema`]),
//! so a page is read by walking that index backwards and stopping after `offset + limit` rows,
//! however large the table. The name filter (a substring) cannot use an index; it rides on
//! the walk and costs in proportion to how rare the name is.
//!
//! The total is counted up to [`COUNT_CAP`]: counting every row of a ten-million-row history to
//! print "page 1 of 500,000" would cost seconds on each page; beyond the cap the UI shows
//! "100,000+" (`Page::total_capped`).

use sqlx::any::AnyArguments;
use sqlx::query::Query as SqlQuery;
use sqlx::{Any, Row};

use super::error::{HistoryError, Result};
use super::record::{from_row, select_list};
use super::{History, Record};

/// The most rows a listing counts for its total.
pub const COUNT_CAP: i64 = 100_000;

/// Which records to list. Empty / `None` fields do not filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    pub job_id: Option<String>,
    /// A substring of the job name (case sensitivity as the database compares text).
    pub name: Option<String>,
    pub group: Option<String>,
    /// The worker's name.
    pub worker: Option<String>,
    /// The worker's address (the original's `ip` column).
    pub ip: Option<String>,
    pub status: Option<i32>,
    /// Runs at or after this time (epoch ms; finished time, or created time while running).
    pub from_ms: Option<i64>,
    /// Runs before this time (epoch ms).
    pub to_ms: Option<i64>,
    pub offset: u64,
    /// Page size; 0 means only count.
    pub limit: u64,
}

/// One page of a listing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Page {
    /// How many records match, up to [`COUNT_CAP`].
    pub total: i64,
    /// The total stopped at [`COUNT_CAP`]; there may be more.
    pub total_capped: bool,
    /// The page, newest first, without `output`.
    pub records: Vec<Record>,
}

/// A WHERE clause and its values, in order.
#[derive(Default)]
struct Filter {
    conditions: Vec<&'static str>,
    values: Vec<Value>,
}

/// A value bound to a `?` of a condition.
pub(crate) enum Value {
    Text(String),
    Int(i64),
}

/// `q` with `values` bound in order.
pub(crate) fn bind_values<'q>(
    mut q: SqlQuery<'q, Any, AnyArguments>,
    values: &[Value],
) -> SqlQuery<'q, Any, AnyArguments> {
    for v in values {
        q = match v {
            Value::Text(s) => q.bind(s.clone()),
            Value::Int(i) => q.bind(*i),
        };
    }
    q
}

impl Filter {
    fn of(q: &Query) -> Self {
        let mut f = Self::default();
        let text = |f: &mut Self, cond, v: &Option<String>| {
            if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
                f.conditions.push(cond);
                f.values.push(Value::Text(v.to_string()));
            }
        };
        text(&mut f, "job_id = ?", &q.job_id);
        text(&mut f, "\"group\" = ?", &q.group);
        if let Some(name) = q.name.as_deref().filter(|v| !v.is_empty()) {
            f.conditions.push("name LIKE ? ESCAPE '!'");
            let escaped = name
                .replace('!', "!!")
                .replace('%', "!%")
                .replace('_', "!_");
            f.values.push(Value::Text(format!("%{escaped}%")));
        }
        text(&mut f, "worker = ?", &q.worker);
        text(&mut f, "ip = ?", &q.ip);
        let mut int = |cond, v: Option<i64>| {
            if let Some(v) = v {
                f.conditions.push(cond);
                f.values.push(Value::Int(v));
            }
        };
        int("status = ?", q.status.map(i64::from));
        int("sort_ms >= ?", q.from_ms);
        int("sort_ms < ?", q.to_ms);
        f
    }

    fn where_clause(&self) -> String {
        if self.conditions.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", self.conditions.join(" AND "))
        }
    }

    fn bind<'q>(&self, q: SqlQuery<'q, Any, AnyArguments>) -> SqlQuery<'q, Any, AnyArguments> {
        bind_values(q, &self.values)
    }
}

impl History {
    /// The records matching `q`, newest first, one page, with the number matching.
    pub async fn list(&self, q: &Query) -> Result<Page> {
        let filter = Filter::of(q);
        let where_clause = filter.where_clause();
        let count_sql = format!(
            "SELECT COUNT(*) AS n FROM (SELECT 1 AS one FROM job_execute_snapshot{where_clause} LIMIT ?) AS matching"
        );
        let total: i64 = filter
            .bind(sqlx::query(self.dialect.sql(&count_sql)))
            .bind(COUNT_CAP + 1)
            .fetch_one(&self.pool)
            .await
            .and_then(|row| row.try_get("n"))
            .map_err(HistoryError::db("counting history records"))?;
        let mut records = Vec::new();
        if q.limit > 0 {
            let page_sql = format!(
                "SELECT {} FROM job_execute_snapshot{where_clause} ORDER BY sort_ms DESC, id DESC LIMIT ? OFFSET ?",
                select_list(self.dialect, false)
            );
            let rows = filter
                .bind(sqlx::query(self.dialect.sql(&page_sql)))
                .bind(i64::try_from(q.limit).unwrap_or(i64::MAX))
                .bind(i64::try_from(q.offset).unwrap_or(i64::MAX))
                .fetch_all(&self.pool)
                .await
                .map_err(HistoryError::db("listing history records"))?;
            for row in &rows {
                records.push(
                    from_row(row, false).map_err(HistoryError::db("reading a history record"))?,
                );
            }
        }
        Ok(Page {
            total: total.min(COUNT_CAP),
            total_capped: total > COUNT_CAP,
            records,
        })
    }

    /// The record of run `id`, with its output.
    pub async fn get(&self, id: &str) -> Result<Option<Record>> {
        let sql = format!(
            "SELECT {} FROM job_execute_snapshot WHERE id = ?",
            select_list(self.dialect, true)
        );
        let row = sqlx::query(self.dialect.sql(&sql))
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(HistoryError::db("reading a history record"))?;
        row.map(|r| from_row(&r, true))
            .transpose()
            .map_err(HistoryError::db("reading a history record"))
    }
}
