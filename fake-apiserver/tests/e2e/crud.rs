//! Reads and writes through typed and dynamic `kube::Api`s.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, Patch,
    PatchParams, PostParams,
};
use serde_json::{Value, json};

use crate::common::{
    APPLICATION_CRD, SAMPLE_APPLICATION, client, configmap, reason, server, status_code,
};

async fn namespace(client: &kube::Client, name: &str) {
    let ns = Namespace {
        metadata: kube::api::ObjectMeta {
            name: Some(name.to_string()),
            ..Default::default()
        },
        ..Default::default()
    };
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await
        .unwrap();
}

#[tokio::test]
async fn get_returns_the_object_and_get_opt_returns_none_when_missing() {
    let server = server().await;
    let cms: Api<ConfigMap> = Api::default_namespaced(client(&server).await);
    let created = cms
        .create(&PostParams::default(), &configmap("a", &[]))
        .await
        .unwrap();
    let meta = &created.metadata;
    assert!(meta.uid.as_ref().is_some_and(|u| u.len() == 36));
    assert!(meta.creation_timestamp.is_some());
    assert_eq!(
        meta.resource_version.as_deref(),
        Some(
            server
                .store()
                .current_resource_version()
                .to_string()
                .as_str()
        )
    );
    let fetched = cms.get("a").await.unwrap();
    assert_eq!(fetched.data, created.data);
    assert!(cms.get_opt("missing").await.unwrap().is_none());
    let err = cms.get("missing").await.unwrap_err();
    assert_eq!(
        (status_code(&err), reason(&err).as_str()),
        (404, "NotFound")
    );
}

#[tokio::test]
async fn lists_page_with_limit_and_continue_from_a_consistent_snapshot() {
    let server = server().await;
    let client = client(&server).await;
    namespace(&client, "paging").await;
    let cms: Api<ConfigMap> = Api::namespaced(client, "paging");
    for i in 1..=5 {
        cms.create(&PostParams::default(), &configmap(&format!("cm-{i}"), &[]))
            .await
            .unwrap();
    }
    let first = cms.list(&ListParams::default().limit(2)).await.unwrap();
    let names = |l: &kube::api::ObjectList<ConfigMap>| -> Vec<String> {
        l.items
            .iter()
            .map(|c| c.metadata.name.clone().unwrap())
            .collect()
    };
    assert_eq!(names(&first), ["cm-1", "cm-2"]);
    assert_eq!(first.metadata.remaining_item_count, Some(3));
    // Objects created after the first page are not part of the snapshot.
    cms.create(&PostParams::default(), &configmap("cm-6", &[]))
        .await
        .unwrap();
    cms.delete("cm-3", &DeleteParams::default()).await.unwrap();
    let token = first.metadata.continue_.clone().unwrap();
    let second = cms
        .list(&ListParams::default().limit(2).continue_token(&token))
        .await
        .unwrap();
    assert_eq!(names(&second), ["cm-3", "cm-4"]);
    assert_eq!(
        second.metadata.resource_version,
        first.metadata.resource_version
    );
    let token = second.metadata.continue_.clone().unwrap();
    let third = cms
        .list(&ListParams::default().limit(2).continue_token(&token))
        .await
        .unwrap();
    assert_eq!(names(&third), ["cm-5"]);
    assert!(third.metadata.continue_.is_none());

    server.faults().compact();
    let err = cms
        .list(&ListParams::default().limit(2).continue_token(&token))
        .await
        .unwrap_err();
    assert_eq!((status_code(&err), reason(&err).as_str()), (410, "Expired"));
}

#[tokio::test]
async fn pages_count_only_their_namespace_and_selected_pages_say_only_that_more_follow() {
    let server = server().await;
    let client = client(&server).await;
    // Namespaces sorting before and after the one listed, each with objects of the kind.
    for ns in ["paging-a", "paging-b", "paging-c"] {
        namespace(&client, ns).await;
        let cms: Api<ConfigMap> = Api::namespaced(client.clone(), ns);
        for i in 1..=5 {
            let labels: &[(&str, &str)] = if i % 2 == 1 { &[("odd", "yes")] } else { &[] };
            cms.create(
                &PostParams::default(),
                &configmap(&format!("cm-{i}"), labels),
            )
            .await
            .unwrap();
        }
    }
    let cms: Api<ConfigMap> = Api::namespaced(client, "paging-b");
    let names = |l: &kube::api::ObjectList<ConfigMap>| -> Vec<String> {
        l.items
            .iter()
            .map(|c| c.metadata.name.clone().unwrap())
            .collect()
    };
    let first = cms.list(&ListParams::default().limit(2)).await.unwrap();
    assert_eq!(names(&first), ["cm-1", "cm-2"]);
    assert_eq!(first.metadata.remaining_item_count, Some(3));
    let token = first.metadata.continue_.clone().unwrap();
    let second = cms
        .list(&ListParams::default().limit(2).continue_token(&token))
        .await
        .unwrap();
    assert_eq!(names(&second), ["cm-3", "cm-4"]);
    assert_eq!(second.metadata.remaining_item_count, Some(1));

    let odd = ListParams::default().labels("odd=yes").limit(2);
    let first = cms.list(&odd).await.unwrap();
    assert_eq!(names(&first), ["cm-1", "cm-3"]);
    assert_eq!(first.metadata.remaining_item_count, None);
    let token = first.metadata.continue_.clone().expect("cm-5 follows");
    let second = cms.list(&odd.clone().continue_token(&token)).await.unwrap();
    assert_eq!(names(&second), ["cm-5"]);
    assert!(second.metadata.continue_.is_none());
    // Exactly one page's worth left: no continue token.
    let odd = ListParams::default().labels("odd=yes").limit(3);
    assert!(cms.list(&odd).await.unwrap().metadata.continue_.is_none());
}

#[tokio::test]
async fn label_and_field_selectors_filter_lists_and_bad_ones_are_rejected() {
    let server = server().await;
    let client = client(&server).await;
    let cms: Api<ConfigMap> = Api::default_namespaced(client.clone());
    for (name, labels) in [
        ("web", vec![("app", "web"), ("tier", "front")]),
        ("db", vec![("app", "db")]),
        ("plain", vec![]),
    ] {
        cms.create(&PostParams::default(), &configmap(name, &labels))
            .await
            .unwrap();
    }
    let names = |selector: &str| {
        let cms = cms.clone();
        let lp = ListParams::default().labels(selector);
        async move {
            cms.list(&lp)
                .await
                .unwrap()
                .items
                .into_iter()
                .map(|c| c.metadata.name.unwrap())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(names("app=web").await, ["web"]);
    assert_eq!(names("app!=web").await, ["db", "plain"]);
    assert_eq!(names("app in (web,db)").await, ["db", "web"]);
    assert_eq!(names("app notin (web)").await, ["db", "plain"]);
    assert_eq!(names("!app").await, ["plain"]);
    assert_eq!(names("app,tier==front").await, ["web"]);

    let by_name = cms
        .list(&ListParams::default().fields("metadata.name=db"))
        .await
        .unwrap();
    assert_eq!(by_name.items.len(), 1);
    let all: Api<ConfigMap> = Api::all(client);
    let outside_default = all
        .list(&ListParams::default().fields("metadata.namespace!=default"))
        .await
        .unwrap();
    assert!(outside_default.items.is_empty());

    let err = cms
        .list(&ListParams::default().labels("app in web"))
        .await
        .unwrap_err();
    assert_eq!(
        (status_code(&err), reason(&err).as_str()),
        (400, "BadRequest")
    );
    let err = cms
        .list(&ListParams::default().fields("data.key=value"))
        .await
        .unwrap_err();
    assert_eq!(status_code(&err), 400);
}

#[tokio::test]
async fn a_cluster_wide_list_spans_namespaces_and_omits_item_kinds_for_builtins() {
    let server = server().await;
    let client = client(&server).await;
    namespace(&client, "other").await;
    for ns in ["default", "other"] {
        Api::<ConfigMap>::namespaced(client.clone(), ns)
            .create(&PostParams::default(), &configmap("x", &[]))
            .await
            .unwrap();
    }
    let ar = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("", "v1", "ConfigMap"),
        "configmaps",
    );
    let all: Api<DynamicObject> = Api::all_with(client, &ar);
    let list = all.list(&ListParams::default()).await.unwrap();
    let keys: Vec<(String, String)> = list
        .items
        .iter()
        .map(|o| {
            (
                o.metadata.namespace.clone().unwrap(),
                o.metadata.name.clone().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        keys,
        [
            ("default".to_string(), "x".to_string()),
            ("other".to_string(), "x".to_string())
        ]
    );
    assert!(
        list.items[0].types.is_none(),
        "typed lists omit apiVersion/kind on items"
    );
}

#[tokio::test]
async fn create_conflicts_when_the_name_exists_and_generate_name_invents_one() {
    let server = server().await;
    let cms: Api<ConfigMap> = Api::default_namespaced(client(&server).await);
    cms.create(&PostParams::default(), &configmap("dup", &[]))
        .await
        .unwrap();
    let err = cms
        .create(&PostParams::default(), &configmap("dup", &[]))
        .await
        .unwrap_err();
    assert_eq!(
        (status_code(&err), reason(&err).as_str()),
        (409, "AlreadyExists")
    );

    let mut generated = configmap("", &[]);
    generated.metadata.name = None;
    generated.metadata.generate_name = Some("gen-".into());
    let created = cms
        .create(&PostParams::default(), &generated)
        .await
        .unwrap();
    let name = created.metadata.name.unwrap();
    assert!(name.starts_with("gen-") && name.len() == 9, "{name}");

    let mut bad = configmap("Not_Valid", &[]);
    bad.metadata.name = Some("Not_Valid".into());
    let err = cms.create(&PostParams::default(), &bad).await.unwrap_err();
    assert_eq!((status_code(&err), reason(&err).as_str()), (422, "Invalid"));
}

#[tokio::test]
async fn creating_in_a_namespace_that_does_not_exist_is_not_found() {
    let server = server().await;
    let cms: Api<ConfigMap> = Api::namespaced(client(&server).await, "nowhere");
    let err = cms
        .create(&PostParams::default(), &configmap("a", &[]))
        .await
        .unwrap_err();
    assert_eq!(status_code(&err), 404);
    match err {
        kube::Error::Api(status) => assert_eq!(status.message, "namespaces \"nowhere\" not found"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn replace_with_a_stale_resource_version_is_a_409_conflict() {
    let server = server().await;
    let cms: Api<ConfigMap> = Api::default_namespaced(client(&server).await);
    let original = cms
        .create(&PostParams::default(), &configmap("a", &[]))
        .await
        .unwrap();
    let mut first = original.clone();
    first.data = Some([("key".to_string(), "first".to_string())].into());
    let replaced = cms
        .replace("a", &PostParams::default(), &first)
        .await
        .unwrap();
    assert_ne!(
        replaced.metadata.resource_version,
        original.metadata.resource_version
    );
    assert_eq!(replaced.metadata.uid, original.metadata.uid);

    let mut stale = original.clone();
    stale.data = Some([("key".to_string(), "stale".to_string())].into());
    let err = cms
        .replace("a", &PostParams::default(), &stale)
        .await
        .unwrap_err();
    assert_eq!(
        (status_code(&err), reason(&err).as_str()),
        (409, "Conflict")
    );

    let err = cms
        .replace(
            "missing",
            &PostParams::default(),
            &configmap("missing", &[]),
        )
        .await
        .unwrap_err();
    assert_eq!(status_code(&err), 404);
}

#[tokio::test]
async fn a_no_op_update_keeps_the_resource_version() {
    let server = server().await;
    let cms: Api<ConfigMap> = Api::default_namespaced(client(&server).await);
    let created = cms
        .create(&PostParams::default(), &configmap("a", &[]))
        .await
        .unwrap();
    let rv = server.store().current_resource_version();
    let same = cms
        .replace("a", &PostParams::default(), &created)
        .await
        .unwrap();
    assert_eq!(
        same.metadata.resource_version,
        created.metadata.resource_version
    );
    assert_eq!(server.store().current_resource_version(), rv);
}

fn deployment() -> Deployment {
    serde_json::from_value(json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [
                    {"name": "app", "image": "app:1", "env": [{"name": "A", "value": "1"}]},
                    {"name": "sidecar", "image": "side:1"},
                ]},
            },
        },
    }))
    .unwrap()
}

fn images(d: &Deployment) -> Vec<(String, Option<String>)> {
    d.spec
        .as_ref()
        .unwrap()
        .template
        .spec
        .as_ref()
        .unwrap()
        .containers
        .iter()
        .map(|c| (c.name.clone(), c.image.clone()))
        .collect()
}

#[tokio::test]
async fn strategic_merge_patches_merge_containers_by_name_and_merge_patches_replace_lists() {
    let server = server().await;
    let deploys: Api<Deployment> = Api::default_namespaced(client(&server).await);
    let created = deploys
        .create(&PostParams::default(), &deployment())
        .await
        .unwrap();
    assert_eq!(created.metadata.generation, Some(1));

    let patched = deploys
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Strategic(json!({"spec": {"template": {"spec": {"containers": [
                {"name": "app", "image": "app:2"}
            ]}}}})),
        )
        .await
        .unwrap();
    assert_eq!(
        images(&patched),
        [
            ("app".into(), Some("app:2".into())),
            ("sidecar".into(), Some("side:1".into()))
        ]
    );
    let app = &patched
        .spec
        .as_ref()
        .unwrap()
        .template
        .spec
        .as_ref()
        .unwrap()
        .containers[0];
    assert_eq!(app.env.as_ref().unwrap()[0].name, "A", "env is kept");
    assert_eq!(patched.metadata.generation, Some(2));

    let merged = deploys
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"template": {"spec": {"containers": [
                {"name": "app", "image": "app:3"}
            ]}}}})),
        )
        .await
        .unwrap();
    assert_eq!(images(&merged), [("app".into(), Some("app:3".into()))]);

    let labelled = deploys
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"x": "y"}}})),
        )
        .await
        .unwrap();
    assert_eq!(
        labelled.metadata.generation,
        Some(3),
        "metadata changes do not bump generation"
    );
}

#[tokio::test]
async fn json_patches_apply_rfc_6902_operations_and_a_failed_test_is_rejected() {
    let server = server().await;
    let client = client(&server).await;
    let cms: Api<ConfigMap> = Api::default_namespaced(client.clone());
    cms.create(&PostParams::default(), &configmap("a", &[]))
        .await
        .unwrap();
    let send = |ops: Value| {
        let client = client.clone();
        async move {
            let request = http::Request::patch("/api/v1/namespaces/default/configmaps/a")
                .header("Content-Type", "application/json-patch+json")
                .body(serde_json::to_vec(&ops).unwrap())
                .unwrap();
            client.request::<ConfigMap>(request).await
        }
    };
    let patched = send(json!([
        {"op": "test", "path": "/data/key", "value": "value"},
        {"op": "add", "path": "/data/other", "value": "x"},
        {"op": "replace", "path": "/data/key", "value": "changed"},
    ]))
    .await
    .unwrap();
    let data = patched.data.unwrap();
    assert_eq!(
        (data["key"].as_str(), data["other"].as_str()),
        ("changed", "x")
    );
    let err = send(json!([{"op": "test", "path": "/data/key", "value": "nope"}]))
        .await
        .unwrap_err();
    assert_eq!(status_code(&err), 422);
}

#[tokio::test]
async fn server_side_apply_creates_then_conflicts_with_another_manager_unless_forced() {
    let server = server().await;
    let cms: Api<ConfigMap> = Api::default_namespaced(client(&server).await);
    let config = |value: &str| {
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "applied"},
               "data": {"key": value}})
    };
    let created = cms
        .patch(
            "applied",
            &PatchParams::apply("first"),
            &Patch::Apply(config("1")),
        )
        .await
        .unwrap();
    assert_eq!(created.data.unwrap()["key"], "1");
    let err = cms
        .patch(
            "applied",
            &PatchParams::apply("second"),
            &Patch::Apply(config("2")),
        )
        .await
        .unwrap_err();
    assert_eq!(status_code(&err), 409);
    let forced = cms
        .patch(
            "applied",
            &PatchParams::apply("second").force(),
            &Patch::Apply(config("2")),
        )
        .await
        .unwrap();
    assert_eq!(forced.data.unwrap()["key"], "2");
    let managers: Vec<String> = forced
        .metadata
        .managed_fields
        .unwrap()
        .into_iter()
        .map(|m| format!("{}/{}", m.manager.unwrap(), m.operation.unwrap()))
        .collect();
    assert_eq!(
        managers,
        ["second/Apply"],
        "the first manager lost its only field"
    );
}

#[tokio::test]
async fn delete_removes_at_once_without_finalizers_and_waits_for_them_otherwise() {
    let server = server().await;
    let cms: Api<ConfigMap> = Api::default_namespaced(client(&server).await);
    cms.create(&PostParams::default(), &configmap("plain", &[]))
        .await
        .unwrap();
    let deleted = cms.delete("plain", &DeleteParams::default()).await.unwrap();
    assert!(deleted.is_left());
    assert!(cms.get_opt("plain").await.unwrap().is_none());

    let mut held = configmap("held", &[]);
    held.metadata.finalizers = Some(vec!["example.com/hold".into()]);
    cms.create(&PostParams::default(), &held).await.unwrap();
    cms.delete("held", &DeleteParams::default()).await.unwrap();
    let terminating = cms.get("held").await.unwrap();
    assert!(terminating.metadata.deletion_timestamp.is_some());
    cms.patch(
        "held",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": null}})),
    )
    .await
    .unwrap();
    assert!(cms.get_opt("held").await.unwrap().is_none());
    let err = cms
        .delete("held", &DeleteParams::default())
        .await
        .unwrap_err();
    assert_eq!(status_code(&err), 404);
}

#[tokio::test]
async fn a_dry_run_create_validates_without_storing() {
    let server = server().await;
    let cms: Api<ConfigMap> = Api::default_namespaced(client(&server).await);
    let rv = server.store().current_resource_version();
    let pp = PostParams {
        dry_run: true,
        ..PostParams::default()
    };
    let answered = cms.create(&pp, &configmap("dry", &[])).await.unwrap();
    assert_eq!(answered.metadata.name.as_deref(), Some("dry"));
    assert!(cms.get_opt("dry").await.unwrap().is_none());
    assert_eq!(server.store().current_resource_version(), rv);
}

const WIDGET_CRD: &str = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget, shortNames: [wd]}
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}}
    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
"#;

#[tokio::test]
async fn a_status_subresource_separates_spec_writes_from_status_writes() {
    let server = fake_apiserver::FakeApiServer::builder()
        .seed_yaml(WIDGET_CRD)
        .start()
        .await
        .unwrap();
    let ar = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("example.com", "v1", "Widget"),
        "widgets",
    );
    let widgets: Api<DynamicObject> = Api::default_namespaced_with(client(&server).await, &ar);
    let obj: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"},
        "spec": {"size": 1}, "status": {"phase": "Ignored"},
    }))
    .unwrap();
    let created = widgets.create(&PostParams::default(), &obj).await.unwrap();
    assert!(
        created.data.get("status").is_none(),
        "status is dropped on create"
    );

    let main = widgets
        .patch(
            "w",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"size": 2}, "status": {"phase": "Main"}})),
        )
        .await
        .unwrap();
    assert_eq!(main.data["spec"]["size"], 2);
    assert!(
        main.data.get("status").is_none(),
        "the main endpoint ignores status"
    );
    assert_eq!(main.metadata.generation, Some(2));

    let status = widgets
        .patch_status(
            "w",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"size": 3}, "status": {"phase": "Ready"}})),
        )
        .await
        .unwrap();
    assert_eq!(status.data["status"]["phase"], "Ready");
    assert_eq!(
        status.data["spec"]["size"], 2,
        "the status endpoint ignores spec"
    );
    assert_eq!(
        status.metadata.generation,
        Some(2),
        "status writes do not bump generation"
    );
}

#[tokio::test]
async fn an_application_without_a_status_subresource_takes_status_through_the_main_endpoint() {
    let server = fake_apiserver::FakeApiServer::builder()
        .seed_yaml(APPLICATION_CRD)
        .seed_yaml(SAMPLE_APPLICATION)
        .start()
        .await
        .unwrap();
    let ar = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("argoproj.io", "v1alpha1", "Application"),
        "applications",
    );
    let apps: Api<DynamicObject> = Api::namespaced_with(client(&server).await, "argo-cd", &ar);
    let patched = apps
        .patch(
            "velero-test",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"sync": {"status": "OutOfSync"}}})),
        )
        .await
        .unwrap();
    assert_eq!(patched.data["status"]["sync"]["status"], "OutOfSync");
    let err = apps
        .patch_status(
            "velero-test",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {}})),
        )
        .await
        .unwrap_err();
    assert_eq!(status_code(&err), 404);
    let err = apps
        .patch(
            "velero-test",
            &PatchParams::default(),
            &Patch::Strategic(json!({"spec": {}})),
        )
        .await
        .unwrap_err();
    assert_eq!(
        status_code(&err),
        415,
        "strategic merge is not supported for custom resources"
    );
}

#[tokio::test]
async fn the_scale_subresource_reads_and_sets_replicas() {
    let server = server().await;
    let deploys: Api<Deployment> = Api::default_namespaced(client(&server).await);
    deploys
        .create(&PostParams::default(), &deployment())
        .await
        .unwrap();
    let scale = deploys.get_scale("web").await.unwrap();
    assert_eq!(scale.spec.unwrap().replicas, Some(1));
    assert_eq!(scale.status.unwrap().selector.as_deref(), Some("app=web"));
    let scaled = deploys
        .patch_scale(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 4}})),
        )
        .await
        .unwrap();
    assert_eq!(scaled.spec.unwrap().replicas, Some(4));
    let deployment = deploys.get("web").await.unwrap();
    assert_eq!(deployment.spec.unwrap().replicas, Some(4));
    assert_eq!(deployment.metadata.generation, Some(2));
}
