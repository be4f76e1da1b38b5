//! argocd-drift: an Argo CD proxy-extension backend.
//!
//! ```text
//!  Argo CD UI ──▶ argocd-server proxy ──(shared secret + Argocd-* headers)──▶ API port
//!                                                                              │
//!   http::listener ─▶ http::endpoint (limits) ─▶ routes ─▶ http::gate ─▶ handlers
//!                                                                              │
//!                       index (watch-fed) ◀── cluster (the only kube code)     ▼
//!                                                 ▲                      drift_core (pure)
//!                                           kube-apiserver
//! ```
//!
//! `main` loads [`Config`] and calls [`run`]; tests call [`Server::bind`] then [`Server::serve`],
//! which is all `run` does, so they learn the ports they bound. Tests that need no socket build a
//! port's [`Endpoint`](http::endpoint::Endpoint) with [`routes::api`] and call it
//! in-process.
//!
//! `serve` spawns every long-lived task into one [`supervisor::Tasks`] set; the first to end
//! (or the first signal) starts the shutdown sequence (`drain`), and a task's end makes
//! `serve` return [`Fatal`] naming it.

pub mod argocd_settings;
pub mod cache;
pub mod check;
pub mod clock;
pub mod cluster;
pub mod config;
pub mod enrichment;
pub mod events;
pub mod handlers;
pub mod history;
pub mod http;
pub mod index;
pub mod metrics;
pub mod readiness;
pub mod reports;
pub mod routes;
pub mod shutdown;
pub mod slack;
pub mod supervisor;
pub mod telemetry;

pub use config::Config;
pub use shutdown::{Shutdown, Trigger};
pub use supervisor::Fatal;

use anyhow::Context;
use argocd_settings::ArgoCdSettings;
use cluster::{ArgoCdApi, Connection, Destinations};
use config::ProxyAuth;
use enrichment::Enrichment;
use handlers::drift::Drift;
use history::History;
use http::credentials::Credentials;
use http::endpoint::Endpoint;
use http::limits::Limits;
use http::listener::{ConnectionLimits, Port, PortSpec, Serving, Stops};
use http::reporters::ReporterAuth;
use index::AppIndex;
use metrics::Metrics;
use readiness::Readiness;
use reports::{DRIFT_REPORTS, ReportStore, ReportWriter, Timing};
use routes::{ApiDeps, ReportsDeps, ServiceRoutes};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use supervisor::{Faults, Tasks};
use tokio::sync::watch;

/// Each `jqPathExpressions` rule's time limit, Argo CD's default.
const JQ_TIMEOUT: Duration = Duration::from_secs(1);

/// Loads nothing, binds every port, serves until shut down.
pub async fn run(config: Config, shutdown: Shutdown) -> anyhow::Result<()> {
    Server::bind(config).await?.serve(shutdown).await
}

/// A bound, not yet serving, argocd-drift.
pub struct Server {
    ports: Vec<Port>,
    connection: Connection,
    index: AppIndex,
    settings: ArgoCdSettings,
    destinations: Destinations,
    argocd_namespace: String,
    history: History,
    pod_namespace: String,
    readiness: Readiness,
    metrics: Arc<Metrics>,
    /// The accepted proxy tokens, `PROXY_TOKEN_FILE`, how often to re-read it, and the rotation
    /// grace period.
    token_reload: Option<(Arc<Credentials>, PathBuf, Duration, Duration)>,
    shutdown_delay: Duration,
    shutdown_timeout: Duration,
    shutting_down: watch::Sender<bool>,
    reports: ReportsRuntime,
    enrichment: Option<Enrichment>,
    events_enabled: bool,
    /// The test hook that makes supervised tasks fail; `None` unless a test asked for it.
    faults: Option<Faults>,
}

/// The external reports' moving parts, started by [`Server::serve`].
struct ReportsRuntime {
    store: ReportStore,
    writer: ReportWriter,
    own: cluster::OwnResources,
    timing: Timing,
    auth: Arc<ReporterAuth>,
    /// How often to re-read the token files, when there are any.
    reload_every: Option<Duration>,
}

impl Server {
    /// Validates the configuration, builds the Kubernetes client and binds every port.
    pub async fn bind(config: Config) -> anyhow::Result<Server> {
        config.validate_settings()?;
        let proxy_auth = config.proxy_auth()?;
        let Config {
            bind_address,
            port,
            service_port,
            argocd_namespaces,
            kubeconfig,
            max_request_body_bytes,
            max_concurrent_requests,
            max_connections,
            proxy_token_file,
            proxy_token_reload_seconds,
            proxy_token_rotation_grace_seconds,
            argocd_control_plane_namespace,
            drift_remote_clusters,
            drift_read_secrets,
            pod_namespace,
            reports_port,
            reports_tokens_path,
            reports_read_tokens_file,
            reports_tokens_reload_seconds,
            reports_insecure_no_auth,
            ..
        } = &config;

        if matches!(proxy_auth, ProxyAuth::Disabled) {
            tracing::warn!(
                "INSECURE_NO_PROXY_TOKEN is set: any client that reaches the API port is trusted"
            );
        }
        let connection =
            Connection::new(kubeconfig.as_deref(), config.kube_request_timeout()).await?;
        let index = AppIndex::new(argocd_namespaces.scopes());
        let settings = ArgoCdSettings::new();
        let destinations = connection.destinations(config.read_limits(), *drift_remote_clusters);
        let readiness = Readiness::new();
        let metrics = Arc::new(Metrics::new());
        let history = History::new(config.history(), Arc::clone(&metrics));
        index.report_turns(history.turns());
        let (shutting_down, shutting_down_rx) = watch::channel(false);
        let connections = ConnectionLimits {
            header_read_timeout: config.header_read_timeout(),
            write_timeout: config.write_timeout(),
            max_connections: max_connections.get(),
            max_per_peer: config.max_connections_per_peer.get(),
        };
        let limits = |max_concurrent: usize| {
            Limits::new(
                max_concurrent,
                max_request_body_bytes.get(),
                config.request_timeout(),
            )
        };

        let new_drift = || -> anyhow::Result<Drift> {
            Ok(Drift::new(
                destinations.clone(),
                settings.clone(),
                config.argocd_api()?.map(ArgoCdApi::new),
                *drift_read_secrets,
                config.request_timeout(),
                JQ_TIMEOUT,
            )
            .with_metrics(Arc::clone(&metrics)))
        };
        let drift = new_drift()?;
        // Episodes are enriched by a background pass with its own engine: requests never write.
        let enrichment = match config.history_enrich_every() {
            Some(every) => Some(Enrichment {
                history: history.clone(),
                index: index.clone(),
                drift: new_drift()?,
                every,
            }),
            None => None,
        };
        let timing = config.report_timing();
        let report_store = ReportStore::new(timing, Some(index.clone()));
        report_store.count_held(&metrics);
        destinations.count_held(&metrics);
        let report_auth = Arc::new(
            ReporterAuth::load(
                reports_tokens_path.as_deref(),
                reports_read_tokens_file.as_deref(),
                *reports_insecure_no_auth,
            )
            .context("reading REPORTS_TOKENS_PATH / REPORTS_READ_TOKENS_FILE")?,
        );
        if *reports_insecure_no_auth {
            tracing::warn!(
                "REPORTS_INSECURE_NO_AUTH is set: anyone who reaches the reports port may send and delete reports"
            );
        } else if report_auth.reporter_count() == 0 {
            tracing::warn!(
                "no reporter tokens (REPORTS_TOKENS_PATH): every report will be refused with 401"
            );
        }
        let own_reports = connection.own(DRIFT_REPORTS, pod_namespace);
        let report_writer = ReportWriter::new(
            report_store.clone(),
            own_reports.clone(),
            Arc::clone(&metrics),
        )
        .with_limits(config.report_limits());

        let api = routes::api(ApiDeps {
            proxy_auth,
            index: index.clone(),
            limits: limits(max_concurrent_requests.get()),
            metrics: Arc::clone(&metrics),
            reconcile_stale_after: config.reconcile_stale_after(),
            drift,
            history: history.clone(),
            reports: report_store.clone(),
        });
        let reports = routes::reports(ReportsDeps {
            auth: Arc::clone(&report_auth),
            writer: report_writer.clone(),
            history: history.clone(),
            index: index.clone(),
            limits: limits(max_concurrent_requests.get()),
            metrics: Arc::clone(&metrics),
        });
        let credentials = api.routes().gate.credentials();
        let service = Endpoint::new(
            ServiceRoutes {
                readiness: readiness.clone(),
                metrics: Arc::clone(&metrics),
                shutting_down: shutting_down_rx,
            },
            // Probes and scrapes are few; the cap only bounds a misbehaving client.
            limits(max_concurrent_requests.get()),
            Arc::clone(&metrics),
        );

        // The ports, one row each: what serves there, the setting that numbers it, and when it
        // stops during a shutdown.
        let rows = [
            PortSpec::new("api", "PORT", *port, Stops::First, api),
            PortSpec::new(
                "reports",
                "REPORTS_PORT",
                *reports_port,
                Stops::First,
                reports,
            ),
            // Probes and metrics answer until the other ports have drained.
            PortSpec::new(
                "service",
                "SERVICE_PORT",
                *service_port,
                Stops::Last,
                service,
            ),
        ];
        let mut ports = Vec::with_capacity(rows.len());
        for spec in rows {
            ports.push(Port::bind(*bind_address, spec, connections, Arc::clone(&metrics)).await?);
        }

        let token_reload = match (proxy_token_file, credentials) {
            (Some(path), Some(credentials)) => Some((
                credentials,
                path.clone(),
                Duration::from_secs(proxy_token_reload_seconds.get()),
                Duration::from_secs(*proxy_token_rotation_grace_seconds),
            )),
            _ => None,
        };
        Ok(Server {
            ports,
            connection,
            index,
            settings,
            destinations,
            argocd_namespace: argocd_control_plane_namespace.clone(),
            history,
            pod_namespace: pod_namespace.clone(),
            readiness,
            metrics,
            token_reload,
            shutdown_delay: config.shutdown_delay(),
            shutdown_timeout: config.shutdown_timeout(),
            shutting_down,
            reports: ReportsRuntime {
                store: report_store,
                writer: report_writer,
                own: own_reports,
                timing,
                reload_every: (reports_tokens_path.is_some() || reports_read_tokens_file.is_some())
                    .then(|| Duration::from_secs(reports_tokens_reload_seconds.get())),
                auth: report_auth,
            },
            enrichment,
            events_enabled: config.events_enabled,
            faults: None,
        })
    }

    /// A test hook: the returned handle makes supervised tasks fail (see [`supervisor`]).
    #[doc(hidden)]
    pub fn faults(&mut self) -> Faults {
        self.faults.get_or_insert_with(Faults::default).clone()
    }

    /// The address a port is bound to: `api`, `service`.
    pub fn addr(&self, port: &str) -> anyhow::Result<SocketAddr> {
        let port = self
            .ports
            .iter()
            .find(|p| p.name == port)
            .with_context(|| format!("no port named {port}"))?;
        Ok(port.local_addr()?)
    }

    pub fn api_addr(&self) -> anyhow::Result<SocketAddr> {
        self.addr("api")
    }

    pub fn service_addr(&self) -> anyhow::Result<SocketAddr> {
        self.addr("service")
    }

    pub fn reports_addr(&self) -> anyhow::Result<SocketAddr> {
        self.addr("reports")
    }

    /// Serves until the first shutdown signal, then: readiness turns false, the API keeps serving
    /// for `SHUTDOWN_DELAY_SECONDS` (endpoints take a moment to drop the pod), then stops
    /// accepting and gives in-flight requests `SHUTDOWN_TIMEOUT_SECONDS` to finish. A second
    /// signal at any point cuts it short. A supervised task that ends starts the same sequence
    /// and makes it return [`Fatal`] naming the task.
    pub async fn serve(self, mut shutdown: Shutdown) -> anyhow::Result<()> {
        let Server {
            ports,
            connection,
            index,
            settings,
            destinations,
            argocd_namespace,
            history,
            pod_namespace,
            readiness,
            metrics,
            token_reload,
            shutdown_delay,
            shutdown_timeout,
            shutting_down,
            reports,
            enrichment,
            events_enabled,
            faults,
        } = self;
        let addresses: Vec<String> = ports
            .iter()
            .map(|p| {
                format!(
                    "{}={}",
                    p.name,
                    p.local_addr().map_or("?".into(), |a| a.to_string())
                )
            })
            .collect();
        tracing::info!(
            ports = %addresses.join(" "),
            scopes = ?index.scopes().iter().map(|s| s.label().to_string()).collect::<Vec<_>>(),
            "argocd-drift serving",
        );

        // Every long-lived task, in one supervised set.
        let mut tasks = Tasks::new(Arc::clone(&metrics), faults);
        connection.watch_applications(&mut tasks, &index, &readiness, &metrics);
        connection.watch_argocd_settings(
            &mut tasks,
            &settings,
            &argocd_namespace,
            &readiness,
            &metrics,
        );
        connection.watch_cluster_secrets(
            &mut tasks,
            &destinations,
            &argocd_namespace,
            &readiness,
            &metrics,
        );
        // Drift history: the records in POD_NAMESPACE (a readiness source: `since` and the
        // history answer come from them), and the task that writes what the index sees.
        let records = connection.own(history::KIND, &pod_namespace);
        records.watch(
            &mut tasks,
            history.sink(),
            readiness.source(format!(
                "the first list of drift histories in namespace {pod_namespace}"
            )),
            &metrics,
        );
        // Kubernetes Events at the episode edges this replica's writes store (EVENTS_ENABLED).
        if events_enabled {
            let (emitter, task) =
                events::Emitter::new(connection.events(), index.clone(), Arc::clone(&metrics));
            history.on_edges(emitter);
            tasks.spawn("events", task);
        }
        tasks.spawn("history recorder", history.run(records, index.clone()));
        if let Some(enrichment) = enrichment {
            tasks.spawn("history enrichment", enrichment.run());
        }
        reports.own.watch(
            &mut tasks,
            reports.store.clone(),
            readiness.source(format!(
                "the first list of driftreports in namespace {}",
                reports.own.namespace()
            )),
            &metrics,
        );
        tasks.spawn(
            "report maintenance",
            reports.writer.clone().maintain(reports.timing),
        );
        if let Some(every) = reports.reload_every {
            tasks.spawn(
                "reporter token reload",
                http::reporters::reload_periodically(
                    Arc::clone(&reports.auth),
                    every,
                    Arc::clone(&metrics),
                ),
            );
        }
        if let Some((credentials, path, every, grace)) = token_reload {
            tasks.spawn(
                "proxy token reload",
                http::credentials::reload_from_file(path, credentials, every, grace),
            );
        }
        let serving: Vec<Serving> = ports.into_iter().map(|p| p.serve(&mut tasks)).collect();
        tracing::debug!(tasks = ?tasks.names(), "supervising");

        // Serve until the first signal, or until a task ends (a bug: its work would silently
        // stop while the pod looks healthy, so stop and let Kubernetes restart it).
        let fatal = tokio::select! {
            _ = shutdown.next() => None,
            fatal = tasks.ended() => Some(fatal),
        };
        let drained = drain(
            serving,
            &shutting_down,
            &mut shutdown,
            shutdown_delay,
            shutdown_timeout,
            fatal.is_some(),
        )
        .await;
        // Every port is closed. Acknowledged changes and heartbeats not yet written: write them
        // now rather than lose them, while the watches still keep the store current. A pass
        // that meets a conflict (another replica wrote the report) has re-read it: try again.
        let flushed = tokio::time::timeout(Duration::from_secs(5), async {
            while reports.writer.flush_heartbeats().await > 0 {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
        .await;
        if flushed.is_err() {
            tracing::warn!("shutting down with acknowledged reports not written");
        }
        tasks.shutdown().await;
        drained?;
        if let Some(fatal) = fatal {
            return Err(fatal.into());
        }
        tracing::info!("argocd-drift stopped");
        Ok(())
    }
}

/// The shutdown sequence, once serving has stopped (a signal, or a task ended: `fatal`):
/// readiness turns false at once; the ports keep serving for `delay` while Kubernetes takes the
/// pod out of its endpoints (a signal ends that wait early when `fatal`, and aborts otherwise);
/// then the [`Stops::First`] ports stop accepting and drain for up to `timeout` while probes and
/// metrics still answer, and the [`Stops::Last`] ports stop.
async fn drain(
    serving: Vec<Serving>,
    shutting_down: &watch::Sender<bool>,
    shutdown: &mut Shutdown,
    delay: Duration,
    timeout: Duration,
    fatal: bool,
) -> Result<(), Fatal> {
    shutting_down.send_replace(true);
    if !delay.is_zero() {
        tracing::info!(
            delay_s = delay.as_secs(),
            "shutting down: not ready; still serving while endpoints update"
        );
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = shutdown.next() => if !fatal {
                return Err(Fatal::Aborted);
            },
        }
    }
    tracing::info!(
        deadline_s = timeout.as_secs(),
        "shutting down: draining in-flight requests"
    );
    let (first, last): (Vec<_>, Vec<_>) =
        serving.into_iter().partition(|p| p.stops == Stops::First);
    let mut draining = Vec::new();
    for port in first {
        match port.stop().await {
            Ok(connections) => draining.push(connections),
            // Its accept loop is the task that ended: nothing left to drain there.
            Err(error) => tracing::warn!(%error, "a port could not be drained"),
        }
    }
    let drained = tokio::select! {
        cut = futures::future::join_all(draining.into_iter().map(|c| c.drain(timeout))) => {
            let cut: usize = cut.into_iter().sum();
            if cut > 0 {
                tracing::warn!(connections = cut, "shutdown deadline passed; cut the remaining connections");
            }
            Ok(())
        }
        _ = shutdown.next() => Err(Fatal::Aborted),
    };
    for port in last {
        // Probes and scrapes are short; a slow scraper must not hold the exit.
        match port.stop().await {
            Ok(connections) => {
                connections.drain(Duration::from_secs(1)).await;
            }
            Err(error) => tracing::warn!(%error, "a port could not be drained"),
        }
    }
    drained
}
