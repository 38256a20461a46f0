//! Crash safety: a backend killed with SIGKILL in the middle of one of the
//! extension's multi-statement operations leaves nothing half-done behind. A killed backend
//! makes the postmaster end every other backend and run crash recovery from the WAL, so each
//! test runs on a private cluster of its own, waits for the recovery, checks in the server log
//! that the only crash was the SIGKILL it sent, and then checks the data as superuser.
//!
//! Each operation is stopped at a known point before it is killed: registration blocks on a
//! table lock that another session holds (the tenant row is written, the owner or sample rows
//! are not yet), and the migration is killed after its first progress NOTICE (its first batch
//! of rows is backfilled, the rest is not).

use std::process::Command;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use boards_tenant_harness::jwt::{self, mint, test_kid};
use boards_tenant_harness::postgres::{Client, Config, NoTls};
use boards_tenant_harness::{Cluster, ClusterOptions, TestDb, ADMIN_ROLE, SUPERUSER};
use boards_tenant_tests::{count, error_text, exec, waits};
use serde_json::json;

/// The `default` tenant's fixed id (sql/schema.sql).
const DEFAULT_TENANT_ID: &str = "00000000-0000-0000-0000-000000000000";
/// How long crash recovery and the waits for a blocked operation may take.
const PATIENCE: Duration = Duration::from_secs(120);

#[track_caller]
fn text(client: &mut Client, sql: &str) -> String {
    client
        .query_one(sql, &[])
        .map(|row| row.get::<_, Option<String>>(0).unwrap_or_default())
        .unwrap_or_else(|e| panic!("{sql}: {}", error_text(&e)))
}

fn backend_pid(client: &mut Client) -> i32 {
    client
        .query_one("SELECT pg_backend_pid()", &[])
        .map(|row| row.get(0))
        .unwrap_or_else(|e| panic!("pg_backend_pid(): {}", error_text(&e)))
}

/// A private cluster (a crash ends every backend of its cluster) whose commits survive a
/// crash: the harness's `synchronous_commit = off` acknowledges commits whose WAL still sits
/// in shared memory, which the postmaster discards when it reinitialises after a backend
/// crash, so committed set-up data would vanish with it.
fn crash_cluster() -> Cluster {
    Cluster::start(ClusterOptions {
        extra_conf: vec![("synchronous_commit".into(), "on".into())],
        ..ClusterOptions::default()
    })
}

/// Polls `done` until it holds; panics with `what` after [`PATIENCE`].
#[track_caller]
fn wait_for(what: &str, done: impl FnMut() -> bool) {
    waits::until(what, PATIENCE, done);
}

/// Sends SIGKILL to a server backend, crashes it as the OOM killer would.
fn kill_backend(pid: i32) {
    let output = Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .output()
        .unwrap_or_else(|e| panic!("running kill: {e}"));
    assert!(
        output.status.success(),
        "kill -KILL {pid} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Waits until the postmaster has reinitialised after the crash that the log shows after
/// byte `log_offset`, and accepts connections again.
fn wait_for_recovery(cluster: &Cluster, log_offset: usize) {
    wait_for("crash recovery to finish", || {
        let log = cluster.server_log();
        let after = log.get(log_offset..).unwrap_or("");
        after
            .find("all server processes terminated; reinitializing")
            .is_some_and(|at| {
                after[at..].contains("database system is ready to accept connections")
            })
    });
    wait_for("a connection after recovery", || {
        cluster
            .connect_to("postgres", SUPERUSER, None)
            .and_then(|mut c| c.batch_execute("SELECT 1"))
            .is_ok()
    });
}

/// The server log after `log_offset` shows exactly one crash: backend `pid`, ended by signal 9
/// (ours) while running a statement that contains `statement`; no PANIC, no other backend
/// that died on its own.
#[track_caller]
fn assert_crash_was_our_sigkill(cluster: &Cluster, log_offset: usize, pid: i32, statement: &str) {
    let log = cluster.server_log();
    let after = log.get(log_offset..).unwrap_or("");
    let ours = format!("server process (PID {pid}) was terminated by signal 9: Killed");
    assert!(after.contains(&ours), "the log lacks {ours:?}:\n{after}");
    let crashes: Vec<&str> = after
        .lines()
        .filter(|line| {
            line.contains("was terminated by signal")
                || line.contains("was terminated by exception")
                || (line.contains("process (PID") && line.contains("exited with exit code"))
        })
        .collect();
    assert_eq!(crashes.len(), 1, "more than our crash in the log:\n{after}");
    let failed = after
        .lines()
        .skip_while(|line| !line.contains(&ours))
        .nth(1)
        .unwrap_or("");
    assert!(
        failed.contains("Failed process was running:") && failed.contains(statement),
        "the killed backend was not running {statement:?}: {failed:?}\n{after}"
    );
    eprintln!("crash in the server log: {ours}; {}", failed.trim());
    for bad in [
        "PANIC:",
        "TRAP:",
        "server process was terminated by exception",
    ] {
        assert!(!after.contains(bad), "{bad} in the log:\n{after}");
    }
    assert!(
        after.contains("automatic recovery in progress"),
        "no crash recovery ran:\n{after}"
    );
}

/// Rows per Boards table, and the tenants' slugs, as superuser.
fn tenant_data(db: &TestDb) -> Vec<String> {
    let mut su = db.superuser();
    let mut state: Vec<String> = [
        "boards.tenants",
        "boards.users",
        "boards.boards",
        "boards.board_members",
        "boards.generations",
    ]
    .iter()
    .map(|table| {
        format!(
            "{table}: {}",
            count(&mut su, &format!("SELECT count(*) FROM {table}"))
        )
    })
    .collect();
    state.push(text(
        &mut su,
        "SELECT string_agg(slug, ',' ORDER BY slug) FROM boards.tenants",
    ));
    state
}

/// No half-made tenant: every tenant but `default` has an owner, and no row of a Boards table
/// belongs to a tenant that does not exist.
#[track_caller]
fn assert_no_half_made_tenant(db: &TestDb) {
    let mut su = db.superuser();
    let ownerless = text(
        &mut su,
        "SELECT string_agg(t.slug, ', ') FROM boards.tenants t
         WHERE t.slug <> 'default'
           AND NOT EXISTS (SELECT FROM boards.users u WHERE u.tenant_id = t.id AND u.role = 'owner')",
    );
    assert_eq!(ownerless, "", "tenants without an owner");
    for table in [
        "boards.users",
        "boards.boards",
        "boards.board_members",
        "boards.generations",
    ] {
        let orphans = count(
            &mut su,
            &format!(
                "SELECT count(*) FROM {table} x
                 WHERE NOT EXISTS (SELECT FROM boards.tenants t WHERE t.id = x.tenant_id)"
            ),
        );
        assert_eq!(orphans, 0, "{table}: rows of tenants that do not exist");
    }
}

const REGISTER: &str = "SELECT boards_tenant_register('Crash Co', 'owner@crash.example', \
     organization_slug => 'crash-co', include_sample_data => true)";

/// A `boards_app` connection authenticated as `founder`, who registers `crash-co`.
fn founder(db: &TestDb) -> Client {
    let token = mint(
        "HS256",
        &test_kid("HS256"),
        &json!({
            "sub": "founder",
            "email": "owner@crash.example",
            "email_verified": true,
            "exp": jwt::now() + 3600,
        }),
    );
    let mut app = db.app();
    app.query_one("SELECT boards_authenticate($1)", &[&token])
        .unwrap_or_else(|e| panic!("boards_authenticate: {}", error_text(&e)));
    app
}

/// Whether backend `pid` waits for a lock on `table` while holding a granted lock on
/// `holding` (the table it has written to already).
fn blocked_on(su: &mut Client, pid: i32, table: &str, holding: &str) -> bool {
    su.query_one(
        "SELECT EXISTS (SELECT FROM pg_locks WHERE pid = $1 AND NOT granted
                          AND relation = $2::text::regclass)
            AND EXISTS (SELECT FROM pg_locks WHERE pid = $1 AND granted
                          AND relation = $3::text::regclass AND mode = 'RowExclusiveLock')",
        &[&pid, &table, &holding],
    )
    .map(|row| row.get(0))
    .unwrap_or_else(|e| panic!("pg_locks: {}", error_text(&e)))
}

/// A registration killed half-way leaves no tenant behind: killed after the tenant row was
/// written but before its owner's (blocked on `boards.users`), and again after the owner and
/// the first sample rows but before the last sample row (blocked on `boards.generations`).
/// After each crash there is no `crash-co`, no tenant without an owner, no orphan row, and
/// every table has exactly its rows from before; then the same registration succeeds.
#[test]
fn a_registration_killed_half_way_leaves_no_half_made_tenant() {
    let cluster = crash_cluster();
    let db = cluster.create_database();
    db.set("boards.multi_tenant_mode", "on");
    jwt::install_test_keys(&mut db.admin());
    exec(
        &mut db.admin(),
        "SELECT boards_tenant_create('Bystander', 'bystander', include_sample_data => true);
         SELECT boards_tenant_add_member('bystander', 'boss', 'owner');",
    );

    for (blocked_table, written_table) in [
        ("boards.users", "boards.tenants"),
        ("boards.generations", "boards.board_members"),
    ] {
        let before = tenant_data(&db);
        let mut registrant = founder(&db);
        let pid = backend_pid(&mut registrant);
        let mut blocker = db.superuser();
        exec(
            &mut blocker,
            &format!("BEGIN; LOCK TABLE {blocked_table} IN SHARE MODE"),
        );
        let registration = thread::spawn(move || {
            registrant
                .query_one(REGISTER, &[])
                .map(|row| row.get::<_, serde_json::Value>(0))
        });
        let mut su = db.superuser();
        wait_for(
            &format!("the registration to block on {blocked_table}"),
            || blocked_on(&mut su, pid, blocked_table, written_table),
        );

        let log_offset = cluster.server_log().len();
        kill_backend(pid);
        let result = registration
            .join()
            .unwrap_or_else(|e| std::panic::resume_unwind(e));
        assert!(
            result.is_err(),
            "the registration finished although it was killed: {result:?}"
        );
        drop((blocker, su));
        wait_for_recovery(&cluster, log_offset);
        assert_crash_was_our_sigkill(&cluster, log_offset, pid, "boards_tenant_register");

        assert_no_half_made_tenant(&db);
        assert_eq!(
            tenant_data(&db),
            before,
            "killed while blocked on {blocked_table}: the tables changed"
        );
    }

    // Nothing is left in the way of the same registration.
    let response = founder(&db)
        .query_one(REGISTER, &[])
        .map(|row| row.get::<_, serde_json::Value>(0))
        .unwrap_or_else(|e| panic!("registering after the crashes: {}", error_text(&e)));
    assert_eq!(response["tenant_slug"], "crash-co", "{response}");
    let mut su = db.superuser();
    let rows = |su: &mut Client, table: &str| {
        count(
            su,
            &format!(
                "SELECT count(*) FROM {table} x JOIN boards.tenants t ON t.id = x.tenant_id
                 WHERE t.slug = 'crash-co'"
            ),
        )
    };
    assert_eq!(
        text(
            &mut su,
            "SELECT string_agg(u.role || ':' || u.auth_subject, ',' ORDER BY u.role)
             FROM boards.users u JOIN boards.tenants t ON t.id = u.tenant_id
             WHERE t.slug = 'crash-co'"
        ),
        "member:sample-user,owner:founder"
    );
    for table in [
        "boards.boards",
        "boards.board_members",
        "boards.generations",
    ] {
        assert_eq!(rows(&mut su, table), 1, "{table}: sample rows of crash-co");
    }
    assert_no_half_made_tenant(&db);
}

/// Catalog facts about `public.legacy` that a migration changes, and a digest of its rows.
fn legacy_state(su: &mut Client) -> Vec<String> {
    [
        "SELECT count(*)::text || ' rows, ' || count(tenant_id)::text || ' with a tenant, md5 '
                || md5(string_agg(id::text || ':' || coalesce(tenant_id::text, '-') || ':' || body,
                                  ',' ORDER BY id))
         FROM public.legacy",
        "SELECT format('rls=%s force=%s', relrowsecurity, relforcerowsecurity)
         FROM pg_class WHERE oid = 'public.legacy'::regclass",
        "SELECT format('not null=%s default=%s', a.attnotnull,
                       coalesce(pg_get_expr(d.adbin, d.adrelid), '-'))
         FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
         WHERE a.attrelid = 'public.legacy'::regclass AND a.attname = 'tenant_id'",
        "SELECT coalesce(string_agg(indexdef, '; ' ORDER BY indexdef), '-')
         FROM pg_indexes WHERE schemaname = 'public' AND tablename = 'legacy'",
        "SELECT coalesce(string_agg(pg_get_constraintdef(oid), '; ' ORDER BY conname), '-')
         FROM pg_constraint WHERE conrelid = 'public.legacy'::regclass",
        "SELECT 'policies ' || count(*) FROM pg_policy WHERE polrelid = 'public.legacy'::regclass",
        "SELECT 'registered ' || count(*) FROM boards.protected_tables
         WHERE tbl = 'public.legacy'::regclass",
    ]
    .iter()
    .map(|sql| text(su, sql))
    .collect()
}

/// `boards_tenant_migrate_table` on 300,000 rows with a NULL `tenant_id`, killed after its
/// first progress NOTICE (its first batch of rows backfilled): after recovery the table is
/// exactly as before — no tenant ids set, not registered, no policy, no default, no new index
/// or key, row for row the same data — and running the migration again completes it.
#[test]
fn a_migration_killed_half_way_leaves_the_table_as_it_was() {
    const ROWS: i64 = 300_000;
    let cluster = crash_cluster();
    let db = cluster.create_database();
    let mut su = db.superuser();
    // An unprotected table with a tenant column, as it would be before the extension.
    exec(
        &mut su,
        &format!(
            "SET boards.auto_protect = off;
             CREATE TABLE public.legacy (id int PRIMARY KEY, tenant_id uuid, body text);
             INSERT INTO public.legacy (id, tenant_id, body)
             SELECT g, NULL, repeat('x', 100) FROM generate_series(1, {ROWS}) g;"
        ),
    );
    exec(&mut su, "VACUUM ANALYZE public.legacy");
    let before = legacy_state(&mut su);
    assert_eq!(before[6], "registered 0");
    assert!(before[0].starts_with(&format!("{ROWS} rows, 0 with a tenant")));

    let (notices, progress) = mpsc::channel::<String>();
    let mut migrator = Config::new()
        .host(cluster.host())
        .port(cluster.port())
        .user(ADMIN_ROLE)
        .dbname(db.name())
        .notice_callback(move |notice| {
            let _ = notices.send(notice.message().to_owned());
        })
        .connect(NoTls)
        .unwrap_or_else(|e| panic!("connecting as {ADMIN_ROLE}: {}", error_text(&e)));
    let pid = backend_pid(&mut migrator);
    let migration = thread::spawn(move || {
        migrator
            .query_one("SELECT boards_tenant_migrate_table('public.legacy')", &[])
            .map(|row| row.get::<_, i64>(0))
    });

    let first = loop {
        let notice = progress
            .recv_timeout(PATIENCE)
            .unwrap_or_else(|e| panic!("no progress NOTICE from the migration: {e}"));
        if notice.contains("pages scanned") {
            break notice;
        }
    };
    let log_offset = cluster.server_log().len();
    kill_backend(pid);
    let result = migration
        .join()
        .unwrap_or_else(|e| std::panic::resume_unwind(e));
    assert!(
        result.is_err(),
        "the migration finished before it was killed ({first}): make the table bigger"
    );
    // The first batch was done when the NOTICE came: the kill hit a half-migrated table.
    let scanned: Vec<i64> = first
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|n| n.parse().ok())
        .collect();
    assert!(
        matches!(scanned.as_slice(), [done, total, assigned, ..] if done < total && *assigned > 0),
        "the first progress NOTICE does not say it was part-way: {first}"
    );
    eprintln!("killed the migration after: {first}");
    drop(su);
    wait_for_recovery(&cluster, log_offset);
    assert_crash_was_our_sigkill(&cluster, log_offset, pid, "boards_tenant_migrate_table");

    let mut su = db.superuser();
    assert_eq!(
        legacy_state(&mut su),
        before,
        "the killed migration left changes behind (after {first})"
    );

    // Running it again works, with every row going to the default tenant.
    let assigned: i64 = db
        .admin()
        .query_one("SELECT boards_tenant_migrate_table('public.legacy')", &[])
        .map(|row| row.get(0))
        .unwrap_or_else(|e| panic!("migrating again: {}", error_text(&e)));
    assert_eq!(assigned, ROWS);
    assert_eq!(
        count(
            &mut su,
            &format!("SELECT count(*) FROM public.legacy WHERE tenant_id = '{DEFAULT_TENANT_ID}'")
        ),
        ROWS
    );
    let after = legacy_state(&mut su);
    assert_eq!(after[1], "rls=t force=t");
    assert_eq!(after[5], "policies 1");
    assert_eq!(after[6], "registered 1");
}
