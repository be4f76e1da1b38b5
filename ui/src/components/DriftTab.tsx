import * as React from "react";
import { AppRef, appRefOf, getDrift, getHistory, getReports, getStatus } from "../api";
import { plural } from "../format";
import { Backoff, usePoll } from "../poll";
import type { AppReportsView, DriftReport, HistoryView, StatusView } from "../types";
import { DiagnosisView, Loading, notServed, RefreshBanner, UpdatedAgo } from "./common";
import { ResourceList } from "./Resources";
import { Reports } from "./Reports";
import { Summary } from "./Summary";
import { Timeline } from "./Timeline";

export const FAST: Backoff = { intervalMs: 10_000, maxMs: 120_000 };
export const SLOW: Backoff = { intervalMs: 60_000, maxMs: 300_000 };

/** What Argo CD passes to a resource tab (the Application is both `resource` and `application`). */
export interface TabProps {
  application?: unknown;
  resource?: unknown;
  tree?: unknown;
}

export function DriftTab(props: TabProps) {
  const app = appRefOf(props.application) ?? appRefOf(props.resource);
  if (!app) {
    return (
      <div className="drift-ext">
        <div className="drift-ext__banner">The host passed no Application to the Drift tab (metadata.namespace and metadata.name are needed).</div>
      </div>
    );
  }
  return <DriftView app={app} />;
}

function appKey(app: AppRef): string {
  return `${app.namespace}:${app.name}:${app.project}`;
}

export function DriftView(props: { app: AppRef }) {
  const { app } = props;
  const key = appKey(app);
  const [showAll, setShowAll] = React.useState(false);
  const [status, refreshStatus] = usePoll<StatusView>(`status|${key}`, (s) => getStatus(app, s), FAST);
  const [drift, refreshDrift] = usePoll<DriftReport>(`drift|${key}|${showAll}`, (s) => getDrift(app, { all: showAll }, s), FAST);
  const [history, refreshHistory] = usePoll<HistoryView>(`history|${key}`, (s) => getHistory(app, { limit: 50 }, s), SLOW);
  const [reports, refreshReports] = usePoll<AppReportsView>(`reports|${key}`, (s) => getReports(app, s), SLOW);
  const refreshAll = React.useCallback(() => {
    refreshStatus();
    refreshDrift();
    refreshHistory();
    refreshReports();
  }, [refreshStatus, refreshDrift, refreshHistory, refreshReports]);

  // Nothing loaded yet and the first call failed: the whole tab is the diagnosis.
  const firstFailure = !status.data && status.error ? status : !drift.data && drift.error ? drift : null;
  if (firstFailure && !status.data && !drift.data) {
    return (
      <div className="drift-ext" data-testid="drift-tab">
        <DiagnosisView error={firstFailure.error} app={app} onRetry={refreshAll} nextAt={firstFailure.nextAt} />
      </div>
    );
  }

  const d = drift.data;
  return (
    <div className="drift-ext" data-testid="drift-tab">
      <RefreshBanner state={status} app={app} what="the status" onRetry={refreshAll} />
      {!status.error && <RefreshBanner state={drift} app={app} what="the drift" onRetry={refreshAll} />}
      <div className="drift-ext__toolbar">
        <span className="drift-ext__muted">
          {app.namespace}/{app.name} · project {app.project}
        </span>
        <span className="drift-ext__right">
          <label style={{ fontWeight: 400, margin: 0, cursor: "pointer" }}>
            <input type="checkbox" checked={showAll} onChange={() => setShowAll(!showAll)} data-testid="show-all" /> all resources
          </label>
          <UpdatedAgo updatedAt={drift.updatedAt ?? status.updatedAt} loading={drift.loading || status.loading} />
          <button className="drift-ext__btn" onClick={refreshAll} title="Refresh now">
            <i className="fa fa-redo" /> Refresh
          </button>
        </span>
      </div>

      {status.data || d ? <Summary status={status.data} drift={d} /> : <Loading what="the status" />}

      <div className="drift-ext__box">
        <h4>
          <i className="fa fa-layer-group" /> {showAll ? "Resources" : "Drifted resources"}
          {d && <span className="drift-ext__badge" data-testid="resources-count">{showAll ? d.resources.length : d.summary.resourcesDrifted}</span>}
          <span className="drift-ext__muted" style={{ fontWeight: 400, fontSize: 12 }}>
            most recent change first; a field manager is the tool that wrote a field (e.g. kubectl-edit), not a person
          </span>
        </h4>
        {d ? (
          <ResourceList app={app} resources={d.resources} showAll={showAll} />
        ) : drift.error ? (
          <DiagnosisView error={drift.error} app={app} onRetry={refreshDrift} nextAt={drift.nextAt} />
        ) : (
          <Loading what="the drift" />
        )}
        {d && d.summary.byCause.notInspected > 0 && (
          <div className="drift-ext__muted" style={{ marginTop: 6 }}>
            {plural(d.summary.byCause.notInspected, "resource")} could not be inspected; open them for the reason.
          </div>
        )}
      </div>

      <div className="drift-ext__box" data-testid="history-section">
        <h4>
          <i className="fa fa-history" /> Drift over time
        </h4>
        <Section state={history} app={app} what="the history" onRetry={refreshHistory}>
          {(h) => <Timeline history={h} />}
        </Section>
      </div>

      <div className="drift-ext__box" data-testid="reports-section">
        <h4>
          <i className="fa fa-server" /> External reports
          {reports.data && reports.data.summary.count > 0 && <span className="drift-ext__badge">{reports.data.summary.count}</span>}
        </h4>
        <Section state={reports} app={app} what="the reports" onRetry={refreshReports}>
          {(r) => <Reports reports={r} />}
        </Section>
      </div>
    </div>
  );
}

/** A secondary section: its data, a short note when the backend does not serve it, or its diagnosis. */
function Section<T>(props: {
  state: { data: T | null; error: unknown; nextAt: number | null; updatedAt: number | null; failedAt: number | null; failures: number; loading: boolean };
  app: AppRef;
  what: string;
  onRetry: () => void;
  children: (data: T) => React.ReactNode;
}) {
  const { state } = props;
  if (state.data) {
    return (
      <>
        {state.error && !notServed(state.error) && <RefreshBanner state={state} app={props.app} what={props.what} onRetry={props.onRetry} />}
        {props.children(state.data)}
      </>
    );
  }
  if (state.error && notServed(state.error)) {
    return (
      <div className="drift-ext__muted" data-testid="not-served">
        <i className="fa fa-info-circle" /> This argocd-drift backend does not serve {props.what} yet (upgrade it to see it here).
      </div>
    );
  }
  if (state.error) return <DiagnosisView error={state.error} app={props.app} onRetry={props.onRetry} nextAt={state.nextAt} />;
  return <Loading what={props.what} />;
}
