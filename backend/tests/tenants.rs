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
            refresh_min_interval: Duration::from_secs(10),
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

// === Medium 3: the connection cap cannot take a port offline ===

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A raw keep-alive HTTP/1.1 connection from a chosen loopback address.
struct Raw {
    stream: tokio::net::TcpStream,
}

impl Raw {
    async fn open(from: [u8; 4], to: std::net::SocketAddr) -> Raw {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket
            .bind((std::net::Ipv4Addr::from(from), 0).into())
            .unwrap();
        Raw {
            stream: socket.connect(to).await.unwrap(),
        }
    }

    /// Sends `GET path` and reads the answer's head and body; `None` if the server closed the
    /// connection instead.
    async fn get(&mut self, path: &str, headers: &str) -> Option<(String, String)> {
        let request = format!("GET {path} HTTP/1.1\r\nHost: argocd-drift\r\n{headers}\r\n");
        self.stream.write_all(request.as_bytes()).await.ok()?;
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&buf[..end]).to_string();
                let length: usize = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse().unwrap())
                    })
                    .unwrap_or(0);
                while buf.len() < end + 4 + length {
                    let n = self.stream.read(&mut chunk).await.ok()?;
                    if n == 0 {
                        return None;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                }
                let body = String::from_utf8_lossy(&buf[end + 4..end + 4 + length]).to_string();
                return Some((head, body));
            }
            let n = self.stream.read(&mut chunk).await.ok()?;
            if n == 0 {
                return None;
            }
            buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// Whether the server has closed the connection (EOF or reset), waiting up to 5 s.
    async fn closed(&mut self) -> bool {
        let mut byte = [0u8; 1];
        matches!(
            tokio::time::timeout(Duration::from_secs(5), self.stream.read(&mut byte)).await,
            Ok(Ok(0) | Err(_))
        )
    }
}

async fn small_caps() -> (testenv::TestCluster, common::TestApp) {
    common::demo(&[("MAX_CONNECTIONS", "8"), ("MAX_CONNECTIONS_PER_PEER", "4")]).await
}

#[tokio::test]
async fn one_address_holds_at_most_its_share_of_a_port() {
    let (_cluster, app) = small_caps().await;
    let mut held = Vec::new();
    for _ in 0..4 {
        let mut c = Raw::open([127, 0, 0, 2], app.service).await;
        assert!(c.get("/healthz", "").await.unwrap().0.contains(" 200 "));
        held.push(c);
    }
    // A fifth from the same address is closed at once, unanswered.
    let mut fifth = Raw::open([127, 0, 0, 2], app.service).await;
    assert_eq!(fifth.get("/healthz", "").await, None);
    // Another address is served.
    let r = testenv::http::get(app.service, "/healthz", &[])
        .await
        .unwrap();
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn at_the_cap_the_connection_idle_the_longest_makes_room() {
    let (_cluster, app) = small_caps().await;
    let mut held = Vec::new();
    for from in [[127, 0, 0, 2], [127, 0, 0, 3]] {
        for _ in 0..4 {
            let mut c = Raw::open(from, app.service).await;
            assert!(c.get("/healthz", "").await.unwrap().0.contains(" 200 "));
            held.push(c);
        }
    }
    // Every slot holds an idle keep-alive: a probe still gets in…
    let r = testenv::http::get(app.service, "/healthz", &[])
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    // …and the one idle the longest (the first) was closed for it.
    assert!(
        held[0].closed().await,
        "the oldest idle connection is closed"
    );
    assert!(
        held[7].get("/healthz", "").await.is_some(),
        "the newest is kept"
    );
}

#[tokio::test]
async fn a_caller_without_a_credential_does_not_keep_its_connection() {
    let (_cluster, app) = small_caps().await;
    let mut c = Raw::open([127, 0, 0, 4], app.api).await;
    let (head, body) = c.get("/api/v1/status", "").await.unwrap();
    assert!(head.contains(" 401 "), "{head}");
    assert!(body.contains("MISSING_CREDENTIALS"), "{body}");
    assert!(
        head.to_ascii_lowercase().contains("connection: close"),
        "{head}"
    );
    assert!(c.closed().await);
    // With the credential, the connection is kept for the next request.
    let mut c = Raw::open([127, 0, 0, 4], app.api).await;
    let auth = format!("Authorization: Bearer {}\r\n", common::TOKEN);
    let (head, _) = c.get("/api/v1/status", &auth).await.unwrap();
    assert!(
        !head.to_ascii_lowercase().contains("connection: close"),
        "{head}"
    );
    assert!(c.get("/api/v1/status", &auth).await.is_some());
}
