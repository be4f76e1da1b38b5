//! Drift as it happens in life, played against any cluster through the Kubernetes API.
//!
//! Argo CD applies an app's objects (client-side apply: field manager `argocd-controller`,
//! operation `Update`, the `last-applied-configuration` annotation; or server-side apply: the same
//! manager, operation `Apply`), the controller manager writes what it writes, and then people and
//! other controllers change things: `kubectl edit`, `kubectl set image`, `kubectl annotate`, a
//! policy engine's mutation. Each step sends the request the real tool sends (method, patch type,
//! `fieldManager`), so the `managedFields` under test are whatever the server computes.
//!
//! Steps are separated by a little over a second because the API server stamps `managedFields`
//! times to the second; [`Recording`] then knows which step wrote each entry, which lets the
//! recorder give every entry the time the story says ("three hours ago").
//!
//! The three demo apps:
//!
//! | app | sync | story |
//! |---|---|---|
//! | guestbook | client-side apply | applied two days ago; untouched since |
//! | payments-api | client-side apply | replicas and a config value edited by hand, image hot-patched, a Secret annotated |
//! | web-frontend | server-side apply | a resources limit and an Ingress annotation edited by hand, a policy engine adds a label |

use anyhow::Context;
use jiff::Timestamp;
use kube::api::{
    Api, ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams, PostParams,
};
use serde_json::{Value, json};
use std::time::Duration;

/// Argo CD's field manager for both apply modes (`common.ArgoCDSSAManager`).
pub const ARGOCD_MANAGER: &str = "argocd-controller";
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";
const TRACKING_ID: &str = "argocd.argoproj.io/tracking-id";

/// One step of the story and when, in the story, it happened (`"now-3h"`).
#[derive(Clone, Debug)]
pub struct Mark {
    pub started: Timestamp,
    pub ago: &'static str,
    pub what: &'static str,
}

/// What a played scenario touched, and when each step began.
#[derive(Clone, Debug, Default)]
pub struct Recording {
    pub marks: Vec<Mark>,
    /// `(apiVersion, kind, namespace, name)` of every object created.
    pub objects: Vec<(String, String, String, String)>,
}

impl Recording {
    /// The story time of a server-written time: the step during which it was written.
    pub fn story_time(&self, written: Timestamp) -> Option<&'static str> {
        // Server times are whole seconds, the mark is sub-second: compare at second precision.
        let written = written.as_second();
        self.marks
            .iter()
            .rev()
            .find(|m| m.started.as_second() <= written)
            .map(|m| m.ago)
    }
}

impl Recording {
    /// Every object the story created, as the cluster holds it now (`apiVersion` and `kind`
    /// set: the API omits them on some reads).
    pub async fn read_back(&self, client: &kube::Client) -> anyhow::Result<Vec<Value>> {
        let mut objects = Vec::with_capacity(self.objects.len());
        for (api_version, kind, ns, name) in &self.objects {
            let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
            let api: Api<DynamicObject> = Api::namespaced_with(
                client.clone(),
                ns,
                &ApiResource::from_gvk(&GroupVersionKind::gvk(group, version, kind)),
            );
            let live = api
                .get(name)
                .await
                .with_context(|| format!("reading back {kind} {ns}/{name}"))?;
            let mut obj = serde_json::to_value(live)?;
            obj["apiVersion"] = json!(api_version);
            obj["kind"] = json!(kind);
            objects.push(obj);
        }
        Ok(objects)
    }
}

/// Plays the whole story. `ns` maps the story's namespace names (`payments`, `web`, `guestbook`)
/// to the cluster's; they must exist.
pub async fn play(client: &kube::Client, ns: &dyn Fn(&str) -> String) -> anyhow::Result<Recording> {
    let mut s = Scenario {
        tools: Tools::new(client.clone()),
        recording: Recording::default(),
    };
    let (guestbook, payments, web) = (ns("guestbook"), ns("payments"), ns("web"));

    s.mark(
        "now-2d",
        "Argo CD syncs guestbook and payments-api (client-side apply)",
    )
    .await;
    for obj in guestbook_manifests(&guestbook) {
        s.client_side_apply(obj).await?;
    }
    for obj in payments_manifests(&payments) {
        s.client_side_apply(obj).await?;
    }
    s.mark("now-47h", "the deployment controller rolls them out")
        .await;
    s.tools
        .controller_rollout(&guestbook, "guestbook-ui", 1, 1)
        .await?;
    s.tools
        .controller_rollout(&payments, "payments-api", 1, 3)
        .await?;

    s.mark("now-1d", "Argo CD syncs web-frontend (server-side apply)")
        .await;
    for obj in web_manifests(&web) {
        s.server_side_apply(obj).await?;
    }
    s.mark(
        "now-23h",
        "the deployment controller rolls web-frontend out",
    )
    .await;
    s.tools
        .controller_rollout(&web, "web-frontend", 1, 3)
        .await?;

    s.mark("now-3h", "someone runs kubectl edit on payments-api")
        .await;
    s.tools
        .kubectl_edit(
            &payments,
            "apps/v1",
            "Deployment",
            "payments-api",
            json!({"spec": {"replicas": 5}}),
        )
        .await?;
    s.tools
        .kubectl_edit(
            &payments,
            "v1",
            "ConfigMap",
            "payments-config",
            json!({"data": {"LOG_LEVEL": "debug"}}),
        )
        .await?;
    s.tools
        .kubectl_annotate(
            &payments,
            "v1",
            "Secret",
            "payments-db",
            "rotated-by",
            "vault-agent",
        )
        .await?;

    s.mark("now-40m", "a hot fix: kubectl set image on payments-api")
        .await;
    s.tools
        .kubectl_set_image(
            &payments,
            "payments-api",
            "api",
            "registry.example.com/payments/api:1.14.3-hotfix",
        )
        .await?;
    s.mark("now-39m", "the deployment controller rolls the hot fix out")
        .await;
    s.tools
        .controller_rollout(&payments, "payments-api", 2, 5)
        .await?;

    s.mark("now-25m", "a policy engine labels web-frontend")
        .await;
    s.tools
        .policy_label(&web, "web-frontend", "policy.example.com/owner", "team-web")
        .await?;

    s.mark(
        "now-10m",
        "someone raises a limit and an Ingress setting on web-frontend",
    )
    .await;
    s.tools.kubectl_edit(
        &web,
        "apps/v1",
        "Deployment",
        "web-frontend",
        json!({"spec": {"template": {"spec": {"containers": [{"name": "nginx", "resources": {"limits": {"memory": "512Mi"}}}]}}}}),
    )
    .await?;
    s.tools.kubectl_edit(
        &web,
        "networking.k8s.io/v1",
        "Ingress",
        "web-frontend",
        json!({"metadata": {"annotations": {"nginx.ingress.kubernetes.io/proxy-body-size": "64m"}}}),
    )
    .await?;
    Ok(s.recording)
}

struct Scenario {
    tools: Tools,
    recording: Recording,
}

impl Scenario {
    /// Starts a new step in a later second than every write of the step before, so the
    /// server's whole-second times always tell which step wrote what.
    async fn mark(&mut self, ago: &'static str, what: &'static str) {
        if !self.recording.marks.is_empty() {
            let previous_second = Timestamp::now().as_second();
            while Timestamp::now().as_second() <= previous_second {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        self.recording.marks.push(Mark {
            started: Timestamp::now(),
            ago,
            what,
        });
    }

    fn remember(&mut self, obj: &Value) {
        let field = |p: &str| {
            obj.pointer(p)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        self.recording.objects.push((
            field("/apiVersion"),
            field("/kind"),
            field("/metadata/namespace"),
            field("/metadata/name"),
        ));
    }

    async fn client_side_apply(&mut self, obj: Value) -> anyhow::Result<()> {
        self.tools.argocd_client_side_apply(&obj).await?;
        self.remember(&obj);
        Ok(())
    }

    async fn server_side_apply(&mut self, obj: Value) -> anyhow::Result<()> {
        self.tools.argocd_server_side_apply(&obj).await?;
        self.remember(&obj);
        Ok(())
    }
}

/// The writes that people and controllers send, each with the method, patch type and
/// `fieldManager` the real tool uses, so the `managedFields` are whatever the server computes.
#[derive(Clone)]
pub struct Tools {
    client: kube::Client,
}

impl Tools {
    pub fn new(client: kube::Client) -> Tools {
        Tools { client }
    }

    /// A namespaced API for `kind` (the plural is derived from the kind, as kube does).
    pub fn api(&self, api_version: &str, kind: &str, namespace: &str) -> Api<DynamicObject> {
        let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
        let resource = ApiResource::from_gvk(&GroupVersionKind::gvk(group, version, kind));
        Api::namespaced_with(self.client.clone(), namespace, &resource)
    }

    fn api_for(&self, obj: &Value) -> anyhow::Result<Api<DynamicObject>> {
        Ok(self.api(
            obj["apiVersion"].as_str().context("apiVersion")?,
            obj["kind"].as_str().context("kind")?,
            obj["metadata"]["namespace"].as_str().context("namespace")?,
        ))
    }

    /// Creates a namespace (manager [`FIXTURE_MANAGER`](crate::FIXTURE_MANAGER)).
    pub async fn create_namespace(&self, name: &str) -> anyhow::Result<()> {
        let namespaces = Api::<DynamicObject>::all_with(
            self.client.clone(),
            &ApiResource::from_gvk(&GroupVersionKind::gvk("", "v1", "Namespace")),
        );
        let obj = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}});
        namespaces
            .create(
                &PostParams {
                    field_manager: Some(crate::FIXTURE_MANAGER.into()),
                    ..Default::default()
                },
                &serde_json::from_value(obj)?,
            )
            .await
            .with_context(|| format!("creating namespace {name}"))?;
        Ok(())
    }

    /// Argo CD's sync of a new object with client-side apply (its default), as simulated for
    /// the demo: what `kubectl apply` does for a new object, as Argo CD runs it — POST the
    /// manifest with the manifest itself in the last-applied annotation, manager
    /// `argocd-controller`. The concordance suite compares it with the real controller's.
    pub async fn argocd_client_side_apply(&self, manifest: &Value) -> anyhow::Result<Value> {
        let mut obj = manifest.clone();
        obj["metadata"]["annotations"][LAST_APPLIED] =
            Value::String(serde_json::to_string(manifest)? + "\n");
        let params = PostParams {
            field_manager: Some(ARGOCD_MANAGER.into()),
            ..Default::default()
        };
        let made = self
            .api_for(&obj)?
            .create(&params, &serde_json::from_value(obj.clone())?)
            .await
            .with_context(|| format!("client-side apply of {}", obj["metadata"]["name"]))?;
        Ok(serde_json::to_value(made)?)
    }

    /// What Argo CD's `ServerSideApply=true` sync sends, as simulated for the demo: an apply
    /// patch with force, manager `argocd-controller`.
    pub async fn argocd_server_side_apply(&self, manifest: &Value) -> anyhow::Result<Value> {
        let name = manifest["metadata"]["name"].as_str().context("name")?;
        let params = PatchParams::apply(ARGOCD_MANAGER).force();
        let made = self
            .api_for(manifest)?
            .patch(name, &params, &Patch::Apply(manifest))
            .await
            .with_context(|| format!("server-side apply of {name}"))?;
        Ok(serde_json::to_value(made)?)
    }

    /// `kubectl edit`: a strategic merge patch of what changed, manager `kubectl-edit`.
    pub async fn kubectl_edit(
        &self,
        ns: &str,
        api_version: &str,
        kind: &str,
        name: &str,
        patch: Value,
    ) -> anyhow::Result<()> {
        let params = PatchParams {
            field_manager: Some("kubectl-edit".into()),
            ..Default::default()
        };
        self.api(api_version, kind, ns)
            .patch(name, &params, &Patch::Strategic(patch))
            .await
            .with_context(|| format!("kubectl edit {kind}/{name}"))?;
        Ok(())
    }

    /// `kubectl annotate`: a JSON merge patch, manager `kubectl-annotate`.
    pub async fn kubectl_annotate(
        &self,
        ns: &str,
        api_version: &str,
        kind: &str,
        name: &str,
        key: &str,
        value: &str,
    ) -> anyhow::Result<()> {
        let params = PatchParams {
            field_manager: Some("kubectl-annotate".into()),
            ..Default::default()
        };
        self.api(api_version, kind, ns)
            .patch(
                name,
                &params,
                &Patch::Merge(json!({"metadata": {"annotations": {key: value}}})),
            )
            .await
            .with_context(|| format!("kubectl annotate {kind}/{name}"))?;
        Ok(())
    }

    /// `kubectl set image`: a strategic merge patch of the container, manager `kubectl-set`.
    pub async fn kubectl_set_image(
        &self,
        ns: &str,
        deployment: &str,
        container: &str,
        image: &str,
    ) -> anyhow::Result<()> {
        let params = PatchParams {
            field_manager: Some("kubectl-set".into()),
            ..Default::default()
        };
        let patch = json!({"spec": {"template": {"spec": {"containers": [{"name": container, "image": image}]}}}});
        self.api("apps/v1", "Deployment", ns)
            .patch(deployment, &params, &Patch::Strategic(patch))
            .await
            .with_context(|| format!("kubectl set image deployment/{deployment}"))?;
        Ok(())
    }

    /// A policy engine's background mutation: a merge patch under its own manager.
    pub async fn policy_label(
        &self,
        ns: &str,
        deployment: &str,
        key: &str,
        value: &str,
    ) -> anyhow::Result<()> {
        let params = PatchParams {
            field_manager: Some("kyverno".into()),
            ..Default::default()
        };
        self.api("apps/v1", "Deployment", ns)
            .patch(
                deployment,
                &params,
                &Patch::Merge(json!({"metadata": {"labels": {key: value}}})),
            )
            .await
            .with_context(|| format!("policy label on {deployment}"))?;
        Ok(())
    }

    /// What the deployment controller writes on a rollout: the revision annotation (an update of
    /// the object) and the status (an update of `/status`), both as `kube-controller-manager`.
    pub async fn controller_rollout(
        &self,
        ns: &str,
        deployment: &str,
        revision: u32,
        replicas: u32,
    ) -> anyhow::Result<()> {
        let api = self.api("apps/v1", "Deployment", ns);
        let mut live = api
            .get(deployment)
            .await
            .with_context(|| format!("get deployment/{deployment}"))?;
        let annotations = live
            .metadata
            .annotations
            .get_or_insert_with(Default::default);
        annotations.insert(
            "deployment.kubernetes.io/revision".into(),
            revision.to_string(),
        );
        let params = PostParams {
            field_manager: Some("kube-controller-manager".into()),
            ..Default::default()
        };
        let live = api
            .replace(deployment, &params, &live)
            .await
            .with_context(|| format!("controller update of deployment/{deployment}"))?;
        let generation = live.metadata.generation.unwrap_or(1);
        let now = Timestamp::now().to_string();
        let mut with_status = live.clone();
        with_status.data["status"] = json!({
            "observedGeneration": generation,
            "replicas": replicas,
            "updatedReplicas": replicas,
            "readyReplicas": replicas,
            "availableReplicas": replicas,
            "conditions": [
                {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable",
                 "message": "Deployment has minimum availability.", "lastUpdateTime": now, "lastTransitionTime": now},
                {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable",
                 "message": format!("ReplicaSet \"{deployment}-{revision}\" has successfully progressed."),
                 "lastUpdateTime": now, "lastTransitionTime": now}
            ]
        });
        api.replace_status(deployment, &params, &with_status)
            .await
            .with_context(|| format!("controller status of deployment/{deployment}"))?;
        Ok(())
    }

    /// A write under any manager: `patch` on the object (merge, strategic or JSON patch).
    #[allow(clippy::too_many_arguments)]
    pub async fn patch_as(
        &self,
        manager: &str,
        ns: &str,
        api_version: &str,
        kind: &str,
        name: &str,
        patch: Patch<Value>,
    ) -> anyhow::Result<()> {
        let params = PatchParams {
            field_manager: Some(manager.into()),
            ..Default::default()
        };
        self.api(api_version, kind, ns)
            .patch(name, &params, &patch)
            .await
            .with_context(|| format!("{manager}: patch {kind}/{name}"))?;
        Ok(())
    }

    /// `kubectl edit` of a custom resource: kubectl sends a JSON merge patch (the API server
    /// refuses strategic merge patches for custom resources), manager `kubectl-edit`.
    pub async fn kubectl_edit_custom(
        &self,
        ns: &str,
        api_version: &str,
        kind: &str,
        name: &str,
        patch: Value,
    ) -> anyhow::Result<()> {
        self.patch_as(
            "kubectl-edit",
            ns,
            api_version,
            kind,
            name,
            Patch::Merge(patch),
        )
        .await
    }

    /// `kubectl patch --type merge`: a JSON merge patch, manager `kubectl-patch`.
    pub async fn kubectl_patch(
        &self,
        ns: &str,
        api_version: &str,
        kind: &str,
        name: &str,
        patch: Value,
    ) -> anyhow::Result<()> {
        self.patch_as(
            "kubectl-patch",
            ns,
            api_version,
            kind,
            name,
            Patch::Merge(patch),
        )
        .await
    }

    /// A label added by a policy engine's background mutation (merge patch, manager `kyverno`).
    pub async fn policy_label_on(
        &self,
        ns: &str,
        api_version: &str,
        kind: &str,
        name: &str,
        (key, value): (&str, &str),
    ) -> anyhow::Result<()> {
        self.patch_as(
            "kyverno",
            ns,
            api_version,
            kind,
            name,
            Patch::Merge(json!({"metadata": {"labels": {key: value}}})),
        )
        .await
    }

    /// A person's `kubectl apply -f <file>` (client-side) of an existing object, as `manager`
    /// (kubectl's own is `kubectl-client-side-apply`): the three-way patch of the object's
    /// last-applied annotation, the file (with the file itself as the new annotation, a trailing
    /// newline as kubectl writes it) and the live object, sent as a merge patch. Lists are
    /// replaced whole, as kubectl's strategic merge does for atomic lists: keep keyed lists out
    /// of what the file changes.
    pub async fn kubectl_apply_as(&self, manager: &str, file: &Value) -> anyhow::Result<()> {
        let api = self.api_for(file)?;
        let name = file["metadata"]["name"].as_str().context("name")?;
        let live = serde_json::to_value(
            api.get(name)
                .await
                .with_context(|| format!("kubectl apply: get {name}"))?,
        )?;
        let original = live["metadata"]["annotations"][LAST_APPLIED]
            .as_str()
            .and_then(|t| serde_json::from_str(t).ok())
            .unwrap_or_else(|| json!({}));
        let mut modified = file.clone();
        modified["metadata"]["annotations"][LAST_APPLIED] =
            Value::String(serde_json::to_string(file)? + "\n");
        let patch = three_way_merge_patch(&original, &modified, &live).unwrap_or(json!({}));
        let params = PatchParams {
            field_manager: Some(manager.into()),
            ..Default::default()
        };
        api.patch(name, &params, &Patch::Merge(patch))
            .await
            .with_context(|| format!("{manager}: kubectl apply of {name}"))?;
        Ok(())
    }

    /// Server-side apply of `obj` as `manager`, taking over conflicting fields (`--force-conflicts`).
    pub async fn apply_as(&self, manager: &str, obj: &Value) -> anyhow::Result<()> {
        let name = obj["metadata"]["name"].as_str().context("name")?;
        self.api(
            obj["apiVersion"].as_str().context("apiVersion")?,
            obj["kind"].as_str().context("kind")?,
            obj["metadata"]["namespace"].as_str().context("namespace")?,
        )
        .patch(
            name,
            &PatchParams::apply(manager).force(),
            &Patch::Apply(obj),
        )
        .await
        .with_context(|| format!("{manager}: server-side apply of {name}"))?;
        Ok(())
    }

    /// What a HorizontalPodAutoscaler does through kube-controller-manager: a write of the
    /// `scale` subresource (`PUT …/scale`, manager `kube-controller-manager`).
    pub async fn autoscale(&self, ns: &str, deployment: &str, replicas: i32) -> anyhow::Result<()> {
        let api = self.api("apps/v1", "Deployment", ns);
        let mut scale = api
            .get_scale(deployment)
            .await
            .with_context(|| format!("get deployment/{deployment}/scale"))?;
        scale.spec.get_or_insert_with(Default::default).replicas = Some(replicas);
        let params = PostParams {
            field_manager: Some("kube-controller-manager".into()),
            ..Default::default()
        };
        api.replace_scale(deployment, &params, &scale)
            .await
            .with_context(|| format!("scale deployment/{deployment}"))?;
        Ok(())
    }

    /// An operator writing a custom resource's `/status` (merge patch of the subresource).
    pub async fn write_status_as(
        &self,
        manager: &str,
        ns: &str,
        api_version: &str,
        kind: &str,
        name: &str,
        status: Value,
    ) -> anyhow::Result<()> {
        let params = PatchParams {
            field_manager: Some(manager.into()),
            ..Default::default()
        };
        self.api(api_version, kind, ns)
            .patch_status(name, &params, &Patch::Merge(json!({ "status": status })))
            .await
            .with_context(|| format!("{manager}: status of {kind}/{name}"))?;
        Ok(())
    }

    /// `kubectl delete`: a DELETE with `propagationPolicy: Background`, kubectl's default.
    pub async fn kubectl_delete(
        &self,
        ns: &str,
        api_version: &str,
        kind: &str,
        name: &str,
    ) -> anyhow::Result<()> {
        self.api(api_version, kind, ns)
            .delete(name, &kube::api::DeleteParams::background())
            .await
            .with_context(|| format!("kubectl delete {kind}/{name}"))?;
        Ok(())
    }
}

fn tracked(app: &str, mut obj: Value) -> Value {
    let group_kind = match obj["apiVersion"].as_str().and_then(|v| v.split_once('/')) {
        Some((group, _)) => format!("{group}/{}", obj["kind"].as_str().unwrap_or_default()),
        None => format!("/{}", obj["kind"].as_str().unwrap_or_default()),
    };
    let id = format!(
        "{app}:{group_kind}:{}/{}",
        obj["metadata"]["namespace"].as_str().unwrap_or_default(),
        obj["metadata"]["name"].as_str().unwrap_or_default()
    );
    obj["metadata"]["annotations"][TRACKING_ID] = Value::String(id);
    obj
}

fn deployment(
    ns: &str,
    name: &str,
    container: &str,
    image: &str,
    replicas: u32,
    port: u32,
    extra: Value,
) -> Value {
    let mut container_spec = json!({
        "name": container,
        "image": image,
        "ports": [{"containerPort": port, "name": "http"}],
        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}}
    });
    if let (Some(target), Some(more)) = (container_spec.as_object_mut(), extra.as_object()) {
        target.extend(more.clone());
    }
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns, "labels": {"app.kubernetes.io/name": name}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app.kubernetes.io/name": name}},
            "template": {
                "metadata": {"labels": {"app.kubernetes.io/name": name}},
                "spec": {"containers": [container_spec]}
            }
        }
    })
}

fn service(ns: &str, name: &str, port: u32) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": ns, "labels": {"app.kubernetes.io/name": name}},
        "spec": {
            "selector": {"app.kubernetes.io/name": name},
            "ports": [{"name": "http", "port": 80, "targetPort": port, "protocol": "TCP"}]
        }
    })
}

fn guestbook_manifests(ns: &str) -> Vec<Value> {
    vec![
        tracked("guestbook", service(ns, "guestbook-ui", 80)),
        tracked(
            "guestbook",
            deployment(
                ns,
                "guestbook-ui",
                "guestbook-ui",
                "gcr.io/heptio-images/ks-guestbook-demo:0.2",
                1,
                80,
                json!({}),
            ),
        ),
    ]
}

fn payments_manifests(ns: &str) -> Vec<Value> {
    vec![
        tracked(
            "payments-api",
            json!({
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "payments-config", "namespace": ns},
                "data": {"LOG_LEVEL": "info", "DB_POOL_SIZE": "20", "FEATURE_3DS": "true"}
            }),
        ),
        tracked(
            "payments-api",
            json!({
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "payments-db", "namespace": ns},
                "type": "Opaque",
                // "payments" / "correct-horse-battery-staple"
                "data": {"username": "cGF5bWVudHM=", "password": "Y29ycmVjdC1ob3JzZS1iYXR0ZXJ5LXN0YXBsZQ=="}
            }),
        ),
        tracked("payments-api", service(ns, "payments-api", 8080)),
        tracked(
            "payments-api",
            deployment(
                ns,
                "payments-api",
                "api",
                "registry.example.com/payments/api:1.14.2",
                3,
                8080,
                json!({
                    "envFrom": [{"configMapRef": {"name": "payments-config"}}],
                    "env": [{"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "payments-db", "key": "password"}}}]
                }),
            ),
        ),
    ]
}

fn web_manifests(ns: &str) -> Vec<Value> {
    vec![
        tracked(
            "web-frontend",
            json!({
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "web-frontend-nginx", "namespace": ns},
                "data": {"nginx.conf": "server {\n  listen 8080;\n  location / { root /usr/share/nginx/html; }\n}\n"}
            }),
        ),
        tracked("web-frontend", service(ns, "web-frontend", 8080)),
        tracked(
            "web-frontend",
            deployment(
                ns,
                "web-frontend",
                "nginx",
                "registry.example.com/web/frontend:2.8.0",
                3,
                8080,
                json!({}),
            ),
        ),
        tracked(
            "web-frontend",
            json!({
                "apiVersion": "networking.k8s.io/v1",
                "kind": "Ingress",
                "metadata": {
                    "name": "web-frontend",
                    "namespace": ns,
                    "annotations": {"nginx.ingress.kubernetes.io/proxy-body-size": "8m"}
                },
                "spec": {
                    "ingressClassName": "nginx",
                    "rules": [{"host": "shop.example.com", "http": {"paths": [{
                        "path": "/", "pathType": "Prefix",
                        "backend": {"service": {"name": "web-frontend", "port": {"number": 80}}}
                    }]}}]
                }
            }),
        ),
    ]
}

/// kubectl's three-way merge (JSON merge semantics, lists replaced whole): what `modified` sets
/// that `current` lacks or has otherwise, and `null` for what `original` had and `modified`
/// dropped. `None` when nothing is to change.
fn three_way_merge_patch(original: &Value, modified: &Value, current: &Value) -> Option<Value> {
    let (Some(m), cur) = (modified.as_object(), current.as_object()) else {
        return (modified != current).then(|| modified.clone());
    };
    let mut out = serde_json::Map::new();
    for (k, v) in m {
        let c = cur.and_then(|c| c.get(k));
        let o = original.get(k).unwrap_or(&Value::Null);
        match (v, c) {
            (Value::Object(_), Some(c @ Value::Object(_))) => {
                if let Some(d) = three_way_merge_patch(o, v, c) {
                    out.insert(k.clone(), d);
                }
            }
            (_, Some(c)) if c == v => {}
            _ => {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    if let Some(o) = original.as_object() {
        for k in o.keys() {
            if !m.contains_key(k) && cur.is_some_and(|c| c.contains_key(k)) {
                out.insert(k.clone(), Value::Null);
            }
        }
    }
    (!out.is_empty()).then_some(Value::Object(out))
}
