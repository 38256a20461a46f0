//! Argument types the contract names that pgrx has no Rust type for: `regclass` and `name`.

use std::ffi::CStr;

use pgrx::callconv::{Arg, ArgAbi};
use pgrx::prelude::*;
use pgrx::{pg_sys, FromDatum, IntoDatum};

/// Both types unbox through `FromDatum`, like pgrx's own scalar types.
macro_rules! arg_from_datum {
    ($($ty:ty),*) => {$(
        unsafe impl<'fcx> ArgAbi<'fcx> for $ty {
            unsafe fn unbox_arg_unchecked(arg: Arg<'_, 'fcx>) -> Self {
                let index = arg.index();
                unsafe { arg.unbox_arg_using_from_datum() }
                    .unwrap_or_else(|| panic!("argument {index} must not be null"))
            }
        }
    )*};
}

/// A `regclass` argument: the table's oid, resolved by Postgres from a name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RegClass(pub pg_sys::Oid);

impl FromDatum for RegClass {
    unsafe fn from_polymorphic_datum(
        datum: pg_sys::Datum,
        is_null: bool,
        typoid: pg_sys::Oid,
    ) -> Option<Self> {
        pg_sys::Oid::from_polymorphic_datum(datum, is_null, typoid).map(RegClass)
    }
}

impl IntoDatum for RegClass {
    fn into_datum(self) -> Option<pg_sys::Datum> {
        self.0.into_datum()
    }

    fn type_oid() -> pg_sys::Oid {
        pg_sys::REGCLASSOID
    }
}

impl_sql_translatable!(RegClass, "regclass");

/// A `name` argument (an identifier, at most 63 bytes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SqlName(pub String);

impl FromDatum for SqlName {
    unsafe fn from_polymorphic_datum(
        datum: pg_sys::Datum,
        is_null: bool,
        _typoid: pg_sys::Oid,
    ) -> Option<Self> {
        if is_null {
            return None;
        }
        // SAFETY: a `name` datum points to a NUL-terminated NameData.
        let name = CStr::from_ptr(datum.cast_mut_ptr::<std::ffi::c_char>());
        Some(SqlName(name.to_string_lossy().into_owned()))
    }
}

impl_sql_translatable!(SqlName, arg_only = "name");

arg_from_datum!(RegClass, SqlName);
