//! `GET /api/v1/status`: one Application's sync, health, last operation and freshness, as the UI
//! and operators read it.
//!
//! Pure: built from what the index holds and the current time. The JSON shape is camelCase and
//! documented in the README; absent values are `null` rather than missing, so clients can rely on
//! every key being there.

use super::app::{Application, Condition, InitiatedBy, OperationState, ResourceStatus};
use super::reports::view::ReportsSummary;
use super::tracking::{Freshness, IndexedApp, OUT_OF_SYNC, OutOfSync};
use jiff::{SignedDuration, Timestamp};
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;

#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusView {
    pub application: AppIdentity,
    pub destination: DestinationView,
    pub sync: SyncView,
    pub health: HealthView,
    pub last_operation: Option<OperationView>,
    pub reconciliation: ReconciliationView,
    pub conditions: Vec<ConditionView>,
    pub resources: ResourceCounts,
    /// Since when the app has drifted, from its stored drift episode (the same on every replica
    /// and after a restart); `null` unless the app is OutOfSync now.
    pub out_of_sync: Option<OutOfSyncView>,
    /// What the drift episode under way has recorded (no cluster is read for it); `null` unless
    /// the app is OutOfSync now with an episode under way. The Drift tab's `/api/v1/drift` reads
    /// the live objects for the field-by-field answer.
    pub drift: Option<EpisodeDrift>,
    /// Whether this answer comes from a live watch or from the last data seen before the API
    /// server became unreachable.
    pub data: DataFreshness,
    /// External drift reports that belong to the app (counted by the backend, which holds
    /// them); `null` until the reports have been read.
    pub reports: Option<ReportsSummary>,
    pub generated_at: Timestamp,
}

/// What the drift episode under way has recorded so far — from Argo CD's OutOfSync resources
/// when it started and the background inspection since (`HISTORY_ENRICH_INTERVAL_SECONDS`) —
/// served with the app's status so that the status panel reads no cluster.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EpisodeDrift {
    /// Resources whose live object changed: edited, deleted, or extra in the cluster.
    pub changed: usize,
    /// Resources changed in Git only (nothing changed in the cluster).
    pub git_ahead: usize,
    /// Resources Argo CD lists as OutOfSync that no inspection has explained yet.
    pub not_inspected: usize,
    /// The field managers behind the live changes, sorted, once each (tools, never people).
    pub managers: Vec<String>,
    /// `interactive`, `automation`, `other`, or `unknown` (not inspected yet).
    pub manager_class: String,
}

#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AppIdentity {
    pub namespace: String,
    pub name: String,
    pub project: String,
}

#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DestinationView {
    pub server: Option<String>,
    pub name: Option<String>,
    pub namespace: Option<String>,
}

#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncView {
    /// `Synced`, `OutOfSync`, `Unknown`, or `null` before Argo CD's first comparison.
    pub status: Option<String>,
    pub revision: Option<String>,
    /// One per source for multi-source apps; empty otherwise.
    pub revisions: Vec<String>,
}

#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HealthView {
    pub status: Option<String>,
    pub message: Option<String>,
}

#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OperationView {
    /// `Running`, `Terminating`, `Failed`, `Error` or `Succeeded`.
    pub phase: Option<String>,
    pub message: Option<String>,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub initiated_by: Initiator,
    /// The revision(s) the operation synced to.
    pub revision: Option<String>,
    pub revisions: Vec<String>,
}

/// Who started the last operation.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum Initiator {
    /// A person (or a CI job with a user token), by Argo CD user name.
    User { username: String },
    /// The app's automated sync policy.
    Automation,
    /// Argo CD recorded neither.
    Unknown,
}

#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReconciliationView {
    /// When Argo CD last compared the app with Git (`status.reconciledAt`).
    pub reconciled_at: Option<String>,
    /// Seconds since `reconciledAt`; `null` if Argo CD has not written a valid one.
    pub age_seconds: Option<i64>,
    /// True when `reconciledAt` is older than the configured bound (or missing): the sync and
    /// health verdicts may be frozen, e.g. because the application controller is stuck.
    pub stale: bool,
    pub stale_after_seconds: u64,
}

#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConditionView {
    #[serde(rename = "type")]
    pub type_: String,
    pub message: Option<String>,
    pub last_transition_time: Option<String>,
}

#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceCounts {
    pub total: usize,
    /// Resource count per sync status (`Synced`, `OutOfSync`, …; `Unknown` when unset).
    pub by_sync: BTreeMap<String, usize>,
    /// Resource count per health status, for resources Argo CD assessed. `null` when the
    /// Application does not store per-resource health (Argo CD 3.x default: `healthSource` is
    /// `appTree`).
    pub by_health: Option<BTreeMap<String, usize>>,
    /// `application` (2.x shape: health stored per resource) or `appTree` (3.x shape).
    pub health_source: &'static str,
}

#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OutOfSyncView {
    /// When argocd-drift saw the app turn OutOfSync; `null` if it was already OutOfSync when it
    /// was first seen (never a guessed time).
    pub since: Option<Timestamp>,
    /// When it was first seen OutOfSync: the app has drifted at least since then.
    pub observed_since: Timestamp,
}

// Beside the watch's `Freshness` it shows (the reports' views show it too).
pub use super::tracking::DataFreshness;

/// Builds the status document for one app.
pub fn status_view(
    entry: &IndexedApp,
    freshness: &Freshness,
    now: Timestamp,
    stale_after: Duration,
) -> StatusView {
    status_view_with(entry, entry.out_of_sync, freshness, now, stale_after)
}

/// [`status_view`] with the OutOfSync timing taken from elsewhere (the stored drift history)
/// rather than this process's own record.
pub fn status_view_with(
    entry: &IndexedApp,
    out_of_sync: Option<OutOfSync>,
    freshness: &Freshness,
    now: Timestamp,
    stale_after: Duration,
) -> StatusView {
    let app = &entry.app;
    let status = &app.status;
    StatusView {
        application: AppIdentity {
            namespace: app.key.namespace.clone(),
            name: app.key.name.clone(),
            project: app.spec.project().to_string(),
        },
        destination: DestinationView {
            server: app.spec.destination.server().map(str::to_string),
            name: app.spec.destination.name().map(str::to_string),
            namespace: app.spec.destination.namespace().map(str::to_string),
        },
        sync: SyncView {
            status: status.sync.status.clone(),
            revision: status.sync.revision.clone(),
            revisions: status.sync.revisions.clone(),
        },
        health: HealthView {
            status: status.health.status.clone(),
            message: status.health.message.clone(),
        },
        last_operation: status.operation_state.as_ref().map(operation_view),
        reconciliation: reconciliation_view(status.reconciled_at.as_deref(), now, stale_after),
        conditions: status.conditions.iter().map(condition_view).collect(),
        resources: resource_counts(app),
        out_of_sync: out_of_sync
            .filter(|_| app.sync_status() == Some(OUT_OF_SYNC))
            .map(|o| OutOfSyncView {
                since: o.since,
                observed_since: o.observed_since,
            }),
        drift: None,
        data: DataFreshness {
            stale: freshness.stale_since.is_some(),
            stale_since: freshness.stale_since,
        },
        reports: None,
        generated_at: now,
    }
}

fn operation_view(op: &OperationState) -> OperationView {
    let sync = op.operation.sync.as_ref();
    OperationView {
        phase: op.phase.clone(),
        message: op.message.clone(),
        started_at: op.started_at.clone(),
        finished_at: op.finished_at.clone(),
        initiated_by: initiator(&op.operation.initiated_by),
        revision: sync.and_then(|s| s.revision.clone()),
        revisions: sync.map(|s| s.revisions.clone()).unwrap_or_default(),
    }
}

fn initiator(by: &InitiatedBy) -> Initiator {
    match (&by.username, by.automated) {
        (_, true) => Initiator::Automation,
        (Some(username), false) if !username.is_empty() => Initiator::User {
            username: username.clone(),
        },
        _ => Initiator::Unknown,
    }
}

fn reconciliation_view(
    reconciled_at: Option<&str>,
    now: Timestamp,
    stale_after: Duration,
) -> ReconciliationView {
    let age = reconciled_at
        .and_then(|s| s.parse::<Timestamp>().ok())
        .map(|at| now.duration_since(at));
    let bound = SignedDuration::try_from(stale_after).unwrap_or(SignedDuration::MAX);
    ReconciliationView {
        reconciled_at: reconciled_at.map(str::to_string),
        // A reconciledAt in the future (clock skew) reads as age 0, not negative.
        age_seconds: age.map(|a| a.as_secs().max(0)),
        stale: age.is_none_or(|a| a > bound),
        stale_after_seconds: stale_after.as_secs(),
    }
}

fn condition_view(c: &Condition) -> ConditionView {
    ConditionView {
        type_: c.type_.clone(),
        message: c.message.clone(),
        last_transition_time: c.last_transition_time.clone(),
    }
}

fn resource_counts(app: &Application) -> ResourceCounts {
    let resources: Vec<&ResourceStatus> = app.status.resources.iter().filter(|r| !r.hook).collect();
    let mut by_sync = BTreeMap::new();
    for r in &resources {
        *by_sync
            .entry(r.status.clone().unwrap_or_else(|| "Unknown".into()))
            .or_insert(0) += 1;
    }
    let health_in_app_tree = app.status.resource_health_source.as_deref() == Some("appTree");
    let by_health = (!health_in_app_tree).then(|| {
        let mut counts = BTreeMap::new();
        for status in resources
            .iter()
            .filter_map(|r| r.health.as_ref()?.status.clone())
        {
            *counts.entry(status).or_insert(0) += 1;
        }
        counts
    });
    ResourceCounts {
        total: resources.len(),
        by_sync,
        by_health,
        health_source: if health_in_app_tree {
            "appTree"
        } else {
            "application"
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::fixtures::{mk_app, mk_resource, with_sync};
    use crate::app::{HealthStatus, Operation, SyncOperation};

    const HOUR: Duration = Duration::from_secs(3600);

    fn now() -> Timestamp {
        "2026-11-21T12:00:00Z".parse().unwrap()
    }

    fn entry(app: Application) -> IndexedApp {
        IndexedApp {
            app,
            out_of_sync: None,
            version: Default::default(),
        }
    }

    fn view(entry: &IndexedApp) -> StatusView {
        status_view(entry, &Freshness::default(), now(), HOUR)
    }

    fn healthy(mut r: ResourceStatus, status: &str) -> ResourceStatus {
        r.health = Some(HealthStatus {
            status: Some(status.into()),
            message: None,
        });
        r
    }

    #[test]
    fn counts_resources_by_sync_and_by_stored_health_in_the_2x_shape() {
        let mut app = mk_app("argocd", "a", "p");
        let mut drifted = healthy(mk_resource("apps", "Deployment", "ns", "web"), "Degraded");
        drifted.status = Some("OutOfSync".into());
        app.status.resources = vec![
            healthy(mk_resource("", "Service", "ns", "web"), "Healthy"),
            drifted,
            mk_resource("", "ConfigMap", "ns", "cfg"), // no health assessment for ConfigMaps
        ];
        let counts = view(&entry(app)).resources;
        assert_eq!(counts.total, 3);
        assert_eq!(
            counts.by_sync,
            BTreeMap::from([("OutOfSync".into(), 1), ("Synced".into(), 2)])
        );
        assert_eq!(
            counts.by_health,
            Some(BTreeMap::from([
                ("Degraded".into(), 1),
                ("Healthy".into(), 1)
            ]))
        );
        assert_eq!(counts.health_source, "application");
    }

    #[test]
    fn reports_health_counts_as_unavailable_in_the_3x_shape() {
        let mut app = mk_app("argocd", "a", "p");
        app.status.resource_health_source = Some("appTree".into());
        app.status.resources = vec![mk_resource("", "Service", "ns", "web")];
        let counts = view(&entry(app)).resources;
        assert_eq!(counts.by_health, None);
        assert_eq!(counts.health_source, "appTree");
        assert_eq!(counts.total, 1);
    }

    #[test]
    fn hooks_are_not_counted_as_app_resources() {
        let mut app = mk_app("argocd", "a", "p");
        let mut hook = mk_resource("batch", "Job", "ns", "migrate");
        hook.hook = true;
        app.status.resources = vec![hook, mk_resource("", "Service", "ns", "web")];
        assert_eq!(view(&entry(app)).resources.total, 1);
    }

    #[test]
    fn reconciliation_is_stale_when_older_than_the_bound_or_missing() {
        let mut app = mk_app("argocd", "a", "p");
        app.status.reconciled_at = Some("2026-11-21T11:30:00Z".into());
        let fresh = view(&entry(app.clone())).reconciliation;
        assert_eq!((fresh.age_seconds, fresh.stale), (Some(1800), false));

        app.status.reconciled_at = Some("2026-11-21T10:59:59Z".into());
        let old = view(&entry(app.clone())).reconciliation;
        assert_eq!((old.age_seconds, old.stale), (Some(3601), true));

        app.status.reconciled_at = Some("yesterday".into());
        let garbled = view(&entry(app.clone())).reconciliation;
        assert_eq!((garbled.age_seconds, garbled.stale), (None, true));
        assert_eq!(garbled.reconciled_at.as_deref(), Some("yesterday"));

        app.status.reconciled_at = None;
        assert!(view(&entry(app)).reconciliation.stale);
    }

    #[test]
    fn a_reconciliation_in_the_future_reads_as_just_now() {
        let mut app = mk_app("argocd", "a", "p");
        app.status.reconciled_at = Some("2026-11-21T12:00:30Z".into());
        let r = view(&entry(app)).reconciliation;
        assert_eq!((r.age_seconds, r.stale), (Some(0), false));
    }

    #[test]
    fn the_last_operation_names_its_initiator() {
        let mut app = mk_app("argocd", "a", "p");
        let op = |username: Option<&str>, automated| OperationState {
            phase: Some("Succeeded".into()),
            operation: Operation {
                initiated_by: InitiatedBy {
                    username: username.map(str::to_string),
                    automated,
                },
                sync: Some(SyncOperation {
                    revision: Some("abc123".into()),
                    revisions: vec![],
                }),
            },
            ..Default::default()
        };
        app.status.operation_state = Some(op(Some("alice"), false));
        let by_user = view(&entry(app.clone())).last_operation.unwrap();
        assert_eq!(
            by_user.initiated_by,
            Initiator::User {
                username: "alice".into()
            }
        );
        assert_eq!(by_user.revision.as_deref(), Some("abc123"));

        app.status.operation_state = Some(op(None, true));
        assert_eq!(
            view(&entry(app.clone()))
                .last_operation
                .unwrap()
                .initiated_by,
            Initiator::Automation
        );

        app.status.operation_state = Some(op(Some(""), false));
        assert_eq!(
            view(&entry(app.clone()))
                .last_operation
                .unwrap()
                .initiated_by,
            Initiator::Unknown
        );

        app.status.operation_state = None;
        assert_eq!(view(&entry(app)).last_operation, None);
    }

    #[test]
    fn out_of_sync_timing_is_shown_only_while_out_of_sync() {
        let tracked = OutOfSync {
            since: Some("2026-11-21T11:00:00Z".parse().unwrap()),
            observed_since: "2026-11-21T11:00:00Z".parse().unwrap(),
        };
        let drifting = IndexedApp {
            app: with_sync(mk_app("argocd", "a", "p"), "OutOfSync"),
            out_of_sync: Some(tracked),
            version: Default::default(),
        };
        assert_eq!(view(&drifting).out_of_sync.unwrap().since, tracked.since);

        // Unknown: the history is kept in the index but not presented as current drift.
        let unknown = IndexedApp {
            app: with_sync(mk_app("argocd", "a", "p"), "Unknown"),
            out_of_sync: Some(tracked),
            version: Default::default(),
        };
        assert_eq!(view(&unknown).out_of_sync, None);
    }

    #[test]
    fn stale_data_is_marked_with_the_moment_it_went_stale() {
        let since: Timestamp = "2026-11-21T11:59:00Z".parse().unwrap();
        let freshness = Freshness {
            synced: true,
            stale_since: Some(since),
            ..Default::default()
        };
        let v = status_view(&entry(mk_app("argocd", "a", "p")), &freshness, now(), HOUR);
        assert_eq!(
            v.data,
            DataFreshness {
                stale: true,
                stale_since: Some(since)
            }
        );
    }

    #[test]
    fn serializes_to_the_documented_camel_case_shape_with_nulls() {
        let json = serde_json::to_value(view(&entry(mk_app("argocd", "a", "p")))).unwrap();
        for key in [
            "application",
            "destination",
            "sync",
            "health",
            "lastOperation",
            "reconciliation",
            "conditions",
            "resources",
            "outOfSync",
            "data",
            "reports",
            "generatedAt",
        ] {
            assert!(json.get(key).is_some(), "missing key {key}");
        }
        assert_eq!(json["lastOperation"], serde_json::Value::Null);
        assert_eq!(json["reconciliation"]["staleAfterSeconds"], 3600);
        assert_eq!(json["resources"]["healthSource"], "application");
        assert_eq!(json["generatedAt"], "2026-11-21T12:00:00Z");
    }
}
