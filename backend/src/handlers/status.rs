//! `GET /api/v1/status`: the watch-fed Application and the stored drift episode — no cluster
//! is read, so the status panel that polls it on every Application page costs no API call.

use crate::history::History;
use crate::http::gate::AppContext;
use drift_core::history::view::episode_drift;
use drift_core::status::{StatusView, status_view_with};
use jiff::Timestamp;
use std::time::Duration;

/// The status document of the app the gate admitted. `outOfSync` timing comes from the shared
/// drift history, so every replica — and a restarted one — answers the same; from this process's
/// own record only when the history has no episode under way for the app.
pub fn get(
    ctx: &AppContext,
    now: Timestamp,
    reconcile_stale_after: Duration,
    history: &History,
) -> StatusView {
    let key = &ctx.app.app.key;
    let out_of_sync = match history.current(key) {
        Some(Some(stored)) => Some(stored),
        // No episode under way in the history (unreadable, or a turn it has not taken): this
        // process's own record.
        _ => ctx.app.out_of_sync,
    };
    let mut view = status_view_with(
        &ctx.app,
        out_of_sync,
        &ctx.freshness,
        now,
        reconcile_stale_after,
    );
    // What the episode under way holds: the status panel's answer, no cluster read.
    if view.out_of_sync.is_some()
        && let Some(Some(episode)) = history.current_episode(key)
    {
        view.drift = Some(episode_drift(&episode));
    }
    view
}
