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

/// A copy of `obj` without `resourceVersion` and without managedFields timestamps, for no-op
/// detection.
pub(crate) fn comparable(obj: &Value) -> Value {
    let mut copy = obj.clone();
    if let Some(meta) = copy.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("resourceVersion");
        if let Some(Value::Array(entries)) = meta.get_mut("managedFields") {
            for entry in entries {
                if let Some(entry) = entry.as_object_mut() {
                    entry.remove("time");
                }
            }
        }
    }
    copy
}

#[cfg(test)]
mod tests {
    use super::*;

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
