//! The row both context setters return, `boards.tenant_context`, built once per context.
//!
//! A repeated token installs the very context it installed before (the same `Rc`,
//! `context.rs`), so its row is the same bytes too: they are kept (per context, for the
//! tenants a pooled connection serves in turn) and copied into the call's memory. Building the
//! row (the type cache's descriptor, five values, `heap_form_tuple`, the copy pgrx makes to
//! return it) was ~3,800 instructions of the ~11,000 a repeated token's
//! `boards_set_tenant_from_jwt` costs (`bench/callgrind_diff.py`, group `2-repeated`); the copy
//! is a `palloc` and a `memcpy`.

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};

use boards_tenant_core::bounded::GenerationalMap;
use boards_tenant_core::context::Context;
use pgrx::callconv::{BoxRet, FcInfo};
use pgrx::datum::Datum;
use pgrx::heap_tuple::PgHeapTuple;
use pgrx::prelude::*;
use pgrx::PgTupleDesc;

use crate::error::{ExtError, ExtResult};
use crate::invalidation::Generation;
use crate::uuids::to_pg_uuid;

// A named composite type rather than OUT parameters (`RETURNS TABLE`): PostgreSQL rebuilds the
// row descriptor of OUT parameters from pg_proc on every call, twice per request (the function
// scan and the function itself), some 20,000 instructions of a repeated-token request that
// costs ~200,000 in all (bench/instructions.py); a named type's descriptor comes from the type
// cache.
extension_sql!(
    r#"
CREATE TYPE boards.tenant_context AS (
    tenant_id   uuid,
    tenant_slug text,
    user_id     uuid,
    subject     text,
    source      text
);
COMMENT ON TYPE boards.tenant_context IS 'The context boards_set_tenant_from_jwt and boards_set_tenant installed';
"#,
    name = "tenant_context_type",
    requires = ["schema"],
);

/// A `boards.tenant_context` value: the composite datum itself, in the call's memory.
pub struct ContextRow(pg_sys::Datum);

// SAFETY: the datum is a complete composite value of boards.tenant_context (HeapTupleHeader
// with its length, type and typmod set, palloc'd in the call's memory context), which is what
// the functions returning it are declared to return.
unsafe impl BoxRet for ContextRow {
    unsafe fn box_into<'fcx>(self, fcinfo: &mut FcInfo<'fcx>) -> Datum<'fcx> {
        // SAFETY: see the impl.
        unsafe { fcinfo.return_raw_datum(self.0) }
    }
}

pgrx::impl_sql_translatable!(ContextRow, "boards.tenant_context");

/// A row built: for which context (a weak reference, which keeps the allocation, so the
/// address is not reused while the entry exists) and its bytes. Keyed by the context's address
/// and the function that built it, under the invalidation state it was built in.
struct Kept {
    _allocation: Weak<Context>,
    bytes: Vec<u8>,
}

type KeptRows = GenerationalMap<Generation, (usize, pg_sys::Oid), Kept>;

thread_local! {
    static KEPT: RefCell<KeptRows> = RefCell::new(GenerationalMap::new(crate::context::KNOWN_CONTEXTS));
    /// The context setters' declared result type, by function oid.
    static RESULT_TYPE: Cell<Option<(pg_sys::Oid, pg_sys::Oid)>> = const { Cell::new(None) };
}

/// The context as a `boards.tenant_context` value. Kept bytes answer only for the same context
/// object, the same function and no relcache invalidation processed since they were built
/// (an `ALTER TYPE` of the row type is one), so a row never outlives its descriptor.
pub fn context_row(fcinfo: pg_sys::FunctionCallInfo, ctx: &Rc<Context>) -> ExtResult<ContextRow> {
    // SAFETY: fcinfo and its flinfo are the call's own and valid for the call.
    let function = unsafe { (*(*fcinfo).flinfo).fn_oid };
    let generation = Generation::current();
    let key = (crate::context::address(ctx), function);
    let kept = KEPT.with(|k| {
        k.borrow_mut()
            .get(generation, &key)
            .map(|k| copy_to_call_memory(&k.bytes))
    });
    if let Some(datum) = kept {
        return Ok(ContextRow(datum));
    }
    let datum = build(fcinfo, function, ctx)?;
    // SAFETY: a composite datum just built, not toasted: its length is in its header.
    let bytes = unsafe {
        let header = datum.cast_mut_ptr::<pg_sys::HeapTupleHeaderData>();
        let len = pgrx::heap_tuple_header_get_datum_length(header);
        std::slice::from_raw_parts(header.cast::<u8>(), len).to_vec()
    };
    let size = bytes.len() + crate::context::WEAK_ENTRY_BYTES;
    let kept = Kept {
        _allocation: Rc::downgrade(ctx),
        bytes,
    };
    KEPT.with(|k| {
        k.borrow_mut()
            .insert(generation, key, kept, size, crate::context::budget())
    });
    Ok(ContextRow(datum))
}

fn copy_to_call_memory(bytes: &[u8]) -> pg_sys::Datum {
    // SAFETY: palloc in the current (the call's) memory context, MAXALIGNed as a tuple header
    // must be, then filled with a complete composite value.
    unsafe {
        let target = pg_sys::palloc(bytes.len()).cast::<u8>();
        std::ptr::copy_nonoverlapping(bytes.as_ptr(), target, bytes.len());
        pg_sys::Datum::from(target)
    }
}

/// Builds the row, its descriptor the function's declared result type (never a type looked up
/// by name, which a caller's search_path could change). The declared type is resolved once per
/// function (`get_call_result_type` on every call was ~2,000 instructions of a repeated token's
/// ~18,000, callgrind); its descriptor then comes from the type cache, which follows ALTER TYPE.
fn build(
    fcinfo: pg_sys::FunctionCallInfo,
    function: pg_sys::Oid,
    ctx: &Context,
) -> ExtResult<pg_sys::Datum> {
    let tupdesc = match RESULT_TYPE.get() {
        // SAFETY: a reference-counted descriptor from the type cache (released when the
        // wrapper below is dropped) of the function's declared named composite result type.
        Some((f, t)) if f == function => unsafe { pg_sys::lookup_rowtype_tupdesc(t, -1) },
        _ => {
            let mut found: pg_sys::TupleDesc = std::ptr::null_mut();
            // SAFETY: get_call_result_type only reads fcinfo and the catalogs.
            let class =
                unsafe { pg_sys::get_call_result_type(fcinfo, std::ptr::null_mut(), &mut found) };
            if class != pg_sys::TypeFuncClass::TYPEFUNC_COMPOSITE || found.is_null() {
                return Err(ExtError::ResultType(
                    "the context setter is not declared to return boards.tenant_context".into(),
                ));
            }
            // SAFETY: found is a valid descriptor (checked above). A named type is remembered;
            // 0.1.0 declared the setters RETURNS TABLE, a record type the type cache does not
            // know by oid, so a database not yet upgraded keeps looking it up per call.
            let type_oid = unsafe { (*found).tdtypeid };
            if type_oid != pg_sys::RECORDOID {
                RESULT_TYPE.set(Some((function, type_oid)));
            }
            found
        }
    };
    let values = [
        ctx.tenant_id.map(to_pg_uuid).into_datum(),
        ctx.tenant_slug.clone().into_datum(),
        ctx.user_id.map(to_pg_uuid).into_datum(),
        ctx.subject.clone().into_datum(),
        ctx.source.clone().into_datum(),
    ];
    // SAFETY: the descriptor is that of boards.tenant_context, whose columns are exactly these
    // types in this order (the extension_sql! above). PgTupleDesc releases the type cache's
    // reference; get_call_result_type's copy is not reference-counted (a no-op then).
    let row = unsafe {
        PgHeapTuple::from_datums(PgTupleDesc::from_pg(tupdesc), values)
            .map_err(|e| ExtError::ResultType(format!("building the context row: {e}")))?
    };
    row.into_composite_datum()
        .ok_or_else(|| ExtError::ResultType("building the context row".into()))
}
