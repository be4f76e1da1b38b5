//! The `DriftReport` custom resource (`argocd-drift.io/v1alpha1`): one per `repo:server`, in the
//! backend's namespace.
//!
//! ```yaml
//! apiVersion: argocd-drift.io/v1alpha1
//! kind: DriftReport
//! metadata:
//!   name: rsyslog.rsyslog-lab-7kq3c2mxa5f4e     # name_for(key): readable slug + hash of the key
//! spec:                                        # the report, as the reporter sent it
//!   repo: rsyslog
//!   server: rsyslog-lab
//!   syncStatus: OUT_OF_SYNC
//!   driftCount: 2
//!   files: [{name: rsyslog.conf, state: changed, diff: "…"}, {name: rsyslog.d/30-lab.conf}]
//!   lastCheck: "2026-04-21T10:32:15Z"
//!   application: argocd:rsyslog                # optional
//! status:
//!   updatedAt: "2026-04-21T10:32:16Z"          # when a backend last accepted it
//! ```
//!
//! The key is in the spec (`repo`, `server`); the name is derived from it but is not the key:
//! anyone may create a report under any name (`kubectl apply`), and it is read by its spec.
//! `status` is a plain field (the CRD has no status subresource): the object is a record the
//! backend writes whole.

use super::model::*;
use super::parse::{self, parse_app};
use crate::app::AppKey;
use jiff::Timestamp;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

pub const KIND: &str = "DriftReport";
pub const PLURAL: &str = "driftreports";

/// The longest slug of `repo` and of `server` in a name.
const SLUG_MAX: usize = 60;
/// Base32 characters of the key's hash in a name (65 bits).
const HASH_LEN: usize = 13;

/// The object name for a key: `<repo slug>.<server slug>-<hash>`, a DNS subdomain of at most
/// 135 characters whatever the key. Slugs keep what is readable (lowercase letters, digits, `-`;
/// everything else becomes `-`); the hash is of the exact key, so keys that slug alike
/// (`Rsyslog`, `rsyslog`) still get different names.
pub fn name_for(key: &ReportKey) -> String {
    let mut hasher = Sha256::new();
    hasher.update(key.repo.as_bytes());
    hasher.update([0u8]);
    hasher.update(key.server.as_bytes());
    let digest = hasher.finalize();
    format!(
        "{}.{}-{}",
        slug(&key.repo),
        slug(&key.server),
        base32(&digest[..9], HASH_LEN)
    )
}

fn slug(s: &str) -> String {
    let mut out = String::with_capacity(s.len().min(SLUG_MAX));
    for c in s.chars() {
        let c = c.to_ascii_lowercase();
        let c = if c.is_ascii_lowercase() || c.is_ascii_digit() {
            c
        } else {
            '-'
        };
        if !(c == '-' && (out.is_empty() || out.ends_with('-'))) {
            out.push(c);
        }
        if out.len() >= SLUG_MAX {
            break;
        }
    }
    while out.ends_with('-') {
        out.pop();
    }
    if out.is_empty() {
        out.push('x');
    }
    out
}

/// Lowercase RFC 4648 base32 (letters and 2–7: valid in DNS names), `len` characters.
fn base32(bytes: &[u8], len: usize) -> String {
    const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
    let mut out = String::with_capacity(len);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &byte in bytes {
        buffer = (buffer << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 && out.len() < len {
            bits -= 5;
            out.push(ALPHABET[((buffer >> bits) & 31) as usize] as char);
        }
    }
    out
}

/// The object (without `apiVersion`, `kind` and namespace, which the cluster layer fills in) for
/// `report`, named `name`, at `resource_version` (`None` for a create).
pub fn to_object(
    name: &str,
    resource_version: Option<&str>,
    stored: &StoredReport,
) -> serde_json::Value {
    let report = &stored.report;
    let files: Vec<Value> = report
        .files
        .iter()
        .map(|f| {
            let mut file = Map::new();
            file.insert("name".into(), f.name.clone().into());
            if let Some(state) = f.state {
                file.insert("state".into(), state.as_str().into());
            }
            if let Some(diff) = &f.diff {
                file.insert("diff".into(), diff.clone().into());
            }
            Value::Object(file)
        })
        .collect();
    let mut spec = json!({
        "repo": report.key.repo,
        "server": report.key.server,
        "syncStatus": report.sync_status.as_str(),
        "driftCount": report.drift_count,
        "files": files,
        "lastCheck": report.last_check.text,
    });
    if let Some(app) = &report.application {
        spec["application"] = app.to_string().into();
    }
    let mut metadata = json!({
        "name": name,
        "labels": {"app.kubernetes.io/managed-by": "argocd-drift"},
    });
    if let Some(rv) = resource_version {
        metadata["resourceVersion"] = rv.into();
    }
    let mut object = json!({"metadata": metadata, "spec": spec});
    let mut status = Map::new();
    if let Some(at) = stored.updated_at {
        status.insert("updatedAt".into(), at.to_string().into());
    }
    if let Some(reporter) = &stored.reporter {
        status.insert("reporter".into(), reporter.clone().into());
    }
    if !status.is_empty() {
        object["status"] = Value::Object(status);
    }
    object
}

/// Whether `name` can be a reporter's name (the token file's rule).
pub fn is_reporter_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// Why a stored object is not a report (one created directly with a bad spec, say).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("spec.{field}: {reason}")]
pub struct ObjectError {
    pub field: &'static str,
    pub reason: String,
}

fn bad(field: &'static str, reason: impl Into<String>) -> ObjectError {
    ObjectError {
        field,
        reason: reason.into(),
    }
}

/// The report an object holds. The same bounds as a request, except time: a stored
/// `lastCheck` is history, not a claim about now.
pub fn from_object(object: &Value) -> Result<StoredReport, ObjectError> {
    let spec = object
        .get("spec")
        .and_then(Value::as_object)
        .ok_or_else(|| bad("spec", "missing"))?;
    let text = |field: &'static str| -> Result<String, ObjectError> {
        match spec.get(field) {
            Some(Value::String(s))
                if !s.is_empty()
                    && s.len() <= MAX_KEY_PART_BYTES
                    && !s.chars().any(|c| c.is_control() || parse::is_invisible(c)) =>
            {
                Ok(s.clone())
            }
            _ => Err(bad(
                field,
                "must be a non-empty string of at most 253 bytes",
            )),
        }
    };
    let repo = text("repo")?;
    if repo.contains(':') {
        return Err(bad("repo", "must not contain ':'"));
    }
    let server = text("server")?;
    let sync_status = spec
        .get("syncStatus")
        .and_then(Value::as_str)
        .and_then(SyncStatus::parse)
        .ok_or_else(|| bad("syncStatus", "must be SYNCED or OUT_OF_SYNC"))?;
    let drift_count = spec
        .get("driftCount")
        .and_then(Value::as_u64)
        .filter(|n| *n <= MAX_DRIFT_COUNT)
        .ok_or_else(|| bad("driftCount", "must be a non-negative integer"))?;
    let last_check_text = spec
        .get("lastCheck")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("lastCheck", "missing"))?;
    let last_check = LastCheck {
        text: last_check_text.to_string(),
        at: parse::parse_rfc3339(last_check_text)
            .ok_or_else(|| bad("lastCheck", "must be an RFC 3339 time"))?,
    };
    let files = match spec.get("files") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) if items.len() <= MAX_FILES => {
            items.iter().map(file_from).collect::<Result<Vec<_>, _>>()?
        }
        Some(_) => return Err(bad("files", "must be a list of at most 1000 files")),
    };
    let application: Option<AppKey> = match spec.get("application") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => {
            Some(parse_app(s).ok_or_else(|| bad("application", "must be namespace:name"))?)
        }
        Some(_) => return Err(bad("application", "must be namespace:name")),
    };
    let updated_at = object
        .pointer("/status/updatedAt")
        .and_then(Value::as_str)
        .and_then(|s| s.parse::<Timestamp>().ok());
    let reporter = object
        .pointer("/status/reporter")
        .and_then(Value::as_str)
        .filter(|name| is_reporter_name(name))
        .map(str::to_string);
    Ok(StoredReport {
        report: Report {
            key: ReportKey::new(repo, server),
            sync_status,
            drift_count,
            files,
            last_check,
            application,
        },
        updated_at,
        reporter,
    })
}

fn file_from(value: &Value) -> Result<ReportFile, ObjectError> {
    let name = value
        .get("name")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty() && n.len() <= MAX_FILE_NAME_BYTES)
        .ok_or_else(|| bad("files", "every file needs a name of 1-1024 bytes"))?;
    let state = match value.get("state") {
        None | Some(Value::Null) => None,
        Some(s) => Some(
            s.as_str()
                .and_then(FileState::parse)
                .ok_or_else(|| bad("files", "state must be changed, missing or extra"))?,
        ),
    };
    let diff = match value.get("diff") {
        None | Some(Value::Null) => None,
        Some(Value::String(d)) if d.len() <= MAX_DIFF_BYTES => Some(d.clone()),
        Some(_) => return Err(bad("files", "diff must be a string of at most 16 KiB")),
    };
    Ok(ReportFile {
        name: name.to_string(),
        state,
        diff,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::names::is_dns_subdomain;
    use crate::reports::parse::{Flavor, parse_body};
    use proptest::prelude::*;

    #[test]
    fn names_are_readable_and_distinct_for_keys_that_slug_alike() {
        let a = name_for(&ReportKey::new("rsyslog", "rsyslog-lab"));
        assert!(a.starts_with("rsyslog.rsyslog-lab-"), "{a}");
        assert_eq!(a.len(), "rsyslog.rsyslog-lab-".len() + HASH_LEN);
        let b = name_for(&ReportKey::new("Rsyslog", "rsyslog-lab"));
        assert_ne!(a, b);
        assert_eq!(a, name_for(&ReportKey::new("rsyslog", "rsyslog-lab")));
        let odd = name_for(&ReportKey::new("__/", "ÄÖ host:514"));
        assert!(odd.starts_with("x.host-514-"), "{odd}");
    }

    #[test]
    fn the_separator_cannot_be_forged_across_repo_and_server() {
        assert_ne!(
            name_for(&ReportKey::new("a.b", "c")),
            name_for(&ReportKey::new("a", "b.c"))
        );
    }

    proptest! {
        #[test]
        fn every_key_gets_a_valid_bounded_name(repo in "\\PC{1,253}", server in "\\PC{1,253}") {
            let name = name_for(&ReportKey::new(repo, server));
            prop_assert!(is_dns_subdomain(&name), "{}", name);
            prop_assert!(name.len() <= 2 * SLUG_MAX + 2 + HASH_LEN);
        }
    }

    #[test]
    fn an_object_round_trips_to_the_same_report() {
        let now: Timestamp = "2026-04-21T12:00:00Z".parse().unwrap();
        let body =
            br#"{"repo":"rsyslog","server":"lab","sync_status":"OUT_OF_SYNC","drift_count":2,
            "files":[{"name":"a.conf","state":"changed","diff":"-x\n+y"},{"name":"b.conf"}],
            "last_check":"2026-04-21T10:32:15+02:00","application":"argocd:rsyslog"}"#;
        let report = parse_body(body, Flavor::V1, now).unwrap();
        let stored = StoredReport {
            report,
            updated_at: Some(now),
            reporter: Some("rsyslog-checker".into()),
        };
        let object = to_object("rsyslog.lab-x", Some("42"), &stored);
        assert_eq!(object["status"]["reporter"], "rsyslog-checker");
        assert_eq!(object["metadata"]["resourceVersion"], "42");
        assert_eq!(object["spec"]["syncStatus"], "OUT_OF_SYNC");
        assert_eq!(object["spec"]["files"][1], json!({"name": "b.conf"}));
        assert_eq!(object["status"]["updatedAt"], "2026-04-21T12:00:00Z");
        assert_eq!(from_object(&object).unwrap(), stored);
    }

    #[test]
    fn an_object_created_directly_needs_only_the_spec() {
        let object = json!({"spec": {"repo": "nginx", "server": "web-1", "syncStatus": "SYNCED",
            "driftCount": 0, "lastCheck": "2026-04-21T10:00:00Z"}});
        let stored = from_object(&object).unwrap();
        assert_eq!(stored.updated_at, None);
        assert_eq!(
            stored.refreshed_at(),
            "2026-04-21T10:00:00Z".parse().unwrap()
        );
        assert!(stored.report.files.is_empty());
    }

    #[test]
    fn a_bad_object_names_the_field() {
        for (spec, field) in [
            (json!({}), "repo"),
            (json!({"repo": "a:b", "server": "s"}), "repo"),
            (
                json!({"repo": "a", "server": "s", "syncStatus": "MAYBE"}),
                "syncStatus",
            ),
            (
                json!({"repo": "a", "server": "s", "syncStatus": "SYNCED", "driftCount": -1}),
                "driftCount",
            ),
            (
                json!({"repo": "a", "server": "s", "syncStatus": "SYNCED", "driftCount": 0, "lastCheck": "now"}),
                "lastCheck",
            ),
        ] {
            assert_eq!(
                from_object(&json!({"spec": spec})).unwrap_err().field,
                field
            );
        }
    }
}
