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
//! What comes out is an [`AppContext`] and the route's typed query: the only way a handler gets
//! an Application.

use super::argocd::{Caller, parse_caller};
use super::credentials::Credentials;
use super::error::ApiError;
use super::query::{FromQuery, Query, ScopeClaims};
use crate::config::ProxyAuth;
use crate::index::{AppIndex, Lookup};
use drift_core::scope::{
    ResourceRef, cluster_belongs, cluster_claims_consistent, namespace_belongs, resource_belongs,
};
use drift_core::tracking::{Freshness, IndexedApp};
use http::{HeaderMap, Uri, header};
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

    /// Steps 2 and 3, for a route whose query is `Q`. Waits for the index's first sync (the
    /// caller bounds it with the request timeout), so a request that races start-up gets an
    /// answer rather than a false 404.
    pub async fn admit<Q: FromQuery>(
        &self,
        headers: &HeaderMap,
        uri: &Uri,
    ) -> Result<(AppContext, Q), ApiError> {
        // Syntax first, so a malformed value gets INVALID_QUERY whatever else is wrong.
        let query = Query::parse(uri.query())?;
        let claims = ScopeClaims::parse(&query, Q::OWN_SCOPE_NAMES)?;
        let typed = Q::from_query(&query)?;
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
        check_scope(
            &app,
            &claims,
            typed.claimed_resource(),
            typed.claimed_version(),
        )?;
        query.only(Q::PARAMS)?;
        Ok((
            AppContext {
                caller,
                app,
                freshness,
            },
            typed,
        ))
    }
}

/// Every namespace, cluster or resource the query names must be the app's; a resource named with
/// a version must be the app's at that version.
fn check_scope(
    entry: &IndexedApp,
    claims: &ScopeClaims,
    resource: Option<ResourceRef>,
    version: Option<&str>,
) -> Result<(), ApiError> {
    let app = &entry.app;
    if let Some(ns) = &claims.namespace
        && !namespace_belongs(app, ns)
    {
        return Err(ApiError::OutOfScope(format!("namespace \"{ns}\"")));
    }
    if let Some(cluster) = &claims.cluster
        && !cluster_belongs(app, cluster)
    {
        return Err(ApiError::OutOfScope(format!("cluster \"{cluster}\"")));
    }
    for resource in claims.resource.iter().chain(resource.as_ref()) {
        if !resource_belongs(app, resource) {
            return Err(ApiError::OutOfScope(format!("resource {resource}")));
        }
    }
    if let (Some(resource), Some(version)) = (&resource, version)
        && !app
            .status
            .resources
            .iter()
            .any(|r| resource.matches(r) && r.version == version)
    {
        return Err(ApiError::OutOfScope(format!(
            "resource {resource} at version {version:?} (not the version the app lists)"
        )));
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
    use crate::http::query::NoParams;
    use crate::index::WatchScope;
    use drift_core::app::fixtures::{mk_app, mk_resource};
    use http::HeaderValue;

    fn uri(query: &str) -> Uri {
        format!("/api/v1/status?{query}").parse().unwrap()
    }

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
            .admit::<NoParams>(&headers(&pairs), &uri(query))
            .await
            .map(|(ctx, _)| ctx)
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
            gate.admit::<NoParams>(&headers(&pairs), &uri(""))
                .await
                .is_ok()
        );
        let pairs = [
            ("argocd-application-name", "argocd:projectless"),
            ("argocd-project-name", "other"),
        ];
        let refused = gate
            .admit::<NoParams>(&headers(&pairs), &uri(""))
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
            .admit::<NoParams>(&headers(&pairs), &uri(""))
            .await
            .unwrap_err();
        assert_eq!(wrong_project.code(), "PROJECT_MISMATCH");
        pairs[1].1 = "default";
        pairs.push(("argocd-target-cluster-name", "in-cluster"));
        let injected = gate()
            .admit::<NoParams>(&headers(&pairs), &uri(""))
            .await
            .unwrap_err();
        assert_eq!(injected.code(), "CLUSTER_MISMATCH");
    }

    /// A route that takes the scope names (and `n`, a number), to test the gate's query step.
    #[derive(Debug)]
    struct Scoped;

    impl FromQuery for Scoped {
        const PARAMS: &'static [&'static str] = &["namespace", "cluster", "resource", "n"];
        fn from_query(query: &Query) -> Result<Self, ApiError> {
            match query.get("n") {
                Some(n) if n.parse::<u32>().is_err() => {
                    Err(ApiError::InvalidQuery("n must be a number".into()))
                }
                _ => Ok(Scoped),
            }
        }
    }

    async fn admit_scoped(
        gate: &Gate,
        extra: &[(&'static str, &str)],
        query: &str,
    ) -> Result<(), String> {
        let mut pairs = vec![
            ("argocd-application-name", "argocd:guestbook"),
            ("argocd-project-name", "default"),
        ];
        pairs.extend_from_slice(extra);
        gate.admit::<Scoped>(&headers(&pairs), &uri(query))
            .await
            .map(|_| ())
            .map_err(|e| e.code().to_string())
    }

    #[tokio::test]
    async fn group_claims_never_lift_a_refusal_nor_change_what_is_admitted() {
        let gate = gate();
        let groups = [("argocd-user-groups", "system:masters,admins")];
        for (extra, query) in [
            (&[][..], "namespace=kube-system"),
            (&[("argocd-target-cluster-name", "in-cluster")][..], ""),
            (&[][..], "resource=/Secret/kube-system/token"),
        ] {
            let without = admit_scoped(&gate, extra, query).await;
            let mut with = extra.to_vec();
            with.extend_from_slice(&groups);
            assert!(without.is_err(), "{query}");
            assert_eq!(admit_scoped(&gate, &with, query).await, without, "{query}");
        }
        let pairs = [
            ("argocd-application-name", "argocd:guestbook"),
            ("argocd-project-name", "default"),
        ];
        let mut claimed = pairs.to_vec();
        claimed.extend_from_slice(&groups);
        let (plain, _) = gate
            .admit::<NoParams>(&headers(&pairs), &uri(""))
            .await
            .unwrap();
        let (grouped, _) = gate
            .admit::<NoParams>(&headers(&claimed), &uri(""))
            .await
            .unwrap();
        assert_eq!(
            grouped.caller.user.groups,
            ["system:masters", "admins"],
            "kept as a claim"
        );
        // The app is the one the Application-Name header names, never one a group claim names
        // (the index also holds `admin-console`, in project `admins`).
        let admin = mk_app("argocd", "admin-console", "admins");
        gate.index().apply(admin, jiff::Timestamp::UNIX_EPOCH);
        let mut naming_another = pairs.to_vec();
        naming_another.push(("argocd-user-groups", "admins,argocd:admin-console"));
        let (other, _) = gate
            .admit::<NoParams>(&headers(&naming_another), &uri(""))
            .await
            .unwrap();
        for ctx in [&plain, &grouped, &other] {
            assert_eq!(ctx.app.app.key.to_string(), "argocd:guestbook");
            // The index unpacks an app per request, so "the same" is equal data, not one pointer.
            assert_eq!(ctx.app.app, plain.app.app, "the same app and data");
            assert_eq!(ctx.app.version, plain.app.version);
        }
    }

    #[tokio::test]
    async fn names_in_the_query_must_belong_to_the_app() {
        let gate = gate();
        assert_eq!(
            admit_scoped(
                &gate,
                &[],
                "namespace=guestbook&cluster=https://kubernetes.default.svc"
            )
            .await,
            Ok(())
        );
        assert_eq!(
            admit_scoped(&gate, &[], "resource=/Service/guestbook/ui").await,
            Ok(())
        );
        for (query, code) in [
            ("namespace=kube-system", "OUT_OF_SCOPE"),
            ("cluster=https://prod.example", "OUT_OF_SCOPE"),
            ("resource=/Secret/guestbook/ui", "OUT_OF_SCOPE"),
            ("resource=Service/guestbook", "INVALID_QUERY"),
            ("namespace=", "INVALID_QUERY"),
            ("cluster=", "INVALID_QUERY"),
        ] {
            assert_eq!(
                admit_scoped(&gate, &[], query).await,
                Err(code.into()),
                "{query}"
            );
        }
    }

    #[tokio::test]
    async fn a_malformed_value_gets_the_same_code_whatever_else_the_query_holds() {
        let gate = gate();
        for query in [
            "resource=bad",
            "resource=bad&namespace=kube-system",
            "namespace=kube-system&resource=bad",
            "other=1&resource=bad",
            "n=x&namespace=kube-system",
            "namespace=kube-system&n=x&other=1",
        ] {
            assert_eq!(
                admit_scoped(&gate, &[], query).await,
                Err("INVALID_QUERY".into()),
                "{query}"
            );
        }
        // Then scope, then unknown parameters, whatever their order.
        for query in [
            "other=1&namespace=kube-system",
            "namespace=kube-system&other=1",
        ] {
            assert_eq!(
                admit_scoped(&gate, &[], query).await,
                Err("OUT_OF_SCOPE".into()),
                "{query}"
            );
        }
        assert_eq!(
            admit_scoped(&gate, &[], "other=1&namespace=guestbook").await,
            Err("UNKNOWN_QUERY_PARAMETER".into())
        );
        assert_eq!(
            admit(&[], "namespace=guestbook").await.unwrap_err().code(),
            "UNKNOWN_QUERY_PARAMETER"
        );
    }

    #[tokio::test]
    async fn unknown_apps_and_unwatched_namespaces_are_not_found() {
        let unknown = gate()
            .admit::<NoParams>(
                &headers(&[
                    ("argocd-application-name", "argocd:nope"),
                    ("argocd-project-name", "default"),
                ]),
                &uri(""),
            )
            .await;
        assert_eq!(unknown.unwrap_err().code(), "APP_NOT_FOUND");
        let unwatched = gate()
            .admit::<NoParams>(
                &headers(&[
                    ("argocd-application-name", "team-a:x"),
                    ("argocd-project-name", "default"),
                ]),
                &uri(""),
            )
            .await;
        assert_eq!(unwatched.unwrap_err().code(), "APP_NAMESPACE_NOT_WATCHED");
    }
}
