//! Episodes whose app went while nobody watched: every app with an episode under way that the
//! index — once every scope and the records are listed — does not have, or has under another
//! uid (all replicas down, a namespace no longer watched, an app deleted and re-created
//! meanwhile), has its episode ended as `appDeleted`, not witnessed.

use super::History;
use super::state::Pending;
use super::writer::of_uid;
use crate::index::{AppIndex, Whereabouts};
use drift_core::app::AppKey;
use drift_core::history::rules::{Change, Observation};
use drift_core::history::version::{just_after, version_cmp};
use jiff::Timestamp;
use std::cmp::Ordering;

impl History {
    /// Ends the episodes of apps gone unseen. The end is when this was found, at the latest
    /// version the index knows the app's scope at (gone by then; just after the start if
    /// unknown).
    pub(super) fn end_unseen_deletions(&self, index: &AppIndex, now: Timestamp) {
        if !index.is_ready() {
            return;
        }
        let open: Vec<(AppKey, String, String)> = {
            let state = self.lock();
            if !state.listed {
                return;
            }
            state.open_episodes()
        };
        // The index is asked with the write state unlocked: the two never wait on each other.
        let mut ends = Vec::new();
        for (app, id, start) in open {
            let version = match index.whereabouts(&app) {
                Whereabouts::Unknown => continue,
                Whereabouts::Gone { as_of: None } => just_after(&start),
                Whereabouts::Gone { as_of: Some(v) } => v,
                Whereabouts::Present { uid, version } if !uid.is_empty() && !of_uid(&id, &uid) => {
                    version
                }
                Whereabouts::Present { .. } => continue,
            };
            // Not yet: the index has not caught up with the episode another replica recorded.
            if version_cmp(&version, &start) != Ordering::Greater {
                continue;
            }
            ends.push((
                id,
                Observation {
                    app,
                    version,
                    at: now,
                    witnessed: false,
                    change: Change::Deleted,
                },
            ));
        }
        if ends.is_empty() {
            return;
        }
        let mut state = self.lock();
        for (id, obs) in ends {
            let app = obs.app.clone();
            // Still that episode under way, with nothing pending (a turn may have come
            // meanwhile)?
            let still = !state.pending.contains_key(&app)
                && state
                    .stored
                    .get(&app)
                    .and_then(|held| held.record.digest().open.as_deref().map(|e| e.id == id))
                    .unwrap_or(false);
            if !still {
                continue;
            }
            tracing::info!(
                app = %app,
                episode = %id,
                "the app of an episode under way is gone and nobody saw it go: ending the episode as appDeleted (not witnessed)"
            );
            state.push(&app, Pending::Observed(Box::new(obs), String::new()));
        }
        self.after_push(state);
    }
}
