//! The sweep: every `HISTORY_SWEEP_INTERVAL_SECONDS`, retention for every record that has
//! something to prune. (Size is bounded on every write; what time alone changes is age, and a
//! count bound lowered by configuration.)

use super::History;
use super::state::Pending;
use drift_core::app::AppKey;
use jiff::Timestamp;

impl History {
    /// Queues retention for every record that has something to prune.
    pub(super) fn sweep(&self, now: Timestamp) {
        let mut state = self.lock();
        let retention = self.shared.settings.retention;
        let cutoff = now.checked_sub(retention.max_age).unwrap_or(now);
        let due: Vec<AppKey> = state
            .stored
            .iter()
            .filter(|(_, held)| {
                let digest = held.record.digest();
                digest.episodes == 0
                    || digest.episodes > retention.max_episodes
                    || digest.oldest_end.is_some_and(|end| end < cutoff)
            })
            .map(|(app, _)| app.clone())
            .collect();
        for app in &due {
            state.push(app, Pending::Retain);
        }
        drop(state);
        if !due.is_empty() {
            tracing::info!(records = due.len(), "pruning drift histories");
            self.shared.wake.notify_one();
        }
    }
}
