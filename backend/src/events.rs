//! Kubernetes Events at drift episode edges: `DriftStarted` / `DriftEnded` on the Application,
//! so Argo CD's Events panel and event exporters show drift where people already look.
//!
//! ```text
//!  history writer ──EdgeStored (this replica's write stored it)──▶ Emitter::stored
//!      ──rate limit per app──▶ bounded queue ──▶ task ──▶ cluster::EventWriter (create)
//! ```
//!
//! - **Once per edge across replicas**: only the replica whose write stored an edge hears of it
//!   ([`crate::history::Edges`]), and the Event's name is derived from the app, the episode id
//!   and the edge ([`drift_core::history::event::event_name`]), so even a repeated create is
//!   refused by the API server (`AlreadyExists`) instead of shown twice.
//! - **Rate-limited per app**: [`BURST`] Events, then one per [`REFILL`]: a flapping app cannot
//!   flood its namespace. What is dropped is counted (`argocd_drift_events_total{outcome}`).
//! - **Never a value**: the text is built from the stored record (kinds, names, paths, managers,
//!   the Argo CD user), which holds none.
//! - **Best effort, retried while the API server is away**: a create that gets no answer, a 429 or
//!   a 5xx is tried again ([`RETRIES`] times, backing off from [`FIRST_BACKOFF`]); the name makes
//!   a retry of a create that did land harmless. A refused create (RBAC, schema) is logged and
//!   counted, not retried; the history itself is the record.

use crate::cluster::{AppEvent, Created, EventWriter};
use crate::history::{EdgeStored, Edges};
use crate::index::{AppIndex, Whereabouts};
use crate::metrics::Metrics;
use drift_core::app::AppKey;
use drift_core::history::event::{self, Edge};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// Events an app may send at once.
pub const BURST: u32 = 6;
/// Then one more per this long.
pub const REFILL: Duration = Duration::from_secs(60);
/// Events waiting to be created; beyond it they are dropped (and counted).
const QUEUE: usize = 1024;
/// Apps whose rate-limit state is kept before full buckets are forgotten.
const TRACKED_APPS: usize = 10_000;
/// Further tries of a create the API server did not answer (or answered 429/5xx).
pub const RETRIES: u32 = 3;
/// The wait before the first retry; doubled before each next one.
pub const FIRST_BACKOFF: Duration = Duration::from_secs(1);

/// Hears stored edges and queues their Events. Register with [`crate::history::History::on_edges`].
pub struct Emitter {
    queue: mpsc::Sender<AppEvent>,
    limits: Mutex<Limiter>,
    index: AppIndex,
    metrics: Arc<Metrics>,
}

impl Emitter {
    /// The emitter, and the task that creates its Events (run it for as long as the process).
    pub fn new(
        writer: EventWriter,
        index: AppIndex,
        metrics: Arc<Metrics>,
    ) -> (Arc<Emitter>, impl Future<Output = ()> + Send + 'static) {
        let (queue, rx) = mpsc::channel(QUEUE);
        let emitter = Arc::new(Emitter {
            queue,
            limits: Mutex::new(Limiter::default()),
            index,
            metrics: Arc::clone(&metrics),
        });
        let weak = Arc::downgrade(&emitter);
        metrics.count_held("event_rate_apps", move || {
            let emitter = weak.upgrade()?;
            let n = emitter
                .limits
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .apps
                .len();
            Some(n)
        });
        let weak = Arc::downgrade(&emitter);
        metrics.count_held("event_queue", move || {
            weak.upgrade().map(|e| QUEUE - e.queue.capacity())
        });
        (emitter, send(rx, writer, metrics))
    }
}

impl Edges for Emitter {
    fn stored(&self, edge: &EdgeStored) {
        let (app, episode, kind) = match edge {
            EdgeStored::Started { app, episode, .. } => (app, episode.as_ref(), Edge::Started),
            EdgeStored::Ended { app, episode, .. } => (app, episode.as_ref(), Edge::Ended),
        };
        let Some(episode) = episode else {
            // Retention dropped it in the same write: no id to name the Event by.
            self.metrics.event("dropped");
            return;
        };
        let allowed = self
            .limits
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .allow(app, Instant::now());
        if !allowed {
            self.metrics.event("rateLimited");
            tracing::debug!(app = %app, reason = kind.reason(), "drift event rate-limited");
            return;
        }
        let uid = match self.index.whereabouts(app) {
            Whereabouts::Present { uid, .. } if !uid.is_empty() => Some(uid),
            _ => None,
        };
        let at = match (kind, &episode.end) {
            (Edge::Ended, Some(end)) => end.at,
            _ => episode.start.at,
        };
        let event = AppEvent {
            app: app.clone(),
            uid,
            name: event::event_name(app, &episode.id, kind),
            reason: kind.reason(),
            event_type: kind.event_type(),
            message: event::message(kind, Some(episode)),
            at,
        };
        if self.queue.try_send(event).is_err() {
            self.metrics.event("queueFull");
        }
    }
}

async fn send(mut rx: mpsc::Receiver<AppEvent>, writer: EventWriter, metrics: Arc<Metrics>) {
    while let Some(event) = rx.recv().await {
        let mut backoff = FIRST_BACKOFF;
        let mut tries = 0;
        loop {
            match writer.create(&event).await {
                Ok(Created::Created) => metrics.event("created"),
                Ok(Created::AlreadyExists) => metrics.event("alreadyExists"),
                Err(error) if error.is_transient() && tries < RETRIES => {
                    tries += 1;
                    metrics.event("retried");
                    tracing::debug!(
                        app = %event.app,
                        reason = event.reason,
                        %error,
                        "drift event create to be retried"
                    );
                    tokio::time::sleep(backoff).await;
                    backoff *= 2;
                    continue;
                }
                Err(error) => {
                    metrics.event("failed");
                    tracing::warn!(
                        app = %event.app,
                        reason = event.reason,
                        %error,
                        "cannot create the drift event"
                    );
                }
            }
            break;
        }
    }
}

/// A token bucket per app.
#[derive(Default)]
struct Limiter {
    apps: HashMap<AppKey, (f64, Instant)>,
}

impl Limiter {
    fn allow(&mut self, app: &AppKey, now: Instant) -> bool {
        if self.apps.len() >= TRACKED_APPS {
            // Forget apps whose bucket has refilled: they would be allowed their burst anyway.
            self.apps
                .retain(|_, (tokens, at)| refill(*tokens, *at, now) < f64::from(BURST));
        }
        let (tokens, at) = self
            .apps
            .entry(app.clone())
            .or_insert((f64::from(BURST), now));
        let available = refill(*tokens, *at, now);
        *at = now;
        if available >= 1.0 {
            *tokens = available - 1.0;
            true
        } else {
            *tokens = available;
            false
        }
    }
}

fn refill(tokens: f64, at: Instant, now: Instant) -> f64 {
    let gained = now.saturating_duration_since(at).as_secs_f64() / REFILL.as_secs_f64();
    (tokens + gained).min(f64::from(BURST))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_app_gets_its_burst_then_one_event_per_refill_and_others_are_not_held_up() {
        let mut limiter = Limiter::default();
        let (a, b) = (AppKey::new("argocd", "a"), AppKey::new("argocd", "b"));
        let now = Instant::now();
        let allowed = (0..100).filter(|_| limiter.allow(&a, now)).count();
        assert_eq!(allowed, BURST as usize);
        assert!(limiter.allow(&b, now), "another app has its own bucket");
        assert!(!limiter.allow(&a, now + REFILL / 2));
        assert!(limiter.allow(&a, now + REFILL));
        assert!(!limiter.allow(&a, now + REFILL));
    }
}
