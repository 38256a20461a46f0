//! What one DDL command touched, read from `pg_event_trigger_ddl_commands()` and
//! `pg_event_trigger_dropped_objects()` and the catalog rows of those objects only: the DDL
//! guard (`ddl_guard.rs`) looks at nothing else, so its cost does not grow with the catalog or
//! the registry, and a command on an object that is not and cannot become protected
//! never reads `boards.protected_tables` (no lock on it to hold until commit).
//!
//! Deciding "cannot be protected" without the registry: a protected table keeps row-level
//! security enabled and forced and the policy `boards_tenant_isolation` (the guard refuses
//! anything else), and ALTER TABLE can remove that policy only by dropping its column, which
//! `sql_drop` reports before `ddl_command_end` runs. So a touched table is looked up in the
//! registry when it has RLS enabled or forced or any policy, when it has a `tenant_id uuid`
//! column (auto-protection), or when the command dropped the tenant policy of it.

use std::cell::RefCell;

use pgrx::pg_sys;

use crate::db;
use crate::dropped_objects::{self, DroppedKind};
use crate::error::ExtResult;
use crate::policy::{DEFAULT_TENANT_COLUMN, POLICY_NAME};

thread_local! {
    /// Tables whose tenant policy `sql_drop` saw dropped while the table stayed: the
    /// `ddl_command_end` of the same command judges them (a DROP command reports nothing in
    /// `pg_event_trigger_ddl_commands()`).
    static POLICY_DROPPED_ON: RefCell<Vec<pg_sys::Oid>> = const { RefCell::new(Vec::new()) };
}

/// One relation a command created or altered (directly, or through a policy, trigger or rule
/// of it), as the catalog shows it now.
#[derive(Debug, Clone)]
pub struct TouchedRelation {
    pub oid: pg_sys::Oid,
    pub name: String,
    /// The command may have given it a tenant column: CREATE TABLE [AS], SELECT INTO, ALTER TABLE.
    pub may_gain_tenant_column: bool,
    /// An ordinary or partitioned table, not temporary: what auto-protection protects.
    pub protectable: bool,
    pub has_tenant_column: bool,
    /// RLS enabled or forced, or any policy: what every protected table has.
    pub row_security_in_use: bool,
    /// A member of an extension (the extension's own tables keep their privileges: grants.rs).
    pub extension_member: bool,
}

/// What the guard needs to know about the command, read without touching the registry.
#[derive(Debug, Default)]
pub struct CommandScope {
    pub relations: Vec<TouchedRelation>,
    /// CREATE or REFRESH MATERIALIZED VIEW.
    pub fills_materialized_view: bool,
    /// GRANT on tables or sequences: `pg_event_trigger_ddl_commands()` does not say which.
    pub grants_on_tables: bool,
    /// Tables whose tenant policy the command dropped (`sql_drop`).
    pub policy_dropped_on: Vec<pg_sys::Oid>,
}

impl CommandScope {
    /// Tables whose registry entry the guard must read: those that are or may become protected.
    pub fn registry_candidates(&self) -> Vec<pg_sys::Oid> {
        let mut out: Vec<pg_sys::Oid> = self
            .relations
            .iter()
            .filter(|r| {
                r.row_security_in_use
                    || (r.protectable && r.may_gain_tenant_column && r.has_tenant_column)
            })
            .map(|r| r.oid)
            .chain(self.policy_dropped_on.iter().copied())
            .collect();
        out.sort_by_key(|oid| oid.to_u32());
        out.dedup();
        out
    }

    pub fn touches_extension_tables(&self) -> bool {
        self.relations.iter().any(|r| r.extension_member)
    }
}

/// Reads what the running `ddl_command_end` event is about.
pub fn current_command() -> ExtResult<CommandScope> {
    let mut scope = CommandScope {
        policy_dropped_on: POLICY_DROPPED_ON.with(|p| std::mem::take(&mut *p.borrow_mut())),
        ..CommandScope::default()
    };
    let rows = db::rows(
        "SELECT d.command_tag, pg_catalog.upper(d.object_type), c.oid, c.oid::regclass::text,
                c.relkind IN ('r', 'p') AND c.relpersistence <> 't',
                EXISTS (SELECT FROM pg_catalog.pg_attribute a
                        WHERE a.attrelid = c.oid AND a.attname = $1
                          AND a.atttypid = 'pg_catalog.uuid'::pg_catalog.regtype
                          AND a.attnum > 0 AND NOT a.attisdropped OFFSET 0),
                c.relrowsecurity OR c.relforcerowsecurity
                    OR EXISTS (SELECT FROM pg_catalog.pg_policy p WHERE p.polrelid = c.oid
                               OFFSET 0),
                EXISTS (SELECT FROM pg_catalog.pg_depend e
                        WHERE e.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
                          AND e.objid = c.oid AND e.objsubid = 0 AND e.deptype = 'e'
                        OFFSET 0)
         FROM pg_catalog.pg_event_trigger_ddl_commands() d
         -- One index lookup per command row. The planner guesses 100 rows for the function
         -- and would hash all of pg_class (join) and all of pg_attribute / pg_policy /
         -- pg_depend (the EXISTS, as hashed subplans, in the cached generic plan): a cost of
         -- ~2-4 ms per statement that grows with the catalog. OFFSET 0 keeps each of them a
         -- per-row index lookup (PostgreSQL does not turn an EXISTS with OFFSET into a hash).
         LEFT JOIN LATERAL (
             SELECT c.* FROM pg_catalog.pg_class c WHERE c.oid = CASE d.classid
                 WHEN 'pg_catalog.pg_class'::pg_catalog.regclass THEN d.objid
                 WHEN 'pg_catalog.pg_policy'::pg_catalog.regclass
                     THEN (SELECT p.polrelid FROM pg_catalog.pg_policy p WHERE p.oid = d.objid)
                 WHEN 'pg_catalog.pg_trigger'::pg_catalog.regclass
                     THEN (SELECT t.tgrelid FROM pg_catalog.pg_trigger t WHERE t.oid = d.objid)
                 WHEN 'pg_catalog.pg_rewrite'::pg_catalog.regclass
                     THEN (SELECT r.ev_class FROM pg_catalog.pg_rewrite r WHERE r.oid = d.objid)
             END
             OFFSET 0
         ) c ON true",
        &[DEFAULT_TENANT_COLUMN.into()],
        |row| {
            let tag = row.get::<String>(1)?.unwrap_or_default();
            let object_type = row.get::<String>(2)?.unwrap_or_default();
            let relation = match row.get::<pg_sys::Oid>(3)? {
                Some(oid) => Some(TouchedRelation {
                    oid,
                    name: row.get::<String>(4)?.unwrap_or_default(),
                    may_gain_tenant_column: matches!(
                        tag.as_str(),
                        "CREATE TABLE" | "CREATE TABLE AS" | "SELECT INTO" | "ALTER TABLE"
                    ),
                    protectable: row.get::<bool>(5)?.unwrap_or(false),
                    has_tenant_column: row.get::<bool>(6)?.unwrap_or(false),
                    row_security_in_use: row.get::<bool>(7)?.unwrap_or(false),
                    extension_member: row.get::<bool>(8)?.unwrap_or(false),
                }),
                None => None,
            };
            Ok((tag, object_type, relation))
        },
    )?;
    for (tag, object_type, relation) in rows {
        match tag.as_str() {
            "CREATE MATERIALIZED VIEW" | "REFRESH MATERIALIZED VIEW" => {
                scope.fills_materialized_view = true
            }
            "GRANT" if matches!(object_type.as_str(), "TABLE" | "SEQUENCE") => {
                scope.grants_on_tables = true
            }
            _ => {}
        }
        if let Some(relation) = relation {
            if !scope.relations.iter().any(|r| r.oid == relation.oid) {
                scope.relations.push(relation);
            } else if let Some(known) = scope.relations.iter_mut().find(|r| r.oid == relation.oid) {
                known.may_gain_tenant_column |= relation.may_gain_tenant_column;
            }
        }
    }
    Ok(scope)
}

/// The `sql_drop` half: forgets dropped protected tables in the registry, and remembers the
/// tables whose tenant policy was dropped while they stay, for the guard at `ddl_command_end`.
/// The registry is touched only when the command dropped a tenant policy: every protected
/// table has one, and dropping the table drops it too. Reading the dropped objects runs no
/// query (`dropped_objects.rs`): a DROP of anything but a protected table runs none here.
pub fn record_dropped_objects() -> ExtResult<()> {
    let mut dropped_tables = Vec::new();
    let mut tenant_policy_went_with_its_table = false;
    for object in dropped_objects::dropped_objects()? {
        match object.kind {
            DroppedKind::Table => dropped_tables.push(object.objid),
            DroppedKind::Policy
                if object.address_names.get(2).map(String::as_str) == Some(POLICY_NAME) =>
            {
                match surviving_table(&object.address_names) {
                    Some(table) => POLICY_DROPPED_ON.with(|p| p.borrow_mut().push(table)),
                    None => tenant_policy_went_with_its_table = true,
                }
            }
            DroppedKind::Policy | DroppedKind::Other => {}
        }
    }
    if tenant_policy_went_with_its_table && !dropped_tables.is_empty() {
        db::run_kept(
            "DELETE FROM boards.protected_tables WHERE tbl = ANY ($1::oid[]::regclass[])",
            &[dropped_tables.into()],
        )?;
    }
    Ok(())
}

/// The table of a dropped policy (`address_names`: schema, table, policy), if it still exists:
/// at `sql_drop` the objects the command dropped are gone from the catalog already. Resolved
/// as `to_regclass('schema.table')` would: `pg_temp` names the session's temporary schema.
fn surviving_table(address_names: &[String]) -> Option<pg_sys::Oid> {
    let schema = std::ffi::CString::new(address_names.first()?.as_str()).ok()?;
    let table = std::ffi::CString::new(address_names.get(1)?.as_str()).ok()?;
    // SAFETY: catalog lookups by name; missing_ok gives InvalidOid for a dropped schema, and
    // get_relname_relid gives it for a missing table.
    let oid = unsafe {
        let namespace = pg_sys::LookupExplicitNamespace(schema.as_ptr(), true);
        if namespace == pg_sys::Oid::INVALID {
            return None;
        }
        pg_sys::get_relname_relid(table.as_ptr(), namespace)
    };
    (oid != pg_sys::Oid::INVALID).then_some(oid)
}
