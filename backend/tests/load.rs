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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a 60 s load run: make load"]
async fn mixed_load_answers_every_request() {
    let seconds = env_or("LOAD_SECONDS", 60);
    let rps = env_or("LOAD_RPS", 1000);
    let (cluster, app) = demo(&[("REPORTS_INSECURE_NO_AUTH", "true"), ("LOG_LEVEL", "warn")]).await;
    let guestbook = app_header(&cluster, "argocd", "guestbook");
    let (api, reports) = (app.api, app.reports);
    let latencies: Arc<Mutex<BTreeMap<&str, Vec<Duration>>>> = Arc::default();
    let errors: Arc<Mutex<Vec<String>>> = Arc::default();
    let started = Instant::now();
    let end = started + Duration::from_secs(seconds);
    let mut workers = Vec::new();
    for w in 0..WORKERS {
        let (latencies, errors, guestbook) = (
            Arc::clone(&latencies),
            Arc::clone(&errors),
            guestbook.clone(),
        );
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
                    ("Argocd-Application-Name", guestbook.as_str()),
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
                match result {
                    Ok(r) if r.status == 200 => latencies
                        .lock()
                        .unwrap()
                        .entry(endpoint)
                        .or_default()
                        .push(elapsed),
                    Ok(r) => errors.lock().unwrap().push(format!(
                        "{endpoint}: {} {}",
                        r.status,
                        String::from_utf8_lossy(&r.body)
                    )),
                    Err(e) => errors.lock().unwrap().push(format!("{endpoint}: {e:#}")),
                }
            }
        }));
    }
    for worker in workers {
        worker.await.unwrap();
    }
    let elapsed = started.elapsed().as_secs_f64();
    let latencies = latencies.lock().unwrap();
    let total: usize = latencies.values().map(Vec::len).sum();
    println!(
        "mixed load: {seconds} s, target {rps} req/s, achieved {:.0} req/s ({total} answered 200)",
        total as f64 / elapsed
    );
    for (endpoint, samples) in latencies.iter() {
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
    let errors = errors.lock().unwrap();
    assert!(
        errors.is_empty(),
        "{} errors, first: {:?}",
        errors.len(),
        errors.first()
    );
}
