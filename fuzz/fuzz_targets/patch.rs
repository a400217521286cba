//! Arbitrary bytes → serde_json → `patch::parse` (default and tiny limits) → the engine on a
//! `MemStore` holding a small document, compared with the reference model. Panics (including
//! disagreements, which are asserted) are what libFuzzer reports.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nodesync_core::engine::{evaluate, Outcome};
use nodesync_core::reference::{random_patch, Applied, Model, Rng};
use nodesync_core::patch::{parse, Limits};
use nodesync_core::memstore::MemStore;
use nodesync_core::Reason;
use serde_json::{Map, Value};

/// A small document built by valid random patches, the same in the model and the store.
fn seeded() -> (Model, MemStore) {
    let mut model = Model::new("doc", Map::new());
    let mut store = MemStore::new("doc", Map::new());
    let mut rng = Rng(7);
    let mut next = 0;
    for _ in 0..12 {
        let s = rng.seed(12);
        let pj = random_patch(model.current(), &s, &mut next);
        let p = parse(&pj, &Limits::default()).expect("random_patch is valid");
        if let (Applied::Committed { .. }, Ok(Outcome::Plan(plan))) = (model.apply(&p), evaluate(&mut store, &p, Limits::default())) {
            store.apply(&plan);
        }
    }
    (model, store)
}

fuzz_target!(|data: &[u8]| {
    let Ok(v) = serde_json::from_slice::<Value>(data) else { return };
    let tiny = Limits { max_ops: 2, max_props_bytes: 16, max_key_bytes: 4, max_depth: 2, max_nodes: 4 };
    let _ = parse(&v, &tiny);
    let Ok(patch) = parse(&v, &Limits::default()) else { return };
    assert_eq!(parse(&patch.to_json(), &Limits::default()).ok().as_ref(), Some(&patch), "round trip");
    let (mut model, mut store) = seeded();
    if patch.base.is_some_and(|b| b > store.gen) {
        return;
    }
    let want = model.apply(&patch);
    let got = match evaluate(&mut store, &patch, Limits::default()) {
        Ok(o) => o,
        Err(nodesync_core::Error::Limit { .. }) => return,
        // a text op that does not fit the current text: the model must agree on the op
        Err(nodesync_core::Error::InvalidPatch { op: Some(i), .. }) => {
            assert_eq!(want, Applied::Invalid(i), "invalid text op");
            return;
        }
        Err(e) => panic!("engine error {e}"),
    };
    match (want, got) {
        (Applied::Committed { versions, .. }, Outcome::Plan(plan)) => {
            let gv: std::collections::BTreeMap<String, Option<i64>> =
                plan.versions.iter().map(|(k, v)| (k.clone(), v.as_i64())).collect();
            assert_eq!(versions, gv, "versions");
            store.apply(&plan);
        }
        (Applied::Empty { .. }, Outcome::Plan(plan)) => assert!(plan.is_empty()),
        (Applied::Refused(w), Outcome::Conflicts(g)) => {
            let g: Vec<(usize, Reason)> = g.iter().map(|c| (c.op, c.reason)).collect();
            assert_eq!(w, g, "conflicts");
        }
        (w, g) => panic!("model {w:?}, engine {g:?}"),
    }
});
