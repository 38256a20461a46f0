//! The extension's own diagnostic messages (`boards.debug`, `boards.log_level`). They go to the
//! server log at LOG level, so a client sees them only with `client_min_messages = log`.

use crate::settings::{self, LogLevel};

pub fn log(level: LogLevel, message: &str) {
    if settings::DEBUG.get() && level >= settings::LOG_LEVEL.get() {
        pgrx::log!("boards_tenant: {message}");
    }
}
