#!/usr/bin/env bash
# The demo: a fake Kubernetes API server seeded with realistic Argo CD fixtures, and argocd-drift
# watching it, and (with Node.js) the Argo CD tab on a page hosted the way Argo CD hosts it, behind
# a small proxy that behaves like Argo CD's (ui/dev/argo-sim.mjs). Prints how to call the API and
# the URL of the tab, then runs until Ctrl-C.
#
#   DEMO_API_PORT (8080)  DEMO_SERVICE_PORT (8081)  DEMO_REPORTS_PORT (8082)  DEMO_KUBE_PORT (16443)
#   DEMO_PROFILE (release)  DEMO_UI_PORT (8090)   DEMO_UI (auto: on when node is installed; 0 turns it off)
set -euo pipefail
cd "$(dirname "$0")/.."

api_port=${DEMO_API_PORT:-8080}
service_port=${DEMO_SERVICE_PORT:-8081}
reports_port=${DEMO_REPORTS_PORT:-8082}
report_token=demo-report-token-0123456789abcdef
kube_port=${DEMO_KUBE_PORT:-16443}
ui_port=${DEMO_UI_PORT:-8090}
ui=${DEMO_UI:-auto}
if [ "$ui" = auto ]; then
  if command -v node >/dev/null && command -v npm >/dev/null; then ui=1; else ui=0; fi
fi
profile=${DEMO_PROFILE:-release}
token=demo-proxy-token-0123456789abcdef
dir=${DEMO_DIR:-target/demo}
mkdir -p "$dir"
rm -f "$dir/kubeconfig" "$dir"/*.pid

if [ "$ui" = 1 ]; then
  echo "==> building the UI bundle and the host pages…" >&2
  [ -f ui/node_modules/.package-lock.json ] || npm ci --prefix ui --no-audit --no-fund >&2
  node ui/build.mjs bundle >&2
  node ui/build.mjs hosts >&2
fi

echo "==> building ($profile)…" >&2
if [ "$profile" = release ]; then
  cargo build --release --locked -q -p fake-apiserver -p argocd-drift
else
  cargo build --locked -q -p fake-apiserver -p argocd-drift
fi
bin=target/$profile

pids=()
cleanup() {
  # Newest first: the proxy and the backend stop before the fake API server they talk to.
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    kill "${pids[i]}" 2>/dev/null || true
    wait "${pids[i]}" 2>/dev/null || true
  done
}
trap cleanup EXIT
trap 'echo; echo "stopping…"; exit 0' INT TERM

"$bin/fake-apiserver" --seed fixtures/crds --seed helm/argocd-drift/crds --seed fixtures/demo --seed fixtures/demo-history --tls --port "$kube_port" \
  --token demo-kube-admin-token --kubeconfig-out "$dir/kubeconfig" >"$dir/fake-apiserver.log" 2>&1 &
pids+=($!)
echo $! >"$dir/fake-apiserver.pid"
for _ in $(seq 100); do [ -s "$dir/kubeconfig" ] && break; sleep 0.1; done
[ -s "$dir/kubeconfig" ] || { cat "$dir/fake-apiserver.log" >&2; echo "fake API server did not start" >&2; exit 1; }

echo "demo-reporter $report_token * apps=argocd:payments-*" >"$dir/reporter-tokens"
PORT=$api_port SERVICE_PORT=$service_port REPORTS_PORT=$reports_port REPORTS_TOKENS_PATH=$dir/reporter-tokens \
  PROXY_TOKEN=$token KUBECONFIG=$dir/kubeconfig \
  ARGOCD_NAMESPACES=argocd,team-apps LOG_FORMAT=${LOG_FORMAT:-text} LOG_LEVEL=${LOG_LEVEL:-info} SHUTDOWN_DELAY_SECONDS=0 \
  BIND_ADDRESS=127.0.0.1 "$bin/argocd-drift" >"$dir/argocd-drift.log" 2>&1 &
pids+=($!)
echo $! >"$dir/argocd-drift.pid"
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$service_port/readyz" >/dev/null && break; sleep 0.1; done
curl -sf "http://127.0.0.1:$service_port/readyz" >/dev/null || { cat "$dir/argocd-drift.log" >&2; echo "argocd-drift did not become ready" >&2; exit 1; }

# Two external drift reports for payments-api, sent the way a checker on the servers does (now).
seed_report() {
  curl -sf "http://127.0.0.1:$reports_port/api/v1/reports" -H "Authorization: Bearer $report_token" \
    -H 'Content-Type: application/json' -d "$1" >/dev/null || { echo "the demo's report was refused: $1" >&2; exit 1; }
}
now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
seed_report '{"repo":"payments-proxy","server":"edge-1","sync_status":"OUT_OF_SYNC","drift_count":2,
  "files":[{"name":"nginx/conf.d/payments.conf","state":"changed",
            "diff":"-proxy_read_timeout 30s;\n+proxy_read_timeout 300s;"},
           {"name":"nginx/conf.d/debug.conf","state":"extra"}],
  "last_check":"'"$now"'","application":"argocd:payments-api"}'
seed_report '{"repo":"payments-proxy","server":"edge-2","sync_status":"SYNCED","drift_count":0,"files":[],
  "last_check":"'"$now"'","application":"argocd:payments-api"}'

ui_url=
if [ "$ui" = 1 ]; then
  SIM_LISTEN=127.0.0.1:$ui_port SIM_BACKEND=http://127.0.0.1:$api_port SIM_TOKEN=$token \
    SIM_KUBECONFIG=$dir/kubeconfig SIM_TEST_CONTROL=${DEMO_UI_TEST_CONTROL:-0} \
    node ui/dev/argo-sim.mjs >"$dir/argo-sim.log" 2>&1 &
  pids+=($!)
  echo $! >"$dir/argo-sim.pid"
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$ui_port/argo-cd/healthz" >/dev/null && break; sleep 0.1; done
  curl -sf "http://127.0.0.1:$ui_port/argo-cd/healthz" >/dev/null || { cat "$dir/argo-sim.log" >&2; echo "argo-sim did not start" >&2; exit 1; }
  ui_url="http://127.0.0.1:$ui_port/argo-cd/applications/argocd/payments-api"
fi

cat <<TXT

argocd-drift is running against a fake cluster (kubeconfig: $dir/kubeconfig).

  API (what Argo CD's proxy calls):  http://127.0.0.1:$api_port
  probes and metrics:                http://127.0.0.1:$service_port/{healthz,readyz,metrics}
  reports (reporters, Grafana):      http://127.0.0.1:$reports_port/{api/status,status.json,health}
  shared secret:                     $token

Call it the way Argo CD's proxy extension does — the shared secret and the two headers Argo CD
adds, for the demo's payments-api (paste these lines into bash or zsh):

  api=http://127.0.0.1:$api_port
  argocd=(-H 'Authorization: Bearer $token' \\
    -H 'Argocd-Application-Name: argocd:payments-api' -H 'Argocd-Project-Name: team-payments')

  curl -s "\$api/api/v1/status" "\${argocd[@]}" | python3 -m json.tool

Which fields drifted live, what they should be, and the field manager behind each (all=true: every
resource of the app; drift/resource: one in depth, with its unified diff):

  curl -s "\$api/api/v1/drift" "\${argocd[@]}" | python3 -m json.tool
  curl -s "\$api/api/v1/drift?all=true" "\${argocd[@]}" | python3 -m json.tool
  curl -s "\$api/api/v1/drift/resource?group=apps&version=v1&kind=Deployment&namespace=payments&name=payments-api" \\
    "\${argocd[@]}" | python3 -m json.tool

Its drift episodes — since when, how often, what ended each (the days before the demo started
are seeded; stored as DriftHistory objects in namespace argocd):

  curl -s "\$api/api/v1/history?limit=5" "\${argocd[@]}" | python3 -m json.tool

Refusals: the wrong project (403 PROJECT_MISMATCH), no shared secret (401 MISSING_CREDENTIALS):

  curl -s "\$api/api/v1/status" -H 'Authorization: Bearer $token' \\
    -H 'Argocd-Application-Name: argocd:payments-api' -H 'Argocd-Project-Name: default'
  curl -s "\$api/api/v1/status" -H 'Argocd-Application-Name: argocd:payments-api' \\
    -H 'Argocd-Project-Name: team-payments'

Demo apps (Argocd-Application-Name / Argocd-Project-Name):
  argocd:guestbook / default            argocd:payments-api / team-payments
  argocd:web-frontend / team-web        argocd:legacy-billing / team-payments
  argocd:monitoring / default           team-apps:analytics / team-web

Two external drift reports of payments-api's proxy servers were sent at start-up (the tab lists
them). Send another the way an rsyslog checker does, then read them all as Grafana does:

  curl -s http://127.0.0.1:$reports_port/api/status -H 'Authorization: Bearer $report_token' \\
    -H 'Content-Type: application/json' -d '{"repo":"rsyslog","server":"rsyslog-lab",
    "sync_status":"OUT_OF_SYNC","drift_count":2,"files":[{"name":"rsyslog.conf"}],
    "last_check":"'\$(date -u +%Y-%m-%dT%H:%M:%SZ)'"}'
  curl -s http://127.0.0.1:$reports_port/status.json | python3 -m json.tool

(That report names no app, so the tab does not list it; a report belongs to an app when it says
"application" on POST /api/v1/reports, or when the app's argocd-drift.io/report-repos annotation
names its repo.)

Logs: $dir/argocd-drift.log (argocd-drift), $dir/fake-apiserver.log, $dir/argo-sim.log.
TXT
if [ -n "$ui_url" ]; then
  cat <<TXT

The Argo CD tab — open this in a browser (the Drift tab and the status-panel item on the demo's
payments-api; the page hosts the built bundle as Argo CD does, with React 19; ?react=16 for an
Argo CD ≤ 3.4 host, ?theme=dark for the dark theme; other apps: applications/<namespace>/<name>):

  $ui_url
TXT
else
  echo
  echo "(The Argo CD tab needs Node.js and npm; DEMO_UI=0 or no node: skipped.)"
fi
echo "Ctrl-C stops every process."
wait -n "${pids[@]}"
