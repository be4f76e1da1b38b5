//! Discovery documents, built from the [`Registry`].
//!
//! Both discovery flavours are served: the legacy one (`/api` APIVersions, `/apis`
//! APIGroupList, `/apis/{g}` APIGroup, `/api/v1` and `/apis/{g}/{v}` APIResourceList) and
//! aggregated discovery (`apidiscovery.k8s.io/v2` `APIGroupDiscoveryList` on `/api` and
//! `/apis` when the `Accept` header asks for it), which `kube::Discovery::run_aggregated` and
//! kubectl use.

use std::net::SocketAddr;

use serde_json::{Value, json};

use crate::registry::{Registry, ResourceType};

/// The version the fake claims to be.
pub(crate) const GIT_VERSION: &str = "v1.37.1";

/// The media type of aggregated discovery responses.
pub(crate) const AGGREGATED_CONTENT_TYPE: &str =
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

/// Whether the `Accept` header asks for aggregated discovery.
pub(crate) fn wants_aggregated(accept: Option<&str>) -> bool {
    accept.is_some_and(|a| {
        a.split(',').next().is_some_and(|first| {
            first.contains("as=APIGroupDiscoveryList") && first.contains("g=apidiscovery.k8s.io")
        })
    })
}

const VERBS: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

pub(crate) fn version() -> Value {
    json!({
        "major": "1",
        "minor": "33",
        "emulationMajor": "1",
        "emulationMinor": "33",
        "minCompatibilityMajor": "1",
        "minCompatibilityMinor": "32",
        "gitVersion": GIT_VERSION,
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2025-04-23T00:00:00Z",
        "goVersion": "go1.24.2",
        "compiler": "gc",
        "platform": "linux/amd64",
    })
}

/// `/api`: APIVersions.
pub(crate) fn core_versions(addr: SocketAddr) -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": addr.to_string()}],
    })
}

fn group_json(name: &str, versions: &[String]) -> Value {
    let gv = |v: &String| json!({"groupVersion": format!("{name}/{v}"), "version": v});
    json!({
        "name": name,
        "versions": versions.iter().map(gv).collect::<Vec<_>>(),
        "preferredVersion": versions.first().map(gv).unwrap_or(Value::Null),
    })
}

/// `/apis`: APIGroupList (every group but the core one).
pub(crate) fn group_list(registry: &Registry) -> Value {
    let groups: Vec<Value> = registry
        .groups()
        .iter()
        .filter(|g| !g.name.is_empty())
        .map(|g| group_json(&g.name, &g.versions))
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// `/apis/{group}`: APIGroup, or `None` for an unknown group.
pub(crate) fn group(registry: &Registry, name: &str) -> Option<Value> {
    let info = registry
        .groups()
        .into_iter()
        .find(|g| g.name == name && !name.is_empty())?;
    let mut value = group_json(&info.name, &info.versions);
    if let Some(map) = value.as_object_mut() {
        map.insert("kind".into(), "APIGroup".into());
        map.insert("apiVersion".into(), "v1".into());
    }
    Some(value)
}

fn resource_json(rt: &ResourceType) -> Value {
    let mut value = json!({
        "name": rt.plural,
        "singularName": rt.singular,
        "namespaced": rt.namespaced,
        "kind": rt.kind,
        "verbs": VERBS,
    });
    if let Some(map) = value.as_object_mut() {
        if !rt.short_names.is_empty() {
            map.insert("shortNames".into(), json!(rt.short_names));
        }
        if !rt.categories.is_empty() {
            map.insert("categories".into(), json!(rt.categories));
        }
    }
    value
}

/// `/api/v1` or `/apis/{group}/{version}`: APIResourceList, or `None` if not served.
pub(crate) fn resource_list(registry: &Registry, group: &str, version: &str) -> Option<Value> {
    let types = registry.resources_in(group, version);
    if types.is_empty() {
        return None;
    }
    let mut resources = Vec::new();
    for rt in &types {
        resources.push(resource_json(rt));
        if rt.status_subresource {
            resources.push(json!({
                "name": format!("{}/status", rt.plural),
                "singularName": "",
                "namespaced": rt.namespaced,
                "kind": rt.kind,
                "verbs": ["get", "patch", "update"],
            }));
        }
        if rt.has_scale() {
            resources.push(json!({
                "name": format!("{}/scale", rt.plural),
                "singularName": "",
                "namespaced": rt.namespaced,
                "group": "autoscaling",
                "version": "v1",
                "kind": "Scale",
                "verbs": ["get", "patch", "update"],
            }));
        }
    }
    Some(json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": types[0].api_version(),
        "resources": resources,
    }))
}

fn aggregated_resource(rt: &ResourceType) -> Value {
    let response_kind = json!({"group": rt.group, "version": rt.version, "kind": rt.kind});
    let mut value = json!({
        "resource": rt.plural,
        "responseKind": response_kind,
        "scope": if rt.namespaced { "Namespaced" } else { "Cluster" },
        "singularResource": rt.singular,
        "verbs": VERBS,
    });
    if let Some(map) = value.as_object_mut() {
        if !rt.short_names.is_empty() {
            map.insert("shortNames".into(), json!(rt.short_names));
        }
        if !rt.categories.is_empty() {
            map.insert("categories".into(), json!(rt.categories));
        }
        let mut subresources = Vec::new();
        if rt.status_subresource {
            subresources.push(
                json!({"subresource": "status", "responseKind": response_kind,
                                     "verbs": ["get", "patch", "update"]}),
            );
        }
        if rt.has_scale() {
            subresources.push(json!({
                "subresource": "scale",
                "responseKind": {"group": "autoscaling", "version": "v1", "kind": "Scale"},
                "verbs": ["get", "patch", "update"],
            }));
        }
        if !subresources.is_empty() {
            map.insert("subresources".into(), Value::Array(subresources));
        }
    }
    value
}

/// Aggregated discovery for the core group (`core = true`, `/api`) or the others (`/apis`).
pub(crate) fn aggregated(registry: &Registry, core: bool) -> Value {
    let items: Vec<Value> = registry
        .groups()
        .iter()
        .filter(|g| g.name.is_empty() == core)
        .map(|g| {
            let versions: Vec<Value> = g
                .versions
                .iter()
                .map(|v| {
                    let resources: Vec<Value> = registry
                        .resources_in(&g.name, v)
                        .iter()
                        .map(|rt| aggregated_resource(rt))
                        .collect();
                    json!({"version": v, "resources": resources, "freshness": "Current"})
                })
                .collect();
            let metadata = if core {
                json!({"creationTimestamp": null})
            } else {
                json!({"name": g.name, "creationTimestamp": null})
            };
            json!({"metadata": metadata, "versions": versions})
        })
        .collect();
    json!({
        "kind": "APIGroupDiscoveryList",
        "apiVersion": "apidiscovery.k8s.io/v2",
        "metadata": {},
        "items": items,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_core_resource_list_has_namespaces_cluster_scoped_with_status() {
        let list = resource_list(&Registry::builtin(), "", "v1").unwrap();
        let resources = list["resources"].as_array().unwrap();
        let ns = resources
            .iter()
            .find(|r| r["name"] == "namespaces")
            .unwrap();
        assert_eq!(ns["namespaced"], false);
        assert_eq!(ns["shortNames"], json!(["ns"]));
        assert!(resources.iter().any(|r| r["name"] == "namespaces/status"));
        assert_eq!(list["groupVersion"], "v1");
    }

    #[test]
    fn aggregated_discovery_is_detected_from_the_accept_header() {
        assert!(wants_aggregated(Some(AGGREGATED_CONTENT_TYPE)));
        assert!(!wants_aggregated(Some("application/json")));
        assert!(!wants_aggregated(None));
    }
}
