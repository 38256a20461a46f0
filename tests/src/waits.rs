//! Waiting for another session without sleeping for a guessed time: a bounded poll of the
//! server's own view of what that session is doing.

use std::time::{Duration, Instant};

use postgres::Client;

use crate::error_text;

/// How long another backend may take to reach the state waited for before the test fails.
pub const PATIENCE: Duration = Duration::from_secs(30);
/// The interval between two looks at `pg_stat_activity` (a poll, not a synchronisation).
const POLL_INTERVAL: Duration = Duration::from_millis(10);

/// Waits until the backend `pid` is blocked on a heavyweight lock (`wait_event_type =
/// 'Lock'`), or `finished()` says its work is over (it did not need to wait: the caller's
/// assertions decide whether that is right). Panics after [`PATIENCE`].
#[track_caller]
pub fn until_blocked_on_lock(observer: &mut Client, pid: i32, mut finished: impl FnMut() -> bool) {
    let started = Instant::now();
    loop {
        let blocked: bool = observer
            .query_one(
                "SELECT EXISTS (SELECT FROM pg_catalog.pg_stat_activity
                                 WHERE pid = $1 AND wait_event_type = 'Lock')",
                &[&pid],
            )
            .map(|row| row.get(0))
            .unwrap_or_else(|e| panic!("reading pg_stat_activity: {}", error_text(&e)));
        if blocked || finished() {
            return;
        }
        assert!(
            started.elapsed() < PATIENCE,
            "backend {pid} never blocked on a lock"
        );
        std::thread::sleep(POLL_INTERVAL);
    }
}
