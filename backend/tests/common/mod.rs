//! The harness every end-to-end test uses: a real argocd-drift, started through the same
//! `Server::bind` + `serve` that `run` uses, against a [`TestCluster`], spoken to over HTTP.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use argocd_drift::{Config, Server, Shutdown, Trigger};
use envconfig::Envconfig;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;
use testenv::TestCluster;
use testenv::http::{Response, get};
use tokio::task::JoinHandle;

pub const TOKEN: &str = "e2e-proxy-token-0123456789abcdef";
pub const STATUS: &str = "/api/v1/status";

pub struct TestApp {
    pub api: SocketAddr,
    pub service: SocketAddr,
    trigger: Trigger,
    handle: Option<JoinHandle<anyhow::Result<()>>>,
}

impl TestApp {
    /// Starts argocd-drift against `cluster`, watching the test's `argocd` and `team-apps`
    /// namespaces, with `env` overriding the defaults (an empty value removes one).
    pub async fn spawn(cluster: &TestCluster, env: &[(&str, &str)]) -> TestApp {
        let mut vars: HashMap<String, String> = HashMap::from([
            ("BIND_ADDRESS".into(), "127.0.0.1".into()),
            ("PORT".into(), "0".into()),
            ("SERVICE_PORT".into(), "0".into()),
            ("PROXY_TOKEN".into(), TOKEN.into()),
            (
                "KUBECONFIG".into(),
                cluster.kubeconfig_path().display().to_string(),
            ),
            (
                "ARGOCD_NAMESPACES".into(),
                format!("{},{}", cluster.ns("argocd"), cluster.ns("team-apps")),
            ),
            ("LOG_LEVEL".into(), "debug".into()),
            // Tests that exercise the pre-drain delay set it themselves.
            ("SHUTDOWN_DELAY_SECONDS".into(), "0".into()),
        ]);
        for (k, v) in env {
            // An empty value unsets a default (e.g. PROXY_TOKEN when a test uses PROXY_TOKEN_FILE).
            if v.is_empty() {
                vars.remove(*k);
            } else {
                vars.insert(k.to_string(), v.to_string());
            }
        }
        let config = Config::init_from_hashmap(&vars).expect("test config");
        let server = Server::bind(config).await.expect("bind");
        let (api, service) = (server.api_addr().unwrap(), server.service_addr().unwrap());
        let (trigger, shutdown) = Shutdown::manual();
        let handle = tokio::spawn(server.serve(shutdown));
        TestApp {
            api,
            service,
            trigger,
            handle: Some(handle),
        }
    }

    /// Starts argocd-drift and waits for `/readyz`.
    pub async fn ready(cluster: &TestCluster, env: &[(&str, &str)]) -> TestApp {
        let app = TestApp::spawn(cluster, env).await;
        app.wait_ready().await;
        app
    }

    pub async fn wait_ready(&self) {
        eventually(Duration::from_secs(15), || async {
            get(self.service, "/readyz", &[])
                .await
                .is_ok_and(|r| r.status == 200)
        })
        .await
        .expect("argocd-drift did not become ready");
    }

    /// `GET path` on the API port with the shared secret and the two headers Argo CD always
    /// sends, plus `extra`.
    pub async fn get_as(
        &self,
        path: &str,
        app: &str,
        project: &str,
        extra: &[(&str, &str)],
    ) -> Response {
        let auth = format!("Bearer {TOKEN}");
        let mut headers = vec![
            ("Authorization", auth.as_str()),
            ("Argocd-Application-Name", app),
            ("Argocd-Project-Name", project),
        ];
        headers.extend_from_slice(extra);
        get(self.api, path, &headers).await.expect("request")
    }

    /// `GET /api/v1/status` for `ns:name` in `project`.
    pub async fn status(&self, app: &str, project: &str) -> Response {
        self.get_as(STATUS, app, project, &[]).await
    }

    /// `GET /api/v1/status` started in the background, for requests that must be in flight
    /// while something else happens. The task yields the response, or the transport error if the
    /// connection was cut.
    pub fn status_in_background(
        &self,
        app: &str,
        project: &str,
    ) -> JoinHandle<anyhow::Result<Response>> {
        let (api, app, project) = (self.api, app.to_string(), project.to_string());
        tokio::spawn(async move {
            let auth = format!("Bearer {TOKEN}");
            get(
                api,
                STATUS,
                &[
                    ("Authorization", &auth),
                    ("Argocd-Application-Name", &app),
                    ("Argocd-Project-Name", &project),
                ],
            )
            .await
        })
    }

    pub fn signal(&self) {
        self.trigger.signal();
    }

    /// Sends the first shutdown signal and waits for `serve` to return.
    pub async fn shutdown(mut self) -> anyhow::Result<()> {
        self.trigger.signal();
        let handle = self.handle.take().unwrap();
        tokio::time::timeout(Duration::from_secs(30), handle).await??
    }

    pub async fn join(mut self) -> anyhow::Result<()> {
        let handle = self.handle.take().unwrap();
        tokio::time::timeout(Duration::from_secs(30), handle).await??
    }

    pub async fn metrics(&self) -> String {
        let r = get(self.service, "/metrics", &[]).await.unwrap();
        String::from_utf8(r.body.to_vec()).unwrap()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(handle) = &self.handle {
            handle.abort();
        }
    }
}

/// Polls `check` every 50 ms until it holds or `within` passes.
pub async fn eventually<F, Fut>(within: Duration, mut check: F) -> Result<(), String>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    eventually_some(within, || {
        let fut = check();
        async move { fut.await.then_some(()) }
    })
    .await
}

/// Polls `find` every 50 ms until it returns a value or `within` passes.
pub async fn eventually_some<T, F, Fut>(within: Duration, mut find: F) -> Result<T, String>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if let Some(found) = find().await {
            return Ok(found);
        }
        if tokio::time::Instant::now() > deadline {
            return Err(format!("condition not met within {within:?}"));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The `ns:name` header value for a fixture app in this test's namespaces.
pub fn app_header(cluster: &TestCluster, ns: &str, name: &str) -> String {
    format!("{}:{name}", cluster.ns(ns))
}

/// A cluster with the demo fixtures and a ready argocd-drift watching it.
pub async fn demo(env: &[(&str, &str)]) -> (TestCluster, TestApp) {
    let cluster = TestCluster::start().await.expect("test cluster");
    cluster.apply_fixtures("demo").await.expect("demo fixtures");
    let app = TestApp::ready(&cluster, env).await;
    (cluster, app)
}

/// The Applications of one namespace, for changing them the way Argo CD would.
pub fn applications(client: kube::Client, ns: &str) -> Api<DynamicObject> {
    let resource = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("argoproj.io", "v1alpha1", "Application"),
        "applications",
    );
    Api::namespaced_with(client, ns, &resource)
}

/// Merge-patches the `status` of a fixture Application, the way Argo CD's controller writes it.
pub async fn patch_app_status(
    cluster: &TestCluster,
    ns: &str,
    name: &str,
    status: serde_json::Value,
) {
    applications(cluster.client().await.unwrap(), &cluster.ns(ns))
        .patch(
            name,
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"status": status})),
        )
        .await
        .unwrap();
}

impl TestApp {
    /// Waits until the status document of `app` has `expected` at the JSON pointer `at`.
    pub async fn wait_for_status(
        &self,
        app: &str,
        project: &str,
        at: &str,
        expected: serde_json::Value,
    ) -> Result<(), String> {
        eventually(Duration::from_secs(15), || async {
            self.status(app, project).await.json().pointer(at) == Some(&expected)
        })
        .await
    }
}

/// Creates a bare Application (no status: Argo CD has not compared it yet) in the test's
/// `argocd` namespace.
pub async fn create_app(cluster: &TestCluster, name: &str, project: &str) {
    let obj: DynamicObject = serde_json::from_value(serde_json::json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": name, "namespace": cluster.ns("argocd")},
        "spec": {
            "project": project,
            "destination": {"server": "https://kubernetes.default.svc", "namespace": "default"},
            "source": {"repoURL": "https://git.example.com/x.git", "path": "."}
        }
    }))
    .unwrap();
    applications(cluster.client().await.unwrap(), &cluster.ns("argocd"))
        .create(&Default::default(), &obj)
        .await
        .unwrap();
}
