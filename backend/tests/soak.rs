//! Soak (issue 19; `make soak`, ignored by default): the built binary, as its own process on the
//! fake API server, under the mixed load of `load.rs` (status, drift, history, reports ingest,
//! `status.json`) for `SOAK_DURATION` seconds (default 600) at `SOAK_RPS` (default 1000), while
//! an app turns OutOfSync and back every second. Every `SOAK_SAMPLE_SECONDS` (default 5) its RSS
//! and open file descriptors are sampled; printed: the least-squares slope of each after the
//! first fifth (warm-up), and argocd-drift's gauges of what it holds (reports, pending
//! heartbeats and history writes, bytes held, in-flight requests, …) at start and end. Each
//! internal map's entries (`argocd_drift_held_entries{map}`) are sampled with RSS.
//! Fails on any failed request, and on any map whose entries grow: its largest count in the
//! last half of the run more than a quarter (+8) above its largest in the first half after
//! warm-up (the first fifth, and at least a minute; runs too short for that skip the check).
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod common;

use http::Method;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use testenv::TestCluster;

const WORKERS: u64 = 16;

fn env_or(name: &str, default: u64) -> u64 {
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

/// (RSS in KiB, open fds) of `pid`.
fn sample(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count() as u64;
    (rss, fds)
}

/// Least-squares slope of `(minutes, value)` points, per minute.
fn slope(points: &[(f64, f64)]) -> f64 {
    let n = points.len() as f64;
    let (mx, my) = (
        points.iter().map(|p| p.0).sum::<f64>() / n,
        points.iter().map(|p| p.1).sum::<f64>() / n,
    );
    let cov: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let var: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    if var == 0.0 { 0.0 } else { cov / var }
}

/// Every `argocd_drift_held_entries{map}` series: map → entries.
async fn held_entries(service: SocketAddr) -> HashMap<String, f64> {
    let r = testenv::http::get(service, "/metrics", &[]).await.unwrap();
    String::from_utf8(r.body.to_vec())
        .unwrap()
        .lines()
        .filter_map(|l| {
            let rest = l.strip_prefix("argocd_drift_held_entries{map=\"")?;
            let (map, value) = rest.split_once("\"} ")?;
            Some((map.to_string(), value.parse().ok()?))
        })
        .collect()
}

/// The maps whose entries grew: largest in the last half above a quarter (+8) more than the
/// largest in the first half (samples after warm-up), as `(map, first, last)`.
fn growing(samples: &[HashMap<String, f64>]) -> Vec<(String, f64, f64)> {
    let (first, last) = samples.split_at(samples.len() / 2);
    map_names(samples)
        .into_iter()
        .map(|map| (map.clone(), largest(first, &map), largest(last, &map)))
        .filter(|(_, first, last)| *last > first * 1.25 + 8.0)
        .collect()
}

/// Every map named in `samples`, sorted.
fn map_names(samples: &[HashMap<String, f64>]) -> Vec<String> {
    let mut maps: Vec<String> = samples.iter().flat_map(HashMap::keys).cloned().collect();
    maps.sort();
    maps.dedup();
    maps
}

/// The largest count of `map` in `samples` (0 if never seen).
fn largest(samples: &[HashMap<String, f64>], map: &str) -> f64 {
    samples
        .iter()
        .filter_map(|s| s.get(map).copied())
        .fold(0.0, f64::max)
}

#[test]
fn growth_is_a_larger_count_late_than_early() {
    let at = |n: f64| HashMap::from([("m".to_string(), n), ("flat".to_string(), 3.0)]);
    let leak: Vec<_> = (0..20).map(|i| at(f64::from(i) * 10.0)).collect();
    assert_eq!(growing(&leak), vec![("m".to_string(), 90.0, 190.0)]);
    let busy: Vec<_> = (0..20).map(|i| at(f64::from(i % 4) * 10.0)).collect();
    assert!(growing(&busy).is_empty());
}

/// argocd-drift's gauges of what it holds, from `/metrics`.
async fn held(service: SocketAddr) -> Vec<String> {
    let r = testenv::http::get(service, "/metrics", &[]).await.unwrap();
    String::from_utf8(r.body.to_vec())
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#') && !l.contains("_bucket") && !l.contains("_total"))
        .filter(|l| {
            [
                "pending",
                "held",
                "in_flight",
                "reports",
                "applications",
                "records",
                "cache",
                "entries",
            ]
            .iter()
            .any(|w| l.split(['{', ' ']).next().unwrap_or("").contains(w))
        })
        .map(str::to_string)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a long run: make soak"]
async fn a_soak_stays_flat() {
    let seconds = env_or("SOAK_DURATION", 600);
    let rps = env_or("SOAK_RPS", 1000);
    let every = Duration::from_secs(env_or("SOAK_SAMPLE_SECONDS", 5));
    let cluster = TestCluster::fake().await.unwrap();
    cluster.apply_fixtures("demo").await.unwrap();
    common::create_app(&cluster, "soak-turns", "default").await;
    let (api, service, reports) = (free_port(), free_port(), free_port());
    let mut env: HashMap<String, String> = common::cluster_vars(&cluster);
    for (k, v) in [
        ("BIND_ADDRESS", "127.0.0.1".to_string()),
        ("PORT", api.to_string()),
        ("SERVICE_PORT", service.to_string()),
        ("REPORTS_PORT", reports.to_string()),
        ("PROXY_TOKEN", common::TOKEN.to_string()),
        ("REPORTS_INSECURE_NO_AUTH", "true".to_string()),
        ("LOG_LEVEL", "warn".to_string()),
    ] {
        env.insert(k.to_string(), v);
    }
    let mut child = Command::new(env!("CARGO_BIN_EXE_argocd-drift"))
        .envs(&env)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    let (api, service, reports): (SocketAddr, SocketAddr, SocketAddr) = (
        ([127, 0, 0, 1], api).into(),
        ([127, 0, 0, 1], service).into(),
        ([127, 0, 0, 1], reports).into(),
    );
    common::eventually(Duration::from_secs(60), || async {
        testenv::http::get(service, "/readyz", &[])
            .await
            .is_ok_and(|r| r.status == 200)
    })
    .await
    .expect("never ready");

    let guestbook = common::app_header(&cluster, "argocd", "guestbook");
    let errors: Arc<Mutex<Vec<String>>> = Arc::default();
    let ok = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for w in 0..WORKERS {
        let (errors, ok, stop, guestbook) = (
            Arc::clone(&errors),
            Arc::clone(&ok),
            Arc::clone(&stop),
            guestbook.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut ticks =
                tokio::time::interval(Duration::from_secs_f64(WORKERS as f64 / rps as f64));
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            let auth = format!("Bearer {}", common::TOKEN);
            let headers = [
                ("Authorization", auth.as_str()),
                ("Argocd-Application-Name", guestbook.as_str()),
                ("Argocd-Project-Name", "default"),
            ];
            let mut i = w;
            while !stop.load(Ordering::Relaxed) {
                ticks.tick().await;
                i += 1;
                let (what, result) = match i % 5 {
                    0 => ("status", testenv::http::get(api, "/api/v1/status", &headers).await),
                    1 => ("drift", testenv::http::get(api, "/api/v1/drift", &headers).await),
                    2 => ("history", testenv::http::get(api, "/api/v1/history", &headers).await),
                    3 => {
                        let now = jiff::Timestamp::now().as_second();
                        let body = serde_json::json!({"repo": format!("soak-{}", i % 64),
                            "server": "lab", "sync_status": if (now / 10) % 2 == 0 { "SYNCED" } else { "OUT_OF_SYNC" },
                            "drift_count": (now / 10) % 2, "files": [],
                            "last_check": jiff::Timestamp::from_second(now).unwrap().to_string()});
                        let r = testenv::http::send(
                            reports,
                            Method::POST,
                            "/api/status",
                            &[("Content-Type", "application/json")],
                            body.to_string().into(),
                        )
                        .await;
                        ("reports ingest", r)
                    }
                    _ => (
                        "status.json",
                        testenv::http::get(reports, "/status.json", &[]).await,
                    ),
                };
                match result {
                    Ok(r) if r.status == 200 => {
                        ok.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(r) => errors.lock().unwrap().push(format!(
                        "{what}: {} {}",
                        r.status,
                        String::from_utf8_lossy(&r.body)
                    )),
                    Err(e) => errors.lock().unwrap().push(format!("{what}: {e:#}")),
                }
            }
        }));
    }
    // An app turning OutOfSync and back: episodes begin and end throughout.
    let cluster = Arc::new(cluster);
    let turner = {
        let (cluster, stop) = (Arc::clone(&cluster), Arc::clone(&stop));
        tokio::spawn(async move {
            let mut pace = tokio::time::interval(Duration::from_secs(1));
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                pace.tick().await;
                n += 1;
                let status = if n % 2 == 1 { "OutOfSync" } else { "Synced" };
                common::patch_app_status(
                    &cluster,
                    "argocd",
                    "soak-turns",
                    serde_json::json!({"sync": {"status": status, "revision": format!("r{n}")}}),
                )
                .await;
            }
            n
        })
    };

    let started = Instant::now();
    let mut samples = Vec::new();
    let mut at_start = Vec::new();
    let mut maps = Vec::new();
    let mut pace = tokio::time::interval(every);
    while started.elapsed() < Duration::from_secs(seconds) {
        pace.tick().await;
        let (rss, fds) = sample(pid);
        samples.push((
            started.elapsed().as_secs_f64() / 60.0,
            rss as f64,
            fds as f64,
        ));
        if samples.len() == 2 {
            at_start = held(service).await;
        }
        maps.push(held_entries(service).await);
        println!(
            "soak t={:>4.0}s rss={rss} KiB fds={fds} ok={}",
            started.elapsed().as_secs_f64(),
            ok.load(Ordering::Relaxed)
        );
    }
    let at_end = held(service).await;
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await.unwrap();
    }
    let turns = turner.await.unwrap();
    let _ = child.kill();
    let _ = child.wait();

    let steady = &samples[samples.len() / 5..];
    let rss_slope = slope(&steady.iter().map(|s| (s.0, s.1)).collect::<Vec<_>>());
    let fd_slope = slope(&steady.iter().map(|s| (s.0, s.2)).collect::<Vec<_>>());
    let (first, last) = (samples[0], samples[samples.len() - 1]);
    println!(
        "soak: {seconds} s at {rps} req/s, {} answered, {turns} app turns; RSS {:.0} → {:.0} KiB, \
         slope {rss_slope:+.1} KiB/min; fds {:.0} → {:.0}, slope {fd_slope:+.2}/min (after the \
         first fifth)",
        ok.load(Ordering::Relaxed),
        first.1,
        last.1,
        first.2,
        last.2
    );
    println!("held at start:");
    for l in &at_start {
        println!("  {l}");
    }
    println!("held at end:");
    for l in &at_end {
        println!("  {l}");
    }
    // Maps fill while every reporter's first post arrives: their warm-up is at least a minute.
    let warm = (maps.len() / 5).max((60 / every.as_secs().max(1)) as usize);
    let steady_maps = &maps[warm.min(maps.len())..];
    let (early, late) = steady_maps.split_at(steady_maps.len() / 2);
    let names = map_names(&maps);
    println!("held entries (largest after warm-up, first half → last half; at the end):");
    for map in &names {
        let end = maps.last().and_then(|s| s.get(map)).copied().unwrap_or(0.0);
        println!(
            "  {map:<40} {:>8} → {:>8}; {end}",
            largest(early, map),
            largest(late, map)
        );
    }
    let errors = errors.lock().unwrap();
    assert!(
        errors.is_empty(),
        "{} failed requests, first: {:?}",
        errors.len(),
        errors.first()
    );
    assert!(!names.is_empty(), "no held_entries series in /metrics");
    if steady_maps.len() >= 12 {
        let grew = growing(steady_maps);
        assert!(
            grew.is_empty(),
            "maps that grew (map, first half, last half): {grew:?}"
        );
    } else {
        println!("too short after the maps' warm-up to judge their growth (run 2 min or more)");
    }
}
