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

#[path = "../tests/support/scale_data.rs"]
mod scale_data;

use scale_data::{NS, OWN_NS, app_name, application, history_object, status};
use serde_json::Value;
use std::time::{Duration, Instant};

const TOKEN: &str = "bench-proxy-token-0123456789abcdef";

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
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

/// One keep-alive connection's requests for `path` as `apps` (cycled) until `until`: each
/// request's latency.
async fn keep_alive(
    api: std::net::SocketAddr,
    path: &'static str,
    apps: Vec<(String, String)>,
    until: Instant,
) -> Vec<Duration> {
    use http_body_util::{BodyExt, Empty};
    let stream = tokio::net::TcpStream::connect(api).await.unwrap();
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .unwrap();
    let driver = tokio::spawn(conn);
    let mut took = Vec::new();
    let auth = format!("Bearer {TOKEN}");
    for (app, project) in apps.iter().cycle() {
        if Instant::now() >= until {
            break;
        }
        let request = hyper::Request::get(path)
            .header("host", api.to_string())
            .header("Authorization", &auth)
            .header("Argocd-Application-Name", app)
            .header("Argocd-Project-Name", project)
            .body(Empty::<bytes::Bytes>::new())
            .unwrap();
        let t = Instant::now();
        let response = sender.send_request(request).await.unwrap();
        let status = response.status();
        let _ = response.into_body().collect().await.unwrap();
        took.push(t.elapsed());
        assert!(status.is_success(), "{path} for {app}: {status}");
    }
    driver.abort();
    took
}

/// `path` for `apps` over `connections` keep-alive connections for `time`: (requests/s, p50,
/// p99) in milliseconds.
async fn probe(
    api: std::net::SocketAddr,
    path: &'static str,
    apps: &[(String, String)],
    connections: usize,
    time: Duration,
) -> (f64, f64, f64) {
    let until = Instant::now() + time;
    let started = Instant::now();
    let tasks: Vec<_> = (0..connections)
        .map(|c| {
            let mut mine = apps.to_vec();
            mine.rotate_left(c * apps.len() / connections);
            tokio::spawn(keep_alive(api, path, mine, until))
        })
        .collect();
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.unwrap());
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort();
    let at = |q: f64| all[((all.len() as f64 * q) as usize).min(all.len() - 1)].as_secs_f64() * 1e3;
    (all.len() as f64 / elapsed, at(0.5), at(0.99))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let apps = env("HISTORY_LOAD_APPS", 50_000);
    let drifting = env("HISTORY_LOAD_DRIFTING", apps / 20).min(apps);
    let per_app = env("HISTORY_LOAD_RESOURCES", 5);
    let probe_for = Duration::from_secs(env("HISTORY_LOAD_PROBE_SECONDS", 0) as u64);
    let hours = env("HISTORY_LOAD_HOURS", 3);
    let binary = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "target/release/argocd-drift".into());
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let now = jiff::Timestamp::now();

    let seeding = Instant::now();
    let mut objects: Vec<Value> = (0..apps).map(|i| application(i, per_app)).collect();
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
            ("REPORTS_PORT", "0".to_string()),
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
    let ready_s = started.elapsed().as_secs_f64();
    let (at_ready, peak_at_ready) = rss(pid);
    println!("ready in {ready_s:.1} s; RSS {at_ready:.0} MiB (peak {peak_at_ready:.0} MiB)");
    let api = format!("127.0.0.1:{api_port}").parse().unwrap();
    let mut latency = [(0.0, 0.0, 0.0); 2];
    if !probe_for.is_zero() {
        // Ready means listed; the drift history still takes the first list's turns for a
        // moment. Requests are measured once the backend is idle (not one 10 ms tick of CPU
        // in 250 ms), so the probe measures a request at this size, not the start-up's tail.
        let idle_from = Instant::now();
        loop {
            let before = cpu(&pid.to_string());
            tokio::time::sleep(Duration::from_millis(250)).await;
            if cpu(&pid.to_string()) - before < 0.005
                || idle_from.elapsed() > Duration::from_secs(60)
            {
                break;
            }
        }
        println!(
            "idle {:.1} s after ready",
            idle_from.elapsed().as_secs_f64()
        );
        // Every app for /status; the apps with a stored history of 100 episodes for /history.
        let who = |i: usize| (format!("{NS}:{}", app_name(i)), format!("team-{}", i % 50));
        let mut all: Vec<(String, String)> = (0..apps).map(who).collect();
        // Spread over the index, not in name order.
        all.sort_by_key(|(a, _)| a.bytes().rev().collect::<Vec<u8>>());
        let with_history: Vec<(String, String)> = (0..drifting.max(1)).map(who).collect();
        latency[0] = probe(api, "/api/v1/status", &all, 8, probe_for).await;
        latency[1] = probe(api, "/api/v1/history", &with_history, 8, probe_for).await;
        for (what, (rps, p50, p99)) in [("status", latency[0]), ("history", latency[1])] {
            println!(
                "GET /api/v1/{what}: {rps:.0} requests/s over 8 connections, p50 {p50:.2} ms, p99 {p99:.2} ms"
            );
        }
    }

    let mut opened = 0.0;
    let mut closed = 0.0;
    let mut writes_per_s = Vec::new();
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
                    per_app,
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
        writes_per_s.push(2.0 * drifting as f64 / (took + took_closes).as_secs_f64());
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
    let (after, peak) = rss(pid);
    if let Ok(path) = std::env::var("HISTORY_LOAD_TSV") {
        use std::io::Write;
        let writes = if writes_per_s.is_empty() {
            0.0
        } else {
            writes_per_s.iter().sum::<f64>() / writes_per_s.len() as f64
        };
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap();
        writeln!(
            file,
            "{apps}\t{per_app}\t{drifting}\t{ready_s:.1}\t{at_ready:.0}\t{peak_at_ready:.0}\t{after:.0}\t{peak:.0}\t{writes:.0}\t{:.0}\t{:.2}\t{:.0}\t{:.2}\t{hours}",
            latency[0].0, latency[0].2, latency[1].0, latency[1].2
        )
        .unwrap();
    }
    // A clean stop (SIGTERM): a profiler wrapping the binary (`exec heaptrack …`) writes its data.
    std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .ok();
    let stopping = Instant::now();
    while child.try_wait().ok().flatten().is_none() {
        if stopping.elapsed() > Duration::from_secs(120) {
            child.kill().ok();
            child.wait().ok();
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
