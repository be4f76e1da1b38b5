//! Properties of the engine over arbitrary input: it never panics, an object compared with itself
//! has no drift, and Secret values never leave it.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

use drift_core::app::fixtures::mk_resource;
use drift_core::app::{ApplicationSpec, IgnoreDifference};
use drift_core::drift::jq::{JqCache, Unlimited};
use drift_core::drift::secret::leak;
use drift_core::drift::settings::SystemSettings;
use drift_core::drift::view::Cause;
use drift_core::drift::{Inspector, LiveRead, ManagedResource, ResourceInput, quantity};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

const LA: &str = "kubectl.kubernetes.io/last-applied-configuration";

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        (-1e6f64..1e6).prop_map(Value::from),
        "[a-z0-9.:/~-]{0,8}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("spec".to_string()),
                    Just("metadata".to_string()),
                    Just("containers".to_string()),
                    Just("name".to_string()),
                    Just("managedFields".to_string()),
                    Just("f:spec".to_string()),
                    Just("data".to_string()),
                    "[a-z]{1,6}"
                ],
                inner,
                0..5
            )
            .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

fn kinds() -> impl Strategy<Value = (&'static str, &'static str)> {
    prop_oneof![
        Just(("", "ConfigMap")),
        Just(("", "Secret")),
        Just(("apps", "Deployment")),
        Just(("", "Service")),
        Just(("rbac.authorization.k8s.io", "ClusterRole")),
        Just(("", "Endpoints")),
        Just(("apps", "StatefulSet")),
        Just(("argoproj.io", "Rollout")),
        Just(("example.com", "Widget")),
    ]
}

fn spec_with_rules() -> ApplicationSpec {
    ApplicationSpec {
        ignore_differences: vec![IgnoreDifference {
            group: "*".into(),
            kind: "*".into(),
            json_pointers: vec!["/spec/a".into(), "/data/x~1y".into()],
            jq_path_expressions: vec![".spec.containers[]?.name".into(), "..|.name?".into()],
            managed_fields_managers: vec!["kubectl-edit".into()],
            ..Default::default()
        }],
        ..Default::default()
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_desired_and_live_objects_never_panic(
        (group, kind) in kinds(),
        desired in json_value(),
        mut live in json_value(),
        managed in json_value(),
        raw_annotation in any::<bool>(),
    ) {
        let spec = spec_with_rules();
        let system = SystemSettings::default();
        let jq = JqCache::new();
        let inspector = Inspector::new(&spec, &system, &jq).with_secrets(true);
        if let Value::Object(obj) = &mut live {
            let annotation = if raw_annotation { Value::String(desired.to_string()) } else { desired.clone() };
            obj.insert("metadata".into(), json!({"annotations": {LA: annotation}, "managedFields": managed}));
        }
        let mut r = mk_resource(group, kind, "ns", "a");
        r.status = Some("OutOfSync".into());
        let mr = ManagedResource {
            group: group.into(), kind: kind.into(), namespace: "ns".into(), name: "a".into(),
            target_state: Some(desired.clone()), live_state: Some(live.clone()),
            normalized_live_state: Some(live.clone()), predicted_live_state: Some(desired.clone()),
            modified: true,
        };
        for argocd in [None, Some(&mr)] {
            let input = ResourceInput { resource: &r, live: LiveRead::Found(live.clone()), argocd };
            let d = inspector.detail(&input, &mut Unlimited);
            serde_json::to_string(&d).unwrap();
        }
    }

    #[test]
    fn an_object_compared_with_itself_has_no_drift(
        (group, kind) in kinds(),
        body in json_value(),
    ) {
        let spec = spec_with_rules();
        let system = SystemSettings::default();
        let jq = JqCache::new();
        let inspector = Inspector::new(&spec, &system, &jq).with_secrets(true);
        let mut desired = json!({"metadata": {"name": "a"}});
        if let Value::Object(b) = body {
            for (k, v) in b {
                if k != "metadata" {
                    desired[k] = v;
                }
            }
        }
        let mut live = desired.clone();
        live["metadata"]["annotations"] = json!({LA: desired.to_string()});
        let r = mk_resource(group, kind, "ns", "a");
        let d = inspector.inspect(&ResourceInput { resource: &r, live: LiveRead::Found(live), argocd: None }, &mut Unlimited);
        prop_assert_eq!(d.cause, Cause::NoDrift, "{:?}", d.fields);
        prop_assert!(d.fields.is_empty());
    }

    #[test]
    fn secret_values_never_leave_the_engine(
        values in prop::collection::vec("[A-Za-z0-9]{12,20}", 1..4),
        changed in prop::collection::vec("[A-Za-z0-9]{12,20}", 1..4),
        as_string_data in any::<bool>(),
    ) {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD;
        let mut desired = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}});
        for (i, v) in values.iter().enumerate() {
            if as_string_data {
                desired["stringData"][format!("k{i}")] = json!(v);
            } else {
                desired["data"][format!("k{i}")] = json!(b64.encode(v));
            }
        }
        let mut live = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s",
            "annotations": {LA: desired.to_string()},
            "managedFields": [{"manager": "kubectl-edit", "operation": "Update", "fieldsV1": {"f:data": {"f:k0": {}, "f:extra": {}}}}]}});
        for (i, v) in values.iter().enumerate() {
            let now = changed.get(i).unwrap_or(v);
            live["data"][format!("k{i}")] = json!(b64.encode(now));
        }
        live["data"]["extra"] = json!(b64.encode(&changed[0]));
        let spec = ApplicationSpec::default();
        let system = SystemSettings::default();
        let jq = JqCache::new();
        let inspector = Inspector::new(&spec, &system, &jq).with_secrets(true);
        let mut r = mk_resource("", "Secret", "ns", "s");
        r.status = Some("OutOfSync".into());
        let input = ResourceInput { resource: &r, live: LiveRead::Found(live), argocd: None };
        let d = inspector.detail(&input, &mut Unlimited);
        let text = format!("{}{:?}", serde_json::to_string(&d).unwrap(), d);
        let secrets: Vec<&str> = values.iter().chain(&changed).map(String::as_str).collect();
        prop_assert!(leak::find(&text, &secrets).is_none(), "{:?}", leak::find(&text, &secrets));
    }

    #[test]
    fn quantity_canonicalisation_is_idempotent_and_never_panics(s in "[-+]?[0-9]{0,6}(\\.[0-9]{0,4})?(m|k|M|G|Ki|Mi|Gi|e3|E-2|n|u)?") {
        if let Some(c) = quantity::canonical(&s) {
            prop_assert_eq!(quantity::canonical(&c), Some(c.clone()), "{} -> {}", s, c);
        }
    }
}
