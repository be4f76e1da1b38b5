//! Which resource serves a kind: one cluster's discovery cache.
//!
//! A kind is resolved to `(plural, namespaced)` from the API server's discovery document for its
//! group/version (`/api/{version}`, `/apis/{group}/{version}`). What reaches this module comes
//! from Applications and requests, so it is treated as hostile:
//!
//! - a group must be a DNS subdomain (or empty: the core group) and a version a DNS label, or
//!   nothing is requested at all (`v1/namespaces/x/deployments/y` is refused here, whoever
//!   passed it on); the URL is built from percent-encoded segments all the same;
//! - the document is fetched as text and parsed here: a body that is not a discovery document
//!   is an error that never quotes it (kube-client's typed calls log unparsable bodies at warn);
//! - at most [`DISCOVERY_MAX_ENTRIES`] group/versions are kept per cluster (the oldest fetched
//!   is evicted), and a failed look-up is remembered for [`DISCOVERY_FAILURE_TTL`], so one caller
//!   cannot make the backend ask the API server again on every request.
//!
//! A document is kept for [`DISCOVERY_TTL`], re-fetched early (at most every
//! [`DISCOVERY_RETRY`]) when a kind is not in it — a CRD installed after the cache was filled.

use super::read_error::ReadError;
use drift_core::names::{is_dns_label, is_dns_subdomain};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use std::collections::HashMap;
use std::sync::RwLock;
use std::time::Duration;
use tokio::time::Instant;

/// How long a group/version's discovery document is trusted.
pub const DISCOVERY_TTL: Duration = Duration::from_secs(600);
/// The soonest a group/version is re-discovered because a kind was missing from it.
pub const DISCOVERY_RETRY: Duration = Duration::from_secs(30);
/// How long a failed discovery (unreachable, forbidden, unreadable) is answered from memory.
pub const DISCOVERY_FAILURE_TTL: Duration = Duration::from_secs(5);
/// The most group/versions one cluster's cache holds.
pub const DISCOVERY_MAX_ENTRIES: usize = 256;

/// A kind's resource: `(plural, namespaced)`.
pub type Resolved = (String, bool);

/// One group/version as last looked up.
struct Entry {
    fetched: Instant,
    found: Result<HashMap<String, Resolved>, ReadError>,
}

/// One cluster's discovery cache. Fetching is the caller's (it holds the client and deadline).
#[derive(Default)]
pub struct Discovery {
    entries: RwLock<HashMap<String, Entry>>,
}

/// The discovery document's path for a group/version, every segment percent-encoded; `None`
/// when either is not a name the API server could serve.
pub fn document_path(group: &str, version: &str) -> Option<String> {
    if !is_dns_label(version) || !(group.is_empty() || is_dns_subdomain(group)) {
        return None;
    }
    let enc = |s: &str| utf8_percent_encode(s, NON_ALPHANUMERIC).to_string();
    Some(if group.is_empty() {
        format!("/api/{}", enc(version))
    } else {
        format!("/apis/{}/{}", enc(group), enc(version))
    })
}

/// `group/version`, or `version` for the core group.
pub fn api_version(group: &str, version: &str) -> String {
    if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    }
}

impl Discovery {
    /// `(plural, namespaced)` of `kind` in `group`/`version`, from the cache or from `fetch`
    /// (given the document's path; answers its text, or `ReadError::NotFound` when the
    /// group/version is not served).
    pub async fn resolve<F, Fut>(
        &self,
        group: &str,
        version: &str,
        kind: &str,
        fetch: F,
    ) -> Result<Resolved, ReadError>
    where
        F: FnOnce(String) -> Fut,
        Fut: Future<Output = Result<String, ReadError>>,
    {
        let api_version = api_version(group, version);
        let unknown = || ReadError::KindUnknown {
            api_version: api_version.clone(),
            kind: kind.to_string(),
        };
        let Some(path) = document_path(group, version) else {
            return Err(unknown());
        };
        let now = Instant::now();
        if let Some(answer) = self.cached(&api_version, kind, now) {
            return answer;
        }
        let found = match fetch(path).await {
            Ok(text) => parse_document(&text, &api_version),
            // The group/version is not served at all: no kind of it exists.
            Err(ReadError::NotFound) => Ok(HashMap::new()),
            Err(error) => Err(error),
        };
        let answer = match &found {
            Ok(kinds) => kinds.get(kind).cloned().ok_or_else(unknown),
            Err(error) => Err(error.clone()),
        };
        // Aged from the answer, not the question: a fetch may take its whole deadline.
        let fetched = Instant::now();
        self.insert(api_version.clone(), Entry { fetched, found });
        answer
    }

    /// How many group/versions are held.
    pub fn len(&self) -> usize {
        self.read().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The cached answer while it holds (found, known absent, or a recent failure); `None`:
    /// fetch.
    fn cached(
        &self,
        api_version: &str,
        kind: &str,
        now: Instant,
    ) -> Option<Result<Resolved, ReadError>> {
        let entries = self.read();
        let entry = entries.get(api_version)?;
        let age = now.saturating_duration_since(entry.fetched);
        match &entry.found {
            Err(error) if age < DISCOVERY_FAILURE_TTL => Some(Err(error.clone())),
            Err(_) => None,
            Ok(kinds) => match kinds.get(kind) {
                Some(found) if age < DISCOVERY_TTL => Some(Ok(found.clone())),
                None if age < DISCOVERY_RETRY => Some(Err(ReadError::KindUnknown {
                    api_version: api_version.to_string(),
                    kind: kind.to_string(),
                })),
                _ => None,
            },
        }
    }

    fn insert(&self, api_version: String, entry: Entry) {
        let mut entries = self
            .entries
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if !entries.contains_key(&api_version)
            && entries.len() >= DISCOVERY_MAX_ENTRIES
            && let Some(oldest) = entries
                .iter()
                .min_by_key(|(_, e)| e.fetched)
                .map(|(k, _)| k.clone())
        {
            entries.remove(&oldest);
        }
        entries.insert(api_version, entry);
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Entry>> {
        self.entries
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// kind → `(plural, namespaced)` from an `APIResourceList`. The error never quotes the text.
fn parse_document(text: &str, api_version: &str) -> Result<HashMap<String, Resolved>, ReadError> {
    #[derive(serde::Deserialize)]
    struct List {
        resources: Vec<Resource>,
    }
    #[derive(serde::Deserialize)]
    struct Resource {
        name: String,
        kind: String,
        namespaced: bool,
    }
    let list: List = serde_json::from_str(text).map_err(|_| {
        ReadError::Unreachable(format!(
            "the API server's discovery document for {api_version} is unreadable"
        ))
    })?;
    Ok(list
        .resources
        .into_iter()
        // Subresources (`deployments/scale`) are not kinds of their own.
        .filter(|r| !r.name.contains('/'))
        .map(|r| (r.kind, (r.name, r.namespaced)))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    const DEPLOYMENTS: &str = r#"{"kind":"APIResourceList","groupVersion":"apps/v1","resources":[
        {"name":"deployments","kind":"Deployment","namespaced":true,"verbs":["get"]},
        {"name":"deployments/scale","kind":"Scale","namespaced":true,"verbs":["get"]}]}"#;

    #[test]
    fn paths_are_built_from_encoded_segments_of_valid_names_only() {
        assert_eq!(document_path("", "v1").as_deref(), Some("/api/v1"));
        assert_eq!(
            document_path("apps", "v1").as_deref(),
            Some("/apis/apps/v1")
        );
        assert_eq!(
            document_path("argoproj.io", "v1alpha1").as_deref(),
            Some("/apis/argoproj%2Eio/v1alpha1")
        );
        for (group, version) in [
            ("apps", "v1/namespaces/web/deployments/web-frontend"),
            ("", "v1/deployments"),
            ("apps", "v1?watch=true"),
            ("apps", "v1#x"),
            ("apps", ".."),
            ("apps", ""),
            ("apps/v1", "v1"),
            ("Apps", "v1"),
            ("apps", "V1"),
        ] {
            assert_eq!(document_path(group, version), None, "{group} {version}");
        }
    }

    #[tokio::test]
    async fn an_invalid_version_is_unknown_without_a_request() {
        let discovery = Discovery::default();
        let calls = AtomicUsize::new(0);
        let answer = discovery
            .resolve("apps", "v1/deployments", "Deployment", |_| async {
                calls.fetch_add(1, Ordering::SeqCst);
                Ok(DEPLOYMENTS.to_string())
            })
            .await;
        assert!(matches!(answer, Err(ReadError::KindUnknown { .. })));
        assert_eq!(calls.load(Ordering::SeqCst), 0);
        assert!(discovery.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn failures_are_remembered_briefly_then_asked_again() {
        let discovery = Discovery::default();
        let calls = AtomicUsize::new(0);
        let down = || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err::<String, _>(ReadError::Unreachable("503 Service Unavailable".into()))
        };
        for _ in 0..5 {
            let answer = discovery
                .resolve("apps", "v1", "Deployment", |_| down())
                .await;
            assert!(matches!(answer, Err(ReadError::Unreachable(_))));
        }
        assert_eq!(
            calls.load(Ordering::SeqCst),
            1,
            "one request for five look-ups"
        );
        tokio::time::advance(DISCOVERY_FAILURE_TTL).await;
        let answer = discovery
            .resolve("apps", "v1", "Deployment", |_| async {
                calls.fetch_add(1, Ordering::SeqCst);
                Ok(DEPLOYMENTS.to_string())
            })
            .await;
        assert_eq!(answer, Ok(("deployments".to_string(), true)));
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn an_unreadable_document_is_an_error_that_does_not_quote_it() {
        let discovery = Discovery::default();
        let body = r#"{"kind":"DeploymentList","items":[{"metadata":{"name":"web-frontend"}}]}"#;
        let answer = discovery
            .resolve("apps", "v1", "Deployment", |_| async {
                Ok(body.to_string())
            })
            .await;
        let Err(ReadError::Unreachable(message)) = answer else {
            panic!("{answer:?}");
        };
        assert!(!message.contains("web-frontend"), "{message}");
    }

    #[tokio::test(start_paused = true)]
    async fn the_cache_is_bounded_by_evicting_the_oldest_group_version() {
        let discovery = Discovery::default();
        for i in 0..DISCOVERY_MAX_ENTRIES + 50 {
            tokio::time::advance(Duration::from_millis(1)).await;
            let _ = discovery
                .resolve("apps", &format!("v{i}"), "Deployment", |_| async {
                    Ok(DEPLOYMENTS.to_string())
                })
                .await;
        }
        assert_eq!(discovery.len(), DISCOVERY_MAX_ENTRIES);
        // The newest is held (answered without a request), the oldest was evicted.
        let calls = AtomicUsize::new(0);
        let count = |_| async {
            calls.fetch_add(1, Ordering::SeqCst);
            Ok(DEPLOYMENTS.to_string())
        };
        let newest = format!("v{}", DISCOVERY_MAX_ENTRIES + 49);
        let _ = discovery
            .resolve("apps", &newest, "Deployment", count)
            .await;
        assert_eq!(calls.load(Ordering::SeqCst), 0);
        let _ = discovery.resolve("apps", "v0", "Deployment", count).await;
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }
}
