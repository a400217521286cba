//! A recorder of [`Workspace`] calls for the shared vectors (`tests/vectors/README.md`,
//! `workspace.json`): N workspaces on a [`ModelServer`]; every call is made on the real
//! workspace and recorded as a step with its arguments, its result (or error) and the whole
//! state of the workspace after it. Pushes and pulls go through the recorder and mirror
//! [`ModelServer::push`] and [`ModelServer::pull`] call for call. Also: the JSON forms (TREE,
//! LOG, PATCH, PLACE, dropped lists) and a replayer that runs a stored case from its JSON alone.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};

use nodesync_core::patch::{parse, Limits, Patch, Place};
use pg_nodesync_client::sim::ModelServer;
use pg_nodesync_client::{Dropped, EditError, Node, Policy, Rule, Tree, Workspace};
use serde_json::{json, Map, Value};

// ------------------------------------------------------------------------------ JSON forms

pub fn tree_json(t: &Tree) -> Value {
    let nodes: Map<String, Value> = t
        .nodes
        .iter()
        .map(|(k, n)| {
            (
                k.clone(),
                json!({"kind": n.kind, "props": n.props, "parent": n.parent, "children": n.children,
                       "version": n.version, "gen": n.gen, "pos": n.pos}),
            )
        })
        .collect();
    json!({"gen": t.gen, "nodes": nodes})
}

pub fn tree_from_json(v: &Value) -> Tree {
    let mut t = Tree { gen: v["gen"].as_i64().expect("tree gen"), nodes: BTreeMap::new() };
    for (k, n) in v["nodes"].as_object().expect("tree nodes") {
        t.nodes.insert(
            k.clone(),
            Node {
                kind: n["kind"].as_str().expect("kind").to_string(),
                props: n["props"].as_object().expect("props").clone(),
                parent: n["parent"].as_str().map(str::to_string),
                children: n["children"].as_array().expect("children").iter().map(|c| c.as_str().expect("child").to_string()).collect(),
                version: n["version"].as_i64().expect("version"),
                gen: n["gen"].as_i64().expect("gen"),
                pos: n["pos"].as_str().map(str::to_string),
            },
        );
    }
    t
}

pub fn place_json(p: &Place) -> Value {
    match p {
        Place::Last => json!("last"),
        Place::First => json!("first"),
        Place::After(k) => json!({"after": k}),
    }
}

pub fn place_from_json(v: &Value) -> Place {
    match v {
        Value::String(s) if s == "last" => Place::Last,
        Value::String(s) if s == "first" => Place::First,
        _ => Place::After(v["after"].as_str().expect("a place").to_string()),
    }
}

pub fn log_json(log: Option<&[(i64, Patch)]>) -> Value {
    match log {
        None => Value::Null,
        Some(l) => Value::Array(l.iter().map(|(g, p)| json!([g, p.to_json()])).collect()),
    }
}

pub fn log_from_json(v: &Value) -> Option<Vec<(i64, Patch)>> {
    v.as_array().map(|l| {
        l.iter().map(|e| (e[0].as_i64().expect("log gen"), parse(&e[1], &Limits::default()).expect("a log patch"))).collect()
    })
}

pub fn policy_name(p: Policy) -> &'static str {
    match p {
        Policy::ServerWins => "server_wins",
        Policy::LocalWins => "local_wins",
    }
}

pub fn policy_from(v: &Value) -> Policy {
    match v.as_str() {
        Some("server_wins") => Policy::ServerWins,
        Some("local_wins") => Policy::LocalWins,
        _ => panic!("a policy: {v}"),
    }
}

pub fn dropped_json(d: &[Dropped]) -> Value {
    Value::Array(
        d.iter()
            .map(|x| {
                let mut o = json!({"key": x.key, "rule": x.rule.name(), "gen": x.gen});
                if let Rule::PropConflict { prop } = &x.rule {
                    o["prop"] = json!(prop);
                }
                o
            })
            .collect(),
    )
}

pub fn error_name(e: &EditError) -> &'static str {
    match e {
        EditError::NoSuchNode(_) => "NoSuchNode",
        EditError::Root => "Root",
        EditError::BadAnchor(_) => "BadAnchor",
        EditError::Cycle => "Cycle",
        EditError::KeyExists(_) => "KeyExists",
        EditError::NotText { .. } => "NotText",
        EditError::OutOfRange { .. } => "OutOfRange",
        EditError::NotAdjacent { .. } => "NotAdjacent",
    }
}

/// The whole state of `ws` (README: `expect`); `names`: every cursor name ever set on it
/// (the workspace has no list of its cursors; the ones gone are simply absent).
pub fn state(ws: &Workspace, names: &BTreeSet<String>) -> Value {
    let cursors: Map<String, Value> = names
        .iter()
        .filter_map(|n| ws.cursor(n).map(|c| (n.clone(), json!({"key": c.key, "prop": c.prop, "at": c.at}))))
        .collect();
    json!({
        "tree": tree_json(ws.tree()),
        "shadow_gen": ws.shadow().gen,
        "has_local_edits": ws.has_local_edits(),
        "patch": ws.patch().to_json(),
        "cursors": cursors,
    })
}

pub fn props(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap_or_else(|| panic!("props must be an object: {v}"))
}

/// True if some string property in `t` contains `w`.
pub fn tree_has(t: &Tree, w: &str) -> bool {
    t.nodes.values().any(|n| n.props.values().any(|v| v.as_str().is_some_and(|s| s.contains(w))))
}

/// Occurrences of `w` in all string properties of `t`.
pub fn tree_count(t: &Tree, w: &str) -> usize {
    t.nodes.values().flat_map(|n| n.props.values()).filter_map(Value::as_str).map(|s| s.matches(w).count()).sum()
}

// ------------------------------------------------------------------------------ recorder

/// N workspaces on a model server, every call recorded.
pub struct Rec {
    pub name: String,
    pub server: ModelServer,
    pub ws: Vec<Workspace>,
    prefixes: Vec<String>,
    /// Cursor names set on each workspace.
    names: Vec<BTreeSet<String>>,
    base: Value,
    steps: Vec<Value>,
    /// Everything each workspace's rebases reported.
    pub dropped: Vec<Vec<Dropped>>,
}

impl Rec {
    /// A server on which the `ops` (a list of create ops) were committed, and `n` workspaces
    /// `w0.`, `w1.`, ... on its state.
    pub fn new(name: &str, n: usize, ops: Value) -> Rec {
        let mut server = ModelServer::new();
        if ops.as_array().is_some_and(|a| !a.is_empty()) {
            server.apply(&json!({ "ops": ops })).expect("the setup commits").expect("the setup commits");
        }
        let base = server.tree();
        let prefixes: Vec<String> = (0..n).map(|i| format!("w{i}.")).collect();
        let ws = prefixes.iter().map(|p| Workspace::new(base.clone(), p.clone())).collect();
        Rec { name: name.to_string(), server, ws, prefixes, names: vec![BTreeSet::new(); n], base: tree_json(&base), steps: vec![], dropped: vec![vec![]; n] }
    }

    /// Paragraphs `p1..` (kind `para`, prop `text`) under the root.
    pub fn paras(name: &str, n: usize, texts: &[&str]) -> Rec {
        let ops: Vec<Value> = texts
            .iter()
            .enumerate()
            .map(|(i, t)| json!({"op": "create", "key": format!("p{}", i + 1), "kind": "para", "parent": "root", "props": {"text": t}}))
            .collect();
        Rec::new(name, n, Value::Array(ops))
    }

    pub fn log(mut self, with_log: bool) -> Rec {
        self.server.with_log = with_log;
        self
    }

    pub fn state(&self, i: usize) -> Value {
        state(&self.ws[i], &self.names[i])
    }

    pub fn steps(&self) -> usize {
        self.steps.len()
    }

    /// The case as README's JSON.
    pub fn case(&self) -> Value {
        json!({"name": self.name, "base": self.base, "workspaces": self.prefixes, "steps": self.steps})
    }

    /// Makes a call on workspace `i` and records it. On an error the state must be unchanged.
    fn call<T>(&mut self, i: usize, call: &str, args: Value, f: impl FnOnce(&mut Workspace) -> Result<T, EditError>, res: impl FnOnce(&T) -> Value) -> Result<T, EditError> {
        let before = self.state(i);
        let r = f(&mut self.ws[i]);
        let expect = self.state(i);
        let mut step = json!({"ws": i, "call": call, "args": args});
        match &r {
            Ok(v) => step["result"] = res(v),
            Err(e) => {
                assert_eq!(before, expect, "{}: step {} ({call} {args}) failed with {e:?} and changed the state", self.name, self.steps.len());
                step["error"] = json!(error_name(e));
            }
        }
        step["expect"] = expect;
        self.steps.push(step);
        self.check_invariants(i);
        r
    }

    /// After every call: the local tree is a tree, every cursor is on a string prop of a node
    /// in it, within the text.
    fn check_invariants(&self, i: usize) {
        let w = &self.ws[i];
        let at = format!("{}: step {} ({})", self.name, self.steps.len() - 1, self.steps.last().unwrap()["call"]);
        w.tree().check().unwrap_or_else(|e| panic!("{at}: ws {i}: the local tree is broken: {e}"));
        w.shadow().check().unwrap_or_else(|e| panic!("{at}: ws {i}: the shadow is broken: {e}"));
        for n in &self.names[i] {
            if let Some(c) = w.cursor(n) {
                let len = w.text(&c.key, &c.prop).map(|t| t.chars().count());
                assert!(
                    len.is_some_and(|l| c.at <= l),
                    "{at}: ws {i}: cursor {n} {c:?} is not in a text (length {len:?}); in the shadow: {}; step result {}; before: {}",
                    w.shadow().contains(&c.key),
                    self.steps.last().unwrap()["result"],
                    self.steps.len().checked_sub(2).map_or(Value::Null, |j| self.steps[j].clone())
                );
            }
        }
    }

    fn null<T>(_: &T) -> Value {
        Value::Null
    }

    pub fn splice(&mut self, i: usize, key: &str, prop: &str, at: usize, delete: usize, insert: &str) -> Result<(), EditError> {
        self.call(i, "splice", json!([key, prop, at, delete, insert]), |w| w.splice(key, prop, at, delete, insert), Self::null)
    }

    pub fn create(&mut self, i: usize, parent: &str, place: Place, kind: &str, props: Value) -> Result<String, EditError> {
        let p = self::props(props);
        self.call(i, "create", json!([parent, place_json(&place), kind, p]), |w| w.create(parent, place.clone(), kind, p.clone()), |k| json!(k))
    }

    pub fn create_with_key(&mut self, i: usize, key: &str, parent: &str, place: Place, kind: &str, props: Value) -> Result<(), EditError> {
        let p = self::props(props);
        self.call(i, "create_with_key", json!([key, parent, place_json(&place), kind, p]), |w| w.create_with_key(key, parent, place.clone(), kind, p.clone()), Self::null)
    }

    pub fn update(&mut self, i: usize, key: &str, kind: Option<&str>, props: Value) -> Result<(), EditError> {
        let p = self::props(props);
        self.call(i, "update", json!([key, kind, p]), |w| w.update(key, kind, p.clone()), Self::null)
    }

    /// `update` of the `"text"` prop to `v` (a whole-value edit).
    pub fn set_text(&mut self, i: usize, key: &str, v: &str) -> Result<(), EditError> {
        self.update(i, key, None, json!({ "text": v }))
    }

    pub fn move_to(&mut self, i: usize, key: &str, parent: &str, place: Place) -> Result<(), EditError> {
        self.call(i, "move_to", json!([key, parent, place_json(&place)]), |w| w.move_to(key, parent, place.clone()), Self::null)
    }

    pub fn delete(&mut self, i: usize, key: &str) -> Result<(), EditError> {
        self.call(i, "delete", json!([key]), |w| w.delete(key), Self::null)
    }

    pub fn split(&mut self, i: usize, key: &str, prop: &str, at: usize, new_key: &str) -> Result<(), EditError> {
        self.call(i, "split", json!([key, prop, at, new_key]), |w| w.split(key, prop, at, new_key), Self::null)
    }

    pub fn join(&mut self, i: usize, key: &str, next: &str, prop: &str) -> Result<String, EditError> {
        self.call(i, "join", json!([key, next, prop]), |w| w.join(key, next, prop), |k| json!(k))
    }

    pub fn fresh_key(&mut self, i: usize) -> String {
        self.call(i, "fresh_key", json!([]), |w| Ok(w.fresh_key()), |k| json!(k)).unwrap()
    }

    pub fn set_cursor(&mut self, i: usize, name: &str, key: &str, prop: &str, at: usize) {
        self.names[i].insert(name.to_string());
        self.call(i, "set_cursor", json!([name, key, prop, at]), |w| {
            w.set_cursor(name, key, prop, at);
            Ok(())
        }, Self::null).unwrap()
    }

    pub fn remove_cursor(&mut self, i: usize, name: &str) {
        self.call(i, "remove_cursor", json!([name]), |w| {
            w.remove_cursor(name);
            Ok(())
        }, Self::null).unwrap()
    }

    pub fn forget_noop_edits(&mut self, i: usize) {
        self.call(i, "forget_noop_edits", json!([]), |w| {
            w.forget_noop_edits();
            Ok(())
        }, Self::null).unwrap()
    }

    pub fn committed_with(&mut self, i: usize, remote: Tree, log: Option<&[(i64, Patch)]>, own: i64) {
        self.call(i, "committed_with", json!([tree_json(&remote), log_json(log), own]), |w| Ok(w.committed_with(remote.clone(), log, own)), Self::null).unwrap();
    }

    /// [`Workspace::committed_alone`]: its answer is the step's result.
    pub fn committed_alone(&mut self, i: usize, patch: &Patch, gen: i64, versions: &serde_json::Map<String, Value>) -> bool {
        self.call(i, "committed_alone", json!([patch.to_json(), gen, versions]), |w| Ok(w.committed_alone(patch, gen, versions)), |b| json!(b)).unwrap()
    }

    pub fn rebase_with(&mut self, i: usize, remote: Tree, log: Option<&[(i64, Patch)]>, policy: Policy) -> Vec<Dropped> {
        let d = self
            .call(i, "rebase_with", json!([tree_json(&remote), log_json(log), policy_name(policy)]), |w| Ok(w.rebase_with(remote.clone(), log, policy).1), |d| dropped_json(d))
            .unwrap();
        assert!(!d.iter().any(|x| x.rule == Rule::TextMisfit), "{}: a text edit misfit: {d:?}", self.name);
        self.dropped[i].extend(d.iter().cloned());
        d
    }

    // -------------------------------------------------------------- the server, as ModelServer

    /// [`ModelServer::push`], call for call: send; on a conflict rebase and send again (at most
    /// `attempts` times). Returns what the rebases dropped.
    pub fn push(&mut self, i: usize, policy: Policy, attempts: u32) -> Vec<Dropped> {
        let mut dropped = vec![];
        for _ in 0..attempts {
            let patch = self.ws[i].patch();
            if patch.ops.is_empty() {
                self.forget_noop_edits(i);
                return dropped;
            }
            let old = self.ws[i].shadow().gen;
            match self.server.commit(&patch.to_json()).unwrap_or_else(|e| panic!("{}: {e}", self.name)) {
                Some((gen, versions)) => {
                    // as ModelServer::push and a Replica: known without a read when it can be
                    if self.committed_alone(i, &patch, gen, &versions) {
                        return dropped;
                    }
                    let log = self.server.since(old);
                    let with_log = self.server.with_log;
                    self.committed_with(i, self.server.tree(), with_log.then_some(log.as_slice()), gen);
                    return dropped;
                }
                None => dropped.extend(self.pull(i, policy)),
            }
        }
        panic!("{}: ws {i}: no commit after {attempts} attempts", self.name)
    }

    /// [`ModelServer::pull`]: a rebase onto the server's state (nothing if it is current).
    pub fn pull(&mut self, i: usize, policy: Policy) -> Vec<Dropped> {
        if self.ws[i].shadow().gen == self.server.model.gen() {
            return vec![];
        }
        let log = self.server.since(self.ws[i].shadow().gen);
        let with_log = self.server.with_log;
        self.rebase_with(i, self.server.tree(), with_log.then_some(log.as_slice()), policy)
    }

    /// Everyone pushes (in order), then everyone pulls; then every workspace equals the server.
    /// Returns what was dropped on the way.
    pub fn settle(&mut self, policy: Policy) -> Vec<Dropped> {
        let mut d = vec![];
        for i in 0..self.ws.len() {
            d.extend(self.push(i, policy, 4));
        }
        for i in 0..self.ws.len() {
            d.extend(self.pull(i, policy));
        }
        self.check_settled();
        d
    }

    pub fn check_settled(&self) {
        let t = self.server.tree();
        t.check().unwrap();
        for (i, w) in self.ws.iter().enumerate() {
            assert!(!w.has_local_edits(), "{}: ws {i} still has local edits", self.name);
            assert_eq!(w.tree().flat(), t.flat(), "{}: ws {i} differs from the server", self.name);
            assert_eq!(w.tree(), &t, "{}: ws {i}'s tree differs from the server's", self.name);
            assert_eq!(w.shadow(), &t, "{}: ws {i}'s shadow differs from the server's", self.name);
        }
    }

    /// The text of `key` on the server (`"<none>"` if absent).
    pub fn server_text(&self, key: &str) -> String {
        self.server.tree().get(key).and_then(|n| n.props.get("text")).and_then(Value::as_str).unwrap_or("<none>").to_string()
    }

    pub fn text(&self, i: usize, key: &str) -> String {
        self.ws[i].text(key, "text").unwrap_or("<none>").to_string()
    }

    pub fn kids(&self, key: &str) -> Vec<String> {
        self.server.tree().children(key).to_vec()
    }
}

/// `[(key, rule name)]` of a dropped list.
pub fn rules(d: &[Dropped]) -> Vec<(String, &'static str)> {
    d.iter().map(|x| (x.key.clone(), x.rule.name())).collect()
}

// ------------------------------------------------------------------------------ replay

/// Runs a stored case from its JSON alone (what the other client does) and checks every
/// step's result and state. Returns what is wrong.
pub fn replay(case: &Value) -> Result<(), String> {
    let name = case["name"].as_str().unwrap_or("?");
    let base = tree_from_json(&case["base"]);
    if tree_json(&base) != case["base"] {
        return Err(format!("{name}: the base tree does not round-trip"));
    }
    let mut ws: Vec<Workspace> = case["workspaces"].as_array().ok_or("workspaces")?.iter().map(|p| Workspace::new(base.clone(), p.as_str().unwrap().to_string())).collect();
    let mut names: Vec<BTreeSet<String>> = vec![BTreeSet::new(); ws.len()];
    let s = |v: &Value| v.as_str().map(str::to_string).unwrap_or_else(|| panic!("a string: {v}"));
    let u = |v: &Value| v.as_u64().unwrap_or_else(|| panic!("a number: {v}")) as usize;
    for (n, step) in case["steps"].as_array().ok_or("steps")?.iter().enumerate() {
        let i = u(&step["ws"]);
        let a = step["args"].as_array().ok_or("args")?;
        let w = &mut ws[i];
        let null = |r: Result<(), EditError>| r.map(|_| Value::Null);
        let r: Result<Value, EditError> = match step["call"].as_str().unwrap() {
            "splice" => null(w.splice(&s(&a[0]), &s(&a[1]), u(&a[2]), u(&a[3]), &s(&a[4]))),
            "create" => w.create(&s(&a[0]), place_from_json(&a[1]), &s(&a[2]), a[3].as_object().unwrap().clone()).map(|k| json!(k)),
            "create_with_key" => null(w.create_with_key(&s(&a[0]), &s(&a[1]), place_from_json(&a[2]), &s(&a[3]), a[4].as_object().unwrap().clone())),
            "update" => null(w.update(&s(&a[0]), a[1].as_str(), a[2].as_object().unwrap().clone())),
            "move_to" => null(w.move_to(&s(&a[0]), &s(&a[1]), place_from_json(&a[2]))),
            "delete" => null(w.delete(&s(&a[0]))),
            "split" => null(w.split(&s(&a[0]), &s(&a[1]), u(&a[2]), &s(&a[3]))),
            "join" => w.join(&s(&a[0]), &s(&a[1]), &s(&a[2])).map(|k| json!(k)),
            "fresh_key" => Ok(json!(w.fresh_key())),
            "set_cursor" => {
                names[i].insert(s(&a[0]));
                w.set_cursor(&s(&a[0]), &s(&a[1]), &s(&a[2]), u(&a[3]));
                Ok(Value::Null)
            }
            "remove_cursor" => {
                w.remove_cursor(&s(&a[0]));
                Ok(Value::Null)
            }
            "forget_noop_edits" => {
                w.forget_noop_edits();
                Ok(Value::Null)
            }
            "committed_alone" => {
                let p = match parse(&a[0], &Limits::default()) {
                    Ok(p) => p,
                    Err(e) => return Err(format!("{name}: step {n}: committed_alone's patch: {e}")),
                };
                let versions = a[2].as_object().cloned().unwrap_or_default();
                Ok(json!(w.committed_alone(&p, a[1].as_i64().unwrap_or(-1), &versions)))
            }
            "committed_with" => {
                let log = log_from_json(&a[1]);
                w.committed_with(tree_from_json(&a[0]), log.as_deref(), a[2].as_i64().unwrap());
                Ok(Value::Null)
            }
            "rebase_with" => {
                let log = log_from_json(&a[1]);
                Ok(dropped_json(&w.rebase_with(tree_from_json(&a[0]), log.as_deref(), policy_from(&a[2])).1))
            }
            c => return Err(format!("{name}: step {n}: unknown call {c}")),
        };
        match (&r, step.get("result"), step.get("error")) {
            (Ok(v), Some(want), None) if v == want => {}
            (Err(e), None, Some(want)) if want == error_name(e) => {}
            _ => return Err(format!("{name}: step {n} ({} {}): got {r:?}, stored result {:?} error {:?}", step["call"], step["args"], step.get("result"), step.get("error"))),
        }
        let got = state(&ws[i], &names[i]);
        if got != step["expect"] {
            return Err(format!("{name}: step {n} ({}): the replayed state differs from the stored one", step["call"]));
        }
    }
    Ok(())
}
