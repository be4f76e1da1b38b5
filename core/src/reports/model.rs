//! A report and its key, and the limits every report obeys.
//!
//! The limits are the contract with the API server too: the `DriftReport` CRD's schema
//! (`helm/argocd-drift/crds/driftreports.argocd-drift.io.yaml`) states the same bounds, so
//! anything [`parse`](super::parse) accepts, the API server stores (a test keeps the two in step).

use crate::app::AppKey;
use jiff::Timestamp;
use serde::Serialize;
use std::fmt;

/// The longest `repo` and `server`, in bytes (the schema says characters; bytes are stricter).
pub const MAX_KEY_PART_BYTES: usize = 253;
/// The most files one report lists.
pub const MAX_FILES: usize = 1000;
/// The longest file name, in bytes.
pub const MAX_FILE_NAME_BYTES: usize = 1024;
/// The longest diff snippet of one file, in bytes.
pub const MAX_DIFF_BYTES: usize = 16 * 1024;
/// All file names and diff snippets of one report together, in bytes: keeps the stored object
/// well under etcd's 1.5 MiB per object whatever the request body cap is.
pub const MAX_REPORT_BYTES: usize = 512 * 1024;
/// The longest `last_check` text.
pub const MAX_LAST_CHECK_LEN: usize = 64;
/// The largest `drift_count` (the schema's int32 bound).
pub const MAX_DRIFT_COUNT: u64 = i32::MAX as u64;
/// How far in the future `last_check` may be: reporters' clocks drift, but not by hours.
pub const MAX_FUTURE_SKEW_SECONDS: i64 = 300;

/// What a report is about: one repository of configuration on one server. Ordered by repo, then
/// server: the stable order of every list of reports.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ReportKey {
    pub repo: String,
    pub server: String,
}

impl ReportKey {
    pub fn new(repo: impl Into<String>, server: impl Into<String>) -> Self {
        ReportKey {
            repo: repo.into(),
            server: server.into(),
        }
    }
}

/// `repo:server`, as the old server keyed reports. Unambiguous: a repo never contains `:`.
impl fmt::Display for ReportKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.repo, self.server)
    }
}

/// The reporter's verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(rename = "ReportSyncStatus"))]
pub enum SyncStatus {
    #[serde(rename = "SYNCED")]
    Synced,
    #[serde(rename = "OUT_OF_SYNC")]
    OutOfSync,
}

impl SyncStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SyncStatus::Synced => "SYNCED",
            SyncStatus::OutOfSync => "OUT_OF_SYNC",
        }
    }

    pub fn parse(s: &str) -> Option<SyncStatus> {
        match s {
            "SYNCED" => Some(SyncStatus::Synced),
            "OUT_OF_SYNC" => Some(SyncStatus::OutOfSync),
            _ => None,
        }
    }
}

/// How one file differs (richer reports only).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum FileState {
    /// In Git and on the server, with different content.
    Changed,
    /// In Git, not on the server.
    Missing,
    /// On the server, not in Git.
    Extra,
}

impl FileState {
    pub fn as_str(self) -> &'static str {
        match self {
            FileState::Changed => "changed",
            FileState::Missing => "missing",
            FileState::Extra => "extra",
        }
    }

    pub fn parse(s: &str) -> Option<FileState> {
        match s {
            "changed" => Some(FileState::Changed),
            "missing" => Some(FileState::Missing),
            "extra" => Some(FileState::Extra),
            _ => None,
        }
    }
}

/// One file a report names.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ReportFile {
    pub name: String,
    pub state: Option<FileState>,
    /// A short diff snippet, at most [`MAX_DIFF_BYTES`].
    pub diff: Option<String>,
}

impl ReportFile {
    pub fn named(name: impl Into<String>) -> Self {
        ReportFile {
            name: name.into(),
            state: None,
            diff: None,
        }
    }
}

/// `last_check` as the reporter wrote it (echoed back unchanged, as the old server did) and the
/// instant it means (compared to decide which report is newer).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct LastCheck {
    pub text: String,
    pub at: Timestamp,
}

/// One report: the reporter's verdict on one `repo:server` at `last_check`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    pub key: ReportKey,
    pub sync_status: SyncStatus,
    /// What the reporter counted; not required to equal the number of files (a reporter may
    /// count differing lines, or list only some files).
    pub drift_count: u64,
    pub files: Vec<ReportFile>,
    pub last_check: LastCheck,
    /// The Application this report belongs to, when the reporter names one.
    pub application: Option<AppKey>,
}

impl Report {
    /// The bytes this report counts against the reporters' limits: its text (key, `last_check`,
    /// file names, diffs) plus [`WEIGHT_PER_FILE`] per file and [`WEIGHT_PER_REPORT`], close to
    /// what it holds in memory (a list of 1,000 one-letter names is not 1 KB).
    pub fn weight(&self) -> usize {
        let files: usize = self
            .files
            .iter()
            .map(|f| WEIGHT_PER_FILE + f.name.len() + f.diff.as_ref().map_or(0, String::len))
            .sum();
        WEIGHT_PER_REPORT
            + self.key.repo.len()
            + self.key.server.len()
            + self.last_check.text.len()
            + self.application.as_ref().map_or(0, |a| a.to_string().len())
            + files
    }

    /// Whether `other` says the same thing, whatever its `last_check`: a newer report that does
    /// is a heartbeat.
    pub fn same_content(&self, other: &Report) -> bool {
        self.key == other.key
            && self.sync_status == other.sync_status
            && self.drift_count == other.drift_count
            && self.files == other.files
            && self.application == other.application
    }
}

/// A report as stored: the report, when a backend last accepted it (heartbeats included) and
/// which reporter token sent it (its name; what its limits are counted against). Both are absent
/// for a custom resource somebody created directly; `reporter` also for an anonymous report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredReport {
    pub report: Report,
    pub updated_at: Option<Timestamp>,
    pub reporter: Option<String>,
}

/// What one report costs in memory, by [`Report::weight`]: a fixed part per report …
pub const WEIGHT_PER_REPORT: usize = 256;
/// … and a fixed part per file, on top of the text held.
pub const WEIGHT_PER_FILE: usize = 64;

impl StoredReport {
    /// When the report was last refreshed: the last time a backend accepted it, or, for one
    /// written directly, its `last_check`.
    pub fn refreshed_at(&self) -> Timestamp {
        self.updated_at.unwrap_or(self.report.last_check.at)
    }
}
