use super::*;
use nodesync_core::reference::Model;
use nodesync_core::patch::{parse, Limits};
use serde_json::json;

/// A tree from `(key, parent, kind, props)` in child order.
fn tree(gen: i64, rows: &[(&str, &str, Value)]) -> Tree {
    let mut t = Tree::with_root("doc", Map::new());
    t.gen = gen;
    for (i, (k, p, props)) in rows.iter().enumerate() {
        let mut n = Node::new("p", props.as_object().cloned().unwrap_or_default(), Some(p.to_string()));
        n.version = 1;
        n.pos = Some(format!("a{i:03}"));
        t.nodes.insert(k.to_string(), n);
        t.nodes.get_mut(*p).unwrap().children.push(k.to_string());
    }
    t.check().unwrap();
    t
}

fn set(keys: &[&str]) -> BTreeSet<String> {
    keys.iter().map(|k| k.to_string()).collect()
}

fn kids(t: &Tree, k: &str) -> Vec<String> {
    t.children(k).to_vec()
}

fn move_local(t: &mut Tree, k: &str, parent: &str, place: Place) {
    t.detach(k);
    t.attach(k, parent, &place).unwrap();
}

fn rules(r: &Rebased) -> Vec<(String, Rule)> {
    r.dropped.iter().map(|d| (d.key.clone(), d.rule.clone())).collect()
}

// ---- rule 1: props per key ----

#[test]
fn props_changed_only_locally_survive_and_server_changes_come_in() {
    let base = tree(2, &[("a", "root", json!({"x": 1, "y": 1, "z": 1}))]);
    let mut local = base.clone();
    local.nodes.get_mut("a").unwrap().props = json!({"x": 2, "y": 1, "z": 1}).as_object().unwrap().clone();
    let mut remote = base.clone();
    remote.gen = 3;
    remote.nodes.get_mut("a").unwrap().props = json!({"x": 1, "y": 5}).as_object().unwrap().clone();
    let r = rebase(&base, &local, &set(&[]), &remote, Policy::ServerWins);
    assert_eq!(Value::Object(r.local.nodes["a"].props.clone()), json!({"x": 2, "y": 5}));
    assert!(r.dropped.is_empty());
    assert!(r.dirty.contains("a"));
}

#[test]
fn props_changed_on_both_sides_server_wins_and_is_reported() {
    // non-string values: the policy decides
    let base = tree(2, &[("a", "root", json!({"x": 1}))]);
    let mut local = base.clone();
    local.nodes.get_mut("a").unwrap().props.insert("x".into(), json!(2));
    local.nodes.get_mut("a").unwrap().kind = "h1".into();
    let mut remote = base.clone();
    remote.nodes.get_mut("a").unwrap().props.insert("x".into(), json!([3]));
    remote.nodes.get_mut("a").unwrap().kind = "h2".into();
    let r = rebase(&base, &local, &set(&[]), &remote, Policy::ServerWins);
    assert_eq!(r.local.nodes["a"].props["x"], json!([3]));
    assert_eq!(r.local.nodes["a"].kind, "h2");
    assert_eq!(rules(&r), [("a".into(), Rule::PropConflict { prop: "x".into() }), ("a".into(), Rule::KindConflict)]);
    assert!(!r.dirty.contains("a"), "nothing left to send");
    // local wins
    let r = rebase(&base, &local, &set(&[]), &remote, Policy::LocalWins);
    assert_eq!(r.local.nodes["a"].props["x"], json!(2));
    assert_eq!(r.local.nodes["a"].kind, "h1");
    assert!(r.dropped.is_empty());
    let p = make_patch(&remote, &r.local, &r.placed, &r.dirty);
    assert_eq!(p.ops, [Op::Update { key: "a".into(), version: 1, kind: Some("h1".into()), props: Some(json!({"x": 2}).as_object().unwrap().clone()) }]);
}

#[test]
fn strings_changed_on_both_sides_merge_as_text_under_either_policy() {
    let base = tree(2, &[("a", "root", json!({"t": "Hello world", "n": 1}))]);
    let mut local = base.clone();
    local.nodes.get_mut("a").unwrap().props.insert("t".into(), json!("Hello brave world"));
    let mut remote = base.clone();
    remote.nodes.get_mut("a").unwrap().props.insert("t".into(), json!("Hello world, again"));
    for policy in [Policy::ServerWins, Policy::LocalWins] {
        let r = rebase(&base, &local, &set(&[]), &remote, policy);
        assert_eq!(r.local.nodes["a"].props["t"], json!("Hello brave world, again"), "{policy:?}");
        assert!(r.dropped.is_empty());
        assert!(r.dirty.contains("a"));
    }
    // a local non-string value never replaces text the server changed, even if local wins
    for mine in [json!(5), json!({"t": "x"})] {
        let mut l2 = base.clone();
        l2.nodes.get_mut("a").unwrap().props.insert("t".into(), mine);
        let r = rebase(&base, &l2, &set(&[]), &remote, Policy::LocalWins);
        assert_eq!(r.local.nodes["a"].props["t"], json!("Hello world, again"));
        assert_eq!(rules(&r), [("a".into(), Rule::PropConflict { prop: "t".into() })]);
    }
    // a string the local side removed while the server typed: only the server's new text
    // stays (a removal is "delete all the text I saw")
    let mut l3 = base.clone();
    l3.nodes.get_mut("a").unwrap().props.remove("t");
    let r = rebase(&base, &l3, &set(&[]), &remote, Policy::LocalWins);
    assert_eq!(r.local.nodes["a"].props["t"], json!(", again"));
}

#[test]
fn same_change_on_both_sides_is_not_a_conflict() {
    let base = tree(2, &[("a", "root", json!({"x": 1}))]);
    let mut local = base.clone();
    local.nodes.get_mut("a").unwrap().props.remove("x");
    let mut remote = base.clone();
    remote.nodes.get_mut("a").unwrap().props.remove("x");
    let r = rebase(&base, &local, &set(&[]), &remote, Policy::ServerWins);
    assert!(r.dropped.is_empty());
    assert!(r.local.nodes["a"].props.is_empty());
}

// ---- rule 2: anchors ----

#[test]
fn placed_nodes_follow_their_anchor_among_server_order() {
    // base: a b c ; local creates n after b ; server inserts s after a and moves c first
    let base = tree(2, &[("a", "root", json!({})), ("b", "root", json!({})), ("c", "root", json!({}))]);
    let mut local = base.clone();
    local.nodes.insert("n".into(), Node::new("p", Map::new(), None));
    local.attach("n", "root", &Place::After("b".into())).unwrap();
    let mut remote = base.clone();
    remote.nodes.insert("s".into(), Node::new("p", Map::new(), Some("root".into())));
    remote.nodes.get_mut("root").unwrap().children = vec!["c".into(), "a".into(), "s".into(), "b".into()];
    let r = rebase(&base, &local, &set(&["n"]), &remote, Policy::ServerWins);
    assert_eq!(kids(&r.local, "root"), ["c", "a", "s", "b", "n"]);
    let p = make_patch(&remote, &r.local, &r.placed, &r.dirty);
    assert_eq!(p.ops, [Op::Create { key: "n".into(), kind: "p".into(), props: Map::new(), parent: "root".into(), place: Place::After("b".into()) }]);
}

#[test]
fn missing_anchor_falls_back_to_nearest_surviving_sibling() {
    // local: a b n1 n2 (n1 after b, n2 after n1); server deletes b → n1 after a, n2 after n1
    let base = tree(2, &[("a", "root", json!({})), ("b", "root", json!({})), ("c", "root", json!({}))]);
    let mut local = base.clone();
    for (k, after) in [("n1", "b"), ("n2", "n1")] {
        local.nodes.insert(k.into(), Node::new("p", Map::new(), None));
        local.attach(k, "root", &Place::After(after.into())).unwrap();
    }
    let mut remote = base.clone();
    remote.nodes.remove("b");
    remote.nodes.get_mut("root").unwrap().children.retain(|c| c != "b");
    let r = rebase(&base, &local, &set(&["n1", "n2"]), &remote, Policy::ServerWins);
    assert_eq!(kids(&r.local, "root"), ["a", "n1", "n2", "c"]);
    // and when no earlier sibling survives: first
    let mut remote2 = remote.clone();
    remote2.nodes.remove("a");
    remote2.nodes.get_mut("root").unwrap().children.retain(|c| c != "a");
    let r = rebase(&base, &local, &set(&["n1", "n2"]), &remote2, Policy::ServerWins);
    assert_eq!(kids(&r.local, "root"), ["n1", "n2", "c"]);
    let p = make_patch(&remote2, &r.local, &r.placed, &r.dirty);
    assert!(matches!(&p.ops[0], Op::Create { key, place: Place::First, .. } if key == "n1"));
    assert!(matches!(&p.ops[1], Op::Create { key, place: Place::After(a), .. } if key == "n2" && a == "n1"));
}

// ---- rule 3: edits of deleted nodes ----

#[test]
fn edit_of_a_node_the_server_deleted_is_dropped() {
    let base = tree(2, &[("a", "root", json!({"x": 1})), ("b", "root", json!({})), ("a1", "a", json!({}))]);
    let mut local = base.clone();
    local.nodes.get_mut("a").unwrap().props.insert("x".into(), json!(2));
    // a create under a, and a move of b under a1
    local.nodes.insert("n".into(), Node::new("p", Map::new(), None));
    local.attach("n", "a", &Place::Last).unwrap();
    move_local(&mut local, "b", "a1", Place::Last);
    let mut remote = base.clone();
    for k in ["a", "a1"] {
        remote.nodes.remove(k);
    }
    remote.nodes.get_mut("root").unwrap().children = vec!["b".into()];
    let r = rebase(&base, &local, &set(&["n", "b"]), &remote, Policy::ServerWins);
    assert_eq!(
        rules(&r),
        [("a".into(), Rule::EditOfDeleted), ("b".into(), Rule::MoveUnderDeleted), ("n".into(), Rule::CreateUnderDeleted)]
    );
    assert_eq!(kids(&r.local, "root"), ["b"]);
    assert_eq!(r.local.len(), 2);
    assert!(make_patch(&remote, &r.local, &r.placed, &r.dirty).ops.is_empty());
}

// ---- rule 4: local delete vs server edit ----

#[test]
fn local_delete_of_a_server_edited_node_is_resent_with_the_new_version() {
    let base = tree(2, &[("a", "root", json!({})), ("a1", "a", json!({})), ("b", "root", json!({}))]);
    let mut local = base.clone();
    local.nodes.remove("a1");
    local.nodes.remove("a");
    local.nodes.get_mut("root").unwrap().children = vec!["b".into()];
    let mut remote = base.clone();
    remote.gen = 4;
    remote.nodes.get_mut("a").unwrap().version = 3;
    remote.nodes.get_mut("a").unwrap().props.insert("x".into(), json!(1));
    // the server also added a child under a, and moved b (with a local prop edit) into a
    remote.nodes.insert("s".into(), Node::new("p", Map::new(), Some("a".into())));
    remote.nodes.get_mut("a").unwrap().children.push("s".into());
    let r = rebase(&base, &local, &set(&[]), &remote, Policy::ServerWins);
    // re-sent, and reported: the server's prop change and new child go with it
    assert_eq!(rules(&r), [("a".into(), Rule::DeleteOverServerEdit)]);
    assert!(Rule::DeleteOverServerEdit.is_warning());
    assert_eq!(r.local.len(), 2);
    let p = make_patch(&remote, &r.local, &r.placed, &r.dirty);
    assert_eq!(p.ops, [Op::Delete { key: "a".into(), version: 3 }]);
    assert_eq!(p.base, Some(4));

    let mut local2 = local.clone();
    local2.nodes.get_mut("b").unwrap().props.insert("y".into(), json!(1));
    let mut remote2 = remote.clone();
    remote2.nodes.get_mut("root").unwrap().children = vec!["a".into()];
    remote2.nodes.get_mut("a").unwrap().children.push("b".into());
    remote2.nodes.get_mut("b").unwrap().parent = Some("a".into());
    let r = rebase(&base, &local2, &set(&[]), &remote2, Policy::ServerWins);
    assert_eq!(rules(&r), [("a".into(), Rule::DeleteOverServerEdit), ("b".into(), Rule::DeletedWithSubtree)]);
    assert_eq!(r.local.len(), 1);
}

// ---- rule 5: cycles ----

#[test]
fn local_move_that_would_form_a_cycle_is_dropped() {
    // base: a, b siblings. local: b under a. server: a under b.
    let base = tree(2, &[("a", "root", json!({})), ("b", "root", json!({}))]);
    let mut local = base.clone();
    move_local(&mut local, "b", "a", Place::Last);
    let mut remote = base.clone();
    remote.nodes.get_mut("root").unwrap().children = vec!["b".into()];
    remote.nodes.get_mut("b").unwrap().children = vec!["a".into()];
    remote.nodes.get_mut("a").unwrap().parent = Some("b".into());
    let r = rebase(&base, &local, &set(&["b"]), &remote, Policy::ServerWins);
    assert_eq!(rules(&r), [("b".into(), Rule::MoveCycle)]);
    assert_eq!(kids(&r.local, "b"), ["a"]);
    assert!(make_patch(&remote, &r.local, &r.placed, &r.dirty).ops.is_empty());
}

// ---- make_patch ----

#[test]
fn patch_orders_ops_so_they_apply() {
    // base: a > x ; local: create n under root first, move x under n, delete a, update root
    let base = tree(5, &[("a", "root", json!({})), ("x", "a", json!({"t": 1}))]);
    let mut local = base.clone();
    local.nodes.insert("n".into(), Node::new("sec", json!({"t": "n"}).as_object().unwrap().clone(), None));
    local.attach("n", "root", &Place::First).unwrap();
    move_local(&mut local, "x", "n", Place::Last);
    local.detach("a");
    local.nodes.remove("a");
    local.nodes.get_mut("x").unwrap().props.remove("t");
    let patch = make_patch(&base, &local, &set(&["n", "x"]), &set(&["n", "x", "a"]));
    let j = patch.to_json();
    assert_eq!(
        j,
        json!({"base": 5, "ops": [
            {"op": "create", "key": "n", "kind": "sec", "props": {"t": "n"}, "parent": "root", "after": null},
            {"op": "move", "key": "x", "version": 1, "parent": "n", "after": null},
            {"op": "update", "key": "x", "version": 1, "props": {"t": null}},
            {"op": "delete", "key": "a", "version": 1}
        ]})
    );
    // the reference model applies it and lands on the local tree
    let mut m = Model::new("doc", Map::new());
    let setup = json!({"ops": [
        {"op": "create", "key": "a", "kind": "p", "parent": "root"},
        {"op": "create", "key": "x", "kind": "p", "parent": "a", "props": {"t": 1}}]});
    m.apply(&parse(&setup, &Limits::default()).unwrap());
    m.apply(&parse(&j, &Limits::default()).unwrap());
    let flat = m.current().flat();
    assert_eq!(flat.len(), 3);
    assert_eq!(flat["x"].parent.as_deref(), Some("n"));
    assert!(flat["x"].props.is_empty());
}
