#!/usr/bin/env python3
"""Simulated Argo CD viewers polling argocd-drift as the UI does (ui/src/components).

Each viewer has one app's page open, from a random phase:
  - status-panel item only: GET /api/v1/status every 15 s (with --panel-drift, also
    GET /api/v1/drift every 30 s: what the panel item did before it read /status's `drift`);
  - Drift tab open (--tabs): /status and /drift every 10 s (tab and panel share one poller),
    /history and /reports every 60 s.
Prints one JSON line: requests by route, /drift latencies (p50, p99, max, ms), errors.

    bench-viewers.py <api base url> <token> <apps> <viewers> <seconds> [--tabs] [--panel-drift]
"""
import json
import random
import sys
import threading
import time
import urllib.request

base, token, apps, viewers, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
tabs = "--tabs" in sys.argv
panel_drift = "--panel-drift" in sys.argv

if tabs:
    polls = [("/api/v1/status", 10), ("/api/v1/drift", 10), ("/api/v1/history", 60), ("/api/v1/reports", 60)]
else:
    polls = [("/api/v1/status", 15)] + ([("/api/v1/drift", 30)] if panel_drift else [])

lock = threading.Lock()
counts, errors, drift_ms = {}, [], []
deadline = time.monotonic() + seconds


def viewer(n):
    app = f"argocd:bench-{n % apps:04d}"
    headers = {"Authorization": f"Bearer {token}", "Argocd-Application-Name": app, "Argocd-Project-Name": "default"}
    rng = random.Random(n)
    # Each route's next due time: a random phase within its interval, as pages open at random.
    due = [(time.monotonic() + rng.uniform(0, every), path, every) for path, every in polls]
    while True:
        due.sort()
        at, path, every = due.pop(0)
        if at >= deadline:
            return
        time.sleep(max(0.0, at - time.monotonic()))
        started = time.monotonic()
        try:
            with urllib.request.urlopen(urllib.request.Request(base + path, headers=headers), timeout=20) as r:
                r.read()
                ok = r.status == 200
        except Exception as e:  # an error is a result here, not a crash
            ok = False
            with lock:
                errors.append(f"{path}: {e}")
        took = (time.monotonic() - started) * 1000
        with lock:
            counts[path] = counts.get(path, 0) + 1
            if path == "/api/v1/drift" and ok:
                drift_ms.append(took)
        due.append((at + every, path, every))


threads = [threading.Thread(target=viewer, args=(n,), daemon=True) for n in range(viewers)]
for t in threads:
    t.start()
for t in threads:
    t.join()


def pct(values, p):
    if not values:
        return None
    values = sorted(values)
    return round(values[min(len(values) - 1, int(len(values) * p / 100))], 2)


print(json.dumps({
    "viewers": viewers, "tabs": tabs, "panelDrift": panel_drift, "seconds": seconds,
    "requests": counts, "errors": len(errors), "firstErrors": errors[:3],
    "driftMs": {"p50": pct(drift_ms, 50), "p99": pct(drift_ms, 99), "max": pct(drift_ms, 100)},
}))
