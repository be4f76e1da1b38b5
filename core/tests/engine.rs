//! The engine through its public API on hand-written objects: every cause and reason, ignore
//! rules of each kind (including failing ones), Secrets, custom resources, the deep view and the
//! report's filtering and order.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

use drift_core::app::fixtures::{mk_app, mk_resource};
use drift_core::app::{
    Application, IgnoreDifference, OperationState, ResourceStatus, SyncPolicy, SyncResult,
};
use drift_core::drift::jq::{JqCache, Unlimited};
use drift_core::drift::report::drift_report;
use drift_core::drift::secret::leak;
use drift_core::drift::settings::{SystemSettings, parse_argocd_cm};
use drift_core::drift::view::*;
use drift_core::drift::{Inspector, LiveRead, ReadFailure, ResourceInput};
use serde_json::{Value, json};
use std::collections::BTreeMap;

const LA: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// A live object carrying `desired` as its last-applied record, then changed by `edit`.
fn mk_live(desired: &Value, edit: impl FnOnce(&mut Value)) -> Value {
    let mut live = desired.clone();
    live["metadata"]["annotations"][LA] = Value::String(desired.to_string());
    live["metadata"]["creationTimestamp"] = json!("2026-11-20T00:00:00Z");
    edit(&mut live);
    live
}

fn mk_managed(live: &mut Value, entries: Value) {
    live["metadata"]["managedFields"] = entries;
}

fn deployment(replicas: i64) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment",
           "metadata": {"name": "web", "namespace": "ns"},
           "spec": {"replicas": replicas, "template": {"spec": {"containers": [
               {"name": "a", "image": "a:1"}, {"name": "b", "image": "b:1"}]}}}})
}

fn out_of_sync(mut r: ResourceStatus) -> ResourceStatus {
    r.status = Some("OutOfSync".into());
    r
}

struct Env {
    app: Application,
    system: SystemSettings,
    jq: JqCache,
}

impl Env {
    /// The app `argocd/shop`, never synced (its status shows no revision).
    fn new() -> Env {
        Env {
            app: mk_app("argocd", "shop", "default"),
            system: SystemSettings::default(),
            jq: JqCache::new(),
        }
    }

    /// Argo CD compares with `current`; the last sync (successful) applied `synced`, finishing
    /// at `at`.
    fn synced(mut self, synced: &str, current: &str, at: &str) -> Env {
        self.app.status.sync.revision = Some(current.into());
        self.app.status.operation_state = Some(OperationState {
            phase: Some("Succeeded".into()),
            finished_at: Some(at.into()),
            sync_result: Some(SyncResult {
                revision: Some(synced.into()),
                revisions: vec![],
            }),
            ..Default::default()
        });
        self
    }

    fn inspector(&self) -> Inspector<'_> {
        Inspector::for_app(&self.app, &self.system, &self.jq).with_secrets(true)
    }

    fn inspect(&self, r: &ResourceStatus, live: LiveRead) -> ResourceDrift {
        self.inspector().inspect(
            &ResourceInput {
                resource: r,
                live,
                argocd: None,
            },
            &mut Unlimited,
        )
    }

    fn detail(&self, r: &ResourceStatus, live: LiveRead) -> ResourceDetail {
        self.inspector().detail(
            &ResourceInput {
                resource: r,
                live,
                argocd: None,
            },
            &mut Unlimited,
        )
    }
}

fn pointers(d: &ResourceDrift) -> Vec<&str> {
    d.fields.iter().map(|f| f.pointer.as_str()).collect()
}

fn reason(d: &ResourceDrift) -> NotInspectedReason {
    assert_eq!(d.cause, Cause::NotInspected);
    d.not_inspected.as_ref().unwrap().reason
}

#[test]
fn hooks_extra_and_missing_are_settled_without_a_diff() {
    let env = Env::new();
    let mut hook = mk_resource("batch", "Job", "ns", "migrate");
    hook.hook = true;
    assert_eq!(
        reason(&env.inspect(&hook, LiveRead::NotFound)),
        NotInspectedReason::Hook
    );

    let mut extra = out_of_sync(mk_resource("", "ConfigMap", "ns", "old"));
    extra.requires_pruning = true;
    let live = mk_live(&json!({"metadata": {"name": "old"}}), |_| {});
    assert_eq!(
        env.inspect(&extra, LiveRead::Found(live)).cause,
        Cause::Extra
    );

    let gone = out_of_sync(mk_resource("", "ConfigMap", "ns", "gone"));
    let d = env.inspect(&gone, LiveRead::NotFound);
    assert_eq!(
        (d.cause, d.desired_source),
        (Cause::Missing, DesiredSource::None)
    );
}

#[test]
fn read_failures_become_reasons_on_the_resource() {
    let env = Env::new();
    let r = mk_resource("apps", "Deployment", "ns", "web");
    let cases = [
        (
            ReadFailure::KindNotReadable("403 forbidden".into()),
            NotInspectedReason::KindNotReadable,
        ),
        (
            ReadFailure::ClusterUnreachable("connect timeout".into()),
            NotInspectedReason::ClusterUnreachable,
        ),
        (
            ReadFailure::SecretReadingDisabled,
            NotInspectedReason::SecretReadingDisabled,
        ),
        (
            ReadFailure::Other("500".into()),
            NotInspectedReason::ReadFailed,
        ),
    ];
    for (failure, want) in cases {
        let d = env.inspect(&r, LiveRead::Failed(failure));
        assert_eq!(reason(&d), want);
    }
}

#[test]
fn secrets_are_not_inspected_when_reading_them_is_off_even_if_given() {
    let env = Env::new();
    let r = mk_resource("", "Secret", "ns", "db");
    let desired =
        json!({"kind": "Secret", "metadata": {"name": "db"}, "data": {"p": "aHVudGVyMg=="}});
    let live = mk_live(&desired, |l| l["data"]["p"] = json!("c3dvcmRmaXNo"));
    let off = Inspector::for_app(&env.app, &env.system, &env.jq);
    let d = off.inspect(
        &ResourceInput {
            resource: &r,
            live: LiveRead::Found(live),
            argocd: None,
        },
        &mut Unlimited,
    );
    assert_eq!(reason(&d), NotInspectedReason::SecretReadingDisabled);
    assert!(d.fields.is_empty());
}

#[test]
fn bad_input_is_a_reason_never_a_panic() {
    let env = Env::new();
    let r = mk_resource("", "ConfigMap", "ns", "a");
    let mut broken = json!({"metadata": {"name": "a", "annotations": {LA: "{\"data\": {\"password\": \"hunter2\""}}});
    let d = env.inspect(&r, LiveRead::Found(broken.clone()));
    assert_eq!(reason(&d), NotInspectedReason::UnparseableAnnotation);
    assert!(!serde_json::to_string(&d).unwrap().contains("hunter2"));
    broken["metadata"]["annotations"][LA] = json!(42);
    assert_eq!(
        reason(&env.inspect(&r, LiveRead::Found(broken))),
        NotInspectedReason::UnparseableAnnotation
    );
    assert_eq!(
        reason(&env.inspect(&r, LiveRead::Found(json!(["not", "an", "object"])))),
        NotInspectedReason::MalformedLiveObject
    );
    // A malformed managedFields entry is a problem; the others still attribute.
    let desired = json!({"metadata": {"name": "a"}, "data": {"k": "1"}});
    let mut live = mk_live(&desired, |l| l["data"]["k"] = json!("2"));
    mk_managed(
        &mut live,
        json!([{"manager": 7}, {"manager": "kubectl-edit", "operation": "Update", "time": "2026-11-21T10:00:00Z",
                "fieldsV1": {"f:data": {"f:k": {}}}}, {"manager": "x", "fieldsV1": {"q:bad": {}}}]),
    );
    let d = env.inspect(&out_of_sync(r), LiveRead::Found(live));
    assert_eq!(d.cause, Cause::LiveChanged);
    assert_eq!(
        d.fields[0].attribution.as_ref().unwrap().manager,
        "kubectl-edit"
    );
    assert_eq!(d.problems.len(), 2);
    assert!(
        d.problems
            .iter()
            .all(|p| p.kind == ProblemKind::ManagedFields)
    );
}

#[test]
fn objects_without_a_record_are_not_inspected_with_the_reason() {
    let mut env = Env::new();
    let r = mk_resource("", "ConfigMap", "ns", "a");
    let plain = json!({"metadata": {"name": "a"}, "data": {"k": "v"}});
    assert_eq!(
        reason(&env.inspect(&r, LiveRead::Found(plain.clone()))),
        NotInspectedReason::NoDesiredState
    );
    let mut annotated = plain.clone();
    annotated["metadata"]["annotations"] =
        json!({"argocd.argoproj.io/sync-options": "Replace=true"});
    assert_eq!(
        reason(&env.inspect(&r, LiveRead::Found(annotated))),
        NotInspectedReason::ReplaceSync
    );
    env.app.spec.sync_policy = Some(SyncPolicy {
        automated: None,
        sync_options: vec!["Replace=true".into()],
    });
    assert_eq!(
        reason(&env.inspect(&r, LiveRead::Found(plain))),
        NotInspectedReason::ReplaceSync
    );
}

#[test]
fn live_equal_to_what_argo_cd_applied_is_git_ahead_when_out_of_sync_and_git_moved() {
    let env = Env::new().synced("a1", "b2", "2026-11-20T00:00:00Z");
    let desired = deployment(3);
    let live = mk_live(&desired, |_| {});
    let synced = mk_resource("apps", "Deployment", "ns", "web");
    assert_eq!(
        env.inspect(&synced, LiveRead::Found(live.clone())).cause,
        Cause::NoDrift
    );
    let d = env.inspect(&out_of_sync(synced), LiveRead::Found(live));
    assert_eq!(d.cause, Cause::GitAhead);
    assert!(d.fields.is_empty());
}

#[test]
fn without_evidence_that_git_moved_an_unexplained_out_of_sync_is_not_called_git_ahead() {
    let desired = deployment(3);
    let live = mk_live(&desired, |_| {});
    let r = out_of_sync(mk_resource("apps", "Deployment", "ns", "web"));
    // Synced at the revision Argo CD compares with: Git did not move.
    let same = Env::new().synced("a1", "a1", "2026-11-20T00:00:00Z");
    let d = same.inspect(&r, LiveRead::Found(live.clone()));
    assert_eq!(reason(&d), NotInspectedReason::ArgoDiffersLocally);
    assert!(
        d.not_inspected
            .as_ref()
            .unwrap()
            .message
            .contains("Git has not moved")
    );
    // Never synced, or a status without revisions: unknown, so no claim either.
    let d = Env::new().inspect(&r, LiveRead::Found(live.clone()));
    assert_eq!(reason(&d), NotInspectedReason::ArgoDiffersLocally);
    // A failed sync at the new revision: the last successful one (history) is what counts.
    let mut failed = Env::new().synced("b2", "b2", "2026-11-21T00:00:00Z");
    failed.app.status.operation_state.as_mut().unwrap().phase = Some("Failed".into());
    failed.app.status.history = vec![drift_core::app::RevisionHistory {
        revision: Some("a1".into()),
        revisions: vec![],
        deployed_at: Some("2026-11-20T00:00:00Z".into()),
    }];
    assert_eq!(
        failed.inspect(&r, LiveRead::Found(live)).cause,
        Cause::GitAhead
    );
}

#[test]
fn a_reorder_of_containers_is_drift_and_of_a_custom_resource_list_too() {
    let env = Env::new();
    let desired = deployment(3);
    let live = mk_live(&desired, |l| {
        let c = l["spec"]["template"]["spec"]["containers"]
            .as_array_mut()
            .unwrap();
        c.reverse();
    });
    let d = env.inspect(
        &out_of_sync(mk_resource("apps", "Deployment", "ns", "web")),
        LiveRead::Found(live),
    );
    assert_eq!(pointers(&d), ["/spec/template/spec/containers"]);
    assert_eq!(d.fields[0].change, Change::Order);

    let cr = json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"},
                    "spec": {"tags": ["a", "b"], "size": 1}});
    let live = mk_live(&cr, |l| l["spec"]["tags"] = json!(["a", "b", "c"]));
    let d = env.inspect(
        &out_of_sync(mk_resource("example.com", "Widget", "ns", "w")),
        LiveRead::Found(live),
    );
    assert_eq!(pointers(&d), ["/spec/tags"]);
    assert_eq!(d.fields[0].desired, Some(json!(["a", "b"])));
}

#[test]
fn ignore_rules_of_each_kind_hide_differences_and_name_their_rule() {
    let mut env = Env::new().synced("a1", "b2", "2026-11-20T00:00:00Z");
    env.app.spec.ignore_differences = vec![
        IgnoreDifference {
            group: "apps".into(),
            kind: "Deployment".into(),
            json_pointers: vec!["/spec/replicas".into(), "/not/there".into()],
            ..Default::default()
        },
        IgnoreDifference {
            group: "*".into(),
            kind: "*".into(),
            jq_path_expressions: vec![
                r#".spec.template.spec.containers[] | select(.name == "b") | .image"#.into(),
            ],
            ..Default::default()
        },
    ];
    env.system = parse_argocd_cm(&BTreeMap::from([(
        "resource.customizations.ignoreDifferences.all".to_string(),
        "managedFieldsManagers: [hpa-controller]\n".to_string(),
    )]));
    let desired = json!({"metadata": {"name": "web", "labels": {"tier": "web"}},
                         "spec": {"replicas": 3, "template": {"spec": {"containers": [
                             {"name": "a", "image": "a:1"}, {"name": "b", "image": "b:1"}]}}}});
    let mut live = mk_live(&desired, |l| {
        l["spec"]["replicas"] = json!(9);
        l["spec"]["template"]["spec"]["containers"][1]["image"] = json!("b:2");
        l["metadata"]["labels"]["tier"] = json!("edge");
    });
    mk_managed(
        &mut live,
        json!([{"manager": "hpa-controller", "operation": "Update", "fieldsV1": {"f:metadata": {"f:labels": {"f:tier": {}}}}}]),
    );
    let d = env.inspect(
        &out_of_sync(mk_resource("apps", "Deployment", "ns", "web")),
        LiveRead::Found(live.clone()),
    );
    assert!(d.fields.is_empty(), "{:?}", pointers(&d));
    assert_eq!(d.cause, Cause::GitAhead);
    let ignored: Vec<(&str, RuleKind, RuleOrigin)> = d
        .ignored
        .iter()
        .map(|i| (i.pointer.as_str(), i.rule.kind, i.rule.origin))
        .collect();
    assert_eq!(
        ignored,
        [
            ("/spec/replicas", RuleKind::JsonPointer, RuleOrigin::App),
            (
                "/spec/template/spec/containers/1/image",
                RuleKind::JqPathExpression,
                RuleOrigin::App
            ),
            (
                "/metadata/labels/tier",
                RuleKind::ManagedFieldsManager,
                RuleOrigin::System
            ),
        ]
    );
    assert_eq!(
        d.ignored[2].rule.source,
        "resource.customizations.ignoreDifferences.all"
    );
    assert!(d.problems.is_empty(), "a missing pointer is a no-op");

    // Without the rules, all three are drift: the rules are what hid them.
    let plain = Env::new();
    let d = plain.inspect(
        &out_of_sync(mk_resource("apps", "Deployment", "ns", "web")),
        LiveRead::Found(live),
    );
    assert_eq!(d.fields.len(), 3);
}

#[test]
fn a_failing_jq_rule_is_skipped_and_reported_while_the_resource_is_still_inspected() {
    let mut env = Env::new();
    env.app.spec.ignore_differences = vec![IgnoreDifference {
        kind: "ConfigMap".into(),
        jq_path_expressions: vec![".data.k | error".into()],
        ..Default::default()
    }];
    let desired = json!({"metadata": {"name": "a"}, "data": {"k": "s3cr3t-value"}});
    let live = mk_live(&desired, |l| l["data"]["k"] = json!("other-value"));
    let d = env.inspect(
        &out_of_sync(mk_resource("", "ConfigMap", "ns", "a")),
        LiveRead::Found(live),
    );
    // Argo CD skips a rule that errors on an object too: the difference shows.
    assert_eq!(d.cause, Cause::LiveChanged);
    assert_eq!(pointers(&d), ["/data/k"]);
    assert!(
        d.problems
            .iter()
            .all(|p| p.kind == ProblemKind::IgnoreRuleSkipped && p.rule.is_some())
    );
    assert!(!d.problems.is_empty());
    let text = serde_json::to_string(&d.problems).unwrap();
    assert!(
        !text.contains("s3cr3t-value"),
        "runtime errors never quote values: {text}"
    );
}

#[test]
fn a_jq_rule_the_engine_cannot_run_leaves_the_resource_uninspected_never_drifted() {
    let desired = json!({"metadata": {"name": "a"}, "data": {"k": "1", "sidecar": "s:1"}});
    let live = mk_live(&desired, |l| l["data"]["sidecar"] = json!("s:2"));
    let r = out_of_sync(mk_resource("", "ConfigMap", "ns", "a"));
    for expr in ["def f: f; f", ".data[", ".data | nosuchbuiltin"] {
        let mut env = Env::new();
        env.app.spec.ignore_differences = vec![IgnoreDifference {
            kind: "ConfigMap".into(),
            jq_path_expressions: vec![expr.into()],
            ..Default::default()
        }];
        let d = env.inspect(&r, LiveRead::Found(live.clone()));
        assert_eq!(
            reason(&d),
            NotInspectedReason::UnsupportedIgnoreRule,
            "{expr}"
        );
    }
    // gojq's builtins beyond jaq's run: the rule hides the difference, as in Argo CD.
    let mut env = Env::new();
    env.app.spec.ignore_differences = vec![IgnoreDifference {
        kind: "ConfigMap".into(),
        jq_path_expressions: vec![r#".data | .[keys[] | select(IN("sidecar", "x"))]"#.into()],
        ..Default::default()
    }];
    let d = env.inspect(&r, LiveRead::Found(live));
    assert!(d.fields.is_empty(), "{:?}", pointers(&d));
    assert_eq!(d.ignored[0].pointer, "/data/sidecar");
}

#[test]
fn each_jq_expression_gets_its_own_budget_on_each_object() {
    /// Five checks per expression run, counted from each start.
    struct PerRun {
        left: usize,
        starts: usize,
    }
    impl drift_core::drift::jq::JqBudget for PerRun {
        fn start(&mut self) {
            self.left = 5;
            self.starts += 1;
        }
        fn exhausted(&mut self) -> bool {
            if self.left == 0 {
                return true;
            }
            self.left -= 1;
            false
        }
    }
    let mut env = Env::new();
    env.app.spec.ignore_differences = vec![IgnoreDifference {
        kind: "ConfigMap".into(),
        jq_path_expressions: vec![
            ".data.a, .data.b, .data.c".into(),
            ".data.d, .data.e".into(),
        ],
        ..Default::default()
    }];
    let desired = json!({"metadata": {"name": "x"}, "data": {"a": "1", "b": "1", "c": "1", "d": "1", "e": "1"}});
    let live = mk_live(&desired, |l| {
        for k in ["a", "b", "c", "d", "e"] {
            l["data"][k] = json!("2");
        }
    });
    let r = out_of_sync(mk_resource("", "ConfigMap", "ns", "x"));
    let mut budget = PerRun { left: 0, starts: 0 };
    let d = env.inspector().inspect(
        &ResourceInput {
            resource: &r,
            live: LiveRead::Found(live),
            argocd: None,
        },
        &mut budget,
    );
    assert!(d.problems.is_empty(), "{:?}", d.problems);
    assert_eq!(d.ignored.len(), 5);
    assert_eq!(budget.starts, 4, "two expressions, desired and live each");
}

#[test]
fn a_jq_rule_over_its_budget_is_skipped() {
    let mut env = Env::new();
    env.app.spec.ignore_differences = vec![IgnoreDifference {
        kind: "ConfigMap".into(),
        jq_path_expressions: vec![".data[]".into()],
        ..Default::default()
    }];
    let desired = json!({"metadata": {"name": "a"}, "data": {"k": "1"}});
    let live = mk_live(&desired, |l| l["data"]["k"] = json!("2"));
    let r = out_of_sync(mk_resource("", "ConfigMap", "ns", "a"));
    let mut deadline_passed = || true;
    let d = env.inspector().inspect(
        &ResourceInput {
            resource: &r,
            live: LiveRead::Found(live),
            argocd: None,
        },
        &mut deadline_passed,
    );
    assert_eq!(pointers(&d), ["/data/k"], "the rule did not apply");
    assert!(d.problems[0].message.contains("time budget"));
}

#[test]
fn a_secret_shows_which_key_changed_and_never_a_value() {
    let env = Env::new();
    let desired = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"},
                         "stringData": {"user": "admin-user-name"}, "data": {"password": "c3VwZXItc2VjcmV0LXB3"}});
    let live = mk_live(&desired, |l| {
        l.as_object_mut().unwrap().remove("stringData");
        l["data"] = json!({"user": "YWRtaW4tdXNlci1uYW1l", "password": "YW5vdGhlci1zZWNyZXQtcHc="});
    });
    let r = out_of_sync(mk_resource("", "Secret", "ns", "db"));
    let d = env.inspect(&r, LiveRead::Found(live.clone()));
    assert_eq!(d.cause, Cause::LiveChanged);
    assert_eq!(
        pointers(&d),
        ["/data/password"],
        "user is unchanged once stringData is folded in"
    );
    assert_eq!(d.fields[0].desired, Some(json!("++++++++")));
    assert_eq!(d.fields[0].live, Some(json!("++++++++++++")));
    let detail = env.detail(&r, LiveRead::Found(live));
    assert_eq!(
        detail.live.as_ref().unwrap()["data"]["user"],
        json!("++++++++")
    );
    assert_eq!(
        detail.live.as_ref().unwrap()["metadata"]["annotations"][LA],
        json!("++++++++")
    );
    let everything = format!(
        "{}{}{:?}{:?}",
        serde_json::to_string(&d).unwrap(),
        serde_json::to_string(&detail).unwrap(),
        d,
        detail
    );
    leak::assert_none(
        &everything,
        &["super-secret-pw", "another-secret-pw", "admin-user-name"],
    );
}

#[test]
fn sensitive_annotations_are_masked_on_any_kind() {
    let mut env = Env::new();
    env.system.sensitive_annotations = vec!["vault.example.com/token".into()];
    let desired = json!({"metadata": {"name": "a", "annotations": {"vault.example.com/token": "tok-aaaaaaaa"}}});
    let live = mk_live(&desired, |l| {
        l["metadata"]["annotations"]["vault.example.com/token"] = json!("tok-bbbbbbbb")
    });
    let r = out_of_sync(mk_resource("", "ConfigMap", "ns", "a"));
    let d = env.inspect(&r, LiveRead::Found(live.clone()));
    assert_eq!(d.fields[0].desired, Some(json!("++++++++")));
    assert_eq!(d.fields[0].live, Some(json!("++++++++++++")));
    let text = serde_json::to_string(&env.detail(&r, LiveRead::Found(live))).unwrap();
    assert!(!text.contains("tok-bbbbbbbb") && !text.contains("tok-aaaaaaaa"));
}

#[test]
fn the_deep_view_has_normalized_objects_a_unified_diff_and_a_managed_fields_summary() {
    let env = Env::new();
    let desired = deployment(3);
    let mut live = mk_live(&desired, |l| l["spec"]["replicas"] = json!(7));
    mk_managed(
        &mut live,
        json!([{"manager": "argocd-controller", "operation": "Update", "time": "2026-11-20T00:00:00Z",
                "fieldsV1": {"f:spec": {"f:template": {"f:spec": {"f:containers": {
                    "k:{\"name\":\"a\"}": {".": {}, "f:image": {}, "f:name": {}}}}}}}},
               {"manager": "kubectl-scale", "operation": "Update", "subresource": "scale", "time": "2026-11-21T08:00:00Z",
                "fieldsV1": {"f:spec": {"f:replicas": {}}}}]),
    );
    let d = env.detail(
        &out_of_sync(mk_resource("apps", "Deployment", "ns", "web")),
        LiveRead::Found(live),
    );
    assert!(d.diff.contains("-    \"replicas\": 7,"), "{}", d.diff);
    assert!(d.diff.contains("+    \"replicas\": 3,"), "{}", d.diff);
    assert!(d.diff.starts_with("--- live\n+++ predicted\n"));
    assert_eq!(
        d.predicted_live.as_ref().unwrap()["spec"]["replicas"],
        json!(3)
    );
    assert!(
        d.live.as_ref().unwrap()["metadata"]
            .get("managedFields")
            .is_none()
    );
    assert!(
        d.desired.as_ref().unwrap()["metadata"]
            .get("creationTimestamp")
            .is_none()
    );
    let summary: Vec<(&str, usize, Option<&str>)> = d
        .managed_fields
        .iter()
        .map(|m| (m.manager.as_str(), m.fields, m.subresource.as_deref()))
        .collect();
    assert_eq!(
        summary,
        [
            ("argocd-controller", 3, None),
            ("kubectl-scale", 1, Some("scale"))
        ]
    );
    let f = &d.resource.fields[0];
    let who = f.attribution.as_ref().unwrap();
    assert_eq!(
        (
            who.manager.as_str(),
            who.subresource.as_deref(),
            who.is_argo_cd
        ),
        ("kubectl-scale", Some("scale"), false)
    );
}

#[test]
fn the_report_lists_out_of_sync_resources_by_default_newest_change_first() {
    let mut env = Env::new();
    // Argo CD last compared before the changes below.
    env.app.status.reconciled_at = Some("2026-11-19T00:00:00Z".into());
    let app = mk_app("argocd", "shop", "default");
    let mk = |name: &str, oos: bool, at: Option<&str>| {
        let r = mk_resource("", "ConfigMap", "ns", name);
        let r = if oos { out_of_sync(r) } else { r };
        let desired = json!({"metadata": {"name": name}, "data": {"k": "1"}});
        let mut live = mk_live(&desired, |l| l["data"]["k"] = json!("2"));
        if let Some(at) = at {
            mk_managed(
                &mut live,
                json!([{"manager": "kubectl-edit", "operation": "Update", "time": at, "fieldsV1": {"f:data": {"f:k": {}}}}]),
            );
        }
        env.inspect(&r, LiveRead::Found(live))
    };
    let resources = vec![
        mk("old", true, Some("2026-11-20T00:00:00Z")),
        mk("unknown", true, None),
        mk("synced", false, Some("2026-11-21T11:00:00Z")),
        mk("new", true, Some("2026-11-21T10:00:00Z")),
    ];
    let read_at: jiff::Timestamp = "2026-11-21T12:00:00Z".parse().unwrap();
    let r = drift_report(&app, resources.clone(), read_at, false);
    let names: Vec<&str> = r.resources.iter().map(|x| x.name.as_str()).collect();
    assert_eq!(names, ["new", "old", "unknown"]);
    assert_eq!(r.summary.resources_listed, 3);
    assert_eq!(r.summary.fields_drifted, 3);
    assert_eq!(r.summary.read_at, read_at);
    let all = drift_report(&app, resources, read_at, true);
    assert_eq!(
        all.resources[0].name, "synced",
        "Argo CD Synced, but changed live since: we show it"
    );
    assert_eq!(all.summary.by_cause.live_changed, 4);
}

#[test]
fn a_manual_server_side_sync_of_a_client_side_app_keeps_diffing_against_the_record() {
    let env = Env::new();
    // Applied client-side once (annotation replicas 3), then by a manual server-side sync of
    // Argo CD's (replicas 5): the app is not server-side, so Argo CD still diffs against the
    // record, and replicas is Argo CD's own newer write, not drift.
    let stale = deployment(3);
    let mut live = mk_live(&stale, |l| {
        l["spec"]["replicas"] = json!(5);
        l["spec"]["template"]["spec"]["containers"][0]["image"] = json!("a:hotfix");
    });
    mk_managed(
        &mut live,
        json!([{"manager": "argocd-controller", "operation": "Update", "time": "2026-11-01T00:00:00Z",
                "fieldsV1": {"f:metadata": {"f:annotations": {"f:kubectl.kubernetes.io/last-applied-configuration": {}}}}},
               {"manager": "argocd-controller", "operation": "Apply", "time": "2026-11-20T00:00:00Z",
                "fieldsV1": {"f:spec": {"f:replicas": {}}}},
               {"manager": "kubectl-set", "operation": "Update", "time": "2026-11-21T00:00:00Z",
                "fieldsV1": {"f:spec": {"f:template": {"f:spec": {"f:containers": {"k:{\"name\":\"a\"}": {"f:image": {}}}}}}}}]),
    );
    let r = out_of_sync(mk_resource("apps", "Deployment", "ns", "web"));
    let d = env.inspect(&r, LiveRead::Found(live.clone()));
    assert_eq!(d.desired_source, DesiredSource::LastApplied);
    assert_eq!(
        pointers(&d),
        ["/spec/template/spec/containers/0/image"],
        "the hand change shows; Argo CD's own newer replicas does not"
    );
    assert_eq!(d.cause, Cause::LiveChanged);
    assert!(
        d.problems
            .iter()
            .any(|p| p.kind == ProblemKind::StaleRecord)
    );
    // Another manager writing replicas after Argo CD's server-side sync: a change again.
    let mut later = live.clone();
    later["metadata"]["managedFields"]
        .as_array_mut()
        .unwrap()
        .push(
            json!({"manager": "kube-controller-manager", "operation": "Update",
            "time": "2026-11-22T00:00:00Z", "fieldsV1": {"f:spec": {"f:replicas": {}}}}),
        );
    assert_eq!(
        pointers(&env.inspect(&r, LiveRead::Found(later))),
        ["/spec/replicas", "/spec/template/spec/containers/0/image"]
    );
    // The app's sync option (or the object's) says server-side: the record is not used.
    let mut env = Env::new();
    env.app.spec.sync_policy = Some(SyncPolicy {
        automated: None,
        sync_options: vec!["ServerSideApply=true".into()],
    });
    assert_eq!(
        env.inspect(&r, LiveRead::Found(live)).desired_source,
        DesiredSource::ServerSideApplyAttribution
    );
}

#[test]
fn an_unusable_argo_cd_item_falls_back_to_the_local_record_and_says_so() {
    use drift_core::drift::ManagedResource;
    assert!(
        ManagedResource::from_api_item(
            &json!({"kind": "ConfigMap", "predictedLiveState": "{not json"})
        )
        .is_err()
    );
    assert!(ManagedResource::from_api_item(&json!("nope")).is_err());
    let created = ManagedResource::from_api_item(&json!({"kind": "ConfigMap", "name": "a", "namespace": "ns",
        "targetState": "{\"kind\":\"ConfigMap\"}", "liveState": "null", "normalizedLiveState": "null",
        "predictedLiveState": "null", "modified": true}))
    .unwrap();
    assert_eq!(created.normalized_live_state, None);
    let env = Env::new();
    let desired = json!({"metadata": {"name": "a"}, "data": {"k": "1"}});
    let live = mk_live(&desired, |l| l["data"]["k"] = json!("2"));
    let r = out_of_sync(mk_resource("", "ConfigMap", "ns", "a"));
    assert!(created.is_for(&r));
    let d = env.inspector().inspect(
        &ResourceInput {
            resource: &r,
            live: LiveRead::Found(live),
            argocd: Some(&created),
        },
        &mut Unlimited,
    );
    assert_eq!(d.desired_source, DesiredSource::LastApplied);
    assert_eq!(d.problems[0].kind, ProblemKind::ArgoCdSource);
    assert_eq!(pointers(&d), ["/data/k"]);
}

#[test]
fn debug_output_of_the_inputs_never_shows_object_content() {
    let r = mk_resource("", "Secret", "ns", "db");
    let input = ResourceInput {
        resource: &r,
        live: LiveRead::Found(json!({"data": {"p": "dG9wLXNlY3JldC12YWx1ZQ=="}})),
        argocd: None,
    };
    let shown = format!("{input:?}");
    assert!(shown.contains("Found(..)"), "{shown}");
    leak::assert_none(&shown, &["top-secret-value"]);
}

#[test]
fn a_record_rewritten_by_a_persons_kubectl_apply_is_not_taken_as_argo_cds() {
    let env = Env::new().synced("a1", "b2", "2026-11-20T00:00:00Z");
    // A person applied a hotfix with `kubectl apply -f`: the record now holds the hotfix and
    // equals live, but Argo CD diffs live against Git.
    let hotfix = deployment(3);
    let mut hotfix = hotfix.clone();
    hotfix["spec"]["template"]["spec"]["containers"][0]["image"] = json!("a:hotfix");
    hotfix["metadata"]["annotations"] =
        json!({"argocd.argoproj.io/tracking-id": "shop:apps/Deployment:ns/web"});
    let mut live = mk_live(&hotfix, |_| {});
    mk_managed(
        &mut live,
        json!([{"manager": "argocd-controller", "operation": "Update", "time": "2026-11-20T00:00:00Z",
                "fieldsV1": {"f:spec": {"f:replicas": {}}}},
               {"manager": "kubectl-client-side-apply", "operation": "Update", "time": "2026-11-21T00:00:00Z",
                "fieldsV1": {"f:metadata": {"f:annotations": {"f:kubectl.kubernetes.io/last-applied-configuration": {}}},
                             "f:spec": {"f:template": {"f:spec": {"f:containers": {"k:{\"name\":\"a\"}": {"f:image": {}}}}}}}}]),
    );
    let r = out_of_sync(mk_resource("apps", "Deployment", "ns", "web"));
    let d = env.inspect(&r, LiveRead::Found(live.clone()));
    assert_eq!(d.desired_source, DesiredSource::AnotherManagersRecord);
    assert_eq!(d.cause, Cause::LiveChanged, "never gitAhead");
    assert_eq!(pointers(&d), ["/spec/template/spec/containers/0/image"]);
    let f = &d.fields[0];
    assert_eq!(
        (f.change, f.desired_known),
        (Change::OwnedByAnotherManager, false)
    );
    assert_eq!(
        f.attribution.as_ref().unwrap().manager,
        "kubectl-client-side-apply"
    );
    // Argo CD still holding the record: it is Argo CD's, and trusted.
    let entries = &mut live["metadata"]["managedFields"];
    entries[1]["fieldsV1"]
        .as_object_mut()
        .unwrap()
        .remove("f:metadata");
    entries[0]["fieldsV1"]["f:metadata"] = json!({"f:annotations": {
        "f:kubectl.kubernetes.io/last-applied-configuration": {}}});
    assert_eq!(
        env.inspect(&r, LiveRead::Found(live)).desired_source,
        DesiredSource::LastApplied
    );
}

#[test]
fn an_object_tracked_by_another_app_is_not_compared_with_that_apps_record() {
    let env = Env::new().synced("a1", "b2", "2026-11-20T00:00:00Z");
    let mut desired = json!({"metadata": {"name": "shared", "annotations": {
        "argocd.argoproj.io/tracking-id": "billing:/ConfigMap:ns/shared"}}, "data": {"k": "1"}});
    let live = mk_live(&desired, |_| {});
    let r = out_of_sync(mk_resource("", "ConfigMap", "ns", "shared"));
    let d = env.inspect(&r, LiveRead::Found(live));
    assert_eq!(reason(&d), NotInspectedReason::TrackedByAnotherApp);
    assert!(d.not_inspected.unwrap().message.contains("`billing`"));
    // Its own tracking id (by name, or namespace_name outside Argo CD's namespace): compared.
    for own in ["shop", "argocd_shop"] {
        desired["metadata"]["annotations"]["argocd.argoproj.io/tracking-id"] =
            json!(format!("{own}:/ConfigMap:ns/shared"));
        let live = mk_live(&desired, |l| l["data"]["k"] = json!("2"));
        assert_eq!(
            env.inspect(&r, LiveRead::Found(live)).cause,
            Cause::LiveChanged
        );
    }
}

#[test]
fn with_argo_cds_diff_git_ahead_needs_git_to_have_moved_and_old_co_owners_are_not_changes() {
    use drift_core::drift::ManagedResource;
    let item = |normalized: Value, predicted: Value| ManagedResource {
        group: String::new(),
        kind: "ConfigMap".into(),
        namespace: "ns".into(),
        name: "a".into(),
        target_state: Some(predicted.clone()),
        live_state: Some(normalized.clone()),
        normalized_live_state: Some(normalized),
        predicted_live_state: Some(predicted),
        modified: true,
    };
    let r = out_of_sync(mk_resource("", "ConfigMap", "ns", "a"));
    let inspect = |env: &Env, live: &Value, mr: &ManagedResource| {
        env.inspector().inspect(
            &ResourceInput {
                resource: &r,
                live: LiveRead::Found(live.clone()),
                argocd: Some(mr),
            },
            &mut Unlimited,
        )
    };
    // A Git field deleted live (server-side applied: no record), Git not moved: a live change.
    let live = json!({"metadata": {"name": "a", "managedFields": [
        {"manager": "argocd-controller", "operation": "Apply", "time": "2026-11-20T00:00:00Z",
         "fieldsV1": {"f:data": {"f:a": {}}}}]}, "data": {"a": "1"}});
    let mr = item(
        json!({"metadata": {"name": "a"}, "data": {"a": "1"}}),
        json!({"metadata": {"name": "a"}, "data": {"a": "1", "b": "2"}}),
    );
    let unmoved = Env::new().synced("a1", "a1", "2026-11-20T00:00:00Z");
    let d = inspect(&unmoved, &live, &mr);
    assert_eq!(
        (d.cause, pointers(&d)),
        (Cause::LiveChanged, vec!["/data/b"])
    );
    let moved = Env::new().synced("a1", "b2", "2026-11-20T00:00:00Z");
    assert_eq!(inspect(&moved, &live, &mr).cause, Cause::GitAhead);
    // Git moved a field whose only owner is `helm`, from before the object was adopted and
    // synced: Git's change, not helm's.
    let live = json!({"metadata": {"name": "a", "managedFields": [
        {"manager": "helm", "operation": "Update", "time": "2026-10-01T00:00:00Z",
         "fieldsV1": {"f:data": {"f:a": {}}}}]}, "data": {"a": "1"}});
    let mr = item(
        json!({"metadata": {"name": "a"}, "data": {"a": "1"}}),
        json!({"metadata": {"name": "a"}, "data": {"a": "2"}}),
    );
    assert_eq!(inspect(&moved, &live, &mr).cause, Cause::GitAhead);
    // The same manager writing after the sync is a live change.
    let mut later = live.clone();
    later["metadata"]["managedFields"][0]["time"] = json!("2026-11-21T00:00:00Z");
    assert_eq!(inspect(&moved, &later, &mr).cause, Cause::LiveChanged);
}

#[test]
fn a_hand_fix_later_committed_to_git_is_not_drift_once_argo_cd_compared_it_synced() {
    let mut env = Env::new().synced("a1", "b2", "2026-11-20T00:00:00Z");
    env.app.status.reconciled_at = Some("2026-11-21T12:00:00Z".into());
    let desired = json!({"metadata": {"name": "a"}, "data": {"k": "1"}});
    let mut live = mk_live(&desired, |l| l["data"]["k"] = json!("2"));
    mk_managed(
        &mut live,
        json!([{"manager": "kubectl-edit", "operation": "Update", "time": "2026-11-21T10:00:00Z",
                "fieldsV1": {"f:data": {"f:k": {}}}}]),
    );
    let mut r = mk_resource("", "ConfigMap", "ns", "a");
    r.status = Some("Synced".into());
    let d = env.inspect(&r, LiveRead::Found(live.clone()));
    assert_eq!(d.cause, Cause::NoDrift);
    assert!(d.fields.is_empty());
    assert_eq!(d.problems[0].kind, ProblemKind::StaleRecord);
    // Changed after Argo CD's last comparison: Argo CD has not seen it yet; we show it.
    live["metadata"]["managedFields"][0]["time"] = json!("2026-11-21T12:30:00Z");
    assert_eq!(
        env.inspect(&r, LiveRead::Found(live)).cause,
        Cause::LiveChanged
    );
}

#[test]
fn server_side_applied_fields_of_other_managers_are_additions_while_argo_cd_says_synced() {
    let env = Env::new();
    let live = json!({"metadata": {"name": "web",
        "annotations": {"argocd.argoproj.io/tracking-id": "shop:apps/Deployment:ns/web"},
        "managedFields": [
        {"manager": "argocd-controller", "operation": "Apply", "time": "2026-11-20T00:00:00Z",
         "fieldsV1": {"f:spec": {"f:replicas": {}}}},
        {"manager": "kubectl-rollout", "operation": "Update", "time": "2026-11-21T00:00:00Z",
         "fieldsV1": {"f:spec": {"f:template": {"f:metadata": {"f:annotations": {
             "f:kubectl.kubernetes.io/restartedAt": {}}}}}}}]},
        "spec": {"replicas": 2, "template": {"metadata": {"annotations": {
            "kubectl.kubernetes.io/restartedAt": "2026-11-21T00:00:00Z"}}}}});
    let mut r = mk_resource("apps", "Deployment", "ns", "web");
    r.status = Some("Synced".into());
    let d = env.inspect(&r, LiveRead::Found(live.clone()));
    assert_eq!(d.desired_source, DesiredSource::ServerSideApplyAttribution);
    assert_eq!(d.cause, Cause::NoDrift);
    assert!(d.fields.is_empty());
    assert_eq!(
        d.additions[0].pointer,
        "/spec/template/metadata/annotations/kubectl.kubernetes.io~1restartedAt"
    );
    // OutOfSync: the field may be one taken from Argo CD, listed as drift (desired unknown).
    let d = env.inspect(&out_of_sync(r), LiveRead::Found(live));
    assert_eq!(d.cause, Cause::LiveChanged);
    assert_eq!(d.fields.len(), 1);
}

#[test]
fn under_server_side_diff_a_field_the_record_drops_is_not_deleted() {
    // imagePullSecrets: [] in Git, one added live: the three-way patch deletes it (drift); the
    // dry-run apply of server-side diff leaves it (Synced).
    let desired = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"template": {"spec": {"imagePullSecrets": [], "containers": [{"name": "a", "image": "a:1"}]}}}});
    let live = mk_live(&desired, |l| {
        l["spec"]["template"]["spec"]["imagePullSecrets"] = json!([{"name": "pull"}])
    });
    let r = out_of_sync(mk_resource("apps", "Deployment", "ns", "web"));
    let env = Env::new();
    assert_eq!(
        pointers(&env.inspect(&r, LiveRead::Found(live.clone()))),
        ["/spec/template/spec/imagePullSecrets"]
    );
    let mut ssd = Env::new();
    ssd.app.spec.compare_options = Some("ServerSideDiff=true".into());
    assert!(
        ssd.inspect(&r, LiveRead::Found(live.clone()))
            .fields
            .is_empty()
    );
    // The controller's default, unless the app turns it off.
    let mut controller = Env::new();
    controller.system = SystemSettings::default().with_cmd_params(&BTreeMap::from([(
        "controller.diff.server.side".to_string(),
        "true".to_string(),
    )]));
    assert!(
        controller
            .inspect(&r, LiveRead::Found(live.clone()))
            .fields
            .is_empty()
    );
    controller.app.spec.compare_options = Some("ServerSideDiff=false".into());
    assert_eq!(
        controller.inspect(&r, LiveRead::Found(live)).fields.len(),
        1
    );
}

#[test]
fn a_tracking_id_removed_live_is_drift_even_without_a_record_of_argo_cds() {
    // A person's `kubectl apply -f` of the Git file as is: the tracking annotation, in Argo CD's
    // record but not in the file, is deleted live, and the record is the person's.
    let env = Env::new().synced("a1", "a1", "2026-11-20T00:00:00Z");
    let desired = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"k": "1"}});
    let mut live = mk_live(&desired, |_| {});
    mk_managed(
        &mut live,
        json!([{"manager": "kubectl-client-side-apply", "operation": "Update", "time": "2026-11-21T00:00:00Z",
                "fieldsV1": {"f:metadata": {"f:annotations": {"f:kubectl.kubernetes.io/last-applied-configuration": {}}}}}]),
    );
    let r = out_of_sync(mk_resource("", "ConfigMap", "ns", "a"));
    let d = env.inspect(&r, LiveRead::Found(live.clone()));
    assert_eq!(d.cause, Cause::LiveChanged);
    assert_eq!(
        pointers(&d),
        ["/metadata/annotations/argocd.argoproj.io~1tracking-id"]
    );
    assert_eq!(
        d.fields[0].desired,
        Some(json!("shop:/ConfigMap:ns/a")),
        "the id Argo CD writes"
    );
    // Label tracking: no annotation is expected.
    let mut labels = Env::new().synced("a1", "a1", "2026-11-20T00:00:00Z");
    labels.system = parse_argocd_cm(&BTreeMap::from([(
        "application.resourceTrackingMethod".to_string(),
        "label".to_string(),
    )]));
    assert_ne!(
        labels.inspect(&r, LiveRead::Found(live)).cause,
        Cause::LiveChanged
    );
}

#[test]
fn server_side_applied_spec_fields_the_control_plane_took_are_drift_its_metadata_is_not() {
    let env = Env::new();
    let live = json!({"metadata": {"name": "web",
        "annotations": {"argocd.argoproj.io/tracking-id": "shop:apps/Deployment:ns/web",
                        "deployment.kubernetes.io/revision": "3"},
        "managedFields": [
        {"manager": "argocd-controller", "operation": "Apply", "time": "2026-11-20T00:00:00Z",
         "fieldsV1": {"f:metadata": {"f:annotations": {"f:argocd.argoproj.io/tracking-id": {}}}}},
        {"manager": "kube-controller-manager", "operation": "Update", "time": "2026-11-21T00:00:00Z",
         "subresource": "scale", "fieldsV1": {"f:spec": {"f:replicas": {}}}},
        {"manager": "kube-controller-manager", "operation": "Update", "time": "2026-11-21T00:00:00Z",
         "fieldsV1": {"f:metadata": {"f:annotations": {"f:deployment.kubernetes.io/revision": {}}}}}]},
        "spec": {"replicas": 7}});
    let r = out_of_sync(mk_resource("apps", "Deployment", "ns", "web"));
    let d = env.inspect(&r, LiveRead::Found(live));
    assert_eq!(d.desired_source, DesiredSource::ServerSideApplyAttribution);
    assert_eq!(pointers(&d), ["/spec/replicas"]);
}

#[test]
fn server_side_applied_fields_another_tool_wrote_before_the_last_sync_are_not_changes() {
    // Created by helm, adopted by Argo CD's server-side sync; Git moved since.
    let env = Env::new().synced("a1", "b2", "2026-11-20T00:00:00Z");
    let mut live = json!({"metadata": {"name": "web",
        "annotations": {"argocd.argoproj.io/tracking-id": "shop:apps/Deployment:ns/web"},
        "managedFields": [
        {"manager": "helm", "operation": "Update", "time": "2026-11-01T00:00:00Z",
         "fieldsV1": {"f:spec": {"f:revisionHistoryLimit": {}}}},
        {"manager": "argocd-controller", "operation": "Apply", "time": "2026-11-20T00:00:00Z",
         "fieldsV1": {"f:metadata": {"f:annotations": {"f:argocd.argoproj.io/tracking-id": {}}},
                      "f:spec": {"f:replicas": {}}}}]},
        "spec": {"replicas": 2, "revisionHistoryLimit": 10}});
    let r = out_of_sync(mk_resource("apps", "Deployment", "ns", "web"));
    assert_eq!(
        env.inspect(&r, LiveRead::Found(live.clone())).cause,
        Cause::GitAhead
    );
    // helm writing again after the sync: a live change.
    live["metadata"]["managedFields"][0]["time"] = json!("2026-11-21T00:00:00Z");
    let d = env.inspect(&r, LiveRead::Found(live));
    assert_eq!(
        (d.cause, pointers(&d)),
        (Cause::LiveChanged, vec!["/spec/revisionHistoryLimit"])
    );
}

#[test]
fn an_extraneous_object_argo_cd_ignores_is_extra_but_not_counted_against_the_app() {
    let env = Env::new();
    let mut app = mk_app("argocd", "shop", "default");
    app.status.sync.status = Some("Synced".into());
    let mut extra = out_of_sync(mk_resource("", "ConfigMap", "ns", "old"));
    extra.requires_pruning = true;
    let live = json!({"metadata": {"name": "old", "annotations": {
        "argocd.argoproj.io/compare-options": "IgnoreExtraneous"}}});
    let d = env.inspect(&extra, LiveRead::Found(live));
    assert_eq!((d.cause, d.ignore_extraneous), (Cause::Extra, true));
    let plain = env.inspect(
        &extra,
        LiveRead::Found(json!({"metadata": {"name": "old"}})),
    );
    assert!(!plain.ignore_extraneous);
    let read_at = "2026-11-21T12:00:00Z".parse().unwrap();
    let r = drift_report(&app, vec![d, plain], read_at, true);
    assert_eq!(r.summary.by_cause.extra, 2);
    assert_eq!(r.summary.resources_drifted, 1);
}
