//! The only module that talks to Kubernetes.
//!
//! It builds the client and runs the watches that feed the in-memory index; nothing else in the
//! crate imports `kube`. Requests never reach the API server: they read the index.

mod apps;

pub use apps::{WatchTasks, spawn_app_watches};

use anyhow::Context;
use kube::config::{KubeConfigOptions, Kubeconfig};
use std::path::Path;

/// A client from `KUBECONFIG` when given, otherwise in-cluster config (then `~/.kube/config`).
pub async fn client(kubeconfig: Option<&Path>) -> anyhow::Result<kube::Client> {
    let mut config = match kubeconfig {
        Some(path) => {
            let file = Kubeconfig::read_from(path)
                .with_context(|| format!("reading KUBECONFIG {}", path.display()))?;
            kube::Config::from_custom_kubeconfig(file, &KubeConfigOptions::default())
                .await
                .with_context(|| format!("using KUBECONFIG {}", path.display()))?
        }
        None => kube::Config::infer()
            .await
            .context("no Kubernetes configuration: not running in a cluster and no KUBECONFIG")?,
    };
    // Watches stay open for minutes; every call that can hang has its own deadline instead.
    config.read_timeout = None;
    kube::Client::try_from(config).context("building the Kubernetes client")
}
