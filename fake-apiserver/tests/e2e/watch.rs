//! Watches: replay, live events, bookmarks, selectors, timeouts and kube's `watcher`.

use std::time::Duration;

use fake_apiserver::FakeApiServer;
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams};
use kube::runtime::watcher;
use serde_json::json;

use crate::common::{client, configmap, next};

fn name_of(event: &WatchEvent<ConfigMap>) -> (&'static str, String) {
    match event {
        WatchEvent::Added(o) => ("ADDED", o.metadata.name.clone().unwrap()),
        WatchEvent::Modified(o) => ("MODIFIED", o.metadata.name.clone().unwrap()),
        WatchEvent::Deleted(o) => ("DELETED", o.metadata.name.clone().unwrap()),
        WatchEvent::Bookmark(_) => ("BOOKMARK", String::new()),
        WatchEvent::Error(e) => panic!("unexpected error event {e:?}"),
    }
}

/// Next event that is not a bookmark.
async fn next_change<S>(stream: &mut S) -> (&'static str, String)
where
    S: futures::Stream<Item = kube::Result<WatchEvent<ConfigMap>>> + Unpin,
{
    loop {
        let event = next(stream).await.unwrap();
        if !matches!(event, WatchEvent::Bookmark(_)) {
            return name_of(&event);
        }
    }
}

#[tokio::test]
async fn a_watch_replays_history_after_its_resource_version_then_streams_live_events() {
    let server = FakeApiServer::builder().start().await.unwrap();
    let cms: Api<ConfigMap> = Api::default_namespaced(client(&server).await);
    let a = cms
        .create(&PostParams::default(), &configmap("a", &[]))
        .await
        .unwrap();
    let from = a.metadata.resource_version.clone().unwrap();
    cms.create(&PostParams::default(), &configmap("b", &[]))
        .await
        .unwrap();
    cms.patch(
        "a",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"key": "2"}})),
    )
    .await
    .unwrap();

    let mut stream = cms
        .watch(&WatchParams::default(), &from)
        .await
        .unwrap()
        .boxed();
    assert_eq!(next_change(&mut stream).await, ("ADDED", "b".to_string()));
    assert_eq!(
        next_change(&mut stream).await,
        ("MODIFIED", "a".to_string())
    );

    cms.delete("b", &DeleteParams::default()).await.unwrap();
    assert_eq!(next_change(&mut stream).await, ("DELETED", "b".to_string()));
    cms.create(&PostParams::default(), &configmap("c", &[]))
        .await
        .unwrap();
    assert_eq!(next_change(&mut stream).await, ("ADDED", "c".to_string()));
}

#[tokio::test]
async fn a_watch_from_zero_starts_with_every_current_object() {
    let server = FakeApiServer::builder().start().await.unwrap();
    let cms: Api<ConfigMap> = Api::default_namespaced(client(&server).await);
    for name in ["x", "y"] {
        cms.create(&PostParams::default(), &configmap(name, &[]))
            .await
            .unwrap();
    }
    let mut stream = cms
        .watch(&WatchParams::default(), "0")
        .await
        .unwrap()
        .boxed();
    assert_eq!(next_change(&mut stream).await, ("ADDED", "x".to_string()));
    assert_eq!(next_change(&mut stream).await, ("ADDED", "y".to_string()));
}

#[tokio::test]
async fn bookmarks_arrive_periodically_with_the_current_resource_version() {
    let server = FakeApiServer::builder()
        .bookmark_interval(Duration::from_millis(50))
        .start()
        .await
        .unwrap();
    let client = client(&server).await;
    let cms: Api<ConfigMap> = Api::default_namespaced(client.clone());
    let mut stream = cms
        .watch(&WatchParams::default(), "0")
        .await
        .unwrap()
        .boxed();
    // A write to another resource still advances the bookmark's resourceVersion.
    Api::<Secret>::default_namespaced(client)
        .create(
            &PostParams::default(),
            &Secret {
                metadata: kube::api::ObjectMeta {
                    name: Some("s".into()),
                    ..Default::default()
                },
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let current = server.store().current_resource_version().to_string();
    loop {
        match next(&mut stream).await.unwrap() {
            WatchEvent::Bookmark(b) if b.metadata.resource_version == current => break,
            WatchEvent::Bookmark(_) => continue,
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_selector_watch_reports_objects_entering_as_added_and_leaving_as_deleted() {
    let server = FakeApiServer::builder().start().await.unwrap();
    let cms: Api<ConfigMap> = Api::default_namespaced(client(&server).await);
    cms.create(&PostParams::default(), &configmap("m", &[("app", "db")]))
        .await
        .unwrap();
    let rv = server.store().current_resource_version().to_string();
    let wp = WatchParams::default().labels("app=web").disable_bookmarks();
    let mut stream = cms.watch(&wp, &rv).await.unwrap().boxed();
    let relabel = |app: &'static str| {
        let cms = cms.clone();
        async move {
            cms.patch(
                "m",
                &PatchParams::default(),
                &Patch::Merge(json!({"metadata": {"labels": {"app": app}}})),
            )
            .await
            .unwrap();
        }
    };
    relabel("web").await;
    assert_eq!(next_change(&mut stream).await, ("ADDED", "m".to_string()));
    relabel("db").await;
    assert_eq!(next_change(&mut stream).await, ("DELETED", "m".to_string()));
}

#[tokio::test]
async fn a_watch_ends_after_its_timeout() {
    let server = FakeApiServer::builder().start().await.unwrap();
    let cms: Api<ConfigMap> = Api::default_namespaced(client(&server).await);
    let wp = WatchParams::default().timeout(1).disable_bookmarks();
    let started = std::time::Instant::now();
    let mut stream = cms.watch(&wp, "0").await.unwrap().boxed();
    let end = tokio::time::timeout(Duration::from_secs(5), stream.next())
        .await
        .unwrap();
    assert!(end.is_none());
    assert!(started.elapsed() >= Duration::from_millis(900));
}

#[tokio::test]
async fn a_too_old_resource_version_yields_one_410_error_event() {
    let server = FakeApiServer::builder().start().await.unwrap();
    let cms: Api<ConfigMap> = Api::default_namespaced(client(&server).await);
    cms.create(&PostParams::default(), &configmap("a", &[]))
        .await
        .unwrap();
    server.faults().compact();
    let mut stream = cms
        .watch(&WatchParams::default(), "1")
        .await
        .unwrap()
        .boxed();
    match next(&mut stream).await.unwrap() {
        WatchEvent::Error(status) => {
            assert_eq!((status.code, status.reason.as_str()), (410, "Expired"));
            assert!(
                status.message.starts_with("too old resource version"),
                "{}",
                status.message
            );
        }
        other => panic!("expected an error event, got {other:?}"),
    }
    assert!(stream.next().await.is_none());
}

/// Events are never in the real watch cache: their watches go to etcd, whose compaction error
/// the real server words differently (seen on v1.37.1 after compacting etcd).
#[tokio::test]
async fn a_compacted_event_watch_fails_with_the_etcd_wording() {
    let server = FakeApiServer::builder().start().await.unwrap();
    let client = client(&server).await;
    let events: Api<k8s_openapi::api::core::v1::Event> = Api::default_namespaced(client);
    server.faults().compact();
    let mut stream = events
        .watch(&WatchParams::default(), "1")
        .await
        .unwrap()
        .boxed();
    match next(&mut stream).await.unwrap() {
        WatchEvent::Error(status) => assert_eq!(
            (status.code, status.reason.as_str(), status.message.as_str()),
            (
                410,
                "Expired",
                "The resourceVersion for the provided watch is too old."
            )
        ),
        other => panic!("expected an error event, got {other:?}"),
    }
    assert!(stream.next().await.is_none());
}

#[tokio::test]
async fn the_kube_watcher_relists_after_history_is_compacted() {
    let server = FakeApiServer::builder()
        .bookmark_interval(Duration::from_secs(3600))
        .start()
        .await
        .unwrap();
    let client = client(&server).await;
    let cms: Api<ConfigMap> = Api::default_namespaced(client.clone());
    cms.create(&PostParams::default(), &configmap("a", &[]))
        .await
        .unwrap();
    let mut events = watcher(cms.clone(), watcher::Config::default()).boxed();
    let mut init = 0;
    let mut expect_init = |event: watcher::Event<ConfigMap>| match event {
        watcher::Event::Init => {
            init += 1;
            None
        }
        watcher::Event::InitApply(cm) => Some(cm.metadata.name.unwrap()),
        watcher::Event::InitDone => Some("<done>".to_string()),
        other => panic!("unexpected {other:?}"),
    };
    assert_eq!(expect_init(next(&mut events).await.unwrap()), None);
    assert_eq!(
        expect_init(next(&mut events).await.unwrap()).as_deref(),
        Some("a")
    );
    assert_eq!(
        expect_init(next(&mut events).await.unwrap()).as_deref(),
        Some("<done>")
    );

    // Move the global resourceVersion past the watcher's, forget history, cut the watch.
    Api::<Secret>::default_namespaced(client)
        .create(
            &PostParams::default(),
            &Secret {
                metadata: kube::api::ObjectMeta {
                    name: Some("s".into()),
                    ..Default::default()
                },
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let lists_before = server
        .faults()
        .request_count(fake_apiserver::Verb::List, "configmaps");
    server.faults().compact();
    server.faults().drop_watches();

    // The watcher re-watches from its old resourceVersion, gets the 410 ERROR event, and
    // relists: Init, InitApply…, InitDone again.
    let relisted = tokio::time::timeout(Duration::from_secs(10), async {
        let mut saw_init = false;
        loop {
            match events.try_next().await {
                Ok(Some(watcher::Event::Init)) => saw_init = true,
                Ok(Some(watcher::Event::InitDone)) if saw_init => return true,
                Ok(Some(_)) | Err(_) => continue,
                Ok(None) => return false,
            }
        }
    })
    .await
    .unwrap();
    assert!(relisted, "the watcher should relist after a 410");
    assert_eq!(init, 1);
    assert!(
        server
            .faults()
            .request_count(fake_apiserver::Verb::List, "configmaps")
            > lists_before
    );
}

#[tokio::test]
async fn streaming_lists_send_initial_events_then_an_initial_events_end_bookmark() {
    let server = FakeApiServer::builder().start().await.unwrap();
    let cms: Api<ConfigMap> = Api::default_namespaced(client(&server).await);
    cms.create(&PostParams::default(), &configmap("a", &[]))
        .await
        .unwrap();
    let mut events = watcher(cms.clone(), watcher::Config::default().streaming_lists()).boxed();
    let mut seen = Vec::new();
    loop {
        match next(&mut events).await.unwrap() {
            watcher::Event::Init => seen.push("init".to_string()),
            watcher::Event::InitApply(cm) => seen.push(cm.metadata.name.unwrap()),
            watcher::Event::InitDone => break,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(seen, ["init", "a"]);
}
