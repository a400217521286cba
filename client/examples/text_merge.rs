//! Two replicas type into one paragraph at once, one presses Enter, the other Backspace: the
//! worked example of docs/client.md ("Text"). Needs a server with the extension
//! (PGHOST/PGPORT/PGUSER/PGDATABASE):
//!
//!   cargo run -p pg_nodesync_client --example text_merge

use pg_nodesync_client::{connect_env, ensure_doc, Config, Place, Replica};
use serde_json::{json, Map, Value};

fn props(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}

fn show(label: &str, r: &Replica) {
    let t = r.tree();
    let texts: Vec<String> = t.children("root").iter().map(|k| format!("{k}: {:?}", r.text(k, "text").unwrap_or(""))).collect();
    println!("{label:<10} {}", texts.join("  |  "));
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut c = connect_env("text-merge-example")?;
    let doc = format!("text-merge-{}", std::process::id());
    ensure_doc(&mut c, &doc, "doc")?;
    let mut ann = Replica::open(connect_env("ann")?, Config::new(&doc, "ann"))?;
    ann.create_with_key("p1", "root", Place::Last, "para", props(json!({"text": "Hello world"})))?;
    ann.push()?;
    let mut bob = Replica::open(connect_env("bob")?, Config::new(&doc, "bob"))?;

    // both type at once, from the same version of p1
    ann.splice("p1", "text", 5, 0, ",")?; //             "Hello, world"
    ann.splice("p1", "text", 12, 0, "!")?; //            "Hello, world!"
    bob.update("p1", None, props(json!({"text": "Hello brave world"})))?; // a whole new value
    bob.set_cursor("caret", "p1", "text", 11); //        after "brave"
    println!("ann sends  {}", ann.workspace().patch().to_json());
    println!("bob sends  {}", bob.workspace().patch().to_json());
    ann.push()?;
    let pushed = bob.push()?; // 40001, pull, rebase, retry
    println!("bob        {pushed:?}");
    ann.pull()?;
    show("ann", &ann);
    show("bob", &bob);
    println!("bob caret  {:?}", bob.cursor("caret"));

    // ann presses Enter after "Hello, brave"; meanwhile bob types at his caret
    ann.split("p1", "text", 12, "p2")?;
    ann.push()?;
    let at = bob.cursor("caret").map_or(0, |c| c.at);
    bob.splice("p1", "text", at, 0, " new")?; //       at his caret, right where ann split
    bob.push()?;
    ann.pull()?;
    show("ann", &ann);
    println!("bob caret  {:?}", bob.cursor("caret"));

    // bob presses Backspace at the start of p2 while ann types at its end
    bob.join("p1", "p2", "text")?;
    ann.splice("p2", "text", ann.text("p2", "text").map_or(0, |t| t.chars().count()), 0, " :)")?;
    ann.push()?;
    bob.push()?;
    ann.pull()?;
    show("ann", &ann);
    show("bob", &bob);
    let log: Vec<String> = c
        .query("SELECT gen, patch::text FROM nodesync.changes_since($1, 2) ORDER BY gen", &[&doc])?
        .iter()
        .map(|r| format!("  {}: {}", r.get::<_, i64>(0), r.get::<_, String>(1)))
        .collect();
    println!("change log\n{}", log.join("\n"));
    Ok(())
}
