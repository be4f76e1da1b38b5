#!/usr/bin/env bash
# Builds the argocd-drift image without a Docker engine, with buildah (Debian package), and checks
# it. The image is the Dockerfile's: its build stage's exact command runs on this machine (the
# Dockerfile's base images cannot be pulled here: no container registry is reachable), then
# buildah assembles the runtime stage from scratch — the static binary, CA certificates and a
# non-root user, as distroless/static provides — and writes an OCI image layout (push it with
# `skopeo copy oci:target/image/argocd-drift:argocd-drift:<version> docker://<registry>/…`).
#
# usage: scripts/build-image.sh [out-dir]     (an OCI image layout; default target/image/argocd-drift)
#        ARGOCD_DRIFT_BIN=<static binary> ...  skip the build stage (a binary built as above)
# Needs: buildah, umoci (apt-get install buildah umoci), root (vfs storage, no daemon).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-target/image/argocd-drift}
version=$(sed -n 's/^version = "\(.*\)"/\1/p' backend/Cargo.toml | head -1)
target=x86_64-unknown-linux-gnu
export STORAGE_DRIVER=vfs BUILDAH_ISOLATION=chroot

if [[ -n ${ARGOCD_DRIFT_BIN:-} ]]; then
  echo "==> build stage: using $ARGOCD_DRIFT_BIN"
  bin=$ARGOCD_DRIFT_BIN
else
  echo "==> build stage: static binary"
  RUSTFLAGS="-C target-feature=+crt-static" CARGO_PROFILE_RELEASE_STRIP=symbols \
    cargo build --release --locked --target $target -p argocd-drift --bin argocd-drift
  bin=target/$target/release/argocd-drift
fi
if ! ldd "$bin" 2>&1 | grep -q -e 'statically linked' -e 'not a dynamic executable'; then
  echo "build-image: $bin is dynamically linked" >&2
  exit 1
fi

echo "==> runtime stage: scratch + binary + CA certificates + nonroot user"
stage=$(mktemp -d)
ctr=
cleanup() {
  [[ -n $ctr ]] && buildah rm "$ctr" >/dev/null 2>&1 || true
  rm -rf "$stage"
}
trap cleanup EXIT
mkdir -p "$stage/etc/ssl/certs" "$stage/tmp"
install -m 0555 "$bin" "$stage/argocd-drift"
cp /etc/ssl/certs/ca-certificates.crt "$stage/etc/ssl/certs/ca-certificates.crt"
printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >"$stage/etc/passwd"
printf 'root:x:0:\nnonroot:x:65532:\n' >"$stage/etc/group"
chmod 1777 "$stage/tmp"

ctr=$(buildah from scratch)
buildah copy --quiet "$ctr" "$stage" / >/dev/null
buildah config \
  --user 65532:65532 \
  --entrypoint '["/argocd-drift"]' \
  --cmd serve \
  --port 8080 --port 8081 --port 8082 \
  --label org.opencontainers.image.title=argocd-drift \
  --label org.opencontainers.image.version="$version" \
  --label org.opencontainers.image.licenses=Apache-2.0 \
  "$ctr"
mkdir -p "$(dirname "$out")"
rm -rf "$out"
buildah commit --quiet --format oci "$ctr" "oci:$out:argocd-drift:$version" >/dev/null
buildah rm "$ctr" >/dev/null
ctr=

echo "==> image: $out"
python3 - "$out" <<'PY'
import json, pathlib, sys
root = pathlib.Path(sys.argv[1])
def blob(digest):
    return (root / "blobs" / "sha256" / digest.split(":")[1]).read_bytes()
index = json.loads((root / "index.json").read_text())
manifest = json.loads(blob(index["manifests"][0]["digest"]))
config = json.loads(blob(manifest["config"]["digest"]))["config"]
layers = manifest["layers"]
print(f"user:       {config.get('User')}")
print(f"entrypoint: {config.get('Entrypoint')} cmd: {config.get('Cmd')}")
print(f"ports:      {sorted(config.get('ExposedPorts', {}))}")
print(f"layers:     {len(layers)}, compressed {sum(l['size'] for l in layers) / 1e6:.1f} MB")
assert config.get("User") == "65532:65532", "the image must run as non-root"
assert config.get("Entrypoint") == ["/argocd-drift"]
PY
echo "==> unpacked: the binary runs alone as 65532 (no shell, no shared library)"
umoci unpack --image "$out:argocd-drift:$version" "$stage/bundle" >/dev/null
du -sh "$stage/bundle/rootfs" | sed 's/^/rootfs size: /'
(cd "$stage/bundle/rootfs" && find . -type f | sort | sed 's/^/  /')
chroot --userspec=65532:65532 "$stage/bundle/rootfs" /argocd-drift --help | head -1
