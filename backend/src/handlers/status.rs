//! `GET /api/v1/status`

use crate::http::gate::AppContext;
use drift_core::status::{StatusView, status_view};
use jiff::Timestamp;
use std::time::Duration;

/// The status document of the app the gate admitted.
pub fn get(ctx: &AppContext, now: Timestamp, reconcile_stale_after: Duration) -> StatusView {
    status_view(&ctx.app, &ctx.freshness, now, reconcile_stale_after)
}
