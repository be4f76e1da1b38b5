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

/// The least privilege the chart grants is enough: its RBAC, rendered by `helm template` (Argo CD
/// and POD_NAMESPACE in the test's `argocd`, apps also in `team-apps`) and bound to the real
/// server's non-admin user, lets argocd-drift list and watch Applications, read `argocd-cm`, and
/// write its own DriftReports. The chart's ServiceAccount itself is tested in `chart.rs`. Only a
/// real server enforces RBAC.
#[tokio::test]
#[ignore = "needs a real API server: make test-real"]
async fn applications_read_and_own_reports_written_is_all_the_access_needed() {
    let cluster = TestCluster::start_unprivileged().await.unwrap();
    cluster.apply_fixtures("demo").await.unwrap();
    let grants =
        testenv::chart::rbac_for_user(&[], "drift-user", &cluster.ns("least-privilege")).unwrap();
    cluster.create_objects(grants).await.unwrap();
    let app = TestApp::spawn(&cluster, &[("REPORTS_INSECURE_NO_AUTH", "true")]).await;
    app.wait_ready().await;
    // A report is written, replaced and deleted with these grants alone.
    common::report_written_and_deleted(&app, &["OUT_OF_SYNC", "SYNCED"]).await;
    let r = app
        .status(
            &app_header(&cluster, "argocd", "payments-api"),
            "team-payments",
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["sync"]["status"], "OutOfSync");
}

/// The cluster layer's live reads, as drift will use them: one GET per object, kinds resolved
/// through discovery (cached per group/version), every failure a short reason.
#[tokio::test]
async fn live_objects_are_read_one_by_one_with_discovery_cached() {
    use argocd_drift::cluster::{Connection, LiveRef, ReadError, ReadLimits};
    use drift_core::app::Destination;
    let cluster = TestCluster::fake().await.unwrap();
    cluster.apply_fixtures("demo").await.unwrap();
    let fake = cluster.fake_server().unwrap();
    // RBAC that does not grant Secrets.
    fake.faults().fail_requests(
        fake_apiserver::FaultRule::status(403)
            .verb(fake_apiserver::Verb::Get)
            .resource("secrets"),
    );
    let connection = Connection::new(Some(cluster.kubeconfig_path()), Duration::from_secs(5))
        .await
        .unwrap();
    let in_cluster = Destination {
        server: Some("https://kubernetes.default.svc".into()),
        ..Default::default()
    };
    let limits = ReadLimits {
        concurrency: 4,
        cache_bytes: 1 << 20,
        cache_ttl: Duration::ZERO,
        read_secrets: true,
        refresh_min_interval: Duration::from_secs(10),
    };
    let live = connection
        .destinations(limits, false)
        .cluster(&in_cluster)
        .unwrap();
    let payments = cluster.ns("payments");
    let deployment = |name: &'static str| LiveRef {
        group: "apps",
        version: "v1",
        kind: "Deployment",
        namespace: &payments,
        name,
    };

    fake.faults().clear_request_log(); // the fixtures' own discovery
    let read = live.get(deployment("payments-api")).await.unwrap();
    let object = &read.as_ref().as_ref().unwrap().parse().unwrap();
    assert_eq!(object["metadata"]["name"], "payments-api");
    assert!(object["metadata"]["managedFields"].is_array());
    assert!(live.get(deployment("gone")).await.unwrap().is_none());

    // One discovery of apps/v1 served both reads.
    let discoveries = || {
        fake.faults()
            .request_log()
            .iter()
            .filter(|r| r.uri.starts_with("/apis/apps/v1") && r.resource.is_empty())
            .count()
    };
    assert_eq!(discoveries(), 1);
    live.get(deployment("payments-api")).await.unwrap();
    assert_eq!(discoveries(), 1);

    // Each failure is its own short reason.
    let unknown = live
        .get(LiveRef {
            kind: "Rollout",
            group: "argoproj.io",
            version: "v1alpha1",
            ..deployment("x")
        })
        .await
        .unwrap_err();
    assert!(
        matches!(unknown, ReadError::KindUnknown { .. }),
        "{unknown:?}"
    );
    let secret = LiveRef {
        group: "",
        version: "v1",
        kind: "Secret",
        ..deployment("payments-db")
    };
    match live.get(secret).await.unwrap_err() {
        ReadError::Forbidden(why) => assert!(why.starts_with("403 Forbidden: "), "{why}"),
        other => panic!("expected Forbidden, got {other:?}"),
    }
    // Secret reading off: refused at the IO edge, nothing is even asked.
    let no_secrets = connection
        .destinations(
            ReadLimits {
                read_secrets: false,
                refresh_min_interval: Duration::from_secs(10),
                ..limits
            },
            false,
        )
        .cluster(&in_cluster)
        .unwrap();
    fake.faults().clear_request_log();
    assert_eq!(
        no_secrets.get(secret).await.unwrap_err(),
        ReadError::SecretsDisabled
    );
    assert_eq!(
        fake.faults()
            .request_count(fake_apiserver::Verb::Get, "secrets"),
        0
    );
    let remote = Destination {
        server: Some("https://prod.example.com".into()),
        ..Default::default()
    };
    assert!(matches!(
        connection.destinations(limits, false).cluster(&remote),
        Err(ReadError::ClusterNotReadable(_))
    ));
    fake.faults().set_down(true);
    assert!(matches!(
        live.get(deployment("payments-api")).await,
        Err(ReadError::Unreachable(_))
    ));
}

/// The project's own custom resources: optimistic writes and a plain-JSON watch. Runs on the
/// fake and on a real API server.
#[tokio::test]
async fn own_resources_are_written_with_optimistic_concurrency_and_watched() {
    use argocd_drift::cluster::{Connection, OwnKind, OwnSink, Stored, WriteError};
    use argocd_drift::readiness::Readiness;
    use std::sync::{Arc, Mutex};

    let cluster = TestCluster::start().await.unwrap();
    let ns = cluster.ns("drift");
    cluster
        .create_objects(vec![
            // Named by its base: create_objects gives it this test's suffix.
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "drift"}}),
            json!({
                "apiVersion": "apiextensions.k8s.io/v1",
                "kind": "CustomResourceDefinition",
                "metadata": {"name": "probes.argocd-drift.io"},
                "spec": {
                    "group": "argocd-drift.io",
                    "scope": "Namespaced",
                    "names": {"kind": "Probe", "plural": "probes", "singular": "probe", "listKind": "ProbeList"},
                    "versions": [{
                        "name": "v1alpha1", "served": true, "storage": true,
                        "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                            "spec": {"type": "object", "properties": {"n": {"type": "integer"}}}
                        }}}
                    }]
                }
            }),
        ])
        .await
        .unwrap();
    let connection = Connection::new(Some(cluster.kubeconfig_path()), Duration::from_secs(10))
        .await
        .unwrap();
    let probes = connection.own(
        OwnKind {
            kind: "Probe",
            plural: "probes",
        },
        &ns,
    );
    // The CRD may take a moment to be served.
    let first = eventually_some(Duration::from_secs(15), || async {
        probes
            .create(json!({"metadata": {"name": "a"}, "spec": {"n": 1}}))
            .await
            .ok()
    })
    .await
    .unwrap();
    assert_eq!(first.object["spec"]["n"], 1);
    assert_eq!(
        probes
            .create(json!({"metadata": {"name": "a"}, "spec": {"n": 9}}))
            .await,
        Err(WriteError::AlreadyExists)
    );
    let mut next = first.object.clone();
    next["spec"]["n"] = json!(2);
    let second = probes.replace(next.clone()).await.unwrap();
    // A write based on the old version is a conflict, not a lost update.
    assert_eq!(probes.replace(next).await, Err(WriteError::Conflict));
    assert_eq!(
        probes.delete("a", &first.resource_version).await,
        Err(WriteError::Conflict)
    );
    assert_eq!(
        probes.get("a").await.unwrap().unwrap().object["spec"]["n"],
        2
    );

    #[derive(Clone, Default)]
    struct Seen(Arc<Mutex<Vec<String>>>);
    impl OwnSink for Seen {
        fn replace(&self, objects: Vec<Stored>, _: jiff::Timestamp) {
            let names = objects.iter().map(|o| format!("list {}", o.name));
            self.0.lock().unwrap().extend(names);
        }
        fn apply(&self, object: Stored, _: jiff::Timestamp) {
            let n = &object.object["spec"]["n"];
            self.0
                .lock()
                .unwrap()
                .push(format!("apply {} {n}", object.name));
        }
        fn delete(&self, name: &str, _: jiff::Timestamp) {
            self.0.lock().unwrap().push(format!("delete {name}"));
        }
    }
    let seen = Seen::default();
    let readiness = Readiness::new();
    let metrics = Arc::new(argocd_drift::metrics::Metrics::new());
    let mut tasks = argocd_drift::cluster::WatchTasks::new(Arc::clone(&metrics), None);
    probes.watch(
        &mut tasks,
        seen.clone(),
        readiness.source("probes"),
        &metrics,
    );
    let waited = |expected: &'static str| {
        let seen = seen.clone();
        async move {
            eventually_some(Duration::from_secs(15), || async {
                seen.0
                    .lock()
                    .unwrap()
                    .iter()
                    .any(|e| e == expected)
                    .then_some(())
            })
            .await
            .unwrap_or_else(|e| {
                panic!("never saw {expected:?}: {e} ({:?})", seen.0.lock().unwrap())
            })
        }
    };
    waited("list a").await;
    assert!(readiness.is_ready());
    probes
        .create(json!({"metadata": {"name": "b"}, "spec": {"n": 3}}))
        .await
        .unwrap();
    waited("apply b 3").await;
    probes.delete("a", &second.resource_version).await.unwrap();
    waited("delete a").await;
}

/// A remote destination, known from Argo CD's own cluster Secret: read over TLS with the Secret's
/// CA and bearer token; an exec-plugin cluster is reported as unsupported; a cluster that goes
/// down is unreachable, and the backend's own cluster is unaffected.
#[tokio::test]
async fn remote_clusters_are_read_with_the_credentials_in_argo_cds_cluster_secrets() {
    use argocd_drift::cluster::{Connection, LiveRef, ReadError, ReadLimits, WatchTasks};
    use argocd_drift::readiness::Readiness;
    use base64::Engine;
    use drift_core::app::Destination;

    let logs = common::logs();
    let home = TestCluster::fake().await.unwrap();
    home.apply_fixtures("demo").await.unwrap();
    let remote = TestCluster::fake().await.unwrap();
    remote.apply_fixtures("demo").await.unwrap();
    let remote_fake = remote.fake_server().unwrap();
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let config = json!({
        "bearerToken": remote_fake.token().unwrap(),
        "tlsClientConfig": {"caData": b64(remote_fake.ca_pem().unwrap()), "insecure": false}
    });
    let secret = |name: &str, server: &str, config: &serde_json::Value| {
        json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": name, "namespace": "argocd",
                         "labels": {"argocd.argoproj.io/secret-type": "cluster"}},
            "data": {"name": b64(name), "server": b64(server), "config": b64(&config.to_string())}
        })
    };
    home.create_objects(vec![
        secret("prod", &remote_fake.url(), &config),
        secret(
            "eks",
            "https://eks.example.com",
            &json!({"execProviderConfig": {"command": "argocd-k8s-auth"}}),
        ),
    ])
    .await
    .unwrap();

    let connection = Connection::new(Some(home.kubeconfig_path()), Duration::from_secs(3))
        .await
        .unwrap();
    let limits = ReadLimits {
        concurrency: 4,
        cache_bytes: 1 << 20,
        cache_ttl: Duration::from_secs(60),
        read_secrets: false,
        refresh_min_interval: Duration::from_secs(10),
    };
    let destinations = connection.destinations(limits, true);
    let readiness = Readiness::new();
    let metrics = std::sync::Arc::new(argocd_drift::metrics::Metrics::new());
    let mut tasks = WatchTasks::new(std::sync::Arc::clone(&metrics), None);
    connection.watch_cluster_secrets(
        &mut tasks,
        &destinations,
        &home.ns("argocd"),
        &readiness,
        &metrics,
    );

    let prod = Destination {
        name: Some("prod".into()),
        ..Default::default()
    };
    let cluster = eventually_some(Duration::from_secs(15), || async {
        destinations.cluster(&prod).ok()
    })
    .await
    .expect("the remote cluster was never learned from its Secret");
    assert!(readiness.is_ready());
    assert_eq!(cluster.server(), remote_fake.url());
    let payments = remote.ns("payments");
    let deployment = LiveRef {
        group: "apps",
        version: "v1",
        kind: "Deployment",
        namespace: &payments,
        name: "payments-api",
    };
    let read = cluster.get(deployment).await.unwrap();
    assert_eq!(
        read.as_ref().as_ref().unwrap().parse().unwrap()["metadata"]["namespace"],
        payments
    );
    // Read again: from the cache, no second GET.
    remote_fake.faults().clear_request_log();
    cluster.get(deployment).await.unwrap();
    assert_eq!(
        remote_fake
            .faults()
            .request_count(fake_apiserver::Verb::Get, "deployments"),
        0
    );

    let eks = Destination {
        server: Some("https://eks.example.com".into()),
        ..Default::default()
    };
    let unsupported = eventually_some(Duration::from_secs(15), || async {
        match destinations.cluster(&eks) {
            Err(ReadError::ClusterUnsupported { why, .. }) => Some(why),
            _ => None,
        }
    })
    .await
    .unwrap();
    assert!(unsupported.contains("exec provider"), "{unsupported}");

    remote_fake.faults().set_down(true);
    let other = LiveRef {
        name: "other",
        ..deployment
    };
    assert!(matches!(
        cluster.get(other).await,
        Err(ReadError::Unreachable(_))
    ));
    // The home cluster is unaffected.
    let home_cluster = destinations
        .cluster(&Destination {
            server: Some("https://kubernetes.default.svc".into()),
            ..Default::default()
        })
        .unwrap();
    let home_payments = home.ns("payments");
    let home_read = home_cluster
        .get(LiveRef {
            namespace: &home_payments,
            ..deployment
        })
        .await
        .unwrap();
    assert!(home_read.is_some());
    // The cluster was logged by name and server; nothing of its credentials was.
    let logs = logs.text();
    assert!(logs.contains("remote cluster known"), "{logs}");
    assert!(!logs.contains(remote_fake.token().unwrap()));
    assert!(!logs.contains(&b64(remote_fake.token().unwrap())));
}

/// Argo CD's settings follow argocd-cm as it is created, changed and deleted.
#[tokio::test]
async fn argo_cd_settings_follow_argocd_cm() {
    use argocd_drift::argocd_settings::ArgoCdSettings;
    use argocd_drift::cluster::{Connection, WatchTasks};
    use argocd_drift::readiness::Readiness;
    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::api::{Api, DeleteParams, Patch, PatchParams};

    let cluster = TestCluster::start().await.unwrap();
    let ns = cluster.ns("argocd");
    cluster
        .create_objects(vec![
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "argocd"}}),
            json!({"apiVersion": "v1", "kind": "ConfigMap",
                   "metadata": {"name": "some-other-cm", "namespace": "argocd"},
                   "data": {"resource.compareoptions": "not: this one"}}),
        ])
        .await
        .unwrap();
    let connection = Connection::new(Some(cluster.kubeconfig_path()), Duration::from_secs(5))
        .await
        .unwrap();
    let settings = ArgoCdSettings::new();
    let readiness = Readiness::new();
    let metrics = std::sync::Arc::new(argocd_drift::metrics::Metrics::new());
    let mut tasks = WatchTasks::new(std::sync::Arc::clone(&metrics), None);
    connection.watch_argocd_settings(&mut tasks, &settings, &ns, &readiness, &metrics);
    // No argocd-cm yet: ready, with Argo CD's defaults.
    eventually_some(Duration::from_secs(15), || async {
        (readiness.is_ready() && settings.snapshot().generation > 0).then_some(())
    })
    .await
    .unwrap();
    assert!(!settings.snapshot().present);

    let configmaps: Api<ConfigMap> = Api::namespaced(cluster.client().await.unwrap(), &ns);
    configmaps
        .create(
            &Default::default(),
            &serde_json::from_value(json!({
                "metadata": {"name": "argocd-cm"},
                "data": {"resource.compareoptions": "ignoreResourceStatusField: crd"}
            }))
            .unwrap(),
        )
        .await
        .unwrap();
    let seen = |expected: Option<&'static str>| {
        let settings = settings.clone();
        async move {
            eventually_some(Duration::from_secs(15), || async {
                let s = settings.snapshot();
                (s.data.get("resource.compareoptions").map(String::as_str) == expected).then_some(s)
            })
            .await
            .unwrap_or_else(|e| panic!("argocd-cm never read {expected:?}: {e}"))
        }
    };
    let created = seen(Some("ignoreResourceStatusField: crd")).await;
    assert!(created.present);
    configmaps
        .patch(
            "argocd-cm",
            &PatchParams::default(),
            &Patch::Merge(
                json!({"data": {"resource.compareoptions": "ignoreResourceStatusField: none"}}),
            ),
        )
        .await
        .unwrap();
    let changed = seen(Some("ignoreResourceStatusField: none")).await;
    assert!(changed.generation > created.generation);
    configmaps
        .delete("argocd-cm", &DeleteParams::default())
        .await
        .unwrap();
    let gone = seen(None).await;
    assert!(!gone.present);
}
