//! What the engine knows about Kubernetes types without a cluster: which kinds are built in (and
//! so diffed with strategic-merge semantics), how each built-in list merges, and where quantities
//! live (ARGOCD-DIFF.md §1.3, §1.5, §7.2 items 3 and 6).
//!
//! Argo CD reads list semantics from the Go struct tags of `k8s.io/api`
//! (`patchStrategy:"merge" patchMergeKey:"…"`). The table below copies those tags for the lists
//! that have them; every other list of a built-in kind is atomic. Custom resources go through a
//! JSON merge patch in Argo CD, so all their lists are atomic.
//!
//! A list is found by its field name and the kind of object that holds it ([`Ctx`]): `ports` is
//! keyed by `containerPort` in a container and by `port` in a Service spec.

/// API groups whose kinds are compiled into Argo CD's scheme (`k8s.io/kubernetes` legacyscheme
/// with every `apis/*/install`). `apiextensions.k8s.io` and `apiregistration.k8s.io` are not in
/// it: Argo CD diffs CRDs and APIServices as unknown types.
const BUILTIN_GROUPS: &[&str] = &[
    "",
    "admissionregistration.k8s.io",
    "apps",
    "authentication.k8s.io",
    "authorization.k8s.io",
    "autoscaling",
    "batch",
    "certificates.k8s.io",
    "coordination.k8s.io",
    "discovery.k8s.io",
    "events.k8s.io",
    "extensions",
    "flowcontrol.apiserver.k8s.io",
    "internal.apiserver.k8s.io",
    "networking.k8s.io",
    "node.k8s.io",
    "policy",
    "rbac.authorization.k8s.io",
    "resource.k8s.io",
    "scheduling.k8s.io",
    "storage.k8s.io",
    "storagemigration.k8s.io",
];

/// Is `group` one whose kinds Argo CD diffs with strategic-merge semantics?
pub fn is_builtin_group(group: &str) -> bool {
    BUILTIN_GROUPS.contains(&group)
}

/// Which kind of object the walk is in, as far as list and quantity rules care.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ctx {
    Root,
    Metadata,
    PodTemplate,
    PodSpec,
    Container,
    ServiceSpec,
    Other,
}

/// How a list is compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListRule {
    /// Items matched by the value of this key; extra live items are not drift.
    Merge(&'static str),
    /// A list of scalars merged as a set (`finalizers`): every desired item must be live.
    MergeSet,
    /// Compared as a whole, index by index.
    Atomic,
}

/// The context of `key`'s value inside an object of context `parent`, in a built-in `kind`.
pub fn child_ctx(kind: &str, parent: Ctx, key: &str) -> Ctx {
    match (parent, key) {
        (Ctx::Root, "metadata") | (Ctx::PodTemplate, "metadata") => Ctx::Metadata,
        (Ctx::Root, "spec") if kind == "Pod" => Ctx::PodSpec,
        (Ctx::Root, "spec") if kind == "Service" => Ctx::ServiceSpec,
        (Ctx::Root, "template") if kind == "PodTemplate" => Ctx::PodTemplate,
        (Ctx::PodTemplate, "spec") => Ctx::PodSpec,
        // Every `template` of a built-in workload (Deployment, StatefulSet, DaemonSet,
        // ReplicaSet, Job, CronJob's jobTemplate.spec, ReplicationController) is a
        // PodTemplateSpec.
        (Ctx::Other, "template") => Ctx::PodTemplate,
        _ => Ctx::Other,
    }
}

/// The context of the items of list `key` in an object of context `parent`.
pub fn item_ctx(parent: Ctx, key: &str) -> Ctx {
    match (parent, key) {
        (Ctx::PodSpec, "containers" | "initContainers" | "ephemeralContainers") => Ctx::Container,
        _ => Ctx::Other,
    }
}

/// The merge rule of list `key` in an object of context `parent` (built-in kinds only).
pub fn list_rule(kind: &str, parent: Ctx, key: &str) -> ListRule {
    use ListRule::*;
    match (parent, key) {
        (Ctx::Metadata, "ownerReferences") => Merge("uid"),
        (Ctx::Metadata, "finalizers") => MergeSet,
        (Ctx::PodSpec, "containers" | "initContainers" | "ephemeralContainers") => Merge("name"),
        (Ctx::PodSpec, "volumes" | "imagePullSecrets" | "resourceClaims" | "schedulingGates") => {
            Merge("name")
        }
        (Ctx::PodSpec, "hostAliases") => Merge("ip"),
        (Ctx::PodSpec, "topologySpreadConstraints") => Merge("topologyKey"),
        (Ctx::Container, "env") => Merge("name"),
        (Ctx::Container, "ports") => Merge("containerPort"),
        (Ctx::Container, "volumeMounts") => Merge("mountPath"),
        (Ctx::Container, "volumeDevices") => Merge("devicePath"),
        (Ctx::ServiceSpec, "ports") => Merge("port"),
        (Ctx::Root, "secrets") if kind == "ServiceAccount" => Merge("name"),
        (Ctx::Root, "webhooks")
            if kind == "MutatingWebhookConfiguration"
                || kind == "ValidatingWebhookConfiguration" =>
        {
            Merge("name")
        }
        (_, "conditions") => Merge("type"),
        (_, "podCIDRs") if kind == "Node" => MergeSet,
        _ => Atomic,
    }
}

/// Does the value at this chain of object keys (array indices left out) hold a
/// `resource.Quantity` in a built-in kind?
pub fn is_quantity_path(keys: &[&str]) -> bool {
    let n = keys.len();
    let at = |back: usize| -> Option<&str> { n.checked_sub(back).map(|i| keys[i]) };
    matches!(
        (at(3), at(2), at(1)),
        (Some("resources"), Some("limits" | "requests"), Some(_))
            | (Some("overhead"), Some("podFixed"), Some(_))
            | (
                Some("limits"),
                Some("max" | "min" | "default" | "defaultRequest" | "maxLimitRequestRatio"),
                Some(_),
            )
            | (
                _,
                Some("overhead" | "hard" | "used" | "capacity" | "allocatable"),
                Some(_)
            )
            | (_, _, Some("sizeLimit" | "maximumVolumeSize"))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_ports_and_service_ports_merge_on_different_keys() {
        let pod_spec = child_ctx("Pod", Ctx::Root, "spec");
        let container = item_ctx(pod_spec, "containers");
        assert_eq!(
            list_rule("Pod", container, "ports"),
            ListRule::Merge("containerPort")
        );
        let svc_spec = child_ctx("Service", Ctx::Root, "spec");
        assert_eq!(
            list_rule("Service", svc_spec, "ports"),
            ListRule::Merge("port")
        );
        assert_eq!(list_rule("Pod", container, "args"), ListRule::Atomic);
    }

    #[test]
    fn a_deployment_template_is_a_pod_template() {
        let spec = child_ctx("Deployment", Ctx::Root, "spec");
        let template = child_ctx("Deployment", spec, "template");
        let pod_spec = child_ctx("Deployment", template, "spec");
        assert_eq!(pod_spec, Ctx::PodSpec);
        assert_eq!(
            list_rule("Deployment", pod_spec, "tolerations"),
            ListRule::Atomic
        );
        assert_eq!(
            list_rule("Deployment", pod_spec, "volumes"),
            ListRule::Merge("name")
        );
    }

    #[test]
    fn quantities_are_found_where_kubernetes_keeps_them() {
        assert!(is_quantity_path(&[
            "spec",
            "template",
            "spec",
            "containers",
            "resources",
            "limits",
            "cpu"
        ]));
        assert!(is_quantity_path(&["spec", "hard", "pods"]));
        assert!(is_quantity_path(&[
            "spec",
            "volumes",
            "emptyDir",
            "sizeLimit"
        ]));
        assert!(!is_quantity_path(&["data", "limits"]));
        assert!(!is_quantity_path(&["spec", "replicas"]));
    }

    #[test]
    fn crds_and_apiservices_are_not_builtin() {
        assert!(is_builtin_group("apps"));
        assert!(is_builtin_group(""));
        assert!(!is_builtin_group("apiextensions.k8s.io"));
        assert!(!is_builtin_group("argoproj.io"));
    }
}
