//! What one replica serves: every stored report, by object name and by key.
//!
//! Fed from three sides, all under one lock:
//!
//! - the watch ([`OwnSink`]): the list replaces everything, events add, change and remove;
//! - this replica's own writes ([`ReportStore::written`]), so a reporter reads its write at once;
//! - heartbeats acknowledged but not yet written ([`ReportStore::heartbeat`]): served on top of
//!   the stored version, written behind by the [`ReportWriter`](super::ReportWriter).
//!
//! A version older than the one held (by `resourceVersion`) never replaces it: a watch event
//! can trail this replica's own write of the same object.
//!
//! Two objects may hold one key (a reporter created one under another name): the one with the
//! newer `last_check` is served.
//!
//! Indexed so that an app's answers cost O(its reports), not O(all reports): keys by the app a
//! report names (stored or pending), and keys in `(repo, server)` order for the apps whose
//! annotation lists a repo. What each reporter holds (reports and bytes, by
//! [`Report::weight`](drift_core::reports::model::Report::weight)) is kept up to date for the
//! writer's limits. A list is taken page by page ([`LIST_PAGE`] objects), each page decoded as it
//! comes, so start-up never holds the whole list as JSON.

use super::Timing;
use crate::cluster::{OwnSink, Stored};
use crate::index::AppIndex;
use bytes::Bytes;
use drift_core::app::AppKey;
use drift_core::reports::links::{LinkedBy, ReportLink, linked_by};
use drift_core::reports::model::{ReportKey, StoredReport, SyncStatus};
use drift_core::reports::resource::from_object;
use drift_core::reports::view::{
    ReportFilter, ReportsSummary, is_expired, is_stale, precedence, status_row, turns_stale_at,
};
use jiff::Timestamp;
use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};
use tokio::sync::watch;

/// Objects per page when the stored reports are listed: a report may be ~0.5 MiB of JSON, held
/// parsed (several times that) until the page is decoded.
pub const LIST_PAGE: u32 = 10;

/// One stored object.
#[derive(Clone, Debug)]
struct Entry {
    resource_version: String,
    stored: Arc<StoredReport>,
    weight: usize,
}

/// Reports and bytes held, by one reporter or in all.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    pub reports: usize,
    pub bytes: usize,
}

impl Usage {
    fn add(&mut self, weight: usize) {
        self.reports += 1;
        self.bytes += weight;
    }

    fn sub(&mut self, weight: usize) {
        self.reports = self.reports.saturating_sub(1);
        self.bytes = self.bytes.saturating_sub(weight);
    }
}

/// What one key holds now, as the writer's limits see it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Held {
    /// The reporter of the served object and its weight (`None`: the key is not held).
    pub object: Option<(Option<String>, usize)>,
    /// That reporter's usage (of `reporter` as asked), and the total.
    pub reporter: Usage,
    pub total: Usage,
}

#[derive(Default)]
struct State {
    objects: HashMap<String, Entry>,
    /// Key → the names of the objects holding it (nearly always one).
    keys: BTreeMap<ReportKey, Vec<String>>,
    /// Heartbeats and queued changes acknowledged and not yet written, by key.
    pending: HashMap<ReportKey, Arc<StoredReport>>,
    /// App → the keys whose stored or pending report names it (with how many do).
    by_app: HashMap<AppKey, BTreeMap<ReportKey, usize>>,
    /// Usage by reporter (`None`: anonymous or written by hand) over the stored objects.
    usage: HashMap<Option<String>, Usage>,
    total: Usage,
    /// Bumped on every change of what is served.
    generation: u64,
    stale_since: Option<Timestamp>,
}

/// `/status.json` as last rendered, and until when it holds.
struct Rendered {
    generation: u64,
    links_version: u64,
    valid_until: Timestamp,
    body: Bytes,
}

/// The version of a key this replica serves.
#[derive(Clone, Debug)]
pub struct Current {
    /// The object that holds it, and its version.
    pub name: String,
    pub resource_version: String,
    /// As stored.
    pub stored: Arc<StoredReport>,
    /// As served: a pending heartbeat on top of the stored version, if newer.
    pub effective: Arc<StoredReport>,
}

/// The replica's reports. Cheap to clone.
#[derive(Clone)]
pub struct ReportStore {
    inner: Arc<Inner>,
}

struct Inner {
    state: RwLock<State>,
    rendered: RwLock<Option<Rendered>>,
    ready: watch::Sender<bool>,
    timing: Timing,
    /// For the report links of Applications (their annotation).
    apps: Option<AppIndex>,
    /// A paged list under way: the objects decoded so far.
    listing: Mutex<Vec<(String, String, StoredReport)>>,
    /// The resourceVersion of the list about to end (its snapshot).
    list_version: Mutex<Option<String>>,
}

impl ReportStore {
    pub fn new(timing: Timing, apps: Option<AppIndex>) -> ReportStore {
        let (ready, _) = watch::channel(false);
        ReportStore {
            inner: Arc::new(Inner {
                state: RwLock::default(),
                rendered: RwLock::new(None),
                ready,
                timing,
                apps,
                listing: Mutex::default(),
                list_version: Mutex::default(),
            }),
        }
    }

    pub fn timing(&self) -> Timing {
        self.inner.timing
    }

    /// True once the first list of stored reports is in.
    pub fn is_ready(&self) -> bool {
        *self.inner.ready.borrow()
    }

    pub async fn wait_ready(&self) {
        let mut rx = self.inner.ready.subscribe();
        // Fails only if the sender is gone; `self` holds it.
        let _ = rx.wait_for(|ready| *ready).await;
    }

    // === reads ===

    /// The version of `key` this replica serves.
    pub fn current(&self, key: &ReportKey) -> Option<Current> {
        let state = self.read();
        let (name, entry) = state.chosen(key)?;
        let effective = match state.pending.get(key) {
            Some(heartbeat) if precedence(heartbeat, &entry.stored) != Ordering::Less => {
                Arc::clone(heartbeat)
            }
            _ => Arc::clone(&entry.stored),
        };
        Some(Current {
            name: name.to_string(),
            resource_version: entry.resource_version.clone(),
            stored: Arc::clone(&entry.stored),
            effective,
        })
    }

    /// Every object holding `key`: (name, resourceVersion).
    pub fn objects_of(&self, key: &ReportKey) -> Vec<(String, String)> {
        let state = self.read();
        state
            .keys
            .get(key)
            .into_iter()
            .flatten()
            .filter_map(|name| {
                let entry = state.objects.get(name)?;
                Some((name.clone(), entry.resource_version.clone()))
            })
            .collect()
    }

    /// How many keys are held (`/health`'s `tracked_repos`).
    pub fn tracked(&self) -> usize {
        self.read().keys.len()
    }

    /// What `key` holds, `reporter`'s usage and the total, for the writer's limits.
    pub fn held(&self, key: &ReportKey, reporter: Option<&str>) -> Held {
        let state = self.read();
        Held {
            object: state
                .chosen(key)
                .map(|(_, e)| (e.stored.reporter.clone(), e.weight)),
            reporter: state
                .usage
                .get(&reporter.map(str::to_string))
                .copied()
                .unwrap_or_default(),
            total: state.total,
        }
    }

    /// Reports and bytes held in all (stored objects).
    pub fn total(&self) -> Usage {
        self.read().total
    }

    /// The link annotation of `app`, if the index knows the app.
    pub fn links_of(&self, app: &AppKey) -> Option<Vec<ReportLink>> {
        let index = self.inner.apps.as_ref()?;
        match index.lookup(app) {
            crate::index::Lookup::Found { app, .. } => Some(app.app.report_links.clone()),
            _ => None,
        }
    }

    /// `/status.json` with every report, rendered once per change (and re-rendered when a
    /// report turns stale or an app's report links change).
    pub fn status_json(&self, now: Timestamp) -> Bytes {
        let links_version = self.links_version();
        {
            let rendered = self
                .inner
                .rendered
                .read()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if let Some(r) = rendered.as_ref()
                && r.generation == self.read().generation
                && r.links_version == links_version
                && now < r.valid_until
            {
                return r.body.clone();
            }
        }
        let (generation, body, valid_until) = {
            let state = self.read();
            let (body, valid_until) = self.render(&state, &ReportFilter::default(), now);
            (state.generation, body, valid_until)
        };
        let body = Bytes::from(body);
        *self
            .inner
            .rendered
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(Rendered {
            generation,
            links_version,
            valid_until,
            body: body.clone(),
        });
        body
    }

    /// `/status.json` with a filter (rendered for this request).
    pub fn status_json_filtered(&self, filter: &ReportFilter, now: Timestamp) -> Bytes {
        let state = self.read();
        Bytes::from(self.render(&state, filter, now).0)
    }

    /// The reports of one app (it names them, or `links` — its annotation — lists their repo).
    pub fn for_app(
        &self,
        app: &AppKey,
        links: &[ReportLink],
    ) -> Vec<(Arc<StoredReport>, LinkedBy)> {
        let state = self.read();
        let mut candidates: std::collections::BTreeSet<&ReportKey> = state
            .by_app
            .get(app)
            .into_iter()
            .flat_map(BTreeMap::keys)
            .collect();
        for link in links {
            let from = ReportKey::new(link.repo.clone(), String::new());
            candidates.extend(
                state
                    .keys
                    .range(from..)
                    .map(|(key, _)| key)
                    .take_while(|key| key.repo == link.repo)
                    .filter(|key| link.matches(key)),
            );
        }
        candidates
            .into_iter()
            .filter_map(|key| {
                let effective = state.effective(key)?;
                let by = linked_by(&effective.report, app, links)?;
                Some((effective, by))
            })
            .collect()
    }

    /// Counts for `GET /api/v1/status`; `None` until the reports have been read.
    pub fn summary_for(
        &self,
        app: &AppKey,
        links: &[ReportLink],
        now: Timestamp,
    ) -> Option<ReportsSummary> {
        if !self.is_ready() {
            return None;
        }
        let mut summary = ReportsSummary::default();
        for (stored, _) in self.for_app(app, links) {
            summary.add(
                &stored.report,
                is_stale(&stored, now, self.inner.timing.stale_after),
            );
        }
        Some(summary)
    }

    /// Objects whose report (heartbeats included) expired: (name, resourceVersion).
    pub fn expired(&self, now: Timestamp) -> Vec<(String, String)> {
        let state = self.read();
        let expire_after = self.inner.timing.expire_after;
        state
            .objects
            .iter()
            .filter(|(_, entry)| {
                let refreshed = match state.pending.get(&entry.stored.report.key) {
                    Some(p) if precedence(p, &entry.stored) == Ordering::Greater => p,
                    _ => &entry.stored,
                };
                is_expired(refreshed, now, expire_after)
            })
            .map(|(name, entry)| (name.clone(), entry.resource_version.clone()))
            .collect()
    }

    /// (synced, out of sync, stale) over the served reports, for the gauges.
    pub fn counts(&self, now: Timestamp) -> (usize, usize, usize) {
        let state = self.read();
        let (mut synced, mut out_of_sync, mut stale) = (0, 0, 0);
        for key in state.keys.keys() {
            let Some(effective) = state.effective(key) else {
                continue;
            };
            match effective.report.sync_status {
                SyncStatus::Synced => synced += 1,
                SyncStatus::OutOfSync => out_of_sync += 1,
            }
            stale += usize::from(is_stale(&effective, now, self.inner.timing.stale_after));
        }
        (synced, out_of_sync, stale)
    }

    /// Since when the watch cannot reach the API server (`None`: live).
    pub fn stale_since(&self) -> Option<Timestamp> {
        self.read().stale_since
    }

    /// The heartbeats not yet written.
    pub fn pending(&self) -> Vec<(ReportKey, Arc<StoredReport>)> {
        self.read()
            .pending
            .iter()
            .map(|(k, v)| (k.clone(), Arc::clone(v)))
            .collect()
    }

    pub fn pending_count(&self) -> usize {
        self.read().pending.len()
    }

    // === writes ===

    /// A heartbeat (or a queued change) acknowledged: served at once, written later.
    pub fn heartbeat(&self, stored: Arc<StoredReport>) {
        let mut state = self.write();
        let key = stored.report.key.clone();
        let newer = state
            .pending
            .get(&key)
            .is_none_or(|p| precedence(&stored, p) != Ordering::Less);
        if newer {
            state.set_pending(key, Some(stored));
            state.generation += 1;
        }
    }

    /// Forgets a pending heartbeat once written (or superseded), unless a newer one came.
    pub fn heartbeat_done(&self, key: &ReportKey, heartbeat: &Arc<StoredReport>) {
        let mut state = self.write();
        if state
            .pending
            .get(key)
            .is_some_and(|p| Arc::ptr_eq(p, heartbeat))
        {
            state.set_pending(key.clone(), None);
        }
    }

    /// This replica wrote (or re-read) an object.
    pub fn written(&self, object: Stored) {
        self.apply_stored(object, false);
    }

    /// This replica deleted an object (or found it gone).
    pub fn removed(&self, name: &str) {
        let mut state = self.write();
        state.remove(name);
    }

    fn apply_stored(&self, object: Stored, from_watch: bool) {
        let decoded = from_object(&object.object);
        let mut state = self.write();
        if let Some(held) = state.objects.get(&object.name)
            && !not_older(&object.resource_version, &held.resource_version)
        {
            return;
        }
        match decoded {
            Ok(stored) => state.insert(object.name, object.resource_version, stored),
            Err(error) => {
                if from_watch {
                    tracing::warn!(name = %object.name, %error, "skipping a DriftReport that cannot be read");
                }
                state.remove(&object.name);
            }
        }
    }

    // === rendering ===

    fn links_version(&self) -> u64 {
        self.inner
            .apps
            .as_ref()
            .map_or(0, AppIndex::report_links_version)
    }

    /// The rows (as JSON) and until when they hold (the first moment a fresh one turns stale).
    fn render(&self, state: &State, filter: &ReportFilter, now: Timestamp) -> (Vec<u8>, Timestamp) {
        let stale_after = self.inner.timing.stale_after;
        let links = self
            .inner
            .apps
            .as_ref()
            .map(AppIndex::report_links)
            .unwrap_or_default();
        // Repo → the apps whose annotation names it (and the link, which may name one server).
        let mut by_repo: HashMap<&str, Vec<(&AppKey, &ReportLink)>> = HashMap::new();
        for (app, app_links) in &links {
            for link in app_links {
                by_repo
                    .entry(link.repo.as_str())
                    .or_default()
                    .push((app, link));
            }
        }
        let mut rows = Vec::with_capacity(state.keys.len());
        let mut valid_until = Timestamp::MAX;
        let held: Vec<Arc<StoredReport>> = state
            .keys
            .keys()
            .filter_map(|key| state.effective(key))
            .collect();
        for stored in &held {
            let stale = is_stale(stored, now, stale_after);
            if !stale {
                valid_until = valid_until.min(turns_stale_at(stored, stale_after));
            }
            let mut apps: Vec<AppKey> = stored.report.application.iter().cloned().collect();
            for (app, app_links) in &links {
                if app_links.iter().any(|l| l.matches(&stored.report.key)) && !apps.contains(app) {
                    apps.push(app.clone());
                }
            }
            apps.sort();
            if filter.matches(stored, &apps, stale) {
                rows.push(status_row(stored, &apps, now, stale_after));
            }
        }
        // Rows hold plain strings, numbers and timestamps: serializing cannot fail.
        let body = serde_json::to_vec(&rows).unwrap_or_else(|_| b"[]".to_vec());
        (body, valid_until)
    }

    /// Counts the store's maps at each scrape (`held_entries`), while the store lives.
    pub fn count_held(&self, metrics: &crate::metrics::Metrics) {
        metrics.count_held_by::<_, State>(
            &self.inner,
            |inner, count| {
                count(
                    &inner
                        .state
                        .read()
                        .unwrap_or_else(|poisoned| poisoned.into_inner()),
                )
            },
            &[
                ("report_objects", |s| s.objects.len()),
                ("report_keys", |s| s.keys.len()),
                ("report_pending", |s| s.pending.len()),
                ("report_apps_linked", |s| s.by_app.len()),
                ("report_usage_by_reporter", |s| s.usage.len()),
            ],
        );
    }

    fn read(&self) -> RwLockReadGuard<'_, State> {
        self.inner
            .state
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, State> {
        self.inner
            .state
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Whether `candidate` is at least as new as `held`. resourceVersions are opaque in general, but
/// every kube-apiserver (and the fake) issues increasing integers; anything else is taken as
/// newer, which is what a watch-only store would do.
fn not_older(candidate: &str, held: &str) -> bool {
    match (candidate.parse::<u64>(), held.parse::<u64>()) {
        (Ok(c), Ok(h)) => c >= h,
        _ => true,
    }
}

impl State {
    fn chosen(&self, key: &ReportKey) -> Option<(&str, &Entry)> {
        self.keys
            .get(key)?
            .iter()
            .filter_map(|name| Some((name.as_str(), self.objects.get(name)?)))
            .max_by(|(na, a), (nb, b)| precedence(&a.stored, &b.stored).then(nb.cmp(na)))
    }

    fn effective(&self, key: &ReportKey) -> Option<Arc<StoredReport>> {
        let (_, entry) = self.chosen(key)?;
        Some(match self.pending.get(key) {
            Some(p) if precedence(p, &entry.stored) != Ordering::Less => Arc::clone(p),
            _ => Arc::clone(&entry.stored),
        })
    }

    fn insert(&mut self, name: String, resource_version: String, stored: StoredReport) {
        let key = stored.report.key.clone();
        // A new version of an object of the same key (the watch's echo of an own write, too)
        // keeps the key's pending heartbeat; only a key left without objects loses it.
        if let Some(left_empty) = self.detach(&name)
            && left_empty != key
        {
            self.set_pending(left_empty, None);
        }
        // A pending heartbeat that the stored version already covers is done.
        if let Some(p) = self.pending.get(&key)
            && precedence(p, &stored) != Ordering::Greater
        {
            self.set_pending(key.clone(), None);
        }
        let weight = stored.report.weight();
        self.usage
            .entry(stored.reporter.clone())
            .or_default()
            .add(weight);
        self.total.add(weight);
        if let Some(app) = &stored.report.application {
            self.index_app(app, &key, true);
        }
        self.keys.entry(key).or_default().push(name.clone());
        self.objects.insert(
            name,
            Entry {
                resource_version,
                stored: Arc::new(stored),
                weight,
            },
        );
        self.generation += 1;
    }

    fn remove(&mut self, name: &str) {
        if let Some(left_empty) = self.detach(name) {
            self.set_pending(left_empty, None);
        }
    }

    /// Takes object `name` out of the counts and indexes. Returns its key if that key has no
    /// object left (its pending heartbeat, if any, is then the caller's to drop or keep).
    fn detach(&mut self, name: &str) -> Option<ReportKey> {
        let entry = self.objects.remove(name)?;
        if let Some(usage) = self.usage.get_mut(&entry.stored.reporter) {
            usage.sub(entry.weight);
            if usage.reports == 0 {
                self.usage.remove(&entry.stored.reporter);
            }
        }
        self.total.sub(entry.weight);
        let key = &entry.stored.report.key;
        if let Some(app) = &entry.stored.report.application {
            self.index_app(app, key, false);
        }
        let mut left_empty = None;
        if let Some(names) = self.keys.get_mut(key) {
            names.retain(|n| n != name);
            if names.is_empty() {
                self.keys.remove(key);
                left_empty = Some(key.clone());
            }
        }
        self.generation += 1;
        left_empty
    }

    /// Sets (or clears) the pending version of `key`, keeping the app index.
    fn set_pending(&mut self, key: ReportKey, pending: Option<Arc<StoredReport>>) {
        let old = match pending {
            Some(p) => {
                if let Some(app) = &p.report.application {
                    self.index_app(app, &key, true);
                }
                self.pending.insert(key.clone(), p)
            }
            None => self.pending.remove(&key),
        };
        if let Some(app) = old.as_ref().and_then(|o| o.report.application.as_ref()) {
            self.index_app(app, &key, false);
        }
    }

    /// Counts one more (or one less) stored or pending report of `key` naming `app`.
    fn index_app(&mut self, app: &AppKey, key: &ReportKey, add: bool) {
        if add {
            *self
                .by_app
                .entry(app.clone())
                .or_default()
                .entry(key.clone())
                .or_default() += 1;
            return;
        }
        let Some(keys) = self.by_app.get_mut(app) else {
            return;
        };
        if let Some(n) = keys.get_mut(key) {
            *n -= 1;
            if *n == 0 {
                keys.remove(key);
            }
        }
        if keys.is_empty() {
            self.by_app.remove(app);
        }
    }
}

/// The reports of listed objects; those that cannot be read are logged and left out.
fn decode(objects: Vec<Stored>) -> Vec<(String, String, StoredReport)> {
    let mut decoded = Vec::with_capacity(objects.len());
    for object in objects {
        match from_object(&object.object) {
            Ok(stored) => decoded.push((object.name, object.resource_version, stored)),
            Err(error) => {
                tracing::warn!(name = %object.name, %error, "skipping a DriftReport that cannot be read");
            }
        }
    }
    decoded
}

impl ReportStore {
    /// A complete list, decoded: exactly these objects exist now.
    fn listed(&self, decoded: Vec<(String, String, StoredReport)>) {
        let snapshot = self
            .inner
            .list_version
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        let mut state = self.write();
        let mut fresh = State {
            generation: state.generation + 1,
            stale_since: None,
            ..State::default()
        };
        for (name, resource_version, stored) in decoded {
            // An own write newer than the list's snapshot stays (its event follows the list).
            match state.objects.remove(&name) {
                Some(held) if !not_older(&resource_version, &held.resource_version) => {
                    fresh.insert(name, held.resource_version, (*held.stored).clone());
                }
                _ => fresh.insert(name, resource_version, stored),
            }
        }
        // Held but not listed: deleted before the snapshot — or an own write after it (its
        // create was acknowledged; its event follows the list), which stays.
        if let Some(snapshot) = &snapshot {
            for (name, held) in std::mem::take(&mut state.objects) {
                if !not_older(snapshot, &held.resource_version) {
                    fresh.insert(name, held.resource_version, (*held.stored).clone());
                }
            }
        }
        for (key, pending) in std::mem::take(&mut state.pending) {
            if fresh.keys.contains_key(&key) {
                fresh.set_pending(key, Some(pending));
            }
        }
        *state = fresh;
        drop(state);
        self.inner.ready.send_replace(true);
    }

    fn listing(&self) -> std::sync::MutexGuard<'_, Vec<(String, String, StoredReport)>> {
        self.inner
            .listing
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl OwnSink for ReportStore {
    fn replace(&self, objects: Vec<Stored>, _now: Timestamp) {
        self.listed(decode(objects));
    }

    fn list_page_size(&self) -> Option<u32> {
        Some(LIST_PAGE)
    }

    fn list_start(&self) {
        self.listing().clear();
    }

    fn list_page(&self, objects: Vec<Stored>, _now: Timestamp) {
        let decoded = decode(objects);
        self.listing().extend(decoded);
    }

    fn list_end(&self, _now: Timestamp) {
        let decoded = std::mem::take(&mut *self.listing());
        self.listed(decoded);
    }

    fn list_version(&self, resource_version: &str) {
        *self
            .inner
            .list_version
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) =
            Some(resource_version.to_string()).filter(|v| !v.is_empty());
    }

    fn apply(&self, object: Stored, _now: Timestamp) {
        self.apply_stored(object, true);
    }

    fn delete(&self, name: &str, _now: Timestamp) {
        self.removed(name);
    }

    fn delete_at(&self, name: &str, resource_version: Option<&str>, _now: Timestamp) {
        let mut state = self.write();
        if let (Some(held), Some(rv)) = (state.objects.get(name), resource_version)
            && !not_older(rv, &held.resource_version)
        {
            return; // an older deletion than the object held (re-created since)
        }
        state.remove(name);
    }

    fn stale(&self, _why: &str, now: Timestamp) {
        self.write().stale_since.get_or_insert(now);
    }

    fn fresh(&self) {
        self.write().stale_since = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use drift_core::reports::parse::{Flavor, parse_body};
    use drift_core::reports::resource::{name_for, to_object};
    use std::time::Duration;

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn report(repo: &str, status: &str, last_check: &str, updated: &str) -> StoredReport {
        let body = format!(
            r#"{{"repo":"{repo}","server":"lab","sync_status":"{status}","drift_count":1,"files":[{{"name":"a.conf"}}],"last_check":"{last_check}"}}"#
        );
        StoredReport {
            report: parse_body(body.as_bytes(), Flavor::Compat, t("2030-01-01T00:00:00Z")).unwrap(),
            updated_at: Some(t(updated)),
            reporter: None,
        }
    }

    fn object(name: &str, rv: u64, stored: &StoredReport) -> Stored {
        Stored {
            name: name.to_string(),
            resource_version: rv.to_string(),
            object: to_object(name, Some(&rv.to_string()), stored),
        }
    }

    fn store() -> ReportStore {
        ReportStore::new(
            Timing {
                stale_after: Duration::from_secs(60),
                expire_after: Duration::from_secs(600),
                heartbeat_write: Duration::from_secs(10),
            },
            None,
        )
    }

    const T0: &str = "2026-04-21T10:00:00Z";

    #[test]
    fn serves_what_the_list_and_events_hold_and_is_ready_after_the_list() {
        let s = store();
        assert!(!s.is_ready());
        let a = report("a", "SYNCED", T0, T0);
        s.replace(vec![object("a.lab-x", 1, &a)], t(T0));
        assert!(s.is_ready());
        assert_eq!(s.tracked(), 1);
        let b = report("b", "OUT_OF_SYNC", T0, T0);
        s.apply(object("b.lab-x", 2, &b), t(T0));
        let json: serde_json::Value = serde_json::from_slice(&s.status_json(t(T0))).unwrap();
        assert_eq!(json[0]["repo"], "a");
        assert_eq!(json[1]["repo"], "b");
        s.delete_at("a.lab-x", Some("3"), t(T0));
        assert_eq!(s.tracked(), 1);
    }

    #[test]
    fn an_older_version_never_replaces_a_newer_one() {
        let s = store();
        s.replace(vec![], t(T0));
        let old = report("a", "SYNCED", T0, T0);
        let new = report(
            "a",
            "OUT_OF_SYNC",
            "2026-04-21T10:01:00Z",
            "2026-04-21T10:01:00Z",
        );
        s.written(object("n", 5, &new));
        s.apply(object("n", 4, &old), t(T0)); // the watch trails the own write
        assert_eq!(
            s.current(&new.report.key)
                .unwrap()
                .stored
                .report
                .sync_status,
            SyncStatus::OutOfSync
        );
        s.delete_at("n", Some("4"), t(T0));
        assert!(s.current(&new.report.key).is_some(), "an older deletion");
        // A list taken before the own write keeps the own write.
        s.replace(vec![object("n", 4, &old)], t(T0));
        assert_eq!(s.current(&new.report.key).unwrap().resource_version, "5");
    }

    #[test]
    fn a_list_older_than_an_own_create_keeps_it_and_its_heartbeat() {
        // A relist's snapshot (rv 10) was taken before this replica created the object (rv 12)
        // and acknowledged a heartbeat for it: the object's event follows the list, so the list
        // must not forget it, nor the acknowledged heartbeat. An object held from before the
        // snapshot and absent from it was deleted meanwhile: that one goes.
        let s = store();
        let gone = report("g", "SYNCED", T0, T0);
        s.replace(vec![object("g", 5, &gone)], t(T0));
        let created = report("a", "SYNCED", T0, T0);
        s.written(object("n", 12, &created));
        let beat = Arc::new(report(
            "a",
            "SYNCED",
            "2026-04-21T10:00:30Z",
            "2026-04-21T10:00:31Z",
        ));
        s.heartbeat(Arc::clone(&beat));
        s.list_version("10");
        s.replace(Vec::new(), t(T0));
        assert_eq!(s.current(&created.report.key).unwrap().effective, beat);
        assert_eq!(
            s.pending_count(),
            1,
            "the acknowledged heartbeat is still to be written"
        );
        assert!(
            s.current(&gone.report.key).is_none(),
            "deleted before the snapshot"
        );
    }

    #[test]
    fn of_two_objects_for_one_key_the_newer_last_check_is_served() {
        let s = store();
        let older = report("a", "SYNCED", T0, T0);
        let mut newer = report("a", "OUT_OF_SYNC", "2026-04-21T10:05:00Z", T0);
        // Written by hand: no `status.updatedAt`, ordered by its `lastCheck`.
        newer.updated_at = None;
        s.replace(
            vec![
                object(&name_for(&older.report.key), 1, &older),
                object("made-by-kubectl", 2, &newer),
            ],
            t(T0),
        );
        let current = s.current(&older.report.key).unwrap();
        assert_eq!(current.name, "made-by-kubectl");
        assert_eq!(s.tracked(), 1);
        assert_eq!(s.objects_of(&older.report.key).len(), 2);
    }

    #[test]
    fn a_heartbeat_is_served_until_a_stored_version_covers_it() {
        let s = store();
        let stored = report("a", "SYNCED", T0, T0);
        s.replace(vec![object("n", 1, &stored)], t(T0));
        let beat = Arc::new(report(
            "a",
            "SYNCED",
            "2026-04-21T10:00:30Z",
            "2026-04-21T10:00:31Z",
        ));
        let before = s.status_json(t(T0));
        s.heartbeat(Arc::clone(&beat));
        let after = s.status_json(t(T0));
        assert_ne!(before, after, "the cache follows heartbeats");
        let current = s.current(&stored.report.key).unwrap();
        assert_eq!(current.effective, beat);
        assert_eq!(s.pending_count(), 1);
        // The write lands (here, as the watch sees it): nothing is pending any more.
        s.apply(object("n", 2, &beat), t(T0));
        assert_eq!(s.pending_count(), 0);
    }

    #[test]
    fn the_watch_echo_of_an_own_write_keeps_a_heartbeat_that_came_after_it() {
        // The replica creates the object, acknowledges a heartbeat, and only then sees its own
        // create come back on the watch (the order under load): the heartbeat is still served.
        let s = store();
        let created = report("a", "SYNCED", T0, T0);
        s.replace(Vec::new(), t(T0));
        s.apply(object("n", 1, &created), t(T0));
        let beat = Arc::new(report(
            "a",
            "SYNCED",
            "2026-04-21T10:00:30Z",
            "2026-04-21T10:00:31Z",
        ));
        s.heartbeat(Arc::clone(&beat));
        s.apply(object("n", 1, &created), t(T0));
        assert_eq!(s.current(&created.report.key).unwrap().effective, beat);
        assert_eq!(s.pending_count(), 1, "still to be written");
        // An object replaced under another key leaves nothing pending for the old one.
        let other = report("b", "SYNCED", T0, T0);
        s.apply(object("n", 2, &other), t(T0));
        assert!(s.current(&created.report.key).is_none());
        assert_eq!(s.pending_count(), 0);
    }

    #[test]
    fn reports_turn_stale_in_the_cached_view_and_expire() {
        let s = store();
        let a = report("a", "OUT_OF_SYNC", T0, T0);
        s.replace(vec![object("n", 1, &a)], t(T0));
        let at = |secs: i64| {
            t(T0)
                .checked_add(jiff::SignedDuration::from_secs(secs))
                .unwrap()
        };
        let stale = |now| -> bool {
            let json: serde_json::Value = serde_json::from_slice(&s.status_json(now)).unwrap();
            json[0]["stale"].as_bool().unwrap()
        };
        assert!(!stale(at(60)));
        assert!(
            stale(at(61)),
            "the cached body is re-rendered when a report turns stale"
        );
        assert_eq!(s.counts(at(61)), (0, 1, 1));
        assert!(s.expired(at(600)).is_empty());
        assert_eq!(s.expired(at(601)), vec![("n".to_string(), "1".to_string())]);
        // A pending heartbeat keeps it alive.
        s.heartbeat(Arc::new(report(
            "a",
            "OUT_OF_SYNC",
            T0,
            "2026-04-21T10:09:00Z",
        )));
        assert!(s.expired(at(601)).is_empty());
    }

    #[test]
    fn filters_select_rows() {
        let s = store();
        s.replace(
            vec![
                object("a", 1, &report("a", "SYNCED", T0, T0)),
                object("b", 2, &report("b", "OUT_OF_SYNC", T0, T0)),
            ],
            t(T0),
        );
        let filter = ReportFilter {
            sync_status: Some(SyncStatus::OutOfSync),
            ..ReportFilter::default()
        };
        let json: serde_json::Value =
            serde_json::from_slice(&s.status_json_filtered(&filter, t(T0))).unwrap();
        assert_eq!(json.as_array().unwrap().len(), 1);
        assert_eq!(json[0]["repo"], "b");
    }
}
