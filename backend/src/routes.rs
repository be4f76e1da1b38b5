//! The whole HTTP surface of argocd-drift: every port, every route, and what wraps each.
//!
//! ```text
//! Every port (http::endpoint): authenticate → concurrency cap (503) → declared body cap (413)
//!   → route (404/405) → request timeout (503) → body read, capped (413) → handler
//! Every connection (http::listener): head ≤ 64 KiB and ≤ 100 fields (431), header read timeout,
//!   write timeout, connection cap
//!
//! API port (PORT) — reached only through Argo CD's proxy extension
//!   authenticate:   the shared secret (401)
//!   every route:    identity headers (400) → app lookup (404) → project, cluster claims (403)
//!                   → query: syntax (400) → scope (403) → unknown parameters (400)   [http::gate]
//!   GET /api/v1/status          handlers::status  sync, health, operation, freshness
//!                                                 (+ the app's reports summary)
//!   GET /api/v1/drift           handlers::drift   the app's drifted resources and fields (?all)
//!   GET /api/v1/drift/resource  handlers::drift   one resource in depth (?group&version&kind
//!                                                 &namespace&name; must be the app's: 403)
//!   GET /api/v1/history         handlers::history the app's drift episodes, newest first, and
//!                                                 totals (?limit&cursor)
//!   GET /api/v1/reports         handlers::reports the external reports of the app, only
//!
//! Reports port (REPORTS_PORT) — reporters and Grafana; never through Argo CD
//!   authenticate:   POST, DELETE: a reporter token (401); GET /status.json, /api/v1/fleet: a
//!                   read token if configured (401); /health: none. Compat paths answer errors in the old
//!                   shape (http::compat).
//!   POST   /api/status        handlers::reports     the old contract: ingest (403 outside the
//!                                                   token's repos)
//!   POST   /api/v1/reports    handlers::reports     ingest, richer body, strict
//!   DELETE /api/v1/reports    handlers::reports     ?repo=&server=: delete one report
//!   GET    /status.json       handlers::reports     every report (filters), the old contract
//!   GET    /api/v1/fleet      handlers::fleet       every app drifting now (filters), for Grafana
//!   GET    /health            handlers::reports     alive, tracked_repos
//!
//! Service port (SERVICE_PORT) — cluster-internal: kubelet, Prometheus
//!   GET /healthz              handlers::probes      the process is alive
//!   GET /readyz               handlers::probes      every readiness source ready, not shutting down
//!   GET /metrics              handlers::probes      OpenMetrics text
//! ```
//!
//! Handlers take typed inputs and return views; this module wraps them in a [`Reply`].

use crate::config::ProxyAuth;
use crate::handlers;
use crate::handlers::drift::{Drift, DriftQuery, ResourceQuery};
use crate::handlers::history::HistoryQuery;
use crate::history::History;
use crate::http::endpoint::{Endpoint, Routes};
use crate::http::error::ApiError;
use crate::http::gate::Gate;
use crate::http::limits::{Limits, RequestPermit};
use crate::http::query::NoParams;
use crate::http::reply::{Json, JsonBytes, Reply};
use crate::http::reporters::ReporterAuth;
use crate::index::AppIndex;
use crate::metrics::Metrics;
use crate::readiness::Readiness;
use crate::reports::{ReportStore, ReportWriter};
use bytes::Bytes;
use drift_core::reports::parse::Flavor;
use http::request::Parts;
use http::{Method, Request, Response};
use http_body_util::Full;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// A route table: `(path, route, method)`; a path may appear once per method.
type Table<R> = [(&'static str, R, &'static str)];

/// The route for a method and exact path: 404 for an unknown path, 405 naming the allowed
/// method(s) for a known path with another method.
fn matching<R: Copy>(table: &Table<R>, method: &Method, path: &str) -> Result<R, ApiError> {
    let mut allowed: Vec<&'static str> = Vec::new();
    for &(p, route, m) in table {
        if p == path {
            if m == method.as_str() {
                return Ok(route);
            }
            allowed.push(m);
        }
    }
    if allowed.is_empty() {
        Err(ApiError::RouteNotFound)
    } else {
        Err(ApiError::MethodNotAllowed {
            allow: allowed.join(", "),
        })
    }
}

fn reply(result: Result<impl Reply, ApiError>) -> Result<Response<Full<Bytes>>, ApiError> {
    result.map(Reply::into_response)
}

// === API port ===

/// A route of the API port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApiRoute {
    Status,
    Drift,
    DriftResource,
    History,
    Reports,
}

const API_ROUTES: &Table<ApiRoute> = &[
    ("/api/v1/status", ApiRoute::Status, "GET"),
    ("/api/v1/drift", ApiRoute::Drift, "GET"),
    ("/api/v1/drift/resource", ApiRoute::DriftResource, "GET"),
    ("/api/v1/history", ApiRoute::History, "GET"),
    ("/api/v1/reports", ApiRoute::Reports, "GET"),
];

/// The API port, ready to call: in-process in tests, behind a listener in the server.
pub type Api = Endpoint<ApiRoutes>;

/// What the API port is built from.
pub struct ApiDeps {
    pub proxy_auth: ProxyAuth,
    pub index: AppIndex,
    pub limits: Limits,
    pub metrics: Arc<Metrics>,
    pub reconcile_stale_after: Duration,
    pub drift: Drift,
    pub history: History,
    /// External reports, for the app's reports and its status summary.
    pub reports: ReportStore,
}

/// Builds the API port.
pub fn api(deps: ApiDeps) -> Api {
    let ApiDeps {
        proxy_auth,
        index,
        limits,
        metrics,
        reconcile_stale_after,
        drift,
        history,
        reports,
    } = deps;
    Endpoint::new(
        ApiRoutes {
            gate: Gate::new(proxy_auth, index),
            reconcile_stale_after,
            drift,
            history,
            reports,
        },
        limits,
        metrics,
    )
}

/// What the API port's handlers need.
pub struct ApiRoutes {
    pub gate: Gate,
    pub reconcile_stale_after: Duration,
    pub drift: Drift,
    pub history: History,
    pub reports: ReportStore,
}

impl Routes for ApiRoutes {
    const LISTENER: &'static str = "api";
    type Route = ApiRoute;

    fn authenticate(&self, head: &Parts) -> Result<(), ApiError> {
        self.gate.authenticate(&head.headers)
    }

    fn route(&self, method: &Method, path: &str) -> Result<ApiRoute, ApiError> {
        matching(API_ROUTES, method, path)
    }

    fn label(route: ApiRoute) -> &'static str {
        match route {
            ApiRoute::Status => "status",
            ApiRoute::Drift => "drift",
            ApiRoute::DriftResource => "drift_resource",
            ApiRoute::History => "history",
            ApiRoute::Reports => "reports",
        }
    }

    async fn serve(
        &self,
        route: ApiRoute,
        request: Request<Bytes>,
        _peer: SocketAddr,
    ) -> Result<Response<Full<Bytes>>, ApiError> {
        let (headers, uri) = (request.headers(), request.uri());
        match route {
            ApiRoute::Status => {
                let (ctx, NoParams) = self.gate.admit::<NoParams>(headers, uri).await?;
                let now = crate::clock::now();
                let mut view =
                    handlers::status::get(&ctx, now, self.reconcile_stale_after, &self.history);
                view.reports = handlers::reports::summary(&ctx, &self.reports, now);
                reply(Ok(Json(view)))
            }
            ApiRoute::Reports => {
                let (ctx, NoParams) = self.gate.admit::<NoParams>(headers, uri).await?;
                if !self.reports.is_ready() {
                    self.reports.wait_ready().await;
                }
                reply(Ok(Json(handlers::reports::for_app(
                    &ctx,
                    &self.reports,
                    crate::clock::now(),
                ))))
            }
            ApiRoute::Drift => {
                let hold = request.extensions().get::<RequestPermit>().cloned();
                let (ctx, query) = self.gate.admit::<DriftQuery>(headers, uri).await?;
                reply(
                    handlers::drift::list(&ctx, query, &self.drift, &self.history, hold)
                        .await
                        .map(Json),
                )
            }
            ApiRoute::History => {
                let (ctx, query) = self.gate.admit::<HistoryQuery>(headers, uri).await?;
                reply(Ok(Json(handlers::history::get(
                    &ctx,
                    &query,
                    &self.history,
                    crate::clock::now(),
                ))))
            }
            ApiRoute::DriftResource => {
                let hold = request.extensions().get::<RequestPermit>().cloned();
                let (ctx, query) = self.gate.admit::<ResourceQuery>(headers, uri).await?;
                reply(
                    handlers::drift::resource(&ctx, query, &self.drift, hold)
                        .await
                        .map(Json),
                )
            }
        }
    }

    /// Only waiting for the first list of Applications (or of reports) can take that long today.
    fn timed_out(&self) -> ApiError {
        if !self.gate.index().is_ready() {
            ApiError::NotReady { detail: None }
        } else if !self.reports.is_ready() {
            ApiError::ReportsNotReady
        } else {
            ApiError::Timeout
        }
    }
}

// === Reports port ===

/// A route of the reports port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReportsRoute {
    IngestCompat,
    Ingest,
    Delete,
    StatusJson,
    Fleet,
    Health,
}

const REPORTS_ROUTES: &Table<ReportsRoute> = &[
    ("/api/status", ReportsRoute::IngestCompat, "POST"),
    ("/api/v1/reports", ReportsRoute::Ingest, "POST"),
    ("/api/v1/reports", ReportsRoute::Delete, "DELETE"),
    ("/status.json", ReportsRoute::StatusJson, "GET"),
    ("/api/v1/fleet", ReportsRoute::Fleet, "GET"),
    ("/health", ReportsRoute::Health, "GET"),
];

/// The reports port, ready to call.
pub type ReportsPort = Endpoint<ReportsRoutes>;

/// What the reports port is built from.
pub struct ReportsDeps {
    pub auth: Arc<ReporterAuth>,
    pub writer: ReportWriter,
    /// The fleet document's sources.
    pub history: History,
    pub index: AppIndex,
    pub limits: Limits,
    pub metrics: Arc<Metrics>,
}

/// Builds the reports port.
pub fn reports(deps: ReportsDeps) -> ReportsPort {
    let ReportsDeps {
        auth,
        writer,
        history,
        index,
        limits,
        metrics,
    } = deps;
    Endpoint::new(
        ReportsRoutes {
            auth,
            writer,
            history,
            index,
            metrics: Arc::clone(&metrics),
        },
        limits,
        metrics,
    )
}

/// What the reports port's handlers need.
pub struct ReportsRoutes {
    pub auth: Arc<ReporterAuth>,
    pub writer: ReportWriter,
    pub history: History,
    pub index: AppIndex,
    pub metrics: Arc<Metrics>,
}

impl ReportsRoutes {
    fn is_ingest(method: &Method, path: &str) -> bool {
        *method == Method::POST && matches!(path, "/api/status" | "/api/v1/reports")
    }
}

impl Routes for ReportsRoutes {
    const LISTENER: &'static str = "reports";
    type Route = ReportsRoute;

    /// Tokens before anything else, as on the API port: a caller without one learns nothing.
    fn authenticate(&self, head: &Parts) -> Result<(), ApiError> {
        let path = head.uri.path();
        if Self::is_ingest(&head.method, path)
            || (head.method == Method::DELETE && path == "/api/v1/reports")
        {
            self.auth.identify(&head.headers).map(|_| ())
        } else if head.method == Method::GET && matches!(path, "/status.json" | "/api/v1/fleet") {
            self.auth.check_read(&head.headers)
        } else {
            Ok(())
        }
    }

    fn route(&self, method: &Method, path: &str) -> Result<ReportsRoute, ApiError> {
        matching(REPORTS_ROUTES, method, path)
    }

    fn label(route: ReportsRoute) -> &'static str {
        match route {
            ReportsRoute::IngestCompat => "ingest_compat",
            ReportsRoute::Ingest => "ingest",
            ReportsRoute::Delete => "delete",
            ReportsRoute::StatusJson => "status_json",
            ReportsRoute::Fleet => "fleet",
            ReportsRoute::Health => "health",
        }
    }

    async fn serve(
        &self,
        route: ReportsRoute,
        request: Request<Bytes>,
        _peer: SocketAddr,
    ) -> Result<Response<Full<Bytes>>, ApiError> {
        let now = crate::clock::now();
        let store = self.writer.store();
        match route {
            ReportsRoute::IngestCompat | ReportsRoute::Ingest => {
                let identity = self.auth.identify(request.headers())?;
                let flavor = if route == ReportsRoute::Ingest {
                    Flavor::V1
                } else {
                    Flavor::Compat
                };
                let ack = handlers::reports::ingest(
                    &self.writer,
                    &self.metrics,
                    &identity,
                    request.body(),
                    flavor,
                    now,
                )
                .await?;
                match flavor {
                    Flavor::Compat => reply(Ok(Json(drift_core::reports::view::COMPAT_ACK))),
                    Flavor::V1 => reply(Ok(Json(ack))),
                }
            }
            ReportsRoute::Delete => {
                let identity = self.auth.identify(request.headers())?;
                reply(
                    handlers::reports::delete(&self.writer, &identity, request.uri().query())
                        .await
                        .map(Json),
                )
            }
            ReportsRoute::StatusJson => reply(
                handlers::reports::status_json(store, request.uri().query(), now)
                    .await
                    .map(JsonBytes),
            ),
            ReportsRoute::Fleet => reply(
                handlers::fleet::fleet(&self.history, &self.index, request.uri().query(), now)
                    .map(Json),
            ),
            ReportsRoute::Health => reply(Ok(Json(handlers::reports::health(store, now)))),
        }
    }

    /// Only waiting for the first list of reports can take that long.
    fn timed_out(&self) -> ApiError {
        if self.writer.store().is_ready() {
            ApiError::Timeout
        } else {
            ApiError::ReportsNotReady
        }
    }

    /// Compat paths answer in the old shape; refused reports are counted by reason.
    fn error_response(&self, head: &Parts, error: ApiError) -> Response<Full<Bytes>> {
        let path = head.uri.path();
        if Self::is_ingest(&head.method, path)
            && let Some(reason) = handlers::reports::rejection_reason(&error)
        {
            self.metrics.report_rejected(reason);
        }
        if crate::http::compat::is_compat_path(path) {
            crate::http::compat::error_response(error)
        } else {
            error.into_response()
        }
    }
}

// === Service port ===

/// A route of the service port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServiceRoute {
    Healthz,
    Readyz,
    Metrics,
}

const SERVICE_ROUTES: &Table<ServiceRoute> = &[
    ("/healthz", ServiceRoute::Healthz, "GET"),
    ("/readyz", ServiceRoute::Readyz, "GET"),
    ("/metrics", ServiceRoute::Metrics, "GET"),
];

/// What the service port's handlers need.
pub struct ServiceRoutes {
    pub readiness: Readiness,
    pub metrics: Arc<Metrics>,
    /// Turns true on the first shutdown signal; readiness then fails.
    pub shutting_down: watch::Receiver<bool>,
}

impl Routes for ServiceRoutes {
    const LISTENER: &'static str = "service";
    type Route = ServiceRoute;

    fn route(&self, method: &Method, path: &str) -> Result<ServiceRoute, ApiError> {
        matching(SERVICE_ROUTES, method, path)
    }

    fn label(route: ServiceRoute) -> &'static str {
        match route {
            ServiceRoute::Healthz => "healthz",
            ServiceRoute::Readyz => "readyz",
            ServiceRoute::Metrics => "metrics",
        }
    }

    async fn serve(
        &self,
        route: ServiceRoute,
        _request: Request<Bytes>,
        _peer: SocketAddr,
    ) -> Result<Response<Full<Bytes>>, ApiError> {
        match route {
            ServiceRoute::Healthz => reply(Ok(Json(handlers::probes::healthz()))),
            ServiceRoute::Readyz => reply(
                handlers::probes::readyz(&self.readiness, *self.shutting_down.borrow()).map(Json),
            ),
            ServiceRoute::Metrics => reply(handlers::probes::metrics(&self.metrics)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_match_exact_paths_then_methods() {
        assert_eq!(
            matching(API_ROUTES, &Method::GET, "/api/v1/status").unwrap(),
            ApiRoute::Status
        );
        let wrong_method = matching(API_ROUTES, &Method::POST, "/api/v1/status").unwrap_err();
        assert_eq!(wrong_method.code(), "METHOD_NOT_ALLOWED");
        assert!(matches!(wrong_method, ApiError::MethodNotAllowed { allow } if allow == "GET"));
        for path in [
            "/",
            "/api/v1/status/",
            "/api/v1/STATUS",
            "/healthz",
            "/metrics",
        ] {
            assert_eq!(
                matching(API_ROUTES, &Method::GET, path).unwrap_err().code(),
                "ROUTE_NOT_FOUND",
                "{path}"
            );
        }
    }

    #[test]
    fn reports_routes_live_only_on_the_reports_port() {
        for (path, route, method) in REPORTS_ROUTES {
            let method = Method::from_bytes(method.as_bytes()).unwrap();
            assert_eq!(matching(REPORTS_ROUTES, &method, path).unwrap(), *route);
            assert!(matching(SERVICE_ROUTES, &method, path).is_err());
            if *path != "/api/v1/reports" {
                assert!(matching(API_ROUTES, &method, path).is_err(), "{path}");
            }
        }
        // Reporters cannot POST through Argo CD, and the proxy's read is not on the reports port.
        assert_eq!(
            matching(API_ROUTES, &Method::POST, "/api/v1/reports")
                .unwrap_err()
                .code(),
            "METHOD_NOT_ALLOWED"
        );
        assert_eq!(
            matching(REPORTS_ROUTES, &Method::GET, "/api/v1/reports")
                .unwrap_err()
                .code(),
            "METHOD_NOT_ALLOWED"
        );
        assert!(matching(REPORTS_ROUTES, &Method::GET, "/api/v1/status").is_err());
    }

    #[test]
    fn probes_and_metrics_exist_only_on_the_service_port_and_the_api_only_on_its_own() {
        for (path, route) in [
            ("/healthz", ServiceRoute::Healthz),
            ("/readyz", ServiceRoute::Readyz),
            ("/metrics", ServiceRoute::Metrics),
        ] {
            assert_eq!(matching(SERVICE_ROUTES, &Method::GET, path).unwrap(), route);
            assert_eq!(
                matching(API_ROUTES, &Method::GET, path).unwrap_err().code(),
                "ROUTE_NOT_FOUND"
            );
        }
        for (path, _, _) in API_ROUTES {
            assert_eq!(
                matching(SERVICE_ROUTES, &Method::GET, path)
                    .unwrap_err()
                    .code(),
                "ROUTE_NOT_FOUND"
            );
        }
    }
}
