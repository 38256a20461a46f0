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
    let protect = |table: &str| format!("SELECT {schema}.boards_tenant_protect({})", lit(table));
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
                    "fix": format!("SELECT {schema}.boards_tenant_unprotect({}) or DELETE the entry from boards.protected_tables", lit(&s.table)),
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
        out.extend(db::rows(
            "SELECT NULL::text, 'permissive_policy_or'::text,
                    CASE WHEN pg_catalog.pg_get_expr(p.polqual, p.polrelid) = 'true'
                           OR (p.polqual IS NULL
                               AND pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) = 'true')
                         THEN 'critical' ELSE 'high' END,
                    p.polrelid::regclass::text,
                    pg_catalog.jsonb_build_object(
                        'policy', p.polname::text,
                        'command', CASE p.polcmd WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT'
                                       WHEN 'w' THEN 'UPDATE' WHEN 'd' THEN 'DELETE' ELSE 'ALL' END,
                        'roles', pg_catalog.to_jsonb(ARRAY(
                            SELECT CASE WHEN r = 0 THEN 'PUBLIC' ELSE pg_catalog.pg_get_userbyid(r)::text END
                            FROM pg_catalog.unnest(p.polroles) r ORDER BY 1)),
                        'using', pg_catalog.pg_get_expr(p.polqual, p.polrelid),
                        'with_check', pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid),
                        'fix', pg_catalog.format('DROP POLICY %I ON %s (or recreate it AS RESTRICTIVE)',
                                                 p.polname, p.polrelid::regclass))
             FROM pg_catalog.pg_policy p
             JOIN ROWS FROM (pg_catalog.unnest($1::oid[]), pg_catalog.unnest($2::text[])) f(rel, name)
               ON f.rel = p.polrelid AND f.name = p.polname::text
             WHERE p.polpermissive",
            &[rels.into(), names.into()],
            finding,
        )?);
    }
    Ok(out)
}

/// Catalog checks outside the registry's own state, each one query.
pub(super) fn catalog_checks(schema: &str) -> ExtResult<Vec<Finding>> {
    let mut out = Vec::new();

    if let Some(sql) = crate::statistics::audit_query()? {
        out.extend(query(sql, None)?);
    }

    out.extend(query(
        &format!(
            "SELECT NULL::text, 'unprotected_tenant_table'::text, 'critical'::text,
                    c.oid::regclass::text,
                    pg_catalog.jsonb_build_object(
                        'registered', r.tbl IS NOT NULL,
                        'rls_enabled', c.relrowsecurity,
                        'rls_forced', c.relforcerowsecurity,
                        'partition_of', (SELECT i.inhparent::regclass::text
                                         FROM pg_catalog.pg_inherits i
                                         WHERE i.inhrelid = c.oid LIMIT 1),
                        'fix', pg_catalog.format('SELECT {schema}.boards_tenant_protect(%L)',
                                                 c.oid::regclass::text))
             FROM pg_catalog.pg_class c
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
             JOIN pg_catalog.pg_attribute a
               ON a.attrelid = c.oid AND a.attname = 'tenant_id' AND a.attnum > 0
                  AND NOT a.attisdropped
             LEFT JOIN boards.protected_tables r ON r.tbl = c.oid
             WHERE c.relkind IN ('r', 'p') AND c.relpersistence <> 't'
               AND n.nspname NOT IN ('pg_catalog', 'information_schema')
               AND n.nspname !~ '^pg_toast'
               AND (r.tbl IS NULL OR NOT c.relrowsecurity)
               -- the extension's bookkeeping tables
               AND NOT EXISTS (
                   SELECT FROM pg_catalog.pg_depend d
                   JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid
                   WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid
                     AND d.deptype = 'e' AND e.extname = 'boards_tenant' AND r.tbl IS NULL)"
        ),
        None,
    )?);

    out.extend(query(
        "SELECT NULL::text, 'bypassrls_login_role'::text, 'high'::text, r.rolname::text,
                pg_catalog.jsonb_build_object(
                    'superuser', r.rolsuper,
                    'bypassrls', r.rolbypassrls,
                    'fix', pg_catalog.format(
                        'ALTER ROLE %I NOSUPERUSER NOBYPASSRLS (or NOLOGIN); connect applications with a role that has neither',
                        r.rolname))
         FROM pg_catalog.pg_roles r
         WHERE r.rolcanlogin AND (r.rolsuper OR r.rolbypassrls) AND r.oid <> 10",
        None,
    )?);

    out.extend(query(
        "SELECT NULL::text, 'login_role_can_create'::text, 'medium'::text, r.rolname::text,
                pg_catalog.jsonb_build_object(
                    'schemas', pg_catalog.to_jsonb(ARRAY(
                        SELECT n.nspname::text FROM pg_catalog.pg_namespace n
                        WHERE (n.nspowner = r.oid
                               OR pg_catalog.has_schema_privilege(r.oid, n.oid, 'CREATE'))
                          AND n.nspname NOT IN ('pg_catalog', 'information_schema')
                          AND n.nspname !~ '^pg_(toast|temp)'
                        ORDER BY 1)),
                    'create_on_database',
                        pg_catalog.has_database_privilege(r.oid, pg_catalog.current_database(), 'CREATE'),
                    'search_path_settings', pg_catalog.to_jsonb(ARRAY(
                        SELECT cfg FROM pg_catalog.pg_db_role_setting s, unnest(s.setconfig) cfg
                        WHERE s.setrole = r.oid AND cfg LIKE 'search_path=%')),
                    'fix', pg_catalog.format(
                        'If %I is what the API connects as: REVOKE CREATE ON SCHEMA ... / ON DATABASE FROM %I, move the schemas it owns to another role, ALTER ROLE %I RESET search_path',
                        r.rolname, r.rolname, r.rolname))
         FROM pg_catalog.pg_roles r
         WHERE r.rolcanlogin AND NOT r.rolsuper AND NOT r.rolbypassrls
           AND NOT pg_catalog.pg_has_role(r.oid, 'boards_tenant_admin', 'MEMBER')
           AND (pg_catalog.has_database_privilege(r.oid, pg_catalog.current_database(), 'CREATE')
                OR EXISTS (
                    SELECT FROM pg_catalog.pg_namespace n
                    WHERE (n.nspowner = r.oid
                           OR pg_catalog.has_schema_privilege(r.oid, n.oid, 'CREATE'))
                      AND n.nspname NOT IN ('pg_catalog', 'information_schema')
                      AND n.nspname !~ '^pg_(toast|temp)'))",
        None,
    )?);

    out.extend(query(
        "SELECT NULL::text, 'login_role_owns_tenant_table'::text, 'high'::text,
                c.oid::regclass::text,
                pg_catalog.jsonb_build_object(
                    'owner', pg_catalog.pg_get_userbyid(c.relowner)::text,
                    'login_roles', pg_catalog.to_jsonb(pg_catalog.array_agg(l.rolname::text ORDER BY l.rolname)),
                    'fix', pg_catalog.format(
                        'ALTER TABLE %s OWNER TO a NOLOGIN role that no login role is a member of',
                        c.oid::regclass))
         FROM boards.protected_tables r
         JOIN pg_catalog.pg_class c ON c.oid = r.tbl
         JOIN pg_catalog.pg_roles l
           ON l.rolcanlogin AND NOT l.rolsuper
              AND pg_catalog.pg_has_role(l.oid, c.relowner, 'MEMBER')
         GROUP BY c.oid, c.relowner",
        None,
    )?);

    out.extend(query(
        "WITH g AS (
             SELECT c.oid AS rel, a.privilege_type, a.grantee, NULL::text AS col
             FROM boards.protected_tables r
             JOIN pg_catalog.pg_class c ON c.oid = r.tbl
             CROSS JOIN LATERAL pg_catalog.aclexplode(c.relacl) a
             WHERE a.privilege_type IN ('TRIGGER', 'REFERENCES')
             UNION ALL
             SELECT c.oid, a.privilege_type, a.grantee, att.attname::text
             FROM boards.protected_tables r
             JOIN pg_catalog.pg_class c ON c.oid = r.tbl
             JOIN pg_catalog.pg_attribute att
               ON att.attrelid = c.oid AND att.attnum > 0 AND NOT att.attisdropped
             CROSS JOIN LATERAL pg_catalog.aclexplode(att.attacl) a
             WHERE a.privilege_type = 'REFERENCES'),
         d AS (
             SELECT g.rel, g.privilege_type, g.col,
                    CASE WHEN g.grantee = 0 THEN 'PUBLIC'
                         ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(g.grantee)::text) END AS who
             FROM g JOIN pg_catalog.pg_class c ON c.oid = g.rel
             WHERE g.grantee <> c.relowner
               AND (g.grantee = 0
                    OR NOT (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.oid = g.grantee))
               AND g.grantee IS DISTINCT FROM pg_catalog.to_regrole('boards_tenant_admin')::oid)
         SELECT NULL::text, 'dangerous_grant'::text,
                CASE d.privilege_type WHEN 'TRIGGER' THEN 'high' ELSE 'medium' END,
                d.rel::regclass::text,
                pg_catalog.jsonb_build_object(
                    'privilege', d.privilege_type,
                    'grantees', pg_catalog.to_jsonb(ARRAY(SELECT DISTINCT x FROM pg_catalog.unnest(pg_catalog.array_agg(d.who)) x ORDER BY 1)),
                    'columns', pg_catalog.to_jsonb(ARRAY(SELECT DISTINCT x FROM pg_catalog.unnest(pg_catalog.array_agg(d.col)) x WHERE x IS NOT NULL ORDER BY 1)),
                    'fix', pg_catalog.format('REVOKE %s ON %s FROM %s', d.privilege_type, d.rel::regclass,
                               (SELECT pg_catalog.string_agg(DISTINCT x, ', ') FROM pg_catalog.unnest(pg_catalog.array_agg(d.who)) x)))
         FROM d
         GROUP BY d.rel, d.privilege_type",
        None,
    )?);

    out.extend(query(
        "SELECT NULL::text, 'global_unique_key'::text, 'medium'::text, c.oid::regclass::text,
                pg_catalog.jsonb_build_object(
                    'index', i.indexrelid::regclass::text,
                    'constraint', con.conname::text,
                    'definition', pg_catalog.pg_get_indexdef(i.indexrelid),
                    'tenant_column', r.tenant_column::text,
                    'fix', pg_catalog.format(
                        'Recreate %s with %I as its first key column (a unique key without it reveals whether another tenant has a value)',
                        coalesce('constraint ' || pg_catalog.quote_ident(con.conname), 'index ' || i.indexrelid::regclass::text),
                        r.tenant_column))
         FROM boards.protected_tables r
         JOIN pg_catalog.pg_class c ON c.oid = r.tbl
         JOIN pg_catalog.pg_index i ON i.indrelid = c.oid AND i.indisunique
         LEFT JOIN pg_catalog.pg_constraint con
           ON con.conindid = i.indexrelid AND con.conrelid = c.oid AND con.contype IN ('p', 'u')
         WHERE NOT EXISTS (
             SELECT FROM pg_catalog.unnest(i.indkey) WITH ORDINALITY k(attnum, ord)
             JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
             WHERE k.ord <= i.indnkeyatts AND a.attname = r.tenant_column)",
        None,
    )?);

    out.extend(query(
        "WITH RECURSIVE deps (view_oid, base) AS (
             SELECT rw.ev_class, d.refobjid
             FROM pg_catalog.pg_depend d
             JOIN pg_catalog.pg_rewrite rw ON rw.oid = d.objid
             WHERE d.classid = 'pg_catalog.pg_rewrite'::regclass
               AND d.refclassid = 'pg_catalog.pg_class'::regclass
               AND d.refobjid IN (SELECT tbl FROM boards.protected_tables)
               AND rw.ev_class <> d.refobjid
             UNION
             SELECT rw.ev_class, deps.base
             FROM deps
             JOIN pg_catalog.pg_depend d
               ON d.refobjid = deps.view_oid
                  AND d.classid = 'pg_catalog.pg_rewrite'::regclass
                  AND d.refclassid = 'pg_catalog.pg_class'::regclass
             JOIN pg_catalog.pg_rewrite rw ON rw.oid = d.objid
             WHERE rw.ev_class <> d.refobjid),
         v AS (
             SELECT c.oid, c.relkind, c.relowner, o.rolsuper, o.rolbypassrls,
                    coalesce((SELECT pg_catalog.bool_or(pg_catalog.split_part(opt, '=', 2)::boolean)
                              FROM pg_catalog.unnest(c.reloptions) opt
                              WHERE pg_catalog.split_part(opt, '=', 1) = 'security_invoker'), false)
                        AS security_invoker,
                    ARRAY(SELECT DISTINCT CASE WHEN a.grantee = 0 THEN 'PUBLIC'
                                               ELSE pg_catalog.pg_get_userbyid(a.grantee)::text END
                          FROM pg_catalog.aclexplode(coalesce(c.relacl, pg_catalog.acldefault('r', c.relowner))) a
                          WHERE a.privilege_type = 'SELECT' AND a.grantee <> c.relowner
                          ORDER BY 1) AS readers,
                    ARRAY(SELECT DISTINCT d.base::regclass::text FROM deps d
                          WHERE d.view_oid = c.oid ORDER BY 1) AS tables
             FROM pg_catalog.pg_class c
             JOIN pg_catalog.pg_roles o ON o.oid = c.relowner
             WHERE c.oid IN (SELECT view_oid FROM deps) AND c.relkind IN ('v', 'm'))
         SELECT NULL::text, 'view_without_security_invoker'::text,
                CASE WHEN v.relkind = 'm' OR v.rolsuper OR v.rolbypassrls THEN 'critical' ELSE 'high' END,
                v.oid::regclass::text,
                pg_catalog.jsonb_build_object(
                    'kind', CASE v.relkind WHEN 'm' THEN 'materialized view' ELSE 'view' END,
                    'owner', pg_catalog.pg_get_userbyid(v.relowner)::text,
                    'owner_bypasses_rls', v.rolsuper OR v.rolbypassrls,
                    'readable_by', pg_catalog.to_jsonb(v.readers),
                    'tables', pg_catalog.to_jsonb(v.tables),
                    'fix', CASE WHEN v.relkind = 'm'
                                THEN pg_catalog.format('REVOKE SELECT ON %s FROM %s (a materialized view stores every tenant''s rows; serve it per tenant through a security_invoker view over a protected table instead)',
                                                       v.oid::regclass, pg_catalog.array_to_string(v.readers, ', '))
                                ELSE pg_catalog.format('ALTER VIEW %s SET (security_invoker = true)', v.oid::regclass) END)
         FROM v
         WHERE (v.relkind = 'v' AND NOT v.security_invoker)
            OR (v.relkind = 'm' AND pg_catalog.cardinality(v.readers) > 0)",
        None,
    )?);

    out.extend(query(
        "SELECT NULL::text, 'security_definer_search_path'::text, 'high'::text,
                p.oid::regprocedure::text,
                pg_catalog.jsonb_build_object(
                    'owner', pg_catalog.pg_get_userbyid(p.proowner)::text,
                    'schema', n.nspname::text,
                    'fix', pg_catalog.format('ALTER FUNCTION %s SET search_path = pg_catalog, pg_temp',
                                             p.oid::regprocedure))
         FROM pg_catalog.pg_proc p
         JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
         WHERE p.prosecdef
           AND n.nspname NOT IN ('pg_catalog', 'information_schema')
           AND NOT EXISTS (SELECT FROM pg_catalog.unnest(p.proconfig) s
                           WHERE s LIKE 'search\\_path=%')
           AND NOT EXISTS (
               SELECT FROM pg_catalog.pg_depend d
               JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid
               WHERE d.classid = 'pg_catalog.pg_proc'::regclass AND d.objid = p.oid
                 AND d.deptype = 'e' AND e.extname = 'boards_tenant')
           AND EXISTS (
               SELECT FROM pg_catalog.pg_roles l
               WHERE l.rolcanlogin AND NOT l.rolsuper
                 AND NOT coalesce(pg_catalog.pg_has_role(l.oid, pg_catalog.to_regrole('boards_tenant_admin'), 'MEMBER'), false)
                 AND pg_catalog.has_schema_privilege(l.oid, n.oid, 'USAGE'))",
        None,
    )?);

    // GRANT SET / ALTER SYSTEM ON PARAMETER exists from PostgreSQL 15 on.
    if pg_sys::PG_VERSION_NUM >= 150000 {
        out.extend(query(
            "WITH g AS (
                 SELECT pa.parname::text AS parname, a.privilege_type,
                        CASE WHEN a.grantee = 0 THEN 'PUBLIC'
                             ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(a.grantee)::text) END AS who
                 FROM pg_catalog.pg_parameter_acl pa
                 CROSS JOIN LATERAL pg_catalog.aclexplode(pa.paracl) a
                 WHERE pa.parname LIKE 'boards.%'
                   AND (a.grantee = 0
                        OR NOT (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.oid = a.grantee)))
             SELECT NULL::text, 'setting_privilege_granted'::text, 'critical'::text, g.parname,
                    pg_catalog.jsonb_build_object(
                        'grantees', pg_catalog.to_jsonb(ARRAY(SELECT DISTINCT x FROM pg_catalog.unnest(pg_catalog.array_agg(g.who)) x ORDER BY 1)),
                        'privileges', pg_catalog.to_jsonb(ARRAY(SELECT DISTINCT x FROM pg_catalog.unnest(pg_catalog.array_agg(g.privilege_type)) x ORDER BY 1)),
                        'fix', pg_catalog.format('REVOKE ALL ON PARAMETER %s FROM %s', g.parname,
                                   (SELECT pg_catalog.string_agg(DISTINCT x, ', ') FROM pg_catalog.unnest(pg_catalog.array_agg(g.who)) x)))
             FROM g
             GROUP BY g.parname",
            None,
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
    let (shared, session) = db::rows(
        "SELECT pg_catalog.current_setting('shared_preload_libraries'),
                pg_catalog.current_setting('session_preload_libraries')",
        &[],
        |row| {
            Ok((
                row.get::<String>(1)?.unwrap_or_default(),
                row.get::<String>(2)?.unwrap_or_default(),
            ))
        },
    )?
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
