#!/usr/bin/env bash
# The diff oracle's cost (testenv/argocd-oracle.sh): start-up alone (the Kubernetes OpenAPI
# document and the CRDs parsed), then 200 and 1,000 generated scenarios in one process (the
# differential test's batch), with hyperfine; the start-up run is the baseline of the ratios.
# Then the peak RSS of the 1,000, and the cold build of the oracle once argocd is built (one
# package compiled, then the link), beside the relink of argocd from the same cache.
#   BENCH_RUNS (10)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v hyperfine >/dev/null || { echo "hyperfine is not installed (apt-get install hyperfine)" >&2; exit 1; }
runs=${BENCH_RUNS:-10}
dir=target/bench-oracle
mkdir -p "$dir"
bin=$(testenv/argocd-oracle.sh bin)
crds=fixtures/diff-scenarios/crds
for n in 200 1000; do
  DRIFT_DIFF_SHOW=$(seq -s, 1 "$n") cargo test --locked -q -p argocd-drift-core --test diff_scenarios \
    show -- --ignored --nocapture 2>/dev/null | grep '^{' >"$dir/g$n.jsonl"
done
hyperfine -w 1 -r "$runs" -N "$bin -crds $crds version" >/dev/null 2>&1 || true
hyperfine -w 1 -r "$runs" \
  -n start-up "$bin -crds $crds batch < /dev/null" \
  -n 200-scenarios "$bin -crds $crds batch < $dir/g200.jsonl" \
  -n 1000-scenarios "$bin -crds $crds batch < $dir/g1000.jsonl"
/usr/bin/time -f '1000 scenarios: peak RSS %M KB' "$bin" -crds "$crds" batch <"$dir/g1000.jsonl" >/dev/null

# The build: what the oracle needs beyond argocd's own packages, then a build after a source change.
cd testenv/go/argocd
export GOWORK=off GOFLAGS=-mod=readonly CGO_ENABLED=0
extra=$(comm -23 <(go list -deps ./oracle | sort) <(go list -deps github.com/argoproj/argo-cd/v3/cmd | sort) | wc -l)
echo "packages the oracle needs that the argocd build does not compile: $extra (the oracle's own)"
trap 'git checkout -q oracle/main.go' EXIT
/usr/bin/time -f 'argocd relink from the build cache: %e s' \
  go build -buildvcs=false -trimpath -ldflags="-s -w" -o "$OLDPWD/$dir/argocd" github.com/argoproj/argo-cd/v3/cmd
echo "// bench $(date +%s%N)" >>oracle/main.go
/usr/bin/time -f 'oracle build after a source change (1 package + link): %e s' \
  go build -buildvcs=false -trimpath -ldflags="-s -w" -o "$OLDPWD/$dir/oracle" ./oracle
rm -f "$OLDPWD/$dir/argocd" "$OLDPWD/$dir/oracle"
