//! HTTP/1.1 listeners: accept connections, serve them with hyper, and drain them on shutdown.
//!
//! Every port speaks HTTP/1.1 only (Argo CD's proxy, kubelet probes, Prometheus, Grafana and
//! reporters all do). Each listener bounds what one client can hold:
//!
//! - **request head**: at most [`MAX_HEADER_BYTES`] and [`MAX_HEADERS`] fields (hyper answers
//!   431 beyond either), complete within the header read timeout — which in hyper also closes an
//!   idle keep-alive connection after that time;
//! - **writes**: a response write that makes no progress for the write timeout (a client that
//!   pipelines requests and never reads the answers) fails, and the connection is closed;
//! - **connections**: at most `max_per_peer` open from one IP address, and at most
//!   `max_connections` in all. At the total cap the connection idle the longest (a keep-alive with
//!   no request in flight) is closed to make room; only when every connection is busy is the new
//!   one closed as soon as it is accepted. So a client holding many idle keep-alives — one peer or
//!   many — cannot keep others (a kubelet probe, a reporter) out. Both refusals are counted;
//! - **refusals**: an answer 401 (no or a wrong credential) carries `Connection: close`, so a
//!   caller without a credential never keeps a connection.
//!
//! Refusals hyper makes itself, before any handler runs (malformed request, 431, header timeout),
//! are counted in `argocd_drift_protocol_errors_total{listener, kind}`.

use super::endpoint::{Endpoint, Routes};
use crate::metrics::Metrics;
use crate::supervisor::Tasks;
use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use std::collections::HashMap;
use std::convert::Infallible;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot, watch};
use tokio::task::{AbortHandle, JoinSet};
use tokio::time::{Instant, Sleep};

/// Request line plus headers may not exceed this; hyper answers 431 beyond it.
pub const MAX_HEADER_BYTES: usize = 64 * 1024;
/// Header fields per request (the request line not counted); hyper answers 431 beyond it.
pub const MAX_HEADERS: usize = 100;

/// What a listener serves. Handlers never fail: every error is already a response.
pub trait Handler: Send + Sync + 'static {
    fn handle(
        &self,
        req: Request<Incoming>,
        peer: SocketAddr,
    ) -> impl Future<Output = Response<Full<Bytes>>> + Send;
}

impl<R: Routes> Handler for Endpoint<R> {
    fn handle(
        &self,
        req: Request<Incoming>,
        peer: SocketAddr,
    ) -> impl Future<Output = Response<Full<Bytes>>> + Send {
        self.call(req, peer)
    }
}

/// Per-connection bounds of one listener.
#[derive(Clone, Copy, Debug)]
pub struct ConnectionLimits {
    pub header_read_timeout: Duration,
    pub write_timeout: Duration,
    pub max_connections: usize,
    /// Open connections from one IP address.
    pub max_per_peer: usize,
}

/// The open connections of one listener: who holds them, and which are idle.
#[derive(Default)]
struct Registry {
    next_id: u64,
    open: HashMap<u64, Open>,
    per_peer: HashMap<IpAddr, usize>,
}

struct Open {
    /// Requests in flight on it.
    busy: usize,
    /// When its last request was answered (or it was accepted).
    idle_since: Instant,
    /// Its share of `max_connections`, handed to the connection that evicts it.
    slot: Option<OwnedSemaphorePermit>,
    abort: Option<AbortHandle>,
}

impl Registry {
    /// Closes the connection idle the longest and takes its slot; `None` if every one is busy.
    fn evict_oldest_idle(&mut self) -> Option<OwnedSemaphorePermit> {
        let id = self
            .open
            .iter()
            .filter(|(_, o)| o.busy == 0 && o.slot.is_some())
            .min_by_key(|(_, o)| o.idle_since)
            .map(|(id, _)| *id)?;
        let open = self.open.get_mut(&id)?;
        if let Some(abort) = open.abort.take() {
            abort.abort();
        }
        open.slot.take()
    }

    fn request(&mut self, id: u64, started: bool) {
        if let Some(open) = self.open.get_mut(&id) {
            if started {
                open.busy += 1;
            } else {
                open.busy = open.busy.saturating_sub(1);
                open.idle_since = Instant::now();
            }
        }
    }
}

fn lock(registry: &Mutex<Registry>) -> std::sync::MutexGuard<'_, Registry> {
    registry
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Held by a connection's task: when the task ends (or is aborted), the connection is forgotten
/// and counted closed.
struct Closing {
    registry: Arc<Mutex<Registry>>,
    id: u64,
    peer: IpAddr,
    name: &'static str,
    metrics: Arc<Metrics>,
}

impl Drop for Closing {
    fn drop(&mut self) {
        let mut registry = lock(&self.registry);
        registry.open.remove(&self.id);
        if let Some(n) = registry.per_peer.get_mut(&self.peer) {
            *n -= 1;
            if *n == 0 {
                registry.per_peer.remove(&self.peer);
            }
        }
        drop(registry);
        self.metrics.connection_closed(self.name);
    }
}

/// Resolves once `stop` is true (or its sender is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    // The guard `wait_for` returns is not `Send`; drop it here rather than hold it in the loop.
    let _ = stop.wait_for(|stopped| *stopped).await.map(|_| ());
}

/// The connections a stopped listener still has open.
pub struct Connections {
    graceful: GracefulShutdown,
    tasks: JoinSet<()>,
}

impl Connections {
    /// Lets open connections finish their in-flight requests (idle ones close at once) for up to
    /// `deadline`, then cuts the rest. Returns how many were cut. Dropping the returned future
    /// (a second signal) cuts them all at once.
    pub async fn drain(self, deadline: Duration) -> usize {
        let Connections {
            graceful,
            mut tasks,
        } = self;
        if tokio::time::timeout(deadline, graceful.shutdown())
            .await
            .is_ok()
        {
            return 0;
        }
        while tasks.try_join_next().is_some() {}
        let cut = tasks.len();
        tasks.abort_all();
        cut
    }
}

/// Accepts connections until `stop` turns true, then returns the connections still open.
pub async fn accept_loop<H: Handler>(
    name: &'static str,
    listener: TcpListener,
    handler: Arc<H>,
    limits: ConnectionLimits,
    metrics: Arc<Metrics>,
    mut stop: watch::Receiver<bool>,
) -> Connections {
    let graceful = GracefulShutdown::new();
    let mut tasks = JoinSet::new();
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let registry = Arc::new(Mutex::new(Registry::default()));
    let weak = Arc::downgrade(&registry);
    metrics.count_held("connections_per_peer", move || {
        weak.upgrade().map(|r| lock(&r).per_peer.len())
    });
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        // Both: max_buf_size only trips while headers are still incomplete, so a large request
        // read in one go would pass it; max_header_size checks the parsed head.
        .max_header_size(MAX_HEADER_BYTES)
        .max_buf_size(MAX_HEADER_BYTES)
        .max_headers(MAX_HEADERS);
    loop {
        let (stream, peer) = tokio::select! {
            biased;
            _ = stopped(&mut stop) => break,
            // Reap finished connections so the set does not grow without bound.
            Some(_) = tasks.join_next(), if !tasks.is_empty() => continue,
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(error) => {
                    // Usually EMFILE/ENFILE: back off instead of spinning.
                    tracing::warn!(listener = name, %error, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let ip = peer.ip();
        let mut open = lock(&registry);
        if open.per_peer.get(&ip).copied().unwrap_or(0) >= limits.max_per_peer {
            drop(open);
            metrics.connection_refused(name);
            tracing::debug!(listener = name, %peer, max = limits.max_per_peer, "too many connections from one address; closing a new one");
            drop(stream);
            continue;
        }
        let slot = match Arc::clone(&slots).try_acquire_owned() {
            Ok(slot) => slot,
            Err(_) => match open.evict_oldest_idle() {
                Some(slot) => {
                    tracing::debug!(listener = name, %peer, max = limits.max_connections, "too many connections; closed the one idle the longest");
                    metrics.connection_refused(name);
                    slot
                }
                None => {
                    drop(open);
                    metrics.connection_refused(name);
                    tracing::debug!(listener = name, %peer, max = limits.max_connections, "too many busy connections; closing a new one");
                    drop(stream);
                    continue;
                }
            },
        };
        let id = open.next_id;
        open.next_id += 1;
        *open.per_peer.entry(ip).or_default() += 1;
        open.open.insert(
            id,
            Open {
                busy: 0,
                idle_since: Instant::now(),
                slot: Some(slot),
                abort: None,
            },
        );
        drop(open);
        // Small JSON answers: do not let Nagle hold them back.
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(listener = name, %error, "cannot set TCP_NODELAY");
        }
        let handler = Arc::clone(&handler);
        let busy = Arc::clone(&registry);
        let service = service_fn(move |req| {
            let handler = Arc::clone(&handler);
            let busy = Arc::clone(&busy);
            async move {
                lock(&busy).request(id, true);
                let mut response = handler.handle(req, peer).await;
                lock(&busy).request(id, false);
                if response.status() == http::StatusCode::UNAUTHORIZED {
                    // No credential, no connection to keep.
                    response.headers_mut().insert(
                        http::header::CONNECTION,
                        http::HeaderValue::from_static("close"),
                    );
                }
                Ok::<_, Infallible>(response)
            }
        });
        let io = TokioIo::new(WriteDeadline::new(stream, limits.write_timeout));
        let connection = graceful.watch(builder.serve_connection(io, service));
        metrics.connection_opened(name);
        let closing = Closing {
            registry: Arc::clone(&registry),
            id,
            peer: ip,
            name,
            metrics: Arc::clone(&metrics),
        };
        let metrics = Arc::clone(&metrics);
        let abort = tasks.spawn(async move {
            let _closing = closing;
            if let Err(error) = connection.await {
                let kind = protocol_error_kind(&error);
                if let Some(kind) = kind {
                    metrics.protocol_error(name, kind);
                }
                // Timeouts, resets and malformed requests end here; none is the server's fault.
                tracing::debug!(listener = name, %peer, %error, kind, "connection ended with an error");
            }
        });
        if let Some(open) = lock(&registry).open.get_mut(&id) {
            open.abort = Some(abort);
        }
    }
    tracing::info!(listener = name, "stopped accepting connections");
    Connections { graceful, tasks }
}

/// How hyper refused or dropped a connection, for the protocol-error metric; `None` for a client
/// that simply went away.
fn protocol_error_kind(error: &hyper::Error) -> Option<&'static str> {
    if error.is_parse_too_large() {
        Some("header_too_large") // 431
    } else if error.is_parse() || error.is_parse_status() {
        Some("malformed") // 400
    } else if error.is_timeout() {
        Some("header_timeout")
    } else if is_write_timeout(error) {
        Some("write_timeout")
    } else {
        None
    }
}

fn is_write_timeout(error: &hyper::Error) -> bool {
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        if let Some(io) = cause.downcast_ref::<io::Error>() {
            return io.kind() == io::ErrorKind::TimedOut;
        }
        source = cause.source();
    }
    false
}

/// A connection whose writes fail once they make no progress for `timeout`. hyper has no write
/// timeout of its own: without this, a client that sends requests but never reads the answers
/// holds its connection (and its slot) for ever once the socket buffers are full.
struct WriteDeadline {
    stream: TcpStream,
    timeout: Duration,
    /// Armed while a write is pending; reset by every byte written.
    stalled: Option<Pin<Box<Sleep>>>,
}

impl WriteDeadline {
    fn new(stream: TcpStream, timeout: Duration) -> Self {
        WriteDeadline {
            stream,
            timeout,
            stalled: None,
        }
    }

    /// After the inner write returned `Pending`: fails once the deadline has passed, otherwise
    /// registers for a wake-up at the deadline and stays pending.
    fn pending<T>(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<T>> {
        let timeout = self.timeout;
        let stalled = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        ready!(stalled.as_mut().poll(cx));
        Poll::Ready(Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "the client read nothing for the write timeout",
        )))
    }

    fn progress<T>(
        &mut self,
        result: Poll<io::Result<T>>,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<T>> {
        match result {
            Poll::Pending => self.pending(cx),
            ready => {
                self.stalled = None;
                ready
            }
        }
    }
}

impl AsyncRead for WriteDeadline {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for WriteDeadline {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.stream).poll_write(cx, buf);
        self.progress(result, cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
        self.progress(result, cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let result = Pin::new(&mut self.stream).poll_flush(cx);
        self.progress(result, cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// When a port stops accepting on shutdown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stops {
    /// After the shutdown delay, draining in-flight requests (the API, the reporters' port).
    First,
    /// Only once the others have drained (probes and metrics keep answering meanwhile).
    Last,
}

type Start = Box<
    dyn FnOnce(
            TcpListener,
            watch::Receiver<bool>,
            ConnectionLimits,
            Arc<Metrics>,
        ) -> Pin<Box<dyn Future<Output = Connections> + Send>>
        + Send,
>;

/// A bound port's accept loop, waiting for its stop signal.
type BoundStart = Box<
    dyn FnOnce(
            TcpListener,
            watch::Receiver<bool>,
        ) -> Pin<Box<dyn Future<Output = Connections> + Send>>
        + Send,
>;

/// A port to bind: one row of the composition root's port table.
pub struct PortSpec {
    pub name: &'static str,
    /// The setting that chose the port number (for the error when it cannot be bound).
    pub setting: &'static str,
    pub port: u16,
    pub stops: Stops,
    start: Start,
}

impl PortSpec {
    /// Port `port` (from `setting`) serving `handler` (a port's [`Endpoint`]).
    pub fn new<H: Handler>(
        name: &'static str,
        setting: &'static str,
        port: u16,
        stops: Stops,
        handler: H,
    ) -> PortSpec {
        let handler = Arc::new(handler);
        let start: Start = Box::new(move |listener, stop, limits, metrics| {
            Box::pin(accept_loop(name, listener, handler, limits, metrics, stop))
        });
        PortSpec {
            name,
            setting,
            port,
            stops,
            start,
        }
    }
}

/// A bound port, not yet serving.
pub struct Port {
    pub name: &'static str,
    pub stops: Stops,
    listener: TcpListener,
    start: BoundStart,
}

impl Port {
    /// Binds `spec` on `address`.
    pub async fn bind(
        address: IpAddr,
        spec: PortSpec,
        limits: ConnectionLimits,
        metrics: Arc<Metrics>,
    ) -> io::Result<Port> {
        let addr = SocketAddr::new(address, spec.port);
        let listener = TcpListener::bind(addr).await.map_err(|error| {
            io::Error::new(
                error.kind(),
                format!(
                    "binding the {} port {addr} ({}): {error}",
                    spec.name, spec.setting
                ),
            )
        })?;
        Ok(Port {
            name: spec.name,
            stops: spec.stops,
            listener,
            start: Box::new(move |listener, stop| (spec.start)(listener, stop, limits, metrics)),
        })
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Starts accepting, as the supervised task `listener <name>`; returns the handle to stop
    /// it, and its connections when stopped.
    pub fn serve(self, tasks: &mut Tasks) -> Serving {
        let (stop, stop_rx) = watch::channel(false);
        let (stopped, connections) = oneshot::channel();
        let accept = (self.start)(self.listener, stop_rx);
        tasks.spawn(format!("listener {}", self.name), async move {
            // Only after `stop`: the accept loop runs until then.
            let _ = stopped.send(accept.await);
        });
        Serving {
            name: self.name,
            stops: self.stops,
            stop,
            connections,
        }
    }
}

/// A port accepting connections.
pub struct Serving {
    pub name: &'static str,
    pub stops: Stops,
    stop: watch::Sender<bool>,
    connections: oneshot::Receiver<Connections>,
}

impl Serving {
    /// Stops accepting; the returned connections can then be drained.
    pub async fn stop(self) -> io::Result<Connections> {
        self.stop.send_replace(true);
        self.connections
            .await
            .map_err(|_| io::Error::other(format!("the {} accept loop is gone", self.name)))
    }
}
