import * as React from "react";
import { ApiError, AppRef } from "../api";
import { diagnose } from "../diagnose";
import { ago, CAUSE_LABEL, driftState, formatValue, MANAGER_CLASS_LABEL, panelSummary, plural, resourceTitle, STATE_COLOR, worstFields } from "../format";
import { Backoff, useNow, useWatch } from "../poll";
import { currentTabKey, tabHref } from "../tabLink";
import type { Cause, DriftReport } from "../types";
import { pollKey, useDrift, useStatus } from "./DriftTab";
import { Breakable, DiagnosisView, HelpTip, Icon, Loading, RefreshBanner, UpdatedAgo, useAppRef } from "./common";
import { Summary } from "./Summary";

// The panel item alone polls slower than an open tab; with the tab open both share the tab's pace.
const PANEL: Backoff = { intervalMs: 15_000, maxMs: 180_000 };
const PANEL_DRIFT: Backoff = { intervalMs: 30_000, maxMs: 300_000 };

/** The flyout (opened by a click) reads the live drift too; the item alone never does. */
function useOverview(app: AppRef) {
  const [status, refreshStatus] = useStatus(app, PANEL);
  const [drift, refreshDrift] = useDrift(app, false, PANEL_DRIFT);
  return { status, drift, refresh: () => (refreshStatus(), refreshDrift()) };
}

/**
 * Argo CD's status-panel title style (12 px, semi-bold), as its own items have it; the colour is
 * the theme's text dimmed rather than Argo CD's fixed gray, which is below 4.5:1 on both themes.
 */
const TITLE_STYLE: React.CSSProperties = { display: "flex", alignItems: "flex-start", fontSize: 12, fontWeight: 600, opacity: 0.8, minHeight: 18 };

/**
 * The status-panel item: one short line (`2 · 2 h`: resources changed live, for how long),
 * coloured by state, the whole sentence in its tooltip. Argo CD places extension items last, so
 * it must stay narrow to be on screen at common widths.
 */
export function StatusPanelItem(props: { application?: unknown; openFlyout?: () => void }) {
  const app = useAppRef(props.application);
  if (!app) return null;
  return <PanelItem app={app} openFlyout={props.openFlyout} />;
}

/**
 * Shown on every Application page, so it reads no cluster: `/status` carries what the drift
 * episode under way recorded. While the tab (or the flyout) polls the live `/drift`, the item
 * shows that same answer, without a call of its own.
 */
function PanelItem(props: { app: AppRef; openFlyout?: () => void }) {
  const [status] = useStatus(props.app, PANEL);
  const drift = useWatch<DriftReport>(pollKey("drift", props.app));
  const now = useNow(30000);
  const err = !status.data && !drift.data ? (status.error ?? drift.error) : null;
  const state = driftState(status.data, drift.data);
  const summary = err ? null : panelSummary(status.data, drift.data, now);
  const tooltip = err ? `Drift unavailable: ${diagnose(err, props.app).title}. Click for the diagnosis.` : (summary?.tooltip ?? "");
  return (
    <PanelShell title={tooltip} value={err ? "Error" : (summary?.value ?? "")} openFlyout={props.openFlyout}>
      {err ? (
        <div className="application-status-panel__item-value drift-ext__panel-value" data-testid="panel-badge" title={err instanceof ApiError ? err.message : undefined}>
          <Icon name="fa fa-exclamation-triangle" color="#e96d76" />
          &nbsp;<span data-testid="panel-count">Error</span>
        </div>
      ) : (
        <div className="application-status-panel__item-value drift-ext__panel-value" data-testid="panel-badge">
          <Icon name={state === "inSync" ? "fa fa-check-circle" : "fa fa-code-branch"} color={STATE_COLOR[state]} />
          &nbsp;<span data-testid="panel-count">{summary?.value}</span>
        </div>
      )}
    </PanelShell>
  );
}

/** The item's frame: Argo CD's classes and title style, clickable to the flyout. */
export function PanelShell(props: { title: string; value: string; openFlyout?: () => void; children: React.ReactNode }) {
  return (
    <div
      className="application-status-panel__item drift-ext__panel"
      data-testid="drift-panel"
      role="button"
      tabIndex={0}
      aria-label={`Drift ${props.value}: ${props.title}`}
      onClick={() => props.openFlyout?.()}
      onKeyDown={(e) => (e.key === "Enter" || e.key === " ") && props.openFlyout?.()}
      title={props.title}
    >
      <label style={TITLE_STYLE} className="drift-ext__panel-title" data-testid="panel-title">
        DRIFT
        <span style={{ marginLeft: 5 }}>
          <HelpTip text="Resources changed in the cluster since the last sync · for how long. Click for the worst fields." focusable={false} />
        </span>
      </label>
      {props.children}
    </div>
  );
}

/** The flyout: the summary, the worst fields and the way to the tab. */
export function StatusPanelFlyout(props: { application?: unknown; tree?: unknown }) {
  const app = useAppRef(props.application);
  if (!app) return null;
  return <Flyout app={app} />;
}

function TabLink(props: { app: AppRef; children: React.ReactNode }) {
  const href = typeof window === "undefined" ? "#" : tabHref(props.app, window.location.href, currentTabKey());
  return (
    <a href={href} data-testid="tab-link">
      {props.children}
    </a>
  );
}

function Flyout(props: { app: AppRef }) {
  const { app } = props;
  const { status, drift, refresh } = useOverview(app);
  const now = useNow(10000);
  if (!status.data && !drift.data) {
    const err = status.error ?? drift.error;
    return (
      <div className="drift-ext drift-ext--flyout" data-testid="drift-flyout">
        {err ? <DiagnosisView error={err} app={app} onRetry={refresh} nextAt={status.nextAt} /> : <Loading what="the drift" />}
      </div>
    );
  }
  const worst = drift.data ? worstFields(drift.data, 8) : [];
  return (
    <div className="drift-ext drift-ext--flyout" data-testid="drift-flyout">
      <div className="drift-ext__flyout-head" data-testid="flyout-head">
        <h4 style={{ margin: 0 }}>Drift of {app.name}</h4>
        <UpdatedAgo updatedAt={drift.updatedAt ?? status.updatedAt} loading={drift.loading} />
        <TabLink app={app}>
          <Icon name="fa fa-external-link-alt" /> Open the Drift tab
        </TabLink>
      </div>
      <RefreshBanner state={status.error ? status : drift} app={app} what="the drift" onRetry={refresh} />
      <Summary status={status.data} drift={drift.data} />
      {drift.data && (
        <section className="drift-ext__box" aria-label="Worst fields">
          <h4>
            Worst fields <HelpTip text="Fields a person's tool (kubectl edit, set…) wrote first, then other tools', latest first." />
          </h4>
          {worst.length === 0 ? (
            <div className="drift-ext__muted">No drifted fields.</div>
          ) : (
            <ul style={{ margin: 0, paddingLeft: 18 }} data-testid="worst-fields">
              {worst.map(({ resource, field }) => (
                <li key={`${resource.kind}/${resource.namespace}/${resource.name}${field.pointer}`} style={{ marginBottom: 4 }}>
                  <b>{resourceTitle(resource)}</b> <Breakable text={field.path} className="drift-ext__code" />:{" "}
                  {resource.masked ? (
                    <span className="drift-ext__muted">masked; values differ</span>
                  ) : (
                    <>
                      <Breakable text={formatValue(field.desired, 40)} className="drift-ext__code" /> →{" "}
                      <Breakable text={formatValue(field.live, 40)} className="drift-ext__code" />
                    </>
                  )}
                  {field.attribution && (
                    <span className="drift-ext__muted">
                      {" "}
                      by{" "}
                      <span className="drift-ext__chip" title={`field manager ${field.attribution.manager}: ${MANAGER_CLASS_LABEL[field.attribution.managerClass]}`}>
                        {field.attribution.manager}
                      </span>
                       {" · "}
                      {ago(field.attribution.time, now)}
                    </span>
                  )}
                </li>
              ))}
            </ul>
          )}
          <div style={{ marginTop: 8 }}>
            <span className="drift-ext__muted">
              {(Object.entries(drift.data.summary.byCause) as Array<[Cause, number]>)
                .filter(([c, n]) => n > 0 && c !== "none")
                .map(([c, n]) => `${n} ${CAUSE_LABEL[c]}`)
                .join(" · ") || "nothing drifted"}
              {" — "}
            </span>
            <TabLink app={app}>every field and its diff in the Drift tab</TabLink>
            <span className="drift-ext__muted"> ({plural(drift.data.summary.fieldsDrifted, "field")})</span>
          </div>
        </section>
      )}
    </div>
  );
}
