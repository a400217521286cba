//! Text inside a string property (docs/api/apply_patch.md, "The text op"): splices
//! `[at, delete, insert]` counted in Unicode code points, applied in order, each to the result
//! of the one before. This module is the one home of what a splice means; the engine, the
//! reference model and the client all apply splices through [`apply`].

use serde_json::Value;

/// One splice: remove `delete` code points starting at `at`, then insert `insert` at `at`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Edit {
    pub at: usize,
    pub delete: usize,
    pub insert: String,
}

impl Edit {
    pub fn new(at: usize, delete: usize, insert: impl Into<String>) -> Edit {
        Edit { at, delete, insert: insert.into() }
    }

    /// Does nothing (deletes nothing, inserts nothing).
    pub fn is_noop(&self) -> bool {
        self.delete == 0 && self.insert.is_empty()
    }

    /// The wire form `[at, delete, insert]`.
    pub fn to_json(&self) -> Value {
        Value::Array(vec![Value::from(self.at), Value::from(self.delete), Value::from(self.insert.as_str())])
    }

    /// Reads the wire form `[at, delete, insert]`; `Err` says what is wrong with it.
    pub fn from_json(v: &Value) -> Result<Edit, String> {
        let a = match v.as_array() {
            Some(a) if a.len() == 3 => a,
            _ => return Err(format!("an edit is [at, delete, insert], got {}", crate::patch::shorten(&v.to_string()))),
        };
        let count = |what: &str, x: &Value| -> Result<usize, String> {
            x.as_u64()
                .and_then(|n| usize::try_from(n).ok())
                .ok_or_else(|| format!("{what} must be an integer >= 0, got {}", crate::patch::shorten(&x.to_string())))
        };
        let at = count("at", &a[0])?;
        let delete = count("delete", &a[1])?;
        let insert = match &a[2] {
            Value::String(s) => s.clone(),
            other => return Err(format!("insert must be a string, got {}", crate::patch::shorten(&other.to_string()))),
        };
        Ok(Edit { at, delete, insert })
    }
}

/// An edit that does not fit the text it is applied to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Misfit {
    /// Index of the edit in its list.
    pub index: usize,
    pub at: usize,
    pub delete: usize,
    /// Length of the text (code points) when the edit was applied.
    pub len: usize,
}

impl std::fmt::Display for Misfit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "edit {} ([{}, {}, …]) reaches code point {} of a text {} code points long",
            self.index,
            self.at,
            self.delete,
            self.at.saturating_add(self.delete),
            self.len
        )
    }
}

/// Number of code points in `s`.
pub fn len(s: &str) -> usize {
    s.chars().count()
}

/// Byte offset of code point `at` in `s` (`s.len()` for the end), or `None` past the end.
pub fn byte_offset(s: &str, at: usize) -> Option<usize> {
    if at == 0 {
        return Some(0);
    }
    // an ASCII prefix of `at` bytes is `at` code points (checked with SIMD, no decoding)
    if at <= s.len() && s.as_bytes()[..at].is_ascii() {
        return Some(at);
    }
    let mut n = 0;
    for (b, _) in s.char_indices() {
        if n == at {
            return Some(b);
        }
        n += 1;
    }
    (n == at).then_some(s.len())
}

/// `s` split after its first `at` code points, or `None` if `s` is shorter.
pub fn split_at(s: &str, at: usize) -> Option<(&str, &str)> {
    byte_offset(s, at).map(|b| s.split_at(b))
}

/// Applies one edit in place; `Err(len)` (the text's length) if it does not fit.
pub fn apply_one(s: &mut String, e: &Edit) -> Result<(), usize> {
    let start = byte_offset(s, e.at).ok_or_else(|| len(s))?;
    let end = match e.delete {
        0 => start,
        d => match byte_offset(&s[start..], d) {
            Some(b) => start + b,
            None => return Err(len(s)),
        },
    };
    s.replace_range(start..end, &e.insert);
    Ok(())
}

/// Applies `edits` in order to `s`.
pub fn apply(s: &str, edits: &[Edit]) -> Result<String, Misfit> {
    let mut out = s.to_string();
    apply_each(&mut out, edits, || Ok(()), |m| m)?;
    Ok(out)
}

/// Applies `edits` in order to `s` in place, calling `before` ahead of each edit (the server
/// checks for a cancel there); an edit that does not fit becomes the error `misfit` makes.
/// `s` is left partly edited on error.
pub fn apply_each<E>(s: &mut String, edits: &[Edit], mut before: impl FnMut() -> Result<(), E>, misfit: impl FnOnce(Misfit) -> E) -> Result<(), E> {
    for (index, e) in edits.iter().enumerate() {
        before()?;
        if let Err(len) = apply_one(s, e) {
            return Err(misfit(Misfit { index, at: e.at, delete: e.delete, len }));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn splices_in_code_points() {
        assert_eq!(apply("hello world", &[Edit::new(5, 0, ",")]).unwrap(), "hello, world");
        assert_eq!(apply("é😀x", &[Edit::new(2, 0, "-")]).unwrap(), "é😀-x");
        assert_eq!(apply("é😀-x", &[Edit::new(1, 1, "o")]).unwrap(), "éo-x");
        assert_eq!(apply("éo-x", &[Edit::new(4, 0, "ß")]).unwrap(), "éo-xß");
        // combining marks are code points of their own
        assert_eq!(apply("e\u{301}a", &[Edit::new(1, 1, "")]).unwrap(), "ea");
        assert_eq!(apply("there", &[Edit::new(5, 0, "!"), Edit::new(0, 0, "oh "), Edit::new(3, 1, "T")]).unwrap(), "oh There!");
        assert_eq!(apply("", &[Edit::new(0, 0, "")]).unwrap(), "");
    }

    #[test]
    fn misfits_name_the_edit() {
        assert_eq!(apply("ab", &[Edit::new(3, 0, "x")]).unwrap_err(), Misfit { index: 0, at: 3, delete: 0, len: 2 });
        assert_eq!(apply("ab", &[Edit::new(1, 2, "")]).unwrap_err().len, 2);
        let e = apply("abcdefgh", &[Edit::new(0, 8, ""), Edit::new(1, 0, "x")]).unwrap_err();
        assert_eq!((e.index, e.len), (1, 0));
        assert!(e.to_string().contains("edit 1"), "{e}");
        assert!(apply("ab", &[Edit::new(usize::MAX, usize::MAX, "")]).is_err());
    }

    #[test]
    fn wire_form() {
        assert_eq!(Edit::from_json(&json!([1, 2, "x"])).unwrap(), Edit::new(1, 2, "x"));
        assert_eq!(Edit::new(1, 2, "x").to_json(), json!([1, 2, "x"]));
        for bad in [json!([1, 2]), json!([-1, 0, ""]), json!([1.5, 0, ""]), json!([0, "1", ""]), json!([0, 0, 5]), json!({}), json!([0, 0, "", 1])] {
            assert!(Edit::from_json(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn offsets_past_an_ascii_prefix() {
        assert_eq!(byte_offset("abc", 3), Some(3));
        assert_eq!(byte_offset("abc", 4), None);
        assert_eq!(byte_offset("abé", 3), Some(4));
        assert_eq!(byte_offset("aé", 2), Some(3));
        assert_eq!(byte_offset("éa", 1), Some(2));
    }

    #[test]
    fn splits_at_code_points() {
        assert_eq!(split_at("é😀x", 2), Some(("é😀", "x")));
        assert_eq!(split_at("é😀x", 3), Some(("é😀x", "")));
        assert_eq!(split_at("é😀x", 4), None);
        assert_eq!(split_at("", 0), Some(("", "")));
    }

    fn text() -> impl Strategy<Value = String> {
        proptest::collection::vec(prop_oneof![Just('a'), Just('é'), Just('😀'), Just('\u{301}'), Just('z'), Just('\n')], 0..20)
            .prop_map(|v| v.into_iter().collect())
    }

    proptest! {
        /// Random edit lists against a naive `Vec<char>` model.
        #[test]
        fn agrees_with_a_vec_of_chars(start in text(), raw in proptest::collection::vec((0usize..25, 0usize..6, text()), 1..8)) {
            let mut model: Vec<char> = start.chars().collect();
            let mut edits = vec![];
            let mut fits = true;
            for (at, delete, insert) in raw {
                let e = Edit::new(at, delete, insert.clone());
                if fits && at + delete <= model.len() {
                    model.splice(at..at + delete, insert.chars());
                } else {
                    fits = false;
                }
                edits.push(e);
            }
            match apply(&start, &edits) {
                Ok(got) => { prop_assert!(fits); prop_assert_eq!(got, model.into_iter().collect::<String>()); }
                Err(_) => prop_assert!(!fits),
            }
        }
    }
}
