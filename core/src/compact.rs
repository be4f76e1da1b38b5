//! An Application as the index holds it between requests: one packed allocation.
//!
//! The index holds every Application of the install — 50,000 in the largest — and a request
//! reads one. Held as [`Application`] structs, an app of 20 resources is ~10 KB of small
//! allocations (every kind, group, namespace and status its own `String`); packed, text an app
//! repeats is written once, the words every app shares (kinds, groups, versions, statuses) are a
//! byte from a [`Dictionary`], and the whole is one allocation of well under 1 KB. A request
//! unpacks the one app it serves ([`CompactApp::unpack`]); the watch's rules read the sync
//! status and the object version without unpacking ([`CompactApp::sync_status`],
//! [`CompactApp::version`]).
//!
//! Report links (rare) are kept beside the bytes, so the reports can list the apps that have
//! them without unpacking any.

use crate::app::{
    AppKey, Application, ApplicationSpec, ApplicationStatus, AutomatedSync, Condition, Destination,
    HealthStatus, IgnoreDifference, InitiatedBy, Operation, OperationState, ReportLink,
    ResourceStatus, RevisionHistory, SyncOperation, SyncPolicy, SyncResult, SyncStatus,
};
use crate::pack::{Dictionary, Reader, Writer};
use crate::tracking::ObjectVersion;

/// The words most Applications share, each written as one byte.
static WORDS: Dictionary = Dictionary::new(&[
    // statuses, phases
    "Synced",
    "OutOfSync",
    "Unknown",
    "Healthy",
    "Progressing",
    "Degraded",
    "Suspended",
    "Missing",
    "Succeeded",
    "Failed",
    "Running",
    "Error",
    "Terminating",
    "appTree",
    // condition types
    "ComparisonError",
    "SyncError",
    "OrphanedResourceWarning",
    "SharedResourceWarning",
    "InvalidSpecError",
    "RepeatedResourceWarning",
    // versions
    "v1",
    "v1beta1",
    "v1beta2",
    "v2",
    "v1alpha1",
    // groups
    "apps",
    "batch",
    "networking.k8s.io",
    "rbac.authorization.k8s.io",
    "autoscaling",
    "policy",
    "apiextensions.k8s.io",
    "admissionregistration.k8s.io",
    "storage.k8s.io",
    "scheduling.k8s.io",
    "argoproj.io",
    "monitoring.coreos.com",
    "cert-manager.io",
    "external-secrets.io",
    "bitnami.com",
    "gateway.networking.k8s.io",
    "keda.sh",
    // kinds
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "ReplicaSet",
    "Pod",
    "Job",
    "CronJob",
    "Service",
    "ConfigMap",
    "Secret",
    "Ingress",
    "IngressClass",
    "NetworkPolicy",
    "ServiceAccount",
    "Role",
    "RoleBinding",
    "ClusterRole",
    "ClusterRoleBinding",
    "HorizontalPodAutoscaler",
    "PodDisruptionBudget",
    "PersistentVolumeClaim",
    "PersistentVolume",
    "StorageClass",
    "Namespace",
    "LimitRange",
    "ResourceQuota",
    "PriorityClass",
    "CustomResourceDefinition",
    "ValidatingWebhookConfiguration",
    "MutatingWebhookConfiguration",
    "ServiceMonitor",
    "PodMonitor",
    "PrometheusRule",
    "Certificate",
    "Issuer",
    "ClusterIssuer",
    "ExternalSecret",
    "SealedSecret",
    "Gateway",
    "HTTPRoute",
    "ScaledObject",
    "Application",
    "AppProject",
    "Rollout",
    // destinations, projects, namespaces
    "https://kubernetes.default.svc",
    "in-cluster",
    "default",
    "kube-system",
    "argocd",
]);

/// An Application, packed (its key is the index's). Unpacking gives back exactly the app.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompactApp {
    bytes: Box<[u8]>,
    /// `None` for the (many) apps without an `argocd-drift.io/report-repos` annotation.
    links: Option<Box<[ReportLink]>>,
}

impl CompactApp {
    /// Packs `app` (its key aside) seen at `version`.
    pub fn pack(app: &Application, version: &ObjectVersion) -> CompactApp {
        let mut w = Writer::with(&WORDS);
        w.str(&version.uid);
        w.str(&version.resource_version);
        let status = &app.status;
        w.opt_str(status.sync.status.as_deref());
        write_spec(&mut w, &app.spec);
        write_status(&mut w, status);
        CompactApp {
            bytes: w.finish(),
            links: (!app.report_links.is_empty())
                .then(|| app.report_links.clone().into_boxed_slice()),
        }
    }

    /// The app, as it was packed. `None` only if this module has a bug (it reads what it wrote).
    pub fn unpack(&self, key: &AppKey) -> Option<(Application, ObjectVersion)> {
        let mut r = Reader::with(&self.bytes, &WORDS);
        let version = ObjectVersion {
            uid: r.string()?,
            resource_version: r.string()?,
        };
        let sync_status = r.opt_string()?;
        let spec = read_spec(&mut r)?;
        let mut status = read_status(&mut r)?;
        status.sync.status = sync_status;
        let app = Application {
            key: key.clone(),
            spec,
            status,
            report_links: self.report_links().to_vec(),
        };
        r.is_done().then_some((app, version))
    }

    /// `status.sync.status`, read without unpacking the rest.
    pub fn sync_status(&self) -> Option<&str> {
        let mut r = Reader::with(&self.bytes, &WORDS);
        r.str()?;
        r.str()?;
        r.opt_str()?
    }

    /// The object's uid and resourceVersion, read without unpacking the rest.
    pub fn version(&self) -> ObjectVersion {
        let mut r = Reader::with(&self.bytes, &WORDS);
        ObjectVersion {
            uid: r.string().unwrap_or_default(),
            resource_version: r.string().unwrap_or_default(),
        }
    }

    pub fn report_links(&self) -> &[ReportLink] {
        self.links.as_deref().unwrap_or_default()
    }

    /// Bytes held on the heap (the packed app and its links).
    pub fn heap_bytes(&self) -> usize {
        self.bytes.len()
            + self.links.as_ref().map_or(0, |l| {
                l.iter()
                    .map(|l| {
                        size_of::<ReportLink>()
                            + l.repo.len()
                            + l.server.as_ref().map_or(0, String::len)
                    })
                    .sum()
            })
    }
}

fn list<'a>(w: &mut Writer<'a>, items: &'a [String]) {
    w.u64(items.len() as u64);
    for item in items {
        w.str(item);
    }
}

fn read_list(r: &mut Reader<'_>) -> Option<Vec<String>> {
    let n = r.usize()?;
    (0..n).map(|_| r.string()).collect()
}

fn write_spec<'a>(w: &mut Writer<'a>, spec: &'a ApplicationSpec) {
    w.str(&spec.project);
    w.opt_str(spec.destination.server.as_deref());
    w.opt_str(spec.destination.name.as_deref());
    w.opt_str(spec.destination.namespace.as_deref());
    w.u64(spec.ignore_differences.len() as u64);
    for d in &spec.ignore_differences {
        w.str(&d.group);
        w.str(&d.kind);
        w.opt_str(d.name.as_deref());
        w.opt_str(d.namespace.as_deref());
        list(w, &d.json_pointers);
        list(w, &d.jq_path_expressions);
        list(w, &d.managed_fields_managers);
    }
    match &spec.sync_policy {
        None => w.byte(0),
        Some(policy) => {
            match &policy.automated {
                None => w.byte(1),
                Some(a) => w.byte(2 | (u8::from(a.prune) << 2) | (u8::from(a.self_heal) << 3)),
            }
            list(w, &policy.sync_options);
        }
    }
    w.opt_str(spec.compare_options.as_deref());
}

fn read_spec(r: &mut Reader<'_>) -> Option<ApplicationSpec> {
    let project = r.string()?;
    let destination = Destination {
        server: r.opt_string()?,
        name: r.opt_string()?,
        namespace: r.opt_string()?,
    };
    let n = r.usize()?;
    let mut ignore_differences = Vec::with_capacity(n.min(64));
    for _ in 0..n {
        ignore_differences.push(IgnoreDifference {
            group: r.string()?,
            kind: r.string()?,
            name: r.opt_string()?,
            namespace: r.opt_string()?,
            json_pointers: read_list(r)?,
            jq_path_expressions: read_list(r)?,
            managed_fields_managers: read_list(r)?,
        });
    }
    let sync_policy = match r.byte()? {
        0 => None,
        flags => Some(SyncPolicy {
            automated: (flags & 2 != 0).then_some(AutomatedSync {
                prune: flags & 4 != 0,
                self_heal: flags & 8 != 0,
            }),
            sync_options: read_list(r)?,
        }),
    };
    let compare_options = r.opt_string()?;
    Some(ApplicationSpec {
        project,
        destination,
        ignore_differences,
        sync_policy,
        compare_options,
    })
}

const HOOK: u8 = 1;
const PRUNE: u8 = 2;
const HEALTH: u8 = 4;

fn write_status<'a>(w: &mut Writer<'a>, s: &'a ApplicationStatus) {
    w.opt_str(s.sync.revision.as_deref());
    list(w, &s.sync.revisions);
    w.opt_str(s.health.status.as_deref());
    w.opt_str(s.health.message.as_deref());
    w.bool(s.operation_state.is_some());
    if let Some(op) = &s.operation_state {
        w.opt_str(op.phase.as_deref());
        w.opt_str(op.message.as_deref());
        w.opt_str(op.started_at.as_deref());
        w.opt_str(op.finished_at.as_deref());
        w.opt_str(op.operation.initiated_by.username.as_deref());
        w.bool(op.operation.initiated_by.automated);
        w.bool(op.operation.sync.is_some());
        if let Some(sync) = &op.operation.sync {
            w.opt_str(sync.revision.as_deref());
            list(w, &sync.revisions);
        }
        w.bool(op.sync_result.is_some());
        if let Some(result) = &op.sync_result {
            w.opt_str(result.revision.as_deref());
            list(w, &result.revisions);
        }
    }
    // Only the newest history entry: the one thing read from it is the last successful sync's
    // revision (gitAhead's evidence, `drift::evidence`), and Argo CD keeps ten.
    w.bool(!s.history.is_empty());
    if let Some(h) = s.history.last() {
        w.opt_str(h.revision.as_deref());
        list(w, &h.revisions);
        w.opt_str(h.deployed_at.as_deref());
    }
    w.opt_str(s.reconciled_at.as_deref());
    w.u64(s.conditions.len() as u64);
    for c in &s.conditions {
        w.str(&c.type_);
        w.opt_str(c.message.as_deref());
        w.opt_str(c.last_transition_time.as_deref());
    }
    w.opt_str(s.resource_health_source.as_deref());
    w.u64(s.resources.len() as u64);
    for r in &s.resources {
        w.str(&r.group);
        w.str(&r.version);
        w.str(&r.kind);
        w.str(&r.namespace);
        w.str(&r.name);
        w.opt_str(r.status.as_deref());
        let flags = [
            (r.hook, HOOK),
            (r.requires_pruning, PRUNE),
            (r.health.is_some(), HEALTH),
        ]
        .iter()
        .filter(|(on, _)| *on)
        .fold(0, |acc, (_, bit)| acc | bit);
        w.byte(flags);
        if let Some(h) = &r.health {
            w.opt_str(h.status.as_deref());
            w.opt_str(h.message.as_deref());
        }
    }
}

fn read_status(r: &mut Reader<'_>) -> Option<ApplicationStatus> {
    let sync = SyncStatus {
        status: None,
        revision: r.opt_string()?,
        revisions: read_list(r)?,
    };
    let health = HealthStatus {
        status: r.opt_string()?,
        message: r.opt_string()?,
    };
    let operation_state = if r.bool()? {
        let phase = r.opt_string()?;
        let message = r.opt_string()?;
        let started_at = r.opt_string()?;
        let finished_at = r.opt_string()?;
        let initiated_by = InitiatedBy {
            username: r.opt_string()?,
            automated: r.bool()?,
        };
        let sync = if r.bool()? {
            Some(SyncOperation {
                revision: r.opt_string()?,
                revisions: read_list(r)?,
            })
        } else {
            None
        };
        let sync_result = if r.bool()? {
            Some(SyncResult {
                revision: r.opt_string()?,
                revisions: read_list(r)?,
            })
        } else {
            None
        };
        Some(OperationState {
            phase,
            message,
            started_at,
            finished_at,
            operation: Operation { initiated_by, sync },
            sync_result,
        })
    } else {
        None
    };
    let history = if r.bool()? {
        vec![RevisionHistory {
            revision: r.opt_string()?,
            revisions: read_list(r)?,
            deployed_at: r.opt_string()?,
        }]
    } else {
        Vec::new()
    };
    let reconciled_at = r.opt_string()?;
    let n = r.usize()?;
    let mut conditions = Vec::with_capacity(n.min(64));
    for _ in 0..n {
        conditions.push(Condition {
            type_: r.string()?,
            message: r.opt_string()?,
            last_transition_time: r.opt_string()?,
        });
    }
    let resource_health_source = r.opt_string()?;
    let n = r.usize()?;
    let mut resources = Vec::with_capacity(n.min(100_000));
    for _ in 0..n {
        let group = r.string()?;
        let version = r.string()?;
        let kind = r.string()?;
        let namespace = r.string()?;
        let name = r.string()?;
        let status = r.opt_string()?;
        let flags = r.byte()?;
        let health = if flags & HEALTH != 0 {
            Some(HealthStatus {
                status: r.opt_string()?,
                message: r.opt_string()?,
            })
        } else {
            None
        };
        resources.push(ResourceStatus {
            group,
            version,
            kind,
            namespace,
            name,
            status,
            health,
            hook: flags & HOOK != 0,
            requires_pruning: flags & PRUNE != 0,
        });
    }
    Some(ApplicationStatus {
        sync,
        health,
        operation_state,
        reconciled_at,
        conditions,
        resources,
        history,
        resource_health_source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::fixtures::{mk_app, mk_resource, with_sync};

    fn version() -> ObjectVersion {
        ObjectVersion {
            uid: "4f1c2a9e-0000-4000-8000-000000000000".into(),
            resource_version: "1043".into(),
        }
    }

    /// An app with every field set, some twice.
    fn full() -> Application {
        let mut app = with_sync(mk_app("argocd", "payments-api", "payments"), "OutOfSync")
            .with_report_links(Some("rsyslog, nginx-conf:web-1"));
        app.spec.ignore_differences = vec![IgnoreDifference {
            group: "apps".into(),
            kind: "Deployment".into(),
            name: Some("api".into()),
            namespace: None,
            json_pointers: vec!["/spec/replicas".into()],
            jq_path_expressions: vec![".spec.template.metadata.annotations".into()],
            managed_fields_managers: vec!["kube-controller-manager".into()],
        }];
        app.spec.sync_policy = Some(SyncPolicy {
            automated: Some(AutomatedSync {
                prune: false,
                self_heal: true,
            }),
            sync_options: vec!["ServerSideApply=true".into()],
        });
        app.spec.compare_options = Some("ServerSideDiff=true".into());
        let s = &mut app.status;
        s.sync.revision = Some("9f2c1e0b".into());
        s.sync.revisions = vec!["a".into(), "b".into()];
        s.health = HealthStatus {
            status: Some("Degraded".into()),
            message: Some("1 of 2 replicas".into()),
        };
        s.operation_state = Some(OperationState {
            phase: Some("Succeeded".into()),
            message: Some("successfully synced".into()),
            started_at: Some("2026-11-21T11:00:00Z".into()),
            finished_at: Some("2026-11-21T11:00:05Z".into()),
            operation: Operation {
                initiated_by: InitiatedBy {
                    username: Some("alice".into()),
                    automated: false,
                },
                sync: Some(SyncOperation {
                    revision: Some("9f2c1e0b".into()),
                    revisions: vec![],
                }),
            },
            sync_result: Some(SyncResult {
                revision: Some("9f2c1e0b".into()),
                revisions: vec![],
            }),
        });
        s.history = vec![RevisionHistory {
            revision: Some("77aa01".into()),
            revisions: vec![],
            deployed_at: Some("2026-11-21T11:00:05Z".into()),
        }];
        s.reconciled_at = Some("2026-11-21T11:30:00Z".into());
        s.conditions = vec![Condition {
            type_: "SyncError".into(),
            message: Some("boom".into()),
            last_transition_time: None,
        }];
        s.resource_health_source = None;
        let mut hook = mk_resource("batch", "Job", "payments", "migrate");
        hook.hook = true;
        hook.health = Some(HealthStatus {
            status: Some("Healthy".into()),
            message: None,
        });
        let mut prune = mk_resource("", "ConfigMap", "payments", "old");
        prune.requires_pruning = true;
        prune.status = Some("OutOfSync".into());
        s.resources = vec![
            mk_resource("apps", "Deployment", "payments", "api"),
            mk_resource("", "Service", "payments", "api"),
            hook,
            prune,
            mk_resource("example.com", "Widget", "", "a-cluster-scoped-one"),
        ];
        app
    }

    #[test]
    fn an_app_unpacks_to_what_was_packed() {
        for app in [full(), mk_app("team-a", "bare", ""), {
            let mut a = mk_app("argocd", "nothing", "p");
            a.spec.destination = Destination::default();
            a
        }] {
            let packed = CompactApp::pack(&app, &version());
            assert_eq!(packed.unpack(&app.key), Some((app.clone(), version())));
            assert_eq!(packed.sync_status(), app.sync_status());
            assert_eq!(packed.version(), version());
            assert_eq!(packed.report_links(), app.report_links.as_slice());
        }
    }

    #[test]
    fn only_the_newest_history_entry_is_kept() {
        let mut app = full();
        let newest = app.status.history[0].clone();
        app.status.history.insert(
            0,
            RevisionHistory {
                revision: Some("older".into()),
                revisions: vec![],
                deployed_at: None,
            },
        );
        let (unpacked, _) = CompactApp::pack(&app, &version())
            .unpack(&app.key)
            .expect("a packed app unpacks");
        assert_eq!(unpacked.status.history, vec![newest]);
    }

    #[test]
    fn an_app_of_twenty_resources_packs_into_well_under_a_kilobyte() {
        let mut app = with_sync(mk_app("argocd", "payments-api", "payments"), "Synced");
        let kinds = [
            ("apps", "Deployment"),
            ("", "Service"),
            ("", "ConfigMap"),
            ("networking.k8s.io", "Ingress"),
        ];
        app.status.resources = (0..20)
            .map(|i| {
                let (group, kind) = kinds[i % kinds.len()];
                mk_resource(group, kind, "payments", &format!("payments-api-{i}"))
            })
            .collect();
        let packed = CompactApp::pack(&app, &version());
        assert!(packed.heap_bytes() < 600, "{} bytes", packed.heap_bytes());
        assert_eq!(packed.unpack(&app.key).map(|(a, _)| a), Some(app));
    }
}
