//! `metadata.managedFields` as written by the fake.

use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ManagedFieldsEntry;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

use crate::common::{client, configmap, server};

fn entry<'a>(entries: &'a [ManagedFieldsEntry], manager: &str) -> &'a ManagedFieldsEntry {
    entries
        .iter()
        .find(|e| e.manager.as_deref() == Some(manager))
        .unwrap_or_else(|| panic!("no entry for {manager}: {entries:?}"))
}

fn fields(entry: &ManagedFieldsEntry) -> Value {
    entry.fields_v1.as_ref().unwrap().0.clone()
}

#[tokio::test]
async fn a_patch_by_a_second_manager_takes_ownership_of_the_changed_field_only() {
    let server = server().await;
    let cms: Api<ConfigMap> = Api::default_namespaced(client(&server).await);
    let mut cm = configmap("owned", &[("app", "web")]);
    cm.data = Some(
        [
            ("a".to_string(), "1".to_string()),
            ("b".to_string(), "2".to_string()),
        ]
        .into(),
    );
    let pp = PostParams {
        field_manager: Some("creator".into()),
        ..PostParams::default()
    };
    let created = cms.create(&pp, &cm).await.unwrap();
    let entries = created.metadata.managed_fields.unwrap();
    assert_eq!(entries.len(), 1);
    let creator = entry(&entries, "creator");
    assert_eq!(creator.operation.as_deref(), Some("Update"));
    assert_eq!(creator.api_version.as_deref(), Some("v1"));
    assert_eq!(creator.fields_type.as_deref(), Some("FieldsV1"));
    assert!(creator.time.is_some());
    assert_eq!(
        fields(creator),
        json!({"f:data": {".": {}, "f:a": {}, "f:b": {}},
               "f:metadata": {"f:labels": {".": {}, "f:app": {}}}})
    );

    let patched = cms
        .patch(
            "owned",
            &PatchParams {
                field_manager: Some("editor".into()),
                ..PatchParams::default()
            },
            &Patch::Merge(json!({"data": {"a": "changed"}})),
        )
        .await
        .unwrap();
    let entries = patched.metadata.managed_fields.unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(
        fields(entry(&entries, "creator")),
        json!({"f:data": {".": {}, "f:b": {}}, "f:metadata": {"f:labels": {".": {}, "f:app": {}}}})
    );
    assert_eq!(
        fields(entry(&entries, "editor")),
        json!({"f:data": {"f:a": {}}})
    );
}

#[tokio::test]
async fn without_a_field_manager_the_user_agent_prefix_names_the_manager() {
    let server = server().await;
    let client = client(&server).await;
    let request = http::Request::post("/api/v1/namespaces/default/configmaps")
        .header("Content-Type", "application/json")
        .header(
            "User-Agent",
            "kubectl-edit/v1.33.0 (linux/amd64) kubernetes/abc",
        )
        .body(serde_json::to_vec(&configmap("ua", &[])).unwrap())
        .unwrap();
    let created: ConfigMap = client.request(request).await.unwrap();
    let entries = created.metadata.managed_fields.unwrap();
    assert_eq!(entries[0].manager.as_deref(), Some("kubectl-edit"));
}

#[tokio::test]
async fn an_apply_entry_lists_exactly_the_applied_fields() {
    let server = server().await;
    let cms: Api<ConfigMap> = Api::default_namespaced(client(&server).await);
    cms.create(&PostParams::default(), &configmap("mixed", &[]))
        .await
        .unwrap();
    let applied = cms
        .patch(
            "mixed",
            &PatchParams::apply("argocd-controller"),
            &Patch::Apply(json!({"apiVersion": "v1", "kind": "ConfigMap",
                                 "metadata": {"name": "mixed", "labels": {"team": "a"}},
                                 "data": {"extra": "x"}})),
        )
        .await
        .unwrap();
    let entries = applied.metadata.managed_fields.unwrap();
    assert_eq!(entries[0].manager.as_deref(), Some("argocd-controller"));
    assert_eq!(entries[0].operation.as_deref(), Some("Apply"));
    assert_eq!(
        fields(&entries[0]),
        json!({"f:data": {"f:extra": {}}, "f:metadata": {"f:labels": {"f:team": {}}}})
    );
    assert_eq!(
        applied.data.unwrap()["key"],
        "value",
        "fields of other managers stay"
    );
}

#[tokio::test]
async fn seeded_objects_keep_their_managed_fields_as_written() {
    let server = fake_apiserver::FakeApiServer::builder()
        .seed_objects(vec![json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "seeded", "namespace": "default", "managedFields": [{
                "manager": "helm", "operation": "Update", "apiVersion": "v1",
                "time": "2024-01-01T00:00:00Z", "fieldsType": "FieldsV1",
                "fieldsV1": {"f:data": {"f:whatever": {}}},
            }]},
            "data": {"key": "value"},
        })])
        .start()
        .await
        .unwrap();
    let cms: Api<ConfigMap> = Api::default_namespaced(client(&server).await);
    let cm = cms.get("seeded").await.unwrap();
    let entries = cm.metadata.managed_fields.unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(fields(&entries[0]), json!({"f:data": {"f:whatever": {}}}));
}
