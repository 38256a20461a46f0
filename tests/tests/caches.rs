//! Caches that never outlive the truth: every revocation and change a user makes, through a real
//! client against a real cluster, as `boards_app`, with the library preloaded and not (where
//! every context function refuses to act, so no cache may answer either).
//!
//! Races are driven deterministically: a second connection commits while the first holds its
//! snapshot (`BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT 1`), or while the first is blocked
//! inside its statement on an advisory lock that the test releases after the commit.

use std::sync::OnceLock;
use std::thread;

use boards_tenant_harness::jwt::{self, mint, test_kid};
use boards_tenant_harness::postgres::{Client, Row};
use boards_tenant_harness::{Cluster, ClusterOptions, TestDb};
use boards_tenant_tests::{
    assert_sqlstate, assert_sqlstate_in, count, error_text, exec, sql_literal, text, waits,
};
use serde_json::{json, Value};

use boards_tenant_tests::sqlstate::INSUFFICIENT_PRIVILEGE as ACCESS_DENIED;
use boards_tenant_tests::sqlstate::INVALID_AUTHORIZATION_SPECIFICATION as TOKEN_REFUSED;
use boards_tenant_tests::sqlstate::INVALID_PARAMETER_VALUE as INVALID_PARAMETER;
use boards_tenant_tests::sqlstate::OBJECT_NOT_IN_PREREQUISITE_STATE as NOT_ACTIVE;
use boards_tenant_tests::sqlstate::UNDEFINED_OBJECT as NOT_FOUND;
use boards_tenant_tests::sqlstate::UNIQUE_VIOLATION;
// Every context function without shared_preload_libraries.
use boards_tenant_tests::sqlstate::OBJECT_NOT_IN_PREREQUISITE_STATE as NOT_PRELOADED;

/// The key the revocation scenarios remove: the HS256 test secret under its own kid.
const REVOCABLE_KID: &str = "revocable";
/// The advisory lock the blocked-statement handshake uses.
const HANDSHAKE_LOCK: i64 = 2020;

/// The cluster without `shared_preload_libraries`, shared by this binary's tests (its watchdog
/// removes it when the process exits).
fn not_preloaded() -> &'static Cluster {
    static CLUSTER: OnceLock<Cluster> = OnceLock::new();
    CLUSTER.get_or_init(|| {
        Cluster::start(ClusterOptions {
            preload: false,
            ..Default::default()
        })
    })
}

/// Runs `scenario` on a fresh fixture database with the library preloaded; without preload,
/// where every context function refuses to act (55000, README "Deployment"), checks that no
/// cache answers in its place: no token sets a context, no reader yields a tenant, before and
/// after a revocation.
fn in_both_configurations(scenario: impl Fn(&TestDb, &str)) {
    let db = fixture(Cluster::shared());
    scenario(&db, "preloaded");

    let db = fixture(not_preloaded());
    let mut app = db.app();
    let tokens = [
        token(REVOCABLE_KID, "bob", json!({})),
        hs256("alice", json!({"tenant": "acme"})),
    ];
    for round in ["before", "after"] {
        for t in &tokens {
            assert_sqlstate_in(
                &format!("not preloaded, {round} a revocation"),
                set_context(&mut app, t, Some("acme")),
                NOT_PRELOADED,
            );
        }
        for reader in [
            "boards_current_tenant()::text",
            "boards_current_tenant_slug()",
        ] {
            assert_sqlstate_in(
                &format!("not preloaded, {round} a revocation: {reader}"),
                app.query(&format!("SELECT {reader}"), &[]),
                NOT_PRELOADED,
            );
        }
        assert_eq!(visible_boards_or_refused(&mut app), None, "not preloaded");
        if round == "before" {
            exec(
                &mut db.admin(),
                "SELECT boards_jwt_remove_key('revocable');
                 SELECT * FROM boards_tenant_suspend('acme');",
            );
        }
    }
}

/// The rows of acme's boards a session sees, or `None` when the statement is refused.
fn visible_boards_or_refused(app: &mut Client) -> Option<i64> {
    app.query_one("SELECT count(*) FROM boards.boards", &[])
        .ok()
        .map(|row| row.get(0))
}

/// Keys (the test keys and [`REVOCABLE_KID`]), multi-tenant mode, tenants `acme` (owner
/// `alice`, member `bob`, one board) and `globex` (owner `gina`).
fn fixture(cluster: &Cluster) -> TestDb<'_> {
    let db = cluster.create_database();
    let mut admin = db.admin();
    jwt::install_test_keys(&mut admin);
    admin
        .execute(
            "SELECT boards_jwt_add_key($1, 'HS256', $2)",
            &[&REVOCABLE_KID, &jwt::verification_material("HS256")],
        )
        .unwrap_or_else(|e| panic!("adding the revocable key: {}", error_text(&e)));
    exec(
        &mut admin,
        "SELECT * FROM boards_tenant_create('Acme', 'acme');
         SELECT boards_tenant_add_member('acme', 'alice', 'owner');
         SELECT boards_tenant_add_member('acme', 'bob', 'member');
         SELECT * FROM boards_tenant_create('Globex', 'globex');
         SELECT boards_tenant_add_member('globex', 'gina', 'owner');",
    );
    exec(
        &mut db.superuser(),
        "INSERT INTO boards.boards (tenant_id, owner_id, title)
         SELECT u.tenant_id, u.id, 'acme board' FROM boards.users u
         JOIN boards.tenants t ON t.id = u.tenant_id
         WHERE t.slug = 'acme' AND u.auth_subject = 'alice'",
    );
    db.set("boards.multi_tenant_mode", "on");
    db
}

/// A token signed with `kid` (HS256), issued now, valid for an hour, with `extra` claims.
fn token(kid: &str, subject: &str, extra: Value) -> String {
    let mut claims = json!({"sub": subject, "iat": jwt::now(), "exp": jwt::now() + 3600});
    if let (Some(claims), Value::Object(extra)) = (claims.as_object_mut(), extra) {
        claims.extend(extra);
    }
    mint("HS256", kid, &claims)
}

fn hs256(subject: &str, extra: Value) -> String {
    token(&test_kid("HS256"), subject, extra)
}

fn set_context(
    app: &mut Client,
    token: &str,
    x_tenant: Option<&str>,
) -> Result<Vec<Row>, postgres::Error> {
    app.query(
        "SELECT tenant_slug FROM boards_set_tenant_from_jwt($1, $2)",
        &[&token, &x_tenant],
    )
}

/// What the session sees of acme's boards right now (1 in acme's context, else 0).
fn visible_boards(app: &mut Client) -> i64 {
    count(app, "SELECT count(*) FROM boards.boards")
}

/// The tenant the context readers report (what every policy compares with).
fn current_tenant(app: &mut Client) -> Option<String> {
    app.query_one("SELECT boards_current_tenant_slug()", &[])
        .unwrap_or_else(|e| panic!("boards_current_tenant_slug: {}", error_text(&e)))
        .get(0)
}

/// Runs `sql` (params: a token and an X-Tenant value) on `app` in a thread, blocked inside the
/// statement on [`HANDSHAKE_LOCK`] after its snapshot was taken; commits `change` as admin
/// meanwhile, then lets the statement go on. Returns the connection and the statement's result.
fn across_a_commit(
    db: &TestDb,
    mut app: Client,
    token: String,
    x_tenant: Option<String>,
    change: &str,
) -> (Client, Result<Vec<Row>, postgres::Error>) {
    let mut su = db.superuser();
    let pid: i32 = app
        .query_one("SELECT pg_backend_pid()", &[])
        .map(|r| r.get(0))
        .unwrap_or(0);
    exec(
        &mut su,
        &format!("SELECT pg_advisory_lock({HANDSHAKE_LOCK})"),
    );
    let statement = thread::spawn(move || {
        // The lock function's result feeds the context function's argument, so the lock is
        // taken first; the statement's snapshot predates both.
        let result = app.query(
            &format!(
                "SELECT x.tenant_slug
                 FROM (SELECT pg_advisory_lock_shared({HANDSHAKE_LOCK})::text AS l) s,
                      LATERAL boards_set_tenant_from_jwt(s.l || $1, $2) x"
            ),
            &[&token, &x_tenant],
        );
        (app, result)
    });
    // Wait (bounded) until the statement is blocked on the handshake lock.
    waits::until_blocked_on_lock(&mut su, pid, || statement.is_finished());
    exec(&mut db.admin(), change);
    exec(
        &mut su,
        &format!("SELECT pg_advisory_unlock({HANDSHAKE_LOCK})"),
    );
    statement
        .join()
        .unwrap_or_else(|_| panic!("the statement's thread panicked"))
}

// ---------------------------------------------------------------------------------------------
// Scenario 1: a cache filled from an old snapshot
// ---------------------------------------------------------------------------------------------

/// The revocations an admin makes: (what is revoked, the admin's SQL).
const REVOCATIONS: &[(&str, &str)] = &[
    ("key removal", "SELECT boards_jwt_remove_key('revocable')"),
    ("suspension", "SELECT * FROM boards_tenant_suspend('acme')"),
    ("deletion", "SELECT * FROM boards_tenant_delete('acme')"),
    (
        "member removal",
        "SELECT boards_tenant_remove_member('acme', 'bob')",
    ),
];

/// How a session tries to act for acme after each revocation: bob's token signed by the
/// revocable key, through X-Tenant (membership checked), and what the refusal is.
fn retry_refused(app: &mut Client, context: &str, what: &str, revocable: &str) {
    let code = match what {
        "key removal" => TOKEN_REFUSED,
        "suspension" => NOT_ACTIVE,
        _ => ACCESS_DENIED,
    };
    assert_sqlstate_in(context, set_context(app, revocable, Some("acme")), code);
}

#[test]
fn a_cache_filled_from_an_old_snapshot_is_never_kept() {
    in_both_configurations(|db, config| {
        for level in ["REPEATABLE READ", "SERIALIZABLE"] {
            for (what, change) in REVOCATIONS {
                let db = fixture(db.cluster());
                let context = format!("{config}, {level}, {what}");
                let revocable = token(REVOCABLE_KID, "bob", json!({}));
                let mut app = db.app();
                // Warm every cache, then hold a snapshot from before the revocation.
                set_context(&mut app, &revocable, Some("acme"))
                    .unwrap_or_else(|e| panic!("{context}: {}", error_text(&e)));
                assert_eq!(visible_boards(&mut app), 1, "{context}");
                exec(
                    &mut app,
                    &format!("BEGIN ISOLATION LEVEL {level}; SELECT 1"),
                );
                exec(&mut db.admin(), change);
                // The next statement: the context yields no tenant, the token no new context,
                // and what the reload read is not cached for later.
                assert_eq!(
                    visible_boards(&mut app),
                    0,
                    "{context}: rows after the revocation"
                );
                assert_eq!(current_tenant(&mut app), None, "{context}");
                exec(&mut app, "SAVEPOINT s");
                retry_refused(&mut app, &context, what, &revocable);
                exec(&mut app, "ROLLBACK TO SAVEPOINT s; COMMIT");
                exec(&mut app, "DISCARD ALL");
                retry_refused(&mut app, &context, what, &revocable);
                assert_eq!(visible_boards(&mut app), 0, "{context}: after COMMIT");
            }
        }
    });
}

// ---------------------------------------------------------------------------------------------
// Scenario 2: a statement that runs across the commit, READ COMMITTED autocommit
// ---------------------------------------------------------------------------------------------

#[test]
fn a_statement_running_across_a_revocation_caches_nothing_stale() {
    in_both_configurations(|db, config| {
        for (what, change) in REVOCATIONS {
            let db = fixture(db.cluster());
            let context = format!("{config}, {what}");
            let revocable = token(REVOCABLE_KID, "bob", json!({}));
            // A fresh connection: every cache is filled by the statement that spans the commit.
            let (mut app, _racing) = across_a_commit(
                &db,
                db.app(),
                revocable.clone(),
                Some("acme".into()),
                change,
            );
            // Whatever the racing statement answered, from the next statement on the revocation
            // holds in this backend.
            retry_refused(&mut app, &context, what, &revocable);
            assert_eq!(visible_boards(&mut app), 0, "{context}");
            assert_eq!(current_tenant(&mut app), None, "{context}");
            retry_refused(&mut app, &context, what, &revocable);
        }
    });
}

// ---------------------------------------------------------------------------------------------
// Scenario 3: a removed key inside a transaction
// ---------------------------------------------------------------------------------------------

#[test]
fn a_removed_key_stops_verifying_inside_an_open_transaction() {
    in_both_configurations(|db, config| {
        for level in ["READ COMMITTED", "REPEATABLE READ", "SERIALIZABLE"] {
            let db = fixture(db.cluster());
            let context = format!("{config}, {level}");
            let revocable = token(REVOCABLE_KID, "alice", json!({"tenant": "acme"}));
            let mut app = db.app();
            exec(&mut app, &format!("BEGIN ISOLATION LEVEL {level}"));
            set_context(&mut app, &revocable, None)
                .unwrap_or_else(|e| panic!("{context}: {}", error_text(&e)));
            exec(&mut db.admin(), "SELECT boards_jwt_remove_key('revocable')");
            // No table touched in between: the verified-token cache must not answer.
            assert_sqlstate_in(
                &context,
                set_context(&mut app, &revocable, None),
                TOKEN_REFUSED,
            );
            exec(&mut app, "ROLLBACK");
            // A token of a key still installed keeps working.
            let other = hs256("alice", json!({"tenant": "acme"}));
            set_context(&mut app, &other, None)
                .unwrap_or_else(|e| panic!("{context}: {}", error_text(&e)));
        }
    });
}

/// Role change and re-add: a member removed and added again is a new user row, so the old
/// context stays void; tenant reactivation brings a context back.
#[test]
fn revocation_acts_without_touching_a_relation_and_reactivation_restores() {
    in_both_configurations(|db, config| {
        let mut app = db.app();
        let alice = hs256("alice", json!({"tenant": "acme"}));
        set_context(&mut app, &alice, None)
            .unwrap_or_else(|e| panic!("{config}: {}", error_text(&e)));
        exec(&mut app, "BEGIN ISOLATION LEVEL REPEATABLE READ");
        assert_eq!(
            current_tenant(&mut app).as_deref(),
            Some("acme"),
            "{config}"
        );
        exec(
            &mut db.admin(),
            "SELECT * FROM boards_tenant_suspend('acme')",
        );
        // A statement that takes no lock at all.
        assert_eq!(current_tenant(&mut app), None, "{config}: after suspension");
        exec(
            &mut db.admin(),
            "SELECT * FROM boards_tenant_approve('acme')",
        );
        assert_eq!(
            current_tenant(&mut app).as_deref(),
            Some("acme"),
            "{config}: reactivated"
        );
        exec(&mut app, "COMMIT");

        let bob = hs256("bob", json!({}));
        set_context(&mut app, &bob, Some("acme"))
            .unwrap_or_else(|e| panic!("{config}: {}", error_text(&e)));
        exec(
            &mut db.admin(),
            "SELECT boards_tenant_remove_member('acme', 'bob');
             SELECT boards_tenant_add_member('acme', 'bob', 'admin');",
        );
        assert_eq!(
            current_tenant(&mut app),
            None,
            "{config}: removed and re-added"
        );
        assert_eq!(
            text(
                &mut app,
                "SELECT coalesce(boards_current_subject(), '')",
                &[]
            ),
            "bob",
            "{config}: the identity stays, the tenant goes"
        );
        set_context(&mut app, &bob, Some("acme"))
            .unwrap_or_else(|e| panic!("{config}: {}", error_text(&e)));
        assert_eq!(
            current_tenant(&mut app).as_deref(),
            Some("acme"),
            "{config}: new context"
        );
    });
}

/// A pooled connection serves many tenants in turn, and remembers each context it installed
/// (its text, its verdict, its row): every one is still answered for its own tenant only, and
/// a revocation reaches the remembered ones too.
#[test]
fn a_connection_serving_tenants_in_turn_keeps_them_apart_and_revokes_each() {
    in_both_configurations(|db, config| {
        let mut app = db.app();
        let alice = hs256("alice", json!({"tenant": "acme"}));
        let gina = hs256("gina", json!({"tenant": "globex"}));
        let bob = hs256("bob", json!({"tenant": "acme"}));
        let act_as = |app: &mut Client, token: &str, slug: &str, boards: i64, context: &str| {
            let rows = set_context(app, token, None)
                .unwrap_or_else(|e| panic!("{config}, {context}: {}", error_text(&e)));
            let returned: Option<String> = rows.first().and_then(|r| r.get(0));
            assert_eq!(
                returned.as_deref(),
                Some(slug),
                "{config}, {context}: the setter's row"
            );
            assert_eq!(
                current_tenant(app).as_deref(),
                Some(slug),
                "{config}, {context}"
            );
            assert_eq!(
                visible_boards(app),
                boards,
                "{config}, {context}: rows seen"
            );
        };
        for round in 0..3 {
            act_as(&mut app, &alice, "acme", 1, &format!("round {round}, acme"));
            act_as(
                &mut app,
                &gina,
                "globex",
                0,
                &format!("round {round}, globex"),
            );
            act_as(
                &mut app,
                &bob,
                "acme",
                1,
                &format!("round {round}, bob in acme"),
            );
        }
        act_as(&mut app, &alice, "acme", 1, "acme in force");
        // The suspension commits while the session's snapshot predates it.
        exec(&mut app, "BEGIN ISOLATION LEVEL REPEATABLE READ");
        assert_eq!(
            visible_boards(&mut app),
            1,
            "{config}: before acme's suspension"
        );
        exec(
            &mut db.admin(),
            "SELECT * FROM boards_tenant_suspend('acme')",
        );
        assert_eq!(
            current_tenant(&mut app),
            None,
            "{config}: acme's context in force"
        );
        assert_eq!(
            visible_boards(&mut app),
            0,
            "{config}: after acme's suspension"
        );
        act_as(
            &mut app,
            &gina,
            "globex",
            0,
            "globex after acme's suspension",
        );
        exec(&mut app, "COMMIT");
        assert_sqlstate(set_context(&mut app, &alice, None), NOT_ACTIVE);
        exec(
            &mut db.admin(),
            "SELECT * FROM boards_tenant_approve('acme')",
        );
        act_as(&mut app, &alice, "acme", 1, "acme approved again");
        act_as(&mut app, &bob, "acme", 1, "bob in force");
        exec(
            &mut db.admin(),
            "SELECT boards_tenant_remove_member('acme', 'bob')",
        );
        assert_eq!(
            current_tenant(&mut app),
            None,
            "{config}: a removed member's context"
        );
        assert_sqlstate(set_context(&mut app, &bob, None), ACCESS_DENIED);
        act_as(&mut app, &alice, "acme", 1, "alice after bob's removal");
        act_as(&mut app, &gina, "globex", 0, "globex after bob's removal");
    });
}

// ---------------------------------------------------------------------------------------------
// Scenario 4: memory bounded in bytes
// ---------------------------------------------------------------------------------------------

/// Private (anonymous) resident memory of a backend, in kB, as the kernel reports it: the
/// heap the caches live in, without the shared buffers the backend touched.
fn backend_rss_kb(app: &mut Client) -> i64 {
    let pid: i32 = app
        .query_one("SELECT pg_backend_pid()", &[])
        .map(|r| r.get(0))
        .unwrap_or(0);
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_else(|e| panic!("reading /proc/{pid}/status: {e}"));
    status
        .lines()
        .find_map(|l| l.strip_prefix("RssAnon:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no RssAnon in /proc/{pid}/status"))
}

#[test]
fn cache_memory_stops_at_the_budget() {
    in_both_configurations(|db, config| {
        let mut app = db.app();
        // Beyond the documented limits: a clear 22023, nothing cached.
        let long_subject = hs256(&"s".repeat(256), json!({"tenant": "acme"}));
        assert_sqlstate(
            set_context(&mut app, &long_subject, None),
            INVALID_PARAMETER,
        );
        let huge_claims = hs256("alice", json!({"tenant": "acme", "pad": "x".repeat(17000)}));
        assert_sqlstate(set_context(&mut app, &huge_claims, None), INVALID_PARAMETER);

        // 1 MB budget: subjects at their limit with claims near theirs. 1,500 of them is
        // about 22 MB of tokens; the caches keep at most their share of 1 MB.
        db.set("boards.cache_budget", "1MB");
        let mut app = db.app();
        assert_eq!(
            text(
                &mut app,
                "SELECT current_setting('boards.cache_budget')",
                &[]
            ),
            "1MB"
        );
        let pad = "p".repeat(15000);
        let mut rss = Vec::new();
        for round in 0..3 {
            for n in 0..500 {
                let subject = format!("{round}-{n}-{}", "u".repeat(240));
                let t = hs256(&subject, json!({"tenant": "acme", "pad": pad}));
                set_context(&mut app, &t, None)
                    .unwrap_or_else(|e| panic!("{config}: {}", error_text(&e)));
            }
            rss.push(backend_rss_kb(&mut app));
        }
        // After the first round the caches are full: further rounds must not grow the backend
        // by more than allocator noise (a fraction of one round's 7.5 MB of tokens).
        let growth = rss[2] - rss[0];
        eprintln!("{config}: backend RSS after each round of 500 tokens: {rss:?} kB");
        assert!(
            growth < 2048,
            "{config}: the backend grew by {growth} kB after its caches were full ({rss:?} kB)"
        );
    });
}

// ---------------------------------------------------------------------------------------------
// Scenario 5: a freed slug takes no token with it
// ---------------------------------------------------------------------------------------------

#[test]
fn a_freed_slug_never_carries_old_tokens_to_a_new_tenant() {
    in_both_configurations(|db, config| {
        let mut admin = db.admin();
        let mut app = db.app();
        exec(
            &mut admin,
            "SELECT * FROM boards_tenant_create('Dunder', 'dunder');
             SELECT boards_tenant_add_member('dunder', 'jim');",
        );
        // Issued a little while ago, still valid.
        let employee = mint(
            "HS256",
            &test_kid("HS256"),
            &json!({"sub": "jim", "tenant": "dunder", "iat": jwt::now() - 5, "exp": jwt::now() + 3600}),
        );
        set_context(&mut app, &employee, None)
            .unwrap_or_else(|e| panic!("{config}: {}", error_text(&e)));

        // Rename: the old slug is reserved; nobody can take it, the old token finds nothing.
        exec(
            &mut admin,
            "SELECT * FROM boards_tenant_update('dunder', new_slug => 'dunder-mifflin')",
        );
        let mut registrant = db.app();
        let who = hs256(
            "mallory",
            json!({"email": "m@evil.example", "email_verified": true}),
        );
        exec_authenticate(&mut registrant, &who);
        let msg = assert_sqlstate(register(&mut registrant, "dunder"), UNIQUE_VIOLATION);
        assert_eq!(msg, "slug is not available", "{config}");
        let msg = assert_sqlstate(
            admin.query("SELECT * FROM boards_tenant_create('Other', 'dunder')", &[]),
            UNIQUE_VIOLATION,
        );
        assert!(
            msg.starts_with("slug \"dunder\" is reserved"),
            "{config}: {msg}"
        );
        assert_sqlstate(set_context(&mut app, &employee, None), NOT_FOUND);

        // Released by an admin and re-created: a token issued before the new tenant existed
        // never joins it; one issued afterwards does; one without iat never does.
        assert!(admin
            .query_one("SELECT boards_tenant_release_slug('dunder')", &[])
            .map(|r| r.get::<_, bool>(0))
            .unwrap_or(false));
        let old = mint(
            "HS256",
            &test_kid("HS256"),
            &json!({"sub": "jim", "tenant": "dunder", "iat": jwt::now() - 120, "exp": jwt::now() + 3600}),
        );
        exec(
            &mut admin,
            "SELECT * FROM boards_tenant_create('New Dunder', 'dunder')",
        );
        assert_sqlstate(set_context(&mut app, &old, None), ACCESS_DENIED);
        assert_sqlstate(set_context(&mut app, &employee, None), ACCESS_DENIED);
        let no_iat = mint(
            "HS256",
            &test_kid("HS256"),
            &json!({"sub": "pam", "tenant": "dunder", "exp": jwt::now() + 3600}),
        );
        assert_sqlstate(set_context(&mut app, &no_iat, None), ACCESS_DENIED);
        let fresh = hs256("dwight", json!({"tenant": "dunder"}));
        set_context(&mut app, &fresh, None)
            .unwrap_or_else(|e| panic!("{config}: {}", error_text(&e)));

        // Rename back to its own former slug is fine; deletion reserves the slug again.
        exec(
            &mut admin,
            "SELECT * FROM boards_tenant_update('dunder-mifflin', new_slug => 'dm')",
        );
        exec(
            &mut admin,
            "SELECT * FROM boards_tenant_update('dm', new_slug => 'dunder-mifflin')",
        );
        exec(&mut admin, "SELECT * FROM boards_tenant_delete('dunder')");
        let msg = assert_sqlstate(register(&mut registrant, "dunder"), UNIQUE_VIOLATION);
        assert_eq!(msg, "slug is not available", "{config}");
        assert_sqlstate(set_context(&mut app, &fresh, None), NOT_FOUND);
        assert_eq!(
            count(
                &mut admin,
                "SELECT count(*) FROM boards.reserved_slugs WHERE slug IN ('dunder', 'dm')"
            ),
            2,
            "{config}"
        );
    });
}

fn exec_authenticate(app: &mut Client, token: &str) {
    app.query("SELECT boards_authenticate($1)", &[&token])
        .unwrap_or_else(|e| panic!("boards_authenticate: {}", error_text(&e)));
}

fn register(app: &mut Client, slug: &str) -> Result<Vec<Row>, postgres::Error> {
    app.query(
        "SELECT boards_tenant_register('Some Org', 'owner@org.example', organization_slug => $1, include_sample_data => false)",
        &[&slug],
    )
}

// ---------------------------------------------------------------------------------------------
// Scenario 6: registration reveals nothing
// ---------------------------------------------------------------------------------------------

#[test]
fn registration_answers_alike_for_every_unavailable_slug() {
    in_both_configurations(|db, config| {
        let mut admin = db.admin();
        exec(
            &mut admin,
            "SELECT * FROM boards_tenant_create('Sus', 'sus');
             SELECT * FROM boards_tenant_suspend('sus');
             SELECT * FROM boards_tenant_create('Pend', 'pend');
             SELECT * FROM boards_tenant_create('Gone', 'gone');
             SELECT * FROM boards_tenant_delete('gone');",
        );
        exec(
            &mut db.superuser(),
            "UPDATE boards.tenants SET status = 'pending_approval' WHERE slug = 'pend'",
        );
        let mut app = db.app();
        exec_authenticate(
            &mut app,
            &hs256(
                "prober",
                json!({"email": "p@prober.example", "email_verified": true}),
            ),
        );
        let mut answers = Vec::new();
        for slug in ["acme", "sus", "pend", "gone"] {
            exec(&mut app, "BEGIN");
            let err = register(&mut app, slug)
                .err()
                .unwrap_or_else(|| panic!("{config}: {slug} was registered"));
            let db_err = err
                .as_db_error()
                .cloned()
                .unwrap_or_else(|| panic!("{config}: {err}"));
            answers.push((
                db_err.code().code().to_owned(),
                db_err.message().to_owned(),
                db_err.detail().map(str::to_owned),
                db_err.hint().map(str::to_owned),
            ));
            exec(&mut app, "ROLLBACK");
        }
        assert!(
            answers.windows(2).all(|w| w[0] == w[1]),
            "{config}: answers differ: {answers:?}"
        );
        assert_eq!(answers[0].0, UNIQUE_VIOLATION, "{config}");
        assert_eq!(answers[0].1, "slug is not available", "{config}");
        // Success: the same keys whatever exists elsewhere.
        let row = register(&mut app, "fresh-org")
            .unwrap_or_else(|e| panic!("{config}: {}", error_text(&e)));
        let body: Value = row[0].get::<_, postgres::types::Json<Value>>(0).0;
        let mut keys: Vec<String> = body
            .as_object()
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default();
        keys.sort();
        let expected = [
            "api_access",
            "dashboard_url",
            "next_steps",
            "organization_name",
            "status",
            "tenant_id",
            "tenant_slug",
        ];
        assert_eq!(keys, expected.map(String::from).to_vec(), "{config}");
        assert_eq!(body["tenant_slug"], "fresh-org", "{config}");
        assert_eq!(body["status"], "active", "{config}");
    });
}

// ---------------------------------------------------------------------------------------------
// Scenario 7: the materialized-view guard on every path
// ---------------------------------------------------------------------------------------------

#[test]
fn no_materialized_view_is_filled_under_a_tenant_context() {
    in_both_configurations(|db, config| {
        exec(
            &mut db.superuser(),
            "CREATE SCHEMA scratch AUTHORIZATION boards_app;",
        );
        let mut app = db.app();
        exec(
            &mut app,
            "CREATE FUNCTION scratch.titles_sql() RETURNS SETOF text LANGUAGE sql STABLE
                 AS 'SELECT title FROM boards.boards';
             CREATE FUNCTION scratch.titles_plpgsql() RETURNS SETOF text LANGUAGE plpgsql STABLE
                 AS $$ BEGIN RETURN QUERY EXECUTE 'SELECT title FROM boards.boards'; END $$;
             CREATE VIEW scratch.v AS SELECT title FROM boards.boards;
             CREATE VIEW scratch.fv AS SELECT * FROM scratch.titles_sql() t;",
        );
        let alice = hs256("alice", json!({"tenant": "acme"}));
        set_context(&mut app, &alice, None)
            .unwrap_or_else(|e| panic!("{config}: {}", error_text(&e)));
        for (n, query) in [
            "SELECT title FROM boards.boards",
            "SELECT * FROM scratch.v",
            "SELECT * FROM scratch.titles_sql() t",
            "SELECT * FROM scratch.titles_plpgsql() t",
            "SELECT * FROM scratch.fv",
        ]
        .iter()
        .enumerate()
        {
            assert_sqlstate_in(
                &format!("{config}: {query}"),
                app.batch_execute(&format!("CREATE MATERIALIZED VIEW scratch.m{n} AS {query}")),
                ACCESS_DENIED,
            );
        }
        // Filled without a context: the functions see no tenant's rows. Refreshing it, or a
        // view over it, under a context is refused too.
        exec(&mut app, "SELECT boards_reset_tenant()");
        exec(
            &mut app,
            "CREATE MATERIALIZED VIEW scratch.empty AS SELECT * FROM scratch.titles_plpgsql() t",
        );
        assert_eq!(
            count(&mut app, "SELECT count(*) FROM scratch.empty"),
            0,
            "{config}"
        );
        set_context(&mut app, &alice, None)
            .unwrap_or_else(|e| panic!("{config}: {}", error_text(&e)));
        assert_sqlstate_in(
            config,
            app.batch_execute("REFRESH MATERIALIZED VIEW scratch.empty"),
            ACCESS_DENIED,
        );
        assert_sqlstate_in(
            config,
            app.batch_execute("CREATE MATERIALIZED VIEW scratch.mm AS SELECT * FROM scratch.empty"),
            ACCESS_DENIED,
        );
        assert_eq!(
            count(&mut app, "SELECT count(*) FROM scratch.empty"),
            0,
            "{config}"
        );
    });
}

// ---------------------------------------------------------------------------------------------
// Concurrency: 8 sessions in all three isolation levels against an admin revoking in a loop
// ---------------------------------------------------------------------------------------------

/// The admin's loop: each change and what holds after it (key installed, acme active, bob a
/// member).
const ADMIN_LOOP: &[(&str, [bool; 3])] = &[
    (
        "SELECT boards_jwt_remove_key('revocable')",
        [false, true, true],
    ),
    (
        "SELECT boards_jwt_add_key('revocable', 'HS256', '{SECRET}')",
        [true, true, true],
    ),
    (
        "SELECT * FROM boards_tenant_suspend('acme')",
        [true, false, true],
    ),
    (
        "SELECT * FROM boards_tenant_approve('acme')",
        [true, true, true],
    ),
    (
        "SELECT boards_tenant_remove_member('acme', 'bob')",
        [true, true, false],
    ),
    (
        "SELECT boards_tenant_add_member('acme', 'bob')",
        [true, true, true],
    ),
];

/// What one session saw after one admin commit, when it was wrong.
fn session_round(
    app: &mut Client,
    revocable: &str,
    usable: bool,
    in_transaction: bool,
    round: &str,
) -> Vec<String> {
    let mut wrong = Vec::new();
    fn probe(app: &mut Client, wrong: &mut Vec<String>, round: &str, sql: &str) -> Option<String> {
        match app.query_one(sql, &[]) {
            Ok(row) => row.get(0),
            Err(e) => {
                wrong.push(format!("{round}: {sql}: {}", error_text(&e)));
                None
            }
        }
    }
    // The next statement after the commit: a revoked state yields no tenant and no rows.
    let tenant = probe(
        app,
        &mut wrong,
        round,
        "SELECT boards_current_tenant_slug()",
    );
    let rows = probe(
        app,
        &mut wrong,
        round,
        "SELECT count(*)::text FROM boards.boards",
    );
    if !usable && (tenant.is_some() || rows.as_deref() != Some("0")) {
        wrong.push(format!(
            "{round}: the old state was seen: tenant {tenant:?}, {rows:?} rows"
        ));
    }
    // Setting the context again: refused while revoked, granted once restored (inside a
    // transaction, under a savepoint, so that a refusal does not end it).
    let set = if in_transaction {
        let set = app
            .batch_execute("SAVEPOINT attempt")
            .and_then(|()| set_context(app, revocable, Some("acme")));
        let release = if set.is_ok() {
            "RELEASE SAVEPOINT attempt"
        } else {
            "ROLLBACK TO SAVEPOINT attempt"
        };
        if let Err(e) = app.batch_execute(release) {
            wrong.push(format!("{round}: {release}: {}", error_text(&e)));
        }
        set
    } else {
        set_context(app, revocable, Some("acme"))
    };
    match (usable, set) {
        (true, Err(e)) => wrong.push(format!(
            "{round}: refused after the restore: {}",
            error_text(&e)
        )),
        (false, Ok(_)) => wrong.push(format!("{round}: a context was set while revoked")),
        _ => {}
    }
    if usable {
        let tenant = probe(
            app,
            &mut wrong,
            round,
            "SELECT boards_current_tenant_slug()",
        );
        if tenant.as_deref() != Some("acme") {
            wrong.push(format!("{round}: the restored context reads {tenant:?}"));
        }
    }
    wrong
}

#[test]
fn eight_sessions_never_see_a_revoked_state_after_the_commit() {
    const SESSIONS: usize = 8;
    const CYCLES: usize = 2;
    in_both_configurations(|db, config| {
        let revocable = token(REVOCABLE_KID, "bob", json!({}));
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(SESSIONS + 1));
        let levels = ["READ COMMITTED", "REPEATABLE READ", "SERIALIZABLE"];
        let sessions: Vec<_> = (0..SESSIONS)
            .map(|n| {
                let mut app = db.app();
                let barrier = std::sync::Arc::clone(&barrier);
                let revocable = revocable.clone();
                let level = levels[n % levels.len()];
                let config = config.to_owned();
                thread::spawn(move || {
                    let mut wrong = Vec::new();
                    if let Err(e) = set_context(&mut app, &revocable, Some("acme")) {
                        wrong.push(format!("session {n}: initial context: {}", error_text(&e)));
                    }
                    // Half the sessions hold one transaction (and, above READ COMMITTED, one
                    // snapshot) open through every round; the others run in autocommit.
                    let in_transaction = n % 2 == 0;
                    if in_transaction {
                        if let Err(e) =
                            app.batch_execute(&format!("BEGIN ISOLATION LEVEL {level}; SELECT 1"))
                        {
                            wrong.push(format!("session {n}: BEGIN: {}", error_text(&e)));
                        }
                    } else if let Err(e) = app.batch_execute(&format!(
                        "SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL {level}"
                    )) {
                        wrong.push(format!("session {n}: isolation: {}", error_text(&e)));
                    }
                    barrier.wait(); // every session is ready
                    for cycle in 0..CYCLES {
                        for (change, state) in ADMIN_LOOP {
                            barrier.wait(); // the admin has committed
                            let round =
                                format!(
                                "{config}, session {n} ({level}{}), cycle {cycle}, after {change}",
                                if in_transaction { ", in a transaction" } else { "" }
                            );
                            wrong.extend(session_round(
                                &mut app,
                                &revocable,
                                state.iter().all(|s| *s),
                                in_transaction,
                                &round,
                            ));
                            barrier.wait(); // every session has looked
                        }
                    }
                    if in_transaction {
                        let _ = app.batch_execute("COMMIT");
                    }
                    wrong
                })
            })
            .collect();
        let mut admin = db.admin();
        let secret = jwt::verification_material("HS256");
        barrier.wait();
        for _ in 0..CYCLES {
            for (change, _) in ADMIN_LOOP {
                exec(&mut admin, &change.replace("{SECRET}", &secret));
                barrier.wait();
                barrier.wait();
            }
        }
        let wrong: Vec<String> = sessions
            .into_iter()
            .flat_map(|s| {
                s.join()
                    .unwrap_or_else(|_| vec!["a session thread panicked".into()])
            })
            .collect();
        assert!(
            wrong.is_empty(),
            "{} wrong answers:\n{}",
            wrong.len(),
            wrong.join("\n")
        );
    });
}

// ---------------------------------------------------------------------------------------------
// Scenario 8: planner estimates, and the opt-in that drops a sensitive column's statistics
// ---------------------------------------------------------------------------------------------

/// The planner's row estimate for `SELECT * FROM public.secrets WHERE title = <title>`.
fn estimate(app: &mut Client, title: &str) -> f64 {
    let plan: Value = app
        .query_one(
            &format!(
                "EXPLAIN (FORMAT JSON) SELECT * FROM public.secrets WHERE title = {}",
                sql_literal(title)
            ),
            &[],
        )
        .map(|row| row.get::<_, postgres::types::Json<Value>>(0).0)
        .unwrap_or_else(|e| panic!("EXPLAIN: {}", error_text(&e)));
    plan[0]["Plan"]["Plan Rows"].as_f64().unwrap_or(-1.0)
}

fn statistics_findings(admin: &mut Client) -> i64 {
    count(
        admin,
        "SELECT count(*) FROM boards_tenant_audit() WHERE check_name = 'sensitive_column_statistics'",
    )
}

#[test]
fn sensitive_columns_lose_the_statistics_that_estimates_leak() {
    in_both_configurations(|db, config| {
        let mut su = db.superuser();
        exec(
            &mut su,
            "CREATE TABLE public.secrets (tenant_id uuid NOT NULL, id uuid NOT NULL DEFAULT gen_random_uuid(),
                                          title text NOT NULL, PRIMARY KEY (tenant_id, id));
             GRANT SELECT ON public.secrets TO boards_app;
             INSERT INTO public.secrets (tenant_id, title)
             SELECT t.id, CASE WHEN t.slug = 'globex' THEN 'globex merger plan' ELSE 'acme note ' || g END
             FROM boards.tenants t, generate_series(1, 300) g WHERE t.slug IN ('acme', 'globex');
             ANALYZE public.secrets;",
        );
        let mut app = db.app();
        set_context(&mut app, &hs256("alice", json!({"tenant": "acme"})), None)
            .unwrap_or_else(|e| panic!("{config}: {}", error_text(&e)));
        // What RLS cannot hide: acme's estimate tells another tenant's real value from a guess.
        let real = estimate(&mut app, "globex merger plan");
        let guess = estimate(&mut app, "globex layoffs");
        assert!(
            real > 10.0 * guess,
            "{config}: estimates before: {real} vs {guess}"
        );

        let mut admin = db.admin();
        exec(
            &mut admin,
            "SELECT boards_tenant_protect('public.secrets', sensitive_columns => ARRAY['title'])",
        );
        exec(&mut su, "ANALYZE public.secrets");
        let real = estimate(&mut app, "globex merger plan");
        let guess = estimate(&mut app, "globex layoffs");
        assert_eq!(real, guess, "{config}: estimates after, and after ANALYZE");
        assert_eq!(statistics_findings(&mut admin), 0, "{config}");
        assert_sqlstate(
            admin.query(
                "SELECT boards_tenant_protect('public.secrets', sensitive_columns => ARRAY['nope'])",
                &[],
            ),
            INVALID_PARAMETER,
        );

        // Statistics back: the audit says so.
        exec(
            &mut su,
            "ALTER TABLE public.secrets ALTER COLUMN title SET STATISTICS -1; ANALYZE public.secrets",
        );
        assert_eq!(statistics_findings(&mut admin), 1, "{config}");
    });
}
