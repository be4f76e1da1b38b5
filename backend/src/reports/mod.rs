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
//! - [`ReportWriter`]: ingest and delete with optimistic concurrency, within [`Limits`]. A report
//!   whose content changed is written before the answer, unless its last change was written
//!   within [`Limits::content_write`]: then it is queued (served at once) and written when that
//!   interval ends, so one reporter cannot turn the API server's storage into a firehose. Two
//!   writers of one key resolve by resourceVersion: the loser re-reads, and the newer
//!   `last_check` wins. Heartbeats are written behind; a crash loses at most that much
//!   freshness. It also deletes expired reports.
//!
//! The rules (validation, names, precedence, freshness, views) are `drift_core::reports`.

mod store;
mod writer;

pub use store::{Current, Held, ReportStore, Usage};
pub use writer::{ReportWriter, Sender, WriteFailure};

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

/// What the stored reports may hold, so that one reporter token cannot fill the memory of every
/// replica (each holds every report) or the API server's storage.
///
/// Counted by [`Report::weight`](drift_core::reports::model::Report::weight) over the stored
/// objects. A token's line in the token file may set its own `reports=` and `bytes=`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// `REPORTS_MAX_TOTAL`: reports held in all.
    pub total_reports: usize,
    /// `REPORTS_MAX_TOTAL_BYTES`
    pub total_bytes: usize,
    /// `REPORTS_PER_TOKEN_MAX`: reports one token may hold, unless its line says `reports=`.
    pub per_token_reports: usize,
    /// `REPORTS_PER_TOKEN_MAX_BYTES`, unless its line says `bytes=`.
    pub per_token_bytes: usize,
    /// `REPORT_CONTENT_WRITE_SECONDS`: the least time between two written changes of one report.
    pub content_write: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            total_reports: 5000,
            total_bytes: 48 << 20,
            per_token_reports: 500,
            per_token_bytes: 8 << 20,
            content_write: Duration::from_secs(10),
        }
    }
}

/// A size in bytes from the environment or a token file: `4194304`, `512Ki`, `8Mi`, `1Gi`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ByteSize(pub usize);

impl std::str::FromStr for ByteSize {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (digits, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
            Some(at) => text.split_at(at),
            None => (text, ""),
        };
        let invalid = || format!("{text:?} is not a size such as 4194304, 512Ki or 8Mi");
        let n: usize = digits.parse().map_err(|_| invalid())?;
        let unit: usize = match unit {
            "" => 1,
            "Ki" => 1 << 10,
            "Mi" => 1 << 20,
            "Gi" => 1 << 30,
            _ => return Err(invalid()),
        };
        n.checked_mul(unit).map(ByteSize).ok_or_else(invalid)
    }
}
