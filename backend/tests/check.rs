//! `argocd-drift check` against a good install and against each broken link: every failure is
//! named with its fix, unreadable links are skipped, never failed. The Argo CD side is wired by
//! the repository's own `manifests/argocd` Component (kustomize), so the manifests and the check
//! agree. Runs on the fake API server and, under `make test-real`, on a real one.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

mod common;

use argocd_drift::Config;
use argocd_drift::check::findings;
use common::TestApp;
use drift_core::install::{Finding, Verdict};
use envconfig::Envconfig;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;
use testenv::TestCluster;

const API_URL: &str = "http://argocd-drift.argocd-drift.svc:8080";

/// The check's configuration: the test's namespaces, `kubeconfig`, the backend's probe port.
fn config(cluster: &TestCluster, service: &str, extra: &[(&str, &str)]) -> Config {
    let mut vars = common::cluster_vars(cluster);
    vars.extend([
        ("CHECK_API_URL".into(), API_URL.into()),
        ("CHECK_SERVICE_URL".into(), service.into()),
        ("KUBE_REQUEST_TIMEOUT_SECONDS".into(), "5".into()),
    ]);
    for (k, v) in extra {
        vars.insert(k.to_string(), v.to_string());
    }
    Config::init_from_hashmap(&vars).unwrap()
}

fn find<'a>(findings: &'a [Finding], link: &str) -> &'a Finding {
    findings
        .iter()
        .find(|f| f.link.contains(link))
        .unwrap_or_else(|| panic!("no finding for {link:?}: {findings:#?}"))
}

fn report(findings: &[Finding]) -> String {
    drift_core::install::Report(findings).to_string()
}

/// A cluster with the demo's Applications, an Argo CD wired by `manifests/argocd`, and a ready
/// argocd-drift.
async fn wired(env: &[(&str, &str)]) -> (TestCluster, TestApp) {
    let cluster = TestCluster::start().await.unwrap();
    cluster.apply_fixtures("demo").await.unwrap();
    let wiring = testenv::chart::argocd_wired_by_manifests().unwrap();
    cluster.create_objects(wiring).await.unwrap();
    let app = TestApp::ready(&cluster, env).await;
    (cluster, app)
}

#[tokio::test]
async fn a_good_install_passes_every_link() {
    let (cluster, app) = wired(&[]).await;
    let service = format!("http://{}", app.service);
    let found = findings(&config(&cluster, &service, &[])).await;
    let text = report(&found);
    assert!(found.iter().all(|f| f.verdict == Verdict::Pass), "{text}");
    // One line per link: the API, two namespaces, each CRD, the backend, four Argo CD links.
    assert_eq!(found.len(), links(), "{text}");
    assert!(
        text.contains(&format!(
            "summary: {} ok, 0 failing, 0 not checked",
            links()
        )),
        "{text}"
    );
    let ext = find(&found, "argocd-cm routes");
    assert!(ext.detail.contains(API_URL), "{}", ext.detail);
    assert!(
        find(&found, "may invoke").detail.contains("role:readonly"),
        "{text}"
    );
    // The manifests' patches kept what the team had.
    let client = cluster.client().await.unwrap();
    let cms: Api<ConfigMap> = Api::namespaced(client, &cluster.ns("argocd"));
    let rbac = cms.get("argocd-rbac-cm").await.unwrap();
    assert_eq!(
        rbac.data.unwrap()["policy.csv"],
        "g, platform, role:admin\n"
    );
}

#[tokio::test]
async fn each_broken_argo_cd_link_is_reported_with_its_fix() {
    let (cluster, app) = wired(&[]).await;
    let service = format!("http://{}", app.service);
    let client = cluster.client().await.unwrap();
    let cms: Api<ConfigMap> = Api::namespaced(client, &cluster.ns("argocd"));
    let patch = |name: &'static str, data: serde_json::Value| {
        let cms = cms.clone();
        async move {
            cms.patch(
                name,
                &PatchParams::default(),
                &Patch::Merge(json!({ "data": data })),
            )
            .await
            .unwrap();
        }
    };
    // The proxy flag off, the RBAC line gone, the extension config pointing elsewhere.
    patch(
        "argocd-cmd-params-cm",
        json!({"server.enable.proxy.extension": "false"}),
    )
    .await;
    patch(
        "argocd-rbac-cm",
        json!({"policy.extension-drift.csv": null}),
    )
    .await;
    patch(
        "argocd-cm",
        json!({"extension.config.drift": "services:\n- url: http://argocd-drift.elsewhere.svc:8080\n  headers: [{name: Authorization, value: '$argocd-drift-proxy:authorization'}]\n"}),
    )
    .await;
    let found = findings(&config(&cluster, &service, &[])).await;
    let text = report(&found);
    let flag = find(&found, "proxy extensions are on");
    assert_eq!(flag.verdict, Verdict::Fail, "{text}");
    assert!(flag.fix.as_ref().unwrap().contains("restart argocd-server"));
    let rbac = find(&found, "may invoke");
    assert_eq!(rbac.verdict, Verdict::Fail, "{text}");
    assert!(
        rbac.fix
            .as_ref()
            .unwrap()
            .contains("extensions, invoke, drift, allow")
    );
    let ext = find(&found, "argocd-cm routes");
    assert_eq!(ext.verdict, Verdict::Fail, "{text}");
    assert!(ext.detail.contains("argocd-drift.elsewhere.svc"), "{text}");
    assert!(ext.fix.as_ref().unwrap().contains(API_URL), "{text}");
    // The cluster side still holds.
    assert_eq!(find(&found, "Kubernetes API").verdict, Verdict::Pass);
    assert_eq!(find(&found, "is ready").verdict, Verdict::Pass);
    assert!(
        text.contains(&format!(
            "summary: {} ok, 3 failing, 0 not checked",
            links() - 3
        )),
        "{text}"
    );

    // The secret header written in clear, in a ConfigMap, is a failure too.
    patch(
        "argocd-cm",
        json!({"extension.config.drift": format!("services:\n- url: {API_URL}\n  headers: [{{name: Authorization, value: Bearer abcdefabcdefabcdef}}]\n")}),
    )
    .await;
    let found = findings(&config(&cluster, &service, &[])).await;
    let ext = find(&found, "argocd-cm routes");
    assert!(ext.detail.contains("in clear"), "{}", report(&found));
    assert!(
        !ext.detail.contains("abcdefabcdefabcdef"),
        "the check never repeats a secret"
    );

    // A wrong Deployment name: the fix names the setting.
    let found = findings(&config(
        &cluster,
        &service,
        &[("CHECK_ARGOCD_SERVER_DEPLOYMENT", "argo-server")],
    ))
    .await;
    let ui = find(&found, "Drift tab is installed");
    assert_eq!(ui.verdict, Verdict::Fail);
    assert!(
        ui.fix.as_ref().unwrap().contains("deploymentName"),
        "{ui:?}"
    );
}

#[tokio::test]
async fn a_backend_that_is_down_or_not_ready_fails_its_link() {
    // Not ready for 10 s after the signal, while it keeps serving.
    let (cluster, app) = wired(&[("SHUTDOWN_DELAY_SECONDS", "10")]).await;
    // Nothing listens there.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let found = findings(&config(&cluster, &url, &[])).await;
    let ready = find(&found, "is ready");
    assert_eq!(ready.verdict, Verdict::Fail, "{}", report(&found));
    assert!(ready.detail.contains("no answer"), "{}", ready.detail);
    // Shutting down: not ready, with the backend's own reason.
    let service = format!("http://{}", app.service);
    app.signal();
    app.wait_shutting_down().await;
    let found = findings(&config(&cluster, &service, &[])).await;
    let ready = find(&found, "is ready");
    assert_eq!(ready.verdict, Verdict::Fail);
    assert!(ready.detail.starts_with("503"), "{}", ready.detail);
}

/// Refusals only the fake can inject on a shared server: Applications not listable, the
/// DriftReport kind not writable or not installed, Argo CD's objects not readable (skipped).
#[tokio::test]
async fn rbac_refusals_and_a_missing_crd_are_named() {
    use fake_apiserver::{FaultRule, Verb};
    let cluster = TestCluster::fake().await.unwrap();
    cluster.apply_fixtures("demo").await.unwrap();
    cluster
        .create_objects(testenv::chart::argocd_wired_by_manifests().unwrap())
        .await
        .unwrap();
    let app = TestApp::ready(&cluster, &[]).await;
    let service = format!("http://{}", app.service);
    let faults = cluster.fake_server().unwrap().faults();
    faults.fail_requests(
        FaultRule::status(403)
            .verb(Verb::Watch)
            .resource("applications"),
    );
    faults.fail_requests(
        FaultRule::status(403)
            .verb(Verb::Create)
            .resource("driftreports"),
    );
    faults.fail_requests(
        FaultRule::status(403)
            .verb(Verb::Get)
            .resource("configmaps"),
    );
    faults.fail_requests(
        FaultRule::status(403)
            .verb(Verb::Get)
            .resource("deployments"),
    );
    let found = findings(&config(&cluster, &service, &[])).await;
    let text = report(&found);
    let apps = find(
        &found,
        "Applications can be listed and watched in namespace",
    );
    assert_eq!(apps.verdict, Verdict::Fail, "{text}");
    assert!(apps.detail.starts_with("watch: 403"), "{text}");
    let own = find(&found, "DriftReport custom resources");
    assert_eq!(own.verdict, Verdict::Fail, "{text}");
    assert!(own.detail.starts_with("create: 403"), "{text}");
    assert!(
        own.fix
            .as_ref()
            .unwrap()
            .contains("driftreports.argocd-drift.io")
    );
    for link in [
        "argocd-cm routes",
        "proxy extensions",
        "may invoke",
        "Drift tab",
    ] {
        assert_eq!(find(&found, link).verdict, Verdict::Skip, "{link}: {text}");
    }
    assert!(
        text.contains("3 not checked") || text.contains("4 not checked"),
        "{text}"
    );

    // The CRD not installed: every call on the kind is 404.
    faults.clear();
    faults.fail_requests(FaultRule::status(404).resource("driftreports"));
    let found = findings(&config(&cluster, &service, &[])).await;
    let own = find(&found, "DriftReport custom resources");
    assert_eq!(own.verdict, Verdict::Fail);
    assert!(own.detail.contains("not installed"), "{}", own.detail);
    assert!(
        own.fix
            .as_ref()
            .unwrap()
            .contains("helm/argocd-drift/crds/")
    );

    // The API server down: one failure, and nothing else is claimed.
    faults.clear();
    cluster.fake_server().unwrap().faults().set_down(true);
    let found = findings(&config(&cluster, &service, &[])).await;
    assert_eq!(found.len(), 1, "{}", report(&found));
    assert_eq!(found[0].verdict, Verdict::Fail);
}

/// The links `argocd-drift check` reports with the test harness's two watched namespaces.
fn links() -> usize {
    8 + argocd_drift::check::OWN_KINDS.len()
}
