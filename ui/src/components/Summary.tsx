import * as React from "react";
import { ago, driftCounts, driftingSince, driftState, formatDuration, formatTime, plural, STATE_COLOR, STATE_LABEL } from "../format";
import { useNow } from "../poll";
import type { DriftReport, StatusView } from "../types";
import { HelpTip, Icon } from "./common";

const SYNC_ICON: Record<string, [string, string]> = {
  Synced: ["fa fa-check-circle", "#18be94"],
  OutOfSync: ["fa fa-arrow-alt-circle-up", "#f4c030"],
};
const HEALTH_ICON: Record<string, [string, string]> = {
  Healthy: ["fa fa-heart", "#18be94"],
  Progressing: ["fa fa-circle-notch", "#0dadea"],
  Degraded: ["fa fa-heart-broken", "#e96d76"],
  Suspended: ["fa fa-pause-circle", "#766f94"],
  Missing: ["fa fa-ghost", "#f4c030"],
};

function Status(props: { label: string; value: string | null; icons: Record<string, [string, string]> }) {
  const v = props.value ?? "Unknown";
  const [icon, color] = props.icons[v] ?? ["fa fa-question-circle", "#ccd6dd"];
  return (
    <span className="drift-ext__kv">
      <b>{props.label}</b>
      <span>
        <Icon name={icon} color={color} /> {v}
      </span>
    </span>
  );
}

/** The counts in words: changed live (with fields), Git ahead, additions outside Git, ignored. */
function Counts(props: { drift: DriftReport; onShowAll?: () => void }) {
  const s = props.drift.summary;
  const { changed, gitAhead } = driftCounts(props.drift);
  const parts: Array<React.ReactNode> = [];
  if (changed > 0 || gitAhead === 0) parts.push(`${plural(changed, "resource")} changed live, ${plural(s.fieldsDrifted, "field")}`);
  if (gitAhead > 0) parts.push(`${plural(gitAhead, "resource")} changed in Git only`);
  if (s.additions > 0) parts.push(<span data-testid="additions-count">{plural(s.additions, "addition")} outside Git</span>);
  if (s.ignoredDifferences > 0) parts.push(`${s.ignoredDifferences} ignored`);
  return (
    <>
      <span className="drift-ext__muted" style={{ fontWeight: 400 }} data-testid="drift-counts">
        {parts.map((p, i) => (
          <React.Fragment key={i}>
            {i > 0 && " · "}
            {p}
          </React.Fragment>
        ))}
      </span>
      {props.onShowAll && !s.all && (
        <button className="drift-ext__link" style={{ fontWeight: 400 }} onClick={props.onShowAll} data-testid="check-all">
          check every resource
        </button>
      )}
    </>
  );
}

/** Sync, health, last operation, freshness of Argo CD's verdict, drifting since. */
export function Summary(props: { status: StatusView | null; drift: DriftReport | null; onShowAll?: () => void }) {
  const now = useNow(5000);
  const { status, drift } = props;
  const state = driftState(status, drift);
  const since = driftingSince(status);
  const op = status?.lastOperation ?? null;
  const rec = status?.reconciliation;
  const by =
    op?.initiatedBy.type === "user" ? `by ${op.initiatedBy.username}` : op?.initiatedBy.type === "automation" ? "by automated sync" : "";
  const freshness = drift
    ? `Live objects read ${ago(drift.summary.readAt, now)}; Argo CD's verdict is from ${drift.summary.argoReconciledAt ? ago(drift.summary.argoReconciledAt, now) : "an unknown time"}: the two can differ in between. "Changed live" counts what changed in the cluster; a resource changed only in Git is not drift in the cluster.`
    : "";
  return (
    <section className="drift-ext__box" data-testid="summary" aria-label="Summary">
      <h4>
        <Icon name="fa fa-code-branch" color={STATE_COLOR[state]} />
        <span data-testid="drift-state">{STATE_LABEL[state]}</span>
        {drift && <Counts drift={drift} onShowAll={props.onShowAll} />}
        {freshness && <HelpTip text={freshness} testId="freshness-help" />}
      </h4>
      <div className="drift-ext__row">
        <Status label="Sync" value={status?.sync.status ?? null} icons={SYNC_ICON} />
        <Status label="Health" value={status?.health.status ?? null} icons={HEALTH_ICON} />
        {since && (
          <span className="drift-ext__kv" data-testid="drifting-since" title={formatTime(since.at)}>
            <b>Drifting since</b>
            <span>
              {since.witnessed ? "" : "at least "}
              {ago(since.at, now).replace(/ ago$/, "")} ({formatTime(since.at)})
            </span>
          </span>
        )}
        <span className="drift-ext__kv">
          <b>Last operation</b>
          <span title={op?.message ?? undefined}>{op ? `${op.phase ?? "Unknown"} ${by}, ${ago(op.finishedAt ?? op.startedAt, now)}` : "none"}</span>
        </span>
        {rec && (
          <span className="drift-ext__kv" data-testid="argo-freshness" title={rec.reconciledAt ? formatTime(rec.reconciledAt) : undefined}>
            <b>Argo CD compared</b>
            <span>
              {rec.reconciledAt ? ago(rec.reconciledAt, now) : "never"}
              {rec.stale && (
                <span
                  className="drift-ext__badge"
                  style={{ marginLeft: 6, borderColor: "#f4c030" }}
                  title={`Argo CD has not compared this app for over ${formatDuration(rec.staleAfterSeconds)}: its sync and health verdicts may be frozen (is the application controller running?)`}
                >
                  <Icon name="fa fa-exclamation-triangle" color="#f4c030" /> verdict may be stale
                </span>
              )}
            </span>
          </span>
        )}
      </div>
      {status?.data.stale && (
        <div className="drift-ext__banner drift-ext__banner--warn" style={{ marginTop: 8, marginBottom: 0 }}>
          <Icon name="fa fa-plug" />
          <div>
            argocd-drift cannot reach the Kubernetes API server{status.data.staleSince ? ` since ${formatTime(status.data.staleSince)}` : ""}: this is the last data it saw.
          </div>
        </div>
      )}
      {status && status.conditions.length > 0 && (
        <div style={{ marginTop: 8 }}>
          {status.conditions.map((c, i) => (
            <div key={i} className="drift-ext__muted">
              <Icon name="fa fa-info-circle" /> <b>{c.type}</b> {c.message}
            </div>
          ))}
        </div>
      )}
    </section>
  );
}
