//! Recordings of a real Argo CD: what the controller and argocd-server said about an app after a
//! drift scenario was played for real (`fixtures/argocd-real/<scenario>.json`, written by
//! `make record-fixtures`).
//!
//! Each file holds the Application as the controller wrote it, every live object of the app
//! (real `managedFields`, real last-applied annotation), the items of argocd-server's
//! `GET /api/v1/applications/{name}/managed-resources`, and `expected`: what the scenario
//! *intended* for each resource, written by the scenario code before looking at Argo CD. The
//! checks here compare the two ([`Recording::disagreements`]); the concordance suite runs them on
//! a live control plane and the plain test suite on the committed files.

use crate::argocd::ResourceKey;
use anyhow::Context;
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// One scenario as a real Argo CD saw it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Recording {
    pub scenario: String,
    pub description: String,
    pub versions: Versions,
    /// The Application as the controller wrote it.
    pub application: Value,
    /// Every live object of the app (`status.resources`, plus any extra object), full; objects
    /// that are gone are absent. Sorted by `<group>/<kind>/<namespace>/<name>`.
    pub live: Vec<Value>,
    /// The items of `GET /api/v1/applications/{name}/managed-resources`, as returned (sorted).
    #[serde(rename = "managedResources")]
    pub managed_resources: Vec<Value>,
    /// Objects the scenario installed that are not part of the app (a CRD), needed to seed a
    /// cluster with the recording.
    #[serde(default)]
    pub prerequisites: Vec<Value>,
    /// argocd-cm's diff settings when the scenario was recorded (the keys [`is_diff_setting`]
    /// selects): what the controller compared with, fed to the engine and the oracle in the tests.
    #[serde(rename = "argocdCm", default)]
    pub argocd_cm: BTreeMap<String, String>,
    /// `<group>/<kind>/<namespace>/<name>` → what the scenario intended.
    pub expected: BTreeMap<String, Expected>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Versions {
    pub argocd: String,
    pub kubernetes: String,
}

/// Why a resource is, or is not, out of sync.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "camelCase")]
pub enum Cause {
    /// Someone changed the live object in a field Git sets.
    LiveChanged,
    /// Git moved on; the live object is as the last sync left it.
    GitAhead,
    /// In Git, not live (deleted).
    Missing,
    /// Live and tracked, no longer in Git (requires pruning).
    Extra,
    /// Nothing Argo CD counts.
    None,
}

/// What a scenario intended for one resource.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Expected {
    /// `Synced` or `OutOfSync`, per resource, as Argo CD should say.
    #[serde(rename = "argoStatus")]
    pub argo_status: String,
    pub cause: Cause,
    /// JSON pointers the scenario changed (live, or in Git) that Argo CD's diff must show.
    #[serde(rename = "changedPaths")]
    pub changed_paths: Vec<String>,
    /// Changed live, but Argo CD is told to ignore them (`ignoreDifferences`, `/status`).
    #[serde(
        rename = "ignoredPaths",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub ignored_paths: Vec<String>,
    /// Added live by another manager where Git sets nothing: not drift to Argo CD.
    #[serde(rename = "addedPaths", default, skip_serializing_if = "Vec::is_empty")]
    pub added_paths: Vec<String>,
    /// Changed live, then put back by Argo CD's self-heal.
    #[serde(rename = "healedPaths", default, skip_serializing_if = "Vec::is_empty")]
    pub healed_paths: Vec<String>,
}

impl Expected {
    pub fn synced() -> Expected {
        Expected {
            argo_status: "Synced".into(),
            cause: Cause::None,
            changed_paths: vec![],
            ignored_paths: vec![],
            added_paths: vec![],
            healed_paths: vec![],
        }
    }

    pub fn out_of_sync(cause: Cause, changed: &[&str]) -> Expected {
        Expected {
            argo_status: "OutOfSync".into(),
            cause,
            changed_paths: changed.iter().map(|p| p.to_string()).collect(),
            ..Expected::synced()
        }
    }

    pub fn ignoring(mut self, paths: &[&str]) -> Expected {
        self.ignored_paths = paths.iter().map(|p| p.to_string()).collect();
        self
    }

    pub fn with_added(mut self, paths: &[&str]) -> Expected {
        self.added_paths = paths.iter().map(|p| p.to_string()).collect();
        self
    }

    pub fn healed(mut self, paths: &[&str]) -> Expected {
        self.healed_paths = paths.iter().map(|p| p.to_string()).collect();
        self
    }
}

/// `fixtures/argocd-real` in the repository.
pub fn recordings_dir() -> PathBuf {
    crate::fixture_dir("argocd-real")
}

/// The file listing every Secret value the scenarios use.
pub const SECRET_VALUES_FILE: &str = "fixture-secret-values.json";

/// Every recording in `dir` (all `*.json` but the Secret value list), by file name.
pub fn load_recordings(dir: &Path) -> anyhow::Result<Vec<Recording>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .filter(|p| p.file_name().is_some_and(|n| n != SECRET_VALUES_FILE))
        .collect();
    files.sort();
    files
        .iter()
        .map(|f| {
            let text =
                std::fs::read_to_string(f).with_context(|| format!("reading {}", f.display()))?;
            serde_json::from_str(&text).with_context(|| format!("parsing {}", f.display()))
        })
        .collect()
}

/// The Secret values the scenarios may use (`fixture-secret-values.json`), in plain text.
pub fn load_secret_values(dir: &Path) -> anyhow::Result<BTreeSet<String>> {
    let path = dir.join(SECRET_VALUES_FILE);
    let doc: Value = serde_json::from_str(
        &std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?,
    )?;
    doc["values"]
        .as_array()
        .context("`values` is not a list")?
        .iter()
        .map(|v| {
            v.as_str()
                .map(str::to_string)
                .context("a Secret value is not a string")
        })
        .collect()
}

impl Recording {
    /// The app's `status.resources` entries.
    pub fn status_resources(&self) -> Vec<&Value> {
        self.application["status"]["resources"]
            .as_array()
            .map(|a| a.iter().collect())
            .unwrap_or_default()
    }

    /// The live object with this key.
    pub fn live_object(&self, key: &ResourceKey) -> Option<&Value> {
        self.live.iter().find(|o| &ResourceKey::of_object(o) == key)
    }

    /// The `managed-resources` item with this key.
    pub fn managed_resource(&self, key: &ResourceKey) -> Option<&Value> {
        self.managed_resources
            .iter()
            .find(|i| &ResourceKey::of_entry(i) == key)
    }

    /// Every way in which Argo CD's verdict (status, `managed-resources`) does not match what the
    /// scenario intended; empty when they agree. See the module docs of the concordance suite
    /// for what each check stands for.
    pub fn disagreements(&self) -> Vec<String> {
        let mut out = Vec::new();
        let entries = self.status_resources();
        let mut any_out_of_sync = false;
        for entry in &entries {
            let key = ResourceKey::of_entry(entry);
            if !self.expected.contains_key(&key.to_string()) {
                out.push(format!(
                    "{key}: in status.resources, but the scenario expects nothing about it"
                ));
            }
        }
        for (key_text, want) in &self.expected {
            let Some(key) = ResourceKey::parse(key_text) else {
                out.push(format!("{key_text}: not <group>/<kind>/<namespace>/<name>"));
                continue;
            };
            let mut problem = |p: String| out.push(format!("{key}: {p}"));
            any_out_of_sync |= want.argo_status == "OutOfSync";
            let Some(entry) = entries.iter().find(|e| ResourceKey::of_entry(e) == key) else {
                problem("not in the app's status.resources".into());
                continue;
            };
            if entry["status"] != want.argo_status.as_str() {
                problem(format!(
                    "Argo CD says {}, the scenario expects {}",
                    entry["status"], want.argo_status
                ));
            }
            let prunes = entry["requiresPruning"] == true;
            if prunes != (want.cause == Cause::Extra) {
                problem(format!("requiresPruning is {prunes}"));
            }
            let Some(item) = self.managed_resource(&key) else {
                problem("not in managed-resources".into());
                continue;
            };
            let state = |field: &str| -> Value {
                item[field]
                    .as_str()
                    .and_then(|s| serde_json::from_str(s).ok())
                    .unwrap_or(Value::Null)
            };
            let (target, live) = (state("targetState"), state("liveState"));
            let (normalized, predicted) =
                (state("normalizedLiveState"), state("predictedLiveState"));
            let live_object = self.live_object(&key);
            match (want.cause, live.is_null(), live_object.is_some()) {
                (Cause::Missing, true, false) => {}
                (Cause::Missing, _, _) => problem("expected missing, but it is live".into()),
                (_, false, true) => {}
                (_, live_null, recorded) => problem(format!(
                    "live state null: {live_null}, live object recorded: {recorded}"
                )),
            }
            if (want.cause == Cause::Extra) != target.is_null() {
                problem(format!(
                    "targetState is {}",
                    if target.is_null() { "null" } else { "set" }
                ));
            }
            let differing = diff_paths(&normalized, &predicted);
            let modified = item["modified"] == true;
            match want.cause {
                Cause::LiveChanged | Cause::GitAhead => {
                    if !modified || differing.is_empty() {
                        problem(format!(
                            "expected a diff, Argo CD has modified={modified}, differing paths {differing:?}"
                        ));
                    }
                }
                Cause::None => {
                    if modified || !differing.is_empty() {
                        problem(format!(
                            "expected no diff, Argo CD has modified={modified}, differing paths {differing:?}"
                        ));
                    }
                }
                // Nothing to apply: the whole object is the difference (predicted is null).
                Cause::Extra => {}
                Cause::Missing => {
                    if !modified {
                        problem("missing but not modified".into());
                    }
                }
            }
            for path in &want.changed_paths {
                if want.cause != Cause::Missing && !differing.iter().any(|d| related(d, path)) {
                    problem(format!(
                        "{path} changed, not among Argo CD's differing paths {differing:?}"
                    ));
                }
                if let Some(obj) = live_object {
                    // What Argo CD applied: its record, or Git's state when the annotation is
                    // someone else's (a person's apply, another app's sync).
                    let applied = argo_record(obj, &self.scenario);
                    let git_side = applied.as_ref().unwrap_or(&target);
                    let (now, then) = (obj.pointer(path), git_side.pointer(path));
                    match want.cause {
                        // The live value moved away from what was applied.
                        // (Without last-applied, a Secret's target is masked: no comparison.)
                        Cause::LiveChanged
                            if now == then && !(is_secret(obj) && applied.is_none()) =>
                        {
                            problem(format!(
                                "{path}: live equals what was applied ({now:?}), nothing changed"
                            ))
                        }
                        // Live is what was applied; Git says something else.
                        Cause::GitAhead if applied.is_some() && now != then => problem(format!(
                            "{path}: live {now:?} differs from what was applied {then:?}"
                        )),
                        Cause::GitAhead if target.pointer(path) == now => {
                            problem(format!("{path}: Git already says what is live ({now:?})"))
                        }
                        _ => {}
                    }
                }
            }
            for path in want.ignored_paths.iter().chain(&want.added_paths) {
                if let Some(d) = differing.iter().find(|d| related(d, path)) {
                    problem(format!(
                        "{path} must not be drift to Argo CD, but {d} differs"
                    ));
                }
                if live_object.is_some_and(|o| o.pointer(path).is_none()) {
                    problem(format!("{path} is not in the live object"));
                }
            }
            for path in &want.healed_paths {
                let now = live_object.and_then(|o| o.pointer(path));
                if now.is_none() || now != target.pointer(path) {
                    problem(format!(
                        "{path}: live {now:?} is not back at Git's {:?}",
                        target.pointer(path)
                    ));
                }
            }
        }
        let app_status = &self.application["status"]["sync"]["status"];
        let want_app = if any_out_of_sync {
            "OutOfSync"
        } else {
            "Synced"
        };
        if app_status != want_app {
            out.push(format!(
                "application: Argo CD says {app_status}, the scenario expects {want_app}"
            ));
        }
        out
    }

    /// Problems with the recording as data: every `status.resources` entry has a live object
    /// or is expected missing, every live object is a resource of the app, and every Secret
    /// value in it is one of `allowed` (plain text) or an Argo CD mask.
    pub fn malformations(&self, allowed: &BTreeSet<String>) -> Vec<String> {
        let mut out = Vec::new();
        let entries = self.status_resources();
        for entry in &entries {
            let key = ResourceKey::of_entry(entry);
            let missing = self
                .expected
                .get(&key.to_string())
                .is_some_and(|e| e.cause == Cause::Missing);
            match (self.live_object(&key).is_some(), missing) {
                (true, false) | (false, true) => {}
                (true, true) => out.push(format!("{key}: expected missing, but recorded live")),
                (false, false) => {
                    out.push(format!("{key}: no live object and not expected missing"))
                }
            }
        }
        for obj in &self.live {
            let key = ResourceKey::of_object(obj);
            if !entries.iter().any(|e| ResourceKey::of_entry(e) == key) {
                out.push(format!("{key}: live object not among status.resources"));
            }
            if obj["metadata"]["managedFields"]
                .as_array()
                .is_none_or(Vec::is_empty)
            {
                out.push(format!("{key}: no managedFields"));
            }
            if is_secret(obj) {
                out.extend(secret_values_outside(obj, allowed, false, &key.to_string()));
            }
        }
        for item in &self.managed_resources {
            let key = ResourceKey::of_entry(item);
            if key.kind != "Secret" || !key.group.is_empty() {
                continue;
            }
            for field in [
                "targetState",
                "liveState",
                "normalizedLiveState",
                "predictedLiveState",
            ] {
                if let Some(state) = item[field]
                    .as_str()
                    .and_then(|s| serde_json::from_str::<Value>(s).ok())
                    .filter(|v| !v.is_null())
                {
                    out.extend(secret_values_outside(
                        &state,
                        allowed,
                        true,
                        &format!("{key} managed-resources {field}"),
                    ));
                }
            }
        }
        out
    }
}

fn is_secret(obj: &Value) -> bool {
    obj["kind"] == "Secret" && obj["apiVersion"] == "v1"
}

/// Whether an argocd-cm key changes what the controller compares: `resource.*` (ignore rules,
/// known types, compare options, exclusions), `application.*` (tracking), `installationID`. The
/// rest (accounts, the extension's URL, `url`) is left out of recordings.
pub fn is_diff_setting(key: &str) -> bool {
    key.starts_with("resource.") || key.starts_with("application.") || key == "installationID"
}

/// The last-applied annotation, parsed, if it is Argo CD's record: the annotation's
/// `managedFields` owner is `argocd-controller` (a person's `kubectl apply -f` makes it
/// `kubectl-client-side-apply`) and its tracking id names `app` (another app's sync of a shared
/// object leaves that app's record).
pub fn argo_record(obj: &Value, app: &str) -> Option<Value> {
    let applied = last_applied(obj)?;
    let key = format!("f:{LAST_APPLIED}");
    let owner = obj["metadata"]["managedFields"]
        .as_array()?
        .iter()
        .filter(|e| {
            e["fieldsV1"]["f:metadata"]["f:annotations"]
                .get(&key)
                .is_some()
        })
        .map(|e| e["manager"].as_str().unwrap_or_default())
        .collect::<Vec<_>>();
    let tracking = "argocd.argoproj.io/tracking-id";
    let ours = owner.contains(&"argocd-controller")
        && applied["metadata"]["annotations"][tracking]
            .as_str()
            .is_some_and(|t| t.starts_with(&format!("{app}:")));
    ours.then_some(applied)
}

/// The object's last-applied annotation, parsed.
pub fn last_applied(obj: &Value) -> Option<Value> {
    obj["metadata"]["annotations"][LAST_APPLIED]
        .as_str()
        .and_then(|s| serde_json::from_str(s).ok())
}

/// Secret values (in `data`, `stringData`, and the same inside the last-applied annotation)
/// that are neither in `allowed` nor, when `masks_ok`, a run of `+` (Argo CD's mask).
fn secret_values_outside(
    secret: &Value,
    allowed: &BTreeSet<String>,
    masks_ok: bool,
    what: &str,
) -> Vec<String> {
    let mut out = Vec::new();
    let mut check = |field: &str, value: &Value, base64_encoded: bool, from: &str| {
        let Some(text) = value.as_str() else { return };
        if masks_ok && !text.is_empty() && text.chars().all(|c| c == '+') {
            return;
        }
        let plain = if base64_encoded {
            match base64::engine::general_purpose::STANDARD.decode(text) {
                Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
                Err(_) => {
                    out.push(format!("{what}: {from}{field} is not base64"));
                    return;
                }
            }
        } else {
            text.to_string()
        };
        if !allowed.contains(&plain) {
            out.push(format!(
                "{what}: {from}{field} holds a value not listed in {SECRET_VALUES_FILE}"
            ));
        }
    };
    let mut scan = |obj: &Value, from: &str| {
        for (section, encoded) in [("data", true), ("stringData", false)] {
            if let Some(map) = obj[section].as_object() {
                for (k, v) in map {
                    check(&format!("{section}.{k}"), v, encoded, from);
                }
            }
        }
    };
    scan(secret, "");
    if let Some(applied) = last_applied(secret) {
        scan(&applied, "last-applied ");
    }
    out
}

/// `a` and `b` name the same field, or one is inside the other.
fn related(a: &str, b: &str) -> bool {
    a == b || a.starts_with(&format!("{b}/")) || b.starts_with(&format!("{a}/"))
}

/// JSON pointers of every leaf (or whole subtree present on one side only) where `a` and `b`
/// differ. Arrays are compared by index.
pub fn diff_paths(a: &Value, b: &Value) -> Vec<String> {
    let mut out = Vec::new();
    walk_diff(a, b, &mut String::new(), &mut out);
    out
}

fn walk_diff(a: &Value, b: &Value, path: &mut String, out: &mut Vec<String>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for k in keys {
                let len = path.len();
                path.push('/');
                path.push_str(&k.replace('~', "~0").replace('/', "~1"));
                match (x.get(k), y.get(k)) {
                    (Some(p), Some(q)) => walk_diff(p, q, path, out),
                    _ => out.push(path.clone()),
                }
                path.truncate(len);
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            for i in 0..x.len().max(y.len()) {
                let len = path.len();
                path.push_str(&format!("/{i}"));
                match (x.get(i), y.get(i)) {
                    (Some(p), Some(q)) => walk_diff(p, q, path, out),
                    _ => out.push(path.clone()),
                }
                path.truncate(len);
            }
        }
        _ if a == b => {}
        _ => out.push(if path.is_empty() {
            "/".into()
        } else {
            path.clone()
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn diff_paths_name_every_differing_leaf_and_one_sided_subtree() {
        let a = json!({"spec": {"replicas": 2, "template": {"containers": [{"name": "a", "image": "x:1"}]}}, "metadata": {"labels": {"a/b": "1"}}});
        let b = json!({"spec": {"replicas": 5, "template": {"containers": [{"name": "a", "image": "x:2"}, {"name": "b"}]}}, "metadata": {"labels": {}}});
        assert_eq!(
            diff_paths(&a, &b),
            vec![
                "/metadata/labels/a~1b",
                "/spec/replicas",
                "/spec/template/containers/0/image",
                "/spec/template/containers/1",
            ]
        );
        assert!(diff_paths(&a, &a).is_empty());
        assert_eq!(diff_paths(&json!(null), &a), vec!["/"]);
    }

    #[test]
    fn a_path_is_related_to_its_parents_and_children_only() {
        assert!(related("/spec/replicas", "/spec/replicas"));
        assert!(related(
            "/spec/template/spec",
            "/spec/template/spec/containers/0/image"
        ));
        assert!(related("/data/password", "/data"));
        assert!(!related("/spec/replicasX", "/spec/replicas"));
        assert!(!related("/data/a", "/data/b"));
    }

    #[test]
    fn secret_values_must_be_listed_in_plain_base64_or_masked() {
        let allowed: BTreeSet<String> = ["fixture-a".to_string()].into();
        let ok = json!({"apiVersion": "v1", "kind": "Secret", "data": {"k": "Zml4dHVyZS1h"}, "stringData": {"s": "fixture-a"}});
        assert!(secret_values_outside(&ok, &allowed, false, "s").is_empty());
        let leaked = json!({"apiVersion": "v1", "kind": "Secret", "data": {"k": "aHVudGVyMg=="}});
        assert_eq!(
            secret_values_outside(&leaked, &allowed, false, "s").len(),
            1
        );
        let masked = json!({"data": {"k": "++++++++"}});
        assert!(secret_values_outside(&masked, &allowed, true, "s").is_empty());
        assert_eq!(
            secret_values_outside(&masked, &allowed, false, "s").len(),
            1
        );
        let in_annotation = json!({"metadata": {"annotations": {LAST_APPLIED: "{\"data\":{\"k\":\"aHVudGVyMg==\"}}"}}});
        assert_eq!(
            secret_values_outside(&in_annotation, &allowed, true, "s").len(),
            1
        );
    }
}
