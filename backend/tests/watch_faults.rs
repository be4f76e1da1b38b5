//! How the Application watch behaves when the API server misbehaves. Fake API server only: these
//! faults cannot be ordered from a real one.
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod common;

use common::{
    TestApp, app_header, applications, eventually, eventually_some, metric, patch_app_status,
};
use fake_apiserver::{FaultRule, RequestMatch, Verb};
use kube::api::{Patch, PatchParams};
use serde_json::json;
use std::time::Duration;
use testenv::TestCluster;
use testenv::http::get;

const APPS: &str = "applications";

async fn demo_on_fake() -> (TestCluster, TestApp) {
    let cluster = TestCluster::fake().await.unwrap();
    cluster.apply_fixtures("demo").await.unwrap();
    let app = TestApp::ready(&cluster, &[]).await;
    (cluster, app)
}

#[tokio::test]
async fn requests_are_answered_from_the_index_without_calling_the_api_server() {
    let (cluster, app) = demo_on_fake().await;
    let fake = cluster.fake_server().unwrap();
    fake.faults().clear_request_log();
    let guestbook = app_header(&cluster, "argocd", "guestbook");
    for _ in 0..20 {
        assert_eq!(app.status(&guestbook, "default").await.status, 200);
    }
    assert_eq!(fake.faults().request_count(Verb::Get, APPS), 0);
    assert_eq!(fake.faults().request_count(Verb::List, APPS), 0);
}

#[tokio::test]
async fn readiness_waits_for_the_first_full_list() {
    let cluster = TestCluster::fake().await.unwrap();
    cluster.apply_fixtures("demo").await.unwrap();
    let fake = cluster.fake_server().unwrap();
    // The first list of every watched namespace fails twice, then succeeds.
    fake.faults().fail_requests(
        FaultRule::status(500)
            .verb(Verb::List)
            .resource(APPS)
            .times(2),
    );
    let app = TestApp::spawn(&cluster, &[]).await;
    let r = get(app.service, "/readyz", &[]).await.unwrap();
    assert_eq!(r.status, 503);
    assert_eq!(r.json()["code"], "NOT_READY");
    app.wait_ready().await;
    let r = get(app.service, "/readyz", &[]).await.unwrap();
    assert_eq!(
        (r.status.as_u16(), r.json()["status"].as_str()),
        (200, Some("ok"))
    );
    assert_eq!(get(app.service, "/healthz", &[]).await.unwrap().status, 200);
}

#[tokio::test]
async fn a_request_during_start_up_waits_for_the_first_list_instead_of_a_false_404() {
    let cluster = TestCluster::fake().await.unwrap();
    cluster.apply_fixtures("demo").await.unwrap();
    let fake = cluster.fake_server().unwrap();
    fake.faults().delay(
        RequestMatch::any().verb(Verb::List).resource(APPS).times(2),
        Duration::from_millis(800),
    );
    let app = TestApp::spawn(&cluster, &[]).await;
    // The list is still held back: the request below really has to wait for it.
    let r = get(app.service, "/readyz", &[]).await.unwrap();
    assert_eq!(r.status, 503, "ready before the first list");
    let r = app
        .status(&app_header(&cluster, "argocd", "guestbook"), "default")
        .await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn a_request_that_outlives_start_up_gets_not_ready_with_retry_after() {
    let cluster = TestCluster::fake().await.unwrap();
    cluster.apply_fixtures("demo").await.unwrap();
    cluster
        .fake_server()
        .unwrap()
        .faults()
        .fail_requests(FaultRule::status(500).verb(Verb::List).resource(APPS));
    let app = TestApp::spawn(&cluster, &[("REQUEST_TIMEOUT_SECONDS", "1")]).await;
    let r = app
        .status(&app_header(&cluster, "argocd", "guestbook"), "default")
        .await;
    assert_eq!(r.status, 503);
    assert_eq!(r.json()["code"], "NOT_READY");
    assert_eq!(r.header("retry-after"), Some("1"));
}

#[tokio::test]
async fn an_expired_resource_version_leads_to_a_relist_that_catches_up() {
    let (cluster, app) = demo_on_fake().await;
    let fake = cluster.fake_server().unwrap();
    let client = cluster.client().await.unwrap();
    let apps = applications(client, &cluster.ns("argocd"));
    let monitoring = app_header(&cluster, "argocd", "monitoring");
    let guestbook = app_header(&cluster, "argocd", "guestbook");
    let lists_before = fake.faults().request_count(Verb::List, APPS);
    let lists_series = format!(
        r#"argocd_drift_watch_lists_total{{resource="applications",scope="{}"}}"#,
        cluster.ns("argocd")
    );
    let counted_before = metric(&app.metrics().await, &lists_series).unwrap();

    // Cut the watch and keep it from reconnecting while the cluster changes…
    fake.faults()
        .fail_requests(FaultRule::status(500).verb(Verb::Watch).resource(APPS));
    fake.faults().drop_watches();
    apps.delete("monitoring", &Default::default())
        .await
        .unwrap();
    apps.patch(
        "guestbook",
        &PatchParams::default(),
        &Patch::Merge(json!({"status": {"health": {"status": "Degraded"}}})),
    )
    .await
    .unwrap();
    // …then forget the history, so resuming from the old resourceVersion is impossible.
    fake.faults().compact();
    fake.faults().clear();

    eventually(Duration::from_secs(15), || async {
        app.status(&monitoring, "default").await.status == 404
    })
    .await
    .expect("the deletion during the outage was never noticed");
    let s = app.status(&guestbook, "default").await.json();
    assert_eq!(s["health"]["status"], "Degraded");
    assert_eq!(s["data"]["stale"], false);
    assert!(
        fake.faults().request_count(Verb::List, APPS) > lists_before,
        "no relist happened"
    );
    let counted_after = metric(&app.metrics().await, &lists_series).unwrap();
    assert!(
        counted_after > counted_before,
        "the relist was not counted: {counted_before} → {counted_after}"
    );
}

#[tokio::test]
async fn an_unreachable_api_server_marks_answers_stale_and_recovery_clears_it() {
    let (cluster, app) = demo_on_fake().await;
    let fake = cluster.fake_server().unwrap();
    let payments = app_header(&cluster, "argocd", "payments-api");

    fake.faults().set_down(true);
    let stale_since = eventually_some(Duration::from_secs(10), || async {
        let r = app.status(&payments, "team-payments").await;
        let s = r.json();
        // Still the last known answer, not an error.
        let stale =
            r.status == 200 && s["data"]["stale"] == true && s["sync"]["status"] == "OutOfSync";
        stale
            .then(|| s["data"]["staleSince"].as_str().map(str::to_string))
            .flatten()
    })
    .await
    .expect("answers were never marked stale");
    assert!(stale_since.parse::<jiff::Timestamp>().is_ok());
    assert!(app.metrics().await.contains(&format!(
        r#"argocd_drift_watch_stale{{resource="applications",scope="{}"}} 1"#,
        cluster.ns("argocd")
    )));
    // Readiness is kept: the last known data beats none.
    assert_eq!(get(app.service, "/readyz", &[]).await.unwrap().status, 200);

    fake.faults().set_down(false);
    eventually(Duration::from_secs(15), || async {
        app.status(&payments, "team-payments").await.json()["data"]["stale"] == false
    })
    .await
    .expect("never recovered from the outage");

    // And the watch is live again: a change shows up.
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
    .expect("changes after recovery are not seen");
}

#[tokio::test]
async fn a_malformed_watch_line_does_not_lose_events() {
    let (cluster, app) = demo_on_fake().await;
    let fake = cluster.fake_server().unwrap();
    let guestbook = app_header(&cluster, "argocd", "guestbook");

    fake.faults().malformed_watch_line();
    patch_app_status(
        &cluster,
        "argocd",
        "guestbook",
        json!({"health": {"status": "Missing"}}),
    )
    .await;
    app.wait_for_status(&guestbook, "default", "/health/status", json!("Missing"))
        .await
        .expect("the event after a malformed line was lost");
}

#[tokio::test]
async fn an_unreadable_application_is_skipped_without_hiding_the_others() {
    let cluster = TestCluster::fake().await.unwrap();
    cluster.apply_fixtures("demo").await.unwrap();
    // The fake does not validate against the CRD schema, so it can hold what a buggy writer
    // (or a future Argo CD) might produce.
    let odd = json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": "odd", "namespace": "argocd"},
        "spec": {"project": {"not": "a string"}}
    });
    cluster.create_objects(vec![odd]).await.unwrap();
    let app = TestApp::ready(&cluster, &[]).await;
    assert_eq!(
        app.status(&app_header(&cluster, "argocd", "odd"), "default")
            .await
            .status,
        404
    );
    assert_eq!(
        app.status(&app_header(&cluster, "argocd", "guestbook"), "default")
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn an_api_server_that_stops_answering_is_noticed_and_marked_stale() {
    let cluster = TestCluster::fake().await.unwrap();
    cluster.apply_fixtures("demo").await.unwrap();
    let app = TestApp::ready(&cluster, &[("KUBE_REQUEST_TIMEOUT_SECONDS", "1")]).await;
    let fake = cluster.fake_server().unwrap();
    let payments = app_header(&cluster, "argocd", "payments-api");

    // Accepts connections, never answers a watch: no error, just silence.
    fake.faults().delay(
        RequestMatch::any().verb(Verb::Watch).resource(APPS),
        Duration::from_secs(3600),
    );
    fake.faults().drop_watches();
    eventually(Duration::from_secs(10), || async {
        app.status(&payments, "team-payments").await.json()["data"]["stale"] == true
    })
    .await
    .expect("a silent API server was never noticed");

    fake.faults().clear();
    eventually(Duration::from_secs(15), || async {
        app.status(&payments, "team-payments").await.json()["data"]["stale"] == false
    })
    .await
    .expect("never recovered once the API server answered again");
}

#[tokio::test]
async fn an_application_that_becomes_unreadable_is_no_longer_served() {
    let (cluster, app) = demo_on_fake().await;
    let guestbook = app_header(&cluster, "argocd", "guestbook");
    assert_eq!(app.status(&guestbook, "default").await.status, 200);

    // The fake does not validate against the CRD schema, so it can hold what a buggy writer
    // might produce; the last readable version must not be served as if it were current.
    edit_in_store(&cluster, "guestbook", |obj| {
        obj["spec"]["project"] = json!({"not": "a string"})
    });
    eventually(Duration::from_secs(10), || async {
        app.status(&guestbook, "default").await.status == 404
    })
    .await
    .expect("an unreadable update kept the old version in service");
}

#[tokio::test]
async fn after_an_outage_nothing_is_called_fresh_until_the_missed_changes_are_in() {
    let (cluster, app) = demo_on_fake().await;
    let fake = cluster.fake_server().unwrap();
    let guestbook = app_header(&cluster, "argocd", "guestbook");

    fake.faults().set_down(true);
    eventually(Duration::from_secs(10), || async {
        app.status(&guestbook, "default").await.json()["data"]["stale"] == true
    })
    .await
    .expect("the outage was never noticed");

    // Missed while down; and history is gone, so the reconnecting watch gets 200 then a 410.
    edit_in_store(&cluster, "guestbook", |obj| {
        obj["status"]["health"]["status"] = json!("Degraded")
    });
    fake.faults().compact();
    fake.faults().delay(
        RequestMatch::any().verb(Verb::List).resource(APPS).times(2),
        Duration::from_millis(1500),
    );
    fake.faults().set_down(false);

    // Every answer from recovery until caught up, polled as fast as is reasonable.
    let mut observations = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let s = app.status(&guestbook, "default").await.json();
        let stale = s["data"]["stale"] == true;
        let health = s["health"]["status"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let caught_up = !stale && health == "Degraded";
        observations.push((stale, health));
        if caught_up {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never caught up: {observations:?}"
        );
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    let claimed_fresh_but_old: Vec<_> = observations
        .iter()
        .filter(|(stale, health)| !stale && health != "Degraded")
        .collect();
    assert!(
        claimed_fresh_but_old.is_empty(),
        "pre-outage data was called fresh: {observations:?}"
    );
}

/// Rewrites a fixture Application directly in the fake's store: no HTTP, so it works while the
/// fake plays "down", and no validation, so it can hold what a buggy writer might produce.
fn edit_in_store(cluster: &TestCluster, name: &str, edit: impl FnOnce(&mut serde_json::Value)) {
    let store = cluster.fake_server().unwrap().store();
    let ns = cluster.ns("argocd");
    let mut obj = store
        .get("argoproj.io/v1alpha1", "Application", Some(&ns), name)
        .unwrap();
    edit(&mut obj);
    store.replace(obj).unwrap();
}

#[tokio::test]
async fn a_turn_found_by_a_relist_after_410_gone_was_not_witnessed() {
    let (cluster, app) = demo_on_fake().await;
    let fake = cluster.fake_server().unwrap();
    let apps = applications(cluster.client().await.unwrap(), &cluster.ns("argocd"));
    common::create_app(&cluster, "turns-in-the-gap", "default").await;
    patch_app_status(
        &cluster,
        "argocd",
        "turns-in-the-gap",
        json!({"sync": {"status": "Synced", "revision": "r1"}}),
    )
    .await;
    let header = app_header(&cluster, "argocd", "turns-in-the-gap");
    app.wait_for_status(&header, "default", "/sync/status", json!("Synced"))
        .await
        .unwrap();

    // The watch reconnects late (no failure, nothing stale), by when the app has turned and
    // the history it would resume from is gone: 410, and a relist finds the turn.
    fake.faults().delay(
        RequestMatch::any()
            .verb(Verb::Watch)
            .resource(APPS)
            .times(1),
        Duration::from_millis(1500),
    );
    fake.faults().drop_watches();
    apps.patch(
        "turns-in-the-gap",
        &PatchParams::default(),
        &Patch::Merge(json!({"status": {"sync": {"status": "OutOfSync"}}})),
    )
    .await
    .unwrap();
    fake.faults().compact();

    let h = eventually_some(Duration::from_secs(15), || async {
        let h = app
            .get_as("/api/v1/history", &header, "default", &[])
            .await
            .json();
        (h["episodes"].as_array().map_or(0, Vec::len) == 1).then_some(h)
    })
    .await
    .expect("the turn was never recorded");
    assert_eq!(h["episodes"][0]["startWitnessed"], false, "{h}");
    let s = app.status(&header, "default").await.json();
    assert_eq!(s["outOfSync"]["since"], serde_json::Value::Null, "{s}");
}
