//! The write state and the read model, driven by hand (the writer's IO aside).

use super::state::MAX_PENDING_PER_APP;
use super::writer::{BACKOFF_MAX, BACKOFF_MIN, Write, backoff};
use super::*;
use crate::cluster::{OwnSink, Stored};
use drift_core::history::Record;
use drift_core::history::fixtures::t;
use drift_core::history::model::object_name;
use drift_core::history::rules::{AppState, Change, Observation, Outcome};
use drift_core::history::view::RecordState;
use std::collections::VecDeque;
use tokio::time::Instant;

fn history() -> History {
    History::new(Settings::default(), Arc::new(Metrics::new()))
}

fn turn(version: u64, change: Change) -> Turn {
    Turn {
        observation: Observation {
            app: AppKey::new("argocd", "a"),
            version: version.to_string(),
            at: t(version as i64),
            witnessed: true,
            change,
        },
        uid: "u".into(),
        project: "p".into(),
        destination: "https://kubernetes.default.svc".into(),
    }
}

fn drifting(version: u64) -> Change {
    Change::Drifting {
        id: format!("u-{version}"),
        state: AppState::default(),
        resources: vec![],
    }
}

fn stored(record: &Record, rv: &str) -> Stored {
    let app = AppKey::new("argocd", "a");
    let mut object = model::to_object(&app, record);
    object["metadata"]["resourceVersion"] = rv.into();
    Stored {
        name: object_name(&app),
        resource_version: rv.into(),
        object,
    }
}

#[test]
fn nothing_is_written_before_the_records_are_listed() {
    let h = history();
    h.turn(turn(5, drifting(5)));
    let mut state = h.lock();
    assert_eq!(state.next_ready(Instant::now()), None);
    drop(state);
    h.sink().replace(vec![], t(0));
    let mut state = h.lock();
    let app = state.next_ready(Instant::now()).unwrap();
    let plan = state.plan(&app, &h.shared.settings, t(10)).expect("a plan");
    assert!(matches!(plan.write, Write::Create));
    assert_eq!(
        plan.outcomes[..]
            .iter()
            .map(|(o, _)| *o)
            .collect::<Vec<_>>(),
        [Outcome::Opened]
    );
}

#[test]
fn answers_include_what_is_not_stored_yet() {
    let h = history();
    h.sink().replace(vec![], t(0));
    h.turn(turn(5, drifting(5)));
    let app = AppKey::new("argocd", "a");
    let current = h.current(&app).unwrap().unwrap();
    assert_eq!(current.since, Some(t(5)));
    let view = h.view(&app, &Page::default(), t(10));
    assert_eq!(view.record.state, RecordState::Pending);
    assert_eq!(view.record.pending_writes, 1);
    assert_eq!(view.episodes.len(), 1);
}

#[test]
fn an_unreadable_record_is_reported_and_blocks_writes_until_it_changes() {
    let h = history();
    let app = AppKey::new("argocd", "a");
    let mut bad = stored(&Record::default(), "7");
    bad.object["status"] = serde_json::json!({"episodes": "garbage"});
    h.sink().replace(vec![bad], t(0));
    h.turn(turn(9, drifting(9)));
    assert_eq!(h.current(&app), None, "history cannot say");
    let view = h.view(&app, &Page::default(), t(10));
    assert_eq!(view.record.state, RecordState::Invalid);
    assert!(view.record.message.unwrap().starts_with("status:"));
    let mut state = h.lock();
    let ready = state.next_ready(Instant::now()).unwrap();
    assert!(state.plan(&ready, &h.shared.settings, t(10)).is_none());
    state.in_flight.remove(&ready);
    assert!(state.blocked.contains(&app));
    // Fixed by hand: writing resumes.
    state.hold(stored(&Record::default(), "8"), &h.shared.metrics);
    assert!(!state.blocked.contains(&app));
    assert_eq!(state.next_ready(Instant::now()), Some(app));
}

#[test]
fn an_older_event_does_not_replace_a_newer_write() {
    let h = history();
    let app = AppKey::new("argocd", "a");
    let mut newer = Record::default();
    newer.apply(&turn(5, drifting(5)).observation);
    let mut state = h.lock();
    state.hold(stored(&newer, "20"), &h.shared.metrics);
    state.hold(stored(&Record::default(), "19"), &h.shared.metrics);
    let held = state.stored.get(&app).expect("held");
    assert_eq!(held.record.digest().episodes, 1);
}

#[test]
fn closes_for_apps_without_a_record_are_not_queued() {
    let h = history();
    let in_sync = || Change::InSync {
        state: AppState::default(),
    };
    // Seen Synced before the records were read: queued, then dropped once they are.
    h.turn(turn(3, in_sync()));
    assert_eq!(h.lock().pending_count, 1);
    h.sink().replace(vec![], t(0));
    assert_eq!(h.lock().pending_count, 0);
    h.turn(turn(4, in_sync()));
    assert_eq!(h.lock().pending_count, 0, "nothing to end");
    h.turn(turn(5, drifting(5)));
    h.turn(turn(6, in_sync()));
    assert_eq!(h.lock().pending_count, 2, "this one ends an episode");
}

#[test]
fn a_list_taken_page_by_page_forgets_what_it_did_not_contain() {
    let h = history();
    let sink = h.sink();
    let mut one = Record::default();
    one.apply(&turn(5, drifting(5)).observation);
    sink.list_page(vec![stored(&one, "10")], t(0));
    sink.list_end(t(0));
    assert!(h.current(&AppKey::new("argocd", "a")).unwrap().is_some());
    sink.list_page(vec![], t(1));
    sink.list_end(t(1));
    assert_eq!(h.current(&AppKey::new("argocd", "a")), Some(None), "gone");
}

#[test]
fn an_observation_queued_while_a_full_queue_is_written_is_not_lost() {
    let h = history();
    h.sink().replace(vec![], t(0));
    let app = AppKey::new("argocd", "a");
    for v in 1..=MAX_PENDING_PER_APP as u64 {
        h.turn(turn(v, drifting(v)));
    }
    let mut state = h.lock();
    let ready = state.next_ready(Instant::now()).unwrap();
    let plan = state.plan(&ready, &h.shared.settings, t(0)).unwrap();
    assert_eq!(plan.applied, MAX_PENDING_PER_APP);
    drop(state);
    // While that write is in flight, one more: the full queue drops its oldest.
    h.turn(turn(5000, drifting(5000)));
    h.done(&app, plan, None);
    let state = h.lock();
    let left = state.pending.get(&app).map_or(0, VecDeque::len);
    assert_eq!(
        left, 1,
        "the observation made after the write began is still pending"
    );
    assert_eq!(state.pending_count, 1);
}

#[test]
fn labels_are_kept_only_for_apps_with_something_to_record() {
    let h = history();
    h.sink().replace(vec![], t(0));
    let in_sync = Change::InSync {
        state: AppState::default(),
    };
    // An app seen Synced that never drifted: nothing kept.
    h.turn(turn(3, in_sync));
    assert!(h.lock().labels.is_empty());
    // A drifting one: kept while its observation waits.
    h.turn(turn(4, drifting(4)));
    assert_eq!(h.lock().labels.len(), 1);
    // Its record deleted (by retention, or by hand) with nothing pending: forgotten.
    let app = AppKey::new("argocd", "a");
    let mut state = h.lock();
    state.pending.remove(&app);
    state.pending_count = 0;
    state.hold(stored(&Record::default(), "9"), &h.shared.metrics);
    state.forget(&object_name(&app));
    assert!(state.labels.is_empty());
}

#[test]
fn backoff_doubles_to_its_cap() {
    assert_eq!(backoff(0), BACKOFF_MIN);
    assert_eq!(backoff(2), BACKOFF_MIN * 4);
    assert_eq!(backoff(30), BACKOFF_MAX);
}

#[test]
fn the_echo_of_its_own_write_is_recognized_before_it_is_read() {
    let h = history();
    h.sink().replace(vec![], t(0));
    h.turn(turn(5, drifting(5)));
    let app = AppKey::new("argocd", "a");
    let mut state = h.lock();
    let ready = state.next_ready(Instant::now()).unwrap();
    let plan = state.plan(&ready, &h.shared.settings, t(10)).unwrap();
    drop(state);
    let name = object_name(&app);
    let written = crate::cluster::Written {
        name: name.clone(),
        resource_version: "7".into(),
    };
    h.done(&app, plan, Some(written));
    let sink = h.sink();
    // The watch's event for that write is dropped unread; any other version is read.
    assert!(sink.holds(&name, "7"));
    assert!(!sink.holds(&name, "8"));
    assert!(!sink.holds("argocd.other", "7"));
    // What the write stored is what is read: the episode it opened, at the written version.
    assert!(h.current(&app).unwrap().is_some());
    assert_eq!(h.lock().pending_count, 0);
}
