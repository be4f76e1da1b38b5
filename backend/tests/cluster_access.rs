//! What argocd-drift needs from Kubernetes RBAC, and what it says when it lacks it.
//! Runs against the fake API server, or a real one (with its RBAC) under `make test-real`.
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod common;

use common::{TestApp, app_header, eventually_some};
use serde_json::json;
use std::time::Duration;
use testenv::TestCluster;
use testenv::http::get;

#[tokio::test]
async fn readiness_explains_a_refusal_to_list_applications() {
    // No fixtures needed: the list is refused whatever the namespace holds.
    let cluster = TestCluster::start_unprivileged().await.unwrap();
    let app = TestApp::spawn(&cluster, &[]).await;
    let argocd = cluster.ns("argocd");
    let body = eventually_some(Duration::from_secs(15), || async {
        let r = get(app.service, "/readyz", &[]).await.unwrap();
        let body = r.json();
        let message = body["message"].as_str().unwrap_or_default().to_string();
        (r.status == 503 && message.contains("forbidden")).then_some(body)
    })
    .await
    .expect("readyz never explained the refusal");
    assert_eq!(body["code"], "NOT_READY");
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains(&format!("namespace {argocd}")),
        "{message}"
    );
    assert!(
        message.contains("cannot list resource \"applications\""),
        "{message}"
    );
    // A short readable reason: the status code and the API server's message, not a Rust dump.
    assert!(message.contains("(list: 403 Forbidden: "), "{message}");
    for debug in ["Api(", "ErrorResponse", "Status {", "code: 403"] {
        assert!(!message.contains(debug), "{message}");
    }
    // API callers get the plain answer, without the cluster's details.
    let r = app
        .status(&app_header(&cluster, "argocd", "guestbook"), "default")
        .await;
    assert_eq!(r.status, 503);
    assert!(!r.json()["message"].as_str().unwrap().contains("forbidden"));
}

/// The least privilege the chart grants: get, list and watch on Applications in the watched
/// namespaces, nothing else. Only a real server enforces RBAC.
#[tokio::test]
#[ignore = "needs a real API server: make test-real"]
async fn listing_and_watching_applications_is_all_the_access_needed() {
    let cluster = TestCluster::start_unprivileged().await.unwrap();
    cluster.apply_fixtures("demo").await.unwrap();
    let mut grants = Vec::new();
    for ns in ["argocd", "team-apps"] {
        grants.push(json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": "argocd-drift", "namespace": ns},
            "rules": [{"apiGroups": ["argoproj.io"], "resources": ["applications"], "verbs": ["get", "list", "watch"]}]
        }));
        grants.push(json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": "argocd-drift", "namespace": ns},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "argocd-drift"},
            "subjects": [{"kind": "User", "name": "drift-user"}]
        }));
    }
    cluster.create_objects(grants).await.unwrap();
    let app = TestApp::spawn(&cluster, &[]).await;
    app.wait_ready().await;
    let r = app
        .status(
            &app_header(&cluster, "argocd", "payments-api"),
            "team-payments",
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["sync"]["status"], "OutOfSync");
}
