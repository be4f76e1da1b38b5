//! Seeding the store from YAML fixtures.
//!
//! Fixture files hold one or more YAML documents (`---`-separated; empty documents are
//! skipped, `kind: List` documents are flattened). Seeding order does not depend on file
//! order: CustomResourceDefinitions first (so their kinds are registered), then Namespaces,
//! then everything else, each group in file order. A namespaced object without a namespace
//! goes to `default`; namespaces referenced but not defined are created.
//!
//! Seeded objects are stored as written: `status`, `metadata.managedFields`, `uid`,
//! `creationTimestamp` and `generation` are kept when present; `resourceVersion` is always
//! assigned by the store.
//!
//! String values of exactly the form `{{now}}`, `{{now-90s}}`, `{{now+5m}}` (units `s`, `m`,
//! `h`, `d`) become RFC 3339 UTC timestamps with second precision at seed time. In YAML they
//! must be quoted (`time: "{{now-5m}}"`), since an unquoted `{` starts a flow mapping.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::Error;
use crate::meta::{format_timestamp, name_of, namespace_of, str_field};
use crate::store::Store;

/// Parses a multi-document YAML text into objects, skipping empty documents and flattening
/// `kind: List` (and other `*List` kinds with `items`).
pub fn load_yaml_documents(text: &str) -> Result<Vec<Value>, Error> {
    load_yaml(text, "<yaml>")
}

fn load_yaml(text: &str, origin: &str) -> Result<Vec<Value>, Error> {
    let docs: Vec<Value> = serde_saphyr::from_multiple(text).map_err(|err| Error::Yaml {
        origin: origin.to_string(),
        message: err.to_string(),
    })?;
    let mut out = Vec::new();
    for doc in docs {
        flatten(doc, &mut out);
    }
    Ok(out)
}

fn flatten(doc: Value, out: &mut Vec<Value>) {
    match doc {
        Value::Null => {}
        Value::Object(ref map)
            if map
                .get("kind")
                .and_then(Value::as_str)
                .is_some_and(|k| k.ends_with("List"))
                && map.get("items").is_some_and(Value::is_array) =>
        {
            if let Some(Value::Array(items)) = map.get("items") {
                for item in items {
                    flatten(item.clone(), out);
                }
            }
        }
        other => out.push(other),
    }
}

/// Parses `{{now}}`, `{{now-90s}}`, `{{now+5m}}` into a signed offset in seconds.
fn placeholder_offset(s: &str) -> Option<i64> {
    let inner = s
        .strip_prefix("{{")?
        .strip_suffix("}}")?
        .strip_prefix("now")?;
    if inner.is_empty() {
        return Some(0);
    }
    let (sign, rest) = match inner.split_at_checked(1)? {
        ("+", rest) => (1, rest),
        ("-", rest) => (-1, rest),
        _ => return None,
    };
    let (digits, unit) = rest.split_at_checked(rest.len().checked_sub(1)?)?;
    let amount: i64 = digits.parse().ok().filter(|_| !digits.starts_with('+'))?;
    let scale = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        _ => return None,
    };
    amount.checked_mul(scale)?.checked_mul(sign)
}

/// Replaces every string value of the form `{{now}}` / `{{now±N<s|m|h|d>}}` (anywhere in
/// `value`) with the RFC 3339 UTC timestamp `now` ± N, at second precision.
pub fn expand_time_placeholders(value: &mut Value, now: jiff::Timestamp) {
    match value {
        Value::String(s) => {
            if let Some(offset) = placeholder_offset(s)
                && let Ok(ts) = now.checked_add(jiff::SignedDuration::from_secs(offset))
            {
                *s = format_timestamp(ts);
            }
        }
        Value::Array(items) => {
            for item in items {
                expand_time_placeholders(item, now);
            }
        }
        Value::Object(map) => {
            for item in map.values_mut() {
                expand_time_placeholders(item, now);
            }
        }
        _ => {}
    }
}

/// Reads every `*.yaml`/`*.yml` file in `dir` (sorted by name, not recursive).
pub(crate) fn read_dir(dir: &Path) -> Result<Vec<(String, Value)>, Error> {
    let io_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| Error::Io { path, source }
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(io_err(dir))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| {
            p.is_file()
                && p.extension()
                    .and_then(|e| e.to_str())
                    .is_some_and(|e| e == "yaml" || e == "yml")
        })
        .collect();
    files.sort();
    let mut out = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).map_err(io_err(&file))?;
        let origin = file.display().to_string();
        for doc in load_yaml(&text, &origin)? {
            out.push((origin.clone(), doc));
        }
    }
    Ok(out)
}

/// Parses a YAML text given to the builder.
pub(crate) fn read_yaml(text: &str) -> Result<Vec<(String, Value)>, Error> {
    Ok(load_yaml(text, "<seed_yaml>")?
        .into_iter()
        .map(|doc| ("<seed_yaml>".to_string(), doc))
        .collect())
}

fn describe(obj: &Value) -> String {
    let kind = str_field(obj, "/kind").unwrap_or("<no kind>");
    match namespace_of(obj) {
        Some(ns) => format!("{kind} {ns}/{}", name_of(obj)),
        None => format!("{kind} {}", name_of(obj)),
    }
}

/// Seeds `docs` into `store` (see the module docs for ordering and namespaces).
pub(crate) fn seed(
    store: &Store,
    docs: Vec<(String, Value)>,
    now: jiff::Timestamp,
) -> Result<(), Error> {
    let rank = |obj: &Value| match str_field(obj, "/kind") {
        Some("CustomResourceDefinition") => 0,
        Some("Namespace") => 1,
        _ => 2,
    };
    let mut docs = docs;
    docs.sort_by_key(|(_, obj)| rank(obj));
    for (origin, mut obj) in docs {
        if !obj.is_object() {
            return Err(Error::Seed {
                origin,
                object: "a document".to_string(),
                source: crate::ApiError::bad_request("a seed document must be an object"),
            });
        }
        expand_time_placeholders(&mut obj, now);
        let seed_err = |origin: &str, obj: &Value| {
            let origin = origin.to_string();
            let object = describe(obj);
            move |source| Error::Seed {
                origin,
                object,
                source,
            }
        };
        if store.is_namespaced(&obj) == Some(true) {
            let ns = namespace_of(&obj).unwrap_or("default").to_string();
            if !store.namespace_exists(&ns) {
                store
                    .seed(
                        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
                    )
                    .map_err(seed_err(&origin, &obj))?;
            }
        }
        store.seed(obj.clone()).map_err(seed_err(&origin, &obj))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_are_split_empty_ones_skipped_and_lists_flattened() {
        let text = "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n---\n\
                    apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: ConfigMap, metadata: {name: b}}\n\
                    - {apiVersion: v1, kind: ConfigMap, metadata: {name: c}}\n";
        let docs = load_yaml_documents(text).unwrap();
        let names: Vec<&str> = docs.iter().map(name_of).collect();
        assert_eq!(names, ["a", "b", "c"]);
    }

    #[test]
    fn time_placeholders_expand_anywhere_with_offsets() {
        let now: jiff::Timestamp = "2026-11-21T10:00:00.5Z".parse().unwrap();
        let mut v = json!({"a": "{{now}}", "b": ["{{now-90s}}", {"c": "{{now+5m}}"}],
                           "d": "{{now-2h}}", "e": "{{now+1d}}", "f": "not {{now}}",
                           "g": "{{now*3s}}", "h": "{{now-s}}"});
        expand_time_placeholders(&mut v, now);
        assert_eq!(
            v,
            json!({"a": "2026-11-21T10:00:00Z", "b": ["2026-11-21T09:58:30Z", {"c": "2026-11-21T10:05:00Z"}],
                   "d": "2026-11-21T08:00:00Z", "e": "2026-11-22T10:00:00Z", "f": "not {{now}}",
                   "g": "{{now*3s}}", "h": "{{now-s}}"})
        );
    }

    #[test]
    fn yaml_errors_name_their_origin() {
        let err = load_yaml_documents("a: [unclosed").unwrap_err();
        assert!(err.to_string().contains("<yaml>"), "{err}");
    }
}
