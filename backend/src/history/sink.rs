//! The watch of `DriftHistory` objects (in `POD_NAMESPACE`) into the write state: lists page by
//! page, then events. Records are parsed and packed as they come.

use super::History;
use crate::cluster::{OwnSink, Stored};
use jiff::Timestamp;

/// Records listed at once: a page is decoded as JSON values before it is read, and a record may
/// be half a megabyte, so pages are kept small: what a page churns through stays fragmented in
/// the allocator after it is freed (50 records a page held ~90 KB of resident memory per record).
const LIST_PAGE: u32 = 5;

/// Feeds the watched `DriftHistory` objects into [`History`].
pub struct HistorySink(pub(super) History);

impl OwnSink for HistorySink {
    fn replace(&self, objects: Vec<Stored>, now: Timestamp) {
        self.list_page(objects, now);
        self.list_end(now);
    }

    fn list_page_size(&self) -> Option<u32> {
        Some(LIST_PAGE)
    }

    fn list_page(&self, objects: Vec<Stored>, _now: Timestamp) {
        let history = &self.0;
        let mut state = history.lock();
        for object in objects {
            state.listing.insert(object.name.clone());
            state.hold(object, &history.shared.metrics);
        }
    }

    fn list_end(&self, _now: Timestamp) {
        let history = &self.0;
        let mut state = history.lock();
        let names = std::mem::take(&mut state.listing);
        let gone: Vec<String> = state
            .names()
            .filter(|n| !names.contains(*n))
            .cloned()
            .collect();
        for name in gone {
            state.forget(&name);
        }
        state.mark_listed();
        history
            .shared
            .metrics
            .set_history_records(state.stored.len(), state.invalid.len());
        drop(state);
        history.shared.wake.notify_one();
    }

    fn apply(&self, object: Stored, _now: Timestamp) {
        let history = &self.0;
        history.lock().hold(object, &history.shared.metrics);
        history.shared.wake.notify_one();
    }

    fn holds(&self, name: &str, resource_version: &str) -> bool {
        self.0.lock().holds(name, resource_version)
    }

    fn delete(&self, name: &str, _now: Timestamp) {
        let history = &self.0;
        history.lock().forget(name);
        history.shared.wake.notify_one();
    }
}
