//! The identity headers Argo CD's proxy extension adds, parsed once into a typed [`Caller`].
//!
//! What each header means and when Argo CD sets it is in ARGOCD.md. Two facts shape this parser:
//!
//! - Argo CD validates `Argocd-Application-Name` and `Argocd-Project-Name` and always sets them;
//!   the rest it sets only when it has a value, and it never removes client-supplied `Argocd-*`
//!   headers. So user, group and cluster headers are *claims*: they are parsed and kept, but the
//!   gate cross-checks cluster claims and nothing ever grants access because of a group.
//! - Every header must appear at most once. Two values would let a client and Argo CD each
//!   supply one and leave it to chance which is read.
//!
//! Parsing is total: any byte sequence yields a `Caller` or a [`HeaderError`], never a panic
//! (property-tested below).

use drift_core::api::ErrorCode;
use drift_core::app::AppKey;
use drift_core::names::{is_dns_label, is_dns_subdomain};
use http::{HeaderMap, HeaderName};

/// The longest single header value accepted (user names are e-mail addresses at worst).
pub const MAX_VALUE_LEN: usize = 1024;
/// The most groups one caller may claim.
pub const MAX_GROUPS: usize = 1000;

/// The headers Argo CD sends to a proxy extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArgoHeader {
    ApplicationName,
    ProjectName,
    Namespace,
    Username,
    UserId,
    UserGroups,
    TargetClusterName,
    TargetClusterUrl,
}

impl ArgoHeader {
    pub const ALL: [ArgoHeader; 8] = [
        ArgoHeader::ApplicationName,
        ArgoHeader::ProjectName,
        ArgoHeader::Namespace,
        ArgoHeader::Username,
        ArgoHeader::UserId,
        ArgoHeader::UserGroups,
        ArgoHeader::TargetClusterName,
        ArgoHeader::TargetClusterUrl,
    ];

    /// The header name as Argo CD writes it.
    pub const fn name(self) -> &'static str {
        match self {
            ArgoHeader::ApplicationName => "Argocd-Application-Name",
            ArgoHeader::ProjectName => "Argocd-Project-Name",
            ArgoHeader::Namespace => "Argocd-Namespace",
            ArgoHeader::Username => "Argocd-Username",
            ArgoHeader::UserId => "Argocd-User-Id",
            ArgoHeader::UserGroups => "Argocd-User-Groups",
            ArgoHeader::TargetClusterName => "Argocd-Target-Cluster-Name",
            ArgoHeader::TargetClusterUrl => "Argocd-Target-Cluster-URL",
        }
    }

    /// The header as a pre-built (lowercase) name: looking it up does no parsing.
    pub const fn header_name(self) -> HeaderName {
        HeaderName::from_static(match self {
            ArgoHeader::ApplicationName => "argocd-application-name",
            ArgoHeader::ProjectName => "argocd-project-name",
            ArgoHeader::Namespace => "argocd-namespace",
            ArgoHeader::Username => "argocd-username",
            ArgoHeader::UserId => "argocd-user-id",
            ArgoHeader::UserGroups => "argocd-user-groups",
            ArgoHeader::TargetClusterName => "argocd-target-cluster-name",
            ArgoHeader::TargetClusterUrl => "argocd-target-cluster-url",
        })
    }

    /// The header in error codes: `ARGOCD_APPLICATION_NAME`.
    pub const fn code_name(self) -> &'static str {
        match self {
            ArgoHeader::ApplicationName => "ARGOCD_APPLICATION_NAME",
            ArgoHeader::ProjectName => "ARGOCD_PROJECT_NAME",
            ArgoHeader::Namespace => "ARGOCD_NAMESPACE",
            ArgoHeader::Username => "ARGOCD_USERNAME",
            ArgoHeader::UserId => "ARGOCD_USER_ID",
            ArgoHeader::UserGroups => "ARGOCD_USER_GROUPS",
            ArgoHeader::TargetClusterName => "ARGOCD_TARGET_CLUSTER_NAME",
            ArgoHeader::TargetClusterUrl => "ARGOCD_TARGET_CLUSTER_URL",
        }
    }
}

/// Why the identity headers were refused (HTTP 400).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    /// A header Argo CD always sends is absent.
    #[error("header {} is required", .0.name())]
    Missing(ArgoHeader),
    /// A header appears more than once.
    #[error("header {} must appear once", .0.name())]
    Repeated(ArgoHeader),
    /// A header's value breaks its format.
    #[error("header {}: {reason}", header.name())]
    Invalid {
        header: ArgoHeader,
        reason: &'static str,
    },
}

impl HeaderError {
    pub fn header(&self) -> ArgoHeader {
        match self {
            HeaderError::Missing(h)
            | HeaderError::Repeated(h)
            | HeaderError::Invalid { header: h, .. } => *h,
        }
    }

    /// The stable error code: `MISSING_`, `DUPLICATE_` or `INVALID_` + the header's code name.
    pub fn code(&self) -> ErrorCode {
        use ArgoHeader as H;
        use ErrorCode as C;
        match (self, self.header()) {
            (HeaderError::Missing(_), H::ApplicationName) => C::MissingArgocdApplicationName,
            (HeaderError::Missing(_), H::ProjectName) => C::MissingArgocdProjectName,
            (HeaderError::Missing(_), H::Namespace) => C::MissingArgocdNamespace,
            (HeaderError::Missing(_), H::Username) => C::MissingArgocdUsername,
            (HeaderError::Missing(_), H::UserId) => C::MissingArgocdUserId,
            (HeaderError::Missing(_), H::UserGroups) => C::MissingArgocdUserGroups,
            (HeaderError::Missing(_), H::TargetClusterName) => C::MissingArgocdTargetClusterName,
            (HeaderError::Missing(_), H::TargetClusterUrl) => C::MissingArgocdTargetClusterUrl,
            (HeaderError::Repeated(_), H::ApplicationName) => C::DuplicateArgocdApplicationName,
            (HeaderError::Repeated(_), H::ProjectName) => C::DuplicateArgocdProjectName,
            (HeaderError::Repeated(_), H::Namespace) => C::DuplicateArgocdNamespace,
            (HeaderError::Repeated(_), H::Username) => C::DuplicateArgocdUsername,
            (HeaderError::Repeated(_), H::UserId) => C::DuplicateArgocdUserId,
            (HeaderError::Repeated(_), H::UserGroups) => C::DuplicateArgocdUserGroups,
            (HeaderError::Repeated(_), H::TargetClusterName) => C::DuplicateArgocdTargetClusterName,
            (HeaderError::Repeated(_), H::TargetClusterUrl) => C::DuplicateArgocdTargetClusterUrl,
            (HeaderError::Invalid { .. }, H::ApplicationName) => C::InvalidArgocdApplicationName,
            (HeaderError::Invalid { .. }, H::ProjectName) => C::InvalidArgocdProjectName,
            (HeaderError::Invalid { .. }, H::Namespace) => C::InvalidArgocdNamespace,
            (HeaderError::Invalid { .. }, H::Username) => C::InvalidArgocdUsername,
            (HeaderError::Invalid { .. }, H::UserId) => C::InvalidArgocdUserId,
            (HeaderError::Invalid { .. }, H::UserGroups) => C::InvalidArgocdUserGroups,
            (HeaderError::Invalid { .. }, H::TargetClusterName) => {
                C::InvalidArgocdTargetClusterName
            }
            (HeaderError::Invalid { .. }, H::TargetClusterUrl) => C::InvalidArgocdTargetClusterUrl,
        }
    }
}

/// Who is calling, about which Application, as Argo CD (or a header-forging client) says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    /// The Application Argo CD authorized this user to `get`.
    pub app: AppKey,
    /// Argo CD checked it equals the app's `spec.project`; the gate checks again.
    pub project: String,
    /// Argo CD's control-plane namespace (Argo CD 2.13+).
    pub argocd_namespace: Option<String>,
    pub user: UserClaims,
    pub cluster: ClusterClaims,
}

/// Who the user says they are. For logs and display; never a reason to allow anything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UserClaims {
    pub username: Option<String>,
    pub user_id: Option<String>,
    pub groups: Vec<String>,
}

/// The destination cluster as the headers claim it; checked against `spec.destination`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClusterClaims {
    pub name: Option<String>,
    pub url: Option<String>,
}

/// Parses every Argo CD header. Fails on the first problem, checking headers in a fixed order.
pub fn parse_caller(headers: &HeaderMap) -> Result<Caller, HeaderError> {
    let app_value = required(headers, ArgoHeader::ApplicationName)?;
    let app = parse_app_name(app_value)?;
    let project = required(headers, ArgoHeader::ProjectName)?;
    if !is_dns_subdomain(project) {
        return Err(invalid(ArgoHeader::ProjectName, "not a valid project name"));
    }
    let argocd_namespace = optional(headers, ArgoHeader::Namespace)?;
    if argocd_namespace.is_some_and(|ns| !is_dns_label(ns)) {
        return Err(invalid(ArgoHeader::Namespace, "not a valid namespace name"));
    }
    let username = optional(headers, ArgoHeader::Username)?;
    let user_id = optional(headers, ArgoHeader::UserId)?;
    let groups = optional(headers, ArgoHeader::UserGroups)?
        .map(parse_groups)
        .transpose()?;
    let cluster_name = optional(headers, ArgoHeader::TargetClusterName)?;
    let cluster_url = optional(headers, ArgoHeader::TargetClusterUrl)?;
    if cluster_url.is_some_and(|url| !is_http_url(url)) {
        return Err(invalid(ArgoHeader::TargetClusterUrl, "not an http(s) URL"));
    }
    Ok(Caller {
        app,
        project: project.to_string(),
        argocd_namespace: argocd_namespace.map(str::to_string),
        user: UserClaims {
            username: username.map(str::to_string),
            user_id: user_id.map(str::to_string),
            groups: groups.unwrap_or_default(),
        },
        cluster: ClusterClaims {
            name: cluster_name.map(str::to_string),
            url: cluster_url.map(str::to_string),
        },
    })
}

/// `<namespace>:<name>`, split at the first colon; the namespace must be a DNS label and the
/// name a DNS subdomain, as Kubernetes requires of them.
pub fn parse_app_name(value: &str) -> Result<AppKey, HeaderError> {
    let header = ArgoHeader::ApplicationName;
    let Some((namespace, name)) = value.split_once(':') else {
        return Err(invalid(header, "expected <namespace>:<name>"));
    };
    if !is_dns_label(namespace) {
        return Err(invalid(
            header,
            "the namespace part is not a valid namespace name",
        ));
    }
    if !is_dns_subdomain(name) {
        return Err(invalid(
            header,
            "the name part is not a valid Application name",
        ));
    }
    Ok(AppKey::new(namespace, name))
}

/// A comma-separated list; entries are trimmed and empty entries dropped.
pub fn parse_groups(value: &str) -> Result<Vec<String>, HeaderError> {
    let groups: Vec<String> = value
        .split(',')
        .map(str::trim)
        .filter(|g| !g.is_empty())
        .map(str::to_string)
        .collect();
    if groups.len() > MAX_GROUPS {
        return Err(invalid(ArgoHeader::UserGroups, "too many groups"));
    }
    Ok(groups)
}

fn required(headers: &HeaderMap, header: ArgoHeader) -> Result<&str, HeaderError> {
    optional(headers, header)?.ok_or(HeaderError::Missing(header))
}

/// The header's single value as text: at most once, UTF-8, no control characters, not empty,
/// not over [`MAX_VALUE_LEN`] (groups: the whole list may be longer).
fn optional(headers: &HeaderMap, header: ArgoHeader) -> Result<Option<&str>, HeaderError> {
    let mut values = headers.get_all(header.header_name()).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(HeaderError::Repeated(header));
    }
    let text =
        std::str::from_utf8(value.as_bytes()).map_err(|_| invalid(header, "not UTF-8 text"))?;
    if text.chars().any(char::is_control) {
        return Err(invalid(header, "contains control characters"));
    }
    let text = text.trim();
    if text.is_empty() {
        return Err(invalid(header, "empty"));
    }
    let limit = if header == ArgoHeader::UserGroups {
        MAX_VALUE_LEN * 64
    } else {
        MAX_VALUE_LEN
    };
    if text.len() > limit {
        return Err(invalid(header, "too long"));
    }
    Ok(Some(text))
}

fn is_http_url(value: &str) -> bool {
    value.parse::<http::Uri>().ok().is_some_and(|uri| {
        matches!(uri.scheme_str(), Some("http" | "https")) && uri.host().is_some()
    })
}

fn invalid(header: ArgoHeader, reason: &'static str) -> HeaderError {
    HeaderError::Invalid { header, reason }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;
    use proptest::prelude::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        map
    }

    const BASE: [(&str, &str); 2] = [
        ("Argocd-Application-Name", "argocd:guestbook"),
        ("Argocd-Project-Name", "default"),
    ];

    fn with(extra: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut pairs = BASE.to_vec();
        pairs.extend_from_slice(extra);
        headers(&pairs)
    }

    #[test]
    fn parses_everything_argo_cd_sends() {
        let caller = parse_caller(&with(&[
            ("Argocd-Namespace", "argocd"),
            ("Argocd-Username", "alice@example.com"),
            ("Argocd-User-Id", "CiQwOGE4Njg0Yi1kYjg4"),
            ("Argocd-User-Groups", " dev, ops ,,sre "),
            (
                "Argocd-Target-Cluster-URL",
                "https://kubernetes.default.svc",
            ),
        ]))
        .unwrap();
        assert_eq!(caller.app, AppKey::new("argocd", "guestbook"));
        assert_eq!(caller.project, "default");
        assert_eq!(caller.argocd_namespace.as_deref(), Some("argocd"));
        assert_eq!(caller.user.username.as_deref(), Some("alice@example.com"));
        assert_eq!(caller.user.groups, vec!["dev", "ops", "sre"]);
        assert_eq!(
            caller.cluster.url.as_deref(),
            Some("https://kubernetes.default.svc")
        );
        assert_eq!(caller.cluster.name, None);
    }

    #[test]
    fn prebuilt_header_names_are_the_documented_names_lowercased() {
        for header in ArgoHeader::ALL {
            assert_eq!(
                header.header_name().as_str(),
                header.name().to_ascii_lowercase()
            );
        }
    }

    #[test]
    fn header_names_are_case_insensitive() {
        let caller = parse_caller(&headers(&[
            ("argocd-application-name", "team-a:web.v2"),
            ("ARGOCD-PROJECT-NAME", "team-a"),
        ]))
        .unwrap();
        assert_eq!(caller.app, AppKey::new("team-a", "web.v2"));
    }

    #[test]
    fn each_missing_required_header_has_its_own_code() {
        let no_app = parse_caller(&headers(&[("Argocd-Project-Name", "default")])).unwrap_err();
        assert_eq!(no_app.code(), "MISSING_ARGOCD_APPLICATION_NAME");
        let no_project =
            parse_caller(&headers(&[("Argocd-Application-Name", "argocd:a")])).unwrap_err();
        assert_eq!(no_project.code(), "MISSING_ARGOCD_PROJECT_NAME");
    }

    #[test]
    fn a_repeated_header_is_refused_even_with_equal_values() {
        for header in ArgoHeader::ALL {
            let mut map = with(&[]);
            let value = match header {
                ArgoHeader::ApplicationName => "argocd:guestbook",
                ArgoHeader::TargetClusterUrl => "https://a.example",
                _ => "default",
            };
            map.insert(header.name(), HeaderValue::from_static(value));
            map.append(header.name(), HeaderValue::from_static(value));
            let err = parse_caller(&map).unwrap_err();
            assert_eq!(err, HeaderError::Repeated(header));
            assert_eq!(err.code(), format!("DUPLICATE_{}", header.code_name()));
        }
    }

    #[test]
    fn each_header_problem_has_the_code_of_its_kind_and_header() {
        for header in ArgoHeader::ALL {
            let name = header.code_name();
            let cases = [
                (HeaderError::Missing(header), format!("MISSING_{name}")),
                (HeaderError::Repeated(header), format!("DUPLICATE_{name}")),
                (
                    HeaderError::Invalid {
                        header,
                        reason: "x",
                    },
                    format!("INVALID_{name}"),
                ),
            ];
            for (error, code) in cases {
                assert_eq!(error.code(), code);
            }
        }
    }

    #[test]
    fn malformed_application_names_are_refused() {
        for bad in [
            "guestbook",
            ":guestbook",
            "argocd:",
            "Argocd:guestbook",
            "argocd:guest book",
            "argocd:a:b",
            "argocd/guestbook",
            "arg_ocd:guestbook",
        ] {
            let err = parse_app_name(bad).unwrap_err();
            assert_eq!(err.code(), "INVALID_ARGOCD_APPLICATION_NAME", "{bad:?}");
        }
    }

    #[test]
    fn malformed_optional_headers_are_refused_with_their_code() {
        for (header, value, code) in [
            (
                "Argocd-Project-Name",
                "Default Project",
                "INVALID_ARGOCD_PROJECT_NAME",
            ),
            ("Argocd-Namespace", "argo.cd", "INVALID_ARGOCD_NAMESPACE"),
            (
                "Argocd-Target-Cluster-URL",
                "kubernetes.default.svc",
                "INVALID_ARGOCD_TARGET_CLUSTER_URL",
            ),
            (
                "Argocd-Target-Cluster-URL",
                "ftp://a.example",
                "INVALID_ARGOCD_TARGET_CLUSTER_URL",
            ),
            ("Argocd-Username", "   ", "INVALID_ARGOCD_USERNAME"),
            ("Argocd-User-Id", "a\tb", "INVALID_ARGOCD_USER_ID"),
        ] {
            let mut map = headers(&BASE);
            map.insert(header, HeaderValue::from_str(value).unwrap());
            assert_eq!(
                parse_caller(&map).unwrap_err().code(),
                code,
                "{header}: {value:?}"
            );
        }
    }

    #[test]
    fn non_utf8_and_overlong_values_are_refused() {
        let mut map = headers(&BASE);
        map.insert(
            "Argocd-Username",
            HeaderValue::from_bytes(b"al\xffce").unwrap(),
        );
        assert_eq!(
            parse_caller(&map).unwrap_err().code(),
            "INVALID_ARGOCD_USERNAME"
        );

        let mut map = headers(&BASE);
        map.insert(
            "Argocd-Username",
            HeaderValue::from_str(&"a".repeat(MAX_VALUE_LEN + 1)).unwrap(),
        );
        assert_eq!(
            parse_caller(&map).unwrap_err().code(),
            "INVALID_ARGOCD_USERNAME"
        );
    }

    #[test]
    fn too_many_groups_are_refused() {
        let many = vec!["g"; MAX_GROUPS + 1].join(",");
        assert_eq!(
            parse_groups(&many).unwrap_err().code(),
            "INVALID_ARGOCD_USER_GROUPS"
        );
        assert_eq!(
            parse_groups(&vec!["g"; MAX_GROUPS].join(","))
                .unwrap()
                .len(),
            MAX_GROUPS
        );
    }

    fn k8s_label() -> impl Strategy<Value = String> {
        "[a-z0-9]([-a-z0-9]{0,20}[a-z0-9])?"
    }

    proptest! {
        #[test]
        fn any_header_bytes_parse_into_their_values_or_fail_with_a_documented_code(
            values in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..80), 8)
        ) {
            let readme = include_str!("../../../README.md");
            let mut map = HeaderMap::new();
            for (header, bytes) in ArgoHeader::ALL.iter().zip(values) {
                if let Ok(v) = HeaderValue::from_bytes(&bytes) {
                    map.insert(header.name(), v);
                }
            }
            match parse_caller(&map) {
                Ok(caller) => {
                    // What was admitted is exactly what the headers said.
                    let sent = |h: ArgoHeader| map.get(h.header_name()).and_then(|v| v.to_str().ok());
                    let app = caller.app.to_string();
                    prop_assert_eq!(Some(app.as_str()), sent(ArgoHeader::ApplicationName));
                    prop_assert_eq!(Some(caller.project.as_str()), sent(ArgoHeader::ProjectName));
                    prop_assert_eq!(caller.user.username.as_deref(), sent(ArgoHeader::Username));
                    prop_assert_eq!(caller.cluster.url.as_deref(), sent(ArgoHeader::TargetClusterUrl));
                }
                Err(error) => {
                    // The code is one the README documents: its kind, and the header's name.
                    let code = error.code();
                    let (kind, header) = code.as_str().split_once('_').unwrap();
                    prop_assert!(["MISSING", "DUPLICATE", "INVALID"].contains(&kind), "{}", code);
                    prop_assert!(readme.contains(&format!("`{kind}_<HEADER>`")), "{}", code);
                    prop_assert!(readme.contains(&format!("`{header}`")), "{}", code);
                }
            }
        }

        #[test]
        fn valid_application_names_round_trip(ns in k8s_label(), name in k8s_label()) {
            let key = parse_app_name(&format!("{ns}:{name}")).unwrap();
            prop_assert_eq!(key.to_string(), format!("{ns}:{name}"));
        }

        #[test]
        fn any_application_name_without_exactly_valid_parts_is_refused(s in "\\PC{0,40}") {
            match parse_app_name(&s) {
                Ok(key) => {
                    prop_assert!(is_dns_label(&key.namespace) && is_dns_subdomain(&key.name));
                    prop_assert_eq!(format!("{}:{}", key.namespace, key.name), s);
                }
                Err(e) => prop_assert_eq!(e.code(), "INVALID_ARGOCD_APPLICATION_NAME"),
            }
        }

        #[test]
        fn groups_are_trimmed_non_empty_and_comma_free(s in "[ a-z,]{0,60}") {
            let groups = parse_groups(&s).unwrap();
            for g in &groups {
                prop_assert!(!g.is_empty() && !g.contains(',') && g.trim() == g);
            }
            let expected: Vec<&str> = s.split(',').map(str::trim).filter(|g| !g.is_empty()).collect();
            prop_assert_eq!(groups, expected);
        }
    }
}
