//! A Kubernetes API server for one test: the fake, or a namespace-isolated slice of a real one.

use crate::fixtures::{fixture_dir, load_fixture_dir, project_crd_dir, remap_namespaces};
use crate::recording::Recording;
use anyhow::{Context, bail};
use fake_apiserver::FakeApiServer;
use kube::api::{Api, DynamicObject, GroupVersionKind, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::discovery::{ApiResource, Scope, pinned_kind};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Which API server a [`TestCluster`] talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Fake,
    Real,
}

/// Bearer token of the fake API server in tests.
const FAKE_TOKEN: &str = "fake-apiserver-admin-token";
/// Field manager of objects the tests create as fixtures.
pub const FIXTURE_MANAGER: &str = "argocd-drift-fixtures";

pub struct TestCluster {
    backend: Backend,
    fake: Option<FakeApiServer>,
    /// Admin access, for the test itself.
    kubeconfig_path: PathBuf,
    /// What the process under test uses, when it differs from the admin's.
    process_kubeconfig: Option<PathBuf>,
    // Keeps the fake's kubeconfig file alive.
    _kubeconfig_file: Option<tempfile::NamedTempFile>,
    suffix: String,
}

impl TestCluster {
    /// The backend chosen by `DRIFT_TEST_CLUSTER` (`fake`, the default, or `real`).
    pub async fn start() -> anyhow::Result<TestCluster> {
        match std::env::var("DRIFT_TEST_CLUSTER").as_deref() {
            Ok("real") => TestCluster::real().await,
            Ok("fake") | Err(_) => TestCluster::fake().await,
            Ok(other) => bail!("DRIFT_TEST_CLUSTER={other:?}: expected fake or real"),
        }
    }

    /// A fresh fake API server (TLS, bearer token) with the Argo CD CRDs and the project's own
    /// installed.
    pub async fn fake() -> anyhow::Result<TestCluster> {
        TestCluster::fake_with(|b| b).await
    }

    /// A fake API server with extra builder settings (forbidden kinds, bookmark interval…).
    pub async fn fake_with(
        configure: impl FnOnce(fake_apiserver::Builder) -> fake_apiserver::Builder,
    ) -> anyhow::Result<TestCluster> {
        let builder = FakeApiServer::builder()
            .tls(true)
            .token(FAKE_TOKEN)
            .seed_dir(fixture_dir("crds"))
            .seed_dir(project_crd_dir());
        let fake = configure(builder)
            .start()
            .await
            .context("starting the fake API server")?;
        let mut file = tempfile::NamedTempFile::new()?;
        std::io::Write::write_all(&mut file, fake.kubeconfig_yaml().as_bytes())?;
        Ok(TestCluster {
            backend: Backend::Fake,
            kubeconfig_path: file.path().to_path_buf(),
            process_kubeconfig: None,
            _kubeconfig_file: Some(file),
            fake: Some(fake),
            suffix: unique_suffix(),
        })
    }

    /// The real API server `make test-real` started; its CRDs are installed once per process.
    pub async fn real() -> anyhow::Result<TestCluster> {
        let path = std::env::var_os("DRIFT_TEST_KUBECONFIG")
            .map(PathBuf::from)
            .context(
                "DRIFT_TEST_CLUSTER=real needs DRIFT_TEST_KUBECONFIG (run `make test-real`)",
            )?;
        let cluster = TestCluster {
            backend: Backend::Real,
            fake: None,
            kubeconfig_path: path,
            process_kubeconfig: None,
            _kubeconfig_file: None,
            suffix: unique_suffix(),
        };
        cluster.ensure_crds().await?;
        Ok(cluster)
    }

    /// A cluster on which the process under test may not list Applications: on the fake, the
    /// resource is forbidden; on the real server, [`kubeconfig_path`](Self::kubeconfig_path) is
    /// the non-admin user's (no RBAC bindings), while [`client`](Self::client) stays admin.
    pub async fn start_unprivileged() -> anyhow::Result<TestCluster> {
        match std::env::var("DRIFT_TEST_CLUSTER").as_deref() {
            Ok("real") => {
                let mut cluster = TestCluster::real().await?;
                cluster.process_kubeconfig = Some(cluster.user_kubeconfig()?);
                Ok(cluster)
            }
            _ => TestCluster::fake_with(|b| b.forbid("argoproj.io", "applications")).await,
        }
    }

    /// The real server's non-admin user (`drift-user`, group `drift-users`), written by
    /// `real-kube.sh start` next to the admin kubeconfig.
    pub fn user_kubeconfig(&self) -> anyhow::Result<PathBuf> {
        let dir = self
            .kubeconfig_path
            .parent()
            .context("kubeconfig has no directory")?;
        let path = dir.join("kubeconfig-user");
        anyhow::ensure!(
            path.exists(),
            "{} not found (a real cluster from real-kube.sh has it)",
            path.display()
        );
        Ok(path)
    }

    /// Stops the real cluster's kube-apiserver and starts it again on the same address (etcd and
    /// every object kept; `real-kube.sh restart-apiserver`), returning once it is ready. Only a
    /// real cluster restarts; every other test of the process sees the outage too.
    pub async fn restart_apiserver(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.backend == Backend::Real,
            "only a real API server restarts"
        );
        let dir = self
            .kubeconfig_path
            .parent()
            .context("kubeconfig has no directory")?
            .to_path_buf();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("real-kube.sh");
        let out = tokio::task::spawn_blocking(move || {
            std::process::Command::new(script)
                .arg("restart-apiserver")
                .arg(&dir)
                .output()
        })
        .await?
        .context("running real-kube.sh restart-apiserver")?;
        anyhow::ensure!(
            out.status.success(),
            "real-kube.sh restart-apiserver failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(())
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The fake server, for fault injection; `None` on a real cluster.
    pub fn fake_server(&self) -> Option<&FakeApiServer> {
        self.fake.as_ref()
    }

    /// A kubeconfig file for the process under test.
    pub fn kubeconfig_path(&self) -> &Path {
        self.process_kubeconfig
            .as_deref()
            .unwrap_or(&self.kubeconfig_path)
    }

    /// A client for the test itself. Create one per test: a client belongs to the runtime it was
    /// created on.
    pub async fn client(&self) -> anyhow::Result<kube::Client> {
        let file = Kubeconfig::read_from(&self.kubeconfig_path)?;
        let config =
            kube::Config::from_custom_kubeconfig(file, &KubeConfigOptions::default()).await?;
        Ok(kube::Client::try_from(config)?)
    }

    /// This test's name for a fixture namespace: `argocd` → `argocd-k3x9q`.
    pub fn ns(&self, base: &str) -> String {
        format!("{base}-{}", self.suffix)
    }

    /// Creates every object of `fixtures/<name>` under this test's namespace names. Namespaces
    /// go first; objects are created as the fixtures give them, `status` included.
    pub async fn apply_fixtures(&self, name: &str) -> anyhow::Result<Vec<Value>> {
        let objects = load_fixture_dir(&fixture_dir(name))?;
        self.create_objects(objects).await
    }

    /// Creates objects (namespaces first) under this test's namespace names.
    pub async fn create_objects(&self, mut objects: Vec<Value>) -> anyhow::Result<Vec<Value>> {
        let map = self.namespace_map(&objects);
        for obj in &mut objects {
            remap_namespaces(obj, &map);
            strip_allocated(obj);
        }
        objects.sort_by_key(|o| o["kind"] != "Namespace");
        let client = self.client().await?;
        let mut resources: HashMap<String, (ApiResource, Scope)> = HashMap::new();
        let mut created = Vec::with_capacity(objects.len());
        for obj in objects {
            let api = api_for(&client, &mut resources, &obj).await?;
            let dynamic: DynamicObject = serde_json::from_value(obj.clone())?;
            let params = PostParams {
                field_manager: Some(FIXTURE_MANAGER.to_string()),
                ..Default::default()
            };
            let made = api
                .create(&params, &dynamic)
                .await
                .with_context(|| format!("creating {} {}", obj["kind"], obj["metadata"]["name"]))?;
            created.push(serde_json::to_value(made)?);
        }
        Ok(created)
    }

    /// Every namespace the objects mention gets this test's suffix.
    fn namespace_map(&self, objects: &[Value]) -> HashMap<String, String> {
        let mut map = HashMap::new();
        for obj in objects {
            let named = if obj["kind"] == "Namespace" {
                obj["metadata"]["name"].as_str()
            } else {
                obj["metadata"]["namespace"].as_str()
            };
            if let Some(ns) = named {
                map.insert(ns.to_string(), self.ns(ns));
            }
        }
        map
    }

    /// Installs the Argo CD CRDs on the real server once per test process and waits until the
    /// API serves them.
    async fn ensure_crds(&self) -> anyhow::Result<()> {
        static INSTALLED: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
        let path = self.kubeconfig_path.clone();
        // Each test has its own runtime; install on a dedicated one so the result outlives it.
        let result = INSTALLED.get_or_init(|| {
            std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| e.to_string())?;
                runtime
                    .block_on(install_crds(&path))
                    .map_err(|e| format!("{e:#}"))
            })
            .join()
            .unwrap_or_else(|_| Err("CRD installer panicked".into()))
        });
        result
            .clone()
            .map_err(|e| anyhow::anyhow!("installing CRDs on the real API server: {e}"))
    }
}

/// One [`Recording`] seeded into a [`TestCluster`], under this test's namespace names.
#[derive(Clone, Debug)]
pub struct Seeded {
    /// Recorded namespace → this cluster's (`argocd` → `argocd-k3x9q`).
    pub namespaces: HashMap<String, String>,
    /// The Application as the cluster holds it now.
    pub application: Value,
    /// The live objects as the cluster holds them now, in the recording's order.
    pub objects: Vec<Value>,
}

impl TestCluster {
    /// Seeds the cluster with one recording of a real Argo CD: its prerequisites (a CRD), the
    /// namespaces it uses (renamed with [`ns`](Self::ns)), the Application with its `status`, and
    /// the live objects with their recorded `managedFields`, annotations and `status`.
    ///
    /// On the fake, objects are stored exactly as recorded (uid and times included). On a real
    /// server, each object is created, its `status` written through the subresource, and then
    /// replaced with the recorded `managedFields` — an update that changes nothing else keeps the
    /// `managedFields` it is given, times included; uid, `creationTimestamp` and
    /// `resourceVersion` are the new server's.
    pub async fn seed_recording(&self, recording: &Recording) -> anyhow::Result<Seeded> {
        let mut objects: Vec<Value> = std::iter::once(recording.application.clone())
            .chain(recording.live.iter().cloned())
            .collect();
        let mut namespaces: Vec<String> = objects
            .iter()
            .filter_map(|o| o["metadata"]["namespace"].as_str().map(str::to_string))
            .collect();
        namespaces.sort();
        namespaces.dedup();
        let map: HashMap<String, String> = namespaces
            .iter()
            .map(|ns| (ns.clone(), self.ns(ns)))
            .collect();
        for obj in &mut objects {
            remap_namespaces(obj, &map);
            if let Some(meta) = obj["metadata"].as_object_mut() {
                meta.remove("resourceVersion");
            }
        }
        let namespace_object = |ns: &String| json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}});
        let stored = match &self.fake {
            Some(fake) => {
                let namespace_objects: Vec<Value> = map.values().map(namespace_object).collect();
                for obj in recording.prerequisites.iter().chain(&namespace_objects) {
                    fake.store()
                        .upsert(obj.clone())
                        .map_err(|e| anyhow::anyhow!("seeding {}: {e}", obj["metadata"]["name"]))?;
                }
                let mut stored = Vec::new();
                for obj in objects {
                    stored.push(fake.store().upsert(obj.clone()).map_err(|e| {
                        anyhow::anyhow!("seeding {}: {e}", obj["metadata"]["name"])
                    })?);
                }
                stored
            }
            None => {
                let client = self.client().await?;
                for crd in &recording.prerequisites {
                    ensure_prerequisite(&client, crd).await?;
                }
                // Several recordings may share a namespace (`argocd`): create the missing ones,
                // under the recorded names (create_objects renames them).
                let existing: Api<DynamicObject> = Api::all_with(
                    client.clone(),
                    &ApiResource::from_gvk(&GroupVersionKind::gvk("", "v1", "Namespace")),
                );
                let mut missing = Vec::new();
                for (recorded, here) in &map {
                    if existing.get_opt(here).await?.is_none() {
                        missing.push(namespace_object(recorded));
                    }
                }
                self.create_objects(missing).await?;
                let mut stored = Vec::new();
                for obj in objects {
                    stored.push(seed_real(&client, obj).await?);
                }
                stored
            }
        };
        let mut stored = stored.into_iter();
        let application = stored.next().context("nothing seeded")?;
        Ok(Seeded {
            namespaces: map,
            application,
            objects: stored.collect(),
        })
    }
}

/// Creates a recorded prerequisite (a CRD) unless an object of that name exists, then waits
/// until discovery serves every kind it defines.
async fn ensure_prerequisite(client: &kube::Client, obj: &Value) -> anyhow::Result<()> {
    let mut resources = HashMap::new();
    let api = api_for(client, &mut resources, obj).await?;
    let name = obj["metadata"]["name"]
        .as_str()
        .context("prerequisite without a name")?;
    if api.get_opt(name).await?.is_none() {
        let mut fresh = obj.clone();
        strip_server_fields(&mut fresh);
        api.create(
            &PostParams {
                field_manager: Some(FIXTURE_MANAGER.to_string()),
                ..Default::default()
            },
            &serde_json::from_value(fresh)?,
        )
        .await
        .with_context(|| format!("creating {name}"))?;
    }
    if obj["kind"] == "CustomResourceDefinition" {
        let group = obj["spec"]["group"].as_str().unwrap_or_default();
        let kind = obj["spec"]["names"]["kind"].as_str().unwrap_or_default();
        for version in obj["spec"]["versions"].as_array().into_iter().flatten() {
            let gvk =
                GroupVersionKind::gvk(group, version["name"].as_str().unwrap_or_default(), kind);
            let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
            while pinned_kind(client, &gvk).await.is_err() {
                if tokio::time::Instant::now() > deadline {
                    bail!("{kind} of {name} not served after 30 s");
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    Ok(())
}

/// Creates a recorded object on a real server, writes its status, then sets its recorded
/// `managedFields` with an update that changes nothing else.
async fn seed_real(client: &kube::Client, recorded: Value) -> anyhow::Result<Value> {
    let mut resources = HashMap::new();
    let api = api_for(client, &mut resources, &recorded).await?;
    let name = recorded["metadata"]["name"]
        .as_str()
        .context("object without a name")?
        .to_string();
    let mut fresh = recorded.clone();
    strip_server_fields(&mut fresh);
    strip_allocated(&mut fresh);
    let params = PostParams {
        field_manager: Some(FIXTURE_MANAGER.to_string()),
        ..Default::default()
    };
    let mut current = serde_json::to_value(
        api.create(&params, &serde_json::from_value(fresh)?)
            .await
            .with_context(|| format!("creating {} {name}", recorded["kind"]))?,
    )?;
    if let Some(status) = recorded.get("status")
        && current.get("status") != Some(status)
    {
        let mut with_status = current.clone();
        with_status["status"] = status.clone();
        match api
            .replace_status(&name, &params, &serde_json::from_value(with_status)?)
            .await
        {
            Ok(obj) => current = serde_json::to_value(obj)?,
            // No status subresource: the create kept it.
            Err(kube::Error::Api(e)) if e.code == 404 => {}
            Err(e) => return Err(e).with_context(|| format!("status of {name}")),
        }
    }
    current["metadata"]["managedFields"] = recorded["metadata"]["managedFields"].clone();
    let replaced = api
        .replace(&name, &params, &serde_json::from_value(current)?)
        .await
        .with_context(|| format!("setting the managedFields of {name}"))?;
    let mut obj = serde_json::to_value(replaced)?;
    obj["apiVersion"] = recorded["apiVersion"].clone();
    obj["kind"] = recorded["kind"].clone();
    Ok(obj)
}

/// Drops what the server sets on every object (a create must not carry it).
fn strip_server_fields(obj: &mut Value) {
    if let Some(meta) = obj["metadata"].as_object_mut() {
        for field in [
            "uid",
            "resourceVersion",
            "creationTimestamp",
            "generation",
            "managedFields",
        ] {
            meta.remove(field);
        }
    }
}

/// Removes what a server allocates per cluster, which a recorded object carries but a new one
/// cannot ask for (a real server refuses a Service whose recorded `clusterIP` is taken).
fn strip_allocated(obj: &mut Value) {
    if obj["kind"] == "Service"
        && let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut)
    {
        spec.remove("clusterIP");
        spec.remove("clusterIPs");
    }
}

async fn install_crds(kubeconfig: &Path) -> anyhow::Result<()> {
    let file = Kubeconfig::read_from(kubeconfig)?;
    let client = kube::Client::try_from(
        kube::Config::from_custom_kubeconfig(file, &KubeConfigOptions::default()).await?,
    )?;
    let crd_resource = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("apiextensions.k8s.io", "v1", "CustomResourceDefinition"),
        "customresourcedefinitions",
    );
    let api: Api<DynamicObject> = Api::all_with(client.clone(), &crd_resource);
    let mut crds = load_fixture_dir(&fixture_dir("crds"))?;
    crds.extend(load_fixture_dir(&project_crd_dir())?);
    for crd in crds {
        let name = crd["metadata"]["name"]
            .as_str()
            .context("CRD without a name")?
            .to_string();
        if api.get_opt(&name).await?.is_none() {
            let dynamic: DynamicObject = serde_json::from_value(crd)?;
            api.create(&PostParams::default(), &dynamic)
                .await
                .with_context(|| format!("creating CRD {name}"))?;
        }
    }
    // Discovery lags CRD creation a little; wait until every kind resolves.
    for (group, kind) in [
        ("argoproj.io", "Application"),
        ("argoproj.io", "AppProject"),
        ("argocd-drift.io", "DriftReport"),
    ] {
        let gvk = GroupVersionKind::gvk(group, "v1alpha1", kind);
        let mut tries = 0;
        while pinned_kind(&client, &gvk).await.is_err() {
            tries += 1;
            if tries > 100 {
                bail!("{kind} CRD not served after 10 s");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    Ok(())
}

async fn api_for(
    client: &kube::Client,
    cache: &mut HashMap<String, (ApiResource, Scope)>,
    obj: &Value,
) -> anyhow::Result<Api<DynamicObject>> {
    let api_version = obj["apiVersion"]
        .as_str()
        .context("object without apiVersion")?;
    let kind = obj["kind"].as_str().context("object without kind")?;
    let key = format!("{api_version}/{kind}");
    if !cache.contains_key(&key) {
        let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
        let (resource, caps) = pinned_kind(client, &GroupVersionKind::gvk(group, version, kind))
            .await
            .with_context(|| format!("discovering {key}"))?;
        cache.insert(key.clone(), (resource, caps.scope));
    }
    let (resource, scope) = &cache[&key];
    Ok(match (scope, obj["metadata"]["namespace"].as_str()) {
        (Scope::Namespaced, Some(ns)) => Api::namespaced_with(client.clone(), ns, resource),
        (Scope::Namespaced, None) => bail!("{key} {} needs a namespace", obj["metadata"]["name"]),
        (Scope::Cluster, _) => Api::all_with(client.clone(), resource),
    })
}

/// Six lowercase characters unique within this process and unlikely across processes.
fn unique_suffix() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = jiff::Timestamp::now().as_nanosecond() as u64;
    let mut x = (nanos ^ (u64::from(std::process::id()) << 20))
        .wrapping_add(n.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let alphabet = b"abcdefghijklmnopqrstuvwxyz0123456789";
    (0..6)
        .map(|_| {
            let c = alphabet[(x % 36) as usize] as char;
            x /= 36;
            c
        })
        .collect()
}
