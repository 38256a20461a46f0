//! `boards_ensure_tenant_isolation`: the seed's manual check for application code that works
//! with ids it got from elsewhere. It never answers questions about another tenant: a caller
//! that is not an admin may only ask about the tenant of its own context.

use boards_tenant_core::CoreError;
use pgrx::prelude::*;
use pgrx::{pg_sys, spi};

use crate::db;
use crate::error::{ExtError, ExtResult, SqlResult};
use crate::preload;
use crate::readers;
use crate::uuids;

/// The table behind a resource type: the Boards resources by name, or a protected table the
/// caller named (resolved with the caller's `search_path` by the SQL wrapper).
fn resource_table(resource_type: &str, named: Option<pg_sys::Oid>) -> ExtResult<(String, String)> {
    let builtin = match resource_type {
        "board" => Some("boards.boards"),
        "generation" => Some("boards.generations"),
        "user" => Some("boards.users"),
        "board_member" => Some("boards.board_members"),
        _ => None,
    };
    if let Some(table) = builtin {
        return Ok((table.to_owned(), "tenant_id".to_owned()));
    }
    let registered = match named {
        Some(oid) => db::rows(
            "SELECT r.tbl::text, r.tenant_column::text FROM boards.protected_tables r
             WHERE r.tbl = $1::oid",
            &[oid.into()],
            |row| {
                Ok((
                    row.get::<String>(1)?.unwrap_or_default(),
                    row.get::<String>(2)?.unwrap_or_default(),
                ))
            },
        )?,
        None => Vec::new(),
    };
    registered.into_iter().next().ok_or_else(|| {
        ExtError::InvalidArgument(format!(
            "unknown resource type \"{resource_type}\": use board, generation, user, board_member or the name of a protected table"
        ))
    })
}

fn caller_is_admin() -> bool {
    // SAFETY: catalog lookups. Inside this SECURITY DEFINER function the current user is the
    // owner; the outer user is the role that called it.
    unsafe {
        let caller = pg_sys::GetOuterUserId();
        let admin = pg_sys::get_role_oid(c"boards_tenant_admin".as_ptr(), true);
        pg_sys::superuser_arg(caller)
            || (admin != pg_sys::Oid::INVALID && pg_sys::has_privs_of_role(caller, admin))
    }
}

fn denied(detail: String) -> ExtError {
    ExtError::Forbidden {
        message: "Access denied".into(),
        detail: Some(detail),
    }
}

fn ensure(
    user_id: Option<pgrx::Uuid>,
    tenant_id: pgrx::Uuid,
    resource_type: &str,
    resource_id: Option<pgrx::Uuid>,
    named_table: Option<pg_sys::Oid>,
) -> ExtResult<()> {
    if !caller_is_admin() {
        let own = readers::current_with_tenant()
            .and_then(|c| c.tenant_id)
            .map(uuids::to_pg_uuid);
        if own != Some(tenant_id) {
            return Err(CoreError::access_denied().into());
        }
    }
    let (table, column) = resource_table(resource_type, named_table)?;
    if let Some(user_id) = user_id {
        let member = db::one::<bool>(
            "SELECT EXISTS (SELECT FROM boards.users WHERE tenant_id = $1 AND id = $2)",
            &[tenant_id.into(), user_id.into()],
        )?
        .unwrap_or(false);
        if !member {
            return Err(CoreError::access_denied().into());
        }
    }
    if let Some(resource_id) = resource_id {
        let found = db::one::<bool>(
            &format!(
                "SELECT EXISTS (SELECT FROM {table} WHERE {} = $1 AND id = $2)",
                spi::quote_identifier(&column)
            ),
            &[tenant_id.into(), resource_id.into()],
        )?
        .unwrap_or(false);
        if !found {
            return Err(denied(format!(
                "{resource_type} {resource_id} does not belong to tenant {tenant_id}"
            )));
        }
    }
    Ok(())
}

#[pg_schema]
mod boards {
    use super::*;

    /// The work behind `boards_ensure_tenant_isolation` (sql/isolation.sql), which resolves a
    /// table name given as resource type in the caller's `search_path` first.
    #[pg_extern(stable, parallel_unsafe, security_definer)]
    #[search_path(pg_catalog, pg_temp)]
    pub fn ensure_tenant_isolation_internal(
        user_id: Option<pgrx::Uuid>,
        tenant_id: Option<pgrx::Uuid>,
        resource_type: Option<String>,
        resource_id: Option<pgrx::Uuid>,
        named_table: Option<pg_sys::Oid>,
    ) -> SqlResult<()> {
        preload::require()?;
        let tenant_id = tenant_id
            .ok_or_else(|| ExtError::InvalidArgument("tenant_id must not be NULL".into()))?;
        let resource_type = resource_type
            .ok_or_else(|| ExtError::InvalidArgument("resource_type must not be NULL".into()))?;
        Ok(ensure(
            user_id,
            tenant_id,
            &resource_type,
            resource_id,
            named_table,
        )?)
    }
}

extension_sql_file!(
    "../sql/isolation.sql",
    name = "isolation",
    requires = ["schema", boards::ensure_tenant_isolation_internal]
);
