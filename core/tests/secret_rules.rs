//! Ignore rules on Secrets (issue 17, low 10): whoever may edit an app's `ignoreDifferences`
//! must not be able to read a Secret value through the verdict, one guess at a time.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use drift_core::app::fixtures::mk_resource;
use drift_core::app::{ApplicationSpec, IgnoreDifference};
use drift_core::drift::jq::{JqCache, Unlimited};
use drift_core::drift::settings::SystemSettings;
use drift_core::drift::view::ResourceDrift;
use drift_core::drift::{Inspector, LiveRead, ResourceInput};
use serde_json::{Value, json};

const LA: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// The changed fields of a Secret whose password differs between Git and live (both start with
/// `c3Vw`), under one jq ignore rule.
fn changed_under(rule: &str) -> Vec<String> {
    let spec = ApplicationSpec {
        ignore_differences: vec![IgnoreDifference {
            kind: "Secret".into(),
            jq_path_expressions: vec![rule.into()],
            ..Default::default()
        }],
        ..Default::default()
    };
    let system = SystemSettings::default();
    let jq = JqCache::new();
    let desired = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "namespace": "ns"},
                         "data": {"password": "c3VwZXItc2VjcmV0LXB3"}});
    let mut live = desired.clone();
    live["metadata"]["annotations"][LA] = Value::String(desired.to_string());
    live["data"]["password"] = json!("c3VwZXItZGlmZmVyZW50");
    let mut r = mk_resource("", "Secret", "ns", "db");
    r.status = Some("OutOfSync".into());
    let drift: ResourceDrift = Inspector::new(&spec, &system, &jq)
        .with_secrets(true)
        .inspect(
            &ResourceInput {
                resource: &r,
                live: LiveRead::Found(live),
                argocd: None,
            },
            &mut Unlimited,
        );
    drift.fields.iter().map(|f| f.pointer.clone()).collect()
}

#[test]
fn a_predicate_on_a_secret_value_cannot_tell_a_right_guess_from_a_wrong_one() {
    let right = changed_under(r#".data.password | select(startswith("c3Vw"))"#);
    let wrong = changed_under(r#".data.password | select(startswith("eHh4"))"#);
    assert_eq!(right, wrong, "the verdict must not depend on the value");
    assert_eq!(right, ["/data/password"]);
    let by_length = changed_under(r#".data.password | select(length > 10)"#);
    assert_eq!(by_length, ["/data/password"]);
}

#[test]
fn a_rule_by_path_still_ignores_a_secret_key() {
    assert!(changed_under(".data.password").is_empty());
    assert!(changed_under(r#".data | .["password"]"#).is_empty());
}
