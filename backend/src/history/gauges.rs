//! The drifting gauges: apps drifting per project (and per class of the managers behind the
//! drift), and seconds drifting per app — from the
//! read model's digests, never by unpacking a record.

use super::History;
use drift_core::app::AppKey;
use drift_core::history::managers;
use jiff::Timestamp;
use std::collections::HashMap;

impl History {
    /// Counts the write side's maps at each scrape (`held_entries`): apps known, and the work
    /// queued, under way, retried or refused, which must drain back at rest.
    pub(super) fn count_held(&self) {
        self.shared.metrics.count_held_by::<_, super::state::State>(
            &self.shared,
            |shared, count| count(&super::lock(&shared.state)),
            &[
                ("history_apps", |s| s.stored.len()),
                ("history_labels", |s| s.labels.len()),
                ("history_pending_apps", |s| s.pending.len()),
                ("history_writes_in_flight", |s| s.in_flight.len()),
                ("history_dropped_in_flight", |s| s.dropped_in_flight.len()),
                ("history_retrying", |s| s.retry_at.len()),
                ("history_failing", |s| s.failures.len()),
                ("history_blocked", |s| s.blocked.len()),
                ("history_drifting_series", |s| s.drifting_series.len()),
            ],
        );
    }

    pub(super) fn update_gauges(&self, now: Timestamp) {
        let currents = self.shared.reads.currents();
        let mut state = self.lock();
        let mut drifting_by_project: HashMap<String, i64> = HashMap::new();
        let mut drifting: HashMap<AppKey, (String, String, i64)> = HashMap::new();
        let mut by_class: HashMap<(String, &'static str), i64> = HashMap::new();
        for (app, open) in currents {
            if let Some(open) = open {
                let (project, destination) = state.labels.get(&app).cloned().unwrap_or_default();
                *drifting_by_project.entry(project.clone()).or_default() += 1;
                // The managers behind the episode under way, as a class (never their names).
                let class = match self.shared.reads.current_episode(&app) {
                    Some(Some(episode)) => managers::class_of(
                        episode
                            .resources
                            .iter()
                            .flat_map(|r| r.managers.iter().map(String::as_str)),
                    ),
                    _ => "unknown",
                };
                *by_class.entry((project.clone(), class)).or_default() += 1;
                let seconds = now.duration_since(open.observed_since).as_secs().max(0);
                drifting.insert(app, (project, destination, seconds));
            }
        }
        let gone: Vec<(AppKey, (String, String))> = state
            .drifting_series
            .iter()
            .filter(|(app, labels)| {
                drifting
                    .get(*app)
                    .is_none_or(|(p, d, _)| (p, d) != (&labels.0, &labels.1))
            })
            .map(|(app, labels)| (app.clone(), labels.clone()))
            .collect();
        let metrics = &self.shared.metrics;
        // A series goes when its episode ends, or when the app's labels changed (another project).
        for (app, (project, destination)) in gone {
            metrics.clear_app_drifting(&app.to_string(), &project, &destination);
            state.drifting_series.remove(&app);
        }
        for (app, (project, destination, seconds)) in drifting {
            metrics.set_app_drifting(&app.to_string(), &project, &destination, seconds);
            state.drifting_series.insert(app, (project, destination));
        }
        metrics.set_apps_drifting(drifting_by_project);
        metrics.set_apps_drifting_by_manager_class(by_class);
        metrics.set_history_records(state.stored.len(), state.invalid.len());
        state.release_slack();
    }
}
