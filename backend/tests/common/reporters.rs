//! Reporters posting to the reports port under faults: what was acknowledged, and what storage
//! holds afterwards.

use http::Method;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind};
use serde_json::json;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use testenv::TestCluster;

#[derive(Default)]
pub struct Seen {
    /// Per repo: the drift count and `last_check` of the last acknowledged post.
    pub acknowledged: Mutex<HashMap<String, (u64, String)>>,
    pub acks: AtomicUsize,
    /// Posts refused while the API server was away (not acknowledged: nothing promised).
    pub refused: AtomicUsize,
    /// Status answers, and those that were not a 200.
    pub views: AtomicUsize,
    pub failed_views: Mutex<Vec<String>>,
}

/// Posts `repo`'s report until `stop`: a new drift count every 3 s, heartbeats in between (times
/// are whole seconds, README). The last acknowledged post is a heartbeat: one second on from the
/// last change, so only a heartbeat's write can store it.
pub async fn report(reports: SocketAddr, repo: String, seen: Arc<Seen>, stop: Arc<AtomicBool>) {
    let (mut count, mut at) = (0u64, 0i64);
    let mut ended_on_heartbeat = false;
    loop {
        let stopping = stop.load(Ordering::Relaxed);
        if stopping && ended_on_heartbeat {
            return;
        }
        let now = jiff::Timestamp::now().as_second();
        if !stopping && now >= at + 3 {
            (count, at) = (count + 1, now);
        }
        let last_check = jiff::Timestamp::from_second(now).unwrap().to_string();
        let body = json!({"repo": repo, "server": "lab", "sync_status": "OUT_OF_SYNC",
            "drift_count": count, "files": [], "last_check": last_check});
        let answer = testenv::http::send(
            reports,
            Method::POST,
            "/api/status",
            &[("Content-Type", "application/json")],
            body.to_string().into(),
        )
        .await;
        match answer {
            Ok(r) if r.status == 200 => {
                seen.acknowledged
                    .lock()
                    .unwrap()
                    .insert(repo.clone(), (count, last_check));
                seen.acks.fetch_add(1, Ordering::Relaxed);
                ended_on_heartbeat = now > at;
            }
            _ => {
                seen.refused.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        if stopping {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Each repo's stored drift count and `lastCheck`.
pub async fn stored(cluster: &TestCluster) -> HashMap<String, (u64, String)> {
    let gvk = GroupVersionKind::gvk("argocd-drift.io", "v1alpha1", "DriftReport");
    let api: Api<DynamicObject> = Api::namespaced_with(
        cluster.client().await.unwrap(),
        &cluster.ns("argocd"),
        &ApiResource::from_gvk_with_plural(&gvk, "driftreports"),
    );
    api.list(&Default::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|o| {
            let spec = &o.data["spec"];
            let at: jiff::Timestamp = spec["lastCheck"].as_str()?.parse().ok()?;
            Some((
                spec["repo"].as_str()?.to_string(),
                (spec["driftCount"].as_u64()?, at.to_string()),
            ))
        })
        .collect()
}

/// Reporters posting and a viewer polling, until halted.
pub struct Traffic {
    pub seen: Arc<Seen>,
    stop: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    repos: usize,
}

impl Traffic {
    /// `repos` reporters (`{prefix}-{n}`) posting to `reports`.
    pub fn start(reports: SocketAddr, prefix: &str, repos: usize) -> Traffic {
        let (seen, stop) = (Arc::new(Seen::default()), Arc::new(AtomicBool::new(false)));
        let tasks = (0..repos)
            .map(|n| {
                tokio::spawn(report(
                    reports,
                    format!("{prefix}-{n}"),
                    Arc::clone(&seen),
                    Arc::clone(&stop),
                ))
            })
            .collect();
        Traffic {
            seen,
            stop,
            tasks,
            repos,
        }
    }

    /// Polls `app`'s status (`header` in `project`) every 100 ms until halted, noting failures.
    pub async fn view(&self, app: &super::TestApp, header: &str, project: &str) {
        while !self.stop.load(Ordering::Relaxed) {
            let r = app.status(header, project).await;
            self.seen.views.fetch_add(1, Ordering::Relaxed);
            if r.status != 200 {
                self.seen.failed_views.lock().unwrap().push(format!(
                    "{} {}",
                    r.status,
                    String::from_utf8_lossy(&r.body)
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits for `n` more acknowledged posts.
    pub async fn progress(&self, n: usize) {
        let target = self.seen.acks.load(Ordering::Relaxed) + n;
        super::eventually(Duration::from_secs(60), || async {
            self.seen.acks.load(Ordering::Relaxed) >= target
        })
        .await
        .expect("the reporters made no progress");
    }

    /// Waits until every reporter has `n` more changes acknowledged than now (written, since a
    /// change is stored before its 200).
    pub async fn changes(&self, n: u64) {
        let counts = || -> HashMap<String, u64> {
            let acknowledged = self.seen.acknowledged.lock().unwrap();
            acknowledged
                .iter()
                .map(|(r, (c, _))| (r.clone(), *c))
                .collect()
        };
        let before = counts();
        super::eventually(Duration::from_secs(60), || async {
            let now = counts();
            now.len() == self.repos
                && now
                    .iter()
                    .all(|(repo, c)| *c >= before.get(repo).copied().unwrap_or(0) + n)
        })
        .await
        .expect("changes were not written");
    }

    /// Stops the viewer and (after a last heartbeat each) the reporters.
    pub fn halt(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    /// Halts, waits for the reporters, and checks what a user relies on: every acknowledged
    /// post stored with its latest content and heartbeat, every status answer a 200.
    pub async fn finish(self, cluster: &TestCluster) -> Arc<Seen> {
        self.halt();
        for task in self.tasks {
            task.await.unwrap();
        }
        let seen = self.seen;
        let acknowledged = seen.acknowledged.lock().unwrap().clone();
        assert_eq!(acknowledged.len(), self.repos);
        super::eventually(Duration::from_secs(30), || async {
            let stored = stored(cluster).await;
            acknowledged
                .iter()
                .all(|(repo, last)| stored.get(repo) == Some(last))
        })
        .await
        .unwrap_or_else(|e| panic!("acknowledged {acknowledged:?} are not all stored: {e}"));
        let failed = seen.failed_views.lock().unwrap().clone();
        assert!(
            failed.is_empty(),
            "{} of {} status answers failed: {failed:?}",
            failed.len(),
            seen.views.load(Ordering::Relaxed)
        );
        eprintln!(
            "acknowledged {} posts ({} refused), {} status answers",
            seen.acks.load(Ordering::Relaxed),
            seen.refused.load(Ordering::Relaxed),
            seen.views.load(Ordering::Relaxed)
        );
        seen
    }
}
