//! Rolling restarts and crashes, short versions (issue 19): two argocd-drift processes (the
//! built binary) on one fake API server, behind a round-robin balancer that, like a Service's
//! endpoints, sends new requests only to replicas whose `/readyz` said 200 at its last poll.
//! Reporters post changes and heartbeats continuously through it, and viewers poll status, drift
//! and history on the API port (with Argo CD's headers) through it.
//!
//! - SIGTERM each replica in turn (and restart it): zero failed requests (posts and views), and every acknowledged
//!   report is stored afterwards with its latest content (changes queued behind
//!   `REPORT_CONTENT_WRITE_SECONDS` included: a graceful shutdown writes them).
//! - `kill -9` replicas at random points (and restart them): every acknowledged report is stored
//!   with its latest content (changes are written before the 200; `REPORT_CONTENT_WRITE_SECONDS`
//!   is 0 here, so none is queued — a queued change is what the README says a crash may lose).
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod common;

use http::Method;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use testenv::TestCluster;

const REPORTERS: usize = 4;

/// Restart rounds: `RESTART_ROUNDS` (`make faults` sets more), else the short default.
fn rounds(default: u64) -> u64 {
    std::env::var("RESTART_ROUNDS")
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

/// One replica slot: fixed ports, a process that comes and goes.
struct Replica {
    env: HashMap<String, String>,
    api: SocketAddr,
    reports: SocketAddr,
    service: SocketAddr,
    child: Option<Child>,
}

impl Replica {
    /// `content_write`: `REPORT_CONTENT_WRITE_SECONDS`.
    fn new(cluster: &TestCluster, content_write: &str) -> Replica {
        let (api, service, reports) = (free_port(), free_port(), free_port());
        let mut env = common::cluster_vars(cluster);
        for (k, v) in [
            ("BIND_ADDRESS", "127.0.0.1".to_string()),
            ("PORT", api.to_string()),
            ("SERVICE_PORT", service.to_string()),
            ("REPORTS_PORT", reports.to_string()),
            ("PROXY_TOKEN", common::TOKEN.to_string()),
            ("REPORTS_INSECURE_NO_AUTH", "true".to_string()),
            ("REPORT_CONTENT_WRITE_SECONDS", content_write.to_string()),
            ("SHUTDOWN_DELAY_SECONDS", "1".to_string()),
            ("LOG_LEVEL", "warn".to_string()),
        ] {
            env.insert(k.to_string(), v);
        }
        Replica {
            env,
            api: ([127, 0, 0, 1], api).into(),
            reports: ([127, 0, 0, 1], reports).into(),
            service: ([127, 0, 0, 1], service).into(),
            child: None,
        }
    }

    async fn start(&mut self) {
        let child = Command::new(env!("CARGO_BIN_EXE_argocd-drift"))
            .envs(&self.env)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.child = Some(child);
        let service = self.service;
        common::eventually(Duration::from_secs(60), || async move {
            testenv::http::get(service, "/readyz", &[])
                .await
                .is_ok_and(|r| r.status == 200)
        })
        .await
        .expect("a replica never became ready");
    }

    /// SIGTERM, then waits for a clean exit.
    async fn terminate(&mut self) {
        let mut child = self.child.take().unwrap();
        let status = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
            .await
            .unwrap();
        assert!(status.success(), "a graceful shutdown exits 0: {status}");
    }

    /// SIGKILL.
    fn crash(&mut self) {
        let mut child = self.child.take().unwrap();
        child.kill().unwrap();
        child.wait().unwrap();
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The balancer: round robin over the replicas marked ready by the poller.
#[derive(Clone)]
struct Balancer {
    /// Per replica: (reports, service, api) ports.
    targets: Arc<Vec<(SocketAddr, SocketAddr, SocketAddr)>>,
    ready: Arc<Vec<AtomicBool>>,
    next: Arc<AtomicUsize>,
}

impl Balancer {
    fn new(replicas: &[&Replica]) -> Balancer {
        Balancer {
            targets: Arc::new(
                replicas
                    .iter()
                    .map(|r| (r.reports, r.service, r.api))
                    .collect(),
            ),
            ready: Arc::new(replicas.iter().map(|_| AtomicBool::new(true)).collect()),
            next: Arc::default(),
        }
    }

    /// Polls every replica's `/readyz` until `stop`.
    fn poll(&self, stop: Arc<AtomicBool>) -> tokio::task::JoinHandle<()> {
        let me = self.clone();
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                for (i, (_, service, _)) in me.targets.iter().enumerate() {
                    let ok = testenv::http::get(*service, "/readyz", &[])
                        .await
                        .is_ok_and(|r| r.status == 200);
                    me.ready[i].store(ok, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    }

    /// A ready replica's reports port, or `None` while none is.
    fn pick(&self) -> Option<(usize, SocketAddr)> {
        self.pick_ready().map(|i| (i, self.targets[i].0))
    }

    /// A ready replica's API port (what Argo CD's proxy calls), or `None` while none is.
    fn pick_api(&self) -> Option<(usize, SocketAddr)> {
        self.pick_ready().map(|i| (i, self.targets[i].2))
    }

    fn pick_ready(&self) -> Option<usize> {
        (0..self.targets.len())
            .map(|_| self.next.fetch_add(1, Ordering::Relaxed) % self.targets.len())
            .find(|&i| self.ready[i].load(Ordering::Relaxed))
    }
}

/// What the reporters saw.
#[derive(Default)]
struct Tally {
    /// Per repo: the last acknowledged drift count.
    acknowledged: Mutex<HashMap<String, u64>>,
    ok: AtomicUsize,
    /// Views (status, drift, history) answered 200.
    viewed: AtomicUsize,
    failed: Mutex<Vec<String>>,
}

/// A viewer polling `/api/v1/{status,drift,history}` for guestbook until `stop`, as Argo CD's
/// proxy would (its token and headers).
fn viewer(
    app: String,
    balancer: Balancer,
    tally: Arc<Tally>,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let auth = format!("Bearer {}", common::TOKEN);
        let headers = [
            ("Authorization", auth.as_str()),
            ("Argocd-Application-Name", app.as_str()),
            ("Argocd-Project-Name", "default"),
        ];
        let paths = ["/api/v1/status", "/api/v1/drift", "/api/v1/history"];
        let mut i = 0;
        while !stop.load(Ordering::Relaxed) {
            let Some((replica, addr)) = balancer.pick_api() else {
                tokio::task::yield_now().await;
                continue;
            };
            let path = paths[i % paths.len()];
            i += 1;
            match testenv::http::get(addr, path, &headers).await {
                Ok(r) if r.status == 200 => {
                    tally.viewed.fetch_add(1, Ordering::Relaxed);
                }
                Ok(r) => tally.failed.lock().unwrap().push(format!(
                    "viewer at replica {replica}: GET {path}: {} {}",
                    r.status,
                    String::from_utf8_lossy(&r.body)
                )),
                Err(e) => tally
                    .failed
                    .lock()
                    .unwrap()
                    .push(format!("viewer at replica {replica}: GET {path}: {e:#}")),
            }
        }
    })
}

/// Reporter `n` posting until `stop`: a change each new second, heartbeats between.
fn reporter(
    n: usize,
    balancer: Balancer,
    tally: Arc<Tally>,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let repo = format!("repo-{n}");
        let mut drift = 0u64;
        let mut changed_at = 0i64;
        while !stop.load(Ordering::Relaxed) {
            // Times are whole seconds (`last_check`, and when a backend accepted it), so two
            // changes of one report within a second may be ordered either way across replicas
            // (README): change at most once a second, heartbeat in between.
            let now = jiff::Timestamp::now().as_second();
            if now > changed_at {
                drift += 1;
                changed_at = now;
            }
            let Some((replica, addr)) = balancer.pick() else {
                tokio::task::yield_now().await;
                continue;
            };
            let last_check = jiff::Timestamp::from_second(now).unwrap().to_string();
            let body = serde_json::json!({"repo": repo, "server": "lab",
                "sync_status": if drift.is_multiple_of(2) { "SYNCED" } else { "OUT_OF_SYNC" },
                "drift_count": drift, "files": [], "last_check": last_check});
            match testenv::http::send(
                addr,
                Method::POST,
                "/api/status",
                &[("Content-Type", "application/json")],
                body.to_string().into(),
            )
            .await
            {
                Ok(r) if r.status == 200 => {
                    tally.ok.fetch_add(1, Ordering::Relaxed);
                    tally
                        .acknowledged
                        .lock()
                        .unwrap()
                        .insert(repo.clone(), drift);
                }
                Ok(r) => tally.failed.lock().unwrap().push(format!(
                    "replica {replica}: {} {}",
                    r.status,
                    String::from_utf8_lossy(&r.body)
                )),
                Err(e) => tally
                    .failed
                    .lock()
                    .unwrap()
                    .push(format!("replica {replica}: {e:#}")),
            }
        }
    })
}

/// Each repo's stored drift count.
async fn stored(cluster: &TestCluster) -> HashMap<String, u64> {
    common::reporters::stored(cluster)
        .await
        .into_iter()
        .map(|(repo, (count, _))| (repo, count))
        .collect()
}

struct Load {
    tally: Arc<Tally>,
    stop: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

const VIEWERS: usize = 2;

/// Turns the app `turns` OutOfSync (at revision `r<n>`) and back, paced, until `stop` (at most
/// 90 times); yields
/// how many turns it made (the app ends Synced).
fn turner(cluster: Arc<TestCluster>, stop: Arc<AtomicBool>) -> tokio::task::JoinHandle<u64> {
    tokio::spawn(async move {
        let mut turns = 0;
        let mut pace = tokio::time::interval(Duration::from_millis(300));
        // History keeps 100 episodes per app: stay below, so a long run still checks each one.
        while !stop.load(Ordering::Relaxed) && turns < 90 {
            turns += 1;
            for status in ["OutOfSync", "Synced"] {
                pace.tick().await;
                common::patch_app_status(
                    &cluster,
                    "argocd",
                    "turns",
                    serde_json::json!({"sync": {"status": status, "revision": format!("r{turns}")}}),
                )
                .await;
            }
        }
        turns
    })
}

/// Each episode's `revisionAtStart` in `turns`' history, once `n` episodes are stored.
async fn episodes(api: SocketAddr, app: &str, n: usize) -> Vec<String> {
    let auth = format!("Bearer {}", common::TOKEN);
    let headers = [
        ("Authorization", auth.as_str()),
        ("Argocd-Application-Name", app),
        ("Argocd-Project-Name", "default"),
    ];
    let h = common::eventually_some(Duration::from_secs(30), || async {
        // Every episode on one page (the default page is 20; at most 90 are made).
        let h = testenv::http::get(api, "/api/v1/history?limit=100", &headers)
            .await
            .ok()?
            .json();
        (h["episodes"].as_array().map_or(0, Vec::len) >= n && h["record"]["state"] == "stored")
            .then_some(h)
    })
    .await
    .expect("the episodes were not all recorded");
    let mut revisions: Vec<String> = h["episodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["revisionAtStart"].as_str().unwrap_or("?").to_string())
        .collect();
    revisions.sort();
    revisions
}

fn load(cluster: &TestCluster, balancer: &Balancer) -> Load {
    let tally = Arc::new(Tally::default());
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = vec![balancer.poll(Arc::clone(&stop))];
    for n in 0..REPORTERS {
        tasks.push(reporter(
            n,
            balancer.clone(),
            Arc::clone(&tally),
            Arc::clone(&stop),
        ));
    }
    for _ in 0..VIEWERS {
        tasks.push(viewer(
            common::app_header(cluster, "argocd", "guestbook"),
            balancer.clone(),
            Arc::clone(&tally),
            Arc::clone(&stop),
        ));
    }
    Load { tally, stop, tasks }
}

impl Load {
    /// Waits until `n` more posts were acknowledged.
    async fn progress(&self, n: usize) {
        let target = self.tally.ok.load(Ordering::Relaxed) + n;
        common::eventually(Duration::from_secs(30), || async {
            self.tally.ok.load(Ordering::Relaxed) >= target
        })
        .await
        .expect("the reporters made no progress");
    }

    async fn stop(self) -> Arc<Tally> {
        self.stop.store(true, Ordering::Relaxed);
        for task in self.tasks {
            task.await.unwrap();
        }
        self.tally
    }
}

async fn cluster() -> TestCluster {
    let cluster = TestCluster::fake().await.unwrap();
    cluster.apply_fixtures("demo").await.unwrap();
    cluster
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolling_restart_fails_no_request_and_loses_no_acknowledged_report() {
    let cluster = cluster().await;
    // The default interval: most changes are queued (acknowledged, written later), so the flush
    // at each graceful shutdown is what keeps them.
    let (mut a, mut b) = (Replica::new(&cluster, "10"), Replica::new(&cluster, "10"));
    common::create_app(&cluster, "turns", "default").await;
    a.start().await;
    b.start().await;
    let balancer = Balancer::new(&[&a, &b]);
    let load = load(&cluster, &balancer);
    let cluster = Arc::new(cluster);
    let turning = Arc::new(AtomicBool::new(false));
    let turner = turner(Arc::clone(&cluster), Arc::clone(&turning));
    load.progress(50).await;
    for round in 0..rounds(1) * 2 {
        let replica = if round.is_multiple_of(2) {
            &mut a
        } else {
            &mut b
        };
        replica.terminate().await;
        load.progress(20).await;
        replica.start().await;
        load.progress(20).await;
    }
    let tally = load.stop().await;
    turning.store(true, Ordering::Relaxed);
    let turns = turner.await.unwrap();
    // Every turn OutOfSync is one episode, recorded once: none lost, none twice.
    let app = common::app_header(&cluster, "argocd", "turns");
    let recorded = episodes(a.api, &app, turns as usize).await;
    let mut expected: Vec<String> = (1..=turns).map(|n| format!("r{n}")).collect();
    expected.sort();
    assert_eq!(recorded, expected, "episodes across the restarts");
    // The last queued changes are written at the replicas' graceful shutdown.
    a.terminate().await;
    b.terminate().await;
    let failed = tally.failed.lock().unwrap().clone();
    assert!(failed.is_empty(), "failed requests: {failed:?}");
    let acknowledged = tally.acknowledged.lock().unwrap().clone();
    assert_eq!(acknowledged.len(), REPORTERS);
    assert_eq!(
        stored(&cluster).await,
        acknowledged,
        "stored = last acknowledged"
    );
    println!(
        "rolling restart: {} restarts, {} posts acknowledged, {} views answered, {turns} episodes \
         recorded once each, 0 failed, 0 lost",
        rounds(1) * 2,
        tally.ok.load(Ordering::Relaxed),
        tally.viewed.load(Ordering::Relaxed)
    );
    assert!(
        tally.viewed.load(Ordering::Relaxed) > 0,
        "no view was answered"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_at_any_point_loses_no_acknowledged_change() {
    let cluster = cluster().await;
    let (mut a, mut b) = (Replica::new(&cluster, "0"), Replica::new(&cluster, "0"));
    a.start().await;
    b.start().await;
    let balancer = Balancer::new(&[&a, &b]);
    let load = load(&cluster, &balancer);
    load.progress(30).await;
    let seed = std::process::id() as u64;
    for round in 0..rounds(4) {
        // A pseudo-random point: after 1–16 more acknowledged posts.
        let wait = 1
            + ((seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(round.wrapping_mul(1442695040888963407)))
                >> 60) as usize;
        load.progress(wait).await;
        let replica = if round.is_multiple_of(2) {
            &mut a
        } else {
            &mut b
        };
        replica.crash();
        load.progress(10).await;
        replica.start().await;
    }
    load.progress(10).await;
    let tally = load.stop().await;
    let acknowledged = tally.acknowledged.lock().unwrap().clone();
    assert_eq!(acknowledged.len(), REPORTERS);
    assert_eq!(
        stored(&cluster).await,
        acknowledged,
        "stored = last acknowledged"
    );
    println!(
        "crash: {} kill -9, {} posts acknowledged, {} failed (posts and views) at the killed replica, 0 lost",
        rounds(4),
        tally.ok.load(Ordering::Relaxed),
        tally.failed.lock().unwrap().len()
    );
}
