//! Request bodies into [`Report`]s: one rule set, two bodies.
//!
//! - **compat** (`POST /api/status`): the old gitops-status-server's body. Fields it did not
//!   know are ignored, exactly as it ignored them, so every existing reporter keeps working.
//! - **v1** (`POST /api/v1/reports`): the same fields plus `application` (`namespace:name`) and
//!   per-file `state` (`changed`, `missing`, `extra`) and `diff`. Unknown fields are refused
//!   (`UNKNOWN_FIELD`): a new API can afford to catch typos.
//!
//! | field | rule |
//! |---|---|
//! | `repo` | required; 1–253 bytes; no `:` (it separates repo from server in the key), no control, format (Cf) or separator (Zl, Zp) characters |
//! | `server` | required; 1–253 bytes; no control, format or separator characters |
//! | `sync_status` | required; `SYNCED` or `OUT_OF_SYNC` |
//! | `drift_count` | required; an integer 0–2147483647; need not equal the number of files |
//! | `files` | optional (absent or `null` is `[]`); at most 1000 objects with a `name` of 1–1024 bytes |
//! | `last_check` | required; RFC 3339 with a `T` and an offset (`2026-04-21T10:32:15Z`), at most 300 s ahead of the server's clock |
//! | `application` | v1 only; optional; `namespace:name` with Kubernetes names |
//! | `files[].state` / `files[].diff` | v1 only; optional; a state above / a snippet of at most 16 KiB |
//!
//! All file names and diffs together may not exceed 512 KiB (`REPORT_TOO_LARGE`).
//!
//! Each violation is one [`ReportError`] naming the field (its message is what both APIs say).

use super::model::*;
use crate::api::ErrorCode;
use crate::app::AppKey;
use crate::names::{is_dns_label, is_dns_subdomain};
use jiff::{SignedDuration, Timestamp};
use serde_json::{Map, Value};

/// Which body a request carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    /// `POST /api/status`: the old fields; unknown fields ignored.
    Compat,
    /// `POST /api/v1/reports`: richer; unknown fields refused.
    V1,
}

/// Why a body is not a report. The message names the field.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReportError {
    /// Not JSON, or not a JSON object. The message is the old server's contract, word for word.
    #[error("Invalid JSON payload")]
    InvalidJson,
    #[error("{field} is required")]
    Missing { field: String },
    #[error("{field} {reason}")]
    Invalid { field: String, reason: String },
    #[error("unknown field {field}")]
    Unknown { field: String },
    #[error(
        "the report is too large: file names and diffs total {bytes} bytes, at most {MAX_REPORT_BYTES}"
    )]
    TooLarge { bytes: usize },
}

impl ReportError {
    /// The stable code on `/api/v1/*`.
    pub fn code(&self) -> ErrorCode {
        match self {
            ReportError::InvalidJson => ErrorCode::InvalidJson,
            ReportError::Missing { .. } => ErrorCode::MissingField,
            ReportError::Invalid { .. } => ErrorCode::InvalidField,
            ReportError::Unknown { .. } => ErrorCode::UnknownField,
            ReportError::TooLarge { .. } => ErrorCode::ReportTooLarge,
        }
    }

    /// A bounded metric label.
    pub fn reason(&self) -> &'static str {
        match self {
            ReportError::InvalidJson => "invalid_json",
            ReportError::Missing { .. } => "missing_field",
            ReportError::Invalid { .. } => "invalid_field",
            ReportError::Unknown { .. } => "unknown_field",
            ReportError::TooLarge { .. } => "too_large",
        }
    }

    fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        ReportError::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

const V1_FIELDS: &[&str] = &[
    "repo",
    "server",
    "sync_status",
    "drift_count",
    "files",
    "last_check",
    "application",
];
const V1_FILE_FIELDS: &[&str] = &["name", "state", "diff"];

/// Parses and validates a request body received at `now`.
pub fn parse_body(body: &[u8], flavor: Flavor, now: Timestamp) -> Result<Report, ReportError> {
    let value: Value = serde_json::from_slice(body).map_err(|_| ReportError::InvalidJson)?;
    let Value::Object(object) = value else {
        return Err(ReportError::InvalidJson);
    };
    parse_object(&object, flavor, now)
}

/// Validates a decoded JSON object.
pub fn parse_object(
    object: &Map<String, Value>,
    flavor: Flavor,
    now: Timestamp,
) -> Result<Report, ReportError> {
    if flavor == Flavor::V1
        && let Some(field) = object.keys().find(|k| !V1_FIELDS.contains(&k.as_str()))
    {
        return Err(ReportError::Unknown {
            field: field.clone(),
        });
    }
    let repo = key_part(object, "repo")?;
    if repo.contains(':') {
        return Err(ReportError::invalid("repo", "must not contain ':'"));
    }
    let server = key_part(object, "server")?;
    let sync_status = match required(object, "sync_status")? {
        Value::String(s) => SyncStatus::parse(s),
        _ => None,
    }
    .ok_or_else(|| ReportError::invalid("sync_status", "must be SYNCED or OUT_OF_SYNC"))?;
    let drift_count = required(object, "drift_count")?
        .as_u64()
        .filter(|n| *n <= MAX_DRIFT_COUNT)
        .ok_or_else(|| {
            ReportError::invalid(
                "drift_count",
                format!("must be an integer from 0 to {MAX_DRIFT_COUNT}"),
            )
        })?;
    let files = files(object.get("files"), flavor)?;
    let last_check = last_check(required(object, "last_check")?, "last_check", now)?;
    let application = match (flavor, object.get("application")) {
        (Flavor::V1, Some(Value::String(s))) => Some(
            parse_app(s)
                .ok_or_else(|| ReportError::invalid("application", "must be namespace:name"))?,
        ),
        (Flavor::V1, Some(Value::Null) | None) | (Flavor::Compat, _) => None,
        (Flavor::V1, Some(_)) => {
            return Err(ReportError::invalid(
                "application",
                "must be namespace:name",
            ));
        }
    };
    Ok(Report {
        key: ReportKey::new(repo, server),
        sync_status,
        drift_count,
        files,
        last_check,
        application,
    })
}

fn required<'a>(object: &'a Map<String, Value>, field: &str) -> Result<&'a Value, ReportError> {
    match object.get(field) {
        None | Some(Value::Null) => Err(ReportError::Missing {
            field: field.to_string(),
        }),
        Some(value) => Ok(value),
    }
}

fn key_part(object: &Map<String, Value>, field: &str) -> Result<String, ReportError> {
    let Value::String(s) = required(object, field)? else {
        return Err(ReportError::invalid(field, "must be a string"));
    };
    text(s, field, MAX_KEY_PART_BYTES)?;
    if s.chars().any(is_invisible) {
        return Err(ReportError::invalid(
            field,
            "must not contain format characters or line/paragraph separators (bidi controls, zero-width)",
        ));
    }
    Ok(s.clone())
}

/// Unicode general categories Cf (format: bidi controls such as U+202E, zero-width characters,
/// the BOM), Zl and Zp (U+2028, U+2029): invisible, or able to reorder or break what a person
/// reads next to them, so never part of a report's key.
pub fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}'
        | '\u{0600}'..='\u{0605}'
        | '\u{061C}'
        | '\u{06DD}'
        | '\u{070F}'
        | '\u{0890}'..='\u{0891}'
        | '\u{08E2}'
        | '\u{180E}'
        | '\u{200B}'..='\u{200F}'
        | '\u{2028}'..='\u{202E}'
        | '\u{2060}'..='\u{2064}'
        | '\u{2066}'..='\u{206F}'
        | '\u{FEFF}'
        | '\u{FFF9}'..='\u{FFFB}'
        | '\u{110BD}'
        | '\u{110CD}'
        | '\u{13430}'..='\u{1343F}'
        | '\u{1BCA0}'..='\u{1BCA3}'
        | '\u{1D173}'..='\u{1D17A}'
        | '\u{E0001}'
        | '\u{E0020}'..='\u{E007F}'
    )
}

/// A non-empty string of at most `max` bytes without control characters.
fn text(s: &str, field: &str, max: usize) -> Result<(), ReportError> {
    if s.is_empty() {
        return Err(ReportError::invalid(field, "must not be empty"));
    }
    if s.len() > max {
        return Err(ReportError::invalid(
            field,
            format!("must be at most {max} bytes"),
        ));
    }
    if s.chars().any(char::is_control) {
        return Err(ReportError::invalid(
            field,
            "must not contain control characters",
        ));
    }
    Ok(())
}

fn files(value: Option<&Value>, flavor: Flavor) -> Result<Vec<ReportFile>, ReportError> {
    let items = match value {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(items)) => items,
        Some(_) => return Err(ReportError::invalid("files", "must be an array")),
    };
    if items.len() > MAX_FILES {
        return Err(ReportError::invalid(
            "files",
            format!("must hold at most {MAX_FILES} entries"),
        ));
    }
    let mut total = 0usize;
    let mut files = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let Value::Object(file) = item else {
            return Err(ReportError::invalid(
                format!("files[{i}]"),
                "must be an object with a name",
            ));
        };
        if flavor == Flavor::V1
            && let Some(field) = file.keys().find(|k| !V1_FILE_FIELDS.contains(&k.as_str()))
        {
            return Err(ReportError::Unknown {
                field: format!("files[{i}].{field}"),
            });
        }
        let field = format!("files[{i}].name");
        let name = match file.get("name") {
            None | Some(Value::Null) => return Err(ReportError::Missing { field }),
            Some(Value::String(name)) => name,
            Some(_) => return Err(ReportError::invalid(field, "must be a string")),
        };
        text(name, &field, MAX_FILE_NAME_BYTES)?;
        let (state, diff) = match flavor {
            Flavor::Compat => (None, None),
            Flavor::V1 => (file_state(file, i)?, file_diff(file, i)?),
        };
        total += name.len() + diff.as_ref().map_or(0, String::len);
        files.push(ReportFile {
            name: name.clone(),
            state,
            diff,
        });
    }
    if total > MAX_REPORT_BYTES {
        return Err(ReportError::TooLarge { bytes: total });
    }
    Ok(files)
}

fn file_state(file: &Map<String, Value>, i: usize) -> Result<Option<FileState>, ReportError> {
    match file.get("state") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if FileState::parse(s).is_some() => Ok(FileState::parse(s)),
        Some(_) => Err(ReportError::invalid(
            format!("files[{i}].state"),
            "must be changed, missing or extra",
        )),
    }
}

fn file_diff(file: &Map<String, Value>, i: usize) -> Result<Option<String>, ReportError> {
    match file.get("diff") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.len() <= MAX_DIFF_BYTES => Ok(Some(s.clone())),
        Some(Value::String(_)) => Err(ReportError::invalid(
            format!("files[{i}].diff"),
            format!("must be at most {MAX_DIFF_BYTES} bytes"),
        )),
        Some(_) => Err(ReportError::invalid(
            format!("files[{i}].diff"),
            "must be a string",
        )),
    }
}

/// A `last_check` value: RFC 3339, not too far ahead of `now`.
pub fn last_check(value: &Value, field: &str, now: Timestamp) -> Result<LastCheck, ReportError> {
    let invalid = || {
        ReportError::invalid(
            field,
            "must be an RFC 3339 time such as 2026-04-21T10:32:15Z",
        )
    };
    let Value::String(text) = value else {
        return Err(invalid());
    };
    let at = parse_rfc3339(text).ok_or_else(invalid)?;
    if at.duration_since(now) > SignedDuration::from_secs(MAX_FUTURE_SKEW_SECONDS) {
        return Err(ReportError::invalid(
            field,
            format!("is more than {MAX_FUTURE_SKEW_SECONDS} s in the future"),
        ));
    }
    Ok(LastCheck {
        text: text.clone(),
        at,
    })
}

/// RFC 3339 `date-time`, strictly: `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` (`t` and `z` may
/// be lowercase). Stricter than jiff alone, which also takes a space for `T`: the API server's
/// `format: date-time` does not, and what is accepted here must be storable there.
pub fn parse_rfc3339(text: &str) -> Option<Timestamp> {
    let b = text.as_bytes();
    if b.len() < 20 || b.len() > MAX_LAST_CHECK_LEN {
        return None;
    }
    let digits = |range: std::ops::Range<usize>| b[range].iter().all(u8::is_ascii_digit);
    let shape = digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && matches!(b[10], b'T' | b't')
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19);
    if !shape {
        return None;
    }
    let mut rest = &b[19..];
    if let Some(fraction) = rest.strip_prefix(b".") {
        let n = fraction.iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 || n > 9 {
            return None;
        }
        rest = &fraction[n..];
    }
    let offset_ok = match rest {
        [b'Z' | b'z'] => true,
        [b'+' | b'-', h1, h2, b':', m1, m2] => [h1, h2, m1, m2].iter().all(|c| c.is_ascii_digit()),
        _ => false,
    };
    if !offset_ok {
        return None;
    }
    text.parse::<Timestamp>().ok()
}

/// `namespace:name` of an Application, with Kubernetes names.
pub fn parse_app(s: &str) -> Option<AppKey> {
    let (namespace, name) = s.split_once(':')?;
    (is_dns_label(namespace) && is_dns_subdomain(name)).then(|| AppKey::new(namespace, name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn now() -> Timestamp {
        "2026-04-21T12:00:00Z".parse().unwrap()
    }

    const EXAMPLE: &str = r#"{"repo":"rsyslog","server":"rsyslog-lab","sync_status":"OUT_OF_SYNC","drift_count":2,
 "files":[{"name":"rsyslog.conf"},{"name":"rsyslog.d/30-lab.conf"}],"last_check":"2026-04-21T10:32:15Z"}"#;

    fn compat(value: serde_json::Value) -> Result<Report, ReportError> {
        parse_body(value.to_string().as_bytes(), Flavor::Compat, now())
    }

    fn v1(value: serde_json::Value) -> Result<Report, ReportError> {
        parse_body(value.to_string().as_bytes(), Flavor::V1, now())
    }

    fn base() -> serde_json::Value {
        serde_json::from_str(EXAMPLE).unwrap()
    }

    fn with(field: &str, value: serde_json::Value) -> serde_json::Value {
        let mut body = base();
        body[field] = value;
        body
    }

    fn without(field: &str) -> serde_json::Value {
        let mut body = base();
        body.as_object_mut().unwrap().remove(field);
        body
    }

    #[test]
    fn the_contract_example_is_a_report() {
        let report = parse_body(EXAMPLE.as_bytes(), Flavor::Compat, now()).unwrap();
        assert_eq!(report.key, ReportKey::new("rsyslog", "rsyslog-lab"));
        assert_eq!(report.key.to_string(), "rsyslog:rsyslog-lab");
        assert_eq!(report.sync_status, SyncStatus::OutOfSync);
        assert_eq!(report.drift_count, 2);
        assert_eq!(
            report.files,
            vec![
                ReportFile::named("rsyslog.conf"),
                ReportFile::named("rsyslog.d/30-lab.conf")
            ]
        );
        assert_eq!(report.last_check.text, "2026-04-21T10:32:15Z");
        assert_eq!(report.application, None);
    }

    #[test]
    fn anything_but_a_json_object_is_invalid_json() {
        for body in ["", "{", "[]", "\"x\"", "null", "{\"repo\":}", "{} trailing"] {
            let err = parse_body(body.as_bytes(), Flavor::Compat, now()).unwrap_err();
            assert_eq!(err, ReportError::InvalidJson, "{body:?}");
            assert_eq!(err.to_string(), "Invalid JSON payload");
        }
    }

    #[test]
    fn each_required_field_is_named_when_missing_or_null() {
        for field in ["repo", "server", "sync_status", "drift_count", "last_check"] {
            for body in [without(field), with(field, json!(null))] {
                let err = compat(body).unwrap_err();
                assert_eq!(err.to_string(), format!("{field} is required"));
                assert_eq!(err.code(), "MISSING_FIELD");
            }
        }
    }

    #[test]
    fn files_may_be_absent_or_null_and_then_are_empty() {
        assert!(compat(without("files")).unwrap().files.is_empty());
        assert!(compat(with("files", json!(null))).unwrap().files.is_empty());
    }

    #[test]
    fn every_violation_names_its_field() {
        let cases = [
            (with("repo", json!("")), "repo must not be empty"),
            (with("repo", json!(7)), "repo must be a string"),
            (with("repo", json!("a:b")), "repo must not contain ':'"),
            (
                with("repo", json!("x".repeat(254))),
                "repo must be at most 253 bytes",
            ),
            (
                with("server", json!("a\nb")),
                "server must not contain control characters",
            ),
            (
                with("sync_status", json!("synced")),
                "sync_status must be SYNCED or OUT_OF_SYNC",
            ),
            (
                with("sync_status", json!(1)),
                "sync_status must be SYNCED or OUT_OF_SYNC",
            ),
            (
                with("drift_count", json!(-1)),
                "drift_count must be an integer from 0 to 2147483647",
            ),
            (
                with("drift_count", json!(1.5)),
                "drift_count must be an integer from 0 to 2147483647",
            ),
            (
                with("drift_count", json!("2")),
                "drift_count must be an integer from 0 to 2147483647",
            ),
            (
                with("drift_count", json!(2147483648u64)),
                "drift_count must be an integer from 0 to 2147483647",
            ),
            (with("files", json!({})), "files must be an array"),
            (
                with("files", json!(["a.conf"])),
                "files[0] must be an object with a name",
            ),
            (
                with("files", json!([{"name": "a"}, {}])),
                "files[1].name is required",
            ),
            (
                with("files", json!([{"name": ""}])),
                "files[0].name must not be empty",
            ),
            (
                with("files", json!([{"name": "x".repeat(1025)}])),
                "files[0].name must be at most 1024 bytes",
            ),
            (
                with("files", json!(vec![json!({"name": "f"}); 1001])),
                "files must hold at most 1000 entries",
            ),
            (
                with("last_check", json!("yesterday")),
                "last_check must be an RFC 3339 time such as 2026-04-21T10:32:15Z",
            ),
            (
                with("last_check", json!("2026-04-21 10:32:15Z")),
                "last_check must be an RFC 3339 time such as 2026-04-21T10:32:15Z",
            ),
            (
                with("last_check", json!("2026-04-21T10:32:15")),
                "last_check must be an RFC 3339 time such as 2026-04-21T10:32:15Z",
            ),
            (
                with("last_check", json!("2026-13-21T10:32:15Z")),
                "last_check must be an RFC 3339 time such as 2026-04-21T10:32:15Z",
            ),
            (
                with("last_check", json!(1776767535)),
                "last_check must be an RFC 3339 time such as 2026-04-21T10:32:15Z",
            ),
            (
                with("last_check", json!("2026-04-21T12:05:01Z")),
                "last_check is more than 300 s in the future",
            ),
        ];
        for (body, message) in cases {
            let err = compat(body.clone()).unwrap_err();
            assert_eq!(err.to_string(), message, "{body}");
            assert_ne!(err.code(), "INVALID_JSON");
        }
    }

    #[test]
    fn a_small_clock_skew_is_tolerated() {
        let report = compat(with("last_check", json!("2026-04-21T12:05:00Z"))).unwrap();
        assert_eq!(
            report.last_check.at,
            "2026-04-21T12:05:00Z".parse().unwrap()
        );
        let offset = compat(with("last_check", json!("2026-04-21T14:04:59+02:00"))).unwrap();
        assert_eq!(offset.last_check.text, "2026-04-21T14:04:59+02:00");
        let lower = compat(with("last_check", json!("2026-04-21t10:32:15.123z"))).unwrap();
        assert_eq!(lower.last_check.at.subsec_millisecond(), 123);
    }

    #[test]
    fn compat_ignores_what_the_old_server_ignored_and_v1_refuses_it() {
        let body = with("hostname", json!("lab-1"));
        assert!(compat(body.clone()).is_ok());
        let err = v1(body).unwrap_err();
        assert_eq!(err.code(), "UNKNOWN_FIELD");
        assert_eq!(err.to_string(), "unknown field hostname");
        let file_extra = with("files", json!([{"name": "a", "mode": "0644"}]));
        assert!(compat(file_extra.clone()).is_ok());
        assert_eq!(
            v1(file_extra).unwrap_err().to_string(),
            "unknown field files[0].mode"
        );
        // The richer fields are not part of the old contract: compat ignores them.
        let richer = with("application", json!("argocd:rsyslog"));
        assert_eq!(compat(richer).unwrap().application, None);
    }

    #[test]
    fn v1_adds_the_application_and_per_file_detail() {
        let mut body = with("application", json!("argocd:rsyslog"));
        body["files"] = json!([
            {"name": "rsyslog.conf", "state": "changed", "diff": "-a\n+b"},
            {"name": "rsyslog.d/30-lab.conf", "state": "missing"}
        ]);
        let report = v1(body).unwrap();
        assert_eq!(report.application, Some(AppKey::new("argocd", "rsyslog")));
        assert_eq!(report.files[0].state, Some(FileState::Changed));
        assert_eq!(report.files[0].diff.as_deref(), Some("-a\n+b"));
        assert_eq!(report.files[1].diff, None);

        for (body, message) in [
            (
                with("application", json!("rsyslog")),
                "application must be namespace:name",
            ),
            (
                with("application", json!("Argo:x")),
                "application must be namespace:name",
            ),
            (
                with("files", json!([{"name": "a", "state": "gone"}])),
                "files[0].state must be changed, missing or extra",
            ),
            (
                with(
                    "files",
                    json!([{"name": "a", "diff": "x".repeat(16 * 1024 + 1)}]),
                ),
                "files[0].diff must be at most 16384 bytes",
            ),
        ] {
            assert_eq!(v1(body).unwrap_err().to_string(), message);
        }
    }

    #[test]
    fn the_whole_report_is_capped() {
        let diff = "x".repeat(MAX_DIFF_BYTES);
        let files: Vec<_> = (0..40)
            .map(|i| json!({"name": format!("f{i}"), "diff": diff}))
            .collect();
        let err = v1(with("files", json!(files))).unwrap_err();
        assert_eq!(err.code(), "REPORT_TOO_LARGE");
    }

    #[test]
    fn same_content_ignores_only_the_time() {
        let a = compat(base()).unwrap();
        let b = compat(with("last_check", json!("2026-04-21T11:00:00Z"))).unwrap();
        assert!(a.same_content(&b));
        let c = compat(with("drift_count", json!(3))).unwrap();
        assert!(!a.same_content(&c));
        let d = compat(with("files", json!([{"name": "rsyslog.conf"}]))).unwrap();
        assert!(!a.same_content(&d));
    }

    proptest! {
        #[test]
        fn any_body_is_a_report_or_one_documented_error(body in proptest::collection::vec(any::<u8>(), 0..200)) {
            for flavor in [Flavor::Compat, Flavor::V1] {
                if let Err(e) = parse_body(&body, flavor, now()) {
                    prop_assert!(["INVALID_JSON", "MISSING_FIELD", "INVALID_FIELD", "UNKNOWN_FIELD", "REPORT_TOO_LARGE"].contains(&e.code().as_str()));
                }
            }
        }

        #[test]
        fn any_valid_report_round_trips_through_its_fields(
            repo in "[a-zA-Z0-9._/ -]{1,40}",
            server in "[a-zA-Z0-9._:-]{1,40}",
            drift in 0u64..=MAX_DRIFT_COUNT,
            names in proptest::collection::vec("[a-z0-9./_-]{1,30}", 0..20),
            secs in 0i64..1_000_000_000,
        ) {
            let at = Timestamp::from_second(secs).unwrap();
            let files: Vec<_> = names.iter().map(|n| json!({"name": n})).collect();
            let body = json!({"repo": repo, "server": server, "sync_status": "SYNCED",
                "drift_count": drift, "files": files, "last_check": at.to_string()});
            let report = compat(body).unwrap();
            prop_assert_eq!(report.key, ReportKey::new(repo, server));
            prop_assert_eq!(report.drift_count, drift);
            prop_assert_eq!(report.files.len(), names.len());
            prop_assert_eq!(report.last_check.at, at);
        }

        #[test]
        fn rfc3339_parsing_never_accepts_what_jiff_rejects(s in "\\PC{0,40}") {
            if let Some(at) = parse_rfc3339(&s) {
                prop_assert_eq!(s.parse::<Timestamp>().ok(), Some(at));
            }
        }
    }

    #[test]
    fn invisible_characters_are_refused_in_repo_and_server() {
        let now: Timestamp = "2026-04-21T12:00:00Z".parse().unwrap();
        for (field, value) in [
            ("repo", "rsyslog\u{202E}gol"),
            ("repo", "rsys\u{200B}log"),
            ("server", "lab\u{2028}"),
            ("server", "\u{2029}lab"),
            ("server", "\u{FEFF}lab"),
            ("server", "lab\u{2066}"),
        ] {
            let mut body = serde_json::json!({"repo": "rsyslog", "server": "lab",
                "sync_status": "SYNCED", "drift_count": 0, "last_check": "2026-04-21T10:00:00Z"});
            body[field] = value.into();
            let err = parse_body(body.to_string().as_bytes(), Flavor::Compat, now).unwrap_err();
            assert_eq!(err.code(), "INVALID_FIELD", "{field} {value:?}");
            assert!(err.to_string().starts_with(field), "{err}");
        }
        // Letters of any script are fine.
        let body = serde_json::json!({"repo": "конфиг-日本", "server": "λ-1",
            "sync_status": "SYNCED", "drift_count": 0, "last_check": "2026-04-21T10:00:00Z"});
        assert!(parse_body(body.to_string().as_bytes(), Flavor::Compat, now).is_ok());
    }
}
