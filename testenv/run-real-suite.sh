#!/usr/bin/env bash
# `make test-real`: the end-to-end suites again, against a real kube-apiserver + etcd.
#
# Builds the binaries once per machine (cached by version), runs the differential test against
# Argo CD's own diff code (the oracle, built from the argocd module), starts a throwaway cluster, runs
#   - the backend's cluster-agnostic suites (trust boundary, status API, cluster access, reports,
#     history, the self-check) with DRIFT_TEST_CLUSTER=real, including the tests only a real
#     server can run (RBAC, the DriftReport and DriftHistory schemas, an admission policy refusing
#     a report, `helm install` of the chart with argocd-drift run on its ServiceAccount's token),
#   - the same requests through a real argocd-server in front of argocd-drift,
#   - the fake-versus-real conformance tests (ignored in plain `cargo test`),
#   - last, the kube-apiserver restarted under reporters' load (nothing acknowledged lost),
#   - the concordance suite: drift scenarios played live on a real Argo CD control plane
#     (argocd-server, repo-server, application-controller, a Git repository on loopback), checked
#     against their intent and against the recordings in fixtures/argocd-real/, and drift memory
#     on it (a self-healed app's episode ends by automation),
# and stops everything whatever happens.
set -euo pipefail
cd "$(dirname "$0")/.."

dir=$(mktemp -d "${TMPDIR:-/tmp}/drift-real.XXXXXX")
oracle_pid=
cleanup() {
  # A control plane still starting spawns no more processes once its start is over.
  if [[ -n $oracle_pid ]]; then
    kill "$oracle_pid" 2>/dev/null || true
    wait "$oracle_pid" 2>/dev/null || true
  fi
  testenv/real-argocd.sh stop "$dir/oracle" >/dev/null 2>&1 || true
  testenv/real-argocd.sh stop "$dir/argocd" >/dev/null 2>&1 || true
  testenv/real-kube.sh stop "$dir" >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT

testenv/real-kube.sh bins >/dev/null
testenv/real-argocd.sh bins >/dev/null
# The differential test's Go half: Argo CD's own diff (testenv/argocd-oracle.sh, the argocd
# module's code, seconds to build once argocd is) answers 200 generated scenarios, and must
# reproduce the real controller's recorded verdicts (fixtures/argocd-real/).
DRIFT_ARGOCD_ORACLE=$(testenv/argocd-oracle.sh bin) \
  cargo test --locked -p argocd-drift-core --test diff_scenarios -- --include-ignored
DRIFT_KUBE_WATCH_PID=$$ testenv/real-kube.sh start "$dir"
# argocd-server in front; the test points its extension config at its own backend.
mkdir -p "$dir/argocd"
testenv/real-argocd.sh start "$dir/argocd" "$dir/kubeconfig" http://127.0.0.1:9

# The whole Argo CD control plane, as a second instance in a namespace of its own: its
# application-controller reconciles only the Applications there, and leaves alone the ones the
# backend suites create in `argocd` with a status of their choosing. It starts (~10 s, mostly
# waiting) while the backend suites run.
mkdir -p "$dir/oracle"
DRIFT_ARGOCD_NAMESPACE=argocd-oracle testenv/real-argocd.sh start --control-plane "$dir/oracle" "$dir/kubeconfig" http://127.0.0.1:9 \
  >"$dir/oracle-start.log" 2>&1 &
oracle_pid=$!

export DRIFT_TEST_CLUSTER=real DRIFT_TEST_KUBECONFIG="$dir/kubeconfig" DRIFT_TEST_ARGOCD_ENV="$dir/argocd/argocd.env"
export DRIFT_TEST_ARGOCD_CONTROL_PLANE_ENV="$dir/oracle/argocd.env"
cargo test --locked -p argocd-drift --test trust_boundary --test status_api --test cluster_access --test argocd_proxy --test reports --test history --test events --test fleet --test chart --test check -- --include-ignored

oracle_rc=0
wait "$oracle_pid" || oracle_rc=$?
oracle_pid=
cat "$dir/oracle-start.log" >&2
((oracle_rc == 0)) || exit "$oracle_rc"
# The concordance suite before argocd_recordings: seeding recordings into the cluster creates
# objects whose tracking ids name the scenario apps, and Argo CD adopts any such object as one of
# the app's resources.
cargo test --locked -p testenv --test argocd_concordance -- --include-ignored
# argocd-drift itself, over HTTP, on the apps the concordance suite just played: its verdicts
# against Argo CD's own, with the local source and with Argo CD's managed-resources.
cargo test --locked -p argocd-drift --test argocd_live -- --include-ignored
# Drift memory on the real control plane: a self-healed app's episode ends by automation.
cargo test --locked -p argocd-drift --test history_argocd -- --include-ignored
cargo test --locked -p testenv --test fake_matches_real --test argocd_recordings -- --ignored
# Last: the API server restarted under load (every suite sharing it has finished).
cargo test --locked -p argocd-drift --test apiserver_restart -- --include-ignored
