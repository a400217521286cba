use proptest::prelude::*;
use serde_json::{json, Map, Value};

use super::*;

fn state(parent: Option<&str>, pos: Option<&str>, kind: &str, props: Option<Value>, version: i64, gen: i64) -> NodeState {
    NodeState {
        parent: parent.map(str::to_string),
        pos: pos.map(str::to_string),
        kind: kind.to_string(),
        props: props.map(|p| p.as_object().cloned().unwrap_or_default()),
        version,
        gen,
    }
}

#[test]
fn an_update_keeps_only_the_props_it_changed() {
    let old = state(Some("root"), Some("a0"), "p", Some(json!({"text": "hi", "n": 1, "keep": [1, 2]})), 3, 7);
    let new = state(Some("root"), Some("a0"), "p", Some(json!({"text": "ho", "keep": [1, 2], "bold": true})), 4, 9);
    let e = undo(&old, &new);
    assert_eq!(e, json!({"v": 3, "g": 7, "p": {"text": "hi", "n": 1, "bold": null}}));
    assert_eq!(rewind(&new, &e).unwrap(), old);
}

#[test]
fn a_keystroke_in_a_long_string_is_kept_as_a_splice() {
    let before = "The quick brown fox jumps over the lazy dog.";
    let after = "The quick brown fox jumps over the very lazy dog.";
    let old = state(Some("root"), Some("a0"), "p", Some(json!({"text": before})), 1, 2);
    let new = state(Some("root"), Some("a0"), "p", Some(json!({"text": after})), 2, 3);
    let e = undo(&old, &new);
    assert_eq!(e, json!({"v": 1, "g": 2, "s": {"text": [35, 5]}}));
    assert_eq!(rewind(&new, &e).unwrap(), old);
}

#[test]
fn a_keystroke_is_stored_as_its_splice_alone() {
    let before = "The quick brown fox jumps over the lazy dog.";
    let after = "The quick brown fox jumps over the very lazy dog.";
    let old = state(Some("root"), Some("a0"), "p", Some(json!({"text": before})), 7, 41);
    let typed = state(Some("root"), Some("a0"), "p", Some(json!({"text": after})), 8, 42);
    let entries: Map<String, Value> = [("p1".to_string(), undo(&old, &typed))].into_iter().collect();
    let kept = stored(&entries, 42);
    assert_eq!(Value::Object(kept.clone()), json!({"p1": {"s": {"text": [35, 5]}}}));
    assert_eq!(rewind(&typed, &kept["p1"]).unwrap(), old);
    // a node last changed further back keeps its g
    let later = state(Some("root"), Some("a0"), "p", Some(json!({"text": after})), 8, 50);
    let kept = stored(&entries, 50);
    assert_eq!(Value::Object(kept.clone()), json!({"p1": {"g": 41, "s": {"text": [35, 5]}}}));
    assert_eq!(rewind(&later, &kept["p1"]).unwrap(), old);
}

#[test]
fn splices_fall_on_char_boundaries() {
    // the strings share a UTF-8 lead byte at the edit: the splice must not cut a character
    let before = "ünïcødé text that is long enough to be spliced: é";
    let after = "ünïcødé text that is long enough to be spliced: è";
    let old = state(Some("root"), Some("a0"), "p", Some(json!({"t": before})), 1, 2);
    let new = state(Some("root"), Some("a0"), "p", Some(json!({"t": after})), 2, 3);
    let e = undo(&old, &new);
    let sp = &e["s"]["t"];
    assert_eq!(sp[2], json!("é"), "{e}");
    assert_eq!(rewind(&new, &e).unwrap(), old);
}

#[test]
fn a_move_a_kind_change_and_a_delete() {
    let old = state(Some("a"), Some("a0"), "item", Some(json!({"x": 1})), 2, 5);
    let moved = state(Some("b"), Some("V"), "task", Some(json!({"x": 1})), 3, 6);
    let e = undo(&old, &moved);
    assert_eq!(e, json!({"v": 2, "g": 5, "pa": "a", "po": "a0", "k": "item"}));
    assert_eq!(rewind(&moved, &e).unwrap(), old);

    let gone = state(None, None, "item", None, 3, 6);
    let e = undo(&old, &gone);
    assert_eq!(e, json!({"v": 2, "g": 5, "pa": "a", "po": "a0", "f": {"x": 1}}));
    assert_eq!(rewind(&gone, &e).unwrap(), old);
}

#[test]
fn entries_it_did_not_write_are_internal_errors_not_panics() {
    let new = state(Some("root"), Some("a0"), "p", Some(json!({"text": "short"})), 2, 3);
    for bad in [
        json!({"v": "1", "g": 2}),
        json!({"g": null}),
        json!({"v": 1, "g": 2, "pa": 3}),
        json!({"v": 1, "g": 2, "k": null}),
        json!({"v": 1, "g": 2, "f": []}),
        json!({"v": 1, "g": 2, "p": 1}),
        json!({"v": 1, "g": 2, "s": {"text": [3, 10, ""]}}),
        json!({"v": 1, "g": 2, "s": {"text": [-1, 0, ""]}}),
        json!({"v": 1, "g": 2, "s": {"missing": [0, 0, ""]}}),
        json!({"v": 1, "g": 2, "s": {"text": [0]}}),
        json!({"v": 1, "g": 2, "s": {"text": [0, 0, "", ""]}}),
    ] {
        match rewind(&new, &bad) {
            Err(crate::Error::Internal(m)) => assert!(m.contains("history entry"), "{m}"),
            other => panic!("{bad}: {other:?}"),
        }
    }
    let tomb = state(None, None, "p", None, 2, 3);
    assert!(rewind(&tomb, &json!({"v": 1, "g": 2, "p": {"a": 1}})).is_err());
}

fn arb_string() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-c]{0,4}",
        "[a-cé😀 ]{10,40}",
        Just("a long shared prefix that is long enough ".to_string()),
    ]
}

fn arb_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        arb_string().prop_map(Value::String),
        any::<i32>().prop_map(Value::from),
        Just(json!([1, {"a": null}])),
        Just(Value::Bool(true)),
    ]
}

fn arb_props() -> impl Strategy<Value = Map<String, Value>> {
    proptest::collection::btree_map("[a-d]", arb_value(), 0..4).prop_map(|m| m.into_iter().collect())
}

/// Pairs of strings that often share a long prefix and suffix (the keystroke case).
fn arb_edited() -> impl Strategy<Value = (String, String)> {
    (arb_string(), arb_string(), arb_string(), arb_string()).prop_map(|(pre, a, b, suf)| {
        let base = format!("{pre}{}{suf}", "shared middle text ");
        (format!("{base}{a}{suf}"), format!("{base}{b}{suf}"))
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]
    #[test]
    fn rewind_undoes_any_change(
        old_props in arb_props(), new_props in arb_props(), edited in arb_edited(),
        moved in any::<bool>(), kind in any::<bool>(), deleted in any::<bool>(), next_gen in 11i64..13,
    ) {
        let mut old_props = old_props;
        let mut new_props = new_props;
        old_props.insert("text".into(), Value::String(edited.0));
        new_props.insert("text".into(), Value::String(edited.1));
        let old = NodeState { parent: Some("a".into()), pos: Some("a0".into()), kind: "p".into(), props: Some(old_props), version: 4, gen: 10 };
        let new = if deleted {
            NodeState { parent: None, pos: None, props: None, version: 5, gen: next_gen, ..old.clone() }
        } else {
            NodeState {
                parent: Some(if moved { "b" } else { "a" }.into()),
                pos: Some(if moved { "V" } else { "a0" }.into()),
                kind: if kind { "h".into() } else { "p".into() },
                props: Some(new_props),
                version: 5,
                gen: next_gen,
            }
        };
        let e = undo(&old, &new);
        prop_assert_eq!(rewind(&new, &e).unwrap(), old.clone());
        // the stored form rewinds the same, and leaves out v (always) and g (when it is the gen before)
        let kept = stored(&[("k".to_string(), e.clone())].into_iter().collect(), next_gen);
        prop_assert_eq!(rewind(&new, &kept["k"]).unwrap(), old.clone());
        prop_assert!(kept["k"].get("v").is_none());
        prop_assert_eq!(kept["k"].get("g").is_none(), next_gen == 11);
        // an entry is never larger than the whole old state would be, plus its small header
        let whole = serde_json::to_string(&old.props).unwrap().len() + 64;
        prop_assert!(e.to_string().len() <= whole + 16, "{} vs {}", e, whole);
    }
}

/// `store` (at its gen) rewound to `at` through the undo entries of the later commits.
fn rewound(store: &crate::memstore::MemStore, undos: &std::collections::BTreeMap<i64, Map<String, Value>>, at: i64) -> crate::memstore::MemStore {
    let mut out = store.clone();
    out.gen = at;
    out.nodes.retain(|_, n| !(n.row.deleted && n.row.gen <= at));
    let keys: Vec<String> = out.nodes.keys().cloned().collect();
    for key in keys {
        let n = &out.nodes[&key];
        let s = NodeState {
            parent: n.row.parent.clone(),
            pos: n.row.pos.clone(),
            kind: n.row.kind.clone(),
            props: (!n.row.deleted).then(|| n.props.clone()),
            version: n.row.version,
            gen: n.row.gen,
        };
        let s = match state_at(&key, s, at, |g| undos.get(&g).and_then(|u| u.get(&key))).unwrap() {
            Some(s) => s,
            None => {
                out.nodes.remove(&key);
                continue;
            }
        };
        let n = out.nodes.get_mut(&key).unwrap();
        n.row.parent = s.parent;
        n.row.pos = s.pos;
        n.row.kind = s.kind;
        n.row.deleted = false;
        n.props = s.props.unwrap_or_default();
        n.row.version = s.version;
        n.row.gen = s.gen;
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(150))]
    /// Time travel through undo entries is exact: after random patches of every op kind, the
    /// engine's final document rewound to any earlier gen equals the reference model's copy of
    /// that gen (every node, place, kind, props, version and gen).
    #[test]
    fn rewinding_the_engines_document_gives_every_earlier_gen(
        patches in proptest::collection::vec(proptest::collection::vec(any::<u32>(), 1..24), 1..30)
    ) {
        use crate::engine::{evaluate, Outcome};
        use crate::memstore::MemStore;
        use crate::patch::{parse, Limits};
        use crate::reference::{random_patch, Applied, Model};
        let mut model = Model::new("doc", Map::new());
        let mut store = MemStore::new("doc", Map::new());
        let mut undos = std::collections::BTreeMap::new();
        let mut next_key = 0;
        for seed in patches {
            let pj = random_patch(model.current(), &seed, &mut next_key);
            let patch = parse(&pj, &Limits::default()).unwrap();
            let want = model.apply(&patch);
            if let (Applied::Committed { .. }, Ok(Outcome::Plan(plan))) = (&want, evaluate(&mut store, &patch, Limits::default())) {
                // every node the commit changed or deleted has an entry, and nothing else
                let mut named: Vec<&String> = plan.changes.iter().map(|c| &c.key).chain(plan.deletes.iter()).collect();
                named.sort();
                prop_assert_eq!(named, plan.undo.keys().collect::<Vec<_>>());
                let gen = store.apply(&plan);
                // as the extension stores them (without the implied v and g)
                undos.insert(gen, stored(&plan.undo, gen));
            }
        }
        for at in 1..=store.gen {
            let want = model.history[(at - 1) as usize].flat();
            prop_assert_eq!(rewound(&store, &undos, at).flat(), want, "at gen {}", at);
        }
    }
}
