//! An API server that is overloaded, slow or forgetful (issue 19), on the fake: 429/503 bursts
//! with `Retry-After`, 410 storms with slow relists, report writes refused. During each, answers
//! keep coming (marked `stale` when the data is old), the backend recovers without a restart, and
//! nothing it acknowledged is lost: every report or heartbeat that got 200 is stored afterwards,
//! and history writes resume.
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod common;

use common::{TestApp, app_header, eventually, eventually_some, patch_app_status};
use fake_apiserver::{FaultRule, RequestMatch, Verb};
use http::Method;
use serde_json::json;
use std::time::{Duration, Instant};
use testenv::TestCluster;

const APPS: &str = "applications";

async fn demo_on_fake(env: &[(&str, &str)]) -> (TestCluster, TestApp) {
    let cluster = TestCluster::fake().await.unwrap();
    cluster.apply_fixtures("demo").await.unwrap();
    let app = TestApp::ready(&cluster, env).await;
    (cluster, app)
}

#[tokio::test]
async fn a_429_burst_is_waited_out_as_retry_after_says_with_stale_answers_then_recovery() {
    let (cluster, app) = demo_on_fake(&[]).await;
    let fake = cluster.fake_server().unwrap();
    let payments = app_header(&cluster, "argocd", "payments-api");

    // Overloaded: every watch of Applications is refused, "come back in 2 s".
    fake.faults().fail_requests(
        FaultRule::status(429)
            .verb(Verb::Watch)
            .resource(APPS)
            .retry_after(2),
    );
    fake.faults().clear_request_log();
    let cut = Instant::now();
    fake.faults().drop_watches();

    // Answers keep coming, from the last known data, marked stale.
    eventually(Duration::from_secs(10), || async {
        let r = app.status(&payments, "team-payments").await;
        r.status == 200 && r.json()["data"]["stale"] == true
    })
    .await
    .expect("answers were not marked stale during the burst");

    // Three refused attempts take at least two Retry-After periods (the backoff alone would
    // make them within a second).
    let ns = cluster.ns("argocd");
    let attempts = || {
        fake.faults()
            .request_log()
            .iter()
            .filter(|r| {
                r.verb == Verb::Watch && r.resource == APPS && r.namespace.as_ref() == Some(&ns)
            })
            .count()
    };
    eventually(Duration::from_secs(15), || async { attempts() >= 3 })
        .await
        .expect("the watch stopped retrying");
    let elapsed = cut.elapsed();
    assert!(
        elapsed >= Duration::from_millis(3800),
        "Retry-After was not honoured: 3 attempts within {elapsed:?}"
    );

    // The burst ends: fresh again, without a restart, and changes flow.
    fake.faults().clear();
    eventually(Duration::from_secs(15), || async {
        app.status(&payments, "team-payments").await.json()["data"]["stale"] == false
    })
    .await
    .expect("never recovered after the burst");
    patch_app_status(
        &cluster,
        "argocd",
        "payments-api",
        json!({"health": {"status": "Degraded"}}),
    )
    .await;
    app.wait_for_status(
        &payments,
        "team-payments",
        "/health/status",
        json!("Degraded"),
    )
    .await
    .expect("changes after the burst are not seen");
}

#[tokio::test]
async fn a_410_storm_with_slow_relists_keeps_answering_and_history_writes_resume() {
    let (cluster, app) = demo_on_fake(&[]).await;
    let fake = cluster.fake_server().unwrap();
    let guestbook = app_header(&cluster, "argocd", "guestbook");
    common::create_app(&cluster, "storm", "default").await;
    patch_app_status(
        &cluster,
        "argocd",
        "storm",
        json!({"sync": {"status": "Synced", "revision": "r1"}}),
    )
    .await;
    let storm = app_header(&cluster, "argocd", "storm");
    app.wait_for_status(&storm, "default", "/sync/status", json!("Synced"))
        .await
        .unwrap();

    // Slow answers: every list takes 300 ms.
    fake.faults().delay(
        RequestMatch::any().verb(Verb::List).resource(APPS),
        Duration::from_millis(300),
    );
    // The storm: history forgotten again and again, each time with the watch cut, so every
    // reconnect is "too old" and only a (slow) relist resumes.
    for round in 0..5 {
        let lists = fake.faults().request_count(Verb::List, APPS);
        // Something changes (so the watches' resourceVersions fall behind), then is forgotten.
        cluster
            .create_objects(vec![json!({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": format!("storm-{round}"), "namespace": "argocd"}})])
            .await
            .unwrap();
        fake.faults().compact();
        fake.faults().drop_watches();
        // Answers keep coming through it.
        let r = app.status(&guestbook, "default").await;
        assert_eq!(r.status, 200, "round {round}: {}", r.json());
        eventually(Duration::from_secs(15), || async {
            fake.faults().request_count(Verb::List, APPS) > lists
        })
        .await
        .unwrap_or_else(|_| panic!("round {round}: no relist after a 410"));
    }
    fake.faults().clear();

    // Recovered without a restart: a turn is seen, and written to history.
    patch_app_status(
        &cluster,
        "argocd",
        "storm",
        json!({"sync": {"status": "OutOfSync", "revision": "r2"}}),
    )
    .await;
    app.wait_for_status(&storm, "default", "/sync/status", json!("OutOfSync"))
        .await
        .expect("a change after the storm is not seen");
    assert_eq!(
        app.status(&storm, "default").await.json()["data"]["stale"],
        false
    );
    let h = eventually_some(Duration::from_secs(15), || async {
        let h = app
            .get_as("/api/v1/history", &storm, "default", &[])
            .await
            .json();
        (h["episodes"].as_array().map_or(0, Vec::len) == 1).then_some(h)
    })
    .await
    .expect("history writes did not resume after the storm");
    assert_eq!(h["episodes"][0]["startWitnessed"], true, "{h}");
}

/// The stored `DriftReport`'s `(driftCount, lastCheck)` for `repo`.
async fn stored(cluster: &TestCluster, repo: &str) -> Option<(u64, String)> {
    common::reporters::stored(cluster).await.remove(repo)
}

fn report(drift: u64, last_check: jiff::Timestamp) -> String {
    json!({"repo": "burst", "server": "lab", "sync_status": "OUT_OF_SYNC",
        "drift_count": drift, "files": [], "last_check": last_check.to_string()})
    .to_string()
}

#[tokio::test]
async fn a_503_burst_on_report_writes_loses_nothing_acknowledged() {
    let (cluster, app) = demo_on_fake(&[
        ("REPORTS_INSECURE_NO_AUTH", "true"),
        ("REPORT_CONTENT_WRITE_SECONDS", "0"),
        ("REPORT_HEARTBEAT_WRITE_SECONDS", "1"),
    ])
    .await;
    let fake = cluster.fake_server().unwrap();
    let post = |body: String| {
        let app = &app;
        async move {
            app.on_reports(Method::POST, "/api/status", None, &body)
                .await
        }
    };
    let t0 = jiff::Timestamp::from_second(jiff::Timestamp::now().as_second() - 30).unwrap();
    let at = |s: i64| t0.checked_add(jiff::SignedDuration::from_secs(s)).unwrap();
    assert_eq!(post(report(1, at(0))).await.status, 200);
    assert_eq!(
        stored(&cluster, "burst").await,
        Some((1, at(0).to_string()))
    );

    // The API server refuses every report write for a while.
    for verb in [Verb::Create, Verb::Update, Verb::Patch] {
        fake.faults().fail_requests(
            FaultRule::status(503)
                .verb(verb)
                .resource("driftreports")
                .retry_after(1),
        );
    }
    // A change cannot be stored: it is not acknowledged.
    let refused = Instant::now();
    let r = post(report(2, at(1))).await;
    assert_ne!(r.status, 200, "a change was acknowledged but not stored");
    println!(
        "a change during a 503 burst: {} after {:?}",
        r.status,
        refused.elapsed()
    );
    // A heartbeat of the stored content is acknowledged (written behind, retried).
    let r = post(report(1, at(2))).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    // Reads keep being answered.
    let r = app.on_reports(Method::GET, "/status.json", None, "").await;
    assert_eq!(r.status, 200);

    // The burst ends: the acknowledged heartbeat reaches storage, and changes are taken again.
    fake.faults().clear();
    eventually(Duration::from_secs(15), || async {
        stored(&cluster, "burst").await == Some((1, at(2).to_string()))
    })
    .await
    .expect("the acknowledged heartbeat was never stored");
    assert_eq!(post(report(3, at(3))).await.status, 200);
    assert_eq!(
        stored(&cluster, "burst").await,
        Some((3, at(3).to_string()))
    );
}
