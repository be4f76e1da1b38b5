//! Normalizations applied before comparing, each one a case of false drift without it
//! (ARGOCD-DIFF.md §1.4 and §7.2).
//!
//! On the desired (last-applied) object:
//! - `metadata.creationTimestamp` removed (rendered manifests often carry `null`; §1.4);
//! - `metadata.namespace` and an empty `metadata.annotations` removed (`removeNamespaceAnnotation`,
//!   §1.3: desired only).
//!
//! Empty values and quantities are the comparison's business ([`super::compare`]): what Argo CD's
//! typed round trip drops from the record is a deletion there, not nothing.
//!
//! On both sides:
//! - `status` removed per `resource.compareoptions.ignoreResourceStatusField`: on every object
//!   (`all`, the default), only on `CustomResourceDefinition` objects (`crd`: Argo CD adds the
//!   `/status` rule to `apiextensions.k8s.io/CustomResourceDefinition` alone — a custom
//!   resource's status is compared), or nowhere (`none`);
//! - fields of a custom resource that argocd-cm's `knownTypeFields` (or Argo CD's default, a
//!   Rollout's `spec.template.spec`) types: round-tripped through the type ([`known_type`]);
//! - Secret `stringData` folded into base64 `data`, `null` data values as `""` (`NormalizeSecret`);
//! - Role/ClusterRole `rules: []` → `null` (so a record's empty rules mean "none live"), and with
//!   `ignoreAggregatedRoles` the rules of a role with an `aggregationRule` set to `null` on both
//!   sides (`normalizeRole`);
//! - Endpoints subsets sorted and port protocols defaulted to TCP (`normalizeEndpoint`).
//!
//! On live:
//! - label tracking: when live has the instance label but no tracking annotation, the desired
//!   tracking annotation is copied in; when desired has no instance label, live's is removed
//!   (`resourceTracking.Normalize`, §1.4);
//! - StatefulSet `volumeClaimTemplates[i]` cut to the keys of the desired item (the API server
//!   defaults PVC templates; `statefulSetWorkaround`).

use super::schema::{Schema, Shape};
use super::settings::StatusField;
use base64::Engine as _;
use serde_json::{Map, Value};

pub const TRACKING_ANNOTATION: &str = "argocd.argoproj.io/tracking-id";
pub const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// What normalization needs to know about the object and the settings.
#[derive(Clone, Copy, Debug)]
pub struct Normalizer<'a> {
    pub group: &'a str,
    pub kind: &'a str,
    pub builtin: bool,
    pub status_field: StatusField,
    pub ignore_aggregated_roles: bool,
    pub instance_label_key: &'a str,
}

impl Normalizer<'_> {
    fn is(&self, group: &str, kind: &str) -> bool {
        self.group == group && self.kind == kind
    }

    pub fn is_secret(&self) -> bool {
        self.is("", "Secret")
    }

    /// Normalizes the desired (last-applied) object in place.
    pub fn desired(&self, v: &mut Value) {
        if let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.remove("creationTimestamp");
            meta.remove("namespace");
            if meta.get("annotations").is_some_and(is_empty_or_null) {
                meta.remove("annotations");
            }
        }
        self.both(v);
    }

    /// Normalizes the live object in place; `desired` is the normalized desired object, if any.
    pub fn live(&self, v: &mut Value, desired: Option<&Value>) {
        if let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.remove("creationTimestamp");
        }
        self.both(v);
        if let Some(desired) = desired {
            self.tracking(v, desired);
            if self.is("apps", "StatefulSet") {
                statefulset_templates(v, desired);
            }
        }
    }

    /// Would [`Self::live`] change what a comparison with `desired` finds, beyond what the
    /// comparison handles itself (quantities by value, live-only fields, `status` and
    /// `creationTimestamp` that desired no longer has)? When not, live is compared as it is and
    /// never copied.
    pub fn live_needs_normalizing(&self, live: &Value, desired: &Value) -> bool {
        if self.is_secret()
            || self.is("", "Endpoints")
            || self.is("rbac.authorization.k8s.io", "Role")
            || self.is("rbac.authorization.k8s.io", "ClusterRole")
        {
            return true;
        }
        if self.status_field != StatusField::All && desired.get("status").is_some() {
            // Compared status: nothing to do on live either.
            return false;
        }
        // Label tracking: the tracking annotation would be backfilled.
        let meta = live.get("metadata");
        let has_label = meta
            .and_then(|m| m.get("labels"))
            .and_then(|l| l.get(self.instance_label_key))
            .is_some();
        let has_annotation = meta
            .and_then(|m| m.get("annotations"))
            .and_then(|a| a.get(TRACKING_ANNOTATION))
            .is_some();
        has_label && !has_annotation
    }

    /// The steps applied to both sides.
    fn both(&self, v: &mut Value) {
        let drop_status = match self.status_field {
            StatusField::All => true,
            StatusField::Crd => self.is("apiextensions.k8s.io", "CustomResourceDefinition"),
            StatusField::None => false,
        };
        if drop_status && let Some(obj) = v.as_object_mut() {
            obj.remove("status");
        }
        if self.is_secret() {
            secret(v);
        }
        if self.is("rbac.authorization.k8s.io", "Role")
            || self.is("rbac.authorization.k8s.io", "ClusterRole")
        {
            self.role(v);
        }
        if self.is("", "Endpoints") {
            endpoints(v);
        }
    }

    fn role(&self, v: &mut Value) {
        let Some(obj) = v.as_object_mut() else { return };
        let aggregated = obj.get("aggregationRule").is_some_and(Value::is_object);
        if (aggregated && self.ignore_aggregated_roles)
            || obj
                .get("rules")
                .and_then(Value::as_array)
                .is_some_and(Vec::is_empty)
        {
            obj.insert("rules".into(), Value::Null);
        }
    }

    fn tracking(&self, live: &mut Value, desired: &Value) {
        let desired_meta = desired.get("metadata");
        let desired_annotation = desired_meta
            .and_then(|m| m.get("annotations"))
            .and_then(|a| a.get(TRACKING_ANNOTATION))
            .cloned();
        let desired_has_label = desired_meta
            .and_then(|m| m.get("labels"))
            .and_then(|l| l.get(self.instance_label_key))
            .is_some();
        let Some(meta) = live.get_mut("metadata").and_then(Value::as_object_mut) else {
            return;
        };
        let live_has_label = meta
            .get("labels")
            .and_then(|l| l.get(self.instance_label_key))
            .is_some();
        let live_has_annotation = meta
            .get("annotations")
            .and_then(|a| a.get(TRACKING_ANNOTATION))
            .is_some();
        if live_has_label
            && !live_has_annotation
            && let Some(a) = desired_annotation
        {
            let annotations = meta
                .entry("annotations")
                .or_insert_with(|| Value::Object(Map::new()));
            if let Some(map) = annotations.as_object_mut() {
                map.insert(TRACKING_ANNOTATION.to_string(), a);
            }
        }
        if !desired_has_label
            && let Some(labels) = meta.get_mut("labels").and_then(Value::as_object_mut)
        {
            labels.remove(self.instance_label_key);
        }
    }
}

fn is_empty_or_null(v: &Value) -> bool {
    super::compare::is_empty(v)
}

/// Round-trips the field at `keys` (object keys; list items on the way are walked into, as Argo
/// CD's known-types normalizer does) through the Kubernetes type `shape`.
pub fn known_type(sc: &Schema, keys: &[String], shape: &Shape, v: &mut Value) {
    let Some((first, rest)) = keys.split_first() else {
        super::compare::typed_normalize(sc, shape, v);
        return;
    };
    match v {
        Value::Object(m) => {
            if let Some(child) = m.get_mut(first) {
                known_type(sc, rest, shape, child);
            }
        }
        Value::Array(items) => {
            for item in items {
                known_type(sc, keys, shape, item);
            }
        }
        _ => {}
    }
}

/// `stringData` folded into base64 `data`; `null` data values become `""`.
fn secret(v: &mut Value) {
    let Some(obj) = v.as_object_mut() else { return };
    let string_data = obj.remove("stringData");
    let data = obj
        .entry("data")
        .or_insert_with(|| Value::Object(Map::new()));
    if data.is_null() {
        *data = Value::Object(Map::new());
    }
    let Some(data) = data.as_object_mut() else {
        return;
    };
    for value in data.values_mut() {
        if value.is_null() {
            *value = Value::String(String::new());
        }
    }
    if let Some(Value::Object(sd)) = string_data {
        for (k, value) in sd {
            let text = match value {
                Value::String(s) => s,
                Value::Null => String::new(),
                other => other.to_string(),
            };
            data.insert(
                k,
                Value::String(base64::engine::general_purpose::STANDARD.encode(text)),
            );
        }
    }
    if data.is_empty() {
        obj.remove("data");
    }
}

/// Subsets sorted, with their addresses and ports sorted and port protocols defaulted to TCP.
fn endpoints(v: &mut Value) {
    let Some(Value::Array(subsets)) = v.get_mut("subsets") else {
        return;
    };
    for subset in subsets.iter_mut() {
        for list in ["addresses", "notReadyAddresses"] {
            if let Some(Value::Array(addrs)) = subset.get_mut(list) {
                addrs.sort_by_key(|a| a.get("ip").map(Value::to_string).unwrap_or_default());
            }
        }
        if let Some(Value::Array(ports)) = subset.get_mut("ports") {
            for p in ports.iter_mut() {
                if let Some(obj) = p.as_object_mut() {
                    let missing = obj.get("protocol").is_none_or(|p| p.as_str() == Some(""));
                    if missing {
                        obj.insert("protocol".into(), Value::String("TCP".into()));
                    }
                }
            }
            ports.sort_by_key(Value::to_string);
        }
    }
    subsets.sort_by_key(Value::to_string);
}

/// Live `volumeClaimTemplates[i]` keeps only the keys desired `volumeClaimTemplates[i]` has.
fn statefulset_templates(live: &mut Value, desired: &Value) {
    let Some(Value::Array(want)) = desired.pointer("/spec/volumeClaimTemplates") else {
        return;
    };
    let Some(Value::Array(have)) = live.pointer_mut("/spec/volumeClaimTemplates") else {
        return;
    };
    for (l, d) in have.iter_mut().zip(want) {
        cut_to_shape(l, d);
    }
}

/// Keeps in `live` only the object keys `shape` has, recursively (Argo CD's `RemoveMapFields`).
pub fn cut_to_shape(live: &mut Value, shape: &Value) {
    match (live, shape) {
        (Value::Object(l), Value::Object(s)) => {
            l.retain(|k, _| s.contains_key(k));
            for (k, lv) in l.iter_mut() {
                if let Some(sv) = s.get(k) {
                    cut_to_shape(lv, sv);
                }
            }
        }
        (Value::Array(l), Value::Array(s)) => {
            for (lv, sv) in l.iter_mut().zip(s) {
                cut_to_shape(lv, sv);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drift::compare::{Rules, subset};
    use crate::drift::schema::schema;
    use serde_json::json;

    fn norm<'a>(group: &'a str, kind: &'a str) -> Normalizer<'a> {
        Normalizer {
            group,
            kind,
            builtin: schema().kind(group, "v1", kind).is_some(),
            status_field: StatusField::All,
            ignore_aggregated_roles: false,
            instance_label_key: "app.kubernetes.io/instance",
        }
    }

    /// Number of differences after (and without) normalizing both sides the way `n` does.
    fn drift(n: Normalizer<'_>, desired: Value, live: Value) -> (usize, usize) {
        let rules = Rules {
            root: schema().kind(n.group, "v1", n.kind),
            typed_desired: true,
            keyed_order_is_drift: true,
            deletions: true,
        };
        let raw = subset(&desired, &live, rules).len();
        let (mut d, mut l) = (desired, live);
        n.desired(&mut d);
        n.live(&mut l, Some(&d));
        (subset(&d, &l, rules).len(), raw)
    }

    #[test]
    fn creation_timestamp_null_in_git_is_not_drift() {
        // On a built-in kind `null` would mean "must be absent".
        let (after, before) = drift(
            norm("", "ConfigMap"),
            json!({"metadata": {"name": "a", "creationTimestamp": null}}),
            json!({"metadata": {"name": "a", "creationTimestamp": "2026-01-01T00:00:00Z"}}),
        );
        assert_eq!((after, before), (0, 1));
    }

    #[test]
    fn a_custom_resource_namespace_and_empty_annotations_in_desired_are_not_drift() {
        let (after, before) = drift(
            norm("example.com", "Widget"),
            json!({"metadata": {"name": "a", "namespace": "other", "annotations": {}}}),
            json!({"metadata": {"name": "a", "namespace": "ns"}}),
        );
        assert_eq!((after, before), (0, 2));
    }

    #[test]
    fn status_is_ignored_by_default_only_on_crd_objects_with_crd_and_compared_with_none() {
        let desired = json!({"status": {"phase": "Ready"}});
        let live = json!({"status": {"phase": "Pending"}});
        assert_eq!(
            drift(norm("apps", "Deployment"), desired.clone(), live.clone()).0,
            0
        );
        let mut n = norm("apps", "Deployment");
        n.status_field = StatusField::Crd;
        assert_eq!(
            drift(n, desired.clone(), live.clone()).0,
            1,
            "built-in compared under crd"
        );
        let mut n = norm("example.com", "Widget");
        n.status_field = StatusField::Crd;
        assert_eq!(
            drift(n, desired.clone(), live.clone()).0,
            1,
            "a custom resource's status is compared under crd"
        );
        let mut n = norm("apiextensions.k8s.io", "CustomResourceDefinition");
        n.status_field = StatusField::Crd;
        assert_eq!(drift(n, desired.clone(), live.clone()).0, 0);
        n.status_field = StatusField::None;
        assert_eq!(drift(n, desired, live).0, 1);
    }

    #[test]
    fn secret_string_data_becomes_base64_data() {
        let (after, before) = drift(
            norm("", "Secret"),
            json!({"stringData": {"user": "admin"}, "data": {"empty": null}}),
            json!({"data": {"user": "YWRtaW4=", "empty": ""}}),
        );
        assert_eq!((after, before), (0, 2));
    }

    #[test]
    fn empty_role_rules_mean_none_live_unless_an_aggregated_role_is_ignored() {
        let n = norm("rbac.authorization.k8s.io", "ClusterRole");
        let mut live = json!({"rules": []});
        n.live(&mut live, None);
        assert_eq!(live, json!({"rules": null}));
        // `rules: []` in Git, a rule added live (by hand or by aggregation): drift.
        assert_eq!(
            drift(
                n,
                json!({"rules": []}),
                json!({"rules": [{"verbs": ["get"]}]})
            )
            .0,
            1
        );
        let aggregated = json!({"aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"a": "b"}}]}, "rules": []});
        let filled = json!({"aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"a": "b"}}]}, "rules": [{"verbs": ["get"]}, {"verbs": ["list"]}]});
        assert_eq!(drift(n, aggregated.clone(), filled.clone()).0, 1);
        let ignoring = Normalizer {
            ignore_aggregated_roles: true,
            ..n
        };
        assert_eq!(drift(ignoring, aggregated, filled).0, 0);
    }

    #[test]
    fn known_type_fields_are_round_tripped_through_their_type_on_both_sides() {
        let sc = schema();
        let pod_spec = Shape::Struct(sc.by_name("core/v1/PodSpec").unwrap());
        let keys: Vec<String> = ["spec", "template", "spec"].map(String::from).to_vec();
        let mut v = json!({"spec": {"template": {"spec": {"imagePullSecrets": [], "hostNetwork": false,
            "containers": [{"name": "a", "resources": {"limits": {"cpu": 0.5}}, "unknown": 1}]}}}});
        known_type(sc, &keys, &pod_spec, &mut v);
        assert_eq!(
            v,
            json!({"spec": {"template": {"spec": {"containers": [{"name": "a",
                "resources": {"limits": {"cpu": "500m"}}}]}}}})
        );
        // A list on the way is walked into.
        let mut v = json!({"spec": {"items": [{"memory": "1024Mi"}, {"memory": 2048}]}});
        let keys: Vec<String> = ["spec", "items", "memory"].map(String::from).to_vec();
        known_type(sc, &keys, &Shape::Quantity, &mut v);
        assert_eq!(
            v,
            json!({"spec": {"items": [{"memory": "1Gi"}, {"memory": "2048"}]}})
        );
    }

    #[test]
    fn endpoints_are_compared_sorted_with_the_default_protocol() {
        let desired = json!({"subsets": [
            {"addresses": [{"ip": "10.0.0.2"}, {"ip": "10.0.0.1"}], "ports": [{"port": 80}]}]});
        let live = json!({"subsets": [
            {"addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}], "ports": [{"port": 80, "protocol": "TCP"}]}]});
        assert_eq!(drift(norm("", "Endpoints"), desired, live), (0, 2));
    }

    #[test]
    fn statefulset_claim_templates_are_cut_to_the_desired_keys() {
        let desired = json!({"spec": {"volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {"resources": {"requests": {"storage": "1Gi"}}}}]}});
        let live = json!({"spec": {"volumeClaimTemplates": [{"apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"name": "data"}, "spec": {"volumeMode": "Filesystem", "resources": {"requests": {"storage": "1Gi"}}},
            "status": {"phase": "Pending"}}]}});
        let n = norm("apps", "StatefulSet");
        let mut l = live.clone();
        let mut d = desired.clone();
        n.desired(&mut d);
        n.live(&mut l, Some(&d));
        assert_eq!(l, desired, "the defaulted keys are gone");
    }

    #[test]
    fn label_tracking_backfills_the_annotation_and_drops_an_unwanted_label() {
        let desired =
            json!({"metadata": {"annotations": {TRACKING_ANNOTATION: "app:/ConfigMap:ns/a"}}});
        let live = json!({"metadata": {"labels": {"app.kubernetes.io/instance": "app"}}});
        let (after, before) = drift(norm("", "ConfigMap"), desired, live.clone());
        assert_eq!((after, before), (0, 1));
        let mut l = live;
        norm("", "ConfigMap").live(&mut l, Some(&json!({})));
        assert_eq!(l, json!({"metadata": {"labels": {}}}));
    }
}
