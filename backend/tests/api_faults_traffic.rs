//! The API server failing the way a busy one does (issue 19), while reporters post changes and
//! heartbeats, a viewer polls status and an app drifts: bursts of 429 and 503 with `Retry-After`
//! on every write of the project's resources, slow answers to every request, and a 410 storm
//! (watches dropped again and again with their history compacted, so each resume needs a relist).
//! Answers keep coming, nothing acknowledged is lost, writes resume, the watches catch up — no
//! restart. Fake API server only: these faults cannot be ordered from a real one. (kube's client
//! retries 429/503/504 itself, honouring `Retry-After`; what it gives up on is ours.)
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod common;

use common::reporters::Traffic;
use common::{TestApp, app_header, create_app, eventually};
use fake_apiserver::{FaultRule, RequestMatch, Verb};
use serde_json::{Value, json};
use std::time::Duration;
use testenv::TestCluster;

const REPORTS: &str = "driftreports.argocd-drift.io";
const HISTORIES: &str = "drifthistories.argocd-drift.io";

/// Writes `name`'s status as Argo CD's controller would.
async fn set_status(cluster: &TestCluster, name: &str, status: Value) {
    common::patch_app_status(cluster, "argocd", name, status).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_slow_answers_and_a_410_storm_lose_nothing_acknowledged() {
    let cluster = TestCluster::fake().await.unwrap();
    cluster.apply_fixtures("demo").await.unwrap();
    let fake = cluster.fake_server().unwrap();
    let app = TestApp::ready(
        &cluster,
        &[
            ("REPORTS_INSECURE_NO_AUTH", "true"),
            ("REPORT_CONTENT_WRITE_SECONDS", "0"),
            ("REPORT_HEARTBEAT_WRITE_SECONDS", "1"),
            ("LOG_LEVEL", "info"),
        ],
    )
    .await;
    create_app(&cluster, "under-fire", "default").await;
    set_status(
        &cluster,
        "under-fire",
        json!({"sync": {"status": "Synced", "revision": "r1"}}),
    )
    .await;
    let payments = app_header(&cluster, "argocd", "payments-api");
    let under_fire = app_header(&cluster, "argocd", "under-fire");
    let traffic = Traffic::start(app.reports, "faults", 3);
    let history = || async {
        app.get_as("/api/v1/history", &under_fire, "default", &[])
            .await
            .json()
    };
    let play = async {
        traffic.progress(20).await;

        // 1. Throttled: every write of reports and histories answered 429, then 503, each with
        //    Retry-After, while an app turns OutOfSync.
        for status in [429, 503] {
            for resource in [REPORTS, HISTORIES] {
                fake.faults().fail_requests(
                    FaultRule::status(status)
                        .resource(resource)
                        .retry_after(1)
                        .times(4),
                );
            }
        }
        set_status(
            &cluster,
            "under-fire",
            json!({"sync": {"status": "OutOfSync"}}),
        )
        .await;
        traffic.changes(1).await;
        // The episode that started under throttling is stored once writes go through.
        eventually(Duration::from_secs(30), || async {
            let h = history().await;
            h["record"]["state"] == "stored" && h["current"].is_object()
        })
        .await
        .expect("the episode begun while writes were throttled was never stored");

        // 2. Slow: every request answered 1 s late, 20 of them.
        fake.faults()
            .delay(RequestMatch::any().times(40), Duration::from_millis(1500));
        traffic.changes(1).await;

        // 3. A 410 storm: the watches cut ten times, the history compacted each time, and the
        //    app changing in between; then the last change must show.
        for round in 0..10 {
            fake.faults().drop_watches();
            fake.faults().compact();
            set_status(
                &cluster,
                "under-fire",
                json!({"health": {"status": if round % 2 == 0 { "Degraded" } else { "Progressing" }}}),
            )
            .await;
        }
        set_status(
            &cluster,
            "under-fire",
            json!({"health": {"status": "Healthy"}}),
        )
        .await;
        fake.faults().clear();
        eventually(Duration::from_secs(30), || async {
            app.status(&under_fire, "default").await.json()["health"]["status"] == "Healthy"
        })
        .await
        .expect("the watch never caught up after the 410 storm");
        // And writes still go through after all of it.
        traffic.changes(1).await;
        traffic.halt();
    };
    tokio::join!(traffic.view(&app, &payments, "team-payments"), play);
    traffic.finish(&cluster).await;

    // Each fault was met: throttled writes and relists after the storm.
    let text = app.metrics().await;
    let lists = format!(
        r#"argocd_drift_watch_lists_total{{resource="applications",scope="{}"}}"#,
        cluster.ns("argocd")
    );
    assert!(
        common::metric(&text, &lists).unwrap_or(0.0) >= 2.0,
        "no relist after the 410 storm"
    );
    assert!(
        fake.faults()
            .request_log()
            .iter()
            .any(|r| r.status == 429 && r.verb != Verb::Get),
        "no write was throttled"
    );
}
