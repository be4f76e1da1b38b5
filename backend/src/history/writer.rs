//! The writer: one task that takes the index's turns off their channel, and stores each app's
//! pending observations — read-modify-write until it sticks, fails, or needs no write — at most
//! [`WRITE_CONCURRENCY`] apps at once. It also runs the sweep, the unseen-deletion check and
//! the gauges on their timers.
//!
//! [`EdgeStored`] is the one moment a stored episode start or end is known: the write that stored
//! it has been accepted. That is where metrics count episodes, and where anything else that must
//! happen once per edge — by the replica whose write stored it — hooks in ([`Edges`]).

use super::{History, Turn, lock};
use crate::cluster::{OwnResources, Stored, WriteError, Written};
use crate::index::AppIndex;
use drift_core::app::AppKey;
use drift_core::history::Record;
use drift_core::history::model::{self, EndCause, Episode, object_name};
use drift_core::history::rules::{Change, Observation, Outcome, episode_id};
use drift_core::history::version::version_cmp;
use std::cmp::{Ordering, Reverse};
use std::collections::VecDeque;
use std::time::Duration;
use tokio::task::JoinSet;
use tokio::time::Instant;

/// Apps written at once.
const WRITE_CONCURRENCY: usize = 8;
/// Re-reads after conflicts before backing off (another replica writing the same app as fast).
const CONFLICT_RETRIES: usize = 10;
pub(super) const BACKOFF_MIN: Duration = Duration::from_millis(250);
pub(super) const BACKOFF_MAX: Duration = Duration::from_secs(30);
/// How often the drifting gauges are brought up to date.
const GAUGE_EVERY: Duration = Duration::from_secs(2);
/// Turns taken off the channel at once.
const TURN_BATCH: usize = 512;

/// A stored episode edge: the write that stored it was accepted by the API server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EdgeStored {
    /// An episode started.
    Started {
        app: AppKey,
        project: String,
        /// The episode as stored (`None`: retention dropped it in the same write).
        episode: Option<Episode>,
    },
    /// An episode ended, and how.
    Ended {
        app: AppKey,
        project: String,
        cause: EndCause,
        episode: Option<Episode>,
    },
}

/// Told of every [`EdgeStored`], after the write that stored it.
pub trait Edges: Send + Sync + 'static {
    fn stored(&self, edge: &EdgeStored);
}

/// One write: what to send, how many pending observations it carries, and what they did.
pub(super) struct Plan {
    pub(super) write: Write,
    /// The record the write stores.
    pub(super) record: Record,
    pub(super) applied: usize,
    /// What each observation did, with its version (where the edge it stored sits).
    pub(super) outcomes: Vec<(Outcome, String)>,
}

pub(super) enum Write {
    /// The observations change nothing stored.
    Nothing,
    Create,
    /// Replace the object read at `resource_version`.
    Replace {
        resource_version: String,
    },
    /// Retention left the record empty.
    Delete {
        resource_version: String,
    },
}

impl History {
    /// Takes turns and writes pending observations until the process stops: the writer. Also
    /// prunes every record each sweep interval and keeps the drifting gauges current.
    pub async fn run(self, resources: OwnResources, index: AppIndex) {
        let Some(mut turns) = lock(&self.shared.turns_rx).take() else {
            tracing::error!("the drift history writer was started twice");
            return;
        };
        let mut tasks: JoinSet<()> = JoinSet::new();
        let every = self.shared.settings.sweep_every;
        // The first sweep after the records are read (a tick at once would find none).
        let mut sweep =
            tokio::time::interval_at(Instant::now() + every.min(Duration::from_secs(60)), every);
        sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut gauges = tokio::time::interval(GAUGE_EVERY);
        gauges.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut batch: Vec<Turn> = Vec::with_capacity(TURN_BATCH);
        loop {
            while tasks.len() < WRITE_CONCURRENCY {
                let Some(app) = self.lock().next_ready(Instant::now()) else {
                    break;
                };
                tasks.spawn(self.clone().store(app, resources.clone()));
            }
            let retry = self.lock().next_retry();
            tokio::select! {
                n = turns.recv_many(&mut batch, TURN_BATCH) => {
                    if n == 0 {
                        // Every sender is gone: the process is stopping.
                        std::future::pending::<()>().await;
                    }
                    let mut state = self.lock();
                    for turn in batch.drain(..) {
                        state.take_turn(turn);
                    }
                    self.after_push(state);
                }
                _ = self.shared.wake.notified() => {}
                Some(done) = tasks.join_next(), if !tasks.is_empty() => {
                    if let Err(error) = done {
                        tracing::error!(%error, "a drift history write failed unexpectedly");
                    }
                }
                _ = sleep_until(retry) => {}
                _ = sweep.tick() => self.sweep(crate::clock::now()),
                _ = gauges.tick() => {
                    let now = crate::clock::now();
                    self.end_unseen_deletions(&index, now);
                    self.update_gauges(now);
                }
            }
        }
    }

    /// Stores one app's pending observations: read-modify-write until it sticks, fails, or
    /// needs no write.
    async fn store(self, app: AppKey, resources: OwnResources) {
        let mut attempt = 0;
        let result = loop {
            attempt += 1;
            let Some(plan) = self
                .lock()
                .plan(&app, &self.shared.settings, crate::clock::now())
            else {
                break Ok(());
            };
            // Serialized straight from the record, off the state's lock; of the answer only the
            // new version is read.
            let body = |resource_version: Option<&str>| {
                model::to_request_body(
                    &app,
                    &plan.record,
                    &resources.api_version(),
                    resources.namespace(),
                    resource_version,
                )
            };
            let written = match &plan.write {
                Write::Nothing => Ok(None),
                Write::Create => resources.create_json(body(None)).await.map(Some),
                Write::Replace { resource_version } => resources
                    .replace_json(&object_name(&app), body(Some(resource_version)))
                    .await
                    .map(Some),
                Write::Delete { resource_version } => resources
                    .delete(&object_name(&app), resource_version)
                    .await
                    .map(|()| None),
            };
            match written {
                Ok(stored) => {
                    self.done(&app, plan, stored);
                    break Ok(());
                }
                Err(WriteError::Conflict | WriteError::AlreadyExists | WriteError::NotFound)
                    if attempt < CONFLICT_RETRIES =>
                {
                    self.shared.metrics.history_write_error("conflict");
                    match resources.get(&object_name(&app)).await {
                        Ok(fresh) => self.refresh(&app, fresh),
                        Err(error) => break Err(error),
                    }
                }
                Err(error) => break Err(error),
            }
        };
        let mut state = self.lock();
        state.in_flight.remove(&app);
        state.dropped_in_flight.remove(&app);
        match result {
            Ok(()) => {
                state.failures.remove(&app);
                state.requeue_if_pending(&app);
            }
            Err(error) => {
                let (failures, _) = state.failures.get(&app).cloned().unwrap_or_default();
                let delay = backoff(failures);
                let reason = match &error {
                    WriteError::Invalid(_) => "invalid",
                    WriteError::Forbidden(_) => "forbidden",
                    WriteError::Unreachable(_) => "unreachable",
                    _ => "conflict",
                };
                tracing::warn!(
                    app = %app,
                    name = %object_name(&app),
                    %error,
                    pending = state.pending.get(&app).map_or(0, VecDeque::len),
                    retry_in_ms = delay.as_millis() as u64,
                    "cannot store drift history; keeping it in memory and retrying"
                );
                self.shared.metrics.history_write_error(reason);
                state
                    .failures
                    .insert(app.clone(), (failures.saturating_add(1), error.to_string()));
                let at = Instant::now() + delay;
                state.retry_at.insert(app.clone(), at);
                state.delayed.push(Reverse((at, app.clone())));
            }
        }
        state.publish(&app);
        let pending = state.pending_total();
        drop(state);
        self.shared.metrics.set_history_pending(pending);
        self.shared.wake.notify_one();
    }

    /// A write stuck: what it stored replaces the held record, the observations it carried are
    /// done, and the edges it stored are told.
    pub(super) fn done(&self, app: &AppKey, plan: Plan, stored: Option<Written>) {
        let mut state = self.lock();
        let dropped = state.dropped_in_flight.remove(app).unwrap_or(0);
        if let Some(queue) = state.pending.get_mut(app) {
            let done = plan.applied.saturating_sub(dropped).min(queue.len());
            queue.drain(..done);
            if queue.is_empty() {
                state.pending.remove(app);
            }
            state.pending_count -= done;
        }
        match stored {
            // What was written is what is stored (the schema declares every field): held as
            // planned, at the version the API server gave it, without reading the answer again.
            Some(stored) => {
                state.hold_written(app, stored.name, stored.resource_version, &plan.record)
            }
            None if matches!(plan.write, Write::Delete { .. }) => {
                state.forget(&object_name(app));
            }
            None => {}
        }
        state.publish(app);
        let project = state
            .labels
            .get(app)
            .map_or_else(String::new, |(p, _)| p.clone());
        state.drop_labels_if_unused(app);
        drop(state);
        if matches!(plan.write, Write::Nothing) {
            return;
        }
        self.shared.metrics.history_write();
        // The edge-stored moment: this replica's write stored these starts and ends.
        let edges = lock(&self.shared.edges).clone();
        for (outcome, version) in &plan.outcomes {
            let edge = match outcome {
                Outcome::Opened => EdgeStored::Started {
                    app: app.clone(),
                    project: project.clone(),
                    episode: edges.as_ref().and_then(|_| {
                        plan.record
                            .episodes
                            .iter()
                            .find(|e| e.start.version == *version)
                            .cloned()
                    }),
                },
                Outcome::Closed(cause) => EdgeStored::Ended {
                    app: app.clone(),
                    project: project.clone(),
                    cause: *cause,
                    // Always: its duration is a metric.
                    episode: plan
                        .record
                        .episodes
                        .iter()
                        .find(|e| e.end.as_ref().is_some_and(|end| end.version == *version))
                        .cloned(),
                },
                Outcome::Revised | Outcome::Unchanged => continue,
            };
            match &edge {
                EdgeStored::Started { project, .. } => self.shared.metrics.episode_started(project),
                EdgeStored::Ended {
                    project,
                    cause,
                    episode,
                    ..
                } => {
                    self.shared.metrics.episode_ended(project, cause.as_str());
                    if let Some(end) = episode
                        .as_ref()
                        .and_then(|e| Some((e.start.at, e.end.as_ref()?.at)))
                    {
                        let seconds = end.1.duration_since(end.0).as_secs_f64().max(0.0);
                        self.shared
                            .metrics
                            .episode_duration(cause.as_str(), seconds);
                    }
                }
            }
            if let Some(edges) = &edges {
                edges.stored(&edge);
            }
        }
        tracing::debug!(app = %app, outcomes = ?plan.outcomes, "drift history stored");
    }

    /// The record as the API server has it now (after a conflict).
    fn refresh(&self, app: &AppKey, fresh: Option<Stored>) {
        let mut state = self.lock();
        match fresh {
            Some(stored) => state.hold(stored, &self.shared.metrics),
            None => state.forget(&object_name(app)),
        }
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

pub(super) fn backoff(failures: u32) -> Duration {
    BACKOFF_MIN
        .saturating_mul(1u32 << failures.min(10))
        .min(BACKOFF_MAX)
}

/// Applies one observation seen on the app of uid `uid` (empty: unknown). An episode under way
/// whose id names another uid belonged to an app of the same name deleted while nobody watched:
/// it ends first, as `appDeleted` and not witnessed, at this version — and a turn to Synced of
/// the new app then has nothing to end.
pub(super) fn apply_seen(
    record: &mut Record,
    obs: &Observation,
    uid: &str,
    outcomes: &mut Vec<(Outcome, String)>,
) {
    if !uid.is_empty()
        && !matches!(obs.change, Change::Deleted)
        && let Some(open) = record.open()
        && !of_uid(&open.id, uid)
        && version_cmp(&obs.version, &open.start.version) == Ordering::Greater
    {
        let gone = Observation {
            witnessed: false,
            change: Change::Deleted,
            ..obs.clone()
        };
        outcomes.push((record.apply(&gone), obs.version.clone()));
        if matches!(obs.change, Change::InSync { .. }) {
            return;
        }
    }
    outcomes.push((record.apply(obs), obs.version.clone()));
}

/// Whether an episode id was given on the app of uid `uid` (ids are `<uid prefix>-<version>`).
pub(super) fn of_uid(id: &str, uid: &str) -> bool {
    id.starts_with(&episode_id(uid, ""))
}
