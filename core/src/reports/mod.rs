//! External drift reports: what checkers outside Kubernetes (e.g. a job comparing rsyslog
//! configuration in Git with the files on a fleet of hosts) say about one `repo:server`.
//!
//! The data model, as the rest of argocd-drift sees it:
//!
//! ```text
//!  reporter ──POST body──▶ parse (validate) ──▶ Report ──▶ resource::to_object ──▶ DriftReport CR
//!                                                  ▲                                     │ watch
//!                                                  └──────── resource::from_object ◀──────┘
//!  Grafana ◀── view::status_rows (compat /status.json)       view::report_view ──▶ Argo CD tab
//! ```
//!
//! - [`model`]: a [`Report`](model::Report), keyed by [`ReportKey`](model::ReportKey)
//!   (`repo:server`), and the limits every report obeys (the CRD's schema repeats them).
//! - [`parse`]: the two request bodies — the compat one the old gitops-status-server took, and the
//!   richer `/api/v1/reports` one — into a `Report`, with one error per violation naming the field.
//! - [`resource`]: the custom resource (`argocd-drift.io/v1alpha1` `DriftReport`): its name,
//!   derived safely from the key, and the object both ways.
//! - [`links`]: which Application a report belongs to (it names the app, or the app's
//!   `argocd-drift.io/report-repos` annotation lists its repo).
//! - [`view`]: every answer built from reports: the compat `/status.json` rows and `/health`, the
//!   proxy's per-app view, the status summary; filters, freshness, and the rule that decides
//!   which of two versions of a report wins.
//!
//! Pure: time is passed in; nothing here talks to Kubernetes or the network.

pub mod links;
pub mod model;
pub mod parse;
pub mod resource;
pub mod view;
