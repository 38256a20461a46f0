//! Request and response bodies (and their OpenAPI schemas).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;
use uuid::Uuid;

/// A JSON object.
pub type Object = Map<String, Value>;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Status {
    /// `ok` (process) or `ready` (database reachable).
    pub status: String,
}

/// `GET /api/me`: who the database says the caller is.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Me {
    pub tenant_id: Option<Uuid>,
    pub tenant_slug: Option<String>,
    pub user_id: Option<Uuid>,
    /// The token's verified `sub`.
    pub subject: Option<String>,
    /// The subject's role in the tenant: `owner`, `admin` or `member`.
    pub role: Option<String>,
    /// The strategy that chose the tenant: `claim:tenant`, `claim:org`, `claim:custom`,
    /// `email_domain`, `claim:namespace`, `x_tenant` or `default`.
    pub source: Option<String>,
    /// Whether the subject is a platform operator (may use /api/setup).
    pub is_operator: bool,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Board {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub owner_id: Uuid,
    pub title: String,
    pub description: Option<String>,
    pub is_public: bool,
    #[schema(value_type = Object)]
    pub settings: Value,
    #[schema(value_type = Object)]
    pub metadata: Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct BoardCreate {
    pub title: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub is_public: Option<bool>,
    #[serde(default)]
    pub settings: Option<Object>,
    #[serde(default)]
    pub metadata: Option<Object>,
}

/// Fields to change; absent or null fields stay as they are.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
pub struct BoardUpdate {
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub is_public: Option<bool>,
    #[serde(default)]
    pub settings: Option<Object>,
    #[serde(default)]
    pub metadata: Option<Object>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ArtifactType {
    Image,
    Video,
    Audio,
    Text,
    Lora,
    Model,
}

impl ArtifactType {
    pub fn as_str(self) -> &'static str {
        match self {
            ArtifactType::Image => "image",
            ArtifactType::Video => "video",
            ArtifactType::Audio => "audio",
            ArtifactType::Text => "text",
            ArtifactType::Lora => "lora",
            ArtifactType::Model => "model",
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Generation {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub board_id: Uuid,
    pub user_id: Uuid,
    pub generator_name: String,
    pub artifact_type: String,
    pub status: String,
    #[schema(value_type = Object)]
    pub input_params: Value,
    pub storage_url: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct GenerationCreate {
    pub generator_name: String,
    pub artifact_type: ArtifactType,
    #[serde(default)]
    pub input_params: Option<Object>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum BoardRole {
    Viewer,
    Editor,
    Admin,
}

impl BoardRole {
    pub fn as_str(self) -> &'static str {
        match self {
            BoardRole::Viewer => "viewer",
            BoardRole::Editor => "editor",
            BoardRole::Admin => "admin",
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct BoardMember {
    pub id: Uuid,
    pub board_id: Uuid,
    pub user_id: Uuid,
    /// The member's subject (`sub`).
    pub subject: String,
    pub role: String,
    pub joined_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct BoardMemberAdd {
    /// The subject of a member of the same tenant.
    #[schema(min_length = 1)]
    pub subject: String,
    #[serde(default)]
    pub role: Option<BoardRole>,
}

/// A tenant, as the tenant management functions return it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TenantInfo {
    pub id: Uuid,
    pub slug: String,
    pub name: String,
    /// `active`, `pending_approval` or `suspended`.
    pub status: String,
    #[schema(value_type = Object)]
    pub settings: Value,
    pub created_by: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub member_count: i64,
}

/// The seed's `POST /api/setup/tenant` body.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TenantCreate {
    /// Shown to people: at least one visible character, no control characters.
    #[schema(pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$")]
    pub name: String,
    #[schema(pattern = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")]
    pub slug: String,
    #[serde(default)]
    pub settings: Option<Object>,
    #[serde(default)]
    pub include_sample_data: Option<bool>,
}

/// Fields to change; `settings` are merged into the tenant's.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
pub struct TenantUpdate {
    #[serde(default)]
    #[schema(pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$")]
    pub name: Option<String>,
    /// A new slug.
    #[serde(default)]
    #[schema(pattern = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")]
    pub slug: Option<String>,
    #[serde(default)]
    pub settings: Option<Object>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TableRows {
    pub table_name: String,
    pub rows_deleted: i64,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TenantDeleted {
    pub slug: String,
    /// The rows removed, per protected table.
    pub deleted: Vec<TableRows>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TenantRole {
    Owner,
    Admin,
    Member,
}

impl TenantRole {
    pub fn as_str(self) -> &'static str {
        match self {
            TenantRole::Owner => "owner",
            TenantRole::Admin => "admin",
            TenantRole::Member => "member",
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TenantMember {
    pub user_id: Option<Uuid>,
    pub subject: String,
    pub email: Option<String>,
    pub display_name: Option<String>,
    pub role: String,
    pub created_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TenantMemberAdd {
    #[schema(min_length = 1)]
    pub subject: String,
    #[serde(default)]
    pub role: Option<TenantRole>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub display_name: Option<String>,
}

/// The seed's `POST /api/tenants/register` body.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RegisterRequest {
    #[schema(pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$")]
    pub organization_name: String,
    pub admin_email: String,
    #[serde(default)]
    pub use_case: Option<String>,
    #[serde(default)]
    pub organization_size: Option<OrganizationSize>,
    /// The slug to claim (refused if taken); blank or absent: one made from the name.
    #[serde(default)]
    pub organization_slug: Option<String>,
    #[serde(default)]
    pub include_sample_data: Option<bool>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ApiAccess {
    /// e.g. `X-Tenant: new-startup`
    pub tenant_header: String,
    pub graphql_endpoint: String,
}

/// The seed's registration response (what `boards_tenant_register` returns).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RegisterResponse {
    pub tenant_id: Uuid,
    pub tenant_slug: String,
    pub organization_name: String,
    /// `active`, or `pending_approval` when registration requires approval.
    pub status: String,
    pub dashboard_url: Option<String>,
    pub api_access: ApiAccess,
    pub next_steps: Vec<String>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum OrganizationSize {
    Small,
    Medium,
    Large,
    Enterprise,
}

impl OrganizationSize {
    pub fn as_str(self) -> &'static str {
        match self {
            OrganizationSize::Small => "small",
            OrganizationSize::Medium => "medium",
            OrganizationSize::Large => "large",
            OrganizationSize::Enterprise => "enterprise",
        }
    }
}
