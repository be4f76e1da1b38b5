#!/usr/bin/env bash
# The real argocd-server (Argo CD API server + UI backend, with the proxy
# extension enabled) for argocd-drift's tests, built from the official
# github.com/argoproj/argo-cd/v3 Go module pinned in testenv/go/argocd.
#
#   real-argocd.sh bins                                 build argocd unless cached; print its directory
#   real-argocd.sh start <dir> <kubeconfig> <backend>   set up the argocd namespace in the cluster, start
#                                                       redis-server + argocd-server on 127.0.0.1 (plain HTTP)
#   real-argocd.sh start --control-plane <dir> <kubeconfig> <backend>
#                                                       the same, plus a Git repository served by `git daemon`,
#                                                       argocd-repo-server and argocd-application-controller;
#                                                       returns once two probe Applications have been synced
#                                                       (one per way of naming the cluster)
#   real-argocd.sh stop <dir>                           stop them (TERM, then KILL after a deadline); idempotent
#   real-argocd.sh smoke <dir>                          log in, call the extension through Argo CD, record what
#                                                       the backend receives, check every negative case
#
# <kubeconfig> is an admin kubeconfig of a running kube-apiserver (real-kube.sh start writes one);
# <backend> is the URL argocd-server forwards /extensions/drift/... to (the argocd-drift backend).
#
# Environment:
#   DRIFT_CACHE_DIR              cache root (default ~/.cache/argocd-drift); binary in bin/argocd-<version>/
#   DRIFT_ARGOCD_START_TIMEOUT   seconds to wait for /healthz, and for the probe syncs (default 180)
#   DRIFT_ARGOCD_NAMESPACE       Argo CD's control-plane namespace (default argocd); a second instance
#                                in another namespace ignores the first one's Applications
#   DRIFT_ARGOCD_STOP_TIMEOUT    seconds between TERM and KILL (default 10)
#   DRIFT_ARGOCD_VERBOSE=1       show `go build` output
#   DRIFT_GO_BUILD_FLAGS         extra flags for `go build` (e.g. "-p 1")
#
# See testenv/README.md ("The real argocd-server") for versions, flags and measured times.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LOG_PREFIX=real-argocd
# shellcheck source=lib.sh
source "$SCRIPT_DIR/lib.sh"
MOD_DIR="$SCRIPT_DIR/go/argocd"
CACHE_DIR=${DRIFT_CACHE_DIR:-$HOME/.cache/argocd-drift}
CRD_DIR="$SCRIPT_DIR/../fixtures/crds"
RECORDER="$SCRIPT_DIR/header-recorder.py"

NS=${DRIFT_ARGOCD_NAMESPACE:-argocd} # Argo CD's control-plane namespace
EXT=drift          # extension name: /extensions/drift/...
FIELD_MANAGER=real-argocd-sh
PROXY_SECRET_KEY=drift.proxy.authorization # argocd-secret key holding "Bearer <token>"


# ---- build ------------------------------------------------------------------

argocd_version() {
	local v
	v=$(awk '($1 == "github.com/argoproj/argo-cd/v3" && $2 ~ /^v/) { print $2; exit }
		($1 == "require" && $2 == "github.com/argoproj/argo-cd/v3") { print $3; exit }' "$MOD_DIR/go.mod")
	[[ -n $v ]] || die "$MOD_DIR/go.mod does not require github.com/argoproj/argo-cd/v3"
	printf '%s\n' "$v"
}
bin_dir() { printf '%s/bin/argocd-%s\n' "$CACHE_DIR" "$(argocd_version)"; }

# Build upstream's multi-call main (github.com/argoproj/argo-cd/v3/cmd) into a
# temporary directory next to the cache entry, then rename the directory into
# place: an interrupted build leaves nothing that looks finished.
build_argocd() { # <bin dir>
	local out=$1 v tmp t0 rc=0 pkg=github.com/argoproj/argo-cd/v3/common moddir ld
	command -v go >/dev/null || die "go is not installed (needed to build argocd)"
	v=$(argocd_version)
	mkdir -p "$(dirname "$out")"
	tmp=$(mktemp -d "$out.tmp.XXXXXX")
	# Upstream's Makefile sets these with -X; gitCommit is unknown from a module
	# zip, so `argocd version` says v3.5.x+unknown. extraBuildInfo records the
	# gitops-engine substitution (see go/argocd/go.mod).
	ld="-s -w -X $pkg.version=${v#v} -X $pkg.buildDate=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
	ld+=" -X $pkg.kubectlVersion=$(awk '$1 == "k8s.io/client-go" && $2 ~ /^v/ { print $2; exit }' "$MOD_DIR/go.mod")"
	ld+=" -X $pkg.extraBuildInfo=gitops-engine@$(awk '$1 == "replace" && $2 == "github.com/argoproj/argo-cd/gitops-engine" { print $5; exit }' "$MOD_DIR/go.mod")"
	local -a extra=()
	# shellcheck disable=SC2206 # word splitting of the extra flags is intended
	[[ -n ${DRIFT_GO_BUILD_FLAGS:-} ]] && extra=(${DRIFT_GO_BUILD_FLAGS})
	t0=$(now_ms)
	log "building argocd $v in $MOD_DIR (a cold build takes 10+ minutes on 2 cores) ..."
	local buildlog=$tmp/build.log
	(cd "$MOD_DIR" && GOWORK=off GOFLAGS=-mod=readonly CGO_ENABLED=0 \
		go build -buildvcs=false -trimpath -ldflags="$ld" "${extra[@]}" -o "$tmp/argocd" "github.com/argoproj/argo-cd/v3/cmd") \
		>"$buildlog" 2>&1 || rc=$?
	if [[ ${DRIFT_ARGOCD_VERBOSE:-0} == 1 ]]; then cat "$buildlog" >&2; fi
	if ((rc != 0)); then
		grep -v '^go: downloading ' "$buildlog" | tail -n 40 >&2 || true
		rm -rf "$tmp"
		die "go build github.com/argoproj/argo-cd/v3/cmd failed (exit $rc)"
	fi
	rm -f "$buildlog"
	# The binary dispatches on its own name (cmd/main.go): argocd-server is a link.
	ln -s argocd "$tmp/argocd-server"
	# The ApplicationSet CRD of the same release (fixtures/crds has only
	# Application and AppProject); argocd-server runs an ApplicationSet informer.
	moddir=$(cd "$MOD_DIR" && GOWORK=off GOFLAGS=-mod=readonly go list -m -f '{{.Dir}}' github.com/argoproj/argo-cd/v3)
	cp "$moddir/manifests/crds/applicationset-crd.yaml" "$tmp/applicationset-crd.yaml"
	copy_image_scripts "$tmp"
	chmod 755 "$tmp" # mktemp -d made it 0700
	rm -rf "$out"
	mv -T "$tmp" "$out"
	log "built $out/argocd in $(elapsed "$t0")"
}

# The scripts upstream's image puts in /usr/local/bin next to the binary
# (Dockerfile: COPY hack/gpg-wrapper.sh hack/git-verify-wrapper.sh): v3.5.7's
# repo-server runs git-verify-wrapper.sh on every revision it generates
# manifests for, GPG enabled or not, and fails with "permission denied"
# without it.
IMAGE_SCRIPTS=(git-verify-wrapper.sh gpg-wrapper.sh)
copy_image_scripts() { # <bin dir>
	local moddir f
	moddir=$(cd "$MOD_DIR" && GOWORK=off GOFLAGS=-mod=readonly go list -m -f '{{.Dir}}' github.com/argoproj/argo-cd/v3)
	for f in "${IMAGE_SCRIPTS[@]}"; do
		install -m 755 "$moddir/hack/$f" "$1/$f"
	done
}

cmd_bins() {
	local dir t0
	t0=$(now_ms)
	dir=$(bin_dir)
	mkdir -p "$CACHE_DIR/bin"
	# One builder at a time; the same lock as real-kube.sh, so two Go builds do
	# not fight over the two cores.
	exec 9>"$CACHE_DIR/bin/.lock"
	flock 9
	[[ -x $dir/argocd && -e $dir/applicationset-crd.yaml ]] || build_argocd "$dir"
	# A binary cached before the control plane was added lacks the scripts.
	[[ -x $dir/${IMAGE_SCRIPTS[0]} && -x $dir/${IMAGE_SCRIPTS[1]} ]] || copy_image_scripts "$dir"
	exec 9>&-
	log "argocd $(argocd_version) ready in $(elapsed "$t0")"
	printf '%s\n' "$dir"
}

# ---- processes --------------------------------------------------------------


# Is <pid> alive and is its command line matching <pattern>? (Guards against
# recycled PIDs; /proc/<pid>/comm of argocd-server is "argocd-server" because
# the binary is started through that link name.)
pid_matches() { # <pid> <grep -E pattern on the NUL->space command line>
	[[ -n $1 && -r /proc/$1/cmdline ]] || return 1
	! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null || return 1
	tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -Eq -- "$2"
}



stop_pid() { # <pid> <pattern> <name>
	local pid=$1 pat=$2 name=$3 deadline
	pid_matches "$pid" "$pat" || return 0
	kill -TERM "$pid" 2>/dev/null || return 0
	deadline=$((SECONDS + ${DRIFT_ARGOCD_STOP_TIMEOUT:-10}))
	while pid_matches "$pid" "$pat" && ((SECONDS < deadline)); do sleep 0.1; done
	if pid_matches "$pid" "$pat"; then
		log "$name (pid $pid) ignored TERM; sending KILL"
		kill -KILL "$pid" 2>/dev/null || true
		while pid_matches "$pid" "$pat"; do sleep 0.05; done
	fi
}

# ---- Kubernetes API with curl -------------------------------------------------

# Extract server, CA and credentials of the current context of <kubeconfig>
# into <dir>/kube/ (files) and <dir>/kube/env (shell variables). Uses PyYAML
# when it is installed; otherwise a line parser that is good enough for a
# kubeconfig with one cluster and one user (what real-kube.sh writes).
kube_from_kubeconfig() { # <kubeconfig> <out dir>
	mkdir -p "$2"
	chmod 700 "$2"
	python3 - "$1" "$2" <<'PY'
import base64, os, re, shlex, sys
path, out = sys.argv[1], sys.argv[2]
text = open(path, encoding="utf-8").read()
base = os.path.dirname(os.path.abspath(path))
try:
    import yaml
    kc = yaml.safe_load(text)
    ctxs = kc.get("contexts") or []
    cur = kc.get("current-context")
    ctx = next((c["context"] for c in ctxs if c["name"] == cur), ctxs[0]["context"] if ctxs else {})
    clusters = kc.get("clusters") or []
    cl = next((c["cluster"] for c in clusters if c["name"] == ctx.get("cluster")), clusters[0]["cluster"])
    users = kc.get("users") or []
    us = next((u["user"] for u in users if u["name"] == ctx.get("user")), users[0]["user"] if users else {})
except ImportError:
    def first(k):
        m = re.search(r"^\s*" + re.escape(k) + r":\s*(\S+)\s*$", text, re.M)
        return m.group(1).strip("\"'") if m else None
    cl = {k: first(k) for k in ("server", "certificate-authority-data", "certificate-authority", "insecure-skip-tls-verify")}
    us = {k: first(k) for k in ("token", "client-certificate-data", "client-key-data", "client-certificate", "client-key")}
def put(name, data):
    p = os.path.join(out, name)
    with open(p, "wb") as f:
        f.write(data)
    os.chmod(p, 0o600)
    return p
def ref(data_key, file_key, name, src):
    if src.get(data_key):
        return put(name, base64.b64decode(src[data_key]))
    if src.get(file_key):
        f = src[file_key]
        return f if os.path.isabs(f) else os.path.join(base, f)
    return ""
env = {
    "KUBE_SERVER": (cl.get("server") or "").rstrip("/"),
    "KUBE_CA": ref("certificate-authority-data", "certificate-authority", "ca.crt", cl),
    "KUBE_INSECURE": "1" if str(cl.get("insecure-skip-tls-verify")).lower() == "true" else "",
    "KUBE_CERT": ref("client-certificate-data", "client-certificate", "client.crt", us),
    "KUBE_KEY": ref("client-key-data", "client-key", "client.key", us),
    "KUBE_AUTH_HEADER": put("auth-header", ("Authorization: Bearer %s\n" % us["token"]).encode()) if us.get("token") else "",
}
if not env["KUBE_SERVER"]:
    sys.exit("no cluster server found in " + path)
with open(os.path.join(out, "env"), "w", encoding="utf-8") as f:
    for k, v in env.items():
        f.write("%s=%s\n" % (k, shlex.quote(v)))
PY
}

load_kube() { # <dir>
	# shellcheck disable=SC1091
	source "$1/kube/env"
	KUBE_CURL=(-sS --max-time 30)
	if [[ -n $KUBE_CA ]]; then KUBE_CURL+=(--cacert "$KUBE_CA"); fi
	if [[ -n $KUBE_INSECURE ]]; then KUBE_CURL+=(-k); fi
	if [[ -n $KUBE_CERT ]]; then KUBE_CURL+=(--cert "$KUBE_CERT" --key "$KUBE_KEY"); fi
	if [[ -n $KUBE_AUTH_HEADER ]]; then KUBE_CURL+=(-H "@$KUBE_AUTH_HEADER"); fi
	API_BODY=$(mktemp)
}

# api <METHOD> <path> [curl args...]: prints the HTTP code; the body is in $API_BODY.
api() {
	local m=$1 p=$2
	shift 2
	: >"$API_BODY"
	# -w prints 000 when no response arrived
	curl "${KUBE_CURL[@]}" -o "$API_BODY" -w '%{http_code}' -X "$m" "$KUBE_SERVER$p" "$@" || true
}

# Server-side apply of the YAML object on stdin at <object path> (creates or updates).
apply() { # <object path>
	local code
	code=$(api PATCH "$1?fieldManager=$FIELD_MANAGER&force=true" \
		-H 'Content-Type: application/apply-patch+yaml' --data-binary @-)
	[[ $code == 200 || $code == 201 ]] || die "apply $1: HTTP $code: $(head -c 2000 "$API_BODY")"
}


install_crd() { # <file>
	local f=$1 name group plural version deadline
	name=$(awk '/^metadata:/ { m = 1; next } m && /^  name:/ { print $2; exit }' "$f")
	[[ -n $name ]] || die "$f: no metadata.name"
	apply "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/$name" <"$f"
	group=$(json_get "$API_BODY" 'd["spec"]["group"]')
	plural=$(json_get "$API_BODY" 'd["spec"]["names"]["plural"]')
	version=$(json_get "$API_BODY" '[v["name"] for v in d["spec"]["versions"] if v.get("served")][0]')
	deadline=$((SECONDS + 60))
	until [[ $(api GET "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/$name") == 200 ]] &&
		[[ $(json_get "$API_BODY" 'any(c["type"] == "Established" and c["status"] == "True" for c in ((d.get("status") or {}).get("conditions") or []))') == True ]] &&
		[[ $(api GET "/apis/$group/$version/namespaces/$NS/$plural?limit=1") == 200 ]]; do
		((SECONDS < deadline)) || die "CRD $name not established after 60s"
		sleep 0.2
	done
}

# YAML single-quoted scalar.
yq() { printf "'%s'" "${1//\'/\'\'}"; }

# The value of argocd-cm's extension.config.drift for <backend url>. The
# Authorization header value is `$<key>`: Argo CD replaces a value that is
# exactly "$<key>" with that key of argocd-secret (the whole value; a
# "Bearer $key" would be sent literally), so the secret holds "Bearer <token>".
ext_config() { # <backend url> [secret key]
	printf 'connectionTimeout: 2s\nservices:\n- url: %s\n  headers:\n  - name: Authorization\n    value: %s\n' \
		"$1" "$(yq "\$${2:-$PROXY_SECRET_KEY}")"
}

# Indent stdin by <n> spaces (for YAML block scalars).
indent() { sed "s/^/$(printf '%*s' "$1" '')/"; }

setup_cluster() { # <backend url> <alice hash> <bob hash> <operator hash> <proxy token> <server secret key>
	local backend=$1 ahash=$2 bhash=$3 ohash=$4 token=$5 skey=$6 f now
	now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
	apply "/api/v1/namespaces/$NS" <<EOF
apiVersion: v1
kind: Namespace
metadata:
  name: $NS
EOF
	for f in "$CRD_DIR/application-crd.yaml" "$CRD_DIR/appproject-crd.yaml" "$BIN_DIR/applicationset-crd.yaml"; do
		[[ -f $f ]] || die "$f: no such file"
		install_crd "$f"
	done
	log "namespace $NS and CRDs (Application, AppProject, ApplicationSet) ready"

	# All settings objects carry app.kubernetes.io/part-of=argocd: argocd-server's
	# ConfigMap informer only sees labelled ConfigMaps.
	apply "/api/v1/namespaces/$NS/configmaps/argocd-cm" <<EOF
apiVersion: v1
kind: ConfigMap
metadata:
  name: argocd-cm
  namespace: $NS
  labels: {app.kubernetes.io/name: argocd-cm, app.kubernetes.io/part-of: argocd}
data:
  admin.enabled: "false"
  accounts.alice: login
  accounts.bob: login
  accounts.operator: login
  # Diff settings the recorded scenario system-ignore-managers plays (testenv/src/oracle.rs):
  # managers no other scenario or suite writes with, so nothing else is affected.
  resource.customizations.ignoreDifferences.all: |
    managedFieldsManagers: [config-reloader]
  resource.customizations.ignoreDifferences.ConfigMap: |
    managedFieldsManagers: [core-reloader]
  extension.config.$EXT: |
$(ext_config "$backend" | indent 4)
EOF
	apply "/api/v1/namespaces/$NS/secrets/argocd-secret" <<EOF
apiVersion: v1
kind: Secret
metadata:
  name: argocd-secret
  namespace: $NS
  labels: {app.kubernetes.io/name: argocd-secret, app.kubernetes.io/part-of: argocd}
type: Opaque
stringData:
  server.secretkey: $(yq "$skey")
  accounts.alice.password: $(yq "$ahash")
  accounts.alice.passwordMtime: $(yq "$now")
  accounts.bob.password: $(yq "$bhash")
  accounts.bob.passwordMtime: $(yq "$now")
  accounts.operator.password: $(yq "$ohash")
  accounts.operator.passwordMtime: $(yq "$now")
  $PROXY_SECRET_KEY: $(yq "Bearer $token")
EOF
	apply "/api/v1/namespaces/$NS/configmaps/argocd-rbac-cm" <<EOF
apiVersion: v1
kind: ConfigMap
metadata:
  name: argocd-rbac-cm
  namespace: $NS
  labels: {app.kubernetes.io/name: argocd-rbac-cm, app.kubernetes.io/part-of: argocd}
data:
  policy.default: ""
  policy.csv: |
    p, role:drift-user, applications, get, */*, allow
    p, role:drift-user, extensions, invoke, $EXT, allow
    p, role:app-reader, applications, get, */*, allow
    g, alice, role:drift-user
    g, bob, role:app-reader
    g, operator, role:admin
EOF
	# In a Deployment this key reaches argocd-server as the env variable
	# ARGOCD_SERVER_ENABLE_PROXY_EXTENSION (configMapKeyRef in the manifest);
	# argocd-server itself never reads this ConfigMap. start sets the variable.
	apply "/api/v1/namespaces/$NS/configmaps/argocd-cmd-params-cm" <<EOF
apiVersion: v1
kind: ConfigMap
metadata:
  name: argocd-cmd-params-cm
  namespace: $NS
  labels: {app.kubernetes.io/name: argocd-cmd-params-cm, app.kubernetes.io/part-of: argocd}
data:
  server.enable.proxy.extension: "true"
  server.insecure: "true"
EOF
	log "argocd-cm, argocd-secret, argocd-rbac-cm, argocd-cmd-params-cm applied"
}

show_logs() { # <dir>
	local f
	for f in "$1"/redis.log "$1"/argocd-server.log; do
		[[ -f $f ]] || continue
		printf '\n==> last lines of %s <==\n' "$f" >&2
		tail -n 40 "$f" >&2
	done
}

start_redis() { # <dir>; sets REDIS_PID REDIS_PORT
	local d=$1 attempt deadline
	if ! command -v redis-server >/dev/null; then
		log "redis-server not found; installing the Debian package (no service is started)"
		if ! apt-get install -y --no-install-recommends redis-server >"$d/apt.log" 2>&1; then
			{ apt-get update && apt-get install -y --no-install-recommends redis-server; } >>"$d/apt.log" 2>&1 ||
				die "apt-get install redis-server failed (see $d/apt.log)"
		fi
	fi
	for attempt in 1 2 3; do
		REDIS_PORT=$(free_port)
		: >"$d/redis.log"
		# No persistence, loopback only; our own process, not the system service.
		REDIS_PID=$(spawn "$d/redis.log" redis-server --bind 127.0.0.1 --port "$REDIS_PORT" \
			--save '' --appendonly no --dir "$d" --protected-mode yes --daemonize no)
		echo "$REDIS_PID" >"$d/redis.pid"
		deadline=$((SECONDS + 20))
		while ((SECONDS < deadline)); do
			if ! alive "$REDIS_PID"; then
				if grep -q 'Address already in use' "$d/redis.log"; then
					log "redis: port taken (attempt $attempt), retrying"
					continue 2
				fi
				show_logs "$d"
				die "redis-server exited during startup"
			fi
			[[ $(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null || true) == PONG ]] && return 0
			sleep 0.1
		done
		show_logs "$d"
		die "redis-server did not answer PING after 20s"
	done
	die "redis: no free port in 3 attempts"
}

start_server() { # <dir> <kubeconfig>; sets ARGOCD_PID ARGOCD_PORT ARGOCD_START_MS
	local d=$1 kc=$2 attempt deadline t0 code timeout=${DRIFT_ARGOCD_START_TIMEOUT:-180}
	mkdir -p "$d/static"
	for attempt in 1 2 3; do
		ARGOCD_PORT=$(free_port)
		METRICS_PORT=$(free_port)
		[[ $ARGOCD_PORT != "$METRICS_PORT" ]] || continue
		# argocd-cm `url` (Argo CD's external URL: SSO redirects and links, not
		# used by the proxy) must name the port before the server starts: a
		# change of `url` makes a running argocd-server restart itself.
		code=$(api PATCH "/api/v1/namespaces/$NS/configmaps/argocd-cm" -H 'Content-Type: application/merge-patch+json' \
			--data "{\"data\":{\"url\":\"http://127.0.0.1:$ARGOCD_PORT\"}}")
		[[ $code == 200 ]] || die "patch argocd-cm url: HTTP $code: $(cat "$API_BODY")"
		: >"$d/argocd-server.log"
		t0=$(now_ms)
		# --dex-server (and --repo-server without the control plane) point at a
		# closed loopback port: a dead port fails fast instead of waiting on DNS.
		# ARGOCD_SERVER_ENABLE_PROXY_EXTENSION: what the Deployment maps from
		# argocd-cmd-params-cm server.enable.proxy.extension. PATH: argocd-server
		# looks for the argocd CLI binary there (a warning otherwise).
		ARGOCD_PID=$(PATH="$d/bin:$PATH" ARGOCD_SERVER_ENABLE_PROXY_EXTENSION=true spawn "$d/argocd-server.log" env "${SERVER_ENV[@]}" "$d/bin/argocd-server" \
			--kubeconfig "$kc" \
			--namespace "$NS" \
			--insecure \
			--address 127.0.0.1 --port "$ARGOCD_PORT" \
			--metrics-address 127.0.0.1 --metrics-port "$METRICS_PORT" \
			--redis "127.0.0.1:$REDIS_PORT" \
			"${REPO_ARGS[@]}" \
			--dex-server http://127.0.0.1:1 \
			--staticassets "$d/static" \
			--logformat text --loglevel info)
		echo "$ARGOCD_PID" >"$d/argocd-server.pid"
		deadline=$((SECONDS + timeout))
		while ((SECONDS < deadline)); do
			if ! alive "$ARGOCD_PID"; then
				if grep -q 'address already in use' "$d/argocd-server.log"; then
					log "argocd-server: port taken (attempt $attempt), retrying"
					continue 2
				fi
				show_logs "$d"
				die "argocd-server exited during startup"
			fi
			code=$(curl -sS -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$ARGOCD_PORT/healthz" 2>/dev/null || true)
			if [[ $code == 200 ]]; then
				ARGOCD_START_MS=$(($(now_ms) - t0))
				return 0
			fi
			sleep 0.1
		done
		show_logs "$d"
		die "argocd-server: /healthz not OK after ${timeout}s"
	done
	die "argocd-server: no free port in 3 attempts"
}

# ---- the rest of the control plane (start --control-plane) ------------------

# Argo CD's name for the API server it runs in; with ARGOCD_FAKE_IN_CLUSTER=true
# the controller and repo-server reach it through $KUBECONFIG instead of the
# service-account files of a pod (pkg/apis/application/v1alpha1 RawRestConfig).
IN_CLUSTER_URL=https://kubernetes.default.svc
LOOPBACK_CLUSTER=loopback # name of the cluster registered by Secret, with the loopback URL

# The multi-call binary dispatches on its own name: one link per component in
# <dir>/bin (the cache may predate the control plane), and `argocd` itself,
# which the repo-server runs as its Git askpass helper; and the image's scripts.
link_components() { # <dir>
	local c
	mkdir -p "$1/bin"
	for c in argocd argocd-server argocd-repo-server argocd-application-controller; do
		ln -sfn "$BIN_DIR/argocd" "$1/bin/$c"
	done
	for c in "${IMAGE_SCRIPTS[@]}"; do
		ln -sfn "$BIN_DIR/$c" "$1/bin/$c"
	done
}

# A bare repository <dir>/git/apps.git with one commit on main, a working copy
# <dir>/git/work whose origin it is (tests commit and push there), and
# `git daemon` serving <dir>/git read-only on 127.0.0.1. Sets GIT_PID GIT_URL.
start_git() { # <dir>
	local d=$1 g=$1/git attempt deadline port daemon
	if ! command -v git >/dev/null; then
		log "git not found; installing the Debian package"
		{ apt-get install -y --no-install-recommends git || { apt-get update && apt-get install -y --no-install-recommends git; }; } \
			>>"$d/apt.log" 2>&1 || die "apt-get install git failed (see $d/apt.log)"
	fi
	daemon=$(git --exec-path)/git-daemon
	[[ -x $daemon ]] || die "$daemon not found (Debian's git package ships it)"
	rm -rf "$g"
	mkdir -p "$g"
	git init -q --bare --initial-branch=main "$g/apps.git"
	git clone -q "$g/apps.git" "$g/work" 2>/dev/null
	git -C "$g/work" config user.name 'argocd-drift fixtures'
	git -C "$g/work" config user.email 'fixtures@argocd-drift.invalid'
	git -C "$g/work" symbolic-ref HEAD refs/heads/main
	printf 'Applications played by testenv (plain YAML, one directory per app).\n' >"$g/work/README"
	mkdir -p "$g/work/probe"
	cat >"$g/work/probe/configmap.yaml" <<'YAML'
apiVersion: v1
kind: ConfigMap
metadata:
  name: probe
data:
  purpose: the control plane syncs from Git
YAML
	git -C "$g/work" add -A
	git -C "$g/work" commit -q -m 'A probe app to check the control plane end to end'
	git -C "$g/work" push -q origin main
	for attempt in 1 2 3; do
		port=$(free_port)
		: >"$d/git-daemon.log"
		# Read-only (upload-pack only); tests push to the bare repository on disk.
		GIT_PID=$(spawn "$d/git-daemon.log" "$daemon" --reuseaddr --listen=127.0.0.1 --port="$port" \
			--base-path="$g" --export-all --informative-errors --verbose "$g")
		echo "$GIT_PID" >"$d/git-daemon.pid"
		GIT_URL=git://127.0.0.1:$port/apps.git
		deadline=$((SECONDS + 20))
		while ((SECONDS < deadline)); do
			if ! alive "$GIT_PID"; then
				if grep -qi 'address already in use' "$d/git-daemon.log"; then
					log "git daemon: port taken (attempt $attempt), retrying"
					continue 2
				fi
				cat "$d/git-daemon.log" >&2
				die "git daemon exited during startup"
			fi
			git ls-remote "$GIT_URL" main >/dev/null 2>&1 && return 0
			sleep 0.1
		done
		die "git daemon: $GIT_URL not answering after 20s"
	done
	die "git daemon: no free port in 3 attempts"
}

# argocd-repo-server, plain-text gRPC on 127.0.0.1. Sets REPO_PID REPO_PORT.
start_repo_server() { # <dir>
	local d=$1 attempt deadline metrics code t0
	mkdir -p "$d/repo-server/tmp"
	for attempt in 1 2 3; do
		REPO_PORT=$(free_port)
		metrics=$(free_port)
		[[ $REPO_PORT != "$metrics" ]] || continue
		: >"$d/argocd-repo-server.log"
		t0=$(now_ms)
		# ARGOCD_GPG_ENABLED=false: no gpg keyring (a pod has one at /app/config/gpg);
		# ARGOCD_ASK_PASS_SOCK: the default /tmp/reposerver-ask-pass.sock would be
		# shared by every instance on the machine; TMPDIR: where it clones.
		# --client-ca-path defaults to a pod path, and v3.5.7 refuses any value
		# together with --disable-tls: it must be emptied.
		REPO_PID=$(PATH="$d/bin:$PATH" TMPDIR="$d/repo-server/tmp" HOME="$d/repo-server" \
			ARGOCD_GPG_ENABLED=false ARGOCD_ASK_PASS_SOCK="$d/repo-server/askpass.sock" \
			spawn "$d/argocd-repo-server.log" "$d/bin/argocd-repo-server" \
			--disable-tls --client-ca-path= --address 127.0.0.1 --port "$REPO_PORT" \
			--metrics-address 127.0.0.1 --metrics-port "$metrics" \
			--redis "127.0.0.1:$REDIS_PORT" --logformat text --loglevel info)
		echo "$REPO_PID" >"$d/argocd-repo-server.pid"
		deadline=$((SECONDS + ${DRIFT_ARGOCD_START_TIMEOUT:-180}))
		while ((SECONDS < deadline)); do
			if ! alive "$REPO_PID"; then
				if grep -q 'address already in use' "$d/argocd-repo-server.log"; then
					log "argocd-repo-server: port taken (attempt $attempt), retrying"
					continue 2
				fi
				tail -n 40 "$d/argocd-repo-server.log" >&2
				die "argocd-repo-server exited during startup"
			fi
			# ?full=true makes it call its own gRPC health service.
			code=$(curl -sS -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$metrics/healthz?full=true" 2>/dev/null || true)
			if [[ $code == 200 ]]; then
				log "argocd-repo-server serving $(elapsed "$t0") after exec"
				return 0
			fi
			sleep 0.1
		done
		tail -n 40 "$d/argocd-repo-server.log" >&2
		die "argocd-repo-server: /healthz not OK after ${DRIFT_ARGOCD_START_TIMEOUT:-180}s"
	done
	die "argocd-repo-server: no free port in 3 attempts"
}

# argocd-application-controller with upstream's defaults (resync 120 s, self-heal
# backoff 2 s ×3), except the metrics port. Sets CONTROLLER_PID.
start_controller() { # <dir> <kubeconfig>
	local d=$1 kc=$2 attempt deadline metrics code t0
	for attempt in 1 2 3; do
		metrics=$(free_port)
		: >"$d/argocd-application-controller.log"
		t0=$(now_ms)
		# The metrics/healthz listener binds 0.0.0.0 (no address flag upstream).
		CONTROLLER_PID=$(PATH="$d/bin:$PATH" HOME="$d" ARGOCD_FAKE_IN_CLUSTER=true KUBECONFIG="$kc" \
			spawn "$d/argocd-application-controller.log" "$d/bin/argocd-application-controller" \
			--kubeconfig "$kc" --namespace "$NS" \
			--redis "127.0.0.1:$REDIS_PORT" \
			--repo-server "127.0.0.1:$REPO_PORT" --repo-server-plaintext \
			--metrics-port "$metrics" --logformat text --loglevel info)
		echo "$CONTROLLER_PID" >"$d/argocd-application-controller.pid"
		deadline=$((SECONDS + ${DRIFT_ARGOCD_START_TIMEOUT:-180}))
		while ((SECONDS < deadline)); do
			if ! alive "$CONTROLLER_PID"; then
				if grep -q 'address already in use' "$d/argocd-application-controller.log"; then
					log "argocd-application-controller: port taken (attempt $attempt), retrying"
					continue 2
				fi
				tail -n 40 "$d/argocd-application-controller.log" >&2
				die "argocd-application-controller exited during startup"
			fi
			code=$(curl -sS -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$metrics/healthz" 2>/dev/null || true)
			if [[ $code == 200 ]]; then
				log "argocd-application-controller healthy $(elapsed "$t0") after exec"
				return 0
			fi
			sleep 0.1
		done
		tail -n 40 "$d/argocd-application-controller.log" >&2
		die "argocd-application-controller: /healthz not OK after ${DRIFT_ARGOCD_START_TIMEOUT:-180}s"
	done
	die "argocd-application-controller: no free port in 3 attempts"
}

# The loopback URL as an Argo CD cluster Secret, with the kubeconfig's CA and
# credentials (bearer token or client certificate).
register_loopback_cluster() {
	python3 - "$NS" "$LOOPBACK_CLUSTER" "$KUBE_SERVER" "$KUBE_CA" "$KUBE_AUTH_HEADER" "$KUBE_CERT" "$KUBE_KEY" <<'PY' |
import base64, json, sys
ns, name, server, ca, auth, cert, key = sys.argv[1:]
b64 = lambda p: base64.b64encode(open(p, "rb").read()).decode() if p else None
tls = {k: v for k, v in {"caData": b64(ca), "certData": b64(cert), "keyData": b64(key)}.items() if v}
config = {"tlsClientConfig": tls}
if auth:
    config["bearerToken"] = open(auth).read().split("Bearer ", 1)[1].strip()
print(json.dumps({
    "apiVersion": "v1", "kind": "Secret",
    "metadata": {"name": "cluster-" + name, "namespace": ns,
                 "labels": {"argocd.argoproj.io/secret-type": "cluster", "app.kubernetes.io/part-of": "argocd"}},
    "type": "Opaque",
    "stringData": {"name": name, "server": server, "config": json.dumps(config)},
}))
PY
		apply "/api/v1/namespaces/$NS/secrets/cluster-$LOOPBACK_CLUSTER"
}

# Log in to argocd-server as <user>; prints the session token.
argocd_login() { # <user> <password>
	local code out
	out=$(mktemp)
	code=$(python3 -c 'import json, sys; print(json.dumps({"username": sys.argv[1], "password": sys.argv[2]}))' "$1" "$2" |
		curl -sS -o "$out" -w '%{http_code}' --max-time 30 -H 'Content-Type: application/json' --data-binary @- \
			"$ARGOCD_URL/api/v1/session" || true)
	[[ $code == 200 ]] || die "login as $1: HTTP $code: $(cat "$out")"
	json_get "$out" 'd["token"]'
	rm -f "$out"
}

# Create the Application <name> from path probe/ with <destination line>, sync
# it through the API as `operator` and wait until the sync succeeded. Prints
# the seconds it took; on failure prints why and returns 1.
probe_app() { # <name> <destination YAML flow mapping> <token>
	local name=$1 dest=$2 token=$3 code deadline t0 state
	t0=$(now_ms)
	apply "/api/v1/namespaces/$name" <<EOF
apiVersion: v1
kind: Namespace
metadata: {name: $name}
EOF
	apply "/apis/argoproj.io/v1alpha1/namespaces/$NS/applications/$name" <<EOF
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: $name, namespace: $NS}
spec:
  project: default
  source: {repoURL: '$GIT_URL', targetRevision: HEAD, path: probe}
  destination: $dest
EOF
	deadline=$((SECONDS + ${DRIFT_ARGOCD_START_TIMEOUT:-180}))
	# The sync is refused until the controller has compared the app once.
	while :; do
		code=$(curl -sS -o "$API_BODY" -w '%{http_code}' --max-time 30 -H "Authorization: Bearer $token" \
			-H 'Content-Type: application/json' --data '{"prune":false}' "$ARGOCD_URL/api/v1/applications/$name/sync" || true)
		[[ $code == 200 ]] && break
		if ((SECONDS >= deadline)); then
			echo "sync request: HTTP $code: $(head -c 500 "$API_BODY")"
			return 1
		fi
		sleep 0.5
	done
	while :; do
		[[ $(api GET "/apis/argoproj.io/v1alpha1/namespaces/$NS/applications/$name") == 200 ]] || { echo "GET app: $(cat "$API_BODY")"; return 1; }
		state=$(json_get "$API_BODY" '"%s %s" % ((d.get("status") or {}).get("operationState", {}).get("phase", "-"), (d.get("status") or {}).get("sync", {}).get("status", "-"))')
		case $state in
		"Succeeded Synced") break ;;
		Failed* | Error*)
			echo "sync $state: $(json_get "$API_BODY" 'd["status"]["operationState"].get("message")')"
			return 1
			;;
		esac
		if ((SECONDS >= deadline)); then
			echo "not synced after ${DRIFT_ARGOCD_START_TIMEOUT:-180}s (operation, sync: $state; conditions: $(json_get "$API_BODY" '(d.get("status") or {}).get("conditions")'))"
			return 1
		fi
		sleep 0.2
	done
	[[ $(api GET "/api/v1/namespaces/$name/configmaps/probe") == 200 ]] || { echo "synced, but ConfigMap $name/probe is not there"; return 1; }
	printf '%d.%03d\n' $((($(now_ms) - t0) / 1000)) $((($(now_ms) - t0) % 1000))
}

# Both ways of naming the real kube-apiserver as a destination, synced from Git.
probe_control_plane() { # <dir>
	local token in_cluster by_secret
	token=$(argocd_login operator "$OPERATOR_PW")
	in_cluster=$(probe_app probe-in-cluster "{server: '$IN_CLUSTER_URL', namespace: probe-in-cluster}" "$token") ||
		die "probe-in-cluster ($IN_CLUSTER_URL, ARGOCD_FAKE_IN_CLUSTER=true): $in_cluster (log: $1/argocd-application-controller.log)"
	by_secret=$(probe_app probe-cluster-secret "{name: $LOOPBACK_CLUSTER, namespace: probe-cluster-secret}" "$token") ||
		die "probe-cluster-secret (cluster Secret, $KUBE_SERVER): $by_secret (log: $1/argocd-application-controller.log)"
	PROBE_IN_CLUSTER=$in_cluster PROBE_CLUSTER_SECRET=$by_secret
	log "probe apps synced from $GIT_URL: in-cluster ${in_cluster}s, cluster Secret ${by_secret}s"
}

cmd_start() {
	local control_plane=0
	if [[ ${1:-} == --control-plane ]]; then
		control_plane=1
		shift
	fi
	[[ $# -eq 3 ]] || die "usage: start [--control-plane] <dir> <kubeconfig> <backend-url>"
	local d kc backend t0 deadline
	t0=$(now_ms)
	mkdir -p "$1"
	d=$(cd "$1" && pwd)
	kc=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
	[[ -r $kc ]] || die "$2: kubeconfig not readable"
	backend=${3%/}
	[[ $backend =~ ^https?://[^/]+ ]] || die "backend URL must be http(s)://host[:port]: $3"
	if pid_matches "$(cat "$d/argocd-server.pid" 2>/dev/null || true)" 'argocd-server' ||
		pid_matches "$(cat "$d/argocd-application-controller.pid" 2>/dev/null || true)" 'argocd-application-controller' ||
		pid_matches "$(cat "$d/redis.pid" 2>/dev/null || true)" 'redis-server'; then
		die "argocd-server or redis is already running for $d (run: $0 stop $d)"
	fi
	BIN_DIR=$(cmd_bins)
	# From here on, whatever fails leaves no process behind.
	# shellcheck disable=SC2064 # $d is meant to be expanded now
	trap "cmd_stop '$d'" EXIT

	kube_from_kubeconfig "$kc" "$d/kube"
	load_kube "$d"
	deadline=$((SECONDS + 60))
	until [[ $(api GET /readyz) == 200 ]]; do
		((SECONDS < deadline)) || die "kube-apiserver $KUBE_SERVER not ready: $(cat "$API_BODY")"
		sleep 0.5
	done

	local alice_pw bob_pw token skey ahash bhash ohash
	alice_pw=$(openssl rand -hex 12)
	bob_pw=$(openssl rand -hex 12)
	OPERATOR_PW=$(openssl rand -hex 12)
	token=$(openssl rand -hex 32)
	skey=$(openssl rand -base64 32)
	# Read from stdin (keeps the passwords out of argv); the command prints a
	# "Password: " prompt before the hash on the same line.
	# shellcheck disable=SC2016 # the $ in the pattern are literal
	local hash_re='\$2[aby]\$[0-9]*\$[./A-Za-z0-9]*'
	ahash=$(printf '%s\n' "$alice_pw" | "$BIN_DIR/argocd" account bcrypt | grep -o "$hash_re" || true)
	bhash=$(printf '%s\n' "$bob_pw" | "$BIN_DIR/argocd" account bcrypt | grep -o "$hash_re" || true)
	ohash=$(printf '%s\n' "$OPERATOR_PW" | "$BIN_DIR/argocd" account bcrypt | grep -o "$hash_re" || true)
	[[ $ahash == \$2* && $bhash == \$2* && $ohash == \$2* ]] || die "argocd account bcrypt did not print a bcrypt hash: $ahash"

	link_components "$d"
	REPO_ARGS=(--repo-server 127.0.0.1:1)
	SERVER_ENV=()
	GIT_URL= GIT_PID= REPO_PID= REPO_PORT= CONTROLLER_PID= PROBE_IN_CLUSTER= PROBE_CLUSTER_SECRET=
	if ((control_plane)); then start_git "$d"; fi
	start_redis "$d"
	setup_cluster "$backend" "$ahash" "$bhash" "$ohash" "$token" "$skey"
	if ((control_plane)); then
		register_loopback_cluster
		start_repo_server "$d"
		REPO_ARGS=(--repo-server "127.0.0.1:$REPO_PORT" --repo-server-plaintext)
		# argocd-server also builds a client of the destination when it validates
		# an Application (create, update, sync).
		SERVER_ENV=(ARGOCD_FAKE_IN_CLUSTER=true "KUBECONFIG=$kc")
	fi
	start_server "$d" "$kc"
	ARGOCD_URL=http://127.0.0.1:$ARGOCD_PORT
	if ((control_plane)); then
		start_controller "$d" "$kc"
		probe_control_plane "$d"
	fi

	(
		umask 077
		{
			printf 'ARGOCD_URL=%q\n' "$ARGOCD_URL"
			printf 'ARGOCD_VERSION=%q\n' "$(argocd_version)"
			printf 'ARGOCD_NAMESPACE=%q\n' "$NS"
			printf 'ARGOCD_EXTENSION=%q\n' "$EXT"
			printf 'ARGOCD_BACKEND_URL=%q\n' "$backend"
			printf 'ARGOCD_ALICE_USER=alice\n'
			printf 'ARGOCD_ALICE_PASSWORD=%q\n' "$alice_pw"
			printf 'ARGOCD_BOB_USER=bob\n'
			printf 'ARGOCD_BOB_PASSWORD=%q\n' "$bob_pw"
			printf 'ARGOCD_PROXY_TOKEN=%q\n' "$token"
			printf 'ARGOCD_PROXY_SECRET_KEY=%q\n' "$PROXY_SECRET_KEY"
			printf 'ARGOCD_KUBECONFIG=%q\n' "$kc"
			printf 'ARGOCD_SERVER_PID=%q\n' "$ARGOCD_PID"
			printf 'ARGOCD_METRICS_URL=%q\n' "http://127.0.0.1:$METRICS_PORT/metrics"
			printf 'ARGOCD_REDIS_ADDR=%q\n' "127.0.0.1:$REDIS_PORT"
			printf 'ARGOCD_REDIS_PID=%q\n' "$REDIS_PID"
			printf 'ARGOCD_START_SECONDS=%q\n' "$(printf '%d.%03d' $((ARGOCD_START_MS / 1000)) $((ARGOCD_START_MS % 1000)))"
			printf 'ARGOCD_OPERATOR_USER=operator\n'
			printf 'ARGOCD_OPERATOR_PASSWORD=%q\n' "$OPERATOR_PW"
			printf 'ARGOCD_CONTROL_PLANE=%q\n' "$control_plane"
			printf 'ARGOCD_GIT_URL=%q\n' "$GIT_URL"
			printf 'ARGOCD_GIT_WORKTREE=%q\n' "${GIT_URL:+$d/git/work}"
			printf 'ARGOCD_GIT_DAEMON_PID=%q\n' "$GIT_PID"
			printf 'ARGOCD_REPO_SERVER_ADDR=%q\n' "${REPO_PORT:+127.0.0.1:$REPO_PORT}"
			printf 'ARGOCD_REPO_SERVER_PID=%q\n' "$REPO_PID"
			printf 'ARGOCD_CONTROLLER_PID=%q\n' "$CONTROLLER_PID"
			printf 'ARGOCD_IN_CLUSTER_URL=%q\n' "$IN_CLUSTER_URL"
			printf 'ARGOCD_LOOPBACK_CLUSTER=%q\n' "${GIT_URL:+$LOOPBACK_CLUSTER}"
			printf 'ARGOCD_LOOPBACK_URL=%q\n' "${GIT_URL:+$KUBE_SERVER}"
			printf 'ARGOCD_PROBE_IN_CLUSTER_SECONDS=%q\n' "$PROBE_IN_CLUSTER"
			printf 'ARGOCD_PROBE_CLUSTER_SECRET_SECONDS=%q\n' "$PROBE_CLUSTER_SECRET"
			printf 'ARGOCD_CONTROL_PLANE_START_SECONDS=%q\n' "$(printf '%d.%03d' $((($(now_ms) - t0) / 1000)) $((($(now_ms) - t0) % 1000)))"
			printf 'export ARGOCD_URL ARGOCD_VERSION ARGOCD_NAMESPACE ARGOCD_EXTENSION ARGOCD_BACKEND_URL ARGOCD_ALICE_USER ARGOCD_ALICE_PASSWORD ARGOCD_BOB_USER ARGOCD_BOB_PASSWORD ARGOCD_PROXY_TOKEN ARGOCD_PROXY_SECRET_KEY ARGOCD_KUBECONFIG ARGOCD_SERVER_PID ARGOCD_METRICS_URL ARGOCD_REDIS_ADDR ARGOCD_REDIS_PID ARGOCD_START_SECONDS\n'
			printf 'export ARGOCD_OPERATOR_USER ARGOCD_OPERATOR_PASSWORD ARGOCD_CONTROL_PLANE ARGOCD_GIT_URL ARGOCD_GIT_WORKTREE ARGOCD_GIT_DAEMON_PID ARGOCD_REPO_SERVER_ADDR ARGOCD_REPO_SERVER_PID ARGOCD_CONTROLLER_PID ARGOCD_IN_CLUSTER_URL ARGOCD_LOOPBACK_CLUSTER ARGOCD_LOOPBACK_URL ARGOCD_PROBE_IN_CLUSTER_SECONDS ARGOCD_PROBE_CLUSTER_SECRET_SECONDS ARGOCD_CONTROL_PLANE_START_SECONDS\n'
		} >"$d/argocd.env"
	)
	rm -f "$API_BODY"
	trap - EXIT
	if ((control_plane)); then
		log "control plane: git daemon pid $GIT_PID ($GIT_URL), argocd-repo-server pid $REPO_PID (127.0.0.1:$REPO_PORT), argocd-application-controller pid $CONTROLLER_PID"
	fi
	log "ready in $(elapsed "$t0") (argocd-server up $((ARGOCD_START_MS / 1000)).$(printf '%03d' $((ARGOCD_START_MS % 1000)))s after exec): $ARGOCD_URL (argocd-server pid $ARGOCD_PID, redis pid $REDIS_PID); source $d/argocd.env"
}

cmd_stop() {
	[[ $# -eq 1 ]] || die "usage: stop <dir>"
	local d=$1 f
	[[ -d $d ]] || return 0
	for f in "$d"/recorder-*.pid; do
		[[ -e $f ]] || continue
		stop_pid "$(cat "$f")" 'header-recorder\.py' "header recorder"
		rm -f "$f"
	done
	# The controller first: it would otherwise log every other component going away.
	stop_pid "$(cat "$d/argocd-application-controller.pid" 2>/dev/null || true)" 'argocd-application-controller' argocd-application-controller
	stop_pid "$(cat "$d/argocd-server.pid" 2>/dev/null || true)" 'argocd-server' argocd-server
	stop_pid "$(cat "$d/argocd-repo-server.pid" 2>/dev/null || true)" 'argocd-repo-server' argocd-repo-server
	stop_pid "$(cat "$d/git-daemon.pid" 2>/dev/null || true)" 'git-daemon' 'git daemon'
	stop_pid "$(cat "$d/redis.pid" 2>/dev/null || true)" 'redis-server' redis-server
	rm -f "$d/argocd-application-controller.pid" "$d/argocd-server.pid" "$d/argocd-repo-server.pid" "$d/git-daemon.pid" "$d/redis.pid"
}

# ---- smoke check --------------------------------------------------------------

start_recorder() { # <dir> <name>; sets REC_PID, REC_URL; records to <dir>/recorder-<name>.jsonl
	local d=$1 name=$2 deadline
	rm -f "$d/recorder-$name.port"
	: >"$d/recorder-$name.jsonl"
	REC_PID=$(spawn "$d/recorder-$name.log" python3 "$RECORDER" "$d/recorder-$name.jsonl" "$d/recorder-$name.port" "$name")
	echo "$REC_PID" >"$d/recorder-$name.pid"
	deadline=$((SECONDS + 20))
	until [[ -s $d/recorder-$name.port ]]; do
		alive "$REC_PID" || die "header recorder $name exited: $(cat "$d/recorder-$name.log")"
		((SECONDS < deadline)) || die "header recorder $name did not start in 20s"
		sleep 0.05
	done
	REC_URL=http://127.0.0.1:$(cat "$d/recorder-$name.port")
}

# Set argocd-cm data keys (JSON object of key -> string or null) and wait until
# argocd-server has processed the change: it logs "extensions configs modified"
# on every change of an extension.config* key, then either "... updated
# successfully" or "error updating extensions configs". Sets RELOAD_RESULT
# (applied|rejected) and RELOAD_MS (PATCH sent -> outcome logged).
set_cm() { # <json data object>
	local before code deadline n
	before=$(grep -c 'extensions configs modified' "$SMOKE_DIR/argocd-server.log" || true)
	code=$(api PATCH "/api/v1/namespaces/$NS/configmaps/argocd-cm" -H 'Content-Type: application/merge-patch+json' \
		--data "{\"data\":$1}")
	[[ $code == 200 ]] || die "patch argocd-cm: HTTP $code: $(cat "$API_BODY")"
	RELOAD_T0=$(now_ms)
	deadline=$((SECONDS + 60))
	while :; do
		n=$(grep -c 'extensions configs modified' "$SMOKE_DIR/argocd-server.log" || true)
		if ((n > before)) && grep 'extensions configs' "$SMOKE_DIR/argocd-server.log" | tail -n 1 | grep -Eq 'updated successfully|error updating'; then
			if grep 'extensions configs' "$SMOKE_DIR/argocd-server.log" | tail -n 1 | grep -q 'error updating'; then
				RELOAD_RESULT=rejected
			else
				RELOAD_RESULT=applied
			fi
			RELOAD_MS=$(($(now_ms) - RELOAD_T0))
			return 0
		fi
		((SECONDS < deadline)) || die "argocd-server did not log a reload of the extension config within 60s"
		sleep 0.05
	done
}

json_str() { python3 -c 'import json, sys; print(json.dumps(sys.argv[1]))' "$1"; }

SMOKE_FAILS=0
CALLS=0
# call <label> <expected code> <expected backend: a|b|none> <curl args...>
# Sets CODE, BODY, FWD (the JSON record the backend received, or empty).
call() {
	local label=$1 want=$2 wantb=$3 na nb got=none
	shift 3
	CALLS=$((CALLS + 1))
	na=$(wc -l <"$SMOKE_DIR/recorder-a.jsonl")
	nb=$(wc -l <"$SMOKE_DIR/recorder-b.jsonl")
	: >"$SMOKE_TMP/body"
	: >"$SMOKE_TMP/resp-headers"
	CODE=$(curl -sS -o "$SMOKE_TMP/body" -D "$SMOKE_TMP/resp-headers" -w '%{http_code}' --max-time 20 "$@" || true)
	BODY=$(head -c 400 "$SMOKE_TMP/body" | tr '\n' ' ' | sed 's/ *$//')
	FWD=
	if (($(wc -l <"$SMOKE_DIR/recorder-a.jsonl") > na)); then
		got=a
		FWD=$(tail -n 1 "$SMOKE_DIR/recorder-a.jsonl")
	elif (($(wc -l <"$SMOKE_DIR/recorder-b.jsonl") > nb)); then
		got=b
		FWD=$(tail -n 1 "$SMOKE_DIR/recorder-b.jsonl")
	fi
	local verdict=ok
	if [[ $CODE != "$want" || $got != "$wantb" ]]; then
		verdict=FAILED
		SMOKE_FAILS=$((SMOKE_FAILS + 1))
	fi
	printf '%-6s %-62s HTTP %s (want %s)  backend: %s (want %s)  body: %s\n' "$verdict" "$label" "$CODE" "$want" "$got" "$wantb" "${BODY:-<empty>}"
}

# Print the Argo CD-relevant headers of the last forwarded request (or all of them).
show_fwd() { # [all]
	[[ -n $FWD ]] || return 0
	python3 - "$FWD" "${1:-}" <<'PY'
import json, sys
r = json.loads(sys.argv[1]); full = sys.argv[2] == "all"
print("         -> %s %s%s" % (r["method"], r["path"], ("  body=%r" % r["body"]) if r["body"] else ""))
for k, v in r["headers"]:
    if full or k.lower().startswith(("argocd-", "authorization", "cookie", "x-forwarded")):
        if k.lower() == "authorization" and v.startswith("Bearer ") and len(v) > 30:
            v = v[:15] + "..." + v[-6:]
        print("            %s: %s" % (k, v))
PY
}

# The response headers the client got for the last call.
show_resp() {
	printf '         <- response headers at the client:\n'
	tr -d '\r' <"$SMOKE_TMP/resp-headers" | grep -v '^$' | sed 's/^/            /'
}

# check <label> <python condition over r (last forwarded record) and h (lower-cased header -> list of values)>
check() {
	local ok
	ok=$(python3 - "$FWD" "$2" "$ARGOCD_PROXY_TOKEN" <<'PY'
import json, sys
r = json.loads(sys.argv[1] or "null") or {"headers": [], "path": "", "method": "", "body": ""}
token = sys.argv[3]
h = {}
for k, v in r["headers"]:
    h.setdefault(k.lower(), []).append(v)
print(bool(eval(sys.argv[2])))
PY
	)
	if [[ $ok == True ]]; then
		printf 'ok       %s\n' "$1"
	else
		printf 'FAILED   %s: not true: %s\n' "$1" "$2"
		SMOKE_FAILS=$((SMOKE_FAILS + 1))
	fi
}

login() { # <user> <password>; prints the token
	local code
	python3 -c 'import json, sys; print(json.dumps({"username": sys.argv[1], "password": sys.argv[2]}))' "$1" "$2" >"$SMOKE_TMP/login.json"
	code=$(curl -sS -o "$SMOKE_TMP/login.out" -w '%{http_code}' --max-time 30 -H 'Content-Type: application/json' \
		--data-binary "@$SMOKE_TMP/login.json" "$ARGOCD_URL/api/v1/session" || true)
	rm -f "$SMOKE_TMP/login.json"
	[[ $code == 200 ]] || die "login as $1: HTTP $code: $(cat "$SMOKE_TMP/login.out")"
	json_get "$SMOKE_TMP/login.out" 'd["token"]'
}

app_yaml() { # <name> <project> <destination line>
	cat <<YAML
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: $1
  namespace: $NS
spec:
  project: $2
  source:
    repoURL: https://example.invalid/argocd-example-apps.git
    targetRevision: HEAD
    path: guestbook
  destination:
    $3
    namespace: default
YAML
}

cmd_smoke() {
	[[ $# -eq 1 ]] || die "usage: smoke <dir>"
	local d
	d=$(cd "$1" && pwd)
	SMOKE_DIR=$d
	[[ -f $d/argocd.env ]] || die "$d/argocd.env not found (run: $0 start $d <kubeconfig> <backend-url>)"
	# shellcheck disable=SC1091
	source "$d/argocd.env"
	pid_matches "$ARGOCD_SERVER_PID" argocd-server || die "argocd-server (pid $ARGOCD_SERVER_PID) is not running"
	load_kube "$d"
	SMOKE_TMP=$(mktemp -d)
	local U="$ARGOCD_URL/extensions/$EXT/api/v1/status?check=1" rec_a rec_b alice bob code

	echo "== argocd-server $ARGOCD_VERSION at $ARGOCD_URL (pid $ARGOCD_SERVER_PID, /healthz OK ${ARGOCD_START_SECONDS}s after exec)"
	start_recorder "$d" a
	rec_a=$REC_URL
	start_recorder "$d" b
	rec_b=$REC_URL
	# From here on, a failure must not leave the recorders behind.
	# shellcheck disable=SC2064 # $d is meant to be expanded now
	trap "for f in a b; do stop_pid \"\$(cat '$d'/recorder-\$f.pid 2>/dev/null)\" 'header-recorder\\.py' recorder; done" EXIT
	echo "   header recorders: a=$rec_a b=$rec_b"

	# Projects and Applications. Nothing reconciles them (no application-controller).
	apply "/apis/argoproj.io/v1alpha1/namespaces/$NS/appprojects/other" <<YAML
apiVersion: argoproj.io/v1alpha1
kind: AppProject
metadata: {name: other, namespace: $NS}
spec:
  sourceRepos: ['*']
  destinations: [{server: '*', namespace: '*'}]
YAML
	apply "/apis/argoproj.io/v1alpha1/namespaces/$NS/appprojects/restricted" <<YAML
apiVersion: argoproj.io/v1alpha1
kind: AppProject
metadata: {name: restricted, namespace: $NS}
spec:
  sourceRepos: ['*']
  destinations: [{server: 'https://elsewhere.invalid', namespace: '*'}]
YAML
	app_yaml guestbook default 'server: https://kubernetes.default.svc' | apply "/apis/argoproj.io/v1alpha1/namespaces/$NS/applications/guestbook"
	app_yaml other-app other 'server: https://kubernetes.default.svc' | apply "/apis/argoproj.io/v1alpha1/namespaces/$NS/applications/other-app"
	app_yaml restricted-app restricted 'server: https://kubernetes.default.svc' | apply "/apis/argoproj.io/v1alpha1/namespaces/$NS/applications/restricted-app"
	app_yaml named-app default 'name: in-cluster' | apply "/apis/argoproj.io/v1alpha1/namespaces/$NS/applications/named-app"
	echo "   AppProjects other, restricted (destination https://elsewhere.invalid only);"
	echo "   Applications guestbook, named-app (project default), other-app (other), restricted-app (restricted)"

	alice=$(login alice "$ARGOCD_ALICE_PASSWORD")
	bob=$(login bob "$ARGOCD_BOB_PASSWORD")
	echo "   logged in as alice and bob (POST /api/v1/session); alice's JWT claims: $(python3 -c '
import base64, json, sys
p = sys.argv[1].split(".")[1]; p += "=" * (-len(p) % 4)
print(json.dumps(json.loads(base64.urlsafe_b64decode(p))))' "$alice")"

	local A=(-H "Argocd-Application-Name: $NS:guestbook" -H 'Argocd-Project-Name: default')
	echo
	echo "== point extension.config.$EXT at recorder a"
	set_cm "{\"extension.config.$EXT\":$(json_str "$(ext_config "$rec_a")")}"
	echo "   reload $RELOAD_RESULT ${RELOAD_MS}ms after the PATCH"

	echo
	echo "== requests through $ARGOCD_URL/extensions/$EXT/..."
	call "alice, guestbook, project default" 200 a -b "argocd.token=$alice" "${A[@]}" "$U"
	show_fwd all
	show_resp
	check "path /api/v1/status?check=1 (prefix /extensions/$EXT stripped, query kept)" 'r["path"] == "/api/v1/status?check=1"'
	check "Authorization is exactly the configured 'Bearer <token>' (from argocd-secret)" 'h.get("authorization") == ["Bearer " + token]'
	check "no Cookie reaches the backend" '"cookie" not in h'
	check "Argocd-Application-Name argocd:guestbook, Argocd-Project-Name default, Argocd-Namespace argocd" 'h.get("argocd-application-name") == ["argocd:guestbook"] and h.get("argocd-project-name") == ["default"] and h.get("argocd-namespace") == ["argocd"]'
	check "Argocd-Target-Cluster-URL set, no Argocd-Target-Cluster-Name (app uses destination.server)" 'h.get("argocd-target-cluster-url") == ["https://kubernetes.default.svc"] and "argocd-target-cluster-name" not in h'
	check "Argocd-Username alice, Argocd-User-Id alice, no Argocd-User-Groups (local user)" 'h.get("argocd-username") == ["alice"] and h.get("argocd-user-id") == ["alice"] and "argocd-user-groups" not in h'

	call "alice, forged Argocd-*/Authorization/X-Forwarded-For headers" 200 a -b "argocd.token=$alice" "${A[@]}" \
		-H 'Argocd-User-Groups: admins' -H 'Argocd-Username: mallory' -H 'Argocd-User-Id: mallory' \
		-H 'Argocd-Target-Cluster-Name: evil' -H 'Argocd-Target-Cluster-URL: https://evil.example' \
		-H 'Argocd-Namespace: evil' -H 'Authorization: Bearer forged' -H 'X-Forwarded-For: 203.0.113.9' "$U"
	show_fwd
	check "forged Argocd-User-Groups: admins arrives intact" 'h.get("argocd-user-groups") == ["admins"]'
	check "forged Argocd-Target-Cluster-Name: evil arrives intact (app has no destination.name)" 'h.get("argocd-target-cluster-name") == ["evil"]'
	check "Argocd-Username/User-Id/Namespace/Target-Cluster-URL overwritten by Argo CD" 'h.get("argocd-username") == ["alice"] and h.get("argocd-user-id") == ["alice"] and h.get("argocd-namespace") == ["argocd"] and h.get("argocd-target-cluster-url") == ["https://kubernetes.default.svc"]'
	check "client Authorization replaced by the configured one" 'h.get("authorization") == ["Bearer " + token]'
	check "client X-Forwarded-For kept, client address appended" 'h.get("x-forwarded-for") == ["203.0.113.9, 127.0.0.1"]'

	call "alice, several cookies (argocd.token among them)" 200 a -H "Cookie: theme=dark; argocd.token=$alice; other=1" "${A[@]}" "$U"
	check "no Cookie at all reaches the backend" '"cookie" not in h'
	call "alice, POST with a JSON body, deeper path" 200 a -b "argocd.token=$alice" "${A[@]}" -H 'Content-Type: application/json' \
		--data '{"x":1}' "$ARGOCD_URL/extensions/$EXT/api/v1/drift/apps/guestbook?a=1&b=2"
	check "method, path, query and body forwarded" 'r["method"] == "POST" and r["path"] == "/api/v1/drift/apps/guestbook?a=1&b=2" and r["body"] == "{\"x\":1}"'
	call "alice, named-app (destination.name in-cluster)" 200 a -b "argocd.token=$alice" \
		-H "Argocd-Application-Name: $NS:named-app" -H 'Argocd-Project-Name: default' "$U"
	show_fwd
	check "Argocd-Target-Cluster-Name in-cluster, no Argocd-Target-Cluster-URL" 'h.get("argocd-target-cluster-name") == ["in-cluster"] and "argocd-target-cluster-url" not in h'
	call "alice, other-app with its own project 'other'" 200 a -b "argocd.token=$alice" \
		-H "Argocd-Application-Name: $NS:other-app" -H 'Argocd-Project-Name: other' "$U"

	echo
	echo "-- refused requests (nothing may reach the backend)"
	call "bob (applications get, no extensions invoke)" 401 none -b "argocd.token=$bob" "${A[@]}" "$U"
	call "alice, other-app (project other) with project header 'default'" 401 none -b "argocd.token=$alice" \
		-H "Argocd-Application-Name: $NS:other-app" -H 'Argocd-Project-Name: default' "$U"
	call "alice, guestbook with wrong project header 'other'" 401 none -b "argocd.token=$alice" \
		-H "Argocd-Application-Name: $NS:guestbook" -H 'Argocd-Project-Name: other' "$U"
	call "alice, restricted-app (project forbids its destination)" 401 none -b "argocd.token=$alice" \
		-H "Argocd-Application-Name: $NS:restricted-app" -H 'Argocd-Project-Name: restricted' "$U"
	call "alice, application that does not exist" 401 none -b "argocd.token=$alice" \
		-H "Argocd-Application-Name: $NS:nope" -H 'Argocd-Project-Name: default' "$U"
	call "alice, app namespace 'default' (apps-in-any-namespace off)" 401 none -b "argocd.token=$alice" \
		-H 'Argocd-Application-Name: default:guestbook' -H 'Argocd-Project-Name: default' "$U"
	call "no cookie" 400 none "${A[@]}" "$U"
	call "alice's token as 'Authorization: Bearer' instead of cookie" 400 none -H "Authorization: Bearer $alice" "${A[@]}" "$U"
	call "invalid argocd.token cookie" 401 none -b 'argocd.token=not-a-jwt' "${A[@]}" "$U"
	call "alice's token with a tampered signature" 401 none -b "argocd.token=${alice%?????}AAAAA" "${A[@]}" "$U"
	call "alice, no Argocd-Application-Name" 400 none -b "argocd.token=$alice" -H 'Argocd-Project-Name: default' "$U"
	call "alice, no Argocd-Project-Name" 400 none -b "argocd.token=$alice" -H "Argocd-Application-Name: $NS:guestbook" "$U"
	call "alice, Argocd-Application-Name without namespace" 400 none -b "argocd.token=$alice" \
		-H 'Argocd-Application-Name: guestbook' -H 'Argocd-Project-Name: default' "$U"
	call "alice, unknown extension 'nope' (no invoke permission for it)" 401 none -b "argocd.token=$alice" "${A[@]}" \
		"$ARGOCD_URL/extensions/nope/api/v1/status"

	echo
	echo "== hot reload of extension.config.$EXT"
	set_cm "{\"extension.config.$EXT\":$(json_str "$(ext_config "$rec_b")")}"
	echo "   url -> recorder b: reload $RELOAD_RESULT ${RELOAD_MS}ms after the PATCH"
	call "alice after switching the url to recorder b" 200 b -b "argocd.token=$alice" "${A[@]}" "$U"

	set_cm '{"extension.config.broken":"services: []"}'
	echo "   add an invalid extension.config.broken (no services): reload $RELOAD_RESULT"
	call "alice, drift while another extension's config is invalid" 200 b -b "argocd.token=$alice" "${A[@]}" "$U"
	set_cm "{\"extension.config.$EXT\":$(json_str "$(ext_config "$rec_a")")}"
	echo "   url -> recorder a while 'broken' is still invalid: reload $RELOAD_RESULT"
	call "alice, after a url change made while 'broken' is invalid" 200 b -b "argocd.token=$alice" "${A[@]}" "$U"
	set_cm '{"extension.config.broken":null}'
	echo "   remove extension.config.broken: reload $RELOAD_RESULT"
	call "alice, after removing the invalid config" 200 a -b "argocd.token=$alice" "${A[@]}" "$U"

	set_cm "{\"extension.config.$EXT\":$(json_str "$(ext_config "$rec_a" drift.no-such-key)")}"
	echo "   header value '\$drift.no-such-key' (key missing in argocd-secret): reload $RELOAD_RESULT"
	call "alice, configured header refers to a missing secret key" 200 a -b "argocd.token=$alice" "${A[@]}" "$U"
	show_fwd
	# shellcheck disable=SC2016 # a literal $ is meant
	check "the unresolved reference is sent literally as Authorization" 'h.get("authorization") == ["$drift.no-such-key"]'

	local dead
	dead=$(free_port)
	set_cm "{\"extension.config.$EXT\":$(json_str "$(ext_config "http://127.0.0.1:$dead")")}"
	call "alice, backend not listening (connection refused)" 502 none -b "argocd.token=$alice" "${A[@]}" "$U"

	set_cm "{\"extension.config.$EXT\":$(json_str "$(ext_config "$ARGOCD_BACKEND_URL")")}"
	echo "   restored the url given to start: $ARGOCD_BACKEND_URL (reload $RELOAD_RESULT)"

	echo
	echo "== Argo CD API without application-controller / repo-server (informational)"
	local p
	# resource-tree and managed-resources ask for a refresh and wait (70 s) for
	# an application-controller that does not exist: cut them short.
	for p in /api/version /api/v1/settings /api/v1/session/userinfo /api/v1/applications/guestbook \
		/api/v1/applications/guestbook/resource-tree /api/v1/applications/guestbook/manifests \
		/api/v1/projects/default /extensions.js /; do
		: >"$SMOKE_TMP/body"
		code=$(curl -s -o "$SMOKE_TMP/body" -w '%{http_code}' --max-time 5 -b "argocd.token=$alice" "$ARGOCD_URL$p" || true)
		[[ $code != 000 ]] || echo "(no answer in 5 s)" >"$SMOKE_TMP/body"
		printf '   %-58s HTTP %s  %s\n' "GET $p (alice)" "$code" "$(head -c 200 "$SMOKE_TMP/body" | tr '\n' ' ')"
	done

	echo
	echo "== resources"
	printf '   argocd-server pid %s: %s, %s\n' "$ARGOCD_SERVER_PID" \
		"$(grep VmRSS "/proc/$ARGOCD_SERVER_PID/status" | tr -s ' \t' ' ')" "$(grep VmHWM "/proc/$ARGOCD_SERVER_PID/status" | tr -s ' \t' ' ')"
	printf '   redis-server pid %s: %s\n' "$ARGOCD_REDIS_PID" "$(grep VmRSS "/proc/$ARGOCD_REDIS_PID/status" 2>/dev/null | tr -s ' \t' ' ')"

	local f
	for f in a b; do
		stop_pid "$(cat "$d/recorder-$f.pid")" 'header-recorder\.py' "header recorder $f"
		rm -f "$d/recorder-$f.pid"
	done
	trap - EXIT
	rm -rf "$SMOKE_TMP" "$API_BODY"
	echo
	if ((SMOKE_FAILS > 0)); then
		echo "real-argocd smoke: $SMOKE_FAILS check(s) FAILED (records: $d/recorder-*.jsonl, log: $d/argocd-server.log)"
		exit 1
	fi
	echo "real-argocd smoke: all $CALLS requests and checks as expected (records: $d/recorder-*.jsonl)"
}

main() {
	[[ $# -ge 1 ]] || die "usage: $0 bins | start [--control-plane] <dir> <kubeconfig> <backend-url> | stop <dir> | smoke <dir>"
	local sub=$1
	shift
	case $sub in
	bins) cmd_bins "$@" ;;
	start) cmd_start "$@" ;;
	stop) cmd_stop "$@" ;;
	smoke) cmd_smoke "$@" ;;
	*) die "unknown subcommand '$sub' (bins, start, stop, smoke)" ;;
	esac
}

main "$@"
