//! Executions: runs still going, read from the replicated execute reports, then finished runs
//! from this node's history store, newest first, as one list; each job's runs and statistics;
//! the dashboard's figures.
//!
//! A run is shown with the original JobExecuteSnapshot's names (the history's JSON,
//! [`crate::history::record`]) plus `statusName`, whichever place it came from.

use axum::extract::State;
use axum::Extension;
use chrono::{DateTime, FixedOffset, Utc};
use forest_storage::history::{Query as HistoryQuery, Record};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::PageQuery;
use crate::auth::Principal;
use crate::history::record;
use crate::http::auth::{check_group, check_unscoped, scope_group};
use crate::http::error::{ApiError, ApiResult, ErrorBody, Json, Path, Query};
use crate::http::AppState;
use crate::kv::ops;
use crate::model::{keys, ExecuteStatus, JobExecuteSnapshot, WireJson};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_executions))
        .routes(routes!(get_execution))
        .routes(routes!(job_runs))
        .routes(routes!(job_stats))
        .routes(routes!(dashboard))
}

/// Filters of the execution list; all optional.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct RunFilter {
    job_id: Option<String>,
    group: Option<String>,
    /// The worker's name.
    worker: Option<String>,
    /// A part of the job's name.
    name: Option<String>,
    /// 1 running, 2 success, 3 unknown target, -1 error, -2 timeout, -3 lost, -4 missed,
    /// -5 cancelled.
    status: Option<i32>,
    /// Runs that finished (or, running, started) at or after this time, RFC 3339.
    from: Option<DateTime<FixedOffset>>,
    /// … and before this time.
    to: Option<DateTime<FixedOffset>>,
}

fn nonempty(s: &Option<String>) -> Option<String> {
    s.clone().filter(|s| !s.is_empty())
}

impl RunFilter {
    fn query(&self) -> HistoryQuery {
        HistoryQuery {
            job_id: nonempty(&self.job_id),
            name: nonempty(&self.name),
            group: nonempty(&self.group),
            worker: nonempty(&self.worker),
            ip: None,
            status: self.status,
            from_ms: self.from.map(|t| t.timestamp_millis()),
            to_ms: self.to.map(|t| t.timestamp_millis()),
            offset: 0,
            limit: 0,
        }
    }
}

/// Whether a running run matches what the history store would match for `q`.
fn matches(q: &HistoryQuery, r: &Record) -> bool {
    let is = |want: &Option<String>, have: &str| want.as_deref().is_none_or(|w| w == have);
    is(&q.job_id, &r.job_id)
        && is(&q.group, &r.group)
        && is(&q.worker, &r.worker)
        && q.name.as_deref().is_none_or(|n| r.name.contains(n))
        && q.status.is_none_or(|s| s == r.status)
        && q.from_ms.is_none_or(|f| r.sort_ms() >= f)
        && q.to_ms.is_none_or(|t| r.sort_ms() < t)
}

/// A run as the API shows it.
fn run_json(r: &Record) -> Value {
    let mut v: Value = serde_json::from_str(&record::to_json(r)).unwrap_or(Value::Null);
    if let Value::Object(m) = &mut v {
        let status = ExecuteStatus::from_code(i64::from(r.status));
        m.insert(
            "statusName".into(),
            Value::from(status.name().unwrap_or("unknown_code")),
        );
    }
    v
}

/// Runs not yet finished, newest first, from the replicated execute reports.
async fn running(s: &AppState, q: &HistoryQuery) -> ApiResult<Vec<Record>> {
    let prefix = match &q.group {
        Some(g) => keys::execute_group_prefix(g),
        None => keys::EXECUTE_PREFIX.to_string(),
    };
    let kvs = s.kv.range(ops::prefix_range(&prefix)).await?.kvs;
    let mut runs: Vec<Record> = kvs
        .iter()
        .filter_map(|kv| JobExecuteSnapshot::from_json(&kv.value).ok())
        .filter(|r| !r.status.is_final())
        .map(|r| record::from_run(&r))
        .filter(|r| matches(q, r))
        .collect();
    runs.sort_by_key(|r| std::cmp::Reverse(r.created_at));
    Ok(runs)
}

/// One page of runs, the running ones first.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunPage {
    #[schema(value_type = Vec<Object>)]
    items: Vec<Value>,
    total: i64,
    /// The history counted no further than 100 000: there may be more.
    total_capped: bool,
    page: u64,
    page_size: u64,
}

async fn page_of(s: &AppState, mut q: HistoryQuery, page: PageQuery) -> ApiResult<RunPage> {
    let offset = page.offset()?;
    let live = running(s, &q).await?;
    let live_count = live.len() as u64;
    let mut items: Vec<Value> = live
        .iter()
        .skip(usize::try_from(offset).unwrap_or(usize::MAX))
        .take(page.page_size as usize)
        .map(run_json)
        .collect();
    q.offset = offset.saturating_sub(live_count);
    q.limit = page.page_size - items.len() as u64;
    let done = if q.limit == 0 {
        s.history.list(&HistoryQuery { limit: 0, ..q }).await?
    } else {
        s.history.list(&q).await?
    };
    items.extend(done.records.iter().map(run_json));
    Ok(RunPage {
        items,
        total: done.total + live_count as i64,
        total_capped: done.total_capped,
        page: page.page,
        page_size: page.page_size,
    })
}

#[utoipa::path(get, path = "/executions", tag = "executions",
    params(RunFilter, PageQuery),
    responses((status = 200, description = "Runs, running ones first, then newest first", body = RunPage),
               (status = 400, body = ErrorBody), (status = 503, description = "The history store failed", body = ErrorBody)))]
async fn list_executions(
    State(s): State<AppState>,
    Extension(who): Extension<Principal>,
    Query(mut filter): Query<RunFilter>,
    Query(page): Query<PageQuery>,
) -> ApiResult<Json<RunPage>> {
    filter.group = scope_group(&who, filter.group.as_deref())?;
    Ok(Json(page_of(&s, filter.query(), page).await?))
}

#[utoipa::path(get, path = "/executions/{id}", tag = "executions",
    params(("id" = String, Path, description = "Run (snapshot) id")),
    responses((status = 200, description = "The run with its output", body = Object), (status = 404, body = ErrorBody)))]
async fn get_execution(
    State(s): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let found = match s.history.get(&id).await? {
        Some(r) => Some(r),
        None => running(&s, &HistoryQuery::default())
            .await?
            .into_iter()
            .find(|r| r.id == id),
    };
    let run = found.ok_or_else(|| ApiError::not_found(format!("run {id} not found")))?;
    check_group(&who, &run.group)?;
    Ok(Json(run_json(&run)))
}

#[utoipa::path(get, path = "/jobs/{id}/runs", tag = "jobs",
    params(("id" = String, Path, description = "Job id"), PageQuery),
    responses((status = 200, body = RunPage), (status = 404, body = ErrorBody)))]
async fn job_runs(
    State(s): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    Query(page): Query<PageQuery>,
) -> ApiResult<Json<RunPage>> {
    let job = super::jobs::job_for(&s, &who, &id).await?;
    let filter = RunFilter {
        job_id: Some(job.id),
        group: Some(job.group),
        ..Default::default()
    };
    Ok(Json(page_of(&s, filter.query(), page).await?))
}

/// What one job's history adds up to.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobStats {
    runs: i64,
    successes: i64,
    failures: i64,
    p50_duration_ms: Option<i64>,
    p95_duration_ms: Option<i64>,
    last_success_ms: Option<i64>,
    last_failure_ms: Option<i64>,
}

#[utoipa::path(get, path = "/jobs/{id}/stats", tag = "jobs",
    params(("id" = String, Path, description = "Job id")),
    responses((status = 200, body = JobStats), (status = 404, body = ErrorBody)))]
async fn job_stats(
    State(s): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Json<JobStats>> {
    let job = super::jobs::job_for(&s, &who, &id).await?;
    let st = s.history.stats(&job.id).await?;
    Ok(Json(JobStats {
        runs: st.runs,
        successes: st.successes,
        failures: st.failures,
        p50_duration_ms: st.p50_duration_ms,
        p95_duration_ms: st.p95_duration_ms,
        last_success_ms: st.last_success_ms,
        last_failure_ms: st.last_failure_ms,
    }))
}

/// Finished runs of one minute.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Minute {
    /// The minute's start, RFC 3339.
    minute: String,
    successes: i64,
    failures: i64,
}

/// Totals over the last hour.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Totals {
    runs: i64,
    successes: i64,
    failures: i64,
}

/// The dashboard's figures.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Dashboard {
    jobs: usize,
    jobs_paused: usize,
    groups: usize,
    workers_online: usize,
    last_hour: Totals,
    /// The last 60 minutes, oldest first, every minute present.
    per_minute: Vec<Minute>,
    /// The ten latest failed runs.
    #[schema(value_type = Vec<Object>)]
    recent_failures: Vec<Value>,
}

/// How many failed runs the dashboard lists.
const RECENT_FAILURES: u64 = 10;

#[utoipa::path(get, path = "/stats", tag = "executions",
    responses((status = 200, body = Dashboard), (status = 503, body = ErrorBody)))]
async fn dashboard(
    State(s): State<AppState>,
    Extension(who): Extension<Principal>,
) -> ApiResult<Json<Dashboard>> {
    check_unscoped(&who)?;
    let jobs = s.jobs.list(None).await?;
    let groups = s.jobs.groups().await?.len();
    let workers_online =
        s.kv.range(ops::prefix_range(keys::WORKER_PREFIX))
            .await?
            .kvs
            .len();
    let now_ms = Utc::now().timestamp_millis();
    let first = (now_ms / 60_000 - 59) * 60_000;
    let counted = s.history.runs_per_minute(first, now_ms + 1).await?;
    let per_minute: Vec<Minute> = (0..60)
        .map(|i| {
            let ms = first + i * 60_000;
            let c = counted.iter().find(|c| c.minute_ms == ms);
            Minute {
                minute: DateTime::from_timestamp_millis(ms)
                    .map(|t| t.to_rfc3339())
                    .unwrap_or_default(),
                successes: c.map_or(0, |c| c.successes),
                failures: c.map_or(0, |c| c.failures),
            }
        })
        .collect();
    let successes = per_minute.iter().map(|m| m.successes).sum();
    let failures = per_minute.iter().map(|m| m.failures).sum();
    let mut recent = Vec::new();
    for status in forest_storage::history::status::FAILURES {
        let q = HistoryQuery {
            status: Some(status),
            limit: RECENT_FAILURES,
            ..Default::default()
        };
        recent.extend(s.history.list(&q).await?.records);
    }
    recent.sort_by_key(|r| std::cmp::Reverse(r.sort_ms()));
    recent.truncate(RECENT_FAILURES as usize);
    Ok(Json(Dashboard {
        jobs_paused: jobs.iter().filter(|j| !j.is_running()).count(),
        jobs: jobs.len(),
        groups,
        workers_online,
        last_hour: Totals {
            runs: successes + failures,
            successes,
            failures,
        },
        per_minute,
        recent_failures: recent.iter().map(run_json).collect(),
    }))
}
