//! argocd-drift: an Argo CD proxy-extension backend.
//!
//! ```text
//!  Argo CD UI ──▶ argocd-server proxy ──(shared secret + Argocd-* headers)──▶ API port
//!                                                                              │
//!   http::listener ─▶ http::endpoint (limits) ─▶ http::routes ─▶ http::gate ─▶ handlers
//!                                                                              │
//!                       index (watch-fed) ◀── cluster (the only kube code)     ▼
//!                                                 ▲                      drift_core (pure)
//!                                           kube-apiserver
//! ```
//!
//! `main` loads [`Config`] and calls [`run`]; tests call [`Server::bind`] then [`Server::serve`],
//! which is all `run` does, so they learn the ports they bound. Tests that need no socket build a
//! port's [`Endpoint`](http::endpoint::Endpoint) with [`http::routes::api`] and call it
//! in-process.

pub mod argocd_settings;
pub mod cache;
pub mod check;
pub mod clock;
pub mod cluster;
pub mod config;
pub mod enrichment;
pub mod handlers;
pub mod history;
pub mod http;
pub mod index;
pub mod metrics;
pub mod readiness;
pub mod reports;
pub mod shutdown;
pub mod telemetry;

pub use config::Config;
pub use shutdown::{Shutdown, Trigger};

use anyhow::Context;
use argocd_settings::ArgoCdSettings;
use cluster::{ArgoCdApi, Connection, Destinations, WatchTasks};
use config::ProxyAuth;
use enrichment::Enrichment;
use handlers::drift::Drift;
use history::History;
use http::credentials::Credentials;
use http::endpoint::Endpoint;
use http::limits::Limits;
use http::listener::{ConnectionLimits, Port, Stops};
use http::reporters::ReporterAuth;
use http::routes::{ApiDeps, ReportsDeps, ServiceRoutes};
use index::AppIndex;
use metrics::Metrics;
use readiness::Readiness;
use reports::{DRIFT_REPORTS, ReportStore, ReportWriter, Timing};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
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

/// A background task that ends with its owner, however the owner ends (a dropped `serve`
/// included).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// How serving ended when it did not end cleanly.
#[derive(Debug, thiserror::Error)]
pub enum ShutdownError {
    #[error("a second shutdown signal arrived; in-flight requests were cut short")]
    Aborted,
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

        let api = http::routes::api(ApiDeps {
            proxy_auth,
            index: index.clone(),
            limits: limits(max_concurrent_requests.get()),
            metrics: Arc::clone(&metrics),
            reconcile_stale_after: config.reconcile_stale_after(),
            drift,
            history: history.clone(),
            reports: report_store.clone(),
        });
        let reports_port_endpoint = http::routes::reports(ReportsDeps {
            auth: Arc::clone(&report_auth),
            writer: report_writer.clone(),
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

        let at = |port: u16| SocketAddr::new(*bind_address, port);
        let ports = vec![
            Port::bind(
                "api",
                at(*port),
                api,
                connections,
                Arc::clone(&metrics),
                Stops::First,
            )
            .await
            .with_context(|| format!("binding the API port {} (PORT)", at(*port)))?,
            Port::bind(
                "reports",
                at(*reports_port),
                reports_port_endpoint,
                connections,
                Arc::clone(&metrics),
                Stops::First,
            )
            .await
            .with_context(|| {
                format!(
                    "binding the reports port {} (REPORTS_PORT)",
                    at(*reports_port)
                )
            })?,
            Port::bind(
                "service",
                at(*service_port),
                service,
                connections,
                Arc::clone(&metrics),
                Stops::Last,
            )
            .await
            .with_context(|| {
                format!(
                    "binding the service port {} (SERVICE_PORT)",
                    at(*service_port)
                )
            })?,
        ];

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
        })
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
    /// signal at any point cuts it short.
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
        let mut watches = WatchTasks::new();
        connection.watch_applications(&mut watches, &index, &readiness, &metrics);
        connection.watch_argocd_settings(
            &mut watches,
            &settings,
            &argocd_namespace,
            &readiness,
            &metrics,
        );
        connection.watch_cluster_secrets(
            &mut watches,
            &destinations,
            &argocd_namespace,
            &readiness,
            &metrics,
        );
        // Drift history: the records in POD_NAMESPACE (a readiness source: `since` and the
        // history answer come from them), and the task that writes what the index sees.
        let records = connection.own(history::KIND, &pod_namespace);
        records.watch(
            &mut watches,
            history.sink(),
            readiness.source(format!(
                "the first list of drift histories in namespace {pod_namespace}"
            )),
            &metrics,
        );
        let mut recorder = tokio::spawn(history.run(records, index.clone()));
        let _enrichment = enrichment.map(|e| AbortOnDrop(tokio::spawn(e.run())));
        reports.own.watch(
            &mut watches,
            reports.store.clone(),
            readiness.source(format!(
                "the first list of driftreports in namespace {}",
                reports.own.namespace()
            )),
            &metrics,
        );
        let report_tasks = [
            Some(AbortOnDrop(tokio::spawn(
                reports.writer.clone().maintain(reports.timing),
            ))),
            reports.reload_every.map(|every| {
                AbortOnDrop(tokio::spawn(http::reporters::reload_periodically(
                    Arc::clone(&reports.auth),
                    every,
                    Arc::clone(&metrics),
                )))
            }),
        ];
        let token_reload = token_reload.map(|(credentials, path, every, grace)| {
            tokio::spawn(http::credentials::reload_from_file(
                path,
                credentials,
                every,
                grace,
            ))
        });
        let (first, last): (Vec<_>, Vec<_>) = ports
            .into_iter()
            .map(Port::serve)
            .partition(|p| p.stops == Stops::First);

        // Serve until the first signal, or until a watch dies (a bug: its data would freeze
        // while looking fresh, so stop and let Kubernetes restart the pod).
        let fatal = tokio::select! {
            _ = shutdown.next() => None,
            why = watches.ended() => {
                tracing::error!(%why, "stopping: a watch is no longer running");
                Some(why)
            }
            ended = &mut recorder => {
                let why = format!("the drift history recorder stopped: {ended:?}");
                tracing::error!(%why, "stopping");
                Some(why)
            }
        };

        // Readiness turns false at once; the API keeps serving while Kubernetes takes the pod
        // out of the endpoints argocd-server connects to, then stops accepting and drains.
        shutting_down.send_replace(true);
        if fatal.is_none() && !shutdown_delay.is_zero() {
            tracing::info!(
                delay_s = shutdown_delay.as_secs(),
                "shutting down: not ready; still serving while endpoints update"
            );
            tokio::select! {
                _ = tokio::time::sleep(shutdown_delay) => {}
                _ = shutdown.next() => return Err(ShutdownError::Aborted.into()),
            }
        }
        tracing::info!(
            deadline_s = shutdown_timeout.as_secs(),
            "shutting down: draining in-flight requests"
        );
        let mut draining = Vec::new();
        for port in first {
            draining.push(port.stop().await?);
        }
        // The last ports (probes, metrics) keep answering — readiness: false — meanwhile.
        let drained = tokio::select! {
            cut = futures::future::join_all(draining.into_iter().map(|c| c.drain(shutdown_timeout))) => {
                let cut: usize = cut.into_iter().sum();
                if cut > 0 {
                    tracing::warn!(connections = cut, "shutdown deadline passed; cut the remaining connections");
                }
                Ok(())
            }
            _ = shutdown.next() => Err(ShutdownError::Aborted),
        };
        for port in last {
            // Probes and scrapes are short; a slow scraper must not hold the exit.
            port.stop().await?.drain(Duration::from_secs(1)).await;
        }
        // Heartbeats acknowledged but not yet written: write them now rather than lose them.
        drop(report_tasks);
        let left =
            tokio::time::timeout(Duration::from_secs(5), reports.writer.flush_heartbeats()).await;
        if !matches!(left, Ok(0)) {
            tracing::warn!("shutting down with report heartbeats not written");
        }
        drop(watches);
        recorder.abort();
        if let Some(task) = token_reload {
            task.abort();
        }
        drained?;
        if let Some(why) = fatal {
            anyhow::bail!(why);
        }
        tracing::info!("argocd-drift stopped");
        Ok(())
    }
}
