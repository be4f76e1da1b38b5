//! The compact forms the backend holds by the thousand give back exactly what was packed: every
//! Application of the demo and of the recordings of a real Argo CD, and every record the
//! replica rules can produce (`history_replicas.rs` checks those as it applies them).
#![allow(clippy::unwrap_used)]

mod common;

use drift_core::app::Application;
use drift_core::compact::CompactApp;
use drift_core::tracking::ObjectVersion;
use serde_json::Value;
use std::path::Path;

fn fixtures() -> Vec<Value> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures");
    let mut apps = Vec::new();
    let text = std::fs::read_to_string(root.join("demo/20-applications.yaml")).unwrap();
    for mut doc in serde_saphyr::from_multiple::<Value>(&text).unwrap() {
        common::expand_times(&mut doc);
        if doc["kind"] == "Application" {
            apps.push(doc);
        }
    }
    for entry in std::fs::read_dir(root.join("argocd-real")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            let recording: Value =
                serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            if recording["application"].is_object() {
                apps.push(recording["application"].clone());
            }
        }
    }
    apps
}

#[test]
fn every_fixture_application_unpacks_to_what_was_packed() {
    let apps = fixtures();
    assert!(apps.len() >= 10, "{} fixtures", apps.len());
    for object in apps {
        let version = ObjectVersion {
            uid: object["metadata"]["uid"].as_str().unwrap_or("").to_string(),
            resource_version: object["metadata"]["resourceVersion"]
                .as_str()
                .unwrap_or("")
                .to_string(),
        };
        let app = Application::from_object(object).unwrap();
        let packed = CompactApp::pack(&app, &version);
        // Only the newest `status.history` entry is kept (all that gitAhead's evidence reads).
        let mut expected = app.clone();
        let newest = expected.status.history.pop();
        expected.status.history = newest.into_iter().collect();
        assert_eq!(
            packed.unpack(&app.key),
            Some((expected, version.clone())),
            "{}",
            app.key
        );
        assert_eq!(packed.sync_status(), app.sync_status());
        assert_eq!(packed.version(), version);
    }
}
