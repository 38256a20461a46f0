//! The extension's own diagnostic messages (`boards.debug`, `boards.log_level`). They go to the
//! server log at LOG level, so a client sees them only with `client_min_messages = log`.

use crate::settings::{self, LogLevel};

/// The message is built only when it is logged: the context setters call this on every
/// request, and formatting it costs more than the cached verification it reports on.
pub fn log(level: LogLevel, message: impl FnOnce() -> String) {
    if settings::diagnostics_level().is_some_and(|from| level >= from) {
        pgrx::log!("boards_tenant: {}", message());
    }
}
