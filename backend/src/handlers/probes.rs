//! Liveness, readiness and metrics on the service port.

use crate::http::error::ApiError;
use crate::http::reply::Text;
use crate::metrics::Metrics;
use crate::readiness::Readiness;
use serde::Serialize;

/// `{"status": "ok"}`
#[derive(Debug, PartialEq, Serialize)]
pub struct Health {
    pub status: &'static str,
}

const OK: Health = Health { status: "ok" };

/// Alive as long as the process can answer. Deliberately independent of the API server: a
/// restart would not bring an unreachable API server back.
pub fn healthz() -> Health {
    OK
}

/// Ready once every readiness source is (the first list of Applications in each watched
/// namespace, …), until the first shutdown signal. Stale data (API server unreachable) keeps the
/// pod ready: the last known answer beats none.
pub fn readyz(readiness: &Readiness, shutting_down: bool) -> Result<Health, ApiError> {
    if shutting_down {
        return Err(ApiError::ShuttingDown);
    }
    let waiting = readiness.waiting_for();
    if !waiting.is_empty() {
        return Err(ApiError::NotReady {
            detail: Some(format!("waiting for {}", waiting.join(", "))),
        });
    }
    Ok(OK)
}

pub fn metrics(metrics: &Metrics) -> Result<Text, ApiError> {
    let body = metrics.encode().map_err(|e| ApiError::Internal(e.into()))?;
    Ok(Text {
        content_type: "application/openmetrics-text; version=1.0.0; charset=utf-8",
        body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readiness_says_what_it_waits_for_and_shutting_down_comes_first() {
        let readiness = Readiness::new();
        let source = readiness.source("the first list of applications in namespace argocd");
        source.failed("list: 403 Forbidden: nope");
        let waiting = readyz(&readiness, false).unwrap_err();
        assert_eq!(waiting.code(), "NOT_READY");
        assert!(
            waiting
                .to_string()
                .contains("namespace argocd (list: 403 Forbidden: nope)")
        );
        assert_eq!(
            readyz(&readiness, true).unwrap_err().code(),
            "SHUTTING_DOWN"
        );
        source.ready();
        assert_eq!(readyz(&readiness, false).unwrap(), OK);
    }
}
