//! The security log: one bounded `warn` line per refused request, under the target
//! `argocd_drift::security`, rate-limited per peer.
//!
//! Everything in a refusal that the client controls — claimed headers, the path, the reason
//! (which can quote a query value) — is cut to [`FIELD_CHARS`] characters with a marker, and
//! logged once as plain text (the JSON encoder escapes it once; nothing is `Debug`-escaped first).
//! So a line has a fixed upper bound whatever the request (see the test at the bottom), and a
//! client that repeats refusals cannot flood the log: each peer address gets [`BURST`] lines, then
//! one more every [`REFILL`]; the next line it gets says how many were suppressed. The rejection
//! metric counts every refusal, logged or not.

use http::HeaderMap;
use http::request::Parts;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

/// The most characters of any one client-controlled value a log line keeps.
pub const FIELD_CHARS: usize = 256;
/// What replaces the rest of a value that was cut.
pub const CUT_MARKER: &str = "…[cut]";
/// Security lines a peer may cause at once…
pub const BURST: u32 = 20;
/// …and then one more per this interval.
pub const REFILL: Duration = Duration::from_secs(1);
/// Peers remembered at once; past this, the table is cleared (every peer starts a fresh burst).
const MAX_PEERS: usize = 4096;

/// A value a client controls, cut for a log line: at most [`FIELD_CHARS`] characters from its
/// start (`tail = false`) or its end (`tail = true`, for headers proxies append to), control
/// characters replaced, and a marker where it was cut.
pub fn bounded(value: &str, tail: bool) -> String {
    let count = value.chars().count();
    let clean = |c: char| if c.is_control() { '\u{fffd}' } else { c };
    if count <= FIELD_CHARS {
        return value.chars().map(clean).collect();
    }
    if tail {
        let kept: String = value.chars().skip(count - FIELD_CHARS).map(clean).collect();
        format!("{CUT_MARKER}{kept}")
    } else {
        let kept: String = value.chars().take(FIELD_CHARS).map(clean).collect();
        format!("{kept}{CUT_MARKER}")
    }
}

/// Every value of a header, joined with `, ` (as a proxy would fold them), lossily decoded and
/// bounded; `None` if absent.
fn header(headers: &HeaderMap, name: &str, tail: bool) -> Option<String> {
    let mut values = headers.get_all(name).iter().peekable();
    values.peek()?;
    let joined = values
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .collect::<Vec<_>>()
        .join(", ");
    Some(bounded(&joined, tail))
}

/// Per-peer token buckets.
pub struct SecurityLog {
    peers: Mutex<HashMap<IpAddr, Bucket>>,
}

struct Bucket {
    tokens: u32,
    refilled: Instant,
    suppressed: u64,
}

impl Default for SecurityLog {
    fn default() -> Self {
        Self::new()
    }
}

impl SecurityLog {
    pub fn new() -> Self {
        SecurityLog {
            peers: Mutex::new(HashMap::new()),
        }
    }

    /// Logs one refusal, unless `peer` has used up its lines. `code` and `reason` come from the
    /// error; the reason is bounded here like any client-controlled value.
    pub fn refused(&self, code: &str, reason: &str, head: &Parts, peer: SocketAddr) {
        let Some(suppressed) = self.admit(peer.ip(), Instant::now()) else {
            return;
        };
        let headers = &head.headers;
        tracing::warn!(
            target: "argocd_drift::security",
            code,
            reason = %bounded(reason, false),
            user = header(headers, "argocd-username", false),
            user_id = header(headers, "argocd-user-id", false),
            app = header(headers, "argocd-application-name", false),
            project = header(headers, "argocd-project-name", false),
            %peer,
            // Every X-Forwarded-For line; proxies append, so the trustworthy end is kept.
            forwarded_for = header(headers, "x-forwarded-for", true),
            method = %head.method,
            path = %bounded(head.uri.path(), false),
            suppressed_before = suppressed,
            "request rejected",
        );
    }

    /// Takes a token for `ip`: `Some(lines suppressed since the last one logged)`, or `None`
    /// when this one must be suppressed.
    fn admit(&self, ip: IpAddr, now: Instant) -> Option<u64> {
        let mut peers = self
            .peers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if peers.len() >= MAX_PEERS && !peers.contains_key(&ip) {
            peers.clear();
        }
        let bucket = peers.entry(ip).or_insert(Bucket {
            tokens: BURST,
            refilled: now,
            suppressed: 0,
        });
        let earned = now.duration_since(bucket.refilled).as_nanos() / REFILL.as_nanos().max(1);
        if earned > 0 {
            let earned = u32::try_from(earned).unwrap_or(u32::MAX);
            bucket.tokens = bucket.tokens.saturating_add(earned).min(BURST);
            bucket.refilled = now;
        }
        if bucket.tokens == 0 {
            bucket.suppressed += 1;
            return None;
        }
        bucket.tokens -= 1;
        Some(std::mem::take(&mut bucket.suppressed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_values_are_cut_with_a_marker_and_short_ones_kept() {
        assert_eq!(bounded("argocd:guestbook", false), "argocd:guestbook");
        let long = "\\".repeat(60_000);
        let cut = bounded(&long, false);
        assert_eq!(
            cut.chars().count(),
            FIELD_CHARS + CUT_MARKER.chars().count()
        );
        assert!(cut.ends_with(CUT_MARKER));
        let forwarded = format!("{}, 203.0.113.7", "198.51.100.1, ".repeat(40));
        let tail = bounded(&forwarded, true);
        assert!(tail.starts_with(CUT_MARKER) && tail.ends_with("203.0.113.7"));
    }

    #[test]
    fn control_characters_never_reach_a_line() {
        assert_eq!(bounded("a\nb\u{1b}[31m", false), "a\u{fffd}b\u{fffd}[31m");
    }

    #[test]
    fn every_forwarded_for_line_is_kept_in_order() {
        let mut headers = HeaderMap::new();
        headers.append("x-forwarded-for", "198.51.100.1".parse().unwrap());
        headers.append("x-forwarded-for", "203.0.113.7".parse().unwrap());
        assert_eq!(
            header(&headers, "x-forwarded-for", true).as_deref(),
            Some("198.51.100.1, 203.0.113.7")
        );
        assert_eq!(header(&headers, "argocd-username", false), None);
    }

    #[test]
    fn a_peer_gets_a_burst_then_one_line_per_interval_and_learns_what_was_suppressed() {
        let log = SecurityLog::new();
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        let t0 = Instant::now();
        for _ in 0..BURST {
            assert_eq!(log.admit(a, t0), Some(0));
        }
        for _ in 0..5 {
            assert_eq!(log.admit(a, t0), None);
        }
        assert_eq!(log.admit(b, t0), Some(0), "another peer is not affected");
        assert_eq!(
            log.admit(a, t0 + REFILL),
            Some(5),
            "reports what it skipped"
        );
        assert_eq!(log.admit(a, t0 + REFILL), None);
    }
}
