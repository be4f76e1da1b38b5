//! The recordings of a real Argo CD in `fixtures/argocd-real/` (written by `make
//! record-fixtures`), checked without any real server: every scenario is there, each recording
//! is well-formed data, Argo CD's recorded verdict agrees with the scenario's intent, the checks
//! that say so can fail, and a recording seeds a fake cluster with its `managedFields` intact.
//! The last test seeds a real kube-apiserver too (`make test-real`).
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use base64::Engine;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use testenv::TestCluster;
use testenv::argocd::ResourceKey;
use testenv::oracle::{SCENARIOS, SECRET_VALUES};
use testenv::recording::{Cause, Recording, load_recordings, load_secret_values, recordings_dir};

fn recordings() -> Vec<Recording> {
    load_recordings(&recordings_dir()).unwrap()
}

fn recording(name: &str) -> Recording {
    recordings()
        .into_iter()
        .find(|r| r.scenario == name)
        .unwrap_or_else(|| panic!("no recording of {name}"))
}

fn allowed() -> BTreeSet<String> {
    load_secret_values(&recordings_dir()).unwrap()
}

#[test]
fn every_scenario_has_a_recording_from_the_versions_it_claims() {
    let names: BTreeSet<String> = recordings().into_iter().map(|r| r.scenario).collect();
    let want: BTreeSet<String> = SCENARIOS.iter().map(|s| s.to_string()).collect();
    assert_eq!(names, want);
    for r in recordings() {
        assert_eq!(r.versions.argocd, "v3.5.7", "{}", r.scenario);
        assert_eq!(r.versions.kubernetes, "v1.37.1", "{}", r.scenario);
        assert_eq!(r.application["kind"], "Application", "{}", r.scenario);
        assert!(!r.description.is_empty(), "{}", r.scenario);
        assert!(
            r.application["status"]["reconciledAt"].is_string(),
            "{}: the controller never compared it",
            r.scenario
        );
    }
}

#[test]
fn the_secret_value_list_is_the_one_the_scenarios_use() {
    let listed = allowed();
    let used: BTreeSet<String> = SECRET_VALUES.iter().map(|s| s.to_string()).collect();
    assert_eq!(listed, used);
}

#[test]
fn every_recording_is_well_formed() {
    let allowed = allowed();
    for r in recordings() {
        let problems = r.malformations(&allowed);
        assert!(problems.is_empty(), "{}: {problems:#?}", r.scenario);
    }
}

#[test]
fn the_recorded_argo_cd_agrees_with_every_scenario() {
    for r in recordings() {
        let problems = r.disagreements();
        assert!(problems.is_empty(), "{}: {problems:#?}", r.scenario);
    }
}

#[test]
fn no_recording_holds_argo_cd_s_own_credentials() {
    for entry in std::fs::read_dir(recordings_dir()).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        for needle in [
            "argocd-secret",
            "server.secretkey",
            "bearerToken",
            "\"caData\"",
            "BEGIN CERTIFICATE",
            "drift.proxy.authorization",
            "argocd.token",
        ] {
            assert!(
                !text.contains(needle),
                "{} contains {needle:?}",
                path.display()
            );
        }
    }
}

// === the checks can fail ===

/// The first `managed-resources` item of `kind` in `r`, parsed state `field`, edited, put back.
fn edit_state(r: &mut Recording, kind: &str, field: &str, edit: impl FnOnce(&mut Value)) {
    let item = r
        .managed_resources
        .iter_mut()
        .find(|i| i["kind"] == kind)
        .unwrap();
    let mut state: Value = serde_json::from_str(item[field].as_str().unwrap()).unwrap();
    edit(&mut state);
    item[field] = json!(state.to_string());
}

#[test]
fn a_verdict_other_than_the_intended_one_is_a_disagreement() {
    let mut r = recording("csa-manual-edits");
    let key = r
        .expected
        .keys()
        .find(|k| k.starts_with("apps/Deployment/"))
        .unwrap()
        .clone();
    r.expected.get_mut(&key).unwrap().argo_status = "Synced".into();
    r.expected.get_mut(&key).unwrap().cause = Cause::None;
    let problems = r.disagreements();
    assert!(
        problems
            .iter()
            .any(|p| p.contains("Argo CD says \"OutOfSync\"")),
        "{problems:#?}"
    );
    assert!(
        problems.iter().any(|p| p.contains("expected no diff")),
        "{problems:#?}"
    );
}

#[test]
fn an_intended_change_missing_from_argo_cd_s_diff_is_a_disagreement() {
    let mut r = recording("csa-manual-edits");
    // Argo CD predicting the live image: the image change would no longer be in its diff.
    let live_image = r
        .live
        .iter()
        .find(|o| o["kind"] == "Deployment")
        .unwrap()
        .pointer("/spec/template/spec/containers/0/image")
        .unwrap()
        .clone();
    edit_state(&mut r, "Deployment", "predictedLiveState", |p| {
        p["spec"]["template"]["spec"]["containers"][0]["image"] = live_image;
    });
    let problems = r.disagreements();
    assert_eq!(problems.len(), 1, "{problems:#?}");
    assert!(
        problems[0].contains("/spec/template/spec/containers/0/image changed, not among"),
        "{problems:#?}"
    );
}

#[test]
fn a_diff_in_an_ignored_or_added_field_is_a_disagreement() {
    let mut r = recording("ignore-differences");
    edit_state(&mut r, "Deployment", "predictedLiveState", |p| {
        p["spec"]["replicas"] = json!(2);
    });
    let problems = r.disagreements();
    assert!(
        problems
            .iter()
            .any(|p| p.contains("/spec/replicas must not be drift to Argo CD")),
        "{problems:#?}"
    );

    let mut r = recording("csa-manual-edits");
    edit_state(&mut r, "Service", "predictedLiveState", |p| {
        p["metadata"]["labels"]
            .as_object_mut()
            .unwrap()
            .remove("policy.example.com/owner");
    });
    let problems = r.disagreements();
    assert!(
        problems
            .iter()
            .any(|p| p.contains("policy.example.com~1owner must not be drift")),
        "{problems:#?}"
    );
}

#[test]
fn a_live_object_left_unhealed_or_a_resource_without_intent_is_a_disagreement() {
    let mut r = recording("self-heal");
    let deployment = r
        .live
        .iter_mut()
        .find(|o| o["kind"] == "Deployment")
        .unwrap();
    deployment["spec"]["replicas"] = json!(6);
    let problems = r.disagreements();
    assert!(
        problems.iter().any(|p| p.contains("/spec/replicas: live")),
        "{problems:#?}"
    );

    let mut r = recording("live-deleted");
    let first = r.expected.keys().next().unwrap().clone();
    r.expected.remove(&first);
    let problems = r.disagreements();
    assert!(
        problems
            .iter()
            .any(|p| p.contains("the scenario expects nothing about it")),
        "{problems:#?}"
    );
}

#[test]
fn a_secret_value_not_on_the_list_is_a_malformation_even_in_the_annotation() {
    let mut r = recording("secret-changed");
    let leaked = base64::engine::general_purpose::STANDARD.encode("hunter2");
    let secret = r.live.iter_mut().find(|o| o["kind"] == "Secret").unwrap();
    secret["data"]["password"] = json!(leaked);
    let problems = r.malformations(&allowed());
    assert!(
        problems
            .iter()
            .any(|p| p.contains("data.password holds a value not listed")),
        "{problems:#?}"
    );

    let mut r = recording("secret-changed");
    edit_state(&mut r, "Secret", "liveState", |s| {
        s["data"]["password"] = json!(base64::engine::general_purpose::STANDARD.encode("hunter2"));
    });
    let problems = r.malformations(&allowed());
    assert!(
        problems
            .iter()
            .any(|p| p.contains("managed-resources liveState")),
        "{problems:#?}"
    );
}

#[test]
fn a_resource_without_its_live_object_is_a_malformation() {
    let mut r = recording("csa-manual-edits");
    r.live.retain(|o| o["kind"] != "Service");
    let problems = r.malformations(&allowed());
    assert!(
        problems
            .iter()
            .any(|p| p.contains("no live object and not expected missing")),
        "{problems:#?}"
    );
}

// === seeding ===

/// `managedFields` without times that a seed may legitimately renew: none — all are kept.
fn managed_fields(obj: &Value) -> &Value {
    &obj["metadata"]["managedFields"]
}

async fn seed_and_compare(cluster: &TestCluster) {
    for r in recordings() {
        let seeded = cluster.seed_recording(&r).await.unwrap();
        let app_ns =
            seeded.namespaces[r.application["metadata"]["namespace"].as_str().unwrap()].clone();
        assert_eq!(seeded.application["metadata"]["namespace"], app_ns.as_str());
        assert_eq!(
            seeded.application["status"]["sync"],
            {
                let mut sync = r.application["status"]["sync"].clone();
                let dest = sync["comparedTo"]["destination"]["namespace"]
                    .as_str()
                    .unwrap()
                    .to_string();
                sync["comparedTo"]["destination"]["namespace"] = json!(seeded.namespaces[&dest]);
                sync
            },
            "{}: the Application's status is seeded as recorded",
            r.scenario
        );
        assert_eq!(seeded.objects.len(), r.live.len());
        for (recorded, now) in r.live.iter().zip(&seeded.objects) {
            let key = ResourceKey::of_object(recorded);
            assert_eq!(
                managed_fields(now),
                managed_fields(recorded),
                "{}: {key}: managedFields not kept",
                r.scenario
            );
            assert_eq!(
                now["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
                    .is_string(),
                recorded["metadata"]["annotations"]
                    ["kubectl.kubernetes.io/last-applied-configuration"]
                    .is_string(),
                "{}: {key}: last-applied annotation",
                r.scenario
            );
            assert_eq!(
                now.get("spec"),
                recorded
                    .get("spec")
                    .map(|s| {
                        // Services get new cluster IPs.
                        let mut s = s.clone();
                        if recorded["kind"] == "Service" {
                            s["clusterIP"] = now["spec"]["clusterIP"].clone();
                            s["clusterIPs"] = now["spec"]["clusterIPs"].clone();
                        }
                        s
                    })
                    .as_ref(),
                "{}: {key}: spec",
                r.scenario
            );
            if recorded["kind"] == "Widget" {
                assert_eq!(
                    now["status"], recorded["status"],
                    "{}: {key}: status",
                    r.scenario
                );
            }
        }
    }
}

#[tokio::test]
async fn every_recording_seeds_the_fake_with_its_managed_fields() {
    let cluster = TestCluster::fake().await.unwrap();
    seed_and_compare(&cluster).await;
}

#[tokio::test]
#[ignore = "needs a real API server: make test-real"]
async fn every_recording_seeds_a_real_server_with_its_managed_fields() {
    let cluster = TestCluster::real().await.unwrap();
    seed_and_compare(&cluster).await;
}
