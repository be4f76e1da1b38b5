//! Exactly once across replicas, as a property of the pure rules.
//!
//! One true history of an app (its versions: Synced / OutOfSync / Unknown, operations run,
//! revisions moved, maybe a deletion) is watched by replica W from the start without a gap, and
//! by other replicas that start late, go blind for spells (then relist: what they find is a
//! sighting, not a witnessed turn) and may stop early. Each replica turns what it sees into
//! observations exactly as the backend does (`observe`, `observe_deletion`); the observations
//! of all replicas are then applied to one record in a random interleaving that keeps each
//! replica's own order — what optimistic writes with re-read-and-retry amount to. The record
//! must be exactly the one W alone would have written: no episode twice, none lost, the same
//! starts, ends and causes.
#![allow(clippy::unwrap_used)]

use drift_core::app::fixtures::{mk_app, with_sync};
use drift_core::app::{InitiatedBy, Operation, OperationState};
use drift_core::history::Record;
use drift_core::history::fixtures::t;
use drift_core::history::packed::PackedRecord;
use drift_core::history::rules::{Observation, observe, observe_deletion};
use drift_core::tracking::{IndexedApp, ObjectVersion};
use proptest::prelude::*;

/// One version of the app in the true history.
#[derive(Clone, Debug)]
struct Step {
    sync: u8,                    // 0 Synced, 1 OutOfSync, 2 Unknown
    new_operation: Option<bool>, // Some(automated)
    new_revision: bool,
}

fn steps() -> impl Strategy<Value = Vec<Step>> {
    proptest::collection::vec(
        (
            prop_oneof![3 => Just(0u8), 3 => Just(1u8), 1 => Just(2u8)],
            proptest::option::weighted(0.25, any::<bool>()),
            proptest::bool::weighted(0.2),
        )
            .prop_map(|(sync, new_operation, new_revision)| Step {
                sync,
                new_operation,
                new_revision,
            }),
        1..40,
    )
}

/// The versions of the app, numbered from 10 so versions are not small integers only.
fn versions(steps: &[Step]) -> Vec<IndexedApp> {
    let mut revision = 0;
    let mut operation: Option<(usize, bool)> = None;
    steps
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let sync = ["Synced", "OutOfSync", "Unknown"][s.sync as usize];
            let mut app = with_sync(mk_app("argocd", "app", "p"), sync);
            revision += usize::from(s.new_revision);
            app.status.sync.revision = Some(format!("rev{revision}"));
            if let Some(automated) = s.new_operation {
                operation = Some((i, automated));
            }
            app.status.operation_state = operation.map(|(at, automated)| OperationState {
                phase: Some("Succeeded".into()),
                started_at: Some(format!("op{at}")),
                operation: Operation {
                    initiated_by: InitiatedBy {
                        username: (!automated).then(|| "alice".into()),
                        automated,
                    },
                    sync: None,
                },
                ..Default::default()
            });
            IndexedApp {
                app,
                out_of_sync: None,
                version: ObjectVersion {
                    uid: "9b2f0c1d-aaaa".into(),
                    resource_version: (10 + i).to_string(),
                },
            }
        })
        .collect()
}

/// How a replica other than W watches: from which version, blind over which versions, up to
/// which one.
#[derive(Clone, Debug)]
struct Watcher {
    start: usize,
    blind: Vec<bool>,
    stop: usize,
}

fn watcher(n: usize) -> impl Strategy<Value = Watcher> {
    (
        0..n,
        proptest::collection::vec(proptest::bool::weighted(0.25), n),
        0..=n + 1,
    )
        .prop_map(move |(start, blind, stop)| Watcher {
            start,
            blind,
            stop: stop.max(start + 1),
        })
}

/// What one replica observes. `deleted`: the app is deleted after the last version (the
/// deletion's version is one past it; a relist after it answers one later still).
fn observations(versions: &[IndexedApp], w: &Watcher, deleted: bool) -> Vec<Observation> {
    let n = versions.len();
    let at = |i: usize| t(i as i64 * 10);
    let mut out = Vec::new();
    let mut held: Option<&IndexedApp> = None;
    let mut gap = true; // nothing seen yet: the first sight is not witnessed
    for (i, version) in versions
        .iter()
        .enumerate()
        .take(n.min(w.stop))
        .skip(w.start)
    {
        if w.blind[i] && held.is_some() {
            gap = true;
            continue;
        }
        if let Some(obs) = observe(held, version, at(i), !gap) {
            out.push(obs);
        }
        held = Some(version);
        gap = false;
    }
    if deleted
        && w.stop > n
        && let Some(last) = held
    {
        let (version, witnessed) = if gap || last.version != versions[n - 1].version {
            ((10 + n + 1).to_string(), false) // found gone by a relist
        } else {
            ((10 + n).to_string(), true) // the deletion event
        };
        out.extend(observe_deletion(last, &version, at(n), witnessed));
    }
    out
}

fn apply_all(record: &mut Record, observations: &[Observation]) {
    for o in observations {
        record.apply(o);
        assert_eq!(record.check(), Ok(()), "after {o:?}: {record:#?}");
        // As the backend holds it between writes: packed, and unpacked unchanged.
        let packed = PackedRecord::pack(record);
        assert_eq!(packed.unpack().as_ref(), Some(&*record));
        assert_eq!(packed.digest().open.as_deref(), record.open());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn replicas_in_any_interleaving_record_what_one_full_watcher_would(
        steps in steps(),
        deleted in any::<bool>(),
        others in proptest::collection::vec(watcher(40), 1..3),
        order in proptest::collection::vec(any::<u16>(), 200),
    ) {
        let versions = versions(&steps);
        let n = versions.len();
        let full = Watcher { start: 0, blind: vec![false; n], stop: n + 1 };
        let mine = observations(&versions, &full, deleted);
        let mut alone = Record::default();
        apply_all(&mut alone, &mine);

        let mut queues: Vec<Vec<Observation>> = vec![mine];
        for w in &others {
            let w = Watcher { blind: w.blind[..n].to_vec(), start: w.start % n, stop: w.stop.min(n + 1) };
            queues.push(observations(&versions, &w, deleted));
        }
        let mut merged = Record::default();
        let mut next = vec![0usize; queues.len()];
        let mut choice = order.iter().cycle();
        while next.iter().zip(&queues).any(|(i, q)| *i < q.len()) {
            let ready: Vec<usize> = (0..queues.len()).filter(|&q| next[q] < queues[q].len()).collect();
            let q = ready[usize::from(*choice.next().unwrap()) % ready.len()];
            apply_all(&mut merged, &queues[q][next[q]..=next[q]]);
            next[q] += 1;
        }
        prop_assert_eq!(merged, alone);
    }

    #[test]
    fn without_a_full_watcher_the_record_is_still_well_formed(
        steps in steps(),
        deleted in any::<bool>(),
        watchers in proptest::collection::vec(watcher(40), 1..4),
        order in proptest::collection::vec(any::<u16>(), 200),
    ) {
        let versions = versions(&steps);
        let n = versions.len();
        let queues: Vec<Vec<Observation>> = watchers
            .iter()
            .map(|w| {
                let w = Watcher { blind: w.blind[..n].to_vec(), start: w.start % n, stop: w.stop.min(n + 1) };
                observations(&versions, &w, deleted)
            })
            .collect();
        let mut record = Record::default();
        let mut next = vec![0usize; queues.len()];
        let mut choice = order.iter().cycle();
        while next.iter().zip(&queues).any(|(i, q)| *i < q.len()) {
            let ready: Vec<usize> = (0..queues.len()).filter(|&q| next[q] < queues[q].len()).collect();
            let q = ready[usize::from(*choice.next().unwrap()) % ready.len()];
            apply_all(&mut record, &queues[q][next[q]..=next[q]]);
            next[q] += 1;
        }
        // `apply_all` checked every invariant after every step.
        prop_assert!(record.episodes.len() <= n);
    }
}
