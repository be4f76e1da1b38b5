//! The stored shape: one `DriftHistory` (argocd-drift.io/v1alpha1) per Application that ever
//! drifted, in the backend's namespace, holding a bounded list of that app's episodes.
//!
//! ```yaml
//! apiVersion: argocd-drift.io/v1alpha1
//! kind: DriftHistory
//! metadata: {name: argocd.payments-api, namespace: argocd}
//! spec:
//!   application: {namespace: argocd, name: payments-api}
//! status:
//!   summary: {episodes: 2, drifting: true, since: "…", lastEndCause: manualSync}  # printer columns
//!   pruned: {throughVersion: "812", lastStartedAt: "…", count: 3}                 # optional
//!   episodes:                                            # oldest first, by start version
//!   - id: 4f1c2a9e-1043
//!     start: {at: "…", version: "1043", witnessed: true, revision: 9f2c…, operation: {startedAt: "…"}}
//!     end: {at: "…", version: "1101", witnessed: true, cause: manualSync, user: alice, …}
//!     resources: [{group: apps, kind: Deployment, namespace: p, name: api, cause: liveChanged,
//!                  fields: [spec.replicas], managers: [kubectl-edit]}]
//! ```
//!
//! Why one object per app and not one per episode: 50,000 apps of which 5 % drift once an hour
//! make 2,500 episodes an hour, 1.8 million in 30 days as single objects — far past what etcd
//! and every watch of them should carry — but at most 50,000 objects (one per app that ever
//! drifted) this way, each bounded by [`bounds`] and the configured count and age.
//!
//! Only paths, kinds, names, manager names and the Argo CD user who synced are stored: never a
//! value, so a Secret's content can never reach a record.
//!
//! Parsing is strict (unknown fields refused, every bound checked, episodes ordered and not
//! overlapping): a record edited by hand into another shape — or written by a newer argocd-drift
//! — is reported and left alone rather than rewritten by a process that does not understand it.

use super::version::{Version, version_cmp};
use crate::app::AppKey;
use crate::names::{MAX_SUBDOMAIN_LEN, is_dns_label, is_dns_subdomain};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::collections::HashSet;

/// The kind and its plural, in the project's group (`argocd-drift.io/v1alpha1`).
pub const KIND: &str = "DriftHistory";
pub const PLURAL: &str = "drifthistories";

/// What one record may hold. The CRD's OpenAPI schema states the same bounds, so a record the
/// backend writes always passes it (a test checks this against a real API server).
pub mod bounds {
    /// Episodes per app (`HISTORY_MAX_EPISODES` may not exceed it).
    pub const MAX_EPISODES: usize = 1000;
    /// Resources recorded per episode.
    pub const MAX_RESOURCES: usize = 10;
    /// Field paths recorded per resource.
    pub const MAX_FIELDS: usize = 5;
    /// Field managers recorded per resource.
    pub const MAX_MANAGERS: usize = 5;
    /// A field path, cut with `…` beyond this many characters.
    pub const MAX_PATH_CHARS: usize = 256;
    /// Names (kinds, groups, namespaces, objects, managers).
    pub const MAX_NAME_CHARS: usize = 253;
    /// Other text: a user name, a revision, an operation phase or time.
    pub const MAX_TEXT_CHARS: usize = 256;
    /// Ids and versions.
    pub const MAX_ID_CHARS: usize = 128;
    /// The whole record as JSON; older episodes lose their detail, then go, beyond this. etcd's
    /// own limit is 1.5 MiB per object.
    pub const MAX_RECORD_BYTES: usize = 512 * 1024;
}

/// One app's episodes, as stored in `status`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Record {
    /// Oldest first, ordered by start version, not overlapping.
    #[serde(default)]
    pub episodes: Vec<Episode>,
    /// What retention removed; `null` until something was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pruned: Option<Pruned>,
}

/// What retention (count, age or size) removed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Pruned {
    /// The start version of the newest episode removed: an observation at or before it is old
    /// news (a replica catching up) and changes nothing.
    pub through_version: String,
    /// That episode's start: counts of episodes are complete only from here on.
    pub last_started_at: Timestamp,
    /// Episodes removed so far.
    pub count: u64,
}

/// One spell of drift: from the turn to OutOfSync (or the first sight of it) to the return to
/// Synced (or the app's deletion).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Episode {
    /// `<uid prefix>-<resourceVersion>` of the Application version on which the episode was
    /// seen to start: every replica derives the same id from the same watch event.
    pub id: String,
    pub start: Start,
    /// `null` while the episode is open.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<End>,
    /// The resources involved (Argo CD's OutOfSync ones at the start, and what drift requests
    /// found during the episode), bounded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<Involved>,
    /// The record grew past its size bound and this episode's resources were dropped.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub detail_trimmed: bool,
}

/// How an episode started.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Start {
    /// When a replica saw it: the turn itself if `witnessed`, otherwise the first sight (the app
    /// was already OutOfSync; it drifted at least since then).
    pub at: Timestamp,
    /// The Application's resourceVersion where it was seen.
    pub version: String,
    /// A replica watched the app turn OutOfSync from Synced (or from not yet compared).
    pub witnessed: bool,
    /// No replica saw this episode start: it is known only from a witnessed end after a moment
    /// the app was seen in sync (`at`, `version`). Any sighting of its start replaces this.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub inferred: bool,
    /// The synced revision(s) then (`status.sync.revision`, or `revisions` joined by commas).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    /// The operation Argo CD had recorded then, to tell later whether one ran since.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<OperationMark>,
}

/// Which operation `status.operationState` held when an episode started.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OperationMark {
    pub started_at: String,
    /// It had not finished yet (`Running`, `Terminating`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub running: bool,
}

/// How an episode ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct End {
    /// When a replica saw it end: the turn to Synced if `witnessed`, otherwise the first sight of
    /// the app Synced (or gone) after a spell when no replica watched: it ended at latest then.
    pub at: Timestamp,
    pub version: String,
    pub witnessed: bool,
    pub cause: EndCause,
    /// The Argo CD user who ran the sync (`operationState.operation.initiatedBy.username`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// The phase of that operation when the episode ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation_phase: Option<String>,
    /// The synced revision(s) at the end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
}

/// What ended an episode.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum EndCause {
    /// An operation initiated by automation: an automated sync, or self-heal.
    AutomatedSync,
    /// An operation a user started (`user` names whom Argo CD recorded).
    ManualSync,
    /// Synced again with no operation since the start and the same revision: someone put the
    /// live objects back by hand.
    RevertedByHand,
    /// Synced again with no operation since the start, at another revision: Git changed to
    /// match the cluster.
    GitChanged,
    /// The Application was deleted while drifting.
    AppDeleted,
}

impl EndCause {
    pub const ALL: [EndCause; 5] = [
        EndCause::AutomatedSync,
        EndCause::ManualSync,
        EndCause::RevertedByHand,
        EndCause::GitChanged,
        EndCause::AppDeleted,
    ];

    /// The JSON name, for metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            EndCause::AutomatedSync => "automatedSync",
            EndCause::ManualSync => "manualSync",
            EndCause::RevertedByHand => "revertedByHand",
            EndCause::GitChanged => "gitChanged",
            EndCause::AppDeleted => "appDeleted",
        }
    }
}

/// A resource involved in an episode. Paths and names only, never values.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Involved {
    /// Empty for the core group.
    #[serde(default)]
    pub group: String,
    pub kind: String,
    /// Empty for cluster-scoped objects.
    #[serde(default)]
    pub namespace: String,
    pub name: String,
    /// The drift engine's verdict, once a drift request ran during the episode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<DriftCause>,
    /// Readable paths of drifted fields (`spec.template.spec.containers[name=api].image`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<String>,
    /// Field managers (not Argo CD) behind those fields: tools, never people.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub managers: Vec<String>,
}

impl Involved {
    pub fn same_object(&self, other: &Involved) -> bool {
        (&self.group, &self.kind, &self.namespace, &self.name)
            == (&other.group, &other.kind, &other.namespace, &other.name)
    }
}

/// The drift engine's causes that are drift (see `drift::view::Cause`).
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum DriftCause {
    LiveChanged,
    GitAhead,
    Missing,
    Extra,
}

// === the object ===

/// The printer columns' source, recomputed on every write (never read back).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Summary {
    episodes: usize,
    drifting: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    since: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    last_end_cause: Option<EndCause>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct StatusWire {
    #[serde(default)]
    episodes: Vec<Episode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pruned: Option<Pruned>,
    /// Derived; read only so that it is not an unknown field.
    #[serde(default, rename = "summary")]
    _summary: Option<Summary>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SpecWire {
    application: AppRef,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct AppRef {
    namespace: String,
    name: String,
}

/// Why a stored object cannot be used. The message says what is wrong, for the log and the
/// history answer; the object is left as it is.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidRecord(pub String);

/// The object's name for an app: `<namespace>.<name>` (a namespace has no dot, so the two parts
/// never run together), or, beyond 253 characters, a cut with a hash of the whole.
pub fn object_name(app: &AppKey) -> String {
    let full = format!("{}.{}", app.namespace, app.name);
    if full.len() <= MAX_SUBDOMAIN_LEN {
        return full;
    }
    let hash = format!("{:016x}", fnv1a(full.as_bytes()));
    let mut cut = full[..MAX_SUBDOMAIN_LEN - hash.len() - 1].to_string();
    // A label may not end with `-` or `.`; the hash starts a fresh label either way.
    while cut.ends_with(['-', '.']) {
        cut.pop();
    }
    format!("{cut}-{hash}")
}

/// FNV-1a, 64 bits: stable across versions and platforms (std's hasher is neither).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The object as written, borrowing the record (serialized straight to JSON or to its size:
/// no copy of the episodes).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ObjectRef<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    api_version: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    kind: Option<&'static str>,
    metadata: MetaRef<'a>,
    spec: SpecWire,
    status: StatusRef<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct MetaRef<'a> {
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    namespace: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    resource_version: Option<&'a str>,
    labels: std::collections::BTreeMap<&'static str, &'static str>,
}

/// The object as sent to the API server, serialized straight from the record (no JSON value in
/// between): [`to_object`] with `apiVersion`, `kind`, `metadata.namespace` and, for a replace,
/// the `metadata.resourceVersion` it was read at.
pub fn to_request_body(
    app: &AppKey,
    record: &Record,
    api_version: &str,
    namespace: &str,
    resource_version: Option<&str>,
) -> Vec<u8> {
    let mut object = object_ref(app, record);
    object.api_version = Some(api_version);
    object.kind = Some(KIND);
    object.metadata.namespace = Some(namespace);
    object.metadata.resource_version = resource_version;
    // Plain structs of strings, numbers and timestamps: serializing them cannot fail.
    serde_json::to_vec(&object).unwrap_or_default()
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct StatusRef<'a> {
    episodes: &'a [Episode],
    #[serde(skip_serializing_if = "Option::is_none")]
    pruned: Option<&'a Pruned>,
    summary: Summary,
}

fn object_ref<'a>(app: &AppKey, record: &'a Record) -> ObjectRef<'a> {
    let open = record.episodes.last().filter(|e| e.end.is_none());
    let summary = Summary {
        episodes: record.episodes.len(),
        drifting: open.is_some(),
        since: open.map(|e| e.start.at),
        last_end_cause: record
            .episodes
            .iter()
            .rev()
            .find_map(|e| e.end.as_ref().map(|end| end.cause)),
    };
    ObjectRef {
        api_version: None,
        kind: None,
        metadata: MetaRef {
            name: object_name(app),
            namespace: None,
            resource_version: None,
            labels: [("app.kubernetes.io/managed-by", "argocd-drift")].into(),
        },
        spec: SpecWire {
            application: AppRef {
                namespace: app.namespace.clone(),
                name: app.name.clone(),
            },
        },
        status: StatusRef {
            episodes: &record.episodes,
            pruned: record.pruned.as_ref(),
            summary,
        },
    }
}

/// The object to create or replace (`apiVersion`, `kind`, namespace and `resourceVersion` are
/// the writer's business).
pub fn to_object(app: &AppKey, record: &Record) -> serde_json::Value {
    // Serializing plain structs of strings, numbers and timestamps to a Value cannot fail.
    serde_json::to_value(object_ref(app, record)).unwrap_or_default()
}

/// The size of [`to_object`] as JSON, counted without building it.
pub fn encoded_len(app: &AppKey, record: &Record) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    let _ = serde_json::to_writer(&mut count, &object_ref(app, record));
    count.0
}

/// Reads a stored object: the app it belongs to and its record, or why it cannot be used.
pub fn from_object(mut object: serde_json::Value) -> Result<(AppKey, Record), InvalidRecord> {
    let invalid = |what: String| Err(InvalidRecord(what));
    let mut take = |field: &str| {
        object
            .get_mut(field)
            .map(serde_json::Value::take)
            .unwrap_or_default()
    };
    let (spec, status) = (take("spec"), take("status"));
    let spec: SpecWire = match serde_json::from_value(spec) {
        Ok(spec) => spec,
        Err(e) => return invalid(format!("spec: {e}")),
    };
    let app = AppKey::new(spec.application.namespace, spec.application.name);
    if !is_dns_label(&app.namespace) || !is_dns_subdomain(&app.name) {
        return invalid(format!(
            "spec.application {app} is not an Application's name"
        ));
    }
    if let Some(name) = object["metadata"]["name"].as_str()
        && name != object_name(&app)
    {
        return invalid(format!(
            "the name {name:?} is not the one for spec.application {app} ({:?})",
            object_name(&app)
        ));
    }
    let status = match status {
        serde_json::Value::Null => StatusWire {
            episodes: Vec::new(),
            pruned: None,
            _summary: None,
        },
        status => match serde_json::from_value(status) {
            Ok(status) => status,
            Err(e) => return invalid(format!("status: {e}")),
        },
    };
    let mut record = Record {
        episodes: status.episodes,
        pruned: status.pruned,
    };
    // Older versions could leave an episode open before a later one; such a record is closed
    // here (and written so on the next write) rather than refused for ever.
    record.close_stranded();
    record.check().map_err(InvalidRecord)?;
    Ok((app, record))
}

// === invariants ===

impl Record {
    /// The open episode, if the last one is open.
    pub fn open(&self) -> Option<&Episode> {
        self.episodes.last().filter(|e| e.end.is_none())
    }

    /// Every rule a stored record must follow; the first broken one, said plainly.
    pub fn check(&self) -> Result<(), String> {
        use bounds::*;
        if self.episodes.len() > MAX_EPISODES {
            return Err(format!(
                "{} episodes, more than {MAX_EPISODES}",
                self.episodes.len()
            ));
        }
        let mut ids = HashSet::new();
        for (i, e) in self.episodes.iter().enumerate() {
            let at = |what: &str| format!("episodes[{i}]: {what}");
            text(&e.id, MAX_ID_CHARS).map_err(|w| at(&format!("id {w}")))?;
            if !ids.insert(e.id.as_str()) {
                return Err(at(&format!("id {:?} appears twice", e.id)));
            }
            text(&e.start.version, MAX_ID_CHARS).map_err(|w| at(&format!("start.version {w}")))?;
            opt_text(&e.start.revision, MAX_TEXT_CHARS)
                .map_err(|w| at(&format!("start.revision {w}")))?;
            if let Some(op) = &e.start.operation {
                text(&op.started_at, MAX_TEXT_CHARS)
                    .map_err(|w| at(&format!("start.operation.startedAt {w}")))?;
            }
            if let Some(end) = &e.end {
                text(&end.version, MAX_ID_CHARS).map_err(|w| at(&format!("end.version {w}")))?;
                for (name, value) in [
                    ("user", &end.user),
                    ("operationPhase", &end.operation_phase),
                    ("revision", &end.revision),
                ] {
                    opt_text(value, MAX_TEXT_CHARS).map_err(|w| at(&format!("end.{name} {w}")))?;
                }
                if version_cmp(&end.version, &e.start.version) == Ordering::Less {
                    return Err(at("ends at an earlier version than it starts"));
                }
                if end.at < e.start.at {
                    return Err(at("ends before it starts"));
                }
            }
            if e.resources.len() > MAX_RESOURCES {
                return Err(at(&format!("more than {MAX_RESOURCES} resources")));
            }
            for r in &e.resources {
                for (name, value, required) in [
                    ("group", &r.group, false),
                    ("kind", &r.kind, true),
                    ("namespace", &r.namespace, false),
                    ("name", &r.name, true),
                ] {
                    if required && value.is_empty() {
                        return Err(at(&format!("a resource without {name}")));
                    }
                    bounded(value, MAX_NAME_CHARS)
                        .map_err(|w| at(&format!("resource {name} {w}")))?;
                }
                if r.fields.len() > MAX_FIELDS || r.managers.len() > MAX_MANAGERS {
                    return Err(at(&format!(
                        "a resource with more than {MAX_FIELDS} fields or {MAX_MANAGERS} managers"
                    )));
                }
                for f in &r.fields {
                    text(f, MAX_PATH_CHARS).map_err(|w| at(&format!("field path {w}")))?;
                }
                for m in &r.managers {
                    text(m, MAX_NAME_CHARS).map_err(|w| at(&format!("manager {w}")))?;
                }
            }
        }
        for (i, pair) in self.episodes.windows(2).enumerate() {
            let (a, b) = (&pair[0], &pair[1]);
            if version_cmp(&a.start.version, &b.start.version) != Ordering::Less {
                return Err(format!(
                    "episodes[{}] does not start after episodes[{i}]",
                    i + 1
                ));
            }
            if a.end.is_none() {
                return Err(format!(
                    "episodes[{i}] is open but episodes[{}] starts after it",
                    i + 1
                ));
            }
            if let Some(end) = &a.end
                && version_cmp(&end.version, &b.start.version) == Ordering::Greater
            {
                return Err(format!(
                    "episodes[{i}] ends after episodes[{}] starts",
                    i + 1
                ));
            }
        }
        if let Some(p) = &self.pruned {
            text(&p.through_version, MAX_ID_CHARS)
                .map_err(|w| format!("pruned.throughVersion {w}"))?;
            if let Some(first) = self.episodes.first()
                && Version::of(&first.start.version) <= Version::of(&p.through_version)
            {
                return Err("episodes[0] starts before what was pruned".into());
            }
        }
        Ok(())
    }
}

fn bounded(s: &str, max: usize) -> Result<(), String> {
    if s.chars().count() > max {
        return Err(format!("is longer than {max} characters"));
    }
    if s.chars().any(char::is_control) {
        return Err("holds control characters".into());
    }
    Ok(())
}

fn text(s: &str, max: usize) -> Result<(), String> {
    if s.is_empty() {
        return Err("is empty".into());
    }
    bounded(s, max)
}

fn opt_text(s: &Option<String>, max: usize) -> Result<(), String> {
    s.as_deref().map_or(Ok(()), |s| text(s, max))
}

/// `s` cut to `max` characters, the cut marked with `…`; control characters dropped.
pub fn cut(s: &str, max: usize) -> String {
    let clean: String = s.chars().filter(|c| !c.is_control()).collect();
    if clean.chars().count() <= max {
        return clean;
    }
    let mut out: String = clean.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::fixtures::{closed, open_episode, t};

    fn app() -> AppKey {
        AppKey::new("argocd", "payments-api")
    }

    #[test]
    fn the_request_body_is_the_object_with_what_the_api_server_needs() {
        let record = Record {
            episodes: vec![closed("1", 10, "5", 20), open_episode("30", 40)],
            pruned: None,
        };
        let mut expected = to_object(&app(), &record);
        expected["apiVersion"] = "argocd-drift.io/v1alpha1".into();
        expected["kind"] = KIND.into();
        expected["metadata"]["namespace"] = "argocd-drift".into();
        let create = to_request_body(
            &app(),
            &record,
            "argocd-drift.io/v1alpha1",
            "argocd-drift",
            None,
        );
        let sent: serde_json::Value = serde_json::from_slice(&create).unwrap();
        assert_eq!(sent, expected);
        let replace = to_request_body(
            &app(),
            &record,
            "argocd-drift.io/v1alpha1",
            "argocd-drift",
            Some("42"),
        );
        expected["metadata"]["resourceVersion"] = "42".into();
        let sent: serde_json::Value = serde_json::from_slice(&replace).unwrap();
        assert_eq!(sent, expected);
        // And it reads back as the record it was written from.
        assert_eq!(from_object(sent).unwrap(), (app(), record));
    }

    #[test]
    fn a_record_round_trips_through_its_object() {
        let record = Record {
            episodes: vec![closed("1", 10, "5", 20), open_episode("30", 40)],
            pruned: None,
        };
        let object = to_object(&app(), &record);
        assert_eq!(object["metadata"]["name"], "argocd.payments-api");
        assert_eq!(object["status"]["summary"]["drifting"], true);
        assert_eq!(object["status"]["summary"]["episodes"], 2);
        assert_eq!(object["status"]["summary"]["lastEndCause"], "manualSync");
        assert_eq!(from_object(object).unwrap(), (app(), record));
    }

    #[test]
    fn an_object_without_status_is_an_empty_record() {
        let object = serde_json::json!({
            "metadata": {"name": "argocd.payments-api"},
            "spec": {"application": {"namespace": "argocd", "name": "payments-api"}}
        });
        assert_eq!(from_object(object).unwrap().1, Record::default());
    }

    #[test]
    fn names_are_valid_object_names_even_for_the_longest_apps() {
        assert_eq!(object_name(&AppKey::new("a", "b.c")), "a.b.c");
        let long = AppKey::new(
            "x".repeat(63),
            format!("{}.{}", "y".repeat(150), "z".repeat(100)),
        );
        let name = object_name(&long);
        assert!(is_dns_subdomain(&name), "{name}");
        assert_eq!(name.len(), MAX_SUBDOMAIN_LEN);
        let other = AppKey::new(
            "x".repeat(63),
            format!("{}.{}", "y".repeat(150), "w".repeat(100)),
        );
        assert_ne!(object_name(&other), name, "the hash tells them apart");
    }

    #[test]
    fn hand_edited_shapes_are_refused_with_a_reason() {
        let good = to_object(
            &app(),
            &Record {
                episodes: vec![closed("1", 10, "5", 20), open_episode("30", 40)],
                pruned: None,
            },
        );
        let broken = |f: &dyn Fn(&mut serde_json::Value)| {
            let mut o = good.clone();
            f(&mut o);
            from_object(o).unwrap_err().0
        };
        let why = broken(&|o| o["status"]["episodes"][0]["start"]["at"] = "yesterday".into());
        assert!(why.starts_with("status:"), "{why}");
        let why = broken(&|o| {
            o["status"]["episodes"][1]["id"] = o["status"]["episodes"][0]["id"].clone()
        });
        assert!(why.contains("appears twice"), "{why}");
        let why = broken(&|o| o["status"]["episodes"][0]["end"]["version"] = "31".into());
        assert!(why.contains("ends after episodes[1] starts"), "{why}");
        let why = broken(&|o| o["status"]["extra"] = true.into());
        assert!(why.contains("unknown field"), "{why}");
        let why = broken(&|o| o["spec"]["application"]["name"] = "other".into());
        assert!(why.contains("is not the one for"), "{why}");
        let why = broken(&|o| o["status"]["episodes"][0]["end"]["cause"] = "magic".into());
        assert!(why.starts_with("status:"), "{why}");
        let why = broken(&|o| {
            o["status"]["episodes"][0]["resources"] = serde_json::json!([{"kind": "", "name": "x"}])
        });
        assert!(why.contains("without kind"), "{why}");
        let why = broken(&|o| o["status"]["episodes"] = serde_json::json!("nope"));
        assert!(why.starts_with("status:"), "{why}");
    }

    #[test]
    fn only_the_last_episode_may_be_open() {
        let record = Record {
            episodes: vec![open_episode("10", 10), closed("20", 20, "30", 30)],
            pruned: None,
        };
        let why = record.check().unwrap_err();
        assert!(why.contains("episodes[0] is open"), "{why}");
    }

    #[test]
    fn an_episode_left_open_before_another_by_an_older_version_is_closed_on_read() {
        let stranded = Record {
            episodes: vec![open_episode("10", 10), closed("20", 20, "30", 30)],
            pruned: None,
        };
        let (_, record) = from_object(to_object(&app(), &stranded)).unwrap();
        let end = record.episodes[0].end.clone().unwrap();
        assert_eq!(
            (end.version.as_str(), end.at, end.witnessed),
            ("20", t(20), false)
        );
        assert_eq!(record.episodes[1], stranded.episodes[1]);
    }

    #[test]
    fn an_episode_may_not_end_before_it_starts() {
        let mut e = closed("1", 10, "5", 20);
        e.end.as_mut().unwrap().at = t(5);
        let record = Record {
            episodes: vec![e],
            pruned: None,
        };
        assert!(
            record
                .check()
                .unwrap_err()
                .contains("ends before it starts")
        );
    }

    #[test]
    fn text_is_cut_with_a_marker() {
        assert_eq!(cut("abc", 5), "abc");
        assert_eq!(cut("abcdef", 4), "abc…");
        assert_eq!(cut("a\nb", 5), "ab");
    }
}
