//! JSON responses. Every body the API sends goes through here.

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::Full;
use serde::Serialize;

/// A body used only if serializing a response fails, which the types here make impossible in
/// practice (no maps with non-string keys, no failing `Serialize` impls).
const SERIALIZATION_FAILED: &str =
    r#"{"status":"error","code":"INTERNAL","message":"internal error; see the argocd-drift logs"}"#;

/// `value` as a JSON response with the given status.
pub fn response<T: Serialize>(status: StatusCode, value: &T) -> Response<Full<Bytes>> {
    match serde_json::to_vec(value) {
        Ok(body) => with_type(status, Bytes::from(body), "application/json"),
        Err(error) => {
            tracing::error!(%error, "cannot serialize a response");
            with_type(
                StatusCode::INTERNAL_SERVER_ERROR,
                Bytes::from_static(SERIALIZATION_FAILED.as_bytes()),
                "application/json",
            )
        }
    }
}

/// `value` as a 200 JSON response.
pub fn ok<T: Serialize>(value: &T) -> Response<Full<Bytes>> {
    response(StatusCode::OK, value)
}

/// Any body with a content type.
pub fn with_type(
    status: StatusCode,
    body: Bytes,
    content_type: &'static str,
) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    response
}
