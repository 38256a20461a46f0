//! Read replicas: a hot standby of a cluster running the extension, used through the app role.
//! Every context path that needs no write works there; what needs a write gets 25006 with a
//! hint to go to the primary; suspension, deletion, member and key removal and key rotation
//! on the primary reach standby sessions by WAL replay; the audit runs there. No path gives
//! an internal error.

use boards_tenant_harness::jwt::{self, mint, test_kid};
use boards_tenant_harness::postgres::Client;
use boards_tenant_harness::{Cluster, TestDb, ADMIN_ROLE, APP_ROLE};
use boards_tenant_tests::{count, db_error, error_text, exec, set_context, try_context};
use serde_json::json;

// SQLSTATE read_only_sql_transaction.
use boards_tenant_tests::sqlstate::READ_ONLY_SQL_TRANSACTION as READ_ONLY;

fn token(subject: &str, tenant: &str) -> String {
    mint(
        "HS256",
        &test_kid("HS256"),
        &json!({"iat": jwt::now(), "sub": subject, "tenant": tenant, "exp": jwt::now() + 3600}),
    )
}

/// A primary database with two tenants (owners `acme-owner`, `globex-owner`, a board each)
/// and a standby that has replayed it.
struct Replicated {
    primary: &'static Cluster,
    standby: Cluster,
    db: TestDb<'static>,
}

impl Replicated {
    fn new() -> Replicated {
        let primary = Cluster::shared();
        let db = primary.create_database();
        let mut admin = db.admin();
        jwt::install_test_keys(&mut admin);
        let mut app = db.app();
        for slug in ["acme", "globex"] {
            exec(
                &mut admin,
                &format!(
                    "SELECT * FROM boards_tenant_create('{slug}', '{slug}');
                     SELECT boards_tenant_add_member('{slug}', '{slug}-owner', 'owner');
                     SELECT boards_tenant_add_member('{slug}', '{slug}-member', 'member');"
                ),
            );
            set_context(&mut app, &token(&format!("{slug}-owner"), slug), None);
            exec(
                &mut app,
                &format!("INSERT INTO boards.boards (owner_id, title) VALUES (boards_current_user_id(), '{slug} board')"),
            );
        }
        let standby = primary.start_standby();
        standby.wait_for_replay(primary);
        Replicated {
            primary,
            standby,
            db,
        }
    }

    fn on_standby(&self, role: &str) -> Client {
        self.standby
            .connect_to(self.db.name(), role, None)
            .unwrap_or_else(|e| panic!("connecting to the standby as {role}: {}", error_text(&e)))
    }

    fn replay(&self) {
        self.standby.wait_for_replay(self.primary);
    }
}

/// The SQLSTATE of a failed result, which must not be an internal error.
#[track_caller]
fn sqlstate<T>(what: &str, result: Result<T, boards_tenant_harness::postgres::Error>) -> String {
    let e = db_error(what, result, "any");
    let code = e.code().code().to_owned();
    assert_ne!(code, "XX000", "{what}: internal error: {}", e.message());
    code
}

#[test]
fn members_work_on_a_standby_and_see_only_their_tenant() {
    let r = Replicated::new();
    let mut app = r.on_standby(APP_ROLE);
    assert!(
        r.standby
            .connect_to(r.db.name(), "postgres", None)
            .and_then(|mut c| c.query_one("SELECT pg_catalog.pg_is_in_recovery()", &[]))
            .map(|row| row.get::<_, bool>(0))
            .unwrap_or(false),
        "the standby is not in recovery"
    );
    let row = set_context(&mut app, &token("acme-owner", "acme"), None);
    assert_eq!(row.tenant_slug, "acme");
    let titles = boards_tenant_tests::column(&mut app, "SELECT title FROM boards.boards");
    assert_eq!(titles, vec!["acme board".to_owned()]);
    // Transaction scope, as behind a pooler.
    exec(&mut app, "BEGIN");
    app.query(
        "SELECT * FROM boards_set_tenant_from_jwt($1, is_local => true)",
        &[&token("globex-member", "globex")],
    )
    .unwrap_or_else(|e| panic!("{}", error_text(&e)));
    assert_eq!(count(&mut app, "SELECT count(*) FROM boards.boards"), 1);
    exec(&mut app, "COMMIT");
    // A member of acme naming globex in X-Tenant: refused as on the primary.
    let refused = try_context(&mut app, &token("acme-member", "acme"), Some("globex"));
    assert_eq!(sqlstate("foreign X-Tenant", refused), "42501");
}

#[test]
fn what_needs_a_write_gets_25006_and_a_hint_to_use_the_primary() {
    let r = Replicated::new();
    let mut app = r.on_standby(APP_ROLE);
    let first_use = try_context(&mut app, &token("newcomer", "acme"), None);
    let e = db_error("first use on a standby", first_use, READ_ONLY);
    assert_eq!(e.code().code(), READ_ONLY, "{}", e.message());
    assert!(
        e.hint().is_some_and(|h| h.contains("primary")),
        "hint: {:?}",
        e.hint()
    );
    // The newcomer joins on the primary, and then works on the standby after replay.
    set_context(&mut r.db.app(), &token("newcomer", "acme"), None);
    r.replay();
    let row = set_context(&mut app, &token("newcomer", "acme"), None);
    assert_eq!(row.tenant_slug, "acme");

    let mut admin = r.on_standby(ADMIN_ROLE);
    for sql in [
        "SELECT * FROM boards_tenant_create('Initech', 'initech')",
        "SELECT boards_tenant_add_member('acme', 'x')",
        "SELECT boards_tenant_remove_member('acme', 'acme-member')",
        "SELECT * FROM boards_tenant_suspend('acme')",
        "SELECT * FROM boards_tenant_delete('globex')",
        "SELECT boards_jwt_remove_key('test-hs256')",
    ] {
        assert_eq!(sqlstate(sql, admin.query(sql, &[])), READ_ONLY, "{sql}");
    }
    // Registration: multi-tenant mode is a database setting, replicated with the catalog.
    exec(
        &mut r.db.superuser(),
        &format!(
            "ALTER DATABASE {} SET boards.multi_tenant_mode = on",
            r.db.name()
        ),
    );
    r.replay();
    let mut app = r.on_standby(APP_ROLE);
    let registrant = mint(
        "HS256",
        &test_kid("HS256"),
        &json!({"iat": jwt::now(), "sub": "founder", "email": "founder@startup.example", "email_verified": true}),
    );
    let result = app.query(
        "SELECT boards_authenticate($1), boards_tenant_register('Startup', 'founder@startup.example')",
        &[&registrant],
    );
    assert_eq!(sqlstate("registration on a standby", result), READ_ONLY);
}

#[test]
fn revocations_on_the_primary_reach_standby_sessions_by_replay() {
    let r = Replicated::new();
    // Sessions on the standby that already used what is about to be revoked.
    let mut in_acme = r.on_standby(APP_ROLE);
    set_context(&mut in_acme, &token("acme-owner", "acme"), None);
    assert_eq!(count(&mut in_acme, "SELECT count(*) FROM boards.boards"), 1);
    let mut in_globex = r.on_standby(APP_ROLE);
    set_context(&mut in_globex, &token("globex-owner", "globex"), None);
    let es256 = mint(
        "ES256",
        &test_kid("ES256"),
        &json!({"iat": jwt::now(), "sub": "globex-member", "tenant": "globex"}),
    );
    let mut with_es256 = r.on_standby(APP_ROLE);
    set_context(&mut with_es256, &es256, None);

    let mut admin = r.db.admin();
    exec(
        &mut admin,
        "SELECT * FROM boards_tenant_suspend('acme');
         SELECT boards_jwt_remove_key('test-es256');",
    );
    r.replay();
    assert_eq!(
        count(&mut in_acme, "SELECT count(*) FROM boards.boards"),
        0,
        "a suspended tenant's session still reads its rows on the standby"
    );
    let again = try_context(&mut in_acme, &token("acme-owner", "acme"), None);
    assert_eq!(sqlstate("suspended tenant", again), "55000");
    let again = try_context(&mut with_es256, &es256, None);
    assert_eq!(sqlstate("removed key", again), "28000");

    // Rotation: a new key installed on the primary verifies on the standby after replay.
    exec(
        &mut admin,
        &format!(
            "SELECT boards_jwt_add_key('rotated-es256', 'ES256', '{}')",
            jwt::other_verification_material("ES256")
        ),
    );
    r.replay();
    let rotated = jwt::mint_with_other_key(
        "ES256",
        "rotated-es256",
        &json!({"iat": jwt::now(), "sub": "globex-member", "tenant": "globex"}),
    );
    assert_eq!(
        set_context(&mut with_es256, &rotated, None).tenant_slug,
        "globex"
    );

    // Deletion.
    exec(&mut admin, "SELECT * FROM boards_tenant_delete('globex')");
    r.replay();
    assert_eq!(
        count(&mut in_globex, "SELECT count(*) FROM boards.boards"),
        0
    );
    let again = try_context(&mut in_globex, &token("globex-owner", "globex"), None);
    assert_eq!(sqlstate("deleted tenant", again), "42704");
}

#[test]
fn the_audit_runs_on_a_standby() {
    let r = Replicated::new();
    let mut admin = r.on_standby(ADMIN_ROLE);
    let rows = admin
        .query(
            "SELECT check_name, severity FROM boards_tenant_audit()",
            &[],
        )
        .unwrap_or_else(|e| panic!("the audit on a standby: {}", error_text(&e)));
    assert!(
        rows.iter()
            .any(|row| row.get::<_, String>(0) == "tenant_statistics"),
        "the audit on the standby reported no statistics"
    );
    admin
        .query_one("SELECT boards_tenant_audit_json()", &[])
        .unwrap_or_else(|e| panic!("the audit document on a standby: {}", error_text(&e)));
}

/// Revocation that sticks: a removal, a demotion and a platform-wide block made on the primary end
/// (or lower) the contexts of standby sessions already set, from their next statement after
/// replay; a removed member's still-valid token gets no context on the standby either.
#[test]
fn removals_demotions_and_blocks_on_the_primary_reach_standby_sessions() {
    let r = Replicated::new();
    let mut admin = r.db.admin();
    exec(
        &mut admin,
        "SELECT boards_tenant_add_member('acme', 'acme-admin', 'admin');
         SELECT boards_tenant_add_member('globex', 'globex-admin', 'admin');",
    );
    r.replay();
    let role = |client: &mut Client| -> Option<String> {
        client
            .query_one("SELECT boards_current_role()", &[])
            .unwrap_or_else(|e| panic!("boards_current_role: {}", error_text(&e)))
            .get(0)
    };
    let mut member = r.on_standby(APP_ROLE);
    set_context(&mut member, &token("acme-member", "acme"), None);
    let mut demoted = r.on_standby(APP_ROLE);
    set_context(&mut demoted, &token("acme-admin", "acme"), None);
    let mut blocked = r.on_standby(APP_ROLE);
    set_context(&mut blocked, &token("globex-owner", "globex"), None);
    assert_eq!(role(&mut demoted).as_deref(), Some("admin"));
    assert_eq!(count(&mut blocked, "SELECT count(*) FROM boards.boards"), 1);

    exec(
        &mut admin,
        "SELECT boards_tenant_remove_member('acme', 'acme-member');
         SELECT boards_tenant_add_member('acme', 'acme-admin', 'member');
         SELECT boards_subject_block('globex-owner');",
    );
    r.replay();
    assert_eq!(role(&mut member), None);
    assert_eq!(role(&mut demoted).as_deref(), Some("member"));
    assert_eq!(
        count(&mut blocked, "SELECT count(*) FROM boards.boards"),
        0,
        "a blocked subject's standby session still reads its tenant's rows"
    );
    let again = try_context(&mut member, &token("acme-member", "acme"), None);
    assert_eq!(sqlstate("removed member", again), "42501");
    let again = try_context(&mut blocked, &token("globex-owner", "globex"), None);
    assert_eq!(sqlstate("blocked subject", again), "42501");
}
