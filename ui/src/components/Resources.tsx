import * as React from "react";
import { AppRef, getResourceDetail, isAbort } from "../api";
import {
  ago,
  CAUSE_COLOR,
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
} from "../format";
import { useNow } from "../poll";
import type { Attribution, FieldDrift, JsonValue, ResourceDetail, ResourceDrift } from "../types";
import { Breakable, DiagnosisView, DiffLines, HelpTip, Icon } from "./common";

/** What the list shows by default: drift, what could not be looked at, and additions outside Git. */
export function listedByDefault(r: ResourceDrift): boolean {
  return isDrift(r.cause) || r.cause === "notInspected" || r.additions.length > 0;
}

/** The resources, most recent change first (the backend's order). */
export function ResourceList(props: { app: AppRef; resources: Array<ResourceDrift>; showAll: boolean }) {
  const [open, setOpen] = React.useState<Record<string, boolean>>({});
  const shown = props.showAll ? props.resources : props.resources.filter(listedByDefault);
  if (shown.length === 0) {
    return (
      <div className="drift-ext__muted" data-testid="no-drift">
        <Icon name="fa fa-check-circle" color="#18be94" /> No drifted resources.
      </div>
    );
  }
  return (
    <div data-testid="resources">
      {shown.map((r) => {
        const key = resourceKey(r);
        return <ResourceRow key={key} app={props.app} resource={r} open={!!open[key]} onToggle={() => setOpen({ ...open, [key]: !open[key] })} />;
      })}
    </div>
  );
}

/** What a manager is, what it did and when: the chip's tooltip (the table keeps one column). */
export function managerTooltip(a: Attribution): string {
  const op = `${a.operation}${a.subresource ? ` (${a.subresource})` : ""}`;
  return `field manager ${a.manager}: ${MANAGER_CLASS_LABEL[a.managerClass]}; ${op}; that manager's last write ${formatTime(a.time)}`;
}

function ManagerChip(props: { a: Attribution }) {
  return (
    <span className="drift-ext__chip" data-testid="manager" title={managerTooltip(props.a)}>
      {props.a.manager}
    </span>
  );
}

function ResourceRow(props: { app: AppRef; resource: ResourceDrift; open: boolean; onToggle: () => void }) {
  const r = props.resource;
  const now = useNow(10000);
  const managers = managersOf(r);
  const onlyAdditions = !isDrift(r.cause) && r.cause !== "notInspected" && r.additions.length > 0;
  return (
    <div className="drift-ext__res" data-testid="resource" data-resource={`${r.kind} ${r.namespace ? `${r.namespace}/` : ""}${r.name}`} data-cause={r.cause}>
      <button className="drift-ext__res-head" onClick={props.onToggle} aria-expanded={props.open}>
        <Icon name={props.open ? "fa fa-chevron-down" : "fa fa-chevron-right"} style={{ width: 12 }} />
        <span className="drift-ext__res-title">
          {r.kind} <Breakable text={`${r.namespace ? `${r.namespace}/` : ""}${r.name}`} className="drift-ext__res-name" />
        </span>
        <span title={CAUSE_HELP[r.cause]} data-testid="cause">
          {onlyAdditions ? (
            <>
              <Icon name="fa fa-plus-circle" color="#f4c030" /> {plural(r.additions.length, "addition")} outside Git
            </>
          ) : (
            <>
              <Icon name={CAUSE_ICON[r.cause]} color={CAUSE_COLOR[r.cause]} /> {CAUSE_LABEL[r.cause]}
              {r.notInspected ? `: ${NOT_INSPECTED_LABEL[r.notInspected.reason]}` : ""}
            </>
          )}
        </span>
        {r.fields.length > 0 && <span data-testid="field-count">{plural(r.fields.length, "field")}</span>}
        {managers.length > 0 && (
          <span>
            {managers.map((a) => (
              <ManagerChip key={a.manager} a={a} />
            ))}
          </span>
        )}
        {r.lastChangeAt && (
          <span className="drift-ext__muted" title={`the latest write of these field managers: ${formatTime(r.lastChangeAt)}`}>
            last write {ago(r.lastChangeAt, now)}
          </span>
        )}
        {r.masked && (
          <span className="drift-ext__badge" title="A Secret: values never leave argocd-drift; each shows only as changed or unchanged">
            <Icon name="fa fa-lock" /> values masked
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
          <Icon name="fa fa-eye-slash" /> {r.notInspected.message}
        </div>
      )}
      {r.cause === "gitAhead" && <GitAhead resource={r} />}
      {r.desiredSource === "serverSideApplyAttribution" && (
        <div className="drift-ext__muted" style={{ marginBottom: 6 }}>
          Server-side applied: only which fields another field manager took over is known, not the value Git wants.
        </div>
      )}
      {r.fields.length > 0 && r.cause !== "gitAhead" && <FieldTable fields={r.fields} masked={r.masked} />}
      {r.additions.length > 0 && (
        <div style={{ marginTop: 8 }} data-testid="additions">
          <b>Added outside Git</b>{" "}
          <HelpTip text="Fields a person's tool or a controller added that Git does not have: not drift for Argo CD (a sync keeps them)." />
          <ul style={{ margin: "4px 0", paddingLeft: 18 }}>
            {r.additions.map((a) => (
              <li key={a.pointer} data-testid="addition">
                <Breakable text={a.path} className="drift-ext__code" /> = {r.masked ? <span className="drift-ext__muted">‹masked›</span> : <Breakable text={formatValue(a.live)} className="drift-ext__code" />} by{" "}
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
              <Icon name="fa fa-exclamation-triangle" color="#f4c030" /> {p.message}
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
                    <th scope="col">Field</th>
                    <th scope="col">Desired</th>
                    <th scope="col">Live</th>
                    <th scope="col">Ignored by</th>
                  </tr>
                </thead>
                <tbody>
                  {r.ignored.map((d) => (
                    <tr key={d.pointer}>
                      <td data-label="Field">
                        <Breakable text={d.path} className="drift-ext__code" />
                      </td>
                      <td data-label="Desired">
                        <Breakable text={formatValue(d.desired)} className="drift-ext__code" />
                      </td>
                      <td data-label="Live">
                        <Breakable text={formatValue(d.live)} className="drift-ext__code" />
                      </td>
                      <td data-label="Ignored by">
                        {d.rule.source} <Breakable text={d.rule.expression} className="drift-ext__code" />
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </div>
      )}
      {r.cause !== "notInspected" && r.cause !== "gitAhead" && <DetailDiff app={props.app} resource={r} />}
    </div>
  );
}

/**
 * Git moved, the cluster did not: the diff against what Argo CD last applied is empty, and
 * saying "no difference" would read as "a sync changes nothing". Say what is known instead.
 */
function GitAhead(props: { resource: ResourceDrift }) {
  const r = props.resource;
  return (
    <div className="drift-ext__banner drift-ext__banner--info" data-testid="git-ahead" style={{ marginBottom: 8 }}>
      <Icon name="fa fa-code-branch" color="#0dadea" />
      <div>
        The cluster still matches the last sync; the change is in Git and not yet synced — Argo CD's <b>DIFF</b> tab shows it.
        {r.fields.length > 0 && (
          <>
            {" "}
            Fields Git changes:{" "}
            {r.fields.map((f, i) => (
              <React.Fragment key={f.pointer}>
                {i > 0 && ", "}
                <Breakable text={f.path} className="drift-ext__code" />
              </React.Fragment>
            ))}
            .
          </>
        )}
      </div>
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
    const differ = JSON.stringify(props.v) !== JSON.stringify(props.other);
    return (
      <td data-label={props.label} className="drift-ext__muted" title="A Secret's value never leaves argocd-drift: only whether it differs is known">
        <Icon name="fa fa-lock" /> {props.label === "Live" ? (differ ? "masked; values differ" : "masked; unchanged") : "masked"}
      </td>
    );
  }
  return (
    <td data-label={props.label} title={props.v !== null ? JSON.stringify(props.v) : "absent"}>
      <Breakable text={formatValue(props.v)} className="drift-ext__code" />
    </td>
  );
}

const MANAGER_HELP =
  "The tool that wrote the live value (kubectl-edit, a controller), from managedFields — not a person; its time is that manager's last write to the object (one time per manager, not per field). Hover it for more.";

/** Each drifted field: path, desired, live, and the field manager that owns the live value. */
export function FieldTable(props: { fields: Array<FieldDrift>; masked: boolean }) {
  const now = useNow(10000);
  return (
    <div className="drift-ext__scroll">
      <table className="drift-ext__table" data-testid="fields">
        <thead>
          <tr>
            <th scope="col">Field</th>
            <th scope="col">Desired (Git)</th>
            <th scope="col">Live</th>
            <th scope="col">
              Field manager · last write <HelpTip text={MANAGER_HELP} />
            </th>
          </tr>
        </thead>
        <tbody>
          {props.fields.map((f) => (
            <tr key={f.pointer} data-testid="field">
              <td data-label="Field" title={`${f.pointer} (${CHANGE_LABEL[f.change]})`}>
                <Breakable text={f.path} className="drift-ext__code" />
                {f.change !== "changed" && <span className="drift-ext__badge" style={{ marginLeft: 6 }}>{CHANGE_LABEL[f.change]}</span>}
              </td>
              <ValueCell label="Desired" v={f.desired} other={f.live} masked={props.masked} known={f.desiredKnown} />
              <ValueCell label="Live" v={f.live} other={f.desired} masked={props.masked} />
              <td data-label="Field manager">
                {f.attribution ? (
                  <>
                    <ManagerChip a={f.attribution} />
                    {f.attribution.time && (
                      <span className="drift-ext__muted" style={{ whiteSpace: "nowrap" }} title={`that manager's last write: ${formatTime(f.attribution.time)}`}>
                        {ago(f.attribution.time, now)}
                      </span>
                    )}
                  </>
                ) : (
                  <span className="drift-ext__muted">unknown</span>
                )}
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
  const rRef = React.useRef(r);
  rRef.current = r;
  React.useEffect(() => {
    const controller = new AbortController();
    getResourceDetail(app, rRef.current, controller.signal).then(
      (d) => {
        setDetail(d);
        setError(null);
      },
      (e: unknown) => {
        if (!isAbort(e)) setError(e);
      },
    );
    return () => controller.abort();
  }, [version, app]);
  if (error && !detail) return <DiagnosisView error={error} app={app} onRetry={() => setAttempt(attempt + 1)} />;
  if (!detail) {
    return (
      <div className="drift-ext__muted" style={{ marginTop: 8 }} role="status">
        <Icon name="fa fa-circle-notch fa-spin" /> Loading the diff…
      </div>
    );
  }
  const lines = detail.diff ? detail.diff.replace(/\n$/, "").split("\n") : [];
  const shown = all ? lines : lines.slice(0, DIFF_LINES);
  return (
    <div style={{ marginTop: 10 }}>
      <b>Diff</b> <span className="drift-ext__muted">live → after a sync{r.masked ? "; Secret values masked: ‹masked› only says a value differs" : ""}</span>
      {lines.length === 0 ? (
        <div className="drift-ext__muted">No textual difference.</div>
      ) : (
        <DiffLines lines={shown} testId="diff" masked={r.masked} />
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
            <span key={i} className="drift-ext__chip" title={`${MANAGER_CLASS_LABEL[m.managerClass]}; ${m.operation}${m.subresource ? ` (${m.subresource})` : ""}, owns ${m.fields} fields; last write ${formatTime(m.time)}`}>
              {m.manager}
              {m.subresource ? ` (${m.subresource})` : ""}
            </span>
          ))}
        </div>
      )}
    </div>
  );
}
