//! Self-service registration: an authenticated subject creates a tenant and becomes its owner.
//!
//! Race-free by construction: a transaction-scoped advisory lock per subject serializes one
//! subject's registrations, so the owned-tenant count checked against
//! `boards.max_tenants_per_user` cannot be raced; slugs are claimed with
//! `INSERT ... ON CONFLICT DO NOTHING`, so two registrations of one name get two slugs and an
//! existing tenant is never handed over.

use boards_tenant_core::claims::organisation_email_domain;
use boards_tenant_core::membership::MemberRole;
use boards_tenant_core::registration::{
    check_tenant_limit, registration_response, validate_registration, RegistrationPolicy,
    RegistrationRequest,
};
use boards_tenant_core::slug::slug_with_suffix;
use boards_tenant_core::tenant_status::TenantStatus;
use boards_tenant_core::CoreError;
use pgrx::prelude::*;
use pgrx::{pg_sys, JsonB};
use serde_json::json;

use crate::db;
use crate::error::{ExtError, ExtResult, SqlResult};
use crate::keys;
use crate::preload;
use crate::readers;
use crate::settings;
use crate::tenants;
use crate::uuids;

/// Suffixes tried for a generated slug before giving up.
const MAX_SLUG_ATTEMPTS: u32 = 100;

fn policy() -> RegistrationPolicy {
    let max = settings::max_tenants_per_user();
    RegistrationPolicy {
        multi_tenant_mode: settings::multi_tenant_mode(),
        requires_approval: settings::registration_requires_approval(),
        allowed_domains: settings::registration_allowed_domains(),
        max_tenants_per_user: (max > 0).then_some(max as u32),
    }
}

fn owned_tenants(subject: &str) -> ExtResult<u32> {
    let count = db::one::<i64>(
        "SELECT count(*) FROM boards.users WHERE auth_subject = $1 AND role = 'owner'",
        &[subject.into()],
    )?
    .unwrap_or(0);
    Ok(u32::try_from(count).unwrap_or(u32::MAX))
}

/// Claims the slug for a new tenant: the requested one or nothing; a generated one with the
/// first free suffix.
fn claim_slug(
    base: &str,
    requested: bool,
    name: &str,
    status: TenantStatus,
    settings: &serde_json::Value,
) -> ExtResult<(pgrx::Uuid, String)> {
    let attempts = if requested { 1 } else { MAX_SLUG_ATTEMPTS };
    for n in 1..=attempts {
        let slug = if n == 1 {
            base.to_owned()
        } else {
            slug_with_suffix(base, n)
        };
        match tenants::insert_tenant(name, &slug, status, settings.clone()) {
            Ok(Some(id)) => return Ok((id, slug)),
            Ok(None) => {}
            // Reserved after all (a concurrent rename or deletion): the same answer as taken.
            Err(ExtError::SlugReserved(_)) => return Err(ExtError::SlugNotAvailable),
            Err(e) => return Err(e),
        }
    }
    // One answer for every reason a slug is unavailable (README, "Registration"): an active,
    // suspended or pending tenant holds it, or it is reserved. The caller learns only that it
    // cannot have this slug, never which tenant state is behind it.
    Err(ExtError::SlugNotAvailable)
}

fn register(req: RegistrationRequest, include_sample_data: bool) -> ExtResult<serde_json::Value> {
    let ctx = readers::current_identity()
        .filter(|c| c.subject.is_some())
        .ok_or_else(|| {
            CoreError::unauthenticated("Authentication required for tenant registration")
        })?;
    // A customer's own identity provider, whose key is scoped to its tenants, can mint any
    // subject: it must not found tenants of the platform.
    if ctx.kid.as_deref().is_some_and(keys::is_tenant_scoped) {
        return Err(ExtError::Forbidden {
            message: "Access denied".into(),
            detail: Some("tokens of a tenant-scoped key cannot register tenants".into()),
        });
    }
    let subject = ctx.subject.clone().unwrap_or_default();
    let claim = |name: &str| ctx.claims.get(name);
    let token_email = claim("email").and_then(|v| v.as_str());
    let token_email_verified = claim("email_verified").and_then(|v| {
        v.as_bool()
            .or_else(|| v.as_str().map(|s| !s.eq_ignore_ascii_case("false")))
    });
    let policy = policy();
    let valid = validate_registration(&req, &policy, token_email, token_email_verified)?;

    if policy.max_tenants_per_user.is_some() {
        // SAFETY: reads the transaction's isolation level.
        if unsafe { pg_sys::XactIsoLevel } >= pg_sys::XACT_REPEATABLE_READ as i32 {
            return Err(ExtError::NotAllowed(
                "with boards.max_tenants_per_user set, register in a READ COMMITTED transaction (the count must see concurrent registrations)".into(),
            ));
        }
        db::run(
            "SELECT pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtextextended('boards_tenant.register:' || $1, 0))",
            &[subject.as_str().into()],
        )?;
        check_tenant_limit(owned_tenants(&subject)?, &policy)?;
    }

    // The registrant's own verified organisation domain lets colleagues join on first use.
    let email_domains: Vec<String> =
        organisation_email_domain(&ctx.claims, &settings::public_email_domains())
            .into_iter()
            .collect();
    let settings = json!({
        "admin_email": valid.admin_email,
        "use_case": valid.use_case,
        "organization_size": valid.organization_size,
        "registered_by": subject,
        "email_domains": email_domains,
    });
    let (tenant_id, slug) = claim_slug(
        &valid.slug,
        valid.slug_was_requested,
        &valid.organization_name,
        valid.status,
        &settings,
    )?;
    let email = token_email
        .map(str::to_owned)
        .or_else(|| Some(valid.admin_email.clone()));
    let display_name = claim("name").and_then(|v| v.as_str()).map(str::to_owned);
    let provider = claim("iss").and_then(|v| v.as_str()).unwrap_or("jwt");
    let owner = tenants::insert_member(
        tenant_id,
        &subject,
        MemberRole::Owner,
        provider,
        email,
        display_name,
    )?;
    if include_sample_data {
        tenants::create_sample_data(tenant_id, Some(owner))?;
    }
    Ok(registration_response(
        uuids::from_pg_uuid(tenant_id),
        &slug,
        &valid.organization_name,
        valid.status,
        settings::frontend_base_url().as_deref(),
    ))
}

/// Registers a tenant for the authenticated subject, who becomes its owner.
#[pg_extern(volatile, parallel_unsafe, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn boards_tenant_register(
    organization_name: Option<String>,
    admin_email: Option<String>,
    use_case: default!(Option<String>, "NULL"),
    organization_size: default!(Option<String>, "NULL"),
    organization_slug: default!(Option<String>, "NULL"),
    include_sample_data: default!(bool, true),
) -> SqlResult<JsonB> {
    // The approval, domain and limit settings are what registration enforces.
    preload::require()?;
    let req = RegistrationRequest {
        organization_name: organization_name.unwrap_or_default(),
        admin_email: admin_email.unwrap_or_default(),
        use_case,
        organization_size,
        organization_slug,
    };
    Ok(JsonB(register(req, include_sample_data)?))
}

/// The registration settings in force.
#[pg_extern(stable, parallel_safe)]
fn boards_tenant_registration_status() -> SqlResult<JsonB> {
    preload::require()?;
    let policy = policy();
    Ok(JsonB(json!({
        "enabled": policy.multi_tenant_mode,
        "requires_approval": policy.requires_approval,
        "max_tenants_per_user": policy.max_tenants_per_user,
        "allowed_domains": (!policy.allowed_domains.is_empty()).then_some(&policy.allowed_domains),
        "frontend_base_url": settings::frontend_base_url(),
    })))
}
