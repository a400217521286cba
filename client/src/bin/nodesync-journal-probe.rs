//! Test helper for the durable-retry tests: opens a replica with a journal, makes one edit
//! (creates node KEY under the root and sets the root's "probe" prop) and pushes it, stopping
//! dead at the given crash point so the test can kill it.
//!
//!   nodesync-journal-probe DOC CLIENT JOURNAL KEY before-send|after-send|none
//!
//! Connection from PGHOST/PGPORT/PGUSER/PGDATABASE.

use pg_nodesync_client::replica::CrashPoint;
use pg_nodesync_client::{connect_env, Config, Place, Replica};
use serde_json::{json, Map};

fn main() {
    let a: Vec<String> = std::env::args().skip(1).collect();
    if a.len() != 5 {
        eprintln!("usage: nodesync-journal-probe DOC CLIENT JOURNAL KEY before-send|after-send|none");
        std::process::exit(2);
    }
    let mut cfg = Config::new(&a[0], &a[1]);
    cfg.journal = Some(a[2].clone().into());
    cfg.crash = match a[4].as_str() {
        "before-send" => Some(CrashPoint::BeforeSend),
        "after-send" => Some(CrashPoint::AfterSend),
        _ => None,
    };
    let conn = connect_env("nodesync-journal-probe").expect("connect");
    let mut r = Replica::open(conn, cfg).expect("open replica");
    let mut props = Map::new();
    props.insert("text".into(), json!("from the probe"));
    r.create_with_key(&a[3], "root", Place::Last, "para", props).expect("create");
    let mut delta = Map::new();
    delta.insert("probe".into(), json!(a[3]));
    r.update("root", None, delta).expect("update");
    let pushed = r.push().expect("push");
    println!("PUSHED {pushed:?}");
}
