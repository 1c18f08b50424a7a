//! Jobs and groups over the job service ([`crate::jobs::Jobs`]): the same checks as the gRPC
//! API and the CLI, a clear error and nothing stored when one fails.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Extension;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{Items, PageQuery, Paged};
use crate::auth::Principal;
use crate::http::auth::check_group;
use crate::http::error::{ApiError, ApiResult, ErrorBody, Json, Path, Query};
use crate::http::AppState;
use crate::model::job::{CronSyntax, JOB_RUNNING, JOB_STOPPED};
use crate::model::{GroupConf, JobConf, WireJson};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_jobs, create_job))
        .routes(routes!(get_job, replace_job, patch_job, delete_job))
        .routes(routes!(pause_job))
        .routes(routes!(resume_job))
        .routes(routes!(run_job))
        .routes(routes!(next_fire_times))
        .routes(routes!(preview_cron))
        .routes(routes!(list_groups, create_group))
}

/// Filters of the job list; all optional.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct JobFilter {
    /// Only this group's jobs.
    group: Option<String>,
    /// Jobs whose id, name, target or remark contains this text (case-insensitive).
    q: Option<String>,
    /// 1 running, 2 paused.
    #[param(minimum = 1, maximum = 2)]
    status: Option<i64>,
}

impl JobFilter {
    fn matches(&self, job: &JobConf) -> bool {
        let text = self.q.as_deref().map(str::to_lowercase);
        self.group
            .as_deref()
            .is_none_or(|g| g.is_empty() || job.group == g)
            && self.status.is_none_or(|s| job.status == s)
            && text.is_none_or(|q| {
                [&job.id, &job.name, &job.target, &job.remark]
                    .iter()
                    .any(|f| f.to_lowercase().contains(&q))
            })
    }
}

#[utoipa::path(get, path = "/jobs", tag = "jobs",
    params(JobFilter, PageQuery),
    responses((status = 200, description = "One page of jobs, in creation order", body = Paged<JobConf>),
               (status = 400, body = ErrorBody)))]
async fn list_jobs(
    State(s): State<AppState>,
    Extension(who): Extension<Principal>,
    Query(filter): Query<JobFilter>,
    Query(page): Query<PageQuery>,
) -> ApiResult<Json<Paged<JobConf>>> {
    if let Some(st) = filter.status {
        if st != JOB_RUNNING && st != JOB_STOPPED {
            return Err(ApiError::invalid(format!(
                "status {st}: expected {JOB_RUNNING} (running) or {JOB_STOPPED} (paused)"
            )));
        }
    }
    let jobs = s.jobs.list(None).await?;
    Ok(Json(
        page.slice(
            jobs.into_iter()
                .filter(|j| filter.matches(j) && who.sees_group(&j.group))
                .collect(),
        )?,
    ))
}

/// Job `id`, if the caller may act on its group.
pub async fn job_for(s: &AppState, who: &Principal, id: &str) -> ApiResult<JobConf> {
    let job = s.jobs.get(id).await?;
    check_group(who, &job.group)?;
    Ok(job)
}

/// A job from a request body: the original's JobConf JSON, read as the original read it.
fn job_of(body: &Value) -> ApiResult<JobConf> {
    JobConf::from_json(body.to_string().as_bytes())
        .map_err(|e| ApiError::invalid(format!("the job is not a valid JobConf: {e}")))
}

#[utoipa::path(post, path = "/jobs", tag = "jobs",
    request_body(content = JobConf, description = "The job; `id` is assigned when empty, `status` defaults to 1"),
    responses((status = 201, description = "The stored job", body = JobConf),
               (status = 400, description = "Invalid job or unknown group", body = ErrorBody),
               (status = 409, description = "A job with that id exists", body = ErrorBody)))]
async fn create_job(
    State(s): State<AppState>,
    Extension(who): Extension<Principal>,
    Json(body): Json<Value>,
) -> ApiResult<(StatusCode, Json<JobConf>)> {
    let job = job_of(&body)?;
    check_group(&who, &job.group)?;
    let job = s.jobs.add(job).await?;
    Ok((StatusCode::CREATED, Json(job)))
}

#[utoipa::path(get, path = "/jobs/{id}", tag = "jobs",
    params(("id" = String, Path, description = "Job id")),
    responses((status = 200, body = JobConf), (status = 404, body = ErrorBody)))]
async fn get_job(
    State(s): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Json<JobConf>> {
    Ok(Json(job_for(&s, &who, &id).await?))
}

/// The body's id, if any, must be the path's.
fn same_id(path: &str, job: &mut JobConf) -> ApiResult<()> {
    if job.id.is_empty() {
        job.id = path.to_string();
    }
    if job.id != path {
        return Err(ApiError::invalid(format!(
            "the body's id {:?} is not the path's {path:?}",
            job.id
        )));
    }
    Ok(())
}

#[utoipa::path(put, path = "/jobs/{id}", tag = "jobs",
    params(("id" = String, Path, description = "Job id")),
    request_body(content = JobConf, description = "The whole job, with the `version` it was read at"),
    responses((status = 200, description = "The stored job, its version one higher", body = JobConf),
               (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
               (status = 409, description = "The job changed since it was read", body = ErrorBody)))]
async fn replace_job(
    State(s): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> ApiResult<Json<JobConf>> {
    let mut job = job_of(&body)?;
    same_id(&id, &mut job)?;
    job_for(&s, &who, &id).await?;
    check_group(&who, &job.group)?;
    if job.version <= 0 {
        return Err(ApiError::invalid(
            "version is required: the version the job was read at (compare-and-swap)",
        ));
    }
    Ok(Json(s.jobs.edit(job).await?))
}

#[utoipa::path(patch, path = "/jobs/{id}", tag = "jobs",
    params(("id" = String, Path, description = "Job id")),
    request_body(content = Object, description = "The fields to change; with `version`, only at that version"),
    responses((status = 200, description = "The stored job", body = JobConf),
               (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
               (status = 409, body = ErrorBody)))]
async fn patch_job(
    State(s): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> ApiResult<Json<JobConf>> {
    let Value::Object(changes) = body else {
        return Err(ApiError::invalid(
            "a patch is a JSON object of the fields to change",
        ));
    };
    let current = job_for(&s, &who, &id).await?;
    let mut merged: Value = serde_json::from_str(&current.to_json())
        .map_err(|e| ApiError::invalid(format!("stored job {id} does not parse: {e}")))?;
    if let Value::Object(m) = &mut merged {
        m.extend(changes);
    }
    let mut job = job_of(&merged)?;
    same_id(&id, &mut job)?;
    check_group(&who, &job.group)?;
    Ok(Json(s.jobs.edit(job).await?))
}

#[utoipa::path(delete, path = "/jobs/{id}", tag = "jobs",
    params(("id" = String, Path, description = "Job id")),
    responses((status = 204, description = "Deleted"), (status = 404, body = ErrorBody)))]
async fn delete_job(
    State(s): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    job_for(&s, &who, &id).await?;
    s.jobs.delete(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/jobs/{id}/pause", tag = "jobs",
    params(("id" = String, Path, description = "Job id")),
    responses((status = 200, description = "The job, status 2", body = JobConf), (status = 404, body = ErrorBody)))]
async fn pause_job(
    State(s): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Json<JobConf>> {
    job_for(&s, &who, &id).await?;
    Ok(Json(s.jobs.pause(&id).await?))
}

#[utoipa::path(post, path = "/jobs/{id}/resume", tag = "jobs",
    params(("id" = String, Path, description = "Job id")),
    responses((status = 200, description = "The job, status 1, firing from now on", body = JobConf), (status = 404, body = ErrorBody)))]
async fn resume_job(
    State(s): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Json<JobConf>> {
    job_for(&s, &who, &id).await?;
    Ok(Json(s.jobs.resume(&id).await?))
}

/// A queued manual run.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Queued {
    /// The run's snapshot id: its execution record has this id.
    snapshot_id: String,
}

#[utoipa::path(post, path = "/jobs/{id}/run", tag = "jobs",
    params(("id" = String, Path, description = "Job id")),
    responses((status = 202, description = "One run queued, whatever the job's status", body = Queued),
               (status = 404, body = ErrorBody)))]
async fn run_job(
    State(s): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, Json<Queued>)> {
    job_for(&s, &who, &id).await?;
    let snapshot_id = s.jobs.run_now(&id).await?;
    Ok((StatusCode::ACCEPTED, Json(Queued { snapshot_id })))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Count {
    /// How many (1..=100, default 5).
    #[param(minimum = 1, maximum = 100, default = 5)]
    count: Option<usize>,
}

fn count(c: Option<usize>) -> ApiResult<usize> {
    match c.unwrap_or(5) {
        n @ 1..=100 => Ok(n),
        n => Err(ApiError::invalid(format!("count {n}: expected 1 to 100"))),
    }
}

/// Fire times, RFC 3339 in the job's zone.
#[derive(Serialize, utoipa::ToSchema)]
pub struct FireTimes {
    times: Vec<String>,
}

#[utoipa::path(get, path = "/jobs/{id}/next", tag = "jobs",
    params(("id" = String, Path, description = "Job id"), Count),
    responses((status = 200, body = FireTimes), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn next_fire_times(
    State(s): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    Query(c): Query<Count>,
) -> ApiResult<Json<FireTimes>> {
    job_for(&s, &who, &id).await?;
    let times = s.jobs.next_fire_times(&id, count(c.count)?).await?;
    Ok(Json(FireTimes {
        times: times.iter().map(|t| t.to_rfc3339()).collect(),
    }))
}

/// A schedule to preview before it is saved.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CronPreview {
    cron: String,
    /// IANA zone; empty: the server's.
    #[serde(default)]
    timezone: String,
    #[serde(default)]
    cron_syntax: CronSyntax,
    /// How many (1..=100, default 5).
    #[schema(minimum = 1, maximum = 100, default = 5)]
    count: Option<usize>,
}

#[utoipa::path(post, path = "/cron/preview", tag = "jobs",
    request_body = CronPreview,
    responses((status = 200, description = "The next fire times", body = FireTimes),
               (status = 400, description = "The expression or zone is not valid, and why", body = ErrorBody)))]
async fn preview_cron(Json(p): Json<CronPreview>) -> ApiResult<Json<FireTimes>> {
    let conf = JobConf {
        cron: p.cron,
        timezone: p.timezone,
        cron_syntax: p.cron_syntax,
        ..Default::default()
    };
    let tz = crate::jobs::timezone(&conf)?;
    let times = crate::jobs::schedule(&conf)?
        .upcoming(chrono::Utc::now(), count(p.count)?)
        .into_iter()
        .map(|t| t.with_timezone(&tz).to_rfc3339())
        .collect();
    Ok(Json(FireTimes { times }))
}

#[utoipa::path(get, path = "/groups", tag = "groups",
    responses((status = 200, description = "Every group, by name", body = Items<GroupConf>)))]
async fn list_groups(
    State(s): State<AppState>,
    Extension(who): Extension<Principal>,
) -> ApiResult<Json<Items<GroupConf>>> {
    let mut items = s.jobs.groups().await?;
    items.retain(|g| who.sees_group(&g.name));
    Ok(Json(Items { items }))
}

#[utoipa::path(post, path = "/groups", tag = "groups",
    request_body = GroupConf,
    responses((status = 201, body = GroupConf), (status = 400, body = ErrorBody),
               (status = 409, description = "The group exists", body = ErrorBody)))]
async fn create_group(
    State(s): State<AppState>,
    Extension(who): Extension<Principal>,
    Json(body): Json<Value>,
) -> ApiResult<(StatusCode, Json<GroupConf>)> {
    let group = GroupConf::from_json(body.to_string().as_bytes())
        .map_err(|e| ApiError::invalid(format!("the group is not valid: {e}")))?;
    check_group(&who, &group.name)?;
    Ok((StatusCode::CREATED, Json(s.jobs.add_group(group).await?)))
}
