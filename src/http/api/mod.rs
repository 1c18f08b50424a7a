//! REST API v1: JSON under `/api/v1`, errors as `{"error":{"code","message"}}`
//! ([`super::error`]), lists as one page `{"items","total","page","pageSize"}`.
//!
//! Each route is declared once, with `#[utoipa::path]` beside its handler; the router and the
//! OpenAPI document served at `/api/v1/openapi.json` are both built from those declarations,
//! so the document cannot drift from what the server does.

mod cluster;
mod jobs;
mod runs;
mod tokens;
mod workers;

use axum::routing::get;
use serde::{Deserialize, Serialize};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;

/// The API's prefix.
pub const BASE: &str = "/api/v1";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Forest API",
        description = "A distributed cron scheduler: jobs, groups, workers, pending snapshots, executions and the cluster."
    ),
    components(schemas(super::error::ErrorBody))
)]
struct ApiDoc;

/// The API's routes and, at `/api/v1/openapi.json`, its document.
pub fn router() -> axum::Router<AppState> {
    let (routes, doc) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(super::events::stream))
        .nest(
            BASE,
            jobs::router()
                .merge(runs::router())
                .merge(workers::router())
                .merge(cluster::router())
                .merge(tokens::router()),
        )
        .split_for_parts();
    let mut doc = doc;
    document_refusals(&mut doc);
    let doc = std::sync::Arc::new(doc);
    routes.route(
        &format!("{BASE}/openapi.json"),
        get(move || {
            let doc = doc.clone();
            async move { axum::Json(doc.as_ref().clone()) }
        }),
    )
}

/// Adds to every operation the answers given before its handler runs, which no
/// `#[utoipa::path]` lists: with `--auth`, 401 without a valid token and 403 when the token's
/// role or groups do not allow the route ([`super::auth`]), and the extractors' 400 for a
/// query or path that does not parse or a body that is not the JSON the route reads, 413 for
/// a body over [`super::MAX_BODY_BYTES`] and 415 for one without `Content-Type:
/// application/json`. Declares the bearer token every operation takes, and gives each answer
/// the description OpenAPI requires (its reason phrase) where the declaration has none.
fn document_refusals(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement};
    use utoipa::openapi::{RefOr, Response};
    doc.components
        .get_or_insert_with(Default::default)
        .add_security_scheme(
            "bearer",
            utoipa::openapi::security::SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An API token (`forest ctl token create`), required with --auth",
                    ))
                    .build(),
            ),
        );
    doc.security = Some(vec![SecurityRequirement::new(
        "bearer",
        Vec::<String>::new(),
    )]);
    let error = |description: &str| -> RefOr<Response> {
        let body = utoipa::openapi::Content::new(Some(utoipa::openapi::Ref::from_schema_name(
            "ErrorBody",
        )));
        utoipa::openapi::ResponseBuilder::new()
            .description(description)
            .content("application/json", body)
            .build()
            .into()
    };
    for item in doc.paths.paths.values_mut() {
        let ops = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ];
        for op in ops.into_iter().flatten() {
            let takes_params = op.parameters.as_ref().is_some_and(|p| !p.is_empty());
            let takes_body = op.request_body.is_some();
            let answers = &mut op.responses.responses;
            let mut add = |status: &str, description: &str| {
                answers
                    .entry(status.to_string())
                    .or_insert_with(|| error(description));
            };
            add("401", "No valid API token (with --auth)");
            add("403", "The token's role or groups do not allow this");
            if takes_params || takes_body {
                add("400", "The request is not valid, and why");
            }
            if takes_body {
                add("413", "The body is too large");
                add("415", "The body is not sent as application/json");
            }
            for (status, answer) in answers.iter_mut() {
                if let RefOr::T(answer) = answer {
                    if answer.description.is_empty() {
                        answer.description = status
                            .parse::<axum::http::StatusCode>()
                            .ok()
                            .and_then(|s| s.canonical_reason())
                            .unwrap_or("Answer")
                            .to_string();
                    }
                }
            }
        }
    }
}

/// Which page of a list: 1-based, `pageSize` items (default 50, at most 1000).
#[derive(Debug, Clone, Copy, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    #[serde(default = "first_page")]
    #[param(minimum = 1, default = 1)]
    pub page: u64,
    #[serde(default = "default_page_size")]
    #[param(minimum = 1, maximum = 1000, default = 50)]
    pub page_size: u64,
}

fn first_page() -> u64 {
    1
}

fn default_page_size() -> u64 {
    50
}

/// The largest page a client may ask for.
pub const MAX_PAGE_SIZE: u64 = 1000;

impl PageQuery {
    /// The offset of the page's first item, or why the page is not one.
    pub fn offset(&self) -> Result<u64, super::error::ApiError> {
        if self.page == 0 {
            return Err(super::error::ApiError::invalid("page starts at 1"));
        }
        if self.page_size == 0 || self.page_size > MAX_PAGE_SIZE {
            return Err(super::error::ApiError::invalid(format!(
                "pageSize must be between 1 and {MAX_PAGE_SIZE}"
            )));
        }
        Ok((self.page - 1).saturating_mul(self.page_size))
    }

    /// This page of `items` (all of them, already filtered).
    pub fn slice<T>(&self, items: Vec<T>) -> Result<Paged<T>, super::error::ApiError> {
        let offset = self.offset()?;
        let total = items.len() as u64;
        let items = items
            .into_iter()
            .skip(usize::try_from(offset).unwrap_or(usize::MAX))
            .take(self.page_size as usize)
            .collect();
        Ok(Paged {
            items,
            total,
            page: self.page,
            page_size: self.page_size,
        })
    }
}

/// One page of a list.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Paged<T> {
    pub items: Vec<T>,
    /// How many items match, over all pages.
    pub total: u64,
    pub page: u64,
    pub page_size: u64,
}

/// A list that is never long enough to page.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Items<T> {
    pub items: Vec<T>,
}
