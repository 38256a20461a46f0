//! Roles in policies: `boards_current_role()` and `boards_has_role(min_role)`, and the caller
//! acting in its own tenant that the self-service functions (`members.rs`, `invitations.rs`)
//! start from.
//!
//! The role is read through the same cached, invalidated membership lookup as the context's
//! validity (`directory::member`), never from the context's text: a demotion committed by
//! another session shows from the next statement, and with nothing changed the answer costs
//! no query. Both readers are STABLE and PARALLEL SAFE, not SECURITY DEFINER: inside
//! `(SELECT boards_has_role('admin'))` a policy evaluates them once per statement.

use boards_tenant_core::membership::{MemberRole, MembershipRefusal};
use pgrx::prelude::*;

use crate::directory::{self, TenantRow};
use crate::error::{ExtError, ExtResult, SqlResult};
use crate::preload;
use crate::readers;
use crate::uuids::to_pg_uuid;

/// The subject's role in the context's tenant: `None` without a usable context with a subject,
/// or when the member row is no longer the one the context was set for.
pub fn current_role() -> ExtResult<Option<MemberRole>> {
    let Some(ctx) = readers::current_with_tenant() else {
        return Ok(None);
    };
    let (Some(tenant), Some(subject), Some(user)) =
        (ctx.tenant_id, ctx.subject.as_deref(), ctx.user_id)
    else {
        return Ok(None);
    };
    Ok(directory::member(to_pg_uuid(tenant), subject)?
        .filter(|m| m.id == to_pg_uuid(user))
        .and_then(|m| m.role))
}

/// The caller acting in its own tenant: a verified subject, its tenant and its role there.
pub struct Actor {
    pub tenant: TenantRow,
    pub subject: String,
    pub role: MemberRole,
}

/// The caller as a member of the context's tenant, or 42501.
pub fn member_actor() -> ExtResult<Actor> {
    preload::require()?;
    let not_in_tenant = || ExtError::Forbidden {
        message: "this needs a tenant context set from a verified token of one of its members"
            .into(),
        detail: Some("Call boards_set_tenant_from_jwt() first.".into()),
    };
    let ctx = readers::current_with_tenant().ok_or_else(not_in_tenant)?;
    let role = current_role()?.ok_or_else(not_in_tenant)?;
    let (Some(tenant), Some(subject)) = (ctx.tenant_id, ctx.subject.clone()) else {
        return Err(not_in_tenant());
    };
    let tenant = directory::find_by_id(to_pg_uuid(tenant))?.ok_or_else(not_in_tenant)?;
    Ok(Actor {
        tenant,
        subject,
        role,
    })
}

/// The caller as an owner or admin of the context's tenant, or 42501.
pub fn manager_actor() -> ExtResult<Actor> {
    let actor = member_actor()?;
    if !actor.role.manages_members() {
        return Err(MembershipRefusal::NotAManager.into());
    }
    Ok(actor)
}

/// The current subject's role in the context's tenant: `owner`, `admin`, `member`, or NULL
/// without a subject (or without a usable tenant context).
#[pg_extern(stable, parallel_safe)]
fn boards_current_role() -> SqlResult<Option<String>> {
    preload::require()?;
    Ok(current_role()?.map(|r| r.as_str().to_owned()))
}

/// Whether the current subject's role in the context's tenant is at least `min_role`
/// (owner > admin > member); false without one. An unknown role name is 22023.
#[pg_extern(stable, parallel_safe)]
fn boards_has_role(min_role: Option<String>) -> SqlResult<bool> {
    preload::require()?;
    let min_role =
        min_role.ok_or_else(|| ExtError::InvalidArgument("min_role must not be NULL".into()))?;
    let wanted = MemberRole::parse(&min_role).map_err(ExtError::from)?;
    Ok(current_role()?.is_some_and(|role| role >= wanted))
}
