# Sourced by the scripts that need a real cluster only for their own run (make
# argocd-events-panel, argocd-extension-served, record-fixtures).
#
# throwaway_cluster <name>: the real binaries (built once per machine), then a real
# kube-apiserver + etcd in a fresh $dir (its admin kubeconfig: $dir/kubeconfig; the start log
# shown only if it fails). When the script exits, whatever happens, an argocd-server started
# under $dir/argocd and the cluster are stopped and $dir is removed.
throwaway_cluster() {
  dir=$(mktemp -d "${TMPDIR:-/tmp}/drift-$1.XXXXXX")
  trap throwaway_cleanup EXIT
  testenv/real-kube.sh bins >/dev/null
  testenv/real-argocd.sh bins >/dev/null
  DRIFT_KUBE_WATCH_PID=$$ testenv/real-kube.sh start "$dir" >"$dir/kube-start.log" 2>&1 || {
    cat "$dir/kube-start.log" >&2
    exit 1
  }
}

throwaway_cleanup() {
  testenv/real-argocd.sh stop "$dir/argocd" >/dev/null 2>&1 || true
  testenv/real-kube.sh stop "$dir" >/dev/null 2>&1 || true
  rm -rf "$dir"
}
