//! The comparison itself: which fields of the desired object have another value live.
//!
//! Two modes:
//!
//! - [`subset`] — desired is the last-applied object (Argo CD's two-way fallback, ARGOCD-DIFF.md
//!   §7.1): only what the desired object says is compared; a field that exists only live is never
//!   drift (§1.3), except inside an atomic list. Built-in kinds follow Go's `omitempty`: `null`,
//!   `[]` and `{}` in desired say nothing, and `false`, `0`, `""` equal an absent live field
//!   (§7.2 item 5). Custom resources follow the JSON merge patch: `null` in desired means "must be
//!   absent" and every list is atomic (§1.5).
//! - [`symmetric`] — both sides are complete (Argo CD's `normalizedLiveState` against its
//!   `predictedLiveState`): every difference counts.
//!
//! Lists of built-in kinds merge by key where `k8s.io/api` says so ([`super::schema`]): items
//! are matched by key, extra live items are not drift, and a different relative order of the
//! desired items is drift, as Argo CD's strategic merge patch emits `$setElementOrder` for it.
//! Atomic lists must have the same length; items are then compared index by index, each live
//! item cut to the desired item's keys (the StatefulSet `volumeClaimTemplates` workaround and
//! `RemoveMapFields` come out of this rule).
//!
//! Numbers compare by value (`3` = `3.0`); a string never equals a number (`"80"` ≠ `80`, as
//! for IntOrString).
//!
//! Paths are in live coordinates: a matched merge-list item is addressed by its live index, a
//! desired item missing live by the index it would be appended at.

use super::path::{Path, Seg};
use super::quantity;
use super::schema::{self, Ctx, ListRule};
use serde_json::{Map, Value};

/// What kind of difference.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DiffKind {
    /// Both sides have a value and they differ.
    Changed,
    /// Desired has it, live does not.
    MissingLive,
    /// Live has it, desired (a complete object) does not; symmetric mode only.
    LiveOnly,
    /// The same keyed items, in another order.
    Order,
}

/// One difference, before attribution and masking.
#[derive(Clone, PartialEq)]
pub struct Diff {
    pub path: Path,
    pub display: String,
    pub desired: Option<Value>,
    pub live: Option<Value>,
    pub kind: DiffKind,
}

// Values may be Secret data: Debug shows where, never what.
impl std::fmt::Debug for Diff {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Diff")
            .field("display", &self.display)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

/// How to compare one object.
#[derive(Clone, Copy, Debug)]
pub struct Rules<'a> {
    pub kind: &'a str,
    /// Strategic-merge semantics (built-in kind) or JSON-merge semantics (custom resource).
    pub builtin: bool,
    /// Whether a reorder of merge-keyed items is drift.
    pub keyed_order_is_drift: bool,
    /// Where quantities are compared by value (`500m` = `0.5`), for a live side that was not
    /// normalized.
    pub quantities: Quantities,
}

/// Where quantities live in this kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Quantities {
    /// Nowhere (custom resources).
    None,
    /// At the built-in quantity paths ([`schema::is_quantity_path`]).
    Builtin,
    /// Under `spec.template.spec` only (an Argo Rollout's pod template, a known type for Argo CD).
    PodTemplateSpec,
}

/// Scalar equality: numbers by value, everything else exactly. Containers compare structurally.
pub fn scalar_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => num_eq(x, y),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| scalar_eq(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| scalar_eq(v, w)))
        }
        _ => a == b,
    }
}

fn num_eq(x: &serde_json::Number, y: &serde_json::Number) -> bool {
    if let (Some(a), Some(b)) = (x.as_i64(), y.as_i64()) {
        return a == b;
    }
    if let (Some(a), Some(b)) = (x.as_u64(), y.as_u64()) {
        return a == b;
    }
    // serde_json's default float parser may land one ulp off when a number goes through text
    // (the last-applied annotation is text): a few ulps are the same number.
    match (x.as_f64(), y.as_f64()) {
        (Some(a), Some(b)) => a == b || (a - b).abs() <= 4.0 * f64::EPSILON * a.abs().max(b.abs()),
        _ => false,
    }
}

/// Go's zero values, which `omitempty` leaves out of the live object.
fn is_zero(v: &Value) -> bool {
    match v {
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        _ => is_empty(v),
    }
}

/// `null`, `[]` and `{}`.
pub fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

/// One step of the walk, borrowed: no allocation per node visited; the owned path and the
/// display text are built only for a difference.
#[derive(Clone, Copy)]
enum Step<'a> {
    Key(&'a str),
    Index(usize),
    /// A merge-list item: its live index and its merge key's value.
    Keyed(usize, &'static str, &'a Value),
}

fn owned_path(steps: &[Step<'_>]) -> Path {
    steps
        .iter()
        .map(|s| match s {
            Step::Key(k) => Seg::Key((*k).to_string()),
            Step::Index(i) | Step::Keyed(i, _, _) => Seg::Index(*i),
        })
        .collect()
}

/// Appends one object key to a readable path: `.name` when it is a plain word, `["a.b/c"]`
/// (quoted as JSON) otherwise.
pub(super) fn push_key(out: &mut String, key: &str) {
    let plain = !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if plain {
        if !out.is_empty() {
            out.push('.');
        }
        out.push_str(key);
    } else {
        out.push('[');
        out.push_str(&Value::String(key.to_string()).to_string());
        out.push(']');
    }
}

/// Human-readable path: `spec.template.spec.containers[name=api].image`, `["a.b/c"]`, `[3]`.
fn display(steps: &[Step<'_>]) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    for s in steps {
        match s {
            Step::Key(k) => push_key(&mut out, k),
            Step::Index(i) => {
                let _ = write!(out, "[{i}]");
            }
            Step::Keyed(_, k, Value::String(v)) => {
                let _ = write!(out, "[{k}={v}]");
            }
            Step::Keyed(_, k, v) => {
                let _ = write!(out, "[{k}={v}]");
            }
        }
    }
    if out.is_empty() {
        out.push_str("(object)");
    }
    out
}

struct Walker<'r> {
    rules: Rules<'r>,
    out: Vec<Diff>,
    symmetric: bool,
}

/// Differences between a desired (last-applied) object and live, desired-driven.
pub fn subset(desired: &Value, live: &Value, rules: Rules<'_>) -> Vec<Diff> {
    walk(desired, live, rules, false)
}

/// Every difference between two complete objects (Argo CD's predicted and normalized live).
pub fn symmetric(desired: &Value, live: &Value, rules: Rules<'_>) -> Vec<Diff> {
    walk(desired, live, rules, true)
}

fn walk(desired: &Value, live: &Value, rules: Rules<'_>, symmetric: bool) -> Vec<Diff> {
    let mut w = Walker {
        rules,
        out: Vec::new(),
        symmetric,
    };
    w.value(desired, live, &mut Vec::new(), Ctx::Root, None);
    w.out.sort_by(|a, b| a.path.cmp(&b.path));
    w.out
}

impl Walker<'_> {
    /// Two scalars that differ as text but are the same quantity, where a quantity lives.
    fn same_quantity(&self, steps: &[Step<'_>], d: &Value, l: &Value) -> bool {
        let keys: Vec<&str> = steps
            .iter()
            .filter_map(|s| match s {
                Step::Key(k) => Some(*k),
                _ => None,
            })
            .collect();
        let applies = match self.rules.quantities {
            Quantities::None => false,
            Quantities::Builtin => schema::is_quantity_path(&keys),
            Quantities::PodTemplateSpec => {
                keys.starts_with(&["spec", "template", "spec"]) && schema::is_quantity_path(&keys)
            }
        };
        applies
            && matches!(
                (quantity::canonical_value(d), quantity::canonical_value(l)),
                (Some(a), Some(b)) if a == b
            )
    }

    fn push(&mut self, steps: &[Step<'_>], d: Option<&Value>, l: Option<&Value>, kind: DiffKind) {
        self.out.push(Diff {
            path: owned_path(steps),
            display: display(steps),
            desired: d.cloned(),
            live: l.cloned(),
            kind,
        });
    }

    fn value<'a>(
        &mut self,
        desired: &'a Value,
        live: &'a Value,
        steps: &mut Vec<Step<'a>>,
        ctx: Ctx,
        list: Option<(ListRule, Ctx)>,
    ) {
        match (desired, live) {
            (Value::Object(d), Value::Object(l)) => self.object(d, l, steps, ctx),
            (Value::Array(d), Value::Array(l)) => {
                let (rule, item_ctx) = list.unwrap_or((ListRule::Atomic, Ctx::Other));
                self.array(d, l, steps, rule, item_ctx)
            }
            (d, l) if scalar_eq(d, l) => {}
            (d, l) if self.same_quantity(steps, d, l) => {}
            (d, l) => self.push(steps, Some(d), Some(l), DiffKind::Changed),
        }
    }

    fn object<'a>(
        &mut self,
        d: &'a Map<String, Value>,
        l: &'a Map<String, Value>,
        steps: &mut Vec<Step<'a>>,
        ctx: Ctx,
    ) {
        let builtin = self.rules.builtin;
        for (k, dv) in d {
            let lv = l.get(k);
            steps.push(Step::Key(k));
            match lv {
                _ if !self.symmetric && builtin && is_empty(dv) => {}
                None if !self.symmetric && builtin && is_zero(dv) => {}
                None if !self.symmetric && dv.is_null() => {}
                Some(Value::Null) if !self.symmetric && !builtin && dv.is_null() => {}
                None => self.push(steps, Some(dv), None, DiffKind::MissingLive),
                Some(lv) => {
                    let (child_ctx, list) = if builtin {
                        let list = dv.is_array().then(|| {
                            (
                                schema::list_rule(self.rules.kind, ctx, k),
                                schema::item_ctx(ctx, k),
                            )
                        });
                        (schema::child_ctx(self.rules.kind, ctx, k), list)
                    } else {
                        (Ctx::Other, None)
                    };
                    self.value(dv, lv, steps, child_ctx, list);
                }
            }
            steps.pop();
        }
        if self.symmetric {
            for (k, lv) in l {
                if !d.contains_key(k) {
                    steps.push(Step::Key(k));
                    self.push(steps, None, Some(lv), DiffKind::LiveOnly);
                    steps.pop();
                }
            }
        }
    }

    fn array<'a>(
        &mut self,
        d: &'a [Value],
        l: &'a [Value],
        steps: &mut Vec<Step<'a>>,
        rule: ListRule,
        item_ctx: Ctx,
    ) {
        match rule {
            ListRule::Merge(key) if d.iter().all(|it| it.get(key).is_some()) => {
                self.keyed(d, l, steps, key, item_ctx)
            }
            ListRule::MergeSet => {
                let missing = d.iter().any(|x| !l.iter().any(|y| scalar_eq(x, y)));
                let extra = self.symmetric && l.iter().any(|y| !d.iter().any(|x| scalar_eq(x, y)));
                if missing || extra {
                    self.push(
                        steps,
                        Some(&Value::Array(d.to_vec())),
                        Some(&Value::Array(l.to_vec())),
                        DiffKind::Changed,
                    );
                }
            }
            _ if d.len() != l.len() => {
                self.push(
                    steps,
                    Some(&Value::Array(d.to_vec())),
                    Some(&Value::Array(l.to_vec())),
                    DiffKind::Changed,
                );
            }
            _ => {
                for (i, (dv, lv)) in d.iter().zip(l).enumerate() {
                    steps.push(Step::Index(i));
                    self.value(dv, lv, steps, item_ctx, None);
                    steps.pop();
                }
            }
        }
    }

    fn keyed<'a>(
        &mut self,
        d: &'a [Value],
        l: &'a [Value],
        steps: &mut Vec<Step<'a>>,
        key: &'static str,
        item_ctx: Ctx,
    ) {
        let mut matched: Vec<usize> = Vec::new();
        let mut appended = l.len();
        // Live items by key value, for lists long enough that a scan per item would cost.
        let index: Option<std::collections::HashMap<String, usize>> = (l.len() > 16).then(|| {
            let mut m = std::collections::HashMap::with_capacity(l.len());
            for (i, lv) in l.iter().enumerate() {
                if let Some(kv) = lv.get(key) {
                    m.entry(kv.to_string()).or_insert(i);
                }
            }
            m
        });
        for dv in d {
            let Some(kv) = dv.get(key) else { continue };
            let found = match &index {
                Some(m) => m.get(&kv.to_string()).copied().or_else(|| {
                    l.iter()
                        .position(|lv| lv.get(key).is_some_and(|x| scalar_eq(x, kv)))
                }),
                None => l
                    .iter()
                    .position(|lv| lv.get(key).is_some_and(|x| scalar_eq(x, kv))),
            };
            match found {
                Some(i) => {
                    matched.push(i);
                    steps.push(Step::Keyed(i, key, kv));
                    self.value(dv, &l[i], steps, item_ctx, None);
                    steps.pop();
                }
                None => {
                    steps.push(Step::Keyed(appended, key, kv));
                    appended += 1;
                    self.push(steps, Some(dv), None, DiffKind::MissingLive);
                    steps.pop();
                }
            }
        }
        if self.symmetric {
            for (i, lv) in l.iter().enumerate() {
                let kv = lv.get(key);
                let in_desired = kv.is_some_and(|kv| {
                    d.iter()
                        .any(|dv| dv.get(key).is_some_and(|x| scalar_eq(x, kv)))
                });
                if !in_desired {
                    steps.push(match kv {
                        Some(kv) => Step::Keyed(i, key, kv),
                        None => Step::Index(i),
                    });
                    self.push(steps, None, Some(lv), DiffKind::LiveOnly);
                    steps.pop();
                }
            }
        }
        if self.rules.keyed_order_is_drift && matched.windows(2).any(|w| w[0] > w[1]) {
            let keys = |items: &[Value]| {
                Value::Array(items.iter().filter_map(|it| it.get(key).cloned()).collect())
            };
            let live_order: Vec<Value> = {
                let mut m = matched.clone();
                m.sort_unstable();
                m.into_iter()
                    .filter_map(|i| l[i].get(key).cloned())
                    .collect()
            };
            self.push(
                steps,
                Some(&keys(d)),
                Some(&Value::Array(live_order)),
                DiffKind::Order,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const DEPLOYMENT: Rules = Rules {
        kind: "Deployment",
        builtin: true,
        keyed_order_is_drift: true,
        quantities: Quantities::Builtin,
    };
    const CR: Rules = Rules {
        kind: "Widget",
        builtin: false,
        keyed_order_is_drift: true,
        quantities: Quantities::None,
    };

    fn pod(containers: Value) -> Value {
        json!({"spec": {"template": {"spec": {"containers": containers}}}})
    }

    fn shown(diffs: &[Diff]) -> Vec<&str> {
        diffs.iter().map(|d| d.display.as_str()).collect()
    }

    #[test]
    fn fields_only_live_are_not_drift_but_changed_ones_are() {
        let desired = json!({"spec": {"replicas": 3}});
        let live = json!({"spec": {"replicas": 5, "revisionHistoryLimit": 10}});
        let diffs = subset(&desired, &live, DEPLOYMENT);
        assert_eq!(shown(&diffs), ["spec.replicas"]);
        assert_eq!(
            super::super::path::to_pointer(&diffs[0].path),
            "/spec/replicas"
        );
        assert_eq!(diffs[0].desired, Some(json!(3)));
        assert_eq!(diffs[0].live, Some(json!(5)));
    }

    #[test]
    fn keyed_lists_match_by_key_and_ignore_extra_live_items() {
        let desired = pod(json!([{"name": "api", "image": "a:1"}]));
        let live = pod(json!([{"name": "sidecar", "image": "s"}, {"name": "api", "image": "a:2"}]));
        let diffs = subset(&desired, &live, DEPLOYMENT);
        assert_eq!(
            shown(&diffs),
            ["spec.template.spec.containers[name=api].image"]
        );
        assert_eq!(
            super::super::path::to_pointer(&diffs[0].path),
            "/spec/template/spec/containers/1/image"
        );
    }

    #[test]
    fn a_reorder_of_keyed_items_is_drift_at_the_list() {
        let desired = pod(json!([{"name": "a"}, {"name": "b"}]));
        let live = pod(json!([{"name": "b"}, {"name": "x"}, {"name": "a"}]));
        let diffs = subset(&desired, &live, DEPLOYMENT);
        assert_eq!(diffs.len(), 1);
        assert_eq!(diffs[0].kind, DiffKind::Order);
        assert_eq!(diffs[0].desired, Some(json!(["a", "b"])));
        assert_eq!(diffs[0].live, Some(json!(["b", "a"])));
        let unordered = Rules {
            keyed_order_is_drift: false,
            ..DEPLOYMENT
        };
        assert!(subset(&desired, &live, unordered).is_empty());
    }

    #[test]
    fn a_desired_item_missing_live_is_addressed_where_it_would_be_appended() {
        let desired = pod(
            json!([{"name": "api", "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]}]),
        );
        let live = pod(
            json!([{"name": "api", "env": [{"name": "A", "value": "1"}, {"name": "X", "value": "9"}]}]),
        );
        let diffs = subset(&desired, &live, DEPLOYMENT);
        assert_eq!(
            shown(&diffs),
            ["spec.template.spec.containers[name=api].env[name=B]"]
        );
        assert_eq!(diffs[0].kind, DiffKind::MissingLive);
        assert_eq!(
            super::super::path::to_pointer(&diffs[0].path),
            "/spec/template/spec/containers/0/env/2"
        );
    }

    #[test]
    fn atomic_lists_compare_by_index_with_live_items_cut_to_desired_keys() {
        let desired = pod(json!([{"name": "api", "args": ["--a", "--b"],
            "tolerations": [{"key": "k", "operator": "Exists"}]}]));
        let mut live = desired.clone();
        live["spec"]["template"]["spec"]["containers"][0]["tolerations"][0]["effect"] =
            json!("NoSchedule");
        assert!(
            subset(&desired, &live, DEPLOYMENT).is_empty(),
            "server-added keys inside atomic items"
        );
        live["spec"]["template"]["spec"]["containers"][0]["args"] = json!(["--a"]);
        let diffs = subset(&desired, &live, DEPLOYMENT);
        assert_eq!(
            shown(&diffs),
            ["spec.template.spec.containers[name=api].args"]
        );
    }

    #[test]
    fn custom_resource_lists_are_atomic_even_when_their_items_have_names() {
        let desired = json!({"spec": {"items": [{"name": "a", "v": 1}, {"name": "b", "v": 2}]}});
        let live = json!({"spec": {"items": [{"name": "b", "v": 2}, {"name": "a", "v": 1}]}});
        let diffs = subset(&desired, &live, CR);
        assert_eq!(
            shown(&diffs),
            [
                "spec.items[0].name",
                "spec.items[0].v",
                "spec.items[1].name",
                "spec.items[1].v"
            ]
        );
        let longer = json!({"spec": {"items": [{"name": "a", "v": 1}, {"name": "b", "v": 2}, {"name": "c"}]}});
        assert_eq!(shown(&subset(&desired, &longer, CR)), ["spec.items"]);
    }

    #[test]
    fn numbers_compare_by_value_but_int_or_string_stays_strict() {
        let desired = json!({"spec": {"a": 3, "port": "80"}});
        let live = json!({"spec": {"a": 3.0, "port": 80}});
        assert_eq!(shown(&subset(&desired, &live, DEPLOYMENT)), ["spec.port"]);
    }

    #[test]
    fn built_in_empty_and_zero_values_in_desired_equal_absence_live() {
        let desired = json!({"spec": {"imagePullSecrets": [], "resources": {}, "x": null,
                                      "paused": false, "minReadySeconds": 0, "host": ""}});
        let live = json!({"spec": {"imagePullSecrets": [{"name": "s"}]}});
        assert!(subset(&desired, &live, DEPLOYMENT).is_empty());
        // A present live value that differs from a desired zero still counts.
        let live = json!({"spec": {"paused": true}});
        assert_eq!(shown(&subset(&desired, &live, DEPLOYMENT)), ["spec.paused"]);
    }

    #[test]
    fn a_custom_resource_null_means_the_field_must_be_absent() {
        let desired = json!({"spec": {"gone": null}});
        assert!(subset(&desired, &json!({"spec": {}}), CR).is_empty());
        assert_eq!(
            shown(&subset(&desired, &json!({"spec": {"gone": 1}}), CR)),
            ["spec.gone"]
        );
    }

    #[test]
    fn finalizers_merge_as_a_set() {
        let desired = json!({"metadata": {"finalizers": ["a"]}});
        assert!(
            subset(
                &desired,
                &json!({"metadata": {"finalizers": ["b", "a"]}}),
                DEPLOYMENT
            )
            .is_empty()
        );
        assert_eq!(
            subset(
                &desired,
                &json!({"metadata": {"finalizers": ["b"]}}),
                DEPLOYMENT
            )
            .len(),
            1
        );
    }

    #[test]
    fn quantities_compare_by_value_where_they_live_even_on_an_unnormalized_live_side() {
        let desired = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "a", "resources": {"limits": {"cpu": "500m"}}, "image": "0.5"}]}}}});
        let live = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "a", "resources": {"limits": {"cpu": 0.5}}, "image": "500m"}]}}}});
        assert_eq!(
            shown(&subset(&desired, &live, DEPLOYMENT)),
            ["spec.template.spec.containers[name=a].image"]
        );
        assert_eq!(
            subset(&desired, &live, CR).len(),
            2,
            "not on custom resources"
        );
    }

    #[test]
    fn symmetric_mode_reports_both_sides() {
        let predicted = json!({"spec": {"replicas": 3, "a": 1}});
        let live = json!({"spec": {"replicas": 5, "b": 2}});
        let diffs = symmetric(&predicted, &live, DEPLOYMENT);
        assert_eq!(shown(&diffs), ["spec.a", "spec.b", "spec.replicas"]);
        assert_eq!(diffs[1].kind, DiffKind::LiveOnly);
    }

    #[test]
    fn odd_keys_are_quoted_in_the_display_path() {
        let desired = json!({"metadata": {"labels": {"app.kubernetes.io/name": "a"}}});
        let live = json!({"metadata": {"labels": {"app.kubernetes.io/name": "b"}}});
        assert_eq!(
            shown(&subset(&desired, &live, DEPLOYMENT)),
            [r#"metadata.labels["app.kubernetes.io/name"]"#]
        );
    }
}
