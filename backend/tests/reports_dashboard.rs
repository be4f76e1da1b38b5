//! The Grafana dashboard (`dashboards/argocd-drift-reports.json`) against a real `/status.json`:
//! argocd-drift serves reports on a test cluster, every panel's URL is fetched from it, and
//! `dashboards/test/evaluate.mjs` runs the panels' queries with npm `jsonata` and
//! `jsonpath-plus` — the libraries Grafana's Infinity data source uses. The rows and columns a
//! user would see are asserted here. So are the old dashboards' queries the issue quotes
//! (rows `$[?(@.drift_count > 0)]`, a column `$join(files.name, ', ')`).
//!
//! Needs Node 20 and `npm ci --prefix dashboards` (`make test` runs it).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use http::Method;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, PostParams};
use serde_json::{Value, json};

fn ago(secs: i64) -> String {
    let t = jiff::Timestamp::now().as_second() - secs;
    jiff::Timestamp::from_second(t).unwrap().to_string()
}

#[tokio::test]
async fn the_dashboard_shows_the_expected_rows_and_columns() {
    let (cluster, app) = demo(&[("REPORTS_INSECURE_NO_AUTH", "true")]).await;
    let guestbook = format!("{}:guestbook", cluster.ns("argocd"));
    let lc = [ago(300), ago(200), ago(100)];
    let reports = [
        (
            "/api/status",
            json!({"repo": "rsyslog", "server": "lab-1", "sync_status": "OUT_OF_SYNC", "drift_count": 2,
            "files": [{"name": "a.conf"}, {"name": "b.conf"}], "last_check": lc[0]}),
        ),
        (
            "/api/status",
            json!({"repo": "rsyslog", "server": "lab-2", "sync_status": "SYNCED", "drift_count": 0,
            "files": [], "last_check": lc[1]}),
        ),
        (
            "/api/v1/reports",
            json!({"repo": "nginx", "server": "web-1", "sync_status": "OUT_OF_SYNC", "drift_count": 1,
            "files": [{"name": "nginx.conf", "state": "changed"}], "last_check": lc[2], "application": guestbook}),
        ),
    ];
    for (path, report) in &reports {
        let r = app
            .on_reports(Method::POST, path, None, &report.to_string())
            .await;
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    }
    // Written by a reporter with kubectl two hours ago: stale, and with no files.
    let stale_check = ago(7200);
    let object: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "argocd-drift.io/v1alpha1", "kind": "DriftReport",
        "metadata": {"name": "chrony-ntp-1", "namespace": cluster.ns("argocd")},
        "spec": {"repo": "chrony", "server": "ntp-1", "syncStatus": "OUT_OF_SYNC", "driftCount": 1,
            "lastCheck": stale_check}
    }))
    .unwrap();
    let resource = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("argocd-drift.io", "v1alpha1", "DriftReport"),
        "driftreports",
    );
    Api::<DynamicObject>::namespaced_with(
        cluster.client().await.unwrap(),
        &cluster.ns("argocd"),
        &resource,
    )
    .create(&PostParams::default(), &object)
    .await
    .unwrap();
    eventually(std::time::Duration::from_secs(15), || async {
        let r = app.on_reports(Method::GET, "/status.json", None, "").await;
        r.json().as_array().is_some_and(|rows| rows.len() == 4)
    })
    .await
    .unwrap();

    let dashboard: Value = serde_json::from_str(
        &std::fs::read_to_string(dashboards_dir().join("argocd-drift-reports.json")).unwrap(),
    )
    .unwrap();
    let fetch = |repo: &'static str| {
        let app = &app;
        let dashboard = &dashboard;
        async move {
            let mut bodies = serde_json::Map::new();
            for panel in dashboard["panels"].as_array().unwrap() {
                let url = panel["targets"][0]["url"].as_str().unwrap();
                let path = url.replace("${reports_url}", "").replace("${repo}", repo);
                let r = app.on_reports(Method::GET, &path, None, "").await;
                assert_eq!(r.status, 200, "{path}");
                bodies.insert(panel["id"].to_string(), r.json());
            }
            Value::Object(bodies)
        }
    };
    let legacy = app
        .on_reports(Method::GET, "/status.json", None, "")
        .await
        .json();

    // Every report.
    let out = evaluate_dashboard("argocd-drift-reports.json", &fetch("").await, &legacy);
    let panels = &out["panels"];
    assert_eq!(
        panels["1"]["columns"],
        json!(["Reports", "Out of sync", "Stale"])
    );
    assert_eq!(panels["1"]["rows"], json!([[4, 3, 1]]));
    assert_eq!(
        panels["2"]["columns"],
        json!([
            "Repo",
            "Server",
            "Drift",
            "Files",
            "Last check",
            "Stale",
            "Argo CD apps"
        ])
    );
    assert_eq!(
        panels["2"]["rows"],
        json!([
            ["chrony", "ntp-1", 1, "", stale_check, true, ""],
            ["nginx", "web-1", 1, "nginx.conf", lc[2], false, guestbook],
            ["rsyslog", "lab-1", 2, "a.conf, b.conf", lc[0], false, ""],
        ])
    );
    let all = panels["3"]["rows"].as_array().unwrap();
    let keys: Vec<String> = all
        .iter()
        .map(|r| {
            format!(
                "{}:{}:{}",
                r[0].as_str().unwrap(),
                r[1].as_str().unwrap(),
                r[2].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        keys,
        [
            "chrony:ntp-1:OUT_OF_SYNC",
            "nginx:web-1:OUT_OF_SYNC",
            "rsyslog:lab-1:OUT_OF_SYNC",
            "rsyslog:lab-2:SYNCED"
        ]
    );
    assert_eq!(all[2][4], 2, "files_count");
    assert_eq!(
        all[0][6], stale_check,
        "updated_at of a report written by hand is its last_check"
    );

    // The old dashboards' queries keep working on the new /status.json.
    assert_eq!(
        out["legacy"]["rows"],
        json!(["chrony:ntp-1", "nginx:web-1", "rsyslog:lab-1"])
    );
    assert_eq!(
        out["legacy"]["files"],
        json!([null, "nginx.conf", "a.conf, b.conf"])
    );

    // One repo (the dashboard's variable): a single row is still a row.
    let out = evaluate_dashboard("argocd-drift-reports.json", &fetch("nginx").await, &legacy);
    assert_eq!(out["panels"]["1"]["rows"], json!([[1, 1, 0]]));
    assert_eq!(
        out["panels"]["2"]["rows"],
        json!([["nginx", "web-1", 1, "nginx.conf", lc[2], false, guestbook]])
    );
    assert_eq!(out["panels"]["3"]["rows"].as_array().unwrap().len(), 1);
}
