//! Argo CD's own verdict, from its API: `GET /api/v1/applications/{name}/managed-resources`.
//!
//! Optional (`ARGOCD_SERVER_URL` + `ARGOCD_AUTH_TOKEN_FILE`): with it, drift diffs Argo CD's
//! normalized and predicted live states for exact parity in every mode (server-side apply,
//! server-side diff, Git ahead). The token is an Argo CD account's (`accounts.<name>: apiKey` in
//! `argocd-cm`, RBAC `p, role:drift-reader, applications, get, */*, allow`); it is read from its
//! file on every call (a rotated Secret takes effect at once) and never logged.
//!
//! The client is kube's HTTP stack (rustls, bearer auth, timeouts) pointed at argocd-server.

use super::describe_status;
use kube::config::AuthInfo;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How to reach argocd-server.
#[derive(Clone, Debug)]
pub struct ArgoCdApiConfig {
    pub url: String,
    pub token_file: PathBuf,
    /// Skip TLS verification (argocd-server's self-signed certificate).
    pub insecure: bool,
    pub timeout: Duration,
}

/// Why Argo CD's verdict could not be had; the request falls back to the local record.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ArgoCdApiError {
    #[error("cannot read the Argo CD token file: {0}")]
    Token(String),
    #[error("Argo CD API: {0}")]
    Failed(String),
    #[error("Argo CD API answered something unreadable: {0}")]
    Unreadable(String),
}

/// A client of argocd-server. Cheap to clone.
#[derive(Clone)]
pub struct ArgoCdApi {
    config: ArgoCdApiConfig,
    /// The client built for the current token (rebuilt when the token file changes).
    client: Arc<Mutex<Option<(String, kube::Client)>>>,
}

impl ArgoCdApi {
    pub fn new(config: ArgoCdApiConfig) -> Self {
        ArgoCdApi {
            config,
            client: Arc::default(),
        }
    }

    /// The `items` of an app's managed resources, as the API returns them (states are JSON
    /// strings; the drift engine parses them).
    pub async fn managed_resources(
        &self,
        app_namespace: &str,
        app_name: &str,
    ) -> Result<Vec<serde_json::Value>, ArgoCdApiError> {
        let token = tokio::fs::read_to_string(&self.config.token_file)
            .await
            .map_err(|e| ArgoCdApiError::Token(e.kind().to_string()))?;
        let client = self.client(token.trim())?;
        use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
        let path = format!(
            "/api/v1/applications/{}/managed-resources?appNamespace={}",
            utf8_percent_encode(app_name, NON_ALPHANUMERIC),
            utf8_percent_encode(app_namespace, NON_ALPHANUMERIC),
        );
        let request = http::Request::get(path)
            .body(Vec::new())
            .map_err(|e| ArgoCdApiError::Failed(e.to_string()))?;
        let text =
            match tokio::time::timeout(self.config.timeout, client.request_text(request)).await {
                Ok(Ok(text)) => text,
                Ok(Err(kube::Error::Api(status))) => {
                    return Err(ArgoCdApiError::Failed(describe_status(
                        status.code,
                        &status.message,
                    )));
                }
                Ok(Err(error)) => return Err(ArgoCdApiError::Failed(super::describe(&error))),
                Err(_) => {
                    return Err(ArgoCdApiError::Failed(format!(
                        "no answer within {} s",
                        self.config.timeout.as_secs()
                    )));
                }
            };
        let mut body: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| ArgoCdApiError::Unreadable(e.to_string()))?;
        match body.get_mut("items").map(serde_json::Value::take) {
            Some(serde_json::Value::Array(items)) => Ok(items),
            // Argo CD omits an empty list.
            None | Some(serde_json::Value::Null) => Ok(Vec::new()),
            Some(_) => Err(ArgoCdApiError::Unreadable("items is not a list".into())),
        }
    }

    fn client(&self, token: &str) -> Result<kube::Client, ArgoCdApiError> {
        let mut cached = self
            .client
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some((for_token, client)) = cached.as_ref()
            && for_token == token
        {
            return Ok(client.clone());
        }
        let client = self.build(token)?;
        *cached = Some((token.to_string(), client.clone()));
        Ok(client)
    }

    fn build(&self, token: &str) -> Result<kube::Client, ArgoCdApiError> {
        let url = self
            .config
            .url
            .parse()
            .map_err(|e| ArgoCdApiError::Failed(format!("ARGOCD_SERVER_URL: {e}")))?;
        let mut config = kube::Config::new(url);
        config.accept_invalid_certs = self.config.insecure;
        config.read_timeout = Some(self.config.timeout);
        config.auth_info = AuthInfo {
            token: Some(token.to_string().into()),
            ..AuthInfo::default()
        };
        kube::Client::try_from(config).map_err(|e| ArgoCdApiError::Failed(e.to_string()))
    }
}
