//! The resource-type registry: which resources the fake serves.
//!
//! A [`ResourceType`] is one served `group/version/plural` with its kind, scope, short names and
//! behaviour flags (does it have a `/status` subresource, does it track `metadata.generation`).
//! Objects are stored per [`ResourceKey`] (`group` + `plural`), *not* per version: an object
//! created through `v1beta1` is the same object when read through `v1` (only `apiVersion` is
//! rewritten, there is no schema conversion).
//!
//! The registry starts with a fixed set of built-in types and grows when a
//! `CustomResourceDefinition` is created (one [`ResourceType`] per served version); deleting the
//! CRD removes them again.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;

/// Where objects of one resource live in the store: group + plural (version-independent).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct ResourceKey {
    pub group: String,
    pub plural: String,
}

/// One served `group/version/plural`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ResourceType {
    pub group: String,
    pub version: String,
    pub plural: String,
    pub singular: String,
    pub kind: String,
    pub list_kind: String,
    pub namespaced: bool,
    pub short_names: Vec<String>,
    pub categories: Vec<String>,
    /// Has a `/status` subresource: the main endpoint ignores `.status`, the status endpoint
    /// only changes `.status`.
    pub status_subresource: bool,
    /// Maintains `metadata.generation` (bumped when anything outside metadata/status changes).
    pub has_generation: bool,
    /// Defined by a CustomResourceDefinition (`Some(crd name)`), else built in.
    pub crd: Option<String>,
}

// === impl ResourceType ===

impl ResourceType {
    pub fn key(&self) -> ResourceKey {
        ResourceKey {
            group: self.group.clone(),
            plural: self.plural.clone(),
        }
    }

    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    pub fn is_builtin(&self) -> bool {
        self.crd.is_none()
    }

    /// Has a `/scale` subresource (`autoscaling/v1` Scale).
    pub fn has_scale(&self) -> bool {
        self.group == "apps"
            && matches!(
                self.plural.as_str(),
                "deployments" | "replicasets" | "statefulsets"
            )
    }

    pub fn is_namespace(&self) -> bool {
        self.group.is_empty() && self.plural == "namespaces"
    }

    /// Core v1 Events: the one served kind the real server never watch-caches.
    pub fn is_events(&self) -> bool {
        self.group.is_empty() && self.plural == "events"
    }

    pub fn is_crd(&self) -> bool {
        self.group == "apiextensions.k8s.io" && self.plural == "customresourcedefinitions"
    }
}

/// A served API group and its versions, most preferred first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GroupInfo {
    pub name: String,
    pub versions: Vec<String>,
}

/// All served resource types.
#[derive(Debug, Clone)]
pub(crate) struct Registry {
    types: BTreeMap<(String, String, String), Arc<ResourceType>>,
}

struct Builtin {
    group: &'static str,
    version: &'static str,
    plural: &'static str,
    kind: &'static str,
    namespaced: bool,
    short_names: &'static [&'static str],
    status: bool,
    generation: bool,
}

#[allow(clippy::too_many_arguments)] // a table row, named by position in BUILTINS
const fn builtin(
    group: &'static str,
    version: &'static str,
    plural: &'static str,
    kind: &'static str,
    namespaced: bool,
    short_names: &'static [&'static str],
    status: bool,
    generation: bool,
) -> Builtin {
    Builtin {
        group,
        version,
        plural,
        kind,
        namespaced,
        short_names,
        status,
        generation,
    }
}

/// The built-in types (group, version, plural, kind, namespaced, short names, /status,
/// generation), as a v1.37 kube-apiserver reports them.
const BUILTINS: &[Builtin] = &[
    builtin(
        "",
        "v1",
        "namespaces",
        "Namespace",
        false,
        &["ns"],
        true,
        false,
    ),
    builtin(
        "",
        "v1",
        "configmaps",
        "ConfigMap",
        true,
        &["cm"],
        false,
        false,
    ),
    builtin("", "v1", "secrets", "Secret", true, &[], false, false),
    builtin("", "v1", "services", "Service", true, &["svc"], true, false),
    builtin(
        "",
        "v1",
        "serviceaccounts",
        "ServiceAccount",
        true,
        &["sa"],
        false,
        false,
    ),
    builtin("", "v1", "pods", "Pod", true, &["po"], true, true),
    builtin("", "v1", "events", "Event", true, &["ev"], false, false),
    builtin(
        "apps",
        "v1",
        "deployments",
        "Deployment",
        true,
        &["deploy"],
        true,
        true,
    ),
    builtin(
        "apps",
        "v1",
        "statefulsets",
        "StatefulSet",
        true,
        &["sts"],
        true,
        true,
    ),
    builtin(
        "apps",
        "v1",
        "daemonsets",
        "DaemonSet",
        true,
        &["ds"],
        true,
        true,
    ),
    builtin(
        "apps",
        "v1",
        "replicasets",
        "ReplicaSet",
        true,
        &["rs"],
        true,
        true,
    ),
    builtin("batch", "v1", "jobs", "Job", true, &[], true, true),
    builtin(
        "batch",
        "v1",
        "cronjobs",
        "CronJob",
        true,
        &["cj"],
        true,
        true,
    ),
    builtin(
        "networking.k8s.io",
        "v1",
        "ingresses",
        "Ingress",
        true,
        &["ing"],
        true,
        true,
    ),
    builtin(
        "rbac.authorization.k8s.io",
        "v1",
        "roles",
        "Role",
        true,
        &[],
        false,
        false,
    ),
    builtin(
        "rbac.authorization.k8s.io",
        "v1",
        "rolebindings",
        "RoleBinding",
        true,
        &[],
        false,
        false,
    ),
    builtin(
        "rbac.authorization.k8s.io",
        "v1",
        "clusterroles",
        "ClusterRole",
        false,
        &[],
        false,
        false,
    ),
    builtin(
        "rbac.authorization.k8s.io",
        "v1",
        "clusterrolebindings",
        "ClusterRoleBinding",
        false,
        &[],
        false,
        false,
    ),
    builtin(
        "coordination.k8s.io",
        "v1",
        "leases",
        "Lease",
        true,
        &[],
        false,
        false,
    ),
    builtin(
        "apiextensions.k8s.io",
        "v1",
        "customresourcedefinitions",
        "CustomResourceDefinition",
        false,
        &["crd", "crds"],
        true,
        true,
    ),
];

/// Categories (`kubectl get all`) of the built-in types.
fn builtin_categories(group: &str, plural: &str) -> Vec<String> {
    let all = matches!(
        (group, plural),
        ("", "services" | "pods")
            | (
                "apps",
                "deployments" | "statefulsets" | "daemonsets" | "replicasets"
            )
            | ("batch", "jobs" | "cronjobs")
    );
    match (all, plural) {
        (true, _) => vec!["all".to_string()],
        (false, "customresourcedefinitions") => vec!["api-extensions".to_string()],
        _ => Vec::new(),
    }
}

/// Orders versions like Kubernetes: GA (v2 > v1) before beta before alpha before anything else.
pub(crate) fn version_priority(version: &str) -> (u8, u64, u64, String) {
    let parse = |v: &str| -> Option<(u8, u64, u64)> {
        let rest = v.strip_prefix('v')?;
        let digits_end = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let major: u64 = rest[..digits_end].parse().ok()?;
        let tail = &rest[digits_end..];
        if tail.is_empty() {
            return Some((3, major, 0));
        }
        for (prefix, class) in [("beta", 2u8), ("alpha", 1u8)] {
            if let Some(minor) = tail.strip_prefix(prefix) {
                let minor: u64 = minor.parse().ok()?;
                return Some((class, major, minor));
            }
        }
        None
    };
    match parse(version) {
        // Higher sorts first: invert so that a plain ascending sort yields preference order.
        Some((class, major, minor)) => {
            (3 - class, u64::MAX - major, u64::MAX - minor, String::new())
        }
        None => (4, 0, 0, version.to_string()),
    }
}

// === impl Registry ===

impl Registry {
    /// The built-in types only.
    pub fn builtin() -> Self {
        let mut types = BTreeMap::new();
        for b in BUILTINS {
            let rt = ResourceType {
                group: b.group.to_string(),
                version: b.version.to_string(),
                plural: b.plural.to_string(),
                singular: b.kind.to_ascii_lowercase(),
                kind: b.kind.to_string(),
                list_kind: format!("{}List", b.kind),
                namespaced: b.namespaced,
                short_names: b.short_names.iter().map(|s| s.to_string()).collect(),
                categories: builtin_categories(b.group, b.plural),
                status_subresource: b.status,
                has_generation: b.generation,
                crd: None,
            };
            types.insert(
                (rt.group.clone(), rt.version.clone(), rt.plural.clone()),
                Arc::new(rt),
            );
        }
        Self { types }
    }

    pub fn lookup(&self, group: &str, version: &str, plural: &str) -> Option<Arc<ResourceType>> {
        self.types
            .get(&(group.to_string(), version.to_string(), plural.to_string()))
            .cloned()
    }

    /// Resolves an object's `apiVersion` + `kind`.
    pub fn lookup_kind(&self, api_version: &str, kind: &str) -> Option<Arc<ResourceType>> {
        let (group, version) = split_api_version(api_version);
        self.types
            .values()
            .find(|rt| rt.group == group && rt.version == version && rt.kind == kind)
            .cloned()
    }

    /// Any served version of a resource (the preferred one), for cross-version bookkeeping.
    pub fn any_version(&self, key: &ResourceKey) -> Option<Arc<ResourceType>> {
        let mut candidates: Vec<_> = self
            .types
            .values()
            .filter(|rt| rt.group == key.group && rt.plural == key.plural)
            .collect();
        candidates.sort_by_key(|rt| version_priority(&rt.version));
        candidates.first().map(|rt| Arc::clone(rt))
    }

    /// A type defined by the named CRD (any version).
    pub fn crd_type(&self, crd_name: &str) -> Option<Arc<ResourceType>> {
        self.types
            .values()
            .find(|rt| rt.crd.as_deref() == Some(crd_name))
            .cloned()
    }

    /// Served groups (the core group `""` included), each with versions in preference order.
    pub fn groups(&self) -> Vec<GroupInfo> {
        let mut groups: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for rt in self.types.values() {
            let versions = groups.entry(rt.group.as_str()).or_default();
            if !versions.contains(&rt.version) {
                versions.push(rt.version.clone());
            }
        }
        groups
            .into_iter()
            .map(|(name, mut versions)| {
                versions.sort_by_key(|v| version_priority(v));
                GroupInfo {
                    name: name.to_string(),
                    versions,
                }
            })
            .collect()
    }

    /// Types served in one group version, sorted by plural.
    pub fn resources_in(&self, group: &str, version: &str) -> Vec<Arc<ResourceType>> {
        self.types
            .values()
            .filter(|rt| rt.group == group && rt.version == version)
            .cloned()
            .collect()
    }

    /// Parses a CustomResourceDefinition and returns the types it defines (one per served
    /// version), without registering them.
    pub fn types_from_crd(&self, crd: &Value) -> Result<Vec<ResourceType>, String> {
        let name = crd
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let spec = crd.get("spec").ok_or("spec: Required value")?;
        let group = str_at(spec, "/group").ok_or("spec.group: Required value")?;
        let plural = str_at(spec, "/names/plural").ok_or("spec.names.plural: Required value")?;
        let kind = str_at(spec, "/names/kind").ok_or("spec.names.kind: Required value")?;
        if name != format!("{plural}.{group}") {
            return Err(format!(
                "metadata.name: Invalid value: \"{name}\": must be spec.names.plural+\".\"+spec.group"
            ));
        }
        if self
            .types
            .values()
            .any(|rt| rt.group == group && rt.plural == plural && rt.is_builtin())
        {
            return Err(format!(
                "spec.group: {group}/{plural} is a built-in resource"
            ));
        }
        let singular = str_at(spec, "/names/singular")
            .map(str::to_string)
            .unwrap_or_else(|| kind.to_ascii_lowercase());
        let list_kind = str_at(spec, "/names/listKind")
            .map(str::to_string)
            .unwrap_or_else(|| format!("{kind}List"));
        let namespaced = match str_at(spec, "/scope") {
            Some("Namespaced") => true,
            Some("Cluster") => false,
            other => {
                return Err(format!(
                    "spec.scope: Unsupported value: {other:?}: supported values: \"Cluster\", \"Namespaced\""
                ));
            }
        };
        let strings = |pointer: &str| -> Vec<String> {
            spec.pointer(pointer)
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default()
        };
        let short_names = strings("/names/shortNames");
        let categories = strings("/names/categories");
        let versions = spec
            .get("versions")
            .and_then(Value::as_array)
            .filter(|v| !v.is_empty())
            .ok_or("spec.versions: Required value")?;
        let mut out = Vec::new();
        for v in versions {
            let version = str_at(v, "/name").ok_or("spec.versions[].name: Required value")?;
            if v.get("served").and_then(Value::as_bool) == Some(false) {
                continue;
            }
            out.push(ResourceType {
                group: group.to_string(),
                version: version.to_string(),
                plural: plural.to_string(),
                singular: singular.clone(),
                kind: kind.to_string(),
                list_kind: list_kind.clone(),
                namespaced,
                short_names: short_names.clone(),
                categories: categories.clone(),
                status_subresource: v.pointer("/subresources/status").is_some(),
                has_generation: true,
                crd: Some(name.to_string()),
            });
        }
        Ok(out)
    }

    /// Replaces the types a CRD defines with `types` (which may be empty to unregister).
    pub fn set_crd_types(&mut self, crd_name: &str, types: Vec<ResourceType>) {
        self.types
            .retain(|_, rt| rt.crd.as_deref() != Some(crd_name));
        for rt in types {
            self.types.insert(
                (rt.group.clone(), rt.version.clone(), rt.plural.clone()),
                Arc::new(rt),
            );
        }
    }
}

fn str_at<'a>(value: &'a Value, pointer: &str) -> Option<&'a str> {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// `apps/v1` → (`apps`, `v1`); `v1` → (``, `v1`).
pub(crate) fn split_api_version(api_version: &str) -> (&str, &str) {
    match api_version.split_once('/') {
        Some((group, version)) => (group, version),
        None => ("", api_version),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn versions_sort_like_kubernetes() {
        let mut v = vec!["v1alpha1", "v2", "v1beta1", "v1", "foo", "v1beta2", "v10"];
        v.sort_by_key(|v| version_priority(v));
        assert_eq!(
            v,
            ["v10", "v2", "v1", "v1beta2", "v1beta1", "v1alpha1", "foo"]
        );
    }

    #[test]
    fn a_crd_defines_one_type_per_served_version() {
        let registry = Registry::builtin();
        let crd = json!({
            "metadata": {"name": "widgets.example.com"},
            "spec": {
                "group": "example.com", "scope": "Namespaced",
                "names": {"plural": "widgets", "kind": "Widget", "shortNames": ["wd"]},
                "versions": [
                    {"name": "v1", "served": true, "storage": true, "subresources": {"status": {}}},
                    {"name": "v1beta1", "served": false, "storage": false},
                ],
            },
        });
        let types = registry.types_from_crd(&crd).unwrap();
        assert_eq!(types.len(), 1);
        assert_eq!(types[0].singular, "widget");
        assert_eq!(types[0].list_kind, "WidgetList");
        assert!(types[0].status_subresource);
        assert_eq!(types[0].short_names, ["wd"]);
    }

    #[test]
    fn a_crd_whose_name_does_not_match_its_names_is_rejected() {
        let registry = Registry::builtin();
        let crd = json!({
            "metadata": {"name": "gadgets.example.com"},
            "spec": {"group": "example.com", "scope": "Cluster",
                     "names": {"plural": "widgets", "kind": "Widget"},
                     "versions": [{"name": "v1", "served": true, "storage": true}]},
        });
        assert!(registry.types_from_crd(&crd).is_err());
    }
}
