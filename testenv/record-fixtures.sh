#!/usr/bin/env bash
# `make record-fixtures`: play the drift scenario on a fresh real kube-apiserver and record the
# live objects as the demo's fixtures, so their managedFields are what a real server computes.
set -euo pipefail
cd "$(dirname "$0")/.."

dir=$(mktemp -d "${TMPDIR:-/tmp}/drift-record.XXXXXX")
cleanup() {
  testenv/real-kube.sh stop "$dir" >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT

testenv/real-kube.sh bins >/dev/null
DRIFT_KUBE_WATCH_PID=$$ testenv/real-kube.sh start "$dir"
cargo run --locked -q -p testenv --bin record-drift-fixtures -- "$dir/kubeconfig" fixtures/demo/30-live-objects.yaml
