//! DDL at PostgreSQL's own cost: the event triggers look only at what a command
//! touched, internal queries run with the planner settings they were written for whatever the
//! session set, a DDL statement on an object that cannot be protected takes no lock on the
//! extension's tables, and a slice of the DDL forms PostgreSQL supports behaves exactly as it
//! does without the extension.

use boards_tenant_harness::postgres::{Client, SimpleQueryMessage};
use boards_tenant_harness::{Cluster, TestDb};
use boards_tenant_tests::{assert_sqlstate_in, count, exec, text};

// SQLSTATE insufficient_privilege: what the DDL guard refuses with.
use boards_tenant_tests::sqlstate::INSUFFICIENT_PRIVILEGE as PERMISSION_DENIED;
/// The `default` tenant's fixed id (sql/schema.sql).
const DEFAULT_TENANT_ID: &str = "00000000-0000-0000-0000-000000000000";
const PARTITIONS: i64 = 2_000;

/// A database with the extension and a schema `app` owned by the app role.
fn app_database(cluster: &Cluster) -> TestDb<'_> {
    let db = cluster.create_database();
    exec(
        &mut db.superuser(),
        "CREATE SCHEMA app AUTHORIZATION boards_app",
    );
    db
}

/// The changes the guard refuses on a protected table owned by the app role, each with the
/// words its refusal must name. A partition's tenant column is inherited: PostgreSQL itself
/// refuses to drop it (42P16), so those changes are tried on tables that own their column.
fn guarded_changes(table: &str, owns_tenant_column: bool) -> Vec<(String, &'static str)> {
    let mut changes = vec![
        (
            format!("ALTER TABLE {table} DISABLE ROW LEVEL SECURITY"),
            "row level security is disabled",
        ),
        (
            format!("ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY"),
            "row level security is not forced",
        ),
        (
            format!("DROP POLICY boards_tenant_isolation ON {table}"),
            "is missing or altered",
        ),
        (
            format!("ALTER POLICY boards_tenant_isolation ON {table} USING (true)"),
            "is missing or altered",
        ),
        (
            format!("CREATE POLICY open_door ON {table} USING (true)"),
            "is OR-ed with the tenant policy",
        ),
        (
            format!("CREATE MATERIALIZED VIEW app.copied AS SELECT * FROM {table}"),
            "reads tables protected by boards_tenant",
        ),
    ];
    if owns_tenant_column {
        changes.push((
            format!("ALTER TABLE {table} DROP COLUMN tenant_id CASCADE"),
            "is missing or altered",
        ));
        changes.push((
            format!(
                "ALTER TABLE {table} DISABLE ROW LEVEL SECURITY, NO FORCE ROW LEVEL SECURITY, \
                 DROP COLUMN tenant_id CASCADE"
            ),
            "row level security is disabled",
        ));
    }
    changes
}

/// Every guarded change on `table` is refused with the guard's SQLSTATE and message, and
/// TRUNCATE granted to another role is taken back at once.
fn assert_guarded(db: &TestDb<'_>, app: &mut Client, table: &str, owns_tenant_column: bool) {
    for (sql, words) in guarded_changes(table, owns_tenant_column) {
        let message = assert_sqlstate_in(&sql, app.batch_execute(&sql), PERMISSION_DENIED);
        assert!(
            message.contains("protected by boards_tenant"),
            "{sql}: {message}"
        );
        let detail = app
            .batch_execute(&sql)
            .err()
            .and_then(|e| e.as_db_error().and_then(|d| d.detail().map(str::to_owned)))
            .unwrap_or_default();
        assert!(
            message.contains(words) || detail.contains(words),
            "{sql}: expected {words:?} in {message:?} / {detail:?}"
        );
    }
    exec(
        app,
        &format!("GRANT TRUNCATE, TRIGGER, REFERENCES ON {table} TO boards_tenant_admin, PUBLIC"),
    );
    for privilege in ["TRUNCATE", "TRIGGER", "REFERENCES"] {
        let holders = count(
            &mut db.superuser(),
            &format!(
                "SELECT count(*) FROM aclexplode((SELECT relacl FROM pg_class WHERE oid = '{table}'::regclass)) a
                 WHERE a.privilege_type = '{privilege}' AND a.grantee = 0"
            ),
        );
        assert_eq!(holders, 0, "{privilege} granted to PUBLIC on {table} stays");
    }
}

#[test]
fn two_thousand_partitions_created_in_one_transaction_are_each_protected_and_guarded() {
    let cluster = Cluster::shared();
    let db = app_database(cluster);
    let mut app = db.app();
    exec(
        &mut app,
        &format!(
            "BEGIN;
             CREATE TABLE app.events (tenant_id uuid, id int, body text) PARTITION BY RANGE (id);
             DO $$ BEGIN
                 FOR i IN 0 .. {last} LOOP
                     EXECUTE format('CREATE TABLE app.events_%s PARTITION OF app.events
                                     FOR VALUES FROM (%s) TO (%s)', i, i * 10, i * 10 + 10);
                 END LOOP;
             END $$;
             COMMIT;",
            last = PARTITIONS - 1
        ),
    );
    let mut admin = db.admin();
    let complete = count(
        &mut admin,
        "SELECT count(*) FROM boards_tenant_protected_tables()
         WHERE table_name LIKE 'app.events%' AND cardinality(problems) = 0",
    );
    assert_eq!(
        complete,
        PARTITIONS + 1,
        "every partition and the parent, fully protected"
    );
    let chosen = text(
        &mut db.superuser(),
        &format!("SELECT 'app.events_' || floor(random() * {PARTITIONS})::int"),
        &[],
    );
    assert_guarded(&db, &mut app, &chosen, false);
    assert_guarded(&db, &mut app, "app.events", true);
}

/// The session settings that used to make the DDL guard's catalog queries pathological.
const HOSTILE_SETTINGS: &[&str] = &[
    "SET enable_sort = off",
    "SET enable_indexscan = off",
    "SET jit = on; SET jit_above_cost = 0; SET jit_inline_above_cost = 0; SET jit_optimize_above_cost = 0",
    "SET random_page_cost = 1000",
    "SET enable_sort = off; SET enable_indexscan = off; SET enable_seqscan = off; \
     SET enable_hashjoin = off; SET enable_nestloop = off; SET random_page_cost = 1000; \
     SET jit = on; SET jit_above_cost = 0",
];

fn audit_findings(client: &mut Client) -> Vec<String> {
    let mut rows: Vec<String> = client
        .query(
            "SELECT check_name || ' ' || severity || ' ' || coalesce(object_name, '')
             FROM boards_tenant_audit(NULL)",
            &[],
        )
        .unwrap_or_else(|e| panic!("audit: {}", boards_tenant_tests::error_text(&e)))
        .iter()
        .map(|r| r.get(0))
        .collect();
    rows.sort();
    rows
}

#[test]
fn hostile_planner_settings_change_no_answer_and_are_restored() {
    let cluster = Cluster::shared();
    let db = app_database(cluster);
    let baseline = audit_findings(&mut db.admin());
    for (n, settings) in HOSTILE_SETTINGS.iter().enumerate() {
        let mut app = db.app();
        exec(&mut app, settings);
        let before = text(&mut app, "SELECT string_agg(name || '=' || setting, ',' ORDER BY name) FROM pg_settings WHERE source = 'session'", &[]);
        let table = format!("app.hostile_{n}");
        exec(
            &mut app,
            &format!("CREATE TABLE {table} (tenant_id uuid, id int)"),
        );
        exec(
            &mut app,
            &format!("ALTER TABLE {table} ADD COLUMN note text"),
        );
        exec(&mut app, &format!("CREATE INDEX ON {table} (id)"));
        exec(
            &mut app,
            &format!("CREATE VIEW {table}_v AS SELECT id FROM {table}"),
        );
        assert_guarded(&db, &mut app, &table, true);
        exec(
            &mut app,
            &format!("DROP VIEW {table}_v; DROP TABLE {table}"),
        );
        let registered = count(
            &mut db.superuser(),
            &format!("SELECT count(*) FROM boards.protected_tables WHERE tbl::text = '{table}'"),
        );
        assert_eq!(
            registered, 0,
            "{settings}: the dropped table left the registry"
        );
        let after = text(&mut app, "SELECT string_agg(name || '=' || setting, ',' ORDER BY name) FROM pg_settings WHERE source = 'session'", &[]);
        assert_eq!(
            before, after,
            "{settings}: the session's own settings come back"
        );

        let mut admin = db.admin();
        exec(&mut admin, settings);
        let tenant = text(
            &mut admin,
            "SELECT tenant_id::text FROM boards_set_tenant('default')",
            &[],
        );
        assert_eq!(tenant, DEFAULT_TENANT_ID, "{settings}");
        let current = text(&mut admin, "SELECT boards_current_tenant()::text", &[]);
        assert_eq!(current, DEFAULT_TENANT_ID, "{settings}");
        exec(&mut admin, "SELECT boards_reset_tenant()");
        assert_eq!(
            audit_findings(&mut admin),
            baseline,
            "{settings}: the audit"
        );
    }
}

#[test]
fn ddl_on_objects_that_cannot_be_protected_takes_no_lock_on_the_extension_tables() {
    let cluster = Cluster::shared();
    let db = app_database(cluster);
    exec(
        &mut db.app(),
        "CREATE TABLE app.old (a int);
         CREATE TABLE app.notes (tenant_id uuid, body text);",
    );
    let extension_tables = text(
        &mut db.superuser(),
        "SELECT string_agg(d.objid::text, ',') FROM pg_depend d
         JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'boards_tenant'
         WHERE d.classid = 'pg_class'::regclass AND d.deptype = 'e'",
        &[],
    );
    let locks_held = format!(
        "SELECT count(*) FROM pg_locks WHERE pid = pg_backend_pid() AND locktype = 'relation'
           AND relation = ANY ('{{{extension_tables}}}'::oid[])"
    );
    let mut app = db.app();
    exec(
        &mut app,
        "BEGIN;
         CREATE TABLE app.plain (a int);
         ALTER TABLE app.plain ADD COLUMN b text;
         CREATE INDEX ON app.plain (a);
         CREATE FUNCTION app.f() RETURNS int LANGUAGE sql AS 'SELECT 1';
         CREATE VIEW app.v AS SELECT a FROM app.plain;
         CREATE TABLE app.copy AS SELECT a FROM app.plain;
         ALTER TABLE app.old RENAME TO older;
         DROP TABLE app.older;",
    );
    assert_eq!(
        count(&mut app, &locks_held),
        0,
        "no lock on the extension's tables"
    );
    exec(&mut app, "ALTER TABLE app.notes ADD COLUMN extra int");
    assert!(
        count(&mut app, &locks_held) > 0,
        "a protected table is looked up in the registry (the lock check can see it)"
    );
    exec(&mut app, "COMMIT");
}

/// One statement's outcome, as a client sees it.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Rows(Vec<Vec<Option<String>>>),
    Done(u64),
    Error { code: String, message: String },
}

fn outcome(client: &mut Client, sql: &str) -> Outcome {
    match client.simple_query(sql) {
        Ok(messages) => {
            let mut rows = Vec::new();
            let mut done = 0;
            for m in messages {
                match m {
                    SimpleQueryMessage::Row(row) => rows.push(
                        (0..row.len())
                            .map(|i| row.get(i).map(str::to_owned))
                            .collect(),
                    ),
                    SimpleQueryMessage::CommandComplete(n) => done = n,
                    _ => {}
                }
            }
            if rows.is_empty() {
                Outcome::Done(done)
            } else {
                Outcome::Rows(rows)
            }
        }
        Err(e) => match e.as_db_error() {
            Some(db) => Outcome::Error {
                code: db.code().code().to_owned(),
                message: db.message().to_owned(),
            },
            None => panic!("{sql}: {e}"),
        },
    }
}

/// A representative slice of the DDL forms PostgreSQL supports (none with a tenant column),
/// some of them failing on purpose. `S` is the schema the role works in.
const REGRESSION_SLICE: &[&str] = &[
    "CREATE TABLE S.t (a int PRIMARY KEY, b text)",
    "CREATE TABLE S.t (a int)",
    "INSERT INTO S.t SELECT g, g::text FROM generate_series(1, 5) g",
    "CREATE TABLE S.parted (k int, v text) PARTITION BY RANGE (k)",
    "CREATE TABLE S.parted_1 PARTITION OF S.parted FOR VALUES FROM (0) TO (10)",
    "CREATE TABLE S.parted_d PARTITION OF S.parted DEFAULT",
    "INSERT INTO S.parted VALUES (1, 'a'), (20, 'b')",
    "CREATE TABLE S.parent (a int)",
    "CREATE TABLE S.child (b int) INHERITS (S.parent)",
    "ALTER TABLE S.child NO INHERIT S.parent",
    "CREATE VIEW S.v AS SELECT a, b FROM S.t WHERE a > 2",
    "SELECT * FROM S.v ORDER BY a",
    "CREATE MATERIALIZED VIEW S.mv AS SELECT count(*) AS n FROM S.t",
    "REFRESH MATERIALIZED VIEW S.mv",
    "SELECT n FROM S.mv",
    "CREATE RULE r_ins AS ON INSERT TO S.v DO INSTEAD INSERT INTO S.t VALUES (NEW.a, NEW.b)",
    "INSERT INTO S.v VALUES (100, 'via rule')",
    "ALTER TABLE S.t ENABLE ROW LEVEL SECURITY",
    "CREATE POLICY p_all ON S.t USING (a < 50)",
    "ALTER POLICY p_all ON S.t USING (a < 60)",
    "DROP POLICY p_all ON S.t",
    "ALTER TABLE S.t DISABLE ROW LEVEL SECURITY",
    "CREATE FUNCTION S.trg() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN NEW.b := upper(NEW.b); RETURN NEW; END$$",
    "CREATE TRIGGER up BEFORE INSERT ON S.t FOR EACH ROW EXECUTE FUNCTION S.trg()",
    "INSERT INTO S.t VALUES (200, 'lower') RETURNING b",
    "ALTER TRIGGER up ON S.t RENAME TO upper_b",
    "DROP TRIGGER upper_b ON S.t",
    "CREATE DOMAIN S.positive AS int CHECK (VALUE > 0)",
    "SELECT (-1)::S.positive",
    "CREATE TYPE S.mood AS ENUM ('sad', 'ok')",
    "CREATE TYPE S.pair AS (x int, y int)",
    "CREATE TABLE S.typed OF S.pair",
    "CREATE FUNCTION S.add(int, int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT $1 + $2'",
    "SELECT S.add(2, 3)",
    "CREATE PROCEDURE S.bump() LANGUAGE sql AS 'UPDATE S.t SET a = a + 1000 WHERE a = 1'",
    "CALL S.bump()",
    "CREATE EXTENSION IF NOT EXISTS plpgsql",
    "CREATE EXTENSION plpgsql",
    "CREATE EXTENSION no_such_extension",
    "ALTER TABLE S.t ADD COLUMN c S.mood DEFAULT 'ok'",
    "ALTER TABLE S.t ALTER COLUMN b TYPE varchar(40)",
    "ALTER TABLE S.t RENAME COLUMN c TO feeling",
    "ALTER TABLE S.t RENAME TO t2",
    "ALTER VIEW S.v RENAME TO v2",
    "ALTER FUNCTION S.add(int, int) RENAME TO plus",
    "CREATE INDEX t2_b ON S.t2 (b)",
    "ALTER INDEX S.t2_b RENAME TO t2_b_idx",
    "CREATE TEMPORARY TABLE tmp_rows (a int)",
    "CREATE TEMPORARY VIEW tmp_v AS SELECT a FROM tmp_rows",
    "CREATE TABLE S.cta AS SELECT a, b FROM S.t2 WHERE a < 4",
    "SELECT a, b INTO S.selected FROM S.t2 WHERE a > 3",
    "SELECT count(*) FROM S.cta",
    "SELECT count(*) FROM S.selected",
    "DROP TABLE S.t2",
    "DROP TABLE S.t2 CASCADE",
    "DROP TABLE S.no_such_table",
    "DROP TABLE IF EXISTS S.no_such_table",
    "DROP TYPE S.pair CASCADE",
    "DROP DOMAIN S.positive",
    "DROP TABLE S.parted",
    "DROP TABLE tmp_rows CASCADE",
    "SELECT c.relname::text, c.relkind::text FROM pg_class c
     WHERE c.relnamespace = 'S'::regnamespace ORDER BY 1",
];

fn run_slice(client: &mut Client, schema: &str) -> Vec<(String, Outcome)> {
    REGRESSION_SLICE
        .iter()
        .map(|sql| {
            let sql = sql
                .replace("S.", &format!("{schema}."))
                .replace("'S'", &format!("'{schema}'"));
            let result = outcome(client, &sql);
            (sql, result)
        })
        .collect()
}

#[test]
fn a_slice_of_postgresql_ddl_behaves_exactly_as_without_the_extension() {
    let cluster = Cluster::shared();
    let with = cluster.create_database();
    let without = cluster.create_empty_database();
    for db in [&with, &without] {
        exec(
            &mut db.superuser(),
            "CREATE SCHEMA slice_app AUTHORIZATION boards_app; CREATE SCHEMA slice_su;",
        );
    }
    for (role, schema) in [("app", "slice_app"), ("superuser", "slice_su")] {
        let connect = |db: &TestDb<'_>| {
            if role == "app" {
                db.app()
            } else {
                db.superuser()
            }
        };
        let expected = run_slice(&mut connect(&without), schema);
        let got = run_slice(&mut connect(&with), schema);
        for ((sql, want), (_, have)) in expected.iter().zip(&got) {
            assert_eq!(have, want, "as {role}: {sql}");
        }
        assert!(
            expected
                .iter()
                .any(|(_, o)| matches!(o, Outcome::Error { .. })),
            "the slice includes failing statements"
        );
    }
}

/// Registry rows whose table is gone from the catalog: what a DROP that the `sql_drop`
/// trigger missed leaves behind (a dropped table's `regclass` prints as a bare number, so a
/// lookup by name cannot see them).
const DANGLING_REGISTRY_ROWS: &str = "SELECT count(*) FROM boards.protected_tables p
     WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_class c WHERE c.oid = p.tbl)";

/// The `sql_drop` half of the guard (src/ddl_scope.rs, reading the dropped objects without a
/// query: src/dropped_objects.rs): however a protected table goes (alone, beside unprotected
/// ones, with its schema), its registry row goes with it; its tenant policy dropped while the
/// table stays is refused, for a temporary table too (whose policy PostgreSQL reports in
/// schema `pg_temp`).
#[test]
fn dropped_protected_tables_leave_the_registry_and_their_tenant_policy_cannot_go_alone() {
    let cluster = Cluster::shared();
    let db = app_database(cluster);
    exec(
        &mut db.superuser(),
        "CREATE SCHEMA app_gone AUTHORIZATION boards_app",
    );
    let mut app = db.app();
    exec(
        &mut app,
        "CREATE TABLE app.alone (tenant_id uuid, id int);
         CREATE TABLE app.beside (tenant_id uuid, id int);
         CREATE TABLE app.unprotected (id int);
         CREATE TABLE app.stays (tenant_id uuid, id int);
         CREATE TABLE app_gone.one (tenant_id uuid, id int);
         CREATE TABLE app_gone.two (tenant_id uuid, id int);",
    );
    let mut superuser = db.superuser();
    let registered = |superuser: &mut Client| {
        count(
            superuser,
            "SELECT count(*) FROM boards.protected_tables
             WHERE tbl::text LIKE 'app.%' OR tbl::text LIKE 'app_gone.%'",
        )
    };
    assert_eq!(registered(&mut superuser), 5, "auto-protected");
    let drops = [
        ("DROP TABLE app.alone", 4),
        ("DROP TABLE app.unprotected, app.beside", 3),
        ("DROP SCHEMA app_gone CASCADE", 1),
    ];
    for (sql, left) in drops {
        exec(&mut app, sql);
        assert_eq!(
            count(&mut superuser, DANGLING_REGISTRY_ROWS),
            0,
            "{sql}: the registry forgot the dropped tables"
        );
        assert_eq!(registered(&mut superuser), left, "{sql}");
    }
    assert_sqlstate_in(
        "DROP POLICY on a protected table that stays",
        app.batch_execute("DROP POLICY boards_tenant_isolation ON app.stays"),
        PERMISSION_DENIED,
    );
    assert_eq!(
        registered(&mut superuser),
        1,
        "app.stays is still protected"
    );

    let mut admin = db.admin();
    exec(
        &mut admin,
        "CREATE TEMP TABLE scratch (tenant_id uuid, id int);
         SELECT boards_tenant_protect('pg_temp.scratch');",
    );
    assert_sqlstate_in(
        "DROP POLICY on a protected temporary table",
        admin.batch_execute("DROP POLICY boards_tenant_isolation ON pg_temp.scratch"),
        PERMISSION_DENIED,
    );
    exec(&mut admin, "DROP TABLE pg_temp.scratch");
    assert_eq!(
        count(&mut superuser, DANGLING_REGISTRY_ROWS),
        0,
        "DROP of a protected temporary table: the registry forgot it"
    );
}

/// The second rule for materialized views (src/ddl_guard.rs, `refuse_capture_under_a_context`):
/// under a tenant context none is created or refreshed, whatever its query reads (here, an
/// unprotected table: a function in the query could read protected ones unseen); without a
/// context both are allowed.
#[test]
fn no_materialized_view_is_filled_under_a_tenant_context() {
    let cluster = Cluster::shared();
    let db = app_database(cluster);
    exec(
        &mut db.superuser(),
        "CREATE SCHEMA admin_space AUTHORIZATION boards_admin",
    );
    let mut admin = db.admin();
    exec(
        &mut admin,
        "CREATE TABLE admin_space.plain (id int);
         CREATE MATERIALIZED VIEW admin_space.filled_without AS SELECT id FROM admin_space.plain;",
    );
    exec(&mut admin, "SELECT boards_set_tenant('default')");
    assert_sqlstate_in(
        "CREATE MATERIALIZED VIEW under a tenant context",
        admin.batch_execute(
            "CREATE MATERIALIZED VIEW admin_space.filled_under AS SELECT id FROM admin_space.plain",
        ),
        PERMISSION_DENIED,
    );
    assert_sqlstate_in(
        "REFRESH MATERIALIZED VIEW under a tenant context",
        admin.batch_execute("REFRESH MATERIALIZED VIEW admin_space.filled_without"),
        PERMISSION_DENIED,
    );
    exec(&mut admin, "SELECT boards_reset_tenant()");
    exec(
        &mut admin,
        "REFRESH MATERIALIZED VIEW admin_space.filled_without",
    );
}

/// The extension's own tables keep the privileges the extension gave them (src/grants.rs),
/// whoever grants more: a superuser's GRANT on the registry is taken back at once.
#[test]
fn a_grant_on_the_extension_tables_is_taken_back() {
    let cluster = Cluster::shared();
    let db = app_database(cluster);
    let mut superuser = db.superuser();
    exec(
        &mut superuser,
        "GRANT SELECT, DELETE ON boards.protected_tables TO boards_app",
    );
    assert_eq!(
        count(
            &mut superuser,
            "SELECT count(*) FROM (VALUES ('SELECT'), ('DELETE')) p (privilege)
             WHERE has_table_privilege('boards_app', 'boards.protected_tables', p.privilege)"
        ),
        0,
        "the app role holds a privilege on the registry"
    );
}
