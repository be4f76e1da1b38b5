//! Fixture files: multi-document YAML under the repository's `fixtures/` directory.

use anyhow::Context;
use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

const TRACKING_ID: &str = "argocd.argoproj.io/tracking-id";
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// `fixtures/<name>` in the repository.
pub fn fixture_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("fixtures")
        .join(name)
}

/// The project's own CRDs (`helm/argocd-drift/crds`: `DriftReport`), installed on every test
/// cluster next to Argo CD's.
pub fn project_crd_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("helm")
        .join("argocd-drift")
        .join("crds")
}

/// Every object in every `*.yaml` file of `dir`, files in name order, time placeholders
/// (`{{now-5m}}`) expanded to timestamps.
pub fn load_fixture_dir(dir: &Path) -> anyhow::Result<Vec<Value>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading fixture dir {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")))
        .collect();
    files.sort();
    let now = jiff::Timestamp::now();
    let mut objects = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file)
            .with_context(|| format!("reading {}", file.display()))?;
        let docs = fake_apiserver::load_yaml_documents(&text)
            .with_context(|| format!("parsing {}", file.display()))?;
        for mut doc in docs {
            fake_apiserver::expand_time_placeholders(&mut doc, now);
            objects.push(doc);
        }
    }
    Ok(objects)
}

/// Renames namespaces throughout an object: `metadata.namespace`, the name of a `Namespace`,
/// and any `namespace` field (destinations, `status.resources[]`, …) whose value is mapped.
pub fn remap_namespaces(obj: &mut Value, map: &HashMap<String, String>) {
    if obj["kind"] == "Namespace"
        && let Some(Value::String(name)) = obj.pointer_mut("/metadata/name")
        && let Some(mapped) = map.get(name.as_str())
    {
        name.clone_from(mapped);
    }
    remap_namespace_fields(obj, map);
}

fn remap_namespace_fields(value: &mut Value, map: &HashMap<String, String>) {
    match value {
        Value::Object(fields) => {
            for (key, field) in fields.iter_mut() {
                match (key.as_str(), field) {
                    ("namespace", Value::String(s)) => {
                        if let Some(mapped) = map.get(s.as_str()) {
                            s.clone_from(mapped);
                        }
                    }
                    (TRACKING_ID, Value::String(id)) => *id = remap_tracking_id(id, map),
                    (LAST_APPLIED, Value::String(text)) => {
                        // The manifest as applied, JSON in a string: remap inside it too.
                        if let Ok(mut manifest) = serde_json::from_str::<Value>(text) {
                            remap_namespace_fields(&mut manifest, map);
                            let newline = if text.ends_with('\n') { "\n" } else { "" };
                            *text = format!("{manifest}{newline}");
                        }
                    }
                    (_, other) => remap_namespace_fields(other, map),
                }
            }
        }
        Value::Array(items) => items
            .iter_mut()
            .for_each(|v| remap_namespace_fields(v, map)),
        _ => {}
    }
}

/// `<app>:<group>/<kind>:<namespace>/<name>` with the namespace remapped.
fn remap_tracking_id(id: &str, map: &HashMap<String, String>) -> String {
    let mut parts: Vec<&str> = id.splitn(3, ':').collect();
    let remapped;
    if let Some((ns, name)) = parts.get(2).and_then(|last| last.split_once('/'))
        && let Some(mapped) = map.get(ns)
    {
        remapped = format!("{mapped}/{name}");
        parts[2] = &remapped;
    }
    parts.join(":")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn renames_every_namespace_reference_but_nothing_else() {
        let map = HashMap::from([
            ("argocd".to_string(), "argocd-x1".to_string()),
            ("web".to_string(), "web-x1".to_string()),
        ]);
        let mut app = json!({
            "kind": "Application",
            "metadata": {"name": "web", "namespace": "argocd"},
            "spec": {"destination": {"namespace": "web", "server": "https://kubernetes.default.svc"}},
            "status": {"resources": [{"kind": "Service", "namespace": "web", "name": "web"}, {"kind": "ClusterRole", "name": "web"}]}
        });
        remap_namespaces(&mut app, &map);
        assert_eq!(
            app["metadata"],
            json!({"name": "web", "namespace": "argocd-x1"})
        );
        assert_eq!(app["spec"]["destination"]["namespace"], "web-x1");
        assert_eq!(app["status"]["resources"][0]["namespace"], "web-x1");
        assert_eq!(app["status"]["resources"][0]["name"], "web");
        assert!(app["status"]["resources"][1].get("namespace").is_none());

        let mut live = json!({"kind": "Service", "metadata": {"namespace": "web", "annotations": {
            "argocd.argoproj.io/tracking-id": "web:/Service:web/web",
            "kubectl.kubernetes.io/last-applied-configuration": "{\"metadata\":{\"namespace\":\"web\"}}\n"
        }}});
        remap_namespaces(&mut live, &map);
        let annotations = &live["metadata"]["annotations"];
        assert_eq!(
            annotations["argocd.argoproj.io/tracking-id"],
            "web:/Service:web-x1/web"
        );
        assert_eq!(
            annotations["kubectl.kubernetes.io/last-applied-configuration"],
            "{\"metadata\":{\"namespace\":\"web-x1\"}}\n"
        );

        let mut ns = json!({"kind": "Namespace", "metadata": {"name": "web"}});
        remap_namespaces(&mut ns, &map);
        assert_eq!(ns["metadata"]["name"], "web-x1");
    }

    #[test]
    fn the_demo_fixtures_load_with_times_expanded() {
        let objects = load_fixture_dir(&fixture_dir("demo")).unwrap();
        assert!(objects.iter().any(|o| o["kind"] == "Application"));
        let text = serde_json::to_string(&objects).unwrap();
        assert!(!text.contains("{{now"), "placeholders left unexpanded");
    }
}
