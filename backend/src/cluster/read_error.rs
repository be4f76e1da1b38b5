//! Why a live object could not be read: one error for every step of a read (resolving the
//! destination, discovering the kind, the GET), shared by the modules that take those steps.

/// Why an object could not be read. Messages are short and safe to show: the API server's
/// status code and message, never a credential.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    /// The destination is a cluster this backend does not read: not in-cluster and no Argo CD
    /// cluster Secret for it (or remote clusters are off).
    #[error("cluster {0} is not readable by this argocd-drift")]
    ClusterNotReadable(String),
    /// Argo CD's cluster Secret for the destination uses an authentication this backend cannot
    /// perform (exec plugins, AWS IAM), or cannot be read.
    #[error("cluster {server}: {why}")]
    ClusterUnsupported { server: String, why: String },
    /// Secret reading is off (`DRIFT_READ_SECRETS`).
    #[error("reading Secrets is disabled")]
    SecretsDisabled,
    /// The API server serves no such kind in that group/version.
    #[error("the API server serves no kind {kind} in {api_version}")]
    KindUnknown { api_version: String, kind: String },
    /// RBAC refuses reading this kind.
    #[error("{0}")]
    Forbidden(String),
    /// The API server could not be reached, or did not answer in time.
    #[error("{0}")]
    Unreachable(String),
    /// Internal: a discovery document that does not exist (never returned by [`Cluster::get`],
    /// which reports a missing object as `None`).
    #[error("not found")]
    NotFound,
}
