//! The project's own custom resources (`argocd-drift.io/v1alpha1`), in the backend's namespace
//! (`POD_NAMESPACE`): the only objects argocd-drift writes. The Kubernetes API is the database.
//!
//! [`OwnResources`] reads and writes one kind by name with optimistic concurrency (every replace
//! and delete carries the `resourceVersion` it read; a stale one is a [`WriteError::Conflict`]
//! for the caller to re-read and retry), and watches the kind into an [`OwnSink`] that sees plain
//! JSON ([`Stored`]), so the stores that keep these objects in memory need no kube type.

use super::describe;
use super::watch::{Sink, WatchSpec, WatchTasks};
use crate::metrics::Metrics;
use crate::readiness::Source;
use jiff::Timestamp;
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, PostParams, Preconditions};
use std::sync::Arc;
use std::time::Duration;

/// The project's API group and version.
pub const GROUP: &str = "argocd-drift.io";
pub const VERSION: &str = "v1alpha1";

/// One of the project's kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OwnKind {
    pub kind: &'static str,
    pub plural: &'static str,
}

impl OwnKind {
    fn resource(self) -> ApiResource {
        ApiResource {
            group: GROUP.to_string(),
            version: VERSION.to_string(),
            api_version: format!("{GROUP}/{VERSION}"),
            kind: self.kind.to_string(),
            plural: self.plural.to_string(),
        }
    }

    /// `apiVersion` and `kind` of a new object of this kind.
    pub fn type_meta(self) -> (String, &'static str) {
        (format!("{GROUP}/{VERSION}"), self.kind)
    }
}

/// An object as stored: its name, the version to send back with a write, and the whole object.
#[derive(Clone, Debug, PartialEq)]
pub struct Stored {
    pub name: String,
    pub resource_version: String,
    pub object: serde_json::Value,
}

/// What a write of a serialized object stored: its name and new version (the answer's object
/// itself is not read — the writer knows what it sent).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Written {
    pub name: String,
    pub resource_version: String,
}

/// The part of an answer [`Written`] reads; the rest of the object is skipped unparsed.
#[derive(serde::Deserialize)]
struct WrittenAnswer {
    metadata: WrittenMeta,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct WrittenMeta {
    #[serde(default)]
    name: String,
    #[serde(default)]
    resource_version: String,
}

/// Why a write did not happen. Messages are the API server's, short, and never carry a
/// credential.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WriteError {
    /// The object changed since it was read (409 on replace or delete): re-read and retry.
    #[error("the object changed since it was read")]
    Conflict,
    /// Create of a name that exists (409 AlreadyExists).
    #[error("the object already exists")]
    AlreadyExists,
    /// The object is gone.
    #[error("the object does not exist")]
    NotFound,
    /// The API server refused the object (422: the CRD's schema, a bad name).
    #[error("refused by the API server: {0}")]
    Invalid(String),
    /// RBAC refuses the write.
    #[error("{0}")]
    Forbidden(String),
    /// The API server could not be reached or did not answer in time.
    #[error("{0}")]
    Unreachable(String),
}

impl WriteError {
    /// Whether retrying the same write later may succeed (the API server was away).
    pub fn is_transient(&self) -> bool {
        matches!(self, WriteError::Unreachable(_))
    }
}

/// One kind of the project's resources in one namespace. Cheap to clone.
#[derive(Clone)]
pub struct OwnResources {
    client: kube::Client,
    kind: OwnKind,
    namespace: String,
    api: Api<DynamicObject>,
    request_timeout: Duration,
}

impl OwnResources {
    pub(super) fn new(
        client: kube::Client,
        kind: OwnKind,
        namespace: &str,
        request_timeout: Duration,
    ) -> Self {
        let api = Api::namespaced_with(client.clone(), namespace, &kind.resource());
        OwnResources {
            client,
            kind,
            namespace: namespace.to_string(),
            api,
            request_timeout,
        }
    }

    pub fn kind(&self) -> OwnKind {
        self.kind
    }

    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    pub async fn get(&self, name: &str) -> Result<Option<Stored>, WriteError> {
        let object = self.bounded(self.api.get_opt(name)).await?;
        object.map(stored).transpose()
    }

    /// Creates `object` (its `metadata.name` names it; `apiVersion`, `kind` and the namespace
    /// are filled in).
    pub async fn create(&self, mut object: serde_json::Value) -> Result<Stored, WriteError> {
        self.complete(&mut object);
        let object = to_dynamic(object)?;
        match self
            .bounded(self.api.create(&PostParams::default(), &object))
            .await
        {
            Err(WriteError::Conflict) => Err(WriteError::AlreadyExists),
            other => other.and_then(stored),
        }
    }

    /// Replaces the object; `object.metadata.resourceVersion` must be the version it was read
    /// at, or the write is a [`WriteError::Conflict`].
    pub async fn replace(&self, mut object: serde_json::Value) -> Result<Stored, WriteError> {
        self.complete(&mut object);
        let name = object["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let object = to_dynamic(object)?;
        self.bounded(self.api.replace(&name, &PostParams::default(), &object))
            .await
            .and_then(stored)
    }

    /// `apiVersion` of the kind, for callers that serialize whole objects themselves
    /// ([`OwnResources::create_json`]).
    pub fn api_version(&self) -> String {
        self.kind.type_meta().0
    }

    /// Creates the object serialized in `body` (complete: `apiVersion`, `kind`,
    /// `metadata.namespace`). Sent as is, and of the answer only the name and version are
    /// read: a large object costs one serialization and no parse.
    pub async fn create_json(&self, body: Vec<u8>) -> Result<Written, WriteError> {
        let request = kube::core::Request::new(self.api.resource_url())
            .create(&PostParams::default(), body)
            .map_err(|e| WriteError::Invalid(e.to_string()))?;
        match self.send_json(request).await {
            Err(WriteError::Conflict) => Err(WriteError::AlreadyExists),
            other => other,
        }
    }

    /// Replaces object `name` by `body` ([`OwnResources::create_json`]); its
    /// `metadata.resourceVersion` must be the version it was read at, or the write is a
    /// [`WriteError::Conflict`].
    pub async fn replace_json(&self, name: &str, body: Vec<u8>) -> Result<Written, WriteError> {
        let request = kube::core::Request::new(self.api.resource_url())
            .replace(name, &PostParams::default(), body)
            .map_err(|e| WriteError::Invalid(e.to_string()))?;
        self.send_json(request).await
    }

    async fn send_json(&self, request: http::Request<Vec<u8>>) -> Result<Written, WriteError> {
        let answer: WrittenAnswer = self.bounded(self.client.request(request)).await?;
        Ok(Written {
            name: answer.metadata.name,
            resource_version: answer.metadata.resource_version,
        })
    }

    /// Deletes the object if it is still at `resource_version`.
    pub async fn delete(&self, name: &str, resource_version: &str) -> Result<(), WriteError> {
        let params = DeleteParams {
            preconditions: Some(Preconditions {
                resource_version: Some(resource_version.to_string()),
                uid: None,
            }),
            ..DeleteParams::default()
        };
        self.bounded(self.api.delete(name, &params))
            .await
            .map(|_| ())
    }

    /// Watches the kind in its namespace into `sink`; the first list makes `readiness` ready.
    pub fn watch<S: OwnSink>(
        &self,
        tasks: &mut WatchTasks,
        sink: S,
        readiness: Source,
        metrics: &Arc<Metrics>,
    ) {
        let spec = WatchSpec {
            resource: self.kind.resource(),
            namespace: Some(self.namespace.clone()),
            label_selector: None,
            field_selector: None,
        };
        tasks.spawn_watch(
            &self.client,
            spec,
            OwnAdapter(sink),
            readiness,
            Arc::clone(metrics),
            self.request_timeout,
        );
    }

    fn complete(&self, object: &mut serde_json::Value) {
        let (api_version, kind) = self.kind.type_meta();
        if let Some(map) = object.as_object_mut() {
            map.insert("apiVersion".into(), api_version.into());
            map.insert("kind".into(), kind.into());
            if let Some(meta) = map
                .entry("metadata")
                .or_insert_with(|| serde_json::json!({}))
                .as_object_mut()
            {
                meta.insert("namespace".into(), self.namespace.clone().into());
            }
        }
    }

    async fn bounded<T>(
        &self,
        call: impl Future<Output = Result<T, kube::Error>>,
    ) -> Result<T, WriteError> {
        match tokio::time::timeout(self.request_timeout, call).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(kube::Error::Api(status))) => Err(match status.code {
                409 => WriteError::Conflict,
                404 => WriteError::NotFound,
                422 | 400 => WriteError::Invalid(status.message.clone()),
                403 => WriteError::Forbidden(super::describe_status(403, &status.message)),
                _ => WriteError::Unreachable(super::describe_status(status.code, &status.message)),
            }),
            Ok(Err(error)) => Err(WriteError::Unreachable(describe(&error))),
            Err(_) => Err(WriteError::Unreachable(format!(
                "no answer within {} s",
                self.request_timeout.as_secs()
            ))),
        }
    }
}

fn to_dynamic(object: serde_json::Value) -> Result<DynamicObject, WriteError> {
    serde_json::from_value(object).map_err(|e| WriteError::Invalid(e.to_string()))
}

fn stored(object: DynamicObject) -> Result<Stored, WriteError> {
    let name = object.metadata.name.clone().unwrap_or_default();
    let resource_version = object.metadata.resource_version.clone().unwrap_or_default();
    let object =
        serde_json::to_value(object).map_err(|e| WriteError::Unreachable(e.to_string()))?;
    Ok(Stored {
        name,
        resource_version,
        object,
    })
}

/// Where a watch of one of the project's kinds goes. Plain JSON: no kube type.
pub trait OwnSink: Send + Sync + 'static {
    /// A complete list: exactly these objects exist now.
    fn replace(&self, objects: Vec<Stored>, now: Timestamp);
    fn apply(&self, object: Stored, now: Timestamp);
    /// Whether the sink already holds object `name` at `resource_version` (the echo of its own
    /// write): the event is then dropped before its object is converted for [`apply`](Self::apply).
    fn holds(&self, _name: &str, _resource_version: &str) -> bool {
        false
    }
    fn delete(&self, name: &str, now: Timestamp);
    /// [`delete`](Self::delete) with the object's last `resourceVersion`, for sinks that also
    /// hold their own writes and must not let an older deletion remove a newer object.
    fn delete_at(&self, name: &str, _resource_version: Option<&str>, now: Timestamp) {
        self.delete(name, now);
    }
    /// The watch cannot reach the API server; what the sink holds is the last known data.
    fn stale(&self, _why: &str, _now: Timestamp) {}
    fn fresh(&self) {}
    /// `Some(n)`: take lists page by page, `n` objects a page (`list_page`, then `list_end`)
    /// instead of one `replace`, for kinds whose objects are large (see the watch's `Sink`).
    fn list_page_size(&self) -> Option<u32> {
        None
    }
    fn list_start(&self) {}
    fn list_page(&self, _objects: Vec<Stored>, _now: Timestamp) {}
    fn list_end(&self, _now: Timestamp) {}
    /// The resourceVersion of the list about to end (`replace` or `list_end`): a sink that holds
    /// its own writes keeps those newer than it (their events follow the list).
    fn list_version(&self, _resource_version: &str) {}
}

struct OwnAdapter<S>(S);

impl<S: OwnSink> Sink for OwnAdapter<S> {
    type Listed = Stored;

    fn listed(&self, object: DynamicObject) -> Option<Stored> {
        stored(object).ok()
    }

    fn replace(&self, objects: Vec<Stored>, now: Timestamp) {
        self.0.replace(objects, now);
    }

    fn apply(&self, object: DynamicObject, now: Timestamp) {
        if let (Some(name), Some(version)) = (
            object.metadata.name.as_deref(),
            object.metadata.resource_version.as_deref(),
        ) && self.0.holds(name, version)
        {
            return;
        }
        if let Ok(object) = stored(object) {
            self.0.apply(object, now);
        }
    }

    fn delete(&self, object: DynamicObject, now: Timestamp) {
        if let Some(name) = &object.metadata.name {
            self.0
                .delete_at(name, object.metadata.resource_version.as_deref(), now);
        }
    }

    fn stale(&self, why: &str, now: Timestamp) {
        self.0.stale(why, now);
    }

    fn fresh(&self) {
        self.0.fresh();
    }

    fn list_page_size(&self) -> Option<u32> {
        self.0.list_page_size()
    }

    fn list_start(&self) {
        self.0.list_start();
    }

    fn list_page(&self, objects: Vec<DynamicObject>, now: Timestamp) {
        let objects = objects.into_iter().filter_map(|o| stored(o).ok()).collect();
        self.0.list_page(objects, now);
    }

    fn list_end(&self, now: Timestamp) {
        self.0.list_end(now);
    }

    fn list_version(&self, resource_version: &str) {
        self.0.list_version(resource_version);
    }
}
