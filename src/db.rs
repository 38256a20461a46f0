//! Small SPI helpers shared by the SQL-facing modules. Every query runs with
//! `search_path = pg_catalog, pg_temp`, whoever calls and whatever their `search_path`: most
//! run inside SECURITY DEFINER functions, where a caller's operator or function of the same
//! name would otherwise run with the owner's rights. Pinning it here, around each query, lets
//! the hot context functions skip a per-call `SET search_path` (they run no query when their
//! caches answer).

use pgrx::datum::DatumWithOid;
use pgrx::pg_sys;
use pgrx::prelude::*;
use pgrx::spi::{SpiHeapTupleData, SpiTupleTable};
use pgrx::{FromDatum, IntoDatum};

use crate::error::{ExtError, ExtResult};

/// While alive, `search_path` is `pg_catalog, pg_temp`; the previous value comes back on drop
/// (on an error, the transaction or subtransaction abort restores it as well).
struct PinnedSearchPath {
    level: i32,
}

impl PinnedSearchPath {
    fn pin() -> Self {
        // SAFETY: the same steps fmgr takes for a function's `SET search_path` clause.
        unsafe {
            let level = pg_sys::NewGUCNestLevel();
            pg_sys::set_config_option(
                c"search_path".as_ptr(),
                c"pg_catalog, pg_temp".as_ptr(),
                pg_sys::GucContext::PGC_USERSET,
                pg_sys::GucSource::PGC_S_SESSION,
                pg_sys::GucAction::GUC_ACTION_SAVE,
                true,
                0,
                false,
            );
            PinnedSearchPath { level }
        }
    }
}

impl Drop for PinnedSearchPath {
    fn drop(&mut self) {
        // SAFETY: pops exactly the nest level `pin` pushed.
        unsafe { pg_sys::AtEOXact_GUC(!std::thread::panicking(), self.level) };
    }
}

fn pinned<R>(f: impl FnOnce() -> R) -> R {
    let _pin = PinnedSearchPath::pin();
    f()
}

/// First column of the first row of a read-only query; `None` when no row or NULL.
pub fn one<T: FromDatum + IntoDatum>(sql: &str, args: &[DatumWithOid]) -> ExtResult<Option<T>> {
    Ok(pinned(|| {
        Spi::connect(|c| first(c.select(sql, Some(1), args)?))
    })?)
}

/// Every write goes through `one_mut`, `run` or `rows_mut`, which refuse up front in a
/// read-only transaction (`SET TRANSACTION READ ONLY`, `default_transaction_read_only`, a hot
/// standby): PostgreSQL would refuse deeper inside, on a standby with an internal error
/// ("cannot assign TransactionIds during recovery") rather than a clear one.
fn writable() -> ExtResult<()> {
    // SAFETY: reads a plain global of the transaction state; a standby forces it on.
    if unsafe { pg_sys::XactReadOnly } {
        Err(ExtError::ReadOnly)
    } else {
        Ok(())
    }
}

/// Like `one`, for a statement that writes (`INSERT ... RETURNING`, data-modifying CTEs).
/// No row limit: a limited `INSERT ... RETURNING` stops before the statement ends, and then
/// the table's statement-level AFTER triggers never fire.
pub fn one_mut<T: FromDatum + IntoDatum>(sql: &str, args: &[DatumWithOid]) -> ExtResult<Option<T>> {
    writable()?;
    Ok(pinned(|| {
        Spi::connect_mut(|c| first(c.update(sql, None, args)?))
    })?)
}

fn first<T: FromDatum + IntoDatum>(table: SpiTupleTable) -> pgrx::spi::Result<Option<T>> {
    if table.is_empty() {
        Ok(None)
    } else {
        table.first().get_one::<T>()
    }
}

/// Runs a statement for its effect (a write, DDL or a lock).
pub fn run(sql: &str, args: &[DatumWithOid]) -> ExtResult<()> {
    writable()?;
    Ok(pinned(|| Spi::run_with_args(sql, args))?)
}

/// Runs a read-only query and maps every row. Read-only matters on the hot path: a write
/// would assign a transaction id and make the caller's commit wait for WAL.
pub fn rows<R>(
    sql: &str,
    args: &[DatumWithOid],
    map: impl FnMut(&SpiHeapTupleData) -> pgrx::spi::Result<R>,
) -> ExtResult<Vec<R>> {
    Ok(pinned(|| {
        Spi::connect(|c| collect(c.select(sql, None, args)?, map))
    })?)
}

/// Like `rows`, for a statement that writes.
pub fn rows_mut<R>(
    sql: &str,
    args: &[DatumWithOid],
    map: impl FnMut(&SpiHeapTupleData) -> pgrx::spi::Result<R>,
) -> ExtResult<Vec<R>> {
    writable()?;
    Ok(pinned(|| {
        Spi::connect_mut(|c| collect(c.update(sql, None, args)?, map))
    })?)
}

fn collect<R>(
    table: SpiTupleTable,
    mut map: impl FnMut(&SpiHeapTupleData) -> pgrx::spi::Result<R>,
) -> pgrx::spi::Result<Vec<R>> {
    let mut out = Vec::with_capacity(table.len());
    for row in table {
        out.push(map(&row)?);
    }
    Ok(out)
}

/// The schema the extension was installed into, quoted for use in SQL text.
pub fn extension_schema() -> ExtResult<String> {
    let schema = one::<String>(
        "SELECT n.nspname::text FROM pg_catalog.pg_extension e \
         JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace \
         WHERE e.extname = 'boards_tenant'",
        &[],
    )?
    .unwrap_or_else(|| "public".to_owned());
    Ok(spi::quote_identifier(schema))
}
