//! Kubernetes `Status` failure bodies.
//!
//! Every error the fake returns over HTTP is a `v1 Status` object, shaped like the real
//! kube-apiserver's (`kind`, `apiVersion`, `metadata`, `status: Failure`, `message`, `reason`,
//! `details`, `code`), so client libraries classify it the same way (`kube::Error::Api`,
//! `get_opt` → `None` on 404, watcher relist on 410, …). [`ApiError`] is also what the in-process
//! [`Store`](crate::Store) API returns.

use serde_json::{Map, Value, json};

/// A failed API request, rendered as a Kubernetes `Status` object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status code (`404`, `409`, …).
    pub code: u16,
    /// Machine-readable reason (`NotFound`, `AlreadyExists`, `Conflict`, `Expired`, …).
    pub reason: String,
    /// Human-readable message, worded like the real API server's.
    pub message: String,
    /// Object the failure is about, when there is one.
    pub details: Option<Box<StatusDetails>>,
    /// Seconds the client should wait before retrying (sent as `Retry-After` too).
    pub retry_after: Option<u32>,
}

/// The `details` block of a `Status`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StatusDetails {
    /// Object name, if the failure concerns one object.
    pub name: Option<String>,
    /// API group (empty for the core group; then omitted from the JSON).
    pub group: String,
    /// Resource, as the real server reports it (the plural, e.g. `configmaps`).
    pub kind: String,
    /// Per-field causes (`{reason, message, field}`), mostly for `Invalid`.
    pub causes: Vec<Value>,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.code, self.reason, self.message)
    }
}

impl std::error::Error for ApiError {}

/// `configmaps` for the core group, `applications.argoproj.io` otherwise.
pub(crate) fn group_resource(group: &str, plural: &str) -> String {
    if group.is_empty() {
        plural.to_string()
    } else {
        format!("{plural}.{group}")
    }
}

// === impl ApiError ===

impl ApiError {
    /// An error with the given code, reason and message, and no details.
    pub fn new(code: u16, reason: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code,
            reason: reason.into(),
            message: message.into(),
            details: None,
            retry_after: None,
        }
    }

    fn with_details(mut self, group: &str, plural: &str, name: Option<&str>) -> Self {
        self.details = Some(Box::new(StatusDetails {
            name: name.map(str::to_string),
            group: group.to_string(),
            kind: plural.to_string(),
            causes: Vec::new(),
        }));
        self
    }

    /// `404 NotFound`: `configmaps "x" not found`.
    pub fn not_found(group: &str, plural: &str, name: &str) -> Self {
        Self::new(
            404,
            "NotFound",
            format!("{} \"{name}\" not found", group_resource(group, plural)),
        )
        .with_details(group, plural, Some(name))
    }

    /// `404 NotFound` for a path the server does not serve.
    pub fn path_not_found() -> Self {
        Self::new(
            404,
            "NotFound",
            "the server could not find the requested resource",
        )
        .with_details("", "", None)
    }

    /// `409 AlreadyExists`.
    pub fn already_exists(group: &str, plural: &str, name: &str) -> Self {
        Self::new(
            409,
            "AlreadyExists",
            format!(
                "{} \"{name}\" already exists",
                group_resource(group, plural)
            ),
        )
        .with_details(group, plural, Some(name))
    }

    /// `409 Conflict`: stale `resourceVersion`.
    pub fn conflict(group: &str, plural: &str, name: &str) -> Self {
        Self::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {} \"{name}\": the object has been modified; \
                 please apply your changes to the latest version and try again",
                group_resource(group, plural)
            ),
        )
        .with_details(group, plural, Some(name))
    }

    /// `409 Conflict` with a custom message (failed preconditions, apply conflicts).
    pub fn conflict_with(group: &str, plural: &str, name: &str, message: String) -> Self {
        Self::new(409, "Conflict", message).with_details(group, plural, Some(name))
    }

    /// `400 BadRequest`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }

    /// `422 Invalid`: the object failed validation.
    pub fn invalid(group: &str, kind: &str, name: &str, field: &str, message: &str) -> Self {
        let mut err = Self::new(
            422,
            "Invalid",
            format!(
                "{kind}.{} \"{name}\" is invalid: {field}: {message}",
                if group.is_empty() { "core" } else { group }
            ),
        )
        .with_details(group, kind, Some(name));
        if let Some(details) = err.details.as_mut() {
            details.causes.push(json!({
                "reason": "FieldValueInvalid",
                "message": message,
                "field": field,
            }));
        }
        err
    }

    /// `410 Expired` for a continue token older than the compaction point.
    pub fn expired_continue() -> Self {
        Self::new(
            410,
            "Expired",
            "The provided continue parameter is too old to display a consistent list result. \
             You can start a new list without the continue parameter, or use the continue token \
             in this response to retrieve the remainder of the results. Continuing with the \
             provided token results in an inconsistent list - objects that were created, \
             modified, or deleted between the time the first chunk was returned and now may show \
             up in the list.",
        )
    }

    /// `410 Expired` for a watch or list from a compacted `resourceVersion`.
    pub fn too_old(requested: u64, oldest: u64) -> Self {
        Self::new(
            410,
            "Expired",
            format!("too old resource version: {requested} ({oldest})"),
        )
    }

    /// `410 Expired` for a watch the real server serves from etcd rather than the watch cache
    /// (core Events), once etcd has compacted the requested revision.
    pub fn too_old_uncached() -> Self {
        Self::new(
            410,
            "Expired",
            "The resourceVersion for the provided watch is too old.",
        )
    }

    /// `401 Unauthorized`.
    pub fn unauthorized() -> Self {
        Self::new(401, "Unauthorized", "Unauthorized")
    }

    /// `403 Forbidden`, worded like the RBAC authorizer's denial.
    pub fn forbidden(
        user: &str,
        verb: &str,
        group: &str,
        plural: &str,
        subresource: Option<&str>,
        namespace: Option<&str>,
        name: Option<&str>,
    ) -> Self {
        let resource = group_resource(group, plural);
        let subject = match name {
            Some(name) => format!("{resource} \"{name}\""),
            None => resource,
        };
        let full = match subresource {
            Some(sub) => format!("{plural}/{sub}"),
            None => plural.to_string(),
        };
        let scope = match namespace {
            Some(ns) => format!("in the namespace \"{ns}\""),
            None => "at the cluster scope".to_string(),
        };
        Self::new(
            403,
            "Forbidden",
            format!(
                "{subject} is forbidden: User \"{user}\" cannot {verb} resource \"{full}\" in API \
                 group \"{group}\" {scope}"
            ),
        )
        .with_details(group, plural, name)
    }

    /// `405 MethodNotAllowed`.
    pub fn method_not_allowed() -> Self {
        Self::new(
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
        )
    }

    /// `415 UnsupportedMediaType`.
    pub fn unsupported_media_type(content_type: &str) -> Self {
        Self::new(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format ({content_type:?}) - accepted \
                 media types include: application/json-patch+json, application/merge-patch+json, \
                 application/apply-patch+yaml, application/strategic-merge-patch+json"
            ),
        )
    }

    /// `415 UnsupportedMediaType` for an object body that is neither JSON nor YAML (e.g.
    /// protobuf, which client-go then retries as JSON).
    pub fn unsupported_body(content_type: &str) -> Self {
        Self::new(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format ({content_type:?}) - accepted \
                 media types include: application/json, application/yaml"
            ),
        )
    }

    /// `413 RequestEntityTooLarge`.
    pub fn too_large() -> Self {
        Self::new(413, "RequestEntityTooLarge", "request entity too large")
    }

    /// An injected failure with the conventional reason for `code`.
    pub fn injected(code: u16, retry_after: Option<u32>) -> Self {
        let (reason, message) = match code {
            400 => (
                "BadRequest",
                "the server rejected our request for an unknown reason",
            ),
            401 => ("Unauthorized", "Unauthorized"),
            403 => ("Forbidden", "forbidden (injected fault)"),
            404 => (
                "NotFound",
                "the server could not find the requested resource",
            ),
            409 => ("Conflict", "the server reported a conflict"),
            410 => ("Expired", "the resource version is too old"),
            422 => (
                "Invalid",
                "the server rejected our request due to an error in our request",
            ),
            429 => (
                "TooManyRequests",
                "the server has received too many requests and has asked us to try again later",
            ),
            500 => (
                "InternalError",
                "an error on the server (\"injected fault\") has prevented the request from succeeding",
            ),
            503 => (
                "ServiceUnavailable",
                "the server is currently unable to handle the request",
            ),
            504 => (
                "Timeout",
                "the server was unable to return a response in the time allotted, but may still be processing the request",
            ),
            _ => ("", "injected fault"),
        };
        let mut err = Self::new(code, reason, message);
        err.retry_after = retry_after;
        if retry_after.is_some() {
            err.details = Some(Box::default());
        }
        err
    }

    /// The `Status` object as JSON.
    pub fn to_status(&self) -> Value {
        let mut status = Map::new();
        status.insert("kind".into(), "Status".into());
        status.insert("apiVersion".into(), "v1".into());
        status.insert("metadata".into(), json!({}));
        status.insert("status".into(), "Failure".into());
        status.insert("message".into(), self.message.clone().into());
        if !self.reason.is_empty() {
            status.insert("reason".into(), self.reason.clone().into());
        }
        if let Some(details) = &self.details {
            let mut d = Map::new();
            if let Some(name) = &details.name {
                d.insert("name".into(), name.clone().into());
            }
            if !details.group.is_empty() {
                d.insert("group".into(), details.group.clone().into());
            }
            if !details.kind.is_empty() {
                d.insert("kind".into(), details.kind.clone().into());
            }
            if !details.causes.is_empty() {
                d.insert("causes".into(), Value::Array(details.causes.clone()));
            }
            if let Some(secs) = self.retry_after {
                d.insert("retryAfterSeconds".into(), secs.into());
            }
            status.insert("details".into(), Value::Object(d));
        }
        status.insert("code".into(), self.code.into());
        Value::Object(status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_found_status_matches_the_real_shape() {
        let status = ApiError::not_found("argoproj.io", "applications", "guestbook").to_status();
        assert_eq!(
            status,
            json!({
                "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": "applications.argoproj.io \"guestbook\" not found",
                "reason": "NotFound",
                "details": {"name": "guestbook", "group": "argoproj.io", "kind": "applications"},
                "code": 404,
            })
        );
    }

    #[test]
    fn forbidden_message_names_user_verb_resource_and_scope() {
        let err = ApiError::forbidden(
            "system:serviceaccount:default:fake",
            "list",
            "",
            "secrets",
            None,
            Some("prod"),
            None,
        );
        assert_eq!(
            err.message,
            "secrets is forbidden: User \"system:serviceaccount:default:fake\" cannot list \
             resource \"secrets\" in API group \"\" in the namespace \"prod\""
        );
    }
}
