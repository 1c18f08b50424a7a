//! Listing and fetching records: filters, newest first, pages with a total.
//!
//! Every listing sorts by `sort_ms` (finished, or created while running) then `id`, newest
//! first. Each equality filter has an index ending in `(sort_ms, id)` (see [`super::schema`]),
//! so a page is read by walking that index backwards and stopping after `offset + limit` rows,
//! however large the table. Which index is decided here, not left to the planner
//! ([`Filter::index`], [`super::Dialect::index_hint`]): the most selective filter's, and for
//! job and status together the index on both. Other filters (the name, a substring, which no
//! index can serve, and a second equality) ride on the walk and cost in proportion to how rare
//! their matches are.
//!
//! The total is counted up to [`COUNT_CAP`] as `COUNT(*)` over a subquery with `LIMIT`, so no
//! count reads more than the cap's worth of matches: counting every row of a ten-million-row
//! history to print "page 1 of 500,000" would cost seconds on each page; beyond the cap the UI
//! shows "100,000+" (`Page::total_capped`). When the filter is the walked index's columns
//! (plus a time range, on `sort_ms` in every index) the count reads only that index.

use sqlx::any::AnyArguments;
use sqlx::query::Query as SqlQuery;
use sqlx::{Any, Row};

use super::error::{HistoryError, Result};
use super::record::{from_row, select_list};
use super::{Dialect, History, Record};

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

/// A WHERE clause, its values in order, and the index that serves it.
#[derive(Default)]
struct Filter {
    conditions: Vec<&'static str>,
    values: Vec<Value>,
    index: &'static str,
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
        let mut f = Self {
            index: Self::index(q),
            ..Self::default()
        };
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

    /// The index (of [`super::schema`]) that `q`'s listing walks: the one on its most
    /// selective equality filter, by what the columns hold (a job's runs are a sliver of a
    /// history; a worker's, an address's, a group's a larger share; a status's, a large one).
    fn index(q: &Query) -> &'static str {
        let set = |v: &Option<String>| v.as_deref().is_some_and(|v| !v.is_empty());
        if set(&q.job_id) {
            if q.status.is_some() {
                "fx_job_status_sort"
            } else {
                "fx_job_sort"
            }
        } else if set(&q.worker) {
            "fx_worker_sort"
        } else if set(&q.ip) {
            "fx_ip_sort"
        } else if set(&q.group) {
            "fx_group_sort"
        } else if q.status.is_some() {
            "fx_status_sort"
        } else {
            "fx_sort"
        }
    }

    /// `FROM …` and `WHERE …` for `dialect`.
    fn table_and_filter(&self, dialect: Dialect) -> String {
        let hint = dialect.index_hint(self.index);
        if self.conditions.is_empty() {
            format!(" FROM job_execute_snapshot{hint}")
        } else {
            format!(
                " FROM job_execute_snapshot{hint} WHERE {}",
                self.conditions.join(" AND ")
            )
        }
    }

    /// The capped count; binds the filter, then the cap.
    fn count_sql(&self, dialect: Dialect) -> String {
        format!(
            "SELECT COUNT(*) AS n FROM (SELECT 1 AS one{} LIMIT ?) AS matching",
            self.table_and_filter(dialect)
        )
    }

    /// One page, newest first; binds the filter, then limit and offset.
    fn page_sql(&self, dialect: Dialect) -> String {
        format!(
            "SELECT {}{} ORDER BY sort_ms DESC, id DESC LIMIT ? OFFSET ?",
            select_list(dialect, false),
            self.table_and_filter(dialect)
        )
    }

    fn bind<'q>(&self, q: SqlQuery<'q, Any, AnyArguments>) -> SqlQuery<'q, Any, AnyArguments> {
        bind_values(q, &self.values)
    }
}

/// `q`'s limit and offset, as bound to [`Filter::page_sql`].
fn page_bounds(q: &Query) -> [i64; 2] {
    [q.limit, q.offset].map(|n| i64::try_from(n).unwrap_or(i64::MAX))
}

impl History {
    /// The records matching `q`, newest first, one page, with the number matching.
    pub async fn list(&self, q: &Query) -> Result<Page> {
        let filter = Filter::of(q);
        let total: i64 = filter
            .bind(sqlx::query(
                self.dialect.sql(&filter.count_sql(self.dialect)),
            ))
            .bind(COUNT_CAP + 1)
            .fetch_one(&self.pool)
            .await
            .and_then(|row| row.try_get("n"))
            .map_err(HistoryError::db("counting history records"))?;
        let mut records = Vec::new();
        if q.limit > 0 {
            let [limit, offset] = page_bounds(q);
            let rows = filter
                .bind(sqlx::query(
                    self.dialect.sql(&filter.page_sql(self.dialect)),
                ))
                .bind(limit)
                .bind(offset)
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

    /// How the database runs [`History::list`] for `q`: the count's plan, then the page's,
    /// each line as the database prints it. For finding out why a listing is slow.
    pub async fn plan(&self, q: &Query) -> Result<Vec<String>> {
        let filter = Filter::of(q);
        let (explain, column) = self.dialect.explain();
        let mut lines = Vec::new();
        for (what, sql, tail) in [
            ("count", filter.count_sql(self.dialect), vec![COUNT_CAP + 1]),
            (
                "page",
                filter.page_sql(self.dialect),
                page_bounds(q).to_vec(),
            ),
        ] {
            let tail: Vec<Value> = tail.into_iter().map(Value::Int).collect();
            let query = filter.bind(sqlx::query(self.dialect.sql(&format!("{explain}{sql}"))));
            let rows = bind_values(query, &tail)
                .fetch_all(&self.pool)
                .await
                .map_err(HistoryError::db("explaining a history listing"))?;
            for row in &rows {
                let line: String = row
                    .try_get(column)
                    .map_err(HistoryError::db("explaining a history listing"))?;
                lines.push(format!("{what}: {line}"));
            }
        }
        Ok(lines)
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
