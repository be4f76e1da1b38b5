//! The trust boundary every proxy-facing request passes before a handler runs.
//!
//! In order (ARGOCD.md, "Security facts"):
//!
//! 1. **authenticate** — the shared secret Argo CD adds from its extension config, compared in
//!    constant time. Without it nothing else about the request can be believed.
//! 2. **identify** — the `Argocd-*` headers parsed into a [`Caller`] (400 on anything malformed).
//! 3. **admit** — the Application looked up in the watch-fed index (never the API server), then
//!    checked against the claims: the project must be the app's; cluster headers must repeat the
//!    app's destination (Argo CD does not strip injected ones); anything the query names must
//!    belong to the app. Group claims are not consulted at all: Argo CD forwards client-supplied
//!    groups untouched, so a group may never grant access.
//!
//! What comes out is an [`AppContext`]: the only way a handler gets an Application.

use super::argocd::{Caller, parse_caller};
use super::credentials::Credentials;
use super::error::ApiError;
use super::query::Query;
use crate::config::ProxyAuth;
use crate::index::{AppIndex, Lookup};
use drift_core::scope::{
    ResourceRef, cluster_belongs, cluster_claims_consistent, namespace_belongs, resource_belongs,
};
use drift_core::tracking::{Freshness, IndexedApp};
use http::{HeaderMap, header};
use std::sync::Arc;

/// A request that passed the gate: who asks, and the one Application they may see.
#[derive(Debug)]
pub struct AppContext {
    pub caller: Caller,
    pub app: Arc<IndexedApp>,
    pub freshness: Freshness,
}

pub struct Gate {
    /// `None`: development mode, no secret required.
    credentials: Option<Arc<Credentials>>,
    index: AppIndex,
}

impl Gate {
    pub fn new(auth: ProxyAuth, index: AppIndex) -> Self {
        let credentials = match auth {
            ProxyAuth::Token(token) => Some(Arc::new(Credentials::new(token))),
            ProxyAuth::Disabled => None,
        };
        Gate { credentials, index }
    }

    /// The accepted tokens, for rotation from `PROXY_TOKEN_FILE`.
    pub fn credentials(&self) -> Option<Arc<Credentials>> {
        self.credentials.clone()
    }

    pub fn index(&self) -> &AppIndex {
        &self.index
    }

    /// Step 1: the request carries `Authorization: Bearer <shared secret>`.
    pub fn authenticate(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        let Some(credentials) = &self.credentials else {
            return Ok(());
        };
        let mut values = headers.get_all(header::AUTHORIZATION).iter();
        let value = values.next().ok_or(ApiError::MissingCredentials)?;
        if values.next().is_some() {
            return Err(ApiError::InvalidCredentials);
        }
        let presented = bearer_token(value.as_bytes()).ok_or(ApiError::InvalidCredentials)?;
        if credentials.matches(presented) {
            Ok(())
        } else {
            Err(ApiError::InvalidCredentials)
        }
    }

    /// Steps 2 and 3. Waits for the index's first sync (bounded by the request timeout), so a
    /// request that races start-up gets an answer rather than a false 404.
    pub async fn admit(&self, headers: &HeaderMap, query: &Query) -> Result<AppContext, ApiError> {
        let caller = parse_caller(headers)?;
        if !self.index.is_ready() {
            self.index.wait_ready().await;
        }
        let (app, freshness) = match self.index.lookup(&caller.app) {
            Lookup::Found { app, freshness } => (app, freshness),
            Lookup::NotFound => return Err(ApiError::AppNotFound(caller.app.to_string())),
            Lookup::NamespaceNotWatched => {
                return Err(ApiError::NamespaceNotWatched(caller.app.namespace.clone()));
            }
        };
        let application = &app.app;
        if application.spec.project() != caller.project {
            return Err(ApiError::ProjectMismatch);
        }
        cluster_claims_consistent(
            &application.spec.destination,
            caller.cluster.name.as_deref(),
            caller.cluster.url.as_deref(),
        )
        .map_err(ApiError::ClusterMismatch)?;
        check_query_scope(&app, query)?;
        Ok(AppContext {
            caller,
            app,
            freshness,
        })
    }
}

/// Every namespace, cluster or resource named in the query must be the app's. An empty value is
/// refused rather than read as "cluster scope" or "all": a cluster-scoped object is named with
/// `resource`, never with an empty `namespace`.
fn check_query_scope(entry: &IndexedApp, query: &Query) -> Result<(), ApiError> {
    let app = &entry.app;
    for name in ["namespace", "cluster", "resource"] {
        if query.get(name) == Some("") {
            return Err(ApiError::InvalidQuery(format!("{name} must not be empty")));
        }
    }
    if let Some(ns) = query.get("namespace")
        && !namespace_belongs(app, ns)
    {
        return Err(ApiError::OutOfScope(format!("namespace {ns:?}")));
    }
    if let Some(cluster) = query.get("cluster")
        && !cluster_belongs(app, cluster)
    {
        return Err(ApiError::OutOfScope(format!("cluster {cluster:?}")));
    }
    if let Some(raw) = query.get("resource") {
        let resource = ResourceRef::parse(raw).ok_or_else(|| {
            ApiError::InvalidQuery("resource must be group/kind/namespace/name".into())
        })?;
        if !resource_belongs(app, &resource) {
            return Err(ApiError::OutOfScope(format!("resource {resource}")));
        }
    }
    Ok(())
}

/// The token of `Bearer <token>` (scheme case-insensitive, as RFC 7235 says).
fn bearer_token(value: &[u8]) -> Option<&[u8]> {
    let (scheme, rest) = value.split_at_checked(7)?;
    scheme.eq_ignore_ascii_case(b"bearer ").then_some(rest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::WatchScope;
    use drift_core::app::fixtures::{mk_app, mk_resource};
    use http::HeaderValue;

    const TOKEN: &str = "0123456789abcdef-test";

    fn gate() -> Gate {
        let index = AppIndex::new(vec![WatchScope::Namespace("argocd".into())]);
        let mut app = mk_app("argocd", "guestbook", "default");
        app.status.resources = vec![mk_resource("", "Service", "guestbook", "ui")];
        index.replace_scope(
            &WatchScope::Namespace("argocd".into()),
            vec![app],
            jiff::Timestamp::UNIX_EPOCH,
        );
        let token: crate::config::Secret = TOKEN.parse().unwrap();
        Gate::new(ProxyAuth::Token(token), index)
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(*k, HeaderValue::from_str(v).unwrap());
        }
        map
    }

    #[test]
    fn only_the_exact_shared_secret_authenticates() {
        let gate = gate();
        let ok = format!("Bearer {TOKEN}");
        let lower = format!("bearer {TOKEN}");
        assert!(
            gate.authenticate(&headers(&[("authorization", &ok)]))
                .is_ok()
        );
        assert!(
            gate.authenticate(&headers(&[("authorization", &lower)]))
                .is_ok()
        );
        let cases: [(&[(&'static str, &str)], &str); 6] = [
            (&[], "MISSING_CREDENTIALS"),
            (&[("authorization", "Bearer wrong")], "INVALID_CREDENTIALS"),
            (&[("authorization", TOKEN)], "INVALID_CREDENTIALS"),
            (
                &[("authorization", &format!("Bearer {TOKEN}x"))],
                "INVALID_CREDENTIALS",
            ),
            (
                &[("authorization", &format!("Basic {TOKEN}"))],
                "INVALID_CREDENTIALS",
            ),
            (
                &[("authorization", &ok), ("authorization", &ok)],
                "INVALID_CREDENTIALS",
            ),
        ];
        for (pairs, code) in cases {
            assert_eq!(
                gate.authenticate(&headers(pairs)).unwrap_err().code(),
                code,
                "{pairs:?}"
            );
        }
    }

    #[test]
    fn disabled_auth_lets_everything_through_step_one() {
        let gate = Gate::new(ProxyAuth::Disabled, AppIndex::new(vec![]));
        assert!(gate.authenticate(&HeaderMap::new()).is_ok());
    }

    async fn admit(extra: &[(&'static str, &str)], query: &str) -> Result<AppContext, ApiError> {
        let mut pairs = vec![
            ("argocd-application-name", "argocd:guestbook"),
            ("argocd-project-name", "default"),
        ];
        pairs.extend_from_slice(extra);
        gate()
            .admit(&headers(&pairs), &Query::parse(Some(query)).unwrap())
            .await
    }

    #[tokio::test]
    async fn admits_the_app_named_by_its_own_project() {
        let ctx = admit(&[], "").await.unwrap();
        assert_eq!(ctx.app.app.key.name, "guestbook");
    }

    #[tokio::test]
    async fn an_app_without_a_project_is_served_as_the_default_project() {
        let gate = gate();
        let mut app = mk_app("argocd", "projectless", "");
        app.spec.project.clear();
        gate.index().apply(app, jiff::Timestamp::UNIX_EPOCH);
        let pairs = [
            ("argocd-application-name", "argocd:projectless"),
            ("argocd-project-name", "default"),
        ];
        assert!(
            gate.admit(&headers(&pairs), &Query::default())
                .await
                .is_ok()
        );
        let pairs = [
            ("argocd-application-name", "argocd:projectless"),
            ("argocd-project-name", "other"),
        ];
        let refused = gate
            .admit(&headers(&pairs), &Query::default())
            .await
            .unwrap_err();
        assert_eq!(refused.code(), "PROJECT_MISMATCH");
    }

    #[tokio::test]
    async fn refuses_another_project_and_injected_cluster_claims() {
        let mut pairs = vec![
            ("argocd-application-name", "argocd:guestbook"),
            ("argocd-project-name", "other"),
        ];
        let wrong_project = gate()
            .admit(&headers(&pairs), &Query::default())
            .await
            .unwrap_err();
        assert_eq!(wrong_project.code(), "PROJECT_MISMATCH");
        pairs[1].1 = "default";
        pairs.push(("argocd-target-cluster-name", "in-cluster"));
        let injected = gate()
            .admit(&headers(&pairs), &Query::default())
            .await
            .unwrap_err();
        assert_eq!(injected.code(), "CLUSTER_MISMATCH");
    }

    #[tokio::test]
    async fn group_claims_change_nothing() {
        let plain = admit(&[], "").await.unwrap();
        let claimed = admit(&[("argocd-user-groups", "system:masters,admins")], "")
            .await
            .unwrap();
        assert_eq!(plain.app, claimed.app);
        let refused = admit(&[("argocd-user-groups", "admins")], "namespace=kube-system").await;
        assert_eq!(refused.unwrap_err().code(), "OUT_OF_SCOPE");
    }

    #[tokio::test]
    async fn names_in_the_query_must_belong_to_the_app() {
        assert!(
            admit(
                &[],
                "namespace=guestbook&cluster=https://kubernetes.default.svc"
            )
            .await
            .is_ok()
        );
        assert!(admit(&[], "resource=/Service/guestbook/ui").await.is_ok());
        for (query, code) in [
            ("namespace=kube-system", "OUT_OF_SCOPE"),
            ("cluster=https://prod.example", "OUT_OF_SCOPE"),
            ("resource=/Secret/guestbook/ui", "OUT_OF_SCOPE"),
            ("resource=Service/guestbook", "INVALID_QUERY"),
            ("namespace=", "INVALID_QUERY"),
            ("cluster=", "INVALID_QUERY"),
        ] {
            assert_eq!(admit(&[], query).await.unwrap_err().code(), code, "{query}");
        }
    }

    #[tokio::test]
    async fn unknown_apps_and_unwatched_namespaces_are_not_found() {
        let unknown = gate()
            .admit(
                &headers(&[
                    ("argocd-application-name", "argocd:nope"),
                    ("argocd-project-name", "default"),
                ]),
                &Query::default(),
            )
            .await;
        assert_eq!(unknown.unwrap_err().code(), "APP_NOT_FOUND");
        let unwatched = gate()
            .admit(
                &headers(&[
                    ("argocd-application-name", "team-a:x"),
                    ("argocd-project-name", "default"),
                ]),
                &Query::default(),
            )
            .await;
        assert_eq!(unwatched.unwrap_err().code(), "APP_NAMESPACE_NOT_WATCHED");
    }
}
