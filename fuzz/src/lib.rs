//! Fuzz targets: every parser that reads what a client, a reporter, an app owner or a cluster
//! sends, and the drift engine on arbitrary (desired, live) pairs.
//!
//! Each target takes raw bytes and checks, besides "no panic", the invariant its parser promises
//! (an error has a documented code; what parses round-trips; a token never appears in an error;
//! a Secret value never leaves the engine). The same functions run in two harnesses:
//!
//! - stable, in the test suite (`fuzz/tests/smoke.rs`): every corpus file, then a short
//!   deterministic mutation pass ([`mutate`]) — what CI runs;
//! - libFuzzer (`fuzz/libfuzzer`, cargo-fuzz on nightly): `make fuzz`, the long runs, coverage
//!   guided, which grow the corpora kept in `fuzz/corpus/<target>/`.

pub mod mutate;

use argocd_drift::handlers::drift::{DriftQuery, ResourceQuery};
use argocd_drift::handlers::history::HistoryQuery;
use argocd_drift::http::argocd::parse_caller;
use argocd_drift::http::error::ApiError;
use argocd_drift::http::query::{FromQuery, Query, ScopeClaims};
use argocd_drift::http::reporters::parse_reporters;
use drift_core::app::ApplicationSpec;
use drift_core::app::fixtures::mk_resource;
use drift_core::drift::jq::JqCache;
use drift_core::drift::managed::Ownership;
use drift_core::drift::settings::SystemSettings;
use drift_core::drift::{Inspector, LiveRead, ResourceInput};
use drift_core::history::view::Cursor;
use drift_core::reports::parse::{Flavor, parse_body};
use drift_core::reports::resource::{from_object, to_object};
use serde_json::{Value, json};
use std::sync::OnceLock;

/// A fuzz target: raw bytes in, a panic when an invariant breaks.
pub type Target = fn(&[u8]);

/// Every target, by the name of its corpus directory.
pub const TARGETS: &[(&str, Target)] = &[
    ("identity_headers", identity_headers),
    ("query", query),
    ("report_compat", report_compat),
    ("report_v1", report_v1),
    ("token_file", token_file),
    ("history_cursor", history_cursor),
    ("managed_fields", managed_fields),
    ("last_applied", last_applied),
    ("jq", jq),
    ("drift_engine", drift_engine),
];

/// Codes a query may be refused with (README, Errors).
const QUERY_CODES: &[&str] = &[
    "INVALID_QUERY",
    "UNKNOWN_QUERY_PARAMETER",
    "MISSING_QUERY_PARAMETER",
];

fn text(data: &[u8]) -> String {
    String::from_utf8_lossy(data).into_owned()
}

/// `Argocd-*` headers, one `name: value` a line; lines that are not a valid header are dropped.
pub fn identity_headers(data: &[u8]) {
    let mut headers = http::HeaderMap::new();
    for line in data.split(|&b| b == b'\n') {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let (name, value) = (&line[..colon], &line[colon + 1..]);
        let value = value.strip_prefix(b" ").unwrap_or(value);
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(name),
            http::HeaderValue::from_bytes(value),
        ) {
            headers.append(name, value);
        }
    }
    match parse_caller(&headers) {
        Ok(caller) => {
            // What passes names an app with valid Kubernetes names.
            assert!(drift_core::names::is_dns_label(&caller.app.namespace));
            assert!(drift_core::names::is_dns_subdomain(&caller.app.name));
        }
        Err(error) => {
            let code = ApiError::from(error).code().as_str();
            assert!(
                code.starts_with("MISSING_")
                    || code.starts_with("DUPLICATE_")
                    || code.starts_with("INVALID_"),
                "{code}"
            );
        }
    }
}

/// A query string, through the decoder, the scope claims and every route's typed query.
pub fn query(data: &[u8]) {
    let raw = text(data);
    let parsed = match Query::parse(Some(&raw)) {
        Ok(q) => q,
        Err(e) => {
            assert_eq!(e.code().as_str(), "INVALID_QUERY");
            return;
        }
    };
    let check = |r: Result<(), ApiError>| {
        if let Err(e) = r {
            assert!(QUERY_CODES.contains(&e.code().as_str()), "{}", e.code());
        }
    };
    check(ScopeClaims::parse(&parsed, &[]).map(|_| ()));
    check(DriftQuery::from_query(&parsed).map(|_| ()));
    check(HistoryQuery::from_query(&parsed).map(|_| ()));
    if let Ok(r) = ResourceQuery::from_query(&parsed) {
        // A version that passes is one URL segment.
        assert!(
            drift_core::names::is_dns_label(&r.version),
            "{:?}",
            r.version
        );
    }
    check(ResourceQuery::from_query(&parsed).map(|_| ()));
}

fn report(data: &[u8], flavor: Flavor) {
    let now: jiff::Timestamp = "2026-04-21T12:00:00Z".parse().expect("a valid time");
    let Ok(report) = parse_body(data, flavor, now) else {
        return;
    };
    for part in [&report.key.repo, &report.key.server] {
        assert!(!part.is_empty() && part.len() <= 253);
        assert!(
            !part
                .chars()
                .any(|c| c.is_control() || drift_core::reports::parse::is_invisible(c))
        );
    }
    assert!(!report.key.repo.contains(':'));
    // What is accepted is stored and read back the same.
    let stored = drift_core::reports::model::StoredReport {
        report,
        updated_at: Some(now),
        reporter: Some("fuzz".into()),
    };
    let object = to_object("fuzz.x-0", Some("1"), &stored);
    assert_eq!(from_object(&object).as_ref(), Ok(&stored));
}

/// `POST /api/status` bodies.
pub fn report_compat(data: &[u8]) {
    report(data, Flavor::Compat);
}

/// `POST /api/v1/reports` bodies.
pub fn report_v1(data: &[u8]) {
    report(data, Flavor::V1);
}

/// A reporter token file: whatever it holds, an error never quotes a token.
pub fn token_file(data: &[u8]) {
    let file = text(data);
    let parsed = parse_reporters(&file, std::path::Path::new("tokens"));
    let tokens: Vec<&str> = file
        .lines()
        .filter_map(|l| l.split_whitespace().nth(1))
        // A field copied from the parser's own fixed messages (`[<repo>,<repo>…]`, which the
        // fuzzer found) is not a token the message leaks: those all contain `<`.
        .filter(|t| t.len() >= 16 && !t.contains('<'))
        .collect();
    for error in &parsed.refused {
        let message = error.to_string();
        for token in &tokens {
            assert!(!message.contains(token), "a refusal quotes a token");
        }
    }
    for reporter in &parsed.reporters {
        assert!(drift_core::reports::resource::is_reporter_name(
            &reporter.name
        ));
    }
}

/// `GET /api/v1/history?cursor=`: what parses re-encodes to itself.
pub fn history_cursor(data: &[u8]) {
    if let Ok(cursor) = Cursor::parse(&text(data)) {
        assert_eq!(Cursor::parse(&cursor.encode()), Ok(cursor));
    }
}

/// Bytes as JSON if they are, else as a JSON string.
fn json_or_string(data: &[u8]) -> Value {
    serde_json::from_slice(data).unwrap_or_else(|_| Value::String(text(data)))
}

/// `metadata.managedFields` of a live object, as a cluster (or anyone who can write it) sends.
pub fn managed_fields(data: &[u8]) {
    let live = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "ns", "managedFields": json_or_string(data)},
        "spec": {"replicas": 3, "template": {"spec": {"containers": [{"name": "a", "image": "a:1"}]}}}
    });
    let ownership = Ownership::of(&live);
    for entry in &ownership.entries {
        for leaf in &entry.leaves {
            let _ = ownership.owners(leaf);
        }
    }
    let _ = ownership.argocd_applies_server_side();
}

fn engine() -> &'static (ApplicationSpec, SystemSettings, JqCache) {
    static ENGINE: OnceLock<(ApplicationSpec, SystemSettings, JqCache)> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let spec: ApplicationSpec = serde_json::from_value(json!({
            "ignoreDifferences": [{"kind": "ConfigMap", "jqPathExpressions": [".data.ignored"]}]
        }))
        .unwrap_or_default();
        (spec, SystemSettings::default(), JqCache::new())
    })
}

/// The engine on one resource; returns the verdict as JSON.
fn inspect(kind: &str, live: Value) -> String {
    let (spec, system, jq) = engine();
    let group = if kind == "Deployment" { "apps" } else { "" };
    let mut r = mk_resource(group, kind, "ns", "web");
    r.status = Some("OutOfSync".into());
    let mut steps = 0u32;
    let mut budget = move || {
        steps += 1;
        steps > 20_000
    };
    let verdict = Inspector::new(spec, system, jq).with_secrets(true).inspect(
        &ResourceInput {
            resource: &r,
            live: LiveRead::Found(live),
            argocd: None,
        },
        &mut budget,
    );
    serde_json::to_string(&verdict).unwrap_or_default()
}

/// A live Deployment whose last-applied record is these bytes.
pub fn last_applied(data: &[u8]) {
    let live = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "ns",
                     "annotations": {"kubectl.kubernetes.io/last-applied-configuration": text(data)}},
        "spec": {"replicas": 3}
    });
    inspect("Deployment", live);
}

/// A jq program (first line) over a JSON document (the rest), under a step budget.
pub fn jq(data: &[u8]) {
    let split = data.iter().position(|&b| b == b'\n').unwrap_or(data.len());
    let program = text(&data[..split]);
    let input = json_or_string(data.get(split + 1..).unwrap_or_default());
    let (_, _, cache) = engine();
    let mut steps = 0u32;
    let mut budget = move || {
        steps += 1;
        steps > 20_000
    };
    let _ = cache.paths(&program, &input, &mut budget);
}

/// Sentinel Secret values the engine must never let out, in any encoding.
const SECRET_VALUES: &[&str] = &["fuzz-secret-value-1", "fuzz-secret-value-2"];

/// Arbitrary (desired, live) pairs: two JSON documents (split at the first NUL byte, or the
/// bytes as the live object's spec). The kind is chosen by the first byte; a Secret's values are
/// sentinels that must never appear in the verdict.
pub fn drift_engine(data: &[u8]) {
    let (head, rest) = data.split_first().map_or((0, data), |(h, r)| (*h, r));
    let kind = ["Deployment", "ConfigMap", "Secret", "Service"][usize::from(head % 4)];
    let split = rest.iter().position(|&b| b == 0);
    let (desired, live) = match split {
        Some(at) => (json_or_string(&rest[..at]), json_or_string(&rest[at + 1..])),
        None => (json!({}), json_or_string(rest)),
    };
    let as_object = |v: Value, role: &str| -> Value {
        let mut object = match v {
            Value::Object(map) => Value::Object(map),
            other => json!({"spec": other}),
        };
        object["apiVersion"] = json!(if kind == "Deployment" {
            "apps/v1"
        } else {
            "v1"
        });
        object["kind"] = json!(kind);
        object["metadata"] = json!({"name": "web", "namespace": "ns"});
        if kind == "Secret" {
            use base64_free::encode;
            let value = if role == "desired" {
                SECRET_VALUES[0]
            } else {
                SECRET_VALUES[1]
            };
            object["data"] = json!({"password": encode(value)});
        }
        object
    };
    let desired = as_object(desired, "desired");
    let mut live = as_object(live, "live");
    live["metadata"]["annotations"] =
        json!({"kubectl.kubernetes.io/last-applied-configuration": desired.to_string()});
    let verdict = inspect(kind, live);
    // The fuzzer may write a sentinel (or an encoding of it) into a field that is not Secret data
    // — a spec shown as it is: only a sentinel the input did not carry would be a leak.
    let input = String::from_utf8_lossy(data);
    if kind == "Secret" {
        for secret in SECRET_VALUES
            .iter()
            .filter(|s| drift_core::drift::secret::leak::find(&input, &[s]).is_none())
        {
            assert!(
                drift_core::drift::secret::leak::find(&verdict, &[secret]).is_none(),
                "a Secret value left the engine"
            );
        }
    }
}

/// Standard base64 without a dependency (the Secret sentinels only).
mod base64_free {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

    pub fn encode(text: &str) -> String {
        let bytes = text.as_bytes();
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let b = [
                chunk[0],
                chunk.get(1).copied().unwrap_or(0),
                chunk.get(2).copied().unwrap_or(0),
            ];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            for i in 0..4 {
                if i <= chunk.len() {
                    out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
                } else {
                    out.push('=');
                }
            }
        }
        out
    }
}
