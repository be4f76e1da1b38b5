// Polling (Argo CD's proxy carries no WebSockets): one call at a time, each with its own
// AbortController; after a failure the next try waits longer (backoff), and the last good data
// stays on screen with the error beside it.

import * as React from "react";
import { isAbort } from "./api";

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
    private readonly backoff: Backoff,
    private readonly onChange: (s: PollState<T>) => void,
    private readonly clock: Clock = browserClock,
  ) {}

  get current(): PollState<T> {
    return this.state;
  }

  start(): void {
    void this.run();
  }

  /** Call now (a "Retry" or "Refresh" click), abandoning the scheduled call. */
  refresh(): void {
    void this.run();
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

/**
 * Poll `fetcher` while mounted. `key` names what is polled (app and parameters): a new key
 * starts afresh. Argo CD re-renders extensions often; the fetcher is read through a ref, so a
 * new function identity does not restart polling.
 */
export function usePoll<T>(
  key: string,
  fetcher: Fetcher<T>,
  backoff: Backoff,
  enabled = true,
): [PollState<T>, () => void] {
  const [state, setState] = React.useState<PollState<T>>(initialState);
  const fetcherRef = React.useRef(fetcher);
  fetcherRef.current = fetcher;
  const pollerRef = React.useRef<Poller<T> | null>(null);
  React.useEffect(() => {
    if (!enabled) return undefined;
    setState(initialState);
    const poller = new Poller<T>((signal) => fetcherRef.current(signal), backoff, setState);
    pollerRef.current = poller;
    poller.start();
    return () => {
      poller.stop();
      if (pollerRef.current === poller) pollerRef.current = null;
    };
    // backoff is a constant per call site
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key, enabled]);
  const refresh = React.useCallback(() => pollerRef.current?.refresh(), []);
  return [state, refresh];
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
