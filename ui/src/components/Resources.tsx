import * as React from "react";
import { AppRef, getResourceDetail, isAbort } from "../api";
import {
  ago,
  CAUSE_HELP,
  CAUSE_ICON,
  CAUSE_LABEL,
  CHANGE_LABEL,
  formatTime,
  formatValue,
  isDrift,
  isMasked,
  managersOf,
  MANAGER_CLASS_LABEL,
  NOT_INSPECTED_LABEL,
  plural,
  resourceKey,
  resourceTitle,
} from "../format";
import { useNow } from "../poll";
import type { Attribution, FieldDrift, JsonValue, ResourceDetail, ResourceDrift } from "../types";
import { DiagnosisView } from "./common";

const CAUSE_COLOR: Record<string, string> = {
  liveChanged: "#f4c030",
  gitAhead: "#0dadea",
  missing: "#e96d76",
  extra: "#766f94",
  notInspected: "#ccd6dd",
  none: "#18be94",
};

/** The drifted resources, most recent change first (the backend's order). */
export function ResourceList(props: { app: AppRef; resources: Array<ResourceDrift>; showAll: boolean }) {
  const [open, setOpen] = React.useState<Record<string, boolean>>({});
  const shown = props.showAll ? props.resources : props.resources.filter((r) => isDrift(r.cause) || r.cause === "notInspected");
  if (shown.length === 0) {
    return (
      <div className="drift-ext__muted" data-testid="no-drift">
        <i className="fa fa-check-circle" style={{ color: "#18be94" }} /> No drifted resources.
      </div>
    );
  }
  return (
    <div data-testid="resources">
      {shown.map((r) => {
        const key = resourceKey(r);
        return (
          <ResourceRow
            key={key}
            app={props.app}
            resource={r}
            open={!!open[key]}
            onToggle={() => setOpen({ ...open, [key]: !open[key] })}
          />
        );
      })}
    </div>
  );
}

function ManagerChip(props: { a: Attribution }) {
  return (
    <span
      className="drift-ext__chip"
      data-testid="manager"
      title={`field manager ${props.a.manager} (${MANAGER_CLASS_LABEL[props.a.managerClass]}), ${props.a.operation}; that manager's last write: ${formatTime(props.a.time)}`}
    >
      {props.a.manager}
    </span>
  );
}

function ResourceRow(props: { app: AppRef; resource: ResourceDrift; open: boolean; onToggle: () => void }) {
  const r = props.resource;
  const now = useNow(10000);
  const managers = managersOf(r);
  return (
    <div className="drift-ext__res" data-testid="resource" data-resource={resourceTitle(r)}>
      <button className="drift-ext__res-head" onClick={props.onToggle} aria-expanded={props.open}>
        <i className={props.open ? "fa fa-chevron-down" : "fa fa-chevron-right"} style={{ width: 12 }} />
        <span className="drift-ext__res-title">
          {r.kind} <span style={{ fontWeight: 400 }}>{r.namespace ? `${r.namespace}/` : ""}{r.name}</span>
        </span>
        <span title={CAUSE_HELP[r.cause]} data-testid="cause">
          <i className={CAUSE_ICON[r.cause]} style={{ color: CAUSE_COLOR[r.cause] }} /> {CAUSE_LABEL[r.cause]}
          {r.notInspected ? `: ${NOT_INSPECTED_LABEL[r.notInspected.reason]}` : ""}
        </span>
        {r.fields.length > 0 && <span data-testid="field-count">{plural(r.fields.length, "field")}</span>}
        {managers.length > 0 && (
          <span>
            {managers.map((a) => (
              <ManagerChip key={a.manager} a={a} />
            ))}
          </span>
        )}
        <span className="drift-ext__muted" title={r.lastChangeAt ? `the latest write of these field managers: ${formatTime(r.lastChangeAt)}` : undefined}>
          {r.lastChangeAt ? `last write ${ago(r.lastChangeAt, now)}` : ""}
        </span>
        {r.masked && (
          <span className="drift-ext__badge" title="Values are hidden: Secret data appears only as changed or unchanged">
            <i className="fa fa-lock" /> values hidden
          </span>
        )}
      </button>
      {props.open && <ResourceBody app={props.app} resource={r} />}
    </div>
  );
}

function ResourceBody(props: { app: AppRef; resource: ResourceDrift }) {
  const r = props.resource;
  const [showIgnored, setShowIgnored] = React.useState(false);
  return (
    <div className="drift-ext__res-body">
      {r.notInspected && (
        <div className="drift-ext__muted" style={{ marginBottom: 6 }}>
          <i className="fa fa-eye-slash" /> {r.notInspected.message}
        </div>
      )}
      {r.desiredSource === "serverSideApplyAttribution" && (
        <div className="drift-ext__muted" style={{ marginBottom: 6 }}>
          Server-side applied: only which fields another field manager took over is known, not the value Git wants.
        </div>
      )}
      {r.fields.length > 0 && <FieldTable fields={r.fields} masked={r.masked} />}
      {r.additions.length > 0 && (
        <div style={{ marginTop: 8 }} data-testid="additions">
          <b>Added outside Git</b> <span className="drift-ext__muted">(not drift for Argo CD)</span>
          <ul style={{ margin: "4px 0", paddingLeft: 18 }}>
            {r.additions.map((a) => (
              <li key={a.pointer}>
                <span className="drift-ext__code">{a.path}</span> = <span className="drift-ext__code">{formatValue(a.live)}</span> by field manager{" "}
                <ManagerChip a={a.attribution} />
              </li>
            ))}
          </ul>
        </div>
      )}
      {r.problems.length > 0 && (
        <div style={{ marginTop: 8 }}>
          {r.problems.map((p, i) => (
            <div key={i} className="drift-ext__muted">
              <i className="fa fa-exclamation-triangle" style={{ color: "#f4c030" }} /> {p.message}
            </div>
          ))}
        </div>
      )}
      {r.ignored.length > 0 && (
        <div style={{ marginTop: 8 }}>
          <label style={{ cursor: "pointer", fontWeight: 400 }}>
            <input type="checkbox" checked={showIgnored} onChange={() => setShowIgnored(!showIgnored)} data-testid="toggle-ignored" /> Show{" "}
            {plural(r.ignored.length, "ignored difference")}
          </label>
          {showIgnored && (
            <div className="drift-ext__scroll">
              <table className="drift-ext__table" data-testid="ignored">
                <thead>
                  <tr>
                    <th>Field</th>
                    <th>Desired</th>
                    <th>Live</th>
                    <th>Ignored by</th>
                  </tr>
                </thead>
                <tbody>
                  {r.ignored.map((d) => (
                    <tr key={d.pointer}>
                      <td data-label="Field" className="drift-ext__code">{d.path}</td>
                      <td data-label="Desired" className="drift-ext__code">{formatValue(d.desired)}</td>
                      <td data-label="Live" className="drift-ext__code">{formatValue(d.live)}</td>
                      <td data-label="Ignored by">
                        {d.rule.source} <span className="drift-ext__code">{d.rule.expression}</span>
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </div>
      )}
      {r.cause !== "notInspected" && <DetailDiff app={props.app} resource={r} />}
    </div>
  );
}

function ValueCell(props: { label: string; v: JsonValue | null; masked: boolean; known?: boolean; other: JsonValue | null }) {
  if (props.known === false) {
    return (
      <td data-label={props.label} className="drift-ext__muted" title="server-side apply: the value Git wants is not known locally">
        unknown
      </td>
    );
  }
  if (props.masked && (isMasked(props.v) || isMasked(props.other))) {
    const changed = JSON.stringify(props.v) !== JSON.stringify(props.other);
    return (
      <td data-label={props.label} className="drift-ext__muted">
        <i className="fa fa-lock" /> hidden{props.label === "Live" ? (changed ? " · changed" : " · unchanged") : ""}
      </td>
    );
  }
  return (
    <td data-label={props.label} className="drift-ext__code" title={props.v !== null ? JSON.stringify(props.v) : "absent"}>
      {formatValue(props.v)}
    </td>
  );
}

/** Each drifted field: path, desired, live, and the field manager that owns the live value. */
export function FieldTable(props: { fields: Array<FieldDrift>; masked: boolean }) {
  const now = useNow(10000);
  return (
    <div className="drift-ext__scroll">
      <table className="drift-ext__table" data-testid="fields">
        <thead>
          <tr>
            <th>Field</th>
            <th>Desired (Git)</th>
            <th>Live</th>
            <th>Field manager</th>
            <th>Operation</th>
            <th title="managedFields keeps one time per manager: its last write to the object, not per field">That manager's last write</th>
          </tr>
        </thead>
        <tbody>
          {props.fields.map((f) => (
            <tr key={f.pointer} data-testid="field">
              <td data-label="Field" title={`${f.pointer} (${CHANGE_LABEL[f.change]})`}>
                <span className="drift-ext__code">{f.path}</span>
                {f.change !== "changed" && <span className="drift-ext__badge" style={{ marginLeft: 6 }}>{CHANGE_LABEL[f.change]}</span>}
              </td>
              <ValueCell label="Desired" v={f.desired} other={f.live} masked={props.masked} known={f.desiredKnown} />
              <ValueCell label="Live" v={f.live} other={f.desired} masked={props.masked} />
              <td data-label="Field manager">
                {f.attribution ? (
                  <>
                    <ManagerChip a={f.attribution} />
                    <span className="drift-ext__muted" style={{ fontSize: 11 }}>
                      {MANAGER_CLASS_LABEL[f.attribution.managerClass]}
                    </span>
                  </>
                ) : (
                  <span className="drift-ext__muted">unknown</span>
                )}
              </td>
              <td data-label="Operation">
                {f.attribution ? `${f.attribution.operation}${f.attribution.subresource ? ` (${f.attribution.subresource})` : ""}` : ""}
              </td>
              <td data-label="That manager's last write" title={formatTime(f.attribution?.time)}>
                {f.attribution?.time ? ago(f.attribution.time, now) : ""}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

const DIFF_LINES = 400;

/** The unified diff (live → what a sync would make of it), fetched when the resource opens. */
function DetailDiff(props: { app: AppRef; resource: ResourceDrift }) {
  const r = props.resource;
  const [detail, setDetail] = React.useState<ResourceDetail | null>(null);
  const [error, setError] = React.useState<unknown>(null);
  const [all, setAll] = React.useState(false);
  const [attempt, setAttempt] = React.useState(0);
  // Re-read when the resource changes (a newer write), not on every poll.
  const version = `${resourceKey(r)}|${r.lastChangeAt ?? ""}|${r.fields.length}|${attempt}`;
  const { app } = props;
  React.useEffect(() => {
    const controller = new AbortController();
    getResourceDetail(app, r, controller.signal).then(
      (d) => {
        setDetail(d);
        setError(null);
      },
      (e: unknown) => {
        if (!isAbort(e)) setError(e);
      },
    );
    return () => controller.abort();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [version, app.namespace, app.name, app.project]);
  if (error && !detail) return <DiagnosisView error={error} app={app} onRetry={() => setAttempt(attempt + 1)} />;
  if (!detail) {
    return (
      <div className="drift-ext__muted" style={{ marginTop: 8 }}>
        <i className="fa fa-circle-notch fa-spin" /> Loading the diff…
      </div>
    );
  }
  const lines = detail.diff ? detail.diff.replace(/\n$/, "").split("\n") : [];
  const shown = all ? lines : lines.slice(0, DIFF_LINES);
  return (
    <div style={{ marginTop: 10 }}>
      <b>Diff</b> <span className="drift-ext__muted">live → after a sync{r.masked ? " (Secret values masked)" : ""}</span>
      {lines.length === 0 ? (
        <div className="drift-ext__muted">No textual difference.</div>
      ) : (
        <div className="drift-ext__diff" data-testid="diff">
          {shown.map((l, i) => (
            <div key={i} className={l.startsWith("@@") ? "hunk" : l.startsWith("+") && !l.startsWith("+++") ? "add" : l.startsWith("-") && !l.startsWith("---") ? "del" : undefined}>
              {l || " "}
            </div>
          ))}
        </div>
      )}
      {lines.length > shown.length && (
        <button className="drift-ext__btn" onClick={() => setAll(true)}>
          Show all {lines.length} lines
        </button>
      )}
      {detail.managedFields.length > 0 && (
        <div style={{ marginTop: 8 }} className="drift-ext__muted">
          Field managers of this object:{" "}
          {detail.managedFields.map((m, i) => (
            <span key={i} className="drift-ext__chip" title={`${m.operation}${m.subresource ? ` (${m.subresource})` : ""}, owns ${m.fields} fields; last write ${formatTime(m.time)}`}>
              {m.manager}
              {m.subresource ? ` (${m.subresource})` : ""}
            </span>
          ))}
        </div>
      )}
    </div>
  );
}
