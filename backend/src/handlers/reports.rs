//! External drift reports: ingest and delete (reports port), `/status.json` and `/health`
//! (reports port, the old contract), and the per-app view and summary (API port).

use crate::http::error::ApiError;
use crate::http::gate::AppContext;
use crate::http::query::Query;
use crate::http::reporters::Identity;
use crate::metrics::Metrics;
use crate::reports::{ReportStore, ReportWriter, Sender, WriteFailure};
use bytes::Bytes;
use drift_core::reports::model::ReportKey;
use drift_core::reports::parse::{Flavor, parse_body};
use drift_core::reports::view::{
    self, AppReportsView, DeleteAck, IngestAck, Outcome, ReportFilter, ReportsSummary, report_view,
};
use drift_core::status::DataFreshness;
use jiff::Timestamp;
use std::time::Instant;

/// `POST /api/status` and `POST /api/v1/reports`: validate, check the token's repos, store.
pub async fn ingest(
    writer: &ReportWriter,
    metrics: &Metrics,
    identity: &Identity,
    body: &[u8],
    flavor: Flavor,
    now: Timestamp,
) -> Result<IngestAck, ApiError> {
    let started = Instant::now();
    let report = parse_body(body, flavor, now)?;
    identity.may_report(&report.key.repo)?;
    if let Some(app) = &report.application {
        let links = writer.store().links_of(app);
        identity.may_link(app, &report.key, links.as_deref())?;
    }
    if !writer.store().is_ready() {
        writer.store().wait_ready().await;
    }
    let key = report.key.clone();
    let sync_status = report.sync_status;
    let sender = match identity.reporter() {
        Some(r) => Sender {
            name: Some(r.name.clone()),
            reports: r.limits.reports,
            bytes: r.limits.bytes,
        },
        None => Sender::default(),
    };
    let outcome = writer
        .ingest(report, now, &sender)
        .await
        .map_err(|failure| storage_error(failure, &key))?;
    let api = match flavor {
        Flavor::Compat => "compat",
        Flavor::V1 => "v1",
    };
    metrics.report_ingested(api, outcome.as_str(), started.elapsed());
    match outcome {
        Outcome::Created | Outcome::Changed => tracing::info!(
            report = %key,
            reporter = identity.name(),
            outcome = outcome.as_str(),
            sync_status = sync_status.as_str(),
            "report stored"
        ),
        Outcome::Heartbeat | Outcome::Superseded | Outcome::Queued => tracing::debug!(
            report = %key,
            reporter = identity.name(),
            outcome = outcome.as_str(),
            "report accepted"
        ),
    }
    Ok(IngestAck {
        status: "ok",
        key: key.to_string(),
        outcome,
    })
}

/// `DELETE /api/v1/reports?repo=…&server=…`
pub async fn delete(
    writer: &ReportWriter,
    identity: &Identity,
    query: Option<&str>,
) -> Result<DeleteAck, ApiError> {
    let query = Query::parse(query)?;
    query.only(&["repo", "server"])?;
    let required = |name: &str| match query.get(name) {
        Some(value) if !value.is_empty() => Ok(value.to_string()),
        _ => Err(ApiError::InvalidQuery(format!("{name} is required"))),
    };
    let key = ReportKey::new(required("repo")?, required("server")?);
    identity.may_report(&key.repo)?;
    if !writer.store().is_ready() {
        writer.store().wait_ready().await;
    }
    let deleted = writer
        .delete(&key)
        .await
        .map_err(|failure| storage_error(failure, &key))?;
    if !deleted {
        return Err(ApiError::ReportNotFound(key.to_string()));
    }
    tracing::info!(report = %key, reporter = identity.name(), "report deleted");
    Ok(DeleteAck {
        status: "ok",
        key: key.to_string(),
        deleted,
    })
}

/// `GET /status.json[?repo=&server=&sync_status=&application=&stale=]`: every report, or those
/// passing the filters; other parameters are ignored, as the old server ignored them.
pub async fn status_json(
    store: &ReportStore,
    query: Option<&str>,
    now: Timestamp,
) -> Result<Bytes, ApiError> {
    let query = Query::parse(query)?;
    let filter = ReportFilter::parse(|name| query.get(name)).map_err(ApiError::InvalidQuery)?;
    if !store.is_ready() {
        store.wait_ready().await;
    }
    Ok(if filter.is_empty() {
        store.status_json(now)
    } else {
        store.status_json_filtered(&filter, now)
    })
}

/// `GET /health`: alive, and how many reports are held.
pub fn health(store: &ReportStore, now: Timestamp) -> view::Health {
    view::health(now, store.tracked())
}

/// `GET /api/v1/reports` through the proxy: the reports that belong to the admitted app, and
/// nothing else.
pub fn for_app(ctx: &AppContext, store: &ReportStore, now: Timestamp) -> AppReportsView {
    let app = &ctx.app.app;
    let stale_after = store.timing().stale_after;
    let mut summary = ReportsSummary::default();
    let reports = store
        .for_app(&app.key, &app.report_links)
        .into_iter()
        .map(|(stored, by)| {
            let view = report_view(&stored, by, now, stale_after);
            summary.add(&stored.report, view.stale);
            view
        })
        .collect();
    AppReportsView {
        application: (&app.key).into(),
        summary,
        reports,
        stale_after_seconds: stale_after.as_secs(),
        data: DataFreshness {
            stale: store.stale_since().is_some(),
            stale_since: store.stale_since(),
        },
        generated_at: now,
    }
}

/// The `reports` summary of `GET /api/v1/status`; `None` until the reports have been read.
pub fn summary(ctx: &AppContext, store: &ReportStore, now: Timestamp) -> Option<ReportsSummary> {
    store.summary_for(&ctx.app.app.key, &ctx.app.app.report_links, now)
}

/// A refused report, as a bounded metric label (`None`: not a refusal of the report itself).
pub fn rejection_reason(error: &ApiError) -> Option<&'static str> {
    Some(match error {
        ApiError::InvalidReport(e) => e.reason(),
        ApiError::MissingReporterCredentials | ApiError::InvalidReporterCredentials => {
            "unauthenticated"
        }
        ApiError::RepoNotAllowed { .. } => "repo_not_allowed",
        ApiError::ApplicationNotAllowed(_) => "application_not_allowed",
        ApiError::TooManyReports(_) => "limit_reports",
        ApiError::ReportBytesExceeded(_) => "limit_bytes",
        ApiError::BodyTooLarge { .. } => "body_too_large",
        ApiError::BodyUnreadable(_) => "body_unreadable",
        ApiError::StorageUnavailable => "storage_unavailable",
        ApiError::StorageRejected(_) => "storage_rejected",
        ApiError::ReportNameTaken(_) => "name_taken",
        ApiError::ReportsNotReady | ApiError::Timeout => "not_ready",
        ApiError::Overloaded => "overloaded",
        ApiError::Internal(_) => "internal",
        _ => return None,
    })
}

fn storage_error(failure: WriteFailure, key: &ReportKey) -> ApiError {
    match failure {
        WriteFailure::Unavailable(why) => {
            tracing::warn!(report = %key, error = %why, "cannot store a report; the reporter is told to retry");
            ApiError::StorageUnavailable
        }
        WriteFailure::Rejected(why) => {
            tracing::error!(report = %key, error = %why, "the API server refused a report (is the DriftReport CRD up to date?)");
            ApiError::StorageRejected(why)
        }
        WriteFailure::NameTaken(name) => {
            tracing::warn!(report = %key, %name, "the object name of a report is taken by another report");
            ApiError::ReportNameTaken(key.to_string())
        }
        WriteFailure::TooManyReports(why) => ApiError::TooManyReports(why),
        WriteFailure::TooManyBytes(why) => ApiError::ReportBytesExceeded(why),
        WriteFailure::Forbidden(why) => ApiError::Internal(anyhow::anyhow!(
            "writing DriftReports is forbidden (RBAC): {why}"
        )),
    }
}
