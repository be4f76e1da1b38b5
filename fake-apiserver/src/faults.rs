//! Fault injection and the request log.
//!
//! [`Faults`] is a cheap, thread-safe handle shared by the server and the test. Every switch
//! takes effect immediately, while the server runs:
//!
//! - [`Faults::set_down`]: the API server becomes unreachable. New TCP connections are
//!   accepted and closed at once (clients see a reset/EOF), and every open connection,
//!   watch streams included, is cut. `set_down(false)` restores service on the same port.
//! - [`Faults::fail_requests`]: matching requests get the given HTTP status with a proper
//!   `Status` body (and `Retry-After` when set), `times` times or until [`Faults::clear`].
//! - [`Faults::delay`]: matching requests wait before being handled.
//! - [`Faults::drop_watches`]: every open watch ends now, cleanly (final empty chunk).
//! - [`Faults::compact`]: the event history is forgotten: watches from an older
//!   resourceVersion get the "too old" `ERROR` event and old continue tokens `410 Expired`.
//! - [`Faults::malformed_watch_line`]: every open watch immediately receives one line that is
//!   not JSON (the events themselves are not lost).
//!
//! The request log records every routed request (verb, resource, namespace, name, status) so
//! tests can assert how many GET/LIST/WATCH calls a component made.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::watch;

use crate::status::ApiError;
use crate::store::Store;

/// An API verb, as fault rules and the request log see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verb {
    Get,
    List,
    Watch,
    Create,
    Update,
    Patch,
    Delete,
    /// `/version`, `/api`, `/apis`, `/api/v1`, `/apis/{group}[/{version}]`, health checks.
    Discovery,
}

impl Verb {
    /// The RBAC verb (`get`, `list`, …; `discovery` for discovery requests).
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Get => "get",
            Verb::List => "list",
            Verb::Watch => "watch",
            Verb::Create => "create",
            Verb::Update => "update",
            Verb::Patch => "patch",
            Verb::Delete => "delete",
            Verb::Discovery => "discovery",
        }
    }
}

/// Injects failures: matching requests get `status` instead of being served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultRule {
    /// Only requests with this verb (any when `None`).
    pub verb: Option<Verb>,
    /// Only this resource: a plural (`configmaps`) or `plural.group`
    /// (`applications.argoproj.io`). Any resource (discovery included) when `None`.
    pub resource: Option<String>,
    /// HTTP status to answer with (429, 500, 503, …).
    pub status: u16,
    /// `Retry-After` seconds (also `details.retryAfterSeconds` in the Status).
    pub retry_after: Option<u32>,
    /// How many requests fail; `None` = until [`Faults::clear`].
    pub times: Option<usize>,
}

impl FaultRule {
    /// Every request fails with `status` until cleared.
    pub fn status(status: u16) -> Self {
        Self {
            verb: None,
            resource: None,
            status,
            retry_after: None,
            times: None,
        }
    }

    pub fn verb(mut self, verb: Verb) -> Self {
        self.verb = Some(verb);
        self
    }

    pub fn resource(mut self, resource: impl Into<String>) -> Self {
        self.resource = Some(resource.into());
        self
    }

    pub fn retry_after(mut self, seconds: u32) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    pub fn times(mut self, times: usize) -> Self {
        self.times = Some(times);
        self
    }
}

/// Which requests a delay applies to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestMatch {
    /// Only requests with this verb (any when `None`).
    pub verb: Option<Verb>,
    /// Only this resource (`plural` or `plural.group`); any when `None`.
    pub resource: Option<String>,
    /// How many requests are affected; `None` = until [`Faults::clear`].
    pub times: Option<usize>,
}

impl RequestMatch {
    /// Every request.
    pub fn any() -> Self {
        Self::default()
    }

    pub fn verb(mut self, verb: Verb) -> Self {
        self.verb = Some(verb);
        self
    }

    pub fn resource(mut self, resource: impl Into<String>) -> Self {
        self.resource = Some(resource.into());
        self
    }

    pub fn times(mut self, times: usize) -> Self {
        self.times = Some(times);
        self
    }
}

/// One served request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecord {
    pub verb: Verb,
    /// API group (`""` for core and for discovery).
    pub group: String,
    /// Resource plural (`""` for discovery).
    pub resource: String,
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub subresource: Option<String>,
    /// HTTP status of the response (200 for a watch that started).
    pub status: u16,
    /// Path and query as received.
    pub uri: String,
}

/// The request's identity as rules see it.
pub(crate) struct RequestInfo<'a> {
    pub verb: Verb,
    pub group: &'a str,
    pub plural: Option<&'a str>,
}

fn matches(verb: Option<Verb>, resource: Option<&str>, req: &RequestInfo<'_>) -> bool {
    if verb.is_some_and(|v| v != req.verb) {
        return false;
    }
    let Some(want) = resource else {
        return true;
    };
    let Some(plural) = req.plural else {
        return false;
    };
    match want.split_once('.') {
        Some((p, g)) => p == plural && g == req.group,
        None => want == plural,
    }
}

/// Consumes one use of a rule; returns whether it is used up.
fn consume(times: &mut Option<usize>) -> bool {
    match times {
        Some(n) => {
            *n = n.saturating_sub(1);
            *n == 0
        }
        None => false,
    }
}

struct Inner {
    store: Store,
    down: watch::Sender<bool>,
    drop_watches: watch::Sender<u64>,
    malformed: watch::Sender<u64>,
    rules: Mutex<Vec<FaultRule>>,
    delays: Mutex<Vec<(RequestMatch, Duration)>>,
    log: Mutex<Vec<RequestRecord>>,
}

/// Fault injection switches for a running [`FakeApiServer`](crate::FakeApiServer).
#[derive(Clone)]
pub struct Faults {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Faults {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Faults")
            .field("down", &self.is_down())
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // The guarded data are plain lists, valid after any panic.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

// === impl Faults ===

impl Faults {
    pub(crate) fn new(store: Store) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                down: watch::Sender::new(false),
                drop_watches: watch::Sender::new(0),
                malformed: watch::Sender::new(0),
                rules: Mutex::new(Vec::new()),
                delays: Mutex::new(Vec::new()),
                log: Mutex::new(Vec::new()),
            }),
        }
    }

    /// Makes the API server unreachable (`true`) or reachable again (`false`).
    pub fn set_down(&self, down: bool) {
        self.inner.down.send_replace(down);
    }

    /// Whether [`Faults::set_down`] is in effect.
    pub fn is_down(&self) -> bool {
        *self.inner.down.borrow()
    }

    /// Fails matching requests with `rule.status`.
    pub fn fail_requests(&self, rule: FaultRule) {
        lock(&self.inner.rules).push(rule);
    }

    /// Delays matching requests by `delay` before handling them.
    pub fn delay(&self, matcher: RequestMatch, delay: Duration) {
        lock(&self.inner.delays).push((matcher, delay));
    }

    /// Removes every failure rule and delay (not `set_down`).
    pub fn clear(&self) {
        lock(&self.inner.rules).clear();
        lock(&self.inner.delays).clear();
    }

    /// Ends every open watch stream now.
    pub fn drop_watches(&self) {
        self.inner.drop_watches.send_modify(|n| *n += 1);
    }

    /// Forgets history (see [`Store::compact`]).
    pub fn compact(&self) {
        self.inner.store.compact();
    }

    /// Writes one garbage (non-JSON) line on every open watch.
    pub fn malformed_watch_line(&self) {
        self.inner.malformed.send_modify(|n| *n += 1);
    }

    /// Every routed request so far, oldest first.
    pub fn request_log(&self) -> Vec<RequestRecord> {
        lock(&self.inner.log).clone()
    }

    /// How many requests with `verb` hit `resource` (`plural` or `plural.group`).
    pub fn request_count(&self, verb: Verb, resource: &str) -> usize {
        lock(&self.inner.log)
            .iter()
            .filter(|r| {
                matches(
                    Some(verb),
                    Some(resource),
                    &RequestInfo {
                        verb: r.verb,
                        group: &r.group,
                        plural: Some(r.resource.as_str()).filter(|p| !p.is_empty()),
                    },
                )
            })
            .count()
    }

    /// Empties the request log.
    pub fn clear_request_log(&self) {
        lock(&self.inner.log).clear();
    }

    pub(crate) fn record(&self, record: RequestRecord) {
        lock(&self.inner.log).push(record);
    }

    /// The failure to inject for this request, if any (consumes one use of the rule).
    pub(crate) fn take_failure(&self, req: &RequestInfo<'_>) -> Option<ApiError> {
        let mut rules = lock(&self.inner.rules);
        let pos = rules
            .iter()
            .position(|r| matches(r.verb, r.resource.as_deref(), req))?;
        let rule = rules[pos].clone();
        if consume(&mut rules[pos].times) {
            rules.remove(pos);
        }
        Some(ApiError::injected(rule.status, rule.retry_after))
    }

    /// The delay to apply to this request, if any (consumes one use of the matcher).
    pub(crate) fn take_delay(&self, req: &RequestInfo<'_>) -> Option<Duration> {
        let mut delays = lock(&self.inner.delays);
        let pos = delays
            .iter()
            .position(|(m, _)| matches(m.verb, m.resource.as_deref(), req))?;
        let delay = delays[pos].1;
        if consume(&mut delays[pos].0.times) {
            delays.remove(pos);
        }
        Some(delay)
    }

    pub(crate) fn down_receiver(&self) -> watch::Receiver<bool> {
        self.inner.down.subscribe()
    }

    pub(crate) fn drop_receiver(&self) -> watch::Receiver<u64> {
        self.inner.drop_watches.subscribe()
    }

    pub(crate) fn malformed_receiver(&self) -> watch::Receiver<u64> {
        self.inner.malformed.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info<'a>(verb: Verb, group: &'a str, plural: &'a str) -> RequestInfo<'a> {
        RequestInfo {
            verb,
            group,
            plural: Some(plural),
        }
    }

    #[test]
    fn a_rule_with_times_expires_after_that_many_requests() {
        let faults = Faults::new(Store::new());
        faults.fail_requests(FaultRule::status(503).verb(Verb::List).times(2));
        let req = info(Verb::List, "", "configmaps");
        assert_eq!(faults.take_failure(&req).map(|e| e.code), Some(503));
        assert!(
            faults
                .take_failure(&info(Verb::Get, "", "configmaps"))
                .is_none()
        );
        assert_eq!(faults.take_failure(&req).map(|e| e.code), Some(503));
        assert!(faults.take_failure(&req).is_none());
    }

    #[test]
    fn resources_match_by_plural_or_plural_dot_group() {
        assert!(matches(
            None,
            Some("applications.argoproj.io"),
            &info(Verb::Get, "argoproj.io", "applications")
        ));
        assert!(matches(
            None,
            Some("applications"),
            &info(Verb::Get, "argoproj.io", "applications")
        ));
        assert!(!matches(
            None,
            Some("deployments.apps"),
            &info(Verb::Get, "", "deployments")
        ));
        let discovery = RequestInfo {
            verb: Verb::Discovery,
            group: "",
            plural: None,
        };
        assert!(!matches(None, Some("configmaps"), &discovery));
        assert!(matches(None, None, &discovery));
    }
}
