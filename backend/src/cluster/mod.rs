//! The only module that talks to Kubernetes; nothing outside it names a kube type.
//!
//! - [`Connection`]: the backend's own client (from `KUBECONFIG` or the pod's service account).
//! - [`watch`]: a generic list+watch loop feeding a sink, with deadlines, live-ness, 410
//!   relists, stale marking and backoff; [`apps`] uses it to keep the Application index.
//! - [`destinations`]: a handle per destination cluster, with cached discovery, to read an app's
//!   live objects one GET at a time.
//! - [`check`]: what `argocd-drift check` asks: access to Applications and the project's kinds
//!   (writes as dry runs), Argo CD's ConfigMaps and argocd-server's Deployment.
//! - [`own`]: the project's own custom resources (`argocd-drift.io`) in `POD_NAMESPACE`: reads,
//!   optimistic writes, and a watch into a plain-JSON sink.
//!
//! Requests never call the API server for Applications: they read the watch-fed index.

mod apps;
pub mod argocd_api;
mod argocd_cm;
pub mod check;
pub mod destinations;
pub mod discovery;
pub mod events;
pub mod live;
pub mod own;
mod read_error;
mod remote;
mod watch;

pub use argocd_api::{ArgoCdApi, ArgoCdApiConfig, ArgoCdApiError};
pub use check::{AppAccess, OwnAccess};
pub use destinations::Destinations;
pub use events::{AppEvent, Created, EventWriter};
pub use live::{Cluster, LiveObject, LiveRef, ReadLimits};
pub use own::{OwnKind, OwnResources, OwnSink, Stored, WriteError, Written};
pub use read_error::ReadError;
pub use watch::WatchTasks;

use crate::argocd_settings::ArgoCdSettings;
use crate::index::AppIndex;
use crate::metrics::Metrics;
use crate::readiness::Readiness;
use anyhow::Context;
use kube::config::{KubeConfigOptions, Kubeconfig};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// The backend's connection to the Kubernetes API server it runs against.
#[derive(Clone)]
pub struct Connection {
    client: kube::Client,
    /// The longest any call may take until it answers (`KUBE_REQUEST_TIMEOUT_SECONDS`).
    request_timeout: Duration,
}

impl Connection {
    /// A client from `KUBECONFIG` when given, otherwise in-cluster config (then
    /// `~/.kube/config`). Nothing is called yet.
    pub async fn new(
        kubeconfig: Option<&Path>,
        request_timeout: Duration,
    ) -> anyhow::Result<Connection> {
        let mut config = match kubeconfig {
            Some(path) => {
                let file = Kubeconfig::read_from(path)
                    .with_context(|| format!("reading KUBECONFIG {}", path.display()))?;
                kube::Config::from_custom_kubeconfig(file, &KubeConfigOptions::default())
                    .await
                    .with_context(|| format!("using KUBECONFIG {}", path.display()))?
            }
            None => kube::Config::infer().await.context(
                "no Kubernetes configuration: not running in a cluster and no KUBECONFIG",
            )?,
        };
        // Watches stay open for minutes; every call that can hang has its own deadline instead.
        config.read_timeout = None;
        let client = kube::Client::try_from(config).context("building the Kubernetes client")?;
        Ok(Connection {
            client,
            request_timeout,
        })
    }

    /// Starts the Application watches that feed `index`, one per scope, each a readiness source.
    pub fn watch_applications(
        &self,
        tasks: &mut WatchTasks,
        index: &AppIndex,
        readiness: &Readiness,
        metrics: &Arc<Metrics>,
    ) {
        apps::watch_applications(
            tasks,
            &self.client,
            index,
            readiness,
            metrics,
            self.request_timeout,
        );
    }

    /// One of the project's own kinds in `namespace` (`POD_NAMESPACE`).
    pub fn own(&self, kind: OwnKind, namespace: &str) -> OwnResources {
        OwnResources::new(self.client.clone(), kind, namespace, self.request_timeout)
    }

    /// Creates Events on Applications (drift episode edges).
    pub fn events(&self) -> EventWriter {
        EventWriter::new(self.client.clone(), self.request_timeout)
    }

    /// The clusters apps deploy to, for reading live objects: the one argocd-drift runs in, and
    /// with `remote_clusters` the ones Argo CD's cluster Secrets describe (start
    /// [`watch_cluster_secrets`](Self::watch_cluster_secrets) to learn them).
    pub fn destinations(&self, limits: ReadLimits, remote_clusters: bool) -> Destinations {
        Destinations::new(
            self.client.clone(),
            self.request_timeout,
            limits,
            remote_clusters,
        )
    }

    /// Watches Argo CD's `argocd-cm` in `namespace` into `settings`. A readiness source: drift
    /// verdicts depend on its ignore rules and compare options.
    pub fn watch_argocd_settings(
        &self,
        tasks: &mut WatchTasks,
        settings: &ArgoCdSettings,
        namespace: &str,
        readiness: &Readiness,
        metrics: &Arc<Metrics>,
    ) {
        let spec = watch::WatchSpec {
            resource: kube::api::ApiResource::erase::<k8s_openapi::api::core::v1::ConfigMap>(&()),
            namespace: Some(namespace.to_string()),
            label_selector: None,
            field_selector: Some(format!("metadata.name={}", argocd_cm::ARGOCD_CM)),
        };
        tasks.spawn_watch(
            &self.client,
            spec,
            argocd_cm::SettingsSink(settings.clone()),
            readiness.source(format!("Argo CD's settings ({namespace}/argocd-cm)")),
            Arc::clone(metrics),
            self.request_timeout,
        );
    }

    /// Watches Argo CD's cluster Secrets in `namespace` into `destinations` (no-op unless it was
    /// built with remote clusters on). A readiness source: apps on remote clusters cannot be
    /// inspected until they are known.
    pub fn watch_cluster_secrets(
        &self,
        tasks: &mut WatchTasks,
        destinations: &Destinations,
        namespace: &str,
        readiness: &Readiness,
        metrics: &Arc<Metrics>,
    ) {
        let Some(remote) = destinations.remote() else {
            return;
        };
        let spec = watch::WatchSpec {
            resource: kube::api::ApiResource::erase::<k8s_openapi::api::core::v1::Secret>(&()),
            namespace: Some(namespace.to_string()),
            label_selector: Some(remote::CLUSTER_SECRET_SELECTOR.to_string()),
            field_selector: None,
        };
        tasks.spawn_watch(
            &self.client,
            spec,
            remote.sink(),
            readiness.source(format!(
                "the first list of Argo CD cluster Secrets in namespace {namespace}"
            )),
            Arc::clone(metrics),
            self.request_timeout,
        );
    }
}

/// A Kubernetes error as one short line a person can read (and `/readyz` can show): the status
/// code and the API server's message, or the transport failure. Never a `Debug` dump.
pub fn describe(error: &kube::Error) -> String {
    match error {
        kube::Error::Api(status) => describe_status(status.code, &status.message),
        other => {
            // kube's Display of transport errors nests the cause chain; keep it on one line.
            let mut text = other.to_string();
            let mut source = std::error::Error::source(other);
            while let Some(cause) = source {
                let cause = cause.to_string();
                if !text.contains(&cause) {
                    text.push_str(": ");
                    text.push_str(&cause);
                }
                source = cause_source(source);
            }
            text
        }
    }
}

fn cause_source<'a>(
    error: Option<&'a (dyn std::error::Error + 'static)>,
) -> Option<&'a (dyn std::error::Error + 'static)> {
    error.and_then(std::error::Error::source)
}

/// The longest API server message repeated in an answer or a log line: a body that is not a
/// `Status` (a proxy's page, another object) becomes the message, and must not be passed on whole.
pub const MAX_STATUS_MESSAGE: usize = 256;

/// `403 Forbidden: <message>`, the message cut at [`MAX_STATUS_MESSAGE`] bytes.
pub fn describe_status(code: u16, message: &str) -> String {
    let reason = http::StatusCode::from_u16(code)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("");
    let mut cut = message.len().min(MAX_STATUS_MESSAGE);
    while !message.is_char_boundary(cut) {
        cut -= 1;
    }
    let ellipsis = if cut < message.len() { "…" } else { "" };
    format!("{code} {reason}: {}{ellipsis}", &message[..cut])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_errors_read_as_code_reason_and_message() {
        let error = kube::Error::Api(
            kube::core::Status::failure(
                "applications.argoproj.io is forbidden: User \"x\" cannot list resource \"applications\"",
                "Forbidden",
            )
            .with_code(403)
            .boxed(),
        );
        assert_eq!(
            describe(&error),
            "403 Forbidden: applications.argoproj.io is forbidden: User \"x\" cannot list resource \"applications\""
        );
    }

    #[test]
    fn a_long_message_is_cut_so_a_body_that_is_not_a_status_is_never_repeated_whole() {
        let body = format!("<html>{}é</html>", "x".repeat(MAX_STATUS_MESSAGE));
        let text = describe_status(502, &body);
        assert!(text.len() <= MAX_STATUS_MESSAGE + 32, "{text}");
        assert!(text.starts_with("502 Bad Gateway: <html>xx") && text.ends_with('…'));
    }
}
