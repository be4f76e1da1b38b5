#!/usr/bin/env bash
# The diff oracle: Argo CD's own diff code (util/argo/diff StateDiff, configured as the
# application controller configures it) as a command, built from the SAME Go module as the
# argocd binary of the real tests (testenv/go/argocd, program in go/argocd/oracle/), so the Argo CD
# and Kubernetes code it runs is that binary's, and the Go build cache is shared with it.
#
#   argocd-oracle.sh bin                 build unless cached; print the binary's path
#   argocd-oracle.sh answer [<prefix>]   (re)write fixtures/diff-scenarios/<name>.argocd.json for every
#                                        scenario (whose name starts with <prefix>)
#   argocd-oracle.sh batch               JSON lines on stdin -> answers on stdout (see the program's doc)
#
# Environment: DRIFT_CACHE_DIR (default ~/.cache/argocd-drift), DRIFT_GO_BUILD_FLAGS,
# DRIFT_ARGOCD_VERBOSE=1 (show `go build` output).
#
# Cache: bin/argocd-oracle-<argocd version>-<hash>/{oracle,swagger.json,openapi-v3/}; <hash>
# covers the program's sources, go.mod and go.sum, so any change to them builds a new binary.
# swagger.json and openapi-v3/ are the OpenAPI v2 and v3 documents of the k8s.io/kubernetes module
# the program is built with: the built-in kinds' schemas a cluster serves (the controller reads
# v2, kube-apiserver's field manager uses v3).
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LOG_PREFIX=argocd-oracle
# shellcheck source=lib.sh
source "$SCRIPT_DIR/lib.sh"
MOD_DIR="$SCRIPT_DIR/go/argocd"
CACHE_DIR=${DRIFT_CACHE_DIR:-$HOME/.cache/argocd-drift}
SCENARIOS="$SCRIPT_DIR/../fixtures/diff-scenarios"
CRDS="$SCENARIOS/crds" # the custom resources' definitions the scenarios use

argocd_version() {
	awk '($1 == "github.com/argoproj/argo-cd/v3" && $2 ~ /^v/) { print $2; exit }' "$MOD_DIR/go.mod"
}

source_hash() {
	(cd "$MOD_DIR" && cat go.mod go.sum oracle/*.go) | sha256sum | cut -c1-12
}

bin_dir() { printf '%s/bin/argocd-oracle-%s-%s\n' "$CACHE_DIR" "$(argocd_version)" "$(source_hash)"; }

build() { # <bin dir>
	local out=$1 tmp t0 rc=0 buildlog moddir
	command -v go >/dev/null || die "go is not installed (needed to build the oracle)"
	mkdir -p "$(dirname "$out")"
	tmp=$(mktemp -d "$out.tmp.XXXXXX")
	buildlog=$tmp/build.log
	local -a extra=()
	# shellcheck disable=SC2206 # word splitting of the extra flags is intended
	[[ -n ${DRIFT_GO_BUILD_FLAGS:-} ]] && extra=(${DRIFT_GO_BUILD_FLAGS})
	t0=$(now_ms)
	log "building the oracle in $MOD_DIR/oracle (argocd $(argocd_version); shares the argocd build's cache) ..."
	# The same flags as real-argocd.sh's build, so the compiled packages are shared.
	(cd "$MOD_DIR" && GOWORK=off GOFLAGS=-mod=readonly CGO_ENABLED=0 \
		go build -buildvcs=false -trimpath -ldflags="-s -w" "${extra[@]}" -o "$tmp/oracle" ./oracle) \
		>"$buildlog" 2>&1 || rc=$?
	if [[ ${DRIFT_ARGOCD_VERBOSE:-0} == 1 ]]; then cat "$buildlog" >&2; fi
	if ((rc != 0)); then
		grep -v '^go: downloading ' "$buildlog" | tail -n 40 >&2 || true
		rm -rf "$tmp"
		die "go build ./oracle failed (exit $rc)"
	fi
	rm -f "$buildlog"
	moddir=$(cd "$MOD_DIR" && GOWORK=off GOFLAGS=-mod=readonly go list -m -f '{{.Dir}}' k8s.io/kubernetes)
	cp "$moddir/api/openapi-spec/swagger.json" "$tmp/swagger.json"
	cp -r "$moddir/api/openapi-spec/v3" "$tmp/openapi-v3"
	chmod -R u+w "$tmp/openapi-v3"
	chmod 755 "$tmp"
	rm -rf "$out"
	mv -T "$tmp" "$out"
	log "built $out/oracle in $(elapsed "$t0")"
	# Each source change builds a new binary (~85 MB): keep the newest three (worktrees on
	# different branches may alternate between a few).
	local old
	while IFS= read -r old; do rm -rf "$old"; done < <(
		find "$CACHE_DIR/bin" -maxdepth 1 -type d -name 'argocd-oracle-*' ! -name '*.tmp.*' -printf '%T@ %p\n' |
			sort -rn | tail -n +4 | cut -d' ' -f2-)
}

cmd_bin() {
	local dir
	dir=$(bin_dir)
	if [[ ! -x $dir/oracle || ! -e $dir/swagger.json || ! -d $dir/openapi-v3 ]]; then
		mkdir -p "$CACHE_DIR/bin"
		# One Go build at a time on the machine (the lock real-kube.sh and real-argocd.sh take).
		exec 9>"$CACHE_DIR/bin/.lock"
		flock 9
		[[ -x $dir/oracle && -e $dir/swagger.json && -d $dir/openapi-v3 ]] || build "$dir"
		exec 9>&-
	fi
	printf '%s\n' "$dir/oracle"
}

main() {
	[[ $# -ge 1 ]] || die "usage: $0 bin | answer [<prefix>] | batch"
	local sub=$1 bin
	shift
	case $sub in
	bin) cmd_bin ;;
	answer)
		bin=$(cmd_bin)
		"$bin" -crds "$CRDS" answer -only "${1:-}" "$SCENARIOS"
		;;
	batch)
		bin=$(cmd_bin)
		exec "$bin" -crds "$CRDS" batch
		;;
	*) die "unknown subcommand '$sub' (bin, answer, batch)" ;;
	esac
}

main "$@"
