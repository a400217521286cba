//! `#[pg_test]`s of create_doc and drop_doc.
use pgrx::prelude::*;

#[pg_schema]
mod tests {
    use crate::tests::*;
    use serde_json::json;

    #[pg_test]
    fn create_doc_makes_a_root() {
        assert_eq!(int("SELECT nodesync.create_doc('d', 'board', '{\"title\": \"Game\"}')"), 1);
        let s = q("SELECT nodesync.snapshot('d')");
        assert_eq!(s["gen"], 1);
        assert_eq!(s["root"], json!({"key": "root", "kind": "board", "props": {"title": "Game"}, "version": 1, "gen": 1, "pos": null, "children": []}));
    }

    #[pg_test]
    fn create_doc_errors() {
        Spi::run("SELECT nodesync.create_doc('d')").unwrap();
        assert_eq!(state("SELECT nodesync.create_doc('d')"), "23505");
        assert_eq!(state("SELECT nodesync.create_doc('')"), "22023");
        assert_eq!(state("SELECT nodesync.create_doc(repeat('x', 201))"), "22023");
        assert_eq!(state("SELECT nodesync.create_doc(NULL)"), "22023");
        assert_eq!(state("SELECT nodesync.create_doc('e', 'doc', '[1]')"), "22023");
        assert_eq!(state("SELECT nodesync.create_doc('e', '')"), "22023");
        assert_eq!(int("SELECT nodesync.create_doc(repeat('x', 200))"), 1);
    }

    #[pg_test]
    fn drop_doc_checks_the_gen() {
        fixture("d");
        let e = catch("SELECT nodesync.drop_doc('d', 1)");
        assert_eq!(e["state"], "40001");
        assert!(e["message"].as_str().unwrap().contains("\"d\""), "{e}");
        Spi::run("SELECT nodesync.drop_doc('d', 2)").unwrap();
        assert_eq!(state("SELECT nodesync.snapshot('d')"), "42704");
        assert_eq!(int("SELECT count(*) FROM nodesync.tree t WHERE NOT EXISTS (SELECT 1 FROM nodesync.documents d WHERE d.id = t.doc_id)"), 0);
        assert_eq!(state("SELECT nodesync.drop_doc('d', NULL)"), "42704");
        assert_eq!(int("SELECT nodesync.create_doc('d')"), 1);
    }
}
