//! The fleet dashboard (`dashboards/argocd-drift-fleet.json`): its Infinity query runs on a real
//! `/api/v1/fleet` through `dashboards/test/evaluate.mjs` (npm `jsonata`, as Grafana's Infinity
//! data source), and every PromQL expression is evaluated by Prometheus's own promtool on
//! synthetic series (`dashboards/test/fleet.promql.test.yaml`).
//!
//! Needs Node 20 and `npm ci --prefix dashboards`, and promtool (`testenv/promtool.sh`, built and
//! cached on first use); `make test-unit` provides both.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{applications, create_app, dashboards_dir, demo, evaluate_dashboard, eventually_some};
use http::Method;
use kube::api::{Patch, PatchParams};
use serde_json::{Value, json};
use std::path::Path;
use std::time::Duration;

fn dashboard() -> Value {
    serde_json::from_str(
        &std::fs::read_to_string(dashboards_dir().join("argocd-drift-fleet.json")).unwrap(),
    )
    .unwrap()
}

#[tokio::test]
async fn the_drifting_apps_table_shows_each_app_with_since_managers_and_last_end() {
    let (cluster, app) = demo(&[("REPORTS_INSECURE_NO_AUTH", "true")]).await;
    let argocd = cluster.ns("argocd");
    create_app(&cluster, "checkout", "shop-prod").await;
    let apps = applications(cluster.client().await.unwrap(), &argocd);
    let op = |user: &str, at: &str| {
        json!({"sync": {"status": "Synced", "revision": "r1"}, "operationState": {
            "phase": "Succeeded", "startedAt": at, "finishedAt": at,
            "operation": {"initiatedBy": {"username": user}, "sync": {"revision": "r1"}}}})
    };
    for status in [
        op("alice", "2026-02-01T00:00:00Z"),
        json!({"sync": {"status": "OutOfSync"}}),
        op("bob", "2026-02-02T00:00:00Z"),
        json!({"sync": {"status": "OutOfSync"}}),
    ] {
        apps.patch(
            "checkout",
            &PatchParams::default(),
            &Patch::Merge(json!({ "status": status })),
        )
        .await
        .unwrap();
    }
    let checkout = format!("{argocd}:checkout");
    let d = dashboard();
    let table = d["panels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["title"] == "Drifting apps")
        .unwrap();
    let id = table["id"].to_string();
    let fetch = |project: &'static str| {
        let app = &app;
        let url = table["targets"][0]["url"].as_str().unwrap().to_string();
        async move {
            let path = url
                .replace("${reports_url}", "")
                .replace("${project}", project);
            let r = app.on_reports(Method::GET, &path, None, "").await;
            assert_eq!(r.status, 200, "{path}");
            r.json()
        }
    };
    let body = eventually_some(Duration::from_secs(20), || async {
        let body: Value = fetch("").await;
        let listed = body["apps"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["application"] == checkout && a["lastEnd"].is_string());
        listed.then_some(body)
    })
    .await
    .unwrap();
    let legacy = app
        .on_reports(Method::GET, "/status.json", None, "")
        .await
        .json();
    let out = evaluate_dashboard(
        "argocd-drift-fleet.json",
        &json!({ id.clone(): body }),
        &legacy,
    );
    let panel = &out["panels"][&id];
    assert_eq!(
        panel["columns"],
        json!([
            "App",
            "Project",
            "Destination",
            "Since",
            "Witnessed",
            "Managers",
            "Manager class",
            "Resources",
            "Last end"
        ])
    );
    let rows = panel["rows"].as_array().unwrap();
    let row = rows.iter().find(|r| r[0] == checkout).unwrap();
    assert_eq!(row[1], "shop-prod");
    assert_eq!(row[2], "https://kubernetes.default.svc");
    assert_eq!(row[4], true);
    assert_eq!(row[5], "", "no managers known yet");
    assert_eq!(row[6], "unknown");
    assert_eq!(row[8], "synced by bob");
    let payments = rows
        .iter()
        .find(|r| r[0] == format!("{argocd}:payments-api"))
        .unwrap();
    assert_eq!(payments[1], "team-payments");
    assert!(payments[7].as_f64().unwrap() >= 1.0, "{payments}");

    // The project variable narrows it; a single app is still a row.
    let out = evaluate_dashboard(
        "argocd-drift-fleet.json",
        &json!({ id.clone(): fetch("shop-prod").await }),
        &legacy,
    );
    let rows = out["panels"][&id]["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0][0], checkout);
}

#[test]
fn every_promql_expression_of_the_dashboard_passes_promtool_on_synthetic_series() {
    let d = dashboard();
    let tests = dashboards_dir().join("test/fleet.promql.test.yaml");
    let text = std::fs::read_to_string(&tests).unwrap();
    let tested: Vec<&str> = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- expr: "))
        .collect();
    let mut exprs = 0;
    for panel in d["panels"].as_array().unwrap() {
        if panel["datasource"]["type"] != "prometheus" {
            continue;
        }
        for target in panel["targets"].as_array().unwrap() {
            let expr = target["expr"].as_str().unwrap();
            assert!(
                tested.contains(&expr),
                "panel {} ({}): {expr} is not in {}",
                panel["id"],
                panel["title"],
                tests.display()
            );
            exprs += 1;
        }
    }
    assert!(exprs >= 6, "{exprs} expressions");
    let promtool = Path::new(env!("CARGO_MANIFEST_DIR")).join("../testenv/promtool.sh");
    let run = std::process::Command::new(&promtool)
        .args(["test", "rules"])
        .arg(&tests)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
}
