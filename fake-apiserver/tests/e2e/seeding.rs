//! Seeding from fixture directories, and the binary.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use fake_apiserver::FakeApiServer;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind};

use crate::common::{APPLICATION_CRD, SAMPLE_APPLICATION, client, client_from_kubeconfig};

const FIXTURE: &str = r#"
apiVersion: v1
kind: ConfigMap
metadata:
  name: stamped
  namespace: team-a
  annotations:
    example.com/seen: "{{now-90s}}"
data:
  created: "{{now}}"
---
# an empty document is skipped
---
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: ConfigMap
  metadata: {name: listed}
"#;

fn fixture_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    // File order puts the Application before its CRD: CRDs must be seeded first anyway.
    std::fs::write(dir.path().join("10-app.yaml"), SAMPLE_APPLICATION).unwrap();
    std::fs::write(dir.path().join("20-crd.yml"), APPLICATION_CRD).unwrap();
    std::fs::write(dir.path().join("30-config.yaml"), FIXTURE).unwrap();
    std::fs::write(dir.path().join("ignored.txt"), "not yaml: [").unwrap();
    dir
}

#[tokio::test]
async fn a_seed_directory_loads_crds_first_creates_namespaces_and_expands_times() {
    let dir = fixture_dir();
    let server = FakeApiServer::builder()
        .seed_dir(dir.path())
        .start()
        .await
        .unwrap();
    let client = client(&server).await;

    let namespaces = Api::<Namespace>::all(client.clone());
    for ns in ["argo-cd", "team-a", "default"] {
        assert!(
            namespaces.get_opt(ns).await.unwrap().is_some(),
            "namespace {ns}"
        );
    }
    let stamped = Api::<ConfigMap>::namespaced(client.clone(), "team-a")
        .get("stamped")
        .await
        .unwrap();
    let created = &stamped.data.unwrap()["created"];
    let parsed: jiff::Timestamp = created.parse().unwrap();
    assert!(
        created.ends_with('Z') && !created.contains('.'),
        "{created}"
    );
    assert!((jiff::Timestamp::now() - parsed).get_seconds().abs() < 60);
    let seen: jiff::Timestamp = stamped.metadata.annotations.unwrap()["example.com/seen"]
        .parse()
        .unwrap();
    assert_eq!((parsed - seen).get_seconds(), 90);

    assert!(
        Api::<ConfigMap>::default_namespaced(client.clone())
            .get("listed")
            .await
            .is_ok()
    );
    let ar = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("argoproj.io", "v1alpha1", "Application"),
        "applications",
    );
    let app = Api::<DynamicObject>::namespaced_with(client, "argo-cd", &ar)
        .get("velero-test")
        .await
        .unwrap();
    assert_eq!(
        app.metadata.creation_timestamp.unwrap().0.to_string(),
        "2024-03-04T21:30:33Z"
    );
}

#[tokio::test]
async fn a_seed_with_an_unknown_kind_fails_to_start_with_its_origin() {
    let err = FakeApiServer::builder()
        .seed_yaml("apiVersion: example.com/v1\nkind: Nothing\nmetadata: {name: x}\n")
        .start()
        .await
        .unwrap_err();
    let message = format!("{err}");
    assert!(
        message.contains("Nothing x") && message.contains("<seed_yaml>"),
        "{message}"
    );
}

#[tokio::test]
async fn the_binary_serves_the_seed_and_writes_a_working_kubeconfig() {
    let dir = fixture_dir();
    let kubeconfig = dir.path().join("kubeconfig");
    let mut child = Command::new(env!("CARGO_BIN_EXE_fake-apiserver"))
        .arg("--seed")
        .arg(dir.path())
        .args(["--port", "0", "--tls", "--token", "demo"])
        .arg("--kubeconfig-out")
        .arg(&kubeconfig)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut url = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut url)
        .unwrap();
    assert!(url.starts_with("https://127.0.0.1:"), "{url}");
    let yaml = std::fs::read_to_string(&kubeconfig).unwrap();
    let client = client_from_kubeconfig(&yaml).await;
    let cm = Api::<ConfigMap>::namespaced(client, "team-a")
        .get("stamped")
        .await;
    let pid = child.id().to_string();
    let _ = Command::new("kill").args(["-TERM", &pid]).status();
    let status = child.wait().unwrap();
    assert!(cm.is_ok(), "{cm:?}");
    assert!(status.success(), "SIGTERM is a clean shutdown: {status:?}");
}
