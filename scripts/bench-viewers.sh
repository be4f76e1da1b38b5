#!/usr/bin/env bash
# What people keeping Argo CD open cost the destination cluster: 1, 10 and 50 simulated viewers
# (scripts/bench-viewers.py: the UI's real poll intervals, random phases) on 10 apps of 20
# OutOfSync resources each (every one a ConfigMap edited by `kubectl edit`), against the fake
# API server, whose request log counts the live GETs and the DriftHistory writes. Scenarios:
#   panels, before — the status-panel item alone, as it was: /status every 15 s, /drift every 30 s;
#   panels         — the status-panel item alone, as it is: /status only (its `drift` object);
#   tabs           — the Drift tab open: /status and /drift every 10 s, /history, /reports 60 s.
# The background enrichment pass is off (HISTORY_ENRICH_INTERVAL_SECONDS=0) so that every read
# counted is a viewer's; with it on, each drifting app's objects are read once per interval
# whoever looks.
#
#   BENCH_VIEWERS (1 10 50)  BENCH_VIEWERS_DURATION (120 s per run)  BENCH_PROFILE (release)
set -euo pipefail
cd "$(dirname "$0")/.."
viewers=${BENCH_VIEWERS:-1 10 50} duration=${BENCH_VIEWERS_DURATION:-120} profile=${BENCH_PROFILE:-release}
apps=10 resources=20
dir=target/bench-viewers kube=16470 api=18110 service=18111
token=bench-proxy-token-0123456789abcdef
mkdir -p "$dir"

if [ "$profile" = release ]; then
  cargo build --release --locked -q -p fake-apiserver -p argocd-drift
else
  cargo build --locked -q -p fake-apiserver -p argocd-drift
fi
bin=target/$profile
[ "$profile" = dev ] && bin=target/debug
if [ "$(cat "$dir/fixtures/.shape" 2>/dev/null)" != "$apps/$resources/$resources" ]; then
  rm -rf "$dir/fixtures"
  python3 scripts/gen-drift-bench.py "$dir/fixtures" "$apps" "$resources" "$resources" >/dev/null
  echo "$apps/$resources/$resources" >"$dir/fixtures/.shape"
fi

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
rm -f "$dir/kubeconfig" "$dir/fake.log"
RUST_LOG=info,fake_apiserver::server=debug "$bin/fake-apiserver" --seed fixtures/crds \
  --seed helm/argocd-drift/crds --seed "$dir/fixtures" --port "$kube" \
  --kubeconfig-out "$dir/kubeconfig" >"$dir/fake.log" 2>&1 &
pids+=($!)
for _ in $(seq 600); do [ -s "$dir/kubeconfig" ] && break; sleep 0.2; done
[ -s "$dir/kubeconfig" ] || { cat "$dir/fake.log" >&2; exit 1; }

PORT=$api SERVICE_PORT=$service PROXY_TOKEN=$token KUBECONFIG=$dir/kubeconfig LOG_LEVEL=warn \
  SHUTDOWN_DELAY_SECONDS=0 HISTORY_ENRICH_INTERVAL_SECONDS=0 "$bin/argocd-drift" >"$dir/backend.log" 2>&1 &
pids+=($!)
for _ in $(seq 600); do curl -sf "http://127.0.0.1:$service/readyz" >/dev/null && break; sleep 0.2; done
curl -sf "http://127.0.0.1:$service/readyz" >/dev/null || { tail "$dir/backend.log" >&2; exit 1; }

# Live GETs (a ConfigMap read by name) and DriftHistory writes the fake has logged so far.
# (The log's colours stripped; names in URLs are percent-encoded.)
log() { sed 's/\x1b\[[0-9;]*m//g' "$dir/fake.log"; }
live_gets() { log | grep -c 'method=GET uri=/api/v1/namespaces/bench[^/]*/configmaps/' || true; }
cr_writes() { log | grep -cE 'method=(PUT|POST|PATCH) uri=/apis/argocd-drift.io/v1alpha1/namespaces/[^ ]*/drifthistories' || true; }

printf '%-14s %7s %14s %10s %18s %9s %9s %7s\n' scenario viewers "live GETs/min" "CR writes" "/drift req/min" "p50 ms" "p99 ms" errors
for scenario in "panels, before" panels tabs; do
  case $scenario in
    "panels, before") flags=--panel-drift ;;
    panels) flags= ;;
    tabs) flags=--tabs ;;
  esac
  for n in $viewers; do
    g0=$(live_gets) w0=$(cr_writes)
    # shellcheck disable=SC2086 # flags: zero or one word
    out=$(python3 scripts/bench-viewers.py "http://127.0.0.1:$api" "$token" "$apps" "$n" "$duration" $flags)
    g1=$(live_gets) w1=$(cr_writes)
    python3 - "$scenario" "$n" "$((g1 - g0))" "$((w1 - w0))" "$duration" "$out" <<'PY'
import json, sys
scenario, n, gets, writes, seconds, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]), json.loads(sys.argv[6])
per_min = lambda v: round(v * 60 / seconds, 1)
drift = out["requests"].get("/api/v1/drift", 0)
ms = out["driftMs"]
print(f"{scenario:<14} {n:>7} {per_min(gets):>14} {writes:>10} {per_min(drift):>18} {str(ms['p50'] or '-'):>9} {str(ms['p99'] or '-'):>9} {out['errors']:>7}")
PY
  done
done
echo "(objects: $apps apps x $resources OutOfSync; a poll period of 10 s allows at most $((apps * resources * 6)) GETs/min with every app's tab open)"
echo "argocd-drift RSS: $(awk '/VmRSS/ {print $2, $3}' "/proc/${pids[1]}/status"), peak $(awk '/VmHWM/ {print $2, $3}' "/proc/${pids[1]}/status")"
