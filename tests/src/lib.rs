//! Helpers shared by the external-client tests (tests/tests/*.rs).
//!
//! The tests talk to a running server through ordinary client sessions, the way an application
//! does. The connection comes from the libpq variables PGHOST, PGPORT and PGUSER (see
//! `scripts/cluster.sh env`). Each test process works in a database of its own,
//! `nodesync_client_<pid>`, created with a fresh `CREATE EXTENSION pg_nodesync` (so the tests
//! always see the installed build, and test processes running at the same time do not disturb
//! each other). Databases left by earlier, finished test processes are dropped. The server
//! settings, sessions, database setup and snapshot rows come from `nodesync_testkit`.

use std::collections::BTreeMap;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use postgres::Client;
use serde_json::Value;

pub use nodesync_core::reference::{random_patch, Applied, Model, Rng};
pub use nodesync_testkit::{flatten_snapshot, json_row, pg_bin, server, snapshot_rows, unique_doc, Flat, NodeRow};

const APP: &str = "nodesync_tests";

/// The libpq connection string of database `dbname` on the test server (PGHOST, PGPORT, PGUSER).
pub fn conninfo(dbname: &str) -> String {
    server().conninfo(dbname, APP)
}

const DB_PREFIX: &str = "nodesync_client_";

/// The database this test process uses.
pub fn test_db() -> String {
    format!("{DB_PREFIX}{}", std::process::id())
}

static SETUP: OnceLock<()> = OnceLock::new();

fn setup() {
    SETUP.get_or_init(|| {
        let mut admin = connect_to("postgres");
        // leftovers of test processes that are gone (`<prefix><pid>`, or from fresh_database
        // `<prefix><pid>_<suffix>`)
        nodesync_testkit::drop_leftover_databases(&mut admin, DB_PREFIX);
        server().fresh_database(&mut admin, &test_db(), APP);
    });
}

/// A new session on the test database (with the extension created).
pub fn connect() -> Client {
    setup();
    connect_to(&test_db())
}

/// A new document with a unique id; returns the id.
pub fn new_doc(c: &mut Client, name: &str) -> String {
    let doc = unique_doc(name);
    let gen: i64 = c.query_one("SELECT nodesync.create_doc($1)", &[&doc]).expect("create_doc").get(0);
    assert_eq!(gen, 1, "create_doc returns gen 1");
    doc
}

/// A server error as the tests look at it.
#[derive(Debug, Clone)]
pub struct DbErr {
    pub code: String,
    pub message: String,
    pub detail: Option<String>,
}

impl DbErr {
    /// The DETAIL parsed as JSON (conflicts carry JSON DETAIL).
    pub fn detail_json(&self) -> Value {
        let d = self.detail.as_deref().unwrap_or_else(|| panic!("error {self:?} has no DETAIL"));
        serde_json::from_str(d).unwrap_or_else(|e| panic!("DETAIL is not JSON ({e}): {d}"))
    }
}

/// SQLSTATE, message and DETAIL of a server error; panics on client-side errors.
pub fn db_err(e: postgres::Error) -> DbErr {
    match e.as_db_error() {
        Some(d) => DbErr { code: d.code().code().to_string(), message: d.message().to_string(), detail: d.detail().map(str::to_string) },
        None => panic!("not a server error: {e}"),
    }
}

/// `nodesync.apply_patch(doc, patch, client, seq)`: the result, or the server error.
pub fn apply_as(c: &mut Client, doc: &str, patch: &Value, client: Option<&str>, seq: Option<i64>) -> Result<Value, DbErr> {
    c.query_one("SELECT nodesync.apply_patch($1, $2, $3, $4)", &[&doc, patch, &client, &seq])
        .map(|r| r.get::<_, Value>(0))
        .map_err(db_err)
}

/// `nodesync.apply_patch(doc, patch)`.
pub fn apply(c: &mut Client, doc: &str, patch: &Value) -> Result<Value, DbErr> {
    apply_as(c, doc, patch, None, None)
}

/// `nodesync.apply_patch`, which must succeed.
pub fn apply_ok(c: &mut Client, doc: &str, patch: &Value) -> Value {
    apply(c, doc, patch).unwrap_or_else(|e| panic!("patch {patch} on {doc} failed: {e:?}"))
}

/// `nodesync.try_apply_patch(doc, patch)`: conflicts come back as `{"ok": false, ...}`.
pub fn try_apply(c: &mut Client, doc: &str, patch: &Value) -> Result<Value, DbErr> {
    c.query_one("SELECT nodesync.try_apply_patch($1, $2)", &[&doc, patch]).map(|r| r.get::<_, Value>(0)).map_err(db_err)
}

/// `nodesync.snapshot(doc, at_gen)`.
pub fn snapshot(c: &mut Client, doc: &str, at_gen: Option<i64>) -> Result<Value, DbErr> {
    c.query_one("SELECT nodesync.snapshot($1, $2)", &[&doc, &at_gen]).map(|r| r.get::<_, Value>(0)).map_err(db_err)
}

/// `nodesync.diff_since(doc, since)`.
pub fn diff_since(c: &mut Client, doc: &str, since: i64) -> Result<Value, DbErr> {
    c.query_one("SELECT nodesync.diff_since($1, $2)", &[&doc, &since]).map(|r| r.get::<_, Value>(0)).map_err(db_err)
}

/// The document's current gen, from `snapshot`.
pub fn gen(c: &mut Client, doc: &str) -> i64 {
    snapshot(c, doc, None).expect("snapshot")["gen"].as_i64().expect("snapshot gen")
}

/// `nodesync.nodes(doc)` keyed by node key.
pub fn nodes(c: &mut Client, doc: &str) -> BTreeMap<String, NodeRow> {
    c.query("SELECT key, parent, pos, kind, props, version, gen FROM nodesync.nodes($1)", &[&doc])
        .expect("nodes()")
        .into_iter()
        .map(|r| {
            (r.get(0), NodeRow { parent: r.get(1), pos: r.get(2), kind: r.get(3), props: r.get(4), version: r.get(5), gen: r.get(6) })
        })
        .collect()
}

/// The server pid of a session.
pub fn backend_pid(c: &mut Client) -> i32 {
    c.query_one("SELECT pg_backend_pid()", &[]).expect("pg_backend_pid").get(0)
}

/// Waits (up to `timeout`) until backend `pid` waits for a heavyweight lock; true if it did.
/// `monitor` must be a session outside any transaction, so each query sees fresh statistics.
pub fn wait_until_lock_waiting(monitor: &mut Client, pid: i32, timeout: Duration) -> bool {
    let t0 = Instant::now();
    while t0.elapsed() < timeout {
        let waiting: bool = monitor
            .query_one("SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND wait_event_type = 'Lock')", &[&pid])
            .expect("pg_stat_activity")
            .get(0);
        if waiting {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// Whether backend `pid` is waiting for a lock right now.
pub fn is_lock_waiting(monitor: &mut Client, pid: i32) -> bool {
    monitor
        .query_one("SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND wait_event_type = 'Lock')", &[&pid])
        .expect("pg_stat_activity")
        .get(0)
}

/// A patch's `versions` map as the model has it.
pub fn versions_map(v: &Value) -> BTreeMap<String, Option<i64>> {
    v.as_object()
        .unwrap_or_else(|| panic!("versions is not an object: {v}"))
        .iter()
        .map(|(k, x)| (k.clone(), if x.is_null() { None } else { Some(x.as_i64().unwrap_or_else(|| panic!("version {x} of {k}"))) }))
        .collect()
}

/// A session on another database of the same server (`dbname`), as the test user.
pub fn connect_to(dbname: &str) -> Client {
    server().connect(dbname, APP)
}

/// A new, empty database `<test_db()>_<suffix>` (dropped first if a previous run left it);
/// nothing is created in it. Drop it with [`drop_database`] when done.
pub fn fresh_database(suffix: &str) -> String {
    setup();
    let name = format!("{}_{suffix}", test_db());
    nodesync_testkit::recreate_database(&mut connect_to("postgres"), &name);
    name
}

/// Drops a database made by [`fresh_database`].
pub fn drop_database(name: &str) {
    nodesync_testkit::drop_database(&mut connect_to("postgres"), name);
}

/// Login roles for a test, named `<prefix>_<pid>_<name>`, created now and dropped (with what
/// they own or were granted in this process's databases) when the value is dropped.
pub struct Roles {
    pub names: Vec<String>,
}

impl Roles {
    pub fn create(prefix: &str, names: &[&str]) -> Roles {
        setup();
        let mut admin = connect_to("postgres");
        let names: Vec<String> = names.iter().map(|n| format!("{prefix}_{}_{n}", std::process::id())).collect();
        for n in &names {
            let _ = admin.batch_execute(&format!("DROP ROLE IF EXISTS \"{n}\""));
            admin.batch_execute(&format!("CREATE ROLE \"{n}\" LOGIN")).unwrap_or_else(|e| panic!("create role {n}: {e}"));
        }
        Roles { names }
    }

    /// A session on `dbname` logged in as role number `i`.
    pub fn connect(&self, i: usize, dbname: &str) -> Client {
        server().as_user(&self.names[i]).connect(dbname, APP)
    }
}

impl Drop for Roles {
    fn drop(&mut self) {
        let mut admin = connect_to("postgres");
        let dbs: Vec<String> = admin
            .query("SELECT datname FROM pg_database WHERE datname LIKE $1 || '%'", &[&test_db()])
            .map(|rows| rows.iter().map(|r| r.get(0)).collect())
            .unwrap_or_default();
        for db in dbs {
            if let Ok(mut c) = server().try_connect(&db, APP) {
                for n in &self.names {
                    let _ = c.batch_execute(&format!("DROP OWNED BY \"{n}\""));
                }
            }
        }
        for n in &self.names {
            let _ = admin.batch_execute(&format!("DROP ROLE IF EXISTS \"{n}\""));
        }
    }
}

/// One read as a JSON value: its rows (`sql` is wrapped in `jsonb_agg`), or its error's
/// SQLSTATE and message. `$1` is the document id, `$2` the integer or text argument if any.
fn read_value(c: &mut Client, sql: &str, doc: &str, arg: Option<i64>, key: Option<&str>) -> Value {
    let q = format!("SELECT coalesce(jsonb_agg(to_jsonb(x)), '[]') FROM ({sql}) x");
    let r = match (arg, key) {
        (Some(a), _) => c.query_one(&q, &[&doc, &a]),
        (None, Some(k)) => c.query_one(&q, &[&doc, &k]),
        (None, None) => c.query_one(&q, &[&doc]),
    };
    match r {
        Ok(row) => row.get(0),
        Err(e) => {
            let e = db_err(e);
            serde_json::json!({"error": e.code, "message": e.message})
        }
    }
}

/// Everything a reader can ask about `doc` on this server, for gens up to `upto` + 1: the
/// snapshot now and at every gen, `nodes`, `live_nodes`, its `documents` row, `diff_since` and
/// `changes_since` from every gen, `node_history` of every key ever used (and of one never
/// used), and `wait_gen(doc, 0, 0)`. Errors (below the horizon, out of range, unknown
/// document) are part of the answer. Two servers, or one before and after an upgrade, that
/// return equal values answer every read alike.
pub fn all_reads(c: &mut Client, doc: &str, upto: i64) -> Value {
    let mut out = serde_json::Map::new();
    out.insert("snapshot".into(), read_value(c, "SELECT nodesync.snapshot($1) AS s", doc, None, None));
    out.insert("nodes".into(), read_value(c, "SELECT * FROM nodesync.nodes($1) ORDER BY key", doc, None, None));
    out.insert("live_nodes".into(), read_value(c, "SELECT * FROM nodesync.live_nodes WHERE doc = $1 ORDER BY key", doc, None, None));
    out.insert(
        "documents".into(),
        read_value(c, "SELECT id, doc, gen, horizon, live_nodes, created_by, created_at, meta FROM nodesync.documents WHERE doc = $1", doc, None, None),
    );
    for g in 0..=upto + 1 {
        out.insert(format!("snapshot@{g}"), read_value(c, "SELECT nodesync.snapshot($1, $2) AS s", doc, Some(g), None));
        out.insert(format!("diff_since {g}"), read_value(c, "SELECT nodesync.diff_since($1, $2) AS d", doc, Some(g), None));
        out.insert(format!("changes_since {g}"), read_value(c, "SELECT * FROM nodesync.changes_since($1, $2)", doc, Some(g), None));
    }
    let keys: Vec<String> = c
        .query("SELECT t.key FROM nodesync.tree t JOIN nodesync.documents d ON d.id = t.doc_id WHERE d.doc = $1 ORDER BY 1", &[&doc])
        .expect("keys")
        .iter()
        .map(|r| r.get(0))
        .collect();
    for k in keys.iter().map(String::as_str).chain(["never-existed"]) {
        out.insert(format!("node_history {k}"), read_value(c, "SELECT * FROM nodesync.node_history($1, $2)", doc, None, Some(k)));
    }
    let w = c.query_one("SELECT nodesync.wait_gen($1, 0, 0)", &[&doc]).map(|r| r.get::<_, i64>(0)).map_err(|e| db_err(e).code);
    out.insert("wait_gen".into(), serde_json::json!(w));
    Value::Object(out)
}

/// `v` with the arrays whose order no function promises put in order: a diff's `nodes` (by
/// key) and `deleted`. (A plan change, such as partitioned tables, may list them in another
/// order; SPEC fixes the order of snapshot children, `changes_since` and `node_history` only.)
pub fn canonical(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut out = serde_json::Map::new();
            for (k, x) in m {
                let mut x = canonical(x);
                if let (true, Value::Array(a)) = (k == "nodes" || k == "deleted", &mut x) {
                    a.sort_by_key(|n| n.get("key").map(|k| k.to_string()).unwrap_or_else(|| n.to_string()));
                }
                out.insert(k.clone(), x);
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(canonical).collect()),
        x => x.clone(),
    }
}

/// Where two JSON values first differ (a path like `doc-1/diff_since 3/0/d/nodes`), if they do.
pub fn first_difference(a: &Value, b: &Value) -> Option<String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for (k, v) in x {
                match y.get(k) {
                    None => return Some(format!("{k}: only on the left")),
                    Some(w) => {
                        if let Some(d) = first_difference(v, w) {
                            return Some(format!("{k}/{d}"));
                        }
                    }
                }
            }
            y.keys().find(|k| !x.contains_key(*k)).map(|k| format!("{k}: only on the right"))
        }
        (Value::Array(x), Value::Array(y)) => {
            for (i, (v, w)) in x.iter().zip(y).enumerate() {
                if let Some(d) = first_difference(v, w) {
                    return Some(format!("{i}/{d}"));
                }
            }
            (x.len() != y.len()).then(|| format!("lengths {} and {}", x.len(), y.len()))
        }
        _ => (a != b).then(|| format!("{a} vs {b}")),
    }
}

/// Asserts that two JSON values are equal, naming where they differ rather than printing both.
#[track_caller]
pub fn assert_same(a: &Value, b: &Value, what: &str) {
    if let Some(d) = first_difference(a, b) {
        panic!("{what}: they differ at {d}");
    }
}

/// Session B, in a thread: applies `patch` to `doc` (after `setup`, if any) and sends back the
/// outcome; with its backend pid, for [`wait_until_lock_waiting`].
pub fn spawn_apply(doc: &str, patch: Value, setup: &str) -> (i32, std::sync::mpsc::Receiver<Result<Value, DbErr>>, std::thread::JoinHandle<()>) {
    let mut b = connect();
    if !setup.is_empty() {
        b.batch_execute(setup).expect("session B setup");
    }
    let pid = backend_pid(&mut b);
    let (tx, rx) = std::sync::mpsc::channel();
    let doc = doc.to_string();
    let h = std::thread::spawn(move || {
        let r = apply(&mut b, &doc, &patch);
        let _ = tx.send(r);
    });
    (pid, rx, h)
}
