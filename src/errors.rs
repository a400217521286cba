//! The one place where `nodesync_core::Error` becomes a Postgres error: SQLSTATE, message,
//! DETAIL and HINT. Nothing else in the extension raises errors of its own.

use pgrx::pg_sys::panic::ErrorReport;
use pgrx::{PgLogLevel, PgSqlErrorCode};

use nodesync_core::{Error, SqlState};

fn code(s: SqlState) -> PgSqlErrorCode {
    match s {
        SqlState::SerializationFailure => PgSqlErrorCode::ERRCODE_T_R_SERIALIZATION_FAILURE,
        SqlState::InvalidParameterValue => PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
        SqlState::UndefinedObject => PgSqlErrorCode::ERRCODE_UNDEFINED_OBJECT,
        SqlState::UniqueViolation => PgSqlErrorCode::ERRCODE_UNIQUE_VIOLATION,
        SqlState::ObjectNotInPrerequisiteState => PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
        SqlState::InternalError => PgSqlErrorCode::ERRCODE_INTERNAL_ERROR,
    }
}

/// Raises `e` as an ERROR. Rust values on the stack are dropped as the error unwinds.
pub fn raise(e: Error) -> ! {
    let mut r = ErrorReport::new(code(e.sqlstate()), e.to_string(), "pg_nodesync");
    if let Some(d) = e.detail() {
        r = r.set_detail(d);
    }
    if let Some(h) = e.hint() {
        r = r.set_hint(h);
    }
    r.report(PgLogLevel::ERROR);
    unreachable!("ERROR does not return")
}

/// `result.or_raise()`: the value, or the error raised.
pub trait OrRaise<T> {
    fn or_raise(self) -> T;
}

impl<T> OrRaise<T> for Result<T, Error> {
    fn or_raise(self) -> T {
        match self {
            Ok(v) => v,
            Err(e) => raise(e),
        }
    }
}

/// SPI failures that pgrx reports as values (not Postgres errors, which propagate by
/// themselves) are internal errors.
pub fn spi(e: pgrx::spi::SpiError) -> Error {
    Error::Internal(format!("SPI: {e}"))
}
