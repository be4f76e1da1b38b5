//! What this process learns by watching Applications over time, which Argo CD does not record.
//!
//! Argo CD stores no moment at which an app became OutOfSync; "drifted since" exists only for
//! whoever watched the transition. The rule ([`track`]) runs on every version of an app the watch
//! delivers, with the previous version this process held.

use super::app::Application;
use jiff::Timestamp;

/// The sync status Argo CD writes when live state differs from Git.
pub const OUT_OF_SYNC: &str = "OutOfSync";
/// The sync status Argo CD writes when live state matches Git.
pub const SYNCED: &str = "Synced";

/// An Application plus what this process learned by watching it.
#[derive(Clone, Debug, PartialEq)]
pub struct IndexedApp {
    pub app: Application,
    /// Present while the app is OutOfSync, and kept through `Unknown` (a failed comparison says
    /// nothing about whether the drift went away). Cleared when the app is seen Synced.
    pub out_of_sync: Option<OutOfSync>,
    /// Which version of the object this is (empty when unknown, e.g. in tests): drift episodes
    /// are named and ordered by it.
    pub version: ObjectVersion,
}

/// An object's `metadata.uid` and `metadata.resourceVersion`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObjectVersion {
    pub uid: String,
    pub resource_version: String,
}

/// When this process saw an app drift.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutOfSync {
    /// The moment this process saw the app turn OutOfSync from another state. `None` when the app
    /// was already OutOfSync the first time this process saw it.
    pub since: Option<Timestamp>,
    /// The first moment this process saw the app OutOfSync: a lower bound on how long it has been.
    pub observed_since: Timestamp,
}

/// How current one scope's data is.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Freshness {
    /// The first full list has been stored.
    pub synced: bool,
    /// Set while the watch cannot reach the API server; the data is the last known.
    pub stale_since: Option<Timestamp>,
    /// Why the scope is stale (for logs and `/readyz` detail, never for API users).
    pub last_error: Option<String>,
    /// When the scope last completed a full list.
    pub last_list_at: Option<Timestamp>,
}

/// [`Freshness`] as answers show it.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DataFreshness {
    /// True while the watch cannot reach the Kubernetes API server: the answer is the last data
    /// seen, which may be out of date.
    pub stale: bool,
    pub stale_since: Option<Timestamp>,
}

/// What an app's entry becomes when a new version of it arrives.
///
/// `witnessed` says whether this process was watching continuously up to this version; after a
/// blind spell (the API server unreachable, then a relist) a change is seen, not witnessed.
/// `since` is set only for a witnessed turn to OutOfSync from `Synced` or from "not yet
/// compared"; a turn from `Unknown` (Argo CD could not compare, so nothing is known about drift
/// before it) or an unwitnessed one records only `observed_since`.
pub fn track(
    previous: Option<&IndexedApp>,
    app: Application,
    now: Timestamp,
    witnessed: bool,
) -> IndexedApp {
    track_version(previous, app, ObjectVersion::default(), now, witnessed)
}

/// [`track`] of a version of the object whose uid and resourceVersion are known.
pub fn track_version(
    previous: Option<&IndexedApp>,
    app: Application,
    version: ObjectVersion,
    now: Timestamp,
    witnessed: bool,
) -> IndexedApp {
    let out_of_sync = match (app.sync_status(), previous) {
        (Some(SYNCED), _) => None,
        (Some(OUT_OF_SYNC), Some(prev)) if prev.out_of_sync.is_some() => prev.out_of_sync,
        (Some(OUT_OF_SYNC), prev) => {
            let from_known_in_sync =
                prev.is_some_and(|p| matches!(p.app.sync_status(), Some(SYNCED) | None));
            Some(OutOfSync {
                since: (witnessed && from_known_in_sync).then_some(now),
                observed_since: now,
            })
        }
        // Unknown, absent or anything new: remember what we knew.
        (_, prev) => prev.and_then(|p| p.out_of_sync),
    };
    IndexedApp {
        app,
        out_of_sync,
        version,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::fixtures::{mk_app, with_sync};

    fn t(secs: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + secs).unwrap()
    }

    /// Feeds the versions of one app through `track`, as the watch would, starting from nothing.
    fn history(versions: &[(Option<&str>, i64)]) -> IndexedApp {
        let mut held: Option<IndexedApp> = None;
        for &(sync, at) in versions {
            let app = match sync {
                Some(s) => with_sync(mk_app("argocd", "a", "p"), s),
                None => mk_app("argocd", "a", "p"),
            };
            held = Some(track(held.as_ref(), app, t(at), true));
        }
        held.expect("at least one version")
    }

    #[test]
    fn an_app_seen_turning_out_of_sync_records_the_moment() {
        let entry = history(&[
            (Some(SYNCED), 0),
            (Some(OUT_OF_SYNC), 10),
            (Some(OUT_OF_SYNC), 20),
        ]);
        let oos = entry.out_of_sync.unwrap();
        assert_eq!(
            oos.since,
            Some(t(10)),
            "a later OutOfSync update keeps the first moment"
        );
        assert_eq!(oos.observed_since, t(10));
    }

    #[test]
    fn an_app_already_out_of_sync_when_first_seen_has_only_a_lower_bound() {
        let oos = history(&[(Some(OUT_OF_SYNC), 5)]).out_of_sync.unwrap();
        assert_eq!(oos.since, None);
        assert_eq!(oos.observed_since, t(5));
    }

    #[test]
    fn a_new_app_without_a_verdict_that_turns_out_of_sync_counts_as_a_seen_transition() {
        let entry = history(&[(None, 1), (Some(OUT_OF_SYNC), 2)]);
        assert_eq!(entry.out_of_sync.unwrap().since, Some(t(2)));
    }

    #[test]
    fn unknown_keeps_the_drift_history_and_synced_clears_it() {
        let through_unknown = history(&[
            (Some(SYNCED), 0),
            (Some(OUT_OF_SYNC), 1),
            (Some("Unknown"), 2),
            (Some(OUT_OF_SYNC), 3),
        ]);
        assert_eq!(through_unknown.out_of_sync.unwrap().since, Some(t(1)));
        let healed = track(
            Some(&through_unknown),
            with_sync(mk_app("argocd", "a", "p"), SYNCED),
            t(4),
            true,
        );
        assert_eq!(healed.out_of_sync, None);
    }

    #[test]
    fn a_turn_from_unknown_is_not_a_witnessed_transition() {
        // e.g. first seen during a ComparisonError, then OutOfSync: it may have drifted for days.
        let oos = history(&[(Some("Unknown"), 0), (Some(OUT_OF_SYNC), 5)])
            .out_of_sync
            .unwrap();
        assert_eq!(oos.since, None);
        assert_eq!(oos.observed_since, t(5));
    }

    #[test]
    fn a_turn_seen_only_after_a_blind_spell_is_not_witnessed() {
        let synced = history(&[(Some(SYNCED), 0)]);
        let relisted = track(
            Some(&synced),
            with_sync(mk_app("argocd", "a", "p"), OUT_OF_SYNC),
            t(60),
            false,
        );
        let oos = relisted.out_of_sync.unwrap();
        assert_eq!((oos.since, oos.observed_since), (None, t(60)));
    }

    #[test]
    fn a_synced_app_has_no_drift_record() {
        assert_eq!(
            history(&[(Some(SYNCED), 0), (Some(SYNCED), 1)]).out_of_sync,
            None
        );
    }
}
