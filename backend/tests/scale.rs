//! The scale smoke test: what argocd-drift holds per Application must not creep up.
//!
//! The `argocd-drift` binary (this build's) runs twice against an in-process fake API server:
//! once with 100 Applications, once with 5,000 — 20 resources each, 5 % of them with a stored
//! drift history of 100 episodes. The difference in resident memory once each is ready and has
//! taken every turn, over the 4,900 apps between them, is the cost of one more app (its index
//! entry, its share of the histories, the maps that hold them). Bounds are generous for CI noise
//! and a debug build, and still well below what an index of parsed Applications, or a history
//! listed in large pages, cost (6–11 KB per app: see docs/benchmarks.md); `make bench-scale`
//! has the curve.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support {
    pub mod scale_data;
}

use std::net::SocketAddr;
use std::time::{Duration, Instant};
use support::scale_data::{NS, OWN_NS, application, history_object};

const TOKEN: &str = "scale-proxy-token-0123456789abcdef";
const RESOURCES: usize = 20;
/// What one more app may cost, all told (measured: 2.3 KB in a debug build; 6–11 KB with the
/// history listed 50 records a page).
const MAX_BYTES_PER_APP: f64 = 4096.0;
/// The larger run must be ready within this (debug build, a shared CI machine).
const MAX_READY: Duration = Duration::from_secs(90);

struct Run {
    ready: Duration,
    rss: f64,
}

fn rss_bytes(pid: u32) -> f64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .expect("VmRSS")
        * 1024.0
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn metric(service: SocketAddr, name: &str) -> Option<f64> {
    let r = testenv::http::get(service, "/metrics", &[]).await.ok()?;
    String::from_utf8_lossy(&r.body).lines().find_map(|l| {
        l.strip_prefix(name)?
            .strip_prefix(' ')?
            .trim()
            .parse::<f64>()
            .ok()
    })
}

/// Waits for `check` to hold, polling; panics with `what` after `within`.
async fn until<F: Future<Output = bool>>(within: Duration, what: &str, check: impl Fn() -> F) {
    let started = Instant::now();
    while !check().await {
        assert!(started.elapsed() < within, "{what} within {within:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn run(apps: usize) -> Run {
    let drifting = apps / 20;
    let now = jiff::Timestamp::now();
    let mut objects: Vec<serde_json::Value> =
        (0..apps).map(|i| application(i, RESOURCES)).collect();
    objects.extend((0..drifting).map(|i| history_object(i, now)));
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let fake = fake_apiserver::FakeApiServer::builder()
        .seed_dir(root.join("fixtures/crds"))
        .seed_dir(root.join("helm/argocd-drift/crds"))
        .seed_objects(objects)
        .start()
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(&kubeconfig, fake.kubeconfig_yaml()).unwrap();
    let (api_port, service_port) = (free_port(), free_port());
    let started = Instant::now();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_argocd-drift"))
        .envs([
            ("BIND_ADDRESS", "127.0.0.1".to_string()),
            ("PORT", api_port.to_string()),
            ("SERVICE_PORT", service_port.to_string()),
            ("REPORTS_PORT", "0".to_string()),
            ("PROXY_TOKEN", TOKEN.to_string()),
            ("KUBECONFIG", kubeconfig.display().to_string()),
            ("ARGOCD_NAMESPACES", NS.to_string()),
            ("POD_NAMESPACE", OWN_NS.to_string()),
            ("ARGOCD_CONTROL_PLANE_NAMESPACE", NS.to_string()),
            ("LOG_LEVEL", "error".to_string()),
            ("SHUTDOWN_DELAY_SECONDS", "0".to_string()),
        ])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let service: SocketAddr = format!("127.0.0.1:{service_port}").parse().unwrap();
    until(MAX_READY, "ready", || async {
        testenv::http::get(service, "/readyz", &[])
            .await
            .is_ok_and(|r| r.status == 200)
    })
    .await;
    let ready = started.elapsed();
    // Every app's first turn taken, and nothing left to write.
    until(MAX_READY, "every turn taken", || async {
        metric(service, "argocd_drift_history_pending_writes").await == Some(0.0)
            && metric(service, r#"argocd_drift_history_records{state="valid"}"#).await
                == Some(drifting as f64)
    })
    .await;
    let rss = rss_bytes(child.id());
    child.kill().ok();
    child.wait().ok();
    fake.shutdown().await;
    Run { ready, rss }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_more_application_costs_a_bounded_number_of_bytes() {
    let small = run(100).await;
    let large = run(5_000).await;
    let per_app = (large.rss - small.rss) / 4_900.0;
    eprintln!(
        "100 apps: {:.1} MiB; 5,000 apps: {:.1} MiB, ready in {:.1} s: {per_app:.0} bytes per app",
        small.rss / 1048576.0,
        large.rss / 1048576.0,
        large.ready.as_secs_f64()
    );
    assert!(
        per_app <= MAX_BYTES_PER_APP,
        "{per_app:.0} bytes per app, more than {MAX_BYTES_PER_APP}"
    );
    assert!(large.ready <= MAX_READY, "ready in {:?}", large.ready);
}
