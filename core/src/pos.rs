//! Position keys: opaque strings that sort siblings in byte order (`COLLATE "C"`).
//!
//! The scheme is fractional indexing with a variable-length integer head (as in rocicorp's
//! `fractional-indexing` and Figma's multiplayer tree): a key is an *integer part* whose first
//! character encodes its length (`a`..`z`: 2..27 characters, positive; `A`..`Z`: negative)
//! followed by an optional *fraction* of base-62 digits (`0-9A-Za-z`, ASCII order) that never
//! ends in `0`.
//!
//! - Appending after the last sibling increments the integer part: 100,000 appends stay at 4–5
//!   characters. Prepending decrements it, just as short.
//! - Inserting between two siblings takes the midpoint of the fractions: about one character
//!   more per six inserts at the same spot.
//! - Inserting never changes any other key.

use std::cmp::Ordering;

const DIGITS: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const ZERO: u8 = b'0';
const INTEGER_ZERO: &str = "a0";
/// The smallest integer part; a key may not be exactly this (nothing could precede it).
const SMALLEST_INTEGER: &str = "A00000000000000000000000000";

/// A position key that cannot be used (corrupt stored data or out of range).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PosError(pub String);

impl std::fmt::Display for PosError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn digit_index(c: u8) -> Result<usize, PosError> {
    match c {
        b'0'..=b'9' => Ok((c - b'0') as usize),
        b'A'..=b'Z' => Ok((c - b'A') as usize + 10),
        b'a'..=b'z' => Ok((c - b'a') as usize + 36),
        _ => Err(PosError(format!("invalid digit {:?} in position key", c as char))),
    }
}

fn integer_length(head: u8) -> Result<usize, PosError> {
    match head {
        b'a'..=b'z' => Ok((head - b'a') as usize + 2),
        b'A'..=b'Z' => Ok((b'Z' - head) as usize + 2),
        _ => Err(PosError(format!("invalid position key head {:?}", head as char))),
    }
}

fn split(key: &str) -> Result<(&str, &str), PosError> {
    let head = *key.as_bytes().first().ok_or_else(|| PosError("empty position key".into()))?;
    let n = integer_length(head)?;
    if n > key.len() {
        return Err(PosError(format!("position key {key:?} is shorter than its integer part")));
    }
    if !key.is_ascii() {
        return Err(PosError(format!("position key {key:?} is not ASCII")));
    }
    Ok(key.split_at(n))
}

/// Checks that `key` is a well-formed position key.
pub fn validate(key: &str) -> Result<(), PosError> {
    if key == SMALLEST_INTEGER {
        return Err(PosError(format!("invalid position key {key:?}")));
    }
    let (int, frac) = split(key)?;
    for &c in int.as_bytes()[1..].iter().chain(frac.as_bytes()) {
        digit_index(c)?;
    }
    if frac.as_bytes().last() == Some(&ZERO) {
        return Err(PosError(format!("position key {key:?} has a trailing zero")));
    }
    Ok(())
}

/// A key between fractions `a` and `b` (digits only; `a < b`; `b == None` means "+infinity").
fn midpoint(a: &[u8], b: Option<&[u8]>) -> Result<Vec<u8>, PosError> {
    if let Some(b) = b {
        // longest common prefix, padding `a` with zeros
        let mut n = 0;
        while n < b.len() && a.get(n).copied().unwrap_or(ZERO) == b[n] {
            n += 1;
        }
        if n > 0 {
            let mut out = b[..n].to_vec();
            let rest_a = if n < a.len() { &a[n..] } else { &[][..] };
            out.extend(midpoint(rest_a, Some(&b[n..]))?);
            return Ok(out);
        }
    }
    let da = match a.first() {
        Some(&c) => digit_index(c)?,
        None => 0,
    };
    let db = match b {
        Some(b) => match b.first() {
            Some(&c) => digit_index(c)?,
            None => return Err(PosError("midpoint: upper bound is empty".into())),
        },
        None => DIGITS.len(),
    };
    if db <= da {
        return Err(PosError("midpoint: bounds out of order".into()));
    }
    if db - da > 1 {
        let mid = (da + db).div_ceil(2); // round half up, as Math.round
        Ok(vec![DIGITS[mid]])
    } else if let Some(b) = b.filter(|b| b.len() > 1) {
        Ok(vec![b[0]])
    } else {
        let mut out = vec![DIGITS[da]];
        let rest_a = if a.len() > 1 { &a[1..] } else { &[][..] };
        out.extend(midpoint(rest_a, None)?);
        Ok(out)
    }
}

fn increment_integer(x: &str) -> Result<Option<String>, PosError> {
    let bytes = x.as_bytes();
    let head = bytes[0];
    let mut digs: Vec<u8> = bytes[1..].to_vec();
    let mut carry = true;
    for d in digs.iter_mut().rev() {
        let i = digit_index(*d)? + 1;
        if i == DIGITS.len() {
            *d = ZERO;
        } else {
            *d = DIGITS[i];
            carry = false;
            break;
        }
    }
    if !carry {
        let mut out = vec![head];
        out.extend(digs);
        return Ok(Some(String::from_utf8_lossy(&out).into_owned()));
    }
    match head {
        b'Z' => Ok(Some(format!("a{}", ZERO as char))),
        b'z' => Ok(None),
        _ => {
            let h = head + 1;
            if h > b'a' {
                digs.push(ZERO);
            } else {
                digs.pop();
            }
            let mut out = vec![h];
            out.extend(digs);
            Ok(Some(String::from_utf8_lossy(&out).into_owned()))
        }
    }
}

fn decrement_integer(x: &str) -> Result<Option<String>, PosError> {
    let bytes = x.as_bytes();
    let head = bytes[0];
    let mut digs: Vec<u8> = bytes[1..].to_vec();
    let mut borrow = true;
    for d in digs.iter_mut().rev() {
        let i = digit_index(*d)?;
        if i == 0 {
            *d = DIGITS[DIGITS.len() - 1];
        } else {
            *d = DIGITS[i - 1];
            borrow = false;
            break;
        }
    }
    if !borrow {
        let mut out = vec![head];
        out.extend(digs);
        return Ok(Some(String::from_utf8_lossy(&out).into_owned()));
    }
    match head {
        b'a' => Ok(Some(format!("Z{}", DIGITS[DIGITS.len() - 1] as char))),
        b'A' => Ok(None),
        _ => {
            let h = head - 1;
            if h < b'Z' {
                digs.push(DIGITS[DIGITS.len() - 1]);
            } else {
                digs.pop();
            }
            let mut out = vec![h];
            out.extend(digs);
            Ok(Some(String::from_utf8_lossy(&out).into_owned()))
        }
    }
}

fn with_fraction(int: &str, frac: Vec<u8>) -> String {
    let mut s = String::with_capacity(int.len() + frac.len());
    s.push_str(int);
    s.push_str(&String::from_utf8_lossy(&frac));
    s
}

/// A key strictly between `a` and `b` (`None` = open end). Both must be valid and `a < b`.
pub fn key_between(a: Option<&str>, b: Option<&str>) -> Result<String, PosError> {
    if let Some(a) = a {
        validate(a)?;
    }
    if let Some(b) = b {
        validate(b)?;
    }
    match (a, b) {
        (Some(a), Some(b)) if a.as_bytes().cmp(b.as_bytes()) != Ordering::Less => {
            Err(PosError(format!("position keys out of order: {a:?} >= {b:?}")))
        }
        (None, None) => Ok(INTEGER_ZERO.to_string()),
        (None, Some(b)) => {
            let (ib, fb) = split(b)?;
            if ib == SMALLEST_INTEGER {
                return Ok(with_fraction(ib, midpoint(&[], Some(fb.as_bytes()))?));
            }
            if ib.len() < b.len() {
                return Ok(ib.to_string());
            }
            decrement_integer(ib)?.ok_or_else(|| PosError("no position left before the first sibling".into()))
        }
        (Some(a), None) => {
            let (ia, fa) = split(a)?;
            match increment_integer(ia)? {
                Some(i) => Ok(i),
                None => Ok(with_fraction(ia, midpoint(fa.as_bytes(), None)?)),
            }
        }
        (Some(a), Some(b)) => {
            let (ia, fa) = split(a)?;
            let (ib, fb) = split(b)?;
            if ia == ib {
                return Ok(with_fraction(ia, midpoint(fa.as_bytes(), Some(fb.as_bytes()))?));
            }
            let i = increment_integer(ia)?.ok_or_else(|| PosError("no position left after the last sibling".into()))?;
            if i.as_bytes() < b.as_bytes() {
                Ok(i)
            } else {
                Ok(with_fraction(ia, midpoint(fa.as_bytes(), None)?))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn between(a: Option<&str>, b: Option<&str>) -> String {
        let k = key_between(a, b).unwrap();
        validate(&k).unwrap();
        if let Some(a) = a {
            assert!(a.as_bytes() < k.as_bytes(), "{a} < {k}");
        }
        if let Some(b) = b {
            assert!(k.as_bytes() < b.as_bytes(), "{k} < {b}");
        }
        k
    }

    #[test]
    fn known_values() {
        // values from the reference implementation's test suite
        assert_eq!(between(None, None), "a0");
        assert_eq!(between(None, Some("a0")), "Zz");
        assert_eq!(between(Some("a0"), None), "a1");
        assert_eq!(between(Some("a0"), Some("a1")), "a0V");
        assert_eq!(between(Some("a1"), Some("a2")), "a1V");
        assert_eq!(between(Some("a0V"), Some("a1")), "a0l");
        assert_eq!(between(Some("Zz"), Some("a0")), "ZzV");
        assert_eq!(between(Some("Zz"), Some("a1")), "a0");
        assert_eq!(between(None, Some("Y00")), "Xzzz");
        assert_eq!(between(Some("bzz"), None), "c000");
        assert_eq!(between(Some("a0"), Some("a0V")), "a0G");
        assert_eq!(between(Some("a0"), Some("a0G")), "a08");
        assert_eq!(between(Some("b125"), Some("b129")), "b127");
        assert_eq!(between(Some("a0"), Some("a1V")), "a1");
        assert_eq!(between(Some("Zz"), Some("a01")), "a0");
        assert_eq!(between(None, Some("a0V")), "a0");
        assert_eq!(between(None, Some("b999")), "b99");
        assert_eq!(between(Some("zzzzzzzzzzzzzzzzzzzzzzzzzzy"), None), "zzzzzzzzzzzzzzzzzzzzzzzzzzz");
        assert_eq!(between(Some("zzzzzzzzzzzzzzzzzzzzzzzzzzz"), None), "zzzzzzzzzzzzzzzzzzzzzzzzzzzV");
        let smallest_v = format!("{SMALLEST_INTEGER}V");
        assert_eq!(between(None, Some(&smallest_v)), format!("{SMALLEST_INTEGER}G"));
    }

    #[test]
    fn rejects_invalid_keys() {
        for bad in ["", "a", "a00", "a0 ", "A00000000000000000000000000", "é", "!x", "b1"] {
            assert!(key_between(Some(bad), None).is_err(), "{bad:?}");
        }
        assert!(key_between(Some("a1"), Some("a0")).is_err());
        assert!(key_between(Some("a1"), Some("a1")).is_err());
    }

    #[test]
    fn appends_and_prepends_stay_short() {
        let mut last: Option<String> = None;
        let mut longest = 0;
        for _ in 0..100_000 {
            let k = key_between(last.as_deref(), None).unwrap();
            longest = longest.max(k.len());
            last = Some(k);
        }
        assert!(longest <= 5, "100k appends: longest key {longest}");
        let mut first: Option<String> = Some("a0".into());
        for _ in 0..10_000 {
            let k = key_between(None, first.as_deref()).unwrap();
            longest = longest.max(k.len());
            first = Some(k);
        }
        assert!(longest < 32, "10k prepends: longest key {longest}");
    }

    #[test]
    fn repeated_inserts_at_one_place_grow_slowly() {
        // always right after the same anchor (the new key is pushed between anchor and previous new key)
        let lo = "a0".to_string();
        let mut hi = "a1".to_string();
        for _ in 0..600 {
            hi = between(Some(&lo), Some(&hi));
        }
        assert!(hi.len() <= 2 + 600 / 5, "len {}", hi.len());
        // always after the newest (typing paragraphs in the middle)
        let mut lo = "a0".to_string();
        let hi = "a1".to_string();
        for _ in 0..600 {
            lo = between(Some(&lo), Some(&hi));
        }
        assert!(lo.len() <= 2 + 600 / 5, "len {}", lo.len());
    }

    proptest! {
        #[test]
        fn random_inserts_keep_order(ops in proptest::collection::vec(any::<prop::sample::Index>(), 1..300)) {
            let mut keys: Vec<String> = Vec::new();
            for ix in ops {
                let at = ix.index(keys.len() + 1); // insert before keys[at]
                let a = if at == 0 { None } else { Some(keys[at - 1].as_str()) };
                let b = keys.get(at).map(String::as_str);
                let k = key_between(a, b).unwrap();
                prop_assert!(validate(&k).is_ok());
                keys.insert(at, k);
            }
            for w in keys.windows(2) {
                prop_assert!(w[0].as_bytes() < w[1].as_bytes());
            }
        }
    }
}
