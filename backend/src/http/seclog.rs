//! The security log: one bounded `warn` line per refused request, under the target
//! `argocd_drift::security`, rate-limited per (peer, claimed user, code).
//!
//! Everything in a refusal that the client controls — claimed headers, the path, the reason
//! (which can quote a query value) — is cut to [`FIELD_CHARS`] characters with a marker, and
//! logged once as plain text (the JSON encoder escapes it once; nothing is `Debug`-escaped first).
//! So a line has a fixed upper bound whatever the request (see the test at the bottom), and a
//! client that repeats refusals cannot flood the log, nor hide anyone else's:
//!
//! - the budget is kept per key, `(peer address, claimed user, code)`: behind Argo CD every user
//!   shares argocd-server's address, so one user's refusals cannot use up another's. A key gets
//!   [`BURST`] lines, then one more every [`REFILL`]; its next line says how many were skipped;
//! - the first refusal of a key in a [`WINDOW`] is always logged — from a budget of its own, so a
//!   flood of repeated refusals cannot hide a new one — but one peer may open at most
//!   [`NEW_KEYS_PER_PEER`] keys a window that way (claimed users are the client's to invent);
//! - every other line also needs the global budget ([`GLOBAL_BURST`], [`GLOBAL_PER_SECOND`]);
//! - once a window, the next refusal brings a summary line of what was suppressed, by code;
//! - at most [`MAX_KEYS`] keys are remembered; the least recently used is forgotten (never all of
//!   them, which would hand every key a fresh burst).
//!
//! The rejection metric counts every refusal, logged or not.

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
/// Security lines one key may cause at once…
pub const BURST: u32 = 20;
/// …and then one more per this interval.
pub const REFILL: Duration = Duration::from_secs(1);
/// How long a key's first refusal stays "first", and how often a summary is written.
pub const WINDOW: Duration = Duration::from_secs(60);
/// Keys one peer may open per window with an always-logged first line.
pub const NEW_KEYS_PER_PEER: u32 = 20;
/// Lines past the keys' own budgets, in all: at once…
pub const GLOBAL_BURST: u32 = 200;
/// …and then this many per second.
pub const GLOBAL_PER_SECOND: u32 = 50;
/// First lines of keys, in all, per window (the flood of new keys from many peers).
pub const FIRST_LINES_PER_WINDOW: u32 = 600;
/// Keys remembered at once; past this, the least recently used is forgotten.
pub const MAX_KEYS: usize = 4096;

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

/// `(peer address, claimed user, code)`.
type Key = (IpAddr, Option<String>, String);

/// Budgets of the security log. One per listener.
pub struct SecurityLog {
    state: Mutex<State>,
}

struct State {
    keys: HashMap<Key, Bucket>,
    /// Per peer: keys opened with a first line in the current window, and when it began.
    new_keys: HashMap<IpAddr, (u32, Instant)>,
    global: Bucket,
    first_lines: (u32, Instant),
    /// Refusals not logged since the last summary, by code.
    suppressed: HashMap<String, u64>,
    summarized: Instant,
}

struct Bucket {
    tokens: u32,
    refilled: Instant,
    /// When this key was last used (for forgetting the least recently used).
    used: Instant,
    /// When this key last had a line logged.
    logged: Option<Instant>,
    suppressed: u64,
}

impl Bucket {
    fn new(tokens: u32, now: Instant) -> Self {
        Bucket {
            tokens,
            refilled: now,
            used: now,
            logged: None,
            suppressed: 0,
        }
    }

    /// Adds what `every` earned since the last refill, up to `max`; takes one if any.
    fn take(&mut self, now: Instant, every: Duration, max: u32) -> bool {
        let earned =
            now.saturating_duration_since(self.refilled).as_nanos() / every.as_nanos().max(1);
        if earned > 0 {
            let earned = u32::try_from(earned).unwrap_or(u32::MAX);
            self.tokens = self.tokens.saturating_add(earned).min(max);
            self.refilled = now;
        }
        if self.tokens == 0 {
            return false;
        }
        self.tokens -= 1;
        true
    }
}

/// What to do with one refusal.
#[derive(Debug, Default, PartialEq, Eq)]
struct Decision {
    /// `Some(lines of this key skipped since its last line)`: log it.
    log: Option<u64>,
    /// A summary is due: refusals suppressed since the last one, by code.
    summary: Option<Vec<(String, u64)>>,
}

impl Default for SecurityLog {
    fn default() -> Self {
        Self::new()
    }
}

impl SecurityLog {
    pub fn new() -> Self {
        let now = Instant::now();
        SecurityLog {
            state: Mutex::new(State {
                keys: HashMap::new(),
                new_keys: HashMap::new(),
                global: Bucket::new(GLOBAL_BURST, now),
                first_lines: (0, now),
                suppressed: HashMap::new(),
                summarized: now,
            }),
        }
    }

    /// Entries held: refusal keys, peers opening keys, codes with suppressed lines.
    pub fn held(&self) -> [(&'static str, usize); 3] {
        let state = self
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        [
            ("security_log_keys", state.keys.len()),
            ("security_log_new_key_peers", state.new_keys.len()),
            ("security_log_suppressed_codes", state.suppressed.len()),
        ]
    }

    /// Logs one refusal, unless its budgets are used up. `code` and `reason` come from the
    /// error; the reason is bounded here like any client-controlled value.
    pub fn refused(&self, code: &str, reason: &str, head: &Parts, peer: SocketAddr) {
        let headers = &head.headers;
        let user_id = header(headers, "argocd-user-id", false);
        let user = header(headers, "argocd-username", false);
        let claimed = user_id.clone().or_else(|| user.clone());
        let decision = self.admit((peer.ip(), claimed, code.to_string()), Instant::now());
        if let Some(suppressed) = decision.summary {
            let total: u64 = suppressed.iter().map(|(_, n)| n).sum();
            let by_code = suppressed
                .iter()
                .map(|(code, n)| format!("{code}={n}"))
                .collect::<Vec<_>>()
                .join(",");
            tracing::warn!(
                target: "argocd_drift::security",
                suppressed = total,
                by_code = %by_code,
                window_seconds = WINDOW.as_secs(),
                "security log lines suppressed (every refusal is still counted in argocd_drift_rejected_requests_total)",
            );
        }
        let Some(suppressed) = decision.log else {
            return;
        };
        tracing::warn!(
            target: "argocd_drift::security",
            code,
            reason = %bounded(reason, false),
            user,
            user_id,
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

    fn admit(&self, key: Key, now: Instant) -> Decision {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let state = &mut *state;
        let mut decision = Decision::default();
        if now.saturating_duration_since(state.summarized) >= WINDOW {
            state.summarized = now;
            if !state.suppressed.is_empty() {
                let mut by_code: Vec<(String, u64)> = state.suppressed.drain().collect();
                by_code.sort();
                decision.summary = Some(by_code);
            }
        }
        if now.saturating_duration_since(state.first_lines.1) >= WINDOW {
            state.first_lines = (0, now);
        }
        if !state.keys.contains_key(&key) && state.keys.len() >= MAX_KEYS {
            let lru = state
                .keys
                .iter()
                .min_by_key(|(_, b)| b.used)
                .map(|(k, _)| k.clone());
            if let Some(lru) = lru {
                state.keys.remove(&lru);
            }
            state
                .new_keys
                .retain(|_, (_, since)| now.saturating_duration_since(*since) < WINDOW);
        }
        let peer = key.0;
        let code = key.2.clone();
        let bucket = state
            .keys
            .entry(key)
            .or_insert_with(|| Bucket::new(BURST, now));
        bucket.used = now;
        let first = bucket
            .logged
            .is_none_or(|at| now.saturating_duration_since(at) >= WINDOW);
        let new_keys = state.new_keys.entry(peer).or_insert((0, now));
        if now.saturating_duration_since(new_keys.1) >= WINDOW {
            *new_keys = (0, now);
        }
        let logged = if first
            && new_keys.0 < NEW_KEYS_PER_PEER
            && state.first_lines.0 < FIRST_LINES_PER_WINDOW
        {
            new_keys.0 += 1;
            state.first_lines.0 += 1;
            // Keep the key's own bucket honest: a first line still takes a token if there is one.
            let _ = bucket.take(now, REFILL, BURST);
            true
        } else {
            bucket.take(now, REFILL, BURST)
                && state.global.take(
                    now,
                    Duration::from_secs(1) / GLOBAL_PER_SECOND,
                    GLOBAL_BURST,
                )
        };
        if logged {
            bucket.logged = Some(now);
            decision.log = Some(std::mem::take(&mut bucket.suppressed));
        } else {
            bucket.suppressed += 1;
            *state.suppressed.entry(code).or_default() += 1;
        }
        decision
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

    fn key(peer: &str, user: Option<&str>, code: &str) -> Key {
        (
            peer.parse().unwrap(),
            user.map(str::to_string),
            code.to_string(),
        )
    }

    #[test]
    fn a_key_gets_a_burst_then_one_line_per_interval_and_learns_what_was_suppressed() {
        let log = SecurityLog::new();
        let a = key("10.0.0.1", Some("alice"), "OUT_OF_SCOPE");
        let t0 = Instant::now();
        for _ in 0..BURST {
            assert!(log.admit(a.clone(), t0).log.is_some());
        }
        for _ in 0..5 {
            assert_eq!(log.admit(a.clone(), t0).log, None);
        }
        assert_eq!(
            log.admit(a.clone(), t0 + REFILL).log,
            Some(5),
            "reports what it skipped"
        );
        assert_eq!(log.admit(a, t0 + REFILL).log, None);
    }

    #[test]
    fn one_users_refusals_behind_a_shared_address_never_hide_anothers() {
        let log = SecurityLog::new();
        let t0 = Instant::now();
        // Everyone comes from argocd-server's address; mallory refuses herself a thousand times.
        let mallory = key("10.0.0.9", Some("mallory"), "OUT_OF_SCOPE");
        for i in 0..1000u32 {
            log.admit(mallory.clone(), t0 + Duration::from_millis(u64::from(i)));
        }
        let t1 = t0 + Duration::from_secs(1);
        for user in ["alice", "bob", "carol"] {
            let first = log.admit(key("10.0.0.9", Some(user), "OUT_OF_SCOPE"), t1);
            assert_eq!(first.log, Some(0), "{user}'s first refusal is logged");
        }
        // Another code of mallory's is a key of its own too.
        let other = log.admit(key("10.0.0.9", Some("mallory"), "PROJECT_MISMATCH"), t1);
        assert!(other.log.is_some());
    }

    #[test]
    fn invented_users_from_one_peer_open_few_keys_and_the_global_budget_holds() {
        let log = SecurityLog::new();
        let t0 = Instant::now();
        let mut logged = 0;
        for i in 0..10_000u32 {
            let k = key(
                "192.0.2.1",
                Some(&format!("user-{i}")),
                "MISSING_CREDENTIALS",
            );
            logged += u32::from(log.admit(k, t0).log.is_some());
        }
        assert!(
            logged <= NEW_KEYS_PER_PEER + GLOBAL_BURST,
            "{logged} lines from one peer in an instant"
        );
        // Many peers at once: the first lines are bounded in all too.
        let mut logged = 0;
        for i in 0..5000u32 {
            let peer = std::net::Ipv4Addr::from(0x0a00_0000 + i).to_string();
            logged += u32::from(
                log.admit(key(&peer, None, "MISSING_CREDENTIALS"), t0)
                    .log
                    .is_some(),
            );
        }
        assert!(
            logged <= FIRST_LINES_PER_WINDOW + GLOBAL_BURST,
            "{logged} lines from 5000 peers in an instant"
        );
    }

    #[test]
    fn past_the_key_limit_the_least_recently_used_is_forgotten_not_everything() {
        let log = SecurityLog::new();
        let t0 = Instant::now();
        let hot = key("10.0.0.1", Some("mallory"), "OUT_OF_SCOPE");
        for _ in 0..BURST + 3 {
            log.admit(hot.clone(), t0);
        }
        assert_eq!(log.admit(hot.clone(), t0).log, None, "used up");
        // 4,096 other keys arrive (rotating addresses), while the hot key keeps trying.
        for i in 0..MAX_KEYS as u32 {
            let peer = std::net::Ipv4Addr::from(0xc633_6400 + i).to_string();
            let t = t0 + Duration::from_micros(u64::from(i) + 1);
            log.admit(key(&peer, None, "MISSING_CREDENTIALS"), t);
            if i % 512 == 0 {
                log.admit(hot.clone(), t);
            }
        }
        let t = t0 + Duration::from_millis(10);
        assert_eq!(
            log.admit(hot, t).log,
            None,
            "the hot key was not forgotten: no fresh burst"
        );
        assert!(log.state.lock().unwrap().keys.len() <= MAX_KEYS);
    }

    #[test]
    fn a_summary_of_what_was_suppressed_comes_once_a_window() {
        let log = SecurityLog::new();
        let t0 = Instant::now();
        let k = key("10.0.0.1", Some("mallory"), "OUT_OF_SCOPE");
        for _ in 0..BURST + 7 {
            assert_eq!(log.admit(k.clone(), t0).summary, None);
        }
        let later = log.admit(key("10.0.0.2", None, "MISSING_CREDENTIALS"), t0 + WINDOW);
        assert_eq!(later.summary, Some(vec![("OUT_OF_SCOPE".to_string(), 7)]));
        assert_eq!(log.admit(k, t0 + WINDOW).summary, None, "once a window");
    }
}
