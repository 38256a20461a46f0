//! Single-tenant → multi-tenant migration of one table (the seed's "Migration from
//! Single-Tenant"): every existing row goes to the `default` tenant and stays readable there.
//! It all happens in the caller's transaction, so a failure or a killed backend leaves the
//! table exactly as it was.

use pgrx::prelude::*;
use pgrx::{pg_sys, spi};

use crate::db;
use crate::directory::DEFAULT_TENANT_ID;
use crate::error::{ExtError, ExtResult, SqlResult};
use crate::policy::{self, DEFAULT_TENANT_COLUMN};
use crate::sqltypes::RegClass;

/// Heap pages per backfill batch when an existing tenant column has NULLs to fill.
const BATCH_PAGES: i64 = 1024;

fn migrate(tbl: pg_sys::Oid) -> ExtResult<i64> {
    let col = spi::quote_identifier(DEFAULT_TENANT_COLUMN);
    let (table, column_type) = db::rows(
        "SELECT c.oid::regclass::text,
                (SELECT pg_catalog.format_type(a.atttypid, a.atttypmod)
                 FROM pg_catalog.pg_attribute a
                 WHERE a.attrelid = c.oid AND a.attname = $2 AND a.attnum > 0 AND NOT a.attisdropped)
         FROM pg_catalog.pg_class c WHERE c.oid = $1",
        &[tbl.into(), DEFAULT_TENANT_COLUMN.into()],
        |row| Ok((row.get::<String>(1)?.unwrap_or_default(), row.get::<String>(2)?)),
    )?
    .into_iter()
    .next()
    .ok_or_else(|| {
        ExtError::InvalidArgument(format!("relation with OID {} does not exist", tbl.to_u32()))
    })?;

    // Our own DDL: the event trigger must not protect the table half-way through.
    let _own = crate::own_ddl::OwnDdl::begin();
    // Lock first: nobody may write rows without a tenant while we fill them in.
    db::run(&format!("LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE"), &[])?;
    let rows = db::one::<i64>(&format!("SELECT count(*) FROM {table}"), &[])?.unwrap_or(0);

    let assigned = match column_type.as_deref() {
        None => {
            // A constant default is stored in the catalog: no table rewrite, whatever the size.
            db::run(
                &format!(
                    "ALTER TABLE {table} ADD COLUMN {col} uuid NOT NULL DEFAULT '{DEFAULT_TENANT_ID}'"
                ),
                &[],
            )?;
            pgrx::notice!(
                "boards_tenant_migrate_table: {table}: added {DEFAULT_TENANT_COLUMN}, {rows} existing rows assigned to the default tenant"
            );
            rows
        }
        Some("uuid") => backfill(&table, &col)?,
        Some(other) => {
            return Err(ExtError::InvalidArgument(format!(
                "{table}.{DEFAULT_TENANT_COLUMN} is {other}; the tenant column must be uuid"
            )))
        }
    };
    let has_tenant_fk = db::one::<bool>(
        "SELECT EXISTS (SELECT FROM pg_catalog.pg_constraint con
                        JOIN pg_catalog.pg_attribute a
                          ON a.attrelid = con.conrelid AND a.attnum = con.conkey[1]
                        WHERE con.conrelid = $1 AND con.contype = 'f'
                          AND con.confrelid = 'boards.tenants'::regclass AND a.attname = $2)",
        &[tbl.into(), DEFAULT_TENANT_COLUMN.into()],
    )?
    .unwrap_or(false);
    if !has_tenant_fk {
        db::run(
            &format!(
                "ALTER TABLE {table} ADD FOREIGN KEY ({col}) REFERENCES boards.tenants (id) ON DELETE CASCADE"
            ),
            &[],
        )?;
    }
    db::run(
        &format!("ALTER TABLE {table} ALTER COLUMN {col} SET NOT NULL"),
        &[],
    )?;
    policy::protect(tbl, DEFAULT_TENANT_COLUMN, false)?;
    warn_about_global_keys(tbl, &table)?;
    Ok(assigned)
}

/// Fills NULL tenant ids block range by block range, reporting progress.
fn backfill(table: &str, col: &str) -> ExtResult<i64> {
    let pages = db::one::<i64>(
        &format!(
            "SELECT pg_catalog.pg_relation_size('{}'::regclass) / pg_catalog.current_setting('block_size')::bigint",
            table.replace('\'', "''")
        ),
        &[],
    )?
    .unwrap_or(0);
    let mut assigned = 0_i64;
    let mut start = 0_i64;
    while start < pages {
        let end = start + BATCH_PAGES;
        let updated = db::one_mut::<i64>(
            &format!(
                "WITH u AS (UPDATE {table} SET {col} = '{DEFAULT_TENANT_ID}'
                            WHERE {col} IS NULL
                              AND ctid >= pg_catalog.format('(%s,0)', $1::bigint)::tid
                              AND ctid < pg_catalog.format('(%s,0)', $2::bigint)::tid
                            RETURNING 1)
                 SELECT count(*) FROM u"
            ),
            &[start.into(), end.into()],
        )?
        .unwrap_or(0);
        assigned += updated;
        start = end;
        pgrx::notice!(
            "boards_tenant_migrate_table: {table}: {} of {pages} pages scanned, {assigned} rows assigned to the default tenant",
            start.min(pages)
        );
    }
    // Rows whose new versions landed beyond the scanned range are already filled; anything
    // else is caught here.
    assigned += db::one_mut::<i64>(
        &format!(
            "WITH u AS (UPDATE {table} SET {col} = '{DEFAULT_TENANT_ID}' WHERE {col} IS NULL RETURNING 1)
             SELECT count(*) FROM u"
        ),
        &[],
    )?
    .unwrap_or(0);
    Ok(assigned)
}

/// Unique keys that do not include the tenant column let one tenant probe for another's rows.
fn warn_about_global_keys(tbl: pg_sys::Oid, table: &str) -> ExtResult<()> {
    let keys = db::rows(
        "SELECT con.conname::text FROM pg_catalog.pg_constraint con
         WHERE con.conrelid = $1 AND con.contype IN ('p', 'u')
           AND NOT EXISTS (SELECT FROM pg_catalog.pg_attribute a
                           WHERE a.attrelid = con.conrelid AND a.attnum = ANY (con.conkey)
                             AND a.attname = $2)",
        &[tbl.into(), DEFAULT_TENANT_COLUMN.into()],
        |row| Ok(row.get::<String>(1)?.unwrap_or_default()),
    )?;
    if !keys.is_empty() {
        pgrx::warning!(
            "boards_tenant_migrate_table: {table}: unique keys {} do not include {DEFAULT_TENANT_COLUMN}; a tenant can detect another tenant's key values through them. Recreate them with {DEFAULT_TENANT_COLUMN} as the first column.",
            keys.join(", ")
        );
    }
    Ok(())
}

/// Migrates a single-tenant table: adds `tenant_id`, assigns every existing row to the
/// `default` tenant, protects the table. Returns the number of rows assigned.
#[pg_extern(volatile, parallel_unsafe, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn boards_tenant_migrate_table(tbl: RegClass) -> SqlResult<i64> {
    Ok(migrate(tbl.0)?)
}
