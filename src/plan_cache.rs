//! The extension's own queries, prepared once per backend.
//!
//! Run as text, each of them is parsed, analysed, rewritten (row-level security included) and
//! planned on every execution: ~150,000 instructions for the tenant or membership look-up
//! behind a context cache miss — a subject's first request on a pooled connection, or every
//! session's next statement after any change of `boards.tenants` / `boards.users` — where
//! executing a kept plan costs a fraction of that (bench/instructions.py, the fresh-token
//! scenarios). PostgreSQL's plan cache keeps a kept plan correct: it is re-analysed when a
//! table, policy or function it uses changes (also after the extension is dropped and created
//! again), when the role changes under row-level security, and when `search_path` differs
//! (it is pinned by `db.rs` around every execution anyway).
//!
//! Keyed by the exact text and the argument types. Texts built at run time (the audit names
//! tables in some) would grow the cache without bound, so it holds at most `MAX_PLANS` and
//! starts over when full. A plan is shared (`Rc`) while it runs: a query it runs may reach
//! this cache again (a policy calling the context readers), and may even evict it.

use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::CStr;
use std::ptr::NonNull;
use std::rc::Rc;
use std::thread::LocalKey;

use pgrx::datum::DatumWithOid;
use pgrx::pg_sys::{self, PgOid};
use pgrx::spi::{
    OwnedPreparedStatement, Spi, SpiClient, SpiError, SpiErrorCodes, SpiResult, SpiTupleTable,
};

/// Far more than the extension's fixed queries (about sixty).
const MAX_PLANS: usize = 256;

/// Kept plans of one kind, by text; each text may have plans for several argument type lists.
struct Cache<P> {
    plans: HashMap<String, Vec<Kept<P>>>,
}

struct Kept<P> {
    arg_types: Vec<pg_sys::Oid>,
    mutating: bool,
    plan: Rc<P>,
}

impl<P> Default for Cache<P> {
    fn default() -> Self {
        Cache {
            plans: HashMap::new(),
        }
    }
}

/// A plan kept with SPI_keepplan, executed directly (for `db::latest_rows`, which runs it
/// under a snapshot of its own).
pub struct RawPlan(NonNull<pg_sys::_SPI_plan>);

impl RawPlan {
    pub fn as_ptr(&self) -> pg_sys::SPIPlanPtr {
        self.0.as_ptr()
    }
}

impl Drop for RawPlan {
    fn drop(&mut self) {
        // SAFETY: the plan was kept by `prepare_raw` and is freed once, here.
        unsafe { pg_sys::SPI_freeplan(self.0.as_ptr()) };
    }
}

thread_local! {
    static PLANS: RefCell<Cache<OwnedPreparedStatement>> = RefCell::new(Cache::default());
    static RAW_PLANS: RefCell<Cache<RawPlan>> = RefCell::new(Cache::default());
}

/// The kept plan of `sql` for `args`' types in `cache`, made by `prepare` if there is none.
/// No borrow of the cache is held while `prepare` runs, nor afterwards.
fn kept<P>(
    cache: &'static LocalKey<RefCell<Cache<P>>>,
    sql: &str,
    args: &[DatumWithOid],
    mutating: bool,
    prepare: impl FnOnce(&[pg_sys::Oid]) -> SpiResult<P>,
) -> SpiResult<Rc<P>> {
    let types: Vec<pg_sys::Oid> = args.iter().map(DatumWithOid::oid).collect();
    let found = cache.with(|c| {
        c.borrow().plans.get(sql).and_then(|kept| {
            kept.iter()
                .find(|k| k.mutating == mutating && k.arg_types == types)
                .map(|k| Rc::clone(&k.plan))
        })
    });
    if let Some(plan) = found {
        return Ok(plan);
    }
    let plan = Rc::new(prepare(&types)?);
    cache.with(|c| {
        let mut c = c.borrow_mut();
        // Rare (a plan is prepared once), so counting here is cheaper than keeping a count.
        if c.plans.values().map(Vec::len).sum::<usize>() >= MAX_PLANS {
            c.plans.clear();
        }
        c.plans.entry(sql.to_owned()).or_default().push(Kept {
            arg_types: types,
            mutating,
            plan: Rc::clone(&plan),
        });
    });
    Ok(plan)
}

fn pgrx_plan(
    client: &SpiClient<'_>,
    sql: &str,
    args: &[DatumWithOid],
    mutating: bool,
) -> SpiResult<Rc<OwnedPreparedStatement>> {
    kept(&PLANS, sql, args, mutating, |types| {
        let oids: Vec<PgOid> = types.iter().copied().map(PgOid::from).collect();
        let prepared = if mutating {
            client.prepare_mut(sql, &oids)?
        } else {
            client.prepare(sql, &oids)?
        };
        Ok(prepared.keep())
    })
}

/// Runs a read-only query through its kept plan.
pub fn select<'conn>(
    client: &SpiClient<'conn>,
    sql: &str,
    limit: Option<i64>,
    args: &[DatumWithOid],
) -> SpiResult<SpiTupleTable<'conn>> {
    let plan = pgrx_plan(client, sql, args, false)?;
    client.select(&*plan, limit, args)
}

/// Runs a statement that writes through its kept plan.
pub fn update<'conn>(
    client: &mut SpiClient<'conn>,
    sql: &str,
    limit: Option<i64>,
    args: &[DatumWithOid],
) -> SpiResult<SpiTupleTable<'conn>> {
    let plan = pgrx_plan(client, sql, args, true)?;
    client.update(&*plan, limit, args)
}

/// The kept read-only plan of `sql` for direct execution (SPI must be connected).
pub fn raw(sql: &CStr, args: &[DatumWithOid]) -> SpiResult<Rc<RawPlan>> {
    let text = sql
        .to_str()
        .map_err(|_| SpiError::SpiError(SpiErrorCodes::Argument))?;
    kept(&RAW_PLANS, text, args, false, |types| {
        let nargs = i32::try_from(types.len()).unwrap_or(i32::MAX);
        let mut types = types.to_vec();
        // SAFETY: SPI is connected (callers run inside Spi::connect); SPI_prepare copies what
        // it needs from the text and the type array; SPI_keepplan moves the plan out of the
        // SPI procedure's memory so it outlives the connection.
        unsafe {
            let plan = pg_sys::SPI_prepare(sql.as_ptr(), nargs, types.as_mut_ptr());
            let Some(plan) = NonNull::new(plan) else {
                Spi::check_status(pg_sys::SPI_result)?;
                return Err(SpiError::SpiError(SpiErrorCodes::Argument));
            };
            pg_sys::SPI_keepplan(plan.as_ptr());
            Ok(RawPlan(plan))
        }
    })
}
