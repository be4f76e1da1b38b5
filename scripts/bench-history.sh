#!/usr/bin/env bash
# `make bench-history`: drift memory under load — the release argocd-drift against an in-process
# fake API server with 50,000 Applications of which 5 % drift once an hour (30 days of history
# seeded, then live hours played). Prints start-up, episode writes per second, RSS and the number
# and size of DriftHistory objects. See backend/examples/history_load.rs; figures in the README.
#
#   HISTORY_LOAD_APPS (50000)  HISTORY_LOAD_DRIFTING (apps / 20)  HISTORY_LOAD_HOURS (3)
set -euo pipefail
cd "$(dirname "$0")/.."
echo "==> building (release)…" >&2
cargo build --release --locked -q -p argocd-drift --bin argocd-drift --example history_load
target/release/examples/history_load target/release/argocd-drift
