// Polling (Argo CD's proxy carries no WebSockets): one call at a time, each with its own
// AbortController; after a failure the next try waits longer (backoff), and the last good data
// stays on screen with the error beside it.

import * as React from "react";
import { isAbort } from "./api";

function abortError(): Error {
  const e = new Error("no subscriber");
  e.name = "AbortError";
  return e;
}

export interface PollState<T> {
  /** The last good answer; kept when a later refresh fails. */
  data: T | null;
  /** When `data` arrived (ms since the epoch). */
  updatedAt: number | null;
  /** The last refresh's failure; `null` once a refresh succeeds again. */
  error: unknown;
  /** When `error` happened. */
  failedAt: number | null;
  /** Failures in a row (drives the backoff). */
  failures: number;
  /** A call is in flight. */
  loading: boolean;
  /** When the next call is due (ms since the epoch), if one is scheduled. */
  nextAt: number | null;
}

export const initialState: PollState<never> = {
  data: null,
  updatedAt: null,
  error: null,
  failedAt: null,
  failures: 0,
  loading: false,
  nextAt: null,
};

export interface Backoff {
  /** Between good answers. */
  intervalMs: number;
  /** The longest wait after failures. */
  maxMs: number;
}

/** The wait before the next call: the interval, doubled for each failure in a row, capped. */
export function nextDelay(b: Backoff, failures: number): number {
  if (failures <= 0) return b.intervalMs;
  const factor = Math.pow(2, Math.min(failures, 16));
  return Math.min(b.maxMs, b.intervalMs * factor);
}

export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  /** True while the page is hidden: polls are skipped (not counted as failures). */
  hidden(): boolean;
}

export const browserClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
  hidden: () => typeof document !== "undefined" && document.visibilityState === "hidden",
};

export type Fetcher<T> = (signal: AbortSignal) => Promise<T>;

/** Polls one fetcher. `start` once; `refresh` to call now; `stop` aborts and ends it. */
export class Poller<T> {
  private state: PollState<T> = initialState;
  private timer: unknown = null;
  private controller: AbortController | null = null;
  private stopped = false;

  constructor(
    private readonly fetcher: Fetcher<T>,
    private backoff: Backoff,
    private readonly onChange: (s: PollState<T>) => void,
    private readonly clock: Clock = browserClock,
  ) {}

  get current(): PollState<T> {
    return this.state;
  }

  /** A new pace from the next scheduled call on (a faster viewer arrived, or the last left). */
  setBackoff(b: Backoff): void {
    this.backoff = b;
  }

  start(): void {
    void this.run();
  }

  /** Call now (a "Retry" or "Refresh" click), abandoning the scheduled call; settles with the call. */
  refresh(): Promise<void> {
    return this.run();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== null) this.clock.clearTimeout(this.timer);
    this.timer = null;
    this.controller?.abort();
    this.controller = null;
  }

  private set(patch: Partial<PollState<T>>): void {
    this.state = { ...this.state, ...patch };
    if (!this.stopped) this.onChange(this.state);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    if (this.timer !== null) this.clock.clearTimeout(this.timer);
    this.timer = this.clock.setTimeout(() => {
      this.timer = null;
      if (this.clock.hidden() && this.state.data !== null) {
        this.schedule(this.backoff.intervalMs);
        return;
      }
      void this.run();
    }, ms);
    this.set({ nextAt: this.clock.now() + ms });
  }

  private async run(): Promise<void> {
    if (this.stopped) return;
    if (this.timer !== null) this.clock.clearTimeout(this.timer);
    this.timer = null;
    // One call at a time: a newer call aborts the older one.
    this.controller?.abort();
    const controller = new AbortController();
    this.controller = controller;
    this.set({ loading: true, nextAt: null });
    try {
      const data = await this.fetcher(controller.signal);
      if (controller.signal.aborted || this.stopped) return;
      this.set({ data, updatedAt: this.clock.now(), error: null, failedAt: null, failures: 0, loading: false });
      this.schedule(nextDelay(this.backoff, 0));
    } catch (e) {
      if (controller.signal.aborted || this.stopped || isAbort(e)) return;
      const failures = this.state.failures + 1;
      this.set({ error: e, failedAt: this.clock.now(), failures, loading: false });
      this.schedule(nextDelay(this.backoff, failures));
    } finally {
      if (this.controller === controller) this.controller = null;
    }
  }
}

interface Subscriber<T> {
  fetcher: Fetcher<T>;
  backoff: Backoff;
  onChange: (s: PollState<T>) => void;
}

interface Shared<T> {
  poller: Poller<T>;
  subscribers: Set<Subscriber<T>>;
}

/**
 * One poller per key, whoever shows its data: the status-panel item and the tab of one app read
 * the same `/status` and `/drift` answers, so they share one call per interval instead of each
 * polling its own (Argo CD re-renders both; every call goes through argocd-server). The pace is
 * the fastest subscriber's; a subscriber that arrives finds the current data at once and, if
 * it is older than its own interval, asks for a fresh answer. The poller stops with its last
 * subscriber.
 */
export class PollStore {
  private readonly entries = new Map<string, Shared<unknown>>();
  /** Passive readers by key: told of a poller's answers, never the cause of a call. */
  private readonly watchers = new Map<string, Set<(s: PollState<unknown>) => void>>();

  constructor(private readonly clock: Clock = browserClock) {}

  /** Pollers running now (for tests and the browser tests' call counts). */
  get size(): number {
    return this.entries.size;
  }

  /** Ask every poller for a fresh answer now; settles when all have answered (or failed). */
  refreshAll(): Promise<void> {
    return Promise.all([...this.entries.values()].map((e) => e.poller.refresh())).then(() => undefined);
  }

  /**
   * Start showing `key`. Every subscriber's fetcher asks the same thing (the key says what); the
   * call is made with any current subscriber's.
   */
  subscribe<T>(
    key: string,
    fetcher: Fetcher<T>,
    backoff: Backoff,
    onChange: (s: PollState<T>) => void,
  ): { state: PollState<T>; unsubscribe: () => void; refresh: () => Promise<void> } {
    let entry = this.entries.get(key) as Shared<T> | undefined;
    const sub: Subscriber<T> = { fetcher, backoff, onChange };
    if (!entry) {
      const created: Shared<T> = {
        subscribers: new Set(),
        poller: new Poller<T>(
          (signal) => {
            const first = created.subscribers.values().next();
            return first.done ? Promise.reject(abortError()) : first.value.fetcher(signal);
          },
          backoff,
          (s) => {
            created.subscribers.forEach((x) => x.onChange(s));
            this.watchers.get(key)?.forEach((w) => w(s));
          },
          this.clock,
        ),
      };
      entry = created;
      this.entries.set(key, created as Shared<unknown>);
      created.subscribers.add(sub);
      created.poller.start();
    } else {
      entry.subscribers.add(sub);
      entry.poller.setBackoff(fastest(entry.subscribers));
      const s = entry.poller.current;
      const stale = s.updatedAt === null || this.clock.now() - s.updatedAt >= backoff.intervalMs;
      if (stale && !s.loading) void entry.poller.refresh();
    }
    const shared = entry;
    return {
      state: shared.poller.current,
      unsubscribe: () => {
        shared.subscribers.delete(sub);
        if (shared.subscribers.size === 0) {
          shared.poller.stop();
          if (this.entries.get(key) === (shared as Shared<unknown>)) this.entries.delete(key);
          // Nobody polls it any more: its readers no longer have a current answer.
          this.watchers.get(key)?.forEach((w) => w(initialState));
        } else {
          shared.poller.setBackoff(fastest(shared.subscribers));
        }
      },
      refresh: () => shared.poller.refresh(),
    };
  }

  /**
   * Read `key`'s answers while others poll it, never calling: `onChange` hears every answer of a
   * poller that runs now or starts later, and the initial (empty) state when it stops.
   */
  watch<T>(key: string, onChange: (s: PollState<T>) => void): { state: PollState<T>; unwatch: () => void } {
    const listener = onChange as (s: PollState<unknown>) => void;
    const set = this.watchers.get(key) ?? new Set();
    this.watchers.set(key, set.add(listener));
    const entry = this.entries.get(key) as Shared<T> | undefined;
    return {
      state: entry?.poller.current ?? (initialState as PollState<T>),
      unwatch: () => {
        set.delete(listener);
        if (!set.size) this.watchers.delete(key);
      },
    };
  }
}

function fastest<T>(subs: Set<Subscriber<T>>): Backoff {
  let best: Backoff | null = null;
  for (const s of subs) if (!best || s.backoff.intervalMs < best.intervalMs) best = s.backoff;
  return best ?? { intervalMs: 10_000, maxMs: 120_000 };
}

/** The page's one store: every component of this bundle (tab, panel item, flyout) shares it. */
export const pollStore = new PollStore();

/**
 * Poll `fetcher` while mounted, sharing the call with every other component polling the same
 * `key` (app, route and parameters: a new key starts afresh). Argo CD re-renders extensions
 * often; the fetcher is read through a ref, so a new function identity does not restart polling.
 */
export function usePoll<T>(
  key: string,
  fetcher: Fetcher<T>,
  backoff: Backoff,
  enabled = true,
  store: PollStore = pollStore,
): [PollState<T>, () => void] {
  const [state, setState] = React.useState<PollState<T>>(initialState);
  const fetcherRef = React.useRef(fetcher);
  fetcherRef.current = fetcher;
  const refreshRef = React.useRef<() => void>(() => undefined);
  // (The hook's refresh is fire-and-forget: a click does not wait.)
  const { intervalMs, maxMs } = backoff;
  React.useEffect(() => {
    if (!enabled) return undefined;
    const sub = store.subscribe<T>(key, (signal) => fetcherRef.current(signal), { intervalMs, maxMs }, setState);
    setState(sub.state);
    refreshRef.current = () => void sub.refresh();
    return () => {
      refreshRef.current = () => undefined;
      sub.unsubscribe();
    };
  }, [key, enabled, intervalMs, maxMs, store]);
  const refresh = React.useCallback(() => refreshRef.current(), []);
  return [state, refresh];
}

/** `key`'s current answer while another component polls it; this one never calls. */
export function useWatch<T>(key: string, store: PollStore = pollStore): PollState<T> {
  const [state, setState] = React.useState<PollState<T>>(initialState as PollState<T>);
  React.useEffect(() => {
    const w = store.watch<T>(key, setState);
    setState(w.state);
    return w.unwatch;
  }, [key, store]);
  return state;
}

/** Re-render every `ms` (for "updated N s ago"), only in the component that shows it. */
export function useNow(ms = 1000): number {
  const [now, setNow] = React.useState(() => Date.now());
  React.useEffect(() => {
    const h = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(h);
  }, [ms]);
  return now;
}
