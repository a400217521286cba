//! pg_nodesync's pure core: everything that decides *what* a patch means, tested without
//! Postgres. The pgrx crate at the repository root only converts arguments, runs SPI and maps
//! [`error::Error`] to SQLSTATEs.
//!
//! - [`patch`]: the patch model, parser and validator (docs/api/apply_patch.md, invalid patches)
//! - [`engine`]: op semantics and conflict rules against a [`store::Store`]
//! - [`pos`]: fractional position keys
//! - [`prepare`]: the rules around the engine: base, empty patch, the live-node limit, the result shape
//! - [`text`]: splices of string properties in code points (the `text`, `split`, `join` ops)
//! - [`ot`]: operational transform of text edits (transform, compose, diff, caret mapping) for clients
//! - [`tree`]: nested snapshot JSON from node rows
//! - [`history`]: undo entries, the history a commit keeps, and rewinding node states through them
//! - [`reference`] and [`memstore`] (feature `testing`, never in the extension's build): a
//!   naive, obviously-correct reference model of SPEC and an in-memory [`store::Store`], for
//!   property tests
//! - [`error`]: the one error enum and its SQLSTATEs

pub mod engine;
pub mod error;
pub mod history;
#[cfg(feature = "ot")]
pub mod ot;
pub mod patch;
pub mod pos;
pub mod prepare;
pub mod store;
pub mod text;
pub mod tree;

#[cfg(any(test, feature = "testing"))]
pub mod memstore;
#[cfg(any(test, feature = "testing"))]
pub mod reference;

pub use error::{Conflict, Error, Reason, Result, SqlState};
pub use patch::{Limits, Op, Patch, Place};
