//! Drift memory, stored in the Kubernetes API and shared by every replica.
//!
//! ```text
//!  AppIndex ──turns (bounded channel)──▶ writer task ──▶ pending (per app, in order) ──▶ store
//!                                          │   ▲                                  read-modify-
//!                                          │   └─ enrichment (background pass)    write: apply →
//!                                          ▼                                      prune → create/
//!  GET /status, /drift, /history ◀── read model: each app's effective           replace at the
//!        (never replays, never waits       record, packed, memoized             read version
//!         on a write)                      (stored + pending)                       │
//!  DriftHistory watch (POD_NAMESPACE) ──▶ stored records (packed) ◀── Conflict: re-read, retry
//! ```
//!
//! One module per job:
//!
//! - [`state`]: the write state — the records as last read (packed, with a digest), the
//!   observations not yet stored, and which app is written when;
//! - [`read`]: what requests read — each app's effective record (stored plus pending), rebuilt
//!   by the write side when it changes, so a request never replays anything;
//! - [`writer`]: the task that takes turns from the index and writes records (optimistic
//!   concurrency, retries with backoff), and the one place a stored episode edge is known
//!   ([`writer::EdgeStored`]);
//! - [`retention`]: the sweep that prunes every record each `HISTORY_SWEEP_INTERVAL_SECONDS`;
//! - [`unseen`]: ends episodes whose app went while nobody watched;
//! - [`gauges`]: the drifting gauges;
//! - [`sink`]: the watch of `DriftHistory` objects.
//!
//! - **Turns** come from the Application index over a bounded channel ([`crate::index::Turns`];
//!   the rule is `drift_core::history::rules::observe`), and what drift verdicts found from the
//!   background enrichment pass ([`History::enrich`]) — never from a request.
//! - **Writes** are optimistic: every observation is re-applied to the record as last read, and
//!   a create or replace carries the `resourceVersion` it read, so a replica that lost a race
//!   re-reads and finds its observation already there (the same episode id from the same watch
//!   event) or places it by its version. No leader is needed: the rules make the order of
//!   replicas' writes irrelevant (see `drift_core::history::rules`).
//! - **Failures** (API server away, a write refused by the schema or RBAC) keep the observations
//!   in memory — answers include them, marked `pending` — and retry per app with backoff
//!   (250 ms doubling to 30 s).
//! - **A record that cannot be read** (edited by hand into another shape) is logged, counted and
//!   never overwritten; that app's observations wait until the object is fixed or deleted.
//! - **Retention**: every write prunes the app's record (count, age, size), and the sweep prunes
//!   every record, deleting those left empty.
//! - **Memory**: records are held packed (`drift_core::history::packed`): a few KiB for 100
//!   episodes, unpacked only to answer `/history` for that app or to write it.
//!
//! Reads never call the API server and never take the write state's lock.

mod gauges;
pub mod read;
mod retention;
mod sink;
mod state;
mod unseen;
pub mod writer;

pub use crate::index::Turn;
pub use sink::HistorySink;
pub use writer::{EdgeStored, Edges};

use crate::cluster::OwnKind;
use crate::index::Turns;
use crate::metrics::Metrics;
use drift_core::app::AppKey;
use drift_core::history::model::{self, Episode, Involved};
use drift_core::history::rules::Retention;
use drift_core::history::view::{HistoryView, Page};
use drift_core::tracking::OutOfSync;
use jiff::Timestamp;
use read::Reads;
use state::State;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::{Notify, mpsc};

/// The kind, in the project's group.
pub const KIND: OwnKind = OwnKind {
    kind: model::KIND,
    plural: model::PLURAL,
};

/// Turns the index may hand over before the watch waits for the writer.
const TURN_CHANNEL: usize = 4096;

/// How history is kept.
#[derive(Clone, Copy, Debug)]
pub struct Settings {
    pub retention: Retention,
    pub sweep_every: Duration,
}

impl Default for Settings {
    /// The configuration's defaults: 100 episodes, 30 days, a sweep an hour.
    fn default() -> Self {
        Settings {
            retention: Retention::default(),
            sweep_every: Duration::from_secs(3600),
        }
    }
}

/// The shared drift memory. Cheap to clone.
#[derive(Clone)]
pub struct History {
    shared: Arc<Shared>,
}

struct Shared {
    /// The write side: taken by the writer task, its store tasks and the records' watch.
    state: Mutex<State>,
    /// The read side: what requests read.
    reads: Arc<Reads>,
    wake: Notify,
    metrics: Arc<Metrics>,
    settings: Settings,
    /// The index's end of the turn channel, and the writer's (taken by [`History::run`]).
    turns: Arc<Turns>,
    turns_rx: Mutex<Option<mpsc::Receiver<Turn>>>,
    edges: Mutex<Option<Arc<dyn Edges>>>,
}

// === impl History ===

impl History {
    pub fn new(settings: Settings, metrics: Arc<Metrics>) -> History {
        let reads = Arc::new(Reads::default());
        let (turns, turns_rx) = Turns::channel(TURN_CHANNEL);
        let history = History {
            shared: Arc::new(Shared {
                state: Mutex::new(State::new(Arc::clone(&reads))),
                reads,
                wake: Notify::new(),
                metrics,
                settings,
                turns: Arc::new(turns),
                turns_rx: Mutex::new(Some(turns_rx)),
                edges: Mutex::new(None),
            }),
        };
        history.count_held();
        history
    }

    /// The channel the index sends its turns into (`AppIndex::report_turns`); the writer
    /// ([`History::run`]) takes them.
    pub fn turns(&self) -> Arc<Turns> {
        Arc::clone(&self.shared.turns)
    }

    /// Calls `edges` each time a write stores the start or the end of an episode (see
    /// [`EdgeStored`]): the replica whose write stored an edge is the one that tells.
    pub fn on_edges(&self, edges: Arc<dyn Edges>) {
        *lock(&self.shared.edges) = Some(edges);
    }

    /// Takes a turn as the writer does from the channel (for tests).
    #[cfg(test)]
    pub(crate) fn turn(&self, turn: Turn) {
        let mut state = self.lock();
        state.take_turn(turn);
        self.after_push(state);
    }

    /// Adds what drift verdicts found to the app's episode under way (if any) — from the
    /// background enrichment pass, never from a request.
    pub fn enrich(&self, app: &AppKey, found: Vec<Involved>) {
        if found.is_empty() {
            return;
        }
        // Only worth a write if it adds something to what is known.
        let Some(mut known) = self.shared.reads.effective(app) else {
            return;
        };
        if !known.enrich(&found) {
            return;
        }
        let mut state = self.lock();
        state.push(app, state::Pending::Enrich(found));
        self.after_push(state);
    }

    fn after_push(&self, state: MutexGuard<'_, State>) {
        let pending = state.pending_total();
        drop(state);
        self.shared.metrics.set_history_pending(pending);
        self.shared.wake.notify_one();
    }

    /// The episode under way, as `outOfSync` timing: `Some(None)` when the record says the app
    /// is not drifting, `None` when history cannot say (its record is unreadable, or the
    /// records are not read yet).
    pub fn current(&self, app: &AppKey) -> Option<Option<OutOfSync>> {
        self.shared.reads.current(app)
    }

    /// The episode under way itself: `Some(None)` when the record says the app is not
    /// drifting, `None` when history cannot say. Never unpacks a record.
    pub fn current_episode(&self, app: &AppKey) -> Option<Option<Episode>> {
        self.shared.reads.current_episode(app)
    }

    /// `GET /api/v1/history` for `app`.
    pub fn view(&self, app: &AppKey, page: &Page, now: Timestamp) -> HistoryView {
        self.shared.reads.view(app, page, now)
    }

    /// Apps with an episode under way, as last stored or pending: what the enrichment pass
    /// looks at.
    pub fn drifting(&self) -> Vec<AppKey> {
        self.shared.reads.drifting()
    }

    /// Every app with an episode under way, its episode, and how its previous one ended (the
    /// fleet document). Never unpacks a record.
    pub fn drifting_episodes(
        &self,
    ) -> Vec<(
        AppKey,
        Episode,
        Option<drift_core::history::packed::LastEnd>,
    )> {
        self.shared.reads.drifting_episodes()
    }

    /// Whether the first list of records has arrived (before it, history cannot say).
    pub fn is_listed(&self) -> bool {
        self.shared.reads.is_listed()
    }

    /// The sink the `DriftHistory` watch feeds.
    pub fn sink(&self) -> HistorySink {
        HistorySink(self.clone())
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        lock(&self.shared.state)
    }
}

/// Locks are held only for map updates and pure rule calls that do not panic; a poisoned lock
/// still has consistent data.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests;
