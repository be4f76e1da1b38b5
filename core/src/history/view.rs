//! `GET /api/v1/history`: an app's episodes, newest first, a page at a time, with totals.
//!
//! Pure: built from the record the backend holds (stored, plus whatever it has not yet managed to
//! store) and the current time. camelCase, every key always present.

use super::model::{Episode, Involved, Record, bounds};
use super::version::version_cmp;
use crate::app::AppKey;
use crate::history::model::EndCause;
use crate::tracking::OutOfSync;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jiff::{SignedDuration, Timestamp};
use serde::Serialize;
use std::cmp::Ordering;
use std::collections::BTreeMap;

/// Episodes per page unless `limit` says otherwise, and the most it may say.
pub const DEFAULT_LIMIT: usize = 20;
pub const MAX_LIMIT: usize = 100;
/// Managers listed in `topManagers`.
pub const TOP_MANAGERS: usize = 5;

const DAY: SignedDuration = SignedDuration::from_hours(24);

/// Where a page starts: after the episode that started at this version. Opaque to clients.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cursor(String);

/// The cursor is not one this API gave out.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("cursor is not one this API returned")]
pub struct BadCursor;

impl Cursor {
    const PREFIX: &'static str = "v1:";

    pub fn parse(text: &str) -> Result<Cursor, BadCursor> {
        let bytes = URL_SAFE_NO_PAD.decode(text).map_err(|_| BadCursor)?;
        let text = String::from_utf8(bytes).map_err(|_| BadCursor)?;
        let version = text.strip_prefix(Self::PREFIX).ok_or(BadCursor)?;
        if version.is_empty()
            || version.len() > bounds::MAX_ID_CHARS
            || !version.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(BadCursor);
        }
        Ok(Cursor(version.to_string()))
    }

    pub fn after(version: &str) -> Cursor {
        Cursor(version.to_string())
    }

    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("{}{}", Self::PREFIX, self.0))
    }
}

/// Which page: at most `limit` episodes, older than `cursor`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page {
    pub limit: usize,
    pub cursor: Option<Cursor>,
}

impl Default for Page {
    fn default() -> Self {
        Page {
            limit: DEFAULT_LIMIT,
            cursor: None,
        }
    }
}

/// The panel's summary of `episode`.
pub fn episode_drift(episode: &Episode) -> crate::status::EpisodeDrift {
    use super::model::DriftCause;
    let count = |pick: fn(Option<DriftCause>) -> bool| {
        episode.resources.iter().filter(|r| pick(r.cause)).count()
    };
    let mut managers: Vec<String> = episode
        .resources
        .iter()
        .flat_map(|r| r.managers.iter().cloned())
        .collect();
    managers.sort();
    managers.dedup();
    crate::status::EpisodeDrift {
        changed: count(|c| {
            matches!(
                c,
                Some(DriftCause::LiveChanged | DriftCause::Missing | DriftCause::Extra)
            )
        }),
        git_ahead: count(|c| c == Some(DriftCause::GitAhead)),
        not_inspected: count(|c| c.is_none()),
        manager_class: super::managers::class_of(managers.iter().map(String::as_str)).to_string(),
        managers,
    }
}

#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryView {
    pub application: AppRefView,
    /// The episode under way; `null` when the app is not drifting (as far as is recorded).
    pub current: Option<CurrentView>,
    pub totals: Totals,
    /// Newest first.
    pub episodes: Vec<EpisodeView>,
    /// Pass as `cursor` for the next (older) page; `null` on the last page.
    pub next_cursor: Option<String>,
    pub record: RecordView,
    pub generated_at: Timestamp,
}

#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AppRefView {
    pub namespace: String,
    pub name: String,
}

#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CurrentView {
    pub episode_id: String,
    /// When a replica saw the app turn OutOfSync; `null` if it was already OutOfSync when first
    /// seen (then only `observedSince` is known).
    pub since: Option<Timestamp>,
    /// When it was first seen OutOfSync: it has drifted at least since then.
    pub observed_since: Timestamp,
}

#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Totals {
    /// Episodes that started in the last 24 hours, 7 days, 30 days.
    pub episodes24h: usize,
    pub episodes7d: usize,
    pub episodes30d: usize,
    /// The counts cover episodes that started after this moment: 30 days ago, or later when
    /// retention removed episodes younger than that (then `complete` is false).
    pub counted_since: Timestamp,
    pub complete: bool,
    /// Time spent drifted in the last 30 days, the episode under way included.
    pub drifted_seconds30d: i64,
    /// Mean duration of the episodes that ended in the last 30 days and whose start and end were
    /// both witnessed (a sighting bounds a duration, it does not measure it); `null` if none.
    pub mean_time_to_resolve_seconds: Option<i64>,
    /// How many episodes that mean is over.
    pub resolved_episodes30d: usize,
    /// The field managers behind most episodes of the last 30 days (from drift requests made
    /// during them), most first.
    pub top_managers: Vec<ManagerCount>,
}

#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ManagerCount {
    pub manager: String,
    pub episodes: usize,
}

#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EpisodeView {
    pub id: String,
    pub started_at: Timestamp,
    /// The turn to OutOfSync was watched; false: `startedAt` is when it was first seen.
    pub start_witnessed: bool,
    /// No replica saw it start: it is known from its witnessed end, after a moment the app was
    /// seen in sync (`startedAt`). Rare: two replicas each missed part of the app's history.
    pub start_inferred: bool,
    /// `null` while under way (or if its end was never recorded).
    pub ended_at: Option<Timestamp>,
    pub end_witnessed: Option<bool>,
    pub ongoing: bool,
    /// To the end, or to now while under way.
    pub duration_seconds: Option<i64>,
    pub end_cause: Option<EndCause>,
    /// The Argo CD user who ran the sync that ended it (`manualSync`).
    pub ended_by: Option<String>,
    /// How it ended, in the words of its `DriftEnded` Event (`synced by alice`, `reverted by
    /// hand`, …): the tab shows exactly what Argo CD's Events panel shows.
    pub end_text: Option<String>,
    pub end_operation_phase: Option<String>,
    pub revision_at_start: Option<String>,
    pub revision_at_end: Option<String>,
    pub resources: Vec<Involved>,
    /// The record grew past its size bound and this episode's resources were dropped.
    pub detail_trimmed: bool,
}

#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordView {
    pub state: RecordState,
    /// The `DriftHistory` object's name in the backend's namespace.
    pub name: String,
    /// Why the record is `invalid`, or why writes are `pending`.
    pub message: Option<String>,
    /// Observations this replica holds that are not stored yet.
    pub pending_writes: usize,
}

#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum RecordState {
    /// No record: the app has not drifted while argocd-drift watched.
    None,
    /// Everything this replica knows is stored.
    Stored,
    /// This replica knows more than is stored (the API server is unreachable or refuses the
    /// write); the answer includes it, and the writes are retried.
    Pending,
    /// The stored object cannot be read (edited by hand into another shape?). It is left as it
    /// is; `message` says what is wrong. Episodes seen meanwhile wait in memory.
    Invalid,
}

/// The episode under way, as `outOfSync` timing.
pub fn current_drift(record: &Record) -> Option<OutOfSync> {
    record.open().map(|e| OutOfSync {
        since: e.start.witnessed.then_some(e.start.at),
        observed_since: e.start.at,
    })
}

/// The history answer for `app`.
pub fn history_view(
    app: &AppKey,
    record: &Record,
    state: RecordView,
    page: &Page,
    now: Timestamp,
) -> HistoryView {
    let newest_first = record.episodes.iter().rev().filter(|e| {
        page.cursor
            .as_ref()
            .is_none_or(|c| version_cmp(&e.start.version, &c.0) == Ordering::Less)
    });
    let mut episodes: Vec<&Episode> = newest_first.take(page.limit.saturating_add(1)).collect();
    let more = episodes.len() > page.limit;
    episodes.truncate(page.limit);
    let next_cursor = more
        .then(|| episodes.last())
        .flatten()
        .map(|e| Cursor::after(&e.start.version).encode());
    let last = record.episodes.last().map(|e| e.id.as_str());
    HistoryView {
        application: AppRefView {
            namespace: app.namespace.clone(),
            name: app.name.clone(),
        },
        current: record.open().map(|e| CurrentView {
            episode_id: e.id.clone(),
            since: e.start.witnessed.then_some(e.start.at),
            observed_since: e.start.at,
        }),
        totals: totals(record, now),
        episodes: episodes
            .into_iter()
            .map(|e| episode_view(e, Some(e.id.as_str()) == last, now))
            .collect(),
        next_cursor,
        record: state,
        generated_at: now,
    }
}

fn episode_view(e: &Episode, is_last: bool, now: Timestamp) -> EpisodeView {
    let end = e.end.as_ref();
    let ongoing = end.is_none() && is_last;
    let until = end.map(|end| end.at).or(ongoing.then_some(now));
    EpisodeView {
        id: e.id.clone(),
        started_at: e.start.at,
        start_witnessed: e.start.witnessed,
        start_inferred: e.start.inferred,
        ended_at: end.map(|end| end.at),
        end_witnessed: end.map(|end| end.witnessed),
        ongoing,
        duration_seconds: until.map(|u| seconds(u.duration_since(e.start.at))),
        end_cause: end.map(|end| end.cause),
        ended_by: end.and_then(|end| end.user.clone()),
        end_text: end.map(|end| super::event::end_text(end.cause, end.user.as_deref())),
        end_operation_phase: end.and_then(|end| end.operation_phase.clone()),
        revision_at_start: e.start.revision.clone(),
        revision_at_end: end.and_then(|end| end.revision.clone()),
        resources: e.resources.clone(),
        detail_trimmed: e.detail_trimmed,
    }
}

fn totals(record: &Record, now: Timestamp) -> Totals {
    let ago = |d: SignedDuration| now.checked_sub(d).unwrap_or(now);
    let month = ago(DAY * 30);
    let (counted_since, complete) = match &record.pruned {
        Some(p) if p.last_started_at >= month => (p.last_started_at, false),
        _ => (month, true),
    };
    // What retention removed is not in the record: counting what is there is all there is.
    let started_since = |from: Timestamp| {
        record
            .episodes
            .iter()
            .filter(|e| e.start.at >= from)
            .count()
    };
    let last = record.episodes.len().checked_sub(1);
    let drifted: i64 = record
        .episodes
        .iter()
        .enumerate()
        .filter_map(|(i, e)| {
            let until = match &e.end {
                Some(end) => end.at,
                None if Some(i) == last => now,
                None => return None,
            };
            let from = e.start.at.max(month);
            (until > from).then(|| seconds(until.duration_since(from)))
        })
        .sum();
    let resolved: Vec<i64> = record
        .episodes
        .iter()
        .filter_map(|e| {
            let end = e.end.as_ref()?;
            (end.at >= month && end.witnessed && e.start.witnessed)
                .then(|| seconds(end.at.duration_since(e.start.at)))
        })
        .collect();
    let mean = (!resolved.is_empty()).then(|| {
        let n = resolved.len() as i64;
        (resolved.iter().sum::<i64>() + n / 2) / n
    });
    let mut managers: BTreeMap<&str, usize> = BTreeMap::new();
    for e in record.episodes.iter().filter(|e| e.start.at >= month) {
        let mut seen: Vec<&str> = e
            .resources
            .iter()
            .flat_map(|r| r.managers.iter().map(String::as_str))
            .collect();
        seen.sort_unstable();
        seen.dedup();
        for m in seen {
            *managers.entry(m).or_default() += 1;
        }
    }
    let mut top: Vec<ManagerCount> = managers
        .into_iter()
        .map(|(manager, episodes)| ManagerCount {
            manager: manager.to_string(),
            episodes,
        })
        .collect();
    // Most episodes first; ties by name (the map's order, kept by a stable sort).
    top.sort_by_key(|m| std::cmp::Reverse(m.episodes));
    top.truncate(TOP_MANAGERS);
    Totals {
        episodes24h: started_since(ago(DAY)),
        episodes7d: started_since(ago(DAY * 7)),
        episodes30d: started_since(month),
        counted_since,
        complete,
        drifted_seconds30d: drifted,
        mean_time_to_resolve_seconds: mean,
        resolved_episodes30d: resolved.len(),
        top_managers: top,
    }
}

fn seconds(d: SignedDuration) -> i64 {
    d.as_secs().max(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::fixtures::{closed, open_episode, t};
    use crate::history::model::{DriftCause, Pruned};

    const H: i64 = 3600;

    fn now() -> Timestamp {
        t(100 * 24 * H)
    }

    fn ago(secs: i64) -> i64 {
        100 * 24 * H - secs
    }

    fn stored() -> RecordView {
        RecordView {
            state: RecordState::Stored,
            name: "argocd.a".into(),
            message: None,
            pending_writes: 0,
        }
    }

    fn view(record: &Record, page: &Page) -> HistoryView {
        history_view(&AppKey::new("argocd", "a"), record, stored(), page, now())
    }

    fn record() -> Record {
        Record {
            episodes: vec![
                closed("100", ago(40 * 24 * H), "101", ago(40 * 24 * H - 60)),
                closed("200", ago(10 * 24 * H), "201", ago(10 * 24 * H - 600)),
                closed("300", ago(2 * 24 * H), "301", ago(2 * 24 * H - 1200)),
                closed("400", ago(3 * H), "401", ago(3 * H - 1800)),
                open_episode("500", ago(H)),
            ],
            pruned: None,
        }
    }

    #[test]
    fn totals_count_by_window_and_measure_resolution() {
        let v = view(&record(), &Page::default());
        let t = &v.totals;
        assert_eq!((t.episodes24h, t.episodes7d, t.episodes30d), (2, 3, 4));
        assert!(t.complete);
        // 600 + 1200 + 1800 s of the three closed in 30 d, and 1 h of the one under way.
        assert_eq!(t.drifted_seconds30d, 600 + 1200 + 1800 + 3600);
        assert_eq!(t.mean_time_to_resolve_seconds, Some(1200));
        assert_eq!(t.resolved_episodes30d, 3);
        let current = v.current.unwrap();
        assert_eq!(current.episode_id, "u-500");
        assert_eq!(current.since, Some(self::t(ago(H))));
    }

    #[test]
    fn sightings_do_not_count_towards_the_time_to_resolve() {
        let mut r = record();
        r.episodes[3].start.witnessed = false;
        r.episodes[2].end.as_mut().unwrap().witnessed = false;
        let t = view(&r, &Page::default()).totals;
        assert_eq!(
            (t.mean_time_to_resolve_seconds, t.resolved_episodes30d),
            (Some(600), 1)
        );
        // A first sight gives no `since`, only the lower bound.
        let mut r = record();
        r.episodes[4].start.witnessed = false;
        let c = view(&r, &Page::default()).current.unwrap();
        assert_eq!((c.since, c.observed_since), (None, self::t(ago(H))));
        assert_eq!(current_drift(&r).unwrap().since, None);
    }

    #[test]
    fn counts_say_when_retention_cut_into_the_window() {
        let mut r = record();
        r.episodes.remove(0);
        r.episodes.remove(0);
        r.pruned = Some(Pruned {
            through_version: "200".into(),
            last_started_at: t(ago(10 * 24 * H)),
            count: 2,
        });
        let t = view(&r, &Page::default()).totals;
        assert!(!t.complete);
        assert_eq!(t.counted_since, self::t(ago(10 * 24 * H)));
        assert_eq!(t.episodes30d, 3);
    }

    #[test]
    fn pages_run_newest_first_and_the_cursor_continues_where_the_last_stopped() {
        let r = record();
        let first = view(
            &r,
            &Page {
                limit: 2,
                cursor: None,
            },
        );
        let ids: Vec<_> = first.episodes.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(ids, ["u-500", "u-400"]);
        assert!(first.episodes[0].ongoing && first.episodes[0].ended_at.is_none());
        assert_eq!(first.episodes[0].duration_seconds, Some(H));
        let cursor = Cursor::parse(first.next_cursor.as_deref().unwrap()).unwrap();
        let second = view(
            &r,
            &Page {
                limit: 2,
                cursor: Some(cursor),
            },
        );
        let ids: Vec<_> = second.episodes.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(ids, ["u-300", "u-200"]);
        let cursor = Cursor::parse(second.next_cursor.as_deref().unwrap()).unwrap();
        let third = view(
            &r,
            &Page {
                limit: 2,
                cursor: Some(cursor),
            },
        );
        assert_eq!(third.episodes.len(), 1);
        assert_eq!(third.next_cursor, None);
        // An exact fit has no next page.
        assert_eq!(
            view(
                &r,
                &Page {
                    limit: 5,
                    cursor: None
                }
            )
            .next_cursor,
            None
        );
    }

    #[test]
    fn cursors_that_this_api_did_not_give_out_are_refused() {
        for bad in ["", "!!", "djE6", "eDo1", &URL_SAFE_NO_PAD.encode("v1:a b")] {
            assert_eq!(Cursor::parse(bad), Err(BadCursor), "{bad:?}");
        }
        let c = Cursor::after("12345");
        assert_eq!(Cursor::parse(&c.encode()), Ok(c));
    }

    #[test]
    fn managers_are_ranked_by_the_episodes_they_appear_in() {
        let mut r = record();
        let with = |managers: &[&str]| {
            vec![Involved {
                group: "apps".into(),
                kind: "Deployment".into(),
                namespace: "ns".into(),
                name: "web".into(),
                cause: Some(DriftCause::LiveChanged),
                fields: vec!["spec.replicas".into()],
                managers: managers.iter().map(|m| m.to_string()).collect(),
            }]
        };
        r.episodes[0].resources = with(&["old-tool"]); // 40 days ago: outside the window
        r.episodes[1].resources = with(&["kubectl-edit", "helm"]);
        r.episodes[2].resources = with(&["kubectl-edit"]);
        r.episodes[3].resources = with(&["helm", "kubectl-edit"]);
        let top = view(&r, &Page::default()).totals.top_managers;
        assert_eq!(
            top,
            [
                ManagerCount {
                    manager: "kubectl-edit".into(),
                    episodes: 3
                },
                ManagerCount {
                    manager: "helm".into(),
                    episodes: 2
                },
            ]
        );
    }

    #[test]
    fn an_empty_record_reads_as_no_drift() {
        let v = view(&Record::default(), &Page::default());
        assert_eq!(v.current, None);
        assert!(v.episodes.is_empty() && v.next_cursor.is_none());
        assert_eq!(v.totals.mean_time_to_resolve_seconds, None);
        let json = serde_json::to_value(&v).unwrap();
        for key in [
            "application",
            "current",
            "totals",
            "episodes",
            "nextCursor",
            "record",
            "generatedAt",
        ] {
            assert!(json.get(key).is_some(), "{key}");
        }
        assert_eq!(json["totals"]["episodes24h"], 0);
        assert_eq!(json["record"]["state"], "stored");
    }
}
