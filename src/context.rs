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
//! `(SELECT boards_current_tenant())` costs a string compare per statement; the contexts a
//! pooled connection installs for its tenants in turn are remembered too (`Known`).

use std::cell::RefCell;
use std::ffi::{CStr, CString};
use std::rc::Rc;

use boards_tenant_core::bounded::BoundedMap;
use boards_tenant_core::context::Context;
use pgrx::pg_sys;
use pgrx::prelude::*;
use uuid::Uuid;

use crate::error::{ExtError, ExtResult};
use crate::settings;
use crate::unseal;

/// Contexts a backend remembers, by text and by identity: about as many as verified tokens.
/// Also the bound of what is kept per context elsewhere (verdicts, rows).
pub const KNOWN_CONTEXTS: usize = 1024;
/// Per entry, besides its text: the decoded context's own strings and the map's slot.
const ENTRY_OVERHEAD: usize = 256;

/// What a context is installed for, to find it again without encoding it: its tenant, its
/// user and its claims (the verified token's, shared by pointer). An entry keeps its context,
/// and so its claims, alive: the address cannot be reused while the entry exists, and a hit is
/// compared in full anyway.
type Identity = (Option<Uuid>, Option<Uuid>, usize);

fn identity(ctx: &Context) -> Identity {
    (
        ctx.tenant_id,
        ctx.user_id,
        std::sync::Arc::as_ptr(&ctx.claims) as usize,
    )
}

/// The contexts this backend decoded or installed (`boards.context` texts and their decoded
/// form), so that a pooled connection serving many tenants in turn decodes and encodes each
/// context once, not at every change of tenant. Both are pure functions of each other: an
/// entry never goes stale (whether the context may still be used is `tenant_status.rs`'s).
struct Known {
    /// The last one read or installed: what a statement's policies read, a string compare.
    last: Option<(Rc<CStr>, Rc<Context>)>,
    by_text: BoundedMap<Rc<CStr>, (Rc<CStr>, Rc<Context>)>,
    by_identity: BoundedMap<Identity, (Rc<CStr>, Rc<Context>)>,
}

impl Known {
    fn remember(&mut self, text: &Rc<CStr>, ctx: &Rc<Context>, installed: bool) {
        let entry = || (Rc::clone(text), Rc::clone(ctx));
        let bytes = text.to_bytes().len() + ENTRY_OVERHEAD;
        let budget = budget();
        self.by_text.insert(Rc::clone(text), entry(), bytes, budget);
        if installed {
            self.by_identity
                .insert(identity(ctx), entry(), bytes, budget);
        }
        self.last = Some(entry());
    }
}

/// What an entry of those maps costs besides its value: the slot and the allocation its weak
/// reference keeps.
pub const WEAK_ENTRY_BYTES: usize = 64 + std::mem::size_of::<Context>();

/// A context's key in the maps that hold it by a weak reference (`tenant_status.rs`' verdicts,
/// `context_row.rs`' rows): its address. The weak reference keeps the allocation, so while the
/// entry exists the address names that context and no other.
pub fn address(ctx: &Rc<Context>) -> usize {
    Rc::as_ptr(ctx) as usize
}

/// The contexts' share of `boards.cache_budget`: 1/16 for the four maps of contexts (these two,
/// the verdicts of `tenant_status.rs` and the rows of `context_row.rs`), 1/64 each.
pub fn budget() -> usize {
    settings::cache_budget_bytes() / 64
}

thread_local! {
    static KNOWN: RefCell<Known> = RefCell::new(Known {
        last: None,
        by_text: BoundedMap::new(KNOWN_CONTEXTS),
        by_identity: BoundedMap::new(KNOWN_CONTEXTS),
    });
}

/// The context in force: the one this backend verified, else a sealed one that verifies
/// (`unseal.rs`); `None` when there is none (or it cannot be decoded: fail closed). Not yet
/// checked against the tenant, membership and key (`readers.rs` does that).
pub fn current() -> Option<Rc<Context>> {
    own().or_else(unseal::current_sealed)
}

/// The context this backend verified itself (`boards.context`).
pub fn own() -> Option<Rc<Context>> {
    // Borrowed, not copied: only compared with the known texts below.
    let value = settings::context_text()?;
    KNOWN.with(|cell| {
        let mut known = cell.borrow_mut();
        if let Some((text, ctx)) = known.last.as_ref() {
            if **text == *value {
                return Some(Rc::clone(ctx));
            }
        }
        let found = known
            .by_text
            .get(value)
            .map(|(t, c)| (Rc::clone(t), Rc::clone(c)));
        if let Some((text, ctx)) = found {
            known.last = Some((text, Rc::clone(&ctx)));
            return Some(ctx);
        }
        let ctx = Rc::new(Context::decode(value.to_str().ok()?).ok()?);
        known.remember(&Rc::from(value), &ctx, false);
        Some(ctx)
    })
}

/// Makes `ctx` the context of this session (`is_local = false`) or transaction. The encoded
/// text is also what `current()` finds, so the next read does not decode it again; setting a
/// context installed before (a repeated token, also after other tenants' requests on the
/// connection) writes its known text again, not encoded.
pub fn install(ctx: Context, is_local: bool) -> ExtResult<Rc<Context>> {
    if !is_local && settings::require_local_context() {
        return Err(ExtError::NotAllowed(
            "session-scoped tenant contexts are disabled for this role (boards.require_local_context); pass is_local => true".into(),
        ));
    }
    // Found by identity, then compared in full (claims by pointer first): equal contexts
    // have equal texts.
    let known = KNOWN.with(|cell| {
        let mut known = cell.borrow_mut();
        let found = known
            .by_identity
            .get(&identity(&ctx))
            .filter(|(_, cached)| **cached == ctx)
            .map(|(text, cached)| (Rc::clone(text), Rc::clone(cached)));
        if let Some(hit) = &found {
            known.last = Some(hit.clone());
        }
        found
    });
    if let Some((text, ctx)) = known {
        write_setting(&text, is_local);
        return Ok(ctx);
    }
    let text = CString::new(ctx.encode())
        .map_err(|_| ExtError::InvalidArgument("tenant context contains a NUL byte".into()))?;
    let (text, ctx): (Rc<CStr>, _) = (Rc::from(text.as_c_str()), Rc::new(ctx));
    write_setting(&text, is_local);
    KNOWN.with(|cell| cell.borrow_mut().remember(&text, &ctx, true));
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
