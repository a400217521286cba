//! The rules a write checks around the engine, in one place: the patch's `base` against the
//! document's gen, what an empty patch answers, the live-node limit after a plan, and the one
//! result shape of `apply_patch` / `try_apply_patch` (docs/api/apply_patch.md). The pgrx layer
//! calls these between its SPI steps; it decides nothing itself.

use serde_json::{json, Map, Value};

use crate::engine::Plan;
use crate::error::{Conflict, Error, Result};
use crate::patch::{Limits, Patch};

/// What a write returns: `{"gen", "versions", "duplicate"}`.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchResult {
    pub gen: i64,
    /// The new version of every node the patch created or changed, null for deleted ones.
    pub versions: Map<String, Value>,
    /// A retry of a `(client, seq)` already committed.
    pub duplicate: bool,
}

impl PatchResult {
    /// The result of a patch that commits nothing (an empty `ops` list): the current gen.
    pub fn unchanged(gen: i64) -> PatchResult {
        PatchResult { gen, versions: Map::new(), duplicate: false }
    }

    /// The result of a committed plan at `gen`.
    pub fn committed(gen: i64, plan: &Plan) -> PatchResult {
        PatchResult { gen, versions: plan.versions.clone(), duplicate: false }
    }

    /// `apply_patch`'s JSON.
    pub fn to_json(&self) -> Value {
        json!({"gen": self.gen, "versions": Value::Object(self.versions.clone()), "duplicate": self.duplicate})
    }

    /// `try_apply_patch`'s JSON for a success: the same with `"ok": true`.
    pub fn to_try_json(&self) -> Value {
        let mut v = self.to_json();
        if let Value::Object(m) = &mut v {
            m.insert("ok".into(), Value::Bool(true));
        }
        v
    }
}

/// `try_apply_patch`'s JSON for a refusal: `{"ok": false, "gen", "conflicts"}`.
pub fn refusal_json(gen: i64, conflicts: &[Conflict]) -> Value {
    json!({"ok": false, "gen": gen, "conflicts": conflicts.iter().map(Conflict::to_json).collect::<Vec<_>>()})
}

/// What to do with a parsed patch once the document's gen is known (and, with `(client,
/// seq)`, after the duplicate check): answer at once for an empty patch, else evaluate.
/// `base` after the current gen is 22023 in both cases.
pub fn before_evaluate(doc: &str, patch: &Patch, gen: i64) -> Result<Option<PatchResult>> {
    if let Some(b) = patch.base {
        if b > gen {
            return Err(Error::invalid_patch(format!("base {b} is after document \"{doc}\"'s current gen {gen}")).names_doc());
        }
    }
    Ok(patch.ops.is_empty().then(|| PatchResult::unchanged(gen)))
}

/// `nodesync.max_nodes`: only a plan that grows the document can break it (deletes always
/// work, even in a document over the limit).
pub fn check_growth(doc: &str, live_nodes: i64, plan: &Plan, limits: &Limits) -> Result<()> {
    let live = live_nodes + plan.live_delta();
    if plan.live_delta() > 0 && live > limits.max_nodes as i64 {
        let what = format!("document \"{doc}\" would have");
        return Err(Error::limit("nodesync.max_nodes", limits.max_nodes, live.max(0) as usize, what, " live nodes").names_doc());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::NewNode;

    fn plan_creating(n: usize) -> Plan {
        let mut p = Plan::default();
        for i in 0..n {
            p.creates.push(NewNode { key: format!("k{i}"), parent: "root".into(), pos: "a0".into(), kind: "p".into(), props: Map::new() });
        }
        p
    }

    #[test]
    fn base_and_empty_patches() {
        let empty = Patch { base: Some(3), ops: vec![] };
        assert_eq!(before_evaluate("d", &empty, 3).unwrap(), Some(PatchResult::unchanged(3)));
        assert!(matches!(before_evaluate("d", &empty, 2).map_err(|e| e.inner().clone()), Err(Error::InvalidPatch { .. })));
        let no_base = Patch { base: None, ops: vec![] };
        assert_eq!(before_evaluate("d", &no_base, 7).unwrap().map(|r| r.to_json()), Some(json!({"gen": 7, "versions": {}, "duplicate": false})));
    }

    #[test]
    fn growth_limit_at_and_past() {
        let limits = Limits { max_nodes: 3, ..Limits::default() };
        assert!(check_growth("d", 1, &plan_creating(2), &limits).is_ok());
        let e = check_growth("d", 1, &plan_creating(3), &limits).unwrap_err();
        assert!(matches!(e.inner(), Error::Limit { guc: "nodesync.max_nodes", actual: 4, .. }), "{e:?}");
        // a document over the limit can always shrink
        let mut shrink = Plan::default();
        shrink.deletes.push("a".into());
        assert!(check_growth("d", 10, &shrink, &limits).is_ok());
    }

    #[test]
    fn result_shapes() {
        let mut plan = plan_creating(1);
        plan.versions.insert("k0".into(), json!(1));
        let r = PatchResult::committed(5, &plan);
        assert_eq!(r.to_json(), json!({"gen": 5, "versions": {"k0": 1}, "duplicate": false}));
        assert_eq!(r.to_try_json(), json!({"gen": 5, "versions": {"k0": 1}, "duplicate": false, "ok": true}));
        assert_eq!(refusal_json(4, &[]), json!({"ok": false, "gen": 4, "conflicts": []}));
    }
}
