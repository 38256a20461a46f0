//! Is the context's tenant still usable? A context is checked when it is set; this check makes
//! a tenant suspended (or deleted) afterwards fail closed for sessions already acting for it,
//! from their next statement on. It reads through the tenant cache of `tenants.rs`, which is
//! dropped when `boards.tenants` changes (see `invalidation.rs`).
//!
//! The lookup runs as the caller: a tenant context may read its own tenant row (the
//! `tenants_own_row` policy), and while the lookup runs, the policy's own call of
//! `boards_current_tenant()` is answered without the check, so it does not recurse. The query
//! qualifies its operator: the caller's `search_path` must not be able to change its meaning.

use std::cell::Cell;

use crate::context::to_pg_uuid;
use crate::tenants;

thread_local! {
    static LOOKING_UP: Cell<bool> = const { Cell::new(false) };
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

/// Whether the tenant exists and is active. Also in parallel workers: a direct call of a
/// context function may run there, and the read is an ordinary one they may do.
pub fn usable(tenant: uuid::Uuid) -> bool {
    if LOOKING_UP.with(|l| l.get()) {
        return true;
    }
    let _lookup = Lookup::begin();
    // An error (e.g. the extension is being dropped) or no row: not usable.
    matches!(tenants::find_by_id(to_pg_uuid(tenant)), Ok(Some(t)) if t.status == "active")
}
