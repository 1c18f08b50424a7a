//! `/healthz`: this node is up and says what it knows of the cluster.

use axum::extract::State;
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};

use super::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/healthz", get(healthz))
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
