//! Generated diff scenarios: one seed, one scenario (the format of
//! fixtures/diff-scenarios/README.md), deterministic.
//!
//! A seed picks a kind (Deployment, Service, ConfigMap, Secret, Role, HPA, a custom resource),
//! builds what Git says with the features that have tripped the engine before (empty collections
//! and nulls, quantities written as numbers, duplicate merge keys, atomic lists), syncs it the
//! way the app says (client-side apply, or server-side apply), then lets other managers edit it:
//! values changed, fields deleted, keys added, list items added, removed and reordered, a
//! person's `kubectl apply -f`, a manual server-side sync. Sometimes Git then moves, sometimes
//! to exactly what a person changed by hand. The edits are JSON merge patches computed against
//! the generator's own model of the object, so the live object (defaults, managedFields,
//! last-applied) is what Kubernetes' field manager makes of them in the oracle.
//!
//! Each scenario is tagged with the issue 16 items its features touch, for
//! `KNOWN_PENDING_GENERATED_ITEMS`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};

pub struct Generated {
    pub name: String,
    pub scenario: Value,
    pub items: Vec<u8>,
}

/// splitmix64: small, fast, and the same on every platform.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x5851_f42d_4c95_7f2d)
    }
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

const NS: &str = "shop";

/// A quantity Kubernetes writes back in another form (a number, `0.5`, `1024Mi`): issue 16 item 11.
fn noncanonical(q: &Value) -> bool {
    q.is_number() || q == "0.5" || q == "1024Mi"
}

fn quantity_cpu(r: &mut Rng) -> Value {
    r.pick(&[
        json!("100m"),
        json!("250m"),
        json!(0.5),
        json!("0.5"),
        json!(1),
        json!("1"),
        json!("1500m"),
    ])
    .clone()
}

fn quantity_mem(r: &mut Rng) -> Value {
    r.pick(&[
        json!("128Mi"),
        json!("256Mi"),
        json!("1Gi"),
        json!("1024Mi"),
        json!(134217728),
        json!("512M"),
    ])
    .clone()
}

fn container(r: &mut Rng, name: &str, tags: &mut Vec<u8>) -> Value {
    let mut c = Map::new();
    c.insert("name".into(), json!(name));
    c.insert(
        "image".into(),
        json!(format!("registry.example.com/{name}:1.{}.0", r.below(9))),
    );
    if r.chance(60) {
        let mut ports = vec![json!({"containerPort": 8080, "name": "http"})];
        if r.chance(30) {
            // The same port twice, one per protocol (a DNS server).
            ports = vec![
                json!({"containerPort": 53, "protocol": "TCP", "name": "dns-tcp"}),
                json!({"containerPort": 53, "protocol": "UDP", "name": "dns"}),
            ];
            tags.push(10);
        }
        c.insert("ports".into(), Value::Array(ports));
    }
    match r.below(4) {
        0 => {
            c.insert("env".into(), json!([]));
            tags.push(1);
        }
        1 | 2 => {
            c.insert(
                "env".into(),
                json!([{"name": "LOG_LEVEL", "value": "info"}, {"name": "MODE", "value": "prod"}]),
            );
        }
        _ => {}
    }
    if r.chance(70) {
        let mut res = Map::new();
        let (cpu, mem) = (quantity_cpu(r), quantity_mem(r));
        if noncanonical(&cpu) || noncanonical(&mem) {
            tags.push(11);
        }
        res.insert("requests".into(), json!({"cpu": cpu, "memory": mem}));
        match r.below(4) {
            0 => {
                res.insert("limits".into(), Value::Null);
                tags.push(1);
            }
            1 | 2 => {
                let mem = quantity_mem(r);
                if noncanonical(&mem) {
                    tags.push(11);
                }
                res.insert("limits".into(), json!({"memory": mem}));
            }
            _ => {}
        }
        c.insert("resources".into(), Value::Object(res));
    }
    if r.chance(20) {
        c.insert("args".into(), json!(["--port=8080", "--verbose"]));
    }
    Value::Object(c)
}

fn deployment(r: &mut Rng, tags: &mut Vec<u8>) -> Value {
    let mut pod = Map::new();
    let mut containers = vec![container(r, "web", tags)];
    if r.chance(30) {
        containers.push(container(r, "sidecar", tags));
    }
    pod.insert("containers".into(), Value::Array(containers));
    if r.chance(25) {
        pod.insert("imagePullSecrets".into(), json!([]));
        tags.push(1);
    } else if r.chance(20) {
        pod.insert("imagePullSecrets".into(), json!([{"name": "registry"}]));
    }
    if r.chance(20) {
        pod.insert("nodeSelector".into(), json!({}));
        tags.push(1);
    }
    if r.chance(30) {
        pod.insert(
            "tolerations".into(),
            json!([{"key": "dedicated", "operator": "Equal", "value": "shop", "effect": "NoSchedule"}]),
        );
    }
    if r.chance(20) {
        pod.insert("volumes".into(), json!([{"name": "cache", "emptyDir": {}}]));
        tags.push(1);
    }
    if r.chance(15) {
        pod.insert("automountServiceAccountToken".into(), json!(false));
        tags.push(1);
    }
    let mut tmeta = json!({"labels": {"app": "web"}});
    if r.chance(20) {
        tmeta["annotations"] = json!({});
        tags.push(1);
    }
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": NS, "labels": {"app": "web"}},
        "spec": {
            "replicas": 1 + r.below(4),
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": tmeta, "spec": pod},
        }
    })
}

fn service(r: &mut Rng, tags: &mut Vec<u8>) -> Value {
    let ports = if r.chance(35) {
        tags.push(10);
        json!([
            {"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 5353},
            {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 5353},
        ])
    } else {
        json!([{"name": "http", "port": 80, "targetPort": r.pick(&[json!(8080), json!("http")])}])
    };
    json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "web", "namespace": NS},
        "spec": {"selector": {"app": "web"}, "ports": ports},
    })
}

fn config_map(r: &mut Rng, tags: &mut Vec<u8>) -> Value {
    let mut data = Map::new();
    for i in 0..r.below(4) {
        data.insert(format!("KEY_{i}"), json!(format!("value-{}", r.below(100))));
    }
    if data.is_empty() {
        tags.push(1);
    }
    json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "config", "namespace": NS, "labels": {"app": "web"}},
        "data": data,
    })
}

fn secret(r: &mut Rng, _tags: &mut [u8]) -> Value {
    let mut s = json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "db", "namespace": NS},
        "type": "Opaque",
        "data": {"username": "Z2VuLXVzZXI=", "password": "Z2VuLXBhc3N3b3JkLXYx"},
    });
    if r.chance(40) {
        s["stringData"] = json!({"host": "db.shop.svc"});
    }
    s
}

fn role(r: &mut Rng, tags: &mut Vec<u8>) -> Value {
    if r.chance(40) {
        tags.push(3);
        return json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
            "metadata": {"name": "reader", "namespace": NS},
            "rules": [],
        });
    }
    json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
        "metadata": {"name": "reader", "namespace": NS},
        "rules": [
            {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"]},
            {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get"]},
        ],
    })
}

fn hpa(r: &mut Rng, tags: &mut Vec<u8>) -> Value {
    let target = match r.below(4) {
        0 => json!({"type": "AverageValue", "averageValue": 100}),
        1 => json!({"type": "AverageValue", "averageValue": 0.5}),
        2 => json!({"type": "AverageValue", "averageValue": "250m"}),
        _ => json!({"type": "Utilization", "averageUtilization": 70}),
    };
    if noncanonical(&target["averageValue"]) {
        tags.push(11);
    }
    let mut metrics =
        vec![json!({"type": "Resource", "resource": {"name": "cpu", "target": target}})];
    if r.chance(40) {
        let mem = quantity_mem(r);
        if noncanonical(&mem) {
            tags.push(11);
        }
        metrics.push(json!({"type": "Resource", "resource": {"name": "memory",
            "target": {"type": "AverageValue", "averageValue": mem}}}));
    }
    json!({
        "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "web", "namespace": NS},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "minReplicas": 1 + r.below(2), "maxReplicas": 5 + r.below(5),
            "metrics": metrics,
        },
    })
}

fn widget(r: &mut Rng, tags: &mut Vec<u8>) -> Value {
    let mut spec = json!({
        "size": 1 + r.below(5),
        "color": r.pick(&["red", "green", "blue"]),
        "ports": [{"name": "http", "port": 80}, {"name": "admin", "port": 9090}],
        "settings": {"a": "1", "b": "2"},
    });
    if r.chance(25) {
        spec["owner"] = Value::Null;
        tags.push(13);
    }
    if r.chance(20) {
        spec["tags"] = json!([]);
    }
    json!({
        "apiVersion": "fixtures.argocd-drift.io/v1", "kind": "Widget",
        "metadata": {"name": "widget", "namespace": NS},
        "spec": spec,
    })
}

/// Every JSON pointer to a value under `v` (objects and arrays included), with the value.
fn nodes(v: &Value, at: String, out: &mut Vec<(String, Value)>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let p = format!("{at}/{}", k.replace('~', "~0").replace('/', "~1"));
                out.push((p.clone(), x.clone()));
                nodes(x, p, out);
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                let p = format!("{at}/{i}");
                out.push((p.clone(), x.clone()));
                nodes(x, p, out);
            }
        }
        _ => {}
    }
}

/// Pointers a person or a controller would edit: not apiVersion, kind, or the identity.
fn editable(p: &str) -> bool {
    !(p.starts_with("/apiVersion")
        || p.starts_with("/kind")
        || p == "/metadata"
        || p.starts_with("/metadata/name")
        || p.starts_with("/metadata/namespace")
        || p.contains("/selector")
        || p.ends_with("/name") && (p.contains("/containers/") || p.contains("/env/")))
}

/// Another valid value for the scalar at `p`; `None` where any change would be refused by the
/// API server's validation (which the oracle does not run) or is not a person's edit.
fn changed_scalar(p: &str, v: &Value, r: &mut Rng) -> Option<Value> {
    let last = p.rsplit('/').next().unwrap_or_default();
    let other = |r: &mut Rng, options: &[&str]| {
        let now = v.as_str().unwrap_or_default();
        let left: Vec<&str> = options.iter().copied().filter(|o| *o != now).collect();
        json!(*r.pick(&left))
    };
    Some(match last {
        "effect" => other(r, &["NoSchedule", "NoExecute", "PreferNoSchedule"]),
        "operator" => other(r, &["Equal", "Exists"]),
        "cpu" | "averageValue" | "value" if p.contains("/resources/") || p.contains("/target/") => {
            other(r, &["100m", "250m", "750m", "2"])
        }
        "memory" | "storage" | "sizeLimit" => other(r, &["64Mi", "512Mi", "2Gi"]),
        // protocol: a change could make two items share a key, which the API server refuses.
        "type" | "kind" | "apiVersion" | "containerPort" | "port" | "protocol" => return None,
        _ => match v {
            Value::String(s) => json!(format!("{s}-{}", r.below(90) + 10)),
            Value::Number(n) => {
                json!(
                    n.as_f64()
                        .map(|f| f as i64 + 1 + r.below(3) as i64)
                        .unwrap_or(1)
                )
            }
            Value::Bool(b) => json!(!b),
            _ => return None,
        },
    })
}

/// Keys the API server requires (or that identify a list item): never removed.
fn required(p: &str) -> bool {
    let last = p.rsplit('/').next().unwrap_or_default();
    matches!(
        last,
        "containerPort"
            | "port"
            | "name"
            | "image"
            | "type"
            | "verbs"
            | "resources"
            | "kind"
            | "apiVersion"
            | "target"
            | "resource"
            | "scaleTargetRef"
            | "maxReplicas"
            | "key"
            | "containers"
            | "template"
            | "spec"
    )
}

/// One random edit of `model`; returns what it touched, for the tags.
fn mutate(model: &mut Value, r: &mut Rng, tags: &mut Vec<u8>) {
    let mut all = Vec::new();
    nodes(model, String::new(), &mut all);
    all.retain(|(p, _)| editable(p));
    if all.is_empty() {
        return;
    }
    let (p, v) = r.pick(&all).clone();
    let op = r.below(6);
    match (&v, op) {
        (Value::Array(a), 0) if !a.is_empty() => {
            // Append a copy of an item under a new key.
            let mut item = a[r.below(a.len())].clone();
            if let Value::Object(m) = &mut item {
                for k in ["name", "key"] {
                    if let Some(Value::String(s)) = m.get(k) {
                        m.insert(k.into(), json!(format!("{s}-added")));
                    }
                }
                for k in ["containerPort", "port"] {
                    if let Some(Value::Number(n)) = m.get(k) {
                        let n = n.as_u64().unwrap_or(1) + 1000;
                        m.insert(k.into(), json!(n));
                    }
                }
            }
            let mut a = a.clone();
            a.push(item);
            set(model, &p, Value::Array(a));
        }
        (Value::Array(a), 1) if a.len() > 1 => {
            let mut a = a.clone();
            a.reverse();
            set(model, &p, Value::Array(a));
        }
        (Value::Array(a), 2) if !a.is_empty() => {
            let mut a = a.clone();
            a.remove(r.below(a.len()));
            set(model, &p, Value::Array(a));
        }
        (Value::Array(a), _) if a.is_empty() => {
            let item = match p.rsplit('/').next().unwrap_or_default() {
                "env" => json!({"name": "INJECTED", "value": "1"}),
                "imagePullSecrets" => json!({"name": "injected"}),
                "rules" => json!({"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}),
                "tags" => json!("injected"),
                _ => return,
            };
            set(model, &p, json!([item]));
        }
        (Value::Object(m), 0 | 1) => {
            let last = p.rsplit('/').next().unwrap_or_default();
            let (key, val) = if p.contains("/tolerations/") {
                // An atomic list's item gains a key.
                tags.push(7);
                ("tolerationSeconds", json!(300))
            } else if last == "emptyDir" {
                ("sizeLimit", json!("1Gi"))
            } else if matches!(
                last,
                "labels" | "annotations" | "data" | "stringData" | "nodeSelector" | "settings"
            ) || (p == "/spec" && model["kind"] == "Widget")
            {
                let v = if model["kind"] == "Secret" && last == "data" {
                    json!(STANDARD.encode("added-live"))
                } else {
                    json!("added-live")
                };
                ("example.com~1added", v)
            } else {
                return;
            };
            let mut m = m.clone();
            m.insert(key.replace("~1", "/"), val);
            set(model, &p, Value::Object(m));
        }
        (Value::Object(_), 2) if p.contains("/emptyDir") => {
            // The volume switched to a claim.
            let parent = p.trim_end_matches("/emptyDir").to_string();
            let mut item = get(model, &parent).cloned().unwrap_or(json!({}));
            if let Value::Object(m) = &mut item {
                m.remove("emptyDir");
                m.insert(
                    "persistentVolumeClaim".into(),
                    json!({"claimName": "cache"}),
                );
            }
            set(model, &parent, item);
        }
        (Value::Object(_) | Value::Array(_) | Value::Null, _) => {}
        (_, 3) if !required(&p) => {
            remove(model, &p);
        }
        _ if model["kind"] == "Secret" && p.starts_with("/data/") => {
            // Secret data is base64.
            let plain = format!("changed-live-{}", r.below(1000));
            set(model, &p, json!(STANDARD.encode(plain)));
        }
        _ => {
            if let Some(nv) = changed_scalar(&p, &v, r) {
                set(model, &p, nv);
            }
        }
    }
}

fn tokens(p: &str) -> Vec<String> {
    p.split('/')
        .skip(1)
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect()
}

fn get<'a>(v: &'a Value, p: &str) -> Option<&'a Value> {
    let mut cur = v;
    for t in tokens(p) {
        cur = match cur {
            Value::Object(m) => m.get(&t)?,
            Value::Array(a) => a.get(t.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(cur)
}

fn parent_and_last(p: &str) -> (String, String) {
    let t = tokens(p);
    let last = t.last().cloned().unwrap_or_default();
    let parent = &p[..p.rfind('/').unwrap_or(0)];
    (parent.to_string(), last)
}

fn set(model: &mut Value, p: &str, val: Value) {
    let (parent, last) = parent_and_last(p);
    let Some(container) = get_mut(model, &parent) else {
        return;
    };
    match container {
        Value::Object(m) => {
            m.insert(last, val);
        }
        Value::Array(a) => {
            if let Some(slot) = last.parse::<usize>().ok().and_then(|i| a.get_mut(i)) {
                *slot = val;
            }
        }
        _ => {}
    }
}

fn remove(model: &mut Value, p: &str) {
    let (parent, last) = parent_and_last(p);
    match get_mut(model, &parent) {
        Some(Value::Object(m)) => {
            m.remove(&last);
        }
        Some(Value::Array(a)) => {
            if let Ok(i) = last.parse::<usize>()
                && i < a.len()
            {
                a.remove(i);
            }
        }
        _ => {}
    }
}

fn get_mut<'a>(v: &'a mut Value, p: &str) -> Option<&'a mut Value> {
    let mut cur = v;
    for t in tokens(p) {
        cur = match cur {
            Value::Object(m) => m.get_mut(&t)?,
            Value::Array(a) => a.get_mut(t.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(cur)
}

/// RFC 7386: the merge patch that turns `a` into `b` (lists are replaced whole).
pub fn merge_diff(a: &Value, b: &Value) -> Option<Value> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let mut out = Map::new();
            for (k, v) in x {
                match y.get(k) {
                    None => {
                        out.insert(k.clone(), Value::Null);
                    }
                    Some(w) => {
                        if let Some(d) = merge_diff(v, w) {
                            out.insert(k.clone(), d);
                        }
                    }
                }
            }
            for (k, w) in y {
                if !x.contains_key(k) {
                    out.insert(k.clone(), w.clone());
                }
            }
            (!out.is_empty()).then_some(Value::Object(out))
        }
        _ if a == b => None,
        _ => Some(b.clone()),
    }
}

/// Some value Git changed (or removed) since the last sync is already so live.
fn git_meets_live(synced: &Value, desired: &Value, live: &Value) -> bool {
    let mut moved = Vec::new();
    nodes(desired, String::new(), &mut moved);
    let changed = moved
        .iter()
        .any(|(p, v)| get(synced, p) != Some(v) && get(live, p) == Some(v));
    let mut before = Vec::new();
    nodes(synced, String::new(), &mut before);
    let removed = before
        .iter()
        .any(|(p, _)| get(desired, p).is_none() && get(live, p).is_none());
    changed || removed
}

const EDITORS: &[&str] = &[
    "kubectl-edit",
    "kubectl-patch",
    "sidecar-injector",
    "argocd-server",
    "policy-controller",
    "kube-controller-manager",
];

/// The scenario of one seed.
pub fn generate(seed: u64) -> Generated {
    let mut r = Rng::new(seed);
    let mut tags = Vec::new();
    let kind = r.below(7);
    let synced = match kind {
        0 => deployment(&mut r, &mut tags),
        1 => service(&mut r, &mut tags),
        2 => config_map(&mut r, &mut tags),
        3 => secret(&mut r, &mut tags),
        4 => role(&mut r, &mut tags),
        5 => hpa(&mut r, &mut tags),
        _ => widget(&mut r, &mut tags),
    };
    let server_side = r.chance(25);
    let mut application = json!({});
    if server_side {
        application = json!({"spec": {"syncPolicy": {"syncOptions": ["ServerSideApply=true"]}}});
        tags.extend([9, 16]);
    }
    let mut writes = vec![json!({"sync": {}})];
    let mut model = synced.clone();
    let mut hand_edits: Vec<Value> = Vec::new();
    let edits = r.below(4);
    for i in 0..edits {
        if !server_side && i == 0 && r.chance(10) {
            // A manual server-side sync of a client-side app.
            writes.push(json!({"sync": {"serverSide": true}}));
            tags.push(18);
        }
        if r.chance(12) {
            // A person's `kubectl apply -f` of an edited copy of the file.
            let mut file = synced.clone();
            mutate(&mut file, &mut r, &mut tags);
            writes.push(json!({"manager": "kubectl-client-side-apply", "apply": file}));
            tags.push(2);
            model = file;
            continue;
        }
        let before = model.clone();
        mutate(&mut model, &mut r, &mut tags);
        if let Some(patch) = merge_diff(&before, &model) {
            let manager = *r.pick(EDITORS);
            writes.push(json!({"manager": manager, "merge": patch}));
            hand_edits.push(model.clone());
        }
    }
    // Git moves: an unrelated edit, or exactly what a person did by hand.
    let mut desired = synced.clone();
    if r.chance(25) {
        if let Some(last) = hand_edits.last().filter(|_| r.chance(40)) {
            desired = last.clone();
            tags.push(17);
        } else {
            mutate(&mut desired, &mut r, &mut tags);
            // Git may have moved to what someone already did live (a hand fix committed).
            if git_meets_live(&synced, &desired, &model) {
                tags.push(17);
            }
        }
    }
    tags.sort_unstable();
    tags.dedup();
    let mut scenario = json!({
        "description": format!("generated from seed {seed}"),
        "item": tags,
        "desired": desired,
        "writes": writes,
    });
    if desired != synced {
        scenario["synced"] = synced;
    }
    if application != json!({}) {
        scenario["application"] = application;
    }
    Generated {
        name: format!("gen-{seed}"),
        scenario,
        items: tags,
    }
}
