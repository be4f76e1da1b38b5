#!/usr/bin/env python3
"""Fixtures for the drift load benchmark: N Applications of R resources each, of which D were
changed live by `kubectl edit` (each a ConfigMap with realistic managedFields and Argo CD's
last-applied annotation), written as YAML (JSON documents) the fake API server seeds.

    gen-drift-bench.py <out-dir> [apps=1000] [resources=200] [drifted=5]
"""
import json
import os
import sys

out = sys.argv[1]
apps = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
per_app = int(sys.argv[3]) if len(sys.argv) > 3 else 200
drifted = int(sys.argv[4]) if len(sys.argv) > 4 else 5
os.makedirs(out, exist_ok=True)
applied, edited = "2026-11-01T10:00:00Z", "2026-11-20T09:30:00Z"


def configmap(app, ns, name, changed):
    desired = {"LOG_LEVEL": "info", "FEATURE_X": "on", "TIMEOUT": "30s", "REGION": "eu-west-1"}
    tracking = f"{app}:/ConfigMap:{ns}/{name}"
    last_applied = {
        "apiVersion": "v1", "kind": "ConfigMap", "data": desired,
        "metadata": {"name": name, "namespace": ns,
                     "annotations": {"argocd.argoproj.io/tracking-id": tracking}},
    }
    live = dict(desired)
    managed = [{
        "apiVersion": "v1", "fieldsType": "FieldsV1", "manager": "argocd-controller",
        "operation": "Update", "time": applied,
        "fieldsV1": {"f:data": {".": {}, **{f"f:{k}": {} for k in desired}},
                     "f:metadata": {"f:annotations": {".": {},
                                                      "f:argocd.argoproj.io/tracking-id": {},
                                                      "f:kubectl.kubernetes.io/last-applied-configuration": {}}}},
    }]
    if changed:
        live["LOG_LEVEL"] = "debug"
        del managed[0]["fieldsV1"]["f:data"]["f:LOG_LEVEL"]
        managed.append({"apiVersion": "v1", "fieldsType": "FieldsV1", "manager": "kubectl-edit",
                        "operation": "Update", "time": edited,
                        "fieldsV1": {"f:data": {"f:LOG_LEVEL": {}}}})
    return {
        "apiVersion": "v1", "kind": "ConfigMap", "data": live,
        "metadata": {"name": name, "namespace": ns, "creationTimestamp": applied,
                     "annotations": {"argocd.argoproj.io/tracking-id": tracking,
                                     "kubectl.kubernetes.io/last-applied-configuration":
                                         json.dumps(last_applied, separators=(",", ":"))},
                     "managedFields": managed},
    }


# The fake's YAML reader bounds the documents (1,024) and nodes (250,000) of one file: each
# app's live objects are one `kind: List` document in a file of their own, apps 10 to a file.
app_docs = []
for a in range(apps):
    app, ns = f"bench-{a:04d}", f"bench-{a:04d}"
    resources, live = [], []
    for r in range(per_app):
        name = f"config-{r:03d}"
        changed = r < drifted
        live.append(configmap(app, ns, name, changed))
        resources.append({"version": "v1", "kind": "ConfigMap", "namespace": ns, "name": name,
                          "status": "OutOfSync" if changed else "Synced"})
    with open(os.path.join(out, f"20-live-{a:04d}.yaml"), "w") as f:
        f.write(json.dumps({"apiVersion": "v1", "kind": "List", "items": live}) + "\n")
    app_docs.append({
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
        "metadata": {"name": app, "namespace": "argocd"},
        "spec": {"project": "default",
                 "destination": {"server": "https://kubernetes.default.svc", "namespace": ns},
                 "source": {"repoURL": "https://git.example.com/bench.git", "path": app}},
        "status": {"sync": {"status": "OutOfSync", "revision": "0" * 40},
                   "health": {"status": "Healthy"}, "reconciledAt": "{{now-30s}}",
                   "resourceHealthSource": "appTree", "resources": resources},
    })
for i in range(0, len(app_docs), 10):
    with open(os.path.join(out, f"10-apps-{i // 10:03d}.yaml"), "w") as f:
        for doc in app_docs[i:i + 10]:
            f.write("---\n" + json.dumps(doc) + "\n")
print(f"{apps} apps x {per_app} resources ({drifted} drifted each) in {out}")
