//! `GET /api/v1/drift` and `GET /api/v1/drift/resource`: the app's live objects read from its
//! destination cluster through the cluster layer, explained by the pure engine
//! (`drift_core::drift`).
//!
//! Per request: the resources to inspect are chosen from the app's `status.resources` (Argo CD's
//! OutOfSync ones, or all with `all=true`); Argo CD's own managed-resources are fetched once when
//! that source is configured, and the live states it holds are used as they are; each other
//! object is read with one GET (under the shared concurrency bound, the request deadline and the
//! byte-bounded cache; Secrets only when reading them is on); then the engine runs on a blocking
//! thread. A resource whose read fails gets a
//! reason; the request never fails because one object could not be read.
//!
//! **Work ends with the request.** The engine's run has a deadline [`Drift::inspect_timeout`]
//! after the handler starts, strictly shorter than the request's timeout, so it stops before the
//! request is answered with a timeout; each jq expression on each object has its own budget (as
//! in Argo CD) inside that total. A guard sets a cancellation flag when the handler's future is
//! dropped (the request timed out, the client went away); the engine checks flag and deadline
//! between resources and the jq budget between an expression's outputs. The blocking work holds
//! a clone of the request's concurrency slot ([`RequestPermit`]) until it has stopped, so
//! abandoned work still counts against the cap. Runs are counted in
//! `argocd_drift_engine_running` / `argocd_drift_engine_runs_total{outcome}`.

use crate::argocd_settings::ArgoCdSettings;
use crate::cluster::{ArgoCdApi, Cluster, Destinations, LiveRef, ReadError};
use crate::history::History;
use crate::http::error::ApiError;
use crate::http::gate::AppContext;
use crate::http::limits::RequestPermit;
use crate::http::query::{FromQuery, Query, parse_bool};
use crate::metrics::Metrics;
use drift_core::app::{Application, ResourceStatus};
use drift_core::drift::jq::JqCache;
use drift_core::drift::report::{drift_report, resources_to_inspect};
use drift_core::drift::settings::{SystemSettings, parse_argocd_cm};
use drift_core::drift::view::{DriftReport, ResourceDetail, ResourceDrift};
use drift_core::drift::{Inspector, LiveRead, ManagedResource, ReadFailure, ResourceInput};
use drift_core::scope::ResourceRef;
use drift_core::status::OutOfSyncView;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// `GET /api/v1/drift?all=true|false&refresh=true|false`
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DriftQuery {
    /// Every resource of the app, not only those Argo CD reports OutOfSync.
    pub all: bool,
    /// Read the objects fresh (quorum reads, no cache), at most once per
    /// `DRIFT_REFRESH_MIN_INTERVAL_SECONDS` per app; sooner, the answer comes from the cache.
    pub refresh: bool,
}

impl FromQuery for DriftQuery {
    const PARAMS: &'static [&'static str] = &["all", "refresh"];

    fn from_query(query: &Query) -> Result<Self, ApiError> {
        Ok(DriftQuery {
            all: parse_bool(query, "all")?,
            refresh: parse_bool(query, "refresh")?,
        })
    }
}

/// `GET /api/v1/drift/resource?group=&version=&kind=&namespace=&name=` (the type is core's, so
/// the tab's TypeScript type is generated from it).
pub use drift_core::api::ResourceQuery;

impl FromQuery for ResourceQuery {
    const PARAMS: &'static [&'static str] = &["group", "version", "kind", "namespace", "name"];
    /// `namespace` is the resource's (empty for a cluster-scoped one), checked with it.
    const OWN_SCOPE_NAMES: &'static [&'static str] = &["namespace"];

    fn from_query(query: &Query) -> Result<Self, ApiError> {
        let required = |name: &'static str| {
            query
                .get(name)
                .map(str::to_string)
                .ok_or(ApiError::MissingQueryParameter(name))
        };
        // `group` and `namespace` may be empty (core group, cluster scope) but must be given.
        let group = required("group")?;
        let version = required("version")?;
        let kind = required("kind")?;
        let namespace = required("namespace")?;
        let name = required("name")?;
        for (param, value) in [("version", &version), ("kind", &kind), ("name", &name)] {
            if value.is_empty() {
                return Err(ApiError::InvalidQuery(format!("{param} must not be empty")));
            }
        }
        // A version is one path segment of the URL the backend reads: a DNS label, as the API
        // server requires (`v1`, `v2beta1`), never a path (`v1/namespaces/…`) or a query.
        if !drift_core::names::is_dns_label(&version) {
            return Err(ApiError::InvalidQuery(
                "version must be an API version such as v1 or v2beta1".into(),
            ));
        }
        Ok(ResourceQuery {
            group,
            version,
            kind,
            namespace,
            name,
        })
    }

    fn claimed_resource(&self) -> Option<ResourceRef> {
        Some(ResourceRef {
            group: self.group.clone(),
            kind: self.kind.clone(),
            namespace: self.namespace.clone(),
            name: self.name.clone(),
        })
    }

    fn claimed_version(&self) -> Option<&str> {
        Some(&self.version)
    }
}

/// What the drift handlers need: the cluster layer's reads and Argo CD's settings.
pub struct Drift {
    pub destinations: Destinations,
    pub settings: ArgoCdSettings,
    pub argocd: Option<ArgoCdApi>,
    pub read_secrets: bool,
    /// The longest one request's reads and engine may take, from the handler's start: strictly
    /// shorter than the request's timeout ([`engine_budget`]), so the engine stops first.
    pub inspect_timeout: Duration,
    /// Each jq rule's budget (Argo CD's default is 1 s).
    pub jq_timeout: Duration,
    jq: Arc<JqCache>,
    parsed: Mutex<Option<(u64, Arc<SystemSettings>)>>,
    metrics: Option<Arc<Metrics>>,
}

/// The engine's budget for a request answered within `request_timeout`: four fifths of it, so
/// the engine's own deadline always passes first (and the request has time left to answer).
pub fn engine_budget(request_timeout: Duration) -> Duration {
    request_timeout - request_timeout / 5
}

impl Drift {
    pub fn new(
        destinations: Destinations,
        settings: ArgoCdSettings,
        argocd: Option<ArgoCdApi>,
        read_secrets: bool,
        request_timeout: Duration,
        jq_timeout: Duration,
    ) -> Self {
        Drift {
            destinations,
            settings,
            argocd,
            read_secrets,
            inspect_timeout: engine_budget(request_timeout),
            jq_timeout,
            jq: Arc::new(JqCache::new()),
            parsed: Mutex::new(None),
            metrics: None,
        }
    }

    /// Counts the engine's runs (running now, and how each ended).
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Self {
        let jq = Arc::downgrade(&self.jq);
        metrics.count_held("jq_expressions", move || jq.upgrade().map(|jq| jq.len()));
        self.metrics = Some(metrics);
        self
    }

    /// argocd-cm parsed, once per version.
    fn system_settings(&self) -> Arc<SystemSettings> {
        let snapshot = self.settings.snapshot();
        let mut parsed = self
            .parsed
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some((generation, settings)) = parsed.as_ref()
            && *generation == snapshot.generation
        {
            return Arc::clone(settings);
        }
        let settings = Arc::new(parse_argocd_cm(&snapshot.data));
        *parsed = Some((snapshot.generation, Arc::clone(&settings)));
        settings
    }
}

/// `GET /api/v1/drift`. The summary says since when the app has drifted (from the history). A
/// GET writes nothing: the episode under way is enriched off the request path
/// (`crate::enrichment`).
pub async fn list(
    ctx: &AppContext,
    query: DriftQuery,
    drift: &Drift,
    history: &History,
    hold: Option<RequestPermit>,
) -> Result<DriftReport, ApiError> {
    let app = Arc::new(ctx.app.app.clone());
    let read_at = crate::clock::now();
    let fresh = query.refresh && drift.destinations.may_refresh(&app.key.to_string());
    let verdicts = inspect(drift, Arc::clone(&app), query.all, fresh, hold).await?;
    let mut report = drift_report(&app, verdicts, read_at, query.all);
    let out_of_sync = match history.current(&app.key) {
        Some(Some(stored)) => Some(stored),
        _ => ctx.app.out_of_sync,
    };
    report.summary.out_of_sync = out_of_sync
        .filter(|_| app.sync_status() == Some(drift_core::tracking::OUT_OF_SYNC))
        .map(|o| OutOfSyncView {
            since: o.since,
            observed_since: o.observed_since,
        });
    Ok(report)
}

/// The verdicts of `GET /api/v1/drift`: the app's resources (Argo CD's OutOfSync ones, or all)
/// read and judged. Also what the enrichment pass records. `hold`: a concurrency slot the
/// engine's blocking work keeps until it stops.
pub async fn verdicts(
    drift: &Drift,
    app: Arc<Application>,
    all: bool,
    hold: Option<RequestPermit>,
) -> Result<Vec<ResourceDrift>, ApiError> {
    inspect(drift, app, all, false, hold).await
}

/// [`verdicts`], the objects read `fresh` (a forced refresh) or through the cache.
async fn inspect(
    drift: &Drift,
    app: Arc<Application>,
    all: bool,
    fresh: bool,
    hold: Option<RequestPermit>,
) -> Result<Vec<ResourceDrift>, ApiError> {
    let deadline = Instant::now() + drift.inspect_timeout;
    let resources: Vec<ResourceStatus> = resources_to_inspect(&app, all).cloned().collect();
    let managed = managed_resources(drift, &app).await;
    let lives = read_all(drift, &app, &resources, fresh, &managed).await;
    run_engine(
        drift,
        Run { deadline, hold },
        app,
        resources,
        lives,
        managed,
        |inspector, input, budget| inspector.inspect(input, budget),
    )
    .await
}

/// `GET /api/v1/drift/resource`
pub async fn resource(
    ctx: &AppContext,
    query: ResourceQuery,
    drift: &Drift,
    hold: Option<RequestPermit>,
) -> Result<ResourceDetail, ApiError> {
    let deadline = Instant::now() + drift.inspect_timeout;
    let app = Arc::new(ctx.app.app.clone());
    // The gate has checked the resource is the app's at that version; take Argo CD's entry.
    let Some(entry) = app
        .status
        .resources
        .iter()
        .find(|r| {
            r.group == query.group
                && r.version == query.version
                && r.kind == query.kind
                && r.namespace == query.namespace
                && r.name == query.name
        })
        .cloned()
    else {
        return Err(ApiError::OutOfScope(format!(
            "resource {}/{}/{}/{}",
            query.group, query.kind, query.namespace, query.name
        )));
    };
    let resources = vec![entry];
    let managed = managed_resources(drift, &app).await;
    let lives = read_all(drift, &app, &resources, false, &managed).await;
    let mut details = run_engine(
        drift,
        Run { deadline, hold },
        app,
        resources,
        lives,
        managed,
        |inspector, input, budget| inspector.detail(input, budget),
    )
    .await?;
    details
        .pop()
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("the engine returned no detail")))
}

/// Every resource's live object (those the engine can settle without it are not read). With
/// Argo CD as a source, the live state its managed-resources answer holds (from its cluster cache,
/// `managedFields` included) is taken as is, and only what it lacks is read from the cluster:
/// Secrets (Argo CD masks their values; read only when reading them is on), objects it holds no
/// live state for, and every object of a forced refresh.
async fn read_all(
    drift: &Drift,
    app: &Application,
    resources: &[ResourceStatus],
    fresh: bool,
    managed: &[ManagedResource],
) -> Vec<LiveRead> {
    let secret = |r: &ResourceStatus| r.group.is_empty() && r.kind == "Secret";
    let from_argocd = |r: &ResourceStatus| {
        (!fresh && !secret(r) && !r.hook)
            .then(|| managed.iter().find(|m| m.is_for(r)))
            .flatten()
            .and_then(|m| m.live_state.clone())
    };
    let cluster = drift.destinations.cluster(&app.spec.destination);
    let (mut argocd, mut read) = (0, 0);
    let reads = resources.iter().map(|r| match from_argocd(r) {
        Some(live) => {
            argocd += 1;
            futures::future::Either::Left(std::future::ready(LiveRead::Found(live)))
        }
        None => {
            // Hooks, and Secrets while reading them is off, are not read.
            read += usize::from(!r.hook && (drift.read_secrets || !secret(r)));
            futures::future::Either::Right(read_one(drift, cluster.as_ref(), r, fresh))
        }
    });
    let reads: Vec<_> = reads.collect();
    if let Some(metrics) = &drift.metrics {
        metrics.live_objects("argocd", argocd);
        metrics.live_objects("cluster", read);
    }
    futures::future::join_all(reads).await
}

async fn read_one(
    drift: &Drift,
    cluster: Result<&Cluster, &ReadError>,
    r: &ResourceStatus,
    fresh: bool,
) -> LiveRead {
    let secret = r.group.is_empty() && r.kind == "Secret";
    if secret && !drift.read_secrets {
        return LiveRead::Failed(ReadFailure::SecretReadingDisabled);
    }
    if r.hook {
        // The engine settles a hook from Argo CD's entry alone. (An object to prune is read: its
        // `IgnoreExtraneous` annotation decides whether it counts against the app.)
        return LiveRead::Failed(ReadFailure::Other("not read".into()));
    }
    let cluster = match cluster {
        Ok(cluster) => cluster,
        Err(error) => return LiveRead::Failed(failure(error.clone())),
    };
    let read = cluster
        .get_as(
            LiveRef {
                group: &r.group,
                version: &r.version,
                kind: &r.kind,
                namespace: &r.namespace,
                name: &r.name,
            },
            fresh,
        )
        .await;
    match read {
        Ok(object) => match object.as_ref() {
            Some(object) => match object.parse() {
                Ok(object) => LiveRead::Found(object),
                Err(error) => LiveRead::Failed(failure(error)),
            },
            None => LiveRead::NotFound,
        },
        Err(error) => LiveRead::Failed(failure(error)),
    }
}

fn failure(error: ReadError) -> ReadFailure {
    match error {
        ReadError::SecretsDisabled => ReadFailure::SecretReadingDisabled,
        ReadError::KindUnknown { .. } | ReadError::Forbidden(_) => {
            ReadFailure::KindNotReadable(error.to_string())
        }
        ReadError::ClusterNotReadable(_)
        | ReadError::ClusterUnsupported { .. }
        | ReadError::Unreachable(_) => ReadFailure::ClusterUnreachable(error.to_string()),
        ReadError::NotFound => ReadFailure::Other(error.to_string()),
    }
}

/// Argo CD's managed resources for the app, when that source is configured and answers; a
/// failure is logged and the local record is used.
async fn managed_resources(drift: &Drift, app: &Application) -> Vec<ManagedResource> {
    let Some(api) = &drift.argocd else {
        return Vec::new();
    };
    match api
        .managed_resources(&app.key.namespace, &app.key.name)
        .await
    {
        Ok(items) => items
            .iter()
            .filter_map(|item| ManagedResource::from_api_item(item).ok())
            .collect(),
        Err(error) => {
            tracing::warn!(app = %app.key, %error, "cannot take Argo CD's verdict; using the local record");
            Vec::new()
        }
    }
}

/// One engine run's limits: its deadline (the total for the request) and the slot it holds.
struct Run {
    deadline: Instant,
    hold: Option<RequestPermit>,
}

/// Sets the run's cancellation flag when dropped: the handler's future was dropped (the request
/// timed out or its client went away) or the run is over.
struct CancelOnDrop(Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Why a run stopped before its last resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stopped {
    OverBudget,
    Cancelled,
}

/// When a run must stop, checked between resources and by the jq budget.
#[derive(Clone)]
struct StopWhen {
    deadline: Instant,
    cancelled: Arc<AtomicBool>,
}

impl StopWhen {
    fn check(&self) -> Result<(), Stopped> {
        if self.cancelled.load(Ordering::Relaxed) {
            Err(Stopped::Cancelled)
        } else if Instant::now() >= self.deadline {
            Err(Stopped::OverBudget)
        } else {
            Ok(())
        }
    }
}

/// Each jq expression's own time on each object, from when it starts (Argo CD's timeout), within
/// the run's total and while the request is wanted.
struct JqDeadline {
    timeout: Duration,
    deadline: Instant,
    run: StopWhen,
}

impl JqDeadline {
    fn new(timeout: Duration, run: StopWhen) -> Self {
        JqDeadline {
            timeout,
            deadline: Instant::now() + timeout,
            run,
        }
    }
}

impl drift_core::drift::jq::JqBudget for JqDeadline {
    fn start(&mut self) {
        self.deadline = Instant::now() + self.timeout;
    }

    fn exhausted(&mut self) -> bool {
        Instant::now() >= self.deadline || self.run.check().is_err()
    }

    fn interrupt(&self) -> Option<drift_core::drift::jq::Interrupt> {
        let deadline = self.deadline.min(self.run.deadline);
        let cancelled = Arc::clone(&self.run.cancelled);
        Some(Box::new(move || {
            cancelled.load(Ordering::Relaxed) || Instant::now() >= deadline
        }))
    }
}

/// Counts a run as running while it lives, and how it ended when dropped (a panic counts as
/// `panicked`).
struct Running {
    metrics: Option<Arc<Metrics>>,
    outcome: &'static str,
}

impl Running {
    fn start(metrics: Option<Arc<Metrics>>) -> Self {
        if let Some(m) = &metrics {
            m.engine_started();
        }
        Running {
            metrics,
            outcome: "panicked",
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(m) = &self.metrics {
            m.engine_ended(self.outcome);
        }
    }
}

/// Runs `each` over every resource on a blocking thread, until the run's deadline or until the
/// handler's future is dropped, whichever comes first. The handler waits for the blocking work
/// to stop (never abandons it), and the work holds the request's slot until then.
#[allow(clippy::too_many_arguments)]
async fn run_engine<T: Send + 'static>(
    drift: &Drift,
    run: Run,
    app: Arc<Application>,
    resources: Vec<ResourceStatus>,
    lives: Vec<LiveRead>,
    managed: Vec<ManagedResource>,
    each: impl Fn(&Inspector<'_>, &ResourceInput<'_>, &mut dyn drift_core::drift::jq::JqBudget) -> T
    + Send
    + 'static,
) -> Result<Vec<T>, ApiError> {
    let system = drift.system_settings();
    let jq = Arc::clone(&drift.jq);
    let read_secrets = drift.read_secrets;
    let jq_timeout = drift.jq_timeout;
    let metrics = drift.metrics.clone();
    let stop = StopWhen {
        deadline: run.deadline,
        cancelled: Arc::new(AtomicBool::new(false)),
    };
    let _cancel_on_drop = CancelOnDrop(Arc::clone(&stop.cancelled));
    let hold = run.hold;
    let work = tokio::task::spawn_blocking(move || {
        // Dropped when this returns (or unwinds), the slot first: once the run no longer counts
        // as running, its slot is free.
        let mut running = Running::start(metrics);
        let _hold = hold;
        let inspector = Inspector::for_app(&app, &system, &jq).with_secrets(read_secrets);
        let mut out = Vec::with_capacity(resources.len());
        let outcome = (|| {
            for (resource, live) in resources.iter().zip(lives) {
                stop.check()?;
                let input = ResourceInput {
                    resource,
                    live,
                    argocd: managed.iter().find(|m| m.is_for(resource)),
                };
                let mut budget = JqDeadline::new(jq_timeout, stop.clone());
                out.push(each(&inspector, &input, &mut budget));
            }
            // A rule cut short by the run's end was skipped: the last verdict is not to be trusted.
            stop.check()
        })();
        running.outcome = match outcome {
            Ok(()) => "done",
            Err(Stopped::OverBudget) => "over_budget",
            Err(Stopped::Cancelled) => "cancelled",
        };
        outcome.map(|()| out)
    });
    match work.await {
        Ok(Ok(verdicts)) => Ok(verdicts),
        Ok(Err(_stopped)) => Err(ApiError::Timeout),
        Err(join) => Err(ApiError::Internal(anyhow::anyhow!(
            "the drift engine failed: {join}"
        ))),
    }
}
