//! What happens at the end of every DDL command (event trigger `boards_tenant_ddl_command_end`,
//! sql/finalize.sql):
//! - auto-protection: a new table with a `tenant_id uuid` column is protected, unless
//!   `boards.auto_protect` is off;
//! - the guard: a protected table must stay protected. A non-superuser who disables or
//!   un-forces RLS, drops or alters the tenant policy, or adds a permissive policy (OR-ed with
//!   the tenant one) gets an error, which rolls the DDL back; a superuser gets a warning.
//!   `TRUNCATE` (it bypasses RLS), `TRIGGER` and `REFERENCES` granted on a protected table to
//!   anyone but its owner and the admin role are revoked again on the spot;
//! - materialized views over protected tables are refused (they store one tenant's rows for
//!   every reader), and so is creating or refreshing any materialized view under a tenant
//!   context (a function in its query may read protected tables); superusers get a warning.

use pgrx::pg_sys;
use pgrx::prelude::*;

use crate::db;
use crate::ddl_scope;
use crate::error::{ExtError, ExtResult, SqlResult};
use crate::grants;
use crate::own_ddl::OwnDdl;
use crate::policy::{self, Problem, DEFAULT_TENANT_COLUMN};
use crate::settings;

/// A materialized view stores rows: row-level security cannot filter what it holds, so one
/// over tenant tables (directly or through views) hands whatever tenant refreshed it to
/// everyone who reads it. Refused for everyone but superusers.
fn refuse_materialized_views(superuser: bool) -> ExtResult<()> {
    let views = db::rows(
        "WITH RECURSIVE cmd AS (
             SELECT d.objid FROM pg_catalog.pg_event_trigger_ddl_commands() d
             WHERE d.classid = 'pg_catalog.pg_class'::regclass
               AND d.command_tag IN ('CREATE MATERIALIZED VIEW', 'REFRESH MATERIALIZED VIEW')
         ), reach (view, rel) AS (
             SELECT c.objid, dep.refobjid
             FROM cmd c
             JOIN pg_catalog.pg_rewrite rw ON rw.ev_class = c.objid
             JOIN pg_catalog.pg_depend dep
               ON dep.classid = 'pg_catalog.pg_rewrite'::regclass AND dep.objid = rw.oid
                  AND dep.refclassid = 'pg_catalog.pg_class'::regclass
             UNION
             SELECT r.view, dep.refobjid
             FROM reach r
             JOIN pg_catalog.pg_class v ON v.oid = r.rel AND v.relkind IN ('v', 'm')
             JOIN pg_catalog.pg_rewrite rw ON rw.ev_class = v.oid
             JOIN pg_catalog.pg_depend dep
               ON dep.classid = 'pg_catalog.pg_rewrite'::regclass AND dep.objid = rw.oid
                  AND dep.refclassid = 'pg_catalog.pg_class'::regclass
         )
         SELECT DISTINCT r.view::regclass::text
         FROM reach r JOIN boards.protected_tables p ON p.tbl = r.rel
         ORDER BY 1",
        &[],
        |row| Ok(row.get::<String>(1)?.unwrap_or_default()),
    )?;
    let Some(view) = views.first() else {
        return refuse_capture_under_a_context(superuser);
    };
    if superuser {
        pgrx::warning!(
            "boards_tenant: materialized view {view} holds rows of protected tables; every role that can read it sees whatever tenant's rows it was refreshed with"
        );
        return Ok(());
    }
    Err(ExtError::Forbidden {
        message: format!("materialized view {view} reads tables protected by boards_tenant"),
        detail: Some(
            "A materialized view stores rows, and row level security cannot filter them: it would hand the rows of whatever tenant refreshed it to everyone who reads it.".into(),
        ),
    })
}

/// The second half of the guard: no materialized view is created or refreshed while a tenant
/// context is set, whatever its query reads (superusers: a warning).
///
/// Why this rule: the dependency walk above sees tables reached directly, through views and
/// through other materialized views, but not a protected table read inside a SQL or PL/pgSQL
/// function (function bodies have no dependencies, and PL/pgSQL may build its queries at run
/// time), so it cannot prove that a query reads no protected table. What it stores, though,
/// depends only on the context it runs under: without a tenant context, every protected table
/// yields no rows (fail closed), so a view filled then holds no tenant's rows. Refusing
/// CREATE/REFRESH MATERIALIZED VIEW under a tenant context therefore covers every path, at the
/// cost of filling views over unprotected data outside the tenant context (an application
/// does that from a maintenance job anyway).
///
/// CREATE TABLE AS and SELECT INTO are not refused: they are CREATE TABLE plus
/// INSERT ... SELECT, and a tenant context may always copy its own rows into a table it can
/// write (refusing the one spelling would protect nothing); the copy is a table, which
/// auto-protection protects when it has a tenant column, and whose readers its owner's grants
/// decide. A materialized view differs: RLS cannot be enabled on it, and REFRESH re-fills it
/// with whatever tenant's rows the refreshing session sees, for everyone who can read it.
fn refuse_capture_under_a_context(superuser: bool) -> ExtResult<()> {
    if crate::context::current()
        .and_then(|ctx| ctx.tenant_id)
        .is_none()
    {
        return Ok(());
    }
    let views = db::rows(
        "SELECT DISTINCT d.objid::regclass::text FROM pg_catalog.pg_event_trigger_ddl_commands() d
         WHERE d.classid = 'pg_catalog.pg_class'::regclass
           AND d.command_tag IN ('CREATE MATERIALIZED VIEW', 'REFRESH MATERIALIZED VIEW')
         ORDER BY 1",
        &[],
        |row| Ok(row.get::<String>(1)?.unwrap_or_default()),
    )?;
    let Some(view) = views.first() else {
        return Ok(());
    };
    if superuser {
        pgrx::warning!(
            "boards_tenant: materialized view {view} was filled under a tenant context; every role that can read it sees that tenant's rows"
        );
        return Ok(());
    }
    Err(ExtError::Forbidden {
        message: format!("materialized view {view} cannot be created or refreshed under a tenant context"),
        detail: Some(
            "A materialized view stores the rows its query reads, and row level security cannot filter them: filled under a tenant context, it would hand that tenant's rows to every other tenant that reads it.".into(),
        ),
    })
}

fn outer_user_is_superuser() -> bool {
    // SAFETY: plain catalog lookups. The outer user is the role that issued the DDL; inside
    // this SECURITY DEFINER function the current user is the extension owner.
    unsafe { pg_sys::superuser_arg(pg_sys::GetOuterUserId()) }
}

/// A superuser loading a dump (`pg_restore`, or `psql -f` of `pg_dump` output: both run with
/// `check_function_bodies = off`, PostgreSQL's documented setting for restores). The dump
/// carries every protection itself, as DDL (policy, RLS flags, default, index, grants) and as
/// rows of the registry; protecting a table as it is created would make those fail as
/// duplicates. Only superusers: anyone else keeps auto-protection whatever they set.
fn loading_a_dump(superuser: bool) -> bool {
    // SAFETY: reads a boolean GUC variable of the server.
    superuser && unsafe { !pg_sys::check_function_bodies }
}

/// The extension's own tables keep exactly the privileges the extension gave them, whoever
/// granted more (superusers included): see `grants.rs`. Not while the extension's own script
/// runs, which is what defines those privileges.
fn guard_extension_tables() -> ExtResult<()> {
    // SAFETY: reads a plain global flag, set while CREATE/ALTER EXTENSION runs a script.
    if unsafe { pg_sys::creating_extension } {
        return Ok(());
    }
    let revoked = {
        let _own = OwnDdl::begin();
        grants::revoke_foreign_grants()?
    };
    for grant in revoked {
        pgrx::warning!(
            "boards_tenant: revoked {} on {} from {}: the extension's tables keep the privileges the extension gave them (key material, the registry and membership are the admin role's)",
            grant.privilege_text(),
            grant.table,
            grant.grantee
        );
    }
    Ok(())
}

fn on_ddl_command_end() -> ExtResult<()> {
    if OwnDdl::active() {
        return Ok(());
    }
    let superuser = outer_user_is_superuser();
    let scope = ddl_scope::current_command()?;
    let candidates = scope.registry_candidates();
    let mut registered = if candidates.is_empty() {
        Vec::new()
    } else {
        policy::states_of(Some(candidates))?
    };
    if settings::auto_protect() && !loading_a_dump(superuser) {
        for relation in &scope.relations {
            let new_tenant_table = relation.protectable
                && relation.may_gain_tenant_column
                && relation.has_tenant_column
                && !registered.iter().any(|s| s.oid == relation.oid && s.exists);
            if new_tenant_table {
                policy::protect(relation.oid, DEFAULT_TENANT_COLUMN, false)?;
                pgrx::notice!(
                    "boards_tenant: protected new table {} on {DEFAULT_TENANT_COLUMN}",
                    relation.name
                );
            }
        }
    }
    if scope.fills_materialized_view {
        refuse_materialized_views(superuser)?;
    }
    if scope.grants_on_tables || scope.touches_extension_tables() {
        guard_extension_tables()?;
    }
    // GRANT does not say which tables it granted on: every protected table is checked then
    // (a registry-sized query, for GRANT ... ON TABLE only).
    if scope.grants_on_tables {
        registered = policy::states_of(None)?;
    }
    for state in registered {
        guard_protected_table(&state, superuser)?;
    }
    Ok(())
}

/// A protected table the command touched: grants that reach other tenants are revoked, and a
/// change that breaks isolation is refused (superusers: a warning).
fn guard_protected_table(state: &policy::ProtectionState, superuser: bool) -> ExtResult<()> {
    if !state.exists {
        return Ok(());
    }
    let revoked = {
        let _own = OwnDdl::begin();
        policy::revoke_grants(state)?
    };
    if !revoked.is_empty() {
        pgrx::warning!(
            "boards_tenant: revoked {} on protected table {}: TRUNCATE bypasses row level security, a trigger runs in every tenant's session, a foreign key probes every tenant's keys",
            revoked.join(", "),
            state.table
        );
    }
    if !state.isolation_broken() {
        return Ok(());
    }
    // The message names what breaks isolation and the lesser gaps beside it, not the grants
    // (TRUNCATE, TRIGGER/REFERENCES): they are not what `isolation_broken` refuses for.
    let problems = state
        .problems()
        .iter()
        .filter(|p| !matches!(p, Problem::TruncateGranted(_) | Problem::ProbeGranted(_)))
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ");
    if superuser {
        pgrx::warning!(
            "boards_tenant: table {} is no longer isolated by tenant: {problems}",
            state.table
        );
        return Ok(());
    }
    Err(ExtError::Forbidden {
        message: format!("table {} is protected by boards_tenant", state.table),
        detail: Some(format!(
            "This change would break tenant isolation: {problems}."
        )),
    })
}

fn on_sql_drop() -> ExtResult<()> {
    if OwnDdl::active() {
        return Ok(());
    }
    ddl_scope::record_dropped_objects()
}

#[pg_schema]
mod boards {
    use super::*;

    /// Called by the event trigger function; not for direct use (EXECUTE is not granted).
    #[pg_extern(volatile, parallel_unsafe, security_definer)]
    #[search_path(pg_catalog, pg_temp)]
    fn on_ddl_command_end_internal() -> SqlResult<()> {
        let _pinned = db::PinnedSettings::pin();
        Ok(on_ddl_command_end()?)
    }

    /// Called by the `sql_drop` event trigger function; not for direct use. No settings pinned
    /// up front: a DROP usually runs no query here (`dropped_objects.rs`), and the registry
    /// update that a dropped protected table needs pins them itself (`db.rs`).
    #[pg_extern(volatile, parallel_unsafe, security_definer)]
    #[search_path(pg_catalog, pg_temp)]
    fn on_sql_drop_internal() -> SqlResult<()> {
        Ok(on_sql_drop()?)
    }
}
