//! Small SPI helpers shared by the SQL-facing modules. Every query runs with the settings it
//! was written for, whoever calls and whatever their session set: `search_path = pg_catalog,
//! pg_temp` (most run inside SECURITY DEFINER functions, where a caller's operator or function
//! of the same name would otherwise run with the owner's rights), no JIT, and the planner's
//! `enable_*` and cost settings at their defaults (a session's `enable_sort = off` adds a
//! penalty cost that pushes catalog queries over `jit_above_cost`, and each DDL statement then
//! JIT-compiles them). Pinning them here, around each query, is what a function's
//! `SET` clause does, but only where a query actually runs: the hot context functions skip a
//! per-call `SET` (they run no query when their caches answer).

use pgrx::datum::DatumWithOid;
use pgrx::pg_sys;
use pgrx::prelude::*;
use pgrx::spi::{SpiHeapTupleData, SpiTupleTable};
use pgrx::{FromDatum, IntoDatum};

use crate::error::{ExtError, ExtResult};
use crate::plan_cache;

/// The settings every internal query runs with; search_path first (a nested pin re-checks only
/// it, `PinnedSettings::pin`). Planner switches that do not exist in the
/// running server version are skipped (see [`known_settings`]).
const PINNED_SETTINGS: &[(&std::ffi::CStr, &std::ffi::CStr)] = &[
    (c"search_path", c"pg_catalog, pg_temp"),
    (c"jit", c"off"),
    // Catalog lookups on a handful of rows: a parallel plan only adds start-up cost.
    (c"max_parallel_workers_per_gather", c"0"),
    (c"plan_cache_mode", c"auto"),
    (c"enable_async_append", c"on"),
    (c"enable_bitmapscan", c"on"),
    (c"enable_gathermerge", c"on"),
    (c"enable_hashagg", c"on"),
    (c"enable_hashjoin", c"on"),
    (c"enable_incremental_sort", c"on"),
    (c"enable_indexonlyscan", c"on"),
    (c"enable_indexscan", c"on"),
    (c"enable_material", c"on"),
    (c"enable_memoize", c"on"),
    (c"enable_mergejoin", c"on"),
    (c"enable_nestloop", c"on"),
    (c"enable_parallel_append", c"on"),
    (c"enable_parallel_hash", c"on"),
    (c"enable_partition_pruning", c"on"),
    (c"enable_partitionwise_aggregate", c"off"),
    (c"enable_partitionwise_join", c"off"),
    (c"enable_presorted_aggregate", c"on"),
    (c"enable_seqscan", c"on"),
    (c"enable_sort", c"on"),
    (c"enable_tidscan", c"on"),
    (c"enable_group_by_reordering", c"on"),
    (c"enable_distinct_reordering", c"on"),
    (c"seq_page_cost", c"1"),
    (c"random_page_cost", c"4"),
    (c"cpu_tuple_cost", c"0.01"),
    (c"cpu_index_tuple_cost", c"0.005"),
    (c"cpu_operator_cost", c"0.0025"),
    (c"parallel_setup_cost", c"1000"),
    (c"parallel_tuple_cost", c"0.1"),
    (c"effective_cache_size", c"524288"),
    (c"from_collapse_limit", c"8"),
    (c"join_collapse_limit", c"8"),
    (c"geqo", c"on"),
    (c"constraint_exclusion", c"partition"),
    (c"cursor_tuple_fraction", c"0.1"),
];

/// While alive, the [`PINNED_SETTINGS`] are in force; the previous values come back on drop
/// (on an error, the transaction or subtransaction abort restores them as well). Only the
/// settings whose value differs are set, and no GUC nest level is opened when every one
/// already has its pinned value (the usual case): a read is a lookup, a set also parses,
/// checks and stacks the old value.
pub struct PinnedSettings {
    level: Option<i32>,
}

thread_local! {
    /// Bit i set: `PINNED_SETTINGS[i]` exists in this server (looked up once per backend).
    static KNOWN_SETTINGS: std::cell::Cell<Option<u64>> = const { std::cell::Cell::new(None) };
    /// How many [`PinnedSettings`] are alive. Inside an outer one (the DDL trigger's, around all
    /// its queries) the settings are pinned already and nothing of ours changes them, so an
    /// inner one checks nothing: reading the ~45 settings by name was most of what a DDL
    /// statement paid the extension beyond its one catalog query.
    static PIN_DEPTH: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// Which of the [`PINNED_SETTINGS`] this server version has (`enable_memoize` appeared in 14,
/// `enable_presorted_aggregate` in 16...): setting an unknown one is an error.
fn known_settings() -> u64 {
    const _: () = assert!(PINNED_SETTINGS.len() <= 64);
    KNOWN_SETTINGS.with(|cell| {
        if let Some(mask) = cell.get() {
            return mask;
        }
        let mut mask = 0u64;
        for (i, (name, _)) in PINNED_SETTINGS.iter().enumerate() {
            // SAFETY: a lookup by name; missing_ok returns NULL for an unknown setting.
            if unsafe { !pg_sys::GetConfigOption(name.as_ptr(), true, false).is_null() } {
                mask |= 1 << i;
            }
        }
        cell.set(Some(mask));
        mask
    })
}

/// Whether setting `name` (known to exist) currently reads exactly `value`, as
/// GetConfigOption prints it (integers in base units, reals with `%g`).
fn has_value(name: &std::ffi::CStr, value: &std::ffi::CStr) -> bool {
    // SAFETY: a lookup by name; the result points into a static buffer or the setting itself,
    // read here before anything else can change it.
    unsafe {
        let current = pg_sys::GetConfigOption(name.as_ptr(), true, false);
        !current.is_null() && std::ffi::CStr::from_ptr(current) == value
    }
}

impl PinnedSettings {
    pub fn pin() -> Self {
        Self::pin_with(&[])
    }

    /// [`pin`](Self::pin), some pinned values replaced by `overrides` (names of
    /// [`PINNED_SETTINGS`]), for what runs inside it: the queries inside see the outer pin's
    /// planner settings.
    pub fn pin_with(overrides: &[(&std::ffi::CStr, &std::ffi::CStr)]) -> Self {
        // Counted only once a value exists, whose drop (on every exit, an ERROR's unwinding
        // included) uncounts it: an error while pinning leaves the count as it was. Nested,
        // only search_path is checked again (what code running in between could have set
        // that matters for security); the planner settings stay as the outer one left them.
        let (search_path, pinned_path) = PINNED_SETTINGS[0];
        if overrides.is_empty()
            && PIN_DEPTH.with(|d| d.get()) > 0
            && has_value(search_path, pinned_path)
        {
            PIN_DEPTH.with(|d| d.set(d.get().saturating_add(1)));
            return PinnedSettings { level: None };
        }
        let known = known_settings();
        let mut level = None;
        for (i, (name, pinned)) in PINNED_SETTINGS.iter().enumerate() {
            let value = overrides
                .iter()
                .find(|(overridden, _)| overridden == name)
                .map_or(*pinned, |(_, value)| *value);
            if known & (1 << i) == 0 || has_value(name, value) {
                continue;
            }
            // SAFETY: the same steps fmgr takes for a function's `SET` clauses; the nest level
            // is opened before the first setting it saves.
            unsafe {
                if level.is_none() {
                    level = Some(pg_sys::NewGUCNestLevel());
                }
                pg_sys::set_config_option(
                    name.as_ptr(),
                    value.as_ptr(),
                    pg_sys::GucContext::PGC_USERSET,
                    pg_sys::GucSource::PGC_S_SESSION,
                    pg_sys::GucAction::GUC_ACTION_SAVE,
                    true,
                    0,
                    false,
                );
            }
        }
        PIN_DEPTH.with(|d| d.set(d.get().saturating_add(1)));
        PinnedSettings { level }
    }
}

impl Drop for PinnedSettings {
    fn drop(&mut self) {
        PIN_DEPTH.with(|d| d.set(d.get().saturating_sub(1)));
        if let Some(level) = self.level {
            // SAFETY: pops exactly the nest level `pin` pushed.
            unsafe { pg_sys::AtEOXact_GUC(!std::thread::panicking(), level) };
        }
    }
}

fn pinned<R>(f: impl FnOnce() -> R) -> R {
    let _pin = PinnedSettings::pin();
    f()
}

/// First column of the first row of a read-only query; `None` when no row or NULL.
pub fn one<T: FromDatum + IntoDatum>(sql: &str, args: &[DatumWithOid]) -> ExtResult<Option<T>> {
    Ok(pinned(|| {
        Spi::connect(|c| first(plan_cache::select(c, sql, Some(1), args)?))
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
        Spi::connect_mut(|c| first(plan_cache::update(c, sql, None, args)?))
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

/// Runs a fixed statement for its effect through a kept plan (`plan_cache.rs`): for the
/// statements of the hot DDL paths, which `run` would parse and plan on every execution.
pub fn run_kept(sql: &str, args: &[DatumWithOid]) -> ExtResult<()> {
    writable()?;
    Ok(pinned(|| {
        Spi::connect_mut(|c| plan_cache::update(c, sql, None, args).map(drop))
    })?)
}

/// Runs a read-only query and maps every row. Read-only matters on the hot path: a write
/// would assign a transaction id and make the caller's commit wait for WAL.
pub fn rows<R>(
    sql: &str,
    args: &[DatumWithOid],
    map: impl FnMut(&SpiHeapTupleData) -> pgrx::spi::Result<R>,
) -> ExtResult<Vec<R>> {
    Ok(pinned(|| {
        Spi::connect(|c| collect(plan_cache::select(c, sql, None, args)?, map))
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
        Spi::connect_mut(|c| collect(plan_cache::update(c, sql, None, args)?, map))
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

/// One row of [`latest_rows`].
pub struct LatestRow {
    tuple: pg_sys::HeapTuple,
    desc: pg_sys::TupleDesc,
}

impl LatestRow {
    /// Column `ordinal` (1-based); `None` for NULL (or a column that does not exist).
    pub fn get<T: FromDatum>(&self, ordinal: usize) -> Option<T> {
        let Ok(fnumber) = i32::try_from(ordinal) else {
            return None;
        };
        let mut isnull = true;
        // SAFETY: the tuple and descriptor come from SPI_tuptable of the query just run, alive
        // until SPI_finish; an unknown column number comes back as NULL.
        unsafe {
            let datum = pg_sys::SPI_getbinval(self.tuple, self.desc, fnumber, &mut isnull);
            T::from_datum(datum, isnull)
        }
    }
}

thread_local! {
    /// Where [`fresh_snapshot`] builds its snapshots (like PostgreSQL's own
    /// `SecondarySnapshotData`): the xid arrays GetSnapshotData allocates are reused.
    static FRESH: std::cell::Cell<*mut pg_sys::SnapshotData> =
        const { std::cell::Cell::new(std::ptr::null_mut()) };
}

/// A snapshot of the latest committed state, taken now.
///
/// Why the security lookups read the latest committed state rather than the transaction's
/// snapshot (the other choice being not to cache what an old snapshot read): a revocation must
/// act at the next statement in every isolation level. Under REPEATABLE READ or SERIALIZABLE
/// the transaction snapshot keeps showing a removed key or a suspended tenant until the
/// transaction ends, cached or not; only a fresh snapshot makes the next statement refuse. It is
/// what PostgreSQL does for its own catalogs (catalog snapshots), and it makes every cached
/// answer one that the newest state gave. Rows this transaction wrote are visible to it as
/// usual (callers still cache nothing while the transaction has written, see `directory.rs`).
///
/// Built with GetSnapshotData directly, not GetLatestSnapshot: the policy's reader may run in
/// parallel mode (a parallel plan's init-plan, a worker), where GetLatestSnapshot refuses to
/// run; the snapshot is used for one read-only query and dropped, which is safe there.
fn fresh_snapshot() -> pg_sys::Snapshot {
    FRESH.with(|cell| {
        let mut snap = cell.get();
        if snap.is_null() {
            snap = Box::into_raw(Box::new(pg_sys::SnapshotData::default()));
            cell.set(snap);
        }
        // SAFETY: `snap` is ours for the life of the backend; GetSnapshotData fills it in (and
        // allocates its xid arrays once). The backend's advertised xmin, set for the running
        // statement, is older than this snapshot's, so nothing it needs is pruned.
        unsafe {
            (*snap).snapshot_type = pg_sys::SnapshotType::SNAPSHOT_MVCC;
            pg_sys::GetSnapshotData(snap)
        }
    })
}

/// Pops the snapshot [`latest_rows`] pushed; on an error the (sub)transaction abort does it.
struct ActiveSnapshot;

impl Drop for ActiveSnapshot {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            // SAFETY: pops exactly what `latest_rows` pushed (SPI pops its own on success).
            unsafe { pg_sys::PopActiveSnapshot() };
        }
    }
}

/// Runs a read-only query against the latest committed state (see [`fresh_snapshot`]),
/// whatever the isolation level and whether or not the transaction has written, and maps every
/// row. For the lookups whose answers the security caches hold.
pub fn latest_rows<R>(
    sql: &str,
    args: &[DatumWithOid],
    mut map: impl FnMut(&LatestRow) -> R,
) -> ExtResult<Vec<R>> {
    let sql = std::ffi::CString::new(sql)
        .map_err(|_| crate::error::ExtError::InvalidArgument("query contains NUL".into()))?;
    let mut datums: Vec<pg_sys::Datum> = args
        .iter()
        .map(|a| {
            a.datum()
                .map_or(pg_sys::Datum::from(0usize), |d| d.sans_lifetime())
        })
        .collect();
    let nulls: Vec<std::os::raw::c_char> = args
        .iter()
        .map(|a| if a.datum().is_some() { b' ' } else { b'n' } as std::os::raw::c_char)
        .collect();
    Ok(pinned(|| {
        Spi::connect(|_client| -> pgrx::spi::Result<Vec<R>> {
            let plan = plan_cache::raw(&sql, args)?;
            // SAFETY: SPI is connected (Spi::connect); with read_only = true SPI runs the plan
            // under the active snapshot, the one pushed here, exactly.
            unsafe {
                pg_sys::PushActiveSnapshot(fresh_snapshot());
                let _active = ActiveSnapshot;
                let rc = pg_sys::SPI_execute_plan(
                    plan.as_ptr(),
                    datums.as_mut_ptr(),
                    nulls.as_ptr(),
                    true,
                    0,
                );
                Spi::check_status(rc)?;
                let table = pg_sys::SPI_tuptable;
                let mut out = Vec::new();
                if !table.is_null() {
                    let n = usize::try_from(pg_sys::SPI_processed).unwrap_or(0);
                    for i in 0..n {
                        let row = LatestRow {
                            tuple: *(*table).vals.add(i),
                            desc: (*table).tupdesc,
                        };
                        out.push(map(&row));
                    }
                }
                Ok(out)
            }
        })
    })?)
}

/// First column of the first row of [`latest_rows`].
pub fn latest_one<T: FromDatum>(sql: &str, args: &[DatumWithOid]) -> ExtResult<Option<T>> {
    Ok(latest_rows(sql, args, |row| row.get::<T>(1))?
        .into_iter()
        .next()
        .flatten())
}

#[cfg(any(test, feature = "pg_test"))]
#[pg_schema]
mod tests {
    use super::*;

    fn setting(name: &str) -> Option<String> {
        Spi::get_one_with_args::<String>("SELECT pg_catalog.current_setting($1)", &[name.into()])
            .ok()
            .flatten()
    }

    /// `name` as one of the extension's own queries sees it (inside a plain pin).
    fn pinned_setting(name: &str) -> Option<String> {
        one::<String>("SELECT pg_catalog.current_setting($1)", &[name.into()]).unwrap()
    }

    /// What the audit relies on: an override holds for every query run inside it, a nested
    /// plain pin keeps it (and still pins search_path), and on drop the caller's values are
    /// back.
    #[pg_test]
    fn an_override_holds_inside_and_the_callers_values_come_back() {
        Spi::run("SET random_page_cost = 3; SET search_path = public").unwrap();
        {
            let _outer = PinnedSettings::pin_with(&[(c"random_page_cost", c"1.1")]);
            assert_eq!(setting("random_page_cost").as_deref(), Some("1.1"));
            assert_eq!(pinned_setting("random_page_cost").as_deref(), Some("1.1"));
            assert_eq!(
                pinned_setting("search_path").as_deref(),
                Some("pg_catalog, pg_temp")
            );
        }
        assert_eq!(setting("random_page_cost").as_deref(), Some("3"));
        assert_eq!(setting("search_path").as_deref(), Some("public"));
        // Without the override, the pinned value.
        assert_eq!(pinned_setting("random_page_cost").as_deref(), Some("4"));
    }
}
