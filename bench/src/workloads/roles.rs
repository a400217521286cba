//! Workload 9: the one-node edit of workload 1 (1 client; 8 clients on one document) called by
//! an ordinary role under the row-level security of docs/security.md, against the superuser
//! path, in alternating rounds. The role is set up by [`db::setup_role`]; before measuring,
//! [`check_role`] makes sure its path is the one a deployment gets.

use fastrand::Rng;
use serde_json::{json, Value};

use super::edits::w1_edit;
use super::Docs;
use crate::cfg::Cfg;
use crate::db::{self, Editor, Sys};
use crate::report::Report;
use crate::runner::{compare, pool, Mode};
use crate::stats::r3;

/// The scenarios: (name in results.json and targets, clients, workload-1 scenario).
pub const SCENARIOS: [(&str, usize, usize); 2] = [("1 client", 1, 0), ("8 clients, 1 doc", 8, 1)];

/// Sets up the ordinary role for the documents of workloads 1 and 8 and checks that its path is
/// the restricted one: neither superuser nor BYPASSRLS, RLS on nodesync.documents, and a
/// document without an access row is unknown to it (42704).
pub fn check_role(d: &Docs) {
    let mut admin = db::connect();
    let mut docs: Vec<&str> = vec![&d.w1];
    docs.extend(d.w8.iter().map(String::as_str));
    db::setup_role(&mut admin, &docs);
    let mut ed = Editor::new(Sys::ExtRole);
    let r = ed
        .c
        .query_one(
            "SELECT r.rolsuper, r.rolbypassrls, c.relrowsecurity FROM pg_roles r, pg_class c
              WHERE r.rolname = current_user AND c.oid = 'nodesync.documents'::regclass",
            &[],
        )
        .unwrap();
    let (sup, bypass, rls): (bool, bool, bool) = (r.get(0), r.get(1), r.get(2));
    assert!(!sup && !bypass && rls, "the ordinary role must be subject to RLS (superuser {sup}, bypassrls {bypass}, rls {rls})");
    let hidden = "w9-hidden";
    admin.execute("SELECT nodesync.create_doc($1) WHERE NOT EXISTS (SELECT 1 FROM nodesync.documents WHERE doc = $1)", &[&hidden]).unwrap();
    let e = ed.c.query_one("SELECT nodesync.apply_patch($1, '{\"ops\": []}'::jsonb, 'c', 1)", &[&hidden]).expect_err("a hidden document");
    assert_eq!(e.code().map(|c| c.code()), Some("42704"), "a document without access is unknown to the role: {e:?}");
}

/// Workload 9 in one commit mode: both scenarios, superuser and ordinary role alternating.
pub fn w9(cfg: &Cfg, d: &Docs, mode: Mode, rep: &mut Report) -> Value {
    rep.section(&format!(
        "9. one-node edit as an ordinary role under RLS (docs/security.md, keyed on the role) vs superuser, {} commits",
        mode.name()
    ));
    rep.line(format!("{:<34} {:<24} {:>9} {:>8} {:>8} {:>11}", "workload", "caller", "ops/s", "p50 ms", "p99 ms", "×superuser"));
    let paras = cfg.w1_nodes - 1;
    let mut out = serde_json::Map::new();
    for (name, clients, si) in SCENARIOS {
        let mut pools = vec![pool(Sys::Ext, clients, mode, usize::MAX), pool(Sys::ExtRole, clients, mode, usize::MAX)];
        let op = |ed: &mut Editor, t: usize, rng: &mut Rng| w1_edit(d, paras, si, ed, t, rng);
        let m = compare(&mut pools, cfg.role_rounds, cfg.role_secs, &format!("{} {name}, ordinary role", mode.name()), &op);
        let sup = m[&Sys::Ext].ops_s;
        for (s, l) in &m {
            let caller = if *s == Sys::Ext { "superuser" } else { db::ROLE };
            let ratio = if *s == Sys::Ext { "-".to_string() } else { format!("{:.2}", l.ops_s / sup) };
            rep.line(format!("{:<34} {:<24} {:>9.1} {:>8.3} {:>8.3} {:>11}", name, caller, l.ops_s, l.p50_ms, l.p99_ms, ratio));
        }
        out.insert(
            name.into(),
            json!({
                "superuser": m[&Sys::Ext].to_json(),
                "ordinary_role": m[&Sys::ExtRole].to_json(),
                "ratio_to_superuser": r3(m[&Sys::ExtRole].ops_s / sup),
            }),
        );
    }
    Value::Object(out)
}
