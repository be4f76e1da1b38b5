//! The harness the end-to-end tests use:
//!
//! - [`TestApp`]: a real argocd-drift, started through the same `Server::bind` + `serve` that
//!   `run` uses, against a [`TestCluster`], spoken to over HTTP (the "real deal");
//! - [`InProcess`]: the API port called in-process (no socket, no cluster), with an index filled
//!   from the demo fixtures — for the many route tests that only need the request path.
//!
//! Every test's server logs go to an in-memory writer ([`logs`]); they are printed (captured by
//! the test harness, so shown only for a failing test) when a `TestApp` is dropped during a
//! panic, and tests can read them to check what was logged.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod real_argocd;
pub mod reporters;

use argocd_drift::config::ProxyAuth;
use argocd_drift::http::limits::Limits;
use argocd_drift::index::{AppIndex, WatchScope};
use argocd_drift::metrics::Metrics;
use argocd_drift::reports::{ReportStore, Timing};
use argocd_drift::routes::{ApiDeps, api};
use argocd_drift::{Config, Server, Shutdown, Trigger};
use bytes::Bytes;
use drift_core::app::Application;
use envconfig::Envconfig;
use http::{Method, Request};
use http_body_util::{BodyExt, Full};
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams};
use std::cell::RefCell;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use testenv::TestCluster;
use testenv::http::{Response, get};

/// Where a backend (or the self-check) finds the test's cluster: its kubeconfig, the test's
/// `argocd` namespace for its own resources (isolated on a shared real API server) and Argo CD's
/// control plane, and the two namespaces whose Applications it watches.
pub fn cluster_vars(cluster: &TestCluster) -> HashMap<String, String> {
    HashMap::from([
        ("POD_NAMESPACE".into(), cluster.ns("argocd")),
        (
            "KUBECONFIG".into(),
            cluster.kubeconfig_path().display().to_string(),
        ),
        (
            "ARGOCD_NAMESPACES".into(),
            format!("{},{}", cluster.ns("argocd"), cluster.ns("team-apps")),
        ),
        (
            "ARGOCD_CONTROL_PLANE_NAMESPACE".into(),
            cluster.ns("argocd"),
        ),
    ])
}

/// Sends a report for `rsyslog:lab` once per status in `statuses` through the compat route,
/// then deletes it: each step must succeed (what a backend's grants must allow for reports).
pub async fn report_written_and_deleted(app: &TestApp, statuses: &[&str]) {
    let last_check = jiff::Timestamp::from_second(jiff::Timestamp::now().as_second() - 60).unwrap();
    for status in statuses {
        let drift_count = u32::from(*status == "OUT_OF_SYNC");
        let report = serde_json::json!({"repo": "rsyslog", "server": "lab", "sync_status": status,
            "drift_count": drift_count, "last_check": last_check.to_string()});
        let r = app
            .on_reports(http::Method::POST, "/api/status", None, &report.to_string())
            .await;
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    }
    let r = app
        .on_reports(
            http::Method::DELETE,
            "/api/v1/reports?repo=rsyslog&server=lab",
            None,
            "",
        )
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
}

impl TestApp {
    /// Waits until the metric `series` (exactly as exposed) has value `value`.
    pub async fn wait_for_metric(&self, series: &str, value: f64) {
        eventually(Duration::from_secs(15), || async {
            metric(&self.metrics().await, series) == Some(value)
        })
        .await
        .unwrap_or_else(|e| panic!("{series} never reached {value}: {e}"));
    }

    /// Waits until one API request is in flight (admitted and not yet answered).
    pub async fn wait_in_flight(&self, n: u32) {
        self.wait_for_metric(
            r#"argocd_drift_http_requests_in_flight{listener="api"}"#,
            f64::from(n),
        )
        .await;
    }

    /// Waits until `/readyz` says the process is shutting down (the first signal was taken).
    pub async fn wait_shutting_down(&self) {
        eventually(Duration::from_secs(15), || async {
            get(self.service, "/readyz", &[])
                .await
                .is_ok_and(|r| r.status == 503 && r.json()["code"] == "SHUTTING_DOWN")
        })
        .await
        .expect("the shutdown signal was never taken");
    }
}
use tokio::task::JoinHandle;

pub const TOKEN: &str = "e2e-proxy-token-0123456789abcdef";
pub const STATUS: &str = "/api/v1/status";

pub struct TestApp {
    pub api: SocketAddr,
    pub service: SocketAddr,
    /// The reports port (reporters, Grafana).
    pub reports: SocketAddr,
    /// Makes its supervised tasks fail (a test hook).
    pub faults: argocd_drift::supervisor::Faults,
    trigger: Trigger,
    handle: Option<JoinHandle<anyhow::Result<()>>>,
    logs: Logs,
}

impl TestApp {
    /// Starts argocd-drift against `cluster`, watching the test's `argocd` and `team-apps`
    /// namespaces, with `env` overriding the defaults (an empty value removes one).
    pub async fn spawn(cluster: &TestCluster, env: &[(&str, &str)]) -> TestApp {
        let mut vars: HashMap<String, String> = HashMap::from([
            ("BIND_ADDRESS".into(), "127.0.0.1".into()),
            ("PORT".into(), "0".into()),
            ("SERVICE_PORT".into(), "0".into()),
            ("REPORTS_PORT".into(), "0".into()),
            ("PROXY_TOKEN".into(), TOKEN.into()),
            ("LOG_LEVEL".into(), "debug".into()),
            // Tests that exercise the pre-drain delay set it themselves.
            ("SHUTDOWN_DELAY_SECONDS".into(), "0".into()),
        ]);
        vars.extend(cluster_vars(cluster));
        for (k, v) in env {
            // An empty value unsets a default (e.g. PROXY_TOKEN when a test uses PROXY_TOKEN_FILE).
            if v.is_empty() {
                vars.remove(*k);
            } else {
                vars.insert(k.to_string(), v.to_string());
            }
        }
        let logs = logs();
        let config = Config::init_from_hashmap(&vars).expect("test config");
        let mut server = Server::bind(config).await.expect("bind");
        let faults = server.faults();
        let (api, service) = (server.api_addr().unwrap(), server.service_addr().unwrap());
        let reports = server.reports_addr().unwrap();
        let (trigger, shutdown) = Shutdown::manual();
        let handle = tokio::spawn(server.serve(shutdown));
        TestApp {
            api,
            service,
            reports,
            faults,
            trigger,
            handle: Some(handle),
            logs,
        }
    }

    /// Everything logged in this test so far (JSON lines).
    pub fn logs(&self) -> String {
        self.logs.text()
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

    /// A request on the reports port, with `Authorization: Bearer <token>` when given.
    pub async fn on_reports(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: &str,
    ) -> Response {
        let auth = token.map(|t| format!("Bearer {t}"));
        let mut headers = vec![("Content-Type", "application/json")];
        if let Some(auth) = &auth {
            headers.push(("Authorization", auth.as_str()));
        }
        testenv::http::send(
            self.reports,
            method,
            path,
            &headers,
            Bytes::from(body.to_string()),
        )
        .await
        .expect("request to the reports port")
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
        if std::thread::panicking() {
            self.logs.print_once();
        }
    }
}

// === logs ===

/// The logs of the current test (thread): a shared in-memory buffer behind a thread-local
/// subscriber. `#[tokio::test]` runs the server's tasks on the test's own thread, so everything
/// it logs lands here and nothing is written to the real stderr.
#[derive(Clone)]
pub struct Logs {
    buffer: Arc<Mutex<Vec<u8>>>,
    printed: Arc<Mutex<bool>>,
}

impl Logs {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.buffer.lock().unwrap()).into_owned()
    }

    /// Prints the logs once (the test harness shows them only for a failing test).
    pub fn print_once(&self) {
        let mut printed = self.printed.lock().unwrap_or_else(|p| p.into_inner());
        if !*printed {
            *printed = true;
            eprintln!("---- argocd-drift logs ----\n{}", self.text());
        }
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Logs {
    type Writer = LogWriter;
    fn make_writer(&'a self) -> LogWriter {
        LogWriter(Arc::clone(&self.buffer))
    }
}

pub struct LogWriter(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

thread_local! {
    static CAPTURE: RefCell<Option<(Logs, tracing::subscriber::DefaultGuard)>> = const { RefCell::new(None) };
}

/// This test's log capture, installed on first use: debug level, the production JSON format.
pub fn logs() -> Logs {
    CAPTURE.with(|capture| {
        let mut capture = capture.borrow_mut();
        if let Some((logs, _)) = capture.as_ref() {
            return logs.clone();
        }
        let logs = Logs {
            buffer: Arc::default(),
            printed: Arc::default(),
        };
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(
                "debug,hyper=info,kube=info,tower=info,rustls=info",
            ))
            .with_writer(logs.clone())
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .finish();
        let guard = tracing::subscriber::set_default(subscriber);
        *capture = Some((logs.clone(), guard));
        logs
    })
}

// === in-process ===

/// The API port in-process: no socket between the test and the API. The index holds the demo
/// fixtures' Applications (namespaces `argocd` and `team-apps`, as in `fixtures/demo`, not
/// renamed); live objects, for drift, come from a fake API server seeded with the same fixtures.
pub struct InProcess {
    pub api: argocd_drift::routes::Api,
    pub index: AppIndex,
    /// The API port's external reports (empty and ready; tests feed it as the watch would).
    pub reports: ReportStore,
    pub metrics: Arc<Metrics>,
    pub logs: Logs,
    /// The cluster drift reads (the demo fixtures, namespaces as written).
    pub fake: fake_apiserver::FakeApiServer,
    /// The live reads drift makes (its in-flight reads are observable).
    pub destinations: argocd_drift::cluster::Destinations,
    _kubeconfig: tempfile::NamedTempFile,
}

/// A caller address for in-process requests.
pub const PEER: SocketAddr = SocketAddr::new(
    std::net::IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 7)),
    41000,
);

/// How an in-process API is set up.
pub struct InProcessOptions {
    pub limits: Limits,
    pub reconcile_stale_after: Duration,
    pub read_secrets: bool,
    /// How long a live read is reused (zero: never).
    pub cache_ttl: Duration,
}

impl Default for InProcessOptions {
    fn default() -> Self {
        InProcessOptions {
            limits: Limits::new(256, 1024 * 1024, Duration::from_secs(10)),
            reconcile_stale_after: Duration::from_secs(600),
            read_secrets: false,
            cache_ttl: Duration::ZERO,
        }
    }
}

impl InProcess {
    pub async fn demo() -> InProcess {
        Self::new(InProcessOptions::default()).await
    }

    pub async fn new(options: InProcessOptions) -> InProcess {
        let logs = logs();
        let scopes = vec![
            WatchScope::Namespace("argocd".into()),
            WatchScope::Namespace("team-apps".into()),
        ];
        let index = AppIndex::new(scopes.clone());
        let apps = demo_applications();
        for scope in &scopes {
            let in_scope = apps
                .iter()
                .filter(|a| scope.covers(&a.key.namespace))
                .cloned()
                .collect();
            index.replace_scope(scope, in_scope, jiff::Timestamp::now());
        }
        let fake = fake_apiserver::FakeApiServer::builder()
            .seed_dir(testenv::fixture_dir("crds"))
            .seed_dir(testenv::fixture_dir("demo"))
            .start()
            .await
            .unwrap();
        let kubeconfig = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(kubeconfig.path(), fake.kubeconfig_yaml()).unwrap();
        let connection =
            argocd_drift::cluster::Connection::new(Some(kubeconfig.path()), Duration::from_secs(5))
                .await
                .unwrap();
        let limits = argocd_drift::cluster::ReadLimits {
            concurrency: 8,
            cache_bytes: 1 << 20,
            cache_ttl: options.cache_ttl,
            read_secrets: options.read_secrets,
            refresh_min_interval: Duration::from_secs(10),
        };
        let metrics = Arc::new(Metrics::new());
        let destinations = connection.destinations(limits, false);
        let drift = argocd_drift::handlers::drift::Drift::new(
            destinations.clone(),
            argocd_drift::argocd_settings::ArgoCdSettings::new(),
            None,
            options.read_secrets,
            options.limits.request_timeout,
            Duration::from_secs(1),
        )
        .with_metrics(Arc::clone(&metrics));
        let token: argocd_drift::config::Secret = TOKEN.parse().unwrap();
        let reports = ReportStore::new(Timing::default(), Some(index.clone()));
        argocd_drift::cluster::OwnSink::replace(&reports, vec![], jiff::Timestamp::now());
        let api = api(ApiDeps {
            proxy_auth: ProxyAuth::Token(token),
            index: index.clone(),
            limits: options.limits,
            metrics: Arc::clone(&metrics),
            reconcile_stale_after: options.reconcile_stale_after,
            drift,
            history: argocd_drift::history::History::new(Default::default(), Arc::clone(&metrics)),
            reports: reports.clone(),
        });
        InProcess {
            api,
            index,
            reports,
            metrics,
            logs,
            fake,
            destinations,
            _kubeconfig: kubeconfig,
        }
    }

    /// A kube client of the fake cluster, to change live objects.
    pub async fn client(&self) -> kube::Client {
        let config = kube::Config::from_custom_kubeconfig(
            kube::config::Kubeconfig::from_yaml(&self.fake.kubeconfig_yaml()).unwrap(),
            &Default::default(),
        )
        .await
        .unwrap();
        kube::Client::try_from(config).unwrap()
    }

    /// The Application as the index holds it, to change and `index.apply` again.
    pub fn app_in_index(&self, ns: &str, name: &str) -> Application {
        match self.index.lookup(&drift_core::app::AppKey::new(ns, name)) {
            argocd_drift::index::Lookup::Found { app, .. } => app.app.clone(),
            other => panic!("{ns}:{name} not in the index: {other:?}"),
        }
    }

    /// Sends a request in-process, exactly as the listener would.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Bytes,
    ) -> Response {
        let mut request = Request::builder().method(method).uri(path);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = self
            .api
            .call(request.body(Full::new(body)).unwrap(), PEER)
            .await;
        let (parts, body) = response.into_parts();
        Response {
            status: parts.status,
            headers: parts.headers,
            body: body.collect().await.unwrap().to_bytes(),
        }
    }

    pub fn metrics_text(&self) -> String {
        self.metrics.encode().unwrap()
    }
}

/// The demo fixtures' Applications, as the watch would decode them.
pub fn demo_applications() -> Vec<Application> {
    let now = jiff::Timestamp::now();
    testenv::load_fixture_dir(&testenv::fixture_dir("demo"))
        .unwrap()
        .into_iter()
        .filter(|o| o["kind"] == "Application")
        .map(|mut o| {
            fake_apiserver::expand_time_placeholders(&mut o, now);
            Application::from_object(o).unwrap()
        })
        .collect()
}

/// The value of one metric series in an OpenMetrics text (`name{labels}` exactly as exposed),
/// or `None` if the series is absent.
pub fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

/// Asserts an error response: status, the one error shape, and its stable code.
pub fn assert_error(r: &Response, status: u16, code: &str) {
    assert_eq!(
        r.status.as_u16(),
        status,
        "body: {}",
        String::from_utf8_lossy(&r.body)
    );
    let body = r.json();
    assert_eq!(body["status"], "error");
    assert_eq!(body["code"], code);
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
    assert_eq!(r.header("content-type"), Some("application/json"));
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

/// Rotates the demo Secret's password by hand (`kubectl edit`'s field manager) in `namespace`.
pub async fn rotate_payments_password(client: kube::Client, namespace: &str, password: &str) {
    use base64::Engine;
    let secrets: Api<k8s_openapi::api::core::v1::Secret> = Api::namespaced(client, namespace);
    let encoded = base64::engine::general_purpose::STANDARD.encode(password);
    secrets
        .patch(
            "payments-db",
            &PatchParams {
                field_manager: Some("kubectl-edit".into()),
                ..PatchParams::default()
            },
            &Patch::Merge(serde_json::json!({"data": {"password": encoded}})),
        )
        .await
        .unwrap();
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

// === one suite, two transports ===

/// Something that answers API requests: in-process ([`InProcess`]) or a served argocd-drift on a
/// test cluster over HTTP ([`Live`]). Suites written against it run both ways.
pub trait Client {
    /// The `Argocd-Application-Name` value of a demo app (`argocd`/`team-apps` + name).
    fn app(&self, ns: &str, name: &str) -> String;
    /// The real name of a demo fixture namespace.
    fn ns(&self, base: &str) -> String;
    fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Bytes,
    ) -> impl Future<Output = Response>;
    fn metrics_text(&self) -> impl Future<Output = String>;

    /// `GET path` as Argo CD's proxy sends it: the secret and the two headers, plus `extra`.
    fn get_as(
        &self,
        path: &str,
        app: &str,
        project: &str,
        extra: &[(&str, &str)],
    ) -> impl Future<Output = Response> {
        async move {
            let auth = format!("Bearer {TOKEN}");
            let mut headers = vec![
                ("Authorization", auth.as_str()),
                ("Argocd-Application-Name", app),
                ("Argocd-Project-Name", project),
            ];
            headers.extend_from_slice(extra);
            self.send(Method::GET, path, &headers, Bytes::new()).await
        }
    }

    fn get(&self, path: &str, headers: &[(&str, &str)]) -> impl Future<Output = Response> {
        self.send(Method::GET, path, headers, Bytes::new())
    }
}

impl Client for InProcess {
    fn app(&self, ns: &str, name: &str) -> String {
        format!("{ns}:{name}")
    }
    fn ns(&self, base: &str) -> String {
        base.to_string()
    }
    async fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Bytes,
    ) -> Response {
        InProcess::send(self, method, path, headers, body).await
    }
    async fn metrics_text(&self) -> String {
        InProcess::metrics_text(self)
    }
}

/// Runs each check (an `async fn(&impl Client)`) in-process, one test each, in a module
/// `in_process`; and all of them again, in one test named `$over_http`, over HTTP against a served
/// argocd-drift on the test cluster (the fake, or a real API server).
#[macro_export]
macro_rules! in_process_and_over_http {
    ($over_http:ident: $($check:ident),* $(,)?) => {
        mod in_process {
            $(
                #[tokio::test]
                async fn $check() {
                    super::$check(&super::common::InProcess::demo().await).await;
                }
            )*
        }

        #[tokio::test]
        async fn $over_http() {
            let live = common::Live::demo().await;
            $( $check(&live).await; )*
        }
    };
}

/// A served argocd-drift on a test cluster with the demo fixtures.
pub struct Live {
    pub cluster: TestCluster,
    pub app: TestApp,
}

impl Live {
    pub async fn demo() -> Live {
        let (cluster, app) = demo(&[]).await;
        Live { cluster, app }
    }
}

impl Client for Live {
    fn app(&self, ns: &str, name: &str) -> String {
        app_header(&self.cluster, ns, name)
    }
    fn ns(&self, base: &str) -> String {
        self.cluster.ns(base)
    }
    async fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Bytes,
    ) -> Response {
        testenv::http::send(self.app.api, method, path, headers, body)
            .await
            .expect("request")
    }
    async fn metrics_text(&self) -> String {
        self.app.metrics().await
    }
}

/// `dashboards/` of the repository.
pub fn dashboards_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../dashboards")
}

/// Runs `dashboards/test/evaluate.mjs` (npm `jsonata` and `jsonpath-plus`, the libraries
/// Grafana's Infinity data source uses) on dashboard `file` with the bodies its panels' URLs got.
pub fn evaluate_dashboard(
    file: &str,
    bodies: &serde_json::Value,
    legacy: &serde_json::Value,
) -> serde_json::Value {
    let dir = dashboards_dir();
    assert!(
        dir.join("node_modules/jsonata").exists()
            && dir.join("node_modules/jsonpath-plus").exists(),
        "the dashboard test needs its npm packages: run `npm ci --prefix dashboards` (make test does)"
    );
    let input = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        input.path(),
        serde_json::json!({
            "dashboard": dir.join(file),
            "bodies": bodies,
            "legacy": legacy,
        })
        .to_string(),
    )
    .unwrap();
    let output = std::process::Command::new("node")
        .arg(dir.join("test/evaluate.mjs"))
        .arg(input.path())
        .output()
        .expect("node (Node.js 20) must be installed");
    assert!(
        output.status.success(),
        "evaluate.mjs failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}
