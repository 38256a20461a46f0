//! The endpoints. Each handler builds its statements and hands them, with the caller's
//! token and `X-Tenant` header, to [`Db::transact`]; it never filters by tenant and never
//! decides who may do what. Row-level security picks the rows; the extension's functions
//! refuse what the caller may not do.

use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Path, Request, State};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use serde::de::DeserializeOwned;
use tokio_postgres::types::Type;
use tokio_postgres::Row;
use uuid::Uuid;

use crate::db::{get, Auth, Db, Outcome, Stmt};
use crate::error::ApiError;
use crate::models::*;

#[derive(Clone)]
pub struct AppState {
    pub db: Arc<Db>,
}

/// The caller's credentials, as sent: the bearer token and the `X-Tenant` header. Never
/// checked here; a missing token is passed as NULL and refused by the database (401).
pub struct Caller {
    token: Option<String>,
    x_tenant: Option<String>,
}

impl Caller {
    /// A tenant context for the request's statements.
    fn tenant(self) -> Auth {
        Auth::Tenant {
            token: self.token,
            x_tenant: self.x_tenant,
            describe: false,
        }
    }

    /// A tenant context, and its description in `Outcome::context`.
    fn described_tenant(self) -> Auth {
        Auth::Tenant {
            token: self.token,
            x_tenant: self.x_tenant,
            describe: true,
        }
    }

    fn identity(self) -> Auth {
        Auth::Identity { token: self.token }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                let (scheme, rest) = v.split_once(' ')?;
                scheme
                    .eq_ignore_ascii_case("bearer")
                    .then(|| rest.trim().to_owned())
            });
        // Passed on as sent (lossily decoded): the extension validates it.
        let x_tenant = parts
            .headers
            .get("x-tenant")
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        Ok(Caller { token, x_tenant })
    }
}

/// A JSON body whose rejections (malformed, wrong type, too large, not JSON) get the
/// error shape of every other response.
pub struct Body<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let value = match Json::<serde_json::Value>::from_request(req, state).await {
            Ok(Json(value)) => value,
            Err(rejection) => return Err(body_rejection(rejection)),
        };
        // Every body is an object: serde would also read a struct from an array.
        if !value.is_object() {
            return Err(ApiError::bad_request(
                "Invalid request body",
                "The body must be a JSON object",
            ));
        }
        serde_json::from_value(value)
            .map(Body)
            .map_err(|e| ApiError::bad_request("Invalid request body", e.to_string()))
    }
}

fn body_rejection(rejection: JsonRejection) -> ApiError {
    let status = rejection.status();
    let (status, error) = match status {
        StatusCode::PAYLOAD_TOO_LARGE => (status, "Request body too large"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => (status, "Unsupported media type"),
        _ => (StatusCode::BAD_REQUEST, "Invalid request body"),
    };
    ApiError::BadRequest {
        status,
        error: error.into(),
        detail: rejection.body_text(),
    }
}

fn uuid_param(value: &str, what: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(value)
        .map_err(|_| ApiError::bad_request("Invalid id", format!("{what} must be a UUID")))
}

fn rows(outcome: &Outcome, i: usize) -> Result<&[Row], ApiError> {
    outcome
        .results
        .get(i)
        .map(Vec::as_slice)
        .ok_or_else(|| ApiError::Internal(format!("no result for statement {i}")))
}

// ---------------------------------------------------------------------------------------
// Health and identity

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "health",
    responses((status = 200, description = "The process runs", body = Status)))]
pub async fn healthz() -> Json<Status> {
    Json(Status {
        status: "ok".into(),
    })
}

/// The database is reachable through the pool.
#[utoipa::path(get, path = "/readyz", tag = "health",
    responses((status = 200, description = "The database answers", body = Status)))]
pub async fn readyz(State(state): State<AppState>) -> Result<Json<Status>, ApiError> {
    state.db.ready().await?;
    Ok(Json(Status {
        status: "ready".into(),
    }))
}

/// Who the database says the caller is: tenant, subject, role and the resolution strategy.
#[utoipa::path(get, path = "/api/me", tag = "tenant data", security(("bearer" = [])),
    params(("X-Tenant" = Option<String>, Header, description = "The tenant to act for, when the token names none", pattern = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")),
    responses((status = 200, description = "The caller's context", body = Me)))]
pub async fn me(State(state): State<AppState>, caller: Caller) -> Result<Json<Me>, ApiError> {
    let outcome = state
        .db
        .transact(
            caller.described_tenant(),
            vec![Stmt::new(
                "SELECT (SELECT u.role FROM boards.users u WHERE u.id = public.boards_current_user_id()), \
                        public.boards_is_operator()",
            )],
        )
        .await?;
    let row = rows(&outcome, 0)?
        .first()
        .ok_or_else(|| ApiError::Internal("no row".into()))?;
    let ctx = &outcome.context;
    Ok(Json(Me {
        tenant_id: ctx.tenant_id,
        tenant_slug: ctx.tenant_slug.clone(),
        user_id: ctx.user_id,
        subject: ctx.subject.clone(),
        role: get(row, 0)?,
        source: ctx.source.clone(),
        is_operator: get::<Option<bool>>(row, 1)?.unwrap_or(false),
    }))
}

// ---------------------------------------------------------------------------------------
// Boards

pub fn board_of(row: &Row) -> Result<Board, ApiError> {
    Ok(Board {
        id: get(row, 0)?,
        tenant_id: get(row, 1)?,
        owner_id: get(row, 2)?,
        title: get(row, 3)?,
        description: get(row, 4)?,
        is_public: get(row, 5)?,
        settings: get(row, 6)?,
        metadata: get(row, 7)?,
        created_at: get(row, 8)?,
        updated_at: get(row, 9)?,
    })
}

fn one_board(outcome: &Outcome) -> Result<Board, ApiError> {
    match rows(outcome, 0)?.first() {
        Some(row) => board_of(row),
        None => Err(ApiError::NotFound("Board not found")),
    }
}

/// The tenant's boards (at most 1,000, newest first): row-level security picks them.
#[utoipa::path(get, path = "/api/boards", tag = "tenant data", security(("bearer" = [])),
    params(("X-Tenant" = Option<String>, Header, description = "The tenant to act for, when the token names none", pattern = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")),
    responses((status = 200, description = "The tenant's boards", body = [Board])))]
pub async fn list_boards(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<Board>>, ApiError> {
    let outcome = state
        .db
        .transact(
            caller.tenant(),
            vec![Stmt::new(
                "SELECT id, tenant_id, owner_id, title, description, is_public, settings, metadata, created_at, updated_at \
                 FROM boards.boards ORDER BY created_at DESC, id LIMIT 1000",
            )],
        )
        .await?;
    Ok(Json(
        rows(&outcome, 0)?
            .iter()
            .map(board_of)
            .collect::<Result<_, _>>()?,
    ))
}

/// Creates a board owned by the caller, in the caller's tenant.
#[utoipa::path(post, path = "/api/boards", tag = "tenant data", security(("bearer" = [])),
    params(("X-Tenant" = Option<String>, Header, description = "The tenant to act for, when the token names none", pattern = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")),
    request_body = BoardCreate,
    responses((status = 201, description = "The new board", body = Board)))]
pub async fn create_board(
    State(state): State<AppState>,
    caller: Caller,
    Body(body): Body<BoardCreate>,
) -> Result<impl IntoResponse, ApiError> {
    let stmt = Stmt::new(
        "INSERT INTO boards.boards (owner_id, title, description, is_public, settings, metadata) \
         VALUES (public.boards_current_user_id(), $1, $2, coalesce($3, false), coalesce($4, '{}'), coalesce($5, '{}')) \
         RETURNING id, tenant_id, owner_id, title, description, is_public, settings, metadata, created_at, updated_at",
    )
    .bind(body.title, Type::TEXT)
    .bind(body.description, Type::TEXT)
    .bind(body.is_public, Type::BOOL)
    .bind(body.settings.map(serde_json::Value::Object), Type::JSONB)
    .bind(body.metadata.map(serde_json::Value::Object), Type::JSONB);
    let outcome = state.db.transact(caller.tenant(), vec![stmt]).await?;
    Ok((StatusCode::CREATED, Json(one_board(&outcome)?)))
}

/// One board of the tenant; another tenant's board is as unknown as a missing one (404).
#[utoipa::path(get, path = "/api/boards/{id}", tag = "tenant data", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Board id"),
           ("X-Tenant" = Option<String>, Header, description = "The tenant to act for, when the token names none", pattern = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")),
    responses((status = 200, description = "The board", body = Board)))]
pub async fn get_board(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Board>, ApiError> {
    let id = uuid_param(&id, "id")?;
    let stmt = Stmt::new(
        "SELECT id, tenant_id, owner_id, title, description, is_public, settings, metadata, created_at, updated_at \
         FROM boards.boards WHERE id = $1",
    )
    .bind(id, Type::UUID);
    let outcome = state.db.transact(caller.tenant(), vec![stmt]).await?;
    Ok(Json(one_board(&outcome)?))
}

/// Changes a board's fields.
#[utoipa::path(patch, path = "/api/boards/{id}", tag = "tenant data", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Board id"),
           ("X-Tenant" = Option<String>, Header, description = "The tenant to act for, when the token names none", pattern = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")),
    request_body = BoardUpdate,
    responses((status = 200, description = "The updated board", body = Board)))]
pub async fn update_board(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Body(body): Body<BoardUpdate>,
) -> Result<Json<Board>, ApiError> {
    let id = uuid_param(&id, "id")?;
    let stmt = Stmt::new(
        "UPDATE boards.boards SET title = coalesce($2, title), description = coalesce($3, description), \
                is_public = coalesce($4, is_public), settings = coalesce($5, settings), \
                metadata = coalesce($6, metadata), updated_at = now() \
         WHERE id = $1 \
         RETURNING id, tenant_id, owner_id, title, description, is_public, settings, metadata, created_at, updated_at",
    )
    .bind(id, Type::UUID)
    .bind(body.title, Type::TEXT)
    .bind(body.description, Type::TEXT)
    .bind(body.is_public, Type::BOOL)
    .bind(body.settings.map(serde_json::Value::Object), Type::JSONB)
    .bind(body.metadata.map(serde_json::Value::Object), Type::JSONB);
    let outcome = state.db.transact(caller.tenant(), vec![stmt]).await?;
    Ok(Json(one_board(&outcome)?))
}

/// Deletes a board with its generations and members.
#[utoipa::path(delete, path = "/api/boards/{id}", tag = "tenant data", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Board id"),
           ("X-Tenant" = Option<String>, Header, description = "The tenant to act for, when the token names none", pattern = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")),
    responses((status = 204, description = "Deleted")))]
pub async fn delete_board(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = uuid_param(&id, "id")?;
    let stmt =
        Stmt::new("DELETE FROM boards.boards WHERE id = $1 RETURNING id").bind(id, Type::UUID);
    let outcome = state.db.transact(caller.tenant(), vec![stmt]).await?;
    if rows(&outcome, 0)?.is_empty() {
        return Err(ApiError::NotFound("Board not found"));
    }
    Ok(StatusCode::NO_CONTENT)
}

const BOARD_EXISTS: &str = "SELECT id FROM boards.boards WHERE id = $1";

fn generation(row: &Row) -> Result<Generation, ApiError> {
    Ok(Generation {
        id: get(row, 0)?,
        tenant_id: get(row, 1)?,
        board_id: get(row, 2)?,
        user_id: get(row, 3)?,
        generator_name: get(row, 4)?,
        artifact_type: get(row, 5)?,
        status: get(row, 6)?,
        input_params: get(row, 7)?,
        storage_url: get(row, 8)?,
        created_at: get(row, 9)?,
    })
}

/// A board's generations.
#[utoipa::path(get, path = "/api/boards/{id}/generations", tag = "tenant data", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Board id"),
           ("X-Tenant" = Option<String>, Header, description = "The tenant to act for, when the token names none", pattern = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")),
    responses((status = 200, description = "The board's generations", body = [Generation])))]
pub async fn list_generations(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Vec<Generation>>, ApiError> {
    let id = uuid_param(&id, "id")?;
    let outcome = state
        .db
        .transact(
            caller.tenant(),
            vec![
                Stmt::new(BOARD_EXISTS).bind(id, Type::UUID),
                Stmt::new(
                    "SELECT id, tenant_id, board_id, user_id, generator_name, artifact_type, status, input_params, \
                            storage_url, created_at \
                     FROM boards.generations WHERE board_id = $1 ORDER BY created_at, id LIMIT 1000",
                )
                .bind(id, Type::UUID),
            ],
        )
        .await?;
    if rows(&outcome, 0)?.is_empty() {
        return Err(ApiError::NotFound("Board not found"));
    }
    Ok(Json(
        rows(&outcome, 1)?
            .iter()
            .map(generation)
            .collect::<Result<_, _>>()?,
    ))
}

/// Records a generation on a board, by the caller.
#[utoipa::path(post, path = "/api/boards/{id}/generations", tag = "tenant data", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Board id"),
           ("X-Tenant" = Option<String>, Header, description = "The tenant to act for, when the token names none", pattern = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")),
    request_body = GenerationCreate,
    responses((status = 201, description = "The new generation", body = Generation)))]
pub async fn create_generation(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Body(body): Body<GenerationCreate>,
) -> Result<impl IntoResponse, ApiError> {
    let id = uuid_param(&id, "id")?;
    let stmt = Stmt::new(
        "INSERT INTO boards.generations (board_id, user_id, generator_name, artifact_type, input_params) \
         SELECT b.id, public.boards_current_user_id(), $2, $3, coalesce($4, '{}') FROM boards.boards b WHERE b.id = $1 \
         RETURNING id, tenant_id, board_id, user_id, generator_name, artifact_type, status, input_params, \
                   storage_url, created_at",
    )
    .bind(id, Type::UUID)
    .bind(body.generator_name, Type::TEXT)
    .bind(body.artifact_type.as_str(), Type::TEXT)
    .bind(body.input_params.map(serde_json::Value::Object), Type::JSONB);
    let outcome = state.db.transact(caller.tenant(), vec![stmt]).await?;
    match rows(&outcome, 0)?.first() {
        Some(row) => Ok((StatusCode::CREATED, Json(generation(row)?))),
        None => Err(ApiError::NotFound("Board not found")),
    }
}

fn board_member(row: &Row) -> Result<BoardMember, ApiError> {
    Ok(BoardMember {
        id: get(row, 0)?,
        board_id: get(row, 1)?,
        user_id: get(row, 2)?,
        subject: get(row, 3)?,
        role: get(row, 4)?,
        joined_at: get(row, 5)?,
    })
}

/// A board's members.
#[utoipa::path(get, path = "/api/boards/{id}/members", tag = "tenant data", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Board id"),
           ("X-Tenant" = Option<String>, Header, description = "The tenant to act for, when the token names none", pattern = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")),
    responses((status = 200, description = "The board's members", body = [BoardMember])))]
pub async fn list_board_members(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Vec<BoardMember>>, ApiError> {
    let id = uuid_param(&id, "id")?;
    let outcome = state
        .db
        .transact(
            caller.tenant(),
            vec![
                Stmt::new(BOARD_EXISTS).bind(id, Type::UUID),
                Stmt::new(
                    "SELECT m.id, m.board_id, m.user_id, u.auth_subject, m.role, m.joined_at \
                     FROM boards.board_members m \
                     JOIN boards.users u ON u.tenant_id = m.tenant_id AND u.id = m.user_id \
                     WHERE m.board_id = $1 ORDER BY m.joined_at, m.id",
                )
                .bind(id, Type::UUID),
            ],
        )
        .await?;
    if rows(&outcome, 0)?.is_empty() {
        return Err(ApiError::NotFound("Board not found"));
    }
    Ok(Json(
        rows(&outcome, 1)?
            .iter()
            .map(board_member)
            .collect::<Result<_, _>>()?,
    ))
}

/// Adds a member of the tenant (by subject) to a board.
#[utoipa::path(post, path = "/api/boards/{id}/members", tag = "tenant data", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Board id"),
           ("X-Tenant" = Option<String>, Header, description = "The tenant to act for, when the token names none", pattern = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")),
    request_body = BoardMemberAdd,
    responses((status = 201, description = "The new board member", body = BoardMember)))]
pub async fn add_board_member(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Body(body): Body<BoardMemberAdd>,
) -> Result<impl IntoResponse, ApiError> {
    let id = uuid_param(&id, "id")?;
    let role = body.role.unwrap_or(BoardRole::Viewer).as_str();
    let stmt = Stmt::new(
        "INSERT INTO boards.board_members (board_id, user_id, role, invited_by) \
         SELECT b.id, u.id, $3, public.boards_current_user_id() \
         FROM boards.boards b JOIN boards.users u ON u.tenant_id = b.tenant_id \
         WHERE b.id = $1 AND u.auth_subject = $2 \
         RETURNING id, board_id, user_id, $2::text, role, joined_at",
    )
    .bind(id, Type::UUID)
    .bind(body.subject, Type::TEXT)
    .bind(role, Type::TEXT);
    let outcome = state.db.transact(caller.tenant(), vec![stmt]).await?;
    match rows(&outcome, 0)?.first() {
        Some(row) => Ok((StatusCode::CREATED, Json(board_member(row)?))),
        None => Err(ApiError::NotFound("Board or tenant member not found")),
    }
}

/// Removes a member from a board.
#[utoipa::path(delete, path = "/api/boards/{id}/members/{user_id}", tag = "tenant data", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Board id"), ("user_id" = Uuid, Path, description = "The member's user id"),
           ("X-Tenant" = Option<String>, Header, description = "The tenant to act for, when the token names none", pattern = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")),
    responses((status = 204, description = "Removed")))]
pub async fn remove_board_member(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, user_id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let id = uuid_param(&id, "id")?;
    let user_id = uuid_param(&user_id, "user_id")?;
    let stmt = Stmt::new(
        "DELETE FROM boards.board_members WHERE board_id = $1 AND user_id = $2 RETURNING id",
    )
    .bind(id, Type::UUID)
    .bind(user_id, Type::UUID);
    let outcome = state.db.transact(caller.tenant(), vec![stmt]).await?;
    if rows(&outcome, 0)?.is_empty() {
        return Err(ApiError::NotFound("Board member not found"));
    }
    Ok(StatusCode::NO_CONTENT)
}

// ---------------------------------------------------------------------------------------
// Registration

/// The seed's self-service registration: the authenticated caller creates a tenant and
/// becomes its owner (`boards_authenticate` + `boards_tenant_register`).
#[utoipa::path(post, path = "/api/tenants/register", tag = "registration", security(("bearer" = [])),
    request_body = RegisterRequest,
    responses((status = 201, description = "The new tenant and next steps", body = RegisterResponse)))]
pub async fn register(
    State(state): State<AppState>,
    caller: Caller,
    Body(body): Body<RegisterRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let stmt =
        Stmt::new("SELECT public.boards_tenant_register($1, $2, $3, $4, $5, coalesce($6, true))")
            .bind(body.organization_name, Type::TEXT)
            .bind(body.admin_email, Type::TEXT)
            .bind(body.use_case, Type::TEXT)
            .bind(
                body.organization_size.map(OrganizationSize::as_str),
                Type::TEXT,
            )
            .bind(body.organization_slug, Type::TEXT)
            .bind(body.include_sample_data, Type::BOOL);
    let outcome = state.db.transact(caller.identity(), vec![stmt]).await?;
    let row = rows(&outcome, 0)?
        .first()
        .ok_or_else(|| ApiError::Internal("no row".into()))?;
    let value: serde_json::Value = get(row, 0)?;
    let response: RegisterResponse = serde_json::from_value(value)
        .map_err(|e| ApiError::Internal(format!("registration response: {e}")))?;
    Ok((StatusCode::CREATED, Json(response)))
}

// ---------------------------------------------------------------------------------------
// Tenant management (platform operators; the database checks who is one)

fn tenant(row: &Row) -> Result<TenantInfo, ApiError> {
    Ok(TenantInfo {
        id: get(row, 0)?,
        slug: get(row, 1)?,
        name: get(row, 2)?,
        status: get(row, 3)?,
        settings: get(row, 4)?,
        created_by: get(row, 5)?,
        created_at: get(row, 6)?,
        updated_at: get(row, 7)?,
        member_count: get(row, 8)?,
    })
}

fn one_tenant(outcome: &Outcome) -> Result<TenantInfo, ApiError> {
    match rows(outcome, 0)?.first() {
        Some(row) => tenant(row),
        None => Err(ApiError::NotFound("Tenant not found")),
    }
}

/// The seed's tenant creation, for platform operators.
#[utoipa::path(post, path = "/api/setup/tenant", tag = "tenant management", security(("bearer" = [])),
    request_body = TenantCreate,
    responses((status = 201, description = "The new tenant", body = TenantInfo)))]
pub async fn setup_create_tenant(
    State(state): State<AppState>,
    caller: Caller,
    Body(body): Body<TenantCreate>,
) -> Result<impl IntoResponse, ApiError> {
    let stmt = Stmt::new(
        "SELECT id, slug, name, status, settings, created_by, created_at, updated_at, member_count \
         FROM public.boards_operator_tenant_create($1, $2, coalesce($3, '{}'), coalesce($4, false))",
    )
    .bind(body.name, Type::TEXT)
    .bind(body.slug, Type::TEXT)
    .bind(body.settings.map(serde_json::Value::Object), Type::JSONB)
    .bind(body.include_sample_data, Type::BOOL);
    let outcome = state.db.transact(caller.identity(), vec![stmt]).await?;
    Ok((StatusCode::CREATED, Json(one_tenant(&outcome)?)))
}

/// Every tenant, for platform operators.
#[utoipa::path(get, path = "/api/setup/tenants", tag = "tenant management", security(("bearer" = [])),
    responses((status = 200, description = "Every tenant", body = [TenantInfo])))]
pub async fn setup_list_tenants(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<TenantInfo>>, ApiError> {
    let stmt = Stmt::new(
        "SELECT id, slug, name, status, settings, created_by, created_at, updated_at, member_count \
         FROM public.boards_operator_tenant_list()",
    );
    let outcome = state.db.transact(caller.identity(), vec![stmt]).await?;
    Ok(Json(
        rows(&outcome, 0)?
            .iter()
            .map(tenant)
            .collect::<Result<_, _>>()?,
    ))
}

/// One tenant, for platform operators.
#[utoipa::path(get, path = "/api/setup/tenants/{slug}", tag = "tenant management", security(("bearer" = [])),
    params(("slug" = String, Path, description = "Tenant slug", pattern = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")),
    responses((status = 200, description = "The tenant", body = TenantInfo)))]
pub async fn setup_get_tenant(
    State(state): State<AppState>,
    caller: Caller,
    Path(slug): Path<String>,
) -> Result<Json<TenantInfo>, ApiError> {
    let stmt = Stmt::new(
        "SELECT id, slug, name, status, settings, created_by, created_at, updated_at, member_count \
         FROM public.boards_operator_tenant_get($1)",
    )
    .bind(slug, Type::TEXT);
    let outcome = state.db.transact(caller.identity(), vec![stmt]).await?;
    Ok(Json(one_tenant(&outcome)?))
}

/// Renames a tenant, changes its slug or merges settings, for platform operators.
#[utoipa::path(patch, path = "/api/setup/tenants/{slug}", tag = "tenant management", security(("bearer" = [])),
    params(("slug" = String, Path, description = "Tenant slug", pattern = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")),
    request_body = TenantUpdate,
    responses((status = 200, description = "The updated tenant", body = TenantInfo)))]
pub async fn setup_update_tenant(
    State(state): State<AppState>,
    caller: Caller,
    Path(slug): Path<String>,
    Body(body): Body<TenantUpdate>,
) -> Result<Json<TenantInfo>, ApiError> {
    let stmt = Stmt::new(
        "SELECT id, slug, name, status, settings, created_by, created_at, updated_at, member_count \
         FROM public.boards_operator_tenant_update($1, $2, $3, $4)",
    )
    .bind(slug, Type::TEXT)
    .bind(body.name, Type::TEXT)
    .bind(body.slug, Type::TEXT)
    .bind(body.settings.map(serde_json::Value::Object), Type::JSONB);
    let outcome = state.db.transact(caller.identity(), vec![stmt]).await?;
    Ok(Json(one_tenant(&outcome)?))
}

/// Deletes a tenant and every row of it, for platform operators.
#[utoipa::path(delete, path = "/api/setup/tenants/{slug}", tag = "tenant management", security(("bearer" = [])),
    params(("slug" = String, Path, description = "Tenant slug", pattern = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")),
    responses((status = 200, description = "What was removed", body = TenantDeleted)))]
pub async fn setup_delete_tenant(
    State(state): State<AppState>,
    caller: Caller,
    Path(slug): Path<String>,
) -> Result<Json<TenantDeleted>, ApiError> {
    let stmt =
        Stmt::new("SELECT table_name, rows_deleted FROM public.boards_operator_tenant_delete($1)")
            .bind(slug.clone(), Type::TEXT);
    let outcome = state.db.transact(caller.identity(), vec![stmt]).await?;
    let deleted = rows(&outcome, 0)?
        .iter()
        .map(|row| {
            Ok(TableRows {
                table_name: get(row, 0)?,
                rows_deleted: get(row, 1)?,
            })
        })
        .collect::<Result<_, ApiError>>()?;
    Ok(Json(TenantDeleted { slug, deleted }))
}

/// Approves a pending tenant, for platform operators.
#[utoipa::path(post, path = "/api/setup/tenants/{slug}/approve", tag = "tenant management", security(("bearer" = [])),
    params(("slug" = String, Path, description = "Tenant slug", pattern = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")),
    responses((status = 200, description = "The tenant, now active", body = TenantInfo)))]
pub async fn setup_approve_tenant(
    State(state): State<AppState>,
    caller: Caller,
    Path(slug): Path<String>,
) -> Result<Json<TenantInfo>, ApiError> {
    let stmt = Stmt::new(
        "SELECT id, slug, name, status, settings, created_by, created_at, updated_at, member_count \
         FROM public.boards_operator_tenant_approve($1)",
    )
    .bind(slug, Type::TEXT);
    let outcome = state.db.transact(caller.identity(), vec![stmt]).await?;
    Ok(Json(one_tenant(&outcome)?))
}

/// Suspends a tenant (every context of it is refused from the next statement on), for
/// platform operators.
#[utoipa::path(post, path = "/api/setup/tenants/{slug}/suspend", tag = "tenant management", security(("bearer" = [])),
    params(("slug" = String, Path, description = "Tenant slug", pattern = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")),
    responses((status = 200, description = "The tenant, now suspended", body = TenantInfo)))]
pub async fn setup_suspend_tenant(
    State(state): State<AppState>,
    caller: Caller,
    Path(slug): Path<String>,
) -> Result<Json<TenantInfo>, ApiError> {
    let stmt = Stmt::new(
        "SELECT id, slug, name, status, settings, created_by, created_at, updated_at, member_count \
         FROM public.boards_operator_tenant_suspend($1)",
    )
    .bind(slug, Type::TEXT);
    let outcome = state.db.transact(caller.identity(), vec![stmt]).await?;
    Ok(Json(one_tenant(&outcome)?))
}

fn tenant_member(row: &Row) -> Result<TenantMember, ApiError> {
    Ok(TenantMember {
        user_id: get(row, 0)?,
        subject: get(row, 1)?,
        email: get(row, 2)?,
        display_name: get(row, 3)?,
        role: get(row, 4)?,
        created_at: get(row, 5)?,
    })
}

const MEMBERS: &str = "SELECT user_id, subject, email, display_name, role, created_at \
     FROM public.boards_operator_tenant_members($1)";

/// A tenant's members, for platform operators.
#[utoipa::path(get, path = "/api/setup/tenants/{slug}/members", tag = "tenant management", security(("bearer" = [])),
    params(("slug" = String, Path, description = "Tenant slug", pattern = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")),
    responses((status = 200, description = "The tenant's members", body = [TenantMember])))]
pub async fn setup_list_members(
    State(state): State<AppState>,
    caller: Caller,
    Path(slug): Path<String>,
) -> Result<Json<Vec<TenantMember>>, ApiError> {
    let stmt = Stmt::new(MEMBERS).bind(slug, Type::TEXT);
    let outcome = state.db.transact(caller.identity(), vec![stmt]).await?;
    Ok(Json(
        rows(&outcome, 0)?
            .iter()
            .map(tenant_member)
            .collect::<Result<_, _>>()?,
    ))
}

/// Adds a member to a tenant, or changes a member's role, for platform operators.
#[utoipa::path(post, path = "/api/setup/tenants/{slug}/members", tag = "tenant management", security(("bearer" = [])),
    params(("slug" = String, Path, description = "Tenant slug", pattern = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")),
    request_body = TenantMemberAdd,
    responses((status = 201, description = "The member", body = TenantMember)))]
pub async fn setup_add_member(
    State(state): State<AppState>,
    caller: Caller,
    Path(slug): Path<String>,
    Body(body): Body<TenantMemberAdd>,
) -> Result<impl IntoResponse, ApiError> {
    let role = body.role.unwrap_or(TenantRole::Member).as_str();
    let outcome = state
        .db
        .transact(
            caller.identity(),
            vec![
                Stmt::new("SELECT public.boards_operator_tenant_add_member($1, $2, $3, $4, $5)")
                    .bind(slug.clone(), Type::TEXT)
                    .bind(body.subject.clone(), Type::TEXT)
                    .bind(role, Type::TEXT)
                    .bind(body.email, Type::TEXT)
                    .bind(body.display_name, Type::TEXT),
                Stmt::new(
                    "SELECT user_id, subject, email, display_name, role, created_at \
                     FROM public.boards_operator_tenant_members($1) WHERE subject = $2",
                )
                .bind(slug, Type::TEXT)
                .bind(body.subject, Type::TEXT),
            ],
        )
        .await?;
    match rows(&outcome, 1)?.first() {
        Some(row) => Ok((StatusCode::CREATED, Json(tenant_member(row)?))),
        None => Err(ApiError::Internal("the added member is not listed".into())),
    }
}

/// Removes a member from a tenant (never the last owner), for platform operators.
#[utoipa::path(delete, path = "/api/setup/tenants/{slug}/members/{subject}", tag = "tenant management", security(("bearer" = [])),
    params(("slug" = String, Path, description = "Tenant slug", pattern = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"), ("subject" = String, Path, description = "The member's subject", min_length = 1)),
    responses((status = 204, description = "Removed")))]
pub async fn setup_remove_member(
    State(state): State<AppState>,
    caller: Caller,
    Path((slug, subject)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let stmt = Stmt::new("SELECT public.boards_operator_tenant_remove_member($1, $2)")
        .bind(slug, Type::TEXT)
        .bind(subject, Type::TEXT);
    state.db.transact(caller.identity(), vec![stmt]).await?;
    Ok(StatusCode::NO_CONTENT)
}
