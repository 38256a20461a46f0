//! The extension's own DDL in progress (protecting a table, migrating the registry), marked so
//! the DDL guard (`ddl_guard.rs`) leaves it alone. Its own module because both the protection
//! code and the statistics it hides run DDL the guard must not judge.

use std::cell::Cell;

thread_local! {
    /// Depth of our own DDL in progress; the DDL guard leaves it alone.
    static OWN_DDL: Cell<u32> = const { Cell::new(0) };
}

/// Marks the extension's own DDL for the DDL guard while alive.
pub struct OwnDdl;

impl OwnDdl {
    pub fn begin() -> Self {
        OWN_DDL.with(|d| d.set(d.get() + 1));
        OwnDdl
    }

    pub fn active() -> bool {
        OWN_DDL.with(|d| d.get() > 0)
    }
}

impl Drop for OwnDdl {
    fn drop(&mut self) {
        OWN_DDL.with(|d| d.set(d.get().saturating_sub(1)));
    }
}
