//! The router: endpoints, the OpenAPI document, and the limits every request passes through
//! (request id, trace, header size, request timeout, body size).

use std::time::Duration;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderName, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use crate::api::{self, AppState};
use crate::config::Config;
use crate::error::{error_response, ApiError, ErrorBody};
use crate::models::*;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Boards API (boards_tenant gateway)",
        description = "The Boards HTTP API. Every request runs as the database's app role in one \
            transaction that starts with boards_set_tenant_from_jwt (or boards_authenticate): \
            isolation, membership and the operator rule are decided by the boards_tenant \
            extension, not by this server. Errors have the shape {\"error\", \"detail\"}."
    ),
    paths(
        api::healthz, api::readyz, api::me,
        api::list_boards, api::create_board, api::get_board, api::update_board, api::delete_board,
        api::list_generations, api::create_generation,
        api::list_board_members, api::add_board_member, api::remove_board_member,
        api::register,
        api::setup_create_tenant, api::setup_list_tenants, api::setup_get_tenant,
        api::setup_update_tenant, api::setup_delete_tenant, api::setup_approve_tenant,
        api::setup_suspend_tenant, api::setup_list_members, api::setup_add_member,
        api::setup_remove_member,
    ),
    components(schemas(ErrorBody, Status, Me, Board, BoardCreate, BoardUpdate, Generation,
        GenerationCreate, ArtifactType, BoardMember, BoardMemberAdd, BoardRole, TenantInfo,
        TenantCreate, TenantUpdate, TenantDeleted, TableRows, TenantMember, TenantMemberAdd,
        TenantRole, OrganizationSize, RegisterRequest, RegisterResponse, ApiAccess)),
    modifiers(&Conventions)
)]
pub struct ApiDoc;

/// The bearer scheme, and the error responses every operation can give (added here once, so
/// the document cannot forget one).
struct Conventions;

impl Modify for Conventions {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
        let error = |description: &str| {
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("ErrorBody")))
                        .build(),
                )
                .build()
        };
        for item in openapi.paths.paths.values_mut() {
            for op in [
                &mut item.get,
                &mut item.post,
                &mut item.patch,
                &mut item.put,
                &mut item.delete,
            ]
            .into_iter()
            .flatten()
            {
                let mut codes = vec![
                    ("431", "Request headers too large"),
                    ("500", "Internal error (generic body)"),
                    (
                        "503",
                        "Database or connection pool unavailable, statement or request timeout",
                    ),
                ];
                if op.security.is_some() {
                    codes.extend([
                        ("400", "Bad request: invalid slug, X-Tenant, id or argument (22023), no tenant named (22004), invalid value"),
                        ("401", "The token is missing or does not verify (28000)"),
                        ("403", "Access denied (42501): not a member, not an operator; a configured limit (54000)"),
                        ("404", "Unknown tenant, member or row (42704), or another tenant's row"),
                        ("409", "Conflict: the name is taken (23505), the state forbids it (55000)"),
                    ]);
                }
                if op.request_body.is_some() {
                    codes.extend([
                        ("413", "Request body too large"),
                        ("415", "The body is not application/json"),
                    ]);
                }
                for (code, description) in codes {
                    op.responses
                        .responses
                        .entry(code.to_owned())
                        .or_insert_with(|| error(description).into());
                }
            }
        }
    }
}

async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

async fn not_found() -> Response {
    error_response(
        StatusCode::NOT_FOUND,
        "Not found",
        "No such endpoint (see /openapi.json)",
    )
}

async fn header_limit(State(limit): State<usize>, req: Request, next: Next) -> Response {
    let size: usize = req.uri().to_string().len()
        + req
            .headers()
            .iter()
            .map(|(name, value)| name.as_str().len() + value.len() + 4)
            .sum::<usize>();
    if size > limit {
        return error_response(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "Request headers too large",
            &format!("The request line and headers may have at most {limit} bytes"),
        );
    }
    next.run(req).await
}

async fn request_timeout(State(limit): State<Duration>, req: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(response) => response,
        // Dropping the handler rolls its transaction back (db::Guard).
        Err(_) => ApiError::Timeout.into_response(),
    }
}

/// The whole application for `config`, over `state`.
pub fn router(state: AppState, config: &Config) -> Router {
    let routes = Router::new()
        .route("/healthz", get(api::healthz))
        .route("/readyz", get(api::readyz))
        .route("/openapi.json", get(openapi_json))
        .route("/api/me", get(api::me))
        .route("/api/boards", get(api::list_boards).post(api::create_board))
        .route(
            "/api/boards/{id}",
            get(api::get_board)
                .patch(api::update_board)
                .delete(api::delete_board),
        )
        .route(
            "/api/boards/{id}/generations",
            get(api::list_generations).post(api::create_generation),
        )
        .route(
            "/api/boards/{id}/members",
            get(api::list_board_members).post(api::add_board_member),
        )
        .route(
            "/api/boards/{id}/members/{user_id}",
            delete(api::remove_board_member),
        )
        .route("/api/tenants/register", post(api::register))
        .route("/api/setup/tenant", post(api::setup_create_tenant))
        .route("/api/setup/tenants", get(api::setup_list_tenants))
        .route(
            "/api/setup/tenants/{slug}",
            get(api::setup_get_tenant)
                .patch(api::setup_update_tenant)
                .delete(api::setup_delete_tenant),
        )
        .route(
            "/api/setup/tenants/{slug}/approve",
            post(api::setup_approve_tenant),
        )
        .route(
            "/api/setup/tenants/{slug}/suspend",
            post(api::setup_suspend_tenant),
        )
        .route(
            "/api/setup/tenants/{slug}/members",
            get(api::setup_list_members).post(api::setup_add_member),
        )
        .route(
            "/api/setup/tenants/{slug}/members/{subject}",
            delete(api::setup_remove_member),
        );
    #[cfg(feature = "bench")]
    let routes = routes.merge(crate::bench::routes());
    routes
        .fallback(not_found)
        .with_state(state)
        .layer(DefaultBodyLimit::max(config.body_limit))
        .layer(middleware::from_fn_with_state(
            config.request_timeout(),
            request_timeout,
        ))
        .layer(middleware::from_fn_with_state(
            config.header_limit,
            header_limit,
        ))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &Request| {
                    let id = req
                        .headers()
                        .get(&REQUEST_ID)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("-");
                    // Method and path only: headers (the token) and the query are never logged.
                    tracing::info_span!("request", request_id = %id, method = %req.method(), path = %req.uri().path())
                })
                .on_response(DefaultOnResponse::new().level(Level::INFO)),
        )
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
}
