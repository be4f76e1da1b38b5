//! The DriftHistory CRD (`helm/argocd-drift/crds/`) and what argocd-drift writes agree: the
//! schema's bounds are the record's bounds, and the largest record the rules can produce fits
//! the schema — every field it writes is declared (a real API server silently prunes undeclared
//! fields) and within its limits. The real API server checks the same in `make test-real`.
#![allow(clippy::unwrap_used)]

use drift_core::app::AppKey;
use drift_core::history::fixtures::t;
use drift_core::history::model::{
    DriftCause, End, EndCause, Episode, Involved, OperationMark, Pruned, Record, Start, bounds,
    to_object,
};
use drift_core::history::rules::Retention;
use serde_json::Value;

fn crd() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../helm/argocd-drift/crds/drifthistories.argocd-drift.io.yaml"
    );
    let text = std::fs::read_to_string(path).unwrap();
    serde_saphyr::from_str(&text).unwrap()
}

fn schema() -> Value {
    crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"].clone()
}

fn at<'a>(schema: &'a Value, path: &[&str]) -> &'a Value {
    path.iter().fold(schema, |s, p| {
        if *p == "[]" {
            &s["items"]
        } else {
            &s["properties"][*p]
        }
    })
}

#[test]
fn the_schema_states_the_record_bounds() {
    let s = schema();
    let episode = at(&s, &["status", "episodes", "[]"]);
    let resource = at(episode, &["resources", "[]"]);
    for (value, bound) in [
        (
            &at(&s, &["status", "episodes"])["maxItems"],
            bounds::MAX_EPISODES,
        ),
        (
            &at(episode, &["resources"])["maxItems"],
            bounds::MAX_RESOURCES,
        ),
        (&at(resource, &["fields"])["maxItems"], bounds::MAX_FIELDS),
        (
            &at(resource, &["managers"])["maxItems"],
            bounds::MAX_MANAGERS,
        ),
        (
            &at(resource, &["fields", "[]"])["maxLength"],
            bounds::MAX_PATH_CHARS,
        ),
        (
            &at(resource, &["managers", "[]"])["maxLength"],
            bounds::MAX_NAME_CHARS,
        ),
        (
            &at(resource, &["name"])["maxLength"],
            bounds::MAX_NAME_CHARS,
        ),
        (&at(episode, &["id"])["maxLength"], bounds::MAX_ID_CHARS),
        (
            &at(episode, &["start", "version"])["maxLength"],
            bounds::MAX_ID_CHARS,
        ),
        (
            &at(episode, &["end", "user"])["maxLength"],
            bounds::MAX_TEXT_CHARS,
        ),
        (
            &at(episode, &["end", "revision"])["maxLength"],
            bounds::MAX_TEXT_CHARS,
        ),
        (
            &at(&s, &["status", "summary", "episodes"])["maximum"],
            bounds::MAX_EPISODES,
        ),
    ] {
        assert_eq!(value.as_u64(), Some(bound as u64), "{value}");
    }
    let causes: Vec<&str> = EndCause::ALL.iter().map(|c| c.as_str()).collect();
    assert_eq!(
        at(episode, &["end", "cause"])["enum"],
        serde_json::json!(causes)
    );
    assert_eq!(
        at(&s, &["status", "summary", "lastEndCause"])["enum"],
        serde_json::json!(causes)
    );
    let drift: Vec<Value> = [
        DriftCause::LiveChanged,
        DriftCause::GitAhead,
        DriftCause::Missing,
        DriftCause::Extra,
    ]
    .iter()
    .map(|c| serde_json::to_value(c).unwrap())
    .collect();
    assert_eq!(at(resource, &["cause"])["enum"], Value::Array(drift));
}

#[test]
fn the_crd_names_the_kind_the_backend_writes() {
    let c = crd();
    assert_eq!(c["spec"]["group"], "argocd-drift.io");
    assert_eq!(c["spec"]["names"]["kind"], drift_core::history::model::KIND);
    assert_eq!(
        c["spec"]["names"]["plural"],
        drift_core::history::model::PLURAL
    );
    assert_eq!(c["spec"]["versions"][0]["name"], "v1alpha1");
    assert_eq!(c["spec"]["scope"], "Namespaced");
}

/// The largest record the rules keep: every optional field set, every list full, every text
/// at its longest (cut as the rules cut), then retention applied with the default size bound.
fn largest_record(app: &AppKey) -> Record {
    let long = |n: usize| "x".repeat(n + 50);
    let cut = |s: String, n: usize| drift_core::history::model::cut(&s, n);
    let resource = |i: usize| Involved {
        group: cut(long(300), bounds::MAX_NAME_CHARS),
        kind: cut(long(300), bounds::MAX_NAME_CHARS),
        namespace: cut(long(300), bounds::MAX_NAME_CHARS),
        name: cut(format!("{i}{}", long(300)), bounds::MAX_NAME_CHARS),
        cause: Some(DriftCause::LiveChanged),
        fields: (0..bounds::MAX_FIELDS)
            .map(|f| {
                cut(
                    format!("{f}{}", long(bounds::MAX_PATH_CHARS)),
                    bounds::MAX_PATH_CHARS,
                )
            })
            .collect(),
        managers: (0..bounds::MAX_MANAGERS)
            .map(|m| cut(format!("{m}{}", long(300)), bounds::MAX_NAME_CHARS))
            .collect(),
    };
    let text = cut(long(bounds::MAX_TEXT_CHARS), bounds::MAX_TEXT_CHARS);
    let episodes = (0..bounds::MAX_EPISODES)
        .map(|i| {
            let v = 1_000_000_000_000u64 + 2 * i as u64;
            Episode {
                id: format!("4f1c2a9e-{v}"),
                start: Start {
                    at: t(i as i64 * 100),
                    version: v.to_string(),
                    witnessed: true,
                    inferred: i % 2 == 0,
                    revision: Some(text.clone()),
                    operation: Some(OperationMark {
                        started_at: text.clone(),
                        running: true,
                    }),
                },
                end: Some(End {
                    at: t(i as i64 * 100 + 50),
                    version: (v + 1).to_string(),
                    witnessed: true,
                    cause: EndCause::ManualSync,
                    user: Some(text.clone()),
                    operation_phase: Some(text.clone()),
                    revision: Some(text.clone()),
                }),
                resources: (0..bounds::MAX_RESOURCES).map(resource).collect(),
                detail_trimmed: true,
            }
        })
        .collect();
    let mut record = Record {
        episodes,
        pruned: Some(Pruned {
            through_version: "999".into(),
            last_started_at: t(0),
            count: u64::MAX >> 2,
        }),
    };
    record.prune(
        app,
        t(0),
        &Retention {
            max_episodes: bounds::MAX_EPISODES,
            max_age: jiff::SignedDuration::from_hours(24 * 365 * 100),
            ..Retention::default()
        },
    );
    record
}

#[test]
fn the_largest_record_fits_the_schema_and_the_size_bound() {
    let app = AppKey::new("x".repeat(63), "y".repeat(253));
    let record = largest_record(&app);
    assert!(record.check().is_ok());
    let mut object = to_object(&app, &record);
    object["apiVersion"] = "argocd-drift.io/v1alpha1".into();
    object["kind"] = "DriftHistory".into();
    let size = serde_json::to_vec(&object).unwrap().len();
    assert!(size <= bounds::MAX_RECORD_BYTES, "{size} bytes");
    let problems = validate(&schema(), &object, "");
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn the_validator_catches_what_the_api_server_would() {
    let app = AppKey::new("argocd", "a");
    let mut object = to_object(&app, &Record::default());
    object["status"]["surprise"] = true.into();
    object["status"]["summary"]["lastEndCause"] = "magic".into();
    let problems = validate(&schema(), &object, "");
    assert_eq!(problems.len(), 2, "{problems:#?}");
}

/// A structural-schema check of the subset the CRD uses: type, properties (undeclared ones are
/// what the API server prunes), required, items, maxItems, min/maxLength, enum, min/maximum.
fn validate(schema: &Value, value: &Value, path: &str) -> Vec<String> {
    let mut out = Vec::new();
    let ty = schema["type"].as_str().unwrap_or("");
    let ok = match ty {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "boolean" => value.is_boolean(),
        _ => true,
    };
    if !ok {
        return vec![format!("{path}: not {ty}: {value}")];
    }
    if let Some(allowed) = schema["enum"].as_array()
        && !allowed.contains(value)
    {
        out.push(format!("{path}: {value} not in enum"));
    }
    if let Some(s) = value.as_str() {
        let n = s.chars().count() as u64;
        if schema["maxLength"].as_u64().is_some_and(|m| n > m) {
            out.push(format!("{path}: {n} characters"));
        }
        if schema["minLength"].as_u64().is_some_and(|m| n < m) {
            out.push(format!("{path}: too short"));
        }
    }
    if let Some(n) = value.as_i64() {
        if schema["maximum"].as_i64().is_some_and(|m| n > m) {
            out.push(format!("{path}: {n} over maximum"));
        }
        if schema["minimum"].as_i64().is_some_and(|m| n < m) {
            out.push(format!("{path}: {n} under minimum"));
        }
    }
    if let Some(items) = value.as_array() {
        if schema["maxItems"]
            .as_u64()
            .is_some_and(|m| items.len() as u64 > m)
        {
            out.push(format!("{path}: {} items", items.len()));
        }
        for (i, item) in items.iter().enumerate() {
            out.extend(validate(&schema["items"], item, &format!("{path}[{i}]")));
        }
    }
    if let Some(map) = value.as_object()
        && let Some(props) = schema["properties"].as_object()
    {
        for required in schema["required"].as_array().into_iter().flatten() {
            if !map.contains_key(required.as_str().unwrap_or("")) {
                out.push(format!("{path}: {required} missing"));
            }
        }
        for (key, v) in map {
            match props.get(key) {
                Some(s) => out.extend(validate(s, v, &format!("{path}.{key}"))),
                None => out.push(format!("{path}.{key}: not in the schema (pruned)")),
            }
        }
    }
    out
}
