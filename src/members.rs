//! Self-service membership: the owners and admins of a tenant, acting as the app role in their
//! own tenant's context, list its members, change their roles and remove them; never granting a
//! role above their own, never touching a member above them, never removing or demoting the
//! last owner (`boards_tenant_core::membership`). A removal sticks like an admin's (`blocks.rs`).
//!
//! The functions run as the extension owner (SECURITY DEFINER, pinned search_path,
//! sql/finalize.sql) and name the context's tenant in every query.

use boards_tenant_core::membership::{check_change, MemberChange, MemberRole};
use pgrx::datum::TimestampWithTimeZone;
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;

use crate::db;
use crate::directory::{self, TenantRow};
use crate::error::{ExtError, ExtResult, SqlResult};
use crate::roles::{self, Actor};
use crate::tenants;

/// The target's user id and role, in the locked tenant, or 42704.
fn target(tenant: &TenantRow, subject: &str) -> ExtResult<(pgrx::Uuid, MemberRole)> {
    let found = db::rows(
        "SELECT id, role FROM boards.users WHERE tenant_id = $1 AND auth_subject = $2",
        &[tenant.id.into(), subject.into()],
        |row| Ok((row.get::<pgrx::Uuid>(1)?, row.get::<String>(2)?)),
    )?
    .into_iter()
    .next();
    match found {
        Some((Some(id), Some(role))) => MemberRole::from_stored(&role)
            .map(|role| (id, role))
            .ok_or_else(|| ExtError::InvalidArgument(format!("unknown stored role \"{role}\""))),
        _ => Err(ExtError::MemberNotFound {
            subject: subject.to_owned(),
            tenant: tenant.slug.clone(),
        }),
    }
}

/// Locks the actor's tenant (membership changes of one tenant are serialized, so the
/// last-owner rule holds under concurrency) and checks the change.
fn checked(
    actor: &Actor,
    subject: &str,
    new: Option<MemberRole>,
) -> ExtResult<(TenantRow, pgrx::Uuid)> {
    let tenant = directory::lock_tenant_id(actor.tenant.id)?;
    let (user_id, current) = target(&tenant, subject)?;
    let owners = u64::try_from(directory::owner_count(tenant.id)?).unwrap_or(0);
    check_change(MemberChange {
        actor: actor.role,
        current,
        new,
        owners,
    })?;
    Ok((tenant, user_id))
}

fn set_role(subject: &str, role: &str) -> ExtResult<MemberRole> {
    let actor = roles::manager_actor()?;
    let role = MemberRole::parse(role)?;
    let (tenant, user_id) = checked(&actor, subject, Some(role))?;
    db::run(
        "UPDATE boards.users SET role = $3, updated_at = now()
         WHERE tenant_id = $1 AND id = $2 AND role <> $3",
        &[tenant.id.into(), user_id.into(), role.as_str().into()],
    )?;
    Ok(role)
}

fn remove(subject: &str) -> ExtResult<()> {
    let actor = roles::manager_actor()?;
    let (tenant, user_id) = checked(&actor, subject, None)?;
    let reason = format!("removed by {} \"{}\"", actor.role, actor.subject);
    tenants::delete_member(&tenant, subject, user_id, &reason)
}

fn required(value: Option<String>, what: &str) -> ExtResult<String> {
    value.ok_or_else(|| ExtError::InvalidArgument(format!("{what} must not be NULL")))
}

/// The members of the context's tenant (any member may list them).
#[pg_extern(stable, parallel_unsafe, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn boards_member_list() -> Result<
    TableIterator<
        'static,
        (
            name!(user_id, Option<pgrx::Uuid>),
            name!(subject, Option<String>),
            name!(email, Option<String>),
            name!(display_name, Option<String>),
            name!(role, Option<String>),
            name!(created_at, Option<TimestampWithTimeZone>),
        ),
    >,
    ErrorReport,
> {
    let actor = roles::member_actor()?;
    let rows = db::rows(
        "SELECT id, auth_subject, email, display_name, role, created_at
         FROM boards.users WHERE tenant_id = $1
         ORDER BY CASE role WHEN 'owner' THEN 0 WHEN 'admin' THEN 1 ELSE 2 END, auth_subject",
        &[actor.tenant.id.into()],
        |row| {
            Ok((
                row.get(1)?,
                row.get(2)?,
                row.get(3)?,
                row.get(4)?,
                row.get(5)?,
                row.get(6)?,
            ))
        },
    )?;
    Ok(TableIterator::new(rows))
}

/// Changes a member's role in the context's tenant (owner or admin); returns the new role.
#[pg_extern(volatile, parallel_unsafe, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn boards_member_set_role(subject: Option<String>, role: Option<String>) -> SqlResult<String> {
    let subject = required(subject, "subject")?;
    let role = required(role, "role")?;
    Ok(set_role(&subject, &role)?.as_str().to_owned())
}

/// Removes a member from the context's tenant (owner or admin); the removal sticks against
/// first-use membership.
#[pg_extern(volatile, parallel_unsafe, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn boards_member_remove(subject: Option<String>) -> SqlResult<()> {
    Ok(remove(&required(subject, "subject")?)?)
}
