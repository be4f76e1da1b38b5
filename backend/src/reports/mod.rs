//! External drift reports, held by the Kubernetes API: one `DriftReport` custom resource per
//! `repo:server` in `POD_NAMESPACE`.
//!
//! ```text
//!  POST ─▶ handlers::reports ─▶ ReportWriter ──create/replace (resourceVersion)──▶ API server
//!                                   │  heartbeat: ack from memory, write within            │
//!                                   ▼  REPORT_HEARTBEAT_WRITE_SECONDS                      │ watch
//!  GET /status.json ◀── ReportStore (every replica: the watch + its own writes) ◀──────────┘
//! ```
//!
//! - [`ReportStore`]: what this replica serves. Fed by the watch of the custom resources (so
//!   every replica serves every report, whoever wrote it — a reporter with `kubectl` included)
//!   and by this replica's own writes (so a reporter reads its write at once). It keeps the
//!   heartbeats acknowledged but not yet written, and a rendered `/status.json`.
//! - [`ReportWriter`]: ingest and delete with optimistic concurrency. A report whose content
//!   changed is written before the answer; two writers of one key resolve by resourceVersion:
//!   the loser re-reads, and the newer `last_check` wins. Heartbeats are written behind; a crash
//!   loses at most that much freshness, never a status change. It also deletes expired reports.
//!
//! The rules (validation, names, precedence, freshness, views) are `drift_core::reports`.

mod store;
mod writer;

pub use store::{Current, ReportStore};
pub use writer::{ReportWriter, WriteFailure};

use std::time::Duration;

/// The `DriftReport` kind.
pub const DRIFT_REPORTS: crate::cluster::OwnKind = crate::cluster::OwnKind {
    kind: drift_core::reports::resource::KIND,
    plural: drift_core::reports::resource::PLURAL,
};

/// How long reports stay fresh and stored, and how far behind heartbeats may be written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timing {
    /// `REPORT_STALE_AFTER_SECONDS`
    pub stale_after: Duration,
    /// `REPORT_EXPIRE_AFTER_SECONDS`
    pub expire_after: Duration,
    /// `REPORT_HEARTBEAT_WRITE_SECONDS`
    pub heartbeat_write: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            stale_after: Duration::from_secs(3600),
            expire_after: Duration::from_secs(7 * 24 * 3600),
            heartbeat_write: Duration::from_secs(60),
        }
    }
}
