//! One cluster's live objects, one GET at a time: a [`Cluster`] handle (a client, its discovery
//! cache) and what every handle shares ([`Shared`]: the object cache bounded in bytes, the
//! concurrency bound, single-flight of concurrent misses, the refresh rate limit, the Secret rule).
//!
//! Only `get` of named objects: never a list of a kind, so RBAC can grant `get` alone. Secrets
//! are read only when `DRIFT_READ_SECRETS` allows it, and this is checked here, at the IO edge,
//! whatever the caller asks.

use super::discovery::Discovery;
use super::read_error::ReadError;
use super::{describe, describe_status};
use crate::cache::ByteCache;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{OnceCell, Semaphore};
use tokio::time::Instant;

/// One object to read, named as `status.resources` names it.
#[derive(Clone, Copy, Debug)]
pub struct LiveRef<'a> {
    /// Empty for the core group.
    pub group: &'a str,
    pub version: &'a str,
    pub kind: &'a str,
    /// Empty for a cluster-scoped object.
    pub namespace: &'a str,
    pub name: &'a str,
}

impl LiveRef<'_> {
    fn is_secret(&self) -> bool {
        self.group.is_empty() && self.kind == "Secret"
    }

    fn api_version(&self) -> String {
        super::discovery::api_version(self.group, self.version)
    }
}

/// A live object as read: its JSON text, kept as text so the cache's byte bound is the memory it
/// holds (a parsed `serde_json::Value` takes several times its text). Parsed on use.
pub struct LiveObject {
    text: Arc<str>,
}

// May be a Secret: Debug never shows the content.
impl std::fmt::Debug for LiveObject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LiveObject({} bytes)", self.text.len())
    }
}

impl LiveObject {
    /// The object. Only JSON the API server sent is ever stored, so this fails only on a server
    /// that answered something else; the message never quotes the content.
    pub fn parse(&self) -> Result<serde_json::Value, ReadError> {
        serde_json::from_str(&self.text)
            .map_err(|e| ReadError::Unreachable(format!("unreadable object at line {}", e.line())))
    }

    pub fn bytes(&self) -> usize {
        self.text.len()
    }
}

/// How live reads are bounded.
#[derive(Clone, Copy, Debug)]
pub struct ReadLimits {
    /// GETs in flight at once, across every cluster.
    pub concurrency: usize,
    /// Objects cached, in bytes of JSON, across every cluster.
    pub cache_bytes: usize,
    /// How long a read object is reused.
    pub cache_ttl: Duration,
    /// Whether Secrets may be read at all.
    pub read_secrets: bool,
    /// The shortest time between two forced fresh reads (`?refresh=true`) of one app.
    pub refresh_min_interval: Duration,
}

/// What every cluster handle shares: the object cache, the concurrency bound, the rules.
pub(super) struct Shared {
    cache: ByteCache<CacheKey, Arc<Option<LiveObject>>>,
    permits: Semaphore,
    /// Reads under way, by object: concurrent misses for one object share one GET.
    in_flight: Mutex<HashMap<CacheKey, Arc<OnceCell<Read>>>>,
    /// When each app (`namespace/name`) last had a forced fresh read.
    refreshed: Mutex<HashMap<String, Instant>>,
    refresh_min_interval: Duration,
    read_secrets: bool,
    request_timeout: Duration,
}

impl Shared {
    pub(super) fn new(limits: ReadLimits, request_timeout: Duration) -> Shared {
        Shared {
            cache: ByteCache::new(limits.cache_bytes, limits.cache_ttl),
            permits: Semaphore::new(limits.concurrency.max(1)),
            in_flight: Mutex::new(HashMap::new()),
            refreshed: Mutex::new(HashMap::new()),
            refresh_min_interval: limits.refresh_min_interval,
            read_secrets: limits.read_secrets,
            request_timeout,
        }
    }

    /// Whether `app` (`namespace/name`) may have a forced fresh read now: at most one per
    /// `refresh_min_interval`. A `true` counts as the app's refresh.
    /// Reads under way (objects, each shared by its callers).
    pub(super) fn reads_in_flight(&self) -> usize {
        self.in_flight
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .len()
    }

    /// Held entries, by map, for the metrics.
    pub(super) fn held(&self) -> [(&'static str, usize); 4] {
        let (cached, queued) = self.cache.len();
        let refreshed = self
            .refreshed
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .len();
        [
            ("live_cache_objects", cached),
            ("live_cache_queue", queued),
            ("live_reads_in_flight", self.reads_in_flight()),
            ("live_refreshed_apps", refreshed),
        ]
    }

    pub(super) fn may_refresh(&self, app: &str) -> bool {
        let now = Instant::now();
        let mut refreshed = self
            .refreshed
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        // Only apps refreshed within the interval are remembered: the map stays small.
        refreshed.retain(|_, at| now.duration_since(*at) < self.refresh_min_interval);
        if refreshed.contains_key(app) {
            return false;
        }
        refreshed.insert(app.to_string(), now);
        true
    }
}

type Read = Result<Arc<Option<LiveObject>>, ReadError>;

/// `(cluster, apiVersion, kind, namespace, name)`
type CacheKey = (String, String, String, String, String);

/// One caller's part in a read under way. On drop (answered, or the caller went away) it takes
/// the read off the in-flight map once the read is done or no other caller waits on it, so a
/// cancelled read leaves nothing behind; a read others still wait for stays for them.
struct Flight<'a> {
    shared: &'a Shared,
    key: &'a CacheKey,
    cell: &'a Arc<OnceCell<Read>>,
}

impl Drop for Flight<'_> {
    fn drop(&mut self) {
        let mut in_flight = self
            .shared
            .in_flight
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let ours = in_flight
            .get(self.key)
            .is_some_and(|f| Arc::ptr_eq(f, self.cell));
        // Under the map's lock no caller can take another share: the count is exact. Two: the
        // map's and this caller's.
        if ours && (self.cell.initialized() || Arc::strong_count(self.cell) <= 2) {
            in_flight.remove(self.key);
        }
    }
}

/// One cluster: a client, its discovery cache and the shared read bounds. Cheap to clone.
#[derive(Clone)]
pub struct Cluster {
    server: String,
    client: kube::Client,
    discovery: Arc<Discovery>,
    shared: Arc<Shared>,
}

impl Cluster {
    pub(super) fn new(server: String, client: kube::Client, shared: Arc<Shared>) -> Self {
        Cluster {
            server,
            client,
            discovery: Arc::new(Discovery::default()),
            shared,
        }
    }

    /// The cluster's API server URL as Argo CD names it.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// The object, `None` if it does not exist. Served from the cache when read recently;
    /// concurrent misses for one object wait for one GET (single-flight), which asks for the API
    /// server's watch cache (`resourceVersion=0`) rather than a quorum read from etcd.
    pub async fn get(&self, r: LiveRef<'_>) -> Result<Arc<Option<LiveObject>>, ReadError> {
        self.get_as(r, false).await
    }

    /// As [`Cluster::get`]; `fresh`: neither the cache nor a read under way nor the watch cache
    /// (a quorum read, for a forced refresh, rate-limited by [`super::Destinations::may_refresh`]). The
    /// answer is cached for the next readers.
    pub async fn get_as(
        &self,
        r: LiveRef<'_>,
        fresh: bool,
    ) -> Result<Arc<Option<LiveObject>>, ReadError> {
        if r.is_secret() && !self.shared.read_secrets {
            return Err(ReadError::SecretsDisabled);
        }
        let api_version = r.api_version();
        let key: CacheKey = (
            self.server.clone(),
            api_version.clone(),
            r.kind.to_string(),
            r.namespace.to_string(),
            r.name.to_string(),
        );
        if fresh {
            return self.read(&r, key, false).await;
        }
        if let Some(hit) = self.shared.cache.get(&key, Instant::now()) {
            return Ok(hit);
        }
        let flight = {
            let mut in_flight = self
                .shared
                .in_flight
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            Arc::clone(in_flight.entry(key.clone()).or_default())
        };
        // Leaves the map as it found it, even when this caller is dropped mid-read.
        let _flight = Flight {
            shared: &self.shared,
            key: &key,
            cell: &flight,
        };
        // The first caller reads; the others wait for its answer. (If the first is dropped
        // mid-read, a waiting caller takes over: tokio's OnceCell.)
        flight
            .get_or_init(|| self.read(&r, key.clone(), true))
            .await
            .clone()
    }

    /// One GET of the object (from the API server's watch cache when `watch_cache`), stored in
    /// the cache.
    async fn read(&self, r: &LiveRef<'_>, key: CacheKey, watch_cache: bool) -> Read {
        let _permit = self
            .shared
            .permits
            .acquire()
            .await
            .map_err(|_| ReadError::Unreachable("shutting down".into()))?;
        let (plural, namespaced) = self.resolve(r).await?;
        // From the watch cache: a read as fresh as the API server's own view, at no etcd cost.
        let mut path = object_path(r, &plural, namespaced);
        if watch_cache {
            path.push_str("?resourceVersion=0");
        }
        let request = http::Request::get(path)
            .body(Vec::new())
            .map_err(|e| ReadError::Unreachable(e.to_string()))?;
        let read = match self.bounded(self.client.request_text(request)).await {
            Ok(text) => {
                let object = LiveObject { text: text.into() };
                // Refuse what is not JSON here, once, rather than on every use.
                object.parse()?;
                Some(object)
            }
            Err(ReadError::NotFound) => None,
            Err(e) => return Err(e),
        };
        let weight = read.as_ref().map_or(64, LiveObject::bytes);
        let read = Arc::new(read);
        self.shared
            .cache
            .insert(key, Arc::clone(&read), weight, Instant::now());
        Ok(read)
    }

    /// `(plural, namespaced)` of a kind, from the cache or a fresh discovery of its group/version.
    async fn resolve(&self, r: &LiveRef<'_>) -> Result<(String, bool), ReadError> {
        self.discovery
            .resolve(r.group, r.version, r.kind, |path| async move {
                let request = http::Request::get(path)
                    .body(Vec::new())
                    .map_err(|e| ReadError::Unreachable(e.to_string()))?;
                // As text: kube's typed calls log a body they cannot parse.
                self.bounded(self.client.request_text(request)).await
            })
            .await
    }

    /// How many group/versions the discovery cache holds.
    pub fn discovery_entries(&self) -> usize {
        self.discovery.len()
    }

    /// Runs one API call under the request deadline, mapping failures to [`ReadError`].
    async fn bounded<T>(
        &self,
        call: impl Future<Output = Result<T, kube::Error>>,
    ) -> Result<T, ReadError> {
        match tokio::time::timeout(self.shared.request_timeout, call).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(kube::Error::Api(status))) if status.code == 404 => Err(ReadError::NotFound),
            Ok(Err(kube::Error::Api(status))) if status.code == 403 => Err(ReadError::Forbidden(
                describe_status(status.code, &status.message),
            )),
            Ok(Err(error)) => Err(ReadError::Unreachable(describe(&error))),
            Err(_) => Err(ReadError::Unreachable(format!(
                "no answer within {} s",
                self.shared.request_timeout.as_secs()
            ))),
        }
    }
}

/// `/api/v1/namespaces/ns/configmaps/name`, `/apis/apps/v1/…`, cluster-scoped without the
/// namespace; every segment percent-encoded.
fn object_path(r: &LiveRef<'_>, plural: &str, namespaced: bool) -> String {
    use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
    let enc = |s: &str| utf8_percent_encode(s, NON_ALPHANUMERIC).to_string();
    let mut path = if r.group.is_empty() {
        format!("/api/{}", enc(r.version))
    } else {
        format!("/apis/{}/{}", enc(r.group), enc(r.version))
    };
    if namespaced {
        path.push_str(&format!("/namespaces/{}", enc(r.namespace)));
    }
    path.push_str(&format!("/{}/{}", enc(plural), enc(r.name)));
    path
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_paths_follow_the_api_layout_and_encode_every_segment() {
        let r = LiveRef {
            group: "apps",
            version: "v1",
            kind: "Deployment",
            namespace: "guestbook",
            name: "ui",
        };
        assert_eq!(
            object_path(&r, "deployments", true),
            "/apis/apps/v1/namespaces/guestbook/deployments/ui"
        );
        let core = LiveRef {
            group: "",
            version: "v1",
            kind: "Namespace",
            namespace: "",
            name: "a/../b",
        };
        assert_eq!(
            object_path(&core, "namespaces", false),
            "/api/v1/namespaces/a%2F%2E%2E%2Fb"
        );
    }
}
