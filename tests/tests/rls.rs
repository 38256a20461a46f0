//! Row-level security: what a tenant context can see and write in the Boards tables
//! and in a protected application table, through every execution path a client can reach;
//! `boards_tenant_protect` / `_unprotect` / `_protected_tables`, auto-protection, the DDL
//! guard, `boards_tenant_migrate_table` and `boards_ensure_tenant_isolation`.
//!
//! Every attack runs as `boards_app` with a valid token for tenant A and aims at tenant B; the
//! tests then check, as superuser, that B's rows are exactly what they were.

use std::sync::{Arc, Mutex};

use boards_tenant_harness::postgres::{Client, Config, NoTls};
use boards_tenant_harness::{Cluster, TestDb, APP_ROLE};
use boards_tenant_tests::fixture::{
    assert_all_of, token_for, Layout, TwoTenants, BULK_NOTES, TENANT_TABLES,
};
use boards_tenant_tests::parallel::{install_worker_probe, rows_from_workers, workers_launched};
use boards_tenant_tests::{
    assert_sqlstate, assert_sqlstate_in, column, count, db_error, error_text, exec, exec_params,
    query_text, text, FORCE_PARALLEL,
};

// SQLSTATE insufficient_privilege: RLS WITH CHECK, missing grants, the DDL guard.
use boards_tenant_tests::sqlstate::INSUFFICIENT_PRIVILEGE as PERMISSION_DENIED;
// SQLSTATE invalid_parameter_value.
use boards_tenant_tests::sqlstate::INVALID_PARAMETER_VALUE as INVALID_PARAMETER;
// SQLSTATE object_not_in_prerequisite_state.
use boards_tenant_tests::sqlstate::OBJECT_NOT_IN_PREREQUISITE_STATE as NOT_IN_PREREQUISITE_STATE;
// SQLSTATE foreign_key_violation.
use boards_tenant_tests::sqlstate::FOREIGN_KEY_VIOLATION;
// SQLSTATE feature_not_supported (COPY FROM into a table with RLS).
use boards_tenant_tests::sqlstate::FEATURE_NOT_SUPPORTED;
// SQLSTATE invalid_cursor_name.
use boards_tenant_tests::sqlstate::INVALID_CURSOR_NAME;

/// The `default` tenant's fixed id (sql/schema.sql).
const DEFAULT_TENANT_ID: &str = "00000000-0000-0000-0000-000000000000";

/// Two tenants, A with 2 boards and B with 3 (counts that differ tell a wrong answer apart),
/// without the attacker's objects of the attack suite.
type Fixture = TwoTenants<'static>;

fn fixture() -> Fixture {
    TwoTenants::in_cluster(
        Cluster::shared(),
        Layout {
            boards: [2, 3],
            app_owned_table: false,
        },
    )
}

/// `(tenant_id, user_id)` of the context a token gives.
#[track_caller]
fn set_context(client: &mut Client, token: &str) -> (String, String) {
    let row = client
        .query_one(
            "SELECT tenant_id::text, user_id::text FROM boards_set_tenant_from_jwt($1)",
            &[&token],
        )
        .unwrap_or_else(|e| panic!("boards_set_tenant_from_jwt: {}", error_text(&e)));
    (row.get(0), row.get(1))
}

/// The plan of `sql` as EXPLAIN prints it.
#[track_caller]
fn explain(client: &mut Client, sql: &str) -> String {
    column(client, &format!("EXPLAIN {sql}")).join("\n")
}

/// A connection as `role` that records every NOTICE and WARNING the server sends.
fn connect_recording(db: &TestDb, role: &str) -> (Client, Arc<Mutex<Vec<String>>>) {
    let notices = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&notices);
    let client = Config::new()
        .host(db.cluster().host())
        .port(db.cluster().port())
        .user(role)
        .dbname(db.name())
        .notice_callback(move |notice| {
            sink.lock().unwrap_or_else(|e| e.into_inner()).push(format!(
                "{}: {}",
                notice.severity(),
                notice.message()
            ));
        })
        .connect(NoTls)
        .unwrap_or_else(|e| panic!("connecting as {role}: {}", error_text(&e)));
    (client, notices)
}

fn take(notices: &Arc<Mutex<Vec<String>>>) -> Vec<String> {
    std::mem::take(&mut *notices.lock().unwrap_or_else(|e| e.into_inner()))
}

/// The row `boards_tenant_protected_tables()` reports for `table` (qualified, as it prints it).
struct Protection {
    rls_enabled: bool,
    rls_forced: bool,
    policy_ok: bool,
    default_ok: bool,
    tenant_index: bool,
    problems: Vec<String>,
}

impl Protection {
    fn complete(&self) -> bool {
        self.rls_enabled
            && self.rls_forced
            && self.policy_ok
            && self.default_ok
            && self.tenant_index
            && self.problems.is_empty()
    }
}

fn protection(admin: &mut Client, table: &str) -> Option<Protection> {
    admin
        .query(
            "SELECT rls_enabled, rls_forced, policy_ok, default_ok, tenant_index, problems
             FROM boards_tenant_protected_tables() WHERE table_name = $1",
            &[&table],
        )
        .unwrap_or_else(|e| panic!("boards_tenant_protected_tables(): {}", error_text(&e)))
        .first()
        .map(|row| Protection {
            rls_enabled: row.get(0),
            rls_forced: row.get(1),
            policy_ok: row.get(2),
            default_ok: row.get(3),
            tenant_index: row.get(4),
            problems: row.get(5),
        })
}

#[track_caller]
fn assert_fully_protected(admin: &mut Client, table: &str) {
    let state = protection(admin, table)
        .unwrap_or_else(|| panic!("{table} is not in boards_tenant_protected_tables()"));
    assert!(
        state.complete(),
        "{table}: rls_enabled {} rls_forced {} policy_ok {} default_ok {} tenant_index {} problems {:?}",
        state.rls_enabled,
        state.rls_forced,
        state.policy_ok,
        state.default_ok,
        state.tenant_index,
        state.problems
    );
}

/// Everything `boards_tenant_protect` changes on a table, read from the catalogs as superuser:
/// RLS flags, policies, the column default, indexes, the registry row.
fn catalog_state(db: &TestDb, table: &str) -> String {
    text(
        &mut db.superuser(),
        "SELECT row(
             c.relrowsecurity, c.relforcerowsecurity,
             (SELECT array_agg(p.polname || ' ' || p.polcmd::text || ' ' || p.polpermissive || ' '
                               || p.polroles::text || ' '
                               || coalesce(pg_get_expr(p.polqual, p.polrelid), '-') || ' '
                               || coalesce(pg_get_expr(p.polwithcheck, p.polrelid), '-')
                               ORDER BY p.polname)
              FROM pg_policy p WHERE p.polrelid = c.oid),
             (SELECT pg_get_expr(d.adbin, d.adrelid) FROM pg_attrdef d
              JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
              WHERE d.adrelid = c.oid AND a.attname = 'tenant_id'),
             (SELECT array_agg(pg_get_indexdef(i.indexrelid) ORDER BY 1)
              FROM pg_index i WHERE i.indrelid = c.oid),
             (SELECT array_agg(r.tenant_column::text || ' ' || r.policy_name::text || ' ' || r.builtin)
              FROM boards.protected_tables r WHERE r.tbl = c.oid)
         )::text
         FROM pg_class c WHERE c.oid = $1::text::regclass",
        &[&table],
    )
}

fn is_registered(db: &TestDb, table: &str) -> bool {
    db.superuser()
        .query_one(
            "SELECT EXISTS (SELECT FROM boards.protected_tables WHERE tbl = $1::text::regclass)",
            &[&table],
        )
        .map(|row| row.get(0))
        .unwrap_or_else(|e| panic!("reading the registry: {}", error_text(&e)))
}

fn rls_flags(db: &TestDb, table: &str) -> (bool, bool) {
    db.superuser()
        .query_one(
            "SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE oid = $1::text::regclass",
            &[&table],
        )
        .map(|row| (row.get(0), row.get(1)))
        .unwrap_or_else(|e| panic!("reading pg_class of {table}: {}", error_text(&e)))
}

// ---------------------------------------------------------------------------------------------
// What a tenant context sees and writes
// ---------------------------------------------------------------------------------------------

#[test]
fn a_tenant_sees_only_its_own_rows_in_every_table() {
    let f = fixture();
    for tenant in [&f.a, &f.b] {
        let mut app = f.app_as(tenant);
        for table in TENANT_TABLES {
            let ids = column(&mut app, &format!("SELECT tenant_id::text FROM {table}"));
            assert_all_of(
                &format!("{} reading {table}", tenant.slug),
                &ids,
                &tenant.id,
                tenant.rows(table),
            );
        }
        let tenants = column(&mut app, "SELECT id::text FROM boards.tenants");
        assert_all_of(
            &format!("{} reading boards.tenants", tenant.slug),
            &tenants,
            &tenant.id,
            1,
        );
    }
    // Asking for B's rows by key, as A, finds nothing.
    let mut app = f.app_as(&f.a);
    for (table, id) in [
        ("boards.boards", &f.b.boards[0]),
        ("boards.users", &f.b.owner_id),
        ("public.notes", &f.b.notes[0]),
    ] {
        let found = app
            .query(
                &format!("SELECT 1 FROM {table} WHERE id = $1::text::uuid"),
                &[id],
            )
            .unwrap_or_else(|e| panic!("{table}: {}", error_text(&e)));
        assert!(found.is_empty(), "A found B's row {id} in {table}");
    }
    let found = count(
        &mut app,
        &format!(
            "SELECT count(*) FROM boards.boards WHERE tenant_id = '{}'",
            f.b.id
        ),
    );
    assert_eq!(found, 0, "A found B's boards by tenant_id");
    f.assert_b_untouched();
}

#[test]
fn update_and_delete_without_where_touch_only_own_rows() {
    let f = fixture();
    let mut app = f.app_as(&f.a);
    let updates = [
        ("UPDATE boards.boards SET title = 'pwned'", "boards.boards"),
        (
            "UPDATE boards.users SET display_name = 'pwned'",
            "boards.users",
        ),
        (
            "UPDATE boards.board_members SET role = 'admin'",
            "boards.board_members",
        ),
        (
            "UPDATE boards.generations SET status = 'pwned'",
            "boards.generations",
        ),
        ("UPDATE public.notes SET body = 'pwned'", "public.notes"),
    ];
    for (sql, table) in updates {
        let n = exec_params(&mut app, sql, &[]);
        assert_eq!(n as i64, f.a.rows(table), "{sql}: rows updated");
    }
    // Aimed at B's rows by key: nothing to touch.
    let n = exec_params(
        &mut app,
        "DELETE FROM boards.boards WHERE id = $1::text::uuid",
        &[&f.b.boards[0]],
    );
    assert_eq!(n, 0, "A deleted B's board by id");
    let n = exec_params(
        &mut app,
        "UPDATE public.notes SET body = 'pwned' WHERE id = $1::text::uuid",
        &[&f.b.notes[0]],
    );
    assert_eq!(n, 0, "A updated B's note by id");
    f.assert_b_untouched();

    for (sql, table) in [
        ("DELETE FROM boards.generations", "boards.generations"),
        ("DELETE FROM boards.board_members", "boards.board_members"),
        ("DELETE FROM boards.boards", "boards.boards"),
        ("DELETE FROM public.notes", "public.notes"),
    ] {
        let n = exec_params(&mut app, sql, &[]);
        assert_eq!(n as i64, f.a.rows(table), "{sql}: rows deleted");
    }
    let left = count(
        &mut f.db.superuser(),
        &format!(
            "SELECT (SELECT count(*) FROM boards.boards WHERE tenant_id = '{0}')
              + (SELECT count(*) FROM public.notes WHERE tenant_id = '{0}')",
            f.a.id
        ),
    );
    assert_eq!(left, 0, "A's own rows were not all deleted");
    f.assert_b_untouched();
}

#[test]
fn insert_with_another_tenants_id_fails_with_check() {
    let f = fixture();
    let mut app = f.app_as(&f.a);
    let message = assert_sqlstate(
        app.execute(
            "INSERT INTO public.notes (tenant_id, body) VALUES ($1::text::uuid, 'planted')",
            &[&f.b.id],
        ),
        PERMISSION_DENIED,
    );
    assert!(
        message.contains("row-level security"),
        "unexpected refusal: {message}"
    );
    // B's real user as owner, so that no foreign key could be what refuses it.
    assert_sqlstate(
        app.execute(
            "INSERT INTO boards.boards (tenant_id, owner_id, title)
             VALUES ($1::text::uuid, $2::text::uuid, 'planted')",
            &[&f.b.id, &f.b.owner_id],
        ),
        PERMISSION_DENIED,
    );
    assert_sqlstate(
        app.execute(
            "INSERT INTO boards.board_members (tenant_id, board_id, user_id)
             VALUES ($1::text::uuid, $2::text::uuid, $3::text::uuid)",
            &[&f.b.id, &f.b.boards[0], &f.b.member_id],
        ),
        PERMISSION_DENIED,
    );
    // A multi-row insert with one foreign row fails as a whole.
    assert_sqlstate(
        app.execute(
            "INSERT INTO public.notes (tenant_id, body)
             VALUES ($1::text::uuid, 'mine'), ($2::text::uuid, 'planted')",
            &[&f.a.id, &f.b.id],
        ),
        PERMISSION_DENIED,
    );
    // Upsert onto B's key is an insert of a foreign row too.
    assert_sqlstate(
        app.execute(
            "INSERT INTO public.notes (tenant_id, id, body) VALUES ($1::text::uuid, $2::text::uuid, 'x')
             ON CONFLICT (tenant_id, id) DO UPDATE SET body = 'pwned'",
            &[&f.b.id, &f.b.notes[0]],
        ),
        PERMISSION_DENIED,
    );
    f.assert_a_untouched();
    f.assert_b_untouched();
}

#[test]
fn update_moving_a_row_to_another_tenant_fails() {
    let f = fixture();
    let mut app = f.app_as(&f.a);
    for sql in [
        "UPDATE public.notes SET tenant_id = $1::text::uuid",
        "UPDATE boards.boards SET tenant_id = $1::text::uuid",
        "UPDATE boards.generations SET tenant_id = $1::text::uuid",
    ] {
        assert_sqlstate_in(sql, app.execute(sql, &[&f.b.id]), PERMISSION_DENIED);
    }
    f.assert_a_untouched();
    f.assert_b_untouched();
}

#[test]
fn insert_without_tenant_id_gets_the_context_tenant() {
    let f = fixture();
    let mut app = f.app_as(&f.a);
    let note_tenant = text(
        &mut app,
        "INSERT INTO public.notes (body) VALUES ('defaulted') RETURNING tenant_id::text",
        &[],
    );
    assert_eq!(note_tenant, f.a.id, "notes.tenant_id DEFAULT");
    let board_tenant = text(
        &mut app,
        "INSERT INTO boards.boards (owner_id, title) VALUES ($1::text::uuid, 'defaulted')
         RETURNING tenant_id::text",
        &[&f.a.owner_id],
    );
    assert_eq!(board_tenant, f.a.id, "boards.tenant_id DEFAULT");
    f.assert_b_untouched();
}

#[test]
fn without_a_context_nothing_is_visible_and_inserts_are_refused() {
    let f = fixture();
    // A fresh connection has no context; one that had A's and reset it has none either.
    let mut fresh = f.db.app();
    let mut reset = f.app_as(&f.a);
    exec(&mut reset, "SELECT boards_reset_tenant()");
    for (who, app) in [("fresh", &mut fresh), ("reset", &mut reset)] {
        assert_eq!(
            query_text(app, "SELECT boards_current_tenant()::text", &[]),
            None
        );
        for table in TENANT_TABLES.iter().chain(&["boards.tenants"]) {
            let n = count(app, &format!("SELECT count(*) FROM {table}"));
            assert_eq!(n, 0, "{who}: {table} shows {n} rows without a context");
        }
        let sql = "INSERT INTO public.notes (body) VALUES ('orphan')";
        assert_sqlstate_in(
            &format!("{who}: {sql}"),
            app.execute(sql, &[]),
            PERMISSION_DENIED,
        );
        let sql = "INSERT INTO public.notes (tenant_id, body) VALUES ($1::text::uuid, 'planted')";
        assert_sqlstate_in(
            &format!("{who}: {sql}"),
            app.execute(sql, &[&f.b.id]),
            PERMISSION_DENIED,
        );
        let sql = "INSERT INTO boards.boards (tenant_id, owner_id, title)
                   VALUES ($1::text::uuid, $2::text::uuid, 'planted')";
        assert_sqlstate_in(
            &format!("{who}: {sql}"),
            app.execute(sql, &[&f.b.id, &f.b.owner_id]),
            PERMISSION_DENIED,
        );
        let n = exec_params(app, "UPDATE public.notes SET body = 'pwned'", &[]);
        assert_eq!(n, 0, "{who}: UPDATE without a context touched rows");
        let n = exec_params(app, "DELETE FROM boards.boards", &[]);
        assert_eq!(n, 0, "{who}: DELETE without a context touched rows");
    }
    f.assert_a_untouched();
    f.assert_b_untouched();
}

// ---------------------------------------------------------------------------------------------
// Ways around a policy
// ---------------------------------------------------------------------------------------------

#[test]
fn disabling_row_level_security_is_refused() {
    let f = fixture();
    let mut app = f.app_as(&f.a);
    for table in TENANT_TABLES {
        for action in ["DISABLE ROW LEVEL SECURITY", "NO FORCE ROW LEVEL SECURITY"] {
            let sql = format!("ALTER TABLE {table} {action}");
            assert_sqlstate_in(&sql, app.batch_execute(&sql), PERMISSION_DENIED);
        }
        let sql = format!("DROP POLICY boards_tenant_isolation ON {table}");
        assert_sqlstate_in(&sql, app.batch_execute(&sql), PERMISSION_DENIED);
        assert_eq!(rls_flags(&f.db, table), (true, true), "{table}");
    }
    // row_security = off makes a query fail rather than bypass the policy.
    exec(&mut app, "SET row_security = off");
    let result = app.query("SELECT * FROM boards.boards", &[]);
    assert_sqlstate(result, PERMISSION_DENIED);
    f.assert_b_untouched();
}

#[test]
fn copy_returns_only_own_rows_and_copy_from_is_refused() {
    let f = fixture();
    let mut app = f.app_as(&f.a);
    for (sql, table) in [
        (
            "COPY boards.boards (tenant_id, id) TO STDOUT",
            "boards.boards",
        ),
        ("COPY public.notes TO STDOUT", "public.notes"),
        (
            "COPY (SELECT tenant_id, id FROM boards.generations) TO STDOUT",
            "boards.generations",
        ),
    ] {
        let mut out = String::new();
        let mut reader = app
            .copy_out(sql)
            .unwrap_or_else(|e| panic!("{sql}: {}", error_text(&e)));
        std::io::Read::read_to_string(&mut reader, &mut out)
            .unwrap_or_else(|e| panic!("{sql}: reading: {e}"));
        let tenants: Vec<String> = out
            .lines()
            .map(|line| line.split('\t').next().unwrap_or_default().to_owned())
            .collect();
        assert_all_of(sql, &tenants, &f.a.id, f.a.rows(table));
    }
    // COPY FROM cannot check WITH CHECK per row: Postgres refuses it on an RLS table.
    let result = app.copy_in("COPY public.notes (tenant_id, body) FROM STDIN");
    match result {
        Err(e) => {
            assert_sqlstate(Err::<(), _>(e), FEATURE_NOT_SUPPORTED);
        }
        Ok(mut writer) => {
            use std::io::Write;
            let line = format!("{}\tplanted\n", f.b.id);
            let _ = writer.write_all(line.as_bytes());
            assert_sqlstate(writer.finish(), FEATURE_NOT_SUPPORTED);
        }
    }
    f.assert_b_untouched();
}

/// `CREATE SCHEMA evil AUTHORIZATION boards_app`: a schema the app controls.
fn give_app_a_schema(f: &Fixture) {
    exec(
        &mut f.db.superuser(),
        "CREATE SCHEMA evil AUTHORIZATION boards_app",
    );
}

#[test]
fn a_view_created_by_the_app_shows_only_own_rows() {
    let f = fixture();
    give_app_a_schema(&f);
    let mut app = f.app_as(&f.a);
    exec(
        &mut app,
        "CREATE VIEW evil.all_boards AS SELECT tenant_id::text AS t FROM boards.boards;
         CREATE VIEW evil.all_notes WITH (security_barrier) AS SELECT tenant_id::text AS t FROM public.notes;",
    );
    let rows = column(&mut app, "SELECT t FROM evil.all_boards");
    assert_all_of("A via view", &rows, &f.a.id, f.a.rows("boards.boards"));
    let rows = column(&mut app, "SELECT t FROM evil.all_notes");
    assert_all_of("A via view", &rows, &f.a.id, f.a.rows("public.notes"));
    // The same view under B's context shows B's rows: it is evaluated per query.
    let mut app_b = f.app_as(&f.b);
    let rows = column(&mut app_b, "SELECT t FROM evil.all_boards");
    assert_all_of("B via view", &rows, &f.b.id, f.b.rows("boards.boards"));
    f.assert_b_untouched();
}

/// What holds for cursors: a cursor's rows are computed with the context in force when its
/// query executes, which is at the first FETCH (not at DECLARE); once started, switching the
/// context does not change which tenant's rows the rest of the cursor returns. A cursor never
/// mixes two tenants' rows.
#[test]
fn a_cursor_reads_with_the_context_in_force_when_it_runs() {
    let f = fixture();
    let mut app = f.app_as(&f.a);
    let mut tx = app
        .transaction()
        .unwrap_or_else(|e| panic!("BEGIN: {}", error_text(&e)));
    tx.batch_execute(
        "DECLARE started CURSOR FOR SELECT tenant_id::text FROM boards.boards;
         DECLARE not_started CURSOR FOR SELECT tenant_id::text FROM boards.boards;",
    )
    .unwrap_or_else(|e| panic!("DECLARE: {}", error_text(&e)));
    let first: Vec<String> = tx
        .query("FETCH 1 FROM started", &[])
        .unwrap_or_else(|e| panic!("FETCH: {}", error_text(&e)))
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_all_of("first FETCH under A", &first, &f.a.id, 1);

    // Switch to B's context inside the same transaction.
    let now: String = tx
        .query_one(
            "SELECT tenant_id::text FROM boards_set_tenant_from_jwt($1)",
            &[&f.b.token],
        )
        .map(|row| row.get(0))
        .unwrap_or_else(|e| panic!("switching to B: {}", error_text(&e)));
    assert_eq!(now, f.b.id);

    let rest: Vec<String> = tx
        .query("FETCH ALL FROM started", &[])
        .unwrap_or_else(|e| panic!("FETCH: {}", error_text(&e)))
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_all_of(
        "rest of the cursor started under A, fetched under B",
        &rest,
        &f.a.id,
        f.a.rows("boards.boards") - 1,
    );
    let late: Vec<String> = tx
        .query("FETCH ALL FROM not_started", &[])
        .unwrap_or_else(|e| panic!("FETCH: {}", error_text(&e)))
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_all_of(
        "cursor declared under A, first fetched under B",
        &late,
        &f.b.id,
        f.b.rows("boards.boards"),
    );
    tx.commit()
        .unwrap_or_else(|e| panic!("COMMIT: {}", error_text(&e)));
    f.assert_b_untouched();
}

/// A WITH HOLD cursor is materialized at COMMIT with the context in force then: after a
/// switch to B it still returns exactly A's rows (never B's), and DISCARD ALL, which a pooler
/// sends between clients, drops it.
#[test]
fn a_with_hold_cursor_keeps_the_rows_computed_at_commit() {
    let f = fixture();
    let mut app = f.app_as(&f.a);
    exec(
        &mut app,
        "BEGIN;
         DECLARE held CURSOR WITH HOLD FOR SELECT tenant_id::text FROM boards.boards;
         COMMIT;",
    );
    set_context(&mut app, &f.b.token);
    let rows = column(&mut app, "FETCH ALL FROM held");
    assert_all_of(
        "WITH HOLD cursor declared under A, read under B",
        &rows,
        &f.a.id,
        f.a.rows("boards.boards"),
    );
    // B's own query in the same session sees B's rows only.
    let rows = column(&mut app, "SELECT tenant_id::text FROM boards.boards");
    assert_all_of(
        "B after the cursor",
        &rows,
        &f.b.id,
        f.b.rows("boards.boards"),
    );

    exec(
        &mut app,
        "BEGIN;
         DECLARE held2 CURSOR WITH HOLD FOR SELECT tenant_id::text FROM boards.boards;
         COMMIT;",
    );
    exec(&mut app, "DISCARD ALL");
    assert_sqlstate(app.query("FETCH ALL FROM held2", &[]), INVALID_CURSOR_NAME);
    f.assert_b_untouched();
}

#[test]
fn a_prepared_statement_uses_the_current_context_on_every_execution() {
    let f = fixture();
    let mut app = f.db.app();
    let boards = app
        .prepare("SELECT tenant_id::text FROM boards.boards")
        .unwrap_or_else(|e| panic!("prepare: {}", error_text(&e)));
    let by_id = app
        .prepare("SELECT tenant_id::text FROM public.notes WHERE id = $1::text::uuid")
        .unwrap_or_else(|e| panic!("prepare: {}", error_text(&e)));
    // More executions than the five after which Postgres may switch to a generic plan.
    for round in 0..8 {
        let tenant = if round % 2 == 0 { &f.a } else { &f.b };
        set_context(&mut app, &tenant.token);
        let rows: Vec<String> = app
            .query(&boards, &[])
            .unwrap_or_else(|e| panic!("execute: {}", error_text(&e)))
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert_all_of(
            &format!("round {round} as {}", tenant.slug),
            &rows,
            &tenant.id,
            tenant.rows("boards.boards"),
        );
        for (owner, note) in [(&f.a, &f.a.notes[0]), (&f.b, &f.b.notes[0])] {
            let found = app
                .query(&by_id, &[note])
                .unwrap_or_else(|e| panic!("execute: {}", error_text(&e)))
                .len();
            let expected = usize::from(owner.id == tenant.id);
            assert_eq!(
                found, expected,
                "round {round} as {}: note of {} found {found} times",
                tenant.slug, owner.slug
            );
        }
    }
    f.assert_b_untouched();
}

/// Rows read by parallel workers only (each row's computing pid is a worker's): exactly A's
/// notes, whether the workers apply the policy alone or also compare each row with their own
/// `boards_current_tenant()`; and the parallel count is A's.
#[test]
fn a_parallel_query_returns_exactly_own_rows() {
    let mut f = fixture();
    f.add_bulk_notes();
    install_worker_probe(&f.db);
    let mut app = f.app_as(&f.a);
    exec(&mut app, FORCE_PARALLEL);
    let own = f.note_ids(&f.a);
    assert!(own.len() as i64 > BULK_NOTES, "fixture: A's notes");
    for rest in [
        "FROM public.notes",
        "FROM public.notes WHERE tenant_id = boards_current_tenant()",
    ] {
        let mut seen: Vec<String> = rows_from_workers(&mut app, "id::text", rest)
            .iter()
            .map(|row| row.get(1))
            .collect();
        seen.sort();
        assert_eq!(seen, own, "{rest}: the rows parallel workers returned");
    }
    let sql = "SELECT count(*) FROM public.notes";
    assert!(workers_launched(&mut app, sql) > 0, "{sql}: not parallel");
    assert_eq!(count(&mut app, sql), own.len() as i64, "parallel count");
    f.assert_b_untouched();
}

#[test]
fn shadowing_boards_current_tenant_in_search_path_changes_nothing() {
    let f = fixture();
    give_app_a_schema(&f);
    let mut app = f.app_as(&f.a);
    exec(
        &mut app,
        &format!(
            "CREATE FUNCTION evil.boards_current_tenant() RETURNS uuid
             LANGUAGE sql STABLE AS $$ SELECT '{}'::uuid $$;
             SET search_path = evil, public, pg_catalog;",
            f.b.id
        ),
    );
    // The shadow is live for unqualified calls...
    assert_eq!(
        query_text(&mut app, "SELECT boards_current_tenant()::text", &[]).as_deref(),
        Some(f.b.id.as_str()),
        "the shadowing function is not what an unqualified call reaches: the test proves nothing"
    );
    // ... but not for the policies and defaults.
    for table in TENANT_TABLES {
        let ids = column(&mut app, &format!("SELECT tenant_id::text FROM {table}"));
        assert_all_of(
            &format!("{table} with the shadow"),
            &ids,
            &f.a.id,
            f.a.rows(table),
        );
    }
    let inserted = text(
        &mut app,
        "INSERT INTO public.notes (body) VALUES ('shadowed') RETURNING tenant_id::text",
        &[],
    );
    assert_eq!(inserted, f.a.id, "the DEFAULT used the shadowing function");
    let result = app.execute(
        "INSERT INTO public.notes (tenant_id, body) VALUES (evil.boards_current_tenant(), 'planted')",
        &[],
    );
    assert_sqlstate(result, PERMISSION_DENIED);
    // Writes with the shadow in place touch only A's rows.
    let n = exec_params(
        &mut app,
        "UPDATE public.notes SET body = 'shadow update'",
        &[],
    );
    assert_eq!(n as i64, f.a.rows("public.notes") + 1);
    f.assert_b_untouched();
}

// ---------------------------------------------------------------------------------------------
// Keys: no side channels
// ---------------------------------------------------------------------------------------------

#[test]
fn a_foreign_key_to_another_tenants_row_fails_without_revealing_it() {
    let f = fixture();
    let mut app = f.app_as(&f.a);
    let unknown = uuid::Uuid::new_v4().to_string();
    let attempt = |app: &mut Client, board: &str| {
        let e = db_error(
            "board_members referencing a board",
            app.execute(
                "INSERT INTO boards.board_members (board_id, user_id)
                 VALUES ($1::text::uuid, $2::text::uuid)",
                &[&board, &f.a.member_id],
            ),
            FOREIGN_KEY_VIOLATION,
        );
        assert_eq!(e.code().code(), FOREIGN_KEY_VIOLATION, "{}", e.message());
        (
            e.message().replace(board, "<id>"),
            e.detail().unwrap_or_default().replace(board, "<id>"),
            e.detail().unwrap_or_default().to_owned(),
        )
    };
    let (b_message, b_detail, b_raw) = attempt(&mut app, &f.b.boards[0]);
    let (u_message, u_detail, _) = attempt(&mut app, &unknown);
    assert_eq!(
        (b_message, b_detail),
        (u_message, u_detail),
        "a reference to B's board is answered differently from one to no board at all"
    );
    assert!(
        !b_raw.contains(&f.b.id) && !b_raw.contains(&f.b.owner_id),
        "the error names B: {b_raw}"
    );
    // Generations referencing B's board and B's user: same refusal.
    let result = app.execute(
        "INSERT INTO boards.generations (board_id, user_id, generator_name, artifact_type)
         VALUES ($1::text::uuid, $2::text::uuid, 'flux', 'image')",
        &[&f.b.boards[0], &f.b.owner_id],
    );
    assert_sqlstate(result, FOREIGN_KEY_VIOLATION);
    f.assert_a_untouched();
    f.assert_b_untouched();
}

#[test]
fn a_point_lookup_uses_the_tenant_led_primary_key() {
    let mut f = fixture();
    let mut admin = f.db.admin();
    for i in 0..18 {
        let slug = format!("bulk-{i}");
        admin
            .query("SELECT boards_tenant_create($1, $2)", &[&slug, &slug])
            .unwrap_or_else(|e| panic!("creating {slug}: {}", error_text(&e)));
    }
    // 20 tenants x 1000 boards, written as superuser (RLS does not apply).
    exec(
        &mut f.db.superuser(),
        "INSERT INTO boards.users (tenant_id, id, auth_subject)
         SELECT id, id, 'bulk-owner' FROM boards.tenants WHERE slug <> 'default';
         INSERT INTO boards.boards (tenant_id, owner_id, title)
         SELECT t.id, t.id, 'bulk ' || g FROM boards.tenants t, generate_series(1, 1000) g
         WHERE t.slug <> 'default';
         ANALYZE boards.boards;",
    );
    let total = count(&mut f.db.superuser(), "SELECT count(*) FROM boards.boards");
    assert!(total >= 20_000, "only {total} boards");
    f.remember();

    let mut app = f.app_as(&f.a);
    let id = &f.a.boards[0];
    let plan = explain(
        &mut app,
        &format!("SELECT * FROM boards.boards WHERE id = '{id}'"),
    );
    let uses_pkey = |plan: &str| {
        plan.contains("Index Scan using boards_pkey")
            || plan.contains("Index Only Scan using boards_pkey")
            || plan.contains("Bitmap Index Scan on boards_pkey")
    };
    assert!(
        uses_pkey(&plan) && !plan.contains("Seq Scan"),
        "point lookup does not use the tenant-led key:\n{plan}"
    );
    // The generic plan of a prepared statement too.
    exec(
        &mut app,
        "SET plan_cache_mode = force_generic_plan;
         PREPARE lookup(uuid) AS SELECT * FROM boards.boards WHERE id = $1;",
    );
    let plan = explain(&mut app, &format!("EXECUTE lookup('{id}')"));
    assert!(
        uses_pkey(&plan) && !plan.contains("Seq Scan"),
        "generic plan of the point lookup does not use the tenant-led key:\n{plan}"
    );
    let found = app
        .query(&format!("EXECUTE lookup('{id}')"), &[])
        .unwrap_or_else(|e| panic!("EXECUTE: {}", error_text(&e)))
        .len();
    assert_eq!(found, 1, "own board by id");
    let found = app
        .query(&format!("EXECUTE lookup('{}')", f.b.boards[0]), &[])
        .unwrap_or_else(|e| panic!("EXECUTE: {}", error_text(&e)))
        .len();
    assert_eq!(found, 0, "B's board by id");
    f.assert_b_untouched();
}

// ---------------------------------------------------------------------------------------------
// boards_tenant_protect / _unprotect / _protected_tables
// ---------------------------------------------------------------------------------------------

/// A fixture where new tables are not auto-protected, so the functions are what protects them.
fn fixture_without_auto_protect() -> Fixture {
    let f = fixture();
    f.db.set("boards.auto_protect", "off");
    f
}

#[test]
fn protect_is_idempotent_and_complete() {
    let f = fixture_without_auto_protect();
    let mut su = f.db.superuser();
    exec(
        &mut su,
        &format!(
            "CREATE TABLE public.items (tenant_id uuid NOT NULL, id uuid DEFAULT gen_random_uuid(),
                                        name text, PRIMARY KEY (tenant_id, id));
             INSERT INTO public.items (tenant_id, name)
             VALUES ('{a}', 'a1'), ('{a}', 'a2'), ('{b}', 'b1');
             GRANT SELECT, INSERT, UPDATE, DELETE ON public.items TO boards_app;",
            a = f.a.id,
            b = f.b.id
        ),
    );
    assert!(
        !is_registered(&f.db, "public.items"),
        "auto_protect = off protected it"
    );
    let mut admin = f.db.admin();
    exec(&mut admin, "SELECT boards_tenant_protect('public.items')");
    let first = catalog_state(&f.db, "public.items");
    exec(&mut admin, "SELECT boards_tenant_protect('public.items')");
    let second = catalog_state(&f.db, "public.items");
    assert_eq!(first, second, "a second protect changed the table");
    exec(
        &mut admin,
        "SELECT boards_tenant_protect('public.items', 'tenant_id')",
    );
    assert_eq!(catalog_state(&f.db, "public.items"), first);
    assert_fully_protected(&mut admin, "public.items");
    let policies = count(
        &mut su,
        "SELECT count(*) FROM pg_policy WHERE polrelid = 'public.items'::regclass",
    );
    assert_eq!(policies, 1, "one policy after protecting twice");

    // And it isolates.
    let mut app = f.app_as(&f.a);
    let rows = column(&mut app, "SELECT tenant_id::text FROM public.items");
    assert_all_of("items as A", &rows, &f.a.id, 2);
    let inserted = text(
        &mut app,
        "INSERT INTO public.items (name) VALUES ('a3') RETURNING tenant_id::text",
        &[],
    );
    assert_eq!(inserted, f.a.id);
    let b_rows = count(
        &mut su,
        &format!(
            "SELECT count(*) FROM public.items WHERE tenant_id = '{}' AND name = 'b1'",
            f.b.id
        ),
    );
    assert_eq!(b_rows, 1);
    f.assert_b_untouched();
}

#[test]
fn protect_adds_an_index_only_when_none_leads_with_the_tenant_column() {
    let f = fixture_without_auto_protect();
    let mut su = f.db.superuser();
    exec(
        &mut su,
        "CREATE TABLE public.led (tenant_id uuid NOT NULL, id int, PRIMARY KEY (tenant_id, id));
         CREATE TABLE public.tail_key (id int, tenant_id uuid NOT NULL, PRIMARY KEY (id, tenant_id));
         CREATE TABLE public.bare (id int, tenant_id uuid);",
    );
    let indexes = |su: &mut Client, table: &str| {
        column(
            su,
            &format!(
                "SELECT pg_get_indexdef(indexrelid) FROM pg_index
                 WHERE indrelid = '{table}'::regclass ORDER BY 1"
            ),
        )
    };
    let led_before = indexes(&mut su, "public.led");
    let mut admin = f.db.admin();
    for table in ["public.led", "public.tail_key", "public.bare"] {
        exec(
            &mut admin,
            &format!("SELECT boards_tenant_protect('{table}')"),
        );
        assert_fully_protected(&mut admin, table);
    }
    assert_eq!(
        indexes(&mut su, "public.led"),
        led_before,
        "an index was added although the primary key leads with tenant_id"
    );
    for table in ["public.tail_key", "public.bare"] {
        let led_by_tenant = count(
            &mut su,
            &format!(
                "SELECT count(*) FROM pg_index i
                 JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
                 WHERE i.indrelid = '{table}'::regclass AND a.attname = 'tenant_id'"
            ),
        );
        assert_eq!(led_by_tenant, 1, "{table}: indexes led by tenant_id");
    }
    f.assert_b_untouched();
}

#[test]
fn protect_refuses_what_it_cannot_protect() {
    let f = fixture_without_auto_protect();
    exec(
        &mut f.db.superuser(),
        "CREATE TABLE public.text_tenant (tenant_id text, id int);
         CREATE TABLE public.no_tenant (id int);
         CREATE VIEW public.notes_view AS SELECT * FROM public.notes;",
    );
    let mut admin = f.db.admin();
    for (sql, table) in [
        (
            "SELECT boards_tenant_protect('public.text_tenant')",
            "public.text_tenant",
        ),
        (
            "SELECT boards_tenant_protect('public.no_tenant')",
            "public.no_tenant",
        ),
        (
            "SELECT boards_tenant_protect('public.no_tenant', 'org_id')",
            "public.no_tenant",
        ),
        (
            "SELECT boards_tenant_protect('public.notes_view')",
            "public.notes_view",
        ),
    ] {
        assert_sqlstate_in(sql, admin.batch_execute(sql), INVALID_PARAMETER);
        assert!(!is_registered(&f.db, table), "{sql} registered {table}");
        assert_eq!(
            rls_flags(&f.db, table),
            (false, false),
            "{sql} changed {table}"
        );
    }
    f.assert_b_untouched();
}

#[test]
fn unprotect_reverses_protect_and_refuses_builtin_tables() {
    let f = fixture_without_auto_protect();
    exec(
        &mut f.db.superuser(),
        "CREATE TABLE public.items (tenant_id uuid, id int, PRIMARY KEY (tenant_id, id))",
    );
    let mut admin = f.db.admin();
    exec(&mut admin, "SELECT boards_tenant_protect('public.items')");
    assert!(is_registered(&f.db, "public.items"));
    exec(&mut admin, "SELECT boards_tenant_unprotect('public.items')");
    assert!(
        !is_registered(&f.db, "public.items"),
        "registry row left behind"
    );
    assert!(protection(&mut admin, "public.items").is_none());
    assert_eq!(
        rls_flags(&f.db, "public.items"),
        (false, false),
        "RLS left on"
    );
    let mut su = f.db.superuser();
    let policies = count(
        &mut su,
        "SELECT count(*) FROM pg_policy WHERE polrelid = 'public.items'::regclass",
    );
    assert_eq!(policies, 0, "policy left behind");
    let defaults = column(
        &mut su,
        "SELECT pg_get_expr(d.adbin, d.adrelid) FROM pg_attrdef d
         JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
         WHERE d.adrelid = 'public.items'::regclass AND a.attname = 'tenant_id'",
    );
    assert!(defaults.is_empty(), "DEFAULT left behind: {defaults:?}");

    // The Boards tables stay protected.
    for table in [
        "boards.boards",
        "boards.users",
        "boards.board_members",
        "boards.generations",
    ] {
        let sql = format!("SELECT boards_tenant_unprotect('{table}')");
        assert_sqlstate_in(&sql, admin.batch_execute(&sql), NOT_IN_PREREQUISITE_STATE);
        assert_fully_protected(&mut admin, table);
    }
    f.assert_b_untouched();
}

#[test]
fn the_app_role_cannot_manage_protection() {
    let f = fixture();
    let mut app = f.app_as(&f.a);
    for sql in [
        "SELECT boards_tenant_protect('public.notes')",
        "SELECT boards_tenant_unprotect('public.notes')",
        "SELECT boards_tenant_unprotect('boards.boards')",
        "SELECT boards_tenant_migrate_table('public.notes')",
        "SELECT * FROM boards_tenant_protected_tables()",
    ] {
        assert_sqlstate_in(sql, app.batch_execute(sql), PERMISSION_DENIED);
    }
    let mut admin = f.db.admin();
    assert_fully_protected(&mut admin, "public.notes");
    f.assert_b_untouched();
}

// ---------------------------------------------------------------------------------------------
// Auto-protection and the DDL guard
// ---------------------------------------------------------------------------------------------

#[test]
fn auto_protect_protects_new_tenant_tables() {
    let f = fixture();
    let mut admin = f.db.admin();
    assert_fully_protected(&mut admin, "public.notes");
    exec(
        &mut f.db.superuser(),
        "CREATE TABLE public.created (tenant_id uuid, id int);
         CREATE TABLE public.altered (id int);
         ALTER TABLE public.altered ADD COLUMN tenant_id uuid;
         CREATE TABLE public.selected AS SELECT tenant_id, body FROM public.notes;",
    );
    for table in ["public.created", "public.altered", "public.selected"] {
        assert_fully_protected(&mut admin, table);
    }
    // CREATE TABLE AS ran as superuser (no RLS): the copy holds both tenants, and A sees its own.
    exec(
        &mut f.db.superuser(),
        "GRANT SELECT ON public.selected TO boards_app",
    );
    let mut app = f.app_as(&f.a);
    let rows = column(&mut app, "SELECT tenant_id::text FROM public.selected");
    assert_all_of(
        "A reading the copy",
        &rows,
        &f.a.id,
        f.a.rows("public.notes"),
    );
    f.assert_b_untouched();
}

#[test]
fn auto_protect_off_leaves_new_tables_alone() {
    let f = fixture();
    f.db.set("boards.auto_protect", "off");
    exec(
        &mut f.db.superuser(),
        "CREATE TABLE public.unguarded (tenant_id uuid, id int)",
    );
    assert!(!is_registered(&f.db, "public.unguarded"));
    assert_eq!(rls_flags(&f.db, "public.unguarded"), (false, false));
    f.assert_b_untouched();
}

#[test]
fn temporary_tables_are_not_auto_protected() {
    let f = fixture();
    let mut app = f.app_as(&f.a);
    exec(
        &mut app,
        "CREATE TEMP TABLE scratch (tenant_id uuid, id int)",
    );
    let registered =
        f.db.superuser()
            .query_one(
                "SELECT count(*) FROM boards.protected_tables r
             JOIN pg_class c ON c.oid = r.tbl WHERE c.relpersistence = 't'",
                &[],
            )
            .map(|row| row.get::<_, i64>(0))
            .unwrap_or_else(|e| panic!("{}", error_text(&e)));
    assert_eq!(registered, 0, "a temporary table was registered");
    let flags: (bool, bool) = app
        .query_one(
            "SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE oid = 'pg_temp.scratch'::regclass",
            &[],
        )
        .map(|row| (row.get(0), row.get(1)))
        .unwrap_or_else(|e| panic!("{}", error_text(&e)));
    assert_eq!(flags, (false, false));
    // And it stays usable as a plain table.
    let n = exec_params(
        &mut app,
        "INSERT INTO scratch VALUES ($1::text::uuid, 1)",
        &[&f.b.id],
    );
    assert_eq!(n, 1);
    f.assert_b_untouched();
}

/// `public.owned`: created and auto-protected by the superuser, rows for A and B, then handed
/// to `boards_app`, which (as owner) is bound by FORCE ROW LEVEL SECURITY.
fn app_owned_table(f: &Fixture) {
    exec(
        &mut f.db.superuser(),
        &format!(
            "CREATE TABLE public.owned (tenant_id uuid, id uuid DEFAULT gen_random_uuid(),
                                        body text, PRIMARY KEY (tenant_id, id));
             INSERT INTO public.owned (tenant_id, body)
             VALUES ('{a}', 'a1'), ('{b}', 'b1'), ('{b}', 'b2');
             ALTER TABLE public.owned OWNER TO boards_app;",
            a = f.a.id,
            b = f.b.id
        ),
    );
}

fn owned_rows_of_b(f: &Fixture) -> Vec<String> {
    column(
        &mut f.db.superuser(),
        &format!(
            "SELECT body FROM public.owned WHERE tenant_id = '{}' ORDER BY body",
            f.b.id
        ),
    )
}

#[test]
fn the_ddl_guard_keeps_an_owned_table_protected() {
    let f = fixture();
    app_owned_table(&f);
    let mut admin = f.db.admin();
    assert_fully_protected(&mut admin, "public.owned");
    let mut app = f.app_as(&f.a);
    let before = owned_rows_of_b(&f);
    for sql in [
        "ALTER TABLE public.owned DISABLE ROW LEVEL SECURITY",
        "ALTER TABLE public.owned NO FORCE ROW LEVEL SECURITY",
        "DROP POLICY boards_tenant_isolation ON public.owned",
        "CREATE POLICY see_all ON public.owned FOR SELECT USING (true)",
        "CREATE POLICY see_all_permissive ON public.owned AS PERMISSIVE FOR ALL TO boards_app USING (true)",
        "ALTER POLICY boards_tenant_isolation ON public.owned USING (true) WITH CHECK (true)",
        "ALTER POLICY boards_tenant_isolation ON public.owned TO boards_admin",
    ] {
        let message = assert_sqlstate_in(sql, app.batch_execute(sql), PERMISSION_DENIED);
        assert!(
            message.contains("protected by boards_tenant"),
            "{sql}: refused for another reason: {message}"
        );
        assert_fully_protected(&mut admin, "public.owned");
    }
    let rows = column(&mut app, "SELECT tenant_id::text FROM public.owned");
    assert_all_of("owner A reading its table", &rows, &f.a.id, 1);
    assert_eq!(
        owned_rows_of_b(&f),
        before,
        "B's rows of public.owned changed"
    );
    f.assert_b_untouched();
}

#[test]
fn grant_truncate_on_a_protected_table_is_revoked_with_a_warning() {
    let f = fixture();
    app_owned_table(&f);
    let before = owned_rows_of_b(&f);
    let truncate_grantees = |f: &Fixture, table: &str| {
        column(
            &mut f.db.superuser(),
            &format!(
                "SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE a.grantee::regrole::text END
                 FROM pg_class c, aclexplode(coalesce(c.relacl, acldefault('r', c.relowner))) a
                 WHERE c.oid = '{table}'::regclass AND a.privilege_type = 'TRUNCATE'
                   AND a.grantee <> 'boards_tenant_admin'::regrole
                   -- superusers bypass privileges: their ACL entry means nothing
                   AND NOT coalesce((SELECT rolsuper FROM pg_roles WHERE oid = a.grantee), false)
                 ORDER BY 1"
            ),
        )
    };

    // By the owner.
    let (mut owner, notices) = connect_recording(&f.db, APP_ROLE);
    set_context(&mut owner, &f.a.token);
    take(&notices);
    exec(&mut owner, "GRANT TRUNCATE ON public.owned TO PUBLIC");
    let warnings = take(&notices);
    assert!(
        warnings.iter().any(|w| w.starts_with("WARNING")
            && w.contains("revoked TRUNCATE")
            && w.contains("public.owned")),
        "no warning about the revoked grant: {warnings:?}"
    );
    assert_eq!(truncate_grantees(&f, "public.owned"), Vec::<String>::new());
    assert_sqlstate(
        owner.batch_execute("TRUNCATE public.owned"),
        PERMISSION_DENIED,
    );
    assert_eq!(
        owned_rows_of_b(&f),
        before,
        "B's rows of public.owned changed"
    );

    // By the superuser, on a Boards table.
    let (mut su, notices) = connect_recording(&f.db, "postgres");
    exec(&mut su, "GRANT TRUNCATE ON boards.boards TO boards_app");
    let warnings = take(&notices);
    assert!(
        warnings.iter().any(|w| w.starts_with("WARNING")
            && w.contains("revoked TRUNCATE")
            && w.contains("boards.boards")),
        "no warning about the revoked grant: {warnings:?}"
    );
    assert_eq!(truncate_grantees(&f, "boards.boards"), Vec::<String>::new());
    let mut app = f.app_as(&f.a);
    assert_sqlstate(
        app.batch_execute("TRUNCATE boards.boards CASCADE"),
        PERMISSION_DENIED,
    );
    f.assert_b_untouched();
}

/// TRUNCATE bypasses row-level security, so the owner of a protected table must not be able
/// to truncate it either (DESIGN: policies bind the owner; policy.rs: "no TRUNCATE for anyone
/// but the admin role").
#[test]
fn the_owner_cannot_truncate_a_protected_table() {
    let f = fixture();
    app_owned_table(&f);
    let before = owned_rows_of_b(&f);
    assert_eq!(before.len(), 2);
    let mut owner = f.app_as(&f.a);
    let result = owner.batch_execute("TRUNCATE public.owned");
    let b_after = owned_rows_of_b(&f);
    assert_eq!(
        b_after, before,
        "the owner, acting for A, wiped B's rows of public.owned with TRUNCATE"
    );
    assert_sqlstate(result, PERMISSION_DENIED);
    f.assert_b_untouched();
}

// ---------------------------------------------------------------------------------------------
// boards_tenant_migrate_table
// ---------------------------------------------------------------------------------------------

#[test]
fn migrate_table_moves_single_tenant_rows_to_the_default_tenant() {
    let f = fixture();
    exec(
        &mut f.db.superuser(),
        "CREATE TABLE public.legacy (id int PRIMARY KEY, body text);
         INSERT INTO public.legacy SELECT g, 'row ' || g FROM generate_series(1, 25) g;
         GRANT SELECT, INSERT ON public.legacy TO boards_app;",
    );
    let mut admin = f.db.admin();
    let assigned: i64 = admin
        .query_one("SELECT boards_tenant_migrate_table('public.legacy')", &[])
        .map(|row| row.get(0))
        .unwrap_or_else(|e| panic!("boards_tenant_migrate_table: {}", error_text(&e)));
    assert_eq!(assigned, 25, "rows reported as assigned");

    let mut su = f.db.superuser();
    let by_tenant = column(
        &mut su,
        "SELECT coalesce(tenant_id::text, 'NULL') || ' ' || count(*) FROM public.legacy GROUP BY tenant_id ORDER BY 1",
    );
    assert_eq!(by_tenant, [format!("{DEFAULT_TENANT_ID} 25")]);
    let not_null = count(
        &mut su,
        "SELECT count(*) FROM pg_attribute WHERE attrelid = 'public.legacy'::regclass
         AND attname = 'tenant_id' AND attnotnull",
    );
    assert_eq!(not_null, 1, "tenant_id is not NOT NULL");
    assert_fully_protected(&mut admin, "public.legacy");

    let mut default = f.db.app();
    let (tenant, _) = set_context(&mut default, &token_for("legacy-user", "default"));
    assert_eq!(tenant, DEFAULT_TENANT_ID);
    assert_eq!(
        count(&mut default, "SELECT count(*) FROM public.legacy"),
        25
    );
    let mut app = f.app_as(&f.a);
    assert_eq!(count(&mut app, "SELECT count(*) FROM public.legacy"), 0);
    let inserted = text(
        &mut app,
        "INSERT INTO public.legacy (id, body) VALUES (1000, 'new') RETURNING tenant_id::text",
        &[],
    );
    assert_eq!(
        inserted, f.a.id,
        "new rows after the migration go to the context's tenant"
    );
    f.assert_b_untouched();
}

#[test]
fn migrate_table_backfills_null_tenant_ids() {
    let f = fixture();
    // As it would be before the extension: an unprotected table with a tenant column.
    f.db.set("boards.auto_protect", "off");
    // Enough rows for more than one backfill batch (1024 pages each).
    exec(
        &mut f.db.superuser(),
        &format!(
            "CREATE TABLE public.half (id int PRIMARY KEY, tenant_id uuid, body text);
             INSERT INTO public.half (id, tenant_id, body)
             SELECT g, NULL, repeat('x', 100) FROM generate_series(1, 120000) g;
             INSERT INTO public.half (id, tenant_id, body)
             SELECT g, '{a}', 'a' FROM generate_series(200001, 200005) g;
             GRANT SELECT ON public.half TO boards_app;",
            a = f.a.id
        ),
    );
    let pages = count(
        &mut f.db.superuser(),
        "SELECT pg_relation_size('public.half') / current_setting('block_size')::bigint",
    );
    assert!(pages > 1024, "only {pages} pages: a single batch");
    assert!(!is_registered(&f.db, "public.half"));

    let mut admin = f.db.admin();
    let assigned: i64 = admin
        .query_one("SELECT boards_tenant_migrate_table('public.half')", &[])
        .map(|row| row.get(0))
        .unwrap_or_else(|e| panic!("boards_tenant_migrate_table: {}", error_text(&e)));
    assert_eq!(assigned, 120_000, "rows reported as assigned");
    let by_tenant = column(
        &mut f.db.superuser(),
        "SELECT coalesce(tenant_id::text, 'NULL') || ' ' || count(*) FROM public.half GROUP BY tenant_id ORDER BY 1",
    );
    let mut expected = vec![
        format!("{DEFAULT_TENANT_ID} 120000"),
        format!("{} 5", f.a.id),
    ];
    expected.sort();
    assert_eq!(by_tenant, expected);
    assert_fully_protected(&mut admin, "public.half");
    let mut app = f.app_as(&f.a);
    assert_eq!(count(&mut app, "SELECT count(*) FROM public.half"), 5);
    f.assert_b_untouched();
}

// ---------------------------------------------------------------------------------------------
// boards_ensure_tenant_isolation
// ---------------------------------------------------------------------------------------------

const ENSURE: &str =
    "SELECT boards_ensure_tenant_isolation($1::text::uuid, $2::text::uuid, $3, $4::text::uuid)";

fn ensure(
    app: &mut Client,
    user: Option<&str>,
    tenant: &str,
    resource_type: &str,
    resource: Option<&str>,
) -> Result<(), postgres::Error> {
    app.query(ENSURE, &[&user, &tenant, &resource_type, &resource])
        .map(|_| ())
}

#[track_caller]
fn assert_denied(what: &str, result: Result<(), postgres::Error>) -> Option<String> {
    let e = db_error(what, result, PERMISSION_DENIED);
    assert_eq!(
        e.code().code(),
        PERMISSION_DENIED,
        "{what}: {}",
        e.message()
    );
    assert_eq!(e.message(), "Access denied", "{what}");
    e.detail().map(str::to_owned)
}

#[test]
fn ensure_isolation_passes_for_own_user_and_board() {
    let f = fixture();
    let mut app = f.app_as(&f.a);
    for (user, kind, resource) in [
        (
            Some(f.a.owner_id.as_str()),
            "board",
            Some(f.a.boards[0].as_str()),
        ),
        (
            Some(f.a.member_id.as_str()),
            "board",
            Some(f.a.boards[1].as_str()),
        ),
        (
            Some(f.a.owner_id.as_str()),
            "user",
            Some(f.a.member_id.as_str()),
        ),
        (Some(f.a.owner_id.as_str()), "board", None),
        (None, "board", Some(f.a.boards[0].as_str())),
    ] {
        ensure(&mut app, user, &f.a.id, kind, resource)
            .unwrap_or_else(|e| panic!("{user:?} {kind} {resource:?}: {}", error_text(&e)));
    }
    f.assert_b_untouched();
}

#[test]
fn ensure_isolation_denies_another_tenants_user_or_tenant() {
    let f = fixture();
    let mut app = f.app_as(&f.a);
    for (what, user, tenant, resource) in [
        (
            "B's user in A",
            Some(f.b.owner_id.as_str()),
            f.a.id.as_str(),
            None,
        ),
        (
            "A's user in B",
            Some(f.a.owner_id.as_str()),
            f.b.id.as_str(),
            None,
        ),
        (
            "B's user, B's board, asked by A",
            Some(f.b.owner_id.as_str()),
            f.b.id.as_str(),
            Some(f.b.boards[0].as_str()),
        ),
        (
            "no user, tenant B, asked by A",
            None,
            f.b.id.as_str(),
            Some(f.b.boards[0].as_str()),
        ),
    ] {
        let detail = assert_denied(what, ensure(&mut app, user, tenant, "board", resource));
        assert_eq!(
            detail.as_deref(),
            Some("User does not belong to tenant"),
            "{what}"
        );
    }
    // Whether B's board exists or not makes no difference to A.
    let unknown = uuid::Uuid::new_v4().to_string();
    let real = assert_denied(
        "real",
        ensure(&mut app, None, &f.b.id, "board", Some(&f.b.boards[0])),
    );
    let fake = assert_denied(
        "fake",
        ensure(&mut app, None, &f.b.id, "board", Some(&unknown)),
    );
    assert_eq!(real, fake);
    f.assert_b_untouched();
}

#[test]
fn ensure_isolation_names_the_resource_for_another_tenants_board() {
    let f = fixture();
    let mut app = f.app_as(&f.a);
    let board = &f.b.boards[0];
    let detail = assert_denied(
        "B's board in A",
        ensure(&mut app, Some(&f.a.owner_id), &f.a.id, "board", Some(board)),
    )
    .unwrap_or_default();
    assert!(
        detail.contains("board") && detail.contains(board.as_str()),
        "the detail does not name the resource: {detail}"
    );
    assert!(!detail.contains(&f.b.id), "the detail names B: {detail}");
    let detail = assert_denied(
        "B's generation in A",
        ensure(
            &mut app,
            Some(&f.a.owner_id),
            &f.a.id,
            "generation",
            Some(board),
        ),
    )
    .unwrap_or_default();
    assert!(detail.contains("generation"), "{detail}");
    f.assert_b_untouched();
}

#[test]
fn ensure_isolation_accepts_a_protected_app_table_as_resource_type() {
    let f = fixture();
    let mut app = f.app_as(&f.a);
    ensure(
        &mut app,
        Some(&f.a.owner_id),
        &f.a.id,
        "public.notes",
        Some(&f.a.notes[0]),
    )
    .unwrap_or_else(|e| panic!("own note: {}", error_text(&e)));
    let detail = assert_denied(
        "B's note in A",
        ensure(
            &mut app,
            Some(&f.a.owner_id),
            &f.a.id,
            "public.notes",
            Some(&f.b.notes[0]),
        ),
    )
    .unwrap_or_default();
    assert!(detail.contains(f.b.notes[0].as_str()), "{detail}");
    f.assert_b_untouched();
}

/// The application names its table as it knows it, `notes`, resolved like any table name in
/// its session (`search_path`), not only schema-qualified.
#[test]
fn ensure_isolation_resolves_an_unqualified_table_name() {
    let f = fixture();
    let mut app = f.app_as(&f.a);
    ensure(
        &mut app,
        Some(&f.a.owner_id),
        &f.a.id,
        "notes",
        Some(&f.a.notes[0]),
    )
    .unwrap_or_else(|e| panic!("own note as 'notes': {}", error_text(&e)));
    assert_denied(
        "B's note as 'notes'",
        ensure(
            &mut app,
            Some(&f.a.owner_id),
            &f.a.id,
            "notes",
            Some(&f.b.notes[0]),
        ),
    );
    f.assert_b_untouched();
}

#[test]
fn ensure_isolation_refuses_unknown_resource_types() {
    let f = fixture();
    let mut app = f.app_as(&f.a);
    for kind in ["spaceship", "boards.tenants", "public.no_such_table"] {
        assert_sqlstate_in(
            kind,
            ensure(
                &mut app,
                Some(&f.a.owner_id),
                &f.a.id,
                kind,
                Some(&f.a.boards[0]),
            ),
            INVALID_PARAMETER,
        );
    }
    f.assert_b_untouched();
}
