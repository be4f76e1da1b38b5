#!/usr/bin/env bash
# `make record-fixtures`: record the fixtures that come from real servers, on a fresh cluster:
#   - fixtures/demo/30-live-objects.yaml: the demo's drift story played on a real kube-apiserver,
#     so its managedFields are what a real server computes;
#   - fixtures/argocd-real/*.json: drift scenarios played for real against a real Argo CD control
#     plane (argocd-server, repo-server, application-controller, a Git repository on loopback),
#     with Argo CD's own verdict and diff (testenv/src/oracle.rs).
# Any argument names the Argo CD scenarios to re-record (default: all of them, and the demo).
set -euo pipefail
cd "$(dirname "$0")/.."

dir=$(mktemp -d "${TMPDIR:-/tmp}/drift-record.XXXXXX")
cleanup() {
  testenv/real-argocd.sh stop "$dir/argocd" >/dev/null 2>&1 || true
  testenv/real-kube.sh stop "$dir" >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT

testenv/real-kube.sh bins >/dev/null
testenv/real-argocd.sh bins >/dev/null
DRIFT_KUBE_WATCH_PID=$$ testenv/real-kube.sh start "$dir"
if (($# == 0)); then
  cargo run --locked -q -p testenv --bin record-drift-fixtures -- "$dir/kubeconfig" fixtures/demo/30-live-objects.yaml
fi
mkdir -p "$dir/argocd"
testenv/real-argocd.sh start --control-plane "$dir/argocd" "$dir/kubeconfig" http://127.0.0.1:9
cargo run --locked -q -p testenv --bin record-argocd-fixtures -- "$dir/argocd/argocd.env" fixtures/argocd-real "$@"
