//! The drift read path under load it does not control: work that ends with the request.
//!
//! An app owner's jq rules can be slow. A `/drift` request whose engine is still running when its
//! budget runs out (or whose caller goes away) stops its blocking work within one jq expression,
//! and that work keeps the request's concurrency slot until it has stopped — abandoned work still
//! counts against the cap. The engine's runs are read from `/metrics`
//! (`argocd_drift_engine_running`, `argocd_drift_engine_runs_total{outcome}`).
//!
//! In-process (the API without a socket), live objects from the fake API server.
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod common;

use argocd_drift::http::limits::Limits;
use common::{Client, InProcess, InProcessOptions, assert_error, eventually, metric};
use drift_core::app::IgnoreDifference;
use std::time::{Duration, Instant};

const DRIFT: &str = "/api/v1/drift";
const APP: &str = "argocd:payments-api";
const PROJECT: &str = "team-payments";
const RUNNING: &str = "argocd_drift_engine_running";

fn runs(c: &InProcess, outcome: &str) -> f64 {
    metric(
        &c.metrics_text(),
        &format!("argocd_drift_engine_runs_total{{outcome=\"{outcome}\"}}"),
    )
    .unwrap_or(0.0)
}

/// Gives payments-api jq rules that each spend most of jq's step bound before yielding: each
/// expression is slow, and there are enough of them that the whole run takes far longer than any
/// request may. (Each expression is distinct, so none is served from another's result.)
fn slow_rules(c: &InProcess) {
    let mut app = c.app_in_index("argocd", "payments-api");
    app.spec.ignore_differences.push(IgnoreDifference {
        group: "*".into(),
        kind: "*".into(),
        jq_path_expressions: (0..40)
            .map(|i| {
                format!(
                    ".metadata | select([range(0; {})] | length > 0) | .labels",
                    900_000 + i
                )
            })
            .collect(),
        ..Default::default()
    });
    c.index.apply(app, jiff::Timestamp::now());
}

fn options(max_concurrent: usize, request_timeout: Duration) -> InProcessOptions {
    InProcessOptions {
        limits: Limits::new(max_concurrent, 1024 * 1024, request_timeout),
        ..Default::default()
    }
}

#[tokio::test]
async fn a_slow_jq_rule_is_stopped_by_the_engines_own_budget_before_the_request_times_out() {
    let timeout = Duration::from_secs(2);
    let c = InProcess::new(options(4, timeout)).await;
    slow_rules(&c);
    let started = Instant::now();
    let r = c.get_as(DRIFT, APP, PROJECT, &[]).await;
    let took = started.elapsed();
    assert_error(&r, 503, "REQUEST_TIMEOUT");
    // The engine's deadline (four fifths of the request's) passed first: the answer came before
    // the request's own timeout, and only once the blocking work had stopped.
    assert!(took < timeout, "answered after {took:?}");
    let text = c.metrics_text();
    assert_eq!(metric(&text, RUNNING), Some(0.0), "{text}");
    assert_eq!(runs(&c, "over_budget"), 1.0, "{text}");
    assert_eq!(runs(&c, "done"), 0.0, "{text}");
}

#[tokio::test]
async fn a_dropped_request_stops_its_engine_which_holds_the_requests_slot_until_it_has_stopped() {
    // One slot, and a request timeout far beyond the test: only the drop can stop the run.
    let c = InProcess::new(options(1, Duration::from_secs(120))).await;
    slow_rules(&c);
    let request = c.get_as(DRIFT, APP, PROJECT, &[]);
    let engine_running = eventually(Duration::from_secs(30), || async {
        metric(&c.metrics_text(), RUNNING) == Some(1.0)
    });
    tokio::select! {
        r = request => panic!("answered before it was dropped: {}", r.status),
        seen = engine_running => seen.unwrap(),
    }
    // The request's future is gone (as when it times out or its client disconnects)…
    let dropped = Instant::now();
    // …but its blocking work still holds the one slot: another request is shed.
    let shed = c.get_as("/api/v1/status", APP, PROJECT, &[]).await;
    assert_error(&shed, 503, "OVERLOADED");
    // The work stops within about one jq expression's time, not the whole run's.
    eventually(Duration::from_secs(3), || async {
        metric(&c.metrics_text(), RUNNING) == Some(0.0)
    })
    .await
    .unwrap();
    let stopped_after = dropped.elapsed();
    assert_eq!(runs(&c, "cancelled"), 1.0, "{}", c.metrics_text());
    // Then the slot is free again.
    let next = c.get_as("/api/v1/status", APP, PROJECT, &[]).await;
    assert_eq!(next.status, 200, "{}", String::from_utf8_lossy(&next.body));
    println!("blocking work stopped {stopped_after:?} after the request was dropped");
}

// === reads ===

/// Concurrent `/drift` requests for one app, while the API server is slow to answer: each live
/// object is read once (the requests wait for one GET: single-flight), and every read asks for
/// the API server's watch cache (`resourceVersion=0`), not a quorum read from etcd. (The
/// in-process API reuses no read: its cache's time to live is zero, so only single-flight can
/// merge them.)
#[tokio::test]
async fn concurrent_misses_for_one_object_do_one_get_from_the_watch_cache() {
    let c = InProcess::demo().await;
    let slow = fake_apiserver::RequestMatch::any().verb(fake_apiserver::Verb::Get);
    c.fake.faults().delay(slow, Duration::from_millis(300));
    c.fake.faults().clear_request_log();
    let requests = (0..8).map(|_| c.get_as(DRIFT, APP, PROJECT, &[]));
    for r in futures::future::join_all(requests).await {
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    }
    let gets: Vec<_> = c
        .fake
        .faults()
        .request_log()
        .into_iter()
        .filter(|r| r.verb == fake_apiserver::Verb::Get && !r.resource.is_empty())
        .collect();
    let count = |resource: &str| gets.iter().filter(|r| r.resource == resource).count();
    // payments-api's two OutOfSync resources: its ConfigMap and its Deployment.
    assert_eq!(
        (count("configmaps"), count("deployments")),
        (1, 1),
        "{gets:#?}"
    );
    assert!(
        gets.iter().all(|r| r.uri.ends_with("?resourceVersion=0")),
        "{gets:#?}"
    );
}

/// A request dropped while its GETs are under way (the viewer closed the tab) leaves no read
/// behind in the in-flight map; one still waited for by another request stays until answered.
#[tokio::test]
async fn a_dropped_request_leaves_no_read_in_flight() {
    let c = InProcess::demo().await;
    let slow = fake_apiserver::RequestMatch::any().verb(fake_apiserver::Verb::Get);
    c.fake.faults().delay(slow, Duration::from_millis(500));
    let dropped = tokio::time::timeout(
        Duration::from_millis(150),
        c.get_as(DRIFT, APP, PROJECT, &[]),
    )
    .await;
    assert!(dropped.is_err(), "the request was dropped mid-read");
    assert_eq!(c.destinations.reads_in_flight(), 0);
    // Two callers, one goes away: the other still gets its answer from the one read.
    let (kept, gone) = tokio::join!(
        c.get_as(DRIFT, APP, PROJECT, &[]),
        tokio::time::timeout(
            Duration::from_millis(150),
            c.get_as(DRIFT, APP, PROJECT, &[])
        ),
    );
    assert!(gone.is_err());
    assert_eq!(kept.status, 200, "{}", String::from_utf8_lossy(&kept.body));
    assert_eq!(c.destinations.reads_in_flight(), 0);
}

/// With a cache: a poll within the time to live reads nothing; `?refresh=true` reads every
/// object once more, fresh (a quorum read, not the watch cache); a second refresh within
/// `DRIFT_REFRESH_MIN_INTERVAL_SECONDS` (10 s here) is answered from the cache, reading nothing.
#[tokio::test]
async fn a_refresh_reads_fresh_once_per_interval_and_polls_within_the_ttl_read_nothing() {
    let c = InProcess::new(InProcessOptions {
        cache_ttl: Duration::from_secs(600),
        ..Default::default()
    })
    .await;
    let gets = || {
        c.fake
            .faults()
            .request_log()
            .into_iter()
            .filter(|r| r.verb == fake_apiserver::Verb::Get && !r.resource.is_empty())
            .map(|r| r.uri)
            .collect::<Vec<_>>()
    };
    let c = &c;
    let drift = |query: &'static str| async move {
        let r = c
            .get_as(&format!("{DRIFT}{query}"), APP, PROJECT, &[])
            .await;
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    };
    c.fake.faults().clear_request_log();
    drift("").await;
    assert_eq!(gets().len(), 2, "{:#?}", gets());
    drift("").await;
    assert_eq!(
        gets().len(),
        2,
        "a poll within the TTL reads nothing: {:#?}",
        gets()
    );
    drift("?refresh=true").await;
    let after_refresh = gets();
    assert_eq!(after_refresh.len(), 4, "{after_refresh:#?}");
    assert!(
        after_refresh[2..]
            .iter()
            .all(|uri| !uri.contains("resourceVersion")),
        "{after_refresh:#?}"
    );
    drift("?refresh=true").await;
    drift("?refresh=true").await;
    assert_eq!(
        gets().len(),
        4,
        "refreshes within the interval read nothing: {:#?}",
        gets()
    );
}
