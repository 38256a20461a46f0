//! `pg_upgrade` to a newer PostgreSQL major version keeps isolation working: a deployment on
//! the default version (15) is upgraded with `pg_upgrade` into the installation whose
//! `pg_config` `BOARDS_TENANT_PG_UPGRADE_TO` names (17 in the README test command), and must
//! hold the same rows and the same isolation there.

use std::path::PathBuf;

use boards_tenant_harness::{Cluster, ClusterOptions};
use boards_tenant_tests::deployment::assert_same_lines;
use boards_tenant_tests::deployment::{assert_isolated, audit_findings, content, fill};

const NEW_PG_CONFIG_VAR: &str = "BOARDS_TENANT_PG_UPGRADE_TO";

#[test]
fn pg_upgrade_to_a_newer_major_version_keeps_rows_and_isolation() {
    let new_pg_config = std::env::var_os(NEW_PG_CONFIG_VAR)
        .map(PathBuf::from)
        .unwrap_or_else(|| panic!("{NEW_PG_CONFIG_VAR} must name the pg_config to upgrade to"));
    let old = Cluster::start(ClusterOptions::default());
    let db = old.create_database();
    fill(&db);
    assert_isolated(&db);
    let rows = content(&mut db.superuser());
    let findings = audit_findings(&mut db.admin());
    let name = db.name().to_owned();
    let old_major = old.major_version();

    let new = Cluster::pg_upgrade(
        &old,
        ClusterOptions {
            pg_config: Some(new_pg_config),
            ..ClusterOptions::default()
        },
    );
    assert!(
        new.major_version() > old_major,
        "{NEW_PG_CONFIG_VAR} must name a newer major version than {old_major}"
    );
    let upgraded = new.database(&name);
    assert_eq!(
        content(&mut upgraded.superuser()),
        rows,
        "rows changed in pg_upgrade"
    );
    assert_isolated(&upgraded);
    assert_same_lines(
        "the audit",
        &format!("PostgreSQL {old_major}"),
        &findings,
        &format!("PostgreSQL {} after pg_upgrade", new.major_version()),
        &audit_findings(&mut upgraded.admin()),
    );
}
