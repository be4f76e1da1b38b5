//! Test clusters for argocd-drift's end-to-end tests.
//!
//! One suite, two backends: every end-to-end test asks for a [`TestCluster`], which is the fake
//! API server by default and a real kube-apiserver + etcd when `DRIFT_TEST_CLUSTER=real` (set by
//! `make test-real`, which starts the real server once and passes its kubeconfig in
//! `DRIFT_TEST_KUBECONFIG`). Tests that inject faults ask for [`TestCluster::fake`] explicitly.
//!
//! Tests create their objects through the Kubernetes API in both cases, under per-test
//! namespace names ([`TestCluster::ns`]), so they can share one real server and run in parallel.

pub mod argocd;
pub mod chart;
mod cluster;
mod fixtures;
pub mod git;
pub mod http;
pub mod oracle;
pub mod recording;
pub mod scenario;

pub use cluster::{Backend, FIXTURE_MANAGER, Seeded, TestCluster};
pub use fixtures::{fixture_dir, load_fixture_dir, project_crd_dir, remap_namespaces};
