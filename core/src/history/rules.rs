//! When an episode starts and ends, how it ended, and how a record takes an observation —
//! idempotently, in any interleaving of replicas.
//!
//! **Observing** ([`observe`], [`observe_deletion`]) runs on every version of an app the watch
//! delivers, with the version held before. It yields an [`Observation`] only at a turn: to
//! OutOfSync (`Drifting`), to Synced (`InSync`), or the app's deletion. `Unknown` (Argo CD could
//! not compare) is no turn: the episode stays open. A turn is *witnessed* when this process
//! watched without a gap up to it and saw the version before; otherwise (the first sight after
//! start-up or after the API server was unreachable) it is a sighting only, and its time is when
//! it was seen — never a guess at when it happened.
//!
//! **Recording** ([`Record::apply`]) is a pure function of the stored record and one observation.
//! Every replica sees the same watch events with the same `resourceVersion`s, derives the same
//! episode ids (uid + version) and applies the same rules, and the writer re-applies its pending
//! observations to the freshly read record after every write conflict. The rules are written so
//! that applying the observations of several replicas in any interleaving gives the record that
//! one replica which watched throughout would give alone (a property test checks it):
//!
//! - an observation is placed by its version, never by arrival: an *open* at version `v` is
//!   nothing new if an episode started at `v` or spans `v`; a *close* applies to the latest
//!   episode that started before `v`, and is nothing new if that one already ended at or before
//!   `v`;
//! - a witnessed turn beats a sighting: an episode first *seen* later by a replica that was not
//!   watching takes the witnessed start of another, and an end seen later takes an earlier one;
//! - versions at or before what retention removed are old news.
//!
//! **How it ended** ([`end_cause`]), comparing the app when the episode ends with the app when
//! it started: an operation started since (or one still running then) that succeeded (or is
//! still running at the turn to Synced) ended it — by automation
//! (`automatedSync`: automated sync or self-heal) or by a user (`manualSync`, naming the user
//! Argo CD recorded); with no operation since, another revision means Git changed to match
//! (`gitChanged`), the same one that someone put the live objects back by hand
//! (`revertedByHand`). A deletion ends it as `appDeleted`.

use super::model::{
    DriftCause, End, EndCause, Episode, Involved, OperationMark, Pruned, Record, Start, bounds,
    cut, encoded_len,
};
use super::version::{just_after, version_cmp};
use crate::app::{AppKey, Application};
use crate::drift::view::{Cause, ResourceDrift};
use crate::tracking::{IndexedApp, OUT_OF_SYNC, SYNCED};
use jiff::{SignedDuration, Timestamp};
use std::cmp::Ordering;

/// What the end rules compare: the synced revision and the last operation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AppState {
    /// `status.sync.revision`, or the `revisions` of a multi-source app joined by commas.
    pub revision: Option<String>,
    pub operation: Option<SeenOperation>,
}

/// `status.operationState`, as far as the end rules read it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SeenOperation {
    pub started_at: Option<String>,
    pub phase: Option<String>,
    pub automated: bool,
    pub username: Option<String>,
}

impl AppState {
    pub fn of(app: &Application) -> AppState {
        let sync = &app.status.sync;
        let revision = match (&sync.revision, sync.revisions.is_empty()) {
            (Some(r), _) if !r.is_empty() => Some(r.clone()),
            (_, false) => Some(sync.revisions.join(",")),
            _ => None,
        };
        let operation = app.status.operation_state.as_ref().map(|op| SeenOperation {
            started_at: op.started_at.clone(),
            phase: op.phase.clone(),
            automated: op.operation.initiated_by.automated,
            username: op
                .operation
                .initiated_by
                .username
                .clone()
                .filter(|u| !u.is_empty()),
        });
        AppState {
            revision: revision.and_then(|r| non_empty(&r)),
            operation,
        }
    }

    fn mark(&self) -> Option<OperationMark> {
        let op = self.operation.as_ref()?;
        Some(OperationMark {
            started_at: non_empty(op.started_at.as_deref()?)?,
            running: matches!(op.phase.as_deref(), Some("Running" | "Terminating")),
        })
    }
}

/// Optional text as stored: cut to its bound, and `None` if nothing is left (the CRD refuses
/// an empty string, so an empty one would be refused on every write).
fn non_empty(s: &str) -> Option<String> {
    Some(cut(s, bounds::MAX_TEXT_CHARS)).filter(|s| !s.is_empty())
}

/// A turn seen on one version of an app.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Observation {
    pub app: AppKey,
    /// The resourceVersion of the version it was seen on.
    pub version: String,
    pub at: Timestamp,
    /// Seen as it happened (this process watched the version before), not merely found.
    pub witnessed: bool,
    pub change: Change,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// OutOfSync: an episode starts (or is already under way).
    Drifting {
        /// `<uid prefix>-<version>`.
        id: String,
        state: AppState,
        /// Argo CD's OutOfSync resources on this version.
        resources: Vec<Involved>,
    },
    /// Synced: the episode under way, if any, ends.
    InSync { state: AppState },
    /// The app is gone: the episode under way, if any, ends.
    Deleted,
}

/// The turn from `prev` to `next` (two versions of one app), if there is one. `witnessed`: this
/// process watched without a gap up to `next`.
pub fn observe(
    prev: Option<&IndexedApp>,
    next: &IndexedApp,
    at: Timestamp,
    witnessed: bool,
) -> Option<Observation> {
    let before = prev.map(|p| p.app.sync_status());
    let change = match next.app.sync_status() {
        Some(OUT_OF_SYNC) if before != Some(Some(OUT_OF_SYNC)) => {
            // As for `outOfSync.since`: a turn from Synced or not-yet-compared is witnessed;
            // from Unknown nothing is known about when the drift began.
            let from_in_sync = matches!(before, Some(Some(SYNCED) | None));
            let observation = Observation {
                app: next.app.key.clone(),
                version: next.version.resource_version.clone(),
                at,
                witnessed: witnessed && from_in_sync,
                change: Change::Drifting {
                    id: episode_id(&next.version.uid, &next.version.resource_version),
                    state: AppState::of(&next.app),
                    resources: out_of_sync_resources(&next.app),
                },
            };
            return Some(observation);
        }
        Some(SYNCED) if before != Some(Some(SYNCED)) => Change::InSync {
            state: AppState::of(&next.app),
        },
        _ => return None,
    };
    Some(Observation {
        app: next.app.key.clone(),
        version: next.version.resource_version.clone(),
        at,
        // Witnessed only from OutOfSync: after Unknown the drift may have ended any time.
        witnessed: witnessed && before == Some(Some(OUT_OF_SYNC)),
        change,
    })
}

/// The app `prev` is gone: deleted, seen on the watch (`version` is the deletion's, and
/// `witnessed` as the watch was), or missing from a relist (`version` is the list's: the app was
/// gone by then; never witnessed). An unknown version counts as just after the last one seen.
/// Nothing to observe if the app was last seen Synced; witnessed only if it was last seen
/// OutOfSync.
pub fn observe_deletion(
    prev: &IndexedApp,
    version: &str,
    at: Timestamp,
    witnessed: bool,
) -> Option<Observation> {
    let last = prev.app.sync_status();
    if last == Some(SYNCED) {
        return None;
    }
    let version = if version.is_empty() {
        just_after(&prev.version.resource_version)
    } else {
        version.to_string()
    };
    Some(Observation {
        app: prev.app.key.clone(),
        version,
        at,
        witnessed: witnessed && last == Some(OUT_OF_SYNC),
        change: Change::Deleted,
    })
}

/// `<first 8 characters of the uid>-<resourceVersion>`.
pub fn episode_id(uid: &str, version: &str) -> String {
    let prefix: String = uid
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(8)
        .collect();
    let prefix = if prefix.is_empty() {
        "0".into()
    } else {
        prefix
    };
    cut(
        &format!("{prefix}-{version}"),
        bounds::MAX_ID_CHARS.saturating_sub(1),
    )
}

/// Argo CD's OutOfSync resources (hooks aside), bounded; those to prune are `extra`.
fn out_of_sync_resources(app: &Application) -> Vec<Involved> {
    app.status
        .resources
        .iter()
        .filter(|r| !r.hook && r.status.as_deref() == Some(OUT_OF_SYNC))
        .take(bounds::MAX_RESOURCES)
        .map(|r| Involved {
            group: cut(&r.group, bounds::MAX_NAME_CHARS),
            kind: cut(&r.kind, bounds::MAX_NAME_CHARS),
            namespace: cut(&r.namespace, bounds::MAX_NAME_CHARS),
            name: cut(&r.name, bounds::MAX_NAME_CHARS),
            cause: r.requires_pruning.then_some(DriftCause::Extra),
            fields: Vec::new(),
            managers: Vec::new(),
        })
        .filter(|r| !r.kind.is_empty() && !r.name.is_empty())
        .collect()
}

/// The drift engine's verdicts as an episode records them: drifted resources only, with their
/// cause, field paths and the managers (not Argo CD) behind them. Bounded; no values.
pub fn involved_from_verdicts(verdicts: &[ResourceDrift]) -> Vec<Involved> {
    let mut out: Vec<Involved> = Vec::new();
    for v in verdicts {
        let cause = match v.cause {
            Cause::LiveChanged => DriftCause::LiveChanged,
            Cause::GitAhead => DriftCause::GitAhead,
            Cause::Missing => DriftCause::Missing,
            Cause::Extra => DriftCause::Extra,
            Cause::NotInspected | Cause::NoDrift => continue,
        };
        let mut found = Involved {
            group: cut(&v.group, bounds::MAX_NAME_CHARS),
            kind: cut(&v.kind, bounds::MAX_NAME_CHARS),
            namespace: cut(&v.namespace, bounds::MAX_NAME_CHARS),
            name: cut(&v.name, bounds::MAX_NAME_CHARS),
            cause: Some(cause),
            fields: Vec::new(),
            managers: Vec::new(),
        };
        if found.kind.is_empty() || found.name.is_empty() {
            continue;
        }
        for f in &v.fields {
            add_bounded(
                &mut found.fields,
                cut(&f.path, bounds::MAX_PATH_CHARS),
                bounds::MAX_FIELDS,
            );
            if let Some(a) = f.attribution.as_ref().filter(|a| !a.is_argo_cd) {
                add_bounded(
                    &mut found.managers,
                    cut(&a.manager, bounds::MAX_NAME_CHARS),
                    bounds::MAX_MANAGERS,
                );
            }
        }
        merge_into(&mut out, &found);
    }
    out
}

fn add_bounded(list: &mut Vec<String>, value: String, max: usize) -> bool {
    if value.is_empty() || list.len() >= max || list.contains(&value) {
        return false;
    }
    list.push(value);
    true
}

/// Adds what `found` knows to `list`: a new resource while there is room, otherwise its cause,
/// fields and managers to the one recorded. Whether anything changed.
fn merge_into(list: &mut Vec<Involved>, found: &Involved) -> bool {
    let room = list.len() < bounds::MAX_RESOURCES;
    match list.iter_mut().find(|r| r.same_object(found)) {
        Some(r) => {
            let mut changed = false;
            if r.cause.is_none() && found.cause.is_some() {
                r.cause = found.cause;
                changed = true;
            }
            for f in &found.fields {
                changed |= add_bounded(&mut r.fields, f.clone(), bounds::MAX_FIELDS);
            }
            for m in &found.managers {
                changed |= add_bounded(&mut r.managers, m.clone(), bounds::MAX_MANAGERS);
            }
            changed
        }
        None if room => {
            list.push(found.clone());
            true
        }
        None => false,
    }
}

/// How an episode that started as `start` ended, given the app as it is now (`None`: deleted).
/// Returns the cause, the user Argo CD recorded for a manual sync, and the operation's phase.
pub fn end_cause(
    start: &Start,
    now: Option<&AppState>,
) -> (EndCause, Option<String>, Option<String>) {
    let Some(now) = now else {
        return (EndCause::AppDeleted, None, None);
    };
    // Only an operation that brought the app in sync ended the drift: one that Succeeded, or
    // one still Running at the turn to Synced (its hooks may still run). One that Failed, was
    // cancelled or errored did not — whoever fixed the app then did it another way.
    let ended_it =
        |op: &SeenOperation| matches!(op.phase.as_deref(), Some("Succeeded" | "Running"));
    if let Some(op) = now.operation.as_ref().filter(|op| ended_it(op)) {
        let since_start = match &start.operation {
            None => true,
            Some(mark) => {
                mark.running || op.started_at.as_deref() != Some(mark.started_at.as_str())
            }
        };
        if since_start {
            let phase = op.phase.as_deref().and_then(non_empty);
            return if op.automated {
                (EndCause::AutomatedSync, None, phase)
            } else {
                let user = op.username.as_deref().and_then(non_empty);
                (EndCause::ManualSync, user, phase)
            };
        }
    }
    if now.revision != start.revision {
        (EndCause::GitChanged, None, None)
    } else {
        (EndCause::RevertedByHand, None, None)
    }
}

/// The end of a drift that started as `start` and was over by `next`, a later episode's start
/// (witnessed: in sync just before it): not witnessed, at `next`'s version and time. Only what
/// `next` recorded is known of the app then — its revision, and which operation it held but not
/// how that one went — so the cause is told by the revision.
fn stranded_end(start: &Start, next: &Start) -> End {
    let then = AppState {
        revision: next.revision.clone(),
        operation: None,
    };
    let (cause, user, operation_phase) = end_cause(start, Some(&then));
    End {
        at: next.at.max(start.at),
        version: next.version.clone(),
        witnessed: false,
        cause,
        user,
        operation_phase,
        revision: next.revision.clone(),
    }
}

/// What applying an observation did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Nothing new (seen already, or old news).
    Unchanged,
    /// A new episode.
    Opened,
    /// An open episode ended.
    Closed(EndCause),
    /// A recorded start or end was replaced by a better one (witnessed, or earlier).
    Revised,
}

/// How long episodes are kept, and how many.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retention {
    /// Episodes per app; the oldest go first.
    pub max_episodes: usize,
    /// Episodes that ended longer ago than this go.
    pub max_age: SignedDuration,
    /// The record's JSON size: older episodes lose their detail, then go, beyond it.
    pub max_bytes: usize,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            max_episodes: 100,
            max_age: SignedDuration::from_hours(30 * 24),
            max_bytes: bounds::MAX_RECORD_BYTES,
        }
    }
}

// === impl Record ===

impl Record {
    /// Takes one observation (see the module docs).
    pub fn apply(&mut self, obs: &Observation) -> Outcome {
        if let Some(pruned) = &self.pruned
            && version_cmp(&obs.version, &pruned.through_version) != Ordering::Greater
        {
            return Outcome::Unchanged;
        }
        match &obs.change {
            Change::Drifting {
                id,
                state,
                resources,
            } => self.start(obs, id, state, resources),
            Change::InSync { state } => self.end(obs, Some(state)),
            Change::Deleted => self.end(obs, None),
        }
    }

    fn start(
        &mut self,
        obs: &Observation,
        id: &str,
        state: &AppState,
        resources: &[Involved],
    ) -> Outcome {
        let v = obs.version.as_str();
        let start = Start {
            at: obs.at,
            version: v.to_string(),
            witnessed: obs.witnessed,
            inferred: false,
            revision: state.revision.clone(),
            operation: state.mark(),
        };
        if let Some(e) = self.episodes.iter_mut().find(|e| e.start.version == v) {
            if e.start.inferred || obs.witnessed && !e.start.witnessed {
                // The same version, sighted by one replica and seen turning by another.
                e.id = id.to_string();
                e.start = start;
                if let Some(end) = e.end.as_mut() {
                    end.at = end.at.max(obs.at);
                }
                return Outcome::Revised;
            }
            if obs.witnessed == e.start.witnessed && !e.start.inferred && obs.at < e.start.at {
                // The same turn seen alike by several replicas, each by its own clock: the
                // earliest time, whichever replica writes first.
                e.start.at = obs.at;
                return Outcome::Revised;
            }
            return Outcome::Unchanged;
        }
        let at = self
            .episodes
            .partition_point(|e| version_cmp(&e.start.version, v) == Ordering::Less);
        if let Some(before) = at.checked_sub(1).and_then(|i| self.episodes.get_mut(i)) {
            let spans_v = before
                .end
                .as_ref()
                .is_none_or(|end| version_cmp(&end.version, v) == Ordering::Greater);
            if spans_v && before.start.inferred {
                // Its start was only inferred: this is a sighting of it.
                before.id = id.to_string();
                before.start = start;
                if let Some(end) = before.end.as_mut() {
                    end.at = end.at.max(before.start.at);
                }
                return Outcome::Revised;
            }
            if spans_v && obs.witnessed {
                // Seen turning at `v`, so not drifting just before it: what was seen earlier had
                // ended by then (how, as far as the app at `v` tells), and a new episode starts
                // here with the rest of that one. (Whether that earlier start was witnessed or
                // not: either way it cannot span a witnessed turn, and the same holds in the
                // other order of arrival, below.)
                let (cause, user, operation_phase) = end_cause(&before.start, Some(state));
                let sighted_end = End {
                    at: obs.at.max(before.start.at),
                    version: v.to_string(),
                    witnessed: false,
                    cause,
                    user,
                    operation_phase,
                    revision: state.revision.clone(),
                };
                let rest = before.end.replace(sighted_end);
                let mut episode = Episode {
                    id: id.to_string(),
                    start,
                    end: rest,
                    resources: resources.to_vec(),
                    detail_trimmed: false,
                };
                if let Some(end) = episode.end.as_mut() {
                    end.at = end.at.max(episode.start.at);
                }
                self.episodes.insert(at, episode);
                return Outcome::Opened;
            }
            if spans_v {
                return Outcome::Unchanged;
            }
        }
        if let Some(next) = self.episodes.get_mut(at)
            && !next.start.witnessed
        {
            // The same drift, sighted later by a replica that was not watching: this is an
            // earlier (or the witnessed) start of it.
            next.id = id.to_string();
            next.start = start;
            if let Some(end) = next.end.as_mut() {
                end.at = end.at.max(next.start.at);
            }
            for r in resources {
                merge_into(&mut next.resources, r);
            }
            return Outcome::Revised;
        }
        // Before a later episode whose turn was witnessed (the app was in sync just before it),
        // this drift had ended by that turn: at the latest there, never left open behind it.
        let end = self
            .episodes
            .get(at)
            .map(|next| stranded_end(&start, &next.start));
        self.episodes.insert(
            at,
            Episode {
                id: id.to_string(),
                start,
                end,
                resources: resources.to_vec(),
                detail_trimmed: false,
            },
        );
        Outcome::Opened
    }

    /// Closes every open episode that is not the last one — which no record should hold, but
    /// older versions could write (a start placed before a later, witnessed episode) — at the
    /// latest where the next one starts. Whether anything changed.
    pub fn close_stranded(&mut self) -> bool {
        let mut changed = false;
        for i in 1..self.episodes.len() {
            let (done, rest) = self.episodes.split_at_mut(i);
            if let (Some(e), Some(next)) = (done.last_mut(), rest.first())
                && e.end.is_none()
            {
                e.end = Some(stranded_end(&e.start, &next.start));
                changed = true;
            }
        }
        changed
    }

    fn end(&mut self, obs: &Observation, state: Option<&AppState>) -> Outcome {
        let v = obs.version.as_str();
        let before = self
            .episodes
            .partition_point(|e| version_cmp(&e.start.version, v) == Ordering::Less);
        let Some(e) = before.checked_sub(1).and_then(|i| self.episodes.get_mut(i)) else {
            return Outcome::Unchanged;
        };
        let (cause, user, operation_phase) = end_cause(&e.start, state);
        let end = End {
            at: obs.at.max(e.start.at),
            version: v.to_string(),
            witnessed: obs.witnessed,
            cause,
            user,
            operation_phase,
            revision: state.and_then(|s| s.revision.clone()),
        };
        let Some(old) = &mut e.end else {
            e.end = Some(end);
            return Outcome::Closed(cause);
        };
        match version_cmp(&old.version, v) {
            // The same end: recomputed against the start as it stands now (a witnessed start
            // may have replaced the sighting it was first computed against). Seen alike by
            // several replicas, each by its own clock, it keeps the earliest time, so that the
            // second replica to write it finds nothing new.
            Ordering::Equal if obs.witnessed || !old.witnessed => {
                let end = if old.witnessed == end.witnessed {
                    End {
                        at: end.at.min(old.at),
                        ..end
                    }
                } else {
                    end
                };
                if *old == end {
                    return Outcome::Unchanged;
                }
                *old = end;
                Outcome::Revised
            }
            Ordering::Greater if e.start.inferred => {
                // In sync at `v`: the drift known only by its end started after it.
                let after = just_after(v);
                if version_cmp(&after, &old.version) == Ordering::Less {
                    let prefix = e.id.rsplit_once('-').map_or(e.id.as_str(), |(p, _)| p);
                    e.id = format!("{prefix}-{after}");
                    e.start.version = after;
                    e.start.at = obs.at.max(e.start.at);
                    e.start.revision = state.and_then(|s| s.revision.clone());
                    e.start.operation = state.and_then(AppState::mark);
                    old.at = old.at.max(e.start.at);
                } else {
                    self.episodes.remove(before - 1);
                }
                Outcome::Revised
            }
            Ordering::Greater => {
                let after = just_after(v);
                if !old.witnessed || version_cmp(&after, &old.version) != Ordering::Less {
                    // Seen in sync before the recorded end, which was only a sighting.
                    *old = end;
                    return Outcome::Revised;
                }
                // In sync at `v`, yet seen drifting right up to a later end: two episodes, the
                // first from these observations, the second known only by its end (a replica
                // that watches throughout gives it its start when it gets there).
                let later = std::mem::replace(old, end);
                let prefix = e.id.rsplit_once('-').map_or(e.id.as_str(), |(p, _)| p);
                let rest = Episode {
                    id: format!("{prefix}-{after}"),
                    start: Start {
                        at: obs.at.max(e.start.at),
                        version: after,
                        witnessed: false,
                        inferred: true,
                        revision: state.and_then(|s| s.revision.clone()),
                        operation: state.and_then(AppState::mark),
                    },
                    end: Some(later),
                    resources: e.resources.clone(),
                    detail_trimmed: e.detail_trimmed,
                };
                self.episodes.insert(before, rest);
                Outcome::Revised
            }
            _ => Outcome::Unchanged,
        }
    }

    /// Adds what a drift request found to the open episode. Whether anything changed.
    pub fn enrich(&mut self, found: &[Involved]) -> bool {
        let Some(open) = self.episodes.last_mut().filter(|e| e.end.is_none()) else {
            return false;
        };
        let mut changed = false;
        for f in found {
            changed |= merge_into(&mut open.resources, f);
        }
        changed
    }

    /// Applies retention: episodes that ended before `now - max_age` go, then the oldest beyond
    /// `max_episodes`, then — while the record is over `max_bytes` — the detail of the oldest
    /// episodes, then those episodes. Only ever a run of the oldest episodes is removed, and
    /// never an open one. Returns how many episodes went.
    pub fn prune(&mut self, app: &AppKey, now: Timestamp, retention: &Retention) -> usize {
        // Only the last episode can be under way: one left open before another (which no
        // record should hold) must not stop retention for ever.
        self.close_stranded();
        let cutoff = now.checked_sub(retention.max_age).unwrap_or(now);
        let removable = |e: &Episode| e.end.is_some();
        let mut remove = self
            .episodes
            .iter()
            .take_while(|e| removable(e) && e.end.as_ref().is_some_and(|end| end.at < cutoff))
            .count();
        while self.episodes.len() - remove > retention.max_episodes
            && self.episodes.get(remove).is_some_and(removable)
        {
            remove += 1;
        }
        self.remove_oldest(remove);
        let mut removed = remove;
        let size = |r: &Record| encoded_len(app, r);
        let episode_size = |e: &Episode| serde_json::to_vec(e).map_or(0, |v| v.len());
        // Sizes are tracked by difference (serializing the whole record per step would be
        // quadratic), then checked exactly; a few bytes of error cost another round.
        let mut total = size(self);
        while total > retention.max_bytes {
            let mut progress = false;
            while total > retention.max_bytes {
                if let Some(e) = self
                    .episodes
                    .iter_mut()
                    .find(|e| !e.resources.is_empty() && e.end.is_some())
                {
                    let before = episode_size(e);
                    e.resources.clear();
                    e.detail_trimmed = true;
                    total = total.saturating_sub(before - episode_size(e).min(before));
                } else if self.episodes.first().is_some_and(removable) {
                    let gone = self.episodes.first().map_or(0, episode_size);
                    self.remove_oldest(1);
                    removed += 1;
                    total = total.saturating_sub(gone + 1);
                } else {
                    break;
                }
                progress = true;
            }
            total = size(self);
            if !progress {
                break;
            }
        }
        removed
    }

    fn remove_oldest(&mut self, n: usize) {
        if n == 0 {
            return;
        }
        let gone: Vec<Episode> = self.episodes.drain(..n).collect();
        if let Some(newest) = gone.last() {
            let count = self.pruned.as_ref().map_or(0, |p| p.count) + gone.len() as u64;
            self.pruned = Some(Pruned {
                through_version: newest.start.version.clone(),
                last_started_at: newest.start.at,
                count,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::fixtures::{mk_app, mk_resource, with_sync};
    use crate::app::{InitiatedBy, Operation, OperationState};
    use crate::history::fixtures::t;
    use crate::tracking::ObjectVersion;

    fn version(app: Application, rv: u64) -> IndexedApp {
        IndexedApp {
            app,
            out_of_sync: None,
            version: ObjectVersion {
                uid: "4f1c2a9e-0000-4000-8000-000000000000".into(),
                resource_version: rv.to_string(),
            },
        }
    }

    fn app(sync: &str, revision: &str, op: Option<(&str, Option<&str>, bool)>) -> Application {
        let mut a = with_sync(mk_app("argocd", "a", "p"), sync);
        a.status.sync.revision = Some(revision.into());
        a.status.operation_state = op.map(|(started, user, automated)| OperationState {
            phase: Some("Succeeded".into()),
            started_at: Some(started.into()),
            operation: Operation {
                initiated_by: InitiatedBy {
                    username: user.map(str::to_string),
                    automated,
                },
                sync: None,
            },
            ..Default::default()
        });
        a
    }

    /// Plays versions of one app through `observe` and `apply`, as one replica would.
    fn play(versions: &[(u64, Application)]) -> Record {
        let mut record = Record::default();
        let mut prev: Option<IndexedApp> = None;
        for (rv, a) in versions {
            let next = version(a.clone(), *rv);
            if let Some(obs) = observe(prev.as_ref(), &next, t(*rv as i64), true) {
                record.apply(&obs);
            }
            prev = Some(next);
        }
        record
    }

    fn ended(record: &Record) -> (EndCause, Option<String>) {
        let end = record.episodes.last().unwrap().end.as_ref().unwrap();
        (end.cause, end.user.clone())
    }

    #[test]
    fn an_automated_sync_or_self_heal_ends_it_by_automation() {
        let r = play(&[
            (1, app("Synced", "abc", Some(("t0", Some("alice"), false)))),
            (
                2,
                app("OutOfSync", "abc", Some(("t0", Some("alice"), false))),
            ),
            (3, app("Synced", "abc", Some(("t3", None, true)))),
        ]);
        assert_eq!(ended(&r), (EndCause::AutomatedSync, None));
        let e = &r.episodes[0];
        assert_eq!((e.start.at, e.start.witnessed), (t(2), true));
        assert_eq!(e.end.as_ref().unwrap().at, t(3));
        assert_eq!(e.id, "4f1c2a9e-2");
    }

    #[test]
    fn a_manual_sync_names_the_user_argo_cd_recorded() {
        let r = play(&[
            (1, app("Synced", "abc", None)),
            (2, app("OutOfSync", "abc", None)),
            (
                3,
                app(
                    "Synced",
                    "abc",
                    Some(("t3", Some("bob@example.com"), false)),
                ),
            ),
        ]);
        assert_eq!(
            ended(&r),
            (EndCause::ManualSync, Some("bob@example.com".into()))
        );
    }

    #[test]
    fn synced_with_no_operation_since_is_a_hand_revert_or_a_git_change() {
        let op = Some(("t0", Some("alice"), false));
        let reverted = play(&[
            (1, app("Synced", "abc", op)),
            (2, app("OutOfSync", "abc", op)),
            (3, app("Synced", "abc", op)),
        ]);
        assert_eq!(ended(&reverted).0, EndCause::RevertedByHand);
        let git = play(&[
            (1, app("Synced", "abc", op)),
            (2, app("OutOfSync", "abc", op)),
            (3, app("Synced", "def", op)),
        ]);
        assert_eq!(ended(&git).0, EndCause::GitChanged);
    }

    #[test]
    fn an_operation_running_when_the_drift_began_counts_as_since() {
        let mut running = app("OutOfSync", "abc", Some(("t0", Some("carol"), false)));
        running.status.operation_state.as_mut().unwrap().phase = Some("Running".into());
        let r = play(&[
            (1, app("Synced", "abc", None)),
            (2, running),
            (3, app("Synced", "abc", Some(("t0", Some("carol"), false)))),
        ]);
        assert_eq!(ended(&r), (EndCause::ManualSync, Some("carol".into())));
    }

    #[test]
    fn empty_text_is_recorded_as_none_never_as_an_empty_string() {
        let mut a = app("OutOfSync", "", Some(("", Some("\u{1}"), false)));
        a.status.sync.revision = None;
        a.status.sync.revisions = vec![String::new()];
        let state = AppState::of(&a);
        assert_eq!(state.revision, None, "revisions: [\"\"]");
        assert_eq!(state.mark(), None, "startedAt: \"\"");
        a.status.sync.revision = Some("\u{7}\n".into());
        assert_eq!(AppState::of(&a).revision, None, "only control characters");
        let mut done = app("Synced", "abc", Some(("t1", Some("\u{1}\u{2}"), false)));
        done.status.operation_state.as_mut().unwrap().phase = Some("\n".into());
        let r = play(&[(1, app("Synced", "abc", None)), (2, a), (3, done)]);
        let end = r.episodes[0].end.clone().unwrap();
        assert_eq!((end.user, end.operation_phase), (None, None));
        assert_eq!(r.episodes[0].start.revision, None);
        assert_eq!(r.check(), Ok(()));
    }

    #[test]
    fn a_failed_operation_did_not_end_the_drift() {
        let with_phase = |sync: &str, phase: &str| {
            let mut a = app(sync, "abc", Some(("t0", Some("carol"), true)));
            a.status.operation_state.as_mut().unwrap().phase = Some(phase.into());
            a
        };
        // Running when the drift began, it failed later; then someone put the objects back.
        let r = play(&[
            (1, app("Synced", "abc", None)),
            (2, with_phase("OutOfSync", "Running")),
            (3, with_phase("OutOfSync", "Failed")),
            (4, with_phase("Synced", "Failed")),
        ]);
        assert_eq!(ended(&r), (EndCause::RevertedByHand, None));
        // One started during the drift that failed or errored does not count either.
        for phase in ["Failed", "Error"] {
            let mut failed = app("Synced", "def", Some(("t3", Some("dave"), false)));
            failed.status.operation_state.as_mut().unwrap().phase = Some(phase.into());
            let r = play(&[
                (1, app("Synced", "abc", None)),
                (2, app("OutOfSync", "abc", None)),
                (3, failed),
            ]);
            assert_eq!(ended(&r), (EndCause::GitChanged, None), "{phase}");
        }
        // Still running at the turn to Synced: that operation brought it back.
        let r = play(&[
            (1, app("Synced", "abc", None)),
            (2, app("OutOfSync", "abc", None)),
            (3, with_phase("Synced", "Running")),
        ]);
        assert_eq!(ended(&r).0, EndCause::AutomatedSync);
    }

    #[test]
    fn a_deletion_ends_the_episode_under_way() {
        let mut r = play(&[
            (1, app("Synced", "a", None)),
            (2, app("OutOfSync", "a", None)),
        ]);
        let gone = version(app("OutOfSync", "a", None), 2);
        r.apply(&observe_deletion(&gone, "5", t(5), true).unwrap());
        assert_eq!(ended(&r).0, EndCause::AppDeleted);
        // Found gone by a relist, whose version is unknown: just after the last one seen.
        let mut r = play(&[
            (1, app("Synced", "a", None)),
            (2, app("OutOfSync", "a", None)),
        ]);
        let obs = observe_deletion(&gone, "", t(9), false).unwrap();
        assert_eq!((obs.version.as_str(), obs.witnessed), ("3", false));
        r.apply(&obs);
        let end = r.episodes[0].end.clone().unwrap();
        assert_eq!((end.cause, end.witnessed), (EndCause::AppDeleted, false));
        // An app last seen in sync had no episode to end.
        let synced = version(app("Synced", "a", None), 2);
        assert_eq!(observe_deletion(&synced, "5", t(5), true), None);
    }

    #[test]
    fn unknown_keeps_the_episode_open_and_a_first_sight_is_not_witnessed() {
        let r = play(&[
            (1, app("OutOfSync", "a", None)),
            (2, app("Unknown", "a", None)),
            (3, app("OutOfSync", "a", None)),
        ]);
        assert_eq!(r.episodes.len(), 1);
        assert!(
            !r.episodes[0].start.witnessed,
            "already OutOfSync when first seen"
        );
        assert_eq!(r.episodes[0].start.at, t(1));
        assert!(r.episodes[0].end.is_none());
    }

    #[test]
    fn the_out_of_sync_resources_are_recorded_at_the_start() {
        let mut a = app("OutOfSync", "a", None);
        let mut drifted = mk_resource("apps", "Deployment", "ns", "web");
        drifted.status = Some("OutOfSync".into());
        let mut prune = mk_resource("", "ConfigMap", "ns", "old");
        prune.status = Some("OutOfSync".into());
        prune.requires_pruning = true;
        a.status.resources = vec![drifted, mk_resource("", "Service", "ns", "web"), prune];
        let r = play(&[(1, app("Synced", "a", None)), (2, a)]);
        let names: Vec<_> = r.episodes[0]
            .resources
            .iter()
            .map(|r| (r.name.as_str(), r.cause))
            .collect();
        assert_eq!(names, [("web", None), ("old", Some(DriftCause::Extra))]);
    }

    fn obs(version: u64, at: i64, witnessed: bool, change: Change) -> Observation {
        Observation {
            app: AppKey::new("argocd", "a"),
            version: version.to_string(),
            at: t(at),
            witnessed,
            change,
        }
    }

    fn drifting(v: u64) -> Change {
        Change::Drifting {
            id: format!("u-{v}"),
            state: AppState::default(),
            resources: vec![],
        }
    }

    fn in_sync() -> Change {
        Change::InSync {
            state: AppState::default(),
        }
    }

    #[test]
    fn the_same_observation_twice_changes_nothing() {
        let mut r = Record::default();
        assert_eq!(r.apply(&obs(2, 2, true, drifting(2))), Outcome::Opened);
        assert_eq!(r.apply(&obs(2, 2, true, drifting(2))), Outcome::Unchanged);
        assert_eq!(
            r.apply(&obs(5, 5, true, in_sync())),
            Outcome::Closed(EndCause::RevertedByHand)
        );
        assert_eq!(r.apply(&obs(5, 5, true, in_sync())), Outcome::Unchanged);
        // A replica catching up, still at an older version, changes nothing either.
        assert_eq!(r.apply(&obs(3, 9, false, drifting(3))), Outcome::Unchanged);
        assert_eq!(r.episodes.len(), 1);
    }

    #[test]
    fn a_sighting_gives_way_to_the_witnessed_start_of_the_same_drift() {
        let mut r = Record::default();
        // A replica that just started sees the app drifting at version 7…
        assert_eq!(r.apply(&obs(7, 70, false, drifting(7))), Outcome::Opened);
        // …one that watched throughout saw it turn at version 4.
        assert_eq!(r.apply(&obs(4, 40, true, drifting(4))), Outcome::Revised);
        assert_eq!(r.episodes.len(), 1);
        assert_eq!(r.episodes[0].id, "u-4");
        assert_eq!(
            (r.episodes[0].start.at, r.episodes[0].start.witnessed),
            (t(40), true)
        );
    }

    #[test]
    fn an_end_sighted_late_gives_way_to_the_witnessed_end() {
        let mut r = Record::default();
        r.apply(&obs(4, 40, true, drifting(4)));
        r.apply(&obs(9, 90, false, in_sync()));
        assert_eq!(r.apply(&obs(6, 60, true, in_sync())), Outcome::Revised);
        let end = r.episodes[0].end.clone().unwrap();
        assert_eq!(
            (end.version.as_str(), end.at, end.witnessed),
            ("6", t(60), true)
        );
    }

    /// R1 witnesses the turn at 10 and loses the API server; R2 (down meanwhile) witnesses a
    /// turn at 20 and its end at 30; R1 comes back, writes its start at 10, and its relist sees
    /// Synced at 35. The turn at 20 says the app was in sync just before it, so the episode at
    /// 10 ended by then: it must not stay open behind a later one (retention would stop at it
    /// for ever).
    #[test]
    fn a_start_before_a_witnessed_episode_ends_where_that_one_starts() {
        let key = AppKey::new("argocd", "a");
        let r1 = [
            obs(10, 100, true, drifting(10)),
            obs(35, 350, false, in_sync()),
        ];
        let r2 = [
            obs(20, 200, true, drifting(20)),
            obs(30, 300, true, in_sync()),
        ];
        let mut late = Record::default();
        for o in r2.iter().chain(&r1) {
            late.apply(o);
            assert_eq!(late.check(), Ok(()), "after {o:?}");
        }
        let starts: Vec<_> = late.episodes.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(starts, ["u-10", "u-20"]);
        let end = late.episodes[0].end.clone().expect("closed");
        assert_eq!(
            (end.version.as_str(), end.at, end.witnessed),
            ("20", t(200), false),
            "ended at the latest where the witnessed turn at 20 shows it in sync before"
        );
        // The other order gives the same record.
        let mut early = Record::default();
        for o in r1[..1].iter().chain(&r2).chain(&r1[1..]) {
            early.apply(o);
            assert_eq!(early.check(), Ok(()), "after {o:?}");
        }
        assert_eq!(early, late);
        // And retention can remove both.
        let none = Retention {
            max_episodes: 0,
            ..Retention::default()
        };
        assert_eq!(late.prune(&key, t(400), &none), 2);
        // Had R2 only sighted the drift at 20, it is one drift, from R1's witnessed turn.
        let mut one = Record::default();
        one.apply(&obs(20, 200, false, drifting(20)));
        one.apply(&obs(30, 300, true, in_sync()));
        one.apply(&obs(10, 100, true, drifting(10)));
        one.apply(&obs(35, 350, false, in_sync()));
        assert_eq!(one.episodes.len(), 1);
        let e = &one.episodes[0];
        assert_eq!((e.id.as_str(), e.start.witnessed), ("u-10", true));
        assert_eq!(e.end.as_ref().map(|e| e.version.as_str()), Some("30"));
    }

    #[test]
    fn replicas_that_saw_the_same_start_agree_on_its_time_in_any_order() {
        for witnessed in [true, false] {
            let record = |times: [i64; 2]| {
                let mut r = Record::default();
                for at in times {
                    r.apply(&obs(4, at, witnessed, drifting(4)));
                }
                r
            };
            let (a, b) = (record([40, 43]), record([43, 40]));
            assert_eq!(a, b, "the order of arrival does not matter");
            assert_eq!(a.episodes[0].start.at, t(40));
            assert_eq!(a.episodes.len(), 1);
        }
        // A witnessed start still replaces a sighting, whatever its time.
        let mut r = Record::default();
        r.apply(&obs(4, 40, false, drifting(4)));
        r.apply(&obs(4, 45, true, drifting(4)));
        let start = &r.episodes[0].start;
        assert_eq!((start.at, start.witnessed), (t(45), true));
        assert_eq!(r.apply(&obs(4, 30, false, drifting(4))), Outcome::Unchanged);
    }

    #[test]
    fn replicas_that_saw_the_same_end_write_it_once() {
        for (first, second) in [(50, 52), (52, 50)] {
            for witnessed in [true, false] {
                let mut r = Record::default();
                r.apply(&obs(4, 40, true, drifting(4)));
                r.apply(&obs(5, first, witnessed, in_sync()));
                let once = r.apply(&obs(5, second, witnessed, in_sync()));
                assert_eq!(r.episodes[0].end.as_ref().unwrap().at, t(50));
                assert_eq!(
                    r.apply(&obs(5, first, witnessed, in_sync())),
                    Outcome::Unchanged
                );
                assert_eq!(
                    r.apply(&obs(5, second, witnessed, in_sync())),
                    Outcome::Unchanged
                );
                if first < second {
                    assert_eq!(once, Outcome::Unchanged, "a later clock changes nothing");
                }
            }
        }
        // A witnessed end still replaces a sighting of the same version, and not the reverse.
        let mut r = Record::default();
        r.apply(&obs(4, 40, true, drifting(4)));
        r.apply(&obs(5, 50, false, in_sync()));
        assert_eq!(r.apply(&obs(5, 55, true, in_sync())), Outcome::Revised);
        assert_eq!(r.apply(&obs(5, 45, false, in_sync())), Outcome::Unchanged);
        let end = r.episodes[0].end.clone().unwrap();
        assert_eq!((end.at, end.witnessed), (t(55), true));
    }

    #[test]
    fn a_close_applies_only_to_an_episode_that_started_before_it() {
        let mut r = Record::default();
        r.apply(&obs(4, 40, true, drifting(4)));
        assert_eq!(r.apply(&obs(3, 30, true, in_sync())), Outcome::Unchanged);
        assert!(r.episodes[0].end.is_none());
    }

    #[test]
    fn an_end_is_never_before_the_start_even_with_skewed_clocks() {
        let mut r = Record::default();
        r.apply(&obs(4, 40, true, drifting(4)));
        r.apply(&obs(5, 39, true, in_sync()));
        assert_eq!(r.episodes[0].end.as_ref().unwrap().at, t(40));
        assert!(r.check().is_ok());
    }

    #[test]
    fn enrichment_adds_to_the_open_episode_within_bounds() {
        let mut r = Record::default();
        assert!(!r.enrich(&[]), "nothing open");
        r.apply(&obs(4, 40, true, drifting(4)));
        let found = |name: &str, fields: &[&str], managers: &[&str]| Involved {
            group: "apps".into(),
            kind: "Deployment".into(),
            namespace: "ns".into(),
            name: name.into(),
            cause: Some(DriftCause::LiveChanged),
            fields: fields.iter().map(|f| f.to_string()).collect(),
            managers: managers.iter().map(|m| m.to_string()).collect(),
        };
        assert!(r.enrich(&[found("web", &["spec.replicas"], &["kubectl-edit"])]));
        assert!(
            !r.enrich(&[found("web", &["spec.replicas"], &["kubectl-edit"])]),
            "idempotent"
        );
        assert!(r.enrich(&[found("web", &["spec.paused"], &["helm"])]));
        let web = &r.episodes[0].resources[0];
        assert_eq!(web.fields, ["spec.replicas", "spec.paused"]);
        assert_eq!(web.managers, ["kubectl-edit", "helm"]);
        let many: Vec<Involved> = (0..30).map(|i| found(&format!("d{i}"), &[], &[])).collect();
        r.enrich(&many);
        assert_eq!(r.episodes[0].resources.len(), bounds::MAX_RESOURCES);
        r.apply(&obs(5, 50, true, in_sync()));
        assert!(
            !r.enrich(&[found("late", &[], &[])]),
            "closed episodes are not changed"
        );
    }

    fn closed_record(n: u64) -> Record {
        let mut r = Record::default();
        for i in 0..n {
            r.apply(&obs(
                10 * i + 1,
                (10 * i + 1) as i64 * 3600,
                true,
                drifting(10 * i + 1),
            ));
            r.apply(&obs(
                10 * i + 2,
                (10 * i + 2) as i64 * 3600,
                true,
                in_sync(),
            ));
        }
        r
    }

    #[test]
    fn retention_keeps_the_newest_by_count_and_drops_the_old_by_age() {
        let key = AppKey::new("argocd", "a");
        let mut r = closed_record(5);
        let keep3 = Retention {
            max_episodes: 3,
            ..Retention::default()
        };
        assert_eq!(r.prune(&key, t(60 * 3600), &keep3), 2);
        assert_eq!(r.episodes.len(), 3);
        assert_eq!(r.episodes[0].start.version, "21");
        let pruned = r.pruned.clone().unwrap();
        assert_eq!((pruned.through_version.as_str(), pruned.count), ("11", 2));
        // Old news after pruning: a replay of a pruned episode does not come back.
        assert_eq!(r.apply(&obs(11, 0, true, drifting(11))), Outcome::Unchanged);
        // By age: episodes that ended more than max_age ago go.
        let day = Retention {
            max_age: SignedDuration::from_hours(20),
            ..Retention::default()
        };
        assert_eq!(r.prune(&key, t(53 * 3600), &day), 2);
        assert_eq!(r.episodes.len(), 1);
        assert!(r.check().is_ok());
    }

    #[test]
    fn an_open_episode_is_never_pruned() {
        let key = AppKey::new("argocd", "a");
        let mut r = Record::default();
        r.apply(&obs(1, 0, true, drifting(1)));
        let none = Retention {
            max_episodes: 0,
            max_age: SignedDuration::ZERO,
            ..Retention::default()
        };
        assert_eq!(r.prune(&key, t(1_000_000), &none), 0);
        assert_eq!(r.episodes.len(), 1);
    }

    #[test]
    fn an_episode_left_open_before_another_does_not_stop_retention() {
        use crate::history::fixtures::{closed, open_episode};
        let key = AppKey::new("argocd", "a");
        let mut r = Record {
            episodes: vec![open_episode("10", 10), closed("20", 20, "30", 30)],
            pruned: None,
        };
        let none = Retention {
            max_episodes: 0,
            ..Retention::default()
        };
        assert_eq!(r.prune(&key, t(40), &none), 2);
        assert!(r.episodes.is_empty());
    }

    #[test]
    fn a_record_over_its_size_loses_old_detail_first_then_old_episodes() {
        let key = AppKey::new("argocd", "a");
        let mut r = closed_record(20);
        let long = "x".repeat(200);
        for e in &mut r.episodes {
            e.resources = vec![Involved {
                group: String::new(),
                kind: "ConfigMap".into(),
                namespace: "ns".into(),
                name: "c".into(),
                cause: None,
                fields: vec![long.clone(), format!("{long}2")],
                managers: vec![],
            }];
        }
        let size = |r: &Record| {
            let exact = serde_json::to_vec(&crate::history::model::to_object(&key, r))
                .unwrap()
                .len();
            assert_eq!(encoded_len(&key, r), exact, "counted as written");
            exact
        };
        let before = size(&r);
        let budget = Retention {
            max_bytes: before / 2,
            ..Retention::default()
        };
        assert_eq!(
            r.prune(&key, t(0), &budget),
            0,
            "trimming detail was enough"
        );
        assert!(size(&r) <= before / 2);
        assert!(r.episodes[0].detail_trimmed && r.episodes[0].resources.is_empty());
        assert!(!r.episodes[19].detail_trimmed, "the newest keep theirs");
        let tiny = Retention {
            max_bytes: 1500,
            ..Retention::default()
        };
        assert!(r.prune(&key, t(0), &tiny) > 0);
        assert!(size(&r) <= 1500);
        assert!(r.check().is_ok());
    }

    #[test]
    fn verdicts_become_involved_resources_without_values() {
        use crate::drift::managed::ManagerClass;
        use crate::drift::view::{Attribution, Change as FieldChange, DesiredSource, FieldDrift};
        let field = |path: &str, manager: &str, argo: bool| FieldDrift {
            pointer: "/x".into(),
            path: path.into(),
            change: FieldChange::Changed,
            desired: Some(serde_json::json!("secret-desired")),
            desired_known: true,
            live: Some(serde_json::json!("secret-live")),
            attribution: Some(Attribution {
                manager: manager.into(),
                operation: "Update".into(),
                subresource: None,
                time: None,
                is_argo_cd: argo,
                manager_class: ManagerClass::Interactive,
            }),
        };
        let verdict = |name: &str, cause: Cause, fields: Vec<FieldDrift>| ResourceDrift {
            group: "apps".into(),
            version: "v1".into(),
            kind: "Deployment".into(),
            namespace: "ns".into(),
            name: name.into(),
            argo_status: Some("OutOfSync".into()),
            argo_health: None,
            requires_pruning: false,
            hook: false,
            cause,
            not_inspected: None,
            desired_source: DesiredSource::LastApplied,
            fields,
            additions: vec![],
            ignored: vec![],
            problems: vec![],
            last_change_at: None,
            masked: false,
            ignore_extraneous: false,
        };
        let found = involved_from_verdicts(&[
            verdict(
                "web",
                Cause::LiveChanged,
                vec![
                    field("spec.replicas", "kubectl-edit", false),
                    field("spec.template", "argocd-controller", true),
                ],
            ),
            verdict("fine", Cause::NoDrift, vec![]),
            verdict("unread", Cause::NotInspected, vec![]),
        ]);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].cause, Some(DriftCause::LiveChanged));
        assert_eq!(found[0].fields, ["spec.replicas", "spec.template"]);
        assert_eq!(found[0].managers, ["kubectl-edit"], "never Argo CD itself");
        let json = serde_json::to_string(&found).unwrap();
        assert!(!json.contains("secret-"), "no values: {json}");
    }
}
