//! The vector files in `tests/vectors/`: where they are, writing them (`NODESYNC_WRITE_VECTORS=1`)
//! and checking the stored file equals what the code computes, naming the first difference.

use serde_json::Value;

fn vectors(file: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors").join(file)
}

fn writing() -> bool {
    std::env::var_os("NODESYNC_WRITE_VECTORS").is_some()
}

/// Writes `doc` (in write mode), then checks the stored file equals it, case by case.
pub fn write_or_check(file: &str, doc: &Value, lists: &[&str], pretty: bool) {
    let path = vectors(file);
    if writing() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let text = if pretty { serde_json::to_string_pretty(doc).unwrap() } else { serde_json::to_string(doc).unwrap() };
        std::fs::write(&path, text + "\n").unwrap();
    }
    let stored: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    for list in lists {
        let (want, got) = (doc[list].as_array().unwrap(), stored[list].as_array().unwrap_or_else(|| panic!("{file}: no \"{list}\"")));
        for (i, w) in want.iter().enumerate() {
            let name = w["name"].as_str().unwrap_or("?");
            match got.get(i) {
                None => panic!("{file}: {list}[{i}] {name:?} is missing from the stored file: regenerate (NODESYNC_WRITE_VECTORS=1) and review"),
                Some(g) if g != w => {
                    let detail = first_difference(g, w, "");
                    panic!("{file}: {list}[{i}] {name:?} differs from what the Rust code computes now (stored {:?}) at {detail}: regenerate and review", g["name"]);
                }
                _ => {}
            }
        }
        assert_eq!(got.len(), want.len(), "{file}: {list}: the stored file has more cases than the code: regenerate and review");
    }
    assert_eq!(&stored, doc, "{file}");
}

/// The JSON path of the first difference between `a` and `b`.
fn first_difference(a: &Value, b: &Value, at: &str) -> String {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for (k, v) in x {
                match y.get(k) {
                    Some(w) if w != v => return first_difference(v, w, &format!("{at}.{k}")),
                    None => return format!("{at}.{k} (only in the stored file)"),
                    _ => {}
                }
            }
            for k in y.keys() {
                if !x.contains_key(k) {
                    return format!("{at}.{k} (only in the computed one)");
                }
            }
            at.to_string()
        }
        (Value::Array(x), Value::Array(y)) => {
            for (i, (v, w)) in x.iter().zip(y).enumerate() {
                if v != w {
                    return first_difference(v, w, &format!("{at}[{i}]"));
                }
            }
            format!("{at} (lengths {} vs {})", x.len(), y.len())
        }
        _ => format!("{at}: stored {a}, computed {b}"),
    }
}
