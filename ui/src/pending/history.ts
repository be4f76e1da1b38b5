// GET /api/v1/history — written by hand from the history branch's Rust types (commit 6476c13,
// core/src/history/view.rs: HistoryView, CurrentView, Totals, ManagerCount, EpisodeView,
// RecordView, RecordState; model.rs: EndCause, Involved, DriftCause). Replace with src/generated/history.ts once those types carry the ts-rs derives
// (see ui/README.md). Fields serialized with `skip_serializing_if` are optional here.

export type EndCause = "automatedSync" | "manualSync" | "revertedByHand" | "gitChanged" | "appDeleted";

export type DriftCause = "liveChanged" | "gitAhead" | "missing" | "extra";

/** A resource involved in an episode: paths and names only, never values. */
export type Involved = {
  group: string;
  kind: string;
  namespace: string;
  name: string;
  cause?: DriftCause;
  fields?: Array<string>;
  /** Field managers (not Argo CD) behind those fields: tools, never people. */
  managers?: Array<string>;
};

export type EpisodeView = {
  id: string;
  startedAt: string;
  /** The turn to OutOfSync was watched; false: `startedAt` is when it was first seen. */
  startWitnessed: boolean;
  startInferred: boolean;
  endedAt: string | null;
  endWitnessed: boolean | null;
  ongoing: boolean;
  /** To the end, or to now while under way. */
  durationSeconds: number | null;
  endCause: EndCause | null;
  /** The Argo CD user who ran the sync that ended it (`manualSync`). */
  endedBy: string | null;
  endOperationPhase: string | null;
  revisionAtStart: string | null;
  revisionAtEnd: string | null;
  resources: Array<Involved>;
  detailTrimmed: boolean;
};

export type ManagerCount = { manager: string; episodes: number };

export type Totals = {
  episodes24h: number;
  episodes7d: number;
  episodes30d: number;
  countedSince: string;
  complete: boolean;
  driftedSeconds30d: number;
  meanTimeToResolveSeconds: number | null;
  resolvedEpisodes30d: number;
  topManagers: Array<ManagerCount>;
};

export type CurrentView = { episodeId: string; since: string | null; observedSince: string };

export type RecordState = "none" | "stored" | "pending" | "invalid";

export type RecordView = { state: RecordState; name: string; message: string | null; pendingWrites: number };

export type HistoryView = {
  application: { namespace: string; name: string };
  current: CurrentView | null;
  totals: Totals;
  /** Newest first. */
  episodes: Array<EpisodeView>;
  nextCursor: string | null;
  record: RecordView;
  generatedAt: string;
};
