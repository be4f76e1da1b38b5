// Generated from the Rust types of GET /api/v1/history by core/src/ts.rs.
// Do not edit: change the Rust type, then run `make ui-types`.

export type AppRefView = { namespace: string, name: string, };

export type CurrentView = { episodeId: string, 
/**
 * When a replica saw the app turn OutOfSync; `null` if it was already OutOfSync when first
 * seen (then only `observedSince` is known).
 */
since: string | null, 
/**
 * When it was first seen OutOfSync: it has drifted at least since then.
 */
observedSince: string, };

/**
 * The drift engine's causes that are drift (see `drift::view::Cause`).
 */
export type DriftCause = "liveChanged" | "gitAhead" | "missing" | "extra";

/**
 * What ended an episode.
 */
export type EndCause = "automatedSync" | "manualSync" | "revertedByHand" | "gitChanged" | "appDeleted";

export type EpisodeView = { id: string, startedAt: string, 
/**
 * The turn to OutOfSync was watched; false: `startedAt` is when it was first seen.
 */
startWitnessed: boolean, 
/**
 * No replica saw it start: it is known from its witnessed end, after a moment the app was
 * seen in sync (`startedAt`). Rare: two replicas each missed part of the app's history.
 */
startInferred: boolean, 
/**
 * `null` while under way (or if its end was never recorded).
 */
endedAt: string | null, endWitnessed: boolean | null, ongoing: boolean, 
/**
 * To the end, or to now while under way.
 */
durationSeconds: number | null, endCause: EndCause | null, 
/**
 * The Argo CD user who ran the sync that ended it (`manualSync`).
 */
endedBy: string | null, 
/**
 * How it ended, in the words of its `DriftEnded` Event (`synced by alice`, `reverted by
 * hand`, …): the tab shows exactly what Argo CD's Events panel shows.
 */
endText: string | null, endOperationPhase: string | null, revisionAtStart: string | null, revisionAtEnd: string | null, resources: Array<Involved>, 
/**
 * The record grew past its size bound and this episode's resources were dropped.
 */
detailTrimmed: boolean, };

export type HistoryView = { application: AppRefView, 
/**
 * The episode under way; `null` when the app is not drifting (as far as is recorded).
 */
current: CurrentView | null, totals: Totals, 
/**
 * Newest first.
 */
episodes: Array<EpisodeView>, 
/**
 * Pass as `cursor` for the next (older) page; `null` on the last page.
 */
nextCursor: string | null, record: RecordView, generatedAt: string, };

/**
 * A resource involved in an episode. Paths and names only, never values.
 */
export type Involved = { 
/**
 * Empty for the core group.
 */
group: string, kind: string, 
/**
 * Empty for cluster-scoped objects.
 */
namespace: string, name: string, 
/**
 * The drift engine's verdict, once a drift request ran during the episode.
 */
cause?: DriftCause | null, 
/**
 * Readable paths of drifted fields (`spec.template.spec.containers[name=api].image`).
 */
fields?: Array<string>, 
/**
 * Field managers (not Argo CD) behind those fields: tools, never people.
 */
managers?: Array<string>, };

export type ManagerCount = { manager: string, episodes: number, };

export type RecordState = "none" | "stored" | "pending" | "invalid";

export type RecordView = { state: RecordState, 
/**
 * The `DriftHistory` object's name in the backend's namespace.
 */
name: string, 
/**
 * Why the record is `invalid`, or why writes are `pending`.
 */
message: string | null, 
/**
 * Observations this replica holds that are not stored yet.
 */
pendingWrites: number, };

export type Totals = { 
/**
 * Episodes that started in the last 24 hours, 7 days, 30 days.
 */
episodes24h: number, episodes7d: number, episodes30d: number, 
/**
 * The counts cover episodes that started after this moment: 30 days ago, or later when
 * retention removed episodes younger than that (then `complete` is false).
 */
countedSince: string, complete: boolean, 
/**
 * Time spent drifted in the last 30 days, the episode under way included.
 */
driftedSeconds30d: number, 
/**
 * Mean duration of the episodes that ended in the last 30 days and whose start and end were
 * both witnessed (a sighting bounds a duration, it does not measure it); `null` if none.
 */
meanTimeToResolveSeconds: number | null, 
/**
 * How many episodes that mean is over.
 */
resolvedEpisodes30d: number, 
/**
 * The field managers behind most episodes of the last 30 days (from drift requests made
 * during them), most first.
 */
topManagers: Array<ManagerCount>, };
