//! The configuration checks: table protection (from `policy::states()`), the catalog
//! (roles, grants, policies, views, functions, settings), the preload and foreign keys.

use super::*;

/// The table-level checks, from the registry's own judgement (`policy::states`).
pub(super) fn protection_checks(
    states: &[ProtectionState],
    tables: &[Table],
) -> ExtResult<Vec<Finding>> {
    let schema = db::extension_schema()?;
    let mut out = Vec::new();
    let protect = |table: &str| {
        format!(
            "SELECT {schema}.boards_tenant_protect({})",
            spi::quote_literal(table)
        )
    };
    for s in states {
        let mut flag =
            |check: Check, detail: Value| out.push(Finding::config(check, &s.table, detail));
        if !s.exists {
            flag(
                Check::RegistryTableMissing,
                json!({
                    "tenant_column": s.tenant_column,
                    "builtin": s.builtin,
                    "problem": "table no longer exists",
                    "fix": format!("SELECT {schema}.boards_tenant_unprotect({}) or DELETE the entry from boards.protected_tables", spi::quote_literal(&s.table)),
                }),
            );
            continue;
        }
        if let Some(t) = tables.iter().find(|t| t.oid == s.oid) {
            if !t.tenant_column_exists {
                flag(
                    Check::RegistryTableMissing,
                    json!({
                        "tenant_column": s.tenant_column,
                        "builtin": s.builtin,
                        "problem": format!("tenant column {} no longer exists", s.tenant_column),
                        "fix": format!("Restore column {} (uuid) and run {}", s.tenant_column, protect(&s.table)),
                    }),
                );
            }
        }
        if !s.rls_enabled {
            flag(
                Check::RlsDisabled,
                json!({"fix": format!("ALTER TABLE {} ENABLE ROW LEVEL SECURITY", s.table)}),
            );
        }
        if !s.rls_forced {
            flag(
                Check::RlsNotForced,
                json!({"fix": format!("ALTER TABLE {} FORCE ROW LEVEL SECURITY", s.table)}),
            );
        }
        if !s.policy_ok {
            flag(
                Check::TenantPolicyMissing,
                json!({
                    "policy": policy::POLICY_NAME,
                    "tenant_column": s.tenant_column,
                    "fix": protect(&s.table),
                }),
            );
        }
        if !s.default_ok {
            flag(
                Check::MissingTenantDefault,
                json!({
                    "tenant_column": s.tenant_column,
                    "fix": format!("ALTER TABLE {} ALTER COLUMN {} SET DEFAULT {schema}.boards_current_tenant()", s.table, ident(&s.tenant_column)),
                }),
            );
        }
        if !s.indexed {
            flag(
                Check::MissingTenantIndex,
                json!({
                    "tenant_column": s.tenant_column,
                    "fix": format!("CREATE INDEX ON {} ({})", s.table, ident(&s.tenant_column)),
                }),
            );
        }
        if !s.truncate_grantees.is_empty() {
            flag(
                Check::TruncateGranted,
                json!({
                    "grantees": s.truncate_grantees,
                    "fix": format!("REVOKE TRUNCATE ON {} FROM {}", s.table, s.truncate_grantees.join(", ")),
                }),
            );
        }
    }

    // The expressions of the extra permissive policies that states() named.
    let flagged: Vec<(pg_sys::Oid, String)> = states
        .iter()
        .filter(|s| s.exists)
        .flat_map(|s| {
            s.extra_permissive_policies
                .iter()
                .map(|p| (s.oid, p.clone()))
        })
        .collect();
    if !flagged.is_empty() {
        let rels: Vec<pg_sys::Oid> = flagged.iter().map(|(oid, _)| *oid).collect();
        let names: Vec<String> = flagged.iter().map(|(_, name)| name.clone()).collect();
        out.extend(graded_database_findings(
            Check::PermissivePolicyOr,
            queries::PERMISSIVE_POLICIES,
            &[rels.into(), names.into()],
        )?);
    }
    Ok(out)
}

/// Catalog checks outside the registry's own state, each one query (`sql/`).
pub(super) fn catalog_checks(schema: &str) -> ExtResult<Vec<Finding>> {
    let mut out = Vec::new();
    if crate::statistics::registry_installed()? {
        out.extend(database_findings(
            Check::SensitiveColumnStatistics,
            queries::SENSITIVE_COLUMN_STATISTICS,
            &[],
        )?);
    }
    out.extend(database_findings(
        Check::UnprotectedTenantTable,
        queries::UNPROTECTED_TENANT_TABLES,
        &[schema.into()],
    )?);
    for (check, sql) in [
        (Check::BypassrlsLoginRole, queries::BYPASSRLS_LOGIN_ROLES),
        (Check::LoginRoleCanCreate, queries::LOGIN_ROLES_CAN_CREATE),
        (
            Check::LoginRoleOwnsTenantTable,
            queries::LOGIN_ROLES_OWN_TENANT_TABLES,
        ),
    ] {
        out.extend(database_findings(check, sql, &[])?);
    }
    out.extend(graded_database_findings(
        Check::DangerousGrant,
        queries::DANGEROUS_GRANTS,
        &[],
    )?);
    out.extend(database_findings(
        Check::GlobalUniqueKey,
        queries::GLOBAL_UNIQUE_KEYS,
        &[],
    )?);
    out.extend(graded_database_findings(
        Check::ViewWithoutSecurityInvoker,
        queries::VIEWS_WITHOUT_SECURITY_INVOKER,
        &[],
    )?);
    out.extend(database_findings(
        Check::SecurityDefinerSearchPath,
        queries::SECURITY_DEFINER_SEARCH_PATH,
        &[],
    )?);
    // GRANT SET / ALTER SYSTEM ON PARAMETER exists from PostgreSQL 15 on.
    if pg_sys::PG_VERSION_NUM >= 150000 {
        out.extend(database_findings(
            Check::SettingPrivilegeGranted,
            queries::SETTING_PRIVILEGES,
            &[],
        )?);
    }
    out.extend(preload_check()?);
    out.extend(foreign_grant_check()?);
    Ok(out)
}

/// Privileges on the extension's tables beyond what it granted (`grants.rs`).
pub(super) fn foreign_grant_check() -> ExtResult<Vec<Finding>> {
    Ok(grants::foreign_grants()?
        .into_iter()
        .map(|grant| {
            let fix = grant.revoke_statement();
            Finding::config(
                Check::ExtensionTablePrivilegeGranted,
                &grant.table,
                json!({
                    "grantee": grant.grantee,
                    "privilege": grant.privilege_text(),
                    "fix": fix,
                }),
            )
        })
        .collect())
}

/// The library must be loaded by `shared_preload_libraries` (`preload.rs`); this backend knows
/// whether it was, which is the whole server's answer.
pub(super) fn preload_check() -> ExtResult<Vec<Finding>> {
    if preload::preloaded() {
        return Ok(Vec::new());
    }
    let (shared, session) = db::rows(queries::PRELOAD_SETTINGS, &[], |row| {
        Ok((
            row.get::<String>(1)?.unwrap_or_default(),
            row.get::<String>(2)?.unwrap_or_default(),
        ))
    })?
    .into_iter()
    .next()
    .unwrap_or_default();
    Ok(vec![Finding::config(
        Check::LibraryNotPreloaded,
        "shared_preload_libraries",
        json!({
            "shared_preload_libraries": shared,
            "session_preload_libraries": session,
            "fix": format!("{} in postgresql.conf, then restart the server", preload::setting_line()),
        }),
    )])
}

/// Foreign keys between registry tables that do not pair the tenant columns.
pub(super) fn foreign_key_checks(tables: &[Table], fks: &[ForeignKey]) -> Vec<Finding> {
    let by_oid: BTreeMap<u32, &Table> = tables.iter().map(|t| (t.oid.to_u32(), t)).collect();
    fks.iter()
        .filter_map(|fk| {
            let child = by_oid.get(&fk.child.to_u32())?;
            let parent = by_oid.get(&fk.parent.to_u32())?;
            if fk.shape(child, parent).has_tenant_pair {
                return None;
            }
            let columns = fk.child_columns.join(", ");
            let parent_columns = fk.parent_columns.join(", ");
            Some(Finding::config(
                Check::ForeignKeyWithoutTenant,
                &child.name,
                json!({
                    "constraint": fk.name,
                    "columns": fk.child_columns,
                    "references": parent.name,
                    "referenced_columns": fk.parent_columns,
                    "fix": format!(
                        "ALTER TABLE {c} DROP CONSTRAINT {con}, ADD FOREIGN KEY ({ct}, {columns}) REFERENCES {p} ({pt}, {parent_columns}) (needs a unique key on {p} ({pt}, {parent_columns}))",
                        c = child.name,
                        con = ident(&fk.name),
                        ct = ident(&child.tenant_column),
                        p = parent.name,
                        pt = ident(&parent.tenant_column),
                    ),
                }),
            ))
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The audit.
