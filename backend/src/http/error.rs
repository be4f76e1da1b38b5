//! Every failure a client can see, as one enum.
//!
//! Each variant maps to an HTTP status and a stable code, and every error body has the same
//! shape: `{"status":"error","code":"<CODE>","message":"<text>"}`. Codes are part of the API
//! (documented in the README); messages are for people and may change. A 5xx never carries
//! internal detail: the cause is logged, the client gets a generic message.

use super::argocd::HeaderError;
use bytes::Bytes;
use drift_core::api::{ErrorBody, ErrorCode};
use drift_core::scope::ClusterClaimMismatch;
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::Full;

/// Seconds a client should wait before retrying a 503.
pub const RETRY_AFTER_SECONDS: u64 = 1;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No `Authorization` header: the request did not come through Argo CD.
    #[error("missing proxy credentials")]
    MissingCredentials,
    /// The `Authorization` header does not hold the shared secret.
    #[error("invalid proxy credentials")]
    InvalidCredentials,
    /// An Argo CD identity header is missing, repeated or malformed.
    #[error(transparent)]
    Header(#[from] HeaderError),
    /// The app's namespace is not one this backend watches (`ARGOCD_NAMESPACES`).
    #[error("applications in namespace {0:?} are not watched by argocd-drift")]
    NamespaceNotWatched(String),
    /// No such Application.
    #[error("application {0} not found")]
    AppNotFound(String),
    /// `Argocd-Project-Name` differs from the app's `spec.project`.
    #[error("the application does not belong to the project in Argocd-Project-Name")]
    ProjectMismatch,
    /// A cluster header contradicts the app's `spec.destination`.
    #[error("{} does not match the application's destination", match .0 {
        ClusterClaimMismatch::Name => "Argocd-Target-Cluster-Name",
        ClusterClaimMismatch::Url => "Argocd-Target-Cluster-URL",
    })]
    ClusterMismatch(ClusterClaimMismatch),
    /// The request names a namespace, cluster or resource that is not the app's.
    #[error("{0} does not belong to the application")]
    OutOfScope(String),
    /// A query parameter this route does not take.
    #[error("unknown query parameter {0:?}")]
    UnknownQueryParameter(String),
    /// A parameter the route requires is absent.
    #[error("query parameter {0:?} is required")]
    MissingQueryParameter(&'static str),
    /// A query string that cannot be read, or a parameter with a bad value.
    #[error("invalid query: {0}")]
    InvalidQuery(String),
    #[error("no such route")]
    RouteNotFound,
    #[error("method not allowed")]
    MethodNotAllowed { allow: String },
    #[error("request body larger than {limit} bytes")]
    BodyTooLarge { limit: u64 },
    /// The request body could not be read (the client broke off mid-body).
    #[error("the request body could not be read")]
    BodyUnreadable(String),
    /// Too many requests in flight; shed before doing any work.
    #[error("too many requests in flight, retry shortly")]
    Overloaded,
    /// The request did not finish within the per-request timeout.
    #[error("the request took too long")]
    Timeout,
    /// The Application index has not finished its first list. On the service port (`/readyz`)
    /// the detail says what the list is waiting for, e.g. an RBAC refusal; the API port never
    /// carries it.
    #[error("argocd-drift has not yet read the applications{}", .detail.as_deref().map(|d| format!(": {d}")).unwrap_or_else(|| ", retry shortly".into()))]
    NotReady { detail: Option<String> },
    /// The process received a termination signal and is draining (service port `/readyz`).
    #[error("argocd-drift is shutting down")]
    ShuttingDown,
    /// A bug or an unexpected failure; the cause is logged, never sent.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),

    // --- the reports port ---
    /// No `Authorization` header on a report (or a protected read).
    #[error("missing reporter credentials: send Authorization: Bearer <token>")]
    MissingReporterCredentials,
    /// `Authorization` holds no accepted reporter (or read) token.
    #[error("invalid reporter credentials")]
    InvalidReporterCredentials,
    /// The token is limited to other repos; the security event names its reporter.
    #[error("the token of reporter {reporter:?} may not report on repo {repo:?}")]
    RepoNotAllowed { repo: String, reporter: String },
    /// The report names an Application that has not consented and the token has no app scope
    /// for; the message says why.
    #[error("{0}")]
    ApplicationNotAllowed(String),
    /// Storing the report would exceed a limit on the number of reports (the token's or the
    /// total); the message names it.
    #[error("{0}")]
    TooManyReports(String),
    /// Storing the report would exceed a limit on bytes held (the token's or the total).
    #[error("{0}")]
    ReportBytesExceeded(String),
    /// The body is not a valid report; the message names the field.
    #[error(transparent)]
    InvalidReport(#[from] drift_core::reports::parse::ReportError),
    /// No report with this key.
    #[error("no report {0}")]
    ReportNotFound(String),
    /// The object name derived from the key is held by a report with another key.
    #[error("the object name for {0} is taken by another report")]
    ReportNameTaken(String),
    /// The stored reports have not been read yet.
    #[error("argocd-drift has not yet read the stored reports, retry shortly")]
    ReportsNotReady,
    /// The report could not be stored (the API server was unreachable): nothing was acknowledged.
    #[error("the report could not be stored: the Kubernetes API server is unavailable, retry")]
    StorageUnavailable,
    /// The API server refused to store the report; the message is its reason.
    #[error("the Kubernetes API server refused to store the report: {0}")]
    StorageRejected(String),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::MissingCredentials | ApiError::InvalidCredentials => StatusCode::UNAUTHORIZED,
            ApiError::Header(_)
            | ApiError::UnknownQueryParameter(_)
            | ApiError::InvalidQuery(_)
            | ApiError::MissingQueryParameter(_)
            | ApiError::BodyUnreadable(_) => StatusCode::BAD_REQUEST,
            ApiError::NamespaceNotWatched(_)
            | ApiError::AppNotFound(_)
            | ApiError::RouteNotFound => StatusCode::NOT_FOUND,
            ApiError::ProjectMismatch | ApiError::ClusterMismatch(_) | ApiError::OutOfScope(_) => {
                StatusCode::FORBIDDEN
            }
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Overloaded
            | ApiError::Timeout
            | ApiError::NotReady { .. }
            | ApiError::ShuttingDown => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::MissingReporterCredentials | ApiError::InvalidReporterCredentials => {
                StatusCode::UNAUTHORIZED
            }
            ApiError::RepoNotAllowed { .. } | ApiError::ApplicationNotAllowed(_) => {
                StatusCode::FORBIDDEN
            }
            ApiError::TooManyReports(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::ReportBytesExceeded(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::InvalidReport(_) => StatusCode::BAD_REQUEST,
            ApiError::ReportNotFound(_) => StatusCode::NOT_FOUND,
            ApiError::ReportNameTaken(_) => StatusCode::CONFLICT,
            ApiError::ReportsNotReady | ApiError::StorageUnavailable => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ApiError::StorageRejected(_) => StatusCode::UNPROCESSABLE_ENTITY,
        }
    }

    /// The stable code clients may branch on.
    pub fn code(&self) -> ErrorCode {
        match self {
            ApiError::MissingCredentials => ErrorCode::MissingCredentials,
            ApiError::InvalidCredentials => ErrorCode::InvalidCredentials,
            ApiError::Header(e) => e.code(),
            ApiError::NamespaceNotWatched(_) => ErrorCode::AppNamespaceNotWatched,
            ApiError::AppNotFound(_) => ErrorCode::AppNotFound,
            ApiError::ProjectMismatch => ErrorCode::ProjectMismatch,
            ApiError::ClusterMismatch(_) => ErrorCode::ClusterMismatch,
            ApiError::OutOfScope(_) => ErrorCode::OutOfScope,
            ApiError::UnknownQueryParameter(_) => ErrorCode::UnknownQueryParameter,
            ApiError::InvalidQuery(_) => ErrorCode::InvalidQuery,
            ApiError::MissingQueryParameter(_) => ErrorCode::MissingQueryParameter,
            ApiError::RouteNotFound => ErrorCode::RouteNotFound,
            ApiError::MethodNotAllowed { .. } => ErrorCode::MethodNotAllowed,
            ApiError::BodyTooLarge { .. } => ErrorCode::BodyTooLarge,
            ApiError::BodyUnreadable(_) => ErrorCode::BodyUnreadable,
            ApiError::Overloaded => ErrorCode::Overloaded,
            ApiError::Timeout => ErrorCode::RequestTimeout,
            ApiError::NotReady { .. } => ErrorCode::NotReady,
            ApiError::ShuttingDown => ErrorCode::ShuttingDown,
            ApiError::Internal(_) => ErrorCode::Internal,
            ApiError::MissingReporterCredentials => ErrorCode::MissingCredentials,
            ApiError::InvalidReporterCredentials => ErrorCode::InvalidCredentials,
            ApiError::RepoNotAllowed { .. } => ErrorCode::RepoNotAllowed,
            ApiError::ApplicationNotAllowed(_) => ErrorCode::ApplicationNotAllowed,
            ApiError::TooManyReports(_) => ErrorCode::TooManyReports,
            ApiError::ReportBytesExceeded(_) => ErrorCode::ReportBytesExceeded,
            ApiError::InvalidReport(e) => e.code(),
            ApiError::ReportNotFound(_) => ErrorCode::ReportNotFound,
            ApiError::ReportNameTaken(_) => ErrorCode::ReportNameTaken,
            ApiError::ReportsNotReady => ErrorCode::NotReady,
            ApiError::StorageUnavailable => ErrorCode::StorageUnavailable,
            ApiError::StorageRejected(_) => ErrorCode::StorageRejected,
        }
    }

    /// A refusal of who is asking or what they asked for: logged as a security event.
    pub fn is_security_rejection(&self) -> bool {
        matches!(
            self,
            ApiError::MissingCredentials
                | ApiError::InvalidCredentials
                | ApiError::Header(_)
                | ApiError::NamespaceNotWatched(_)
                | ApiError::AppNotFound(_)
                | ApiError::ProjectMismatch
                | ApiError::ClusterMismatch(_)
                | ApiError::OutOfScope(_)
                | ApiError::MissingReporterCredentials
                | ApiError::InvalidReporterCredentials
                | ApiError::RepoNotAllowed { .. }
                | ApiError::ApplicationNotAllowed(_)
        )
    }

    /// What the client is told: the error's text, except for a 5xx bug, whose cause is only
    /// logged.
    pub fn public_message(&self) -> String {
        match self {
            ApiError::Internal(_) => "internal error; see the argocd-drift logs".to_string(),
            other => other.to_string(),
        }
    }

    pub fn into_response(self) -> Response<Full<Bytes>> {
        let status = self.status();
        let message = self.public_message();
        let body = ErrorBody::new(self.code(), message);
        let mut response = super::reply::response(status, &body);
        self.add_headers(&mut response);
        response
    }

    /// The headers an error answer carries whatever its body: the auth scheme on 401, `Allow`
    /// on 405, `Retry-After` on a 503 that may pass.
    pub fn add_headers(&self, response: &mut Response<Full<Bytes>>) {
        let headers = response.headers_mut();
        match self {
            ApiError::MissingCredentials | ApiError::InvalidCredentials => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"argocd-drift\""),
                );
            }
            ApiError::MissingReporterCredentials | ApiError::InvalidReporterCredentials => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"argocd-drift-reports\""),
                );
            }
            ApiError::MethodNotAllowed { allow } => {
                if let Ok(value) = HeaderValue::from_str(allow) {
                    headers.insert(header::ALLOW, value);
                }
            }
            ApiError::Overloaded
            | ApiError::Timeout
            | ApiError::NotReady { .. }
            | ApiError::ShuttingDown
            | ApiError::ReportsNotReady
            | ApiError::StorageUnavailable => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECONDS));
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::argocd::ArgoHeader;
    use http_body_util::BodyExt;

    async fn body_of(e: ApiError) -> (StatusCode, http::HeaderMap, serde_json::Value) {
        let response = e.into_response();
        let (parts, body) = response.into_parts();
        let bytes = body.collect().await.unwrap().to_bytes();
        (
            parts.status,
            parts.headers,
            serde_json::from_slice(&bytes).unwrap(),
        )
    }

    #[tokio::test]
    async fn errors_have_one_json_shape_with_a_stable_code() {
        let (status, headers, body) = body_of(ApiError::Header(HeaderError::Missing(
            ArgoHeader::ProjectName,
        )))
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(headers[header::CONTENT_TYPE], "application/json");
        assert_eq!(body["status"], "error");
        assert_eq!(body["code"], "MISSING_ARGOCD_PROJECT_NAME");
        // The message is for people and may change: only its presence is part of the shape.
        assert!(!body["message"].as_str().unwrap().is_empty());
        assert_eq!(body.as_object().unwrap().len(), 3);
    }

    #[tokio::test]
    async fn internal_errors_never_reveal_their_cause() {
        let (status, _, body) = body_of(ApiError::Internal(anyhow::anyhow!(
            "token=abc at /var/run/secret"
        )))
        .await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(body["code"], "INTERNAL");
        assert!(!body["message"].as_str().unwrap().contains("secret"));
    }

    #[tokio::test]
    async fn shed_and_unready_answers_say_when_to_retry() {
        for e in [
            ApiError::Overloaded,
            ApiError::Timeout,
            ApiError::NotReady { detail: None },
        ] {
            let (status, headers, _) = body_of(e).await;
            assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
            assert_eq!(headers[header::RETRY_AFTER], "1");
        }
    }

    #[tokio::test]
    async fn unauthenticated_answers_name_the_scheme() {
        let (status, headers, _) = body_of(ApiError::InvalidCredentials).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(
            headers[header::WWW_AUTHENTICATE],
            "Bearer realm=\"argocd-drift\""
        );
    }
}
