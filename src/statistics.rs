//! Column statistics of sensitive columns. Row-level security filters rows, not the planner's
//! statistics: through `EXPLAIN` (row estimates from most-common values and histograms) any
//! tenant can test guesses about another tenant's values. `boards_tenant_protect(...,
//! sensitive_columns => ...)` drops what is gathered for the named columns and stops ANALYZE
//! from gathering it again (`SET STATISTICS 0`); the registry `boards.sensitive_columns` lets
//! the audit report a column whose statistics came back (check `sensitive_column_statistics`).
//! The price is plans made without those statistics (default selectivities) for such columns.

use pgrx::pg_sys;
use pgrx::spi;

use crate::db;
use crate::error::{ExtError, ExtResult};
use crate::own_ddl::OwnDdl;

pgrx::extension_sql_file!(
    "../sql/statistics.sql",
    name = "statistics",
    requires = ["schema"]
);

/// Whether `boards.sensitive_columns` exists: a database still at 0.1.0 (the library updated,
/// `ALTER EXTENSION boards_tenant UPDATE` not yet run) has no registry.
fn registry_exists() -> ExtResult<bool> {
    Ok(db::one::<bool>(
        "SELECT pg_catalog.to_regclass('boards.sensitive_columns') IS NOT NULL",
        &[],
    )?
    .unwrap_or(false))
}

/// Drops the statistics of each named column of `tbl`, keeps ANALYZE from gathering them again,
/// and records the columns as sensitive.
pub fn hide(tbl: pg_sys::Oid, columns: &[String]) -> ExtResult<()> {
    if columns.is_empty() {
        return Ok(());
    }
    if !registry_exists()? {
        return Err(ExtError::NotAllowed(
            "sensitive_columns needs boards_tenant 0.2.0: run ALTER EXTENSION boards_tenant UPDATE first".into(),
        ));
    }
    let _own = OwnDdl::begin();
    let table = db::one::<String>("SELECT $1::pg_catalog.regclass::text", &[tbl.into()])?
        .unwrap_or_default();
    for column in columns {
        let attnum = db::one::<i16>(
            "SELECT a.attnum FROM pg_catalog.pg_attribute a
             WHERE a.attrelid = $1 AND a.attname = $2 AND a.attnum > 0 AND NOT a.attisdropped",
            &[tbl.into(), column.as_str().into()],
        )?
        .ok_or_else(|| {
            ExtError::InvalidArgument(format!("column \"{column}\" of {table} does not exist"))
        })?;
        db::run(
            &format!(
                "ALTER TABLE {table} ALTER COLUMN {} SET STATISTICS 0",
                spi::quote_identifier(column)
            ),
            &[],
        )?;
        // What ANALYZE already gathered (also for the inheritance tree).
        db::run(
            "DELETE FROM pg_catalog.pg_statistic WHERE starelid = $1 AND staattnum = $2",
            &[tbl.into(), attnum.into()],
        )?;
        db::run(
            "INSERT INTO boards.sensitive_columns (tbl, column_name) VALUES ($1, $2)
             ON CONFLICT DO NOTHING",
            &[tbl.into(), column.as_str().into()],
        )?;
    }
    Ok(())
}

/// Forgets the sensitive columns of a table that is no longer protected.
pub fn forget(tbl: pg_sys::Oid) -> ExtResult<()> {
    if registry_exists()? {
        db::run(
            "DELETE FROM boards.sensitive_columns WHERE tbl = $1",
            &[tbl.into()],
        )?;
    }
    Ok(())
}

/// Whether the audit has sensitive columns to check (`sensitive_column_statistics`, its
/// query in src/audit/sql/): only once the registry exists.
pub fn registry_installed() -> ExtResult<bool> {
    registry_exists()
}
