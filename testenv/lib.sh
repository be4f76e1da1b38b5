# Shell helpers shared by real-kube.sh and real-argocd.sh. Source it after setting LOG_PREFIX.
# shellcheck shell=bash

log() { printf '%s: %s\n' "${LOG_PREFIX:-testenv}" "$*" >&2; }
die() {
	printf '%s: error: %s\n' "${LOG_PREFIX:-testenv}" "$*" >&2
	exit 1
}

now_ms() { date +%s%3N; }
elapsed() { # <start_ms>
	local d=$(($(now_ms) - $1))
	printf '%d.%03ds' $((d / 1000)) $((d % 1000))
}

# Python helpers use the standard library only: -S skips site-packages, which cuts the start-up
# of each call from ~0.3 s to ~0.1 s on a loaded 2-core machine (dozens of calls per start).
# A port free on 127.0.0.1 right now (callers retry if another process takes it first).
free_port() {
	python3 -S -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

json_get() { # <file> <python expression over d>
	python3 -S -c 'import json, sys; d = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

# Running and not a zombie (this machine's init does not reap, so a dead child can linger).
alive() { # <pid>
	[[ -n $1 ]] && kill -0 "$1" 2>/dev/null && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}

# Starts a command in its own session (a ^C in the caller's terminal does not reach it),
# output appended to <log>; prints its PID.
spawn() { # <log> <command...>
	local logf=$1
	shift
	setsid "$@" </dev/null >>"$logf" 2>&1 &
	printf '%s\n' "$!"
}
