// Generated from the Rust types of GET /api/v1/status by core/src/ts.rs.
// Do not edit: change the Rust type, then run `make ui-types`.

export type AppIdentity = { namespace: string, name: string, project: string, };

export type ConditionView = { type: string, message: string | null, lastTransitionTime: string | null, };

/**
 * [`Freshness`] as answers show it.
 */
export type DataFreshness = { 
/**
 * True while the watch cannot reach the Kubernetes API server: the answer is the last data
 * seen, which may be out of date.
 */
stale: boolean, staleSince: string | null, };

export type DestinationView = { server: string | null, name: string | null, namespace: string | null, };

/**
 * What the drift episode under way has recorded so far — from Argo CD's OutOfSync resources
 * when it started and the background inspection since (`HISTORY_ENRICH_INTERVAL_SECONDS`) —
 * served with the app's status so that the status panel reads no cluster.
 */
export type EpisodeDrift = { 
/**
 * Resources whose live object changed: edited, deleted, or extra in the cluster.
 */
changed: number, 
/**
 * Resources changed in Git only (nothing changed in the cluster).
 */
gitAhead: number, 
/**
 * Resources Argo CD lists as OutOfSync that no inspection has explained yet.
 */
notInspected: number, 
/**
 * The field managers behind the live changes, sorted, once each (tools, never people).
 */
managers: Array<string>, 
/**
 * `interactive`, `automation`, `other`, or `unknown` (not inspected yet).
 */
managerClass: string, };

export type HealthView = { status: string | null, message: string | null, };

/**
 * Who started the last operation.
 */
export type Initiator = { "type": "user", username: string, } | { "type": "automation" } | { "type": "unknown" };

export type OperationView = { 
/**
 * `Running`, `Terminating`, `Failed`, `Error` or `Succeeded`.
 */
phase: string | null, message: string | null, startedAt: string | null, finishedAt: string | null, initiatedBy: Initiator, 
/**
 * The revision(s) the operation synced to.
 */
revision: string | null, revisions: Array<string>, };

export type OutOfSyncView = { 
/**
 * When argocd-drift saw the app turn OutOfSync; `null` if it was already OutOfSync when it
 * was first seen (never a guessed time).
 */
since: string | null, 
/**
 * When it was first seen OutOfSync: the app has drifted at least since then.
 */
observedSince: string, };

export type ReconciliationView = { 
/**
 * When Argo CD last compared the app with Git (`status.reconciledAt`).
 */
reconciledAt: string | null, 
/**
 * Seconds since `reconciledAt`; `null` if Argo CD has not written a valid one.
 */
ageSeconds: number | null, 
/**
 * True when `reconciledAt` is older than the configured bound (or missing): the sync and
 * health verdicts may be frozen, e.g. because the application controller is stuck.
 */
stale: boolean, staleAfterSeconds: number, };

/**
 * Reports counted for one app (`GET /api/v1/status`'s `reports`).
 */
export type ReportsSummary = { count: number, outOfSync: number, stale: number, };

export type ResourceCounts = { total: number, 
/**
 * Resource count per sync status (`Synced`, `OutOfSync`, …; `Unknown` when unset).
 */
bySync: { [key in string]: number }, 
/**
 * Resource count per health status, for resources Argo CD assessed. `null` when the
 * Application does not store per-resource health (Argo CD 3.x default: `healthSource` is
 * `appTree`).
 */
byHealth: { [key in string]: number } | null, 
/**
 * `application` (2.x shape: health stored per resource) or `appTree` (3.x shape).
 */
healthSource: string, };

export type StatusView = { application: AppIdentity, destination: DestinationView, sync: SyncView, health: HealthView, lastOperation: OperationView | null, reconciliation: ReconciliationView, conditions: Array<ConditionView>, resources: ResourceCounts, 
/**
 * Since when the app has drifted, from its stored drift episode (the same on every replica
 * and after a restart); `null` unless the app is OutOfSync now.
 */
outOfSync: OutOfSyncView | null, 
/**
 * What the drift episode under way has recorded (no cluster is read for it); `null` unless
 * the app is OutOfSync now with an episode under way. The Drift tab's `/api/v1/drift` reads
 * the live objects for the field-by-field answer.
 */
drift: EpisodeDrift | null, 
/**
 * Whether this answer comes from a live watch or from the last data seen before the API
 * server became unreachable.
 */
data: DataFreshness, 
/**
 * External drift reports that belong to the app (counted by the backend, which holds
 * them); `null` until the reports have been read.
 */
reports: ReportsSummary | null, generatedAt: string, };

export type SyncView = { 
/**
 * `Synced`, `OutOfSync`, `Unknown`, or `null` before Argo CD's first comparison.
 */
status: string | null, revision: string | null, 
/**
 * One per source for multi-source apps; empty otherwise.
 */
revisions: Array<string>, };
