//! `#[pg_test]`s of who may read and write (docs/security.md).
use pgrx::prelude::*;

#[pg_schema]
mod tests {
    use crate::tests::*;
    use serde_json::json;

    /// Two tenants: alice and bob see and write only their own documents, plus what an app
    /// table grants them, through RLS policies on nodesync.documents.
    fn two_tenants() {
        Spi::run("CREATE ROLE ns_alice; CREATE ROLE ns_bob").unwrap();
        Spi::run("CREATE TABLE public.ns_grants (doc text, role name, can_write boolean); GRANT SELECT ON public.ns_grants TO PUBLIC").unwrap();
        Spi::run("ALTER TABLE nodesync.documents ENABLE ROW LEVEL SECURITY").unwrap();
        Spi::run(
            "CREATE POLICY ns_read ON nodesync.documents FOR SELECT USING (created_by = current_user
               OR EXISTS (SELECT 1 FROM public.ns_grants g WHERE g.doc = documents.doc AND g.role = current_user))",
        )
        .unwrap();
        Spi::run(
            "CREATE POLICY ns_write ON nodesync.documents FOR UPDATE USING (created_by = current_user
               OR EXISTS (SELECT 1 FROM public.ns_grants g WHERE g.doc = documents.doc AND g.role = current_user AND g.can_write))",
        )
        .unwrap();
        // creating a document is an INSERT as the caller: RLS needs a policy for it
        Spi::run("CREATE POLICY ns_create ON nodesync.documents FOR INSERT WITH CHECK (created_by = current_user)").unwrap();
        Spi::run("SET ROLE ns_alice").unwrap();
        Spi::run("SELECT nodesync.create_doc('alice-doc')").unwrap();
        patch("alice-doc", json!([{"op": "create", "key": "secret", "kind": "p", "parent": "root", "props": {"pin": 1234}}]));
        Spi::run("RESET ROLE").unwrap();
    }

    #[pg_test]
    fn a_role_without_access_can_neither_read_nor_write() {
        two_tenants();
        Spi::run("SET ROLE ns_bob").unwrap();
        for stmt in [
            "SELECT nodesync.snapshot('alice-doc')",
            "SELECT nodesync.snapshot('alice-doc', 1)",
            "SELECT * FROM nodesync.nodes('alice-doc')",
            "SELECT nodesync.diff_since('alice-doc', 0)",
            "SELECT * FROM nodesync.changes_since('alice-doc', 0)",
            "SELECT * FROM nodesync.node_history('alice-doc', 'secret')",
            r#"SELECT nodesync.apply_patch('alice-doc', '{"ops": [{"op": "delete", "key": "secret", "version": 1}]}')"#,
            r#"SELECT nodesync.try_apply_patch('alice-doc', '{"ops": [{"op": "delete", "key": "secret", "version": 1}]}')"#,
            "SELECT nodesync.compact('alice-doc', 1)",
            "SELECT nodesync.drop_doc('alice-doc', NULL)",
        ] {
            assert_eq!(state(stmt), "42704", "{stmt}");
        }
        // plain SQL sees nothing of it either
        assert_eq!(int("SELECT count(*) FROM nodesync.tree"), 0);
        assert_eq!(int("SELECT count(*) FROM nodesync.change"), 0);
        assert_eq!(int("SELECT count(*) FROM nodesync.live_nodes"), 0);
        // and nobody writes the tables directly
        for stmt in [
            "UPDATE nodesync.documents SET gen = 99",
            "INSERT INTO nodesync.tree (doc_id, key, kind, version, gen) VALUES (1, 'x', 'p', 1, 1)",
            "DELETE FROM nodesync.change",
            "UPDATE nodesync.tree SET props = '{}'",
            "TRUNCATE nodesync.change",
            "INSERT INTO nodesync.client_seq VALUES (1, 'c', 1)",
        ] {
            assert_eq!(state(stmt), "42501", "{stmt}");
        }
        // bob's own documents work as usual
        Spi::run("SELECT nodesync.create_doc('bob-doc')").unwrap();
        patch("bob-doc", json!([{"op": "create", "key": "n", "kind": "p", "parent": "root"}]));
        assert_eq!(int("SELECT count(*) FROM nodesync.nodes('bob-doc')"), 2);
        Spi::run("RESET ROLE").unwrap();
        assert_eq!(q("SELECT props FROM nodesync.nodes('alice-doc') WHERE key = 'secret'"), json!({"pin": 1234}));
        assert_eq!(int("SELECT gen FROM nodesync.documents WHERE doc = 'alice-doc'"), 2);
    }

    #[pg_test]
    fn read_access_without_write_access() {
        two_tenants();
        Spi::run("INSERT INTO public.ns_grants VALUES ('alice-doc', 'ns_bob', false)").unwrap();
        Spi::run("SET ROLE ns_bob").unwrap();
        assert_eq!(q("SELECT nodesync.snapshot('alice-doc')")["root"]["children"][0]["key"], "secret");
        assert_eq!(int("SELECT count(*) FROM nodesync.nodes('alice-doc')"), 2);
        assert_eq!(int("SELECT count(*) FROM nodesync.changes_since('alice-doc', 0)"), 1);
        assert_eq!(state(r#"SELECT nodesync.apply_patch('alice-doc', '{"ops": [{"op": "update", "key": "secret", "version": 1}]}')"#), "42704");
        Spi::run("RESET ROLE").unwrap();
        Spi::run("UPDATE public.ns_grants SET can_write = true").unwrap();
        Spi::run("SET ROLE ns_bob").unwrap();
        let r = q(r#"SELECT nodesync.apply_patch('alice-doc', '{"ops": [{"op": "update", "key": "secret", "version": 1, "props": {"pin": null}}]}')"#);
        assert_eq!(r["versions"], json!({"secret": 2}));
        // the writes happened as the extension's owner; the caller is back to itself
        assert_eq!(Spi::get_one::<String>("SELECT current_user::text").unwrap().unwrap(), "ns_bob");
        Spi::run("RESET ROLE").unwrap();
    }
}
