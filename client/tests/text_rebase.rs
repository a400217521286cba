//! No server: the text rebase of [`Workspace`]s against the reference model (`ModelServer`):
//! splices and whole-value updates typed concurrently, splits and joins in both directions,
//! the delete-of-an-edited-block rule, cursors, and pull order. Each case is run with the
//! server's change log and without it (the diff fallback used below the horizon) where the
//! outcome does not depend on it.

use nodesync_core::reference::Rng;
use pg_nodesync_client::sim::{blocks_text, check_words, ModelServer, Stroke, Typist};
use pg_nodesync_client::{Policy, Rule, Workspace};
use serde_json::{json, Map, Value};

fn props(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}

/// A model server with paragraphs `p1..` holding `texts`, and `n` workspaces on it.
fn setup(texts: &[&str], n: usize) -> (ModelServer, Vec<Workspace>) {
    let mut s = ModelServer::new();
    let ops: Vec<Value> = texts
        .iter()
        .enumerate()
        .map(|(i, t)| json!({"op": "create", "key": format!("p{}", i + 1), "kind": "para", "parent": "root", "props": {"text": t}}))
        .collect();
    s.apply(&json!({ "ops": ops })).unwrap();
    let ws = (0..n).map(|i| Workspace::new(s.tree(), format!("w{i}."))).collect();
    (s, ws)
}

fn text(w: &Workspace, k: &str) -> String {
    w.text(k, "text").unwrap_or("<none>").to_string()
}

fn rules(d: &[pg_nodesync_client::Dropped]) -> Vec<(String, Rule)> {
    d.iter().map(|x| (x.key.clone(), x.rule.clone())).collect()
}

/// Pushes everyone, then pulls everyone, and checks every workspace equals the server.
fn settle(s: &mut ModelServer, ws: &mut [Workspace]) {
    for w in ws.iter_mut() {
        s.push(w, Policy::ServerWins, 4).unwrap();
    }
    for w in ws.iter_mut() {
        s.pull(w, Policy::ServerWins);
        assert!(!w.has_local_edits());
        assert_eq!(w.tree().flat(), s.tree().flat());
    }
}

#[test]
fn concurrent_splices_in_one_paragraph_all_survive() {
    for with_log in [true, false] {
        let (mut s, mut ws) = setup(&["Hello world"], 2);
        s.with_log = with_log;
        ws[0].splice("p1", "text", 5, 0, " brave").unwrap(); // Hello brave world
        ws[1].splice("p1", "text", 11, 0, "!").unwrap();
        ws[1].splice("p1", "text", 5, 0, ",").unwrap(); // Hello, world!
        assert_eq!(ws[0].patch().to_json()["ops"][0]["op"], "text");
        s.push(&mut ws[0], Policy::ServerWins, 1).unwrap();
        // ws[1] is stale: its push conflicts, rebases and goes through
        let dropped = s.push(&mut ws[1], Policy::ServerWins, 2).unwrap();
        assert!(dropped.is_empty(), "{dropped:?}");
        settle(&mut s, &mut ws);
        // at offset 5 both inserted: the server's (first committed) text first
        assert_eq!(text(&ws[0], "p1"), "Hello brave, world!", "with_log={with_log}");
    }
}

#[test]
fn whole_value_updates_merge_like_splices_under_either_policy() {
    for policy in [Policy::ServerWins, Policy::LocalWins] {
        let (mut s, mut ws) = setup(&["one two three"], 3);
        let set = |w: &mut Workspace, v: &str| w.update("p1", None, props(json!({"text": v}))).unwrap();
        set(&mut ws[0], "one two three four");
        set(&mut ws[1], "zero one two three");
        set(&mut ws[2], "one 2 three");
        for w in ws.iter_mut() {
            let d = s.push(w, policy, 3).unwrap();
            assert!(d.is_empty(), "{d:?}");
        }
        for w in ws.iter_mut() {
            s.pull(w, policy);
        }
        assert_eq!(text(&ws[0], "p1"), "zero one 2 three four", "{policy:?}");
        assert_eq!(ws[1].tree().flat(), s.tree().flat());
        // the log holds text ops, not whole values
        assert!(s.log.iter().skip(1).all(|(_, p)| p.ops.iter().all(|o| o.name() == "text")));
    }
}

#[test]
fn local_wins_never_overwrites_committed_text() {
    let (mut s, mut ws) = setup(&["draft"], 2);
    ws[0].splice("p1", "text", 5, 0, " by Ann").unwrap();
    s.push(&mut ws[0], Policy::ServerWins, 1).unwrap();
    ws[1].update("p1", None, props(json!({"text": "final draft"}))).unwrap();
    s.push(&mut ws[1], Policy::LocalWins, 2).unwrap();
    settle(&mut s, &mut ws);
    assert_eq!(text(&ws[1], "p1"), "final draft by Ann");
}

#[test]
fn typing_follows_a_split_made_by_someone_else() {
    // ws0 presses Enter after "Hello"; ws1 typed at the end and right at the split point
    let (mut s, mut ws) = setup(&["Hello world"], 2);
    ws[0].split("p1", "text", 5, "n1").unwrap();
    s.push(&mut ws[0], Policy::ServerWins, 1).unwrap();
    ws[1].splice("p1", "text", 11, 0, "!").unwrap();
    ws[1].splice("p1", "text", 0, 0, "Oh, ").unwrap();
    ws[1].set_cursor("c", "p1", "text", 16);
    s.pull(&mut ws[1], Policy::ServerWins);
    assert_eq!(text(&ws[1], "p1"), "Oh, Hello");
    assert_eq!(text(&ws[1], "n1"), " world!");
    assert_eq!(ws[1].cursor("c").map(|c| (c.key.as_str(), c.at)), Some(("n1", 7)));
    settle(&mut s, &mut ws);
    assert_eq!(ws[0].children("root"), ["p1", "n1"]);
}

#[test]
fn a_split_keeps_what_others_typed_meanwhile() {
    // ws1 types into p1 and commits; ws0 had split p1: its rebased split moves with the text
    let (mut s, mut ws) = setup(&["abc def"], 2);
    ws[1].splice("p1", "text", 3, 0, " xyz").unwrap(); // abc xyz def
    ws[1].splice("p1", "text", 11, 0, " end").unwrap();
    s.push(&mut ws[1], Policy::ServerWins, 1).unwrap();
    ws[0].split("p1", "text", 4, "n1").unwrap(); // "abc " | "def"
    ws[0].splice("n1", "text", 0, 0, ">").unwrap();
    let d = s.push(&mut ws[0], Policy::ServerWins, 2).unwrap();
    assert!(d.is_empty(), "{d:?}");
    settle(&mut s, &mut ws);
    assert_eq!((text(&ws[0], "p1"), text(&ws[0], "n1")), ("abc xyz ".to_string(), ">def end".to_string()));
}

#[test]
fn a_join_keeps_what_others_typed_into_next() {
    // the case: ws0 joins p2 into p1 (Backspace at p2's start) while ws1 had just
    // committed typing into p2
    let (mut s, mut ws) = setup(&["First.", "Second"], 2);
    ws[1].splice("p2", "text", 6, 0, " words by ws1").unwrap();
    s.push(&mut ws[1], Policy::ServerWins, 1).unwrap();
    assert_eq!(ws[0].join("p1", "p2", "text").unwrap(), "p1");
    ws[0].splice("p1", "text", 6, 0, " ").unwrap();
    ws[0].set_cursor("c", "p1", "text", 7);
    assert_eq!(ws[0].patch().to_json()["ops"][0]["op"], "join");
    let d = s.push(&mut ws[0], Policy::ServerWins, 2).unwrap();
    assert!(d.is_empty(), "{d:?}");
    settle(&mut s, &mut ws);
    assert_eq!(text(&ws[0], "p1"), "First. Second words by ws1");
    assert!(ws[0].get("p2").is_none());
}

#[test]
fn typing_follows_a_join_made_by_someone_else() {
    let (mut s, mut ws) = setup(&["ab", "cd"], 2);
    ws[0].join("p1", "p2", "text").unwrap();
    s.push(&mut ws[0], Policy::ServerWins, 1).unwrap();
    ws[1].splice("p2", "text", 1, 0, "X").unwrap();
    ws[1].splice("p1", "text", 2, 0, "Y").unwrap(); // at the end of p1: stays before p2's text
    ws[1].set_cursor("c", "p2", "text", 2);
    let d = s.pull(&mut ws[1], Policy::ServerWins);
    assert!(d.is_empty(), "{d:?}");
    assert_eq!(text(&ws[1], "p1"), "abYcXd");
    assert_eq!(ws[1].cursor("c").map(|c| (c.key.clone(), c.at)), Some(("p1".to_string(), 5)));
    settle(&mut s, &mut ws);
}

#[test]
fn concurrent_enter_and_backspace_compose() {
    // ws0 splits p2; ws1 joins p2 into p1; ws2 types into p2 after the split point
    let (mut s, mut ws) = setup(&["one", "two three"], 3);
    ws[0].split("p2", "text", 4, "n0").unwrap();
    ws[1].join("p1", "p2", "text").unwrap();
    ws[2].splice("p2", "text", 9, 0, " four").unwrap();
    settle(&mut s, &mut ws);
    assert_eq!(ws[0].children("root"), ["p1", "n0"]);
    assert_eq!((text(&ws[0], "p1"), text(&ws[0], "n0")), ("onetwo ".to_string(), "three four".to_string()));
}

#[test]
fn a_plain_delete_of_a_block_others_typed_into_keeps_their_text() {
    for with_log in [true, false] {
        let (mut s, mut ws) = setup(&["keep", "old text", "other"], 2);
        s.with_log = with_log;
        ws[1].splice("p2", "text", 8, 0, " new words").unwrap();
        s.push(&mut ws[1], Policy::ServerWins, 1).unwrap();
        ws[0].delete("p2").unwrap();
        ws[0].delete("p3").unwrap();
        let d = s.push(&mut ws[0], Policy::ServerWins, 2).unwrap();
        // p2 stays with only ws1's words; p3 (untouched by others) is deleted
        assert_eq!(rules(&d), [("p2".to_string(), Rule::DeleteKeptTyping)], "with_log={with_log}");
        settle(&mut s, &mut ws);
        assert_eq!(text(&ws[0], "p2"), " new words");
        assert!(ws[0].get("p3").is_none());
    }
}

#[test]
fn a_plain_delete_over_a_non_text_edit_is_resent_and_reported() {
    let (mut s, mut ws) = setup(&["a", "b"], 2);
    ws[1].update("p2", None, props(json!({"bold": true}))).unwrap();
    s.push(&mut ws[1], Policy::ServerWins, 1).unwrap();
    ws[0].delete("p2").unwrap();
    let d = s.push(&mut ws[0], Policy::ServerWins, 2).unwrap();
    assert_eq!(rules(&d), [("p2".to_string(), Rule::DeleteOverServerEdit)]);
    assert!(d[0].rule.is_warning());
    settle(&mut s, &mut ws);
    assert!(ws[1].get("p2").is_none());
}

#[test]
fn a_delete_of_a_section_keeps_the_paragraph_others_typed_into() {
    let mut s = ModelServer::new();
    s.apply(&json!({"ops": [
        {"op": "create", "key": "sec", "kind": "section", "parent": "root", "props": {"text": "Title"}},
        {"op": "create", "key": "a", "kind": "para", "parent": "sec", "props": {"text": "A"}},
        {"op": "create", "key": "b", "kind": "para", "parent": "sec", "props": {"text": "B"}}]}))
    .unwrap();
    let mut ws: Vec<Workspace> = (0..2).map(|i| Workspace::new(s.tree(), format!("w{i}."))).collect();
    ws[1].splice("b", "text", 1, 0, " typed").unwrap();
    s.push(&mut ws[1], Policy::ServerWins, 1).unwrap();
    ws[0].delete("sec").unwrap();
    let d = s.push(&mut ws[0], Policy::ServerWins, 2).unwrap();
    assert_eq!(rules(&d), [("b".to_string(), Rule::DeleteKeptTyping)]);
    settle(&mut s, &mut ws);
    // the section stays as a shell for b (its own text was deleted as asked), a is gone
    assert_eq!(ws[0].children("sec"), ["b"]);
    assert_eq!((text(&ws[0], "sec"), text(&ws[0], "b")), (String::new(), " typed".to_string()));
}

#[test]
fn edits_of_a_block_the_server_deleted_are_dropped_and_reported() {
    let (mut s, mut ws) = setup(&["a", "b"], 2);
    ws[1].delete("p2").unwrap();
    s.push(&mut ws[1], Policy::ServerWins, 1).unwrap();
    ws[0].splice("p2", "text", 1, 0, "x").unwrap();
    let d = s.push(&mut ws[0], Policy::ServerWins, 2).unwrap();
    assert_eq!(rules(&d), [("p2".to_string(), Rule::EditOfDeleted)]);
    settle(&mut s, &mut ws);
}

#[test]
fn the_result_does_not_depend_on_how_pulls_are_grouped() {
    let (mut s, ws) = setup(&["a b c", "d e"], 1);
    let mut other = ws[0].clone();
    let mut local = Workspace::new(s.tree(), "l.".into());
    local.splice("p1", "text", 2, 0, "L1 ").unwrap();
    local.splice("p2", "text", 0, 0, "L2 ").unwrap();
    local.set_cursor("c", "p2", "text", 3);
    let mut step = local.clone();
    // the other side commits three times: typing, a split, a join
    other.splice("p1", "text", 2, 0, "S1 ").unwrap();
    s.push(&mut other, Policy::ServerWins, 1).unwrap();
    s.pull(&mut step, Policy::ServerWins);
    other.split("p1", "text", 5, "o1").unwrap();
    s.push(&mut other, Policy::ServerWins, 1).unwrap();
    s.pull(&mut step, Policy::ServerWins);
    other.join("o1", "p2", "text").unwrap();
    s.push(&mut other, Policy::ServerWins, 1).unwrap();
    s.pull(&mut step, Policy::ServerWins);
    s.pull(&mut local, Policy::ServerWins);
    assert_eq!(step.tree().flat(), local.tree().flat());
    assert_eq!(step.cursor("c"), local.cursor("c"));
    assert_eq!(text(&local, "p1"), "a S1 ");
    assert_eq!(text(&local, "o1"), "L1 b cL2 d e");
    assert_eq!(local.cursor("c").map(|c| (c.key.as_str(), c.at)), Some(("o1", 9)));
    s.push(&mut local, Policy::ServerWins, 1).unwrap();
    assert_eq!(blocks_text(&s.tree(), "root"), "a S1 \nL1 b cL2 d e");
}

/// Random typists (words, erasures, Enter, Backspace) on bare workspaces against the model:
/// every kept word once, in order; nothing refused twice; all converge.
#[test]
fn random_typists_against_the_model() {
    let seeds: Vec<u64> = match std::env::var("NODESYNC_FUZZ_SEED").ok().and_then(|s| s.parse().ok()) {
        Some(s) => vec![s],
        None => (1..=std::env::var("NODESYNC_FUZZ_SEEDS").ok().and_then(|s| s.parse().ok()).unwrap_or(40)).collect(),
    };
    for seed in seeds {
        for with_log in [true, false] {
            if let Err(e) = typists_run(seed, with_log) {
                panic!("seed {seed} (with_log {with_log}): {e}\nreplay with NODESYNC_FUZZ_SEED={seed}");
            }
        }
    }
}

fn typists_run(seed: u64, with_log: bool) -> Result<(), String> {
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let (mut s, mut ws) = setup(&["start", "middle", "end"], 4);
    s.with_log = with_log;
    // with the diff fallback (no log) a split or join made elsewhere only shows as changed
    // texts (typing after a split point stays in the first block, typing in a joined-away
    // block is dropped and reported), and a character diff of the others' erasures and typing
    // together can align words wrongly. So the no-log runs only type.
    let structure = with_log;
    let mut ty: Vec<Typist> = ws
        .iter_mut()
        .enumerate()
        .map(|(i, w)| Typist::new(w, &format!("t{i}"), "root", &format!("p{}", 1 + i % 3), 0, i % 2 == 1))
        .collect();
    let trace = std::env::var("NODESYNC_TRACE").is_ok();
    for step in 0..150 {
        let i = rng.below(4) as usize;
        let what = rng.below(20);
        if trace {
            eprintln!("step {step}: ws{i} action {what} caret {:?}\n   before: {:?}", ws[i].cursor("caret"), blocks_text(ws[i].tree(), "root"));
        }
        match what {
            0..=9 => {
                ty[i].stroke(&mut ws[i], &mut rng, Stroke::Word);
            }
            10..=11 if structure => {
                ty[i].stroke(&mut ws[i], &mut rng, Stroke::Erase);
            }
            12 if structure => {
                ty[i].stroke(&mut ws[i], &mut rng, Stroke::Enter);
            }
            13 if structure => {
                ty[i].stroke(&mut ws[i], &mut rng, Stroke::JoinUp);
            }
            14..=16 => {
                let d = s.push(&mut ws[i], Policy::ServerWins, 2)?;
                if !d.is_empty() {
                    return Err(format!("dropped {d:?}"));
                }
            }
            _ => {
                let d = s.pull(&mut ws[i], Policy::ServerWins);
                if !d.is_empty() {
                    return Err(format!("dropped {d:?}"));
                }
            }
        }
        if trace {
            eprintln!("   after:  {:?} caret {:?}", blocks_text(ws[i].tree(), "root"), ws[i].cursor("caret"));
        }
    }
    for w in ws.iter_mut() {
        s.push(w, Policy::ServerWins, 2)?;
    }
    for w in ws.iter_mut() {
        s.pull(w, Policy::ServerWins);
        if w.tree().flat() != s.tree().flat() {
            return Err("a workspace differs from the server".into());
        }
    }
    let all = blocks_text(&s.tree(), "root");
    check_words(&all, &ty).map_err(|e| format!("{e}\ntext: {all}"))
}

/// Convergence seed 165032, minimized: someone moved a block (with everything in it) into a
/// node this replica deleted, while this replica typed into that block and split it. The
/// re-sent delete takes the block with it (rule 4), so the typing is gone: it must be reported
/// (`deleted-with-subtree`), not silently lost.
#[test]
fn typing_into_a_block_the_server_moved_into_a_local_delete_is_reported() {
    for with_log in [true, false] {
        for split in [false, true] {
            let (mut s, mut ws) = setup(&["doomed", "moved block"], 2);
            s.with_log = with_log;
            ws[1].move_to("p2", "p1", nodesync_core::patch::Place::Last).unwrap();
            s.push(&mut ws[1], Policy::ServerWins, 1).unwrap();
            if split {
                let new = ws[0].fresh_key();
                ws[0].split("p2", "text", 5, &new).unwrap();
            }
            ws[0].splice("p2", "text", 0, 0, "[word] ").unwrap();
            ws[0].delete("p1").unwrap();
            let d = s.push(&mut ws[0], Policy::ServerWins, 2).unwrap();
            let on_server = s.tree().nodes.values().any(|n| n.props.values().any(|v| v.as_str().is_some_and(|t| t.contains("[word]"))));
            let reported = d.iter().any(|x| x.key == "p2" && x.rule == Rule::DeletedWithSubtree);
            assert!(on_server || reported, "with_log={with_log} split={split}: the word is lost: {:?}", rules(&d));
            assert!(!d.iter().any(|x| x.rule == Rule::TextMisfit), "{d:?}");
            settle(&mut s, &mut ws);
        }
    }
}

/// The same, and the mover also typed into the block: the re-sent delete must not discard the
/// mover's committed typing (rule 4: the block is kept, `delete-kept-typing`, with the deleted
/// node above it as a shell), and this replica's own typing in the block stays with it.
#[test]
fn own_typing_in_a_block_kept_for_others_typing_is_not_lost() {
    for with_log in [true, false] {
        let (mut s, mut ws) = setup(&["doomed", "moved block"], 2);
        s.with_log = with_log;
        ws[1].move_to("p2", "p1", nodesync_core::patch::Place::Last).unwrap();
        ws[1].splice("p2", "text", 11, 0, " [theirs]").unwrap();
        s.push(&mut ws[1], Policy::ServerWins, 1).unwrap();
        ws[0].splice("p2", "text", 0, 0, "[mine] ").unwrap();
        ws[0].delete("p1").unwrap();
        let d = s.push(&mut ws[0], Policy::ServerWins, 2).unwrap();
        let has = |w: &str| s.tree().nodes.values().any(|n| n.props.values().any(|v| v.as_str().is_some_and(|t| t.contains(w))));
        assert!(has("[theirs]"), "with_log={with_log}: {:?}", rules(&d));
        // kept for the mover's typing: this replica's own typing in it (it never deleted p2)
        // stays too; p1 stays as a shell with its seen text deleted
        assert!(has("[mine]"), "with_log={with_log}: the word is lost: {:?}", rules(&d));
        assert!(d.iter().any(|x| x.key == "p2" && x.rule == Rule::DeleteKeptTyping), "{:?}", rules(&d));
        settle(&mut s, &mut ws);
        assert_eq!(ws[0].children("p1"), ["p2"]);
        assert_eq!(text(&ws[0], "p1"), "");
        assert_eq!(text(&ws[0], "p2"), "[mine] moved block [theirs]", "with_log={with_log}");
    }
}

/// Convergence seed 398, minimized: this replica typed into `p2` and deleted `p1`; someone
/// joined `p2` into `p1` meanwhile. The typing follows the join into `p1`, which the re-sent
/// delete takes: reported `joined-into-deleted`, not lost silently.
#[test]
fn typing_carried_by_a_join_into_a_locally_deleted_block_is_reported() {
    let (mut s, mut ws) = setup(&["first", "second"], 2);
    ws[1].join("p1", "p2", "text").unwrap();
    s.push(&mut ws[1], Policy::ServerWins, 1).unwrap();
    ws[0].splice("p2", "text", 6, 0, " [word]").unwrap();
    ws[0].delete("p1").unwrap();
    let d = s.push(&mut ws[0], Policy::ServerWins, 2).unwrap();
    let on_server = s.tree().nodes.values().any(|n| n.props.values().any(|v| v.as_str().is_some_and(|t| t.contains("[word]"))));
    assert!(!on_server);
    assert!(d.iter().any(|x| x.key == "p2" && x.rule == Rule::JoinedIntoDeleted), "the word is lost: {:?}", rules(&d));
    assert!(!d.iter().any(|x| x.rule == Rule::TextMisfit), "{d:?}");
    settle(&mut s, &mut ws);
}
