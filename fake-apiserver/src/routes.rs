//! Request paths and query strings, parsed into typed routes.
//!
//! ```text
//! /version /healthz /readyz /livez
//! /api                                   APIVersions
//! /api/v1                                APIResourceList of the core group
//! /apis                                  APIGroupList
//! /apis/{group}                          APIGroup
//! /apis/{group}/{version}                APIResourceList
//! /api/v1/[namespaces/{ns}/]{plural}[/{name}[/{subresource}]]
//! /apis/{group}/{version}/[namespaces/{ns}/]{plural}[/{name}[/{subresource}]]
//! /api/v1/namespaces/{name}/{status|finalize}   (namespace subresources)
//! ```

use http::Method;

use crate::faults::Verb;
use crate::status::ApiError;

/// What a path addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Route {
    Health,
    Version,
    /// `/api`
    CoreApi,
    /// `/apis`
    Apis,
    /// `/apis/{group}`
    Group(String),
    /// `/api/v1` (group `""`) or `/apis/{group}/{version}`
    GroupVersion(String, String),
    Resource(ResourcePath),
}

/// A path under a group version that names a resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ResourcePath {
    pub group: String,
    pub version: String,
    pub namespace: Option<String>,
    pub plural: String,
    pub name: Option<String>,
    pub subresource: Option<String>,
}

/// Decodes `%XX` escapes (and `+` as space when `plus` is set); invalid escapes stay as-is.
pub(crate) fn percent_decode(input: &str, plus: bool) -> String {
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(b) => {
                        out.push(b);
                        i += 3;
                    }
                    None => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' if plus => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses a request path; `None` when the fake serves nothing there.
pub(crate) fn parse_path(path: &str) -> Option<Route> {
    let segments: Vec<String> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| percent_decode(s, false))
        .collect();
    let segs: Vec<&str> = segments.iter().map(String::as_str).collect();
    match segs.as_slice() {
        ["version"] => Some(Route::Version),
        ["healthz" | "readyz" | "livez", ..] => Some(Route::Health),
        ["api"] => Some(Route::CoreApi),
        ["apis"] => Some(Route::Apis),
        ["apis", group] => Some(Route::Group(group.to_string())),
        ["api", version] => Some(Route::GroupVersion(String::new(), version.to_string())),
        ["apis", group, version] => {
            Some(Route::GroupVersion(group.to_string(), version.to_string()))
        }
        ["api", version, rest @ ..] => resource_path("", version, rest),
        ["apis", group, version, rest @ ..] => resource_path(group, version, rest),
        _ => None,
    }
}

fn resource_path(group: &str, version: &str, rest: &[&str]) -> Option<Route> {
    let (namespace, rest) = match rest {
        // Namespace subresources: /api/v1/namespaces/{name}/status
        ["namespaces", _, "status" | "finalize"] if group.is_empty() => (None, rest),
        ["namespaces", ns, tail @ ..] if !tail.is_empty() => (Some(ns.to_string()), tail),
        _ => (None, rest),
    };
    let (plural, name, subresource) = match rest {
        [plural] => (plural, None, None),
        [plural, name] => (plural, Some(name.to_string()), None),
        [plural, name, sub] => (plural, Some(name.to_string()), Some(sub.to_string())),
        _ => return None,
    };
    Some(Route::Resource(ResourcePath {
        group: group.to_string(),
        version: version.to_string(),
        namespace,
        plural: plural.to_string(),
        name,
        subresource,
    }))
}

/// The query parameters the fake understands (others are ignored).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Query {
    pub watch: bool,
    pub resource_version: Option<String>,
    pub resource_version_match: Option<String>,
    pub limit: Option<usize>,
    pub continue_token: Option<String>,
    pub label_selector: Option<String>,
    pub field_selector: Option<String>,
    pub allow_watch_bookmarks: bool,
    pub timeout_seconds: Option<u64>,
    pub send_initial_events: bool,
    pub field_manager: Option<String>,
    pub dry_run: bool,
    pub force: bool,
}

fn parse_bool(name: &str, value: &str) -> Result<bool, ApiError> {
    match value {
        "true" | "1" | "True" | "TRUE" => Ok(true),
        "false" | "0" | "False" | "FALSE" | "" => Ok(false),
        other => Err(ApiError::bad_request(format!(
            "invalid boolean value {other:?} for {name}"
        ))),
    }
}

fn parse_number<T: std::str::FromStr>(name: &str, value: &str) -> Result<T, ApiError> {
    value
        .parse()
        .map_err(|_| ApiError::bad_request(format!("invalid value {value:?} for {name}")))
}

/// Parses the query string (tolerating the `?&watch=true` kube sends).
pub(crate) fn parse_query(query: Option<&str>) -> Result<Query, ApiError> {
    let mut q = Query::default();
    for pair in query
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
    {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let key = percent_decode(key, true);
        let value = percent_decode(value, true);
        match key.as_str() {
            "watch" => q.watch = parse_bool("watch", &value)?,
            "resourceVersion" => q.resource_version = Some(value),
            "resourceVersionMatch" => q.resource_version_match = Some(value),
            "limit" => {
                let limit: i64 = parse_number("limit", &value)?;
                q.limit = usize::try_from(limit).ok().filter(|l| *l > 0);
            }
            "continue" => q.continue_token = Some(value).filter(|v| !v.is_empty()),
            "labelSelector" => q.label_selector = Some(value),
            "fieldSelector" => q.field_selector = Some(value),
            "allowWatchBookmarks" => {
                q.allow_watch_bookmarks = parse_bool("allowWatchBookmarks", &value)?;
            }
            "timeoutSeconds" => q.timeout_seconds = Some(parse_number("timeoutSeconds", &value)?),
            "sendInitialEvents" => {
                q.send_initial_events = parse_bool("sendInitialEvents", &value)?;
            }
            "fieldManager" => q.field_manager = Some(value).filter(|v| !v.is_empty()),
            "dryRun" => match value.as_str() {
                "All" => q.dry_run = true,
                "" => {}
                other => {
                    return Err(ApiError::bad_request(format!(
                        "unsupported dryRun value {other:?}: only \"All\" is supported"
                    )));
                }
            },
            "force" => q.force = parse_bool("force", &value)?,
            _ => {}
        }
    }
    Ok(q)
}

/// The API verb a request performs (used by fault injection, authorization and the log).
pub(crate) fn verb_of(method: &Method, route: &Route, query: &Query) -> Option<Verb> {
    let Route::Resource(path) = route else {
        return (method == Method::GET).then_some(Verb::Discovery);
    };
    let named = path.name.is_some();
    Some(match *method {
        Method::GET if named => Verb::Get,
        Method::GET if query.watch => Verb::Watch,
        Method::GET => Verb::List,
        Method::POST => Verb::Create,
        Method::PUT => Verb::Update,
        Method::PATCH => Verb::Patch,
        Method::DELETE => Verb::Delete,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resource(path: &str) -> ResourcePath {
        match parse_path(path) {
            Some(Route::Resource(r)) => r,
            other => panic!("{path}: {other:?}"),
        }
    }

    #[test]
    fn paths_of_every_shape_parse() {
        let r = resource("/api/v1/namespaces/default/configmaps/cm1");
        assert_eq!(
            (
                r.group.as_str(),
                r.namespace.as_deref(),
                r.plural.as_str(),
                r.name.as_deref()
            ),
            ("", Some("default"), "configmaps", Some("cm1"))
        );
        let r = resource("/apis/argoproj.io/v1alpha1/namespaces/argocd/applications/app/status");
        assert_eq!(r.subresource.as_deref(), Some("status"));
        let r = resource("/apis/apps/v1/deployments");
        assert_eq!((r.namespace, r.name), (None, None));
        let r = resource("/api/v1/namespaces/prod");
        assert_eq!(
            (r.plural.as_str(), r.name.as_deref()),
            ("namespaces", Some("prod"))
        );
        let r = resource("/api/v1/namespaces/prod/status");
        assert_eq!(
            (r.namespace, r.name.as_deref(), r.subresource.as_deref()),
            (None, Some("prod"), Some("status"))
        );
        assert_eq!(parse_path("/apis/apps"), Some(Route::Group("apps".into())));
        assert_eq!(
            parse_path("/api/v1"),
            Some(Route::GroupVersion(String::new(), "v1".into()))
        );
        assert_eq!(parse_path("/openapi/v2"), None);
    }

    #[test]
    fn query_strings_decode_like_kube_sends_them() {
        let q = parse_query(Some(
            "&watch=true&timeoutSeconds=290&allowWatchBookmarks=true&fieldSelector=metadata.name%3Dpod%3D1&labelSelector=app+in+%28a%2Cb%29&resourceVersion=0",
        ))
        .unwrap();
        assert!(q.watch && q.allow_watch_bookmarks);
        assert_eq!(q.timeout_seconds, Some(290));
        assert_eq!(q.field_selector.as_deref(), Some("metadata.name=pod=1"));
        assert_eq!(q.label_selector.as_deref(), Some("app in (a,b)"));
        assert_eq!(q.resource_version.as_deref(), Some("0"));
        assert!(parse_query(Some("limit=abc")).is_err());
    }
}
