//! BENCHMARK ONLY — compiled only with the `bench` cargo feature; NEVER for production.
//!
//! The baseline that `bench/gateway.sh` measures the real endpoints against: the same
//! gateway code path (pool, pipeline, `BEGIN`/`COMMIT`, row mapping, JSON) with no token
//! verification and a hand-written tenant filter, over `public.bench_boards`, an unprotected
//! copy of `boards.boards` that the benchmark creates. The tenant id comes from the
//! `X-Bench-Tenant-Id` header, unchecked: whoever can reach these routes reads any tenant.
//!
//! `/bench/unverified/...` sends `BEGIN`, the query, `COMMIT`. `/bench/postgrest/...` adds
//! the statement PostgREST runs per request, `set_config('request.jwt.claims', ..., true)`
//! (claims it verified itself; here none are verified): what one context statement per
//! request costs whatever it does, the floor of every design that sets the context in a
//! statement of its own.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::routing::get;
use axum::{Json, Router};
use tokio_postgres::types::Type;
use uuid::Uuid;

use crate::api::{board_of, AppState};
use crate::db::{Auth, Stmt};
use crate::error::ApiError;
use crate::models::Board;

fn tenant(headers: &HeaderMap) -> Result<Uuid, ApiError> {
    headers
        .get("x-bench-tenant-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| Uuid::parse_str(v).ok())
        .ok_or_else(|| ApiError::bad_request("Invalid request", "X-Bench-Tenant-Id must be a UUID"))
}

/// The baseline's statements: the PostgREST pattern's claims statement first when `CLAIMS`.
fn statements<const CLAIMS: bool>(tenant: Uuid, query: Stmt) -> Vec<Stmt> {
    let mut stmts = Vec::with_capacity(2);
    if CLAIMS {
        let claims = format!(r#"{{"role":"bench_app","tenant_id":"{tenant}"}}"#);
        stmts.push(
            Stmt::new("SELECT set_config('request.jwt.claims', $1, true)").bind(claims, Type::TEXT),
        );
    }
    stmts.push(query);
    stmts
}

async fn list<const CLAIMS: bool>(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Vec<Board>>, ApiError> {
    let tenant = tenant(&headers)?;
    let stmt = Stmt::new(
        "SELECT id, tenant_id, owner_id, title, description, is_public, settings, metadata, created_at, updated_at \
         FROM public.bench_boards WHERE tenant_id = $1 ORDER BY created_at DESC, id LIMIT 1000",
    )
    .bind(tenant, Type::UUID);
    let outcome = state
        .db
        .transact(Auth::Unverified, statements::<CLAIMS>(tenant, stmt))
        .await?;
    let rows = outcome
        .results
        .last()
        .map(Vec::as_slice)
        .unwrap_or_default();
    Ok(Json(rows.iter().map(board_of).collect::<Result<_, _>>()?))
}

async fn one<const CLAIMS: bool>(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Board>, ApiError> {
    let tenant = tenant(&headers)?;
    let id = Uuid::parse_str(&id)
        .map_err(|_| ApiError::bad_request("Invalid id", "id must be a UUID"))?;
    let stmt = Stmt::new(
        "SELECT id, tenant_id, owner_id, title, description, is_public, settings, metadata, created_at, updated_at \
         FROM public.bench_boards WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tenant, Type::UUID)
    .bind(id, Type::UUID);
    let outcome = state
        .db
        .transact(Auth::Unverified, statements::<CLAIMS>(tenant, stmt))
        .await?;
    match outcome.results.last().and_then(|rows| rows.first()) {
        Some(row) => Ok(Json(board_of(row)?)),
        None => Err(ApiError::NotFound("Board not found")),
    }
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/bench/unverified/boards", get(list::<false>))
        .route("/bench/unverified/boards/{id}", get(one::<false>))
        .route("/bench/postgrest/boards", get(list::<true>))
        .route("/bench/postgrest/boards/{id}", get(one::<true>))
}
