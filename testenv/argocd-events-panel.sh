#!/usr/bin/env bash
# `make argocd-events-panel`: what Argo CD's Events panel (App details -> Events) gets for an app's
# drift Events, from a real argocd-server (v3.5.7) in front of a real kube-apiserver + etcd.
#
# Starts a throwaway cluster and argocd-server (testenv/real-kube.sh, testenv/real-argocd.sh; the
# binaries built once per machine), runs the events suite's real-Argo-CD test (a drift episode of
# an app in Argo CD's namespace, told by argocd-drift, then GET /api/v1/applications/{name}/events
# as the panel asks it), prints the rows in the panel's columns (the README's sample is this
# output), and stops everything whatever happens. `make test-real` runs the same test.
set -euo pipefail
cd "$(dirname "$0")/.."

. testenv/throwaway.sh
throwaway_cluster events-panel

mkdir -p "$dir/argocd"
testenv/real-argocd.sh start "$dir/argocd" "$dir/kubeconfig" http://127.0.0.1:9 >"$dir/argocd-start.log" 2>&1 || {
  cat "$dir/argocd-start.log" >&2
  exit 1
}

rc=0
DRIFT_TEST_CLUSTER=real DRIFT_TEST_KUBECONFIG="$dir/kubeconfig" DRIFT_TEST_ARGOCD_ENV="$dir/argocd/argocd.env" \
  cargo test --locked -p argocd-drift --test events argo_cds_events_panel -- --include-ignored --nocapture \
  >"$dir/test.log" 2>&1 || rc=$?
if ((rc != 0)); then
  tail -n 60 "$dir/test.log" >&2
  exit "$rc"
fi
# The table the test prints (its server logs are JSON lines and are left out).
sed -n '/^argocd-server v/,/^test argo_cds_events_panel/p' "$dir/test.log" | grep -v '^test ' | grep -v '^{'
