//! Workload 7's replays through plain SQL calls: a trace edit turned into the ops of one patch
//! ([`ops_for`], in each [`Style`]) and a [`Replay`] that sends them, one patch per edit.

use std::time::Instant;

use postgres::Client;
use serde_json::{json, Value};

use super::{Replayed, Trace};
use crate::db;
use crate::profile::proc_cpu_secs;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Style {
    /// `text` splices, `split` for a newline, `join` for a deleted newline.
    TextOps,
    /// `update` with the paragraph's whole new text; `create`/`delete` for newlines.
    WholeValue,
    /// The whole-value edits through the floor's functions, one transaction per edit.
    Floor,
}

impl Style {
    pub(super) fn name(self) -> &'static str {
        match self {
            Style::TextOps => "text ops",
            Style::WholeValue => "whole-value updates",
            Style::Floor => "floor, whole-value",
        }
    }
}

/// The replayer's view of the document: paragraphs in order, with their key and version.
pub(super) struct Para {
    pub(super) key: String,
    pub(super) text: Vec<char>,
    pub(super) version: i64,
}

pub(super) struct Doc {
    pub(super) paras: Vec<Para>,
    next_key: usize,
}

impl Doc {
    /// (paragraph index, offset) of code point `at` of the whole text (newlines between
    /// paragraphs count one each); an offset at a paragraph's end stays in that paragraph.
    pub(super) fn locate(&self, mut at: usize) -> (usize, usize) {
        for (i, p) in self.paras.iter().enumerate() {
            if at <= p.text.len() {
                return (i, at);
            }
            at -= p.text.len() + 1;
        }
        let last = self.paras.len() - 1;
        (last, self.paras[last].text.len())
    }

    pub(super) fn fresh_key(&mut self) -> String {
        self.next_key += 1;
        format!("p{}", self.next_key)
    }

    pub(super) fn text(&self) -> String {
        self.paras.iter().map(|p| p.text.iter().collect::<String>()).collect::<Vec<_>>().join("\n")
    }
}

/// Turns one trace edit into the ops of one patch, and applies it to `doc`. Versions are the
/// ones before the patch; nodes created in the patch skip their checks (version 1).
fn ops_for(doc: &mut Doc, style: Style, at: usize, mut delete: usize, insert: &str) -> Vec<Value> {
    let style = if style == Style::Floor { Style::WholeValue } else { style };
    let mut ops = vec![];
    let mut touched: Vec<usize> = vec![];
    let (mut i, mut off) = doc.locate(at);
    // deletes: within a paragraph, then the newline at its end (a join with the next one)
    while delete > 0 {
        let room = doc.paras[i].text.len() - off;
        if room > 0 {
            let n = room.min(delete);
            doc.paras[i].text.drain(off..off + n);
            delete -= n;
            touched.push(i);
            if style == Style::TextOps {
                ops.push(json!({"op": "text", "key": doc.paras[i].key, "version": doc.paras[i].version.max(1), "prop": "text", "edits": [[off, n, ""]]}));
            }
        } else if i + 1 < doc.paras.len() {
            let next = doc.paras.remove(i + 1);
            if style == Style::TextOps {
                ops.push(json!({"op": "join", "key": doc.paras[i].key, "version": doc.paras[i].version.max(1), "next": next.key, "next_version": next.version.max(1), "prop": "text"}));
            } else if next.version > 0 {
                // (a paragraph created by this patch is simply never created)
                ops.push(json!({"op": "delete", "key": next.key, "version": next.version}));
            }
            doc.paras[i].text.extend(next.text);
            touched.push(i);
            delete -= 1;
        } else {
            break;
        }
    }
    // inserts: text, and a split at each newline
    for (j, seg) in insert.split('\n').enumerate() {
        if j > 0 {
            let key = doc.fresh_key();
            let tail: Vec<char> = doc.paras[i].text.split_off(off);
            if style == Style::TextOps {
                ops.push(json!({"op": "split", "key": doc.paras[i].key, "version": doc.paras[i].version.max(1), "prop": "text", "at": off, "new": key}));
            }
            touched.push(i);
            doc.paras.insert(i + 1, Para { key, text: tail, version: 0 });
            i += 1;
            off = 0;
        }
        if !seg.is_empty() {
            let n = seg.chars().count();
            doc.paras[i].text.splice(off..off, seg.chars());
            touched.push(i);
            if style == Style::TextOps {
                ops.push(json!({"op": "text", "key": doc.paras[i].key, "version": doc.paras[i].version.max(1), "prop": "text", "edits": [[off, 0, seg]]}));
            }
            off += n;
        }
    }
    if style == Style::WholeValue {
        // paragraphs new in this patch (version 0) are created with their final text, in
        // document order after their predecessor; the others get their whole new text
        for t in 0..doc.paras.len() {
            if doc.paras[t].version == 0 {
                let text: String = doc.paras[t].text.iter().collect();
                let after = doc.paras[t - 1].key.clone();
                ops.push(json!({"op": "create", "key": doc.paras[t].key, "kind": "para", "parent": "root", "after": after, "props": {"text": text}}));
            }
        }
        touched.sort_unstable();
        touched.dedup();
        for &t in &touched {
            let p = &doc.paras[t];
            if p.version > 0 {
                let text: String = p.text.iter().collect();
                ops.push(json!({"op": "update", "key": p.key, "version": p.version, "props": {"text": text}}));
            }
        }
    }
    ops
}

pub(super) const ROW_BYTES: &str = "SELECT (SELECT coalesce(sum(pg_column_size(t.*)), 0) FROM nodesync.tree t WHERE doc_id = d.id)
                              + (SELECT coalesce(sum(pg_column_size(c.*)), 0) FROM nodesync.change c WHERE doc_id = d.id)
                         FROM nodesync.documents d WHERE d.doc = $1";
const FLOOR_ROW_BYTES: &str = "SELECT (SELECT coalesce(sum(pg_column_size(n.*)), 0) FROM bench.floor_node n WHERE doc = $1)
                                    + (SELECT coalesce(sum(pg_column_size(l.*)), 0) FROM bench.floor_log l WHERE doc = $1)";

/// The trace's start text as the replayer's document, one paragraph per line (keys `p1`,
/// `p2`, ...), and the ops that create those paragraphs under the root.
pub(super) fn start(trace: &Trace) -> (Doc, Vec<Value>) {
    let mut d = Doc { paras: vec![], next_key: 0 };
    let mut ops = vec![];
    for line in trace.start.split('\n') {
        let key = d.fresh_key();
        ops.push(json!({"op": "create", "key": key, "kind": "para", "parent": "root", "props": {"text": line}}));
        d.paras.push(Para { key, text: line.chars().collect(), version: 1 });
    }
    (d, ops)
}

/// The text of pg_nodesync document `doc`: its root's paragraphs in order, joined with "\n".
pub(super) fn nodesync_text(c: &mut Client, doc: &str) -> String {
    c.query_one("SELECT coalesce(string_agg(props->>'text', E'\\n' ORDER BY pos COLLATE \"C\"), '') FROM nodesync.nodes($1) WHERE parent = 'root'", &[&doc])
        .expect("final text")
        .get(0)
}

/// A replay in progress: one document, one style. [`Replay::run`] plays a range of the trace's
/// edits, so two styles can be interleaved in chunks (machine noise then hits both alike).
pub(super) struct Replay<'t> {
    doc: String,
    trace: &'t Trace,
    style: Style,
    d: Doc,
    stmt: postgres::Statement,
    /// The floor's insert, update and delete.
    floor_stmts: [postgres::Statement; 3],
    done: usize,
    secs: f64,
    wal_bytes: f64,
    /// The backend of `c` (the connection [`Replay::run`] is given) and its CPU seconds in runs.
    pid: i32,
    backend_cpu: f64,
}

impl<'t> Replay<'t> {
    /// A new document `doc` holding the trace's start text, one paragraph per line.
    pub(super) fn new(c: &mut Client, doc: &str, trace: &'t Trace, style: Style) -> Replay<'t> {
        let (d, ops) = start(trace);
        if style == Style::Floor {
            c.execute("INSERT INTO bench.floor_doc VALUES ($1, 1)", &[&doc]).expect("floor document");
            for p in &d.paras {
                let text: String = p.text.iter().collect();
                c.execute("INSERT INTO bench.floor_node VALUES ($1, $2, 1, 1, $3)", &[&doc, &p.key, &json!({"text": text})]).expect("floor paragraph");
            }
        } else {
            c.execute("SELECT nodesync.create_doc($1)", &[&doc]).expect("create_doc");
            c.execute("SELECT nodesync.apply_patch($1, $2)", &[&doc, &json!({"ops": ops})]).expect("load the start text");
        }
        let stmt = c.prepare("SELECT nodesync.apply_patch($1, $2)").expect("prepare");
        let floor_stmts = ["SELECT bench.floor_insert($1, $2, $3)", "SELECT bench.floor_update($1, $2, $3, $4)", "SELECT bench.floor_delete($1, $2, $3)"]
            .map(|q| c.prepare(q).expect("prepare"));
        let pid: i32 = c.query_one("SELECT pg_backend_pid()", &[]).expect("backend pid").get(0);
        Replay { doc: doc.to_string(), trace, style, d, stmt, floor_stmts, done: 0, secs: 0.0, wal_bytes: 0.0, pid, backend_cpu: 0.0 }
    }

    /// One edit's ops through the floor's functions (in one transaction when there are several:
    /// Enter and the join of two paragraphs); the replayer's versions follow (each function adds
    /// one).
    fn floor(&mut self, c: &mut Client, ops: &[Value]) -> Result<(), postgres::Error> {
        if let [op] = ops {
            return self.floor_op(c, op);
        }
        c.batch_execute("BEGIN")?;
        for op in ops {
            if let Err(e) = self.floor_op(c, op) {
                c.batch_execute("ROLLBACK")?;
                return Err(e);
            }
        }
        c.batch_execute("COMMIT")
    }

    fn floor_op(&mut self, c: &mut Client, op: &Value) -> Result<(), postgres::Error> {
        let key = op["key"].as_str().unwrap_or_default();
        let v = op["version"].as_i64().unwrap_or(1);
        match op["op"].as_str() {
            Some("create") => c.execute(&self.floor_stmts[0], &[&self.doc, &key, &op["props"]])?,
            Some("update") => c.execute(&self.floor_stmts[1], &[&self.doc, &key, &v, &op["props"]])?,
            _ => c.execute(&self.floor_stmts[2], &[&self.doc, &key, &v])?,
        };
        if let Some(p) = self.d.paras.iter_mut().find(|p| p.key == key) {
            p.version = if op["op"] == "create" { 1 } else { p.version + 1 };
        }
        Ok(())
    }

    /// Plays the next `n` edits (fewer at the end of the trace), one patch per edit; returns
    /// the seconds they took.
    pub(super) fn run(&mut self, c: &mut Client, n: usize) -> f64 {
        let lsn = db::wal_lsn(c);
        let cpu0 = proc_cpu_secs(self.pid);
        let t0 = Instant::now();
        let end = (self.done + n).min(self.trace.edits.len());
        for k in self.done..end {
            let (at, del, ins) = &self.trace.edits[k];
            let ops = ops_for(&mut self.d, self.style, *at, *del, ins);
            if ops.is_empty() {
                continue;
            }
            if self.style == Style::Floor {
                self.floor(c, &ops).unwrap_or_else(|e| panic!("trace edit {k} (floor): {e}"));
                continue;
            }
            let r: Value = c.query_one(&self.stmt, &[&self.doc, &json!({"ops": ops})]).unwrap_or_else(|e| panic!("trace edit {k}: {e}")).get(0);
            if let Some(vs) = r["versions"].as_object() {
                for p in self.d.paras.iter_mut() {
                    if let Some(v) = vs.get(&p.key).and_then(Value::as_i64) {
                        p.version = v;
                    }
                }
            }
        }
        let secs = t0.elapsed().as_secs_f64();
        self.secs += secs;
        self.backend_cpu += proc_cpu_secs(self.pid) - cpu0;
        self.wal_bytes += db::wal_since(c, &lsn);
        self.done = end;
        secs
    }

    /// Checks the server's text against the replayer's and measures what the document keeps.
    pub(super) fn finish(self, c: &mut Client) -> Replayed {
        let floor = self.style == Style::Floor;
        let row_bytes: i64 = c.query_one(if floor { FLOOR_ROW_BYTES } else { ROW_BYTES }, &[&self.doc]).expect("row bytes").get(0);
        let server: String = if floor {
            // the floor keeps no order: the paragraphs in the replayer's order
            let keys: Vec<String> = self.d.paras.iter().map(|p| p.key.clone()).collect();
            c.query_one(
                "SELECT coalesce(string_agg(n.props->>'text', E'\\n' ORDER BY k.i), '') FROM unnest($2::text[]) WITH ORDINALITY AS k(key, i)
                   JOIN bench.floor_node n ON n.doc = $1 AND n.key = k.key",
                &[&self.doc, &keys],
            )
            .expect("final text")
            .get(0)
        } else {
            nodesync_text(c, &self.doc)
        };
        assert_eq!(server, self.d.text(), "trace {}: the server's text differs from the replayer's", self.trace.name);
        Replayed {
            edits: self.done,
            secs: self.secs,
            wal_bytes: self.wal_bytes,
            backend_cpu: self.backend_cpu,
            row_bytes: row_bytes as f64,
            text_bytes: server.len(),
            matches_end: (self.done == self.trace.edits.len()).then(|| server == self.trace.end),
        }
    }
}

