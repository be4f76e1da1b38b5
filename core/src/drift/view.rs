//! The JSON the drift API returns: `GET /api/v1/drift` ([`DriftReport`]) and
//! `GET /api/v1/drift/resource` ([`ResourceDetail`]).
//!
//! camelCase, every key always present (`null` when unknown), plain shapes (structs, string
//! enums, `Option`, `Vec`, numbers, `serde_json::Value`) so TypeScript types can be generated from
//! them. No value in these types is ever a Secret value: the engine masks before it builds them.

use super::managed::ManagerClass;
use jiff::Timestamp;
use serde::Serialize;
use serde_json::Value;

/// Why a resource is (or is not) drifted.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Cause {
    /// A field Argo CD applied has another value live.
    LiveChanged,
    /// Live still equals what Argo CD last applied, and the app's status shows Git moved since
    /// the last successful sync (its revision differs from the synced one); not synced yet.
    GitAhead,
    /// The live object is gone.
    Missing,
    /// Live but no longer desired (Argo CD says it requires pruning).
    Extra,
    /// The engine could not look; see `notInspected`.
    NotInspected,
    /// Nothing differs (the recorded Argo CD scenarios call this `none`).
    #[serde(rename = "none")]
    NoDrift,
}

/// Where the desired values came from.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum DesiredSource {
    /// `kubectl.kubernetes.io/last-applied-configuration`, written by Argo CD's client-side apply.
    LastApplied,
    /// Argo CD's own `managed-resources` API (normalized live against predicted live).
    ArgoCdManagedResources,
    /// Server-side applied and no Argo CD source: only which fields left Argo CD for another
    /// manager is known, not what they should be.
    ServerSideApplyAttribution,
    /// The last-applied record was rewritten by another manager (a `kubectl apply` by hand), so
    /// it is not Argo CD's: only which fields that manager wrote is known, not what Git says.
    AnotherManagersRecord,
    /// None was available (see `notInspected`), or none was needed (missing, extra).
    None,
}

/// Why a resource was not inspected.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum NotInspectedReason {
    /// The backend may not read this kind (403, or not served by the cluster).
    KindNotReadable,
    /// Reading Secrets is switched off.
    SecretReadingDisabled,
    /// The destination cluster could not be reached.
    ClusterUnreachable,
    /// The read failed for another reason.
    ReadFailed,
    /// A hook: Argo CD does not diff hooks.
    Hook,
    /// Synced with `Replace=true`: no last-applied state is written.
    ReplaceSync,
    /// No desired state is recorded on the object (created without last-applied, server-side
    /// applied without the Argo CD source configured, …).
    NoDesiredState,
    /// The last-applied annotation is not valid JSON.
    UnparseableAnnotation,
    /// The live object is not a Kubernetes object (not a JSON object).
    MalformedLiveObject,
    /// Argo CD says OutOfSync, nothing differs from Argo CD's last-applied record here, and the
    /// app's status does not show Git moving since the last sync: Argo CD sees a difference this
    /// engine does not reproduce (the Argo CD source gives its exact diff).
    ArgoDiffersLocally,
    /// The live object's tracking id names another Application: the record on it is that app's,
    /// while Argo CD compares it with this app's Git.
    TrackedByAnotherApp,
    /// An ignore rule in force here cannot be run by this engine (a jq expression outside what
    /// it supports), so what Argo CD ignores is not known.
    UnsupportedIgnoreRule,
}

#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NotInspected {
    pub reason: NotInspectedReason,
    pub message: String,
}

/// What kind of field difference.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Change {
    /// Both have a value; they differ.
    Changed,
    /// Desired has it; live does not.
    MissingLive,
    /// Live has it; the desired object (a complete one) does not.
    LiveOnly,
    /// The same keyed items in another order.
    Order,
    /// Server-side applied: another manager owns a field Argo CD does not; the desired value is
    /// not known locally.
    OwnedByAnotherManager,
}

/// The `managedFields` entry behind a live value. One time per manager entry (its last write),
/// never a person.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Attribution {
    pub manager: String,
    /// `Apply` or `Update`.
    pub operation: String,
    pub subresource: Option<String>,
    pub time: Option<String>,
    pub is_argo_cd: bool,
    pub manager_class: ManagerClass,
}

/// One drifted field.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FieldDrift {
    /// RFC 6901, in live coordinates (a desired list item missing live: where it would be
    /// appended).
    pub pointer: String,
    /// For people: `spec.template.spec.containers[name=api].image`.
    pub path: String,
    pub change: Change,
    /// `null` when absent or unknown; see `desiredKnown`.
    pub desired: Option<Value>,
    pub desired_known: bool,
    pub live: Option<Value>,
    pub attribution: Option<Attribution>,
}

/// A live-only field owned by a manager that is neither Argo CD nor Kubernetes' control plane.
/// Never drift for Argo CD; listed apart, off the drift count.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Addition {
    pub pointer: String,
    pub path: String,
    pub live: Value,
    pub attribution: Attribution,
}

#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum RuleOrigin {
    /// The Application's `spec.ignoreDifferences`.
    App,
    /// argocd-cm.
    System,
}

#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum RuleKind {
    JsonPointer,
    JqPathExpression,
    ManagedFieldsManager,
}

/// One ignore rule, as written.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleRef {
    pub origin: RuleOrigin,
    /// `spec.ignoreDifferences[2]` or the argocd-cm key.
    pub source: String,
    pub kind: RuleKind,
    /// The pointer, the jq expression or the manager name.
    pub expression: String,
}

/// A difference that an ignore rule hid.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IgnoredDifference {
    pub pointer: String,
    pub path: String,
    pub desired: Option<Value>,
    pub live: Option<Value>,
    pub rule: RuleRef,
}

#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ProblemKind {
    /// An ignore rule was skipped on this resource (see `rule`).
    IgnoreRuleSkipped,
    /// A `managedFields` entry could not be read; attribution may be incomplete.
    ManagedFields,
    /// Argo CD's managed-resources item for this resource could not be used.
    ArgoCdSource,
    /// Argo CD reports Synced although fields differ from the last-applied record: Git caught
    /// up with a change made live, and the record is stale until the next sync.
    StaleRecord,
}

/// Something that went wrong on this resource without stopping it. Messages never hold values.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Problem {
    pub kind: ProblemKind,
    pub rule: Option<RuleRef>,
    pub message: String,
}

/// One resource of the app, as `GET /api/v1/drift` lists it.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceDrift {
    pub group: String,
    pub version: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
    /// Argo CD's verdict (`status.resources[].status`).
    pub argo_status: Option<String>,
    /// Argo CD's health, when the Application stores it (2.x shape).
    pub argo_health: Option<String>,
    pub requires_pruning: bool,
    pub hook: bool,
    pub cause: Cause,
    pub not_inspected: Option<NotInspected>,
    pub desired_source: DesiredSource,
    pub fields: Vec<FieldDrift>,
    pub additions: Vec<Addition>,
    /// Hidden by an ignore rule; never counted as drift.
    pub ignored: Vec<IgnoredDifference>,
    pub problems: Vec<Problem>,
    /// The latest `managedFields` time among the managers behind the drifted fields (or, with no
    /// drifted field, behind the additions).
    pub last_change_at: Option<String>,
    /// Values of this resource are masked (a Secret, or sensitive annotations).
    pub masked: bool,
    /// An extraneous object annotated `argocd.argoproj.io/compare-options: IgnoreExtraneous`:
    /// OutOfSync itself, but Argo CD does not count it against the app (nor does
    /// `summary.resourcesDrifted`).
    pub ignore_extraneous: bool,
}

/// One `managedFields` entry, summarized.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ManagedFieldsEntry {
    pub manager: String,
    pub operation: String,
    pub subresource: Option<String>,
    pub time: Option<String>,
    pub api_version: Option<String>,
    /// Fields the entry owns (leaves and owned nodes, resolved against the live object).
    pub fields: usize,
    pub is_argo_cd: bool,
    pub manager_class: ManagerClass,
}

/// `GET /api/v1/drift/resource`: one resource in depth.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceDetail {
    pub resource: ResourceDrift,
    /// The desired object after normalization (masked).
    pub desired: Option<Value>,
    /// The live object after normalization, without `managedFields` (masked).
    pub live: Option<Value>,
    /// Live with the desired values applied: what a sync would make of it (masked).
    pub predicted_live: Option<Value>,
    /// Unified diff from `live` to `predictedLive`, keys sorted, as Argo CD's diff view shows.
    pub diff: String,
    pub managed_fields: Vec<ManagedFieldsEntry>,
}

/// Resource counts by cause.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CauseCounts {
    pub live_changed: usize,
    pub git_ahead: usize,
    pub missing: usize,
    pub extra: usize,
    pub not_inspected: usize,
    pub none: usize,
}

#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DriftSummary {
    pub application_namespace: String,
    pub application_name: String,
    /// `?all=true`: every resource; otherwise only those Argo CD reports OutOfSync.
    pub all: bool,
    /// Argo CD's app-level verdict.
    pub argo_sync_status: Option<String>,
    /// When Argo CD last compared (`status.reconciledAt`), beside our own read: the two verdicts
    /// can differ when these are far apart.
    pub argo_reconciled_at: Option<String>,
    pub read_at: Timestamp,
    /// Resources of the app (hooks included) and of this answer.
    pub resources_in_app: usize,
    pub resources_listed: usize,
    /// Listed resources whose live object was looked at.
    pub resources_inspected: usize,
    pub by_cause: CauseCounts,
    /// Listed resources whose cause is a drift (`liveChanged`, `gitAhead`, `missing`, `extra`),
    /// extraneous ones Argo CD ignores (`ignoreExtraneous`) aside.
    pub resources_drifted: usize,
    pub fields_drifted: usize,
    pub additions: usize,
    pub ignored_differences: usize,
    pub last_change_at: Option<String>,
    /// Since when the app has drifted, from the shared drift history (as `outOfSync` in
    /// `/api/v1/status`); `null` unless Argo CD says OutOfSync.
    pub out_of_sync: Option<crate::status::OutOfSyncView>,
}

/// `GET /api/v1/drift`.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DriftReport {
    pub summary: DriftSummary,
    /// Most recent change first; resources with no known change time last.
    pub resources: Vec<ResourceDrift>,
}
