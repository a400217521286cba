//! A [`Replica`] of one document over one connection: a [`Workspace`] (shadow, local tree,
//! dirty and placed keys), at most one patch in flight, and the push / pull / live loop.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use nodesync_core::patch::{parse, Limits, Patch, MAX_NAME_BYTES};
use postgres::error::SqlState;
use postgres::fallible_iterator::FallibleIterator;
use postgres::Client;
use serde_json::Value;

use crate::journal::{Entry, Journal};
use crate::rebase::{Dropped, Policy};
use crate::tree::{Diff, Node, Tree};
pub use crate::workspace::EditError;
use crate::workspace::Workspace;

mod edits;
mod sql;
mod types;
pub use sql::{connect_env, ensure_doc, fetch_snapshot};
use sql::{send, Prepared, Sent};
use types::now_micros;
#[cfg(feature = "sim")]
pub use types::CrashPoint;
pub use types::{ChangeKind, Changes, Config, Error, Pushed, Recovery, Stats};

type Callback = Box<dyn FnMut(&Changes) + Send>;

/// A read connection (for example to a hot standby) and the newest gen it is known to show.
struct Reader {
    conn: Client,
    prepared: Prepared,
    seen: i64,
}

/// One replica of one document. See the crate docs.
pub struct Replica {
    conn: Client,
    /// The statements prepared on `conn` (the reader has its own).
    prepared: Prepared,
    /// Reads go here when set ([`Replica::read_from`]); writes and LISTEN always use `conn`.
    reader: Option<Reader>,
    /// The gen a read must show at least: this replica's last commit, or the gen a conflict or
    /// a notification reported (read-your-writes on a read connection that lags).
    min_gen: i64,
    cfg: Config,
    ws: Workspace,
    next_seq: i64,
    journal: Option<Journal>,
    rng: fastrand::Rng,
    dropped: Vec<Dropped>,
    committed: Vec<(i64, Value)>,
    recovery: Option<Recovery>,
    /// A send failed without an answer: the journal holds a patch whose outcome is unknown.
    in_flight: bool,
    on_change: Option<Callback>,
    pub stats: Stats,
}

fn base36(mut n: u64) -> String {
    let digits = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = vec![];
    loop {
        out.push(digits[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

impl Replica {
    /// Opens a replica of an existing document on `conn`. With a journal, a patch left in
    /// flight by a previous run is resent first with its original `(client, seq)`; the outcome
    /// is in [`Replica::recovery`].
    pub fn open(mut conn: Client, cfg: Config) -> Result<Replica, Error> {
        let journal = cfg.journal.as_ref().map(Journal::new);
        let mut next_seq = now_micros();
        let mut recovery = None;
        if let Some(j) = &journal {
            if let Some(e) = j.read()? {
                if e.doc != cfg.doc || e.client != cfg.client {
                    return Err(Error::Protocol(format!(
                        "journal {} belongs to client {:?} on document {:?}",
                        j.path().display(),
                        e.client,
                        e.doc
                    )));
                }
                next_seq = next_seq.max(e.seq + 1);
                if let Some(p) = &e.patch {
                    recovery = Some(Self::resend(&mut conn, &cfg, p, e.seq)?);
                    j.write(&Entry { patch: None, ..e })?;
                }
            }
        }
        let shadow = fetch_snapshot(&mut conn, &cfg.doc)?;
        let key_prefix = cfg.key_prefix.clone().unwrap_or_else(|| format!("{}.{}.", cfg.client, base36(now_micros() as u64)));
        let rng = fastrand::Rng::with_seed(cfg.seed);
        let min_gen = shadow.gen;
        Ok(Replica {
            conn,
            prepared: Prepared::default(),
            reader: None,
            min_gen,
            ws: Workspace::new(shadow, key_prefix),
            next_seq,
            journal,
            rng,
            dropped: vec![],
            committed: vec![],
            recovery,
            in_flight: false,
            on_change: None,
            stats: Stats::default(),
            cfg,
        })
    }

    fn resend(conn: &mut Client, cfg: &Config, patch: &Value, seq: i64) -> Result<Recovery, Error> {
        match send(conn, &mut Prepared::default(), &cfg.doc, &cfg.client, patch, seq)? {
            Sent::Ok(res) => Ok(Recovery::Committed {
                seq,
                gen: res["gen"].as_i64().ok_or_else(|| Error::Protocol(format!("no gen in {res}")))?,
                duplicate: res["duplicate"] == Value::Bool(true),
            }),
            Sent::Conflict(conflicts) => Ok(Recovery::Refused { seq, conflicts }),
        }
    }

    // ---------------------------------------------------------------- reads (never the server)

    /// The local tree (what the app sees, its own edits included).
    pub fn tree(&self) -> &Tree {
        &self.ws.local
    }

    /// The last known server state.
    pub fn shadow(&self) -> &Tree {
        &self.ws.shadow
    }

    pub fn get(&self, key: &str) -> Option<&Node> {
        self.ws.local.get(key)
    }

    pub fn children(&self, key: &str) -> &[String] {
        self.ws.local.children(key)
    }

    /// The generation of the shadow.
    pub fn gen(&self) -> i64 {
        self.ws.shadow.gen
    }

    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// Changes the both-sides conflict policy from now on.
    pub fn set_policy(&mut self, policy: Policy) {
        self.cfg.policy = policy;
    }

    /// True if there are local edits not yet on the server.
    pub fn has_local_edits(&self) -> bool {
        self.ws.has_local_edits()
    }

    /// The keys with local state edits (text edits, splits and joins are in the text log:
    /// `workspace().logged_ops()`; `has_local_edits()` covers both).
    pub fn dirty(&self) -> &BTreeSet<String> {
        &self.ws.dirty
    }

    /// The outcome of the journaled patch resent by [`Replica::open`], if there was one.
    pub fn recovery(&self) -> Option<&Recovery> {
        self.recovery.as_ref()
    }

    /// Local edits dropped by rebases since the last call.
    pub fn take_dropped(&mut self) -> Vec<Dropped> {
        std::mem::take(&mut self.dropped)
    }

    /// `(seq, patch)` of every patch this replica committed since the last call.
    pub fn take_committed(&mut self) -> Vec<(i64, Value)> {
        std::mem::take(&mut self.committed)
    }

    /// The connection (for plain SQL reads).
    pub fn conn(&mut self) -> &mut Client {
        &mut self.conn
    }

    /// Called with what changed after every pull that changed something.
    pub fn on_change(&mut self, f: impl FnMut(&Changes) + Send + 'static) {
        self.on_change = Some(Box::new(f));
    }

    /// Changes delivered through a channel instead of a callback.
    pub fn changes_channel(&mut self) -> std::sync::mpsc::Receiver<Changes> {
        let (tx, rx) = std::sync::mpsc::channel();
        self.on_change(move |c| {
            let _ = tx.send(c.clone());
        });
        rx
    }

    // ---------------------------------------------------------------- sync

    fn journal_write(&self, seq: i64, patch: Option<&Value>) -> Result<(), Error> {
        if let Some(j) = &self.journal {
            j.write(&Entry { doc: self.cfg.doc.clone(), client: self.cfg.client.clone(), seq, patch: patch.cloned() })?;
        }
        Ok(())
    }

    /// The `sim` test hook: stops dead at `p` if the config asks for it.
    #[cfg(feature = "sim")]
    fn crash_point(&self, p: CrashPoint, seq: i64) {
        if self.cfg.crash == Some(p) {
            use std::io::Write;
            println!("CRASHPOINT {p:?} {seq}");
            let _ = std::io::stdout().flush();
            loop {
                std::thread::sleep(Duration::from_secs(1));
            }
        }
    }

    /// Resolves a patch left in flight by a send that failed in this process (connection
    /// error): resend it with its seq, then pull.
    fn settle_in_flight(&mut self) -> Result<(), Error> {
        if !self.in_flight {
            return Ok(());
        }
        let Some(j) = &self.journal else {
            self.in_flight = false;
            return Ok(());
        };
        let Some(e) = j.read()? else {
            self.in_flight = false;
            return Ok(());
        };
        let Some(p) = &e.patch else {
            self.in_flight = false;
            return Ok(());
        };
        let r = Self::resend(&mut self.conn, &self.cfg, p, e.seq)?;
        if let Recovery::Committed { .. } = r {
            self.committed.push((e.seq, p.clone()));
            self.stats.commits += 1;
        }
        self.next_seq = self.next_seq.max(e.seq + 1);
        self.journal_write(e.seq, None)?;
        self.in_flight = false;
        self.recovery = Some(r);
        self.pull()?;
        Ok(())
    }

    /// Reads (`snapshot`, `diff_since`, `changes_since`) from now on go to `reader`, for example
    /// a connection to a hot standby; patches and `LISTEN` stay on the connection the replica
    /// was opened with. Read-your-writes: before a read, `nodesync.wait_gen` on the reader
    /// waits until it shows this replica's last commit (or the gen a conflict or a
    /// notification named); if that takes longer than [`Config::read_wait`], the read goes to
    /// the write connection instead (counted in `stats.reader_fallbacks`).
    pub fn read_from(&mut self, reader: Client) {
        self.reader = Some(Reader { conn: reader, prepared: Prepared::default(), seen: 0 });
    }

    /// Gives the read connection back (reads return to the write connection).
    pub fn stop_reading_elsewhere(&mut self) -> Option<Client> {
        self.reader.take().map(|r| r.conn)
    }

    /// The connection a read goes to: the read connection once it shows `min_gen`, else the
    /// write connection.
    fn read_conn(&mut self) -> Result<(&mut Client, &mut Prepared), Error> {
        let use_reader = match self.reader.as_mut() {
            None => false,
            Some(r) if r.seen >= self.min_gen => true,
            Some(r) => {
                let ms = i32::try_from(self.cfg.read_wait.as_millis()).unwrap_or(i32::MAX);
                let g: i64 = r.conn.query_one("SELECT nodesync.wait_gen($1, $2, $3)", &[&self.cfg.doc, &self.min_gen, &ms])?.get(0);
                r.seen = g;
                g >= self.min_gen
            }
        };
        if self.reader.is_some() && !use_reader {
            self.stats.reader_fallbacks += 1;
        }
        match (use_reader, self.reader.as_mut()) {
            (true, Some(r)) => {
                self.stats.reader_reads += 1;
                Ok((&mut r.conn, &mut r.prepared))
            }
            _ => Ok((&mut self.conn, &mut self.prepared)),
        }
    }

    /// Sends the local edits as one patch; on a conflict pulls, rebases and retries (bounded,
    /// with backoff). After a commit the shadow is at least at the commit's gen: if nobody else
    /// committed in between and the patch only changed nodes in place, from the result alone
    /// ([`Workspace::committed_alone`]); otherwise by reading `diff_since` (a pull), which also
    /// brings what others committed since. Others' later commits come with [`Replica::pull`]
    /// (or `wait`, or [`Replica::sync`]).
    pub fn push(&mut self) -> Result<Pushed, Error> {
        self.settle_in_flight()?;
        let started = Instant::now();
        let mut attempts = 0u32;
        loop {
            let patch = self.ws.patch();
            if patch.ops.is_empty() {
                self.ws.forget_noop_edits();
                return Ok(Pushed::Nothing);
            }
            attempts += 1;
            let ops = patch.ops.len();
            let pj = patch.to_json();
            let seq = self.next_seq;
            self.journal_write(seq, Some(&pj))?;
            #[cfg(feature = "sim")]
            self.crash_point(CrashPoint::BeforeSend, seq);
            let sent = match send(&mut self.conn, &mut self.prepared, &self.cfg.doc, &self.cfg.client, &pj, seq) {
                Ok(s) => s,
                Err(Error::Db(e)) if e.as_db_error().is_some() => {
                    // the server answered with an error (invalid patch, unknown document...):
                    // nothing was applied
                    self.journal_write(seq, None)?;
                    return Err(Error::Db(e));
                }
                Err(e) => {
                    // no answer: the outcome is unknown until the patch is resent with its seq
                    self.in_flight = self.journal.is_some();
                    return Err(e);
                }
            };
            #[cfg(feature = "sim")]
            self.crash_point(CrashPoint::AfterSend, seq);
            match sent {
                Sent::Ok(res) => {
                    self.next_seq = seq + 1;
                    self.journal_write(seq, None)?;
                    let gen = res["gen"].as_i64().ok_or_else(|| Error::Protocol(format!("no gen in {res}")))?;
                    if res["duplicate"] == Value::Bool(true) {
                        return Err(Error::Protocol(format!(
                            "seq {seq} of client {:?} was already used: is another replica running with the same client id?",
                            self.cfg.client
                        )));
                    }
                    self.stats.commits += 1;
                    self.stats.latencies_us.push(started.elapsed().as_micros() as u64);
                    self.committed.push((seq, pj));
                    let versions = res.get("versions").and_then(Value::as_object);
                    if versions.is_some_and(|v| self.ws.committed_alone(&patch, gen, v)) {
                        // nobody else committed in between: the server holds the local tree
                        self.min_gen = self.min_gen.max(gen);
                        self.stats.known_commits += 1;
                    } else {
                        self.after_commit(gen)?;
                    }
                    return Ok(Pushed::Committed { gen, seq, attempts, ops });
                }
                Sent::Conflict(detail) => {
                    // refused: nothing changed and the seq is not used up; the rebase must
                    // read at least the gen the refusal named
                    self.journal_write(seq, None)?;
                    if let Some(g) = detail["gen"].as_i64() {
                        self.min_gen = self.min_gen.max(g);
                    }
                    self.stats.conflicts += 1;
                    if attempts >= self.cfg.max_attempts {
                        return Err(Error::Contention { attempts, conflicts: detail });
                    }
                    self.backoff(attempts);
                    self.stats.rebases += 1;
                    self.pull()?;
                }
            }
        }
    }

    fn backoff(&mut self, attempt: u32) {
        let base = self.cfg.backoff.as_micros() as u64;
        let cap = self.cfg.max_backoff.as_micros() as u64;
        let exp = base.saturating_mul(1u64 << attempt.min(20).saturating_sub(1)).min(cap).max(1);
        let jitter = self.rng.u64(0..=exp);
        std::thread::sleep(Duration::from_micros(exp / 2 + jitter / 2));
    }

    /// After a commit every local edit is on the server: bring the shadow up to date and make
    /// the local tree equal to it (cursors carried over what others committed meanwhile).
    fn after_commit(&mut self, own_gen: i64) -> Result<(), Error> {
        self.min_gen = self.min_gen.max(own_gen);
        let old = self.ws.shadow.gen;
        let (remote, diff) = self.fetch_remote()?;
        // the server's log only carries cursors here (committed_with); without cursors it
        // would be a statement per push for nothing
        let before = if self.ws.has_cursors() && self.ws.wants_server_log() {
            let log = self.fetch_log(old, remote.gen)?;
            self.ws.committed_with(remote, log.as_deref(), own_gen)
        } else {
            self.ws.committed(remote)
        };
        let changes = self.changes(&before, diff.as_ref(), vec![], &BTreeSet::new());
        self.notify(changes);
        Ok(())
    }

    /// The committed patches after `since` up to `upto` (`changes_since`), or `None` if the
    /// log is gone (below the horizon) or not understood: the rebase then diffs.
    fn fetch_log(&mut self, since: i64, upto: i64) -> Result<Option<Vec<(i64, Patch)>>, Error> {
        if upto <= since {
            return Ok(Some(vec![]));
        }
        let doc = self.cfg.doc.clone();
        let (conn, prepared) = self.read_conn()?;
        let stmt = prepared.get(conn, "SELECT gen, patch FROM nodesync.changes_since($1, $2) WHERE gen <= $3 ORDER BY gen")?;
        let rows = match conn.query(&stmt, &[&doc, &since, &upto]) {
            Ok(r) => r,
            Err(e) if e.code() == Some(&SqlState::OBJECT_NOT_IN_PREREQUISITE_STATE) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let limits = Limits { max_ops: usize::MAX, max_props_bytes: usize::MAX, max_key_bytes: MAX_NAME_BYTES, max_depth: usize::MAX, max_nodes: usize::MAX };
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let gen: i64 = row.get(0);
            let v: Value = row.get(1);
            match parse(&v, &limits) {
                Ok(p) => out.push((gen, p)),
                Err(_) => return Ok(None),
            }
        }
        // a gap (something compacted meanwhile) means the log is not the whole story
        if out.len() as i64 != upto - since {
            return Ok(None);
        }
        self.stats.log_fetches += 1;
        Ok(Some(out))
    }

    /// The server state now: the shadow plus `diff_since(shadow gen)` (or a snapshot if the
    /// diff does not apply).
    fn fetch_remote(&mut self) -> Result<(Tree, Option<Diff>), Error> {
        let (doc, since) = (self.cfg.doc.clone(), self.ws.shadow.gen);
        let (conn, prepared) = self.read_conn()?;
        let stmt = prepared.get(conn, "SELECT nodesync.diff_since($1, $2)")?;
        let v: Value = conn.query_one(&stmt, &[&doc, &since])?.get(0);
        let diff = Diff::from_json(&v).map_err(Error::Protocol)?;
        let mut remote = self.ws.shadow.clone();
        match remote.apply_diff(&diff) {
            Ok(()) => Ok((remote, Some(diff))),
            Err(_) => Ok((fetch_snapshot(self.read_conn()?.0, &doc)?, None)),
        }
    }

    /// Pulls what changed on the server, applies it to the shadow and rebases the local edits
    /// onto it. Returns what changed in the local tree (also given to the callback).
    pub fn pull(&mut self) -> Result<Changes, Error> {
        let (remote, diff) = self.fetch_remote()?;
        if remote.gen == self.ws.shadow.gen && diff.as_ref().is_some_and(|d| d.is_empty()) {
            return Ok(Changes { from: remote.gen, to: remote.gen, ..Changes::default() });
        }
        self.stats.pulls += 1;
        let log = if self.ws.has_local_edits() && self.ws.wants_server_log() || self.ws.has_cursors() {
            self.fetch_log(self.ws.shadow.gen, remote.gen)?
        } else {
            None
        };
        let touched = self.ws.touched_keys();
        let (before, dropped) = self.ws.rebase_with(remote, log.as_deref(), self.cfg.policy);
        self.stats.dropped += dropped.iter().filter(|d| !d.rule.is_warning()).count() as u64;
        self.dropped.extend(dropped.iter().cloned());
        let changes = self.changes(&before, diff.as_ref(), dropped, &touched);
        self.notify(changes.clone());
        Ok(changes)
    }

    /// What changed in the local tree from `before`: the nodes the server's diff names, those
    /// a rebase reported, and those the local edits touched (`touched`, taken before the
    /// rebase: text the server typed into a block this replica joined away lands in the kept
    /// block, which the diff does not name).
    fn changes(&self, before: &Tree, diff: Option<&Diff>, dropped: Vec<Dropped>, touched: &BTreeSet<String>) -> Changes {
        let keys: BTreeSet<&str> = match diff {
            Some(d) if !d.reset => d
                .nodes
                .iter()
                .map(|n| n.key.as_str())
                .chain(d.deleted.iter().map(String::as_str))
                .chain(dropped.iter().map(|x| x.key.as_str()))
                .chain(touched.iter().map(String::as_str))
                .collect(),
            _ => before.nodes.keys().chain(self.ws.local.nodes.keys()).map(String::as_str).collect(),
        };
        let mut changed = vec![];
        for k in keys {
            match (before.get(k), self.ws.local.get(k)) {
                (None, Some(_)) => changed.push((k.to_string(), ChangeKind::Created)),
                (Some(_), None) => changed.push((k.to_string(), ChangeKind::Deleted)),
                (Some(a), Some(b)) => {
                    if a.parent != b.parent || before.index_of(k) != self.ws.local.index_of(k) {
                        changed.push((k.to_string(), ChangeKind::Moved));
                    }
                    if !a.same_content(b) {
                        changed.push((k.to_string(), ChangeKind::Updated));
                    }
                }
                (None, None) => {}
            }
        }
        Changes { from: before.gen, to: self.ws.shadow.gen, changed, dropped }
    }

    fn notify(&mut self, changes: Changes) {
        if changes.changed.is_empty() && changes.dropped.is_empty() {
            return;
        }
        if let Some(cb) = self.on_change.as_mut() {
            cb(&changes);
        }
    }

    /// push, then pull: after it the local tree holds everything the server had at some gen
    /// plus nothing unsent (unless the push failed).
    pub fn sync(&mut self) -> Result<Changes, Error> {
        self.push()?;
        self.pull()
    }

    // ---------------------------------------------------------------- live

    /// `LISTEN nodesync` on this replica's connection.
    pub fn listen(&mut self) -> Result<(), Error> {
        self.conn.batch_execute("LISTEN nodesync")?;
        Ok(())
    }

    /// Waits up to `timeout` for a notification about this document newer than the shadow;
    /// if one arrives, pulls and returns what changed (also given to the callback).
    /// `Duration::ZERO` only looks at what has already arrived.
    pub fn wait(&mut self, timeout: Duration) -> Result<Option<Changes>, Error> {
        let doc = self.cfg.doc.clone();
        let gen = self.ws.shadow.gen;
        // the newest gen a notification named, if newer than the shadow
        let newer = |payload: &str| -> Option<i64> {
            let v = serde_json::from_str::<Value>(payload).ok()?;
            let g = v["gen"].as_i64()?;
            (v["doc"].as_str() == Some(doc.as_str()) && g > gen).then_some(g)
        };
        let mut hit: Option<i64> = None;
        {
            let mut notes = self.conn.notifications();
            if timeout > Duration::ZERO {
                let mut it = notes.timeout_iter(timeout);
                if let Some(n) = it.next()? {
                    if n.channel() == "nodesync" {
                        hit = hit.max(newer(n.payload()));
                    }
                }
            }
            let mut it = notes.iter();
            while let Some(n) = it.next()? {
                if n.channel() == "nodesync" {
                    hit = hit.max(newer(n.payload()));
                }
            }
        }
        if let Some(g) = hit {
            // a read connection must show at least what the notification announced
            self.min_gen = self.min_gen.max(g);
            Ok(Some(self.pull()?))
        } else {
            Ok(None)
        }
    }
}

