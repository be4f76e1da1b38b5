//! Enriching drift episodes, off the request path: a GET never writes.
//!
//! An episode starts with Argo CD's OutOfSync resources (from the Application watch). What the
//! drift engine finds — each resource's cause, the drifted field paths, the field managers
//! behind them — is added by this background pass: each app with an episode under way is
//! inspected at most once per `HISTORY_ENRICH_INTERVAL_SECONDS` (its OutOfSync resources, read
//! and judged exactly as `GET /api/v1/drift` does), [`CONCURRENCY`] apps at a time, and what
//! the verdicts add to the episode is queued for the history's writer. So what the history
//! holds does not depend on who had the Drift tab open, and serving a tab costs no write.
//!
//! Across replicas: every replica may run the pass; what it queues is merged into the record
//! (a resource, field or manager already there adds nothing and queues nothing), and the
//! writes are optimistic, so the record converges to the same union whoever wrote first.

use crate::handlers::drift::{Drift, verdicts};
use crate::history::History;
use crate::index::{AppIndex, Lookup};
use drift_core::app::AppKey;
use drift_core::history::rules::involved_from_verdicts;
use drift_core::tracking::OUT_OF_SYNC;
use futures::StreamExt;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// Apps inspected at once.
pub const CONCURRENCY: usize = 2;
/// How often the pass looks for apps due (an app is still inspected at most once an interval).
const LOOK_EVERY_MAX: Duration = Duration::from_secs(30);

/// The pass's moving parts.
pub struct Enrichment {
    pub history: History,
    pub index: AppIndex,
    pub drift: Drift,
    /// At most one inspection per app in this time.
    pub every: Duration,
}

impl Enrichment {
    /// Runs until the process stops.
    pub async fn run(self) {
        let mut look = tokio::time::interval(self.every.min(LOOK_EVERY_MAX));
        look.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last: HashMap<AppKey, Instant> = HashMap::new();
        loop {
            look.tick().await;
            let drifting: HashSet<AppKey> = self.history.drifting().into_iter().collect();
            last.retain(|app, _| drifting.contains(app));
            let due: Vec<AppKey> = drifting
                .into_iter()
                .filter(|app| last.get(app).is_none_or(|at| at.elapsed() >= self.every))
                .collect();
            let started = Instant::now();
            for app in &due {
                last.insert(app.clone(), started);
            }
            let this = &self;
            futures::stream::iter(due)
                .for_each_concurrent(CONCURRENCY, |app| async move { this.enrich(&app).await })
                .await;
        }
    }

    /// Inspects one app and queues what its verdicts add to its episode under way.
    pub async fn enrich(&self, key: &AppKey) {
        let Lookup::Found { app, .. } = self.index.lookup(key) else {
            return;
        };
        if app.app.sync_status() != Some(OUT_OF_SYNC) {
            return;
        }
        match verdicts(&self.drift, Arc::new(app.app.clone()), false, None).await {
            Ok(found) => self.history.enrich(key, involved_from_verdicts(&found)),
            Err(error) => {
                tracing::debug!(app = %key, %error, "cannot inspect an app to enrich its drift episode; trying again next interval")
            }
        }
    }
}
