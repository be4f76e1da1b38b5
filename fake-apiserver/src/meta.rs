//! Small helpers for object metadata: timestamps, uids, generated names, field access.

use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Map, Value};

/// Now, as an RFC 3339 UTC timestamp with second precision (`2026-11-21T10:00:00Z`).
pub(crate) fn now_rfc3339() -> String {
    format_timestamp(jiff::Timestamp::now())
}

/// Formats a timestamp like the API server: UTC, second precision.
pub(crate) fn format_timestamp(ts: jiff::Timestamp) -> String {
    ts.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// 64 random-looking bits (std's randomly keyed SipHash over a process-wide counter).
fn random_u64() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    hasher.finish()
}

/// A random version-4 UUID string.
pub(crate) fn new_uid() -> String {
    let hi = random_u64();
    let lo = random_u64();
    let time_hi = ((hi & 0x0fff) | 0x4000) as u16;
    let clock = (((lo >> 48) & 0x3fff) | 0x8000) as u16;
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        (hi >> 32) as u32,
        ((hi >> 16) & 0xffff) as u16,
        time_hi,
        clock,
        lo & 0xffff_ffff_ffff
    )
}

/// The 5-character suffix the real server appends to `generateName`.
pub(crate) fn name_suffix() -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut bits = random_u64();
    (0..5)
        .map(|_| {
            let c = ALPHABET[(bits % ALPHABET.len() as u64) as usize];
            bits /= ALPHABET.len() as u64;
            char::from(c)
        })
        .collect()
}

pub(crate) fn str_field<'a>(obj: &'a Value, pointer: &str) -> Option<&'a str> {
    obj.pointer(pointer).and_then(Value::as_str)
}

pub(crate) fn name_of(obj: &Value) -> &str {
    str_field(obj, "/metadata/name").unwrap_or_default()
}

pub(crate) fn namespace_of(obj: &Value) -> Option<&str> {
    str_field(obj, "/metadata/namespace").filter(|s| !s.is_empty())
}

/// `metadata` as a mutable map, created when missing or not an object.
pub(crate) fn metadata_mut(obj: &mut Value) -> &mut Map<String, Value> {
    if !obj.is_object() {
        *obj = Value::Object(Map::new());
    }
    let Value::Object(map) = obj else {
        unreachable!("obj was just made an object")
    };
    let meta = map
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    if !meta.is_object() {
        *meta = Value::Object(Map::new());
    }
    match meta {
        Value::Object(meta) => meta,
        _ => unreachable!("metadata was just made an object"),
    }
}

/// `metadata.finalizers` is non-empty.
pub(crate) fn has_finalizers(obj: &Value) -> bool {
    obj.pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .is_some_and(|f| !f.is_empty())
}

/// Everything but `metadata` and `status` (what `generation` tracks).
pub(crate) fn spec_view(obj: &Value) -> Map<String, Value> {
    obj.as_object()
        .map(|m| {
            m.iter()
                .filter(|(k, _)| {
                    !matches!(k.as_str(), "metadata" | "status" | "apiVersion" | "kind")
                })
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default()
}

/// Whether `a` and `b` are the same object but for `metadata.resourceVersion` and the
/// managedFields timestamps (no-op detection). Compared in place: an update of a large object
/// copies nothing to find out it changed nothing.
pub(crate) fn same_but_version(a: &Value, b: &Value) -> bool {
    let (Some(a), Some(b)) = (a.as_object(), b.as_object()) else {
        return a == b;
    };
    a.len() == b.len()
        && a.iter().all(|(key, left)| match b.get(key) {
            None => false,
            Some(right) if key == "metadata" => same_metadata(left, right),
            Some(right) => left == right,
        })
}

fn same_metadata(a: &Value, b: &Value) -> bool {
    let (Some(a), Some(b)) = (a.as_object(), b.as_object()) else {
        return a == b;
    };
    let kept = |map: &Map<String, Value>| map.keys().filter(|k| *k != "resourceVersion").count();
    kept(a) == kept(b)
        && a.iter()
            .filter(|(key, _)| *key != "resourceVersion")
            .all(|(key, left)| match b.get(key) {
                None => false,
                Some(right) if key == "managedFields" => same_entries(left, right),
                Some(right) => left == right,
            })
}

/// managedFields entries, equal but for their `time`.
fn same_entries(a: &Value, b: &Value) -> bool {
    let (Some(a), Some(b)) = (a.as_array(), b.as_array()) else {
        return a == b;
    };
    let without_time = |entry: &Value| -> Value {
        match entry.as_object() {
            Some(map) => Value::Object(
                map.iter()
                    .filter(|(k, _)| *k != "time")
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            ),
            None => entry.clone(),
        }
    };
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| without_time(x) == without_time(y))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_update_that_changes_only_versions_and_field_times_is_a_no_op() {
        let old = serde_json::json!({
            "kind": "DriftHistory",
            "metadata": {"name": "a", "resourceVersion": "7", "managedFields": [
                {"manager": "m", "time": "2026-12-04T00:00:00Z", "fieldsV1": {"f:spec": {}}}
            ]},
            "spec": {"x": [1, 2]},
        });
        let mut same = old.clone();
        same["metadata"]["resourceVersion"] = "8".into();
        same["metadata"]["managedFields"][0]["time"] = "2026-12-05T00:00:00Z".into();
        assert!(same_but_version(&old, &same));
        let mut no_version = old.clone();
        no_version["metadata"]
            .as_object_mut()
            .unwrap()
            .remove("resourceVersion");
        assert!(same_but_version(&old, &no_version));
        let mut changed = same.clone();
        changed["spec"]["x"][1] = 3.into();
        assert!(!same_but_version(&old, &changed));
        let mut labelled = same.clone();
        labelled["metadata"]["labels"] = serde_json::json!({"a": "b"});
        assert!(!same_but_version(&old, &labelled));
        let mut other_manager = same;
        other_manager["metadata"]["managedFields"][0]["manager"] = "n".into();
        assert!(!same_but_version(&old, &other_manager));
    }

    #[test]
    fn uids_look_like_v4_uuids_and_differ() {
        let a = new_uid();
        let b = new_uid();
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4");
        assert!(matches!(&a[19..20], "8" | "9" | "a" | "b"));
    }

    #[test]
    fn timestamps_have_second_precision() {
        let ts: jiff::Timestamp = "2026-11-21T10:00:00.123456Z".parse().unwrap();
        assert_eq!(format_timestamp(ts), "2026-11-21T10:00:00Z");
    }
}
