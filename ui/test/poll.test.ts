import assert from "node:assert/strict";
import { test } from "node:test";
import { ApiError } from "../src/api";
import { Clock, nextDelay, Poller, PollState, PollStore } from "../src/poll";

test("backoff doubles the interval per failure in a row, up to the cap", () => {
  const b = { intervalMs: 10_000, maxMs: 120_000 };
  assert.deepEqual([0, 1, 2, 3, 4, 5, 50].map((n) => nextDelay(b, n)), [10_000, 20_000, 40_000, 80_000, 120_000, 120_000, 120_000]);
});

/** A clock whose timers run only when the test says so. */
function manualClock() {
  let now = 1_000_000;
  const timers: Array<{ at: number; fn: () => void; id: number }> = [];
  let next = 1;
  let hidden = false;
  const clock: Clock = {
    now: () => now,
    setTimeout: (fn, ms) => {
      const id = next++;
      timers.push({ at: now + ms, fn, id });
      return id;
    },
    clearTimeout: (h) => {
      const i = timers.findIndex((t) => t.id === h);
      if (i >= 0) timers.splice(i, 1);
    },
    hidden: () => hidden,
  };
  return {
    clock,
    pending: () => timers.map((t) => t.at - now),
    /** Runs the next timer, moving time to it. */
    async tick() {
      timers.sort((a, b) => a.at - b.at);
      const t = timers.shift();
      if (!t) throw new Error("no timer");
      now = t.at;
      t.fn();
      await flush();
    },
    setHidden(h: boolean) {
      hidden = h;
    },
    /** Moves time on without running timers. */
    async advance(ms: number) {
      now += ms;
      await flush();
    },
  };
}

const flush = () => new Promise((r) => setImmediate(r));

test("a failed refresh keeps the last good data, records the error and backs off; success resets", async () => {
  const c = manualClock();
  const answers: Array<() => Promise<string>> = [
    async () => "first",
    async () => {
      throw new ApiError("http", 502, null, "", "/api/v1/status");
    },
    async () => {
      throw new ApiError("network", 0, null, "down", "/api/v1/status");
    },
    async () => "second",
  ];
  let calls = 0;
  const states: PollState<string>[] = [];
  const p = new Poller<string>(() => answers[calls++](), { intervalMs: 1000, maxMs: 60_000 }, (s) => states.push(s), c.clock);
  p.start();
  await flush();
  assert.equal(p.current.data, "first");
  assert.deepEqual(c.pending(), [1000]);

  await c.tick();
  assert.equal(p.current.data, "first", "the old data stays");
  assert.ok(p.current.error instanceof ApiError);
  assert.equal(p.current.failures, 1);
  assert.deepEqual(c.pending(), [2000], "backoff after one failure");

  await c.tick();
  assert.equal(p.current.failures, 2);
  assert.deepEqual(c.pending(), [4000]);
  assert.equal(p.current.data, "first");

  await c.tick();
  assert.equal(p.current.data, "second");
  assert.equal(p.current.error, null);
  assert.equal(p.current.failures, 0);
  assert.deepEqual(c.pending(), [1000], "back to the interval");
  p.stop();
  assert.deepEqual(c.pending(), []);
});

test("each call gets its own AbortController; a refresh aborts the call in flight; stop aborts too", async () => {
  const c = manualClock();
  const signals: AbortSignal[] = [];
  const p = new Poller<string>(
    (signal) => {
      signals.push(signal);
      return new Promise((_r, reject) => signal.addEventListener("abort", () => reject(Object.assign(new Error("aborted"), { name: "AbortError" }))));
    },
    { intervalMs: 1000, maxMs: 60_000 },
    () => {},
    c.clock,
  );
  p.start();
  p.refresh();
  await flush();
  assert.equal(signals.length, 2);
  assert.notEqual(signals[0], signals[1]);
  assert.equal(signals[0].aborted, true, "the older call was aborted");
  assert.equal(signals[1].aborted, false);
  assert.equal(p.current.error, null, "an abort is not an error");
  p.stop();
  assert.equal(signals[1].aborted, true);
});

test("no state change reaches a stopped poller's listener", async () => {
  const c = manualClock();
  let release: (v: string) => void = () => {};
  const changes: PollState<string>[] = [];
  const p = new Poller<string>(() => new Promise((r) => (release = r)), { intervalMs: 1000, maxMs: 1000 }, (s) => changes.push(s), c.clock);
  p.start();
  const before = changes.length;
  p.stop();
  release("late");
  await flush();
  assert.equal(changes.length, before);
});

test("polls are skipped while the page is hidden, once there is data", async () => {
  const c = manualClock();
  let calls = 0;
  const p = new Poller<number>(async () => ++calls, { intervalMs: 1000, maxMs: 1000 }, () => {}, c.clock);
  p.start();
  await flush();
  c.setHidden(true);
  await c.tick();
  assert.equal(calls, 1);
  c.setHidden(false);
  await c.tick();
  assert.equal(calls, 2);
  p.stop();
});

// === one poller per app, whoever shows it (the status-panel item and the tab) ===

test("the panel item and the tab of one app share one call per interval", async () => {
  const c = manualClock();
  const store = new PollStore(c.clock);
  let calls = 0;
  const fetch = async () => ++calls;
  const seenByPanel: Array<number | null> = [];
  const seenByTab: Array<number | null> = [];
  const panel = store.subscribe<number>("status|argocd:app", fetch, { intervalMs: 10_000, maxMs: 60_000 }, (s) => seenByPanel.push(s.data));
  await flush();
  assert.equal(calls, 1);
  // The tab opens right after: the answer is fresh, it is shown without another call.
  const tab = store.subscribe<number>("status|argocd:app", fetch, { intervalMs: 10_000, maxMs: 60_000 }, (s) => seenByTab.push(s.data));
  assert.equal(tab.state.data, 1, "the tab starts with the panel's data");
  await flush();
  assert.equal(calls, 1);
  for (let i = 0; i < 5; i++) await c.tick();
  assert.equal(calls, 6, "one call per interval for both");
  assert.equal(seenByPanel.at(-1), 6);
  assert.equal(seenByTab.at(-1), 6);
  assert.equal(store.size, 1);
  tab.unsubscribe();
  panel.unsubscribe();
  assert.equal(store.size, 0, "the poller stops with its last viewer");
  assert.deepEqual(c.pending(), []);
});

test("a watcher reads a poller's answers while the tab polls, and never calls itself", async () => {
  const c = manualClock();
  const store = new PollStore(c.clock);
  let calls = 0;
  const fetch = async () => ++calls;
  const seen: Array<number | null> = [];
  // The panel item watches /drift before any tab is open: no call.
  const w = store.watch<number>("drift|argocd:app", (s) => seen.push(s.data));
  assert.equal(w.state.data, null);
  await flush();
  assert.equal(calls, 0);
  assert.equal(store.size, 0, "watching starts no poller");
  // The tab opens: the watcher hears its answers.
  const tab = store.subscribe<number>("drift|argocd:app", fetch, { intervalMs: 10_000, maxMs: 60_000 }, () => {});
  await flush();
  await c.tick();
  assert.equal(calls, 2);
  assert.equal(seen.at(-1), 2);
  // The tab closes: the poller stops, the watcher is told there is no current answer.
  tab.unsubscribe();
  assert.equal(seen.at(-1), null);
  assert.deepEqual(c.pending(), []);
  w.unwatch();
  // A tab opened after the watcher left: nothing reaches it.
  const again = store.subscribe<number>("drift|argocd:app", fetch, { intervalMs: 10_000, maxMs: 60_000 }, () => {});
  await flush();
  assert.equal(seen.at(-1), null);
  again.unsubscribe();
});

test("the fastest viewer sets the pace; when it leaves the slower pace returns", async () => {
  const c = manualClock();
  const store = new PollStore(c.clock);
  let calls = 0;
  const fetch = async () => ++calls;
  const slow = store.subscribe<number>("drift|argocd:app", fetch, { intervalMs: 30_000, maxMs: 300_000 }, () => {});
  await flush();
  assert.deepEqual(c.pending(), [30_000]);
  // A faster viewer arrives 20 s later: the data is older than its 10 s, so it is refreshed now.
  await c.advance(20_000);
  const fast = store.subscribe<number>("drift|argocd:app", fetch, { intervalMs: 10_000, maxMs: 120_000 }, () => {});
  await flush();
  assert.equal(calls, 2);
  assert.deepEqual(c.pending(), [10_000]);
  fast.unsubscribe();
  await c.tick();
  assert.deepEqual(c.pending(), [30_000], "back to the slow pace");
  slow.unsubscribe();
});

test("different apps and routes do not share", async () => {
  const c = manualClock();
  const store = new PollStore(c.clock);
  const asked: string[] = [];
  const a = store.subscribe("status|argocd:a", async () => asked.push("a"), { intervalMs: 1000, maxMs: 1000 }, () => {});
  const b = store.subscribe("status|argocd:b", async () => asked.push("b"), { intervalMs: 1000, maxMs: 1000 }, () => {});
  await flush();
  assert.deepEqual(asked.sort(), ["a", "b"]);
  assert.equal(store.size, 2);
  a.unsubscribe();
  b.unsubscribe();
});
