//! Per-request limits of a port: a concurrency cap that sheds load, a body cap and a per-request
//! timeout. (Per-connection limits — header size and read timeout, write timeout, connection
//! count — are the listener's.)

use super::error::ApiError;
use http::{HeaderMap, header};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The request's slot under the concurrency cap, shared: the request's handler may hand a clone
/// to blocking work it starts, so the slot stays taken until that work has stopped, even when
/// the request itself was dropped (timed out, client gone). Put in the request's extensions.
#[derive(Clone)]
pub struct RequestPermit(#[allow(dead_code)] Arc<OwnedSemaphorePermit>);

impl RequestPermit {
    pub fn new(permit: OwnedSemaphorePermit) -> Self {
        RequestPermit(Arc::new(permit))
    }
}

#[derive(Clone)]
pub struct Limits {
    permits: Arc<Semaphore>,
    pub max_body_bytes: u64,
    pub request_timeout: Duration,
}

impl Limits {
    pub fn new(max_concurrent: usize, max_body_bytes: u64, request_timeout: Duration) -> Self {
        Limits {
            permits: Arc::new(Semaphore::new(max_concurrent)),
            max_body_bytes,
            request_timeout,
        }
    }

    /// A slot for one request, or `Overloaded` at once: under overload, queueing only makes every
    /// caller slower, so excess requests are refused while the rest are served promptly.
    pub fn admit(&self) -> Result<OwnedSemaphorePermit, ApiError> {
        Arc::clone(&self.permits)
            .try_acquire_owned()
            .map_err(|_| ApiError::Overloaded)
    }

    /// Refuses a declared body over the cap before reading any of it. (Routes that read bodies
    /// must also cap what they read: a chunked body declares no length.)
    /// `Content-Length` over the cap → `BodyTooLarge`. (hyper already refuses a malformed
    /// length.)
    pub fn check_declared_body(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        let declared = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        match declared {
            Some(len) if len > self.max_body_bytes => Err(ApiError::BodyTooLarge {
                limit: self.max_body_bytes,
            }),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sheds_requests_beyond_the_cap_and_recovers_when_one_finishes() {
        let limits = Limits::new(2, 10, Duration::from_secs(1));
        let a = limits.admit().unwrap();
        let _b = limits.admit().unwrap();
        assert_eq!(limits.admit().unwrap_err().code(), "OVERLOADED");
        drop(a);
        assert!(limits.admit().is_ok());
    }

    #[test]
    fn refuses_a_declared_body_over_the_cap() {
        let limits = Limits::new(1, 10, Duration::from_secs(1));
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_LENGTH, "10".parse().unwrap());
        assert!(limits.check_declared_body(&headers).is_ok());
        headers.insert(header::CONTENT_LENGTH, "11".parse().unwrap());
        assert_eq!(
            limits.check_declared_body(&headers).unwrap_err().code(),
            "BODY_TOO_LARGE"
        );
    }
}
