//! Tenant management: lookups and membership used by the context, and the admin functions
//! (create, list, get, update, delete, approve, suspend, members).

use boards_tenant_core::claims::TenantRef;
use boards_tenant_core::jwt::VerifiedToken;
use pgrx::prelude::*;

use crate::context::to_pg_uuid;
use crate::db;
use crate::error::{ExtError, ExtResult};

/// The `default` tenant's fixed id (sql/schema.sql): single-tenant data lives there.
pub const DEFAULT_TENANT_ID: &str = "00000000-0000-0000-0000-000000000000";
pub const DEFAULT_SLUG: &str = "default";

#[derive(Debug, Clone)]
pub struct TenantRow {
    pub id: pgrx::Uuid,
    pub slug: String,
    pub name: String,
    pub status: String,
}

const TENANT_COLUMNS: &str = "id, slug, name, status";

fn tenant_of(row: &pgrx::spi::SpiHeapTupleData) -> pgrx::spi::Result<Option<TenantRow>> {
    Ok(match row.get::<pgrx::Uuid>(1)? {
        Some(id) => Some(TenantRow {
            id,
            slug: row.get(2)?.unwrap_or_default(),
            name: row.get(3)?.unwrap_or_default(),
            status: row.get(4)?.unwrap_or_default(),
        }),
        None => None,
    })
}

pub fn find_by_slug(slug: &str) -> ExtResult<Option<TenantRow>> {
    Ok(db::rows(
        &format!("SELECT {TENANT_COLUMNS} FROM boards.tenants WHERE slug = $1"),
        &[slug.into()],
        tenant_of,
    )?
    .into_iter()
    .flatten()
    .next())
}

pub fn find_by_id(id: pgrx::Uuid) -> ExtResult<Option<TenantRow>> {
    Ok(db::rows(
        &format!("SELECT {TENANT_COLUMNS} FROM boards.tenants WHERE id = $1"),
        &[id.into()],
        tenant_of,
    )?
    .into_iter()
    .flatten()
    .next())
}

pub fn find(tenant: &TenantRef) -> ExtResult<Option<TenantRow>> {
    match tenant {
        TenantRef::Slug(slug) => find_by_slug(slug),
        TenantRef::Id(id) => find_by_id(to_pg_uuid(*id)),
    }
}

/// How a tenant reference reads in messages.
pub fn describe(tenant: &TenantRef) -> String {
    match tenant {
        TenantRef::Slug(slug) => slug.clone(),
        TenantRef::Id(id) => id.to_string(),
    }
}

/// The subject's user row in the tenant: its membership.
pub fn member_id(tenant_id: pgrx::Uuid, subject: &str) -> ExtResult<Option<pgrx::Uuid>> {
    db::one::<pgrx::Uuid>(
        "SELECT id FROM boards.users WHERE tenant_id = $1 AND auth_subject = $2",
        &[tenant_id.into(), subject.into()],
    )
}

/// Just-in-time membership for a tenant named by verified claims: the subject's user row,
/// created on first use. Looks before it writes, so the common case stays read-only.
pub fn join(tenant_id: pgrx::Uuid, token: &VerifiedToken) -> ExtResult<pgrx::Uuid> {
    if let Some(id) = member_id(tenant_id, &token.subject)? {
        return Ok(id);
    }
    let claim = |name: &str| {
        token
            .claims
            .get(name)
            .and_then(|v| v.as_str())
            .map(str::to_owned)
    };
    let provider = claim("iss").unwrap_or_else(|| "jwt".to_owned());
    let inserted = db::one_mut::<pgrx::Uuid>(
        "INSERT INTO boards.users (tenant_id, auth_provider, auth_subject, email, display_name)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (tenant_id, auth_subject) DO NOTHING
         RETURNING id",
        &[
            tenant_id.into(),
            provider.into(),
            token.subject.as_str().into(),
            claim("email").into(),
            claim("name").into(),
        ],
    )?;
    match inserted {
        Some(id) => Ok(id),
        // A concurrent first use won the race: its row is the membership.
        None => member_id(tenant_id, &token.subject)?.ok_or_else(|| {
            ExtError::NotAllowed("membership changed concurrently; retry the request".into())
        }),
    }
}
