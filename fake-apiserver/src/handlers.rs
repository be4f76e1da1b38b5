//! Resource requests: get, list, watch, create, update, patch, delete, deletecollection.
//!
//! Each handler turns a typed request into store calls and a JSON response; failures are
//! [`ApiError`]s that the server renders as `Status` bodies.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use http::{HeaderMap, Method, Response, header};
use serde_json::{Map, Value, json};

use crate::managed_fields::{Operation, manager_from_user_agent};
use crate::patch;
use crate::registry::ResourceType;
use crate::routes::{Query, ResourcePath};
use crate::schema::Shape;
use crate::selectors::{FieldSelector, Filter, LabelSelector};
use crate::server::{Body, Shared, json_response};
use crate::status::ApiError;
use crate::store::{HttpWrite, Preconditions, WriteCtx, served};
use crate::watch::{self, WatchRequest};
use std::borrow::Cow;

/// A request for one resource type, with everything already parsed.
pub(crate) struct ResourceRequest<'a> {
    pub shared: &'a Shared,
    pub method: &'a Method,
    pub path: &'a ResourcePath,
    pub rt: Arc<ResourceType>,
    pub query: &'a Query,
    pub headers: &'a HeaderMap,
    pub body: Bytes,
}

/// Dispatches on method, name and subresource.
pub(crate) fn handle(req: ResourceRequest<'_>) -> Result<Response<Body>, ApiError> {
    let path = req.path;
    if path.namespace.is_some() && !req.rt.namespaced {
        return Err(ApiError::path_not_found());
    }
    if req.rt.namespaced
        && path.namespace.is_none()
        && (path.name.is_some() || *req.method == Method::POST)
    {
        return Err(ApiError::path_not_found());
    }
    let name = path.name.as_deref();
    let status = match (path.subresource.as_deref(), name) {
        (None, _) => false,
        (Some("status"), _) if req.rt.status_subresource => true,
        (Some("scale"), Some(name)) if req.rt.has_scale() => return scale(&req, name),
        (Some(_), _) => return Err(ApiError::path_not_found()),
    };
    match (req.method.clone(), name) {
        (Method::GET, Some(name)) => get(&req, name),
        (Method::GET, None) if req.query.watch => watch(&req),
        (Method::GET, None) => list(&req),
        (Method::POST, None) => create(&req),
        (Method::PUT, Some(name)) => update(&req, name, status),
        (Method::PATCH, Some(name)) => patch(&req, name, status),
        (Method::DELETE, Some(name)) if !status => delete(&req, name),
        (Method::DELETE, None) => delete_collection(&req),
        _ => Err(ApiError::method_not_allowed()),
    }
}

fn namespace<'a>(req: &'a ResourceRequest<'_>) -> Option<&'a str> {
    req.path.namespace.as_deref()
}

/// Parses an object body: JSON, or YAML when the `Content-Type` says so. Other media types
/// (protobuf, CBOR) are a `415`, after which client-go retries with JSON.
fn parse_object(headers: &HeaderMap, body: &[u8]) -> Result<Value, ApiError> {
    match media_type(headers).as_str() {
        "" | "application/json" | "*/*" => parse_body(body),
        "application/yaml" => parse_yaml(body),
        other => Err(ApiError::unsupported_body(other)),
    }
}

fn parse_body(body: &[u8]) -> Result<Value, ApiError> {
    let value: Value = serde_json::from_slice(body).map_err(|err| {
        ApiError::bad_request(format!(
            "couldn't get version/kind; json parse error: {err}"
        ))
    })?;
    if !value.is_object() {
        return Err(ApiError::bad_request(
            "the request body must be a JSON object",
        ));
    }
    Ok(value)
}

fn manager(req: &ResourceRequest<'_>) -> Result<String, ApiError> {
    match &req.query.field_manager {
        Some(m) if m.len() > 128 => Err(ApiError::bad_request(
            "fieldManager must not be longer than 128 characters",
        )),
        Some(m) => Ok(m.clone()),
        None => Ok(manager_from_user_agent(
            req.headers
                .get(header::USER_AGENT)
                .and_then(|v| v.to_str().ok()),
        )),
    }
}

fn filter(req: &ResourceRequest<'_>) -> Result<Filter, ApiError> {
    let labels = LabelSelector::parse(req.query.label_selector.as_deref().unwrap_or_default())
        .map_err(ApiError::bad_request)?;
    let fields = FieldSelector::parse(
        req.query.field_selector.as_deref().unwrap_or_default(),
        &req.rt.group,
        &req.rt.kind,
    )
    .map_err(ApiError::bad_request)?;
    Ok(Filter {
        namespace: namespace(req).map(str::to_string),
        labels,
        fields,
    })
}

// === get / list / watch ===

fn get(req: &ResourceRequest<'_>, name: &str) -> Result<Response<Body>, ApiError> {
    let obj = req
        .shared
        .store
        .get_object(&req.rt, namespace(req), name)
        .ok_or_else(|| ApiError::not_found(&req.rt.group, &req.rt.plural, name))?;
    Ok(json_response(200, &served(&obj, &req.rt)))
}

/// The position a continue token resumes from.
#[derive(Debug, PartialEq, Eq)]
struct ContinueToken {
    rv: u64,
    epoch: u64,
    namespace: String,
    name: String,
}

impl ContinueToken {
    fn encode(&self) -> String {
        let json = json!({"v": "meta.k8s.io/v1", "rv": self.rv, "epoch": self.epoch,
                          "start": [self.namespace, self.name]});
        URL_SAFE_NO_PAD.encode(json.to_string())
    }

    fn decode(token: &str) -> Result<Self, ApiError> {
        let invalid = || {
            ApiError::bad_request(
                "continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)",
            )
        };
        let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| invalid())?;
        let value: Value = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
        let start = value
            .get("start")
            .and_then(Value::as_array)
            .ok_or_else(invalid)?;
        let part = |i: usize| start.get(i).and_then(Value::as_str).map(str::to_string);
        Ok(Self {
            rv: value
                .get("rv")
                .and_then(Value::as_u64)
                .ok_or_else(invalid)?,
            epoch: value
                .get("epoch")
                .and_then(Value::as_u64)
                .ok_or_else(invalid)?,
            namespace: part(0).ok_or_else(invalid)?,
            name: part(1).ok_or_else(invalid)?,
        })
    }
}

/// Items of built-in types are served without `apiVersion`/`kind` (like the typed lists of
/// the real server); custom resources keep them.
fn list_item<'a>(obj: &'a Value, rt: &ResourceType) -> Cow<'a, Value> {
    let mut item = served(obj, rt);
    if rt.is_builtin()
        && let Some(map) = item.to_mut().as_object_mut()
    {
        map.remove("apiVersion");
        map.remove("kind");
    }
    item
}

/// A list answer, serialized straight from the stored objects (no copy into one `Value`).
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct ListBody<'a> {
    kind: &'a str,
    api_version: String,
    metadata: Map<String, Value>,
    items: Vec<Cow<'a, Value>>,
}

fn list(req: &ResourceRequest<'_>) -> Result<Response<Body>, ApiError> {
    let filter = filter(req)?;
    let token = req
        .query
        .continue_token
        .as_deref()
        .map(ContinueToken::decode)
        .transpose()?;
    let exact =
        match (&token, req.query.resource_version_match.as_deref()) {
            (None, Some("Exact")) => {
                let rv = req.query.resource_version.as_deref().unwrap_or_default();
                Some(rv.parse::<u64>().map_err(|_| {
                    ApiError::bad_request(format!("invalid resource version: {rv:?}"))
                })?)
            }
            _ => None,
        };
    let at = token.as_ref().map(|t| t.rv).or(exact);
    let snapshot = req
        .shared
        .store
        .snapshot(&req.rt, at, token.as_ref().map(|t| t.epoch))?;
    // The items are sorted by namespace, then name: a namespace's are one run of them, and a
    // page starts after its token's key — both found by bisection, not by a scan from the start
    // (which made a paginated list of n objects cost n² / page).
    let all = snapshot.items.as_slice();
    let in_namespace = match &filter.namespace {
        Some(ns) => {
            let from = all.partition_point(|((n, _), _)| n.as_str() < ns.as_str());
            let to = all.partition_point(|((n, _), _)| n.as_str() <= ns.as_str());
            &all[from..to]
        }
        None => all,
    };
    let after = match &token {
        Some(t) => in_namespace.partition_point(|((ns, name), _)| {
            (ns.as_str(), name.as_str()) <= (t.namespace.as_str(), t.name.as_str())
        }),
        None => 0,
    };
    let mut matching = in_namespace[after..]
        .iter()
        .filter(|(_, obj)| filter.matches(obj));
    let limit = req.query.limit.unwrap_or(usize::MAX);
    let mut items = Vec::new();
    let mut last = None;
    let mut taken = 0;
    for (key, obj) in matching.by_ref().take(limit) {
        items.push(list_item(obj, &req.rt));
        last = Some(key.clone());
        taken += 1;
    }
    // Without selectors every item of the namespace matches: what is left is counted, not
    // filtered; with selectors only whether any is left is asked (no count is sent then).
    let remaining = if filter.has_selectors() {
        usize::from(matching.next().is_some())
    } else {
        in_namespace.len() - after - taken
    };
    let mut metadata = Map::new();
    metadata.insert("resourceVersion".into(), snapshot.rv.to_string().into());
    if remaining > 0
        && let Some((namespace, name)) = last
    {
        let next = ContinueToken {
            rv: snapshot.rv,
            epoch: snapshot.epoch,
            namespace,
            name,
        };
        metadata.insert("continue".into(), next.encode().into());
        if !filter.has_selectors() {
            metadata.insert("remainingItemCount".into(), remaining.into());
        }
    }
    Ok(json_response(
        200,
        &ListBody {
            kind: &req.rt.list_kind,
            api_version: req.rt.api_version(),
            metadata,
            items,
        },
    ))
}

fn watch(req: &ResourceRequest<'_>) -> Result<Response<Body>, ApiError> {
    let watch_req = WatchRequest {
        filter: filter(req)?,
        resource_version: req.query.resource_version.clone(),
        allow_bookmarks: req.query.allow_watch_bookmarks,
        send_initial_events: req.query.send_initial_events,
        timeout: req.query.timeout_seconds.map(Duration::from_secs),
    };
    let body = watch::start(
        &req.shared.store,
        &req.shared.faults,
        Arc::clone(&req.rt),
        watch_req,
        req.shared.bookmark_interval,
    )?;
    Response::builder()
        .status(200)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CACHE_CONTROL, "no-cache, private")
        .body(body)
        .map_err(|err| ApiError::new(500, "InternalError", err.to_string()))
}

// === writes ===

fn create(req: &ResourceRequest<'_>) -> Result<Response<Body>, ApiError> {
    let obj = parse_object(req.headers, &req.body)?;
    let manager = manager(req)?;
    let ctx = WriteCtx {
        http: Some(HttpWrite {
            manager: &manager,
            operation: Operation::Update,
            status: false,
        }),
        dry_run: req.query.dry_run,
    };
    let created = req
        .shared
        .store
        .create_object(&req.rt, namespace(req), obj, &ctx)?;
    Ok(json_response(201, &created))
}

fn update(req: &ResourceRequest<'_>, name: &str, status: bool) -> Result<Response<Body>, ApiError> {
    let obj = parse_object(req.headers, &req.body)?;
    let manager = manager(req)?;
    let ctx = WriteCtx {
        http: Some(HttpWrite {
            manager: &manager,
            operation: Operation::Update,
            status,
        }),
        dry_run: req.query.dry_run,
    };
    let (updated, _) =
        req.shared
            .store
            .update_object(&req.rt, namespace(req), name, &ctx, false, |_| Ok(obj))?;
    Ok(json_response(200, &updated))
}

/// The media type of `Content-Type` (parameters stripped, lower case).
fn media_type(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default()
}

fn patch(req: &ResourceRequest<'_>, name: &str, status: bool) -> Result<Response<Body>, ApiError> {
    let content_type = media_type(req.headers);
    let manager = manager(req)?;
    let shape = Shape {
        builtin: req.rt.is_builtin(),
        kind: &req.rt.kind,
    };
    let invalid = |msg: String| ApiError::new(422, "Invalid", msg);
    let mut ctx = WriteCtx {
        http: Some(HttpWrite {
            manager: &manager,
            operation: Operation::Update,
            status,
        }),
        dry_run: req.query.dry_run,
    };
    let store = &req.shared.store;
    let ns = namespace(req);
    let (obj, created) = match content_type.as_str() {
        "application/merge-patch+json" => {
            let patch = parse_json(&req.body)?;
            store.update_object(&req.rt, ns, name, &ctx, false, |current| {
                let mut obj = current.cloned().unwrap_or_default();
                patch::merge_patch(&mut obj, &patch);
                Ok(obj)
            })?
        }
        "application/json-patch+json" => {
            let patch = parse_json(&req.body)?;
            store.update_object(&req.rt, ns, name, &ctx, false, |current| {
                patch::json_patch(current.unwrap_or(&Value::Null), &patch).map_err(|e| {
                    invalid(format!(
                        "the server rejected our request due to an error in our request: {e}"
                    ))
                })
            })?
        }
        "application/strategic-merge-patch+json" => {
            if !req.rt.is_builtin() {
                return Err(ApiError::unsupported_media_type(&content_type));
            }
            let patch = parse_json(&req.body)?;
            store.update_object(&req.rt, ns, name, &ctx, false, |current| {
                let mut obj = current.cloned().unwrap_or_default();
                patch::strategic_merge_patch(&mut obj, &patch, shape);
                Ok(obj)
            })?
        }
        "application/apply-patch+yaml" => {
            if req.query.field_manager.is_none() {
                return Err(ApiError::bad_request(
                    "PATCH, application/apply-patch+yaml requires fieldManager parameter",
                ));
            }
            let mut config = parse_yaml(&req.body)?;
            if let Some(meta) = config.get_mut("metadata").and_then(Value::as_object_mut) {
                meta.remove("managedFields");
            }
            for field in ["apiVersion", "kind"] {
                if config
                    .get(field)
                    .and_then(Value::as_str)
                    .is_none_or(str::is_empty)
                {
                    return Err(ApiError::bad_request(format!(
                        "invalid object type: {field} is required for apply"
                    )));
                }
            }
            if let Some(http) = ctx.http.as_mut() {
                http.operation = Operation::Apply {
                    config: &config,
                    force: req.query.force,
                };
            }
            store.update_object(&req.rt, ns, name, &ctx, true, |current| {
                let mut obj = current.cloned().unwrap_or_else(|| json!({}));
                patch::apply_merge(&mut obj, &config, shape);
                Ok(obj)
            })?
        }
        other => return Err(ApiError::unsupported_media_type(other)),
    };
    Ok(json_response(if created { 201 } else { 200 }, &obj))
}

fn parse_json(body: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(body)
        .map_err(|err| ApiError::bad_request(format!("error decoding patch: {err}")))
}

fn parse_yaml(body: &[u8]) -> Result<Value, ApiError> {
    let text = std::str::from_utf8(body)
        .map_err(|_| ApiError::bad_request("the apply configuration is not UTF-8"))?;
    let value: Value = serde_saphyr::from_str(text)
        .map_err(|err| ApiError::bad_request(format!("error decoding YAML: {err}")))?;
    if !value.is_object() {
        return Err(ApiError::bad_request(
            "the apply configuration must be an object",
        ));
    }
    Ok(value)
}

// === scale ===

/// The `autoscaling/v1` Scale view of a workload.
fn scale_view(obj: &Value) -> Value {
    let selector = obj
        .pointer("/spec/selector/matchLabels")
        .and_then(Value::as_object)
        .map(|labels| {
            labels
                .iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default();
    let meta = |field: &str| obj.pointer(&format!("/metadata/{field}")).cloned();
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": meta("name"),
            "namespace": meta("namespace"),
            "uid": meta("uid"),
            "resourceVersion": meta("resourceVersion"),
            "creationTimestamp": meta("creationTimestamp"),
        },
        "spec": {"replicas": obj.pointer("/spec/replicas").cloned().unwrap_or(json!(1))},
        "status": {
            "replicas": obj.pointer("/status/replicas").cloned().unwrap_or(json!(0)),
            "selector": selector,
        },
    })
}

/// `GET`/`PUT`/`PATCH` on `/scale`: reads or sets `spec.replicas` of the workload.
fn scale(req: &ResourceRequest<'_>, name: &str) -> Result<Response<Body>, ApiError> {
    let store = &req.shared.store;
    let ns = namespace(req);
    let not_found = || ApiError::not_found(&req.rt.group, &req.rt.plural, name);
    if *req.method == Method::GET {
        let obj = store.get_object(&req.rt, ns, name).ok_or_else(not_found)?;
        return Ok(json_response(200, &scale_view(&obj)));
    }
    if !matches!(*req.method, Method::PUT | Method::PATCH) {
        return Err(ApiError::method_not_allowed());
    }
    let manager = manager(req)?;
    let ctx = WriteCtx {
        http: Some(HttpWrite {
            manager: &manager,
            operation: Operation::Update,
            status: false,
        }),
        dry_run: req.query.dry_run,
    };
    let (obj, _) = store.update_object(&req.rt, ns, name, &ctx, false, |current| {
        let current = current.ok_or_else(not_found)?;
        let view = scale_view(current);
        let desired = if *req.method == Method::PUT {
            parse_object(req.headers, &req.body)?
        } else {
            match media_type(req.headers).as_str() {
                "application/merge-patch+json" | "application/strategic-merge-patch+json" => {
                    let mut view = view;
                    patch::merge_patch(&mut view, &parse_json(&req.body)?);
                    view
                }
                "application/json-patch+json" => patch::json_patch(&view, &parse_json(&req.body)?)
                    .map_err(|e| ApiError::new(422, "Invalid", e))?,
                other => return Err(ApiError::unsupported_media_type(other)),
            }
        };
        let replicas = desired
            .pointer("/spec/replicas")
            .and_then(Value::as_i64)
            .filter(|r| *r >= 0)
            .ok_or_else(|| {
                ApiError::invalid(
                    "autoscaling",
                    "Scale",
                    name,
                    "spec.replicas",
                    "must be a non-negative integer",
                )
            })?;
        let mut obj = current.clone();
        if let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) {
            spec.insert("replicas".into(), replicas.into());
        }
        if let Some(rv) = desired
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str)
            .filter(|rv| !rv.is_empty())
        {
            crate::meta::metadata_mut(&mut obj).insert("resourceVersion".into(), rv.into());
        }
        Ok(obj)
    })?;
    Ok(json_response(200, &scale_view(&obj)))
}

/// `DeleteOptions` from the body (optional), merged with `?dryRun=All`.
fn delete_options(req: &ResourceRequest<'_>) -> Result<(Preconditions, bool), ApiError> {
    let mut dry_run = req.query.dry_run;
    let mut pre = Preconditions::default();
    if !req.body.iter().all(u8::is_ascii_whitespace) {
        let opts = parse_body(&req.body)?;
        let s = |p: &str| opts.pointer(p).and_then(Value::as_str).map(str::to_string);
        pre.uid = s("/preconditions/uid");
        pre.resource_version = s("/preconditions/resourceVersion");
        dry_run |= opts
            .get("dryRun")
            .and_then(Value::as_array)
            .is_some_and(|d| d.iter().any(|v| v == "All"));
    }
    Ok((pre, dry_run))
}

fn delete(req: &ResourceRequest<'_>, name: &str) -> Result<Response<Body>, ApiError> {
    let (pre, dry_run) = delete_options(req)?;
    let obj = req
        .shared
        .store
        .delete_object(&req.rt, namespace(req), name, &pre, dry_run)?;
    Ok(json_response(200, &obj))
}

fn delete_collection(req: &ResourceRequest<'_>) -> Result<Response<Body>, ApiError> {
    let filter = filter(req)?;
    let (_, dry_run) = delete_options(req)?;
    let store = &req.shared.store;
    let snapshot = store.snapshot(&req.rt, None, None)?;
    let mut items = Vec::new();
    for ((ns, name), obj) in snapshot.items.iter() {
        if !filter.matches(obj) {
            continue;
        }
        let ns = (!ns.is_empty()).then_some(ns.as_str());
        match store.delete_object(&req.rt, ns, name, &Preconditions::default(), dry_run) {
            Ok(deleted) => items.push(list_item(&deleted, &req.rt).into_owned()),
            Err(err) if err.code == 404 => {}
            Err(err) => return Err(err),
        }
    }
    Ok(json_response(
        200,
        &json!({
            "kind": req.rt.list_kind,
            "apiVersion": req.rt.api_version(),
            "metadata": {"resourceVersion": store.current_resource_version().to_string()},
            "items": items,
        }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continue_tokens_round_trip_and_reject_garbage() {
        let token = ContinueToken {
            rv: 42,
            epoch: 1,
            namespace: "default".into(),
            name: "cm-2".into(),
        };
        assert_eq!(ContinueToken::decode(&token.encode()).unwrap(), token);
        assert_eq!(ContinueToken::decode("!!!").unwrap_err().code, 400);
    }
}
