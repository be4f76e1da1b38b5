//! Discovery through `kube::Discovery` (legacy and aggregated) and `/version`.

use fake_apiserver::FakeApiServer;
use kube::api::{Api, DynamicObject, GroupVersionKind, ListParams};
use kube::discovery::{Discovery, Scope, pinned_kind, verbs};

use crate::common::{APPLICATION_CRD, SAMPLE_APPLICATION, client, server};

#[tokio::test]
async fn the_server_reports_the_version_the_conformance_tests_compare_with() {
    let server = server().await;
    let info = client(&server).await.apiserver_version().await.unwrap();
    assert_eq!(info.git_version, "v1.37.1");
    assert_eq!((info.major.as_str(), info.minor.as_str()), ("1", "33"));
}

#[tokio::test]
async fn legacy_discovery_finds_builtin_kinds_with_scope_and_verbs() {
    let server = server().await;
    let discovery = Discovery::new(client(&server).await).run().await.unwrap();
    for group in [
        "",
        "apps",
        "batch",
        "networking.k8s.io",
        "rbac.authorization.k8s.io",
        "apiextensions.k8s.io",
    ] {
        assert!(discovery.has_group(group), "group {group:?} missing");
    }
    let (ar, caps) = discovery
        .resolve_gvk(&GroupVersionKind::gvk("apps", "v1", "Deployment"))
        .unwrap();
    assert_eq!(ar.plural, "deployments");
    assert_eq!(caps.scope, Scope::Namespaced);
    assert!(caps.supports_operation(verbs::WATCH));
    let (ns, caps) = discovery
        .resolve_gvk(&GroupVersionKind::gvk("", "v1", "Namespace"))
        .unwrap();
    assert_eq!(ns.plural, "namespaces");
    assert_eq!(caps.scope, Scope::Cluster);
    let crd = discovery
        .resolve_gvk(&GroupVersionKind::gvk(
            "apiextensions.k8s.io",
            "v1",
            "CustomResourceDefinition",
        ))
        .unwrap();
    assert_eq!(crd.1.scope, Scope::Cluster);
}

#[tokio::test]
async fn aggregated_discovery_finds_the_same_kinds() {
    let server = server().await;
    let discovery = Discovery::new(client(&server).await)
        .run_aggregated()
        .await
        .unwrap();
    let (ar, caps) = discovery
        .resolve_gvk(&GroupVersionKind::gvk("", "v1", "ConfigMap"))
        .unwrap();
    assert_eq!(ar.plural, "configmaps");
    assert_eq!(caps.scope, Scope::Namespaced);
    assert!(
        discovery
            .resolve_gvk(&GroupVersionKind::gvk("batch", "v1", "CronJob"))
            .is_some()
    );
}

#[tokio::test]
async fn a_seeded_crd_makes_its_kind_discoverable_and_readable() {
    let server = FakeApiServer::builder()
        .seed_yaml(SAMPLE_APPLICATION)
        .seed_yaml(APPLICATION_CRD)
        .start()
        .await
        .unwrap();
    let client = client(&server).await;
    let gvk = GroupVersionKind::gvk("argoproj.io", "v1alpha1", "Application");
    let (ar, caps) = pinned_kind(&client, &gvk).await.unwrap();
    assert_eq!(ar.plural, "applications");
    assert_eq!(caps.scope, Scope::Namespaced);

    let apps: Api<DynamicObject> = Api::namespaced_with(client.clone(), "argo-cd", &ar);
    let app = apps.get("velero-test").await.unwrap();
    assert_eq!(app.data["status"]["sync"]["status"], "Synced");
    let all: Api<DynamicObject> = Api::all_with(client, &ar);
    let list = all.list(&ListParams::default()).await.unwrap();
    assert_eq!(list.items.len(), 1);
    assert_eq!(
        list.items[0].types.as_ref().map(|t| t.kind.as_str()),
        Some("Application"),
        "custom resource list items keep apiVersion/kind"
    );
}

#[tokio::test]
async fn an_unknown_resource_is_a_404_status() {
    let server = server().await;
    let client = client(&server).await;
    let ar = kube::api::ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("example.com", "v1", "Nothing"),
        "nothings",
    );
    let api: Api<DynamicObject> = Api::default_namespaced_with(client, &ar);
    let err = api.list(&ListParams::default()).await.unwrap_err();
    assert_eq!(crate::common::status_code(&err), 404);
    assert_eq!(crate::common::reason(&err), "NotFound");
}
