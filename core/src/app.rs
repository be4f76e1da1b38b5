//! The slice of an Argo CD `Application` (argoproj.io/v1alpha1) that argocd-drift reads.
//!
//! Only the fields the product uses are kept; everything else in the object is dropped while it
//! is deserialized. Every field is optional and every list defaults to empty, because Argo CD
//! omits empty fields and because one odd field must never make a whole Application unreadable:
//! an Application that fails to decode would vanish from the index and its users would get 404.
//! Timestamps stay strings as written by Argo CD and are parsed where they are used.
//!
//! Two shapes of `status.resources` exist: Argo CD 2.x stores per-resource `health`; 3.x does not
//! by default and says so with `status.resourceHealthSource: appTree`.

use serde::Deserialize;
use std::fmt;

/// Where an Application object lives: its own namespace (Argo CD's, not the destination's) and
/// its name. Argo CD sends it as `Argocd-Application-Name: <namespace>:<name>`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AppKey {
    pub namespace: String,
    pub name: String,
}

impl AppKey {
    pub fn new(namespace: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            namespace: namespace.into(),
            name: name.into(),
        }
    }
}

impl fmt::Display for AppKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.namespace, self.name)
    }
}

/// An Application as the index keeps it.
#[derive(Clone, Debug, PartialEq)]
pub struct Application {
    pub key: AppKey,
    pub spec: ApplicationSpec,
    pub status: ApplicationStatus,
    /// The report repos its `argocd-drift.io/report-repos` annotation links to it.
    pub report_links: Vec<ReportLink>,
}

/// Why an Application object cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("object has no namespace or name")]
    Unnamed,
    #[error("{key}: .{field} cannot be read: {source}")]
    Field {
        key: AppKey,
        field: &'static str,
        #[source]
        source: serde_json::Error,
    },
}

impl Application {
    /// The slim model from an object's namespace, name, `spec` and `status` (`null` or absent
    /// reads as empty). Everything else in the object is ignored.
    pub fn decode(
        namespace: Option<String>,
        name: Option<String>,
        spec: serde_json::Value,
        status: serde_json::Value,
    ) -> Result<Application, DecodeError> {
        let (Some(namespace), Some(name)) = (namespace, name) else {
            return Err(DecodeError::Unnamed);
        };
        let key = AppKey::new(namespace, name);
        fn field<T: serde::de::DeserializeOwned>(
            key: &AppKey,
            value: serde_json::Value,
            field: &'static str,
        ) -> Result<T, DecodeError> {
            let value = if value.is_null() {
                serde_json::Value::Object(serde_json::Map::new())
            } else {
                value
            };
            serde_json::from_value(value).map_err(|source| DecodeError::Field {
                key: key.clone(),
                field,
                source,
            })
        }
        let spec = field(&key, spec, "spec")?;
        let status = field(&key, status, "status")?;
        Ok(Application {
            key,
            spec,
            status,
            report_links: Vec::new(),
        })
    }

    /// The app with the report links of its `argocd-drift.io/report-repos` annotation value.
    pub fn with_report_links(mut self, annotation: Option<&str>) -> Application {
        self.report_links = annotation.map(parse_links).unwrap_or_default();
        self
    }

    /// [`Application::decode`] of a whole object as JSON.
    pub fn from_object(mut object: serde_json::Value) -> Result<Application, DecodeError> {
        let text = |v: &serde_json::Value| v.as_str().map(str::to_string);
        let namespace = text(&object["metadata"]["namespace"]);
        let name = text(&object["metadata"]["name"]);
        let mut take = |field: &str| {
            object
                .get_mut(field)
                .map(serde_json::Value::take)
                .unwrap_or_default()
        };
        let (spec, status) = (take("spec"), take("status"));
        let links = object["metadata"]["annotations"][REPORT_REPOS_ANNOTATION]
            .as_str()
            .map(str::to_string);
        let compare_options = object["metadata"]["annotations"][COMPARE_OPTIONS_ANNOTATION]
            .as_str()
            .map(str::to_string);
        let mut app =
            Application::decode(namespace, name, spec, status)?.with_report_links(links.as_deref());
        app.spec.compare_options = compare_options;
        Ok(app)
    }

    /// The Argo CD sync verdict, if Argo CD has written one.
    pub fn sync_status(&self) -> Option<&str> {
        self.status.sync.status.as_deref()
    }
}

#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ApplicationSpec {
    /// As written; read it through [`ApplicationSpec::project`].
    pub project: String,
    pub destination: Destination,
    /// The app's own diff rules (`spec.ignoreDifferences`); the drift engine honours them as Argo
    /// CD does.
    pub ignore_differences: Vec<IgnoreDifference>,
    pub sync_policy: Option<SyncPolicy>,
    /// The Application's `argocd.argoproj.io/compare-options` annotation (`ServerSideDiff=true`,
    /// `IncludeMutationWebhook=true`, …): not part of `spec`, set by whoever decodes the object
    /// ([`Application::from_object`], the backend's index).
    #[serde(skip)]
    pub compare_options: Option<String>,
}

/// One `spec.ignoreDifferences[]` entry (also the shape of argocd-cm's
/// `resource.customizations.ignoreDifferences.*` values, where `group`/`kind` come from the key).
/// `group` and `kind` are globs; `name` and `namespace` match exactly when set.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct IgnoreDifference {
    pub group: String,
    pub kind: String,
    pub name: Option<String>,
    pub namespace: Option<String>,
    pub json_pointers: Vec<String>,
    pub jq_path_expressions: Vec<String>,
    pub managed_fields_managers: Vec<String>,
}

/// `spec.syncPolicy`: what decides whether Argo CD heals drift by itself, and the sync options
/// that change how objects are applied (`ServerSideApply=true`, `Replace=true`, …).
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SyncPolicy {
    pub automated: Option<AutomatedSync>,
    pub sync_options: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AutomatedSync {
    pub prune: bool,
    pub self_heal: bool,
}

impl SyncPolicy {
    /// Whether `option` (e.g. `Replace=true`) is among the sync options, compared the way Argo CD
    /// compares them (exact, case-sensitive).
    pub fn has_option(&self, option: &str) -> bool {
        self.sync_options.iter().any(|o| o.trim() == option)
    }
}

/// The Application annotation holding Argo CD's per-app compare options.
pub const COMPARE_OPTIONS_ANNOTATION: &str = "argocd.argoproj.io/compare-options";

impl ApplicationSpec {
    /// Whether the app's compare options (its `argocd.argoproj.io/compare-options` annotation)
    /// say `option` (`ServerSideDiff=true`), compared as Argo CD does (comma list, trimmed).
    pub fn has_compare_option(&self, option: &str) -> bool {
        self.compare_options
            .as_deref()
            .is_some_and(|o| o.split(',').any(|x| x.trim() == option))
    }
}

/// The project an Application with an empty `spec.project` belongs to (the CRD says so, and
/// Argo CD's `GetProject()` resolves it so before checking `Argocd-Project-Name`).
pub const DEFAULT_PROJECT: &str = "default";

impl ApplicationSpec {
    /// The app's project, with Argo CD's rule for an empty value applied.
    pub fn project(&self) -> &str {
        if self.project.is_empty() {
            DEFAULT_PROJECT
        } else {
            &self.project
        }
    }
}

/// `spec.destination`: a cluster given by `server` URL or by `name` (Argo CD requires exactly one),
/// and the default namespace for the app's resources.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Destination {
    pub server: Option<String>,
    pub name: Option<String>,
    pub namespace: Option<String>,
}

impl Destination {
    /// `server` with an empty string treated as absent, the way Argo CD treats it.
    pub fn server(&self) -> Option<&str> {
        self.server.as_deref().filter(|s| !s.is_empty())
    }

    /// `name` with an empty string treated as absent.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref().filter(|s| !s.is_empty())
    }

    pub fn namespace(&self) -> Option<&str> {
        self.namespace.as_deref().filter(|s| !s.is_empty())
    }
}

#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ApplicationStatus {
    pub sync: SyncStatus,
    pub health: HealthStatus,
    pub operation_state: Option<OperationState>,
    pub reconciled_at: Option<String>,
    pub conditions: Vec<Condition>,
    pub resources: Vec<ResourceStatus>,
    /// Successful syncs, oldest first (Argo CD keeps the last ten by default).
    pub history: Vec<RevisionHistory>,
    /// `appTree` (the 3.x default) means per-resource health is not stored in the Application.
    pub resource_health_source: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SyncStatus {
    pub status: Option<String>,
    /// Single-source apps.
    pub revision: Option<String>,
    /// Multi-source apps (`spec.sources`), one per source.
    pub revisions: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HealthStatus {
    pub status: Option<String>,
    pub message: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct OperationState {
    pub phase: Option<String>,
    pub message: Option<String>,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub operation: Operation,
    /// What the operation applied (set once a sync has run).
    pub sync_result: Option<SyncResult>,
}

/// `status.operationState.syncResult`: the revision(s) a sync applied.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SyncResult {
    pub revision: Option<String>,
    /// Multi-source apps, one per source.
    pub revisions: Vec<String>,
}

/// One `status.history[]` entry: a successful sync.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RevisionHistory {
    pub revision: Option<String>,
    pub revisions: Vec<String>,
    pub deployed_at: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Operation {
    pub initiated_by: InitiatedBy,
    pub sync: Option<SyncOperation>,
}

/// Who started an operation: a user (`username`) or the automated sync policy (`automated`).
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct InitiatedBy {
    pub username: Option<String>,
    pub automated: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SyncOperation {
    pub revision: Option<String>,
    pub revisions: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Condition {
    #[serde(rename = "type")]
    pub type_: String,
    pub message: Option<String>,
    pub last_transition_time: Option<String>,
}

/// One entry of `status.resources`: a live object Argo CD tracks for this app.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ResourceStatus {
    /// Empty for the core group.
    pub group: String,
    pub version: String,
    pub kind: String,
    /// Empty for cluster-scoped objects.
    pub namespace: String,
    pub name: String,
    pub status: Option<String>,
    /// Present in the 2.x shape only.
    pub health: Option<HealthStatus>,
    pub hook: bool,
    pub requires_pruning: bool,
}

/// The annotation on an Application that links report repos to it.
pub const REPORT_REPOS_ANNOTATION: &str = "argocd-drift.io/report-repos";

/// One entry of the annotation.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ReportLink {
    pub repo: String,
    /// `None`: every server.
    pub server: Option<String>,
}

/// The entries of an annotation value; empty entries are skipped.
pub fn parse_links(value: &str) -> Vec<ReportLink> {
    let mut links: Vec<ReportLink> = Vec::new();
    for entry in value.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let link = match entry.split_once(':') {
            Some((repo, server)) => ReportLink {
                repo: repo.trim().to_string(),
                server: Some(server.trim().to_string()),
            },
            None => ReportLink {
                repo: entry.to_string(),
                server: None,
            },
        };
        if !links.contains(&link) {
            links.push(link);
        }
    }
    links
}

/// Builders for tests across the crate (`mk_*` fixtures, as in linkerd's index tests).
#[cfg(any(test, feature = "fixtures"))]
pub mod fixtures {
    use super::*;

    pub fn mk_app(namespace: &str, name: &str, project: &str) -> Application {
        Application {
            key: AppKey::new(namespace, name),
            spec: ApplicationSpec {
                project: project.to_string(),
                destination: Destination {
                    server: Some("https://kubernetes.default.svc".to_string()),
                    name: None,
                    namespace: Some("guestbook".to_string()),
                },
                ..Default::default()
            },
            status: ApplicationStatus::default(),
            report_links: Vec::new(),
        }
    }

    pub fn with_sync(mut app: Application, status: &str) -> Application {
        app.status.sync.status = Some(status.to_string());
        app
    }

    pub fn mk_resource(group: &str, kind: &str, namespace: &str, name: &str) -> ResourceStatus {
        ResourceStatus {
            group: group.to_string(),
            version: "v1".to_string(),
            kind: kind.to_string(),
            namespace: namespace.to_string(),
            name: name.to_string(),
            status: Some("Synced".to_string()),
            ..Default::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_application_status_with_unknown_and_missing_fields_still_decodes() {
        let status: ApplicationStatus = serde_json::from_value(serde_json::json!({
            "sync": {"status": "OutOfSync", "comparedTo": {"source": {}}},
            "somethingNew": {"from": "a future Argo CD"},
            "resources": [{"kind": "ConfigMap", "name": "a", "version": "v1"}]
        }))
        .unwrap();
        assert_eq!(status.sync.status.as_deref(), Some("OutOfSync"));
        assert_eq!(status.resources[0].group, "");
        assert_eq!(status.resources[0].health, None);
        assert!(status.conditions.is_empty());
    }

    #[test]
    fn a_spec_with_ignore_differences_and_sync_options_decodes_with_defaults() {
        let spec: ApplicationSpec = serde_json::from_value(serde_json::json!({
            "project": "p",
            "ignoreDifferences": [{"group": "apps", "kind": "Deployment",
                                   "jsonPointers": ["/spec/replicas"]},
                                  {"kind": "ConfigMap", "jqPathExpressions": [".data.x"]}],
            "syncPolicy": {"automated": {"selfHeal": true},
                           "syncOptions": ["ServerSideApply=true"]}
        }))
        .unwrap();
        assert_eq!(spec.ignore_differences.len(), 2);
        assert_eq!(spec.ignore_differences[0].json_pointers, ["/spec/replicas"]);
        assert_eq!(spec.ignore_differences[1].group, "");
        let policy = spec.sync_policy.unwrap();
        assert!(policy.automated.as_ref().unwrap().self_heal);
        assert!(policy.has_option("ServerSideApply=true"));
        assert!(!policy.has_option("Replace=true"));
    }

    #[test]
    fn an_empty_project_is_the_default_project() {
        let mut spec = ApplicationSpec::default();
        assert_eq!(spec.project(), "default");
        spec.project = "team-a".into();
        assert_eq!(spec.project(), "team-a");
    }

    #[test]
    fn empty_destination_fields_count_as_absent() {
        let d = Destination {
            server: Some(String::new()),
            name: Some("in-cluster".into()),
            namespace: Some(String::new()),
        };
        assert_eq!(d.server(), None);
        assert_eq!(d.name(), Some("in-cluster"));
        assert_eq!(d.namespace(), None);
    }
}
