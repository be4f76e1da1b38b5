//! Diff settings: the system-wide ones from `argocd-cm`, parsed by [`parse_argocd_cm`], and how an
//! ignore rule (app or system) selects a resource (ARGOCD-DIFF.md §2.1, §2.6, §3.1).
//!
//! Keys read from `argocd-cm` (the backend should watch these):
//!
//! | key | meaning |
//! |---|---|
//! | `resource.customizations.ignoreDifferences.<group>_<kind>` | rules for one kind (`.<kind>` for the core group, `.all` for every kind); YAML `{jsonPointers, jqPathExpressions, managedFieldsManagers}` |
//! | `resource.customizations` | legacy: YAML map `"<group>/<kind>": {ignoreDifferences: <YAML text>}` |
//! | `resource.compareoptions` | YAML `{ignoreResourceStatusField: all\|crd\|none, ignoreAggregatedRoles: bool}` |
//! | `resource.sensitive.mask.annotations` | comma list of annotation keys masked like Secret data |
//! | `application.instanceLabelKey` | the label Argo CD's label tracking uses (default `app.kubernetes.io/instance`) |
//!
//! A value that does not parse is skipped and named in [`SystemSettings::problems`]; the other
//! keys still apply.

use crate::app::IgnoreDifference;
use serde::Deserialize;
use std::collections::BTreeMap;

/// `resource.compareoptions.ignoreResourceStatusField`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum StatusField {
    /// `status` is ignored on every kind (the 3.x default).
    #[default]
    All,
    /// Only on custom resources.
    Crd,
    /// Compared everywhere.
    None,
}

/// System-wide diff settings. `Default` is Argo CD's default configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct SystemSettings {
    pub ignore_rules: Vec<SystemRule>,
    pub status_field: StatusField,
    pub ignore_aggregated_roles: bool,
    pub sensitive_annotations: Vec<String>,
    pub instance_label_key: String,
    /// argocd-cm entries that were skipped, and why (key names only, never values).
    pub problems: Vec<String>,
}

impl Default for SystemSettings {
    fn default() -> Self {
        Self {
            ignore_rules: Vec::new(),
            status_field: StatusField::All,
            ignore_aggregated_roles: false,
            sensitive_annotations: Vec::new(),
            instance_label_key: DEFAULT_INSTANCE_LABEL.to_string(),
            problems: Vec::new(),
        }
    }
}

pub const DEFAULT_INSTANCE_LABEL: &str = "app.kubernetes.io/instance";

/// One system rule and the argocd-cm key it came from (`group` and `kind` are globs from the key).
#[derive(Clone, Debug, PartialEq)]
pub struct SystemRule {
    pub source_key: String,
    pub rule: IgnoreDifference,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct OverrideValue {
    json_pointers: Vec<String>,
    jq_path_expressions: Vec<String>,
    managed_fields_managers: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct CompareOptions {
    ignore_resource_status_field: Option<String>,
    ignore_aggregated_roles: Option<bool>,
}

const SPLIT_PREFIX: &str = "resource.customizations.ignoreDifferences.";

/// Parses the diff settings out of `argocd-cm`'s `data`.
pub fn parse_argocd_cm(data: &BTreeMap<String, String>) -> SystemSettings {
    let mut s = SystemSettings::default();
    for (key, value) in data {
        if let Some(group_kind) = key.strip_prefix(SPLIT_PREFIX) {
            let (group, kind) = split_key_group_kind(group_kind);
            match serde_saphyr::from_str::<OverrideValue>(value) {
                Ok(v) => s.ignore_rules.push(rule(key, group, kind, v)),
                Err(_) => s
                    .problems
                    .push(format!("{key}: not a valid ignoreDifferences value")),
            }
        }
    }
    if let Some(legacy) = data.get("resource.customizations") {
        parse_legacy(legacy, &mut s);
    }
    if let Some(opts) = data.get("resource.compareoptions") {
        match serde_saphyr::from_str::<CompareOptions>(opts) {
            Ok(o) => {
                if let Some(mode) = o.ignore_resource_status_field {
                    s.status_field = match mode.trim().to_ascii_lowercase().as_str() {
                        "crd" => StatusField::Crd,
                        "none" | "off" | "false" => StatusField::None,
                        _ => StatusField::All,
                    };
                }
                s.ignore_aggregated_roles = o.ignore_aggregated_roles.unwrap_or(false);
            }
            Err(_) => s
                .problems
                .push("resource.compareoptions: not valid YAML; defaults used".into()),
        }
    }
    if let Some(list) = data.get("resource.sensitive.mask.annotations") {
        s.sensitive_annotations = list
            .split(',')
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .map(str::to_string)
            .collect();
    }
    if let Some(label) = data.get("application.instanceLabelKey").map(|l| l.trim())
        && !label.is_empty()
    {
        s.instance_label_key = label.to_string();
    }
    s
}

/// `apps_Deployment` → (`apps`, `Deployment`); `ConfigMap` → (``, `ConfigMap`); `all` → (`*`, `*`).
fn split_key_group_kind(s: &str) -> (String, String) {
    if s == "all" {
        return ("*".into(), "*".into());
    }
    match s.split_once('_') {
        Some((g, k)) => (g.to_string(), k.to_string()),
        None => (String::new(), s.to_string()),
    }
}

fn rule(key: &str, group: String, kind: String, v: OverrideValue) -> SystemRule {
    SystemRule {
        source_key: key.to_string(),
        rule: IgnoreDifference {
            group,
            kind,
            name: None,
            namespace: None,
            json_pointers: v.json_pointers,
            jq_path_expressions: v.jq_path_expressions,
            managed_fields_managers: v.managed_fields_managers,
        },
    }
}

fn parse_legacy(text: &str, s: &mut SystemSettings) {
    let Ok(map) = serde_saphyr::from_str::<BTreeMap<String, serde_json::Value>>(text) else {
        s.problems
            .push("resource.customizations: not valid YAML; skipped".into());
        return;
    };
    for (group_kind, custom) in map {
        let Some(ignore) = custom.get("ignoreDifferences") else {
            continue;
        };
        let parsed = match ignore {
            serde_json::Value::String(inner) => serde_saphyr::from_str::<OverrideValue>(inner).ok(),
            other => serde_json::from_value::<OverrideValue>(other.clone()).ok(),
        };
        let key = format!("resource.customizations[{group_kind}]");
        let (group, kind) = match group_kind.trim_start_matches('/').split_once('/') {
            Some((g, k)) => (g.to_string(), k.to_string()),
            None => (
                String::new(),
                group_kind.trim_start_matches('/').to_string(),
            ),
        };
        match parsed {
            Some(v) => s.ignore_rules.push(rule(&key, group, kind, v)),
            None => s
                .problems
                .push(format!("{key}: not a valid ignoreDifferences value")),
        }
    }
}

/// Does `rule` select the resource? Group and kind are globs (`*`, `?`); name and namespace, when
/// set, must be equal.
pub fn selects(
    rule: &IgnoreDifference,
    group: &str,
    kind: &str,
    namespace: &str,
    name: &str,
) -> bool {
    glob(&rule.group, group)
        && glob(&rule.kind, kind)
        && rule
            .name
            .as_deref()
            .is_none_or(|n| n.is_empty() || n == name)
        && rule
            .namespace
            .as_deref()
            .is_none_or(|n| n.is_empty() || n == namespace)
}

/// Glob match with `*` (any run) and `?` (one character), as Argo CD's `glob.Match` is used here.
pub fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cm(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn split_keys_name_the_group_and_kind_and_all_means_every_kind() {
        let s = parse_argocd_cm(&cm(&[
            (
                "resource.customizations.ignoreDifferences.apps_Deployment",
                "jsonPointers:\n- /spec/replicas\n",
            ),
            (
                "resource.customizations.ignoreDifferences.ConfigMap",
                "jqPathExpressions:\n- .data.x\n",
            ),
            (
                "resource.customizations.ignoreDifferences.all",
                "managedFieldsManagers:\n- kube-controller-manager\n",
            ),
        ]));
        assert!(s.problems.is_empty(), "{:?}", s.problems);
        let by_kind: Vec<(&str, &str)> = s
            .ignore_rules
            .iter()
            .map(|r| (r.rule.group.as_str(), r.rule.kind.as_str()))
            .collect();
        // argocd-cm data is a sorted map: `ConfigMap` < `all` < `apps_Deployment`.
        assert_eq!(
            by_kind,
            [("", "ConfigMap"), ("*", "*"), ("apps", "Deployment")]
        );
        assert_eq!(s.ignore_rules[2].rule.json_pointers, ["/spec/replicas"]);
        assert_eq!(
            s.ignore_rules[1].rule.managed_fields_managers,
            ["kube-controller-manager"]
        );
    }

    #[test]
    fn compare_options_masks_and_the_instance_label_are_read() {
        let s = parse_argocd_cm(&cm(&[
            (
                "resource.compareoptions",
                "ignoreAggregatedRoles: true\nignoreResourceStatusField: crd\n",
            ),
            (
                "resource.sensitive.mask.annotations",
                "vault.io/token, x-secret",
            ),
            (
                "application.instanceLabelKey",
                "argocd.argoproj.io/instance",
            ),
        ]));
        assert_eq!(s.status_field, StatusField::Crd);
        assert!(s.ignore_aggregated_roles);
        assert_eq!(s.sensitive_annotations, ["vault.io/token", "x-secret"]);
        assert_eq!(s.instance_label_key, "argocd.argoproj.io/instance");
        assert_eq!(
            SystemSettings::default().status_field,
            StatusField::All,
            "3.x default"
        );
    }

    #[test]
    fn the_legacy_customizations_key_carries_ignore_differences_as_yaml_text() {
        let s = parse_argocd_cm(&cm(&[(
            "resource.customizations",
            "admissionregistration.k8s.io/MutatingWebhookConfiguration:\n  ignoreDifferences: |\n    jsonPointers:\n    - /webhooks/0/clientConfig/caBundle\n",
        )]));
        assert_eq!(s.ignore_rules.len(), 1);
        let r = &s.ignore_rules[0].rule;
        assert_eq!(r.group, "admissionregistration.k8s.io");
        assert_eq!(r.json_pointers, ["/webhooks/0/clientConfig/caBundle"]);
    }

    #[test]
    fn a_broken_value_is_skipped_and_named_while_the_rest_applies() {
        let s = parse_argocd_cm(&cm(&[
            (
                "resource.customizations.ignoreDifferences.apps_Deployment",
                "jsonPointers: {oops",
            ),
            (
                "resource.customizations.ignoreDifferences.Service",
                "jsonPointers: [/spec/x]",
            ),
        ]));
        assert_eq!(s.ignore_rules.len(), 1);
        assert_eq!(s.problems.len(), 1);
        assert!(
            s.problems[0].starts_with("resource.customizations.ignoreDifferences.apps_Deployment")
        );
    }

    #[test]
    fn rules_select_by_group_and_kind_glob_and_exact_name_and_namespace() {
        let mut r = IgnoreDifference {
            group: "apps".into(),
            kind: "*".into(),
            ..Default::default()
        };
        assert!(selects(&r, "apps", "Deployment", "ns", "a"));
        assert!(!selects(&r, "", "ConfigMap", "ns", "a"));
        r.name = Some("a".into());
        r.namespace = Some("ns".into());
        assert!(selects(&r, "apps", "StatefulSet", "ns", "a"));
        assert!(!selects(&r, "apps", "StatefulSet", "ns", "b"));
        assert!(!selects(&r, "apps", "StatefulSet", "other", "a"));
        assert!(glob("*.k8s.io", "networking.k8s.io"));
        assert!(glob("Ingress?", "IngressX"));
        assert!(!glob("Ingress?", "Ingress"));
        assert!(glob("", ""));
    }
}
