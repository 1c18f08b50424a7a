//! Workers online and the snapshots waiting for them.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Extension;
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::Items;
use crate::auth::Principal;
use crate::http::auth::{check_group, scope_group};
use crate::http::error::{ApiResult, ErrorBody, Json, Path, Query};
use crate::http::AppState;
use crate::jobs::snapshots::Waiting;
use crate::kv::ops;
use crate::model::{keys, JobSnapshot, WireJson, WorkerInfo};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_workers))
        .routes(routes!(list_snapshots))
        .routes(routes!(withdraw_snapshot))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WorkerFilter {
    /// Only this group's.
    group: Option<String>,
    /// Only this worker's (with `group`).
    worker: Option<String>,
}

impl WorkerFilter {
    fn group(&self) -> Option<&str> {
        self.group.as_deref().filter(|g| !g.is_empty())
    }
}

/// A worker online.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Worker {
    #[serde(flatten)]
    info: WorkerInfo,
    /// An original etcd client: it registered only the original key, so the details are
    /// unknown.
    legacy: bool,
    /// The runs it holds: claimed and running, by snapshot id.
    running: Vec<String>,
}

#[utoipa::path(get, path = "/workers", tag = "workers",
    params(WorkerFilter),
    responses((status = 200, description = "Workers online, by group and name", body = Items<Worker>)))]
async fn list_workers(
    State(s): State<AppState>,
    Extension(who): Extension<Principal>,
    Query(mut filter): Query<WorkerFilter>,
) -> ApiResult<Json<Items<Worker>>> {
    filter.group = scope_group(&who, filter.group())?;
    let groups: Vec<String> = match filter.group() {
        Some(g) => vec![g.to_string()],
        None => s.jobs.groups().await?.into_iter().map(|g| g.name).collect(),
    };
    let mut workers: BTreeMap<(String, String), Worker> = BTreeMap::new();
    for group in &groups {
        let clients =
            s.kv.range(ops::prefix_range(&keys::clients_prefix(group)))
                .await?;
        for kv in clients.kvs {
            let Some((g, name)) = std::str::from_utf8(&kv.key)
                .ok()
                .and_then(keys::parse_client_key)
            else {
                continue;
            };
            workers.insert(
                (g.to_string(), name.to_string()),
                Worker {
                    info: WorkerInfo {
                        group: g.to_string(),
                        name: name.to_string(),
                        lease: kv.lease,
                        ..Default::default()
                    },
                    legacy: true,
                    running: vec![],
                },
            );
        }
        let infos =
            s.kv.range(ops::prefix_range(&format!(
                "{}{group}/",
                keys::WORKER_PREFIX
            )))
            .await?;
        for kv in infos.kvs {
            if let Ok(info) = WorkerInfo::from_json(&kv.value) {
                if let Some(w) = workers.get_mut(&(info.group.clone(), info.name.clone())) {
                    w.info = info;
                    w.legacy = false;
                }
            }
        }
        let runs =
            s.kv.range(ops::prefix_range(&keys::execute_group_prefix(group)))
                .await?;
        for kv in runs.kvs {
            let Some(work) = std::str::from_utf8(&kv.key)
                .ok()
                .and_then(keys::parse_execute_snapshot_key)
            else {
                continue;
            };
            if let Some(w) = workers.get_mut(&(work.group.to_string(), work.worker.to_string())) {
                w.running.push(work.id.to_string());
            }
        }
    }
    Ok(Json(Items {
        items: workers
            .into_values()
            .filter(|w| {
                filter
                    .worker
                    .as_deref()
                    .is_none_or(|n| n.is_empty() || w.info.name == n)
            })
            .collect(),
    }))
}

/// A snapshot no worker has taken yet.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Snapshot {
    state: Waiting,
    #[serde(flatten)]
    snapshot: JobSnapshot,
}

#[utoipa::path(get, path = "/snapshots", tag = "snapshots",
    params(WorkerFilter),
    responses((status = 200, description = "Ticks waiting for a worker, then ticks dispatched and not yet claimed", body = Items<Snapshot>)))]
async fn list_snapshots(
    State(s): State<AppState>,
    Extension(who): Extension<Principal>,
    Query(mut filter): Query<WorkerFilter>,
) -> ApiResult<Json<Items<Snapshot>>> {
    filter.group = scope_group(&who, filter.group())?;
    let worker = filter.worker.as_deref().filter(|w| !w.is_empty());
    let items = s
        .jobs
        .unclaimed(filter.group(), worker.filter(|_| filter.group().is_some()))
        .await?
        .into_iter()
        .filter(|u| worker.is_none_or(|w| u.snapshot.ip == w))
        .map(|u| Snapshot {
            state: u.state,
            snapshot: u.snapshot,
        })
        .collect();
    Ok(Json(Items { items }))
}

#[utoipa::path(delete, path = "/snapshots/{group}/{id}", tag = "snapshots",
    params(("group" = String, Path), ("id" = String, Path, description = "Snapshot id")),
    responses((status = 204, description = "Withdrawn: the tick is recorded cancelled"),
               (status = 404, description = "No such snapshot, or a worker took it first", body = ErrorBody)))]
async fn withdraw_snapshot(
    State(s): State<AppState>,
    Extension(who): Extension<Principal>,
    Path((group, id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    check_group(&who, &group)?;
    s.jobs
        .withdraw(
            &group,
            &id,
            "withdrawn by an operator before a worker took it",
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
