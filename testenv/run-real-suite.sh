#!/usr/bin/env bash
# `make test-real`: the end-to-end suites again, against a real kube-apiserver + etcd.
#
# Builds the binaries once per machine (cached by version), starts a throwaway cluster, runs
#   - the backend's cluster-agnostic suites (trust boundary, status API) with DRIFT_TEST_CLUSTER=real,
#   - the fake-versus-real conformance tests (ignored in plain `cargo test`),
# and stops the cluster whatever happens.
set -euo pipefail
cd "$(dirname "$0")/.."

dir=$(mktemp -d "${TMPDIR:-/tmp}/drift-real.XXXXXX")
cleanup() {
  testenv/real-kube.sh stop "$dir" >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT

testenv/real-kube.sh bins >/dev/null
DRIFT_KUBE_WATCH_PID=$$ testenv/real-kube.sh start "$dir"

export DRIFT_TEST_CLUSTER=real DRIFT_TEST_KUBECONFIG="$dir/kubeconfig"
cargo test --locked -p argocd-drift --test trust_boundary --test status_api
cargo test --locked -p testenv --test fake_matches_real -- --ignored
