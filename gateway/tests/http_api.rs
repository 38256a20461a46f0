//! The gateway end to end over real HTTP with real signed tokens, against a throwaway
//! cluster: every endpoint, every error's status and body, the operator rule, two tenants
//! hammering the same endpoints at once, and the same behind a transaction-pooling
//! PgBouncer. The gateway is the real binary, connected as the app role `boards_app`.

mod common;

use std::collections::BTreeSet;
use std::thread;

use boards_tenant_harness::jwt::{self, mint_with_other_key, test_kid};
use boards_tenant_harness::pgbouncer::{PgBouncer, PgBouncerOptions, PoolMode};
use boards_tenant_harness::{error_text, Cluster, TestDb, APP_ROLE};
use common::*;
use serde_json::{json, Value};

fn gateway(db: &TestDb) -> Gateway {
    Gateway::start(&db.url(APP_ROLE), &[])
}

fn superuser_count(db: &TestDb, sql: &str) -> i64 {
    db.superuser()
        .query_one(sql, &[])
        .map(|row| row.get(0))
        .unwrap_or_else(|e| panic!("{sql}: {}", error_text(&e)))
}

#[test]
fn every_tenant_data_endpoint_works_end_to_end() {
    let db = Cluster::shared().create_database();
    prepare(&db);
    db.admin()
        .batch_execute("SELECT boards_tenant_add_member('acme', 'carol')")
        .unwrap();
    let gw = gateway(&db);
    let alice = user("alice", "acme");

    assert_eq!(
        gw.call(Req::get("/healthz")).expect(200),
        json!({"status": "ok"})
    );
    assert_eq!(
        gw.call(Req::get("/readyz")).expect(200),
        json!({"status": "ready"})
    );

    let me = gw.get("/api/me", &alice).expect(200);
    assert_eq!(me["tenant_slug"], "acme");
    assert_eq!(me["subject"], "alice");
    assert_eq!(me["role"], "member");
    assert_eq!(me["source"], "claim:tenant");
    assert_eq!(me["is_operator"], false);
    let alice_id = me["user_id"].as_str().expect("user id").to_owned();

    let board = gw
        .call(
            Req::post(
                "/api/boards",
                json!({"title": "Launch", "description": "Q3", "settings": {"theme": "dark"}}),
            )
            .token(&alice),
        )
        .expect(201);
    assert_eq!(board["title"], "Launch");
    assert_eq!(board["owner_id"], alice_id.as_str());
    assert_eq!(board["tenant_id"], me["tenant_id"]);
    assert_eq!(board["is_public"], false);
    let id = board["id"].as_str().expect("id").to_owned();

    let list = gw.get("/api/boards", &alice).expect(200);
    assert_eq!(list.as_array().map(Vec::len), Some(1));
    assert_eq!(list[0]["id"], id.as_str());
    assert_eq!(
        gw.get(&format!("/api/boards/{id}"), &alice).expect(200)["title"],
        "Launch"
    );

    let updated = gw
        .call(
            Req::patch(
                &format!("/api/boards/{id}"),
                json!({"title": "Launch v2", "is_public": true}),
            )
            .token(&alice),
        )
        .expect(200);
    assert_eq!(updated["title"], "Launch v2");
    assert_eq!(updated["description"], "Q3");
    assert_eq!(updated["is_public"], true);

    let generation = gw
        .call(
            Req::post(
                &format!("/api/boards/{id}/generations"),
                json!({"generator_name": "flux", "artifact_type": "image", "input_params": {"prompt": "a cat"}}),
            )
            .token(&alice),
        )
        .expect(201);
    assert_eq!(generation["board_id"], id.as_str());
    assert_eq!(generation["user_id"], alice_id.as_str());
    assert_eq!(generation["status"], "pending");
    let generations = gw
        .get(&format!("/api/boards/{id}/generations"), &alice)
        .expect(200);
    assert_eq!(generations.as_array().map(Vec::len), Some(1));
    assert_eq!(generations[0]["input_params"], json!({"prompt": "a cat"}));

    let member = gw
        .call(
            Req::post(
                &format!("/api/boards/{id}/members"),
                json!({"subject": "carol", "role": "editor"}),
            )
            .token(&alice),
        )
        .expect(201);
    assert_eq!(member["subject"], "carol");
    assert_eq!(member["role"], "editor");
    let carol_id = member["user_id"].as_str().expect("user id").to_owned();
    let members = gw
        .get(&format!("/api/boards/{id}/members"), &alice)
        .expect(200);
    assert_eq!(members.as_array().map(Vec::len), Some(1));
    // A subject that is no member of the tenant cannot be added.
    gw.call(
        Req::post(
            &format!("/api/boards/{id}/members"),
            json!({"subject": "bob"}),
        )
        .token(&alice),
    )
    .expect_error(404, "Not found", "Board or tenant member not found");
    // Twice: the database's unique key, a generic conflict.
    gw.call(
        Req::post(
            &format!("/api/boards/{id}/members"),
            json!({"subject": "carol"}),
        )
        .token(&alice),
    )
    .expect_error(
        409,
        "Conflict",
        "The request conflicts with the current state of the data",
    );
    gw.call(Req::delete(&format!("/api/boards/{id}/members/{carol_id}")).token(&alice))
        .expect(204);
    gw.call(Req::delete(&format!("/api/boards/{id}/members/{carol_id}")).token(&alice))
        .expect_error(404, "Not found", "Board member not found");

    gw.call(Req::delete(&format!("/api/boards/{id}")).token(&alice))
        .expect(204);
    gw.get(&format!("/api/boards/{id}"), &alice)
        .expect_error(404, "Not found", "Board not found");
    gw.get(&format!("/api/boards/{id}/generations"), &alice)
        .expect_error(404, "Not found", "Board not found");
    gw.get(&format!("/api/boards/{id}/members"), &alice)
        .expect_error(404, "Not found", "Board not found");
    gw.call(
        Req::post(
            &format!("/api/boards/{id}/generations"),
            json!({"generator_name": "x", "artifact_type": "text"}),
        )
        .token(&alice),
    )
    .expect_error(404, "Not found", "Board not found");
    assert_eq!(
        superuser_count(&db, "SELECT count(*) FROM boards.generations"),
        0
    );

    // JSON numbers survive PostgreSQL's jsonb (which prints them in full) and come back
    // (found by schemathesis: the largest finite float was read back as out of range).
    let extreme =
        json!({"max": -1.7976931348623157e308, "tiny": 5e-324, "big": 1.0213598911603311e207});
    let board = gw
        .call(
            Req::post(
                "/api/boards",
                json!({"title": "numbers", "settings": extreme}),
            )
            .token(&alice),
        )
        .expect(201);
    assert_eq!(board["settings"], extreme);
    let id = board["id"].as_str().expect("id").to_owned();
    assert_eq!(
        gw.get(&format!("/api/boards/{id}"), &alice).expect(200)["settings"],
        extreme
    );
}

#[test]
fn the_setup_endpoints_manage_tenants_for_an_operator() {
    let db = Cluster::shared().create_database();
    prepare(&db);
    let gw = gateway(&db);
    let ops = token(json!({"sub": OPERATOR}));

    // The seed's request body.
    let created = gw
        .call(
            Req::post(
                "/api/setup/tenant",
                json!({
                    "name": "Acme Corporation",
                    "slug": "acme-corp",
                    "settings": {"admin_email": "admin@acme-corp.com"},
                    "include_sample_data": true
                }),
            )
            .token(&ops),
        )
        .expect(201);
    assert_eq!(created["slug"], "acme-corp");
    assert_eq!(created["name"], "Acme Corporation");
    assert_eq!(created["status"], "active");
    assert_eq!(created["settings"]["admin_email"], "admin@acme-corp.com");
    assert_eq!(created["created_by"], OPERATOR);
    let tenant_id = created["id"].as_str().expect("id").to_owned();
    // include_sample_data made real rows.
    let sample_boards = superuser_count(
        &db,
        &format!("SELECT count(*) FROM boards.boards WHERE tenant_id = '{tenant_id}'"),
    );
    assert!(sample_boards >= 1, "no sample board");

    let list = gw.get("/api/setup/tenants", &ops).expect(200);
    let slugs: BTreeSet<&str> = list
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|t| t["slug"].as_str())
        .collect();
    assert!(
        slugs.is_superset(&BTreeSet::from(["acme", "acme-corp", "default", "globex"])),
        "{slugs:?}"
    );

    assert_eq!(
        gw.get("/api/setup/tenants/acme-corp", &ops).expect(200)["id"],
        tenant_id.as_str()
    );
    let renamed = gw
        .call(
            Req::patch(
                "/api/setup/tenants/acme-corp",
                json!({"name": "Acme Corp", "settings": {"plan": "pro"}}),
            )
            .token(&ops),
        )
        .expect(200);
    assert_eq!(renamed["name"], "Acme Corp");
    assert_eq!(
        renamed["settings"],
        json!({"admin_email": "admin@acme-corp.com", "plan": "pro"})
    );

    assert_eq!(
        gw.call(Req::new("POST", "/api/setup/tenants/acme-corp/suspend").token(&ops))
            .expect(200)["status"],
        "suspended"
    );
    // A suspended tenant's users are refused by the database: 55000 -> 409.
    let dave = user("dave", "acme-corp");
    let error = gw.get("/api/boards", &dave).expect_error_shape(409);
    assert_eq!(error, "tenant \"acme-corp\" is suspended");
    assert_eq!(
        gw.call(Req::new("POST", "/api/setup/tenants/acme-corp/approve").token(&ops))
            .expect(200)["status"],
        "active"
    );
    gw.get("/api/boards", &dave).expect(200);

    let member = gw
        .call(
            Req::post(
                "/api/setup/tenants/acme-corp/members",
                json!({"subject": "erin", "role": "admin", "email": "erin@acme-corp.com"}),
            )
            .token(&ops),
        )
        .expect(201);
    assert_eq!(member["subject"], "erin");
    assert_eq!(member["role"], "admin");
    let members = gw
        .get("/api/setup/tenants/acme-corp/members", &ops)
        .expect(200);
    let subjects: BTreeSet<&str> = members
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|m| m["subject"].as_str())
        .collect();
    assert!(
        subjects.contains("erin") && subjects.contains("dave"),
        "{subjects:?}"
    );
    gw.call(Req::delete("/api/setup/tenants/acme-corp/members/erin").token(&ops))
        .expect(204);
    let error = gw
        .call(Req::delete("/api/setup/tenants/acme-corp/members/erin").token(&ops))
        .expect_error_shape(404);
    assert!(error.contains("erin"), "{error}");

    let deleted = gw
        .call(Req::delete("/api/setup/tenants/acme-corp").token(&ops))
        .expect(200);
    assert_eq!(deleted["slug"], "acme-corp");
    let removed: i64 = deleted["deleted"]
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|t| t["rows_deleted"].as_i64())
        .sum();
    assert!(removed >= 2, "{deleted}");
    gw.get("/api/setup/tenants/acme-corp", &ops).expect_error(
        404,
        "tenant \"acme-corp\" does not exist",
        "tenant \"acme-corp\" does not exist",
    );
}

#[test]
fn registration_takes_and_returns_the_seeds_bodies() {
    let db = Cluster::shared().create_database();
    prepare(&db);
    db.set("boards.frontend_base_url", "https://boards.example.com");
    let gw = gateway(&db);
    let ceo =
        token(json!({"sub": "ceo-1", "email": "ceo@new-startup.com", "email_verified": true}));
    let response = gw
        .call(
            Req::post(
                "/api/tenants/register",
                json!({
                    "organization_name": "New Startup Inc",
                    "admin_email": "ceo@new-startup.com",
                    "use_case": "AI content creation for marketing",
                    "organization_size": "small"
                }),
            )
            .token(&ceo),
        )
        .expect(201);
    let keys: BTreeSet<&str> = response
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        BTreeSet::from([
            "api_access",
            "dashboard_url",
            "next_steps",
            "organization_name",
            "status",
            "tenant_id",
            "tenant_slug"
        ])
    );
    assert_eq!(response["tenant_slug"], "new-startup");
    assert_eq!(response["status"], "active");
    assert_eq!(
        response["dashboard_url"],
        "https://boards.example.com/?tenant=new-startup"
    );
    assert_eq!(
        response["api_access"],
        json!({"tenant_header": "X-Tenant: new-startup", "graphql_endpoint": "/graphql"})
    );
    // The registrant is the new tenant's owner, with the seed's X-Tenant header.
    let me = gw
        .call(Req::get("/api/me").token(&ceo).tenant("new-startup"))
        .expect(200);
    assert_eq!(me["role"], "owner");
    assert_eq!(me["tenant_id"], response["tenant_id"]);
    // Its verified corporate email domain names the tenant now (registration listed it).
    assert_eq!(me["source"], "email_domain");
    // The sample data (include_sample_data defaults to true) is the new tenant's.
    let boards = gw
        .call(Req::get("/api/boards").token(&ceo).tenant("new-startup"))
        .expect(200);
    assert!(!boards.as_array().expect("array").is_empty());

    // Anonymous registration: 401 from the database.
    let error = gw
        .call(Req::post(
            "/api/tenants/register",
            json!({"organization_name": "X", "admin_email": "a@x.com"}),
        ))
        .expect_error_shape(401);
    assert_eq!(error, "token is NULL");
}

#[test]
fn the_operator_rule_is_decided_in_the_database() {
    let db = Cluster::shared().create_database();
    prepare(&db);
    let gw = gateway(&db);
    let create = |name: &str, slug: &str| {
        Req::post("/api/setup/tenant", json!({"name": name, "slug": slug}))
    };

    // Anonymous: 401, with the bearer challenge.
    for req in [
        create("A", "anon-a"),
        Req::get("/api/setup/tenants"),
        Req::get("/api/setup/tenants/acme"),
    ] {
        let resp = gw.call(req);
        assert_eq!(
            resp.headers
                .get("www-authenticate")
                .map(|v| v.to_str().unwrap_or("")),
            Some("Bearer")
        );
        resp.expect_error_shape(401);
    }
    // A verified token of a tenant user, even an owner: 403.
    db.admin()
        .batch_execute("SELECT boards_tenant_add_member('acme', 'olga', 'owner')")
        .unwrap();
    for sub in ["alice", "olga"] {
        let tenant_user = user(sub, "acme");
        gw.call(create("B", "user-b").token(&tenant_user))
            .expect_error(
                403,
                "Access denied",
                "Tenant management is for platform operators only",
            );
        gw.get("/api/setup/tenants", &tenant_user).expect_error(
            403,
            "Access denied",
            "Tenant management is for platform operators only",
        );
    }
    // A token that does not verify: 401 whatever subject it names.
    let forged = mint_with_other_key(
        "HS256",
        &test_kid("HS256"),
        &json!({"sub": OPERATOR, "exp": jwt::now() + 60}),
    );
    assert_eq!(
        gw.get("/api/setup/tenants", &forged)
            .expect_error_shape(401),
        "token signature is invalid"
    );

    // The operator: allowed, and /api/me says so.
    let ops = token(json!({"sub": OPERATOR, "tenant": "acme"}));
    gw.call(create("C", "ops-c").token(&ops)).expect(201);
    assert_eq!(gw.get("/api/me", &ops).expect(200)["is_operator"], true);

    // The app role itself cannot call the admin-only management functions.
    let denied = db
        .app()
        .batch_execute("SELECT * FROM boards_tenant_create('D', 'direct-d')");
    assert_eq!(
        denied
            .err()
            .and_then(|e| e.as_db_error().map(|d| d.code().code().to_owned()))
            .as_deref(),
        Some("42501")
    );

    // Removal acts at the next request.
    db.admin()
        .batch_execute("SELECT boards_operator_remove('ops-1')")
        .unwrap();
    gw.call(create("E", "ops-e").token(&ops)).expect_error(
        403,
        "Access denied",
        "Tenant management is for platform operators only",
    );

    // An operator bound to an issuer: the token's iss must match.
    db.admin()
        .batch_execute("SELECT boards_operator_add('ops-2', 'https://idp.example')")
        .unwrap();
    let no_iss = token(json!({"sub": "ops-2"}));
    let wrong_iss = token(json!({"sub": "ops-2", "iss": "https://other.example"}));
    let right_iss = token(json!({"sub": "ops-2", "iss": "https://idp.example"}));
    gw.get("/api/setup/tenants", &no_iss)
        .expect_error_shape(403);
    gw.get("/api/setup/tenants", &wrong_iss)
        .expect_error_shape(403);
    gw.get("/api/setup/tenants", &right_iss).expect(200);

    // The same rule for any SQL the app role sends: the operator functions called directly.
    let mut app = db.app();
    let code = |r: Result<(), boards_tenant_harness::postgres::Error>| {
        r.err()
            .and_then(|e| e.as_db_error().map(|d| d.code().code().to_owned()))
    };
    assert_eq!(
        code(app.batch_execute("SELECT * FROM boards_operator_tenant_list()")).as_deref(),
        Some("28000")
    );
    app.query(
        "SELECT * FROM boards_set_tenant_from_jwt($1)",
        &[&user("alice", "acme")],
    )
    .unwrap_or_else(|e| panic!("{}", error_text(&e)));
    for sql in [
        "SELECT * FROM boards_operator_tenant_list()",
        "SELECT * FROM boards_operator_tenant_create('Mine', 'mine')",
        "SELECT * FROM boards_operator_tenant_delete('globex')",
        "SELECT boards_operator_tenant_add_member('globex', 'alice', 'owner')",
    ] {
        assert_eq!(
            code(app.batch_execute(sql)).as_deref(),
            Some("42501"),
            "{sql}"
        );
    }
    assert_eq!(
        superuser_count(
            &db,
            "SELECT count(*) FROM boards.tenants WHERE slug = 'globex'"
        ),
        1
    );

    // The app role cannot read or write the operator list.
    let read = db.app().batch_execute("SELECT * FROM boards.operators");
    assert!(read.is_err());
    let write = db
        .app()
        .batch_execute("SELECT boards_operator_add('mallory')");
    assert!(write.is_err());
}

#[test]
fn every_error_has_its_status_and_the_seeds_body() {
    let db = Cluster::shared().create_database();
    prepare(&db);
    let gw = Gateway::start(
        &db.url(APP_ROLE),
        &["--body-limit", "1024", "--header-limit", "8192"],
    );
    let alice = user("alice", "acme");
    let ops = token(json!({"sub": OPERATOR}));

    // 401: no token, a forged one, an expired one.
    let resp = gw.call(Req::get("/api/boards"));
    assert_eq!(
        resp.headers
            .get("www-authenticate")
            .map(|v| v.to_str().unwrap_or("")),
        Some("Bearer")
    );
    assert_eq!(resp.expect_error_shape(401), "token is NULL");
    let forged = mint_with_other_key(
        "HS256",
        &test_kid("HS256"),
        &json!({"sub": "alice", "tenant": "acme"}),
    );
    gw.get("/api/boards", &forged).expect_error_shape(401);
    let expired = token(json!({"sub": "alice", "tenant": "acme", "exp": jwt::now() - 3600}));
    assert_eq!(
        gw.get("/api/boards", &expired).expect_error_shape(401),
        "token has expired"
    );
    gw.call(Req::get("/api/boards").header("Authorization", "Basic YWxpY2U6eA=="))
        .expect_error_shape(401);

    // 400 (22004): no tenant named in multi-tenant mode — the seed's texts.
    let tenantless = token(json!({"sub": "zed", "email": "zed@gmail.com"}));
    gw.get("/api/boards", &tenantless).expect_error(
        400,
        "Missing X-Tenant header",
        "X-Tenant header is required in multi-tenant mode for this endpoint",
    );
    // 400 (22023): a bad X-Tenant — the seed's texts.
    gw.call(
        Req::get("/api/boards")
            .token(&tenantless)
            .tenant("Bad_Slug!"),
    )
    .expect_error(
        400,
        "Invalid X-Tenant header format",
        "Tenant slug must contain only lowercase letters, numbers, and hyphens",
    );
    // 403 (42501): another tenant's X-Tenant — the seed's texts.
    gw.call(Req::get("/api/boards").token(&alice).tenant("globex"))
        .expect_error(403, "Access denied", "User does not belong to tenant");
    // 404 (42704) and 409 (23505) from the tenant functions.
    gw.get("/api/setup/tenants/initech", &ops).expect_error(
        404,
        "tenant \"initech\" does not exist",
        "tenant \"initech\" does not exist",
    );
    gw.call(Req::post("/api/setup/tenant", json!({"name": "Acme", "slug": "acme"})).token(&ops))
        .expect_error(
            409,
            "tenant \"acme\" already exists",
            "tenant \"acme\" already exists",
        );
    // 400 (22023) for a bad slug in a body.
    let error = gw
        .call(
            Req::post(
                "/api/setup/tenant",
                json!({"name": "Bad", "slug": "Bad Slug"}),
            )
            .token(&ops),
        )
        .expect_error_shape(400);
    assert!(!error.is_empty());
    // 409 (55000): the last owner.
    db.admin()
        .batch_execute("SELECT boards_tenant_add_member('globex', 'gina', 'owner')")
        .unwrap();
    gw.call(Req::delete("/api/setup/tenants/globex/members/gina").token(&ops))
        .expect_error_shape(409);
    // 403 (54000): a configured limit.
    db.set("boards.max_tenants_per_user", "1");
    let gw_limited = gateway(&db);
    let founder = token(json!({"sub": "founder", "email": "f@founder.io", "email_verified": true}));
    let register = |name: &str| {
        Req::post(
            "/api/tenants/register",
            json!({"organization_name": name, "admin_email": "f@founder.io"}),
        )
    };
    gw_limited
        .call(register("First Co").token(&founder))
        .expect(201);
    let error = gw_limited
        .call(register("Second Co").token(&founder))
        .expect_error_shape(403);
    assert_eq!(error, "Tenant limit reached");

    // The gateway's own refusals, in the same shape.
    let board_id = "00000000-0000-0000-0000-000000000001";
    gw.get(&format!("/api/boards/{board_id}"), &alice)
        .expect_error(404, "Not found", "Board not found");
    gw.get("/api/boards/not-a-uuid", &alice)
        .expect_error(400, "Invalid id", "id must be a UUID");
    assert_eq!(
        gw.call(
            Req::new("POST", "/api/boards")
                .token(&alice)
                .header("Content-Type", "application/json")
                .raw(b"{not json".to_vec())
        )
        .expect_error_shape(400),
        "Invalid request body"
    );
    assert_eq!(
        gw.call(Req::post("/api/boards", json!({"description": "no title"})).token(&alice))
            .expect_error_shape(400),
        "Invalid request body"
    );
    assert_eq!(
        gw.call(
            Req::post(
                "/api/boards/00000000-0000-0000-0000-000000000001/generations",
                json!({"generator_name": "g", "artifact_type": "hologram"})
            )
            .token(&alice)
        )
        .expect_error_shape(400),
        "Invalid request body"
    );
    assert_eq!(
        gw.call(
            Req::new("POST", "/api/boards")
                .token(&alice)
                .raw(b"{}".to_vec())
        )
        .expect_error_shape(415),
        "Unsupported media type"
    );
    assert_eq!(
        gw.call(Req::post("/api/boards", json!({"title": "x".repeat(4096)})).token(&alice))
            .expect_error_shape(413),
        "Request body too large"
    );
    assert_eq!(
        gw.call(
            Req::get("/api/boards")
                .token(&alice)
                .header("X-Padding", &"p".repeat(10_000))
        )
        .expect_error_shape(431),
        "Request headers too large"
    );
    gw.call(Req::get("/api/nothing-here")).expect_error(
        404,
        "Not found",
        "No such endpoint (see /openapi.json)",
    );
    // Values PostgreSQL refuses (a NUL character): 400 with a generic body.
    gw.call(Req::post("/api/boards", json!({"title": "nul\u{0}byte"})).token(&alice))
        .expect_error(
            400,
            "Invalid request",
            "A value in the request is not accepted by the database",
        );

    // 503 (25006): a write on a read-only database (alice's first request to globex-like
    // first-use membership needs one).
    db.set("default_transaction_read_only", "on");
    let gw_ro = gateway(&db);
    gw_ro
        .get("/api/boards", &user("newcomer", "acme"))
        .expect_error(
            503,
            "Service unavailable",
            "The database is not available right now; try again",
        );
}

#[test]
fn an_unforeseen_database_error_is_a_generic_500() {
    let db = Cluster::shared().create_database();
    prepare(&db);
    let gw = gateway(&db);
    let alice = user("alice", "acme");
    let board = gw
        .call(Req::post("/api/boards", json!({"title": "t"})).token(&alice))
        .expect(201);
    let id = board["id"].as_str().expect("id").to_owned();
    db.superuser()
        .batch_execute(
            "ALTER TABLE boards.generations RENAME COLUMN storage_url TO storage_location",
        )
        .unwrap();
    let resp = gw.get(&format!("/api/boards/{id}/generations"), &alice);
    let text = resp.body.to_string();
    resp.expect_error(
        500,
        "Internal server error",
        "The request could not be completed",
    );
    assert!(
        !text.contains("storage_url") && !text.contains("column"),
        "{text}"
    );
    // The cause is in the log, for the operator.
    assert!(gw.logs().contains("storage_url"), "{}", gw.logs());
}

/// `tenants` each run `threads` clients of `rounds` rounds over the same endpoints; every
/// row anyone sees is their own tenant's, and the other tenant's ids are 404.
fn hammer(gw: &Gateway, rounds: usize, threads: usize) {
    let tokens = [
        ("acme", user("alice", "acme")),
        ("globex", user("bob", "globex")),
    ];
    let tenant_ids: Vec<String> = tokens
        .iter()
        .map(|(_, t)| {
            gw.get("/api/me", t).expect(200)["tenant_id"]
                .as_str()
                .expect("id")
                .to_owned()
        })
        .collect();
    // One board per tenant to probe for from the other.
    let probes: Vec<String> = tokens
        .iter()
        .map(|(slug, t)| {
            gw.call(Req::post("/api/boards", json!({"title": format!("{slug}-probe")})).token(t))
                .expect(201)["id"]
                .as_str()
                .expect("id")
                .to_owned()
        })
        .collect();
    thread::scope(|scope| {
        for (i, (slug, tok)) in tokens.iter().enumerate() {
            for n in 0..threads {
                let own_id = &tenant_ids[i];
                let foreign_probe = &probes[1 - i];
                scope.spawn(move || {
                    for round in 0..rounds {
                        let title = format!("{slug}-{n}-{round}");
                        let board = gw
                            .call(Req::post("/api/boards", json!({"title": title})).token(tok))
                            .expect(201);
                        assert_eq!(&board["tenant_id"], own_id);
                        let id = board["id"].as_str().expect("id").to_owned();
                        let list = gw.get("/api/boards", tok).expect(200);
                        for b in list.as_array().expect("array") {
                            assert_eq!(&b["tenant_id"], own_id, "{slug} saw {b}");
                            let t = b["title"].as_str().unwrap_or("");
                            assert!(t.starts_with(&format!("{slug}-")), "{slug} saw {t}");
                        }
                        assert_eq!(
                            gw.get(&format!("/api/boards/{id}"), tok).expect(200)["title"],
                            title
                        );
                        gw.get(&format!("/api/boards/{foreign_probe}"), tok)
                            .expect_error(404, "Not found", "Board not found");
                        gw.call(
                            Req::patch(
                                &format!("/api/boards/{foreign_probe}"),
                                json!({"title": "pwned"}),
                            )
                            .token(tok),
                        )
                        .expect_error(404, "Not found", "Board not found");
                        gw.call(Req::delete(&format!("/api/boards/{foreign_probe}")).token(tok))
                            .expect_error(404, "Not found", "Board not found");
                        assert_eq!(&gw.get("/api/me", tok).expect(200)["tenant_id"], own_id);
                        // A refused request in between leaves nothing behind on its connection.
                        let other = if *slug == "acme" { "globex" } else { "acme" };
                        gw.call(Req::get("/api/boards").token(tok).tenant(other))
                            .expect_error(403, "Access denied", "User does not belong to tenant");
                    }
                });
            }
        }
    });
}

fn assert_no_foreign_writes(db: &TestDb, probes: i64) {
    // Every board's title names its own tenant.
    let wrong = superuser_count(
        db,
        "SELECT count(*) FROM boards.boards b JOIN boards.tenants t ON t.id = b.tenant_id
         WHERE b.title NOT LIKE t.slug || '-%'",
    );
    assert_eq!(wrong, 0);
    let untouched = superuser_count(
        db,
        "SELECT count(*) FROM boards.boards WHERE title LIKE '%-probe'",
    );
    assert_eq!(untouched, probes, "a probe board was changed or deleted");
}

#[test]
fn two_tenants_hammering_the_same_endpoints_never_see_each_others_rows() {
    let db = Cluster::shared().create_database();
    prepare(&db);
    let gw = Gateway::start(&db.url(APP_ROLE), &["--pool-size", "4"]);
    hammer(&gw, 25, 3);
    // And without the statement cache (unnamed statements, the PgBouncer mode).
    let gw = Gateway::start(
        &db.url(APP_ROLE),
        &["--pool-size", "4", "--statement-cache", "false"],
    );
    hammer(&gw, 5, 2);
    assert_no_foreign_writes(&db, 4);
    assert_eq!(
        superuser_count(&db, "SELECT count(*) FROM boards.boards"),
        2 + 2 * 3 * 25 + 2 + 2 * 2 * 5
    );
}

#[test]
fn behind_pgbouncer_transaction_pooling_isolation_holds() {
    let db = Cluster::shared().create_database();
    prepare(&db);
    // Fewer server connections than the gateway's pool: PgBouncer hands each server
    // connection to many gateway connections, one transaction at a time.
    let bouncer = PgBouncer::start(
        &db,
        PoolMode::Transaction,
        PgBouncerOptions {
            default_pool_size: 2,
            ..PgBouncerOptions::default()
        },
    );
    let gw = Gateway::start(
        &bouncer.url(APP_ROLE),
        &["--pool-size", "6", "--statement-cache", "false"],
    );
    hammer(&gw, 20, 3);
    assert_no_foreign_writes(&db, 2);
    // The operator and registration paths through it too.
    let ops = token(json!({"sub": OPERATOR}));
    gw.call(
        Req::post(
            "/api/setup/tenant",
            json!({"name": "Pooled", "slug": "pooled"}),
        )
        .token(&ops),
    )
    .expect(201);
    assert_eq!(
        gw.get("/api/setup/tenants/pooled", &ops).expect(200)["slug"],
        "pooled"
    );
    // No context survives on a server connection: a plain query through PgBouncer sees no
    // tenant, however many requests ran before it.
    let mut app = bouncer.connect(APP_ROLE);
    for _ in 0..10 {
        let rows = app
            .simple_query("SELECT count(*) FROM boards.boards")
            .unwrap_or_else(|e| panic!("{}", error_text(&e)));
        let count = rows.iter().find_map(|m| match m {
            boards_tenant_harness::postgres::SimpleQueryMessage::Row(r) => {
                r.get(0).map(str::to_owned)
            }
            _ => None,
        });
        assert_eq!(count.as_deref(), Some("0"));
    }
}

#[test]
fn logs_carry_a_request_id_and_never_a_token() {
    let db = Cluster::shared().create_database();
    prepare(&db);
    let gw = gateway(&db);
    let alice = user("alice", "acme");
    let resp = gw.call(Req::get("/api/me").token(&alice));
    let id = resp
        .headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .expect("x-request-id")
        .to_owned();
    resp.expect(200);
    let forged = mint_with_other_key("HS256", &test_kid("HS256"), &json!({"sub": "m"}));
    gw.get("/api/boards", &forged).expect_error_shape(401);
    let given = gw.call(Req::get("/healthz").header("x-request-id", "trace-me-42"));
    assert_eq!(
        given
            .headers
            .get("x-request-id")
            .and_then(|v| v.to_str().ok()),
        Some("trace-me-42")
    );
    assert!(
        eventually(40, || gw.logs().contains("trace-me-42")),
        "no request id in the logs:\n{}",
        gw.logs()
    );
    let logs = gw.logs();
    assert!(logs.contains(&id), "{logs}");
    for secret in [&alice, &forged] {
        assert!(!logs.contains(secret.as_str()), "a token reached the logs");
        // Nor its signature alone.
        let signature = secret.rsplit('.').next().unwrap_or("");
        assert!(
            !logs.contains(signature),
            "a token signature reached the logs"
        );
    }
    // One JSON object per line.
    for line in logs.lines().filter(|l| !l.trim().is_empty()) {
        let parsed: Result<Value, _> = serde_json::from_str(line);
        assert!(parsed.is_ok(), "not JSON: {line}");
    }
}

#[test]
fn the_openapi_document_describes_every_route() {
    let db = Cluster::shared().create_database();
    prepare(&db);
    let gw = gateway(&db);
    let doc = gw.call(Req::get("/openapi.json")).expect(200);
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")));
    let paths: BTreeSet<&str> = doc["paths"]
        .as_object()
        .expect("paths")
        .keys()
        .map(String::as_str)
        .collect();
    let expected = [
        "/healthz",
        "/readyz",
        "/api/me",
        "/api/boards",
        "/api/boards/{id}",
        "/api/boards/{id}/generations",
        "/api/boards/{id}/members",
        "/api/boards/{id}/members/{user_id}",
        "/api/tenants/register",
        "/api/setup/tenant",
        "/api/setup/tenants",
        "/api/setup/tenants/{slug}",
        "/api/setup/tenants/{slug}/approve",
        "/api/setup/tenants/{slug}/suspend",
        "/api/setup/tenants/{slug}/members",
        "/api/setup/tenants/{slug}/members/{subject}",
    ];
    assert_eq!(paths, BTreeSet::from(expected));
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    let errors = &doc["paths"]["/api/boards"]["get"]["responses"];
    for code in ["400", "401", "403", "404", "409", "431", "500", "503"] {
        assert!(
            errors.get(code).is_some(),
            "GET /api/boards does not document {code}"
        );
    }
}
