//! Replays a real keystroke trace (`../shared/data/traces/automerge-paper.json.gz`, relative to
//! the repository; see its README) through one [`Replica`] against the server: the document is
//! a list of paragraph nodes, a typed newline is Enter (`split`), deleting a newline is a
//! `join`, every other keystroke a splice of one paragraph. The server must end with exactly
//! the trace's `endContent` (paragraph texts joined with "\n"), and the log must hold only
//! `text`, `split` and `join` ops.
//!
//! The measurement sends one patch per keystroke; to keep this test quick the replica
//! pushes every `NODESYNC_TRACE_BATCH` keystrokes (default 200; 1 = a patch per keystroke).
//! `NODESYNC_TRACE_EDITS=<n>` replays only the first n keystrokes (then the text is compared
//! with a local replay of the same prefix). Skipped, with a message, if the file is absent.

mod common;

use std::io::Read;
use std::time::Instant;

use pg_nodesync_client::{Config, Replica, Tree};
use serde_json::{json, Value};

fn trace_path() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/traces/automerge-paper.json.gz")
}

/// The document as a list of paragraphs, mirrored to map whole-text offsets to
/// (paragraph, offset).
struct Mirror {
    keys: Vec<String>,
    lens: Vec<usize>,
}

impl Mirror {
    /// Paragraph index and offset of whole-text offset `pos` (the end of a paragraph is before
    /// its newline).
    fn locate(&self, pos: usize) -> (usize, usize) {
        let mut rem = pos;
        for (i, l) in self.lens.iter().enumerate() {
            if rem <= *l {
                return (i, rem);
            }
            rem -= l + 1;
        }
        let last = self.lens.len() - 1;
        (last, self.lens[last])
    }
}

#[test]
fn automerge_paper_trace_replays_to_its_end_content() {
    let path = trace_path();
    let Ok(f) = std::fs::File::open(&path) else {
        eprintln!("SKIPPED: trace file {} is absent (see ../shared/data/traces/README.md)", path.display());
        return;
    };
    let mut s = String::new();
    flate2::read::GzDecoder::new(f).read_to_string(&mut s).expect("read the gzipped trace");
    let trace: Value = serde_json::from_str(&s).expect("trace JSON");
    let start = trace["startContent"].as_str().unwrap_or("");
    let txns = trace["txns"].as_array().expect("txns");
    let limit: usize = std::env::var("NODESYNC_TRACE_EDITS").ok().and_then(|s| s.parse().ok()).unwrap_or(usize::MAX);
    let batch: usize = std::env::var("NODESYNC_TRACE_BATCH").ok().and_then(|s| s.parse().ok()).unwrap_or(200).max(1);

    let mut c = common::connect("trace");
    let doc = common::new_doc(&mut c, "trace");
    // one paragraph per line of the start content
    let lines: Vec<&str> = start.split('\n').collect();
    let ops: Vec<Value> = lines.iter().enumerate().map(|(i, l)| json!({"op": "create", "key": format!("l{i}"), "kind": "para", "parent": "root", "props": {"text": l}})).collect();
    c.execute("SELECT nodesync.apply_patch($1, $2)", &[&doc, &json!({ "ops": ops })]).unwrap();
    let mut cfg = Config::new(&doc, "typist");
    cfg.key_prefix = Some("k".into());
    let mut r = Replica::open(common::connect("trace"), cfg).unwrap();
    let mut m = Mirror { keys: (0..lines.len()).map(|i| format!("l{i}")).collect(), lens: lines.iter().map(|l| l.chars().count()).collect() };
    let mut expect: Vec<char> = start.chars().collect();

    let t0 = Instant::now();
    let (mut keystrokes, mut pushes, mut splits, mut joins) = (0usize, 0usize, 0usize, 0usize);
    for t in txns.iter().take(limit) {
        for p in t["patches"].as_array().expect("patches") {
            let pos = p[0].as_u64().expect("pos") as usize;
            let mut del = p[1].as_u64().expect("ndel") as usize;
            let ins = p[2].as_str().unwrap_or("");
            expect.splice(pos..pos + del, ins.chars());
            while del > 0 {
                let (b, off) = m.locate(pos);
                if off < m.lens[b] {
                    let n = del.min(m.lens[b] - off);
                    r.splice(&m.keys[b], "text", off, n, "").unwrap();
                    m.lens[b] -= n;
                    del -= n;
                } else {
                    // the newline after paragraph b
                    let kept = r.join(&m.keys[b], &m.keys[b + 1], "text").unwrap();
                    assert_eq!(kept, m.keys[b]);
                    m.lens[b] += m.lens[b + 1];
                    m.keys.remove(b + 1);
                    m.lens.remove(b + 1);
                    del -= 1;
                    joins += 1;
                }
            }
            let mut at = pos;
            for (i, seg) in ins.split('\n').enumerate() {
                if i > 0 {
                    let (b, off) = m.locate(at);
                    let new = r.fresh_key();
                    r.split(&m.keys[b], "text", off, &new).unwrap();
                    m.keys.insert(b + 1, new);
                    m.lens.insert(b + 1, m.lens[b] - off);
                    m.lens[b] = off;
                    at += 1;
                    splits += 1;
                }
                if !seg.is_empty() {
                    let (b, off) = m.locate(at);
                    r.splice(&m.keys[b], "text", off, 0, seg).unwrap();
                    let n = seg.chars().count();
                    m.lens[b] += n;
                    at += n;
                }
            }
            keystrokes += 1;
            if keystrokes % batch == 0 {
                r.push().unwrap();
                pushes += 1;
            }
        }
    }
    r.push().unwrap();
    pushes += 1;
    let secs = t0.elapsed().as_secs_f64();

    let snap: Value = c.query_one("SELECT nodesync.snapshot($1)", &[&doc]).unwrap().get(0);
    let server = Tree::from_snapshot(&snap).unwrap();
    let text: String = server.children("root").iter().map(|k| server.get(k).unwrap().props.get("text").and_then(Value::as_str).unwrap_or("").to_string()).collect::<Vec<_>>().join("\n");
    let want: String = if limit == usize::MAX { trace["endContent"].as_str().expect("endContent").to_string() } else { expect.iter().collect() };
    assert_eq!(expect.iter().collect::<String>(), want, "the trace's own patches do not give endContent");
    if text != want {
        let at = text.chars().zip(want.chars()).take_while(|(a, b)| a == b).count();
        panic!("server text differs from the trace from code point {at} on ({} vs {} code points)", text.chars().count(), want.chars().count());
    }
    assert_eq!(r.tree().flat(), server.flat());
    let kinds: Vec<String> = c
        .query("SELECT DISTINCT o->>'op' FROM nodesync.changes_since($1, 2), jsonb_array_elements(patch->'ops') o ORDER BY 1", &[&doc])
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert!(kinds.iter().all(|k| ["text", "split", "join"].contains(&k.as_str())), "unexpected ops in the log: {kinds:?}");
    eprintln!(
        "trace: {keystrokes} keystrokes ({splits} Enter, {joins} joins) in {pushes} patches ({batch} keystrokes each), {secs:.1}s: {:.0} edits/s, \
         {:.0} patches/s; {} paragraphs, {} code points; ops in the log: {kinds:?}",
        keystrokes as f64 / secs,
        pushes as f64 / secs,
        server.children("root").len(),
        want.chars().count()
    );
}
