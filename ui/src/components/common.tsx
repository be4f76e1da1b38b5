import * as React from "react";
import { ApiError, AppRef, appRefOf } from "../api";
import { diagnose } from "../diagnose";
import { formatTime, updatedAgo } from "../format";
import { PollState, useNow } from "../poll";

/** A Font Awesome icon: decoration, hidden from screen readers (the text beside says it). */
export function Icon(props: { name: string; color?: string; style?: React.CSSProperties }) {
  return <i className={props.name} aria-hidden="true" style={props.color ? { color: props.color, ...props.style } : props.style} />;
}

/**
 * One help icon per section, as Argo CD's status panel has: the explanation is in its tooltip
 * (and its accessible name), not repeated under every header.
 */
export function HelpTip(props: { text: string; testId?: string; focusable?: boolean }) {
  return (
    <span
      className="help-tip drift-ext__help"
      title={props.text}
      aria-label={props.text}
      role="img"
      tabIndex={props.focusable === false ? undefined : 0}
      data-testid={props.testId}
    >
      <Icon name="fa fa-question-circle" />
    </span>
  );
}

/** "updated 12 s ago", ticking on its own so nothing else re-renders every second. */
export function UpdatedAgo(props: { updatedAt: number | null; loading: boolean }) {
  const now = useNow(1000);
  return (
    <span className="drift-ext__muted" data-testid="updated-ago" title={props.updatedAt ? new Date(props.updatedAt).toISOString() : undefined}>
      {props.loading && <Icon name="fa fa-circle-notch fa-spin" style={{ marginRight: 4 }} />}
      {updatedAgo(props.updatedAt, now)}
    </span>
  );
}

/** The diagnosis of a failure: what is most likely wrong and the exact configuration to check. */
export function DiagnosisView(props: { error: unknown; app: AppRef | null; onRetry?: () => void; nextAt?: number | null }) {
  const d = diagnose(props.error, props.app);
  return (
    <div className="drift-ext__box" data-testid="diagnosis">
      <h4>
        <Icon name={d.transient ? "fa fa-hourglass-half" : "fa fa-exclamation-triangle"} color={d.transient ? "#f4c030" : "#e96d76"} />
        <span data-testid="diagnosis-title">{d.title}</span>
      </h4>
      <div>{d.explanation}</div>
      <ol className="drift-ext__checks">
        {d.checks.map((c, i) => (
          <li key={i}>
            {c.text}
            {c.config && <pre className="drift-ext__config">{c.config}</pre>}
          </li>
        ))}
      </ol>
      <div className="drift-ext__row drift-ext__muted" style={{ fontSize: 12 }}>
        <span className="drift-ext__code drift-ext__raw" data-testid="diagnosis-raw">{d.raw}</span>
        {props.nextAt ? <RetryIn at={props.nextAt} /> : null}
      </div>
      {props.onRetry && (
        <div style={{ marginTop: 8 }}>
          <button className="drift-ext__btn" onClick={props.onRetry}>
            <Icon name="fa fa-redo" /> Retry now
          </button>
        </div>
      )}
    </div>
  );
}

function RetryIn(props: { at: number }) {
  const now = useNow(1000);
  const s = Math.max(0, Math.round((props.at - now) / 1000));
  return <span>retrying in {s} s</span>;
}

/**
 * A refresh failed but older data is on screen: say so, keep the data, and offer the diagnosis.
 */
export function RefreshBanner(props: { state: PollState<unknown>; app: AppRef; what: string; onRetry: () => void }) {
  const [open, setOpen] = React.useState(false);
  const { error, updatedAt, failedAt, nextAt } = props.state;
  if (!error) return null;
  const d = diagnose(error, props.app);
  return (
    <div className="drift-ext__banner" data-testid="refresh-banner" role="alert">
      <Icon name="fa fa-exclamation-circle" color="#e96d76" />
      <div className="drift-ext__grow">
        <div>
          <b>Refreshing {props.what} failed</b>
          {failedAt ? ` at ${formatTime(new Date(failedAt).toISOString())}` : ""}: {d.title}. Showing the data from{" "}
          {updatedAt ? formatTime(new Date(updatedAt).toISOString()) : "earlier"} (<UpdatedAgo updatedAt={updatedAt} loading={false} />)
          {nextAt ? <>; <RetryIn at={nextAt} /></> : null}.
        </div>
        {open && <DiagnosisView error={error} app={props.app} />}
      </div>
      <button className="drift-ext__btn" onClick={() => setOpen(!open)}>
        {open ? "Hide details" : "Details"}
      </button>
      <button className="drift-ext__btn" onClick={props.onRetry}>
        Retry
      </button>
    </div>
  );
}

/** True when a section's route is simply not served by this backend version. */
export function notServed(error: unknown): boolean {
  return error instanceof ApiError && error.code === "ROUTE_NOT_FOUND";
}

export function Loading(props: { what: string }) {
  return (
    <div className="drift-ext__muted" style={{ padding: "8px 0" }} role="status">
      <Icon name="fa fa-circle-notch fa-spin" /> Loading {props.what}…
    </div>
  );
}

/**
 * A path or a value that may wrap only where a person would cut it: before `.` and `[`, after
 * `/` — never inside `containers[name=web]` or `shop:1.4.2` (each piece is unbreakable; a
 * `<wbr>` between pieces is the only break). See `breakPieces` for where the cuts go.
 */
export function Breakable(props: { text: string; className?: string }) {
  const pieces = breakPieces(props.text);
  return (
    <span className={props.className} data-breakable="">
      {pieces.map((p, i) => (
        <React.Fragment key={i}>
          {i > 0 && <wbr />}
          <span className="drift-ext__nb">{p}</span>
        </React.Fragment>
      ))}
    </span>
  );
}

/** `a.b[c=d].e/f` → `a`, `.b`, `[c=d]`, `.e/`, `f`: the pieces between allowed breaks. */
export function breakPieces(text: string): Array<string> {
  return text.split(/(?=[.[])|(?<=\/)/).filter((p) => p !== "");
}

/** A unified diff, added and removed lines coloured (resource diffs and report file diffs). */
export function DiffLines(props: { lines: Array<string>; testId?: string; masked?: boolean }) {
  return (
    <div className="drift-ext__diff" data-testid={props.testId}>
      {props.lines.map((l, i) => (
        <div key={i} className={l.startsWith("@@") ? "hunk" : l.startsWith("+") && !l.startsWith("+++") ? "add" : l.startsWith("-") && !l.startsWith("---") ? "del" : undefined}>
          {(props.masked ? unmaskLine(l) : l) || " "}
        </div>
      ))}
    </div>
  );
}

/**
 * Argo CD masks a Secret's values as runs of `+` whose lengths only say the values differ: a
 * diff line `+  password: ++++++++` reads like a length change. Show the mask as a word instead.
 */
export function unmaskLine(line: string): string {
  return line.replace(/^([+\- ].*?: )(['"]?)\+{3,}\2(,?)$/, "$1‹masked›$3");
}

/**
 * Catches a render error in one registered component (the tab, the panel item, the flyout) so
 * it stays inside the extension instead of breaking Argo CD's page; `fallback` says what
 * happened (the diagnosis view) and can retry.
 */
export class ErrorBoundary extends React.Component<
  { fallback: (error: unknown, retry: () => void) => React.ReactNode; children?: React.ReactNode },
  { error: unknown; failed: boolean }
> {
  state = { error: null as unknown, failed: false };

  static getDerivedStateFromError(error: unknown) {
    return { error, failed: true };
  }

  render() {
    if (this.state.failed) return this.props.fallback(this.state.error, () => this.setState({ error: null, failed: false }));
    return this.props.children ?? null;
  }
}

/**
 * The Application a registered component was handed, as a stable object: Argo CD re-renders
 * extensions with a new Application object on every refresh, and a new identity must not
 * restart what depends on the app (polls, the diff fetch).
 */
export function useAppRef(...candidates: Array<unknown>): AppRef | null {
  let ref: AppRef | null = null;
  for (const c of candidates) ref = ref ?? appRefOf(c);
  const key = ref ? JSON.stringify([ref.namespace, ref.name, ref.project]) : "";
  return React.useMemo(() => {
    if (!key) return null;
    const [namespace, name, project] = JSON.parse(key) as [string, string, string];
    return { namespace, name, project };
  }, [key]);
}
