//! Readiness as the conjunction of named sources.
//!
//! Each thing the process must have before it can answer correctly — the first list of
//! Applications in each watched namespace, and later the project's own custom resources and
//! Argo CD's settings — registers a [`Source`] that starts *waiting*. `/readyz` is ready when
//! every source is, and otherwise says which ones it waits for and why (typically an RBAC refusal
//! of the first list, in the API server's own words).
//!
//! A source that was ready stays ready through later failures: stale data is still served, and
//! marked stale, rather than taking the pod out of its Service.

use std::sync::{Arc, Mutex, MutexGuard};

/// The registry. Cheap to clone.
#[derive(Clone, Default)]
pub struct Readiness {
    sources: Arc<Mutex<Vec<Entry>>>,
}

struct Entry {
    name: String,
    ready: bool,
    /// Why it is not ready yet (the last failure), if known.
    why: Option<String>,
}

/// One source's handle, held by whatever makes it ready.
#[derive(Clone)]
pub struct Source {
    readiness: Readiness,
    id: usize,
}

impl Readiness {
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a source, not ready yet. `name` says what is awaited, e.g.
    /// `applications in namespace argocd`.
    pub fn source(&self, name: impl Into<String>) -> Source {
        let mut sources = self.lock();
        sources.push(Entry {
            name: name.into(),
            ready: false,
            why: None,
        });
        Source {
            readiness: self.clone(),
            id: sources.len() - 1,
        }
    }

    pub fn is_ready(&self) -> bool {
        self.lock().iter().all(|s| s.ready)
    }

    /// What is not ready, each as `name (why)`; empty when ready.
    pub fn waiting_for(&self) -> Vec<String> {
        self.lock()
            .iter()
            .filter(|s| !s.ready)
            .map(|s| match &s.why {
                Some(why) => format!("{} ({why})", s.name),
                None => format!("{} (starting)", s.name),
            })
            .collect()
    }

    // Held only for vector updates that cannot panic; a poisoned lock still has consistent data.
    fn lock(&self) -> MutexGuard<'_, Vec<Entry>> {
        self.sources
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Source {
    pub fn ready(&self) {
        self.update(|e| {
            e.ready = true;
            e.why = None;
        });
    }

    /// A failure while not yet ready: remembered as the reason. Once ready, ignored.
    pub fn failed(&self, why: impl Into<String>) {
        let why = why.into();
        self.update(|e| {
            if !e.ready {
                e.why = Some(why);
            }
        });
    }

    fn update(&self, f: impl FnOnce(&mut Entry)) {
        if let Some(entry) = self.readiness.lock().get_mut(self.id) {
            f(entry);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_only_when_every_source_is_and_says_what_it_waits_for() {
        let readiness = Readiness::new();
        assert!(readiness.is_ready(), "nothing to wait for");
        let a = readiness.source("applications in namespace argocd");
        let b = readiness.source("applications in namespace team-a");
        assert!(!readiness.is_ready());
        b.failed("list: 403 Forbidden: applications is forbidden");
        assert_eq!(
            readiness.waiting_for(),
            vec![
                "applications in namespace argocd (starting)".to_string(),
                "applications in namespace team-a (list: 403 Forbidden: applications is forbidden)"
                    .to_string()
            ]
        );
        a.ready();
        b.ready();
        assert!(readiness.is_ready());
        assert!(readiness.waiting_for().is_empty());
    }

    #[test]
    fn a_failure_after_ready_does_not_take_readiness_away() {
        let readiness = Readiness::new();
        let a = readiness.source("x");
        a.ready();
        a.failed("connection refused");
        assert!(readiness.is_ready());
    }
}
