//! Helpers shared by the end-to-end tests.

use std::collections::BTreeMap;
use std::time::Duration;

use fake_apiserver::FakeApiServer;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::ObjectMeta;
use kube::config::{KubeConfigOptions, Kubeconfig};

/// The Argo CD Application CRD (v3.5.1).
pub const APPLICATION_CRD: &str = include_str!("../../../fixtures/crds/application-crd.yaml");

/// A realistic Application with every status block (namespace `argo-cd`).
pub const SAMPLE_APPLICATION: &str =
    include_str!("../../../fixtures/sample-application-with-status.yaml");

/// A client configured from the server's own kubeconfig.
pub async fn client(server: &FakeApiServer) -> kube::Client {
    client_from_kubeconfig(&server.kubeconfig_yaml()).await
}

/// A client without kube's default retries of 429/503/504.
pub async fn client_without_retry(server: &FakeApiServer) -> kube::Client {
    let mut config = config_from_kubeconfig(&server.kubeconfig_yaml()).await;
    config.default_retry = false;
    kube::Client::try_from(config).unwrap()
}

pub async fn config_from_kubeconfig(yaml: &str) -> kube::Config {
    let kubeconfig = Kubeconfig::from_yaml(yaml).unwrap();
    let mut config =
        kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
            .await
            .unwrap();
    config.connect_timeout = Some(Duration::from_secs(2));
    config
}

pub async fn client_from_kubeconfig(yaml: &str) -> kube::Client {
    kube::Client::try_from(config_from_kubeconfig(yaml).await).unwrap()
}

/// A plain server.
pub async fn server() -> FakeApiServer {
    FakeApiServer::builder().start().await.unwrap()
}

pub fn configmap(name: &str, labels: &[(&str, &str)]) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            labels: (!labels.is_empty()).then(|| {
                labels
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect::<BTreeMap<_, _>>()
            }),
            ..ObjectMeta::default()
        },
        data: Some(BTreeMap::from([("key".to_string(), "value".to_string())])),
        ..ConfigMap::default()
    }
}

/// The HTTP status of a kube API error.
pub fn status_code(err: &kube::Error) -> u16 {
    match err {
        kube::Error::Api(status) => status.code,
        other => panic!("expected an API error, got {other:?}"),
    }
}

pub fn reason(err: &kube::Error) -> String {
    match err {
        kube::Error::Api(status) => status.reason.clone(),
        other => panic!("expected an API error, got {other:?}"),
    }
}

/// Waits up to 5 s for the next item of a stream.
pub async fn next<S: futures::Stream + Unpin>(stream: &mut S) -> S::Item {
    use futures::StreamExt as _;
    tokio::time::timeout(Duration::from_secs(5), stream.next())
        .await
        .expect("timed out waiting for the stream")
        .expect("the stream ended")
}
