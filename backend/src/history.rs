//! Drift memory, stored in the Kubernetes API and shared by every replica.
//!
//! ```text
//!  AppIndex ──turns──▶ History::turn ──▶ pending (per app, in order) ──▶ recorder task
//!                                              │                           │ read-modify-write:
//!  GET /api/v1/status, /drift, /history ◀─ effective record               │ apply → prune → create/
//!        (stored + pending)                    ▲                           │ replace at the read
//!                                              │                           ▼ resourceVersion
//!  DriftHistory watch (POD_NAMESPACE) ──▶ stored records ◀── Conflict: re-read, re-apply, retry
//! ```
//!
//! - **Turns** come from the Application index as it stores each version (`drift_core::history::
//!   rules::observe`), and verdicts from drift requests ([`History::enrich`]).
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
//! - **Retention**: every write prunes the app's record (count, age, size), and a sweep every
//!   `HISTORY_SWEEP_INTERVAL_SECONDS` prunes every record, deleting those left empty.
//!
//! Reads never call the API server: they take the watched records.

use crate::cluster::{OwnKind, OwnResources, OwnSink, Stored, WriteError};
use crate::index::{AppIndex, Whereabouts};
use crate::metrics::Metrics;
use drift_core::app::AppKey;
use drift_core::history::Record;
use drift_core::history::model::{self, InvalidRecord, Involved, object_name};
use drift_core::history::rules::{Change, Observation, Outcome, Retention, episode_id};
use drift_core::history::version::{just_after, version_cmp};
use drift_core::history::view::{
    HistoryView, Page, RecordState, RecordView, current_drift, history_view,
};
use drift_core::tracking::OutOfSync;
use jiff::Timestamp;
use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio::time::Instant;

/// The kind, in the project's group.
pub const KIND: OwnKind = OwnKind {
    kind: model::KIND,
    plural: model::PLURAL,
};

/// Apps written at once.
const WRITE_CONCURRENCY: usize = 8;
/// Re-reads after conflicts before backing off (another replica writing the same app as fast).
const CONFLICT_RETRIES: usize = 10;
const BACKOFF_MIN: Duration = Duration::from_millis(250);
const BACKOFF_MAX: Duration = Duration::from_secs(30);
/// Observations kept per app while they cannot be stored; the oldest go beyond it.
const MAX_PENDING_PER_APP: usize = 1000;
/// How often the drifting gauges are brought up to date.
const GAUGE_EVERY: Duration = Duration::from_secs(2);

/// A turn the index saw, with the app's labels for metrics.
#[derive(Clone, Debug)]
pub struct Turn {
    pub observation: Observation,
    /// The uid of the app it was seen on (empty if unknown): an episode under way with another
    /// uid in its id belonged to an app of the same name that was deleted while nobody watched.
    pub uid: String,
    pub project: String,
    /// `spec.destination.server`, or its `name`.
    pub destination: String,
}

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
    state: Mutex<State>,
    wake: Notify,
    metrics: Arc<Metrics>,
    settings: Settings,
}

#[derive(Default)]
struct State {
    /// The records as last read (watch, or a write's answer), by app.
    stored: HashMap<AppKey, Held>,
    /// Object name → app, for deletions and invalid objects.
    names: HashMap<String, AppKey>,
    /// Objects that cannot be read, by name: why.
    invalid: HashMap<String, String>,
    /// Observations not yet stored, per app, in the order seen.
    pending: HashMap<AppKey, VecDeque<Pending>>,
    /// Their number, all apps together.
    pending_count: usize,
    /// Labels of apps, from their turns: only of apps with a record or something pending (most
    /// apps never drift; their labels are not kept).
    labels: HashMap<AppKey, (String, String)>,
    /// The first list of records has arrived: before it, nothing is written.
    listed: bool,
    /// Names seen so far in a list being taken page by page.
    listing: HashSet<String>,
    ready: VecDeque<AppKey>,
    queued: HashSet<AppKey>,
    in_flight: HashSet<AppKey>,
    /// Observations dropped from the front of an app's queue (it was full) while a write
    /// carrying them was in flight: that write's count of what it stored is that much too high.
    dropped_in_flight: HashMap<AppKey, usize>,
    delayed: BinaryHeap<Reverse<(Instant, AppKey)>>,
    retry_at: HashMap<AppKey, Instant>,
    failures: HashMap<AppKey, (u32, String)>,
    /// Apps whose stored object is invalid: nothing is written until it changes.
    blocked: HashSet<AppKey>,
    /// Series of the drifting-seconds gauge currently set.
    drifting_series: HashMap<AppKey, (String, String)>,
}

/// A readable record as held, with the version to write back.
#[derive(Clone, Debug)]
struct Held {
    resource_version: String,
    record: Record,
}

impl Pending {
    fn is_close(&self) -> bool {
        matches!(self, Pending::Observed(o, _) if matches!(o.change, Change::InSync { .. } | Change::Deleted))
    }
}

#[derive(Clone, Debug)]
enum Pending {
    /// An observation, and the uid of the app it was seen on (empty: unknown).
    Observed(Box<Observation>, String),
    Enrich(Vec<Involved>),
    /// Apply retention (the sweep found something to prune).
    Retain,
}

// === impl History ===

impl History {
    pub fn new(settings: Settings, metrics: Arc<Metrics>) -> History {
        History {
            shared: Arc::new(Shared {
                state: Mutex::new(State::default()),
                wake: Notify::new(),
                metrics,
                settings,
            }),
        }
    }

    /// Takes a turn from the index. Never blocks on IO.
    pub fn turn(&self, turn: Turn) {
        let Turn {
            observation,
            uid,
            project,
            destination,
        } = turn;
        let app = observation.app.clone();
        let mut state = self.lock();
        state.labels.insert(app.clone(), (project, destination));
        state.push(&app, Pending::Observed(Box::new(observation), uid));
        state.drop_labels_if_unused(&app);
        self.after_push(state);
    }

    /// Adds what a drift request found to the app's episode under way (if any).
    pub fn enrich(&self, app: &AppKey, found: Vec<Involved>) {
        if found.is_empty() {
            return;
        }
        let mut state = self.lock();
        // Only worth a write if it adds something to what is known.
        let mut known = state.effective(app).unwrap_or_default();
        if !known.enrich(&found) {
            return;
        }
        state.push(app, Pending::Enrich(found));
        self.after_push(state);
    }

    fn after_push(&self, state: MutexGuard<'_, State>) {
        let pending = state.pending_total();
        drop(state);
        self.shared.metrics.set_history_pending(pending);
        self.shared.wake.notify_one();
    }

    /// The episode under way, as `outOfSync` timing: `Some(None)` when the record says the app
    /// is not drifting, `None` when history cannot say (its record is unreadable).
    pub fn current(&self, app: &AppKey) -> Option<Option<OutOfSync>> {
        let state = self.lock();
        if !state.listed || state.invalid.contains_key(&object_name(app)) {
            return None;
        }
        let pending = state.pending.get(app).is_some_and(|p| !p.is_empty());
        match state.stored.get(app) {
            Some(Held { record, .. }) if !pending => Some(current_drift(record)),
            _ => Some(current_drift(&state.effective(app).unwrap_or_default())),
        }
    }

    /// `GET /api/v1/history` for `app`.
    pub fn view(&self, app: &AppKey, page: &Page, now: Timestamp) -> HistoryView {
        let state = self.lock();
        let name = object_name(app);
        let pending = state.pending.get(app).map_or(0, VecDeque::len);
        let (record, record_state, message) = match state.invalid.get(&name) {
            Some(why) => (Record::default(), RecordState::Invalid, Some(why.clone())),
            None => {
                let record = state.effective(app).unwrap_or_default();
                let record_state = match (state.stored.contains_key(app), pending) {
                    (_, 1..) => RecordState::Pending,
                    (true, 0) => RecordState::Stored,
                    (false, 0) => RecordState::None,
                };
                let message = (pending > 0)
                    .then(|| state.failures.get(app).map(|(_, why)| why.clone()))
                    .flatten();
                (record, record_state, message)
            }
        };
        drop(state);
        history_view(
            app,
            &record,
            RecordView {
                state: record_state,
                name,
                message,
                pending_writes: pending,
            },
            page,
            now,
        )
    }

    /// The sink the `DriftHistory` watch feeds.
    pub fn sink(&self) -> HistorySink {
        HistorySink(self.clone())
    }

    /// Writes pending observations until the process stops: the recorder. Also prunes every
    /// record each sweep interval and keeps the drifting gauges current.
    pub async fn run(self, resources: OwnResources, index: AppIndex) {
        let mut tasks: JoinSet<()> = JoinSet::new();
        let every = self.shared.settings.sweep_every;
        // The first sweep after the records are read (a tick at once would find none).
        let mut sweep =
            tokio::time::interval_at(Instant::now() + every.min(Duration::from_secs(60)), every);
        sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut gauges = tokio::time::interval(GAUGE_EVERY);
        gauges.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            while tasks.len() < WRITE_CONCURRENCY {
                let Some(app) = self.lock().next_ready(Instant::now()) else {
                    break;
                };
                tasks.spawn(self.clone().store(app, resources.clone()));
            }
            let retry = self.lock().next_retry();
            tokio::select! {
                _ = self.shared.wake.notified() => {}
                Some(done) = tasks.join_next(), if !tasks.is_empty() => {
                    if let Err(error) = done {
                        tracing::error!(%error, "a drift history write failed unexpectedly");
                    }
                }
                _ = sleep_until(retry) => {}
                _ = sweep.tick() => self.sweep(crate::clock::now()),
                _ = gauges.tick() => {
                    let now = crate::clock::now();
                    self.end_unseen_deletions(&index, now);
                    self.update_gauges(now);
                }
            }
        }
    }

    /// Stores one app's pending observations: read-modify-write until it sticks, fails, or
    /// needs no write.
    async fn store(self, app: AppKey, resources: OwnResources) {
        let mut attempt = 0;
        let result = loop {
            attempt += 1;
            let Some(plan) = self
                .lock()
                .plan(&app, &self.shared.settings, crate::clock::now())
            else {
                break Ok(());
            };
            let written = match &plan.write {
                Write::Nothing => Ok(None),
                Write::Create(object) => resources.create(object.clone()).await.map(Some),
                Write::Replace(object) => resources.replace(object.clone()).await.map(Some),
                Write::Delete { resource_version } => resources
                    .delete(&object_name(&app), resource_version)
                    .await
                    .map(|()| None),
            };
            match written {
                Ok(stored) => {
                    self.done(&app, plan, stored);
                    break Ok(());
                }
                Err(WriteError::Conflict | WriteError::AlreadyExists | WriteError::NotFound)
                    if attempt < CONFLICT_RETRIES =>
                {
                    self.shared.metrics.history_write_error("conflict");
                    match resources.get(&object_name(&app)).await {
                        Ok(fresh) => self.refresh(&app, fresh),
                        Err(error) => break Err(error),
                    }
                }
                Err(error) => break Err(error),
            }
        };
        let mut state = self.lock();
        state.in_flight.remove(&app);
        state.dropped_in_flight.remove(&app);
        match result {
            Ok(()) => {
                state.failures.remove(&app);
                state.requeue_if_pending(&app);
            }
            Err(error) => {
                let (failures, _) = state.failures.get(&app).cloned().unwrap_or_default();
                let delay = backoff(failures);
                let reason = match &error {
                    WriteError::Invalid(_) => "invalid",
                    WriteError::Forbidden(_) => "forbidden",
                    WriteError::Unreachable(_) => "unreachable",
                    _ => "conflict",
                };
                tracing::warn!(
                    app = %app,
                    name = %object_name(&app),
                    %error,
                    pending = state.pending.get(&app).map_or(0, VecDeque::len),
                    retry_in_ms = delay.as_millis() as u64,
                    "cannot store drift history; keeping it in memory and retrying"
                );
                self.shared.metrics.history_write_error(reason);
                state
                    .failures
                    .insert(app.clone(), (failures.saturating_add(1), error.to_string()));
                let at = Instant::now() + delay;
                state.retry_at.insert(app.clone(), at);
                state.delayed.push(Reverse((at, app)));
            }
        }
        let pending = state.pending_total();
        drop(state);
        self.shared.metrics.set_history_pending(pending);
        self.shared.wake.notify_one();
    }

    /// A write stuck: what it stored replaces the held record, the observations it carried are
    /// done, and what they did is counted.
    fn done(&self, app: &AppKey, plan: Plan, stored: Option<Stored>) {
        let mut state = self.lock();
        let dropped = state.dropped_in_flight.remove(app).unwrap_or(0);
        if let Some(queue) = state.pending.get_mut(app) {
            let done = plan.applied.saturating_sub(dropped).min(queue.len());
            queue.drain(..done);
            if queue.is_empty() {
                state.pending.remove(app);
            }
            state.pending_count -= done;
        }
        match stored {
            // What was written is what is stored (the schema declares every field): held as
            // planned, at the version the API server gave it, without reading the answer again.
            Some(stored) => {
                state.hold_written(app, stored.name, stored.resource_version, plan.record)
            }
            None if matches!(plan.write, Write::Delete { .. }) => {
                state.forget(&object_name(app));
            }
            None => {}
        }
        let project = state
            .labels
            .get(app)
            .map_or_else(String::new, |(p, _)| p.clone());
        state.drop_labels_if_unused(app);
        drop(state);
        if matches!(plan.write, Write::Nothing) {
            return;
        }
        for outcome in &plan.outcomes {
            match outcome {
                Outcome::Opened => self.shared.metrics.episode_started(&project),
                Outcome::Closed(cause) => {
                    self.shared.metrics.episode_ended(&project, cause.as_str())
                }
                Outcome::Revised | Outcome::Unchanged => {}
            }
        }
        tracing::debug!(app = %app, outcomes = ?plan.outcomes, "drift history stored");
    }

    /// The record as the API server has it now (after a conflict).
    fn refresh(&self, app: &AppKey, fresh: Option<Stored>) {
        let mut state = self.lock();
        match fresh {
            Some(stored) => state.hold(stored, &self.shared.metrics),
            None => state.forget(&object_name(app)),
        }
    }

    /// Queues retention for every record that has something to prune.
    fn sweep(&self, now: Timestamp) {
        let mut state = self.lock();
        let retention = self.shared.settings.retention;
        let cutoff = now.checked_sub(retention.max_age).unwrap_or(now);
        // Size is bounded on every write; what time alone changes is age (and a count bound
        // lowered by configuration).
        let due: Vec<AppKey> = state
            .stored
            .iter()
            .filter(|(_, Held { record, .. })| {
                record.episodes.is_empty()
                    || record.episodes.len() > retention.max_episodes
                    || record
                        .episodes
                        .first()
                        .and_then(|e| e.end.as_ref())
                        .is_some_and(|end| end.at < cutoff)
            })
            .map(|(app, _)| app.clone())
            .collect();
        for app in &due {
            state.push(app, Pending::Retain);
        }
        drop(state);
        if !due.is_empty() {
            tracing::info!(records = due.len(), "pruning drift histories");
            self.shared.wake.notify_one();
        }
    }

    /// Ends, as `appDeleted` and not witnessed, every episode under way whose app the index —
    /// once every scope and the records are listed — does not have, or has under another uid:
    /// deletions no replica saw (all down, a namespace no longer watched, an app deleted and
    /// re-created meanwhile). The end is when this was found, at the latest version the index
    /// knows the app's scope at (gone by then; just after the start if unknown).
    fn end_unseen_deletions(&self, index: &AppIndex, now: Timestamp) {
        if !index.is_ready() {
            return;
        }
        // Not with the index locked: the index reports turns into this lock while it holds its own.
        let open: Vec<(AppKey, String, String)> = {
            let state = self.lock();
            if !state.listed {
                return;
            }
            state.open_episodes()
        };
        let mut ends = Vec::new();
        for (app, id, start) in open {
            let version = match index.whereabouts(&app) {
                Whereabouts::Unknown => continue,
                Whereabouts::Gone { as_of: None } => just_after(&start),
                Whereabouts::Gone { as_of: Some(v) } => v,
                Whereabouts::Present { uid, version } if !uid.is_empty() && !of_uid(&id, &uid) => {
                    version
                }
                Whereabouts::Present { .. } => continue,
            };
            // Not yet: the index has not caught up with the episode another replica recorded.
            if version_cmp(&version, &start) != Ordering::Greater {
                continue;
            }
            ends.push((
                id,
                Observation {
                    app,
                    version,
                    at: now,
                    witnessed: false,
                    change: Change::Deleted,
                },
            ));
        }
        if ends.is_empty() {
            return;
        }
        let mut state = self.lock();
        for (id, obs) in ends {
            let app = obs.app.clone();
            // Still that episode under way (a turn may have come meanwhile)?
            let open = state
                .effective(&app)
                .and_then(|r| r.open().map(|e| e.id.clone()));
            if open.as_deref() != Some(id.as_str()) {
                continue;
            }
            tracing::info!(
                app = %app,
                episode = %id,
                "the app of an episode under way is gone and nobody saw it go: ending the episode as appDeleted (not witnessed)"
            );
            state.push(&app, Pending::Observed(Box::new(obs), String::new()));
        }
        self.after_push(state);
    }

    fn update_gauges(&self, now: Timestamp) {
        let mut state = self.lock();
        let mut drifting_by_project: HashMap<String, i64> = HashMap::new();
        let mut drifting: HashMap<AppKey, (String, String, i64)> = HashMap::new();
        let apps: Vec<AppKey> = state
            .stored
            .keys()
            .chain(state.pending.keys())
            .cloned()
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        for app in apps {
            let open = match (state.stored.get(&app), state.pending.contains_key(&app)) {
                (Some(Held { record, .. }), false) => current_drift(record),
                _ => state.effective(&app).and_then(|r| current_drift(&r)),
            };
            if let Some(open) = open {
                let (project, destination) = state.labels.get(&app).cloned().unwrap_or_default();
                *drifting_by_project.entry(project.clone()).or_default() += 1;
                let seconds = now.duration_since(open.observed_since).as_secs().max(0);
                drifting.insert(app, (project, destination, seconds));
            }
        }
        let gone: Vec<(AppKey, (String, String))> = state
            .drifting_series
            .iter()
            .filter(|(app, labels)| {
                drifting
                    .get(*app)
                    .is_none_or(|(p, d, _)| (p, d) != (&labels.0, &labels.1))
            })
            .map(|(app, labels)| (app.clone(), labels.clone()))
            .collect();
        let metrics = &self.shared.metrics;
        // A series goes when its episode ends, or when the app's labels changed (another project).
        for (app, (project, destination)) in gone {
            metrics.clear_app_drifting(&app.to_string(), &project, &destination);
            state.drifting_series.remove(&app);
        }
        for (app, (project, destination, seconds)) in drifting {
            metrics.set_app_drifting(&app.to_string(), &project, &destination, seconds);
            state.drifting_series.insert(app, (project, destination));
        }
        metrics.set_apps_drifting(drifting_by_project);
        metrics.set_history_records(state.stored.len(), state.invalid.len());
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Held only for map updates and pure rule calls that do not panic; a poisoned lock still
        // has consistent data.
        self.shared
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

fn backoff(failures: u32) -> Duration {
    BACKOFF_MIN
        .saturating_mul(1u32 << failures.min(10))
        .min(BACKOFF_MAX)
}

/// Applies one observation seen on the app of uid `uid` (empty: unknown). An episode under way
/// whose id names another uid belonged to an app of the same name deleted while nobody watched:
/// it ends first, as `appDeleted` and not witnessed, at this version — and a turn to Synced of
/// the new app then has nothing to end.
fn apply_seen(record: &mut Record, obs: &Observation, uid: &str, outcomes: &mut Vec<Outcome>) {
    if !uid.is_empty()
        && !matches!(obs.change, Change::Deleted)
        && let Some(open) = record.open()
        && !of_uid(&open.id, uid)
        && version_cmp(&obs.version, &open.start.version) == Ordering::Greater
    {
        let gone = Observation {
            witnessed: false,
            change: Change::Deleted,
            ..obs.clone()
        };
        outcomes.push(record.apply(&gone));
        if matches!(obs.change, Change::InSync { .. }) {
            return;
        }
    }
    outcomes.push(record.apply(obs));
}

/// Whether an episode id was given on the app of uid `uid` (ids are `<uid prefix>-<version>`).
fn of_uid(id: &str, uid: &str) -> bool {
    id.starts_with(&episode_id(uid, ""))
}

/// One write: what to send, how many pending observations it carries, and what they did.
struct Plan {
    write: Write,
    /// The record the write stores.
    record: Record,
    applied: usize,
    outcomes: Vec<Outcome>,
}

enum Write {
    /// The observations change nothing stored.
    Nothing,
    Create(serde_json::Value),
    Replace(serde_json::Value),
    /// Retention left the record empty.
    Delete {
        resource_version: String,
    },
}

// === impl State ===

impl State {
    fn push(&mut self, app: &AppKey, item: Pending) {
        if self.listed && item.is_close() && self.nothing_to_close(app) {
            return;
        }
        let queue = self.pending.entry(app.clone()).or_default();
        if queue.len() >= MAX_PENDING_PER_APP {
            queue.pop_front();
            self.pending_count -= 1;
            if self.in_flight.contains(app) {
                *self.dropped_in_flight.entry(app.clone()).or_default() += 1;
            }
            tracing::warn!(app = %app, "too many drift observations waiting to be stored; dropping the oldest");
        }
        queue.push_back(item);
        self.pending_count += 1;
        if self.listed {
            self.enqueue(app);
        }
    }

    /// No record and nothing pending: a close (an app seen Synced, or gone) has nothing to end.
    /// Most apps never drift; their turns to Synced are not worth a trip through the writer.
    fn nothing_to_close(&self, app: &AppKey) -> bool {
        !self.stored.contains_key(app)
            && !self.pending.contains_key(app)
            && !self.invalid.contains_key(&object_name(app))
    }

    /// Once the records are read: closes queued first for an app without a record end nothing.
    fn drop_needless_closes(&mut self, app: &AppKey) {
        if self.stored.contains_key(app) || self.invalid.contains_key(&object_name(app)) {
            return;
        }
        let Some(queue) = self.pending.get_mut(app) else {
            return;
        };
        let before = queue.len();
        while queue.front().is_some_and(Pending::is_close) {
            queue.pop_front();
        }
        let dropped = before - queue.len();
        if queue.is_empty() {
            self.pending.remove(app);
        }
        self.pending_count -= dropped;
    }

    /// Marks `app` ready to write unless it is already waiting, writing or backing off.
    fn enqueue(&mut self, app: &AppKey) {
        if self.queued.contains(app)
            || self.in_flight.contains(app)
            || self.retry_at.contains_key(app)
            || self.blocked.contains(app)
        {
            return;
        }
        self.queued.insert(app.clone());
        self.ready.push_back(app.clone());
    }

    fn requeue_if_pending(&mut self, app: &AppKey) {
        if self.pending.get(app).is_some_and(|p| !p.is_empty()) {
            self.enqueue(app);
        }
    }

    /// The next app to write: ready now, or whose backoff has passed.
    fn next_ready(&mut self, now: Instant) -> Option<AppKey> {
        while let Some(Reverse((at, _))) = self.delayed.peek()
            && *at <= now
        {
            let Some(Reverse((at, app))) = self.delayed.pop() else {
                break;
            };
            if self.retry_at.get(&app) == Some(&at) {
                self.retry_at.remove(&app);
                self.requeue_if_pending(&app);
            }
        }
        let app = self.ready.pop_front()?;
        self.queued.remove(&app);
        self.in_flight.insert(app.clone());
        Some(app)
    }

    fn next_retry(&self) -> Option<Instant> {
        self.delayed.peek().map(|Reverse((at, _))| *at)
    }

    fn pending_total(&self) -> usize {
        self.pending_count
    }

    /// Every stored episode under way of an app with nothing pending: the app, the episode's id
    /// and start version.
    fn open_episodes(&self) -> Vec<(AppKey, String, String)> {
        let mut open = Vec::new();
        for (app, Held { record, .. }) in &self.stored {
            if self.pending.contains_key(app) {
                continue;
            }
            if let Some(e) = record.open() {
                open.push((app.clone(), e.id.clone(), e.start.version.clone()));
            }
        }
        // Apps with observations pending are looked at once those are stored: rebuilding their
        // records here (a copy of each, under the lock, every tick) stalled the writers during a
        // burst, and a deletion nobody saw is no hurry.
        open
    }

    /// The record as stored with every pending observation applied; `None` if the stored
    /// object is unreadable.
    fn effective(&self, app: &AppKey) -> Option<Record> {
        if self.invalid.contains_key(&object_name(app)) {
            return None;
        }
        let mut record = match self.stored.get(app) {
            Some(Held { record, .. }) => record.clone(),
            None => Record::default(),
        };
        for item in self.pending.get(app).into_iter().flatten() {
            match item {
                Pending::Observed(obs, uid) => {
                    apply_seen(&mut record, obs, uid, &mut Vec::new());
                }
                Pending::Enrich(found) => {
                    record.enrich(found);
                }
                Pending::Retain => {}
            }
        }
        Some(record)
    }

    /// What to write for `app` now, from the held record and its pending observations.
    fn plan(&mut self, app: &AppKey, settings: &Settings, now: Timestamp) -> Option<Plan> {
        // The plan carries the queue as it is now: drops before it are not this write's.
        self.dropped_in_flight.remove(app);
        let queue = self.pending.get(app)?;
        if self.invalid.contains_key(&object_name(app)) {
            // Reported when it was read; wait until it is fixed or deleted.
            if self.blocked.insert(app.clone()) {
                tracing::info!(
                    app = %app,
                    pending = queue.len(),
                    "not writing over an unreadable drift history; keeping what was seen in memory until it is fixed or deleted"
                );
            }
            return None;
        }
        let (resource_version, base) = match self.stored.get(app) {
            Some(Held {
                resource_version,
                record,
            }) => (Some(resource_version.clone()), record.clone()),
            None => (None, Record::default()),
        };
        let mut record = base.clone();
        let mut outcomes = Vec::with_capacity(queue.len());
        let mut retain = false;
        for item in queue {
            match item {
                Pending::Observed(obs, uid) => apply_seen(&mut record, obs, uid, &mut outcomes),
                Pending::Enrich(found) => {
                    record.enrich(found);
                }
                Pending::Retain => retain = true,
            }
        }
        // Retention on every write (and when the sweep asks), not for observations that change
        // nothing (most: an app seen Synced that never drifted).
        if retain || record != base {
            record.prune(app, now, &settings.retention);
        }
        let applied = queue.len();
        let write = match resource_version {
            _ if record == base => Write::Nothing,
            Some(resource_version) if record.episodes.is_empty() => {
                Write::Delete { resource_version }
            }
            None if record.episodes.is_empty() => Write::Nothing,
            Some(resource_version) => {
                let mut object = model::to_object(app, &record);
                object["metadata"]["resourceVersion"] = resource_version.into();
                Write::Replace(object)
            }
            None => Write::Create(model::to_object(app, &record)),
        };
        Some(Plan {
            write,
            record,
            applied,
            outcomes,
        })
    }

    /// Takes an object as read: held if readable (and not older than what is held), reported
    /// and remembered as invalid otherwise.
    fn hold(&mut self, stored: Stored, metrics: &Metrics) {
        let Stored {
            name,
            resource_version,
            object,
        } = stored;
        // The echo of this replica's own write (held from its answer): nothing to read again.
        if let Some(app) = self.names.get(&name)
            && self
                .stored
                .get(app)
                .is_some_and(|held| held.resource_version == resource_version)
        {
            return;
        }
        match model::from_object(object) {
            Ok((app, record)) => {
                if self.holds_newer(&app, &resource_version) {
                    return; // an older event than a write this replica already holds
                }
                if self.invalid.remove(&name).is_some() {
                    tracing::info!(%name, "drift history is readable again");
                }
                self.keep(&app, name, resource_version, record);
                self.unblock(&app);
            }
            Err(InvalidRecord(why)) => {
                let is_new = self.invalid.get(&name) != Some(&why);
                if is_new {
                    tracing::warn!(
                        %name,
                        %why,
                        "a drift history cannot be read; leaving it as it is (fix or delete it)"
                    );
                    metrics.history_invalid_record();
                }
                if let Some(app) = self.names.get(&name).cloned() {
                    self.stored.remove(&app);
                    self.unblock(&app);
                }
                self.invalid.insert(name, why);
            }
        }
    }

    fn hold_written(
        &mut self,
        app: &AppKey,
        name: String,
        resource_version: String,
        record: Record,
    ) {
        if self.holds_newer(app, &resource_version) {
            return;
        }
        self.invalid.remove(&name);
        self.keep(app, name, resource_version, record);
    }

    /// Whether what is held for `app` is newer than `resource_version`.
    fn holds_newer(&self, app: &AppKey, resource_version: &str) -> bool {
        self.stored.get(app).is_some_and(|held| {
            version_cmp(resource_version, &held.resource_version) == Ordering::Less
        })
    }

    /// Holds `record` as object `name` at `resource_version`.
    fn keep(&mut self, app: &AppKey, name: String, resource_version: String, record: Record) {
        self.names.insert(name, app.clone());
        self.stored.insert(
            app.clone(),
            Held {
                resource_version,
                record,
            },
        );
    }

    fn forget(&mut self, name: &str) {
        self.invalid.remove(name);
        if let Some(app) = self.names.remove(name) {
            self.stored.remove(&app);
            self.unblock(&app);
            self.drop_labels_if_unused(&app);
        } else {
            // An invalid object's app is known only by the name rule; unblock whichever it was.
            let blocked: Vec<AppKey> = self
                .blocked
                .iter()
                .filter(|a| object_name(a) == name)
                .cloned()
                .collect();
            for app in blocked {
                self.unblock(&app);
            }
        }
    }

    /// Forgets an app's labels once it has no record and nothing pending.
    fn drop_labels_if_unused(&mut self, app: &AppKey) {
        if !self.stored.contains_key(app) && !self.pending.contains_key(app) {
            self.labels.remove(app);
        }
    }

    fn unblock(&mut self, app: &AppKey) {
        if self.blocked.remove(app) {
            self.requeue_if_pending(app);
        }
    }
}

// === the watch ===

/// Records listed at once: a page is decoded as JSON values before it is read, and a record may
/// be half a megabyte, so pages are kept small (2,500 records of 55 KiB: 50 pages of 2.7 MiB).
const LIST_PAGE: u32 = 50;

/// Feeds the watched `DriftHistory` objects into [`History`].
pub struct HistorySink(History);

impl OwnSink for HistorySink {
    fn replace(&self, objects: Vec<Stored>, now: Timestamp) {
        self.list_page(objects, now);
        self.list_end(now);
    }

    fn list_page_size(&self) -> Option<u32> {
        Some(LIST_PAGE)
    }

    fn list_page(&self, objects: Vec<Stored>, _now: Timestamp) {
        let history = &self.0;
        let mut state = history.lock();
        for object in objects {
            state.listing.insert(object.name.clone());
            state.hold(object, &history.shared.metrics);
        }
    }

    fn list_end(&self, _now: Timestamp) {
        let history = &self.0;
        let mut state = history.lock();
        let names = std::mem::take(&mut state.listing);
        let gone: Vec<String> = state
            .names
            .keys()
            .chain(state.invalid.keys())
            .filter(|n| !names.contains(*n))
            .cloned()
            .collect();
        for name in gone {
            state.forget(&name);
        }
        if !state.listed {
            state.listed = true;
            let apps: Vec<AppKey> = state.pending.keys().cloned().collect();
            for app in apps {
                state.drop_needless_closes(&app);
                state.enqueue(&app);
            }
        }
        history
            .shared
            .metrics
            .set_history_records(state.stored.len(), state.invalid.len());
        drop(state);
        history.shared.wake.notify_one();
    }

    fn apply(&self, object: Stored, _now: Timestamp) {
        let history = &self.0;
        history.lock().hold(object, &history.shared.metrics);
        history.shared.wake.notify_one();
    }

    fn delete(&self, name: &str, _now: Timestamp) {
        let history = &self.0;
        history.lock().forget(name);
        history.shared.wake.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use drift_core::history::fixtures::t;
    use drift_core::history::rules::{AppState, Change};

    fn history() -> History {
        History::new(Settings::default(), Arc::new(Metrics::new()))
    }

    fn turn(version: u64, change: Change) -> Turn {
        Turn {
            observation: Observation {
                app: AppKey::new("argocd", "a"),
                version: version.to_string(),
                at: t(version as i64),
                witnessed: true,
                change,
            },
            uid: "u".into(),
            project: "p".into(),
            destination: "https://kubernetes.default.svc".into(),
        }
    }

    fn drifting(version: u64) -> Change {
        Change::Drifting {
            id: format!("u-{version}"),
            state: AppState::default(),
            resources: vec![],
        }
    }

    fn stored(record: &Record, rv: &str) -> Stored {
        let app = AppKey::new("argocd", "a");
        let mut object = model::to_object(&app, record);
        object["metadata"]["resourceVersion"] = rv.into();
        Stored {
            name: object_name(&app),
            resource_version: rv.into(),
            object,
        }
    }

    #[test]
    fn nothing_is_written_before_the_records_are_listed() {
        let h = history();
        h.turn(turn(5, drifting(5)));
        let mut state = h.lock();
        assert_eq!(state.next_ready(Instant::now()), None);
        drop(state);
        h.sink().replace(vec![], t(0));
        let mut state = h.lock();
        let app = state.next_ready(Instant::now()).unwrap();
        let plan = state.plan(&app, &h.shared.settings, t(10)).expect("a plan");
        assert!(matches!(plan.write, Write::Create(_)));
        assert_eq!(plan.outcomes, [Outcome::Opened]);
    }

    #[test]
    fn answers_include_what_is_not_stored_yet() {
        let h = history();
        h.sink().replace(vec![], t(0));
        h.turn(turn(5, drifting(5)));
        let app = AppKey::new("argocd", "a");
        let current = h.current(&app).unwrap().unwrap();
        assert_eq!(current.since, Some(t(5)));
        let view = h.view(&app, &Page::default(), t(10));
        assert_eq!(view.record.state, RecordState::Pending);
        assert_eq!(view.record.pending_writes, 1);
        assert_eq!(view.episodes.len(), 1);
    }

    #[test]
    fn an_unreadable_record_is_reported_and_blocks_writes_until_it_changes() {
        let h = history();
        let app = AppKey::new("argocd", "a");
        let mut bad = stored(&Record::default(), "7");
        bad.object["status"] = serde_json::json!({"episodes": "garbage"});
        h.sink().replace(vec![bad], t(0));
        h.turn(turn(9, drifting(9)));
        assert_eq!(h.current(&app), None, "history cannot say");
        let view = h.view(&app, &Page::default(), t(10));
        assert_eq!(view.record.state, RecordState::Invalid);
        assert!(view.record.message.unwrap().starts_with("status:"));
        let mut state = h.lock();
        let ready = state.next_ready(Instant::now()).unwrap();
        assert!(state.plan(&ready, &h.shared.settings, t(10)).is_none());
        state.in_flight.remove(&ready);
        assert!(state.blocked.contains(&app));
        // Fixed by hand: writing resumes.
        state.hold(stored(&Record::default(), "8"), &h.shared.metrics);
        assert!(!state.blocked.contains(&app));
        assert_eq!(state.next_ready(Instant::now()), Some(app));
    }

    #[test]
    fn an_older_event_does_not_replace_a_newer_write() {
        let h = history();
        let app = AppKey::new("argocd", "a");
        let mut newer = Record::default();
        newer.apply(&turn(5, drifting(5)).observation);
        let mut state = h.lock();
        state.hold(stored(&newer, "20"), &h.shared.metrics);
        state.hold(stored(&Record::default(), "19"), &h.shared.metrics);
        let Some(Held { record, .. }) = state.stored.get(&app) else {
            panic!()
        };
        assert_eq!(record.episodes.len(), 1);
    }

    #[test]
    fn closes_for_apps_without_a_record_are_not_queued() {
        let h = history();
        let in_sync = || Change::InSync {
            state: AppState::default(),
        };
        // Seen Synced before the records were read: queued, then dropped once they are.
        h.turn(turn(3, in_sync()));
        assert_eq!(h.lock().pending_count, 1);
        h.sink().replace(vec![], t(0));
        assert_eq!(h.lock().pending_count, 0);
        h.turn(turn(4, in_sync()));
        assert_eq!(h.lock().pending_count, 0, "nothing to end");
        h.turn(turn(5, drifting(5)));
        h.turn(turn(6, in_sync()));
        assert_eq!(h.lock().pending_count, 2, "this one ends an episode");
    }

    #[test]
    fn a_list_taken_page_by_page_forgets_what_it_did_not_contain() {
        let h = history();
        let sink = h.sink();
        let mut one = Record::default();
        one.apply(&turn(5, drifting(5)).observation);
        sink.list_page(vec![stored(&one, "10")], t(0));
        sink.list_end(t(0));
        assert!(h.current(&AppKey::new("argocd", "a")).unwrap().is_some());
        sink.list_page(vec![], t(1));
        sink.list_end(t(1));
        assert_eq!(h.current(&AppKey::new("argocd", "a")), Some(None), "gone");
    }

    #[test]
    fn an_observation_queued_while_a_full_queue_is_written_is_not_lost() {
        let h = history();
        h.sink().replace(vec![], t(0));
        let app = AppKey::new("argocd", "a");
        for v in 1..=MAX_PENDING_PER_APP as u64 {
            h.turn(turn(v, drifting(v)));
        }
        let mut state = h.lock();
        let ready = state.next_ready(Instant::now()).unwrap();
        let plan = state.plan(&ready, &h.shared.settings, t(0)).unwrap();
        assert_eq!(plan.applied, MAX_PENDING_PER_APP);
        drop(state);
        // While that write is in flight, one more: the full queue drops its oldest.
        h.turn(turn(5000, drifting(5000)));
        h.done(&app, plan, None);
        let state = h.lock();
        let left = state.pending.get(&app).map_or(0, VecDeque::len);
        assert_eq!(
            left, 1,
            "the observation made after the write began is still pending"
        );
        assert_eq!(state.pending_count, 1);
    }

    #[test]
    fn labels_are_kept_only_for_apps_with_something_to_record() {
        let h = history();
        h.sink().replace(vec![], t(0));
        let in_sync = Change::InSync {
            state: AppState::default(),
        };
        // An app seen Synced that never drifted: nothing kept.
        h.turn(turn(3, in_sync));
        assert!(h.lock().labels.is_empty());
        // A drifting one: kept while its observation waits.
        h.turn(turn(4, drifting(4)));
        assert_eq!(h.lock().labels.len(), 1);
        // Its record deleted (by retention, or by hand) with nothing pending: forgotten.
        let app = AppKey::new("argocd", "a");
        let mut state = h.lock();
        state.pending.remove(&app);
        state.pending_count = 0;
        state.hold(stored(&Record::default(), "9"), &h.shared.metrics);
        state.forget(&object_name(&app));
        assert!(state.labels.is_empty());
    }

    #[test]
    fn backoff_doubles_to_its_cap() {
        assert_eq!(backoff(0), BACKOFF_MIN);
        assert_eq!(backoff(2), BACKOFF_MIN * 4);
        assert_eq!(backoff(30), BACKOFF_MAX);
    }
}
