//! `GET /api/v1/status`

use crate::http::error::ApiError;
use crate::http::gate::AppContext;
use crate::http::json;
use crate::http::query::Query;
use bytes::Bytes;
use drift_core::status::status_view;
use http::Response;
use http_body_util::Full;
use std::time::Duration;

/// The status document of the app the gate admitted. Takes no query parameters.
pub fn get(
    ctx: &AppContext,
    query: &Query,
    reconcile_stale_after: Duration,
) -> Result<Response<Full<Bytes>>, ApiError> {
    query.only(&[])?;
    let view = status_view(
        &ctx.app,
        &ctx.freshness,
        crate::clock::now(),
        reconcile_stale_after,
    );
    Ok(json::ok(&view))
}
