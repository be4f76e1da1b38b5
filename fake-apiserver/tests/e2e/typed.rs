//! What a real kube-apiserver (v1.37.1, observed with the same requests) does to built-in
//! kinds: decode-time defaults owned by `Update` managers but not by `Apply` ones, atomic
//! structs, `status` present from creation, values assigned by storage, generations.

use kube::api::{
    Api, ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams, PostParams,
};
use serde_json::{Value, json};

use crate::common::{client, server};

fn api(client: &kube::Client, api_version: &str, kind: &str) -> Api<DynamicObject> {
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    let resource = ApiResource::from_gvk(&GroupVersionKind::gvk(group, version, kind));
    Api::namespaced_with(client.clone(), "default", &resource)
}

fn manager(manager: &str) -> PostParams {
    PostParams {
        field_manager: Some(manager.into()),
        ..PostParams::default()
    }
}

async fn create(api: &Api<DynamicObject>, by: &str, obj: Value) -> Value {
    let obj: DynamicObject = serde_json::from_value(obj).unwrap();
    serde_json::to_value(api.create(&manager(by), &obj).await.unwrap()).unwrap()
}

async fn replace(api: &Api<DynamicObject>, by: &str, obj: &Value) -> Value {
    let name = obj["metadata"]["name"].as_str().unwrap();
    let typed: DynamicObject = serde_json::from_value(obj.clone()).unwrap();
    serde_json::to_value(api.replace(name, &manager(by), &typed).await.unwrap()).unwrap()
}

/// The fieldsV1 of `manager`'s entry with this operation.
fn fields_of(obj: &Value, manager: &str, operation: &str) -> Value {
    obj["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["manager"] == manager && e["operation"] == operation)
        .unwrap_or_else(|| panic!("no {operation} entry for {manager}: {obj}"))["fieldsV1"]
        .clone()
}

fn deployment(name: &str) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{
                    "name": "app", "image": "registry.example.com/app:1.0",
                    "ports": [{"containerPort": 8080}],
                    "env": [{"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}}],
                }]},
            },
        },
    })
}

#[tokio::test]
async fn a_create_owns_the_defaults_its_object_gained() {
    let server = server().await;
    let deploys = api(&client(&server).await, "apps/v1", "Deployment");
    let created = create(&deploys, "argocd-controller", deployment("web")).await;
    assert_eq!(
        fields_of(&created, "argocd-controller", "Update"),
        json!({"f:spec": {
            "f:progressDeadlineSeconds": {},
            "f:replicas": {},
            "f:revisionHistoryLimit": {},
            "f:selector": {},
            "f:strategy": {
                "f:rollingUpdate": {".": {}, "f:maxSurge": {}, "f:maxUnavailable": {}},
                "f:type": {},
            },
            "f:template": {
                "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
                "f:spec": {
                    "f:containers": {"k:{\"name\":\"app\"}": {
                        ".": {},
                        "f:env": {".": {}, "k:{\"name\":\"PASSWORD\"}": {
                            ".": {}, "f:name": {},
                            "f:valueFrom": {".": {}, "f:secretKeyRef": {}},
                        }},
                        "f:image": {},
                        "f:imagePullPolicy": {},
                        "f:name": {},
                        "f:ports": {".": {}, "k:{\"containerPort\":8080,\"protocol\":\"TCP\"}": {
                            ".": {}, "f:containerPort": {}, "f:protocol": {},
                        }},
                        "f:resources": {},
                        "f:terminationMessagePath": {},
                        "f:terminationMessagePolicy": {},
                    }},
                    "f:dnsPolicy": {},
                    "f:restartPolicy": {},
                    "f:schedulerName": {},
                    "f:securityContext": {},
                    "f:terminationGracePeriodSeconds": {},
                },
            },
        }})
    );
    let spec = &created["spec"];
    assert_eq!(
        spec["strategy"],
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}})
    );
    let container = &spec["template"]["spec"]["containers"][0];
    assert_eq!(container["imagePullPolicy"], "IfNotPresent");
    assert_eq!(container["ports"][0]["protocol"], "TCP");
    assert_eq!(spec["template"]["spec"]["dnsPolicy"], "ClusterFirst");
}

#[tokio::test]
async fn an_apply_owns_only_its_configuration_and_the_object_is_still_defaulted() {
    let server = server().await;
    let deploys = api(&client(&server).await, "apps/v1", "Deployment");
    let config = json!({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "app", "image": "app:latest"}]}}},
    });
    let applied = deploys
        .patch(
            "web",
            &PatchParams::apply("argocd-controller").force(),
            &Patch::Apply(&config),
        )
        .await
        .unwrap();
    let applied = serde_json::to_value(applied).unwrap();
    assert_eq!(
        fields_of(&applied, "argocd-controller", "Apply"),
        json!({"f:spec": {"f:selector": {}, "f:template": {
            "f:metadata": {"f:labels": {"f:app": {}}},
            "f:spec": {"f:containers": {"k:{\"name\":\"app\"}": {
                ".": {}, "f:image": {}, "f:name": {}}}}}}})
    );
    let container = &applied["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["imagePullPolicy"], "Always", "a :latest image");
    assert_eq!(applied["spec"]["revisionHistoryLimit"], 10);
}

#[tokio::test]
async fn a_service_owns_its_defaults_but_not_its_allocated_address() {
    let server = server().await;
    let services = api(&client(&server).await, "v1", "Service");
    let created = create(
        &services,
        "argocd-controller",
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
               "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80}]}}),
    )
    .await;
    assert_eq!(
        fields_of(&created, "argocd-controller", "Update"),
        json!({"f:spec": {
            "f:internalTrafficPolicy": {},
            "f:ports": {".": {}, "k:{\"port\":80,\"protocol\":\"TCP\"}": {
                ".": {}, "f:name": {}, "f:port": {}, "f:protocol": {}, "f:targetPort": {}}},
            "f:selector": {},
            "f:sessionAffinity": {},
            "f:type": {},
        }})
    );
    let ip = created["spec"]["clusterIP"].as_str().unwrap().to_string();
    assert_eq!(created["spec"]["clusterIPs"], json!([ip]));
    assert_eq!(created["spec"]["ports"][0]["targetPort"], 80);
    assert_eq!(created["status"], json!({"loadBalancer": {}}));

    // A PUT that leaves the allocated values out keeps them, and does not own them.
    let mut put = created.clone();
    for field in ["clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"] {
        put["spec"].as_object_mut().unwrap().remove(field);
    }
    put["spec"]["selector"] = json!({"app": "web2"});
    let updated = replace(&services, "putter", &put).await;
    assert_eq!(updated["spec"]["clusterIP"], ip.as_str());
    assert_eq!(
        fields_of(&updated, "putter", "Update"),
        json!({"f:spec": {"f:selector": {}}})
    );
}

#[tokio::test]
async fn owner_references_and_image_pull_secrets_are_owned_item_by_item_as_a_whole() {
    let server = server().await;
    let deploys = api(&client(&server).await, "apps/v1", "Deployment");
    let mut obj = deployment("web");
    obj["metadata"]["ownerReferences"] =
        json!([{"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": "u-1"}]);
    obj["spec"]["template"]["spec"]["imagePullSecrets"] = json!([{"name": "registry"}]);
    let created = create(&deploys, "me", obj).await;
    let fields = fields_of(&created, "me", "Update");
    assert_eq!(
        fields["f:metadata"],
        json!({"f:ownerReferences": {".": {}, "k:{\"uid\":\"u-1\"}": {}}})
    );
    assert_eq!(
        fields["f:spec"]["f:template"]["f:spec"]["f:imagePullSecrets"],
        json!({".": {}, "k:{\"name\":\"registry\"}": {}})
    );
}

#[tokio::test]
async fn status_exists_from_creation_so_the_first_status_update_owns_no_status_node() {
    let server = server().await;
    let deploys = api(&client(&server).await, "apps/v1", "Deployment");
    let created = create(&deploys, "argocd-controller", deployment("web")).await;
    assert_eq!(created["status"], json!({}));
    let mut with_status = created.clone();
    with_status["status"] = json!({"replicas": 1, "conditions": [{"type": "Available",
        "status": "True", "lastUpdateTime": "2026-01-01T00:00:00Z",
        "lastTransitionTime": "2026-01-01T00:00:00Z"}]});
    let typed: DynamicObject = serde_json::from_value(with_status).unwrap();
    let updated = deploys
        .replace_status("web", &manager("kube-controller-manager"), &typed)
        .await
        .unwrap();
    let updated = serde_json::to_value(updated).unwrap();
    let entry = updated["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["subresource"] == "status")
        .unwrap()
        .clone();
    assert_eq!(
        entry["fieldsV1"],
        json!({"f:status": {
            "f:conditions": {".": {}, "k:{\"type\":\"Available\"}": {
                ".": {}, "f:lastTransitionTime": {}, "f:lastUpdateTime": {},
                "f:status": {}, "f:type": {}}},
            "f:replicas": {},
        }})
    );

    let replica_sets = api(&client(&server).await, "apps/v1", "ReplicaSet");
    let mut rs = deployment("rs");
    rs["kind"] = json!("ReplicaSet");
    let created = create(&replica_sets, "me", rs).await;
    assert_eq!(created["status"], json!({"replicas": 0}));
}

#[tokio::test]
async fn a_deployment_generation_moves_with_its_annotations_a_replica_set_does_not() {
    let server = server().await;
    let client = client(&server).await;
    let deploys = api(&client, "apps/v1", "Deployment");
    let mut live = create(&deploys, "me", deployment("web")).await;
    live["metadata"]["annotations"] = json!({"deployment.kubernetes.io/revision": "1"});
    let updated = replace(&deploys, "kube-controller-manager", &live).await;
    assert_eq!(updated["metadata"]["generation"], 2);

    let replica_sets = api(&client, "apps/v1", "ReplicaSet");
    let mut rs = deployment("rs");
    rs["kind"] = json!("ReplicaSet");
    let mut live = create(&replica_sets, "me", rs).await;
    live["metadata"]["annotations"] = json!({"deployment.kubernetes.io/revision": "1"});
    let updated = replace(&replica_sets, "kube-controller-manager", &live).await;
    assert_eq!(updated["metadata"]["generation"], 1);
}

#[tokio::test]
async fn seeded_objects_are_stored_exactly_as_written() {
    let mut seed = deployment("seeded");
    seed["metadata"]["namespace"] = json!("default");
    let server = fake_apiserver::FakeApiServer::builder()
        .seed_objects(vec![seed.clone()])
        .start()
        .await
        .unwrap();
    let stored = server
        .store()
        .get("apps/v1", "Deployment", Some("default"), "seeded")
        .unwrap();
    assert_eq!(stored["spec"], seed["spec"]);
    assert!(stored.get("status").is_none());
}

#[tokio::test]
async fn secret_string_data_becomes_data_owned_by_an_update_but_stays_string_data_for_an_apply() {
    let server = server().await;
    let secrets = api(&client(&server).await, "v1", "Secret");
    let created = create(
        &secrets,
        "me",
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"},
               "stringData": {"a": "x"}, "data": {"b": "eQ=="}}),
    )
    .await;
    assert_eq!(created["data"], json!({"a": "eA==", "b": "eQ=="}));
    assert!(created.get("stringData").is_none());
    assert_eq!(
        fields_of(&created, "me", "Update"),
        json!({"f:data": {".": {}, "f:a": {}, "f:b": {}}, "f:type": {}})
    );
    let applied = secrets
        .patch(
            "db",
            &PatchParams::apply("ssa").force(),
            &Patch::Apply(json!({"apiVersion": "v1", "kind": "Secret",
                                 "metadata": {"name": "db"}, "stringData": {"c": "z"}})),
        )
        .await
        .unwrap();
    let applied = serde_json::to_value(applied).unwrap();
    assert_eq!(
        applied["data"],
        json!({"a": "eA==", "b": "eQ==", "c": "eg=="})
    );
    assert!(applied.get("stringData").is_none());
    assert_eq!(
        fields_of(&applied, "ssa", "Apply"),
        json!({"f:stringData": {"f:c": {}}})
    );
}
