#!/usr/bin/env bash
# A real kube-apiserver + etcd for argocd-drift's tests, built from the
# official Go modules pinned in testenv/go/kube and testenv/go/etcd.
#
#   real-kube.sh bins                     build both binaries unless cached; print their directory
#   real-kube.sh start <dir>              start etcd + kube-apiserver on 127.0.0.1, data/certs in <dir>
#   real-kube.sh stop <dir>               stop them (TERM, then KILL after a deadline); idempotent
#   real-kube.sh restart-apiserver <dir>  stop kube-apiserver and start it again on the same address
#                                         (etcd and its data kept)
#   real-kube.sh install-crds <dir> <f>…  create the CRDs in the YAML files, wait until established
#   real-kube.sh smoke <dir>              real requests against a started cluster; fails loudly
#
# Environment:
#   DRIFT_CACHE_DIR            cache root (default ~/.cache/argocd-drift); binaries in bin/<name>-<version>/
#   DRIFT_KUBE_START_TIMEOUT   seconds to wait for /readyz (default 120)
#   DRIFT_KUBE_STOP_TIMEOUT    seconds between TERM and KILL (default 10)
#   DRIFT_KUBE_WATCH_PID       if set at `start`, the cluster is stopped once that process exits
#   DRIFT_KUBE_VERBOSE=1       show `go build` output
#   DRIFT_GO_BUILD_FLAGS       extra flags for `go build` (e.g. "-p 1")
#
# See testenv/README.md for versions, flags and measured times.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LOG_PREFIX=real-kube
# shellcheck source=lib.sh
source "$SCRIPT_DIR/lib.sh"
KUBE_MOD_DIR="$SCRIPT_DIR/go/kube"
ETCD_MOD_DIR="$SCRIPT_DIR/go/etcd"
CACHE_DIR=${DRIFT_CACHE_DIR:-$HOME/.cache/argocd-drift}

ADMIN_USER=drift-admin
PLAIN_USER=drift-user
SERVICE_CIDR=10.0.0.0/24


# The version a go.mod requires a module at (go.mod is kept tidy: one
# "<module> <version>" line in a require block).
mod_version() { # <go.mod> <module>
	local v
	v=$(awk -v m="$2" '($1 == m && $2 ~ /^v/) { print $2; exit } ($1 == "require" && $2 == m) { print $3; exit }' "$1")
	[[ -n $v ]] || die "$1 does not require $2"
	printf '%s\n' "$v"
}

kube_version() { mod_version "$KUBE_MOD_DIR/go.mod" k8s.io/kubernetes; }
etcd_version() { mod_version "$ETCD_MOD_DIR/go.mod" go.etcd.io/etcd/server/v3; }
kube_bin_dir() { printf '%s/bin/kubernetes-%s\n' "$CACHE_DIR" "$(kube_version)"; }
etcd_bin_dir() { printf '%s/bin/etcd-%s\n' "$CACHE_DIR" "$(etcd_version)"; }

# go build <pkg> into <out>, atomically: build to a temporary name in the
# same directory, then rename.
go_build() { # <module dir> <out> <ldflags> <package>
	local moddir=$1 out=$2 ldflags=$3 pkg=$4 tmp t0 rc=0
	command -v go >/dev/null || die "go is not installed (needed to build $(basename "$out"))"
	mkdir -p "$(dirname "$out")"
	tmp=$(mktemp "$out.tmp.XXXXXX")
	t0=$(now_ms)
	log "building $(basename "$out") in $moddir (cold builds take many minutes) ..."
	local -a extra=()
	# shellcheck disable=SC2206 # word splitting of the extra flags is intended
	[[ -n ${DRIFT_GO_BUILD_FLAGS:-} ]] && extra=(${DRIFT_GO_BUILD_FLAGS})
	if [[ ${DRIFT_KUBE_VERBOSE:-0} == 1 ]]; then
		(cd "$moddir" && GOWORK=off GOFLAGS=-mod=readonly CGO_ENABLED=0 \
			go build -buildvcs=false -trimpath -ldflags="$ldflags" "${extra[@]}" -o "$tmp" "$pkg") || rc=$?
	else
		local buildlog
		buildlog=$(mktemp)
		(cd "$moddir" && GOWORK=off GOFLAGS=-mod=readonly CGO_ENABLED=0 \
			go build -buildvcs=false -trimpath -ldflags="$ldflags" "${extra[@]}" -o "$tmp" "$pkg") >"$buildlog" 2>&1 || rc=$?
		if ((rc != 0)); then grep -v '^go: downloading ' "$buildlog" | tail -n 40 >&2 || true; fi
		rm -f "$buildlog"
	fi
	if ((rc != 0)); then
		rm -f "$tmp"
		die "go build $pkg failed (exit $rc)"
	fi
	mv -f "$tmp" "$out"
	log "built $out in $(elapsed "$t0")"
}

cmd_bins() {
	local kv ev kdir edir t0
	t0=$(now_ms)
	kv=$(kube_version)
	ev=$(etcd_version)
	kdir=$(kube_bin_dir)
	edir=$(etcd_bin_dir)
	mkdir -p "$CACHE_DIR/bin"
	# One builder at a time (parallel test binaries may all ask for the bins).
	exec 9>"$CACHE_DIR/bin/.lock"
	flock 9
	# Leftovers of builds that were killed before their rename.
	rm -f "$kdir"/*.tmp.* "$edir"/*.tmp.*
	if [[ ! -x $kdir/kube-apiserver ]]; then
		local minor=${kv#v1.}
		minor=${minor%%.*}
		local ld="-s -w"
		local pkgpath
		for pkgpath in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
			ld+=" -X $pkgpath.gitVersion=$kv -X $pkgpath.gitMajor=1 -X $pkgpath.gitMinor=$minor -X $pkgpath.gitTreeState=clean"
		done
		go_build "$KUBE_MOD_DIR" "$kdir/kube-apiserver" "$ld" k8s.io/kubernetes/cmd/kube-apiserver
	fi
	if [[ ! -x $edir/etcd ]]; then
		go_build "$ETCD_MOD_DIR" "$edir/etcd" "-s -w" .
	fi
	exec 9>&-
	log "bins ready in $(elapsed "$t0"): kube-apiserver $kv, etcd $ev"
	# Both directories are printed: kube-apiserver's first, etcd's second.
	printf '%s\n%s\n' "$kdir" "$edir"
}

# A TCP port on 127.0.0.1 that nothing listens on right now (the kernel picks
# it). Another process may still grab it before we bind it, so callers retry
# on "address already in use".

# Is <pid> alive and running <binary name>? (Guards against recycled PIDs.)
pid_is() { # <pid> <comm>
	[[ -n $1 && -r /proc/$1/comm ]] && [[ $(cat "/proc/$1/comm" 2>/dev/null) == "$2" ]]
}

# Is <pid> still running (not gone, not a zombie)? Right after spawn the
# process may not have exec'd its binary yet, so this does not check the name.

# Start <binary> detached (own session, so a ^C in the caller's terminal does
# not reach it), stdin from /dev/null, output to <log>; prints its PID.

gen_certs() { # <dir>
	local d=$1
	(
		cd "$d"
		umask 077
		openssl ecparam -name prime256v1 -genkey -noout -out ca.key 2>/dev/null
		openssl req -x509 -new -key ca.key -sha256 -days 3650 -subj "/CN=argocd-drift-test-ca" \
			-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
			-out ca.crt 2>/dev/null
		openssl ecparam -name prime256v1 -genkey -noout -out apiserver.key 2>/dev/null
		openssl req -new -key apiserver.key -subj "/CN=kube-apiserver" -out apiserver.csr 2>/dev/null
		printf '%s\n' \
			"basicConstraints=CA:FALSE" \
			"keyUsage=critical,digitalSignature,keyEncipherment" \
			"extendedKeyUsage=serverAuth" \
			"subjectAltName=IP:127.0.0.1,DNS:localhost,IP:10.0.0.1,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local" \
			>apiserver.ext
		openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -sha256 -days 3650 \
			-extfile apiserver.ext -out apiserver.crt 2>/dev/null
		openssl ecparam -name prime256v1 -genkey -noout -out sa.key 2>/dev/null
		openssl ec -in sa.key -pubout -out sa.pub 2>/dev/null
		rm -f apiserver.csr apiserver.ext ca.srl
	) || die "certificate generation with openssl failed"
}

kubeconfig() { # <server> <ca file> <user> <token>
	local ca
	ca=$(base64 -w0 <"$2")
	cat <<EOF
apiVersion: v1
kind: Config
clusters:
- name: drift-test
  cluster:
    server: $1
    certificate-authority-data: $ca
users:
- name: $3
  user:
    token: $4
contexts:
- name: drift-test
  context:
    cluster: drift-test
    user: $3
    namespace: default
current-context: drift-test
EOF
}

show_logs() { # <dir>
	local f
	for f in "$1"/etcd.log "$1"/kube-apiserver.log; do
		[[ -f $f ]] || continue
		printf '\n==> last lines of %s <==\n' "$f" >&2
		tail -n 40 "$f" >&2
	done
}

# Start etcd on fresh ports; retries if a port was taken meanwhile.
start_etcd() { # <dir> <etcd binary>; sets ETCD_PID ETCD_URL
	local d=$1 bin=$2 attempt cport pport deadline
	for attempt in 1 2 3; do
		cport=$(free_port)
		pport=$(free_port)
		[[ $cport != "$pport" ]] || continue
		rm -rf "$d/etcd-data"
		: >"$d/etcd.log"
		ETCD_URL=http://127.0.0.1:$cport
		# --unsafe-no-fsync: test data only, makes writes much cheaper.
		ETCD_PID=$(spawn "$d/etcd.log" "$bin" \
			--name drift-test \
			--data-dir "$d/etcd-data" \
			--listen-client-urls "$ETCD_URL" \
			--advertise-client-urls "$ETCD_URL" \
			--listen-peer-urls "http://127.0.0.1:$pport" \
			--initial-advertise-peer-urls "http://127.0.0.1:$pport" \
			--initial-cluster "drift-test=http://127.0.0.1:$pport" \
			--initial-cluster-state new \
			--unsafe-no-fsync \
			--log-level warn)
		echo "$ETCD_PID" >"$d/etcd.pid"
		deadline=$((SECONDS + 30))
		while ((SECONDS < deadline)); do
			if ! alive "$ETCD_PID"; then
				if grep -q 'address already in use' "$d/etcd.log"; then
					log "etcd: port taken (attempt $attempt), retrying on other ports"
					continue 2
				fi
				show_logs "$d"
				die "etcd exited during startup"
			fi
			if curl -fsS --max-time 2 "$ETCD_URL/health" 2>/dev/null | grep -q '"health":"true"'; then
				return 0
			fi
			sleep 0.1
		done
		show_logs "$d"
		die "etcd not healthy after 30s"
	done
	show_logs "$d"
	die "etcd: could not find free ports in 3 attempts"
}

start_apiserver() { # <dir> <kube-apiserver binary> [port]; sets APISERVER_PID API_URL
	local d=$1 bin=$2 fixed=${3:-} attempt port timeout=${DRIFT_KUBE_START_TIMEOUT:-120} deadline code
	for attempt in 1 2 3; do
		port=${fixed:-$(free_port)}
		: >"$d/kube-apiserver.log"
		API_URL=https://127.0.0.1:$port
		APISERVER_PID=$(spawn "$d/kube-apiserver.log" "$bin" \
			--etcd-servers "$ETCD_URL" \
			--etcd-prefix /registry \
			--bind-address 127.0.0.1 \
			--advertise-address 127.0.0.1 \
			--secure-port "$port" \
			--cert-dir "$d" \
			--tls-cert-file "$d/apiserver.crt" \
			--tls-private-key-file "$d/apiserver.key" \
			--client-ca-file "$d/ca.crt" \
			--token-auth-file "$d/tokens.csv" \
			--authorization-mode RBAC \
			--service-account-issuer https://kubernetes.default.svc.cluster.local \
			--service-account-key-file "$d/sa.pub" \
			--service-account-signing-key-file "$d/sa.key" \
			--service-cluster-ip-range "$SERVICE_CIDR" \
			--disable-admission-plugins ServiceAccount \
			--endpoint-reconciler-type none \
			--allow-privileged=true \
			--profiling=false)
		echo "$APISERVER_PID" >"$d/kube-apiserver.pid"
		deadline=$((SECONDS + timeout))
		while ((SECONDS < deadline)); do
			if ! alive "$APISERVER_PID"; then
				if grep -q 'address already in use' "$d/kube-apiserver.log"; then
					log "kube-apiserver: port $port taken (attempt $attempt), retrying"
					[[ -z $fixed ]] || sleep 1
					continue 2
				fi
				show_logs "$d"
				die "kube-apiserver exited during startup"
			fi
			code=$(curl -sS -o /dev/null -w '%{http_code}' --max-time 5 --cacert "$d/ca.crt" \
				-H "Authorization: Bearer $ADMIN_TOKEN" "$API_URL/readyz" 2>/dev/null || true)
			[[ $code == 200 ]] && return 0
			sleep 0.2
		done
		log "kube-apiserver not ready after ${timeout}s; /readyz?verbose says:"
		curl -sS --max-time 5 --cacert "$d/ca.crt" -H "Authorization: Bearer $ADMIN_TOKEN" \
			"$API_URL/readyz?verbose" >&2 || true
		show_logs "$d"
		die "kube-apiserver not ready after ${timeout}s"
	done
	show_logs "$d"
	die "kube-apiserver: could not find a free port in 3 attempts"
}

cmd_start() {
	[[ $# -eq 1 ]] || die "usage: start <dir>"
	local d t0 t1 bins kdir edir
	t0=$(now_ms)
	mkdir -p "$1"
	d=$(cd "$1" && pwd)
	if pid_is "$(cat "$d/kube-apiserver.pid" 2>/dev/null || true)" kube-apiserver ||
		pid_is "$(cat "$d/etcd.pid" 2>/dev/null || true)" etcd; then
		die "a cluster is already running in $d (run: $0 stop $d)"
	fi
	bins=$(cmd_bins)
	# Whatever goes wrong from here on, leave no process behind.
	# shellcheck disable=SC2064 # $d is meant to be expanded now
	trap "cmd_stop '$d'" EXIT
	kdir=$(sed -n 1p <<<"$bins")
	edir=$(sed -n 2p <<<"$bins")
	t1=$(now_ms)

	gen_certs "$d"
	ADMIN_TOKEN=$(openssl rand -hex 24)
	USER_TOKEN=$(openssl rand -hex 24)
	(
		umask 077
		printf '%s,%s,%s,"%s"\n' "$ADMIN_TOKEN" "$ADMIN_USER" "$ADMIN_USER" "system:masters" >"$d/tokens.csv"
		printf '%s,%s,%s,"%s"\n' "$USER_TOKEN" "$PLAIN_USER" "$PLAIN_USER" "drift-users" >>"$d/tokens.csv"
	)

	start_etcd "$d" "$edir/etcd"
	start_apiserver "$d" "$kdir/kube-apiserver"

	kubeconfig "$API_URL" "$d/ca.crt" "$ADMIN_USER" "$ADMIN_TOKEN" >"$d/kubeconfig"
	kubeconfig "$API_URL" "$d/ca.crt" "$PLAIN_USER" "$USER_TOKEN" >"$d/kubeconfig-user"
	{
		printf 'KUBECONFIG=%q\n' "$d/kubeconfig"
		printf 'DRIFT_KUBE_DIR=%q\n' "$d"
		printf 'DRIFT_KUBE_API_URL=%q\n' "$API_URL"
		printf 'DRIFT_KUBE_CA_FILE=%q\n' "$d/ca.crt"
		printf 'DRIFT_KUBE_ADMIN_KUBECONFIG=%q\n' "$d/kubeconfig"
		printf 'DRIFT_KUBE_ADMIN_USER=%q\n' "$ADMIN_USER"
		printf 'DRIFT_KUBE_ADMIN_TOKEN=%q\n' "$ADMIN_TOKEN"
		printf 'DRIFT_KUBE_USER_KUBECONFIG=%q\n' "$d/kubeconfig-user"
		printf 'DRIFT_KUBE_USER_NAME=%q\n' "$PLAIN_USER"
		printf 'DRIFT_KUBE_USER_GROUP=%q\n' drift-users
		printf 'DRIFT_KUBE_USER_TOKEN=%q\n' "$USER_TOKEN"
		printf 'DRIFT_KUBE_ETCD_URL=%q\n' "$ETCD_URL"
		printf 'DRIFT_KUBE_ETCD_PID=%q\n' "$ETCD_PID"
		printf 'DRIFT_KUBE_APISERVER_PID=%q\n' "$APISERVER_PID"
		printf 'DRIFT_KUBE_VERSION=%q\n' "$(kube_version)"
		printf 'DRIFT_ETCD_VERSION=%q\n' "$(etcd_version)"
		printf 'export KUBECONFIG DRIFT_KUBE_DIR DRIFT_KUBE_API_URL DRIFT_KUBE_CA_FILE DRIFT_KUBE_ADMIN_KUBECONFIG DRIFT_KUBE_ADMIN_USER DRIFT_KUBE_ADMIN_TOKEN DRIFT_KUBE_USER_KUBECONFIG DRIFT_KUBE_USER_NAME DRIFT_KUBE_USER_GROUP DRIFT_KUBE_USER_TOKEN DRIFT_KUBE_ETCD_URL DRIFT_KUBE_ETCD_PID DRIFT_KUBE_APISERVER_PID DRIFT_KUBE_VERSION DRIFT_ETCD_VERSION\n'
	} >"$d/env"
	chmod 600 "$d/env" "$d/kubeconfig" "$d/kubeconfig-user"

	trap - EXIT
	if [[ -n ${DRIFT_KUBE_WATCH_PID:-} ]]; then
		# Stop the cluster once the watched process (e.g. a test binary) is gone.
		# shellcheck disable=SC2016 # expanded by the inner bash
		setsid bash -c 'while kill -0 "$1" 2>/dev/null; do sleep 1; done; exec "$2" stop "$3"' \
			watch "$DRIFT_KUBE_WATCH_PID" "$SCRIPT_DIR/real-kube.sh" "$d" </dev/null >>"$d/watch.log" 2>&1 &
		echo "$!" >"$d/watch.pid"
	fi
	log "ready in $(elapsed "$t1") (total $(elapsed "$t0")): $API_URL (etcd pid $ETCD_PID, kube-apiserver pid $APISERVER_PID); source $d/env"
}

# Stops the kube-apiserver of a running cluster and starts it again on the same address, its
# etcd (and so every object) kept: what a control-plane upgrade or a crash looks like to clients.
cmd_restart_apiserver() {
	[[ $# -eq 1 ]] || die "usage: restart-apiserver <dir>"
	local d t0 kdir
	d=$(cd "$1" && pwd)
	load_env "$d"
	kdir=$(sed -n 1p <<<"$(cmd_bins)")
	t0=$(now_ms)
	stop_pid "$(cat "$d/kube-apiserver.pid" 2>/dev/null || true)" kube-apiserver
	ETCD_URL=$DRIFT_KUBE_ETCD_URL
	ADMIN_TOKEN=$DRIFT_KUBE_ADMIN_TOKEN
	start_apiserver "$d" "$kdir/kube-apiserver" "${DRIFT_KUBE_API_URL##*:}"
	sed -i "s/^DRIFT_KUBE_APISERVER_PID=.*/DRIFT_KUBE_APISERVER_PID=$APISERVER_PID/" "$d/env"
	log "kube-apiserver restarted in $(elapsed "$t0"): $API_URL (pid $APISERVER_PID)"
}

stop_pid() { # <pid> <comm>
	local pid=$1 comm=$2 deadline
	pid_is "$pid" "$comm" || return 0
	kill -TERM "$pid" 2>/dev/null || return 0
	deadline=$((SECONDS + ${DRIFT_KUBE_STOP_TIMEOUT:-10}))
	while pid_is "$pid" "$comm" && ((SECONDS < deadline)); do sleep 0.1; done
	if pid_is "$pid" "$comm"; then
		log "$comm (pid $pid) ignored TERM; sending KILL"
		kill -KILL "$pid" 2>/dev/null || true
		while pid_is "$pid" "$comm"; do sleep 0.05; done
	fi
}

cmd_stop() {
	[[ $# -eq 1 ]] || die "usage: stop <dir>"
	local d=$1 pid
	[[ -d $d ]] || return 0
	pid=$(cat "$d/kube-apiserver.pid" 2>/dev/null || true)
	stop_pid "$pid" kube-apiserver
	pid=$(cat "$d/etcd.pid" 2>/dev/null || true)
	stop_pid "$pid" etcd
	rm -f "$d/kube-apiserver.pid" "$d/etcd.pid"
	pid=$(cat "$d/watch.pid" 2>/dev/null || true)
	rm -f "$d/watch.pid"
	# The watcher may be the one calling us; only signal it if it is another process.
	if [[ -n $pid && $pid != "$$" && $pid != "$PPID" ]] && pid_is "$pid" bash; then
		kill -TERM "$pid" 2>/dev/null || true
	fi
}

# ---- plain-curl API client (admin token unless told otherwise) ------------

load_env() { # <dir>
	[[ -f $1/env ]] || die "$1/env not found: run '$0 start $1' first"
	# shellcheck disable=SC1091
	source "$1/env"
}

# api <method> <path> [curl args...]: body to $API_BODY, status code to stdout.
API_BODY=
api() {
	local method=$1 path=$2
	shift 2
	local token=${API_TOKEN:-$DRIFT_KUBE_ADMIN_TOKEN}
	[[ -n $API_BODY ]] || die "internal: API_BODY not set"
	curl -sS -o "$API_BODY" -w '%{http_code}' --max-time 30 --cacert "$DRIFT_KUBE_CA_FILE" \
		-H "Authorization: Bearer $token" -H 'Accept: application/json' \
		-X "$method" "$@" "$DRIFT_KUBE_API_URL$path"
}

# Split a multi-document YAML file into files under <outdir>; prints their paths.
split_yaml() { # <file> <outdir>
	awk -v out="$2" '
		function flush() { if (has) { n++; f = out "/doc" n ".yaml"; printf "%s", buf > f; close(f); print f } buf = ""; has = 0 }
		/^---([ \t].*)?$/ { flush(); next }
		{ buf = buf $0 "\n"; if ($0 !~ /^[ \t]*(#.*)?$/) has = 1 }
		END { flush() }' "$1"
}


cmd_install_crds() {
	[[ $# -ge 2 ]] || die "usage: install-crds <dir> <crd.yaml>..."
	local d=$1
	shift
	load_env "$d"
	local tmpd f doc code name plural group version deadline
	tmpd=$(mktemp -d)
	API_BODY=$tmpd/body
	for f in "$@"; do
		[[ -f $f ]] || die "$f: no such file"
		while IFS= read -r doc; do
			# The API server takes YAML request bodies as they are.
			code=$(api POST /apis/apiextensions.k8s.io/v1/customresourcedefinitions \
				-H 'Content-Type: application/yaml' --data-binary "@$doc")
			case $code in
			201) ;;
			409)
				# Already there (a re-run on the same cluster): the AlreadyExists
				# status names it; server-side apply this content over it.
				name=$(json_get "$API_BODY" 'd["details"]["name"]')
				code=$(api PATCH "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/$name?fieldManager=real-kube-sh&force=true" \
					-H 'Content-Type: application/apply-patch+yaml' --data-binary "@$doc")
				[[ $code == 200 ]] || die "apply of CRD $name from $f: HTTP $code: $(cat "$API_BODY")"
				;;
			*) die "create CRD from $f: HTTP $code: $(cat "$API_BODY")" ;;
			esac
			name=$(json_get "$API_BODY" 'd["metadata"]["name"]')
			plural=$(json_get "$API_BODY" 'd["spec"]["names"]["plural"]')
			group=$(json_get "$API_BODY" 'd["spec"]["group"]')
			version=$(json_get "$API_BODY" '[v["name"] for v in d["spec"]["versions"] if v.get("served")][0]')
			deadline=$((SECONDS + 30))
			while :; do
				code=$(api GET "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/$name")
				if [[ $code == 200 ]] && [[ $(json_get "$API_BODY" \
					'any(c["type"] == "Established" and c["status"] == "True" for c in d.get("status", {}).get("conditions", []))') == True ]] &&
					[[ $(api GET "/apis/$group/$version/$plural?limit=1") == 200 ]]; then
					break
				fi
				((SECONDS < deadline)) || die "CRD $name not established and served after 30s"
				sleep 0.1
			done
			log "CRD $name established"
		done < <(split_yaml "$f" "$tmpd")
	done
	rm -rf "$tmpd"
}

# ---- smoke check ----------------------------------------------------------

SMOKE_PASSED=0
smoke_fail() {
	echo >&2
	printf 'smoke: %d passed, 1 failed\n' "$SMOKE_PASSED"
	exit 1
}

expect() { # <what> <expected code> <actual code>
	if [[ $2 != "$3" ]]; then
		printf 'real-kube smoke: FAILED: %s: expected HTTP %s, got %s\n' "$1" "$2" "$3" >&2
		cat "$API_BODY" >&2
		smoke_fail
	fi
	SMOKE_PASSED=$((SMOKE_PASSED + 1))
	printf 'ok   %s (HTTP %s)\n' "$1" "$3"
}

check() { # <what> <python condition over d (the last response)>
	if [[ $(json_get "$API_BODY" "bool($2)") != True ]]; then
		printf 'real-kube smoke: FAILED: %s: not true: %s\n' "$1" "$2" >&2
		cat "$API_BODY" >&2
		smoke_fail
	fi
	SMOKE_PASSED=$((SMOKE_PASSED + 1))
	printf 'ok   %s\n' "$1"
}

cmd_smoke() {
	[[ $# -eq 1 ]] || die "usage: smoke <dir>"
	local d=$1 ns code tmpd
	load_env "$d"
	tmpd=$(mktemp -d)
	API_BODY=$tmpd/body
	ns=drift-smoke-$(openssl rand -hex 3)

	code=$(api GET /version)
	expect "GET /version" 200 "$code"
	check "server is $DRIFT_KUBE_VERSION" "d['gitVersion'] == '$DRIFT_KUBE_VERSION'"

	code=$(api POST /api/v1/namespaces -H 'Content-Type: application/json' \
		--data "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"$ns\"}}")
	expect "create namespace $ns" 201 "$code"

	local crd=${DRIFT_APPLICATION_CRD:-$SCRIPT_DIR/../fixtures/crds/application-crd.yaml}
	[[ -f $crd ]] || die "$crd not found (set DRIFT_APPLICATION_CRD)"
	cmd_install_crds "$d" "$crd"
	API_BODY=$tmpd/body
	SMOKE_PASSED=$((SMOKE_PASSED + 1))
	printf 'ok   Application CRD installed and established\n'

	# An Application with a status block (the CRD has no /status subresource,
	# so status is written with the object).
	cat >"$tmpd/app.yaml" <<EOF
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: guestbook
  namespace: $ns
spec:
  project: default
  source:
    repoURL: https://example.invalid/argocd-example-apps.git
    targetRevision: HEAD
    path: guestbook
  destination:
    server: https://kubernetes.default.svc
    namespace: guestbook
status:
  sync:
    status: OutOfSync
    revision: 0123456789abcdef0123456789abcdef01234567
  health:
    status: Healthy
  resources:
  - version: v1
    kind: ConfigMap
    namespace: guestbook
    name: guestbook-config
    status: OutOfSync
EOF
	code=$(api POST "/apis/argoproj.io/v1alpha1/namespaces/$ns/applications?fieldManager=argocd-controller" \
		-H 'Content-Type: application/yaml' --data-binary "@$tmpd/app.yaml")
	expect "create Application $ns/guestbook" 201 "$code"
	code=$(api GET "/apis/argoproj.io/v1alpha1/namespaces/$ns/applications/guestbook")
	expect "read Application back" 200 "$code"
	check "Application status survived the round trip" \
		"d['status']['sync']['status'] == 'OutOfSync' and d['status']['health']['status'] == 'Healthy' and d['status']['resources'][0]['name'] == 'guestbook-config'"
	printf '     Application managedFields: %s\n' "$(json_get "$API_BODY" 'json.dumps(d["metadata"]["managedFields"])')"

	code=$(api POST "/api/v1/namespaces/$ns/configmaps?fieldManager=argocd-controller" \
		-H 'Content-Type: application/json' \
		--data '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"drift-cm","labels":{"app":"guestbook"}},"data":{"a":"1","b":"2"}}')
	expect "create ConfigMap with fieldManager=argocd-controller" 201 "$code"
	check "one managedFields entry, argocd-controller/Update" \
		"[(m['manager'], m['operation']) for m in d['metadata']['managedFields']] == [('argocd-controller', 'Update')]"

	code=$(api PATCH "/api/v1/namespaces/$ns/configmaps/drift-cm?fieldManager=kubectl-edit" \
		-H 'Content-Type: application/merge-patch+json' --data '{"data":{"b":"20","c":"3"}}')
	expect "merge-PATCH ConfigMap with fieldManager=kubectl-edit" 200 "$code"
	check "two managers after the edit" \
		"sorted((m['manager'], m['operation']) for m in d['metadata']['managedFields']) == [('argocd-controller', 'Update'), ('kubectl-edit', 'Update')]"
	check "kubectl-edit owns data.b and data.c, argocd-controller keeps data.a" \
		"{m['manager']: sorted(k for k in m['fieldsV1'].get('f:data', {}) if k.startswith('f:')) for m in d['metadata']['managedFields']} == {'argocd-controller': ['f:a'], 'kubectl-edit': ['f:b', 'f:c']}"
	printf '     managedFields after the merge patch:\n'
	json_get "$API_BODY" 'json.dumps(d["metadata"]["managedFields"], indent=2)' | sed 's/^/     /'

	cat >"$tmpd/apply.yaml" <<'EOF'
apiVersion: v1
kind: ConfigMap
metadata:
  name: drift-cm
data:
  a: "1"
  b: "2"
EOF
	code=$(api PATCH "/api/v1/namespaces/$ns/configmaps/drift-cm?fieldManager=argocd-controller" \
		-H 'Content-Type: application/apply-patch+yaml' --data-binary "@$tmpd/apply.yaml")
	expect "server-side apply without force conflicts with kubectl-edit on data.b" 409 "$code"
	check "the conflict names kubectl-edit and .data.b" \
		"d['reason'] == 'Conflict' and any(c.get('field') == '.data.b' and 'kubectl-edit' in c.get('message', '') for c in d['details']['causes'])"
	printf '     conflict status: %s\n' "$(json_get "$API_BODY" 'json.dumps(d)')"

	code=$(api PATCH "/api/v1/namespaces/$ns/configmaps/drift-cm?fieldManager=argocd-controller&force=true" \
		-H 'Content-Type: application/apply-patch+yaml' --data-binary "@$tmpd/apply.yaml")
	expect "server-side apply with force=true" 200 "$code"
	check "data.b taken back by the apply; data.c kept" "d['data'] == {'a': '1', 'b': '2', 'c': '3'}"
	check "argocd-controller now has an Apply entry owning a and b" \
		"any(m['manager'] == 'argocd-controller' and m['operation'] == 'Apply' and sorted(k for k in m['fieldsV1']['f:data'] if k.startswith('f:')) == ['f:a', 'f:b'] for m in d['metadata']['managedFields'])"
	printf '     managedFields after the forced apply:\n'
	json_get "$API_BODY" 'json.dumps(d["metadata"]["managedFields"], indent=2)' | sed 's/^/     /'

	# No controller-manager runs, so nothing creates the "default"
	# ServiceAccount: pods are only accepted because `start` disables the
	# ServiceAccount admission plugin. Nothing reconciles them either.
	code=$(api POST "/api/v1/namespaces/$ns/pods" -H 'Content-Type: application/json' \
		--data '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"drift-pod"},"spec":{"containers":[{"name":"c","image":"busybox"}]}}')
	expect "create a Pod (no ServiceAccount admission)" 201 "$code"
	code=$(api POST "/apis/apps/v1/namespaces/$ns/deployments" -H 'Content-Type: application/json' \
		--data '{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"drift-deploy"},"spec":{"selector":{"matchLabels":{"app":"d"}},"template":{"metadata":{"labels":{"app":"d"}},"spec":{"containers":[{"name":"c","image":"busybox"}]}}}}')
	expect "create a Deployment" 201 "$code"

	code=$(API_TOKEN=$DRIFT_KUBE_USER_TOKEN api GET "/apis/argoproj.io/v1alpha1/namespaces/$ns/applications")
	expect "non-admin user lists Applications in $ns: forbidden" 403 "$code"
	check "403 is an RBAC Forbidden status for $DRIFT_KUBE_USER_NAME" \
		"d['reason'] == 'Forbidden' and '$DRIFT_KUBE_USER_NAME' in d['message']"
	code=$(API_TOKEN=$DRIFT_KUBE_USER_TOKEN api GET "/apis/argoproj.io/v1alpha1/applications")
	expect "non-admin user lists Applications cluster-wide: forbidden" 403 "$code"
	code=$(API_TOKEN=not-a-token api GET "/api/v1/namespaces")
	expect "unknown token: unauthorized" 401 "$code"

	rm -rf "$tmpd"
	printf 'real-kube smoke: all checks passed against %s (%s)\n' "$DRIFT_KUBE_API_URL" "$DRIFT_KUBE_VERSION"
	printf 'smoke: %d passed, 0 failed\n' "$SMOKE_PASSED"
}

main() {
	[[ $# -ge 1 ]] || die "usage: $0 bins | start <dir> | stop <dir> | restart-apiserver <dir> | install-crds <dir> <files...> | smoke <dir>"
	local sub=$1
	shift
	case $sub in
	bins) cmd_bins "$@" ;;
	start) cmd_start "$@" ;;
	stop) cmd_stop "$@" ;;
	restart-apiserver) cmd_restart_apiserver "$@" ;;
	install-crds) cmd_install_crds "$@" ;;
	smoke) cmd_smoke "$@" ;;
	*) die "unknown subcommand '$sub' (bins, start, stop, restart-apiserver, install-crds, smoke)" ;;
	esac
}

main "$@"
