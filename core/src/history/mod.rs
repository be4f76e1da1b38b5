//! Drift memory: each app's drift episodes — when it turned OutOfSync, when and how it came back
//! — which Argo CD does not record (no time on sync-status changes; its Events expire after an
//! hour).
//!
//! - [`model`]: the stored shape, one `DriftHistory` custom resource per app that ever drifted,
//!   and its invariants;
//! - [`rules`]: turns seen on the Application watch, how a record takes them (idempotent, in any
//!   interleaving of replicas), how an episode ended, enrichment from drift verdicts, retention;
//! - [`view`]: `GET /api/v1/history` — pages, cursor, totals;
//! - [`version`]: how Application versions are ordered.
//!
//! Pure like the rest of the crate: time is passed in, the backend does the IO.

pub mod event;
pub mod fleet;
pub mod managers;
pub mod model;
pub mod packed;
pub mod rules;
pub mod version;
pub mod view;

pub use model::{EndCause, Episode, InvalidRecord, Record};
pub use rules::{Change, Observation, Outcome, Retention};

/// Builders for tests (`mk_*`-style), here and in other crates.
#[cfg(any(test, feature = "fixtures"))]
pub mod fixtures {
    use super::model::{End, EndCause, Episode, Start};
    use jiff::Timestamp;

    /// A fixed moment plus `secs`.
    pub fn t(secs: i64) -> Timestamp {
        // Test builders only: 2027 plus the few seconds tests pass is far inside jiff's range.
        Timestamp::from_second(1_800_000_000 + secs).expect("in range")
    }

    /// An episode under way, witnessed from version `version` at `t(at)`.
    pub fn open_episode(version: &str, at: i64) -> Episode {
        Episode {
            id: format!("u-{version}"),
            start: Start {
                at: t(at),
                version: version.to_string(),
                witnessed: true,
                inferred: false,
                revision: Some("abc".into()),
                operation: None,
            },
            end: None,
            resources: Vec::new(),
            detail_trimmed: false,
        }
    }

    /// A witnessed episode ended by alice's manual sync.
    pub fn closed(version: &str, at: i64, end_version: &str, end_at: i64) -> Episode {
        let mut e = open_episode(version, at);
        e.end = Some(End {
            at: t(end_at),
            version: end_version.to_string(),
            witnessed: true,
            cause: EndCause::ManualSync,
            user: Some("alice".into()),
            operation_phase: Some("Succeeded".into()),
            revision: Some("abc".into()),
        });
        e
    }
}
