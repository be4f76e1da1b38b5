//! argocd-drift: an Argo CD proxy-extension backend.
//!
//! ```text
//!  Argo CD UI ──▶ argocd-server proxy ──(shared secret + Argocd-* headers)──▶ API port
//!                                                                              │
//!        http::routes ─▶ http::gate (trust boundary) ─▶ handlers ─▶ drift_core (pure)
//!                                         │
//!                                         ▼ reads, never calls the API server
//!                                      index ◀── cluster (list+watch Applications) ◀── kube-apiserver
//! ```
//!
//! `main` loads [`Config`] and calls [`run`]; tests call [`Server::bind`] then [`Server::serve`],
//! which is all `run` does, so they learn the ports they bound.

pub mod clock;
pub mod cluster;
pub mod config;
pub mod handlers;
pub mod http;
pub mod index;
pub mod metrics;
pub mod shutdown;
pub mod telemetry;

pub use config::Config;
pub use shutdown::{Shutdown, Trigger};

use anyhow::Context;
use config::ProxyAuth;
use http::gate::Gate;
use http::limits::Limits;
use http::routes::{Api, Service};
use http::server::accept_loop;
use index::AppIndex;
use metrics::Metrics;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Loads nothing, binds both ports, serves until shut down.
pub async fn run(config: Config, shutdown: Shutdown) -> anyhow::Result<()> {
    Server::bind(config).await?.serve(shutdown).await
}

/// A bound, not yet serving, argocd-drift.
pub struct Server {
    api_listener: TcpListener,
    service_listener: TcpListener,
    kube: kube::Client,
    api: Arc<Api>,
    service: Arc<Service>,
    index: AppIndex,
    metrics: Arc<Metrics>,
    header_read_timeout: Duration,
    /// `PROXY_TOKEN_FILE`, how often to re-read it, and the rotation grace period.
    token_file: Option<(PathBuf, Duration, Duration)>,
    kube_request_timeout: Duration,
    shutdown_delay: Duration,
    shutdown_timeout: Duration,
    shutting_down: watch::Sender<bool>,
}

/// How serving ended when it did not end cleanly.
#[derive(Debug, thiserror::Error)]
pub enum ShutdownError {
    #[error("a second shutdown signal arrived; in-flight requests were cut short")]
    Aborted,
}

impl Server {
    /// Validates the configuration, builds the Kubernetes client and binds both ports.
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
            ..
        } = &config;

        if matches!(proxy_auth, ProxyAuth::Disabled) {
            tracing::warn!(
                "INSECURE_NO_PROXY_TOKEN is set: any client that reaches the API port is trusted"
            );
        }
        let kube = cluster::client(kubeconfig.as_deref()).await?;
        let api_listener = TcpListener::bind((*bind_address, *port))
            .await
            .with_context(|| format!("binding the API port {bind_address}:{port} (PORT)"))?;
        let service_listener = TcpListener::bind((*bind_address, *service_port))
            .await
            .with_context(|| {
                format!("binding the service port {bind_address}:{service_port} (SERVICE_PORT)")
            })?;

        let index = AppIndex::new(argocd_namespaces.scopes());
        let metrics = Arc::new(Metrics::new());
        let (shutting_down, shutting_down_rx) = watch::channel(false);
        let api = Arc::new(Api {
            gate: Gate::new(proxy_auth, index.clone()),
            limits: Limits::new(
                max_concurrent_requests.get(),
                max_request_body_bytes.get(),
                config.request_timeout(),
            ),
            metrics: Arc::clone(&metrics),
            reconcile_stale_after: config.reconcile_stale_after(),
        });
        let service = Arc::new(Service {
            index: index.clone(),
            metrics: Arc::clone(&metrics),
            max_body_bytes: max_request_body_bytes.get(),
            shutting_down: shutting_down_rx,
        });
        Ok(Server {
            api_listener,
            service_listener,
            kube,
            api,
            service,
            index,
            metrics,
            header_read_timeout: config.header_read_timeout(),
            token_file: config.proxy_token_file.clone().map(|path| {
                (
                    path,
                    Duration::from_secs(config.proxy_token_reload_seconds.get()),
                    Duration::from_secs(config.proxy_token_rotation_grace_seconds),
                )
            }),
            kube_request_timeout: config.kube_request_timeout(),
            shutdown_delay: config.shutdown_delay(),
            shutdown_timeout: config.shutdown_timeout(),
            shutting_down,
        })
    }

    pub fn api_addr(&self) -> anyhow::Result<SocketAddr> {
        Ok(self.api_listener.local_addr()?)
    }

    pub fn service_addr(&self) -> anyhow::Result<SocketAddr> {
        Ok(self.service_listener.local_addr()?)
    }

    /// Serves until the first shutdown signal, then: readiness turns false, the API keeps serving
    /// for `SHUTDOWN_DELAY_SECONDS` (endpoints take a moment to drop the pod), then stops
    /// accepting and gives in-flight requests `SHUTDOWN_TIMEOUT_SECONDS` to finish. A second
    /// signal at any point cuts it short.
    pub async fn serve(self, mut shutdown: Shutdown) -> anyhow::Result<()> {
        let Server {
            api_listener,
            service_listener,
            kube,
            api,
            service,
            index,
            metrics,
            header_read_timeout,
            token_file,
            kube_request_timeout,
            shutdown_delay,
            shutdown_timeout,
            shutting_down,
        } = self;
        tracing::info!(
            api = %api_listener.local_addr()?,
            service = %service_listener.local_addr()?,
            scopes = ?index.scopes().iter().map(|s| s.label().to_string()).collect::<Vec<_>>(),
            "argocd-drift serving",
        );
        let mut watches = cluster::spawn_app_watches(kube, index, metrics, kube_request_timeout);
        let token_reload = match (token_file, api.gate.credentials()) {
            (Some((path, every, grace)), Some(credentials)) => Some(tokio::spawn(
                http::credentials::reload_from_file(path, credentials, every, grace),
            )),
            _ => None,
        };

        let (stop_api, stop_api_rx) = watch::channel(false);
        let (stop_service, stop_service_rx) = watch::channel(false);
        let api_loop = tokio::spawn(accept_loop(
            "api",
            api_listener,
            api,
            header_read_timeout,
            stop_api_rx,
        ));
        let service_loop = tokio::spawn(accept_loop(
            "service",
            service_listener,
            service,
            header_read_timeout,
            stop_service_rx,
        ));

        // Serve until the first signal, or until a watch dies (a bug: its scope would freeze
        // while looking fresh, so stop and let Kubernetes restart the pod).
        let fatal = tokio::select! {
            _ = shutdown.next() => None,
            why = watches.ended() => {
                tracing::error!(%why, "stopping: an application watch is no longer running");
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
        stop_api.send_replace(true);
        let api_connections = api_loop.await.context("the API accept loop panicked")?;

        // The service port keeps answering (readiness: false) while the API drains.
        let drained = tokio::select! {
            cut = api_connections.drain(shutdown_timeout) => {
                if cut > 0 {
                    tracing::warn!(connections = cut, "shutdown deadline passed; cut the remaining API connections");
                }
                Ok(())
            }
            _ = shutdown.next() => Err(ShutdownError::Aborted),
        };
        stop_service.send_replace(true);
        let service_connections = service_loop
            .await
            .context("the service accept loop panicked")?;
        // Probes and scrapes are short; a slow scraper must not hold the exit.
        service_connections.drain(Duration::from_secs(1)).await;
        drop(watches);
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
