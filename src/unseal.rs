//! Reading a sealed context (`boards_tenant_core::seal`): the value another backend of the
//! cluster sealed (`seal.rs`), set here with `SET LOCAL boards.sealed_context = '<sealed>'`,
//! verified against `boards.seal_secret`. An altered, expired or foreign value is no context:
//! fail closed. Part of the setting store (`context.rs` asks it when this backend verified no
//! context of its own); what may use a context is decided above it, as for any other.

use std::cell::RefCell;
use std::ffi::CString;
use std::rc::Rc;
use std::time::{SystemTime, UNIX_EPOCH};

use boards_tenant_core::context::Context;
use boards_tenant_core::seal::unseal;

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

/// Seconds since the epoch (0 if the clock is before it): what seal expiries count in.
pub fn now_unix() -> i64 {
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
