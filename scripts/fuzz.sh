#!/usr/bin/env bash
# The long fuzz runs: every target of fuzz/ under libFuzzer (cargo-fuzz, nightly), coverage
# guided, growing its corpus in fuzz/corpus/<target>/. Prints each target's execution count.
#
#   FUZZ_RUNS (10000000)   executions per parser target
#   FUZZ_ENGINE_RUNS (1000000)  executions for jq and the drift engine (slower per input)
#   FUZZ_TARGETS (all)     space-separated subset
#
# Needs a nightly toolchain (`rustup toolchain list`) and cargo-fuzz (`cargo install cargo-fuzz`).
# Without a sanitizer (-s none): the code under test forbids `unsafe`, so ASan finds nothing it
# cannot, and runs twice as fast. A crash leaves its input in fuzz/libfuzzer/artifacts/<target>/:
# fix it, copy the input to fuzz/regressions/<target>/ (the test suite replays it), and add a
# regression test beside the parser. After a run each corpus is minimized (cargo fuzz cmin).
set -euo pipefail
cd "$(dirname "$0")/.."

runs=${FUZZ_RUNS:-10000000}
engine_runs=${FUZZ_ENGINE_RUNS:-1000000}
targets=${FUZZ_TARGETS:-identity_headers query report_compat report_v1 token_file history_cursor managed_fields last_applied jq drift_engine}

rustup toolchain list | grep -q '^nightly' || { echo "no nightly toolchain: rustup toolchain install nightly" >&2; exit 1; }
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked

for target in $targets; do
  n=$runs
  case $target in jq|drift_engine|last_applied) n=$engine_runs ;; esac
  log=$(mktemp)
  cargo +nightly fuzz run --fuzz-dir fuzz/libfuzzer -s none -O "$target" "fuzz/corpus/$target" -- \
    -runs="$n" -max_len=65536 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 >"$log" 2>&1 || {
    tail -40 "$log" >&2; echo "fuzz target $target failed" >&2; exit 1; }
  done_line=$(grep -E '^Done [0-9]+ runs' "$log" | tail -1)
  cargo +nightly fuzz cmin --fuzz-dir fuzz/libfuzzer -s none -O "$target" "fuzz/corpus/$target" >"$log" 2>&1 ||
    { tail -20 "$log" >&2; echo "cmin of $target failed" >&2; exit 1; }
  echo "$target: $done_line; corpus $(ls "fuzz/corpus/$target" | wc -l) files"
  rm -f "$log"
done
