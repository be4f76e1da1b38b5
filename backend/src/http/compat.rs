//! The old gitops-status-server's error shape, for the routes that keep its contract
//! (`POST /api/status`, `GET /status.json`, `GET /health`): `{"status":"error","message":"…"}`,
//! no `code`. The one place an [`ApiError`] becomes that shape; status codes and headers are the
//! same as everywhere else (401 with `WWW-Authenticate`, 405 with `Allow`, 503 with
//! `Retry-After`, …).
//!
//! Where the Go server's own error bodies differ (it answered `text/plain` lines such as
//! `Invalid JSON: unexpected EOF`), the contract its reporters were written against wins: an
//! unreadable body is `{"status":"error","message":"Invalid JSON payload"}`, and every other
//! refusal is a message naming the field (`sync_status must be SYNCED or OUT_OF_SYNC`).

use super::error::ApiError;
use bytes::Bytes;
use drift_core::reports::view::CompatError;
use http::Response;
use http_body_util::Full;

/// The paths whose answers keep the old contract.
pub const COMPAT_PATHS: &[&str] = &["/api/status", "/status.json", "/health"];

pub fn is_compat_path(path: &str) -> bool {
    COMPAT_PATHS.contains(&path)
}

/// `error` in the old shape.
pub fn error_response(error: ApiError) -> Response<Full<Bytes>> {
    let message = error.public_message();
    let mut response = super::reply::response(
        error.status(),
        &CompatError {
            status: "error",
            message: &message,
        },
    );
    error.add_headers(&mut response);
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use drift_core::reports::parse::ReportError;
    use http_body_util::BodyExt;

    async fn body(response: Response<Full<Bytes>>) -> String {
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn old_shape_errors_carry_no_code() {
        let r = error_response(ApiError::InvalidReport(ReportError::InvalidJson));
        assert_eq!(r.status(), 400);
        assert_eq!(
            body(r).await,
            r#"{"status":"error","message":"Invalid JSON payload"}"#
        );
        let unauthenticated = error_response(ApiError::MissingReporterCredentials);
        assert_eq!(unauthenticated.status(), 401);
        assert!(unauthenticated.headers().contains_key("www-authenticate"));
    }
}
