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

use common::{TestApp, app_header, eventually};
use http::Method;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams};
use serde_json::json;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use testenv::TestCluster;

const REPORTERS: usize = 3;

#[derive(Default)]
struct Seen {
    /// Per repo: the drift count and `last_check` of the last acknowledged post.
    acknowledged: Mutex<HashMap<String, (u64, String)>>,
    acks: AtomicUsize,
    /// Posts refused while the API server was away (not acknowledged: nothing promised).
    refused: AtomicUsize,
    /// Status answers, and those that were not a 200.
    views: AtomicUsize,
    failed_views: Mutex<Vec<String>>,
}

/// Posts `repo`'s report until `stop`: a new drift count every 3 s, heartbeats in between (times
/// are whole seconds, README). The last acknowledged post is a heartbeat: one second on from the
/// last change, so only a heartbeat's write can store it.
async fn report(reports: SocketAddr, repo: String, seen: Arc<Seen>, stop: Arc<AtomicBool>) {
    let (mut count, mut at) = (0u64, 0i64);
    let mut ended_on_heartbeat = false;
    loop {
        let stopping = stop.load(Ordering::Relaxed);
        if stopping && ended_on_heartbeat {
            return;
        }
        let now = jiff::Timestamp::now().as_second();
        if !stopping && now >= at + 3 {
            (count, at) = (count + 1, now);
        }
        let last_check = jiff::Timestamp::from_second(now).unwrap().to_string();
        let body = json!({"repo": repo, "server": "lab", "sync_status": "OUT_OF_SYNC",
            "drift_count": count, "files": [], "last_check": last_check});
        let answer = testenv::http::send(
            reports,
            Method::POST,
            "/api/status",
            &[("Content-Type", "application/json")],
            body.to_string().into(),
        )
        .await;
        match answer {
            Ok(r) if r.status == 200 => {
                seen.acknowledged
                    .lock()
                    .unwrap()
                    .insert(repo.clone(), (count, last_check));
                seen.acks.fetch_add(1, Ordering::Relaxed);
                ended_on_heartbeat = now > at;
            }
            _ => {
                seen.refused.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        if stopping {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Each repo's stored drift count and `lastCheck`.
async fn stored(cluster: &TestCluster) -> HashMap<String, (u64, String)> {
    let gvk = GroupVersionKind::gvk("argocd-drift.io", "v1alpha1", "DriftReport");
    let api: Api<DynamicObject> = Api::namespaced_with(
        cluster.client().await.unwrap(),
        &cluster.ns("argocd"),
        &ApiResource::from_gvk_with_plural(&gvk, "driftreports"),
    );
    api.list(&Default::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|o| {
            let spec = &o.data["spec"];
            let at: jiff::Timestamp = spec["lastCheck"].as_str()?.parse().ok()?;
            Some((
                spec["repo"].as_str()?.to_string(),
                (spec["driftCount"].as_u64()?, at.to_string()),
            ))
        })
        .collect()
}

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
    let seen = Arc::new(Seen::default());
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for n in 0..REPORTERS {
        tasks.push(tokio::spawn(report(
            app.reports,
            format!("restart-{n}"),
            Arc::clone(&seen),
            Arc::clone(&stop),
        )));
    }
    let progress = |n: usize| {
        let seen = Arc::clone(&seen);
        async move {
            let target = seen.acks.load(Ordering::Relaxed) + n;
            eventually(Duration::from_secs(60), || async {
                seen.acks.load(Ordering::Relaxed) >= target
            })
            .await
            .expect("the reporters made no progress");
        }
    };

    // A viewer polls the app's status throughout.
    let viewer = async {
        while !stop.load(Ordering::Relaxed) {
            let r = app.status(&payments, "team-payments").await;
            seen.views.fetch_add(1, Ordering::Relaxed);
            if r.status != 200 {
                seen.failed_views.lock().unwrap().push(format!(
                    "{} {}",
                    r.status,
                    String::from_utf8_lossy(&r.body)
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    let counts = || -> HashMap<String, u64> {
        let acknowledged = seen.acknowledged.lock().unwrap();
        acknowledged
            .iter()
            .map(|(r, (c, _))| (r.clone(), *c))
            .collect()
    };
    let play = async {
        progress(30).await;
        cluster.restart_apiserver().await.unwrap();
        // Writes resume on the restarted server: every reporter has two more changes stored.
        let at_restart = counts();
        eventually(Duration::from_secs(60), || async {
            let now = counts();
            now.len() == REPORTERS
                && now
                    .iter()
                    .all(|(repo, c)| *c >= at_restart.get(repo).copied().unwrap_or(0) + 2)
        })
        .await
        .expect("changes were not written after the restart");
        stop.store(true, Ordering::Relaxed);
    };
    tokio::join!(viewer, play);
    for task in tasks {
        task.await.unwrap();
    }

    // Every acknowledged post is stored, with its latest content and its latest heartbeat (those
    // acknowledged while the server was away were written once it was back).
    let acknowledged = seen.acknowledged.lock().unwrap().clone();
    assert_eq!(acknowledged.len(), REPORTERS);
    eventually(Duration::from_secs(30), || async {
        let stored = stored(&cluster).await;
        acknowledged
            .iter()
            .all(|(repo, last)| stored.get(repo) == Some(last))
    })
    .await
    .unwrap_or_else(|e| panic!("acknowledged {acknowledged:?} are not all stored: {e}"));
    // The viewer was answered throughout.
    let failed = seen.failed_views.lock().unwrap().clone();
    assert!(
        failed.is_empty(),
        "{} of {} status answers failed: {failed:?}",
        failed.len(),
        seen.views.load(Ordering::Relaxed)
    );
    eprintln!(
        "acknowledged {} posts ({} refused during the outage), {} status answers",
        seen.acks.load(Ordering::Relaxed),
        seen.refused.load(Ordering::Relaxed),
        seen.views.load(Ordering::Relaxed)
    );

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
