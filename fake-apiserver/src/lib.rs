//! A small fake of kube-apiserver that a real `kube::Client` talks to over HTTP or HTTPS.
//!
//! [`FakeApiServer`] binds `127.0.0.1:0` (by default), serves discovery, CRUD, patches,
//! server-side apply, watches with bookmarks, paging, selectors and `managedFields` for the
//! built-in kinds and for every kind registered by a CustomResourceDefinition, and exposes
//! [`Faults`] to make it misbehave while a test runs. It starts in milliseconds.
//!
//! ```no_run
//! # async fn demo() -> Result<(), fake_apiserver::Error> {
//! let server = fake_apiserver::FakeApiServer::builder()
//!     .seed_yaml("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: demo, namespace: default}\n")
//!     .start()
//!     .await?;
//! let kubeconfig = server.kubeconfig_yaml(); // cluster/user/context "fake"
//! server.faults().set_down(true);            // clients now fail to connect
//! # Ok(()) }
//! ```
//!
//! # Data model
//!
//! - [`Store`]: every object, keyed by resource (group + plural), namespace and name, with one
//!   global resourceVersion counter, an event history for watch replay and paged lists, and
//!   fan-out to open watches (see the `store` module docs).
//! - The registry of served types: the built-ins listed in the crate README plus one type per
//!   served version of each CRD.
//! - [`Faults`]: switches consulted by the connection and request pipeline, plus the request
//!   log.
//!
//! Protocol approximations (compared with a real kube-apiserver) are listed in the module docs
//! of `store`, `defaults`, `strategy`, `schema`, `patch`, `managed_fields`, `watch` and
//! `selectors`.

#![forbid(unsafe_code)]

mod defaults;
mod discovery;
mod faults;
mod handlers;
mod managed_fields;
mod meta;
mod patch;
mod registry;
mod routes;
mod schema;
mod seed;
mod selectors;
mod server;
mod status;
mod store;
mod strategy;
mod tls;
mod watch;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub use faults::{FaultRule, Faults, RequestMatch, RequestRecord, Verb};
pub use seed::{expand_time_placeholders, load_yaml_documents};
pub use status::{ApiError, StatusDetails};
pub use store::Store;

/// Default interval between watch BOOKMARK events.
pub const DEFAULT_BOOKMARK_INTERVAL: Duration = Duration::from_secs(1);

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The listen address could not be bound.
    #[error("failed to bind {addr}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    /// A seed file or directory could not be read.
    #[error("failed to read {}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A seed text is not valid YAML.
    #[error("invalid YAML in {origin}: {message}")]
    Yaml { origin: String, message: String },
    /// A seed object was rejected by the store.
    #[error("failed to seed {object} from {origin}")]
    Seed {
        origin: String,
        object: String,
        #[source]
        source: ApiError,
    },
    /// The TLS material could not be generated.
    #[error("failed to set up TLS: {0}")]
    Tls(String),
}

enum SeedSource {
    Dir(PathBuf),
    Yaml(String),
    Objects(Vec<Value>),
}

/// Configures a [`FakeApiServer`].
pub struct Builder {
    tls: bool,
    token: Option<String>,
    bind: SocketAddr,
    seeds: Vec<SeedSource>,
    forbidden: Vec<(String, String)>,
    bookmark_interval: Duration,
}

// === impl Builder ===

impl Builder {
    /// Serve HTTPS with a freshly generated CA (see [`FakeApiServer::ca_pem`]).
    pub fn tls(mut self, on: bool) -> Self {
        self.tls = on;
        self
    }

    /// Require `Authorization: Bearer <token>` on every request but health checks.
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// Listen address (default `127.0.0.1:0`: an ephemeral port).
    pub fn bind(mut self, addr: SocketAddr) -> Self {
        self.bind = addr;
        self
    }

    /// Seed every `*.yaml`/`*.yml` file of `dir` (sorted by name, multi-document).
    pub fn seed_dir(mut self, dir: impl AsRef<Path>) -> Self {
        self.seeds.push(SeedSource::Dir(dir.as_ref().to_path_buf()));
        self
    }

    /// Seed the objects of a (multi-document) YAML text.
    pub fn seed_yaml(mut self, yaml: &str) -> Self {
        self.seeds.push(SeedSource::Yaml(yaml.to_string()));
        self
    }

    /// Seed these objects.
    pub fn seed_objects(mut self, objs: Vec<Value>) -> Self {
        self.seeds.push(SeedSource::Objects(objs));
        self
    }

    /// Every request on this resource (group `""` for core, plural) gets `403 Forbidden`.
    pub fn forbid(mut self, group: &str, plural: &str) -> Self {
        self.forbidden.push((group.to_string(), plural.to_string()));
        self
    }

    /// Interval between BOOKMARK events on watches that allow them (default 1 s).
    pub fn bookmark_interval(mut self, interval: Duration) -> Self {
        self.bookmark_interval = interval;
        self
    }

    /// Seeds the store, binds, and starts serving in the background.
    pub async fn start(self) -> Result<FakeApiServer, Error> {
        let Builder {
            tls,
            token,
            bind,
            seeds,
            forbidden,
            bookmark_interval,
        } = self;

        let store = Store::new();
        let mut docs = Vec::new();
        for source in seeds {
            match source {
                SeedSource::Dir(dir) => docs.extend(seed::read_dir(&dir)?),
                SeedSource::Yaml(text) => docs.extend(seed::read_yaml(&text)?),
                SeedSource::Objects(objs) => {
                    docs.extend(objs.into_iter().map(|o| ("<seed_objects>".to_string(), o)));
                }
            }
        }
        seed::seed(&store, docs, jiff::Timestamp::now())?;

        let listener = TcpListener::bind(bind)
            .await
            .map_err(|source| Error::Bind { addr: bind, source })?;
        let addr = listener
            .local_addr()
            .map_err(|source| Error::Bind { addr: bind, source })?;
        let tls = if tls {
            Some(tls::generate(addr.ip())?)
        } else {
            None
        };
        let faults = Faults::new(store.clone());
        let shared = Arc::new(server::Shared {
            store: store.clone(),
            faults: faults.clone(),
            token: token.clone(),
            forbidden,
            bookmark_interval,
            addr,
        });
        let acceptor = tls.as_ref().map(|t| t.acceptor.clone());
        let task = tokio::spawn(server::accept_loop(listener, acceptor, shared));
        tracing::info!(%addr, tls = tls.is_some(), "fake API server listening");
        Ok(FakeApiServer {
            addr,
            token,
            ca_pem: tls.map(|t| t.ca_pem),
            store,
            faults,
            task: Some(task),
        })
    }
}

/// A running fake API server. Dropping it stops it.
pub struct FakeApiServer {
    addr: SocketAddr,
    token: Option<String>,
    ca_pem: Option<String>,
    store: Store,
    faults: Faults,
    task: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for FakeApiServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeApiServer")
            .field("url", &self.url())
            .finish_non_exhaustive()
    }
}

// === impl FakeApiServer ===

impl FakeApiServer {
    /// A builder with defaults: plain HTTP on `127.0.0.1:0`, no token, nothing seeded.
    pub fn builder() -> Builder {
        Builder {
            tls: false,
            token: None,
            bind: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0),
            seeds: Vec::new(),
            forbidden: Vec::new(),
            bookmark_interval: DEFAULT_BOOKMARK_INTERVAL,
        }
    }

    /// `http://127.0.0.1:PORT` or `https://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        let scheme = if self.ca_pem.is_some() {
            "https"
        } else {
            "http"
        };
        let ip = match self.addr.ip() {
            ip if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            ip => ip,
        };
        format!("{scheme}://{}", SocketAddr::new(ip, self.addr.port()))
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The bearer token clients must send, if one is configured.
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// The CA certificate (PEM) that signed the serving certificate, when TLS is on.
    pub fn ca_pem(&self) -> Option<&str> {
        self.ca_pem.as_deref()
    }

    /// A complete kubeconfig (cluster, user and context all named `fake`, namespace
    /// `default`) for `kube::Config::from_custom_kubeconfig` or kubectl.
    pub fn kubeconfig_yaml(&self) -> String {
        let quote = |s: &str| Value::String(s.to_string()).to_string();
        let mut cluster = format!("    server: {}\n", quote(&self.url()));
        if let Some(ca) = &self.ca_pem {
            cluster.push_str(&format!(
                "    certificate-authority-data: {}\n",
                STANDARD.encode(ca)
            ));
        }
        let user = match &self.token {
            Some(token) => format!("  user:\n    token: {}\n", quote(token)),
            None => "  user: {}\n".to_string(),
        };
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n{cluster}\
             users:\n- name: fake\n{user}\
             contexts:\n- name: fake\n  context:\n    cluster: fake\n    user: fake\n    namespace: default\n\
             current-context: fake\npreferences: {{}}\n"
        )
    }

    /// In-process access to the objects.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Fault injection and the request log.
    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    /// Stops serving and waits for the accept loop (and every connection) to end.
    pub async fn shutdown(mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            // The task was aborted: its result is a cancellation error by design.
            let _ = task.await;
        }
    }
}

impl Drop for FakeApiServer {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}
