//! `metadata.managedFields`: which field manager owns which live field, and since when
//! (ARGOCD-DIFF.md §5, §7.3 item 5).
//!
//! Each entry names a manager (`kubectl-edit`, `argocd-controller`, …), its operation (`Apply` for
//! server-side apply, `Update` for everything else), an optional subresource (`status`), one
//! `time` — the manager's last write, not per field — and a FieldsV1 set: a trie whose keys are
//! `f:<field>` (an object field), `k:<json>` (a list item by its key fields), `v:<json>` (a set
//! member), `i:<index>` (a list item by position) and `.` (the node itself, beside its children).
//! A leaf (`{}`) owns the field; it owns what is below only for an atomic value (a list without
//! keyed items, a map or struct written whole). So an entry left with `f:annotations: {}` after
//! its keys went to other managers does not own them: the entries that name a path exactly are
//! its owners, and an ancestor's leaf only when no entry names it.
//!
//! The trie is resolved against the live object into concrete paths, so a `k:{"name":"api"}`
//! becomes the index of the container named `api`. An entry that does not parse is skipped and
//! reported; it never hides the others.

use super::path::{Path, Seg};
use serde_json::{Map, Value};

/// The managers that are Argo CD itself: the controller's applies and syncs (`argocd-controller`,
/// CSA and SSA) and the `kubectl auth reconcile` path for RBAC kinds, which the API server names
/// after the controller's user agent.
pub const ARGOCD_MANAGERS: &[&str] = &["argocd-controller", "argocd-application-controller"];

/// How a manager is treated when attributing fields.
///
/// Additions outside Git are live-only fields owned by `Interactive` or `Other` managers: the
/// recorded Argo CD scenarios count a policy engine's label (`kyverno`), a sidecar injector's env
/// var and an operator's server-side-applied annotation among them, beside `kubectl edit`. Only
/// Argo CD itself and Kubernetes' own control plane are left out.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ManagerClass {
    /// Argo CD's controller.
    ArgoCd,
    /// Kubernetes' own control plane (`kube-controller-manager`, `kube-scheduler`, `kubelet`, …).
    Kubernetes,
    /// A person's tool: `kubectl-*`, Argo CD's UI (`argocd-server`), `helm`, `k9s`, …
    Interactive,
    /// Anything else: operators, policy engines, injectors.
    Other,
}

/// Managers that a person drives. A prefix match (`kubectl` covers `kubectl-edit`,
/// `kubectl-patch`, `kubectl-set`, `kubectl-client-side-apply`, …).
const INTERACTIVE_PREFIXES: &[&str] = &[
    "kubectl",
    "argocd-server",
    "helm",
    "k9s",
    "lens",
    "openlens",
    "kustomize",
    "oc",
    "mozilla",
    "curl",
];

/// Kubernetes control-plane managers.
const KUBERNETES_MANAGERS: &[&str] = &[
    "kube-controller-manager",
    "kube-scheduler",
    "kubelet",
    "kube-apiserver",
    "kube-proxy",
    "cloud-controller-manager",
];

pub fn classify(manager: &str) -> ManagerClass {
    if ARGOCD_MANAGERS.contains(&manager) {
        return ManagerClass::ArgoCd;
    }
    if KUBERNETES_MANAGERS.contains(&manager) || manager.starts_with("system:") {
        return ManagerClass::Kubernetes;
    }
    let lower = manager.to_ascii_lowercase();
    let interactive = INTERACTIVE_PREFIXES.iter().any(|p| {
        lower == *p
            || lower
                .strip_prefix(p)
                .is_some_and(|rest| rest.starts_with(['-', '/', '_', '.']))
    });
    if interactive {
        ManagerClass::Interactive
    } else {
        ManagerClass::Other
    }
}

/// One `managedFields` entry, parsed.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub manager: String,
    pub operation: String,
    pub subresource: Option<String>,
    pub time: Option<String>,
    pub api_version: Option<String>,
    pub class: ManagerClass,
    /// Fields the entry owns (leaves and owned nodes, resolved against the live object).
    pub fields: usize,
    /// Paths that the entry owns as a whole (leaves of the trie). Kept only for managers whose
    /// fields can be additions (not Argo CD, not Kubernetes' control plane).
    pub leaves: Vec<Path>,
    /// Paths whose node itself the entry owns (`.`) while others may own children.
    pub nodes: Vec<Path>,
    /// Trie elements that did not match the live object (e.g. a key no item has any more).
    pub unresolved: usize,
}

impl Entry {
    pub fn field_count(&self) -> usize {
        self.fields
    }
    pub fn is_argocd(&self) -> bool {
        self.class == ManagerClass::ArgoCd
    }
}

/// All parsed entries of one live object. Ownership of a path is resolved on demand by walking
/// the entries' tries along it: the engine asks about a few drifted paths, so building an index
/// of every owned field (thousands on a large Deployment) would cost more than it saves.
#[derive(Clone, Debug, Default)]
pub struct Ownership<'a> {
    pub entries: Vec<Entry>,
    /// Why some entries were skipped; no values in these messages.
    pub problems: Vec<String>,
    live: Option<&'a Value>,
    tries: Vec<Option<&'a Map<String, Value>>>,
    /// `k:` list keys parsed once, by the address of their text in the tries (which borrow
    /// the live object, so addresses are stable): queries walk the same nodes again and again.
    keys: std::cell::RefCell<std::collections::HashMap<usize, Option<Map<String, Value>>>>,
}

impl<'a> Ownership<'a> {
    /// Parses `metadata.managedFields` of `live`. Missing or odd input gives no entries and a
    /// problem, never a panic.
    pub fn of(live: &'a Value) -> Ownership<'a> {
        let mut out = Ownership {
            live: Some(live),
            ..Ownership::default()
        };
        let Some(mf) = live.get("metadata").and_then(|m| m.get("managedFields")) else {
            return out;
        };
        let Some(items) = mf.as_array() else {
            out.problems
                .push("metadata.managedFields is not a list; attribution unavailable".into());
            return out;
        };
        for (i, item) in items.iter().enumerate() {
            match parse_entry(item, live) {
                Ok((entry, trie)) => {
                    out.entries.push(entry);
                    out.tries.push(trie);
                }
                Err(why) => out
                    .problems
                    .push(format!("managedFields[{i}] skipped: {why}")),
            }
        }
        out
    }

    /// Entries that own the value at `path`: those whose set names it (a leaf, or a node marked
    /// `.`); when none does, those with a leaf on an ancestor (an atomic value written whole).
    pub fn owners(&self, path: &[Seg]) -> Vec<&Entry> {
        let Some(live) = self.live else {
            return Vec::new();
        };
        let by = |exact: bool| -> Vec<&Entry> {
            self.entries
                .iter()
                .zip(&self.tries)
                .filter(|(_, trie)| trie.is_some_and(|t| self.owns(t, live, path, exact)))
                .map(|(e, _)| e)
                .collect()
        };
        let exact = by(true);
        if exact.is_empty() { by(false) } else { exact }
    }

    /// Does `manager`'s set hold `path` itself (Argo CD's `managedFieldsManagers`: the
    /// intersection of a manager's set with the modified fields; no ancestor stands for it)?
    pub fn member(&self, path: &[Seg], manager: &str) -> bool {
        let Some(live) = self.live else {
            return false;
        };
        self.entries.iter().zip(&self.tries).any(|(e, trie)| {
            e.manager == manager && trie.is_some_and(|t| self.owns(t, live, path, true))
        })
    }

    /// The one entry to name for the value at `path`: among its owners, one that is not Argo CD
    /// beats Argo CD (the other manager is why it differs), then the most recent write.
    pub fn owner(&self, path: &[Seg]) -> Option<&Entry> {
        self.owners(path)
            .into_iter()
            .max_by(|a, b| (!a.is_argocd(), &a.time).cmp(&(!b.is_argocd(), &b.time)))
    }

    /// Is an entry of `manager` among the owners of `path`?
    pub fn owned_by(&self, path: &[Seg], manager: &str) -> bool {
        self.owners(path).iter().any(|e| e.manager == manager)
    }

    /// Does Argo CD hold this object by server-side apply (an `argocd-controller` `Apply` entry)?
    pub fn argocd_applies_server_side(&self) -> bool {
        self.entries
            .iter()
            .any(|e| e.manager == "argocd-controller" && e.operation == "Apply")
    }
}

impl Ownership<'_> {
    /// Does the trie own the value at `path` of `live`: naming it (`exact`), or also through an
    /// ancestor's leaf?
    fn owns(&self, trie: &Map<String, Value>, live: &Value, path: &[Seg], exact: bool) -> bool {
        owns(trie, live, path, exact, &|key, item| {
            self.key_matches(key, item)
        })
    }

    /// Does the `k:` key text name `item` (all its key fields equal)? Parsed once per key.
    fn key_matches(&self, key: &str, item: &Value) -> bool {
        let mut cache = self.keys.borrow_mut();
        let parsed = cache
            .entry(key.as_ptr() as usize)
            .or_insert_with(|| serde_json::from_str(key.strip_prefix("k:")?).ok());
        parsed.as_ref().is_some_and(|fields| {
            fields
                .iter()
                .all(|(k, v)| item.get(k).is_some_and(|x| super::compare::scalar_eq(x, v)))
        })
    }
}

/// Does the trie own the value at `path` of `live`: naming it (`exact`), or also through an
/// ancestor's leaf? `key_matches` says whether a `k:` key names a list item.
fn owns(
    trie: &Map<String, Value>,
    live: &Value,
    path: &[Seg],
    exact: bool,
    key_matches: &dyn Fn(&str, &Value) -> bool,
) -> bool {
    let mut node = trie;
    let mut cur = Some(live);
    for (depth, seg) in path.iter().enumerate() {
        if depth > 0 && node.is_empty() {
            return !exact; // an ancestor's leaf
        }
        let child = match seg {
            Seg::Key(k) => node.get(&format!("f:{k}")),
            Seg::Index(i) => {
                let item = cur.and_then(|c| c.get(i));
                node.iter()
                    .find(|(key, _)| {
                        if key.starts_with("k:") {
                            // The first item a key names is the one it stands for.
                            item.is_some_and(|it| key_matches(key, it))
                                && first_named(cur, *i, |x| key_matches(key, x))
                        } else {
                            !key.starts_with("f:")
                                && key.as_str() != "."
                                && matches!(step(key, cur), Ok((Some(Seg::Index(j)), _)) if j == *i)
                        }
                    })
                    .map(|(_, v)| v)
            }
        };
        let Some(Value::Object(next)) = child else {
            return false;
        };
        node = next;
        cur = cur.and_then(|c| match seg {
            Seg::Key(k) => c.get(k),
            Seg::Index(i) => c.get(i),
        });
    }
    !path.is_empty() && (node.is_empty() || node.contains_key("."))
}

/// Is `i` the first item of the list `list` that `named` accepts?
fn first_named(list: Option<&Value>, i: usize, named: impl Fn(&Value) -> bool) -> bool {
    list.and_then(Value::as_array)
        .and_then(|items| items.iter().position(named))
        == Some(i)
}

/// A FieldsV1 trie as it sits in the live object.
type Trie = Map<String, Value>;

fn parse_entry<'a>(
    item: &'a Value,
    live: &Value,
) -> Result<(Entry, Option<&'a Trie>), &'static str> {
    let obj = item.as_object().ok_or("not an object")?;
    let text = |k: &str| obj.get(k).and_then(Value::as_str).map(str::to_string);
    let manager = text("manager").ok_or("no manager")?;
    let operation = text("operation").unwrap_or_default();
    if let Some(t) = obj.get("fieldsType").and_then(Value::as_str)
        && t != "FieldsV1"
    {
        return Err("fieldsType is not FieldsV1");
    }
    let class = classify(&manager);
    let mut entry = Entry {
        class,
        manager,
        operation,
        subresource: text("subresource").filter(|s| !s.is_empty()),
        time: text("time"),
        api_version: text("apiVersion"),
        fields: 0,
        leaves: Vec::new(),
        nodes: Vec::new(),
        unresolved: 0,
    };
    let trie = match obj.get("fieldsV1") {
        None | Some(Value::Null) => None,
        Some(Value::Object(trie)) => Some(trie),
        Some(_) => return Err("fieldsV1 is not an object"),
    };
    if let Some(trie) = trie {
        entry.fields = validate(trie, 0)?;
        // Only managers whose fields can be additions (or, server-side applied, taken from Argo
        // CD: the control plane's too, as the HPA taking `spec.replicas`) need their paths.
        if class != ManagerClass::ArgoCd {
            collect(trie, Some(live), &mut Vec::new(), &mut entry);
        }
    }
    Ok((entry, trie))
}

const MAX_DEPTH: usize = 128;

/// Checks the trie's shape (every node an object, every key a known prefix) and counts the
/// fields it owns.
fn validate(trie: &Map<String, Value>, depth: usize) -> Result<usize, &'static str> {
    if depth > MAX_DEPTH {
        return Err("fieldsV1 nested too deep");
    }
    let mut count = 0;
    for (k, child) in trie {
        let child = child.as_object().ok_or("fieldsV1 node is not an object")?;
        if k == "." {
            count += 1;
            continue;
        }
        if !["f:", "k:", "v:", "i:"].iter().any(|p| k.starts_with(p)) {
            return Err("unknown fieldsV1 key prefix");
        }
        count += if child.is_empty() {
            1
        } else {
            validate(child, depth + 1)?
        };
    }
    Ok(count)
}

/// Lists the entry's leaves and owned nodes as live paths.
fn collect(trie: &Map<String, Value>, live: Option<&Value>, path: &mut Path, entry: &mut Entry) {
    for (k, child) in trie {
        let Some(child) = child.as_object() else {
            continue;
        };
        if k == "." {
            entry.nodes.push(path.clone());
            continue;
        }
        let Ok((Some(seg), next)) = step(k, live) else {
            entry.unresolved += 1;
            continue;
        };
        path.push(seg);
        if child.is_empty() {
            entry.leaves.push(path.clone());
        } else {
            collect(child, next, path, entry);
        }
        path.pop();
    }
}

/// Resolves one trie key against the live value: the segment and the live child, or `None` for
/// the segment when the live object has no such element.
fn step<'a>(
    key: &str,
    live: Option<&'a Value>,
) -> Result<(Option<Seg>, Option<&'a Value>), &'static str> {
    if let Some(field) = key.strip_prefix("f:") {
        let next = live.and_then(|v| v.get(field));
        return Ok((Some(Seg::Key(field.to_string())), next));
    }
    let items = live.and_then(Value::as_array);
    if let Some(json) = key.strip_prefix("k:") {
        let keys: Map<String, Value> = serde_json::from_str(json).map_err(|_| "bad k: key")?;
        let found = items.and_then(|items| {
            items.iter().position(|it| {
                keys.iter()
                    .all(|(k, v)| it.get(k).is_some_and(|x| super::compare::scalar_eq(x, v)))
            })
        });
        return Ok((found.map(Seg::Index), found.and_then(|i| items?.get(i))));
    }
    if let Some(json) = key.strip_prefix("v:") {
        let want: Value = serde_json::from_str(json).map_err(|_| "bad v: value")?;
        let found = items.and_then(|items| items.iter().position(|it| *it == want));
        return Ok((found.map(Seg::Index), found.and_then(|i| items?.get(i))));
    }
    if let Some(n) = key.strip_prefix("i:") {
        let i: usize = n.parse().map_err(|_| "bad i: index")?;
        let next = items.and_then(|items| items.get(i));
        return Ok((next.map(|_| Seg::Index(i)), next));
    }
    Err("unknown fieldsV1 key prefix")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployment() -> Value {
        json!({
            "metadata": {"managedFields": [
                {"manager": "argocd-controller", "operation": "Update", "time": "2026-01-01T00:00:00Z",
                 "fieldsType": "FieldsV1", "fieldsV1": {
                    "f:spec": {"f:replicas": {}, "f:template": {"f:spec": {"f:containers": {
                        "k:{\"name\":\"api\"}": {".": {}, "f:image": {}, "f:name": {},
                            "f:ports": {"k:{\"containerPort\":8080,\"protocol\":\"TCP\"}": {".": {}, "f:containerPort": {}}}}}}}}}},
                {"manager": "kubectl-set", "operation": "Update", "time": "2026-01-02T00:00:00Z",
                 "fieldsV1": {"f:spec": {"f:template": {"f:spec": {"f:containers": {
                    "k:{\"name\":\"api\"}": {"f:image": {}}}}}}}},
                {"manager": "broken", "fieldsV1": "nope"},
                "not even an object"
            ]},
            "spec": {"replicas": 2, "template": {"spec": {"containers": [
                {"name": "sidecar", "image": "s"},
                {"name": "api", "image": "a", "ports": [{"containerPort": 8080, "protocol": "TCP"}]}
            ]}}}
        })
    }

    fn p(segs: &[&str]) -> Path {
        segs.iter()
            .map(|s| match s.parse::<usize>() {
                Ok(i) => Seg::Index(i),
                Err(_) => Seg::key(*s),
            })
            .collect()
    }

    #[test]
    fn keyed_items_resolve_to_the_live_index_of_the_matching_item() {
        let live = deployment();
        let own = Ownership::of(&live);
        let image = p(&["spec", "template", "spec", "containers", "1", "image"]);
        let owner = own.owner(&image).unwrap();
        assert_eq!(
            owner.manager, "kubectl-set",
            "the non-Argo co-owner is named"
        );
        assert_eq!(owner.time.as_deref(), Some("2026-01-02T00:00:00Z"));
        assert!(own.owned_by(&image, "argocd-controller"));
        let port = p(&[
            "spec",
            "template",
            "spec",
            "containers",
            "1",
            "ports",
            "0",
            "containerPort",
        ]);
        assert_eq!(own.owner(&port).unwrap().manager, "argocd-controller");
        // The sidecar at index 0 is owned by nobody.
        assert!(
            own.owner(&p(&[
                "spec",
                "template",
                "spec",
                "containers",
                "0",
                "image"
            ]))
            .is_none()
        );
    }

    #[test]
    fn malformed_entries_are_skipped_and_reported_without_hiding_the_others() {
        let live = deployment();
        let own = Ownership::of(&live);
        assert_eq!(own.entries.len(), 2);
        assert_eq!(own.problems.len(), 2);
        assert!(own.problems[0].contains("managedFields[2]"));
    }

    #[test]
    fn a_leaf_owns_everything_below_it() {
        let live = json!({"metadata": {"managedFields": [
            {"manager": "argocd-controller", "operation": "Apply", "fieldsV1": {"f:spec": {"f:rules": {}}}}
        ]}, "spec": {"rules": [{"host": "a"}]}});
        let own = Ownership::of(&live);
        assert!(own.argocd_applies_server_side());
        assert!(own.owned_by(&p(&["spec", "rules", "0", "host"]), "argocd-controller"));
        assert!(!own.owned_by(&p(&["spec"]), "argocd-controller"));
    }

    #[test]
    fn managers_are_classified_as_argo_cd_kubernetes_people_or_others() {
        assert_eq!(classify("argocd-controller"), ManagerClass::ArgoCd);
        assert_eq!(
            classify("argocd-application-controller"),
            ManagerClass::ArgoCd
        );
        assert_eq!(classify("kubectl-edit"), ManagerClass::Interactive);
        assert_eq!(classify("kubectl"), ManagerClass::Interactive);
        assert_eq!(classify("argocd-server"), ManagerClass::Interactive);
        assert_eq!(
            classify("kube-controller-manager"),
            ManagerClass::Kubernetes
        );
        assert_eq!(classify("kyverno"), ManagerClass::Other);
        assert_eq!(
            classify("octopus"),
            ManagerClass::Other,
            "prefix needs a separator"
        );
    }
}
