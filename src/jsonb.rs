//! `jsonb` arguments as JSON text. pgrx's `JsonB` parses the argument into a
//! `serde_json::Value` itself and panics on what it cannot read; the write functions need the
//! text instead, parsed once by `api::json_arg` with exact numbers and a clean 22023 for JSON
//! nested too deep. [`JsonbText`] is that text: `jsonb_out` of the datum, nothing else. With
//! it, `nodesync.apply_patch` is the C function itself, with no SQL wrapper to run per call.

use std::ffi::CStr;

use pgrx::callconv::{Arg, ArgAbi};
use pgrx::fcinfo::direct_function_call;
use pgrx::pg_sys;
use pgrx::FromDatum;

/// A `jsonb` argument as its text form.
pub struct JsonbText(pub String);

impl FromDatum for JsonbText {
    unsafe fn from_polymorphic_datum(datum: pg_sys::Datum, is_null: bool, _: pg_sys::Oid) -> Option<Self> {
        if is_null {
            return None;
        }
        // SAFETY: the argument is a jsonb datum (the function's SQL signature says so);
        // jsonb_out detoasts it and returns a palloc'd C string, never NULL.
        let text: Option<&CStr> = unsafe { direct_function_call(pg_sys::jsonb_out, &[Some(datum)]) };
        text.map(|t| JsonbText(t.to_string_lossy().into_owned()))
    }
}

// SAFETY: arguments are unboxed through FromDatum above, like pgrx's own types.
unsafe impl<'fcx> ArgAbi<'fcx> for JsonbText {
    unsafe fn unbox_arg_unchecked(arg: Arg<'_, 'fcx>) -> Self {
        let index = arg.index();
        // SAFETY: as for every FromDatum argument; NULL is handled by Option<JsonbText>
        unsafe { arg.unbox_arg_using_from_datum() }.unwrap_or_else(|| panic!("argument {index} must not be null"))
    }
}

// the SQL type is jsonb, which FromDatum above reads (arguments only)
pgrx::impl_sql_translatable!(JsonbText, arg_only = "jsonb");
