//! HTTP/1.1 listeners: accept connections, serve them with hyper, and drain them on shutdown.
//!
//! Both ports speak HTTP/1.1 only (Argo CD's proxy, kubelet probes and Prometheus all do), which
//! keeps the per-connection header read timeout meaningful: a connection that has not sent
//! complete request headers in time — including an idle keep-alive connection — is closed.

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

/// Request line plus headers may not exceed this; hyper answers 431 beyond it.
pub const MAX_HEADER_BYTES: usize = 64 * 1024;

/// What a listener serves. Handlers never fail: every error is already a response.
pub trait Handler: Send + Sync + 'static {
    fn handle(
        &self,
        req: Request<Incoming>,
        peer: SocketAddr,
    ) -> impl Future<Output = Response<Full<Bytes>>> + Send;
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
    header_read_timeout: Duration,
    mut stop: watch::Receiver<bool>,
) -> Connections {
    let graceful = GracefulShutdown::new();
    let mut tasks = JoinSet::new();
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(header_read_timeout)
        // Both: max_buf_size only trips while headers are still incomplete, so a large request
        // read in one go would pass it; max_header_size checks the parsed head.
        .max_header_size(MAX_HEADER_BYTES)
        .max_buf_size(MAX_HEADER_BYTES);
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
        // Small JSON answers: do not let Nagle hold them back.
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(listener = name, %error, "cannot set TCP_NODELAY");
        }
        let handler = Arc::clone(&handler);
        let service = service_fn(move |req| {
            let handler = Arc::clone(&handler);
            async move { Ok::<_, Infallible>(handler.handle(req, peer).await) }
        });
        let connection = graceful.watch(builder.serve_connection(TokioIo::new(stream), service));
        tasks.spawn(async move {
            if let Err(error) = connection.await {
                // Timeouts, resets and malformed requests end here; none is the server's fault.
                tracing::debug!(listener = name, %peer, %error, "connection ended with an error");
            }
        });
    }
    tracing::info!(listener = name, "stopped accepting connections");
    Connections { graceful, tasks }
}
