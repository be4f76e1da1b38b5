//! A list+watch loop for any kind, feeding a [`Sink`].
//!
//! Written out rather than taken from `kube::runtime::watcher`, because freshness is part of the
//! product: answers say whether their data is live, so the loop must know exactly when it is
//! connected. The states:
//!
//! ```text
//!   LIST (paged) ──ok──▶ WATCH from the list's resourceVersion ──410 Gone──▶ LIST
//!     │ fail: stale,        │ live: fresh                │ stream ends: re-watch from the
//!     │ back off, retry     │ events → sink              │ last resourceVersion seen
//!     ▼                     ▼ fail to connect: stale, back off, retry
//! ```
//!
//! - Every call has a deadline (`KUBE_REQUEST_TIMEOUT_SECONDS`) until it answers.
//! - A watch counts as live once it delivers an event, or runs [`LIVE_AFTER`] without an error
//!   (an expired resourceVersion is answered 200 and then, at once, an ERROR 410 event).
//! - A live stream silent for [`WATCH_IDLE_TIMEOUT`] (not even a bookmark) is re-opened.
//! - Failures back off 250 ms doubling to 10 s (±20 %), reset only once a watch is live again.
//!   An API server that says when to come back (429/503 with `Retry-After`, which it also puts
//!   in the Status as `details.retryAfterSeconds`) is not asked before then (capped at
//!   [`RETRY_AFTER_MAX`]): hammering an overloaded server only prolongs the overload.
//! - The first successful list makes the watch's readiness [`Source`] ready.
//!
//! What the objects mean is the sink's business: the loop hands over `DynamicObject`s.

use super::describe;
use crate::clock;
use crate::metrics::Metrics;
use crate::readiness::Source;
use crate::supervisor::Tasks;
use futures::{StreamExt, pin_mut};
use jiff::Timestamp;
use kube::api::{Api, ApiResource, DynamicObject, ListParams, WatchEvent, WatchParams};
use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// Server-side watch timeout; the API server ends the stream after this and we re-watch.
const WATCH_TIMEOUT_SECS: u32 = 290;
/// Client-side guard: a watch stream open this long without the server ending it is stuck.
const WATCH_GUARD: Duration = Duration::from_secs(WATCH_TIMEOUT_SECS as u64 + 30);
/// A connected watch that sends no ERROR within this is taken to be live.
pub const LIVE_AFTER: Duration = Duration::from_secs(2);
/// Servers send a BOOKMARK about once a minute; a stream silent for this long is re-opened.
pub const WATCH_IDLE_TIMEOUT: Duration = Duration::from_secs(150);
/// Objects per list page: a page is held parsed (as JSON values, several times its size) until
/// it is decoded, so pages stay small enough that a large scope lists in bounded memory.
const LIST_PAGE_SIZE: u32 = 100;
const BACKOFF_MIN: Duration = Duration::from_millis(250);
const BACKOFF_MAX: Duration = Duration::from_secs(10);
/// The longest `Retry-After` honoured: a larger one is taken as this, so a misconfigured server
/// cannot freeze a watch for an hour.
pub const RETRY_AFTER_MAX: Duration = Duration::from_secs(60);

/// Where one watch's objects go. Implemented beside each watched kind, in this module's siblings.
pub trait Sink: Send + Sync + 'static {
    /// What a listed object is kept as until its list is complete. Each page of a list is turned
    /// into these as it arrives, so a large list is never held as raw objects all at once.
    type Listed: Send;
    /// One listed object, or `None` to leave it out (logged by the sink).
    fn listed(&self, object: DynamicObject) -> Option<Self::Listed>;
    /// A complete list: exactly these objects exist in the watch's scope now.
    fn replace(&self, objects: Vec<Self::Listed>, now: Timestamp);
    /// The resourceVersion of the list about to be handed to [`replace`](Self::replace).
    fn list_version(&self, _resource_version: &str) {}
    /// `Some(n)`: this sink takes a list page by page, `n` objects a page ([`list_page`] for
    /// each, then [`list_end`]), so what it keeps of large objects is built as they come, never
    /// from all of them at once. `None` (the default): [`listed`](Self::listed) per object, then
    /// the whole list in one [`replace`](Self::replace).
    ///
    /// [`list_page`]: Self::list_page
    /// [`list_end`]: Self::list_end
    fn list_page_size(&self) -> Option<u32> {
        None
    }
    /// A paged list begins: forget the pages of one that failed part-way (a paged sink only).
    fn list_start(&self) {}
    /// One page of a list: these objects exist (a paged sink only).
    fn list_page(&self, _objects: Vec<DynamicObject>, _now: Timestamp) {}
    /// The list is complete: objects not in any of its pages are gone (a paged sink only).
    fn list_end(&self, _now: Timestamp) {}
    /// An object was added or changed.
    fn apply(&self, object: DynamicObject, now: Timestamp);
    /// An object was deleted.
    fn delete(&self, object: DynamicObject, now: Timestamp);
    /// The watch cannot reach the API server; what the sink holds is the last known data.
    fn stale(&self, why: &str, now: Timestamp);
    /// The watch is live again.
    fn fresh(&self);
    /// The watch ended with a gap (410 Gone: events were lost) and a list follows: until it is
    /// handed over, what the sink holds was not watched without a gap.
    fn relisting(&self) {}
    /// Waits until what the sink handed on has been taken by whoever consumes it (back-pressure:
    /// the loop awaits it after each list and each event, before reading the next).
    fn settle(&self) -> impl Future<Output = ()> + Send {
        async {}
    }
}

/// Which objects one watch covers.
pub struct WatchSpec {
    pub resource: ApiResource,
    /// `None`: every namespace.
    pub namespace: Option<String>,
    pub label_selector: Option<String>,
    pub field_selector: Option<String>,
}

impl WatchSpec {
    /// For logs and metrics: the namespace, or `*`.
    fn scope(&self) -> &str {
        self.namespace.as_deref().unwrap_or("*")
    }
}

/// The watches run as supervised tasks (see [`crate::supervisor`]).
pub type WatchTasks = Tasks;

impl Tasks {
    /// Starts one list+watch loop, supervised as `watch <resource>/<namespace or *>`. Watches
    /// loop forever: one that ends is a bug, and data nobody watches would be served frozen as
    /// fresh, so the supervisor stops the process.
    pub fn spawn_watch<S: Sink>(
        &mut self,
        client: &kube::Client,
        spec: WatchSpec,
        sink: S,
        readiness: Source,
        metrics: Arc<Metrics>,
        request_timeout: Duration,
    ) {
        let api = match &spec.namespace {
            None => Api::all_with(client.clone(), &spec.resource),
            Some(ns) => Api::namespaced_with(client.clone(), ns, &spec.resource),
        };
        let name = format!("watch {}/{}", spec.resource.plural, spec.scope());
        let watch = Watch {
            api,
            labels: Labels {
                resource: spec.resource.plural.clone(),
                scope: spec.scope().to_string(),
            },
            spec,
            sink,
            readiness,
            metrics,
            backoff: Backoff::default(),
            request_timeout,
        };
        self.spawn(name, watch.run());
    }
}

/// Metric labels of one watch.
struct Labels {
    resource: String,
    scope: String,
}

struct Watch<S> {
    api: Api<DynamicObject>,
    spec: WatchSpec,
    labels: Labels,
    sink: S,
    readiness: Source,
    metrics: Arc<Metrics>,
    backoff: Backoff,
    request_timeout: Duration,
}

/// How one watch stream ended.
enum StreamEnd {
    /// The resourceVersion is too old (410 Gone): only a fresh list can resume.
    Gone { was_live: bool },
    /// The stream ended or went quiet after it was live: re-watch at once.
    Closed,
    /// The stream failed before it was live, or failed with an error: back off, re-watch.
    Failed(String),
}

impl<S: Sink> Watch<S> {
    async fn run(mut self) {
        loop {
            let resource_version = match self.list().await {
                Ok(rv) => rv,
                Err(failure) => {
                    self.failed("list", failure).await;
                    continue;
                }
            };
            let was_live = self.watch_from(resource_version).await;
            tracing::info!(
                resource = %self.labels.resource,
                scope = %self.labels.scope,
                "resourceVersion expired; listing again"
            );
            // Events were lost: what the list finds changed while nobody watched.
            self.sink.relisting();
            if !was_live {
                // Gone before the watch ever worked: do not relist in a tight loop.
                tokio::time::sleep(self.backoff.next()).await;
            }
        }
    }

    /// Lists every object in scope, page by page, and hands the whole list to the sink. Returns
    /// the list's resourceVersion, from which the watch resumes.
    async fn list(&self) -> Result<String, Failure> {
        let mut objects = Vec::new();
        let paged = self.sink.list_page_size();
        let mut count = 0;
        let mut params = ListParams::default().limit(paged.unwrap_or(LIST_PAGE_SIZE));
        if let Some(labels) = &self.spec.label_selector {
            params = params.labels(labels);
        }
        if let Some(fields) = &self.spec.field_selector {
            params = params.fields(fields);
        }
        let mut list_version = None;
        if paged.is_some() {
            self.sink.list_start();
        }
        loop {
            let page =
                match tokio::time::timeout(self.request_timeout, self.api.list(&params)).await {
                    Ok(Ok(page)) => page,
                    Ok(Err(error)) => return Err(Failure::from(&error)),
                    Err(_) => {
                        return Err(Failure::new(format!(
                            "no answer within {} s",
                            self.request_timeout.as_secs()
                        )));
                    }
                };
            // All pages belong to the snapshot of the first one.
            if list_version.is_none() {
                list_version = page.metadata.resource_version.clone();
            }
            count += page.items.len();
            if paged.is_some() {
                self.sink.list_page(page.items, clock::now());
            } else {
                objects.extend(page.items.into_iter().filter_map(|o| self.sink.listed(o)));
            }
            match page.metadata.continue_.filter(|c| !c.is_empty()) {
                Some(token) => params = params.continue_token(&token),
                None => break,
            }
        }
        self.sink
            .list_version(list_version.as_deref().unwrap_or_default());
        if paged.is_some() {
            self.sink.list_end(clock::now());
        } else {
            self.sink.replace(objects, clock::now());
        }
        self.sink.settle().await;
        self.readiness.ready();
        self.metrics
            .listed(&self.labels.resource, &self.labels.scope);
        self.metrics
            .set_stale(&self.labels.resource, &self.labels.scope, false);
        tracing::info!(
            resource = %self.labels.resource,
            scope = %self.labels.scope,
            objects = count,
            "listed"
        );
        Ok(list_version.unwrap_or_default())
    }

    /// Watches from `resource_version` until only a relist can continue. Returns whether the
    /// last watch was live before it ended.
    async fn watch_from(&mut self, mut resource_version: String) -> bool {
        // Bookmarks are on by default: they keep `resource_version` current on quiet streams.
        let mut params = WatchParams::default().timeout(WATCH_TIMEOUT_SECS);
        if let Some(labels) = &self.spec.label_selector {
            params = params.labels(labels);
        }
        if let Some(fields) = &self.spec.field_selector {
            params = params.fields(fields);
        }
        loop {
            let stream = match tokio::time::timeout(
                self.request_timeout,
                self.api.watch(&params, &resource_version),
            )
            .await
            {
                Ok(Ok(stream)) => stream,
                Ok(Err(error)) if is_gone(&error) => return false,
                Ok(Err(error)) => {
                    self.failed("watch", Failure::from(&error)).await;
                    continue;
                }
                Err(_) => {
                    let why = format!("no answer within {} s", self.request_timeout.as_secs());
                    self.failed("watch", Failure::new(why)).await;
                    continue;
                }
            };
            match self.consume(stream, &mut resource_version).await {
                StreamEnd::Gone { was_live } => return was_live,
                StreamEnd::Closed => {}
                StreamEnd::Failed(why) => self.failed("watch", Failure::new(why)).await,
            }
        }
    }

    /// Hands one stream's events to the sink until it ends.
    async fn consume(
        &mut self,
        stream: impl futures::Stream<Item = Result<WatchEvent<DynamicObject>, kube::Error>>,
        resource_version: &mut String,
    ) -> StreamEnd {
        let deadline = Instant::now() + WATCH_GUARD;
        let mut live = false;
        pin_mut!(stream);
        loop {
            let wait = if live { WATCH_IDLE_TIMEOUT } else { LIVE_AFTER };
            let next =
                tokio::time::timeout_at(deadline.min(Instant::now() + wait), stream.next()).await;
            let item = match next {
                Ok(Some(item)) => item,
                // The server's timeout (or a cut connection, which kube reports the same way).
                Ok(None) if live => return StreamEnd::Closed,
                Ok(None) => {
                    return StreamEnd::Failed("the watch ended before delivering anything".into());
                }
                Err(_) if Instant::now() >= deadline => {
                    tracing::warn!(
                        resource = %self.labels.resource,
                        scope = %self.labels.scope,
                        "watch open past its timeout; reconnecting"
                    );
                    return StreamEnd::Closed;
                }
                Err(_) if !live => {
                    // Connected, and no ERROR came: events since `resource_version` are flowing.
                    self.went_live();
                    live = true;
                    continue;
                }
                Err(_) => {
                    tracing::warn!(
                        resource = %self.labels.resource,
                        scope = %self.labels.scope,
                        idle_s = WATCH_IDLE_TIMEOUT.as_secs(),
                        "watch silent, not even bookmarks; reconnecting"
                    );
                    return StreamEnd::Closed;
                }
            };
            self.metrics
                .watch_event(&self.labels.resource, &self.labels.scope);
            let event = match item {
                Ok(WatchEvent::Error(status)) if status.code == 410 => {
                    return StreamEnd::Gone { was_live: live };
                }
                Ok(WatchEvent::Error(status)) => {
                    return StreamEnd::Failed(format!(
                        "error event {}: {}",
                        status.code, status.message
                    ));
                }
                // A dropped connection or an unreadable line: resume after the last event that
                // was applied, so nothing is skipped.
                Err(error) => return StreamEnd::Failed(format!("stream failed: {error}")),
                Ok(event) => event,
            };
            if !live {
                self.went_live();
                live = true;
            }
            match event {
                WatchEvent::Added(obj) | WatchEvent::Modified(obj) => {
                    remember_version(resource_version, &obj);
                    self.sink.apply(obj, clock::now());
                    self.sink.settle().await;
                }
                WatchEvent::Deleted(obj) => {
                    remember_version(resource_version, &obj);
                    self.sink.delete(obj, clock::now());
                    self.sink.settle().await;
                }
                WatchEvent::Bookmark(bookmark) => {
                    *resource_version = bookmark.metadata.resource_version
                }
                WatchEvent::Error(_) => {} // handled above
            }
        }
    }

    /// The watch is delivering: the data is live again, and failures start counting afresh.
    fn went_live(&mut self) {
        self.sink.fresh();
        self.metrics
            .set_stale(&self.labels.resource, &self.labels.scope, false);
        self.backoff.reset();
    }

    /// A list or watch attempt failed: the data is stale from the first failure until a list or
    /// watch works again. Waits out the backoff.
    async fn failed(&mut self, what: &'static str, failure: Failure) {
        let error = failure.why;
        let why = format!("{what}: {error}");
        self.metrics
            .watch_error(&self.labels.resource, &self.labels.scope);
        self.metrics
            .set_stale(&self.labels.resource, &self.labels.scope, true);
        self.sink.stale(&why, clock::now());
        self.readiness.failed(why);
        let delay = self
            .backoff
            .next()
            .max(failure.retry_after.unwrap_or_default().min(RETRY_AFTER_MAX));
        tracing::warn!(
            resource = %self.labels.resource,
            scope = %self.labels.scope,
            %error,
            retry_in_ms = delay.as_millis() as u64,
            retry_after_s = failure.retry_after.map(|d| d.as_secs()),
            "cannot {what}; serving the last known data"
        );
        tokio::time::sleep(delay).await;
    }
}

fn remember_version(resource_version: &mut String, obj: &DynamicObject) {
    if let Some(rv) = &obj.metadata.resource_version {
        resource_version.clone_from(rv);
    }
}

/// A failed list or watch call: why, and when the API server asked to be called again.
struct Failure {
    why: String,
    retry_after: Option<Duration>,
}

impl Failure {
    fn new(why: String) -> Self {
        Self {
            why,
            retry_after: None,
        }
    }
}

impl From<&kube::Error> for Failure {
    fn from(error: &kube::Error) -> Self {
        Self {
            why: describe(error),
            retry_after: retry_after(error),
        }
    }
}

/// The `Retry-After` of a 429 or 5xx answer, as the API server repeats it in its Status
/// (`details.retryAfterSeconds`; kube does not expose the header of a failed call).
fn retry_after(error: &kube::Error) -> Option<Duration> {
    let kube::Error::Api(status) = error else {
        return None;
    };
    if status.code != 429 && status.code < 500 {
        return None;
    }
    let seconds = status.details.as_ref()?.retry_after_seconds;
    (seconds > 0).then(|| Duration::from_secs(seconds.into()))
}

fn is_gone(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(status) if status.code == 410)
}

/// Exponential backoff with jitter: 250 ms doubling to 10 s, each delay ±20 %.
#[derive(Default)]
struct Backoff {
    failures: u32,
}

impl Backoff {
    /// The delay before the next attempt; each call counts one more failure.
    fn next(&mut self) -> Duration {
        let base = BACKOFF_MIN
            .saturating_mul(1u32 << self.failures.min(10))
            .min(BACKOFF_MAX);
        self.failures = self.failures.saturating_add(1);
        // A random value from std's per-instance hash keys; no RNG crate needed for jitter.
        let random = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish();
        let factor = 0.8 + (random % 1000) as f64 / 2500.0; // 0.8 ..= 1.2
        base.mul_f64(factor)
    }

    fn reset(&mut self) {
        self.failures = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_is_read_from_429_and_5xx_statuses_only() {
        let status = |code: u16, seconds: u32| {
            let mut s =
                kube::core::Status::failure("overloaded", "TooManyRequests").with_code(code);
            s.details =
                serde_json::from_value(serde_json::json!({"retryAfterSeconds": seconds})).unwrap();
            kube::Error::Api(s.boxed())
        };
        assert_eq!(retry_after(&status(429, 3)), Some(Duration::from_secs(3)));
        assert_eq!(retry_after(&status(503, 1)), Some(Duration::from_secs(1)));
        assert_eq!(retry_after(&status(429, 0)), None);
        assert_eq!(retry_after(&status(409, 5)), None);
    }

    #[test]
    fn backoff_grows_to_its_cap_and_resets() {
        let mut b = Backoff::default();
        let delays: Vec<Duration> = (0..8).map(|_| b.next()).collect();
        assert!(delays[0] >= BACKOFF_MIN.mul_f64(0.8) && delays[0] <= BACKOFF_MIN.mul_f64(1.2));
        assert!(
            delays[3] >= BACKOFF_MIN.mul_f64(8.0 * 0.8),
            "doubles: {delays:?}"
        );
        b.failures = 20;
        let capped = b.next();
        assert!(capped <= BACKOFF_MAX.mul_f64(1.2) && capped >= BACKOFF_MAX.mul_f64(0.8));
        b.reset();
        assert!(b.next() <= BACKOFF_MIN.mul_f64(1.2));
    }
}
