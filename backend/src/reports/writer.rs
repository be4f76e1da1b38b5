//! Writes reports to the API server: ingest, delete, heartbeats written behind, expiry.
//!
//! Every replace and delete carries the `resourceVersion` this replica holds; a conflict means
//! another writer (a replica, a reporter with `kubectl`) got there first: re-read, then decide
//! again with the rule "the newer `last_check` wins". Nothing is acknowledged before it is
//! stored, except a heartbeat, whose content is already stored.

use super::{Limits, ReportStore, Timing, Usage};
use crate::cluster::{OwnResources, WriteError};
use crate::metrics::Metrics;
use drift_core::reports::model::{Report, ReportKey, StoredReport};
use drift_core::reports::resource::{from_object, name_for, to_object};
use drift_core::reports::view::{Outcome, precedence};
use jiff::Timestamp;
use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// How many times one ingest re-reads after a conflict before giving up (503).
const MAX_ATTEMPTS: usize = 10;
/// Writes of one key are serialized within a replica (so concurrent writers of a key conflict
/// across replicas only); keys are spread over this many locks.
const WRITE_LOCKS: usize = 64;

/// Why a write could not be done.
#[derive(Debug, thiserror::Error)]
pub enum WriteFailure {
    /// The API server was unreachable, or conflicts did not settle.
    #[error("the API server is unavailable: {0}")]
    Unavailable(String),
    /// The API server refused the object (its schema, an admission policy).
    #[error("refused by the API server: {0}")]
    Rejected(String),
    /// RBAC refuses the write: a deployment error.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// The name for this key holds another key's report.
    #[error("the object name {0} holds another report")]
    NameTaken(String),
    /// Storing it would exceed a limit on the number of reports; the message names it.
    #[error("{0}")]
    TooManyReports(String),
    /// Storing it would exceed a limit on bytes held; the message names it.
    #[error("{0}")]
    TooManyBytes(String),
}

/// Which pending versions a flush writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Flush {
    /// Everything pending (a graceful shutdown).
    All,
    /// Heartbeats, and changes whose interval has ended (every `heartbeat_write`).
    Heartbeats,
    /// Changes whose interval has ended (every second).
    DueChanges,
}

/// Who sends a report, as its limits see it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Sender {
    /// The reporter token's name (`None`: anonymous).
    pub name: Option<String>,
    /// The token's own `reports=` and `bytes=`, if its line sets them.
    pub reports: Option<usize>,
    pub bytes: Option<usize>,
}

/// Writes admitted but not yet in the store, counted against the limits meanwhile.
#[derive(Default)]
struct InFlight {
    total: Usage,
    by: HashMap<Option<String>, Usage>,
}

/// A write's share of [`InFlight`], given back when dropped.
struct Reservation<'a> {
    in_flight: &'a std::sync::Mutex<InFlight>,
    name: Option<String>,
    usage: Usage,
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        let mut in_flight = lock(self.in_flight);
        let shrink = |u: &mut Usage, by: Usage| {
            u.reports = u.reports.saturating_sub(by.reports);
            u.bytes = u.bytes.saturating_sub(by.bytes);
        };
        shrink(&mut in_flight.total, self.usage);
        if let Some(u) = in_flight.by.get_mut(&self.name) {
            shrink(u, self.usage);
            if *u == Usage::default() {
                in_flight.by.remove(&self.name);
            }
        }
    }
}

fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl From<WriteError> for WriteFailure {
    fn from(error: WriteError) -> Self {
        match error {
            WriteError::Invalid(message) => WriteFailure::Rejected(message),
            WriteError::Forbidden(message) => WriteFailure::Forbidden(message),
            other => WriteFailure::Unavailable(other.to_string()),
        }
    }
}

/// Writes this replica's reports.
#[derive(Clone)]
pub struct ReportWriter {
    store: ReportStore,
    own: OwnResources,
    metrics: Arc<Metrics>,
    locks: Arc<[tokio::sync::Mutex<()>]>,
    limits: Limits,
    in_flight: Arc<std::sync::Mutex<InFlight>>,
    /// When each key's content was last written (pruned once older than `content_write`).
    written_at: Arc<std::sync::Mutex<HashMap<ReportKey, Instant>>>,
}

impl ReportWriter {
    pub fn new(store: ReportStore, own: OwnResources, metrics: Arc<Metrics>) -> Self {
        let in_flight: Arc<std::sync::Mutex<InFlight>> = Arc::default();
        let written_at: Arc<std::sync::Mutex<HashMap<ReportKey, Instant>>> = Arc::default();
        let weak = Arc::downgrade(&in_flight);
        metrics.count_held("report_writes_in_flight_by_reporter", move || {
            weak.upgrade().map(|f| lock(&f).by.len())
        });
        let weak = Arc::downgrade(&written_at);
        metrics.count_held("report_content_written_at", move || {
            weak.upgrade().map(|w| lock(&w).len())
        });
        ReportWriter {
            store,
            own,
            metrics,
            locks: (0..WRITE_LOCKS)
                .map(|_| tokio::sync::Mutex::new(()))
                .collect(),
            limits: Limits::default(),
            in_flight,
            written_at,
        }
    }

    /// These limits instead of the defaults.
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Whether storing `incoming` from `sender` keeps every limit; if so, its share is held
    /// until the returned reservation is dropped (after the write), so concurrent writes cannot
    /// pass one limit together. A report that does not grow what is held is always admitted.
    fn admit(
        &self,
        incoming: &StoredReport,
        sender: &Sender,
    ) -> Result<Reservation<'_>, WriteFailure> {
        let held = self
            .store
            .held(&incoming.report.key, sender.name.as_deref());
        let mut in_flight = lock(&self.in_flight);
        let weight = incoming.report.weight();
        let (key_held, same_owner, held_weight) = match &held.object {
            Some((owner, w)) => (true, *owner == sender.name, *w),
            None => (false, false, 0),
        };
        let mine = in_flight.by.get(&sender.name).copied().unwrap_or_default();
        let total = Usage {
            reports: held.total.reports + in_flight.total.reports + usize::from(!key_held),
            bytes: (held.total.bytes + in_flight.total.bytes + weight).saturating_sub(held_weight),
        };
        let own = Usage {
            reports: held.reporter.reports + mine.reports + usize::from(!same_owner),
            bytes: (held.reporter.bytes + mine.bytes + weight).saturating_sub(if same_owner {
                held_weight
            } else {
                0
            }),
        };
        let who = sender.name.as_deref().unwrap_or("anonymous reporters");
        let per_reports = sender.reports.unwrap_or(self.limits.per_token_reports);
        let per_bytes = sender.bytes.unwrap_or(self.limits.per_token_bytes);
        let grows = weight > held_weight || !same_owner;
        if !key_held && total.reports > self.limits.total_reports {
            return Err(WriteFailure::TooManyReports(format!(
                "argocd-drift holds {} reports, its limit (REPORTS_MAX_TOTAL): delete or let expire some first",
                self.limits.total_reports
            )));
        }
        if !same_owner && own.reports > per_reports {
            return Err(WriteFailure::TooManyReports(format!(
                "{who} holds {per_reports} reports, the limit of this token: delete some first"
            )));
        }
        if grows && total.bytes > self.limits.total_bytes {
            return Err(WriteFailure::TooManyBytes(format!(
                "storing this report ({weight} bytes) would take the reports held past {} bytes, the limit (REPORTS_MAX_TOTAL_BYTES)",
                self.limits.total_bytes
            )));
        }
        if grows && own.bytes > per_bytes {
            return Err(WriteFailure::TooManyBytes(format!(
                "storing this report ({weight} bytes) would take what {who} holds past {per_bytes} bytes, the limit of this token"
            )));
        }
        let usage = Usage {
            reports: usize::from(!key_held || !same_owner),
            bytes: weight,
        };
        in_flight.total.reports += usage.reports;
        in_flight.total.bytes += usage.bytes;
        let by = in_flight.by.entry(sender.name.clone()).or_default();
        by.reports += usage.reports;
        by.bytes += usage.bytes;
        Ok(Reservation {
            in_flight: &self.in_flight,
            name: sender.name.clone(),
            usage,
        })
    }

    /// Whether `key`'s content was written less than `content_write` ago.
    fn written_recently(&self, key: &ReportKey) -> bool {
        lock(&self.written_at)
            .get(key)
            .is_some_and(|at| at.elapsed() < self.limits.content_write)
    }

    fn wrote_content(&self, key: &ReportKey) {
        let mut written = lock(&self.written_at);
        let interval = self.limits.content_write;
        written.retain(|_, at| at.elapsed() < interval);
        written.insert(key.clone(), Instant::now());
    }

    fn lock_of(&self, key: &ReportKey) -> &tokio::sync::Mutex<()> {
        use std::hash::BuildHasher;
        static SEED: std::sync::OnceLock<std::collections::hash_map::RandomState> =
            std::sync::OnceLock::new();
        let hash = SEED.get_or_init(Default::default).hash_one(key);
        // In range by construction: the modulo of the lock count.
        &self.locks[(hash % self.locks.len() as u64) as usize]
    }

    /// A heartbeat or an outdated report, decided from what the replica holds, without a write
    /// (`None`: it must be written).
    fn without_write(&self, incoming: &Arc<StoredReport>) -> Option<Outcome> {
        let current = self.store.current(&incoming.report.key)?;
        let effective = &current.effective;
        if precedence(incoming, effective) == Ordering::Less {
            Some(Outcome::Superseded)
        } else if incoming.report.same_content(&effective.report) {
            self.store.heartbeat(Arc::clone(incoming));
            Some(Outcome::Heartbeat)
        } else {
            None
        }
    }

    pub fn store(&self) -> &ReportStore {
        &self.store
    }

    /// Accepts `report` from `sender`, received at `now`. Returns once it is stored (or, for a
    /// heartbeat or a change queued behind a recent one, held for a later write).
    pub async fn ingest(
        &self,
        report: Report,
        now: Timestamp,
        sender: &Sender,
    ) -> Result<Outcome, WriteFailure> {
        let incoming = Arc::new(StoredReport {
            report,
            updated_at: Some(now),
            reporter: sender.name.clone(),
        });
        let key = incoming.report.key.clone();
        // The common case (a heartbeat) takes no lock and makes no call.
        if let Some(outcome) = self.without_write(&incoming) {
            return Ok(outcome);
        }
        let _reserved = self.admit(&incoming, sender)?;
        if self.store.current(&key).is_some() && self.written_recently(&key) {
            // Served at once; written when the interval since the last change ends.
            self.store.heartbeat(Arc::clone(&incoming));
            return Ok(Outcome::Queued);
        }
        let _serialized = self.lock_of(&key).lock().await;
        for _ in 0..MAX_ATTEMPTS {
            let Some(current) = self.store.current(&key) else {
                let name = name_for(&key);
                match self.create(&name, &incoming).await {
                    Ok(()) => {
                        self.wrote_content(&key);
                        return Ok(Outcome::Created);
                    }
                    Err(WriteError::AlreadyExists) => {
                        // Someone else created it (a replica, or a reporter): read and decide.
                        if let Some(other) = self.refresh(&name).await?
                            && other.report.key != key
                        {
                            return Err(WriteFailure::NameTaken(name));
                        }
                        continue;
                    }
                    Err(error) => return Err(error.into()),
                }
            };
            if let Some(outcome) = self.without_write(&incoming) {
                return Ok(outcome);
            }
            match self
                .replace(&current.name, &current.resource_version, &incoming)
                .await
            {
                Ok(()) => {
                    self.wrote_content(&key);
                    return Ok(Outcome::Changed);
                }
                Err(WriteError::Conflict) => {
                    self.refresh(&current.name).await?;
                }
                Err(WriteError::NotFound) => self.store.removed(&current.name),
                Err(error) => return Err(error.into()),
            }
        }
        Err(WriteFailure::Unavailable(format!(
            "{key}: still conflicting after {MAX_ATTEMPTS} attempts"
        )))
    }

    /// Deletes every object holding `key`. Returns whether there was one.
    pub async fn delete(&self, key: &ReportKey) -> Result<bool, WriteFailure> {
        let _serialized = self.lock_of(key).lock().await;
        let mut deleted = false;
        for _ in 0..MAX_ATTEMPTS {
            let objects = self.store.objects_of(key);
            if objects.is_empty() {
                return Ok(deleted);
            }
            for (name, resource_version) in objects {
                match self.own.delete(&name, &resource_version).await {
                    Ok(()) => {
                        self.metrics.report_write("delete", "ok");
                        self.store.removed(&name);
                        deleted = true;
                    }
                    Err(WriteError::NotFound) => self.store.removed(&name),
                    Err(WriteError::Conflict) => {
                        self.metrics.report_write("delete", "conflict");
                        self.refresh(&name).await?;
                    }
                    Err(error) => {
                        self.metrics.report_write("delete", "error");
                        return Err(error.into());
                    }
                }
            }
        }
        Err(WriteFailure::Unavailable(format!(
            "{key}: still changing after {MAX_ATTEMPTS} attempts"
        )))
    }

    /// Writes every pending heartbeat and queued change that is still the newest version of its
    /// report (at a graceful shutdown too: nothing acknowledged is left behind). Returns how many
    /// stay pending (to retry on the next round).
    pub async fn flush_heartbeats(&self) -> usize {
        self.flush(Flush::All).await
    }

    /// Writes the queued changes whose interval since the last written change has ended.
    pub async fn flush_queued(&self) -> usize {
        self.flush(Flush::DueChanges).await
    }

    async fn flush(&self, which: Flush) -> usize {
        let mut left = 0;
        for (key, heartbeat) in self.store.pending() {
            let Some(current) = self.store.current(&key) else {
                // Deleted since (expired elsewhere, or by DELETE): a heartbeat does not revive it.
                self.store.heartbeat_done(&key, &heartbeat);
                continue;
            };
            if precedence(&heartbeat, &current.stored) != Ordering::Greater {
                self.store.heartbeat_done(&key, &heartbeat);
                continue;
            }
            let change = !heartbeat.report.same_content(&current.stored.report);
            let skip = match which {
                Flush::All => false,
                Flush::Heartbeats => change && self.written_recently(&key),
                Flush::DueChanges => !change || self.written_recently(&key),
            };
            if skip {
                continue;
            }
            let _serialized = self.lock_of(&key).lock().await;
            match self
                .replace(&current.name, &current.resource_version, &heartbeat)
                .await
            {
                Ok(()) => {
                    if change {
                        self.wrote_content(&key);
                    }
                    self.store.heartbeat_done(&key, &heartbeat);
                }
                Err(WriteError::Conflict) => {
                    left += 1;
                    let _ = self.refresh(&current.name).await;
                }
                Err(WriteError::NotFound) => {
                    self.store.removed(&current.name);
                    self.store.heartbeat_done(&key, &heartbeat);
                }
                Err(error) if error.is_transient() => left += 1,
                Err(error) => {
                    tracing::error!(report = %key, %error, "cannot write a heartbeat; dropping it");
                    self.store.heartbeat_done(&key, &heartbeat);
                }
            }
        }
        self.metrics
            .set_heartbeats_pending(self.store.pending_count());
        left
    }

    /// Deletes reports not refreshed within `REPORT_EXPIRE_AFTER_SECONDS`. A conflict means it
    /// was refreshed meanwhile: it stays.
    pub async fn expire(&self, now: Timestamp) {
        for (name, resource_version) in self.store.expired(now) {
            match self.own.delete(&name, &resource_version).await {
                Ok(()) => {
                    self.metrics.report_write("delete", "ok");
                    tracing::info!(name = %name, "deleted an expired report");
                    self.store.removed(&name);
                }
                Err(WriteError::NotFound) => self.store.removed(&name),
                Err(WriteError::Conflict) => {
                    self.metrics.report_write("delete", "conflict");
                    let _ = self.refresh(&name).await;
                }
                Err(error) => {
                    self.metrics.report_write("delete", "error");
                    tracing::warn!(name = %name, %error, "cannot delete an expired report");
                }
            }
        }
    }

    /// Keeps the store's gauges, heartbeats and expiry going until dropped: every second the
    /// gauges and expiry, every `heartbeat_write` the pending heartbeats.
    pub async fn maintain(self, timing: Timing) {
        let tick = Duration::from_secs(1).min(timing.heartbeat_write);
        let mut ticks = tokio::time::interval(tick);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut next_flush = tokio::time::Instant::now() + timing.heartbeat_write;
        loop {
            ticks.tick().await;
            if !self.store.is_ready() {
                continue;
            }
            let now = crate::clock::now();
            if tokio::time::Instant::now() >= next_flush {
                self.flush(Flush::Heartbeats).await;
                next_flush = tokio::time::Instant::now() + timing.heartbeat_write;
            } else {
                self.flush_queued().await;
            }
            self.expire(now).await;
            let (synced, out_of_sync, stale) = self.store.counts(now);
            self.metrics.set_reports(synced, out_of_sync, stale);
            self.metrics
                .set_reports_held_bytes(self.store.total().bytes);
            self.metrics
                .set_heartbeats_pending(self.store.pending_count());
        }
    }

    async fn create(&self, name: &str, stored: &StoredReport) -> Result<(), WriteError> {
        let result = self.own.create(to_object(name, None, stored)).await;
        self.count("create", &result);
        self.store.written(result?);
        Ok(())
    }

    async fn replace(
        &self,
        name: &str,
        resource_version: &str,
        stored: &StoredReport,
    ) -> Result<(), WriteError> {
        let result = self
            .own
            .replace(to_object(name, Some(resource_version), stored))
            .await;
        self.count("replace", &result);
        self.store.written(result?);
        Ok(())
    }

    /// Re-reads one object into the store; returns what it holds now (`None`: gone).
    async fn refresh(&self, name: &str) -> Result<Option<StoredReport>, WriteFailure> {
        match self.own.get(name).await? {
            Some(object) => {
                let report = from_object(&object.object).ok();
                self.store.written(object);
                Ok(report)
            }
            None => {
                self.store.removed(name);
                Ok(None)
            }
        }
    }

    fn count<T>(&self, op: &'static str, result: &Result<T, WriteError>) {
        let outcome = match result {
            Ok(_) => "ok",
            Err(WriteError::Conflict | WriteError::AlreadyExists) => "conflict",
            Err(_) => "error",
        };
        self.metrics.report_write(op, outcome);
    }
}
