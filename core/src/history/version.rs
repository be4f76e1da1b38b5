//! Ordering Application versions.
//!
//! The rules need to know which of two observations came first, across replicas. Each replica's
//! watch delivers an app's versions in order, but two replicas interleave their writes
//! arbitrarily, so the order must come from the versions themselves. Kubernetes calls
//! `resourceVersion` opaque; every kube-apiserver storage in use writes etcd's revision, a
//! decimal integer that only grows, and the watch cache itself orders by it. So versions that
//! are integers are compared as integers; anything else sorts after every integer, by text — a
//! total order, so the rules stay well-defined (if not meaningful) on a storage that wrote
//! something else.

use std::cmp::Ordering;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Version<'a> {
    Number(u128),
    Other(&'a str),
}

impl<'a> Version<'a> {
    pub fn of(s: &'a str) -> Version<'a> {
        match s.parse::<u128>() {
            Ok(n) if s.bytes().all(|b| b.is_ascii_digit()) => Version::Number(n),
            _ => Version::Other(s),
        }
    }
}

/// `a` against `b` in the order the API server wrote them.
pub fn version_cmp(a: &str, b: &str) -> Ordering {
    Version::of(a).cmp(&Version::of(b))
}

/// A version after `s` and before any later one the server can write: for an app found gone by
/// a relist, whose deletion event (and its version) was never seen.
pub fn just_after(s: &str) -> String {
    match Version::of(s) {
        Version::Number(n) => n.saturating_add(1).to_string(),
        Version::Other(_) => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_compare_as_numbers_not_text() {
        assert_eq!(version_cmp("999", "1000"), Ordering::Less);
        assert_eq!(version_cmp("1000", "1000"), Ordering::Equal);
        assert_eq!(version_cmp("12", "9"), Ordering::Greater);
    }

    #[test]
    fn other_strings_sort_after_numbers_and_among_themselves_by_text() {
        assert_eq!(version_cmp("5", "abc"), Ordering::Less);
        assert_eq!(version_cmp("abc", "abd"), Ordering::Less);
        assert_eq!(
            version_cmp("+1", "1"),
            Ordering::Greater,
            "not a plain integer"
        );
    }

    #[test]
    fn just_after_is_the_next_integer() {
        assert_eq!(just_after("41"), "42");
        assert_eq!(version_cmp(&just_after("41"), "41"), Ordering::Greater);
        assert_eq!(just_after("x"), "x");
    }
}
