//! The object store: objects, resourceVersions, the event log and watch fan-out.
//!
//! # Data model
//!
//! Everything lives in one [`State`] behind one mutex:
//!
//! - `rv`: the single global resourceVersion counter. Every committed mutation (over HTTP or
//!   through the in-process [`Store`] API) increments it and stamps the written object's
//!   `metadata.resourceVersion` with it, like etcd's revision.
//! - `objects`: per resource ([`ResourceKey`] = group + plural), a map from
//!   `(namespace, name)` to the current object. Iteration order is namespace/name, which is
//!   the order lists are served in.
//! - `history`: every committed event (`ADDED`/`MODIFIED`/`DELETED`) with the object before
//!   and after. Watches replay it from a resourceVersion; paged lists use it to rebuild the
//!   snapshot their continue token refers to. `compacted_rv` is the oldest resourceVersion
//!   that can still be served: older ones get `410 Expired`. [`Store::compact`] moves it to
//!   the current revision (and changes `epoch`, which invalidates every continue token).
//! - `subscribers`: one unbounded channel per open watch. Events are sent while the lock is
//!   held, and a watch takes its snapshot/replay and subscribes under the same lock, so no
//!   event is lost or duplicated between the initial state and the live stream.
//! - `registry`: the served resource types; creating or deleting a CustomResourceDefinition
//!   changes it in the same critical section.
//!
//! Writes made through the in-process API (seeds included) are "raw": they keep the object,
//! `status` and `metadata.managedFields` exactly as given (a test can write anything), while
//! HTTP writes apply the API server's rules, in the real server's order:
//!
//! 1. the status subresource split (the main endpoint keeps the stored `status`, `/status`
//!    changes only `status`);
//! 2. for built-in kinds, decode-time defaults (`defaults`) and what the field manager already
//!    sees on create (`strategy::owned_on_create`), except for server-side apply;
//! 3. field management (`managed_fields`), which may remove fields an applier dropped;
//! 4. for built-in kinds, the defaults of a server-side apply, then what storage assigns
//!    (`strategy::prepare_for_create`/`prepare_for_update`), owned by nobody;
//! 5. `generation` (`strategy::generation_changed`) and the no-op check.
//!
//! Both kinds of write keep `uid`/`creationTimestamp` stable, maintain `generation`, and honour
//! finalizers.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use serde_json::{Map, Value, json};
use tokio::sync::mpsc;

use crate::defaults;
use crate::managed_fields::{self, Operation, Scope};
use crate::meta::{
    has_finalizers, metadata_mut, name_of, name_suffix, namespace_of, new_uid, now_rfc3339,
    same_but_version, str_field,
};
use crate::registry::{Registry, ResourceKey, ResourceType, split_api_version};
use crate::schema::Shape;
use crate::status::ApiError;
use crate::strategy::{self, Allocator};

/// Events kept for watch replay before the oldest are compacted away automatically.
const MAX_HISTORY: usize = 100_000;

/// Namespaces every cluster has.
const SYSTEM_NAMESPACES: &[&str] = &["default", "kube-node-lease", "kube-public", "kube-system"];

/// What happened to an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// One committed change.
#[derive(Debug)]
pub(crate) struct Event {
    pub rv: u64,
    pub kind: EventType,
    pub resource: ResourceKey,
    /// The object after the change (for `Deleted`: its last state, stamped with this `rv`).
    pub object: Arc<Value>,
    /// The object before the change (`None` for `Added`).
    pub previous: Option<Arc<Value>>,
}

type ObjectName = (String, String);

struct Subscriber {
    resource: ResourceKey,
    tx: mpsc::UnboundedSender<Arc<Event>>,
}

/// Where a watch starts.
#[derive(Debug, Clone, Copy)]
pub(crate) enum WatchStart {
    /// Synthetic `ADDED` for every current object, then live events.
    Current,
    /// Replay events newer than this resourceVersion, then live events.
    After(u64),
}

/// An open watch: what to send first, and the live channel.
pub(crate) struct Subscription {
    pub initial: Vec<Arc<Event>>,
    pub rx: mpsc::UnboundedReceiver<Arc<Event>>,
    /// The global resourceVersion when the watch started.
    pub rv: u64,
}

/// A snapshot's objects by (namespace, name), sorted.
pub(crate) type SnapshotItems = Vec<((String, String), Arc<Value>)>;

/// A consistent list snapshot.
#[derive(Debug)]
pub(crate) struct Snapshot {
    pub rv: u64,
    pub epoch: u64,
    /// Sorted by namespace, then name. Shared: the pages of one list read one snapshot.
    pub items: Arc<SnapshotItems>,
}

/// The last snapshot taken of a kind: the next page of the same list (same resourceVersion)
/// reads it again instead of copying every object's entry anew (a list of 50,000 objects in
/// pages of 500 copied the kind's map 100 times). One per kind, so that lists of several kinds
/// taken at once do not evict each other's. What a kind holds at a given resourceVersion never
/// changes, so it needs no invalidation.
#[derive(Debug)]
struct CachedSnapshot {
    rv: u64,
    epoch: u64,
    items: Arc<SnapshotItems>,
}

/// Who is writing over HTTP (in-process writes pass `None`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct HttpWrite<'a> {
    pub manager: &'a str,
    pub operation: Operation<'a>,
    /// Written through the `/status` subresource.
    pub status: bool,
}

impl HttpWrite<'_> {
    fn is_apply(&self) -> bool {
        matches!(self.operation, Operation::Apply { .. })
    }
}

/// How a write is performed.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct WriteCtx<'a> {
    pub http: Option<HttpWrite<'a>>,
    pub dry_run: bool,
}

/// `DeleteOptions.preconditions`.
#[derive(Debug, Clone, Default)]
pub(crate) struct Preconditions {
    pub uid: Option<String>,
    pub resource_version: Option<String>,
}

/// The objects of a fake API server. Cheap to clone (shared state).
#[derive(Clone)]
pub struct Store {
    state: Arc<Mutex<State>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("resource_version", &self.current_resource_version())
            .finish_non_exhaustive()
    }
}

impl Default for Store {
    fn default() -> Self {
        Self::new()
    }
}

// === impl Store (public, in-process API) ===

impl Store {
    /// An empty store serving the built-in types, with the namespaces every cluster has
    /// (`default`, `kube-system`, `kube-public`, `kube-node-lease`).
    pub fn new() -> Self {
        let mut state = State {
            rv: 0,
            compacted_rv: 0,
            epoch: 0,
            registry: Registry::builtin(),
            objects: BTreeMap::new(),
            history: VecDeque::new(),
            subscribers: Vec::new(),
            allocator: Allocator::default(),
            last_snapshots: BTreeMap::new(),
        };
        for ns in SYSTEM_NAMESPACES {
            let ns_object =
                json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}});
            if let Err(err) = state.create_raw(ns_object, &WriteCtx::default()) {
                tracing::error!(%err, namespace = ns, "failed to create a system namespace");
            }
        }
        Self {
            state: Arc::new(Mutex::new(state)),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves consistent data (every mutation is committed
        // in one step), so a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The object, as served by `api_version`, or `None` (namespaced kinds: `None` namespace
    /// means `default`).
    pub fn get(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> Option<Value> {
        let state = self.lock();
        let rt = state.registry.lookup_kind(api_version, kind)?;
        let ns = if rt.namespaced {
            Some(namespace.unwrap_or("default"))
        } else {
            None
        };
        state
            .get(&rt.key(), ns, name)
            .map(|obj| for_version(&obj, &rt))
    }

    /// Every object of a kind (in one namespace, or all), sorted by namespace/name.
    pub fn list(&self, api_version: &str, kind: &str, namespace: Option<&str>) -> Vec<Value> {
        let state = self.lock();
        let Some(rt) = state.registry.lookup_kind(api_version, kind) else {
            return Vec::new();
        };
        state
            .objects
            .get(&rt.key())
            .map(|objects| {
                objects
                    .iter()
                    .filter(|((ns, _), _)| namespace.is_none_or(|want| want == ns))
                    .map(|(_, obj)| for_version(obj, &rt))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Creates an object (namespaced objects without a namespace go to `default`). `status`
    /// and `managedFields` are stored as given; `uid`, `creationTimestamp` and `generation`
    /// are kept when present.
    pub fn create(&self, obj: Value) -> Result<Value, ApiError> {
        self.lock().create_raw(obj, &WriteCtx::default())
    }

    /// Replaces an existing object. A non-empty `metadata.resourceVersion` must be current
    /// (else `409 Conflict`); without one the replace is unconditional. `status` and
    /// `managedFields` are stored as given (`managedFields` is kept from the stored object
    /// when absent).
    pub fn replace(&self, obj: Value) -> Result<Value, ApiError> {
        let mut state = self.lock();
        let rt = state.resolve(&obj)?;
        let ns = state.default_namespace(&rt, &obj);
        let name = name_of(&obj).to_string();
        state
            .update(
                &rt,
                ns.as_deref(),
                &name,
                &WriteCtx::default(),
                false,
                |_| Ok(obj),
            )
            .map(|(obj, _)| obj)
    }

    /// Creates the object, or replaces it unconditionally when it exists.
    pub fn upsert(&self, mut obj: Value) -> Result<Value, ApiError> {
        let mut state = self.lock();
        let rt = state.resolve(&obj)?;
        let ns = state.default_namespace(&rt, &obj);
        let name = name_of(&obj).to_string();
        metadata_mut(&mut obj).remove("resourceVersion");
        state
            .update(
                &rt,
                ns.as_deref(),
                &name,
                &WriteCtx::default(),
                true,
                |_| Ok(obj),
            )
            .map(|(obj, _)| obj)
    }

    /// Deletes an object like `DELETE` does: with finalizers it only gets a
    /// `deletionTimestamp`, and disappears once an update empties `metadata.finalizers`.
    pub fn delete(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Value, ApiError> {
        let mut state = self.lock();
        let rt = state
            .registry
            .lookup_kind(api_version, kind)
            .ok_or_else(|| unknown_kind(api_version, kind))?;
        let ns = if rt.namespaced {
            Some(namespace.unwrap_or("default"))
        } else {
            None
        };
        state.delete(&rt, ns, name, &Preconditions::default(), false)
    }

    /// The current global resourceVersion.
    pub fn current_resource_version(&self) -> u64 {
        self.lock().rv
    }

    /// Forgets the event history: watches from an older resourceVersion and every continue
    /// token issued so far get `410 Expired`.
    pub fn compact(&self) {
        let mut state = self.lock();
        state.compacted_rv = state.rv;
        state.epoch += 1;
        state.history.clear();
    }
}

// === impl Store (crate API used by the HTTP handlers) ===

impl Store {
    pub(crate) fn lookup(
        &self,
        group: &str,
        version: &str,
        plural: &str,
    ) -> Option<Arc<ResourceType>> {
        self.lock().registry.lookup(group, version, plural)
    }

    pub(crate) fn registry(&self) -> Registry {
        self.lock().registry.clone()
    }

    pub(crate) fn get_object(
        &self,
        rt: &ResourceType,
        ns: Option<&str>,
        name: &str,
    ) -> Option<Arc<Value>> {
        self.lock().get(&rt.key(), ns, name)
    }

    /// The objects of a resource at `at` (current when `None` or not older than now).
    pub(crate) fn snapshot(
        &self,
        rt: &ResourceType,
        at: Option<u64>,
        epoch: Option<u64>,
    ) -> Result<Snapshot, ApiError> {
        let mut state = self.lock();
        if epoch.is_some_and(|e| e != state.epoch) {
            return Err(ApiError::expired_continue());
        }
        let at = at.filter(|rv| *rv < state.rv);
        let key = rt.key();
        let wanted = match at {
            None => state.rv,
            Some(at) if at < state.compacted_rv => {
                return Err(if epoch.is_some() {
                    ApiError::expired_continue()
                } else {
                    ApiError::too_old(at, state.compacted_rv)
                });
            }
            Some(at) => at,
        };
        if let Some(cached) = state.last_snapshots.get(&key)
            && cached.rv == wanted
            && cached.epoch == state.epoch
        {
            return Ok(Snapshot {
                rv: wanted,
                epoch: state.epoch,
                items: Arc::clone(&cached.items),
            });
        }
        let mut objects = state.objects.get(&key).cloned().unwrap_or_default();
        let rv = match at {
            None => state.rv,
            Some(at) => {
                for event in state.history.iter().rev().take_while(|e| e.rv > at) {
                    if event.resource != key {
                        continue;
                    }
                    let name = object_name(&event.object);
                    match (&event.kind, &event.previous) {
                        (EventType::Added, _) => {
                            objects.remove(&name);
                        }
                        (_, Some(previous)) => {
                            objects.insert(name, Arc::clone(previous));
                        }
                        (_, None) => {}
                    }
                }
                at
            }
        };
        let items = Arc::new(objects.into_iter().collect::<Vec<_>>());
        let epoch = state.epoch;
        state.last_snapshots.insert(
            key,
            CachedSnapshot {
                rv,
                epoch,
                items: Arc::clone(&items),
            },
        );
        Ok(Snapshot {
            rv,
            epoch: state.epoch,
            items,
        })
    }

    /// Opens a watch; `Err(oldest)` when `start` is older than the compaction point.
    pub(crate) fn subscribe(
        &self,
        rt: &ResourceType,
        start: WatchStart,
    ) -> Result<Subscription, ApiError> {
        let mut state = self.lock();
        let key = rt.key();
        let initial = match start {
            WatchStart::Current => state
                .objects
                .get(&key)
                .map(|objects| {
                    objects
                        .values()
                        .map(|obj| {
                            Arc::new(Event {
                                rv: resource_version_of(obj),
                                kind: EventType::Added,
                                resource: key.clone(),
                                object: Arc::clone(obj),
                                previous: None,
                            })
                        })
                        .collect()
                })
                .unwrap_or_default(),
            // Events bypass the real watch cache: etcd itself reports the compaction.
            WatchStart::After(rv) if rv < state.compacted_rv && rt.is_events() => {
                return Err(ApiError::too_old_uncached());
            }
            WatchStart::After(rv) if rv < state.compacted_rv => {
                return Err(ApiError::too_old(rv, state.compacted_rv));
            }
            WatchStart::After(rv) => state
                .history
                .iter()
                .filter(|e| e.rv > rv && e.resource == key)
                .cloned()
                .collect(),
        };
        let (tx, rx) = mpsc::unbounded_channel();
        state.subscribers.retain(|s| !s.tx.is_closed());
        state.subscribers.push(Subscriber { resource: key, tx });
        Ok(Subscription {
            initial,
            rx,
            rv: state.rv,
        })
    }

    pub(crate) fn create_object(
        &self,
        rt: &ResourceType,
        ns: Option<&str>,
        obj: Value,
        ctx: &WriteCtx<'_>,
    ) -> Result<Value, ApiError> {
        self.lock().create(rt, ns, obj, ctx)
    }

    /// Read-modify-write under the lock: `make` gets the current object (`None` when absent,
    /// which is only possible with `create_if_missing`) and returns the desired one.
    pub(crate) fn update_object(
        &self,
        rt: &ResourceType,
        ns: Option<&str>,
        name: &str,
        ctx: &WriteCtx<'_>,
        create_if_missing: bool,
        make: impl FnOnce(Option<&Value>) -> Result<Value, ApiError>,
    ) -> Result<(Value, bool), ApiError> {
        self.lock()
            .update(rt, ns, name, ctx, create_if_missing, make)
    }

    pub(crate) fn delete_object(
        &self,
        rt: &ResourceType,
        ns: Option<&str>,
        name: &str,
        pre: &Preconditions,
        dry_run: bool,
    ) -> Result<Value, ApiError> {
        self.lock().delete(rt, ns, name, pre, dry_run)
    }

    /// Seeding: create, or for namespaces that already exist, replace.
    pub(crate) fn seed(&self, obj: Value) -> Result<Value, ApiError> {
        let mut state = self.lock();
        let rt = state.resolve(&obj)?;
        if rt.is_namespace() && state.get(&rt.key(), None, name_of(&obj)).is_some() {
            drop(state);
            return self.upsert(obj);
        }
        state.create_raw(obj, &WriteCtx::default())
    }

    pub(crate) fn namespace_exists(&self, ns: &str) -> bool {
        self.lock().namespace_exists(ns)
    }

    /// Whether the object's kind is namespaced (`None` for an unknown kind).
    pub(crate) fn is_namespaced(&self, obj: &Value) -> Option<bool> {
        self.lock().resolve(obj).ok().map(|rt| rt.namespaced)
    }
}

/// The object as served through `rt`'s version (only `apiVersion` differs between versions).
pub(crate) fn for_version(obj: &Value, rt: &ResourceType) -> Value {
    served(obj, rt).into_owned()
}

/// [`for_version`], borrowed when the object is stored at the version served (the usual case):
/// what is only serialized need not be copied first.
pub(crate) fn served<'a>(obj: &'a Value, rt: &ResourceType) -> std::borrow::Cow<'a, Value> {
    let api_version = rt.api_version();
    if str_field(obj, "/apiVersion") == Some(api_version.as_str()) {
        return std::borrow::Cow::Borrowed(obj);
    }
    let mut out = obj.clone();
    if let Some(map) = out.as_object_mut() {
        map.insert("apiVersion".into(), api_version.into());
    }
    std::borrow::Cow::Owned(out)
}

pub(crate) fn resource_version_of(obj: &Value) -> u64 {
    str_field(obj, "/metadata/resourceVersion")
        .and_then(|rv| rv.parse().ok())
        .unwrap_or(0)
}

fn object_name(obj: &Value) -> ObjectName {
    (
        namespace_of(obj).unwrap_or_default().to_string(),
        name_of(obj).to_string(),
    )
}

fn unknown_kind(api_version: &str, kind: &str) -> ApiError {
    ApiError::new(
        404,
        "NotFound",
        format!("the server could not find the requested resource (kind {kind} in {api_version})"),
    )
}

/// Validates a name like the real server (DNS subdomain; RBAC names are path segments).
fn validate_name(rt: &ResourceType, name: &str) -> Result<(), ApiError> {
    let invalid = |msg: &str| {
        Err(ApiError::invalid(
            &rt.group,
            &rt.kind,
            name,
            "metadata.name",
            msg,
        ))
    };
    if name.is_empty() {
        return invalid("Required value: name or generateName is required");
    }
    if rt.group == "rbac.authorization.k8s.io" {
        if name == "." || name == ".." || name.contains('/') || name.contains('%') {
            return invalid("may not contain '/' or '%' and may not be '.' or '..'");
        }
        return Ok(());
    }
    let ok = name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
                && label.ends_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
                && label
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        });
    if ok {
        Ok(())
    } else {
        invalid(&format!(
            "Invalid value: \"{name}\": a lowercase RFC 1123 subdomain must consist of lower case \
             alphanumeric characters, '-' or '.', and must start and end with an alphanumeric \
             character"
        ))
    }
}

// === State ===

struct State {
    rv: u64,
    compacted_rv: u64,
    epoch: u64,
    registry: Registry,
    objects: BTreeMap<ResourceKey, BTreeMap<ObjectName, Arc<Value>>>,
    history: VecDeque<Arc<Event>>,
    subscribers: Vec<Subscriber>,
    allocator: Allocator,
    last_snapshots: BTreeMap<ResourceKey, CachedSnapshot>,
}

impl State {
    fn resolve(&self, obj: &Value) -> Result<Arc<ResourceType>, ApiError> {
        let api_version = str_field(obj, "/apiVersion").unwrap_or_default();
        let kind = str_field(obj, "/kind").unwrap_or_default();
        if api_version.is_empty() || kind.is_empty() {
            return Err(ApiError::bad_request(
                "Object 'Kind' or 'apiVersion' is missing",
            ));
        }
        self.registry
            .lookup_kind(api_version, kind)
            .ok_or_else(|| unknown_kind(api_version, kind))
    }

    fn default_namespace(&self, rt: &ResourceType, obj: &Value) -> Option<String> {
        rt.namespaced
            .then(|| namespace_of(obj).unwrap_or("default").to_string())
    }

    fn get(&self, key: &ResourceKey, ns: Option<&str>, name: &str) -> Option<Arc<Value>> {
        self.objects
            .get(key)?
            .get(&(ns.unwrap_or_default().to_string(), name.to_string()))
            .cloned()
    }

    fn namespace_exists(&self, ns: &str) -> bool {
        let key = ResourceKey {
            group: String::new(),
            plural: "namespaces".into(),
        };
        self.get(&key, None, ns).is_some()
    }

    /// In-process create: resolve the type from the object itself.
    fn create_raw(&mut self, obj: Value, ctx: &WriteCtx<'_>) -> Result<Value, ApiError> {
        let rt = self.resolve(&obj)?;
        let ns = self.default_namespace(&rt, &obj);
        self.create(&rt, ns.as_deref(), obj, ctx)
    }

    /// Fills in and checks `apiVersion`, `kind`, `metadata.namespace` (and the name, when the
    /// URL names one).
    fn check_identity(
        rt: &ResourceType,
        ns: Option<&str>,
        url_name: Option<&str>,
        obj: &mut Value,
    ) -> Result<(), ApiError> {
        if !obj.is_object() {
            return Err(ApiError::bad_request(
                "the request body must be a JSON object",
            ));
        }
        let api_version = rt.api_version();
        match str_field(obj, "/apiVersion") {
            None | Some("") => {}
            Some(given) if given == api_version => {}
            Some(given) => {
                let (group, _) = split_api_version(given);
                if group != rt.group {
                    return Err(ApiError::bad_request(format!(
                        "the API version in the data ({given}) does not match the expected API \
                         version ({api_version})"
                    )));
                }
            }
        }
        match str_field(obj, "/kind") {
            None | Some("") => {}
            Some(kind) if kind == rt.kind => {}
            Some(kind) => {
                return Err(ApiError::bad_request(format!(
                    "the kind in the data ({kind}) does not match the expected kind ({})",
                    rt.kind
                )));
            }
        }
        if let Some(map) = obj.as_object_mut() {
            map.insert("apiVersion".into(), api_version.into());
            map.insert("kind".into(), rt.kind.clone().into());
        }
        let given_ns = namespace_of(obj).map(str::to_string);
        let meta = metadata_mut(obj);
        if rt.namespaced {
            if let (Some(given), Some(ns)) = (&given_ns, ns)
                && given != ns
            {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
            if let Some(ns) = ns {
                meta.insert("namespace".into(), ns.into());
            }
        } else {
            meta.remove("namespace");
        }
        if let Some(url_name) = url_name {
            match meta.get("name").and_then(Value::as_str) {
                None | Some("") => {
                    meta.insert("name".into(), url_name.into());
                }
                Some(given) if given == url_name => {}
                Some(given) => {
                    return Err(ApiError::bad_request(format!(
                        "the name of the object ({given}) does not match the name on the URL ({url_name})"
                    )));
                }
            }
        }
        Ok(())
    }

    fn shape(rt: &ResourceType) -> Shape<'_> {
        Shape {
            builtin: rt.is_builtin(),
            kind: &rt.kind,
        }
    }

    fn track_fields(
        rt: &ResourceType,
        old: Option<&Value>,
        new: &mut Value,
        http: &HttpWrite<'_>,
    ) -> Result<(), ApiError> {
        let api_version = rt.api_version();
        let now = now_rfc3339();
        let write = managed_fields::Write {
            manager: http.manager,
            operation: http.operation,
            api_version: &api_version,
            scope: if http.status {
                Scope::Status
            } else {
                Scope::Main {
                    status_subresource: rt.status_subresource,
                }
            },
            shape: Self::shape(rt),
            now: &now,
        };
        managed_fields::track(old, new, &write).map_err(|conflicts| {
            ApiError::conflict_with(&rt.group, &rt.plural, name_of(new), conflicts.to_string())
        })
    }

    fn create(
        &mut self,
        rt: &ResourceType,
        ns: Option<&str>,
        mut obj: Value,
        ctx: &WriteCtx<'_>,
    ) -> Result<Value, ApiError> {
        Self::check_identity(rt, ns, None, &mut obj)?;
        let raw = ctx.http.is_none();
        let meta = metadata_mut(&mut obj);
        let has_name = meta
            .get("name")
            .and_then(Value::as_str)
            .is_some_and(|n| !n.is_empty());
        if !has_name && let Some(prefix) = meta.get("generateName").and_then(Value::as_str) {
            let name = format!("{prefix}{}", name_suffix());
            meta.insert("name".into(), name.into());
        }
        let name = name_of(&obj).to_string();
        validate_name(rt, &name)?;
        if let Some(ns) = ns
            && !self.namespace_exists(ns)
        {
            return Err(ApiError::not_found("", "namespaces", ns));
        }
        if self.get(&rt.key(), ns, &name).is_some() {
            return Err(ApiError::already_exists(&rt.group, &rt.plural, &name));
        }

        let now = now_rfc3339();
        let meta = metadata_mut(&mut obj);
        meta.remove("resourceVersion");
        meta.remove("selfLink");
        if !raw || !meta.get("uid").is_some_and(Value::is_string) {
            meta.insert("uid".into(), new_uid().into());
        }
        if !raw || !meta.get("creationTimestamp").is_some_and(Value::is_string) {
            meta.insert("creationTimestamp".into(), now.into());
        }
        if !raw {
            meta.remove("deletionTimestamp");
            meta.remove("deletionGracePeriodSeconds");
        }
        if rt.has_generation {
            if !raw || !meta.get("generation").is_some_and(Value::is_u64) {
                meta.insert("generation".into(), 1.into());
            }
        } else {
            meta.remove("generation");
        }
        if rt.is_namespace() {
            let labels = meta
                .entry("labels")
                .or_insert_with(|| Value::Object(Map::new()));
            if let Some(labels) = labels.as_object_mut() {
                labels.insert("kubernetes.io/metadata.name".into(), name.clone().into());
            }
        }
        if let Some(map) = obj.as_object_mut() {
            if !raw && rt.status_subresource {
                map.remove("status");
            }
            if raw && rt.is_namespace() {
                map.entry("spec")
                    .or_insert_with(|| json!({"finalizers": ["kubernetes"]}));
                map.entry("status")
                    .or_insert_with(|| json!({"phase": "Active"}));
            }
        }
        let typed = ctx.http.filter(|_| rt.is_builtin());
        if let Some(http) = typed {
            if !http.is_apply() {
                defaults::apply(&rt.group, &rt.kind, &mut obj);
            }
            strategy::owned_on_create(&rt.group, &rt.kind, &mut obj);
        }
        let crd_types = if rt.is_crd() {
            let types = self
                .registry
                .types_from_crd(&obj)
                .map_err(|msg| ApiError::invalid(&rt.group, &rt.kind, &name, "spec", &msg))?;
            if raw && obj.get("status").is_some() {
                // Seeded CRDs keep their status.
            } else {
                set_crd_status(&mut obj);
            }
            Some(types)
        } else {
            None
        };
        if let Some(http) = &ctx.http {
            Self::track_fields(rt, None, &mut obj, http)?;
        }
        if let Some(http) = typed {
            if http.is_apply() {
                defaults::apply(&rt.group, &rt.kind, &mut obj);
            }
            strategy::prepare_for_create(&rt.group, &rt.kind, &mut obj, &mut self.allocator);
        }
        if ctx.dry_run {
            return Ok(obj);
        }
        let stored = self.commit_put(rt, obj, None);
        if let Some(types) = crd_types {
            self.registry.set_crd_types(&name, types);
        }
        Ok(for_version(&stored, rt))
    }

    fn update(
        &mut self,
        rt: &ResourceType,
        ns: Option<&str>,
        name: &str,
        ctx: &WriteCtx<'_>,
        create_if_missing: bool,
        make: impl FnOnce(Option<&Value>) -> Result<Value, ApiError>,
    ) -> Result<(Value, bool), ApiError> {
        let Some(current) = self.get(&rt.key(), ns, name) else {
            if !create_if_missing {
                return Err(ApiError::not_found(&rt.group, &rt.plural, name));
            }
            let mut obj = make(None)?;
            Self::check_identity(rt, ns, Some(name), &mut obj)?;
            if str_field(&obj, "/metadata/resourceVersion").is_some_and(|rv| !rv.is_empty()) {
                return Err(ApiError::not_found(&rt.group, &rt.plural, name));
            }
            return self.create(rt, ns, obj, ctx).map(|obj| (obj, true));
        };
        let raw = ctx.http.is_none();
        let mut new = make(Some(&current))?;
        Self::check_identity(rt, ns, Some(name), &mut new)?;

        let current_rv = str_field(&current, "/metadata/resourceVersion").unwrap_or_default();
        if let Some(rv) = str_field(&new, "/metadata/resourceVersion").filter(|rv| !rv.is_empty())
            && rv != current_rv
        {
            return Err(ApiError::conflict(&rt.group, &rt.plural, name));
        }

        if let Some(http) = &ctx.http
            && rt.status_subresource
        {
            let status = if http.status { &new } else { &current }
                .get("status")
                .cloned();
            if http.status {
                new = (*current).clone();
            }
            if let Some(map) = new.as_object_mut() {
                match status {
                    Some(status) => map.insert("status".into(), status),
                    None => map.remove("status"),
                };
            }
        }

        let current_meta = current.get("metadata").cloned().unwrap_or_default();
        let meta = metadata_mut(&mut new);
        for field in [
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "generation",
        ] {
            match current_meta.get(field) {
                Some(value) => meta.insert(field.into(), value.clone()),
                None => meta.remove(field),
            };
        }
        meta.remove("selfLink");
        if raw
            && !meta.contains_key("managedFields")
            && let Some(fields) = current_meta.get("managedFields")
        {
            meta.insert("managedFields".into(), fields.clone());
        }
        // Decode-time defaults: before field management for an update, after it for an apply.
        let typed = ctx.http.filter(|http| rt.is_builtin() && !http.status);
        if let Some(http) = typed
            && !http.is_apply()
        {
            defaults::apply(&rt.group, &rt.kind, &mut new);
        }

        let crd_types = if rt.is_crd() {
            let types = self
                .registry
                .types_from_crd(&new)
                .map_err(|msg| ApiError::invalid(&rt.group, &rt.kind, name, "spec", &msg))?;
            Some(types)
        } else {
            None
        };

        if let Some(http) = &ctx.http {
            Self::track_fields(rt, Some(&current), &mut new, http)?;
        }
        if let Some(http) = typed {
            if http.is_apply() {
                defaults::apply(&rt.group, &rt.kind, &mut new);
            }
            strategy::prepare_for_update(&rt.group, &rt.kind, &current, &mut new);
        }
        let (group, kind) = if rt.is_builtin() {
            (rt.group.as_str(), rt.kind.as_str())
        } else {
            ("", "")
        };
        if rt.has_generation && strategy::generation_changed(group, kind, &current, &new) {
            let generation = current_meta
                .get("generation")
                .and_then(Value::as_u64)
                .unwrap_or(0);
            metadata_mut(&mut new).insert("generation".into(), (generation + 1).into());
        }
        if same_but_version(&current, &new) {
            return Ok((for_version(&current, rt), false));
        }
        if ctx.dry_run {
            metadata_mut(&mut new).insert("resourceVersion".into(), current_rv.into());
            return Ok((new, false));
        }
        if meta_has(&new, "deletionTimestamp") && !has_finalizers(&new) {
            let removed = self.commit_remove(rt, ns, name, Some(new));
            self.after_removal(rt, name);
            return Ok((
                removed.map(|o| for_version(&o, rt)).unwrap_or_default(),
                false,
            ));
        }
        let stored = self.commit_put(rt, new, Some(current));
        if let Some(types) = crd_types {
            self.registry.set_crd_types(name, types);
        }
        Ok((for_version(&stored, rt), false))
    }

    fn delete(
        &mut self,
        rt: &ResourceType,
        ns: Option<&str>,
        name: &str,
        pre: &Preconditions,
        dry_run: bool,
    ) -> Result<Value, ApiError> {
        let current = self
            .get(&rt.key(), ns, name)
            .ok_or_else(|| ApiError::not_found(&rt.group, &rt.plural, name))?;
        let uid = str_field(&current, "/metadata/uid").unwrap_or_default();
        if let Some(want) = &pre.uid
            && want != uid
        {
            return Err(ApiError::conflict_with(
                &rt.group,
                &rt.plural,
                name,
                format!(
                    "Operation cannot be fulfilled on {} \"{name}\": Precondition failed: UID in \
                     precondition: {want}, UID in object meta: {uid}",
                    crate::status::group_resource(&rt.group, &rt.plural)
                ),
            ));
        }
        let rv = str_field(&current, "/metadata/resourceVersion").unwrap_or_default();
        if let Some(want) = &pre.resource_version
            && want != rv
        {
            return Err(ApiError::conflict_with(
                &rt.group,
                &rt.plural,
                name,
                format!(
                    "Operation cannot be fulfilled on {} \"{name}\": Precondition failed: \
                     ResourceVersion in precondition: {want}, ResourceVersion in object meta: {rv}",
                    crate::status::group_resource(&rt.group, &rt.plural)
                ),
            ));
        }
        if has_finalizers(&current) {
            if meta_has(&current, "deletionTimestamp") {
                return Ok(for_version(&current, rt));
            }
            let mut marked = (*current).clone();
            let generation = current
                .pointer("/metadata/generation")
                .and_then(Value::as_u64);
            let meta = metadata_mut(&mut marked);
            meta.insert("deletionTimestamp".into(), now_rfc3339().into());
            meta.insert("deletionGracePeriodSeconds".into(), 0.into());
            if let Some(generation) = generation.filter(|_| rt.has_generation) {
                meta.insert("generation".into(), (generation + 1).into());
            }
            if dry_run {
                return Ok(for_version(&marked, rt));
            }
            let stored = self.commit_put(rt, marked, Some(current));
            return Ok(for_version(&stored, rt));
        }
        if dry_run {
            return Ok(for_version(&current, rt));
        }
        let removed = self.commit_remove(rt, ns, name, None);
        self.after_removal(rt, name);
        Ok(removed.map(|o| for_version(&o, rt)).unwrap_or_default())
    }

    /// Cascades: a namespace takes its objects with it, a CRD its custom resources and types.
    fn after_removal(&mut self, rt: &ResourceType, name: &str) {
        if rt.is_namespace() {
            let victims: Vec<(ResourceKey, String)> = self
                .objects
                .iter()
                .flat_map(|(key, objects)| {
                    objects
                        .keys()
                        .filter(|(ns, _)| ns == name)
                        .map(|(_, n)| (key.clone(), n.clone()))
                        .collect::<Vec<_>>()
                })
                .collect();
            for (key, victim) in victims {
                if let Some(vrt) = self.registry.any_version(&key) {
                    self.commit_remove(&vrt, Some(name), &victim, None);
                }
            }
        } else if rt.is_crd() {
            let key = self.registry.crd_type(name).map(|rt| rt.key());
            if let Some(key) = key {
                if let Some(vrt) = self.registry.any_version(&key) {
                    let names: Vec<ObjectName> = self
                        .objects
                        .get(&key)
                        .map(|o| o.keys().cloned().collect())
                        .unwrap_or_default();
                    for (ns, n) in names {
                        let ns = (!ns.is_empty()).then_some(ns);
                        self.commit_remove(&vrt, ns.as_deref(), &n, None);
                    }
                }
                self.objects.remove(&key);
            }
            self.registry.set_crd_types(name, Vec::new());
        }
    }

    /// Stores `obj` with a new resourceVersion and records ADDED/MODIFIED.
    fn commit_put(
        &mut self,
        rt: &ResourceType,
        mut obj: Value,
        previous: Option<Arc<Value>>,
    ) -> Arc<Value> {
        self.rv += 1;
        let rv = self.rv;
        metadata_mut(&mut obj).insert("resourceVersion".into(), rv.to_string().into());
        let obj = Arc::new(obj);
        let key = rt.key();
        self.objects
            .entry(key.clone())
            .or_default()
            .insert(object_name(&obj), Arc::clone(&obj));
        let kind = if previous.is_some() {
            EventType::Modified
        } else {
            EventType::Added
        };
        self.record(Event {
            rv,
            kind,
            resource: key,
            object: Arc::clone(&obj),
            previous,
        });
        obj
    }

    /// Removes an object with a new resourceVersion and records DELETED. `last` is the final
    /// state to report (defaults to the stored object).
    fn commit_remove(
        &mut self,
        rt: &ResourceType,
        ns: Option<&str>,
        name: &str,
        last: Option<Value>,
    ) -> Option<Arc<Value>> {
        let key = rt.key();
        let objects = self.objects.get_mut(&key)?;
        let previous = objects.remove(&(ns.unwrap_or_default().to_string(), name.to_string()))?;
        self.rv += 1;
        let rv = self.rv;
        let mut last = last.unwrap_or_else(|| (*previous).clone());
        metadata_mut(&mut last).insert("resourceVersion".into(), rv.to_string().into());
        let last = Arc::new(last);
        self.record(Event {
            rv,
            kind: EventType::Deleted,
            resource: key,
            object: Arc::clone(&last),
            previous: Some(previous),
        });
        Some(last)
    }

    fn record(&mut self, event: Event) {
        let event = Arc::new(event);
        self.subscribers
            .retain(|s| s.resource != event.resource || s.tx.send(Arc::clone(&event)).is_ok());
        self.history.push_back(event);
        while self.history.len() > MAX_HISTORY {
            if let Some(oldest) = self.history.pop_front() {
                self.compacted_rv = oldest.rv;
            }
        }
    }
}

fn meta_has(obj: &Value, field: &str) -> bool {
    obj.get("metadata")
        .and_then(|m| m.get(field))
        .is_some_and(|v| !v.is_null())
}

/// The status a real API server gives an accepted CRD.
fn set_crd_status(crd: &mut Value) {
    let names = crd.pointer("/spec/names").cloned().unwrap_or_default();
    let stored: Vec<Value> = crd
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .map(|versions| {
            versions
                .iter()
                .filter(|v| v.get("storage").and_then(Value::as_bool) == Some(true))
                .filter_map(|v| v.get("name").cloned())
                .collect()
        })
        .unwrap_or_default();
    let now = now_rfc3339();
    let condition = |kind: &str, reason: &str, message: &str| {
        json!({"type": kind, "status": "True", "lastTransitionTime": now,
               "reason": reason, "message": message})
    };
    if let Some(map) = crd.as_object_mut() {
        map.insert(
            "status".into(),
            json!({
                "acceptedNames": names,
                "conditions": [
                    condition("NamesAccepted", "NoConflicts", "no conflicts found"),
                    condition("Established", "InitialNamesAccepted", "the initial names have been accepted"),
                ],
                "storedVersions": stored,
            }),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cm(name: &str) -> Value {
        json!({"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": name, "namespace": "default"}, "data": {"k": "v"}})
    }

    #[test]
    fn every_write_bumps_the_global_resource_version() {
        let store = Store::new();
        let start = store.current_resource_version();
        let created = store.create(cm("a")).unwrap();
        assert_eq!(
            created["metadata"]["resourceVersion"],
            (start + 1).to_string()
        );
        let mut changed = created.clone();
        changed["data"]["k"] = json!("w");
        store.replace(changed).unwrap();
        store
            .delete("v1", "ConfigMap", Some("default"), "a")
            .unwrap();
        assert_eq!(store.current_resource_version(), start + 3);
    }

    #[test]
    fn a_stale_resource_version_conflicts() {
        let store = Store::new();
        let created = store.create(cm("a")).unwrap();
        let mut first = created.clone();
        first["data"]["k"] = json!("1");
        store.replace(first).unwrap();
        let err = store.replace(created).unwrap_err();
        assert_eq!(err.code, 409);
        assert_eq!(err.reason, "Conflict");
    }

    #[test]
    fn creating_in_a_missing_namespace_is_not_found() {
        let store = Store::new();
        let mut obj = cm("a");
        obj["metadata"]["namespace"] = json!("nowhere");
        let err = store.create(obj).unwrap_err();
        assert_eq!(err.code, 404);
        assert_eq!(err.message, "namespaces \"nowhere\" not found");
    }

    #[test]
    fn finalizers_delay_deletion_until_they_are_removed() {
        let store = Store::new();
        let mut obj = cm("a");
        obj["metadata"]["finalizers"] = json!(["example.com/hold"]);
        store.create(obj).unwrap();
        let marked = store
            .delete("v1", "ConfigMap", Some("default"), "a")
            .unwrap();
        assert!(marked["metadata"]["deletionTimestamp"].is_string());
        let mut released = marked.clone();
        released["metadata"]["finalizers"] = json!([]);
        store.replace(released).unwrap();
        assert!(store.get("v1", "ConfigMap", Some("default"), "a").is_none());
    }

    #[test]
    fn snapshots_kept_for_the_next_page_are_per_kind_and_per_revision() {
        let store = Store::new();
        store.create(cm("a")).unwrap();
        let configmaps = store.lookup("", "v1", "configmaps").unwrap();
        let namespaces = store.lookup("", "v1", "namespaces").unwrap();
        let names =
            |s: &Snapshot| -> Vec<String> { s.items.iter().map(|((_, n), _)| n.clone()).collect() };
        let first = store.snapshot(&configmaps, None, None).unwrap();
        // Another kind listed in between, then the next page of the first list: the same
        // snapshot, shared, not copied.
        store.snapshot(&namespaces, None, None).unwrap();
        let again = store.snapshot(&configmaps, Some(first.rv), None).unwrap();
        assert!(Arc::ptr_eq(&first.items, &again.items));
        // A write: a new list sees it, a page of the old one does not.
        store.create(cm("b")).unwrap();
        let now = store.snapshot(&configmaps, None, None).unwrap();
        assert_eq!(names(&now), ["a", "b"]);
        let old = store.snapshot(&configmaps, Some(first.rv), None).unwrap();
        assert_eq!(names(&old), ["a"]);
        assert_eq!(old.rv, first.rv);
    }

    #[test]
    fn a_snapshot_at_an_older_revision_undoes_later_events() {
        let store = Store::new();
        store.create(cm("a")).unwrap();
        let rv = store.current_resource_version();
        store.create(cm("b")).unwrap();
        store
            .delete("v1", "ConfigMap", Some("default"), "a")
            .unwrap();
        let rt = store.lookup("", "v1", "configmaps").unwrap();
        let snapshot = store.snapshot(&rt, Some(rv), None).unwrap();
        let names: Vec<&str> = snapshot
            .items
            .iter()
            .map(|((_, n), _)| n.as_str())
            .collect();
        assert_eq!(names, ["a"]);
        store.compact();
        assert_eq!(store.snapshot(&rt, Some(rv), None).unwrap_err().code, 410);
    }

    #[test]
    fn creating_a_crd_registers_its_kind_and_deleting_it_removes_everything() {
        let store = Store::new();
        store
            .create(json!({
                "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
                "metadata": {"name": "widgets.example.com"},
                "spec": {"group": "example.com", "scope": "Namespaced",
                         "names": {"plural": "widgets", "kind": "Widget"},
                         "versions": [{"name": "v1", "served": true, "storage": true}]},
            }))
            .unwrap();
        store
            .create(json!({"apiVersion": "example.com/v1", "kind": "Widget",
                           "metadata": {"name": "w", "namespace": "default"}}))
            .unwrap();
        assert!(
            store
                .get("example.com/v1", "Widget", Some("default"), "w")
                .is_some()
        );
        store
            .delete(
                "apiextensions.k8s.io/v1",
                "CustomResourceDefinition",
                None,
                "widgets.example.com",
            )
            .unwrap();
        assert!(store.lookup("example.com", "v1", "widgets").is_none());
        assert!(
            store
                .get("example.com/v1", "Widget", Some("default"), "w")
                .is_none()
        );
    }
}
