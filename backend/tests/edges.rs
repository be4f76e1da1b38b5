//! The edges of the listeners and the gate, over real sockets: bounded and rate-limited security
//! logs, clients that stop reading, the connection cap, the header limits, and the protocol
//! refusals hyper makes itself. (Found by an adversarial probe; each test failed before its fix.)
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod common;

use argocd_drift::http::seclog::{BURST, CUT_MARKER};
use common::{STATUS, TOKEN, TestApp, app_header, demo, eventually, metric};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The most bytes one security log line may take, whatever the request: seven client-controlled
/// fields of at most 256 characters (4 bytes each at worst in UTF-8, or 2 for an escaped `\` or
/// `"`), plus the fixed fields. Measured lines for the attacks below stay far under it.
const SECURITY_LINE_BOUND: usize = 8 * 1024;

fn security_lines(logs: &str) -> Vec<&str> {
    logs.lines()
        .filter(|l| l.contains(r#""target":"argocd_drift::security""#))
        .collect()
}

/// Sends raw bytes on a new connection and reads until the server closes it or `within`.
async fn raw(addr: std::net::SocketAddr, request: &[u8], within: Duration) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(within, stream.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn security_log_lines_are_bounded_whatever_the_request_and_rate_limited_per_key() {
    let (cluster, app) = demo(&[]).await;
    // First (the flood below uses up this peer's lines): an authenticated request whose query value is quoted in the OUT_OF_SCOPE reason.
    let payments = app_header(&cluster, "argocd", "payments-api");
    let scoped = format!("{STATUS}?namespace={}", "%5C%22".repeat(600));
    let r = app.get_as(&scoped, &payments, "team-payments", &[]).await;
    assert_eq!(r.status, 403);

    // 60 000 backslashes in the path of an unauthenticated request: 401 and a warn line each.
    let path = format!("/{}", "\\".repeat(60_000));
    let flood = 60;
    let started = std::time::Instant::now();
    for _ in 0..flood {
        let r = testenv::http::get(app.api, &path, &[]).await.unwrap();
        assert_eq!(r.status, 401);
    }
    let logs = app.logs();
    let lines = security_lines(&logs);
    let longest = lines.iter().map(|l| l.len()).max().unwrap();
    assert!(
        longest < SECURITY_LINE_BOUND,
        "a {longest}-byte security line"
    );
    assert!(
        lines.iter().all(|l| l.contains(CUT_MARKER)),
        "every line was cut"
    );
    // The reason is escaped once: the JSON encoder's `\\` for each backslash, nothing more.
    let scope_line = lines.iter().find(|l| l.contains("OUT_OF_SCOPE")).unwrap();
    assert!(
        scope_line.contains(r#"namespace \"\\\"\\\""#),
        "{scope_line}"
    );
    assert!(
        !scope_line.contains(r#"\\\\"#),
        "escaped twice: {scope_line}"
    );
    // One key (this peer, no user, MISSING_CREDENTIALS) gets a burst of lines and one more a
    // second, not one per refusal (plus the OUT_OF_SCOPE line, a key of its own); the metric
    // counts every one.
    let refilled = started.elapsed().as_secs() as usize + 1;
    assert!(
        lines.len() <= BURST as usize + refilled + 1,
        "{} security lines for {flood} refusals",
        lines.len()
    );
    let counted = metric(
        &app.metrics().await,
        r#"argocd_drift_rejected_requests_total{code="MISSING_CREDENTIALS"}"#,
    );
    assert_eq!(counted, Some(f64::from(flood)));
}

#[tokio::test]
async fn every_forwarded_for_line_is_logged_in_order() {
    let (_cluster, app) = demo(&[]).await;
    let r = raw(
        app.api,
        b"GET /api/v1/status HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 198.51.100.1\r\nX-Forwarded-For: 203.0.113.7\r\nConnection: close\r\n\r\n",
        Duration::from_secs(5),
    )
    .await;
    assert!(r.starts_with("HTTP/1.1 401"), "{r}");
    let logs = app.logs();
    let line = security_lines(&logs)[0];
    assert!(
        line.contains(r#""forwarded_for":"198.51.100.1, 203.0.113.7""#),
        "{line}"
    );
}

#[tokio::test]
async fn clients_that_never_read_their_answers_are_disconnected_after_the_write_timeout() {
    let (_cluster, app) = demo(&[
        ("WRITE_TIMEOUT_SECONDS", "1"),
        // Long enough that only the write timeout can be what closes the connections.
        ("HEADER_READ_TIMEOUT_SECONDS", "60"),
    ])
    .await;
    let open = r#"argocd_drift_open_connections{listener="api"}"#;
    // With the secret (a 401 would close the connection after one answer).
    let request =
        format!("GET /api/v1/status HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n\r\n")
            .repeat(1000)
            .into_bytes();
    let mut writers = Vec::new();
    for _ in 0..3 {
        let mut stream = TcpStream::connect(app.api).await.unwrap();
        let request = request.clone();
        // Pipelines requests as fast as the server takes them and never reads an answer.
        writers.push(tokio::spawn(async move {
            while stream.write_all(&request).await.is_ok() {}
        }));
    }
    app.wait_for_metric(open, 3.0).await;
    app.wait_for_metric(open, 0.0).await;
    let timeouts = metric(
        &app.metrics().await,
        r#"argocd_drift_protocol_errors_total{listener="api",kind="write_timeout"}"#,
    );
    assert_eq!(timeouts, Some(3.0));
    for writer in writers {
        tokio::time::timeout(Duration::from_secs(10), writer)
            .await
            .expect("the writer still had a connection")
            .unwrap();
    }
}

#[tokio::test]
async fn at_the_cap_the_connection_idle_the_longest_is_closed_for_a_new_one() {
    let (cluster, app) = demo(&[
        ("MAX_CONNECTIONS", "2"),
        ("HEADER_READ_TIMEOUT_SECONDS", "60"),
    ])
    .await;
    let mut idle_a = TcpStream::connect(app.api).await.unwrap();
    app.wait_for_metric(r#"argocd_drift_open_connections{listener="api"}"#, 1.0)
        .await;
    let _idle_b = TcpStream::connect(app.api).await.unwrap();
    app.wait_for_metric(r#"argocd_drift_open_connections{listener="api"}"#, 2.0)
        .await;
    // The third is served: the one idle the longest (a) is closed to make room.
    let answer = raw(
        app.api,
        b"GET /api/v1/status HTTP/1.1\r\nHost: x\r\n\r\n",
        Duration::from_secs(5),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    let mut byte = [0u8; 1];
    let closed = tokio::time::timeout(Duration::from_secs(5), idle_a.read(&mut byte)).await;
    assert!(
        matches!(closed, Ok(Ok(0) | Err(_))),
        "a was closed: {closed:?}"
    );
    let refused = metric(
        &app.metrics().await,
        r#"argocd_drift_refused_connections_total{listener="api"}"#,
    );
    assert_eq!(refused, Some(1.0));
    app.wait_for_metric(r#"argocd_drift_open_connections{listener="api"}"#, 1.0)
        .await;
    let r = app
        .status(&app_header(&cluster, "argocd", "guestbook"), "default")
        .await;
    assert_eq!(r.status, 200);
}

/// A request with exactly `fields` header fields (Host and the three Argo CD headers included).
fn request_with_fields(cluster: &testenv::TestCluster, fields: usize) -> Vec<u8> {
    let mut head = format!(
        "GET {STATUS} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\nArgocd-Application-Name: {}\r\nArgocd-Project-Name: default\r\n",
        app_header(cluster, "argocd", "guestbook")
    );
    for i in 0..fields - 4 {
        head.push_str(&format!("X-Pad-{i}: {i}\r\n"));
    }
    head.push_str("\r\n");
    head.into_bytes()
}

#[tokio::test]
async fn a_request_may_carry_100_header_fields_and_the_101st_is_refused_with_431() {
    let (cluster, app) = demo(&[]).await;
    let ok = raw(
        app.api,
        &request_with_fields(&cluster, 100),
        Duration::from_millis(500),
    )
    .await;
    assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
    let refused = raw(
        app.api,
        &request_with_fields(&cluster, 101),
        Duration::from_secs(5),
    )
    .await;
    assert!(refused.starts_with("HTTP/1.1 431"), "{refused}");
    // 64 KiB of headers in few fields is refused the same way.
    let big = format!(
        "GET {STATUS} HTTP/1.1\r\nHost: x\r\nX-Pad: {}\r\n\r\n",
        "x".repeat(65 * 1024)
    );
    let refused = raw(app.api, big.as_bytes(), Duration::from_secs(5)).await;
    assert!(refused.starts_with("HTTP/1.1 431"), "{refused}");
    let metrics = app.metrics().await;
    assert_eq!(
        metric(
            &metrics,
            r#"argocd_drift_protocol_errors_total{listener="api",kind="header_too_large"}"#
        ),
        Some(2.0)
    );
}

#[tokio::test]
async fn malformed_requests_are_refused_by_hyper_and_counted() {
    let (_cluster, app) = demo(&[]).await;
    let r = raw(app.api, b"NOT HTTP AT ALL\r\n\r\n", Duration::from_secs(5)).await;
    assert!(r.starts_with("HTTP/1.1 400"), "{r}");
    eventually(Duration::from_secs(5), || async {
        metric(
            &app.metrics().await,
            r#"argocd_drift_protocol_errors_total{listener="api",kind="malformed"}"#,
        ) == Some(1.0)
    })
    .await
    .expect("the malformed request was not counted");
}

#[tokio::test]
async fn the_service_port_has_the_same_connection_limits() {
    let cluster = testenv::TestCluster::start().await.unwrap();
    let app = TestApp::spawn(&cluster, &[]).await;
    let refused = raw(
        app.service,
        format!(
            "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: {}\r\n\r\n",
            "x".repeat(65 * 1024)
        )
        .as_bytes(),
        Duration::from_secs(5),
    )
    .await;
    assert!(refused.starts_with("HTTP/1.1 431"), "{refused}");
}
