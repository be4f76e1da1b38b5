#!/usr/bin/env bash
# Benchmark: argocd-drift's reports port against the Go gitops-status-server it replaces, side
# by side on this machine, with the same wrk settings (figures are comparable only as ratios
# measured in one run):
#
#   1. GET /status.json with 100 reports          (target: argocd-drift ≥ 3× the Go server's req/s)
#   2. heartbeat POST /api/status (the peer's own  (target: ≥ 1×, while every status change is
#      post-status.lua: 100 keys, same content)    written to the API server before the answer)
#   3. POSTs that all change content: the durable path (argocd-drift writes each one first)
#   4. GET /status.json with 10 000 reports: p99 latency, and peak RSS of both processes
#
# argocd-drift runs in release mode against the fake API server (the demo's), with a reporter
# token and a read token (the Go server has neither), its report limits raised to hold BENCH_LARGE
# reports from one token, and every change written before its answer (REPORT_CONTENT_WRITE_SECONDS=0:
# the durable path is what scenario 3 measures). The Go server is built from GO_PEER_DIR
# into a temporary directory.
#
#   GO_PEER_DIR (../shared/peers/gitops-status-server-go)  BENCH_DURATION (15s)
#   BENCH_CONNECTIONS (32)  BENCH_THREADS (2)  BENCH_LARGE (10000)
set -euo pipefail
cd "$(dirname "$0")/.."

peer=${GO_PEER_DIR:-../shared/peers/gitops-status-server-go}
duration=${BENCH_DURATION:-15s}
connections=${BENCH_CONNECTIONS:-32}
threads=${BENCH_THREADS:-2}
large=${BENCH_LARGE:-10000}
kube=16445 api=18180 service=18181 reports=18182 go_port=18190
token=bench-reporter-token-0123456789
reader=bench-read-token-0123456789ab

[ -f "$peer/main.go" ] || { echo "no Go peer at $peer (set GO_PEER_DIR)" >&2; exit 1; }
if ! command -v wrk >/dev/null; then
  echo "==> installing wrk (Debian package)" >&2
  if [ "$(id -u)" = 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null ||
      { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
  else
    echo "wrk is not installed: sudo apt-get install wrk" >&2; exit 1
  fi
fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/bench-reports.XXXXXX")
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT INT TERM

echo "==> building argocd-drift (release) and the Go server" >&2
cargo build --release --locked -q -p fake-apiserver -p argocd-drift
(cd "$peer" && go build -o "$dir/gitops-status-server" .)

start() { # fresh processes: <label>
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  pids=()
  rm -f "$dir/kubeconfig"
  target/release/fake-apiserver --seed fixtures/crds --seed helm/argocd-drift/crds --seed fixtures/demo \
    --port "$kube" --token bench-kube-token --kubeconfig-out "$dir/kubeconfig" >"$dir/fake.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do [ -s "$dir/kubeconfig" ] && break; sleep 0.1; done
  echo "bench $token" >"$dir/reporters"
  echo "$reader" >"$dir/readers"
  PORT=$api SERVICE_PORT=$service REPORTS_PORT=$reports PROXY_TOKEN=bench-proxy-token-0123456789 \
    KUBECONFIG=$dir/kubeconfig ARGOCD_NAMESPACES=argocd POD_NAMESPACE=argocd LOG_LEVEL=warn \
    REPORTS_TOKENS_PATH=$dir/reporters REPORTS_READ_TOKENS_FILE=$dir/readers SHUTDOWN_DELAY_SECONDS=0 \
    REPORTS_MAX_TOTAL=$((large + 100)) REPORTS_PER_TOKEN_MAX=$((large + 100)) REPORT_CONTENT_WRITE_SECONDS=0 \
    target/release/argocd-drift >"$dir/argocd-drift.log" 2>&1 &
  drift_pid=$!
  pids+=($drift_pid)
  ADDR=127.0.0.1:$go_port "$dir/gitops-status-server" >/dev/null 2>&1 &
  go_pid=$!
  pids+=($go_pid)
  for _ in $(seq 200); do
    curl -sf "http://127.0.0.1:$service/readyz" >/dev/null && curl -sf "http://127.0.0.1:$go_port/health" >/dev/null && break
    sleep 0.1
  done
  curl -sf "http://127.0.0.1:$service/readyz" >/dev/null || { cat "$dir/argocd-drift.log" >&2; exit 1; }
}

# POST <n> distinct reports (the keys post-status.lua uses for the first 100) to a server.
seed() { # <port> <n>
  python3 - "$1" "$2" "$token" <<'PY'
import http.client, json, sys
port, n, token = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
conn = http.client.HTTPConnection("127.0.0.1", port)
for i in range(1, n + 1):
    repo, server = (f"repo{i % 100}", f"srv{i % 50}") if n <= 100 else (f"repo{i % 1000}", f"srv{i}")
    body = json.dumps({"repo": repo, "server": server, "sync_status": "OUT_OF_SYNC", "drift_count": 2,
                       "files": [{"name": "a.conf"}, {"name": "b.conf"}], "last_check": "2026-04-21T10:32:15Z"})
    conn.request("POST", "/api/status", body, {"Content-Type": "application/json", "Authorization": f"Bearer {token}"})
    r = conn.getresponse(); r.read()
    if r.status != 200:
        sys.exit(f"seeding port {port}: HTTP {r.status}")
PY
}

count() { curl -sf -H "Authorization: Bearer $reader" "http://127.0.0.1:$1/status.json" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'; }

# wrk, keeping the figures: <label> <url> [wrk args…] → "<req/s> <p99 ms>"
declare -A rps p99
run() {
  local label=$1 url=$2; shift 2
  local out
  out=$(wrk -t"$threads" -c"$connections" -d"$duration" --latency "$@" "$url")
  rps[$label]=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p99[$label]=$(awk '$1 == "99%" {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v=v/1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v=v*1000}; print v}' <<<"$out")
  local errors
  errors=$(grep -E 'Non-2xx|Socket errors' <<<"$out" || true)
  printf '  %-34s %10s req/s   p99 %8s ms  %s\n' "$label" "${rps[$label]}" "${p99[$label]}" "$errors"
}
ratio() { python3 -c "print(f'{float(\"$1\") / float(\"$2\"):.2f}')"; }

echo "== machine: $(nproc) cores; wrk -t$threads -c$connections -d$duration (load generator on the same machine)"
start
seed "$reports" 100
seed "$go_port" 100
echo "== 100 reports (argocd-drift holds $(count "$reports"), Go $(count "$go_port"))"
run "drift GET /status.json" "http://127.0.0.1:$reports/status.json" -H "Authorization: Bearer $reader"
run "go    GET /status.json" "http://127.0.0.1:$go_port/status.json"
run "drift POST heartbeat" "http://127.0.0.1:$reports/api/status" -s "$peer/post-status.lua" -H "Authorization: Bearer $token"
run "go    POST heartbeat" "http://127.0.0.1:$go_port/api/status" -s "$peer/post-status.lua"
run "drift POST change (durable)" "http://127.0.0.1:$reports/api/status" -s scripts/bench/post-changes.lua -H "Authorization: Bearer $token"
run "go    POST change (memory)" "http://127.0.0.1:$go_port/api/status" -s scripts/bench/post-changes.lua
writes=$(curl -sf "http://127.0.0.1:$service/metrics" | awk -F' ' '/^argocd_drift_report_writes_total\{op="replace",result="ok"\}/ {print $2}')
echo "   (argocd-drift wrote ${writes:-0} changes to the API server; each was stored before its 200)"

start
echo "== $large reports: seeding both…"
seed "$reports" "$large"
seed "$go_port" "$large"
echo "   argocd-drift holds $(count "$reports"), Go $(count "$go_port")"
run "drift GET /status.json ($large)" "http://127.0.0.1:$reports/status.json" -H "Authorization: Bearer $reader"
run "go    GET /status.json ($large)" "http://127.0.0.1:$go_port/status.json"
drift_rss=$(awk '/VmHWM/ {print $2}' "/proc/$drift_pid/status")
go_rss=$(awk '/VmHWM/ {print $2}' "/proc/$go_pid/status")

echo
echo "== ratios (argocd-drift ÷ Go, this run)"
echo "  GET /status.json, 100 reports:   $(ratio "${rps[drift GET /status.json]}" "${rps[go    GET /status.json]}")× req/s   (target ≥ 3)"
echo "  POST heartbeat:                  $(ratio "${rps[drift POST heartbeat]}" "${rps[go    POST heartbeat]}")× req/s   (target ≥ 1)"
echo "  POST change (durable vs memory): $(ratio "${rps[drift POST change (durable)]}" "${rps[go    POST change (memory)]}")× req/s"
echo "  GET /status.json, $large: p99 ${p99[drift GET /status.json ($large)]} ms vs ${p99[go    GET /status.json ($large)]} ms; req/s $(ratio "${rps[drift GET /status.json ($large)]}" "${rps[go    GET /status.json ($large)]}")×"
echo "  peak RSS with $large reports: argocd-drift $((drift_rss / 1024)) MiB, Go $((go_rss / 1024)) MiB"
