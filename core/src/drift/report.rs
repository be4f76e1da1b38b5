//! `GET /api/v1/drift` for one Application, assembled from the per-resource verdicts.
//!
//! The default answer lists the resources Argo CD reports OutOfSync; `all` lists every resource
//! of the app. Resources are sorted by their last change (most recent first), those with none
//! known last. The summary puts Argo CD's `reconciledAt` beside the time of our own read, so a
//! reader can tell the two verdicts apart when they disagree.

use super::view::{Cause, CauseCounts, DriftReport, DriftSummary, ResourceDrift};
use crate::app::{Application, ResourceStatus};
use jiff::Timestamp;

const OUT_OF_SYNC: &str = "OutOfSync";

/// The resources of `app` to inspect for an answer: OutOfSync ones, or all with `all`.
pub fn resources_to_inspect(app: &Application, all: bool) -> impl Iterator<Item = &ResourceStatus> {
    app.status
        .resources
        .iter()
        .filter(move |r| all || r.status.as_deref() == Some(OUT_OF_SYNC))
}

/// The drift document. `resources` are the engine's verdicts for the app's resources (extra ones
/// are filtered as `all` says); `read_at` is when the backend read the live objects.
pub fn drift_report(
    app: &Application,
    resources: Vec<ResourceDrift>,
    read_at: Timestamp,
    all: bool,
) -> DriftReport {
    let mut listed: Vec<ResourceDrift> = resources
        .into_iter()
        .filter(|r| all || r.argo_status.as_deref() == Some(OUT_OF_SYNC))
        .collect();
    listed.sort_by(|a, b| {
        let ta = a
            .last_change_at
            .as_deref()
            .and_then(|t| t.parse::<Timestamp>().ok());
        let tb = b
            .last_change_at
            .as_deref()
            .and_then(|t| t.parse::<Timestamp>().ok());
        // Newest first; unknown last.
        tb.cmp(&ta)
            .then_with(|| a.cause.cmp(&b.cause))
            .then_with(|| {
                (&a.group, &a.kind, &a.namespace, &a.name).cmp(&(
                    &b.group,
                    &b.kind,
                    &b.namespace,
                    &b.name,
                ))
            })
    });
    let mut by_cause = CauseCounts::default();
    for r in &listed {
        *match r.cause {
            Cause::LiveChanged => &mut by_cause.live_changed,
            Cause::GitAhead => &mut by_cause.git_ahead,
            Cause::Missing => &mut by_cause.missing,
            Cause::Extra => &mut by_cause.extra,
            Cause::NotInspected => &mut by_cause.not_inspected,
            Cause::NoDrift => &mut by_cause.none,
        } += 1;
    }
    let last_change_at = listed
        .iter()
        .filter_map(|r| {
            let t = r.last_change_at.as_ref()?;
            Some((t.parse::<Timestamp>().ok()?, t.clone()))
        })
        .max_by_key(|(ts, _)| *ts)
        .map(|(_, t)| t);
    DriftSummary {
        application_namespace: app.key.namespace.clone(),
        application_name: app.key.name.clone(),
        all,
        argo_sync_status: app.status.sync.status.clone(),
        argo_reconciled_at: app.status.reconciled_at.clone(),
        read_at,
        resources_in_app: app.status.resources.len(),
        resources_listed: listed.len(),
        resources_inspected: listed
            .iter()
            .filter(|r| r.cause != Cause::NotInspected)
            .count(),
        resources_drifted: by_cause.live_changed
            + by_cause.git_ahead
            + by_cause.missing
            + by_cause.extra
            - listed.iter().filter(|r| r.ignore_extraneous).count(),
        by_cause,
        fields_drifted: listed.iter().map(|r| r.fields.len()).sum(),
        additions: listed.iter().map(|r| r.additions.len()).sum(),
        ignored_differences: listed.iter().map(|r| r.ignored.len()).sum(),
        last_change_at,
        out_of_sync: None,
    }
    .into_report(listed)
}

impl DriftSummary {
    fn into_report(self, resources: Vec<ResourceDrift>) -> DriftReport {
        DriftReport {
            summary: self,
            resources,
        }
    }
}
