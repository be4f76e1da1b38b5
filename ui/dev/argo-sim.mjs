#!/usr/bin/env node
// argo-sim: a small stand-in for argocd-server, for the demo and the browser tests. It serves a
// page that hosts UI extensions the way Argo CD does, and proxies `/extensions/drift/...` to the
// backend the way Argo CD's proxy extension does (ARGOCD.md §1):
//
//   - a session cookie (`argocd.token`) is required (400 without), and dropped before forwarding,
//     together with any Authorization header the browser sent;
//   - Argocd-Application-Name and Argocd-Project-Name are required and checked against the
//     Application read from the cluster (401 "Unauthorized extension request" on any mismatch,
//     as Argo CD answers every authorization failure);
//   - RBAC `extensions, invoke, drift` and `applications, get` (401 when either is missing);
//   - the identity headers Argo CD sets (Argocd-Namespace, Argocd-Username, Argocd-User-Id,
//     Argocd-User-Groups, Argocd-Target-Cluster-Name / -URL from spec.destination), then the
//     configured headers (the shared secret as `Authorization: Bearer <token>`);
//   - path mapping `<root>/extensions/drift/api/v1/x?q` → `<backend>/api/v1/x?q`;
//   - backend unreachable → 502 with an empty body; proxy extension disabled → what argocd-server's
//     UI handler answers an unknown path: index.html if the request accepts text/html, else 404.
//
// No dependencies beyond Node's standard library. Options (flags or env):
//   --listen 127.0.0.1:8090 (SIM_LISTEN)   --root /argo-cd/ (SIM_ROOT)
//   --backend http://127.0.0.1:8080 (SIM_BACKEND)   --token <secret> (SIM_TOKEN)
//   --kubeconfig target/demo/kubeconfig (SIM_KUBECONFIG)   --test-control (SIM_TEST_CONTROL=1)
//   --extensions-dir ui/dist (SIM_EXTENSIONS_DIR)
// With --test-control, `POST <root>__sim/config` merges JSON into the live config (tests switch
// the secret, RBAC, backend or proxy-extension flag without restarting).

import { createServer, request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { readFileSync, readdirSync, statSync, existsSync } from "node:fs";
import { dirname, join, extname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ui = resolve(dirname(fileURLToPath(import.meta.url)), "..");

function option(name, env, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  if (i >= 0) return process.argv[i + 1] ?? "";
  return process.env[env] ?? fallback;
}
const flag = (name, env) => process.argv.includes(`--${name}`) || process.env[env] === "1";

let root = option("root", "SIM_ROOT", "/argo-cd/");
if (!root.startsWith("/")) root = `/${root}`;
if (!root.endsWith("/")) root = `${root}/`;
const listen = option("listen", "SIM_LISTEN", "127.0.0.1:8090");
const testControl = flag("test-control", "SIM_TEST_CONTROL");
const extensionsDir = resolve(option("extensions-dir", "SIM_EXTENSIONS_DIR", join(ui, "dist")));

/** What can change at run time (tests). */
const config = {
  backend: option("backend", "SIM_BACKEND", "http://127.0.0.1:8080"),
  /** The shared secret Argo CD adds from extension.config.drift; null adds no Authorization. */
  token: option("token", "SIM_TOKEN", "demo-proxy-token-0123456789abcdef"),
  /** server.enable.proxy.extension */
  proxyExtension: true,
  /** Extensions configured in argocd-cm (extension.config.<name>). */
  extensions: ["drift"],
  /** The demo user's permissions. */
  rbac: { applicationsGet: true, extensionsInvoke: ["drift"] },
  user: { name: "demo@example.com", id: "demo", groups: ["demo-team"] },
  /** Argo CD's control-plane namespace (Argocd-Namespace). */
  namespace: "argocd",
  /**
   * Other extensions' code served with ours (tests): `{position: "before" | "after", source}`,
   * as another installed extension's file sorts before or after this one's.
   */
  extraExtensions: [],
};

// === the cluster: read Applications with the kubeconfig's server, CA and token ===

function readKubeconfig(path) {
  const text = readFileSync(path, "utf8");
  const pick = (key) => {
    const m = new RegExp(`^\\s*${key}:\\s*"?([^"\\n]+)"?\\s*$`, "m").exec(text);
    return m ? m[1].trim() : null;
  };
  const server = pick("server");
  if (!server) throw new Error(`${path}: no cluster server`);
  const ca = pick("certificate-authority-data");
  return { server, ca: ca ? Buffer.from(ca, "base64").toString("utf8") : undefined, token: pick("token") };
}

const kubeconfigPath = option("kubeconfig", "SIM_KUBECONFIG", resolve(ui, "../target/demo/kubeconfig"));
let kube = null;
function cluster() {
  if (!kube) kube = readKubeconfig(kubeconfigPath);
  return kube;
}

function kubeGet(path) {
  const k = cluster();
  const url = new URL(path, k.server);
  const send = url.protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise((resolvePromise, reject) => {
    const req = send(
      url,
      { method: "GET", ca: k.ca, headers: { Accept: "application/json", ...(k.token ? { Authorization: `Bearer ${k.token}` } : {}) }, timeout: 5000 },
      (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () => resolvePromise({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
      },
    );
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
    req.end();
  });
}

async function getApplication(namespace, name) {
  const r = await kubeGet(`/apis/argoproj.io/v1alpha1/namespaces/${encodeURIComponent(namespace)}/applications/${encodeURIComponent(name)}`);
  if (r.status === 404) return null;
  if (r.status !== 200) throw new Error(`cluster answered ${r.status}`);
  return JSON.parse(r.body);
}

// === responses ===

function send(res, status, body, type = "text/plain; charset=utf-8", extra = {}) {
  res.writeHead(status, { "Content-Type": type, "Cache-Control": "no-store", ...extra });
  res.end(body);
}

const MIME = { ".js": "text/javascript", ".css": "text/css", ".woff2": "font/woff2", ".ttf": "font/ttf", ".svg": "image/svg+xml", ".html": "text/html" };

function sendFile(res, path) {
  if (!existsSync(path) || !statSync(path).isFile()) return send(res, 404, "not found");
  send(res, 200, readFileSync(path), MIME[extname(path)] ?? "application/octet-stream");
}

function hostPage(req, res) {
  const url = new URL(req.url, "http://x");
  const react = url.searchParams.get("react") === "16" ? "16" : "19";
  const theme = url.searchParams.get("theme") === "dark" ? "dark" : "light";
  const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<base href="${root}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Argo CD (argocd-drift demo host)</title>
<link rel="stylesheet" href="assets/fontawesome/css/all.min.css">
<link rel="stylesheet" href="assets/host.css">
</head>
<body><div class="theme-${theme}"><div id="app">Loading…</div></div>
<script src="assets/host-react${react}.js"></script>
</body>
</html>`;
  // A session cookie, as Argo CD's login leaves one; the proxy below requires it and drops it.
  send(res, 200, html, "text/html; charset=utf-8", { "Set-Cookie": "argocd.token=demo-session; Path=/; HttpOnly; SameSite=Strict" });
}

/** Argo CD's /extensions.js: every extension*.js under the extensions folder, each guarded. */
function extensionsJs(res) {
  const files = [];
  const walk = (dir) => {
    if (!existsSync(dir)) return;
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (/^extension(.*)\.js$/.test(name)) files.push(p);
    }
  };
  walk(extensionsDir);
  const guard = (name, code) => `try {\n${code}\n} catch (e) { console.error("extension ${name} failed", e); }`;
  const extra = (position) => config.extraExtensions.filter((x) => x.position === position).map((x, i) => guard(`extra-${position}-${i}`, x.source));
  const body = [...extra("before"), ...files.map((f) => guard(f.slice(extensionsDir.length + 1), readFileSync(f, "utf8"))), ...extra("after")].join("\n");
  send(res, 200, body, "text/javascript");
}

function cookie(req, name) {
  for (const part of (req.headers.cookie ?? "").split(";")) {
    const [k, ...v] = part.trim().split("=");
    if (k === name) return v.join("=");
  }
  return null;
}

const unauthorized = (res) => send(res, 401, "Unauthorized extension request");

async function proxyExtension(req, res, name, rest) {
  if (!cookie(req, "argocd.token")) return send(res, 400, "invalid session: no argocd.token cookie");
  const appHeader = req.headers["argocd-application-name"];
  const project = req.headers["argocd-project-name"];
  if (typeof appHeader !== "string" || typeof project !== "string") return send(res, 400, "invalid headers: Argocd-Application-Name and Argocd-Project-Name are required");
  const m = /^([^:]+):(.+)$/.exec(appHeader);
  if (!m) return send(res, 400, "invalid header Argocd-Application-Name: expected namespace:name");
  const [, appNs, appName] = m;
  // RBAC before anything about the extension itself (as Argo CD: an unknown extension without
  // permission for it is a 401 too).
  if (!config.rbac.applicationsGet || !config.rbac.extensionsInvoke.some((e) => e === "*" || e === name)) return unauthorized(res);
  if (!config.extensions.includes(name)) return send(res, 404, `extension not found: ${name}`);
  let app;
  try {
    app = await getApplication(appNs, appName);
  } catch (e) {
    return send(res, 500, `error getting application: ${e.message}`);
  }
  if (!app || (app.spec?.project || "default") !== project) return unauthorized(res);

  const headers = {};
  for (const [k, v] of Object.entries(req.headers)) {
    if (["cookie", "authorization", "host", "connection"].includes(k)) continue;
    headers[k] = v;
  }
  headers["argocd-namespace"] = config.namespace;
  if (config.user.name) headers["argocd-username"] = config.user.name;
  if (config.user.id) headers["argocd-user-id"] = config.user.id;
  if (config.user.groups.length) headers["argocd-user-groups"] = config.user.groups.join(",");
  const dest = app.spec?.destination ?? {};
  if (dest.name) headers["argocd-target-cluster-name"] = dest.name;
  if (dest.server) headers["argocd-target-cluster-url"] = dest.server;
  const xff = req.headers["x-forwarded-for"];
  headers["x-forwarded-for"] = xff ? `${xff}, ${req.socket.remoteAddress}` : req.socket.remoteAddress;
  if (config.token !== null && config.token !== "") headers["authorization"] = `Bearer ${config.token}`;

  const target = new URL(rest, config.backend);
  const upstream = httpRequest(target, { method: req.method, headers, timeout: 30000 }, (up) => {
    const out = { ...up.headers };
    delete out["set-cookie"];
    res.writeHead(up.statusCode ?? 502, out);
    up.pipe(res);
  });
  upstream.on("timeout", () => upstream.destroy(new Error("timeout")));
  upstream.on("error", () => {
    // Go's ReverseProxy: 502 with an empty body.
    if (!res.headersSent) {
      res.writeHead(502);
      res.end();
    } else res.destroy();
  });
  req.pipe(upstream);
}

async function handle(req, res) {
  const url = new URL(req.url ?? "/", "http://x");
  const path = url.pathname;
  if (path === "/" || path === root.slice(0, -1)) return send(res, 302, "", "text/plain", { Location: `${root}applications/argocd/payments-api` });
  if (!path.startsWith(root)) return send(res, 404, "not found");
  const rel = path.slice(root.length);

  if (rel === "__sim/config" && testControl) {
    if (req.method === "POST") {
      const chunks = [];
      for await (const c of req) chunks.push(c);
      Object.assign(config, JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}"));
    }
    return send(res, 200, JSON.stringify(config), "application/json");
  }
  if (rel === "healthz") return send(res, 200, "ok");
  if (rel === "extensions.js") return extensionsJs(res);
  if (rel.startsWith("assets/fontawesome/")) {
    const file = resolve(ui, "node_modules/@fortawesome/fontawesome-free", rel.slice("assets/fontawesome/".length));
    if (!file.startsWith(resolve(ui, "node_modules/@fortawesome/fontawesome-free"))) return send(res, 404, "not found");
    return sendFile(res, file);
  }
  if (rel === "assets/host.css") return sendFile(res, join(ui, "host/host.css"));
  const hostJs = /^assets\/(host-react(16|19)\.js)$/.exec(rel);
  if (hostJs) return sendFile(res, join(ui, ".build/host", hostJs[1]));

  const apiApp = /^api\/v1\/applications\/([^/]+)$/.exec(rel);
  if (apiApp && req.method === "GET") {
    if (!cookie(req, "argocd.token")) return send(res, 401, JSON.stringify({ error: "no session" }), "application/json");
    const ns = url.searchParams.get("appNamespace") || config.namespace;
    try {
      const app = await getApplication(ns, decodeURIComponent(apiApp[1]));
      return app ? send(res, 200, JSON.stringify(app), "application/json") : send(res, 404, JSON.stringify({ error: "application not found" }), "application/json");
    } catch (e) {
      return send(res, 502, JSON.stringify({ error: String(e.message) }), "application/json");
    }
  }

  const ext = /^extensions\/([^/]+)(\/.*)?$/.exec(rel);
  if (ext && config.proxyExtension) return proxyExtension(req, res, ext[1], `${ext[2] ?? "/"}${url.search}`);

  // Everything else is the UI: argocd-server answers index.html when the request accepts
  // text/html (the HTML5 history fallback), and its file server's 404 otherwise — so a fetch of
  // /extensions/... with proxy extensions off gets a plain 404.
  const acceptsHtml = (req.headers.accept ?? "").split(",").some((t) => t.trim() === "text/html" || t.trim() === "html");
  if (!acceptsHtml || (req.method !== "GET" && req.method !== "HEAD")) return send(res, 404, "404 page not found\n");
  return hostPage(req, res);
}

const [host, port] = listen.includes(":") ? [listen.slice(0, listen.lastIndexOf(":")), Number(listen.slice(listen.lastIndexOf(":") + 1))] : ["127.0.0.1", Number(listen)];
const server = createServer((req, res) => {
  handle(req, res).catch((e) => {
    if (!res.headersSent) send(res, 500, String(e?.stack ?? e));
    else res.destroy();
  });
});
server.listen(port, host, () => {
  const a = server.address();
  console.log(`argo-sim listening on http://${a.address}:${a.port}${root} (backend ${config.backend})`);
});
const stop = () => server.close(() => process.exit(0));
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
