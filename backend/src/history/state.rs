//! The write state: the records as last read, the observations not yet stored, and which app
//! is written when. Every change to an app's stored record or pending observations republishes
//! that app's entry of the read model ([`super::read`]).

use super::read::{AppRead, Reads};
use super::writer::{Plan, Write, apply_seen};
use super::{Settings, Turn};
use crate::cluster::Stored;
use crate::metrics::Metrics;
use crate::slack::Slack;
use drift_core::app::AppKey;
use drift_core::history::Record;
use drift_core::history::model::{self, InvalidRecord, Involved, object_name};
use drift_core::history::packed::PackedRecord;
use drift_core::history::rules::Change;
use drift_core::history::version::version_cmp;
use jiff::Timestamp;
use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, HashMap, HashSet, VecDeque};
use std::sync::Arc;
use tokio::time::Instant;

/// Observations kept per app while they cannot be stored; the oldest go beyond it.
pub(super) const MAX_PENDING_PER_APP: usize = 1000;

pub(super) struct State {
    reads: Arc<Reads>,
    /// The records as last read (watch, or a write's answer), by app.
    pub(super) stored: HashMap<AppKey, Held>,
    /// Object name → app, for deletions and invalid objects.
    names: HashMap<String, AppKey>,
    /// Objects that cannot be read, by name: why.
    pub(super) invalid: HashMap<String, String>,
    /// Observations not yet stored, per app, in the order seen.
    pub(super) pending: HashMap<AppKey, VecDeque<Pending>>,
    /// Their number, all apps together.
    pub(super) pending_count: usize,
    /// Labels of apps, from their turns: only of apps with a record or something pending (most
    /// apps never drift; their labels are not kept).
    pub(super) labels: HashMap<AppKey, (String, String)>,
    /// The first list of records has arrived: before it, nothing is written.
    pub(super) listed: bool,
    /// Names seen so far in a list being taken page by page.
    pub(super) listing: HashSet<String>,
    ready: VecDeque<AppKey>,
    queued: HashSet<AppKey>,
    pub(super) in_flight: HashSet<AppKey>,
    /// Observations dropped from the front of an app's queue (it was full) while a write
    /// carrying them was in flight: that write's count of what it stored is that much too high.
    pub(super) dropped_in_flight: HashMap<AppKey, usize>,
    pub(super) delayed: BinaryHeap<Reverse<(Instant, AppKey)>>,
    pub(super) retry_at: HashMap<AppKey, Instant>,
    pub(super) failures: HashMap<AppKey, (u32, String)>,
    /// Apps whose stored object is invalid: nothing is written until it changes.
    pub(super) blocked: HashSet<AppKey>,
    /// Series of the drifting-seconds gauge currently set.
    pub(super) drifting_series: HashMap<AppKey, (String, String)>,
}

/// A readable record as held (packed), with the version to write back.
#[derive(Clone, Debug)]
pub(super) struct Held {
    pub(super) resource_version: String,
    pub(super) record: Arc<PackedRecord>,
}

impl Held {
    /// The record, unpacked. An empty one only on a bug in the packing (logged).
    pub(super) fn record(&self, app: &AppKey) -> Record {
        self.record.unpack().unwrap_or_else(|| {
            tracing::error!(app = %app, "a held drift history cannot be unpacked (a bug)");
            Record::default()
        })
    }
}

#[derive(Clone, Debug)]
pub(super) enum Pending {
    /// An observation, and the uid of the app it was seen on (empty: unknown).
    Observed(Box<drift_core::history::Observation>, String),
    Enrich(Vec<Involved>),
    /// Apply retention (the sweep found something to prune).
    Retain,
}

impl Pending {
    fn is_close(&self) -> bool {
        matches!(self, Pending::Observed(o, _) if matches!(o.change, Change::InSync { .. } | Change::Deleted))
    }
}

/// Applies one pending item to a record as answers show it (retention waits for the write).
fn apply_pending(record: &mut Record, item: &Pending) {
    match item {
        Pending::Observed(obs, uid) => apply_seen(record, obs, uid, &mut Vec::new()),
        Pending::Enrich(found) => {
            record.enrich(found);
        }
        Pending::Retain => {}
    }
}

// === impl State ===

impl State {
    pub(super) fn new(reads: Arc<Reads>) -> State {
        State {
            reads,
            stored: HashMap::new(),
            names: HashMap::new(),
            invalid: HashMap::new(),
            pending: HashMap::new(),
            pending_count: 0,
            labels: HashMap::new(),
            listed: false,
            listing: HashSet::new(),
            ready: VecDeque::new(),
            queued: HashSet::new(),
            in_flight: HashSet::new(),
            dropped_in_flight: HashMap::new(),
            delayed: BinaryHeap::new(),
            retry_at: HashMap::new(),
            failures: HashMap::new(),
            blocked: HashSet::new(),
            drifting_series: HashMap::new(),
        }
    }

    /// Takes a turn from the index.
    pub(super) fn take_turn(&mut self, turn: Turn) {
        let Turn {
            observation,
            uid,
            project,
            destination,
        } = turn;
        let app = observation.app.clone();
        self.labels.insert(app.clone(), (project, destination));
        self.push(&app, Pending::Observed(Box::new(observation), uid));
        self.drop_labels_if_unused(&app);
    }

    pub(super) fn push(&mut self, app: &AppKey, item: Pending) {
        if self.listed && item.is_close() && self.nothing_to_close(app) {
            return;
        }
        let queue = self.pending.entry(app.clone()).or_default();
        let mut dropped = false;
        if queue.len() >= MAX_PENDING_PER_APP {
            queue.pop_front();
            dropped = true;
            self.pending_count -= 1;
            if self.in_flight.contains(app) {
                *self.dropped_in_flight.entry(app.clone()).or_default() += 1;
            }
            tracing::warn!(app = %app, "too many drift observations waiting to be stored; dropping the oldest");
        }
        queue.push_back(item);
        let pending = queue.len();
        self.pending_count += 1;
        if self.listed {
            self.enqueue(app);
        }
        // The published record already has every earlier item applied: apply this one to it
        // (a queue that dropped its oldest is rebuilt whole).
        match self.reads.entry(app) {
            Some(read) if !dropped && read.pending + 1 == pending && self.listed => {
                let mut record = read.record.unpack().unwrap_or_default();
                if let Some(item) = self.pending.get(app).and_then(VecDeque::back) {
                    apply_pending(&mut record, item);
                }
                self.reads.set(
                    app,
                    Some(AppRead {
                        record: Arc::new(PackedRecord::pack(&record)),
                        pending,
                        ..read
                    }),
                );
            }
            _ => self.publish(app),
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
    pub(super) fn drop_needless_closes(&mut self, app: &AppKey) {
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
        self.drop_labels_if_unused(app);
    }

    /// Marks `app` ready to write unless it is already waiting, writing or backing off.
    pub(super) fn enqueue(&mut self, app: &AppKey) {
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

    pub(super) fn requeue_if_pending(&mut self, app: &AppKey) {
        if self.pending.get(app).is_some_and(|p| !p.is_empty()) {
            self.enqueue(app);
        }
    }

    /// The next app to write: ready now, or whose backoff has passed.
    pub(super) fn next_ready(&mut self, now: Instant) -> Option<AppKey> {
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

    pub(super) fn next_retry(&self) -> Option<Instant> {
        self.delayed.peek().map(|Reverse((at, _))| *at)
    }

    pub(super) fn pending_total(&self) -> usize {
        self.pending_count
    }

    /// Every stored episode under way of an app with nothing pending: the app, the episode's id
    /// and start version. (Apps with observations pending are looked at once those are stored:
    /// a deletion nobody saw is no hurry.)
    pub(super) fn open_episodes(&self) -> Vec<(AppKey, String, String)> {
        self.stored
            .iter()
            .filter(|(app, _)| !self.pending.contains_key(*app))
            .filter_map(|(app, held)| {
                let open = held.record.digest().open.as_deref()?;
                Some((app.clone(), open.id.clone(), open.start.version.clone()))
            })
            .collect()
    }

    /// The record as stored with every pending observation applied; `None` if the stored
    /// object is unreadable.
    pub(super) fn effective(&self, app: &AppKey) -> Option<Record> {
        if self.invalid.contains_key(&object_name(app)) {
            return None;
        }
        let mut record = match self.stored.get(app) {
            Some(held) => held.record(app),
            None => Record::default(),
        };
        for item in self.pending.get(app).into_iter().flatten() {
            apply_pending(&mut record, item);
        }
        Some(record)
    }

    /// Rebuilds `app`'s entry of the read model: the stored record shared as is when nothing is
    /// pending, else the effective record packed anew. Nothing is published before the records
    /// are listed (history cannot say yet); the list publishes every app.
    pub(super) fn publish(&self, app: &AppKey) {
        if !self.listed {
            return;
        }
        let pending = self.pending.get(app).map_or(0, VecDeque::len);
        let held = self.stored.get(app);
        if held.is_none() && pending == 0 {
            self.reads.set(app, None);
            return;
        }
        let record = match held {
            Some(held) if pending == 0 => Arc::clone(&held.record),
            _ => Arc::new(PackedRecord::pack(&self.effective(app).unwrap_or_default())),
        };
        self.reads.set(
            app,
            Some(AppRead {
                record,
                stored: held.is_some(),
                pending,
                message: self.failures.get(app).map(|(_, why)| why.clone()),
            }),
        );
    }

    /// The records are listed: from now on writes happen and reads are answered.
    pub(super) fn mark_listed(&mut self) {
        if self.listed {
            return;
        }
        self.listed = true;
        self.reads.set_listed();
        let apps: Vec<AppKey> = self.pending.keys().cloned().collect();
        for app in &apps {
            self.drop_needless_closes(app);
            self.enqueue(app);
        }
        let all: HashSet<AppKey> = self
            .stored
            .keys()
            .chain(self.pending.keys())
            .chain(apps.iter())
            .cloned()
            .collect();
        for app in &all {
            self.publish(app);
        }
        self.release_slack();
    }

    /// Gives back the room a burst left in the maps of apps with work: turns that arrive before
    /// the records are listed fill them with every app for a moment (called once listed, and
    /// with the gauges every few seconds).
    pub(super) fn release_slack(&mut self) {
        self.pending.release_slack();
        self.labels.release_slack();
        self.ready.release_slack();
        self.queued.release_slack();
        self.in_flight.release_slack();
        self.dropped_in_flight.release_slack();
        self.retry_at.release_slack();
        self.failures.release_slack();
        self.blocked.release_slack();
        self.drifting_series.release_slack();
    }

    /// What to write for `app` now, from the held record and its pending observations.
    pub(super) fn plan(
        &mut self,
        app: &AppKey,
        settings: &Settings,
        now: Timestamp,
    ) -> Option<Plan> {
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
            Some(held) => (Some(held.resource_version.clone()), held.record(app)),
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
            // Serialized by the store task, off this lock.
            Some(resource_version) => Write::Replace { resource_version },
            None => Write::Create,
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
    pub(super) fn hold(&mut self, stored: Stored, metrics: &Metrics) {
        let Stored {
            name,
            resource_version,
            object,
        } = stored;
        // The echo of this replica's own write (held from its answer): nothing to read again.
        if self.holds(&name, &resource_version) {
            return;
        }
        match model::from_object(object) {
            Ok((app, record)) => {
                if self.holds_newer(&app, &resource_version) {
                    return; // an older event than a write this replica already holds
                }
                if self.invalid.remove(&name).is_some() {
                    self.reads.set_invalid(&name, None);
                    tracing::info!(%name, "drift history is readable again");
                }
                self.keep(&app, name, resource_version, &record);
                self.unblock(&app);
                self.publish(&app);
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
                self.reads.set_invalid(&name, Some(&why));
                self.invalid.insert(name.clone(), why);
                if let Some(app) = self.names.get(&name).cloned() {
                    self.stored.remove(&app);
                    self.unblock(&app);
                    self.publish(&app);
                }
            }
        }
    }

    /// Whether object `name` is held at `resource_version` (the echo of this replica's write).
    pub(super) fn holds(&self, name: &str, resource_version: &str) -> bool {
        self.names
            .get(name)
            .and_then(|app| self.stored.get(app))
            .is_some_and(|held| held.resource_version == resource_version)
    }

    /// Holds what this replica's own write stored.
    pub(super) fn hold_written(
        &mut self,
        app: &AppKey,
        name: String,
        resource_version: String,
        record: &Record,
    ) {
        if self.holds_newer(app, &resource_version) {
            return;
        }
        if self.invalid.remove(&name).is_some() {
            self.reads.set_invalid(&name, None);
        }
        self.keep(app, name, resource_version, record);
    }

    /// Whether what is held for `app` is newer than `resource_version`.
    fn holds_newer(&self, app: &AppKey, resource_version: &str) -> bool {
        self.stored.get(app).is_some_and(|held| {
            version_cmp(resource_version, &held.resource_version) == Ordering::Less
        })
    }

    /// Holds `record` (packed) as object `name` at `resource_version`.
    fn keep(&mut self, app: &AppKey, name: String, resource_version: String, record: &Record) {
        self.names.insert(name, app.clone());
        self.stored.insert(
            app.clone(),
            Held {
                resource_version,
                record: Arc::new(PackedRecord::pack(record)),
            },
        );
    }

    pub(super) fn forget(&mut self, name: &str) {
        if self.invalid.remove(name).is_some() {
            self.reads.set_invalid(name, None);
        }
        if let Some(app) = self.names.remove(name) {
            self.stored.remove(&app);
            self.unblock(&app);
            self.drop_labels_if_unused(&app);
            self.publish(&app);
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
    pub(super) fn drop_labels_if_unused(&mut self, app: &AppKey) {
        if !self.stored.contains_key(app) && !self.pending.contains_key(app) {
            self.labels.remove(app);
        }
    }

    fn unblock(&mut self, app: &AppKey) {
        if self.blocked.remove(app) {
            self.requeue_if_pending(app);
        }
    }

    /// Names of every object held, readable or not.
    pub(super) fn names(&self) -> impl Iterator<Item = &String> {
        self.names.keys().chain(self.invalid.keys())
    }
}
