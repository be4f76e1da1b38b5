#!/usr/bin/env bash
# `make test-real`: the end-to-end suites again, against a real kube-apiserver + etcd.
#
# Builds the binaries once per machine (cached by version), starts a throwaway cluster, runs
#   - the backend's cluster-agnostic suites (trust boundary, status API, cluster access, reports) with
#     DRIFT_TEST_CLUSTER=real, including the tests only a real server can run (RBAC, the
#     DriftReport schema and an admission policy refusing a report),
#   - the same requests through a real argocd-server in front of argocd-drift,
#   - the fake-versus-real conformance tests (ignored in plain `cargo test`),
# and stops the cluster whatever happens.
set -euo pipefail
cd "$(dirname "$0")/.."

dir=$(mktemp -d "${TMPDIR:-/tmp}/drift-real.XXXXXX")
cleanup() {
  testenv/real-argocd.sh stop "$dir/argocd" >/dev/null 2>&1 || true
  testenv/real-kube.sh stop "$dir" >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT

testenv/real-kube.sh bins >/dev/null
testenv/real-argocd.sh bins >/dev/null
DRIFT_KUBE_WATCH_PID=$$ testenv/real-kube.sh start "$dir"
# argocd-server in front; the test points its extension config at its own backend.
mkdir -p "$dir/argocd"
testenv/real-argocd.sh start "$dir/argocd" "$dir/kubeconfig" http://127.0.0.1:9

export DRIFT_TEST_CLUSTER=real DRIFT_TEST_KUBECONFIG="$dir/kubeconfig" DRIFT_TEST_ARGOCD_ENV="$dir/argocd/argocd.env"
cargo test --locked -p argocd-drift --test trust_boundary --test status_api --test cluster_access --test argocd_proxy --test reports -- --include-ignored
cargo test --locked -p testenv --test fake_matches_real -- --ignored
