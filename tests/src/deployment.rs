//! A database filled as a real deployment fills it, and the digests that say whether two
//! databases hold the same things: what the upgrade and dump/restore tests compare.
//!
//! [`fill`] uses only the 0.1.0 SQL surface, so the same deployment can be built on the oldest
//! release and upgraded, or on a fresh install of the current version.

use boards_tenant_harness::jwt::{self, mint, test_kid};
use boards_tenant_harness::postgres::Client;
use boards_tenant_harness::TestDb;
use serde_json::json;

use crate::{column, exec, set_context, text};

/// The algorithms whose keys the deployment installs: one of each family.
pub const KEY_ALGORITHMS: &[&str] = &["HS256", "RS256", "PS384", "ES256", "ES384", "EdDSA"];

/// The active tenants of the deployment, each with an owner `<slug>-owner` and a member
/// `<slug>-member`, boards, sample data and rows in the application tables.
pub const ACTIVE_TENANTS: &[&str] = &["acme-corp", "globex"];
/// A suspended tenant (with members and rows) and one pending approval.
pub const SUSPENDED_TENANT: &str = "initech";
pub const PENDING_TENANT: &str = "hooli";

/// The tables whose rows the comparisons digest, with the rows that count: what the
/// extension's config-dump registrations put in a dump (`CREATE EXTENSION` makes the rest
/// anew: the `default` tenant and the registry rows of the Boards tables).
pub const DATA_TABLES: &[(&str, &str)] = &[
    ("boards.tenants", "slug <> 'default'"),
    ("boards.users", "true"),
    ("boards.boards", "true"),
    ("boards.board_members", "true"),
    ("boards.generations", "true"),
    // The columns of 0.1.0: the upgrade to 0.2.0 adds the (empty) binding columns.
    (
        "(SELECT kid, alg, format, material, created_at, created_by FROM boards.jwt_keys)",
        "true",
    ),
    ("boards.protected_tables", "NOT builtin"),
    ("public.notes", "true"),
    ("public.orders", "true"),
    ("public.legacy_docs", "true"),
];

/// A token of `subject` naming `tenant` in its `tenant` claim, signed by the `alg` key.
pub fn token(alg: &str, subject: &str, tenant: &str) -> String {
    mint(
        alg,
        &test_kid(alg),
        &json!({"sub": subject, "tenant": tenant, "iat": jwt::now(), "exp": jwt::now() + 3600}),
    )
}

/// Fills `db` (extension created, any version from 0.1.0 on): keys of several algorithms,
/// tenants in every status with members and content, an application table auto-protected on
/// `tenant_id`, one protected on another column, a migrated single-tenant table, and
/// database-level settings.
pub fn fill(db: &TestDb) {
    let mut su = db.superuser();
    let mut admin = db.admin();
    for alg in KEY_ALGORITHMS {
        admin
            .execute(
                "SELECT boards_jwt_add_key($1, $2, $3)",
                &[&test_kid(alg), alg, &jwt::verification_material(alg)],
            )
            .unwrap_or_else(|e| panic!("adding the {alg} key: {}", crate::error_text(&e)));
    }
    exec(
        &mut su,
        "CREATE TABLE public.notes (tenant_id uuid NOT NULL, id uuid NOT NULL DEFAULT gen_random_uuid(),
                                    body text NOT NULL, PRIMARY KEY (tenant_id, id));
         CREATE TABLE public.orders (account_id uuid NOT NULL, id uuid NOT NULL DEFAULT gen_random_uuid(),
                                     amount numeric NOT NULL, PRIMARY KEY (account_id, id));
         SELECT boards_tenant_protect('public.orders', 'account_id');
         ALTER TABLE public.orders ALTER COLUMN account_id SET DEFAULT boards_current_tenant();
         CREATE TABLE public.legacy_docs (id serial PRIMARY KEY, body text NOT NULL);
         INSERT INTO public.legacy_docs (body) VALUES ('legacy one'), ('legacy two');
         SELECT boards_tenant_migrate_table('public.legacy_docs');
         GRANT SELECT, INSERT, UPDATE, DELETE ON public.notes, public.orders, public.legacy_docs TO boards_app;
         GRANT USAGE ON SEQUENCE public.legacy_docs_id_seq TO boards_app;",
    );
    for slug in ACTIVE_TENANTS
        .iter()
        .chain([&SUSPENDED_TENANT, &PENDING_TENANT])
    {
        exec(
            &mut admin,
            &format!(
                "SELECT * FROM boards_tenant_create('{slug} Inc', '{slug}', '{{\"plan\": \"pro\"}}', include_sample_data => true);
                 SELECT boards_tenant_add_member('{slug}', '{slug}-owner', 'owner', '{slug}-owner@example.com');
                 SELECT boards_tenant_add_member('{slug}', '{slug}-member', 'member');"
            ),
        );
    }
    // Content written the way the application writes it: as the app role, in the context.
    let mut app = db.app();
    for slug in ACTIVE_TENANTS.iter().chain([&SUSPENDED_TENANT]) {
        for (i, alg) in KEY_ALGORITHMS.iter().enumerate() {
            set_context(&mut app, &token(alg, &format!("{slug}-owner"), slug), None);
            exec(
                &mut app,
                &format!(
                    "INSERT INTO boards.boards (owner_id, title) VALUES (boards_current_user_id(), '{slug} board {i}');
                     INSERT INTO public.notes (body) VALUES ('{slug} note {i}');
                     INSERT INTO public.orders (amount) VALUES ({i}.5);"
                ),
            );
        }
    }
    exec(&mut app, "SELECT boards_reset_tenant()");
    exec(
        &mut admin,
        &format!("SELECT * FROM boards_tenant_suspend('{SUSPENDED_TENANT}')"),
    );
    // Registration with approval required leaves a tenant pending; an UPDATE stands in for it.
    exec(
        &mut su,
        &format!(
            "UPDATE boards.tenants SET status = 'pending_approval' WHERE slug = '{PENDING_TENANT}'"
        ),
    );
    db.set("boards.multi_tenant_mode", "on");
    db.set("boards.jwt_leeway", "10s");
}

/// Every row of every [`DATA_TABLES`] table, digested per table (read as superuser).
pub fn content(su: &mut Client) -> Vec<(String, i64, String)> {
    DATA_TABLES
        .iter()
        .map(|(table, rows)| {
            let row = su
                .query_one(
                    &format!(
                        "SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), ''))
                         FROM {table} t WHERE {rows}"
                    ),
                    &[],
                )
                .unwrap_or_else(|e| panic!("digesting {table}: {}", crate::error_text(&e)));
            (table.to_string(), row.get(0), row.get(1))
        })
        .collect()
}

/// The normalised catalog of everything the extension owns or shapes
/// (`tests/sql/catalog_snapshot.sql`), one line per fact.
pub fn catalog(su: &mut Client) -> Vec<String> {
    su.query(include_str!("../sql/catalog_snapshot.sql"), &[])
        .unwrap_or_else(|e| panic!("catalog snapshot: {}", crate::error_text(&e)))
        .iter()
        .map(|row| {
            format!(
                "{} {} :: {}",
                row.get::<_, String>(0),
                row.get::<_, String>(1),
                row.get::<_, Option<String>>(2).unwrap_or_default()
            )
        })
        .collect()
}

/// Panics with the lines only one side has, when two snapshots differ.
#[track_caller]
pub fn assert_same_lines(
    what: &str,
    left_name: &str,
    left: &[String],
    right_name: &str,
    right: &[String],
) {
    let only_left: Vec<&String> = left.iter().filter(|l| !right.contains(l)).collect();
    let only_right: Vec<&String> = right.iter().filter(|l| !left.contains(l)).collect();
    assert!(
        only_left.is_empty() && only_right.is_empty() && left.len() == right.len(),
        "{what} differs.\n--- only in {left_name} ({}):\n{}\n--- only in {right_name} ({}):\n{}",
        only_left.len(),
        only_left
            .iter()
            .map(|l| l.as_str())
            .collect::<Vec<_>>()
            .join("\n"),
        only_right.len(),
        only_right
            .iter()
            .map(|l| l.as_str())
            .collect::<Vec<_>>()
            .join("\n"),
    );
}

/// What the audit reports, without the parts that differ between two databases holding the
/// same deployment (ids, counts of generated rows).
pub fn audit_findings(admin: &mut Client) -> Vec<String> {
    column(
        admin,
        "SELECT format('%s %s %s %s', coalesce(tenant_slug, '-'), check_name, severity, coalesce(object_name, '-'))
         FROM boards_tenant_audit() ORDER BY 1",
    )
}

/// Proves the deployment of [`fill`] is isolated as it should be, as the app role: every key
/// still verifies, each active tenant sees exactly its own rows in every table, the migrated
/// table's rows stay in `default`, suspended, pending and foreign tenants are refused.
pub fn assert_isolated(db: &TestDb) {
    let mut app = db.app();
    let mut su = db.superuser();
    for slug in ACTIVE_TENANTS {
        let tenant_id = text(
            &mut su,
            "SELECT id::text FROM boards.tenants WHERE slug = $1",
            &[slug],
        );
        for alg in KEY_ALGORITHMS {
            let row = set_context(&mut app, &token(alg, &format!("{slug}-member"), slug), None);
            assert_eq!(row.tenant_slug, *slug, "{alg}");
            for (table, column_name) in [
                ("boards.boards", "tenant_id"),
                ("boards.users", "tenant_id"),
                ("public.notes", "tenant_id"),
                ("public.orders", "account_id"),
            ] {
                let seen = column(
                    &mut app,
                    &format!("SELECT DISTINCT {column_name}::text FROM {table}"),
                );
                assert_eq!(seen, vec![tenant_id.clone()], "{slug} via {alg}: {table}");
                let visible: i64 = app
                    .query_one(&format!("SELECT count(*) FROM {table}"), &[])
                    .map(|r| r.get(0))
                    .unwrap_or_else(|e| panic!("{table}: {}", crate::error_text(&e)));
                let owned: i64 = su
                    .query_one(
                        &format!("SELECT count(*) FROM {table} WHERE {column_name}::text = $1"),
                        &[&tenant_id],
                    )
                    .map(|r| r.get(0))
                    .unwrap_or_else(|e| panic!("{table}: {}", crate::error_text(&e)));
                assert_eq!(visible, owned, "{slug} via {alg}: {table}");
            }
            assert_eq!(
                crate::count(&mut app, "SELECT count(*) FROM public.legacy_docs"),
                0,
                "{slug}: the migrated rows belong to the default tenant"
            );
        }
        // Writes land in the tenant and nowhere else.
        exec(&mut app, "INSERT INTO public.notes (body) VALUES ('after')");
        let other = ACTIVE_TENANTS
            .iter()
            .find(|s| *s != slug)
            .copied()
            .unwrap_or(slug);
        let refused = set_context_err(
            &mut app,
            &token("HS256", &format!("{slug}-member"), slug),
            Some(other),
        );
        assert_eq!(refused, "42501", "{slug} member naming {other} in X-Tenant");
    }
    assert_eq!(
        set_context_err(
            &mut app,
            &token(
                "HS256",
                &format!("{SUSPENDED_TENANT}-owner"),
                SUSPENDED_TENANT
            ),
            None
        ),
        "55000",
        "a suspended tenant"
    );
    assert_eq!(
        set_context_err(
            &mut app,
            &token("HS256", &format!("{PENDING_TENANT}-owner"), PENDING_TENANT),
            None
        ),
        "55000",
        "a pending tenant"
    );
    let forged = jwt::mint_with_other_key(
        "HS256",
        &test_kid("HS256"),
        &json!({"sub": "mallory", "tenant": ACTIVE_TENANTS[0]}),
    );
    assert_eq!(
        set_context_err(&mut app, &forged, None),
        "28000",
        "a forged token"
    );
    // Multi-tenant mode (a database-level setting) is in force: no tenant named, no context.
    let anonymous = mint("HS256", &test_kid("HS256"), &json!({"sub": "nobody"}));
    assert_eq!(
        set_context_err(&mut app, &anonymous, None),
        "22004",
        "no tenant named"
    );
}

/// The SQLSTATE a refused `boards_set_tenant_from_jwt` call got.
#[track_caller]
fn set_context_err(app: &mut Client, token: &str, x_tenant: Option<&str>) -> String {
    match crate::try_context(app, token, x_tenant) {
        Ok(()) => panic!("the context was set, but it must have been refused"),
        Err(e) => match e.as_db_error() {
            Some(db) => db.code().code().to_owned(),
            None => panic!("client error: {e}"),
        },
    }
}
