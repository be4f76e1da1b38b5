//! Watch streams: one JSON event per line on a chunked HTTP/1.1 response.
//!
//! A watch first sends its initial events (synthetic `ADDED` for every current object when it
//! starts from `""`/`"0"` or with `sendInitialEvents=true`, else the history after the
//! requested resourceVersion), then live events from its store subscription, interleaved with
//! `BOOKMARK`s every bookmark interval when `allowWatchBookmarks=true`. It ends after
//! `timeoutSeconds`, when [`Faults::drop_watches`](crate::Faults::drop_watches) fires, or when
//! the connection is cut. A resourceVersion older than the compaction point yields HTTP 200 and
//! one `ERROR` event holding a `410 Expired` Status, then the end of the stream, as a real
//! server answers: `too old resource version: <rv> (<oldest>)` (its watch cache), or for Events
//! (never cached, watched in etcd) `The resourceVersion for the provided watch is too old.`
//!
//! Filtering follows the real watch cache: an object that starts matching the selectors
//! arrives as `ADDED`, one that stops matching as `DELETED`.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body::Frame;
use http_body_util::{BodyExt, StreamBody};
use serde_json::{Value, json};
use tokio::sync::{mpsc, watch};
use tokio::time::{Instant, Interval, MissedTickBehavior};

use crate::faults::Faults;
use crate::registry::ResourceType;
use crate::selectors::Filter;
use crate::server::Body;
use crate::status::ApiError;
use crate::store::{Event, EventType, Store, WatchStart, served};

/// The line written by [`Faults::malformed_watch_line`](crate::Faults::malformed_watch_line).
const GARBAGE_LINE: &[u8] = b"{\"type\":\"MODIFIED\",\"object\":{this is not json\n";

/// Without `timeoutSeconds`, watches end after this long (the real server picks 30–60 min).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1800);

/// What the client asked for.
pub(crate) struct WatchRequest {
    pub filter: Filter,
    pub resource_version: Option<String>,
    pub allow_bookmarks: bool,
    pub send_initial_events: bool,
    pub timeout: Option<Duration>,
}

fn line(kind: &str, object: &Value) -> Bytes {
    /// Serialized straight from the stored object (`json!` would copy it first).
    #[derive(serde::Serialize)]
    struct Line<'a> {
        #[serde(rename = "type")]
        kind: &'a str,
        object: &'a Value,
    }
    let mut bytes = serde_json::to_vec(&Line { kind, object }).unwrap_or_else(|_| b"{}".to_vec());
    bytes.push(b'\n');
    Bytes::from(bytes)
}

/// The event type and object this watch reports for a store event, if any.
fn classify<'a>(event: &'a Event, filter: &Filter) -> Option<(EventType, &'a Value)> {
    let now = filter.matches(&event.object);
    let before = event.previous.as_deref().is_some_and(|p| filter.matches(p));
    let kind = match (event.kind, before, now) {
        (EventType::Added, _, true) => EventType::Added,
        (EventType::Modified, true, true) => EventType::Modified,
        (EventType::Modified, false, true) => EventType::Added,
        (EventType::Modified, true, false) => EventType::Deleted,
        (EventType::Deleted, true, _) | (EventType::Deleted, _, true) => EventType::Deleted,
        _ => return None,
    };
    Some((kind, &event.object))
}

struct WatchStream {
    rt: Arc<ResourceType>,
    filter: Filter,
    store: Store,
    pending: VecDeque<Bytes>,
    rx: mpsc::UnboundedReceiver<Arc<Event>>,
    /// Events at or below this resourceVersion are not sent (a watch from a future
    /// resourceVersion starts there).
    skip_until: u64,
    last_rv: u64,
    deadline: Instant,
    bookmarks: Option<Interval>,
    dropped: watch::Receiver<u64>,
    malformed: watch::Receiver<u64>,
}

enum Wake {
    End,
    Garbage,
    Event(Arc<Event>),
    Bookmark,
}

// === impl WatchStream ===

impl WatchStream {
    fn push_event(&mut self, event: &Event) {
        if event.rv <= self.skip_until {
            return;
        }
        self.last_rv = self.last_rv.max(event.rv);
        if let Some((kind, object)) = classify(event, &self.filter) {
            self.pending
                .push_back(line(kind.as_str(), &served(object, &self.rt)));
        }
    }

    fn push_bookmark(&mut self, initial_events_end: bool) {
        let mut metadata = json!({"resourceVersion": self.last_rv.to_string()});
        if initial_events_end {
            metadata["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        let object = json!({
            "kind": self.rt.kind,
            "apiVersion": self.rt.api_version(),
            "metadata": metadata,
        });
        self.pending.push_back(line("BOOKMARK", &object));
    }

    /// A periodic bookmark: first flush every event the store already sent us, so the
    /// bookmark never claims a resourceVersion whose events are still queued.
    fn periodic_bookmark(&mut self) {
        let now = self.store.current_resource_version();
        while let Ok(event) = self.rx.try_recv() {
            self.push_event(&event);
        }
        self.last_rv = self.last_rv.max(now);
        self.push_bookmark(false);
    }

    async fn wake(&mut self) -> Wake {
        let interval = self.bookmarks.as_mut();
        let bookmarks = async move {
            match interval {
                Some(interval) => {
                    interval.tick().await;
                }
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            biased;
            changed = self.dropped.changed() => {
                // Either drop_watches fired or the server is gone: end the stream.
                let _ = changed;
                Wake::End
            }
            changed = self.malformed.changed() => match changed {
                Ok(()) => Wake::Garbage,
                Err(_) => Wake::End,
            },
            _ = tokio::time::sleep_until(self.deadline) => Wake::End,
            event = self.rx.recv() => match event {
                Some(event) => Wake::Event(event),
                None => Wake::End,
            },
            _ = bookmarks => Wake::Bookmark,
        }
    }

    async fn next_chunk(mut self) -> Option<(Result<Frame<Bytes>, Infallible>, Self)> {
        loop {
            if let Some(chunk) = self.pending.pop_front() {
                return Some((Ok(Frame::data(chunk)), self));
            }
            match self.wake().await {
                Wake::End => return None,
                Wake::Garbage => self.pending.push_back(Bytes::from_static(GARBAGE_LINE)),
                Wake::Event(event) => self.push_event(&event),
                Wake::Bookmark => self.periodic_bookmark(),
            }
        }
    }
}

/// Starts a watch and returns its response body (or a `400` for a bad resourceVersion).
pub(crate) fn start(
    store: &Store,
    faults: &Faults,
    rt: Arc<ResourceType>,
    req: WatchRequest,
    bookmark_interval: Duration,
) -> Result<Body, ApiError> {
    let rv = req.resource_version.as_deref().unwrap_or_default();
    let start = if req.send_initial_events || rv.is_empty() || rv == "0" {
        WatchStart::Current
    } else {
        let rv = rv
            .parse::<u64>()
            .map_err(|_| ApiError::bad_request(format!("invalid resource version: {rv:?}")))?;
        WatchStart::After(rv)
    };
    let sub = match store.subscribe(&rt, start) {
        Ok(sub) => sub,
        Err(too_old) => {
            let chunk = line("ERROR", &too_old.to_status());
            return Ok(http_body_util::Full::new(chunk).boxed_unsync());
        }
    };
    let mut dropped = faults.drop_receiver();
    dropped.mark_unchanged();
    let mut malformed = faults.malformed_receiver();
    malformed.mark_unchanged();
    let bookmarks = req.allow_bookmarks.then(|| {
        let mut interval =
            tokio::time::interval_at(Instant::now() + bookmark_interval, bookmark_interval);
        interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
        interval
    });
    let mut stream = WatchStream {
        rt,
        filter: req.filter,
        store: store.clone(),
        pending: VecDeque::new(),
        rx: sub.rx,
        skip_until: match start {
            WatchStart::After(rv) => rv,
            WatchStart::Current => 0,
        },
        last_rv: 0,
        deadline: Instant::now() + req.timeout.unwrap_or(DEFAULT_TIMEOUT),
        bookmarks,
        dropped,
        malformed,
    };
    for event in &sub.initial {
        stream.push_event(event);
    }
    stream.last_rv = sub.rv.max(stream.skip_until);
    if req.send_initial_events && req.allow_bookmarks {
        stream.push_bookmark(true);
    }
    let body = futures::stream::unfold(stream, WatchStream::next_chunk);
    Ok(StreamBody::new(body).boxed_unsync())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::selectors::LabelSelector;

    fn event(kind: EventType, before: Option<Value>, after: Value) -> Event {
        Event {
            rv: 7,
            kind,
            resource: crate::registry::ResourceKey {
                group: String::new(),
                plural: "configmaps".into(),
            },
            object: Arc::new(after),
            previous: before.map(Arc::new),
        }
    }

    fn labelled(app: &str) -> Value {
        json!({"metadata": {"name": "a", "namespace": "ns", "labels": {"app": app}}})
    }

    #[test]
    fn an_object_leaving_the_selector_is_reported_deleted() {
        let filter = Filter {
            labels: LabelSelector::parse("app=web").unwrap(),
            ..Filter::default()
        };
        let leaving = event(EventType::Modified, Some(labelled("web")), labelled("db"));
        assert_eq!(
            classify(&leaving, &filter).map(|c| c.0),
            Some(EventType::Deleted)
        );
        let entering = event(EventType::Modified, Some(labelled("db")), labelled("web"));
        assert_eq!(
            classify(&entering, &filter).map(|c| c.0),
            Some(EventType::Added)
        );
        let outside = event(EventType::Modified, Some(labelled("db")), labelled("db2"));
        assert!(classify(&outside, &filter).is_none());
    }
}
