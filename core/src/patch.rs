//! The patch model (docs/api/apply_patch.md) and its parser/validator: JSON in, typed [`Patch`] out, or a
//! 22023 [`Error::InvalidPatch`] naming the op index. Shape only: nothing here looks at the
//! document (that is [`crate::engine`]).

use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::text::Edit;

/// Keys, kinds and document ids are 1..=200 bytes (docs/concepts.md).
pub const MAX_NAME_BYTES: usize = 200;
/// The root's key.
pub const ROOT: &str = "root";

/// Limits applied while parsing; the pgrx layer fills them from GUCs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// `nodesync.max_ops_per_patch`
    pub max_ops: usize,
    /// `nodesync.max_props_bytes`: a node's props as jsonb text. The parser rejects a `create`
    /// whose props' compact JSON is already longer; the exact check is where props are written.
    pub max_props_bytes: usize,
    /// `nodesync.max_key_bytes`: keys of created nodes (at most [`MAX_NAME_BYTES`]).
    pub max_key_bytes: usize,
    /// `nodesync.max_depth`: the root is at depth 0; a node may be at most this deep.
    pub max_depth: usize,
    /// `nodesync.max_nodes`: live nodes per document, checked when a patch adds nodes
    /// ([`crate::prepare::check_growth`]).
    pub max_nodes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_ops: 10_000, max_props_bytes: 1 << 20, max_key_bytes: MAX_NAME_BYTES, max_depth: 1_000, max_nodes: 10_000_000 }
    }
}

/// Where a created or moved node goes among its new siblings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    /// No `after`: last child.
    Last,
    /// `"after": null`: first child.
    First,
    /// `"after": "k"`: right after sibling `k`.
    After(String),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    Create { key: String, kind: String, props: Map<String, Value>, parent: String, place: Place },
    Update { key: String, version: i64, kind: Option<String>, props: Option<Map<String, Value>> },
    Move { key: String, version: i64, parent: String, place: Place },
    Delete { key: String, version: i64 },
    /// Splices of the string property `prop` (code points), applied in order.
    Text { key: String, version: i64, prop: String, edits: Vec<Edit> },
    /// `key` keeps the first `at` code points of `prop`; node `new` (right after it, same kind,
    /// a copy of the other props) gets the rest.
    Split { key: String, version: i64, prop: String, at: usize, new: String },
    /// `next` (the next sibling) is appended to `key`: its `prop` text, then its children; then
    /// `next` is deleted.
    Join { key: String, version: i64, next: String, next_version: i64, prop: String },
}

impl Op {
    pub fn key(&self) -> &str {
        match self {
            Op::Create { key, .. }
            | Op::Update { key, .. }
            | Op::Move { key, .. }
            | Op::Delete { key, .. }
            | Op::Text { key, .. }
            | Op::Split { key, .. }
            | Op::Join { key, .. } => key,
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Op::Create { .. } => "create",
            Op::Update { .. } => "update",
            Op::Move { .. } => "move",
            Op::Delete { .. } => "delete",
            Op::Text { .. } => "text",
            Op::Split { .. } => "split",
            Op::Join { .. } => "join",
        }
    }

    /// The version the op was based on (`None` for `create`).
    pub fn version(&self) -> Option<i64> {
        match self {
            Op::Create { .. } => None,
            Op::Update { version, .. }
            | Op::Move { version, .. }
            | Op::Delete { version, .. }
            | Op::Text { version, .. }
            | Op::Split { version, .. }
            | Op::Join { version, .. } => Some(*version),
        }
    }

    /// The op as JSON, in the wire format [`parse`] reads.
    pub fn to_json(&self) -> Value {
        let mut o = Map::new();
        o.insert("op".into(), Value::from(self.name()));
        o.insert("key".into(), Value::from(self.key()));
        if let Some(v) = self.version() {
            o.insert("version".into(), Value::from(v));
        }
        let place = |o: &mut Map<String, Value>, place: &Place| match place {
            Place::Last => {}
            Place::First => {
                o.insert("after".into(), Value::Null);
            }
            Place::After(a) => {
                o.insert("after".into(), Value::from(a.as_str()));
            }
        };
        match self {
            Op::Create { kind, props, parent, place: p, .. } => {
                o.insert("kind".into(), Value::from(kind.as_str()));
                o.insert("props".into(), Value::Object(props.clone()));
                o.insert("parent".into(), Value::from(parent.as_str()));
                place(&mut o, p);
            }
            Op::Update { kind, props, .. } => {
                if let Some(k) = kind {
                    o.insert("kind".into(), Value::from(k.as_str()));
                }
                if let Some(p) = props {
                    o.insert("props".into(), Value::Object(p.clone()));
                }
            }
            Op::Move { parent, place: p, .. } => {
                o.insert("parent".into(), Value::from(parent.as_str()));
                place(&mut o, p);
            }
            Op::Delete { .. } => {}
            Op::Text { prop, edits, .. } => {
                o.insert("prop".into(), Value::from(prop.as_str()));
                o.insert("edits".into(), Value::Array(edits.iter().map(Edit::to_json).collect()));
            }
            Op::Split { prop, at, new, .. } => {
                o.insert("prop".into(), Value::from(prop.as_str()));
                o.insert("at".into(), Value::from(*at));
                o.insert("new".into(), Value::from(new.as_str()));
            }
            Op::Join { next, next_version, prop, .. } => {
                o.insert("next".into(), Value::from(next.as_str()));
                o.insert("next_version".into(), Value::from(*next_version));
                o.insert("prop".into(), Value::from(prop.as_str()));
            }
        }
        Value::Object(o)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Patch {
    /// The generation the client's view was at.
    pub base: Option<i64>,
    pub ops: Vec<Op>,
}

impl Patch {
    pub fn to_json(&self) -> Value {
        let mut o = Map::new();
        if let Some(b) = self.base {
            o.insert("base".into(), Value::from(b));
        }
        o.insert("ops".into(), Value::Array(self.ops.iter().map(Op::to_json).collect()));
        Value::Object(o)
    }
}

/// Validates a name (key, kind or document id): 1..=200 bytes.
pub fn check_name(what: &str, s: &str) -> std::result::Result<(), String> {
    if s.is_empty() {
        return Err(format!("{what} is empty"));
    }
    if s.len() > MAX_NAME_BYTES {
        return Err(format!("{what} is {} bytes long, the limit is {MAX_NAME_BYTES}", s.len()));
    }
    Ok(())
}

/// The deepest nesting of arrays and objects a JSON argument may have: serde_json (which
/// reads every argument, with exact numbers) stops at 128.
pub const MAX_JSON_DEPTH: usize = 127;

/// How deeply arrays and objects nest in the JSON text `text` (brackets inside strings do not
/// count). Checked before parsing, so that too deep input is a clean 22023.
pub fn nesting_depth(text: &str) -> usize {
    let (mut depth, mut max, mut in_string, mut escaped) = (0usize, 0usize, false, false);
    for b in text.bytes() {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                max = max.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

/// A short, safe rendering of a caller's string for messages: [`shorten_to`] 40 characters.
pub fn shorten(s: &str) -> String {
    shorten_to(s, 40)
}

/// `s` cut to its first `max` characters (code points), with `…` where it was cut (for
/// messages: the server's, the clients', the test tools').
pub fn shorten_to(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max).collect();
        t.push('…');
        t
    }
}

/// A number in `v` that no IEEE double can hold (like `1e400`), if any. Such numbers are
/// refused: jsonb would keep them, but most JSON readers (serde_json, JavaScript) then fail on
/// the whole document, so one writer could make a document unreadable for everybody else.
/// Numbers inside the range are kept exactly, digit for digit.
pub fn out_of_range_number(v: &Value) -> Option<String> {
    let mut stack = vec![v];
    while let Some(v) = stack.pop() {
        match v {
            Value::Number(n) if n.as_f64().is_none_or(|f| !f.is_finite()) => return Some(n.to_string()),
            Value::Array(a) => stack.extend(a.iter()),
            Value::Object(o) => stack.extend(o.values()),
            _ => {}
        }
    }
    None
}

/// "a string", "a number", ...: the JSON type of `v`, for messages.
pub fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Parses and validates a patch. Errors are 22023 ([`Error::InvalidPatch`]) or
/// [`Error::Limit`] naming the GUC.
pub fn parse(v: &Value, limits: &Limits) -> Result<Patch> {
    let obj = v
        .as_object()
        .ok_or_else(|| Error::invalid_patch(format!("a patch is a JSON object, got {}", type_name(v))))?;
    for k in obj.keys() {
        if k != "base" && k != "ops" {
            return Err(Error::invalid_patch(format!(
                "unknown field \"{}\" (a patch has \"base\" and \"ops\")",
                shorten(k)
            )));
        }
    }
    let base = match obj.get("base") {
        None | Some(Value::Null) => None,
        Some(b) => match b.as_i64() {
            Some(b) if b >= 0 => Some(b),
            _ => {
                return Err(Error::invalid_patch(format!(
                    "\"base\" must be a generation (an integer >= 0), got {b}"
                )))
            }
        },
    };
    let ops_v = obj
        .get("ops")
        .ok_or_else(|| Error::invalid_patch("missing \"ops\" (a list of ops, possibly empty)"))?;
    let ops_a = ops_v
        .as_array()
        .ok_or_else(|| Error::invalid_patch(format!("\"ops\" must be an array, got {}", type_name(ops_v))))?;
    if ops_a.len() > limits.max_ops {
        return Err(Error::limit("nodesync.max_ops_per_patch", limits.max_ops, ops_a.len(), "patch has", " ops"));
    }
    let ops = ops_a
        .iter()
        .enumerate()
        .map(|(i, o)| parse_op(i, o, limits))
        .collect::<Result<Vec<_>>>()?;
    // each edit of a text op counts as an op: the work of a patch stays bounded by the limit
    let units: usize = ops.iter().map(|o| if let Op::Text { edits, .. } = o { edits.len() } else { 1 }).sum();
    if units > limits.max_ops {
        return Err(Error::limit("nodesync.max_ops_per_patch", limits.max_ops, units, "patch has", " ops (each text edit counts as one)"));
    }
    Ok(Patch { base, ops })
}

struct Fields<'a> {
    i: usize,
    op: &'a str,
    obj: &'a Map<String, Value>,
}

impl<'a> Fields<'a> {
    fn err(&self, msg: String) -> Error {
        Error::invalid_op(self.i, format!("{} {msg}", self.op))
    }

    fn allow(&self, allowed: &[&str]) -> Result<()> {
        for k in self.obj.keys() {
            if !allowed.contains(&k.as_str()) {
                return Err(self.err(format!(
                    "has unknown field \"{}\" (allowed: {})",
                    shorten(k),
                    allowed.join(", ")
                )));
            }
        }
        Ok(())
    }

    fn name(&self, field: &str) -> Result<String> {
        match self.obj.get(field) {
            None => Err(self.err(format!("needs \"{field}\""))),
            Some(Value::String(s)) => {
                check_name(field, s).map_err(|m| self.err(m))?;
                Ok(s.clone())
            }
            Some(v) => Err(self.err(format!("\"{field}\" must be a string, got {}", type_name(v)))),
        }
    }

    fn opt_name(&self, field: &str) -> Result<Option<String>> {
        match self.obj.get(field) {
            None => Ok(None),
            Some(_) => self.name(field).map(Some),
        }
    }

    fn version(&self) -> Result<i64> {
        self.version_field("version")
    }

    fn version_field(&self, field: &str) -> Result<i64> {
        match self.obj.get(field) {
            None => Err(self.err(format!("needs \"{field}\" (the node's version the op is based on)"))),
            Some(v) => match v.as_i64() {
                Some(n) if n >= 1 => Ok(n),
                _ => Err(self.err(format!("\"{field}\" must be an integer >= 1, got {}", shorten(&v.to_string())))),
            },
        }
    }

    /// A property name: 1..=200 bytes, like a key.
    fn prop(&self) -> Result<String> {
        self.name("prop")
    }

    fn count(&self, field: &str) -> Result<usize> {
        match self.obj.get(field) {
            None => Err(self.err(format!("needs \"{field}\" (a code point offset)"))),
            Some(v) => v
                .as_u64()
                .and_then(|n| usize::try_from(n).ok())
                .ok_or_else(|| self.err(format!("\"{field}\" must be an integer >= 0, got {}", shorten(&v.to_string())))),
        }
    }

    fn edits(&self) -> Result<Vec<Edit>> {
        let a = match self.obj.get("edits") {
            None => return Err(self.err("needs \"edits\" (a non-empty list of [at, delete, insert])".into())),
            Some(Value::Array(a)) => a,
            Some(v) => return Err(self.err(format!("\"edits\" must be an array, got {}", type_name(v)))),
        };
        if a.is_empty() {
            return Err(self.err("has an empty \"edits\" list (send at least one [at, delete, insert])".into()));
        }
        a.iter()
            .enumerate()
            .map(|(j, e)| Edit::from_json(e).map_err(|m| self.err(format!("edit {j}: {m}"))))
            .collect()
    }

    fn not_root(&self, key: &str, what: &str) -> Result<()> {
        if key == ROOT {
            return Err(self.err(format!("cannot {what} the root")));
        }
        Ok(())
    }

    fn place(&self) -> Result<Place> {
        match self.obj.get("after") {
            None => Ok(Place::Last),
            Some(Value::Null) => Ok(Place::First),
            Some(Value::String(s)) => {
                check_name("after", s).map_err(|m| self.err(m))?;
                Ok(Place::After(s.clone()))
            }
            Some(v) => Err(self.err(format!("\"after\" must be a key or null, got {}", type_name(v)))),
        }
    }

    fn props(&self, limits: &Limits) -> Result<Option<Map<String, Value>>> {
        match self.obj.get("props") {
            None => Ok(None),
            Some(Value::Object(m)) => {
                if let Some(n) = out_of_range_number(&Value::Object(m.clone())) {
                    return Err(self.err(format!(
                        "props hold the number {}, outside the range of a double (about ±1.8e308)",
                        shorten(&n)
                    )));
                }
                // the values this op stores, as compact JSON: a lower bound of the node's
                // props as jsonb text, which commit::commit checks exactly
                let stored: Map<String, Value> = m.iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (k.clone(), v.clone())).collect();
                let bytes = Value::Object(stored).to_string().len();
                if bytes > limits.max_props_bytes {
                    let key = shorten(self.obj.get("key").and_then(Value::as_str).unwrap_or("?"));
                    return Err(Error::props_limit(format!("op {}: props of \"{key}\" are", self.i), bytes, limits.max_props_bytes));
                }
                Ok(Some(m.clone()))
            }
            Some(v) => Err(self.err(format!("\"props\" must be an object, got {}", type_name(v)))),
        }
    }
}

const OPS: &str = "create, update, move, delete, text, split or join";

fn parse_op(i: usize, v: &Value, limits: &Limits) -> Result<Op> {
    let obj = v
        .as_object()
        .ok_or_else(|| Error::invalid_op(i, format!("an op is a JSON object, got {}", type_name(v))))?;
    let op = match obj.get("op") {
        Some(Value::String(s)) => s.as_str(),
        Some(v) => return Err(Error::invalid_op(i, format!("\"op\" must be a string, got {}", type_name(v)))),
        None => return Err(Error::invalid_op(i, format!("missing \"op\" ({OPS})"))),
    };
    let f = Fields { i, op, obj };
    match op {
        "create" => {
            f.allow(&["op", "key", "kind", "props", "parent", "after"])?;
            let key = f.name("key")?;
            if key.len() > limits.max_key_bytes {
                let what = format!("op {i}: key \"{}\" is", shorten(&key));
                return Err(Error::limit("nodesync.max_key_bytes", limits.max_key_bytes, key.len(), what, " bytes"));
            }
            let kind = f.name("kind")?;
            let parent = f.name("parent")?;
            let place = f.place()?;
            if place == Place::After(key.clone()) {
                return Err(f.err(format!("\"{}\" cannot be placed after itself", shorten(&key))));
            }
            let mut props = f.props(limits)?.unwrap_or_default();
            // null means "no such property" everywhere: it is never stored.
            props.retain(|_, v| !v.is_null());
            Ok(Op::Create { key, kind, props, parent, place })
        }
        "update" => {
            f.allow(&["op", "key", "version", "kind", "props"])?;
            let key = f.name("key")?;
            let version = f.version()?;
            let kind = f.opt_name("kind")?;
            let props = f.props(limits)?;
            Ok(Op::Update { key, version, kind, props })
        }
        "move" => {
            f.allow(&["op", "key", "version", "parent", "after"])?;
            let key = f.name("key")?;
            if key == ROOT {
                return Err(f.err("cannot move the root".into()));
            }
            let version = f.version()?;
            let parent = f.name("parent")?;
            let place = f.place()?;
            if place == Place::After(key.clone()) {
                return Err(f.err(format!("\"{}\" cannot be placed after itself", shorten(&key))));
            }
            Ok(Op::Move { key, version, parent, place })
        }
        "delete" => {
            f.allow(&["op", "key", "version"])?;
            let key = f.name("key")?;
            if key == ROOT {
                return Err(f.err("cannot delete the root (drop the document with nodesync.drop_doc)".into()));
            }
            let version = f.version()?;
            Ok(Op::Delete { key, version })
        }
        "text" => {
            f.allow(&["op", "key", "version", "prop", "edits"])?;
            let key = f.name("key")?;
            let version = f.version()?;
            let prop = f.prop()?;
            let edits = f.edits()?;
            Ok(Op::Text { key, version, prop, edits })
        }
        "split" => {
            f.allow(&["op", "key", "version", "prop", "at", "new"])?;
            let key = f.name("key")?;
            f.not_root(&key, "split")?;
            let version = f.version()?;
            let prop = f.prop()?;
            let at = f.count("at")?;
            let new = f.name("new")?;
            if new.len() > limits.max_key_bytes {
                let what = format!("op {i}: key \"{}\" is", shorten(&new));
                return Err(Error::limit("nodesync.max_key_bytes", limits.max_key_bytes, new.len(), what, " bytes"));
            }
            if new == key {
                return Err(f.err(format!("\"new\" must be a new key, not \"{}\" itself", shorten(&key))));
            }
            Ok(Op::Split { key, version, prop, at, new })
        }
        "join" => {
            f.allow(&["op", "key", "version", "next", "next_version", "prop"])?;
            let key = f.name("key")?;
            f.not_root(&key, "join")?;
            let version = f.version()?;
            let next = f.name("next")?;
            f.not_root(&next, "join")?;
            if next == key {
                return Err(f.err(format!("cannot join \"{}\" with itself", shorten(&key))));
            }
            let next_version = f.version_field("next_version")?;
            let prop = f.prop()?;
            Ok(Op::Join { key, version, next, next_version, prop })
        }
        other => Err(Error::invalid_op(
            i,
            format!("unknown op \"{}\" ({OPS})", shorten(other)),
        )),
    }
}

#[cfg(test)]
mod tests;
