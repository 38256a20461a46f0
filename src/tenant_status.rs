//! Is the context still valid? A context is checked when it is set; this check makes a tenant
//! suspended (or deleted) afterwards, and a member removed (or replaced by a new user row)
//! afterwards, fail closed for sessions already acting for them, from their next statement on:
//! the context readers (`boards_current_tenant()` and friends, called once per statement by
//! the policies) ask it every time. It reads through the tenant and membership caches of
//! `directory.rs`, which are dropped when `boards.tenants` / `boards.users` change; pending
//! invalidations are processed first (`invalidation::catch_up`), since a statement that takes
//! no new lock would not process them. The key that verified the context's token must still be
//! installed (the key cache of `keys.rs`), and its subject not blocked platform-wide
//! (`blocks.rs`, cached and invalidated like the rest). With warm caches it runs no query. A context without
//! a subject (`boards_set_tenant`, for trusted server roles) has no membership or key to check.
//!
//! The lookups run as the caller: a tenant context may read its own tenant row (the
//! `tenants_own_row` policy) and its own tenant's user rows, and while they run, the policies'
//! own calls of `boards_current_tenant()` are answered without the check, so it does not
//! recurse. The queries qualify their operators: the caller's `search_path` must not be able
//! to change their meaning.

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};

use boards_tenant_core::bounded::GenerationalMap;
use boards_tenant_core::context::Context;
use boards_tenant_core::tenant_status::TenantStatus;

use crate::blocks;
use crate::context;
use crate::directory;
use crate::invalidation;
use crate::keys;
use crate::uuids::{from_pg_uuid, to_pg_uuid};

thread_local! {
    static LOOKING_UP: Cell<bool> = const { Cell::new(false) };
    /// The contexts found usable, and the invalidation state they were found in. Everything
    /// the verdict depends on (tenant status, membership, keys) changes only through a change
    /// of `boards.tenants`, `boards.users`, `boards.jwt_keys` or `boards.subject_blocks`, whose
    /// invalidation (also this transaction's own, and the undoing at rollback) moves the state
    /// on: until then a verdict stands, and the per-statement check is a lookup by the
    /// context's address. An entry holds a weak reference: it keeps the allocation, so the
    /// address is not reused while the entry exists, but not the context's memory. Several,
    /// for a pooled connection that serves many tenants in turn.
    static VERDICTS: RefCell<GenerationalMap<invalidation::Generation, usize, Weak<Context>>> =
        RefCell::new(GenerationalMap::new(context::KNOWN_CONTEXTS));
}

/// Clears the re-entrancy flag however the lookup ends (an ERROR unwinds through here).
struct Lookup;

impl Lookup {
    fn begin() -> Self {
        LOOKING_UP.with(|l| l.set(true));
        Lookup
    }
}

impl Drop for Lookup {
    fn drop(&mut self) {
        LOOKING_UP.with(|l| l.set(false));
    }
}

/// Whether the context's tenant exists and is active and, for a context with a subject, the
/// subject is still the member the context was set for (same user row). Also in parallel
/// workers: a direct call of a context function may run there, and the reads are ordinary ones
/// they may do.
pub fn usable(ctx: &Rc<Context>) -> bool {
    if ctx.tenant_id.is_none() {
        return false;
    }
    if LOOKING_UP.with(|l| l.get()) {
        return true;
    }
    let generation = invalidation::Generation::begin();
    let address = context::address(ctx);
    let known = VERDICTS.with(|v| v.borrow_mut().get(generation, &address).is_some());
    if known {
        return true;
    }
    let ok = check(ctx);
    if ok && generation.still_current() {
        VERDICTS.with(|v| {
            v.borrow_mut().insert(
                generation,
                address,
                Rc::downgrade(ctx),
                context::WEAK_ENTRY_BYTES,
                context::budget(),
            )
        });
    }
    ok
}

/// Whether the identity behind a context (its subject, with or without a tenant) may still
/// act: not blocked platform-wide (`blocks.rs`). For the identity readers
/// (`boards_current_subject()`, `boards_current_claims()`) and registration, which a context
/// set by `boards_authenticate` reaches without a tenant to check. Catches up on invalidations
/// first, like [`usable`]: a block committed elsewhere counts from the next statement.
pub fn identity_usable(ctx: &Context) -> bool {
    let Some(subject) = ctx.subject.as_deref() else {
        return true;
    };
    if LOOKING_UP.with(|l| l.get()) {
        return true;
    }
    invalidation::catch_up();
    let _lookup = Lookup::begin();
    matches!(blocks::subject_blocked(subject), Ok(false))
}

fn check(ctx: &Context) -> bool {
    let Some(tenant) = ctx.tenant_id else {
        return false;
    };
    let _lookup = Lookup::begin();
    let tenant = to_pg_uuid(tenant);
    // An error (e.g. the extension is being dropped) or no row: not usable.
    if !matches!(directory::find_by_id(tenant), Ok(Some(t)) if t.status == TenantStatus::Active) {
        return false;
    }
    let member = match (ctx.subject.as_deref(), ctx.user_id) {
        (Some(subject), Some(user)) => {
            matches!(directory::member(tenant, subject), Ok(Some(m)) if m.id == to_pg_uuid(user))
                // A subject blocked platform-wide loses every context (`blocks.rs`).
                && matches!(blocks::subject_blocked(subject), Ok(false))
        }
        (Some(_), None) => false,
        (None, _) => true,
    };
    // A context lasts only while the key that verified its token is installed.
    member
        && ctx
            .kid
            .as_deref()
            .is_none_or(|key| keys::admits_tenant(key, from_pg_uuid(tenant)))
}
