//! Every deployment configuration fails closed: with and without `shared_preload_libraries`,
//! after a careless `GRANT` on the extension's tables, in read-only transactions.
//!
//! Without preload, PostgreSQL lets a client's startup options knock database-level
//! `boards.*` settings back to their defaults (the library defines them too late to keep the
//! database's value), so there every function that sets or reads a tenant context refuses
//! with 55000. Each setting attack runs against both configurations and asserts what the
//! attacker ends up with: the database's value, or no context at all.

use boards_tenant_harness::jwt::{self, mint, test_kid};
use boards_tenant_harness::postgres::types::ToSql;
use boards_tenant_harness::postgres::Client;
use boards_tenant_harness::{Cluster, ClusterOptions, TestDb, APP_ROLE};
use boards_tenant_tests::settings::SETTINGS;
use boards_tenant_tests::{
    assert_sqlstate_in, column, count, db_error, error_text, exec, query_text, set_context,
    try_context,
};
use serde_json::json;

// SQLSTATE object_not_in_prerequisite_state: what every context function answers without
// preload.
use boards_tenant_tests::sqlstate::OBJECT_NOT_IN_PREREQUISITE_STATE as NOT_PRELOADED;
// SQLSTATE read_only_sql_transaction.
use boards_tenant_tests::sqlstate::READ_ONLY_SQL_TRANSACTION as READ_ONLY;
// SQLSTATE insufficient_privilege.
use boards_tenant_tests::sqlstate::INSUFFICIENT_PRIVILEGE as PERMISSION_DENIED;
use boards_tenant_tests::sqlstate::LOCK_NOT_AVAILABLE;

fn unpreloaded() -> Cluster {
    Cluster::start(ClusterOptions {
        preload: false,
        ..Default::default()
    })
}

/// A database whose every `boards.*` setting is set at database level, as an operator would,
/// to a value other than its default; keys and a tenant `acme` with member `alice`.
fn configured(cluster: &Cluster) -> TestDb<'_> {
    let db = cluster.create_database();
    jwt::install_test_keys(&mut db.admin());
    exec(
        &mut db.admin(),
        "SELECT * FROM boards_tenant_create('Acme', 'acme');
         SELECT boards_tenant_add_member('acme', 'alice', 'owner')",
    );
    for setting in SETTINGS.iter().filter(|s| s.name != "boards.context") {
        db.set(setting.name, setting.forged);
    }
    db
}

/// Tokens the database-level settings decide about: `jwt_issuer` and `jwt_audience` are set
/// to the `forged` values of the settings table.
fn token(claims: serde_json::Value) -> String {
    mint("HS256", &test_kid("HS256"), &claims)
}

fn good_claims() -> serde_json::Value {
    json!({"iat": jwt::now(), "sub": "alice", "tenant": "acme", "iss": "https://evil.example", "aud": "evil",
           "exp": jwt::now() + 600})
}

/// What a context function answers in this connection: `Ok` with the tenant slug, or the
/// SQLSTATE of its refusal.
fn resolve(conn: &mut Client, claims: serde_json::Value) -> Result<String, String> {
    conn.query_one(
        "SELECT tenant_slug FROM boards_set_tenant_from_jwt($1, is_local => true)",
        &[&token(claims)],
    )
    .map(|row| row.get::<_, String>(0))
    .map_err(|e| {
        e.as_db_error()
            .map(|db| db.code().code().to_owned())
            .unwrap_or_else(|| e.to_string())
    })
}

/// After an attack on `name` in `conn`: with preload the database's value is in force; without,
/// whatever the value is, every context function refuses.
#[track_caller]
fn assert_fails_closed(
    conn: &mut Client,
    preloaded: bool,
    name: &str,
    database_value: &str,
    how: &str,
) {
    if preloaded {
        let value = query_text(
            conn,
            "SELECT setting FROM pg_catalog.pg_settings WHERE name = $1",
            &[&name],
        );
        assert_eq!(
            value.as_deref(),
            Some(database_value),
            "{how}: {name} is not the database's value"
        );
        return;
    }
    assert_eq!(
        resolve(conn, good_claims()),
        Err(NOT_PRELOADED.to_owned()),
        "{how}: a context function acted without preload"
    );
    for reader in [
        "boards_current_tenant()::text",
        "boards_current_tenant_slug()",
        "boards_current_subject()",
        "boards_current_claims()::text",
        "boards_current_user_id()::text",
        "boards_tenant_registration_status()::text",
    ] {
        let result = conn.query_one(&format!("SELECT {reader}"), &[]);
        assert_sqlstate_in(&format!("{how}: {reader}"), result, NOT_PRELOADED);
    }
}

/// Every way the app role could try to replace a database-level setting, in a new connection
/// each, against one configuration.
fn every_setting_attack(cluster: &Cluster, preloaded: bool) {
    let db = configured(cluster);
    for setting in SETTINGS.iter().filter(|s| s.name != "boards.context") {
        let (name, database_value, other) = (setting.name, setting.forged, setting.other);
        let shown_database_value = database_value.to_owned();
        let how = |what: &str| {
            format!(
                "{} cluster, {name}: {what}",
                if preloaded {
                    "preloaded"
                } else {
                    "unpreloaded"
                }
            )
        };

        // The startup packet (PGOPTIONS): refused at connection with preload; without, the
        // connection opens and the value is dropped at load, taking the database's with it.
        match db.connect(APP_ROLE, Some(&format!("-c {name}={other}"))) {
            Ok(mut conn) => {
                assert!(!preloaded, "{}", how("a startup option was accepted"));
                assert_fails_closed(
                    &mut conn,
                    preloaded,
                    name,
                    &shown_database_value,
                    &how("startup option"),
                );
            }
            Err(e) => {
                assert!(
                    preloaded,
                    "{}: {}",
                    how("connection refused"),
                    error_text(&e)
                );
                assert_sqlstate_in(&how("startup option"), Err::<(), _>(e), PERMISSION_DENIED);
            }
        }

        // SET, set_config, RESET and ALTER ROLE ... SET as the session's first statements,
        // before anything loads the library (a placeholder without preload).
        for attack in [
            format!("SET {name} = '{other}'"),
            format!("SELECT set_config('{name}', '{other}', false)"),
            format!("RESET {name}"),
            format!("ALTER ROLE {APP_ROLE} SET {name} = '{other}'"),
        ] {
            let mut conn = db.app();
            let outcome = conn.batch_execute(&attack);
            if preloaded || attack.starts_with("ALTER ROLE") {
                assert!(
                    outcome.is_err(),
                    "{}",
                    how(&format!("{attack} was accepted"))
                );
            }
            assert_fails_closed(
                &mut conn,
                preloaded,
                name,
                &shown_database_value,
                &how(&attack),
            );
        }
        // A role-level setting the attack would have stored reaches no later connection.
        let mut conn = db.app();
        assert_fails_closed(
            &mut conn,
            preloaded,
            name,
            &shown_database_value,
            &how("next connection"),
        );
    }
}

#[test]
fn every_setting_attack_fails_closed_with_preload() {
    every_setting_attack(Cluster::shared(), true);
}

#[test]
fn every_setting_attack_fails_closed_without_preload() {
    every_setting_attack(&unpreloaded(), false);
}

/// The two attacks of the report, end to end: with the database in multi-tenant mode, a
/// token naming no tenant must not land in `default`; with `jwt_issuer` set, a token of
/// another issuer must not verify — whatever the connection passes at startup.
fn reported_attacks(cluster: &Cluster, preloaded: bool) {
    let db = configured(cluster);
    let no_tenant = json!({"iat": jwt::now(), "sub": "bob", "iss": "https://evil.example", "aud": "evil",
                           "exp": jwt::now() + 600});
    let other_issuer = json!({"iat": jwt::now(), "sub": "alice", "tenant": "acme", "iss": "https://other.example",
                              "aud": "evil", "exp": jwt::now() + 600});
    let mut plain = db.app();
    if preloaded {
        assert_eq!(resolve(&mut plain, good_claims()), Ok("acme".to_owned()));
        assert_eq!(
            resolve(&mut plain, no_tenant.clone()),
            Err("22004".to_owned())
        );
        assert_eq!(
            resolve(&mut plain, other_issuer.clone()),
            Err("28000".to_owned())
        );
    } else {
        assert_eq!(
            resolve(&mut plain, good_claims()),
            Err(NOT_PRELOADED.to_owned())
        );
    }
    for options in [
        "-c boards.multi_tenant_mode=off",
        "-c boards.jwt_issuer=https://other.example",
        "-c boards.jwt_issuer=",
    ] {
        match db.connect(APP_ROLE, Some(options)) {
            Ok(mut conn) => {
                assert!(!preloaded, "{options} accepted with preload");
                for claims in [no_tenant.clone(), other_issuer.clone(), good_claims()] {
                    assert_eq!(
                        resolve(&mut conn, claims),
                        Err(NOT_PRELOADED.to_owned()),
                        "{options}"
                    );
                }
            }
            Err(e) => {
                assert!(preloaded, "{options}: {}", error_text(&e));
                assert_sqlstate_in(options, Err::<(), _>(e), PERMISSION_DENIED);
            }
        }
    }
}

#[test]
fn the_reported_attacks_fail_with_preload() {
    reported_attacks(Cluster::shared(), true);
}

#[test]
fn the_reported_attacks_fail_without_preload() {
    reported_attacks(&unpreloaded(), false);
}

#[test]
fn without_preload_the_refusal_says_how_to_fix_it() {
    let cluster = unpreloaded();
    let db = configured(&cluster);
    let mut app = db.app();
    let e = db_error(
        "context without preload",
        try_context(&mut app, &token(good_claims()), None),
        NOT_PRELOADED,
    );
    assert_eq!(e.code().code(), NOT_PRELOADED);
    assert!(
        e.message().contains("shared_preload_libraries"),
        "{}",
        e.message()
    );
    let hint = e.hint().unwrap_or_default();
    assert!(
        hint.contains("shared_preload_libraries = 'boards_tenant'"),
        "hint: {hint}"
    );
    // Registration and the isolation check read the context and the settings too.
    let register = app.query_one(
        "SELECT boards_tenant_register('New Co', 'a@new.example')",
        &[],
    );
    assert_sqlstate_in("registration", register, NOT_PRELOADED);
    let isolation = app.query_one(
        "SELECT boards_ensure_tenant_isolation(gen_random_uuid(), gen_random_uuid(), 'board')",
        &[],
    );
    assert_sqlstate_in("isolation check", isolation, NOT_PRELOADED);
}

/// The grant many DBAs type, and what it must not give the app role.
#[test]
fn a_broad_grant_exposes_no_key_material_and_no_bookkeeping() {
    let db = configured(Cluster::shared());
    let mut su = db.superuser();
    exec(
        &mut su,
        "GRANT ALL ON ALL TABLES IN SCHEMA boards TO boards_app;
         GRANT SELECT (material) ON boards.jwt_keys TO boards_app;",
    );
    let mut app = db.app();
    for attack in [
        "SELECT material FROM boards.jwt_keys",
        "SELECT count(*) FROM boards.protected_tables",
        "INSERT INTO boards.jwt_keys (kid, alg, format, material) VALUES ('mine', 'HS256', 'secret', 'x')",
        "DELETE FROM boards.protected_tables",
        "TRUNCATE boards.tenants CASCADE",
        "TRUNCATE boards.jwt_keys",
        "INSERT INTO boards.users (tenant_id, auth_subject, role) SELECT id, 'mallory', 'owner' FROM boards.tenants",
        "UPDATE boards.users SET role = 'owner'",
        "CREATE TRIGGER steal AFTER INSERT ON boards.jwt_keys FOR EACH ROW EXECUTE FUNCTION pg_catalog.suppress_redundant_updates_trigger()",
    ] {
        let result = app.batch_execute(attack);
        assert_sqlstate_in(attack, result, PERMISSION_DENIED);
    }
    let held = column(&mut db.admin(), "SELECT check_name FROM boards_tenant_audit() WHERE check_name = 'extension_table_privilege_granted'");
    assert!(held.is_empty(), "the guard left grants behind: {held:?}");
}

/// Event triggers do not fire with `session_replication_role = replica`: a grant made that way
/// stays, and then row-level security is the wall, and the audit names the grant.
#[test]
fn a_grant_the_guard_never_saw_still_exposes_no_key_and_the_audit_reports_it() {
    let db = configured(Cluster::shared());
    exec(
        &mut db.superuser(),
        "SET session_replication_role = replica;
         GRANT SELECT, INSERT, UPDATE, DELETE ON boards.jwt_keys, boards.protected_tables TO boards_app;",
    );
    let mut app = db.app();
    assert_eq!(count(&mut app, "SELECT count(*) FROM boards.jwt_keys"), 0);
    assert_eq!(
        count(&mut app, "SELECT count(*) FROM boards.protected_tables"),
        0
    );
    let insert = app.batch_execute(
        "INSERT INTO boards.jwt_keys (kid, alg, format, material) VALUES ('mine', 'HS256', 'secret', 'x')",
    );
    assert_sqlstate_in("INSERT past the guard", insert, PERMISSION_DENIED);
    exec(
        &mut app,
        "UPDATE boards.jwt_keys SET material = 'x'; DELETE FROM boards.jwt_keys",
    );
    assert_eq!(
        count(&mut db.superuser(), "SELECT count(*) FROM boards.jwt_keys"),
        jwt::ALGORITHMS.len() as i64,
        "the app role changed keys"
    );
    let findings = column(
        &mut db.admin(),
        "SELECT severity || ' ' || object_name FROM boards_tenant_audit()
         WHERE check_name = 'extension_table_privilege_granted' ORDER BY 1",
    );
    assert_eq!(findings.len(), 8, "{findings:?}");
    assert!(
        findings.iter().all(|f| f.starts_with("critical ")),
        "{findings:?}"
    );
    // The admin role still reads its keys.
    assert!(count(&mut db.admin(), "SELECT count(*) FROM boards.jwt_keys") > 0);
}

/// The servers of every test run with `RUST_BACKTRACE=1` (the harness sets it), under which
/// pgrx appends a Rust backtrace to the DETAIL of each PostgreSQL error it catches inside the
/// extension and raises again. A lock timeout inside one of the extension's own queries is such
/// an error: the client gets PostgreSQL's message and no DETAIL, with and without preload.
fn errors_inside_the_extension_carry_no_backtrace(cluster: &Cluster, preloaded: bool) {
    let db = cluster.create_database();
    jwt::install_test_keys(&mut db.admin());
    let mut holder = db.superuser();
    exec(
        &mut holder,
        "BEGIN; LOCK TABLE boards.jwt_keys IN ACCESS EXCLUSIVE MODE",
    );
    // A tenant's request in a new backend: verifying reads the key table first. Without
    // preload the setter refuses before any query (55000), with its own texts only.
    let mut app = db.app();
    exec(&mut app, "SET lock_timeout = '100ms'");
    let token = mint(
        "HS256",
        &test_kid("HS256"),
        &json!({"iat": jwt::now(), "sub": "alice", "exp": jwt::now() + 600}),
    );
    let expected = if preloaded {
        LOCK_NOT_AVAILABLE
    } else {
        NOT_PRELOADED
    };
    let e = db_error(
        "boards_set_tenant_from_jwt while boards.jwt_keys is locked",
        try_context(&mut app, &token, None),
        expected,
    );
    assert_eq!(e.code().code(), expected, "{}", e.message());
    assert!(
        !format!("{e:?}").contains("pgrx") && !format!("{e:?}").contains("backtrace"),
        "the tenant's error carries a backtrace: {e:?}"
    );
    if preloaded {
        assert_eq!(e.detail(), None, "a DETAIL reached the tenant");
    }
    // An admin function (Rust) in a new backend reads the key table with SPI.
    let mut admin = db.admin();
    exec(&mut admin, "SET lock_timeout = '100ms'");
    let e = db_error(
        "boards_jwt_keys() while boards.jwt_keys is locked",
        admin.query("SELECT * FROM boards_jwt_keys()", &[]),
        LOCK_NOT_AVAILABLE,
    );
    assert_eq!(e.code().code(), LOCK_NOT_AVAILABLE, "{}", e.message());
    assert_eq!(e.detail(), None, "a DETAIL reached the client");
    assert!(
        !format!("{e:?}").contains("pgrx"),
        "the error names pgrx: {e:?}"
    );
    exec(&mut holder, "ROLLBACK");
    assert!(count(&mut admin, "SELECT count(*) FROM boards_jwt_keys()") > 0);
}

#[test]
fn errors_inside_the_extension_carry_no_backtrace_with_preload() {
    errors_inside_the_extension_carry_no_backtrace(Cluster::shared(), true);
}

#[test]
fn errors_inside_the_extension_carry_no_backtrace_without_preload() {
    errors_inside_the_extension_carry_no_backtrace(&unpreloaded(), false);
}

/// Every path that writes refuses clearly in a read-only transaction (25006 with a hint);
/// what needs no write still works.
#[test]
fn writes_in_a_read_only_transaction_get_a_clear_error() {
    let db = Cluster::shared().create_database();
    db.set("boards.multi_tenant_mode", "on");
    jwt::install_test_keys(&mut db.admin());
    exec(
        &mut db.admin(),
        "SELECT * FROM boards_tenant_create('Acme', 'acme');
         SELECT boards_tenant_add_member('acme', 'alice', 'owner')",
    );
    exec(
        &mut db.superuser(),
        "CREATE TABLE public.accounts (account uuid NOT NULL, body text);
         CREATE TABLE public.legacy (id int PRIMARY KEY, body text);",
    );
    let newcomer = mint(
        "HS256",
        &test_kid("HS256"),
        &json!({"iat": jwt::now(), "sub": "newcomer", "tenant": "acme"}),
    );
    let alice = mint(
        "HS256",
        &test_kid("HS256"),
        &json!({"iat": jwt::now(), "sub": "alice", "tenant": "acme"}),
    );
    let registrant = mint(
        "HS256",
        &test_kid("HS256"),
        &json!({"iat": jwt::now(), "sub": "founder", "email": "founder@startup.example", "email_verified": true}),
    );
    let read_only = |conn: &mut Client, sql: &str, params: &[&(dyn ToSql + Sync)]| {
        exec(conn, "BEGIN READ ONLY");
        let result = conn.query(sql, params);
        let e = db_error(sql, result, READ_ONLY);
        exec(conn, "ROLLBACK");
        assert_eq!(e.code().code(), READ_ONLY, "{sql}: {}", e.message());
        assert!(
            e.hint().is_some_and(|h| h.contains("read-write")),
            "{sql}: hint {:?}",
            e.hint()
        );
    };

    let mut app = db.app();
    // A member needs no write: read-only is fine.
    exec(&mut app, "BEGIN READ ONLY");
    set_context(&mut app, &alice, None);
    assert_eq!(count(&mut app, "SELECT count(*) FROM boards.tenants"), 1);
    exec(&mut app, "ROLLBACK");
    // First-use membership and registration write.
    read_only(
        &mut app,
        "SELECT * FROM boards_set_tenant_from_jwt($1)",
        &[&newcomer],
    );
    read_only(
        &mut app,
        "SELECT boards_authenticate($1, true), boards_tenant_register('Startup', 'founder@startup.example')",
        &[&registrant],
    );
    let mut admin = db.admin();
    for sql in [
        "SELECT * FROM boards_tenant_create('Globex', 'globex')",
        "SELECT boards_tenant_add_member('acme', 'bob')",
        "SELECT boards_tenant_remove_member('acme', 'alice')",
        "SELECT * FROM boards_tenant_suspend('acme')",
        "SELECT * FROM boards_tenant_update('acme', 'Acme 2')",
        "SELECT * FROM boards_tenant_delete('acme')",
        "SELECT boards_jwt_remove_key('test-hs256')",
        "SELECT boards_jwt_add_key('k2', 'HS256', 'a-secret-that-is-long-enough-for-hs256-0123')",
        "SELECT boards_jwt_import_jwks('{\"keys\": [{\"kty\": \"oct\", \"kid\": \"k3\", \"alg\": \"HS256\", \"k\": \"c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldC0xMjM0\"}]}')",
        "SELECT boards_tenant_protect('public.accounts', 'account')",
        "SELECT boards_tenant_migrate_table('public.legacy')",
    ] {
        read_only(&mut admin, sql, &[]);
    }
    // default_transaction_read_only, as a replica's connection pool may set it.
    db.set("default_transaction_read_only", "on");
    let mut app = db.app();
    let e = db_error(
        "first use",
        try_context(&mut app, &newcomer, None),
        READ_ONLY,
    );
    assert_eq!(e.code().code(), READ_ONLY);
    set_context(&mut app, &alice, None);
    assert_eq!(count(&mut app, "SELECT count(*) FROM boards.tenants"), 1);
}
