//! Creating documents under row level security (issue 9, part 3): `create_doc` inserts the
//! document row as the caller, so the admin's INSERT policies on `nodesync.documents` decide
//! who may create which id. Both policy shapes of docs/security.md, each with two roles in
//! real sessions: a refused create is 42501 naming the document, changes nothing, and says
//! nothing about whether another tenant's document exists; direct inserts stay impossible.

use nodesync_testkit::{ROLE_KEYED_INSERT_POLICY, ROLE_KEYED_POLICIES};
use pg_nodesync_tests::*;
use postgres::Client;
use serde_json::json;

/// What a superuser sees: every document id with its creator, and the number of tree rows.
fn world(admin: &mut Client) -> (Vec<(String, String)>, i64) {
    let docs = admin
        .query("SELECT doc, created_by::text FROM nodesync.documents ORDER BY doc", &[])
        .expect("documents")
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let rows: i64 = admin.query_one("SELECT count(*) FROM nodesync.tree", &[]).expect("tree").get(0);
    (docs, rows)
}

fn create(c: &mut Client, doc: &str) -> Result<i64, DbErr> {
    c.query_one("SELECT nodesync.create_doc($1)", &[&doc]).map(|r| r.get(0)).map_err(db_err)
}

/// `create_doc(doc)` must be refused with 42501, naming the document and the role, and
/// leave the documents and nodes exactly as they were.
fn refused(c: &mut Client, admin: &mut Client, doc: &str, role: &str) -> DbErr {
    let before = world(admin);
    let e = create(c, doc).expect_err(&format!("{role} created {doc}"));
    assert_eq!(e.code, "42501", "{role} creating {doc}: {e:?}");
    assert!(e.message.contains(&format!("document \"{doc}\"")), "message names the document: {}", e.message);
    assert!(e.message.contains(role), "message names the role: {}", e.message);
    assert_eq!(world(admin), before, "a refused create_doc({doc}) changed something");
    e
}

/// The same message with the document id blanked out: a refusal must read the same whether
/// the id is free or taken by another tenant.
fn shape(e: &DbErr, doc: &str) -> (String, String, Option<String>) {
    (e.code.clone(), e.message.replace(doc, "<doc>"), e.detail.clone())
}

#[test]
fn session_setting_policy_confines_creation_to_the_tenant_prefix() {
    let db = fresh_database("rls_tenant");
    let roles = Roles::create("ns_rls", &["acme", "globex"]);
    let (acme, globex) = (roles.names[0].clone(), roles.names[1].clone());
    let mut admin = connect_to(&db);
    admin
        .batch_execute(&format!(
            "CREATE EXTENSION pg_nodesync;
             ALTER TABLE nodesync.documents ENABLE ROW LEVEL SECURITY;
             CREATE POLICY tenant ON nodesync.documents FOR ALL
               USING (doc LIKE current_setting('app.tenant') || '/%');
             ALTER ROLE \"{acme}\" IN DATABASE \"{db}\" SET app.tenant = 'acme';
             ALTER ROLE \"{globex}\" IN DATABASE \"{db}\" SET app.tenant = 'globex';"
        ))
        .expect("policy setup");
    let mut a = roles.connect(0, &db);
    let mut g = roles.connect(1, &db);

    assert_eq!(create(&mut g, "globex/plan").expect("globex creates in its namespace"), 1);
    assert_eq!(create(&mut a, "acme/board").expect("acme creates in its namespace"), 1);
    apply(&mut a, "acme/board", &json!({"ops": [{"op": "create", "key": "n", "kind": "p", "parent": "root"}]})).expect("acme writes its document");

    // squatting: acme may not create in globex's namespace, taken id or free id alike
    let free = refused(&mut a, &mut admin, "globex/anything", &acme);
    let taken = refused(&mut a, &mut admin, "globex/plan", &acme);
    assert_eq!(shape(&free, "globex/anything"), shape(&taken, "globex/plan"), "the refusal reveals whether globex/plan exists");
    assert!(free.message.contains("row-level security"), "message says why: {}", free.message);
    // outside every tenant's namespace too
    refused(&mut a, &mut admin, "plan", &acme);

    // in its own namespace, an existing id is still 23505 (acme may know its own documents)
    let e = create(&mut a, "acme/board").expect_err("second create of acme/board");
    assert_eq!(e.code, "23505", "{e:?}");

    // the rows carry the creating role
    let (docs, _) = world(&mut admin);
    assert_eq!(docs, vec![("acme/board".to_string(), acme.clone()), ("globex/plan".to_string(), globex.clone())]);

    // globex's document stays invisible and unwritable to acme (42704, as before)
    let e = snapshot(&mut a, "globex/plan", None).expect_err("acme reads globex/plan");
    assert_eq!(e.code, "42704");
    let e = apply(&mut a, "globex/plan", &json!({"ops": []})).expect_err("acme writes globex/plan");
    assert_eq!(e.code, "42704");
    let e = a.query_one("SELECT nodesync.wait_gen('globex/plan', 1, 0)", &[]).map_err(db_err).expect_err("acme waits on globex/plan");
    assert_eq!(e.code, "42704", "wait_gen reads as the caller: {e:?}");

    // one role serving several tenants, switching per transaction (SET LOCAL), as the README shows
    a.batch_execute("BEGIN; SET LOCAL app.tenant = 'globex'").unwrap();
    assert_eq!(create(&mut a, "globex/by-app-role").expect("the tenant of the transaction decides"), 1);
    a.batch_execute("COMMIT").unwrap();
    refused(&mut a, &mut admin, "globex/after-commit", &acme);

    // a refused create aborts the caller's transaction like any error; nothing of it stays
    a.batch_execute("BEGIN").unwrap();
    create(&mut a, "acme/in-tx").expect("create in tx");
    assert_eq!(create(&mut a, "globex/in-tx").expect_err("refused in tx").code, "42501");
    a.batch_execute("ROLLBACK").unwrap();
    assert!(!world(&mut admin).0.iter().any(|(d, _)| d.ends_with("/in-tx")));

    // rows of nodesync.documents cannot be inserted around create_doc (no root node)
    for (stmt, code) in [
        ("INSERT INTO nodesync.documents (doc) VALUES ('acme/direct')", "42501"),
        ("INSERT INTO nodesync.documents (doc, created_by) VALUES ('acme/direct', 'x')", "42501"),
        ("INSERT INTO nodesync.documents (doc) SELECT 'acme/direct' ON CONFLICT DO NOTHING", "42501"),
    ] {
        let before = world(&mut admin);
        let e = a.batch_execute(stmt).map_err(db_err).expect_err(stmt);
        assert_eq!(e.code, code, "{stmt}: {e:?}");
        assert_eq!(world(&mut admin), before, "{stmt} changed something");
    }
    let e = a.batch_execute("INSERT INTO nodesync.documents (doc) VALUES ('acme/direct')").map_err(db_err).unwrap_err();
    assert!(e.message.contains("create_doc"), "the guard says what to use instead: {}", e.message);

    // the superuser (and the owner) bypass RLS and may create anything
    assert_eq!(create(&mut admin, "anything/at-all").expect("superuser creates"), 1);

    drop((a, g, admin));
    drop(roles);
    drop_database(&db);
}

#[test]
fn role_keyed_policies_with_an_insert_policy() {
    let db = fresh_database("rls_roles");
    let roles = Roles::create("ns_rls", &["alice", "bob"]);
    let (alice, bob) = (roles.names[0].clone(), roles.names[1].clone());
    let mut admin = connect_to(&db);
    // docs/security.md, "Keyed on the role"
    admin.batch_execute(&format!("CREATE EXTENSION pg_nodesync; {ROLE_KEYED_POLICIES}")).expect("policy setup");
    let mut a = roles.connect(0, &db);
    let mut b = roles.connect(1, &db);

    // without an INSERT policy, RLS refuses every insert: creating is off for both roles
    let e = refused(&mut a, &mut admin, &format!("{alice}/notes"), &alice);
    assert!(e.message.contains("row-level security"), "{}", e.message);
    refused(&mut b, &mut admin, &format!("{bob}/notes"), &bob);

    // the recipe's INSERT policy: each role creates under its own name
    admin.batch_execute(ROLE_KEYED_INSERT_POLICY).expect("insert policy");
    let alice_notes = format!("{alice}/notes");
    assert_eq!(create(&mut a, &alice_notes).expect("alice creates under her name"), 1);
    apply(&mut a, &alice_notes, &json!({"ops": [{"op": "create", "key": "s", "kind": "p", "parent": "root", "props": {"pin": 1}}]})).expect("alice writes");
    assert_eq!(create(&mut b, &format!("{bob}/notes")).expect("bob creates under his name"), 1);

    // bob may not squat alice's namespace, and learns nothing about which of her ids exist
    let free = refused(&mut b, &mut admin, &format!("{alice}/other"), &bob);
    let taken = refused(&mut b, &mut admin, &alice_notes, &bob);
    assert_eq!(shape(&free, &format!("{alice}/other")), shape(&taken, &alice_notes));

    // read access granted to bob: he reads alice's document but still cannot create there or write it
    admin.execute("INSERT INTO app.doc_access VALUES ($1, $2, false)", &[&alice_notes, &bob]).unwrap();
    assert_eq!(snapshot(&mut b, &alice_notes, None).expect("bob reads")["root"]["children"][0]["key"], "s");
    let e = apply(&mut b, &alice_notes, &json!({"ops": [{"op": "delete", "key": "s", "version": 1}]})).expect_err("bob writes");
    assert_eq!(e.code, "42704");
    refused(&mut b, &mut admin, &format!("{alice}/shared"), &bob);
    // the role names hold '_': with starts_with it is no wildcard
    refused(&mut b, &mut admin, &format!("{}/x", bob.replace('_', "-")), &bob);

    // created_by is the caller, whatever the caller asks
    let (docs, _) = world(&mut admin);
    assert_eq!(docs, vec![(format!("{alice}/notes"), alice.clone()), (format!("{bob}/notes"), bob.clone())]);

    drop((a, b, admin));
    drop(roles);
    drop_database(&db);
}

#[test]
fn without_row_level_security_everyone_may_create() {
    // the single-tenant default is unchanged: no RLS, every role creates (and 23505 on a taken id)
    let db = fresh_database("rls_none");
    let roles = Roles::create("ns_rls", &["carol"]);
    let mut admin = connect_to(&db);
    admin.batch_execute("CREATE EXTENSION pg_nodesync").unwrap();
    let mut c = roles.connect(0, &db);
    assert_eq!(create(&mut c, "shared/doc").expect("create"), 1);
    assert_eq!(create(&mut c, "shared/doc").expect_err("again").code, "23505");
    let created_by: String = admin.query_one("SELECT created_by::text FROM nodesync.documents WHERE doc = 'shared/doc'", &[]).unwrap().get(0);
    assert_eq!(created_by, roles.names[0]);
    // revoking the INSERT privilege also stops create_doc, with the same 42501 naming the document
    admin.batch_execute("REVOKE INSERT (doc) ON nodesync.documents FROM PUBLIC").unwrap();
    let e = refused(&mut c, &mut admin, "shared/other", &roles.names[0]);
    assert!(e.message.contains("INSERT privilege"), "{}", e.message);
    drop((c, admin));
    drop(roles);
    drop_database(&db);
}
