//! Paths into JSON objects: RFC 6901 JSON pointers (what the API returns and what
//! `ignoreDifferences.jsonPointers` are written in) and the engine's own segment form.
//!
//! A pointer segment is only a string; whether `0` means an array index or an object key depends
//! on the value it is applied to, so user-written pointers stay strings ([`parse_pointer`]) and are
//! resolved against a value ([`remove_pointer`]). Paths the engine builds itself know which
//! segments are indices ([`Seg`]).

use serde_json::Value;
use std::fmt::Write as _;

/// One step of a path the engine built while walking an object.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Seg {
    Key(String),
    Index(usize),
}

impl Seg {
    pub fn key(k: impl Into<String>) -> Seg {
        Seg::Key(k.into())
    }
}

/// A path the engine built.
pub type Path = Vec<Seg>;

/// Escapes one pointer segment (`~` → `~0`, `/` → `~1`).
pub fn escape(seg: &str) -> String {
    seg.replace('~', "~0").replace('/', "~1")
}

/// RFC 6901 text of a path: `""` for the root, `/spec/replicas`, `/metadata/labels/a~1b`.
pub fn to_pointer(path: &[Seg]) -> String {
    let mut out = String::new();
    for seg in path {
        out.push('/');
        match seg {
            Seg::Key(k) => out.push_str(&escape(k)),
            Seg::Index(i) => {
                let _ = write!(out, "{i}");
            }
        }
    }
    out
}

/// Splits an RFC 6901 pointer into unescaped segments; `None` if it is not a pointer (a non-empty
/// pointer must start with `/`, and `~` must be followed by `0` or `1`).
pub fn parse_pointer(pointer: &str) -> Option<Vec<String>> {
    if pointer.is_empty() {
        return Some(Vec::new());
    }
    let rest = pointer.strip_prefix('/')?;
    rest.split('/').map(unescape).collect()
}

fn unescape(seg: &str) -> Option<String> {
    let mut out = String::with_capacity(seg.len());
    let mut chars = seg.chars();
    while let Some(c) = chars.next() {
        if c == '~' {
            match chars.next() {
                Some('0') => out.push('~'),
                Some('1') => out.push('/'),
                _ => return None,
            }
        } else {
            out.push(c);
        }
    }
    Some(out)
}

/// Resolves string segments against `value`: array steps become indices. `None` if the path does
/// not exist in `value`.
pub fn resolve(value: &Value, segs: &[String]) -> Option<Path> {
    let mut out = Vec::with_capacity(segs.len());
    let mut cur = value;
    for s in segs {
        match cur {
            Value::Object(map) => {
                cur = map.get(s)?;
                out.push(Seg::Key(s.clone()));
            }
            Value::Array(items) => {
                let i = array_index(s)?;
                cur = items.get(i)?;
                out.push(Seg::Index(i));
            }
            _ => return None,
        }
    }
    Some(out)
}

/// RFC 6901 array index: `0` or digits without a leading zero.
fn array_index(s: &str) -> Option<usize> {
    if s.is_empty() || (s.len() > 1 && s.starts_with('0')) || !s.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    s.parse().ok()
}

pub fn get<'a>(value: &'a Value, path: &[Seg]) -> Option<&'a Value> {
    let mut cur = value;
    for seg in path {
        cur = match (seg, cur) {
            (Seg::Key(k), Value::Object(map)) => map.get(k)?,
            (Seg::Index(i), Value::Array(items)) => items.get(*i)?,
            _ => return None,
        };
    }
    Some(cur)
}

pub fn get_mut<'a>(value: &'a mut Value, path: &[Seg]) -> Option<&'a mut Value> {
    let mut cur = value;
    for seg in path {
        cur = match (seg, cur) {
            (Seg::Key(k), Value::Object(map)) => map.get_mut(k)?,
            (Seg::Index(i), Value::Array(items)) => items.get_mut(*i)?,
            _ => return None,
        };
    }
    Some(cur)
}

/// Removes the value at `path`; false if there was none. Removing an array item shifts the
/// following items, as RFC 6902 `remove` does.
pub fn remove(value: &mut Value, path: &[Seg]) -> bool {
    let Some((last, parent)) = path.split_last() else {
        return false;
    };
    match (last, get_mut(value, parent)) {
        (Seg::Key(k), Some(Value::Object(map))) => map.remove(k).is_some(),
        (Seg::Index(i), Some(Value::Array(items))) if *i < items.len() => {
            items.remove(*i);
            true
        }
        _ => false,
    }
}

/// Sets the value at `path`, creating objects along the way where keys are missing. An index one
/// past the end appends. False when the path crosses a scalar or an index beyond that.
pub fn set(value: &mut Value, path: &[Seg], new: Value) -> bool {
    let Some((last, parent)) = path.split_last() else {
        *value = new;
        return true;
    };
    let mut cur = value;
    for seg in parent {
        cur = match (seg, cur) {
            (Seg::Key(k), Value::Object(map)) => map
                .entry(k.clone())
                .or_insert_with(|| Value::Object(Default::default())),
            (Seg::Index(i), Value::Array(items)) => match items.get_mut(*i) {
                Some(v) => v,
                None => return false,
            },
            _ => return false,
        };
    }
    match (last, cur) {
        (Seg::Key(k), Value::Object(map)) => {
            map.insert(k.clone(), new);
            true
        }
        (Seg::Index(i), Value::Array(items)) if *i < items.len() => {
            items[*i] = new;
            true
        }
        (Seg::Index(i), Value::Array(items)) if *i == items.len() => {
            items.push(new);
            true
        }
        _ => false,
    }
}

/// Is `prefix` a (non-strict) prefix of `path`?
pub fn starts_with(path: &[Seg], prefix: &[Seg]) -> bool {
    path.len() >= prefix.len() && path[..prefix.len()] == *prefix
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pointers_escape_slash_and_tilde_both_ways() {
        let path = vec![
            Seg::key("metadata"),
            Seg::key("annotations"),
            Seg::key("example.com/a~b"),
        ];
        let ptr = to_pointer(&path);
        assert_eq!(ptr, "/metadata/annotations/example.com~1a~0b");
        assert_eq!(
            parse_pointer(&ptr).unwrap(),
            ["metadata", "annotations", "example.com/a~b"]
        );
        assert_eq!(parse_pointer("no-slash"), None);
        assert_eq!(parse_pointer("/bad~2escape"), None);
        assert_eq!(parse_pointer(""), Some(vec![]));
    }

    #[test]
    fn resolving_a_pointer_turns_array_steps_into_indices_and_misses_cleanly() {
        let v = json!({"a": [{"b": 1}, {"b": 2}]});
        let segs = parse_pointer("/a/1/b").unwrap();
        assert_eq!(
            resolve(&v, &segs),
            Some(vec![Seg::key("a"), Seg::Index(1), Seg::key("b")])
        );
        assert_eq!(resolve(&v, &parse_pointer("/a/01/b").unwrap()), None);
        assert_eq!(resolve(&v, &parse_pointer("/a/5").unwrap()), None);
        assert_eq!(resolve(&v, &parse_pointer("/a/0/b/c").unwrap()), None);
    }

    #[test]
    fn set_creates_missing_objects_and_appends_one_past_the_end() {
        let mut v = json!({"a": [1]});
        assert!(set(&mut v, &[Seg::key("b"), Seg::key("c")], json!(2)));
        assert!(set(&mut v, &[Seg::key("a"), Seg::Index(1)], json!(3)));
        assert!(!set(&mut v, &[Seg::key("a"), Seg::Index(5)], json!(3)));
        assert_eq!(v, json!({"a": [1, 3], "b": {"c": 2}}));
        assert!(remove(&mut v, &[Seg::key("a"), Seg::Index(0)]));
        assert!(!remove(&mut v, &[Seg::key("zzz")]));
        assert_eq!(v, json!({"a": [3], "b": {"c": 2}}));
    }
}
