//! The original forest's HTTP API (forest-compat §3), so that its duck UI and the scripts
//! written for it work against Forest unchanged: thirteen `POST` routes at the root, grouped
//! as duck's menus group them ([`jobs`]: jobs and groups; [`cluster`]: nodes, plans,
//! workers; [`snapshots`]: waiting runs and the execution history).
//!
//! What the original did, Forest does:
//! - every handled request answers HTTP 200 with `{"code":0|-1,"data":…,"message":"…"}`
//!   written as Echo wrote it, `?pretty` included ([`envelope`]); `data` is `null` where the
//!   original's empty lists were nil slices and `[]` where they were not;
//! - the original's Chinese messages, checked in the original's order, `查询成成功` included;
//! - bodies read as Echo's `c.Bind` read them: JSON with field names in any case, or a form
//!   ([`bind`]); routes that did not bind accept any body;
//! - CORS open to any origin, on these routes only; every preflight answers 204;
//! - a wrong method answers 405 `{"message":"Method Not Allowed"}`, an unknown path 404
//!   `{"message":"Not Found"}`.
//!
//! Each route calls the services the REST API calls (the job service, KV reads, the history
//! store), so what is checked and written is the same whichever API is used; failures the
//! original had no message for (the cluster has no leader, a field longer than Forest
//! stores) answer code -1 with their text.
//!
//! Bugs of the original fixed where duck meets them (§3.2, §7.2):
//! - `"status":""` (duck's cleared select), `"group":""` and `{}` mean no filter; the
//!   original refused the first;
//! - `/snapshot/list` by group, ip and id finds the snapshot and `/snapshot/delete` deletes
//!   it (the original built `…/<ip>//<id>` and found nothing, item 3); a delete that finds
//!   nothing says `此任务快照不存在` instead of claiming success;
//! - `/job/edit` takes the whole row duck sends back: the `version` in it is the version the
//!   edit applies to (compare-and-swap), fields Forest does not know are ignored;
//! - `/execute/snapshot/list` filters by `jobId` (item 17), and a page past the end is an
//!   empty page;
//! - `/job/execute` with no worker of the group online queues the run until one comes
//!   (within its starting deadline) where the original refused, and a second run before the
//!   first is taken no longer fails (item 2).
//!
//! Where Forest has more state than the original: `/snapshot/list` also shows the runs
//! waiting in `/forest/server/pending/<group>/` for a worker (their ip is empty) and
//! `/snapshot/delete` deletes them by group and id; `/plan/list` reads the next fire time
//! from the job's schedule and the previous one from its firing cursor, and fills `status`.

mod bind;
mod cluster;
mod envelope;
mod jobs;
mod snapshots;

use axum::handler::Handler;
use axum::http::{header, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{post, MethodRouter, Router};
use tower_http::cors::{Any, CorsLayer};

use super::AppState;

/// The original's routes, with its CORS and answer conventions.
pub fn router() -> Router<AppState> {
    // Echo's CORS middleware as the original configured it.
    let cors = CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([
            Method::GET,
            Method::HEAD,
            Method::PUT,
            Method::PATCH,
            Method::POST,
            Method::DELETE,
        ])
        .allow_headers([
            header::ORIGIN,
            header::CONTENT_TYPE,
            header::ACCEPT,
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
        ]);
    Router::new()
        .merge(jobs::router())
        .merge(cluster::router())
        .merge(snapshots::router())
        .layer(cors)
        .layer(middleware::from_fn(preflight_no_content))
        .layer(middleware::from_fn(envelope::pretty))
}

/// A route that answers `POST` only; other methods get Echo's 405.
fn post_only<H, T>(handler: H) -> MethodRouter<AppState>
where
    H: Handler<T, AppState>,
    T: 'static,
{
    post(handler).fallback(method_not_allowed)
}

/// Echo's answer to an unknown path, which the node gives for any path outside the API.
pub(super) fn not_found() -> Response {
    envelope::json(
        StatusCode::NOT_FOUND,
        &serde_json::json!({ "message": "Not Found" }),
    )
}

async fn method_not_allowed() -> Response {
    let mut resp = envelope::json(
        StatusCode::METHOD_NOT_ALLOWED,
        &serde_json::json!({ "message": "Method Not Allowed" }),
    );
    resp.headers_mut()
        .insert(header::ALLOW, header::HeaderValue::from_static("POST"));
    resp
}

/// The CORS layer answers a preflight 200 with no body; Echo answered 204 No Content, which
/// clients written against the original may check.
async fn preflight_no_content(req: axum::extract::Request, next: Next) -> Response {
    let preflight = req.method() == Method::OPTIONS;
    let mut resp = next.run(req).await;
    if preflight && resp.status() == StatusCode::OK {
        *resp.status_mut() = StatusCode::NO_CONTENT;
    }
    resp
}
