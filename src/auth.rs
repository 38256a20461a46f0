//! From a token to a tenant context: verify (with a per-backend cache of verified tokens),
//! resolve the tenant (DESIGN section 4, in `boards_tenant_core::claims`), check it exists and
//! is active, check or create the subject's membership, install the context.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use boards_tenant_core::cache::TokenCache;
use boards_tenant_core::claims::{
    organisation_email_domain, resolve, ClaimTenant, Resolution, ResolveConfig, Source,
};
use boards_tenant_core::context::Context;
use boards_tenant_core::jwt::{
    check_claims, may_join_tenant_created_at, verify_signature, VerifiedToken, VerifyOptions,
};
use boards_tenant_core::tenant_status::TenantStatus;
use boards_tenant_core::CoreError;
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;

use crate::blocks;
use crate::context;
use crate::context_row::{context_row, ContextRow};
use crate::diagnostics;
use crate::directory::{self, TenantRow};
use crate::error::{ExtError, ExtResult, SqlResult};
use crate::keys;
use crate::preload;
use crate::settings::{self, LogLevel};
use crate::tenants;
use crate::uuids::from_pg_uuid;

/// Enough for the tokens of every user a pooled connection serves; bounded in memory by half
/// of `boards.cache_budget`.
const TOKEN_CACHE_ENTRIES: usize = 1024;
const TOKEN_CACHE_BYTES: usize = 8 * 1024 * 1024;

thread_local! {
    static VERIFIED: RefCell<TokenCache> =
        RefCell::new(TokenCache::new(TOKEN_CACHE_ENTRIES, TOKEN_CACHE_BYTES));
    /// The key generation the cache's entries were verified under.
    static VERIFIED_UNDER: Cell<Option<u64>> = const { Cell::new(None) };
}

/// The verified-token cache belongs to this module, and so does dropping it: each entry already
/// answers only under the key generation that verified it (`keys::installed`), and the first
/// verification under a new generation empties the cache, so the memory of tokens no key
/// verifies any more goes at once too. (`keys` knows nothing of this cache.)
fn verified_tokens_follow(generation: u64) {
    if VERIFIED_UNDER.with(|g| g.replace(Some(generation))) != Some(generation) {
        VERIFIED.with(|c| c.borrow_mut().clear());
    }
}

fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn verify_options() -> VerifyOptions {
    VerifyOptions {
        leeway_secs: settings::jwt_leeway_secs(),
        issuers: settings::jwt_issuers(),
        audiences: settings::jwt_audiences(),
        require_exp: settings::jwt_require_exp(),
    }
}

/// Verifies a token: the signature once per backend (cached), the clock- and
/// settings-dependent claims on every use.
///
/// A cached verification answers only under the key generation that produced it: the key set
/// is looked up first (which processes pending invalidations, so a key removed by a committed
/// transaction is gone from the next statement on, also inside an open transaction), and a
/// token verified by an earlier generation is verified again.
pub fn verify(token: &str) -> ExtResult<Rc<VerifiedToken>> {
    let (generation, keys) = keys::installed()?;
    verified_tokens_follow(generation);
    let budget = settings::cache_budget_bytes() / 8 * 3;
    let cached = VERIFIED.with(|c| {
        let mut c = c.borrow_mut();
        if c.max_bytes() != budget {
            c.set_max_bytes(budget);
        }
        c.get(token, generation)
    });
    let verified = match cached {
        Some(v) => v,
        None => {
            let v = Rc::new(verify_signature(token, &keys)?);
            VERIFIED.with(|c| c.borrow_mut().insert(token, Rc::clone(&v), generation));
            v
        }
    };
    check_claims(&verified, &verify_options(), now_unix())?;
    Ok(verified)
}

thread_local! {
    /// The resolution settings, parsed once per value: the public mail domain list alone is
    /// some fifty strings.
    static RESOLVE_CONFIG: RefCell<Option<(settings::ResolutionInputs, Rc<ResolveConfig>)>> =
        const { RefCell::new(None) };
}

fn resolve_config() -> Rc<ResolveConfig> {
    let key = settings::resolution_inputs();
    RESOLVE_CONFIG.with(|cell| {
        let mut cached = cell.borrow_mut();
        if let Some((cached_key, config)) = cached.as_ref() {
            if *cached_key == key {
                return Rc::clone(config);
            }
        }
        let config = Rc::new(ResolveConfig {
            multi_tenant_mode: settings::multi_tenant_mode(),
            custom_claim: settings::jwt_tenant_claim(),
            public_email_domains: settings::public_email_domains(),
        });
        *cached = Some((key, Rc::clone(&config)));
        config
    })
}

/// The tenant a request may act for, and whether the subject may join it on first use.
struct Chosen {
    tenant: TenantRow,
    source: Source,
    just_in_time: bool,
}

fn require_active(tenant: TenantRow) -> ExtResult<TenantRow> {
    if tenant.status == TenantStatus::Active {
        Ok(tenant)
    } else {
        Err(ExtError::TenantNotActive {
            slug: tenant.slug,
            status: tenant.status,
        })
    }
}

/// A tenant named by verified claims: it must exist and be active; membership comes on first
/// use. A tenant found through the email domain is joined on first use only when it lists that
/// domain in `settings.email_domains`: otherwise whoever registered the slug first would collect
/// every employee of the company whose domain maps to it.
fn by_claims(
    claim: &ClaimTenant,
    found: Option<TenantRow>,
    verified: &VerifiedToken,
) -> ExtResult<Chosen> {
    let tenant =
        found.ok_or_else(|| ExtError::TenantNotFound(directory::describe(&claim.tenant)))?;
    let tenant = require_active(tenant)?;
    let just_in_time = match claim.source {
        Source::EmailDomain => {
            match organisation_email_domain(
                &verified.claims,
                &resolve_config().public_email_domains,
            ) {
                Some(domain) => directory::accepts_email_domain(tenant.id, &domain)?,
                None => false,
            }
        }
        _ => true,
    };
    Ok(Chosen {
        tenant,
        source: claim.source,
        just_in_time,
    })
}

/// A tenant named only by the X-Tenant header: the subject must already be a member. An
/// unknown tenant and a non-member get the same answer, so the header cannot probe for slugs.
fn by_header(slug: &str, subject: &str) -> ExtResult<(Chosen, pgrx::Uuid)> {
    let tenant = directory::find_by_slug(slug)?;
    let member = match &tenant {
        Some(t) => directory::member_id(t.id, subject)?,
        None => None,
    };
    match (tenant, member) {
        (Some(tenant), Some(user_id)) => Ok((
            Chosen {
                tenant: require_active(tenant)?,
                source: Source::XTenant,
                just_in_time: false,
            },
            user_id,
        )),
        _ => Err(CoreError::access_denied().into()),
    }
}

fn choose(
    verified: &VerifiedToken,
    x_tenant: Option<&str>,
) -> ExtResult<(Chosen, Option<pgrx::Uuid>)> {
    let subject = verified.subject.as_str();
    match resolve(&verified.claims, x_tenant, &resolve_config())? {
        Resolution::Claims {
            claim,
            x_tenant: None,
        } => Ok((
            by_claims(&claim, directory::find(&claim.tenant)?, verified)?,
            None,
        )),
        Resolution::Claims {
            claim,
            x_tenant: Some(header),
        } => {
            let found = directory::find(&claim.tenant)?;
            if found.as_ref().is_some_and(|t| t.slug == header) {
                Ok((by_claims(&claim, found, verified)?, None))
            } else {
                let (chosen, user) = by_header(&header, subject)?;
                Ok((chosen, Some(user)))
            }
        }
        Resolution::XTenant { slug } => {
            let (chosen, user) = by_header(&slug, subject)?;
            Ok((chosen, Some(user)))
        }
        Resolution::Default => {
            let tenant = directory::find_by_slug(directory::DEFAULT_SLUG)?
                .ok_or_else(|| ExtError::TenantNotFound(directory::DEFAULT_SLUG.into()))?;
            Ok((
                Chosen {
                    tenant: require_active(tenant)?,
                    source: Source::Default,
                    just_in_time: true,
                },
                None,
            ))
        }
    }
}

/// A token verified by a tenant-scoped key resolves only to the key's tenants: anything else
/// is 42501 Access denied, the answer a non-member gets, so the refusal reveals nothing about
/// the other tenant.
fn within_key_scope(verified: &VerifiedToken, tenant: &TenantRow) -> ExtResult<()> {
    match &verified.tenants {
        Some(scope) if !scope.contains(&from_pg_uuid(tenant.id)) => {
            Err(CoreError::access_denied().into())
        }
        _ => Ok(()),
    }
}

fn set_tenant_from_jwt(
    token: &str,
    x_tenant: Option<&str>,
    is_local: bool,
) -> ExtResult<Rc<Context>> {
    preload::require()?;
    let verified = verify(token)?;
    blocks::refuse_blocked_subject(&verified.subject)?;
    let (chosen, member) = choose(&verified, x_tenant)?;
    // Checked here, after every strategy has chosen and before first-use membership, so that
    // an identity provider restricted to some tenants reaches no other by any claim or header.
    within_key_scope(&verified, &chosen.tenant)?;
    let user_id = match member {
        Some(id) => id,
        None if chosen.just_in_time => {
            match directory::member_id(chosen.tenant.id, &verified.subject)? {
                Some(id) => id,
                None => {
                    // Just-in-time membership only for a token issued after the tenant was
                    // created: an older token was issued for whatever tenant held the slug then
                    // (README, "Tenant resolution"). The default tenant never changes hands.
                    let fresh = chosen.source == Source::Default
                        || may_join_tenant_created_at(&verified.claims, chosen.tenant.created_unix);
                    if !fresh {
                        return Err(CoreError::access_denied().into());
                    }
                    tenants::join(chosen.tenant.id, &verified)?
                }
            }
        }
        None => directory::member_id(chosen.tenant.id, &verified.subject)?
            .ok_or_else(|| ExtError::from(CoreError::access_denied()))?,
    };
    let ctx = Context {
        tenant_id: Some(from_pg_uuid(chosen.tenant.id)),
        tenant_slug: Some(chosen.tenant.slug.clone()),
        user_id: Some(from_pg_uuid(user_id)),
        subject: Some(verified.subject.clone()),
        source: Some(chosen.source.as_str().to_owned()),
        kid: Some(verified.key.encode()),
        claims: Arc::clone(&verified.claims),
    };
    let ctx = context::install(ctx, is_local)?;
    diagnostics::log(LogLevel::Info, || {
        format!(
            "Tenant resolved for authenticated request tenant_slug={} source={} subject={}",
            chosen.tenant.slug,
            chosen.source.as_str(),
            ctx.subject.as_deref().unwrap_or_default()
        )
    });
    Ok(ctx)
}

/// Verifies the token, resolves and checks the tenant, and makes it this session's
/// (`is_local => false`) or this transaction's (`is_local => true`) tenant context.
///
/// SECURITY DEFINER (it reads keys, tenants and memberships, and writes first-use
/// memberships) without a `SET search_path` clause: this and `boards_authenticate` run per
/// request, with their caches warm they run no query, and a SET clause would cost every call;
/// every query they do run pins search_path itself (`db.rs`).
#[pg_extern(volatile, parallel_unsafe, requires = ["tenant_context_type"], security_definer)]
fn boards_set_tenant_from_jwt(
    token: Option<String>,
    x_tenant: default!(Option<String>, "NULL"),
    is_local: default!(bool, false),
    fcinfo: pg_sys::FunctionCallInfo,
) -> Result<ContextRow, ErrorReport> {
    let token = token.ok_or_else(|| ExtError::from(CoreError::unauthenticated("token is NULL")))?;
    let ctx = set_tenant_from_jwt(&token, x_tenant.as_deref(), is_local)?;
    Ok(context_row(fcinfo, &ctx)?)
}

/// Verifies the token and sets the identity only, with no tenant (e.g. for registration).
/// Returns the subject.
#[pg_extern(volatile, parallel_unsafe, security_definer)]
fn boards_authenticate(
    token: Option<String>,
    is_local: default!(bool, false),
) -> SqlResult<String> {
    preload::require()?;
    let token = token.ok_or_else(|| ExtError::from(CoreError::unauthenticated("token is NULL")))?;
    let verified = verify(&token)?;
    blocks::refuse_blocked_subject(&verified.subject)?;
    let ctx = Context {
        tenant_id: None,
        tenant_slug: None,
        user_id: None,
        subject: Some(verified.subject.clone()),
        source: None,
        kid: Some(verified.key.encode()),
        claims: Arc::clone(&verified.claims),
    };
    context::install(ctx, is_local)?;
    diagnostics::log(LogLevel::Debug, || {
        format!("Identity verified subject={}", verified.subject)
    });
    Ok(verified.subject.clone())
}

/// Sets a tenant context without a token, for trusted server roles (admin role only), e.g.
/// background jobs. The tenant must exist and be active; the context has no subject.
#[pg_extern(volatile, parallel_unsafe, requires = ["tenant_context_type"], security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn boards_set_tenant(
    slug: Option<String>,
    is_local: default!(bool, false),
    fcinfo: pg_sys::FunctionCallInfo,
) -> Result<ContextRow, ErrorReport> {
    preload::require()?;
    let slug = slug.ok_or_else(|| ExtError::InvalidArgument("slug must not be NULL".into()))?;
    boards_tenant_core::slug::validate_slug(&slug).map_err(ExtError::from)?;
    crate::invalidation::catch_up();
    let tenant =
        directory::find_by_slug(&slug)?.ok_or_else(|| ExtError::TenantNotFound(slug.clone()))?;
    let tenant = require_active(tenant)?;
    let ctx = Context {
        tenant_id: Some(from_pg_uuid(tenant.id)),
        tenant_slug: Some(tenant.slug),
        user_id: None,
        subject: None,
        source: Some("admin".into()),
        kid: None,
        claims: Default::default(),
    };
    let ctx = context::install(ctx, is_local)?;
    Ok(context_row(fcinfo, &ctx)?)
}
