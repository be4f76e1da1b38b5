//! Concordance with a real Argo CD v3.5.7: the scenarios recorded by `make record-fixtures`
//! (`make record-fixtures` writes them into `fixtures/argocd-real/`). For every recorded
//! resource the engine's cause must equal the one Argo CD's verdict and the scenario's intent give,
//! and the fields it reports must be the ones where Argo CD's normalized and predicted live states
//! differ.
//!
//! Each resource is inspected twice: with the local source only (live object, last-applied,
//! managedFields — what the engine has without an Argo CD token) and with Argo CD's
//! managed-resources item (source 2).
//!
//! Deliberate differences, asserted as such below:
//! - `gitAhead`, local source only: the cause is right but no field is listed: which fields Git
//!   moved is only known from Argo CD (source 2 lists them).
//! - Server-side apply, local source only: a field another manager added and one it took from
//!   Argo CD look the same in managedFields, so both are listed as fields "owned by another
//!   manager" with no desired value (source 2 tells them apart).
//! - `/status` of a custom resource is not listed as ignored: `status` is removed before comparing
//!   (`ignoreResourceStatusField: all`) and Git never says anything about it.
//! - `Replace=true`, local source only: Argo CD writes no last-applied record, so there is nothing
//!   local to compare with: `notInspected` (`replaceSync`); the Argo CD source compares it.
//! - An object whose tracking id names another app (`shared-object`), local source only: its
//!   record is that app's, so the engine does not compare it: `notInspected`
//!   (`trackedByAnotherApp`); the Argo CD source compares it.
//!
//! Each recording carries argocd-cm's diff settings as they were (`argocdCm`); the engine gets
//! them through `parse_argocd_cm`, as the backend does.
//!
//! Scenarios the engine does not agree on yet (issue 16) are in [`KNOWN_DISAGREEMENTS`]: their
//! resources are left out of the checks below, and `known_disagreements_still_disagree` fails
//! once one agrees (delete its entry with the fix).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

mod common;

use drift_core::drift::jq::{JqCache, Unlimited};
use drift_core::drift::secret::leak;
use drift_core::drift::settings::parse_argocd_cm;
use drift_core::drift::view::{Cause, NotInspectedReason, ResourceDrift};
use drift_core::drift::{Inspector, LiveRead, ManagedResource, ResourceInput};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

const SCENARIOS: &[&str] = &[
    "csa-manual-edits",
    "custom-resource",
    "extra-needs-pruning",
    "git-ahead",
    "ignore-differences",
    "live-deleted",
    "secret-changed",
    "self-heal",
    "ssa-other-manager",
    "kubectl-apply-by-person",
    "shared-object",
    "replace-sync",
    "server-side-diff",
    "system-ignore-managers",
];

/// Recorded scenarios the engine does not agree on yet: scenario → issue 16 section 2 item.
const KNOWN_DISAGREEMENTS: &[(&str, u8)] = &[];

fn pending(scenario: &str) -> bool {
    KNOWN_DISAGREEMENTS.iter().any(|(s, _)| *s == scenario)
}

/// The deliberate shared-object difference (README, drift section): an object whose tracking id
/// names another app carries that app's record, so the local source does not compare it.
fn tracked_by_another_app(run: &Run) -> bool {
    run.local.cause == Cause::NotInspected
        && run.local.not_inspected.as_ref().map(|n| n.reason)
            == Some(NotInspectedReason::TrackedByAnotherApp)
}

/// The deliberate `Replace=true` difference: nothing local to compare with.
fn replace_sync_not_inspected(run: &Run) -> bool {
    run.replace
        && run.local.cause == Cause::NotInspected
        && run.local.not_inspected.as_ref().map(|n| n.reason)
            == Some(NotInspectedReason::ReplaceSync)
}

fn load(name: &str) -> Value {
    let path = format!(
        "{}/../fixtures/argocd-real/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn secrets() -> Vec<String> {
    let v = load("fixture-secret-values");
    v["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

fn cause_name(c: Cause) -> String {
    serde_json::to_value(c)
        .unwrap()
        .as_str()
        .unwrap()
        .to_string()
}

fn pointers<'a>(items: impl Iterator<Item = &'a String>) -> BTreeSet<String> {
    items.cloned().collect()
}

fn expected_set(e: &Value, key: &str) -> BTreeSet<String> {
    e.get(key)
        .and_then(Value::as_array)
        .map(|a| a.iter().map(|p| p.as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

/// Every leaf pointer where two JSON values differ, index-aligned (an independent, naive diff).
fn naive_diff(a: &Value, b: &Value, at: String, out: &mut BTreeSet<String>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for k in x.keys().chain(y.keys()) {
                let p = format!("{at}/{}", k.replace('~', "~0").replace('/', "~1"));
                match (x.get(k), y.get(k)) {
                    (Some(v), Some(w)) => naive_diff(v, w, p, out),
                    _ => {
                        out.insert(p);
                    }
                }
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (v, w)) in x.iter().zip(y).enumerate() {
                naive_diff(v, w, format!("{at}/{i}"), out);
            }
        }
        _ if a == b => {}
        _ => {
            out.insert(at);
        }
    }
}

/// Is `p` equal to, inside, or around one of `paths`?
fn related(p: &str, paths: &BTreeSet<String>) -> bool {
    paths
        .iter()
        .any(|q| q == p || q.starts_with(&format!("{p}/")) || p.starts_with(&format!("{q}/")))
}

struct Run {
    scenario: String,
    /// The app syncs with `Replace=true`.
    replace: bool,
    key: String,
    expected: Value,
    local: ResourceDrift,
    argocd: Option<(ResourceDrift, BTreeSet<String>)>,
    outputs: Vec<String>,
}

fn run_all() -> Vec<Run> {
    let mut runs = Vec::new();
    let jq = JqCache::new();
    for name in SCENARIOS {
        let doc = load(name);
        // argocd-cm's diff settings as recorded with the scenario.
        let cm: BTreeMap<String, String> = doc["argocdCm"]
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
                    .collect()
            })
            .unwrap_or_default();
        let system = parse_argocd_cm(&cm);
        let app = common::application(&doc["application"]);
        let live: Vec<Value> = doc["live"].as_array().unwrap().clone();
        let items: Vec<ManagedResource> = doc["managedResources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| ManagedResource::from_api_item(i).unwrap())
            .collect();
        let inspector = Inspector::for_app(&app, &system, &jq).with_secrets(true);
        for r in &app.status.resources {
            let key = format!("{}/{}/{}/{}", r.group, r.kind, r.namespace, r.name);
            let expected = doc["expected"][&key].clone();
            assert!(!expected.is_null(), "{name}: no expectation for {key}");
            let read = || match common::find_live(&live, r) {
                Some(v) => LiveRead::Found(v.clone()),
                None => LiveRead::NotFound,
            };
            let local_in = ResourceInput {
                resource: r,
                live: read(),
                argocd: None,
            };
            let local = inspector.inspect(&local_in, &mut Unlimited);
            let mut outputs = vec![
                serde_json::to_string(&local).unwrap(),
                serde_json::to_string(&inspector.detail(&local_in, &mut Unlimited)).unwrap(),
                format!("{local:?}"),
            ];
            let mr = items.iter().find(|m| m.is_for(r));
            let argocd = mr.map(|m| {
                let input = ResourceInput {
                    resource: r,
                    live: read(),
                    argocd: Some(m),
                };
                let out = inspector.inspect(&input, &mut Unlimited);
                outputs.push(serde_json::to_string(&out).unwrap());
                outputs.push(
                    serde_json::to_string(&inspector.detail(&input, &mut Unlimited)).unwrap(),
                );
                let mut argo_paths = BTreeSet::new();
                if let (Some(n), Some(p)) = (&m.normalized_live_state, &m.predicted_live_state) {
                    naive_diff(n, p, String::new(), &mut argo_paths);
                }
                (out, argo_paths)
            });
            runs.push(Run {
                replace: doc["application"]["spec"]["syncPolicy"]["syncOptions"]
                    .as_array()
                    .is_some_and(|o| o.iter().any(|x| x == "Replace=true")),
                scenario: name.to_string(),
                key,
                expected,
                local,
                argocd,
                outputs,
            });
        }
    }
    runs
}

#[test]
fn every_recorded_resource_gets_argo_cds_cause_from_the_local_source() {
    for run in run_all() {
        if pending(&run.scenario)
            || replace_sync_not_inspected(&run)
            || tracked_by_another_app(&run)
        {
            continue;
        }
        let want = run.expected["cause"].as_str().unwrap();
        let got = cause_name(run.local.cause);
        // SSA without the Argo CD source still finds the other manager's fields here.
        assert_eq!(
            got, want,
            "{} {}: {:?}",
            run.scenario, run.key, run.local.not_inspected
        );
        assert_eq!(
            run.local.argo_status.as_deref(),
            run.expected["argoStatus"].as_str(),
            "{} {}",
            run.scenario,
            run.key
        );
    }
}

#[test]
fn every_recorded_resource_gets_argo_cds_cause_with_the_argo_cd_source() {
    for run in run_all() {
        let Some((out, _)) = &run.argocd else {
            continue;
        };
        if pending(&run.scenario) {
            continue;
        }
        let want = run.expected["cause"].as_str().unwrap();
        assert_eq!(cause_name(out.cause), want, "{} {}", run.scenario, run.key);
    }
}

#[test]
fn local_fields_are_the_changed_paths_except_the_listed_differences() {
    for run in run_all() {
        if pending(&run.scenario) {
            continue;
        }
        let want = expected_set(&run.expected, "changedPaths");
        let got = pointers(run.local.fields.iter().map(|f| &f.pointer));
        match run.local.cause {
            // Deliberate: which fields Git moved is Argo CD's knowledge.
            Cause::GitAhead => assert!(got.is_empty(), "{} {}", run.scenario, run.key),
            // Deliberate: Replace=true, or another app's record, leaves nothing local to
            // compare with.
            Cause::NotInspected
                if replace_sync_not_inspected(&run) || tracked_by_another_app(&run) =>
            {
                assert!(got.is_empty(), "{} {}", run.scenario, run.key)
            }
            _ if run.scenario == "ssa-other-manager" => {
                // Deliberate: changed and added fields of another manager look alike.
                let added = expected_set(&run.expected, "addedPaths");
                let want_all: BTreeSet<String> = want.union(&added).cloned().collect();
                assert_eq!(got, want_all, "{} {}", run.scenario, run.key);
                assert!(
                    run.local
                        .fields
                        .iter()
                        .all(|f| !f.desired_known && f.desired.is_none())
                );
            }
            _ => assert_eq!(got, want, "{} {}", run.scenario, run.key),
        }
    }
}

#[test]
fn with_the_argo_cd_source_every_field_is_where_argo_cds_states_differ() {
    let mut checked = 0;
    for run in run_all() {
        let Some((out, argo_paths)) = &run.argocd else {
            continue;
        };
        if pending(&run.scenario) {
            continue;
        }
        for f in &out.fields {
            assert!(
                related(&f.pointer, argo_paths),
                "{} {}: {} is not among Argo CD's differences {argo_paths:?}",
                run.scenario,
                run.key,
                f.pointer
            );
            checked += 1;
        }
        let want = expected_set(&run.expected, "changedPaths");
        let got = pointers(out.fields.iter().map(|f| &f.pointer));
        assert_eq!(got, want, "{} {}", run.scenario, run.key);
    }
    assert!(checked >= 8, "only {checked} fields checked");
}

#[test]
fn additions_outside_git_are_the_recorded_ones() {
    for run in run_all() {
        let want = expected_set(&run.expected, "addedPaths");
        // Local source (SSA has them among its fields, see above).
        if run.scenario != "ssa-other-manager" {
            let got = pointers(run.local.additions.iter().map(|a| &a.pointer));
            assert_eq!(got, want, "{} {} (local)", run.scenario, run.key);
        }
        if let Some((out, _)) = &run.argocd
            && out.cause != Cause::Missing
            && out.cause != Cause::Extra
        {
            let got = pointers(out.additions.iter().map(|a| &a.pointer));
            assert_eq!(got, want, "{} {} (Argo CD source)", run.scenario, run.key);
        }
    }
}

#[test]
fn ignored_differences_are_the_recorded_ones_with_their_rules() {
    let mut seen = 0;
    for run in run_all() {
        if pending(&run.scenario) {
            continue;
        }
        // Deliberate: /status is dropped before comparing, not listed.
        let want: BTreeSet<String> = expected_set(&run.expected, "ignoredPaths")
            .into_iter()
            .filter(|p| p != "/status")
            .collect();
        let got = pointers(run.local.ignored.iter().map(|i| &i.pointer));
        assert_eq!(got, want, "{} {}", run.scenario, run.key);
        seen += got.len();
    }
    // ignore-differences' three and system-ignore-managers' one (item 5).
    assert_eq!(seen, 4);
}

#[test]
fn the_ignore_scenario_names_each_rule_kind() {
    let runs = run_all();
    let dep = runs
        .iter()
        .find(|r| r.scenario == "ignore-differences" && r.key.contains("Deployment"))
        .unwrap();
    let kinds: BTreeSet<String> = dep
        .local
        .ignored
        .iter()
        .map(|i| format!("{:?}:{}", i.rule.kind, i.rule.source))
        .collect();
    assert_eq!(
        kinds,
        BTreeSet::from([
            "ManagedFieldsManager:spec.ignoreDifferences[0]".to_string(),
            "JqPathExpression:spec.ignoreDifferences[1]".to_string()
        ])
    );
}

#[test]
fn attribution_names_the_manager_that_made_each_change() {
    let runs = run_all();
    let dep = runs
        .iter()
        .find(|r| r.scenario == "csa-manual-edits" && r.key.contains("Deployment"))
        .unwrap();
    let who: Vec<(String, String)> = dep
        .local
        .fields
        .iter()
        .map(|f| {
            (
                f.pointer.clone(),
                f.attribution.as_ref().unwrap().manager.clone(),
            )
        })
        .collect();
    assert_eq!(
        who,
        [
            ("/spec/replicas".to_string(), "kubectl-edit".to_string()),
            (
                "/spec/template/spec/containers/0/image".to_string(),
                "kubectl-set".to_string()
            ),
        ]
    );
    assert_eq!(
        dep.local.additions[0].attribution.manager,
        "sidecar-injector"
    );
    assert!(dep.local.last_change_at.is_some());
}

#[test]
fn no_recorded_secret_value_leaves_the_engine_in_any_encoding() {
    let secrets = secrets();
    let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
    // The fixtures themselves do contain them (the live Secret), so the scan is meaningful.
    let raw = serde_json::to_string(&load("secret-changed")["live"]).unwrap();
    assert!(leak::find(&raw, &secrets).is_some());
    let mut scanned = 0;
    for run in run_all() {
        for out in &run.outputs {
            leak::assert_none(out, &secrets);
            scanned += 1;
        }
    }
    assert!(scanned > 20);
}

#[test]
fn the_changed_secret_key_shows_as_changed_and_the_other_as_unchanged() {
    let runs = run_all();
    let s = runs
        .iter()
        .find(|r| r.scenario == "secret-changed" && r.key.contains("Secret"))
        .unwrap();
    assert_eq!(s.local.fields.len(), 1);
    let f = &s.local.fields[0];
    assert_eq!(f.pointer, "/data/password");
    assert_eq!(f.desired, Some(Value::String("++++++++".into())));
    assert_eq!(f.live, Some(Value::String("++++++++++++".into())));
    assert!(s.local.masked);
}

#[test]
fn known_disagreements_still_disagree() {
    let runs = run_all();
    for (scenario, item) in KNOWN_DISAGREEMENTS {
        let mine: Vec<&Run> = runs.iter().filter(|r| r.scenario == *scenario).collect();
        assert!(
            !mine.is_empty(),
            "KNOWN_DISAGREEMENTS names {scenario}: no such recording"
        );
        let disagrees = mine.iter().any(|run| {
            let want = run.expected["cause"].as_str().unwrap();
            let changed = expected_set(&run.expected, "changedPaths");
            let local = pointers(run.local.fields.iter().map(|f| &f.pointer));
            let ignored: BTreeSet<String> = expected_set(&run.expected, "ignoredPaths");
            let local_ignored = pointers(run.local.ignored.iter().map(|i| &i.pointer));
            cause_name(run.local.cause) != want
                || (run.local.cause == Cause::LiveChanged && local != changed)
                || local_ignored != ignored
                || run
                    .argocd
                    .as_ref()
                    .is_some_and(|(out, _)| cause_name(out.cause) != want)
        });
        assert!(
            disagrees,
            "{scenario} agrees with Argo CD now: delete it from KNOWN_DISAGREEMENTS (item {item})"
        );
    }
}
