use super::*;
use serde_json::json;

fn p(v: Value) -> Result<Patch> {
    parse(&v, &Limits::default())
}

fn invalid_at(v: Value) -> Option<usize> {
    match p(v) {
        Err(Error::InvalidPatch { op, .. }) => op,
        other => panic!("expected invalid patch, got {other:?}"),
    }
}

#[test]
fn parses_every_op() {
    let patch = p(json!({"base": 41, "ops": [
        {"op": "create", "key": "p9", "kind": "paragraph", "props": {"text": "Hi"}, "parent": "root", "after": "p1"},
        {"op": "update", "key": "p1", "version": 3, "props": {"text": "Hello", "bold": null}},
        {"op": "update", "key": "h1", "version": 2, "kind": "heading"},
        {"op": "move",   "key": "p4", "version": 2, "parent": "sec2", "after": null},
        {"op": "delete", "key": "p2", "version": 5},
        {"op": "create", "key": "p10", "kind": "p", "parent": "root"}
    ]}))
    .unwrap();
    assert_eq!(patch.base, Some(41));
    assert_eq!(patch.ops.len(), 6);
    assert!(matches!(&patch.ops[0], Op::Create { place: Place::After(a), .. } if a == "p1"));
    assert!(matches!(&patch.ops[1], Op::Update { props: Some(m), .. } if m.get("bold") == Some(&Value::Null)));
    assert!(matches!(&patch.ops[2], Op::Update { kind: Some(k), props: None, .. } if k == "heading"));
    assert!(matches!(&patch.ops[3], Op::Move { place: Place::First, .. }));
    assert!(matches!(&patch.ops[4], Op::Delete { version: 5, .. }));
    assert!(matches!(&patch.ops[5], Op::Create { place: Place::Last, props, .. } if props.is_empty()));
}

#[test]
fn round_trips_through_json() {
    let v = json!({"base": 3, "ops": [
        {"op": "create", "key": "a", "kind": "p", "props": {"x": 1}, "parent": "root", "after": null},
        {"op": "move", "key": "b", "version": 2, "parent": "a", "after": "c"},
        {"op": "update", "key": "b", "version": 2, "props": {"y": null}},
        {"op": "delete", "key": "c", "version": 1}
    ]});
    let patch = p(v).unwrap();
    assert_eq!(p(patch.to_json()).unwrap(), patch);
}

#[test]
fn text_split_join_parse_and_round_trip() {
    let v = json!({"ops": [
        {"op": "text", "key": "p1", "version": 4, "prop": "text", "edits": [[5, 2, "xy"], [0, 0, "A"]]},
        {"op": "split", "key": "p1", "version": 4, "prop": "text", "at": 5, "new": "p9"},
        {"op": "join", "key": "p1", "version": 4, "next": "p2", "next_version": 7, "prop": "text"}
    ]});
    let patch = p(v.clone()).unwrap();
    assert!(matches!(&patch.ops[0], Op::Text { edits, .. } if edits == &[Edit::new(5, 2, "xy"), Edit::new(0, 0, "A")]));
    assert!(matches!(&patch.ops[1], Op::Split { at: 5, new, .. } if new == "p9"));
    assert!(matches!(&patch.ops[2], Op::Join { next_version: 7, next, .. } if next == "p2"));
    assert_eq!(patch.to_json(), v);
    assert_eq!(p(patch.to_json()).unwrap(), patch);
}

#[test]
fn rejects_bad_text_split_join() {
    let text = |extra: Value| {
        let mut o = json!({"op": "text", "key": "p", "version": 1, "prop": "text", "edits": [[0, 0, "x"]]});
        for (k, v) in extra.as_object().unwrap() {
            if v.is_null() { o.as_object_mut().unwrap().remove(k); } else { o[k] = v.clone(); }
        }
        json!({"ops": [o]})
    };
    for bad in [json!({"edits": []}), json!({"edits": null}), json!({"edits": [[0, 0]]}), json!({"edits": [[-1, 0, "x"]]}),
                json!({"edits": [[1.5, 0, "x"]]}), json!({"edits": [[0, 0, 5]]}), json!({"edits": "x"}), json!({"prop": null}),
                json!({"prop": ""}), json!({"prop": "p".repeat(201)}), json!({"version": null}), json!({"extra": 1})] {
        assert_eq!(invalid_at(text(bad.clone())), Some(0), "{bad}");
    }
    assert!(p(text(json!({}))).is_ok());
    let split = json!({"op": "split", "key": "p", "version": 1, "prop": "text", "at": 0, "new": "q"});
    assert!(p(json!({"ops": [split]})).is_ok());
    for bad in [
        json!({"op": "split", "key": "root", "version": 1, "prop": "text", "at": 0, "new": "q"}),
        json!({"op": "split", "key": "p", "version": 1, "prop": "text", "at": -1, "new": "q"}),
        json!({"op": "split", "key": "p", "version": 1, "prop": "text", "at": 0}),
        json!({"op": "split", "key": "p", "version": 1, "prop": "text", "at": 0, "new": ""}),
        json!({"op": "split", "key": "p", "version": 1, "prop": "text", "at": 0, "new": "p"}),
        json!({"op": "split", "key": "p", "version": 1, "at": 0, "new": "q"}),
        json!({"op": "join", "key": "p", "version": 1, "next": "p", "next_version": 1, "prop": "text"}),
        json!({"op": "join", "key": "root", "version": 1, "next": "p", "next_version": 1, "prop": "text"}),
        json!({"op": "join", "key": "p", "version": 1, "next": "root", "next_version": 1, "prop": "text"}),
        json!({"op": "join", "key": "p", "version": 1, "next": "q", "prop": "text"}),
        json!({"op": "join", "key": "p", "version": 1, "next": "q", "next_version": 0, "prop": "text"}),
        json!({"op": "join", "key": "p", "version": 1, "next_version": 1, "prop": "text"}),
    ] {
        assert_eq!(invalid_at(json!({"ops": [bad.clone()]})), Some(0), "{bad}");
    }
}

#[test]
fn nesting_depth_agrees_with_serde_json() {
    for depth in [0usize, 1, 5, 126, 127, 128, 129, 300] {
        let text = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        let parses = serde_json::from_str::<Value>(&text).is_ok() || depth == 0;
        assert_eq!(nesting_depth(&text), depth);
        if depth > 0 {
            assert_eq!(parses, depth <= MAX_JSON_DEPTH, "depth {depth}");
        }
    }
    // brackets inside strings, escaped quotes
    assert_eq!(nesting_depth(r#"{"a": "[[[{", "b": ["x\"]]]"]}"#), 2);
    assert_eq!(nesting_depth(r#"{"ops": [{"op": "create", "props": {"t": "}}}"}}]}"#), 4);
}

#[test]
fn empty_ops_is_valid() {
    assert_eq!(p(json!({"ops": []})).unwrap().ops.len(), 0);
}

#[test]
fn rejects_bad_shapes() {
    assert_eq!(invalid_at(json!([])), None);
    assert_eq!(invalid_at(json!({})), None);
    assert_eq!(invalid_at(json!({"ops": {}})), None);
    assert_eq!(invalid_at(json!({"ops": [], "extra": 1})), None);
    assert_eq!(invalid_at(json!({"base": "x", "ops": []})), None);
    assert_eq!(invalid_at(json!({"base": -1, "ops": []})), None);
    assert_eq!(invalid_at(json!({"ops": [1]})), Some(0));
    assert_eq!(invalid_at(json!({"ops": [{"op": "explode", "key": "a"}]})), Some(0));
    assert_eq!(invalid_at(json!({"ops": [{"key": "a"}]})), Some(0));
    let ok = json!({"op": "update", "key": "a", "version": 1});
    assert_eq!(invalid_at(json!({"ops": [ok, {"op": "update", "version": 1}]})), Some(1));
    assert_eq!(invalid_at(json!({"ops": [{"op": "create", "key": "", "kind": "p", "parent": "root"}]})), Some(0));
    assert_eq!(invalid_at(json!({"ops": [{"op": "create", "key": "k".repeat(201), "kind": "p", "parent": "root"}]})), Some(0));
    assert_eq!(invalid_at(json!({"ops": [{"op": "create", "key": "n", "parent": "root"}]})), Some(0));
    assert_eq!(invalid_at(json!({"ops": [{"op": "create", "key": "n", "kind": "p"}]})), Some(0));
    assert_eq!(invalid_at(json!({"ops": [{"op": "create", "key": "n", "kind": "", "parent": "root"}]})), Some(0));
    assert_eq!(invalid_at(json!({"ops": [{"op": "create", "key": "n", "kind": "p", "parent": "root", "after": 3}]})), Some(0));
    assert_eq!(invalid_at(json!({"ops": [{"op": "create", "key": "n", "kind": "p", "parent": "root", "after": "n"}]})), Some(0));
    assert_eq!(invalid_at(json!({"ops": [{"op": "update", "key": "a", "version": 1, "props": [1]}]})), Some(0));
    assert_eq!(invalid_at(json!({"ops": [{"op": "update", "key": "a", "props": {}}]})), Some(0));
    assert_eq!(invalid_at(json!({"ops": [{"op": "update", "key": "a", "version": "one"}]})), Some(0));
    assert_eq!(invalid_at(json!({"ops": [{"op": "update", "key": "a", "version": 0}]})), Some(0));
    assert_eq!(invalid_at(json!({"ops": [{"op": "update", "key": "a", "version": 1.5}]})), Some(0));
    assert_eq!(invalid_at(json!({"ops": [{"op": "update", "key": "a", "version": 1, "parent": "x"}]})), Some(0));
    assert_eq!(invalid_at(json!({"ops": [{"op": "delete", "key": "root", "version": 1}]})), Some(0));
    assert_eq!(invalid_at(json!({"ops": [{"op": "move", "key": "root", "version": 1, "parent": "a"}]})), Some(0));
    assert_eq!(invalid_at(json!({"ops": [{"op": "move", "key": "a", "version": 1}]})), Some(0));
    // only representable where serde_json keeps exact numbers (the extension's build)
    if let Ok(huge) = serde_json::from_str::<Value>(r#"{"ops": [{"op": "update", "key": "a", "version": 1, "props": {"x": [1, {"y": 1e400}]}}]}"#) {
        assert_eq!(invalid_at(huge), Some(0));
    }
    let fine: Value = serde_json::from_str(r#"{"ops": [{"op": "update", "key": "a", "version": 1, "props": {"x": 1e308, "y": 123456789012345678901234567890}}]}"#).unwrap();
    assert!(p(fine).is_ok());
}

#[test]
fn create_props_drop_nulls() {
    let patch = p(json!({"ops": [{"op": "create", "key": "n", "kind": "p", "parent": "root", "props": {"a": null, "b": 1}}]})).unwrap();
    assert!(matches!(&patch.ops[0], Op::Create { props, .. } if props.len() == 1 && props["b"] == 1));
}

#[test]
fn limits_name_their_guc() {
    let limits = Limits { max_ops: 2, max_props_bytes: 10, ..Limits::default() };
    let three = json!({"ops": [{"op": "delete", "key": "a", "version": 1}, {"op": "delete", "key": "b", "version": 1}, {"op": "delete", "key": "c", "version": 1}]});
    match parse(&three, &limits) {
        Err(e @ Error::Limit { guc: "nodesync.max_ops_per_patch", .. }) => {
            assert!(e.to_string().contains("nodesync.max_ops_per_patch"))
        }
        other => panic!("{other:?}"),
    }
    // exactly at the limit is fine
    let two = json!({"ops": [{"op": "delete", "key": "a", "version": 1}, {"op": "delete", "key": "b", "version": 1}]});
    assert!(parse(&two, &limits).is_ok());
    // text edits count as ops
    let edits = json!({"ops": [{"op": "text", "key": "a", "version": 1, "prop": "t", "edits": [[0, 0, "x"], [0, 0, "y"], [0, 0, "z"]]}]});
    assert!(matches!(parse(&edits, &limits), Err(Error::Limit { guc: "nodesync.max_ops_per_patch", actual: 3, .. })));
    let edits = json!({"ops": [{"op": "text", "key": "a", "version": 1, "prop": "t", "edits": [[0, 0, "x"], [0, 0, "y"]]}]});
    assert!(parse(&edits, &limits).is_ok());
    let big = json!({"ops": [{"op": "update", "key": "a", "version": 1, "props": {"t": "0123456789"}}]});
    assert!(matches!(parse(&big, &limits), Err(Error::Limit { guc: "nodesync.max_props_bytes", .. })));
    let at = json!({"ops": [{"op": "update", "key": "a", "version": 1, "props": {"t": "01"}}]}); // {"t":"01"} = 10 bytes
    assert!(parse(&at, &limits).is_ok());
}

#[test]
fn key_bytes_limit() {
    let limits = Limits { max_key_bytes: 3, ..Limits::default() };
    let at = json!({"ops": [{"op": "create", "key": "abc", "kind": "p", "parent": "root"}]});
    assert!(parse(&at, &limits).is_ok());
    let past = json!({"ops": [{"op": "create", "key": "abcd", "kind": "p", "parent": "root"}]});
    assert!(matches!(parse(&past, &limits), Err(Error::Limit { guc: "nodesync.max_key_bytes", .. })));
    // existing longer keys can still be named by other ops
    let upd = json!({"ops": [{"op": "update", "key": "abcdef", "version": 1}]});
    assert!(parse(&upd, &limits).is_ok());
}

#[test]
fn messages_name_the_op_index() {
    let e = p(json!({"ops": [{"op": "delete", "key": "a", "version": 1}, {"op": "nope"}]})).unwrap_err();
    assert!(e.to_string().contains("op 1"), "{e}");
    assert_eq!(e.sqlstate().code(), "22023");
}

#[test]
fn shorten_cuts_by_characters() {
    assert_eq!(shorten_to("abc", 3), "abc");
    assert_eq!(shorten_to("abcd", 3), "abc…");
    assert_eq!(shorten_to("ééé", 2), "éé…");
    let long = "x".repeat(50);
    assert_eq!(shorten(&long), format!("{}…", "x".repeat(40)));
    assert_eq!(shorten(&long[..40]), long[..40]);
}
