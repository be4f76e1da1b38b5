//! Prometheus metrics, served on the service port at `/metrics` (OpenMetrics text).
//!
//! Label values are bounded: routes come from the fixed route table, codes from `ApiError`,
//! scopes from `ARGOCD_NAMESPACES`. Nothing a client sends becomes a label.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::time::Duration;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub listener: &'static str,
    pub route: &'static str,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub listener: &'static str,
    pub route: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CodeLabels {
    pub code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ScopeLabels {
    pub scope: String,
}

pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    durations: Family<RouteLabels, Histogram, fn() -> Histogram>,
    rejections: Family<CodeLabels, Counter>,
    applications: Gauge,
    watch_stale: Family<ScopeLabels, Gauge>,
    watch_lists: Family<ScopeLabels, Counter>,
    watch_errors: Family<ScopeLabels, Counter>,
    watch_events: Family<ScopeLabels, Counter>,
}

fn latency_histogram() -> Histogram {
    // 250 µs … ~4 s
    Histogram::new(exponential_buckets(0.000_25, 2.0, 15))
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("argocd_drift");
        let requests = Family::<RequestLabels, Counter>::default();
        let durations = Family::<RouteLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram,
        );
        let rejections = Family::<CodeLabels, Counter>::default();
        let applications = Gauge::default();
        let watch_stale = Family::<ScopeLabels, Gauge>::default();
        let watch_lists = Family::<ScopeLabels, Counter>::default();
        let watch_errors = Family::<ScopeLabels, Counter>::default();
        let watch_events = Family::<ScopeLabels, Counter>::default();
        registry.register("http_requests", "HTTP requests answered", requests.clone());
        registry.register(
            "http_request_duration_seconds",
            "Time to answer an HTTP request",
            durations.clone(),
        );
        registry.register(
            "rejected_requests",
            "Requests refused at the trust boundary, by error code",
            rejections.clone(),
        );
        registry.register(
            "applications",
            "Applications in the index",
            applications.clone(),
        );
        registry.register(
            "watch_stale",
            "1 while the Application watch for a scope cannot reach the API server",
            watch_stale.clone(),
        );
        registry.register(
            "watch_lists",
            "Full lists of Applications (start-up and relists)",
            watch_lists.clone(),
        );
        registry.register(
            "watch_errors",
            "Failed list or watch calls",
            watch_errors.clone(),
        );
        registry.register(
            "watch_events",
            "Application watch events received",
            watch_events.clone(),
        );
        Metrics {
            registry,
            requests,
            durations,
            rejections,
            applications,
            watch_stale,
            watch_lists,
            watch_errors,
            watch_events,
        }
    }

    pub fn request(
        &self,
        listener: &'static str,
        route: &'static str,
        status: u16,
        elapsed: Duration,
    ) {
        self.requests
            .get_or_create(&RequestLabels {
                listener,
                route,
                status,
            })
            .inc();
        self.durations
            .get_or_create(&RouteLabels { listener, route })
            .observe(elapsed.as_secs_f64());
    }

    pub fn rejected(&self, code: &str) {
        self.rejections
            .get_or_create(&CodeLabels {
                code: code.to_string(),
            })
            .inc();
    }

    pub fn set_applications(&self, n: usize) {
        self.applications.set(i64::try_from(n).unwrap_or(i64::MAX));
    }

    pub fn set_stale(&self, scope: &str, stale: bool) {
        self.watch_stale
            .get_or_create(&scope_labels(scope))
            .set(i64::from(stale));
    }

    pub fn listed(&self, scope: &str) {
        self.watch_lists.get_or_create(&scope_labels(scope)).inc();
    }

    pub fn watch_error(&self, scope: &str) {
        self.watch_errors.get_or_create(&scope_labels(scope)).inc();
    }

    pub fn watch_event(&self, scope: &str) {
        self.watch_events.get_or_create(&scope_labels(scope)).inc();
    }

    /// The OpenMetrics text exposition.
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)?;
        Ok(out)
    }
}

fn scope_labels(scope: &str) -> ScopeLabels {
    ScopeLabels {
        scope: scope.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposes_request_and_watch_series_under_one_prefix() {
        let m = Metrics::new();
        m.request("api", "status", 200, Duration::from_millis(1));
        m.rejected("INVALID_CREDENTIALS");
        m.listed("argocd");
        m.set_stale("argocd", true);
        let text = m.encode().unwrap();
        assert!(
            text.contains(
                r#"argocd_drift_http_requests_total{listener="api",route="status",status="200"} 1"#
            ),
            "{text}"
        );
        assert!(
            text.contains(r#"argocd_drift_rejected_requests_total{code="INVALID_CREDENTIALS"} 1"#)
        );
        assert!(text.contains(r#"argocd_drift_watch_lists_total{scope="argocd"} 1"#));
        assert!(text.contains(r#"argocd_drift_watch_stale{scope="argocd"} 1"#));
        assert!(text.ends_with("# EOF\n"));
    }
}
