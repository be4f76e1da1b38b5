//! What the real server's registry strategies, REST storage and built-in admission plugins do
//! to an HTTP write of a built-in kind, around field management.
//!
//! The real create handler runs field management on the decoded, defaulted object (see
//! `defaults`) and only then calls the storage, whose strategy resets `status`, allocates
//! Service IPs, generates Job selectors and so on. Those values are in the stored object but in
//! nobody's `managedFields`. The store calls, for HTTP writes only:
//!
//! - [`owned_on_create`] before field management: what the field manager already sees on
//!   create (the DaemonSet `deprecated.daemonset.template.generation` annotation, written by
//!   the API version conversion).
//! - [`prepare_for_create`] after field management: the initial `status` of kinds with a
//!   status subresource (`{}` for Deployments, Jobs and CronJobs; the zero counters the Go
//!   encoder writes for ReplicaSets, StatefulSets and DaemonSets; `loadBalancer: {}` for
//!   Services and Ingresses; `phase: Pending` and the QoS class for Pods; `phase: Active` for
//!   Namespaces), Namespace `spec.finalizers`, Service `clusterIP`/`clusterIPs`/`ipFamilies`/
//!   `ipFamilyPolicy`/`nodePort`s (10.96.0.0/12, 30000–32767, sequential), the Job selector
//!   and `controller-uid`/`job-name` labels, and the Pod tolerations, `priority` and
//!   `preemptionPolicy` of the DefaultTolerationSeconds and Priority admission plugins.
//! - [`prepare_for_update`] after field management: a Service keeps its allocated IPs and node
//!   ports when the writer leaves them out, a Namespace keeps its finalizers, a DaemonSet's
//!   template generation annotation follows template changes.
//! - [`generation_changed`]: whether `metadata.generation` moves. Every kind with a generation
//!   bumps it when anything outside `metadata` and `status` changes; a Deployment also when its
//!   annotations change (they are copied to its ReplicaSets).

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::meta::spec_view;

const TEMPLATE_GENERATION: &str = "deprecated.daemonset.template.generation";

/// Sequential allocation of Service cluster IPs and node ports.
#[derive(Debug, Default)]
pub(crate) struct Allocator {
    next_ip: u32,
    next_node_port: u32,
}

impl Allocator {
    /// The next address of 10.96.0.0/12, from 10.96.0.10 (the real allocator picks at random).
    fn cluster_ip(&mut self) -> String {
        let n = 0x0A60_000A_u32 + self.next_ip % 0x000F_FFF0;
        self.next_ip += 1;
        let [a, b, c, d] = n.to_be_bytes();
        format!("{a}.{b}.{c}.{d}")
    }

    /// The next port of 30000–32767.
    fn node_port(&mut self) -> u32 {
        let port = 30000 + self.next_node_port % 2768;
        self.next_node_port += 1;
        port
    }
}

fn object_at<'a>(obj: &'a mut Value, key: &str) -> Option<&'a mut Map<String, Value>> {
    obj.as_object_mut()?
        .entry(key)
        .or_insert_with(|| Value::Object(Map::new()))
        .as_object_mut()
}

fn annotations_mut(obj: &mut Value) -> Option<&mut Map<String, Value>> {
    object_at(obj, "metadata").and_then(|meta| {
        meta.entry("annotations")
            .or_insert_with(|| Value::Object(Map::new()))
            .as_object_mut()
    })
}

/// Before field management on create: what the field manager already sees.
pub(crate) fn owned_on_create(group: &str, kind: &str, obj: &mut Value) {
    if (group, kind) == ("apps", "DaemonSet")
        && let Some(annotations) = annotations_mut(obj)
    {
        annotations.insert(TEMPLATE_GENERATION.into(), "1".into());
    }
}

/// After field management on create: what storage, strategy and admission add.
pub(crate) fn prepare_for_create(group: &str, kind: &str, obj: &mut Value, alloc: &mut Allocator) {
    match (group, kind) {
        ("", "Service") => allocate_service(obj, alloc),
        ("", "Namespace") => namespace_finalizers(obj, None),
        ("batch", "Job") => job_selector(obj),
        ("", "Pod") => pod_admission(obj),
        _ => {}
    }
    if let Some(status) = initial_status(group, kind, obj)
        && let Some(map) = obj.as_object_mut()
    {
        map.insert("status".into(), status);
    }
}

/// After field management on update (main endpoint).
pub(crate) fn prepare_for_update(group: &str, kind: &str, current: &Value, new: &mut Value) {
    match (group, kind) {
        ("", "Service") => keep_allocated(current, new),
        ("", "Namespace") => namespace_finalizers(new, Some(current)),
        ("apps", "DaemonSet") => {
            let old = current
                .pointer(&format!("/metadata/annotations/{TEMPLATE_GENERATION}"))
                .and_then(Value::as_str)
                .and_then(|g| g.parse::<u64>().ok());
            let changed = current.pointer("/spec/template") != new.pointer("/spec/template");
            let generation = match (old, changed) {
                (old, true) => Some(old.unwrap_or(0) + 1),
                (old, false) => old,
            };
            if let (Some(generation), Some(annotations)) = (generation, annotations_mut(new)) {
                annotations.insert(TEMPLATE_GENERATION.into(), generation.to_string().into());
            }
        }
        _ => {}
    }
}

/// Whether an update moves `metadata.generation` (for kinds that have one).
pub(crate) fn generation_changed(group: &str, kind: &str, current: &Value, new: &Value) -> bool {
    let annotations = |o: &Value| o.pointer("/metadata/annotations").cloned();
    spec_view(current) != spec_view(new)
        || ((group, kind) == ("apps", "Deployment") && annotations(current) != annotations(new))
}

/// The status a freshly created object has (`None`: leave it as it is).
fn initial_status(group: &str, kind: &str, obj: &Value) -> Option<Value> {
    Some(match (group, kind) {
        ("apps", "Deployment") | ("batch", "Job" | "CronJob") => json!({}),
        ("apps", "ReplicaSet") => json!({"replicas": 0}),
        ("apps", "StatefulSet") => json!({"replicas": 0, "availableReplicas": 0}),
        ("apps", "DaemonSet") => json!({
            "currentNumberScheduled": 0,
            "numberMisscheduled": 0,
            "desiredNumberScheduled": 0,
            "numberReady": 0,
        }),
        ("", "Service") | ("networking.k8s.io", "Ingress") => json!({"loadBalancer": {}}),
        ("", "Pod") => json!({"phase": "Pending", "qosClass": qos_class(obj)}),
        ("", "Namespace") => json!({"phase": "Active"}),
        _ => return None,
    })
}

// === Services ===

fn service_type(obj: &Value) -> &str {
    obj.pointer("/spec/type")
        .and_then(Value::as_str)
        .unwrap_or("ClusterIP")
}

fn needs_node_ports(obj: &Value) -> bool {
    match service_type(obj) {
        "NodePort" => true,
        "LoadBalancer" => {
            obj.pointer("/spec/allocateLoadBalancerNodePorts")
                .and_then(Value::as_bool)
                != Some(false)
        }
        _ => false,
    }
}

fn allocate_service(obj: &mut Value, alloc: &mut Allocator) {
    let needs_ip = service_type(obj) != "ExternalName";
    let node_ports = needs_node_ports(obj);
    let Some(spec) = object_at(obj, "spec") else {
        return;
    };
    if needs_ip {
        let ip = match spec.get("clusterIP").and_then(Value::as_str) {
            Some(ip) if !ip.is_empty() => ip.to_string(),
            _ => {
                let ip = alloc.cluster_ip();
                spec.insert("clusterIP".into(), ip.clone().into());
                ip
            }
        };
        spec.entry("clusterIPs").or_insert_with(|| json!([ip]));
        spec.entry("ipFamilies").or_insert_with(|| json!(["IPv4"]));
        spec.entry("ipFamilyPolicy")
            .or_insert_with(|| json!("SingleStack"));
    }
    if node_ports {
        for port in spec
            .get_mut("ports")
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
            .filter_map(Value::as_object_mut)
        {
            if port.get("nodePort").is_none_or(|p| p.as_u64() == Some(0)) {
                port.insert("nodePort".into(), alloc.node_port().into());
            }
        }
    }
}

/// An update that leaves out the allocated values keeps them (`patchAllocatedValues`).
fn keep_allocated(current: &Value, new: &mut Value) {
    let same_kind_of_ip =
        service_type(current) != "ExternalName" && service_type(new) != "ExternalName";
    let node_ports = needs_node_ports(current) && needs_node_ports(new);
    let Some(old_spec) = current.get("spec").and_then(Value::as_object) else {
        return;
    };
    let Some(spec) = object_at(new, "spec") else {
        return;
    };
    if same_kind_of_ip {
        for field in ["clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"] {
            let missing = match spec.get(field) {
                None => true,
                Some(Value::String(s)) => s.is_empty(),
                Some(Value::Array(items)) => items.is_empty(),
                Some(_) => false,
            };
            if missing && let Some(old) = old_spec.get(field) {
                spec.insert(field.into(), old.clone());
            }
        }
    }
    if node_ports {
        let old_ports: Vec<&Value> = old_spec
            .get("ports")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .collect();
        for port in spec
            .get_mut("ports")
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
            .filter_map(Value::as_object_mut)
        {
            if port.get("nodePort").is_some_and(|p| p.as_u64() != Some(0)) {
                continue;
            }
            let same = old_ports.iter().find(|old| {
                old.get("port") == port.get("port")
                    && old.get("protocol").and_then(Value::as_str).unwrap_or("TCP")
                        == port
                            .get("protocol")
                            .and_then(Value::as_str)
                            .unwrap_or("TCP")
            });
            if let Some(node_port) = same.and_then(|old| old.get("nodePort")) {
                port.insert("nodePort".into(), node_port.clone());
            }
        }
    }
}

// === Namespaces, Jobs, Pods ===

/// On create `kubernetes` is added to `spec.finalizers`; on update they are kept from before
/// (only the `/finalize` subresource changes them).
fn namespace_finalizers(obj: &mut Value, current: Option<&Value>) {
    let kept = current.map(|c| c.pointer("/spec/finalizers").cloned());
    let Some(spec) = object_at(obj, "spec") else {
        return;
    };
    match kept {
        Some(Some(finalizers)) => {
            spec.insert("finalizers".into(), finalizers);
        }
        Some(None) => {
            spec.remove("finalizers");
        }
        None => {
            let finalizers = spec
                .entry("finalizers")
                .or_insert_with(|| Value::Array(Vec::new()));
            if let Some(list) = finalizers.as_array_mut()
                && !list.iter().any(|f| f == "kubernetes")
            {
                list.push("kubernetes".into());
            }
        }
    }
}

/// Without `manualSelector`, a Job selects its pods by its uid; its labels default to the
/// template's.
fn job_selector(obj: &mut Value) {
    let manual = obj.pointer("/spec/manualSelector").and_then(Value::as_bool) == Some(true);
    let uid = obj
        .pointer("/metadata/uid")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let name = obj
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    if !manual {
        let labels = object_at(obj, "spec")
            .and_then(|s| {
                s.entry("template")
                    .or_insert_with(|| json!({}))
                    .as_object_mut()
            })
            .and_then(|t| {
                t.entry("metadata")
                    .or_insert_with(|| json!({}))
                    .as_object_mut()
            })
            .and_then(|m| {
                m.entry("labels")
                    .or_insert_with(|| json!({}))
                    .as_object_mut()
            });
        if let Some(labels) = labels {
            for key in ["job-name", "batch.kubernetes.io/job-name"] {
                labels.entry(key).or_insert_with(|| name.clone().into());
            }
            for key in ["controller-uid", "batch.kubernetes.io/controller-uid"] {
                labels.entry(key).or_insert_with(|| uid.clone().into());
            }
        }
        let match_labels = object_at(obj, "spec")
            .and_then(|s| {
                s.entry("selector")
                    .or_insert_with(|| json!({}))
                    .as_object_mut()
            })
            .and_then(|s| {
                s.entry("matchLabels")
                    .or_insert_with(|| json!({}))
                    .as_object_mut()
            });
        if let Some(match_labels) = match_labels {
            match_labels
                .entry("batch.kubernetes.io/controller-uid")
                .or_insert_with(|| uid.into());
        }
    }
    let template_labels = obj.pointer("/spec/template/metadata/labels").cloned();
    if let (Some(labels), Some(meta)) = (template_labels, object_at(obj, "metadata"))
        && meta
            .get("labels")
            .and_then(Value::as_object)
            .is_none_or(Map::is_empty)
    {
        meta.insert("labels".into(), labels);
    }
}

/// The DefaultTolerationSeconds and Priority admission plugins (no PriorityClass objects
/// exist, so only the two built-in classes have a value).
fn pod_admission(obj: &mut Value) {
    let Some(spec) = object_at(obj, "spec") else {
        return;
    };
    let tolerations = spec
        .entry("tolerations")
        .or_insert_with(|| Value::Array(Vec::new()));
    if let Some(list) = tolerations.as_array_mut() {
        for key in [
            "node.kubernetes.io/not-ready",
            "node.kubernetes.io/unreachable",
        ] {
            let tolerated = list.iter().any(|t| {
                let field = |f: &str| t.get(f).and_then(Value::as_str).unwrap_or_default();
                let key_matches = field("key") == key
                    || (field("key").is_empty() && field("operator") == "Exists");
                key_matches && matches!(field("effect"), "" | "NoExecute")
            });
            if !tolerated {
                list.push(
                    json!({"key": key, "operator": "Exists", "effect": "NoExecute",
                                 "tolerationSeconds": 300}),
                );
            }
        }
    }
    let priority = match spec.get("priorityClassName").and_then(Value::as_str) {
        None | Some("") => Some(0),
        Some("system-cluster-critical") => Some(2_000_000_000),
        Some("system-node-critical") => Some(2_000_001_000),
        Some(_) => None,
    };
    if let Some(priority) = priority {
        spec.entry("priority").or_insert_with(|| priority.into());
        spec.entry("preemptionPolicy")
            .or_insert_with(|| "PreemptLowerPriority".into());
    }
}

/// `BestEffort`, `Burstable` or `Guaranteed`, from the cpu and memory requests and limits of
/// the containers and init containers.
fn qos_class(pod: &Value) -> &'static str {
    let containers = ["containers", "initContainers"]
        .iter()
        .filter_map(|list| pod.pointer(&format!("/spec/{list}"))?.as_array())
        .flatten();
    /// Adds the positive cpu and memory amounts to `into`; returns how many were found.
    fn sum(into: &mut BTreeMap<&'static str, f64>, resources: Option<&Value>) -> usize {
        let mut found = 0;
        for name in ["cpu", "memory"] {
            let Some(amount) = resources
                .and_then(|r| r.get(name))
                .and_then(Value::as_str)
                .and_then(parse_quantity)
                .filter(|q| *q > 0.0)
            else {
                continue;
            };
            *into.entry(name).or_default() += amount;
            found += 1;
        }
        found
    }
    let mut requests = BTreeMap::new();
    let mut limits = BTreeMap::new();
    let mut guaranteed = true;
    for container in containers {
        sum(&mut requests, container.pointer("/resources/requests"));
        if sum(&mut limits, container.pointer("/resources/limits")) < 2 {
            guaranteed = false;
        }
    }
    if requests.is_empty() && limits.is_empty() {
        return "BestEffort";
    }
    let equal = requests.len() == limits.len()
        && requests.iter().all(|(name, r)| {
            limits
                .get(name)
                .is_some_and(|l| (r - l).abs() <= f64::EPSILON * r.abs().max(1.0))
        });
    if guaranteed && equal {
        "Guaranteed"
    } else {
        "Burstable"
    }
}

/// A Kubernetes quantity (`100m`, `1.5`, `128Mi`, `1e3`) as a number.
fn parse_quantity(text: &str) -> Option<f64> {
    const SUFFIXES: &[(&str, f64)] = &[
        ("Ki", 1024.0),
        ("Mi", 1_048_576.0),
        ("Gi", 1_073_741_824.0),
        ("Ti", 1_099_511_627_776.0),
        ("Pi", 1_125_899_906_842_624.0),
        ("Ei", 1_152_921_504_606_846_976.0),
        ("n", 1e-9),
        ("u", 1e-6),
        ("m", 1e-3),
        ("k", 1e3),
        ("M", 1e6),
        ("G", 1e9),
        ("T", 1e12),
        ("P", 1e15),
        ("E", 1e18),
    ];
    let text = text.trim();
    for (suffix, factor) in SUFFIXES {
        if let Some(number) = text.strip_suffix(suffix) {
            return number.parse::<f64>().ok().map(|n| n * factor);
        }
    }
    text.parse::<f64>().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_service_gets_an_address_and_keeps_it_when_an_update_leaves_it_out() {
        let mut alloc = Allocator::default();
        let mut svc =
            json!({"spec": {"type": "NodePort", "ports": [{"port": 80, "protocol": "TCP"}]}});
        prepare_for_create("", "Service", &mut svc, &mut alloc);
        assert_eq!(svc["spec"]["clusterIP"], "10.96.0.10");
        assert_eq!(svc["spec"]["clusterIPs"], json!(["10.96.0.10"]));
        assert_eq!(svc["spec"]["ipFamilies"], json!(["IPv4"]));
        assert_eq!(svc["spec"]["ipFamilyPolicy"], "SingleStack");
        assert_eq!(svc["spec"]["ports"][0]["nodePort"], 30000);
        assert_eq!(svc["status"], json!({"loadBalancer": {}}));

        let mut put =
            json!({"spec": {"type": "NodePort", "ports": [{"port": 80, "protocol": "TCP"}]}});
        prepare_for_update("", "Service", &svc, &mut put);
        assert_eq!(put["spec"], svc["spec"]);
    }

    #[test]
    fn workloads_start_with_the_status_the_go_encoder_writes() {
        let cases = [
            ("apps", "Deployment", json!({})),
            ("apps", "ReplicaSet", json!({"replicas": 0})),
            (
                "apps",
                "StatefulSet",
                json!({"replicas": 0, "availableReplicas": 0}),
            ),
            ("batch", "Job", json!({})),
        ];
        for (group, kind, want) in cases {
            let mut obj = json!({"spec": {}, "status": {"replicas": 9}});
            prepare_for_create(group, kind, &mut obj, &mut Allocator::default());
            assert_eq!(obj["status"], want, "{kind}");
        }
    }

    #[test]
    fn a_job_selects_its_pods_by_uid() {
        let mut job = json!({"metadata": {"name": "j", "uid": "u-1"},
            "spec": {"manualSelector": false, "template": {"spec": {}}}});
        prepare_for_create("batch", "Job", &mut job, &mut Allocator::default());
        assert_eq!(
            job["spec"]["selector"],
            json!({"matchLabels": {"batch.kubernetes.io/controller-uid": "u-1"}})
        );
        let labels = json!({"batch.kubernetes.io/controller-uid": "u-1",
            "batch.kubernetes.io/job-name": "j", "controller-uid": "u-1", "job-name": "j"});
        assert_eq!(job["spec"]["template"]["metadata"]["labels"], labels);
        assert_eq!(job["metadata"]["labels"], labels);
    }

    #[test]
    fn a_pod_gets_its_qos_class_tolerations_and_priority() {
        let pod = |resources: Value| {
            let mut pod = json!({"spec": {"containers": [{"name": "c", "resources": resources}]}});
            prepare_for_create("", "Pod", &mut pod, &mut Allocator::default());
            pod
        };
        let guaranteed = pod(json!({"limits": {"cpu": "1", "memory": "1Gi"},
                                    "requests": {"cpu": "1000m", "memory": "1024Mi"}}));
        assert_eq!(
            guaranteed["status"],
            json!({"phase": "Pending", "qosClass": "Guaranteed"})
        );
        assert_eq!(
            pod(json!({"requests": {"cpu": "100m"}}))["status"]["qosClass"],
            "Burstable"
        );
        let best_effort = pod(json!({}));
        assert_eq!(best_effort["status"]["qosClass"], "BestEffort");
        assert_eq!(
            best_effort["spec"]["tolerations"].as_array().unwrap().len(),
            2
        );
        assert_eq!(best_effort["spec"]["priority"], 0);
        assert_eq!(
            best_effort["spec"]["preemptionPolicy"],
            "PreemptLowerPriority"
        );
    }

    #[test]
    fn deployments_count_annotation_changes_as_generations_and_others_do_not() {
        let old = json!({"metadata": {"annotations": {"a": "1"}}, "spec": {"replicas": 1}});
        let new = json!({"metadata": {"annotations": {"a": "2"}}, "spec": {"replicas": 1}});
        assert!(generation_changed("apps", "Deployment", &old, &new));
        assert!(!generation_changed("apps", "ReplicaSet", &old, &new));
        assert!(!generation_changed("apps", "StatefulSet", &old, &new));
        assert!(!generation_changed("apps", "DaemonSet", &old, &new));
    }

    #[test]
    fn a_daemon_set_template_change_bumps_the_template_generation() {
        let mut ds = json!({"spec": {"template": {"spec": {"containers": [{"image": "a"}]}}}});
        owned_on_create("apps", "DaemonSet", &mut ds);
        assert_eq!(ds["metadata"]["annotations"][TEMPLATE_GENERATION], "1");
        let mut new = ds.clone();
        new["spec"]["template"]["spec"]["containers"][0]["image"] = json!("b");
        prepare_for_update("apps", "DaemonSet", &ds, &mut new);
        assert_eq!(new["metadata"]["annotations"][TEMPLATE_GENERATION], "2");
    }
}
