//! Configuration: environment variables only, read once by `main` and passed down.
//!
//! Every variable is listed in the README's configuration table (a test keeps the two in step).
//! A missing or malformed variable stops start-up with a message naming it.

use envconfig::Envconfig;
use std::fmt;
use std::net::IpAddr;
use std::num::{NonZeroU64, NonZeroUsize};
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use crate::index::WatchScope;
use drift_core::names::is_dns_label;

/// The longest duration any setting may ask for: a week.
pub const MAX_SECONDS: u64 = 7 * 24 * 3600;

/// The shortest shared secret accepted: a guessable proxy token is no boundary at all.
pub const MIN_PROXY_TOKEN_LEN: usize = 16;

#[derive(Envconfig, Clone, Debug)]
pub struct Config {
    /// Address both listeners bind to.
    #[envconfig(from = "BIND_ADDRESS", default = "0.0.0.0")]
    pub bind_address: IpAddr,

    /// The proxy-facing API (what Argo CD's proxy extension calls). 0 picks a free port.
    #[envconfig(from = "PORT", default = "8080")]
    pub port: u16,

    /// Probes and metrics; never exposed through Argo CD.
    #[envconfig(from = "SERVICE_PORT", default = "8081")]
    pub service_port: u16,

    /// The shared secret Argo CD sends as `Authorization: Bearer <token>`.
    #[envconfig(from = "PROXY_TOKEN")]
    pub proxy_token: Option<Secret>,

    /// A file holding the shared secret (a mounted Secret); surrounding whitespace is ignored.
    #[envconfig(from = "PROXY_TOKEN_FILE")]
    pub proxy_token_file: Option<PathBuf>,

    /// How often `PROXY_TOKEN_FILE` is re-read, so a rotated Secret takes effect without a restart.
    #[envconfig(from = "PROXY_TOKEN_RELOAD_SECONDS", default = "10")]
    pub proxy_token_reload_seconds: NonZeroU64,

    /// After `PROXY_TOKEN_FILE` changes, the previous token is still accepted this long (Argo CD
    /// and kubelet pick the new one up at different moments). 0: refused at once.
    #[envconfig(from = "PROXY_TOKEN_ROTATION_GRACE_SECONDS", default = "300")]
    pub proxy_token_rotation_grace_seconds: u64,

    /// Development only: serve without a shared secret, trusting every caller's headers.
    #[envconfig(from = "INSECURE_NO_PROXY_TOKEN", default = "false")]
    pub insecure_no_proxy_token: bool,

    /// Namespaces holding Applications, comma-separated, or `*` for all.
    #[envconfig(from = "ARGOCD_NAMESPACES", default = "argocd")]
    pub argocd_namespaces: Namespaces,

    /// The namespace argocd-drift runs in (the downward API sets it in a pod): where its own
    /// custom resources live.
    #[envconfig(from = "POD_NAMESPACE", default = "argocd")]
    pub pod_namespace: String,

    /// Drift episodes kept per app (in its `DriftHistory`); the oldest go first. At most 1000.
    #[envconfig(from = "HISTORY_MAX_EPISODES", default = "100")]
    pub history_max_episodes: NonZeroUsize,

    /// Episodes that ended longer ago than this many days are removed. At most 3650.
    #[envconfig(from = "HISTORY_MAX_AGE_DAYS", default = "30")]
    pub history_max_age_days: NonZeroU64,

    /// How often every `DriftHistory` is pruned (each is also pruned whenever it is written).
    #[envconfig(from = "HISTORY_SWEEP_INTERVAL_SECONDS", default = "3600")]
    pub history_sweep_interval_seconds: NonZeroU64,

    /// Each drifting app's episode under way is enriched (causes, field paths, managers) by a
    /// background inspection at most once per this many seconds; 0 turns it off. Requests never
    /// write the history.
    #[envconfig(from = "HISTORY_ENRICH_INTERVAL_SECONDS", default = "300")]
    pub history_enrich_interval_seconds: u64,

    /// Whether each drift episode's start and end is told as a Kubernetes Event on the
    /// Application (`DriftStarted` / `DriftEnded`; needs create on events in app namespaces).
    #[envconfig(from = "EVENTS_ENABLED", default = "true")]
    pub events_enabled: bool,

    /// Argo CD's own namespace: where `argocd-cm` and its cluster Secrets live.
    #[envconfig(from = "ARGOCD_CONTROL_PLANE_NAMESPACE", default = "argocd")]
    pub argocd_control_plane_namespace: String,

    /// Whether drift reads Secrets (only ever to say which keys changed; values never leave the
    /// process). Off: Secrets are reported as not inspected.
    #[envconfig(from = "DRIFT_READ_SECRETS", default = "false")]
    pub drift_read_secrets: bool,

    /// Whether drift reads apps deployed to other clusters, with the credentials in Argo CD's
    /// cluster Secrets (which then must be readable).
    #[envconfig(from = "DRIFT_REMOTE_CLUSTERS", default = "false")]
    pub drift_remote_clusters: bool,

    /// Live-object GETs in flight at once, across every request and cluster.
    #[envconfig(from = "DRIFT_READ_CONCURRENCY", default = "16")]
    pub drift_read_concurrency: NonZeroUsize,

    /// Live objects kept for reuse, in bytes of JSON.
    #[envconfig(from = "DRIFT_CACHE_BYTES", default = "67108864")]
    pub drift_cache_bytes: usize,

    /// How long a live object read is reused (0: never).
    #[envconfig(from = "DRIFT_CACHE_TTL_SECONDS", default = "10")]
    pub drift_cache_ttl_seconds: u64,

    /// The shortest time between two forced fresh reads (`GET /api/v1/drift?refresh=true`) of one
    /// app; a refresh sooner is answered from the cache.
    #[envconfig(from = "DRIFT_REFRESH_MIN_INTERVAL_SECONDS", default = "10")]
    pub drift_refresh_min_interval_seconds: u64,

    /// argocd-server's URL, to take Argo CD's own verdict from its managed-resources API
    /// (optional; with `ARGOCD_AUTH_TOKEN_FILE`).
    #[envconfig(from = "ARGOCD_SERVER_URL")]
    pub argocd_server_url: Option<String>,

    /// A file holding an Argo CD account token allowed `applications, get`.
    #[envconfig(from = "ARGOCD_AUTH_TOKEN_FILE")]
    pub argocd_auth_token_file: Option<PathBuf>,

    /// Accept argocd-server's certificate without verifying it (its default is self-signed).
    #[envconfig(from = "ARGOCD_SERVER_INSECURE", default = "false")]
    pub argocd_server_insecure: bool,

    /// `argocd-drift check`: the URL Argo CD's extension config must point at (this backend's API
    /// Service). Default: `http://argocd-drift.<POD_NAMESPACE>.svc:<PORT>`.
    #[envconfig(from = "CHECK_API_URL")]
    pub check_api_url: Option<String>,

    /// `argocd-drift check`: where to ask the backend `/readyz` (its probe port). Default:
    /// `http://127.0.0.1:<SERVICE_PORT>` (the check run inside a backend pod).
    #[envconfig(from = "CHECK_SERVICE_URL")]
    pub check_service_url: Option<String>,

    /// `argocd-drift check`: the argocd-server Deployment, in Argo CD's namespace, whose init
    /// containers install the UI.
    #[envconfig(from = "CHECK_ARGOCD_SERVER_DEPLOYMENT", default = "argocd-server")]
    pub check_argocd_server_deployment: String,

    /// `argocd-drift check`: how the extension config should refer to the proxy secret (shown in
    /// fixes).
    #[envconfig(
        from = "CHECK_PROXY_SECRET_REF",
        default = "$argocd-drift-proxy:authorization"
    )]
    pub check_proxy_secret_ref: String,

    /// A kubeconfig file; unset means in-cluster config, then `~/.kube/config`.
    #[envconfig(from = "KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,

    /// The longest a call to the Kubernetes API server may take to answer (a list page, or a
    /// watch until its response starts); past it the attempt fails and the data is marked stale.
    #[envconfig(from = "KUBE_REQUEST_TIMEOUT_SECONDS", default = "30")]
    pub kube_request_timeout_seconds: NonZeroU64,

    /// A tracing filter: `info`, `debug`, `argocd_drift=debug,kube=info`, …
    #[envconfig(from = "LOG_LEVEL", default = "info")]
    pub log_level: String,

    #[envconfig(from = "LOG_FORMAT", default = "json")]
    pub log_format: LogFormat,

    /// A connection that has not sent complete request headers within this time is closed.
    #[envconfig(from = "HEADER_READ_TIMEOUT_SECONDS", default = "5")]
    pub header_read_timeout_seconds: NonZeroU64,

    /// The longest a request may take before it is answered with 503.
    #[envconfig(from = "REQUEST_TIMEOUT_SECONDS", default = "10")]
    pub request_timeout_seconds: NonZeroU64,

    /// Larger request bodies are refused with 413.
    #[envconfig(from = "MAX_REQUEST_BODY_BYTES", default = "1048576")]
    pub max_request_body_bytes: NonZeroU64,

    /// Requests in flight on the API port beyond this are shed with 503 and `Retry-After`.
    #[envconfig(from = "MAX_CONCURRENT_REQUESTS", default = "256")]
    pub max_concurrent_requests: NonZeroUsize,

    /// Open connections per listener; a connection beyond this is closed as soon as it is
    /// accepted.
    #[envconfig(from = "MAX_CONNECTIONS", default = "1024")]
    pub max_connections: NonZeroUsize,

    /// Open connections per port from one IP address.
    #[envconfig(from = "MAX_CONNECTIONS_PER_PEER", default = "128")]
    pub max_connections_per_peer: NonZeroUsize,

    /// A response write that makes no progress for this long (the client stopped reading) closes
    /// the connection.
    #[envconfig(from = "WRITE_TIMEOUT_SECONDS", default = "10")]
    pub write_timeout_seconds: NonZeroU64,

    /// After the first SIGTERM/SIGINT: not ready at once, but the API keeps serving this long
    /// while Kubernetes removes the pod from the Service's endpoints. 0 stops accepting at once.
    #[envconfig(from = "SHUTDOWN_DELAY_SECONDS", default = "5")]
    pub shutdown_delay_seconds: u64,

    /// Then in-flight requests get this long to finish.
    #[envconfig(from = "SHUTDOWN_TIMEOUT_SECONDS", default = "20")]
    pub shutdown_timeout_seconds: NonZeroU64,

    /// `reconciledAt` older than this marks an app's verdicts as possibly frozen.
    #[envconfig(from = "RECONCILE_STALE_AFTER_SECONDS", default = "600")]
    pub reconcile_stale_after_seconds: NonZeroU64,

    /// The reports port: reporters and Grafana (never through Argo CD's proxy).
    #[envconfig(from = "REPORTS_PORT", default = "8082")]
    pub reports_port: u16,

    /// Reporter tokens: a file, or a directory of files (a mounted Secret), of lines
    /// `<name> <token> [<repo>,<repo>…|*]`.
    #[envconfig(from = "REPORTS_TOKENS_PATH")]
    pub reports_tokens_path: Option<PathBuf>,

    /// Tokens that may read `/status.json` (one per line). Unset: reads are open.
    #[envconfig(from = "REPORTS_READ_TOKENS_FILE")]
    pub reports_read_tokens_file: Option<PathBuf>,

    /// How often the token files are re-read.
    #[envconfig(from = "REPORTS_TOKENS_RELOAD_SECONDS", default = "10")]
    pub reports_tokens_reload_seconds: NonZeroU64,

    /// Demo only: accept reports (and deletes) without a token.
    #[envconfig(from = "REPORTS_INSECURE_NO_AUTH", default = "false")]
    pub reports_insecure_no_auth: bool,

    /// A report not refreshed within this is served with `stale: true`.
    #[envconfig(from = "REPORT_STALE_AFTER_SECONDS", default = "3600")]
    pub report_stale_after_seconds: NonZeroU64,

    /// A report not refreshed within this is deleted.
    #[envconfig(from = "REPORT_EXPIRE_AFTER_SECONDS", default = "604800")]
    pub report_expire_after_seconds: NonZeroU64,

    /// A heartbeat (same content, newer `last_check`) is acknowledged at once and written within
    /// this: a crash loses at most this much freshness, never a status change.
    #[envconfig(from = "REPORT_HEARTBEAT_WRITE_SECONDS", default = "60")]
    pub report_heartbeat_write_seconds: NonZeroU64,

    /// The least time between two written changes of one report; a change sooner is queued.
    #[envconfig(from = "REPORT_CONTENT_WRITE_SECONDS", default = "10")]
    pub report_content_write_seconds: u64,

    /// Reports held in all (every replica holds every report in memory).
    #[envconfig(from = "REPORTS_MAX_TOTAL", default = "5000")]
    pub reports_max_total: usize,

    /// Bytes of reports held in all (`Ki`/`Mi`/`Gi` suffixes).
    #[envconfig(from = "REPORTS_MAX_TOTAL_BYTES", default = "48Mi")]
    pub reports_max_total_bytes: crate::reports::ByteSize,

    /// Reports one reporter token may hold, unless its line says `reports=`.
    #[envconfig(from = "REPORTS_PER_TOKEN_MAX", default = "500")]
    pub reports_per_token_max: usize,

    /// Bytes one reporter token's reports may hold, unless its line says `bytes=`.
    #[envconfig(from = "REPORTS_PER_TOKEN_MAX_BYTES", default = "8Mi")]
    pub reports_per_token_max_bytes: crate::reports::ByteSize,
}

/// Why the configuration cannot be used. Each message names the variable.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{0}{hint}", hint = hint_for(.0))]
    Env(#[from] envconfig::Error),
    #[error(
        "PROXY_TOKEN or PROXY_TOKEN_FILE is required (the secret Argo CD sends); set INSECURE_NO_PROXY_TOKEN=true only for local development"
    )]
    MissingProxyToken,
    #[error("set only one of PROXY_TOKEN and PROXY_TOKEN_FILE")]
    AmbiguousProxyToken,
    #[error("{var} is shorter than {MIN_PROXY_TOKEN_LEN} characters")]
    WeakProxyToken { var: &'static str },
    #[error("cannot read PROXY_TOKEN_FILE {path}: {source}")]
    ProxyTokenFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{var}={seconds} is more than {MAX_SECONDS} seconds (a week)")]
    TooLong { var: &'static str, seconds: u64 },
    #[error("{0}")]
    ArgoCdApi(&'static str),
    #[error("{var} {value:?} is not a namespace name")]
    Namespace { var: &'static str, value: String },
    #[error("LOG_LEVEL {value:?} is not a valid tracing filter: {reason}")]
    LogLevel { value: String, reason: String },
    #[error("{var}={value} is more than {max}")]
    AboveMax {
        var: &'static str,
        value: u64,
        max: u64,
    },
    #[error(
        "REPORT_HEARTBEAT_WRITE_SECONDS ({heartbeat}) must be less than REPORT_STALE_AFTER_SECONDS ({stale}), which may not exceed REPORT_EXPIRE_AFTER_SECONDS ({expire})"
    )]
    ReportDurations {
        heartbeat: u64,
        stale: u64,
        expire: u64,
    },
}

fn hint_for(e: &envconfig::Error) -> &'static str {
    let envconfig::Error::ParseError { name } = e else {
        return "";
    };
    match *name {
        "BIND_ADDRESS" => ": expected an IP address such as 0.0.0.0 or ::",
        "PORT" | "SERVICE_PORT" | "REPORTS_PORT" => ": expected a port number 0-65535",
        "INSECURE_NO_PROXY_TOKEN" | "REPORTS_INSECURE_NO_AUTH" => ": expected true or false",
        "ARGOCD_NAMESPACES" => ": expected `*` or a comma-separated list of namespace names",
        "LOG_FORMAT" => ": expected json or text",
        "PROXY_TOKEN" => ": must not be empty",
        "SHUTDOWN_DELAY_SECONDS"
        | "PROXY_TOKEN_ROTATION_GRACE_SECONDS"
        | "DRIFT_CACHE_TTL_SECONDS"
        | "DRIFT_REFRESH_MIN_INTERVAL_SECONDS" => ": expected a whole number of seconds",
        "DRIFT_CACHE_BYTES" => ": expected a whole number of bytes",
        "DRIFT_READ_SECRETS" | "DRIFT_REMOTE_CLUSTERS" | "ARGOCD_SERVER_INSECURE" => {
            ": expected true or false"
        }
        _ => ": expected a whole number greater than 0",
    }
}

/// How the API authenticates Argo CD.
#[derive(Clone)]
pub enum ProxyAuth {
    /// Requests must carry `Authorization: Bearer <token>`.
    Token(Secret),
    /// Development mode: no check at all.
    Disabled,
}

// === impl Config ===

impl Config {
    /// The shared-secret setting, read from whichever variable holds it.
    pub fn proxy_auth(&self) -> Result<ProxyAuth, ConfigError> {
        let token = match (&self.proxy_token, &self.proxy_token_file) {
            (Some(_), Some(_)) => return Err(ConfigError::AmbiguousProxyToken),
            // Trimmed like the file: a Secret written with a trailing newline must still match.
            (Some(token), None) => {
                check_token(Secret(token.expose().trim().to_string()), "PROXY_TOKEN")?
            }
            (None, Some(path)) => {
                let text = std::fs::read_to_string(path).map_err(|source| {
                    ConfigError::ProxyTokenFile {
                        path: path.clone(),
                        source,
                    }
                })?;
                check_token(Secret(text.trim().to_string()), "PROXY_TOKEN_FILE")?
            }
            (None, None) if self.insecure_no_proxy_token => return Ok(ProxyAuth::Disabled),
            (None, None) => return Err(ConfigError::MissingProxyToken),
        };
        Ok(ProxyAuth::Token(token))
    }

    pub fn header_read_timeout(&self) -> Duration {
        Duration::from_secs(self.header_read_timeout_seconds.get())
    }

    pub fn write_timeout(&self) -> Duration {
        Duration::from_secs(self.write_timeout_seconds.get())
    }

    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout_seconds.get())
    }

    pub fn kube_request_timeout(&self) -> Duration {
        Duration::from_secs(self.kube_request_timeout_seconds.get())
    }

    pub fn shutdown_delay(&self) -> Duration {
        Duration::from_secs(self.shutdown_delay_seconds)
    }

    pub fn shutdown_timeout(&self) -> Duration {
        Duration::from_secs(self.shutdown_timeout_seconds.get())
    }

    /// Argo CD's API, when both its URL and a token file are configured.
    pub fn argocd_api(&self) -> Result<Option<crate::cluster::ArgoCdApiConfig>, ConfigError> {
        match (&self.argocd_server_url, &self.argocd_auth_token_file) {
            (None, None) => Ok(None),
            (Some(url), Some(token_file)) => {
                if !(url.starts_with("https://") || url.starts_with("http://")) {
                    return Err(ConfigError::ArgoCdApi(
                        "ARGOCD_SERVER_URL must be an http(s) URL",
                    ));
                }
                Ok(Some(crate::cluster::ArgoCdApiConfig {
                    url: url.trim_end_matches('/').to_string(),
                    token_file: token_file.clone(),
                    insecure: self.argocd_server_insecure,
                    timeout: self.kube_request_timeout(),
                }))
            }
            _ => Err(ConfigError::ArgoCdApi(
                "set both ARGOCD_SERVER_URL and ARGOCD_AUTH_TOKEN_FILE, or neither",
            )),
        }
    }

    /// How live reads for drift are bounded.
    pub fn read_limits(&self) -> crate::cluster::ReadLimits {
        crate::cluster::ReadLimits {
            concurrency: self.drift_read_concurrency.get(),
            cache_bytes: self.drift_cache_bytes,
            cache_ttl: Duration::from_secs(self.drift_cache_ttl_seconds),
            read_secrets: self.drift_read_secrets,
            refresh_min_interval: Duration::from_secs(self.drift_refresh_min_interval_seconds),
        }
    }

    pub fn reconcile_stale_after(&self) -> Duration {
        Duration::from_secs(self.reconcile_stale_after_seconds.get())
    }

    /// How drift history is kept.
    pub fn history(&self) -> crate::history::Settings {
        crate::history::Settings {
            retention: drift_core::history::Retention {
                max_episodes: self.history_max_episodes.get(),
                max_age: jiff::SignedDuration::from_hours(
                    i64::try_from(self.history_max_age_days.get().saturating_mul(24))
                        .unwrap_or(i64::MAX),
                ),
                max_bytes: drift_core::history::model::bounds::MAX_RECORD_BYTES,
            },
            sweep_every: Duration::from_secs(self.history_sweep_interval_seconds.get()),
        }
    }

    /// How often each drifting app's episode is enriched off the request path; `None`: never.
    pub fn history_enrich_every(&self) -> Option<Duration> {
        (self.history_enrich_interval_seconds > 0)
            .then(|| Duration::from_secs(self.history_enrich_interval_seconds))
    }

    /// Freshness of external reports: stale after, expire after, heartbeat write interval.
    pub fn report_timing(&self) -> crate::reports::Timing {
        crate::reports::Timing {
            stale_after: Duration::from_secs(self.report_stale_after_seconds.get()),
            expire_after: Duration::from_secs(self.report_expire_after_seconds.get()),
            heartbeat_write: Duration::from_secs(self.report_heartbeat_write_seconds.get()),
        }
    }

    /// What the stored reports may hold.
    pub fn report_limits(&self) -> crate::reports::Limits {
        crate::reports::Limits {
            total_reports: self.reports_max_total,
            total_bytes: self.reports_max_total_bytes.0,
            per_token_reports: self.reports_per_token_max,
            per_token_bytes: self.reports_per_token_max_bytes.0,
            content_write: Duration::from_secs(self.report_content_write_seconds),
        }
    }

    /// Checks what the types alone cannot: the tracing filter, the proxy token, and that no
    /// duration is absurd.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.validate_settings()?;
        self.proxy_auth().map(|_| ())
    }

    /// [`validate`](Self::validate) without reading the token file.
    pub fn validate_settings(&self) -> Result<(), ConfigError> {
        // A timer a century away overflows deep inside the runtime; nothing needs over a week.
        for (var, seconds) in [
            (
                "HEADER_READ_TIMEOUT_SECONDS",
                self.header_read_timeout_seconds.get(),
            ),
            (
                "REQUEST_TIMEOUT_SECONDS",
                self.request_timeout_seconds.get(),
            ),
            ("WRITE_TIMEOUT_SECONDS", self.write_timeout_seconds.get()),
            (
                "KUBE_REQUEST_TIMEOUT_SECONDS",
                self.kube_request_timeout_seconds.get(),
            ),
            (
                "PROXY_TOKEN_RELOAD_SECONDS",
                self.proxy_token_reload_seconds.get(),
            ),
            (
                "PROXY_TOKEN_ROTATION_GRACE_SECONDS",
                self.proxy_token_rotation_grace_seconds,
            ),
            ("SHUTDOWN_DELAY_SECONDS", self.shutdown_delay_seconds),
            (
                "HISTORY_SWEEP_INTERVAL_SECONDS",
                self.history_sweep_interval_seconds.get(),
            ),
            (
                "HISTORY_ENRICH_INTERVAL_SECONDS",
                self.history_enrich_interval_seconds,
            ),
            ("DRIFT_CACHE_TTL_SECONDS", self.drift_cache_ttl_seconds),
            (
                "DRIFT_REFRESH_MIN_INTERVAL_SECONDS",
                self.drift_refresh_min_interval_seconds,
            ),
            (
                "SHUTDOWN_TIMEOUT_SECONDS",
                self.shutdown_timeout_seconds.get(),
            ),
            (
                "RECONCILE_STALE_AFTER_SECONDS",
                self.reconcile_stale_after_seconds.get(),
            ),
            (
                "REPORTS_TOKENS_RELOAD_SECONDS",
                self.reports_tokens_reload_seconds.get(),
            ),
            (
                "REPORT_STALE_AFTER_SECONDS",
                self.report_stale_after_seconds.get(),
            ),
            (
                "REPORT_EXPIRE_AFTER_SECONDS",
                self.report_expire_after_seconds.get(),
            ),
            (
                "REPORT_HEARTBEAT_WRITE_SECONDS",
                self.report_heartbeat_write_seconds.get(),
            ),
        ] {
            if seconds > MAX_SECONDS {
                return Err(ConfigError::TooLong { var, seconds });
            }
        }
        let (heartbeat, stale, expire) = (
            self.report_heartbeat_write_seconds.get(),
            self.report_stale_after_seconds.get(),
            self.report_expire_after_seconds.get(),
        );
        if heartbeat >= stale || stale > expire {
            return Err(ConfigError::ReportDurations {
                heartbeat,
                stale,
                expire,
            });
        }
        for (var, value) in [
            ("POD_NAMESPACE", &self.pod_namespace),
            (
                "ARGOCD_CONTROL_PLANE_NAMESPACE",
                &self.argocd_control_plane_namespace,
            ),
        ] {
            if !is_dns_label(value) {
                return Err(ConfigError::Namespace {
                    var,
                    value: value.clone(),
                });
            }
        }
        for (var, value, max) in [
            (
                "HISTORY_MAX_EPISODES",
                self.history_max_episodes.get() as u64,
                drift_core::history::model::bounds::MAX_EPISODES as u64,
            ),
            (
                "HISTORY_MAX_AGE_DAYS",
                self.history_max_age_days.get(),
                3650,
            ),
        ] {
            if value > max {
                return Err(ConfigError::AboveMax { var, value, max });
            }
        }
        self.argocd_api()?;
        tracing_subscriber::EnvFilter::try_new(&self.log_level).map_err(|e| {
            ConfigError::LogLevel {
                value: self.log_level.clone(),
                reason: e.to_string(),
            }
        })?;
        Ok(())
    }
}

fn check_token(token: Secret, var: &'static str) -> Result<Secret, ConfigError> {
    if token.expose().len() < MIN_PROXY_TOKEN_LEN {
        return Err(ConfigError::WeakProxyToken { var });
    }
    Ok(token)
}

/// A value that must never be logged. `Debug` prints a placeholder.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl FromStr for Secret {
    type Err = &'static str;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty() {
            return Err("empty");
        }
        Ok(Secret(s.to_string()))
    }
}

/// `ARGOCD_NAMESPACES`: `*`, or namespace names separated by commas.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Namespaces(Vec<WatchScope>);

impl Namespaces {
    pub fn scopes(&self) -> Vec<WatchScope> {
        self.0.clone()
    }
}

impl FromStr for Namespaces {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.trim() == "*" {
            return Ok(Namespaces(vec![WatchScope::AllNamespaces]));
        }
        let mut scopes: Vec<WatchScope> = Vec::new();
        for name in s.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            if !is_dns_label(name) {
                return Err(format!("{name:?} is not a namespace name"));
            }
            let scope = WatchScope::Namespace(name.to_string());
            if !scopes.contains(&scope) {
                scopes.push(scope);
            }
        }
        if scopes.is_empty() {
            return Err("no namespace given".into());
        }
        Ok(Namespaces(scopes))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Text,
}

impl FromStr for LogFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "json" => Ok(LogFormat::Json),
            "text" => Ok(LogFormat::Text),
            other => Err(format!("unknown log format {other:?}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn load(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let config = Config::init_from_hashmap(&map)?;
        config.validate()?;
        Ok(config)
    }

    const TOKEN: (&str, &str) = ("PROXY_TOKEN", "0123456789abcdef-demo");

    #[test]
    fn defaults_need_only_a_proxy_token() {
        let c = load(&[TOKEN]).unwrap();
        assert_eq!((c.port, c.service_port), (8080, 8081));
        assert_eq!(
            c.argocd_namespaces.scopes(),
            vec![WatchScope::Namespace("argocd".into())]
        );
        assert_eq!(c.log_format, LogFormat::Json);
        assert_eq!(c.request_timeout(), Duration::from_secs(10));
        assert!(matches!(c.proxy_auth().unwrap(), ProxyAuth::Token(t) if t.expose() == TOKEN.1));
    }

    #[test]
    fn start_up_without_a_proxy_token_is_refused_unless_explicitly_insecure() {
        let err = load(&[]).unwrap_err().to_string();
        assert!(err.contains("PROXY_TOKEN"), "{err}");
        let c = load(&[("INSECURE_NO_PROXY_TOKEN", "true")]).unwrap();
        assert!(matches!(c.proxy_auth().unwrap(), ProxyAuth::Disabled));
    }

    #[test]
    fn a_short_or_doubly_given_token_is_refused() {
        let short = load(&[("PROXY_TOKEN", "hunter2")]).unwrap_err().to_string();
        assert!(short.contains("PROXY_TOKEN is shorter than 16"), "{short}");
        let both = load(&[TOKEN, ("PROXY_TOKEN_FILE", "/x")]).unwrap_err();
        assert!(matches!(both, ConfigError::AmbiguousProxyToken));
    }

    #[test]
    fn the_token_file_is_read_and_trimmed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "  0123456789abcdef-from-file\n").unwrap();
        let c = load(&[("PROXY_TOKEN_FILE", path.to_str().unwrap())]).unwrap();
        assert!(
            matches!(c.proxy_auth().unwrap(), ProxyAuth::Token(t) if t.expose() == "0123456789abcdef-from-file")
        );

        let missing = load(&[("PROXY_TOKEN_FILE", "/nonexistent/token")])
            .unwrap_err()
            .to_string();
        assert!(
            missing.contains("PROXY_TOKEN_FILE /nonexistent/token"),
            "{missing}"
        );
    }

    #[test]
    fn malformed_values_name_the_variable_and_what_was_expected() {
        for (var, value, expect) in [
            ("PORT", "http", "PORT: expected a port number"),
            (
                "REQUEST_TIMEOUT_SECONDS",
                "0",
                "REQUEST_TIMEOUT_SECONDS: expected a whole number",
            ),
            (
                "ARGOCD_NAMESPACES",
                "Argo CD",
                "ARGOCD_NAMESPACES: expected `*`",
            ),
            ("LOG_FORMAT", "xml", "LOG_FORMAT: expected json or text"),
            (
                "INSECURE_NO_PROXY_TOKEN",
                "yes",
                "INSECURE_NO_PROXY_TOKEN: expected true or false",
            ),
        ] {
            let err = load(&[TOKEN, (var, value)]).unwrap_err().to_string();
            assert!(err.contains(expect), "{var}={value}: {err}");
        }
        let err = load(&[TOKEN, ("LOG_LEVEL", "loud=[")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("LOG_LEVEL"), "{err}");
    }

    #[test]
    fn history_retention_is_bounded_by_what_a_record_may_hold() {
        let c = load(&[TOKEN]).unwrap();
        let h = c.history();
        assert_eq!(h.retention.max_episodes, 100);
        assert_eq!(
            h.retention.max_age,
            jiff::SignedDuration::from_hours(30 * 24)
        );
        for (var, value) in [
            ("HISTORY_MAX_EPISODES", "1001"),
            ("HISTORY_MAX_AGE_DAYS", "3651"),
            ("HISTORY_SWEEP_INTERVAL_SECONDS", "604801"),
        ] {
            let err = load(&[TOKEN, (var, value)]).unwrap_err().to_string();
            assert!(err.starts_with(var), "{err}");
        }
        let err = load(&[TOKEN, ("HISTORY_MAX_EPISODES", "0")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("HISTORY_MAX_EPISODES"), "{err}");
    }

    #[test]
    fn namespaces_are_a_deduplicated_list_or_a_wildcard() {
        let c = load(&[TOKEN, ("ARGOCD_NAMESPACES", "argocd, team-a,argocd,")]).unwrap();
        assert_eq!(
            c.argocd_namespaces.scopes(),
            vec![
                WatchScope::Namespace("argocd".into()),
                WatchScope::Namespace("team-a".into())
            ]
        );
        let all = load(&[TOKEN, ("ARGOCD_NAMESPACES", "*")]).unwrap();
        assert_eq!(
            all.argocd_namespaces.scopes(),
            vec![WatchScope::AllNamespaces]
        );
        assert!(load(&[TOKEN, ("ARGOCD_NAMESPACES", " , ")]).is_err());
    }

    #[test]
    fn report_durations_must_nest_heartbeat_stale_expire() {
        let c = load(&[TOKEN]).unwrap();
        assert_eq!(c.reports_port, 8082);
        let timing = c.report_timing();
        assert_eq!(timing.stale_after, Duration::from_secs(3600));
        assert_eq!(timing.expire_after, Duration::from_secs(7 * 24 * 3600));
        assert_eq!(timing.heartbeat_write, Duration::from_secs(60));
        for (heartbeat, stale, expire) in [("60", "60", "600"), ("1", "20", "10")] {
            let err = load(&[
                TOKEN,
                ("REPORT_HEARTBEAT_WRITE_SECONDS", heartbeat),
                ("REPORT_STALE_AFTER_SECONDS", stale),
                ("REPORT_EXPIRE_AFTER_SECONDS", expire),
            ])
            .unwrap_err()
            .to_string();
            assert!(err.contains("REPORT_HEARTBEAT_WRITE_SECONDS"), "{err}");
        }
        assert!(load(&[TOKEN, ("REPORT_EXPIRE_AFTER_SECONDS", "604801")]).is_err());
    }

    #[test]
    fn the_token_never_appears_in_debug_output() {
        let c = load(&[TOKEN]).unwrap();
        assert!(!format!("{c:?}").contains(TOKEN.1));
    }

    #[test]
    fn every_variable_is_documented_in_the_readme() {
        let readme = include_str!("../../README.md");
        let source = include_str!("config.rs");
        let vars: Vec<&str> = source
            .split("from = \"")
            .skip(1)
            .filter_map(|rest| rest.split('"').next())
            .filter(|v| v.chars().all(|c| c.is_ascii_uppercase() || c == '_'))
            .collect();
        assert!(vars.len() >= 16, "found only {vars:?}");
        for var in vars {
            assert!(
                readme.contains(&format!("| `{var}` |")),
                "README configuration table lacks {var}"
            );
        }
    }
}
