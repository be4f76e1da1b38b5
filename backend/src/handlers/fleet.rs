//! `GET /api/v1/fleet` on the reports port: every app with a drift episode under way, for Grafana
//! Infinity (the shaping is `drift_core::history::fleet`).

use crate::history::History;
use crate::http::error::ApiError;
use crate::http::query::Query;
use crate::index::{AppIndex, Lookup};
use drift_core::history::fleet::{FleetEntry, FleetFilter, FleetView, fleet_view};
use jiff::Timestamp;

/// `GET /api/v1/fleet[?project=&destination=&application=&witnessed=&manager_class=]`. Other
/// parameters are ignored, as `/status.json` ignores them; a malformed value is a 400.
pub fn fleet(
    history: &History,
    index: &AppIndex,
    query: Option<&str>,
    now: Timestamp,
) -> Result<FleetView, ApiError> {
    let query = Query::parse(query)?;
    let filter = FleetFilter::parse(|name| query.get(name)).map_err(ApiError::InvalidQuery)?;
    let entries = history
        .drifting_episodes()
        .into_iter()
        .map(|(app, episode, last_end)| {
            // Project and destination from the Application as it is now; an app gone from the
            // index (deleted, its end not yet recorded) keeps empty ones.
            let (project, destination) = match index.lookup(&app) {
                Lookup::Found { app: found, .. } => {
                    let spec = &found.app.spec;
                    let destination = spec
                        .destination
                        .server()
                        .or(spec.destination.name())
                        .unwrap_or_default()
                        .to_string();
                    (spec.project().to_string(), destination)
                }
                _ => (String::new(), String::new()),
            };
            FleetEntry {
                app,
                project,
                destination,
                episode,
                last_end,
            }
        })
        .collect();
    Ok(fleet_view(entries, history.is_listed(), &filter, now))
}
