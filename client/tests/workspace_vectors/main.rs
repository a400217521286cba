//! The shared test vectors of the workspace (`tests/vectors/README.md` is the contract):
//!
//! - `tests/vectors/text_diff.json`: `ot::diff(old, new)` as splices and
//!   `rebase::merge_text(base, local, remote)` (the cases: `text_diff.rs`);
//! - `tests/vectors/workspace.json`: scripted (`text_scripts.rs`, `structure_scripts.rs`,
//!   `rule_scripts.rs`, `cursor_scripts.rs`) and seeded random (`random.rs`) scenarios recorded
//!   from real `Workspace`s against the reference server (`sim::ModelServer`) through
//!   `recorder.rs`: every call, its result and the whole state of the workspace after it.
//!
//! By default the test recomputes everything and checks it equals the stored files (printing
//! the first differing case and where it differs: `file.rs`); every workspace case is also
//! replayed from its JSON alone (as the other client does) to check the format carries
//! everything needed. `NODESYNC_WRITE_VECTORS=1` rewrites them (then review the diff: the
//! files are the contract). Every scenario is also checked for sanity here (all workspaces
//! equal the server after settling, no typed word lost unreported), so the vectors encode
//! correct behaviour, not just current behaviour.

mod cursor_scripts;
mod file;
mod random;
mod recorder;
mod rule_scripts;
mod structure_scripts;
mod text_diff;
mod text_scripts;

use std::collections::BTreeSet;

use nodesync_core::patch::Place;
use pg_nodesync_client::Policy;
use recorder::Rec;
use serde_json::{json, Value};

use file::write_or_check;

#[test]
fn text_diff_vectors() {
    write_or_check("text_diff.json", &text_diff::doc(), &["diff", "merge"], true);
}

// ------------------------------------------------------------------------------ workspace

const SW: Policy = Policy::ServerWins;
const LW: Policy = Policy::LocalWins;

fn logname(with_log: bool) -> &'static str {
    if with_log {
        "log"
    } else {
        "no log"
    }
}

fn after(k: &str) -> Place {
    Place::After(k.to_string())
}

fn create_op(key: &str, kind: &str, parent: &str, props: Value) -> Value {
    json!({"op": "create", "key": key, "kind": kind, "parent": parent, "props": props})
}

/// `p1..` under the root and a section `sec` with paragraphs `a`, `b`.
fn with_section(name: &str, n: usize) -> Rec {
    Rec::new(
        name,
        n,
        json!([
            create_op("p1", "para", "root", json!({"text": "first"})),
            create_op("sec", "section", "root", json!({"text": "Title"})),
            create_op("a", "para", "sec", json!({"text": "A"})),
            create_op("b", "para", "sec", json!({"text": "B"})),
            create_op("p2", "para", "root", json!({"text": "last"})),
        ]),
    )
}

fn scripted() -> Vec<Rec> {
    [text_scripts::cases(), structure_scripts::cases(), rule_scripts::cases(), cursor_scripts::cases()].into_iter().flatten().collect()
}

#[test]
fn workspace_vectors() {
    let recs: Vec<Rec> = scripted().into_iter().chain(random::cases()).collect();
    let mut names = BTreeSet::new();
    for r in &recs {
        assert!(names.insert(r.name.clone()), "two cases named {:?}", r.name);
    }
    let cases: Vec<Value> = recs.iter().map(Rec::case).collect();
    // the stored JSON alone replays to the same results and states (what the other client does)
    for c in &cases {
        recorder::replay(c).unwrap_or_else(|e| panic!("{e}"));
    }
    let doc = json!({
        "about": "pg_nodesync workspace vectors (tests/vectors/README.md): scripted and seeded random scenarios recorded from \
                  the Rust Workspace against the reference model server (client/src/sim.rs ModelServer). Each step is one \
                  Workspace call on workspace ws with its arguments, its result (or the EditError name as error) and the whole \
                  state of that workspace after it. Pushes appear as their calls: a patch() the server committed is followed \
                  by committed_with(server tree, log since the old shadow or null, own gen), a refused one by \
                  rebase_with(server tree, log or null, policy) and a new attempt; an empty patch by forget_noop_edits. \
                  A null LOG means the rebase had no log (the diff fallback). Offsets are code points; ordered maps iterate \
                  keys in UTF-8 byte order.",
        "cases": cases,
    });
    let size = serde_json::to_string_pretty(&doc).unwrap().len();
    write_or_check("workspace.json", &doc, &["cases"], size < 3_000_000);
}
