//! Whether the library was loaded by `shared_preload_libraries`, and the refusal when not.
//!
//! Loaded any later (on first use, or by `session_preload_libraries`), the `boards.*` settings
//! exist only as placeholders while PostgreSQL applies the database-, role- and client-level
//! values of a new connection. A client's startup option (`-c boards.multi_tenant_mode=off`)
//! then replaces the database's value in the placeholder; when the library defines the real
//! setting, PostgreSQL refuses the client's value for a superuser-only setting and falls back
//! to the boot default: the database-level value is gone for that connection. Nothing the
//! library can do at load time restores what PostgreSQL discarded, so every function whose
//! answer depends on those settings refuses to act instead (fail closed).

use std::ffi::CStr;
use std::sync::atomic::{AtomicBool, Ordering};

use pgrx::pg_sys;

use crate::error::{ExtError, ExtResult};

static PRELOADED: AtomicBool = AtomicBool::new(false);

/// Records how the library is being loaded; called from `_PG_init`. Backends and parallel
/// workers forked from a postmaster that preloaded the library inherit `true`.
pub fn record_load() {
    // SAFETY: reads a plain global flag that PostgreSQL sets while it loads preload libraries.
    let preloading = unsafe { pg_sys::process_shared_preload_libraries_in_progress };
    PRELOADED.store(preloading, Ordering::Relaxed);
}

/// `CREATE EXTENSION` works without preload, so an admin can install first and restart
/// after; it says what is missing. (A backend that loads the library for the script gets
/// here with `creating_extension` set.)
pub fn warn_if_installing_without_preload() {
    // SAFETY: reads a plain global flag, set while CREATE/ALTER EXTENSION runs a script.
    if !preloaded() && unsafe { pg_sys::creating_extension } {
        pgrx::warning!(
            "boards_tenant is not loaded by shared_preload_libraries: tenant contexts are refused until it is. Add this line to postgresql.conf and restart the server: {}",
            setting_line()
        );
    }
}

/// Whether `shared_preload_libraries` loaded this library.
pub fn preloaded() -> bool {
    PRELOADED.load(Ordering::Relaxed)
}

/// `Ok` when preloaded, else the refusal, with the `postgresql.conf` line that fixes it.
pub fn require() -> ExtResult<()> {
    if preloaded() {
        Ok(())
    } else {
        Err(ExtError::NotPreloaded {
            setting_line: setting_line(),
        })
    }
}

/// `shared_preload_libraries = '<what is there>, boards_tenant'`.
pub fn setting_line() -> String {
    // SAFETY: GetConfigOption returns the setting's current value (or NULL when missing_ok and
    // unknown), valid until the setting changes; it is copied at once.
    let current = unsafe {
        let value = pg_sys::GetConfigOption(c"shared_preload_libraries".as_ptr(), true, false);
        if value.is_null() {
            String::new()
        } else {
            CStr::from_ptr(value).to_string_lossy().trim().to_owned()
        }
    };
    let libraries = if current.is_empty() {
        "boards_tenant".to_owned()
    } else {
        format!("{current}, boards_tenant")
    };
    format!(
        "shared_preload_libraries = '{}'",
        libraries.replace('\'', "''")
    )
}
