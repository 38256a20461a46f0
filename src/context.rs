//! The session's tenant context and the functions that read it.
//!
//! The context lives in one superuser-only setting, `boards.context`, written only by this
//! extension's own functions (which pass the superuser GUC context internally). Keeping it in
//! the GUC machinery rather than in backend memory is what makes it correct everywhere:
//! - parallel workers receive it with the rest of the leader's settings;
//! - `is_local => true` is a `SET LOCAL`: it ends with the transaction, commit or abort, and
//!   `ROLLBACK TO SAVEPOINT` undoes it;
//! - `RESET ALL` and `DISCARD ALL` clear a session context;
//! - the app role cannot write it: `SET`, `set_config`, `ALTER ROLE ... SET` and startup
//!   options are all refused for a `PGC_SUSET` setting.
//!
//! Decoding is cached per backend, keyed by the setting's exact bytes, so a policy's
//! `(SELECT boards_current_tenant())` costs a string compare per statement.

use std::cell::RefCell;
use std::ffi::{CStr, CString};
use std::rc::Rc;

use boards_tenant_core::context::Context;
use pgrx::prelude::*;
use pgrx::{pg_sys, JsonB};

use crate::error::{ExtError, ExtResult, SqlResult};
use crate::preload;
use crate::seal;
use crate::settings;
use crate::tenant_status;

thread_local! {
    static DECODED: RefCell<Option<(Rc<CString>, Rc<Context>)>> = const { RefCell::new(None) };
}

/// The context in force: the one this backend verified, else a sealed one that verifies
/// (`seal.rs`); `None` when there is none (or it cannot be decoded: fail closed).
pub fn current() -> Option<Rc<Context>> {
    own().or_else(seal::current_sealed)
}

/// The context this backend verified itself (`boards.context`).
pub fn own() -> Option<Rc<Context>> {
    // Borrowed, not copied: only compared with the cached text below.
    let value = settings::context_text()?;
    DECODED.with(|cell| {
        let mut cached = cell.borrow_mut();
        if let Some((bytes, ctx)) = cached.as_ref() {
            if bytes.as_c_str() == value {
                return Some(Rc::clone(ctx));
            }
        }
        let ctx = Rc::new(Context::decode(value.to_str().ok()?).ok()?);
        *cached = Some((Rc::new(value.to_owned()), Rc::clone(&ctx)));
        Some(ctx)
    })
}

/// Makes `ctx` the context of this session (`is_local = false`) or transaction. The encoded
/// text is also what `current()` caches, so the next read does not decode it again; setting
/// the same context again (a repeated token) reuses the encoded text.
pub fn install(ctx: Context, is_local: bool) -> ExtResult<Rc<Context>> {
    if !is_local && settings::require_local_context() {
        return Err(ExtError::NotAllowed(
            "session-scoped tenant contexts are disabled for this role (boards.require_local_context); pass is_local => true".into(),
        ));
    }
    // A repeated token: the context equals the cached one (its claims are the same shared map,
    // compared by pointer first), so its text is written again as it is, not encoded.
    let reused = DECODED.with(|cell| {
        cell.borrow()
            .as_ref()
            .filter(|(_, cached)| **cached == ctx)
            .map(|(text, cached)| (Rc::clone(text), Rc::clone(cached)))
    });
    if let Some((text, cached)) = reused {
        write_setting(&text, is_local);
        return Ok(cached);
    }
    let text = CString::new(ctx.encode())
        .map_err(|_| ExtError::InvalidArgument("tenant context contains a NUL byte".into()))?;
    let (text, ctx) = (Rc::new(text), Rc::new(ctx));
    write_setting(&text, is_local);
    DECODED.with(|cell| *cell.borrow_mut() = Some((text, Rc::clone(&ctx))));
    Ok(ctx)
}

/// Clears the context (session and transaction level alike).
pub fn clear() {
    write_setting(c"", false)
}

fn write_setting(value: &CStr, is_local: bool) {
    let action = if is_local {
        pg_sys::GucAction::GUC_ACTION_LOCAL
    } else {
        pg_sys::GucAction::GUC_ACTION_SET
    };
    // SAFETY: plain call into the GUC machinery with valid C strings; errors are raised as
    // Postgres ERRORs, which pgrx turns into a Rust unwind.
    unsafe {
        pg_sys::set_config_option(
            settings::CONTEXT_SETTING.as_ptr(),
            value.as_ptr(),
            pg_sys::GucContext::PGC_SUSET,
            pg_sys::GucSource::PGC_S_SESSION,
            action,
            true,
            pgrx::PgLogLevel::ERROR as i32,
            false,
        );
    }
}

pub fn to_pg_uuid(id: uuid::Uuid) -> pgrx::Uuid {
    pgrx::Uuid::from_bytes(*id.as_bytes())
}

pub fn from_pg_uuid(id: pgrx::Uuid) -> uuid::Uuid {
    uuid::Uuid::from_bytes(*id.as_bytes())
}

/// The context while its tenant is usable (exists and is active) and its subject still a
/// member: a tenant suspended or deleted, or a member removed, after the context was set fails
/// closed from the next statement on (`tenant_status.rs`).
pub fn current_with_tenant() -> Option<Rc<Context>> {
    current().filter(tenant_status::usable)
}

/// The context while its subject is not blocked platform-wide (`tenant_status::identity_usable`):
/// what the identity readers answer from, with or without a tenant.
pub fn current_identity() -> Option<Rc<Context>> {
    current().filter(|ctx| tenant_status::identity_usable(ctx))
}

/// [`own`], while usable like [`current_with_tenant`].
pub fn own_with_tenant() -> Option<Rc<Context>> {
    own().filter(tenant_status::usable)
}

/// The tenant of the current context: what every tenant policy compares with. Like every
/// reader, it refuses (55000) when the library was not preloaded (`preload.rs`): a policy then
/// fails the statement rather than trusting settings a client could have reset.
#[pg_extern(stable, parallel_safe)]
fn boards_current_tenant() -> SqlResult<Option<pgrx::Uuid>> {
    preload::require()?;
    Ok(current_with_tenant().and_then(|ctx| ctx.tenant_id.map(to_pg_uuid)))
}

#[pg_extern(stable, parallel_safe)]
fn boards_current_tenant_slug() -> SqlResult<Option<String>> {
    preload::require()?;
    Ok(current_with_tenant().and_then(|ctx| ctx.tenant_slug.clone()))
}

/// The verified subject (`sub`) of the token behind the context.
#[pg_extern(stable, parallel_safe)]
fn boards_current_subject() -> SqlResult<Option<String>> {
    preload::require()?;
    Ok(current_identity().and_then(|ctx| ctx.subject.clone()))
}

/// The subject's `boards.users` row in the current tenant.
#[pg_extern(stable, parallel_safe)]
fn boards_current_user_id() -> SqlResult<Option<pgrx::Uuid>> {
    preload::require()?;
    Ok(current_with_tenant().and_then(|ctx| ctx.user_id.map(to_pg_uuid)))
}

/// The verified claims of the token behind the context.
#[pg_extern(stable, parallel_safe)]
fn boards_current_claims() -> SqlResult<Option<JsonB>> {
    preload::require()?;
    Ok(current_identity().map(|ctx| JsonB(serde_json::Value::Object((*ctx.claims).clone()))))
}

/// Clears the context: no tenant, no identity.
#[pg_extern(volatile, parallel_unsafe)]
fn boards_reset_tenant() {
    clear()
}

#[cfg(any(test, feature = "pg_test"))]
#[pg_schema]
mod tests {
    use super::*;

    /// A context as `boards_set_tenant` makes it: a tenant, no subject (so no membership or
    /// key to check, only the tenant's status).
    fn sample(slug: &str) -> Context {
        Context {
            tenant_id: Some(uuid::Uuid::nil()),
            tenant_slug: Some(slug.to_owned()),
            user_id: None,
            subject: None,
            source: Some("admin".into()),
            kid: None,
            claims: Default::default(),
        }
    }

    #[pg_test]
    fn installed_context_reads_back_through_the_setting() {
        install(sample("default"), false).unwrap();
        let ctx = current().expect("a context");
        assert_eq!(ctx.tenant_slug.as_deref(), Some("default"));
        assert_eq!(ctx.source.as_deref(), Some("admin"));
        // The default tenant exists and is active, so the gated reader sees it too.
        assert_eq!(
            boards_current_tenant().ok().flatten(),
            Some(to_pg_uuid(uuid::Uuid::nil()))
        );
        clear();
        assert!(current().is_none());
    }

    #[pg_test]
    fn a_context_for_a_tenant_that_does_not_exist_yields_no_tenant() {
        let mut ctx = sample("gone");
        ctx.tenant_id = Some(uuid::Uuid::from_u128(42));
        install(ctx, true).unwrap();
        assert!(current().is_some(), "the context itself is there");
        assert_eq!(boards_current_tenant().ok().flatten(), None);
        assert_eq!(boards_current_tenant_slug().ok().flatten(), None);
    }

    #[pg_test]
    fn garbage_in_the_setting_is_no_context() {
        Spi::run("SET boards.context = 'not a context'").unwrap();
        assert!(current().is_none());
        assert_eq!(boards_current_tenant().ok().flatten(), None);
    }
}
