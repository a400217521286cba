//! Connections, the two plain-SQL baselines, document loading, and one "editor" per connection
//! that performs the same logical edit on any of the three systems.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

use postgres::error::SqlState;
use postgres::types::Type;
use postgres::{Client, Statement};
use serde_json::Value;

pub const DB: &str = "nodesync_bench";

/// The server the benchmark runs on (scripts/bench.sh exports PGHOST, PGPORT and PGUSER).
#[derive(clap::Args, Debug, Clone)]
pub struct Server {
    /// Server host or socket directory
    #[arg(long = "pghost", env = "PGHOST", default_value = "/tmp/nodesync-bench-55450", global = true)]
    pub host: String,
    /// Server port
    #[arg(long = "pgport", env = "PGPORT", default_value_t = 55450, global = true)]
    pub port: u16,
    /// User to connect as (a superuser: the benchmark creates its database)
    #[arg(long = "pguser", env = "PGUSER", default_value = "postgres", global = true)]
    pub user: String,
}

static SERVER: OnceLock<nodesync_testkit::Server> = OnceLock::new();

/// Sets the server every later connection goes to (once, before the first connection).
pub fn use_server(s: Server) {
    let password = std::env::var("PGPASSWORD").ok();
    let server = nodesync_testkit::Server { host: s.host, port: s.port.to_string(), user: s.user, password, connect_timeout: None };
    SERVER.set(server).expect("the server is set once");
}

pub fn server() -> &'static nodesync_testkit::Server {
    SERVER.get().expect("db::use_server first")
}

const APP: &str = "nodesync_bench";

pub fn connect() -> Client {
    server().connect(DB, APP)
}

/// The three systems measured side by side, and the variants of the first two that workloads
/// 8 and 9 compare (how a commit is pushed to readers, who calls).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord, clap::ValueEnum)]
pub enum Sys {
    /// pg_nodesync: `nodesync.apply_patch`, as a superuser, `nodesync.notify = on`.
    #[value(name = "nodesync")]
    Ext,
    /// pg_nodesync with `SET nodesync.notify = off` in the session.
    #[value(name = "nodesync-quiet")]
    ExtQuiet,
    /// pg_nodesync with `SET nodesync.push = message` (a transactional logical message instead
    /// of NOTIFY).
    #[value(name = "nodesync-message")]
    ExtMessage,
    /// pg_nodesync called by an ordinary role under the row-level security policies of
    /// docs/security.md ("Keyed on the role"; [`setup_role`]).
    #[value(name = "nodesync-role")]
    ExtRole,
    /// Baseline "floor": the least work any correct implementation must do (with `pg_notify`).
    Floor,
    /// The floor without `pg_notify`.
    #[value(name = "floor-quiet")]
    FloorQuiet,
    /// The floor with a transactional `pg_logical_emit_message` instead of `pg_notify`.
    #[value(name = "floor-wal")]
    FloorWal,
    /// Baseline "snapshot-rewrite": ShareDB's Postgres adapter pattern.
    #[value(name = "snapshot-rewrite")]
    Snap,
}

impl Sys {
    pub fn name(self) -> &'static str {
        match self {
            Sys::Ext => "nodesync",
            Sys::ExtQuiet => "nodesync, notify off",
            Sys::ExtMessage => "nodesync, push message",
            Sys::ExtRole => "nodesync, ordinary role",
            Sys::Floor => "floor",
            Sys::FloorQuiet => "floor, no notify",
            Sys::FloorWal => "floor, WAL message",
            Sys::Snap => "snapshot-rewrite",
        }
    }

    /// The system whose tables a variant writes (Ext, Floor or Snap): variants share documents
    /// and node versions with it.
    pub fn store(self) -> Sys {
        match self {
            Sys::Ext | Sys::ExtQuiet | Sys::ExtMessage | Sys::ExtRole => Sys::Ext,
            Sys::Floor | Sys::FloorQuiet | Sys::FloorWal => Sys::Floor,
            Sys::Snap => Sys::Snap,
        }
    }
}

/// Fresh benchmark database with the extension and the baselines.
pub fn create_database() -> Client {
    let mut c = server().fresh_database(&mut server().connect("postgres", APP), DB, APP);
    c.batch_execute(BASELINES).expect("create the baselines");
    for (_, name, push) in FLOOR_PUSH {
        c.batch_execute(&FLOOR_UPDATE.replace("{name}", name).replace("{push}", push)).expect("create the floor's update");
    }
    c
}

/// The baselines, plain SQL. Both see the same documents (same keys, kinds and props) as
/// pg_nodesync; see docs/performance.md for what each one does and does not do.
const BASELINES: &str = r#"
CREATE SCHEMA bench;

-- floor: one row per node (FLOOR_UPDATE below says what an edit does).
CREATE TABLE bench.floor_doc (doc text PRIMARY KEY, gen bigint NOT NULL);
CREATE TABLE bench.floor_node (
    doc text NOT NULL, key text NOT NULL, version bigint NOT NULL, gen bigint NOT NULL, props jsonb NOT NULL,
    PRIMARY KEY (doc, key));
CREATE TABLE bench.floor_log (doc text NOT NULL, gen bigint NOT NULL, op jsonb NOT NULL, at timestamptz NOT NULL,
    PRIMARY KEY (doc, gen));

-- bench.floor_update and its variants: FLOOR_UPDATE below.

-- floor for inserts: the same, inserting the node row (the primary key is the exists check).
-- It keeps no sibling order at all, which pg_nodesync must.
CREATE FUNCTION bench.floor_insert(d text, k text, p jsonb) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE g bigint;
BEGIN
    UPDATE bench.floor_doc SET gen = gen + 1 WHERE doc = d RETURNING gen INTO g;
    IF NOT FOUND THEN RAISE EXCEPTION 'unknown document %', d USING ERRCODE = '42704'; END IF;
    INSERT INTO bench.floor_node VALUES (d, k, 1, g, p);
    INSERT INTO bench.floor_log VALUES (d, g, jsonb_build_object('op', 'create', 'key', k, 'props', p), clock_timestamp());
    PERFORM pg_notify('bench', json_build_object('doc', d, 'gen', g)::text);
    RETURN g;
END $$;

-- floor for deletes (workload 7's whole-value replay of a joined paragraph): the same, deleting
-- the node row after its version check.
CREATE FUNCTION bench.floor_delete(d text, k text, v bigint) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE g bigint; cur bigint;
BEGIN
    UPDATE bench.floor_doc SET gen = gen + 1 WHERE doc = d RETURNING gen INTO g;
    IF NOT FOUND THEN RAISE EXCEPTION 'unknown document %', d USING ERRCODE = '42704'; END IF;
    SELECT version INTO cur FROM bench.floor_node WHERE doc = d AND key = k FOR UPDATE;
    IF cur IS DISTINCT FROM v THEN
        RAISE EXCEPTION 'version conflict on %: expected %, actual %', k, v, cur USING ERRCODE = '40001';
    END IF;
    DELETE FROM bench.floor_node WHERE doc = d AND key = k;
    INSERT INTO bench.floor_log VALUES (d, g, jsonb_build_object('op', 'delete', 'key', k, 'version', v), clock_timestamp());
    PERFORM pg_notify('bench', json_build_object('doc', d, 'gen', g)::text);
    RETURN g;
END $$;

-- snapshot-rewrite: ShareDB's Postgres adapter pattern. One jsonb snapshot row per document,
-- rewritten per op (here server-side with jsonb_set, which spares the round trip of the whole
-- snapshot that ShareDB makes), plus an ops row keyed (doc, version).
CREATE TABLE bench.sr_snapshot (doc text PRIMARY KEY, version bigint NOT NULL, data jsonb NOT NULL);
CREATE TABLE bench.sr_ops (doc text NOT NULL, version bigint NOT NULL, op jsonb NOT NULL, PRIMARY KEY (doc, version));

CREATE FUNCTION bench.sr_update(d text, k text, prop text, val jsonb) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE v bigint;
BEGIN
    UPDATE bench.sr_snapshot SET data = jsonb_set(data, ARRAY['nodes', k, 'props', prop], val), version = version + 1
     WHERE doc = d RETURNING version INTO v;
    IF NOT FOUND THEN RAISE EXCEPTION 'unknown document %', d USING ERRCODE = '42704'; END IF;
    INSERT INTO bench.sr_ops VALUES (d, v, jsonb_build_object('p', ARRAY['nodes', k, 'props', prop], 'oi', val));
    RETURN v;
END $$;

-- Server-side timing of diff_since: clock_timestamp() around each call, in microseconds.
CREATE FUNCTION bench.time_diff(d text, since bigint, reps int) RETURNS float8[]
LANGUAGE plpgsql AS $$
DECLARE t timestamptz; r float8[] := '{}'; n int;
BEGIN
    FOR i IN 1..reps LOOP
        t := clock_timestamp();
        PERFORM nodesync.diff_since(d, since);
        r := r || (extract(epoch FROM clock_timestamp() - t) * 1e6)::float8;
    END LOOP;
    RETURN r;
END $$;
"#;

/// The floor's one-node update, `{name}` and `{push}` filled in by [`FLOOR_PUSH`]. Per edit:
/// bump the document's gen (UPDATE ... RETURNING), lock and version-check one node row, update
/// its props, insert one log row, and push `{"doc", "gen"}` to readers.
const FLOOR_UPDATE: &str = r#"
CREATE FUNCTION bench.{name}(d text, k text, v bigint, delta jsonb) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE g bigint; cur bigint;
BEGIN
    UPDATE bench.floor_doc SET gen = gen + 1 WHERE doc = d RETURNING gen INTO g;
    IF NOT FOUND THEN RAISE EXCEPTION 'unknown document %', d USING ERRCODE = '42704'; END IF;
    SELECT version INTO cur FROM bench.floor_node WHERE doc = d AND key = k FOR UPDATE;
    IF cur IS DISTINCT FROM v THEN
        RAISE EXCEPTION 'version conflict on %: expected %, actual %', k, v, cur USING ERRCODE = '40001';
    END IF;
    UPDATE bench.floor_node SET props = props || delta, version = version + 1, gen = g WHERE doc = d AND key = k;
    INSERT INTO bench.floor_log VALUES (d, g, jsonb_build_object('op', 'update', 'key', k, 'version', v, 'props', delta), clock_timestamp());
    {push}
    RETURN g;
END $$;
"#;

/// The floor's update functions: (system, name, how it pushes). `floor_update` (Sys::Floor) notifies
/// like pg_nodesync; `floor_update_quiet` does not push; `floor_update_wal` writes the payload
/// into the WAL as a transactional logical decoding message, for a reader of a logical
/// replication slot (workload 8, docs/performance.md).
const FLOOR_PUSH: [(Sys, &str, &str); 3] = [
    (Sys::Floor, "floor_update", "PERFORM pg_notify('bench', json_build_object('doc', d, 'gen', g)::text);"),
    (Sys::FloorQuiet, "floor_update_quiet", "-- no push"),
    (Sys::FloorWal, "floor_update_wal", "PERFORM pg_logical_emit_message(true, 'nodesync', json_build_object('doc', d, 'gen', g)::text);"),
];

/// The ordinary role of [`Sys::ExtRole`].
pub const ROLE: &str = "nodesync_bench_writer";

/// Sets up [`ROLE`] the way docs/security.md tells a deployment to ("Keyed on the role"): a
/// login role without superuser or BYPASSRLS, the access table, RLS on nodesync.documents with
/// the documented SELECT, UPDATE and INSERT policies, write access to `docs`, and 20,000 access
/// rows of other roles. Once per database (the role itself is created if it is missing).
/// Superusers bypass RLS, so the other systems' paths do not change.
pub fn setup_role(c: &mut Client, docs: &[&str]) {
    c.batch_execute(&format!(
        "DO $$ BEGIN
           IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{ROLE}') THEN
             CREATE ROLE {ROLE} LOGIN NOSUPERUSER NOBYPASSRLS;
           END IF;
         END $$;"
    ))
    .expect("create the ordinary role");
    c.batch_execute(&format!("{}; {}", nodesync_testkit::ROLE_KEYED_POLICIES, nodesync_testkit::ROLE_KEYED_INSERT_POLICY))
        .expect("the policies of docs/security.md");
    for d in docs {
        c.execute("INSERT INTO app.doc_access VALUES ($1, $2, true)", &[d, &ROLE]).unwrap();
    }
    // other tenants' rows, as a deployment has them: with a handful of rows the planner would
    // hash the whole table for the policies' EXISTS instead of probing its primary key
    c.batch_execute(
        "INSERT INTO app.doc_access SELECT 'other/doc-' || i, 'other_role_' || (i % 500), i % 3 = 0
           FROM generate_series(1, 20000) i",
    )
    .unwrap();
    c.batch_execute("VACUUM ANALYZE app.doc_access").unwrap();
}

/// Whether [`setup_role`] has run on this database (the role and the access table exist).
pub fn role_is_set_up(c: &mut Client) -> bool {
    c.query_one("SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1) AND to_regclass('app.doc_access') IS NOT NULL", &[&ROLE])
        .unwrap()
        .get(0)
}

/// Node versions as the benchmark committed them (keys never edited are at version 1).
/// The benchmark is the only writer, so it always knows the version to send.
type VersionMap = HashMap<(Sys, String, String), i64>;
static VERSIONS: Mutex<Option<VersionMap>> = Mutex::new(None);

fn version_of(sys: Sys, doc: &str, key: &str) -> i64 {
    let g = VERSIONS.lock().unwrap();
    g.as_ref().and_then(|m| m.get(&(sys.store(), doc.to_string(), key.to_string())).copied()).unwrap_or(1)
}

fn set_version(sys: Sys, doc: &str, key: &str, v: i64) {
    let mut g = VERSIONS.lock().unwrap();
    g.get_or_insert_with(HashMap::new).insert((sys.store(), doc.to_string(), key.to_string()), v);
}

/// Loads the current versions of a document's nodes (for tools that start on an edited database).
pub fn preload_versions(c: &mut Client, sys: Sys, doc: &str) {
    let q = match sys.store() {
        Sys::Ext => "SELECT t.key, t.version FROM nodesync.tree t JOIN nodesync.documents d ON d.id = t.doc_id WHERE d.doc = $1",
        _ => "SELECT key, version FROM bench.floor_node WHERE doc = $1",
    };
    for r in c.query(q, &[&doc]).unwrap() {
        set_version(sys, doc, r.get(0), r.get(1));
    }
}

pub fn js(s: &str) -> String {
    Value::from(s).to_string()
}

/// One connection that edits one system.
pub struct Editor {
    pub c: Client,
    pub sys: Sys,
    upd: Statement,
    ins: Option<Statement>,
    pub retries: usize,
}

impl Editor {
    pub fn new(sys: Sys) -> Editor {
        let mut c = match sys {
            Sys::ExtRole => server().as_user(ROLE).connect(DB, APP),
            _ => connect(),
        };
        if sys == Sys::ExtQuiet {
            c.batch_execute("SET nodesync.notify = off").unwrap();
        }
        if sys == Sys::ExtMessage {
            c.batch_execute("SET nodesync.push = message").unwrap();
        }
        let (upd, ins) = match sys {
            Sys::Ext | Sys::ExtQuiet | Sys::ExtMessage | Sys::ExtRole => (
                c.prepare_typed("SELECT nodesync.apply_patch($1, $2::jsonb)->>'gen'", &[Type::TEXT, Type::TEXT]).unwrap(),
                Some(c.prepare_typed("SELECT nodesync.apply_patch($1, $2::jsonb)->>'gen'", &[Type::TEXT, Type::TEXT]).unwrap()),
            ),
            Sys::Floor | Sys::FloorQuiet | Sys::FloorWal => (
                {
                    let f = FLOOR_PUSH.iter().find(|p| p.0 == sys).expect("a floor variant").1;
                    let sql = format!("SELECT bench.{f}($1, $2, $3, $4::jsonb)::text");
                    c.prepare_typed(&sql, &[Type::TEXT, Type::TEXT, Type::INT8, Type::TEXT]).unwrap()
                },
                Some(c.prepare_typed("SELECT bench.floor_insert($1, $2, $3::jsonb)::text", &[Type::TEXT, Type::TEXT, Type::TEXT]).unwrap()),
            ),
            Sys::Snap => (
                c.prepare_typed("SELECT bench.sr_update($1, $2, 'text', $3::jsonb)::text", &[Type::TEXT, Type::TEXT, Type::TEXT]).unwrap(),
                None,
            ),
        };
        Editor { c, sys, upd, ins, retries: 0 }
    }

    /// Sets the `text` prop of one node (one committed transaction); returns the document's
    /// gen (the snapshot-rewrite baseline: its version) after it.
    pub fn update(&mut self, doc: &str, key: &str, text: &str) -> i64 {
        for attempt in 0..3 {
            let v = version_of(self.sys, doc, key);
            let r = match self.sys.store() {
                Sys::Ext => {
                    let patch = format!(
                        r#"{{"ops":[{{"op":"update","key":{},"version":{v},"props":{{"text":{}}}}}]}}"#,
                        js(key),
                        js(text)
                    );
                    self.c.query_one(&self.upd, &[&doc, &patch])
                }
                Sys::Floor => {
                    let delta = format!(r#"{{"text":{}}}"#, js(text));
                    self.c.query_one(&self.upd, &[&doc, &key, &v, &delta])
                }
                _ => self.c.query_one(&self.upd, &[&doc, &key, &js(text)]),
            };
            match r {
                Ok(row) => {
                    if self.sys != Sys::Snap {
                        set_version(self.sys, doc, key, v + 1);
                    }
                    let gen: String = row.get(0);
                    return gen.parse().expect("a gen");
                }
                Err(e) if e.code() == Some(&SqlState::T_R_SERIALIZATION_FAILURE) && attempt < 2 => {
                    // Not expected (the benchmark is the only writer): re-read and retry.
                    self.retries += 1;
                    let actual = self.actual_version(doc, key);
                    set_version(self.sys, doc, key, actual);
                }
                Err(e) => panic!("{} update {doc}/{key}: {e:?}", self.sys.name()),
            }
        }
        unreachable!("the third attempt panics or returns")
    }

    fn actual_version(&mut self, doc: &str, key: &str) -> i64 {
        let q = match self.sys.store() {
            Sys::Ext => "SELECT t.version FROM nodesync.tree t JOIN nodesync.documents d ON d.id = t.doc_id WHERE d.doc = $1 AND t.key = $2",
            _ => "SELECT version FROM bench.floor_node WHERE doc = $1 AND key = $2",
        };
        self.c.query_one(q, &[&doc, &key]).unwrap().get(0)
    }

    /// Creates a node under `parent` right after sibling `after` (the floor keeps no order).
    pub fn insert(&mut self, doc: &str, key: &str, parent: &str, after: &str, text: &str) {
        let ins = self.ins.as_ref().expect("insert not measured for this system");
        let r = match self.sys.store() {
            Sys::Ext => {
                let patch = format!(
                    r#"{{"ops":[{{"op":"create","key":{},"kind":"paragraph","parent":{},"after":{},"props":{{"text":{}}}}}]}}"#,
                    js(key),
                    js(parent),
                    js(after),
                    js(text)
                );
                self.c.query_one(ins, &[&doc, &patch])
            }
            _ => {
                let p = format!(r#"{{"text":{}}}"#, js(text));
                self.c.query_one(ins, &[&doc, &key, &p])
            }
        };
        if let Err(e) = r {
            panic!("{} insert {doc}/{key}: {e:?}", self.sys.name());
        }
    }
}

/// The text a loaded paragraph starts with.
pub fn para_text(i: usize) -> String {
    format!("Paragraph {i}: the quick brown fox jumps over the lazy dog.")
}

/// Paragraph keys of a flat document of `n` nodes (root + n-1 paragraphs).
pub fn flat_key(i: usize) -> String {
    format!("p{i}")
}

/// Paragraph keys of a sectioned document.
pub fn sec_key(s: usize, i: usize) -> String {
    format!("s{s}p{i}")
}

fn apply_creates(c: &mut Client, doc: &str, ops: &mut Vec<String>) {
    if ops.is_empty() {
        return;
    }
    let patch = format!(r#"{{"ops":[{}]}}"#, ops.join(","));
    c.query_one("SELECT nodesync.apply_patch($1, $2::text::jsonb)->>'gen'", &[&doc, &patch])
        .unwrap_or_else(|e| panic!("loading {doc}: {e:?}"));
    ops.clear();
}

fn create_op(key: &str, parent: &str, kind: &str, text: &str) -> String {
    format!(r#"{{"op":"create","key":{},"kind":"{kind}","parent":{},"props":{{"text":{}}}}}"#, js(key), js(parent), js(text))
}

const BATCH: usize = 10_000;

/// A flat document: root + `n - 1` paragraphs `p0..`, loaded through apply_patch.
pub fn load_flat(c: &mut Client, doc: &str, n: usize, empty_text: bool) {
    let t0 = Instant::now();
    c.query_one("SELECT nodesync.create_doc($1)", &[&doc]).unwrap();
    let mut ops = Vec::with_capacity(BATCH);
    for i in 0..n.saturating_sub(1) {
        let text = if empty_text { String::new() } else { para_text(i) };
        ops.push(create_op(&flat_key(i), "root", "paragraph", &text));
        if ops.len() == BATCH {
            apply_creates(c, doc, &mut ops);
            if (i + 1) % 100_000 == 0 {
                eprintln!("  load {doc}: {} nodes, {:.0}s", i + 2, t0.elapsed().as_secs_f64());
            }
        }
    }
    apply_creates(c, doc, &mut ops);
}

/// A sectioned document: root + `sections` sections of `per` paragraphs each.
pub fn load_sections(c: &mut Client, doc: &str, sections: usize, per: usize) {
    let t0 = Instant::now();
    c.query_one("SELECT nodesync.create_doc($1)", &[&doc]).unwrap();
    let mut ops = Vec::with_capacity(BATCH);
    for s in 0..sections {
        ops.push(create_op(&format!("s{s}"), "root", "section", &format!("Section {s}")));
    }
    apply_creates(c, doc, &mut ops);
    let mut done = 1 + sections;
    for s in 0..sections {
        for i in 0..per {
            ops.push(create_op(&sec_key(s, i), &format!("s{s}"), "paragraph", &para_text(s * per + i)));
            if ops.len() == BATCH {
                apply_creates(c, doc, &mut ops);
                done += BATCH;
                if done % 100_000 < BATCH {
                    eprintln!("  load {doc}: {done} nodes, {:.0}s", t0.elapsed().as_secs_f64());
                }
            }
        }
    }
    apply_creates(c, doc, &mut ops);
}

/// Copies a loaded pg_nodesync document into the floor (one row per node) and, if `snap`,
/// into the snapshot-rewrite baseline (one jsonb snapshot), with the same keys and props.
pub fn mirror(c: &mut Client, doc: &str, snap: bool) {
    c.execute("INSERT INTO bench.floor_doc VALUES ($1, 1)", &[&doc]).unwrap();
    c.execute(
        "INSERT INTO bench.floor_node
         SELECT $1, t.key, 1, 1, t.props FROM nodesync.tree t JOIN nodesync.documents d ON d.id = t.doc_id
          WHERE d.doc = $1 AND NOT t.deleted",
        &[&doc],
    )
    .unwrap();
    if snap {
        c.execute(
            "INSERT INTO bench.sr_snapshot
             SELECT $1, 1, jsonb_build_object('nodes', jsonb_object_agg(t.key,
                        jsonb_build_object('kind', t.kind, 'parent', t.parent, 'props', t.props)))
               FROM nodesync.tree t JOIN nodesync.documents d ON d.id = t.doc_id
              WHERE d.doc = $1 AND NOT t.deleted",
            &[&doc],
        )
        .unwrap();
    }
}

/// Current WAL position (text).
pub fn wal_lsn(c: &mut Client) -> String {
    c.query_one("SELECT pg_current_wal_lsn()::text", &[]).unwrap().get(0)
}

/// WAL bytes since `lsn`.
pub fn wal_since(c: &mut Client, lsn: &str) -> f64 {
    c.query_one("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1::text::pg_lsn)::float8", &[&lsn]).unwrap().get(0)
}
