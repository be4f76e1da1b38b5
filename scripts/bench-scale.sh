#!/usr/bin/env bash
# `make bench-scale`: the memory curve. The release argocd-drift against an in-process fake API
# server (backend/examples/history_load.rs) at each size, 20 resources per app, 5 % of the apps
# drifting hourly with a stored history of 100 episodes, plus a 6-app run (demo size) as the
# same-run baseline for request latency. Per size: ready time, RSS at ready (current and peak),
# RSS after the live hours, episode writes/s, GET /api/v1/status and /history throughput and p99
# over 8 keep-alive connections. Then bytes per app and per resource from the curve's slope.
#
#   BENCH_SCALE_SIZES ("1000 10000 50000"; add 100000 if it fits)
#   BENCH_SCALE_RESOURCES (20)  BENCH_SCALE_HOURS (1)  BENCH_SCALE_PROBE_SECONDS (5)
#   BENCH_SCALE_BINARY (target/release/argocd-drift): another build to measure, e.g. a "before"
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=${BENCH_SCALE_SIZES:-1000 10000 50000}
resources=${BENCH_SCALE_RESOURCES:-20}
hours=${BENCH_SCALE_HOURS:-1}
probe=${BENCH_SCALE_PROBE_SECONDS:-5}
binary=${BENCH_SCALE_BINARY:-target/release/argocd-drift}
echo "==> building (release)…" >&2
cargo build --release --locked -q -p argocd-drift --bin argocd-drift --example history_load
mkdir -p target/bench
tsv=$(mktemp target/bench/scale.XXXXXX.tsv)
for apps in 6 $sizes; do
  echo "==> $apps apps x $resources resources ($binary)" >&2
  # The baseline serves requests only: its few apps' versions are below the seeded episodes'.
  HISTORY_LOAD_APPS=$apps HISTORY_LOAD_DRIFTING=$(( apps / 20 > 0 ? apps / 20 : 1 )) \
  HISTORY_LOAD_RESOURCES=$resources HISTORY_LOAD_HOURS=$(( apps > 6 ? hours : 0 )) \
  HISTORY_LOAD_PROBE_SECONDS=$probe HISTORY_LOAD_TSV=$tsv \
    target/release/examples/history_load "$binary" >&2
done
echo
echo "binary: $binary; $resources resources/app; 5 % drifting with 100 stored episodes; $hours live hour(s); $(nproc) cores"
awk -F'\t' '
  BEGIN {
    printf "| apps | ready | RSS at ready (peak) | RSS after live hours (peak) | writes/s | status req/s | status p99 | history req/s | history p99 |\n"
    printf "|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"
  }
  NR == 1 { base_s = $11; base_h = $13 }
  {
    ratio_s = base_s > 0 ? sprintf(" (%.2fx)", $11 / base_s) : ""
    ratio_h = base_h > 0 ? sprintf(" (%.2fx)", $13 / base_h) : ""
    printf "| %s | %.1f s | %d MiB (%d) | %d MiB (%d) | %s | %d | %.2f ms%s | %d | %.2f ms%s |\n",
      $1, $4, $5, $6, $7, $8, ($14 > 0 ? $9 : "–"), $10, $11, ratio_s, $12, $13, ratio_h
    n++; x[n] = $1; y[n] = $5
  }
  END {
    if (n >= 3) {
      # Least squares over the sizes after the baseline: MiB per app at ready.
      for (i = 2; i <= n; i++) { sx += x[i]; sy += y[i]; sxx += x[i] * x[i]; sxy += x[i] * y[i]; m++ }
      slope = (m * sxy - sx * sy) / (m * sxx - sx * sx)
      printf "\nslope of RSS at ready: %.0f bytes per app, %.0f bytes per resource row (all of an app'\''s cost / %d)\n",
        slope * 1048576, slope * 1048576 / '"$resources"', '"$resources"'
    }
  }' "$tsv"
echo "(ratios: p99 against the 6-app run of the same binary in this run; raw rows in $tsv)"
