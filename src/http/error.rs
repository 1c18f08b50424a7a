//! How the REST API says no: `{"error":{"code","message"}}` with the HTTP status that fits.
//!
//! Every failure of the services below (the job service, the KV door, the history store) and
//! every malformed request (a body that is not JSON, a bad query string) becomes one
//! [`ApiError`], so a client reads the same shape for all of them. `code` is a stable word a
//! script may match on; `message` is for people.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use forest_storage::history::HistoryError;
use serde::Serialize;

use crate::cluster::ClusterError;
use crate::jobs::JobError;
use crate::kv::KvError;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

/// The body of every error answer.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// `invalid`, `not_found`, `exists`, `conflict`, `unavailable`, `too_large`, `internal`.
    pub code: String,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.to_string(),
                message: self.message,
            },
        };
        (self.status, axum::Json(body)).into_response()
    }
}

impl From<KvError> for ApiError {
    fn from(e: KvError) -> Self {
        let msg = e.to_string();
        match e {
            KvError::InvalidArgument(_) => ApiError::invalid(msg),
            KvError::Cluster(ClusterError::NoLeader(_) | ClusterError::NotLeader) => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", msg)
            }
            KvError::Cluster(ClusterError::Unknown(_)) => ApiError::new(
                StatusCode::GATEWAY_TIMEOUT,
                "unknown_outcome",
                format!("{msg} (the change may or may not have been made: read it back)"),
            ),
            KvError::Remote(s) if s.code() == tonic::Code::Unavailable => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", msg)
            }
            _ => ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", msg),
        }
    }
}

impl From<JobError> for ApiError {
    fn from(e: JobError) -> Self {
        let msg = e.to_string();
        match e {
            JobError::Invalid(_) | JobError::UnknownGroup(_) => ApiError::invalid(msg),
            JobError::NotFound(_) | JobError::SnapshotNotFound { .. } => ApiError::not_found(msg),
            JobError::Exists(_) => ApiError::new(StatusCode::CONFLICT, "exists", msg),
            JobError::Conflict { .. } => ApiError::new(StatusCode::CONFLICT, "conflict", msg),
            JobError::Kv(e) => e.into(),
        }
    }
}

impl From<HistoryError> for ApiError {
    fn from(e: HistoryError) -> Self {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            format!("history store: {e}"),
        )
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        // A body of the wrong shape is 400 like any other invalid input (axum says 422), on
        // routes that read a typed body as on those that read a JSON value and check it.
        let (status, code) = match r.status() {
            StatusCode::PAYLOAD_TOO_LARGE => (StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => (StatusCode::UNSUPPORTED_MEDIA_TYPE, "invalid"),
            _ => (StatusCode::BAD_REQUEST, "invalid"),
        };
        ApiError::new(status, code, r.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        ApiError::invalid(r.body_text())
    }
}

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> Self {
        ApiError::invalid(r.body_text())
    }
}

/// `axum::Json` whose rejections answer in [`ApiError`]'s shape.
#[derive(axum::extract::FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct Json<T>(pub T);

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// `axum::extract::Query` whose rejections answer in [`ApiError`]'s shape.
#[derive(axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct Query<T>(pub T);

/// `axum::extract::Path` whose rejections answer in [`ApiError`]'s shape.
#[derive(axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct Path<T>(pub T);

pub type ApiResult<T> = Result<T, ApiError>;
