//! The whole HTTP surface of argocd-drift, and what wraps each part.
//!
//! ```text
//! API port (PORT) — reached only through Argo CD's proxy extension
//!   every request:  concurrency cap (503) → declared body cap (413) → shared secret (401)
//!                   → route (404/405) → per-request timeout (503) → identity headers (400)
//!                   → app lookup, project, cluster and query scope (404/403) → handler
//!   GET /api/v1/status        handlers::status      sync, health, operation, freshness
//!
//! Service port (SERVICE_PORT) — cluster-internal: kubelet, Prometheus
//!   every request:  declared body cap (413) → route (404/405)
//!   GET /healthz              handlers::probes      the process is alive
//!   GET /readyz               handlers::probes      first sync done, not shutting down
//!   GET /metrics              handlers::probes      OpenMetrics text
//! ```

use super::error::ApiError;
use super::gate::Gate;
use super::limits::{Limits, check_declared_body};
use super::query::Query;
use super::server::Handler;
use crate::handlers;
use crate::index::AppIndex;
use crate::metrics::Metrics;
use bytes::Bytes;
use http::request::Parts;
use http::{HeaderMap, Method, Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// A route of the API port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ApiRoute {
    Status,
}

impl ApiRoute {
    fn matching(method: &Method, path: &str) -> Result<ApiRoute, ApiError> {
        let (route, allow) = match path {
            "/api/v1/status" => (ApiRoute::Status, "GET"),
            _ => return Err(ApiError::RouteNotFound),
        };
        if method != Method::GET {
            return Err(ApiError::MethodNotAllowed { allow });
        }
        Ok(route)
    }

    /// The metrics label.
    fn label(self) -> &'static str {
        match self {
            ApiRoute::Status => "status",
        }
    }
}

/// A route of the service port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ServiceRoute {
    Healthz,
    Readyz,
    Metrics,
}

impl ServiceRoute {
    fn matching(method: &Method, path: &str) -> Result<ServiceRoute, ApiError> {
        let route = match path {
            "/healthz" => ServiceRoute::Healthz,
            "/readyz" => ServiceRoute::Readyz,
            "/metrics" => ServiceRoute::Metrics,
            _ => return Err(ApiError::RouteNotFound),
        };
        if method != Method::GET {
            return Err(ApiError::MethodNotAllowed { allow: "GET" });
        }
        Ok(route)
    }

    fn label(self) -> &'static str {
        match self {
            ServiceRoute::Healthz => "healthz",
            ServiceRoute::Readyz => "readyz",
            ServiceRoute::Metrics => "metrics",
        }
    }
}

/// Everything the API port's handlers need.
pub struct Api {
    pub gate: Gate,
    pub limits: Limits,
    pub metrics: Arc<Metrics>,
    pub reconcile_stale_after: Duration,
}

impl Handler for Api {
    async fn handle(&self, req: Request<Incoming>, peer: SocketAddr) -> Response<Full<Bytes>> {
        let started = Instant::now();
        // No API route reads a request body; it is dropped unread.
        let (parts, _body) = req.into_parts();
        let mut route_label = "unmatched";
        let result = self.dispatch(&parts, &mut route_label).await;
        let response = match result {
            Ok(response) => response,
            Err(error) => {
                self.log_failure(&error, &parts, peer);
                error.into_response()
            }
        };
        self.metrics.request(
            "api",
            route_label,
            response.status().as_u16(),
            started.elapsed(),
        );
        response
    }
}

impl Api {
    async fn dispatch(
        &self,
        parts: &Parts,
        route_label: &mut &'static str,
    ) -> Result<Response<Full<Bytes>>, ApiError> {
        let _permit = self.limits.admit()?;
        self.limits.check_declared_body(&parts.headers)?;
        self.gate.authenticate(&parts.headers)?;
        let route = ApiRoute::matching(&parts.method, parts.uri.path())?;
        *route_label = route.label();
        let query = Query::parse(parts.uri.query())?;
        let answer = async {
            let ctx = self.gate.admit(&parts.headers, &query).await?;
            match route {
                ApiRoute::Status => handlers::status::get(&ctx, &query, self.reconcile_stale_after),
            }
        };
        match tokio::time::timeout(self.limits.request_timeout, answer).await {
            Ok(result) => result,
            Err(_elapsed) if !self.gate.index().is_ready() => {
                Err(ApiError::NotReady { detail: None })
            }
            Err(_elapsed) => Err(ApiError::Timeout),
        }
    }

    fn log_failure(&self, error: &ApiError, parts: &Parts, peer: SocketAddr) {
        if error.is_security_rejection() {
            self.metrics.rejected(&error.code());
            tracing::warn!(
                target: "argocd_drift::security",
                code = %error.code(),
                // Quoted: the reason can carry request text (text logs must not take it raw).
                reason = ?error.to_string(),
                user = ?claimed(&parts.headers, "argocd-username"),
                user_id = ?claimed(&parts.headers, "argocd-user-id"),
                app = ?claimed(&parts.headers, "argocd-application-name"),
                project = ?claimed(&parts.headers, "argocd-project-name"),
                %peer,
                // The browser's address as Argo CD appends it (earlier entries are client claims).
                forwarded_for = ?claimed_tail(&parts.headers, "x-forwarded-for"),
                method = %parts.method,
                path = parts.uri.path(),
                "request rejected",
            );
        } else if let ApiError::Internal(cause) = error {
            tracing::error!(error = format!("{cause:#}"), method = %parts.method, path = parts.uri.path(), "request failed");
        } else {
            tracing::debug!(code = %error.code(), %peer, method = %parts.method, path = parts.uri.path(), "request refused");
        }
    }
}

/// The most of a claimed header value a log line keeps.
const CLAIM_LOG_CHARS: usize = 256;

/// What a header claims, for a log line: lossy, the first 256 characters, `None` if absent.
fn claimed(headers: &HeaderMap, name: &str) -> Option<String> {
    let value = headers.get(name)?;
    Some(
        String::from_utf8_lossy(value.as_bytes())
            .chars()
            .take(CLAIM_LOG_CHARS)
            .collect(),
    )
}

/// Like [`claimed`], but the *last* 256 characters: proxies append, so for `X-Forwarded-For` the
/// trustworthy entry is at the end and a long forged prefix must not push it out.
fn claimed_tail(headers: &HeaderMap, name: &str) -> Option<String> {
    let value = headers.get(name)?;
    let text = String::from_utf8_lossy(value.as_bytes());
    let skip = text.chars().count().saturating_sub(CLAIM_LOG_CHARS);
    Some(text.chars().skip(skip).collect())
}

/// Everything the service port's handlers need.
pub struct Service {
    pub index: AppIndex,
    pub metrics: Arc<Metrics>,
    pub max_body_bytes: u64,
    /// Turns true on the first shutdown signal; readiness then fails.
    pub shutting_down: watch::Receiver<bool>,
}

impl Handler for Service {
    async fn handle(&self, req: Request<Incoming>, _peer: SocketAddr) -> Response<Full<Bytes>> {
        let started = Instant::now();
        let (parts, _body) = req.into_parts();
        let mut route_label = "unmatched";
        let response = match self.dispatch(&parts, &mut route_label) {
            Ok(response) => response,
            Err(error) => {
                if let ApiError::Internal(cause) = &error {
                    tracing::error!(
                        error = format!("{cause:#}"),
                        path = parts.uri.path(),
                        "service request failed"
                    );
                }
                error.into_response()
            }
        };
        self.metrics.request(
            "service",
            route_label,
            response.status().as_u16(),
            started.elapsed(),
        );
        response
    }
}

impl Service {
    fn dispatch(
        &self,
        parts: &Parts,
        route_label: &mut &'static str,
    ) -> Result<Response<Full<Bytes>>, ApiError> {
        check_declared_body(&parts.headers, self.max_body_bytes)?;
        let route = ServiceRoute::matching(&parts.method, parts.uri.path())?;
        *route_label = route.label();
        match route {
            ServiceRoute::Healthz => Ok(handlers::probes::healthz()),
            ServiceRoute::Readyz => {
                handlers::probes::readyz(&self.index, *self.shutting_down.borrow())
            }
            ServiceRoute::Metrics => handlers::probes::metrics(&self.metrics),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_routes_match_exact_paths_and_methods() {
        assert_eq!(
            ApiRoute::matching(&Method::GET, "/api/v1/status").unwrap(),
            ApiRoute::Status
        );
        assert_eq!(
            ApiRoute::matching(&Method::POST, "/api/v1/status")
                .unwrap_err()
                .code(),
            "METHOD_NOT_ALLOWED"
        );
        for path in [
            "/",
            "/api/v1/status/",
            "/api/v1/STATUS",
            "/healthz",
            "/metrics",
        ] {
            assert_eq!(
                ApiRoute::matching(&Method::GET, path).unwrap_err().code(),
                "ROUTE_NOT_FOUND",
                "{path}"
            );
        }
    }

    #[test]
    fn the_forwarded_for_log_keeps_the_appended_end_of_a_long_forged_header() {
        let mut headers = HeaderMap::new();
        let forged = format!("{}, 203.0.113.7", "198.51.100.1, ".repeat(40));
        headers.insert("x-forwarded-for", forged.parse().unwrap());
        let kept = claimed_tail(&headers, "x-forwarded-for").unwrap();
        assert!(kept.ends_with("203.0.113.7"));
        assert_eq!(kept.chars().count(), CLAIM_LOG_CHARS);
        assert!(
            claimed(&headers, "x-forwarded-for")
                .unwrap()
                .starts_with("198.51.100.1")
        );
    }

    #[test]
    fn probes_and_metrics_exist_only_on_the_service_port() {
        assert_eq!(
            ServiceRoute::matching(&Method::GET, "/readyz").unwrap(),
            ServiceRoute::Readyz
        );
        assert!(ServiceRoute::matching(&Method::GET, "/api/v1/status").is_err());
    }
}
