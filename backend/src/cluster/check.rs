//! What `argocd-drift check` asks the Kubernetes API, with this process's own identity: whether
//! the server answers, whether Applications can be listed and watched, whether the project's
//! kinds are served and writable, and Argo CD's objects the pure checks
//! (`drift_core::install`) judge. Nothing is written: writes are dry runs, and an update or
//! delete of a name that does not exist tells RBAC's answer (403) from the object's (404).

use super::own::{GROUP, OwnKind, VERSION};
use super::{Connection, apps, describe};
use drift_core::install::Read;
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, ListParams, PostParams, WatchParams,
};
use std::collections::BTreeMap;

/// What listing and watching Applications in one scope gave.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AppAccess {
    /// Both allowed; at least this many Applications (the first page of one).
    Allowed { seen: usize, more: bool },
    /// Refused or failed: which call, and why.
    Refused { call: &'static str, why: String },
    /// The Application kind is not served (Argo CD's CRDs are not installed).
    NotServed(String),
}

/// What the project's own kind allows in `POD_NAMESPACE`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OwnAccess {
    /// Served; the verbs refused (empty: every verb the backend uses is allowed).
    Served {
        refused: Vec<(&'static str, String)>,
    },
    NotServed(String),
}

/// A name no object has: update and delete of it reach RBAC, then 404.
const PROBE_NAME: &str = "argocd-drift-check-probe-0";

impl Connection {
    /// The API server's version (`/version`), e.g. `v1.37.1`.
    pub async fn server_version(&self) -> Result<String, String> {
        match tokio::time::timeout(self.request_timeout, self.client.apiserver_version()).await {
            Ok(Ok(info)) => Ok(info.git_version),
            Ok(Err(e)) => Err(describe(&e)),
            Err(_) => Err(format!(
                "no answer within {} s",
                self.request_timeout.as_secs()
            )),
        }
    }

    /// Whether Applications can be listed and watched in `namespace` (`None`: all namespaces).
    pub async fn application_access(&self, namespace: Option<&str>) -> AppAccess {
        let resource = apps::application_resource();
        let api: Api<DynamicObject> = match namespace {
            Some(ns) => Api::namespaced_with(self.client.clone(), ns, &resource),
            None => Api::all_with(self.client.clone(), &resource),
        };
        let list = match self
            .bounded(api.list(&ListParams::default().limit(1)))
            .await
        {
            Ok(list) => list,
            Err(Failure::Api(404, why)) => return AppAccess::NotServed(why),
            Err(failure) => {
                return AppAccess::Refused {
                    call: "list",
                    why: failure.to_string(),
                };
            }
        };
        let version = list.metadata.resource_version.clone().unwrap_or_default();
        // The response head is RBAC's answer; the stream itself is dropped at once.
        let watch = WatchParams::default().timeout(1);
        if let Err(failure) = self.bounded(api.watch(&watch, &version)).await {
            return AppAccess::Refused {
                call: "watch",
                why: failure.to_string(),
            };
        }
        AppAccess::Allowed {
            seen: list.items.len(),
            more: list.metadata.continue_.is_some_and(|c| !c.is_empty()),
        }
    }

    /// Whether `kind` is served and the backend may get, list, watch, create, update and delete
    /// it in `namespace`. Creates are dry runs.
    pub async fn own_access(&self, kind: OwnKind, namespace: &str) -> OwnAccess {
        let resource = ApiResource {
            group: GROUP.to_string(),
            version: VERSION.to_string(),
            api_version: format!("{GROUP}/{VERSION}"),
            kind: kind.kind.to_string(),
            plural: kind.plural.to_string(),
        };
        let api: Api<DynamicObject> =
            Api::namespaced_with(self.client.clone(), namespace, &resource);
        let mut refused = Vec::new();
        match self
            .bounded(api.list(&ListParams::default().limit(1)))
            .await
        {
            Ok(_) => {}
            Err(Failure::Api(404, why)) => return OwnAccess::NotServed(why),
            Err(failure) => refused.push(("list", failure.to_string())),
        }
        if let Err(failure) = self
            .bounded(api.watch(&WatchParams::default().timeout(1), "0"))
            .await
        {
            refused.push(("watch", failure.to_string()));
        }
        // A get of a missing name is 404 when allowed.
        if let Err(Failure::Api(code, why)) = self.bounded(api.get(PROBE_NAME)).await
            && code != 404
        {
            refused.push(("get", why));
        }
        let dry = PostParams {
            dry_run: true,
            ..Default::default()
        };
        let mut object = DynamicObject::new(PROBE_NAME, &resource);
        object.metadata.namespace = Some(namespace.to_string());
        // Allowed: created (dry run), or refused by the schema (422) after RBAC let it through.
        if let Err(Failure::Api(code, why)) = self.bounded(api.create(&dry, &object)).await
            && code != 422
        {
            refused.push(("create", why));
        }
        object.metadata.resource_version = Some("1".to_string());
        if let Err(Failure::Api(code, why)) =
            self.bounded(api.replace(PROBE_NAME, &dry, &object)).await
            && !matches!(code, 404 | 409 | 422)
        {
            refused.push(("update", why));
        }
        let delete = DeleteParams {
            dry_run: true,
            ..Default::default()
        };
        if let Err(Failure::Api(code, why)) = self.bounded(api.delete(PROBE_NAME, &delete)).await
            && code != 404
        {
            refused.push(("delete", why));
        }
        OwnAccess::Served { refused }
    }

    /// A ConfigMap's `data`.
    pub async fn read_config_map(
        &self,
        namespace: &str,
        name: &str,
    ) -> Read<BTreeMap<String, String>> {
        let api: Api<k8s_openapi::api::core::v1::ConfigMap> =
            Api::namespaced(self.client.clone(), namespace);
        match self.bounded(api.get(name)).await {
            Ok(cm) => Read::Found(cm.data.unwrap_or_default().into_iter().collect()),
            Err(failure) => failure.into_read(),
        }
    }

    /// A Deployment, as JSON.
    pub async fn read_deployment(&self, namespace: &str, name: &str) -> Read<serde_json::Value> {
        let api: Api<k8s_openapi::api::apps::v1::Deployment> =
            Api::namespaced(self.client.clone(), namespace);
        match self.bounded(api.get(name)).await {
            Ok(d) => match serde_json::to_value(d) {
                Ok(value) => Read::Found(value),
                Err(e) => Read::Failed(e.to_string()),
            },
            Err(failure) => failure.into_read(),
        }
    }

    async fn bounded<T>(
        &self,
        call: impl Future<Output = Result<T, kube::Error>>,
    ) -> Result<T, Failure> {
        match tokio::time::timeout(self.request_timeout, call).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(kube::Error::Api(status))) => Err(Failure::Api(
                status.code,
                describe(&kube::Error::Api(status)),
            )),
            Ok(Err(e)) => Err(Failure::Other(describe(&e))),
            Err(_) => Err(Failure::Other(format!(
                "no answer within {} s",
                self.request_timeout.as_secs()
            ))),
        }
    }
}

/// A call that did not succeed: the API server's status and message, or a transport failure.
#[derive(Debug)]
enum Failure {
    Api(u16, String),
    Other(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Api(_, why) | Failure::Other(why) => f.write_str(why),
        }
    }
}

impl Failure {
    fn into_read<T>(self) -> Read<T> {
        match self {
            Failure::Api(404, _) => Read::Absent,
            Failure::Api(403, why) => Read::Forbidden(why),
            Failure::Api(_, why) | Failure::Other(why) => Read::Failed(why),
        }
    }
}
