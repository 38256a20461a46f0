//! PgBouncer: the tenant context behind a connection pooler. DESIGN section
//! 1, item 5: a transaction-scoped context (`is_local => true`) ends with its transaction,
//! commit or abort; a session-scoped one ends with `DISCARD ALL`, which PgBouncer sends
//! between clients in session mode. Everything runs as `boards_app` through the harness's
//! PgBouncer; the checks afterwards read the tables directly as superuser.
//!
//! The soak's size comes from the environment: `BOARDS_SOAK_CLIENTS` (default 64),
//! `BOARDS_SOAK_TENANTS` (default 100), `BOARDS_SOAK_TRANSACTIONS` (total, default 20000). The
//! full run:
//!
//! ```sh
//! cd /work/main && BOARDS_SOAK_TRANSACTIONS=200000 CARGO_TARGET_DIR=/tmp/target-tests \
//!     cargo test -p boards_tenant_tests --test pooling transaction_pooling_soak -- --nocapture
//! ```
//!
//! Through transaction pooling, a client's next statement may run on another server connection:
//! outside `BEGIN ... COMMIT` these tests use only unnamed statements (`query_typed`,
//! `simple_query`), as an application behind such a pooler must.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::Instant;

use boards_tenant_harness::jwt::{self, mint, test_kid};
use boards_tenant_harness::pgbouncer::{PgBouncer, PgBouncerOptions, PoolMode};
use boards_tenant_harness::postgres::types::Type;
use boards_tenant_harness::postgres::{Client, SimpleQueryMessage};
use boards_tenant_harness::{Cluster, TestDb, APP_ROLE};
use boards_tenant_tests::{assert_sqlstate, assert_sqlstate_in, error_text, exec, waits};
use serde_json::json;
use uuid::Uuid;

// SQLSTATE unique_violation.
use boards_tenant_tests::sqlstate::UNIQUE_VIOLATION;
// SQLSTATE object_not_in_prerequisite_state: a session-scoped context under
// `boards.require_local_context`.
use boards_tenant_tests::sqlstate::OBJECT_NOT_IN_PREREQUISITE_STATE as NOT_IN_PREREQUISITE_STATE;
// SQLSTATE insufficient_privilege.
use boards_tenant_tests::sqlstate::INSUFFICIENT_PRIVILEGE as PERMISSION_DENIED;
// SQLSTATE division_by_zero: the error a test provokes to abort a transaction.
use boards_tenant_tests::sqlstate::DIVISION_BY_ZERO;

const SET_LOCAL: &str = "SELECT tenant_id FROM boards_set_tenant_from_jwt($1, NULL, true)";
const SET_SESSION: &str = "SELECT tenant_id FROM boards_set_tenant_from_jwt($1, NULL, false)";

/// One tenant of a fixture: `soak-<n>`, with one subject (`soak-user-<n>`) whose token names it.
#[derive(Clone)]
struct Tenant {
    slug: String,
    id: Uuid,
    token: String,
}

/// A database in multi-tenant mode with the test keys, `tenants` tenants, and `public.soak`
/// created by the superuser (so auto-protected) and granted to `boards_app`.
fn setup(tenants: usize) -> (TestDb<'static>, Vec<Tenant>) {
    let db = Cluster::shared().create_database();
    db.set("boards.multi_tenant_mode", "on");
    let mut admin = db.admin();
    jwt::install_test_keys(&mut admin);
    let create: String = (0..tenants)
        .map(|n| format!("SELECT boards_tenant_create('Soak {n}', 'soak-{n}');"))
        .collect();
    admin
        .batch_execute(&create)
        .unwrap_or_else(|e| panic!("creating tenants: {}", error_text(&e)));

    let mut su = db.superuser();
    su.batch_execute(
        "CREATE TABLE public.soak (
             tenant_id uuid,
             id uuid DEFAULT gen_random_uuid(),
             client int,
             seq int,
             body text,
             PRIMARY KEY (tenant_id, id)
         );
         GRANT SELECT, INSERT ON public.soak TO boards_app;",
    )
    .unwrap_or_else(|e| panic!("creating public.soak: {}", error_text(&e)));
    let protected: i64 = su
        .query_one(
            "SELECT count(*) FROM boards.protected_tables WHERE tbl = 'public.soak'::regclass",
            &[],
        )
        .map(|row| row.get(0))
        .unwrap_or_else(|e| panic!("{}", error_text(&e)));
    assert_eq!(protected, 1, "public.soak was not auto-protected");

    let ids: HashMap<String, Uuid> = su
        .query(
            "SELECT slug, id FROM boards.tenants WHERE slug LIKE 'soak-%'",
            &[],
        )
        .unwrap_or_else(|e| panic!("{}", error_text(&e)))
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    let exp = jwt::now() + 7 * 24 * 3600;
    let tenants = (0..tenants)
        .map(|n| {
            let slug = format!("soak-{n}");
            let token = mint(
                "HS256",
                &test_kid("HS256"),
                &json!({"iat": jwt::now(), "sub": format!("soak-user-{n}"), "tenant": slug, "exp": exp}),
            );
            Tenant {
                id: *ids
                    .get(&slug)
                    .unwrap_or_else(|| panic!("tenant {slug} was not created")),
                slug,
                token,
            }
        })
        .collect();
    (db, tenants)
}

/// `rows` rows in `public.soak` for each tenant, written directly by the superuser.
fn seed(db: &TestDb, tenants: &[Tenant], rows: i32) {
    let mut su = db.superuser();
    for tenant in tenants {
        su.execute(
            "INSERT INTO public.soak (tenant_id, client, seq, body)
             SELECT $1, -1, g, 'seed' FROM generate_series(1, $2) g",
            &[&tenant.id, &rows],
        )
        .unwrap_or_else(|e| panic!("seeding {}: {}", tenant.slug, error_text(&e)));
    }
}

/// Rows of `tenant` in `public.soak`, counted by the superuser.
fn rows_of(db: &TestDb, tenant: &Tenant) -> i64 {
    db.superuser()
        .query_one(
            "SELECT count(*) FROM public.soak WHERE tenant_id = $1",
            &[&tenant.id],
        )
        .map(|row| row.get(0))
        .unwrap_or_else(|e| panic!("{}", error_text(&e)))
}

fn env_usize(name: &str, default: usize) -> usize {
    match std::env::var(name) {
        Ok(value) => value
            .parse()
            .unwrap_or_else(|e| panic!("{name}={value:?}: {e}")),
        Err(_) => default,
    }
}

/// xorshift64*: a seeded, reproducible choice of tenants and transaction kinds.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 33) as usize % n
    }
}

/// The values of the first row of a simple query (NULL is `None`): unnamed, one round trip,
/// safe through transaction pooling outside a transaction.
#[track_caller]
fn simple_row(client: &mut Client, sql: &str) -> Vec<Option<String>> {
    client
        .simple_query(sql)
        .unwrap_or_else(|e| panic!("{sql}: {}", error_text(&e)))
        .iter()
        .find_map(|m| match m {
            SimpleQueryMessage::Row(row) => Some(
                (0..row.len())
                    .map(|i| row.get(i).map(str::to_owned))
                    .collect(),
            ),
            _ => None,
        })
        .unwrap_or_else(|| panic!("{sql}: no row"))
}

/// What a connection sees without setting a context: `(backend pid, tenant, subject, rows of
/// public.soak)`, in one autocommit statement.
const WHAT_DO_I_SEE: &str = "SELECT pg_backend_pid(), boards_current_tenant(), \
     boards_current_subject(), (SELECT count(*) FROM public.soak)";

/// [`WHAT_DO_I_SEE`] as `(pid, tenant, subject, rows)`.
#[track_caller]
fn what_do_i_see(client: &mut Client) -> (String, Option<String>, Option<String>, i64) {
    let row = simple_row(client, WHAT_DO_I_SEE);
    let rows = row[3]
        .as_deref()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("row count {:?}", row[3]));
    (
        row[0].clone().unwrap_or_default(),
        row[1].clone(),
        row[2].clone(),
        rows,
    )
}

/// Sets a session-scoped context through an unnamed statement; returns the context's tenant.
fn try_set_session(client: &mut Client, token: &str) -> Result<Uuid, postgres::Error> {
    client
        .query_typed_one(SET_SESSION, &[(&token, Type::TEXT)])
        .map(|row| row.get(0))
}

// ---------------------------------------------------------------------------------------------
// The soak

/// How one soak transaction ends.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ending {
    Commit,
    /// Sets a context, writes, reads, then `ROLLBACK`.
    Rollback,
    /// Sets a context, writes a row, writes it again (unique violation), then `ROLLBACK`.
    Failure,
}

/// What one soak client saw and did.
#[derive(Default)]
struct ClientReport {
    /// `(client, seq, tenant)` of every write whose COMMIT succeeded.
    acknowledged: Vec<(i32, i32, Uuid)>,
    /// `(client, seq)` of every write whose transaction was rolled back.
    rolled_back: Vec<(i32, i32)>,
    /// Rows of another tenant returned to this client (must stay 0).
    foreign_rows: usize,
    /// Rows returned in all (so the foreign-row check was not vacuous).
    rows_seen: usize,
    /// Server backends this client's transactions ran on.
    backends: BTreeSet<i32>,
}

fn soak_client(
    bouncer: &PgBouncer,
    tenants: &[Tenant],
    client_no: i32,
    transactions: usize,
) -> ClientReport {
    let mut client = bouncer.connect(APP_ROLE);
    let mut rng = Rng::new(u64::try_from(client_no).unwrap_or(0) + 1);
    let mut report = ClientReport::default();
    for n in 0..transactions {
        let seq = i32::try_from(n).unwrap_or(i32::MAX);
        let tenant = &tenants[rng.below(tenants.len())];
        let ending = match rng.below(100) {
            0..=4 => Ending::Rollback,
            5..=9 => Ending::Failure,
            _ => Ending::Commit,
        };
        let what = format!("client {client_no} transaction {seq} ({})", tenant.slug);
        let fail = |e: postgres::Error| -> ! { panic!("{what}: {}", error_text(&e)) };

        client.batch_execute("BEGIN").unwrap_or_else(|e| fail(e));
        let context: Uuid = client
            .query_typed_one(SET_LOCAL, &[(&tenant.token, Type::TEXT)])
            .unwrap_or_else(|e| fail(e))
            .get(0);
        assert_eq!(
            context, tenant.id,
            "{what}: the context names another tenant"
        );
        let written = client
            .query_typed_one(
                "INSERT INTO public.soak (body, client, seq) VALUES ($1, $2, $3)
                 RETURNING tenant_id, id, pg_backend_pid()",
                &[
                    (&format!("{} {client_no}/{seq}", tenant.slug), Type::TEXT),
                    (&client_no, Type::INT4),
                    (&seq, Type::INT4),
                ],
            )
            .unwrap_or_else(|e| fail(e));
        let (row_tenant, row_id, backend): (Uuid, Uuid, i32) =
            (written.get(0), written.get(1), written.get(2));
        assert_eq!(
            row_tenant, context,
            "{what}: the row went to another tenant"
        );
        report.backends.insert(backend);

        let seen = client
            .query_typed(
                "SELECT tenant_id, client, seq FROM public.soak ORDER BY random() LIMIT 20",
                &[],
            )
            .unwrap_or_else(|e| fail(e));
        report.rows_seen += seen.len();
        report.foreign_rows += seen
            .iter()
            .filter(|row| row.get::<_, Uuid>(0) != context)
            .count();

        match ending {
            Ending::Commit => {
                client.batch_execute("COMMIT").unwrap_or_else(|e| fail(e));
                report.acknowledged.push((client_no, seq, context));
            }
            Ending::Rollback => {
                client.batch_execute("ROLLBACK").unwrap_or_else(|e| fail(e));
                report.rolled_back.push((client_no, seq));
            }
            Ending::Failure => {
                let again = client.query_typed(
                    "INSERT INTO public.soak (id, body, client, seq) VALUES ($1, 'again', $2, $3)",
                    &[
                        (&row_id, Type::UUID),
                        (&client_no, Type::INT4),
                        (&seq, Type::INT4),
                    ],
                );
                assert_sqlstate_in(&what, again, UNIQUE_VIOLATION);
                client.batch_execute("ROLLBACK").unwrap_or_else(|e| fail(e));
                report.rolled_back.push((client_no, seq));
            }
        }
    }
    report
}

/// The soak: many clients through a transaction-pooling PgBouncer, each transaction setting a
/// transaction-scoped context for a random tenant, writing a row and reading 20 random rows.
/// No client ever sees a row of another tenant; afterwards every acknowledged write is there
/// exactly once, in its own tenant, and nothing else is: rolled-back and failed transactions
/// (5% each) left nothing behind.
#[test]
fn transaction_pooling_soak_never_shows_a_foreign_row_and_loses_no_write() {
    let clients = env_usize("BOARDS_SOAK_CLIENTS", 64).max(1);
    let tenant_count = env_usize("BOARDS_SOAK_TENANTS", 100).max(2);
    let total = env_usize("BOARDS_SOAK_TRANSACTIONS", 20_000).max(clients);
    let (db, tenants) = setup(tenant_count);
    let bouncer = PgBouncer::start(&db, PoolMode::Transaction, PgBouncerOptions::default());
    let tenants = Arc::new(tenants);
    let bouncer = Arc::new(bouncer);

    let started = Instant::now();
    let handles: Vec<_> = (0..clients)
        .map(|c| {
            let share = total / clients + usize::from(c < total % clients);
            let (bouncer, tenants) = (Arc::clone(&bouncer), Arc::clone(&tenants));
            let client_no = i32::try_from(c).unwrap_or(i32::MAX);
            thread::spawn(move || soak_client(&bouncer, &tenants, client_no, share))
        })
        .collect();
    let reports: Vec<ClientReport> = handles
        .into_iter()
        .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
        .collect();
    let elapsed = started.elapsed();

    let foreign: usize = reports.iter().map(|r| r.foreign_rows).sum();
    let seen: usize = reports.iter().map(|r| r.rows_seen).sum();
    let acknowledged: Vec<(i32, i32, Uuid)> = reports
        .iter()
        .flat_map(|r| r.acknowledged.iter().copied())
        .collect();
    let rolled_back: usize = reports.iter().map(|r| r.rolled_back.len()).sum();
    let backends: BTreeSet<i32> = reports
        .iter()
        .flat_map(|r| r.backends.iter().copied())
        .collect();
    let shared_backends = backends
        .iter()
        .filter(|b| reports.iter().filter(|r| r.backends.contains(b)).count() > 1)
        .count();

    // Everything in the table, as the superuser sees it: (client, seq) -> (tenant, copies).
    let stored: HashMap<(i32, i32), (Uuid, i64)> = db
        .superuser()
        .query(
            "SELECT client, seq, min(tenant_id::text)::uuid, count(*)
             FROM public.soak GROUP BY client, seq",
            &[],
        )
        .unwrap_or_else(|e| panic!("{}", error_text(&e)))
        .iter()
        .map(|row| ((row.get(0), row.get(1)), (row.get(2), row.get(3))))
        .collect();
    let stored_total: i64 = stored.values().map(|(_, n)| n).sum();
    let lost = acknowledged
        .iter()
        .filter(|(c, s, _)| !stored.contains_key(&(*c, *s)))
        .count();
    let duplicated = stored.values().filter(|(_, n)| *n > 1).count();
    let misplaced = acknowledged
        .iter()
        .filter(|(c, s, t)| stored.get(&(*c, *s)).is_some_and(|(stored, _)| stored != t))
        .count();
    let resurrected = reports
        .iter()
        .flat_map(|r| r.rolled_back.iter())
        .filter(|key| stored.contains_key(key))
        .count();

    let tps = total as f64 / elapsed.as_secs_f64();
    eprintln!(
        "pooling soak: {total} transactions ({} committed, {rolled_back} rolled back or failed) \
         by {clients} clients over {tenant_count} tenants through PgBouncer (transaction pooling, \
         pool size {}) on {} server backends ({shared_backends} served several clients) in \
         {:.1}s = {tps:.0} transactions/s; rows read {seen}, foreign rows {foreign}; rows \
         stored {stored_total}, lost {lost}, duplicated {duplicated}, in the wrong tenant \
         {misplaced}, rolled back but present {resurrected}",
        acknowledged.len(),
        PgBouncerOptions::default().default_pool_size,
        backends.len(),
        elapsed.as_secs_f64(),
    );

    assert_eq!(foreign, 0, "rows of other tenants were returned");
    assert!(
        seen > 0,
        "no rows were read at all: the check proved nothing"
    );
    assert!(
        shared_backends > 0,
        "no server backend served more than one client: the pooler did not pool"
    );
    assert_eq!(lost, 0, "acknowledged writes are missing");
    assert_eq!(duplicated, 0, "writes are stored more than once");
    assert_eq!(misplaced, 0, "writes are stored in another tenant");
    assert_eq!(resurrected, 0, "rolled-back writes are stored");
    assert_eq!(
        stored_total,
        i64::try_from(acknowledged.len()).unwrap_or(i64::MAX),
        "rows stored vs writes acknowledged"
    );
}

// ---------------------------------------------------------------------------------------------
// Transaction pooling: nothing outlives a transaction

/// Ends a transaction that set a context the way `how` says: 0 commit, 1 rollback, 2 an error
/// and then rollback.
fn end_transaction(client: &mut Client, how: usize, what: &str) {
    match how {
        0 => exec(client, "COMMIT"),
        1 => exec(client, "ROLLBACK"),
        _ => {
            assert_sqlstate_in(what, client.simple_query("SELECT 1 / 0"), DIVISION_BY_ZERO);
            exec(client, "ROLLBACK");
        }
    }
}

/// Through transaction pooling, a transaction-scoped context ends with its transaction,
/// however the transaction ends: the next transaction on that server connection, of the same
/// client or another, has no context and sees no rows. Checked 400 times by 8 clients sharing
/// 2 server connections, and only counted where the connection had just served a context.
#[test]
fn transaction_pooling_a_new_transaction_starts_without_a_context() {
    let (db, tenants) = setup(4);
    seed(&db, &tenants, 5);
    let bouncer = Arc::new(PgBouncer::start(
        &db,
        PoolMode::Transaction,
        PgBouncerOptions {
            default_pool_size: 2,
            ..PgBouncerOptions::default()
        },
    ));
    let tenants = Arc::new(tenants);
    let reused = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = (0..8_u64)
        .map(|c| {
            let (bouncer, tenants, reused) = (
                Arc::clone(&bouncer),
                Arc::clone(&tenants),
                Arc::clone(&reused),
            );
            thread::spawn(move || {
                let mut client = bouncer.connect(APP_ROLE);
                let mut rng = Rng::new(c + 100);
                let mut had_context = BTreeSet::new();
                for n in 0..50 {
                    let tenant = &tenants[rng.below(tenants.len())];
                    let what = format!("client {c} round {n} ({})", tenant.slug);
                    exec(&mut client, "BEGIN");
                    let context: Uuid = client
                        .query_typed_one(SET_LOCAL, &[(&tenant.token, Type::TEXT)])
                        .unwrap_or_else(|e| panic!("{what}: {}", error_text(&e)))
                        .get(0);
                    assert_eq!(context, tenant.id, "{what}");
                    let (pid, tenant_now, _, rows) = what_do_i_see(&mut client);
                    assert_eq!(tenant_now, Some(tenant.id.to_string()), "{what}");
                    assert_eq!(rows, 5, "{what}: rows of the context's tenant");
                    had_context.insert(pid);
                    end_transaction(&mut client, rng.below(3), &what);

                    // The next transaction, set no context: autocommit or explicit.
                    let explicit = rng.below(2) == 0;
                    if explicit {
                        exec(&mut client, "BEGIN");
                    }
                    let (pid, tenant_now, subject, rows) = what_do_i_see(&mut client);
                    if explicit {
                        exec(&mut client, "COMMIT");
                    }
                    assert_eq!(
                        (tenant_now, subject, rows),
                        (None, None, 0),
                        "{what}: a transaction without a context on backend {pid}"
                    );
                    if had_context.contains(&pid) {
                        reused.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for handle in handles {
        handle
            .join()
            .unwrap_or_else(|e| std::panic::resume_unwind(e));
    }
    // 2 server connections for 8 clients: the checks ran on backends that had just served a
    // context (this client's own, at least) many times over.
    let reused = reused.load(Ordering::Relaxed);
    assert!(
        reused >= 100,
        "only {reused} checks ran on a backend that had served a context"
    );
    for tenant in tenants.iter() {
        assert_eq!(rows_of(&db, tenant), 5, "{}: rows changed", tenant.slug);
    }
}

// ---------------------------------------------------------------------------------------------
// Session pooling: DISCARD ALL between clients

/// Session pooling with `server_reset_query = DISCARD ALL` (PgBouncer's default) and a
/// session-scoped context: client 1 acts for tenant A and disconnects; client 2, handed the
/// same server backend (pool of one), starts with no context and sees no rows, and can then
/// act for its own tenant. Without the reset query, client 2 would inherit A's context: the
/// control at the end shows that this is what `DISCARD ALL` prevents.
#[test]
fn session_pooling_discard_all_ends_a_session_context_between_clients() {
    let (db, tenants) = setup(2);
    let (a, b) = (&tenants[0], &tenants[1]);
    seed(&db, &tenants, 3);
    let pool_of_one = PgBouncerOptions {
        default_pool_size: 1,
        ..PgBouncerOptions::default()
    };
    let bouncer = PgBouncer::start(&db, PoolMode::Session, pool_of_one.clone());

    let mut first = bouncer.connect(APP_ROLE);
    assert_eq!(
        try_set_session(&mut first, &a.token).unwrap_or_else(|e| panic!("{}", error_text(&e))),
        a.id
    );
    let (pid_first, tenant, _, rows) = what_do_i_see(&mut first);
    assert_eq!((tenant, rows), (Some(a.id.to_string()), 3));
    drop(first);

    let mut second = bouncer.connect(APP_ROLE);
    let (pid_second, tenant, subject, rows) = what_do_i_see(&mut second);
    assert_eq!(
        pid_second, pid_first,
        "the pool of one gave client 2 another backend"
    );
    assert_eq!(
        (tenant, subject, rows),
        (None, None, 0),
        "client 2 inherited client 1's context"
    );
    assert_eq!(
        try_set_session(&mut second, &b.token).unwrap_or_else(|e| panic!("{}", error_text(&e))),
        b.id
    );
    let (_, tenant, _, rows) = what_do_i_see(&mut second);
    assert_eq!((tenant, rows), (Some(b.id.to_string()), 3));
    drop(second);
    drop(bouncer);

    // Control: the same without a reset query hands A's context to the next client.
    let unsafe_bouncer = PgBouncer::start(
        &db,
        PoolMode::Session,
        PgBouncerOptions {
            server_reset_query: String::new(),
            ..pool_of_one
        },
    );
    let mut first = unsafe_bouncer.connect(APP_ROLE);
    try_set_session(&mut first, &a.token).unwrap_or_else(|e| panic!("{}", error_text(&e)));
    let (pid_first, _, _, _) = what_do_i_see(&mut first);
    drop(first);
    let mut second = unsafe_bouncer.connect(APP_ROLE);
    let (pid_second, tenant, _, rows) = what_do_i_see(&mut second);
    assert_eq!(pid_second, pid_first);
    assert_eq!(
        (tenant, rows),
        (Some(a.id.to_string()), 3),
        "without server_reset_query the context should have survived: this test's premise is wrong"
    );
    for tenant in tenants.iter() {
        assert_eq!(rows_of(&db, tenant), 3, "{}: rows changed", tenant.slug);
    }
}

// ---------------------------------------------------------------------------------------------
// The unsafe combination: session scope through transaction pooling

/// A session-scoped context (`is_local => false`) through a transaction-pooling PgBouncer is
/// the one combination that leaks: the context stays on the server backend after the
/// statement, and PgBouncer hands that backend to the next client's transaction without any
/// reset. This test first shows the leak (client 2, who set no context, acts for tenant A),
/// then the fail-safe: with `ALTER ROLE boards_app IN DATABASE ... SET
/// boards.require_local_context = on`, the session-scoped call is refused with SQLSTATE 55000,
/// so there is nothing to leak, while transaction-scoped contexts keep working; the app role
/// cannot turn the setting off.
///
/// Why the extension cannot detect the pooler itself: PgBouncer is an ordinary client to
/// Postgres. Its server connection logs in once as the pooled role over a normal TCP
/// connection and then carries the statements of many clients; nothing in the protocol marks
/// where one client's transaction ends and another's begins, and the server sees no client
/// identity beyond what PgBouncer chose to send at login (address 127.0.0.1, the role, the
/// database; `application_name` is client-controlled and `options` is dropped). A backend
/// serving one long-lived application connection and one serving a pool of clients look the
/// same from inside, so the only reliable signal is configuration: the operator, who knows the
/// role connects through transaction pooling, turns `boards.require_local_context` on for it.
#[test]
fn transaction_pooling_session_scope_leaks_unless_require_local_context_refuses_it() {
    let (db, tenants) = setup(2);
    let (a, b) = (&tenants[0], &tenants[1]);
    seed(&db, &tenants, 3);
    let pool_of_one = PgBouncerOptions {
        default_pool_size: 1,
        ..PgBouncerOptions::default()
    };

    // Without the fail-safe: the leak.
    {
        let bouncer = PgBouncer::start(&db, PoolMode::Transaction, pool_of_one.clone());
        let mut first = bouncer.connect(APP_ROLE);
        let mut second = bouncer.connect(APP_ROLE);
        assert_eq!(
            try_set_session(&mut first, &a.token).unwrap_or_else(|e| panic!("{}", error_text(&e))),
            a.id
        );
        let (pid_first, _, _, _) = what_do_i_see(&mut first);
        let (pid_second, tenant, subject, rows) = what_do_i_see(&mut second);
        assert_eq!(pid_second, pid_first, "the pool of one used two backends");
        assert_eq!(
            (tenant, subject.as_deref(), rows),
            (Some(a.id.to_string()), Some("soak-user-0"), 3),
            "client 2 should have inherited client 1's session context: this test's premise is wrong"
        );
    }

    // The fail-safe, per role and database, as the superuser sets it.
    let sql = format!(
        "ALTER ROLE {APP_ROLE} IN DATABASE {} SET boards.require_local_context = on",
        db.name()
    );
    exec(&mut db.superuser(), &sql);
    // Role settings apply to new backends: a new PgBouncer opens new server connections.
    let bouncer = PgBouncer::start(&db, PoolMode::Transaction, pool_of_one);
    let mut first = bouncer.connect(APP_ROLE);
    let mut second = bouncer.connect(APP_ROLE);
    assert_eq!(
        simple_row(&mut first, "SHOW boards.require_local_context")[0].as_deref(),
        Some("on")
    );

    let refused = assert_sqlstate(
        try_set_session(&mut first, &a.token),
        NOT_IN_PREREQUISITE_STATE,
    );
    assert!(refused.contains("require_local_context"), "{refused}");
    assert_sqlstate(
        first.query_typed_one(
            "SELECT boards_authenticate($1, false)",
            &[(&a.token, Type::TEXT)],
        ),
        NOT_IN_PREREQUISITE_STATE,
    );
    // The default scope is the session: refused just the same.
    assert_sqlstate(
        first.query_typed_one(
            "SELECT tenant_id FROM boards_set_tenant_from_jwt($1)",
            &[(&a.token, Type::TEXT)],
        ),
        NOT_IN_PREREQUISITE_STATE,
    );
    let (pid_first, tenant, subject, rows) = what_do_i_see(&mut first);
    assert_eq!((tenant, subject, rows), (None, None, 0));
    let (pid_second, tenant, subject, rows) = what_do_i_see(&mut second);
    assert_eq!(pid_second, pid_first);
    assert_eq!(
        (tenant, subject, rows),
        (None, None, 0),
        "client 2 inherited a context"
    );
    // Nor can it write into A (or anyone) on that backend.
    assert_sqlstate(
        second.simple_query("INSERT INTO public.soak (body) VALUES ('stray')"),
        PERMISSION_DENIED,
    );

    // The app role cannot switch the fail-safe off.
    assert_sqlstate(
        first.simple_query("SET boards.require_local_context = off"),
        PERMISSION_DENIED,
    );
    assert_sqlstate(
        first.simple_query("SELECT set_config('boards.require_local_context', 'off', false)"),
        PERMISSION_DENIED,
    );
    assert_sqlstate(
        first.simple_query("RESET boards.require_local_context"),
        PERMISSION_DENIED,
    );
    assert_sqlstate(
        try_set_session(&mut first, &b.token),
        NOT_IN_PREREQUISITE_STATE,
    );

    // Transaction scope still works, and still ends with the transaction.
    exec(&mut first, "BEGIN");
    let context: Uuid = first
        .query_typed_one(SET_LOCAL, &[(&a.token, Type::TEXT)])
        .unwrap_or_else(|e| panic!("{}", error_text(&e)))
        .get(0);
    assert_eq!(context, a.id);
    let (_, tenant, _, rows) = what_do_i_see(&mut first);
    assert_eq!((tenant, rows), (Some(a.id.to_string()), 3));
    exec(&mut first, "COMMIT");
    let (pid_after, tenant, subject, rows) = what_do_i_see(&mut second);
    assert_eq!(pid_after, pid_first);
    assert_eq!((tenant, subject, rows), (None, None, 0));

    for tenant in tenants.iter() {
        assert_eq!(rows_of(&db, tenant), 3, "{}: rows changed", tenant.slug);
    }
}

// ---------------------------------------------------------------------------------------------
// Just-in-time membership from two pooled backends at once

/// Two server backends of the pool use the same new subject's token at the same moment (the
/// first use creates the subject's membership): the second waits for the first and then gets
/// the same membership, no error.
#[test]
fn transaction_pooling_concurrent_first_use_of_a_token_gets_one_membership() {
    let (db, tenants) = setup(1);
    let tenant = tenants[0].clone();
    let bouncer = Arc::new(PgBouncer::start(
        &db,
        PoolMode::Transaction,
        PgBouncerOptions {
            default_pool_size: 2,
            ..PgBouncerOptions::default()
        },
    ));
    const SET_LOCAL_USER: &str = "SELECT user_id FROM boards_set_tenant_from_jwt($1, NULL, true)";
    let mut first = bouncer.connect(APP_ROLE);
    exec(&mut first, "BEGIN");
    let first_user: Uuid = first
        .query_typed_one(SET_LOCAL_USER, &[(&tenant.token, Type::TEXT)])
        .unwrap_or_else(|e| panic!("first use: {}", error_text(&e)))
        .get(0);

    let (pid_sender, second_pid) = mpsc::channel::<i32>();
    let second = {
        let (bouncer, token) = (Arc::clone(&bouncer), tenant.token.clone());
        thread::spawn(move || {
            let mut second = bouncer.connect(APP_ROLE);
            exec(&mut second, "BEGIN");
            // Inside the transaction the pool keeps this server backend for the client.
            let pid: i32 = second
                .query_one("SELECT pg_backend_pid()", &[])
                .map(|row| row.get(0))
                .unwrap_or_else(|e| panic!("pg_backend_pid(): {}", error_text(&e)));
            let _ = pid_sender.send(pid);
            let user = second
                .query_typed_one(SET_LOCAL_USER, &[(&token, Type::TEXT)])
                .map(|row| row.get::<_, Uuid>(0));
            let _ = second.batch_execute("ROLLBACK");
            user
        })
    };
    // Wait until the second backend waits for the first one's uncommitted membership.
    let pid = second_pid
        .recv()
        .unwrap_or_else(|_| panic!("the second client ended before it began its transaction"));
    waits::until_blocked_on_lock(&mut db.superuser(), pid, || second.is_finished());
    assert!(
        !second.is_finished(),
        "the second first use did not wait for the first"
    );
    exec(&mut first, "COMMIT");
    let second_user = second
        .join()
        .unwrap_or_else(|e| std::panic::resume_unwind(e))
        .unwrap_or_else(|e| panic!("the concurrent first use failed: {}", error_text(&e)));
    assert_eq!(second_user, first_user);
}
