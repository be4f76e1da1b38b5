//! The whole product against a real Argo CD: argocd-drift served over HTTP, reading the live
//! objects of the scenario apps a real application-controller synced and that were then changed
//! for real (testenv's concordance suite plays them first; `make test-real` runs this after it),
//! asked for `GET /api/v1/drift?all=true` and compared, resource by resource, with Argo CD's own
//! verdict at the same moment (`managed-resources`, after Argo CD has compared every live object
//! at its current version):
//!
//! - local source (last-applied + managedFields): drifted exactly when Argo CD says OutOfSync
//!   because the live object changed, and every field listed is one where Argo CD's normalized
//!   and predicted live states differ — except the listed deliberate differences;
//! - Argo CD source (`ARGOCD_SERVER_URL` + a token): the fields listed are Argo CD's diff (a
//!   whole atomic list where Argo CD's index-by-index diff names its items).
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod common;

use common::TestApp;
use serde_json::Value;
use std::collections::BTreeSet;
use testenv::TestCluster;
use testenv::argocd::{ArgoCd, ResourceKey};
use testenv::oracle::{SCENARIOS, SECRET_VALUES};
use testenv::recording::diff_paths;

/// The `notInspected` reasons the local source gives where Argo CD compares (README, "How the
/// verdicts are checked", deliberate differences): nothing on the object records what this app
/// applied.
const LOCAL_NOT_INSPECTED: &[&str] = &["replaceSync", "trackedByAnotherApp"];

fn control_plane_env() -> std::path::PathBuf {
    std::env::var_os("DRIFT_TEST_ARGOCD_CONTROL_PLANE_ENV")
        .map(Into::into)
        .expect("DRIFT_TEST_ARGOCD_CONTROL_PLANE_ENV (run make test-real)")
}

fn state(item: &Value, field: &str) -> Value {
    serde_json::from_str(item[field].as_str().unwrap_or("null")).unwrap_or(Value::Null)
}

/// Argo CD's diff of one item: where its normalized and predicted live states differ.
fn argo_diff(item: &Value) -> BTreeSet<String> {
    diff_paths(
        &state(item, "normalizedLiveState"),
        &state(item, "predictedLiveState"),
    )
    .into_iter()
    .collect()
}

/// Is `path` at, under or above one of `paths` (a list item's fields vs the whole item)?
fn related(path: &str, paths: &BTreeSet<String>) -> bool {
    paths.iter().any(|p| {
        p == path || p.starts_with(&format!("{path}/")) || path.starts_with(&format!("{p}/"))
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the real Argo CD control plane and its played scenarios: make test-real"]
async fn drift_over_http_agrees_with_a_real_argo_cd_on_every_scenario_app() {
    let argocd = ArgoCd::connect(&control_plane_env()).await.unwrap();
    let namespace = argocd.namespace().to_string();
    let token = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(token.path(), argocd.token()).unwrap();
    let token_path = token.path().display().to_string();
    let url = argocd.url();
    let cluster = TestCluster::real().await.unwrap();
    let local_env = vec![
        ("ARGOCD_NAMESPACES", namespace.as_str()),
        ("ARGOCD_CONTROL_PLANE_NAMESPACE", namespace.as_str()),
        ("DRIFT_READ_SECRETS", "true"),
        ("DRIFT_CACHE_TTL_SECONDS", "0"),
        // Only the requests below inspect live objects (their sources are counted).
        ("HISTORY_ENRICH_INTERVAL_SECONDS", "0"),
    ];
    let mut argo_env = local_env.clone();
    argo_env.extend([
        ("ARGOCD_SERVER_URL", url.as_str()),
        ("ARGOCD_AUTH_TOKEN_FILE", token_path.as_str()),
    ]);

    let mut failures = Vec::new();
    let mut compared = 0;
    let mut not_inspected_seen: std::collections::BTreeMap<String, usize> = Default::default();
    for (source, env) in [("local", &local_env), ("argocd", &argo_env)] {
        let app = TestApp::ready(&cluster, env).await;
        // With Argo CD as a source, what the cluster must still be asked for: Secrets (Argo CD
        // masks them) and objects Argo CD holds no live state of; hooks are never read.
        let mut cluster_reads = 0;
        for &name in SCENARIOS {
            let (application, items) = argocd.settle(name).await.unwrap();
            let r = app
                .get_as(
                    "/api/v1/drift?all=true",
                    &format!("{namespace}:{name}"),
                    "default",
                    &[],
                )
                .await;
            assert_eq!(
                r.status,
                200,
                "{name}: {}",
                String::from_utf8_lossy(&r.body)
            );
            let report = r.json();
            for ours in report["resources"].as_array().unwrap() {
                let key = ResourceKey::of_entry(ours);
                let mut fail =
                    |why: String| failures.push(format!("[{source}] {name} {key}: {why}"));
                let entry = application["status"]["resources"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|e| ResourceKey::of_entry(e) == key)
                    .unwrap();
                let Some(item) = items.iter().find(|i| ResourceKey::of_entry(i) == key) else {
                    fail("not in Argo CD's managed-resources".into());
                    continue;
                };
                compared += 1;
                if entry["hook"] != true
                    && (ours["kind"] == "Secret" && ours["group"].as_str().unwrap_or("").is_empty()
                        || state(item, "liveState").is_null())
                {
                    cluster_reads += 1;
                }
                let cause = ours["cause"].as_str().unwrap();
                let argo_out_of_sync = entry["status"] == "OutOfSync";
                let live_gone = state(item, "liveState").is_null();
                let pruning = entry["requiresPruning"] == true;
                let diff = argo_diff(item);
                let fields: BTreeSet<String> = ours["fields"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|f| f["pointer"].as_str().unwrap().to_string())
                    .collect();
                // The cause follows Argo CD's verdict; the deliberate differences are the causes
                // that say why Argo CD is OutOfSync without live drift (gitAhead, extra).
                let expected: &[&str] = match (argo_out_of_sync, live_gone, pruning) {
                    (false, _, _) => &["none"],
                    (true, true, _) => &["missing"],
                    (true, false, true) => &["extra"],
                    (true, false, false) => &["liveChanged", "gitAhead"],
                };
                // Deliberate (README, "How the verdicts are checked"): Replace=true leaves no
                // record of what was applied on the object, and an object whose tracking id
                // names another app carries that app's record: the local source inspects
                // neither (the Argo CD source does).
                let deliberate = (source == "local" && cause == "notInspected")
                    .then(|| ours["notInspected"]["reason"].as_str())
                    .flatten()
                    .filter(|r| LOCAL_NOT_INSPECTED.contains(r));
                if let Some(reason) = deliberate {
                    *not_inspected_seen.entry(reason.to_string()).or_default() += 1;
                }
                if !expected.contains(&cause) && deliberate.is_none() {
                    fail(format!(
                        "we say {cause}, Argo CD says {} (diff {diff:?})",
                        entry["status"]
                    ));
                    continue;
                }
                // The same fields, at the engine's granularity: an atomic list (every list of a
                // custom resource) is one field where the index-by-index diff names its items.
                let same = fields.iter().all(|f| related(f, &diff))
                    && diff.iter().all(|d| related(d, &fields));
                if cause == "liveChanged" && source == "argocd" && !same {
                    fail(format!("fields {fields:?}, Argo CD's diff {diff:?}"));
                }
                if cause == "liveChanged" && source == "local" {
                    for f in &fields {
                        let attribution_only = ours["fields"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .any(|x| x["pointer"] == f.as_str() && x["desiredKnown"] == false);
                        if !related(f, &diff) && !attribution_only {
                            fail(format!("field {f} is not in Argo CD's diff {diff:?}"));
                        }
                    }
                }
                if cause == "gitAhead" && source == "local" && !fields.is_empty() {
                    fail(format!(
                        "gitAhead from the local source lists fields {fields:?}"
                    ));
                }
            }
            // No Secret value of the scenarios, in any encoding, in what we answered.
            drift_core::drift::secret::leak::assert_none(
                &String::from_utf8_lossy(&r.body),
                SECRET_VALUES,
            );
        }
        drift_core::drift::secret::leak::assert_none(&app.logs(), SECRET_VALUES);
        drift_core::drift::secret::leak::assert_none(&app.logs(), &[argocd.token()]);
        if source == "argocd" {
            // Argo CD's answer is the live source: the destination cluster is read only for what
            // it lacks.
            let text = app.metrics().await;
            let from = |source: &str| {
                common::metric(
                    &text,
                    &format!("argocd_drift_live_objects_total{{source=\"{source}\"}}"),
                )
                .unwrap_or(0.0)
            };
            assert!(from("argocd") > 0.0, "no live state taken from Argo CD");
            assert_eq!(
                from("cluster"),
                f64::from(cluster_reads),
                "objects read from the cluster"
            );
        }
        drop(app);
    }
    eprintln!("compared {compared} resource verdicts with a live Argo CD");
    // Each deliberate difference is still one: some scenario plays it.
    for reason in LOCAL_NOT_INSPECTED {
        if !not_inspected_seen.contains_key(*reason) {
            failures.push(format!(
                "[local] no resource was left notInspected ({reason}): the deliberate difference is gone, update the README and LOCAL_NOT_INSPECTED"
            ));
        }
    }
    assert!(
        compared >= 2 * SCENARIOS.len(),
        "too few resources compared: {compared}"
    );
    assert!(failures.is_empty(), "{failures:#?}");
}
