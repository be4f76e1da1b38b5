//! A real Argo CD control plane, as `real-argocd.sh start --control-plane` leaves it: argocd-server,
//! argocd-repo-server, argocd-application-controller, Redis and a Git repository served on
//! loopback, in front of a real kube-apiserver.
//!
//! [`ArgoCd`] drives it the way people do: Applications are created and synced through
//! argocd-server's API as the `operator` account (what the CLI and the UI send), refreshes are
//! requested with `GET …?refresh=normal` (which returns once the controller has compared the
//! app), and Git is moved by committing to the served repository.

use crate::git::GitRepo;
use crate::http::send;
use anyhow::{Context, bail};
use bytes::Bytes;
use http::Method;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind};
use kube::config::{KubeConfigOptions, Kubeconfig};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

/// How long one request to argocd-server may take (a refresh waits for the controller).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(90);
/// How long one refresh is waited for before it is asked again (a refresh takes 1–4 s here; one
/// was seen never to answer, the controller having missed the request).
const REFRESH_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a sync or a settle may take before the scenario fails.
pub const SETTLE_TIMEOUT: Duration = Duration::from_secs(120);

/// `KEY=value` lines of the env file `real-argocd.sh start` writes (values quoted by `%q`; the
/// control-plane values are plain words, URLs and paths).
pub fn read_env_file(path: &Path) -> anyhow::Result<HashMap<String, String>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(text
        .lines()
        .filter(|l| !l.starts_with("export "))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| {
            let v = if v == "''" { "" } else { v };
            (k.to_string(), v.replace('\\', ""))
        })
        .collect())
}

/// Identity of a resource as Argo CD writes it in `status.resources` and `managed-resources`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ResourceKey {
    pub group: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
}

impl ResourceKey {
    /// From an entry with `group`, `kind`, `namespace`, `name` fields (missing ones empty).
    pub fn of_entry(entry: &Value) -> ResourceKey {
        let field = |k: &str| entry[k].as_str().unwrap_or_default().to_string();
        ResourceKey {
            group: field("group"),
            kind: field("kind"),
            namespace: field("namespace"),
            name: field("name"),
        }
    }

    /// From a Kubernetes object.
    pub fn of_object(obj: &Value) -> ResourceKey {
        let api_version = obj["apiVersion"].as_str().unwrap_or_default();
        ResourceKey {
            group: api_version
                .split_once('/')
                .map(|(g, _)| g.to_string())
                .unwrap_or_default(),
            kind: obj["kind"].as_str().unwrap_or_default().to_string(),
            namespace: obj["metadata"]["namespace"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            name: obj["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        }
    }

    /// Parses `<group>/<kind>/<namespace>/<name>`.
    pub fn parse(s: &str) -> Option<ResourceKey> {
        let mut parts = s.splitn(4, '/');
        Some(ResourceKey {
            group: parts.next()?.to_string(),
            kind: parts.next()?.to_string(),
            namespace: parts.next()?.to_string(),
            name: parts.next()?.to_string(),
        })
    }
}

impl std::fmt::Display for ResourceKey {
    /// `<group>/<kind>/<namespace>/<name>`, the key of a recording's `expected` map.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}/{}/{}/{}",
            self.group, self.kind, self.namespace, self.name
        )
    }
}

/// The running control plane.
#[derive(Clone)]
pub struct ArgoCd {
    env: HashMap<String, String>,
    addr: SocketAddr,
    token: String,
    kube: kube::Client,
    pub git: GitRepo,
}

impl ArgoCd {
    /// Connects to the control plane described by the env file of `real-argocd.sh start
    /// --control-plane` and logs in as `operator` (role `admin`).
    pub async fn connect(env_file: &Path) -> anyhow::Result<ArgoCd> {
        let env = read_env_file(env_file)?;
        let get = |k: &str| {
            env.get(k)
                .filter(|v| !v.is_empty())
                .cloned()
                .with_context(|| format!("{k} missing from {}", env_file.display()))
        };
        anyhow::ensure!(
            get("ARGOCD_CONTROL_PLANE")? == "1",
            "{} describes argocd-server alone: start it with --control-plane",
            env_file.display()
        );
        let addr: SocketAddr = get("ARGOCD_URL")?
            .trim_start_matches("http://")
            .parse()
            .context("ARGOCD_URL")?;
        let kubeconfig = Kubeconfig::read_from(get("ARGOCD_KUBECONFIG")?)?;
        let kube = kube::Client::try_from(
            kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default()).await?,
        )?;
        let git = GitRepo::open(get("ARGOCD_GIT_WORKTREE")?)?;
        let body = json!({"username": get("ARGOCD_OPERATOR_USER")?, "password": get("ARGOCD_OPERATOR_PASSWORD")?});
        let r = send(
            addr,
            Method::POST,
            "/api/v1/session",
            &[("content-type", "application/json")],
            Bytes::from(body.to_string()),
        )
        .await?;
        anyhow::ensure!(
            r.status == 200,
            "login as operator: HTTP {}: {}",
            r.status,
            String::from_utf8_lossy(&r.body)
        );
        let token = serde_json::from_slice::<Value>(&r.body)?["token"]
            .as_str()
            .context("login answered without a token")?
            .to_string();
        Ok(ArgoCd {
            env,
            addr,
            token,
            kube,
            git,
        })
    }

    /// A value of the env file (`ARGOCD_GIT_URL`, `ARGOCD_IN_CLUSTER_URL`, …).
    pub fn env(&self, key: &str) -> anyhow::Result<&str> {
        self.env
            .get(key)
            .map(String::as_str)
            .with_context(|| format!("{key} not in the control plane's env file"))
    }

    /// The operator's session token (an Argo CD JWT: what an account token is to the API).
    pub fn token(&self) -> &str {
        &self.token
    }

    /// argocd-server's URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Argo CD's control-plane namespace (where Applications live).
    pub fn namespace(&self) -> &str {
        self.env
            .get("ARGOCD_NAMESPACE")
            .map_or("argocd", String::as_str)
    }

    /// An admin client of the kube-apiserver Argo CD deploys to.
    pub fn kube(&self) -> kube::Client {
        self.kube.clone()
    }

    async fn api(&self, method: Method, path: &str, body: Option<Value>) -> anyhow::Result<Value> {
        self.api_within(REQUEST_TIMEOUT, method, path, body).await
    }

    async fn api_within(
        &self,
        timeout: Duration,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let auth = format!("Bearer {}", self.token);
        let body = body.map(|b| Bytes::from(b.to_string())).unwrap_or_default();
        let r = tokio::time::timeout(
            timeout,
            send(
                self.addr,
                method.clone(),
                path,
                &[
                    ("authorization", auth.as_str()),
                    ("content-type", "application/json"),
                ],
                body,
            ),
        )
        .await
        .with_context(|| format!("{method} {path}: no answer in {timeout:?}"))??;
        if r.status != 200 {
            bail!(
                "{method} {path}: HTTP {}: {}",
                r.status,
                String::from_utf8_lossy(&r.body)
            );
        }
        serde_json::from_slice(&r.body).with_context(|| format!("{method} {path}: not JSON"))
    }

    /// `POST /api/v1/applications`: what `argocd app create` sends.
    pub async fn create_application(&self, app: Value) -> anyhow::Result<Value> {
        self.api(Method::POST, "/api/v1/applications", Some(app))
            .await
    }

    /// The Application object as stored in Kubernetes (what the controller wrote).
    pub async fn application(&self, name: &str) -> anyhow::Result<Value> {
        let apps: Api<DynamicObject> = Api::namespaced_with(
            self.kube.clone(),
            self.namespace(),
            &ApiResource::from_gvk(&GroupVersionKind::gvk(
                "argoproj.io",
                "v1alpha1",
                "Application",
            )),
        );
        let mut app = serde_json::to_value(apps.get(name).await?)?;
        app["apiVersion"] = json!("argoproj.io/v1alpha1");
        app["kind"] = json!("Application");
        Ok(app)
    }

    /// `GET /api/v1/applications/{name}?refresh=normal`: the UI's Refresh. Answers once the
    /// controller has compared the app again (resolving the Git revision afresh). Asked again,
    /// as a person clicks Refresh again, when one attempt gets no answer.
    pub async fn refresh(&self, name: &str) -> anyhow::Result<Value> {
        let path = format!("/api/v1/applications/{name}?refresh=normal");
        let attempts = REQUEST_TIMEOUT.as_secs() / REFRESH_ATTEMPT_TIMEOUT.as_secs();
        let mut attempt = 1;
        loop {
            match self
                .api_within(REFRESH_ATTEMPT_TIMEOUT, Method::GET, &path, None)
                .await
            {
                Err(e) if attempt < attempts && e.to_string().contains("no answer") => {
                    eprintln!("{name}: refresh attempt {attempt} got no answer; asking again");
                    attempt += 1;
                }
                result => return result,
            }
        }
    }

    /// `GET /api/v1/applications/{name}/managed-resources`: Argo CD's per-resource diff.
    pub async fn managed_resources(&self, name: &str) -> anyhow::Result<Vec<Value>> {
        let r = self
            .api(
                Method::GET,
                &format!("/api/v1/applications/{name}/managed-resources"),
                None,
            )
            .await?;
        Ok(r["items"].as_array().cloned().unwrap_or_default())
    }

    /// `POST /api/v1/applications/{name}/sync` at `revision` (what `argocd app sync --revision`
    /// sends), then waits until the controller finished that operation. Fails if it did not
    /// succeed.
    pub async fn sync(&self, name: &str, revision: &str, prune: bool) -> anyhow::Result<Value> {
        let body = json!({"revision": revision, "prune": prune});
        let deadline = tokio::time::Instant::now() + SETTLE_TIMEOUT;
        // Refused while another operation runs (e.g. the controller's first look at a new app).
        loop {
            match self
                .api(
                    Method::POST,
                    &format!("/api/v1/applications/{name}/sync"),
                    Some(body.clone()),
                )
                .await
            {
                Ok(_) => break,
                Err(e) if tokio::time::Instant::now() > deadline => {
                    return Err(e.context(format!("syncing {name}")));
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(300)).await,
            }
        }
        self.wait_for_operation(name, |state| {
            state["syncResult"]["revision"] == revision
                && state["operation"]["initiatedBy"]["automated"] != true
        })
        .await
    }

    /// Waits until the app has no operation pending and its last operation matches `which` and
    /// has completed; fails unless it succeeded. Returns the Application.
    pub async fn wait_for_operation(
        &self,
        name: &str,
        which: impl Fn(&Value) -> bool,
    ) -> anyhow::Result<Value> {
        let mut last = Value::Null;
        let outcome = tokio::time::timeout(SETTLE_TIMEOUT, async {
            loop {
                let app = self.application(name).await?;
                let state = &app["status"]["operationState"];
                let phase = state["phase"].as_str().unwrap_or_default();
                if app.get("operation").is_none() && which(state) {
                    match phase {
                        "Succeeded" => return Ok(app),
                        "Failed" | "Error" => {
                            bail!("{name}: operation {phase}: {}", state["message"])
                        }
                        _ => {}
                    }
                }
                last = app;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        })
        .await;
        match outcome {
            Ok(result) => result,
            Err(_) => bail!(
                "{name}: operation not finished after {SETTLE_TIMEOUT:?}; last status: {}",
                last["status"]
            ),
        }
    }

    /// Refreshes until Argo CD's verdict is about the cluster as it is now: every resource of
    /// the app is in `managed-resources` with the live `resourceVersion` (or absent live and
    /// `liveState: null`), and no operation is pending. Returns the Application and the items.
    pub async fn settle(&self, name: &str) -> anyhow::Result<(Value, Vec<Value>)> {
        let mut why = String::new();
        let outcome = tokio::time::timeout(SETTLE_TIMEOUT, async {
            loop {
                self.refresh(name).await?;
                let app = self.application(name).await?;
                let items = self.managed_resources(name).await?;
                match self.stale_items(&app, &items).await? {
                    None => return Ok::<_, anyhow::Error>((app, items)),
                    Some(reason) => why = reason,
                }
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        })
        .await;
        match outcome {
            Ok(result) => result,
            Err(_) => bail!("{name}: not settled after {SETTLE_TIMEOUT:?}: {why}"),
        }
    }

    /// Why Argo CD's last comparison may not reflect the cluster, or `None`.
    async fn stale_items(&self, app: &Value, items: &[Value]) -> anyhow::Result<Option<String>> {
        if app.get("operation").is_some() || app["status"]["operationState"]["phase"] == "Running" {
            return Ok(Some("an operation is running".into()));
        }
        let resources = app["status"]["resources"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if resources.len() != items.len() {
            return Ok(Some(format!(
                "{} resources in status, {} in managed-resources",
                resources.len(),
                items.len()
            )));
        }
        for item in items {
            let key = ResourceKey::of_entry(item);
            let Some(entry) = resources.iter().find(|r| ResourceKey::of_entry(r) == key) else {
                return Ok(Some(format!("{key}: in managed-resources, not in status")));
            };
            let live = self.live_object(entry).await?;
            let seen = item["resourceVersion"].as_str().unwrap_or_default();
            let now = live
                .as_ref()
                .and_then(|o| o["metadata"]["resourceVersion"].as_str())
                .unwrap_or_default();
            if seen != now {
                return Ok(Some(format!(
                    "{key}: Argo CD compared resourceVersion {seen:?}, live is {now:?}"
                )));
            }
        }
        Ok(None)
    }

    /// The live object of a `status.resources` entry (which carries the version), or `None`.
    pub async fn live_object(&self, entry: &Value) -> anyhow::Result<Option<Value>> {
        let key = ResourceKey::of_entry(entry);
        let version = entry["version"]
            .as_str()
            .with_context(|| format!("{key}: no version in the entry"))?;
        let resource =
            ApiResource::from_gvk(&GroupVersionKind::gvk(&key.group, version, &key.kind));
        let api: Api<DynamicObject> = if key.namespace.is_empty() {
            Api::all_with(self.kube.clone(), &resource)
        } else {
            Api::namespaced_with(self.kube.clone(), &key.namespace, &resource)
        };
        Ok(match api.get_opt(&key.name).await? {
            Some(obj) => {
                let mut obj = serde_json::to_value(obj)?;
                obj["apiVersion"] = json!(resource.api_version);
                obj["kind"] = json!(resource.kind);
                Some(obj)
            }
            None => None,
        })
    }
}
