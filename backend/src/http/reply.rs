//! Responses: the one place a handler's typed view or an [`ApiError`](super::error::ApiError)
//! becomes HTTP. Handlers return views; the route table wraps them in a [`Reply`].

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::Full;
use serde::Serialize;

/// A body used only if serializing a response fails, which the types here make impossible in
/// practice (no maps with non-string keys, no failing `Serialize` impls).
const SERIALIZATION_FAILED: &str =
    r#"{"status":"error","code":"INTERNAL","message":"internal error; see the argocd-drift logs"}"#;

/// What a route answers with.
pub trait Reply {
    fn into_response(self) -> Response<Full<Bytes>>;
}

/// A view serialized as JSON with status 200.
pub struct Json<T>(pub T);

impl<T: Serialize> Reply for Json<T> {
    fn into_response(self) -> Response<Full<Bytes>> {
        response(StatusCode::OK, &self.0)
    }
}

/// JSON already serialized (a cached document), with status 200.
pub struct JsonBytes(pub Bytes);

impl Reply for JsonBytes {
    fn into_response(self) -> Response<Full<Bytes>> {
        with_type(StatusCode::OK, self.0, "application/json")
    }
}

/// Text in a given content type (the metrics exposition).
pub struct Text {
    pub content_type: &'static str,
    pub body: String,
}

impl Reply for Text {
    fn into_response(self) -> Response<Full<Bytes>> {
        with_type(StatusCode::OK, Bytes::from(self.body), self.content_type)
    }
}

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

/// Any body with a content type, and the headers every answer carries.
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
