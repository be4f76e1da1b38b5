//! The real kube-apiserver restarted under load (issue 19): reporters post changes and
//! heartbeats and a viewer polls an app's status while `real-kube.sh restart-apiserver` stops the
//! API server and starts it again on the same address (etcd and its data kept).
//!
//! - every report the backend acknowledged (200) is stored afterwards with its latest content —
//!   heartbeats acknowledged during the outage included (they are written behind);
//! - the viewer's answers keep coming (the last known data, never an error);
//! - the backend recovers without a restart: writes resume and its watches are live again (an
//!   app's status changed after the restart shows up).
//!
//! Only a real server restarts for real, and every test of the process would see the outage: this
//! is its own test binary, run by `make test-real` after the suites sharing the server.
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod common;

use common::reporters::Traffic;
use common::{TestApp, app_header};
use kube::api::{Patch, PatchParams};
use serde_json::json;
use testenv::TestCluster;

const REPORTERS: usize = 3;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "restarts the real API server: make test-real"]
async fn a_restarted_api_server_loses_no_acknowledged_report_and_the_backend_recovers_by_itself() {
    let cluster = TestCluster::real().await.unwrap();
    cluster.apply_fixtures("demo").await.unwrap();
    let app = TestApp::ready(
        &cluster,
        &[
            ("REPORTS_INSECURE_NO_AUTH", "true"),
            // Changes written before their 200; heartbeats written behind (within 1 s).
            ("REPORT_CONTENT_WRITE_SECONDS", "0"),
            ("REPORT_HEARTBEAT_WRITE_SECONDS", "1"),
            ("LOG_LEVEL", "info"),
        ],
    )
    .await;
    let payments = app_header(&cluster, "argocd", "payments-api");
    let traffic = Traffic::start(app.reports, "restart", REPORTERS);
    let play = async {
        traffic.progress(30).await;
        cluster.restart_apiserver().await.unwrap();
        // Writes resume on the restarted server: every reporter has two more changes stored.
        traffic.changes(2).await;
        traffic.halt();
    };
    tokio::join!(traffic.view(&app, &payments, "team-payments"), play);
    // Every acknowledged post is stored, with its latest content and its latest heartbeat (those
    // acknowledged while the server was away were written once it was back); the viewer was
    // answered throughout.
    traffic.finish(&cluster).await;

    // Its watches are live again: a status change made after the restart shows up.
    common::applications(cluster.client().await.unwrap(), &cluster.ns("argocd"))
        .patch(
            "payments-api",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"health": {"status": "Degraded"}}})),
        )
        .await
        .unwrap();
    app.wait_for_status(
        &payments,
        "team-payments",
        "/health/status",
        json!("Degraded"),
    )
    .await
    .unwrap();
}
