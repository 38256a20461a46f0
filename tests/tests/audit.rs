//! The isolation audit: `boards_tenant_audit(tenant_slug)` and `boards_tenant_audit_json`.
//!
//! Every check gets a test that plants exactly that violation (as superuser, around the
//! foreign keys and the DDL guard with `session_replication_role = replica`) into a fresh
//! database with two tenants of clean data, runs the audit as the admin role and looks for the
//! row. Cluster-wide plants (roles, parameter grants) happen in a transaction that is rolled
//! back after the audit ran in it (`SET ROLE` to the admin role), so parallel tests never see
//! them.

use std::collections::BTreeMap;

use boards_tenant_harness::postgres::Client;
use boards_tenant_harness::{Cluster, ClusterOptions, TestDb, ADMIN_ROLE};
use boards_tenant_tests::{assert_sqlstate, error_text, server_version_num};
use serde_json::Value;

const ACME: &str = "a0000000-0000-4000-8000-000000000000";
const GLOBEX: &str = "b0000000-0000-4000-8000-000000000000";
/// Owner and member of acme.
const ALICE: &str = "a0000000-0000-4000-8000-0000000000a1";
const ANNA: &str = "a0000000-0000-4000-8000-0000000000a2";
/// Owner and member of globex.
const BOB: &str = "b0000000-0000-4000-8000-0000000000b1";
const GINA: &str = "b0000000-0000-4000-8000-0000000000b2";
const ACME_BOARD: &str = "a0000000-0000-4000-8000-0000000000bd";
const GLOBEX_BOARD: &str = "b0000000-0000-4000-8000-0000000000bd";
/// An id that exists nowhere.
const NOWHERE: &str = "e0000000-0000-4000-8000-00000000dead";

use boards_tenant_tests::sqlstate::INSUFFICIENT_PRIVILEGE as PERMISSION_DENIED;
use boards_tenant_tests::sqlstate::UNDEFINED_OBJECT;

/// One row of `boards_tenant_audit`.
#[derive(Debug, Clone, PartialEq)]
struct Finding {
    tenant_slug: Option<String>,
    check_name: String,
    severity: String,
    object_name: String,
    detail: Value,
}

impl Finding {
    fn to_json(&self) -> Value {
        serde_json::json!({
            "tenant_slug": self.tenant_slug,
            "check_name": self.check_name,
            "severity": self.severity,
            "object_name": self.object_name,
            "detail": self.detail,
        })
    }
}

/// A fresh database with tenants acme and globex, each with an owner, a member, a board, a
/// membership and a generation; inserted with every foreign key checked.
fn seeded_in(cluster: &Cluster) -> TestDb<'_> {
    let db = cluster.create_database();
    let sql = format!(
        "INSERT INTO boards.tenants (id, slug, name) VALUES
             ('{ACME}', 'acme', 'Acme'), ('{GLOBEX}', 'globex', 'Globex');
         INSERT INTO boards.users (tenant_id, id, auth_subject, email, role) VALUES
             ('{ACME}', '{ALICE}', 'alice', 'alice@acme.test', 'owner'),
             ('{ACME}', '{ANNA}', 'anna', 'anna@acme.test', 'member'),
             ('{GLOBEX}', '{BOB}', 'bob', 'bob@globex.test', 'owner'),
             ('{GLOBEX}', '{GINA}', 'gina', 'gina@globex.test', 'member');
         INSERT INTO boards.boards (tenant_id, id, owner_id, title) VALUES
             ('{ACME}', '{ACME_BOARD}', '{ALICE}', 'Acme board'),
             ('{GLOBEX}', '{GLOBEX_BOARD}', '{BOB}', 'Globex board');
         INSERT INTO boards.board_members (tenant_id, board_id, user_id, invited_by) VALUES
             ('{ACME}', '{ACME_BOARD}', '{ANNA}', '{ALICE}'),
             ('{GLOBEX}', '{GLOBEX_BOARD}', '{GINA}', '{BOB}');
         INSERT INTO boards.generations
             (tenant_id, board_id, user_id, generator_name, artifact_type) VALUES
             ('{ACME}', '{ACME_BOARD}', '{ALICE}', 'flux', 'image'),
             ('{GLOBEX}', '{GLOBEX_BOARD}', '{BOB}', 'flux', 'image');"
    );
    db.superuser()
        .batch_execute(&sql)
        .unwrap_or_else(|e| panic!("seeding two tenants: {}", error_text(&e)));
    db
}

fn seeded() -> TestDb<'static> {
    seeded_in(Cluster::shared())
}

/// Runs `sql` as superuser with foreign keys, triggers and event triggers (the DDL guard)
/// switched off, the way a careless bulk load or a hand-made fix could.
fn plant(db: &TestDb<'_>, sql: &str) {
    db.superuser()
        .batch_execute(&format!("SET session_replication_role = replica;\n{sql}"))
        .unwrap_or_else(|e| panic!("planting `{sql}`: {}", error_text(&e)));
}

fn finding(row: &boards_tenant_harness::postgres::Row) -> Finding {
    let detail: String = row.get(4);
    Finding {
        tenant_slug: row.get(0),
        check_name: row.get(1),
        severity: row.get(2),
        object_name: row.get(3),
        detail: serde_json::from_str(&detail)
            .unwrap_or_else(|e| panic!("detail is no JSON ({e}): {detail}")),
    }
}

const AUDIT: &str = "SELECT tenant_slug, check_name, severity, object_name, detail::text \
                     FROM boards_tenant_audit($1)";

fn audit_with(client: &mut Client, tenant_slug: Option<&str>) -> Vec<Finding> {
    client
        .query(AUDIT, &[&tenant_slug])
        .unwrap_or_else(|e| panic!("boards_tenant_audit({tenant_slug:?}): {}", error_text(&e)))
        .iter()
        .map(finding)
        .collect()
}

/// The audit of every tenant, as the admin role.
fn audit(db: &TestDb<'_>) -> Vec<Finding> {
    audit_with(&mut db.admin(), None)
}

/// Plants `sql` in a transaction, runs the audit in it as the admin role, and rolls it back:
/// for cluster-wide objects (roles, parameter privileges) that other tests must not see.
fn audit_in_rolled_back_plant(db: &TestDb<'_>, sql: &str) -> Vec<Finding> {
    let mut su = db.superuser();
    let mut tx = su
        .transaction()
        .unwrap_or_else(|e| panic!("BEGIN: {}", error_text(&e)));
    tx.batch_execute(&format!(
        "SET LOCAL session_replication_role = replica;\n{sql};\nSET LOCAL ROLE {ADMIN_ROLE}"
    ))
    .unwrap_or_else(|e| panic!("planting `{sql}`: {}", error_text(&e)));
    let rows = tx
        .query(AUDIT, &[&None::<&str>])
        .unwrap_or_else(|e| panic!("boards_tenant_audit() as {ADMIN_ROLE}: {}", error_text(&e)))
        .iter()
        .map(finding)
        .collect();
    tx.rollback()
        .unwrap_or_else(|e| panic!("ROLLBACK: {}", error_text(&e)));
    rows
}

fn violations(rows: &[Finding]) -> Vec<&Finding> {
    rows.iter().filter(|r| r.severity != "info").collect()
}

fn describe(rows: &[Finding]) -> String {
    let listed: Vec<String> = violations(rows)
        .iter()
        .map(|r| {
            format!(
                "  {} {} {} tenant={:?} {}",
                r.severity, r.check_name, r.object_name, r.tenant_slug, r.detail
            )
        })
        .collect();
    if listed.is_empty() {
        "  (no violations)".into()
    } else {
        listed.join("\n")
    }
}

/// The row of `check` on `object` (and `tenant`, for data checks) with `severity`.
#[track_caller]
fn expect<'a>(
    rows: &'a [Finding],
    check: &str,
    severity: &str,
    object: &str,
    tenant: Option<&str>,
) -> &'a Finding {
    rows.iter()
        .find(|r| {
            r.check_name == check
                && r.severity == severity
                && r.object_name == object
                && r.tenant_slug.as_deref() == tenant
        })
        .unwrap_or_else(|| {
            panic!(
                "no {severity} {check} row for {object} (tenant {tenant:?}); the audit reported:\n{}",
                describe(rows)
            )
        })
}

#[track_caller]
fn expect_none(rows: &[Finding], check: &str) {
    let found: Vec<&Finding> = violations(rows)
        .into_iter()
        .filter(|r| r.check_name == check)
        .collect();
    assert!(found.is_empty(), "unexpected {check} rows: {found:#?}");
}

fn count(detail: &Value, key: &str) -> i64 {
    detail
        .get(key)
        .and_then(Value::as_i64)
        .unwrap_or_else(|| panic!("detail has no count {key}: {detail}"))
}

fn strings(detail: &Value, key: &str) -> Vec<String> {
    detail
        .get(key)
        .and_then(Value::as_array)
        .unwrap_or_else(|| panic!("detail has no list {key}: {detail}"))
        .iter()
        .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
        .collect()
}

#[track_caller]
fn has_fix(row: &Finding) {
    let fix = row.detail.get("fix").and_then(Value::as_str).unwrap_or("");
    assert!(
        !fix.is_empty(),
        "{} row without a fix: {}",
        row.check_name,
        row.detail
    );
}

// ---------------------------------------------------------------------------------------------
// Clean data, statistics, filter, JSON, privileges.

#[test]
fn clean_database_reports_only_statistics() {
    let db = seeded();
    let rows = audit(&db);
    assert!(
        violations(&rows).is_empty(),
        "a clean database has violations:\n{}",
        describe(&rows)
    );
    let mut slugs: Vec<&str> = rows
        .iter()
        .map(|r| {
            assert_eq!(
                (r.check_name.as_str(), r.severity.as_str()),
                ("tenant_statistics", "info")
            );
            r.tenant_slug.as_deref().unwrap_or("<none>")
        })
        .collect();
    slugs.sort();
    assert_eq!(slugs, ["acme", "default", "globex"]);
}

#[test]
fn statistics_count_each_tenants_rows() {
    let db = seeded();
    plant(
        &db,
        &format!(
            "INSERT INTO boards.boards (tenant_id, owner_id, title) VALUES ('{ACME}', '{ANNA}', 'second')"
        ),
    );
    let rows = audit(&db);
    let stats = |slug: &str| {
        expect(
            &rows,
            "tenant_statistics",
            "info",
            "boards.tenants",
            Some(slug),
        )
        .detail
        .clone()
    };
    let acme = stats("acme");
    assert_eq!(
        (
            count(&acme, "users"),
            count(&acme, "boards"),
            count(&acme, "generations"),
            count(&acme, "board_memberships")
        ),
        (2, 2, 1, 1),
        "acme: {acme}"
    );
    let globex = stats("globex");
    assert_eq!(
        (
            count(&globex, "users"),
            count(&globex, "boards"),
            count(&globex, "generations"),
            count(&globex, "board_memberships")
        ),
        (2, 1, 1, 1),
        "globex: {globex}"
    );
    let default = stats("default");
    assert_eq!(count(&default, "users"), 0, "default: {default}");
}

#[test]
fn tenant_filter_returns_only_that_tenants_rows() {
    let db = seeded();
    plant(
        &db,
        &format!(
            // acme: a board owned by globex's user; globex: a generation on a missing board;
            // and a configuration problem, which has no tenant.
            "INSERT INTO boards.boards (tenant_id, owner_id, title) VALUES ('{ACME}', '{BOB}', 'x');
             INSERT INTO boards.generations (tenant_id, board_id, user_id, generator_name, artifact_type)
                 VALUES ('{GLOBEX}', '{NOWHERE}', '{BOB}', 'flux', 'image');
             ALTER TABLE boards.generations NO FORCE ROW LEVEL SECURITY;"
        ),
    );
    let mut admin = db.admin();
    let all = audit_with(&mut admin, None);
    expect(&all, "rls_not_forced", "high", "boards.generations", None);

    let acme = audit_with(&mut admin, Some("acme"));
    assert!(
        acme.iter()
            .all(|r| r.tenant_slug.as_deref() == Some("acme")),
        "audit('acme') returned other rows:\n{acme:#?}"
    );
    expect(
        &acme,
        "cross_tenant_user_access",
        "critical",
        "boards.boards",
        Some("acme"),
    );
    expect(
        &acme,
        "tenant_statistics",
        "info",
        "boards.tenants",
        Some("acme"),
    );
    expect_none(&acme, "dangling_references");
    expect_none(&acme, "rls_not_forced");
    let expected: Vec<&Finding> = all
        .iter()
        .filter(|r| r.tenant_slug.as_deref() == Some("acme"))
        .collect();
    assert_eq!(
        acme.iter().collect::<Vec<_>>(),
        expected,
        "the filtered audit differs from the full audit's acme rows"
    );

    let globex = audit_with(&mut admin, Some("globex"));
    assert!(globex
        .iter()
        .all(|r| r.tenant_slug.as_deref() == Some("globex")));
    expect(
        &globex,
        "dangling_references",
        "high",
        "boards.generations",
        Some("globex"),
    );
    expect_none(&globex, "cross_tenant_user_access");
}

#[test]
fn unknown_tenant_slug_is_undefined_object() {
    let db = seeded();
    let mut admin = db.admin();
    let message = assert_sqlstate(
        admin.query(AUDIT, &[&Some("no-such-tenant")]),
        UNDEFINED_OBJECT,
    );
    assert!(message.contains("no-such-tenant"), "{message}");
    assert_sqlstate(
        admin.query_one("SELECT boards_tenant_audit_json('no-such-tenant')", &[]),
        UNDEFINED_OBJECT,
    );
}

#[test]
fn app_role_may_not_run_the_audit() {
    let db = seeded();
    let mut app = db.app();
    assert_sqlstate(
        app.query("SELECT * FROM boards_tenant_audit()", &[]),
        PERMISSION_DENIED,
    );
    assert_sqlstate(
        app.query("SELECT boards_tenant_audit_json()", &[]),
        PERMISSION_DENIED,
    );
    assert_sqlstate(
        app.query("SELECT * FROM boards_tenant_audit('acme')", &[]),
        PERMISSION_DENIED,
    );
}

fn audit_json(client: &mut Client, tenant_slug: Option<&str>) -> Value {
    let text: String = client
        .query_one("SELECT boards_tenant_audit_json($1)::text", &[&tenant_slug])
        .unwrap_or_else(|e| panic!("boards_tenant_audit_json: {}", error_text(&e)))
        .get(0);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("the document is no JSON ({e}): {text}"))
}

/// The document's violations, statistics and summary against the row form.
#[track_caller]
fn assert_document_matches(document: &Value, rows: &[Finding], tenant_slug: Option<&str>) {
    let stamp = document["audit_timestamp"].as_str().unwrap_or_default();
    assert!(
        stamp.len() >= 20 && stamp.as_bytes().get(10) == Some(&b'T') && stamp.ends_with('Z'),
        "audit_timestamp is not ISO 8601 UTC: {stamp:?}"
    );
    assert_eq!(document["tenant_slug"], serde_json::json!(tenant_slug));

    let mut total = 0;
    for severity in ["critical", "high", "medium", "low"] {
        let mut listed: Vec<String> = document["violations"][severity]
            .as_array()
            .unwrap_or_else(|| panic!("violations.{severity} is not a list: {document}"))
            .iter()
            .map(Value::to_string)
            .collect();
        let mut expected: Vec<String> = rows
            .iter()
            .filter(|r| r.severity == severity)
            .map(|r| r.to_json().to_string())
            .collect();
        listed.sort();
        expected.sort();
        assert_eq!(
            listed, expected,
            "violations.{severity} differs from the rows"
        );
        assert_eq!(
            document["summary"][severity].as_u64(),
            Some(expected.len() as u64),
            "summary.{severity}"
        );
        total += expected.len();
    }
    assert_eq!(
        document["summary"]["total_violations"].as_u64(),
        Some(total as u64)
    );

    let statistics = document["statistics"]
        .as_object()
        .unwrap_or_else(|| panic!("statistics is not an object: {document}"));
    let info: BTreeMap<String, Value> = rows
        .iter()
        .filter(|r| r.severity == "info")
        .map(|r| (r.tenant_slug.clone().unwrap_or_default(), r.detail.clone()))
        .collect();
    let stats: BTreeMap<String, Value> = statistics
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    assert_eq!(stats, info, "statistics differ from the info rows");

    let recommendations: Vec<&str> = document["recommendations"]
        .as_array()
        .unwrap_or_else(|| panic!("recommendations is not a list: {document}"))
        .iter()
        .map(|v| v.as_str().unwrap_or_default())
        .collect();
    let mut fired: Vec<&str> = violations(rows)
        .iter()
        .map(|r| r.check_name.as_str())
        .collect();
    fired.sort();
    fired.dedup();
    if fired.is_empty() {
        assert_eq!(
            recommendations,
            ["Tenant isolation is properly maintained - no violations found"]
        );
    } else {
        assert_eq!(
            recommendations.len(),
            fired.len(),
            "one recommendation per check that fired: {recommendations:#?}"
        );
        for check in fired {
            assert!(
                recommendations.iter().any(|r| r.starts_with(check)),
                "no recommendation for {check}: {recommendations:#?}"
            );
        }
    }
}

#[test]
fn json_document_matches_the_rows() {
    let db = seeded();
    plant(
        &db,
        &format!(
            "INSERT INTO boards.boards (tenant_id, owner_id, title) VALUES ('{ACME}', '{BOB}', 'x');
             INSERT INTO boards.generations (tenant_id, board_id, user_id, generator_name, artifact_type)
                 VALUES ('{GLOBEX}', '{NOWHERE}', '{BOB}', 'flux', 'image');
             ALTER TABLE boards.board_members ALTER COLUMN tenant_id DROP DEFAULT;
             CREATE UNIQUE INDEX boards_title_key ON boards.boards (title);"
        ),
    );
    let mut admin = db.admin();
    let rows = audit_with(&mut admin, None);
    assert!(violations(&rows).len() >= 4, "{}", describe(&rows));
    let document = audit_json(&mut admin, None);
    assert_document_matches(&document, &rows, None);

    let rows = audit_with(&mut admin, Some("globex"));
    let document = audit_json(&mut admin, Some("globex"));
    assert_document_matches(&document, &rows, Some("globex"));
    assert_eq!(document["summary"]["high"], 1, "{document}");
}

#[test]
fn json_document_of_a_clean_database() {
    let db = seeded();
    let mut admin = db.admin();
    let rows = audit_with(&mut admin, None);
    let document = audit_json(&mut admin, None);
    assert_document_matches(&document, &rows, None);
    assert_eq!(document["summary"]["total_violations"], 0);
    assert_eq!(document["statistics"]["acme"]["users"], 2, "{document}");
}

#[test]
fn audit_leaves_the_callers_planner_settings_alone() {
    let db = seeded();
    let mut admin = db.admin();
    let mut tx = admin.transaction().expect("BEGIN");
    tx.batch_execute(
        "SET LOCAL work_mem = '8MB'; SET LOCAL jit = on; SET LOCAL enable_nestloop = on",
    )
    .expect("settings");
    tx.query(AUDIT, &[&None::<&str>])
        .unwrap_or_else(|e| panic!("audit: {}", error_text(&e)));
    tx.query_one("SELECT boards_tenant_audit_json()", &[])
        .unwrap_or_else(|e| panic!("audit_json: {}", error_text(&e)));
    let row = tx
        .query_one(
            "SELECT current_setting('work_mem'), current_setting('jit'),
                    current_setting('enable_nestloop'), current_setting('search_path')",
            &[],
        )
        .expect("reading settings");
    let settings: (String, String, String, String) =
        (row.get(0), row.get(1), row.get(2), row.get(3));
    assert_eq!(
        (
            settings.0.as_str(),
            settings.1.as_str(),
            settings.2.as_str()
        ),
        ("8MB", "on", "on"),
        "settings after the audit: {settings:?}"
    );
    assert!(
        !settings.3.starts_with("pg_catalog, pg_temp"),
        "{settings:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Data checks.

#[test]
fn orphaned_records() {
    let db = seeded();
    plant(
        &db,
        &format!(
            "INSERT INTO boards.boards (tenant_id, id, owner_id, title)
                 VALUES ('{NOWHERE}', '{NOWHERE}', '{ALICE}', 'orphan');"
        ),
    );
    let rows = audit(&db);
    let row = expect(&rows, "orphaned_records", "critical", "boards.boards", None);
    assert_eq!(count(&row.detail, "rows"), 1, "{}", row.detail);
    assert_eq!(strings(&row.detail, "sample_ids"), [NOWHERE]);
    assert_eq!(strings(&row.detail, "unknown_tenant_ids"), [NOWHERE]);
    has_fix(row);
    expect_none(&rows, "cross_tenant_user_access");
}

#[test]
fn orphaned_records_with_a_null_tenant_in_an_application_table() {
    let db = seeded();
    // A protected application table whose tenant column allows NULL.
    plant(
        &db,
        "CREATE TABLE public.notes (tenant_id uuid, id uuid PRIMARY KEY DEFAULT gen_random_uuid(), body text);
         SELECT boards_tenant_protect('public.notes');
         INSERT INTO public.notes (tenant_id, body) VALUES (NULL, 'lost');",
    );
    let rows = audit(&db);
    let row = expect(&rows, "orphaned_records", "critical", "public.notes", None);
    assert_eq!(
        count(&row.detail, "rows_without_tenant"),
        1,
        "{}",
        row.detail
    );
    // The statistics name the application table too.
    let stats = expect(
        &rows,
        "tenant_statistics",
        "info",
        "boards.tenants",
        Some("acme"),
    );
    assert_eq!(count(&stats.detail, "public.notes"), 0, "{}", stats.detail);
}

#[test]
fn cross_tenant_references() {
    let db = seeded();
    // An acme generation on globex's board, by an acme user.
    plant(
        &db,
        &format!(
            "INSERT INTO boards.generations
                 (tenant_id, id, board_id, user_id, generator_name, artifact_type)
                 VALUES ('{ACME}', '{NOWHERE}', '{GLOBEX_BOARD}', '{ALICE}', 'flux', 'image');"
        ),
    );
    let rows = audit(&db);
    let row = expect(
        &rows,
        "cross_tenant_references",
        "critical",
        "boards.generations",
        Some("acme"),
    );
    assert_eq!(count(&row.detail, "rows"), 1);
    assert_eq!(strings(&row.detail, "sample_ids"), [NOWHERE]);
    assert_eq!(strings(&row.detail, "sample_references"), [GLOBEX_BOARD]);
    assert_eq!(strings(&row.detail, "parent_tenants"), ["globex"]);
    assert_eq!(row.detail["references"], "boards.boards");
    has_fix(row);
    expect_none(&rows, "dangling_references");
    expect_none(&rows, "cross_tenant_user_access");
}

#[test]
fn cross_tenant_references_between_application_tables() {
    let db = seeded();
    plant(
        &db,
        &format!(
            "CREATE TABLE public.projects (tenant_id uuid NOT NULL, id uuid NOT NULL,
                 PRIMARY KEY (tenant_id, id));
             CREATE TABLE public.tasks (tenant_id uuid NOT NULL, id uuid NOT NULL, project_id uuid,
                 PRIMARY KEY (tenant_id, id),
                 FOREIGN KEY (tenant_id, project_id) REFERENCES public.projects (tenant_id, id));
             SELECT boards_tenant_protect('public.projects');
             SELECT boards_tenant_protect('public.tasks');
             INSERT INTO public.projects VALUES ('{GLOBEX}', '{GLOBEX_BOARD}');
             INSERT INTO public.tasks VALUES ('{ACME}', '{NOWHERE}', '{GLOBEX_BOARD}');"
        ),
    );
    let rows = audit(&db);
    let row = expect(
        &rows,
        "cross_tenant_references",
        "critical",
        "public.tasks",
        Some("acme"),
    );
    assert_eq!(row.detail["references"], "public.projects");
    expect_none(&rows, "foreign_key_without_tenant");
}

#[test]
fn cross_tenant_user_access() {
    let db = seeded();
    // An acme board owned by globex's owner.
    plant(
        &db,
        &format!(
            "INSERT INTO boards.boards (tenant_id, id, owner_id, title)
                 VALUES ('{ACME}', '{NOWHERE}', '{BOB}', 'stolen');"
        ),
    );
    let rows = audit(&db);
    let row = expect(
        &rows,
        "cross_tenant_user_access",
        "critical",
        "boards.boards",
        Some("acme"),
    );
    assert_eq!(strings(&row.detail, "parent_tenants"), ["globex"]);
    assert_eq!(row.detail["references"], "boards.users");
    has_fix(row);
    expect_none(&rows, "cross_tenant_references");
}

#[test]
fn dangling_references() {
    let db = seeded();
    plant(
        &db,
        &format!(
            "INSERT INTO boards.generations
                 (tenant_id, id, board_id, user_id, generator_name, artifact_type)
                 VALUES ('{GLOBEX}', '{NOWHERE}', '{NOWHERE}', '{BOB}', 'flux', 'image');"
        ),
    );
    let rows = audit(&db);
    let row = expect(
        &rows,
        "dangling_references",
        "high",
        "boards.generations",
        Some("globex"),
    );
    assert_eq!(count(&row.detail, "rows"), 1);
    assert_eq!(strings(&row.detail, "sample_ids"), [NOWHERE]);
    has_fix(row);
    expect_none(&rows, "cross_tenant_references");
}

#[test]
fn board_membership_violations() {
    let db = seeded();
    // An acme membership of acme's board for globex's member.
    plant(
        &db,
        &format!(
            "INSERT INTO boards.board_members (tenant_id, id, board_id, user_id)
                 VALUES ('{ACME}', '{NOWHERE}', '{ACME_BOARD}', '{GINA}');"
        ),
    );
    let rows = audit(&db);
    let row = expect(
        &rows,
        "board_membership_violations",
        "critical",
        "boards.board_members",
        Some("acme"),
    );
    assert_eq!(count(&row.detail, "rows"), 1);
    assert_eq!(strings(&row.detail, "sample_ids"), [NOWHERE]);
    let parents = &row.detail["samples"][0]["parent_tenants"];
    let mut tenants: Vec<&str> = parents
        .as_object()
        .unwrap_or_else(|| panic!("no parent tenants: {}", row.detail))
        .values()
        .filter_map(Value::as_str)
        .collect();
    tenants.sort();
    assert_eq!(tenants, ["acme", "globex"], "{}", row.detail);
    has_fix(row);
    // The user key of the same row points into globex.
    expect(
        &rows,
        "cross_tenant_user_access",
        "critical",
        "boards.board_members",
        Some("acme"),
    );
}

#[test]
fn tenant_without_owner() {
    let db = seeded();
    plant(
        &db,
        &format!("UPDATE boards.users SET role = 'member' WHERE tenant_id = '{GLOBEX}';"),
    );
    let rows = audit(&db);
    let row = expect(
        &rows,
        "tenant_without_owner",
        "medium",
        "boards.users",
        Some("globex"),
    );
    assert_eq!(count(&row.detail, "users"), 2);
    has_fix(row);
    // Only active tenants count.
    plant(
        &db,
        &format!("UPDATE boards.tenants SET status = 'suspended' WHERE id = '{GLOBEX}';"),
    );
    expect_none(&audit(&db), "tenant_without_owner");
}

/// A tenant an admin just created with sample data has only the sample user: nobody is
/// missing an owner yet, so the seed's `tenant create --sample-data` + `tenant audit` is clean.
#[test]
fn sample_data_alone_is_not_a_tenant_without_owner() {
    let db = seeded();
    db.admin()
        .batch_execute("SELECT boards_tenant_create('Initech', 'initech', '{}', true)")
        .unwrap_or_else(|e| panic!("{}", error_text(&e)));
    expect_none(&audit(&db), "tenant_without_owner");
    db.admin()
        .batch_execute("SELECT boards_tenant_add_member('initech', 'peter', 'member')")
        .unwrap_or_else(|e| panic!("{}", error_text(&e)));
    let rows = audit(&db);
    expect(
        &rows,
        "tenant_without_owner",
        "medium",
        "boards.users",
        Some("initech"),
    );
}

#[test]
fn duplicate_subject() {
    let db = seeded();
    plant(
        &db,
        &format!(
            "ALTER TABLE boards.users DROP CONSTRAINT users_tenant_id_auth_subject_key;
             INSERT INTO boards.users (tenant_id, id, auth_subject, role)
                 VALUES ('{ACME}', '{NOWHERE}', 'anna', 'member');"
        ),
    );
    let rows = audit(&db);
    let row = expect(
        &rows,
        "duplicate_subject",
        "high",
        "boards.users",
        Some("acme"),
    );
    assert_eq!(count(&row.detail, "subjects"), 1);
    assert_eq!(count(&row.detail, "rows"), 2);
    assert_eq!(strings(&row.detail, "sample_subjects"), ["anna"]);
    let mut ids = strings(&row.detail, "sample_ids");
    ids.sort();
    assert_eq!(ids, [ANNA, NOWHERE]);
    has_fix(row);
}

#[test]
fn registry_table_missing() {
    let db = seeded();
    plant(
        &db,
        "INSERT INTO boards.protected_tables (tbl, tenant_column, policy_name)
             VALUES (987654::oid::regclass, 'tenant_id', 'boards_tenant_isolation');",
    );
    let rows = audit(&db);
    let row = expect(&rows, "registry_table_missing", "high", "987654", None);
    has_fix(row);
}

// ---------------------------------------------------------------------------------------------
// Configuration checks.

#[test]
fn unprotected_tenant_table() {
    let db = seeded();
    plant(
        &db,
        "CREATE TABLE public.loose (tenant_id uuid, body text);",
    );
    let rows = audit(&db);
    let row = expect(
        &rows,
        "unprotected_tenant_table",
        "critical",
        "public.loose",
        None,
    );
    assert_eq!(row.detail["registered"], false);
    has_fix(row);
}

#[test]
fn rls_disabled() {
    let db = seeded();
    plant(&db, "ALTER TABLE boards.boards DISABLE ROW LEVEL SECURITY;");
    let rows = audit(&db);
    has_fix(expect(
        &rows,
        "rls_disabled",
        "critical",
        "boards.boards",
        None,
    ));
}

#[test]
fn rls_not_forced() {
    let db = seeded();
    plant(
        &db,
        "ALTER TABLE boards.generations NO FORCE ROW LEVEL SECURITY;",
    );
    let rows = audit(&db);
    has_fix(expect(
        &rows,
        "rls_not_forced",
        "high",
        "boards.generations",
        None,
    ));
}

#[test]
fn tenant_policy_missing() {
    let db = seeded();
    plant(
        &db,
        "DROP POLICY boards_tenant_isolation ON boards.board_members;",
    );
    let rows = audit(&db);
    has_fix(expect(
        &rows,
        "tenant_policy_missing",
        "critical",
        "boards.board_members",
        None,
    ));
}

#[test]
fn tenant_policy_altered() {
    let db = seeded();
    plant(
        &db,
        "ALTER POLICY boards_tenant_isolation ON boards.users USING (true);",
    );
    let rows = audit(&db);
    expect(
        &rows,
        "tenant_policy_missing",
        "critical",
        "boards.users",
        None,
    );
}

#[test]
fn permissive_policy_or() {
    let db = seeded();
    plant(
        &db,
        "CREATE POLICY everything ON boards.boards USING (true);
         CREATE POLICY public_boards ON boards.generations FOR SELECT USING (status = 'done');",
    );
    let rows = audit(&db);
    let row = expect(
        &rows,
        "permissive_policy_or",
        "critical",
        "boards.boards",
        None,
    );
    assert_eq!(row.detail["policy"], "everything");
    has_fix(row);
    let row = expect(
        &rows,
        "permissive_policy_or",
        "high",
        "boards.generations",
        None,
    );
    assert_eq!(row.detail["policy"], "public_boards");
}

#[test]
fn missing_tenant_default() {
    let db = seeded();
    plant(
        &db,
        "ALTER TABLE boards.board_members ALTER COLUMN tenant_id DROP DEFAULT;",
    );
    let rows = audit(&db);
    has_fix(expect(
        &rows,
        "missing_tenant_default",
        "low",
        "boards.board_members",
        None,
    ));
}

#[test]
fn missing_tenant_index() {
    let db = seeded();
    // boards_tenant_protect created the index; without it nothing is led by tenant_id.
    plant(
        &db,
        "CREATE TABLE public.notes (tenant_id uuid NOT NULL, body text);
         SELECT boards_tenant_protect('public.notes');
         DO $$
         DECLARE i regclass;
         BEGIN
             FOR i IN SELECT indexrelid::regclass FROM pg_index
                      WHERE indrelid = 'public.notes'::regclass LOOP
                 EXECUTE format('DROP INDEX %s', i);
             END LOOP;
         END
         $$;",
    );
    let rows = audit(&db);
    has_fix(expect(
        &rows,
        "missing_tenant_index",
        "low",
        "public.notes",
        None,
    ));
}

#[test]
fn truncate_granted() {
    let db = seeded();
    plant(&db, "GRANT TRUNCATE ON boards.users TO boards_app;");
    let rows = audit(&db);
    let row = expect(&rows, "truncate_granted", "critical", "boards.users", None);
    assert_eq!(strings(&row.detail, "grantees"), ["boards_app"]);
    has_fix(row);
}

/// A login role that can create objects can plant a same-named function first in its own
/// search_path, or a trigger: code that other tenants' sessions of that role would run.
#[test]
fn login_role_can_create() {
    let db = seeded();
    let rows = audit_in_rolled_back_plant(
        &db,
        "CREATE ROLE audit_test_creator LOGIN;
         CREATE SCHEMA audit_test_mine AUTHORIZATION audit_test_creator;
         ALTER ROLE audit_test_creator SET search_path = audit_test_mine, public;
         CREATE ROLE audit_test_granted LOGIN;
         GRANT CREATE ON SCHEMA public TO audit_test_granted;
         CREATE ROLE audit_test_reader LOGIN",
    );
    let row = expect(
        &rows,
        "login_role_can_create",
        "medium",
        "audit_test_creator",
        None,
    );
    has_fix(row);
    assert_eq!(strings(&row.detail, "schemas"), ["audit_test_mine"]);
    assert!(row.detail["search_path_settings"]
        .to_string()
        .contains("audit_test_mine"));
    let row = expect(
        &rows,
        "login_role_can_create",
        "medium",
        "audit_test_granted",
        None,
    );
    assert_eq!(strings(&row.detail, "schemas"), ["public"]);
    assert!(
        !rows.iter().any(|r| r.object_name == "audit_test_reader"),
        "a role that can create nothing was reported"
    );
    assert!(
        !rows
            .iter()
            .any(|r| r.check_name == "login_role_can_create" && r.object_name == "boards_admin"),
        "a member of the admin role was reported"
    );
}

#[test]
fn bypassrls_login_role() {
    let db = seeded();
    let rows = audit_in_rolled_back_plant(
        &db,
        "CREATE ROLE audit_test_bypass LOGIN BYPASSRLS;
         CREATE ROLE audit_test_super LOGIN SUPERUSER;
         CREATE ROLE audit_test_nologin NOLOGIN BYPASSRLS",
    );
    has_fix(expect(
        &rows,
        "bypassrls_login_role",
        "high",
        "audit_test_bypass",
        None,
    ));
    expect(
        &rows,
        "bypassrls_login_role",
        "high",
        "audit_test_super",
        None,
    );
    assert!(
        !rows.iter().any(|r| r.object_name == "audit_test_nologin"),
        "a NOLOGIN role was reported"
    );
    assert!(
        !rows.iter().any(|r| r.object_name == "postgres"),
        "the bootstrap superuser was reported"
    );
}

#[test]
fn login_role_owns_tenant_table() {
    let db = seeded();
    plant(
        &db,
        "CREATE TABLE public.notes (tenant_id uuid NOT NULL, body text);
         SELECT boards_tenant_protect('public.notes');
         ALTER TABLE public.notes OWNER TO boards_app;",
    );
    let rows = audit(&db);
    let row = expect(
        &rows,
        "login_role_owns_tenant_table",
        "high",
        "public.notes",
        None,
    );
    assert_eq!(row.detail["owner"], "boards_app");
    has_fix(row);
}

#[test]
fn dangerous_grant() {
    let db = seeded();
    plant(
        &db,
        "GRANT TRIGGER ON boards.boards TO boards_app;
         GRANT REFERENCES (generator_name) ON boards.generations TO PUBLIC;",
    );
    let rows = audit(&db);
    let row = expect(&rows, "dangerous_grant", "high", "boards.boards", None);
    assert_eq!(row.detail["privilege"], "TRIGGER");
    assert_eq!(strings(&row.detail, "grantees"), ["boards_app"]);
    has_fix(row);
    let row = expect(
        &rows,
        "dangerous_grant",
        "medium",
        "boards.generations",
        None,
    );
    assert_eq!(row.detail["privilege"], "REFERENCES");
    assert_eq!(strings(&row.detail, "grantees"), ["PUBLIC"]);
}

#[test]
fn global_unique_key() {
    let db = seeded();
    plant(
        &db,
        "CREATE UNIQUE INDEX boards_title_key ON boards.boards (title);",
    );
    let rows = audit(&db);
    let row = expect(&rows, "global_unique_key", "medium", "boards.boards", None);
    assert_eq!(row.detail["index"], "boards.boards_title_key");
    has_fix(row);
}

#[test]
fn foreign_key_without_tenant() {
    let db = seeded();
    plant(
        &db,
        "CREATE TABLE public.projects (tenant_id uuid NOT NULL, id uuid PRIMARY KEY);
         CREATE TABLE public.tasks (tenant_id uuid NOT NULL, id uuid PRIMARY KEY,
             project_id uuid REFERENCES public.projects (id));
         SELECT boards_tenant_protect('public.projects');
         SELECT boards_tenant_protect('public.tasks');",
    );
    let rows = audit(&db);
    let row = expect(
        &rows,
        "foreign_key_without_tenant",
        "medium",
        "public.tasks",
        None,
    );
    assert_eq!(row.detail["references"], "public.projects");
    has_fix(row);
}

#[test]
fn view_without_security_invoker() {
    let db = seeded();
    plant(
        &db,
        "CREATE VIEW public.all_boards AS SELECT * FROM boards.boards;
         CREATE VIEW public.board_titles AS SELECT title FROM public.all_boards;
         CREATE VIEW public.member_view AS SELECT * FROM boards.board_members;
         ALTER VIEW public.member_view OWNER TO boards_app;
         CREATE MATERIALIZED VIEW public.generation_copy AS SELECT * FROM boards.generations;
         GRANT SELECT ON public.generation_copy TO boards_app;",
    );
    // security_invoker views exist from PostgreSQL 15 on.
    let invoker_views = server_version_num(&mut db.superuser()) >= 150000;
    if invoker_views {
        plant(
            &db,
            "CREATE VIEW public.invoker_view WITH (security_invoker = true) AS SELECT * FROM boards.users",
        );
    }
    let rows = audit(&db);
    has_fix(expect(
        &rows,
        "view_without_security_invoker",
        "critical",
        "public.all_boards",
        None,
    ));
    // Over another view: still every tenant's rows.
    expect(
        &rows,
        "view_without_security_invoker",
        "critical",
        "public.board_titles",
        None,
    );
    expect(
        &rows,
        "view_without_security_invoker",
        "high",
        "public.member_view",
        None,
    );
    expect(
        &rows,
        "view_without_security_invoker",
        "critical",
        "public.generation_copy",
        None,
    );
    assert!(
        !rows.iter().any(|r| r.object_name == "public.invoker_view"),
        "a security_invoker view was reported"
    );
}

#[test]
fn security_definer_search_path() {
    let db = seeded();
    plant(
        &db,
        "CREATE FUNCTION public.count_boards() RETURNS bigint LANGUAGE sql SECURITY DEFINER
             AS 'SELECT count(*) FROM boards.boards';
         CREATE FUNCTION public.pinned() RETURNS bigint LANGUAGE sql SECURITY DEFINER
             SET search_path = pg_catalog, pg_temp AS 'SELECT 1::bigint';",
    );
    let rows = audit(&db);
    has_fix(expect(
        &rows,
        "security_definer_search_path",
        "high",
        "public.count_boards()",
        None,
    ));
    assert!(
        !rows.iter().any(|r| r.object_name == "public.pinned()"),
        "a function with a pinned search_path was reported"
    );
}

#[test]
fn setting_privilege_granted() {
    let db = seeded();
    if server_version_num(&mut db.superuser()) < 150000 {
        // No privileges on parameters before PostgreSQL 15: nothing to grant or report.
        expect_none(&audit(&db), "setting_privilege_granted");
        return;
    }
    let rows = audit_in_rolled_back_plant(
        &db,
        "GRANT SET ON PARAMETER boards.jwt_issuer TO boards_app",
    );
    let row = expect(
        &rows,
        "setting_privilege_granted",
        "critical",
        "boards.jwt_issuer",
        None,
    );
    assert_eq!(strings(&row.detail, "grantees"), ["boards_app"]);
    has_fix(row);
}

#[test]
fn library_not_preloaded() {
    let cluster = Cluster::start(ClusterOptions {
        preload: false,
        ..Default::default()
    });
    let db = seeded_in(&cluster);
    let rows = audit(&db);
    has_fix(expect(
        &rows,
        "library_not_preloaded",
        "critical",
        "shared_preload_libraries",
        None,
    ));
    // Preloaded (the shared cluster), nothing to report.
    let db = seeded();
    expect_none(&audit(&db), "library_not_preloaded");
}
