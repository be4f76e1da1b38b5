// Formatting for people: durations, ages, values, causes. Pure, so the unit tests pin the words.

import type {
  Attribution,
  Cause,
  Change,
  DestinationView,
  DriftReport,
  EndCause,
  JsonValue,
  ManagerClass,
  NotInspectedReason,
  ResourceDrift,
  StatusView,
} from "./types";

/** `42 s`, `5 min`, `3 h 20 min`, `2 d 4 h`. Negative reads as 0. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 24) return m % 60 ? `${h} h ${m % 60} min` : `${h} h`;
  const d = Math.floor(h / 24);
  return h % 24 ? `${d} d ${h % 24} h` : `${d} d`;
}

/** One unit, rounded down, for tight places: `45 s`, `12 min`, `3 h`, `2 d`. */
export function shortDuration(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  if (s < 86400) return `${Math.floor(s / 3600)} h`;
  return `${Math.floor(s / 86400)} d`;
}

/** Milliseconds since the epoch, or null for a missing or unreadable time. */
export function parseTime(iso: string | null | undefined): number | null {
  if (!iso) return null;
  const t = Date.parse(iso);
  return Number.isNaN(t) ? null : t;
}

/** `5 min ago`; `just now` under 5 s or in the future (clock skew); `unknown` when absent. */
export function ago(iso: string | null | undefined, now: number): string {
  const t = parseTime(iso);
  if (t === null) return "unknown";
  const s = (now - t) / 1000;
  if (s < 5) return "just now";
  return `${formatDuration(s)} ago`;
}

/** `updated 12 s ago` from a ms timestamp. */
export function updatedAgo(updatedAt: number | null, now: number): string {
  if (updatedAt === null) return "not loaded yet";
  const s = Math.max(0, Math.floor((now - updatedAt) / 1000));
  return s < 2 ? "updated just now" : `updated ${formatDuration(s)} ago`;
}

/** An absolute time in UTC, for tooltips: `2026-11-29 15:50:42 UTC`. */
export function formatTime(iso: string | null | undefined): string {
  const t = parseTime(iso);
  if (t === null) return iso ? String(iso) : "unknown";
  return new Date(t).toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
}

/** A value as it appears in a field table; absent (`null`) is an em dash. Long ones are cut. */
export function formatValue(v: JsonValue | null | undefined, max = 120): string {
  if (v === null || v === undefined) return "—";
  const text = typeof v === "string" ? v : JSON.stringify(v);
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** Argo CD's Secret masking: equal values are equal runs of `+`. */
export function isMasked(v: JsonValue | null | undefined): boolean {
  return typeof v === "string" && /^\++$/.test(v);
}

export const CAUSE_LABEL: Record<Cause, string> = {
  liveChanged: "changed live",
  gitAhead: "Git moved ahead",
  missing: "missing live",
  extra: "extra (to prune)",
  notInspected: "not inspected",
  none: "no drift",
};

export const CAUSE_HELP: Record<Cause, string> = {
  liveChanged: "A field Argo CD applied has another value in the cluster.",
  gitAhead: "The cluster still matches what Argo CD last applied: the change is in Git, not yet synced. Argo CD's DIFF tab shows it.",
  missing: "The object Argo CD applied is gone from the cluster.",
  extra: "The object is live but no longer in Git: Argo CD would prune it.",
  notInspected: "argocd-drift could not look at this object.",
  none: "Nothing differs.",
};

/** Argo CD's status palette per cause. */
export const CAUSE_COLOR: Record<Cause, string> = {
  liveChanged: "#f4c030",
  gitAhead: "#0dadea",
  missing: "#e96d76",
  extra: "#766f94",
  notInspected: "#ccd6dd",
  none: "#18be94",
};

/** Font Awesome icon per cause. */
export const CAUSE_ICON: Record<Cause, string> = {
  liveChanged: "fa fa-pen",
  gitAhead: "fa fa-code-branch",
  missing: "fa fa-ghost",
  extra: "fa fa-trash-alt",
  notInspected: "fa fa-eye-slash",
  none: "fa fa-check",
};

export const CHANGE_LABEL: Record<Change, string> = {
  changed: "changed",
  missingLive: "missing live",
  liveOnly: "only live",
  order: "order changed",
  ownedByAnotherManager: "taken over by another manager",
};

export const NOT_INSPECTED_LABEL: Record<NotInspectedReason, string> = {
  kindNotReadable: "argocd-drift may not read this kind",
  secretReadingDisabled: "Secret reading is off (DRIFT_READ_SECRETS)",
  clusterUnreachable: "the destination cluster is unreachable",
  readFailed: "the read failed",
  hook: "a hook (Argo CD does not diff hooks)",
  replaceSync: "synced with Replace=true (no record of what was applied)",
  noDesiredState: "no record of what Argo CD applied",
  unparseableAnnotation: "the last-applied annotation is unreadable",
  malformedLiveObject: "the live object is malformed",
  argoDiffersLocally:
    "Argo CD sees a difference this engine does not reproduce (configure ARGOCD_SERVER_URL for its exact diff)",
  trackedByAnotherApp: "its tracking id names another Application",
  unsupportedIgnoreRule: "an ignoreDifferences rule could not be run",
};

export const MANAGER_CLASS_LABEL: Record<ManagerClass, string> = {
  argoCd: "Argo CD",
  kubernetes: "Kubernetes control plane",
  interactive: "a person's tool",
  other: "controller or other tool",
};

/** How an episode ended, in the words of the DriftEnded Event (`drift_core::history::event::end_text`). */
export const EPISODE_END_LABEL: Record<EndCause, string> = {
  automatedSync: "self-heal or automated sync",
  manualSync: "synced by a user",
  revertedByHand: "reverted by hand",
  gitChanged: "Git changed to match the cluster",
  appDeleted: "Application deleted",
};

/** `Deployment payments/payments-api`, or `ClusterRole viewer` for cluster-scoped objects. */
export function resourceTitle(r: { kind: string; namespace: string; name: string }): string {
  return r.namespace ? `${r.kind} ${r.namespace}/${r.name}` : `${r.kind} ${r.name}`;
}

/** A stable key for one resource of an app. */
export function resourceKey(r: { group: string; kind: string; namespace: string; name: string }): string {
  return `${r.group}/${r.kind}/${r.namespace}/${r.name}`;
}

/** The field managers behind a resource's drift, latest write first, each once. */
export function managersOf(r: ResourceDrift): Array<Attribution> {
  const byName = new Map<string, Attribution>();
  for (const f of r.fields) {
    const a = f.attribution;
    if (!a) continue;
    const seen = byName.get(a.manager);
    if (!seen || (parseTime(a.time) ?? 0) > (parseTime(seen.time) ?? 0)) byName.set(a.manager, a);
  }
  return [...byName.values()].sort((a, b) => (parseTime(b.time) ?? 0) - (parseTime(a.time) ?? 0));
}

/** Is this resource drifted (a cause Argo CD's OutOfSync is about)? */
export function isDrift(c: Cause): boolean {
  return c === "liveChanged" || c === "gitAhead" || c === "missing" || c === "extra";
}

/** Did something change in the cluster (not only in Git)? */
export function changedLive(c: Cause): boolean {
  return c === "liveChanged" || c === "missing" || c === "extra";
}

/**
 * What the summary counts: resources changed in the cluster (a Git-ahead resource is not one —
 * the cluster still matches the last sync), Git-ahead ones apart.
 */
export function driftCounts(drift: DriftReport): { changed: number; gitAhead: number } {
  const c = drift.summary.byCause;
  return { changed: c.liveChanged + c.missing + c.extra, gitAhead: c.gitAhead };
}

/** The colour state of the whole app, for the status panel and the summary. */
export type DriftState = "inSync" | "liveChanged" | "gitAhead" | "unknown";

export function driftState(status: StatusView | null, drift: DriftReport | null): DriftState {
  if (drift) {
    const c = drift.summary.byCause;
    if (c.liveChanged + c.missing + c.extra > 0) return "liveChanged";
    if (c.gitAhead > 0) return "gitAhead";
    if (drift.summary.argoSyncStatus === "Synced") return "inSync";
  }
  if (status?.sync.status === "Synced") return "inSync";
  if (status?.sync.status === "OutOfSync") {
    if (drift) return "gitAhead";
    // What the episode under way recorded (no live read): Git ahead only when that is all it found.
    const e = status.drift;
    return e && e.changed === 0 && e.gitAhead > 0 ? "gitAhead" : "liveChanged";
  }
  return "unknown";
}

/**
 * The counts the panel shows: from a live `/drift` answer when one is at hand (the tab is open),
 * else from what the episode under way recorded (`/status`'s `drift`: no cluster read); `null`
 * when neither has explained any resource yet.
 */
export function panelCounts(status: StatusView | null, drift: DriftReport | null): { changed: number; gitAhead: number } | null {
  if (drift) return driftCounts(drift);
  const e = status?.drift;
  if (!e || e.changed + e.gitAhead === 0) return null;
  return { changed: e.changed, gitAhead: e.gitAhead };
}

/** Argo CD's own palette for sync states. */
export const STATE_COLOR: Record<DriftState, string> = {
  inSync: "#18be94",
  liveChanged: "#f4c030",
  gitAhead: "#0dadea",
  unknown: "#ccd6dd",
};

export const STATE_LABEL: Record<DriftState, string> = {
  inSync: "No drift",
  liveChanged: "Drifted",
  gitAhead: "Git ahead",
  unknown: "Unknown",
};

/**
 * Since when the app has drifted: `since` when argocd-drift saw the turn, otherwise "at least
 * since" the time it first saw the app drifted.
 */
export function driftingSince(status: StatusView | null): { at: string; witnessed: boolean } | null {
  const o = status?.outOfSync;
  if (!o) return null;
  return o.since ? { at: o.since, witnessed: true } : { at: o.observedSince, witnessed: false };
}

/** The worst fields first: fields changed by a person's tool, then others; latest first. */
export function worstFields(drift: DriftReport, limit: number): Array<{ resource: ResourceDrift; field: ResourceDrift["fields"][number] }> {
  const rank = (cls: ManagerClass | undefined): number =>
    cls === "interactive" ? 0 : cls === "other" ? 1 : cls === "kubernetes" ? 2 : 3;
  const all = drift.resources.flatMap((resource) => resource.fields.map((field) => ({ resource, field })));
  all.sort(
    (a, b) =>
      rank(a.field.attribution?.managerClass) - rank(b.field.attribution?.managerClass) ||
      (parseTime(b.field.attribution?.time) ?? 0) - (parseTime(a.field.attribution?.time) ?? 0),
  );
  return all.slice(0, limit);
}

/**
 * The status-panel item in one line — `2 · 2 h`: resources changed live and for how long —
 * and the whole sentence for its tooltip.
 */
export function panelSummary(status: StatusView | null, drift: DriftReport | null, now: number): { value: string; tooltip: string } {
  const state = driftState(status, drift);
  const since = driftingSince(status);
  const t = since ? parseTime(since.at) : null;
  const age = t === null ? null : shortDuration((now - t) / 1000);
  const ageWords = since && t !== null ? ` for ${since.witnessed ? "" : "at least "}${formatDuration((now - t) / 1000)} (since ${formatTime(since.at)})` : "";
  if (state === "inSync") return { value: "None", tooltip: "No drift: the live objects match what Argo CD applied. Click for details." };
  if (state === "unknown" && !drift) return { value: "…", tooltip: "Drift: loading." };
  const counts = panelCounts(status, drift);
  if (state === "gitAhead") {
    const n = counts?.gitAhead ?? 0;
    return {
      value: age ? `Git · ${age}` : "Git ahead",
      tooltip: `Git ahead${ageWords}: ${plural(n, "resource")} changed in Git, not yet synced; nothing changed in the cluster. Click for details.`,
    };
  }
  if (!counts) return { value: age ? `… · ${age}` : "…", tooltip: `Drifted${ageWords}; ${status?.drift ? "not inspected yet" : "loading which resources"}. Click for details.` };
  const n = counts.changed;
  return {
    value: age ? `${n} · ${age}` : String(n),
    tooltip: `${plural(n, "resource")} changed in the cluster${ageWords}${counts.gitAhead ? `; ${counts.gitAhead} more changed in Git` : ""}. Click for details.`,
  };
}

/**
 * The cluster and namespace the live objects were read from, as Argo CD names them:
 * `prod-eu / batch`; `in-cluster` for Argo CD's own cluster given by URL.
 */
export function destinationText(d: DestinationView | null | undefined): string | null {
  if (!d) return null;
  const cluster = d.name || (d.server === "https://kubernetes.default.svc" ? "in-cluster" : d.server);
  if (!cluster && !d.namespace) return null;
  return d.namespace ? `${cluster ?? "?"} / ${d.namespace}` : (cluster ?? null);
}

/** `1 resource`, `3 resources`. */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}
