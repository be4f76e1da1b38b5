//! Hostile users and reporters (issue 17): what one Argo CD user, one reporter token or one
//! unauthenticated peer can make the backend do is bounded, and never reaches another team's
//! objects.
//!
//! Each test sends the requests the adversarial probe sent, and checks what a user would notice:
//! the answer, what reached the API server, what was logged, what was stored.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

mod common;

use common::{Client, InProcess, assert_error};
use fake_apiserver::{FaultRule, Verb};
use std::time::Duration;

const RESOURCE: &str = "/api/v1/drift/resource";

// === High 1: /api/v1/drift/resource?version= ===

/// payments-api's own Deployment, at `version` (already percent-encoded).
fn own_deployment_at(version: &str) -> String {
    format!(
        "{RESOURCE}?group=apps&version={version}&kind=Deployment&namespace=payments&name=payments-api"
    )
}

#[tokio::test]
async fn a_version_that_is_a_path_or_a_query_never_reaches_the_api_server() {
    let c = InProcess::demo().await;
    c.fake.faults().clear_request_log();
    for version in [
        // Another team's Deployment through the discovery URL (an existence oracle).
        "v1%2Fnamespaces%2Fweb%2Fdeployments%2Fweb-frontend",
        // A cluster-wide list of Deployments (its body was logged at warn).
        "v1%2Fdeployments",
        "v1%3Fwatch%3Dtrue",
        "v1%23x",
        "..",
    ] {
        let r = c
            .get_as(
                &own_deployment_at(version),
                "argocd:payments-api",
                "team-payments",
                &[],
            )
            .await;
        assert_error(&r, 400, "INVALID_QUERY");
    }
    // A well-formed version the app does not list is not the app's resource.
    let r = c
        .get_as(
            &own_deployment_at("v2"),
            "argocd:payments-api",
            "team-payments",
            &[],
        )
        .await;
    assert_error(&r, 403, "OUT_OF_SCOPE");
    assert!(
        c.fake.faults().request_log().is_empty(),
        "{:?}",
        c.fake.faults().request_log()
    );
    let logs = c.logs.text();
    assert!(!logs.contains("DeploymentList"), "{logs}");
    assert!(!logs.contains("registry.example.com/web"), "{logs}");
    // The version the app lists still answers.
    let r = c
        .get_as(
            &own_deployment_at("v1"),
            "argocd:payments-api",
            "team-payments",
            &[],
        )
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
}

/// A cluster handle on the demo's fake API server, as the drift routes use it.
async fn in_cluster(c: &InProcess) -> (argocd_drift::cluster::Cluster, tempfile::NamedTempFile) {
    let kubeconfig = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(kubeconfig.path(), c.fake.kubeconfig_yaml()).unwrap();
    let connection =
        argocd_drift::cluster::Connection::new(Some(kubeconfig.path()), Duration::from_secs(5))
            .await
            .unwrap();
    let destinations = connection.destinations(
        argocd_drift::cluster::ReadLimits {
            concurrency: 4,
            cache_bytes: 1 << 20,
            cache_ttl: Duration::ZERO,
            read_secrets: false,
        },
        false,
    );
    let app = c.app_in_index("argocd", "payments-api");
    (
        destinations.cluster(&app.spec.destination).unwrap(),
        kubeconfig,
    )
}

#[tokio::test]
async fn the_cluster_layer_requests_nothing_for_a_version_that_is_not_one() {
    let c = InProcess::demo().await;
    let (cluster, _kubeconfig) = in_cluster(&c).await;
    c.fake.faults().clear_request_log();
    for version in [
        "v1/namespaces/web/deployments/web-frontend",
        "v1/deployments",
        "v1?x",
    ] {
        let read = cluster
            .get(argocd_drift::cluster::LiveRef {
                group: "apps",
                version,
                kind: "Deployment",
                namespace: "payments",
                name: "payments-api",
            })
            .await;
        assert!(
            matches!(
                read,
                Err(argocd_drift::cluster::ReadError::KindUnknown { .. })
            ),
            "{read:?}"
        );
    }
    assert!(c.fake.faults().request_log().is_empty());
    assert_eq!(cluster.discovery_entries(), 0);
}

#[tokio::test]
async fn a_failed_discovery_is_remembered_briefly_rather_than_asked_on_every_read() {
    let c = InProcess::demo().await;
    let (cluster, _kubeconfig) = in_cluster(&c).await;
    c.fake
        .faults()
        .fail_requests(FaultRule::status(500).verb(Verb::Discovery));
    c.fake.faults().clear_request_log();
    for _ in 0..20 {
        let read = cluster
            .get(argocd_drift::cluster::LiveRef {
                group: "apps",
                version: "v1",
                kind: "Deployment",
                namespace: "payments",
                name: "payments-api",
            })
            .await;
        assert!(read.is_err());
    }
    let discoveries = c
        .fake
        .faults()
        .request_log()
        .iter()
        .filter(|r| r.verb == Verb::Discovery)
        .count();
    assert_eq!(discoveries, 1, "one discovery for twenty reads");
}

// === Low 6: a cluster-scoped resource is named with an empty namespace ===

#[tokio::test]
async fn a_cluster_scoped_resource_is_named_with_an_empty_namespace() {
    let c = InProcess::demo().await;
    let app = c.app_in_index("argocd", "legacy-billing");
    assert!(app.status.resources.iter().any(|r| r.kind == "ClusterRole"));
    let r = c
        .get_as(
            &format!(
                "{RESOURCE}?group=rbac.authorization.k8s.io&version=v1&kind=ClusterRole&namespace=&name=billing-reader"
            ),
            "argocd:legacy-billing",
            app.spec.project(),
            &[],
        )
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["resource"]["kind"], "ClusterRole");
    // A namespaced one under an empty namespace is still not the app's.
    let r = c
        .get_as(
            &format!("{RESOURCE}?group=apps&version=v1&kind=Deployment&namespace=&name=billing"),
            "argocd:legacy-billing",
            app.spec.project(),
            &[],
        )
        .await;
    assert_error(&r, 403, "OUT_OF_SCOPE");
}
