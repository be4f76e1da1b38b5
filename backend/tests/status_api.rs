//! `GET /api/v1/status` content for the demo fixtures in both Argo CD status shapes, and what the
//! watch adds to them.
//!
//! The content checks are written once against [`Client`]: each runs in-process, and all run
//! again over HTTP against the test cluster (the fake, or a real API server with
//! `DRIFT_TEST_CLUSTER=real`), where the fixtures went through the API server and the watch.
//! Live transitions need the watch, so they run over HTTP only.
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod common;

use common::{
    Client, InProcess, STATUS, app_header, applications, create_app, demo, eventually,
    eventually_some,
};
use kube::api::{Patch, PatchParams};
use serde_json::json;
use std::time::Duration;

async fn a_3x_shaped_app_reports_sync_counts_and_says_health_lives_in_the_app_tree(
    c: &impl Client,
) {
    let r = c
        .get_as(
            STATUS,
            &c.app("argocd", "payments-api"),
            "team-payments",
            &[],
        )
        .await;
    assert_eq!(r.status, 200);
    let s = r.json();
    assert_eq!(
        s["application"],
        json!({"namespace": c.ns("argocd"), "name": "payments-api", "project": "team-payments"})
    );
    assert_eq!(
        s["destination"],
        json!({"server": "https://kubernetes.default.svc", "name": null, "namespace": c.ns("payments")})
    );
    assert_eq!(s["sync"]["status"], "OutOfSync");
    assert_eq!(
        s["sync"]["revision"],
        "9f2c1e0b7a4d3c2b1a09f8e7d6c5b4a392817160"
    );
    assert_eq!(s["health"], json!({"status": "Healthy", "message": null}));
    assert_eq!(
        s["resources"],
        json!({"total": 4, "bySync": {"OutOfSync": 2, "Synced": 2}, "byHealth": null, "healthSource": "appTree"})
    );
    let op = &s["lastOperation"];
    assert_eq!(op["phase"], "Succeeded");
    assert_eq!(
        op["initiatedBy"],
        json!({"type": "user", "username": "alice@example.com"})
    );
    assert_eq!(op["revision"], "9f2c1e0b7a4d3c2b1a09f8e7d6c5b4a392817160");
    assert_eq!(s["reconciliation"]["stale"], false);
    let age = s["reconciliation"]["ageSeconds"].as_i64().unwrap();
    assert!(
        (60..600).contains(&age),
        "reconciled about 70 s ago, got {age}"
    );
    // Already OutOfSync when argocd-drift started: only a lower bound is known.
    assert_eq!(s["outOfSync"]["since"], serde_json::Value::Null);
    assert!(s["outOfSync"]["observedSince"].is_string());
    assert_eq!(s["data"], json!({"stale": false, "staleSince": null}));
}

async fn a_2x_shaped_app_counts_stored_resource_health_and_shows_the_failed_sync(c: &impl Client) {
    let r = c
        .get_as(STATUS, &c.app("argocd", "web-frontend"), "team-web", &[])
        .await;
    assert_eq!(r.status, 200);
    let s = r.json();
    assert_eq!(s["destination"]["name"], "in-cluster");
    assert_eq!(s["destination"]["server"], serde_json::Value::Null);
    assert_eq!(s["health"]["status"], "Progressing");
    assert!(
        s["health"]["message"]
            .as_str()
            .unwrap()
            .starts_with("Waiting for rollout")
    );
    // The PreSync hook Job is not one of the app's resources.
    assert_eq!(
        s["resources"],
        json!({
            "total": 4,
            "bySync": {"OutOfSync": 2, "Synced": 2},
            "byHealth": {"Healthy": 2, "Progressing": 1},
            "healthSource": "application"
        })
    );
    assert_eq!(s["lastOperation"]["phase"], "Failed");
    assert_eq!(
        s["lastOperation"]["initiatedBy"],
        json!({"type": "user", "username": "bob"})
    );
    let conditions = s["conditions"].as_array().unwrap();
    assert_eq!(conditions.len(), 1);
    assert_eq!(conditions[0]["type"], "SyncError");
    assert!(conditions[0]["lastTransitionTime"].is_string());
}

async fn a_multi_source_app_with_a_stuck_controller_is_marked_stale(c: &impl Client) {
    let s = c
        .get_as(
            STATUS,
            &c.app("argocd", "legacy-billing"),
            "team-payments",
            &[],
        )
        .await
        .json();
    assert_eq!(s["sync"]["status"], "Synced");
    assert_eq!(s["sync"]["revision"], serde_json::Value::Null);
    assert_eq!(
        s["sync"]["revisions"],
        json!(["4b825dc642cb6eb9a060e54bf8d69288fbee4904", "0.9.3"])
    );
    assert_eq!(s["reconciliation"]["stale"], true);
    assert_eq!(s["reconciliation"]["staleAfterSeconds"], 600);
    assert!(s["reconciliation"]["ageSeconds"].as_i64().unwrap() >= 3 * 3600);
    assert_eq!(s["outOfSync"], serde_json::Value::Null);
    assert_eq!(
        s["lastOperation"]["revisions"],
        json!(["4b825dc642cb6eb9a060e54bf8d69288fbee4904", "0.9.3"])
    );
}

async fn an_unknown_comparison_shows_its_condition_and_an_automated_sync_shows_automation(
    c: &impl Client,
) {
    let s = c
        .get_as(STATUS, &c.app("argocd", "monitoring"), "default", &[])
        .await
        .json();
    assert_eq!(s["sync"]["status"], "Unknown");
    assert_eq!(s["conditions"][0]["type"], "ComparisonError");
    assert_eq!(s["lastOperation"], serde_json::Value::Null);
    assert_eq!(s["resources"]["bySync"], json!({"Unknown": 1}));

    let s = c
        .get_as(STATUS, &c.app("argocd", "guestbook"), "default", &[])
        .await
        .json();
    assert_eq!(
        s["lastOperation"]["initiatedBy"],
        json!({"type": "automation"})
    );
}

crate::in_process_and_over_http!(
    every_content_check_holds_over_http_on_the_test_cluster:
    a_3x_shaped_app_reports_sync_counts_and_says_health_lives_in_the_app_tree,
    a_2x_shaped_app_counts_stored_resource_health_and_shows_the_failed_sync,
    a_multi_source_app_with_a_stuck_controller_is_marked_stale,
    an_unknown_comparison_shows_its_condition_and_an_automated_sync_shows_automation,
);

#[tokio::test]
async fn the_staleness_bound_is_configurable() {
    let in_process = InProcess::new(common::InProcessOptions {
        reconcile_stale_after: Duration::from_secs(30),
        ..Default::default()
    })
    .await;
    // …and read from RECONCILE_STALE_AFTER_SECONDS by a served argocd-drift.
    let (cluster, app) = demo(&[("RECONCILE_STALE_AFTER_SECONDS", "30")]).await;
    let live = app
        .status(
            &app_header(&cluster, "argocd", "payments-api"),
            "team-payments",
        )
        .await
        .json();
    let local = in_process
        .get_as(STATUS, "argocd:payments-api", "team-payments", &[])
        .await
        .json();
    for s in [live, local] {
        assert_eq!(
            s["reconciliation"]["stale"], true,
            "reconciled ~70 s ago, bound 30 s"
        );
        assert_eq!(s["reconciliation"]["staleAfterSeconds"], 30);
    }
}

#[tokio::test]
async fn an_app_seen_turning_out_of_sync_reports_when() {
    let (cluster, app) = demo(&[]).await;
    let guestbook = app_header(&cluster, "argocd", "guestbook");
    assert_eq!(
        app.status(&guestbook, "default").await.json()["outOfSync"],
        serde_json::Value::Null
    );

    let before = jiff::Timestamp::now();
    let api = applications(cluster.client().await.unwrap(), &cluster.ns("argocd"));
    api.patch(
        "guestbook",
        &PatchParams::default(),
        &Patch::Merge(json!({"status": {"sync": {"status": "OutOfSync"}}})),
    )
    .await
    .unwrap();

    let since = eventually_some(Duration::from_secs(10), || async {
        let s = app.status(&guestbook, "default").await.json();
        s["outOfSync"]["since"].as_str().map(str::to_string)
    })
    .await
    .expect("the transition was not observed");
    let since: jiff::Timestamp = since.parse().unwrap();
    assert!(
        since
            >= before
                .checked_sub(jiff::SignedDuration::from_secs(1))
                .unwrap()
    );

    // Back in sync: the drift record goes away.
    api.patch(
        "guestbook",
        &PatchParams::default(),
        &Patch::Merge(json!({"status": {"sync": {"status": "Synced"}}})),
    )
    .await
    .unwrap();
    eventually(Duration::from_secs(10), || async {
        app.status(&guestbook, "default").await.json()["outOfSync"].is_null()
    })
    .await
    .expect("the app did not return to Synced");
}

#[tokio::test]
async fn apps_created_and_deleted_after_start_appear_and_disappear() {
    let (cluster, app) = demo(&[]).await;
    let api = applications(cluster.client().await.unwrap(), &cluster.ns("argocd"));
    let header = app_header(&cluster, "argocd", "late-arrival");
    assert_eq!(app.status(&header, "default").await.status, 404);

    create_app(&cluster, "late-arrival", "default").await;
    eventually(Duration::from_secs(10), || async {
        app.status(&header, "default").await.status == 200
    })
    .await
    .expect("new app never served");
    let s = app.status(&header, "default").await.json();
    assert_eq!(
        s["sync"]["status"],
        serde_json::Value::Null,
        "not yet compared by Argo CD"
    );

    api.delete("late-arrival", &Default::default())
        .await
        .unwrap();
    eventually(Duration::from_secs(10), || async {
        app.status(&header, "default").await.status == 404
    })
    .await
    .expect("deleted app still served");
}

#[tokio::test]
async fn an_app_without_a_project_belongs_to_the_default_project() {
    let (cluster, app) = demo(&[]).await;
    create_app(&cluster, "projectless", "").await;
    let header = app_header(&cluster, "argocd", "projectless");
    let s = eventually_some(Duration::from_secs(10), || async {
        let r = app.status(&header, "default").await;
        (r.status == 200).then(|| r.json())
    })
    .await
    .expect("an app with an empty project is what Argo CD calls project default");
    assert_eq!(s["application"]["project"], "default");
}

#[tokio::test]
async fn watching_every_namespace_serves_apps_wherever_they_live() {
    let cluster = testenv::TestCluster::start().await.unwrap();
    cluster.apply_fixtures("demo").await.unwrap();
    let app = common::TestApp::ready(&cluster, &[("ARGOCD_NAMESPACES", "*")]).await;
    assert_eq!(
        app.status(&app_header(&cluster, "argocd", "guestbook"), "default")
            .await
            .status,
        200
    );
    assert_eq!(
        app.status(&app_header(&cluster, "team-apps", "analytics"), "team-web")
            .await
            .status,
        200
    );
    let r = app
        .status(&app_header(&cluster, "elsewhere", "guestbook"), "default")
        .await;
    assert_eq!(
        (r.status.as_u16(), r.json()["code"].as_str()),
        (404, Some("APP_NOT_FOUND"))
    );
}
