//! In-process cost of the work argocd-drift does per `GET /api/v1/status`, without the network:
//! parsing the identity headers, the whole gate (secret, headers, index lookup, claims), and
//! building + serializing the status document, and the whole API request in-process (the port's
//! pipeline, gate, handler and JSON, as the listener calls it). `cargo bench -p argocd-drift`.
//!
//! The index holds the demo Applications plus 2 000 generated ones, so lookups are not measured
//! on a toy map.
#![allow(clippy::unwrap_used)] // benchmark setup

use argocd_drift::config::{ProxyAuth, Secret};
use argocd_drift::http::argocd::parse_caller;
use argocd_drift::http::gate::Gate;
use argocd_drift::http::limits::Limits;
use argocd_drift::http::query::NoParams;
use argocd_drift::index::{AppIndex, Lookup, WatchScope};
use argocd_drift::metrics::Metrics;
use argocd_drift::routes::{ApiDeps, api};
use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use drift_core::app::{AppKey, Application};
use drift_core::status::status_view;
use http::{HeaderMap, HeaderValue};
use http_body_util::Full;
use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

const TOKEN: &str = "bench-proxy-token-0123456789abcdef";

fn demo_apps() -> Vec<Application> {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fixtures/demo/20-applications.yaml"
    ))
    .unwrap();
    let mut docs = fake_apiserver::load_yaml_documents(&text).unwrap();
    let now = jiff::Timestamp::now();
    docs.iter_mut()
        .map(|doc| {
            fake_apiserver::expand_time_placeholders(doc, now);
            let key = AppKey::new(
                doc["metadata"]["namespace"].as_str().unwrap(),
                doc["metadata"]["name"].as_str().unwrap(),
            );
            Application {
                key,
                spec: serde_json::from_value(doc["spec"].take()).unwrap(),
                status: serde_json::from_value(doc["status"].take()).unwrap(),
                report_links: Vec::new(),
            }
        })
        .collect()
}

fn index() -> AppIndex {
    let scopes = vec![
        WatchScope::Namespace("argocd".into()),
        WatchScope::Namespace("team-apps".into()),
    ];
    let index = AppIndex::new(scopes.clone());
    let demo = demo_apps();
    let mut argocd: Vec<Application> = demo
        .iter()
        .filter(|a| a.key.namespace == "argocd")
        .cloned()
        .collect();
    let template = argocd[0].clone();
    for i in 0..2000 {
        let mut app = template.clone();
        app.key = AppKey::new("argocd", format!("generated-{i}"));
        argocd.push(app);
    }
    let team: Vec<Application> = demo
        .into_iter()
        .filter(|a| a.key.namespace == "team-apps")
        .collect();
    index.replace_scope(&scopes[0], argocd, jiff::Timestamp::now());
    index.replace_scope(&scopes[1], team, jiff::Timestamp::now());
    index
}

fn headers() -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in [
        ("authorization", format!("Bearer {TOKEN}")),
        ("argocd-application-name", "argocd:web-frontend".into()),
        ("argocd-project-name", "team-web".into()),
        ("argocd-namespace", "argocd".into()),
        ("argocd-username", "alice@example.com".into()),
        ("argocd-user-id", "CiQwOGE4Njg0Yi1kYjg4".into()),
        ("argocd-user-groups", "dev,ops,sre".into()),
        ("argocd-target-cluster-name", "in-cluster".into()),
    ] {
        h.insert(k, HeaderValue::from_str(&v).unwrap());
    }
    h
}

fn bench(c: &mut Criterion) {
    let index = index();
    let gate = Gate::new(
        ProxyAuth::Token(TOKEN.parse::<Secret>().unwrap()),
        index.clone(),
    );
    let headers = headers();
    let uri: http::Uri = "/api/v1/status".parse().unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();

    c.bench_function("parse identity headers", |b| {
        b.iter(|| parse_caller(black_box(&headers)).unwrap())
    });
    c.bench_function("gate: secret + headers + lookup + claims", |b| {
        b.iter(|| {
            gate.authenticate(black_box(&headers)).unwrap();
            runtime
                .block_on(gate.admit::<NoParams>(black_box(&headers), &uri))
                .unwrap()
        })
    });
    let Lookup::Found { app, freshness } = index.lookup(&AppKey::new("argocd", "web-frontend"))
    else {
        panic!("demo app missing");
    };
    // Drift is not measured here; its cluster is a kubeconfig pointing nowhere.
    let kubeconfig = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        kubeconfig.path(),
        "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'http://127.0.0.1:9'}}]\nusers: [{name: u, user: {}}]\ncontexts: [{name: c, context: {cluster: c, user: u}}]\ncurrent-context: c\n",
    )
    .unwrap();
    let connection = runtime
        .block_on(argocd_drift::cluster::Connection::new(
            Some(kubeconfig.path()),
            Duration::from_secs(1),
        ))
        .unwrap();
    let drift = argocd_drift::handlers::drift::Drift::new(
        connection.destinations(
            argocd_drift::cluster::ReadLimits {
                concurrency: 1,
                cache_bytes: 0,
                cache_ttl: Duration::ZERO,
                read_secrets: false,
                refresh_min_interval: Duration::from_secs(10),
            },
            false,
        ),
        argocd_drift::argocd_settings::ArgoCdSettings::new(),
        None,
        false,
        Duration::from_secs(1),
        Duration::from_secs(1),
    );
    let whole = api(ApiDeps {
        proxy_auth: ProxyAuth::Token(TOKEN.parse::<Secret>().unwrap()),
        index: index.clone(),
        limits: Limits::new(256, 1 << 20, Duration::from_secs(10)),
        metrics: Arc::new(Metrics::new()),
        reconcile_stale_after: Duration::from_secs(600),
        drift,
        history: argocd_drift::history::History::new(Default::default(), Arc::new(Metrics::new())),
        reports: argocd_drift::reports::ReportStore::new(
            argocd_drift::reports::Timing::default(),
            Some(index.clone()),
        ),
    });
    let peer: std::net::SocketAddr = "10.0.0.7:41000".parse().unwrap();
    c.bench_function(
        "whole API request in-process (pipeline, gate, handler, JSON)",
        |b| {
            b.iter(|| {
                let mut request = http::Request::get("/api/v1/status");
                for (name, value) in &headers {
                    request = request.header(name, value);
                }
                let request = request.body(Full::new(Bytes::new())).unwrap();
                let response = runtime.block_on(whole.call(request, peer));
                assert_eq!(response.status(), 200);
                response
            })
        },
    );
    c.bench_function("status document: build + serialize", |b| {
        b.iter(|| {
            let view = status_view(
                black_box(&app),
                &freshness,
                jiff::Timestamp::now(),
                Duration::from_secs(600),
            );
            serde_json::to_vec(&view).unwrap()
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = bench
}
criterion_main!(benches);
