//! One supervisor for every long-lived task.
//!
//! Every task that must run for as long as the process serves — each watch, the history
//! recorder, the enrichment pass, the report writer's maintenance (heartbeats and expiry), the
//! token reloads, each port's accept loop — is spawned into one [`Tasks`] set under a name. None
//! of them ends on its own: when one does (returns or panics), [`Tasks::ended`] yields a
//! [`Fatal`] naming it, counts it in `argocd_drift_task_exits_total{task, how}` and logs it, and
//! the server stops being ready, drains and exits non-zero, so the kubelet restarts the pod
//! rather than letting it serve frozen data or ignore rotated tokens while `/readyz` says 200.
//!
//! Tests make any task fail through [`Faults`] (a hook that is off unless a test asks for it).

use crate::metrics::Metrics;
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use tokio::sync::watch;
use tokio::task::{Id, JoinSet};
use tracing::Instrument;

/// Why the server stopped other than by a clean shutdown.
#[derive(Debug, thiserror::Error)]
pub enum Fatal {
    /// A supervised task returned, which none should do before shutdown.
    #[error("the task {task} ended unexpectedly")]
    TaskReturned { task: String },
    /// A supervised task panicked.
    #[error("the task {task} panicked: {message}")]
    TaskPanicked { task: String, message: String },
    /// A second shutdown signal arrived while draining.
    #[error("a second shutdown signal arrived; in-flight requests were cut short")]
    Aborted,
}

impl Fatal {
    /// The supervised task that ended, if that is the cause.
    pub fn task(&self) -> Option<&str> {
        match self {
            Fatal::TaskReturned { task } | Fatal::TaskPanicked { task, .. } => Some(task),
            Fatal::Aborted => None,
        }
    }
}

/// How a test makes a task fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultKind {
    /// The task returns.
    Return,
    /// The task panics.
    Panic,
}

/// A test hook: makes a named supervised task end. Cheap to clone.
#[derive(Clone)]
pub struct Faults {
    fail: watch::Sender<Option<(String, FaultKind)>>,
    names: Arc<Mutex<Vec<String>>>,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            fail: watch::channel(None).0,
            names: Arc::default(),
        }
    }
}

impl Faults {
    /// Makes the supervised task `task` end the way `kind` says.
    pub fn fail(&self, task: &str, kind: FaultKind) {
        self.fail.send_replace(Some((task.to_string(), kind)));
    }

    /// The names of the tasks supervised so far.
    pub fn task_names(&self) -> Vec<String> {
        lock(&self.names).clone()
    }
}

/// The supervised tasks. Dropping the set aborts them all.
pub struct Tasks {
    set: JoinSet<()>,
    names: HashMap<Id, String>,
    metrics: Arc<Metrics>,
    faults: Option<Faults>,
}

impl Tasks {
    pub fn new(metrics: Arc<Metrics>, faults: Option<Faults>) -> Self {
        Tasks {
            set: JoinSet::new(),
            names: HashMap::new(),
            metrics,
            faults,
        }
    }

    /// Spawns `task` under `name` (e.g. `watch applications/argocd`), inside a span of that name.
    pub fn spawn<F>(&mut self, name: impl Into<String>, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let name = name.into();
        let span = tracing::info_span!("task", task = %name);
        let id = match &self.faults {
            None => self.set.spawn(task.instrument(span)).id(),
            Some(faults) => {
                lock(&faults.names).push(name.clone());
                let fault = injected(faults.fail.subscribe(), name.clone());
                self.set
                    .spawn(
                        async move {
                            tokio::select! {
                                () = task => {}
                                kind = fault => match kind {
                                    FaultKind::Return => {}
                                    FaultKind::Panic => panic!("injected fault"),
                                },
                            }
                        }
                        .instrument(span),
                    )
                    .id()
            }
        };
        self.names.insert(id, name);
    }

    /// The names of the running tasks, sorted.
    pub fn names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.names.values().map(String::as_str).collect();
        names.sort_unstable();
        names
    }

    /// Resolves when a task ends (they run until shutdown, so any end is fatal), after counting
    /// and logging it. Never resolves while every task runs, or when there are none.
    pub async fn ended(&mut self) -> Fatal {
        let Some(joined) = self.set.join_next_with_id().await else {
            return std::future::pending().await;
        };
        let (id, fatal) = match joined {
            Ok((id, ())) => (id, |task| Fatal::TaskReturned { task }),
            Err(error) => {
                let message = panic_message(&error);
                let id = error.id();
                let task = self
                    .names
                    .remove(&id)
                    .unwrap_or_else(|| format!("task {id}"));
                return self.report(Fatal::TaskPanicked { task, message }, "panicked");
            }
        };
        let task = self
            .names
            .remove(&id)
            .unwrap_or_else(|| format!("task {id}"));
        self.report(fatal(task), "returned")
    }

    /// Stops every task and waits for them to end (the end of a shutdown).
    pub async fn shutdown(&mut self) {
        self.set.shutdown().await;
        self.names.clear();
    }

    fn report(&self, fatal: Fatal, how: &'static str) -> Fatal {
        let task = fatal.task().unwrap_or_default();
        self.metrics.task_exited(task, how);
        tracing::error!(task, how, error = %fatal, "a supervised task ended; stopping");
        fatal
    }
}

/// Resolves when the hook asks `name` to fail.
async fn injected(
    mut fail: watch::Receiver<Option<(String, FaultKind)>>,
    name: String,
) -> FaultKind {
    loop {
        if let Some((task, kind)) = fail.borrow_and_update().as_ref()
            && *task == name
        {
            return *kind;
        }
        if fail.changed().await.is_err() {
            return std::future::pending().await;
        }
    }
}

fn panic_message(error: &tokio::task::JoinError) -> String {
    if error.is_cancelled() {
        return "cancelled".to_string();
    }
    // The payload is not reachable by reference through JoinError; its Display names the panic.
    error.to_string()
}

// Held only to push or clone names; a poisoned lock still holds a consistent list.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_task_that_returns_or_panics_is_named_and_counted() {
        let metrics = Arc::new(Metrics::new());
        let faults = Faults::default();
        let mut tasks = Tasks::new(Arc::clone(&metrics), Some(faults.clone()));
        tasks.spawn("forever a", std::future::pending());
        tasks.spawn("forever b", std::future::pending());
        assert_eq!(tasks.names(), ["forever a", "forever b"]);
        faults.fail("forever b", FaultKind::Panic);
        let fatal = tasks.ended().await;
        assert!(matches!(&fatal, Fatal::TaskPanicked { task, .. } if task == "forever b"));
        faults.fail("forever a", FaultKind::Return);
        let fatal = tasks.ended().await;
        assert!(matches!(&fatal, Fatal::TaskReturned { task } if task == "forever a"));
        let text = metrics.encode().unwrap();
        assert!(
            text.contains(r#"argocd_drift_task_exits_total{task="forever b",how="panicked"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(r#"argocd_drift_task_exits_total{task="forever a",how="returned"} 1"#)
        );
    }
}
