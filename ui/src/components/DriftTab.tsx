import * as React from "react";
import { AppRef, getDrift, getHistory, getReports, getStatus } from "../api";
import { destinationText, plural } from "../format";
import { Backoff, PollState, usePoll } from "../poll";
import type { AppReportsView, DriftReport, HistoryView, StatusView } from "../types";
import { DiagnosisView, HelpTip, Icon, Loading, notServed, RefreshBanner, UpdatedAgo, useAppRef } from "./common";
import { listedByDefault, ResourceList } from "./Resources";
import { Reports } from "./Reports";
import { Summary } from "./Summary";
import { Timeline } from "./Timeline";
import { eventsHref } from "../tabLink";
import { recordShownTab } from "../tabLink";

export const FAST: Backoff = { intervalMs: 10_000, maxMs: 120_000 };
export const SLOW: Backoff = { intervalMs: 60_000, maxMs: 300_000 };

/** What Argo CD passes to a resource tab (the Application is both `resource` and `application`). */
export interface TabProps {
  application?: unknown;
  resource?: unknown;
  tree?: unknown;
}

/** The poll keys: the tab, the status-panel item and its flyout share one poller per key. */
export function pollKey(route: string, app: AppRef, params = ""): string {
  return `${route}|${app.namespace}:${app.name}:${app.project}${params ? `|${params}` : ""}`;
}

export function useStatus(app: AppRef, backoff: Backoff = FAST): [PollState<StatusView>, () => void] {
  return usePoll<StatusView>(pollKey("status", app), (s) => getStatus(app, s), backoff);
}

/**
 * Poll keys whose next `/drift` call asks for a fresh read (`?refresh=true`): set by the tab's
 * Refresh button, taken by that one call, whichever viewer's poller makes it. Polls read the
 * backend's cache; only a click asks it to read the cluster again.
 */
const freshNext = new Set<string>();

/** The Refresh button: the next `/drift` call for `key` reads fresh. */
export function askFresh(key: string): void {
  freshNext.add(key);
}

/** Whether this call is the one to read fresh (true once per {@link askFresh}). */
export function takeFresh(key: string): boolean {
  return freshNext.delete(key);
}

export function useDrift(app: AppRef, all: boolean, backoff: Backoff = FAST): [PollState<DriftReport>, () => void] {
  const key = pollKey("drift", app, all ? "all" : "");
  return usePoll<DriftReport>(key, (s) => getDrift(app, { all, refresh: takeFresh(key) }, s), backoff);
}

export function DriftTab(props: TabProps) {
  const app = useAppRef(props.application, props.resource);
  if (!app) {
    return (
      <div className="drift-ext">
        <div className="drift-ext__banner">The host passed no Application to the Drift tab (metadata.namespace and metadata.name are needed).</div>
      </div>
    );
  }
  return <DriftView app={app} />;
}

const RESOURCES_HELP =
  "Most recent change first: what Argo CD reports OutOfSync, what could not be inspected, and fields added outside Git. A field manager is the tool that wrote a field (kubectl-edit, a controller), not a person.";

export function DriftView(props: { app: AppRef }) {
  const { app } = props;
  const [showAll, setShowAll] = React.useState(false);
  // The URL that shows this tab names its key: the flyout links to it.
  React.useEffect(() => recordShownTab(window.location.search), []);
  const [status, refreshStatus] = useStatus(app);
  const [drift, refreshDrift] = useDrift(app, showAll);
  const [history, refreshHistory] = usePoll<HistoryView>(pollKey("history", app), (s) => getHistory(app, { limit: 50 }, s), SLOW);
  const [reports, refreshReports] = usePoll<AppReportsView>(pollKey("reports", app), (s) => getReports(app, s), SLOW);
  const refreshAll = React.useCallback(() => {
    refreshStatus();
    refreshDrift();
    refreshHistory();
    refreshReports();
  }, [refreshStatus, refreshDrift, refreshHistory, refreshReports]);
  // The Refresh button (not a retry after a failure): the drift is read fresh from the cluster.
  const driftKey = pollKey("drift", app, showAll ? "all" : "");
  const refreshFresh = React.useCallback(() => {
    askFresh(driftKey);
    refreshAll();
  }, [driftKey, refreshAll]);

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
  const dest = destinationText(status.data?.destination);
  const listed = d ? (showAll ? d.resources.length : d.resources.filter(listedByDefault).length) : 0;
  return (
    <div className="drift-ext" data-testid="drift-tab">
      <RefreshBanner state={status} app={app} what="the status" onRetry={refreshAll} />
      {!status.error && <RefreshBanner state={drift} app={app} what="the drift" onRetry={refreshAll} />}
      <div className="drift-ext__toolbar">
        <span className="drift-ext__muted" data-testid="app-line">
          {app.namespace}/{app.name} · project {app.project}
          {dest && (
            <>
              {" "}
              · read from <b data-testid="destination">{dest}</b>
            </>
          )}
        </span>
        <span className="drift-ext__right">
          <label style={{ fontWeight: 400, margin: 0, cursor: "pointer" }}>
            <input type="checkbox" checked={showAll} onChange={() => setShowAll(!showAll)} data-testid="show-all" /> all resources
          </label>
          <UpdatedAgo updatedAt={drift.updatedAt ?? status.updatedAt} loading={drift.loading || status.loading} />
          <button className="drift-ext__btn" onClick={refreshFresh} title="Read the live objects again now" data-testid="refresh">
            <Icon name="fa fa-redo" /> Refresh
          </button>
        </span>
      </div>

      {status.data || d ? <Summary status={status.data} drift={d} onShowAll={showAll ? undefined : () => setShowAll(true)} /> : <Loading what="the status" />}

      <section className="drift-ext__box" aria-label="Resources">
        <h4>
          <Icon name="fa fa-layer-group" /> {showAll ? "All resources" : "Drifted resources"}
          {d && <span className="drift-ext__badge" data-testid="resources-count">{listed}</span>}
          <HelpTip text={RESOURCES_HELP} />
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
      </section>

      <section className="drift-ext__box" data-testid="history-section" aria-label="Drift over time">
        <h4>
          <Icon name="fa fa-history" /> Drift over time
          <HelpTip text="Each bar is an episode, from the app turning OutOfSync to its return to Synced, coloured by how it ended. Kept in the cluster (a DriftHistory per app)." />
          <a
            href={typeof window === "undefined" ? "#" : eventsHref(app, window.location.href)}
            data-testid="events-link"
            title="Argo CD's Events of this app: a DriftStarted and a DriftEnded Event per episode"
            style={{ marginLeft: 12, fontSize: "0.85em", fontWeight: "normal" }}
          >
            <Icon name="fa fa-bell" /> Events
          </a>
        </h4>
        <Section state={history} app={app} what="the history" onRetry={refreshHistory}>
          {(h) => <Timeline history={h} />}
        </Section>
      </section>

      <section className="drift-ext__box" data-testid="reports-section" aria-label="External reports">
        <h4>
          <Icon name="fa fa-server" /> External reports
          {reports.data && reports.data.summary.count > 0 && <span className="drift-ext__badge">{reports.data.summary.count}</span>}
          <HelpTip text="Drift checked outside Kubernetes (servers, files) by reporters. A report belongs to this app if it names it or the app's argocd-drift.io/report-repos annotation lists its repo." />
        </h4>
        <Section state={reports} app={app} what="the reports" onRetry={refreshReports}>
          {(r) => <Reports reports={r} />}
        </Section>
      </section>
    </div>
  );
}

/** A secondary section: its data, a short note when the backend does not serve it, or its diagnosis. */
function Section<T>(props: { state: PollState<T>; app: AppRef; what: string; onRetry: () => void; children: (data: T) => React.ReactNode }) {
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
        <Icon name="fa fa-info-circle" /> This argocd-drift backend does not serve {props.what} yet (upgrade it to see it here).
      </div>
    );
  }
  if (state.error) return <DiagnosisView error={state.error} app={props.app} onRetry={props.onRetry} nextAt={state.nextAt} />;
  return <Loading what={props.what} />;
}
