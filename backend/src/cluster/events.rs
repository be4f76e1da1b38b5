//! Kubernetes Events on Applications (core/v1 `events` in the app's namespace): the drift
//! episode edges, told by the replica whose write stored them (see `crate::events`).

use super::describe;
use super::own::WriteError;
use drift_core::app::AppKey;
use drift_core::history::event::REPORTING_CONTROLLER;
use jiff::Timestamp;
use k8s_openapi::api::core::v1::Event;
use kube::api::{Api, PostParams};
use serde_json::json;
use std::time::Duration;

/// One Event to create: everything in it comes from the drift history's record (names, paths,
/// managers, the Argo CD user) — never a value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppEvent {
    pub app: AppKey,
    /// The Application's uid, when the index has it (Argo CD's Events panel selects on it).
    pub uid: Option<String>,
    /// Deterministic: every replica names the same edge alike.
    pub name: String,
    pub reason: &'static str,
    pub event_type: &'static str,
    pub message: String,
    pub at: Timestamp,
}

/// What a create did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Created {
    Created,
    /// An Event of that name exists: this edge was told already.
    AlreadyExists,
}

/// Creates Events. Cheap to clone.
#[derive(Clone)]
pub struct EventWriter {
    client: kube::Client,
    request_timeout: Duration,
}

impl EventWriter {
    pub(super) fn new(client: kube::Client, request_timeout: Duration) -> EventWriter {
        EventWriter {
            client,
            request_timeout,
        }
    }

    pub async fn create(&self, event: &AppEvent) -> Result<Created, WriteError> {
        let api: Api<Event> = Api::namespaced(self.client.clone(), &event.app.namespace);
        let object: Event = serde_json::from_value(to_object(event))
            .map_err(|e| WriteError::Invalid(e.to_string()))?;
        let params = PostParams::default();
        let call = api.create(&params, &object);
        match tokio::time::timeout(self.request_timeout, call).await {
            Ok(Ok(_)) => Ok(Created::Created),
            Ok(Err(kube::Error::Api(status))) => match status.code {
                409 => Ok(Created::AlreadyExists),
                422 | 400 => Err(WriteError::Invalid(status.message.clone())),
                403 => Err(WriteError::Forbidden(super::describe_status(
                    403,
                    &status.message,
                ))),
                404 => Err(WriteError::NotFound),
                code => Err(WriteError::Unreachable(super::describe_status(
                    code,
                    &status.message,
                ))),
            },
            Ok(Err(error)) => Err(WriteError::Unreachable(describe(&error))),
            Err(_) => Err(WriteError::Unreachable(format!(
                "no answer within {} s",
                self.request_timeout.as_secs()
            ))),
        }
    }
}

/// The Event as core/v1 has it: `involvedObject` the Application, the legacy time fields (no
/// `eventTime`, so `kubectl get events` and Argo CD's Events panel show it like their own).
pub fn to_object(event: &AppEvent) -> serde_json::Value {
    let mut involved = json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "namespace": event.app.namespace,
        "name": event.app.name,
    });
    if let Some(uid) = &event.uid {
        involved["uid"] = uid.clone().into();
    }
    // Whole seconds, as Kubernetes stores these fields.
    let at = Timestamp::from_second(event.at.as_second())
        .unwrap_or(event.at)
        .to_string();
    json!({
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {
            "name": event.name,
            "namespace": event.app.namespace,
            "labels": {"app.kubernetes.io/managed-by": "argocd-drift"},
        },
        "involvedObject": involved,
        "reason": event.reason,
        "message": event.message,
        "type": event.event_type,
        "source": {"component": REPORTING_CONTROLLER},
        "reportingComponent": REPORTING_CONTROLLER,
        "reportingInstance": "",
        "firstTimestamp": at,
        "lastTimestamp": at,
        "count": 1,
    })
}
