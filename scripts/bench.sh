#!/usr/bin/env bash
# Load benchmark: GET /api/v1/status through the full trust boundary, on the demo, with wrk at
# 32 connections; GET /healthz in the same run as a baseline (no gate, no JSON building), so the
# figures can be compared as ratios on a noisy machine. Reports peak RSS of argocd-drift.
#
#   BENCH_DURATION (20s)  BENCH_CONNECTIONS (32)  BENCH_THREADS (2)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 1; }

duration=${BENCH_DURATION:-20s}
connections=${BENCH_CONNECTIONS:-32}
threads=${BENCH_THREADS:-2}
api=18080 service=18081
dir=target/bench
token=demo-proxy-token-0123456789abcdef

DEMO_DIR=$dir DEMO_API_PORT=$api DEMO_SERVICE_PORT=$service DEMO_REPORTS_PORT=18082 DEMO_KUBE_PORT=16444 LOG_LEVEL=warn \
  scripts/demo.sh >"$dir.log" 2>&1 &
demo=$!
trap 'kill $demo 2>/dev/null; wait $demo 2>/dev/null || true' EXIT
for _ in $(seq 600); do curl -sf "http://127.0.0.1:$service/readyz" >/dev/null && break; sleep 0.5; done
curl -sf "http://127.0.0.1:$service/readyz" >/dev/null || { cat "$dir.log" >&2; exit 1; }
pid=$(cat "$dir/argocd-drift.pid")

run() { # label url [headers…]
  local label=$1 url=$2; shift 2
  echo "== $label: $url ($connections connections, $threads threads, $duration)"
  wrk -t"$threads" -c"$connections" -d"$duration" --latency "$@" "$url" |
    grep -E 'Requests/sec|Latency  |  50%|  90%|  99%|Non-2xx|Socket errors'
}

run "status (gate + index + JSON)" "http://127.0.0.1:$api/api/v1/status" \
  -H "Authorization: Bearer $token" \
  -H 'Argocd-Application-Name: argocd:web-frontend' \
  -H 'Argocd-Project-Name: team-web' \
  -H 'Argocd-Username: alice@example.com' \
  -H 'Argocd-User-Groups: dev,ops'
run "baseline: healthz" "http://127.0.0.1:$service/healthz"
run "rejected: wrong secret" "http://127.0.0.1:$api/api/v1/status" -H "Authorization: Bearer wrong-secret-0123456789"
echo "== argocd-drift peak RSS: $(awk '/VmHWM/ {print $2, $3}' "/proc/$pid/status")"
