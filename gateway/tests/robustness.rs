//! Robustness of the gateway against a real cluster: pool exhaustion gives 503 quickly (the
//! pool's wait timeout, not a hang), statement and request timeouts give 503 and leave no
//! transaction behind, SIGTERM drains in-flight requests and exits 0. A request is held in
//! the database on purpose by a superuser's `LOCK TABLE`; nothing here asserts on time.

mod common;

use std::net::TcpStream;
use std::thread;

use boards_tenant_harness::{Cluster, TestDb, APP_ROLE};
use common::*;
use serde_json::json;

/// Locks `boards.boards` against everyone until the returned client commits or is dropped.
fn lock_boards(db: &TestDb) -> boards_tenant_harness::postgres::Client {
    let mut su = db.superuser();
    su.batch_execute("BEGIN; LOCK TABLE boards.boards IN ACCESS EXCLUSIVE MODE")
        .expect("lock");
    su
}

fn idle_in_transaction(db: &TestDb) -> i64 {
    db.superuser()
        .query_one(
            "SELECT count(*) FROM pg_stat_activity
             WHERE usename = $1 AND state LIKE 'idle in transaction%'",
            &[&APP_ROLE],
        )
        .map(|row| row.get(0))
        .unwrap_or(-1)
}

#[test]
fn pool_exhaustion_gives_503_instead_of_waiting() {
    let db = Cluster::shared().create_database();
    prepare(&db);
    let gw = Gateway::start(
        &db.url(APP_ROLE),
        &[
            "--pool-size",
            "1",
            "--pool-wait-timeout-ms",
            "200",
            "--statement-timeout-ms",
            "0",
        ],
    );
    let alice = user("alice", "acme");
    gw.get("/api/me", &alice).expect(200);
    let mut lock = lock_boards(&db);
    thread::scope(|scope| {
        // Holds the pool's only connection, waiting for the lock.
        let held = scope.spawn(|| gw.get("/api/boards", &alice));
        assert!(
            eventually(400, || waiting_for_lock(&db, APP_ROLE)),
            "the first request never reached the lock"
        );
        gw.get("/api/me", &alice).expect_error(
            503,
            "Service unavailable",
            "No database connection is available; try again",
        );
        gw.call(Req::get("/readyz")).expect_error_shape(503);
        lock.batch_execute("COMMIT").expect("unlock");
        held.join().expect("request thread").expect(200);
    });
    // The connection is usable again.
    gw.get("/api/me", &alice).expect(200);
}

#[test]
fn a_statement_timeout_gives_503_and_the_connection_stays_usable() {
    let db = Cluster::shared().create_database();
    prepare(&db);
    let gw = Gateway::start(
        &db.url(APP_ROLE),
        &["--pool-size", "1", "--statement-timeout-ms", "300"],
    );
    let alice = user("alice", "acme");
    gw.get("/api/me", &alice).expect(200);
    let mut lock = lock_boards(&db);
    gw.get("/api/boards", &alice).expect_error(
        503,
        "Service unavailable",
        "The database is not available right now; try again",
    );
    lock.batch_execute("COMMIT").expect("unlock");
    gw.get("/api/boards", &alice).expect(200);
    assert!(gw.logs().contains("57014"), "{}", gw.logs());
}

#[test]
fn a_request_timeout_gives_503_and_rolls_the_transaction_back() {
    let db = Cluster::shared().create_database();
    prepare(&db);
    let gw = Gateway::start(
        &db.url(APP_ROLE),
        &[
            "--pool-size",
            "1",
            "--request-timeout-ms",
            "300",
            "--statement-timeout-ms",
            "0",
        ],
    );
    let alice = user("alice", "acme");
    gw.get("/api/me", &alice).expect(200);
    let mut lock = lock_boards(&db);
    gw.call(Req::post("/api/boards", json!({"title": "never"})).token(&alice))
        .expect_error(
            503,
            "Request timed out",
            "The request did not complete in time; try again",
        );
    lock.batch_execute("COMMIT").expect("unlock");
    // The cancelled request's connection is rolled back before it is reused: the next
    // requests run normally and no app-role session is left inside a transaction.
    assert!(eventually(200, || gw.get("/api/boards", &alice).status == 200));
    assert!(eventually(200, || idle_in_transaction(&db) == 0));
    // The insert had been sent with its COMMIT, so it may or may not have landed; it is
    // either the tenant's, or absent.
    let boards = gw.get("/api/boards", &alice).expect(200);
    for board in boards.as_array().expect("array") {
        assert_eq!(board["title"], "never");
    }
}

#[test]
fn sigterm_drains_in_flight_requests_and_exits_0() {
    let db = Cluster::shared().create_database();
    prepare(&db);
    let mut gw = Gateway::start(&db.url(APP_ROLE), &["--statement-timeout-ms", "0"]);
    let alice = user("alice", "acme");
    gw.get("/api/me", &alice).expect(200);
    let addr = gw.base.trim_start_matches("http://").to_owned();
    let mut lock = lock_boards(&db);
    let held = {
        let gw_ref = &gw;
        thread::scope(|scope| {
            let held = scope.spawn(|| gw_ref.get("/api/boards", &alice));
            assert!(
                eventually(400, || waiting_for_lock(&db, APP_ROLE)),
                "the request never reached the lock"
            );
            gw_ref.signal_term();
            // Draining: the listener is closed, no new connection is accepted.
            assert!(
                eventually(400, || TcpStream::connect(&addr).is_err()),
                "still accepting connections after SIGTERM"
            );
            lock.batch_execute("COMMIT").expect("unlock");
            held.join().expect("request thread")
        })
    };
    held.expect(200);
    let status = gw.wait();
    assert!(status.success(), "exit status {status:?}\n{}", gw.logs());
    assert!(gw.logs().contains("draining"), "{}", gw.logs());
}
