import assert from "node:assert/strict";
import { test } from "node:test";
import { axisStart, dayTicks, endText, episodeCauses, layoutBars, MIN_BAR } from "../src/components/Timeline";
import type { EpisodeView } from "../src/types";

const H = 3600 * 1000;
const T0 = Date.parse("2026-11-01T00:00:00Z");

function episode(id: string, startH: number, endH: number | null, patch: Partial<EpisodeView> = {}): EpisodeView {
  return {
    id,
    startedAt: new Date(T0 + startH * H).toISOString(),
    startWitnessed: true,
    startInferred: false,
    endedAt: endH === null ? null : new Date(T0 + endH * H).toISOString(),
    endWitnessed: endH === null ? null : true,
    ongoing: endH === null,
    durationSeconds: endH === null ? null : (endH - startH) * 3600,
    endCause: endH === null ? null : "automatedSync",
    endedBy: null,
    endText: null,
    endOperationPhase: null,
    revisionAtStart: null,
    revisionAtEnd: null,
    resources: [],
    detailTrimmed: false,
    ...patch,
  };
}

test("episodes sit on the time axis in proportion; an open one runs to the end", () => {
  const bars = layoutBars([episode("a", 0, 25), episode("b", 50, null)], T0, T0 + 100 * H, 1000);
  assert.deepEqual(
    bars.map((b) => [b.episode.id, Math.round(b.x), Math.round(b.width)]),
    [
      ["a", 0, 250],
      ["b", 500, 500],
    ],
  );
});

test("a very short or just-started episode stays visible inside the axis", () => {
  // Half an hour of a week is 3 of 1000 units: drawn MIN_BAR wide (about 7 px on a laptop).
  const week = 7 * 24;
  const [short] = layoutBars([episode("short", 10, 10.5)], T0, T0 + week * H, 1000);
  assert.equal(short.width, MIN_BAR);
  assert.ok(MIN_BAR >= 8);
  const [bar] = layoutBars([episode("now", 99.999, null)], T0, T0 + 100 * H, 1000);
  assert.equal(bar.width, MIN_BAR);
  assert.ok(bar.x + bar.width <= 1000, `bar ends at ${bar.x + bar.width}`);
  const [early] = layoutBars([episode("early", -10, 0)], T0, T0 + 100 * H, 1000);
  assert.equal(early.x, 0);
});

test("episodes outside the window are left out; a start before it is clipped to it", () => {
  const bars = layoutBars([episode("before", -50, -40), episode("across", -10, 10)], T0, T0 + 100 * H, 1000);
  assert.deepEqual(bars.map((b) => [b.episode.id, Math.round(b.x), Math.round(b.width)]), [["across", 0, 100]]);
});

test("how an episode ended, in words; a manual sync names the Argo CD user", () => {
  // The backend's words (those of the DriftEnded Event) when it sends them.
  assert.equal(
    endText(episode("a", 0, 1, { endCause: "manualSync", endedBy: "alice@example.com", endText: "synced by alice@example.com" })),
    "synced by alice@example.com",
  );
  assert.equal(endText(episode("b", 0, 1, { endCause: "revertedByHand", endWitnessed: false })), "reverted by hand (seen later)");
  assert.equal(endText(episode("c", 0, null)), "still drifting");
  assert.equal(endText(episode("d", 0, null, { ongoing: false })), "end not recorded");
});

test("an episode's causes and field managers come from its resources, each once", () => {
  const e = episode("a", 0, 1, {
    resources: [
      { group: "apps", kind: "Deployment", namespace: "p", name: "api", cause: "liveChanged", managers: ["kubectl-set", "kubectl-edit"] },
      { group: "", kind: "ConfigMap", namespace: "p", name: "cfg", cause: "liveChanged", managers: ["kubectl-edit"] },
      { group: "", kind: "Service", namespace: "p", name: "api" },
    ],
  });
  assert.deepEqual(episodeCauses(e), { causes: ["liveChanged"], managers: ["kubectl-edit", "kubectl-set"] });
});

test("the axis starts at the midnight before the first episode, at least a day back", () => {
  const now = T0 + 6 * 24 * H + 15 * H; // Nov 7, 15:00 UTC
  assert.equal(axisStart([T0 + 13.5 * H], now), T0, "an episode on Nov 1 at 13:30 starts the axis at Nov 1, 00:00");
  assert.equal(axisStart([], now), T0 + 5 * 24 * H, "no episode: the day before");
});

test("each day is a tick, labelled by its date; a long span labels every k-th day", () => {
  const now = T0 + 6 * 24 * H + 15 * H;
  const ticks = dayTicks(T0, now);
  assert.deepEqual(
    ticks.map((t) => t.label),
    ["Nov 1", "Nov 2", "Nov 3", "Nov 4", "Nov 5", "Nov 6", "Nov 7"],
  );
  assert.equal(ticks[0].fraction, 0);
  assert.ok(ticks.every((t, i) => i === 0 || t.fraction > ticks[i - 1].fraction));
  const month = dayTicks(T0, T0 + 30 * 24 * H);
  assert.equal(month.length, 31, "every day keeps its tick");
  const labelled = month.filter((t) => t.label !== null);
  assert.ok(labelled.length <= 8, `${labelled.length} labels`);
  assert.equal(labelled[0].label, "Nov 1");
});
