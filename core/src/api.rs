//! The parts of the HTTP API that are not views: the stable error codes and the error body every
//! port answers with, and the query of `GET /api/v1/drift/resource`. The backend builds its
//! answers from these types and the Argo CD tab reads its TypeScript types from them
//! (`core/src/ts.rs`), so a code the tab branches on cannot drift from the codes the backend sends.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Every `code` an error answer carries, on every port (the README's error tables).
///
/// `MISSING_`, `DUPLICATE_` and `INVALID_` followed by a header's name in upper snake case are the
/// refusals of Argo CD's identity headers, one code per header and problem.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ErrorCode {
    MissingCredentials,
    InvalidCredentials,
    MissingArgocdApplicationName,
    MissingArgocdProjectName,
    MissingArgocdNamespace,
    MissingArgocdUsername,
    MissingArgocdUserId,
    MissingArgocdUserGroups,
    MissingArgocdTargetClusterName,
    MissingArgocdTargetClusterUrl,
    DuplicateArgocdApplicationName,
    DuplicateArgocdProjectName,
    DuplicateArgocdNamespace,
    DuplicateArgocdUsername,
    DuplicateArgocdUserId,
    DuplicateArgocdUserGroups,
    DuplicateArgocdTargetClusterName,
    DuplicateArgocdTargetClusterUrl,
    InvalidArgocdApplicationName,
    InvalidArgocdProjectName,
    InvalidArgocdNamespace,
    InvalidArgocdUsername,
    InvalidArgocdUserId,
    InvalidArgocdUserGroups,
    InvalidArgocdTargetClusterName,
    InvalidArgocdTargetClusterUrl,
    AppNamespaceNotWatched,
    AppNotFound,
    ProjectMismatch,
    ClusterMismatch,
    OutOfScope,
    UnknownQueryParameter,
    InvalidQuery,
    MissingQueryParameter,
    RouteNotFound,
    MethodNotAllowed,
    BodyTooLarge,
    BodyUnreadable,
    Overloaded,
    RequestTimeout,
    NotReady,
    ShuttingDown,
    Internal,
    // --- the reports port ---
    RepoNotAllowed,
    ApplicationNotAllowed,
    TooManyReports,
    ReportBytesExceeded,
    InvalidJson,
    MissingField,
    InvalidField,
    UnknownField,
    ReportTooLarge,
    ReportNotFound,
    ReportNameTaken,
    StorageUnavailable,
    StorageRejected,
}

impl ErrorCode {
    /// Every code, in declaration order (for tests and documentation checks).
    pub const ALL: [ErrorCode; 56] = [
        ErrorCode::MissingCredentials,
        ErrorCode::InvalidCredentials,
        ErrorCode::MissingArgocdApplicationName,
        ErrorCode::MissingArgocdProjectName,
        ErrorCode::MissingArgocdNamespace,
        ErrorCode::MissingArgocdUsername,
        ErrorCode::MissingArgocdUserId,
        ErrorCode::MissingArgocdUserGroups,
        ErrorCode::MissingArgocdTargetClusterName,
        ErrorCode::MissingArgocdTargetClusterUrl,
        ErrorCode::DuplicateArgocdApplicationName,
        ErrorCode::DuplicateArgocdProjectName,
        ErrorCode::DuplicateArgocdNamespace,
        ErrorCode::DuplicateArgocdUsername,
        ErrorCode::DuplicateArgocdUserId,
        ErrorCode::DuplicateArgocdUserGroups,
        ErrorCode::DuplicateArgocdTargetClusterName,
        ErrorCode::DuplicateArgocdTargetClusterUrl,
        ErrorCode::InvalidArgocdApplicationName,
        ErrorCode::InvalidArgocdProjectName,
        ErrorCode::InvalidArgocdNamespace,
        ErrorCode::InvalidArgocdUsername,
        ErrorCode::InvalidArgocdUserId,
        ErrorCode::InvalidArgocdUserGroups,
        ErrorCode::InvalidArgocdTargetClusterName,
        ErrorCode::InvalidArgocdTargetClusterUrl,
        ErrorCode::AppNamespaceNotWatched,
        ErrorCode::AppNotFound,
        ErrorCode::ProjectMismatch,
        ErrorCode::ClusterMismatch,
        ErrorCode::OutOfScope,
        ErrorCode::UnknownQueryParameter,
        ErrorCode::InvalidQuery,
        ErrorCode::MissingQueryParameter,
        ErrorCode::RouteNotFound,
        ErrorCode::MethodNotAllowed,
        ErrorCode::BodyTooLarge,
        ErrorCode::BodyUnreadable,
        ErrorCode::Overloaded,
        ErrorCode::RequestTimeout,
        ErrorCode::NotReady,
        ErrorCode::ShuttingDown,
        ErrorCode::Internal,
        ErrorCode::RepoNotAllowed,
        ErrorCode::ApplicationNotAllowed,
        ErrorCode::TooManyReports,
        ErrorCode::ReportBytesExceeded,
        ErrorCode::InvalidJson,
        ErrorCode::MissingField,
        ErrorCode::InvalidField,
        ErrorCode::UnknownField,
        ErrorCode::ReportTooLarge,
        ErrorCode::ReportNotFound,
        ErrorCode::ReportNameTaken,
        ErrorCode::StorageUnavailable,
        ErrorCode::StorageRejected,
    ];

    /// The code as it appears in the JSON body.
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorCode::MissingCredentials => "MISSING_CREDENTIALS",
            ErrorCode::InvalidCredentials => "INVALID_CREDENTIALS",
            ErrorCode::MissingArgocdApplicationName => "MISSING_ARGOCD_APPLICATION_NAME",
            ErrorCode::MissingArgocdProjectName => "MISSING_ARGOCD_PROJECT_NAME",
            ErrorCode::MissingArgocdNamespace => "MISSING_ARGOCD_NAMESPACE",
            ErrorCode::MissingArgocdUsername => "MISSING_ARGOCD_USERNAME",
            ErrorCode::MissingArgocdUserId => "MISSING_ARGOCD_USER_ID",
            ErrorCode::MissingArgocdUserGroups => "MISSING_ARGOCD_USER_GROUPS",
            ErrorCode::MissingArgocdTargetClusterName => "MISSING_ARGOCD_TARGET_CLUSTER_NAME",
            ErrorCode::MissingArgocdTargetClusterUrl => "MISSING_ARGOCD_TARGET_CLUSTER_URL",
            ErrorCode::DuplicateArgocdApplicationName => "DUPLICATE_ARGOCD_APPLICATION_NAME",
            ErrorCode::DuplicateArgocdProjectName => "DUPLICATE_ARGOCD_PROJECT_NAME",
            ErrorCode::DuplicateArgocdNamespace => "DUPLICATE_ARGOCD_NAMESPACE",
            ErrorCode::DuplicateArgocdUsername => "DUPLICATE_ARGOCD_USERNAME",
            ErrorCode::DuplicateArgocdUserId => "DUPLICATE_ARGOCD_USER_ID",
            ErrorCode::DuplicateArgocdUserGroups => "DUPLICATE_ARGOCD_USER_GROUPS",
            ErrorCode::DuplicateArgocdTargetClusterName => "DUPLICATE_ARGOCD_TARGET_CLUSTER_NAME",
            ErrorCode::DuplicateArgocdTargetClusterUrl => "DUPLICATE_ARGOCD_TARGET_CLUSTER_URL",
            ErrorCode::InvalidArgocdApplicationName => "INVALID_ARGOCD_APPLICATION_NAME",
            ErrorCode::InvalidArgocdProjectName => "INVALID_ARGOCD_PROJECT_NAME",
            ErrorCode::InvalidArgocdNamespace => "INVALID_ARGOCD_NAMESPACE",
            ErrorCode::InvalidArgocdUsername => "INVALID_ARGOCD_USERNAME",
            ErrorCode::InvalidArgocdUserId => "INVALID_ARGOCD_USER_ID",
            ErrorCode::InvalidArgocdUserGroups => "INVALID_ARGOCD_USER_GROUPS",
            ErrorCode::InvalidArgocdTargetClusterName => "INVALID_ARGOCD_TARGET_CLUSTER_NAME",
            ErrorCode::InvalidArgocdTargetClusterUrl => "INVALID_ARGOCD_TARGET_CLUSTER_URL",
            ErrorCode::AppNamespaceNotWatched => "APP_NAMESPACE_NOT_WATCHED",
            ErrorCode::AppNotFound => "APP_NOT_FOUND",
            ErrorCode::ProjectMismatch => "PROJECT_MISMATCH",
            ErrorCode::ClusterMismatch => "CLUSTER_MISMATCH",
            ErrorCode::OutOfScope => "OUT_OF_SCOPE",
            ErrorCode::UnknownQueryParameter => "UNKNOWN_QUERY_PARAMETER",
            ErrorCode::InvalidQuery => "INVALID_QUERY",
            ErrorCode::MissingQueryParameter => "MISSING_QUERY_PARAMETER",
            ErrorCode::RouteNotFound => "ROUTE_NOT_FOUND",
            ErrorCode::MethodNotAllowed => "METHOD_NOT_ALLOWED",
            ErrorCode::BodyTooLarge => "BODY_TOO_LARGE",
            ErrorCode::BodyUnreadable => "BODY_UNREADABLE",
            ErrorCode::Overloaded => "OVERLOADED",
            ErrorCode::RequestTimeout => "REQUEST_TIMEOUT",
            ErrorCode::NotReady => "NOT_READY",
            ErrorCode::ShuttingDown => "SHUTTING_DOWN",
            ErrorCode::Internal => "INTERNAL",
            ErrorCode::RepoNotAllowed => "REPO_NOT_ALLOWED",
            ErrorCode::ApplicationNotAllowed => "APPLICATION_NOT_ALLOWED",
            ErrorCode::TooManyReports => "TOO_MANY_REPORTS",
            ErrorCode::ReportBytesExceeded => "REPORT_BYTES_EXCEEDED",
            ErrorCode::InvalidJson => "INVALID_JSON",
            ErrorCode::MissingField => "MISSING_FIELD",
            ErrorCode::InvalidField => "INVALID_FIELD",
            ErrorCode::UnknownField => "UNKNOWN_FIELD",
            ErrorCode::ReportTooLarge => "REPORT_TOO_LARGE",
            ErrorCode::ReportNotFound => "REPORT_NOT_FOUND",
            ErrorCode::ReportNameTaken => "REPORT_NAME_TAKEN",
            ErrorCode::StorageUnavailable => "STORAGE_UNAVAILABLE",
            ErrorCode::StorageRejected => "STORAGE_REJECTED",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for ErrorCode {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for ErrorCode {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other
    }
}

/// The one error shape: `{"status":"error","code":"<CODE>","message":"<text>"}`.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub status: ErrorStatus,
    pub code: ErrorCode,
    /// For people; may change between versions (branch on `code`).
    pub message: String,
}

/// The `status` of an error body: always `"error"`.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ErrorStatus {
    Error,
}

impl ErrorBody {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ErrorBody {
        ErrorBody {
            status: ErrorStatus::Error,
            code,
            message: message.into(),
        }
    }
}

/// `GET /api/v1/drift/resource?group=&version=&kind=&namespace=&name=`: all five are required;
/// `group` is empty for the core group and `namespace` for a cluster-scoped object.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceQuery {
    pub group: String,
    pub version: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_code_serializes_as_its_documented_string() {
        for code in ErrorCode::ALL {
            let json = serde_json::to_value(code).unwrap();
            assert_eq!(json, serde_json::Value::from(code.as_str()), "{code:?}");
            let back: ErrorCode = serde_json::from_value(json).unwrap();
            assert_eq!(back, code);
        }
        let mut seen = std::collections::BTreeSet::new();
        assert!(ErrorCode::ALL.iter().all(|c| seen.insert(c.as_str())));
    }

    #[test]
    fn every_code_is_documented_in_the_readme() {
        let readme = include_str!("../../README.md");
        for code in ErrorCode::ALL {
            let code = code.as_str();
            let documented = readme.contains(&format!("`{code}`"))
                || ["MISSING_", "DUPLICATE_", "INVALID_"].iter().any(|kind| {
                    code.strip_prefix(kind).is_some_and(|header| {
                        readme.contains(&format!("`{kind}<HEADER>`"))
                            && readme.contains(&format!("`{header}`"))
                    })
                });
            assert!(documented, "{code} is not in the README's error tables");
        }
    }

    #[test]
    fn the_error_body_has_the_documented_shape() {
        let body = ErrorBody::new(ErrorCode::ProjectMismatch, "no");
        assert_eq!(
            serde_json::to_value(&body).unwrap(),
            serde_json::json!({"status": "error", "code": "PROJECT_MISMATCH", "message": "no"})
        );
    }
}
