//! What every port does with a request, whatever its routes: one pipeline, so a new port is only
//! a new route table.
//!
//! ```text
//! head ─▶ authenticate (401) ─▶ concurrency cap (503) ─▶ declared body cap (413) ─▶ route (404/405)
//!      ─▶ ┌ request timeout (503) ──────────────────────────────────────────────┐
//!         │ read the body, capped (413) ─▶ Routes::serve ─▶ Reply or ApiError │ ─▶ response
//!         └───────────────────────────────────────────────────────────────────┘
//! ```
//!
//! The secret is checked first (it is as cheap as the caps), so a caller without it learns
//! nothing — not even that the server is shedding load — and every refusal of such a caller is a
//! security event. Every answer is counted by port, route and status; every refusal at the trust
//! boundary goes to the [`SecurityLog`].
//!
//! Every request runs in a `request` span: `id` (also sent back as `X-Request-Id`), `listener`,
//! `route` once routed and `app` (Argo CD's `Argocd-Application-Name`, when sent), so each log
//! line of one request — and of the calls it makes — can be followed.
//!
//! [`Endpoint::call`] takes any request body, so tests call a port in-process with a
//! `Request<Full<Bytes>>` exactly as the listener calls it with hyper's `Incoming`.

use super::error::ApiError;
use super::limits::Limits;
use super::seclog::SecurityLog;
use crate::metrics::Metrics;
use bytes::Bytes;
use http::request::Parts;
use http::{Method, Request, Response};
use http_body::Body;
use http_body_util::{BodyExt, Full, Limited};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;
use tracing::Instrument;

/// The response header carrying the request's id (the `id` field of its log lines).
pub const REQUEST_ID: &str = "x-request-id";

/// A process-unique request id: a random per-process prefix (so replicas' ids differ) and a
/// counter.
fn next_request_id() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    static PREFIX: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    let prefix = PREFIX.get_or_init(|| {
        use std::hash::BuildHasher;
        // Truncation intended: 32 random bits are enough to tell processes apart.
        std::collections::hash_map::RandomState::new().hash_one(std::process::id()) as u32
    });
    format!("{prefix:08x}-{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// One port's route table: what the pipeline asks of it.
pub trait Routes: Send + Sync + 'static {
    /// The port's name in metrics and logs: `api`, `service`, `reports`.
    const LISTENER: &'static str;
    type Route: Copy + Send + Sync;

    /// Refusals that need only the request head and come before anything else (the shared
    /// secret on the API port). Default: none.
    fn authenticate(&self, _head: &Parts) -> Result<(), ApiError> {
        Ok(())
    }

    /// The route for a method and path, or 404 / 405.
    fn route(&self, method: &Method, path: &str) -> Result<Self::Route, ApiError>;

    /// The route's label in metrics.
    fn label(route: Self::Route) -> &'static str;

    /// Answers a routed request whose body has been read (within the body cap).
    fn serve(
        &self,
        route: Self::Route,
        request: Request<Bytes>,
        peer: SocketAddr,
    ) -> impl Future<Output = Result<Response<http_body_util::Full<Bytes>>, ApiError>> + Send;

    /// What a request that outlives the request timeout is told.
    fn timed_out(&self) -> ApiError {
        ApiError::Timeout
    }

    /// The answer for a refused or failed request, at any step of the pipeline. Default: the
    /// project's error shape. (The reports port answers its compat routes in the old shape.)
    fn error_response(&self, _head: &Parts, error: ApiError) -> Response<Full<Bytes>> {
        error.into_response()
    }
}

/// A port: its routes behind the common pipeline.
pub struct Endpoint<R> {
    routes: R,
    limits: Limits,
    metrics: Arc<Metrics>,
    security: Arc<SecurityLog>,
}

impl<R: Routes> Endpoint<R> {
    pub fn new(routes: R, limits: Limits, metrics: Arc<Metrics>) -> Self {
        let security = Arc::new(SecurityLog::new());
        for i in 0..3 {
            let log = Arc::downgrade(&security);
            let (map, _) = security.held()[i];
            metrics.count_held(map, move || log.upgrade().map(|log| log.held()[i].1));
        }
        Endpoint {
            routes,
            limits,
            metrics,
            security,
        }
    }

    pub fn routes(&self) -> &R {
        &self.routes
    }

    /// Answers one request. Never fails: every error is already a response.
    pub async fn call<B>(&self, request: Request<B>, peer: SocketAddr) -> Response<Full<Bytes>>
    where
        B: Body<Data = Bytes> + Send,
        B::Error: std::error::Error + Send + Sync + 'static,
    {
        let started = Instant::now();
        let (head, body) = request.into_parts();
        let id = next_request_id();
        let app = head
            .headers
            .get("argocd-application-name")
            .and_then(|v| v.to_str().ok())
            .map(|v| super::seclog::bounded(v, false));
        let span = tracing::info_span!(
            "request",
            id = %id,
            listener = R::LISTENER,
            route = tracing::field::Empty,
            app = app.as_deref(),
        );
        let mut label = "unmatched";
        let mut response = async {
            match self.answer(&head, body, peer, &mut label).await {
                Ok(response) => response,
                Err(error) => {
                    self.log_failure(&error, &head, peer);
                    self.routes.error_response(&head, error)
                }
            }
        }
        .instrument(span)
        .await;
        if let Ok(value) = http::HeaderValue::from_str(&id) {
            response.headers_mut().insert(REQUEST_ID, value);
        }
        self.metrics.request(
            R::LISTENER,
            label,
            response.status().as_u16(),
            started.elapsed(),
        );
        response
    }

    async fn answer<B>(
        &self,
        head: &Parts,
        body: B,
        peer: SocketAddr,
        label: &mut &'static str,
    ) -> Result<Response<Full<Bytes>>, ApiError>
    where
        B: Body<Data = Bytes> + Send,
        B::Error: std::error::Error + Send + Sync + 'static,
    {
        self.routes.authenticate(head)?;
        let permit = super::limits::RequestPermit::new(self.limits.admit()?);
        let _in_flight = self.metrics.in_flight(R::LISTENER);
        self.limits.check_declared_body(&head.headers)?;
        let route = self.routes.route(&head.method, head.uri.path())?;
        *label = R::label(route);
        tracing::Span::current().record("route", *label);
        let answer = async {
            let body = read_capped(body, self.limits.max_body_bytes).await?;
            let mut request = Request::from_parts(head.clone(), body);
            // The slot is released when the last clone goes: the handler's blocking work may hold one.
            request.extensions_mut().insert(permit.clone());
            self.routes.serve(route, request, peer).await
        };
        match tokio::time::timeout(self.limits.request_timeout, answer).await {
            Ok(result) => result,
            Err(_elapsed) => Err(self.routes.timed_out()),
        }
    }

    fn log_failure(&self, error: &ApiError, head: &Parts, peer: SocketAddr) {
        if error.is_security_rejection() {
            let code = error.code().as_str();
            self.metrics.rejected(code);
            self.security.refused(code, &error.to_string(), head, peer);
        } else if let ApiError::Internal(cause) = error {
            tracing::error!(
                listener = R::LISTENER,
                error = format!("{cause:#}"),
                method = %head.method,
                path = %super::seclog::bounded(head.uri.path(), false),
                "request failed"
            );
        } else {
            tracing::debug!(
                listener = R::LISTENER,
                code = %error.code(),
                %peer,
                method = %head.method,
                path = %super::seclog::bounded(head.uri.path(), false),
                "request refused"
            );
        }
    }
}

/// The whole body, or `BodyTooLarge` once it passes `max` bytes (a chunked body declares no
/// length, so the declared-length check alone is not enough).
async fn read_capped<B>(body: B, max: u64) -> Result<Bytes, ApiError>
where
    B: Body<Data = Bytes> + Send,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let limit = usize::try_from(max).unwrap_or(usize::MAX);
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.is::<http_body_util::LengthLimitError>() => {
            Err(ApiError::BodyTooLarge { limit: max })
        }
        Err(error) => Err(ApiError::BodyUnreadable(error.to_string())),
    }
}
