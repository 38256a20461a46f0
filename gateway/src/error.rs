//! The gateway's one error type, and the one pure function that maps a SQLSTATE raised in the
//! database to an HTTP status (README, "HTTP API", the error table).
//!
//! What a client sees is the seed's shape, `{"error": ..., "detail": ...}`. For the classes
//! the extension raises on purpose (token, access, slug, tenant, conflict, limit, state), the
//! database's own message and detail are passed through: they carry the seed's texts
//! (`Missing X-Tenant header`, `Access denied` / `User does not belong to tenant`, ...). For
//! everything else the body is generic and the cause goes to the log only.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// The error body of every non-2xx response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, ToSchema)]
pub struct ErrorBody {
    /// What went wrong, e.g. `Missing X-Tenant header`.
    pub error: String,
    /// Why, e.g. `X-Tenant header is required in multi-tenant mode for this endpoint`.
    pub detail: String,
}

/// Whether the database's message and detail may be shown to the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exposure {
    /// The extension raises this class with texts meant for the caller (the seed's).
    PassThrough,
    /// PostgreSQL's own wording (constraint names, values): a generic text instead.
    Generic,
}

/// The HTTP status for a SQLSTATE, and whether its texts may be shown. Pure: the whole
/// mapping is here and unit-tested.
pub fn status_for_sqlstate(code: &str) -> (StatusCode, Exposure) {
    use Exposure::*;
    match code {
        // invalid_authorization_specification: the token does not verify, or no identity.
        "28000" => (StatusCode::UNAUTHORIZED, PassThrough),
        // insufficient_privilege: access denied, not an operator, permission denied.
        "42501" => (StatusCode::FORBIDDEN, PassThrough),
        // invalid_parameter_value (bad slug, claim, argument), null_value_not_allowed
        // (missing tenant).
        "22023" | "22004" => (StatusCode::BAD_REQUEST, PassThrough),
        // undefined_object: unknown tenant, member, key.
        "42704" => (StatusCode::NOT_FOUND, PassThrough),
        // unique_violation: the name is taken.
        "23505" => (StatusCode::CONFLICT, PassThrough),
        // program_limit_exceeded: a configured limit (Tenant limit reached). A quota, not a
        // rate: retrying does not help, so 403 rather than 429.
        "54000" => (StatusCode::FORBIDDEN, PassThrough),
        // object_not_in_prerequisite_state: the resource's state forbids it (suspended or
        // pending tenant, the last owner, registration outside multi-tenant mode).
        "55000" => (StatusCode::CONFLICT, PassThrough),
        // read_only_sql_transaction: a hot standby or read-only server; try again elsewhere.
        "25006" => (StatusCode::SERVICE_UNAVAILABLE, Generic),
        // foreign_key_violation: what the row points at went away meanwhile.
        "23503" => (StatusCode::CONFLICT, Generic),
        // Other integrity constraints and data exceptions: the request's values.
        "23502" | "23514" => (StatusCode::BAD_REQUEST, Generic),
        c if c.starts_with("22") => (StatusCode::BAD_REQUEST, Generic),
        // query_canceled (statement_timeout), serialization failure, deadlock, operator
        // intervention (shutdown, restart), connection exceptions, too many connections,
        // lock not available: the database is busy or going away.
        "57014" | "40001" | "40P01" | "53300" | "55P03" => {
            (StatusCode::SERVICE_UNAVAILABLE, Generic)
        }
        c if c.starts_with("57P") || c.starts_with("08") => {
            (StatusCode::SERVICE_UNAVAILABLE, Generic)
        }
        _ => (StatusCode::INTERNAL_SERVER_ERROR, Generic),
    }
}

/// The generic texts of a status, for what must not be passed through.
fn generic_texts(status: StatusCode) -> (&'static str, &'static str) {
    match status {
        StatusCode::BAD_REQUEST => (
            "Invalid request",
            "A value in the request is not accepted by the database",
        ),
        StatusCode::CONFLICT => (
            "Conflict",
            "The request conflicts with the current state of the data",
        ),
        StatusCode::SERVICE_UNAVAILABLE => (
            "Service unavailable",
            "The database is not available right now; try again",
        ),
        _ => (
            "Internal server error",
            "The request could not be completed",
        ),
    }
}

/// The server's SQLSTATE, message and detail (the `Display` of the client's error only says
/// "db error"), for the log.
fn db_text(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!(
            "{} {}{}",
            db.code().code(),
            db.message(),
            db.detail().map(|d| format!(" ({d})")).unwrap_or_default()
        ),
        None => e.to_string(),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// An error from the database or the connection to it.
    #[error("database: {}", db_text(.0))]
    Db(#[from] tokio_postgres::Error),
    /// No pooled connection could be had in time, or none could be opened.
    #[error("connection pool: {0}")]
    Pool(#[from] deadpool_postgres::PoolError),
    /// A request the gateway can refuse without asking the database (malformed JSON or
    /// path).
    #[error("{error}: {detail}")]
    BadRequest {
        status: StatusCode,
        error: String,
        detail: String,
    },
    /// Not found, with the seed-style texts.
    #[error("{0}")]
    NotFound(&'static str),
    /// The request took longer than the gateway's request timeout.
    #[error("request timed out")]
    Timeout,
    /// Something in the gateway itself that should not happen (a row of an unexpected shape).
    #[error("internal: {0}")]
    Internal(String),
}

impl ApiError {
    pub fn bad_request(error: impl Into<String>, detail: impl Into<String>) -> Self {
        ApiError::BadRequest {
            status: StatusCode::BAD_REQUEST,
            error: error.into(),
            detail: detail.into(),
        }
    }

    /// The status and body a client gets.
    pub fn response_parts(&self) -> (StatusCode, ErrorBody) {
        let body = |status: StatusCode| {
            let (error, detail) = generic_texts(status);
            ErrorBody {
                error: error.into(),
                detail: detail.into(),
            }
        };
        match self {
            ApiError::Db(e) => match e.as_db_error() {
                Some(db) => {
                    let (status, exposure) = status_for_sqlstate(db.code().code());
                    // A PostgreSQL constraint error names the constraint: never passed on.
                    if exposure == Exposure::PassThrough && db.constraint().is_none() {
                        let error = db.message().to_owned();
                        let detail = db.detail().unwrap_or(db.message()).to_owned();
                        (status, ErrorBody { error, detail })
                    } else {
                        (status, body(status))
                    }
                }
                // The connection broke (server restart, network): the pool replaces it.
                None => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    body(StatusCode::SERVICE_UNAVAILABLE),
                ),
            },
            ApiError::Pool(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorBody {
                    error: "Service unavailable".into(),
                    detail: "No database connection is available; try again".into(),
                },
            ),
            ApiError::BadRequest {
                status,
                error,
                detail,
            } => (
                *status,
                ErrorBody {
                    error: error.clone(),
                    detail: detail.clone(),
                },
            ),
            ApiError::NotFound(detail) => (
                StatusCode::NOT_FOUND,
                ErrorBody {
                    error: "Not found".into(),
                    detail: (*detail).into(),
                },
            ),
            ApiError::Timeout => (
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorBody {
                    error: "Request timed out".into(),
                    detail: "The request did not complete in time; try again".into(),
                },
            ),
            ApiError::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                body(StatusCode::INTERNAL_SERVER_ERROR),
            ),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, body) = self.response_parts();
        if status.is_server_error() {
            // The cause, for the operator; the client got the generic body.
            tracing::error!(status = status.as_u16(), error = %self, "request failed");
        } else {
            tracing::debug!(status = status.as_u16(), error = %body.error, "request refused");
        }
        let mut response = (status, axum::Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// A plain error response of the seed's shape, for the gateway's own refusals (limits).
pub fn error_response(status: StatusCode, error: &str, detail: &str) -> Response {
    ApiError::BadRequest {
        status,
        error: error.into(),
        detail: detail.into(),
    }
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_extensions_classes_map_to_their_documented_statuses() {
        let cases = [
            ("28000", 401),
            ("42501", 403),
            ("22023", 400),
            ("22004", 400),
            ("42704", 404),
            ("23505", 409),
            ("54000", 403),
            ("55000", 409),
            ("25006", 503),
        ];
        for (code, status) in cases {
            assert_eq!(status_for_sqlstate(code).0.as_u16(), status, "{code}");
        }
    }

    #[test]
    fn the_extensions_texts_pass_through_and_postgres_texts_do_not() {
        for code in [
            "28000", "42501", "22023", "22004", "42704", "23505", "54000", "55000",
        ] {
            assert_eq!(status_for_sqlstate(code).1, Exposure::PassThrough, "{code}");
        }
        for code in [
            "25006", "23503", "23514", "22P02", "57014", "XX000", "38000", "42P01",
        ] {
            assert_eq!(status_for_sqlstate(code).1, Exposure::Generic, "{code}");
        }
    }

    #[test]
    fn unavailability_is_503_and_the_unforeseen_is_500() {
        for code in [
            "57014", "57P01", "57P03", "08006", "53300", "40001", "40P01",
        ] {
            assert_eq!(
                status_for_sqlstate(code).0,
                StatusCode::SERVICE_UNAVAILABLE,
                "{code}"
            );
        }
        for code in ["XX000", "38000", "42P01", "42883", "P0001", ""] {
            assert_eq!(
                status_for_sqlstate(code).0,
                StatusCode::INTERNAL_SERVER_ERROR,
                "{code}"
            );
        }
        for code in ["22P02", "22021", "22P05", "23502", "23514"] {
            assert_eq!(
                status_for_sqlstate(code).0,
                StatusCode::BAD_REQUEST,
                "{code}"
            );
        }
        assert_eq!(status_for_sqlstate("23503").0, StatusCode::CONFLICT);
    }

    #[test]
    fn internal_errors_show_nothing_internal() {
        let (status, body) = ApiError::Internal("row had 3 columns".into()).response_parts();
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!body.detail.contains("column"));
        let (status, body) = ApiError::Timeout.response_parts();
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(body.error, "Request timed out");
    }
}
