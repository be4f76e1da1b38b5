//! The engine on large objects against `serde_json` parsing the same bytes, in the same run.
//!
//! For each object: `parse` is `serde_json::from_slice::<Value>` of the live object's bytes (what
//! the backend does with every read anyway); `inspect` is the whole engine on the parsed object —
//! parse the last-applied annotation, normalize both sides, diff, attribute from managedFields,
//! find additions, mask — i.e. everything after the read. `detail` adds the deep view (normalized
//! objects, predicted object and the unified text diff). Ratios are in `core/BENCHMARKS.md`.
//!
//! Three more cases load the parts the large objects alone do not: `deployment-ignored` (an ignore
//! rule hides half of 2,000 differences: matching ignored differences to rules),
//! `configmap-managers` (200 field managers each adding 10 keys: additions outside Git, and
//! ownership queries through `k:` list keys) and `deployment-argocd` (the Argo CD source: its
//! normalized and predicted states beside the local record).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark: a panic is the report

use criterion::{Criterion, criterion_group, criterion_main};
use drift_core::app::fixtures::mk_resource;
use drift_core::app::{ApplicationSpec, IgnoreDifference};
use drift_core::drift::jq::{JqCache, Unlimited};
use drift_core::drift::settings::SystemSettings;
use drift_core::drift::{Inspector, LiveRead, ManagedResource, ResourceInput};
use serde_json::{Value, json};
use std::hint::black_box;
use std::time::Duration;

const LA: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// A Deployment with 40 containers of 50 env vars each; a few fields edited live.
fn deployment() -> Value {
    let containers: Vec<Value> = (0..40)
        .map(|c| {
            json!({
                "name": format!("c{c}"),
                "image": format!("registry.example.com/team/app-{c}:1.2.{c}"),
                "args": ["--port=8080", "--verbose"],
                "ports": [{"containerPort": 8080 + c, "name": "http"}],
                "env": (0..50).map(|e| json!({"name": format!("VAR_{c}_{e}"), "value": format!("value-{c}-{e}")})).collect::<Vec<_>>(),
                "resources": {"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "0.5", "memory": "512Mi"}},
                "volumeMounts": [{"name": "data", "mountPath": format!("/data/{c}")}],
            })
        })
        .collect();
    let desired = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "big", "namespace": "ns", "labels": {"app": "big"},
                     "annotations": {"argocd.argoproj.io/tracking-id": "app:apps/Deployment:ns/big"}},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "big"}},
                 "template": {"metadata": {"labels": {"app": "big"}},
                              "spec": {"containers": containers, "volumes": [{"name": "data", "emptyDir": {}}]}}}
    });
    let mut live = desired.clone();
    live["metadata"]["annotations"][LA] = Value::String(desired.to_string());
    live["spec"]["replicas"] = json!(5);
    live["spec"]["template"]["spec"]["containers"][7]["image"] =
        json!("registry.example.com/team/app-7:hotfix");
    live["spec"]["template"]["spec"]["containers"][3]["env"][10]["value"] = json!("changed");
    for c in live["spec"]["template"]["spec"]["containers"]
        .as_array_mut()
        .unwrap()
    {
        c["imagePullPolicy"] = json!("IfNotPresent");
        c["terminationMessagePath"] = json!("/dev/termination-log");
        c["resources"]["requests"]["cpu"] = json!("500m");
        c["ports"][0]["protocol"] = json!("TCP");
    }
    live["metadata"]["managedFields"] = json!([
        {"manager": "argocd-controller", "operation": "Update", "time": "2026-11-20T00:00:00Z",
         "fieldsV1": {"f:spec": {"f:template": {"f:spec": {"f:containers": (0..40).map(|c| (format!("k:{{\"name\":\"c{c}\"}}"), json!({".": {}, "f:image": {}, "f:env": (0..50).map(|e| (format!("k:{{\"name\":\"VAR_{c}_{e}\"}}"), json!({".": {}, "f:name": {}, "f:value": {}}))).collect::<serde_json::Map<_, _>>()}))).collect::<serde_json::Map<_, _>>()}}}}},
        {"manager": "kubectl-edit", "operation": "Update", "time": "2026-11-21T10:00:00Z", "fieldsV1": {"f:spec": {"f:replicas": {}}}},
        {"manager": "kubectl-set", "operation": "Update", "time": "2026-11-21T11:00:00Z",
         "fieldsV1": {"f:spec": {"f:template": {"f:spec": {"f:containers": {"k:{\"name\":\"c7\"}": {"f:image": {}}}}}}}}
    ]);
    live
}

/// A ConfigMap with about 1 MB of data (2,000 keys of 500 bytes); one key edited live.
fn configmap() -> Value {
    let data: serde_json::Map<String, Value> = (0..2000)
        .map(|i| {
            (
                format!("key-{i:04}"),
                Value::String(format!("{i:04}").repeat(125)),
            )
        })
        .collect();
    let desired = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "big", "namespace": "ns"}, "data": data});
    let mut live = desired.clone();
    live["metadata"]["annotations"] = json!({LA: desired.to_string()});
    live["data"]["key-0042"] = json!("edited");
    live["metadata"]["managedFields"] = json!([
        {"manager": "argocd-controller", "operation": "Update", "time": "2026-11-20T00:00:00Z", "fieldsV1": {"f:data": {}}},
        {"manager": "kubectl-edit", "operation": "Update", "time": "2026-11-21T10:00:00Z", "fieldsV1": {"f:data": {"f:key-0042": {}}}}
    ]);
    live
}

/// A custom resource of nested lists and maps (~1 MB); a few items changed live.
fn custom_resource() -> Value {
    let routes: Vec<Value> = (0..1500)
        .map(|i| {
            json!({"name": format!("route-{i}"), "match": {"path": format!("/api/v{}/items/{i}", i % 7), "methods": ["GET", "POST"]},
                   "backends": [{"service": format!("svc-{i}"), "port": 8080, "weight": 50}, {"service": format!("svc-{i}-canary"), "port": 8080, "weight": 50}],
                   "retries": {"attempts": 3, "perTryTimeout": "2s"}, "headers": {"x-route": format!("{i}")}})
        })
        .collect();
    let desired = json!({"apiVersion": "example.com/v1", "kind": "Router", "metadata": {"name": "big", "namespace": "ns"},
                         "spec": {"routes": routes, "defaults": {"timeout": "30s"}}});
    let mut live = desired.clone();
    live["metadata"]["annotations"] = json!({LA: desired.to_string()});
    live["spec"]["routes"][100]["backends"][0]["weight"] = json!(90);
    live["spec"]["routes"][900]["retries"]["attempts"] = json!(5);
    live["status"] =
        json!({"observedGeneration": 4, "conditions": [{"type": "Ready", "status": "True"}]});
    live["metadata"]["managedFields"] = json!([
        {"manager": "argocd-controller", "operation": "Update", "time": "2026-11-20T00:00:00Z", "fieldsV1": {"f:spec": {"f:routes": {}, "f:defaults": {"f:timeout": {}}}}},
        {"manager": "kubectl-patch", "operation": "Update", "time": "2026-11-21T10:00:00Z", "fieldsV1": {"f:spec": {"f:routes": {}}}}
    ]);
    live
}

/// The Deployment with every env value changed live; the app ignores the odd-numbered ones.
fn deployment_ignored() -> Value {
    let mut live = deployment();
    for c in live["spec"]["template"]["spec"]["containers"]
        .as_array_mut()
        .unwrap()
    {
        for e in c["env"].as_array_mut().unwrap() {
            e["value"] = json!(format!("{}-live", e["value"].as_str().unwrap()));
        }
    }
    live
}

fn ignore_odd_env() -> ApplicationSpec {
    ApplicationSpec {
        ignore_differences: vec![IgnoreDifference {
            group: "apps".into(),
            kind: "Deployment".into(),
            jq_path_expressions: vec![
                r#".spec.template.spec.containers[].env[] | select(.name | test("[13579]$")) | .value"#
                    .into(),
            ],
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// A ConfigMap of 200 keys from Git and 2,000 more that 200 managers added live (10 each).
fn configmap_managers() -> Value {
    let data: serde_json::Map<String, Value> = (0..200)
        .map(|i| (format!("git-{i:03}"), json!(format!("v{i}"))))
        .collect();
    let desired = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "big", "namespace": "ns"}, "data": data});
    let mut live = desired.clone();
    live["metadata"]["annotations"] = json!({LA: desired.to_string()});
    live["data"]["git-007"] = json!("edited");
    let mut entries = vec![
        json!({"manager": "argocd-controller", "operation": "Update", "time": "2026-11-20T00:00:00Z",
        "fieldsV1": {"f:data": (0..200).map(|i| (format!("f:git-{i:03}"), json!({}))).collect::<serde_json::Map<_, _>>()}}),
    ];
    for m in 0..200 {
        let mut owned = serde_json::Map::new();
        for k in 0..10 {
            let key = format!("added-{m:03}-{k}");
            live["data"][&key] = json!("x");
            owned.insert(format!("f:{key}"), json!({}));
        }
        entries.push(
            json!({"manager": format!("injector-{m}"), "operation": "Update",
            "time": "2026-11-21T00:00:00Z", "fieldsV1": {"f:data": owned}}),
        );
    }
    live["metadata"]["managedFields"] = Value::Array(entries);
    live
}

/// Argo CD's managed-resources item for the Deployment: live, and live with Git's values.
fn argocd_item(live: &Value) -> ManagedResource {
    let mut normalized = live.clone();
    normalized["metadata"]
        .as_object_mut()
        .unwrap()
        .remove("managedFields");
    let mut predicted = normalized.clone();
    predicted["spec"]["replicas"] = json!(3);
    predicted["spec"]["template"]["spec"]["containers"][7]["image"] =
        json!("registry.example.com/team/app-7:1.2.7");
    ManagedResource {
        group: "apps".into(),
        kind: "Deployment".into(),
        namespace: "ns".into(),
        name: "big".into(),
        target_state: None,
        live_state: Some(live.clone()),
        normalized_live_state: Some(normalized),
        predicted_live_state: Some(predicted),
        modified: true,
    }
}

fn bench(c: &mut Criterion) {
    let plain = ApplicationSpec::default();
    let ignoring = ignore_odd_env();
    let system = SystemSettings::default();
    let jq = JqCache::new();
    let dep = deployment();
    let item = argocd_item(&dep);
    for (name, group, kind, live, spec, argocd) in [
        (
            "deployment",
            "apps",
            "Deployment",
            dep.clone(),
            &plain,
            None,
        ),
        ("configmap-1mb", "", "ConfigMap", configmap(), &plain, None),
        (
            "custom-resource",
            "example.com",
            "Router",
            custom_resource(),
            &plain,
            None,
        ),
        (
            "deployment-ignored",
            "apps",
            "Deployment",
            deployment_ignored(),
            &ignoring,
            None,
        ),
        (
            "configmap-managers",
            "",
            "ConfigMap",
            configmap_managers(),
            &plain,
            None,
        ),
        (
            "deployment-argocd",
            "apps",
            "Deployment",
            dep,
            &plain,
            Some(&item),
        ),
    ] {
        let inspector = Inspector::new(spec, &system, &jq).with_secrets(true);
        let bytes = serde_json::to_vec(&live).unwrap();
        let mut r = mk_resource(group, kind, "ns", "big");
        r.status = Some("OutOfSync".into());
        let input = ResourceInput {
            resource: &r,
            live: LiveRead::Found(live),
            argocd,
        };
        let check = inspector.inspect(&input, &mut Unlimited);
        assert!(!check.fields.is_empty(), "{name}: the fixture must drift");
        eprintln!(
            "{name}: {} bytes, {} drifted fields, {} ignored, {} additions",
            bytes.len(),
            check.fields.len(),
            check.ignored.len(),
            check.additions.len()
        );
        let mut g = c.benchmark_group(name);
        g.bench_function("parse", |b| {
            b.iter(|| serde_json::from_slice::<Value>(black_box(&bytes)).unwrap())
        });
        g.bench_function("inspect", |b| {
            b.iter(|| inspector.inspect(black_box(&input), &mut Unlimited))
        });
        g.bench_function("detail", |b| {
            b.iter(|| inspector.detail(black_box(&input), &mut Unlimited))
        });
        g.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
