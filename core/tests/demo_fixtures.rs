//! The engine on the demo's live objects, recorded from a real kube-apiserver
//! (`fixtures/demo/30-live-objects.yaml`: real managedFields, real last-applied annotations, CSA and
//! SSA) with the demo Applications (`fixtures/demo/20-applications.yaml`), through the whole
//! report as `GET /api/v1/drift` would build it.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

mod common;

use drift_core::app::Application;
use drift_core::drift::jq::{JqCache, Unlimited};
use drift_core::drift::report::{drift_report, resources_to_inspect};
use drift_core::drift::secret::leak;
use drift_core::drift::settings::SystemSettings;
use drift_core::drift::view::{Cause, Change, DesiredSource, DriftReport, NotInspectedReason};
use drift_core::drift::{Inspector, LiveRead, ResourceInput};
use serde_json::Value;

fn yaml_docs(file: &str) -> Vec<Value> {
    let path = format!("{}/../fixtures/demo/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(path).unwrap();
    let mut docs: Vec<Value> = serde_saphyr::from_multiple::<Value>(&text)
        .unwrap()
        .into_iter()
        .filter(Value::is_object)
        .collect();
    docs.iter_mut().for_each(common::expand_times);
    docs
}

fn app(name: &str) -> Application {
    let doc = yaml_docs("20-applications.yaml")
        .into_iter()
        .find(|d| d["metadata"]["name"] == name)
        .unwrap();
    common::application(&doc)
}

fn read_at() -> jiff::Timestamp {
    "2026-11-21T12:00:00Z".parse().unwrap()
}

fn report(name: &str, all: bool) -> DriftReport {
    let app = app(name);
    let live = yaml_docs("30-live-objects.yaml");
    let system = SystemSettings::default();
    let jq = JqCache::new();
    let inspector = Inspector::new(&app.spec, &system, &jq).with_secrets(true);
    let resources = resources_to_inspect(&app, all)
        .map(|r| {
            let read = match common::find_live(&live, r) {
                Some(v) => LiveRead::Found(v.clone()),
                None => LiveRead::NotFound,
            };
            inspector.inspect(
                &ResourceInput {
                    resource: r,
                    live: read,
                    argocd: None,
                },
                &mut Unlimited,
            )
        })
        .collect();
    drift_report(&app, resources, read_at(), all)
}

#[test]
fn payments_shows_the_hand_edits_newest_first_with_who_and_when() {
    let r = report("payments-api", false);
    let names: Vec<&str> = r.resources.iter().map(|x| x.kind.as_str()).collect();
    assert_eq!(
        names,
        ["Deployment", "ConfigMap"],
        "the hot fix (40 min) before the edit (3 h)"
    );
    let dep = &r.resources[0];
    assert_eq!(dep.cause, Cause::LiveChanged);
    assert_eq!(dep.desired_source, DesiredSource::LastApplied);
    let fields: Vec<(&str, &Value, &Value, &str)> = dep
        .fields
        .iter()
        .map(|f| {
            (
                f.pointer.as_str(),
                f.desired.as_ref().unwrap(),
                f.live.as_ref().unwrap(),
                f.attribution.as_ref().unwrap().manager.as_str(),
            )
        })
        .collect();
    assert_eq!(
        fields,
        [
            (
                "/spec/replicas",
                &Value::from(3),
                &Value::from(5),
                "kubectl-edit"
            ),
            (
                "/spec/template/spec/containers/0/image",
                &Value::from("registry.example.com/payments/api:1.14.2"),
                &Value::from("registry.example.com/payments/api:1.14.3-hotfix"),
                "kubectl-set"
            ),
        ]
    );
    assert_eq!(
        dep.fields[1].path,
        "spec.template.spec.containers[name=api].image"
    );
    assert_eq!(dep.last_change_at.as_deref(), Some("2026-11-21T11:20:00Z"));
    let cm = &r.resources[1];
    assert_eq!(cm.fields[0].pointer, "/data/LOG_LEVEL");
    assert_eq!(
        cm.fields[0].attribution.as_ref().unwrap().time.as_deref(),
        Some("2026-11-21T09:00:00Z")
    );

    let s = &r.summary;
    assert_eq!((s.resources_in_app, s.resources_listed), (4, 2));
    assert_eq!((s.by_cause.live_changed, s.fields_drifted), (2, 3));
    assert_eq!(s.argo_sync_status.as_deref(), Some("OutOfSync"));
    assert!(s.argo_reconciled_at.is_some());
    assert_eq!(s.last_change_at.as_deref(), Some("2026-11-21T11:20:00Z"));
}

#[test]
fn all_resources_include_the_untouched_ones_and_the_secret_addition_without_its_values() {
    let r = report("payments-api", true);
    assert_eq!(r.summary.resources_listed, 4);
    assert_eq!(r.summary.by_cause.none, 2);
    let secret = r.resources.iter().find(|x| x.kind == "Secret").unwrap();
    assert_eq!(secret.cause, Cause::NoDrift);
    assert_eq!(secret.additions.len(), 1);
    assert_eq!(
        secret.additions[0].pointer,
        "/metadata/annotations/rotated-by"
    );
    assert_eq!(secret.additions[0].attribution.manager, "kubectl-annotate");
    let text = serde_json::to_string(&r).unwrap();
    leak::assert_none(
        &text,
        &["correct-horse-battery-staple", "payments-db-user-unused"],
    );
    // `payments` (the username) is also the namespace; its base64 must not appear.
    assert!(!text.contains("cGF5bWVudHM"), "{text}");
}

#[test]
fn a_synced_client_side_applied_app_has_no_drift() {
    let r = report("guestbook", true);
    assert!(
        r.resources
            .iter()
            .all(|x| x.cause == Cause::NoDrift && x.fields.is_empty())
    );
    assert_eq!(r.summary.resources_drifted, 0);
    assert!(report("guestbook", false).resources.is_empty());
}

#[test]
fn server_side_applied_objects_get_attribution_only() {
    let r = report("web-frontend", true);
    let dep = r.resources.iter().find(|x| x.kind == "Deployment").unwrap();
    assert_eq!(
        dep.desired_source,
        DesiredSource::ServerSideApplyAttribution
    );
    assert_eq!(dep.cause, Cause::LiveChanged);
    let owned: Vec<(&str, &str)> = dep
        .fields
        .iter()
        .map(|f| {
            (
                f.pointer.as_str(),
                f.attribution.as_ref().unwrap().manager.as_str(),
            )
        })
        .collect();
    assert_eq!(
        owned,
        [
            ("/metadata/labels/policy.example.com~1owner", "kyverno"),
            (
                "/spec/template/spec/containers/0/resources/limits/memory",
                "kubectl-edit"
            ),
        ]
    );
    assert!(
        dep.fields
            .iter()
            .all(|f| f.change == Change::OwnedByAnotherManager
                && !f.desired_known
                && f.desired.is_none())
    );
    let ingress = r.resources.iter().find(|x| x.kind == "Ingress").unwrap();
    assert_eq!(ingress.cause, Cause::LiveChanged);
    let cm = r.resources.iter().find(|x| x.kind == "ConfigMap").unwrap();
    assert_eq!(
        cm.cause,
        Cause::NoDrift,
        "no other manager, Argo CD says Synced"
    );
    let hook = r.resources.iter().find(|x| x.kind == "Job").unwrap();
    assert_eq!(
        hook.not_inspected.as_ref().unwrap().reason,
        NotInspectedReason::Hook
    );
    // Newest first: the Ingress and Deployment edits (10 min) lead.
    assert_eq!(
        r.resources[0].last_change_at.as_deref(),
        Some("2026-11-21T11:50:00Z")
    );
}

#[test]
fn the_report_serializes_every_key_even_when_empty() {
    let r = serde_json::to_value(report("guestbook", false)).unwrap();
    for key in [
        "applicationNamespace",
        "applicationName",
        "all",
        "argoSyncStatus",
        "argoReconciledAt",
        "readAt",
        "resourcesInApp",
        "resourcesListed",
        "resourcesInspected",
        "byCause",
        "resourcesDrifted",
        "fieldsDrifted",
        "additions",
        "ignoredDifferences",
        "lastChangeAt",
    ] {
        assert!(r["summary"].get(key).is_some(), "missing {key}");
    }
    assert_eq!(r["summary"]["lastChangeAt"], Value::Null);
    assert_eq!(r["resources"], Value::Array(vec![]));
    let full = serde_json::to_value(report("payments-api", false)).unwrap();
    let res = &full["resources"][0];
    for key in [
        "group",
        "version",
        "kind",
        "namespace",
        "name",
        "argoStatus",
        "argoHealth",
        "requiresPruning",
        "hook",
        "cause",
        "notInspected",
        "desiredSource",
        "fields",
        "additions",
        "ignored",
        "problems",
        "lastChangeAt",
        "masked",
    ] {
        assert!(res.get(key).is_some(), "missing {key}");
    }
    assert_eq!(res["cause"], "liveChanged");
    assert_eq!(
        res["fields"][0]["attribution"]["managerClass"],
        "interactive"
    );
}
