//! The one error type of pg_nodesync. Every failure a caller can cause is a variant here;
//! the pgrx layer maps each variant once to SQLSTATE + message + DETAIL (`src/errors.rs`).

use std::fmt;

use serde_json::{json, Value};

/// Why a single op of a patch was refused (docs/api/apply_patch.md, "Conflicts").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    /// `update`/`move`/`delete` named a version that is not the node's current one.
    Version,
    /// `create` of a key that exists or existed (keys are never reused).
    Exists,
    /// The node, parent or anchor does not exist (any more).
    Missing,
    /// `after` names a node that is not a child of that parent.
    Anchor,
    /// A `move` would put a node under its own descendant.
    Cycle,
    /// `delete` with `base`, and a node inside the subtree changed after `base`.
    Subtree,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Version => "version",
            Reason::Exists => "exists",
            Reason::Missing => "missing",
            Reason::Anchor => "anchor",
            Reason::Cycle => "cycle",
            Reason::Subtree => "subtree",
        }
    }
}

/// One refused op: `{"op": 1, "key": "p1", "reason": "version", "expected": 3, "actual": 5}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// 0-based index into `ops`.
    pub op: usize,
    /// The key the conflict is about (the op's node, or its parent/anchor for `missing`/`anchor`).
    pub key: String,
    pub reason: Reason,
    /// For `version`: the version the op named.
    pub expected: Option<i64>,
    /// For `version`: the node's current version. For `subtree`: the gen of the changed node.
    pub actual: Option<i64>,
    /// A sentence for people ("parent \"s9\" does not exist").
    pub note: String,
}

impl Conflict {
    pub fn to_json(&self) -> Value {
        let mut o = serde_json::Map::new();
        o.insert("op".into(), json!(self.op));
        o.insert("key".into(), json!(self.key));
        o.insert("reason".into(), json!(self.reason.as_str()));
        if let Some(e) = self.expected {
            o.insert("expected".into(), json!(e));
        }
        if let Some(a) = self.actual {
            o.insert("actual".into(), json!(a));
        }
        Value::Object(o)
    }
}

/// SQLSTATEs used by pg_nodesync (docs/api/README.md, "Errors").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SqlState {
    /// 40001 serialization_failure
    SerializationFailure,
    /// 22023 invalid_parameter_value
    InvalidParameterValue,
    /// 42704 undefined_object
    UndefinedObject,
    /// 23505 unique_violation
    UniqueViolation,
    /// 55000 object_not_in_prerequisite_state
    ObjectNotInPrerequisiteState,
    /// XX000 internal_error: a broken invariant in stored data, never caller input.
    InternalError,
}

impl SqlState {
    pub fn code(self) -> &'static str {
        match self {
            SqlState::SerializationFailure => "40001",
            SqlState::InvalidParameterValue => "22023",
            SqlState::UndefinedObject => "42704",
            SqlState::UniqueViolation => "23505",
            SqlState::ObjectNotInPrerequisiteState => "55000",
            SqlState::InternalError => "XX000",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Error {
    /// The patch JSON is malformed (docs/api/apply_patch.md, "Invalid patches"). `op` is the op index if any.
    InvalidPatch { op: Option<usize>, msg: String },
    /// Any error, in the context of one document (messages name it).
    InDoc { doc: String, err: Box<Error> },
    /// An error whose message names its document already ([`Error::names_doc`]):
    /// [`Error::in_doc`] leaves it as it is. Everything else is the inner error's.
    Named(Box<Error>),
    /// A function argument is invalid (NULL, empty id, gen out of range...).
    InvalidArgument(String),
    /// A configured limit (a GUC) was exceeded.
    Limit { guc: &'static str, limit: i64, actual: i64, what: String },
    /// No such document.
    UnknownDoc(String),
    /// `create_doc` of an existing document.
    DocExists(String),
    /// The patch conflicts with the current state. `gen` is the document's current gen.
    Conflict { doc: String, gen: i64, conflicts: Vec<Conflict> },
    /// `drop_doc` with a stale expected gen.
    GenMismatch { doc: String, expected: i64, actual: i64 },
    /// History below the horizon was asked for.
    BelowHorizon { doc: String, asked: i64, horizon: i64, what: &'static str },
    /// Stored data broke an invariant (should never happen; reported, never panicked on).
    Internal(String),
}

impl Error {
    pub fn invalid_op(op: usize, msg: impl Into<String>) -> Error {
        Error::InvalidPatch { op: Some(op), msg: msg.into() }
    }

    /// A limit GUC exceeded: `"{what}" {actual}{unit}, more than {guc} ({limit})`.
    pub fn limit(guc: &'static str, limit: usize, actual: usize, what: impl std::fmt::Display, unit: &str) -> Error {
        Error::Limit {
            guc,
            limit: limit as i64,
            actual: actual as i64,
            what: format!("{what} {actual}{unit}, more than {guc} ({limit})"),
        }
    }

    /// `nodesync.max_props_bytes` exceeded: `"{what} {bytes} bytes, more than ..."`.
    pub fn props_limit(what: impl std::fmt::Display, bytes: usize, limit: usize) -> Error {
        Error::limit("nodesync.max_props_bytes", limit, bytes, what, " bytes")
    }

    pub fn invalid_patch(msg: impl Into<String>) -> Error {
        Error::InvalidPatch { op: None, msg: msg.into() }
    }

    /// Names the document in the message of argument, patch and limit errors (not of those
    /// made with [`Error::names_doc`], whose message names it already).
    pub fn in_doc(self, doc: &str) -> Error {
        match self {
            e @ (Error::InvalidPatch { .. } | Error::InvalidArgument(_) | Error::Limit { .. }) => {
                Error::InDoc { doc: doc.to_string(), err: Box::new(e) }
            }
            e => e,
        }
    }

    /// Marks an error whose message already names its document, so that [`Error::in_doc`]
    /// does not name it a second time.
    pub fn names_doc(self) -> Error {
        match self {
            e @ (Error::Named(_) | Error::InDoc { .. }) => e,
            e => Error::Named(Box::new(e)),
        }
    }

    /// The error itself, seen through [`Error::Named`] and [`Error::InDoc`] (for the tests'
    /// matches; not part of the API).
    #[cfg(test)]
    pub(crate) fn inner(&self) -> &Error {
        match self {
            Error::Named(e) | Error::InDoc { err: e, .. } => e.inner(),
            e => e,
        }
    }

    pub fn sqlstate(&self) -> SqlState {
        match self {
            Error::InDoc { err, .. } | Error::Named(err) => err.sqlstate(),
            Error::InvalidPatch { .. } | Error::InvalidArgument(_) | Error::Limit { .. } => {
                SqlState::InvalidParameterValue
            }
            Error::UnknownDoc(_) => SqlState::UndefinedObject,
            Error::DocExists(_) => SqlState::UniqueViolation,
            Error::Conflict { .. } | Error::GenMismatch { .. } => SqlState::SerializationFailure,
            Error::BelowHorizon { .. } => SqlState::ObjectNotInPrerequisiteState,
            Error::Internal(_) => SqlState::InternalError,
        }
    }

    /// The DETAIL line: JSON for conflicts (docs/api/README.md, "Errors"), prose or nothing otherwise.
    pub fn detail(&self) -> Option<String> {
        match self {
            Error::InDoc { err, .. } | Error::Named(err) => err.detail(),
            Error::Conflict { gen, conflicts, .. } => Some(
                json!({"gen": gen, "conflicts": conflicts.iter().map(Conflict::to_json).collect::<Vec<_>>()})
                    .to_string(),
            ),
            Error::GenMismatch { expected, actual, .. } => {
                Some(json!({"gen": actual, "expected_gen": expected}).to_string())
            }
            Error::Limit { guc, limit, actual, .. } => {
                Some(format!("{actual} exceeds {guc} = {limit}"))
            }
            Error::BelowHorizon { horizon, .. } => {
                Some(format!("history is kept for generations after {horizon} only"))
            }
            _ => None,
        }
    }

    /// A HINT line, when there is something useful to do.
    pub fn hint(&self) -> Option<String> {
        match self {
            Error::InDoc { err, .. } | Error::Named(err) => err.hint(),
            Error::Conflict { .. } => Some(
                "fetch nodesync.diff_since(doc, your base gen), rebase the patch onto it and retry"
                    .into(),
            ),
            Error::Limit { guc, .. } => Some(format!("raise it with SET {guc} = ..., or split the work")),
            Error::BelowHorizon { .. } => Some("use nodesync.snapshot(doc) or nodesync.diff_since(doc, n), which resets".into()),
            _ => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InDoc { doc, err } => write!(f, "document \"{doc}\": {err}"),
            Error::Named(err) => write!(f, "{err}"),
            Error::InvalidPatch { op: Some(i), msg } => write!(f, "invalid patch: op {i}: {msg}"),
            Error::InvalidPatch { op: None, msg } => write!(f, "invalid patch: {msg}"),
            Error::InvalidArgument(msg) => f.write_str(msg),
            Error::Limit { what, .. } => f.write_str(what),
            Error::UnknownDoc(doc) => write!(f, "document \"{doc}\" does not exist"),
            Error::DocExists(doc) => write!(f, "document \"{doc}\" already exists"),
            Error::Conflict { doc, conflicts, .. } => {
                let n = conflicts.len();
                match conflicts.first() {
                    Some(c) => write!(
                        f,
                        "patch on document \"{doc}\" conflicts at op {} (key \"{}\"): {}{}",
                        c.op,
                        c.key,
                        c.note,
                        if n > 1 { format!(" (and {} more)", n - 1) } else { String::new() }
                    ),
                    None => write!(f, "patch on document \"{doc}\" conflicts"),
                }
            }
            Error::GenMismatch { doc, expected, actual } => write!(
                f,
                "document \"{doc}\" is at gen {actual}, not the expected gen {expected}"
            ),
            Error::BelowHorizon { doc, asked, horizon, what } => write!(
                f,
                "{what}: gen {asked} of document \"{doc}\" is below its horizon {horizon} (history was compacted)"
            ),
            Error::Internal(msg) => write!(f, "pg_nodesync internal error: {msg}"),
        }
    }
}

impl std::error::Error for Error {}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_doc_names_the_document_once() {
        let e = Error::invalid_op(1, "unknown op \"x\"").in_doc("d");
        assert_eq!(e.to_string(), "document \"d\": invalid patch: op 1: unknown op \"x\"");
        assert_eq!(e.sqlstate().code(), "22023");
        let named = Error::InvalidArgument("at_gen 0: document \"d\" starts at gen 1".into()).names_doc().in_doc("d");
        assert_eq!(named.to_string(), "at_gen 0: document \"d\" starts at gen 1");
        assert_eq!(named.sqlstate().code(), "22023");
        assert!(matches!(named.inner(), Error::InvalidArgument(_)));
        // named or not is said by the constructor, not guessed from the text
        let plain = Error::InvalidArgument("document \"d\" is mentioned".into()).in_doc("d");
        assert_eq!(plain.to_string(), "document \"d\": document \"d\" is mentioned");
        let conflict = Error::Conflict { doc: "d".into(), gen: 3, conflicts: vec![] }.in_doc("d");
        assert!(matches!(conflict, Error::Conflict { .. }));
    }
}
