use super::*;
use crate::patch::parse;
use crate::memstore::MemStore;
use serde_json::json;

fn doc() -> MemStore {
    MemStore::new("doc", Map::new())
}

fn apply(s: &mut MemStore, ops: Value) -> std::result::Result<Plan, Vec<Conflict>> {
    apply_base(s, ops, None)
}

fn apply_base(s: &mut MemStore, ops: Value, base: Option<i64>) -> std::result::Result<Plan, Vec<Conflict>> {
    let mut p = json!({"ops": ops});
    if let Some(b) = base {
        p["base"] = json!(b);
    }
    let patch = parse(&p, &Limits::default()).unwrap();
    match evaluate(s, &patch, Limits::default()).unwrap() {
        Outcome::Plan(plan) => {
            s.apply(&plan);
            Ok(plan)
        }
        Outcome::Conflicts(c) => Err(c),
    }
}

fn kids(s: &mut MemStore, parent: &str) -> Vec<String> {
    s.children_after(parent, None, usize::MAX).unwrap().into_iter().map(|c| c.0).collect()
}

fn reason(r: std::result::Result<Plan, Vec<Conflict>>) -> Reason {
    r.unwrap_err()[0].reason
}

#[test]
fn places_children() {
    let mut s = doc();
    apply(&mut s, json!([{"op": "create", "key": "p1", "kind": "p", "parent": "root"}])).unwrap();
    apply(&mut s, json!([{"op": "create", "key": "p3", "kind": "p", "parent": "root"}])).unwrap();
    apply(&mut s, json!([{"op": "create", "key": "p2", "kind": "p", "parent": "root", "after": "p1"}])).unwrap();
    apply(&mut s, json!([{"op": "create", "key": "p0", "kind": "p", "parent": "root", "after": null}])).unwrap();
    assert_eq!(kids(&mut s, "root"), ["p0", "p1", "p2", "p3"]);
}

#[test]
fn versions_once_per_patch() {
    let mut s = doc();
    apply(&mut s, json!([{"op": "create", "key": "a", "kind": "p", "parent": "root"}])).unwrap();
    let plan = apply(&mut s, json!([
        {"op": "update", "key": "a", "version": 1, "props": {"x": 1}},
        {"op": "update", "key": "a", "version": 1, "props": {"y": 2, "x": null}},
        {"op": "move", "key": "a", "version": 1, "parent": "root", "after": null}
    ])).unwrap();
    assert_eq!(Value::Object(plan.versions), json!({"a": 2}));
    assert_eq!(Value::Object(s.nodes["a"].props.clone()), json!({"y": 2}));
    assert_eq!(reason(apply(&mut s, json!([{"op": "update", "key": "a", "version": 1}]))), Reason::Version);
}

#[test]
fn ops_on_created_nodes_skip_version_checks() {
    let mut s = doc();
    let plan = apply(&mut s, json!([
        {"op": "create", "key": "s", "kind": "sec", "parent": "root"},
        {"op": "create", "key": "a", "kind": "p", "parent": "s"},
        {"op": "create", "key": "b", "kind": "p", "parent": "s", "after": null},
        {"op": "update", "key": "a", "version": 7, "props": {"t": 1}},
        {"op": "create", "key": "c", "kind": "p", "parent": "s", "after": "b"}
    ])).unwrap();
    assert_eq!(Value::Object(plan.versions), json!({"s": 1, "a": 1, "b": 1, "c": 1}));
    assert_eq!(kids(&mut s, "s"), ["b", "c", "a"]);
    assert_eq!(Value::Object(s.nodes["a"].props.clone()), json!({"t": 1}));
}

#[test]
fn every_conflict_reason() {
    let mut s = doc();
    apply(&mut s, json!([
        {"op": "create", "key": "a", "kind": "p", "parent": "root"},
        {"op": "create", "key": "s", "kind": "sec", "parent": "root"},
        {"op": "create", "key": "s1", "kind": "p", "parent": "s"},
        {"op": "create", "key": "s2", "kind": "sec", "parent": "s"}
    ])).unwrap();
    let base = s.gen;
    assert_eq!(reason(apply(&mut s, json!([{"op": "update", "key": "a", "version": 2}]))), Reason::Version);
    assert_eq!(reason(apply(&mut s, json!([{"op": "create", "key": "a", "kind": "p", "parent": "root"}]))), Reason::Exists);
    assert_eq!(reason(apply(&mut s, json!([{"op": "create", "key": "n", "kind": "p", "parent": "zz"}]))), Reason::Missing);
    assert_eq!(reason(apply(&mut s, json!([{"op": "create", "key": "n", "kind": "p", "parent": "root", "after": "zz"}]))), Reason::Missing);
    assert_eq!(reason(apply(&mut s, json!([{"op": "create", "key": "n", "kind": "p", "parent": "root", "after": "s1"}]))), Reason::Anchor);
    assert_eq!(reason(apply(&mut s, json!([{"op": "move", "key": "s", "version": 1, "parent": "s2"}]))), Reason::Cycle);
    assert_eq!(reason(apply(&mut s, json!([{"op": "move", "key": "s", "version": 1, "parent": "s"}]))), Reason::Cycle);
    apply(&mut s, json!([{"op": "update", "key": "s1", "version": 1, "props": {"e": true}}])).unwrap();
    assert_eq!(reason(apply_base(&mut s, json!([{"op": "delete", "key": "s", "version": 1}]), Some(base))), Reason::Subtree);
    let now = s.gen;
    let plan = apply_base(&mut s, json!([{"op": "delete", "key": "s", "version": 1}]), Some(now)).unwrap();
    assert_eq!(Value::Object(plan.versions), json!({"s": null, "s1": null, "s2": null}));
    assert_eq!(reason(apply(&mut s, json!([{"op": "create", "key": "s1", "kind": "p", "parent": "root"}]))), Reason::Exists);
    assert_eq!(reason(apply(&mut s, json!([{"op": "update", "key": "s1", "version": 2}]))), Reason::Missing);
}

#[test]
fn conflicts_are_listed_in_op_order() {
    let mut s = doc();
    apply(&mut s, json!([{"op": "create", "key": "a", "kind": "p", "parent": "root"}, {"op": "create", "key": "b", "kind": "p", "parent": "root"}])).unwrap();
    let c = apply(&mut s, json!([
        {"op": "update", "key": "b", "version": 1},
        {"op": "update", "key": "a", "version": 3},
        {"op": "delete", "key": "zz", "version": 1}
    ])).unwrap_err();
    assert_eq!(c.iter().map(|c| (c.op, c.reason)).collect::<Vec<_>>(), [(1, Reason::Version), (2, Reason::Missing)]);
    assert_eq!((c[0].expected, c[0].actual), (Some(3), Some(1)));
}

#[test]
fn delete_follows_moves_within_the_patch() {
    let mut s = doc();
    apply(&mut s, json!([
        {"op": "create", "key": "s", "kind": "sec", "parent": "root"},
        {"op": "create", "key": "t", "kind": "sec", "parent": "root"},
        {"op": "create", "key": "a", "kind": "p", "parent": "s"},
        {"op": "create", "key": "b", "kind": "p", "parent": "s"},
        {"op": "create", "key": "c", "kind": "p", "parent": "t"},
        {"op": "create", "key": "c1", "kind": "p", "parent": "c"}
    ])).unwrap();
    let plan = apply(&mut s, json!([
        {"op": "move", "key": "a", "version": 1, "parent": "root"},
        {"op": "move", "key": "c", "version": 1, "parent": "s"},
        {"op": "create", "key": "n", "kind": "p", "parent": "b"},
        {"op": "delete", "key": "s", "version": 1}
    ])).unwrap();
    assert_eq!(Value::Object(plan.versions), json!({"a": 2, "c": null, "c1": null, "s": null, "b": null, "n": null}));
    assert_eq!(kids(&mut s, "root"), ["t", "a"]);
    assert_eq!(plan.ephemeral, vec![("n".to_string(), "p".to_string())]);
    assert!(s.nodes["n"].row.deleted);
}

#[test]
fn moving_within_a_parent_skips_itself() {
    let mut s = doc();
    for k in ["a", "b", "c"] {
        apply(&mut s, json!([{"op": "create", "key": k, "kind": "p", "parent": "root"}])).unwrap();
    }
    apply(&mut s, json!([{"op": "move", "key": "b", "version": 1, "parent": "root", "after": "a"}])).unwrap();
    assert_eq!(kids(&mut s, "root"), ["a", "b", "c"]);
    apply(&mut s, json!([{"op": "move", "key": "c", "version": 1, "parent": "root", "after": null}])).unwrap();
    apply(&mut s, json!([{"op": "move", "key": "c", "version": 2, "parent": "root"}])).unwrap();
    assert_eq!(kids(&mut s, "root"), ["a", "b", "c"]);
    apply(&mut s, json!([{"op": "move", "key": "a", "version": 1, "parent": "root", "after": "c"}])).unwrap();
    assert_eq!(kids(&mut s, "root"), ["b", "c", "a"]);
}

#[test]
fn depth_limit_at_and_past() {
    let mut s = doc();
    let limits = Limits { max_depth: 3, ..Limits::default() };
    let run = |s: &mut MemStore, ops: Value| {
        let patch = parse(&json!({"ops": ops}), &limits).unwrap();
        match evaluate(s, &patch, limits) {
            Ok(Outcome::Plan(plan)) => {
                s.apply(&plan);
                Ok(())
            }
            Ok(Outcome::Conflicts(c)) => panic!("{c:?}"),
            Err(e) => Err(e),
        }
    };
    // root(0) > a(1) > b(2) > c(3): at the limit
    run(&mut s, json!([
        {"op": "create", "key": "a", "kind": "p", "parent": "root"},
        {"op": "create", "key": "b", "kind": "p", "parent": "a"},
        {"op": "create", "key": "c", "kind": "p", "parent": "b"}
    ])).unwrap();
    let e = run(&mut s, json!([{"op": "create", "key": "d", "kind": "p", "parent": "c"}])).unwrap_err();
    assert!(matches!(e, Error::Limit { guc: "nodesync.max_depth", actual: 4, .. }), "{e:?}");
    // moving a (height 2) under x (depth 1) would put c at depth 4
    run(&mut s, json!([{"op": "create", "key": "x", "kind": "p", "parent": "root"}])).unwrap();
    let e = run(&mut s, json!([{"op": "move", "key": "a", "version": 1, "parent": "x"}])).unwrap_err();
    assert!(matches!(e, Error::Limit { guc: "nodesync.max_depth", .. }), "{e:?}");
    // moving b (height 1) under x: c at depth 3, fine
    run(&mut s, json!([{"op": "move", "key": "b", "version": 1, "parent": "x"}])).unwrap();
    // reordering or moving up never needs the subtree: fine even with the limit lowered
    let tight = Limits { max_depth: 1, ..Limits::default() };
    let patch = parse(&json!({"ops": [{"op": "move", "key": "x", "version": 1, "parent": "root", "after": null}]}), &tight).unwrap();
    assert!(matches!(evaluate(&mut s, &patch, tight), Ok(Outcome::Plan(_))));
    // depths follow moves within one patch
    let e = run(&mut s, json!([
        {"op": "move", "key": "x", "version": 1, "parent": "a"},
        {"op": "create", "key": "y", "kind": "p", "parent": "c"}
    ])).unwrap_err();
    assert!(matches!(e, Error::Limit { guc: "nodesync.max_depth", .. }), "{e:?}");
}

fn text(s: &MemStore, key: &str) -> String {
    s.nodes[key].props.get("text").and_then(Value::as_str).unwrap_or("?").to_string()
}

#[test]
fn split_then_join_in_one_patch_restores_the_block() {
    let mut s = doc();
    apply(&mut s, json!([{"op": "create", "key": "a", "kind": "p", "parent": "root", "props": {"text": "héllo wörld"}}])).unwrap();
    let plan = apply(&mut s, json!([
        {"op": "split", "key": "a", "version": 1, "prop": "text", "at": 5, "new": "b"},
        {"op": "text", "key": "b", "version": 1, "prop": "text", "edits": [[0, 1, "_"]]},
        {"op": "join", "key": "a", "version": 1, "next": "b", "next_version": 1, "prop": "text"}
    ])).unwrap();
    assert_eq!(text(&s, "a"), "héllo_wörld");
    assert_eq!(Value::Object(plan.versions), json!({"a": 2, "b": null}));
    assert_eq!(plan.ephemeral, vec![("b".to_string(), "p".to_string())]);
    assert_eq!(kids(&mut s, "root"), ["a"]);
}

#[test]
fn join_moves_stored_and_new_children_in_order() {
    let mut s = doc();
    apply(&mut s, json!([
        {"op": "create", "key": "l1", "kind": "li", "parent": "root", "props": {"text": "x"}},
        {"op": "create", "key": "l2", "kind": "li", "parent": "root"},
        {"op": "create", "key": "c1", "kind": "p", "parent": "l1"},
        {"op": "create", "key": "c2", "kind": "p", "parent": "l2"},
        {"op": "create", "key": "c3", "kind": "p", "parent": "l2"}
    ])).unwrap();
    let plan = apply(&mut s, json!([
        {"op": "create", "key": "c0", "kind": "p", "parent": "l2", "after": null},
        {"op": "move", "key": "c3", "version": 1, "parent": "root"},
        {"op": "join", "key": "l1", "version": 1, "next": "l2", "next_version": 1, "prop": "text"}
    ])).unwrap();
    assert_eq!(kids(&mut s, "l1"), ["c1", "c0", "c2"]);
    assert_eq!(kids(&mut s, "root"), ["l1", "c3"]);
    assert_eq!(text(&s, "l1"), "x");
    assert_eq!(Value::Object(plan.versions), json!({"c0": 1, "c3": 2, "l1": 2, "c2": 2, "l2": null}));
}

#[test]
fn text_ops_see_earlier_ops_and_report_conflicts_first() {
    let mut s = doc();
    apply(&mut s, json!([{"op": "create", "key": "a", "kind": "p", "parent": "root", "props": {"text": "ab", "n": 1}}])).unwrap();
    // an update earlier in the patch sets the value the text op edits
    apply(&mut s, json!([
        {"op": "update", "key": "a", "version": 1, "props": {"text": "xyz"}},
        {"op": "text", "key": "a", "version": 1, "prop": "text", "edits": [[3, 0, "!"]]}
    ])).unwrap();
    assert_eq!(text(&s, "a"), "xyz!");
    // a misfit after a conflict: the conflict is what the writer needs to hear
    let c = apply(&mut s, json!([
        {"op": "update", "key": "a", "version": 1, "props": {"text": ""}},
        {"op": "text", "key": "a", "version": 2, "prop": "text", "edits": [[9, 0, "!"]]}
    ])).unwrap_err();
    assert_eq!(c[0].reason, Reason::Version);
    // also when the conflict comes after the misfit, and every conflict is listed
    let c = apply(&mut s, json!([
        {"op": "text", "key": "a", "version": 2, "prop": "text", "edits": [[9, 0, "!"]]},
        {"op": "update", "key": "a", "version": 1, "props": {"text": ""}},
        {"op": "delete", "key": "zz", "version": 1}
    ])).unwrap_err();
    assert_eq!(c.iter().map(|c| (c.op, c.reason)).collect::<Vec<_>>(), [(1, Reason::Version), (2, Reason::Missing)]);
    // alone, the misfit is invalid, naming the op
    let patch = parse(&json!({"ops": [{"op": "text", "key": "a", "version": 2, "prop": "text", "edits": [[9, 0, "!"]]}]}), &Limits::default()).unwrap();
    assert!(matches!(evaluate(&mut s, &patch, Limits::default()), Err(Error::InvalidPatch { op: Some(0), .. })));
    let patch = parse(&json!({"ops": [{"op": "text", "key": "a", "version": 2, "prop": "n", "edits": [[0, 0, "!"]]}]}), &Limits::default()).unwrap();
    assert!(matches!(evaluate(&mut s, &patch, Limits::default()), Err(Error::InvalidPatch { op: Some(0), .. })));
}

#[test]
fn many_siblings_displaced_in_one_patch() {
    let mut s = doc();
    let ops: Vec<Value> = (0..50).map(|i| json!({"op": "create", "key": format!("k{i}"), "kind": "p", "parent": "root"})).collect();
    apply(&mut s, Value::Array(ops)).unwrap();
    apply(&mut s, json!([{"op": "create", "key": "box", "kind": "sec", "parent": "root", "after": null}])).unwrap();
    // move the last 40 away, then append: the new node must follow k9
    let mut ops: Vec<Value> = (10..50).map(|i| json!({"op": "move", "key": format!("k{i}"), "version": 1, "parent": "box"})).collect();
    ops.push(json!({"op": "create", "key": "end", "kind": "p", "parent": "root"}));
    ops.push(json!({"op": "create", "key": "mid", "kind": "p", "parent": "root", "after": "k9"}));
    apply(&mut s, Value::Array(ops)).unwrap();
    let k = kids(&mut s, "root");
    assert_eq!(k.len(), 13);
    assert_eq!(&k[10..], ["k9", "mid", "end"]);
    assert_eq!(kids(&mut s, "box").len(), 40);
}
