//! The self-check of a live install (`argocd-drift check`): pure verdicts on what the cluster
//! layer read. Each link of the chain from the Kubernetes API to the Argo CD tab is one
//! [`Finding`] — pass, fail or not checked — and every failure carries the fix a platform team
//! applies.
//!
//! What the cluster layer hands in is a [`Read`]: the object, its absence, a refusal (RBAC: the
//! link is then not checked, never failed), or another failure.

use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;

/// The extension's name: the `extension.config.<name>` key, the `/extensions/<name>/` path and
/// the RBAC object of `extensions, invoke, <name>`. The UI bundle calls this name.
pub const EXTENSION: &str = "drift";

/// Argo CD's ConfigMaps and the keys the checks read.
pub const ARGOCD_CM: &str = "argocd-cm";
pub const ARGOCD_CMD_PARAMS_CM: &str = "argocd-cmd-params-cm";
pub const ARGOCD_RBAC_CM: &str = "argocd-rbac-cm";
pub const PROXY_FLAG: &str = "server.enable.proxy.extension";

/// What reading one object gave.
#[derive(Clone, Debug, PartialEq)]
pub enum Read<T> {
    Found(T),
    /// 404: it does not exist.
    Absent,
    /// 403: not readable with this identity (a short reason).
    Forbidden(String),
    /// Anything else (unreachable, 5xx): a short reason.
    Failed(String),
}

/// A link's verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    Fail,
    /// Not checked: not readable with this identity, or not applicable.
    Skip,
}

/// One link of the chain.
#[derive(Clone, Debug, PartialEq)]
pub struct Finding {
    /// What is checked, e.g. "argocd-cm has the extension config".
    pub link: String,
    pub verdict: Verdict,
    /// What was found.
    pub detail: String,
    /// What to do; set on failures (and on skips that have a remedy).
    pub fix: Option<String>,
}

impl Finding {
    pub fn pass(link: impl Into<String>, detail: impl Into<String>) -> Finding {
        Finding {
            link: link.into(),
            verdict: Verdict::Pass,
            detail: detail.into(),
            fix: None,
        }
    }

    pub fn fail(
        link: impl Into<String>,
        detail: impl Into<String>,
        fix: impl Into<String>,
    ) -> Finding {
        Finding {
            link: link.into(),
            verdict: Verdict::Fail,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }

    pub fn skip(
        link: impl Into<String>,
        detail: impl Into<String>,
        fix: Option<String>,
    ) -> Finding {
        Finding {
            link: link.into(),
            verdict: Verdict::Skip,
            detail: detail.into(),
            fix,
        }
    }
}

/// A finding for an object that could not be read: a refusal is a skip (the identity may lack
/// the grant on purpose), an absence or another failure a fail.
fn unreadable<T>(link: &str, what: &str, read: &Read<T>, absent_fix: &str) -> Option<Finding> {
    match read {
        Read::Found(_) => None,
        Read::Absent => Some(Finding::fail(
            link,
            format!("{what} not found"),
            absent_fix.to_string(),
        )),
        Read::Forbidden(why) => Some(Finding::skip(
            link,
            format!("{what} is not readable with this identity ({why})"),
            Some(
                "grant get on it to check this link (the chart's rbac.selfCheck does), or check it by hand"
                    .to_string(),
            ),
        )),
        Read::Failed(why) => Some(Finding::fail(
            link,
            format!("reading {what} failed: {why}"),
            "check the Kubernetes API server and this identity's access to it".to_string(),
        )),
    }
}

// === the extension config in argocd-cm ===

/// The snippet every extension-config fix shows.
pub fn extension_config_snippet(api_url: &str, secret_ref: &str) -> String {
    format!(
        "in argocd-cm set\n  extension.config.{EXTENSION}: |\n    services:\n    - url: {api_url}\n      headers:\n      - name: Authorization\n        value: '{secret_ref}'\n(argo-helm: configs.cm.\"extension.config.{EXTENSION}\"; manifests/argocd/argocd-cm.yaml)"
    )
}

/// `argocd-cm` has an extension config for `drift` that sends requests to `api_url` (this
/// backend's Service) with the `Authorization` header taken from a Secret.
pub fn extension_config(
    argocd_cm: &Read<BTreeMap<String, String>>,
    namespace: &str,
    api_url: &str,
    secret_ref: &str,
) -> Finding {
    let link = "argocd-cm routes /extensions/drift to this backend with the secret header";
    let snippet = extension_config_snippet(api_url, secret_ref);
    if let Some(finding) = unreadable(
        link,
        &format!("ConfigMap {namespace}/{ARGOCD_CM}"),
        argocd_cm,
        &format!(
            "is {namespace} Argo CD's namespace (ARGOCD_CONTROL_PLANE_NAMESPACE, the chart's argocd.namespace)?"
        ),
    ) {
        return finding;
    }
    let Read::Found(data) = argocd_cm else {
        return Finding::fail(link, "argocd-cm unreadable", snippet);
    };
    let key = format!("extension.config.{EXTENSION}");
    let (source, backend) = match (data.get(&key), data.get("extension.config")) {
        (Some(text), _) => match parse_yaml(text) {
            Ok(value) => (key.clone(), value),
            Err(why) => {
                return Finding::fail(
                    link,
                    format!(
                        "{key} is not valid YAML ({why}); one invalid extension config turns off every extension"
                    ),
                    snippet,
                );
            }
        },
        (None, Some(text)) => {
            // The older single key: `extensions: [{name, backend}]`.
            let value = match parse_yaml(text) {
                Ok(value) => value,
                Err(why) => {
                    return Finding::fail(
                        link,
                        format!(
                            "extension.config is not valid YAML ({why}); one invalid extension config turns off every extension"
                        ),
                        snippet,
                    );
                }
            };
            let found = value["extensions"]
                .as_array()
                .and_then(|list| list.iter().find(|e| e["name"] == EXTENSION))
                .map(|e| e["backend"].clone());
            match found {
                Some(backend) => ("extension.config".to_string(), backend),
                None => {
                    return Finding::fail(
                        link,
                        format!(
                            "argocd-cm has extension.config without an extension named {EXTENSION}, and no {key}"
                        ),
                        snippet,
                    );
                }
            }
        }
        (None, None) => {
            return Finding::fail(
                link,
                format!(
                    "argocd-cm has no {key}: Argo CD answers 404 for /extensions/{EXTENSION}/…"
                ),
                snippet,
            );
        }
    };
    let Some(services) = backend["services"].as_array().filter(|s| !s.is_empty()) else {
        return Finding::fail(link, format!("{source} lists no services"), snippet);
    };
    let urls: Vec<&str> = services.iter().filter_map(|s| s["url"].as_str()).collect();
    let Some(service) = services
        .iter()
        .find(|s| s["url"].as_str().is_some_and(|u| same_endpoint(u, api_url)))
    else {
        return Finding::fail(
            link,
            format!(
                "{source} sends requests to {}, not to this backend ({api_url})",
                urls.join(", ")
            ),
            format!("set the service url to {api_url} (only scheme, host and port count)"),
        );
    };
    let header = service["headers"].as_array().and_then(|headers| {
        headers.iter().find(|h| {
            h["name"]
                .as_str()
                .is_some_and(|n| n.eq_ignore_ascii_case("authorization"))
        })
    });
    let Some(value) = header.and_then(|h| h["value"].as_str()) else {
        return Finding::fail(
            link,
            format!(
                "{source} sends no Authorization header: the backend refuses every request (401 MISSING_CREDENTIALS)"
            ),
            snippet,
        );
    };
    if !value.starts_with('$') {
        return Finding::fail(
            link,
            format!("{source} holds the Authorization value in clear, in a ConfigMap"),
            format!(
                "move it into a Secret in Argo CD's namespace labelled app.kubernetes.io/part-of: argocd and refer to it as '{secret_ref}'"
            ),
        );
    }
    let cluster = match &service["cluster"] {
        Value::Object(c) => format!(
            " for cluster {}",
            c.get("name")
                .or_else(|| c.get("server"))
                .and_then(Value::as_str)
                .unwrap_or("?")
        ),
        _ => String::new(),
    };
    Finding::pass(
        link,
        format!(
            "{source}: {}{cluster}, Authorization from {value}",
            service["url"].as_str().unwrap_or_default()
        ),
    )
}

fn parse_yaml(text: &str) -> Result<Value, String> {
    serde_saphyr::from_str::<Value>(text).map_err(|e| {
        let text = e.to_string();
        text.lines().next().unwrap_or_default().to_string()
    })
}

/// Scheme, host and port of a URL (`http` defaults to 80, `https` to 443); a Service host is the
/// same with or without `.cluster.local`.
fn endpoint(url: &str) -> Option<(String, String, u16)> {
    let (scheme, rest) = url.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    let authority = rest.split(['/', '?', '#']).next()?;
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.is_empty() && p.chars().all(|c| c.is_ascii_digit()) => {
            (h.to_string(), p.parse().ok()?)
        }
        _ => (
            authority.to_string(),
            match scheme.as_str() {
                "https" => 443,
                _ => 80,
            },
        ),
    };
    let host = host.to_ascii_lowercase();
    let host = host
        .strip_suffix(".cluster.local")
        .map(str::to_string)
        .unwrap_or(host);
    Some((scheme, host, port))
}

fn same_endpoint(a: &str, b: &str) -> bool {
    match (endpoint(a), endpoint(b)) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

// === the proxy flag ===

pub fn proxy_flag(params: &Read<BTreeMap<String, String>>, namespace: &str) -> Finding {
    let link = "proxy extensions are on (argocd-cmd-params-cm)";
    let fix = format!(
        "set {PROXY_FLAG}: \"true\" in {namespace}/{ARGOCD_CMD_PARAMS_CM} (argo-helm: configs.params) and restart argocd-server: it reads the flag only at start"
    );
    if let Some(finding) = unreadable(
        link,
        &format!("ConfigMap {namespace}/{ARGOCD_CMD_PARAMS_CM}"),
        params,
        &fix,
    ) {
        return finding;
    }
    let value = match params {
        Read::Found(data) => data.get(PROXY_FLAG).map(|v| v.trim().to_ascii_lowercase()),
        _ => None,
    };
    match value.as_deref() {
        Some("true") => Finding::pass(
            link,
            format!(
                "{PROXY_FLAG} is \"true\" (argocd-server must have restarted since it was set)"
            ),
        ),
        Some(other) => Finding::fail(
            link,
            format!("{PROXY_FLAG} is {other:?}: Argo CD answers 404 for every extension"),
            fix,
        ),
        None => Finding::fail(
            link,
            format!(
                "{PROXY_FLAG} is not set (off by default): Argo CD answers 404 for every extension"
            ),
            fix,
        ),
    }
}

// === the RBAC line ===

/// Who may invoke the extension, from `argocd-rbac-cm` (`policy.csv`, every `policy.*.csv`,
/// `policy.default`).
pub fn rbac_line(rbac: &Read<BTreeMap<String, String>>, namespace: &str) -> Finding {
    let link = "users may invoke the extension (argocd-rbac-cm)";
    let line = format!("p, role:readonly, extensions, invoke, {EXTENSION}, allow");
    let fix = format!(
        "add `{line}` (or the same for your roles) to policy.csv in {namespace}/{ARGOCD_RBAC_CM} (argo-helm: configs.rbac; manifests/argocd/argocd-rbac-cm.yaml adds it as policy.extension-drift.csv)"
    );
    if let Some(finding) = unreadable(
        link,
        &format!("ConfigMap {namespace}/{ARGOCD_RBAC_CM}"),
        rbac,
        &fix,
    ) {
        return finding;
    }
    let Read::Found(data) = rbac else {
        return Finding::fail(link, "unreadable", fix);
    };
    let mut subjects: Vec<String> = data
        .iter()
        .filter(|(k, _)| *k == "policy.csv" || (k.starts_with("policy.") && k.ends_with(".csv")))
        .flat_map(|(_, text)| text.lines())
        .filter_map(grants_invoke)
        .collect();
    subjects.sort();
    subjects.dedup();
    let default = data.get("policy.default").map(|d| d.trim()).unwrap_or("");
    if default == "role:admin" {
        subjects.insert(0, "everyone (policy.default: role:admin)".to_string());
    } else if !default.is_empty() && subjects.iter().any(|s| s == default) {
        subjects.insert(0, format!("everyone (policy.default: {default})"));
    }
    if subjects.is_empty() {
        return Finding::fail(
            link,
            format!(
                "no policy line grants extensions, invoke, {EXTENSION}: only admins see the tab; for everyone else Argo CD answers 401"
            ),
            fix,
        );
    }
    Finding::pass(link, format!("granted to {}", subjects.join(", ")))
}

/// The subject of a `p, <subject>, extensions, invoke, drift|*, allow` line.
fn grants_invoke(line: &str) -> Option<String> {
    let fields: Vec<&str> = line.split(',').map(str::trim).collect();
    match fields.as_slice() {
        ["p", subject, "extensions", "invoke" | "*", object, effect]
            if (*object == EXTENSION || *object == "*") && effect.eq_ignore_ascii_case("allow") =>
        {
            Some((*subject).to_string())
        }
        _ => None,
    }
}

// === the UI installer ===

/// argocd-server's Deployment has an init container that installs the tab into a volume the
/// argocd-server container mounts at `/tmp/extensions`.
pub fn ui_installer(server: &Read<Value>, namespace: &str, deployment: &str) -> Finding {
    let link = "the Drift tab is installed into argocd-server";
    let fix = "add the argocd-extension-installer init container with EXTENSION_URL (extension-drift.tar.gz) and EXTENSION_CHECKSUM_URL, sharing a volume mounted at /tmp/extensions with argocd-server (argo-helm: server.extensions.extensionList; manifests/argocd/argocd-server-extension.yaml)"
        .to_string();
    if let Some(finding) = unreadable(
        link,
        &format!("Deployment {namespace}/{deployment}"),
        server,
        &format!(
            "is argocd-server's Deployment named {deployment} (the chart's argocd.server.deploymentName, CHECK_ARGOCD_SERVER_DEPLOYMENT)?"
        ),
    ) {
        return finding;
    }
    let Read::Found(deployment_object) = server else {
        return Finding::fail(link, "unreadable", fix);
    };
    let spec = &deployment_object["spec"]["template"]["spec"];
    let env = |c: &Value, name: &str| -> Option<String> {
        c["env"].as_array()?.iter().find(|e| e["name"] == name)?["value"]
            .as_str()
            .map(str::to_string)
    };
    let installer = spec["initContainers"].as_array().and_then(|list| {
        list.iter().find(|c| {
            env(c, "EXTENSION_URL").is_some_and(|u| u.contains("extension-drift"))
                || env(c, "EXTENSION_NAME")
                    .is_some_and(|n| n == EXTENSION || n == "extension-drift")
        })
    });
    let Some(installer) = installer else {
        return Finding::fail(
            link,
            format!(
                "{deployment} has no init container installing extension-drift: Argo CD shows no Drift tab"
            ),
            fix,
        );
    };
    let name = installer["name"].as_str().unwrap_or("?");
    let Some(url) = env(installer, "EXTENSION_URL") else {
        return Finding::fail(
            link,
            format!("init container {name} has no EXTENSION_URL"),
            fix,
        );
    };
    let mounts = |c: &Value| -> Vec<(String, String)> {
        c["volumeMounts"]
            .as_array()
            .map(|list| {
                list.iter()
                    .filter_map(|m| {
                        Some((
                            m["name"].as_str()?.to_string(),
                            m["mountPath"].as_str()?.trim_end_matches('/').to_string(),
                        ))
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let installer_volume = mounts(installer)
        .into_iter()
        .find(|(_, path)| path == "/tmp/extensions")
        .map(|(volume, _)| volume);
    let server_container = spec["containers"].as_array().and_then(|list| {
        list.iter()
            .find(|c| c["name"] == "argocd-server")
            .or_else(|| list.first())
    });
    let server_volume = server_container.and_then(|c| {
        mounts(c)
            .into_iter()
            .find(|(_, path)| path == "/tmp/extensions")
            .map(|(volume, _)| volume)
    });
    match (installer_volume, server_volume) {
        (Some(a), Some(b)) if a == b => {}
        (a, b) => {
            return Finding::fail(
                link,
                format!(
                    "init container {name} and argocd-server do not share a volume at /tmp/extensions (installer: {}, server: {}): the tab is downloaded where argocd-server never looks",
                    a.as_deref().unwrap_or("none"),
                    b.as_deref().unwrap_or("none")
                ),
                fix,
            );
        }
    }
    let checksum = if env(installer, "EXTENSION_CHECKSUM_URL").is_some() {
        ""
    } else {
        " (no EXTENSION_CHECKSUM_URL: the download is not verified)"
    };
    Finding::pass(
        link,
        format!(
            "init container {name} installs {url} into /tmp/extensions{checksum}; the installer exits 0 even when the download fails: its log says"
        ),
    )
}

// === the report ===

/// The findings as lines a person reads: one per link, the fix indented under a failure, then a
/// summary.
pub struct Report<'a>(pub &'a [Finding]);

impl fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for finding in self.0 {
            let tag = match finding.verdict {
                Verdict::Pass => "PASS",
                Verdict::Fail => "FAIL",
                Verdict::Skip => "SKIP",
            };
            writeln!(f, "{tag}  {}", finding.link)?;
            writeln!(f, "      {}", finding.detail)?;
            if let Some(fix) = &finding.fix {
                for (i, line) in fix.lines().enumerate() {
                    let lead = if i == 0 { "fix:  " } else { "      " };
                    writeln!(f, "      {lead}{line}")?;
                }
            }
        }
        let count = |v: Verdict| self.0.iter().filter(|x| x.verdict == v).count();
        writeln!(
            f,
            "summary: {} ok, {} failing, {} not checked",
            count(Verdict::Pass),
            count(Verdict::Fail),
            count(Verdict::Skip)
        )
    }
}

/// Whether every link holds (skips allowed).
pub fn all_pass(findings: &[Finding]) -> bool {
    findings.iter().all(|f| f.verdict != Verdict::Fail)
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "http://argocd-drift.argocd-drift.svc:8080";
    const SECRET: &str = "$argocd-drift-proxy:authorization";

    fn cm(pairs: &[(&str, &str)]) -> Read<BTreeMap<String, String>> {
        Read::Found(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    fn config(yaml: &str) -> Finding {
        extension_config(
            &cm(&[("extension.config.drift", yaml)]),
            "argocd",
            URL,
            SECRET,
        )
    }

    const GOOD: &str = "services:\n- url: http://argocd-drift.argocd-drift.svc.cluster.local:8080\n  headers:\n  - name: Authorization\n    value: '$argocd-drift-proxy:authorization'\n";

    #[test]
    fn a_config_pointing_here_with_a_secret_header_passes() {
        let f = config(GOOD);
        assert_eq!(f.verdict, Verdict::Pass, "{f:?}");
        assert!(f.detail.contains("$argocd-drift-proxy:authorization"));
        // The older single key works too.
        let old = extension_config(
            &cm(&[(
                "extension.config",
                "extensions:\n- name: metrics\n  backend: {services: [{url: http://m}]}\n- name: drift\n  backend:\n    services:\n    - url: http://argocd-drift.argocd-drift.svc:8080/\n      headers: [{name: authorization, value: $x:y}]\n",
            )]),
            "argocd",
            URL,
            SECRET,
        );
        assert_eq!(old.verdict, Verdict::Pass, "{old:?}");
    }

    #[test]
    fn one_backend_per_cluster_passes_when_one_service_is_this_backend() {
        let f = config(
            "services:\n- url: https://drift.prod.example.com\n  cluster: {name: prod}\n  headers: [{name: Authorization, value: $p:a}]\n- url: http://argocd-drift.argocd-drift.svc:8080\n  cluster: {name: in-cluster}\n  headers: [{name: Authorization, value: $q:a}]\n",
        );
        assert_eq!(f.verdict, Verdict::Pass, "{f:?}");
        assert!(f.detail.contains("for cluster in-cluster"), "{}", f.detail);
    }

    #[test]
    fn each_broken_extension_config_is_named_with_its_fix() {
        let cases = [
            (cm(&[]), "has no extension.config.drift"),
            (Read::Absent, "not found"),
            (
                cm(&[("extension.config.drift", "services: [")]),
                "not valid YAML",
            ),
            (
                cm(&[("extension.config.drift", "connectionTimeout: 2s\n")]),
                "lists no services",
            ),
            (
                cm(&[(
                    "extension.config.drift",
                    "services:\n- url: http://argocd-drift.other.svc:8080\n  headers: [{name: Authorization, value: $a:b}]\n",
                )]),
                "not to this backend",
            ),
            (
                cm(&[(
                    "extension.config.drift",
                    "services:\n- url: http://argocd-drift.argocd-drift.svc\n",
                )]),
                "not to this backend",
            ),
            (
                cm(&[(
                    "extension.config.drift",
                    "services:\n- url: http://argocd-drift.argocd-drift.svc:8080\n",
                )]),
                "no Authorization header",
            ),
            (
                cm(&[(
                    "extension.config.drift",
                    "services:\n- url: http://argocd-drift.argocd-drift.svc:8080\n  headers: [{name: Authorization, value: Bearer abc}]\n",
                )]),
                "in clear",
            ),
            (
                cm(&[(
                    "extension.config",
                    "extensions:\n- name: metrics\n  backend: {services: [{url: http://m}]}\n",
                )]),
                "without an extension named drift",
            ),
        ];
        for (read, expected) in cases {
            let f = extension_config(&read, "argocd", URL, SECRET);
            assert_eq!(f.verdict, Verdict::Fail, "{expected}: {f:?}");
            assert!(f.detail.contains(expected), "{expected}: {}", f.detail);
            assert!(f.fix.is_some());
        }
        // The fix is the exact snippet, with this backend's URL and secret reference.
        let f = extension_config(&cm(&[]), "argocd", URL, SECRET);
        let fix = f.fix.unwrap();
        assert!(fix.contains(&format!("url: {URL}")), "{fix}");
        assert!(fix.contains(&format!("value: '{SECRET}'")), "{fix}");
        // Not readable is not a failure of the install.
        let f = extension_config(&Read::Forbidden("403".into()), "argocd", URL, SECRET);
        assert_eq!(f.verdict, Verdict::Skip);
    }

    #[test]
    fn the_proxy_flag_must_be_true() {
        let flag = |v: Option<&str>| {
            let read = match v {
                Some(v) => cm(&[(PROXY_FLAG, v)]),
                None => cm(&[]),
            };
            proxy_flag(&read, "argocd")
        };
        assert_eq!(flag(Some("true")).verdict, Verdict::Pass);
        assert_eq!(flag(Some(" True\n")).verdict, Verdict::Pass);
        for v in [Some("false"), Some("yes"), None] {
            let f = flag(v);
            assert_eq!(f.verdict, Verdict::Fail, "{v:?}");
            assert!(f.fix.unwrap().contains("restart argocd-server"));
        }
        assert_eq!(proxy_flag(&Read::Absent, "argocd").verdict, Verdict::Fail);
        assert_eq!(
            proxy_flag(&Read::Forbidden("x".into()), "argocd").verdict,
            Verdict::Skip
        );
    }

    #[test]
    fn the_rbac_line_is_found_in_any_policy_key() {
        let line = |k: &str, v: &str| rbac_line(&cm(&[(k, v)]), "argocd");
        let f = line(
            "policy.csv",
            "g, team, role:readonly\np, role:readonly, extensions, invoke, drift, allow\n",
        );
        assert_eq!(f.verdict, Verdict::Pass);
        assert!(f.detail.contains("role:readonly"));
        assert_eq!(
            line(
                "policy.extension-drift.csv",
                "p,role:dev,extensions,invoke,*,allow"
            )
            .verdict,
            Verdict::Pass
        );
        assert_eq!(line("policy.default", "role:admin").verdict, Verdict::Pass);
        for (k, v) in [
            (
                "policy.csv",
                "p, role:readonly, extensions, invoke, metrics, allow",
            ),
            (
                "policy.csv",
                "p, role:readonly, extensions, invoke, drift, deny",
            ),
            (
                "policy.csv",
                "# p, role:readonly, extensions, invoke, drift, allow",
            ),
            (
                "policy.notcsv",
                "p, role:readonly, extensions, invoke, drift, allow",
            ),
        ] {
            let f = line(k, v);
            assert_eq!(f.verdict, Verdict::Fail, "{k}: {v}");
            assert!(f.fix.unwrap().contains("extensions, invoke, drift, allow"));
        }
    }

    fn server(init: Value, server_mounts: Value) -> Read<Value> {
        Read::Found(serde_json::json!({"spec": {"template": {"spec": {
            "initContainers": init,
            "containers": [{"name": "argocd-server", "volumeMounts": server_mounts}]
        }}}}))
    }

    #[test]
    fn the_ui_installer_must_share_tmp_extensions_with_argocd_server() {
        let installer = serde_json::json!([{
            "name": "extension-drift",
            "env": [{"name": "EXTENSION_URL", "value": "https://x/extension-drift.tar.gz"},
                    {"name": "EXTENSION_CHECKSUM_URL", "value": "https://x/extension-drift.tar.gz.sha256"}],
            "volumeMounts": [{"name": "extensions", "mountPath": "/tmp/extensions/"}]
        }]);
        let mounted = serde_json::json!([{"name": "extensions", "mountPath": "/tmp/extensions"}]);
        let f = ui_installer(
            &server(installer.clone(), mounted.clone()),
            "argocd",
            "argocd-server",
        );
        assert_eq!(f.verdict, Verdict::Pass, "{f:?}");
        let f = ui_installer(
            &server(serde_json::json!([]), mounted),
            "argocd",
            "argocd-server",
        );
        assert_eq!(f.verdict, Verdict::Fail);
        assert!(f.detail.contains("no init container"));
        let f = ui_installer(
            &server(installer, serde_json::json!([])),
            "argocd",
            "argocd-server",
        );
        assert_eq!(f.verdict, Verdict::Fail);
        assert!(f.detail.contains("do not share a volume"), "{}", f.detail);
        let f = ui_installer(&Read::Absent, "argocd", "argocd-server");
        assert!(f.fix.unwrap().contains("deploymentName"));
    }

    #[test]
    fn the_report_prints_each_link_its_fix_and_a_summary() {
        let findings = [
            Finding::pass("a", "fine"),
            Finding::fail("b", "broken", "do this\nthen that"),
            Finding::skip("c", "not readable", None),
        ];
        let text = Report(&findings).to_string();
        assert_eq!(
            text,
            "PASS  a\n      fine\nFAIL  b\n      broken\n      fix:  do this\n            then that\nSKIP  c\n      not readable\nsummary: 1 ok, 1 failing, 1 not checked\n"
        );
        assert!(!all_pass(&findings));
        assert!(all_pass(&findings[..1]));
    }
}
