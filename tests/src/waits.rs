//! Waiting for another session without sleeping for a guessed time: a bounded poll of the
//! server's own view of what that session is doing.

use std::time::{Duration, Instant};

use postgres::Client;

use crate::error_text;

/// How long another backend may take to reach the state waited for before the test fails.
pub const PATIENCE: Duration = Duration::from_secs(30);
/// The interval between two looks at the awaited state (a poll, not a synchronisation).
const POLL_INTERVAL: Duration = Duration::from_millis(10);

/// Polls `done` until it holds; panics with `what` (the awaited state) once `patience` has
/// passed without it.
#[track_caller]
pub fn until(what: &str, patience: Duration, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < patience, "timed out waiting for {what}");
        std::thread::sleep(POLL_INTERVAL);
    }
}

/// Waits until the backend `pid` is blocked on a heavyweight lock (`wait_event_type =
/// 'Lock'`), or `finished()` says its work is over (it did not need to wait: the caller's
/// assertions decide whether that is right). Panics after [`PATIENCE`].
#[track_caller]
pub fn until_blocked_on_lock(observer: &mut Client, pid: i32, mut finished: impl FnMut() -> bool) {
    until(
        &format!("backend {pid} to block on a lock"),
        PATIENCE,
        || blocked_on_lock(observer, pid) || finished(),
    );
}

/// Whether the backend `pid` waits for a heavyweight lock now.
#[track_caller]
pub fn blocked_on_lock(observer: &mut Client, pid: i32) -> bool {
    observer
        .query_one(
            "SELECT EXISTS (SELECT FROM pg_catalog.pg_stat_activity
                             WHERE pid = $1 AND wait_event_type = 'Lock')",
            &[&pid],
        )
        .map(|row| row.get(0))
        .unwrap_or_else(|e| panic!("reading pg_stat_activity: {}", error_text(&e)))
}
