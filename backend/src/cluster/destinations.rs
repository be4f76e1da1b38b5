//! Reading an app's live objects from its destination cluster, one GET at a time.
//!
//! [`Destinations`] turns an Application's `spec.destination` into a [`Cluster`] handle; today
//! the only cluster read is the one argocd-drift runs in (`https://kubernetes.default.svc`, or
//! the name `in-cluster`), through the backend's own credentials. Each cluster keeps a discovery
//! cache: a kind is resolved to its resource (plural name, namespaced or not) from the API
//! server's discovery document for its group/version, fetched once and kept for
//! [`DISCOVERY_TTL`], re-fetched early (at most every [`DISCOVERY_RETRY`]) when a kind is not in
//! it — a CRD installed after the cache was filled.
//!
//! Only `get` of named objects: never a list of a kind, so RBAC can grant `get` alone.

use super::{describe, describe_status};
use drift_core::app::Destination;
use kube::api::{Api, ApiResource, DynamicObject};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::time::Instant;

/// How long a group/version's discovery document is trusted.
pub const DISCOVERY_TTL: Duration = Duration::from_secs(600);
/// The soonest a group/version is re-discovered because a kind was missing from it.
pub const DISCOVERY_RETRY: Duration = Duration::from_secs(30);

/// Argo CD's address and name for the cluster it runs in.
pub const IN_CLUSTER_SERVER: &str = "https://kubernetes.default.svc";
pub const IN_CLUSTER_NAME: &str = "in-cluster";

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

/// Why an object could not be read. Messages are short and safe to show: the API server's
/// status code and message, never a credential.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    /// The destination is a cluster this backend does not read.
    #[error("cluster {0} is not readable by this argocd-drift")]
    ClusterNotReadable(String),
    /// The API server serves no such kind in that group/version.
    #[error("the API server serves no kind {kind} in {api_version}")]
    KindUnknown { api_version: String, kind: String },
    /// RBAC refuses reading this kind.
    #[error("{0}")]
    Forbidden(String),
    /// The API server could not be reached, or did not answer in time.
    #[error("{0}")]
    Unreachable(String),
    /// Internal: a discovery document that does not exist (never returned by [`Cluster::get`],
    /// which reports a missing object as `None`).
    #[error("not found")]
    NotFound,
}

/// The clusters argocd-drift can read.
#[derive(Clone)]
pub struct Destinations {
    in_cluster: Cluster,
}

impl Destinations {
    pub(super) fn new(client: kube::Client, request_timeout: Duration) -> Self {
        Destinations {
            in_cluster: Cluster {
                client,
                request_timeout,
                discovery: Arc::new(RwLock::new(HashMap::new())),
            },
        }
    }

    /// The cluster an app deploys to.
    pub fn cluster(&self, destination: &Destination) -> Result<Cluster, ReadError> {
        let in_cluster = match (destination.server(), destination.name()) {
            (Some(server), _) => server == IN_CLUSTER_SERVER,
            (None, Some(name)) => name == IN_CLUSTER_NAME,
            (None, None) => false,
        };
        if in_cluster {
            Ok(self.in_cluster.clone())
        } else {
            let named = destination
                .server()
                .or(destination.name())
                .unwrap_or("(none)");
            Err(ReadError::ClusterNotReadable(named.to_string()))
        }
    }
}

/// One cluster: a client and its discovery cache. Cheap to clone.
#[derive(Clone)]
pub struct Cluster {
    client: kube::Client,
    request_timeout: Duration,
    discovery: Arc<RwLock<HashMap<String, Discovered>>>,
}

/// The kinds of one group/version.
struct Discovered {
    fetched: Instant,
    /// kind → (plural, namespaced)
    kinds: HashMap<String, (String, bool)>,
}

impl Cluster {
    /// The object as JSON, `None` if it does not exist.
    pub async fn get(&self, r: LiveRef<'_>) -> Result<Option<serde_json::Value>, ReadError> {
        let api_version = if r.group.is_empty() {
            r.version.to_string()
        } else {
            format!("{}/{}", r.group, r.version)
        };
        let (plural, namespaced) = self.resolve(&api_version, r.kind).await?;
        let resource = ApiResource {
            group: r.group.to_string(),
            version: r.version.to_string(),
            api_version,
            kind: r.kind.to_string(),
            plural,
        };
        let api: Api<DynamicObject> = if namespaced {
            Api::namespaced_with(self.client.clone(), r.namespace, &resource)
        } else {
            Api::all_with(self.client.clone(), &resource)
        };
        let object = self.bounded(api.get_opt(r.name)).await?;
        object
            .map(|o| serde_json::to_value(o).map_err(|e| ReadError::Unreachable(e.to_string())))
            .transpose()
    }

    /// `(plural, namespaced)` of a kind, from the cache or a fresh discovery of its group/version.
    async fn resolve(&self, api_version: &str, kind: &str) -> Result<(String, bool), ReadError> {
        let now = Instant::now();
        let cached = {
            let cache = self.read_cache();
            cache
                .get(api_version)
                .map(|d| (d.kinds.get(kind).cloned(), now.duration_since(d.fetched)))
        };
        match cached {
            Some((Some(found), age)) if age < DISCOVERY_TTL => return Ok(found),
            Some((None, age)) if age < DISCOVERY_RETRY => {
                return Err(ReadError::KindUnknown {
                    api_version: api_version.to_string(),
                    kind: kind.to_string(),
                });
            }
            _ => {}
        }
        let kinds = self.discover(api_version).await?;
        let found = kinds.get(kind).cloned();
        self.write_cache().insert(
            api_version.to_string(),
            Discovered {
                fetched: now,
                kinds,
            },
        );
        found.ok_or_else(|| ReadError::KindUnknown {
            api_version: api_version.to_string(),
            kind: kind.to_string(),
        })
    }

    async fn discover(
        &self,
        api_version: &str,
    ) -> Result<HashMap<String, (String, bool)>, ReadError> {
        let list = if api_version.contains('/') {
            self.bounded(self.client.list_api_group_resources(api_version))
                .await
        } else {
            self.bounded(self.client.list_core_api_resources(api_version))
                .await
        };
        let list = match list {
            Ok(list) => list,
            // The group/version is not served at all: no kind of it exists.
            Err(ReadError::NotFound) => return Ok(HashMap::new()),
            Err(e) => return Err(e),
        };
        Ok(list
            .resources
            .into_iter()
            // Subresources (`deployments/scale`) are not kinds of their own.
            .filter(|r| !r.name.contains('/'))
            .map(|r| (r.kind, (r.name, r.namespaced)))
            .collect())
    }

    /// Runs one API call under the request deadline, mapping failures to [`ReadError`].
    async fn bounded<T>(
        &self,
        call: impl Future<Output = Result<T, kube::Error>>,
    ) -> Result<T, ReadError> {
        match tokio::time::timeout(self.request_timeout, call).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(kube::Error::Api(status))) if status.code == 404 => Err(ReadError::NotFound),
            Ok(Err(kube::Error::Api(status))) if status.code == 403 => Err(ReadError::Forbidden(
                describe_status(status.code, &status.message),
            )),
            Ok(Err(error)) => Err(ReadError::Unreachable(describe(&error))),
            Err(_) => Err(ReadError::Unreachable(format!(
                "no answer within {} s",
                self.request_timeout.as_secs()
            ))),
        }
    }

    fn read_cache(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Discovered>> {
        self.discovery
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write_cache(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, Discovered>> {
        self.discovery
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
