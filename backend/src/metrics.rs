//! Prometheus metrics, served on the service port at `/metrics` (OpenMetrics text).
//!
//! Label values are bounded: listeners and routes come from the fixed route tables, codes from
//! `ApiError`, protocol-error kinds from the listener, resources and scopes from what the
//! configuration watches. Nothing a client sends becomes a label.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How to count one map of an owner's state, for [`Metrics::count_held_by`].
pub type CountIn<S> = fn(&S) -> usize;
/// One map of an owner's state: its label, and how to count it.
pub type HeldMap<S> = (&'static str, CountIn<S>);

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub listener: &'static str,
    pub route: &'static str,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub listener: &'static str,
    pub route: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CodeLabels {
    pub code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WatchLabels {
    pub resource: String,
    pub scope: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ListenerLabels {
    pub listener: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ProtocolLabels {
    pub listener: &'static str,
    pub kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SyncStatusLabels {
    pub sync_status: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct IngestLabels {
    pub api: &'static str,
    pub outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CauseLabels {
    pub cause: &'static str,
}

/// Episode durations: 1 min … 1 week.
fn episode_duration_histogram() -> Histogram {
    Histogram::new([
        60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0, 14_400.0, 43_200.0, 86_400.0, 259_200.0,
        604_800.0,
    ])
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ManagerClassLabels {
    pub project: String,
    pub manager_class: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TaskLabels {
    pub task: String,
    pub how: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    pub outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SourceLabels {
    pub source: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct MapLabels {
    pub map: &'static str,
}

/// Counts one internal map's entries when asked (`None`: the map is gone); see
/// [`Metrics::count_held`].
type HeldCount = Box<dyn Fn() -> Option<usize> + Send + Sync>;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabels {
    pub reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WriteLabels {
    pub op: &'static str,
    pub result: &'static str,
}

/// Drift history: bounded by the apps Argo CD has (never users or field paths).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ProjectLabels {
    pub project: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EndLabels {
    pub project: String,
    pub cause: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AppLabels {
    pub app: String,
    pub project: String,
    pub destination: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RecordLabels {
    pub state: &'static str,
}

/// The external reports' series (see `reports`).
struct ReportMetrics {
    by_status: Family<SyncStatusLabels, Gauge>,
    stale: Gauge,
    pending: Gauge,
    ingests: Family<IngestLabels, Counter>,
    ingest_durations: Family<OutcomeLabels, Histogram, fn() -> Histogram>,
    rejections: Family<ReasonLabels, Counter>,
    writes: Family<WriteLabels, Counter>,
    bytes: Gauge,
    token_lines_refused: Gauge,
}

impl ReportMetrics {
    fn register(registry: &mut Registry) -> Self {
        let m = ReportMetrics {
            by_status: Family::default(),
            stale: Gauge::default(),
            pending: Gauge::default(),
            ingests: Family::default(),
            ingest_durations: Family::new_with_constructor(latency_histogram),
            rejections: Family::default(),
            writes: Family::default(),
            bytes: Gauge::default(),
            token_lines_refused: Gauge::default(),
        };
        registry.register(
            "reports_held_bytes",
            "Bytes of external drift reports held (as the REPORTS_*_BYTES limits count them)",
            m.bytes.clone(),
        );
        registry.register(
            "report_token_lines_refused",
            "Lines of REPORTS_TOKENS_PATH refused in its last read (the other lines apply)",
            m.token_lines_refused.clone(),
        );
        registry.register(
            "reports",
            "External drift reports held, by sync_status (SYNCED, OUT_OF_SYNC)",
            m.by_status.clone(),
        );
        registry.register(
            "reports_stale",
            "External drift reports not refreshed within REPORT_STALE_AFTER_SECONDS",
            m.stale.clone(),
        );
        registry.register(
            "report_heartbeats_pending",
            "Heartbeats acknowledged and not yet written",
            m.pending.clone(),
        );
        registry.register(
            "report_ingests",
            "Reports accepted, by api (compat, v1) and outcome (created, changed, heartbeat, superseded, queued)",
            m.ingests.clone(),
        );
        registry.register(
            "report_ingest_duration_seconds",
            "Time to accept a report (validation and, for a change, the durable write), by outcome",
            m.ingest_durations.clone(),
        );
        registry.register(
            "report_rejections",
            "Reports refused, by reason",
            m.rejections.clone(),
        );
        registry.register(
            "report_writes",
            "Writes of DriftReport objects, by op (create, replace, delete) and result (ok, conflict, error)",
            m.writes.clone(),
        );
        m
    }
}

/// The drift engine's runs (see `handlers::drift`): how many hold a blocking thread now, and how
/// each ended — `done`, `over_budget` (its own deadline, shorter than the request's, passed) or
/// `cancelled` (the request was dropped: timed out or the client went away).
struct EngineMetrics {
    running: Gauge,
    runs: Family<OutcomeLabels, Counter>,
    live_objects: Family<SourceLabels, Counter>,
}

impl EngineMetrics {
    fn register(registry: &mut Registry) -> EngineMetrics {
        let m = EngineMetrics {
            running: Gauge::default(),
            runs: Family::default(),
            live_objects: Family::default(),
        };
        registry.register(
            "engine_running",
            "Drift engine runs holding a blocking thread now",
            m.running.clone(),
        );
        registry.register(
            "engine_runs",
            "Drift engine runs ended, by outcome (done, over_budget, cancelled)",
            m.runs.clone(),
        );
        registry.register(
            "live_objects",
            "Live objects drift inspected, by where they came from: argocd (Argo CD's \
             managed-resources answer, no cluster read) or cluster (a GET, or the read cache)",
            m.live_objects.clone(),
        );
        m
    }
}

/// The drift history's series (see `history`).
struct HistoryMetrics {
    apps_drifting: Family<ProjectLabels, Gauge>,
    apps_drifting_by_manager_class: Family<ManagerClassLabels, Gauge>,
    app_drifting_seconds: Family<AppLabels, Gauge>,
    episodes_started: Family<ProjectLabels, Counter>,
    episodes_ended: Family<EndLabels, Counter>,
    pending_writes: Gauge,
    write_errors: Family<ReasonLabels, Counter>,
    writes: Counter,
    records: Family<RecordLabels, Gauge>,
    invalid_records: Counter,
    events: Family<OutcomeLabels, Counter>,
    episode_durations: Family<CauseLabels, Histogram, fn() -> Histogram>,
}

impl HistoryMetrics {
    fn register(registry: &mut Registry) -> HistoryMetrics {
        let m = HistoryMetrics {
            apps_drifting: Family::default(),
            apps_drifting_by_manager_class: Family::default(),
            app_drifting_seconds: Family::default(),
            episodes_started: Family::default(),
            episodes_ended: Family::default(),
            pending_writes: Gauge::default(),
            write_errors: Family::default(),
            writes: Counter::default(),
            records: Family::default(),
            invalid_records: Counter::default(),
            events: Family::default(),
            episode_durations: Family::new_with_constructor(episode_duration_histogram),
        };
        registry.register(
            "episode_duration_seconds",
            "How long drift episodes this replica recorded as ended lasted (start or first sight \
             to end), by end cause",
            m.episode_durations.clone(),
        );
        registry.register(
            "events",
            "Kubernetes Events at drift episode edges this replica handled, by outcome \
             (created, alreadyExists, retried, rateLimited, queueFull, dropped, failed)",
            m.events.clone(),
        );
        registry.register(
            "apps_drifting",
            "Apps with a drift episode under way (from the shared history), by project",
            m.apps_drifting.clone(),
        );
        registry.register(
            "apps_drifting_by_manager_class",
            "Apps with a drift episode under way, by project and by the class of the field \
             managers behind it (interactive, automation, other, unknown: not inspected yet)",
            m.apps_drifting_by_manager_class.clone(),
        );
        registry.register(
            "app_drifting_seconds",
            "Seconds since the app's episode under way started (or was first seen)",
            m.app_drifting_seconds.clone(),
        );
        registry.register(
            "episodes_started",
            "Drift episodes this replica recorded as started (sum over replicas: every episode once)",
            m.episodes_started.clone(),
        );
        registry.register(
            "episodes_ended",
            "Drift episodes this replica recorded as ended, by end cause",
            m.episodes_ended.clone(),
        );
        registry.register(
            "history_pending_writes",
            "Observations held in memory, not yet stored in a DriftHistory",
            m.pending_writes.clone(),
        );
        registry.register(
            "history_write_errors",
            "DriftHistory writes that failed: conflict (re-read and retried at once), \
             unreachable, invalid (refused by the schema), forbidden",
            m.write_errors.clone(),
        );
        registry.register(
            "history_writes",
            "DriftHistory creates, replaces and deletes this replica made that the API server accepted",
            m.writes.clone(),
        );
        registry.register(
            "history_records",
            "DriftHistory objects held, readable (valid) or not (invalid: left alone)",
            m.records.clone(),
        );
        registry.register(
            "history_invalid_records",
            "DriftHistory objects found unreadable (each new problem once)",
            m.invalid_records.clone(),
        );
        m
    }
}

pub struct Metrics {
    registry: Registry,
    reports: ReportMetrics,
    history: HistoryMetrics,
    engine: EngineMetrics,
    requests: Family<RequestLabels, Counter>,
    durations: Family<RouteLabels, Histogram, fn() -> Histogram>,
    rejections: Family<CodeLabels, Counter>,
    applications: Gauge,
    watch_stale: Family<WatchLabels, Gauge>,
    watch_lists: Family<WatchLabels, Counter>,
    watch_errors: Family<WatchLabels, Counter>,
    watch_events: Family<WatchLabels, Counter>,
    open_connections: Family<ListenerLabels, Gauge>,
    in_flight: Family<ListenerLabels, Gauge>,
    refused_connections: Family<ListenerLabels, Counter>,
    protocol_errors: Family<ProtocolLabels, Counter>,
    task_exits: Family<TaskLabels, Counter>,
    held: Family<MapLabels, Gauge>,
    held_counts: Mutex<Vec<(&'static str, HeldCount)>>,
}

fn latency_histogram() -> Histogram {
    // 250 µs … ~4 s
    Histogram::new(exponential_buckets(0.000_25, 2.0, 15))
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("argocd_drift");
        let requests = Family::<RequestLabels, Counter>::default();
        let durations = Family::<RouteLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram,
        );
        let rejections = Family::<CodeLabels, Counter>::default();
        let applications = Gauge::default();
        let watch_stale = Family::<WatchLabels, Gauge>::default();
        let watch_lists = Family::<WatchLabels, Counter>::default();
        let watch_errors = Family::<WatchLabels, Counter>::default();
        let watch_events = Family::<WatchLabels, Counter>::default();
        let open_connections = Family::<ListenerLabels, Gauge>::default();
        let in_flight = Family::<ListenerLabels, Gauge>::default();
        let refused_connections = Family::<ListenerLabels, Counter>::default();
        let protocol_errors = Family::<ProtocolLabels, Counter>::default();
        registry.register("http_requests", "HTTP requests answered", requests.clone());
        registry.register(
            "http_request_duration_seconds",
            "Time to answer an HTTP request",
            durations.clone(),
        );
        registry.register(
            "rejected_requests",
            "Requests refused at the trust boundary, by error code",
            rejections.clone(),
        );
        registry.register(
            "applications",
            "Applications in the index",
            applications.clone(),
        );
        registry.register(
            "watch_stale",
            "1 while a watch (resource, namespace scope) cannot reach the API server",
            watch_stale.clone(),
        );
        registry.register(
            "watch_lists",
            "Full lists by a watch (start-up and relists)",
            watch_lists.clone(),
        );
        registry.register(
            "watch_errors",
            "Failed list or watch calls",
            watch_errors.clone(),
        );
        registry.register(
            "watch_events",
            "Watch events received",
            watch_events.clone(),
        );
        registry.register(
            "open_connections",
            "TCP connections open, by listener",
            open_connections.clone(),
        );
        registry.register(
            "http_requests_in_flight",
            "Requests admitted past the concurrency cap and not yet answered, by listener",
            in_flight.clone(),
        );
        registry.register(
            "refused_connections",
            "Connections closed on accept because the listener was at its connection cap",
            refused_connections.clone(),
        );
        registry.register(
            "protocol_errors",
            "Connections ended by an HTTP protocol refusal before any handler ran (malformed \
             request: 400; header too large or too many header fields: 431; header read \
             timeout; write timeout)",
            protocol_errors.clone(),
        );
        let task_exits = Family::<TaskLabels, Counter>::default();
        registry.register(
            "task_exits",
            "Supervised tasks that ended before shutdown (how: returned or panicked); any is fatal",
            task_exits.clone(),
        );
        let held = Family::<MapLabels, Gauge>::default();
        registry.register(
            "held_entries",
            "Entries in each internal map or queue, counted at each scrape (a soak watches these \
             for growth); map names are fixed in the code",
            held.clone(),
        );
        let reports = ReportMetrics::register(&mut registry);
        let history = HistoryMetrics::register(&mut registry);
        let engine = EngineMetrics::register(&mut registry);
        Metrics {
            registry,
            reports,
            history,
            engine,
            requests,
            durations,
            rejections,
            applications,
            watch_stale,
            watch_lists,
            watch_errors,
            watch_events,
            open_connections,
            in_flight,
            refused_connections,
            protocol_errors,
            task_exits,
            held,
            held_counts: Mutex::new(Vec::new()),
        }
    }

    /// Counts an internal map's entries at each scrape, as `held_entries{map}`. Counts registered
    /// under one name add up (each listener's security log, say); a count that answers `None`
    /// (its owner is gone: hold it by `Weak`) is dropped. `count` runs while `/metrics` is
    /// encoded: it may take the map's own lock, never one held while encoding.
    pub fn count_held(
        &self,
        map: &'static str,
        count: impl Fn() -> Option<usize> + Send + Sync + 'static,
    ) {
        lock(&self.held_counts).push((map, Box::new(count)));
    }

    /// Counts several maps of one owner's state at each scrape, while the owner lives: `read`
    /// takes the owner's lock and applies a count to what it guards.
    pub fn count_held_by<O, S>(
        &self,
        owner: &Arc<O>,
        read: fn(&O, CountIn<S>) -> usize,
        maps: &[HeldMap<S>],
    ) where
        O: Send + Sync + 'static,
        S: 'static,
    {
        for &(map, count) in maps {
            let owner = Arc::downgrade(owner);
            self.count_held(map, move || {
                owner.upgrade().map(|owner| read(&owner, count))
            });
        }
    }

    fn update_held(&self) {
        let mut sums = BTreeMap::<&'static str, usize>::new();
        lock(&self.held_counts).retain(|(map, count)| {
            let n = count();
            if let Some(n) = n {
                *sums.entry(map).or_default() += n;
            }
            n.is_some()
        });
        for (map, n) in sums {
            self.held
                .get_or_create(&MapLabels { map })
                .set(i64::try_from(n).unwrap_or(i64::MAX));
        }
    }

    /// A supervised task ended before shutdown.
    pub fn task_exited(&self, task: &str, how: &'static str) {
        self.task_exits
            .get_or_create(&TaskLabels {
                task: task.to_string(),
                how,
            })
            .inc();
    }

    pub fn request(
        &self,
        listener: &'static str,
        route: &'static str,
        status: u16,
        elapsed: Duration,
    ) {
        self.requests
            .get_or_create(&RequestLabels {
                listener,
                route,
                status,
            })
            .inc();
        self.durations
            .get_or_create(&RouteLabels { listener, route })
            .observe(elapsed.as_secs_f64());
    }

    pub fn rejected(&self, code: &str) {
        self.rejections
            .get_or_create(&CodeLabels {
                code: code.to_string(),
            })
            .inc();
    }

    /// A drift engine run took a blocking thread.
    pub fn engine_started(&self) {
        self.engine.running.inc();
    }

    /// A drift engine run gave its blocking thread back, ending with `outcome`.
    pub fn engine_ended(&self, outcome: &'static str) {
        self.engine.running.dec();
        self.engine
            .runs
            .get_or_create(&OutcomeLabels { outcome })
            .inc();
    }

    /// Live objects a drift run took from `source` (`argocd` or `cluster`).
    pub fn live_objects(&self, source: &'static str, n: usize) {
        self.engine
            .live_objects
            .get_or_create(&SourceLabels { source })
            .inc_by(u64::try_from(n).unwrap_or(u64::MAX));
    }

    pub fn set_applications(&self, n: usize) {
        self.applications.set(i64::try_from(n).unwrap_or(i64::MAX));
    }

    pub fn set_stale(&self, resource: &str, scope: &str, stale: bool) {
        self.watch_stale
            .get_or_create(&watch_labels(resource, scope))
            .set(i64::from(stale));
    }

    pub fn listed(&self, resource: &str, scope: &str) {
        self.watch_lists
            .get_or_create(&watch_labels(resource, scope))
            .inc();
    }

    pub fn watch_error(&self, resource: &str, scope: &str) {
        self.watch_errors
            .get_or_create(&watch_labels(resource, scope))
            .inc();
    }

    pub fn watch_event(&self, resource: &str, scope: &str) {
        self.watch_events
            .get_or_create(&watch_labels(resource, scope))
            .inc();
    }

    pub fn connection_opened(&self, listener: &'static str) {
        self.open_connections
            .get_or_create(&ListenerLabels { listener })
            .inc();
    }

    pub fn connection_closed(&self, listener: &'static str) {
        self.open_connections
            .get_or_create(&ListenerLabels { listener })
            .dec();
    }

    /// Counts a request in flight until the returned guard is dropped.
    pub fn in_flight(&self, listener: &'static str) -> InFlight {
        let gauge = self
            .in_flight
            .get_or_create(&ListenerLabels { listener })
            .clone();
        gauge.inc();
        InFlight(gauge)
    }

    pub fn connection_refused(&self, listener: &'static str) {
        self.refused_connections
            .get_or_create(&ListenerLabels { listener })
            .inc();
    }

    pub fn protocol_error(&self, listener: &'static str, kind: &'static str) {
        self.protocol_errors
            .get_or_create(&ProtocolLabels { listener, kind })
            .inc();
    }

    /// Reports held now: by status, and how many are stale.
    pub fn set_reports(&self, synced: usize, out_of_sync: usize, stale: usize) {
        let gauge = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
        for (sync_status, n) in [("SYNCED", synced), ("OUT_OF_SYNC", out_of_sync)] {
            self.reports
                .by_status
                .get_or_create(&SyncStatusLabels { sync_status })
                .set(gauge(n));
        }
        self.reports.stale.set(gauge(stale));
    }

    pub fn set_reports_held_bytes(&self, n: usize) {
        self.reports.bytes.set(i64::try_from(n).unwrap_or(i64::MAX));
    }

    pub fn set_token_lines_refused(&self, n: usize) {
        self.reports
            .token_lines_refused
            .set(i64::try_from(n).unwrap_or(i64::MAX));
    }

    pub fn set_heartbeats_pending(&self, n: usize) {
        self.reports
            .pending
            .set(i64::try_from(n).unwrap_or(i64::MAX));
    }

    pub fn report_ingested(&self, api: &'static str, outcome: &'static str, elapsed: Duration) {
        self.reports
            .ingests
            .get_or_create(&IngestLabels { api, outcome })
            .inc();
        self.reports
            .ingest_durations
            .get_or_create(&OutcomeLabels { outcome })
            .observe(elapsed.as_secs_f64());
    }

    pub fn report_rejected(&self, reason: &'static str) {
        self.reports
            .rejections
            .get_or_create(&ReasonLabels { reason })
            .inc();
    }

    pub fn report_write(&self, op: &'static str, result: &'static str) {
        self.reports
            .writes
            .get_or_create(&WriteLabels { op, result })
            .inc();
    }

    pub fn episode_started(&self, project: &str) {
        self.history
            .episodes_started
            .get_or_create(&ProjectLabels {
                project: project.to_string(),
            })
            .inc();
    }

    /// An ended episode's duration (time to resolve), by end cause.
    pub fn episode_duration(&self, cause: &'static str, seconds: f64) {
        self.history
            .episode_durations
            .get_or_create(&CauseLabels { cause })
            .observe(seconds);
    }

    pub fn episode_ended(&self, project: &str, cause: &'static str) {
        self.history
            .episodes_ended
            .get_or_create(&EndLabels {
                project: project.to_string(),
                cause,
            })
            .inc();
    }

    /// Apps drifting now, per project (projects not given read 0).
    pub fn set_apps_drifting_by_manager_class(
        &self,
        counts: std::collections::HashMap<(String, &'static str), i64>,
    ) {
        self.history.apps_drifting_by_manager_class.clear();
        for ((project, manager_class), n) in counts {
            self.history
                .apps_drifting_by_manager_class
                .get_or_create(&ManagerClassLabels {
                    project,
                    manager_class,
                })
                .set(n);
        }
    }

    pub fn set_apps_drifting(&self, by_project: std::collections::HashMap<String, i64>) {
        self.history.apps_drifting.clear();
        for (project, n) in by_project {
            self.history
                .apps_drifting
                .get_or_create(&ProjectLabels { project })
                .set(n);
        }
    }

    pub fn set_app_drifting(&self, app: &str, project: &str, destination: &str, seconds: i64) {
        self.history
            .app_drifting_seconds
            .get_or_create(&app_labels(app, project, destination))
            .set(seconds);
    }

    pub fn clear_app_drifting(&self, app: &str, project: &str, destination: &str) {
        self.history
            .app_drifting_seconds
            .remove(&app_labels(app, project, destination));
    }

    pub fn set_history_pending(&self, n: usize) {
        self.history
            .pending_writes
            .set(i64::try_from(n).unwrap_or(i64::MAX));
    }

    /// An episode edge's Event: `created`, `alreadyExists`, `retried`, `rateLimited`,
    /// `queueFull`, `dropped`, `failed`.
    pub fn event(&self, outcome: &'static str) {
        self.history
            .events
            .get_or_create(&OutcomeLabels { outcome })
            .inc();
    }

    pub fn history_write_error(&self, reason: &'static str) {
        self.history
            .write_errors
            .get_or_create(&ReasonLabels { reason })
            .inc();
    }

    pub fn set_history_records(&self, valid: usize, invalid: usize) {
        for (state, n) in [("valid", valid), ("invalid", invalid)] {
            self.history
                .records
                .get_or_create(&RecordLabels { state })
                .set(i64::try_from(n).unwrap_or(i64::MAX));
        }
    }

    pub fn history_write(&self) {
        self.history.writes.inc();
    }

    pub fn history_invalid_record(&self) {
        self.history.invalid_records.inc();
    }

    /// The OpenMetrics text exposition.
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        self.update_held();
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)?;
        Ok(out)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Registrations are pushed whole; a poisoned lock still holds a consistent list.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// One request in flight; see [`Metrics::in_flight`].
pub struct InFlight(Gauge);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}

fn app_labels(app: &str, project: &str, destination: &str) -> AppLabels {
    AppLabels {
        app: app.to_string(),
        project: project.to_string(),
        destination: destination.to_string(),
    }
}

fn watch_labels(resource: &str, scope: &str) -> WatchLabels {
    WatchLabels {
        resource: resource.to_string(),
        scope: scope.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposes_request_and_watch_series_under_one_prefix() {
        let m = Metrics::new();
        m.request("api", "status", 200, Duration::from_millis(1));
        m.rejected("INVALID_CREDENTIALS");
        m.listed("applications", "argocd");
        m.set_stale("applications", "argocd", true);
        m.protocol_error("api", "header_too_large");
        let text = m.encode().unwrap();
        assert!(
            text.contains(
                r#"argocd_drift_http_requests_total{listener="api",route="status",status="200"} 1"#
            ),
            "{text}"
        );
        assert!(
            text.contains(r#"argocd_drift_rejected_requests_total{code="INVALID_CREDENTIALS"} 1"#)
        );
        assert!(text.contains(
            r#"argocd_drift_watch_lists_total{resource="applications",scope="argocd"} 1"#
        ));
        assert!(
            text.contains(r#"argocd_drift_watch_stale{resource="applications",scope="argocd"} 1"#)
        );
        assert!(text.contains(
            r#"argocd_drift_protocol_errors_total{listener="api",kind="header_too_large"} 1"#
        ));
        assert!(text.ends_with("# EOF\n"));
    }

    #[test]
    fn held_entries_are_counted_at_each_scrape_and_add_up_by_map() {
        let m = Metrics::new();
        let map = Arc::new(Mutex::new(vec![1, 2, 3]));
        let weak = Arc::downgrade(&map);
        m.count_held("queue", move || weak.upgrade().map(|q| lock(&q).len()));
        m.count_held("queue", || Some(2));
        assert!(
            m.encode()
                .unwrap()
                .contains(r#"argocd_drift_held_entries{map="queue"} 5"#)
        );
        lock(&map).push(4);
        assert!(
            m.encode()
                .unwrap()
                .contains(r#"argocd_drift_held_entries{map="queue"} 6"#)
        );
        // Its owner gone, a count is dropped, not reported forever.
        drop(map);
        assert!(
            m.encode()
                .unwrap()
                .contains(r#"argocd_drift_held_entries{map="queue"} 2"#)
        );
        assert_eq!(lock(&m.held_counts).len(), 1);
    }

    #[test]
    fn an_owners_maps_are_counted_through_its_lock_while_it_lives() {
        struct Owner(Mutex<(Vec<u8>, Vec<u8>)>);
        let m = Metrics::new();
        let owner = Arc::new(Owner(Mutex::new((vec![1], vec![1, 2]))));
        m.count_held_by::<_, (Vec<u8>, Vec<u8>)>(
            &owner,
            |owner, count| count(&lock(&owner.0)),
            &[("first", |s| s.0.len()), ("second", |s| s.1.len())],
        );
        let text = m.encode().unwrap();
        assert!(
            text.contains(r#"argocd_drift_held_entries{map="first"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(r#"argocd_drift_held_entries{map="second"} 2"#),
            "{text}"
        );
        drop(owner);
        m.encode().unwrap();
        assert_eq!(lock(&m.held_counts).len(), 0, "gone with its owner");
    }
}
