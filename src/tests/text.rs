//! `#[pg_test]`s of the text op (docs/api/apply_patch.md).
use pgrx::prelude::*;

#[pg_schema]
mod tests {
    use crate::tests::*;
    use serde_json::{json, Value};

    #[pg_test]
    fn text_splices_in_code_points() {
        Spi::run("SELECT nodesync.create_doc('d')").unwrap();
        patch("d", json!([{"op": "create", "key": "p", "kind": "paragraph", "parent": "root", "props": {"text": "hello world", "n": 1}}]));
        let r = patch("d", json!([text_op("p", 1, "text", json!([[5, 0, ","]]))]));
        assert_eq!(r, json!({"gen": 3, "versions": {"p": 2}, "duplicate": false}));
        assert_eq!(node("d", "p")["props"], json!({"text": "hello, world", "n": 1}), "other props untouched");
        patch("d", json!([text_op("p", 2, "text", json!([[7, 5, "there"]]))]));
        assert_eq!(text_of("d", "p"), "hello, there", "replace a range");
        patch("d", json!([text_op("p", 3, "text", json!([[0, 7, ""]]))]));
        assert_eq!(text_of("d", "p"), "there", "delete a range");
        // several edits apply in order, each to the result of the one before; one version
        let r = patch("d", json!([text_op("p", 4, "text", json!([[5, 0, "!"], [0, 0, "oh "], [3, 1, "T"]]))]));
        assert_eq!(r["versions"], json!({"p": 5}));
        assert_eq!(text_of("d", "p"), "oh There!");
        // the end of the text is its length: insert there, delete up to it
        patch("d", json!([text_op("p", 5, "text", json!([[9, 0, "?"]]))]));
        assert_eq!(text_of("d", "p"), "oh There!?");
        patch("d", json!([text_op("p", 6, "text", json!([[8, 2, ""]]))]));
        assert_eq!(text_of("d", "p"), "oh There");
        // code points: "é" is 2 bytes, "😀" 4 bytes and 2 UTF-16 units; each is one code point
        patch("d", json!([{"op": "create", "key": "u", "kind": "paragraph", "parent": "root", "props": {"text": "é😀x"}}]));
        patch("d", json!([text_op("u", 1, "text", json!([[2, 0, "-"]]))]));
        assert_eq!(text_of("d", "u"), "é😀-x");
        patch("d", json!([text_op("u", 2, "text", json!([[1, 1, "o"]]))]));
        assert_eq!(text_of("d", "u"), "éo-x", "deleting 1 removes the whole astral character");
        patch("d", json!([text_op("u", 3, "text", json!([[4, 0, "ß"], [0, 0, "😀😀"], [2, 0, "|"]]))]));
        assert_eq!(text_of("d", "u"), "😀😀|éo-xß");
        assert_eq!(int("SELECT length(props->>'text') FROM nodesync.nodes('d') WHERE key = 'u'"), 8, "offsets are what Postgres's length() counts");
        // a combining mark is a code point of its own: "e\u{301}" is two
        patch("d", json!([{"op": "create", "key": "c", "kind": "paragraph", "parent": "root", "props": {"text": "e\u{301}a"}}]));
        patch("d", json!([text_op("c", 1, "text", json!([[1, 1, ""]]))]));
        assert_eq!(text_of("d", "c"), "ea");
        patch("d", json!([text_op("c", 2, "text", json!([[1, 0, "\u{308}"], [3, 0, "\u{301}"]]))]));
        assert_eq!(text_of("d", "c"), "e\u{308}a\u{301}");
        assert_eq!(invalid("d", json!([text_op("c", 3, "text", json!([[5, 0, "x"]]))]), 0).contains("4 code points"), true);
    }

    #[pg_test]
    fn text_on_an_absent_prop_starts_from_the_empty_string() {
        fixture("d");
        let r = patch("d", json!([text_op("b", 1, "title", json!([[0, 0, "T"]]))]));
        assert_eq!(r["versions"], json!({"b": 2}));
        assert_eq!(node("d", "b")["props"], json!({"title": "T"}));
        patch("d", json!([text_op("b", 2, "title", json!([[0, 1, ""]]))]));
        assert_eq!(node("d", "b")["props"], json!({"title": ""}), "emptied, the prop stays present as \"\"");
        // an absent prop has length 0: only edits at 0 fit
        invalid("d", json!([text_op("b", 3, "other", json!([[1, 0, "x"]]))]), 0);
        // an edit that changes nothing is still a change of the node, like an update without props
        let r = patch("d", json!([text_op("b", 3, "other", json!([[0, 0, ""]]))]));
        assert_eq!(r["versions"], json!({"b": 4}));
        assert_eq!(node("d", "b")["props"], json!({"title": "", "other": ""}));
    }

    #[pg_test]
    fn text_and_update_mix_in_one_patch_in_op_order() {
        fixture("d");
        let r = patch("d", json!([
            {"op": "update", "key": "a", "version": 1, "props": {"t": "abc", "x": 1}},
            text_op("a", 1, "t", json!([[3, 0, "d"]])),
            {"op": "update", "key": "a", "version": 1, "props": {"x": null}},
            text_op("a", 1, "t", json!([[0, 1, "A"]]))
        ]));
        assert_eq!(r, json!({"gen": 3, "versions": {"a": 2}, "duplicate": false}), "one version for the node, one gen for the patch");
        assert_eq!(node("d", "a")["props"], json!({"t": "Abcd"}));
        assert_eq!(node("d", "a")["version"], 2);
        // a prop removed by an earlier update is absent, so "" for the text op
        patch("d", json!([{"op": "update", "key": "a", "version": 2, "props": {"t": null}}, text_op("a", 2, "t", json!([[0, 0, "new"]]))]));
        assert_eq!(node("d", "a")["props"], json!({"t": "new"}));
        // an update after the text op replaces its result
        patch("d", json!([text_op("a", 3, "t", json!([[3, 0, "er"]])), {"op": "update", "key": "a", "version": 3, "props": {"t": "old"}}]));
        assert_eq!(node("d", "a")["props"], json!({"t": "old"}));
        // the edit is checked against the value the earlier ops left
        invalid("d", json!([{"op": "update", "key": "a", "version": 4, "props": {"t": "ab"}}, text_op("a", 4, "t", json!([[3, 0, "x"]]))]), 1);
        // a node created in the same patch: no version check, and it stays at version 1
        let r = patch("d", json!([
            {"op": "create", "key": "n", "kind": "p", "parent": "root", "props": {"text": "ab"}},
            text_op("n", 7, "text", json!([[1, 0, "x"]])),
            text_op("n", 1, "text", json!([[3, 0, "!"]]))
        ]));
        assert_eq!(r["versions"], json!({"n": 1}));
        assert_eq!(node("d", "n")["props"], json!({"text": "axb!"}));
        assert_eq!(node("d", "n")["version"], 1);
    }

    #[pg_test]
    fn text_conflicts_version_and_missing() {
        fixture("d");
        patch("d", json!([text_op("a", 1, "t", json!([[1, 0, "b"]]))]));
        let stale = patch_sql("d", json!([text_op("a", 1, "t", json!([[0, 0, "x"]]))]));
        assert_eq!(conflict(&stale), json!({"gen": 3, "conflicts": [{"op": 0, "key": "a", "reason": "version", "expected": 1, "actual": 2}]}));
        let msg = catch(&stale)["message"].as_str().unwrap().to_string();
        assert!(msg.contains("\"d\"") && msg.contains("op 0") && msg.contains("\"a\""), "{msg}");
        let d = conflict(&patch_sql("d", json!([text_op("zz", 1, "t", json!([[0, 0, "x"]]))])));
        assert_eq!(d["conflicts"], json!([{"op": 0, "key": "zz", "reason": "missing"}]));
        patch("d", json!([{"op": "delete", "key": "b", "version": 1}]));
        let d = conflict(&patch_sql("d", json!([text_op("b", 1, "t", json!([[0, 0, "x"]]))])));
        assert_eq!(d["conflicts"], json!([{"op": 0, "key": "b", "reason": "missing"}]), "a deleted node is missing");
        // deleted earlier in the same patch
        let d = conflict(&patch_sql("d", json!([{"op": "delete", "key": "s1", "version": 1}, text_op("s1", 1, "t", json!([[0, 0, "x"]]))])));
        assert_eq!(d["conflicts"], json!([{"op": 1, "key": "s1", "reason": "missing"}]));
        assert_eq!(node("d", "a")["props"], json!({"t": "ab"}), "refused patches change nothing");
        assert_eq!(gen("d"), 4);
        // try_apply_patch returns the conflict
        let r = try_patch("d", json!([text_op("a", 1, "t", json!([[0, 0, "x"]]))]));
        assert_eq!(r, json!({"ok": false, "gen": 4, "conflicts": [{"op": 0, "key": "a", "reason": "version", "expected": 1, "actual": 2}]}));
    }

    #[pg_test]
    fn text_edits_that_do_not_fit_are_22023_and_change_nothing() {
        Spi::run("SELECT nodesync.create_doc('d')").unwrap();
        patch("d", json!([{"op": "create", "key": "p", "kind": "p", "parent": "root",
            "props": {"text": "hello", "n": 1, "b": true, "o": {"text": "x"}, "l": ["x"]}}]));
        let before = node("d", "p");
        let ops = |edits: Value| json!([text_op("p", 1, "text", edits)]);
        let m = invalid("d", ops(json!([[6, 0, "x"]])), 0);
        assert!(m.contains("edit 0") && m.contains("5 code points"), "{m}");
        invalid("d", ops(json!([[3, 3, ""]])), 0);
        let m = invalid("d", ops(json!([[0, 5, ""], [1, 0, "x"]])), 0);
        assert!(m.contains("edit 1") && m.contains("0 code points"), "the second edit applies to the result of the first: {m}");
        for bad in [
            json!([[-1, 0, "x"]]), json!([[0, -1, ""]]), json!([[1.5, 0, "x"]]), json!([[0, 0.5, ""]]), json!([["1", 0, "x"]]),
            json!([[0, 0, 5]]), json!([[0, 0, null]]), json!([[0, 0, ["x"]]]), json!([[0, 0]]), json!([[0, 0, "x", 1]]),
            json!([{"at": 0, "delete": 0, "insert": "x"}]), json!("x"), json!([]), json!([[0, 0, "x"], [0, 0]]),
        ] {
            invalid("d", ops(bad), 0);
        }
        assert!(invalid("d", ops(json!([])), 0).contains("empty"));
        invalid("d", json!([{"op": "text", "key": "p", "version": 1, "prop": "text"}]), 0);
        // prop: missing, empty, over 200 bytes (100 "é" are 200 bytes: fine; 101 are not)
        invalid("d", json!([{"op": "text", "key": "p", "version": 1, "edits": [[0, 0, "x"]]}]), 0);
        invalid("d", json!([text_op("p", 1, "", json!([[0, 0, "x"]]))]), 0);
        invalid("d", json!([text_op("p", 1, &"x".repeat(201), json!([[0, 0, "x"]]))]), 0);
        invalid("d", json!([text_op("p", 1, &"é".repeat(101), json!([[0, 0, "x"]]))]), 0);
        invalid("d", json!([{"op": "text", "key": "p", "version": 1, "prop": 5, "edits": [[0, 0, "x"]]}]), 0);
        // the property holds something else than a string
        for (prop, what) in [("n", "a number"), ("b", "a boolean"), ("o", "an object"), ("l", "an array")] {
            let m = invalid("d", json!([text_op("p", 1, prop, json!([[0, 0, "x"]]))]), 0);
            assert!(m.contains(what), "{m}");
        }
        // the message names the op index
        invalid("d", json!([{"op": "update", "key": "p", "version": 1}, text_op("p", 1, "text", json!([[9, 0, ""]]))]), 1);
        invalid("d", json!([{"op": "text", "key": "p", "version": 1, "prop": "text", "edits": [[0, 0, "x"]], "at": 1}]), 0);
        // nothing changed and no gen was taken
        assert_eq!(node("d", "p"), before);
        assert_eq!(gen("d"), 2);
        assert_eq!(int("SELECT count(*) FROM nodesync.changes_since('d', 0)"), 1);
        // the bounds themselves are fine
        let r = patch("d", json!([text_op("p", 1, &"é".repeat(100), json!([[0, 0, "x"]])), text_op("p", 1, "text", json!([[0, 5, "bye"]]))]));
        assert_eq!(r["versions"], json!({"p": 2}));
        assert_eq!(text_of("d", "p"), "bye");
    }

    #[pg_test]
    fn text_results_count_against_max_props_bytes() {
        Spi::run("SELECT nodesync.create_doc('d')").unwrap();
        // {"text": "0123456789"} is 22 bytes as jsonb text
        patch("d", json!([
            {"op": "create", "key": "p", "kind": "p", "parent": "root", "props": {"text": "0123456789"}},
            {"op": "create", "key": "q", "kind": "p", "parent": "root", "props": {"text": "abc"}}
        ]));
        Spi::run("SET LOCAL nodesync.max_props_bytes = 24").unwrap();
        // the op itself is tiny; the node's props after it are what counts
        patch("d", json!([text_op("p", 1, "text", json!([[10, 0, "ab"]]))]));
        assert_eq!(int("SELECT octet_length(props::text) FROM nodesync.nodes('d') WHERE key = 'p'"), 24, "exactly at the limit");
        let e = catch(&patch_sql("d", json!([text_op("p", 2, "text", json!([[12, 0, "c"]]))])));
        assert_eq!(e["state"], "22023", "{e}");
        let m = e["message"].as_str().unwrap();
        assert!(m.contains("nodesync.max_props_bytes") && m.contains("\"p\""), "{m}");
        assert_eq!(text_of("d", "p"), "0123456789ab");
        assert_eq!(gen("d"), 3);
        // a join's concatenation counts the same way
        let e = catch(&patch_sql("d", json!([{"op": "join", "key": "p", "version": 2, "next": "q", "next_version": 1, "prop": "text"}])));
        assert_eq!(e["state"], "22023", "{e}");
        assert!(e["message"].as_str().unwrap().contains("nodesync.max_props_bytes"), "{e}");
        // and a split that adds an absent prop to both halves
        patch("d", json!([{"op": "create", "key": "r", "kind": "p", "parent": "root", "props": {"x": "0123456789abc"}}]));
        let e = catch(&patch_sql("d", json!([{"op": "split", "key": "r", "version": 1, "prop": "text", "at": 0, "new": "r2"}])));
        assert_eq!(e["state"], "22023", "{e}");
        assert!(e["message"].as_str().unwrap().contains("nodesync.max_props_bytes"), "{e}");
        assert_eq!(node("d", "r2"), Value::Null);
        // shrinking always works
        patch("d", json!([text_op("p", 2, "text", json!([[0, 12, ""]]))]));
        assert_eq!(text_of("d", "p"), "");
    }

    #[pg_test]
    fn text_is_logged_as_sent_and_history_keeps_values() {
        Spi::run("SELECT nodesync.create_doc('d')").unwrap();
        patch("d", json!([{"op": "create", "key": "p", "kind": "p", "parent": "root", "props": {"text": "hello"}}]));
        let op = text_op("p", 1, "text", json!([[5, 0, " world"], [0, 1, "H"]]));
        patch("d", json!([op.clone()]));
        patch("d", json!([text_op("p", 2, "text", json!([[11, 0, "!"]]))]));
        assert_eq!(q("SELECT patch FROM nodesync.changes_since('d', 2) WHERE gen = 3"), json!({"ops": [op]}), "the log keeps the op, not the value");
        assert_eq!(q("SELECT jsonb_agg(state->'props'->'text' ORDER BY version) FROM nodesync.node_history('d', 'p')"),
            json!(["hello", "Hello world", "Hello world!"]), "history keeps full values");
        assert_eq!(q("SELECT nodesync.snapshot('d', 3)#>'{root,children,0,props,text}'"), json!("Hello world"));
        assert_eq!(q("SELECT nodesync.snapshot('d')#>'{root,children,0,props,text}'"), json!("Hello world!"));
        let d = q("SELECT nodesync.diff_since('d', 3)");
        assert_eq!(d["nodes"].as_array().unwrap().len(), 1);
        assert_eq!(d["nodes"][0]["props"], json!({"text": "Hello world!"}));
        assert_eq!(d["nodes"][0]["version"], 3);
    }

    #[pg_test]
    fn text_after_a_conflicting_op_reports_the_conflict() {
        fixture("d");
        patch("d", json!([{"op": "update", "key": "a", "version": 1, "props": {"n": 1}}]));
        let stale_b = json!({"op": "update", "key": "b", "version": 9});
        let b_conflict = json!([{"op": 0, "key": "b", "reason": "version", "expected": 9, "actual": 1}]);
        // alone, each of these is 22023 ...
        let state_dependent = [
            text_op("a", 2, "t", json!([[5, 0, "x"]])),
            text_op("a", 2, "n", json!([[0, 0, "x"]])),
            json!({"op": "split", "key": "a", "version": 2, "prop": "t", "at": 9, "new": "z"}),
            json!({"op": "split", "key": "a", "version": 2, "prop": "n", "at": 0, "new": "z"}),
            json!({"op": "join", "key": "a", "version": 2, "next": "b", "next_version": 1, "prop": "n"}),
        ];
        for op in &state_dependent {
            assert_eq!(state(&patch_sql("d", json!([op]))), "22023", "{op}");
            // ... after a conflicting op, the conflict is reported: after the rebase the edit
            // may well fit
            let d = conflict(&patch_sql("d", json!([stale_b, op])));
            assert_eq!(d["conflicts"], b_conflict, "{op}");
            let r = try_patch("d", json!([stale_b, op]));
            assert_eq!(r, json!({"ok": false, "gen": 3, "conflicts": b_conflict}), "{op}");
            // ... and before one too: the op has no effect, evaluation goes on, and the
            // conflict after it is reported
            let d = conflict(&patch_sql("d", json!([op, stale_b])));
            assert_eq!(d["conflicts"].as_array().map(Vec::len), Some(1), "{op}: {d}");
            assert_eq!((d["conflicts"][0]["op"].as_i64(), d["conflicts"][0]["reason"].as_str()), (Some(1), Some("version")), "{op}: {d}");
        }
        // a create that conflicts (the key exists) has no effect: the text op after it edits the
        // existing node, whose text is shorter; the conflict is what the writer needs to know
        let d = conflict(&patch_sql("d", json!([
            {"op": "create", "key": "a", "kind": "p", "parent": "root", "props": {"t": "a longer text"}},
            text_op("a", 2, "t", json!([[13, 0, "!"]]))
        ])));
        assert_eq!(d["conflicts"], json!([{"op": 0, "key": "a", "reason": "exists"}]));
        // shape errors do not depend on the state: 22023 even after a conflict
        assert_eq!(state(&patch_sql("d", json!([stale_b, text_op("a", 2, "t", json!([]))]))), "22023");
        assert_eq!(state(&patch_sql("d", json!([stale_b, {"op": "split", "key": "a", "version": 2, "prop": "t", "at": 0, "new": "a"}]))), "22023");
        assert_eq!(node("d", "a")["props"], json!({"t": "a", "n": 1}));
        assert_eq!(gen("d"), 3);
    }
}
