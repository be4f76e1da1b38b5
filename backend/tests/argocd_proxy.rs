//! Through a real argocd-server (v3.5.7, built from its Go module), driven the way the browser
//! drives it: log in for the `argocd.token` cookie, then call `/extensions/drift/...` with the two
//! headers. `make test-real` starts argocd-server (testenv/real-argocd.sh) against the real
//! kube-apiserver and passes its settings in `DRIFT_TEST_ARGOCD_ENV`.
//!
//! One test, in phases, because the phases share argocd-server's extension config: first the
//! extension points at a recorder, to see exactly what Argo CD forwards; then at argocd-drift,
//! to see what comes back.
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod common;

use common::{STATUS, TestApp, eventually, eventually_some};
use kube::api::{
    Api, ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams, PostParams,
};
use serde_json::json;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;
use testenv::TestCluster;
use testenv::http::{Recorder, Response};

struct ArgoCd {
    addr: SocketAddr,
    env: HashMap<String, String>,
}

impl ArgoCd {
    fn new() -> ArgoCd {
        let env = common::real_argocd::env();
        let addr = common::real_argocd::addr(&env);
        ArgoCd { addr, env }
    }

    /// `POST /api/v1/session`: the token the UI keeps in the `argocd.token` cookie.
    async fn login(&self, user: &str) -> String {
        common::real_argocd::login(&self.env, user).await
    }

    /// What the browser sends for the tab: cookie, the two headers, and `extra`.
    async fn extension(
        &self,
        token: &str,
        app: &str,
        project: &str,
        extra: &[(&str, &str)],
    ) -> Response {
        let cookie = format!("argocd.token={token}");
        let mut headers = vec![
            ("Cookie", cookie.as_str()),
            ("Argocd-Application-Name", app),
            ("Argocd-Project-Name", project),
        ];
        headers.extend_from_slice(extra);
        testenv::http::get(self.addr, &format!("/extensions/drift{STATUS}"), &headers)
            .await
            .unwrap()
    }

    /// Points the extension at `backend`; Argo CD reloads extension config while running.
    async fn point_extension_at(&self, client: &kube::Client, backend: SocketAddr) {
        let config = format!(
            "connectionTimeout: 2s\nservices:\n- url: http://{backend}\n  headers:\n  - name: Authorization\n    value: '${}'\n",
            self.env["ARGOCD_PROXY_SECRET_KEY"]
        );
        let cms: Api<DynamicObject> = Api::namespaced_with(
            client.clone(),
            &self.env["ARGOCD_NAMESPACE"],
            &ApiResource::from_gvk(&GroupVersionKind::gvk("", "v1", "ConfigMap")),
        );
        cms.patch(
            "argocd-cm",
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {"extension.config.drift": config}})),
        )
        .await
        .unwrap();
    }
}

#[tokio::test]
#[ignore = "needs a real API server and argocd-server: make test-real"]
async fn argo_cd_forwards_what_the_backend_trusts_and_refuses_what_it_must() {
    let cluster = TestCluster::real().await.unwrap();
    let client = cluster.client().await.unwrap();
    let argocd = ArgoCd::new();
    let ns = argocd.env["ARGOCD_NAMESPACE"].clone();

    // Two apps in Argo CD's namespace: one in `default`, one in a project of its own.
    // Names unique to this run (`ns` gives per-test names; Argo CD's namespace is shared).
    let (app_name, other_name, other_project) =
        (cluster.ns("drift"), cluster.ns("other"), cluster.ns("proj"));
    let apps: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        &ns,
        &ApiResource::from_gvk(&GroupVersionKind::gvk(
            "argoproj.io",
            "v1alpha1",
            "Application",
        )),
    );
    let projects: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        &ns,
        &ApiResource::from_gvk(&GroupVersionKind::gvk(
            "argoproj.io",
            "v1alpha1",
            "AppProject",
        )),
    );
    projects
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({
                "apiVersion": "argoproj.io/v1alpha1", "kind": "AppProject",
                "metadata": {"name": other_project, "namespace": ns},
                "spec": {"sourceRepos": ["*"], "destinations": [{"server": "*", "namespace": "*"}]}
            }))
            .unwrap(),
        )
        .await
        .unwrap();
    for (name, project) in [
        (&app_name, "default"),
        (&other_name, other_project.as_str()),
    ] {
        let app = json!({
            "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
            "metadata": {"name": name, "namespace": ns},
            "spec": {
                "project": project,
                "destination": {"server": "https://kubernetes.default.svc", "namespace": "default"},
                "source": {"repoURL": "https://git.example.com/demo.git", "path": "."}
            },
            "status": {"sync": {"status": "OutOfSync"}, "health": {"status": "Healthy"}}
        });
        apps.create(
            &PostParams::default(),
            &serde_json::from_value(app).unwrap(),
        )
        .await
        .unwrap();
    }
    let app_header = format!("{ns}:{app_name}");
    let alice = argocd.login("alice").await;
    let bob = argocd.login("bob").await;

    // Phase 1: what arrives. The extension points at a recorder.
    let recorder = Recorder::start().await.unwrap();
    argocd.point_extension_at(&client, recorder.addr).await;
    let forged = [
        ("Argocd-User-Groups", "admins"),
        ("Argocd-Username", "root"),
    ];
    let arrived = eventually_some(Duration::from_secs(15), || async {
        let r = argocd
            .extension(&alice, &app_header, "default", &forged)
            .await;
        (r.status == 200)
            .then(|| recorder.requests().pop())
            .flatten()
    })
    .await
    .expect("Argo CD never forwarded to the recorder");
    let h = |name: &str| {
        arrived
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    assert_eq!(
        arrived.uri, STATUS,
        "the /extensions/drift prefix is stripped"
    );
    assert_eq!(
        h("authorization"),
        Some(format!("Bearer {}", argocd.env["ARGOCD_PROXY_TOKEN"]))
    );
    assert_eq!(h("argocd-application-name"), Some(app_header.clone()));
    assert_eq!(h("argocd-project-name").as_deref(), Some("default"));
    assert_eq!(h("argocd-namespace"), Some(ns.clone()));
    assert_eq!(
        h("argocd-target-cluster-url").as_deref(),
        Some("https://kubernetes.default.svc")
    );
    assert_eq!(h("argocd-user-id").as_deref(), Some("alice"));
    assert_eq!(
        h("argocd-username").as_deref(),
        Some("alice"),
        "Argo CD overwrites a forged user name"
    );
    assert_eq!(
        h("argocd-user-groups").as_deref(),
        Some("admins"),
        "…but forwards forged groups untouched"
    );
    assert_eq!(
        h("cookie"),
        None,
        "the session cookie never reaches the backend"
    );

    // Refusals Argo CD makes itself: nothing reaches the backend.
    let before = recorder.requests().len();
    let bob_says = argocd.extension(&bob, &app_header, "default", &[]).await;
    assert_eq!(
        bob_says.status, 401,
        "bob lacks `extensions, invoke, drift`"
    );
    let wrong_project = argocd
        .extension(&alice, &app_header, &other_project, &[])
        .await;
    assert_eq!(wrong_project.status, 401);
    let other_app_as_default = argocd
        .extension(&alice, &format!("{ns}:{other_name}"), "default", &[])
        .await;
    assert_eq!(other_app_as_default.status, 401);
    let no_cookie = testenv::http::get(
        argocd.addr,
        &format!("/extensions/drift{STATUS}"),
        &[
            ("Argocd-Application-Name", &app_header),
            ("Argocd-Project-Name", "default"),
        ],
    )
    .await
    .unwrap();
    assert_eq!(no_cookie.status, 400);
    assert_eq!(
        recorder.requests().len(),
        before,
        "a refused request reached the backend"
    );

    // Phase 2: what comes back. The extension points at argocd-drift.
    let token = argocd.env["ARGOCD_PROXY_TOKEN"].clone();
    let backend = TestApp::spawn(
        &cluster,
        &[("PROXY_TOKEN", &token), ("ARGOCD_NAMESPACES", &ns)],
    )
    .await;
    backend.wait_ready().await;
    argocd.point_extension_at(&client, backend.api).await;
    eventually(Duration::from_secs(15), || async {
        let r = argocd.extension(&alice, &app_header, "default", &[]).await;
        r.status == 200 && r.body.starts_with(b"{\"application\"")
    })
    .await
    .expect("Argo CD never reached argocd-drift");

    let plain = argocd.extension(&alice, &app_header, "default", &[]).await;
    let status = plain.json();
    assert_eq!(
        status["application"],
        json!({"namespace": ns, "name": app_name, "project": "default"})
    );
    assert_eq!(status["sync"]["status"], "OutOfSync");
    assert_eq!(plain.header("content-type"), Some("application/json"));
    assert_eq!(plain.header("x-content-type-options"), Some("nosniff"));

    // A forged group gets nothing more (and nothing different).
    let with_groups = argocd
        .extension(
            &alice,
            &app_header,
            "default",
            &[("Argocd-User-Groups", "admins")],
        )
        .await;
    let (mut a, mut b) = (status.clone(), with_groups.json());
    a.as_object_mut().unwrap().remove("generatedAt");
    b.as_object_mut().unwrap().remove("generatedAt");
    assert_eq!(a, b);

    // A cluster header Argo CD does not strip is caught by argocd-drift.
    let injected = argocd
        .extension(
            &alice,
            &app_header,
            "default",
            &[("Argocd-Target-Cluster-Name", "in-cluster")],
        )
        .await;
    assert_eq!(injected.status, 403);
    assert_eq!(injected.json()["code"], "CLUSTER_MISMATCH");

    // The other project's app, under its own project, is served — scoped to that app.
    let other = argocd
        .extension(&alice, &format!("{ns}:{other_name}"), &other_project, &[])
        .await;
    assert_eq!(other.status, 200);
    assert_eq!(other.json()["application"]["project"], other_project);

    // Bob is still refused by Argo CD before argocd-drift sees him.
    assert_eq!(
        argocd
            .extension(&bob, &app_header, "default", &[])
            .await
            .status,
        401
    );

    for name in [&app_name, &other_name] {
        apps.delete(name, &Default::default()).await.ok();
    }
    projects
        .delete(&other_project, &Default::default())
        .await
        .ok();
}
