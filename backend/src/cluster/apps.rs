//! List+watch of Argo CD Applications, one stream per watch scope, into the [`AppIndex`].
//!
//! The loop is written out rather than taken from `kube::runtime::watcher`, because freshness is
//! part of the product: responses say whether their data is live, so this loop must know exactly
//! when it is connected. The states are:
//!
//! ```text
//!   LIST (paged) ──ok──▶ WATCH from the list's resourceVersion ──410 Gone──▶ LIST
//!     │ fail: stale,        │ connected: fresh         │ stream ends: re-watch from the
//!     │ back off, retry     │ events → index           │ last resourceVersion seen
//!     ▼                     ▼ fail to connect: stale, back off, retry
//! ```
//!
//! Objects are read as `DynamicObject` and decoded one by one, so a single Application that
//! cannot be decoded is logged and skipped instead of failing the whole list.

use crate::clock;
use crate::index::{AppIndex, WatchScope};
use crate::metrics::Metrics;
use drift_core::app::{AppKey, Application, ApplicationSpec, ApplicationStatus};
use futures::{StreamExt, pin_mut};
use kube::api::{
    Api, ApiResource, DynamicObject, GroupVersionKind, ListParams, WatchEvent, WatchParams,
};
use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;
use tokio::time::Instant;

/// Server-side watch timeout; the API server ends the stream after this and we re-watch.
const WATCH_TIMEOUT_SECS: u32 = 290;
/// Client-side guard: a watch stream open this long without the server ending it is stuck.
const WATCH_GUARD: Duration = Duration::from_secs(WATCH_TIMEOUT_SECS as u64 + 30);
/// A connected watch that sends no ERROR within this is taken to be live. (An expired
/// resourceVersion is answered 200 followed at once by an ERROR 410 event.)
const LIVE_AFTER: Duration = Duration::from_secs(2);
/// Servers send a BOOKMARK about once a minute; a stream silent for this long is re-opened.
const WATCH_IDLE_TIMEOUT: Duration = Duration::from_secs(150);
const LIST_PAGE_SIZE: u32 = 500;
const BACKOFF_MIN: Duration = Duration::from_millis(250);
const BACKOFF_MAX: Duration = Duration::from_secs(10);

/// The running watch tasks; dropping this stops them.
pub struct WatchTasks {
    tasks: JoinSet<()>,
}

impl WatchTasks {
    /// Resolves if a watch task ever ends. They loop forever, so an end is a bug (a panic), and a
    /// scope nobody watches would serve frozen data as fresh: the caller should stop the process.
    pub async fn ended(&mut self) -> String {
        match self.tasks.join_next().await {
            Some(Err(error)) => format!("an application watch task failed: {error}"),
            Some(Ok(())) => "an application watch task ended".to_string(),
            None => std::future::pending().await,
        }
    }
}

/// Starts one list+watch loop per scope of the index.
///
/// `request_timeout` bounds every call to the API server until it answers: a list page, or a
/// watch until its response starts (`KUBE_REQUEST_TIMEOUT_SECONDS`).
pub fn spawn_app_watches(
    client: kube::Client,
    index: AppIndex,
    metrics: Arc<Metrics>,
    request_timeout: Duration,
) -> WatchTasks {
    let resource = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("argoproj.io", "v1alpha1", "Application"),
        "applications",
    );
    let mut tasks = JoinSet::new();
    for scope in index.scopes() {
        let api = match &scope {
            WatchScope::AllNamespaces => Api::all_with(client.clone(), &resource),
            WatchScope::Namespace(ns) => Api::namespaced_with(client.clone(), ns, &resource),
        };
        let watch = AppWatch {
            api,
            scope,
            index: index.clone(),
            metrics: Arc::clone(&metrics),
            backoff: Backoff::default(),
            request_timeout,
        };
        tasks.spawn(watch.run());
    }
    WatchTasks { tasks }
}

struct AppWatch {
    api: Api<DynamicObject>,
    scope: WatchScope,
    index: AppIndex,
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

impl AppWatch {
    async fn run(mut self) {
        loop {
            let resource_version = match self.list().await {
                Ok(rv) => rv,
                Err(error) => {
                    self.failed("list", &error.to_string()).await;
                    continue;
                }
            };
            let was_live = self.watch_from(resource_version).await;
            tracing::info!(
                scope = self.scope.label(),
                "resourceVersion expired; listing again"
            );
            if !was_live {
                // Gone before the watch ever worked: do not relist in a tight loop.
                tokio::time::sleep(self.backoff.next()).await;
            }
        }
    }

    /// Lists every Application in the scope, page by page, and replaces the scope in the index.
    /// Returns the list's resourceVersion, from which the watch resumes.
    async fn list(&self) -> Result<String, kube::Error> {
        let mut apps = Vec::new();
        let mut params = ListParams::default().limit(LIST_PAGE_SIZE);
        let mut list_version = None;
        loop {
            let page =
                match tokio::time::timeout(self.request_timeout, self.api.list(&params)).await {
                    Ok(page) => page?,
                    Err(_) => return Err(timeout_error("listing applications")),
                };
            // All pages belong to the snapshot of the first one.
            if list_version.is_none() {
                list_version = page.metadata.resource_version.clone();
            }
            apps.extend(
                page.items
                    .into_iter()
                    .filter_map(|obj| self.decode(obj).ok()),
            );
            match page.metadata.continue_.filter(|c| !c.is_empty()) {
                Some(token) => params = params.continue_token(&token),
                None => break,
            }
        }
        let count = apps.len();
        self.index.replace_scope(&self.scope, apps, clock::now());
        self.metrics.listed(self.scope.label());
        self.metrics.set_stale(self.scope.label(), false);
        self.metrics.set_applications(self.index.len());
        tracing::info!(
            scope = self.scope.label(),
            applications = count,
            "listed applications"
        );
        Ok(list_version.unwrap_or_default())
    }

    /// Watches from `resource_version` until only a relist can continue. Returns whether the
    /// last watch was live before it ended.
    async fn watch_from(&mut self, mut resource_version: String) -> bool {
        // Bookmarks are on by default: they keep `resource_version` current on quiet streams.
        let params = WatchParams::default().timeout(WATCH_TIMEOUT_SECS);
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
                    self.failed("watch", &error.to_string()).await;
                    continue;
                }
                Err(_) => {
                    let why = format!("no answer within {} s", self.request_timeout.as_secs());
                    self.failed("watch", &why).await;
                    continue;
                }
            };
            match self.consume(stream, &mut resource_version).await {
                StreamEnd::Gone { was_live } => return was_live,
                StreamEnd::Closed => {}
                StreamEnd::Failed(why) => self.failed("watch", &why).await,
            }
        }
    }

    /// Applies one stream's events to the index until it ends.
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
                        scope = self.scope.label(),
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
                        scope = self.scope.label(),
                        idle_s = WATCH_IDLE_TIMEOUT.as_secs(),
                        "watch silent, not even bookmarks; reconnecting"
                    );
                    return StreamEnd::Closed;
                }
            };
            self.metrics.watch_event(self.scope.label());
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
                // A dropped connection or an unreadable line: resume after the last event that was
                // applied, so nothing is skipped.
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
                    let key = key_of(&obj);
                    match self.decode(obj) {
                        Ok(app) => self.index.apply(app, clock::now()),
                        // Keeping the last readable version would serve stale scope data as fresh;
                        // a list would drop it too.
                        Err(_) => {
                            if let Some(key) = key {
                                self.index.remove(&key);
                            }
                        }
                    }
                }
                WatchEvent::Deleted(obj) => {
                    remember_version(resource_version, &obj);
                    if let Some(key) = key_of(&obj) {
                        self.index.remove(&key);
                    }
                }
                WatchEvent::Bookmark(bookmark) => {
                    *resource_version = bookmark.metadata.resource_version
                }
                WatchEvent::Error(_) => {} // handled above
            }
            self.metrics.set_applications(self.index.len());
        }
    }

    /// The watch is delivering: the data is live again, and failures start counting afresh.
    fn went_live(&mut self) {
        self.index.mark_fresh(&self.scope);
        self.metrics.set_stale(self.scope.label(), false);
        self.backoff.reset();
    }

    /// A list or watch attempt failed: the index is stale from the first failure until a list or
    /// watch works again. Waits out the backoff.
    async fn failed(&mut self, what: &'static str, error: &str) {
        self.metrics.watch_error(self.scope.label());
        self.metrics.set_stale(self.scope.label(), true);
        self.index
            .mark_stale(&self.scope, format!("{what}: {error}"), clock::now());
        let delay = self.backoff.next();
        tracing::warn!(scope = self.scope.label(), %error, retry_in_ms = delay.as_millis() as u64, "cannot {what} applications; serving the last known data");
        tokio::time::sleep(delay).await;
    }

    fn decode(&self, obj: DynamicObject) -> Result<Application, DecodeError> {
        decode_application(obj).inspect_err(|error| {
            tracing::warn!(scope = self.scope.label(), %error, "skipping an Application that cannot be read");
        })
    }
}

#[derive(Debug, thiserror::Error)]
enum DecodeError {
    #[error("object has no namespace or name")]
    Unnamed,
    #[error("{key}: .{field} cannot be read: {source}")]
    Field {
        key: AppKey,
        field: &'static str,
        #[source]
        source: serde_json::Error,
    },
}

/// The slim domain Application from a dynamic object. Missing `spec`/`status` read as empty.
fn decode_application(mut obj: DynamicObject) -> Result<Application, DecodeError> {
    let key = key_of(&obj).ok_or(DecodeError::Unnamed)?;
    let spec: ApplicationSpec =
        take_field(&mut obj, "spec").map_err(|source| DecodeError::Field {
            key: key.clone(),
            field: "spec",
            source,
        })?;
    let status: ApplicationStatus =
        take_field(&mut obj, "status").map_err(|source| DecodeError::Field {
            key: key.clone(),
            field: "status",
            source,
        })?;
    Ok(Application { key, spec, status })
}

fn take_field<T: serde::de::DeserializeOwned + Default>(
    obj: &mut DynamicObject,
    field: &str,
) -> Result<T, serde_json::Error> {
    match obj.data.get_mut(field).map(serde_json::Value::take) {
        None | Some(serde_json::Value::Null) => Ok(T::default()),
        Some(value) => serde_json::from_value(value),
    }
}

fn key_of(obj: &DynamicObject) -> Option<AppKey> {
    Some(AppKey::new(
        obj.metadata.namespace.clone()?,
        obj.metadata.name.clone()?,
    ))
}

fn remember_version(resource_version: &mut String, obj: &DynamicObject) {
    if let Some(rv) = &obj.metadata.resource_version {
        resource_version.clone_from(rv);
    }
}

fn is_gone(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(status) if status.code == 410)
}

fn timeout_error(what: &str) -> kube::Error {
    kube::Error::Service(format!("{what} timed out").into())
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

    fn dynamic(value: serde_json::Value) -> DynamicObject {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn decodes_an_application_and_skips_what_is_not_read() {
        let app = decode_application(dynamic(serde_json::json!({
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Application",
            "metadata": {"namespace": "argocd", "name": "guestbook", "managedFields": [{"manager": "argocd-controller"}]},
            "spec": {"project": "default", "destination": {"server": "https://kubernetes.default.svc"}, "source": {}},
            "status": {"sync": {"status": "Synced"}},
            "operation": {"sync": {}}
        })))
        .unwrap();
        assert_eq!(app.key, AppKey::new("argocd", "guestbook"));
        assert_eq!(app.spec.project, "default");
        assert_eq!(app.sync_status(), Some("Synced"));
    }

    #[test]
    fn an_application_without_status_reads_as_not_yet_compared() {
        let app = decode_application(dynamic(serde_json::json!({
            "metadata": {"namespace": "argocd", "name": "new"},
            "spec": {"project": "default"}
        })))
        .unwrap();
        assert_eq!(app.sync_status(), None);
    }

    #[test]
    fn an_unreadable_application_is_reported_not_fatal() {
        let err = decode_application(dynamic(serde_json::json!({
            "metadata": {"namespace": "argocd", "name": "odd"},
            "spec": {"project": ["not", "a", "string"]}
        })))
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("argocd:odd: .spec cannot be read"),
            "{err}"
        );
        assert!(matches!(
            decode_application(dynamic(serde_json::json!({"metadata": {"name": "x"}}))),
            Err(DecodeError::Unnamed)
        ));
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
