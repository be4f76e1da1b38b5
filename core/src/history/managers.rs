//! Field managers as a bounded class, for metric labels: a manager name is free text (any client
//! may call itself anything), so metrics never carry it — only which kind of tool it is.

/// The classes, in label order.
pub const CLASSES: [&str; 4] = ["interactive", "automation", "other", "unknown"];

/// `interactive`: a person at a tool (kubectl and its plugins, Argo CD's UI and API through
/// argocd-server, k9s, Lens, Headlamp, the Kubernetes dashboard); `automation`: controllers,
/// operators and deployment tools (Helm, Flux, Terraform, Pulumi, kube-controller-manager, …);
/// `other`: anything else.
pub fn class(manager: &str) -> &'static str {
    let m = manager.to_ascii_lowercase();
    const INTERACTIVE: [&str; 7] = [
        "kubectl",
        "argocd-server",
        "k9s",
        "lens",
        "openlens",
        "headlamp",
        "dashboard",
    ];
    const AUTOMATION: [&str; 8] = [
        "helm",
        "flux",
        "kustomize-controller",
        "terraform",
        "pulumi",
        "kube-controller-manager",
        "kube-scheduler",
        "kubelet",
    ];
    let starts = |prefixes: &[&str]| {
        prefixes
            .iter()
            .any(|p| m == *p || m.starts_with(&format!("{p}-")) || m.starts_with(&format!("{p}.")))
    };
    if starts(&INTERACTIVE) {
        "interactive"
    } else if starts(&AUTOMATION)
        || m.ends_with("-controller")
        || m.ends_with("-operator")
        || m.contains("controller-manager")
    {
        "automation"
    } else {
        "other"
    }
}

/// The class of a set of managers: `interactive` if any is, else `automation` if any is, else
/// `other`; `unknown` when none is known (drift not inspected yet).
pub fn class_of<'a>(managers: impl IntoIterator<Item = &'a str>) -> &'static str {
    let mut best = "unknown";
    for m in managers {
        best = match (best, class(m)) {
            (_, "interactive") => return "interactive",
            ("automation", _) | (_, "automation") => "automation",
            _ => "other",
        };
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn people_at_tools_are_interactive_and_controllers_are_automation() {
        for m in [
            "kubectl-edit",
            "kubectl-client-side-apply",
            "kubectl",
            "argocd-server",
            "k9s",
        ] {
            assert_eq!(class(m), "interactive", "{m}");
        }
        for m in [
            "helm",
            "kube-controller-manager",
            "cert-manager-controller",
            "prometheus-operator",
            "flux-client-side-apply",
        ] {
            assert_eq!(class(m), "automation", "{m}");
        }
        assert_eq!(class("my-script"), "other");
        assert_eq!(class("kubectlish"), "other", "a prefix is a whole word");
    }

    #[test]
    fn a_set_takes_the_most_telling_class() {
        assert_eq!(class_of([]), "unknown");
        assert_eq!(class_of(["helm", "kubectl-edit"]), "interactive");
        assert_eq!(class_of(["my-script", "helm"]), "automation");
        assert_eq!(class_of(["my-script"]), "other");
        assert!(CLASSES.contains(&class_of(["x"])));
    }
}
