// GET /api/v1/history — PROVISIONAL. The history branch (issue 9) had published no shape when
// this was written; these types follow the words (episodes newest first, paged with
// `limit` and a cursor, totals over 24 h / 7 d / 30 d, time spent drifted, mean time to resolve,
// the field managers behind most episodes). Replace with src/generated/history.ts once the Rust
// view types exist; the tab reads only what it needs and tolerates missing optional parts.

import type { Cause } from "../generated/drift";

/** How an episode ended. */
export type EpisodeEnd =
  | "automation" // automated sync or self-heal
  | "manualSync" // a sync a user started
  | "revertedByHand" // Synced again with no operation
  | "gitChanged" // Git changed to match the live state
  | "appDeleted"; // the Application was deleted mid-episode

export type EpisodeResource = {
  group: string;
  kind: string;
  namespace: string;
  name: string;
  cause: Cause;
  fields: number;
  managers: Array<string>;
};

export type EpisodeView = {
  id: string;
  startedAt: string;
  /** False when the start is when argocd-drift first saw the app drifted, not the turn itself. */
  startWitnessed: boolean;
  endedAt: string | null;
  durationSeconds: number;
  causes: Array<Cause>;
  resources: Array<EpisodeResource>;
  managers: Array<string>;
  end: { cause: EpisodeEnd; username: string | null } | null;
};

export type ManagerCount = { manager: string; episodes: number };

export type HistoryTotals = {
  last24h: number;
  last7d: number;
  last30d: number;
  driftedSeconds30d: number;
  meanTimeToResolveSeconds: number | null;
  topManagers: Array<ManagerCount>;
};

export type HistoryView = {
  application: { namespace: string; name: string };
  episodes: Array<EpisodeView>;
  nextCursor: string | null;
  totals: HistoryTotals;
  generatedAt: string;
};
