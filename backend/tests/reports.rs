//! External drift reports end to end: the reports port over HTTP, storage as `DriftReport`
//! custom resources on a test cluster (the fake by default, the real kube-apiserver with
//! `DRIFT_TEST_CLUSTER=real`), and the reports through Argo CD's proxy route.
//!
//! Tests named `fake_*` inject faults and run on the fake only; `real_*` need the real server's
//! schema validation and admission and are ignored in plain `cargo test` (`make test-real` runs
//! them).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use fake_apiserver::{FaultRule, Verb};
use futures::TryStreamExt;
use http::Method;
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, Patch, PatchParams,
    PostParams, WatchEvent, WatchParams,
};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::Duration;
use testenv::TestCluster;

const REPORTER: &str = "reporter-token-0123456789abcdef";
const LIMITED: &str = "limited-token-0123456789abcdef";
const READER: &str = "reader-token-0123456789abcdef";
const CONTRACT_EXAMPLE_ACK: &str = r#"{"status":"ok","message":"Status updated successfully"}"#;

/// Token files for a test: a full reporter, one limited to `rsyslog` and `rsyslog-*`, and
/// (when `read`) a read token.
struct Tokens {
    dir: tempfile::TempDir,
}

impl Tokens {
    fn new() -> Tokens {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("reporters"),
            format!(
                "# test reporters\nfleet {REPORTER} * apps=*:*\nrsyslog-checker {LIMITED} rsyslog,rsyslog-*\n"
            ),
        )
        .unwrap();
        std::fs::write(dir.path().join("readers"), format!("{READER}\n")).unwrap();
        Tokens { dir }
    }

    fn reporters(&self) -> PathBuf {
        self.dir.path().join("reporters")
    }

    fn readers(&self) -> PathBuf {
        self.dir.path().join("readers")
    }

    /// The env of a backend using the reporter tokens (and the read tokens if `read`).
    fn env(&self, read: bool) -> Vec<(String, String)> {
        let mut env = vec![(
            "REPORTS_TOKENS_PATH".to_string(),
            self.reporters().display().to_string(),
        )];
        if read {
            env.push((
                "REPORTS_READ_TOKENS_FILE".to_string(),
                self.readers().display().to_string(),
            ));
        }
        env
    }
}

fn env_refs(env: &[(String, String)]) -> Vec<(&str, &str)> {
    env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

/// A cluster with the demo fixtures and a backend with reporter tokens and `extra` env.
async fn start(tokens: &Tokens, extra: &[(&str, &str)]) -> (TestCluster, TestApp) {
    let mut env = tokens.env(false);
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    demo(&env_refs(&env)).await
}

/// RFC 3339, `secs` seconds before now (whole seconds, `Z`).
fn ago(secs: i64) -> String {
    let now = jiff::Timestamp::now()
        .checked_sub(jiff::SignedDuration::from_secs(secs))
        .unwrap();
    jiff::Timestamp::from_second(now.as_second())
        .unwrap()
        .to_string()
}

/// A compat body.
fn body(
    repo: &str,
    server: &str,
    status: &str,
    drift: u64,
    files: &[&str],
    last_check: &str,
) -> String {
    let files: Vec<Value> = files.iter().map(|f| json!({"name": f})).collect();
    json!({"repo": repo, "server": server, "sync_status": status, "drift_count": drift,
        "files": files, "last_check": last_check})
    .to_string()
}

impl TestApp {
    async fn post(&self, token: &str, body: &str) -> testenv::http::Response {
        self.on_reports(Method::POST, "/api/status", Some(token), body)
            .await
    }

    async fn post_v1(&self, token: &str, body: &Value) -> testenv::http::Response {
        self.on_reports(
            Method::POST,
            "/api/v1/reports",
            Some(token),
            &body.to_string(),
        )
        .await
    }

    async fn status_json(&self, query: &str) -> Vec<Value> {
        let r = self
            .on_reports(Method::GET, &format!("/status.json{query}"), None, "")
            .await;
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        r.json().as_array().unwrap().clone()
    }

    /// Waits until `/status.json` satisfies `check`.
    async fn wait_rows(&self, what: &str, check: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        eventually_some(Duration::from_secs(15), || async {
            let rows = self.status_json("").await;
            check(&rows).then_some(rows)
        })
        .await
        .unwrap_or_else(|e| panic!("{what}: {e}"))
    }
}

fn drift_reports(client: kube::Client, ns: &str) -> Api<DynamicObject> {
    let resource = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("argocd-drift.io", "v1alpha1", "DriftReport"),
        "driftreports",
    );
    Api::namespaced_with(client, ns, &resource)
}

async fn stored_objects(cluster: &TestCluster) -> Vec<DynamicObject> {
    drift_reports(cluster.client().await.unwrap(), &cluster.ns("argocd"))
        .list(&Default::default())
        .await
        .unwrap()
        .items
}

fn assert_compat_error(r: &testenv::http::Response, status: u16, message: &str) {
    assert_eq!(
        r.status.as_u16(),
        status,
        "{}",
        String::from_utf8_lossy(&r.body)
    );
    let message = serde_json::to_string(message).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&r.body),
        format!(r#"{{"status":"error","message":{message}}}"#)
    );
    assert_eq!(r.header("content-type"), Some("application/json"));
}

// === the old contract ===

#[tokio::test]
async fn the_compat_contract_holds_byte_for_byte() {
    let tokens = Tokens::new();
    let (_cluster, app) = start(&tokens, &[]).await;
    let last_check = ago(60);
    let example = format!(
        r#"{{"repo":"rsyslog","server":"rsyslog-lab","sync_status":"OUT_OF_SYNC","drift_count":2,
 "files":[{{"name":"rsyslog.conf"}},{{"name":"rsyslog.d/30-lab.conf"}}],"last_check":"{last_check}"}}"#
    );
    let r = app.post(REPORTER, &example).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(String::from_utf8_lossy(&r.body), CONTRACT_EXAMPLE_ACK);

    let invalid = app.post(REPORTER, "{\"repo\": ").await;
    assert_compat_error(&invalid, 400, "Invalid JSON payload");
    let field = app
        .post(
            REPORTER,
            &body("rsyslog", "lab", "synced", 0, &[], &last_check),
        )
        .await;
    assert_compat_error(&field, 400, "sync_status must be SYNCED or OUT_OF_SYNC");

    // /status.json: a top-level array; the old fields, with their names, types and order, first.
    let r = app.on_reports(Method::GET, "/status.json", None, "").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    let text = String::from_utf8(r.body.to_vec()).unwrap();
    let prefix = format!(
        r#"[{{"repo":"rsyslog","server":"rsyslog-lab","sync_status":"OUT_OF_SYNC","drift_count":2,"files":[{{"name":"rsyslog.conf"}},{{"name":"rsyslog.d/30-lab.conf"}}],"last_check":"{last_check}","updated_at":""#
    );
    assert!(text.starts_with(&prefix), "{text}");
    let row = &r.json()[0];
    let updated_at: jiff::Timestamp = row["updated_at"].as_str().unwrap().parse().unwrap();
    assert!(
        jiff::Timestamp::now().duration_since(updated_at) < jiff::SignedDuration::from_secs(30)
    );
    assert_eq!(row["stale"], false);
    assert_eq!(row["files_count"], 2);

    // /health: the old three keys in the old order.
    let r = app.on_reports(Method::GET, "/health", None, "").await;
    assert_eq!(r.status, 200);
    let text = String::from_utf8(r.body.to_vec()).unwrap();
    let health = r.json();
    assert_eq!(
        text,
        format!(
            r#"{{"status":"healthy","timestamp":"{}","tracked_repos":1}}"#,
            health["timestamp"].as_str().unwrap()
        )
    );
    let timestamp = health["timestamp"].as_str().unwrap();
    assert!(
        drift_core::reports::parse::parse_rfc3339(timestamp).is_some(),
        "{timestamp}"
    );

    // A newer POST for the same key replaces the older.
    let synced = body("rsyslog", "rsyslog-lab", "SYNCED", 0, &[], &ago(30));
    assert_eq!(app.post(REPORTER, &synced).await.status, 200);
    let rows = app.status_json("").await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["sync_status"], "SYNCED");
    assert_eq!(rows[0]["files"], json!([]));

    // Wrong methods and unknown paths: refused, never served by another route.
    let r = app.on_reports(Method::GET, "/api/status", None, "").await;
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("POST"));
    assert_eq!(r.json().as_object().unwrap().len(), 2, "the old shape");
    let r = app
        .on_reports(Method::GET, "/api/v1/status", None, "")
        .await;
    assert_error(&r, 404, "ROUTE_NOT_FOUND");
}

#[tokio::test]
async fn every_validation_error_is_refused_with_its_message_and_nothing_is_stored() {
    let tokens = Tokens::new();
    let (_cluster, app) = start(&tokens, &[("MAX_REQUEST_BODY_BYTES", "800000")]).await;
    let good = || -> Value {
        serde_json::from_str(&body(
            "rsyslog",
            "lab",
            "OUT_OF_SYNC",
            1,
            &["a.conf"],
            &ago(10),
        ))
        .unwrap()
    };
    let with = |field: &str, value: Value| {
        let mut b = good();
        b[field] = value;
        b
    };
    let without = |field: &str| {
        let mut b = good();
        b.as_object_mut().unwrap().remove(field);
        b
    };
    let cases: Vec<(Value, &str, &str)> = vec![
        (without("repo"), "MISSING_FIELD", "repo is required"),
        (without("server"), "MISSING_FIELD", "server is required"),
        (
            without("sync_status"),
            "MISSING_FIELD",
            "sync_status is required",
        ),
        (
            without("drift_count"),
            "MISSING_FIELD",
            "drift_count is required",
        ),
        (
            without("last_check"),
            "MISSING_FIELD",
            "last_check is required",
        ),
        (
            with("repo", json!("")),
            "INVALID_FIELD",
            "repo must not be empty",
        ),
        (
            with("repo", json!("a:b")),
            "INVALID_FIELD",
            "repo must not contain ':'",
        ),
        (
            with("repo", json!("r".repeat(254))),
            "INVALID_FIELD",
            "repo must be at most 253 bytes",
        ),
        (
            with("server", json!(["x"])),
            "INVALID_FIELD",
            "server must be a string",
        ),
        (
            with("server", json!("a\u{7}b")),
            "INVALID_FIELD",
            "server must not contain control characters",
        ),
        (
            with("sync_status", json!("DRIFTED")),
            "INVALID_FIELD",
            "sync_status must be SYNCED or OUT_OF_SYNC",
        ),
        (
            with("drift_count", json!(-2)),
            "INVALID_FIELD",
            "drift_count must be an integer from 0 to 2147483647",
        ),
        (
            with("drift_count", json!(0.5)),
            "INVALID_FIELD",
            "drift_count must be an integer from 0 to 2147483647",
        ),
        (
            with("files", json!("a.conf")),
            "INVALID_FIELD",
            "files must be an array",
        ),
        (
            with("files", json!([{}])),
            "MISSING_FIELD",
            "files[0].name is required",
        ),
        (
            with("files", json!(vec![json!({"name": "f"}); 1001])),
            "INVALID_FIELD",
            "files must hold at most 1000 entries",
        ),
        (
            with("files", json!([{"name": "n".repeat(1025)}])),
            "INVALID_FIELD",
            "files[0].name must be at most 1024 bytes",
        ),
        (
            with("last_check", json!("21/04/2026")),
            "INVALID_FIELD",
            "last_check must be an RFC 3339 time such as 2026-04-21T10:32:15Z",
        ),
        (
            with("last_check", json!(ago(-600))),
            "INVALID_FIELD",
            "last_check is more than 300 s in the future",
        ),
    ];
    for (body, code, message) in &cases {
        let r = app.post(REPORTER, &body.to_string()).await;
        assert_compat_error(&r, 400, message);
        let r = app.post_v1(REPORTER, body).await;
        assert_error(&r, 400, code);
        assert_eq!(r.json()["message"], *message);
    }
    // v1 only: unknown fields, the richer fields' rules, the report cap.
    for (body, code, message) in [
        (
            with("host", json!("lab-1")),
            "UNKNOWN_FIELD",
            "unknown field host",
        ),
        (
            with("application", json!("rsyslog")),
            "INVALID_FIELD",
            "application must be namespace:name",
        ),
        (
            with("files", json!([{"name": "a", "state": "gone"}])),
            "INVALID_FIELD",
            "files[0].state must be changed, missing or extra",
        ),
        (
            with(
                "files",
                json!([{"name": "a", "diff": "d".repeat(16 * 1024 + 1)}]),
            ),
            "INVALID_FIELD",
            "files[0].diff must be at most 16384 bytes",
        ),
    ] {
        let r = app.post_v1(REPORTER, &body).await;
        assert_error(&r, 400, code);
        assert_eq!(r.json()["message"], message);
        // The compat route ignores what the old server ignored.
        if code == "UNKNOWN_FIELD" {
            assert_eq!(app.post(REPORTER, &body.to_string()).await.status, 200);
        }
    }
    let big: Vec<Value> = (0..40)
        .map(|i| json!({"name": format!("f{i}"), "diff": "d".repeat(16 * 1024)}))
        .collect();
    let r = app.post_v1(REPORTER, &with("files", json!(big))).await;
    assert_error(&r, 400, "REPORT_TOO_LARGE");
    // Over the body cap: 413, in each route's shape.
    let huge = "x".repeat(800_001);
    let r = app.post(REPORTER, &huge).await;
    assert_compat_error(&r, 413, "request body larger than 800000 bytes");
    assert_error(
        &app.post_v1(REPORTER, &json!(huge)).await,
        413,
        "BODY_TOO_LARGE",
    );

    // Only the one valid compat POST (with an extra field) was stored.
    let rows = app.status_json("").await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    let metrics = app.metrics().await;
    for reason in [
        "missing_field",
        "invalid_field",
        "unknown_field",
        "too_large",
        "body_too_large",
    ] {
        let n = metric(
            &metrics,
            &format!(r#"argocd_drift_report_rejections_total{{reason="{reason}"}}"#),
        );
        assert!(n.is_some_and(|n| n >= 1.0), "{reason}: {metrics}");
    }
}

// === tokens ===

#[tokio::test]
async fn reports_need_a_token_limited_tokens_only_their_repos_and_no_token_is_ever_logged() {
    let tokens = Tokens::new();
    let mut env = tokens.env(true);
    env.push(("REPORTS_TOKENS_RELOAD_SECONDS".into(), "1".into()));
    let (_cluster, app) = demo(&env_refs(&env)).await;
    let report = body("rsyslog", "lab", "SYNCED", 0, &[], &ago(5));

    let none = app
        .on_reports(Method::POST, "/api/status", None, &report)
        .await;
    assert_compat_error(
        &none,
        401,
        "missing reporter credentials: send Authorization: Bearer <token>",
    );
    assert_eq!(
        none.header("www-authenticate"),
        Some("Bearer realm=\"argocd-drift-reports\"")
    );
    let wrong = app.post("wrong-token-0123456789abcdef", &report).await;
    assert_compat_error(&wrong, 401, "invalid reporter credentials");
    let v1_wrong = app
        .post_v1(READER, &serde_json::from_str(&report).unwrap())
        .await;
    assert_error(&v1_wrong, 401, "INVALID_CREDENTIALS");

    // The limited token: its repos and prefixes only.
    assert_eq!(app.post(LIMITED, &report).await.status, 200);
    let prefixed = body("rsyslog-edge", "lab", "SYNCED", 0, &[], &ago(5));
    assert_eq!(app.post(LIMITED, &prefixed).await.status, 200);
    let other = body("nginx", "web-1", "SYNCED", 0, &[], &ago(5));
    let refused = app.post(LIMITED, &other).await;
    assert_compat_error(
        &refused,
        403,
        "the token of reporter \"rsyslog-checker\" may not report on repo \"nginx\"",
    );
    let refused = app
        .post_v1(LIMITED, &serde_json::from_str(&other).unwrap())
        .await;
    assert_error(&refused, 403, "REPO_NOT_ALLOWED");
    let delete = app
        .on_reports(
            Method::DELETE,
            "/api/v1/reports?repo=nginx&server=web-1",
            Some(LIMITED),
            "",
        )
        .await;
    assert_error(&delete, 403, "REPO_NOT_ALLOWED");
    assert_eq!(app.post(REPORTER, &other).await.status, 200);

    // Reads: the read token, and only it.
    let r = app.on_reports(Method::GET, "/status.json", None, "").await;
    assert_compat_error(
        &r,
        401,
        "missing reporter credentials: send Authorization: Bearer <token>",
    );
    let r = app
        .on_reports(Method::GET, "/status.json", Some(REPORTER), "")
        .await;
    assert_eq!(r.status, 401);
    let r = app
        .on_reports(Method::GET, "/status.json", Some(READER), "")
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json().as_array().unwrap().len(), 3);
    assert_eq!(
        app.on_reports(Method::GET, "/health", None, "")
            .await
            .status,
        200
    );

    // A removed token stops working, an added one starts, without a restart.
    std::fs::write(
        tokens.reporters(),
        format!("fleet {REPORTER}\nnewcomer newcomer-token-0123456789\n"),
    )
    .unwrap();
    eventually(Duration::from_secs(10), || async {
        app.post("newcomer-token-0123456789", &report).await.status == 200
            && app.post(LIMITED, &report).await.status == 401
    })
    .await
    .expect("the token file is re-read");

    let metrics = app.metrics().await;
    assert!(
        metric(
            &metrics,
            r#"argocd_drift_report_rejections_total{reason="repo_not_allowed"}"#
        )
        .is_some()
    );
    assert!(
        metric(
            &metrics,
            r#"argocd_drift_rejected_requests_total{code="REPO_NOT_ALLOWED"}"#
        )
        .is_some()
    );
    let logs = app.logs();
    assert!(
        logs.contains("rsyslog-checker") || logs.contains("\"reporter\""),
        "reporters are named in logs"
    );
    for secret in [
        REPORTER,
        LIMITED,
        READER,
        "wrong-token-0123456789abcdef",
        "newcomer-token-0123456789",
    ] {
        assert!(!logs.contains(secret), "a token was logged");
    }
}

#[tokio::test]
async fn the_insecure_flag_accepts_reports_without_a_token() {
    let tokens = Tokens::new();
    let (_cluster, app) = start(&tokens, &[("REPORTS_INSECURE_NO_AUTH", "true")]).await;
    let r = app
        .on_reports(
            Method::POST,
            "/api/status",
            None,
            &body("demo", "lab", "SYNCED", 0, &[], &ago(1)),
        )
        .await;
    assert_eq!(r.status, 200);
    assert!(app.logs().contains("REPORTS_INSECURE_NO_AUTH is set"));
}

// === storage ===

#[tokio::test]
async fn reports_survive_a_restart_and_a_crash_loses_only_freshness() {
    let tokens = Tokens::new();
    let env = tokens.env(false);
    let cluster = TestCluster::start().await.unwrap();
    cluster.apply_fixtures("demo").await.unwrap();
    let app = TestApp::ready(&cluster, &env_refs(&env)).await;
    let first = ago(120);
    assert_eq!(
        app.post(
            REPORTER,
            &body(
                "rsyslog",
                "lab",
                "OUT_OF_SYNC",
                2,
                &["a.conf", "b.conf"],
                &first
            )
        )
        .await
        .status,
        200
    );
    // A heartbeat: acknowledged now, written within the interval — or at a graceful shutdown.
    let beat = ago(60);
    assert_eq!(
        app.post(
            REPORTER,
            &body(
                "rsyslog",
                "lab",
                "OUT_OF_SYNC",
                2,
                &["a.conf", "b.conf"],
                &beat
            )
        )
        .await
        .status,
        200
    );
    assert_eq!(app.status_json("").await[0]["last_check"], beat);
    app.shutdown().await.unwrap();

    let app = TestApp::ready(&cluster, &env_refs(&env)).await;
    let rows = app.status_json("").await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["sync_status"], "OUT_OF_SYNC");
    assert_eq!(
        rows[0]["files"],
        json!([{"name": "a.conf"}, {"name": "b.conf"}])
    );
    assert_eq!(rows[0]["last_check"], beat, "flushed at shutdown");

    // A change is written before the answer; a heartbeat after it may be lost in a crash.
    let change = ago(30);
    assert_eq!(
        app.post(REPORTER, &body("rsyslog", "lab", "SYNCED", 0, &[], &change))
            .await
            .status,
        200
    );
    let stored = stored_objects(&cluster).await;
    assert_eq!(
        stored[0].data["spec"]["syncStatus"], "SYNCED",
        "durable before the 200"
    );
    assert_eq!(
        app.post(
            REPORTER,
            &body("rsyslog", "lab", "SYNCED", 0, &[], &ago(10))
        )
        .await
        .status,
        200
    );
    drop(app); // a crash: no shutdown, no flush

    let app = TestApp::ready(&cluster, &env_refs(&env)).await;
    let rows = app.status_json("").await;
    assert_eq!(
        rows[0]["sync_status"], "SYNCED",
        "the status change survived"
    );
    assert_eq!(
        rows[0]["last_check"], change,
        "only the heartbeat's freshness was lost"
    );
}

/// The writer's promise: a heartbeat is acknowledged at once, served from memory, and written by
/// the first write round after it; rounds come every `REPORT_HEARTBEAT_WRITE_SECONDS`, checked on
/// a one-second tick, and one write takes at most `KUBE_REQUEST_TIMEOUT_SECONDS`. The write is
/// awaited through a watch opened before the heartbeat (the API server's event is the signal),
/// for no longer than that promise.
#[tokio::test]
async fn heartbeats_are_written_behind_within_the_interval() {
    const INTERVAL_SECONDS: u64 = 1;
    const KUBE_REQUEST_TIMEOUT_SECONDS: u64 = 15;
    const TICK_SECONDS: u64 = 1;
    let tokens = Tokens::new();
    let (interval, kube_timeout) = (
        INTERVAL_SECONDS.to_string(),
        KUBE_REQUEST_TIMEOUT_SECONDS.to_string(),
    );
    let (cluster, app) = start(
        &tokens,
        &[
            ("REPORT_HEARTBEAT_WRITE_SECONDS", &interval),
            ("KUBE_REQUEST_TIMEOUT_SECONDS", &kube_timeout),
        ],
    )
    .await;
    let report = |at: &str| body("nginx", "web-1", "OUT_OF_SYNC", 1, &["nginx.conf"], at);
    assert_eq!(app.post(REPORTER, &report(&ago(20))).await.status, 200);
    let api = drift_reports(cluster.client().await.unwrap(), &cluster.ns("argocd"));
    let created = api.list(&Default::default()).await.unwrap().items.remove(0);
    let events = api
        .watch(
            &WatchParams::default(),
            created.metadata.resource_version.as_deref().unwrap(),
        )
        .await
        .unwrap();
    let beat = ago(5);
    let r = app
        .post_v1(REPORTER, &serde_json::from_str(&report(&beat)).unwrap())
        .await;
    assert_eq!(r.json()["outcome"], "heartbeat");
    assert_eq!(
        app.status_json("").await[0]["last_check"],
        beat,
        "served at once"
    );
    let promise =
        Duration::from_secs(INTERVAL_SECONDS + TICK_SECONDS + KUBE_REQUEST_TIMEOUT_SECONDS);
    let written = tokio::time::timeout(promise, async {
        futures::pin_mut!(events);
        while let Some(event) = events.try_next().await.unwrap() {
            match event {
                WatchEvent::Modified(o) if o.data["spec"]["lastCheck"] == beat.as_str() => {
                    return Ok(o);
                }
                WatchEvent::Error(e) => return Err(format!("the watch failed: {e:?}")),
                _ => {}
            }
        }
        Err("the watch ended before the write".to_string())
    })
    .await;
    match written {
        Ok(Ok(_)) => {}
        Ok(Err(why)) => panic!("{why}"),
        Err(_) => {
            let metrics = app.metrics().await;
            panic!(
                "the heartbeat was not written within {promise:?} of its acknowledgement; \
                 pending heartbeats: {:?}, stored lastCheck: {}",
                metric(&metrics, "argocd_drift_report_heartbeats_pending"),
                stored_objects(&cluster).await[0].data["spec"]["lastCheck"]
            );
        }
    }
    // An older report than the one held is not stored: the newest last_check wins.
    let r = app
        .post_v1(
            REPORTER,
            &serde_json::from_str(&body("nginx", "web-1", "SYNCED", 0, &[], &ago(60))).unwrap(),
        )
        .await;
    assert_eq!(r.json()["outcome"], "superseded");
    assert_eq!(app.status_json("").await[0]["sync_status"], "OUT_OF_SYNC");
    let metrics = app.metrics().await;
    assert_eq!(
        metric(
            &metrics,
            r#"argocd_drift_report_ingests_total{api="v1",outcome="heartbeat"}"#
        ),
        Some(1.0)
    );
    assert_eq!(
        metric(
            &metrics,
            r#"argocd_drift_report_ingests_total{api="compat",outcome="created"}"#
        ),
        Some(1.0)
    );
}

#[tokio::test]
async fn two_backends_on_one_cluster_serve_each_others_reports() {
    let tokens = Tokens::new();
    let env = tokens.env(false);
    let (cluster, a) = demo(&env_refs(&env)).await;
    let b = TestApp::ready(&cluster, &env_refs(&env)).await;
    assert_eq!(
        a.post(
            REPORTER,
            &body("rsyslog", "lab", "OUT_OF_SYNC", 1, &["x"], &ago(50))
        )
        .await
        .status,
        200
    );
    b.wait_rows("B sees A's report", |rows| {
        rows.len() == 1 && rows[0]["repo"] == "rsyslog"
    })
    .await;
    assert_eq!(
        b.post(
            REPORTER,
            &body("rsyslog", "lab", "SYNCED", 0, &[], &ago(40))
        )
        .await
        .status,
        200
    );
    a.wait_rows("A sees B's change", |rows| {
        rows.len() == 1 && rows[0]["sync_status"] == "SYNCED"
    })
    .await;
    // A delete on one is gone from both.
    let r = b
        .on_reports(
            Method::DELETE,
            "/api/v1/reports?repo=rsyslog&server=lab",
            Some(REPORTER),
            "",
        )
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(
        r.json(),
        json!({"status": "ok", "key": "rsyslog:lab", "deleted": true})
    );
    a.wait_rows("A sees the delete", <[Value]>::is_empty).await;
    let again = b
        .on_reports(
            Method::DELETE,
            "/api/v1/reports?repo=rsyslog&server=lab",
            Some(REPORTER),
            "",
        )
        .await;
    assert_error(&again, 404, "REPORT_NOT_FOUND");
}

#[tokio::test]
async fn concurrent_posts_for_one_key_from_two_backends_end_with_the_newest() {
    let tokens = Tokens::new();
    let env = tokens.env(false);
    let (cluster, a) = demo(&env_refs(&env)).await;
    let b = TestApp::ready(&cluster, &env_refs(&env)).await;
    let base = jiff::Timestamp::now().as_second() - 200;
    let mut posts = Vec::new();
    for i in 0..24u64 {
        let target = if i % 2 == 0 { a.reports } else { b.reports };
        let at = jiff::Timestamp::from_second(base + i as i64)
            .unwrap()
            .to_string();
        let status = if i % 3 == 0 { "SYNCED" } else { "OUT_OF_SYNC" };
        let report = body("rsyslog", "lab", status, i, &[], &at);
        posts.push(tokio::spawn(async move {
            let auth = format!("Bearer {REPORTER}");
            testenv::http::send(
                target,
                Method::POST,
                "/api/v1/reports",
                &[("Authorization", &auth)],
                report.into(),
            )
            .await
            .unwrap()
        }));
    }
    for post in posts {
        let r = post.await.unwrap();
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    }
    for app in [&a, &b] {
        app.wait_rows("the newest report wins on both", |rows| {
            rows.len() == 1 && rows[0]["drift_count"] == 23
        })
        .await;
    }
    let stored = stored_objects(&cluster).await;
    assert_eq!(stored.len(), 1, "one object per key");
    assert_eq!(stored[0].data["spec"]["driftCount"], 23);
}

#[tokio::test]
async fn reports_turn_stale_then_expire() {
    let tokens = Tokens::new();
    let (cluster, app) = start(
        &tokens,
        &[
            ("REPORT_HEARTBEAT_WRITE_SECONDS", "1"),
            ("REPORT_STALE_AFTER_SECONDS", "2"),
            ("REPORT_EXPIRE_AFTER_SECONDS", "4"),
        ],
    )
    .await;
    assert_eq!(
        app.post(
            REPORTER,
            &body("rsyslog", "lab", "OUT_OF_SYNC", 1, &["x"], &ago(0))
        )
        .await
        .status,
        200
    );
    assert_eq!(app.status_json("").await[0]["stale"], false);
    app.wait_rows("stale", |rows| {
        rows.first().is_some_and(|r| r["stale"] == true)
    })
    .await;
    assert_eq!(app.status_json("?stale=true").await.len(), 1);
    app.wait_for_metric("argocd_drift_reports_stale", 1.0).await;
    app.wait_rows("expired", <[Value]>::is_empty).await;
    assert!(
        stored_objects(&cluster).await.is_empty(),
        "the object is deleted"
    );
}

#[tokio::test]
async fn status_json_filters_each_field_and_keeps_a_stable_order() {
    let tokens = Tokens::new();
    let (cluster, app) = start(&tokens, &[]).await;
    for (repo, server, status) in [
        ("rsyslog", "lab-2", "OUT_OF_SYNC"),
        ("nginx", "web-1", "SYNCED"),
        ("rsyslog", "lab-1", "SYNCED"),
    ] {
        let drift = u64::from(status == "OUT_OF_SYNC");
        assert_eq!(
            app.post(REPORTER, &body(repo, server, status, drift, &[], &ago(30)))
                .await
                .status,
            200
        );
    }
    let named = json!({"repo": "chrony", "server": "ntp-1", "sync_status": "OUT_OF_SYNC", "drift_count": 1,
        "files": [{"name": "chrony.conf", "state": "changed"}], "last_check": ago(30),
        "application": format!("{}:guestbook", cluster.ns("argocd"))});
    assert_eq!(app.post_v1(REPORTER, &named).await.status, 200);
    // A report a reporter wrote directly, two hours old: stale.
    create_directly(&cluster, "legacy-report", "bind", "dns-1", &ago(7200)).await;
    let rows = app
        .wait_rows("the direct report", |rows| rows.len() == 5)
        .await;
    let keys: Vec<String> = rows
        .iter()
        .map(|r| {
            format!(
                "{}:{}",
                r["repo"].as_str().unwrap(),
                r["server"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        keys,
        [
            "bind:dns-1",
            "chrony:ntp-1",
            "nginx:web-1",
            "rsyslog:lab-1",
            "rsyslog:lab-2"
        ]
    );
    assert_eq!(
        rows[1]["files"],
        json!([{"name": "chrony.conf", "state": "changed"}])
    );

    let keys_of = |rows: Vec<Value>| -> Vec<String> {
        rows.iter()
            .map(|r| {
                format!(
                    "{}:{}",
                    r["repo"].as_str().unwrap(),
                    r["server"].as_str().unwrap()
                )
            })
            .collect()
    };
    let guestbook = format!("{}:guestbook", cluster.ns("argocd"));
    for (query, expected) in [
        (
            "?repo=rsyslog".to_string(),
            vec!["rsyslog:lab-1", "rsyslog:lab-2"],
        ),
        ("?server=web-1".to_string(), vec!["nginx:web-1"]),
        (
            "?sync_status=OUT_OF_SYNC".to_string(),
            vec!["bind:dns-1", "chrony:ntp-1", "rsyslog:lab-2"],
        ),
        (format!("?application={guestbook}"), vec!["chrony:ntp-1"]),
        ("?stale=true".to_string(), vec!["bind:dns-1"]),
        (
            "?stale=false&repo=rsyslog&sync_status=SYNCED".to_string(),
            vec!["rsyslog:lab-1"],
        ),
        (
            "?repo=&server=&_=1700000000".to_string(),
            vec![
                "bind:dns-1",
                "chrony:ntp-1",
                "nginx:web-1",
                "rsyslog:lab-1",
                "rsyslog:lab-2",
            ],
        ),
    ] {
        assert_eq!(keys_of(app.status_json(&query).await), expected, "{query}");
    }
    for (query, message) in [
        (
            "?sync_status=synced",
            "invalid query: sync_status must be SYNCED or OUT_OF_SYNC",
        ),
        ("?stale=yes", "invalid query: stale must be true or false"),
        (
            "?application=guestbook",
            "invalid query: application must be namespace:name",
        ),
    ] {
        let r = app
            .on_reports(Method::GET, &format!("/status.json{query}"), None, "")
            .await;
        assert_compat_error(&r, 400, message);
    }
    // A POST for the directly created report's key updates that object; no second one appears.
    let now = ago(1);
    assert_eq!(
        app.post(REPORTER, &body("bind", "dns-1", "SYNCED", 0, &[], &now))
            .await
            .status,
        200
    );
    let objects = stored_objects(&cluster).await;
    assert_eq!(objects.len(), 5);
    let legacy = objects
        .iter()
        .find(|o| o.metadata.name.as_deref() == Some("legacy-report"))
        .unwrap();
    assert_eq!(legacy.data["spec"]["lastCheck"], now.as_str());
    assert_eq!(legacy.data["spec"]["syncStatus"], "SYNCED");
    assert_eq!(app.status_json("?repo=bind").await[0]["stale"], false);
}

/// Creates a `DriftReport` the way a reporter with `kubectl` would.
async fn create_directly(
    cluster: &TestCluster,
    name: &str,
    repo: &str,
    server: &str,
    last_check: &str,
) {
    let object: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "argocd-drift.io/v1alpha1",
        "kind": "DriftReport",
        "metadata": {"name": name, "namespace": cluster.ns("argocd")},
        "spec": {"repo": repo, "server": server, "syncStatus": "OUT_OF_SYNC", "driftCount": 1,
            "files": [{"name": "named.conf"}], "lastCheck": last_check}
    }))
    .unwrap();
    drift_reports(cluster.client().await.unwrap(), &cluster.ns("argocd"))
        .create(&PostParams::default(), &object)
        .await
        .unwrap();
}

// === through Argo CD's proxy ===

#[tokio::test]
async fn through_the_proxy_an_app_sees_only_its_own_reports() {
    let tokens = Tokens::new();
    let (cluster, app) = start(&tokens, &[]).await;
    let argocd = cluster.ns("argocd");
    // payments-api links the repo `billing-conf` by annotation; guestbook is named by a report.
    applications(cluster.client().await.unwrap(), &argocd)
        .patch(
            "payments-api",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"annotations": {"argocd-drift.io/report-repos": "billing-conf, rsyslog:pay-1"}}})),
        )
        .await
        .unwrap();
    let v1 = |repo: &str, server: &str, app: Option<String>| {
        let mut b: Value =
            serde_json::from_str(&body(repo, server, "OUT_OF_SYNC", 1, &["f.conf"], &ago(20)))
                .unwrap();
        b["files"] = json!([{"name": "f.conf", "state": "changed", "diff": "-a\n+b"}]);
        if let Some(app) = app {
            b["application"] = app.into();
        }
        b
    };
    for report in [
        v1(
            "guestbook-conf",
            "gb-1",
            Some(format!("{argocd}:guestbook")),
        ),
        v1("billing-conf", "bill-1", None),
        v1("billing-conf", "bill-2", None),
        v1("rsyslog", "pay-1", None),
        v1("rsyslog", "other-1", None),
        v1(
            "unrelated",
            "x-1",
            Some(format!("{}:guestbook", cluster.ns("team-apps"))),
        ),
    ] {
        assert_eq!(app.post_v1(REPORTER, &report).await.status, 200);
    }
    let keys = |r: &testenv::http::Response| -> Vec<String> {
        r.json()["reports"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["key"].as_str().unwrap().to_string())
            .collect()
    };
    let guestbook = app
        .get_as(
            "/api/v1/reports",
            &app_header(&cluster, "argocd", "guestbook"),
            "default",
            &[],
        )
        .await;
    assert_eq!(guestbook.status, 200);
    assert_eq!(keys(&guestbook), ["guestbook-conf:gb-1"]);
    let report = &guestbook.json()["reports"][0];
    assert_eq!(report["linkedBy"], "report");
    assert_eq!(
        guestbook.json()["data"],
        json!({"stale": false, "staleSince": null})
    );
    assert_eq!(
        report["files"][0],
        json!({"name": "f.conf", "state": "changed", "diff": "-a\n+b"})
    );
    let payments = eventually_some(Duration::from_secs(15), || async {
        let r = app
            .get_as(
                "/api/v1/reports",
                &app_header(&cluster, "argocd", "payments-api"),
                "team-payments",
                &[],
            )
            .await;
        (keys(&r).len() == 3).then_some(r)
    })
    .await
    .expect("the annotation links reports");
    assert_eq!(
        keys(&payments),
        [
            "billing-conf:bill-1",
            "billing-conf:bill-2",
            "rsyslog:pay-1"
        ]
    );
    assert_eq!(payments.json()["reports"][0]["linkedBy"], "annotation");
    assert_eq!(
        payments.json()["summary"],
        json!({"count": 3, "outOfSync": 3, "stale": 0})
    );
    // The status document carries the summary; an app without reports counts zero.
    let status = app
        .status(
            &app_header(&cluster, "argocd", "payments-api"),
            "team-payments",
        )
        .await;
    assert_eq!(
        status.json()["reports"],
        json!({"count": 3, "outOfSync": 3, "stale": 0})
    );
    let web = app
        .status(&app_header(&cluster, "argocd", "web-frontend"), "team-web")
        .await;
    assert_eq!(
        web.json()["reports"],
        json!({"count": 0, "outOfSync": 0, "stale": 0})
    );
    // The gate still applies: another project's header is refused.
    let refused = app
        .get_as(
            "/api/v1/reports",
            &app_header(&cluster, "argocd", "payments-api"),
            "default",
            &[],
        )
        .await;
    assert_error(&refused, 403, "PROJECT_MISMATCH");
    // /status.json names the linked apps.
    let rows = app.status_json("?repo=billing-conf").await;
    assert_eq!(
        rows[0]["applications"],
        json!([format!("{argocd}:payments-api")])
    );
    assert!(
        rows[0].get("application").is_none(),
        "absent when the report names no app"
    );
}

// === what the API server refuses ===

#[tokio::test]
async fn fake_a_refused_or_failed_write_is_an_error_and_no_report_is_lost() {
    let tokens = Tokens::new();
    let cluster = TestCluster::fake().await.unwrap();
    cluster.apply_fixtures("demo").await.unwrap();
    let mut env = tokens.env(false);
    // Every change written before its answer (none queued behind a recent one).
    env.push(("REPORT_CONTENT_WRITE_SECONDS".into(), "0".into()));
    let app = TestApp::ready(&cluster, &env_refs(&env)).await;
    let fake = cluster.fake_server().unwrap();
    fake.faults().fail_requests(
        FaultRule::status(422)
            .verb(Verb::Create)
            .resource("driftreports.argocd-drift.io")
            .times(1),
    );
    let report = body("rsyslog", "lab", "OUT_OF_SYNC", 1, &["a"], &ago(10));
    let refused = app.post(REPORTER, &report).await;
    assert_eq!(
        refused.status,
        422,
        "{}",
        String::from_utf8_lossy(&refused.body)
    );
    assert_eq!(
        refused.json().as_object().unwrap().len(),
        2,
        "the old shape"
    );
    assert!(
        refused.json()["message"]
            .as_str()
            .unwrap()
            .starts_with("the Kubernetes API server refused to store the report")
    );
    assert!(
        app.status_json("").await.is_empty(),
        "not acknowledged, not served"
    );
    assert!(app.logs().contains("is the DriftReport CRD up to date?"));
    // The reporter retries: stored.
    assert_eq!(app.post(REPORTER, &report).await.status, 200);

    // The API server away: 503 with Retry-After, nothing acknowledged; back: stored.
    fake.faults().set_down(true);
    let change = body("rsyslog", "lab", "SYNCED", 0, &[], &ago(5));
    let away = app
        .post_v1(REPORTER, &serde_json::from_str(&change).unwrap())
        .await;
    assert_error(&away, 503, "STORAGE_UNAVAILABLE");
    assert_eq!(away.header("retry-after"), Some("1"));
    assert_eq!(app.status_json("").await[0]["sync_status"], "OUT_OF_SYNC");
    fake.faults().set_down(false);
    eventually(Duration::from_secs(20), || async {
        app.post(REPORTER, &change).await.status == 200
    })
    .await
    .expect("stored once the API server is back");
    assert_eq!(
        stored_objects(&cluster).await[0].data["spec"]["syncStatus"],
        "SYNCED"
    );
    let metrics = app.metrics().await;
    assert!(
        metric(
            &metrics,
            r#"argocd_drift_report_rejections_total{reason="storage_rejected"}"#
        )
        .is_some()
    );
    assert!(
        metric(
            &metrics,
            r#"argocd_drift_report_rejections_total{reason="storage_unavailable"}"#
        )
        .is_some()
    );
}

#[tokio::test]
#[ignore = "needs the real kube-apiserver (make test-real)"]
async fn real_the_crd_schema_accepts_what_the_backend_writes_and_shows_useful_columns() {
    if std::env::var("DRIFT_TEST_CLUSTER").as_deref() != Ok("real") {
        return;
    }
    let tokens = Tokens::new();
    let (cluster, app) = start(&tokens, &[]).await;
    // Every bound at its limit, every form of time the parser accepts.
    let long = "r".repeat(253);
    // 1000 files, one with the longest name, all names together just under the report cap.
    let files: Vec<Value> = (0..1000)
        .map(|i| {
            let width = if i == 0 { 1021 } else { 497 };
            let state = ["changed", "missing", "extra"][i % 3];
            json!({"name": format!("{i:0>width$}.cf"), "state": state})
        })
        .collect();
    let mut with_diffs = files.clone();
    for f in with_diffs.iter_mut().take(20) {
        f["diff"] = "d".repeat(16 * 1024).into();
    }
    let offset_time = {
        let t = jiff::Timestamp::now()
            .checked_sub(jiff::SignedDuration::from_secs(30))
            .unwrap();
        t.to_zoned(jiff::tz::TimeZone::fixed(jiff::tz::offset(2)))
            .strftime("%Y-%m-%dT%H:%M:%S%.3f%:z")
            .to_string()
    };
    for (i, (repo, files, last_check)) in [
        (long.clone(), json!(files), ago(20)),
        (
            "schema-diffs".to_string(),
            json!(with_diffs[..20].to_vec()),
            offset_time.clone(),
        ),
        (
            "schema-lower".to_string(),
            json!([]),
            ago(20).replace('T', "t").replace('Z', "z"),
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let report = json!({"repo": repo, "server": format!("server:{i} ü"), "sync_status": "OUT_OF_SYNC",
            "drift_count": 2147483647u64, "files": files, "last_check": last_check,
            "application": format!("{}:{}", "n".repeat(63), "a".repeat(253))});
        let r = app.post_v1(REPORTER, &report).await;
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    }
    assert_eq!(stored_objects(&cluster).await.len(), 3);
    // `kubectl get driftreports`: the printer columns.
    let client = cluster.client().await.unwrap();
    let request = http::Request::get(format!(
        "/apis/argocd-drift.io/v1alpha1/namespaces/{}/driftreports",
        cluster.ns("argocd")
    ))
    .header("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io")
    .body(Vec::new())
    .unwrap();
    let table: Value = client.request(request).await.unwrap();
    let columns: Vec<&str> = table["columnDefinitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        columns,
        [
            "Name",
            "Repo",
            "Server",
            "Status",
            "Drift",
            "Last-Check",
            "Updated",
            "Application",
            "Age"
        ]
    );
}

#[tokio::test]
#[ignore = "needs the real kube-apiserver (make test-real)"]
async fn real_a_write_the_api_server_refuses_is_a_clear_error_not_a_lost_report() {
    if std::env::var("DRIFT_TEST_CLUSTER").as_deref() != Ok("real") {
        return;
    }
    let cluster = TestCluster::start().await.unwrap();
    cluster.apply_fixtures("demo").await.unwrap();
    let ns = cluster.ns("argocd");
    let client = cluster.client().await.unwrap();
    // The schema refuses what the parser would too, naming the field.
    let bad: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "argocd-drift.io/v1alpha1", "kind": "DriftReport",
        "metadata": {"name": "bad", "namespace": ns},
        "spec": {"repo": "a:b", "server": "s", "syncStatus": "MAYBE", "driftCount": -1, "lastCheck": "yesterday",
            "files": [{"name": ""}]}
    }))
    .unwrap();
    let err = drift_reports(client.clone(), &ns)
        .create(&PostParams::default(), &bad)
        .await
        .unwrap_err();
    let text = err.to_string();
    for field in [
        "spec.repo",
        "spec.syncStatus",
        "spec.driftCount",
        "spec.lastCheck",
        "spec.files[0].name",
    ] {
        assert!(text.contains(field), "{field} not named in: {text}");
    }

    // An admission policy refuses one repo in this namespace: the backend's write is refused.
    let policy = format!("drift-refuse-{ns}");
    let policies = Api::<DynamicObject>::all_with(
        client.clone(),
        &ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk(
                "admissionregistration.k8s.io",
                "v1",
                "ValidatingAdmissionPolicy",
            ),
            "validatingadmissionpolicies",
        ),
    );
    let bindings = Api::<DynamicObject>::all_with(
        client.clone(),
        &ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk(
                "admissionregistration.k8s.io",
                "v1",
                "ValidatingAdmissionPolicyBinding",
            ),
            "validatingadmissionpolicybindings",
        ),
    );
    policies.create(&PostParams::default(), &serde_json::from_value(json!({
        "apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": policy},
        "spec": {"failurePolicy": "Fail",
            "matchConstraints": {"resourceRules": [{"apiGroups": ["argocd-drift.io"], "apiVersions": ["*"],
                "operations": ["CREATE", "UPDATE"], "resources": ["driftreports"]}]},
            "validations": [{"expression": "object.spec.repo != 'refused-by-policy'", "reason": "Invalid",
                "message": "repo refused-by-policy is not allowed here"}]}
    })).unwrap()).await.unwrap();
    bindings.create(&PostParams::default(), &serde_json::from_value(json!({
        "apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": policy},
        "spec": {"policyName": policy, "validationActions": ["Deny"],
            "matchResources": {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": ns}}}}
    })).unwrap()).await.unwrap();

    // Policies take a moment to load: wait until one refuses a direct write.
    let reports = drift_reports(client.clone(), &ns);
    let mut n = 0;
    eventually(Duration::from_secs(30), || {
        n += 1;
        let reports = reports.clone();
        let object: DynamicObject = serde_json::from_value(json!({
            "apiVersion": "argocd-drift.io/v1alpha1", "kind": "DriftReport",
            "metadata": {"name": format!("probe-{n}"), "namespace": ns},
            "spec": {"repo": "refused-by-policy", "server": "probe", "syncStatus": "SYNCED", "driftCount": 0,
                "lastCheck": "2026-01-01T00:00:00Z"}
        }))
        .unwrap();
        async move {
            match reports.create(&PostParams::default(), &object).await {
                Err(kube::Error::Api(status)) => status.code == 422,
                Ok(made) => {
                    let name = made.metadata.name.unwrap_or_default();
                    let _ = reports.delete(&name, &DeleteParams::default()).await;
                    false
                }
                Err(_) => false,
            }
        }
    })
    .await
    .expect("the admission policy takes effect");

    let tokens = Tokens::new();
    let env = tokens.env(false);
    let app = TestApp::ready(&cluster, &env_refs(&env)).await;
    let report = body(
        "refused-by-policy",
        "lab",
        "OUT_OF_SYNC",
        1,
        &["a"],
        &ago(5),
    );
    let refused = app.post(REPORTER, &report).await;
    assert_eq!(
        refused.status,
        422,
        "{}",
        String::from_utf8_lossy(&refused.body)
    );
    let message = refused.json()["message"].as_str().unwrap().to_string();
    assert!(
        message.contains("repo refused-by-policy is not allowed here"),
        "{message}"
    );
    assert!(
        app.status_json("").await.is_empty(),
        "nothing acknowledged is missing"
    );
    let v1 = app
        .post_v1(REPORTER, &serde_json::from_str(&report).unwrap())
        .await;
    assert_error(&v1, 422, "STORAGE_REJECTED");
    assert_eq!(
        app.post(
            REPORTER,
            &body("accepted", "lab", "SYNCED", 0, &[], &ago(5))
        )
        .await
        .status,
        200
    );
    let _ = bindings.delete(&policy, &DeleteParams::default()).await;
    let _ = policies.delete(&policy, &DeleteParams::default()).await;
}

// === the CRD and the parser agree ===

#[test]
fn the_crd_schema_states_the_parsers_bounds() {
    use drift_core::reports::model::*;
    let text = std::fs::read_to_string(
        testenv::project_crd_dir().join("driftreports.argocd-drift.io.yaml"),
    )
    .unwrap();
    let crd = &fake_apiserver::load_yaml_documents(&text).unwrap()[0];
    let version = &crd["spec"]["versions"][0];
    let spec = &version["schema"]["openAPIV3Schema"]["properties"]["spec"];
    let p = &spec["properties"];
    assert_eq!(
        spec["required"],
        json!(["repo", "server", "syncStatus", "driftCount", "lastCheck"])
    );
    assert_eq!(p["repo"]["maxLength"], MAX_KEY_PART_BYTES);
    assert_eq!(p["server"]["maxLength"], MAX_KEY_PART_BYTES);
    assert_eq!(p["syncStatus"]["enum"], json!(["SYNCED", "OUT_OF_SYNC"]));
    assert_eq!(p["driftCount"]["maximum"], MAX_DRIFT_COUNT);
    assert_eq!(p["files"]["maxItems"], MAX_FILES);
    assert_eq!(
        p["files"]["items"]["properties"]["name"]["maxLength"],
        MAX_FILE_NAME_BYTES
    );
    assert_eq!(
        p["files"]["items"]["properties"]["diff"]["maxLength"],
        MAX_DIFF_BYTES
    );
    assert_eq!(
        p["files"]["items"]["properties"]["state"]["enum"],
        json!(["changed", "missing", "extra"])
    );
    assert_eq!(p["lastCheck"]["maxLength"], MAX_LAST_CHECK_LEN);
    assert_eq!(p["lastCheck"]["format"], "date-time");
    assert_eq!(
        crd["spec"]["names"]["kind"],
        drift_core::reports::resource::KIND
    );
    assert_eq!(
        crd["spec"]["names"]["plural"],
        drift_core::reports::resource::PLURAL
    );
    assert_eq!(crd["spec"]["group"], "argocd-drift.io");
    assert!(version["subresources"].is_null(), "status is a plain field");
}

// === in-process: the proxy view without a cluster ===

#[tokio::test]
async fn in_process_the_proxy_view_follows_the_store() {
    use argocd_drift::cluster::{OwnSink, Stored};
    use drift_core::reports::model::StoredReport;
    use drift_core::reports::parse::{Flavor, parse_body};
    use drift_core::reports::resource::to_object;
    let api = InProcess::demo().await;
    let now = jiff::Timestamp::now();
    let stored = |repo: &str, app: &str| -> Stored {
        let body = json!({"repo": repo, "server": "s1", "sync_status": "OUT_OF_SYNC", "drift_count": 1,
            "files": [{"name": "x"}], "last_check": ago(10), "application": app});
        let report = parse_body(body.to_string().as_bytes(), Flavor::V1, now).unwrap();
        let stored = StoredReport {
            report,
            updated_at: Some(now),
            reporter: None,
        };
        Stored {
            name: repo.into(),
            resource_version: "1".into(),
            object: to_object(repo, Some("1"), &stored),
        }
    };
    api.reports.replace(
        vec![
            stored("mine", "argocd:guestbook"),
            stored("theirs", "argocd:payments-api"),
        ],
        now,
    );
    let r = api
        .get_as("/api/v1/reports", "argocd:guestbook", "default", &[])
        .await;
    assert_eq!(r.status, 200);
    let reports = r.json()["reports"].as_array().unwrap().clone();
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0]["repo"], "mine");
    api.reports.delete_at("mine", Some("2"), now);
    let r = api
        .get_as("/api/v1/reports", "argocd:guestbook", "default", &[])
        .await;
    assert_eq!(r.json()["reports"], json!([]));
    let status = api
        .get_as("/api/v1/status", "argocd:guestbook", "default", &[])
        .await;
    assert_eq!(
        status.json()["reports"],
        json!({"count": 0, "outOfSync": 0, "stale": 0})
    );
    // A query parameter the route does not take is refused like on every API route.
    let r = api
        .get_as(
            "/api/v1/reports?repo=theirs",
            "argocd:guestbook",
            "default",
            &[],
        )
        .await;
    assert_error(&r, 400, "UNKNOWN_QUERY_PARAMETER");
}

// === limits: one reporter cannot fill every replica's memory or the API server (issue 17) ===

/// A token file with one limited reporter line, `line` after its name and token.
fn limited_tokens(line: &str) -> Tokens {
    let tokens = Tokens::new();
    std::fs::write(
        tokens.reporters(),
        format!("fleet {REPORTER} * apps=*:*\nedge {LIMITED} edge-* {line}\n"),
    )
    .unwrap();
    tokens
}

/// A v1 report whose files carry `diff_bytes` of diffs (16 KiB a file at most).
fn sized(repo: &str, server: &str, diff_bytes: usize, last_check: &str) -> Value {
    let files: Vec<Value> = (0..diff_bytes.div_ceil(16 << 10).max(1))
        .map(|i| {
            let size = diff_bytes.saturating_sub(i * (16 << 10)).min(16 << 10);
            json!({"name": format!("f{i}.conf"), "state": "changed", "diff": "x".repeat(size)})
        })
        .collect();
    json!({"repo": repo, "server": server, "sync_status": "OUT_OF_SYNC", "drift_count": 1,
        "files": files, "last_check": last_check})
}

#[tokio::test]
async fn fake_a_token_holds_at_most_its_reports_and_bytes_and_is_told_why() {
    let tokens = limited_tokens("reports=3 bytes=40Ki");
    let cluster = TestCluster::fake().await.unwrap();
    cluster.apply_fixtures("demo").await.unwrap();
    let env = tokens.env(false);
    let app = TestApp::ready(&cluster, &env_refs(&env)).await;
    let at = ago(30);
    for server in ["e1", "e2", "e3"] {
        let r = app
            .post_v1(LIMITED, &sized("edge-router", server, 100, &at))
            .await;
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    }
    // A fourth report: 429, nothing stored.
    let r = app
        .post_v1(LIMITED, &sized("edge-router", "e4", 100, &at))
        .await;
    assert_error(&r, 429, "TOO_MANY_REPORTS");
    assert!(r.json()["message"].as_str().unwrap().contains("edge"));
    // Growing one past the token's bytes: 413, the stored version stays.
    let r = app
        .post_v1(LIMITED, &sized("edge-router", "e1", 45 << 10, &ago(20)))
        .await;
    assert_error(&r, 413, "REPORT_BYTES_EXCEEDED");
    // Shrinking or keeping one is always allowed; another token is not affected.
    let r = app
        .post_v1(LIMITED, &sized("edge-router", "e2", 10, &ago(20)))
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let r = app.post_v1(REPORTER, &sized("other", "o1", 100, &at)).await;
    assert_eq!(r.status, 200);
    let stored = stored_objects(&cluster).await;
    assert_eq!(stored.len(), 4, "three of edge, one of fleet");
    let e1 = stored
        .iter()
        .find(|o| o.data["spec"]["server"] == "e1")
        .unwrap();
    assert_eq!(
        e1.data["spec"]["files"][0]["diff"].as_str().unwrap().len(),
        100
    );
    assert_eq!(e1.data["status"]["reporter"], "edge");
    let metrics = app.metrics().await;
    for (reason, n) in [("limit_reports", 1.0), ("limit_bytes", 1.0)] {
        assert_eq!(
            metric(
                &metrics,
                &format!(r#"argocd_drift_report_rejections_total{{reason="{reason}"}}"#)
            ),
            Some(n),
            "{reason}"
        );
    }
    // Deleting one frees its place.
    let r = app
        .on_reports(
            Method::DELETE,
            "/api/v1/reports?repo=edge-router&server=e3",
            Some(LIMITED),
            "",
        )
        .await;
    assert_eq!(r.status, 200);
    let r = app
        .post_v1(LIMITED, &sized("edge-router", "e4", 100, &at))
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
}

#[tokio::test]
async fn fake_the_limits_hold_across_a_restart_and_in_all() {
    let tokens = limited_tokens("reports=2");
    let cluster = TestCluster::fake().await.unwrap();
    cluster.apply_fixtures("demo").await.unwrap();
    let mut env = tokens.env(false);
    env.push(("REPORTS_MAX_TOTAL".into(), "3".into()));
    let app = TestApp::ready(&cluster, &env_refs(&env)).await;
    let at = ago(30);
    for server in ["e1", "e2"] {
        let r = app
            .post_v1(LIMITED, &sized("edge-router", server, 10, &at))
            .await;
        assert_eq!(r.status, 200);
    }
    app.shutdown().await.unwrap();
    // A new process counts what is stored (each object names its reporter).
    let app = TestApp::ready(&cluster, &env_refs(&env)).await;
    let r = app
        .post_v1(LIMITED, &sized("edge-router", "e3", 10, &at))
        .await;
    assert_error(&r, 429, "TOO_MANY_REPORTS");
    let r = app
        .post_v1(REPORTER, &sized("fleet-repo", "f1", 10, &at))
        .await;
    assert_eq!(r.status, 200);
    let r = app
        .post_v1(REPORTER, &sized("fleet-repo", "f2", 10, &at))
        .await;
    assert_error(&r, 429, "TOO_MANY_REPORTS");
    assert!(
        r.json()["message"]
            .as_str()
            .unwrap()
            .contains("REPORTS_MAX_TOTAL")
    );
    assert_eq!(stored_objects(&cluster).await.len(), 3);
}

#[tokio::test]
async fn fake_changes_of_one_report_are_written_at_most_once_per_interval() {
    let tokens = Tokens::new();
    let cluster = TestCluster::fake().await.unwrap();
    cluster.apply_fixtures("demo").await.unwrap();
    let mut env = tokens.env(false);
    env.push(("REPORT_CONTENT_WRITE_SECONDS".into(), "3".into()));
    let app = TestApp::ready(&cluster, &env_refs(&env)).await;
    let fake = cluster.fake_server().unwrap();
    let created = app
        .post(
            REPORTER,
            &body("rsyslog", "lab", "SYNCED", 0, &[], &ago(60)),
        )
        .await;
    assert_eq!(created.status, 200);
    fake.faults().clear_request_log();
    // Alternating content, as fast as the reporter can send it.
    let mut outcomes = Vec::new();
    for i in 0..20u64 {
        let status = if i % 2 == 0 { "OUT_OF_SYNC" } else { "SYNCED" };
        let last_check = ago(50 - i as i64);
        let v1 = json!({"repo": "rsyslog", "server": "lab", "sync_status": status,
            "drift_count": i, "files": [], "last_check": last_check});
        let r = app.post_v1(REPORTER, &v1).await;
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        outcomes.push(r.json()["outcome"].as_str().unwrap().to_string());
    }
    // Each change is served at once…
    let rows = app.status_json("").await;
    assert_eq!(rows[0]["drift_count"], 19);
    assert_eq!(rows[0]["sync_status"], "SYNCED");
    // …and the API server got at most one write for the twenty (the rest are queued).
    let writes = fake
        .faults()
        .request_count(Verb::Update, "driftreports.argocd-drift.io");
    assert!(writes <= 1, "{writes} writes: {outcomes:?}");
    assert!(
        outcomes.iter().filter(|o| *o == "queued").count() >= 19,
        "{outcomes:?}"
    );
    // When the interval ends, the last change is stored.
    eventually(Duration::from_secs(15), || async {
        stored_objects(&cluster)
            .await
            .iter()
            .any(|o| o.data["spec"]["driftCount"] == 19)
    })
    .await
    .unwrap();
    let writes = fake
        .faults()
        .request_count(Verb::Update, "driftreports.argocd-drift.io");
    assert!(writes <= 2, "{writes} writes");
}

#[tokio::test]
async fn fake_a_report_names_an_app_only_with_its_consent_or_an_app_scope() {
    let tokens = limited_tokens("apps=*:edge-*");
    let (cluster, app) = {
        let cluster = TestCluster::fake().await.unwrap();
        cluster.apply_fixtures("demo").await.unwrap();
        let env = tokens.env(false);
        let app = TestApp::ready(&cluster, &env_refs(&env)).await;
        (cluster, app)
    };
    let argocd = cluster.ns("argocd");
    let naming = |app_name: &str| {
        let mut v = sized("edge-router", "r1", 10, &ago(30));
        v["application"] = format!("{argocd}:{app_name}").into();
        v
    };
    // Another project's app, with an invented urgent diff: refused, nothing stored or shown.
    let r = app.post_v1(LIMITED, &naming("payments-api")).await;
    assert_error(&r, 403, "APPLICATION_NOT_ALLOWED");
    assert!(
        r.json()["message"]
            .as_str()
            .unwrap()
            .contains("argocd-drift.io/report-repos")
    );
    assert!(stored_objects(&cluster).await.is_empty());
    assert!(app.logs().contains("APPLICATION_NOT_ALLOWED"));
    let status = app
        .get_as(
            "/api/v1/reports",
            &app_header(&cluster, "argocd", "payments-api"),
            "team-payments",
            &[],
        )
        .await;
    assert_eq!(status.json()["reports"], json!([]));
    // The app consents: its annotation lists the repo.
    applications(cluster.client().await.unwrap(), &argocd)
        .patch(
            "payments-api",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"annotations": {"argocd-drift.io/report-repos": "edge-router"}}})),
        )
        .await
        .unwrap();
    eventually(Duration::from_secs(15), || async {
        app.post_v1(LIMITED, &naming("payments-api")).await.status == 200
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn fake_a_refused_repo_is_a_security_event_naming_the_reporter() {
    let tokens = Tokens::new();
    let cluster = TestCluster::fake().await.unwrap();
    cluster.apply_fixtures("demo").await.unwrap();
    let env = tokens.env(false);
    let app = TestApp::ready(&cluster, &env_refs(&env)).await;
    let r = app
        .post(
            LIMITED,
            &body("nginx-conf", "web-1", "SYNCED", 0, &[], &ago(10)),
        )
        .await;
    assert_eq!(r.status, 403);
    let logs = app.logs();
    let line = logs
        .lines()
        .find(|l| l.contains("\"code\":\"REPO_NOT_ALLOWED\""))
        .expect("a security event");
    assert!(line.contains("rsyslog-checker"), "{line}");
    assert!(line.contains("argocd_drift::security"), "{line}");
    assert!(!line.contains(LIMITED), "never the token");
}

/// Replicas A and B share a report; A judges it expired from the version it holds while B has
/// meanwhile stored a heartbeat. A's delete carries the resourceVersion it judged, so the API
/// server refuses it (409) and the heartbeat survives.
#[tokio::test]
async fn expiry_deletes_only_the_version_it_judged_expired() {
    use argocd_drift::cluster::Connection;
    use argocd_drift::metrics::Metrics;
    use argocd_drift::reports::{DRIFT_REPORTS, ReportStore, ReportWriter, Sender, Timing};
    use drift_core::reports::parse::{Flavor, parse_body};
    use jiff::{SignedDuration, Timestamp};
    use std::sync::Arc;

    let cluster = TestCluster::fake().await.unwrap();
    cluster.apply_fixtures("demo").await.unwrap();
    let connection = Connection::new(Some(cluster.kubeconfig_path()), Duration::from_secs(10))
        .await
        .unwrap();
    let timing = Timing {
        stale_after: Duration::from_secs(60),
        expire_after: Duration::from_secs(120),
        heartbeat_write: Duration::from_secs(30),
    };
    let replica = || {
        let store = ReportStore::new(timing, None);
        let own = connection.own(DRIFT_REPORTS, &cluster.ns("argocd"));
        ReportWriter::new(store, own, Arc::new(Metrics::new()))
    };
    let (a, b) = (replica(), replica());
    let sender = Sender {
        name: Some("fleet".into()),
        reports: None,
        bytes: None,
    };
    let t0 = Timestamp::now();
    let at = |secs: i64| t0.checked_add(SignedDuration::from_secs(secs)).unwrap();
    let report = |checked: Timestamp| {
        let text = body(
            "rsyslog",
            "lab",
            "OUT_OF_SYNC",
            1,
            &["a.conf"],
            &checked.to_string(),
        );
        parse_body(text.as_bytes(), Flavor::Compat, checked).unwrap()
    };
    // A stores it at t0.
    let outcome = a.ingest(report(at(0)), at(0), &sender).await.unwrap();
    assert_eq!(outcome.as_str(), "created");
    // B acknowledges a heartbeat at t0+100 s and writes it.
    let outcome = b.ingest(report(at(100)), at(100), &sender).await.unwrap();
    assert_eq!(outcome.as_str(), "heartbeat");
    assert_eq!(b.flush_heartbeats().await, 0, "B wrote its heartbeat");
    // At t0+121 s A still holds the t0 version: expired by A's view, fresh by B's.
    a.expire(at(121)).await;
    let stored = stored_objects(&cluster).await;
    assert_eq!(
        stored.len(),
        1,
        "the heartbeat B stored was deleted by A's expiry"
    );
    assert_eq!(
        stored[0].data["status"]["updatedAt"],
        at(100).to_string(),
        "B's heartbeat is what is stored"
    );
    // Once A has read B's version, it judges from it: expired only 120 s after the heartbeat.
    a.expire(at(200)).await;
    assert_eq!(stored_objects(&cluster).await.len(), 1);
    a.expire(at(221)).await;
    assert!(stored_objects(&cluster).await.is_empty(), "expired at last");
}

/// The rule for reporter clocks (README, "Reporter clocks"): versions are ordered by
/// `last_check` capped at when a backend accepted them. A reporter whose clock ran 4 minutes
/// ahead and is then corrected has its next change stored, not answered `superseded`; a report
/// checked before the held one was received is still older and loses.
#[tokio::test]
async fn a_reporter_clock_that_steps_back_still_has_its_changes_stored() {
    let tokens = Tokens::new();
    let (cluster, app) = start(&tokens, &[("REPORT_CONTENT_WRITE_SECONDS", "0")]).await;
    let post = |status: &'static str, drift: u64, checked: String| {
        let app = &app;
        async move {
            let report = body("nginx", "web-1", status, drift, &[], &checked);
            let r = app
                .post_v1(REPORTER, &serde_json::from_str(&report).unwrap())
                .await;
            assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
            r.json()["outcome"].as_str().unwrap().to_string()
        }
    };
    assert_eq!(post("OUT_OF_SYNC", 2, ago(-240)).await, "created");
    // The clock is corrected (a second ahead, within any skew): a change.
    assert_eq!(post("SYNCED", 0, ago(-1)).await, "changed");
    let stored = stored_objects(&cluster).await;
    assert_eq!(
        stored[0].data["spec"]["syncStatus"], "SYNCED",
        "acknowledged and stored"
    );
    assert_eq!(app.status_json("").await[0]["sync_status"], "SYNCED");
    // Checked two minutes ago: before the held version was received, so older.
    assert_eq!(post("OUT_OF_SYNC", 5, ago(120)).await, "superseded");
    assert_eq!(app.status_json("").await[0]["sync_status"], "SYNCED");
}
