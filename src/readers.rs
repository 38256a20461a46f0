//! The context readers: `boards_current_tenant()` and friends, what policies and callers read the
//! context through. They sit above the setting store (`context.rs`): a context is answered only
//! while its tenant is usable, its subject still a member and not blocked, and its key still
//! installed (`tenant_status.rs`), checked at every statement.

use std::rc::Rc;

use boards_tenant_core::context::Context;
use pgrx::prelude::*;
use pgrx::JsonB;

use crate::context::{current, own};
use crate::error::SqlResult;
use crate::preload;
use crate::tenant_status;
use crate::uuids::to_pg_uuid;

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

#[cfg(any(test, feature = "pg_test"))]
#[pg_schema]
mod tests {
    use super::*;
    use crate::context::{clear, install};

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
