//! `#[pg_test]`s of split and join (docs/api/apply_patch.md).
use pgrx::prelude::*;

#[pg_schema]
mod tests {
    use crate::tests::*;
    use serde_json::{json, Value};

    #[pg_test]
    fn split_keeps_the_head_and_creates_the_tail_right_after() {
        Spi::run("SELECT nodesync.create_doc('d')").unwrap();
        patch("d", json!([
            {"op": "create", "key": "p1", "kind": "para", "parent": "root", "props": {"text": "hello world", "b": true}},
            {"op": "create", "key": "p2", "kind": "para", "parent": "root", "props": {"text": "second"}},
            {"op": "create", "key": "c1", "kind": "span", "parent": "p1"}
        ]));
        let r = patch("d", json!([{"op": "split", "key": "p1", "version": 1, "prop": "text", "at": 5, "new": "p1b"}]));
        assert_eq!(r, json!({"gen": 3, "versions": {"p1": 2, "p1b": 1}, "duplicate": false}));
        assert_eq!(node("d", "p1"), json!({"key": "p1", "parent": "root", "kind": "para", "props": {"text": "hello", "b": true}, "version": 2, "gen": 3}));
        assert_eq!(node("d", "p1b"), json!({"key": "p1b", "parent": "root", "kind": "para", "props": {"text": " world", "b": true}, "version": 1, "gen": 3}));
        assert_eq!(kids("d", "root"), ["p1", "p1b", "p2"], "the new node comes right after the split one");
        assert_eq!(kids("d", "p1"), ["c1"], "children stay with key");
        assert!(kids("d", "p1b").is_empty());
        assert_eq!(node("d", "c1")["version"], 1, "and do not change");
        // at 0: the head is empty; at the end: the tail is
        patch("d", json!([{"op": "split", "key": "p1b", "version": 1, "prop": "text", "at": 0, "new": "p1c"}]));
        assert_eq!((text_of("d", "p1b"), text_of("d", "p1c")), (json!(""), json!(" world")));
        patch("d", json!([{"op": "split", "key": "p2", "version": 1, "prop": "text", "at": 6, "new": "p2b"}]));
        assert_eq!((text_of("d", "p2"), text_of("d", "p2b")), (json!("second"), json!("")));
        assert_eq!(kids("d", "root"), ["p1", "p1b", "p1c", "p2", "p2b"]);
        // an absent prop is "": both halves get it
        patch("d", json!([{"op": "create", "key": "q", "kind": "para", "parent": "root"}]));
        patch("d", json!([{"op": "split", "key": "q", "version": 1, "prop": "text", "at": 0, "new": "qb"}]));
        assert_eq!((node("d", "q")["props"].clone(), node("d", "qb")["props"].clone()), (json!({"text": ""}), json!({"text": ""})));
        // code points
        patch("d", json!([{"op": "create", "key": "u", "kind": "para", "parent": "root", "props": {"text": "é😀e\u{301}"}}]));
        patch("d", json!([{"op": "split", "key": "u", "version": 1, "prop": "text", "at": 2, "new": "ub"}]));
        assert_eq!((text_of("d", "u"), text_of("d", "ub")), (json!("é😀"), json!("e\u{301}")));
        patch("d", json!([{"op": "split", "key": "ub", "version": 1, "prop": "text", "at": 1, "new": "uc"}]));
        assert_eq!((text_of("d", "ub"), text_of("d", "uc")), (json!("e"), json!("\u{301}")), "a split may separate a combining mark");
        // the log keeps the split as sent
        assert_eq!(q("SELECT patch->'ops'->0 FROM nodesync.changes_since('d', 2) WHERE gen = 3"),
            json!({"op": "split", "key": "p1", "version": 1, "prop": "text", "at": 5, "new": "p1b"}));
        assert_eq!(q("SELECT nodesync.snapshot('d', 2)#>'{root,children,0,props,text}'"), json!("hello world"), "time travel sees the block before its split");
    }

    #[pg_test]
    fn split_copies_the_kind_as_it_is_at_that_point_of_the_patch() {
        Spi::run("SELECT nodesync.create_doc('d')").unwrap();
        patch("d", json!([{"op": "create", "key": "a", "kind": "p", "parent": "root", "props": {"text": "abc", "n": 1}}]));
        patch("d", json!([
            {"op": "update", "key": "a", "version": 1, "kind": "heading", "props": {"level": 2, "n": null}},
            {"op": "split", "key": "a", "version": 1, "prop": "text", "at": 1, "new": "a2"},
            {"op": "update", "key": "a", "version": 1, "kind": "quote"}
        ]));
        assert_eq!(node("d", "a")["kind"], "quote");
        assert_eq!(node("d", "a2")["kind"], "heading");
        assert_eq!(node("d", "a2")["props"], json!({"text": "bc", "level": 2}), "props as they are at that point too");
    }

    #[pg_test]
    fn split_conflicts() {
        Spi::run("SELECT nodesync.create_doc('d')").unwrap();
        patch("d", json!([
            {"op": "create", "key": "p", "kind": "p", "parent": "root", "props": {"text": "abc"}},
            {"op": "create", "key": "q", "kind": "p", "parent": "root"},
            {"op": "create", "key": "gone", "kind": "p", "parent": "root"}
        ]));
        patch("d", json!([{"op": "delete", "key": "gone", "version": 1}]));
        let split = |version: i64, at: i64, new: &str| json!({"op": "split", "key": "p", "version": version, "prop": "text", "at": at, "new": new});
        let d = conflict(&patch_sql("d", json!([split(1, 1, "q")])));
        assert_eq!(d, json!({"gen": 3, "conflicts": [{"op": 0, "key": "q", "reason": "exists"}]}), "exists names the new key");
        let d = conflict(&patch_sql("d", json!([split(1, 1, "gone")])));
        assert_eq!(d["conflicts"], json!([{"op": 0, "key": "gone", "reason": "exists"}]), "keys are never reused");
        let d = conflict(&patch_sql("d", json!([{"op": "create", "key": "n", "kind": "p", "parent": "root"}, split(1, 1, "n")])));
        assert_eq!(d["conflicts"], json!([{"op": 1, "key": "n", "reason": "exists"}]));
        let d = conflict(&patch_sql("d", json!([split(1, 1, "root")])));
        assert_eq!(d["conflicts"][0]["reason"], "exists");
        let d = conflict(&patch_sql("d", json!([{"op": "split", "key": "zz", "version": 1, "prop": "text", "at": 0, "new": "z"}])));
        assert_eq!(d["conflicts"], json!([{"op": 0, "key": "zz", "reason": "missing"}]));
        patch("d", json!([text_op("p", 1, "text", json!([[3, 0, "d"]]))]));
        let d = conflict(&patch_sql("d", json!([split(1, 1, "z")])));
        assert_eq!(d["conflicts"], json!([{"op": 0, "key": "p", "reason": "version", "expected": 1, "actual": 2}]));
        // checked in order: the version, then the offset, then that new is fresh
        assert_eq!(conflict(&patch_sql("d", json!([split(1, 99, "q")])))["conflicts"][0]["reason"], "version");
        assert_eq!(state(&patch_sql("d", json!([split(2, 99, "q")]))), "22023");
        assert_eq!(conflict(&patch_sql("d", json!([split(2, 4, "q")])))["conflicts"][0]["reason"], "exists");
        // two splits in one patch: the second new node lands between key and the first
        let r = patch("d", json!([split(2, 3, "p3"), split(2, 1, "p2")]));
        assert_eq!(r["versions"], json!({"p": 3, "p2": 1, "p3": 1}));
        assert_eq!(kids("d", "root"), ["p", "p2", "p3", "q"]);
        assert_eq!((text_of("d", "p"), text_of("d", "p2"), text_of("d", "p3")), (json!("a"), json!("bc"), json!("d")));
        assert_eq!(node("d", "z"), Value::Null, "refused splits created nothing");
    }

    #[pg_test]
    fn split_invalid_is_22023_and_changes_nothing() {
        Spi::run("SELECT nodesync.create_doc('d')").unwrap();
        patch("d", json!([{"op": "create", "key": "p", "kind": "p", "parent": "root", "props": {"text": "abc", "n": 1}}]));
        let before = node("d", "p");
        let split = |f: Value| json!([with_fields(json!({"op": "split", "key": "p", "version": 1, "prop": "text", "at": 1, "new": "z"}), f)]);
        assert!(invalid("d", split(json!({"at": 4})), 0).contains("3 code points"));
        for bad in [
            json!({"at": -1}), json!({"at": 1.5}), json!({"at": "1"}), json!({"at": null}), json!({"at": "<absent>"}),
            json!({"key": "root"}), json!({"new": "p"}), json!({"new": ""}), json!({"new": 5}), json!({"new": "<absent>"}),
            json!({"new": "n".repeat(201)}), json!({"prop": "<absent>"}), json!({"prop": ""}), json!({"prop": "x".repeat(201)}),
            json!({"version": "<absent>"}), json!({"version": 0}), json!({"after": "p"}),
        ] {
            invalid("d", split(bad), 0);
        }
        assert!(invalid("d", split(json!({"prop": "n"})), 0).contains("a number"));
        assert!(invalid("d", split(json!({"key": "root"})), 0).contains("root"));
        // new is a created key: nodesync.max_key_bytes applies
        Spi::run("SET LOCAL nodesync.max_key_bytes = 3").unwrap();
        let e = catch(&patch_sql("d", split(json!({"new": "abcd"}))));
        assert_eq!(e["state"], "22023");
        assert!(e["message"].as_str().unwrap().contains("nodesync.max_key_bytes"), "{e}");
        assert_eq!(node("d", "p"), before);
        assert_eq!(gen("d"), 2);
        assert_eq!(int("SELECT count(*) FROM nodesync.nodes('d')"), 2);
        patch("d", split(json!({"new": "abc"})));
        assert_eq!(text_of("d", "abc"), "bc");
    }

    #[pg_test]
    fn later_ops_of_the_patch_use_the_new_node() {
        Spi::run("SELECT nodesync.create_doc('d')").unwrap();
        patch("d", json!([{"op": "create", "key": "p", "kind": "p", "parent": "root", "props": {"text": "second"}}]));
        let r = patch("d", json!([
            {"op": "split", "key": "p", "version": 1, "prop": "text", "at": 3, "new": "px"},
            text_op("px", 1, "text", json!([[0, 0, "X"]])),
            {"op": "update", "key": "px", "version": 5, "props": {"style": "quote"}},
            {"op": "create", "key": "c", "kind": "span", "parent": "px"},
            text_op("p", 1, "text", json!([[3, 0, "!"]]))
        ]));
        assert_eq!(r["versions"], json!({"p": 2, "px": 1, "c": 1}));
        assert_eq!(node("d", "px")["props"], json!({"text": "Xond", "style": "quote"}));
        assert_eq!(node("d", "px")["version"], 1);
        assert_eq!(text_of("d", "p"), "sec!", "a text op after the split edits the head");
        assert_eq!(kids("d", "px"), ["c"]);
        // the head is shorter after the split: an edit past its end is 22023
        invalid("d", json!([{"op": "split", "key": "p", "version": 2, "prop": "text", "at": 1, "new": "py"}, text_op("p", 2, "text", json!([[2, 0, "x"]]))]), 1);
        // split, then move and delete the new node in the same patch
        let r = patch("d", json!([
            {"op": "split", "key": "p", "version": 2, "prop": "text", "at": 1, "new": "pz"},
            {"op": "move", "key": "pz", "version": 1, "parent": "root", "after": null},
            {"op": "split", "key": "p", "version": 2, "prop": "text", "at": 0, "new": "pw"},
            {"op": "delete", "key": "pw", "version": 1}
        ]));
        assert_eq!(r["versions"], json!({"p": 3, "pz": 1, "pw": null}));
        assert_eq!(kids("d", "root"), ["pz", "p", "px"]);
        assert_eq!((text_of("d", "pz"), text_of("d", "p")), (json!("ec!"), json!("")));
        assert_eq!(conflict(&patch_sql("d", json!([{"op": "create", "key": "pw", "kind": "p", "parent": "root"}])))["conflicts"][0]["reason"], "exists");
    }

    #[pg_test]
    fn join_concatenates_and_deletes_next() {
        Spi::run("SELECT nodesync.create_doc('d')").unwrap();
        patch("d", json!([
            {"op": "create", "key": "p1", "kind": "para", "parent": "root", "props": {"text": "hello", "b": true}},
            {"op": "create", "key": "p2", "kind": "quote", "parent": "root", "props": {"text": " wörld 😀", "x": 1}},
            {"op": "create", "key": "p3", "kind": "para", "parent": "root", "props": {"text": "!"}}
        ]));
        let r = patch("d", json!([{"op": "join", "key": "p1", "version": 1, "next": "p2", "next_version": 1, "prop": "text"}]));
        assert_eq!(r, json!({"gen": 3, "versions": {"p1": 2, "p2": null}, "duplicate": false}));
        assert_eq!(node("d", "p1"), json!({"key": "p1", "parent": "root", "kind": "para", "props": {"text": "hello wörld 😀", "b": true}, "version": 2, "gen": 3}),
            "key keeps its kind and props; next's other props are dropped");
        assert_eq!(node("d", "p2"), Value::Null);
        assert_eq!(kids("d", "root"), ["p1", "p3"]);
        assert_eq!(q("SELECT nodesync.diff_since('d', 2)->'deleted'"), json!(["p2"]));
        assert_eq!(q("SELECT jsonb_agg(jsonb_build_array(version, gen, state IS NULL) ORDER BY version) FROM nodesync.node_history('d', 'p2')"),
            json!([[1, 2, false], [2, 3, true]]));
        // next's key is never reusable
        for ops in [
            json!([{"op": "create", "key": "p2", "kind": "para", "parent": "root"}]),
            json!([{"op": "split", "key": "p1", "version": 2, "prop": "text", "at": 0, "new": "p2"}]),
        ] {
            assert_eq!(conflict(&patch_sql("d", ops.clone()))["conflicts"][0]["reason"], "exists", "{ops}");
        }
        // absent props are ""
        patch("d", json!([
            {"op": "create", "key": "e1", "kind": "para", "parent": "root"},
            {"op": "create", "key": "e2", "kind": "para", "parent": "root", "props": {"text": "tail"}},
            {"op": "create", "key": "e3", "kind": "para", "parent": "root"}
        ]));
        patch("d", json!([{"op": "join", "key": "e1", "version": 1, "next": "e2", "next_version": 1, "prop": "text"}]));
        assert_eq!(node("d", "e1")["props"], json!({"text": "tail"}));
        patch("d", json!([{"op": "join", "key": "p3", "version": 1, "next": "e1", "next_version": 2, "prop": "other"}]));
        assert_eq!(node("d", "p3")["props"], json!({"text": "!", "other": ""}));
        assert_eq!(q("SELECT patch->'ops'->0 FROM nodesync.changes_since('d', 2) WHERE gen = 3"),
            json!({"op": "join", "key": "p1", "version": 1, "next": "p2", "next_version": 1, "prop": "text"}), "the log keeps the join as sent");
    }

    #[pg_test]
    fn join_moves_the_children_of_next_after_those_of_key() {
        Spi::run("SELECT nodesync.create_doc('d')").unwrap();
        patch("d", json!([
            {"op": "create", "key": "L1", "kind": "item", "parent": "root", "props": {"text": "a"}},
            {"op": "create", "key": "L2", "kind": "item", "parent": "root", "props": {"text": "b"}},
            {"op": "create", "key": "c1", "kind": "p", "parent": "L1"},
            {"op": "create", "key": "c2", "kind": "p", "parent": "L1"},
            {"op": "create", "key": "c3", "kind": "p", "parent": "L2"},
            {"op": "create", "key": "c4", "kind": "p", "parent": "L2"},
            {"op": "create", "key": "g1", "kind": "p", "parent": "c3"}
        ]));
        let r = patch("d", json!([{"op": "join", "key": "L1", "version": 1, "next": "L2", "next_version": 1, "prop": "text"}]));
        assert_eq!(r["versions"], json!({"L1": 2, "L2": null, "c3": 2, "c4": 2}), "each moved child gains a version; key's own do not");
        assert_eq!(kids("d", "L1"), ["c1", "c2", "c3", "c4"]);
        assert_eq!(node("d", "c1")["version"], 1);
        assert_eq!(node("d", "c3")["parent"], "L1");
        assert_eq!((node("d", "g1")["parent"].clone(), node("d", "g1")["version"].clone()), (json!("c3"), json!(1)), "grandchildren stay where they are");
        assert_eq!(text_of("d", "L1"), "ab");
        assert_eq!(q("SELECT jsonb_agg(state->>'parent' ORDER BY version) FROM nodesync.node_history('d', 'c3')"), json!(["L2", "L1"]));
        // children added to either node earlier in the same patch keep the order too
        patch("d", json!([
            {"op": "create", "key": "M1", "kind": "item", "parent": "root", "props": {"text": "m"}},
            {"op": "create", "key": "M2", "kind": "item", "parent": "root", "props": {"text": "n"}},
            {"op": "create", "key": "x1", "kind": "p", "parent": "M2"}
        ]));
        let r = patch("d", json!([
            {"op": "create", "key": "x0", "kind": "p", "parent": "M2", "after": null},
            {"op": "create", "key": "k1", "kind": "p", "parent": "M1"},
            {"op": "join", "key": "M1", "version": 1, "next": "M2", "next_version": 1, "prop": "text"}
        ]));
        assert_eq!(r["versions"], json!({"M1": 2, "M2": null, "x0": 1, "x1": 2, "k1": 1}));
        assert_eq!(kids("d", "M1"), ["k1", "x0", "x1"]);
    }

    #[pg_test]
    fn join_conflicts() {
        fixture("d"); // root -> a, b, s -> (s1, s2)
        patch("d", json!([{"op": "create", "key": "c", "kind": "p", "parent": "root", "props": {"t": "c"}}]));
        let join = |key: &str, version: i64, next: &str, next_version: i64| {
            patch_sql("d", json!([{"op": "join", "key": key, "version": version, "next": next, "next_version": next_version, "prop": "t"}]))
        };
        let d = conflict(&join("a", 1, "s", 1));
        assert_eq!(d, json!({"gen": 3, "conflicts": [{"op": 0, "key": "s", "reason": "anchor"}]}), "not the next sibling: anchor, naming next");
        assert_eq!(conflict(&join("b", 1, "a", 1))["conflicts"], json!([{"op": 0, "key": "a", "reason": "anchor"}]), "the previous sibling");
        assert_eq!(conflict(&join("s", 1, "s1", 1))["conflicts"], json!([{"op": 0, "key": "s1", "reason": "anchor"}]), "a child");
        assert_eq!(conflict(&join("s1", 1, "b", 1))["conflicts"], json!([{"op": 0, "key": "b", "reason": "anchor"}]), "another parent");
        assert_eq!(conflict(&join("a", 1, "zz", 1))["conflicts"], json!([{"op": 0, "key": "zz", "reason": "missing"}]));
        patch("d", json!([{"op": "update", "key": "b", "version": 1, "props": {"t": "b"}}]));
        assert_eq!(conflict(&join("a", 1, "b", 1))["conflicts"], json!([{"op": 0, "key": "b", "reason": "version", "expected": 1, "actual": 2}]),
            "a stale next_version names next");
        assert_eq!(conflict(&join("a", 3, "b", 2))["conflicts"], json!([{"op": 0, "key": "a", "reason": "version", "expected": 3, "actual": 1}]));
        assert_eq!(conflict(&join("zz", 1, "b", 2))["conflicts"], json!([{"op": 0, "key": "zz", "reason": "missing"}]));
        // checked in order: key, then next (missing, version), then adjacency
        assert_eq!(conflict(&join("a", 3, "zz", 1))["conflicts"][0]["key"], "a");
        assert_eq!(conflict(&join("a", 1, "c", 9))["conflicts"][0]["reason"], "version", "next's version before adjacency");
        // adjacency as the patch sees it: a node created between them...
        let d = conflict(&patch_sql("d", json!([
            {"op": "create", "key": "n", "kind": "p", "parent": "root", "after": "a"},
            {"op": "join", "key": "a", "version": 1, "next": "b", "next_version": 2, "prop": "t"}
        ])));
        assert_eq!(d["conflicts"], json!([{"op": 1, "key": "b", "reason": "anchor"}]));
        // ... or one moved away first
        let r = patch("d", json!([
            {"op": "move", "key": "s", "version": 1, "parent": "b"},
            {"op": "join", "key": "b", "version": 2, "next": "c", "next_version": 1, "prop": "t"}
        ]));
        assert_eq!(r["versions"], json!({"b": 3, "c": null, "s": 2}));
        assert_eq!(node("d", "b")["props"], json!({"t": "bc"}));
        assert_eq!(kids("d", "root"), ["a", "b"]);
        // a deleted next is missing
        assert_eq!(conflict(&join("b", 3, "c", 1))["conflicts"], json!([{"op": 0, "key": "c", "reason": "missing"}]));
    }

    #[pg_test]
    fn join_invalid_is_22023_and_changes_nothing() {
        Spi::run("SELECT nodesync.create_doc('d')").unwrap();
        patch("d", json!([
            {"op": "create", "key": "a", "kind": "p", "parent": "root", "props": {"text": "x", "n": 1, "k": "s"}},
            {"op": "create", "key": "b", "kind": "p", "parent": "root", "props": {"text": "y", "n": "s", "k": [1]}}
        ]));
        let snapshot = q("SELECT nodesync.snapshot('d')");
        let join = |f: Value| json!([with_fields(json!({"op": "join", "key": "a", "version": 1, "next": "b", "next_version": 1, "prop": "text"}), f)]);
        assert!(invalid("d", join(json!({"next": "a"})), 0).contains("itself"));
        assert!(invalid("d", join(json!({"key": "root"})), 0).contains("root"));
        assert!(invalid("d", join(json!({"next": "root"})), 0).contains("root"));
        assert!(invalid("d", join(json!({"prop": "n"})), 0).contains("a number"), "a non-string on key");
        let m = invalid("d", join(json!({"prop": "k"})), 0);
        assert!(m.contains("an array") && m.contains("\"b\""), "a non-string on next: {m}");
        for bad in [
            json!({"next_version": "<absent>"}), json!({"next_version": 0}), json!({"next_version": 1.5}), json!({"next": "<absent>"}),
            json!({"next": ""}), json!({"next": 7}), json!({"prop": "<absent>"}), json!({"prop": ""}), json!({"prop": "x".repeat(201)}),
            json!({"version": "<absent>"}), json!({"at": 0}),
        ] {
            invalid("d", join(bad), 0);
        }
        assert_eq!(q("SELECT nodesync.snapshot('d')"), snapshot);
        assert_eq!(gen("d"), 2);
    }

    #[pg_test]
    fn join_of_nodes_created_in_the_same_patch() {
        Spi::run("SELECT nodesync.create_doc('d')").unwrap();
        let r = patch("d", json!([
            {"op": "create", "key": "n1", "kind": "para", "parent": "root", "props": {"text": "ab"}},
            {"op": "create", "key": "n2", "kind": "para", "parent": "root", "after": "n1", "props": {"text": "cd"}},
            {"op": "create", "key": "n3", "kind": "span", "parent": "n2"},
            {"op": "join", "key": "n1", "version": 1, "next": "n2", "next_version": 5, "prop": "text"}
        ]));
        assert_eq!(r["versions"], json!({"n1": 1, "n2": null, "n3": 1}));
        assert_eq!(node("d", "n1")["props"], json!({"text": "abcd"}));
        assert_eq!(kids("d", "n1"), ["n3"]);
        assert_eq!(kids("d", "root"), ["n1"]);
        assert_eq!(conflict(&patch_sql("d", json!([{"op": "create", "key": "n2", "kind": "p", "parent": "root"}])))["conflicts"][0]["reason"], "exists",
            "a key created and joined away in one patch stays reserved");
        // split and join back in one patch: the text is as before, and the split-off key is used up
        let r = patch("d", json!([
            {"op": "split", "key": "n1", "version": 1, "prop": "text", "at": 1, "new": "tmp"},
            {"op": "join", "key": "n1", "version": 1, "next": "tmp", "next_version": 1, "prop": "text"}
        ]));
        assert_eq!(r["versions"], json!({"n1": 2, "tmp": null}));
        assert_eq!(text_of("d", "n1"), "abcd");
        assert_eq!(kids("d", "root"), ["n1"]);
        assert_eq!(conflict(&patch_sql("d", json!([{"op": "create", "key": "tmp", "kind": "p", "parent": "root"}])))["conflicts"][0]["reason"], "exists");
    }
}
