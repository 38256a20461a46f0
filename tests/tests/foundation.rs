//! Foundation: the schema the extension creates, its settings and who may change them, and who
//! may read its bookkeeping.

use boards_tenant_core::TenantStatus;
use boards_tenant_harness::{Cluster, TestDb, ADMIN_ROLE, APP_ROLE};
use boards_tenant_tests::settings::{Expected, Setting, HIDDEN_SETTINGS, SETTINGS};
use boards_tenant_tests::{
    assert_sqlstate, assert_sqlstate_in, error_text, query_text, server_version_num,
};

// SQLSTATE insufficient_privilege.
use boards_tenant_tests::sqlstate::INSUFFICIENT_PRIVILEGE as PERMISSION_DENIED;
// SQLSTATE invalid_name: what a name under a reserved prefix gets.
use boards_tenant_tests::sqlstate::INVALID_NAME;

fn shared_db() -> TestDb<'static> {
    Cluster::shared().create_database()
}

#[test]
fn schema_boards_has_the_tables_and_only_the_default_tenant() {
    let db = shared_db();
    let mut su = db.superuser();
    let tables: Vec<String> = su
        .query(
            "SELECT c.relname::text FROM pg_catalog.pg_class c \
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = 'boards' AND c.relkind IN ('r', 'p') ORDER BY 1",
            &[],
        )
        .unwrap_or_else(|e| panic!("listing tables: {}", error_text(&e)))
        .iter()
        .map(|row| row.get(0))
        .collect();
    for table in [
        "tenants",
        "users",
        "boards",
        "board_members",
        "generations",
        "jwt_keys",
        "protected_tables",
    ] {
        assert!(
            tables.iter().any(|t| t == table),
            "boards.{table} is missing; schema boards has {tables:?}"
        );
    }

    let tenants: Vec<(String, String, String)> = su
        .query("SELECT id::text, slug, status FROM boards.tenants", &[])
        .unwrap_or_else(|e| panic!("reading boards.tenants: {}", error_text(&e)))
        .iter()
        .map(|row| (row.get(0), row.get(1), row.get(2)))
        .collect();
    assert_eq!(
        tenants,
        [(
            "00000000-0000-0000-0000-000000000000".to_owned(),
            "default".to_owned(),
            "active".to_owned()
        )],
        "a fresh database has exactly the default tenant"
    );
}

#[test]
fn content_tables_are_protected_out_of_the_box() {
    let db = shared_db();
    let mut su = db.superuser();
    let registered: Vec<String> = su
        .query("SELECT tbl::text FROM boards.protected_tables", &[])
        .unwrap_or_else(|e| panic!("reading boards.protected_tables: {}", error_text(&e)))
        .iter()
        .map(|row| row.get(0))
        .collect();
    for table in [
        "boards.boards",
        "boards.board_members",
        "boards.generations",
    ] {
        assert!(
            registered.iter().any(|t| t == table),
            "{table} is not registered as protected; registry: {registered:?}"
        );
        let (rls, forced): (bool, bool) = su
            .query_one(
                "SELECT relrowsecurity, relforcerowsecurity FROM pg_catalog.pg_class \
                 WHERE oid = $1::text::regclass",
                &[&table],
            )
            .map(|row| (row.get(0), row.get(1)))
            .unwrap_or_else(|e| panic!("reading pg_class of {table}: {}", error_text(&e)));
        assert!(rls && forced, "{table}: RLS enabled {rls}, forced {forced}");
    }
}

#[test]
fn every_setting_has_its_documented_default() {
    let db = shared_db();
    let mut su = db.superuser();
    // All wrong defaults at once, not just the first.
    let mut wrong = Vec::new();
    for setting in SETTINGS {
        let value =
            query_text(&mut su, "SELECT current_setting($1)", &[&setting.name]).unwrap_or_default();
        match setting.default {
            Expected::Is(expected) if value != expected => {
                wrong.push(format!(
                    "{} = {value:?}, documented {expected:?}",
                    setting.name
                ));
            }
            Expected::Is(_) => {}
            Expected::Contains(members) => {
                let list: Vec<&str> = value.split(',').map(str::trim).collect();
                for member in members.iter().filter(|m| !list.contains(m)) {
                    wrong.push(format!("{} = {value:?} lacks {member}", setting.name));
                }
            }
        }
    }
    assert!(wrong.is_empty(), "wrong defaults:\n{}", wrong.join("\n"));
}

#[test]
fn every_boards_setting_is_listed_here_and_superuser_only() {
    let db = shared_db();
    let mut su = db.superuser();
    let rows = su
        .query(
            "SELECT name, context FROM pg_catalog.pg_settings \
             WHERE name LIKE 'boards.%' ORDER BY name",
            &[],
        )
        .unwrap_or_else(|e| panic!("reading pg_settings: {}", error_text(&e)));
    let mut shown: Vec<String> = Vec::new();
    for row in &rows {
        let (name, context): (String, String) = (row.get(0), row.get(1));
        assert_eq!(
            context, "superuser",
            "{name} can be changed by non-superusers"
        );
        shown.push(name);
    }
    let mut documented: Vec<String> = SETTINGS
        .iter()
        .map(|s| s.name)
        .filter(|name| !HIDDEN_SETTINGS.contains(name))
        .map(str::to_owned)
        .collect();
    documented.sort();
    assert_eq!(
        shown, documented,
        "the settings in pg_settings and the list in this test differ: keep the list complete, \
         so every setting is covered by the tests below"
    );
}

/// Every way a session can change a setting, each of which a non-superuser must be refused.
fn assert_cannot_change(client: &mut postgres::Client, role: &str, setting: &Setting) {
    let (name, value) = (setting.name, setting.forged);
    let before = query_text(client, "SELECT current_setting($1)", &[&name]);

    let sql = format!("SET {name} = '{value}'");
    assert_sqlstate_in(
        &format!("{role}: {sql}"),
        client.batch_execute(&sql),
        PERMISSION_DENIED,
    );

    // SET LOCAL and set_config(..., true) only mean something inside a transaction; each
    // refusal aborts it, so every attempt gets its own (rolled back on drop).
    let sql = format!("SET LOCAL {name} = '{value}'");
    let mut tx = begin(client, role);
    assert_sqlstate_in(
        &format!("{role}: {sql}"),
        tx.batch_execute(&sql),
        PERMISSION_DENIED,
    );
    drop(tx);
    for is_local in [false, true] {
        let mut tx = begin(client, role);
        let result = tx.query_one("SELECT set_config($1, $2, $3)", &[&name, &value, &is_local]);
        let context = format!("{role}: set_config('{name}', '{value}', {is_local})");
        assert_sqlstate_in(&context, result, PERMISSION_DENIED);
    }

    let sql = format!("RESET {name}");
    assert_sqlstate_in(
        &format!("{role}: {sql}"),
        client.batch_execute(&sql),
        PERMISSION_DENIED,
    );

    let after = query_text(client, "SELECT current_setting($1)", &[&name]);
    assert_eq!(
        after, before,
        "{role}: {name} changed after refused attempts"
    );
}

fn begin<'a>(client: &'a mut postgres::Client, role: &str) -> postgres::Transaction<'a> {
    client
        .transaction()
        .unwrap_or_else(|e| panic!("{role}: BEGIN: {}", error_text(&e)))
}

#[test]
fn app_and_admin_roles_cannot_change_any_setting_in_session() {
    let db = shared_db();
    for (role, mut client) in [(APP_ROLE, db.app()), (ADMIN_ROLE, db.admin())] {
        for setting in SETTINGS {
            assert_cannot_change(&mut client, role, setting);
        }
    }
}

#[test]
fn app_role_cannot_pass_settings_in_the_startup_packet() {
    let db = shared_db();
    for setting in SETTINGS {
        let options = format!("-c {}={}", setting.name, setting.forged);
        let result = db.connect(APP_ROLE, Some(&options));
        let message = assert_sqlstate_in(&options, result, PERMISSION_DENIED);
        assert!(
            message.contains(setting.name),
            "refusal of {options:?} does not name the setting: {message}"
        );
    }
}

#[test]
fn app_role_cannot_alter_its_own_role_settings() {
    let db = shared_db();
    let mut app = db.app();
    for setting in SETTINGS {
        let sql = format!(
            "ALTER ROLE {APP_ROLE} SET {} = '{}'",
            setting.name, setting.forged
        );
        assert_sqlstate_in(&sql, app.batch_execute(&sql), PERMISSION_DENIED);
    }
}

#[test]
fn admin_role_can_read_the_bookkeeping_tables() {
    let db = shared_db();
    let mut admin = db.admin();
    for table in ["boards.jwt_keys", "boards.protected_tables"] {
        admin
            .query(&format!("SELECT * FROM {table}"), &[])
            .unwrap_or_else(|e| panic!("boards_admin reading {table}: {}", error_text(&e)));
    }
    let registered: i64 = admin
        .query_one("SELECT count(*) FROM boards.protected_tables", &[])
        .map(|row| row.get(0))
        .unwrap_or_else(|e| panic!("counting protected tables: {}", error_text(&e)));
    assert!(registered > 0, "the admin sees an empty registry");
}

#[test]
fn names_under_the_boards_prefix_are_reserved() {
    let db = shared_db();
    let mut app = db.app();
    if server_version_num(&mut app) < 150000 {
        // Before PostgreSQL 15 no prefix can be reserved: a new name becomes a placeholder,
        // inert because the library reads only the settings it defines, and those (all
        // defined at server start: preload is required) stay superuser-only.
        app.batch_execute("SET boards.anything_new = 'x'")
            .unwrap_or_else(|e| panic!("a placeholder on PostgreSQL 14: {}", error_text(&e)));
        let result = app.batch_execute("SET boards.context = '{}'");
        assert_sqlstate(result, PERMISSION_DENIED);
        return;
    }
    let result = app.batch_execute("SET boards.anything_new = 'x'");
    assert_sqlstate(result, INVALID_NAME);
    let result = app.query_one("SELECT set_config('boards.anything_new', 'x', false)", &[]);
    assert_sqlstate(result, INVALID_NAME);
}

/// The per-request context setters run as the extension owner without a `SET search_path`
/// clause, which would cost every call: they pin `search_path` around each query they run
/// (src/db.rs), and with warm caches run none.
const DEFINERS_PINNING_PER_QUERY: &[&str] = &["boards_authenticate", "boards_set_tenant_from_jwt"];

#[test]
fn every_security_definer_function_pins_its_search_path() {
    let db = shared_db();
    let rows = db
        .superuser()
        .query(
            "SELECT p.proname::text, p.oid::regprocedure::text,
                    coalesce((SELECT c FROM unnest(p.proconfig) c WHERE c LIKE 'search\\_path=%'), '')
             FROM pg_catalog.pg_proc p
             JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_proc'::regclass
                  AND d.objid = p.oid AND d.deptype = 'e'
             JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid AND e.extname = 'boards_tenant'
             WHERE p.prosecdef ORDER BY 2",
            &[],
        )
        .unwrap_or_else(|e| panic!("{}", error_text(&e)));
    let definers: Vec<(String, String, String)> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert!(
        definers.len() > 20,
        "the extension's SECURITY DEFINER functions were not found: {definers:?}"
    );
    let unpinned: Vec<&String> = definers
        .iter()
        .filter(|(name, _, config)| {
            !DEFINERS_PINNING_PER_QUERY.contains(&name.as_str())
                && config != "search_path=pg_catalog, pg_temp"
        })
        .map(|(_, signature, _)| signature)
        .collect();
    assert!(
        unpinned.is_empty(),
        "SECURITY DEFINER without search_path = pg_catalog, pg_temp: {unpinned:?}"
    );
    for name in DEFINERS_PINNING_PER_QUERY {
        assert!(
            definers.iter().any(|(n, _, _)| n == name),
            "{name} is expected to be SECURITY DEFINER (it reads keys and tenants)"
        );
    }
}

/// What PUBLIC may execute, read from the catalog: the extension's functions whose effective
/// ACL (the default when NULL) grants EXECUTE to PUBLIC, and how many of them keep the default.
fn public_functions(client: &mut postgres::Client) -> (Vec<String>, i64) {
    let rows = client
        .query(
            "SELECT p.oid::regprocedure::text, p.proacl IS NULL
             FROM pg_catalog.pg_proc p
             JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_proc'::regclass
                  AND d.objid = p.oid AND d.deptype = 'e'
             JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid AND e.extname = 'boards_tenant'
             WHERE EXISTS (SELECT FROM aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
                           WHERE a.grantee = 0 AND a.privilege_type = 'EXECUTE')
             ORDER BY 1",
            &[],
        )
        .unwrap_or_else(|e| panic!("{}", error_text(&e)));
    let defaults = rows.iter().filter(|r| r.get::<_, bool>(1)).count() as i64;
    (rows.iter().map(|r| r.get(0)).collect(), defaults)
}

/// The functions anyone may call keep PostgreSQL's default ACL (cheaper in every statement's
/// EXECUTE check, sql/finalize.sql), and that grants no more than before: the same list PUBLIC
/// could execute, and an installing role whose default privileges take EXECUTE from PUBLIC
/// still leaves them callable by the app role, and everything else refused.
#[test]
fn the_functions_anyone_may_call_keep_the_default_acl_whatever_the_default_privileges() {
    let (public, defaults) = public_functions(&mut shared_db().superuser());
    assert!(
        public.iter().any(|f| f == "boards_current_tenant()")
            && public
                .iter()
                .any(|f| f.starts_with("boards_set_tenant_from_jwt("))
            && !public.iter().any(|f| f.starts_with("boards_tenant_list(")),
        "PUBLIC's functions: {public:?}"
    );
    assert_eq!(
        defaults,
        public.len() as i64,
        "every function PUBLIC may call keeps the default ACL: {public:?}"
    );

    let db = Cluster::shared().create_empty_database();
    let mut su = db.superuser();
    su.batch_execute(
        "ALTER DEFAULT PRIVILEGES REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;
         CREATE EXTENSION boards_tenant;",
    )
    .unwrap_or_else(|e| panic!("{}", error_text(&e)));
    let (careless, careless_defaults) = public_functions(&mut su);
    assert_eq!(careless, public, "the same functions are PUBLIC's");
    assert_eq!(
        careless_defaults, 0,
        "default privileges gave them explicit ACLs"
    );
    let mut app = db.app();
    assert_eq!(
        query_text(
            &mut app,
            "SELECT coalesce(boards_current_tenant()::text, 'none')",
            &[]
        ),
        Some("none".to_owned())
    );
    assert_sqlstate(
        app.simple_query("SELECT boards_tenant_list()"),
        PERMISSION_DENIED,
    );
}

/// `TenantStatus` is the Rust side of `boards.tenants.status`: the check constraint must admit
/// exactly its spellings, so a status added on one side only fails here.
#[test]
fn tenant_statuses_match_the_schemas_check_constraint() {
    let db = shared_db();
    let mut su = db.superuser();
    let definition: String = su
        .query_one(
            "SELECT pg_catalog.pg_get_constraintdef(c.oid) FROM pg_catalog.pg_constraint c \
             WHERE c.conrelid = 'boards.tenants'::pg_catalog.regclass AND c.contype = 'c' \
             AND pg_catalog.pg_get_constraintdef(c.oid) LIKE '%status%'",
            &[],
        )
        .unwrap_or_else(|e| panic!("reading the status constraint: {}", error_text(&e)))
        .get(0);
    // The literals of `status = ANY (ARRAY['active'::text, ...])`: every second piece between quotes.
    let mut in_constraint: Vec<&str> = definition.split('\'').skip(1).step_by(2).collect();
    in_constraint.sort_unstable();
    let mut in_rust: Vec<&str> = TenantStatus::ALL.iter().map(|s| s.as_str()).collect();
    in_rust.sort_unstable();
    assert_eq!(in_constraint, in_rust, "constraint: {definition}");
}
