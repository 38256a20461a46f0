//! Invitations: an owner or admin, acting as the app role in their own tenant's context,
//! invites an address with a role and an expiry; the invitation's one-time secret is returned
//! once, to be delivered out of band, and only its SHA-256 is stored. The invitee accepts with
//! their own verified token, whose verified `email` must be the invited one. An admin invites a
//! tenant's first owner the same way (`boards_tenant_invite_owner`; `boards_tenant_create` with
//! `settings.admin_email` records one).
//!
//! Every function here runs as the extension owner (SECURITY DEFINER, pinned search_path,
//! sql/finalize.sql), so every query names its tenant: an invitation of another tenant is
//! answered exactly like one that does not exist.

use boards_tenant_core::membership::{
    encode_secret, may_grant, normalize_email, secret_digest, InvitationRefusal, MemberRole,
    SECRET_BYTES,
};
use boards_tenant_core::tenant_status::TenantStatus;
use boards_tenant_core::CoreError;
use pgrx::datum::{Interval, TimestampWithTimeZone};
use pgrx::pg_sys;
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;

use crate::blocks;
use crate::context;
use crate::db;
use crate::directory;
use crate::error::{ExtError, ExtResult, SqlResult};
use crate::keys;
use crate::preload;
use crate::roles;
use crate::uuids;

/// What creating an invitation returns: the only time the secret is seen.
type Issued = (pgrx::Uuid, String, TimestampWithTimeZone);

/// A new secret from the server's strong random source.
fn new_secret() -> ExtResult<String> {
    let mut random = [0u8; SECRET_BYTES];
    // SAFETY: fills exactly `random.len()` bytes of the buffer.
    let filled = unsafe { pg_sys::pg_strong_random(random.as_mut_ptr().cast(), random.len()) };
    if !filled {
        return Err(ExtError::NotAllowed(
            "no strong random source is available for the invitation secret".into(),
        ));
    }
    Ok(encode_secret(&random))
}

/// Creates an invitation (replacing the address's pending ones in the tenant: one secret per
/// invitee is in force) and returns its id, secret and expiry.
fn issue(
    tenant_id: pgrx::Uuid,
    email: &str,
    role: MemberRole,
    expires_in: Option<Interval>,
) -> ExtResult<Issued> {
    let email = normalize_email(email)?;
    let acceptable = db::one::<bool>(
        "SELECT $1 > '0'::interval AND $1 <= '366 days'::interval",
        &[expires_in.into()],
    )?
    .unwrap_or(true);
    if !acceptable {
        return Err(ExtError::InvalidArgument(
            "expires_in must be positive and at most 366 days".into(),
        ));
    }
    let secret = new_secret()?;
    let digest = secret_digest(&secret)
        .ok_or_else(|| ExtError::NotAllowed("invitation secret could not be encoded".into()))?;
    let issued = db::rows_mut(
        "WITH replaced AS (
             UPDATE boards.invitations SET revoked_at = now()
             WHERE tenant_id = $1 AND email = $2 AND revoked_at IS NULL AND accepted_at IS NULL)
         INSERT INTO boards.invitations (tenant_id, email, role, secret_sha256, created_by, expires_at)
         VALUES ($1, $2, $3, $4, $5, now() + coalesce($6, '7 days'::interval))
         RETURNING id, expires_at",
        &[
            tenant_id.into(),
            email.as_str().into(),
            role.as_str().into(),
            digest.to_vec().into(),
            directory::actor().into(),
            expires_in.into(),
        ],
        |row| {
            Ok((
                row.get::<pgrx::Uuid>(1)?,
                row.get::<TimestampWithTimeZone>(2)?,
            ))
        },
    )?;
    match issued.into_iter().next() {
        Some((Some(id), Some(expires_at))) => Ok((id, secret, expires_at)),
        _ => Err(ExtError::NotAllowed("invitation was not written".into())),
    }
}

/// An owner invitation for a tenant's first owner (admin path, `boards_tenant_create`).
pub fn issue_owner_invitation(
    tenant_id: pgrx::Uuid,
    email: &str,
    expires_in: Option<Interval>,
) -> ExtResult<Issued> {
    issue(tenant_id, email, MemberRole::Owner, expires_in)
}

/// Records the owner invitation of a tenant an admin creates with `settings.admin_email`; its
/// secret is discarded (`boards_tenant_invite_owner` issues the deliverable one). A database
/// still at 0.1.0 (library updated, `ALTER EXTENSION boards_tenant UPDATE` not yet run) has
/// no invitations table and records nothing.
pub fn record_owner_invitation(tenant_id: pgrx::Uuid, email: &str) -> ExtResult<()> {
    let installed = db::one::<bool>(
        "SELECT pg_catalog.to_regclass('boards.invitations') IS NOT NULL",
        &[],
    )?
    .unwrap_or(false);
    if installed {
        issue_owner_invitation(tenant_id, email, None)?;
    }
    Ok(())
}

fn create(email: &str, role: &str, expires_in: Option<Interval>) -> ExtResult<Issued> {
    let actor = roles::manager_actor()?;
    let role = MemberRole::parse(role)?;
    may_grant(actor.role, role)?;
    issue(actor.tenant.id, email, role, expires_in)
}

fn revoke(id: pgrx::Uuid) -> ExtResult<()> {
    let actor = roles::manager_actor()?;
    let found = db::rows_mut(
        "SELECT role, accepted_at IS NOT NULL FROM boards.invitations
         WHERE tenant_id = $1 AND id = $2 FOR UPDATE",
        &[actor.tenant.id.into(), id.into()],
        |row| Ok((row.get::<String>(1)?, row.get::<bool>(2)?)),
    )?
    .into_iter()
    .next();
    let Some((Some(role), Some(accepted))) = found else {
        return Err(InvitationRefusal::Unknown.into());
    };
    if accepted {
        return Err(InvitationRefusal::AlreadyUsed.into());
    }
    // An admin cannot withdraw what they could not have granted.
    if let Some(role) = MemberRole::from_stored(&role) {
        may_grant(actor.role, role)?;
    }
    db::run(
        "UPDATE boards.invitations SET revoked_at = coalesce(revoked_at, now())
         WHERE tenant_id = $1 AND id = $2",
        &[actor.tenant.id.into(), id.into()],
    )
}

/// The verified email of the caller's token, or why it cannot accept.
fn verified_email(claims: &serde_json::Map<String, serde_json::Value>) -> ExtResult<String> {
    let unverified = matches!(
        claims.get("email_verified"),
        Some(serde_json::Value::Bool(false))
    ) || claims
        .get("email_verified")
        .and_then(|v| v.as_str())
        .is_some_and(|v| v.eq_ignore_ascii_case("false"));
    let email = claims
        .get("email")
        .and_then(|v| v.as_str())
        .and_then(|e| normalize_email(e).ok())
        .ok_or(InvitationRefusal::EmailMismatch)?;
    if unverified {
        return Err(InvitationRefusal::EmailUnverified.into());
    }
    Ok(email)
}

struct Accepted {
    tenant_id: pgrx::Uuid,
    tenant_slug: String,
    user_id: pgrx::Uuid,
    role: MemberRole,
}

fn accept(secret: &str) -> ExtResult<Accepted> {
    preload::require()?;
    let ctx = context::current()
        .filter(|c| c.subject.is_some())
        .ok_or_else(|| {
            CoreError::unauthenticated(
                "accepting an invitation needs a verified token: call boards_authenticate() first",
            )
        })?;
    let subject = ctx.subject.clone().unwrap_or_default();
    blocks::refuse_blocked_subject(&subject)?;
    let digest = secret_digest(secret).ok_or(InvitationRefusal::Unknown)?;
    let found = db::rows_mut(
        "SELECT tenant_id, id, email, role, expires_at <= now(),
                revoked_at IS NOT NULL, accepted_at IS NOT NULL
         FROM boards.invitations WHERE secret_sha256 = $1 FOR UPDATE",
        &[digest.to_vec().into()],
        |row| {
            Ok((
                row.get::<pgrx::Uuid>(1)?,
                row.get::<pgrx::Uuid>(2)?,
                row.get::<String>(3)?.unwrap_or_default(),
                row.get::<String>(4)?
                    .and_then(|r| MemberRole::from_stored(&r)),
                row.get::<bool>(5)?.unwrap_or(true),
                row.get::<bool>(6)?.unwrap_or(true),
                row.get::<bool>(7)?.unwrap_or(true),
            ))
        },
    )?
    .into_iter()
    .next();
    let Some((Some(tenant_id), Some(id), email, Some(invited), expired, revoked, used)) = found
    else {
        return Err(InvitationRefusal::Unknown.into());
    };
    // The address first: whoever holds someone else's secret learns nothing more.
    if verified_email(&ctx.claims)? != email {
        return Err(InvitationRefusal::EmailMismatch.into());
    }
    if used {
        return Err(InvitationRefusal::AlreadyUsed.into());
    }
    if revoked {
        return Err(InvitationRefusal::Revoked.into());
    }
    if expired {
        return Err(InvitationRefusal::Expired.into());
    }
    // A token of a tenant-scoped key (a customer's own identity provider) joins only the
    // key's tenants, by invitation as by any other way.
    if !ctx
        .kid
        .as_deref()
        .is_none_or(|key| keys::admits_tenant(key, uuids::from_pg_uuid(tenant_id)))
    {
        return Err(CoreError::access_denied().into());
    }
    let tenant = directory::lock_tenant_id(tenant_id)?;
    if tenant.status != TenantStatus::Active {
        return Err(ExtError::TenantNotActive {
            slug: tenant.slug,
            status: tenant.status,
        });
    }
    // An invitation never demotes: a member invited again with a lower role keeps theirs.
    let current = directory::current_role(tenant.id, &subject)?;
    let role = current.map_or(invited, |c| c.max(invited));
    let claim = |name: &str| {
        ctx.claims
            .get(name)
            .and_then(|v| v.as_str())
            .map(str::to_owned)
    };
    let user_id = db::one_mut::<pgrx::Uuid>(
        "INSERT INTO boards.users (tenant_id, auth_provider, auth_subject, role, email, display_name)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (tenant_id, auth_subject) DO UPDATE
         SET role = EXCLUDED.role, email = coalesce(boards.users.email, EXCLUDED.email),
             updated_at = now()
         RETURNING id",
        &[
            tenant.id.into(),
            claim("iss").unwrap_or_else(|| "jwt".to_owned()).into(),
            subject.as_str().into(),
            role.as_str().into(),
            email.as_str().into(),
            claim("name").into(),
        ],
    )?
    .ok_or_else(|| ExtError::NotAllowed("membership was not written".into()))?;
    blocks::clear_member_block(tenant.id, &subject)?;
    db::run(
        "UPDATE boards.invitations SET accepted_at = now(), accepted_by = $3
         WHERE tenant_id = $1 AND id = $2",
        &[tenant.id.into(), id.into(), subject.as_str().into()],
    )?;
    Ok(Accepted {
        tenant_id: tenant.id,
        tenant_slug: tenant.slug,
        user_id,
        role,
    })
}

/// Invites `email` to the context's tenant (owner or admin; never above the caller's own
/// role). Returns the one-time secret to deliver out of band; only its hash is stored.
#[pg_extern(volatile, parallel_unsafe, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn boards_invitation_create(
    email: Option<String>,
    role: default!(Option<String>, "'member'"),
    expires_in: default!(Option<Interval>, "'7 days'"),
) -> Result<
    TableIterator<
        'static,
        (
            name!(invitation_id, pgrx::Uuid),
            name!(secret, String),
            name!(expires_at, TimestampWithTimeZone),
        ),
    >,
    ErrorReport,
> {
    let email = email.ok_or_else(|| ExtError::InvalidArgument("email must not be NULL".into()))?;
    Ok(TableIterator::once(create(
        &email,
        role.as_deref().unwrap_or("member"),
        expires_in,
    )?))
}

/// The context tenant's invitations, without secrets (owner or admin).
#[pg_extern(stable, parallel_unsafe, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn boards_invitation_list() -> Result<
    TableIterator<
        'static,
        (
            name!(invitation_id, Option<pgrx::Uuid>),
            name!(email, Option<String>),
            name!(role, Option<String>),
            name!(status, Option<String>),
            name!(created_by, Option<String>),
            name!(created_at, Option<TimestampWithTimeZone>),
            name!(expires_at, Option<TimestampWithTimeZone>),
            name!(accepted_by, Option<String>),
        ),
    >,
    ErrorReport,
> {
    let actor = roles::manager_actor()?;
    let rows = db::rows(
        "SELECT id, email, role,
                CASE WHEN accepted_at IS NOT NULL THEN 'accepted'
                     WHEN revoked_at IS NOT NULL THEN 'revoked'
                     WHEN expires_at <= now() THEN 'expired'
                     ELSE 'pending' END,
                created_by, created_at, expires_at, accepted_by
         FROM boards.invitations WHERE tenant_id = $1 ORDER BY created_at, id",
        &[actor.tenant.id.into()],
        |row| {
            Ok((
                row.get(1)?,
                row.get(2)?,
                row.get(3)?,
                row.get(4)?,
                row.get(5)?,
                row.get(6)?,
                row.get(7)?,
                row.get(8)?,
            ))
        },
    )?;
    Ok(TableIterator::new(rows))
}

/// Revokes a pending invitation of the context's tenant (owner or admin). Another tenant's
/// invitation is answered like an unknown one (42704).
#[pg_extern(volatile, parallel_unsafe, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn boards_invitation_revoke(invitation_id: Option<pgrx::Uuid>) -> SqlResult<()> {
    let id = invitation_id
        .ok_or_else(|| ExtError::InvalidArgument("invitation_id must not be NULL".into()))?;
    Ok(revoke(id)?)
}

/// Accepts an invitation with the caller's verified token (`boards_authenticate` or a tenant
/// context): creates or raises the membership, lifts a removal's block, marks it used.
#[pg_extern(volatile, parallel_unsafe, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn boards_invitation_accept(
    secret: Option<String>,
) -> Result<
    TableIterator<
        'static,
        (
            name!(tenant_id, pgrx::Uuid),
            name!(tenant_slug, String),
            name!(user_id, pgrx::Uuid),
            name!(role, String),
        ),
    >,
    ErrorReport,
> {
    let secret = secret
        .ok_or(InvitationRefusal::Unknown)
        .map_err(ExtError::from)?;
    let accepted = accept(&secret)?;
    Ok(TableIterator::once((
        accepted.tenant_id,
        accepted.tenant_slug,
        accepted.user_id,
        accepted.role.as_str().to_owned(),
    )))
}

/// Admin role: invites `email` as an owner of the tenant and returns the secret to deliver
/// (replacing pending invitations of that address, e.g. the one `boards_tenant_create`
/// recorded for `settings.admin_email`).
#[pg_extern(volatile, parallel_unsafe, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn boards_tenant_invite_owner(
    slug: Option<String>,
    email: Option<String>,
    expires_in: default!(Option<Interval>, "'7 days'"),
) -> Result<
    TableIterator<
        'static,
        (
            name!(invitation_id, pgrx::Uuid),
            name!(secret, String),
            name!(expires_at, TimestampWithTimeZone),
        ),
    >,
    ErrorReport,
> {
    let slug = slug.ok_or_else(|| ExtError::InvalidArgument("slug must not be NULL".into()))?;
    let email = email.ok_or_else(|| ExtError::InvalidArgument("email must not be NULL".into()))?;
    let tenant =
        directory::find_by_slug(&slug)?.ok_or_else(|| ExtError::TenantNotFound(slug.clone()))?;
    Ok(TableIterator::once(issue_owner_invitation(
        tenant.id, &email, expires_in,
    )?))
}

/// Admin role: deletes invitations that can no longer be used (expired or revoked, never
/// accepted); returns how many. The audit reports expired ones left behind.
#[pg_extern(volatile, parallel_unsafe, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn boards_tenant_purge_invitations() -> SqlResult<i64> {
    Ok(db::one_mut::<i64>(
        "WITH d AS (DELETE FROM boards.invitations
                    WHERE accepted_at IS NULL AND (revoked_at IS NOT NULL OR expires_at <= now())
                    RETURNING 1)
         SELECT count(*) FROM d",
        &[],
    )?
    .unwrap_or(0))
}
