//! The drift-memory benchmark (`make bench-history`, scripts/bench-history.sh): the release
//! `argocd-drift` binary against an in-process fake API server holding 50,000 Applications, of
//! which 5 % (2,500) drift once an hour.
//!
//! Simulated time: 30 days of that history cannot be replayed live, so the fake is seeded with
//! where it leads — each drifting app's `DriftHistory` already holding its last 100 hourly
//! episodes (the default `HISTORY_MAX_EPISODES`; an app that drifts hourly reaches it in ~4
//! days) — and then live hours are played: every drifting app turns OutOfSync at once, then
//! Synced again by an automated sync. Measured:
//!
//! - start-up to ready (lists of 50,000 apps and 2,500 records) and the backend's RSS then;
//! - episode writes per second: how fast the 2,500 opens and then the 2,500 closes of one
//!   hour are stored (each a read-modify-write of a record of 100 episodes), from the backend's
//!   own counters;
//! - RSS (current and peak) after the live hours, the number of custom resources and their
//!   total size — against the one-object-per-episode alternative.
//!
//! `HISTORY_LOAD_APPS`, `HISTORY_LOAD_DRIFTING`, `HISTORY_LOAD_HOURS` override 50,000 / 2,500 / 3.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark: a panic is the report

use drift_core::app::AppKey;
use drift_core::history::Record;
use drift_core::history::model::{DriftCause, End, EndCause, Episode, Involved, Start, to_object};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const NS: &str = "argocd";
const OWN_NS: &str = "argocd-drift";
const TOKEN: &str = "bench-proxy-token-0123456789abcdef";
const KEEP: usize = 100;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn app_name(i: usize) -> String {
    format!("app-{i:05}")
}

fn resources(i: usize, drifting: bool) -> Value {
    json!([
        {"group": "apps", "version": "v1", "kind": "Deployment", "namespace": format!("team-{}", i % 50), "name": app_name(i), "status": if drifting {"OutOfSync"} else {"Synced"}},
        {"version": "v1", "kind": "Service", "namespace": format!("team-{}", i % 50), "name": app_name(i), "status": "Synced"},
        {"version": "v1", "kind": "ConfigMap", "namespace": format!("team-{}", i % 50), "name": format!("{}-config", app_name(i)), "status": "Synced"},
        {"group": "networking.k8s.io", "version": "v1", "kind": "Ingress", "namespace": format!("team-{}", i % 50), "name": app_name(i), "status": "Synced"},
        {"group": "autoscaling", "version": "v2", "kind": "HorizontalPodAutoscaler", "namespace": format!("team-{}", i % 50), "name": app_name(i), "status": "Synced"}
    ])
}

fn status(i: usize, drifting: bool, op_at: &str) -> Value {
    json!({
        "sync": {"status": if drifting {"OutOfSync"} else {"Synced"}, "revision": "9f2c1e0b7a4d3c2b1a09f8e7d6c5b4a392817160"},
        "health": {"status": "Healthy"},
        "reconciledAt": "2026-11-29T16:00:00Z",
        "resourceHealthSource": "appTree",
        "resources": resources(i, drifting),
        "operationState": {
            "phase": "Succeeded", "startedAt": op_at, "finishedAt": op_at,
            "operation": {"initiatedBy": {"automated": true}, "sync": {"revision": "9f2c1e0b7a4d3c2b1a09f8e7d6c5b4a392817160"}}
        }
    })
}

fn application(i: usize) -> Value {
    json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": app_name(i), "namespace": NS, "uid": format!("{i:08x}-0000-4000-8000-000000000000")},
        "spec": {
            "project": format!("team-{}", i % 50),
            "destination": {"server": "https://kubernetes.default.svc", "namespace": format!("team-{}", i % 50)},
            "source": {"repoURL": "https://git.example.com/apps.git", "path": app_name(i), "targetRevision": "HEAD"},
            "syncPolicy": {"automated": {"selfHeal": true}}
        },
        "status": status(i, false, "2026-11-01T00:00:00Z")
    })
}

/// An app's record after drifting hourly for days: its last 100 episodes, each with the
/// Deployment a drift request found changed by `kubectl-edit`.
fn record(i: usize, now: jiff::Timestamp) -> Record {
    let episodes = (0..KEEP)
        .map(|k| {
            let hours_ago = (KEEP - k) as i64;
            let start = now
                .checked_sub(jiff::SignedDuration::from_hours(hours_ago))
                .unwrap();
            let end = start
                .checked_add(jiff::SignedDuration::from_secs(300))
                .unwrap();
            Episode {
                id: format!("{i:08x}-{}", 2 * k + 1),
                start: Start {
                    at: start,
                    version: (2 * k + 1).to_string(),
                    witnessed: true,
                    inferred: false,
                    revision: Some("9f2c1e0b7a4d3c2b1a09f8e7d6c5b4a392817160".into()),
                    operation: Some(drift_core::history::model::OperationMark {
                        started_at: "2026-11-01T00:00:00Z".into(),
                        running: false,
                    }),
                },
                end: Some(End {
                    at: end,
                    version: (2 * k + 2).to_string(),
                    witnessed: true,
                    cause: EndCause::AutomatedSync,
                    user: None,
                    operation_phase: Some("Succeeded".into()),
                    revision: Some("9f2c1e0b7a4d3c2b1a09f8e7d6c5b4a392817160".into()),
                }),
                resources: vec![Involved {
                    group: "apps".into(),
                    kind: "Deployment".into(),
                    namespace: format!("team-{}", i % 50),
                    name: app_name(i),
                    cause: Some(DriftCause::LiveChanged),
                    fields: vec!["spec.replicas".into()],
                    managers: vec!["kubectl-edit".into()],
                }],
                detail_trimmed: false,
            }
        })
        .collect();
    Record {
        episodes,
        pruned: None,
    }
}

fn history_object(i: usize, now: jiff::Timestamp) -> Value {
    let mut o = to_object(&AppKey::new(NS, app_name(i)), &record(i, now));
    o["apiVersion"] = "argocd-drift.io/v1alpha1".into();
    o["kind"] = "DriftHistory".into();
    o["metadata"]["namespace"] = OWN_NS.into();
    o
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// (VmRSS, VmHWM) in MiB.
fn rss(pid: u32) -> (f64, f64) {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kib = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
            .unwrap_or(0.0)
            / 1024.0
    };
    (kib("VmRSS:"), kib("VmHWM:"))
}

/// CPU seconds (user + system) a process has used.
fn cpu(pid: &str) -> f64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces): utime and stime are 14 and 15.
    let rest = text.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

async fn metrics(port: u16) -> String {
    match testenv::http::get(
        format!("127.0.0.1:{port}").parse().unwrap(),
        "/metrics",
        &[],
    )
    .await
    {
        Ok(r) => String::from_utf8_lossy(&r.body).into_owned(),
        Err(_) => String::new(),
    }
}

/// The sum of every series of `name` (any labels).
fn total(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} ")))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Waits until the sum of `name` reaches `target`; the time it took.
async fn until(port: u16, name: &str, target: f64) -> Duration {
    let started = Instant::now();
    loop {
        if total(&metrics(port).await, name) >= target {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(1200),
            "{name} never reached {target}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let apps = env("HISTORY_LOAD_APPS", 50_000);
    let drifting = env("HISTORY_LOAD_DRIFTING", apps / 20);
    let hours = env("HISTORY_LOAD_HOURS", 3);
    let binary = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "target/release/argocd-drift".into());
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let now = jiff::Timestamp::now();

    let seeding = Instant::now();
    let mut objects: Vec<Value> = (0..apps).map(application).collect();
    objects.extend((0..drifting).map(|i| history_object(i, now)));
    let fake = fake_apiserver::FakeApiServer::builder()
        .seed_dir(root.join("fixtures/crds"))
        .seed_dir(root.join("helm/argocd-drift/crds"))
        .seed_objects(objects)
        .start()
        .await
        .unwrap();
    let store = fake.store();
    let stored_bytes = |store: &fake_apiserver::Store| {
        let list = store.list("argocd-drift.io/v1alpha1", "DriftHistory", Some(OWN_NS));
        let bytes: usize = list
            .iter()
            .map(|o| serde_json::to_vec(o).unwrap().len())
            .sum();
        let episodes: usize = list
            .iter()
            .map(|o| o["status"]["episodes"].as_array().map_or(0, Vec::len))
            .sum();
        (list.len(), episodes, bytes)
    };
    let (records, episodes, bytes) = stored_bytes(store);
    println!(
        "seeded {apps} Applications and {records} DriftHistory objects ({episodes} episodes, {:.1} MiB) in {:.1} s",
        bytes as f64 / 1048576.0,
        seeding.elapsed().as_secs_f64()
    );

    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(&kubeconfig, fake.kubeconfig_yaml()).unwrap();
    let (api_port, service_port) = (free_port(), free_port());
    let started = Instant::now();
    let mut child = std::process::Command::new(&binary)
        .envs([
            ("BIND_ADDRESS", "127.0.0.1".to_string()),
            ("PORT", api_port.to_string()),
            ("SERVICE_PORT", service_port.to_string()),
            ("PROXY_TOKEN", TOKEN.to_string()),
            ("KUBECONFIG", kubeconfig.display().to_string()),
            ("ARGOCD_NAMESPACES", NS.to_string()),
            ("POD_NAMESPACE", OWN_NS.to_string()),
            ("ARGOCD_CONTROL_PLANE_NAMESPACE", NS.to_string()),
            ("LOG_LEVEL", "warn".to_string()),
            ("SHUTDOWN_DELAY_SECONDS", "0".to_string()),
        ])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("{binary}: {e} (build it: cargo build --release -p argocd-drift)")
        });
    let pid = child.id();
    let service = format!("127.0.0.1:{service_port}").parse().unwrap();
    loop {
        if testenv::http::get(service, "/readyz", &[])
            .await
            .is_ok_and(|r| r.status == 200)
        {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(300), "never ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (at_ready, _) = rss(pid);
    println!(
        "ready in {:.1} s; RSS {at_ready:.0} MiB",
        started.elapsed().as_secs_f64()
    );

    let mut opened = 0.0;
    let mut closed = 0.0;
    for hour in 0..hours {
        // Every drifting app turns OutOfSync (a person's edit)…
        let op_at = format!("2026-12-01T{:02}:00:00Z", hour % 24);
        let flip = |drift: bool| {
            for i in 0..drifting {
                let mut app = store
                    .get(
                        "argoproj.io/v1alpha1",
                        "Application",
                        Some(NS),
                        &app_name(i),
                    )
                    .unwrap();
                app["status"] = status(
                    i,
                    drift,
                    if drift {
                        "2026-11-01T00:00:00Z"
                    } else {
                        &op_at
                    },
                );
                store.replace(app).unwrap();
            }
        };
        let cpu_before = (cpu(&pid.to_string()), cpu("self"));
        let t = Instant::now();
        flip(true);
        let changed = t.elapsed();
        opened += drifting as f64;
        let took = until(service_port, "argocd_drift_episodes_started_total", opened).await;
        let opens = drifting as f64 / took.as_secs_f64();
        // …and an automated sync heals it.
        let t = Instant::now();
        flip(false);
        let changed_back = t.elapsed();
        closed += drifting as f64;
        let took_closes = until(service_port, "argocd_drift_episodes_ended_total", closed).await;
        let closes = drifting as f64 / took_closes.as_secs_f64();
        let (now_rss, peak) = rss(pid);
        let cpu_after = (cpu(&pid.to_string()), cpu("self"));
        println!(
            "  CPU over the hour: argocd-drift {:.1} s, the fake API server (and this driver) {:.1} s",
            cpu_after.0 - cpu_before.0,
            cpu_after.1 - cpu_before.1
        );
        println!(
            "hour {hour}: {drifting} opens stored in {:.2} s ({opens:.0}/s; the {drifting} app changes took {:.2} s), \
             {drifting} closes in {:.2} s ({closes:.0}/s; changes {:.2} s); RSS {now_rss:.0} MiB, peak {peak:.0} MiB",
            took.as_secs_f64(),
            changed.as_secs_f64(),
            took_closes.as_secs_f64(),
            changed_back.as_secs_f64(),
        );
    }
    let text = metrics(service_port).await;
    let (records, episodes, bytes) = stored_bytes(store);
    println!(
        "after {hours} live hours: {records} DriftHistory objects holding {episodes} episodes, {:.1} MiB in all \
         (largest {:.0} KiB); write conflicts {}, pending {}",
        bytes as f64 / 1048576.0,
        store
            .list("argocd-drift.io/v1alpha1", "DriftHistory", Some(OWN_NS))
            .iter()
            .map(|o| serde_json::to_vec(o).unwrap().len())
            .max()
            .unwrap_or(0) as f64
            / 1024.0,
        total(&text, "argocd_drift_history_write_errors_total"),
        total(&text, "argocd_drift_history_pending_writes"),
    );
    println!(
        "one object per episode instead: {} objects after 30 days ({drifting} x 24 x 30)",
        drifting * 24 * 30
    );
    child.kill().ok();
    child.wait().ok();
}
