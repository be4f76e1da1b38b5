//! The fleet document (`GET /api/v1/fleet` on the reports port, for Grafana Infinity): every app
//! with a drift episode under way, across projects — which Argo CD's proxy extension, one app per
//! request, cannot show.
//!
//! ```json
//! {"generatedAt": "…", "complete": true, "drifting": 1, "apps": [
//!   {"application": "argocd:payments-api", "namespace": "argocd", "name": "payments-api",
//!    "project": "team-payments", "destination": "https://kubernetes.default.svc",
//!    "since": "…", "driftingSeconds": 725, "witnessed": true,
//!    "resources": [{"group": "apps", "kind": "Deployment", "namespace": "payments", "name": "api",
//!                   "cause": "liveChanged", "fields": ["spec.replicas"], "managers": ["kubectl-edit"]}],
//!    "managers": ["kubectl-edit"], "managerClass": "interactive",
//!    "lastEndCause": "manualSync", "lastEnd": "synced by alice"}]}
//! ```
//!
//! Longest drifting first. Names, paths and managers only: never a value.

use super::event::end_text;
use super::managers;
use super::model::{EndCause, Episode, Involved};
use crate::app::AppKey;
use crate::reports::parse::parse_app;
use jiff::Timestamp;
use serde::Serialize;

/// One drifting app, as the backend gathers it (history and the Application index).
#[derive(Clone, Debug)]
pub struct FleetEntry {
    pub app: AppKey,
    pub project: String,
    pub destination: String,
    pub episode: Episode,
    /// How the app's previous episode ended, and who synced.
    pub last_end: Option<(EndCause, Option<String>)>,
}

/// The filters, as `/status.json`'s: exact matches; an empty value is no filter; parameters not
/// named here are ignored.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FleetFilter {
    pub project: Option<String>,
    pub destination: Option<String>,
    pub application: Option<AppKey>,
    pub witnessed: Option<bool>,
    pub manager_class: Option<&'static str>,
}

/// The parameters the fleet document reads.
pub const FLEET_PARAMS: &[&str] = &[
    "project",
    "destination",
    "application",
    "witnessed",
    "manager_class",
];

impl FleetFilter {
    /// The filter from query parameters (`get` looks one up). A malformed value is an error
    /// naming the parameter.
    pub fn parse<'a>(get: impl Fn(&str) -> Option<&'a str>) -> Result<FleetFilter, String> {
        let value = |name: &str| get(name).filter(|v| !v.is_empty());
        let application = value("application")
            .map(|v| parse_app(v).ok_or("application must be namespace:name".to_string()))
            .transpose()?;
        let witnessed = value("witnessed")
            .map(|v| match v {
                "true" => Ok(true),
                "false" => Ok(false),
                _ => Err("witnessed must be true or false".to_string()),
            })
            .transpose()?;
        let manager_class = value("manager_class")
            .map(|v| {
                managers::CLASSES
                    .iter()
                    .find(|c| **c == v)
                    .copied()
                    .ok_or(format!(
                        "manager_class must be one of {}",
                        managers::CLASSES.join(", ")
                    ))
            })
            .transpose()?;
        Ok(FleetFilter {
            project: value("project").map(str::to_string),
            destination: value("destination").map(str::to_string),
            application,
            witnessed,
            manager_class,
        })
    }

    fn matches(&self, entry: &FleetEntry, class: &str) -> bool {
        self.project.as_ref().is_none_or(|p| *p == entry.project)
            && self
                .destination
                .as_ref()
                .is_none_or(|d| *d == entry.destination)
            && self.application.as_ref().is_none_or(|a| *a == entry.app)
            && self
                .witnessed
                .is_none_or(|w| w == entry.episode.start.witnessed)
            && self.manager_class.is_none_or(|c| c == class)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FleetView {
    pub generated_at: Timestamp,
    /// `false` until this replica has read the stored drift histories: the list may be short.
    pub complete: bool,
    /// Apps listed (after the filters).
    pub drifting: usize,
    pub apps: Vec<FleetApp>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FleetApp {
    /// `namespace:name`, as `/status.json`'s `application` filter takes it.
    pub application: String,
    pub namespace: String,
    pub name: String,
    pub project: String,
    pub destination: String,
    /// When the episode started (witnessed), or was first seen.
    pub since: Timestamp,
    pub drifting_seconds: i64,
    /// A replica watched the app turn OutOfSync (otherwise it was already drifting when seen).
    pub witnessed: bool,
    pub resources: Vec<Involved>,
    /// Every field manager behind the drift found so far, sorted, once each (tools, not people).
    pub managers: Vec<String>,
    /// `interactive`, `automation`, `other`, `unknown` (not inspected yet).
    pub manager_class: &'static str,
    /// How the previous episode ended, if one did.
    pub last_end_cause: Option<EndCause>,
    /// The same in words, as the app's DriftEnded Event and the tab's timeline say it.
    pub last_end: Option<String>,
}

/// The document: the entries passing `filter`, longest drifting first (then by app).
pub fn fleet_view(
    entries: Vec<FleetEntry>,
    complete: bool,
    filter: &FleetFilter,
    now: Timestamp,
) -> FleetView {
    let mut apps: Vec<FleetApp> = entries
        .into_iter()
        .filter_map(|entry| {
            let mut managers_found: Vec<String> = entry
                .episode
                .resources
                .iter()
                .flat_map(|r| r.managers.iter().cloned())
                .collect();
            managers_found.sort();
            managers_found.dedup();
            let class = managers::class_of(managers_found.iter().map(String::as_str));
            if !filter.matches(&entry, class) {
                return None;
            }
            let since = entry.episode.start.at;
            Some(FleetApp {
                application: entry.app.to_string(),
                namespace: entry.app.namespace,
                name: entry.app.name,
                project: entry.project,
                destination: entry.destination,
                since,
                drifting_seconds: now.duration_since(since).as_secs().max(0),
                witnessed: entry.episode.start.witnessed,
                resources: entry.episode.resources,
                managers: managers_found,
                manager_class: class,
                last_end_cause: entry.last_end.as_ref().map(|(c, _)| *c),
                last_end: entry
                    .last_end
                    .as_ref()
                    .map(|(c, user)| end_text(*c, user.as_deref())),
            })
        })
        .collect();
    apps.sort_by(|a, b| (a.since, &a.namespace, &a.name).cmp(&(b.since, &b.namespace, &b.name)));
    FleetView {
        generated_at: now,
        complete,
        drifting: apps.len(),
        apps,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::fixtures::t;
    use crate::history::model::Start;

    fn entry(
        name: &str,
        project: &str,
        started: i64,
        witnessed: bool,
        managers: &[&str],
    ) -> FleetEntry {
        FleetEntry {
            app: AppKey::new("argocd", name),
            project: project.into(),
            destination: "https://kubernetes.default.svc".into(),
            episode: Episode {
                id: format!("u-{started}"),
                start: Start {
                    at: t(started),
                    version: started.to_string(),
                    witnessed,
                    inferred: false,
                    revision: None,
                    operation: None,
                },
                end: None,
                resources: vec![Involved {
                    group: "apps".into(),
                    kind: "Deployment".into(),
                    namespace: "p".into(),
                    name: name.into(),
                    cause: None,
                    fields: vec!["spec.replicas".into()],
                    managers: managers.iter().map(|m| m.to_string()).collect(),
                }],
                detail_trimmed: false,
            },
            last_end: Some((EndCause::ManualSync, Some("alice".into()))),
        }
    }

    fn parse(query: &[(&str, &str)]) -> Result<FleetFilter, String> {
        FleetFilter::parse(|name| query.iter().find(|(k, _)| *k == name).map(|(_, v)| *v))
    }

    #[test]
    fn longest_drifting_first_with_managers_their_class_and_the_last_end_in_words() {
        let entries = vec![
            entry(
                "b",
                "shop",
                100,
                true,
                &["kubectl-edit", "helm", "kubectl-edit"],
            ),
            entry("a", "pay", 10, false, &[]),
        ];
        let view = fleet_view(entries, true, &FleetFilter::default(), t(110));
        assert_eq!(view.drifting, 2);
        let names: Vec<&str> = view.apps.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
        assert_eq!(view.apps[0].drifting_seconds, 100);
        assert_eq!(view.apps[0].manager_class, "unknown");
        assert_eq!(view.apps[1].managers, ["helm", "kubectl-edit"]);
        assert_eq!(view.apps[1].manager_class, "interactive");
        assert_eq!(view.apps[1].last_end.as_deref(), Some("synced by alice"));
        assert_eq!(view.apps[1].application, "argocd:b");
    }

    #[test]
    fn filters_narrow_like_status_json_and_bad_values_name_the_parameter() {
        let entries = || {
            vec![
                entry("b", "shop", 100, true, &["kubectl-edit"]),
                entry("a", "pay", 10, false, &["helm"]),
            ]
        };
        let only = |q: &[(&str, &str)]| -> Vec<String> {
            fleet_view(entries(), true, &parse(q).unwrap(), t(200))
                .apps
                .into_iter()
                .map(|a| a.name)
                .collect()
        };
        assert_eq!(only(&[("project", "shop")]), ["b"]);
        assert_eq!(only(&[("witnessed", "false")]), ["a"]);
        assert_eq!(only(&[("manager_class", "automation")]), ["a"]);
        assert_eq!(only(&[("application", "argocd:b")]), ["b"]);
        assert_eq!(only(&[("project", ""), ("other", "x")]), ["a", "b"]);
        assert!(only(&[("destination", "elsewhere")]).is_empty());
        for (name, value) in [
            ("witnessed", "yes"),
            ("manager_class", "people"),
            ("application", "no-colon"),
        ] {
            let err = parse(&[(name, value)]).unwrap_err();
            assert!(err.starts_with(name), "{err}");
        }
    }
}
