//! `GET /api/v1/drift` and `GET /api/v1/drift/resource` on the demo fixtures' live objects (their
//! managedFields recorded from a real API server): which fields, what they should be and are,
//! which field manager and when, and why a resource could not be inspected.
//!
//! In-process (the API without a socket, live objects from a fake API server) except where the
//! path through the server matters: a remote cluster read over TLS with the credentials in Argo
//! CD's cluster Secret, and the same cluster going down.
//!
//! Every response body, header and log line these tests see is scanned for the fixture Secret
//! values and the tokens, in every encoding ([`assert_no_leak`]).
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod common;

use common::{Client, InProcess, InProcessOptions, TOKEN, TestApp, app_header, assert_error};
use drift_core::drift::secret::leak;
use serde_json::{Value, json};
use testenv::TestCluster;
use testenv::http::Response;

const DRIFT: &str = "/api/v1/drift";
const RESOURCE: &str = "/api/v1/drift/resource";

/// The demo Secret's password, the one a test writes live, and every token. (The Secret's
/// username, `payments`, is also the app's name; its base64 form is checked instead.)
const SECRETS: &[&str] = &[
    "correct-horse-battery-staple",
    "rotated-by-hand-0451",
    TOKEN,
];
const USERNAME_BASE64: &str = "cGF5bWVudHM=";

/// No Secret value or token, in any encoding, in a response or in the logs.
fn assert_no_leak(responses: &[&Response], logs: &str) {
    for r in responses {
        let body = String::from_utf8_lossy(&r.body);
        leak::assert_none(&body, SECRETS);
        assert!(!body.contains(USERNAME_BASE64), "{body}");
        for (name, value) in &r.headers {
            leak::assert_none(
                &format!("{name}: {}", value.to_str().unwrap_or("")),
                SECRETS,
            );
        }
    }
    leak::assert_none(logs, SECRETS);
    assert!(!logs.contains(USERNAME_BASE64));
}

fn resource<'a>(report: &'a Value, kind: &str, name: &str) -> &'a Value {
    report["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["kind"] == kind && r["name"] == name)
        .unwrap_or_else(|| panic!("{kind}/{name} not in {report:#}"))
}

fn field<'a>(resource: &'a Value, pointer: &str) -> &'a Value {
    resource["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["pointer"] == pointer)
        .unwrap_or_else(|| panic!("no field {pointer} in {resource:#}"))
}

#[tokio::test]
async fn each_changed_field_has_its_desired_and_live_value_and_the_manager_behind_it() {
    let c = InProcess::demo().await;
    let r = c
        .get_as(DRIFT, "argocd:payments-api", "team-payments", &[])
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let report = r.json();
    // Only what Argo CD reports OutOfSync, by default.
    assert_eq!(report["summary"]["resourcesListed"], 2);
    assert_eq!(report["summary"]["byCause"]["liveChanged"], 2);
    assert!(report["summary"]["argoReconciledAt"].is_string());
    assert!(report["summary"]["readAt"].is_string());

    let deployment = resource(&report, "Deployment", "payments-api");
    assert_eq!(deployment["cause"], "liveChanged");
    assert_eq!(deployment["desiredSource"], "lastApplied");
    let replicas = field(deployment, "/spec/replicas");
    assert_eq!(
        (&replicas["desired"], &replicas["live"]),
        (&json!(3), &json!(5))
    );
    assert_eq!(replicas["attribution"]["manager"], "kubectl-edit");
    assert_eq!(replicas["attribution"]["operation"], "Update");
    assert_eq!(replicas["attribution"]["isArgoCd"], false);
    let image = field(deployment, "/spec/template/spec/containers/0/image");
    assert_eq!(image["attribution"]["manager"], "kubectl-set");
    assert_eq!(
        image["path"],
        "spec.template.spec.containers[name=api].image"
    );
    // The most recent change first; the image was hot-patched after the replicas were edited.
    assert_eq!(report["resources"][0]["kind"], "Deployment");
    assert_eq!(deployment["lastChangeAt"], image["attribution"]["time"]);

    let config = resource(&report, "ConfigMap", "payments-config");
    let level = field(config, "/data/LOG_LEVEL");
    assert_eq!(
        (&level["desired"], &level["live"]),
        (&json!("info"), &json!("debug"))
    );
    assert_no_leak(&[&r], &c.logs.text());
}

#[tokio::test]
async fn all_lists_every_resource_with_its_cause_and_hooks_are_not_inspected() {
    let c = InProcess::demo().await;
    let r = c
        .get_as(
            &format!("{DRIFT}?all=true"),
            "argocd:web-frontend",
            "team-web",
            &[],
        )
        .await;
    let report = r.json();
    assert_eq!(report["summary"]["all"], true);
    assert_eq!(report["summary"]["resourcesListed"], 5);
    assert_eq!(
        resource(&report, "Service", "web-frontend")["cause"],
        "none"
    );
    let hook = resource(&report, "Job", "web-frontend-migrate");
    assert_eq!(hook["cause"], "notInspected");
    assert_eq!(hook["notInspected"]["reason"], "hook");
    // A bad value is a 400 naming it, whatever else is asked.
    let bad = c
        .get_as(
            &format!("{DRIFT}?all=maybe"),
            "argocd:web-frontend",
            "team-web",
            &[],
        )
        .await;
    assert_error(&bad, 400, "INVALID_QUERY");
}

#[tokio::test]
async fn server_side_applied_objects_are_attributed_without_a_desired_value() {
    let c = InProcess::demo().await;
    let report = c
        .get_as(DRIFT, "argocd:web-frontend", "team-web", &[])
        .await
        .json();
    let deployment = resource(&report, "Deployment", "web-frontend");
    assert_eq!(deployment["desiredSource"], "serverSideApplyAttribution");
    let memory = field(
        deployment,
        "/spec/template/spec/containers/0/resources/limits/memory",
    );
    assert_eq!(memory["desiredKnown"], false);
    assert_eq!(memory["desired"], Value::Null);
    assert_eq!(memory["live"], "512Mi");
    assert_eq!(memory["attribution"]["manager"], "kubectl-edit");
    let label = field(deployment, "/metadata/labels/policy.example.com~1owner");
    assert_eq!(label["attribution"]["manager"], "kyverno");
}

#[tokio::test]
async fn one_resource_in_depth_has_both_objects_a_diff_and_its_field_managers() {
    let c = InProcess::demo().await;
    let path = format!(
        "{RESOURCE}?group=apps&version=v1&kind=Deployment&namespace=payments&name=payments-api"
    );
    let r = c
        .get_as(&path, "argocd:payments-api", "team-payments", &[])
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let detail = r.json();
    assert_eq!(detail["resource"]["cause"], "liveChanged");
    assert_eq!(detail["desired"]["spec"]["replicas"], 3);
    assert_eq!(detail["live"]["spec"]["replicas"], 5);
    let diff = detail["diff"].as_str().unwrap();
    assert!(diff.contains("-") && diff.contains("+"), "{diff}");
    assert!(diff.contains("replicas"), "{diff}");
    let managers: Vec<&str> = detail["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["manager"].as_str().unwrap())
        .collect();
    for expected in ["argocd-controller", "kubectl-edit", "kubectl-set"] {
        assert!(managers.contains(&expected), "{managers:?}");
    }
    assert!(detail["managedFields"][0]["fields"].as_u64().unwrap() > 0);
}

#[tokio::test]
async fn a_resource_must_be_named_fully_and_be_the_apps() {
    let c = InProcess::demo().await;
    let full = "group=apps&version=v1&kind=Deployment&namespace=payments&name=payments-api";
    for missing in ["group", "version", "kind", "namespace", "name"] {
        let query: Vec<&str> = full
            .split('&')
            .filter(|p| !p.starts_with(&format!("{missing}=")))
            .collect();
        let r = c
            .get_as(
                &format!("{RESOURCE}?{}", query.join("&")),
                "argocd:payments-api",
                "team-payments",
                &[],
            )
            .await;
        assert_error(&r, 400, "MISSING_QUERY_PARAMETER");
        assert!(r.json()["message"].as_str().unwrap().contains(missing));
    }
    // Another app's Deployment, asked for under payments-api: 403, and nothing read.
    c.fake.faults().clear_request_log();
    let r = c
        .get_as(
            &format!(
                "{RESOURCE}?group=apps&version=v1&kind=Deployment&namespace=web&name=web-frontend"
            ),
            "argocd:payments-api",
            "team-payments",
            &[],
        )
        .await;
    assert_error(&r, 403, "OUT_OF_SCOPE");
    assert_eq!(
        c.fake
            .faults()
            .request_count(fake_apiserver::Verb::Get, "deployments"),
        0
    );
}

#[tokio::test]
async fn a_kind_the_backend_may_not_read_is_reported_on_that_resource_alone() {
    let c = InProcess::demo().await;
    c.fake.faults().fail_requests(
        fake_apiserver::FaultRule::status(403)
            .verb(fake_apiserver::Verb::Get)
            .resource("configmaps"),
    );
    let r = c
        .get_as(DRIFT, "argocd:payments-api", "team-payments", &[])
        .await;
    assert_eq!(r.status, 200);
    let report = r.json();
    let config = resource(&report, "ConfigMap", "payments-config");
    assert_eq!(config["cause"], "notInspected");
    assert_eq!(config["notInspected"]["reason"], "kindNotReadable");
    assert!(
        config["notInspected"]["message"]
            .as_str()
            .unwrap()
            .starts_with("403 Forbidden")
    );
    assert_eq!(
        resource(&report, "Deployment", "payments-api")["cause"],
        "liveChanged"
    );
}

/// Marks the demo Secret OutOfSync in the index and changes its password live, as `kubectl
/// edit` would.
async fn rotate_the_secret_by_hand(c: &InProcess) {
    let mut app = c.app_in_index("argocd", "payments-api");
    for r in &mut app.status.resources {
        if r.kind == "Secret" {
            r.status = Some("OutOfSync".into());
        }
    }
    c.index.apply(app, jiff::Timestamp::now());
    common::rotate_payments_password(c.client().await, "payments", "rotated-by-hand-0451").await;
}

#[tokio::test]
async fn secrets_are_not_read_unless_enabled() {
    let c = InProcess::demo().await;
    rotate_the_secret_by_hand(&c).await;
    c.fake.faults().clear_request_log();
    let r = c
        .get_as(DRIFT, "argocd:payments-api", "team-payments", &[])
        .await;
    let secret = resource(&r.json(), "Secret", "payments-db").clone();
    assert_eq!(secret["cause"], "notInspected");
    assert_eq!(secret["notInspected"]["reason"], "secretReadingDisabled");
    assert_eq!(
        c.fake
            .faults()
            .request_count(fake_apiserver::Verb::Get, "secrets"),
        0
    );
    assert_no_leak(&[&r], &c.logs.text());
}

#[tokio::test]
async fn a_secret_key_changed_live_is_shown_as_changed_never_with_its_value() {
    let c = InProcess::new(InProcessOptions {
        read_secrets: true,
        ..Default::default()
    })
    .await;
    rotate_the_secret_by_hand(&c).await;
    let list = c
        .get_as(DRIFT, "argocd:payments-api", "team-payments", &[])
        .await;
    let report = list.json();
    let secret = resource(&report, "Secret", "payments-db");
    assert_eq!(secret["cause"], "liveChanged");
    assert_eq!(secret["masked"], true);
    let password = field(secret, "/data/password");
    assert_eq!(password["attribution"]["manager"], "kubectl-edit");
    // Argo CD's masking: different values, different runs of `+`.
    let (desired, live) = (
        password["desired"].as_str().unwrap(),
        password["live"].as_str().unwrap(),
    );
    assert!(desired.chars().all(|c| c == '+') && live.chars().all(|c| c == '+'));
    assert_ne!(desired, live);
    // The unchanged key is not a drifted field.
    assert!(
        secret["fields"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["pointer"] != "/data/username")
    );
    let detail = c
        .get_as(
            &format!(
                "{RESOURCE}?group=&version=v1&kind=Secret&namespace=payments&name=payments-db"
            ),
            "argocd:payments-api",
            "team-payments",
            &[],
        )
        .await;
    assert_eq!(detail.status, 200);
    assert_no_leak(&[&list, &detail], &c.logs.text());
}

// === through the server ===

/// An app on a second cluster, known from Argo CD's cluster Secret, read over TLS with that
/// Secret's CA and token; when that cluster goes down, its resources say so and the rest of the
/// app's answers keep coming.
#[tokio::test]
async fn an_app_on_a_remote_cluster_is_read_with_argo_cds_credentials_and_survives_its_outage() {
    use base64::Engine;
    let home = TestCluster::fake().await.unwrap();
    home.apply_fixtures("demo").await.unwrap();
    // The remote cluster holds the demo's live objects as recorded (seeded, so their
    // managedFields are the real server's), under their own namespace names.
    let remote_fake = fake_apiserver::FakeApiServer::builder()
        .tls(true)
        .token("remote-cluster-token-0123456789")
        .seed_dir(testenv::fixture_dir("crds"))
        .seed_dir(testenv::fixture_dir("demo"))
        .start()
        .await
        .unwrap();
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let config = json!({
        "bearerToken": remote_fake.token().unwrap(),
        "tlsClientConfig": {"caData": b64(remote_fake.ca_pem().unwrap())}
    });
    let payments = "payments";
    home.create_objects(vec![
        json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "cluster-prod", "namespace": "argocd",
                         "labels": {"argocd.argoproj.io/secret-type": "cluster"}},
            "data": {"name": b64("prod"), "server": b64(&remote_fake.url()), "config": b64(&config.to_string())}
        }),
        json!({
            "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
            // Named as the objects' tracking ids name their app (`payments-api`), in the other
            // watched namespace: the engine compares only an app's own objects.
            "metadata": {"name": "payments-api", "namespace": "team-apps"},
            "spec": {"project": "default", "destination": {"name": "prod", "namespace": payments},
                     "source": {"repoURL": "https://git.example.com/payments.git", "path": "."}},
            "status": {"sync": {"status": "OutOfSync"}, "resources": [
                {"group": "apps", "version": "v1", "kind": "Deployment", "namespace": payments,
                 "name": "payments-api", "status": "OutOfSync"}
            ]}
        }),
    ])
    .await
    .unwrap();
    // No reuse of objects read: the second request must reach the remote cluster.
    let app = TestApp::ready(
        &home,
        &[
            ("DRIFT_REMOTE_CLUSTERS", "true"),
            ("DRIFT_CACHE_TTL_SECONDS", "0"),
        ],
    )
    .await;
    let header = app_header(&home, "team-apps", "payments-api");
    let r = app
        .get_as(
            DRIFT,
            &header,
            "default",
            &[("Argocd-Target-Cluster-Name", "prod")],
        )
        .await;
    let report = r.json();
    let deployment = resource(&report, "Deployment", "payments-api");
    assert_eq!(deployment["cause"], "liveChanged", "{deployment:#}");
    assert_eq!(
        field(deployment, "/spec/replicas")["attribution"]["manager"],
        "kubectl-edit"
    );

    remote_fake.faults().set_down(true);
    let r = app.get_as(DRIFT, &header, "default", &[]).await;
    assert_eq!(r.status, 200);
    let down = r.json();
    let deployment = resource(&down, "Deployment", "payments-api");
    assert_eq!(deployment["cause"], "notInspected");
    assert_eq!(deployment["notInspected"]["reason"], "clusterUnreachable");
    assert_eq!(app.status(&header, "default").await.status, 200);
    let logs = app.logs();
    assert_no_leak(&[&r], &logs);
    leak::assert_none(&logs, &[remote_fake.token().unwrap()]);
}
