//! Mixed load (issue 19), outside the default suite: `make load` runs it (`LOAD_SECONDS`,
//! `LOAD_RPS`, defaults 60 s and 1,000 req/s). One backend (in this process, debug build unless
//! run with `--release`) on the fake API server with the demo fixtures; paced requests spread
//! over status, drift, history (API port, with Argo CD's headers), reports ingest and
//! `status.json` (reports port). Prints the achieved rate, errors and p50/p99 per endpoint;
//! fails on any error.
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod common;

use common::{TOKEN, app_header, demo};
use http::Method;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

const ENDPOINTS: [&str; 5] = [
    "status",
    "drift",
    "history",
    "reports ingest",
    "status.json",
];
const WORKERS: u64 = 64;

/// What a load run saw: latencies of the 200s per endpoint, and every other answer.
#[derive(Default)]
struct Seen {
    latencies: BTreeMap<&'static str, Vec<Duration>>,
    errors: Vec<String>,
}

/// `rps` requests a second for `seconds`, spread over [`ENDPOINTS`] by [`WORKERS`] workers.
async fn drive(
    api: std::net::SocketAddr,
    reports: std::net::SocketAddr,
    app: String,
    seconds: u64,
    rps: u64,
) -> Seen {
    let seen: Arc<Mutex<Seen>> = Arc::default();
    let end = Instant::now() + Duration::from_secs(seconds);
    let mut workers = Vec::new();
    for w in 0..WORKERS {
        let (seen, app) = (Arc::clone(&seen), app.clone());
        workers.push(tokio::spawn(async move {
            // Each worker sends rps/WORKERS requests a second, staggered.
            let every = Duration::from_secs_f64(WORKERS as f64 / rps as f64);
            let mut ticks = tokio::time::interval_at(
                tokio::time::Instant::now() + every.mul_f64(w as f64 / WORKERS as f64),
                every,
            );
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            let auth = format!("Bearer {TOKEN}");
            let mut i = w as usize;
            while Instant::now() < end {
                ticks.tick().await;
                i += 1;
                let endpoint = ENDPOINTS[i % ENDPOINTS.len()];
                let api_headers = [
                    ("Authorization", auth.as_str()),
                    ("Argocd-Application-Name", app.as_str()),
                    ("Argocd-Project-Name", "default"),
                ];
                let sent = Instant::now();
                let result = match endpoint {
                    "status" => testenv::http::get(api, "/api/v1/status", &api_headers).await,
                    "drift" => testenv::http::get(api, "/api/v1/drift", &api_headers).await,
                    "history" => testenv::http::get(api, "/api/v1/history", &api_headers).await,
                    "reports ingest" => {
                        let last_check =
                            jiff::Timestamp::from_second(jiff::Timestamp::now().as_second())
                                .unwrap()
                                .to_string();
                        let body = serde_json::json!({"repo": format!("load-{}", w % 16),
                            "server": "lab", "sync_status": "SYNCED", "drift_count": 0,
                            "files": [], "last_check": last_check});
                        testenv::http::send(
                            reports,
                            Method::POST,
                            "/api/status",
                            &[("Content-Type", "application/json")],
                            body.to_string().into(),
                        )
                        .await
                    }
                    _ => testenv::http::get(reports, "/status.json", &[]).await,
                };
                let elapsed = sent.elapsed();
                let mut seen = seen.lock().unwrap();
                match result {
                    Ok(r) if r.status == 200 => {
                        seen.latencies.entry(endpoint).or_default().push(elapsed)
                    }
                    Ok(r) => seen.errors.push(format!(
                        "{endpoint}: {} {}",
                        r.status,
                        String::from_utf8_lossy(&r.body)
                    )),
                    Err(e) => seen.errors.push(format!("{endpoint}: {e:#}")),
                }
            }
        }));
    }
    for worker in workers {
        worker.await.unwrap();
    }
    Arc::try_unwrap(seen)
        .ok()
        .expect("every worker is done")
        .into_inner()
        .unwrap()
}

/// Prints the achieved rate and p50/p99 per endpoint; fails on any error.
fn report(seen: &Seen, seconds: u64, rps: u64, elapsed: f64) {
    let total: usize = seen.latencies.values().map(Vec::len).sum();
    println!(
        "mixed load: {seconds} s, target {rps} req/s, achieved {:.0} req/s ({total} answered 200)",
        total as f64 / elapsed
    );
    for (endpoint, samples) in &seen.latencies {
        let mut samples = samples.clone();
        samples.sort_unstable();
        let at = |q: f64| samples[((samples.len() as f64 - 1.0) * q) as usize];
        println!(
            "  {endpoint:15} {:6} req  p50 {:7.2} ms  p99 {:7.2} ms",
            samples.len(),
            at(0.50).as_secs_f64() * 1e3,
            at(0.99).as_secs_f64() * 1e3
        );
    }
    assert!(
        seen.errors.is_empty(),
        "{} errors, first: {:?}",
        seen.errors.len(),
        seen.errors.first()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a 60 s load run: make load"]
async fn mixed_load_answers_every_request() {
    let seconds = env_or("LOAD_SECONDS", 60);
    let rps = env_or("LOAD_RPS", 1000);
    let (cluster, app) = demo(&[("REPORTS_INSECURE_NO_AUTH", "true"), ("LOG_LEVEL", "warn")]).await;
    let guestbook = app_header(&cluster, "argocd", "guestbook");
    let started = Instant::now();
    let seen = drive(app.api, app.reports, guestbook, seconds, rps).await;
    report(&seen, seconds, rps, started.elapsed().as_secs_f64());
}

/// This process's resident memory (KiB) and open file descriptors.
fn footprint() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap();
    let fds = std::fs::read_dir("/proc/self/fd").unwrap().count() as f64;
    (rss, fds)
}

/// Least-squares slope of `ys` over `xs`, per unit of `xs`.
fn slope(xs: &[f64], ys: &[f64]) -> f64 {
    let n = xs.len() as f64;
    let (mx, my) = (xs.iter().sum::<f64>() / n, ys.iter().sum::<f64>() / n);
    let num: f64 = xs.iter().zip(ys).map(|(x, y)| (x - mx) * (y - my)).sum();
    let den: f64 = xs.iter().map(|x| (x - mx).powi(2)).sum();
    num / den
}

/// The size gauges of `/metrics`: what the backend holds.
const HELD: &[&str] = &[
    "argocd_drift_applications",
    "argocd_drift_reports",
    "argocd_drift_reports_held_bytes",
    "argocd_drift_report_heartbeats_pending",
    "argocd_drift_history_records",
    "argocd_drift_history_pending_writes",
    "argocd_drift_http_requests_in_flight",
    "argocd_drift_engine_running",
];

/// The soak (issue 19), outside the default suite: `make soak` (`SOAK_SECONDS`, default 600;
/// `LOAD_RPS`). The mixed load while apps turn OutOfSync and back every 2 s (episodes opened and
/// closed, histories written, Events sent); every 10 s this process's RSS and open fds are
/// sampled. Backend, fake API server and load generator share the process: a leak in any shows.
/// Prints the slopes over the run after the first minute (warm-up) and the held sizes at the
/// start and the end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a 10 min soak: make soak"]
async fn a_soak_stays_flat() {
    let seconds = env_or("SOAK_SECONDS", 600);
    let rps = env_or("LOAD_RPS", 1000);
    let (cluster, app) = demo(&[("REPORTS_INSECURE_NO_AUTH", "true"), ("LOG_LEVEL", "warn")]).await;
    let guestbook = app_header(&cluster, "argocd", "guestbook");
    let held = |text: &str| -> Vec<(String, f64)> {
        HELD.iter()
            .map(|name| {
                let total = text
                    .lines()
                    .filter(|l| l.starts_with(name) && !l.starts_with('#'))
                    .filter(|l| l[name.len()..].starts_with(['{', ' ']))
                    .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
                    .sum();
                (name.to_string(), total)
            })
            .collect()
    };
    let at_start = held(&app.metrics().await);
    let started = Instant::now();
    let end = started + Duration::from_secs(seconds);
    // Apps turning OutOfSync and back.
    let flipper = {
        let client = cluster.client().await.unwrap();
        let apps = common::applications(client, &cluster.ns("argocd"));
        tokio::spawn(async move {
            let mut out = false;
            while Instant::now() < end {
                out = !out;
                let status = if out { "OutOfSync" } else { "Synced" };
                for name in ["guestbook", "monitoring"] {
                    let _ = apps
                        .patch(
                            name,
                            &kube::api::PatchParams::default(),
                            &kube::api::Patch::Merge(
                                serde_json::json!({"status": {"sync": {"status": status}}}),
                            ),
                        )
                        .await;
                }
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
        })
    };
    let sampler = tokio::spawn(async move {
        let mut samples = Vec::new();
        while Instant::now() < end {
            let (rss, fds) = footprint();
            samples.push((started.elapsed().as_secs_f64() / 60.0, rss, fds));
            tokio::time::sleep(Duration::from_secs(10)).await;
        }
        samples
    });
    let seen = drive(app.api, app.reports, guestbook, seconds, rps).await;
    flipper.await.unwrap();
    let samples = sampler.await.unwrap();
    report(&seen, seconds, rps, started.elapsed().as_secs_f64());
    let warm: Vec<_> = samples.iter().filter(|(m, _, _)| *m >= 1.0).collect();
    let (xs, rss, fds): (Vec<f64>, Vec<f64>, Vec<f64>) = (
        warm.iter().map(|s| s.0).collect(),
        warm.iter().map(|s| s.1).collect(),
        warm.iter().map(|s| s.2).collect(),
    );
    if xs.len() >= 3 {
        println!(
            "soak: {} samples after the first minute; RSS {:.0} → {:.0} KiB, slope {:+.1} KiB/min; \
             open fds {:.0} → {:.0}, slope {:+.2}/min",
            xs.len(),
            rss[0],
            rss[rss.len() - 1],
            slope(&xs, &rss),
            fds[0],
            fds[fds.len() - 1],
            slope(&xs, &fds)
        );
    }
    let at_end = held(&app.metrics().await);
    for ((name, a), (_, b)) in at_start.iter().zip(&at_end) {
        println!("  {name:45} {a:>12} → {b:>12}");
    }
}
