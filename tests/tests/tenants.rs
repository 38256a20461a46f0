//! Tenant management: every admin function of sql/tenants.sql and src/tenants.rs,
//! each of its refusals, who may call it, and the last-owner rule under concurrency.
//!
//! Management runs as `boards_admin` (a member of `boards_tenant_admin`); rows are counted as
//! the superuser, who sees every tenant's rows.

use std::collections::BTreeMap;
use std::thread;

use boards_tenant_harness::{jwt, Cluster, TestDb};
use boards_tenant_tests::{assert_sqlstate, assert_sqlstate_in, error_text, query_text, waits};
use postgres::types::ToSql;
use postgres::Client;
use serde_json::{json, Value};

use boards_tenant_tests::sqlstate::INSUFFICIENT_PRIVILEGE as PERMISSION_DENIED;
use boards_tenant_tests::sqlstate::INVALID_PARAMETER_VALUE as INVALID_PARAMETER;
use boards_tenant_tests::sqlstate::OBJECT_NOT_IN_PREREQUISITE_STATE as NOT_IN_PREREQUISITE_STATE;
use boards_tenant_tests::sqlstate::UNDEFINED_OBJECT;
use boards_tenant_tests::sqlstate::UNIQUE_VIOLATION;

const DEFAULT_TENANT_ID: &str = "00000000-0000-0000-0000-000000000000";

/// The Boards content tables, in the order rows are seeded into them.
const BOARDS_TABLES: &[&str] = &[
    "boards.users",
    "boards.boards",
    "boards.board_members",
    "boards.generations",
];

/// The columns of `boards.tenant_info` a test compares, as the client can read them.
const TENANT_COLUMNS: &str =
    "id::text, slug, name, status, settings::text, created_by, member_count";

#[derive(Debug, Clone, PartialEq)]
struct Tenant {
    id: String,
    slug: String,
    name: String,
    status: String,
    settings: Value,
    created_by: Option<String>,
    member_count: i64,
}

fn tenant_of(row: &postgres::Row) -> Tenant {
    let settings: String = row.get(4);
    Tenant {
        id: row.get(0),
        slug: row.get(1),
        name: row.get(2),
        status: row.get(3),
        settings: serde_json::from_str(&settings)
            .unwrap_or_else(|e| panic!("settings {settings:?} is no JSON: {e}")),
        created_by: row.get(5),
        member_count: row.get(6),
    }
}

fn fresh_db() -> TestDb<'static> {
    Cluster::shared().create_database()
}

/// Rows of a query that must succeed.
#[track_caller]
fn rows(client: &mut Client, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Vec<postgres::Row> {
    client
        .query(sql, params)
        .unwrap_or_else(|e| panic!("{sql}: {}", error_text(&e)))
}

/// The tenant rows a management function returns, e.g. `boards_tenant_get($1)`.
fn try_tenants(
    client: &mut Client,
    call: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Vec<Tenant>, postgres::Error> {
    client
        .query(&format!("SELECT {TENANT_COLUMNS} FROM {call}"), params)
        .map(|rows| rows.iter().map(tenant_of).collect())
}

/// The one tenant row a management function must return.
#[track_caller]
fn tenant(client: &mut Client, call: &str, params: &[&(dyn ToSql + Sync)]) -> Tenant {
    let mut tenants =
        try_tenants(client, call, params).unwrap_or_else(|e| panic!("{call}: {}", error_text(&e)));
    assert_eq!(tenants.len(), 1, "{call} returned {tenants:?}");
    tenants.remove(0)
}

fn try_create(
    admin: &mut Client,
    name: &str,
    slug: &str,
    settings: &str,
) -> Result<Vec<Tenant>, postgres::Error> {
    try_tenants(
        admin,
        "boards_tenant_create($1, $2, $3::text::jsonb)",
        &[&name, &slug, &settings],
    )
}

#[track_caller]
fn create(admin: &mut Client, name: &str, slug: &str) -> Tenant {
    tenant(admin, "boards_tenant_create($1, $2)", &[&name, &slug])
}

#[track_caller]
fn get(client: &mut Client, slug: &str) -> Tenant {
    tenant(client, "boards_tenant_get($1)", &[&slug])
}

#[track_caller]
fn add_member(admin: &mut Client, slug: &str, subject: &str, role: &str) -> String {
    query_text(
        admin,
        "SELECT boards_tenant_add_member($1, $2, $3)::text",
        &[&slug, &subject, &role],
    )
    .unwrap_or_else(|| panic!("boards_tenant_add_member({slug}, {subject}) returned NULL"))
}

/// `(user_id, subject, email, display_name, role)` of a `boards_tenant_members` row.
type MemberRow = (String, String, Option<String>, Option<String>, String);

/// `(subject, role)` of every member, as `boards_tenant_members` lists them.
#[track_caller]
fn members(admin: &mut Client, slug: &str) -> Vec<(String, String)> {
    rows(
        admin,
        "SELECT subject, role FROM boards_tenant_members($1)",
        &[&slug],
    )
    .iter()
    .map(|row| (row.get(0), row.get(1)))
    .collect()
}

fn pair(subject: &str, role: &str) -> (String, String) {
    (subject.to_owned(), role.to_owned())
}

/// Rows per tenant id in `table`, as the superuser sees them.
fn count_by_tenant(su: &mut Client, table: &str, column: &str) -> BTreeMap<String, i64> {
    let sql = format!("SELECT {column}::text, count(*) FROM {table} GROUP BY 1");
    rows(su, &sql, &[])
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect()
}

/// Rows of `table` belonging to `tenant_id`.
fn count_in(su: &mut Client, table: &str, tenant_id: &str) -> i64 {
    count_by_tenant(su, table, "tenant_id")
        .get(tenant_id)
        .copied()
        .unwrap_or(0)
}

/// Every protected table with its tenant column, from the registry.
fn protected_tables(su: &mut Client) -> Vec<(String, String)> {
    rows(
        su,
        "SELECT tbl::text, tenant_column::text FROM boards.protected_tables ORDER BY 1",
        &[],
    )
    .iter()
    .map(|row| (row.get(0), row.get(1)))
    .collect()
}

/// `(table, tenant id) -> rows` over every protected table: the whole database's tenant data.
fn census(su: &mut Client) -> BTreeMap<(String, String), i64> {
    let mut all = BTreeMap::new();
    for (table, column) in protected_tables(su) {
        for (tenant_id, count) in count_by_tenant(su, &table, &format!("\"{column}\"")) {
            all.insert((table.clone(), tenant_id), count);
        }
    }
    all
}

fn tenant_exists(su: &mut Client, slug: &str) -> bool {
    rows(su, "SELECT 1 FROM boards.tenants WHERE slug = $1", &[&slug]).len() == 1
}

#[test]
fn create_returns_the_new_active_tenant() {
    let db = fresh_db();
    let mut admin = db.admin();
    let created = try_create(
        &mut admin,
        "Acme Corporation",
        "acme-corp",
        r#"{"admin_email": "admin@acme-corp.com"}"#,
    )
    .unwrap_or_else(|e| panic!("boards_tenant_create: {}", error_text(&e)));
    assert_eq!(created.len(), 1, "create returned {created:?}");
    let acme = &created[0];
    assert_eq!(acme.slug, "acme-corp");
    assert_eq!(acme.name, "Acme Corporation");
    assert_eq!(acme.status, "active");
    assert_eq!(acme.settings, json!({"admin_email": "admin@acme-corp.com"}));
    assert_eq!(acme.member_count, 0);
    assert_eq!(acme.created_by.as_deref(), Some("boards_admin"));
    uuid::Uuid::parse_str(&acme.id).unwrap_or_else(|e| panic!("id {:?}: {e}", acme.id));
    assert_ne!(acme.id, DEFAULT_TENANT_ID);

    let mut su = db.superuser();
    let stored = rows(
        &mut su,
        "SELECT slug, name, status FROM boards.tenants WHERE id = $1::text::uuid",
        &[&acme.id],
    );
    assert_eq!(stored.len(), 1, "the returned id is not a stored tenant");
    let (slug, name, status): (String, String, String) =
        (stored[0].get(0), stored[0].get(1), stored[0].get(2));
    assert_eq!(
        (slug.as_str(), name.as_str(), status.as_str()),
        ("acme-corp", "Acme Corporation", "active")
    );

    // Settings default to an empty object.
    let plain = create(&mut admin, "Plain", "plain");
    assert_eq!(plain.settings, json!({}));
}

#[test]
fn create_refuses_invalid_slugs_names_and_settings() {
    let db = fresh_db();
    let mut admin = db.admin();
    for slug in ["Acme Corp", "ACME", "acme_corp", "acme/evil", "", "-acme"] {
        let result = try_create(&mut admin, "Acme", slug, "{}");
        assert_sqlstate_in(&format!("slug {slug:?}"), result, INVALID_PARAMETER);
    }
    let long_name = "x".repeat(300);
    for name in ["", "   ", long_name.as_str()] {
        let result = try_create(&mut admin, name, "acme", "{}");
        assert_sqlstate_in(
            &format!("name of {} chars", name.len()),
            result,
            INVALID_PARAMETER,
        );
    }
    for settings in ["[]", r#"["a"]"#, r#""text""#, "42", "null", "true"] {
        let result = try_create(&mut admin, "Acme", "acme", settings);
        assert_sqlstate_in(&format!("settings {settings}"), result, INVALID_PARAMETER);
    }
    let mut su = db.superuser();
    let slugs: Vec<String> = rows(&mut su, "SELECT slug FROM boards.tenants", &[])
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(slugs, ["default"], "a refused create left a tenant behind");
}

#[test]
fn create_refuses_an_existing_slug_and_leaves_its_tenant_alone() {
    let db = fresh_db();
    let mut admin = db.admin();
    let original = tenant(
        &mut admin,
        "boards_tenant_create($1, $2, $3::text::jsonb)",
        &[&"Acme", &"acme", &r#"{"plan": "pro"}"#],
    );
    add_member(&mut admin, "acme", "alice", "owner");
    let before = get(&mut admin, "acme");

    let result = try_create(&mut admin, "Impostor Ltd", "acme", r#"{"plan": "free"}"#);
    let message = assert_sqlstate(result, UNIQUE_VIOLATION);
    assert!(
        message.contains("acme"),
        "the refusal does not name the slug: {message}"
    );
    let after = get(&mut admin, "acme");
    assert_eq!(after, before, "the existing tenant changed");
    assert_eq!(after.id, original.id);
    assert_eq!(members(&mut admin, "acme"), [pair("alice", "owner")]);
    // The default tenant is no exception.
    let result = try_create(&mut admin, "Other default", "default", "{}");
    let message = assert_sqlstate(result, UNIQUE_VIOLATION);
    assert!(message.contains("default"), "{message}");
}

#[test]
fn create_with_sample_data_fills_only_the_new_tenant() {
    let db = fresh_db();
    let mut admin = db.admin();
    let plain = create(&mut admin, "Plain", "plain");
    let sample = tenant(
        &mut admin,
        "boards_tenant_create($1, $2, include_sample_data => true)",
        &[&"Sample Co", &"sample-co"],
    );
    assert_eq!(sample.member_count, 1, "the sample user is the one member");

    let mut su = db.superuser();
    for table in BOARDS_TABLES {
        let counts = count_by_tenant(&mut su, table, "tenant_id");
        assert_eq!(
            counts.get(&sample.id).copied(),
            Some(1),
            "{table}: the sample tenant should have exactly one row; per tenant: {counts:?}"
        );
        assert_eq!(
            counts.values().sum::<i64>(),
            1,
            "{table}: sample rows outside the new tenant: {counts:?}"
        );
        assert_eq!(counts.get(&plain.id), None, "{table}: rows in 'plain'");
    }
    // The sample rows hang together: the membership and generation point at the board.
    let linked: i64 = su
        .query_one(
            "SELECT count(*) FROM boards.board_members m
             JOIN boards.boards b ON b.tenant_id = m.tenant_id AND b.id = m.board_id
             JOIN boards.generations g ON g.tenant_id = b.tenant_id AND g.board_id = b.id
             WHERE m.tenant_id = $1::text::uuid",
            &[&sample.id],
        )
        .map(|row| row.get(0))
        .unwrap_or_else(|e| panic!("joining the sample rows: {}", error_text(&e)));
    assert_eq!(linked, 1);
}

#[test]
fn list_returns_every_tenant_ordered_by_slug() {
    let db = fresh_db();
    let mut admin = db.admin();
    let zeta = create(&mut admin, "Zeta", "zeta");
    let alpha = create(&mut admin, "Alpha", "alpha");
    let mid = create(&mut admin, "Mid", "mid");
    add_member(&mut admin, "mid", "alice", "owner");
    add_member(&mut admin, "mid", "bob", "member");

    let listed = try_tenants(&mut admin, "boards_tenant_list()", &[])
        .unwrap_or_else(|e| panic!("boards_tenant_list: {}", error_text(&e)));
    let slugs: Vec<&str> = listed.iter().map(|t| t.slug.as_str()).collect();
    assert_eq!(slugs, ["alpha", "default", "mid", "zeta"]);
    assert_eq!(listed[0], alpha);
    assert_eq!(listed[1].id, DEFAULT_TENANT_ID);
    assert_eq!(listed[2].id, mid.id);
    assert_eq!(listed[2].member_count, 2);
    assert_eq!(listed[3], zeta);
}

#[test]
fn get_returns_the_tenant_and_refuses_an_unknown_slug() {
    let db = fresh_db();
    let mut admin = db.admin();
    let acme = create(&mut admin, "Acme", "acme");
    assert_eq!(get(&mut admin, "acme"), acme);
    let default = get(&mut admin, "default");
    assert_eq!(default.id, DEFAULT_TENANT_ID);
    assert_eq!(default.status, "active");

    let message = assert_sqlstate(
        try_tenants(&mut admin, "boards_tenant_get($1)", &[&"nope"]),
        UNDEFINED_OBJECT,
    );
    assert!(message.contains("nope"), "{message}");
}

#[test]
fn update_renames_reslugs_and_merges_settings() {
    let db = fresh_db();
    let mut admin = db.admin();
    let acme = tenant(
        &mut admin,
        "boards_tenant_create($1, $2, $3::text::jsonb)",
        &[&"Acme", &"acme", &r#"{"plan": "pro", "seats": 5}"#],
    );

    let renamed = tenant(
        &mut admin,
        "boards_tenant_update($1, name => $2)",
        &[&"acme", &"Acme Inc"],
    );
    assert_eq!(renamed.name, "Acme Inc");
    assert_eq!(renamed.slug, "acme");
    assert_eq!(renamed.id, acme.id);
    assert_eq!(renamed.settings, acme.settings);

    let reslugged = tenant(
        &mut admin,
        "boards_tenant_update($1, new_slug => $2)",
        &[&"acme", &"acme-inc"],
    );
    assert_eq!(reslugged.slug, "acme-inc");
    assert_eq!(reslugged.id, acme.id);
    assert_eq!(reslugged.name, "Acme Inc");
    assert_sqlstate(
        try_tenants(&mut admin, "boards_tenant_get($1)", &[&"acme"]),
        UNDEFINED_OBJECT,
    );
    assert_eq!(get(&mut admin, "acme-inc").id, acme.id);

    let merged = tenant(
        &mut admin,
        "boards_tenant_update($1, settings => $2::text::jsonb)",
        &[&"acme-inc", &r#"{"seats": 10, "region": "eu"}"#],
    );
    assert_eq!(
        merged.settings,
        json!({"plan": "pro", "seats": 10, "region": "eu"}),
        "settings must be merged, keeping the keys not given"
    );
    assert_eq!(merged.name, "Acme Inc");
    assert_eq!(get(&mut admin, "acme-inc"), merged);
}

#[test]
fn update_refuses_taken_and_invalid_slugs_and_bad_arguments() {
    let db = fresh_db();
    let mut admin = db.admin();
    create(&mut admin, "Acme", "acme");
    let globex = create(&mut admin, "Globex", "globex");
    let acme = get(&mut admin, "acme");

    let message = assert_sqlstate(
        try_tenants(
            &mut admin,
            "boards_tenant_update($1, new_slug => $2)",
            &[&"acme", &"globex"],
        ),
        UNIQUE_VIOLATION,
    );
    assert!(
        message.contains("globex"),
        "the refusal does not name the slug: {message}"
    );
    for slug in ["Acme Inc", "acme_inc", ""] {
        assert_sqlstate_in(
            &format!("new_slug {slug:?}"),
            try_tenants(
                &mut admin,
                "boards_tenant_update($1, new_slug => $2)",
                &[&"acme", &slug],
            ),
            INVALID_PARAMETER,
        );
    }
    assert_sqlstate_in(
        "empty name",
        try_tenants(
            &mut admin,
            "boards_tenant_update($1, name => $2)",
            &[&"acme", &""],
        ),
        INVALID_PARAMETER,
    );
    assert_sqlstate_in(
        "settings array",
        try_tenants(
            &mut admin,
            "boards_tenant_update($1, settings => $2::text::jsonb)",
            &[&"acme", &"[1]"],
        ),
        INVALID_PARAMETER,
    );
    assert_sqlstate_in(
        "unknown tenant",
        try_tenants(
            &mut admin,
            "boards_tenant_update($1, name => $2)",
            &[&"nope", &"Nope"],
        ),
        UNDEFINED_OBJECT,
    );
    assert_eq!(
        get(&mut admin, "acme"),
        acme,
        "a refused update changed acme"
    );
    assert_eq!(get(&mut admin, "globex"), globex);
}

#[test]
fn the_default_tenant_keeps_its_slug() {
    let db = fresh_db();
    let mut admin = db.admin();
    assert_sqlstate(
        try_tenants(
            &mut admin,
            "boards_tenant_update($1, new_slug => $2)",
            &[&"default", &"main"],
        ),
        NOT_IN_PREREQUISITE_STATE,
    );
    assert_eq!(get(&mut admin, "default").id, DEFAULT_TENANT_ID);
    // Renaming it is fine.
    let renamed = tenant(
        &mut admin,
        "boards_tenant_update($1, name => $2)",
        &[&"default", &"Main"],
    );
    assert_eq!(
        (renamed.slug.as_str(), renamed.name.as_str()),
        ("default", "Main")
    );
}

/// A token for `subject`, with `extra` claims merged in.
fn token(subject: &str, extra: Value) -> String {
    let mut claims = json!({"iat": jwt::now(), "sub": subject, "exp": jwt::now() + 3600});
    if let (Some(claims), Value::Object(extra)) = (claims.as_object_mut(), extra) {
        claims.extend(extra);
    }
    jwt::mint("HS256", &jwt::test_kid("HS256"), &claims)
}

fn set_tenant_from_jwt(
    app: &mut Client,
    token: &str,
    x_tenant: Option<&str>,
) -> Result<String, postgres::Error> {
    app.query_one(
        "SELECT tenant_slug FROM boards_set_tenant_from_jwt($1, x_tenant => $2)",
        &[&token, &x_tenant],
    )
    .map(|row| row.get(0))
}

#[test]
fn suspend_blocks_the_tenant_and_approve_restores_it() {
    let db = fresh_db();
    db.set("boards.multi_tenant_mode", "on");
    let mut admin = db.admin();
    jwt::install_test_keys(&mut admin);
    create(&mut admin, "Acme", "acme");
    add_member(&mut admin, "acme", "alice", "owner");
    let by_claim = token("alice", json!({"tenant": "acme"}));
    let by_header = token("alice", json!({}));
    let mut app = db.app();
    let attempts: [(&str, &str, Option<&str>); 2] = [
        ("tenant claim", &by_claim, None),
        ("X-Tenant", &by_header, Some("acme")),
    ];
    for (what, token, x_tenant) in attempts {
        let slug = set_tenant_from_jwt(&mut app, token, x_tenant)
            .unwrap_or_else(|e| panic!("{what} before suspension: {}", error_text(&e)));
        assert_eq!(slug, "acme");
    }

    let suspended = tenant(&mut admin, "boards_tenant_suspend($1)", &[&"acme"]);
    assert_eq!(suspended.status, "suspended");
    assert_eq!(get(&mut admin, "acme").status, "suspended");
    let mut app = db.app();
    for (what, token, x_tenant) in attempts {
        assert_sqlstate_in(
            &format!("{what} while suspended"),
            set_tenant_from_jwt(&mut app, token, x_tenant),
            NOT_IN_PREREQUISITE_STATE,
        );
    }
    // Suspending twice is harmless.
    let again = tenant(&mut admin, "boards_tenant_suspend($1)", &[&"acme"]);
    assert_eq!(again.status, "suspended");

    let approved = tenant(&mut admin, "boards_tenant_approve($1)", &[&"acme"]);
    assert_eq!(approved.status, "active");
    for (what, token, x_tenant) in attempts {
        let slug = set_tenant_from_jwt(&mut app, token, x_tenant)
            .unwrap_or_else(|e| panic!("{what} after approval: {}", error_text(&e)));
        assert_eq!(slug, "acme");
    }

    for call in ["boards_tenant_suspend($1)", "boards_tenant_approve($1)"] {
        assert_sqlstate_in(
            call,
            try_tenants(&mut admin, call, &[&"nope"]),
            UNDEFINED_OBJECT,
        );
    }
}

#[test]
fn suspension_cuts_off_sessions_already_acting_for_the_tenant() {
    let db = fresh_db();
    db.set("boards.multi_tenant_mode", "on");
    let mut admin = db.admin();
    jwt::install_test_keys(&mut admin);
    let acme = create(&mut admin, "Acme", "acme");
    add_member(&mut admin, "acme", "alice", "owner");
    let mut su = db.superuser();
    create_app_table(&mut su);
    su.batch_execute("GRANT SELECT, INSERT ON public.notes TO boards_app")
        .unwrap_or_else(|e| panic!("granting notes: {}", error_text(&e)));
    seed_tenant(&mut su, &acme.id, 1);
    let board = query_text(
        &mut su,
        "SELECT id::text FROM boards.boards WHERE tenant_id = $1::text::uuid",
        &[&acme.id],
    )
    .unwrap_or_default();

    // A pooled connection that set its session context before the suspension.
    let mut app = db.app();
    set_tenant_from_jwt(&mut app, &token("alice", json!({"tenant": "acme"})), None)
        .unwrap_or_else(|e| panic!("alice acting for acme: {}", error_text(&e)));
    let count = |app: &mut Client| {
        app.query_one("SELECT count(*) FROM public.notes", &[])
            .map(|row| row.get::<_, i64>(0))
    };
    assert_eq!(count(&mut app).ok(), Some(3), "before the suspension");

    tenant(&mut admin, "boards_tenant_suspend($1)", &[&"acme"]);
    let before = census(&mut su);
    // DESIGN 1.2, fail closed: a suspended tenant gets no rows, and no writes.
    if let Ok(seen) = count(&mut app) {
        assert_eq!(
            seen, 0,
            "a live session still reads the suspended tenant's rows"
        );
    }
    let insert = app.execute(
        "INSERT INTO public.notes (board_id, body) VALUES ($1::text::uuid, 'after suspension')",
        &[&board],
    );
    assert!(
        insert.is_err(),
        "a live session still writes into the suspended tenant"
    );
    assert_eq!(census(&mut su), before, "rows changed after the suspension");
}

#[test]
fn the_default_tenant_cannot_be_suspended_in_single_tenant_mode() {
    let db = fresh_db();
    let mut admin = db.admin();
    assert_sqlstate(
        try_tenants(&mut admin, "boards_tenant_suspend($1)", &[&"default"]),
        NOT_IN_PREREQUISITE_STATE,
    );
    assert_eq!(get(&mut admin, "default").status, "active");
}

/// Rows of one tenant in every Boards table and in the app table `public.notes`:
/// `users` users (the first an owner), one board, one board membership, two generations,
/// three notes.
fn seed_tenant(su: &mut Client, tenant_id: &str, users: usize) {
    let sql = format!(
        "WITH u AS (
             INSERT INTO boards.users (tenant_id, auth_subject, role)
             SELECT $1::text::uuid, 'user-' || n, CASE WHEN n = 1 THEN 'owner' ELSE 'member' END
             FROM generate_series(1, {users}) n
             RETURNING id, auth_subject),
         owner AS (SELECT id FROM u WHERE auth_subject = 'user-1'),
         b AS (
             INSERT INTO boards.boards (tenant_id, owner_id, title)
             SELECT $1::text::uuid, id, 'Board' FROM owner RETURNING id),
         m AS (
             INSERT INTO boards.board_members (tenant_id, board_id, user_id, role)
             SELECT $1::text::uuid, b.id, owner.id, 'admin' FROM b, owner RETURNING 1),
         g AS (
             INSERT INTO boards.generations (tenant_id, board_id, user_id, generator_name, artifact_type)
             SELECT $1::text::uuid, b.id, owner.id, 'gen', 'image'
             FROM b, owner, generate_series(1, 2) RETURNING 1)
         INSERT INTO public.notes (tenant_id, board_id, body)
         SELECT $1::text::uuid, b.id, 'note ' || n FROM b, generate_series(1, 3) n"
    );
    su.execute(&sql, &[&tenant_id])
        .unwrap_or_else(|e| panic!("seeding tenant {tenant_id}: {}", error_text(&e)));
}

/// An application table with a `tenant_id uuid` column, created as the app's migrations
/// would: auto-protected. Its key to `boards.boards` has no ON DELETE action, so a delete
/// that removes boards first fails.
fn create_app_table(su: &mut Client) {
    su.batch_execute(
        "CREATE TABLE public.notes (
             tenant_id uuid NOT NULL,
             id uuid NOT NULL DEFAULT gen_random_uuid(),
             board_id uuid NOT NULL,
             body text NOT NULL,
             PRIMARY KEY (tenant_id, id),
             FOREIGN KEY (tenant_id, board_id) REFERENCES boards.boards (tenant_id, id)
         )",
    )
    .unwrap_or_else(|e| panic!("creating public.notes: {}", error_text(&e)));
    let registered = protected_tables(su)
        .iter()
        .any(|(table, _)| table == "notes" || table == "public.notes");
    assert!(registered, "public.notes was not auto-protected");
}

#[test]
fn delete_removes_every_row_of_the_tenant_and_nothing_else() {
    let db = fresh_db();
    let mut admin = db.admin();
    let mut su = db.superuser();
    create_app_table(&mut su);
    let acme = create(&mut admin, "Acme", "acme");
    let globex = create(&mut admin, "Globex", "globex");
    seed_tenant(&mut su, &acme.id, 2);
    seed_tenant(&mut su, &globex.id, 3);
    seed_tenant(&mut su, DEFAULT_TENANT_ID, 1);

    let before = census(&mut su);
    let acme_rows: i64 = before
        .iter()
        .filter(|((_, tenant), _)| *tenant == acme.id)
        .map(|(_, n)| n)
        .sum();
    assert_eq!(acme_rows, 2 + 1 + 1 + 2 + 3, "seeding acme: {before:?}");

    let removed: BTreeMap<String, i64> = rows(
        &mut admin,
        "SELECT table_name, rows_deleted FROM boards_tenant_delete($1)",
        &[&"acme"],
    )
    .iter()
    .map(|row| {
        let table: String = row.get(0);
        (table.trim_start_matches("public.").to_owned(), row.get(1))
    })
    .collect();
    let expected: BTreeMap<String, i64> = [
        ("boards.users", 2),
        ("boards.boards", 1),
        ("boards.board_members", 1),
        ("boards.generations", 2),
        ("notes", 3),
        ("boards.tenants", 1),
    ]
    .into_iter()
    .map(|(table, n)| (table.to_owned(), n))
    .collect();
    assert_eq!(removed, expected, "per-table counts of the delete");

    let after = census(&mut su);
    let left: Vec<_> = after.iter().filter(|((_, t), _)| *t == acme.id).collect();
    assert!(
        left.is_empty(),
        "rows of the deleted tenant remain: {left:?}"
    );
    let others_before: BTreeMap<_, _> = before
        .into_iter()
        .filter(|((_, t), _)| *t != acme.id)
        .collect();
    assert_eq!(after, others_before, "rows of other tenants changed");
    assert!(!tenant_exists(&mut su, "acme"));
    assert!(tenant_exists(&mut su, "globex"));
    assert_sqlstate(
        try_tenants(&mut admin, "boards_tenant_get($1)", &[&"acme"]),
        UNDEFINED_OBJECT,
    );
}

#[test]
fn delete_refuses_unknown_tenants() {
    let db = fresh_db();
    let mut admin = db.admin();
    let message = assert_sqlstate(
        admin.query("SELECT * FROM boards_tenant_delete($1)", &[&"nope"]),
        UNDEFINED_OBJECT,
    );
    assert!(message.contains("nope"), "{message}");
}

#[test]
fn the_default_tenant_can_be_deleted_only_in_multi_tenant_mode() {
    let db = fresh_db();
    let mut su = db.superuser();
    create_app_table(&mut su);
    seed_tenant(&mut su, DEFAULT_TENANT_ID, 2);
    let before = census(&mut su);

    let mut admin = db.admin();
    assert_sqlstate(
        admin.query("SELECT * FROM boards_tenant_delete($1)", &[&"default"]),
        NOT_IN_PREREQUISITE_STATE,
    );
    assert!(tenant_exists(&mut su, "default"));
    assert_eq!(census(&mut su), before, "a refused delete removed rows");

    db.set("boards.multi_tenant_mode", "on");
    let mut admin = db.admin();
    let removed = rows(
        &mut admin,
        "SELECT table_name, rows_deleted FROM boards_tenant_delete($1)",
        &[&"default"],
    );
    assert!(!removed.is_empty());
    assert!(!tenant_exists(&mut su, "default"));
    assert!(
        census(&mut su).is_empty(),
        "rows of the default tenant remain"
    );
}

#[test]
fn members_can_be_added_changed_listed_and_removed() {
    let db = fresh_db();
    let mut admin = db.admin();
    let acme = create(&mut admin, "Acme", "acme");
    create(&mut admin, "Globex", "globex");

    let alice = add_member(&mut admin, "acme", "alice", "owner");
    uuid::Uuid::parse_str(&alice).unwrap_or_else(|e| panic!("user id {alice:?}: {e}"));
    let bob: String = query_text(
        &mut admin,
        "SELECT boards_tenant_add_member($1, $2, email => $3, display_name => $4)::text",
        &[&"acme", &"bob", &"bob@acme.test", &"Bob"],
    )
    .unwrap_or_default();
    assert_eq!(
        members(&mut admin, "acme"),
        [pair("alice", "owner"), pair("bob", "member")],
        "the role defaults to member"
    );

    // Adding an existing member changes the role, keeps the user.
    let bob_again = add_member(&mut admin, "acme", "bob", "admin");
    assert_eq!(bob_again, bob);
    let listed = rows(
        &mut admin,
        "SELECT user_id::text, subject, email, display_name, role FROM boards_tenant_members($1)",
        &[&"acme"],
    );
    let listed: Vec<MemberRow> = listed
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
        .collect();
    assert_eq!(
        listed,
        [
            (alice.clone(), "alice".into(), None, None, "owner".into()),
            (
                bob.clone(),
                "bob".into(),
                Some("bob@acme.test".into()),
                Some("Bob".into()),
                "admin".into()
            ),
        ]
    );
    assert_eq!(get(&mut admin, "acme").member_count, 2);

    // Membership is per tenant.
    assert!(members(&mut admin, "globex").is_empty());
    let mut su = db.superuser();
    assert_eq!(count_in(&mut su, "boards.users", &acme.id), 2);

    admin
        .execute(
            "SELECT boards_tenant_remove_member($1, $2)",
            &[&"acme", &"bob"],
        )
        .unwrap_or_else(|e| panic!("removing bob: {}", error_text(&e)));
    assert_eq!(members(&mut admin, "acme"), [pair("alice", "owner")]);
}

#[test]
fn member_changes_refuse_bad_roles_and_unknown_members_and_tenants() {
    let db = fresh_db();
    let mut admin = db.admin();
    create(&mut admin, "Acme", "acme");
    add_member(&mut admin, "acme", "alice", "owner");

    for role in ["root", "superuser", "", "owners"] {
        let result = admin.query_one(
            "SELECT boards_tenant_add_member($1, $2, $3)",
            &[&"acme", &"mallory", &role],
        );
        assert_sqlstate_in(&format!("role {role:?}"), result, INVALID_PARAMETER);
    }
    assert_eq!(members(&mut admin, "acme"), [pair("alice", "owner")]);

    let message = assert_sqlstate(
        admin.execute(
            "SELECT boards_tenant_remove_member($1, $2)",
            &[&"acme", &"carol"],
        ),
        UNDEFINED_OBJECT,
    );
    assert!(message.contains("carol"), "{message}");
    for (what, sql) in [
        ("add_member", "SELECT boards_tenant_add_member('nope', 'x')"),
        (
            "remove_member",
            "SELECT boards_tenant_remove_member('nope', 'x')",
        ),
        ("members", "SELECT * FROM boards_tenant_members('nope')"),
    ] {
        assert_sqlstate_in(what, admin.query(sql, &[]), UNDEFINED_OBJECT);
    }
}

#[test]
fn the_last_owner_can_be_neither_removed_nor_demoted() {
    let db = fresh_db();
    let mut admin = db.admin();
    create(&mut admin, "Acme", "acme");
    add_member(&mut admin, "acme", "alice", "owner");
    add_member(&mut admin, "acme", "bob", "member");

    assert_sqlstate_in(
        "removing the last owner",
        admin.execute(
            "SELECT boards_tenant_remove_member($1, $2)",
            &[&"acme", &"alice"],
        ),
        NOT_IN_PREREQUISITE_STATE,
    );
    for role in ["admin", "member"] {
        assert_sqlstate_in(
            &format!("demoting the last owner to {role}"),
            admin.query_one(
                "SELECT boards_tenant_add_member($1, $2, $3)",
                &[&"acme", &"alice", &role],
            ),
            NOT_IN_PREREQUISITE_STATE,
        );
    }
    assert_eq!(
        members(&mut admin, "acme"),
        [pair("alice", "owner"), pair("bob", "member")],
        "the last owner must stay"
    );

    // With a second owner, either may go.
    add_member(&mut admin, "acme", "bob", "owner");
    add_member(&mut admin, "acme", "alice", "member");
    assert_eq!(
        members(&mut admin, "acme"),
        [pair("bob", "owner"), pair("alice", "member")]
    );
}

#[test]
fn the_app_role_can_call_no_admin_function() {
    let db = fresh_db();
    let mut admin = db.admin();
    let acme = create(&mut admin, "Acme", "acme");
    add_member(&mut admin, "acme", "alice", "owner");
    let mut su = db.superuser();
    create_app_table(&mut su);
    seed_tenant(&mut su, &acme.id, 2);
    let before = get(&mut admin, "acme");
    let census_before = census(&mut su);

    let mut app = db.app();
    let calls = [
        "SELECT * FROM boards_tenant_create('Evil', 'evil')",
        "SELECT * FROM boards_tenant_list()",
        "SELECT * FROM boards_tenant_get('acme')",
        "SELECT * FROM boards_tenant_update('acme', name => 'Pwned')",
        "SELECT * FROM boards_tenant_delete('acme')",
        "SELECT * FROM boards_tenant_approve('acme')",
        "SELECT * FROM boards_tenant_suspend('acme')",
        "SELECT boards_tenant_add_member('acme', 'mallory', 'owner')",
        "SELECT boards_tenant_remove_member('acme', 'alice')",
        "SELECT * FROM boards_tenant_members('acme')",
        // The internals behind the SQL wrappers are no way around them.
        "SELECT boards.tenant_create_internal('Evil', 'evil', '{}', false)",
        "SELECT boards.tenant_id_internal('acme')",
        "SELECT boards.tenant_update_internal('acme', 'Pwned', NULL, NULL)",
        "SELECT boards.tenant_set_status_internal('acme', 'suspended')",
        "SELECT * FROM boards.tenant_info('00000000-0000-0000-0000-000000000000')",
    ];
    for sql in calls {
        assert_sqlstate_in(sql, app.query(sql, &[]), PERMISSION_DENIED);
    }

    assert!(
        !tenant_exists(&mut su, "evil"),
        "the app role created a tenant"
    );
    assert_eq!(get(&mut admin, "acme"), before, "the app role changed acme");
    assert_eq!(
        members(&mut admin, "acme"),
        [
            pair("alice", "owner"),
            pair("user-1", "owner"),
            pair("user-2", "member")
        ]
    );
    assert_eq!(census(&mut su), census_before, "the app role changed rows");
}

#[test]
fn concurrent_removals_of_two_owners_leave_one() {
    let db = fresh_db();
    let mut setup = db.admin();
    // A few rounds, each on a new tenant: each must end with exactly one owner.
    for round in 0..3 {
        let slug = format!("duo-{round}");
        create(&mut setup, "Duo", &slug);
        add_member(&mut setup, &slug, "alice", "owner");
        add_member(&mut setup, &slug, "bob", "owner");

        // The first removal runs and stays uncommitted; the second starts while it is in
        // flight and must wait for it (then see one owner left and refuse), not race it.
        let mut first = db.admin();
        let mut first_tx = first
            .transaction()
            .unwrap_or_else(|e| panic!("BEGIN: {}", error_text(&e)));
        let first_result = first_tx
            .execute("SELECT boards_tenant_remove_member($1, 'alice')", &[&slug])
            .map(|_| ());
        let mut second = db.admin();
        let second_pid: i32 = second
            .query_one("SELECT pg_backend_pid()", &[])
            .map(|row| row.get(0))
            .unwrap_or_else(|e| panic!("pg_backend_pid: {}", error_text(&e)));
        let second_slug = slug.clone();
        let remover = thread::spawn(move || {
            let result = second
                .execute(
                    "SELECT boards_tenant_remove_member($1, 'bob')",
                    &[&second_slug],
                )
                .map(|_| ());
            ("bob", result)
        });
        waits::until_blocked_on_lock(&mut setup, second_pid, || remover.is_finished());
        if first_result.is_ok() {
            first_tx
                .commit()
                .unwrap_or_else(|e| panic!("COMMIT: {}", error_text(&e)));
        } else {
            drop(first_tx);
        }
        let results = vec![
            ("alice", first_result),
            remover
                .join()
                .unwrap_or_else(|_| panic!("the second remover panicked")),
        ];

        let removed: Vec<&str> = results
            .iter()
            .filter(|(_, r)| r.is_ok())
            .map(|(s, _)| *s)
            .collect();
        assert_eq!(removed.len(), 1, "round {round}: removed {removed:?}");
        for (subject, result) in results {
            if let Err(e) = result {
                let code = e.as_db_error().map(|d| d.code().code().to_owned());
                assert_eq!(
                    code.as_deref(),
                    Some(NOT_IN_PREREQUISITE_STATE),
                    "round {round}: removing {subject}: {}",
                    error_text(&e)
                );
            }
        }
        let owners: Vec<(String, String)> = members(&mut setup, &slug)
            .into_iter()
            .filter(|(_, role)| role == "owner")
            .collect();
        assert_eq!(owners.len(), 1, "round {round}: owners left {owners:?}");
    }
}
