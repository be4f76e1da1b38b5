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

. testenv/throwaway.sh
throwaway_cluster record

if (($# == 0)); then
  cargo run --locked -q -p testenv --bin record-drift-fixtures -- "$dir/kubeconfig" fixtures/demo/30-live-objects.yaml
fi
mkdir -p "$dir/argocd"
testenv/real-argocd.sh start --control-plane "$dir/argocd" "$dir/kubeconfig" http://127.0.0.1:9
cargo run --locked -q -p testenv --bin record-argocd-fixtures -- "$dir/argocd/argocd.env" fixtures/argocd-real "$@"
