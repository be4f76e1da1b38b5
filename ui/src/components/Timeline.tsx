import * as React from "react";
import { ago, CAUSE_LABEL, EPISODE_END_LABEL, formatDuration, formatTime, parseTime } from "../format";
import { useNow } from "../poll";
import type { DriftCause, EndCause, EpisodeView, HistoryView } from "../types";
import { Icon } from "./common";

const END_COLOR: Record<EndCause | "ongoing", string> = {
  ongoing: "#f4c030",
  automatedSync: "#18be94",
  manualSync: "#0dadea",
  revertedByHand: "#766f94",
  gitChanged: "#8fa4b1",
  appDeleted: "#e96d76",
};

export interface Bar {
  episode: EpisodeView;
  x: number;
  width: number;
  color: string;
}

/**
 * The narrowest bar, in axis units (of 1000): a 30-minute episode a week ago is still a bar a
 * person can see and point at (about 7 px on a laptop), not a sliver.
 */
export const MIN_BAR = 8;

/**
 * Where each episode sits on a time axis of `width` units from `from` to `to` (ms). Episodes
 * that are still open run to `to`; every bar is at least `MIN_BAR` units wide and inside the axis.
 */
export function layoutBars(episodes: Array<EpisodeView>, from: number, to: number, width: number): Array<Bar> {
  const span = Math.max(1, to - from);
  const bars: Array<Bar> = [];
  for (const e of episodes) {
    const start = parseTime(e.startedAt);
    if (start === null) continue;
    const end = parseTime(e.endedAt) ?? to;
    const x0 = ((Math.max(start, from) - from) / span) * width;
    const x1 = ((Math.min(end, to) - from) / span) * width;
    if (x1 < 0 || x0 > width) continue;
    // At least MIN_BAR wide so a short (or just started) episode stays visible, inside the axis.
    const w = Math.max(MIN_BAR, x1 - x0);
    bars.push({ episode: e, x: Math.max(0, Math.min(x0, width - w)), width: w, color: endColor(e) });
  }
  return bars;
}

function endColor(e: EpisodeView): string {
  return e.endCause ? END_COLOR[e.endCause] : e.ongoing ? END_COLOR.ongoing : "#ccd6dd";
}

export function endText(e: EpisodeView): string {
  if (!e.endCause) return e.ongoing ? "still drifting" : "end not recorded";
  // The backend's words, those of the app's DriftEnded Event; the label for older backends.
  const text = e.endText ?? EPISODE_END_LABEL[e.endCause];
  return `${text}${e.endWitnessed === false ? " (seen later)" : ""}`;
}

/** The causes and field managers of an episode's resources, each once. */
export function episodeCauses(e: EpisodeView): { causes: Array<DriftCause>; managers: Array<string> } {
  const causes = new Set<DriftCause>();
  const managers = new Set<string>();
  for (const r of e.resources) {
    if (r.cause) causes.add(r.cause);
    for (const m of r.managers ?? []) managers.add(m);
  }
  return { causes: [...causes], managers: [...managers].sort() };
}

const DAY = 24 * 3600 * 1000;

/** The axis starts at the UTC midnight before the first episode (at least a day back). */
export function axisStart(starts: Array<number>, now: number): number {
  const first = Math.min(now - DAY, ...starts);
  return Math.floor(first / DAY) * DAY;
}

/**
 * A tick at each UTC midnight after `from`, labelled `Nov 29`; over a long span every k-th day
 * is labelled so at most `maxLabels` labels are drawn.
 */
export function dayTicks(from: number, to: number, maxLabels = 8): Array<{ at: number; fraction: number; label: string | null }> {
  const span = Math.max(1, to - from);
  const days: Array<number> = [];
  for (let t = Math.ceil(from / DAY) * DAY; t <= to; t += DAY) days.push(t);
  const step = Math.max(1, Math.ceil(days.length / maxLabels));
  return days.map((at, i) => ({
    at,
    fraction: (at - from) / span,
    label: i % step === 0 ? new Date(at).toLocaleDateString("en-US", { month: "short", day: "numeric", timeZone: "UTC" }) : null,
  }));
}

const W = 1000;
const H = 40;

/** Drift over time: the episodes as bars on one axis, drawn as inline SVG. */
export function Timeline(props: { history: HistoryView }) {
  const now = useNow(30000);
  const eps = props.history.episodes;
  const t = props.history.totals;
  const starts = eps.map((e) => parseTime(e.startedAt)).filter((x): x is number => x !== null);
  const from = axisStart(starts, now);
  const bars = layoutBars(eps, from, now, W);
  const ticks = dayTicks(from, now);
  const ends = [...new Set(eps.map((e) => (e.endCause ?? (e.ongoing ? "ongoing" : null))).filter((x): x is EndCause | "ongoing" => x !== null))];
  return (
    <div className="drift-ext__timeline" data-testid="timeline">
      {props.history.record.state === "invalid" && (
        <div className="drift-ext__banner drift-ext__banner--warn">
          <Icon name="fa fa-exclamation-triangle" />
          <div>
            The stored history ({props.history.record.name}) cannot be read and is left as it is: {props.history.record.message}
          </div>
        </div>
      )}
      {props.history.record.state === "pending" && (
        <div className="drift-ext__banner drift-ext__banner--info">
          <Icon name="fa fa-info-circle" />
          <div>
            {props.history.record.pendingWrites} observations are not stored yet{props.history.record.message ? ` (${props.history.record.message})` : ""}; they are shown and retried.
          </div>
        </div>
      )}
      {eps.length > 0 && (
        <>
          <div className="drift-ext__row" style={{ marginBottom: 6 }} data-testid="history-totals">
            <span className="drift-ext__kv">
              <b>Episodes</b>
              <span>
                {t.episodes24h} in 24 h · {t.episodes7d} in 7 d · {t.episodes30d} in 30 d{t.complete ? "" : " (older ones pruned)"}
              </span>
            </span>
            <span className="drift-ext__kv">
              <b>Drifted (30 d)</b>
              <span>{formatDuration(t.driftedSeconds30d)}</span>
            </span>
            <span className="drift-ext__kv">
              <b>Mean time to resolve</b>
              <span>{t.meanTimeToResolveSeconds === null ? "—" : formatDuration(t.meanTimeToResolveSeconds)}</span>
            </span>
            {t.topManagers.length > 0 && (
              <span className="drift-ext__kv">
                <b>Field managers behind most episodes</b>
                <span>
                  {t.topManagers.slice(0, 3).map((m) => (
                    <span key={m.manager} className="drift-ext__chip" title={`${m.episodes} episodes`}>
                      {m.manager} ×{m.episodes}
                    </span>
                  ))}
                </span>
              </span>
            )}
          </div>
          <svg viewBox={`0 0 ${W} ${H}`} preserveAspectRatio="none" role="img" aria-label={`${eps.length} drift episodes since ${formatTime(new Date(from).toISOString())}`} style={{ height: H }} data-testid="timeline-chart">
            <rect x={0} y={8} width={W} height={20} fill="rgba(128,128,128,.12)" />
            {ticks.map((tk) => (
              <line key={tk.at} x1={tk.fraction * W} x2={tk.fraction * W} y1={tk.label ? 4 : 28} y2={36} stroke="currentColor" strokeOpacity={tk.label ? 0.45 : 0.25} vectorEffect="non-scaling-stroke" />
            ))}
            {bars.map((b) => (
              <rect key={b.episode.id} data-testid="episode-bar" x={b.x} y={8} width={b.width} height={20} fill={b.color} rx={2}>
                <title>
                  {`${formatTime(b.episode.startedAt)} → ${b.episode.endedAt ? formatTime(b.episode.endedAt) : "now"}: ${b.episode.durationSeconds === null ? "" : `${formatDuration(b.episode.durationSeconds)}, `}${endText(b.episode)}`}
                </title>
              </rect>
            ))}
          </svg>
          <div className="drift-ext__ticks drift-ext__muted" data-testid="timeline-ticks" aria-hidden="true">
            {ticks.map((tk) =>
              // The last stretch is "now"'s.
              tk.label && tk.fraction < 0.93 ? (
                <span key={tk.at} style={{ left: `${tk.fraction * 100}%` }} data-testid="tick">
                  {tk.label}
                </span>
              ) : null,
            )}
            <span style={{ left: "100%" }}>now</span>
          </div>
          <div className="drift-ext__legend">
            {ends.map((k) => (
              <span key={k}>
                <i aria-hidden="true" style={{ background: END_COLOR[k] }} />
                {k === "ongoing" ? "still drifting" : EPISODE_END_LABEL[k]}
              </span>
            ))}
          </div>
        </>
      )}
      {eps.length === 0 ? (
        <div className="drift-ext__muted" data-testid="no-episodes">
          <Icon name="fa fa-check-circle" color="#18be94" /> No drift episodes recorded{t.complete ? "" : " (older ones pruned)"}.
        </div>
      ) : (
        <div className="drift-ext__scroll" style={{ marginTop: 8 }}>
          <table className="drift-ext__table" data-testid="episodes">
            <thead>
              <tr>
                <th scope="col">Started</th>
                <th scope="col">Ended</th>
                <th scope="col">Duration</th>
                <th scope="col">How it ended</th>
                <th scope="col">Cause</th>
                <th scope="col">Field managers</th>
              </tr>
            </thead>
            <tbody>
              {eps.map((e) => {
                const { causes, managers } = episodeCauses(e);
                return (
                <tr key={e.id} data-testid="episode">
                  <td data-label="Started" title={formatTime(e.startedAt)}>
                    {e.startWitnessed ? "" : "first seen "}
                    {ago(e.startedAt, now)}
                  </td>
                  <td data-label="Ended" title={e.endedAt ? formatTime(e.endedAt) : undefined}>
                    {e.endedAt ? ago(e.endedAt, now) : "—"}
                  </td>
                  <td data-label="Duration">{e.durationSeconds === null ? "—" : formatDuration(e.durationSeconds)}</td>
                  <td data-label="How it ended">
                    <Icon name="fa fa-square" color={endColor(e)} /> {endText(e)}
                  </td>
                  <td data-label="Cause">{causes.map((c) => CAUSE_LABEL[c]).join(", ") || "—"}</td>
                  <td data-label="Field managers">
                    {managers.map((m) => (
                      <span key={m} className="drift-ext__chip">
                        {m}
                      </span>
                    ))}
                  </td>
                </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}
