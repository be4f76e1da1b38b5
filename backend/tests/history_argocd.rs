//! Drift memory against a real Argo CD: an app with automated sync and `selfHeal` is deployed by
//! the real application-controller, a person edits a live object (`kubectl edit`), Argo CD sees
//! the drift and heals it — and argocd-drift, watching the Applications, records one episode
//! that ended by automation. `make test-real` runs it on the control plane it starts
//! (`real-argocd.sh start --control-plane`).
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod common;

use common::{TestApp, eventually_some};
use serde_json::{Value, json};
use std::time::Duration;
use testenv::TestCluster;
use testenv::argocd::ArgoCd;
use testenv::git::Change;
use testenv::scenario::Tools;

const APP: &str = "drift-memory-self-heal";

fn control_plane_env() -> std::path::PathBuf {
    std::env::var_os("DRIFT_TEST_ARGOCD_CONTROL_PLANE_ENV")
        .map(Into::into)
        .expect("DRIFT_TEST_ARGOCD_CONTROL_PLANE_ENV (run make test-real)")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the real Argo CD control plane: make test-real"]
async fn a_self_healed_app_gets_an_episode_ended_by_automation() {
    let argocd = ArgoCd::connect(&control_plane_env()).await.unwrap();
    let namespace = argocd.namespace().to_string();
    let tools = Tools::new(argocd.kube());

    // Deployed by Argo CD itself, from Git, with automated sync and self-heal.
    argocd
        .git
        .commit(
            &format!("{APP}: first version"),
            vec![Change::Write(
                format!("apps/{APP}/configmap.yaml"),
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  LOG_LEVEL: info\n"
                    .into(),
            )],
        )
        .await
        .unwrap();
    tools.create_namespace(APP).await.unwrap();
    argocd
        .create_application(json!({
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Application",
            "metadata": {"name": APP, "namespace": namespace},
            "spec": {
                "project": "default",
                "source": {"repoURL": argocd.env("ARGOCD_GIT_URL").unwrap(), "targetRevision": "HEAD", "path": format!("apps/{APP}")},
                "destination": {"server": argocd.env("ARGOCD_IN_CLUSTER_URL").unwrap(), "namespace": APP},
                "syncPolicy": {"automated": {"prune": false, "selfHeal": true}}
            }
        }))
        .await
        .unwrap();
    argocd
        .wait_for_operation(APP, |state| {
            state["operation"]["initiatedBy"]["automated"] == true
        })
        .await
        .unwrap();
    let (application, _) = argocd.settle(APP).await.unwrap();
    assert_eq!(application["status"]["sync"]["status"], "Synced");

    // argocd-drift watches Argo CD's namespace; its own records go to the test's namespace.
    let cluster = TestCluster::real().await.unwrap();
    let records_ns = cluster.ns("argocd");
    tools.create_namespace(&records_ns).await.unwrap();
    let drift = TestApp::ready(
        &cluster,
        &[
            ("ARGOCD_NAMESPACES", namespace.as_str()),
            ("ARGOCD_CONTROL_PLANE_NAMESPACE", namespace.as_str()),
        ],
    )
    .await;

    // Someone edits the live ConfigMap; Argo CD's self-heal puts it back.
    let edited_at = jiff::Timestamp::now();
    tools
        .kubectl_edit(
            APP,
            "v1",
            "ConfigMap",
            "settings",
            json!({"data": {"LOG_LEVEL": "debug"}}),
        )
        .await
        .unwrap();
    let header = format!("{namespace}:{APP}");
    let episode = eventually_some(Duration::from_secs(120), || async {
        let h = drift
            .get_as("/api/v1/history", &header, "default", &[])
            .await
            .json();
        h["episodes"]
            .as_array()
            .and_then(|e| e.first().cloned())
            .filter(|e| !e["endedAt"].is_null())
    })
    .await
    .unwrap_or_else(|e| panic!("no ended episode: {e}\n{}", drift.logs()));
    assert_eq!(episode["endCause"], "automatedSync", "{episode}");
    assert_eq!(episode["startWitnessed"], true, "{episode}");
    assert_eq!(episode["endWitnessed"], true, "{episode}");
    let started: jiff::Timestamp = episode["startedAt"].as_str().unwrap().parse().unwrap();
    assert!(
        started
            >= edited_at
                .checked_sub(jiff::SignedDuration::from_secs(1))
                .unwrap()
    );
    let healed = argocd.application(APP).await.unwrap();
    assert_eq!(
        healed["status"]["operationState"]["operation"]["initiatedBy"]["automated"],
        Value::Bool(true)
    );
}
