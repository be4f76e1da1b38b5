//! The in-memory index of Applications, fed by the watch in `cluster` and read by every request.
//!
//! Requests never call the API server: they read an `Arc<IndexedApp>` out of this index. The
//! index is organised by *watch scope* — one per configured namespace, or one for all namespaces
//! — because each scope is one list+watch stream with its own readiness and freshness:
//!
//! - a scope is *synced* once its first full list has been stored (`/readyz` waits for all);
//! - a scope is *stale* from the moment its watch cannot be (re)established until it is again.
//!   Stale data is still served, marked as such.
//!
//! The index also remembers what Argo CD does not record: when this process saw each app become
//! OutOfSync (the rule is `drift_core::tracking::track`), and reports every turn — to OutOfSync,
//! to Synced, a deletion — to the drift history ([`Turns`]; the rule is
//! `drift_core::history::rules::observe`) as it stores the version that shows it.
//!
//! **Memory.** Each app is held packed ([`CompactApp`]: one allocation of a few hundred bytes
//! for an app of 20 resources) and unpacked only for the request that reads it; a list is held
//! packed as it arrives, page by page ([`ListedApp`]). The index knows nothing of the history:
//! turns leave over a bounded channel ([`Turns`]) that the watch waits on outside the lock.
//!
//! No IO happens here; time is passed in, so the rules are unit-tested with plain values.

use crate::slack::Slack;
use drift_core::app::{AppKey, Application};
pub use drift_core::compact::CompactApp;
use drift_core::history::rules::{Observation, observe, observe_deletion};
use drift_core::history::version::version_cmp;
use drift_core::reports::links::ReportLink;
pub use drift_core::tracking::{Freshness, IndexedApp, ObjectVersion};
use drift_core::tracking::{OutOfSync, track_version};
use jiff::Timestamp;
use std::cmp::Ordering;
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};
use tokio::sync::{mpsc, watch};

/// Which Applications one watch stream covers.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum WatchScope {
    /// Every namespace (`ARGOCD_NAMESPACES=*`).
    AllNamespaces,
    Namespace(String),
}

impl WatchScope {
    pub fn covers(&self, namespace: &str) -> bool {
        match self {
            WatchScope::AllNamespaces => true,
            WatchScope::Namespace(ns) => ns == namespace,
        }
    }

    /// A label for logs and metrics.
    pub fn label(&self) -> &str {
        match self {
            WatchScope::AllNamespaces => "*",
            WatchScope::Namespace(ns) => ns,
        }
    }
}

/// The outcome of looking an app up.
#[derive(Debug)]
pub enum Lookup {
    Found {
        app: Arc<IndexedApp>,
        freshness: Freshness,
    },
    /// The app's namespace is watched, but no such Application is in it.
    NotFound,
    /// No configured watch scope covers the app's namespace.
    NamespaceNotWatched,
}

/// What the index knows of an app, for the drift history to settle episodes nobody saw end.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Whereabouts {
    /// In the index: its uid and the version held.
    Present { uid: String, version: String },
    /// Not in the index, which has listed its scope: gone as of `as_of`, the latest version
    /// of that scope this process knows. `None`: no configured scope covers its namespace.
    Gone { as_of: Option<String> },
    /// Not served because it cannot be decoded, or its scope has not been listed: nothing to say.
    Unknown,
}

/// A turn the index saw, with the app's labels for metrics.
#[derive(Clone, Debug)]
pub struct Turn {
    pub observation: Observation,
    /// The uid of the app it was seen on (empty if unknown): an episode under way with another
    /// uid in its id belonged to an app of the same name that was deleted while nobody watched.
    pub uid: String,
    pub project: String,
    /// `spec.destination.server`, or its `name`.
    pub destination: String,
}

/// Where the index sends turns, in the order it stores them: a bounded channel to the drift
/// history's writer. Taken with the index locked, so it never waits there: what the channel has
/// no room for queues here, in order, until [`Turns::flush`] — which the watch awaits after
/// each event, outside the lock — hands it over. A writer that falls behind slows the watch;
/// nothing is dropped.
pub struct Turns {
    tx: mpsc::Sender<Turn>,
    overflow: Mutex<VecDeque<Turn>>,
}

impl Turns {
    /// A channel of `capacity` turns, and its receiving end for the writer.
    pub fn channel(capacity: usize) -> (Turns, mpsc::Receiver<Turn>) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        (
            Turns {
                tx,
                overflow: Mutex::default(),
            },
            rx,
        )
    }

    fn send(&self, turn: Turn) {
        let mut overflow = self.overflow();
        if overflow.is_empty() {
            match self.tx.try_send(turn) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(turn)) => overflow.push_back(turn),
                // The writer is gone (the process is stopping): nobody to tell.
                Err(mpsc::error::TrySendError::Closed(_)) => {}
            }
        } else {
            overflow.push_back(turn);
        }
    }

    /// Waits until every turn taken so far is in the channel.
    pub async fn flush(&self) {
        while !self.overflow().is_empty() {
            let Ok(permit) = self.tx.reserve().await else {
                self.overflow().clear();
                return;
            };
            // Popped and sent under the queue's lock, which `send` takes too: a turn never
            // overtakes one queued before it.
            let mut overflow = self.overflow();
            match overflow.pop_front() {
                Some(turn) => permit.send(turn),
                None => return,
            }
            if overflow.is_empty() {
                // A first list queues a turn for every app at once: keep none of that room.
                overflow.release_slack();
            }
        }
    }

    /// Turns waiting for room in the channel.
    pub fn waiting(&self) -> usize {
        self.overflow().len()
    }

    /// The room the queue of waiting turns holds (tests: it is given back once drained).
    #[cfg(test)]
    fn room(&self) -> usize {
        self.overflow().capacity()
    }

    fn overflow(&self) -> std::sync::MutexGuard<'_, VecDeque<Turn>> {
        self.overflow
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// An Application of a list, packed as its page arrives: a list of 50,000 apps is never held
/// as structs.
#[derive(Clone, Debug)]
pub struct ListedApp {
    pub key: AppKey,
    pub app: CompactApp,
}

impl ListedApp {
    pub fn new(app: &Application, version: &ObjectVersion) -> ListedApp {
        ListedApp {
            key: app.key.clone(),
            app: CompactApp::pack(app, version),
        }
    }
}

/// One app as held: packed, and this process's record of its drift.
struct Held {
    app: CompactApp,
    out_of_sync: Option<OutOfSync>,
}

impl Held {
    /// The app as the rules and requests read it. `None` only on a bug in the packing (logged).
    fn expand(&self, key: &AppKey) -> Option<IndexedApp> {
        let Some((app, version)) = self.app.unpack(key) else {
            tracing::error!(app = %key, "an Application held in the index cannot be unpacked (a bug)");
            return None;
        };
        Some(IndexedApp {
            app,
            out_of_sync: self.out_of_sync,
            version,
        })
    }

    fn links(&self) -> &[ReportLink] {
        self.app.report_links()
    }
}

/// The shared index. Cheap to clone.
#[derive(Clone)]
pub struct AppIndex {
    inner: Arc<RwLock<Inner>>,
    ready_tx: Arc<watch::Sender<bool>>,
}

struct Inner {
    apps: HashMap<AppKey, Held>,
    scopes: Vec<(WatchScope, Freshness)>,
    turns: Option<Arc<Turns>>,
    /// The latest resourceVersion seen per scope (its list's, or a later event's).
    seen: HashMap<WatchScope, String>,
    /// Scopes whose watch lost events (410 Gone) and are being listed again: not witnessing.
    gaps: HashSet<WatchScope>,
    /// Apps that exist but cannot be decoded (not served; not deleted either).
    undecodable: HashSet<AppKey>,
    /// Bumped whenever an app's report links (its `argocd-drift.io/report-repos` annotation)
    /// change, so views of reports know when to rebuild.
    links_version: u64,
}

// === impl AppIndex ===

impl AppIndex {
    pub fn new(scopes: Vec<WatchScope>) -> Self {
        let (ready_tx, _) = watch::channel(false);
        AppIndex {
            inner: Arc::new(RwLock::new(Inner {
                apps: HashMap::new(),
                scopes: scopes
                    .into_iter()
                    .map(|s| (s, Freshness::default()))
                    .collect(),
                turns: None,
                seen: HashMap::new(),
                undecodable: HashSet::new(),
                gaps: HashSet::new(),
                links_version: 0,
            })),
            ready_tx: Arc::new(ready_tx),
        }
    }

    /// Sends every turn from now on to `turns`.
    pub fn report_turns(&self, turns: Arc<Turns>) {
        self.write().turns = Some(turns);
    }

    /// Waits until every turn seen so far has been handed to the drift history's channel (the
    /// watch calls it after each event, outside the lock).
    pub async fn flush_turns(&self) {
        let turns = self.read().turns.clone();
        if let Some(turns) = turns {
            turns.flush().await;
        }
    }

    pub fn scopes(&self) -> Vec<WatchScope> {
        self.read().scopes.iter().map(|(s, _)| s.clone()).collect()
    }

    pub fn lookup(&self, key: &AppKey) -> Lookup {
        let (held, freshness) = {
            let inner = self.read();
            let Some((_, freshness)) = inner.scopes.iter().find(|(s, _)| s.covers(&key.namespace))
            else {
                return Lookup::NamespaceNotWatched;
            };
            match inner.apps.get(key) {
                // Unpacked below, with the lock released: a request never holds up the watch.
                Some(held) => (
                    Held {
                        app: held.app.clone(),
                        out_of_sync: held.out_of_sync,
                    },
                    freshness.clone(),
                ),
                None => return Lookup::NotFound,
            }
        };
        match held.expand(key) {
            Some(app) => Lookup::Found {
                app: Arc::new(app),
                freshness,
            },
            None => Lookup::NotFound,
        }
    }

    pub fn len(&self) -> usize {
        self.read().apps.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True once every scope has completed its first list.
    pub fn is_ready(&self) -> bool {
        *self.ready_tx.borrow()
    }

    /// Resolves once every scope has completed its first list.
    pub async fn wait_ready(&self) {
        let mut rx = self.ready_tx.subscribe();
        // `wait_for` only fails when the sender is gone; `self` holds it, so it cannot be.
        let _ = rx.wait_for(|ready| *ready).await;
    }

    /// Freshness of every scope, for readiness detail and metrics.
    pub fn freshness(&self) -> Vec<(WatchScope, Freshness)> {
        self.read().scopes.clone()
    }

    /// Stores a full list for `scope`: apps not in it are gone, apps in it keep their drift
    /// history, and the scope becomes synced and fresh. Changes found by a list that ends a
    /// stale spell were not witnessed as they happened.
    pub fn replace_scope(&self, scope: &WatchScope, apps: Vec<Application>, now: Timestamp) {
        let apps = apps
            .iter()
            .map(|a| ListedApp::new(a, &ObjectVersion::default()))
            .collect();
        self.replace_scope_versions(scope, apps, &[], "", now);
    }

    /// [`replace_scope`](Self::replace_scope) of apps whose object versions are known, listed at
    /// `list_version`. Apps missing from the list are reported deleted as of that version;
    /// `undecodable` are in it but cannot be read: not served, and not deleted either (their
    /// drift history is left as it is).
    pub fn replace_scope_versions(
        &self,
        scope: &WatchScope,
        apps: Vec<ListedApp>,
        undecodable: &[AppKey],
        list_version: &str,
        now: Timestamp,
    ) {
        let mut inner = self.write();
        let witnessed = inner.witnessing(scope);
        inner.gaps.remove(scope);
        inner
            .undecodable
            .retain(|key| !scope.covers(&key.namespace));
        let mut old: HashMap<AppKey, Held> = HashMap::new();
        let keys: Vec<AppKey> = inner
            .apps
            .keys()
            .filter(|key| scope.covers(&key.namespace))
            .cloned()
            .collect();
        for key in keys {
            if let Some(held) = inner.apps.remove(&key) {
                old.insert(key, held);
            }
        }
        let mut links_changed = false;
        for ListedApp { key, app: packed } in apps {
            let prev = old.remove(&key);
            links_changed |= prev.as_ref().map_or(&[][..], Held::links) != packed.report_links();
            let prev = prev.and_then(|p| p.expand(&key));
            let Some((app, version)) = packed.unpack(&key) else {
                tracing::error!(app = %key, "a listed Application cannot be unpacked (a bug)");
                continue;
            };
            let entry = track_version(prev.as_ref(), app, version, now, witnessed);
            inner.report(observe(prev.as_ref(), &entry, now, witnessed), &entry);
            inner.apps.insert(
                key,
                Held {
                    app: packed,
                    out_of_sync: entry.out_of_sync,
                },
            );
        }
        for key in undecodable.iter().filter(|k| scope.covers(&k.namespace)) {
            if old.remove(key).is_some_and(|e| !e.links().is_empty()) {
                links_changed = true;
            }
            inner.undecodable.insert(key.clone());
        }
        links_changed |= old.values().any(|gone| !gone.links().is_empty());
        if links_changed {
            inner.links_version += 1;
        }
        // Gone while this process was not watching: the deletion itself was not seen.
        for (key, gone) in &old {
            if let Some(gone) = gone.expand(key) {
                inner.report(observe_deletion(&gone, list_version, now, false), &gone);
            }
        }
        inner.saw(scope, list_version);
        if let Some(freshness) = inner.freshness_mut(scope) {
            freshness.synced = true;
            freshness.stale_since = None;
            freshness.last_error = None;
            freshness.last_list_at = Some(now);
        }
        let all_synced = inner.scopes.iter().all(|(_, f)| f.synced);
        drop(inner);
        if all_synced {
            self.ready_tx.send_replace(true);
        }
    }

    /// Stores one added or modified app.
    pub fn apply(&self, app: Application, now: Timestamp) {
        self.apply_version(app, ObjectVersion::default(), now);
    }

    /// Stores one added or modified app whose object version is known.
    pub fn apply_version(&self, app: Application, version: ObjectVersion, now: Timestamp) {
        let packed = CompactApp::pack(&app, &version);
        let mut inner = self.write();
        let witnessed = inner
            .scope_of(&app.key.namespace)
            .is_some_and(|scope| inner.witnessing(&scope));
        let prev = inner.apps.get(&app.key);
        if prev.map_or(&[][..], Held::links) != app.report_links.as_slice() {
            inner.links_version += 1;
        }
        let prev = inner.apps.get(&app.key).and_then(|p| p.expand(&app.key));
        inner.undecodable.remove(&app.key);
        if let Some(scope) = inner.scope_of(&app.key.namespace) {
            inner.saw(&scope, &version.resource_version);
        }
        let entry = track_version(prev.as_ref(), app, version, now, witnessed);
        inner.report(observe(prev.as_ref(), &entry, now, witnessed), &entry);
        inner.apps.insert(
            entry.app.key.clone(),
            Held {
                app: packed,
                out_of_sync: entry.out_of_sync,
            },
        );
    }

    /// Drops an app that can no longer be served (it cannot be decoded). Not a deletion: its
    /// drift history is left as it is.
    pub fn remove(&self, key: &AppKey) {
        let mut inner = self.write();
        inner.undecodable.insert(key.clone());
        if inner
            .apps
            .remove(key)
            .is_some_and(|gone| !gone.links().is_empty())
        {
            inner.links_version += 1;
        }
    }

    /// Changes whenever any app's report links change.
    pub fn report_links_version(&self) -> u64 {
        self.read().links_version
    }

    /// Every app that links report repos to itself, with its links.
    pub fn report_links(&self) -> Vec<(AppKey, Vec<ReportLink>)> {
        self.read()
            .apps
            .iter()
            .filter(|(_, e)| !e.links().is_empty())
            .map(|(key, e)| (key.clone(), e.links().to_vec()))
            .collect()
    }

    /// An app was deleted; `version` is the deletion event's resourceVersion.
    pub fn delete(&self, key: &AppKey, version: &str, now: Timestamp) {
        let mut inner = self.write();
        let witnessed = inner
            .scope_of(&key.namespace)
            .is_some_and(|scope| inner.witnessing(&scope));
        inner.undecodable.remove(key);
        if let Some(scope) = inner.scope_of(&key.namespace) {
            inner.saw(&scope, version);
        }
        if let Some(gone) = inner.apps.remove(key) {
            if !gone.links().is_empty() {
                inner.links_version += 1;
            }
            if let Some(gone) = gone.expand(key) {
                inner.report(observe_deletion(&gone, version, now, witnessed), &gone);
            }
        }
    }

    /// What the index knows of `key`, for the drift history: see [`Whereabouts`].
    pub fn whereabouts(&self, key: &AppKey) -> Whereabouts {
        let inner = self.read();
        let Some((scope, freshness)) = inner.scopes.iter().find(|(s, _)| s.covers(&key.namespace))
        else {
            return Whereabouts::Gone { as_of: None };
        };
        if !freshness.synced {
            return Whereabouts::Unknown;
        }
        if let Some(entry) = inner.apps.get(key) {
            let version = entry.app.version();
            return Whereabouts::Present {
                uid: version.uid,
                version: version.resource_version,
            };
        }
        if inner.undecodable.contains(key) {
            return Whereabouts::Unknown;
        }
        Whereabouts::Gone {
            as_of: inner.seen.get(scope).filter(|v| !v.is_empty()).cloned(),
        }
    }

    /// The watch for `scope` cannot reach the API server. Keeps the first time it happened.
    pub fn mark_stale(&self, scope: &WatchScope, error: String, now: Timestamp) {
        let mut inner = self.write();
        if let Some(freshness) = inner.freshness_mut(scope) {
            freshness.stale_since.get_or_insert(now);
            freshness.last_error = Some(error);
        }
    }

    /// The watch for `scope` lost events (410 Gone) and lists again: until that list is stored,
    /// turns are not witnessed — what the list finds may have happened any time in the gap.
    pub fn mark_gap(&self, scope: &WatchScope) {
        self.write().gaps.insert(scope.clone());
    }

    /// The watch for `scope` is connected again, resuming from where it was.
    pub fn mark_fresh(&self, scope: &WatchScope) {
        let mut inner = self.write();
        if let Some(freshness) = inner.freshness_mut(scope) {
            freshness.stale_since = None;
            freshness.last_error = None;
        }
    }

    // The lock is only ever held for map operations that cannot panic, so poisoning would mean
    // a bug elsewhere; the data is still consistent, so keep serving it.
    fn read(&self) -> RwLockReadGuard<'_, Inner> {
        self.inner
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Inner> {
        self.inner
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Inner {
    /// Hands a turn, with the app's labels, to the drift history's channel.
    fn report(&self, observation: Option<Observation>, entry: &IndexedApp) {
        let (Some(turns), Some(observation)) = (&self.turns, observation) else {
            return;
        };
        let destination = &entry.app.spec.destination;
        turns.send(Turn {
            observation,
            uid: entry.version.uid.clone(),
            project: entry.app.spec.project().to_string(),
            destination: destination
                .server()
                .or(destination.name())
                .unwrap_or_default()
                .to_string(),
        });
    }

    /// Whether `scope` has been watched without a gap: listed before, not stale now, and no
    /// events lost since (a relist after 410 Gone under way).
    fn witnessing(&self, scope: &WatchScope) -> bool {
        self.scopes
            .iter()
            .find(|(s, _)| s == scope)
            .is_some_and(|(_, f)| f.synced && f.stale_since.is_none())
            && !self.gaps.contains(scope)
    }

    /// The scope that covers `namespace`, if any.
    fn scope_of(&self, namespace: &str) -> Option<WatchScope> {
        self.scopes
            .iter()
            .find(|(s, _)| s.covers(namespace))
            .map(|(s, _)| s.clone())
    }

    /// `scope` is known up to at least `version`.
    fn saw(&mut self, scope: &WatchScope, version: &str) {
        if version.is_empty() {
            return;
        }
        let seen = self.seen.entry(scope.clone()).or_default();
        if seen.is_empty() || version_cmp(version, seen) == Ordering::Greater {
            *seen = version.to_string();
        }
    }

    fn freshness_mut(&mut self, scope: &WatchScope) -> Option<&mut Freshness> {
        self.scopes
            .iter_mut()
            .find(|(s, _)| s == scope)
            .map(|(_, f)| f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use drift_core::app::fixtures::{mk_app, with_sync};
    use drift_core::tracking::OUT_OF_SYNC;

    fn t(secs: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + secs).unwrap()
    }

    fn ns(name: &str) -> WatchScope {
        WatchScope::Namespace(name.to_string())
    }

    fn found(index: &AppIndex, ns: &str, name: &str) -> Arc<IndexedApp> {
        match index.lookup(&AppKey::new(ns, name)) {
            Lookup::Found { app, .. } => app,
            other => panic!("expected {ns}:{name} in the index, got {other:?}"),
        }
    }

    #[test]
    fn the_links_version_changes_only_when_report_links_do() {
        let index = AppIndex::new(vec![ns("argocd")]);
        let linked = |repos: Option<&str>| mk_app("argocd", "infra", "p").with_report_links(repos);
        index.replace_scope(&ns("argocd"), vec![linked(None)], t(0));
        assert_eq!(index.report_links_version(), 0);
        index.apply(with_sync(linked(None), OUT_OF_SYNC), t(1));
        assert_eq!(index.report_links_version(), 0, "a status change");
        index.apply(linked(Some("rsyslog")), t(2));
        assert_eq!(index.report_links_version(), 1);
        assert_eq!(index.report_links()[0].1[0].repo, "rsyslog");
        index.apply(linked(Some("rsyslog")), t(3));
        assert_eq!(index.report_links_version(), 1);
        index.replace_scope(&ns("argocd"), vec![], t(4));
        assert_eq!(index.report_links_version(), 2, "a linking app is gone");
        assert!(index.report_links().is_empty());
    }

    #[test]
    fn lookups_distinguish_unknown_apps_from_unwatched_namespaces() {
        let index = AppIndex::new(vec![ns("argocd")]);
        index.replace_scope(&ns("argocd"), vec![mk_app("argocd", "a", "default")], t(0));
        assert!(matches!(
            index.lookup(&AppKey::new("argocd", "a")),
            Lookup::Found { .. }
        ));
        assert!(matches!(
            index.lookup(&AppKey::new("argocd", "b")),
            Lookup::NotFound
        ));
        assert!(matches!(
            index.lookup(&AppKey::new("team-a", "a")),
            Lookup::NamespaceNotWatched
        ));
    }

    #[test]
    fn the_index_is_ready_only_when_every_scope_has_listed() {
        let index = AppIndex::new(vec![ns("argocd"), ns("team-a")]);
        assert!(!index.is_ready());
        index.replace_scope(&ns("argocd"), vec![], t(0));
        assert!(!index.is_ready());
        index.replace_scope(&ns("team-a"), vec![], t(0));
        assert!(index.is_ready());
    }

    #[test]
    fn a_relist_drops_apps_that_are_gone_from_that_scope_only() {
        let index = AppIndex::new(vec![ns("argocd"), ns("team-a")]);
        index.replace_scope(
            &ns("argocd"),
            vec![mk_app("argocd", "a", "p"), mk_app("argocd", "b", "p")],
            t(0),
        );
        index.replace_scope(&ns("team-a"), vec![mk_app("team-a", "c", "p")], t(0));
        index.replace_scope(&ns("argocd"), vec![mk_app("argocd", "b", "p")], t(1));
        assert!(matches!(
            index.lookup(&AppKey::new("argocd", "a")),
            Lookup::NotFound
        ));
        found(&index, "argocd", "b");
        found(&index, "team-a", "c");
        assert_eq!(index.len(), 2);
    }

    #[test]
    fn a_relist_keeps_the_drift_history_of_apps_still_out_of_sync() {
        let index = AppIndex::new(vec![ns("argocd")]);
        index.replace_scope(
            &ns("argocd"),
            vec![with_sync(mk_app("argocd", "a", "p"), "Synced")],
            t(0),
        );
        index.apply(with_sync(mk_app("argocd", "a", "p"), OUT_OF_SYNC), t(1));
        index.replace_scope(
            &ns("argocd"),
            vec![with_sync(mk_app("argocd", "a", "p"), OUT_OF_SYNC)],
            t(9),
        );
        assert_eq!(
            found(&index, "argocd", "a").out_of_sync.unwrap().since,
            Some(t(1))
        );
    }

    #[test]
    fn a_turn_out_of_sync_found_by_a_relist_after_an_outage_was_not_witnessed() {
        let index = AppIndex::new(vec![ns("argocd")]);
        index.replace_scope(
            &ns("argocd"),
            vec![with_sync(mk_app("argocd", "a", "p"), "Synced")],
            t(0),
        );
        index.mark_stale(&ns("argocd"), "connection refused".into(), t(10));
        index.replace_scope(
            &ns("argocd"),
            vec![with_sync(mk_app("argocd", "a", "p"), OUT_OF_SYNC)],
            t(60),
        );
        let oos = found(&index, "argocd", "a").out_of_sync.unwrap();
        assert_eq!((oos.since, oos.observed_since), (None, t(60)));
        // Watching again: the next witnessed turn is timed.
        index.apply(with_sync(mk_app("argocd", "a", "p"), "Synced"), t(70));
        index.apply(with_sync(mk_app("argocd", "a", "p"), OUT_OF_SYNC), t(80));
        assert_eq!(
            found(&index, "argocd", "a").out_of_sync.unwrap().since,
            Some(t(80))
        );
    }

    /// The turns sent so far.
    fn sent(rx: &mut mpsc::Receiver<Turn>) -> Vec<Turn> {
        std::iter::from_fn(|| rx.try_recv().ok()).collect()
    }

    #[test]
    fn an_app_that_cannot_be_decoded_in_a_relist_is_not_deleted() {
        use drift_core::history::rules::Change;
        let index = AppIndex::new(vec![ns("argocd")]);
        let (turns, mut rx) = Turns::channel(16);
        index.report_turns(Arc::new(turns));
        let drifting = with_sync(mk_app("argocd", "a", "p"), OUT_OF_SYNC);
        let v = |rv: &str| ObjectVersion {
            uid: "u".into(),
            resource_version: rv.into(),
        };
        let listed = vec![ListedApp::new(&drifting, &v("5"))];
        index.replace_scope_versions(&ns("argocd"), listed, &[], "5", t(0));
        let first = sent(&mut rx);
        assert!(matches!(
            first.last().map(|t| &t.observation.change),
            Some(Change::Drifting { .. })
        ));
        let key = AppKey::new("argocd", "a");
        index.replace_scope_versions(&ns("argocd"), vec![], std::slice::from_ref(&key), "9", t(9));
        assert!(sent(&mut rx).is_empty(), "no deletion reported");
        assert!(matches!(index.lookup(&key), Lookup::NotFound), "not served");
        assert_eq!(index.whereabouts(&key), Whereabouts::Unknown);
        // Gone from a later list: deleted, as of that list.
        index.replace_scope_versions(&ns("argocd"), vec![], &[], "12", t(12));
        assert_eq!(
            index.whereabouts(&key),
            Whereabouts::Gone {
                as_of: Some("12".into())
            }
        );
    }

    #[tokio::test]
    async fn turns_the_channel_has_no_room_for_wait_in_order_and_none_is_lost() {
        let index = AppIndex::new(vec![ns("argocd")]);
        let (turns, mut rx) = Turns::channel(2);
        let turns = Arc::new(turns);
        index.report_turns(Arc::clone(&turns));
        index.replace_scope(&ns("argocd"), vec![], t(0));
        let app = |name: &str| with_sync(mk_app("argocd", name, "p"), OUT_OF_SYNC);
        for (i, name) in ["a", "b", "c", "d", "e"].iter().enumerate() {
            index.apply(app(name), t(i as i64 + 1));
        }
        assert_eq!(turns.waiting(), 3, "two in the channel, three waiting");
        // Room again in the channel: a new turn still goes behind those waiting.
        let mut names = vec![rx.recv().await.unwrap().observation.app.name];
        index.apply(app("f"), t(6));
        let flushed = tokio::spawn({
            let index = index.clone();
            async move { index.flush_turns().await }
        });
        while names.len() < 6 {
            let turn = rx.recv().await.unwrap();
            names.push(turn.observation.app.name);
        }
        flushed.await.unwrap();
        assert_eq!(names, ["a", "b", "c", "d", "e", "f"]);
        assert_eq!(turns.waiting(), 0);
    }

    #[tokio::test]
    async fn the_room_a_first_list_queued_turns_in_is_given_back_once_they_are_taken() {
        let index = AppIndex::new(vec![ns("argocd")]);
        let (turns, mut rx) = Turns::channel(2);
        let turns = Arc::new(turns);
        index.report_turns(Arc::clone(&turns));
        let apps: Vec<Application> = (0..5_000)
            .map(|i| with_sync(mk_app("argocd", &format!("app-{i}"), "p"), OUT_OF_SYNC))
            .collect();
        index.replace_scope(&ns("argocd"), apps, t(0));
        assert_eq!(turns.waiting(), 4_998, "a turn per app, two in the channel");
        assert!(turns.room() >= 4_998);
        let flushed = tokio::spawn({
            let index = index.clone();
            async move { index.flush_turns().await }
        });
        for _ in 0..5_000 {
            rx.recv().await.unwrap();
        }
        flushed.await.unwrap();
        assert_eq!(turns.waiting(), 0);
        assert!(turns.room() < 1_024, "room kept: {}", turns.room());
    }

    #[test]
    fn an_app_is_served_as_it_was_stored() {
        let index = AppIndex::new(vec![ns("argocd")]);
        let mut app = with_sync(mk_app("argocd", "a", "p"), OUT_OF_SYNC);
        app.status.resources = vec![drift_core::app::fixtures::mk_resource(
            "apps",
            "Deployment",
            "guestbook",
            "web",
        )];
        let version = ObjectVersion {
            uid: "u-1".into(),
            resource_version: "42".into(),
        };
        index.replace_scope(&ns("argocd"), vec![], t(0));
        index.apply_version(app.clone(), version.clone(), t(5));
        let held = found(&index, "argocd", "a");
        assert_eq!(held.app, app);
        assert_eq!(held.version, version);
        let oos = held.out_of_sync.unwrap();
        assert_eq!((oos.since, oos.observed_since), (None, t(5)), "first seen");
    }

    #[test]
    fn staleness_keeps_its_first_moment_and_clears_on_reconnect() {
        let index = AppIndex::new(vec![ns("argocd")]);
        index.replace_scope(&ns("argocd"), vec![mk_app("argocd", "a", "p")], t(0));
        index.mark_stale(&ns("argocd"), "connection refused".into(), t(5));
        index.mark_stale(&ns("argocd"), "connection refused".into(), t(6));
        let Lookup::Found { freshness, .. } = index.lookup(&AppKey::new("argocd", "a")) else {
            panic!("app must still be served while stale");
        };
        assert_eq!(freshness.stale_since, Some(t(5)));
        index.mark_fresh(&ns("argocd"));
        let Lookup::Found { freshness, .. } = index.lookup(&AppKey::new("argocd", "a")) else {
            panic!()
        };
        assert_eq!(freshness.stale_since, None);
        assert!(freshness.synced);
    }

    #[test]
    fn a_cluster_wide_scope_covers_every_namespace() {
        let index = AppIndex::new(vec![WatchScope::AllNamespaces]);
        index.replace_scope(
            &WatchScope::AllNamespaces,
            vec![mk_app("argocd", "a", "p"), mk_app("team-a", "b", "p")],
            t(0),
        );
        found(&index, "team-a", "b");
        assert!(matches!(
            index.lookup(&AppKey::new("elsewhere", "x")),
            Lookup::NotFound
        ));
    }

    #[tokio::test]
    async fn wait_ready_resolves_after_the_last_scope_lists() {
        let index = AppIndex::new(vec![ns("argocd")]);
        let waiter = tokio::spawn({
            let index = index.clone();
            async move { index.wait_ready().await }
        });
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        index.replace_scope(&ns("argocd"), vec![], t(0));
        tokio::time::timeout(std::time::Duration::from_secs(1), waiter)
            .await
            .unwrap()
            .unwrap();
    }
}
