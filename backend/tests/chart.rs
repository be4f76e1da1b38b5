//! The Helm chart (`helm/argocd-drift`), rendered by the real `helm` v4 binary: lint, every
//! scenario under `ci/` validated against the Kubernetes schemas (kubernetes-validate), and what
//! a platform team relies on — hardened pods, the NetworkPolicy, least-privilege RBAC, a proxy
//! secret never in plain text, a schema that refuses typos, `manifests/` in step with the chart.
//! On a real API server (`make test-real`): `helm install`, then argocd-drift run with a token of
//! the chart's own ServiceAccount.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

mod common;

use base64::Engine;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::path::PathBuf;
use testenv::chart::{self, Rendered, chart_dir, helm, template};

const NS: &str = "argocd-drift";

fn b64(text: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(text)
}

fn unb64(text: &str) -> String {
    String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .unwrap(),
    )
    .unwrap()
}

/// Every scenario file under `ci/`, by name.
fn scenarios() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(chart_dir().join("ci"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 4, "{files:?}");
    files
}

fn render_scenario(file: &std::path::Path) -> Rendered {
    template("argocd-drift", NS, &["-f", file.to_str().unwrap()])
        .unwrap_or_else(|e| panic!("{}: {e:#}", file.display()))
}

fn defaults() -> Rendered {
    template("argocd-drift", NS, &[]).unwrap()
}

/// Every pod spec the chart renders (the Deployment's template and the test Pod), by owner.
fn pod_specs(r: &Rendered) -> Vec<(String, Value)> {
    r.objects
        .iter()
        .filter_map(|o| {
            let name = format!("{}/{}", o["kind"], o["metadata"]["name"]);
            match o["kind"].as_str()? {
                "Deployment" => Some((name, o["spec"]["template"]["spec"].clone())),
                "Pod" => Some((name, o["spec"].clone())),
                _ => None,
            }
        })
        .collect()
}

fn env_value<'a>(container: &'a Value, name: &str) -> Option<&'a str> {
    container["env"]
        .as_array()?
        .iter()
        .find(|e| e["name"] == name)?["value"]
        .as_str()
}

#[test]
fn helm_lint_passes_for_the_defaults_and_every_scenario() {
    let chart = chart_dir();
    let chart = chart.to_str().unwrap();
    let out = helm(&["lint", "--strict", chart]).unwrap();
    assert!(out.success, "{}{}", out.stdout, out.stderr);
    for file in scenarios() {
        let out = helm(&["lint", "--strict", chart, "-f", file.to_str().unwrap()]).unwrap();
        assert!(
            out.success,
            "{}: {}{}",
            file.display(),
            out.stdout,
            out.stderr
        );
    }
}

/// Every object of every scenario is valid for the oldest Kubernetes the chart supports and the
/// newest the schemas know, strictly (unknown fields are errors). Prometheus Operator kinds have
/// no schema there: they are checked by shape in `monitoring_objects_select_the_metrics_port`.
#[test]
fn every_scenario_is_valid_against_the_kubernetes_schemas() {
    let tools = chart::tools().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for file in scenarios() {
        let rendered = render_scenario(&file);
        let out = dir.path().join(file.file_name().unwrap());
        std::fs::write(&out, &rendered.text).unwrap();
        files.push(out.to_str().unwrap().to_string());
    }
    for version in ["1.29.0", "1.37.0"] {
        let mut args = vec!["-k", version, "--strict", "--quiet"];
        args.extend(files.iter().map(String::as_str));
        let out = chart::run(&tools.kubernetes_validate, &args).unwrap();
        assert!(
            out.success,
            "kubernetes {version}: {}{}",
            out.stdout, out.stderr
        );
        // Only the Prometheus Operator kinds may go unvalidated.
        for line in out.stdout.lines().chain(out.stderr.lines()) {
            assert!(
                !line.contains("Couldn't find schema")
                    || line.contains("ServiceMonitor")
                    || line.contains("PrometheusRule"),
                "{line}"
            );
        }
    }
}

#[test]
fn no_container_runs_as_root_privileged_or_with_a_writable_root() {
    for file in scenarios() {
        let rendered = render_scenario(&file);
        let pods = pod_specs(&rendered);
        assert!(!pods.is_empty());
        for (owner, pod) in pods {
            let at = format!("{} {owner}", file.display());
            assert_eq!(pod["securityContext"]["runAsNonRoot"], true, "{at}");
            assert_ne!(pod["securityContext"]["runAsUser"], 0, "{at}");
            assert_eq!(
                pod["securityContext"]["seccompProfile"]["type"], "RuntimeDefault",
                "{at}"
            );
            assert!(
                pod["hostNetwork"].is_null() && pod["hostPID"].is_null(),
                "{at}"
            );
            for c in pod["containers"].as_array().unwrap() {
                let sc = &c["securityContext"];
                assert_eq!(sc["runAsNonRoot"], true, "{at}");
                assert_eq!(sc["allowPrivilegeEscalation"], false, "{at}");
                assert_eq!(sc["readOnlyRootFilesystem"], true, "{at}");
                assert_ne!(sc["privileged"], true, "{at}");
                assert_eq!(sc["capabilities"]["drop"], json!(["ALL"]), "{at}");
                assert!(sc["capabilities"]["add"].is_null(), "{at}");
                assert_eq!(sc["seccompProfile"]["type"], "RuntimeDefault", "{at}");
                for kind in ["requests", "limits"] {
                    assert!(c["resources"][kind]["memory"].is_string(), "{at} {kind}");
                    assert!(c["resources"][kind]["cpu"].is_string(), "{at} {kind}");
                }
            }
        }
    }
}

#[test]
fn the_backend_is_probed_on_its_service_port_and_outlives_its_drain() {
    for file in scenarios() {
        let rendered = render_scenario(&file);
        let deployment = rendered.of_kind("Deployment").next().unwrap();
        let pod = &deployment["spec"]["template"]["spec"];
        let c = &pod["containers"][0];
        assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/healthz");
        assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/readyz");
        for probe in ["livenessProbe", "readinessProbe"] {
            assert_eq!(c[probe]["httpGet"]["port"], "service", "{probe}");
        }
        let port = |name: &str| {
            c["ports"]
                .as_array()
                .unwrap()
                .iter()
                .find(|p| p["name"] == name)
                .unwrap()["containerPort"]
                .as_u64()
                .unwrap()
                .to_string()
        };
        assert_eq!(env_value(c, "PORT"), Some(port("api").as_str()));
        assert_eq!(env_value(c, "SERVICE_PORT"), Some(port("service").as_str()));
        assert_eq!(env_value(c, "REPORTS_PORT"), Some(port("reports").as_str()));
        let seconds = |var: &str| env_value(c, var).unwrap().parse::<u64>().unwrap();
        let drain = seconds("SHUTDOWN_DELAY_SECONDS") + seconds("SHUTDOWN_TIMEOUT_SECONDS");
        let grace = pod["terminationGracePeriodSeconds"].as_u64().unwrap();
        assert!(grace > drain, "{}: {grace} <= {drain}", file.display());
        // POD_NAMESPACE from the downward API, the token from a file: never a literal secret.
        let pod_ns = c["env"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["name"] == "POD_NAMESPACE")
            .unwrap();
        assert_eq!(
            pod_ns["valueFrom"]["fieldRef"]["fieldPath"],
            "metadata.namespace"
        );
        assert!(env_value(c, "PROXY_TOKEN").is_none());
        assert!(env_value(c, "PROXY_TOKEN_FILE").is_some());
    }
    // A grace period that would cut the drain short is refused.
    let err = template(
        "argocd-drift",
        NS,
        &["--set", "terminationGracePeriodSeconds=20"],
    )
    .unwrap_err();
    assert!(format!("{err:#}").contains("must exceed"), "{err:#}");
}

#[test]
fn several_replicas_are_spread_across_nodes_and_kept_by_a_disruption_budget() {
    let rendered = defaults();
    let deployment = rendered.of_kind("Deployment").next().unwrap();
    assert!(deployment["spec"]["replicas"].as_u64().unwrap() >= 2);
    let spread = &deployment["spec"]["template"]["spec"]["topologySpreadConstraints"][0];
    assert_eq!(spread["topologyKey"], "kubernetes.io/hostname");
    assert_eq!(
        spread["labelSelector"]["matchLabels"],
        deployment["spec"]["selector"]["matchLabels"]
    );
    let pdb = rendered.of_kind("PodDisruptionBudget").next().unwrap();
    assert_eq!(pdb["spec"]["maxUnavailable"], 1);
    assert_eq!(
        pdb["spec"]["selector"], deployment["spec"]["selector"],
        "the budget covers exactly the backend's pods"
    );
    let one = template("argocd-drift", NS, &["--set", "replicaCount=1"]).unwrap();
    assert_eq!(one.of_kind("PodDisruptionBudget").count(), 0);
}

#[test]
fn each_port_has_its_service() {
    let rendered = defaults();
    let ports: BTreeSet<(String, String)> = rendered
        .of_kind("Service")
        .flat_map(|s| {
            let name = s["metadata"]["name"].as_str().unwrap().to_string();
            s["spec"]["ports"]
                .as_array()
                .unwrap()
                .iter()
                .map(move |p| (name.clone(), p["targetPort"].as_str().unwrap().to_string()))
        })
        .collect();
    let expected: BTreeSet<(String, String)> = [
        ("argocd-drift", "api"),
        ("argocd-drift-metrics", "service"),
        ("argocd-drift-reports", "reports"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(ports, expected);
}

#[test]
fn the_api_port_admits_only_argocd_server() {
    let rendered = defaults();
    let policy = rendered
        .of_kind("NetworkPolicy")
        .next()
        .expect("NetworkPolicy present");
    let deployment = rendered.of_kind("Deployment").next().unwrap();
    assert_eq!(
        policy["spec"]["podSelector"]["matchLabels"],
        deployment["spec"]["selector"]["matchLabels"]
    );
    assert_eq!(policy["spec"]["policyTypes"], json!(["Ingress"]));
    let rules = policy["spec"]["ingress"].as_array().unwrap();
    let rule_for = |port: &str| {
        rules
            .iter()
            .find(|r| r["ports"][0]["port"] == port)
            .unwrap_or_else(|| panic!("no rule for {port}"))
    };
    let api = rule_for("api");
    assert_eq!(
        api["from"],
        json!([{
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "argocd"}},
            "podSelector": {"matchLabels": {"app.kubernetes.io/name": "argocd-server"}}
        }])
    );
    // Every port of the pod is covered by a rule; no rule opens a port not named here.
    assert_eq!(rules.len(), 3);
    // By default no port admits every source (issue 17): reports only labelled clients,
    // metrics only Prometheus (and the `helm test` Pod).
    assert_eq!(
        rule_for("reports")["from"],
        json!([{
            "namespaceSelector": {},
            "podSelector": {"matchLabels": {"argocd-drift.io/reports-client": "true"}}
        }])
    );
    let metrics_from = rule_for("service")["from"].as_array().unwrap().clone();
    assert_eq!(
        metrics_from[0],
        json!({
            "namespaceSelector": {},
            "podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}}
        })
    );
    assert!(metrics_from.len() <= 2, "{metrics_from:?}");

    // The selector follows the values.
    let custom = template(
        "argocd-drift",
        NS,
        &[
            "--set",
            "argocd.namespace=gitops",
            "--set",
            "argocd.server.podLabels.app=server",
        ],
    )
    .unwrap();
    let policy = custom.of_kind("NetworkPolicy").next().unwrap();
    let from = &policy["spec"]["ingress"][0]["from"][0];
    assert_eq!(
        from["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"],
        "gitops"
    );
    assert_eq!(from["podSelector"]["matchLabels"]["app"], "server");
}

/// The rules of every Role and ClusterRole, with where they apply.
fn rules(rendered: &Rendered) -> Vec<(String, Option<String>, Value)> {
    rendered
        .objects
        .iter()
        .filter(|o| matches!(o["kind"].as_str(), Some("Role" | "ClusterRole")))
        .flat_map(|o| {
            let ns = o["metadata"]["namespace"].as_str().map(str::to_string);
            let name = o["metadata"]["name"].as_str().unwrap().to_string();
            o["rules"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .map(move |r| (name.clone(), ns.clone(), r))
        })
        .collect()
}

fn strings(v: &Value) -> Vec<&str> {
    v.as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

#[test]
fn rbac_has_no_wildcard_and_writes_only_the_projects_own_resources() {
    for file in scenarios() {
        let rendered = render_scenario(&file);
        for (role, ns, rule) in rules(&rendered) {
            let at = format!("{} {role}: {rule}", file.display());
            for field in ["verbs", "resources", "apiGroups"] {
                assert!(
                    !strings(&rule[field]).contains(&"*"),
                    "wildcard {field}: {at}"
                );
            }
            assert!(rule["nonResourceURLs"].is_null(), "{at}");
            let verbs = strings(&rule["verbs"]);
            let writes = verbs
                .iter()
                .any(|v| !matches!(*v, "get" | "list" | "watch"));
            if writes && strings(&rule["resources"]) == ["events"] {
                // Drift Events on Applications: create and patch, in app namespaces only.
                assert_eq!(strings(&rule["apiGroups"]), [""], "{at}");
                assert_eq!(verbs, ["create", "patch"], "{at}");
                assert!(role.ends_with("-applications"), "{at}");
            } else if writes {
                assert_eq!(strings(&rule["apiGroups"]), ["argocd-drift.io"], "{at}");
                assert_eq!(
                    ns.as_deref(),
                    Some(NS),
                    "writes only in its namespace: {at}"
                );
            }
            // Outside the Application index and its own objects, nothing is listed except the
            // named argocd-cm and (remote clusters) Argo CD's Secrets.
            if verbs.contains(&"list") {
                let resources = strings(&rule["resources"]);
                let ok = resources == ["applications"]
                    || resources == ["driftreports"]
                    || resources == ["drifthistories"]
                    || (resources == ["configmaps"]
                        && strings(&rule["resourceNames"]) == ["argocd-cm"])
                    || (resources == ["secrets"] && ns.as_deref() == Some("argocd"));
                assert!(ok, "list of {resources:?}: {at}");
            }
            if rule.get("verbs").is_some() && role.ends_with("-read") {
                assert_eq!(verbs, ["get"], "drift reads are get only: {at}");
            }
        }
    }
}

#[test]
fn secrets_are_read_only_when_a_feature_asks_for_it() {
    let secret_rules = |r: &Rendered| -> Vec<(Option<String>, Vec<String>)> {
        rules(r)
            .into_iter()
            .filter(|(_, _, rule)| strings(&rule["resources"]).contains(&"secrets"))
            .map(|(_, ns, rule)| {
                (
                    ns,
                    strings(&rule["verbs"])
                        .iter()
                        .map(|s| s.to_string())
                        .collect(),
                )
            })
            .collect()
    };
    assert_eq!(
        secret_rules(&defaults()),
        vec![],
        "no Secret access by default"
    );
    let read = template("argocd-drift", NS, &["--set", "drift.readSecrets=true"]).unwrap();
    assert_eq!(secret_rules(&read), vec![(None, vec!["get".to_string()])]);
    let remote = template("argocd-drift", NS, &["--set", "drift.remoteClusters=true"]).unwrap();
    assert_eq!(
        secret_rules(&remote),
        vec![(Some("argocd".into()), vec!["list".into(), "watch".into()])]
    );
    // The schema refuses Secrets through the readable kinds: only the switch grants them.
    let sneaky = template(
        "argocd-drift",
        NS,
        &[
            "--set",
            "drift.extraReadableResources[0].apiGroups[0]=",
            "--set",
            "drift.extraReadableResources[0].resources[0]=secrets",
        ],
    );
    assert!(sneaky.is_err());
}

#[test]
fn applications_are_watched_in_every_configured_namespace() {
    let rendered = template(
        "argocd-drift",
        NS,
        &[
            "--set",
            "argocd.applicationNamespaces={team-a,team-b,argocd}",
        ],
    )
    .unwrap();
    let namespaces: BTreeSet<&str> = rendered
        .of_kind("Role")
        .filter(|r| strings(&r["rules"][0]["resources"]) == ["applications"])
        .map(|r| r["metadata"]["namespace"].as_str().unwrap())
        .collect();
    assert_eq!(namespaces, BTreeSet::from(["argocd", "team-a", "team-b"]));
    let deployment = rendered.of_kind("Deployment").next().unwrap();
    let c = &deployment["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(
        env_value(c, "ARGOCD_NAMESPACES"),
        Some("argocd,team-a,team-b")
    );
    let star = template(
        "argocd-drift",
        NS,
        &["--set", "argocd.applicationNamespaces={*}"],
    );
    // `*` would need a ClusterRole on every Application: refused, naming the value.
    let err = format!("{:#}", star.unwrap_err());
    assert!(err.contains("applicationNamespaces"), "{err}");
}

#[test]
fn drift_events_are_granted_in_each_app_namespace_and_off_with_a_value() {
    let event_namespaces = |r: &Rendered| -> BTreeSet<String> {
        rules(r)
            .into_iter()
            .filter(|(_, _, rule)| strings(&rule["resources"]).contains(&"events"))
            .map(|(_, ns, _)| ns.unwrap_or_default())
            .collect()
    };
    let on = template(
        "argocd-drift",
        NS,
        &["--set", "argocd.applicationNamespaces={team-a,argocd}"],
    )
    .unwrap();
    assert_eq!(
        event_namespaces(&on),
        BTreeSet::from(["argocd".to_string(), "team-a".to_string()])
    );
    let c = &on.of_kind("Deployment").next().unwrap()["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(env_value(c, "EVENTS_ENABLED"), Some("true"));
    let off = template("argocd-drift", NS, &["--set", "events.enabled=false"]).unwrap();
    assert!(event_namespaces(&off).is_empty());
    let c = &off.of_kind("Deployment").next().unwrap()["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(env_value(c, "EVENTS_ENABLED"), Some("false"));
}

/// The proxy token: generated, identical in the backend's and Argo CD's Secret (as the header
/// Argo CD sends), never in `stringData`, a ConfigMap, an env value or the NOTES.
#[test]
fn the_proxy_secret_is_shared_with_argo_cd_and_never_in_plain_text() {
    let rendered = defaults();
    let backend = rendered.get("Secret", "argocd-drift-proxy-token").unwrap();
    let argocd = rendered.get("Secret", "argocd-drift-proxy").unwrap();
    assert_eq!(backend["metadata"]["namespace"], NS);
    assert_eq!(argocd["metadata"]["namespace"], "argocd");
    assert_eq!(
        argocd["metadata"]["labels"]["app.kubernetes.io/part-of"],
        "argocd"
    );
    let token = unb64(backend["data"]["token"].as_str().unwrap());
    assert!(
        token.len() >= 32,
        "a strong token: {} characters",
        token.len()
    );
    assert_eq!(
        unb64(argocd["data"]["authorization"].as_str().unwrap()),
        format!("Bearer {token}")
    );
    for secret in [backend, argocd] {
        assert!(secret["stringData"].is_null());
    }
    // The token appears nowhere in clear, only base64-encoded in the two Secrets.
    assert!(!rendered.text.contains(&token));
    assert_eq!(rendered.text.matches(&b64(&token)).count(), 1);
    assert_eq!(rendered.of_kind("ConfigMap").count(), 0);

    // Each render without a cluster makes a new one (upgrades read it back with `lookup`).
    let again = defaults();
    let other = unb64(
        again.get("Secret", "argocd-drift-proxy-token").unwrap()["data"]["token"]
            .as_str()
            .unwrap(),
    );
    assert_ne!(token, other);

    // The NOTES say where the token is and how Argo CD refers to it, never the token.
    let out = helm(&[
        "install",
        "argocd-drift",
        chart_dir().to_str().unwrap(),
        "--namespace",
        NS,
        "--dry-run=client",
    ])
    .unwrap();
    assert!(out.success, "{}", out.stderr);
    let (manifest, notes) = out.stdout.split_once("NOTES:").unwrap();
    let secret_token = manifest
        .lines()
        .find_map(|l| l.trim().strip_prefix("token: "))
        .unwrap()
        .trim_matches('"');
    let token = unb64(secret_token);
    assert!(!notes.contains(&token) && !notes.contains(secret_token));
    assert!(
        notes.contains("'$argocd-drift-proxy:authorization'"),
        "{notes}"
    );
    assert!(
        notes.contains("url: http://argocd-drift.argocd-drift.svc:8080"),
        "{notes}"
    );
    assert!(notes.contains("p, role:readonly, extensions, invoke, drift, allow"));
    assert!(notes.contains("helm test argocd-drift -n argocd-drift --logs"));
}

#[test]
fn an_existing_secret_replaces_the_generated_one() {
    let rendered = template(
        "argocd-drift",
        NS,
        &[
            "--set",
            "proxySecret.create=false",
            "--set",
            "proxySecret.existingSecret=mine",
            "--set",
            "proxySecret.existingSecretKey=tok",
        ],
    )
    .unwrap();
    assert_eq!(rendered.of_kind("Secret").count(), 0);
    let deployment = rendered.of_kind("Deployment").next().unwrap();
    let volume = deployment["spec"]["template"]["spec"]["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "proxy-token")
        .unwrap();
    assert_eq!(volume["secret"]["secretName"], "mine");
    assert_eq!(volume["secret"]["items"][0]["key"], "tok");
    // Both at once is a contradiction, said plainly.
    let both = template(
        "argocd-drift",
        NS,
        &["--set", "proxySecret.existingSecret=mine"],
    );
    assert!(format!("{:#}", both.unwrap_err()).contains("proxySecret.create=false"));
    let neither = template("argocd-drift", NS, &["--set", "proxySecret.create=false"]);
    assert!(format!("{:#}", neither.unwrap_err()).contains("existingSecret is required"));
}

#[test]
fn the_schema_rejects_unknown_keys_and_bad_values() {
    for (set, complaint) in [
        ("replicas=2", "additional properties 'replicas' not allowed"),
        (
            "image.registry=x",
            "additional properties 'registry' not allowed",
        ),
        (
            "networkPolicy.api.from=x",
            "additional properties 'from' not allowed",
        ),
        ("logFormat=xml", "logFormat"),
        ("argocd.namespace=Argo_CD", "argocd/namespace"),
        ("history.maxEpisodes=5000", "maxEpisodes"),
    ] {
        let err = template("argocd-drift", NS, &["--set", set]).unwrap_err();
        let err = format!("{err:#}");
        assert!(err.contains(complaint), "{set}: {err}");
    }
}

#[test]
fn monitoring_objects_select_the_metrics_port() {
    let file = chart_dir().join("ci").join("monitoring-ha-values.yaml");
    let rendered = render_scenario(&file);
    let monitor = rendered.of_kind("ServiceMonitor").next().unwrap();
    let metrics = rendered.get("Service", "argocd-drift-metrics").unwrap();
    for (k, v) in monitor["spec"]["selector"]["matchLabels"]
        .as_object()
        .unwrap()
    {
        assert_eq!(&metrics["metadata"]["labels"][k], v, "{k}");
    }
    // Only the metrics Service matches: the API Service lacks the part-of label.
    let api = rendered.get("Service", "argocd-drift").unwrap();
    assert!(api["metadata"]["labels"]["app.kubernetes.io/part-of"].is_null());
    assert_eq!(monitor["spec"]["endpoints"][0]["port"], "metrics");
    assert_eq!(
        monitor["metadata"]["labels"]["release"],
        "kube-prometheus-stack"
    );
    let rule = rendered.of_kind("PrometheusRule").next().unwrap();
    let alerts: Vec<(&str, &str)> = rule["spec"]["groups"][0]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["alert"].as_str().unwrap(), r["expr"].as_str().unwrap()))
        .collect();
    let expr = |name: &str| alerts.iter().find(|(a, _)| *a == name).unwrap().1;
    assert!(expr("ArgoCdAppDrifting").contains("argocd_drift_app_drifting_seconds"));
    assert!(expr("ArgoCdAppDrifting").ends_with("> 1800"), "30 minutes");
    assert!(expr("ArgoCdDriftReportsStale").contains("argocd_drift_reports_stale"));
    assert!(expr("ArgoCdDriftDataStale").contains("argocd_drift_watch_stale"));
    // Each series the alerts use is one the backend exports (README metrics table).
    let readme = std::fs::read_to_string(testenv::chart::repo_root().join("README.md")).unwrap();
    for series in [
        "argocd_drift_reports_stale",
        "argocd_drift_watch_stale",
        "argocd_drift_apps_drifting_by_manager_class",
        "argocd_drift_history_pending_writes",
        "argocd_drift_history_writes_total",
    ] {
        assert!(readme.contains(&format!("`{series}`")), "{series}");
    }
    // Prometheus only on the metrics port, and the `helm test` Pod (it asks /readyz there).
    let policy = rendered.of_kind("NetworkPolicy").next().unwrap();
    let metrics_rule = policy["spec"]["ingress"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["ports"][0]["port"] == "service")
        .unwrap();
    let test_pod = rendered.of_kind("Pod").next().unwrap();
    let peers = metrics_rule["from"].as_array().unwrap();
    assert_eq!(peers.len(), 2, "{peers:?}");
    for (k, v) in peers[1]["podSelector"]["matchLabels"].as_object().unwrap() {
        assert_eq!(&test_pod["metadata"]["labels"][k], v, "{k}");
    }
    let off = defaults();
    assert_eq!(
        off.of_kind("ServiceMonitor").count() + off.of_kind("PrometheusRule").count(),
        0
    );
}

/// The chart's alert rules, rendered with their defaults, tested by Prometheus's own
/// `promtool test rules` on synthetic series (`backend/tests/alerts/rules.test.yaml`): each alert
/// fires when it should and stays quiet when it should not. promtool is built from its Go module
/// and cached (`testenv/promtool.sh`).
#[test]
fn the_alert_rules_pass_promtools_rule_tests() {
    let rendered = template(
        "argocd-drift",
        NS,
        &["--set", "metrics.prometheusRule.enabled=true"],
    )
    .unwrap();
    let rule = rendered.of_kind("PrometheusRule").next().unwrap();
    let dir = tempfile::tempdir().unwrap();
    // A rule file is YAML, of which JSON is a subset.
    std::fs::write(
        dir.path().join("rules.yaml"),
        serde_json::to_vec_pretty(&json!({"groups": rule["spec"]["groups"]})).unwrap(),
    )
    .unwrap();
    let tests = testenv::chart::repo_root().join("backend/tests/alerts/rules.test.yaml");
    std::fs::copy(&tests, dir.path().join("rules.test.yaml")).unwrap();
    let promtool = testenv::chart::repo_root().join("testenv/promtool.sh");
    let check = std::process::Command::new(&promtool)
        .args(["check", "rules"])
        .arg(dir.path().join("rules.yaml"))
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
    let run = std::process::Command::new(&promtool)
        .args(["test", "rules", "rules.test.yaml"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    // Every alert has a test.
    let tested = std::fs::read_to_string(&tests).unwrap();
    for r in rule["spec"]["groups"][0]["rules"].as_array().unwrap() {
        let alert = r["alert"].as_str().unwrap();
        assert!(
            tested.contains(&format!("alertname: {alert}")),
            "{alert} has no promtool test"
        );
    }
}

#[test]
fn the_helm_test_runs_the_self_check_with_the_backends_identity() {
    let rendered = defaults();
    let pod = rendered.of_kind("Pod").next().unwrap();
    assert_eq!(pod["metadata"]["annotations"]["helm.sh/hook"], "test");
    let deployment = rendered.of_kind("Deployment").next().unwrap();
    let spec = &deployment["spec"]["template"]["spec"];
    assert_eq!(
        pod["spec"]["serviceAccountName"],
        spec["serviceAccountName"]
    );
    assert_eq!(pod["spec"]["containers"][0]["args"], json!(["check"]));
    assert_eq!(
        pod["spec"]["containers"][0]["env"],
        spec["containers"][0]["env"]
    );
    let c = &spec["containers"][0];
    assert_eq!(
        env_value(c, "CHECK_API_URL"),
        Some("http://argocd-drift.argocd-drift.svc:8080")
    );
    assert_eq!(
        env_value(c, "CHECK_SERVICE_URL"),
        Some("http://argocd-drift-metrics.argocd-drift.svc:8081")
    );
}

#[test]
fn the_chart_readme_documents_every_value() {
    let script = testenv::chart::repo_root()
        .join("scripts")
        .join("chart-docs.py");
    let out = chart::run(
        std::path::Path::new("python3"),
        &[script.to_str().unwrap(), "--check"],
    )
    .unwrap();
    assert!(out.success, "{}{}", out.stdout, out.stderr);
}

#[test]
fn manifests_are_what_the_chart_renders() {
    let script = testenv::chart::repo_root()
        .join("scripts")
        .join("render-manifests.sh");
    let out = chart::run(&script, &["--check"]).unwrap();
    assert!(out.success, "{}{}", out.stdout, out.stderr);
}

/// `manifests/` with the token files a user creates, built by kustomize (kubectl's).
fn build_manifests(dir: &std::path::Path) -> Rendered {
    let tools = chart::tools().unwrap();
    let root = testenv::chart::repo_root().join("manifests");
    let copy = dir.join("manifests");
    std::fs::create_dir_all(copy.join("crds")).unwrap();
    for entry in walk(&root) {
        let rel = entry.strip_prefix(&root).unwrap();
        std::fs::create_dir_all(copy.join(rel).parent().unwrap()).unwrap();
        std::fs::copy(&entry, copy.join(rel)).unwrap();
    }
    std::fs::write(copy.join("proxy-token"), "0123456789abcdef0123456789").unwrap();
    std::fs::write(
        copy.join("proxy-authorization"),
        "Bearer 0123456789abcdef0123456789",
    )
    .unwrap();
    let out = chart::run(&tools.kubectl, &["kustomize", copy.to_str().unwrap()]).unwrap();
    assert!(out.success, "{}", out.stderr);
    Rendered {
        objects: fake_apiserver::load_yaml_documents(&out.stdout).unwrap(),
        text: out.stdout,
    }
}

fn walk(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

/// The kustomize base holds what the chart's defaults install (no `helm test` Pod; the token from
/// files instead of `lookup`), and every object is valid.
#[test]
fn the_kustomize_base_installs_what_the_chart_does() {
    let dir = tempfile::tempdir().unwrap();
    let built = build_manifests(dir.path());
    let file = dir.path().join("built.yaml");
    std::fs::write(&file, &built.text).unwrap();
    let tools = chart::tools().unwrap();
    let out = chart::run(
        &tools.kubernetes_validate,
        &[
            "-k",
            "1.37.0",
            "--strict",
            "--quiet",
            file.to_str().unwrap(),
        ],
    )
    .unwrap();
    assert!(out.success, "{}{}", out.stdout, out.stderr);
    let names = |r: &Rendered, skip: &[&str]| -> BTreeSet<String> {
        r.objects
            .iter()
            .filter(|o| !skip.contains(&o["kind"].as_str().unwrap()))
            .map(|o| {
                format!(
                    "{}/{}/{}",
                    o["kind"], o["metadata"]["namespace"], o["metadata"]["name"]
                )
            })
            .collect()
    };
    let chart = defaults();
    assert_eq!(
        names(&built, &["Namespace", "CustomResourceDefinition"]),
        names(&chart, &["Pod"]),
    );
    let token = built.get("Secret", "argocd-drift-proxy").unwrap();
    assert_eq!(
        token["metadata"]["labels"]["app.kubernetes.io/part-of"],
        "argocd"
    );
    assert_eq!(
        built.of_kind("CustomResourceDefinition").count(),
        std::fs::read_dir(chart_dir().join("crds")).unwrap().count()
    );
}

// === on a real API server ===

/// Runs helm against the real test cluster with the admin kubeconfig.
fn helm_on(cluster: &testenv::TestCluster, args: &[&str]) -> chart::Output {
    let kubeconfig = cluster_admin_kubeconfig(cluster);
    let mut all = args.to_vec();
    all.extend_from_slice(&["--kubeconfig", kubeconfig.as_str()]);
    let out = helm(&all).unwrap();
    assert!(out.success, "helm {args:?}: {}{}", out.stdout, out.stderr);
    out
}

fn cluster_admin_kubeconfig(_cluster: &testenv::TestCluster) -> String {
    std::env::var("DRIFT_TEST_KUBECONFIG").expect("make test-real sets DRIFT_TEST_KUBECONFIG")
}

/// A kubeconfig for the same server whose only credential is `token`. JSON is YAML.
fn token_kubeconfig(admin: &str, token: &str, dir: &std::path::Path) -> PathBuf {
    let text = std::fs::read_to_string(admin).unwrap();
    let mut config: Value = serde_json::to_value(
        fake_apiserver::load_yaml_documents(&text)
            .unwrap()
            .remove(0),
    )
    .unwrap();
    for user in config["users"].as_array_mut().unwrap() {
        user["user"] = json!({"token": token});
    }
    let path = dir.join("kubeconfig-sa");
    std::fs::write(&path, config.to_string()).unwrap();
    path
}

/// `helm install` of the chart on the real kube-apiserver (every object accepted by its
/// validation and admission), then argocd-drift run outside the cluster with a token of the
/// chart's own ServiceAccount (TokenRequest): the suites' requests are answered — status, drift
/// with live reads, reports written and deleted, the self-check — which proves the chart's RBAC is
/// enough; and what the chart does not grant is refused. An upgrade keeps the generated token.
#[tokio::test]
#[ignore = "needs a real API server: make test-real"]
async fn helm_install_on_a_real_api_server_grants_what_argocd_drift_needs_and_no_more() {
    use common::TestApp;
    use k8s_openapi::api::authentication::v1::TokenRequest;
    use k8s_openapi::api::core::v1::{ConfigMap, Secret, ServiceAccount};
    use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
    use testenv::TestCluster;
    use testenv::http::get;

    let cluster = TestCluster::real().await.unwrap();
    cluster.apply_fixtures("demo").await.unwrap();
    cluster
        .create_objects(vec![
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "drift"}}),
        ])
        .await
        .unwrap();
    cluster
        .create_objects(testenv::chart::argocd_wired_by_manifests().unwrap())
        .await
        .unwrap();
    let (argocd, team, release_ns) = (
        cluster.ns("argocd"),
        cluster.ns("team-apps"),
        cluster.ns("drift"),
    );
    // Cluster-scoped names (the ClusterRole) must not meet another test run's release.
    let fullname = cluster.ns("argocd-drift");
    let chart_path = chart_dir();
    let install = |verb: &'static str| {
        vec![
            verb.to_string(),
            "argocd-drift".into(),
            chart_path.to_str().unwrap().to_string(),
            "--namespace".into(),
            release_ns.clone(),
            "--set".into(),
            format!("argocd.namespace={argocd}"),
            "--set".into(),
            format!("argocd.applicationNamespaces={{{team}}}"),
            "--set".into(),
            format!("fullnameOverride={fullname}"),
        ]
    };
    let args = install("install");
    let out = helm_on(
        &cluster,
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    assert!(out.stdout.contains("STATUS: deployed"), "{}", out.stdout);

    // What the chart installed, as the server stored it.
    let client = cluster.client().await.unwrap();
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &release_ns);
    let read_token = || async {
        let s = secrets
            .get(&format!("{fullname}-proxy-token"))
            .await
            .unwrap();
        String::from_utf8(s.data.unwrap()["token"].0.clone()).unwrap()
    };
    let token = read_token().await;
    let argocd_secret: Api<Secret> = Api::namespaced(client.clone(), &argocd);
    let header = String::from_utf8(
        argocd_secret
            .get("argocd-drift-proxy")
            .await
            .unwrap()
            .data
            .unwrap()["authorization"]
            .0
            .clone(),
    )
    .unwrap();
    assert_eq!(header, format!("Bearer {token}"));

    // An upgrade keeps the generated token (read back with `lookup`).
    let args = install("upgrade");
    helm_on(
        &cluster,
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    assert_eq!(
        read_token().await,
        token,
        "helm upgrade changed the proxy token"
    );

    // A token of the chart's ServiceAccount.
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), &release_ns);
    let request: TokenRequest =
        serde_json::from_value(json!({"spec": {"expirationSeconds": 3600}})).unwrap();
    let issued = accounts
        .create_token_request(&fullname, &PostParams::default(), &request)
        .await
        .unwrap();
    let sa_token = issued.status.unwrap().token;
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = token_kubeconfig(&cluster_admin_kubeconfig(&cluster), &sa_token, dir.path());
    let token_file = dir.path().join("proxy-token");
    std::fs::write(&token_file, &token).unwrap();

    // argocd-drift with exactly the chart's grants.
    let app = TestApp::spawn(
        &cluster,
        &[
            ("KUBECONFIG", kubeconfig.to_str().unwrap()),
            ("POD_NAMESPACE", &release_ns),
            ("PROXY_TOKEN", ""),
            ("PROXY_TOKEN_FILE", token_file.to_str().unwrap()),
            ("REPORTS_INSECURE_NO_AUTH", "true"),
            // Asked for, but the chart grants no Secret read by default: refused by RBAC.
            ("DRIFT_READ_SECRETS", "true"),
        ],
    )
    .await;
    app.wait_ready().await;
    let payments = format!("{argocd}:payments-api");
    let as_argocd = |path: &'static str| {
        let (header, payments) = (header.clone(), payments.clone());
        let api = app.api;
        async move {
            get(
                api,
                path,
                &[
                    ("Authorization", header.as_str()),
                    ("Argocd-Application-Name", payments.as_str()),
                    ("Argocd-Project-Name", "team-payments"),
                ],
            )
            .await
            .unwrap()
        }
    };
    let status = as_argocd("/api/v1/status").await;
    assert_eq!(
        status.status,
        200,
        "{}",
        String::from_utf8_lossy(&status.body)
    );
    assert_eq!(status.json()["sync"]["status"], "OutOfSync");
    let drift = as_argocd("/api/v1/drift?all=true").await;
    assert_eq!(
        drift.status,
        200,
        "{}",
        String::from_utf8_lossy(&drift.body)
    );
    let drift = drift.json();
    let resources = drift["resources"].as_array().unwrap();
    let by_kind = |kind: &str| {
        resources
            .iter()
            .find(|r| r["kind"] == kind)
            .unwrap_or_else(|| panic!("no {kind} in {drift}"))
    };
    // Live reads with the chart's ClusterRole: get on Deployments and ConfigMaps.
    for kind in ["Deployment", "ConfigMap"] {
        assert_ne!(
            by_kind(kind)["cause"],
            "notInspected",
            "{kind}: {}",
            by_kind(kind)
        );
    }
    // A Secret: the backend asked, RBAC refused.
    let secret = by_kind("Secret");
    assert_eq!(secret["cause"], "notInspected");
    assert_eq!(
        secret["notInspected"]["reason"], "kindNotReadable",
        "{secret}"
    );
    // Reports written and deleted with the chart's Role.
    common::report_written_and_deleted(&app, &["OUT_OF_SYNC"]).await;

    // What the chart does not grant is refused.
    let sa = {
        let file = kube::config::Kubeconfig::read_from(&kubeconfig).unwrap();
        let config = kube::Config::from_custom_kubeconfig(file, &Default::default())
            .await
            .unwrap();
        kube::Client::try_from(config).unwrap()
    };
    let forbidden = |e: kube::Error| matches!(e, kube::Error::Api(s) if s.code == 403);
    let deployments: Api<k8s_openapi::api::apps::v1::Deployment> =
        Api::namespaced(sa.clone(), &cluster.ns("payments"));
    assert!(
        forbidden(deployments.list(&ListParams::default()).await.unwrap_err()),
        "list of a drift kind"
    );
    let argocd_secrets: Api<Secret> = Api::namespaced(sa.clone(), &argocd);
    assert!(forbidden(
        argocd_secrets
            .list(&ListParams::default())
            .await
            .unwrap_err()
    ));
    assert!(forbidden(
        argocd_secrets.get("argocd-drift-proxy").await.unwrap_err()
    ));
    let own_cms: Api<ConfigMap> = Api::namespaced(sa.clone(), &release_ns);
    let cm: ConfigMap = serde_json::from_value(json!({"metadata": {"name": "x"}})).unwrap();
    assert!(forbidden(
        own_cms
            .create(&PostParams::default(), &cm)
            .await
            .unwrap_err()
    ));
    // Applications are read, never written.
    let apps = common::applications(sa, &argocd);
    assert!(forbidden(
        apps.patch(
            "payments-api",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"x": "y"}}}))
        )
        .await
        .unwrap_err()
    ));

    // The self-check with the same identity: every link holds once argocd-cm points at this
    // release's Service (the Component's default URL is for release argocd-drift in namespace
    // argocd-drift).
    let api_url = format!("http://{fullname}.{release_ns}.svc:8080");
    let cms: Api<ConfigMap> = Api::namespaced(client, &argocd);
    cms.patch(
        "argocd-cm",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"extension.config.drift": format!(
            "services:\n- url: {api_url}\n  headers:\n  - name: Authorization\n    value: '$argocd-drift-proxy:authorization'\n")}})),
    )
    .await
    .unwrap();
    let mut vars = std::collections::HashMap::from([
        ("KUBECONFIG".to_string(), kubeconfig.display().to_string()),
        ("POD_NAMESPACE".to_string(), release_ns.clone()),
        ("ARGOCD_CONTROL_PLANE_NAMESPACE".to_string(), argocd.clone()),
        ("ARGOCD_NAMESPACES".to_string(), format!("{argocd},{team}")),
        (
            "CHECK_SERVICE_URL".to_string(),
            format!("http://{}", app.service),
        ),
    ]);
    // The chart's own CHECK_API_URL, as the helm test Pod gets it.
    let rendered = template(
        "argocd-drift",
        &release_ns,
        &["--set", &format!("fullnameOverride={fullname}")],
    )
    .unwrap();
    let deployment = rendered.of_kind("Deployment").next().unwrap();
    let check_api_url = env_value(
        &deployment["spec"]["template"]["spec"]["containers"][0],
        "CHECK_API_URL",
    )
    .unwrap();
    assert_eq!(check_api_url, api_url);
    vars.insert("CHECK_API_URL".into(), check_api_url.to_string());
    let config = <argocd_drift::Config as envconfig::Envconfig>::init_from_hashmap(&vars).unwrap();
    let found = argocd_drift::check::findings(&config).await;
    let text = drift_core::install::Report(&found).to_string();
    assert!(drift_core::install::all_pass(&found), "{text}");
    assert!(
        text.contains(&format!(
            "summary: {} ok, 0 failing, 0 not checked",
            links()
        )),
        "{text}"
    );

    // Uninstall removes what it installed (the CRDs stay, as documented).
    helm_on(
        &cluster,
        &["uninstall", "argocd-drift", "--namespace", &release_ns],
    );
    assert!(
        secrets
            .get_opt(&format!("{fullname}-proxy-token"))
            .await
            .unwrap()
            .is_none()
    );
}

/// The links `argocd-drift check` reports with the test harness's two watched namespaces.
fn links() -> usize {
    8 + argocd_drift::check::OWN_KINDS.len()
}

/// The argo-helm values snippet the NOTES print is what `argocd-drift check` accepts: fed to the
/// same pure checks, the extension config, proxy flag and RBAC line all pass, and the installer
/// entry names the tab's tarball and checksum.
#[test]
fn the_argo_helm_snippet_in_the_notes_passes_the_self_check() {
    use drift_core::install::{self, Read, Verdict};
    let out = helm(&[
        "install",
        "argocd-drift",
        chart_dir().to_str().unwrap(),
        "--namespace",
        NS,
        "--dry-run=client",
        "--set",
        "argocd.namespace=gitops",
    ])
    .unwrap();
    assert!(out.success, "{}", out.stderr);
    let notes = out.stdout.split_once("NOTES:").unwrap().1;
    let start = notes.find("   configs:\n").expect("the argo-helm snippet");
    let end = start + notes[start..].find("\n\n").unwrap();
    // The snippet is indented by three spaces in the NOTES.
    let yaml: String = notes[start..end]
        .lines()
        .map(|l| l.strip_prefix("   ").unwrap_or(l))
        .collect::<Vec<_>>()
        .join("\n");
    let values: Value = fake_apiserver::load_yaml_documents(&yaml)
        .unwrap()
        .remove(0);
    let map = |v: &Value| -> Read<std::collections::BTreeMap<String, String>> {
        Read::Found(
            v.as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
                .collect(),
        )
    };
    let rendered = template("argocd-drift", NS, &["--set", "argocd.namespace=gitops"]).unwrap();
    let deployment = rendered.of_kind("Deployment").next().unwrap();
    let c = &deployment["spec"]["template"]["spec"]["containers"][0];
    let api_url = env_value(c, "CHECK_API_URL").unwrap();
    let secret_ref = env_value(c, "CHECK_PROXY_SECRET_REF").unwrap();
    assert_eq!(secret_ref, "$argocd-drift-proxy:authorization");
    let findings = [
        install::extension_config(
            &map(&values["configs"]["cm"]),
            "gitops",
            api_url,
            secret_ref,
        ),
        install::proxy_flag(&map(&values["configs"]["params"]), "gitops"),
        install::rbac_line(&map(&values["configs"]["rbac"]), "gitops"),
    ];
    for f in &findings {
        assert_eq!(f.verdict, Verdict::Pass, "{f:?}\n{yaml}");
    }
    let entry = &values["server"]["extensions"]["extensionList"][0];
    let env: Vec<&str> = entry["env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(env, ["EXTENSION_URL", "EXTENSION_CHECKSUM_URL"]);
    assert_eq!(values["server"]["extensions"]["enabled"], true);
    // The Secret the snippet refers to is the one the chart creates, where Argo CD looks.
    let secret = rendered.get("Secret", "argocd-drift-proxy").unwrap();
    assert_eq!(secret["metadata"]["namespace"], "gitops");
}
