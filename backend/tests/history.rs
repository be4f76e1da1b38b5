//! Drift memory end to end: argocd-drift served over HTTP against a test cluster (the fake, or a
//! real kube-apiserver with `DRIFT_TEST_CLUSTER=real`), Applications changed the way Argo CD's
//! controller changes them (`status` patches), episodes read back both from
//! `GET /api/v1/history` and from the `DriftHistory` objects themselves.
//!
//! On a real API server every record below is written through the CRD's schema, so these tests
//! also show that what the backend writes passes it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{
    TestApp, app_header, applications, create_app, demo, eventually, eventually_some, metric,
};
use drift_core::app::AppKey;
use drift_core::history::Record;
use drift_core::history::model::{
    DriftCause, End, EndCause, Episode, Involved, OperationMark, Start, from_object, object_name,
    to_object,
};
use drift_core::history::rules::episode_id;
use fake_apiserver::{FaultRule, Verb};
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, Patch, PatchParams,
};
use serde_json::{Value, json};
use std::time::Duration;
use testenv::TestCluster;

const HISTORY: &str = "/api/v1/history";
const WAIT: Duration = Duration::from_secs(20);

fn histories(client: kube::Client, ns: &str) -> Api<DynamicObject> {
    let resource = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("argocd-drift.io", "v1alpha1", "DriftHistory"),
        "drifthistories",
    );
    Api::namespaced_with(client, ns, &resource)
}

/// Writes an app's `status` the way Argo CD's controller does; the episode id a turn on this
/// version gets.
async fn set_status(cluster: &TestCluster, name: &str, status: Value) -> String {
    let obj = applications(cluster.client().await.unwrap(), &cluster.ns("argocd"))
        .patch(
            name,
            &PatchParams::default(),
            &Patch::Merge(json!({ "status": status })),
        )
        .await
        .unwrap();
    episode_id(
        obj.metadata.uid.as_deref().unwrap(),
        obj.metadata.resource_version.as_deref().unwrap(),
    )
}

fn out_of_sync() -> Value {
    json!({"sync": {"status": "OutOfSync"}})
}

/// Synced at `revision`; with `op`, a new operation record.
fn synced(revision: &str, op: Option<Value>) -> Value {
    let mut status = json!({"sync": {"status": "Synced", "revision": revision}});
    if let Some(op) = op {
        status["operationState"] = op;
    }
    status
}

/// An operation Argo CD recorded, by `user` or (None) by automation.
fn operation(started_at: &str, user: Option<&str>) -> Value {
    json!({
        "phase": "Succeeded",
        "startedAt": started_at,
        "finishedAt": started_at,
        "operation": {
            "initiatedBy": {"username": user, "automated": user.is_none()},
            "sync": {"revision": "r1"}
        }
    })
}

fn app_key(cluster: &TestCluster, name: &str) -> AppKey {
    AppKey::new(cluster.ns("argocd"), name)
}

/// The stored record of an app, if any (and readable).
async fn stored(cluster: &TestCluster, name: &str) -> Option<Record> {
    let object = histories(cluster.client().await.unwrap(), &cluster.ns("argocd"))
        .get_opt(&object_name(&app_key(cluster, name)))
        .await
        .unwrap()?;
    Some(
        from_object(serde_json::to_value(object).unwrap())
            .unwrap()
            .1,
    )
}

async fn wait_stored(cluster: &TestCluster, name: &str, done: impl Fn(&Record) -> bool) -> Record {
    eventually_some(WAIT, || async {
        stored(cluster, name).await.filter(|r| done(r))
    })
    .await
    .unwrap_or_else(|e| panic!("{name}: the stored record never got there: {e}"))
}

fn all_closed(n: usize) -> impl Fn(&Record) -> bool {
    move |r: &Record| r.episodes.len() == n && r.episodes.iter().all(|e| e.end.is_some())
}

async fn history(app: &TestApp, cluster: &TestCluster, name: &str, query: &str) -> Value {
    let r = app
        .get_as(
            &format!("{HISTORY}{query}"),
            &app_header(cluster, "argocd", name),
            "default",
            &[],
        )
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    r.json()
}

#[tokio::test]
async fn each_way_an_episode_ends_is_recorded_with_its_cause() {
    let (cluster, app) = demo(&[]).await;
    let names = [
        "healed-by-automation",
        "synced-by-bob",
        "reverted-by-hand",
        "git-changed",
        "deleted-while-drifting",
    ];
    let alice = operation("2026-01-01T00:00:00Z", Some("alice"));
    let mut ids = Vec::new();
    for name in names {
        create_app(&cluster, name, "default").await;
        set_status(&cluster, name, synced("r1", Some(alice.clone()))).await;
        ids.push(set_status(&cluster, name, out_of_sync()).await);
    }
    // Each under way, witnessed: the history says since when.
    for name in names {
        let record = wait_stored(&cluster, name, |r| r.open().is_some()).await;
        assert!(record.episodes[0].start.witnessed, "{name}");
    }
    set_status(
        &cluster,
        "healed-by-automation",
        synced("r1", Some(operation("2026-01-02T00:00:00Z", None))),
    )
    .await;
    set_status(
        &cluster,
        "synced-by-bob",
        synced("r1", Some(operation("2026-01-03T00:00:00Z", Some("bob")))),
    )
    .await;
    set_status(&cluster, "reverted-by-hand", synced("r1", None)).await;
    set_status(&cluster, "git-changed", synced("r2", None)).await;
    applications(cluster.client().await.unwrap(), &cluster.ns("argocd"))
        .delete("deleted-while-drifting", &DeleteParams::default())
        .await
        .unwrap();

    let expected = [
        (EndCause::AutomatedSync, None),
        (EndCause::ManualSync, Some("bob")),
        (EndCause::RevertedByHand, None),
        (EndCause::GitChanged, None),
        (EndCause::AppDeleted, None),
    ];
    for ((name, id), (cause, user)) in names.iter().zip(&ids).zip(expected) {
        let record = wait_stored(&cluster, name, all_closed(1)).await;
        let episode = &record.episodes[0];
        assert_eq!(
            &episode.id, id,
            "{name}: named after the version that turned"
        );
        let end = episode.end.as_ref().unwrap();
        assert_eq!((end.cause, end.user.as_deref()), (cause, user), "{name}");
        assert!(end.witnessed && end.at >= episode.start.at, "{name}");
    }

    // The API says the same, with totals.
    let h = history(&app, &cluster, "synced-by-bob", "").await;
    assert_eq!(h["current"], Value::Null);
    assert_eq!(h["record"]["state"], "stored");
    let e = &h["episodes"][0];
    assert_eq!(
        (e["endCause"].as_str(), e["endedBy"].as_str()),
        (Some("manualSync"), Some("bob"))
    );
    assert_eq!(
        (e["startWitnessed"].as_bool(), e["ongoing"].as_bool()),
        (Some(true), Some(false))
    );
    assert_eq!(e["revisionAtStart"], "r1");
    assert!(e["durationSeconds"].as_i64().unwrap() >= 0);
    assert_eq!(h["totals"]["episodes24h"], 1);
    assert_eq!(h["totals"]["resolvedEpisodes30d"], 1);
    assert!(h["totals"]["meanTimeToResolveSeconds"].is_i64());

    // Counted once each, by end cause; nothing drifting in project default any more.
    for cause in [
        "automatedSync",
        "manualSync",
        "revertedByHand",
        "gitChanged",
        "appDeleted",
    ] {
        app.wait_for_metric(
            &format!(r#"argocd_drift_episodes_ended_total{{project="default",cause="{cause}"}}"#),
            1.0,
        )
        .await;
    }
    app.wait_for_metric(
        r#"argocd_drift_episodes_started_total{project="default"}"#,
        5.0,
    )
    .await;
}

#[tokio::test]
async fn an_app_drifting_shows_in_the_gauges_and_the_background_pass_enriches_its_episode() {
    let (cluster, app) = demo(&[("HISTORY_ENRICH_INTERVAL_SECONDS", "1")]).await;
    // The demo's payments-api was already OutOfSync when argocd-drift started: first seen.
    let payments = app_header(&cluster, "argocd", "payments-api");
    let record = wait_stored(&cluster, "payments-api", |r| r.open().is_some()).await;
    assert!(
        !record.episodes[0].start.witnessed,
        "first seen, not witnessed"
    );
    let names: Vec<&str> = record.episodes[0]
        .resources
        .iter()
        .map(|r| r.name.as_str())
        .collect();
    assert!(
        !names.is_empty(),
        "Argo CD's OutOfSync resources are recorded at the start"
    );

    // Enriched with no request made: causes, fields and managers from the background pass.
    let record = wait_stored(&cluster, "payments-api", |r| {
        r.episodes[0]
            .resources
            .iter()
            .any(|r| !r.managers.is_empty())
    })
    .await;
    let drift = app
        .get_as("/api/v1/drift", &payments, "team-payments", &[])
        .await
        .json();
    let status = app.status(&payments, "team-payments").await.json();
    assert_eq!(drift["summary"]["outOfSync"], status["outOfSync"]);
    assert_eq!(
        status["outOfSync"]["since"],
        Value::Null,
        "never a guessed time"
    );
    let drifted: Vec<&Involved> = record.episodes[0]
        .resources
        .iter()
        .filter(|r| r.cause == Some(DriftCause::LiveChanged))
        .collect();
    assert!(!drifted.is_empty(), "{record:#?}");
    // The status panel's answer is what the episode recorded: the same count of resources
    // changed live as the drift answer, and the managers behind them (no cluster read).
    let status = app.status(&payments, "team-payments").await.json();
    let by_cause = &drift["summary"]["byCause"];
    let changed = ["liveChanged", "missing", "extra"]
        .iter()
        .map(|c| by_cause[c].as_u64().unwrap())
        .sum::<u64>();
    assert_eq!(status["drift"]["changed"], changed, "{status:#}");
    assert_eq!(
        status["drift"]["gitAhead"], by_cause["gitAhead"],
        "{status:#}"
    );
    for r in &drifted {
        for m in &r.managers {
            assert!(
                status["drift"]["managers"]
                    .as_array()
                    .unwrap()
                    .contains(&Value::from(m.as_str())),
                "{m} in {status:#}"
            );
        }
    }
    // What the drift answer said: each drifted resource's paths and (non-Argo CD) managers.
    for resource in drift["resources"].as_array().unwrap() {
        if resource["cause"] != "liveChanged" {
            continue;
        }
        let name = resource["name"].as_str().unwrap();
        let recorded = drifted.iter().find(|r| r.name == name).expect(name);
        for field in resource["fields"].as_array().unwrap().iter().take(5) {
            assert!(
                recorded
                    .fields
                    .contains(&field["path"].as_str().unwrap().to_string())
            );
            let by = &field["attribution"];
            if by["isArgoCd"] == false {
                assert!(
                    recorded
                        .managers
                        .contains(&by["manager"].as_str().unwrap().to_string())
                );
            }
        }
    }

    let h = app
        .get_as(HISTORY, &payments, "team-payments", &[])
        .await
        .json();
    assert!(h["current"]["observedSince"].is_string());
    let top = h["totals"]["topManagers"].as_array().unwrap();
    assert_eq!(top[0]["episodes"], 1, "{top:?}");
    assert!(drifted.iter().any(|r| {
        r.managers
            .contains(&top[0]["manager"].as_str().unwrap().to_string())
    }));

    let text = app.metrics().await;
    let series = format!(
        r#"argocd_drift_app_drifting_seconds{{app="{}:payments-api",project="team-payments",destination="https://kubernetes.default.svc"}}"#,
        cluster.ns("argocd")
    );
    eventually(WAIT, || async {
        metric(&app.metrics().await, &series).is_some()
    })
    .await
    .unwrap_or_else(|e| panic!("{series}: {e}\n{text}"));
    app.wait_for_metric(
        r#"argocd_drift_apps_drifting{project="team-payments"}"#,
        1.0,
    )
    .await;
    // The managers behind it, as a class only: the alert on interactive drift reads this.
    let class = drift_core::history::managers::class_of(
        drifted
            .iter()
            .flat_map(|r| r.managers.iter().map(String::as_str)),
    );
    assert_ne!(class, "unknown");
    app.wait_for_metric(
        &format!(
            r#"argocd_drift_apps_drifting_by_manager_class{{project="team-payments",manager_class="{class}"}}"#
        ),
        1.0,
    )
    .await;
    let text = app.metrics().await;
    for manager in drifted.iter().flat_map(|r| r.managers.iter()) {
        assert!(
            !text.contains(&format!("\"{manager}\"")),
            "a manager's name is never a label value: {manager}"
        );
    }
}

/// What drift requests find is never written by them: a GET, however many, causes no write to
/// any `DriftHistory` (enrichment is the background pass's, off here).
#[tokio::test]
async fn a_get_writes_nothing() {
    let (cluster, app) = demo(&[("HISTORY_ENRICH_INTERVAL_SECONDS", "0")]).await;
    let payments = app_header(&cluster, "argocd", "payments-api");
    let started = wait_stored(&cluster, "payments-api", |r| r.open().is_some()).await;
    let pending = "argocd_drift_history_pending_writes";
    let writes = "argocd_drift_history_writes_total";
    app.wait_for_metric(pending, 0.0).await;
    let before = metric(&app.metrics().await, writes).unwrap_or(0.0);
    for path in [
        "/api/v1/drift",
        "/api/v1/drift?all=true",
        "/api/v1/status",
        HISTORY,
    ] {
        for _ in 0..3 {
            let r = app.get_as(path, &payments, "team-payments", &[]).await;
            assert_eq!(r.status, 200, "{path}");
        }
    }
    // The status panel's answer reads no cluster: status reads make no live GET; before any
    // inspection the episode's resources are counted as not inspected yet.
    if let Some(fake) = cluster.fake_server() {
        fake.faults().clear_request_log();
        let status = app.status(&payments, "team-payments").await.json();
        let live_gets = fake
            .faults()
            .request_log()
            .into_iter()
            .filter(|r| {
                r.verb == Verb::Get
                    && ["configmaps", "deployments", "services", "secrets"]
                        .contains(&r.resource.as_str())
            })
            .count();
        assert_eq!(live_gets, 0);
        assert_eq!(status["drift"]["changed"], 0, "{status:#}");
        assert!(
            status["drift"]["notInspected"].as_u64().unwrap() >= 1,
            "{status:#}"
        );
    }
    // A write a GET queued would be pending now, or done.
    let text = app.metrics().await;
    assert_eq!(metric(&text, pending), Some(0.0), "nothing queued");
    assert_eq!(
        metric(&text, writes).unwrap_or(0.0),
        before,
        "nothing written"
    );
    assert_eq!(
        stored(&cluster, "payments-api").await.as_ref(),
        Some(&started),
        "the record is as the watch's turn stored it"
    );
}

#[tokio::test]
async fn since_is_the_same_after_a_restart_and_on_another_replica() {
    let (cluster, first) = demo(&[]).await;
    create_app(&cluster, "restarted", "default").await;
    set_status(&cluster, "restarted", synced("r1", None)).await;
    set_status(&cluster, "restarted", out_of_sync()).await;
    let header = app_header(&cluster, "argocd", "restarted");
    wait_stored(&cluster, "restarted", |r| r.open().is_some()).await;
    let since = eventually_some(WAIT, || async {
        let s = first.status(&header, "default").await.json();
        s["outOfSync"]["since"].as_str().map(str::to_string)
    })
    .await
    .unwrap();

    // A second replica, started after the turn, did not witness it, yet answers the same.
    let second = TestApp::ready(&cluster, &[]).await;
    let s = second.status(&header, "default").await.json();
    assert_eq!(s["outOfSync"]["since"].as_str(), Some(since.as_str()));
    let h = history(&second, &cluster, "restarted", "").await;
    assert_eq!(h["current"]["since"].as_str(), Some(since.as_str()));

    // Restarted: the same.
    first.shutdown().await.unwrap();
    let third = TestApp::ready(&cluster, &[]).await;
    let s = third.status(&header, "default").await.json();
    assert_eq!(s["outOfSync"]["since"].as_str(), Some(since.as_str()));
    // And a first-seen app's lower bound is shared too.
    let payments = app_header(&cluster, "argocd", "payments-api");
    let a = second.status(&payments, "team-payments").await.json();
    let b = third.status(&payments, "team-payments").await.json();
    assert_eq!(a["outOfSync"], b["outOfSync"]);
    assert!(a["outOfSync"]["observedSince"].is_string());
}

/// How many rounds the replica test plays (`HISTORY_REPLICA_ROUNDS`, default 10): each round,
/// 4 new apps drift and heal 3 times each, concurrently, under two replicas.
fn rounds() -> usize {
    std::env::var("HISTORY_REPLICA_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10)
}

#[tokio::test]
async fn two_replicas_record_every_episode_exactly_once() {
    const APPS: usize = 4;
    const EPISODES: usize = 3;
    let (cluster, a) = demo(&[]).await;
    let b = TestApp::ready(&cluster, &[]).await;
    let rounds = rounds();
    for round in 0..rounds {
        let names: Vec<String> = (0..APPS).map(|i| format!("r{round}-app{i}")).collect();
        for name in &names {
            create_app(&cluster, name, "default").await;
        }
        // Every app drifts and heals EPISODES times, all apps at once; the ends cycle through
        // the causes. Both replicas see every turn and race to record it.
        let plays = names.iter().enumerate().map(|(i, name)| {
            let cluster = &cluster;
            async move {
                set_status(cluster, name, synced("r1", None)).await;
                let mut expected = Vec::new();
                for k in 0..EPISODES {
                    let id = set_status(cluster, name, out_of_sync()).await;
                    let (status, cause) = match (i + k) % 3 {
                        0 => (
                            synced(
                                "r1",
                                Some(operation(&format!("2026-01-0{}T00:00:00Z", k + 1), None)),
                            ),
                            EndCause::AutomatedSync,
                        ),
                        1 => (
                            synced(
                                "r1",
                                Some(operation(
                                    &format!("2026-02-0{}T00:00:00Z", k + 1),
                                    Some("bob"),
                                )),
                            ),
                            EndCause::ManualSync,
                        ),
                        _ => (synced("r1", None), EndCause::RevertedByHand),
                    };
                    set_status(cluster, name, status).await;
                    expected.push((id, cause));
                }
                (name.clone(), expected)
            }
        });
        for (name, expected) in futures::future::join_all(plays).await {
            let record = wait_stored(&cluster, &name, |r| {
                r.episodes.len() >= EPISODES && r.episodes.iter().all(|e| e.end.is_some())
            })
            .await;
            let got: Vec<(String, EndCause)> = record
                .episodes
                .iter()
                .map(|e| (e.id.clone(), e.end.as_ref().unwrap().cause))
                .collect();
            assert_eq!(
                got, expected,
                "round {round}, {name}: exactly once, in order"
            );
            assert!(record.episodes.iter().all(|e| e.start.witnessed));
        }
    }
    // Each episode counted by exactly one replica's write.
    let total = (rounds * APPS * EPISODES) as f64;
    eventually(WAIT, || async {
        let sum = |series: &str, text: &str| metric(text, series).unwrap_or(0.0);
        let (ta, tb) = (a.metrics().await, b.metrics().await);
        let started = r#"argocd_drift_episodes_started_total{project="default"}"#;
        sum(started, &ta) + sum(started, &tb) == total
    })
    .await
    .unwrap_or_else(|e| panic!("started counts do not add up to {total}: {e}"));
    let conflicts = |text: &str| {
        metric(
            text,
            r#"argocd_drift_history_write_errors_total{reason="conflict"}"#,
        )
        .unwrap_or(0.0)
    };
    eprintln!(
        "{rounds} rounds, {total} episodes; write conflicts re-read and retried: {} + {}",
        conflicts(&a.metrics().await),
        conflicts(&b.metrics().await)
    );
}

/// A record as the backend writes it, for objects the tests put in place themselves.
fn object(cluster: &TestCluster, name: &str, record: &Record) -> DynamicObject {
    let mut o = to_object(&app_key(cluster, name), record);
    o["apiVersion"] = "argocd-drift.io/v1alpha1".into();
    o["kind"] = "DriftHistory".into();
    o["metadata"]["namespace"] = cluster.ns("argocd").into();
    serde_json::from_value(o).unwrap()
}

fn closed_episode(version: u64, started: jiff::Timestamp, ended: jiff::Timestamp) -> Episode {
    Episode {
        id: format!("0000aaaa-{version}"),
        start: Start {
            at: started,
            version: version.to_string(),
            witnessed: true,
            inferred: false,
            revision: Some("r1".into()),
            operation: None,
        },
        end: Some(End {
            at: ended,
            version: (version + 1).to_string(),
            witnessed: true,
            cause: EndCause::RevertedByHand,
            user: None,
            operation_phase: None,
            revision: Some("r1".into()),
        }),
        resources: vec![],
        detail_trimmed: false,
    }
}

#[tokio::test]
async fn retention_keeps_the_newest_episodes_and_drops_old_ones() {
    let (cluster, app) = demo(&[
        ("HISTORY_MAX_EPISODES", "3"),
        ("HISTORY_MAX_AGE_DAYS", "30"),
        ("HISTORY_SWEEP_INTERVAL_SECONDS", "1"),
    ])
    .await;
    // By count: five episodes, the three newest kept.
    create_app(&cluster, "busy", "default").await;
    set_status(&cluster, "busy", synced("r1", None)).await;
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(set_status(&cluster, "busy", out_of_sync()).await);
        set_status(&cluster, "busy", synced("r1", None)).await;
    }
    let record = wait_stored(&cluster, "busy", |r| {
        r.pruned.as_ref().is_some_and(|p| p.count == 2)
            && r.episodes.iter().all(|e| e.end.is_some())
    })
    .await;
    let kept: Vec<&str> = record.episodes.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(
        kept,
        ids[2..].iter().map(String::as_str).collect::<Vec<_>>()
    );
    let h = history(&app, &cluster, "busy", "").await;
    assert_eq!(h["totals"]["episodes24h"], 3);
    assert_eq!(
        h["totals"]["complete"], false,
        "two of the last 30 days' episodes are gone"
    );

    // By age: what ended 40 days ago goes; a record left empty goes entirely.
    let now = jiff::Timestamp::now();
    let days = |n: i64| {
        now.checked_sub(jiff::SignedDuration::from_hours(24 * n))
            .unwrap()
    };
    let api = histories(cluster.client().await.unwrap(), &cluster.ns("argocd"));
    let old_only = Record {
        episodes: vec![closed_episode(10, days(41), days(40))],
        pruned: None,
    };
    let mixed = Record {
        episodes: vec![
            closed_episode(10, days(41), days(40)),
            closed_episode(20, days(2), days(1)),
        ],
        pruned: None,
    };
    for (name, record) in [("long-gone", &old_only), ("still-here", &mixed)] {
        api.create(&Default::default(), &object(&cluster, name, record))
            .await
            .unwrap();
    }
    wait_stored(&cluster, "still-here", |r| r.episodes.len() == 1).await;
    eventually(WAIT, || async {
        stored(&cluster, "long-gone").await.is_none()
    })
    .await
    .expect("an emptied record is deleted");
}

#[tokio::test]
async fn a_hand_edited_invalid_record_is_reported_and_left_alone() {
    let (cluster, app) = demo(&[]).await;
    create_app(&cluster, "hand-edited", "default").await;
    set_status(&cluster, "hand-edited", synced("r1", None)).await;
    // Schema-valid (a real API server takes it) but two episodes with one id.
    let now = jiff::Timestamp::now();
    let mut twice = closed_episode(10, now, now);
    let mut again = closed_episode(30, now, now);
    again.id = twice.id.clone();
    twice.resources = vec![];
    let bad = Record {
        episodes: vec![twice, again],
        pruned: None,
    };
    let api = histories(cluster.client().await.unwrap(), &cluster.ns("argocd"));
    let created = api
        .create(&Default::default(), &object(&cluster, "hand-edited", &bad))
        .await
        .unwrap();
    let version = created.metadata.resource_version.clone();

    set_status(&cluster, "hand-edited", out_of_sync()).await;
    eventually(WAIT, || async {
        app.logs()
            .contains("not writing over an unreadable drift history")
    })
    .await
    .expect("the recorder saw the record and held back");
    let h = history(&app, &cluster, "hand-edited", "").await;
    assert_eq!(h["record"]["state"], "invalid");
    assert!(
        h["record"]["message"]
            .as_str()
            .unwrap()
            .contains("appears twice"),
        "{h}"
    );
    assert_eq!(h["record"]["pendingWrites"], 1);
    // Status still answers, from this process's own record.
    let s = app
        .status(&app_header(&cluster, "argocd", "hand-edited"), "default")
        .await;
    assert_eq!(s.status, 200);
    assert!(s.json()["outOfSync"]["since"].is_string());
    assert!(app.logs().contains("a drift history cannot be read"));
    app.wait_for_metric("argocd_drift_history_invalid_records_total", 1.0)
        .await;
    let unchanged = api
        .get(&object_name(&app_key(&cluster, "hand-edited")))
        .await
        .unwrap();
    assert_eq!(
        unchanged.metadata.resource_version, version,
        "never overwritten"
    );

    // Deleted by its owner: what was seen meanwhile is stored.
    api.delete(
        &object_name(&app_key(&cluster, "hand-edited")),
        &DeleteParams::default(),
    )
    .await
    .unwrap();
    let record = wait_stored(&cluster, "hand-edited", |r| r.open().is_some()).await;
    assert_eq!(record.episodes.len(), 1);
    // The stored object can be visible a moment before the writer has taken in its own answer.
    eventually(WAIT, || async {
        history(&app, &cluster, "hand-edited", "").await["record"]["state"] == "stored"
    })
    .await
    .expect("the app's record says stored once the write has landed");
}

#[tokio::test]
async fn an_episode_that_ends_while_writes_fail_is_kept_and_stored_once_they_work() {
    let (cluster, app) = demo(&[]).await;
    let Some(fake) = cluster.fake_server() else {
        return; // fault injection needs the fake
    };
    create_app(&cluster, "unlucky", "default").await;
    set_status(&cluster, "unlucky", synced("r1", None)).await;
    set_status(&cluster, "unlucky", out_of_sync()).await;
    wait_stored(&cluster, "unlucky", |r| r.open().is_some()).await;

    // The API server fails every write of records (500), then refuses them (422, as a schema
    // would), while the episode ends.
    let writes = |status: u16| {
        FaultRule::status(status)
            .resource("drifthistories.argocd-drift.io")
            .verb(Verb::Update)
    };
    fake.faults().fail_requests(writes(500));
    set_status(
        &cluster,
        "unlucky",
        synced("r1", Some(operation("2026-03-01T00:00:00Z", Some("carol")))),
    )
    .await;
    let h = eventually_some(WAIT, || async {
        let h = history(&app, &cluster, "unlucky", "").await;
        (h["record"]["state"] == "pending" && h["record"]["message"].is_string()).then_some(h)
    })
    .await
    .unwrap();
    // The answer has it already; the store does not.
    assert_eq!(h["episodes"][0]["endCause"], "manualSync");
    assert_eq!(h["episodes"][0]["endedBy"], "carol");
    assert!(stored(&cluster, "unlucky").await.unwrap().open().is_some());
    app.wait_for_metric(
        r#"argocd_drift_history_write_errors_total{reason="unreachable"}"#,
        1.0,
    )
    .await;

    fake.faults().clear();
    fake.faults().fail_requests(writes(422));
    eventually(WAIT, || async {
        metric(
            &app.metrics().await,
            r#"argocd_drift_history_write_errors_total{reason="invalid"}"#,
        )
        .is_some()
    })
    .await
    .expect("a schema refusal is counted");
    assert!(
        app.logs().contains("refused by the API server"),
        "logged with the cause"
    );

    // And a real outage on top: nothing reachable until a retry has hit it.
    let unreachable = r#"argocd_drift_history_write_errors_total{reason="unreachable"}"#;
    let before = metric(&app.metrics().await, unreachable).unwrap_or(0.0);
    fake.faults().set_down(true);
    eventually(WAIT, || async {
        metric(&app.metrics().await, unreachable).unwrap_or(0.0) > before
    })
    .await
    .expect("a retry hits the outage");
    fake.faults().set_down(false);
    fake.faults().clear();
    let record = wait_stored(&cluster, "unlucky", all_closed(1)).await;
    let end = record.episodes[0].end.as_ref().unwrap();
    assert_eq!(
        (end.cause, end.user.as_deref()),
        (EndCause::ManualSync, Some("carol"))
    );
    eventually(WAIT, || async {
        history(&app, &cluster, "unlucky", "").await["record"]["state"] == "stored"
    })
    .await
    .expect("nothing left pending");
}

#[tokio::test]
async fn an_episode_that_ends_while_the_api_server_is_down_is_recorded_when_it_is_back() {
    let (cluster, app) = demo(&[]).await;
    let Some(fake) = cluster.fake_server() else {
        return;
    };
    create_app(&cluster, "outage", "default").await;
    set_status(&cluster, "outage", synced("r1", None)).await;
    set_status(&cluster, "outage", out_of_sync()).await;
    wait_stored(&cluster, "outage", |r| r.open().is_some()).await;

    fake.faults().set_down(true);
    // Argo CD (in the same cluster) syncs meanwhile.
    let store = fake.store();
    let mut obj = store
        .get(
            "argoproj.io/v1alpha1",
            "Application",
            Some(&cluster.ns("argocd")),
            "outage",
        )
        .unwrap();
    obj["status"] = synced("r1", Some(operation("2026-04-01T00:00:00Z", None)));
    store.replace(obj).unwrap();
    // The backend notices the outage: its Application watch is stale.
    let stale = format!(
        r#"argocd_drift_watch_stale{{resource="applications",scope="{}"}}"#,
        cluster.ns("argocd")
    );
    app.wait_for_metric(&stale, 1.0).await;
    fake.faults().set_down(false);

    let record = wait_stored(&cluster, "outage", all_closed(1)).await;
    assert_eq!(
        record.episodes[0].end.as_ref().unwrap().cause,
        EndCause::AutomatedSync
    );
    let h = history(&app, &cluster, "outage", "").await;
    assert_eq!(h["episodes"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn history_pages_newest_first_and_refuses_bad_queries() {
    let (cluster, app) = demo(&[]).await;
    create_app(&cluster, "paged", "default").await;
    set_status(&cluster, "paged", synced("r1", None)).await;
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(set_status(&cluster, "paged", out_of_sync()).await);
        set_status(&cluster, "paged", synced("r1", None)).await;
    }
    wait_stored(&cluster, "paged", all_closed(5)).await;
    let mut seen = Vec::new();
    let mut query = "?limit=2".to_string();
    loop {
        let h = history(&app, &cluster, "paged", &query).await;
        for e in h["episodes"].as_array().unwrap() {
            seen.push(e["id"].as_str().unwrap().to_string());
        }
        match h["nextCursor"].as_str() {
            Some(cursor) => query = format!("?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    ids.reverse();
    assert_eq!(seen, ids, "newest first, each once");

    let header = app_header(&cluster, "argocd", "paged");
    for (query, code) in [
        ("?limit=0", "INVALID_QUERY"),
        ("?limit=1000", "INVALID_QUERY"),
        ("?cursor=not-ours", "INVALID_QUERY"),
        ("?since=yesterday", "UNKNOWN_QUERY_PARAMETER"),
    ] {
        let r = app
            .get_as(&format!("{HISTORY}{query}"), &header, "default", &[])
            .await;
        common::assert_error(&r, 400, code);
    }
    // Behind the gate like every route.
    let r = app.get_as(HISTORY, &header, "team-web", &[]).await;
    common::assert_error(&r, 403, "PROJECT_MISMATCH");
}

#[tokio::test]
async fn the_largest_record_is_accepted_by_the_crd_schema_unchanged() {
    // On a real API server this is the schema's verdict; the fake takes any object.
    let (cluster, _app) = demo(&[]).await;
    let text = "t".repeat(256);
    let resource = |i: usize| Involved {
        group: "g".repeat(253),
        kind: "K".repeat(253),
        namespace: "n".repeat(253),
        name: format!("{i}{}", "x".repeat(252)),
        cause: Some(DriftCause::GitAhead),
        fields: (0..5).map(|f| format!("{f}{}", "p".repeat(255))).collect(),
        managers: (0..5).map(|m| format!("{m}{}", "m".repeat(252))).collect(),
    };
    let now = jiff::Timestamp::now();
    let episodes = (0..20)
        .map(|i| {
            let mut e = closed_episode(1000 + 2 * i as u64, now, now);
            e.start.inferred = i == 0;
            e.start.revision = Some(text.clone());
            e.start.operation = Some(OperationMark {
                started_at: text.clone(),
                running: true,
            });
            let end = e.end.as_mut().unwrap();
            end.cause = EndCause::ManualSync;
            end.user = Some(text.clone());
            end.operation_phase = Some(text.clone());
            end.revision = Some(text.clone());
            e.resources = (0..10).map(resource).collect();
            e.detail_trimmed = true;
            e
        })
        .collect();
    let record = Record {
        episodes,
        pruned: Some(drift_core::history::model::Pruned {
            through_version: "999".into(),
            last_started_at: now,
            count: 7,
        }),
    };
    assert!(record.check().is_ok());
    let api = histories(cluster.client().await.unwrap(), &cluster.ns("argocd"));
    api.create(&Default::default(), &object(&cluster, "largest", &record))
        .await
        .expect("the schema takes the largest record");
    assert_eq!(
        stored(&cluster, "largest").await,
        Some(record),
        "nothing pruned or changed"
    );
}

#[tokio::test]
async fn the_demo_shows_history_for_its_apps() {
    // The demo seeds fixtures/demo-history (the days before it started) next to its apps.
    let cluster = TestCluster::start().await.unwrap();
    let apps = cluster.apply_fixtures("demo").await.unwrap();
    let mut seeded = testenv::load_fixture_dir(&testenv::fixture_dir("demo-history")).unwrap();
    for o in &mut seeded {
        let name = o["spec"]["application"]["name"]
            .as_str()
            .unwrap()
            .to_string();
        o["metadata"]["name"] = format!("{}.{name}", cluster.ns("argocd")).into();
        // Recorded on these apps: ids carry their uid (the API server gave them new ones), as
        // the demo's seeded apps carry the fixture's.
        let uid = apps
            .iter()
            .find(|a| a["kind"] == "Application" && a["metadata"]["name"] == name.as_str())
            .and_then(|a| a["metadata"]["uid"].as_str())
            .unwrap();
        for e in o["status"]["episodes"].as_array_mut().unwrap() {
            let version = e["start"]["version"].as_str().unwrap();
            e["id"] = episode_id(uid, version).into();
        }
    }
    cluster.create_objects(seeded).await.unwrap();
    let app = TestApp::ready(&cluster, &[]).await;

    let payments = app_header(&cluster, "argocd", "payments-api");
    // Three episodes of the past days, and the drift under way, recorded three hours ago: a
    // replica starting now keeps its witnessed start rather than a first sighting.
    let h = eventually_some(WAIT, || async {
        let h = app
            .get_as(HISTORY, &payments, "team-payments", &[])
            .await
            .json();
        (h["episodes"].as_array().map_or(0, Vec::len) == 4 && h["record"]["state"] == "stored")
            .then_some(h)
    })
    .await
    .unwrap();
    let causes: Vec<&Value> = h["episodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["endCause"])
        .collect();
    assert_eq!(
        causes,
        [
            &Value::Null,
            &json!("revertedByHand"),
            &json!("gitChanged"),
            &json!("manualSync")
        ]
    );
    assert_eq!(h["episodes"][0]["ongoing"], true);
    assert_eq!(h["episodes"][0]["startWitnessed"], true);
    let since: jiff::Timestamp = h["current"]["since"].as_str().unwrap().parse().unwrap();
    let age = jiff::Timestamp::now().duration_since(since).as_secs();
    assert!(
        (10_700..11_000).contains(&age),
        "since {since}, {age} s ago"
    );
    let status = app.status(&payments, "team-payments").await.json();
    assert_eq!(status["outOfSync"]["since"], h["current"]["since"]);
    assert_eq!(h["episodes"][3]["endedBy"], "alice@example.com");
    assert_eq!(h["totals"]["episodes7d"], 4);
    assert_eq!(h["totals"]["topManagers"][0]["manager"], "kubectl-edit");
    let guestbook = history(&app, &cluster, "guestbook", "").await;
    assert_eq!(guestbook["episodes"].as_array().unwrap().len(), 2);
    assert_eq!(guestbook["current"], Value::Null);
    assert_eq!(guestbook["totals"]["resolvedEpisodes30d"], 2);
}

/// An episode under way since `started`, witnessed from version `version`, with the uid prefix
/// of no app that exists.
fn open_episode(version: u64, started: jiff::Timestamp) -> Episode {
    let mut episode = closed_episode(version, started, started);
    episode.end = None;
    episode
}

#[tokio::test]
async fn an_episode_whose_app_went_unseen_ends_as_deleted_once_the_apps_are_listed() {
    let cluster = TestCluster::start().await.unwrap();
    cluster.apply_fixtures("demo").await.unwrap();
    // Drifting when every replica went down; meanwhile "ghost" was deleted, and "reborn" deleted
    // and created again (another uid), now Synced.
    create_app(&cluster, "reborn", "default").await;
    set_status(&cluster, "reborn", synced("r1", None)).await;
    let started = jiff::Timestamp::now()
        .checked_sub(jiff::SignedDuration::from_hours(1))
        .unwrap();
    let api = histories(cluster.client().await.unwrap(), &cluster.ns("argocd"));
    for name in ["ghost", "reborn"] {
        let record = Record {
            episodes: vec![open_episode(10, started)],
            pruned: None,
        };
        api.create(&Default::default(), &object(&cluster, name, &record))
            .await
            .unwrap();
    }
    let before_start = jiff::Timestamp::now();
    let app = TestApp::ready(&cluster, &[]).await;

    for name in ["ghost", "reborn"] {
        let record = wait_stored(&cluster, name, all_closed(1)).await;
        let end = record.episodes[0].end.clone().unwrap();
        assert_eq!(
            (end.cause, end.witnessed),
            (EndCause::AppDeleted, false),
            "{name}: {record:#?}"
        );
        assert!(
            end.at.as_second() >= before_start.as_second(),
            "{name}: when it was found, not a guess"
        );
    }
    let h = history(&app, &cluster, "reborn", "").await;
    assert_eq!(h["current"], Value::Null);
    assert_eq!(h["episodes"][0]["endCause"], "appDeleted");
    assert_eq!(h["episodes"][0]["endWitnessed"], false);
    // Nothing reported drifting for them any more.
    for name in ["ghost", "reborn"] {
        let series = format!(
            r#"argocd_drift_app_drifting_seconds{{app="{}:{name}""#,
            cluster.ns("argocd")
        );
        eventually(WAIT, || async { !app.metrics().await.contains(&series) })
            .await
            .unwrap_or_else(|e| panic!("{series}: {e}"));
    }
    let text = app.metrics().await;
    assert!(
        metric(&text, r#"argocd_drift_apps_drifting{project=""}"#).unwrap_or(0.0) == 0.0,
        "{text}"
    );
}
