//! The four PATCH flavours the API server accepts, plus the merge used by server-side apply.
//!
//! - [`merge_patch`]: RFC 7386 JSON merge patch (`application/merge-patch+json`).
//! - [`json_patch`]: RFC 6902 JSON patch (`application/json-patch+json`): `add`, `remove`,
//!   `replace`, `move`, `copy`, `test`.
//! - [`strategic_merge_patch`] (`application/strategic-merge-patch+json`), an approximation: a
//!   merge patch in which the keyed lists known to [`crate::schema`] merge item by item (and
//!   `metadata.finalizers` as a set); directives `$patch: delete|replace|merge` (on maps and list
//!   items) and `$deleteFromPrimitiveList/<field>` are honoured; `$setElementOrder/...` and
//!   `$retainKeys` are ignored. Every other list is replaced.
//! - [`apply_merge`] (server-side apply): the applied configuration is merged into the live
//!   object the same way (keyed lists by key, sets by value, everything else replaced). Removal
//!   of fields a manager stopped applying is done afterwards from `managedFields`.

use serde_json::{Map, Value};

use crate::schema::{ListType, Shape, item_key, item_keys};

/// RFC 7386: objects merge recursively, `null` removes, anything else replaces.
pub(crate) fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    if let Value::Object(target) = target {
        for (key, value) in patch {
            if value.is_null() {
                target.remove(key);
            } else {
                merge_patch(target.entry(key.clone()).or_insert(Value::Null), value);
            }
        }
    }
}

// === JSON patch (RFC 6902) ===

/// Applies an RFC 6902 patch document (an array of operations) to a copy of `target`.
pub(crate) fn json_patch(target: &Value, ops: &Value) -> Result<Value, String> {
    let ops = ops
        .as_array()
        .ok_or("json patch must be an array of operations")?;
    let mut doc = target.clone();
    for (i, op) in ops.iter().enumerate() {
        apply_op(&mut doc, op).map_err(|e| format!("operation {i}: {e}"))?;
    }
    Ok(doc)
}

fn apply_op(doc: &mut Value, op: &Value) -> Result<(), String> {
    let name = op
        .get("op")
        .and_then(Value::as_str)
        .ok_or("missing \"op\"")?;
    let path = op
        .get("path")
        .and_then(Value::as_str)
        .ok_or("missing \"path\"")?;
    let value = || op.get("value").cloned().ok_or("missing \"value\"");
    let from = || {
        op.get("from")
            .and_then(Value::as_str)
            .ok_or("missing \"from\"")
    };
    match name {
        "add" => add(doc, path, value()?),
        "remove" => remove(doc, path).map(drop),
        "replace" => {
            let slot = doc
                .pointer_mut(&checked_pointer(path)?)
                .ok_or_else(|| format!("replace: path {path} does not exist"))?;
            *slot = value()?;
            Ok(())
        }
        "move" => {
            let from = from()?;
            if path.starts_with(&format!("{from}/")) {
                return Err(format!(
                    "move: cannot move {from} into its own child {path}"
                ));
            }
            let moved = remove(doc, from)?;
            add(doc, path, moved)
        }
        "copy" => {
            let from = from()?;
            let copied = doc
                .pointer(&checked_pointer(from)?)
                .cloned()
                .ok_or_else(|| format!("copy: path {from} does not exist"))?;
            add(doc, path, copied)
        }
        "test" => {
            let expected = value()?;
            match doc.pointer(&checked_pointer(path)?) {
                Some(actual) if *actual == expected => Ok(()),
                _ => Err(format!("test failed: {path} is not {expected}")),
            }
        }
        other => Err(format!("unknown op {other:?}")),
    }
}

fn checked_pointer(path: &str) -> Result<String, String> {
    if path.is_empty() || path.starts_with('/') {
        Ok(path.to_string())
    } else {
        Err(format!("invalid JSON pointer {path:?}"))
    }
}

/// Splits `/a/b/c` into (`/a/b`, `c`), unescaping `~1` and `~0` in the last token.
fn split_parent(path: &str) -> Result<(&str, String), String> {
    let idx = path
        .rfind('/')
        .ok_or_else(|| format!("invalid JSON pointer {path:?}"))?;
    let token = path[idx + 1..].replace("~1", "/").replace("~0", "~");
    Ok((&path[..idx], token))
}

fn add(doc: &mut Value, path: &str, value: Value) -> Result<(), String> {
    if path.is_empty() {
        *doc = value;
        return Ok(());
    }
    let (parent, token) = split_parent(path)?;
    let parent = doc
        .pointer_mut(&checked_pointer(parent)?)
        .ok_or_else(|| format!("add: parent of {path} does not exist"))?;
    match parent {
        Value::Object(map) => {
            map.insert(token, value);
            Ok(())
        }
        Value::Array(items) => {
            let idx = if token == "-" {
                items.len()
            } else {
                token
                    .parse::<usize>()
                    .ok()
                    .filter(|i| *i <= items.len())
                    .ok_or_else(|| format!("add: index {token} out of bounds"))?
            };
            items.insert(idx, value);
            Ok(())
        }
        _ => Err(format!("add: parent of {path} is not a container")),
    }
}

fn remove(doc: &mut Value, path: &str) -> Result<Value, String> {
    let (parent, token) = split_parent(path)?;
    let parent = doc
        .pointer_mut(&checked_pointer(parent)?)
        .ok_or_else(|| format!("remove: path {path} does not exist"))?;
    match parent {
        Value::Object(map) => map
            .remove(&token)
            .ok_or_else(|| format!("remove: path {path} does not exist")),
        Value::Array(items) => {
            let idx = token
                .parse::<usize>()
                .ok()
                .filter(|i| *i < items.len())
                .ok_or_else(|| format!("remove: index {token} out of bounds"))?;
            Ok(items.remove(idx))
        }
        _ => Err(format!("remove: path {path} does not exist")),
    }
}

// === strategic merge patch ===

/// Applies a strategic merge patch in place (see the module docs for what is approximated).
pub(crate) fn strategic_merge_patch(target: &mut Value, patch: &Value, shape: Shape<'_>) {
    let mut path = Vec::new();
    smp_value(target, patch, &mut path, shape);
}

fn directive(value: &Value) -> Option<&str> {
    value.get("$patch").and_then(Value::as_str)
}

/// Removes `$`-prefixed directive keys, recursively.
fn strip_directives(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(k, _)| !k.starts_with('$'))
                .map(|(k, v)| (k.clone(), strip_directives(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(strip_directives).collect()),
        other => other.clone(),
    }
}

fn smp_value(target: &mut Value, patch: &Value, path: &mut Vec<String>, shape: Shape<'_>) {
    let Value::Object(patch_map) = patch else {
        *target = patch.clone();
        return;
    };
    let as_strs: Vec<&str> = path.iter().map(String::as_str).collect();
    if directive(patch) == Some("replace") || shape.replaced_by_strategic_merge(&as_strs) {
        *target = strip_directives(patch);
        return;
    }
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let Value::Object(target_map) = target else {
        return;
    };
    for (key, value) in patch_map {
        if let Some(field) = key.strip_prefix("$deleteFromPrimitiveList/") {
            if let (Some(Value::Array(items)), Some(remove)) =
                (target_map.get_mut(field), value.as_array())
            {
                items.retain(|item| !remove.contains(item));
            }
            continue;
        }
        if key.starts_with('$') {
            continue;
        }
        match value {
            Value::Null => {
                target_map.remove(key);
            }
            Value::Object(_) if directive(value) == Some("delete") => {
                target_map.remove(key);
            }
            Value::Array(items) => {
                path.push(key.clone());
                let slot = target_map.entry(key.clone()).or_insert(Value::Null);
                smp_list(slot, items, path, shape);
                path.pop();
            }
            _ => {
                path.push(key.clone());
                let slot = target_map.entry(key.clone()).or_insert(Value::Null);
                smp_value(slot, value, path, shape);
                path.pop();
            }
        }
    }
}

fn smp_list(target: &mut Value, patch: &[Value], path: &mut Vec<String>, shape: Shape<'_>) {
    let existing: Vec<Value> = target.as_array().cloned().unwrap_or_default();
    let all: Vec<Value> = existing.iter().chain(patch).cloned().collect();
    let as_strs: Vec<&str> = path.iter().map(String::as_str).collect();
    match shape.list_type(&as_strs, &all) {
        ListType::Atomic => *target = strip_directives(&Value::Array(patch.to_vec())),
        ListType::Set => {
            let mut merged = existing;
            for item in patch {
                if !merged.contains(item) {
                    merged.push(item.clone());
                }
            }
            *target = Value::Array(merged);
        }
        ListType::Map(keys) => {
            if patch.iter().any(|p| directive(p) == Some("replace")) {
                let items = patch
                    .iter()
                    .filter(|p| directive(p) != Some("replace"))
                    .map(strip_directives)
                    .collect();
                *target = Value::Array(items);
                return;
            }
            let (Some(_), Some(_)) = (item_keys(keys, &existing), item_keys(keys, patch)) else {
                *target = strip_directives(&Value::Array(patch.to_vec()));
                return;
            };
            let mut merged = existing;
            for item in patch {
                let key = item_key(keys, item);
                let pos = merged.iter().position(|m| item_key(keys, m) == key);
                match (directive(item), pos) {
                    (Some("delete"), Some(pos)) => {
                        merged.remove(pos);
                    }
                    (Some("delete"), None) => {}
                    (_, Some(pos)) => smp_value(&mut merged[pos], item, path, shape),
                    (_, None) => merged.push(strip_directives(item)),
                }
            }
            *target = Value::Array(merged);
        }
    }
}

// === server-side apply merge ===

/// Merges an applied configuration into `target` (maps recursively, keyed lists by key, sets
/// by value, everything else replaced; `null` removes).
pub(crate) fn apply_merge(target: &mut Value, config: &Value, shape: Shape<'_>) {
    let mut path = Vec::new();
    apply_value(target, config, &mut path, shape);
}

fn apply_value(target: &mut Value, config: &Value, path: &mut Vec<String>, shape: Shape<'_>) {
    let as_strs: Vec<&str> = path.iter().map(String::as_str).collect();
    match config {
        Value::Object(config_map) if !shape.atomic_map(&as_strs) => {
            if !target.is_object() {
                *target = Value::Object(Map::new());
            }
            let Value::Object(target_map) = target else {
                return;
            };
            for (key, value) in config_map {
                if value.is_null() {
                    target_map.remove(key);
                    continue;
                }
                path.push(key.clone());
                let slot = target_map.entry(key.clone()).or_insert(Value::Null);
                apply_value(slot, value, path, shape);
                path.pop();
            }
        }
        Value::Array(items) => {
            let existing: Vec<Value> = target.as_array().cloned().unwrap_or_default();
            let all: Vec<Value> = existing.iter().chain(items).cloned().collect();
            match shape.list_type(&as_strs, &all) {
                ListType::Atomic => *target = config.clone(),
                ListType::Set => {
                    let mut merged = existing;
                    for item in items {
                        if !merged.contains(item) {
                            merged.push(item.clone());
                        }
                    }
                    *target = Value::Array(merged);
                }
                ListType::Map(keys) => {
                    if item_keys(keys, items).is_none() || item_keys(keys, &existing).is_none() {
                        *target = config.clone();
                        return;
                    }
                    let mut merged = existing;
                    for item in items {
                        let key = item_key(keys, item);
                        match merged.iter().position(|m| item_key(keys, m) == key) {
                            Some(pos) => apply_value(&mut merged[pos], item, path, shape),
                            None => merged.push(item.clone()),
                        }
                    }
                    *target = Value::Array(merged);
                }
            }
        }
        other => *target = other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const DEPLOYMENT: Shape<'static> = Shape {
        builtin: true,
        kind: "Deployment",
    };

    #[test]
    fn merge_patch_follows_rfc_7386() {
        let mut doc = json!({"a": "b", "c": {"d": "e", "f": "g"}, "l": [1, 2]});
        merge_patch(&mut doc, &json!({"a": "z", "c": {"f": null}, "l": [3]}));
        assert_eq!(doc, json!({"a": "z", "c": {"d": "e"}, "l": [3]}));
    }

    #[test]
    fn json_patch_supports_every_operation() {
        let doc = json!({"spec": {"replicas": 1, "list": ["a", "b"]}, "x": "y"});
        let ops = json!([
            {"op": "test", "path": "/spec/replicas", "value": 1},
            {"op": "replace", "path": "/spec/replicas", "value": 3},
            {"op": "add", "path": "/spec/list/-", "value": "c"},
            {"op": "add", "path": "/spec/list/0", "value": "z"},
            {"op": "remove", "path": "/spec/list/1"},
            {"op": "copy", "from": "/x", "path": "/spec/x"},
            {"op": "move", "from": "/x", "path": "/moved"},
            {"op": "add", "path": "/metadata~1name", "value": "escaped"},
        ]);
        let out = json_patch(&doc, &ops).unwrap();
        assert_eq!(
            out,
            json!({"spec": {"replicas": 3, "list": ["z", "b", "c"], "x": "y"}, "moved": "y",
                   "metadata/name": "escaped"})
        );
    }

    #[test]
    fn json_patch_test_failure_is_an_error_and_changes_nothing() {
        let doc = json!({"a": 1});
        let ops = json!([{"op": "replace", "path": "/a", "value": 2},
                         {"op": "test", "path": "/a", "value": 1}]);
        assert!(json_patch(&doc, &ops).is_err());
    }

    #[test]
    fn strategic_merge_merges_containers_by_name_and_env_by_name() {
        let mut doc = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "app", "image": "app:1", "env": [{"name": "A", "value": "1"}]},
            {"name": "sidecar", "image": "side:1"},
        ]}}}});
        let patch = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "app", "image": "app:2", "env": [{"name": "B", "value": "2"}]},
            {"name": "sidecar", "$patch": "delete"},
        ]}}}});
        strategic_merge_patch(&mut doc, &patch, DEPLOYMENT);
        assert_eq!(
            doc,
            json!({"spec": {"template": {"spec": {"containers": [
                {"name": "app", "image": "app:2",
                 "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]},
            ]}}}})
        );
    }

    #[test]
    fn strategic_merge_unions_finalizers_and_honours_delete_from_primitive_list() {
        let mut doc = json!({"metadata": {"finalizers": ["a", "b"]}});
        strategic_merge_patch(
            &mut doc,
            &json!({"metadata": {"finalizers": ["c"], "$deleteFromPrimitiveList/finalizers": ["a"]}}),
            DEPLOYMENT,
        );
        assert_eq!(doc, json!({"metadata": {"finalizers": ["b", "c"]}}));
    }

    #[test]
    fn apply_merge_keeps_unmentioned_fields_and_replaces_atomic_lists() {
        let mut doc = json!({"spec": {"replicas": 1, "selector": {"matchLabels": {"a": "b"}},
                                       "template": {"spec": {"containers": [{"name": "c", "image": "x"}],
                                                             "tolerations": [{"key": "k"}]}}}});
        let config = json!({"spec": {"selector": {"matchLabels": {"c": "d"}},
                                     "template": {"spec": {"containers": [{"name": "c", "args": ["-v"]}],
                                                           "tolerations": [{"key": "j"}]}}}});
        apply_merge(&mut doc, &config, DEPLOYMENT);
        assert_eq!(
            doc,
            json!({"spec": {"replicas": 1, "selector": {"matchLabels": {"c": "d"}},
                            "template": {"spec": {"containers": [{"name": "c", "image": "x", "args": ["-v"]}],
                                                  "tolerations": [{"key": "j"}]}}}})
        );
    }
}
