//! Decode-time defaulting of the built-in kinds, as a v1.37 kube-apiserver does it.
//!
//! The real server decodes every write of a built-in kind into its Go type and runs the
//! `SetDefaults_*` functions (`k8s.io/kubernetes/pkg/apis/*/v1/defaults.go`) on it. For an
//! `Update` (create, PUT, every non-apply patch) that happens *before* field management, so
//! the writer owns every field its object gained. Server-side apply merges first and defaults
//! the result *afterwards*, so an `Apply` entry lists only the applied configuration. The store
//! calls [`apply`] at those two points; objects written in-process (seeds included) are stored
//! exactly as given.
//!
//! [`apply`] does both halves of that decoding on the JSON object:
//!
//! - **the typed round trip**: `null` values are dropped (a typed field cannot hold one), and
//!   non-pointer structs the Go encoder always writes appear empty: `resources: {}` on every
//!   container, `metadata: {}` on pod and job templates, `divisor: "0"` on `resourceFieldRef`;
//!   a Secret's write-only `stringData` is folded into `data` (base64). After an apply that
//!   happens once the `Apply` entry is computed, so it lists `f:stringData`, as in the real
//!   server.
//! - **the defaulters**:
//!
//! | kind | defaults |
//! |---|---|
//! | Deployment | `replicas` 1, `strategy.type` RollingUpdate with `rollingUpdate.maxSurge`/`maxUnavailable` 25%, `revisionHistoryLimit` 10, `progressDeadlineSeconds` 600 |
//! | StatefulSet | `replicas` 1, `podManagementPolicy` OrderedReady, `updateStrategy` RollingUpdate with `partition` 0 and `maxUnavailable` 1, `revisionHistoryLimit` 10, `persistentVolumeClaimRetentionPolicy` Retain/Retain; claim templates: `volumeMode` Filesystem, `status.phase` Pending |
//! | DaemonSet | `updateStrategy` RollingUpdate with `maxUnavailable` 1 and `maxSurge` 0, `revisionHistoryLimit` 10 |
//! | ReplicaSet | `replicas` 1 |
//! | Job | `parallelism`/`completions` 1, `backoffLimit` 6, `completionMode` NonIndexed, `suspend` false, `manualSelector` false, `podReplacementPolicy`, labels from the template |
//! | CronJob | `concurrencyPolicy` Allow, `suspend` false, history limits 3 and 1 (the job template itself gets only pod defaults) |
//! | Pod | pod spec defaults, `enableServiceLinks` true, `requests` copied from `limits`, `hostPort` = `containerPort` with `hostNetwork` |
//! | pod specs (all of the above) | `dnsPolicy` ClusterFirst, `restartPolicy` Always, `schedulerName` default-scheduler, `securityContext` {}, `terminationGracePeriodSeconds` 30, `serviceAccount` = `serviceAccountName`; containers (init and ephemeral too): `imagePullPolicy` (Always for `:latest` or no tag, else IfNotPresent), `terminationMessagePath`/`Policy`, `ports[].protocol` TCP, `env[].valueFrom.fieldRef.apiVersion` v1, probes (timeout 1, period 10, success 1, failure 3, `httpGet` path `/` scheme HTTP, `grpc.service` ""); volumes: `emptyDir` when no source, `defaultMode` 420 (secret, configMap, downwardAPI, projected), `hostPath.type` "", token `expirationSeconds` 3600, image `pullPolicy`, iSCSI/RBD/Azure disk/ScaleIO source defaults |
//! | Service | `type` ClusterIP, `sessionAffinity` None (ClientIP gets a 10800 s timeout), `ports[].protocol` TCP, `ports[].targetPort` = `port`, `internalTrafficPolicy` Cluster, `externalTrafficPolicy` Cluster when externally reachable, `allocateLoadBalancerNodePorts` true for LoadBalancers |
//! | Secret | `type` Opaque |
//! | Namespace | label `kubernetes.io/metadata.name` |
//! | RoleBinding, ClusterRoleBinding | `roleRef.apiGroup`, `subjects[].apiGroup` for users and groups |
//!
//! Not modelled: quantities are not canonicalised (the real server rounds them to milli-units
//! and re-serialises them: `0.5` becomes `500m`), fields are not pruned, and what the storage
//! layer adds after field management (cluster IPs, initial status…) lives in `strategy`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};

type Object = Map<String, Value>;

/// Defaults a built-in object of `group`/`kind` in place (other kinds are left alone).
pub(crate) fn apply(group: &str, kind: &str, obj: &mut Value) {
    if group == "apiextensions.k8s.io" {
        // CRDs: not modelled (a schema's `default: null` must survive).
        return;
    }
    drop_nulls(obj);
    let Some(root) = obj.as_object_mut() else {
        return;
    };
    match (group, kind) {
        ("apps", "Deployment") => deployment(root),
        ("apps", "StatefulSet") => stateful_set(root),
        ("apps", "DaemonSet") => daemon_set(root),
        ("apps", "ReplicaSet") => replica_set(root),
        ("batch", "Job") => job(root),
        ("batch", "CronJob") => cron_job(root),
        ("", "Pod") => pod(root),
        ("", "Service") => service(root),
        ("", "Secret") => secret(root),
        ("", "Namespace") => namespace(root),
        ("rbac.authorization.k8s.io", "RoleBinding" | "ClusterRoleBinding") => binding(root),
        _ => {}
    }
}

// === helpers ===

/// Removes every `null` map value, recursively.
fn drop_nulls(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|_, v| !v.is_null());
            map.values_mut().for_each(drop_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(drop_nulls),
        _ => {}
    }
}

/// The object at `key`, created empty when absent (a non-pointer struct, or a pointer the
/// defaulter allocates); `None` when the field holds something other than an object.
fn child<'a>(map: &'a mut Object, key: &str) -> Option<&'a mut Object> {
    map.entry(key)
        .or_insert_with(|| Value::Object(Map::new()))
        .as_object_mut()
}

/// The object at `key`, if there is one.
fn existing<'a>(map: &'a mut Object, key: &str) -> Option<&'a mut Object> {
    map.get_mut(key).and_then(Value::as_object_mut)
}

/// Every object item of the list at `key`.
fn items<'a>(map: &'a mut Object, key: &str) -> impl Iterator<Item = &'a mut Object> {
    map.get_mut(key)
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object_mut)
}

/// A pointer field: set when absent.
fn default_ptr(map: &mut Object, key: &str, value: impl Into<Value>) {
    map.entry(key).or_insert_with(|| value.into());
}

/// A string field: set when absent or empty.
fn default_str(map: &mut Object, key: &str, value: &str) {
    let unset = match map.get(key) {
        None => true,
        Some(Value::String(s)) => s.is_empty(),
        Some(_) => false,
    };
    if unset {
        map.insert(key.to_string(), value.into());
    }
}

/// An integer field: set when absent or zero.
fn default_int(map: &mut Object, key: &str, value: i64) {
    if map.get(key).is_none_or(|v| v.as_i64() == Some(0)) {
        map.insert(key.to_string(), value.into());
    }
}

fn str_of<'a>(map: &'a Object, key: &str) -> &'a str {
    map.get(key).and_then(Value::as_str).unwrap_or_default()
}

// === workloads ===

fn deployment(root: &mut Object) {
    let Some(spec) = child(root, "spec") else {
        return;
    };
    default_ptr(spec, "replicas", 1);
    if let Some(strategy) = child(spec, "strategy") {
        default_str(strategy, "type", "RollingUpdate");
        if str_of(strategy, "type") == "RollingUpdate"
            && let Some(rolling) = child(strategy, "rollingUpdate")
        {
            default_ptr(rolling, "maxUnavailable", "25%");
            default_ptr(rolling, "maxSurge", "25%");
        }
    }
    default_ptr(spec, "revisionHistoryLimit", 10);
    default_ptr(spec, "progressDeadlineSeconds", 600);
    pod_template(spec);
}

fn stateful_set(root: &mut Object) {
    let Some(spec) = child(root, "spec") else {
        return;
    };
    default_str(spec, "podManagementPolicy", "OrderedReady");
    if let Some(strategy) = child(spec, "updateStrategy") {
        if str_of(strategy, "type").is_empty() {
            strategy.insert("type".into(), "RollingUpdate".into());
            default_ptr(strategy, "rollingUpdate", json!({}));
        }
        if str_of(strategy, "type") == "RollingUpdate"
            && let Some(rolling) = existing(strategy, "rollingUpdate")
        {
            default_ptr(rolling, "partition", 0);
            // MaxUnavailableStatefulSet is on by default since v1.37.
            default_ptr(rolling, "maxUnavailable", 1);
        }
    }
    if let Some(policy) = child(spec, "persistentVolumeClaimRetentionPolicy") {
        default_str(policy, "whenDeleted", "Retain");
        default_str(policy, "whenScaled", "Retain");
    }
    default_ptr(spec, "replicas", 1);
    default_ptr(spec, "revisionHistoryLimit", 10);
    for claim in items(spec, "volumeClaimTemplates") {
        if let Some(claim_spec) = child(claim, "spec") {
            default_ptr(claim_spec, "volumeMode", "Filesystem");
        }
        if let Some(status) = child(claim, "status") {
            default_str(status, "phase", "Pending");
        }
    }
    pod_template(spec);
}

fn daemon_set(root: &mut Object) {
    let Some(spec) = child(root, "spec") else {
        return;
    };
    if let Some(strategy) = child(spec, "updateStrategy") {
        default_str(strategy, "type", "RollingUpdate");
        if str_of(strategy, "type") == "RollingUpdate"
            && let Some(rolling) = child(strategy, "rollingUpdate")
        {
            default_ptr(rolling, "maxUnavailable", 1);
            default_ptr(rolling, "maxSurge", 0);
        }
    }
    default_ptr(spec, "revisionHistoryLimit", 10);
    pod_template(spec);
}

fn replica_set(root: &mut Object) {
    let Some(spec) = child(root, "spec") else {
        return;
    };
    default_ptr(spec, "replicas", 1);
    pod_template(spec);
}

fn job(root: &mut Object) {
    let template_labels = root
        .get("spec")
        .and_then(|s| s.pointer("/template/metadata/labels"))
        .filter(|l| l.is_object())
        .cloned();
    if let (Some(labels), Some(meta)) = (template_labels, child(root, "metadata"))
        && meta
            .get("labels")
            .and_then(Value::as_object)
            .is_none_or(Map::is_empty)
    {
        meta.insert("labels".into(), labels);
    }
    let Some(spec) = child(root, "spec") else {
        return;
    };
    job_spec(spec);
    pod_template(spec);
}

fn job_spec(spec: &mut Object) {
    if !spec.contains_key("completions") && !spec.contains_key("parallelism") {
        spec.insert("completions".into(), 1.into());
    }
    default_ptr(spec, "parallelism", 1);
    let backoff = if spec.contains_key("backoffLimitPerIndex") {
        i64::from(i32::MAX)
    } else {
        6
    };
    default_ptr(spec, "backoffLimit", backoff);
    default_ptr(spec, "completionMode", "NonIndexed");
    default_ptr(spec, "suspend", false);
    let replacement = if spec.contains_key("podFailurePolicy") {
        "Failed"
    } else {
        "TerminatingOrFailed"
    };
    default_ptr(spec, "podReplacementPolicy", replacement);
    default_ptr(spec, "manualSelector", false);
    if let Some(policy) = existing(spec, "podFailurePolicy") {
        for rule in items(policy, "rules") {
            for pattern in items(rule, "onPodConditions") {
                default_str(pattern, "status", "True");
            }
        }
    }
}

fn cron_job(root: &mut Object) {
    let Some(spec) = child(root, "spec") else {
        return;
    };
    default_str(spec, "concurrencyPolicy", "Allow");
    default_ptr(spec, "suspend", false);
    default_ptr(spec, "successfulJobsHistoryLimit", 3);
    default_ptr(spec, "failedJobsHistoryLimit", 1);
    let Some(job_template) = child(spec, "jobTemplate") else {
        return;
    };
    child(job_template, "metadata");
    if let Some(job_spec) = child(job_template, "spec") {
        pod_template(job_spec);
    }
}

/// `spec.template` of a workload: a non-pointer PodTemplateSpec.
fn pod_template(spec: &mut Object) {
    let Some(template) = child(spec, "template") else {
        return;
    };
    child(template, "metadata");
    if let Some(pod_spec) = child(template, "spec") {
        self::pod_spec(pod_spec);
    }
}

// === pods ===

fn pod(root: &mut Object) {
    let Some(spec) = child(root, "spec") else {
        return;
    };
    // SetDefaults_Pod, then SetDefaults_PodSpec (the generated order).
    if spec
        .get("terminationGracePeriodSeconds")
        .and_then(Value::as_i64)
        .is_some_and(|s| s < 0)
    {
        spec.insert("terminationGracePeriodSeconds".into(), 1.into());
    }
    let host_network = spec.get("hostNetwork").and_then(Value::as_bool) == Some(true);
    for list in ["containers", "initContainers"] {
        for container in items(spec, list) {
            requests_from_limits(container);
            if host_network {
                for port in items(container, "ports") {
                    if port.get("hostPort").is_none_or(|p| p.as_i64() == Some(0))
                        && let Some(container_port) = port.get("containerPort").cloned()
                    {
                        port.insert("hostPort".into(), container_port);
                    }
                }
            }
        }
    }
    default_ptr(spec, "enableServiceLinks", true);
    pod_spec(spec);
}

/// A container with limits gets the same requests for every resource it does not request.
fn requests_from_limits(container: &mut Object) {
    let Some(resources) = existing(container, "resources") else {
        return;
    };
    let Some(limits) = resources.get("limits").and_then(Value::as_object).cloned() else {
        return;
    };
    if let Some(requests) = child(resources, "requests") {
        for (name, quantity) in limits {
            requests.entry(name).or_insert(quantity);
        }
    }
}

fn pod_spec(spec: &mut Object) {
    if str_of(spec, "serviceAccountName").is_empty() {
        let deprecated = str_of(spec, "serviceAccount").to_string();
        if !deprecated.is_empty() {
            spec.insert("serviceAccountName".into(), deprecated.into());
        }
    }
    match str_of(spec, "serviceAccountName").to_string() {
        name if name.is_empty() => {
            spec.remove("serviceAccount");
        }
        name => {
            spec.insert("serviceAccount".into(), name.into());
        }
    }
    default_str(spec, "dnsPolicy", "ClusterFirst");
    default_str(spec, "restartPolicy", "Always");
    default_ptr(spec, "securityContext", json!({}));
    default_ptr(spec, "terminationGracePeriodSeconds", 30);
    default_str(spec, "schedulerName", "default-scheduler");
    for volume in items(spec, "volumes") {
        self::volume(volume);
    }
    for list in ["initContainers", "containers", "ephemeralContainers"] {
        for c in items(spec, list) {
            container(c);
        }
    }
}

fn container(c: &mut Object) {
    if str_of(c, "imagePullPolicy").is_empty() {
        let policy = if image_tag(str_of(c, "image")) == "latest" {
            "Always"
        } else {
            "IfNotPresent"
        };
        c.insert("imagePullPolicy".into(), policy.into());
    }
    default_str(c, "terminationMessagePath", "/dev/termination-log");
    default_str(c, "terminationMessagePolicy", "File");
    for port in items(c, "ports") {
        default_str(port, "protocol", "TCP");
    }
    for var in items(c, "env") {
        if let Some(from) = existing(var, "valueFrom") {
            if let Some(field_ref) = existing(from, "fieldRef") {
                default_str(field_ref, "apiVersion", "v1");
            }
            if let Some(resource_ref) = existing(from, "resourceFieldRef") {
                default_ptr(resource_ref, "divisor", "0");
            }
            if let Some(file_ref) = existing(from, "fileKeyRef") {
                default_ptr(file_ref, "optional", false);
            }
        }
    }
    child(c, "resources");
    for name in ["livenessProbe", "readinessProbe", "startupProbe"] {
        if let Some(p) = existing(c, name) {
            probe(p);
        }
    }
    if let Some(lifecycle) = existing(c, "lifecycle") {
        for hook in ["postStart", "preStop"] {
            if let Some(get) = existing(lifecycle, hook).and_then(|h| existing(h, "httpGet")) {
                http_get(get);
            }
        }
    }
}

fn probe(p: &mut Object) {
    default_int(p, "timeoutSeconds", 1);
    default_int(p, "periodSeconds", 10);
    default_int(p, "successThreshold", 1);
    default_int(p, "failureThreshold", 3);
    if let Some(get) = existing(p, "httpGet") {
        http_get(get);
    }
    if let Some(grpc) = existing(p, "grpc") {
        default_ptr(grpc, "service", "");
    }
}

fn http_get(get: &mut Object) {
    default_str(get, "path", "/");
    default_str(get, "scheme", "HTTP");
}

/// The tag `ParseImageName` finds: the explicit tag, `""` with only a digest, else `latest`.
fn image_tag(image: &str) -> &str {
    if image.is_empty() {
        // Unparseable: no tag, so IfNotPresent.
        return "";
    }
    let (name, digest) = match image.split_once('@') {
        Some((name, digest)) => (name, Some(digest)),
        None => (image, None),
    };
    let last_segment = name.rsplit('/').next().unwrap_or(name);
    match last_segment.rsplit_once(':') {
        Some((_, tag)) => tag,
        None if digest.is_some() => "",
        None => "latest",
    }
}

/// `SetDefaults_Volume` and the defaulters of the volume sources.
fn volume(v: &mut Object) {
    if v.keys().all(|k| k == "name") {
        v.insert("emptyDir".into(), json!({}));
    }
    if let Some(host_path) = existing(v, "hostPath") {
        default_ptr(host_path, "type", "");
    }
    for source in ["secret", "configMap", "downwardAPI", "projected"] {
        if let Some(s) = existing(v, source) {
            default_ptr(s, "defaultMode", 420);
        }
    }
    if let Some(downward) = existing(v, "downwardAPI") {
        downward_items(downward);
    }
    if let Some(projected) = existing(v, "projected") {
        for source in items(projected, "sources") {
            if let Some(downward) = existing(source, "downwardAPI") {
                downward_items(downward);
            }
            if let Some(token) = existing(source, "serviceAccountToken") {
                default_ptr(token, "expirationSeconds", 3600);
            }
        }
    }
    if let Some(image) = existing(v, "image")
        && str_of(image, "pullPolicy").is_empty()
    {
        let policy = if image_tag(str_of(image, "reference")) == "latest" {
            "Always"
        } else {
            "IfNotPresent"
        };
        image.insert("pullPolicy".into(), policy.into());
    }
    if let Some(iscsi) = existing(v, "iscsi") {
        default_str(iscsi, "iscsiInterface", "default");
    }
    if let Some(rbd) = existing(v, "rbd") {
        default_str(rbd, "pool", "rbd");
        default_str(rbd, "user", "admin");
        default_str(rbd, "keyring", "/etc/ceph/keyring");
    }
    if let Some(disk) = existing(v, "azureDisk") {
        default_ptr(disk, "cachingMode", "ReadWrite");
        default_ptr(disk, "fsType", "ext4");
        default_ptr(disk, "readOnly", false);
        default_ptr(disk, "kind", "Shared");
    }
    if let Some(scale_io) = existing(v, "scaleIO") {
        default_str(scale_io, "storageMode", "ThinProvisioned");
        default_str(scale_io, "fsType", "xfs");
    }
    if let Some(claim_spec) = existing(v, "ephemeral")
        .and_then(|e| existing(e, "volumeClaimTemplate"))
        .and_then(|t| existing(t, "spec"))
    {
        default_ptr(claim_spec, "volumeMode", "Filesystem");
    }
}

fn downward_items(downward: &mut Object) {
    for item in items(downward, "items") {
        if let Some(field_ref) = existing(item, "fieldRef") {
            default_str(field_ref, "apiVersion", "v1");
        }
        if let Some(resource_ref) = existing(item, "resourceFieldRef") {
            default_ptr(resource_ref, "divisor", "0");
        }
    }
}

// === core and RBAC ===

fn service(root: &mut Object) {
    let Some(spec) = child(root, "spec") else {
        return;
    };
    default_str(spec, "sessionAffinity", "None");
    match str_of(spec, "sessionAffinity") {
        "None" => {
            spec.remove("sessionAffinityConfig");
        }
        "ClientIP" => {
            let has_timeout = spec
                .get("sessionAffinityConfig")
                .and_then(|c| c.pointer("/clientIP/timeoutSeconds"))
                .is_some();
            if !has_timeout {
                spec.insert(
                    "sessionAffinityConfig".into(),
                    json!({"clientIP": {"timeoutSeconds": 10800}}),
                );
            }
        }
        _ => {}
    }
    default_str(spec, "type", "ClusterIP");
    for port in items(spec, "ports") {
        default_str(port, "protocol", "TCP");
        let unset = match port.get("targetPort") {
            None => true,
            Some(Value::String(s)) => s.is_empty(),
            Some(other) => other.as_i64() == Some(0),
        };
        if unset && let Some(number) = port.get("port").cloned() {
            port.insert("targetPort".into(), number);
        }
    }
    let service_type = str_of(spec, "type").to_string();
    let has_external_ips = spec
        .get("externalIPs")
        .and_then(Value::as_array)
        .is_some_and(|ips| !ips.is_empty());
    let externally_accessible = matches!(service_type.as_str(), "LoadBalancer" | "NodePort")
        || (service_type == "ClusterIP" && has_external_ips);
    if externally_accessible {
        default_str(spec, "externalTrafficPolicy", "Cluster");
    }
    if matches!(
        service_type.as_str(),
        "NodePort" | "LoadBalancer" | "ClusterIP"
    ) {
        default_ptr(spec, "internalTrafficPolicy", "Cluster");
    }
    if service_type == "LoadBalancer" {
        default_ptr(spec, "allocateLoadBalancerNodePorts", true);
        if let Some(load_balancer) =
            existing(root, "status").and_then(|s| existing(s, "loadBalancer"))
        {
            for ingress in items(load_balancer, "ingress") {
                if !str_of(ingress, "ip").is_empty() {
                    default_ptr(ingress, "ipMode", "VIP");
                }
            }
        }
    }
}

/// `stringData` is write-only: the conversion folds it into `data` (base64), then
/// `SetDefaults_Secret` sets the type.
fn secret(root: &mut Object) {
    if let Some(Value::Object(string_data)) = root.remove("stringData")
        && let Some(data) = child(root, "data")
    {
        for (key, value) in string_data {
            if let Some(text) = value.as_str() {
                data.insert(key, STANDARD.encode(text).into());
            }
        }
    }
    default_str(root, "type", "Opaque");
}

fn namespace(root: &mut Object) {
    let name = root
        .get("metadata")
        .and_then(|m| m.get("name"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    if name.is_empty() {
        return;
    }
    if let Some(labels) = child(root, "metadata").and_then(|m| child(m, "labels")) {
        labels.insert("kubernetes.io/metadata.name".into(), name.into());
    }
}

fn binding(root: &mut Object) {
    if let Some(role_ref) = child(root, "roleRef") {
        default_str(role_ref, "apiGroup", "rbac.authorization.k8s.io");
    }
    for subject in items(root, "subjects") {
        if str_of(subject, "apiGroup").is_empty()
            && matches!(str_of(subject, "kind"), "User" | "Group")
        {
            subject.insert("apiGroup".into(), "rbac.authorization.k8s.io".into());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaulted(group: &str, kind: &str, mut obj: Value) -> Value {
        apply(group, kind, &mut obj);
        obj
    }

    #[test]
    fn a_deployment_gets_the_workload_and_pod_defaults_of_a_real_server() {
        let obj = defaulted(
            "apps",
            "Deployment",
            json!({"spec": {"selector": {"matchLabels": {"a": "b"}},
                "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [
                    {"name": "c", "image": "busybox", "ports": [{"containerPort": 80}],
                     "env": [{"name": "A", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
                     "livenessProbe": {"httpGet": {"port": 80}}}],
                "initContainers": [{"name": "i", "image": "busybox:1.2"}],
                "volumes": [{"name": "v", "secret": {"secretName": "s"}}, {"name": "e"}]}}}}),
        );
        // Values observed on a v1.37.1 kube-apiserver for the same request.
        assert_eq!(
            obj["spec"],
            json!({
                "replicas": 1,
                "selector": {"matchLabels": {"a": "b"}},
                "strategy": {"type": "RollingUpdate",
                             "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}},
                "revisionHistoryLimit": 10,
                "progressDeadlineSeconds": 600,
                "template": {"metadata": {"labels": {"a": "b"}}, "spec": {
                    "containers": [{"name": "c", "image": "busybox",
                        "ports": [{"containerPort": 80, "protocol": "TCP"}],
                        "env": [{"name": "A", "valueFrom": {"fieldRef":
                            {"apiVersion": "v1", "fieldPath": "metadata.name"}}}],
                        "resources": {},
                        "livenessProbe": {"httpGet": {"path": "/", "port": 80, "scheme": "HTTP"},
                            "timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1,
                            "failureThreshold": 3},
                        "terminationMessagePath": "/dev/termination-log",
                        "terminationMessagePolicy": "File",
                        "imagePullPolicy": "Always"}],
                    "initContainers": [{"name": "i", "image": "busybox:1.2", "resources": {},
                        "terminationMessagePath": "/dev/termination-log",
                        "terminationMessagePolicy": "File", "imagePullPolicy": "IfNotPresent"}],
                    "volumes": [{"name": "v", "secret": {"secretName": "s", "defaultMode": 420}},
                                {"name": "e", "emptyDir": {}}],
                    "restartPolicy": "Always",
                    "terminationGracePeriodSeconds": 30,
                    "dnsPolicy": "ClusterFirst",
                    "securityContext": {},
                    "schedulerName": "default-scheduler",
                }},
            })
        );
    }

    #[test]
    fn a_service_gets_its_type_affinity_policies_and_target_ports() {
        let obj = defaulted(
            "",
            "Service",
            json!({"spec": {"selector": {"a": "b"}, "ports": [
                {"name": "http", "port": 80},
                {"name": "x", "port": 81, "targetPort": "http", "protocol": "UDP"}]}}),
        );
        assert_eq!(
            obj["spec"],
            json!({"selector": {"a": "b"}, "type": "ClusterIP", "sessionAffinity": "None",
                   "internalTrafficPolicy": "Cluster", "ports": [
                {"name": "http", "port": 80, "protocol": "TCP", "targetPort": 80},
                {"name": "x", "port": 81, "targetPort": "http", "protocol": "UDP"}]})
        );
        let node_port = defaulted(
            "",
            "Service",
            json!({"spec": {"type": "NodePort", "sessionAffinity": "ClientIP", "ports": [{"port": 80}]}}),
        );
        assert_eq!(node_port["spec"]["externalTrafficPolicy"], "Cluster");
        assert_eq!(
            node_port["spec"]["sessionAffinityConfig"],
            json!({"clientIP": {"timeoutSeconds": 10800}})
        );
    }

    #[test]
    fn a_pod_copies_limits_to_requests_and_enables_service_links() {
        let obj = defaulted(
            "",
            "Pod",
            json!({"spec": {"containers": [{"name": "c", "image": "busybox:1.0",
                "resources": {"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "500m"}},
                "readinessProbe": {"grpc": {"port": 1}}}]}}),
        );
        let c = &obj["spec"]["containers"][0];
        assert_eq!(
            c["resources"]["requests"],
            json!({"cpu": "500m", "memory": "1Gi"})
        );
        assert_eq!(
            c["readinessProbe"]["grpc"],
            json!({"port": 1, "service": ""})
        );
        assert_eq!(obj["spec"]["enableServiceLinks"], true);
    }

    #[test]
    fn jobs_cron_jobs_secrets_namespaces_and_bindings_get_their_defaults() {
        let job = defaulted(
            "batch",
            "Job",
            json!({"spec": {"template": {"metadata": {"labels": {"app": "x"}},
                "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "i:1"}]}}}}),
        );
        assert_eq!(job["metadata"]["labels"], json!({"app": "x"}));
        for (field, value) in [
            ("parallelism", json!(1)),
            ("completions", json!(1)),
            ("backoffLimit", json!(6)),
            ("completionMode", json!("NonIndexed")),
            ("suspend", json!(false)),
            ("podReplacementPolicy", json!("TerminatingOrFailed")),
            ("manualSelector", json!(false)),
        ] {
            assert_eq!(job["spec"][field], value, "{field}");
        }
        assert_eq!(job["spec"]["template"]["spec"]["restartPolicy"], "Never");

        let cron = defaulted(
            "batch",
            "CronJob",
            json!({"spec": {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": {"spec": {
                "containers": [{"name": "c", "image": "i:1"}]}}}}}}),
        );
        assert_eq!(cron["spec"]["concurrencyPolicy"], "Allow");
        assert_eq!(cron["spec"]["jobTemplate"]["metadata"], json!({}));
        assert!(
            cron["spec"]["jobTemplate"]["spec"]
                .get("parallelism")
                .is_none()
        );
        assert_eq!(
            cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["dnsPolicy"],
            "ClusterFirst"
        );

        let secret = defaulted(
            "",
            "Secret",
            json!({"data": {"b": "eQ=="}, "stringData": {"a": "x"}}),
        );
        assert_eq!(
            secret,
            json!({"type": "Opaque", "data": {"a": "eA==", "b": "eQ=="}})
        );
        let ns = defaulted("", "Namespace", json!({"metadata": {"name": "team"}}));
        assert_eq!(
            ns["metadata"]["labels"],
            json!({"kubernetes.io/metadata.name": "team"})
        );
        let binding = defaulted(
            "rbac.authorization.k8s.io",
            "RoleBinding",
            json!({"roleRef": {"kind": "Role", "name": "r"},
                   "subjects": [{"kind": "User", "name": "u"}, {"kind": "ServiceAccount", "name": "sa"}]}),
        );
        assert_eq!(binding["roleRef"]["apiGroup"], "rbac.authorization.k8s.io");
        assert_eq!(
            binding["subjects"][0]["apiGroup"],
            "rbac.authorization.k8s.io"
        );
        assert!(binding["subjects"][1].get("apiGroup").is_none());
    }

    #[test]
    fn stateful_and_daemon_sets_get_their_update_strategies() {
        let sts = defaulted("apps", "StatefulSet", json!({"spec": {}}));
        assert_eq!(
            sts["spec"]["updateStrategy"],
            json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 0, "maxUnavailable": 1}})
        );
        assert_eq!(
            sts["spec"]["persistentVolumeClaimRetentionPolicy"],
            json!({"whenDeleted": "Retain", "whenScaled": "Retain"})
        );
        let ds = defaulted("apps", "DaemonSet", json!({"spec": {}}));
        assert_eq!(
            ds["spec"]["updateStrategy"],
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}})
        );
    }

    #[test]
    fn the_pull_policy_follows_the_image_tag() {
        assert_eq!(image_tag("busybox"), "latest");
        assert_eq!(image_tag("busybox:latest"), "latest");
        assert_eq!(image_tag("localhost:5000/busybox"), "latest");
        assert_eq!(image_tag("localhost:5000/busybox:1.2"), "1.2");
        assert_eq!(image_tag("busybox@sha256:abc"), "");
        assert_eq!(image_tag("busybox:1@sha256:abc"), "1");
    }

    #[test]
    fn nulls_are_dropped_and_set_values_kept() {
        let obj = defaulted(
            "apps",
            "Deployment",
            json!({"metadata": {"annotations": null}, "spec": {"replicas": 3,
                "strategy": {"type": "Recreate"},
                "template": {"metadata": {"creationTimestamp": null}}}}),
        );
        assert!(obj["metadata"].get("annotations").is_none());
        assert_eq!(obj["spec"]["replicas"], 3);
        assert_eq!(obj["spec"]["strategy"], json!({"type": "Recreate"}));
        assert_eq!(obj["spec"]["template"]["metadata"], json!({}));
    }
}
