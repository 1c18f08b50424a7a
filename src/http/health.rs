//! `/healthz`: the process is up, and what it knows of the cluster. `/readyz`: it can serve
//! requests (a leader is known, Raft runs, the history store answers), 503 and the reasons
//! otherwise, for load balancers and orchestrators.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};

use super::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

async fn healthz(State(s): State<AppState>) -> axum::Json<Value> {
    let cluster = s.kv.cluster();
    let m = cluster.metrics();
    axum::Json(json!({
        "id": cluster.id(),
        "name": cluster.name(),
        "state": format!("{:?}", m.state),
        "leader": m.current_leader,
        "term": m.current_term,
    }))
}

async fn readyz(State(s): State<AppState>) -> (StatusCode, axum::Json<Value>) {
    let m = s.kv.cluster().metrics();
    let mut reasons = Vec::new();
    if let Err(e) = &m.running_state {
        reasons.push(format!("raft stopped: {e}"));
    }
    if m.current_leader.is_none() {
        reasons.push("no leader known".to_string());
    }
    if let Err(e) = s.history.applied().await {
        reasons.push(format!("history store: {e}"));
    }
    let status = if reasons.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        axum::Json(json!({
            "ready": reasons.is_empty(),
            "leader": m.current_leader,
            "reasons": reasons,
            // Said on every probe, as on every start: anyone who reaches a listener may act.
            "insecure": s.auth.insecure,
        })),
    )
}
