//! Fault injection, observed through a real client.

use std::time::{Duration, Instant};

use fake_apiserver::{FakeApiServer, FaultRule, RequestMatch, Verb};
use futures::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, PostParams, WatchEvent, WatchParams};

use crate::common::{client, client_without_retry, configmap, next, server, status_code};

#[tokio::test]
async fn while_the_server_is_down_requests_fail_and_they_work_again_after() {
    let server = server().await;
    let cms: Api<ConfigMap> = Api::default_namespaced(client(&server).await);
    cms.create(&PostParams::default(), &configmap("a", &[]))
        .await
        .unwrap();
    server.faults().set_down(true);
    let err = cms.get("a").await.unwrap_err();
    assert!(
        !matches!(err, kube::Error::Api(_)),
        "a transport error, got {err:?}"
    );
    server.faults().set_down(false);
    assert!(cms.get("a").await.is_ok());
}

#[tokio::test]
async fn going_down_cuts_open_watch_streams() {
    let server = server().await;
    let cms: Api<ConfigMap> = Api::default_namespaced(client(&server).await);
    let mut stream = cms
        .watch(&WatchParams::default().disable_bookmarks(), "0")
        .await
        .unwrap()
        .boxed();
    server.faults().set_down(true);
    let end = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match stream.next().await {
                None => return,
                Some(Err(_)) => continue,
                Some(Ok(event)) => panic!("unexpected {event:?}"),
            }
        }
    })
    .await;
    assert!(
        end.is_ok(),
        "the watch should end when the server goes down"
    );
}

#[tokio::test]
async fn injected_503s_are_retried_by_kube_and_counted_in_the_request_log() {
    let server = server().await;
    let cms: Api<ConfigMap> = Api::default_namespaced(client(&server).await);
    cms.create(&PostParams::default(), &configmap("a", &[]))
        .await
        .unwrap();
    server.faults().fail_requests(
        FaultRule::status(503)
            .verb(Verb::Get)
            .resource("configmaps")
            .times(2),
    );
    assert!(cms.get("a").await.is_ok(), "kube retries 503 by default");
    let statuses: Vec<u16> = server
        .faults()
        .request_log()
        .iter()
        .filter(|r| r.verb == Verb::Get)
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses, [503, 503, 200]);
    assert_eq!(server.faults().request_count(Verb::Get, "configmaps"), 3);
}

#[tokio::test]
async fn an_injected_500_reaches_the_caller_until_cleared() {
    let server = server().await;
    let cms: Api<ConfigMap> = Api::default_namespaced(client(&server).await);
    server
        .faults()
        .fail_requests(FaultRule::status(500).verb(Verb::List));
    let err = cms.list(&Default::default()).await.unwrap_err();
    assert_eq!(status_code(&err), 500);
    assert_eq!(crate::common::reason(&err), "InternalError");
    let err = cms.list(&Default::default()).await.unwrap_err();
    assert_eq!(status_code(&err), 500, "no `times`: fails until cleared");
    server.faults().clear();
    assert!(cms.list(&Default::default()).await.is_ok());
}

#[tokio::test]
async fn a_429_carries_retry_after_in_the_header_and_the_status() {
    let server = server().await;
    let client = client_without_retry(&server).await;
    server
        .faults()
        .fail_requests(FaultRule::status(429).retry_after(7).times(2));
    let request = http::Request::get("/api/v1/namespaces/default/configmaps")
        .body(kube::client::Body::from(Vec::new()))
        .unwrap();
    let response = client.send(request).await.unwrap();
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "7");
    let err = Api::<ConfigMap>::default_namespaced(client)
        .list(&Default::default())
        .await
        .unwrap_err();
    match err {
        kube::Error::Api(status) => {
            assert_eq!(
                (status.code, status.reason.as_str()),
                (429, "TooManyRequests")
            );
            let details = status.details.unwrap();
            assert_eq!(details.retry_after_seconds, 7);
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_delay_slows_matching_requests_only() {
    let server = server().await;
    let cms: Api<ConfigMap> = Api::default_namespaced(client(&server).await);
    server.faults().delay(
        RequestMatch::any()
            .verb(Verb::List)
            .resource("configmaps")
            .times(1),
        Duration::from_millis(500),
    );
    let started = Instant::now();
    cms.get_opt("nothing").await.unwrap();
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "get is not delayed"
    );
    let started = Instant::now();
    cms.list(&Default::default()).await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(500));
    let started = Instant::now();
    cms.list(&Default::default()).await.unwrap();
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "times(1) is used up"
    );
}

#[tokio::test]
async fn drop_watches_ends_open_streams_cleanly() {
    let server = server().await;
    let cms: Api<ConfigMap> = Api::default_namespaced(client(&server).await);
    let mut stream = cms
        .watch(&WatchParams::default().disable_bookmarks(), "0")
        .await
        .unwrap()
        .boxed();
    server.faults().drop_watches();
    let end = tokio::time::timeout(Duration::from_secs(5), stream.next())
        .await
        .unwrap();
    assert!(end.is_none(), "the stream ends without an error");
    assert_eq!(server.faults().request_count(Verb::Watch, "configmaps"), 1);
}

#[tokio::test]
async fn a_malformed_watch_line_is_a_decode_error_and_later_events_still_arrive() {
    let server = FakeApiServer::builder().start().await.unwrap();
    let cms: Api<ConfigMap> = Api::default_namespaced(client(&server).await);
    let mut stream = cms
        .watch(&WatchParams::default().disable_bookmarks(), "0")
        .await
        .unwrap()
        .boxed();
    // The watch is subscribed before its response headers are sent.
    server.faults().malformed_watch_line();
    assert!(next(&mut stream).await.is_err(), "garbage does not decode");
    cms.create(&PostParams::default(), &configmap("after", &[]))
        .await
        .unwrap();
    match next(&mut stream).await.unwrap() {
        WatchEvent::Added(cm) => assert_eq!(cm.metadata.name.as_deref(), Some("after")),
        other => panic!("unexpected {other:?}"),
    }
}
