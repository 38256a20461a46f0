//! What the running `sql_drop` event dropped: the rows of `pg_event_trigger_dropped_objects()`,
//! read by calling the built-in function directly instead of through a query.
//!
//! Why not `SELECT ... FROM pg_event_trigger_dropped_objects()` through SPI: every DROP pays
//! for the `sql_drop` trigger, and a query costs an SPI connection, an executor start-up and the
//! pinned planner settings (`db::PinnedSettings`, which a query must run under and this call
//! needs not: no plan is made) — about 180,000 instructions per DROP statement, more than the
//! dropped-object list PostgreSQL builds for the trigger (bench/results, the DDL benchmark).
//! Called directly, the function fills a tuplestore that is read here and freed.

use pgrx::pg_sys;
use pgrx::FromDatum;

use crate::error::{ExtError, ExtResult};

/// The kinds of dropped object the DDL guard acts on; PostgreSQL's `object_type` texts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DroppedKind {
    /// A whole table (ordinary or partitioned): `object_type` `table`, `objsubid` 0.
    Table,
    /// A row-level security policy: `object_type` `policy`.
    Policy,
    /// Anything else (columns, indexes, triggers, views...).
    Other,
}

impl DroppedKind {
    fn of(classid: pg_sys::Oid, objsubid: i32, object_type: &str) -> Self {
        match object_type {
            "table" if classid == pg_sys::RelationRelationId && objsubid == 0 => Self::Table,
            "policy" => Self::Policy,
            _ => Self::Other,
        }
    }
}

/// One row of `pg_event_trigger_dropped_objects()`, the columns the DDL guard reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DroppedObject {
    pub kind: DroppedKind,
    pub objid: pg_sys::Oid,
    /// `address_names`: for a policy, its table's schema, the table and the policy.
    pub address_names: Vec<String>,
}

/// The 1-based columns of `pg_event_trigger_dropped_objects()` read here (the same from
/// PostgreSQL 9.6 to 18: classid, objid, objsubid, original, normal, is_temporary,
/// object_type, schema_name, object_name, object_identity, address_names, address_args).
const CLASSID: usize = 0;
const OBJID: usize = 1;
const OBJSUBID: usize = 2;
const OBJECT_TYPE: usize = 6;
const ADDRESS_NAMES: usize = 10;
const COLUMNS: usize = 12;

/// Frees what [`dropped_objects`] allocated, on every exit but an ERROR (whose abort frees the
/// memory and the tuplestore's temporary file with the transaction's resources).
struct Materialized {
    econtext: *mut pg_sys::ExprContext,
    store: *mut pg_sys::Tuplestorestate,
    slot: *mut pg_sys::TupleTableSlot,
}

impl Drop for Materialized {
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        // SAFETY: each pointer was made by `dropped_objects` and is freed once, here.
        unsafe {
            if !self.slot.is_null() {
                pg_sys::ExecDropSingleTupleTableSlot(self.slot);
            }
            if !self.store.is_null() {
                pg_sys::tuplestore_end(self.store);
            }
            pg_sys::FreeExprContext(self.econtext, true);
        }
    }
}

/// The objects the running `sql_drop` event is about. Outside a `sql_drop` event trigger the
/// built-in function raises its own error ("... can only be called in a sql_drop event
/// trigger function").
pub fn dropped_objects() -> ExtResult<Vec<DroppedObject>> {
    let function = pg_sys::Oid::from(pg_sys::F_PG_EVENT_TRIGGER_DROPPED_OBJECTS);
    // SAFETY: the calling convention of a materialize-mode set-returning function, as
    // ExecMakeTableFunctionResult sets it up: an FmgrInfo looked up by OID (its result row type
    // comes from pg_proc), a ReturnSetInfo allowing SFRM_Materialize with an expression context
    // whose memory holds the tuplestore. The tuplestore and its descriptor are read before
    // anything else runs; the slot is made for that descriptor.
    unsafe {
        let mut flinfo = pg_sys::FmgrInfo::default();
        pg_sys::fmgr_info(function, &mut flinfo);
        let mut materialized = Materialized {
            econtext: pg_sys::CreateStandaloneExprContext(),
            store: std::ptr::null_mut(),
            slot: std::ptr::null_mut(),
        };
        let mut rsinfo = pg_sys::ReturnSetInfo {
            type_: pg_sys::NodeTag::T_ReturnSetInfo,
            econtext: materialized.econtext,
            allowedModes: pg_sys::SetFunctionReturnMode::SFRM_Materialize as i32,
            returnMode: pg_sys::SetFunctionReturnMode::SFRM_ValuePerCall,
            ..Default::default()
        };
        let mut fcinfo = pg_sys::FunctionCallInfoBaseData {
            flinfo: &mut flinfo,
            resultinfo: (&mut rsinfo as *mut pg_sys::ReturnSetInfo).cast(),
            fncollation: pg_sys::Oid::INVALID,
            nargs: 0,
            ..Default::default()
        };
        pg_sys::pg_event_trigger_dropped_objects(&mut fcinfo);
        materialized.store = rsinfo.setResult;
        let desc = rsinfo.setDesc;
        if rsinfo.returnMode != pg_sys::SetFunctionReturnMode::SFRM_Materialize
            || desc.is_null()
            || usize::try_from((*desc).natts).unwrap_or(0) < COLUMNS
        {
            return Err(ExtError::ResultType(
                "pg_event_trigger_dropped_objects() returned no table of the expected shape".into(),
            ));
        }
        if materialized.store.is_null() {
            return Ok(Vec::new());
        }
        materialized.slot = pg_sys::MakeSingleTupleTableSlot(desc, &pg_sys::TTSOpsMinimalTuple);
        let mut out = Vec::new();
        while pg_sys::tuplestore_gettupleslot(materialized.store, true, false, materialized.slot) {
            pg_sys::slot_getallattrs(materialized.slot);
            // The slot's arrays hold `natts` (at least COLUMNS, checked above) entries; the
            // datums point into the tuplestore's current tuple and are copied out before the
            // next one is fetched.
            let slot = &*materialized.slot;
            let values = std::slice::from_raw_parts(slot.tts_values, COLUMNS);
            let nulls = std::slice::from_raw_parts(slot.tts_isnull, COLUMNS);
            let column = |i: usize| (values[i], nulls[i]);
            let oid = |i: usize| {
                pg_sys::Oid::from_datum(column(i).0, column(i).1).unwrap_or(pg_sys::Oid::INVALID)
            };
            let objsubid = i32::from_datum(column(OBJSUBID).0, column(OBJSUBID).1).unwrap_or(0);
            let object_type = String::from_datum(column(OBJECT_TYPE).0, column(OBJECT_TYPE).1)
                .unwrap_or_default();
            out.push(DroppedObject {
                kind: DroppedKind::of(oid(CLASSID), objsubid, &object_type),
                objid: oid(OBJID),
                address_names: Vec::<Option<String>>::from_datum(
                    column(ADDRESS_NAMES).0,
                    column(ADDRESS_NAMES).1,
                )
                .unwrap_or_default()
                .into_iter()
                .map(Option::unwrap_or_default)
                .collect(),
            });
        }
        Ok(out)
    }
}
