import assert from "node:assert/strict";
import { test } from "node:test";
import {
  ago,
  driftingSince,
  driftState,
  formatDuration,
  formatTime,
  formatValue,
  isMasked,
  managersOf,
  plural,
  resourceTitle,
  updatedAgo,
  worstFields,
} from "../src/format";
import { breakPieces, unmaskLine } from "../src/components/common";
import { destinationText, driftCounts, panelCounts, panelSummary } from "../src/format";
import type { DriftReport, FieldDrift, ResourceDrift, StatusView } from "../src/types";

const NOW = Date.parse("2026-11-29T16:00:00Z");

test("durations read like a person says them", () => {
  assert.equal(formatDuration(0), "0 s");
  assert.equal(formatDuration(42.9), "42 s");
  assert.equal(formatDuration(60), "1 min");
  assert.equal(formatDuration(3599), "59 min");
  assert.equal(formatDuration(3600), "1 h");
  assert.equal(formatDuration(3600 * 3 + 20 * 60), "3 h 20 min");
  assert.equal(formatDuration(86400 * 2 + 3600 * 4 + 59), "2 d 4 h");
  assert.equal(formatDuration(86400), "1 d");
  assert.equal(formatDuration(-5), "0 s");
});

test("ages: just now, N ago, unknown; a future time (clock skew) is just now", () => {
  assert.equal(ago("2026-11-29T15:55:00Z", NOW), "5 min ago");
  assert.equal(ago("2026-11-29T15:59:58Z", NOW), "just now");
  assert.equal(ago("2026-11-29T16:10:00Z", NOW), "just now");
  assert.equal(ago(null, NOW), "unknown");
  assert.equal(ago("yesterday", NOW), "unknown");
  assert.equal(updatedAgo(NOW - 12_000, NOW), "updated 12 s ago");
  assert.equal(updatedAgo(NOW, NOW), "updated just now");
  assert.equal(updatedAgo(null, NOW), "not loaded yet");
  assert.equal(formatTime("2026-11-29T15:50:42.123Z"), "2026-11-29 15:50:42 UTC");
  assert.equal(formatTime("garbled"), "garbled");
});

test("values: absent is a dash, objects are compact JSON, long ones are cut", () => {
  assert.equal(formatValue(null), "—");
  assert.equal(formatValue("registry/api:1.14.3"), "registry/api:1.14.3");
  assert.equal(formatValue(3), "3");
  assert.equal(formatValue({ a: [1, "b"] }), '{"a":[1,"b"]}');
  assert.equal(formatValue("x".repeat(200), 10), `${"x".repeat(9)}…`);
  assert.equal(isMasked("++++++++"), true);
  assert.equal(isMasked("+a+"), false);
  assert.equal(plural(1, "field"), "1 field");
  assert.equal(plural(3, "field"), "3 fields");
  assert.equal(resourceTitle({ kind: "ClusterRole", namespace: "", name: "viewer" }), "ClusterRole viewer");
  assert.equal(resourceTitle({ kind: "Deployment", namespace: "payments", name: "api" }), "Deployment payments/api");
});

function field(path: string, manager: string | null, time: string | null, cls: "interactive" | "other" | "kubernetes" | "argoCd" = "interactive"): FieldDrift {
  return {
    pointer: `/${path.replace(/\./g, "/")}`,
    path,
    change: "changed",
    desired: "a",
    desiredKnown: true,
    live: "b",
    attribution: manager
      ? { manager, operation: "Update", subresource: null, time, isArgoCd: cls === "argoCd", managerClass: cls }
      : null,
  };
}

function resource(name: string, fields: FieldDrift[]): ResourceDrift {
  return {
    group: "apps",
    version: "v1",
    kind: "Deployment",
    namespace: "payments",
    name,
    argoStatus: "OutOfSync",
    argoHealth: null,
    requiresPruning: false,
    hook: false,
    cause: "liveChanged",
    notInspected: null,
    desiredSource: "lastApplied",
    fields,
    additions: [],
    ignored: [],
    problems: [],
    lastChangeAt: null,
    masked: false,
    ignoreExtraneous: false,
  };
}

test("the managers of a resource are listed once each, latest write first", () => {
  const r = resource("api", [
    field("spec.replicas", "kubectl-scale", "2026-11-29T10:00:00Z"),
    field("spec.image", "kubectl-set", "2026-11-29T12:00:00Z"),
    field("metadata.labels.x", "kubectl-scale", "2026-11-29T10:00:00Z"),
    field("spec.y", null, null),
  ]);
  assert.deepEqual(managersOf(r).map((a) => a.manager), ["kubectl-set", "kubectl-scale"]);
});

function report(byCause: Partial<DriftReport["summary"]["byCause"]>, resources: ResourceDrift[] = [], argo: string | null = "OutOfSync"): DriftReport {
  return {
    summary: {
      applicationNamespace: "argocd",
      applicationName: "a",
      all: false,
      argoSyncStatus: argo,
      argoReconciledAt: null,
      readAt: "2026-11-29T16:00:00Z",
      resourcesInApp: 3,
      resourcesListed: resources.length,
      resourcesInspected: resources.length,
      byCause: { liveChanged: 0, gitAhead: 0, missing: 0, extra: 0, notInspected: 0, none: 0, ...byCause },
      resourcesDrifted: resources.length,
      fieldsDrifted: 0,
      additions: 0,
      ignoredDifferences: 0,
      lastChangeAt: null,
      outOfSync: null,
    },
    resources,
  };
}

test("the app's state: live changes outrank Git ahead; Synced is in sync", () => {
  assert.equal(driftState(null, report({ liveChanged: 1, gitAhead: 2 })), "liveChanged");
  assert.equal(driftState(null, report({ missing: 1 })), "liveChanged");
  assert.equal(driftState(null, report({ gitAhead: 2 })), "gitAhead");
  assert.equal(driftState(null, report({}, [], "Synced")), "inSync");
  assert.equal(driftState(null, null), "unknown");
});

test("drifting since: the witnessed turn, else 'at least since' first seen", () => {
  const status = (since: string | null): StatusView =>
    ({ outOfSync: { since, observedSince: "2026-11-29T11:00:00Z" } }) as unknown as StatusView;
  assert.deepEqual(driftingSince(status("2026-11-29T10:00:00Z")), { at: "2026-11-29T10:00:00Z", witnessed: true });
  assert.deepEqual(driftingSince(status(null)), { at: "2026-11-29T11:00:00Z", witnessed: false });
  assert.equal(driftingSince({ outOfSync: null } as unknown as StatusView), null);
});

test("the worst fields are those a person's tool wrote, latest first", () => {
  const d = report({ liveChanged: 2 }, [
    resource("a", [field("spec.replicas", "kube-controller-manager", "2026-11-29T15:00:00Z", "kubernetes"), field("spec.x", "kyverno", "2026-11-29T15:30:00Z", "other")]),
    resource("b", [field("spec.image", "kubectl-set", "2026-11-29T12:00:00Z"), field("spec.env", "kubectl-edit", "2026-11-29T13:00:00Z")]),
  ]);
  assert.deepEqual(worstFields(d, 3).map((w) => w.field.attribution?.manager), ["kubectl-edit", "kubectl-set", "kyverno"]);
});

// === the status-panel item, the destination, the counts ===

test("the panel item is one short line; the whole sentence is its tooltip", () => {
  const now = Date.parse("2026-11-29T16:00:00Z");
  const status = { sync: { status: "OutOfSync" }, outOfSync: { since: "2026-11-29T14:00:00Z", observedSince: "2026-11-29T14:00:00Z" } } as unknown as StatusView;
  const two = panelSummary(status, report({ liveChanged: 1, missing: 1, gitAhead: 1 }), now);
  assert.equal(two.value, "2 · 2 h");
  assert.match(two.tooltip, /^2 resources changed in the cluster for 2 h \(since 2026-11-29 14:00:00 UTC\); 1 more changed in Git/);
  const unwitnessed = { ...status, outOfSync: { since: null, observedSince: "2026-11-29T15:30:00Z" } } as unknown as StatusView;
  assert.match(panelSummary(unwitnessed, report({ liveChanged: 1 }), now).tooltip, /for at least 30 min/);
  const git = panelSummary(status, report({ gitAhead: 1 }), now);
  assert.equal(git.value, "Git · 2 h");
  assert.match(git.tooltip, /nothing changed in the cluster/);
  const synced = panelSummary({ sync: { status: "Synced" }, outOfSync: null } as unknown as StatusView, null, now);
  assert.equal(synced.value, "None");
  for (const s of [two, git, synced]) assert.ok(s.value.length <= 12, s.value);
});

test("without a live answer, the panel item shows what the episode under way recorded", () => {
  const now = Date.parse("2026-11-29T16:00:00Z");
  const status = (drift: unknown): StatusView =>
    ({ sync: { status: "OutOfSync" }, outOfSync: { since: "2026-11-29T14:00:00Z", observedSince: "2026-11-29T14:00:00Z" }, drift }) as unknown as StatusView;
  const episode = (changed: number, gitAhead: number, notInspected = 0) => ({ changed, gitAhead, notInspected, managers: [], managerClass: "unknown" });
  const live = panelSummary(status(episode(3, 1)), null, now);
  assert.equal(live.value, "3 · 2 h");
  assert.match(live.tooltip, /^3 resources changed in the cluster for 2 h .*; 1 more changed in Git/);
  assert.equal(driftState(status(episode(3, 1)), null), "liveChanged");
  const git = panelSummary(status(episode(0, 2)), null, now);
  assert.equal(git.value, "Git · 2 h");
  assert.equal(driftState(status(episode(0, 2)), null), "gitAhead");
  // Nothing explained yet: drifted (Argo CD says so), count not known, and why.
  const unknown = panelSummary(status(episode(0, 0, 4)), null, now);
  assert.equal(unknown.value, "… · 2 h");
  assert.match(unknown.tooltip, /; not inspected yet\./);
  // A live answer at hand (the tab is open) is what the item shows.
  assert.equal(panelSummary(status(episode(3, 1)), report({ liveChanged: 1 }), now).value, "1 · 2 h");
  assert.deepEqual(panelCounts(status(null), null), null);
});

test("a Git-ahead resource is not counted as changed in the cluster", () => {
  assert.deepEqual(driftCounts(report({ gitAhead: 1 })), { changed: 0, gitAhead: 1 });
  assert.deepEqual(driftCounts(report({ liveChanged: 2, extra: 1, missing: 1, gitAhead: 3 })), { changed: 4, gitAhead: 3 });
});

test("the destination read is named as Argo CD names it", () => {
  assert.equal(destinationText({ name: "prod-eu", server: null, namespace: "batch" }), "prod-eu / batch");
  assert.equal(destinationText({ name: null, server: "https://kubernetes.default.svc", namespace: "payments" }), "in-cluster / payments");
  assert.equal(destinationText({ name: null, server: "https://10.0.0.1:6443", namespace: null }), "https://10.0.0.1:6443");
  assert.equal(destinationText(null), null);
});

test("paths and values break only before . and [ and after /", () => {
  assert.deepEqual(breakPieces("spec.template.spec.containers[name=web].image"), ["spec", ".template", ".spec", ".containers", "[name=web]", ".image"]);
  assert.deepEqual(breakPieces("retail/shop:1.4.2"), ["retail/", "shop:1", ".4", ".2"]);
  assert.equal(breakPieces("payments-api").length, 1, "never at a hyphen");
  assert.equal(breakPieces("a.b[c]/d").join(""), "a.b[c]/d");
});

test("a masked Secret value reads as masked, not as a run of + of some length", () => {
  assert.equal(unmaskLine("-  password: +++++++++++++"), "-  password: ‹masked›");
  assert.equal(unmaskLine("+  password: '++++++++'"), "+  password: ‹masked›");
  assert.equal(unmaskLine('-    "password": "+++++++++++++",'), '-    "password": ‹masked›,');
  assert.equal(unmaskLine("+++ after a sync"), "+++ after a sync");
  assert.equal(unmaskLine("   user: app"), "   user: app");
});
