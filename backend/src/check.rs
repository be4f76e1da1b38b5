//! `argocd-drift check`: the self-check of a live install. From inside the cluster (the `helm
//! test` Pod, or `kubectl exec` into a backend pod) or with a kubeconfig, it checks each link
//! from the Kubernetes API to the Argo CD tab with this process's own identity and prints one
//! line per link — PASS, FAIL with the fix, or SKIP when the link is not readable — then a
//! summary. The exit status is 0 when nothing fails.
//!
//! The cluster layer reads (`cluster::check`), `drift_core::install` judges; this module only
//! orders the links and asks the backend's `/readyz` over HTTP.

use crate::cluster::{AppAccess, Connection, OwnAccess, OwnKind};
use crate::config::Config;
use crate::index::WatchScope;
use drift_core::install::{self, ARGOCD_CM, ARGOCD_CMD_PARAMS_CM, ARGOCD_RBAC_CM, Finding, Report};
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use std::time::Duration;

/// The project's kinds the backend must be able to read and write.
pub const OWN_KINDS: &[OwnKind] = &[crate::reports::DRIFT_REPORTS, crate::history::KIND];

/// Runs every check, writes the report to `out`, and says whether every link holds.
pub async fn run(config: &Config, out: &mut dyn std::io::Write) -> anyhow::Result<bool> {
    let findings = findings(config).await;
    write!(out, "{}", Report(&findings))?;
    Ok(install::all_pass(&findings))
}

/// Every link, in the order a request travels them backwards: the cluster, the backend, then
/// Argo CD's wiring.
pub async fn findings(config: &Config) -> Vec<Finding> {
    let Config {
        kubeconfig,
        argocd_namespaces,
        argocd_control_plane_namespace: argocd_ns,
        pod_namespace,
        port,
        service_port,
        check_api_url,
        check_service_url,
        check_argocd_server_deployment: server_deployment,
        check_proxy_secret_ref: secret_ref,
        ..
    } = config;
    let api_url = check_api_url
        .clone()
        .unwrap_or_else(|| format!("http://argocd-drift.{pod_namespace}.svc:{port}"));
    let service_url = check_service_url
        .clone()
        .unwrap_or_else(|| format!("http://127.0.0.1:{service_port}"));
    let timeout = config.kube_request_timeout();
    let mut findings = Vec::new();

    let link = "Kubernetes API reachable";
    let connection = match Connection::new(kubeconfig.as_deref(), timeout).await {
        Ok(c) => c,
        Err(e) => {
            findings.push(Finding::fail(
                link,
                format!("{e:#}"),
                "run inside the cluster (the pod's ServiceAccount) or set KUBECONFIG",
            ));
            return findings;
        }
    };
    match connection.server_version().await {
        Ok(version) => findings.push(Finding::pass(link, format!("Kubernetes {version}"))),
        Err(why) => {
            findings.push(Finding::fail(
                link,
                why,
                "check the API server address and this identity's token; a NetworkPolicy with egress rules must admit the API server",
            ));
            return findings;
        }
    }

    for scope in argocd_namespaces.scopes() {
        let (ns, label) = match &scope {
            WatchScope::Namespace(ns) => (Some(ns.as_str()), format!("namespace {ns}")),
            WatchScope::AllNamespaces => (None, "all namespaces".to_string()),
        };
        let link = format!("Applications can be listed and watched in {label}");
        findings.push(match connection.application_access(ns).await {
            AppAccess::Allowed { seen, more } => Finding::pass(
                link,
                match (seen, more) {
                    (0, _) => "allowed; no Applications there yet".to_string(),
                    (_, true) => "allowed; Applications found".to_string(),
                    (n, false) => format!("allowed; {n} Application found"),
                },
            ),
            AppAccess::Refused { call, why } => Finding::fail(
                link,
                format!("{call}: {why}"),
                format!(
                    "grant get, list, watch on applications.argoproj.io in {label} to this ServiceAccount (the chart's argocd.namespace / argocd.applicationNamespaces)"
                ),
            ),
            AppAccess::NotServed(why) => Finding::fail(
                link,
                format!("Applications are not served here ({why})"),
                "is Argo CD installed on this cluster? argocd-drift must run where Argo CD's Applications are",
            ),
        });
    }

    for kind in OWN_KINDS {
        let link = format!(
            "{} custom resources are served and writable in {pod_namespace}",
            kind.kind
        );
        findings.push(match connection.own_access(*kind, pod_namespace).await {
            OwnAccess::Served { refused } if refused.is_empty() => Finding::pass(
                link,
                "get, list, watch, create, update and delete allowed (writes tried as dry runs)",
            ),
            OwnAccess::Served { refused } => Finding::fail(
                link,
                refused
                    .iter()
                    .map(|(verb, why)| format!("{verb}: {why}"))
                    .collect::<Vec<_>>()
                    .join("; "),
                format!(
                    "grant get, list, watch, create, update, delete on {}.argocd-drift.io in {pod_namespace} (the chart's Role <release>-own)",
                    kind.plural
                ),
            ),
            OwnAccess::NotServed(why) => Finding::fail(
                link,
                format!("the CRD {}.argocd-drift.io is not installed ({why})", kind.plural),
                "kubectl apply --server-side -f helm/argocd-drift/crds/ (helm installs CRDs on the first install only, and never upgrades them)",
            ),
        });
    }

    findings.push(backend_ready(&service_url, timeout).await);

    let argocd_cm = connection.read_config_map(argocd_ns, ARGOCD_CM).await;
    findings.push(install::extension_config(
        &argocd_cm, argocd_ns, &api_url, secret_ref,
    ));
    let params = connection
        .read_config_map(argocd_ns, ARGOCD_CMD_PARAMS_CM)
        .await;
    findings.push(install::proxy_flag(&params, argocd_ns));
    let rbac = connection.read_config_map(argocd_ns, ARGOCD_RBAC_CM).await;
    findings.push(install::rbac_line(&rbac, argocd_ns));
    let server = connection
        .read_deployment(argocd_ns, server_deployment)
        .await;
    findings.push(install::ui_installer(&server, argocd_ns, server_deployment));
    findings
}

/// The backend's `/readyz`: ready, or the sources it waits for.
async fn backend_ready(service_url: &str, timeout: Duration) -> Finding {
    let link = format!("argocd-drift is ready ({service_url}/readyz)");
    let fix = "kubectl get pods -l app.kubernetes.io/component=backend; kubectl logs deploy/argocd-drift (the /readyz message names what it waits for)";
    match tokio::time::timeout(timeout, get(service_url, "/readyz")).await {
        Ok(Ok((200, _))) => Finding::pass(link, "ready: every watch has listed once"),
        Ok(Ok((status, body))) => {
            let message = serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v["message"].as_str().map(str::to_string))
                .unwrap_or_else(|| String::from_utf8_lossy(&body).chars().take(300).collect());
            Finding::fail(link, format!("{status}: {message}"), fix)
        }
        Ok(Err(why)) => Finding::fail(link, format!("no answer: {why}"), fix),
        Err(_) => Finding::fail(
            link,
            format!("no answer within {} s", timeout.as_secs()),
            fix,
        ),
    }
}

/// One plain-HTTP GET; the status and up to 64 KiB of body.
async fn get(base: &str, path: &str) -> Result<(u16, Vec<u8>), String> {
    let rest = base
        .strip_prefix("http://")
        .ok_or_else(|| format!("{base}: only http:// URLs are supported"))?;
    let authority = rest.split('/').next().unwrap_or(rest);
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (
            h.trim_start_matches('[').trim_end_matches(']'),
            p.parse::<u16>().map_err(|_| format!("{base}: bad port"))?,
        ),
        None => (authority, 80),
    };
    let stream = tokio::net::TcpStream::connect((host, port))
        .await
        .map_err(|e| format!("connecting to {authority}: {e}"))?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    let driver = tokio::spawn(connection);
    let request = http::Request::get(path)
        .header(http::header::HOST, authority)
        .body(Empty::<bytes::Bytes>::new())
        .map_err(|e| e.to_string())?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    let body = http_body_util::Limited::new(response.into_body(), 64 * 1024)
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes()
        .to_vec();
    driver.abort();
    Ok((status, body))
}
