//! The Kubernetes Event told at each stored episode edge, as text: its reason, its one-line
//! message and its deterministic name. The backend sends it (`backend/src/cluster/events.rs`);
//! the history view shows the same end text ([`end_text`]), so the Drift tab's timeline and the
//! app's Events panel say the same thing.
//!
//! What a message may hold is what a record holds: kinds, names, field paths, manager names (tools,
//! never people) and the Argo CD user who ran a sync — never a value, so a Secret's content can
//! never reach an Event.
//!
//! ```text
//! DriftStarted  Drift started on 2 resources: apps/Deployment payments/api (spec.replicas) by kubectl-edit; v1/ConfigMap payments/cfg
//! DriftEnded    Drift ended after 12m 5s: synced by alice. Resources: apps/Deployment payments/api (spec.replicas) by kubectl-edit
//! ```

use super::model::{EndCause, Episode, Involved, bounds};
use crate::app::AppKey;
use crate::names::MAX_SUBDOMAIN_LEN;

/// `reportingComponent` (Go's `ReportingController`) and `source.component` of every Event.
pub const REPORTING_CONTROLLER: &str = "argocd-drift.io";
/// Reasons.
pub const REASON_STARTED: &str = "DriftStarted";
pub const REASON_ENDED: &str = "DriftEnded";
/// The longest message, in bytes (`events.k8s.io/v1`'s `note` limit; core/v1 has none).
pub const MAX_MESSAGE_BYTES: usize = 1024;
/// Resources named in a message; the rest are counted.
const MAX_NAMED: usize = 3;

/// Which edge of an episode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Edge {
    Started,
    Ended,
}

impl Edge {
    pub fn reason(self) -> &'static str {
        match self {
            Edge::Started => REASON_STARTED,
            Edge::Ended => REASON_ENDED,
        }
    }

    /// `Warning` for a start (event exporters commonly forward warnings), `Normal` for an end.
    pub fn event_type(self) -> &'static str {
        match self {
            Edge::Started => "Warning",
            Edge::Ended => "Normal",
        }
    }

    fn suffix(self) -> &'static str {
        match self {
            Edge::Started => "started",
            Edge::Ended => "ended",
        }
    }
}

/// How an episode ended, in words — the same words in the Event and in the tab's timeline:
/// `synced by alice`, `self-heal or automated sync`, `reverted by hand`,
/// `Git changed to match the cluster`, `Application deleted`.
pub fn end_text(cause: EndCause, user: Option<&str>) -> String {
    match cause {
        EndCause::AutomatedSync => "self-heal or automated sync".into(),
        EndCause::ManualSync => match user.filter(|u| !u.is_empty()) {
            Some(user) => format!("synced by {}", cut(user, bounds::MAX_TEXT_CHARS)),
            None => "synced by a user".into(),
        },
        EndCause::RevertedByHand => "reverted by hand".into(),
        EndCause::GitChanged => "Git changed to match the cluster".into(),
        EndCause::AppDeleted => "Application deleted".into(),
    }
}

/// The Event's message for `edge` of `episode` (`None`: the episode is not in the stored record
/// any more — retention dropped it in the same write — and only the edge is known).
pub fn message(edge: Edge, episode: Option<&Episode>) -> String {
    let text = match (edge, episode) {
        (Edge::Started, None) => "Drift started".to_string(),
        (Edge::Started, Some(e)) => {
            let seen = if e.start.witnessed {
                ""
            } else {
                " (seen already drifting)"
            };
            match e.resources.len() {
                0 => format!("Drift started{seen}"),
                n => format!(
                    "Drift started{seen} on {n} resource{}: {}",
                    plural(n),
                    resources(&e.resources)
                ),
            }
        }
        (Edge::Ended, None) => "Drift ended".to_string(),
        (Edge::Ended, Some(e)) => {
            let mut text = String::from("Drift ended");
            if let Some(end) = &e.end {
                let secs = end.at.duration_since(e.start.at).as_secs().max(0);
                text.push_str(&format!(
                    " after {}: {}",
                    duration(secs),
                    end_text(end.cause, end.user.as_deref())
                ));
            }
            if !e.resources.is_empty() {
                text.push_str(&format!(". Resources: {}", resources(&e.resources)));
            }
            text
        }
    };
    // One line, whatever a name held.
    let line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    cut_bytes(&line, MAX_MESSAGE_BYTES)
}

/// The Event's name: `<app>.drift-<episode id>-<started|ended>`. Every replica derives the same
/// name for the same edge, so a second create of it is refused (`AlreadyExists`) rather than
/// shown twice. Beyond 253 characters the app's name is cut and a hash of the whole added.
pub fn event_name(app: &AppKey, episode_id: &str, edge: Edge) -> String {
    let tail = format!(
        ".drift-{}-{}",
        episode_id.to_ascii_lowercase(),
        edge.suffix()
    );
    let full = format!("{}{tail}", app.name);
    if full.len() <= MAX_SUBDOMAIN_LEN {
        return full;
    }
    let hash = format!("{:016x}", fnv1a(full.as_bytes()));
    let keep = MAX_SUBDOMAIN_LEN.saturating_sub(tail.len() + hash.len() + 1);
    let mut head: String = app.name.chars().take(keep).collect();
    while head.ends_with(['-', '.']) {
        head.pop();
    }
    let name = format!("{head}-{hash}{tail}");
    cut_bytes(&name, MAX_SUBDOMAIN_LEN)
}

fn resources(list: &[Involved]) -> String {
    let mut parts: Vec<String> = list.iter().take(MAX_NAMED).map(resource).collect();
    if list.len() > MAX_NAMED {
        parts.push(format!("and {} more", list.len() - MAX_NAMED));
    }
    parts.join("; ")
}

/// `apps/Deployment payments/api (spec.replicas, …) by kubectl-edit, helm`.
fn resource(r: &Involved) -> String {
    let mut text = String::new();
    if !r.group.is_empty() {
        text.push_str(&r.group);
        text.push('/');
    }
    text.push_str(&r.kind);
    text.push(' ');
    if !r.namespace.is_empty() {
        text.push_str(&r.namespace);
        text.push('/');
    }
    text.push_str(&r.name);
    if !r.fields.is_empty() {
        let shown: Vec<&str> = r.fields.iter().take(2).map(String::as_str).collect();
        let more = if r.fields.len() > 2 { ", …" } else { "" };
        text.push_str(&format!(" ({}{more})", shown.join(", ")));
    }
    if !r.managers.is_empty() {
        text.push_str(" by ");
        text.push_str(&r.managers.join(", "));
    }
    text
}

fn duration(secs: i64) -> String {
    let (d, h, m, s) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, _) => format!("{m}m {s}s"),
        (0, _, _) => format!("{h}h {m}m"),
        _ => format!("{d}d {h}h"),
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn cut(text: &str, chars: usize) -> String {
    if text.chars().count() <= chars {
        return text.to_string();
    }
    let mut out: String = text.chars().take(chars.saturating_sub(1)).collect();
    out.push('…');
    out
}

fn cut_bytes(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max.saturating_sub('…'.len_utf8());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// FNV-1a, 64 bits: stable across versions and platforms.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::fixtures::t;
    use crate::history::model::{DriftCause, End, Start};
    use crate::names::is_dns_subdomain;

    fn involved(name: &str, fields: &[&str], managers: &[&str]) -> Involved {
        Involved {
            group: "apps".into(),
            kind: "Deployment".into(),
            namespace: "payments".into(),
            name: name.into(),
            cause: Some(DriftCause::LiveChanged),
            fields: fields.iter().map(|s| s.to_string()).collect(),
            managers: managers.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn episode(end: Option<(EndCause, Option<&str>)>, resources: Vec<Involved>) -> Episode {
        Episode {
            id: "4f1c2a9e-1043".into(),
            start: Start {
                at: t(0),
                version: "1043".into(),
                witnessed: true,
                inferred: false,
                revision: None,
                operation: None,
            },
            end: end.map(|(cause, user)| End {
                at: t(725),
                version: "1101".into(),
                witnessed: true,
                cause,
                user: user.map(str::to_string),
                operation_phase: None,
                revision: None,
            }),
            resources,
            detail_trimmed: false,
        }
    }

    #[test]
    fn a_start_names_resources_fields_and_managers() {
        let e = episode(
            None,
            vec![involved("api", &["spec.replicas"], &["kubectl-edit"])],
        );
        assert_eq!(
            message(Edge::Started, Some(&e)),
            "Drift started on 1 resource: apps/Deployment payments/api (spec.replicas) by kubectl-edit"
        );
    }

    #[test]
    fn an_end_says_how_long_and_who_synced_in_the_words_the_timeline_uses() {
        let e = episode(Some((EndCause::ManualSync, Some("alice"))), vec![]);
        assert_eq!(
            message(Edge::Ended, Some(&e)),
            "Drift ended after 12m 5s: synced by alice"
        );
        assert!(
            message(Edge::Ended, Some(&e)).contains(&end_text(EndCause::ManualSync, Some("alice")))
        );
        for cause in EndCause::ALL {
            assert!(!end_text(cause, None).is_empty());
        }
    }

    #[test]
    fn a_message_is_one_bounded_line_and_many_resources_are_counted() {
        let many: Vec<Involved> = (0..10)
            .map(|i| {
                involved(
                    &format!("api-{i}\n{}", "x".repeat(300)),
                    &["a", "b", "c"],
                    &["m"],
                )
            })
            .collect();
        let text = message(Edge::Started, Some(&episode(None, many)));
        assert!(text.len() <= MAX_MESSAGE_BYTES, "{}", text.len());
        assert!(!text.contains('\n'));
        assert!(text.contains("and 7 more") || text.ends_with('…'), "{text}");
    }

    #[test]
    fn names_are_deterministic_subdomains_even_for_the_longest_app_name() {
        let app = AppKey::new("argocd", "payments-api");
        let name = event_name(&app, "4f1c2a9e-1043", Edge::Started);
        assert_eq!(name, "payments-api.drift-4f1c2a9e-1043-started");
        assert_ne!(name, event_name(&app, "4f1c2a9e-1043", Edge::Ended));
        let long = AppKey::new("argocd", "a".repeat(253));
        let a = event_name(&long, "4f1c2a9e-1043", Edge::Ended);
        assert!(a.len() <= MAX_SUBDOMAIN_LEN && is_dns_subdomain(&a), "{a}");
        assert_eq!(a, event_name(&long, "4f1c2a9e-1043", Edge::Ended));
    }
}
