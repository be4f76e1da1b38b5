//! Remote destination clusters, from Argo CD's own cluster Secrets.
//!
//! Argo CD keeps each cluster it deploys to as a Secret in its namespace labelled
//! `argocd.argoproj.io/secret-type: cluster`, with keys `name`, `server` and `config` (JSON:
//! `bearerToken`, `username`/`password`, `tlsClientConfig {caData, certData, keyData, insecure,
//! serverName}`, `awsAuthConfig`, `execProviderConfig`). With `DRIFT_REMOTE_CLUSTERS` on,
//! argocd-drift watches those Secrets and keeps a client per cluster, so an app deployed there
//! has its live objects read with the credentials Argo CD itself uses.
//!
//! Exec plugins and AWS IAM authentication need external binaries: such a cluster is kept as
//! *unsupported*, with the reason, and its apps' resources say so. Nothing from these Secrets is
//! ever logged but the Secret's name, the cluster's name and its server URL.

use super::live::{Cluster, Shared};
use super::read_error::ReadError;
use super::watch::Sink;
use base64::Engine;
use jiff::Timestamp;
use kube::api::DynamicObject;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// The label Argo CD puts on cluster Secrets.
pub const CLUSTER_SECRET_SELECTOR: &str = "argocd.argoproj.io/secret-type=cluster";

/// The remote clusters known from Argo CD's cluster Secrets. Cheap to clone.
#[derive(Clone)]
pub struct RemoteClusters {
    inner: Arc<RwLock<Registry>>,
    shared: Arc<Shared>,
}

#[derive(Default)]
struct Registry {
    /// Secret name → what it describes.
    by_secret: HashMap<String, Known>,
}

#[derive(Clone)]
struct Known {
    name: Option<String>,
    server: String,
    /// The client, or why there is none.
    cluster: Result<Cluster, String>,
}

impl RemoteClusters {
    pub(super) fn new(shared: Arc<Shared>) -> Self {
        RemoteClusters {
            inner: Arc::new(RwLock::new(Registry::default())),
            shared,
        }
    }

    /// The cluster with this server URL (or, without one, this name); `None` if unknown.
    pub(super) fn cluster(
        &self,
        server: Option<&str>,
        name: Option<&str>,
    ) -> Option<Result<Cluster, ReadError>> {
        let registry = self.read();
        let known = registry.by_secret.values().find(|k| match (server, name) {
            (Some(server), _) => k.server == server,
            (None, Some(name)) => k.name.as_deref() == Some(name),
            (None, None) => false,
        })?;
        Some(
            known
                .cluster
                .clone()
                .map_err(|why| ReadError::ClusterUnsupported {
                    server: known.server.clone(),
                    why,
                }),
        )
    }

    /// Counts the clusters known (for the metrics), while the registry lives.
    pub(super) fn counter(&self) -> impl Fn() -> Option<usize> + Send + Sync + 'static {
        let inner = Arc::downgrade(&self.inner);
        move || {
            let inner = inner.upgrade()?;
            let n = inner
                .read()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .by_secret
                .len();
            Some(n)
        }
    }

    /// The watch sink that keeps the registry.
    pub(super) fn sink(&self) -> ClusterSecrets {
        ClusterSecrets {
            clusters: self.clone(),
        }
    }

    fn store(&self, secret: String, known: Option<Known>) {
        let mut registry = self
            .inner
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match known {
            Some(known) => {
                registry.by_secret.insert(secret, known);
            }
            None => {
                registry.by_secret.remove(&secret);
            }
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Registry> {
        self.inner
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Reads one cluster Secret and, unless its auth is unsupported, builds a client for it (in
    /// the background: building a client is async). Returns at once.
    fn learn(&self, object: DynamicObject) {
        let Some(secret) = object.metadata.name.clone() else {
            return;
        };
        let parsed = match parse_cluster_secret(&object) {
            Ok(parsed) => parsed,
            Err(why) => {
                tracing::warn!(secret, %why, "ignoring an Argo CD cluster Secret");
                self.store(secret, None);
                return;
            }
        };
        let ClusterSecret {
            name,
            server,
            config,
        } = parsed;
        let clusters = self.clone();
        tokio::spawn(async move {
            let cluster = match config {
                Err(unsupported) => Err(unsupported),
                Ok(kubeconfig) => client_for(&server, kubeconfig).await.map(|client| {
                    Cluster::new(server.clone(), client, Arc::clone(&clusters.shared))
                }),
            };
            match &cluster {
                Ok(_) => {
                    tracing::info!(secret, cluster = name.as_deref().unwrap_or(""), %server, "remote cluster known")
                }
                Err(why) => {
                    tracing::warn!(secret, cluster = name.as_deref().unwrap_or(""), %server, %why, "remote cluster cannot be read")
                }
            }
            clusters.store(
                secret,
                Some(Known {
                    name,
                    server,
                    cluster,
                }),
            );
        });
    }
}

/// What a cluster Secret says.
struct ClusterSecret {
    name: Option<String>,
    server: String,
    /// An in-memory kubeconfig for the cluster, or why it cannot be used.
    config: Result<serde_json::Value, String>,
}

/// The Secret's `data` (base64) or `stringData` value of `key`.
fn secret_value(object: &DynamicObject, key: &str) -> Option<String> {
    if let Some(encoded) = object.data["data"][key].as_str() {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .ok()?;
        return String::from_utf8(bytes).ok();
    }
    object.data["stringData"][key].as_str().map(str::to_string)
}

fn parse_cluster_secret(object: &DynamicObject) -> Result<ClusterSecret, String> {
    let server = secret_value(object, "server")
        .filter(|s| !s.is_empty())
        .ok_or("no server")?;
    let name = secret_value(object, "name").filter(|s| !s.is_empty());
    let config: serde_json::Value = match secret_value(object, "config") {
        Some(text) => serde_json::from_str(&text).map_err(|_| "config is not JSON")?,
        None => serde_json::json!({}),
    };
    Ok(ClusterSecret {
        name,
        config: kubeconfig_for(&server, &config),
        server,
    })
}

/// Argo CD's cluster config as a kubeconfig, or the reason it cannot be one.
fn kubeconfig_for(server: &str, config: &serde_json::Value) -> Result<serde_json::Value, String> {
    if config
        .get("execProviderConfig")
        .is_some_and(|v| !v.is_null())
    {
        return Err("unsupported auth: exec provider (execProviderConfig)".into());
    }
    if config.get("awsAuthConfig").is_some_and(|v| !v.is_null()) {
        return Err("unsupported auth: AWS IAM (awsAuthConfig)".into());
    }
    let tls = &config["tlsClientConfig"];
    let text = |v: &serde_json::Value| v.as_str().filter(|s| !s.is_empty()).map(str::to_string);
    let mut cluster = serde_json::json!({"server": server});
    if let Some(ca) = text(&tls["caData"]) {
        cluster["certificate-authority-data"] = ca.into();
    }
    if tls["insecure"].as_bool() == Some(true) {
        cluster["insecure-skip-tls-verify"] = true.into();
    }
    if let Some(name) = text(&tls["serverName"]) {
        cluster["tls-server-name"] = name.into();
    }
    let mut user = serde_json::json!({});
    if let Some(token) = text(&config["bearerToken"]) {
        user["token"] = token.into();
    }
    if let (Some(user_name), Some(password)) =
        (text(&config["username"]), text(&config["password"]))
    {
        user["username"] = user_name.into();
        user["password"] = password.into();
    }
    if let (Some(cert), Some(key)) = (text(&tls["certData"]), text(&tls["keyData"])) {
        user["client-certificate-data"] = cert.into();
        user["client-key-data"] = key.into();
    }
    Ok(serde_json::json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": cluster}],
        "users": [{"name": "u", "user": user}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "c",
    }))
}

async fn client_for(server: &str, kubeconfig: serde_json::Value) -> Result<kube::Client, String> {
    use kube::config::{KubeConfigOptions, Kubeconfig};
    // Error texts below are kube's own and never quote the credentials.
    let kubeconfig: Kubeconfig =
        serde_json::from_value(kubeconfig).map_err(|e| format!("cluster config: {e}"))?;
    let mut config =
        kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
            .await
            .map_err(|e| format!("cluster config for {server}: {e}"))?;
    config.read_timeout = None;
    kube::Client::try_from(config).map_err(|e| format!("client for {server}: {e}"))
}

/// The watch sink over Argo CD's cluster Secrets.
pub(super) struct ClusterSecrets {
    clusters: RemoteClusters,
}

impl Sink for ClusterSecrets {
    type Listed = DynamicObject;

    fn listed(&self, object: DynamicObject) -> Option<DynamicObject> {
        Some(object)
    }

    fn replace(&self, objects: Vec<DynamicObject>, _now: Timestamp) {
        let present: Vec<String> = objects
            .iter()
            .filter_map(|o| o.metadata.name.clone())
            .collect();
        let gone: Vec<String> = self
            .clusters
            .read()
            .by_secret
            .keys()
            .filter(|k| !present.contains(k))
            .cloned()
            .collect();
        for secret in gone {
            self.clusters.store(secret, None);
        }
        for object in objects {
            self.clusters.learn(object);
        }
    }

    fn apply(&self, object: DynamicObject, _now: Timestamp) {
        self.clusters.learn(object);
    }

    fn delete(&self, object: DynamicObject, _now: Timestamp) {
        if let Some(secret) = object.metadata.name {
            self.clusters.store(secret, None);
        }
    }

    fn stale(&self, _why: &str, _now: Timestamp) {}

    fn fresh(&self) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argo_cd_cluster_configs_become_kubeconfigs_or_a_reason() {
        let config = serde_json::json!({
            "bearerToken": "tok",
            "tlsClientConfig": {"caData": "Q0E=", "serverName": "api.internal", "insecure": false}
        });
        let kc = kubeconfig_for("https://prod.example:6443", &config).unwrap();
        assert_eq!(
            kc["clusters"][0]["cluster"]["server"],
            "https://prod.example:6443"
        );
        assert_eq!(
            kc["clusters"][0]["cluster"]["certificate-authority-data"],
            "Q0E="
        );
        assert_eq!(
            kc["clusters"][0]["cluster"]["tls-server-name"],
            "api.internal"
        );
        assert_eq!(kc["users"][0]["user"]["token"], "tok");
        for (config, why) in [
            (
                serde_json::json!({"execProviderConfig": {"command": "argocd-k8s-auth"}}),
                "exec provider",
            ),
            (
                serde_json::json!({"awsAuthConfig": {"clusterName": "prod"}}),
                "AWS IAM",
            ),
        ] {
            let err = kubeconfig_for("https://x", &config).unwrap_err();
            assert!(
                err.starts_with("unsupported auth") && err.contains(why),
                "{err}"
            );
        }
    }

    #[test]
    fn a_secret_without_a_server_is_ignored_and_values_come_from_data_or_string_data() {
        let object: DynamicObject = serde_json::from_value(serde_json::json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "c1"},
            "data": {"server": base64::engine::general_purpose::STANDARD.encode("https://a")},
            "stringData": {"name": "alpha"}
        }))
        .unwrap();
        assert_eq!(
            secret_value(&object, "server").as_deref(),
            Some("https://a")
        );
        assert_eq!(secret_value(&object, "name").as_deref(), Some("alpha"));
        let no_server: DynamicObject = serde_json::from_value(serde_json::json!({
            "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "c2"}, "data": {}
        }))
        .unwrap();
        assert!(parse_cluster_secret(&no_server).is_err());
    }
}
