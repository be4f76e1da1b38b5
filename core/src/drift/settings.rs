//! Diff settings: the system-wide ones from `argocd-cm`, parsed by [`parse_argocd_cm`], and how an
//! ignore rule (app or system) selects a resource (ARGOCD-DIFF.md §2.1, §2.6, §3.1).
//!
//! Keys read from `argocd-cm` (the backend should watch these):
//!
//! | key | meaning |
//! |---|---|
//! | `resource.customizations.ignoreDifferences.<group>_<kind>` | rules for one kind (`.<kind>` for the core group, `.all` for every kind); YAML `{jsonPointers, jqPathExpressions, managedFieldsManagers}` |
//! | `resource.customizations.knownTypeFields.<group>_<kind>` | YAML `[{field, type}]`: fields of a custom resource diffed as a Kubernetes type (`core/v1/PodSpec`) |
//! | `resource.customizations` | legacy: YAML map `"<group>/<kind>": {ignoreDifferences: <YAML text>, knownTypeFields: [...]}` |
//! | `resource.compareoptions` | YAML `{ignoreResourceStatusField: all\|crd\|none, ignoreAggregatedRoles: bool}` |
//! | `resource.sensitive.mask.annotations` | comma list of annotation keys masked like Secret data |
//! | `application.instanceLabelKey` | the label Argo CD's label tracking uses (default `app.kubernetes.io/instance`) |
//! | `application.resourceTrackingMethod` | `annotation` (default), `annotation+label` or `label`: whether Argo CD writes its tracking-id annotation |
//!
//! As in Argo CD (`util/settings/settings.go`, `GetResourceOverrides`), the keys build one map of
//! overrides by `<group>/<kind>` key: the legacy key first, then each split key, whose
//! `ignoreDifferences` **replaces** that kind's legacy value (never a union). JSON pointers and jq
//! expressions of an override select resources by glob on the key's group and kind; its
//! `managedFieldsManagers` are looked up by the exact key `<group>/<kind>` (`/ConfigMap` for a
//! core kind) or `*/*`, so a split key for a core kind (`…ignoreDifferences.ConfigMap`, stored as
//! `ConfigMap`) never applies its managers — Argo CD's behaviour, kept.
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
    /// `knownTypeFields` by the override key's group and kind (`argoproj.io`, `Rollout`), with
    /// Argo CD's default for Rollouts added when not configured.
    pub known_type_fields: Vec<KnownTypeField>,
    pub status_field: StatusField,
    pub ignore_aggregated_roles: bool,
    pub sensitive_annotations: Vec<String>,
    pub instance_label_key: String,
    /// The controller diffs server-side by default (argocd-cmd-params-cm
    /// `controller.diff.server.side`, [`SystemSettings::with_cmd_params`]); an app's compare
    /// options can say otherwise.
    pub server_side_diff: bool,
    /// Argo CD tracks objects by the `argocd.argoproj.io/tracking-id` annotation
    /// (`application.resourceTrackingMethod`: `annotation`, the 3.x default, or
    /// `annotation+label`; not `label`).
    pub annotation_tracking: bool,
    /// argocd-cm entries that were skipped, and why (key names only, never values).
    pub problems: Vec<String>,
}

impl Default for SystemSettings {
    fn default() -> Self {
        Self {
            ignore_rules: Vec::new(),
            known_type_fields: default_known_type_fields(),
            status_field: StatusField::All,
            ignore_aggregated_roles: false,
            sensitive_annotations: Vec::new(),
            instance_label_key: DEFAULT_INSTANCE_LABEL.to_string(),
            server_side_diff: false,
            annotation_tracking: true,
            problems: Vec::new(),
        }
    }
}

pub const DEFAULT_INSTANCE_LABEL: &str = "app.kubernetes.io/instance";

impl SystemSettings {
    /// The controller parameters that change its diff, from argocd-cmd-params-cm's `data`:
    /// `controller.diff.server.side` (`true` turns server-side diff on for every app).
    pub fn with_cmd_params(mut self, data: &BTreeMap<String, String>) -> Self {
        self.server_side_diff = data
            .get("controller.diff.server.side")
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
        self
    }
}

/// One system rule and the argocd-cm key it came from. `group` and `kind` are globs from the
/// override key (for pointers and jq); `override_key` is the key itself (`apps/Deployment`,
/// `ConfigMap`, `*/*`), which `managedFieldsManagers` are looked up by.
#[derive(Clone, Debug, PartialEq)]
pub struct SystemRule {
    pub source_key: String,
    pub override_key: String,
    pub rule: IgnoreDifference,
}

impl SystemRule {
    /// Do this rule's `managedFieldsManagers` apply to `group`/`kind`? Only by the exact key
    /// `<group>/<kind>` or `*/*` (Argo CD's `HasIgnoreDifference`).
    pub fn managers_apply_to(&self, group: &str, kind: &str) -> bool {
        self.override_key == "*/*"
            || self
                .override_key
                .strip_prefix(group)
                .and_then(|r| r.strip_prefix('/'))
                == Some(kind)
    }
}

/// One `knownTypeFields` entry: `field` (dot-separated) of `group`/`kind` objects is diffed as
/// the Kubernetes type `type_name` (`core/v1/PodSpec`, `core/Quantity`, `meta/v1/Duration`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KnownTypeField {
    pub group: String,
    pub kind: String,
    pub field: Vec<String>,
    pub type_name: String,
}

fn default_known_type_fields() -> Vec<KnownTypeField> {
    vec![KnownTypeField {
        group: "argoproj.io".into(),
        kind: "Rollout".into(),
        field: vec!["spec".into(), "template".into(), "spec".into()],
        type_name: "core/v1/PodSpec".into(),
    }]
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct OverrideValue {
    json_pointers: Vec<String>,
    jq_path_expressions: Vec<String>,
    managed_fields_managers: Vec<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct KnownTypeFieldValue {
    field: String,
    #[serde(rename = "type")]
    type_name: String,
}

/// One override key's settings as they are built up (legacy first, split keys replacing).
#[derive(Clone, Debug, Default)]
struct Override {
    ignore: Option<(String, OverrideValue)>,
    known_types: Option<Vec<KnownTypeFieldValue>>,
}

const PREFIX: &str = "resource.customizations.";

/// Parses the diff settings out of `argocd-cm`'s `data`.
pub fn parse_argocd_cm(data: &BTreeMap<String, String>) -> SystemSettings {
    let mut s = SystemSettings::default();
    let mut overrides: BTreeMap<String, Override> = BTreeMap::new();
    if let Some(legacy) = data.get("resource.customizations") {
        parse_legacy(legacy, &mut s, &mut overrides);
    }
    for (key, value) in data {
        let Some(rest) = key.strip_prefix(PREFIX) else {
            continue;
        };
        let Some((kind_of_setting, group_kind)) = rest.split_once('.') else {
            continue;
        };
        if !matches!(kind_of_setting, "ignoreDifferences" | "knownTypeFields") {
            continue;
        }
        let Some(override_key) = override_key(group_kind) else {
            s.problems.push(format!(
                "{key}: the key must end in <group>_<kind> or <kind>; skipped"
            ));
            continue;
        };
        let entry = overrides.entry(override_key).or_default();
        if kind_of_setting == "ignoreDifferences" {
            match serde_saphyr::from_str::<OverrideValue>(value) {
                Ok(v) => entry.ignore = Some((key.clone(), v)),
                Err(_) => s
                    .problems
                    .push(format!("{key}: not a valid ignoreDifferences value")),
            }
        } else {
            match serde_saphyr::from_str::<Vec<KnownTypeFieldValue>>(value) {
                Ok(v) => entry.known_types = Some(v),
                Err(_) => s
                    .problems
                    .push(format!("{key}: not a valid knownTypeFields value")),
            }
        }
    }
    let mut known = Vec::new();
    for (override_key, o) in overrides {
        let (group, kind) = group_kind_of(&override_key);
        if let Some((source, v)) = o.ignore {
            s.ignore_rules
                .push(rule(&source, &override_key, group.clone(), kind.clone(), v));
        }
        for f in o.known_types.unwrap_or_default() {
            known.push(KnownTypeField {
                group: group.clone(),
                kind: kind.clone(),
                field: f.field.split('.').map(str::to_string).collect(),
                type_name: f.type_name,
            });
        }
    }
    if !known
        .iter()
        .any(|k| k.group == "argoproj.io" && k.kind == "Rollout")
    {
        known.extend(default_known_type_fields());
    }
    s.known_type_fields = known;
    if let Some(opts) = data.get("resource.compareoptions") {
        match serde_saphyr::from_str::<serde_json::Value>(opts) {
            Ok(o) => {
                // A YAML 1.1 `off`/`false` arrives as a boolean; Argo CD reads it as text.
                let text = |v: &serde_json::Value| match v {
                    serde_json::Value::String(t) => Some(t.clone()),
                    serde_json::Value::Bool(b) => Some(b.to_string()),
                    serde_json::Value::Null => None,
                    other => Some(other.to_string()),
                };
                if let Some(mode) = o.get("ignoreResourceStatusField").and_then(text) {
                    s.status_field = match mode.as_str() {
                        "" | "all" => StatusField::All,
                        "crd" => StatusField::Crd,
                        "none" | "off" | "false" => StatusField::None,
                        _ => StatusField::All,
                    };
                }
                s.ignore_aggregated_roles = match o.get("ignoreAggregatedRoles") {
                    Some(serde_json::Value::Bool(b)) => *b,
                    Some(serde_json::Value::String(t)) => t == "true",
                    _ => false,
                };
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
    if let Some(method) = data
        .get("application.resourceTrackingMethod")
        .map(|m| m.trim())
        && !method.is_empty()
    {
        s.annotation_tracking = method != "label";
    }
    if let Some(label) = data.get("application.instanceLabelKey").map(|l| l.trim())
        && !label.is_empty()
    {
        s.instance_label_key = label.to_string();
    }
    s
}

/// A split key's `<group>_<kind>` as Argo CD's override key: `apps_Deployment` →
/// `apps/Deployment`; `ConfigMap` → `ConfigMap` (no group part!); `all` → `*/*`.
fn override_key(s: &str) -> Option<String> {
    let parts: Vec<&str> = s.split('_').collect();
    match parts.as_slice() {
        [g, k] => Some(format!("{g}/{k}")),
        ["all"] => Some("*/*".into()),
        [k] if !k.is_empty() => Some((*k).to_string()),
        _ => None,
    }
}

/// An override key's group and kind globs: `a/b` → (`a`, `b`); `b` → (``, `b`).
fn group_kind_of(key: &str) -> (String, String) {
    match key.split('/').collect::<Vec<_>>().as_slice() {
        [g, k] => (g.to_string(), k.to_string()),
        _ => (String::new(), key.to_string()),
    }
}

fn rule(
    key: &str,
    override_key: &str,
    group: String,
    kind: String,
    v: OverrideValue,
) -> SystemRule {
    SystemRule {
        source_key: key.to_string(),
        override_key: override_key.to_string(),
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

fn parse_legacy(text: &str, s: &mut SystemSettings, overrides: &mut BTreeMap<String, Override>) {
    let Ok(map) = serde_saphyr::from_str::<BTreeMap<String, serde_json::Value>>(text) else {
        s.problems
            .push("resource.customizations: not valid YAML; skipped".into());
        return;
    };
    for (group_kind, custom) in map {
        let key = format!("resource.customizations[{group_kind}]");
        let entry = overrides.entry(group_kind.clone()).or_default();
        if let Some(ignore) = custom.get("ignoreDifferences") {
            let parsed = match ignore {
                serde_json::Value::String(inner) => {
                    serde_saphyr::from_str::<OverrideValue>(inner).ok()
                }
                other => serde_json::from_value::<OverrideValue>(other.clone()).ok(),
            };
            match parsed {
                Some(v) => entry.ignore = Some((key.clone(), v)),
                None => s
                    .problems
                    .push(format!("{key}: not a valid ignoreDifferences value")),
            }
        }
        if let Some(known) = custom.get("knownTypeFields") {
            match serde_json::from_value::<Vec<KnownTypeFieldValue>>(known.clone()) {
                Ok(v) => entry.known_types = Some(v),
                Err(_) => s
                    .problems
                    .push(format!("{key}: not a valid knownTypeFields value")),
            }
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

/// Glob match as Argo CD's `glob.Match` (`github.com/gobwas/glob`, no separators): `*` any run,
/// `?` one character, `[abc]` / `[a-z]` / `[!a-z]` classes, `{a,b}` alternatives (nestable), `\`
/// escapes the next character. A pattern that does not compile matches nothing, as in Argo CD.
/// Matching keeps the set of text positions reached, so it is polynomial whatever the pattern.
pub fn glob(pattern: &str, text: &str) -> bool {
    let Some(tokens) = parse_glob(&mut pattern.chars().peekable(), false) else {
        return false;
    };
    let text: Vec<char> = text.chars().collect();
    // Outside braces a comma is a plain character: one sequence.
    let seq = tokens.concat();
    ends(&seq, std::iter::once(0).collect(), &text).contains(&text.len())
}

#[derive(Clone, Debug)]
enum Tok {
    Lit(char),
    One,
    Star,
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
    Alt(Vec<Vec<Tok>>),
}

/// Parses up to the end (or, inside braces, up to the closing `}`): the alternatives, split at
/// top-level commas when `in_braces`.
fn parse_glob(
    it: &mut std::iter::Peekable<std::str::Chars<'_>>,
    in_braces: bool,
) -> Option<Vec<Vec<Tok>>> {
    let mut alts = vec![Vec::new()];
    loop {
        let Some(c) = it.next() else {
            return (!in_braces).then_some(alts);
        };
        let cur = alts.last_mut()?;
        match c {
            '\\' => cur.push(Tok::Lit(it.next()?)),
            '*' => cur.push(Tok::Star),
            '?' => cur.push(Tok::One),
            '[' => {
                let negated = it.next_if_eq(&'!').is_some();
                let mut ranges = Vec::new();
                loop {
                    let lo = match it.next()? {
                        ']' if !ranges.is_empty() => break,
                        ']' => return None,
                        '\\' => it.next()?,
                        x => x,
                    };
                    if it.next_if_eq(&'-').is_some() {
                        let hi = it.next()?;
                        ranges.push((lo, hi));
                    } else {
                        ranges.push((lo, lo));
                    }
                }
                cur.push(Tok::Class { negated, ranges });
            }
            '{' => {
                let inner = parse_glob(it, true)?;
                cur.push(Tok::Alt(inner));
            }
            ',' if in_braces => alts.push(Vec::new()),
            '}' if in_braces => return Some(alts),
            x => cur.push(Tok::Lit(x)),
        }
    }
}

/// The text positions a token sequence can end at, starting from any of `starts`.
fn ends(
    seq: &[Tok],
    mut at: std::collections::BTreeSet<usize>,
    text: &[char],
) -> std::collections::BTreeSet<usize> {
    for tok in seq {
        if at.is_empty() {
            break;
        }
        at = match tok {
            Tok::Lit(c) => at
                .into_iter()
                .filter(|&i| text.get(i) == Some(c))
                .map(|i| i + 1)
                .collect(),
            Tok::One => at
                .into_iter()
                .filter(|&i| i < text.len())
                .map(|i| i + 1)
                .collect(),
            Tok::Class { negated, ranges } => at
                .into_iter()
                .filter(|&i| {
                    text.get(i).is_some_and(|c| {
                        ranges.iter().any(|(lo, hi)| (lo..=hi).contains(&c)) != *negated
                    })
                })
                .map(|i| i + 1)
                .collect(),
            Tok::Star => match at.first() {
                Some(&min) => (min..=text.len()).collect(),
                None => at,
            },
            Tok::Alt(alts) => alts
                .iter()
                .flat_map(|alt| ends(alt, at.clone(), text))
                .collect(),
        };
    }
    at
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
        // By override key: `*/*` < `ConfigMap` < `apps/Deployment`.
        assert_eq!(
            by_kind,
            [("*", "*"), ("", "ConfigMap"), ("apps", "Deployment")]
        );
        assert_eq!(s.ignore_rules[2].rule.json_pointers, ["/spec/replicas"]);
        assert_eq!(
            s.ignore_rules[0].rule.managed_fields_managers,
            ["kube-controller-manager"]
        );
    }

    #[test]
    fn system_managers_apply_by_the_exact_group_kind_key_so_never_from_a_core_kind_split_key() {
        let s = parse_argocd_cm(&cm(&[
            (
                "resource.customizations.ignoreDifferences.ConfigMap",
                "managedFieldsManagers: [a]\njsonPointers: [/data/x]\n",
            ),
            (
                "resource.customizations.ignoreDifferences.apps_Deployment",
                "managedFieldsManagers: [b]\n",
            ),
            (
                "resource.customizations.ignoreDifferences.all",
                "managedFieldsManagers: [c]\n",
            ),
        ]));
        let applies = |key: &str, group: &str, kind: &str| {
            s.ignore_rules
                .iter()
                .find(|r| r.override_key == key)
                .unwrap()
                .managers_apply_to(group, kind)
        };
        assert!(!applies("ConfigMap", "", "ConfigMap"), "Argo CD's own gap");
        assert!(applies("apps/Deployment", "apps", "Deployment"));
        assert!(!applies("apps/Deployment", "apps", "StatefulSet"));
        assert!(applies("*/*", "", "ConfigMap"));
        // Its pointers still select ConfigMaps by glob.
        let cmr = s
            .ignore_rules
            .iter()
            .find(|r| r.override_key == "ConfigMap");
        assert!(selects(&cmr.unwrap().rule, "", "ConfigMap", "ns", "a"));
    }

    #[test]
    fn a_split_key_replaces_the_legacy_value_of_the_same_kind() {
        let s = parse_argocd_cm(&cm(&[
            (
                "resource.customizations",
                "apps/Deployment:\n  ignoreDifferences: |\n    jsonPointers: [/spec/replicas]\n",
            ),
            (
                "resource.customizations.ignoreDifferences.apps_Deployment",
                "jsonPointers: [/spec/paused]\n",
            ),
        ]));
        assert_eq!(s.ignore_rules.len(), 1);
        assert_eq!(s.ignore_rules[0].rule.json_pointers, ["/spec/paused"]);
    }

    #[test]
    fn unquoted_off_and_false_turn_status_comparison_on() {
        for v in ["off", "false", "none", "'off'"] {
            let s = parse_argocd_cm(&cm(&[(
                "resource.compareoptions",
                &format!("ignoreResourceStatusField: {v}\n"),
            )]));
            assert_eq!(s.status_field, StatusField::None, "{v}");
            assert!(s.problems.is_empty());
        }
        let s = parse_argocd_cm(&cm(&[(
            "resource.compareoptions",
            "ignoreResourceStatusField: nonsense\n",
        )]));
        assert_eq!(s.status_field, StatusField::All);
    }

    #[test]
    fn known_type_fields_are_read_and_rollouts_get_the_default() {
        let s = parse_argocd_cm(&cm(&[(
            "resource.customizations.knownTypeFields.example.com_Widget",
            "- field: spec.pod\n  type: core/v1/PodSpec\n",
        )]));
        let names: Vec<(&str, &str, String, &str)> = s
            .known_type_fields
            .iter()
            .map(|k| {
                (
                    k.group.as_str(),
                    k.kind.as_str(),
                    k.field.join("."),
                    k.type_name.as_str(),
                )
            })
            .collect();
        assert_eq!(
            names,
            [
                (
                    "example.com",
                    "Widget",
                    "spec.pod".into(),
                    "core/v1/PodSpec"
                ),
                (
                    "argoproj.io",
                    "Rollout",
                    "spec.template.spec".into(),
                    "core/v1/PodSpec"
                )
            ]
        );
    }

    #[test]
    fn globs_have_gobwas_syntax() {
        assert!(glob("{apps,batch}", "batch"));
        assert!(!glob("{apps,batch}", "extensions"));
        assert!(glob("*.{k8s,x-k8s}.io", "cluster.x-k8s.io"));
        assert!(glob("[A-Z]*", "Deployment"));
        assert!(!glob("[!A-Z]*", "Deployment"));
        assert!(glob("Stateful[Ss]et", "StatefulSet"));
        assert!(glob("a\\*", "a*"));
        assert!(!glob("a\\*", "ab"));
        assert!(!glob("{a,b", "a"), "does not compile: matches nothing");
        // Polynomial, not backtracking.
        assert!(!glob(&"*a".repeat(40), &"a".repeat(39)));
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
