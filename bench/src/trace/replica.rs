//! Workload 7's fourth replay: the trace through the Rust client's [`Replica`], the way an app
//! would send it. Every keystroke is a local edit (a splice of one paragraph; a typed newline
//! is Enter, `split`; deleting a newline is a `join`, as in `client/tests/trace.rs`) followed
//! by its own `push`: one patch per keystroke, each a `nodesync.apply_patch` with the replica's
//! `(client, seq)`. A keystroke that splices one paragraph needs no read after its commit
//! (nobody else commits in between: the replica knows the server's state, `known_commits`);
//! after Enter and Backspace over a newline the replica reads `diff_since` for the new node's
//! position (and `changes_since` when the local tree lacks a node the shadow has, i.e. after a
//! join).

use std::time::Instant;

use pg_nodesync_client::{Config, Replica, Tree};
use postgres::Client;
use serde_json::{json, Value};

use super::sql::{nodesync_text, start, Doc, Para, ROW_BYTES};
use super::{Replayed, Trace};
use crate::db;
use crate::profile::{proc_cpu_secs, thread_cpu_secs};

/// A replay through one [`Replica`] in progress; [`ReplicaReplay::run`] plays a range of the
/// trace's edits, so it interleaves in chunks with the plain-SQL replays.
pub(super) struct ReplicaReplay<'t> {
    doc: String,
    trace: &'t Trace,
    r: Replica,
    /// The replayer's own view (keys and texts; versions unused): maps a trace offset to
    /// (paragraph, offset) and is the local replay the server's text is checked against.
    d: Doc,
    done: usize,
    secs: f64,
    /// The part of `secs` spent in `push` (the rest: the local edits and the replayer).
    push_secs: f64,
    wal_bytes: f64,
    /// The replica's backend and its CPU seconds in runs; this thread's CPU seconds in runs.
    pid: i32,
    backend_cpu: f64,
    client_cpu: f64,
}

/// What a replay through the Replica did besides what every replay reports.
pub(super) struct ReplicaCounts {
    /// Pushes that committed (keystrokes with no effect push nothing).
    pub commits: u64,
    pub conflicts: u64,
    /// `changes_since` reads after a commit.
    pub log_fetches: u64,
    /// Commits after which the replica knew the server's state without a read.
    pub known_commits: u64,
    pub push_secs: f64,
    /// CPU seconds of this client (the replica and the replayer) while replaying.
    pub client_cpu: f64,
}

impl<'t> ReplicaReplay<'t> {
    /// A new document `doc` holding the trace's start text (the same paragraphs as the other
    /// replays), and a replica of it on its own connection with asynchronous commit.
    pub(super) fn new(c: &mut Client, doc: &str, trace: &'t Trace) -> ReplicaReplay<'t> {
        let (d, ops) = start(trace);
        c.execute("SELECT nodesync.create_doc($1)", &[&doc]).expect("create_doc");
        c.execute("SELECT nodesync.apply_patch($1, $2)", &[&doc, &json!({"ops": ops})]).expect("load the start text");
        let mut conn = db::connect();
        conn.batch_execute("SET synchronous_commit = off").expect("SET synchronous_commit on the replica's connection");
        let mut cfg = Config::new(doc, "trace-replica");
        // the paragraphs it creates (Enter): r.1, r.2, ... (the start text's are p1, p2, ...)
        cfg.key_prefix = Some("r.".into());
        let pid: i32 = conn.query_one("SELECT pg_backend_pid()", &[]).expect("backend pid").get(0);
        let r = Replica::open(conn, cfg).unwrap_or_else(|e| panic!("open a replica of {doc}: {e}"));
        ReplicaReplay { doc: doc.to_string(), trace, r, d, done: 0, secs: 0.0, push_secs: 0.0, wal_bytes: 0.0, pid, backend_cpu: 0.0, client_cpu: 0.0 }
    }

    /// Trace edit `k` as local edits of the replica (and of the replayer's view).
    fn edit(&mut self, k: usize) {
        let (at, mut delete, insert) = &self.trace.edits[k];
        let fail = |e: &dyn std::fmt::Display| -> ! { panic!("trace edit {k} (Replica): {e}") };
        let (r, d) = (&mut self.r, &mut self.d);
        let (mut i, mut off) = d.locate(*at);
        // deletes: within the paragraph, then the newline at its end (a join with the next)
        while delete > 0 {
            let room = d.paras[i].text.len() - off;
            if room > 0 {
                let n = room.min(delete);
                r.splice(&d.paras[i].key, "text", off, n, "").unwrap_or_else(|e| fail(&e));
                d.paras[i].text.drain(off..off + n);
                delete -= n;
            } else if i + 1 < d.paras.len() {
                let kept = r.join(&d.paras[i].key, &d.paras[i + 1].key, "text").unwrap_or_else(|e| fail(&e));
                if kept != d.paras[i].key {
                    fail(&format!("the join kept {kept}, not {}", d.paras[i].key));
                }
                let next = d.paras.remove(i + 1);
                d.paras[i].text.extend(next.text);
                delete -= 1;
            } else {
                break;
            }
        }
        // inserts: text, and Enter at each newline
        for (j, seg) in insert.split('\n').enumerate() {
            if j > 0 {
                let key = r.fresh_key();
                r.split(&d.paras[i].key, "text", off, &key).unwrap_or_else(|e| fail(&e));
                let tail = d.paras[i].text.split_off(off);
                d.paras.insert(i + 1, Para { key, text: tail, version: 0 });
                i += 1;
                off = 0;
            }
            if !seg.is_empty() {
                r.splice(&d.paras[i].key, "text", off, 0, seg).unwrap_or_else(|e| fail(&e));
                d.paras[i].text.splice(off..off, seg.chars());
                off += seg.chars().count();
            }
        }
    }

    /// Plays the next `n` edits (fewer at the end of the trace), one push per edit; returns the
    /// seconds they took.
    pub(super) fn run(&mut self, c: &mut Client, n: usize) -> f64 {
        let lsn = db::wal_lsn(c);
        let (cpu0, own0) = (proc_cpu_secs(self.pid), thread_cpu_secs());
        let t0 = Instant::now();
        let end = (self.done + n).min(self.trace.edits.len());
        for k in self.done..end {
            self.edit(k);
            let p0 = Instant::now();
            self.r.push().unwrap_or_else(|e| panic!("trace edit {k} (Replica): push: {e}"));
            self.push_secs += p0.elapsed().as_secs_f64();
        }
        // the replica keeps every committed patch until it is asked for them (as an app would
        // ask, e.g. to show its history): without this the memory grows by one patch a keystroke
        drop(self.r.take_committed());
        let secs = t0.elapsed().as_secs_f64();
        self.secs += secs;
        self.client_cpu += thread_cpu_secs() - own0;
        self.backend_cpu += proc_cpu_secs(self.pid) - cpu0;
        self.wal_bytes += db::wal_since(c, &lsn);
        self.done = end;
        secs
    }

    /// Checks the server's text against the replayer's (and the replica's tree against the
    /// server's) and measures what the document keeps.
    pub(super) fn finish(self, c: &mut Client) -> (Replayed, ReplicaCounts) {
        let row_bytes: i64 = c.query_one(ROW_BYTES, &[&self.doc]).expect("row bytes").get(0);
        let server = nodesync_text(c, &self.doc);
        assert_eq!(server, self.d.text(), "trace {} (Replica): the server's text differs from the replayer's", self.trace.name);
        let snap: Value = c.query_one("SELECT nodesync.snapshot($1)", &[&self.doc]).expect("snapshot").get(0);
        let tree = Tree::from_snapshot(&snap).unwrap_or_else(|e| panic!("trace {} (Replica): snapshot: {e}", self.trace.name));
        assert!(tree.flat() == self.r.tree().flat(), "trace {}: the Replica's tree differs from the server's", self.trace.name);
        let s = &self.r.stats;
        let counts = ReplicaCounts { commits: s.commits, conflicts: s.conflicts, log_fetches: s.log_fetches, known_commits: s.known_commits, push_secs: self.push_secs, client_cpu: self.client_cpu };
        let replayed = Replayed {
            edits: self.done,
            secs: self.secs,
            wal_bytes: self.wal_bytes,
            backend_cpu: self.backend_cpu,
            row_bytes: row_bytes as f64,
            text_bytes: server.len(),
            matches_end: (self.done == self.trace.edits.len()).then(|| server == self.trace.end),
        };
        (replayed, counts)
    }
}
