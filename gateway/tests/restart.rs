//! The database restarting under a running gateway: requests in the meantime get 503 (never
//! a 500, never a hang), and afterwards the gateway serves again without being restarted
//! (the pool drops the broken connections and opens new ones). Its own binary: the restart
//! takes the whole cluster down.

mod common;

use std::time::Duration;

use boards_tenant_harness::{Cluster, APP_ROLE};
use common::*;
use serde_json::json;

#[test]
fn the_gateway_recovers_from_a_database_restart() {
    let cluster = Cluster::shared();
    let db = cluster.create_database();
    prepare(&db);
    let gw = Gateway::start(
        &db.url(APP_ROLE),
        &["--pool-size", "4", "--pool-wait-timeout-ms", "500"],
    );
    let alice = user("alice", "acme");
    let board = gw
        .call(Req::post("/api/boards", json!({"title": "survives"})).token(&alice))
        .expect(201);
    let id = board["id"].as_str().expect("id").to_owned();
    // Warm the pool: several connections that the restart will break.
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| gw.get("/api/boards", &alice).expect(200));
        }
    });

    cluster.restart();

    let mut statuses = Vec::new();
    let mut recovered = false;
    for _ in 0..200 {
        let resp = gw.get(&format!("/api/boards/{id}"), &alice);
        statuses.push(resp.status);
        if resp.status == 200 {
            assert_eq!(resp.body["title"], "survives");
            recovered = true;
            break;
        }
        resp.expect_error_shape(503);
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(recovered, "never recovered: {statuses:?}\n{}", gw.logs());
    // Every pooled connection was replaced: a burst of requests all succeed.
    std::thread::scope(|scope| {
        for _ in 0..8 {
            scope.spawn(|| {
                assert!(eventually(100, || gw.get("/api/boards", &alice).status == 200));
            });
        }
    });
    gw.call(Req::get("/readyz")).expect(200);
}
