//! Is the context's tenant still usable? A context is checked when it is set; this check makes
//! a tenant suspended (or deleted) afterwards fail closed for sessions already acting for it,
//! from their next statement on. Answers are cached per backend and dropped when
//! `boards.tenants` changes (see `invalidation.rs`).
//!
//! The lookup runs as the caller: a tenant context may read its own tenant row (the
//! `tenants_own_row` policy), and while the lookup runs, the policy's own call of
//! `boards_current_tenant()` is answered without the check, so it does not recurse. The query
//! qualifies its operator: the caller's `search_path` must not be able to change its meaning.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;

use pgrx::pg_sys;

use crate::db;
use crate::invalidation;

thread_local! {
    static ACTIVE: RefCell<HashMap<uuid::Uuid, bool>> = RefCell::new(HashMap::new());
    static LOOKING_UP: Cell<bool> = const { Cell::new(false) };
}

fn forget() {
    ACTIVE.with(|a| a.borrow_mut().clear());
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

/// Whether the tenant exists and is active. Parallel workers trust their leader, which
/// evaluates the policies' `(SELECT boards_current_tenant())` init-plan itself.
pub fn usable(tenant: uuid::Uuid) -> bool {
    // SAFETY: reads a backend-global number (>= 0 in a parallel worker).
    if unsafe { pg_sys::ParallelWorkerNumber } >= 0 || LOOKING_UP.with(|l| l.get()) {
        return true;
    }
    if let Some(active) = ACTIVE.with(|a| a.borrow().get(&tenant).copied()) {
        return active;
    }
    let _lookup = Lookup::begin();
    let row = db::rows(
        "SELECT t.status OPERATOR(pg_catalog.=) 'active'::pg_catalog.text,
                'boards.tenants'::pg_catalog.regclass::pg_catalog.oid
         FROM boards.tenants t WHERE t.id OPERATOR(pg_catalog.=) $1",
        &[crate::context::to_pg_uuid(tenant).into()],
        |row| {
            Ok((
                row.get::<bool>(1)?.unwrap_or(false),
                row.get::<pg_sys::Oid>(2)?,
            ))
        },
    );
    // An error (e.g. the extension is being dropped) or no row: not usable.
    let (active, table) = match row.ok().and_then(|rows| rows.into_iter().next()) {
        Some((active, table)) => (active, table),
        None => (false, None),
    };
    if let Some(table) = table {
        invalidation::watch(table, forget);
        ACTIVE.with(|a| a.borrow_mut().insert(tenant, active));
    }
    active
}
