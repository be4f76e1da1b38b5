//! A dying task: every supervised task, made to end (a return or a panic, through the test
//! hook), takes the process out of readiness, counts and logs the task by name, and makes
//! `serve` fail with [`Fatal`] naming it (`main` then exits non-zero). Fake API server only.
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod common;

use argocd_drift::Fatal;
use argocd_drift::supervisor::FaultKind;
use common::TestApp;
use testenv::TestCluster;
use testenv::http::get;

#[tokio::test]
async fn each_supervised_task_that_ends_makes_the_process_unready_and_fail_naming_it() {
    let cluster = TestCluster::fake().await.unwrap();
    cluster.apply_fixtures("demo").await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let proxy_token = dir.path().join("proxy-token");
    std::fs::write(&proxy_token, format!("{}\n", common::TOKEN)).unwrap();
    let reporters = dir.path().join("reporters");
    std::fs::write(
        &reporters,
        "fleet reporter-token-0123456789abcdef * apps=*:*\n",
    )
    .unwrap();
    let (proxy_token, reporters) = (
        proxy_token.display().to_string(),
        reporters.display().to_string(),
    );
    // Every optional task on: token reloads of both kinds, the enrichment pass. A long delay
    // keeps the dying process serving (not ready) until the test signals.
    let env = [
        ("PROXY_TOKEN", ""),
        ("PROXY_TOKEN_FILE", proxy_token.as_str()),
        ("REPORTS_TOKENS_PATH", reporters.as_str()),
        ("HISTORY_ENRICH_INTERVAL_SECONDS", "300"),
        ("SHUTDOWN_DELAY_SECONDS", "60"),
    ];

    let first = TestApp::ready(&cluster, &env[..4]).await;
    let tasks = first.faults.task_names();
    first.shutdown().await.unwrap();
    for expected in [
        "history recorder",
        "history enrichment",
        "report maintenance",
        "reporter token reload",
        "proxy token reload",
        "listener api",
        "listener reports",
        "listener service",
        "watch applications/*",
    ] {
        let found = tasks.iter().any(|t| t == expected)
            || (expected.ends_with('*')
                && tasks
                    .iter()
                    .any(|t| t.starts_with(expected.trim_end_matches('*'))));
        assert!(found, "{expected} is not supervised: {tasks:?}");
    }
    assert!(
        tasks.iter().any(|t| t.starts_with("watch driftreports/")),
        "{tasks:?}"
    );
    assert!(
        tasks.iter().any(|t| t.starts_with("watch drifthistories/"))
            || tasks.iter().filter(|t| t.starts_with("watch ")).count() >= 5,
        "{tasks:?}"
    );

    for (i, task) in tasks.iter().enumerate() {
        let (kind, how) = if i % 2 == 0 {
            (FaultKind::Panic, "panicked")
        } else {
            (FaultKind::Return, "returned")
        };
        let app = TestApp::ready(&cluster, &env).await;
        app.faults.fail(task, kind);
        if task == "listener service" {
            // The probes' own port is gone: the kubelet's probe fails outright.
            common::eventually(std::time::Duration::from_secs(15), || async {
                get(app.service, "/readyz", &[]).await.is_err()
            })
            .await
            .unwrap_or_else(|e| panic!("{task}: /readyz still answers: {e}"));
        } else {
            app.wait_shutting_down().await;
            app.wait_for_metric(
                &format!(r#"argocd_drift_task_exits_total{{task="{task}",how="{how}"}}"#),
                1.0,
            )
            .await;
        }
        let logs = app.logs();
        app.signal();
        let error = app
            .join()
            .await
            .expect_err("serve must fail when a task ends");
        let fatal = error
            .downcast_ref::<Fatal>()
            .unwrap_or_else(|| panic!("{task}: not a Fatal: {error:#}"));
        assert_eq!(fatal.task(), Some(task.as_str()), "{fatal}");
        assert!(
            logs.lines().any(|l| l.contains("a supervised task ended")
                && l.contains(&format!(r#""task":"{task}""#))
                && l.contains(&format!(r#""how":"{how}""#))),
            "{task}: no log line names it"
        );
    }
}

/// One request can be followed: its log lines carry a `request` span with the id sent back in
/// `X-Request-Id`, the route and the app; a task's lines carry a `task` span naming it.
#[tokio::test]
async fn requests_and_tasks_log_inside_spans_that_name_them() {
    let (cluster, app) = common::demo(&[]).await;
    let guestbook = common::app_header(&cluster, "argocd", "guestbook");
    let r = app
        .get_as("/api/v1/history?limit=0", &guestbook, "default", &[])
        .await;
    assert_eq!(r.status, 400, "{}", String::from_utf8_lossy(&r.body));
    let id = r.header("x-request-id").expect("a request id").to_string();
    let logs = app.logs();
    let line = logs
        .lines()
        .find(|l| l.contains(&id))
        .unwrap_or_else(|| panic!("no log line carries the request id {id}:\n{logs}"));
    let line: serde_json::Value = serde_json::from_str(line).unwrap();
    let span = line["spans"]
        .as_array()
        .and_then(|spans| spans.iter().find(|s| s["name"] == "request"))
        .unwrap_or_else(|| panic!("no request span: {line}"));
    assert_eq!(span["id"], id.as_str());
    assert_eq!(span["route"], "history");
    assert_eq!(span["app"], guestbook.as_str());
    assert_eq!(span["listener"], "api");
    assert!(
        logs.lines().any(|l| l.contains(r#""name":"task""#)
            && l.contains(r#""task":"watch applications/"#)),
        "no line logged inside a watch task's span"
    );
}
