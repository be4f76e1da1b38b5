//! Which Application a report belongs to.
//!
//! A report belongs to an app when it names the app (`application: namespace:name`, richer
//! reports only), or when the Application carries the annotation
//!
//! ```yaml
//! metadata:
//!   annotations:
//!     argocd-drift.io/report-repos: "rsyslog, nginx-conf:web-1"
//! ```
//!
//! listing report repos, comma-separated: an entry `repo` takes that repo's reports from every
//! server, an entry `repo:server` only that one. The annotation is the app owner's statement (an
//! Application is written by whoever may change it in Argo CD); `application` is the reporter's.

use super::model::{Report, ReportKey};
use crate::app::AppKey;

// An Application's own statement of its links: defined with the Application (which holds
// them), matched against reports here.
pub use crate::app::{REPORT_REPOS_ANNOTATION, ReportLink, parse_links};

impl ReportLink {
    pub fn matches(&self, key: &ReportKey) -> bool {
        self.repo == key.repo && self.server.as_ref().is_none_or(|s| *s == key.server)
    }
}

/// How a report came to belong to an app.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum LinkedBy {
    /// The report names the app.
    Report,
    /// The app's annotation lists the report's repo.
    Annotation,
}

/// Whether `report` belongs to the app `app` whose annotation holds `links`.
pub fn linked_by(report: &Report, app: &AppKey, links: &[ReportLink]) -> Option<LinkedBy> {
    if report.application.as_ref() == Some(app) {
        Some(LinkedBy::Report)
    } else if links.iter().any(|l| l.matches(&report.key)) {
        Some(LinkedBy::Annotation)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reports::model::{LastCheck, SyncStatus};

    fn report(repo: &str, server: &str, app: Option<AppKey>) -> Report {
        Report {
            key: ReportKey::new(repo, server),
            sync_status: SyncStatus::Synced,
            drift_count: 0,
            files: vec![],
            last_check: LastCheck {
                text: "2026-04-21T10:00:00Z".into(),
                at: "2026-04-21T10:00:00Z".parse().unwrap(),
            },
            application: app,
        }
    }

    #[test]
    fn the_annotation_lists_repos_or_single_servers() {
        let links = parse_links(" rsyslog, nginx-conf:web-1 ,,rsyslog");
        assert_eq!(
            links,
            vec![
                ReportLink {
                    repo: "rsyslog".into(),
                    server: None
                },
                ReportLink {
                    repo: "nginx-conf".into(),
                    server: Some("web-1".into())
                },
            ]
        );
        let app = AppKey::new("argocd", "infra");
        assert_eq!(
            linked_by(&report("rsyslog", "any", None), &app, &links),
            Some(LinkedBy::Annotation)
        );
        assert_eq!(
            linked_by(&report("nginx-conf", "web-1", None), &app, &links),
            Some(LinkedBy::Annotation)
        );
        assert_eq!(
            linked_by(&report("nginx-conf", "web-2", None), &app, &links),
            None
        );
        assert_eq!(
            linked_by(&report("other", "web-1", None), &app, &links),
            None
        );
    }

    #[test]
    fn a_report_naming_the_app_belongs_to_it_and_to_no_other() {
        let app = AppKey::new("argocd", "rsyslog");
        let named = report("rsyslog", "lab", Some(app.clone()));
        assert_eq!(linked_by(&named, &app, &[]), Some(LinkedBy::Report));
        assert_eq!(
            linked_by(&named, &AppKey::new("argocd", "other"), &[]),
            None
        );
        assert_eq!(
            linked_by(&named, &AppKey::new("team", "rsyslog"), &[]),
            None,
            "same name, another namespace"
        );
    }
}
