//! What belongs to an Application.
//!
//! Argo CD authorized exactly one thing: this user may `get` this Application. Anything a request
//! names besides the app itself — a namespace, a cluster, a resource — must be shown to belong to
//! that app before it is used, or a user of one app could read another app's objects through ours.
//! The app's own record decides: its `spec.destination` and the resources in `status.resources`.

use super::app::{Application, Destination, ResourceStatus};
use std::fmt;

/// A live object, named the way `status.resources` names it (empty group = core, empty namespace
/// = cluster-scoped).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ResourceRef {
    pub group: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
}

impl ResourceRef {
    /// Parses `group/kind/namespace/name`; the core group and cluster scope are empty segments
    /// (`/ConfigMap/default/settings`, `rbac.authorization.k8s.io/ClusterRole//viewer`).
    pub fn parse(s: &str) -> Option<ResourceRef> {
        let mut parts = s.split('/');
        let (group, kind, namespace, name) =
            (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() || kind.is_empty() || name.is_empty() {
            return None;
        }
        Some(ResourceRef {
            group: group.to_string(),
            kind: kind.to_string(),
            namespace: namespace.to_string(),
            name: name.to_string(),
        })
    }

    /// Whether `r` is this resource (any version).
    pub fn matches(&self, r: &ResourceStatus) -> bool {
        r.group == self.group
            && r.kind == self.kind
            && r.namespace == self.namespace
            && r.name == self.name
    }
}

impl fmt::Display for ResourceRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{}/{}/{}",
            self.group, self.kind, self.namespace, self.name
        )
    }
}

/// Is `namespace` one the app deploys to: its destination namespace, or the namespace of any
/// resource it tracks?
pub fn namespace_belongs(app: &Application, namespace: &str) -> bool {
    app.spec.destination.namespace() == Some(namespace)
        || app
            .status
            .resources
            .iter()
            .any(|r| r.namespace == namespace)
}

/// Is `cluster` the app's destination, given either as the cluster name or the server URL?
pub fn cluster_belongs(app: &Application, cluster: &str) -> bool {
    let d = &app.spec.destination;
    d.name() == Some(cluster) || d.server() == Some(cluster)
}

/// Is this resource one Argo CD tracks for the app?
pub fn resource_belongs(app: &Application, resource: &ResourceRef) -> bool {
    app.status.resources.iter().any(|r| resource.matches(r))
}

/// How cluster headers claimed by a request compare with the app's destination.
///
/// Argo CD sets `Argocd-Target-Cluster-Name` only when `spec.destination.name` is non-empty and
/// `Argocd-Target-Cluster-URL` only when `spec.destination.server` is; it does not strip either
/// when a client sends them. So a header the app gives no value for, or a value that differs, is
/// an injected claim.
pub fn cluster_claims_consistent(
    destination: &Destination,
    claimed_name: Option<&str>,
    claimed_url: Option<&str>,
) -> Result<(), ClusterClaimMismatch> {
    if let Some(claimed) = claimed_name
        && destination.name() != Some(claimed)
    {
        return Err(ClusterClaimMismatch::Name);
    }
    if let Some(claimed) = claimed_url
        && destination.server() != Some(claimed)
    {
        return Err(ClusterClaimMismatch::Url);
    }
    Ok(())
}

/// Which cluster header disagreed with `spec.destination`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClusterClaimMismatch {
    /// `Argocd-Target-Cluster-Name` differs from `spec.destination.name`, or the app has none.
    Name,
    /// `Argocd-Target-Cluster-URL` differs from `spec.destination.server`, or the app has none.
    Url,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::fixtures::{mk_app, mk_resource};

    fn app() -> Application {
        let mut app = mk_app("argocd", "guestbook", "default");
        app.status.resources = vec![
            mk_resource("", "Service", "guestbook", "ui"),
            mk_resource("apps", "Deployment", "guestbook-extra", "ui"),
            mk_resource("rbac.authorization.k8s.io", "ClusterRole", "", "viewer"),
        ];
        app
    }

    #[test]
    fn namespaces_of_the_destination_and_of_tracked_resources_belong() {
        let app = app();
        assert!(namespace_belongs(&app, "guestbook"));
        assert!(namespace_belongs(&app, "guestbook-extra"));
        assert!(!namespace_belongs(&app, "kube-system"));
        assert!(
            !namespace_belongs(&app, "argocd"),
            "the app's own namespace is not a deploy target"
        );
    }

    #[test]
    fn an_empty_namespace_belongs_only_when_the_app_tracks_a_cluster_scoped_object() {
        assert!(namespace_belongs(&app(), ""));
        let mut bare = app();
        bare.status.resources.truncate(1);
        assert!(!namespace_belongs(&bare, ""));
    }

    #[test]
    fn the_cluster_must_be_the_destination_by_name_or_by_server() {
        let mut app = app();
        assert!(cluster_belongs(&app, "https://kubernetes.default.svc"));
        assert!(!cluster_belongs(&app, "https://prod.example"));
        assert!(!cluster_belongs(&app, ""));
        app.spec.destination = Destination {
            server: None,
            name: Some("prod".into()),
            namespace: None,
        };
        assert!(cluster_belongs(&app, "prod"));
        assert!(!cluster_belongs(&app, "https://kubernetes.default.svc"));
    }

    #[test]
    fn only_tracked_resources_belong() {
        let app = app();
        let own = ResourceRef::parse("/Service/guestbook/ui").unwrap();
        let cluster_scoped =
            ResourceRef::parse("rbac.authorization.k8s.io/ClusterRole//viewer").unwrap();
        let other_kind = ResourceRef::parse("/Secret/guestbook/ui").unwrap();
        let other_ns = ResourceRef::parse("/Service/kube-system/ui").unwrap();
        assert!(resource_belongs(&app, &own));
        assert!(resource_belongs(&app, &cluster_scoped));
        assert!(!resource_belongs(&app, &other_kind));
        assert!(!resource_belongs(&app, &other_ns));
    }

    #[test]
    fn resource_refs_need_four_segments_with_a_kind_and_a_name() {
        assert_eq!(
            ResourceRef::parse("/ConfigMap/default/x")
                .unwrap()
                .to_string(),
            "/ConfigMap/default/x"
        );
        for bad in [
            "",
            "a/b/c",
            "/ConfigMap/default/",
            "//default/x",
            "a/b/c/d/e",
        ] {
            assert_eq!(ResourceRef::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn cluster_headers_must_repeat_the_destination_or_be_absent() {
        let by_server = Destination {
            server: Some("https://kubernetes.default.svc".into()),
            name: None,
            namespace: None,
        };
        assert_eq!(cluster_claims_consistent(&by_server, None, None), Ok(()));
        assert_eq!(
            cluster_claims_consistent(&by_server, None, Some("https://kubernetes.default.svc")),
            Ok(())
        );
        assert_eq!(
            cluster_claims_consistent(&by_server, None, Some("https://prod.example")),
            Err(ClusterClaimMismatch::Url)
        );
        // Injected: the app has no destination name, so Argo CD never sends this header.
        assert_eq!(
            cluster_claims_consistent(&by_server, Some("in-cluster"), None),
            Err(ClusterClaimMismatch::Name)
        );

        let by_name = Destination {
            server: None,
            name: Some("prod".into()),
            namespace: None,
        };
        assert_eq!(
            cluster_claims_consistent(&by_name, Some("prod"), None),
            Ok(())
        );
        assert_eq!(
            cluster_claims_consistent(
                &by_name,
                Some("prod"),
                Some("https://kubernetes.default.svc")
            ),
            Err(ClusterClaimMismatch::Url)
        );
    }
}
