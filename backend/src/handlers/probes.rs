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
        return Err(ApiError::NotReady {
            detail: Some(waiting_for(index)),
        });
    }
    Ok(json::ok(&Ok { status: "ok" }))
}

/// Which scopes have not listed yet, and the last error of each: the first thing to read when
/// the pod never turns ready (typically RBAC not allowing `list applications`).
fn waiting_for(index: &AppIndex) -> String {
    let pending: Vec<String> = index
        .freshness()
        .into_iter()
        .filter(|(_, f)| !f.synced)
        .map(|(scope, f)| match f.last_error {
            Some(error) => format!("namespace {} ({error})", scope.label()),
            None => format!("namespace {} (listing)", scope.label()),
        })
        .collect();
    format!(
        "waiting for the first list of applications in {}",
        pending.join(", ")
    )
}

pub fn metrics(metrics: &Metrics) -> Result<Response<Full<Bytes>>, ApiError> {
    let text = metrics.encode().map_err(|e| ApiError::Internal(e.into()))?;
    Ok(json::with_type(
        StatusCode::OK,
        Bytes::from(text),
        "application/openmetrics-text; version=1.0.0; charset=utf-8",
    ))
}
