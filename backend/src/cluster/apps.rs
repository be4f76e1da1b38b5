//! Argo CD Applications: one list+watch per watch scope (a namespace of `ARGOCD_NAMESPACES`, or
//! all of them), decoded into the slim model and stored in the [`AppIndex`].
//!
//! Objects are read as `DynamicObject` and decoded one by one, so a single Application that
//! cannot be decoded is logged and dropped instead of failing the whole list. (Keeping its last
//! readable version would serve it stale while the scope looks fresh.)

use super::watch::{Sink, WatchSpec, WatchTasks};
use crate::index::{AppIndex, ListedApp, ObjectVersion, WatchScope};
use crate::metrics::Metrics;
use crate::readiness::Readiness;
use drift_core::app::{AppKey, Application, COMPARE_OPTIONS_ANNOTATION, DecodeError};
use drift_core::reports::links::REPORT_REPOS_ANNOTATION;
use jiff::Timestamp;
use kube::api::{ApiResource, DynamicObject, GroupVersionKind};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The Application resource (argoproj.io/v1alpha1).
pub fn application_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("argoproj.io", "v1alpha1", "Application"),
        "applications",
    )
}

/// Starts one watch per scope of the index; each scope is a readiness source.
pub fn watch_applications(
    tasks: &mut WatchTasks,
    client: &kube::Client,
    index: &AppIndex,
    readiness: &Readiness,
    metrics: &Arc<Metrics>,
    request_timeout: Duration,
) {
    for scope in index.scopes() {
        let namespace = match &scope {
            WatchScope::AllNamespaces => None,
            WatchScope::Namespace(ns) => Some(ns.clone()),
        };
        let source = readiness.source(format!(
            "the first list of applications in namespace {}",
            scope.label()
        ));
        let spec = WatchSpec {
            resource: application_resource(),
            namespace,
            label_selector: None,
            field_selector: None,
        };
        let sink = AppSink {
            index: index.clone(),
            scope,
            metrics: Arc::clone(metrics),
            list_version: Mutex::default(),
            undecodable: Mutex::default(),
        };
        tasks.spawn_watch(
            client,
            spec,
            sink,
            source,
            Arc::clone(metrics),
            request_timeout,
        );
    }
}

/// One scope of the index, as a watch sink.
struct AppSink {
    index: AppIndex,
    scope: WatchScope,
    metrics: Arc<Metrics>,
    /// The resourceVersion of the list being handed over: apps missing from it were gone by then.
    list_version: Mutex<String>,
    /// Apps of the list being taken that cannot be decoded: they exist, so are not gone.
    undecodable: Mutex<Vec<AppKey>>,
}

impl Sink for AppSink {
    /// Packed as each page arrives (see the index's memory notes).
    type Listed = ListedApp;

    fn listed(&self, object: DynamicObject) -> Option<ListedApp> {
        let version = version_of(&object);
        let key = key_of(&object);
        let app = self.decode(object);
        if app.is_none()
            && let Some(key) = key
        {
            self.undecodable
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .push(key);
        }
        app.map(|app| ListedApp::new(&app, &version))
    }

    fn list_version(&self, resource_version: &str) {
        *self
            .list_version
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = resource_version.to_string();
    }

    fn replace(&self, apps: Vec<ListedApp>, now: Timestamp) {
        let list_version = self
            .list_version
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone();
        let undecodable = std::mem::take(
            &mut *self
                .undecodable
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        );
        self.index
            .replace_scope_versions(&self.scope, apps, &undecodable, &list_version, now);
        self.metrics.set_applications(self.index.len());
    }

    fn apply(&self, object: DynamicObject, now: Timestamp) {
        let key = key_of(&object);
        let version = version_of(&object);
        match self.decode(object) {
            Some(app) => self.index.apply_version(app, version, now),
            None => {
                if let Some(key) = key {
                    self.index.remove(&key);
                }
            }
        }
        self.metrics.set_applications(self.index.len());
    }

    fn delete(&self, object: DynamicObject, now: Timestamp) {
        if let Some(key) = key_of(&object) {
            let version = version_of(&object);
            self.index.delete(&key, &version.resource_version, now);
        }
        self.metrics.set_applications(self.index.len());
    }

    /// The drift history takes turns over a bounded channel: the watch waits for room.
    async fn settle(&self) {
        self.index.flush_turns().await;
    }

    fn stale(&self, why: &str, now: Timestamp) {
        // A list that failed part way starts again: what it found undecodable is not current.
        self.forget_undecodable();
        self.index.mark_stale(&self.scope, why.to_string(), now);
    }

    fn fresh(&self) {
        self.index.mark_fresh(&self.scope);
    }

    fn relisting(&self) {
        self.forget_undecodable();
        self.index.mark_gap(&self.scope);
    }
}

impl AppSink {
    fn forget_undecodable(&self) {
        self.undecodable
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clear();
    }

    fn decode(&self, obj: DynamicObject) -> Option<Application> {
        decode_application(obj)
            .inspect_err(|error| {
                tracing::warn!(scope = self.scope.label(), %error, "skipping an Application that cannot be read");
            })
            .ok()
    }
}

/// The slim Application of a dynamic object (the decoding rules are core's).
pub fn decode_application(mut obj: DynamicObject) -> Result<Application, DecodeError> {
    let take = |obj: &mut DynamicObject, field: &str| {
        obj.data
            .get_mut(field)
            .map(serde_json::Value::take)
            .unwrap_or_default()
    };
    let (spec, status) = (take(&mut obj, "spec"), take(&mut obj, "status"));
    let annotation = |key: &str| {
        obj.metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(key))
            .cloned()
    };
    let links = annotation(REPORT_REPOS_ANNOTATION);
    let compare_options = annotation(COMPARE_OPTIONS_ANNOTATION);
    let mut app = Application::decode(
        obj.metadata.namespace.take(),
        obj.metadata.name.take(),
        spec,
        status,
    )?
    .with_report_links(links.as_deref());
    app.spec.compare_options = compare_options;
    Ok(app)
}

/// The object's uid and resourceVersion: episodes are named and ordered by them.
fn version_of(obj: &DynamicObject) -> ObjectVersion {
    ObjectVersion {
        uid: obj.metadata.uid.clone().unwrap_or_default(),
        resource_version: obj.metadata.resource_version.clone().unwrap_or_default(),
    }
}

fn key_of(obj: &DynamicObject) -> Option<AppKey> {
    Some(AppKey::new(
        obj.metadata.namespace.clone()?,
        obj.metadata.name.clone()?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dynamic(value: serde_json::Value) -> DynamicObject {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn decodes_an_application_and_skips_what_is_not_read() {
        let app = decode_application(dynamic(serde_json::json!({
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Application",
            "metadata": {"namespace": "argocd", "name": "guestbook", "managedFields": [{"manager": "argocd-controller"}],
                "annotations": {"argocd-drift.io/report-repos": "rsyslog"}},
            "spec": {"project": "default", "destination": {"server": "https://kubernetes.default.svc"}, "source": {}},
            "status": {"sync": {"status": "Synced"}},
            "operation": {"sync": {}}
        })))
        .unwrap();
        assert_eq!(app.key, AppKey::new("argocd", "guestbook"));
        assert_eq!(app.spec.project, "default");
        assert_eq!(app.sync_status(), Some("Synced"));
        assert_eq!(app.report_links[0].repo, "rsyslog");
    }

    #[test]
    fn an_application_without_status_reads_as_not_yet_compared() {
        let app = decode_application(dynamic(serde_json::json!({
            "metadata": {"namespace": "argocd", "name": "new"},
            "spec": {"project": "default"}
        })))
        .unwrap();
        assert_eq!(app.sync_status(), None);
    }

    #[test]
    fn an_unreadable_application_is_reported_not_fatal() {
        let err = decode_application(dynamic(serde_json::json!({
            "metadata": {"namespace": "argocd", "name": "odd"},
            "spec": {"project": ["not", "a", "string"]}
        })))
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("argocd:odd: .spec cannot be read"),
            "{err}"
        );
        assert!(matches!(
            decode_application(dynamic(serde_json::json!({"metadata": {"name": "x"}}))),
            Err(DecodeError::Unnamed)
        ));
    }
}
