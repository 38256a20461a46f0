//! The sealed context (`boards_tenant_core::seal`): `boards_context_seal()` seals the context
//! this backend verified; another backend of the cluster — a Citus worker that never saw the
//! token — gets the same context by `SET LOCAL boards.sealed_context = '<sealed>'`, which it
//! verifies for itself against `boards.seal_secret` (superuser-only, the same on every node).
//! An altered, expired or foreign value is no context: fail closed. A sealed context is
//! checked like any other (tenant active, member still there, key still installed) and never
//! outlives its token (`exp`) nor `boards.seal_lifetime`.

use std::cell::RefCell;
use std::ffi::CString;
use std::rc::Rc;
use std::time::{SystemTime, UNIX_EPOCH};

use boards_tenant_core::context::Context;
use boards_tenant_core::seal::{seal, seal_expiry, unseal, SealError};
use pgrx::prelude::*;

use crate::context;
use crate::error::{ExtError, SqlResult};
use crate::preload;
use crate::settings;

thread_local! {
    /// The last sealed value that verified: its bytes, the secret it verified with, the
    /// context and its expiry. The MAC is checked once per value and secret; the expiry on
    /// every read.
    static UNSEALED: RefCell<Option<Unsealed>> = const { RefCell::new(None) };
}

struct Unsealed {
    value: CString,
    secret: CString,
    ctx: Rc<Context>,
    expires_at: i64,
}

fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// The context `boards.sealed_context` carries, if it verifies and has not expired.
pub fn current_sealed() -> Option<Rc<Context>> {
    // Borrowed, not copied: only compared with the cached value below.
    let value = settings::sealed_context_text()?;
    // Borrowed, not copied: a copy of the secret per read was a third of the sealed path's
    // extra cost.
    let secret = settings::seal_secret_text()?;
    let now = now_unix();
    UNSEALED.with(|cell| {
        let mut cached = cell.borrow_mut();
        if let Some(hit) = cached.as_ref() {
            if hit.value.as_c_str() == value && hit.secret.as_c_str() == secret {
                return (now < hit.expires_at).then(|| Rc::clone(&hit.ctx));
            }
        }
        let (ctx, expires_at) = unseal(value.to_str().ok()?, secret.to_bytes(), now).ok()?;
        let ctx = Rc::new(ctx);
        *cached = Some(Unsealed {
            value: value.to_owned(),
            secret: secret.to_owned(),
            ctx: Rc::clone(&ctx),
            expires_at,
        });
        Some(ctx)
    })
}

/// The context this backend verified itself, sealed for another backend of the cluster:
/// `SET LOCAL boards.sealed_context = <this>` there gives the same tenant, subject and claims.
/// Only a context verified here can be sealed (a sealed one cannot be re-sealed to live
/// longer).
#[pg_extern(volatile, parallel_safe)]
fn boards_context_seal() -> SqlResult<String> {
    preload::require()?;
    let ctx = context::own_with_tenant().ok_or_else(|| {
        ExtError::NotAllowed("there is no tenant context of this backend's own to seal".into())
    })?;
    let secret = settings::seal_secret().ok_or_else(|| {
        ExtError::NotAllowed(
            "boards.seal_secret is not set: set it (the same on every node) to seal contexts"
                .into(),
        )
    })?;
    let now = now_unix();
    let expires_at = seal_expiry(&ctx, now, settings::seal_lifetime_secs());
    seal(&ctx, expires_at, secret.as_bytes()).map_err(|e| match e {
        SealError::WeakSecret => ExtError::NotAllowed(
            "boards.seal_secret is too short: use at least 32 random bytes".into(),
        )
        .into(),
        other => ExtError::InvalidArgument(other.to_string()).into(),
    })
}
