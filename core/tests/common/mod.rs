//! Shared loaders for the engine's fixture tests.
#![allow(dead_code, clippy::unwrap_used)]

use drift_core::app::{Application, ResourceStatus};
use serde_json::Value;

/// An Application from its JSON object, as the backend decodes one.
pub fn application(obj: &Value) -> Application {
    Application::from_object(obj.clone()).unwrap()
}

/// The group of an `apiVersion` (`apps/v1` → `apps`, `v1` → ``).
pub fn group_of(api_version: &str) -> &str {
    api_version.rsplit_once('/').map_or("", |(g, _)| g)
}

/// The live object among `live` that `r` names.
pub fn find_live<'a>(live: &'a [Value], r: &ResourceStatus) -> Option<&'a Value> {
    live.iter().find(|o| {
        group_of(o["apiVersion"].as_str().unwrap_or_default()) == r.group
            && o["kind"] == r.kind.as_str()
            && o["metadata"]["name"] == r.name.as_str()
            && o["metadata"]["namespace"].as_str().unwrap_or_default() == r.namespace
    })
}

/// Replaces `{{now}}`, `{{now-2d}}`, … with fixed RFC 3339 times (the demo fixtures' placeholders),
/// `now` being 2026-11-21T12:00:00Z.
pub fn expand_times(v: &mut Value) {
    match v {
        Value::String(s) if s.starts_with("{{now") && s.ends_with("}}") => {
            let inner = &s[5..s.len() - 2];
            let secs: i64 = if inner.is_empty() {
                0
            } else {
                let sign = if inner.starts_with('-') { -1 } else { 1 };
                let body = &inner[1..];
                let (n, unit) = body.split_at(body.len() - 1);
                let n: i64 = n.parse().unwrap();
                sign * n
                    * match unit {
                        "s" => 1,
                        "m" => 60,
                        "h" => 3600,
                        "d" => 86400,
                        _ => panic!("unit {unit}"),
                    }
            };
            let t = jiff::Timestamp::from_second(1_795_262_400 + secs).unwrap();
            *s = t.to_string();
        }
        Value::Array(items) => items.iter_mut().for_each(expand_times),
        Value::Object(map) => map.values_mut().for_each(expand_times),
        _ => {}
    }
}
