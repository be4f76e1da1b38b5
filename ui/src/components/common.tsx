import * as React from "react";
import { ApiError, AppRef } from "../api";
import { diagnose } from "../diagnose";
import { formatTime, updatedAgo } from "../format";
import { PollState, useNow } from "../poll";

/** "updated 12 s ago", ticking on its own so nothing else re-renders every second. */
export function UpdatedAgo(props: { updatedAt: number | null; loading: boolean }) {
  const now = useNow(1000);
  return (
    <span className="drift-ext__muted" data-testid="updated-ago" title={props.updatedAt ? new Date(props.updatedAt).toISOString() : undefined}>
      {props.loading && <i className="fa fa-circle-notch fa-spin" style={{ marginRight: 4 }} />}
      {updatedAgo(props.updatedAt, now)}
    </span>
  );
}

/** The diagnosis of a failure: what is most likely wrong and the exact configuration to check. */
export function DiagnosisView(props: { error: unknown; app: AppRef; onRetry?: () => void; nextAt?: number | null }) {
  const d = diagnose(props.error, props.app);
  return (
    <div className="drift-ext__box" data-testid="diagnosis">
      <h4>
        <i className={d.transient ? "fa fa-hourglass-half" : "fa fa-exclamation-triangle"} style={{ color: d.transient ? "#f4c030" : "#e96d76" }} />
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
        <span className="drift-ext__code" data-testid="diagnosis-raw">{d.raw}</span>
        {props.nextAt ? <RetryIn at={props.nextAt} /> : null}
      </div>
      {props.onRetry && (
        <div style={{ marginTop: 8 }}>
          <button className="drift-ext__btn" onClick={props.onRetry}>
            <i className="fa fa-redo" /> Retry now
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
      <i className="fa fa-exclamation-circle" style={{ color: "#e96d76" }} />
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
    <div className="drift-ext__muted" style={{ padding: "8px 0" }}>
      <i className="fa fa-circle-notch fa-spin" /> Loading {props.what}…
    </div>
  );
}
