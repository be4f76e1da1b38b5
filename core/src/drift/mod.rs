//! The drift engine: for one resource of an Application, which fields differ from what Argo CD
//! applied, what they should be, what they are, which field manager changed them and when, and
//! the cause of Argo CD's verdict. Pure: the backend reads, this module explains.
//!
//! # Data model
//!
//! Per resource the backend passes a [`ResourceInput`]: the entry of `status.resources` (identity
//! and Argo CD's verdict), what the live read gave ([`LiveRead`]: the object, a 404, or why it
//! could not be read), and optionally Argo CD's own `managed-resources` item
//! ([`ManagedResource`]). An [`Inspector`] holds what is the same for every resource of one app:
//! the app's spec (its `ignoreDifferences` and sync options), the system settings parsed from
//! `argocd-cm` ([`settings::parse_argocd_cm`]), the compiled-jq cache and whether Secrets may be
//! read. [`Inspector::inspect`] returns a [`view::ResourceDrift`], [`Inspector::detail`] a
//! [`view::ResourceDetail`], and [`report::drift_report`] assembles the app's document.
//!
//! # How a verdict is reached
//!
//! 1. Hooks, resources that require pruning (`extra`; `ignoreExtraneous` when the live object
//!    says `IgnoreExtraneous`), 404s (`missing`), read failures and Secrets with reading off are
//!    settled from the input alone. So is an ignore rule the engine cannot run
//!    (`unsupportedIgnoreRule`): what Argo CD ignores is then not known.
//! 2. The desired state comes from (in this order):
//!    - Argo CD's `managed-resources` item, when given: its `normalizedLiveState` is diffed against
//!      its `predictedLiveState` ([`compare::symmetric`]); ignore rules and normalizations are
//!      already Argo CD's. A field another manager wrote since the last sync (and Argo CD does
//!      not hold), Argo CD's tracking id gone live, or any local drift from last-applied makes it
//!      `liveChanged`; otherwise `gitAhead` when the app's status shows Git moved
//!      ([`evidence`]), else `liveChanged`.
//!    - `kubectl.kubernetes.io/last-applied-configuration`, Argo CD's client-side apply record,
//!      while `managedFields` shows Argo CD wrote it and its tracking id is this app's: Argo CD's
//!      three-way diff with the record as both last-applied and Git ([`compare::subset`], typed
//!      by [`schema`] for the kinds Argo CD's scheme knows), normalized as §7.2 lists
//!      ([`normalize`]). No field differs but Argo CD says OutOfSync → `gitAhead` when Git moved
//!      since the last sync, otherwise `notInspected` (`argoDiffersLocally`). Fields Argo CD
//!      compared after they were written and calls Synced, or wrote itself after the record (a
//!      manual server-side sync), are a stale record, not drift.
//!    - Server-side apply (the app or object says `ServerSideApply=true`), or a record another
//!      manager rewrote (a person's `kubectl apply`), without the Argo CD source: attribution
//!      only — fields written since the last sync by a manager that is not Argo CD (the control
//!      plane's `spec` fields too, when server-side applied), marked as having no desired value;
//!      additions when Argo CD does not say OutOfSync. A last-applied annotation left from an
//!      earlier client-side sync is not used then (§5.2).
//!    - Otherwise `notInspected` (`Replace=true`, created without a record, …).
//! 3. Ignore rules (§2): the app's `spec.ignoreDifferences` and argocd-cm's rules that select the
//!    resource. `jsonPointers` and `jqPathExpressions` are removed from both sides ([`jq`]); the
//!    differences that disappear are listed as ignored with the rule. `managedFieldsManagers` then
//!    moves a difference whose field (an atomic list as a whole) is in a listed manager's set. A
//!    rule that fails on an object is skipped and reported on the resource.
//! 4. Attribution from `metadata.managedFields` ([`managed`]): the entry owning each drifted live
//!    value (a non-Argo owner beats Argo CD, then the latest). Additions outside Git: live-only
//!    fields owned by a manager that is neither Argo CD nor Kubernetes' control plane.
//! 5. Masking ([`secret`]): every value that leaves is masked if it is Secret data or a sensitive
//!    annotation.
//!
//! Bad input never panics: an unparseable annotation or a live object that is not an object is a
//! `notInspected` reason; a malformed `managedFields` entry or a failing rule is a problem on the
//! resource.
//!
//! # Time
//!
//! No clock here. The jq rules take a [`jq::JqBudget`], restarted when an expression starts on an
//! object and asked between steps; the backend passes one that compares its clock with a
//! per-expression deadline, and runs the inspection under a hard timeout.
//!
//! # Calling it (the backend)
//!
//! Once per argocd-cm change: `parse_argocd_cm`. Once per process: a [`jq::JqCache`] (compiled
//! expressions are reused across apps). Per request: an [`Inspector`] for the app, one
//! [`Inspector::inspect`] per resource, then [`report::drift_report`]. Reads that fail become
//! [`LiveRead::Failed`]; a Secret is passed only when Secret reading is on (otherwise pass
//! `LiveRead::Failed(ReadFailure::SecretReadingDisabled)`, or anything: the inspector refuses it).
//! Built-in and custom kinds need nothing from the caller: the engine knows the Go types of the
//! kinds Argo CD's scheme has ([`schema::schema`]).
//!
//! ```
//! use drift_core::app::fixtures::{mk_app, mk_resource};
//! use drift_core::drift::{Inspector, LiveRead, ResourceInput, jq::JqCache, report, settings};
//! use std::collections::BTreeMap;
//!
//! let argocd_cm: BTreeMap<String, String> = BTreeMap::new(); // argocd-cm's `data`
//! let system = settings::parse_argocd_cm(&argocd_cm);
//! let jq = JqCache::new(); // keep one for the process
//! let mut app = mk_app("argocd", "shop", "default");
//! let mut r = mk_resource("", "ConfigMap", "shop", "config");
//! r.status = Some("OutOfSync".into());
//! app.status.resources.push(r);
//!
//! let live = serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap",
//!     "metadata": {"name": "config", "namespace": "shop", "annotations": {
//!         "kubectl.kubernetes.io/last-applied-configuration":
//!             r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"config"},"data":{"LOG":"info"}}"#},
//!         "managedFields": [{"manager": "kubectl-edit", "operation": "Update",
//!             "time": "2026-11-21T09:00:00Z", "fieldsV1": {"f:data": {"f:LOG": {}}}}]},
//!     "data": {"LOG": "debug"}});
//!
//! let inspector = Inspector::for_app(&app, &system, &jq).with_secrets(false);
//! // In the backend: a budget whose `start` sets a deadline `jq_timeout` ahead (see jq::JqBudget).
//! let mut budget = || false;
//! let resources = report::resources_to_inspect(&app, false)
//!     .map(|r| {
//!         let input = ResourceInput { resource: r, live: LiveRead::Found(live.clone()), argocd: None };
//!         inspector.inspect(&input, &mut budget)
//!     })
//!     .collect();
//! let read_at = "2026-11-21T12:00:00Z".parse().unwrap();
//! let doc = report::drift_report(&app, resources, read_at, false);
//! let field = &doc.resources[0].fields[0];
//! assert_eq!(field.pointer, "/data/LOG");
//! assert_eq!(field.attribution.as_ref().unwrap().manager, "kubectl-edit");
//! ```

pub mod compare;
pub mod evidence;
pub mod jq;
pub mod managed;
pub mod normalize;
pub mod path;
pub mod quantity;
pub mod report;
pub mod scalar;
pub mod schema;
pub mod secret;
pub mod settings;
pub mod view;

use crate::app::{AppKey, Application, ApplicationSpec, ResourceStatus};
use compare::{Diff, DiffKind, Rules};
use evidence::SyncEvidence;
use jq::{JqBudget, JqCache};
use managed::{Entry, ManagerClass, Ownership};
use normalize::{LAST_APPLIED, Normalizer};
use path::{Path, Seg};
use schema::{Field, Shape, TypeId};
use secret::Masker;
use serde_json::Value;
use settings::SystemSettings;
use view::*;

/// Whether a different order of merge-keyed items (containers, env, …) is drift. Argo CD's
/// strategic merge patch emits `$setElementOrder` when live's order of the desired items differs,
/// and applying it reorders live, so the prediction differs from live (ARGOCD-DIFF.md §1.5).
pub const KEYED_ORDER_IS_DRIFT: bool = true;

/// The sync status Argo CD writes when live state differs from Git.
const OUT_OF_SYNC: &str = "OutOfSync";
/// The sync status Argo CD writes when live state equals Git.
const SYNCED: &str = "Synced";

/// What reading the live object gave.
pub enum LiveRead {
    Found(Value),
    /// 404: the object does not exist.
    NotFound,
    Failed(ReadFailure),
}

// The live object may be a Secret: Debug never shows it.
impl std::fmt::Debug for LiveRead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LiveRead::Found(_) => f.write_str("Found(..)"),
            LiveRead::NotFound => f.write_str("NotFound"),
            LiveRead::Failed(e) => write!(f, "Failed({e:?})"),
        }
    }
}

/// Why a live object was not read. The message is the backend's own (never object content).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReadFailure {
    /// 403, or the kind is not served by the cluster.
    KindNotReadable(String),
    ClusterUnreachable(String),
    /// The backend did not read it because Secret reading is off.
    SecretReadingDisabled,
    Other(String),
}

/// One item of Argo CD's `GET /api/v1/applications/{app}/managed-resources`, with its JSON-string
/// states parsed (`"null"` → `None`).
#[derive(Clone, PartialEq)]
pub struct ManagedResource {
    pub group: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub target_state: Option<Value>,
    pub live_state: Option<Value>,
    pub normalized_live_state: Option<Value>,
    pub predicted_live_state: Option<Value>,
    pub modified: bool,
}

impl std::fmt::Debug for ManagedResource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ManagedResource({}/{}/{}/{}, modified: {})",
            self.group, self.kind, self.namespace, self.name, self.modified
        )
    }
}

/// Why a managed-resources item could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ManagedResourceError {
    #[error("managed-resources item is not an object")]
    NotAnObject,
    #[error("managed-resources item: {0} is not valid JSON")]
    BadState(&'static str),
}

impl ManagedResource {
    /// Parses one item as the API returns it.
    pub fn from_api_item(item: &Value) -> Result<ManagedResource, ManagedResourceError> {
        let obj = item.as_object().ok_or(ManagedResourceError::NotAnObject)?;
        let text = |k: &str| {
            obj.get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        let state = |k: &'static str| -> Result<Option<Value>, ManagedResourceError> {
            match obj.get(k) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) if s.is_empty() => Ok(None),
                Some(Value::String(s)) => {
                    let v: Value =
                        serde_json::from_str(s).map_err(|_| ManagedResourceError::BadState(k))?;
                    Ok((!v.is_null()).then_some(v))
                }
                Some(v @ Value::Object(_)) => Ok(Some(v.clone())),
                Some(_) => Err(ManagedResourceError::BadState(k)),
            }
        };
        Ok(ManagedResource {
            group: text("group"),
            kind: text("kind"),
            namespace: text("namespace"),
            name: text("name"),
            target_state: state("targetState")?,
            live_state: state("liveState")?,
            normalized_live_state: state("normalizedLiveState")?,
            predicted_live_state: state("predictedLiveState")?,
            modified: obj
                .get("modified")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        })
    }

    /// Is this the item for `r`?
    pub fn is_for(&self, r: &ResourceStatus) -> bool {
        self.group == r.group
            && self.kind == r.kind
            && self.namespace == r.namespace
            && self.name == r.name
    }
}

/// Everything about one resource the engine needs.
#[derive(Debug)]
pub struct ResourceInput<'a> {
    /// The resource's entry in `status.resources`: identity and Argo CD's verdict.
    pub resource: &'a ResourceStatus,
    pub live: LiveRead,
    /// Argo CD's managed-resources item for it, when the Argo CD source is configured.
    pub argocd: Option<&'a ManagedResource>,
}

/// What is the same for every resource of one app.
#[derive(Debug)]
pub struct Inspector<'a> {
    pub app: &'a ApplicationSpec,
    /// The app's name, for its objects' tracking ids ([`Inspector::for_app`]).
    pub key: Option<&'a AppKey>,
    /// What the app's status says about Git and the last sync ([`Inspector::for_app`]; without
    /// it nothing is known, so `gitAhead` is never claimed).
    pub evidence: SyncEvidence,
    pub system: &'a SystemSettings,
    pub jq: &'a JqCache,
    /// Secrets are inspected only when reading them is switched on.
    pub read_secrets: bool,
    pub keyed_order_is_drift: bool,
}

/// One ignore expression in force for a resource.
#[derive(Clone, Debug)]
struct ActiveRule {
    r: RuleRef,
}

/// The result of analysing one resource, before it is turned into a view.
struct Analysis {
    drift: ResourceDrift,
    desired: Option<Value>,
    live: Option<Value>,
    predicted: Option<Value>,
    entries: Vec<ManagedFieldsEntry>,
}

// === impl Inspector ===

impl<'a> Inspector<'a> {
    pub fn new(app: &'a ApplicationSpec, system: &'a SystemSettings, jq: &'a JqCache) -> Self {
        Inspector {
            app,
            key: None,
            evidence: SyncEvidence::default(),
            system,
            jq,
            read_secrets: false,
            keyed_order_is_drift: KEYED_ORDER_IS_DRIFT,
        }
    }

    /// The inspector for `app`: its spec, its name (tracking ids) and its status (evidence that
    /// Git moved, the last sync, the last comparison).
    pub fn for_app(app: &'a Application, system: &'a SystemSettings, jq: &'a JqCache) -> Self {
        Inspector {
            key: Some(&app.key),
            evidence: SyncEvidence::of(&app.status),
            ..Inspector::new(&app.spec, system, jq)
        }
    }

    pub fn with_secrets(mut self, read: bool) -> Self {
        self.read_secrets = read;
        self
    }

    /// The resource's entry in `GET /api/v1/drift`.
    pub fn inspect(&self, input: &ResourceInput<'_>, budget: &mut dyn JqBudget) -> ResourceDrift {
        self.analyze(input, budget, false).drift
    }

    /// `GET /api/v1/drift/resource`.
    pub fn detail(&self, input: &ResourceInput<'_>, budget: &mut dyn JqBudget) -> ResourceDetail {
        let a = self.analyze(input, budget, true);
        let diff = match (&a.live, &a.predicted) {
            (Some(l), Some(p)) => unified_diff(l, p),
            _ => String::new(),
        };
        ResourceDetail {
            resource: a.drift,
            desired: a.desired,
            live: a.live,
            predicted_live: a.predicted,
            diff,
            managed_fields: a.entries,
        }
    }

    /// `detail`: also keep the normalized, predicted and masked objects for the deep view.
    fn analyze(
        &self,
        input: &ResourceInput<'_>,
        budget: &mut dyn JqBudget,
        detail: bool,
    ) -> Analysis {
        let r = input.resource;
        let mut a = Analysis {
            drift: skeleton(r),
            desired: None,
            live: None,
            predicted: None,
            entries: Vec::new(),
        };
        let secret = r.group.is_empty() && r.kind == "Secret";
        a.drift.masked = secret || !self.system.sensitive_annotations.is_empty();
        if r.hook {
            return not_inspected(
                a,
                NotInspectedReason::Hook,
                "a hook: Argo CD does not diff hooks",
            );
        }
        if r.requires_pruning {
            a.drift.cause = Cause::Extra;
            // `IgnoreExtraneous` on the live object: Argo CD keeps the app Synced.
            let live = match (&input.live, input.argocd) {
                (LiveRead::Found(v), _) => Some(v),
                (_, Some(mr)) => mr.live_state.as_ref(),
                _ => None,
            };
            a.drift.ignore_extraneous = live
                .and_then(|l| {
                    l.pointer("/metadata/annotations/argocd.argoproj.io~1compare-options")
                })
                .and_then(Value::as_str)
                .is_some_and(|o| o.split(',').any(|x| x.trim() == "IgnoreExtraneous"));
            return a;
        }
        if secret && !self.read_secrets {
            return not_inspected(
                a,
                NotInspectedReason::SecretReadingDisabled,
                "reading Secrets is switched off",
            );
        }
        let live = match &input.live {
            LiveRead::Found(v) => v,
            LiveRead::NotFound => {
                a.drift.cause = Cause::Missing;
                return a;
            }
            LiveRead::Failed(f) => {
                let (reason, msg) = match f {
                    ReadFailure::KindNotReadable(m) => {
                        (NotInspectedReason::KindNotReadable, m.clone())
                    }
                    ReadFailure::ClusterUnreachable(m) => {
                        (NotInspectedReason::ClusterUnreachable, m.clone())
                    }
                    ReadFailure::SecretReadingDisabled => (
                        NotInspectedReason::SecretReadingDisabled,
                        "reading Secrets is switched off".into(),
                    ),
                    ReadFailure::Other(m) => (NotInspectedReason::ReadFailed, m.clone()),
                };
                return not_inspected(a, reason, &msg);
            }
        };
        if !live.is_object() {
            return not_inspected(
                a,
                NotInspectedReason::MalformedLiveObject,
                "the live object is not a JSON object",
            );
        }
        let ownership = Ownership::of(live);
        for p in &ownership.problems {
            a.drift.problems.push(Problem {
                kind: ProblemKind::ManagedFields,
                rule: None,
                message: p.clone(),
            });
        }
        a.entries = ownership.entries.iter().map(entry_view).collect();
        let ctx = self.ctx(r);

        let last_applied = live
            .get("metadata")
            .and_then(|m| m.get("annotations"))
            .and_then(|an| an.get(LAST_APPLIED));
        let local = match last_applied {
            Some(Value::String(text)) => match serde_json::from_str::<Value>(text) {
                Ok(v) if v.is_object() => Some(Ok(v)),
                _ => Some(Err(())),
            },
            Some(_) => Some(Err(())),
            None => None,
        };

        // Server-side applied: a last-applied annotation left from an earlier client-side sync
        // is stale (Argo CD does not use it either; ARGOCD-DIFF.md §5.2).
        let server_side = self.server_side(live);
        let local = if server_side && !matches!(local, Some(Err(()))) {
            None
        } else {
            local
        };

        // A jq rule this engine cannot run: what Argo CD ignores with it is not known (with
        // Argo CD's own diff, its rules are already applied).
        if input.argocd.is_none()
            && let Some((rule, why)) = self.unsupported_rule(&ctx)
        {
            return not_inspected(
                a,
                NotInspectedReason::UnsupportedIgnoreRule,
                &format!(
                    "the ignore rule {} ({:?}) cannot be run here: {why}; Argo CD may ignore \
                     differences this engine would show",
                    rule.source, rule.expression
                ),
            );
        }
        if let Some(mr) = input.argocd {
            match (&mr.normalized_live_state, &mr.predicted_live_state) {
                (Some(n), Some(p)) => {
                    let local_fields = match local {
                        Some(Ok(la)) => {
                            Some(self.by_last_applied(&ctx, la, live, &ownership, budget, false))
                        }
                        _ => None,
                    };
                    let states = (n, p);
                    self.by_argocd(
                        &mut a,
                        &ctx,
                        mr,
                        states,
                        live,
                        &ownership,
                        local_fields,
                        detail,
                    );
                    return finish(a, &ctx, self.system, detail);
                }
                _ => a.drift.problems.push(Problem {
                    kind: ProblemKind::ArgoCdSource,
                    rule: None,
                    message:
                        "Argo CD's managed-resources item has no normalized or predicted state; \
                              using the local record"
                            .into(),
                }),
            }
        }
        match local {
            Some(Ok(la)) => {
                if let Some(other) = self.tracked_by_another_app(live, &la) {
                    return not_inspected(
                        a,
                        NotInspectedReason::TrackedByAnotherApp,
                        &format!(
                            "the object's tracking id names the app `{other}`: the record on it is \
                             that app's, while Argo CD compares it with this app's Git"
                        ),
                    );
                }
                if let Some(writer) = foreign_record(&ownership) {
                    self.by_ownership(&mut a, &ctx, live, &ownership, budget, Some(&writer));
                    return finish(a, &ctx, self.system, detail);
                }
                let local = self.by_last_applied(&ctx, la, live, &ownership, budget, detail);
                a.drift.desired_source = DesiredSource::LastApplied;
                a.drift.fields = local.fields;
                a.drift.ignored = local.ignored;
                a.drift.problems.extend(local.problems);
                a.drift.additions = local.additions;
                a.desired = Some(local.desired);
                a.live = local.live;
                newer_argocd_writes(&mut a.drift, &ownership);
                self.local_cause(&mut a.drift, &ctx);
                finish(a, &ctx, self.system, detail)
            }
            Some(Err(())) => not_inspected(
                a,
                NotInspectedReason::UnparseableAnnotation,
                "the last-applied-configuration annotation is not a JSON object",
            ),
            // Server-side applied, or applied so by Argo CD once (a manual sync with the option)
            // and never given a record: who took fields from Argo CD.
            None if server_side || ownership.argocd_applies_server_side() => {
                self.by_ownership(&mut a, &ctx, live, &ownership, budget, None);
                finish(a, &ctx, self.system, detail)
            }
            None if self.replace_sync(live) => not_inspected(
                a,
                NotInspectedReason::ReplaceSync,
                "synced with Replace=true: Argo CD records no applied state on the object",
            ),
            None => not_inspected(
                a,
                NotInspectedReason::NoDesiredState,
                "the object has no last-applied-configuration and no server-side apply record by \
                 Argo CD; configure the Argo CD source to compare it",
            ),
        }
    }

    fn ctx<'r>(&self, r: &'r ResourceStatus) -> Ctx<'r> {
        let root = schema::schema().kind(&r.group, &r.version, &r.kind);
        let builtin = root.is_some();
        Ctx {
            group: &r.group,
            kind: &r.kind,
            namespace: &r.namespace,
            name: &r.name,
            builtin,
            root,
            secret: r.group.is_empty() && r.kind == "Secret",
            argo_out_of_sync: r.status.as_deref() == Some(OUT_OF_SYNC),
            argo_synced: r.status.as_deref() == Some(SYNCED),
        }
    }

    fn normalizer<'r>(&'r self, ctx: &Ctx<'r>) -> Normalizer<'r> {
        Normalizer {
            group: ctx.group,
            kind: ctx.kind,
            builtin: ctx.builtin,
            status_field: self.system.status_field,
            ignore_aggregated_roles: self.system.ignore_aggregated_roles,
            instance_label_key: &self.system.instance_label_key,
        }
    }

    fn rules(&self, ctx: &Ctx<'_>) -> Rules {
        Rules {
            root: ctx.root,
            typed_desired: false,
            keyed_order_is_drift: self.keyed_order_is_drift,
            deletions: !self.server_side_diff(),
        }
    }

    /// The fields of this custom resource diffed as Kubernetes types (argocd-cm
    /// `knownTypeFields`, matched by exact group and kind as Argo CD does).
    fn known_fields(&self, ctx: &Ctx<'_>) -> Vec<(Vec<String>, Shape)> {
        if ctx.builtin {
            return Vec::new();
        }
        let sc = schema::schema();
        self.system
            .known_type_fields
            .iter()
            .filter(|k| k.group == ctx.group && k.kind == ctx.kind)
            .filter_map(|k| {
                let shape = match k.type_name.as_str() {
                    "core/Quantity" => Shape::Quantity,
                    "meta/v1/Duration" => Shape::Duration,
                    name => Shape::Struct(sc.by_name(name)?),
                };
                Some((k.field.clone(), shape))
            })
            .collect()
    }

    /// Is the object under server-side apply: the app or the object says `ServerSideApply=true`?
    /// Argo CD decides its diff mode so (ARGOCD-DIFF.md §1.2); an `Apply` entry of Argo CD's in
    /// `managedFields` alone (a manual sync with the server-side option) does not change it, and
    /// Argo CD keeps diffing against the last-applied record.
    fn server_side(&self, live: &Value) -> bool {
        let app = self
            .app
            .sync_policy
            .as_ref()
            .is_some_and(|p| p.has_option("ServerSideApply=true"));
        let annotated = live
            .pointer("/metadata/annotations/argocd.argoproj.io~1sync-options")
            .and_then(Value::as_str)
            .is_some_and(|s| s.split(',').any(|o| o.trim() == "ServerSideApply=true"));
        app || annotated
    }

    /// The app named by the tracking id on the live object or on the record, when that is not
    /// this app (only known with [`Inspector::for_app`]).
    fn tracked_by_another_app(&self, live: &Value, record: &Value) -> Option<String> {
        let key = self.key?;
        [live, record].into_iter().find_map(|o| {
            let id = o
                .get("metadata")?
                .get("annotations")?
                .get(normalize::TRACKING_ANNOTATION)?
                .as_str()?;
            let app = evidence::tracking_app(id)?;
            (!evidence::tracks(app, key)).then(|| app.to_string())
        })
    }

    /// The cause from the last-applied comparison (ARGOCD-DIFF.md §7.1): a field differs →
    /// `liveChanged`; none differs but Argo CD says OutOfSync → `gitAhead` only when the app's
    /// status shows Git moved since the last sync, otherwise `notInspected`
    /// (`argoDiffersLocally`). Argo CD says Synced while fields differ from a record written
    /// before Argo CD last compared: Git caught up with a change made live, the record is stale.
    fn local_cause(&self, d: &mut ResourceDrift, ctx: &Ctx<'_>) {
        d.cause = if !d.fields.is_empty() {
            if ctx.argo_synced && self.seen_by_argocd(&d.fields) {
                d.problems.push(Problem {
                    kind: ProblemKind::StaleRecord,
                    rule: None,
                    message: format!(
                        "{} field(s) differ from the last-applied record, but Argo CD compared \
                         this resource after they were last written and reports it Synced: Git \
                         has caught up with them (the record is stale until the next sync)",
                        d.fields.len()
                    ),
                });
                d.fields.clear();
                Cause::NoDrift
            } else {
                Cause::LiveChanged
            }
        } else if ctx.argo_out_of_sync {
            match self.evidence.git_moved {
                Some(true) => Cause::GitAhead,
                known => {
                    d.not_inspected = Some(NotInspected {
                        reason: NotInspectedReason::ArgoDiffersLocally,
                        message: format!(
                            "Argo CD sees a difference this engine does not reproduce: live \
                             equals Argo CD's last-applied record and {}; configure the Argo CD \
                             source for its exact diff",
                            if known.is_some() {
                                "Git has not moved since the last sync"
                            } else {
                                "the app's status does not show whether Git moved since the last \
                                 sync"
                            }
                        ),
                    });
                    Cause::NotInspected
                }
            }
        } else {
            Cause::NoDrift
        };
    }

    /// Was every drifted field last written before Argo CD's last comparison? (A status with no
    /// `reconciledAt` cannot say otherwise: Argo CD's verdict stands.)
    fn seen_by_argocd(&self, fields: &[FieldDrift]) -> bool {
        let Some(reconciled) = self.evidence.reconciled_at else {
            return true;
        };
        fields.iter().all(|f| {
            f.attribution
                .as_ref()
                .and_then(|a| a.time.as_deref())
                .and_then(|t| t.parse::<jiff::Timestamp>().ok())
                .is_some_and(|t| t <= reconciled)
        })
    }

    /// Does Argo CD diff this app server-side (a dry-run apply)? The app's compare options
    /// (`ServerSideDiff=true|false`) win over the controller's setting
    /// (`controller.diff.server.side` in argocd-cmd-params-cm).
    fn server_side_diff(&self) -> bool {
        if self.app.has_compare_option("ServerSideDiff=false") {
            return false;
        }
        self.app.has_compare_option("ServerSideDiff=true") || self.system.server_side_diff
    }

    fn replace_sync(&self, live: &Value) -> bool {
        let app = self
            .app
            .sync_policy
            .as_ref()
            .is_some_and(|p| p.has_option("Replace=true"));
        let annotated = live
            .pointer("/metadata/annotations/argocd.argoproj.io~1sync-options")
            .and_then(Value::as_str)
            .is_some_and(|s| s.split(',').any(|o| o.trim() == "Replace=true"));
        app || annotated
    }

    /// The first jq rule in force here that does not parse, compile, or is outside what the
    /// engine runs.
    fn unsupported_rule(&self, ctx: &Ctx<'_>) -> Option<(RuleRef, jq::JqError)> {
        self.active_rules(ctx)
            .into_iter()
            .filter(|r| r.r.kind == RuleKind::JqPathExpression)
            .find_map(|r| match self.jq.check(&r.r.expression) {
                Err(
                    e
                    @ (jq::JqError::Parse | jq::JqError::Compile(_) | jq::JqError::Unsupported(_)),
                ) => Some((r.r, e)),
                _ => None,
            })
    }

    /// The ignore expressions that select this resource: the app's first, then argocd-cm's.
    fn active_rules(&self, ctx: &Ctx<'_>) -> Vec<ActiveRule> {
        let mut out = Vec::new();
        // `managers`: whether the rule's managedFieldsManagers apply (Argo CD looks system ones
        // up by the exact `<group>/<kind>` key, app ones by the same globs as the rest).
        let mut add = |origin: RuleOrigin,
                       source: String,
                       rule: &crate::app::IgnoreDifference,
                       managers: bool| {
            let selected = settings::selects(rule, ctx.group, ctx.kind, ctx.namespace, ctx.name);
            let each = [
                (RuleKind::JsonPointer, &rule.json_pointers, selected),
                (
                    RuleKind::JqPathExpression,
                    &rule.jq_path_expressions,
                    selected,
                ),
                (
                    RuleKind::ManagedFieldsManager,
                    &rule.managed_fields_managers,
                    managers,
                ),
            ];
            for (kind, exprs, on) in each {
                for e in exprs.iter().filter(|_| on) {
                    out.push(ActiveRule {
                        r: RuleRef {
                            origin,
                            source: source.clone(),
                            kind,
                            expression: e.clone(),
                        },
                    });
                }
            }
        };
        for (i, rule) in self.app.ignore_differences.iter().enumerate() {
            let selected = settings::selects(rule, ctx.group, ctx.kind, ctx.namespace, ctx.name);
            add(
                RuleOrigin::App,
                format!("spec.ignoreDifferences[{i}]"),
                rule,
                selected,
            );
        }
        for sys in &self.system.ignore_rules {
            let managers = sys.managers_apply_to(ctx.group, ctx.kind);
            add(
                RuleOrigin::System,
                sys.source_key.clone(),
                &sys.rule,
                managers,
            );
        }
        out
    }

    /// Removes what the pointer and jq rules select from each object; per rule, the paths removed.
    fn apply_ignores(
        &self,
        rules: &[ActiveRule],
        objects: &mut [&mut Value],
        budget: &mut dyn JqBudget,
        problems: &mut Vec<Problem>,
    ) -> Vec<Vec<Path>> {
        let mut removed = vec![Vec::new(); rules.len()];
        for (i, rule) in rules.iter().enumerate() {
            match rule.r.kind {
                RuleKind::JsonPointer => {
                    let Some(segs) = path::parse_pointer(&rule.r.expression) else {
                        problems.push(skipped(&rule.r, "is not a JSON pointer".into()));
                        continue;
                    };
                    for obj in objects.iter_mut() {
                        // A pointer that does not exist is a no-op, as in Argo CD.
                        if let Some(p) = path::resolve(obj, &segs)
                            && !p.is_empty()
                        {
                            path::remove(obj, &p);
                            removed[i].push(p);
                        }
                    }
                }
                RuleKind::JqPathExpression => {
                    for obj in objects.iter_mut() {
                        // A Secret's values never reach a jq program: the paths are taken on a
                        // copy whose values are masked, so a predicate such as
                        // `select(startswith(…))` cannot tell them apart (it would read a value
                        // one character at a time through the verdict).
                        let masked = secret_values_masked(obj);
                        let input: &Value = masked.as_ref().unwrap_or(&**obj);
                        match self.jq.paths(&rule.r.expression, input, budget) {
                            Ok(paths) => {
                                let paths: Vec<Path> =
                                    paths.into_iter().filter(|p| !p.is_empty()).collect();
                                removed[i].extend(paths.iter().cloned());
                                jq::delete_paths(obj, paths);
                            }
                            Err(e) => {
                                problems.push(skipped(&rule.r, e.to_string()));
                                break;
                            }
                        }
                    }
                }
                RuleKind::ManagedFieldsManager => {}
            }
        }
        removed
    }

    /// Source 1: the last-applied record.
    fn by_last_applied(
        &self,
        ctx: &Ctx<'_>,
        mut desired: Value,
        live: &Value,
        ownership: &Ownership,
        budget: &mut dyn JqBudget,
        detail: bool,
    ) -> Local {
        // Argo CD types the object by the record's own apiVersion and kind.
        let sc = schema::schema();
        let root = match (
            desired.get("apiVersion").and_then(Value::as_str),
            desired.get("kind").and_then(Value::as_str),
        ) {
            (Some(av), Some(kind)) => {
                let (group, version) = schema::split_api_version(av);
                sc.kind(group, version, kind)
            }
            _ => ctx.root,
        };
        let ctx = &Ctx {
            root,
            builtin: root.is_some(),
            ..*ctx
        };
        let norm = self.normalizer(ctx);
        let mut rules = self.rules(ctx);
        // The typed round trip applies only to a record that decodes cleanly into its type.
        rules.typed_desired =
            root.is_some_and(|id| schema::conforms(sc, &Shape::Struct(id), &desired));
        norm.desired(&mut desired);
        let known = self.known_fields(ctx);
        for (keys, shape) in &known {
            normalize::known_type(sc, keys, shape, &mut desired);
        }
        // Live is copied only when normalizing it changes the comparison, or for the deep view.
        let live_n: std::borrow::Cow<'_, Value> =
            if detail || !known.is_empty() || norm.live_needs_normalizing(live, &desired) {
                let mut l = live.clone();
                norm.live(&mut l, Some(&desired));
                for (keys, shape) in &known {
                    normalize::known_type(sc, keys, shape, &mut l);
                }
                std::borrow::Cow::Owned(l)
            } else {
                std::borrow::Cow::Borrowed(live)
            };
        let live_n = live_n.as_ref();
        let raw = compare::subset(&desired, live_n, rules);

        let active = self.active_rules(ctx);
        let mut problems = Vec::new();
        // Copies with the ignored paths removed, only when a pointer or jq rule is in force.
        let removing = active
            .iter()
            .any(|r| r.r.kind != RuleKind::ManagedFieldsManager);
        let ignored_copies = removing.then(|| {
            let (mut d_i, mut l_i) = (desired.clone(), live_n.clone());
            let removed =
                self.apply_ignores(&active, &mut [&mut d_i, &mut l_i], budget, &mut problems);
            (d_i, l_i, removed)
        });
        let removed: Vec<Vec<Path>> = ignored_copies
            .as_ref()
            .map(|(_, _, r)| r.clone())
            .unwrap_or_else(|| vec![Vec::new(); active.len()]);
        let (d_i, l_i) = match &ignored_copies {
            Some((d, l, _)) => (d, l),
            None => (&desired, live_n),
        };
        let any_removed = removed.iter().any(|r| !r.is_empty());
        let (after, ignored) = if any_removed {
            let after = compare::subset(d_i, l_i, rules);
            let ignored = ignored_by_rules(&raw, &after, &active, &removed);
            (after, ignored)
        } else {
            (raw, Vec::new())
        };
        let mut ignored = ignored;
        let managers: Vec<&ActiveRule> = active
            .iter()
            .filter(|r| r.r.kind == RuleKind::ManagedFieldsManager)
            .collect();
        let mut fields = Vec::new();
        for d in after {
            // Argo CD removes what a listed manager's set holds among the modified fields,
            // where an atomic list is one field.
            let compared = comparison_path(ctx, &d.path);
            let by_manager = (d.kind == DiffKind::Changed)
                .then(|| {
                    managers
                        .iter()
                        .find(|m| ownership.member(compared, &m.r.expression))
                })
                .flatten();
            match by_manager {
                Some(m) => ignored.push(ignored_view(&d, m.r.clone())),
                None => fields.push(field_view(&d, ownership)),
            }
        }
        let additions = additions(ctx, ownership, Some(d_i), l_i, false);
        drop(ignored_copies);
        Local {
            desired,
            live: detail.then(|| live_n.clone()),
            fields,
            ignored,
            problems,
            additions,
        }
    }

    /// Source 2: Argo CD's own normalized and predicted live states.
    #[allow(clippy::too_many_arguments)]
    fn by_argocd(
        &self,
        a: &mut Analysis,
        ctx: &Ctx<'_>,
        mr: &ManagedResource,
        (normalized, predicted): (&Value, &Value),
        live: &Value,
        ownership: &Ownership,
        local: Option<Local>,
        detail: bool,
    ) {
        // `metadata.managedFields` is left out of the comparison, not copied out of the states.
        let diffs = compare::symmetric(predicted, normalized, self.rules(ctx));
        a.drift.desired_source = DesiredSource::ArgoCdManagedResources;
        a.drift.fields = diffs.iter().map(|d| field_view(d, ownership)).collect();
        // A live value another manager wrote since the last sync (and Argo CD does not hold), or
        // Argo CD's tracking id gone or replaced live (Git never changes it).
        let tracking = [
            Seg::key("metadata"),
            Seg::key("annotations"),
            Seg::key(normalize::TRACKING_ANNOTATION),
        ];
        let someone_else = diffs.iter().any(|d| {
            self.changed_live_since_sync(ownership, &d.path)
                || (d.path == tracking && d.kind != DiffKind::LiveOnly)
        });
        let local_drift = local.as_ref().is_some_and(|l| !l.fields.is_empty());
        a.drift.cause = if a.drift.fields.is_empty() && !mr.modified {
            Cause::NoDrift
        } else if someone_else || local_drift {
            Cause::LiveChanged
        } else if self.evidence.git_moved == Some(true) {
            Cause::GitAhead
        } else {
            // Argo CD's own diff differs and Git has not moved since the last sync (or that is
            // not known): the live object is what changed (a field deleted live has no owner).
            Cause::LiveChanged
        };
        // Additions: live-only fields of other managers, outside what Git (targetState) says.
        // The states are copied only when normalizing them changes the answer, or for the deep
        // view.
        let norm = self.normalizer(ctx);
        if let Some(target) = &mr.target_state {
            use std::borrow::Cow;
            let t: Cow<'_, Value> = if detail || norm.live_needs_normalizing(live, target) {
                let mut t = target.clone();
                norm.desired(&mut t);
                Cow::Owned(t)
            } else {
                Cow::Borrowed(target)
            };
            let l: Cow<'_, Value> = if detail || norm.live_needs_normalizing(live, &t) {
                let mut l = live.clone();
                norm.live(&mut l, Some(&t));
                Cow::Owned(l)
            } else {
                Cow::Borrowed(live)
            };
            a.drift.additions = additions(ctx, ownership, Some(&t), &l, false);
            if detail {
                a.desired = Some(t.into_owned());
            }
        }
        if let Some(l) = local {
            a.drift.ignored = l.ignored;
            a.drift.problems.extend(l.problems);
        }
        if detail {
            let without_managed_fields = |v: &Value| {
                let mut v = v.clone();
                if let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut) {
                    meta.remove("managedFields");
                }
                v
            };
            a.live = Some(without_managed_fields(normalized));
            a.predicted = Some(without_managed_fields(predicted));
        }
    }

    /// This app's tracking id, as Argo CD writes it on every object it applies (annotation
    /// tracking, the 3.x default): `<app>:<group>/<kind>:<namespace>/<name>`.
    fn tracking_id(&self, ctx: &Ctx<'_>) -> Option<String> {
        let key = self.key?;
        self.system.annotation_tracking.then(|| {
            format!(
                "{}:{}/{}:{}/{}",
                key.name, ctx.group, ctx.kind, ctx.namespace, ctx.name
            )
        })
    }

    /// The tracking annotation as a drifted field when live lacks it (someone removed it: Argo
    /// CD's desired state always carries it).
    fn missing_tracking_id(&self, ctx: &Ctx<'_>, live: &Value) -> Option<FieldDrift> {
        let want = self.tracking_id(ctx)?;
        let present = live
            .pointer("/metadata/annotations")
            .and_then(|a| a.get(normalize::TRACKING_ANNOTATION))
            .is_some();
        (!present).then(|| FieldDrift {
            pointer: format!(
                "/metadata/annotations/{}",
                path::escape(normalize::TRACKING_ANNOTATION)
            ),
            path: format!(
                "metadata.annotations[{}]",
                Value::String(normalize::TRACKING_ANNOTATION.into())
            ),
            change: Change::MissingLive,
            desired: Some(Value::String(want)),
            desired_known: true,
            live: None,
            attribution: None,
        })
    }

    /// Did a manager other than Argo CD write the value at `path` after the last successful
    /// sync, and Argo CD does not hold it? A co-owner that wrote before the sync (a tool the
    /// object was adopted from, `helm`) changed nothing since.
    fn changed_live_since_sync(&self, ownership: &Ownership, path: &[Seg]) -> bool {
        let owners = ownership.owners(path);
        if owners.iter().any(|o| o.is_argocd()) {
            return false;
        }
        owners.iter().any(|o| {
            let written = o
                .time
                .as_deref()
                .and_then(|t| t.parse::<jiff::Timestamp>().ok());
            // Times are whole seconds: a write in the second the sync ended may follow it.
            match (written, self.evidence.last_sync_at) {
                (Some(w), Some(sync)) => w >= sync,
                _ => true,
            }
        })
    }

    /// Source 3: no desired values — who took fields from Argo CD. Server-side applied objects
    /// (`record_writer` `None`), or a last-applied record another manager rewrote (a person's
    /// `kubectl apply`: `record_writer` is that manager, and only its fields are listed). When
    /// Argo CD does not say OutOfSync, those fields are additions it accepts, not drift.
    fn by_ownership(
        &self,
        a: &mut Analysis,
        ctx: &Ctx<'_>,
        live: &Value,
        ownership: &Ownership,
        budget: &mut dyn JqBudget,
        record_writer: Option<&str>,
    ) {
        let norm = self.normalizer(ctx);
        let mut live_n = live.clone();
        norm.live(&mut live_n, None);
        let active = self.active_rules(ctx);
        let mut l_i = live_n.clone();
        let removed = self.apply_ignores(&active, &mut [&mut l_i], budget, &mut a.drift.problems);
        // Fields written since the last sync: a manager that wrote before it (a tool the object
        // was adopted from) changed nothing Argo CD has not seen and synced over. With a record
        // another manager rewrote, that manager's fields, and any other's written since. Times
        // are whole seconds (a write in the second the sync ended may follow it).
        let since_sync = |t: &Addition| {
            let written = t
                .attribution
                .time
                .as_deref()
                .and_then(|x| x.parse::<jiff::Timestamp>().ok());
            match (record_writer, written, self.evidence.last_sync_at) {
                (Some(w), _, _) if t.attribution.manager == w => true,
                (_, Some(w), Some(sync)) => w >= sync,
                (Some(_), _, _) => false,
                (None, _, _) => true,
            }
        };
        let taken = additions(ctx, ownership, None, &live_n, true)
            .into_iter()
            .filter(since_sync);
        for t in taken {
            let path = pointer_path(&t.pointer, &live_n);
            let by_rule = active.iter().zip(&removed).find_map(|(r, paths)| {
                let hit = match r.r.kind {
                    RuleKind::ManagedFieldsManager => r.r.expression == t.attribution.manager,
                    _ => paths
                        .iter()
                        .any(|p| path.as_ref().is_some_and(|q| path::starts_with(q, p))),
                };
                hit.then(|| r.r.clone())
            });
            match by_rule {
                Some(rule) => a.drift.ignored.push(IgnoredDifference {
                    pointer: t.pointer,
                    path: t.path,
                    desired: None,
                    live: Some(t.live),
                    rule,
                }),
                None => a.drift.fields.push(FieldDrift {
                    pointer: t.pointer,
                    path: t.path,
                    change: Change::OwnedByAnotherManager,
                    desired: None,
                    desired_known: false,
                    live: Some(t.live),
                    attribution: Some(t.attribution),
                }),
            }
        }
        // Argo CD always applies its tracking id: one missing live was removed live.
        if let Some(f) = self.missing_tracking_id(ctx, &live_n) {
            a.drift.fields.push(f);
        }
        a.drift.desired_source = match record_writer {
            Some(_) => DesiredSource::AnotherManagersRecord,
            None => DesiredSource::ServerSideApplyAttribution,
        };
        if !ctx.argo_out_of_sync {
            // Argo CD accepts these values: additions outside Git, not drift.
            a.drift.additions = std::mem::take(&mut a.drift.fields)
                .into_iter()
                .filter_map(|f| {
                    Some(Addition {
                        pointer: f.pointer,
                        path: f.path,
                        live: f.live?,
                        attribution: f.attribution?,
                    })
                })
                .collect();
        }
        a.drift.cause = if !a.drift.fields.is_empty() {
            Cause::LiveChanged
        } else if ctx.argo_out_of_sync
            && record_writer.is_none()
            && self.evidence.git_moved == Some(true)
        {
            // Nothing left Argo CD and Git moved since the last sync.
            Cause::GitAhead
        } else if ctx.argo_out_of_sync {
            a.drift.not_inspected = Some(NotInspected {
                reason: NotInspectedReason::NoDesiredState,
                message: match record_writer {
                    Some(w) => format!(
                        "the last-applied record was rewritten by `{w}`, not Argo CD, and no \
                         field of its write differs; without the Argo CD source the difference \
                         Argo CD sees is not known here"
                    ),
                    None => "server-side applied and no field has left Argo CD; without the \
                             Argo CD source the difference Argo CD sees is not known here"
                        .into(),
                },
            });
            Cause::NotInspected
        } else {
            Cause::NoDrift
        };
        a.live = Some(live_n);
    }
}

/// The identity and rules of the resource being inspected.
#[derive(Clone, Copy)]
struct Ctx<'a> {
    group: &'a str,
    kind: &'a str,
    namespace: &'a str,
    name: &'a str,
    /// Argo CD's scheme knows the kind (strategic merge patch), with its Go type.
    builtin: bool,
    root: Option<TypeId>,
    secret: bool,
    argo_out_of_sync: bool,
    argo_synced: bool,
}

/// The local (last-applied) analysis.
struct Local {
    desired: Value,
    /// The normalized live object, for the deep view only.
    live: Option<Value>,
    fields: Vec<FieldDrift>,
    ignored: Vec<IgnoredDifference>,
    problems: Vec<Problem>,
    additions: Vec<Addition>,
}

fn skeleton(r: &ResourceStatus) -> ResourceDrift {
    ResourceDrift {
        group: r.group.clone(),
        version: r.version.clone(),
        kind: r.kind.clone(),
        namespace: r.namespace.clone(),
        name: r.name.clone(),
        argo_status: r.status.clone(),
        argo_health: r.health.as_ref().and_then(|h| h.status.clone()),
        requires_pruning: r.requires_pruning,
        hook: r.hook,
        cause: Cause::NoDrift,
        not_inspected: None,
        desired_source: DesiredSource::None,
        fields: Vec::new(),
        additions: Vec::new(),
        ignored: Vec::new(),
        problems: Vec::new(),
        last_change_at: None,
        masked: false,
        ignore_extraneous: false,
    }
}

fn not_inspected(mut a: Analysis, reason: NotInspectedReason, message: &str) -> Analysis {
    a.drift.cause = Cause::NotInspected;
    a.drift.not_inspected = Some(NotInspected {
        reason,
        message: message.to_string(),
    });
    a.drift.fields.clear();
    a.drift.additions.clear();
    a
}

/// For a Secret (`v1`), a copy whose `data` and `stringData` values and last-applied record are
/// replaced by a fixed mask, for rules to select paths on; `None` for any other object.
fn secret_values_masked(obj: &Value) -> Option<Value> {
    const MASK: &str = "++++++++";
    let is_secret = obj.get("kind").and_then(Value::as_str) == Some("Secret")
        && obj
            .get("apiVersion")
            .and_then(Value::as_str)
            .is_none_or(|v| v == "v1");
    if !is_secret {
        return None;
    }
    let mut copy = obj.clone();
    for field in ["data", "stringData"] {
        if let Some(Value::Object(values)) = copy.get_mut(field) {
            for value in values.values_mut() {
                *value = Value::String(MASK.into());
            }
        }
    }
    if let Some(Value::Object(annotations)) = copy.pointer_mut("/metadata/annotations")
        && let Some(record) =
            annotations.get_mut("kubectl.kubernetes.io/last-applied-configuration")
    {
        *record = Value::String(MASK.into());
    }
    Some(copy)
}

fn skipped(rule: &RuleRef, why: String) -> Problem {
    Problem {
        kind: ProblemKind::IgnoreRuleSkipped,
        rule: Some(rule.clone()),
        message: format!("{:?} rule skipped: {why}", rule.kind),
    }
}

fn attribution(e: &Entry) -> Attribution {
    Attribution {
        manager: e.manager.clone(),
        operation: e.operation.clone(),
        subresource: e.subresource.clone(),
        time: e.time.clone(),
        is_argo_cd: e.is_argocd(),
        manager_class: e.class,
    }
}

fn entry_view(e: &Entry) -> ManagedFieldsEntry {
    ManagedFieldsEntry {
        manager: e.manager.clone(),
        operation: e.operation.clone(),
        subresource: e.subresource.clone(),
        time: e.time.clone(),
        api_version: e.api_version.clone(),
        fields: e.field_count(),
        is_argo_cd: e.is_argocd(),
        manager_class: e.class,
    }
}

fn change(kind: DiffKind) -> Change {
    match kind {
        DiffKind::Changed => Change::Changed,
        DiffKind::MissingLive => Change::MissingLive,
        DiffKind::LiveOnly => Change::LiveOnly,
        DiffKind::Order => Change::Order,
    }
}

fn field_view(d: &Diff, ownership: &Ownership) -> FieldDrift {
    let owner = match d.kind {
        DiffKind::MissingLive => None,
        _ => ownership.owner(&d.path),
    };
    FieldDrift {
        pointer: path::to_pointer(&d.path),
        path: d.display.clone(),
        change: change(d.kind),
        desired: d.desired.clone(),
        desired_known: true,
        live: d.live.clone(),
        attribution: owner.map(attribution),
    }
}

fn ignored_view(d: &Diff, rule: RuleRef) -> IgnoredDifference {
    IgnoredDifference {
        pointer: path::to_pointer(&d.path),
        path: d.display.clone(),
        desired: d.desired.clone(),
        live: d.live.clone(),
        rule,
    }
}

/// The manager that last wrote the last-applied record, when that is not Argo CD (a person's
/// `kubectl apply -f` rewrites it; Argo CD's three-way diff still uses Git, so the record is not
/// Argo CD's any more). `None` when Argo CD holds it or nobody is on record for it.
fn foreign_record(ownership: &Ownership) -> Option<String> {
    let path = [
        Seg::key("metadata"),
        Seg::key("annotations"),
        Seg::key(LAST_APPLIED),
    ];
    let owners = ownership.owners(&path);
    if owners.is_empty() || owners.iter().any(|o| o.is_argocd()) {
        return None;
    }
    owners
        .into_iter()
        .max_by(|a, b| a.time.cmp(&b.time))
        .map(|o| o.manager.clone())
}

/// Drops the fields whose live value Argo CD itself wrote after it wrote the last-applied record
/// (a manual sync with the server-side option applies Git without updating the record, and Argo
/// CD keeps diffing against it): that value is Argo CD's, not a change made live.
fn newer_argocd_writes(d: &mut ResourceDrift, ownership: &Ownership) {
    let record = [
        Seg::key("metadata"),
        Seg::key("annotations"),
        Seg::key(LAST_APPLIED),
    ];
    let Some(recorded) = ownership
        .owners(&record)
        .into_iter()
        .filter(|o| o.is_argocd())
        .filter_map(|o| o.time.as_deref()?.parse::<jiff::Timestamp>().ok())
        .max()
    else {
        return;
    };
    let before = d.fields.len();
    d.fields.retain(|f| {
        let Some(path) = pointer_path_lenient(&f.pointer) else {
            return true;
        };
        let time = |o: &&Entry| {
            o.time
                .as_deref()
                .and_then(|t| t.parse::<jiff::Timestamp>().ok())
        };
        // The value's latest writer is Argo CD, after the record (a later write by anyone else
        // is a change again).
        let latest = ownership.owners(&path).into_iter().max_by_key(time);
        f.change == Change::MissingLive
            || !latest.is_some_and(|o| o.is_argocd() && time(&o).is_some_and(|t| t > recorded))
    });
    let dropped = before - d.fields.len();
    if dropped > 0 {
        d.problems.push(Problem {
            kind: ProblemKind::StaleRecord,
            rule: None,
            message: format!(
                "{dropped} field(s) differ from the last-applied record but hold values Argo CD \
                 wrote after it (a server-side sync does not update the record): not drift"
            ),
        });
    }
}

/// The differences of `raw` that are not in `after` (the ignore rules removed them), each with
/// the rule whose removed paths are at, inside or around it (else the first that removed
/// anything). Sets and sorted paths, not scans: both lists can hold thousands.
fn ignored_by_rules(
    raw: &[Diff],
    after: &[Diff],
    active: &[ActiveRule],
    removed: &[Vec<Path>],
) -> Vec<IgnoredDifference> {
    let kept: std::collections::HashSet<&Path> = after.iter().map(|d| &d.path).collect();
    let by_rule: Vec<std::collections::BTreeSet<&[Seg]>> = removed
        .iter()
        .map(|ps| ps.iter().map(Vec::as_slice).collect())
        .collect();
    let fallback = active
        .iter()
        .zip(removed)
        .find(|(_, paths)| !paths.is_empty())
        .map(|(r, _)| &r.r);
    let mut out = Vec::new();
    for d in raw.iter().filter(|d| !kept.contains(&d.path)) {
        let hit = |set: &std::collections::BTreeSet<&[Seg]>| {
            // An ancestor (or the path itself) removed…
            (0..=d.path.len()).any(|n| set.contains(&d.path[..n]))
                // …or something inside it: the first removed path at or after it.
                || set
                    .range::<[Seg], _>((
                        std::ops::Bound::Included(d.path.as_slice()),
                        std::ops::Bound::Unbounded,
                    ))
                    .next()
                    .is_some_and(|p| path::starts_with(p, &d.path))
        };
        let rule = active
            .iter()
            .zip(&by_rule)
            .find(|(_, set)| hit(set))
            .map(|(r, _)| &r.r)
            .or(fallback);
        if let Some(rule) = rule {
            out.push(ignored_view(d, rule.clone()));
        }
    }
    out
}

/// Paths no addition is ever reported under.
fn bookkeeping(p: &[Seg]) -> bool {
    let k = |i: usize| match p.get(i) {
        Some(Seg::Key(k)) => k.as_str(),
        _ => "",
    };
    p.is_empty()
        || k(0) == "status"
        || (k(0) == "metadata"
            && matches!(
                k(1),
                "managedFields" | "resourceVersion" | "generation" | "uid" | "creationTimestamp"
            ))
        || (k(0) == "metadata" && k(1) == "annotations" && k(2) == LAST_APPLIED)
}

/// Live fields owned by a manager that is neither Argo CD nor Kubernetes' control plane, outside
/// `desired` (when given; with `None`, every such field not also owned by Argo CD — the
/// server-side-apply case). Nested findings collapse into the outermost.
fn additions(
    ctx: &Ctx<'_>,
    ownership: &Ownership,
    desired: Option<&Value>,
    live: &Value,
    ssa: bool,
) -> Vec<Addition> {
    let mut found: Vec<(Path, &Entry)> = Vec::new();
    for e in &ownership.entries {
        if e.class == ManagerClass::ArgoCd || e.subresource.as_deref() == Some("status") {
            continue;
        }
        // The control plane's writes are never additions; server-side applied, its `spec`
        // fields are ones it took from Argo CD (the HPA's replicas).
        let control_plane = e.class == ManagerClass::Kubernetes;
        if control_plane && !ssa {
            continue;
        }
        for p in e.leaves.iter().chain(&e.nodes) {
            if bookkeeping(p) || path::get(live, p).is_none() {
                continue;
            }
            if control_plane && p.first() != Some(&Seg::key("spec")) {
                continue;
            }
            // A field's own node (`f:env: {".": {}, …}`: the manager created the list or map)
            // with children of the same manager: the children are what it added. A list item's
            // node (`k:{…}: {".": {}, …}`) stands for the whole item.
            let field_node = matches!(p.last(), Some(Seg::Key(_)));
            if field_node
                && e.leaves
                    .iter()
                    .chain(&e.nodes)
                    .any(|q| q.len() > p.len() && path::starts_with(q, p))
            {
                continue;
            }
            let outside = match desired {
                Some(d) => !in_desired(ctx, d, live, p),
                None => ssa && !ownership.owners(p).iter().any(|o| o.is_argocd()),
            };
            if outside {
                found.push((p.clone(), e));
            }
        }
    }
    found.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| b.1.time.cmp(&a.1.time)));
    let mut out: Vec<Addition> = Vec::new();
    // Sorted, a path's descendants follow it: only the last kept path can be an ancestor.
    let mut kept: Option<Path> = None;
    for (p, e) in found {
        if kept.as_ref().is_some_and(|k| path::starts_with(&p, k)) {
            continue;
        }
        let Some(value) = path::get(live, &p) else {
            continue;
        };
        out.push(Addition {
            pointer: path::to_pointer(&p),
            path: display(ctx, live, &p),
            live: value.clone(),
            attribution: attribution(e),
        });
        kept = Some(p);
    }
    out
}

/// Where a walk along a path is, as far as the Go types say.
#[derive(Clone, Copy)]
enum Pos {
    Untyped,
    Struct(TypeId),
    Shape(&'static Shape),
}

impl Pos {
    fn root(ctx: &Ctx<'_>) -> Pos {
        ctx.root.map_or(Pos::Untyped, Pos::Struct)
    }

    /// The field `k` of this position and where it leads.
    fn key(self, k: &str) -> (Option<&'static Field>, Pos) {
        let sc = schema::schema();
        let shape = match self {
            Pos::Untyped => return (None, Pos::Untyped),
            Pos::Struct(id) => return Self::field(sc.field(id, k)),
            Pos::Shape(s) => s.pointee(),
        };
        match shape {
            Shape::Struct(id) => Self::field(sc.field(*id, k)),
            Shape::Map(elem) => (None, Pos::Shape(elem)),
            _ => (None, Pos::Untyped),
        }
    }

    fn field(f: Option<&'static Field>) -> (Option<&'static Field>, Pos) {
        (f, f.map_or(Pos::Untyped, |f| Pos::Shape(&f.shape)))
    }

    /// The items of this list position.
    fn item(self) -> Pos {
        match self {
            Pos::Shape(s) => match s.pointee() {
                Shape::Slice(elem) => Pos::Shape(elem),
                _ => Pos::Untyped,
            },
            _ => Pos::Untyped,
        }
    }
}

/// The merge key of a list field, when its items merge by key.
fn merge_key(f: Option<&'static Field>) -> Option<&'static str> {
    f.filter(|f| f.merge)?.merge_key.as_deref()
}

/// The path as a structured comparison names the field: cut at the first list whose items do
/// not merge by key (an atomic list is compared, and owned, whole).
fn comparison_path<'p>(ctx: &Ctx<'_>, p: &'p [Seg]) -> &'p [Seg] {
    let mut pos = Pos::root(ctx);
    let mut field: Option<&'static Field> = None;
    for (i, seg) in p.iter().enumerate() {
        match seg {
            Seg::Key(k) => (field, pos) = pos.key(k),
            Seg::Index(_) => {
                if merge_key(field.take()).is_none() {
                    return &p[..i];
                }
                pos = pos.item();
            }
        }
    }
    p
}

/// Does the live path `p` correspond to something the desired object says (so a difference
/// there is drift, not an addition)?
fn in_desired(ctx: &Ctx<'_>, desired: &Value, live: &Value, p: &[Seg]) -> bool {
    let (mut d, mut l) = (desired, live);
    let mut pos = Pos::root(ctx);
    let mut field: Option<&'static Field> = None;
    for seg in p {
        match seg {
            Seg::Key(k) => {
                let Some(dv) = d.get(k) else { return false };
                let Some(lv) = l.get(k) else { return false };
                (field, pos) = pos.key(k);
                (d, l) = (dv, lv);
            }
            Seg::Index(i) => {
                let (Some(items), Some(lv)) = (d.as_array(), l.get(*i)) else {
                    return false;
                };
                match merge_key(field.take()) {
                    Some(key) => {
                        let Some(kv) = lv.get(key) else { return true };
                        match items
                            .iter()
                            .find(|it| it.get(key).is_some_and(|x| compare::scalar_eq(x, kv)))
                        {
                            Some(dv) => {
                                (d, l) = (dv, lv);
                                pos = pos.item();
                            }
                            None => return false,
                        }
                    }
                    // An atomic list (or any list of a custom resource) is Git's as a whole.
                    None => return true,
                }
            }
        }
    }
    true
}

/// A display path for a live path (keyed list items named by their merge key).
fn display(ctx: &Ctx<'_>, live: &Value, p: &[Seg]) -> String {
    let mut out = String::new();
    let mut cur = Some(live);
    let mut pos = Pos::root(ctx);
    let mut field: Option<&'static Field> = None;
    for seg in p {
        match seg {
            Seg::Key(k) => {
                compare::push_key(&mut out, k);
                (field, pos) = pos.key(k);
                cur = cur.and_then(|c| c.get(k));
            }
            Seg::Index(i) => {
                let item = cur.and_then(|c| c.get(i));
                match merge_key(field.take()).and_then(|key| Some((key, item?.get(key)?))) {
                    Some((key, Value::String(s))) => out.push_str(&format!("[{key}={s}]")),
                    Some((key, v)) => out.push_str(&format!("[{key}={v}]")),
                    None => out.push_str(&format!("[{i}]")),
                }
                pos = pos.item();
                cur = item;
            }
        }
    }
    out
}

fn pointer_path(pointer: &str, live: &Value) -> Option<Path> {
    path::resolve(live, &path::parse_pointer(pointer)?)
}

/// Masks, fills the predicted object and the last change time.
fn finish(mut a: Analysis, ctx: &Ctx<'_>, system: &SystemSettings, detail: bool) -> Analysis {
    let mut masker = Masker::new(
        ctx.secret,
        &system.sensitive_annotations,
        &[a.desired.as_ref(), a.live.as_ref()],
    );
    if !detail {
        a.desired = None;
        a.live = None;
        a.predicted = None;
    }
    // The predicted object: live with the desired values applied (unless Argo CD gave one).
    if a.predicted.is_none()
        && let Some(live) = &a.live
    {
        let mut p = live.clone();
        for f in &a.drift.fields {
            let Some(path) = pointer_path_lenient(&f.pointer) else {
                continue;
            };
            match (f.change, &f.desired) {
                (Change::LiveOnly, _) | (Change::Changed, Some(Value::Null)) => {
                    path::remove(&mut p, &path);
                }
                (Change::Changed | Change::MissingLive, Some(v)) => {
                    path::set(&mut p, &path, v.clone());
                }
                _ => {}
            }
        }
        a.predicted = Some(p);
    }
    for v in [&mut a.live, &mut a.predicted].into_iter().flatten() {
        if let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.remove("managedFields");
        }
    }
    if masker.active() {
        for f in &mut a.drift.fields {
            let p = pointer_path_lenient(&f.pointer).unwrap_or_default();
            for v in [&mut f.desired, &mut f.live].into_iter().flatten() {
                masker.mask_at(&p, v);
            }
        }
        for add in &mut a.drift.additions {
            let p = pointer_path_lenient(&add.pointer).unwrap_or_default();
            masker.mask_at(&p, &mut add.live);
        }
        for ig in &mut a.drift.ignored {
            let p = pointer_path_lenient(&ig.pointer).unwrap_or_default();
            for v in [&mut ig.desired, &mut ig.live].into_iter().flatten() {
                masker.mask_at(&p, v);
            }
        }
        for v in [&mut a.desired, &mut a.live, &mut a.predicted]
            .into_iter()
            .flatten()
        {
            masker.mask_object(v);
        }
    }
    a.drift.last_change_at = latest(a.drift.fields.iter().filter_map(|f| f.attribution.as_ref()))
        .or_else(|| latest(a.drift.additions.iter().map(|x| &x.attribution)));
    a
}

/// A pointer as segments, numbers read as indices (the engine's own pointers are unambiguous
/// enough for masking and for setting values back: a numeric object key only matters for
/// Secret data, whose keys cannot be all digits… they can, so masking treats both alike).
fn pointer_path_lenient(pointer: &str) -> Option<Path> {
    let segs = path::parse_pointer(pointer)?;
    Some(
        segs.into_iter()
            .map(|s| match s.parse::<usize>() {
                Ok(i) if s == i.to_string() => Seg::Index(i),
                _ => Seg::Key(s),
            })
            .collect(),
    )
}

fn latest<'x>(attrs: impl Iterator<Item = &'x Attribution>) -> Option<String> {
    attrs
        .filter_map(|a| {
            let t = a.time.as_ref()?;
            Some((t.parse::<jiff::Timestamp>().ok()?, t))
        })
        .max_by_key(|(ts, _)| *ts)
        .map(|(_, t)| t.clone())
}

/// Pretty JSON with sorted keys, line by line, unified.
fn unified_diff(live: &Value, predicted: &Value) -> String {
    let a = pretty(live);
    let b = pretty(predicted);
    similar::TextDiff::from_lines(&a, &b)
        .unified_diff()
        .context_radius(3)
        .header("live", "predicted")
        .to_string()
}

fn pretty(v: &Value) -> String {
    fn sorted(v: &Value) -> Value {
        match v {
            Value::Object(m) => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                Value::Object(
                    keys.into_iter()
                        .map(|k| (k.clone(), sorted(&m[k])))
                        .collect(),
                )
            }
            Value::Array(a) => Value::Array(a.iter().map(sorted).collect()),
            other => other.clone(),
        }
    }
    let mut s = serde_json::to_string_pretty(&sorted(v)).unwrap_or_default();
    s.push('\n');
    s
}
