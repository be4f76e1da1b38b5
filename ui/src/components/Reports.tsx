import * as React from "react";
import { ago, formatTime, plural } from "../format";
import { useNow } from "../poll";
import type { AppReportsView, ReportView } from "../types";
import { DiffLines, Icon } from "./common";

/** The external drift reports linked to the app (checkers outside Kubernetes). */
export function Reports(props: { reports: AppReportsView }) {
  const now = useNow(30000);
  const { summary, reports } = props.reports;
  if (reports.length === 0) {
    return (
      <div className="drift-ext__muted" data-testid="reports-empty">
        No external reports are linked to this app (a report names it, or the app's{" "}
        <span className="drift-ext__code">argocd-drift.io/report-repos</span> annotation lists its repo).
      </div>
    );
  }
  return (
    <div data-testid="reports">
      <div className="drift-ext__muted" style={{ marginBottom: 6 }}>
        {plural(summary.count, "report")}, {summary.outOfSync} out of sync{summary.stale ? `, ${summary.stale} stale` : ""}
      </div>
      <div className="drift-ext__scroll">
        <table className="drift-ext__table">
          <thead>
            <tr>
              <th scope="col">Repo</th>
              <th scope="col">Server</th>
              <th scope="col">Status</th>
              <th scope="col">Drift</th>
              <th scope="col">Files</th>
              <th scope="col">Last check</th>
            </tr>
          </thead>
          <tbody>
            {reports.map((r) => (
              <ReportRow key={r.key} r={r} now={now} />
            ))}
          </tbody>
        </table>
      </div>
    </div>
  );
}

function ReportRow(props: { r: ReportView; now: number }) {
  const { r, now } = props;
  const out = r.syncStatus === "OUT_OF_SYNC";
  return (
    <tr data-testid="report">
      <td data-label="Repo">
        <span className="drift-ext__code">{r.repo}</span>
        {r.linkedBy === "annotation" && (
          <span className="drift-ext__muted" title="linked by the app's argocd-drift.io/report-repos annotation" style={{ marginLeft: 4 }}>
            <Icon name="fa fa-link" />
          </span>
        )}
      </td>
      <td data-label="Server">{r.server}</td>
      <td data-label="Status">
        <Icon name={out ? "fa fa-arrow-alt-circle-up" : "fa fa-check-circle"} color={out ? "#f4c030" : "#18be94"} />{" "}
        {out ? "Out of sync" : "Synced"}
      </td>
      <td data-label="Drift">{r.driftCount}</td>
      <td data-label="Files">
        {r.files.length === 0
          ? "—"
          : r.files.map((f) => (
              <details key={f.name} style={{ display: "block" }}>
                <summary style={{ cursor: f.diff ? "pointer" : "default" }}>
                  <span className="drift-ext__code">{f.name}</span>
                  {f.state && <span className="drift-ext__badge" style={{ marginLeft: 4 }}>{f.state}</span>}
                </summary>
                {f.diff && <DiffLines lines={f.diff.replace(/\n$/, "").split("\n")} testId="report-diff" />}
              </details>
            ))}
        {r.filesCount > r.files.length && <div className="drift-ext__muted">and {r.filesCount - r.files.length} more</div>}
      </td>
      <td data-label="Last check" title={formatTime(r.lastCheck)}>
        {ago(r.lastCheck, now)}
        {r.stale && (
          <span className="drift-ext__badge" style={{ marginLeft: 6, borderColor: "#f4c030" }} title={`not refreshed since ${formatTime(r.updatedAt)}: the reporter may have stopped`}>
            <Icon name="fa fa-hourglass-end" color="#f4c030" /> stale
          </span>
        )}
      </td>
    </tr>
  );
}
