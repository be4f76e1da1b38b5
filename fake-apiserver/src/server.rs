//! The hyper glue: accept loop, connections, and the per-request pipeline.
//!
//! Pipeline for every request: parse the route and query → authenticate (bearer token) →
//! injected delay → injected failure → `forbid()` check → discovery or resource handler →
//! request log + one debug line.
//!
//! Connections are HTTP/1.1 (plain or TLS). Each connection task also watches the "down"
//! switch and drops the connection (and so any watch stream on it) when the server goes down.
//! The accept loop owns every connection task in a `JoinSet`, so aborting the loop (dropping
//! the [`FakeApiServer`](crate::FakeApiServer)) closes everything.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, Response, header};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

use crate::discovery;
use crate::faults::{Faults, RequestInfo, RequestRecord, Verb};
use crate::handlers::{self, ResourceRequest};
use crate::routes::{self, Route};
use crate::status::ApiError;
use crate::store::Store;

/// Response body: a full JSON document or a watch stream.
pub(crate) type Body = UnsyncBoxBody<Bytes, Infallible>;

/// Largest request body accepted (the real server's limit is 3 MiB for most objects).
const MAX_BODY: usize = 16 * 1024 * 1024;

/// The user name used in authorization messages.
const USER: &str = "system:serviceaccount:default:fake-apiserver-client";

/// State shared by every connection.
pub(crate) struct Shared {
    pub store: Store,
    pub faults: Faults,
    pub token: Option<String>,
    /// Resources (group, plural) every request on which is forbidden.
    pub forbidden: Vec<(String, String)>,
    pub bookmark_interval: Duration,
    pub addr: SocketAddr,
}

pub(crate) fn json_response<T: serde::Serialize + ?Sized>(code: u16, value: &T) -> Response<Body> {
    let bytes = serde_json::to_vec(value).unwrap_or_else(|_| b"{}".to_vec());
    let mut response = Response::new(Full::new(Bytes::from(bytes)).boxed_unsync());
    *response.status_mut() =
        http::StatusCode::from_u16(code).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

pub(crate) fn error_response(err: &ApiError) -> Response<Body> {
    let mut response = json_response(err.code, &err.to_status());
    if let Some(secs) = err.retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    response
}

fn text_response(text: &'static str) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::from_static(text.as_bytes())).boxed_unsync());
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

// === accept loop and connections ===

/// Accepts connections until aborted.
pub(crate) async fn accept_loop(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    shared: Arc<Shared>,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    if shared.faults.is_down() {
                        tracing::debug!(%peer, "server is down: closing the new connection");
                        drop(stream);
                        continue;
                    }
                    connections.spawn(connection(stream, peer, tls.clone(), Arc::clone(&shared)));
                }
                Err(err) => {
                    tracing::warn!(%err, "accept failed");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

/// Resolves once the down switch is on.
async fn went_down(mut down: watch::Receiver<bool>) {
    loop {
        if *down.borrow_and_update() {
            return;
        }
        if down.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    tls: Option<TlsAcceptor>,
    shared: Arc<Shared>,
) {
    // Kube's requests are small; don't let Nagle delay them.
    if let Err(err) = stream.set_nodelay(true) {
        tracing::debug!(%err, "set_nodelay failed");
    }
    let cut = went_down(shared.faults.down_receiver());
    tokio::pin!(cut);
    match tls {
        None => serve_http(stream, shared, cut).await,
        Some(acceptor) => {
            let tls_stream = tokio::select! {
                accepted = acceptor.accept(stream) => match accepted {
                    Ok(s) => s,
                    Err(err) => {
                        tracing::debug!(%peer, %err, "TLS handshake failed");
                        return;
                    }
                },
                _ = &mut cut => return,
            };
            serve_http(tls_stream, shared, cut).await;
        }
    }
}

async fn serve_http<S, C>(io: S, shared: Arc<Shared>, cut: std::pin::Pin<&mut C>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    C: std::future::Future<Output = ()>,
{
    let service = service_fn(move |req| {
        let shared = Arc::clone(&shared);
        async move { Ok::<_, Infallible>(handle(shared, req).await) }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .keep_alive(true)
        .serve_connection(TokioIo::new(io), service);
    tokio::select! {
        result = conn => {
            if let Err(err) = result {
                tracing::debug!(%err, "connection ended with an error");
            }
        }
        _ = cut => tracing::debug!("server is down: cutting the connection"),
    }
}

// === request pipeline ===

async fn handle(shared: Arc<Shared>, req: Request<Incoming>) -> Response<Body> {
    let started = Instant::now();
    let method = req.method().clone();
    let uri = req.uri().clone();
    let response = pipeline(&shared, req).await;
    tracing::debug!(
        %method,
        uri = %uri,
        status = response.status().as_u16(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "request"
    );
    response
}

fn authenticated(shared: &Shared, headers: &HeaderMap) -> bool {
    let Some(token) = &shared.token else {
        return true;
    };
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|given| given.trim() == token)
}

async fn pipeline(shared: &Shared, req: Request<Incoming>) -> Response<Body> {
    let (parts, body) = req.into_parts();
    let Some(route) = routes::parse_path(parts.uri.path()) else {
        return error_response(&ApiError::path_not_found());
    };
    if route == Route::Health {
        return text_response("ok");
    }
    if !authenticated(shared, &parts.headers) {
        return error_response(&ApiError::unauthorized());
    }
    let query = match routes::parse_query(parts.uri.query()) {
        Ok(q) => q,
        Err(err) => return error_response(&err),
    };
    let Some(verb) = routes::verb_of(&parts.method, &route, &query) else {
        return error_response(&ApiError::method_not_allowed());
    };
    let resource = match &route {
        Route::Resource(path) => Some(path),
        _ => None,
    };
    let info = RequestInfo {
        verb,
        group: resource.map_or("", |r| r.group.as_str()),
        plural: resource.map(|r| r.plural.as_str()),
    };
    if let Some(delay) = shared.faults.take_delay(&info) {
        tokio::time::sleep(delay).await;
    }
    let result = match shared.faults.take_failure(&info) {
        Some(err) => Err(err),
        None => {
            serve(
                shared,
                &parts.method,
                &parts.headers,
                &route,
                &query,
                verb,
                body,
            )
            .await
        }
    };
    let response = result.unwrap_or_else(|err| error_response(&err));
    shared.faults.record(RequestRecord {
        verb,
        group: info.group.to_string(),
        resource: info.plural.unwrap_or_default().to_string(),
        namespace: resource.and_then(|r| r.namespace.clone()),
        name: resource.and_then(|r| r.name.clone()),
        subresource: resource.and_then(|r| r.subresource.clone()),
        status: response.status().as_u16(),
        uri: parts.uri.to_string(),
    });
    response
}

async fn serve(
    shared: &Shared,
    method: &Method,
    headers: &HeaderMap,
    route: &Route,
    query: &routes::Query,
    verb: Verb,
    body: Incoming,
) -> Result<Response<Body>, ApiError> {
    let registry = || shared.store.registry();
    let path = match route {
        Route::Health => return Ok(text_response("ok")),
        Route::Version => return Ok(json_response(200, &discovery::version())),
        Route::CoreApi | Route::Apis => {
            let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
            let core = *route == Route::CoreApi;
            if discovery::wants_aggregated(accept) {
                let mut response = json_response(200, &discovery::aggregated(&registry(), core));
                response.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static(discovery::AGGREGATED_CONTENT_TYPE),
                );
                return Ok(response);
            }
            let doc = if core {
                discovery::core_versions(shared.addr)
            } else {
                discovery::group_list(&registry())
            };
            return Ok(json_response(200, &doc));
        }
        Route::Group(group) => {
            return discovery::group(&registry(), group)
                .map(|doc| json_response(200, &doc))
                .ok_or_else(ApiError::path_not_found);
        }
        Route::GroupVersion(group, version) => {
            return discovery::resource_list(&registry(), group, version)
                .map(|doc| json_response(200, &doc))
                .ok_or_else(ApiError::path_not_found);
        }
        Route::Resource(path) => path,
    };
    let Some(rt) = shared
        .store
        .lookup(&path.group, &path.version, &path.plural)
    else {
        return Err(ApiError::path_not_found());
    };
    if shared
        .forbidden
        .iter()
        .any(|(g, p)| *g == path.group && *p == path.plural)
    {
        let user = if shared.token.is_some() {
            USER
        } else {
            "system:anonymous"
        };
        return Err(ApiError::forbidden(
            user,
            verb.as_str(),
            &path.group,
            &path.plural,
            path.subresource.as_deref(),
            path.namespace.as_deref(),
            path.name.as_deref(),
        ));
    }
    let body = if matches!(*method, Method::GET | Method::HEAD) {
        Bytes::new()
    } else {
        Limited::new(body, MAX_BODY)
            .collect()
            .await
            .map_err(|_| ApiError::too_large())?
            .to_bytes()
    };
    handlers::handle(ResourceRequest {
        shared,
        method,
        path,
        rt,
        query,
        headers,
        body,
    })
}
