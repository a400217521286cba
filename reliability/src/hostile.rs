//! Hostile patch texts: valid patches from the reference model, mutated (dropped/renamed
//! fields, wrong types, huge strings, deep nesting, odd unicode, out-of-range numbers,
//! duplicate keys, thousands of ops), random JSON, and byte-level garbage. Everything is
//! produced as JSON *text*, so it can hold what serde_json cannot (duplicate keys, 1e400,
//! lone surrogate escapes).

use nodesync_core::reference::{random_patch, Doc, Rng};
use serde_json::{json, Map, Value};

/// Raw JSON number texts that are out of range or odd for a version/base/seq.
pub const ODD_NUMBERS: &[&str] = &[
    "1e400", "-1e400", "1e-400", "-0", "0.0", "1.5", "1.0", "3e0", "0.1e1", "9223372036854775807",
    "9223372036854775808", "-9223372036854775808", "-9223372036854775809", "18446744073709551616",
    "123456789012345678901234567890123456789", "1E2", "-1", "0", "2", "4294967296",
];

/// Raw JSON string texts with odd unicode (some rejected by jsonb: lone surrogates, NUL).
pub const ODD_STRINGS: &[&str] = &[
    r#""\ud800""#, r#""\udc00""#, r#""a\ud800b""#, r#""\ud83d\ude00""#, r#""\ud83d""#, r#""\u0000""#,
    r#""\u202eevil\u202c""#, r#""e\u0301\u0301\u0301""#, r#""\u200b""#, r#""\ufeff""#, r#""\uffff""#,
    r#""\\""#, r#""\"""#, "\"😀👩‍👩‍👧‍👦\"", "\"مرحبا بالعالم\"", "\"עברית\"", "\"root\"", "\"\"", "\" \"",
    r#""\u0001\u001f""#, "\"\u{10FFFF}\"", "\"a\u{0300}\u{0301}\u{0302}\u{0303}\u{0304}\"", r#""\n\t\r""#,
];

/// Percentage of huge (1 MB) strings among the huge-string picks.
pub static HEAVY: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(100);

pub struct Hostile {
    raws: Vec<String>,
}

fn tok(kind: &str, n: usize) -> String {
    format!("\u{1}{kind}{n}\u{1}")
}

impl Hostile {
    fn new() -> Hostile {
        Hostile { raws: vec![] }
    }

    /// A placeholder value replaced by `raw` JSON text when rendering.
    fn raw(&mut self, raw: String) -> Value {
        self.raws.push(raw);
        Value::String(tok("RAW", self.raws.len() - 1))
    }

    /// A placeholder object key rendered as `"key"` (so an object can hold `key` twice).
    fn dup_key(&mut self, key: &str) -> String {
        self.raws.push(Value::from(key).to_string());
        tok("DUP", self.raws.len() - 1)
    }

    fn render(&self, v: &Value) -> String {
        let mut s = v.to_string();
        for (i, r) in self.raws.iter().enumerate().rev() {
            s = s.replace(&Value::from(tok("RAW", i)).to_string(), r);
            s = s.replace(&Value::from(tok("DUP", i)).to_string(), r);
        }
        s
    }
}

fn deep(rng: &mut Rng, levels: usize) -> String {
    let mut s = String::with_capacity(levels * 8);
    let objs = rng.below(2) == 0;
    for _ in 0..levels {
        s.push_str(if objs { "{\"a\":" } else { "[" });
    }
    s.push('1');
    for _ in 0..levels {
        s.push(if objs { '}' } else { ']' });
    }
    s
}

fn huge_string(rng: &mut Rng) -> String {
    let n = match rng.below(4) {
        0 => 201,
        1 => 200,
        2 if rng.below(100) < HEAVY.load(std::sync::atomic::Ordering::Relaxed) => 1_000_000,
        _ => 1 + rng.below(5000) as usize,
    };
    let c = ['x', 'é', '😀', '\u{202e}'][rng.below(4) as usize];
    let s: String = std::iter::repeat_n(c, n / c.len_utf8().max(1)).collect();
    s
}

fn random_json(rng: &mut Rng, depth: u32) -> Value {
    match rng.below(if depth > 3 { 6 } else { 8 }) {
        0 => Value::Null,
        1 => Value::Bool(rng.below(2) == 0),
        2 => json!(rng.next_u32() as i64 - (1 << 31)),
        3 => json!(["op", "key", "version", "create", "update", "move", "delete", "root", "", "p", "n1"][rng.below(11) as usize]),
        4 => json!(rng.next_u32() as f64 / 7.0),
        5 => Value::String((0..rng.below(8)).map(|_| char::from_u32(0x20 + rng.below(0x3000)).unwrap_or('?')).collect()),
        6 => Value::Array((0..rng.below(4)).map(|_| random_json(rng, depth + 1)).collect()),
        _ => {
            let mut m = Map::new();
            for _ in 0..rng.below(4) {
                let k = ["op", "key", "kind", "version", "parent", "after", "props", "ops", "base", "x"][rng.below(10) as usize];
                m.insert(k.into(), random_json(rng, depth + 1));
            }
            Value::Object(m)
        }
    }
}

const FIELDS: &[&str] = &["op", "key", "kind", "version", "parent", "after", "props", "prop", "edits", "at", "new", "next", "next_version"];

impl Hostile {
    fn wrong_value(&mut self, rng: &mut Rng) -> Value {
        match rng.below(9) {
            0 => {
                let n = ODD_NUMBERS[rng.below(ODD_NUMBERS.len() as u32) as usize];
                self.raw(n.to_string())
            }
            1 => {
                let s = ODD_STRINGS[rng.below(ODD_STRINGS.len() as u32) as usize];
                self.raw(s.to_string())
            }
            2 => Value::String(huge_string(rng)),
            3 => {
                let lv = [10, 127, 128, 200, 1000, 10_000][rng.below(6) as usize];
                let d = deep(rng, lv);
                self.raw(d)
            }
            _ => random_json(rng, 0),
        }
    }

    fn mutate_op(&mut self, rng: &mut Rng, op: &mut Map<String, Value>) {
        match rng.below(10) {
            0 => {
                // drop a field
                let keys: Vec<String> = op.keys().cloned().collect();
                if !keys.is_empty() {
                    op.remove(&keys[rng.below(keys.len() as u32) as usize]);
                }
            }
            1 => {
                // rename a field
                let keys: Vec<String> = op.keys().cloned().collect();
                if !keys.is_empty() {
                    let k = &keys[rng.below(keys.len() as u32) as usize];
                    let v = op.remove(k).unwrap_or(Value::Null);
                    let nk = match rng.below(4) {
                        0 => k.to_uppercase(),
                        1 => format!("{k} "),
                        2 => FIELDS[rng.below(FIELDS.len() as u32) as usize].to_string(),
                        _ => String::new(),
                    };
                    op.insert(nk, v);
                }
            }
            2 | 3 => {
                // a field with a wrong or odd value
                let f = FIELDS[rng.below(FIELDS.len() as u32) as usize];
                let v = self.wrong_value(rng);
                op.insert(f.into(), v);
            }
            4 => {
                // odd version
                let n = ODD_NUMBERS[rng.below(ODD_NUMBERS.len() as u32) as usize];
                let v = self.raw(n.to_string());
                op.insert("version".into(), v);
            }
            5 => {
                // duplicate JSON key with another value
                let f = FIELDS[rng.below(FIELDS.len() as u32) as usize];
                let k = self.dup_key(f);
                let v = self.wrong_value(rng);
                op.insert(k, v);
            }
            6 if rng.below(2) == 0 => {
                // hostile text edits: odd offsets, huge or odd inserts, wrong shapes
                let n = |h: &mut Hostile, rng: &mut Rng| h.raw(ODD_NUMBERS[rng.below(ODD_NUMBERS.len() as u32) as usize].to_string());
                let mut edits = vec![];
                for _ in 0..rng.below(4) {
                    let e = match rng.below(5) {
                        0 => json!([n(self, rng), n(self, rng), "x"]),
                        1 => json!([0, 0, huge_string(rng)]),
                        2 => {
                            let s = ODD_STRINGS[rng.below(ODD_STRINGS.len() as u32) as usize];
                            json!([rng.below(4), rng.below(3), self.raw(s.to_string())])
                        }
                        3 => self.wrong_value(rng),
                        _ => json!([rng.below(1 << 20), rng.below(1 << 20), ""]),
                    };
                    edits.push(e);
                }
                op.insert("edits".into(), Value::Array(edits));
            }
            6 => {
                // hostile props
                let mut props = Map::new();
                for _ in 0..1 + rng.below(3) {
                    let k = match rng.below(4) {
                        0 => huge_string(rng),
                        1 => "\u{202e}\u{0301}😀".to_string(),
                        2 => String::new(),
                        _ => format!("p{}", rng.below(5)),
                    };
                    let v = self.wrong_value(rng);
                    props.insert(k, v);
                }
                op.insert("props".into(), Value::Object(props));
            }
            7 => {
                let name = ["create", "update", "move", "delete", "CREATE", "remove", "", "create\u{0}", "upsert", "text", "split", "join", "TEXT"][rng.below(13) as usize];
                op.insert("op".into(), json!(name));
            }
            8 => {
                // names at/over the byte limit, odd unicode names
                let f = ["key", "kind", "parent", "after"][rng.below(4) as usize];
                let v = match rng.below(3) {
                    0 => Value::String("k".repeat(200 + rng.below(2) as usize)),
                    1 => Value::String("é".repeat(100 + rng.below(2) as usize)),
                    _ => {
                        let s = ODD_STRINGS[rng.below(ODD_STRINGS.len() as u32) as usize];
                        self.raw(s.to_string())
                    }
                };
                op.insert(f.into(), v);
            }
            _ => {
                op.insert(format!("x{}", rng.below(3)), json!(1));
            }
        }
    }
}

/// What kind of input [`hostile_patch`] made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Valid,
    Mutated,
    Random,
    Bytes,
    ManyOps,
    Deep,
}

/// One hostile patch text for a document in state `doc`.
pub fn hostile_patch(rng: &mut Rng, doc: &Doc, next_key: &mut u32, heavy_pct: u32) -> (Kind, String) {
    let nops = 1 + rng.below(4) as usize;
    let seed = rng.seed(4 * nops);
    let mut base = random_patch(doc, &seed, next_key);
    let mut h = Hostile::new();
    let mut r = rng.below(100);
    if r >= 88 && rng.below(100) >= heavy_pct {
        // heavy inputs (thousands of ops, deep nesting) only heavy_pct% of the time
        r = 8 + rng.below(80);
    }
    if r < 8 {
        return (Kind::Valid, base.to_string());
    }
    if r < 65 {
        for _ in 0..1 + rng.below(3) {
            match rng.below(12) {
                0 => {
                    let v = h.wrong_value(rng);
                    base["base"] = v;
                }
                1 => {
                    let v = h.wrong_value(rng);
                    base["ops"] = v;
                }
                2 => {
                    let k = h.dup_key("ops");
                    let v = h.wrong_value(rng);
                    base.as_object_mut().map(|o| o.insert(k, v));
                }
                3 => {
                    base.as_object_mut().map(|o| o.insert(["extra", "Ops", "", "base "][rng.below(4) as usize].into(), json!(1)));
                }
                4 => {
                    // duplicate an op (create twice, delete twice, ...)
                    if let Some(a) = base["ops"].as_array_mut() {
                        if let Some(o) = a.first().cloned() {
                            a.push(o);
                        }
                    }
                }
                5 => {
                    if let Some(a) = base["ops"].as_array_mut() {
                        let x = random_json(rng, 1);
                        a.push(x);
                    }
                }
                _ => {
                    if let Some(a) = base["ops"].as_array_mut() {
                        if !a.is_empty() {
                            let i = rng.below(a.len() as u32) as usize;
                            if let Some(o) = a[i].as_object_mut() {
                                h.mutate_op(rng, o);
                            }
                        }
                    }
                }
            }
        }
        return (Kind::Mutated, h.render(&base));
    }
    if r < 75 {
        let v = random_json(rng, 0);
        let v = if rng.below(2) == 0 { json!({"ops": [v]}) } else { v };
        return (Kind::Random, v.to_string());
    }
    if r < 88 {
        // byte-level damage to a valid patch text
        let mut b = base.to_string().into_bytes();
        for _ in 0..1 + rng.below(4) {
            if b.is_empty() {
                break;
            }
            let i = rng.below(b.len() as u32) as usize;
            match rng.below(4) {
                0 => b[i] = rng.below(256) as u8,
                1 => {
                    b.remove(i);
                }
                2 => {
                    let set = b"{}[],:\"\\0e-";
                    b.insert(i, set[rng.below(set.len() as u32) as usize])
                }
                _ => b.truncate(i),
            }
        }
        return (Kind::Bytes, String::from_utf8_lossy(&b).into_owned());
    }
    if r < 94 {
        // thousands of ops; usually the last one is bad, so nothing may stick
        let n = [1000usize, 3000, 10_000, 10_001][rng.below(4) as usize];
        let tag = rng.next_u32();
        let mut ops: Vec<Value> =
            (0..n).map(|i| json!({"op": "create", "key": format!("big{tag}.{i}"), "kind": "p", "parent": "root"})).collect();
        match rng.below(4) {
            0 => {
                ops.pop();
                ops.push(json!({"op": "update", "key": "root", "version": 999_999}));
            }
            1 => {
                ops.pop();
                ops.push(json!({"op": "explode"}));
            }
            2 => {
                ops.pop();
                ops.push(json!({"op": "create", "key": format!("big{tag}.0"), "kind": "p", "parent": "root"}));
            }
            _ => {
                ops.truncate(n.min(50));
            }
        }
        return (Kind::ManyOps, json!({"ops": ops}).to_string());
    }
    // deep nesting of props or of the patch itself
    let lv = [100usize, 127, 128, 129, 1000, 10_000][rng.below(6) as usize];
    let d = deep(rng, lv);
    let text = match rng.below(3) {
        0 => format!(r#"{{"ops": [{{"op": "create", "key": "deep{}", "kind": "p", "parent": "root", "props": {{"d": {d}}}}}]}}"#, rng.next_u32()),
        1 => format!(r#"{{"ops": {d}}}"#),
        _ => d,
    };
    (Kind::Deep, text)
}
