#!/usr/bin/env bash
# Load benchmark of GET /api/v1/drift: an app of 200 resources of which 5 drifted, on a fake
# cluster of 1,000 such apps (200,000 live ConfigMaps with real-shaped managedFields and Argo CD's
# last-applied annotation), wrk at 8 connections:
#   warm — objects reused from the cache (DRIFT_CACHE_TTL_SECONDS=600): the engine and the gate;
#   cold — every object read from the fake API server on every request (cache off);
# each for the default answer (the 5 OutOfSync resources) and ?all=true (all 200); then the
# backend's RSS after ?all=true on every one of the 1,000 apps with the default 64 MiB cache.
# GET /api/v1/status in the same run is the baseline for ratios.
#
#   BENCH_APPS (1000)  BENCH_RESOURCES (200)  BENCH_DRIFTED (5)  BENCH_DURATION (15s)
#   BENCH_CONNECTIONS (8)  BENCH_THREADS (2)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 1; }
apps=${BENCH_APPS:-1000} resources=${BENCH_RESOURCES:-200} drifted=${BENCH_DRIFTED:-5}
duration=${BENCH_DURATION:-15s} connections=${BENCH_CONNECTIONS:-8} threads=${BENCH_THREADS:-2}
dir=target/bench-drift kube=16450 api=18090 service=18091
token=bench-proxy-token-0123456789abcdef
mkdir -p "$dir"

cargo build --release --locked -q -p fake-apiserver -p argocd-drift
if [ ! -s "$dir/fixtures/20-live-0000.yaml" ] || [ "$(cat "$dir/fixtures/.shape" 2>/dev/null)" != "$apps/$resources/$drifted" ]; then
  rm -rf "$dir/fixtures"
  python3 scripts/gen-drift-bench.py "$dir/fixtures" "$apps" "$resources" "$drifted"
  echo "$apps/$resources/$drifted" >"$dir/fixtures/.shape"
fi

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
rm -f "$dir/kubeconfig"
target/release/fake-apiserver --seed fixtures/crds --seed helm/argocd-drift/crds \
  --seed "$dir/fixtures" --port "$kube" --kubeconfig-out "$dir/kubeconfig" >"$dir/fake.log" 2>&1 &
pids+=($!)
for _ in $(seq 600); do [ -s "$dir/kubeconfig" ] && break; sleep 0.2; done
[ -s "$dir/kubeconfig" ] || { cat "$dir/fake.log" >&2; exit 1; }

backend=""
start_backend() { # cache_ttl
  [ -n "$backend" ] && { kill "$backend"; wait "$backend" 2>/dev/null || true; }
  PORT=$api SERVICE_PORT=$service PROXY_TOKEN=$token KUBECONFIG=$dir/kubeconfig LOG_LEVEL=warn \
    SHUTDOWN_DELAY_SECONDS=0 DRIFT_CACHE_TTL_SECONDS=$1 MAX_CONCURRENT_REQUESTS=1024 \
    target/release/argocd-drift >>"$dir/backend.log" 2>&1 &
  backend=$!
  pids+=("$backend")
  for _ in $(seq 600); do curl -sf "http://127.0.0.1:$service/readyz" >/dev/null && break; sleep 0.2; done
  curl -sf "http://127.0.0.1:$service/readyz" >/dev/null || { tail "$dir/backend.log" >&2; exit 1; }
}
headers=(-H "Authorization: Bearer $token" -H "Argocd-Application-Name: argocd:bench-0000" -H "Argocd-Project-Name: default")
run() { # label path
  echo "== $1: $2"
  wrk -t"$threads" -c"$connections" -d"$duration" --latency "${headers[@]}" "http://127.0.0.1:$api$2" |
    grep -E 'Requests/sec|  50%|  90%|  99%|Non-2xx|Socket errors'
}

start_backend 600
curl -sf "${headers[@]}" "http://127.0.0.1:$api/api/v1/drift?all=true" >/dev/null # fill the cache
run "baseline: status" /api/v1/status
run "warm drift (5 drifted of $resources)" /api/v1/drift
run "warm drift ?all=true ($resources resources)" "/api/v1/drift?all=true"
start_backend 0
run "cold drift (5 GETs per request)" /api/v1/drift
run "cold drift ?all=true ($resources GETs per request)" "/api/v1/drift?all=true"

start_backend 5
echo "== ?all=true once on each of $apps apps (default cache: 64 MiB, 5 s)"
started=$(date +%s.%N)
for i in $(seq 0 $((apps - 1))); do
  curl -sf -o /dev/null -H "Authorization: Bearer $token" -H "Argocd-Project-Name: default" \
    -H "Argocd-Application-Name: argocd:bench-$(printf %04d "$i")" "http://127.0.0.1:$api/api/v1/drift?all=true"
done
echo "   $(python3 -c "print(f'{$apps / ($(date +%s.%N) - $started):.1f}')") apps/s"
echo "== argocd-drift RSS: now $(awk '/VmRSS/ {print $2, $3}' "/proc/$backend/status"), peak $(awk '/VmHWM/ {print $2, $3}' "/proc/$backend/status")"
echo "== fake API server RSS: $(awk '/VmRSS/ {print $2, $3}' "/proc/${pids[0]}/status")"
