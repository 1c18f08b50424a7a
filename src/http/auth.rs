//! The HTTP side of [`crate::auth`]: every request names its token (`Authorization: Bearer
//! …`), and the route decides what it needs. The checked [`Principal`] travels with the
//! request, so handlers can keep a group-scoped token to its groups.
//!
//! Open without a token: `/healthz`, `/readyz`, the UI's static files (its sign-in page must
//! load) and the OpenAPI document. The original's POST routes need a token like everything
//! else, unless the node runs with `--legacy-open`, which lets loopback callers (the old duck
//! UI on the same machine) use them without one.

use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use super::AppState;
use crate::auth::{AuthError, Need, Principal};

/// Failed authentications counted in `/metrics`.
pub const AUTH_FAILURES: &str = "forest_auth_failures_total";

/// How long a failed authentication waits before it is answered: a guesser gets a few tries a
/// second per connection, a person with a typo does not notice.
pub const FAILURE_DELAY: Duration = Duration::from_millis(300);

/// How the node authenticates HTTP callers.
#[derive(Clone, Default)]
pub struct HttpAuth {
    /// `None`: auth is off, everyone is the local administrator.
    pub tokens: Option<crate::auth::tokens::Tokens>,
    /// The original's routes answer loopback callers without a token.
    pub legacy_open: bool,
    /// Non-loopback listeners were allowed without authentication (`/readyz` says so).
    pub insecure: bool,
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        let msg = e.to_string();
        match e {
            AuthError::Missing | AuthError::Invalid => {
                ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", msg)
            }
            AuthError::Forbidden { .. } | AuthError::OtherGroup(_) => {
                ApiError::new(StatusCode::FORBIDDEN, "forbidden", msg)
            }
            AuthError::Kv(e) => e.into(),
        }
    }
}

/// The original forest's routes (all POST, no prefix).
fn is_legacy(path: &str) -> bool {
    [
        "/job/",
        "/group/",
        "/node/",
        "/plan/",
        "/client/",
        "/snapshot/",
        "/execute/",
    ]
    .iter()
    .any(|p| path.starts_with(p))
}

/// What a request needs; `None`: nothing (open).
fn need(method: &Method, path: &str) -> Option<Need> {
    let open = path == "/healthz"
        || path == "/readyz"
        || path == "/"
        || path.starts_with("/web/")
        || path == "/api/v1/openapi.json";
    if open || method == Method::OPTIONS {
        return None;
    }
    let operate = |tail: &str| path.ends_with(tail) && path.starts_with("/api/v1/jobs/");
    Some(if path.starts_with("/api/v1/tokens") {
        Need::Admin
    } else if method == Method::GET || method == Method::HEAD || path == "/api/v1/cron/preview" {
        Need::Read
    } else if (method == Method::POST
        && (operate("/run") || operate("/pause") || operate("/resume")))
        || (method == Method::DELETE && path.starts_with("/api/v1/snapshots/"))
        || path == "/job/execute"
        || path == "/snapshot/delete"
    {
        Need::Operate
    } else if is_legacy(path) && path.ends_with("/list") {
        Need::Read
    } else {
        Need::Admin
    })
}

/// The request's token: its bearer header, or for the event stream (a browser's EventSource
/// cannot set headers) an `access_token` query parameter.
fn bearer(req: &Request) -> Option<String> {
    if let Some(value) = req.headers().get(header::AUTHORIZATION) {
        let (scheme, token) = value.to_str().ok()?.split_once(' ')?;
        return scheme
            .eq_ignore_ascii_case("bearer")
            .then(|| token.trim().to_string());
    }
    if req.uri().path() != "/api/v1/events" {
        return None;
    }
    url_query_token(req.uri().query()?)
}

fn url_query_token(query: &str) -> Option<String> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(query)
        .ok()?
        .into_iter()
        .find(|(k, _)| k == "access_token")
        .map(|(_, v)| v)
}

/// Checks the caller and records who it is on the request.
pub async fn authenticate(State(s): State<AppState>, mut req: Request, next: Next) -> Response {
    let Some(tokens) = &s.auth.tokens else {
        req.extensions_mut().insert(Principal::local());
        return next.run(req).await;
    };
    let path = req.uri().path().to_string();
    let Some(need) = need(req.method(), &path) else {
        return next.run(req).await;
    };
    let loopback = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .is_some_and(|c| c.0.ip().is_loopback());
    if s.auth.legacy_open && loopback && is_legacy(&path) {
        req.extensions_mut().insert(Principal::local());
        return next.run(req).await;
    }
    let checked = match bearer(&req) {
        None => Err(AuthError::Missing),
        Some(token) => tokens.verify(&token).await,
    };
    let principal = match checked {
        Ok(p) => p,
        Err(e) => {
            if matches!(e, AuthError::Missing | AuthError::Invalid) {
                metrics::counter!(AUTH_FAILURES).increment(1);
                tracing::info!(%path, reason = %e, "authentication failed");
                tokio::time::sleep(FAILURE_DELAY).await;
            }
            return unauthorized(e);
        }
    };
    if !principal.role.allows(need) {
        return unauthorized(AuthError::Forbidden {
            role: principal.role,
            need,
        });
    }
    if principal.is_scoped() && is_legacy(&path) {
        return unauthorized(AuthError::OtherGroup(
            "(the original's routes need a token for every group)".into(),
        ));
    }
    req.extensions_mut().insert(principal);
    next.run(req).await
}

fn unauthorized(e: AuthError) -> Response {
    let challenge = matches!(e, AuthError::Missing | AuthError::Invalid);
    let mut resp = ApiError::from(e).into_response();
    if challenge {
        resp.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Bearer"),
        );
    }
    resp
}

/// The group a group-scoped caller's list is about: the one asked for, if it may see it; its
/// only group, if none was asked for; otherwise the caller must say which.
pub fn scope_group(p: &Principal, asked: Option<&str>) -> Result<Option<String>, ApiError> {
    let asked = asked.filter(|g| !g.is_empty());
    match (asked, p.groups.as_slice()) {
        (_, []) => Ok(asked.map(str::to_string)),
        (Some(g), _) if p.sees_group(g) => Ok(Some(g.to_string())),
        (Some(g), _) => Err(AuthError::OtherGroup(g.to_string()).into()),
        (None, [only]) => Ok(Some(only.clone())),
        (None, many) => Err(ApiError::invalid(format!(
            "this token is limited to groups {many:?}: give ?group="
        ))),
    }
}

/// Refuses a group-scoped caller where the answer spans every group.
pub fn check_unscoped(p: &Principal) -> Result<(), ApiError> {
    if p.is_scoped() {
        return Err(AuthError::OtherGroup("(this needs a token for every group)".into()).into());
    }
    Ok(())
}

/// Refuses a caller that may not act on `group`.
pub fn check_group(p: &Principal, group: &str) -> Result<(), ApiError> {
    if p.sees_group(group) {
        Ok(())
    } else {
        Err(AuthError::OtherGroup(group.to_string()).into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_route_needs_what_its_effect_calls_for() {
        let cases = [
            (Method::GET, "/healthz", None),
            (Method::GET, "/web/app.js", None),
            (Method::GET, "/api/v1/jobs", Some(Need::Read)),
            (Method::POST, "/api/v1/cron/preview", Some(Need::Read)),
            (Method::POST, "/api/v1/jobs/x/run", Some(Need::Operate)),
            (Method::POST, "/api/v1/jobs/x/pause", Some(Need::Operate)),
            (Method::DELETE, "/api/v1/snapshots/g/x", Some(Need::Operate)),
            (Method::POST, "/api/v1/jobs", Some(Need::Admin)),
            (Method::PUT, "/api/v1/jobs/x", Some(Need::Admin)),
            (Method::DELETE, "/api/v1/jobs/x", Some(Need::Admin)),
            (Method::POST, "/api/v1/tokens", Some(Need::Admin)),
            (Method::GET, "/api/v1/tokens", Some(Need::Admin)),
            (Method::GET, "/metrics", Some(Need::Read)),
            (Method::POST, "/job/list", Some(Need::Read)),
            (Method::POST, "/job/execute", Some(Need::Operate)),
            (Method::POST, "/job/add", Some(Need::Admin)),
        ];
        for (m, path, want) in cases {
            assert_eq!(need(&m, path), want, "{m} {path}");
        }
    }
}
