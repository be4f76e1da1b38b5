//! The fake API server against the real one: the same requests to both, the answers compared.
//!
//! The fake is what most tests and the demo run on, so where it differs from a real
//! kube-apiserver in something the product reads, tests would pass on a fiction. These tests
//! need a real server (`make test-real` runs them with `--ignored`); each difference they found
//! was fixed in the fake and is pinned here.
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, PostParams};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use testenv::TestCluster;
use testenv::scenario::{self, Recording};

const NEEDS_REAL: &str = "needs a real API server: make test-real";

/// Every object the scenario touched, keyed `Kind/name`, read back from the cluster.
async fn play_and_read(cluster: &TestCluster) -> (Recording, BTreeMap<String, Value>) {
    let client = cluster.client().await.unwrap();
    let namespaces: Vec<Value> = ["guestbook", "payments", "web"]
        .iter()
        .map(|ns| json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}))
        .collect();
    cluster.create_objects(namespaces).await.unwrap();
    let recording = scenario::play(&client, &|ns| cluster.ns(ns)).await.unwrap();
    let objects = recording
        .read_back(&client)
        .await
        .unwrap()
        .into_iter()
        .map(|o| {
            (
                format!(
                    "{}/{}",
                    o["kind"].as_str().unwrap(),
                    o["metadata"]["name"].as_str().unwrap()
                ),
                o,
            )
        })
        .collect();
    (recording, objects)
}

/// `managedFields` as the product reads them: who, how, which subresource, which fields, and
/// which step of the story — not the wall-clock time, which differs between two runs.
fn ownership(obj: &Value, recording: &Recording) -> Vec<Value> {
    let mut entries: Vec<Value> = obj["metadata"]["managedFields"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(|mut e| {
            let written = e["time"].as_str().and_then(|t| t.parse().ok());
            e["time"] = json!(written.and_then(|t| recording.story_time(t)));
            e
        })
        .collect();
    entries.sort_by_key(|e| format!("{}|{}|{}", e["manager"], e["operation"], e["subresource"]));
    entries
}

#[tokio::test]
#[ignore = "needs a real API server: make test-real"]
async fn the_fake_computes_the_same_managed_fields_as_a_real_server() {
    let real = TestCluster::real().await.expect(NEEDS_REAL);
    let fake = TestCluster::fake().await.unwrap();
    let ((real_rec, real_objs), (fake_rec, fake_objs)) =
        tokio::join!(play_and_read(&real), play_and_read(&fake));
    assert_eq!(
        real_objs.keys().collect::<Vec<_>>(),
        fake_objs.keys().collect::<Vec<_>>()
    );
    let mut differences = Vec::new();
    for (key, real_obj) in &real_objs {
        let (want, got) = (
            ownership(real_obj, &real_rec),
            ownership(&fake_objs[key], &fake_rec),
        );
        if want != got {
            differences.push(format!(
                "{key}:\n  real: {}\n  fake: {}",
                serde_json::to_string(&want).unwrap(),
                serde_json::to_string(&got).unwrap()
            ));
        }
    }
    assert!(
        differences.is_empty(),
        "managedFields differ:\n{}",
        differences.join("\n")
    );
}

#[tokio::test]
#[ignore = "needs a real API server: make test-real"]
async fn the_fake_keeps_the_same_annotations_labels_and_generations_as_a_real_server() {
    let real = TestCluster::real().await.expect(NEEDS_REAL);
    let fake = TestCluster::fake().await.unwrap();
    let ((_, real_objs), (_, fake_objs)) = tokio::join!(play_and_read(&real), play_and_read(&fake));
    for (key, real_obj) in &real_objs {
        let fake_obj = &fake_objs[key];
        for pointer in [
            "/metadata/labels",
            "/metadata/generation",
            "/data",
            "/spec/replicas",
        ] {
            let (want, got) = (real_obj.pointer(pointer), fake_obj.pointer(pointer));
            assert_eq!(want, got, "{key} {pointer}");
        }
        let annotations = |o: &Value| -> Value {
            let mut a = o["metadata"]["annotations"].clone();
            // The namespace differs between the two clusters; the rest must not.
            if let Some(map) = a.as_object_mut() {
                map.remove("kubectl.kubernetes.io/last-applied-configuration");
                map.remove("argocd.argoproj.io/tracking-id");
            }
            a
        };
        assert_eq!(
            annotations(real_obj),
            annotations(fake_obj),
            "{key} annotations"
        );
    }
}

/// A watch from a resourceVersion the server no longer serves: HTTP 200, then one ERROR event
/// holding a 410 Expired Status, then the end of the stream, before the watch's timeout.
///
/// On a real server the watch cache serves most watches, from any resourceVersion since it was
/// started, whatever etcd has compacted since: a ConfigMap watch from "1" on a fresh cluster just
/// works (it got a BOOKMARK). A custom resource's cache starts when its CRD is created, long after
/// revision 1, so an Application watch from "1" is too old for the cache
/// (`too old resource version: 1 (<where the cache starts>)`). Core Events are never cached:
/// their watches go to etcd, which must compact first, and the server words that error
/// differently. The real half compacts etcd through its HTTP gateway (its URL is in the `env` file
/// `real-kube.sh` writes next to the kubeconfig); the fake half calls `compact()`.
#[tokio::test]
#[ignore = "needs a real API server: make test-real"]
async fn a_too_old_resource_version_is_an_error_event_on_both() {
    const APPLICATIONS: &str = "/apis/argoproj.io/v1alpha1/namespaces/default/applications";
    const EVENTS: &str = "/api/v1/namespaces/default/events";

    /// The watch's HTTP status and its events, with the oldest servable revision in a
    /// message (which differs between servers) replaced by `N`.
    async fn watch_from_1(cluster: &TestCluster, path: &str) -> (u16, Vec<Value>) {
        let client = cluster.client().await.unwrap();
        let uri = format!(
            "{path}?watch=true&resourceVersion=1&allowWatchBookmarks=true&timeoutSeconds=20"
        );
        let started = std::time::Instant::now();
        let response = client
            .send(http::Request::get(uri).body(Vec::new().into()).unwrap())
            .await
            .unwrap();
        let status = response.status().as_u16();
        let body = http_body_util::BodyExt::collect(response.into_body())
            .await
            .unwrap()
            .to_bytes();
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "the stream ends after the error"
        );
        let events = String::from_utf8_lossy(&body)
            .lines()
            .map(|line| {
                let mut event: Value = serde_json::from_str(line).unwrap();
                if let Some(message) = event["object"]["message"].as_str()
                    && let Some((text, oldest)) =
                        message.strip_suffix(')').and_then(|m| m.rsplit_once(" ("))
                {
                    assert!(oldest.parse::<u64>().unwrap() > 1, "{message}");
                    event["object"]["message"] = json!(format!("{text} (N)"));
                }
                event
            })
            .collect();
        (status, events)
    }

    /// Compacts the real cluster's etcd at its current revision.
    async fn compact_etcd() {
        let kubeconfig =
            std::path::PathBuf::from(std::env::var_os("DRIFT_TEST_KUBECONFIG").expect(NEEDS_REAL));
        let env_file = kubeconfig.with_file_name("env");
        let env = std::fs::read_to_string(&env_file).unwrap_or_else(|e| {
            panic!(
                "{}: {e} (a cluster started by testenv/real-kube.sh has it)",
                env_file.display()
            )
        });
        let url = env
            .lines()
            .find_map(|l| l.strip_prefix("DRIFT_KUBE_ETCD_URL="))
            .expect("DRIFT_KUBE_ETCD_URL in the env file");
        let addr = url
            .trim_matches('\'')
            .trim_start_matches("http://")
            .parse()
            .unwrap();
        let post = |path: &'static str, body: Value| async move {
            let headers = [("content-type", "application/json")];
            testenv::http::send(
                addr,
                http::Method::POST,
                path,
                &headers,
                body.to_string().into(),
            )
            .await
            .unwrap()
        };
        let range = post("/v3/kv/range", json!({"key": "AA==", "limit": 1}))
            .await
            .json();
        let revision = range["header"]["revision"].as_str().unwrap().to_string();
        let compacted = post(
            "/v3/kv/compaction",
            json!({"revision": revision, "physical": true}),
        )
        .await;
        let again = String::from_utf8_lossy(&compacted.body)
            .contains("required revision has been compacted");
        assert!(
            compacted.status.is_success() || again,
            "etcd compaction: {compacted:?}"
        );
    }

    let real = TestCluster::real().await.expect(NEEDS_REAL);
    compact_etcd().await;
    let fake = TestCluster::fake().await.unwrap();
    fake.fake_server().unwrap().faults().compact();

    let expired = |message: &str| {
        (
            200,
            vec![
                json!({"type": "ERROR", "object": {"kind": "Status", "apiVersion": "v1", "metadata": {},
                "status": "Failure", "message": message, "reason": "Expired", "code": 410}}),
            ],
        )
    };
    for (path, message) in [
        (APPLICATIONS, "too old resource version: 1 (N)"),
        (
            EVENTS,
            "The resourceVersion for the provided watch is too old.",
        ),
    ] {
        let want = watch_from_1(&real, path).await;
        assert_eq!(want, expired(message), "real server, {path}");
        assert_eq!(watch_from_1(&fake, path).await, want, "fake server, {path}");
    }
}

/// The Status bodies kube-rs and the product read on failures.
#[tokio::test]
#[ignore = "needs a real API server: make test-real"]
async fn not_found_and_conflict_answers_have_the_same_status_shape() {
    async fn failures(cluster: &TestCluster) -> Vec<(u16, String)> {
        let client = cluster.client().await.unwrap();
        let ns = cluster.ns("shape");
        cluster
            .create_objects(vec![
                json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shape"}}),
            ])
            .await
            .unwrap();
        let api: Api<DynamicObject> = Api::namespaced_with(
            client,
            &ns,
            &ApiResource::from_gvk(&GroupVersionKind::gvk("", "v1", "ConfigMap")),
        );
        let mut out = Vec::new();
        let err = |e: kube::Error| match e {
            kube::Error::Api(s) => (s.code, s.reason),
            other => panic!("not an API error: {other}"),
        };
        out.push(err(api.get("missing").await.unwrap_err()));
        let cm: DynamicObject = serde_json::from_value(
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}),
        )
        .unwrap();
        let created = api.create(&PostParams::default(), &cm).await.unwrap();
        out.push(err(api
            .create(&PostParams::default(), &cm)
            .await
            .unwrap_err()));
        let mut stale = created.clone();
        stale.metadata.resource_version = Some("1".into());
        out.push(err(api
            .replace("c", &PostParams::default(), &stale)
            .await
            .unwrap_err()));
        out
    }
    let real = TestCluster::real().await.expect(NEEDS_REAL);
    let fake = TestCluster::fake().await.unwrap();
    let want = failures(&real).await;
    assert_eq!(
        want,
        vec![
            (404, "NotFound".into()),
            (409, "AlreadyExists".into()),
            (409, "Conflict".into())
        ]
    );
    assert_eq!(failures(&fake).await, want);
}
