//! What requests read: each app's effective record — as stored, with every observation not yet
//! stored applied — packed, with its digest. The write side ([`super::state`]) rebuilds an app's
//! entry whenever its stored record or its pending observations change; a request takes one
//! entry under a read lock and never replays, unpacks more than one record, or waits on a write.
//!
//! Apps that never drifted have no entry.

use drift_core::app::AppKey;
use drift_core::history::Record;
use drift_core::history::model::{Episode, object_name};
use drift_core::history::packed::LastEnd;
use drift_core::history::packed::PackedRecord;
use drift_core::history::view::{HistoryView, Page, RecordState, RecordView, history_view};
use drift_core::tracking::OutOfSync;
use jiff::Timestamp;
use std::collections::HashMap;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// The read model. Written only by the write state, which never reads it back under its own
/// lock: this is a leaf (it calls nothing), so there is no lock order to keep.
#[derive(Default)]
pub struct Reads {
    inner: RwLock<Inner>,
}

#[derive(Default)]
struct Inner {
    /// The first list of records has arrived: before it, history cannot say.
    listed: bool,
    apps: HashMap<AppKey, AppRead>,
    /// Stored objects that cannot be read, by object name: why.
    invalid: HashMap<String, String>,
}

impl Inner {
    /// The apps whose record can be read (a hand-edited invalid one is left out).
    fn readable(&self) -> impl Iterator<Item = (&AppKey, &AppRead)> {
        self.apps.iter().filter(|(app, _)| {
            self.invalid.is_empty() || !self.invalid.contains_key(&object_name(app))
        })
    }
}

/// One app's history as requests see it.
#[derive(Clone, Debug)]
pub struct AppRead {
    /// The stored record with what is pending applied (the stored one itself, shared, when
    /// nothing is pending).
    pub record: Arc<PackedRecord>,
    /// A record is stored.
    pub stored: bool,
    /// Observations not yet stored.
    pub pending: usize,
    /// Why the last write failed, while something is pending.
    pub message: Option<String>,
}

impl Reads {
    pub fn is_listed(&self) -> bool {
        self.read().listed
    }

    pub(super) fn set_listed(&self) {
        self.write().listed = true;
    }

    pub(super) fn set(&self, app: &AppKey, read: Option<AppRead>) {
        let mut inner = self.write();
        match read {
            Some(read) => {
                inner.apps.insert(app.clone(), read);
            }
            None => {
                inner.apps.remove(app);
            }
        }
    }

    /// `app`'s entry as published.
    pub(super) fn entry(&self, app: &AppKey) -> Option<AppRead> {
        self.read().apps.get(app).cloned()
    }

    pub(super) fn set_invalid(&self, name: &str, why: Option<&str>) {
        let mut inner = self.write();
        match why {
            Some(why) => {
                inner.invalid.insert(name.to_string(), why.to_string());
            }
            None => {
                inner.invalid.remove(name);
            }
        }
    }

    /// Whether the records are listed, why the app's object cannot be read (if it cannot), and
    /// its entry.
    fn get(&self, app: &AppKey) -> (bool, Option<String>, Option<AppRead>) {
        let inner = self.read();
        let invalid = if inner.invalid.is_empty() {
            None
        } else {
            inner.invalid.get(&object_name(app)).cloned()
        };
        (inner.listed, invalid, inner.apps.get(app).cloned())
    }

    /// See [`super::History::current`].
    pub fn current(&self, app: &AppKey) -> Option<Option<OutOfSync>> {
        match self.get(app) {
            (false, _, _) | (_, Some(_), _) => None,
            (true, None, read) => Some(read.and_then(|r| r.record.digest().current)),
        }
    }

    /// The episode under way itself (resources, causes, managers): `Some(None)` when the record
    /// says the app is not drifting, `None` when history cannot say. From the digest: no record
    /// is unpacked.
    pub fn current_episode(&self, app: &AppKey) -> Option<Option<Episode>> {
        match self.get(app) {
            (false, _, _) | (_, Some(_), _) => None,
            (true, None, read) => {
                Some(read.and_then(|r| r.record.digest().open.as_deref().cloned()))
            }
        }
    }

    /// The effective record; `None` if the stored object cannot be read.
    pub fn effective(&self, app: &AppKey) -> Option<Record> {
        match self.get(app) {
            (_, Some(_), _) => None,
            (_, None, None) => Some(Record::default()),
            (_, None, Some(read)) => read.record.unpack(),
        }
    }

    /// Apps with an episode under way.
    pub fn drifting(&self) -> Vec<AppKey> {
        self.read()
            .apps
            .iter()
            .filter(|(_, read)| read.record.digest().open.is_some())
            .map(|(app, _)| app.clone())
            .collect()
    }

    /// Every app with an episode under way (readable records only): the episode, and how the
    /// app's previous one ended. From the digests: no record is unpacked.
    pub fn drifting_episodes(&self) -> Vec<(AppKey, Episode, Option<LastEnd>)> {
        let inner = self.read();
        inner
            .readable()
            .filter_map(|(app, read)| {
                let digest = read.record.digest();
                let open = digest.open.as_deref()?.clone();
                Some((app.clone(), open, digest.last_end.clone()))
            })
            .collect()
    }

    /// Every app with an entry and its episode under way (for the gauges).
    pub fn currents(&self) -> Vec<(AppKey, Option<OutOfSync>)> {
        let inner = self.read();
        inner
            .readable()
            .map(|(app, read)| (app.clone(), read.record.digest().current))
            .collect()
    }

    /// `GET /api/v1/history` for `app`.
    pub fn view(&self, app: &AppKey, page: &Page, now: Timestamp) -> HistoryView {
        let (_, invalid, read) = self.get(app);
        let name = object_name(app);
        let pending = read.as_ref().map_or(0, |r| r.pending);
        let (record, state, message) = match (invalid, read) {
            (Some(why), _) => (Record::default(), RecordState::Invalid, Some(why)),
            (None, None) => (Record::default(), RecordState::None, None),
            (None, Some(read)) => {
                let state = match (read.stored, pending) {
                    (_, 1..) => RecordState::Pending,
                    (true, 0) => RecordState::Stored,
                    (false, 0) => RecordState::None,
                };
                (
                    read.record.unpack().unwrap_or_default(),
                    state,
                    read.message.filter(|_| pending > 0),
                )
            }
        };
        history_view(
            app,
            &record,
            RecordView {
                state,
                name,
                message,
                pending_writes: pending,
            },
            page,
            now,
        )
    }

    /// Entries held, for tests.
    pub fn len(&self) -> usize {
        self.read().apps.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

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
