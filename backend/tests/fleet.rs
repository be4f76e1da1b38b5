//! The fleet document (`GET /api/v1/fleet` on the reports port), its contract end to end: read
//! token as `/status.json`, every app with an episode under way and only those, the fields
//! Grafana reads, the filters, and bad filter values refused by name.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{applications, assert_error, create_app, demo, eventually_some};
use http::Method;
use kube::api::{Patch, PatchParams};
use serde_json::{Value, json};
use std::time::Duration;
use testenv::TestCluster;

const FLEET: &str = "/api/v1/fleet";
const READER: &str = "fleet-reader-token-0123456789abcdef";
const WAIT: Duration = Duration::from_secs(20);

async fn set_status(cluster: &TestCluster, name: &str, status: Value) {
    applications(cluster.client().await.unwrap(), &cluster.ns("argocd"))
        .patch(
            name,
            &PatchParams::default(),
            &Patch::Merge(json!({ "status": status })),
        )
        .await
        .unwrap();
}

fn out_of_sync() -> Value {
    json!({"sync": {"status": "OutOfSync"}})
}

/// Synced by an operation `user` started at `started_at` (a new one each time).
fn synced_by(user: &str, started_at: &str) -> Value {
    json!({
        "sync": {"status": "Synced", "revision": "r1"},
        "operationState": {
            "phase": "Succeeded",
            "startedAt": started_at,
            "finishedAt": started_at,
            "operation": {"initiatedBy": {"username": user}, "sync": {"revision": "r1"}}
        }
    })
}

fn entry<'a>(doc: &'a Value, application: &str) -> Option<&'a Value> {
    doc["apps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["application"] == application)
}

#[tokio::test]
async fn the_fleet_lists_every_app_drifting_now_with_since_managers_and_the_last_end() {
    let dir = tempfile::tempdir().unwrap();
    let readers = dir.path().join("readers");
    std::fs::write(&readers, format!("{READER}\n")).unwrap();
    let readers = readers.display().to_string();
    let (cluster, app) = demo(&[("REPORTS_READ_TOKENS_FILE", readers.as_str())]).await;
    let argocd = cluster.ns("argocd");

    // A read token, as for /status.json.
    let r = app.on_reports(Method::GET, FLEET, None, "").await;
    assert_error(&r, 401, "MISSING_CREDENTIALS");
    let r = app.on_reports(Method::GET, FLEET, Some("wrong"), "").await;
    assert_eq!(r.status, 401);

    // An app that drifted, was synced by bob, and drifts again: witnessed, with its last end.
    create_app(&cluster, "checkout", "shop-prod").await;
    set_status(
        &cluster,
        "checkout",
        synced_by("alice", "2026-02-01T00:00:00Z"),
    )
    .await;
    set_status(&cluster, "checkout", out_of_sync()).await;
    set_status(
        &cluster,
        "checkout",
        synced_by("bob", "2026-02-02T00:00:00Z"),
    )
    .await;
    set_status(&cluster, "checkout", out_of_sync()).await;
    let checkout = format!("{argocd}:checkout");
    let payments = format!("{argocd}:payments-api");
    let doc = eventually_some(WAIT, || async {
        let r = app.on_reports(Method::GET, FLEET, Some(READER), "").await;
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        let doc: Value = r.json();
        let ready = doc["complete"] == true
            && entry(&doc, &checkout).is_some()
            && entry(&doc, &payments).is_some();
        ready.then_some(doc)
    })
    .await
    .unwrap();
    assert_eq!(doc["drifting"], doc["apps"].as_array().unwrap().len());

    let c = entry(&doc, &checkout).unwrap();
    assert_eq!(c["namespace"], argocd);
    assert_eq!(c["name"], "checkout");
    assert_eq!(c["project"], "shop-prod");
    assert_eq!(c["destination"], "https://kubernetes.default.svc");
    assert_eq!(c["witnessed"], true);
    assert_eq!(c["lastEndCause"], "manualSync");
    assert_eq!(
        c["lastEnd"], "synced by bob",
        "the words of the DriftEnded Event"
    );
    assert!(c["since"].is_string() && c["driftingSeconds"].as_i64().unwrap() >= 0);
    assert_eq!(c["managerClass"], "unknown", "not inspected yet");

    // The demo's payments-api was drifting before the backend started: first seen.
    let p = entry(&doc, &payments).unwrap();
    assert_eq!(p["witnessed"], false);
    assert_eq!(p["project"], "team-payments");
    assert!(!p["resources"].as_array().unwrap().is_empty());
    assert_eq!(p["lastEndCause"], Value::Null);
    // Longest drifting first.
    let since: Vec<&str> = doc["apps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["since"].as_str().unwrap())
        .collect();
    let mut sorted = since.clone();
    sorted.sort();
    assert_eq!(since, sorted);

    // Filters, as /status.json's: exact, unknown parameters ignored, bad values refused by name.
    let filtered = |query: String| {
        let app = &app;
        async move {
            let r = app
                .on_reports(Method::GET, &format!("{FLEET}?{query}"), Some(READER), "")
                .await;
            assert_eq!(r.status, 200, "{query}");
            let doc: Value = r.json();
            doc["apps"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a["name"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(filtered("project=shop-prod".into()).await, ["checkout"]);
    assert_eq!(
        filtered(format!("application={argocd}:payments-api&other=1")).await,
        ["payments-api"]
    );
    assert!(
        !filtered("witnessed=false".into())
            .await
            .contains(&"checkout".to_string())
    );
    assert!(filtered("project=nowhere".into()).await.is_empty());
    let r = app
        .on_reports(
            Method::GET,
            &format!("{FLEET}?witnessed=maybe"),
            Some(READER),
            "",
        )
        .await;
    assert_error(&r, 400, "INVALID_QUERY");
    assert!(r.json()["message"].as_str().unwrap().contains("witnessed"));

    // Synced again: no longer drifting, no longer listed.
    set_status(
        &cluster,
        "checkout",
        synced_by("carol", "2026-02-03T00:00:00Z"),
    )
    .await;
    eventually_some(WAIT, || async {
        let doc: Value = app
            .on_reports(Method::GET, FLEET, Some(READER), "")
            .await
            .json();
        entry(&doc, &checkout).is_none().then_some(())
    })
    .await
    .unwrap();
}
