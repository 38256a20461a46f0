//! Per-backend caches of the extension's tables (keys, tenants, memberships), dropped when a
//! table changes. A statement trigger on each table queues a relcache invalidation for it, which
//! is transactional: other backends get it when the change commits, this backend at its next
//! command. One relcache callback dispatches it to the caches that watch the table.
//!
//! The rule every cache follows (README, security model 8): a cache holds only what the newest
//! committed state says. Two things make that hold:
//! - [`catch_up`] processes pending invalidations. PostgreSQL does that only when a backend
//!   takes a lock it does not hold yet, so a statement that touches no new relation (a second
//!   statement in a transaction, `SELECT boards_current_tenant()`) would answer from a cache that
//!   a committed revocation already emptied. Every security entry point calls it first; with no
//!   message pending it is one unlocked flag read in the shared invalidation queue, cheap enough
//!   for the once-per-statement policy reader, and it needs no shared memory of ours, so it works
//!   the same with and without `shared_preload_libraries`.
//! - A lookup caches its answer only if no invalidation was processed between [`catch_up`] and
//!   the insertion ([`Generation::still_current`]): the lookups read the latest committed state
//!   (`db::latest_rows`), and a change committed after their snapshot was taken queues its
//!   invalidation only after it became visible, so after that snapshot: either it is processed
//!   before the insertion (and the answer is not cached) or afterwards (and it clears the cache).

use std::cell::{Cell, RefCell};

use pgrx::pg_sys;
use pgrx::prelude::*;

use crate::error::SqlResult;

thread_local! {
    static WATCHERS: RefCell<Vec<(pg_sys::Oid, fn())>> = const { RefCell::new(Vec::new()) };
    /// Bumped by every relcache invalidation this backend processes, watched table or not: a
    /// table's first lookup may run before anything watches it.
    static GENERATION: Cell<u64> = const { Cell::new(0) };
}

/// Calls `clear` whenever `table` changes (or every cache is reset).
pub fn watch(table: pg_sys::Oid, clear: fn()) {
    WATCHERS.with(|w| {
        let mut w = w.borrow_mut();
        // A table can be dropped and recreated (DROP/CREATE EXTENSION): keep the latest oid.
        if w.iter()
            .any(|(t, f)| *t == table && std::ptr::fn_addr_eq(*f, clear))
        {
            return;
        }
        w.retain(|(_, f)| !std::ptr::fn_addr_eq(*f, clear));
        w.push((table, clear));
    });
}

#[pg_guard]
unsafe extern "C-unwind" fn relcache_callback(_arg: pg_sys::Datum, relid: pg_sys::Oid) {
    GENERATION.with(|g| g.set(g.get().wrapping_add(1)));
    let due: Vec<fn()> = WATCHERS.with(|w| {
        w.borrow()
            .iter()
            .filter(|(table, _)| relid == pg_sys::Oid::INVALID || relid == *table)
            .map(|(_, clear)| *clear)
            .collect()
    });
    for clear in due {
        clear();
    }
}

/// Registers the callback; once per backend, from `_PG_init`.
pub fn register() {
    // SAFETY: registering a static callback with the relcache is what it is for.
    unsafe {
        pg_sys::CacheRegisterRelcacheCallback(Some(relcache_callback), pg_sys::Datum::from(0))
    };
}

/// Processes the invalidations other backends committed (see the module comment).
pub fn catch_up() {
    // SAFETY: what PostgreSQL itself calls at every lock acquisition; it may run relcache and
    // syscache callbacks, ours included, none of which holds a borrow of a cache here.
    unsafe { pg_sys::AcceptInvalidationMessages() };
}

/// The invalidation state a lookup starts from.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Generation(u64);

impl Generation {
    /// Catches up, then notes the state: call before a lookup that may fill a cache.
    pub fn begin() -> Self {
        catch_up();
        Generation(GENERATION.with(|g| g.get()))
    }

    /// The state now, without catching up: for an answer computed since the last catch-up.
    pub fn current() -> Self {
        Generation(GENERATION.with(|g| g.get()))
    }

    /// No invalidation was processed since [`Generation::begin`]: the lookup's answer may be
    /// cached.
    pub fn still_current(self) -> bool {
        GENERATION.with(|g| g.get()) == self.0
    }
}

#[pg_schema]
mod boards {
    use super::*;

    /// Statement trigger helper: tells every backend that `tbl` changed.
    #[pg_extern(volatile, parallel_unsafe, security_definer)]
    #[search_path(pg_catalog, pg_temp)]
    fn invalidate_caches(tbl: pg_sys::Oid) -> SqlResult<()> {
        // SAFETY: queues a transactional invalidation message for an existing relation.
        unsafe { pg_sys::CacheInvalidateRelcacheByRelid(tbl) };
        Ok(())
    }
}
