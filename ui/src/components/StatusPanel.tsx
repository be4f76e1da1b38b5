import * as React from "react";
import { ApiError, AppRef, appRefOf, getDrift, getStatus } from "../api";
import { diagnose } from "../diagnose";
import {
  ago,
  CAUSE_LABEL,
  driftingSince,
  driftState,
  formatDuration,
  formatValue,
  MANAGER_CLASS_LABEL,
  parseTime,
  plural,
  resourceTitle,
  STATE_COLOR,
  STATE_LABEL,
  worstFields,
} from "../format";
import { Backoff, usePoll, useNow } from "../poll";
import type { DriftReport, StatusView } from "../types";
import { DiagnosisView, Loading, RefreshBanner, UpdatedAgo } from "./common";
import { Summary } from "./Summary";

const PANEL: Backoff = { intervalMs: 15_000, maxMs: 180_000 };
const PANEL_DRIFT: Backoff = { intervalMs: 30_000, maxMs: 300_000 };

function useOverview(app: AppRef) {
  const key = `${app.namespace}:${app.name}:${app.project}`;
  const [status, refreshStatus] = usePoll<StatusView>(`panel-status|${key}`, (s) => getStatus(app, s), PANEL);
  const [drift, refreshDrift] = usePoll<DriftReport>(`panel-drift|${key}`, (s) => getDrift(app, {}, s), PANEL_DRIFT);
  return { status, drift, refresh: () => (refreshStatus(), refreshDrift()) };
}

/** The status-panel item: drifted resource count and for how long, coloured by state. */
export function StatusPanelItem(props: { application?: unknown; openFlyout?: () => void }) {
  const app = appRefOf(props.application);
  if (!app) return null;
  return <PanelItem app={app} openFlyout={props.openFlyout} />;
}

function PanelItem(props: { app: AppRef; openFlyout?: () => void }) {
  const { status, drift } = useOverview(props.app);
  const now = useNow(30000);
  const state = driftState(status.data, drift.data);
  const since = driftingSince(status.data);
  const count = drift.data?.summary.resourcesDrifted;
  const err = !status.data && !drift.data ? status.error ?? drift.error : null;
  const sinceSeconds = since ? (now - (parseTime(since.at) ?? now)) / 1000 : null;
  return (
    <div
      className="application-status-panel__item drift-ext__panel"
      data-testid="drift-panel"
      role="button"
      tabIndex={0}
      onClick={() => props.openFlyout?.()}
      onKeyDown={(e) => (e.key === "Enter" || e.key === " ") && props.openFlyout?.()}
      title="Drift: which fields changed live, by which field manager. Click for details."
    >
      <div className="drift-ext__panel-title">Drift</div>
      {err ? (
        <>
          <div className="drift-ext__panel-value" data-testid="panel-badge">
            <i className="fa fa-exclamation-triangle" style={{ color: "#e96d76" }} /> Unavailable
          </div>
          <div className="drift-ext__panel-sub" title={err instanceof ApiError ? err.message : undefined}>
            {diagnose(err, props.app).title}
          </div>
        </>
      ) : (
        <>
          <div className="drift-ext__panel-value" data-testid="panel-badge" style={{ color: STATE_COLOR[state] }}>
            <i className="fa fa-code-branch" />
            <span data-testid="panel-count">{count === undefined ? "…" : count}</span>
            <span style={{ fontWeight: 400 }}>{count === undefined ? "" : count === 1 ? "resource" : "resources"}</span>
          </div>
          <div className="drift-ext__panel-sub">
            {STATE_LABEL[state]}
            {sinceSeconds !== null ? ` for ${since && !since.witnessed ? "at least " : ""}${formatDuration(sinceSeconds)}` : ""}
          </div>
        </>
      )}
    </div>
  );
}

/** The flyout: the summary and the worst fields. */
export function StatusPanelFlyout(props: { application?: unknown; tree?: unknown }) {
  const app = appRefOf(props.application);
  if (!app) return null;
  return <Flyout app={app} />;
}

function Flyout(props: { app: AppRef }) {
  const { app } = props;
  const { status, drift, refresh } = useOverview(app);
  const now = useNow(10000);
  if (!status.data && !drift.data) {
    const err = status.error ?? drift.error;
    return (
      <div className="drift-ext" data-testid="drift-flyout">
        {err ? <DiagnosisView error={err} app={app} onRetry={refresh} nextAt={status.nextAt} /> : <Loading what="the drift" />}
      </div>
    );
  }
  const worst = drift.data ? worstFields(drift.data, 8) : [];
  return (
    <div className="drift-ext" data-testid="drift-flyout">
      <RefreshBanner state={status.error ? status : drift} app={app} what="the drift" onRetry={refresh} />
      <div className="drift-ext__toolbar">
        <b>Drift of {app.name}</b>
        <UpdatedAgo updatedAt={drift.updatedAt ?? status.updatedAt} loading={drift.loading} />
      </div>
      <Summary status={status.data} drift={drift.data} />
      {drift.data && (
        <div className="drift-ext__box">
          <h4>Worst fields</h4>
          {worst.length === 0 ? (
            <div className="drift-ext__muted">No drifted fields.</div>
          ) : (
            <ul style={{ margin: 0, paddingLeft: 18 }} data-testid="worst-fields">
              {worst.map(({ resource, field }) => (
                <li key={`${resource.kind}/${resource.namespace}/${resource.name}${field.pointer}`} style={{ marginBottom: 4 }}>
                  <b>{resourceTitle(resource)}</b> <span className="drift-ext__code">{field.path}</span>:{" "}
                  {resource.masked ? (
                    <span className="drift-ext__muted">value hidden, changed</span>
                  ) : (
                    <>
                      <span className="drift-ext__code">{formatValue(field.desired, 40)}</span> →{" "}
                      <span className="drift-ext__code">{formatValue(field.live, 40)}</span>
                    </>
                  )}
                  {field.attribution && (
                    <span className="drift-ext__muted">
                      {" "}
                      — field manager <span className="drift-ext__chip">{field.attribution.manager}</span>(
                      {MANAGER_CLASS_LABEL[field.attribution.managerClass]}), its last write {ago(field.attribution.time, now)}
                    </span>
                  )}
                </li>
              ))}
            </ul>
          )}
          <div className="drift-ext__muted" style={{ marginTop: 8 }}>
            {Object.entries(drift.data.summary.byCause)
              .filter(([c, n]) => n > 0 && c !== "none")
              .map(([c, n]) => `${n} ${CAUSE_LABEL[c as keyof typeof CAUSE_LABEL]}`)
              .join(" · ") || "nothing drifted"}
            {" — "}open the application's Drift tab for every field and its diff ({plural(drift.data.summary.fieldsDrifted, "field")}).
          </div>
        </div>
      )}
    </div>
  );
}
