#!/usr/bin/env bash
# `make argocd-extension-served`: the Drift tab as a real argocd-server (v3.5.7) serves it.
#
# argocd-server serves GET /extensions.js from the files under the fixed path /tmp/extensions/
# (server/server.go), where argocd-extension-installer unpacks an extension's archive. This script
# builds the tab's installer archive (`make ui`), unpacks it as the installer does, and starts a
# throwaway kube-apiserver + argocd-server whose /tmp/extensions is that directory: argocd-server
# runs in a private mount namespace (unshare --mount, root), so the machine's /tmp/extensions and
# other argocd-server instances are untouched (only an empty /tmp/extensions mount point is
# created if none exists). Then it checks what /extensions.js serves:
#   - 200, application/javascript; the bundle byte for byte, inside Argo CD's try/catch (3.5+);
#   - a symlink to the bundle is not served (argocd-server skips symlinks: an install that links
#     the file instead of copying it shows no tab);
#   - the served script, run with a stand-in for window.extensionsAPI (node), registers the Drift
#     tab on argoproj.io/Application (icon fa fa-code-branch) and the status-panel item, and logs
#     no error.
# It stops everything whatever happens. Not part of CI (needs unshare and mount as root).
set -euo pipefail
cd "$(dirname "$0")/.."

. testenv/throwaway.sh
throwaway_cluster extension-served
fail() {
  echo "argocd-extension-served: FAILED: $*" >&2
  exit 1
}

command -v unshare >/dev/null || fail "unshare (util-linux) is needed"
make --no-print-directory -s ui >/dev/null

# What argocd-extension-installer does with EXTENSION_URL: unpack the archive into /tmp/extensions.
ext=$dir/extensions
mkdir -p "$ext"
tar -xzf ui/dist/extension-drift.tar.gz -C "$ext"
bundle=$ext/resources/extension-drift.js/extensions-drift.js
[[ -f $bundle ]] || fail "the archive has no resources/extension-drift.js/extensions-drift.js"
ln -s resources/extension-drift.js/extensions-drift.js "$ext/extension-linked.js"

mkdir -p /tmp/extensions # the mount point (argocd-server's path is fixed)
mkdir -p "$dir/argocd"
unshare --mount --propagation private -- bash -c 'mount --bind "$1" /tmp/extensions && exec "$2" start "$3" "$4" http://127.0.0.1:9' \
  _ "$ext" "$PWD/testenv/real-argocd.sh" "$dir/argocd" "$dir/kubeconfig" >"$dir/argocd-start.log" 2>&1 || {
  cat "$dir/argocd-start.log" >&2
  exit 1
}
url=$(sed -n "s/^ARGOCD_URL=//p" "$dir/argocd/argocd.env" | tr -d "'")
version=$(sed -n "s/^ARGOCD_VERSION=//p" "$dir/argocd/argocd.env" | tr -d "'")

code=$(curl -sS -o "$dir/served.js" -D "$dir/served.headers" -w '%{http_code}' --max-time 10 "$url/extensions.js")
[[ $code == 200 ]] || fail "GET /extensions.js: HTTP $code"
echo "argocd-server $version GET /extensions.js: HTTP $code, $(wc -c <"$dir/served.js") bytes ($(wc -c <"$bundle") of them the bundle)"
tr -d '\r' <"$dir/served.headers" | grep -i '^content-type: application/javascript' >/dev/null || fail "content type: $(grep -i content-type "$dir/served.headers")"
echo "ok  Content-Type: application/javascript"
{ grep -F '// source: ' "$dir/served.js" || true; } | sed 's/^/    /'

node - "$dir/served.js" "$bundle" <<'JS'
const fs = require("fs");
const vm = require("vm");
const [served, bundle] = [fs.readFileSync(process.argv[2], "utf8"), fs.readFileSync(process.argv[3], "utf8")];
let failed = 0;
const check = (ok, what) => {
  console.log(`${ok ? "ok " : "FAILED"} ${what}`);
  if (!ok) failed++;
};
const sources = served.split("\n").filter((l) => l.startsWith("// source: "));
check(sources.length === 1 && sources[0].includes("extensions-drift.js"), "one file served: the archive's extensions-drift.js (the symlink extension-linked.js is skipped)");
const at = served.indexOf(bundle);
check(at > 0 && served.slice(0, at).trimEnd().endsWith("try {") && served.slice(at + bundle.length).includes("} catch(e) { console.error('Extension extensions-drift.js failed to load:', e); }"),
  "the bundle byte for byte, inside Argo CD's try { … } catch");
// Run what the browser would run, with a stand-in for Argo CD's window.extensionsAPI. React and
// the DOM are stand-ins too (a proxy that answers anything): registration renders nothing.
const any = () => new Proxy(function () {}, { get: (_, k) => (k === Symbol.toPrimitive ? () => "" : any()), apply: () => any(), construct: () => any() });
const calls = [];
const errors = [];
const window = {
  extensionsAPI: {
    registerResourceExtension: (c, group, kind, title, opts) => calls.push(["tab", group, kind, title, opts && opts.icon, typeof c]),
    registerStatusPanelExtension: (c, title, id, flyout) => calls.push(["statusPanel", title, id, typeof c, typeof flyout]),
  },
  React: any(),
  document: any(),
};
window.window = window;
const log = (...a) => errors.push(a.map(String).join(" "));
const context = { window, document: window.document, console: { error: log, warn: log, log() {} }, setTimeout, clearTimeout, MutationObserver: any() };
context.globalThis = context;
vm.runInNewContext(served, context);
check(JSON.stringify(calls[0]) === JSON.stringify(["tab", "argoproj.io", "Application", "Drift", "fa fa-code-branch", "function"]), `registers the Drift tab: ${JSON.stringify(calls[0])}`);
check(JSON.stringify(calls[1]) === JSON.stringify(["statusPanel", "Drift", "argocd-drift", "function", "function"]), `registers the status-panel item and its flyout: ${JSON.stringify(calls[1])}`);
check(errors.length === 0, `nothing logged as an error${errors.length ? ": " + errors.join("; ") : ""}`);
process.exit(failed ? 1 : 0);
JS
echo "argocd-extension-served: the tab as argocd-server $version serves it: all checks passed"
