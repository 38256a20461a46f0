//! The setting store of the tenant context: where the context lives, how it is written and
//! decoded. It knows nothing of tenants; whether a context may still be used is decided above
//! it, by the readers (`readers.rs`, through `tenant_status.rs`).
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
use pgrx::pg_sys;
use pgrx::prelude::*;

use crate::error::{ExtError, ExtResult};
use crate::settings;
use crate::unseal;

thread_local! {
    static DECODED: RefCell<Option<(Rc<CString>, Rc<Context>)>> = const { RefCell::new(None) };
}

/// The context in force: the one this backend verified, else a sealed one that verifies
/// (`unseal.rs`); `None` when there is none (or it cannot be decoded: fail closed). Not yet
/// checked against the tenant, membership and key (`readers.rs` does that).
pub fn current() -> Option<Rc<Context>> {
    own().or_else(unseal::current_sealed)
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

/// Clears the context: no tenant, no identity.
#[pg_extern(volatile, parallel_unsafe)]
fn boards_reset_tenant() {
    clear()
}
