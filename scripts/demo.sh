#!/usr/bin/env bash
# The demo: a fake Kubernetes API server seeded with realistic Argo CD fixtures, and argocd-drift
# watching it. Prints how to call the API, then runs until Ctrl-C.
#
#   DEMO_API_PORT (8080)  DEMO_SERVICE_PORT (8081)  DEMO_REPORTS_PORT (8082)  DEMO_KUBE_PORT (16443)
#   DEMO_PROFILE (release)
set -euo pipefail
cd "$(dirname "$0")/.."

api_port=${DEMO_API_PORT:-8080}
service_port=${DEMO_SERVICE_PORT:-8081}
reports_port=${DEMO_REPORTS_PORT:-8082}
report_token=demo-report-token-0123456789abcdef
kube_port=${DEMO_KUBE_PORT:-16443}
profile=${DEMO_PROFILE:-release}
token=demo-proxy-token-0123456789abcdef
dir=${DEMO_DIR:-target/demo}
mkdir -p "$dir"
rm -f "$dir/kubeconfig" "$dir"/*.pid

echo "==> building ($profile)…" >&2
if [ "$profile" = release ]; then
  cargo build --release --locked -q -p fake-apiserver -p argocd-drift
else
  cargo build --locked -q -p fake-apiserver -p argocd-drift
fi
bin=target/$profile

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

"$bin/fake-apiserver" --seed fixtures/crds --seed helm/argocd-drift/crds --seed fixtures/demo --tls --port "$kube_port" \
  --token demo-kube-admin-token --kubeconfig-out "$dir/kubeconfig" >"$dir/fake-apiserver.log" 2>&1 &
pids+=($!)
echo $! >"$dir/fake-apiserver.pid"
for _ in $(seq 100); do [ -s "$dir/kubeconfig" ] && break; sleep 0.1; done
[ -s "$dir/kubeconfig" ] || { cat "$dir/fake-apiserver.log" >&2; echo "fake API server did not start" >&2; exit 1; }

echo "demo-reporter $report_token" >"$dir/reporter-tokens"
PORT=$api_port SERVICE_PORT=$service_port REPORTS_PORT=$reports_port REPORTS_TOKENS_PATH=$dir/reporter-tokens \
  PROXY_TOKEN=$token KUBECONFIG=$dir/kubeconfig \
  ARGOCD_NAMESPACES=argocd,team-apps LOG_FORMAT=${LOG_FORMAT:-text} LOG_LEVEL=${LOG_LEVEL:-info} SHUTDOWN_DELAY_SECONDS=0 \
  "$bin/argocd-drift" &
pids+=($!)
echo $! >"$dir/argocd-drift.pid"
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$service_port/readyz" >/dev/null && break; sleep 0.1; done
curl -sf "http://127.0.0.1:$service_port/readyz" >/dev/null || { echo "argocd-drift did not become ready" >&2; exit 1; }

cat <<TXT

argocd-drift is running against a fake cluster (kubeconfig: $dir/kubeconfig).

  API (what Argo CD's proxy calls):  http://127.0.0.1:$api_port
  probes and metrics:                http://127.0.0.1:$service_port/{healthz,readyz,metrics}
  reports (reporters, Grafana):      http://127.0.0.1:$reports_port/{api/status,status.json,health}
  shared secret:                     $token

Call it the way Argo CD's proxy extension does:

  curl -s http://127.0.0.1:$api_port/api/v1/status \\
    -H 'Authorization: Bearer $token' \\
    -H 'Argocd-Application-Name: argocd:payments-api' \\
    -H 'Argocd-Project-Name: team-payments' | python3 -m json.tool

Demo apps (Argocd-Application-Name / Argocd-Project-Name):
  argocd:guestbook / default            argocd:payments-api / team-payments
  argocd:web-frontend / team-web        argocd:legacy-billing / team-payments
  argocd:monitoring / default           team-apps:analytics / team-web

Try a refusal: the wrong project gives 403 PROJECT_MISMATCH; no Authorization gives 401.

Send an external drift report the way an rsyslog checker does, then read it as Grafana does:

  curl -s http://127.0.0.1:$reports_port/api/status -H 'Authorization: Bearer $report_token' \\
    -H 'Content-Type: application/json' -d '{"repo":"rsyslog","server":"rsyslog-lab",
    "sync_status":"OUT_OF_SYNC","drift_count":2,"files":[{"name":"rsyslog.conf"}],
    "last_check":"'\$(date -u +%Y-%m-%dT%H:%M:%SZ)'"}'
  curl -s http://127.0.0.1:$reports_port/status.json | python3 -m json.tool

Ctrl-C stops both processes.
TXT
wait -n "${pids[@]}"
