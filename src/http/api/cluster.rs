//! The cluster as its members describe themselves.

use axum::extract::State;
use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::error::Json;
use crate::http::AppState;
use crate::kv::service::KvService;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(cluster))
}

/// One member.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Member {
    id: u64,
    name: String,
    /// Its gRPC address.
    addr: String,
    /// leader, follower, candidate, learner, or unreachable.
    role: String,
    term: u64,
    last_log_index: u64,
    applied_index: u64,
    /// Its KV revision.
    revision: i64,
    /// Why it could not be asked, when unreachable.
    error: String,
}

/// The cluster as this node sees it.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClusterView {
    /// The node that answered.
    id: u64,
    name: String,
    /// 0 when no leader is known.
    leader_id: u64,
    members: Vec<Member>,
}

#[utoipa::path(get, path = "/cluster", tag = "cluster",
    responses((status = 200, description = "Every member, each asked for its own state", body = ClusterView)))]
async fn cluster(State(s): State<AppState>) -> Json<ClusterView> {
    let status = KvService::new(s.kv.clone()).cluster_status().await;
    let c = s.kv.cluster();
    Json(ClusterView {
        id: c.id(),
        name: c.name().to_string(),
        leader_id: status.leader_id,
        members: status
            .members
            .into_iter()
            .map(|m| Member {
                id: m.id,
                name: m.name,
                addr: m.addr,
                role: m.role,
                term: m.term,
                last_log_index: m.last_log_index,
                applied_index: m.applied_index,
                revision: m.revision,
                error: m.error,
            })
            .collect(),
    })
}
