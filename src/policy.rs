//! Protecting tables: row-level security keyed on the tenant context, and the registry of
//! protected tables with the state of each.
//!
//! A protected table has RLS enabled *and forced* (so its owner is bound too), exactly one
//! permissive policy `boards_tenant_isolation` for all commands,
//! `USING/WITH CHECK (col = (SELECT <ext schema>.boards_current_tenant()))` — the sub-select is
//! evaluated once per statement, the schema qualification keeps a same-named function earlier in
//! `search_path` out — `DEFAULT boards_current_tenant()` on the column, an index led by the
//! column, and no `TRUNCATE` (which bypasses RLS) for anyone but the admin role.

use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;
use pgrx::{pg_sys, spi};

use crate::db;
use crate::error::{ExtError, ExtResult, SqlResult};
use crate::own_ddl::OwnDdl;
use crate::sqltypes::{RegClass, SqlName};

pub const POLICY_NAME: &str = "boards_tenant_isolation";
pub const DEFAULT_TENANT_COLUMN: &str = "tenant_id";

/// What a table must look like to count as protected; `problems()` names each gap.
#[derive(Debug, Clone)]
pub struct ProtectionState {
    pub table: String,
    pub oid: pg_sys::Oid,
    pub tenant_column: String,
    pub builtin: bool,
    pub exists: bool,
    pub rls_enabled: bool,
    pub rls_forced: bool,
    pub policy_ok: bool,
    pub default_ok: bool,
    pub indexed: bool,
    pub extra_permissive_policies: Vec<String>,
    pub truncate_grantees: Vec<String>,
    /// `"TRIGGER role"` / `"REFERENCES role"` granted to roles other than the owner: a trigger
    /// runs in every tenant's session; a foreign key probes other tenants' keys (RI checks
    /// ignore RLS).
    pub probe_grants: Vec<String>,
    pub protected_at: Option<pgrx::datum::TimestampWithTimeZone>,
}

/// One gap between a table and what protection requires. The DDL guard and the registry
/// listing match on these; the text (`Display`) is what users read in errors and listings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem<'a> {
    TableMissing,
    RlsDisabled,
    RlsNotForced,
    PolicyMissingOrAltered,
    /// A permissive policy (its name) OR-ed with the tenant policy.
    PermissivePolicy(&'a str),
    /// The tenant column (its name) has no `DEFAULT boards_current_tenant()`.
    NoTenantDefault(&'a str),
    /// No index is led by the tenant column (its name).
    NoTenantIndex(&'a str),
    /// TRUNCATE granted to a role (its name).
    TruncateGranted(&'a str),
    /// `"TRIGGER role"` / `"REFERENCES role"` granted to a role other than the owner.
    ProbeGranted(&'a str),
}

impl std::fmt::Display for Problem<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::TableMissing => f.write_str("table no longer exists"),
            Problem::RlsDisabled => f.write_str("row level security is disabled"),
            Problem::RlsNotForced => {
                f.write_str("row level security is not forced (the owner bypasses it)")
            }
            Problem::PolicyMissingOrAltered => {
                write!(f, "policy {POLICY_NAME} is missing or altered")
            }
            Problem::PermissivePolicy(p) => {
                write!(f, "permissive policy {p} is OR-ed with the tenant policy")
            }
            Problem::NoTenantDefault(c) => write!(f, "{c} has no DEFAULT boards_current_tenant()"),
            Problem::NoTenantIndex(c) => write!(f, "no index is led by {c}"),
            Problem::TruncateGranted(g) => write!(
                f,
                "TRUNCATE is granted to {g} (TRUNCATE bypasses row level security)"
            ),
            Problem::ProbeGranted(g) => write!(
                f,
                "{g} is granted (it reaches other tenants' sessions or keys)"
            ),
        }
    }
}

impl ProtectionState {
    pub fn problems(&self) -> Vec<Problem<'_>> {
        if !self.exists {
            return vec![Problem::TableMissing];
        }
        let mut out = Vec::new();
        if !self.rls_enabled {
            out.push(Problem::RlsDisabled);
        }
        if !self.rls_forced {
            out.push(Problem::RlsNotForced);
        }
        if !self.policy_ok {
            out.push(Problem::PolicyMissingOrAltered);
        }
        out.extend(
            self.extra_permissive_policies
                .iter()
                .map(|p| Problem::PermissivePolicy(p)),
        );
        if !self.default_ok {
            out.push(Problem::NoTenantDefault(&self.tenant_column));
        }
        if !self.indexed {
            out.push(Problem::NoTenantIndex(&self.tenant_column));
        }
        out.extend(
            self.truncate_grantees
                .iter()
                .map(|g| Problem::TruncateGranted(g)),
        );
        out.extend(self.probe_grants.iter().map(|g| Problem::ProbeGranted(g)));
        out
    }

    /// Gaps that break isolation, as opposed to performance or defence in depth.
    pub fn isolation_broken(&self) -> bool {
        !self.exists
            || !self.rls_enabled
            || !self.rls_forced
            || !self.policy_ok
            || !self.extra_permissive_policies.is_empty()
    }
}

/// How `pg_get_expr` prints our function: schema-qualified, or bare when the caller's
/// `search_path` makes the bare name resolve to it (so both forms mean the same function).
fn function_call(schema: Option<&str>) -> String {
    match schema {
        Some(schema) => format!("{schema}.boards_current_tenant()"),
        None => "boards_current_tenant()".to_owned(),
    }
}

/// The text Postgres prints for our policy expression after the column name:
/// `(<column> = ( SELECT ... ))`.
fn policy_expr_suffix(schema: Option<&str>) -> String {
    format!(
        " = ( SELECT {} AS boards_current_tenant))",
        function_call(schema)
    )
}

/// State of every registered table (or of one), in one catalog query.
pub fn states(only: Option<pg_sys::Oid>) -> ExtResult<Vec<ProtectionState>> {
    states_of(only.map(|tbl| vec![tbl]))
}

/// State of the registered tables among `tables` (every registered table for `None`), in one
/// catalog query: the DDL guard asks only about the tables a command touched.
pub fn states_of(tables: Option<Vec<pg_sys::Oid>>) -> ExtResult<Vec<ProtectionState>> {
    let schema = db::extension_schema()?;
    // `OFFSET 0` in each EXISTS: without it the cached generic plan, which guesses many
    // registry rows, may turn them into hashed subplans that read all of pg_policy, pg_index
    // and pg_attribute on every DDL statement (a cost growing with the catalog); with it they
    // stay index lookups per registered table asked about.
    let sql = r#"
        SELECT r.tbl::oid, r.tbl::text, r.tenant_column::text, r.builtin, r.protected_at,
               c.oid IS NOT NULL,
               coalesce(c.relrowsecurity, false),
               coalesce(c.relforcerowsecurity, false),
               EXISTS (
                   SELECT FROM pg_catalog.pg_policy p
                   WHERE p.polrelid = c.oid AND p.polname = r.policy_name
                     AND p.polcmd = '*' AND p.polpermissive AND p.polroles = '{0}'
                     AND pg_catalog.pg_get_expr(p.polqual, p.polrelid)
                         IN ($2 || pg_catalog.quote_ident(r.tenant_column) || $3,
                             $2 || pg_catalog.quote_ident(r.tenant_column) || $5)
                     AND pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid)
                         IN ($2 || pg_catalog.quote_ident(r.tenant_column) || $3,
                             $2 || pg_catalog.quote_ident(r.tenant_column) || $5)
                   OFFSET 0),
               coalesce((
                   SELECT pg_catalog.pg_get_expr(d.adbin, d.adrelid) IN ($4, $6)
                   FROM pg_catalog.pg_attribute a
                   JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
                   WHERE a.attrelid = c.oid AND a.attname = r.tenant_column), false),
               EXISTS (
                   SELECT FROM pg_catalog.pg_index i
                   JOIN pg_catalog.pg_attribute a
                     ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
                   WHERE i.indrelid = c.oid AND a.attname = r.tenant_column AND i.indisvalid
                   OFFSET 0),
               ARRAY(SELECT p.polname::text FROM pg_catalog.pg_policy p
                     WHERE p.polrelid = c.oid AND p.polpermissive AND p.polname <> r.policy_name
                     ORDER BY 1),
               -- A NULL ACL means the owner's implicit privileges, TRUNCATE included.
               ARRAY(SELECT DISTINCT CASE WHEN a.grantee = 0 THEN 'PUBLIC'
                                          ELSE a.grantee::regrole::text END
                     FROM pg_catalog.aclexplode(
                              coalesce(c.relacl, pg_catalog.acldefault('r', c.relowner))) a
                     LEFT JOIN pg_catalog.pg_roles g ON g.oid = a.grantee
                     WHERE a.privilege_type = 'TRUNCATE'
                       AND a.grantee <> 'boards_tenant_admin'::regrole
                       AND NOT coalesce(g.rolsuper, false)
                     ORDER BY 1),
               ARRAY(SELECT DISTINCT a.privilege_type || ' '
                                     || CASE WHEN a.grantee = 0 THEN 'PUBLIC'
                                             ELSE a.grantee::regrole::text END
                     FROM pg_catalog.aclexplode(c.relacl) a
                     LEFT JOIN pg_catalog.pg_roles g ON g.oid = a.grantee
                     WHERE a.privilege_type IN ('TRIGGER', 'REFERENCES')
                       AND a.grantee <> c.relowner
                       AND a.grantee <> 'boards_tenant_admin'::regrole
                       AND NOT coalesce(g.rolsuper, false)
                     ORDER BY 1)
        FROM boards.protected_tables r
        LEFT JOIN pg_catalog.pg_class c ON c.oid = r.tbl
        WHERE $1::oid[] IS NULL OR r.tbl = ANY ($1::oid[]::regclass[])
        ORDER BY r.tbl::text"#;
    db::rows(
        sql,
        &[
            tables.into(),
            "(".into(),
            policy_expr_suffix(Some(&schema)).into(),
            function_call(Some(&schema)).into(),
            policy_expr_suffix(None).into(),
            function_call(None).into(),
        ],
        |row| {
            Ok(ProtectionState {
                oid: row.get::<pg_sys::Oid>(1)?.unwrap_or(pg_sys::Oid::INVALID),
                table: row.get::<String>(2)?.unwrap_or_default(),
                tenant_column: row.get::<String>(3)?.unwrap_or_default(),
                builtin: row.get::<bool>(4)?.unwrap_or(false),
                protected_at: row.get(5)?,
                exists: row.get::<bool>(6)?.unwrap_or(false),
                rls_enabled: row.get::<bool>(7)?.unwrap_or(false),
                rls_forced: row.get::<bool>(8)?.unwrap_or(false),
                policy_ok: row.get::<bool>(9)?.unwrap_or(false),
                default_ok: row.get::<bool>(10)?.unwrap_or(false),
                indexed: row.get::<bool>(11)?.unwrap_or(false),
                extra_permissive_policies: row.get::<Vec<String>>(12)?.unwrap_or_default(),
                truncate_grantees: row.get::<Vec<String>>(13)?.unwrap_or_default(),
                probe_grants: row.get::<Vec<String>>(14)?.unwrap_or_default(),
            })
        },
    )
}

/// A table to protect, as the catalog describes it.
struct Target {
    qualified: String,
    column_type: Option<String>,
    relkind: String,
    temporary: bool,
    registered_column: Option<String>,
    builtin: bool,
}

fn describe(tbl: pg_sys::Oid, column: &str) -> ExtResult<Target> {
    let row = db::rows(
        "SELECT pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(c.relname),
                c.relkind::text, c.relpersistence = 't', n.nspname::text,
                (SELECT pg_catalog.format_type(a.atttypid, a.atttypmod)
                 FROM pg_catalog.pg_attribute a
                 WHERE a.attrelid = c.oid AND a.attname = $2 AND a.attnum > 0
                   AND NOT a.attisdropped),
                r.tenant_column::text, coalesce(r.builtin, false)
         FROM pg_catalog.pg_class c
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
         LEFT JOIN boards.protected_tables r ON r.tbl = c.oid
         WHERE c.oid = $1",
        &[tbl.into(), column.into()],
        |row| {
            let schema: String = row.get(4)?.unwrap_or_default();
            Ok((
                Target {
                    qualified: row.get(1)?.unwrap_or_default(),
                    relkind: row.get(2)?.unwrap_or_default(),
                    temporary: row.get(3)?.unwrap_or(false),
                    column_type: row.get(5)?,
                    registered_column: row.get(6)?,
                    builtin: row.get(7)?.unwrap_or(false),
                },
                schema,
            ))
        },
    )?
    .into_iter()
    .next();
    let (target, schema) = row.ok_or_else(|| {
        ExtError::InvalidArgument(format!("relation with OID {} does not exist", tbl.to_u32()))
    })?;
    if !matches!(target.relkind.as_str(), "r" | "p") {
        return Err(ExtError::InvalidArgument(format!(
            "{} is not a table; only tables and partitioned tables can be protected",
            target.qualified
        )));
    }
    if matches!(schema.as_str(), "pg_catalog" | "information_schema")
        || schema.starts_with("pg_toast")
    {
        return Err(ExtError::InvalidArgument(format!(
            "{} is a system table",
            target.qualified
        )));
    }
    Ok(target)
}

/// Protects `tbl` (and its partitions or inheritance children), idempotently.
pub fn protect(tbl: pg_sys::Oid, column: &str, builtin: bool) -> ExtResult<()> {
    let _own = OwnDdl::begin();
    let target = describe(tbl, column)?;
    match target.column_type.as_deref() {
        Some("uuid") => {}
        Some(other) => {
            return Err(ExtError::InvalidArgument(format!(
                "column {column} of {} is {other}; the tenant column must be uuid",
                target.qualified
            )))
        }
        None => {
            return Err(ExtError::InvalidArgument(format!(
                "column {column} of {} does not exist",
                target.qualified
            )))
        }
    }
    if let Some(existing) = &target.registered_column {
        if existing != column {
            return Err(ExtError::InvalidArgument(format!(
                "{} is already protected on column {existing}; unprotect it first",
                target.qualified
            )));
        }
    }

    let schema = db::extension_schema()?;
    let t = &target.qualified;
    let col = spi::quote_identifier(column);
    let expr = format!("{col} = (SELECT {schema}.boards_current_tenant())");

    db::run(&format!("ALTER TABLE {t} ENABLE ROW LEVEL SECURITY"), &[])?;
    db::run(&format!("ALTER TABLE {t} FORCE ROW LEVEL SECURITY"), &[])?;
    db::run(
        &format!("ALTER TABLE {t} ALTER COLUMN {col} SET DEFAULT {schema}.boards_current_tenant()"),
        &[],
    )?;
    // Register first so the state query below can judge the table.
    db::run(
        "INSERT INTO boards.protected_tables (tbl, tenant_column, policy_name, builtin)
         VALUES ($1::oid::regclass, $2, $3, $4)
         ON CONFLICT (tbl) DO UPDATE SET builtin = boards.protected_tables.builtin OR EXCLUDED.builtin",
        &[tbl.into(), column.into(), POLICY_NAME.into(), (builtin || target.builtin).into()],
    )?;
    let state = states(Some(tbl))?
        .into_iter()
        .next()
        .ok_or_else(|| ExtError::InvalidArgument(format!("{t} vanished while being protected")))?;
    if !state.policy_ok {
        if policy_exists(tbl)? {
            db::run(&format!("DROP POLICY {POLICY_NAME} ON {t}"), &[])?;
        }
        db::run(
            &format!(
                "CREATE POLICY {POLICY_NAME} ON {t} AS PERMISSIVE FOR ALL TO PUBLIC \
                 USING ({expr}) WITH CHECK ({expr})"
            ),
            &[],
        )?;
    }
    if !state.indexed {
        db::run(&format!("CREATE INDEX ON {t} ({col})"), &[])?;
    }
    revoke_grants(&state)?;

    if !target.temporary {
        for child in children(tbl)? {
            protect(child, column, builtin)?;
        }
    }
    Ok(())
}

fn policy_exists(tbl: pg_sys::Oid) -> ExtResult<bool> {
    Ok(db::one::<bool>(
        "SELECT EXISTS (SELECT FROM pg_catalog.pg_policy WHERE polrelid = $1 AND polname = $2)",
        &[tbl.into(), POLICY_NAME.into()],
    )?
    .unwrap_or(false))
}

/// Direct partitions or inheritance children of `tbl`.
fn children(tbl: pg_sys::Oid) -> ExtResult<Vec<pg_sys::Oid>> {
    db::rows(
        "SELECT inhrelid FROM pg_catalog.pg_inherits WHERE inhparent = $1 ORDER BY 1",
        &[tbl.into()],
        |row| Ok(row.get::<pg_sys::Oid>(1)?.unwrap_or(pg_sys::Oid::INVALID)),
    )
}

/// Revokes what no role but the owner and the admin role may hold on a protected table:
/// TRUNCATE (it bypasses RLS), TRIGGER and REFERENCES. Returns what was revoked.
pub fn revoke_grants(state: &ProtectionState) -> ExtResult<Vec<String>> {
    // regrole output is already a quoted identifier where it needs quotes.
    let grants = state
        .truncate_grantees
        .iter()
        .map(|g| format!("TRUNCATE {g}"))
        .chain(state.probe_grants.iter().cloned())
        .collect::<Vec<_>>();
    for grant in &grants {
        if let Some((privilege, grantee)) = grant.split_once(' ') {
            db::run(
                &format!("REVOKE {privilege} ON {} FROM {grantee}", state.table),
                &[],
            )?;
        }
    }
    Ok(grants)
}

/// Reverses `protect` (the index stays: it costs nothing to keep and may serve queries).
pub fn unprotect(tbl: pg_sys::Oid) -> ExtResult<()> {
    let _own = OwnDdl::begin();
    let state = states(Some(tbl))?.into_iter().next().ok_or_else(|| {
        ExtError::InvalidArgument(format!(
            "relation with OID {} is not protected by boards_tenant",
            tbl.to_u32()
        ))
    })?;
    if state.builtin {
        return Err(ExtError::NotAllowed(format!(
            "{} belongs to boards_tenant and stays protected",
            state.table
        )));
    }
    for child in children(tbl)? {
        if !states(Some(child))?.is_empty() {
            unprotect(child)?;
        }
    }
    let t = &state.table;
    if policy_exists(tbl)? {
        db::run(&format!("DROP POLICY {POLICY_NAME} ON {t}"), &[])?;
    }
    if state.default_ok {
        let col = spi::quote_identifier(&state.tenant_column);
        db::run(
            &format!("ALTER TABLE {t} ALTER COLUMN {col} DROP DEFAULT"),
            &[],
        )?;
    }
    // Other policies keep working only while RLS stays on: leave it on for them.
    let other_policies = db::one::<i64>(
        "SELECT count(*) FROM pg_catalog.pg_policy WHERE polrelid = $1",
        &[tbl.into()],
    )?
    .unwrap_or(0);
    if other_policies == 0 {
        db::run(&format!("ALTER TABLE {t} NO FORCE ROW LEVEL SECURITY"), &[])?;
        db::run(&format!("ALTER TABLE {t} DISABLE ROW LEVEL SECURITY"), &[])?;
    }
    db::run(
        "DELETE FROM boards.protected_tables WHERE tbl = $1::oid",
        &[tbl.into()],
    )?;
    crate::statistics::forget(tbl)
}

/// Protects a table: RLS on the tenant column, its default, an index; recorded in the registry.
/// The `sensitive_columns` lose their planner statistics for good (`statistics.rs`). A new C
/// symbol for the three-argument signature of 0.2.0; the two-argument one below keeps serving
/// databases still at 0.1.0.
#[pg_extern(
    volatile,
    parallel_unsafe,
    name = "boards_tenant_protect",
    security_definer
)]
#[search_path(pg_catalog, pg_temp)]
fn boards_tenant_protect_with_statistics(
    tbl: RegClass,
    tenant_column: default!(SqlName, "'tenant_id'"),
    sensitive_columns: default!(Option<Vec<Option<String>>>, "NULL"),
) -> SqlResult<()> {
    protect(tbl.0, &tenant_column.0, false)?;
    let columns: Vec<String> = sensitive_columns
        .unwrap_or_default()
        .into_iter()
        .flatten()
        .collect();
    Ok(crate::statistics::hide(tbl.0, &columns)?)
}

/// `boards_tenant_protect(regclass, name)` of 0.1.0 (its SQL definition names this symbol):
/// what a database runs between a library update and `ALTER EXTENSION ... UPDATE`.
#[pg_extern(volatile, parallel_unsafe, sql = false)]
fn boards_tenant_protect(tbl: RegClass, tenant_column: SqlName) -> SqlResult<()> {
    Ok(protect(tbl.0, &tenant_column.0, false)?)
}

#[pg_extern(volatile, parallel_unsafe, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn boards_tenant_unprotect(tbl: RegClass) -> SqlResult<()> {
    Ok(unprotect(tbl.0)?)
}

/// Every protected table with the state of its protection.
#[pg_extern(stable, parallel_unsafe, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn boards_tenant_protected_tables() -> Result<
    TableIterator<
        'static,
        (
            name!(table_name, String),
            name!(tenant_column, String),
            name!(rls_enabled, bool),
            name!(rls_forced, bool),
            name!(policy_ok, bool),
            name!(default_ok, bool),
            name!(tenant_index, bool),
            name!(builtin, bool),
            name!(protected_at, Option<pgrx::datum::TimestampWithTimeZone>),
            name!(problems, Vec<String>),
        ),
    >,
    ErrorReport,
> {
    let rows = states(None)?
        .into_iter()
        .map(|s| {
            let problems = s.problems().iter().map(ToString::to_string).collect();
            (
                s.table,
                s.tenant_column,
                s.rls_enabled,
                s.rls_forced,
                s.policy_ok,
                s.default_ok,
                s.indexed,
                s.builtin,
                s.protected_at,
                problems,
            )
        })
        .collect::<Vec<_>>();
    Ok(TableIterator::new(rows))
}

#[pg_schema]
mod boards {
    use super::*;

    /// Protects one of the extension's own tables (sql/finalize.sql); they cannot be unprotected.
    #[pg_extern(volatile, parallel_unsafe, security_definer)]
    #[search_path(pg_catalog, pg_temp)]
    fn protect_builtin_internal(tbl: RegClass) -> SqlResult<()> {
        Ok(protect(tbl.0, DEFAULT_TENANT_COLUMN, true)?)
    }
}

#[cfg(any(test, feature = "pg_test"))]
#[pg_schema]
mod tests {
    use super::*;

    fn state_of(table: &str) -> ProtectionState {
        let oid = Spi::get_one::<pg_sys::Oid>(&format!("SELECT '{table}'::regclass::oid"))
            .unwrap()
            .unwrap();
        states(Some(oid))
            .unwrap()
            .into_iter()
            .next()
            .expect("registered")
    }

    #[pg_test]
    fn the_boards_tables_are_protected_without_problems() {
        for table in [
            "boards.users",
            "boards.boards",
            "boards.board_members",
            "boards.generations",
        ] {
            let state = state_of(table);
            assert!(state.builtin, "{table}");
            assert_eq!(state.problems(), Vec::<Problem>::new(), "{table}");
        }
    }

    #[pg_test]
    fn protect_matches_what_the_state_check_expects() {
        // The state check compares pg_get_expr output with the text it expects: if Postgres
        // printed the policy differently, every protected table would look tampered with.
        Spi::run("CREATE TABLE public.pg_test_notes (tenant_id uuid, body text)").unwrap();
        let state = state_of("public.pg_test_notes");
        assert!(state.policy_ok && state.default_ok && state.indexed && state.rls_forced);
        assert!(!state.builtin);
        Spi::run("SELECT boards_tenant_unprotect('public.pg_test_notes')").unwrap();
        let left = Spi::get_one::<i64>(
            "SELECT count(*) FROM boards.protected_tables WHERE tbl = 'public.pg_test_notes'::regclass",
        )
        .unwrap();
        assert_eq!(left, Some(0));
    }

    #[pg_test]
    fn dropping_the_policy_is_a_problem_the_state_names() {
        Spi::run("CREATE TABLE public.pg_test_tampered (tenant_id uuid)").unwrap();
        let _own = OwnDdl::begin();
        Spi::run("DROP POLICY boards_tenant_isolation ON public.pg_test_tampered").unwrap();
        let state = state_of("public.pg_test_tampered");
        assert!(!state.policy_ok);
        assert!(state.isolation_broken());
        assert!(state.problems().contains(&Problem::PolicyMissingOrAltered));
    }
}
