#!/usr/bin/env bash
# Prometheus's promtool, built from the official github.com/prometheus/prometheus
# module pinned in testenv/go/prometheus, for the chart's alert-rule tests
# (`promtool test rules`) and the dashboards' PromQL checks.
#
#   promtool.sh bin       build promtool unless cached; print its path
#   promtool.sh <args>…   run the cached (or freshly built) promtool with <args>
#
# Environment:
#   DRIFT_CACHE_DIR        cache root (default ~/.cache/argocd-drift); binary in bin/promtool-<version>/
#   DRIFT_GO_BUILD_FLAGS   extra flags for `go build` (e.g. "-p 1")
#   DRIFT_PROMTOOL_VERBOSE=1  show `go build` output
#
# Built with -tags remove_all_sd: no service-discovery plugins (promtool's rule
# tests never discover targets). Cold build on 2 shared cores: ~1 min of module
# downloads, ~8 min of compiling; cached by version afterwards.
set -euo pipefail
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LOG_PREFIX=promtool
# shellcheck source=lib.sh
source "$SCRIPT_DIR/lib.sh"
MOD_DIR="$SCRIPT_DIR/go/prometheus"
CACHE_DIR=${DRIFT_CACHE_DIR:-$HOME/.cache/argocd-drift}
MODULE=github.com/prometheus/prometheus

prom_version() {
	local v
	v=$(awk -v m="$MODULE" '($1 == m && $2 ~ /^v/) { print $2; exit } ($1 == "require" && $2 == m) { print $3; exit }' "$MOD_DIR/go.mod")
	[[ -n $v ]] || die "$MOD_DIR/go.mod does not require $MODULE"
	printf '%s\n' "$v"
}
bin_dir() { printf '%s/bin/promtool-%s\n' "$CACHE_DIR" "$(prom_version)"; }

# Build into a temporary directory next to the cache entry, then rename it into
# place: an interrupted build leaves nothing that looks finished.
build() { # <bin dir>
	local out=$1 tmp t0 rc=0
	command -v go >/dev/null || die "go is not installed (needed to build promtool)"
	mkdir -p "$(dirname "$out")"
	tmp=$(mktemp -d "$out.tmp.XXXXXX")
	local -a extra=()
	# shellcheck disable=SC2206 # word splitting of the extra flags is intended
	[[ -n ${DRIFT_GO_BUILD_FLAGS:-} ]] && extra=(${DRIFT_GO_BUILD_FLAGS})
	t0=$(now_ms)
	log "building promtool $(prom_version) in $MOD_DIR (a cold build takes several minutes on 2 cores) ..."
	(cd "$MOD_DIR" && GOWORK=off GOFLAGS=-mod=readonly CGO_ENABLED=0 \
		go build -buildvcs=false -trimpath -tags remove_all_sd -ldflags="-s -w" "${extra[@]}" \
		-o "$tmp/promtool" "$MODULE/cmd/promtool") >"$tmp/build.log" 2>&1 || rc=$?
	if [[ ${DRIFT_PROMTOOL_VERBOSE:-0} == 1 ]]; then cat "$tmp/build.log" >&2; fi
	if ((rc != 0)); then
		grep -v '^go: downloading ' "$tmp/build.log" | tail -n 40 >&2 || true
		rm -rf "$tmp"
		die "go build $MODULE/cmd/promtool failed (exit $rc)"
	fi
	rm -f "$tmp/build.log"
	chmod 755 "$tmp"
	rm -rf "$out"
	mv -T "$tmp" "$out"
	log "built $out/promtool in $(elapsed "$t0")"
}

cmd_bin() {
	local dir
	dir=$(bin_dir)
	if [[ ! -x $dir/promtool ]]; then
		mkdir -p "$CACHE_DIR/bin"
		# One Go build at a time: the same lock as real-kube.sh and real-argocd.sh.
		exec 9>"$CACHE_DIR/bin/.lock"
		flock 9
		[[ -x $dir/promtool ]] || build "$dir"
		exec 9>&-
	fi
	printf '%s\n' "$dir/promtool"
}

main() {
	[[ $# -ge 1 ]] || die "usage: $0 bin | <promtool args>…"
	if [[ $1 == bin ]]; then
		cmd_bin
	else
		local tool
		tool=$(cmd_bin)
		exec "$tool" "$@"
	fi
}
main "$@"
