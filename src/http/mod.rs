//! The HTTP listener (`--http-addr`, DESIGN §7): the REST API v1 under `/api/v1` with its
//! OpenAPI document, the original forest's POST routes, server-sent events, `/metrics`,
//! `/healthz`, `/readyz` and the embedded web UI.
//!
//! Handlers hold no state of their own: they call the same services the gRPC API calls (the
//! job service, the history store, KV reads), so both APIs validate and answer alike. Any node
//! answers any request; a write goes to the leader inside [`Kv`].

pub mod api;
pub mod auth;
pub mod error;
pub mod events;
mod health;
mod legacy;
pub mod metrics;
mod ui;

use axum::extract::DefaultBodyLimit;
use forest_storage::history::History;

use crate::jobs::Jobs;
use crate::kv::Kv;

/// The largest request body any route reads: a job is a few KiB; this leaves room for long
/// params without letting a client make a node buffer megabytes.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// What every handler may reach.
#[derive(Clone)]
pub struct AppState {
    pub kv: Kv,
    pub jobs: Jobs,
    pub history: History,
    pub events: events::Events,
    pub auth: auth::HttpAuth,
}

impl AppState {
    pub fn new(kv: Kv, history: History, auth: auth::HttpAuth) -> Self {
        AppState {
            auth,
            jobs: Jobs::new(kv.clone()),
            events: events::Events::start(kv.clone()),
            kv,
            history,
        }
    }
}

/// Every HTTP route of a node.
pub fn router(state: AppState) -> axum::Router {
    axum::Router::new()
        .merge(api::router())
        .merge(legacy::router())
        .merge(health::router())
        .merge(metrics::router())
        .merge(ui::router())
        .fallback(no_route)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::authenticate,
        ))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

/// An unknown path: the API's error shape under `/api/`, elsewhere the original's
/// `{"message":"Not Found"}` (what its Echo server said, and what duck expects).
async fn no_route(method: axum::http::Method, uri: axum::http::Uri) -> axum::response::Response {
    use axum::response::IntoResponse;
    if uri.path().starts_with(api::BASE) {
        let msg = format!("no route {method} {}", uri.path());
        return error::ApiError::new(axum::http::StatusCode::NOT_FOUND, "no_route", msg)
            .into_response();
    }
    legacy::not_found()
}
