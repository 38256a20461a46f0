//! Upgrades and restores: a deployment built on the oldest release and upgraded with
//! `ALTER EXTENSION boards_tenant UPDATE` must equal a fresh install of the current version,
//! lose nothing and stay isolated; a `pg_dump` restored with `pg_restore` likewise.
//!
//! The catalog comparison (`tests/sql/catalog_snapshot.sql`) is what catches a change to the
//! SQL surface that the open upgrade script does not carry.

use std::path::Path;
use std::process::Command;

use boards_tenant_harness::{Cluster, TestDb, SUPERUSER};
use boards_tenant_tests::deployment::{
    assert_isolated, assert_same_lines, audit_findings, catalog, content, fill,
};
use boards_tenant_tests::{exec, text};

/// The first release; every later version must be reachable from it.
const OLDEST_RELEASE: &str = "0.1.0";

fn default_version(su: &mut boards_tenant_harness::postgres::Client) -> String {
    text(
        su,
        "SELECT default_version FROM pg_catalog.pg_available_extensions WHERE name = 'boards_tenant'",
        &[],
    )
}

fn installed_version(su: &mut boards_tenant_harness::postgres::Client) -> String {
    text(
        su,
        "SELECT extversion FROM pg_catalog.pg_extension WHERE extname = 'boards_tenant'",
        &[],
    )
}

/// A database with the deployment built on `version` and, when that is not the current one,
/// upgraded to it.
fn deployment_from<'c>(cluster: &'c Cluster, version: Option<&str>) -> TestDb<'c> {
    let db = cluster.create_empty_database();
    let mut su = db.superuser();
    match version {
        Some(v) => exec(
            &mut su,
            &format!("CREATE EXTENSION boards_tenant VERSION '{v}'"),
        ),
        None => exec(&mut su, "CREATE EXTENSION boards_tenant"),
    }
    fill(&db);
    if version.is_some() {
        exec(&mut su, "ALTER EXTENSION boards_tenant UPDATE");
    }
    db
}

#[test]
fn the_oldest_release_installs_with_the_current_library() {
    let cluster = Cluster::shared();
    let db = cluster.create_empty_database();
    let mut su = db.superuser();
    exec(
        &mut su,
        &format!("CREATE EXTENSION boards_tenant VERSION '{OLDEST_RELEASE}'"),
    );
    assert_eq!(installed_version(&mut su), OLDEST_RELEASE);
    assert_ne!(
        default_version(&mut su),
        OLDEST_RELEASE,
        "the current version must be newer than the oldest release"
    );
}

#[test]
fn an_upgraded_database_has_the_catalog_of_a_fresh_install() {
    let cluster = Cluster::shared();
    let fresh = deployment_from(cluster, None);
    let upgraded = deployment_from(cluster, Some(OLDEST_RELEASE));
    let mut fresh_su = fresh.superuser();
    let mut upgraded_su = upgraded.superuser();
    assert_eq!(
        installed_version(&mut upgraded_su),
        default_version(&mut upgraded_su)
    );
    let fresh_catalog = catalog(&mut fresh_su);
    assert!(
        fresh_catalog.len() > 150,
        "the snapshot must see the extension's objects, got {} lines",
        fresh_catalog.len()
    );
    assert_same_lines(
        "the catalog",
        "the fresh install",
        &fresh_catalog,
        &format!("the database upgraded from {OLDEST_RELEASE}"),
        &catalog(&mut upgraded_su),
    );
    assert_same_lines(
        "the audit",
        "the fresh install",
        &audit_findings(&mut fresh.admin()),
        "the upgraded database",
        &audit_findings(&mut upgraded.admin()),
    );
}

#[test]
fn an_upgrade_keeps_every_row_key_and_membership_and_isolation() {
    let cluster = Cluster::shared();
    let db = cluster.create_empty_database();
    let mut su = db.superuser();
    exec(
        &mut su,
        &format!("CREATE EXTENSION boards_tenant VERSION '{OLDEST_RELEASE}'"),
    );
    fill(&db);
    assert_isolated(&db);
    let before = content(&mut su);
    let keys_before = keys(&mut db.admin());
    exec(&mut su, "ALTER EXTENSION boards_tenant UPDATE");
    assert_eq!(installed_version(&mut su), default_version(&mut su));
    assert_eq!(content(&mut su), before, "rows changed in the upgrade");
    assert_eq!(
        keys(&mut db.admin()),
        keys_before,
        "keys changed in the upgrade"
    );
    assert_isolated(&db);
}

/// What `boards_jwt_keys()` lists, as text rows.
fn keys(admin: &mut boards_tenant_harness::postgres::Client) -> Vec<String> {
    boards_tenant_tests::column(
        admin,
        "SELECT format('%s %s %s %s', kid, alg, format, fingerprint) FROM boards_jwt_keys() ORDER BY kid",
    )
}

/// Runs one of the server's client programs as root against the cluster (trust auth on
/// 127.0.0.1), panicking with its output on failure.
fn run(cluster: &Cluster, program: &str, args: &[&str]) {
    let output = Command::new(cluster.program(program))
        .args([
            "-h",
            cluster.host(),
            "-p",
            &cluster.port().to_string(),
            "-U",
            SUPERUSER,
        ])
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running {program}: {e}"));
    assert!(
        output.status.success(),
        "{program} {args:?} failed: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn a_dump_restored_into_a_new_database_keeps_everything_and_isolation() {
    let cluster = Cluster::shared();
    let original = deployment_from(cluster, None);
    let dir = tempdir();
    let dump = dir.join("boards.dump");
    let dump_path = dump
        .to_str()
        .unwrap_or_else(|| panic!("non-UTF-8 temp path"));
    run(
        cluster,
        "pg_dump",
        &["-Fc", "-f", dump_path, "-d", original.name()],
    );
    let restored = cluster.create_empty_database();
    // Database-level settings are not part of a database's dump (pg_dumpall has them): the
    // operator sets them again, as the seed's migration steps do.
    restored.set("boards.multi_tenant_mode", "on");
    restored.set("boards.jwt_leeway", "10s");
    run(
        cluster,
        "pg_restore",
        &["--exit-on-error", "-d", restored.name(), dump_path],
    );
    let _ = std::fs::remove_dir_all(&dir);
    let mut original_su = original.superuser();
    let mut restored_su = restored.superuser();
    assert_eq!(
        content(&mut restored_su),
        content(&mut original_su),
        "rows differ after the restore"
    );
    assert_same_lines(
        "the catalog",
        "the original",
        &catalog(&mut original_su),
        "the restored database",
        &catalog(&mut restored_su),
    );
    assert_eq!(keys(&mut restored.admin()), keys(&mut original.admin()));
    assert_isolated(&restored);
}

/// A fresh private directory for a dump file.
fn tempdir() -> std::path::PathBuf {
    let base = std::env::temp_dir().join(format!(
        "boards_tenant_dump_{}_{}",
        std::process::id(),
        uuid::Uuid::new_v4()
    ));
    std::fs::create_dir(&base).unwrap_or_else(|e| panic!("mkdir {}: {e}", base.display()));
    assert!(Path::new(&base).is_dir());
    base
}
