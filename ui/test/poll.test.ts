import assert from "node:assert/strict";
import { test } from "node:test";
import { ApiError } from "../src/api";
import { Clock, nextDelay, Poller, PollState } from "../src/poll";

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
