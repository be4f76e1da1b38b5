//! What the fake knows about object shapes, without OpenAPI schemas.
//!
//! Strategic merge patch, server-side apply and `managedFields` all need to know how lists are
//! merged: the real server reads `x-kubernetes-list-type`/`-map-keys` and `patchMergeKey` from
//! the schema. The fake hard-codes the lists that matter in practice and treats every other list
//! as **atomic** (replaced and owned as a whole):
//!
//! | field | list type | key |
//! |---|---|---|
//! | `containers`, `initContainers`, `ephemeralContainers`, `env`, `volumes`, `imagePullSecrets` | map | `name` |
//! | `volumeMounts` | map | `mountPath` |
//! | `ports` with `containerPort` items | map | `containerPort` + `protocol` (default `TCP`) |
//! | `ports` with `port` items (Services) | map | `port` + `protocol` (default `TCP`) |
//! | `conditions` | map | `type` |
//! | `metadata.ownerReferences` | map | `uid` |
//! | `metadata.finalizers` | set | the value |
//!
//! Only `metadata.ownerReferences`/`metadata.finalizers` apply to custom resources (whose CRD
//! schemas would have to declare list types).
//!
//! Some objects of built-in kinds are **atomic** for server-side apply and `managedFields`
//! (`+structType=atomic` / `+mapType=atomic` in the Go types): owned and applied as a whole,
//! one `f:<name>: {}` entry ([`Shape::atomic_map`]):
//!
//! | field | Go type |
//! |---|---|
//! | `spec…selector`, `labelSelector`, `namespaceSelector`, `podSelector` | LabelSelector, Service selector |
//! | `fieldRef`, `resourceFieldRef`, `configMapKeyRef`, `secretKeyRef`, `fileKeyRef` | the `env[].valueFrom` and downward API selectors |
//! | pod `nodeSelector`, `nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution`, `preference` | map, NodeSelector, NodeSelectorTerm |
//! | `secretRef`, `nodePublishSecretRef` of volume sources | LocalObjectReference, SecretReference |
//! | `roleRef`, Event `involvedObject`/`related`, `dataSource`, Ingress `backend.service.port` | RoleRef, ObjectReference, TypedLocalObjectReference, ServiceBackendPort |
//!
//! The items of `metadata.ownerReferences` (every kind) and `imagePullSecrets` are atomic too:
//! `k:{"uid":…}: {}` ([`Shape::atomic_items`]). Strategic merge patch does not use any of this
//! (the real one follows `patchStrategy` tags, not `structType`); it only replaces a workload or
//! Service `selector` as a whole ([`Shape::replaced_by_strategic_merge`]).

use serde_json::Value;

/// How a list merges and how its items are addressed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ListType {
    /// Replaced and owned as a whole.
    Atomic,
    /// Items identified by these key fields.
    Map(&'static [&'static str]),
    /// Items are scalars identified by their value.
    Set,
}

/// Shape knowledge for one object: is it a built-in kind (typed schema) or a custom resource.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Shape<'a> {
    pub builtin: bool,
    pub kind: &'a str,
}

// === impl Shape ===

impl Shape<'_> {
    /// List type of the list at `path` (field names from the root, list items skipped).
    pub fn list_type<'v, I>(&self, path: &[&str], items: I) -> ListType
    where
        I: IntoIterator<Item = &'v Value> + Clone,
    {
        let Some(&last) = path.last() else {
            return ListType::Atomic;
        };
        let parent = path.len().checked_sub(2).map(|i| path[i]);
        match (last, parent) {
            ("finalizers", Some("metadata")) if path.len() == 2 => return ListType::Set,
            ("ownerReferences", Some("metadata")) if path.len() == 2 => {
                return ListType::Map(&["uid"]);
            }
            _ => {}
        }
        if !self.builtin {
            return ListType::Atomic;
        }
        match last {
            "containers"
            | "initContainers"
            | "ephemeralContainers"
            | "env"
            | "volumes"
            | "imagePullSecrets" => ListType::Map(&["name"]),
            "volumeMounts" => ListType::Map(&["mountPath"]),
            "conditions" => ListType::Map(&["type"]),
            "ports"
                if items
                    .clone()
                    .into_iter()
                    .all(|i| i.get("containerPort").is_some()) =>
            {
                ListType::Map(&["containerPort", "protocol"])
            }
            "ports" if items.into_iter().all(|i| i.get("port").is_some()) => {
                ListType::Map(&["port", "protocol"])
            }
            _ => ListType::Atomic,
        }
    }

    /// Is the object at `path` applied and owned as a whole (see the module docs)?
    pub fn atomic_map(&self, path: &[&str]) -> bool {
        if !self.builtin {
            return false;
        }
        let Some((&last, parents)) = path.split_last() else {
            return false;
        };
        let parent = parents.last().copied();
        match last {
            "selector" => self.replaced_by_strategic_merge(path),
            "labelSelector" | "namespaceSelector" | "podSelector" => true,
            "fieldRef" | "resourceFieldRef" | "configMapKeyRef" | "secretKeyRef" | "fileKeyRef" => {
                true
            }
            "nodeSelector" => parent == Some("spec"),
            "requiredDuringSchedulingIgnoredDuringExecution" => parent == Some("nodeAffinity"),
            "preference" | "secretRef" | "nodePublishSecretRef" | "roleRef" | "dataSource" => true,
            "involvedObject" | "related" => self.kind == "Event",
            "port" => parent == Some("service"),
            _ => false,
        }
    }

    /// Does a strategic merge patch replace the object at `path` instead of merging it?
    pub fn replaced_by_strategic_merge(&self, path: &[&str]) -> bool {
        self.builtin && path.len() >= 2 && path.last() == Some(&"selector") && path[0] == "spec"
    }

    /// Are the items of the keyed list at `path` owned as a whole (`k:{…}: {}`)?
    pub fn atomic_items(&self, path: &[&str]) -> bool {
        path == ["metadata", "ownerReferences"]
            || (self.builtin && path.last() == Some(&"imagePullSecrets"))
    }

    /// Does the empty typed object already contain this (non-pointer struct) node? Such nodes
    /// exist in the real server's "before" object on create, so they never get a `.` entry in
    /// `managedFields`; optional nodes that appear do.
    pub fn always_present(&self, path: &[&str]) -> bool {
        if !self.builtin {
            return false;
        }
        const POD_TEMPLATE: &[&str] = &[
            "template",
            "template/metadata",
            "template/spec",
            "template/spec/containers",
        ];
        let joined = path.join("/");
        let Some(rest) = joined.strip_prefix("spec") else {
            return joined == "metadata";
        };
        let rest = rest.trim_start_matches('/');
        if rest.is_empty() {
            return true;
        }
        match self.kind {
            "Deployment" => POD_TEMPLATE.contains(&rest) || rest == "strategy",
            "StatefulSet" | "DaemonSet" => POD_TEMPLATE.contains(&rest) || rest == "updateStrategy",
            "ReplicaSet" | "Job" => POD_TEMPLATE.contains(&rest),
            "Pod" => rest == "containers",
            "CronJob" => {
                rest == "jobTemplate"
                    || rest == "jobTemplate/metadata"
                    || rest == "jobTemplate/spec"
                    || rest
                        .strip_prefix("jobTemplate/spec/")
                        .is_some_and(|r| POD_TEMPLATE.contains(&r))
            }
            _ => false,
        }
    }
}

/// The canonical key of a map-list item: JSON of its key fields, keys sorted, e.g.
/// `{"containerPort":80,"protocol":"TCP"}`. `None` when the item lacks a key field.
pub(crate) fn item_key(keys: &[&str], item: &Value) -> Option<String> {
    let obj = item.as_object()?;
    let mut sorted: Vec<&str> = keys.to_vec();
    sorted.sort_unstable();
    let mut parts = Vec::with_capacity(sorted.len());
    for key in sorted {
        let value = match obj.get(key) {
            Some(v) => v.clone(),
            None if key == "protocol" => Value::String("TCP".to_string()),
            None => return None,
        };
        parts.push(format!("{}:{}", Value::String(key.to_string()), value));
    }
    Some(format!("{{{}}}", parts.join(",")))
}

/// Keys of every item, or `None` if any item cannot be keyed (then treat the list as atomic).
pub(crate) fn item_keys<'v>(
    keys: &[&str],
    items: impl IntoIterator<Item = &'v Value>,
) -> Option<Vec<String>> {
    items.into_iter().map(|i| item_key(keys, i)).collect()
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
    fn container_ports_are_keyed_by_port_and_defaulted_protocol() {
        let items = [json!({"containerPort": 80, "name": "http"})];
        let path = ["spec", "template", "spec", "containers", "ports"];
        let ListType::Map(keys) = DEPLOYMENT.list_type(&path, &items) else {
            panic!("ports should be a map list");
        };
        assert_eq!(
            item_key(keys, &items[0]).unwrap(),
            r#"{"containerPort":80,"protocol":"TCP"}"#
        );
    }

    #[test]
    fn lists_of_custom_resources_are_atomic_except_metadata() {
        let cr = Shape {
            builtin: false,
            kind: "Application",
        };
        assert_eq!(
            cr.list_type(&["spec", "containers"], &[] as &[Value]),
            ListType::Atomic
        );
        assert_eq!(
            cr.list_type(&["metadata", "finalizers"], &[] as &[Value]),
            ListType::Set
        );
    }

    #[test]
    fn pod_template_structs_are_always_present_for_workloads() {
        assert!(DEPLOYMENT.always_present(&["spec"]));
        assert!(DEPLOYMENT.always_present(&["spec", "template", "spec"]));
        assert!(!DEPLOYMENT.always_present(&["spec", "strategy", "rollingUpdate"]));
        assert!(!DEPLOYMENT.always_present(&["metadata", "labels"]));
    }

    #[test]
    fn key_selectors_owner_references_and_label_selectors_are_atomic() {
        let env = ["spec", "template", "spec", "containers", "env", "valueFrom"];
        for leaf in [
            "secretKeyRef",
            "configMapKeyRef",
            "fieldRef",
            "resourceFieldRef",
        ] {
            let path: Vec<&str> = env.iter().copied().chain([leaf]).collect();
            assert!(DEPLOYMENT.atomic_map(&path), "{leaf}");
        }
        assert!(DEPLOYMENT.atomic_map(&["spec", "selector"]));
        assert!(DEPLOYMENT.atomic_map(&["spec", "template", "spec", "nodeSelector"]));
        assert!(!DEPLOYMENT.atomic_map(&["spec", "template", "spec", "containers", "env"]));
        assert!(!DEPLOYMENT.replaced_by_strategic_merge(&[
            "spec",
            "template",
            "spec",
            "containers",
            "env",
            "valueFrom",
            "secretKeyRef"
        ]));
        let cr = Shape {
            builtin: false,
            kind: "Application",
        };
        assert!(cr.atomic_items(&["metadata", "ownerReferences"]));
        assert!(!cr.atomic_map(&["spec", "selector"]));
    }
}
