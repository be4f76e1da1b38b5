//! One scenario, the engine's verdict beside Argo CD's, and whether they agree.
//!
//! Argo CD's side is the oracle's answer (fixtures/diff-scenarios/README.md): its sync status,
//! `modified`, the paths where normalized and predicted live differ, and `atLastSync`, the same
//! diff against what the last sync applied. The engine runs as the backend runs it: an
//! [`Inspector`] for the app (its spec and argocd-cm through `parse_argocd_cm`), one
//! `inspect` of the resource whose `status.resources` entry carries Argo CD's verdict.
//!
//! Two sources, as in the product:
//! - `local`: the live object alone (last-applied, managedFields). The engine cannot know Git, so
//!   its fields are compared with `atLastSync.paths` (live against what Argo CD last applied; the
//!   same as `paths` when Git has not moved), and its sync verdict with Argo CD's.
//! - `argocd`: with Argo CD's managed-resources item (the answer's normalized and predicted live):
//!   fields compared with `paths`.
//!
//! The rules (each failure names which):
//! - `none` ⇔ Argo CD says the resource is not modified; `liveChanged` needs Argo CD OutOfSync
//!   and something changed live (`atLastSync.modified`); `gitAhead` needs Argo CD OutOfSync,
//!   nothing changed live (`atLastSync` not modified) and evidence that Git moved (the app's
//!   revision differs from its last successful sync's); `missing`/`extra` need the live object
//!   gone / Argo CD's `requiresPruning`.
//! - Paths: every engine field is at, inside or around an Argo CD path and every Argo CD path at,
//!   inside or around an engine field (list items and leaves may be named at different depths).
//! - `notInspected` is accepted where nothing local can be known: a hook (Argo CD does not diff
//!   it either), or no parseable last-applied record and no server-side apply record.
//! - App level: when Argo CD keeps the app Synced, the engine's report counts no drifted resource.

use drift_core::app::Application;
use drift_core::drift::jq::{JqCache, Unlimited};
use drift_core::drift::report::drift_report;
use drift_core::drift::settings::parse_argocd_cm;
use drift_core::drift::view::{Cause, NotInspectedReason, ResourceDrift};
use drift_core::drift::{Inspector, LiveRead, ManagedResource, ResourceInput};
use serde_json::Value;
use std::collections::BTreeMap;

/// Which desired state the engine is given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    Local,
    ArgoCd,
}

impl Source {
    pub fn suffix(self) -> &'static str {
        match self {
            Source::Local => "",
            Source::ArgoCd => "@argocd",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    Agree,
    /// The engine did not look, for a reason only the live object can give.
    Declined(String),
    /// The engine and Argo CD disagree.
    Disagree(String),
}

/// A `deliberate` entry of a scenario: the engine says `cause` instead, for `reason`.
#[derive(Clone, Debug)]
pub struct Deliberate {
    pub reason: String,
    pub cause: String,
    pub source: Option<Source>,
}

impl Deliberate {
    pub fn from_scenario(s: &Value) -> Result<Option<Deliberate>, String> {
        let Some(d) = s.get("deliberate") else {
            return Ok(None);
        };
        if d.is_null() {
            return Ok(None);
        }
        let text = |k: &str| d.get(k).and_then(Value::as_str).map(str::to_string);
        let (Some(reason), Some(cause)) = (text("reason"), text("cause")) else {
            return Err("deliberate needs reason and cause (the engine's)".into());
        };
        let source = match text("source").as_deref() {
            None => None,
            Some("local") => Some(Source::Local),
            Some("argocd") => Some(Source::ArgoCd),
            Some(o) => return Err(format!("deliberate.source {o:?}: local or argocd")),
        };
        Ok(Some(Deliberate {
            reason,
            cause,
            source,
        }))
    }

    pub fn applies_to(&self, source: Source) -> bool {
        self.source.is_none_or(|s| s == source)
    }
}

pub fn cause_name(c: Cause) -> String {
    serde_json::to_value(c)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|p| p.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// `a` is `b`, or one is inside the other (at a `/` boundary).
fn related(a: &str, b: &str) -> bool {
    a == b
        || a.strip_prefix(b).is_some_and(|r| r.starts_with('/'))
        || b.strip_prefix(a).is_some_and(|r| r.starts_with('/'))
        || a.is_empty()
        || b.is_empty()
}

/// Paths that have no related path on the other side, per side.
pub fn unmatched(engine: &[String], argo: &[String]) -> (Vec<String>, Vec<String>) {
    let e = engine
        .iter()
        .filter(|p| !argo.iter().any(|q| related(p, q)))
        .cloned()
        .collect();
    let a = argo
        .iter()
        .filter(|p| !engine.iter().any(|q| related(p, q)))
        .cloned()
        .collect();
    (e, a)
}

/// The app says Git moved: its revision(s) differ from its last successful sync's.
pub fn git_moved(app: &Value) -> bool {
    let st = &app["status"];
    let current = {
        let mut r = strings(&st["sync"]["revisions"]);
        if let Some(one) = st["sync"]["revision"].as_str() {
            r.push(one.to_string());
        }
        r
    };
    let synced = {
        let res = &st["operationState"]["syncResult"];
        let ok = st["operationState"]["phase"].as_str() == Some("Succeeded");
        let mut r = strings(&res["revisions"]);
        if let Some(one) = res["revision"].as_str() {
            r.push(one.to_string());
        }
        if !ok || r.is_empty() {
            r.clear();
            if let Some(last) = st["history"].as_array().and_then(|h| h.last()) {
                r = strings(&last["revisions"]);
                if let Some(one) = last["revision"].as_str() {
                    r.push(one.to_string());
                }
            }
        }
        r
    };
    !current.is_empty() && !synced.is_empty() && current != synced
}

/// What the engine said, with what is needed to judge it.
pub struct EngineRun {
    pub drift: ResourceDrift,
    pub app_drifted: usize,
}

/// Runs the engine on one answered scenario as the backend would.
pub fn run_engine(answer: &Value, source: Source, jq: &JqCache) -> Result<EngineRun, String> {
    let cm: BTreeMap<String, String> = answer["argocdCm"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default();
    let params: BTreeMap<String, String> = answer["argocdCmdParams"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default();
    let system = parse_argocd_cm(&cm).with_cmd_params(&params);
    let app = Application::from_object(answer["application"].clone())
        .map_err(|e| format!("the answer's application does not decode: {e}"))?;
    let r = app
        .status
        .resources
        .first()
        .ok_or("the answer's application lists no resource")?;
    let live = match &answer["live"] {
        Value::Null => LiveRead::NotFound,
        v => LiveRead::Found(v.clone()),
    };
    let state = |k: &str| match &answer[k] {
        Value::Null => Value::String("null".into()),
        v => Value::String(v.to_string()),
    };
    let item = serde_json::json!({
        "group": r.group, "kind": r.kind, "namespace": r.namespace, "name": r.name,
        "targetState": state("target"), "liveState": state("live"),
        "normalizedLiveState": state("normalizedLive"), "predictedLiveState": state("predictedLive"),
        "modified": answer["modified"],
    });
    let mr = ManagedResource::from_api_item(&item).map_err(|e| e.to_string())?;
    // The engine's entry, as the backend calls it.
    let inspector = Inspector::for_app(&app, &system, jq).with_secrets(true);
    let input = ResourceInput {
        resource: r,
        live,
        argocd: (source == Source::ArgoCd).then_some(&mr),
    };
    let drift = inspector.inspect(&input, &mut Unlimited);
    let read_at = "2026-01-02T00:00:00Z".parse().map_err(|e| format!("{e}"))?;
    let report = drift_report(&app, vec![drift.clone()], read_at, true);
    Ok(EngineRun {
        drift,
        app_drifted: report.summary.resources_drifted,
    })
}

fn has_last_applied(live: &Value) -> bool {
    live["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
        .as_str()
        .and_then(|t| serde_json::from_str::<Value>(t).ok())
        .is_some_and(|v| v.is_object())
}

/// The verdicts side by side.
pub fn judge(answer: &Value, run: &EngineRun, source: Source) -> Outcome {
    let d = &run.drift;
    let cause = cause_name(d.cause);
    let fields: Vec<String> = d.fields.iter().map(|f| f.pointer.clone()).collect();
    if let Some(e) = answer["error"].as_str() {
        // Argo CD shows a ComparisonError and no verdict: the engine may not claim a cause.
        return match d.cause {
            Cause::LiveChanged | Cause::GitAhead => Outcome::Disagree(format!(
                "Argo CD cannot compare ({e}); the engine says {cause}"
            )),
            _ => Outcome::Agree,
        };
    }
    let modified = answer["modified"].as_bool().unwrap_or(false);
    let status = answer["status"].as_str();
    let at_last = &answer["atLastSync"];
    let live_changed = at_last["modified"].as_bool().unwrap_or(modified);
    let live_gone = answer["live"].is_null();
    let extra = answer["requiresPruning"].as_bool().unwrap_or(false);
    let app_synced = !answer["appOutOfSync"].as_bool().unwrap_or(false);
    let moved = git_moved(&answer["application"]);
    let reference = match source {
        Source::Local if at_last.is_object() => strings(&at_last["paths"]),
        _ => strings(&answer["paths"]),
    };
    let argo = format!(
        "Argo CD: status {}, modified {modified}, live changed since the last sync {live_changed}, paths {reference:?}",
        status.unwrap_or("none")
    );
    if app_synced && run.app_drifted > 0 {
        return Outcome::Disagree(format!(
            "{argo}; the app is Synced for Argo CD but the engine's report counts {} drifted resource(s)",
            run.app_drifted
        ));
    }
    let disagree = |why: &str| {
        Outcome::Disagree(format!(
            "{argo}; the engine says {cause} with fields {fields:?}: {why}"
        ))
    };
    let paths_agree = || {
        let (e, a) = unmatched(&fields, &reference);
        if e.is_empty() && a.is_empty() {
            Outcome::Agree
        } else {
            disagree(&format!(
                "paths differ (engine only {e:?}, Argo CD only {a:?})"
            ))
        }
    };
    match d.cause {
        Cause::Missing if live_gone => Outcome::Agree,
        Cause::Missing => disagree("the live object exists"),
        _ if live_gone => disagree("the live object is gone"),
        Cause::Extra if extra => Outcome::Agree,
        Cause::Extra => disagree("Argo CD does not say it requires pruning"),
        Cause::NotInspected => {
            let reason = d.not_inspected.as_ref().map(|n| n.reason);
            let live = &answer["live"];
            match reason {
                Some(NotInspectedReason::Hook) if answer["hook"].as_bool() == Some(true) => {
                    Outcome::Declined("hook".into())
                }
                Some(
                    r @ (NotInspectedReason::NoDesiredState
                    | NotInspectedReason::ReplaceSync
                    | NotInspectedReason::UnparseableAnnotation),
                ) if !has_last_applied(live) => Outcome::Declined(format!("{r:?}")),
                _ => disagree(&format!(
                    "not inspected ({:?})",
                    d.not_inspected.as_ref().map(|n| &n.message)
                )),
            }
        }
        Cause::NoDrift if !modified => Outcome::Agree,
        Cause::NoDrift => disagree("Argo CD says OutOfSync (missed drift)"),
        _ if !modified => disagree("Argo CD says Synced (false drift)"),
        Cause::LiveChanged if !live_changed => {
            disagree("nothing changed live since Argo CD's last sync")
        }
        Cause::LiveChanged => paths_agree(),
        Cause::GitAhead if live_changed => {
            disagree("gitAhead, but live differs from what Argo CD last applied")
        }
        Cause::GitAhead if !moved => disagree("gitAhead without evidence that Git moved"),
        Cause::GitAhead if source == Source::ArgoCd => paths_agree(),
        Cause::GitAhead => Outcome::Agree,
    }
}
