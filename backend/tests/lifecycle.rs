//! The process around the API: limits, slow clients, load shedding and graceful shutdown.
//! Fake API server only: slow start-ups are made by delaying its list responses.
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod common;

use common::{STATUS, TOKEN, TestApp, app_header, demo};
use fake_apiserver::{RequestMatch, Verb};
use std::time::{Duration, Instant};
use testenv::TestCluster;
use testenv::http::{get, send};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A cluster whose first Application lists take `delay`, so requests stay in flight that long.
async fn slow_start(delay: Duration) -> TestCluster {
    let cluster = TestCluster::fake().await.unwrap();
    cluster.apply_fixtures("demo").await.unwrap();
    cluster.fake_server().unwrap().faults().delay(
        RequestMatch::any()
            .verb(Verb::List)
            .resource("applications")
            .times(2),
        delay,
    );
    cluster
}

#[tokio::test]
async fn an_oversized_body_is_refused_with_413_once_the_caller_is_authenticated() {
    let (cluster, app) = demo(&[("MAX_REQUEST_BODY_BYTES", "1024")]).await;
    let auth = format!("Bearer {TOKEN}");
    let guestbook = app_header(&cluster, "argocd", "guestbook");
    let r = send(
        app.api,
        http::Method::GET,
        STATUS,
        &[
            ("Authorization", &auth),
            ("Argocd-Application-Name", &guestbook),
            ("Argocd-Project-Name", "default"),
        ],
        bytes::Bytes::from(vec![b'x'; 4096]),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 413);
    assert_eq!(r.json()["code"], "BODY_TOO_LARGE");
    // Unauthenticated, the secret is checked first: 401, and the body is never read.
    let r = send(
        app.api,
        http::Method::POST,
        STATUS,
        &[],
        bytes::Bytes::from(vec![b'x'; 4096]),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 401);
    // A body within the cap changes nothing.
    let r = send(
        app.api,
        http::Method::GET,
        STATUS,
        &[
            ("Authorization", &auth),
            ("Argocd-Application-Name", &guestbook),
            ("Argocd-Project-Name", "default"),
        ],
        bytes::Bytes::from(vec![b'x'; 100]),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn a_client_that_sends_headers_too_slowly_is_disconnected() {
    let (_cluster, app) = demo(&[("HEADER_READ_TIMEOUT_SECONDS", "1")]).await;
    let mut stream = TcpStream::connect(app.api).await.unwrap();
    stream
        .write_all(b"GET /api/v1/status HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    let mut buf = [0u8; 1024];
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf)).await;
    let elapsed = started.elapsed();
    match read {
        Ok(Ok(n)) => {
            // Closed, possibly after a short error response; never a real answer.
            let text = String::from_utf8_lossy(&buf[..n]);
            assert!(
                n == 0 || text.starts_with("HTTP/1.1 408"),
                "unexpected reply: {text}"
            );
        }
        Ok(Err(_reset)) => {}
        Err(_) => panic!("connection still open after 5 s"),
    }
    assert!(
        elapsed >= Duration::from_millis(900),
        "closed too early: {elapsed:?}"
    );

    // A prompt client on another connection is unaffected.
    assert_eq!(get(app.service, "/healthz", &[]).await.unwrap().status, 200);
}

#[tokio::test]
async fn requests_beyond_the_concurrency_cap_are_shed_with_retry_after() {
    let cluster = slow_start(Duration::from_millis(1500)).await;
    let app = TestApp::spawn(&cluster, &[("MAX_CONCURRENT_REQUESTS", "1")]).await;
    let header = app_header(&cluster, "argocd", "guestbook");
    // The first request holds the only slot while the index loads…
    let first = app.status_in_background(&header, "default");
    app.wait_in_flight(1).await;
    // …so the second is refused at once.
    let shed = app.status(&header, "default").await;
    assert_eq!(shed.status, 503);
    assert_eq!(shed.json()["code"], "OVERLOADED");
    assert_eq!(shed.header("retry-after"), Some("1"));
    // A caller without the secret is told 401 even now: shedding reveals nothing to it.
    let r = get(app.api, STATUS, &[]).await.unwrap();
    assert_eq!(r.status, 401);
    assert_eq!(first.await.unwrap().unwrap().status, 200);
    // The slot is free again.
    assert_eq!(app.status(&header, "default").await.status, 200);
}

#[tokio::test]
async fn shutdown_turns_readiness_off_and_lets_an_in_flight_request_finish() {
    let cluster = slow_start(Duration::from_millis(2000)).await;
    let app = TestApp::spawn(&cluster, &[("SHUTDOWN_TIMEOUT_SECONDS", "10")]).await;
    let header = app_header(&cluster, "argocd", "guestbook");
    let in_flight = app.status_in_background(&header, "default");
    app.wait_in_flight(1).await;
    app.signal();

    // Draining: not ready, and (no shutdown delay here) no new API connections…
    app.wait_shutting_down().await;
    common::eventually(Duration::from_secs(5), || async {
        TcpStream::connect(app.api).await.is_err()
    })
    .await
    .expect("the API port still accepts connections");

    // …but the request already in flight gets its full answer.
    let answered = in_flight.await.unwrap().expect("in-flight request was cut");
    assert_eq!(answered.status, 200);
    assert_eq!(answered.json()["application"]["name"], "guestbook");
    app.join().await.expect("clean exit after draining");
}

/// argocd-drift with a request in flight that cannot finish (the index never loads within the
/// test), and the given drain deadline.
async fn stuck_in_flight(
    shutdown_timeout: &str,
) -> (
    TestCluster,
    TestApp,
    tokio::task::JoinHandle<anyhow::Result<testenv::http::Response>>,
) {
    let cluster = slow_start(Duration::from_secs(30)).await;
    let app = TestApp::spawn(
        &cluster,
        &[
            ("SHUTDOWN_TIMEOUT_SECONDS", shutdown_timeout),
            ("REQUEST_TIMEOUT_SECONDS", "60"),
        ],
    )
    .await;
    let in_flight =
        app.status_in_background(&app_header(&cluster, "argocd", "guestbook"), "default");
    app.wait_in_flight(1).await;
    (cluster, app, in_flight)
}

#[tokio::test]
async fn a_second_signal_cuts_the_drain_short() {
    let (_cluster, app, in_flight) = stuck_in_flight("60").await;
    let started = Instant::now();
    app.signal();
    app.wait_shutting_down().await;
    app.signal();
    let result = app.join().await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "abort took {:?}",
        started.elapsed()
    );
    let err = result.expect_err("an aborted drain is reported as an error");
    assert!(err.to_string().contains("second shutdown signal"), "{err}");
    assert!(
        in_flight.await.unwrap().is_err(),
        "the in-flight request should have been cut"
    );
}

#[tokio::test]
async fn the_drain_deadline_cuts_requests_that_never_finish() {
    let (_cluster, app, in_flight) = stuck_in_flight("1").await;
    let started = Instant::now();
    app.signal();
    app.join()
        .await
        .expect("a deadline-cut drain is still a clean exit");
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(5),
        "drain took {took:?}"
    );
    assert!(in_flight.await.unwrap().is_err());
}

#[tokio::test]
async fn after_the_first_signal_the_api_keeps_serving_until_endpoints_have_caught_up() {
    let (cluster, app) = demo(&[("SHUTDOWN_DELAY_SECONDS", "2")]).await;
    let header = app_header(&cluster, "argocd", "guestbook");
    let signalled = Instant::now();
    app.signal();
    app.wait_shutting_down().await;
    assert_eq!(
        app.status(&header, "default").await.status,
        200,
        "but still serving"
    );
    app.join().await.expect("clean exit");
    assert!(
        signalled.elapsed() >= Duration::from_secs(2),
        "exited before the delay: {:?}",
        signalled.elapsed()
    );
}

#[tokio::test]
async fn oversized_request_headers_are_refused_with_431() {
    let (cluster, app) = demo(&[]).await;
    let huge = "x".repeat(70 * 1024);
    let r = app
        .get_as(
            STATUS,
            &app_header(&cluster, "argocd", "guestbook"),
            "default",
            &[("X-Padding", &huge)],
        )
        .await;
    assert_eq!(r.status, 431);
}

const OLD_TOKEN: &str = "rotation-old-0123456789";
const NEW_TOKEN: &str = "rotation-new-0123456789";

/// argocd-drift reading its secret from a file (re-read every second) that holds OLD_TOKEN,
/// with the given rotation grace; returns the file to rotate.
async fn with_token_file(
    grace_seconds: &str,
) -> (
    tempfile::TempDir,
    std::path::PathBuf,
    TestCluster,
    TestApp,
    String,
) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("proxy-token");
    std::fs::write(&path, format!("{OLD_TOKEN}\n")).unwrap();
    let path_text = path.display().to_string();
    let cluster = TestCluster::fake().await.unwrap();
    cluster.apply_fixtures("demo").await.unwrap();
    let app = TestApp::ready(
        &cluster,
        &[
            ("PROXY_TOKEN", ""),
            ("PROXY_TOKEN_FILE", &path_text),
            ("PROXY_TOKEN_RELOAD_SECONDS", "1"),
            ("PROXY_TOKEN_ROTATION_GRACE_SECONDS", grace_seconds),
        ],
    )
    .await;
    let header = app_header(&cluster, "argocd", "guestbook");
    (dir, path, cluster, app, header)
}

async fn status_with_token(app: &TestApp, header: &str, token: &str) -> u16 {
    let auth = format!("Bearer {token}");
    get(
        app.api,
        STATUS,
        &[
            ("Authorization", &auth),
            ("Argocd-Application-Name", header),
            ("Argocd-Project-Name", "default"),
        ],
    )
    .await
    .unwrap()
    .status
    .as_u16()
}

#[tokio::test]
async fn a_rotated_token_file_takes_effect_and_the_old_token_lasts_the_grace_period() {
    let (_dir, path, _cluster, app, header) = with_token_file("60").await;
    assert_eq!(status_with_token(&app, &header, OLD_TOKEN).await, 200);
    assert_eq!(status_with_token(&app, &header, NEW_TOKEN).await, 401);
    std::fs::write(&path, format!("{NEW_TOKEN}\n")).unwrap();
    common::eventually(Duration::from_secs(10), || async {
        status_with_token(&app, &header, NEW_TOKEN).await == 200
    })
    .await
    .expect("the rotated token was never accepted");
    assert_eq!(
        status_with_token(&app, &header, OLD_TOKEN).await,
        200,
        "the old token lasts the grace period"
    );
}

#[tokio::test]
async fn without_a_grace_period_a_rotated_out_token_is_refused() {
    let (_dir, path, _cluster, app, header) = with_token_file("0").await;
    std::fs::write(&path, format!("{NEW_TOKEN}\n")).unwrap();
    common::eventually(Duration::from_secs(10), || async {
        status_with_token(&app, &header, NEW_TOKEN).await == 200
    })
    .await
    .expect("the rotated token was never accepted");
    assert_eq!(status_with_token(&app, &header, OLD_TOKEN).await, 401);
}
