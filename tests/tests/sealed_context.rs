//! A context that can travel: `boards_context_seal()` in one backend (the coordinator, which
//! verified the token), `SET LOCAL boards.sealed_context = '<sealed>'` in another (a Citus
//! worker stands in as an ordinary app-role backend that never saw the token). The second
//! backend verifies the seal itself; nothing the app role can make, alter or stretch yields a
//! tenant there.

use boards_tenant_core::seal::seal;
use boards_tenant_harness::jwt::{self, mint, test_kid};
use boards_tenant_harness::postgres::Client;
use boards_tenant_harness::{Cluster, TestDb};
use boards_tenant_tests::parallel::{install_worker_probe, rows_from_workers};
use boards_tenant_tests::{
    assert_sqlstate_in, column, exec, query_text, set_context, waits, FORCE_PARALLEL,
};
use serde_json::json;

const SECRET: &str = "this-cluster-s-sealing-secret-0123456789";
const OTHER_SECRET: &str = "another-cluster-s-secret-9876543210abcdef";
/// How long the wall clock may take to pass a few seconds (a stalled machine, not a slow one).
const CLOCK_PATIENCE: std::time::Duration = std::time::Duration::from_secs(30);

/// A database with a sealing secret and two tenants, `acme` and `globex`, each with an owner
/// `<slug>-owner` and one board.
fn setup() -> TestDb<'static> {
    let db = Cluster::shared().create_database();
    db.set("boards.seal_secret", SECRET);
    let mut admin = db.admin();
    jwt::install_test_keys(&mut admin);
    for slug in ["acme", "globex"] {
        exec(
            &mut admin,
            &format!(
                "SELECT * FROM boards_tenant_create('{slug}', '{slug}');
                 SELECT boards_tenant_add_member('{slug}', '{slug}-owner', 'owner');"
            ),
        );
        let mut app = db.app();
        set_context(&mut app, &token(slug, jwt::now() + 3600), None);
        exec(
            &mut app,
            &format!("INSERT INTO boards.boards (owner_id, title) VALUES (boards_current_user_id(), '{slug} board')"),
        );
    }
    db
}

fn token(slug: &str, exp: i64) -> String {
    mint(
        "HS256",
        &test_kid("HS256"),
        &json!({"sub": format!("{slug}-owner"), "tenant": slug, "iat": jwt::now() - 5, "exp": exp}),
    )
}

/// The coordinator: verifies the token in a transaction and seals the context.
fn sealed(db: &TestDb, token: &str) -> String {
    let mut app = db.app();
    exec(&mut app, "BEGIN");
    app.query(
        "SELECT * FROM boards_set_tenant_from_jwt($1, is_local => true)",
        &[&token],
    )
    .unwrap_or_else(|e| panic!("{}", boards_tenant_tests::error_text(&e)));
    let sealed = query_text(&mut app, "SELECT boards_context_seal()", &[])
        .unwrap_or_else(|| panic!("boards_context_seal() returned NULL"));
    exec(&mut app, "COMMIT");
    sealed
}

/// What a worker backend that received only `sealed` sees: tenant, slug, subject, claims and
/// the board titles, inside the transaction the value was `SET LOCAL` in.
#[derive(Debug, PartialEq)]
struct Seen {
    tenant: Option<String>,
    slug: Option<String>,
    subject: Option<String>,
    claims: Option<String>,
    titles: Vec<String>,
}

fn in_worker(worker: &mut Client, sealed: &str) -> Seen {
    exec(worker, "BEGIN");
    exec(
        worker,
        &format!(
            "SET LOCAL boards.sealed_context = '{}'",
            sealed.replace('\'', "''")
        ),
    );
    let row = worker
        .query_one(
            "SELECT boards_current_tenant()::text, boards_current_tenant_slug(),
                    boards_current_subject(), boards_current_claims()::text",
            &[],
        )
        .unwrap_or_else(|e| panic!("{}", boards_tenant_tests::error_text(&e)));
    let titles = column(worker, "SELECT title FROM boards.boards ORDER BY 1");
    exec(worker, "COMMIT");
    Seen {
        tenant: row.get(0),
        slug: row.get(1),
        subject: row.get(2),
        claims: row.get(3),
        titles,
    }
}

#[track_caller]
fn assert_nothing(seen: &Seen, what: &str) {
    assert_eq!(
        seen,
        &Seen {
            tenant: None,
            slug: None,
            subject: None,
            claims: None,
            titles: Vec::new()
        },
        "{what}: a worker got a context"
    );
}

#[test]
fn a_sealed_context_gives_another_backend_exactly_the_same_context() {
    let db = setup();
    let acme = token("acme", jwt::now() + 3600);
    let mut coordinator = db.app();
    set_context(&mut coordinator, &acme, None);
    let expected = query_text(
        &mut coordinator,
        "SELECT concat_ws(' | ', boards_current_tenant(), boards_current_tenant_slug(),
                          boards_current_subject(), boards_current_claims())",
        &[],
    );
    let sealed = sealed(&db, &acme);
    let mut worker = db.app();
    let seen = in_worker(&mut worker, &sealed);
    let got = [&seen.tenant, &seen.slug, &seen.subject, &seen.claims]
        .iter()
        .map(|v| v.as_deref().unwrap_or_default().to_owned())
        .collect::<Vec<_>>()
        .join(" | ");
    assert_eq!(Some(got), expected);
    assert_eq!(seen.titles, vec!["acme board".to_owned()]);
    // SET LOCAL: the next transaction of the worker has no context.
    assert_eq!(
        query_text(&mut worker, "SELECT boards_current_tenant()::text", &[]),
        None
    );
    // Parallel workers of the worker backend get it with the other settings: every row a
    // worker computed names acme, and they are acme's boards. Enough boards for a parallel
    // scan: a plan over one board is an index scan under the policy's init plan, which
    // PostgreSQL 15 does not run in a worker even when forced to.
    exec(
        &mut db.superuser(),
        "INSERT INTO boards.boards (tenant_id, owner_id, title)
         SELECT tenant_id, owner_id, 'bulk ' || g FROM boards.boards, generate_series(1, 5000) g;
         ANALYZE boards.boards;",
    );
    let mut acme_titles = column(
        &mut db.superuser(),
        "SELECT b.title FROM boards.boards b JOIN boards.tenants t ON t.id = b.tenant_id
         WHERE t.slug = 'acme'",
    );
    acme_titles.sort();
    install_worker_probe(&db);
    exec(&mut worker, FORCE_PARALLEL);
    exec(&mut worker, "BEGIN");
    exec(
        &mut worker,
        &format!("SET LOCAL boards.sealed_context = '{sealed}'"),
    );
    let in_workers: Vec<(Option<String>, String)> = rows_from_workers(
        &mut worker,
        "boards_current_tenant_slug(), title",
        "FROM boards.boards",
    )
    .iter()
    .map(|row| (row.get(1), row.get(2)))
    .collect();
    exec(&mut worker, "COMMIT");
    assert!(
        in_workers
            .iter()
            .all(|(slug, _)| slug.as_deref() == Some("acme")),
        "a worker named another tenant than acme"
    );
    let mut titles: Vec<String> = in_workers.into_iter().map(|(_, title)| title).collect();
    titles.sort();
    assert_eq!(titles, acme_titles, "the boards the workers read");
}

#[test]
fn altered_or_hand_made_seals_yield_no_tenant() {
    let db = setup();
    let genuine = sealed(&db, &token("acme", jwt::now() + 3600));
    let mut worker = db.app();
    let mut attempts: Vec<String> = (0..genuine.len())
        .step_by(7)
        .map(|i| {
            let mut bytes = genuine.clone().into_bytes();
            bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
            String::from_utf8(bytes).unwrap_or_default()
        })
        .filter(|altered| altered != &genuine)
        .collect();
    attempts.push(genuine[..genuine.len() - 1].to_owned());
    attempts.push(format!("{genuine}A"));
    attempts.push(genuine.replacen("v1.", "v2.", 1));
    attempts.push(
        r#"{"v":1,"tenant_id":"00000000-0000-0000-0000-000000000000","tenant_slug":"default"}"#
            .to_owned(),
    );
    for attempt in &attempts {
        assert_nothing(&in_worker(&mut worker, attempt), attempt);
    }
    // The genuine one still works: the refusals above were about the bytes.
    assert_eq!(
        in_worker(&mut worker, &genuine).slug.as_deref(),
        Some("acme")
    );
}

#[test]
fn a_seal_made_with_another_secret_yields_no_tenant() {
    let db = setup();
    // The attacker knows everything but the secret: a context for globex, sealed for a day.
    let mut coordinator = db.app();
    set_context(&mut coordinator, &token("globex", jwt::now() + 3600), None);
    let globex = boards_tenant_core::context::Context {
        tenant_id: query_text(
            &mut coordinator,
            "SELECT boards_current_tenant()::text",
            &[],
        )
        .and_then(|id| id.parse().ok()),
        tenant_slug: Some("globex".into()),
        user_id: query_text(
            &mut coordinator,
            "SELECT boards_current_user_id()::text",
            &[],
        )
        .and_then(|id| id.parse().ok()),
        subject: Some("globex-owner".into()),
        source: Some("claim:tenant".into()),
        kid: Some(test_kid("HS256")),
        claims: Default::default(),
    };
    let forged = seal(&globex, jwt::now() + 86_400, OTHER_SECRET.as_bytes())
        .unwrap_or_else(|e| panic!("sealing: {e}"));
    let mut worker = db.app();
    assert_nothing(&in_worker(&mut worker, &forged), "another secret");
    // The same bytes sealed with this cluster's secret would be accepted: the refusal above
    // is the MAC's doing.
    let right = seal(&globex, jwt::now() + 86_400, SECRET.as_bytes())
        .unwrap_or_else(|e| panic!("sealing: {e}"));
    assert_eq!(
        in_worker(&mut worker, &right).slug.as_deref(),
        Some("globex")
    );
    // A genuine seal of this cluster, once the secret changes (rotation): refused.
    let genuine = sealed(&db, &token("acme", jwt::now() + 3600));
    db.set("boards.seal_secret", OTHER_SECRET);
    assert_nothing(
        &in_worker(&mut db.app(), &genuine),
        "after the secret changed",
    );
}

#[test]
fn a_seal_never_outlives_its_token() {
    let db = setup();
    let expires = jwt::now() + 2;
    let sealed = sealed(&db, &token("acme", expires));
    let mut worker = db.app();
    assert_eq!(
        in_worker(&mut worker, &sealed).slug.as_deref(),
        Some("acme")
    );
    // Wait until the token has expired (the clock, not another session: a bounded poll),
    // then replay the seal.
    waits::until("the token to expire", CLOCK_PATIENCE, || {
        jwt::now() > expires
    });
    assert_nothing(&in_worker(&mut worker, &sealed), "after the token expired");
    // And boards.seal_lifetime caps a token that lives longer.
    db.set("boards.seal_lifetime", "1");
    let short = self::sealed(&db, &token("acme", jwt::now() + 3600));
    let start = jwt::now();
    waits::until("boards.seal_lifetime to pass", CLOCK_PATIENCE, || {
        jwt::now() > start + 1
    });
    assert_nothing(
        &in_worker(&mut db.app(), &short),
        "after boards.seal_lifetime",
    );
}

#[test]
fn revocation_reaches_sealed_contexts_and_they_cannot_be_resealed() {
    let db = setup();
    let sealed = sealed(&db, &token("acme", jwt::now() + 3600));
    let mut worker = db.app();
    exec(&mut worker, "BEGIN");
    exec(
        &mut worker,
        &format!("SET LOCAL boards.sealed_context = '{sealed}'"),
    );
    let reseal = worker.query_one("SELECT boards_context_seal()", &[]);
    assert_sqlstate_in("re-sealing a sealed context", reseal, "55000");
    exec(&mut worker, "ROLLBACK");
    exec(
        &mut db.admin(),
        "SELECT * FROM boards_tenant_suspend('acme')",
    );
    // As for a context set from the token: the identity stays, the tenant is gone.
    let seen = in_worker(&mut worker, &sealed);
    assert_eq!(
        (seen.tenant, seen.slug, seen.titles),
        (None, None, Vec::new()),
        "after suspension"
    );
}

#[test]
fn the_secret_is_superuser_only_and_sealing_needs_it() {
    let db = setup();
    let mut app = db.app();
    for attempt in [
        "SELECT current_setting('boards.seal_secret')",
        "SHOW boards.seal_secret",
        "SET boards.seal_secret = 'mine-mine-mine-mine-mine-mine-mine-mine'",
        "SELECT set_config('boards.seal_secret', 'mine-mine-mine-mine-mine-mine-mine-mine', false)",
    ] {
        assert_sqlstate_in(attempt, app.batch_execute(attempt), "42501");
    }
    // No secret: nothing is sealed, and no sealed value is believed.
    let unsealed = Cluster::shared().create_database();
    jwt::install_test_keys(&mut unsealed.admin());
    exec(
        &mut unsealed.admin(),
        "SELECT * FROM boards_tenant_create('acme', 'acme');
         SELECT boards_tenant_add_member('acme', 'acme-owner', 'owner');",
    );
    let mut app = unsealed.app();
    set_context(&mut app, &token("acme", jwt::now() + 3600), None);
    assert_sqlstate_in(
        "sealing without a secret",
        app.query_one("SELECT boards_context_seal()", &[]),
        "55000",
    );
    let from_elsewhere = sealed(&db, &token("acme", jwt::now() + 3600));
    assert_nothing(
        &in_worker(&mut unsealed.app(), &from_elsewhere),
        "no secret here",
    );
}
