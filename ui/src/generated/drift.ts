// Generated from the Rust types of GET /api/v1/drift and GET /api/v1/drift/resource by core/src/ts.rs.
// Do not edit: change the Rust type, then run `make ui-types`.
import type { OutOfSyncView } from "./status";

/**
 * A live-only field owned by a manager that is neither Argo CD nor Kubernetes' control plane.
 * Never drift for Argo CD; listed apart, off the drift count.
 */
export type Addition = { pointer: string, path: string, live: JsonValue, attribution: Attribution, };

/**
 * The `managedFields` entry behind a live value. One time per manager entry (its last write),
 * never a person.
 */
export type Attribution = { manager: string, 
/**
 * `Apply` or `Update`.
 */
operation: string, subresource: string | null, time: string | null, isArgoCd: boolean, managerClass: ManagerClass, };

/**
 * Why a resource is (or is not) drifted.
 */
export type Cause = "liveChanged" | "gitAhead" | "missing" | "extra" | "notInspected" | "none";

/**
 * Resource counts by cause.
 */
export type CauseCounts = { liveChanged: number, gitAhead: number, missing: number, extra: number, notInspected: number, none: number, };

/**
 * What kind of field difference.
 */
export type Change = "changed" | "missingLive" | "liveOnly" | "order" | "ownedByAnotherManager";

/**
 * Where the desired values came from.
 */
export type DesiredSource = "lastApplied" | "argoCdManagedResources" | "serverSideApplyAttribution" | "anotherManagersRecord" | "none";

/**
 * `GET /api/v1/drift`.
 */
export type DriftReport = { summary: DriftSummary, 
/**
 * Most recent change first; resources with no known change time last.
 */
resources: Array<ResourceDrift>, };

export type DriftSummary = { applicationNamespace: string, applicationName: string, 
/**
 * `?all=true`: every resource; otherwise only those Argo CD reports OutOfSync.
 */
all: boolean, 
/**
 * Argo CD's app-level verdict.
 */
argoSyncStatus: string | null, 
/**
 * When Argo CD last compared (`status.reconciledAt`), beside our own read: the two verdicts
 * can differ when these are far apart.
 */
argoReconciledAt: string | null, readAt: string, 
/**
 * Resources of the app (hooks included) and of this answer.
 */
resourcesInApp: number, resourcesListed: number, 
/**
 * Listed resources whose live object was looked at.
 */
resourcesInspected: number, byCause: CauseCounts, 
/**
 * Listed resources whose cause is a drift (`liveChanged`, `gitAhead`, `missing`, `extra`),
 * extraneous ones Argo CD ignores (`ignoreExtraneous`) aside.
 */
resourcesDrifted: number, fieldsDrifted: number, additions: number, ignoredDifferences: number, lastChangeAt: string | null, 
/**
 * Since when the app has drifted, from the shared drift history (as `outOfSync` in
 * `/api/v1/status`); `null` unless Argo CD says OutOfSync.
 */
outOfSync: OutOfSyncView | null, };

/**
 * One drifted field.
 */
export type FieldDrift = { 
/**
 * RFC 6901, in live coordinates (a desired list item missing live: where it would be
 * appended).
 */
pointer: string, 
/**
 * For people: `spec.template.spec.containers[name=api].image`.
 */
path: string, change: Change, 
/**
 * `null` when absent or unknown; see `desiredKnown`.
 */
desired: JsonValue | null, desiredKnown: boolean, live: JsonValue | null, attribution: Attribution | null, };

/**
 * A difference that an ignore rule hid.
 */
export type IgnoredDifference = { pointer: string, path: string, desired: JsonValue | null, live: JsonValue | null, rule: RuleRef, };

export type JsonValue = number | string | boolean | Array<JsonValue> | { [key in string]: JsonValue } | null;

/**
 * One `managedFields` entry, summarized.
 */
export type ManagedFieldsEntry = { manager: string, operation: string, subresource: string | null, time: string | null, apiVersion: string | null, 
/**
 * Fields the entry owns (leaves and owned nodes, resolved against the live object).
 */
fields: number, isArgoCd: boolean, managerClass: ManagerClass, };

/**
 * How a manager is treated when attributing fields.
 *
 * Additions outside Git are live-only fields owned by `Interactive` or `Other` managers: the
 * recorded Argo CD scenarios count a policy engine's label (`kyverno`), a sidecar injector's env
 * var and an operator's server-side-applied annotation among them, beside `kubectl edit`. Only
 * Argo CD itself and Kubernetes' own control plane are left out.
 */
export type ManagerClass = "argoCd" | "kubernetes" | "interactive" | "other";

export type NotInspected = { reason: NotInspectedReason, message: string, };

/**
 * Why a resource was not inspected.
 */
export type NotInspectedReason = "kindNotReadable" | "secretReadingDisabled" | "clusterUnreachable" | "readFailed" | "hook" | "replaceSync" | "noDesiredState" | "unparseableAnnotation" | "malformedLiveObject" | "argoDiffersLocally" | "trackedByAnotherApp" | "unsupportedIgnoreRule";

/**
 * Something that went wrong on this resource without stopping it. Messages never hold values.
 */
export type Problem = { kind: ProblemKind, rule: RuleRef | null, message: string, };

export type ProblemKind = "ignoreRuleSkipped" | "managedFields" | "argoCdSource" | "staleRecord";

/**
 * `GET /api/v1/drift/resource`: one resource in depth.
 */
export type ResourceDetail = { resource: ResourceDrift, 
/**
 * The desired object after normalization (masked).
 */
desired: JsonValue | null, 
/**
 * The live object after normalization, without `managedFields` (masked).
 */
live: JsonValue | null, 
/**
 * Live with the desired values applied: what a sync would make of it (masked).
 */
predictedLive: JsonValue | null, 
/**
 * Unified diff from `live` to `predictedLive`, keys sorted, as Argo CD's diff view shows.
 */
diff: string, managedFields: Array<ManagedFieldsEntry>, };

/**
 * One resource of the app, as `GET /api/v1/drift` lists it.
 */
export type ResourceDrift = { group: string, version: string, kind: string, namespace: string, name: string, 
/**
 * Argo CD's verdict (`status.resources[].status`).
 */
argoStatus: string | null, 
/**
 * Argo CD's health, when the Application stores it (2.x shape).
 */
argoHealth: string | null, requiresPruning: boolean, hook: boolean, cause: Cause, notInspected: NotInspected | null, desiredSource: DesiredSource, fields: Array<FieldDrift>, additions: Array<Addition>, 
/**
 * Hidden by an ignore rule; never counted as drift.
 */
ignored: Array<IgnoredDifference>, problems: Array<Problem>, 
/**
 * The latest `managedFields` time among the managers behind the drifted fields (or, with no
 * drifted field, behind the additions).
 */
lastChangeAt: string | null, 
/**
 * Values of this resource are masked (a Secret, or sensitive annotations).
 */
masked: boolean, 
/**
 * An extraneous object annotated `argocd.argoproj.io/compare-options: IgnoreExtraneous`:
 * OutOfSync itself, but Argo CD does not count it against the app (nor does
 * `summary.resourcesDrifted`).
 */
ignoreExtraneous: boolean, };

/**
 * `GET /api/v1/drift/resource?group=&version=&kind=&namespace=&name=`: all five are required;
 * `group` is empty for the core group and `namespace` for a cluster-scoped object.
 */
export type ResourceQuery = { group: string, version: string, kind: string, namespace: string, name: string, };

export type RuleKind = "jsonPointer" | "jqPathExpression" | "managedFieldsManager";

export type RuleOrigin = "app" | "system";

/**
 * One ignore rule, as written.
 */
export type RuleRef = { origin: RuleOrigin, 
/**
 * `spec.ignoreDifferences[2]` or the argocd-cm key.
 */
source: string, kind: RuleKind, 
/**
 * The pointer, the jq expression or the manager name.
 */
expression: string, };
