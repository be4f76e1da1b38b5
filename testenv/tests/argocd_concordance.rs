//! Concordance with a real Argo CD: every scenario of `testenv::oracle` is played live on the
//! control plane `make test-real` starts (argocd-server, repo-server and application-controller
//! v3.5.7 syncing from a Git repository on loopback, in front of a real kube-apiserver), and for
//! every resource of every scenario app:
//!
//! - Argo CD's verdict is the one the scenario intended: OutOfSync exactly when intended, with
//!   `requiresPruning` exactly for the extra object, a diff (`modified`, and
//!   `normalizedLiveState` ≠ `predictedLiveState`) exactly when something changed live or in
//!   Git, each intended changed path among the paths where those two differ, and no ignored or
//!   merely added field among them (`Recording::disagreements`);
//! - the verdict and the differing paths are the ones recorded in `fixtures/argocd-real/` (the
//!   fixtures the fake-cluster suites use still describe what a real Argo CD does);
//! - the apply that `testenv::scenario` simulates for the demo (Argo CD's client-side and
//!   server-side apply of a new object) writes what the real controller wrote, for every object
//!   only Argo CD has written to ([`simulated_apply_differences`]);
//! - argocd-drift's own verdict, derived from the same intent ([`ours`]), differs from Argo CD's
//!   only where [`DELIBERATE_DIFFERENCES`] says so and why, and the drift engine, run on the live
//!   objects the real controller left ([`engine_verdict`]), gives the intended cause (`gitAhead`
//!   and `extra` included) and lists every intended changed path.
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::PathBuf;
use testenv::argocd::{ArgoCd, ResourceKey};
use testenv::oracle::{Player, SCENARIOS, SECRET_VALUES};
use testenv::recording::{
    Cause, Expected, Recording, diff_paths, last_applied, load_recordings, recordings_dir,
};
use testenv::scenario::Tools;

/// What argocd-drift says about one live resource.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Verdict {
    /// The live object departs from what Git asked for, at these paths.
    Drifted(Vec<String>),
    /// Git asks for something that is not live.
    Missing,
    /// Nothing drifted live (whatever Argo CD's sync status).
    NotDrifted,
}

/// One case where argocd-drift's verdict deliberately differs from Argo CD's, or adds to it.
struct Deliberate {
    /// The scenario intent it applies to.
    applies: fn(&Expected) -> bool,
    argo_cd: &'static str,
    argocd_drift: &'static str,
    why: &'static str,
}

/// Every case where argocd-drift says something else than Argo CD, with the reason. A scenario
/// whose resource Argo CD calls OutOfSync while argocd-drift does not call it drifted must be
/// covered here, and each entry must be played by some scenario.
const DELIBERATE_DIFFERENCES: &[Deliberate] = &[
    Deliberate {
        applies: |e| e.cause == Cause::GitAhead,
        argo_cd: "OutOfSync, with Git's new values in the diff",
        argocd_drift: "not drifted: Git is ahead of the cluster",
        why: "nothing changed live; the live object is what the last sync applied. argocd-drift \
              answers who changed what live; a commit not yet synced is Argo CD's news, reported \
              as `gitAhead` from the Application's status, not as drift",
    },
    Deliberate {
        applies: |e| e.cause == Cause::Extra,
        argo_cd: "OutOfSync (requiresPruning), modified=false, targetState null",
        argocd_drift: "not drifted: an extra object Git no longer has",
        why: "the live object did not change; Git dropped it. Reported as `extra` from \
              status.resources, not as field drift",
    },
    Deliberate {
        applies: |e| !e.added_paths.is_empty(),
        argo_cd: "the added field is not in the diff (Synced if nothing else changed)",
        argocd_drift: "same verdict, and the addition listed with its field manager",
        why: "Argo CD follows `kubectl diff`: a field Git never set is not drift (argo-cd #1613); \
              users ask who added it (argo-cd #15116, #23927), and managedFields say",
    },
];

/// Scenarios the drift engine does not agree on yet (issue 16), as in core/tests/argocd_oracle.rs's
/// `KNOWN_DISAGREEMENTS`: the engine's verdict is not held against them, and the test fails once
/// one agrees on every resource (delete its entry with the fix) or names no scenario.
const ENGINE_KNOWN_DISAGREEMENTS: &[&str] = &[];

/// argocd-drift's verdict for a resource, from the scenario's intent.
fn ours(expected: &Expected) -> Verdict {
    match expected.cause {
        Cause::LiveChanged => Verdict::Drifted(expected.changed_paths.clone()),
        Cause::Missing => Verdict::Missing,
        Cause::GitAhead | Cause::Extra | Cause::None => Verdict::NotDrifted,
    }
}

/// What the drift engine says about one resource: its cause (as the API names it) and the
/// pointers of the fields it lists.
#[derive(Debug)]
struct EngineVerdict {
    cause: String,
    fields: Vec<String>,
    /// Why it did not look, when it did not.
    not_inspected: Option<String>,
}

/// The drift engine's verdict for one resource of a played scenario, from the live objects and
/// the Application as the real controller left them (the local source: last-applied and
/// managedFields, as the backend has it without an Argo CD token; Secrets readable), with the
/// inspector the backend builds for the app (its name for tracking ids, its status for the
/// evidence that Git moved). `None` where the README's deliberate differences say the local
/// source does not inspect the resource.
fn engine_verdict(recording: &Recording, key: &str) -> Option<EngineVerdict> {
    use drift_core::app::Application;
    use drift_core::drift::jq::{JqCache, Unlimited};
    use drift_core::drift::settings::parse_argocd_cm;
    use drift_core::drift::view::NotInspectedReason;
    use drift_core::drift::{Inspector, LiveRead, ResourceInput};
    let wanted = ResourceKey::parse(key)?;
    let app = Application::from_object(recording.application.clone()).ok()?;
    let entry = app
        .status
        .resources
        .iter()
        .find(|r| {
            ResourceKey::of_entry(&json!({"group": r.group, "kind": r.kind, "namespace": r.namespace, "name": r.name}))
                == wanted
        })?
        .clone();
    let live = recording
        .live
        .iter()
        .find(|o| ResourceKey::of_object(o) == wanted)
        .cloned();
    // argocd-cm's diff settings as recorded with the scenario, as the backend would read them.
    let (system, jq) = (parse_argocd_cm(&recording.argocd_cm), JqCache::new());
    let inspector = Inspector::for_app(&app, &system, &jq).with_secrets(true);
    let input = ResourceInput {
        resource: &entry,
        live: live.map_or(LiveRead::NotFound, LiveRead::Found),
        argocd: None,
    };
    let drift = inspector.inspect(&input, &mut Unlimited);
    let reason = drift.not_inspected.as_ref().map(|n| n.reason);
    // Deliberate (README, "How the verdicts are checked"): with Replace=true nothing local
    // records what was applied, and an object whose tracking id names another app carries that
    // app's record; the local source inspects neither (the Argo CD source does).
    if matches!(
        reason,
        Some(NotInspectedReason::ReplaceSync | NotInspectedReason::TrackedByAnotherApp)
    ) {
        return None;
    }
    Some(EngineVerdict {
        cause: serde_json::to_value(drift.cause)
            .unwrap()
            .as_str()
            .unwrap()
            .to_string(),
        fields: drift.fields.iter().map(|f| f.pointer.clone()).collect(),
        not_inspected: drift
            .not_inspected
            .map(|n| format!("{:?}: {}", n.reason, n.message)),
    })
}

/// The engine agrees with the scenario's intent: the same cause; for drift every path the
/// scenario changed among the fields it lists (with the local source alone, a
/// server-side-applied object's fields taken over by another manager are listed beside them,
/// desired value unknown: managedFields cannot tell a change from an addition there); for
/// `gitAhead` no field (deliberate: which fields Git moved only Argo CD knows).
fn engine_agrees(engine: &EngineVerdict, expected: &Expected) -> bool {
    let intended = serde_json::to_value(expected.cause).unwrap();
    engine.cause == intended.as_str().unwrap()
        && match expected.cause {
            Cause::LiveChanged => expected
                .changed_paths
                .iter()
                .all(|p| engine.fields.contains(p)),
            Cause::GitAhead => engine.fields.is_empty(),
            Cause::Missing | Cause::Extra | Cause::None => true,
        }
}

/// Argo CD's verdict on one resource, as it is compared with the committed recording.
fn argo_verdict(r: &Recording, key: &str) -> Value {
    let key = ResourceKey::parse(key).unwrap();
    let entry = r
        .status_resources()
        .into_iter()
        .find(|e| ResourceKey::of_entry(e) == key)
        .cloned()
        .unwrap_or_default();
    let item = r.managed_resource(&key).cloned().unwrap_or_default();
    let state = |f: &str| -> Value {
        serde_json::from_str(item[f].as_str().unwrap_or("null")).unwrap_or(Value::Null)
    };
    serde_json::json!({
        "status": entry["status"],
        "requiresPruning": entry["requiresPruning"],
        "modified": item["modified"],
        "liveState": if state("liveState").is_null() { "null" } else { "present" },
        "targetState": if state("targetState").is_null() { "null" } else { "present" },
        "differing": diff_paths(&state("normalizedLiveState"), &state("predictedLiveState")),
    })
}

fn control_plane_env() -> PathBuf {
    std::env::var_os("DRIFT_TEST_ARGOCD_CONTROL_PLANE_ENV")
        .map(PathBuf::from)
        .expect("DRIFT_TEST_ARGOCD_CONTROL_PLANE_ENV: the env file of `real-argocd.sh start --control-plane` (run make test-real)")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a real Argo CD control plane: make test-real"]
async fn a_real_argo_cd_agrees_with_every_scenario_and_with_its_recording() {
    let argocd = ArgoCd::connect(&control_plane_env()).await.unwrap();
    let tools = Tools::new(argocd.kube());
    let player = Player::new(argocd).await.unwrap();
    let started = std::time::Instant::now();
    let played = player.play_all(SCENARIOS).await;
    eprintln!(
        "played {} scenarios live in {:.1} s",
        SCENARIOS.len(),
        started.elapsed().as_secs_f64()
    );
    let committed: BTreeMap<String, Recording> = load_recordings(&recordings_dir())
        .unwrap()
        .into_iter()
        .map(|r| (r.scenario.clone(), r))
        .collect();
    let allowed = SECRET_VALUES.iter().map(|s| s.to_string()).collect();

    let mut failures = Vec::new();
    let mut engine_still_disagrees = std::collections::BTreeSet::new();
    let mut simulated = (0, 0);
    for (name, result) in played {
        let live = match result {
            Ok(r) => r,
            Err(e) => {
                failures.push(format!("{name}: could not be played: {e:#}"));
                continue;
            }
        };
        let mut fail = |p: String| failures.push(format!("{name}: {p}"));
        live.disagreements().into_iter().for_each(&mut fail);
        live.malformations(&allowed).into_iter().for_each(&mut fail);

        let sim_ns = format!("sim-{name}");
        tools.create_namespace(&sim_ns).await.unwrap();
        let (differences, (client, server)) =
            simulated_apply_differences(&tools, &live, &sim_ns).await;
        differences.into_iter().for_each(&mut fail);
        simulated.0 += client;
        simulated.1 += server;

        let Some(recorded) = committed.get(&name) else {
            fail("no committed recording (run make record-fixtures)".into());
            continue;
        };
        if recorded.expected != live.expected {
            fail(
                "the scenario's intent changed since it was recorded (run make record-fixtures)"
                    .into(),
            );
        }
        for (key, expected) in &live.expected {
            let (now, then) = (argo_verdict(&live, key), argo_verdict(recorded, key));
            if now != then {
                fail(format!(
                    "{key}: Argo CD says {now} live, the recording says {then}"
                ));
            }
            let argo_out_of_sync = expected.argo_status == "OutOfSync";
            let verdict = ours(expected);
            let we_flag = verdict != Verdict::NotDrifted;
            if argo_out_of_sync != we_flag
                && !DELIBERATE_DIFFERENCES.iter().any(|d| (d.applies)(expected))
            {
                fail(format!(
                    "{key}: Argo CD says {}, argocd-drift would say {verdict:?}, and no deliberate difference explains it",
                    expected.argo_status
                ));
            }
            if let Some(engine) = engine_verdict(&live, key)
                && !engine_agrees(&engine, expected)
            {
                if ENGINE_KNOWN_DISAGREEMENTS.contains(&name.as_str()) {
                    engine_still_disagrees.insert(name.clone());
                } else {
                    fail(format!(
                        "{key}: the drift engine says {} at {:?} (not inspected: {:?}), the scenario intends {:?} at {:?}",
                        engine.cause,
                        engine.fields,
                        engine.not_inspected,
                        expected.cause,
                        expected.changed_paths
                    ));
                }
            }
        }
    }
    for listed in ENGINE_KNOWN_DISAGREEMENTS {
        if !SCENARIOS.contains(listed) {
            failures.push(format!(
                "ENGINE_KNOWN_DISAGREEMENTS names {listed}: no such scenario"
            ));
        } else if !engine_still_disagrees.contains(*listed) {
            failures.push(format!(
                "{listed}: the drift engine agrees with the scenario now: delete it from ENGINE_KNOWN_DISAGREEMENTS"
            ));
        }
    }
    eprintln!(
        "the simulated apply wrote what the real controller wrote for {} objects (client-side) and {} (server-side)",
        simulated.0, simulated.1
    );
    assert!(
        simulated.0 > 0 && simulated.1 > 0,
        "no object to compare the simulated apply with: {simulated:?}"
    );
    assert!(failures.is_empty(), "{failures:#?}");
}

/// How the simulated apply of `testenv::scenario` differs from the real controller's, for each
/// live object of `recording` that only `argocd-controller` has written to: the same manifest
/// (the last-applied annotation for client-side apply, Argo CD's target state for server-side
/// apply) is applied the simulated way into `sim_ns`, and the two objects' `managedFields`
/// (manager, operation, fields), annotations, labels and `spec` are compared.
/// Also returns how many objects were compared with each kind of apply: `(client, server)`.
async fn simulated_apply_differences(
    tools: &Tools,
    recording: &Recording,
    sim_ns: &str,
) -> (Vec<String>, (usize, usize)) {
    let mut out = Vec::new();
    let mut compared = (0, 0);
    for real in &recording.live {
        let key = ResourceKey::of_object(real);
        let entries = real["metadata"]["managedFields"].as_array().unwrap();
        if entries.len() != 1 || entries[0]["manager"] != "argocd-controller" {
            continue;
        }
        let server_side = entries[0]["operation"] == "Apply";
        if server_side {
            compared.1 += 1;
        } else {
            compared.0 += 1;
        }
        let mut manifest = if server_side {
            let item = recording.managed_resource(&key).unwrap();
            serde_json::from_str(item["targetState"].as_str().unwrap()).unwrap()
        } else if let Some(applied) = last_applied(real) {
            applied
        } else {
            // Replace=true: created without a record; the demo simulates no such apply.
            compared.0 -= 1;
            continue;
        };
        manifest["metadata"]["namespace"] = json!(sim_ns);
        let simulated = if server_side {
            tools.argocd_server_side_apply(&manifest).await
        } else {
            tools.argocd_client_side_apply(&manifest).await
        };
        let simulated = match simulated {
            Ok(o) => o,
            Err(e) => {
                out.push(format!("{key}: the simulated apply failed: {e:#}"));
                continue;
            }
        };
        let fields = |o: &Value| -> Vec<Value> {
            o["metadata"]["managedFields"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| {
                    json!([
                        e["manager"],
                        e["operation"],
                        e["subresource"],
                        e["fieldsV1"]
                    ])
                })
                .collect()
        };
        if fields(real) != fields(&simulated) {
            out.push(format!(
                "{key}: managedFields: real {:?}, simulated {:?}",
                fields(real),
                fields(&simulated)
            ));
        }
        let meta = |o: &Value, field: &str| -> Value {
            let text = o["metadata"][field].to_string().replace(
                &format!("\\\"namespace\\\":\\\"{}\\\"", key.namespace),
                &format!("\\\"namespace\\\":\\\"{sim_ns}\\\""),
            );
            serde_json::from_str(&text).unwrap()
        };
        for field in ["annotations", "labels"] {
            if meta(real, field) != meta(&simulated, field) {
                out.push(format!(
                    "{key}: {field}: real {}, simulated {}",
                    meta(real, field),
                    meta(&simulated, field)
                ));
            }
        }
        let spec = |o: &Value| {
            let mut spec = o["spec"].clone();
            if let Some(s) = spec.as_object_mut() {
                s.remove("clusterIP");
                s.remove("clusterIPs");
            }
            spec
        };
        if spec(real) != spec(&simulated) {
            out.push(format!(
                "{key}: spec: real {}, simulated {}",
                spec(real),
                spec(&simulated)
            ));
        }
    }
    (out, compared)
}

#[test]
fn every_deliberate_difference_is_played_by_some_scenario() {
    let recordings = load_recordings(&recordings_dir()).unwrap();
    for d in DELIBERATE_DIFFERENCES {
        let played = recordings
            .iter()
            .flat_map(|r| r.expected.values())
            .any(|e| (d.applies)(e));
        assert!(
            played,
            "no scenario plays: Argo CD {} / argocd-drift {} ({})",
            d.argo_cd, d.argocd_drift, d.why
        );
    }
}
