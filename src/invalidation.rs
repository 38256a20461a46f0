//! Per-backend caches of the extension's tables (keys, tenant status), dropped when a table
//! changes. A statement trigger on each table queues a relcache invalidation for it, which is
//! transactional: other backends get it when the change commits, this backend at its next
//! command. One relcache callback dispatches it to the caches that watch the table.

use std::cell::RefCell;

use pgrx::pg_sys;
use pgrx::prelude::*;

use crate::error::SqlResult;

thread_local! {
    static WATCHERS: RefCell<Vec<(pg_sys::Oid, fn())>> = const { RefCell::new(Vec::new()) };
}

/// Calls `clear` whenever `table` changes (or every cache is reset).
pub fn watch(table: pg_sys::Oid, clear: fn()) {
    WATCHERS.with(|w| {
        let mut w = w.borrow_mut();
        // A table can be dropped and recreated (DROP/CREATE EXTENSION): keep the latest oid.
        w.retain(|(_, f)| !std::ptr::fn_addr_eq(*f, clear));
        w.push((table, clear));
    });
}

#[pg_guard]
unsafe extern "C-unwind" fn relcache_callback(_arg: pg_sys::Datum, relid: pg_sys::Oid) {
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

#[pg_schema]
mod boards {
    use super::*;

    /// Statement trigger helper: tells every backend that `tbl` changed.
    #[pg_extern(volatile, parallel_unsafe)]
    fn invalidate_caches(tbl: pg_sys::Oid) -> SqlResult<()> {
        // SAFETY: queues a transactional invalidation message for an existing relation.
        unsafe { pg_sys::CacheInvalidateRelcacheByRelid(tbl) };
        Ok(())
    }
}
