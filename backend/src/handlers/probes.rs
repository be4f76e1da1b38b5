//! Liveness, readiness and metrics on the service port.

use crate::http::error::ApiError;
use crate::http::json;
use crate::index::AppIndex;
use crate::metrics::Metrics;
use bytes::Bytes;
use http::{Response, StatusCode};
use http_body_util::Full;
use serde::Serialize;

#[derive(Serialize)]
struct Ok {
    status: &'static str,
}

/// Alive as long as the process can answer. Deliberately independent of the API server: a
/// restart would not bring an unreachable API server back.
pub fn healthz() -> Response<Full<Bytes>> {
    json::ok(&Ok { status: "ok" })
}

/// Ready once every watched namespace has been listed, until the first shutdown signal. Stale
/// data (API server unreachable) keeps the pod ready: the last known answer beats none.
pub fn readyz(index: &AppIndex, shutting_down: bool) -> Result<Response<Full<Bytes>>, ApiError> {
    if shutting_down {
        return Err(ApiError::ShuttingDown);
    }
    if !index.is_ready() {
        return Err(ApiError::NotReady);
    }
    Ok(json::ok(&Ok { status: "ok" }))
}

pub fn metrics(metrics: &Metrics) -> Result<Response<Full<Bytes>>, ApiError> {
    let text = metrics.encode().map_err(|e| ApiError::Internal(e.into()))?;
    Ok(json::with_type(
        StatusCode::OK,
        Bytes::from(text),
        "application/openmetrics-text; version=1.0.0; charset=utf-8",
    ))
}
