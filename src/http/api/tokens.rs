//! API tokens: made (the token text is shown in this one answer, never again), listed without
//! secrets, revoked. Admin only (the auth layer sees to it).

use axum::extract::State;
use axum::http::StatusCode;
use axum::Extension;
use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::Items;
use crate::auth::tokens::{NewToken, TokenRecord, Tokens};
use crate::auth::Principal;
use crate::http::auth::check_unscoped;
use crate::http::error::{ApiError, ApiResult, ErrorBody, Json, Path};
use crate::http::AppState;
use crate::model::keys;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_tokens, create_token))
        .routes(routes!(revoke_token))
}

fn tokens(s: &AppState) -> Tokens {
    Tokens::new(s.kv.clone())
}

/// A token just made: its record, and the token itself, shown only here.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Created {
    #[serde(flatten)]
    record: TokenRecord,
    token: String,
}

#[utoipa::path(get, path = "/tokens", tag = "tokens",
    responses((status = 200, description = "Every token, without its secret", body = Items<TokenRecord>)))]
async fn list_tokens(
    State(s): State<AppState>,
    Extension(who): Extension<Principal>,
) -> ApiResult<Json<Items<TokenRecord>>> {
    check_unscoped(&who)?;
    Ok(Json(Items {
        items: tokens(&s).list().await?,
    }))
}

#[utoipa::path(post, path = "/tokens", tag = "tokens",
    request_body = NewToken,
    responses((status = 201, description = "The token; its text is not shown again", body = Created),
               (status = 400, body = ErrorBody)))]
async fn create_token(
    State(s): State<AppState>,
    Extension(who): Extension<Principal>,
    Json(new): Json<NewToken>,
) -> ApiResult<(StatusCode, Json<Created>)> {
    // A token limited to some groups could otherwise make itself one for every group.
    check_unscoped(&who)?;
    if let Some(bad) = new.groups.iter().find(|g| !keys::is_valid_segment(g)) {
        return Err(ApiError::invalid(format!(
            "group {bad:?} is not a group name"
        )));
    }
    if new.expires_at.is_some_and(|t| t <= chrono::Utc::now()) {
        return Err(ApiError::invalid("expiresAt is in the past"));
    }
    let (record, token) = tokens(&s).create(new).await?.ok_or_else(|| {
        ApiError::new(
            StatusCode::CONFLICT,
            "exists",
            "drawn token id taken: try again",
        )
    })?;
    tracing::info!(token = %record.id, role = ?record.role, "token created");
    Ok((StatusCode::CREATED, Json(Created { record, token })))
}

#[utoipa::path(delete, path = "/tokens/{id}", tag = "tokens",
    params(("id" = String, Path, description = "Token id")),
    responses((status = 204, description = "Revoked"), (status = 404, body = ErrorBody)))]
async fn revoke_token(
    State(s): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    check_unscoped(&who)?;
    if !keys::is_valid_segment(&id) || !tokens(&s).revoke(&id).await? {
        return Err(ApiError::not_found(format!("token {id} not found")));
    }
    tracing::info!(token = %id, "token revoked");
    Ok(StatusCode::NO_CONTENT)
}
