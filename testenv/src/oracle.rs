//! Drift scenarios played for real against a real Argo CD control plane (see [`crate::argocd`]):
//! each scenario is an Application that the real application-controller syncs from the local Git
//! repository, then changed the way it happens in life — by people and controllers writing to the
//! kube-apiserver under their own field managers, or by a commit to Git. Once Argo CD has compared
//! the app with the cluster as it is, the scenario is recorded ([`Recording`]) together with what
//! it *intended* for each resource ([`Expected`]), so that Argo CD's verdict can be checked
//! against the intent.
//!
//! | scenario | what happens |
//! |---|---|
//! | `csa-manual-edits` | client-side apply (Argo CD's default); `kubectl edit` of replicas, `kubectl set image`, a policy engine's label, a webhook-like env var |
//! | `ssa-other-manager` | `ServerSideApply=true`; `kubectl edit` of a ConfigMap value, another manager's forced server-side apply |
//! | `ignore-differences` | `spec.ignoreDifferences`: replicas through the `scale` subresource (managedFieldsManagers), a jq rule, a JSON pointer rule, and one change no rule covers |
//! | `secret-changed` | a Secret's key changed live |
//! | `custom-resource` | a custom resource (CRD installed by the scenario): field, list and `/status` changed |
//! | `live-deleted` | a live object deleted |
//! | `extra-needs-pruning` | a file removed from Git and synced without pruning |
//! | `git-ahead` | a commit not synced yet: nothing changed live |
//! | `self-heal` | automated sync with `selfHeal`: drift appears, Argo CD reverts it |
//! | `kubectl-apply-by-person` | a person's `kubectl apply -f` of an edited copy rewrites the last-applied annotation |
//! | `shared-object` | a second app renders the same ConfigMap and syncs it last: its tracking id and record |
//! | `replace-sync` | `Replace=true`: no last-applied annotation; then `kubectl edit` |
//! | `server-side-diff` | `compare-options: ServerSideDiff=true`: Argo CD asks the API server for a dry-run apply |
//! | `system-ignore-managers` | argocd-cm's `managedFieldsManagers` under `.all` (ignored) and under the core kind's split key (never applied) |

use crate::argocd::{ArgoCd, ResourceKey};
use crate::cluster::FIXTURE_MANAGER;
use crate::git::Change;
use crate::recording::{Cause, Expected, Recording, Versions, is_diff_setting};
use crate::scenario::Tools;
use anyhow::{Context, bail};
use base64::Engine;
use jiff::Timestamp;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, PostParams};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

/// Every scenario, in the order the files are listed.
pub const SCENARIOS: &[&str] = &[
    "csa-manual-edits",
    "ssa-other-manager",
    "ignore-differences",
    "secret-changed",
    "custom-resource",
    "live-deleted",
    "extra-needs-pruning",
    "git-ahead",
    "self-heal",
    "kubectl-apply-by-person",
    "shared-object",
    "replace-sync",
    "server-side-diff",
    "system-ignore-managers",
];

/// Every Secret value a scenario writes, in plain text (`fixture-secret-values.json`).
pub const SECRET_VALUES: &[&str] = &[DB_USER, DB_PASSWORD_GIT, DB_PASSWORD_LIVE];
const DB_USER: &str = "fixture-db-user";
const DB_PASSWORD_GIT: &str = "fixture-db-password-v1";
const DB_PASSWORD_LIVE: &str = "fixture-db-password-v2-live";

const WIDGET_CRD: &str = "widgets.fixtures.argocd-drift.io";
const WIDGET_API: &str = "fixtures.argocd-drift.io/v1";

/// Plays scenarios on one control plane.
#[derive(Clone)]
pub struct Player {
    argocd: ArgoCd,
    tools: Tools,
    versions: Versions,
}

impl Player {
    pub async fn new(argocd: ArgoCd) -> anyhow::Result<Player> {
        let kube = argocd.kube();
        let kubernetes = kube
            .apiserver_version()
            .await
            .context("reaching the kube-apiserver")?
            .git_version;
        let argocd_version = argocd.env("ARGOCD_VERSION")?.to_string();
        Ok(Player {
            tools: Tools::new(kube),
            versions: Versions {
                argocd: argocd_version,
                kubernetes,
            },
            argocd,
        })
    }

    /// Plays the named scenarios concurrently (each has its own app, namespace and directory
    /// in Git) and returns their recordings, in the order asked.
    pub async fn play_all(&self, names: &[&str]) -> Vec<(String, anyhow::Result<Recording>)> {
        let player = Arc::new(self.clone());
        let mut tasks = tokio::task::JoinSet::new();
        for (i, name) in names.iter().enumerate() {
            let (player, name) = (Arc::clone(&player), name.to_string());
            tasks.spawn(async move {
                let started = std::time::Instant::now();
                let result = player.play(&name).await;
                eprintln!(
                    "scenario {name}: {} in {:.1} s",
                    if result.is_ok() { "recorded" } else { "FAILED" },
                    started.elapsed().as_secs_f64()
                );
                (i, name, result)
            });
        }
        let mut done = Vec::new();
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok(result) => done.push(result),
                Err(e) => done.push((usize::MAX, "?".into(), Err(anyhow::anyhow!("{e}")))),
            }
        }
        done.sort_by_key(|(i, _, _)| *i);
        done.into_iter().map(|(_, n, r)| (n, r)).collect()
    }

    /// Plays one scenario and records it.
    pub async fn play(&self, name: &str) -> anyhow::Result<Recording> {
        let s = Stage {
            player: self,
            name: name.to_string(),
        };
        match name {
            "csa-manual-edits" => s.csa_manual_edits().await,
            "ssa-other-manager" => s.ssa_other_manager().await,
            "ignore-differences" => s.ignore_differences().await,
            "secret-changed" => s.secret_changed().await,
            "custom-resource" => s.custom_resource().await,
            "live-deleted" => s.live_deleted().await,
            "extra-needs-pruning" => s.extra_needs_pruning().await,
            "git-ahead" => s.git_ahead().await,
            "self-heal" => s.self_heal().await,
            "kubectl-apply-by-person" => s.kubectl_apply_by_person().await,
            "shared-object" => s.shared_object().await,
            "replace-sync" => s.replace_sync().await,
            "server-side-diff" => s.server_side_diff().await,
            "system-ignore-managers" => s.system_ignore_managers().await,
            other => bail!("no scenario {other:?} (known: {})", SCENARIOS.join(", ")),
        }
        .with_context(|| format!("scenario {name}"))
    }
}

/// How the first sync of an app happens.
#[derive(Clone, Copy, PartialEq, Eq)]
enum FirstSync {
    /// `argocd app sync` by the `operator` account.
    Manual,
    /// The app's automated sync policy.
    Automated,
}

/// One scenario being played: its app, namespace (both named after the scenario) and
/// directory `apps/<name>/` in Git.
struct Stage<'a> {
    player: &'a Player,
    name: String,
}

impl Stage<'_> {
    fn ns(&self) -> &str {
        &self.name
    }

    fn tools(&self) -> &Tools {
        &self.player.tools
    }

    fn argocd(&self) -> &ArgoCd {
        &self.player.argocd
    }

    fn key(&self, group: &str, kind: &str, name: &str) -> String {
        ResourceKey {
            group: group.into(),
            kind: kind.into(),
            namespace: self.ns().into(),
            name: name.into(),
        }
        .to_string()
    }

    fn file(&self, file: &str) -> String {
        format!("apps/{}/{file}", self.name)
    }

    /// Commits `files` under `apps/<name>/`, creates the destination namespace and the
    /// Application (with `spec` merged into the usual one), and waits for its first sync to
    /// succeed. Returns the synced commit.
    async fn deploy(
        &self,
        files: &[(&str, String)],
        spec: Value,
        first: FirstSync,
    ) -> anyhow::Result<String> {
        self.tools().create_namespace(self.ns()).await?;
        self.deploy_app(&self.name, files, spec, json!({}), first)
            .await
    }

    /// [`Stage::deploy`] of an app named `app` (files under `apps/<app>/`, Application
    /// `annotations`) into the scenario's namespace, which must exist.
    async fn deploy_app(
        &self,
        app_name: &str,
        files: &[(&str, String)],
        spec: Value,
        annotations: Value,
        first: FirstSync,
    ) -> anyhow::Result<String> {
        let changes = files
            .iter()
            .map(|(f, text)| Change::Write(format!("apps/{app_name}/{f}"), text.clone()))
            .collect();
        let sha = self
            .argocd()
            .git
            .commit(&format!("{app_name}: first version"), changes)
            .await?;
        let mut app = json!({
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Application",
            "metadata": {"name": app_name, "namespace": self.argocd().namespace(), "annotations": annotations},
            "spec": {
                "project": "default",
                "source": {"repoURL": self.argocd().env("ARGOCD_GIT_URL")?, "targetRevision": "HEAD", "path": format!("apps/{app_name}")},
                "destination": {"server": self.argocd().env("ARGOCD_IN_CLUSTER_URL")?, "namespace": self.ns()}
            }
        });
        if let (Some(target), Some(extra)) = (app["spec"].as_object_mut(), spec.as_object()) {
            target.extend(extra.clone());
        }
        self.argocd().create_application(app).await?;
        match first {
            FirstSync::Manual => {
                self.argocd().sync(app_name, &sha, false).await?;
            }
            // At whatever HEAD was when the controller looked: other scenarios commit too
            // (to other directories), so it may be later than `sha`.
            FirstSync::Automated => {
                self.argocd()
                    .wait_for_operation(app_name, |state| {
                        state["operation"]["initiatedBy"]["automated"] == true
                    })
                    .await?;
            }
        }
        Ok(sha)
    }

    /// Waits until Argo CD has compared the app with the cluster as it is, then records it.
    async fn record(
        &self,
        description: &str,
        expected: Vec<(String, Expected)>,
        prerequisites: Vec<Value>,
    ) -> anyhow::Result<Recording> {
        let (application, mut items) = self.argocd().settle(&self.name).await?;
        let mut live = Vec::new();
        for entry in application["status"]["resources"]
            .as_array()
            .into_iter()
            .flatten()
        {
            if let Some(obj) = self.argocd().live_object(entry).await? {
                live.push(obj);
            }
        }
        live.sort_by_key(|o| ResourceKey::of_object(o).to_string());
        items.sort_by_key(|i| ResourceKey::of_entry(i).to_string());
        let cm: Api<ConfigMap> = Api::namespaced(self.argocd().kube(), self.argocd().namespace());
        let argocd_cm = cm
            .get("argocd-cm")
            .await
            .context("reading argocd-cm")?
            .data
            .unwrap_or_default()
            .into_iter()
            .filter(|(k, _)| is_diff_setting(k))
            .collect();
        Ok(Recording {
            scenario: self.name.clone(),
            description: description.split_whitespace().collect::<Vec<_>>().join(" "),
            versions: self.player.versions.clone(),
            application,
            live,
            managed_resources: items,
            prerequisites,
            argocd_cm,
            expected: expected.into_iter().collect(),
        })
    }

    // === the scenarios ===

    async fn csa_manual_edits(&self) -> anyhow::Result<Recording> {
        let ns = self.ns();
        self.deploy(
            &[
                (
                    "configmap.yaml",
                    configmap(
                        "web-config",
                        &[("LOG_LEVEL", "info"), ("GREETING", "hello")],
                    ),
                ),
                (
                    "deployment.yaml",
                    deployment("web", "registry.example.com/shop/web:1.4.0", 2),
                ),
                ("service.yaml", service("web")),
            ],
            json!({}),
            FirstSync::Manual,
        )
        .await?;
        let t = self.tools();
        t.kubectl_edit(
            ns,
            "apps/v1",
            "Deployment",
            "web",
            json!({"spec": {"replicas": 4}}),
        )
        .await?;
        t.kubectl_set_image(
            ns,
            "web",
            "web",
            "registry.example.com/shop/web:1.4.1-hotfix",
        )
        .await?;
        t.policy_label_on(
            ns,
            "v1",
            "Service",
            "web",
            ("policy.example.com/owner", "team-web"),
        )
        .await?;
        t.patch_as(
            "sidecar-injector",
            ns,
            "apps/v1",
            "Deployment",
            "web",
            kube::api::Patch::Strategic(json!({"spec": {"template": {"spec": {"containers": [
                {"name": "web", "env": [{"name": "OTEL_TRACES_SAMPLER", "value": "parentbased_always_on"}]}
            ]}}}})),
        )
        .await?;
        self.record(
            "Argo CD syncs a Deployment, a Service and a ConfigMap with client-side apply (its default). \
             Then someone runs `kubectl edit` on the Deployment's replicas (manager kubectl-edit) and \
             `kubectl set image` (kubectl-set); a policy engine labels the Service (kyverno, merge patch); \
             a webhook-like controller adds an env var to the container (sidecar-injector, strategic merge patch).",
            vec![
                (
                    self.key("apps", "Deployment", "web"),
                    Expected::out_of_sync(
                        Cause::LiveChanged,
                        &["/spec/replicas", "/spec/template/spec/containers/0/image"],
                    )
                    .with_added(&["/spec/template/spec/containers/0/env/0"]),
                ),
                (
                    self.key("", "Service", "web"),
                    Expected::synced().with_added(&["/metadata/labels/policy.example.com~1owner"]),
                ),
                (self.key("", "ConfigMap", "web-config"), Expected::synced()),
            ],
            vec![],
        )
        .await
    }

    async fn ssa_other_manager(&self) -> anyhow::Result<Recording> {
        let ns = self.ns();
        self.deploy(
            &[
                (
                    "configmap.yaml",
                    configmap("api-config", &[("LOG_LEVEL", "info"), ("POOL_SIZE", "10")]),
                ),
                (
                    "deployment.yaml",
                    deployment("api", "registry.example.com/shop/api:2.0.3", 2),
                ),
                (
                    "flags.yaml",
                    configmap("api-flags", &[("NEW_CHECKOUT", "off")]),
                ),
            ],
            json!({"syncPolicy": {"syncOptions": ["ServerSideApply=true"]}}),
            FirstSync::Manual,
        )
        .await?;
        let t = self.tools();
        t.kubectl_edit(
            ns,
            "v1",
            "ConfigMap",
            "api-config",
            json!({"data": {"LOG_LEVEL": "debug"}}),
        )
        .await?;
        t.apply_as(
            "platform-operator",
            &json!({
                "apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": "api", "namespace": ns,
                             "annotations": {"platform.example.com/cost-center": "retail"}},
                "spec": {"template": {"spec": {"containers": [
                    {"name": "api", "resources": {"limits": {"memory": "512Mi"}}}
                ]}}}
            }),
        )
        .await?;
        self.record(
            "An app with the sync option ServerSideApply=true: Argo CD applies as argocd-controller \
             (operation Apply). Then `kubectl edit` changes a ConfigMap value (kubectl-edit, Update), and \
             a platform operator server-side applies (platform-operator, force) a Deployment with a higher \
             memory limit and a new annotation. A third object stays untouched.",
            vec![
                (
                    self.key("", "ConfigMap", "api-config"),
                    Expected::out_of_sync(Cause::LiveChanged, &["/data/LOG_LEVEL"]),
                ),
                (
                    self.key("apps", "Deployment", "api"),
                    Expected::out_of_sync(
                        Cause::LiveChanged,
                        &["/spec/template/spec/containers/0/resources/limits/memory"],
                    )
                    .with_added(&["/metadata/annotations/platform.example.com~1cost-center"]),
                ),
                (self.key("", "ConfigMap", "api-flags"), Expected::synced()),
            ],
            vec![],
        )
        .await
    }

    async fn ignore_differences(&self) -> anyhow::Result<Recording> {
        let ns = self.ns();
        self.deploy(
            &[
                ("configmap.yaml", configmap("worker-config", &[("LOG_LEVEL", "info"), ("tuning", "batch=100")])),
                ("deployment.yaml", deployment("worker", "registry.example.com/shop/worker:3.1.0", 2)),
            ],
            json!({"ignoreDifferences": [
                {"group": "apps", "kind": "Deployment", "managedFieldsManagers": ["kube-controller-manager"]},
                {"group": "apps", "kind": "Deployment",
                 "jqPathExpressions": [".spec.template.spec.containers[] | select(.name == \"worker\") | .resources"]},
                {"kind": "ConfigMap", "name": "worker-config", "jsonPointers": ["/data/tuning"]}
            ]}),
            FirstSync::Manual,
        )
        .await?;
        let t = self.tools();
        t.autoscale(ns, "worker", 5).await?;
        t.kubectl_edit(
            ns,
            "apps/v1",
            "Deployment",
            "worker",
            json!({"spec": {"template": {"spec": {"containers": [
                {"name": "worker", "resources": {"limits": {"memory": "512Mi"}}}
            ]}}}}),
        )
        .await?;
        t.kubectl_edit(
            ns,
            "v1",
            "ConfigMap",
            "worker-config",
            json!({"data": {"tuning": "batch=500", "LOG_LEVEL": "debug"}}),
        )
        .await?;
        self.record(
            "An app with spec.ignoreDifferences: managedFieldsManagers [kube-controller-manager] on the \
             Deployment, a jqPathExpressions rule removing the worker container's resources, and a \
             jsonPointers rule for /data/tuning of the ConfigMap. Then an autoscaler scales the Deployment \
             through the scale subresource (kube-controller-manager), `kubectl edit` raises the memory \
             limit, and `kubectl edit` changes both the ignored ConfigMap key and LOG_LEVEL, which no \
             rule covers.",
            vec![
                (
                    self.key("apps", "Deployment", "worker"),
                    Expected::synced().ignoring(&[
                        "/spec/replicas",
                        "/spec/template/spec/containers/0/resources/limits/memory",
                    ]),
                ),
                (
                    self.key("", "ConfigMap", "worker-config"),
                    Expected::out_of_sync(Cause::LiveChanged, &["/data/LOG_LEVEL"])
                        .ignoring(&["/data/tuning"]),
                ),
            ],
            vec![],
        )
        .await
    }

    async fn secret_changed(&self) -> anyhow::Result<Recording> {
        let ns = self.ns();
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        let secret = format!(
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db-credentials\ntype: Opaque\n\
             stringData:\n  username: {DB_USER}\ndata:\n  password: {}\n",
            b64(DB_PASSWORD_GIT)
        );
        self.deploy(
            &[
                ("secret.yaml", secret),
                (
                    "configmap.yaml",
                    configmap("db-config", &[("DB_HOST", "db.shop.svc")]),
                ),
            ],
            json!({}),
            FirstSync::Manual,
        )
        .await?;
        self.tools()
            .kubectl_edit(
                ns,
                "v1",
                "Secret",
                "db-credentials",
                json!({"data": {"password": b64(DB_PASSWORD_LIVE)}}),
            )
            .await?;
        self.record(
            "A Secret (username as stringData, password as data in Git) synced with client-side apply; \
             then `kubectl edit` (kubectl-edit) changes the password live. Argo CD masks Secret values in \
             managed-resources.",
            vec![
                (
                    self.key("", "Secret", "db-credentials"),
                    Expected::out_of_sync(Cause::LiveChanged, &["/data/password"]),
                ),
                (self.key("", "ConfigMap", "db-config"), Expected::synced()),
            ],
            vec![],
        )
        .await
    }

    async fn custom_resource(&self) -> anyhow::Result<Recording> {
        let ns = self.ns();
        let crd = widget_crd();
        self.install_crd(&crd).await?;
        self.deploy(
            &[
                (
                    "widget.yaml",
                    format!(
                        "apiVersion: {WIDGET_API}\nkind: Widget\nmetadata:\n  name: gadget\n\
                         spec:\n  size: 3\n  color: blue\n  tags:\n  - alpha\n"
                    ),
                ),
                (
                    "configmap.yaml",
                    configmap("gadget-config", &[("MODE", "standard")]),
                ),
            ],
            json!({}),
            FirstSync::Manual,
        )
        .await?;
        let t = self.tools();
        t.kubectl_patch(
            ns,
            WIDGET_API,
            "Widget",
            "gadget",
            json!({"spec": {"size": 5}}),
        )
        .await?;
        t.kubectl_edit_custom(
            ns,
            WIDGET_API,
            "Widget",
            "gadget",
            json!({"spec": {"tags": ["alpha", "beta"]}}),
        )
        .await?;
        t.write_status_as(
            "widget-operator",
            ns,
            WIDGET_API,
            "Widget",
            "gadget",
            json!({"phase": "Ready", "observedSize": 5}),
        )
        .await?;
        self.record(
            "A custom resource (CRD widgets.fixtures.argocd-drift.io, installed by the scenario, with a \
             status subresource) synced with client-side apply. Then `kubectl patch --type merge` \
             (kubectl-patch) changes spec.size, `kubectl edit` (kubectl-edit, merge patch) appends to the \
             spec.tags list, and an operator writes /status (widget-operator).",
            vec![
                (
                    format!("fixtures.argocd-drift.io/Widget/{ns}/gadget"),
                    Expected::out_of_sync(Cause::LiveChanged, &["/spec/size", "/spec/tags"])
                        .ignoring(&["/status"]),
                ),
                (self.key("", "ConfigMap", "gadget-config"), Expected::synced()),
            ],
            vec![crd],
        )
        .await
    }

    async fn live_deleted(&self) -> anyhow::Result<Recording> {
        self.deploy(
            &[
                (
                    "configmap.yaml",
                    configmap("cache-config", &[("TTL_SECONDS", "300")]),
                ),
                ("service.yaml", service("cache")),
            ],
            json!({}),
            FirstSync::Manual,
        )
        .await?;
        self.tools()
            .kubectl_delete(self.ns(), "v1", "ConfigMap", "cache-config")
            .await?;
        self.record(
            "Two objects synced with client-side apply; then `kubectl delete` removes the ConfigMap.",
            vec![
                (
                    self.key("", "ConfigMap", "cache-config"),
                    Expected::out_of_sync(Cause::Missing, &[]),
                ),
                (self.key("", "Service", "cache"), Expected::synced()),
            ],
            vec![],
        )
        .await
    }

    async fn extra_needs_pruning(&self) -> anyhow::Result<Recording> {
        self.deploy(
            &[
                (
                    "current.yaml",
                    configmap("current-config", &[("FEATURE", "on")]),
                ),
                (
                    "retired.yaml",
                    configmap("retired-config", &[("FEATURE", "legacy")]),
                ),
            ],
            json!({}),
            FirstSync::Manual,
        )
        .await?;
        let sha = self
            .argocd()
            .git
            .commit(
                &format!("{}: retire a ConfigMap", self.name),
                vec![Change::Remove(self.file("retired.yaml"))],
            )
            .await?;
        self.argocd().sync(&self.name, &sha, false).await?;
        self.record(
            "Two ConfigMaps synced; then a commit removes one from Git and the app is synced to it \
             without pruning, so the removed ConfigMap stays live, still tracked by the app.",
            vec![
                (
                    self.key("", "ConfigMap", "retired-config"),
                    Expected::out_of_sync(Cause::Extra, &[]),
                ),
                (
                    self.key("", "ConfigMap", "current-config"),
                    Expected::synced(),
                ),
            ],
            vec![],
        )
        .await
    }

    async fn git_ahead(&self) -> anyhow::Result<Recording> {
        self.deploy(
            &[
                (
                    "configmap.yaml",
                    configmap("shop-config", &[("LOG_LEVEL", "info")]),
                ),
                (
                    "deployment.yaml",
                    deployment("shop", "registry.example.com/shop/shop:5.2.0", 2),
                ),
            ],
            json!({}),
            FirstSync::Manual,
        )
        .await?;
        self.argocd()
            .git
            .commit(
                &format!("{}: more replicas, quieter logs", self.name),
                vec![
                    Change::Write(
                        self.file("configmap.yaml"),
                        configmap("shop-config", &[("LOG_LEVEL", "warn")]),
                    ),
                    Change::Write(
                        self.file("deployment.yaml"),
                        deployment("shop", "registry.example.com/shop/shop:5.2.0", 3),
                    ),
                ],
            )
            .await?;
        self.record(
            "A ConfigMap and a Deployment synced; then a commit changes LOG_LEVEL and the replicas in Git, \
             and Argo CD refreshes without syncing: OutOfSync with nothing changed live.",
            vec![
                (
                    self.key("", "ConfigMap", "shop-config"),
                    Expected::out_of_sync(Cause::GitAhead, &["/data/LOG_LEVEL"]),
                ),
                (
                    self.key("apps", "Deployment", "shop"),
                    Expected::out_of_sync(Cause::GitAhead, &["/spec/replicas"]),
                ),
            ],
            vec![],
        )
        .await
    }

    async fn self_heal(&self) -> anyhow::Result<Recording> {
        let ns = self.ns();
        self.deploy(
            &[
                (
                    "configmap.yaml",
                    configmap("checkout-config", &[("LOG_LEVEL", "info")]),
                ),
                (
                    "deployment.yaml",
                    deployment("checkout", "registry.example.com/shop/checkout:7.0.1", 2),
                ),
            ],
            json!({"syncPolicy": {"automated": {"prune": false, "selfHeal": true}}}),
            FirstSync::Automated,
        )
        .await?;
        let drifted_at = Timestamp::now();
        let t = self.tools();
        t.kubectl_edit(
            ns,
            "apps/v1",
            "Deployment",
            "checkout",
            json!({"spec": {"replicas": 6}}),
        )
        .await?;
        t.kubectl_edit(
            ns,
            "v1",
            "ConfigMap",
            "checkout-config",
            json!({"data": {"LOG_LEVEL": "debug"}}),
        )
        .await?;
        self.wait_healed(drifted_at).await?;
        self.record(
            "An app with automated sync and selfHeal: true, synced by Argo CD itself. Then `kubectl edit` \
             (kubectl-edit) changes the Deployment's replicas and a ConfigMap value; Argo CD's self-heal \
             syncs again and puts both back.",
            vec![
                (
                    self.key("apps", "Deployment", "checkout"),
                    Expected::synced().healed(&["/spec/replicas"]),
                ),
                (
                    self.key("", "ConfigMap", "checkout-config"),
                    Expected::synced().healed(&["/data/LOG_LEVEL"]),
                ),
            ],
            vec![],
        )
        .await
    }

    async fn kubectl_apply_by_person(&self) -> anyhow::Result<Recording> {
        let ns = self.ns();
        self.deploy(
            &[
                (
                    "configmap.yaml",
                    configmap("app-config", &[("LOG_LEVEL", "info"), ("MODE", "live")]),
                ),
                (
                    "deployment.yaml",
                    deployment("app", "registry.example.com/shop/app:1.0.0", 2),
                ),
            ],
            json!({}),
            FirstSync::Manual,
        )
        .await?;
        // The person's copies of the files: Git's, edited, with the tracking annotation the
        // live objects show (copied from `kubectl get -o yaml`).
        let tracking = |group_kind: &str, name: &str| json!({"argocd.argoproj.io/tracking-id": format!("{}:{group_kind}:{ns}/{name}", self.name)});
        let t = self.tools();
        t.kubectl_apply_as(
            "kubectl-client-side-apply",
            &json!({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "app-config", "namespace": ns, "annotations": tracking("/ConfigMap", "app-config")},
                "data": {"LOG_LEVEL": "debug", "MODE": "live"}}),
        )
        .await?;
        let mut file: Value =
            serde_saphyr::from_str(&deployment("app", "registry.example.com/shop/app:1.0.0", 5))?;
        file["metadata"]["namespace"] = json!(ns);
        file["metadata"]["annotations"] = tracking("apps/Deployment", "app");
        t.kubectl_apply_as("kubectl-client-side-apply", &file)
            .await?;
        self.record(
            "A ConfigMap and a Deployment synced with client-side apply; then a person runs              `kubectl apply -f` (kubectl-client-side-apply) with edited copies of the files: LOG_LEVEL              debug, 5 replicas. kubectl rewrites the last-applied annotation with the person's file, so              the annotation no longer says what Argo CD applied; Argo CD compares with Git.",
            vec![
                (
                    self.key("", "ConfigMap", "app-config"),
                    Expected::out_of_sync(Cause::LiveChanged, &["/data/LOG_LEVEL"]),
                ),
                (
                    self.key("apps", "Deployment", "app"),
                    Expected::out_of_sync(Cause::LiveChanged, &["/spec/replicas"]),
                ),
            ],
            vec![],
        )
        .await
    }

    async fn shared_object(&self) -> anyhow::Result<Recording> {
        self.deploy(
            &[
                (
                    "configmap.yaml",
                    configmap("shared-config", &[("LOG_LEVEL", "info")]),
                ),
                ("service.yaml", service("front")),
            ],
            json!({}),
            FirstSync::Manual,
        )
        .await?;
        // A second app renders the same ConfigMap with another value and syncs it last.
        let other = format!("{}-other", self.name);
        self.deploy_app(
            &other,
            &[(
                "configmap.yaml",
                configmap("shared-config", &[("LOG_LEVEL", "warn")]),
            )],
            json!({}),
            json!({}),
            FirstSync::Manual,
        )
        .await?;
        self.record(
            "Two apps render the same ConfigMap: this app (LOG_LEVEL info) syncs first, a second app              (LOG_LEVEL warn) syncs it after, with client-side apply as argocd-controller: the live              object carries the other app's tracking id and last-applied record. For this app the              object changed live (by the other app's sync).",
            vec![
                (
                    self.key("", "ConfigMap", "shared-config"),
                    Expected::out_of_sync(
                        Cause::LiveChanged,
                        &["/data/LOG_LEVEL", "/metadata/annotations/argocd.argoproj.io~1tracking-id"],
                    ),
                ),
                (self.key("", "Service", "front"), Expected::synced()),
            ],
            vec![],
        )
        .await
    }

    async fn replace_sync(&self) -> anyhow::Result<Recording> {
        let ns = self.ns();
        self.deploy(
            &[
                (
                    "configmap.yaml",
                    configmap("replaced-config", &[("LOG_LEVEL", "info")]),
                ),
                (
                    "deployment.yaml",
                    deployment("replaced", "registry.example.com/shop/replaced:1.0.0", 2),
                ),
            ],
            json!({"syncPolicy": {"syncOptions": ["Replace=true"]}}),
            FirstSync::Manual,
        )
        .await?;
        let t = self.tools();
        t.kubectl_edit(
            ns,
            "apps/v1",
            "Deployment",
            "replaced",
            json!({"spec": {"replicas": 3}}),
        )
        .await?;
        self.record(
            "An app with the sync option Replace=true: Argo CD creates and replaces its objects              (`kubectl replace`/`create`), so they carry no last-applied annotation; Argo CD falls back              to its two-way diff. Then `kubectl edit` (kubectl-edit) changes the Deployment's replicas.",
            vec![
                (
                    self.key("apps", "Deployment", "replaced"),
                    Expected::out_of_sync(Cause::LiveChanged, &["/spec/replicas"]),
                ),
                (self.key("", "ConfigMap", "replaced-config"), Expected::synced()),
            ],
            vec![],
        )
        .await
    }

    async fn server_side_diff(&self) -> anyhow::Result<Recording> {
        let ns = self.ns();
        self.tools().create_namespace(ns).await?;
        // The pod spec's keys are indented by six spaces in `deployment`'s YAML.
        let deployment = format!(
            "{}      imagePullSecrets: []\n",
            deployment("ssd", "registry.example.com/shop/ssd:1.0.0", 2)
        );
        self.deploy_app(
            &self.name,
            &[
                (
                    "configmap.yaml",
                    configmap("ssd-config", &[("LOG_LEVEL", "info")]),
                ),
                ("deployment.yaml", deployment),
            ],
            json!({}),
            json!({"argocd.argoproj.io/compare-options": "ServerSideDiff=true"}),
            FirstSync::Manual,
        )
        .await?;
        let t = self.tools();
        t.kubectl_edit(
            ns,
            "v1",
            "ConfigMap",
            "ssd-config",
            json!({"data": {"LOG_LEVEL": "debug"}}),
        )
        .await?;
        t.kubectl_edit(
            ns,
            "apps/v1",
            "Deployment",
            "ssd",
            json!({"spec": {"template": {"spec": {"imagePullSecrets": [{"name": "registry-creds"}]}}}}),
        )
        .await?;
        self.record(
            "An app annotated compare-options: ServerSideDiff=true (Argo CD predicts with a              server-side dry-run apply as argocd-controller). The Deployment says imagePullSecrets: []              in Git; `kubectl edit` (kubectl-edit) adds a pull secret (the dry run keeps it: not drift),              and changes a ConfigMap value (drift).",
            vec![
                (
                    self.key("", "ConfigMap", "ssd-config"),
                    Expected::out_of_sync(Cause::LiveChanged, &["/data/LOG_LEVEL"]),
                ),
                (
                    self.key("apps", "Deployment", "ssd"),
                    Expected::synced().with_added(&["/spec/template/spec/imagePullSecrets/0"]),
                ),
            ],
            vec![],
        )
        .await
    }

    async fn system_ignore_managers(&self) -> anyhow::Result<Recording> {
        let ns = self.ns();
        self.deploy(
            &[(
                "configmap.yaml",
                configmap(
                    "reloader-config",
                    &[("RELOADED_BY_ALL", "1"), ("RELOADED_BY_CORE", "1")],
                ),
            )],
            json!({}),
            FirstSync::Manual,
        )
        .await?;
        let t = self.tools();
        for (manager, key) in [
            ("config-reloader", "RELOADED_BY_ALL"),
            ("core-reloader", "RELOADED_BY_CORE"),
        ] {
            t.patch_as(
                manager,
                ns,
                "v1",
                "ConfigMap",
                "reloader-config",
                kube::api::Patch::Merge(json!({"data": {key: "2"}})),
            )
            .await?;
        }
        self.record(
            "argocd-cm (real-argocd.sh) names managedFieldsManagers config-reloader under              resource.customizations.ignoreDifferences.all and core-reloader under              resource.customizations.ignoreDifferences.ConfigMap. Each changes one key of a synced              ConfigMap (merge patch). Argo CD looks system managers up by <group>/<kind> or */*: the              split key of a core kind is stored as `ConfigMap` and never applies.",
            vec![(
                self.key("", "ConfigMap", "reloader-config"),
                Expected::out_of_sync(Cause::LiveChanged, &["/data/RELOADED_BY_CORE"])
                    .ignoring(&["/data/RELOADED_BY_ALL"]),
            )],
            vec![],
        )
        .await
    }

    /// Waits until an automated sync that started after `since` succeeded and the live values
    /// are back at Git's.
    async fn wait_healed(&self, since: Timestamp) -> anyhow::Result<()> {
        let ns = self.ns().to_string();
        let deadline = tokio::time::Instant::now() + crate::argocd::SETTLE_TIMEOUT;
        loop {
            let app = self
                .argocd()
                .wait_for_operation(&self.name, |state| {
                    state["operation"]["initiatedBy"]["automated"] == true
                        && state["startedAt"]
                            .as_str()
                            .and_then(|t| t.parse::<Timestamp>().ok())
                            .is_some_and(|t| t.as_second() >= since.as_second())
                })
                .await?;
            let replicas = self
                .tools()
                .api("apps/v1", "Deployment", &ns)
                .get("checkout")
                .await?
                .data["spec"]["replicas"]
                .clone();
            let level = self
                .tools()
                .api("v1", "ConfigMap", &ns)
                .get("checkout-config")
                .await?
                .data["data"]["LOG_LEVEL"]
                .clone();
            if replicas == 2 && level == "info" && app["status"]["sync"]["status"] == "Synced" {
                return Ok(());
            }
            if tokio::time::Instant::now() > deadline {
                bail!(
                    "not healed: replicas {replicas}, LOG_LEVEL {level}, sync {}",
                    app["status"]["sync"]["status"]
                );
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    /// Creates the CRD unless it exists, and waits until its kind is served.
    async fn install_crd(&self, crd: &Value) -> anyhow::Result<()> {
        let kube = self.argocd().kube();
        let crds: Api<DynamicObject> = Api::all_with(
            kube.clone(),
            &ApiResource::from_gvk_with_plural(
                &GroupVersionKind::gvk("apiextensions.k8s.io", "v1", "CustomResourceDefinition"),
                "customresourcedefinitions",
            ),
        );
        if crds.get_opt(WIDGET_CRD).await?.is_none() {
            crds.create(
                &PostParams {
                    field_manager: Some(FIXTURE_MANAGER.into()),
                    ..Default::default()
                },
                &serde_json::from_value(crd.clone())?,
            )
            .await
            .with_context(|| format!("creating CRD {WIDGET_CRD}"))?;
        }
        let widgets = self.tools().api(WIDGET_API, "Widget", self.ns());
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while widgets.list(&Default::default()).await.is_err() {
            if tokio::time::Instant::now() > deadline {
                bail!("{WIDGET_CRD} not served after 30 s");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(())
    }
}

// === manifests, as plain YAML files in Git (no namespace: the destination's) ===

fn configmap(name: &str, data: &[(&str, &str)]) -> String {
    let mut text = format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n");
    for (k, v) in data {
        text.push_str(&format!("  {k}: {}\n", json!(v)));
    }
    text
}

fn deployment(name: &str, image: &str, replicas: u32) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\n  labels:\n    app.kubernetes.io/name: {name}\n\
         spec:\n  replicas: {replicas}\n  selector:\n    matchLabels:\n      app.kubernetes.io/name: {name}\n\
         \x20 template:\n    metadata:\n      labels:\n        app.kubernetes.io/name: {name}\n\
         \x20   spec:\n      containers:\n      - name: {name}\n        image: {image}\n\
         \x20       ports:\n        - containerPort: 8080\n          name: http\n\
         \x20       resources:\n          requests:\n            cpu: 100m\n            memory: 128Mi\n\
         \x20         limits:\n            memory: 256Mi\n"
    )
}

fn service(name: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: {name}\n  labels:\n    app.kubernetes.io/name: {name}\n\
         spec:\n  selector:\n    app.kubernetes.io/name: {name}\n  ports:\n  - name: http\n    port: 80\n    targetPort: 8080\n"
    )
}

fn widget_crd() -> Value {
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": WIDGET_CRD},
        "spec": {
            "group": "fixtures.argocd-drift.io",
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
            "versions": [{
                "name": "v1", "served": true, "storage": true,
                "subresources": {"status": {}},
                "schema": {"openAPIV3Schema": {
                    "type": "object",
                    "properties": {
                        "spec": {"type": "object", "properties": {
                            "size": {"type": "integer"},
                            "color": {"type": "string"},
                            "tags": {"type": "array", "items": {"type": "string"}}
                        }},
                        "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}
                    }
                }}
            }]
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_manifests_are_the_yaml_they_look_like() {
        let docs = fake_apiserver::load_yaml_documents(&deployment("web", "img:1", 2)).unwrap();
        let d = &docs[0];
        assert_eq!(d["spec"]["replicas"], 2);
        assert_eq!(
            d["spec"]["template"]["spec"]["containers"][0]["image"],
            "img:1"
        );
        assert_eq!(
            d["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"],
            "256Mi"
        );
        let cm = fake_apiserver::load_yaml_documents(&configmap("c", &[("A", "1")])).unwrap();
        assert_eq!(cm[0]["data"]["A"], "1", "values are quoted strings");
        let svc = fake_apiserver::load_yaml_documents(&service("s")).unwrap();
        assert_eq!(svc[0]["spec"]["ports"][0]["targetPort"], 8080);
    }
}
