//! Applications and drift histories by the thousand, for the scale benchmark
//! (`examples/history_load.rs`, `make bench-scale`) and the scale smoke test (`tests/scale.rs`):
//! apps with `n` resources each, and the record of an app that drifted hourly for days.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)] // test data: a panic is the report

use drift_core::app::AppKey;
use drift_core::history::Record;
use drift_core::history::model::{
    DriftCause, End, EndCause, Episode, Involved, OperationMark, Start, to_object,
};
use serde_json::{Value, json};

/// Where the Applications live.
pub const NS: &str = "argocd";
/// Where the backend (and its `DriftHistory` objects) lives.
pub const OWN_NS: &str = "argocd-drift";
/// Episodes in a seeded record (the default `HISTORY_MAX_EPISODES`).
pub const KEEP: usize = 100;

pub fn app_name(i: usize) -> String {
    format!("app-{i:05}")
}

/// The kinds an app's resources cycle through: (group, version, kind, name suffix).
pub const KINDS: [(&str, &str, &str, &str); 10] = [
    ("apps", "v1", "Deployment", ""),
    ("", "v1", "Service", ""),
    ("", "v1", "ConfigMap", "-config"),
    ("networking.k8s.io", "v1", "Ingress", ""),
    ("autoscaling", "v2", "HorizontalPodAutoscaler", ""),
    ("", "v1", "ServiceAccount", ""),
    ("rbac.authorization.k8s.io", "v1", "Role", "-reader"),
    ("rbac.authorization.k8s.io", "v1", "RoleBinding", "-reader"),
    ("policy", "v1", "PodDisruptionBudget", ""),
    ("", "v1", "Secret", "-tls"),
];

/// An app's `status.resources`: `n` rows cycling through [`KINDS`] (the first is the one that
/// drifts), each object named after the app.
pub fn resources(i: usize, drifting: bool, n: usize) -> Value {
    let rows: Vec<Value> = (0..n)
        .map(|k| {
            let (group, version, kind, suffix) = KINDS[k % KINDS.len()];
            let round = k / KINDS.len();
            let name = if round == 0 {
                format!("{}{suffix}", app_name(i))
            } else {
                format!("{}{suffix}-{round}", app_name(i))
            };
            let mut row = json!({"version": version, "kind": kind,
                "namespace": format!("team-{}", i % 50), "name": name,
                "status": if drifting && k == 0 {"OutOfSync"} else {"Synced"}});
            if !group.is_empty() {
                row["group"] = group.into();
            }
            row
        })
        .collect();
    Value::Array(rows)
}

pub fn status(i: usize, drifting: bool, op_at: &str, n: usize) -> Value {
    json!({
        "sync": {"status": if drifting {"OutOfSync"} else {"Synced"}, "revision": "9f2c1e0b7a4d3c2b1a09f8e7d6c5b4a392817160"},
        "health": {"status": "Healthy"},
        "reconciledAt": "2026-11-29T16:00:00Z",
        "resourceHealthSource": "appTree",
        "resources": resources(i, drifting, n),
        "operationState": {
            "phase": "Succeeded", "startedAt": op_at, "finishedAt": op_at,
            "operation": {"initiatedBy": {"automated": true}, "sync": {"revision": "9f2c1e0b7a4d3c2b1a09f8e7d6c5b4a392817160"}}
        }
    })
}

pub fn application(i: usize, n: usize) -> Value {
    json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": app_name(i), "namespace": NS, "uid": format!("{i:08x}-0000-4000-8000-000000000000")},
        "spec": {
            "project": format!("team-{}", i % 50),
            "destination": {"server": "https://kubernetes.default.svc", "namespace": format!("team-{}", i % 50)},
            "source": {"repoURL": "https://git.example.com/apps.git", "path": app_name(i), "targetRevision": "HEAD"},
            "syncPolicy": {"automated": {"selfHeal": true}}
        },
        "status": status(i, false, "2026-11-01T00:00:00Z", n)
    })
}

/// An app's record after drifting hourly for days: its last 100 episodes, each with the
/// Deployment a drift request found changed by `kubectl-edit`.
pub fn record(i: usize, now: jiff::Timestamp) -> Record {
    let episodes = (0..KEEP)
        .map(|k| {
            let hours_ago = (KEEP - k) as i64;
            let start = now
                .checked_sub(jiff::SignedDuration::from_hours(hours_ago))
                .unwrap();
            let end = start
                .checked_add(jiff::SignedDuration::from_secs(300))
                .unwrap();
            Episode {
                id: format!("{i:08x}-{}", 2 * k + 1),
                start: Start {
                    at: start,
                    version: (2 * k + 1).to_string(),
                    witnessed: true,
                    inferred: false,
                    revision: Some("9f2c1e0b7a4d3c2b1a09f8e7d6c5b4a392817160".into()),
                    operation: Some(OperationMark {
                        started_at: "2026-11-01T00:00:00Z".into(),
                        running: false,
                    }),
                },
                end: Some(End {
                    at: end,
                    version: (2 * k + 2).to_string(),
                    witnessed: true,
                    cause: EndCause::AutomatedSync,
                    user: None,
                    operation_phase: Some("Succeeded".into()),
                    revision: Some("9f2c1e0b7a4d3c2b1a09f8e7d6c5b4a392817160".into()),
                }),
                resources: vec![Involved {
                    group: "apps".into(),
                    kind: "Deployment".into(),
                    namespace: format!("team-{}", i % 50),
                    name: app_name(i),
                    cause: Some(DriftCause::LiveChanged),
                    fields: vec!["spec.replicas".into()],
                    managers: vec!["kubectl-edit".into()],
                }],
                detail_trimmed: false,
            }
        })
        .collect();
    Record {
        episodes,
        pruned: None,
    }
}

pub fn history_object(i: usize, now: jiff::Timestamp) -> Value {
    let mut o = to_object(&AppKey::new(NS, app_name(i)), &record(i, now));
    o["apiVersion"] = "argocd-drift.io/v1alpha1".into();
    o["kind"] = "DriftHistory".into();
    o["metadata"]["namespace"] = OWN_NS.into();
    o
}
