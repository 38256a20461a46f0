//! Tenant management for the admin role, and the writes that create tenants and memberships
//! (`insert_tenant`, `insert_member`, first-use `join`). The look-ups live below in
//! `directory.rs`. The SQL-facing management functions are thin SQL wrappers
//! (sql/tenants.sql) over the `boards.tenant_*_internal` functions here, so they all return
//! one row type, `boards.tenant_info`.

use boards_tenant_core::jwt::VerifiedToken;
use boards_tenant_core::membership::MemberRole;
use boards_tenant_core::registration::validate_tenant_name;
use boards_tenant_core::slug::validate_slug;
use boards_tenant_core::tenant_status::TenantStatus;
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;
use pgrx::{spi, JsonB};

use crate::blocks;
use crate::db;
use crate::directory::{
    actor, current_role, existing, find_by_slug, lock_tenant, member_id, owner_count, TenantRow,
    DEFAULT_SLUG,
};
use crate::error::{ExtError, ExtResult, SqlResult};
use crate::invitations;
use crate::settings;

/// Inserts a membership unless the subject has one; returns the user id.
pub fn insert_member(
    tenant_id: pgrx::Uuid,
    subject: &str,
    role: MemberRole,
    provider: &str,
    email: Option<String>,
    display_name: Option<String>,
) -> ExtResult<pgrx::Uuid> {
    let inserted = db::one_mut::<pgrx::Uuid>(
        "INSERT INTO boards.users (tenant_id, auth_provider, auth_subject, role, email, display_name)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (tenant_id, auth_subject) DO NOTHING
         RETURNING id",
        &[
            tenant_id.into(),
            provider.into(),
            subject.into(),
            role.as_str().into(),
            email.into(),
            display_name.into(),
        ],
    )?;
    match inserted {
        Some(id) => Ok(id),
        // A concurrent first use won the race: its row is the membership.
        None => member_id(tenant_id, subject)?.ok_or_else(|| {
            ExtError::NotAllowed("membership changed concurrently; retry the request".into())
        }),
    }
}

/// Just-in-time membership for a tenant named by verified claims: the subject's user row,
/// created on first use. Looks before it writes, so the common case stays read-only.
///
/// A subject removed from the tenant (or blocked platform-wide) does not come back this way:
/// the removal is remembered until an admin re-adds them or they accept an invitation
/// (`blocks.rs`).
pub fn join(tenant_id: pgrx::Uuid, token: &VerifiedToken) -> ExtResult<pgrx::Uuid> {
    if let Some(id) = member_id(tenant_id, &token.subject)? {
        return Ok(id);
    }
    blocks::refuse_blocked_subject(&token.subject)?;
    if blocks::member_blocked(tenant_id, &token.subject)? {
        return Err(ExtError::Forbidden {
            message: "this subject was removed from the tenant".into(),
            detail: Some(
                "First-use membership does not re-admit a removed member: an owner or admin must invite them again, or an administrator add them (boards_tenant_add_member).".into(),
            ),
        });
    }
    let claim = |name: &str| {
        token
            .claims
            .get(name)
            .and_then(|v| v.as_str())
            .map(str::to_owned)
    };
    insert_member(
        tenant_id,
        &token.subject,
        MemberRole::Member,
        &claim("iss").unwrap_or_else(|| "jwt".to_owned()),
        claim("email"),
        claim("name"),
    )
}

fn settings_object(settings: Option<JsonB>) -> ExtResult<serde_json::Value> {
    match settings.map(|s| s.0) {
        None => Ok(serde_json::json!({})),
        Some(v @ serde_json::Value::Object(_)) => Ok(v),
        Some(_) => Err(ExtError::InvalidArgument(
            "settings must be a JSON object".into(),
        )),
    }
}

/// Inserts a tenant; `None` when the slug is taken or reserved (`boards.reserved_slugs`).
pub fn insert_tenant(
    name: &str,
    slug: &str,
    status: TenantStatus,
    settings: serde_json::Value,
) -> ExtResult<Option<pgrx::Uuid>> {
    let reservations = reservations_exist()?;
    let id = db::one_mut::<pgrx::Uuid>(
        if reservations {
            "INSERT INTO boards.tenants (name, slug, status, settings, created_by)
             SELECT $1, $2, $3, $4, $5
             WHERE NOT EXISTS (SELECT FROM boards.reserved_slugs r WHERE r.slug = $2)
             ON CONFLICT (slug) DO NOTHING RETURNING id"
        } else {
            "INSERT INTO boards.tenants (name, slug, status, settings, created_by)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (slug) DO NOTHING RETURNING id"
        },
        &[
            name.into(),
            slug.into(),
            status.as_str().into(),
            JsonB(settings).into(),
            actor().into(),
        ],
    )?;
    if id.is_some() && reserved_for(slug)?.is_some() {
        // A rename or deletion that freed this slug committed while the insert ran (it waited
        // on the old row's unique key): the slug is reserved after all.
        return Err(ExtError::SlugReserved(slug.to_owned()));
    }
    Ok(id)
}

/// Whether `boards.reserved_slugs` exists: a database still at 0.1.0 (the library updated,
/// `ALTER EXTENSION boards_tenant UPDATE` not yet run) has none, and reserves nothing.
fn reservations_exist() -> ExtResult<bool> {
    Ok(db::one::<bool>(
        "SELECT pg_catalog.to_regclass('boards.reserved_slugs') IS NOT NULL",
        &[],
    )?
    .unwrap_or(false))
}

/// The reservation of `slug`, from the latest committed state: `Some(tenant)` (the tenant that
/// freed it, if it still exists) when reserved.
fn reserved_for(slug: &str) -> ExtResult<Option<Option<pgrx::Uuid>>> {
    if !reservations_exist()? {
        return Ok(None);
    }
    Ok(db::latest_rows(
        "SELECT r.tenant_id FROM boards.reserved_slugs r WHERE r.slug = $1",
        &[slug.into()],
        |row| row.get::<pgrx::Uuid>(1),
    )?
    .into_iter()
    .next())
}

/// Reserves a slug its tenant gave up (`reason`: renamed or deleted): no new tenant may take it
/// until an admin releases it, so a still-valid token naming it never reaches another tenant.
fn reserve_slug(slug: &str, tenant_id: pgrx::Uuid, reason: &str) -> ExtResult<()> {
    if !reservations_exist()? {
        return Ok(());
    }
    db::run(
        "INSERT INTO boards.reserved_slugs (slug, tenant_id, reason, reserved_by)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (slug) DO UPDATE SET tenant_id = EXCLUDED.tenant_id, reason = EXCLUDED.reason,
             reserved_at = now(), reserved_by = EXCLUDED.reserved_by",
        &[slug.into(), tenant_id.into(), reason.into(), actor().into()],
    )
}

/// Real sample rows in the new tenant: a sample user, a board (owned by `owner`, or by the
/// sample user), the sample user's board membership and a generation.
pub fn create_sample_data(tenant_id: pgrx::Uuid, owner: Option<pgrx::Uuid>) -> ExtResult<()> {
    let sample_user = insert_member(
        tenant_id,
        "sample-user",
        MemberRole::Member,
        "sample",
        Some("sample.user@example.com".into()),
        Some("Sample User".into()),
    )?;
    let board_owner = owner.unwrap_or(sample_user);
    let board = db::one_mut::<pgrx::Uuid>(
        "INSERT INTO boards.boards (tenant_id, owner_id, title, description)
         VALUES ($1, $2, 'Welcome board', 'A sample board to explore Boards with')
         RETURNING id",
        &[tenant_id.into(), board_owner.into()],
    )?
    .ok_or_else(|| ExtError::NotAllowed("sample board was not created".into()))?;
    db::run(
        "INSERT INTO boards.board_members (tenant_id, board_id, user_id, role, invited_by)
         VALUES ($1, $2, $3, 'editor', $4)",
        &[
            tenant_id.into(),
            board.into(),
            sample_user.into(),
            board_owner.into(),
        ],
    )?;
    db::run(
        "INSERT INTO boards.generations
             (tenant_id, board_id, user_id, generator_name, artifact_type, input_params, status, progress)
         VALUES ($1, $2, $3, 'sample', 'image', '{\"prompt\": \"a friendly robot drawing a board\"}', 'completed', 100)",
        &[tenant_id.into(), board.into(), sample_user.into()],
    )?;
    Ok(())
}

/// Refuses changes that would leave single-tenant data without its tenant.
fn protect_default(tenant: &TenantRow, what: &str) -> ExtResult<()> {
    if tenant.slug == DEFAULT_SLUG && !settings::multi_tenant_mode() {
        return Err(ExtError::NotAllowed(format!(
            "the default tenant cannot be {what} while boards.multi_tenant_mode is off"
        )));
    }
    Ok(())
}

fn create(name: &str, slug: &str, settings: Option<JsonB>, sample: bool) -> ExtResult<pgrx::Uuid> {
    let name = validate_tenant_name(name)?;
    validate_slug(slug)?;
    let settings = settings_object(settings)?;
    let admin_email = settings
        .get("admin_email")
        .and_then(|v| v.as_str())
        .map(str::to_owned);
    let id = match insert_tenant(&name, slug, TenantStatus::Active, settings)? {
        Some(id) => id,
        // An operator may learn why (registration answers only "not available").
        None if reserved_for(slug)?.is_some() => {
            return Err(ExtError::SlugReserved(slug.to_owned()))
        }
        None => return Err(ExtError::TenantExists(slug.to_owned())),
    };
    if sample {
        create_sample_data(id, None)?;
    }
    // The first owner comes the way every member does: by invitation. The secret of this one
    // is not kept anywhere; the admin gets a deliverable one from boards_tenant_invite_owner(),
    // which replaces it (README, "Members, roles and invitations").
    if let Some(email) = admin_email {
        invitations::record_owner_invitation(id, &email)?;
    }
    Ok(id)
}

fn update(
    slug: &str,
    name: Option<String>,
    new_slug: Option<String>,
    settings: Option<JsonB>,
) -> ExtResult<pgrx::Uuid> {
    let tenant = existing(slug)?;
    let name = name.map(|n| validate_tenant_name(&n)).transpose()?;
    let new_slug = new_slug.filter(|s| s != slug);
    if let Some(new_slug) = &new_slug {
        validate_slug(new_slug)?;
        if tenant.slug == DEFAULT_SLUG {
            return Err(ExtError::NotAllowed(
                "the default tenant keeps its slug".into(),
            ));
        }
        if find_by_slug(new_slug)?.is_some() {
            return Err(ExtError::TenantExists(new_slug.clone()));
        }
        match reserved_for(new_slug)? {
            None => {}
            // Taking back its own former slug: the reservation has served its purpose.
            Some(Some(owner)) if owner == tenant.id => db::run(
                "DELETE FROM boards.reserved_slugs WHERE slug = $1",
                &[new_slug.as_str().into()],
            )?,
            Some(_) => return Err(ExtError::SlugReserved(new_slug.clone())),
        }
        reserve_slug(&tenant.slug, tenant.id, "renamed")?;
    }
    let settings = settings.map(|s| settings_object(Some(s))).transpose()?;
    db::run(
        "UPDATE boards.tenants
         SET name = coalesce($2, name), slug = coalesce($3, slug),
             settings = settings || coalesce($4, '{}'::jsonb), updated_at = now()
         WHERE id = $1",
        &[
            tenant.id.into(),
            name.into(),
            new_slug.into(),
            settings.map(JsonB).into(),
        ],
    )?;
    Ok(tenant.id)
}

fn set_status(slug: &str, status: TenantStatus) -> ExtResult<pgrx::Uuid> {
    let tenant = existing(slug)?;
    if status != TenantStatus::Active {
        protect_default(&tenant, "suspended")?;
    }
    db::run(
        "UPDATE boards.tenants SET status = $2, updated_at = now() WHERE id = $1 AND status <> $2",
        &[tenant.id.into(), status.as_str().into()],
    )?;
    Ok(tenant.id)
}

/// Protected tables ordered so that a table comes before every table it references.
fn deletion_order() -> ExtResult<Vec<(String, String)>> {
    let tables = db::rows(
        "SELECT r.tbl::oid, r.tbl::text, r.tenant_column::text,
                ARRAY(SELECT DISTINCT con.confrelid::oid FROM pg_catalog.pg_constraint con
                      WHERE con.conrelid = r.tbl AND con.contype = 'f' AND con.confrelid <> r.tbl)
         FROM boards.protected_tables r
         JOIN pg_catalog.pg_class c ON c.oid = r.tbl
         ORDER BY 2",
        &[],
        |row| {
            Ok((
                row.get::<pg_sys::Oid>(1)?.unwrap_or(pg_sys::Oid::INVALID),
                row.get::<String>(2)?.unwrap_or_default(),
                row.get::<String>(3)?.unwrap_or_default(),
                row.get::<Vec<pg_sys::Oid>>(4)?.unwrap_or_default(),
            ))
        },
    )?;
    // Repeatedly take the tables that nothing left still references.
    let mut pending = tables;
    let mut order = Vec::with_capacity(pending.len());
    while !pending.is_empty() {
        let referenced: Vec<pg_sys::Oid> = pending
            .iter()
            .flat_map(|(_, _, _, parents)| parents.clone())
            .collect();
        let (ready, rest): (Vec<_>, Vec<_>) = pending
            .into_iter()
            .partition(|(oid, ..)| !referenced.contains(oid));
        // A reference cycle: delete the rest in any order; NO ACTION keys are checked per statement.
        let (ready, rest) = if ready.is_empty() {
            (rest, Vec::new())
        } else {
            (ready, rest)
        };
        order.extend(
            ready
                .into_iter()
                .map(|(_, table, column, _)| (table, column)),
        );
        pending = rest;
    }
    Ok(order)
}

fn delete(slug: &str) -> ExtResult<Vec<(String, i64)>> {
    let tenant = lock_tenant(slug)?;
    protect_default(&tenant, "deleted")?;
    let mut removed = Vec::new();
    for (table, column) in deletion_order()? {
        let count = db::one_mut::<i64>(
            &format!(
                "WITH d AS (DELETE FROM {table} WHERE {} = $1 RETURNING 1) SELECT count(*) FROM d",
                spi::quote_identifier(&column)
            ),
            &[tenant.id.into()],
        )?
        .unwrap_or(0);
        removed.push((table, count));
    }
    db::run(
        "DELETE FROM boards.tenants WHERE id = $1",
        &[tenant.id.into()],
    )?;
    reserve_slug(&tenant.slug, tenant.id, "deleted")?;
    removed.push(("boards.tenants".to_owned(), 1));
    Ok(removed)
}

fn refuse_last_owner(tenant: &TenantRow, subject: &str) -> ExtResult<()> {
    if current_role(tenant.id, subject)? == Some(MemberRole::Owner) && owner_count(tenant.id)? <= 1
    {
        return Err(ExtError::NotAllowed(format!(
            "\"{subject}\" is the last owner of tenant \"{}\"; add another owner first",
            tenant.slug
        )));
    }
    Ok(())
}

fn add_member(
    slug: &str,
    subject: &str,
    role: &str,
    email: Option<String>,
    display_name: Option<String>,
) -> ExtResult<pgrx::Uuid> {
    let role = MemberRole::parse(role)?;
    if subject.trim().is_empty() {
        return Err(ExtError::InvalidArgument(
            "subject must not be empty".into(),
        ));
    }
    let tenant = lock_tenant(slug)?;
    if role != MemberRole::Owner {
        refuse_last_owner(&tenant, subject)?;
    }
    // Re-adding is how an admin lifts the block a removal left.
    blocks::clear_member_block(tenant.id, subject)?;
    db::one_mut::<pgrx::Uuid>(
        "INSERT INTO boards.users (tenant_id, auth_subject, role, email, display_name)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (tenant_id, auth_subject) DO UPDATE
         SET role = EXCLUDED.role,
             email = coalesce(EXCLUDED.email, boards.users.email),
             display_name = coalesce(EXCLUDED.display_name, boards.users.display_name),
             updated_at = now()
         RETURNING id",
        &[
            tenant.id.into(),
            subject.into(),
            role.as_str().into(),
            email.into(),
            display_name.into(),
        ],
    )?
    .ok_or_else(|| ExtError::NotAllowed("membership was not written".into()))
}

fn remove_member(slug: &str, subject: &str) -> ExtResult<()> {
    let tenant = lock_tenant(slug)?;
    let user_id = member_id(tenant.id, subject)?.ok_or_else(|| ExtError::MemberNotFound {
        subject: subject.to_owned(),
        tenant: tenant.slug.clone(),
    })?;
    refuse_last_owner(&tenant, subject)?;
    delete_member(&tenant, subject, user_id, "removed by an administrator")
}

/// Deletes a membership and remembers the removal (`blocks.rs`): the subject's still-valid
/// token does not bring them back through first-use membership. The caller holds the tenant's
/// lock and has checked the last-owner rule.
pub fn delete_member(
    tenant: &TenantRow,
    subject: &str,
    user_id: pgrx::Uuid,
    reason: &str,
) -> ExtResult<()> {
    // Invitations the member sent outlive them.
    db::run(
        "UPDATE boards.board_members SET invited_by = NULL WHERE tenant_id = $1 AND invited_by = $2",
        &[tenant.id.into(), user_id.into()],
    )?;
    db::run(
        "DELETE FROM boards.users WHERE tenant_id = $1 AND id = $2",
        &[tenant.id.into(), user_id.into()],
    )?;
    blocks::block_member(tenant.id, subject, reason)
}

#[pg_schema]
mod boards {
    use super::*;

    #[pg_extern(volatile, parallel_unsafe)]
    pub fn tenant_create_internal(
        name: Option<String>,
        slug: Option<String>,
        settings: Option<JsonB>,
        include_sample_data: Option<bool>,
    ) -> SqlResult<pgrx::Uuid> {
        Ok(create(
            &required(name, "name")?,
            &required(slug, "slug")?,
            settings,
            include_sample_data.unwrap_or(false),
        )?)
    }

    /// The tenant's id, or 42704.
    #[pg_extern(stable, parallel_unsafe)]
    pub fn tenant_id_internal(slug: Option<String>) -> SqlResult<pgrx::Uuid> {
        Ok(existing(&required(slug, "slug")?)?.id)
    }

    #[pg_extern(volatile, parallel_unsafe)]
    pub fn tenant_update_internal(
        slug: Option<String>,
        name: Option<String>,
        new_slug: Option<String>,
        settings: Option<JsonB>,
    ) -> SqlResult<pgrx::Uuid> {
        Ok(update(&required(slug, "slug")?, name, new_slug, settings)?)
    }

    #[pg_extern(volatile, parallel_unsafe)]
    pub fn tenant_set_status_internal(slug: Option<String>, status: &str) -> SqlResult<pgrx::Uuid> {
        let status = status.parse().map_err(ExtError::from)?;
        Ok(set_status(&required(slug, "slug")?, status)?)
    }

    pub(super) fn required(value: Option<String>, what: &str) -> ExtResult<String> {
        value.ok_or_else(|| ExtError::InvalidArgument(format!("{what} must not be NULL")))
    }
}

use boards::required;

// Freed slugs stay reserved (sql/reserved_slugs.sql).
extension_sql_file!(
    "../sql/reserved_slugs.sql",
    name = "reserved_slugs",
    requires = ["schema"]
);

// The SQL-facing management functions wrap the internals above.
extension_sql_file!(
    "../sql/tenants.sql",
    name = "tenants",
    requires = [
        "schema",
        "reserved_slugs",
        boards::tenant_create_internal,
        boards::tenant_id_internal,
        boards::tenant_update_internal,
        boards::tenant_set_status_internal
    ]
);

/// Removes the tenant and every row of it in every protected table; returns what was removed.
#[pg_extern(volatile, parallel_unsafe, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn boards_tenant_delete(
    slug: Option<String>,
) -> Result<
    TableIterator<'static, (name!(table_name, String), name!(rows_deleted, i64))>,
    ErrorReport,
> {
    Ok(TableIterator::new(delete(&required(slug, "slug")?)?))
}

/// Adds a member (or changes an existing member's role); returns the user id.
#[pg_extern(volatile, parallel_unsafe, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn boards_tenant_add_member(
    slug: Option<String>,
    subject: Option<String>,
    role: default!(Option<String>, "'member'"),
    email: default!(Option<String>, "NULL"),
    display_name: default!(Option<String>, "NULL"),
) -> SqlResult<pgrx::Uuid> {
    Ok(add_member(
        &required(slug, "slug")?,
        &required(subject, "subject")?,
        role.as_deref().unwrap_or("member"),
        email,
        display_name,
    )?)
}

/// Removes a member; never the last owner.
#[pg_extern(volatile, parallel_unsafe, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn boards_tenant_remove_member(slug: Option<String>, subject: Option<String>) -> SqlResult<()> {
    Ok(remove_member(
        &required(slug, "slug")?,
        &required(subject, "subject")?,
    )?)
}

/// The tenant's members.
#[pg_extern(stable, parallel_unsafe, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn boards_tenant_members(
    slug: Option<String>,
) -> Result<
    TableIterator<
        'static,
        (
            name!(user_id, Option<pgrx::Uuid>),
            name!(subject, String),
            name!(email, Option<String>),
            name!(display_name, Option<String>),
            name!(role, String),
            name!(created_at, Option<pgrx::datum::TimestampWithTimeZone>),
        ),
    >,
    ErrorReport,
> {
    let tenant = existing(&required(slug, "slug")?)?;
    let rows = db::rows(
        "SELECT id, auth_subject, email, display_name, role, created_at
         FROM boards.users WHERE tenant_id = $1 ORDER BY role = 'owner' DESC, auth_subject",
        &[tenant.id.into()],
        |row| {
            Ok((
                row.get::<pgrx::Uuid>(1)?,
                row.get::<String>(2)?.unwrap_or_default(),
                row.get(3)?,
                row.get(4)?,
                row.get::<String>(5)?.unwrap_or_default(),
                row.get(6)?,
            ))
        },
    )?;
    Ok(TableIterator::new(rows))
}
