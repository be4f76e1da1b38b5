//! Everything served from reports, and the rules that decide what is served: freshness, which of
//! two versions wins, filters.
//!
//! The compat shapes (`/status.json` rows, `/health`, the ingest answer) keep the old server's
//! field names, types and order; new fields only ever come after them. `/api/v1/*` shapes are
//! camelCase like the rest of the API.

use super::links::LinkedBy;
use super::model::*;
use super::parse::parse_app;
use crate::app::AppKey;
use crate::tracking::DataFreshness;
use jiff::{SignedDuration, Timestamp};
use serde::Serialize;
use std::cmp::Ordering;
use std::time::Duration;

// === freshness and precedence ===

fn signed(d: Duration) -> SignedDuration {
    SignedDuration::try_from(d).unwrap_or(SignedDuration::MAX)
}

/// Not refreshed within `stale_after`.
pub fn is_stale(stored: &StoredReport, now: Timestamp, stale_after: Duration) -> bool {
    now.duration_since(stored.refreshed_at()) > signed(stale_after)
}

/// Not refreshed within `expire_after`: to be deleted.
pub fn is_expired(stored: &StoredReport, now: Timestamp, expire_after: Duration) -> bool {
    now.duration_since(stored.refreshed_at()) > signed(expire_after)
}

/// The first whole second at which a report that is fresh now turns stale (for caches).
pub fn turns_stale_at(stored: &StoredReport, stale_after: Duration) -> Timestamp {
    stored
        .refreshed_at()
        .checked_add(signed(stale_after).saturating_add(SignedDuration::from_secs(1)))
        .unwrap_or(Timestamp::MAX)
}

/// Which of two versions of one key wins: the newer [`ordered_at`]; on a tie, the one accepted
/// later. (Greater wins.)
pub fn precedence(a: &StoredReport, b: &StoredReport) -> Ordering {
    ordered_at(a)
        .cmp(&ordered_at(b))
        .then(a.updated_at.cmp(&b.updated_at))
}

/// The time a version is ordered by: its `last_check`, but never later than when a backend
/// accepted it. A reporter clock that ran ahead (up to the 300 s accepted) and then steps back
/// is therefore not stuck behind its own future timestamps: its next report, checked after the
/// one held was received, wins. A version written by hand (no acceptance time) is ordered by
/// its `last_check`.
pub fn ordered_at(stored: &StoredReport) -> Timestamp {
    match stored.updated_at {
        Some(accepted) => stored.report.last_check.at.min(accepted),
        None => stored.report.last_check.at,
    }
}

// === filters ===

/// `/status.json`'s filters. Each is exact; an empty value is no filter (what a Grafana variable
/// set to "All" with an empty custom value sends).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReportFilter {
    pub repo: Option<String>,
    pub server: Option<String>,
    pub sync_status: Option<SyncStatus>,
    pub application: Option<AppKey>,
    pub stale: Option<bool>,
}

/// The parameters `/status.json` reads; others are ignored, as the old server ignored them.
pub const FILTER_PARAMS: &[&str] = &["repo", "server", "sync_status", "application", "stale"];

impl ReportFilter {
    /// The filter from query parameters (`get` looks one up). A malformed value is an error
    /// naming the parameter.
    pub fn parse<'a>(get: impl Fn(&str) -> Option<&'a str>) -> Result<ReportFilter, String> {
        let value = |name: &str| get(name).filter(|v| !v.is_empty());
        let sync_status = value("sync_status")
            .map(|v| {
                SyncStatus::parse(v).ok_or("sync_status must be SYNCED or OUT_OF_SYNC".to_string())
            })
            .transpose()?;
        let application = value("application")
            .map(|v| parse_app(v).ok_or("application must be namespace:name".to_string()))
            .transpose()?;
        let stale = value("stale")
            .map(|v| match v {
                "true" => Ok(true),
                "false" => Ok(false),
                _ => Err("stale must be true or false".to_string()),
            })
            .transpose()?;
        Ok(ReportFilter {
            repo: value("repo").map(str::to_string),
            server: value("server").map(str::to_string),
            sync_status,
            application,
            stale,
        })
    }

    pub fn is_empty(&self) -> bool {
        *self == ReportFilter::default()
    }

    /// Whether a report (belonging to `applications`, stale or not) passes.
    pub fn matches(&self, stored: &StoredReport, applications: &[AppKey], stale: bool) -> bool {
        let report = &stored.report;
        self.repo.as_ref().is_none_or(|r| *r == report.key.repo)
            && self.server.as_ref().is_none_or(|s| *s == report.key.server)
            && self.sync_status.is_none_or(|s| s == report.sync_status)
            && self
                .application
                .as_ref()
                .is_none_or(|a| applications.contains(a))
            && self.stale.is_none_or(|s| s == stale)
    }
}

// === compat shapes ===

/// The ingest answer the old contract promises, field for field.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CompatAck {
    pub status: &'static str,
    pub message: &'static str,
}

pub const COMPAT_ACK: CompatAck = CompatAck {
    status: "ok",
    message: "Status updated successfully",
};

/// An error on a compat route: the old shape, no code.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CompatError<'a> {
    pub status: &'static str,
    pub message: &'a str,
}

/// `GET /health`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Health {
    pub status: &'static str,
    pub timestamp: Timestamp,
    pub tracked_repos: usize,
}

pub fn health(now: Timestamp, tracked: usize) -> Health {
    Health {
        status: "healthy",
        timestamp: now,
        tracked_repos: tracked,
    }
}

/// One element of `/status.json`: the old fields in the old order, then the new ones.
#[derive(Debug, Serialize)]
pub struct StatusRow<'a> {
    pub repo: &'a str,
    pub server: &'a str,
    pub sync_status: SyncStatus,
    pub drift_count: u64,
    pub files: Vec<FileRow<'a>>,
    pub last_check: &'a str,
    pub updated_at: Timestamp,
    // new
    pub stale: bool,
    pub files_count: usize,
    /// The app the report names, as it names it; absent when it names none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub application: Option<String>,
    /// Every app the report belongs to (`namespace:name`, sorted): the one it names and those
    /// whose annotation lists its repo; absent when none. (Absent rather than `null`/`[]`:
    /// every byte of `/status.json` is paid on every Grafana refresh.)
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub applications: Vec<String>,
}

/// A file in `/status.json`: `name`, and `state` when the reporter gave one (diffs are served
/// only through the per-app API).
#[derive(Debug, Serialize)]
pub struct FileRow<'a> {
    pub name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<FileState>,
}

pub fn status_row<'a>(
    stored: &'a StoredReport,
    applications: &[AppKey],
    now: Timestamp,
    stale_after: Duration,
) -> StatusRow<'a> {
    let report = &stored.report;
    StatusRow {
        repo: &report.key.repo,
        server: &report.key.server,
        sync_status: report.sync_status,
        drift_count: report.drift_count,
        files: report
            .files
            .iter()
            .map(|f| FileRow {
                name: &f.name,
                state: f.state,
            })
            .collect(),
        last_check: &report.last_check.text,
        updated_at: stored.refreshed_at(),
        stale: is_stale(stored, now, stale_after),
        files_count: report.files.len(),
        application: report.application.as_ref().map(AppKey::to_string),
        applications: applications.iter().map(AppKey::to_string).collect(),
    }
}

// === /api/v1 shapes ===

/// What an ingest did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// A new report, stored.
    Created,
    /// A report whose content changed, stored.
    Changed,
    /// The same content with a newer (or the same) `last_check`: acknowledged at once, written
    /// within the heartbeat interval.
    Heartbeat,
    /// Older than the report already stored (a newer `last_check` wins): not stored.
    Superseded,
    /// A change that came within `REPORT_CONTENT_WRITE_SECONDS` of the report's last written
    /// change: served at once, written when that interval ends (later changes replace it).
    Queued,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Created => "created",
            Outcome::Changed => "changed",
            Outcome::Heartbeat => "heartbeat",
            Outcome::Superseded => "superseded",
            Outcome::Queued => "queued",
        }
    }
}

/// `POST /api/v1/reports` → 200.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct IngestAck {
    pub status: &'static str,
    pub key: String,
    pub outcome: Outcome,
}

/// `DELETE /api/v1/reports` → 200.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DeleteAck {
    pub status: &'static str,
    pub key: String,
    pub deleted: bool,
}

/// Reports counted for one app (`GET /api/v1/status`'s `reports`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ReportsSummary {
    pub count: usize,
    pub out_of_sync: usize,
    pub stale: usize,
}

impl ReportsSummary {
    pub fn add(&mut self, report: &Report, stale: bool) {
        self.count += 1;
        self.out_of_sync += usize::from(report.sync_status == SyncStatus::OutOfSync);
        self.stale += usize::from(stale);
    }
}

/// One report as the Argo CD tab sees it, diffs included.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ReportView {
    pub key: String,
    pub repo: String,
    pub server: String,
    pub sync_status: SyncStatus,
    pub drift_count: u64,
    pub files: Vec<FileView>,
    pub files_count: usize,
    pub last_check: String,
    pub updated_at: Timestamp,
    pub stale: bool,
    pub linked_by: LinkedBy,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct FileView {
    pub name: String,
    pub state: Option<FileState>,
    pub diff: Option<String>,
}

pub fn report_view(
    stored: &StoredReport,
    linked_by: LinkedBy,
    now: Timestamp,
    stale_after: Duration,
) -> ReportView {
    let report = &stored.report;
    ReportView {
        key: report.key.to_string(),
        repo: report.key.repo.clone(),
        server: report.key.server.clone(),
        sync_status: report.sync_status,
        drift_count: report.drift_count,
        files: report
            .files
            .iter()
            .map(|f| FileView {
                name: f.name.clone(),
                state: f.state,
                diff: f.diff.clone(),
            })
            .collect(),
        files_count: report.files.len(),
        last_check: report.last_check.text.clone(),
        updated_at: stored.refreshed_at(),
        stale: is_stale(stored, now, stale_after),
        linked_by,
    }
}

/// `GET /api/v1/reports` through the proxy: the reports of one app.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct AppReportsView {
    pub application: AppKeyView,
    pub summary: ReportsSummary,
    pub reports: Vec<ReportView>,
    pub stale_after_seconds: u64,
    /// Whether the reports come from a live watch, or are the last seen before the API server
    /// became unreachable.
    pub data: DataFreshness,
    pub generated_at: Timestamp,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct AppKeyView {
    pub namespace: String,
    pub name: String,
}

impl From<&AppKey> for AppKeyView {
    fn from(key: &AppKey) -> Self {
        AppKeyView {
            namespace: key.namespace.clone(),
            name: key.name.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reports::parse::{Flavor, parse_body};

    const HOUR: Duration = Duration::from_secs(3600);

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn stored(body: &str, updated_at: Option<&str>) -> StoredReport {
        StoredReport {
            report: parse_body(body.as_bytes(), Flavor::V1, at("2030-01-01T00:00:00Z")).unwrap(),
            updated_at: updated_at.map(at),
            reporter: None,
        }
    }

    fn rsyslog() -> StoredReport {
        stored(
            r#"{"repo":"rsyslog","server":"rsyslog-lab","sync_status":"OUT_OF_SYNC","drift_count":2,
            "files":[{"name":"rsyslog.conf"},{"name":"rsyslog.d/30-lab.conf"}],"last_check":"2026-04-21T10:32:15Z"}"#,
            Some("2026-04-21T10:32:16Z"),
        )
    }

    #[test]
    fn a_status_row_keeps_the_old_fields_in_order_then_adds_new_ones() {
        let report = rsyslog();
        let row = status_row(&report, &[], at("2026-04-21T10:40:00Z"), HOUR);
        assert_eq!(
            serde_json::to_string(&row).unwrap(),
            concat!(
                r#"{"repo":"rsyslog","server":"rsyslog-lab","sync_status":"OUT_OF_SYNC","drift_count":2,"#,
                r#""files":[{"name":"rsyslog.conf"},{"name":"rsyslog.d/30-lab.conf"}],"#,
                r#""last_check":"2026-04-21T10:32:15Z","updated_at":"2026-04-21T10:32:16Z","#,
                r#""stale":false,"files_count":2}"#
            )
        );
    }

    #[test]
    fn the_compat_answers_are_the_contract_byte_for_byte() {
        assert_eq!(
            serde_json::to_string(&COMPAT_ACK).unwrap(),
            r#"{"status":"ok","message":"Status updated successfully"}"#
        );
        assert_eq!(
            serde_json::to_string(&CompatError {
                status: "error",
                message: "Invalid JSON payload"
            })
            .unwrap(),
            r#"{"status":"error","message":"Invalid JSON payload"}"#
        );
        assert_eq!(
            serde_json::to_string(&health(at("2026-04-21T10:00:00Z"), 3)).unwrap(),
            r#"{"status":"healthy","timestamp":"2026-04-21T10:00:00Z","tracked_repos":3}"#
        );
    }

    #[test]
    fn a_report_is_stale_after_the_bound_and_expires_after_the_other() {
        let r = rsyslog(); // refreshed 10:32:16
        assert!(!is_stale(&r, at("2026-04-21T11:32:16Z"), HOUR));
        assert!(is_stale(&r, at("2026-04-21T11:32:17Z"), HOUR));
        assert_eq!(turns_stale_at(&r, HOUR), at("2026-04-21T11:32:17Z"));
        assert!(!is_expired(&r, at("2026-04-21T12:32:16Z"), 2 * HOUR));
        assert!(is_expired(&r, at("2026-04-21T12:32:17Z"), 2 * HOUR));
    }

    #[test]
    fn the_newest_last_check_wins_then_the_latest_accepted() {
        let old = rsyslog();
        let mut newer = rsyslog();
        newer.report.last_check.at = at("2026-04-21T10:33:00Z");
        // Checked later and accepted later: it wins whatever the order of arrival at the store.
        newer.updated_at = Some(at("2026-04-21T10:34:00Z"));
        assert_eq!(precedence(&newer, &old), Ordering::Greater);
        let mut later = rsyslog();
        later.updated_at = Some(at("2026-04-21T10:40:00Z"));
        assert_eq!(precedence(&later, &old), Ordering::Greater);
        assert_eq!(precedence(&old, &old.clone()), Ordering::Equal);
    }

    #[test]
    fn a_last_check_ahead_of_its_acceptance_orders_as_the_acceptance() {
        // Accepted at 10:00 with a clock 4 minutes ahead; the clock is then corrected.
        let mut ahead = rsyslog();
        ahead.report.last_check.at = at("2026-04-21T10:04:00Z");
        ahead.updated_at = Some(at("2026-04-21T10:00:00Z"));
        let mut corrected = rsyslog();
        corrected.report.last_check.at = at("2026-04-21T10:01:00Z");
        corrected.updated_at = Some(at("2026-04-21T10:01:00Z"));
        assert_eq!(ordered_at(&ahead), at("2026-04-21T10:00:00Z"));
        assert_eq!(precedence(&corrected, &ahead), Ordering::Greater);
        // Checked before the held one was received: genuinely older, it still loses.
        let mut older = rsyslog();
        older.report.last_check.at = at("2026-04-21T09:59:00Z");
        older.updated_at = Some(at("2026-04-21T10:02:00Z"));
        assert_eq!(precedence(&older, &ahead), Ordering::Less);
    }

    #[test]
    fn filters_are_exact_and_empty_means_all() {
        let r = rsyslog();
        let app = AppKey::new("argocd", "infra");
        let parse = |q: &[(&str, &str)]| {
            let q: Vec<(String, String)> = q
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            ReportFilter::parse(|name| q.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()))
        };
        assert!(parse(&[("repo", ""), ("stale", "")]).unwrap().is_empty());
        for (query, expected) in [
            (&[("repo", "rsyslog")][..], true),
            (&[("repo", "rsys")][..], false),
            (&[("server", "rsyslog-lab")][..], true),
            (&[("sync_status", "SYNCED")][..], false),
            (&[("sync_status", "OUT_OF_SYNC")][..], true),
            (&[("application", "argocd:infra")][..], true),
            (&[("application", "argocd:other")][..], false),
            (&[("stale", "false")][..], true),
            (&[("stale", "true")][..], false),
        ] {
            let filter = parse(query).unwrap();
            assert_eq!(
                filter.matches(&r, std::slice::from_ref(&app), false),
                expected,
                "{query:?}"
            );
        }
        assert_eq!(
            parse(&[("sync_status", "synced")]).unwrap_err(),
            "sync_status must be SYNCED or OUT_OF_SYNC"
        );
        assert_eq!(
            parse(&[("stale", "yes")]).unwrap_err(),
            "stale must be true or false"
        );
        assert_eq!(
            parse(&[("application", "infra")]).unwrap_err(),
            "application must be namespace:name"
        );
    }

    #[test]
    fn the_summary_counts_out_of_sync_and_stale() {
        let mut summary = ReportsSummary::default();
        summary.add(&rsyslog().report, true);
        let mut synced = rsyslog().report;
        synced.sync_status = SyncStatus::Synced;
        summary.add(&synced, false);
        assert_eq!(
            serde_json::to_value(summary).unwrap(),
            serde_json::json!({"count": 2, "outOfSync": 1, "stale": 1})
        );
    }
}
