import assert from "node:assert/strict";
import { test } from "node:test";
import { ApiError } from "../src/api";
import { diagnose } from "../src/diagnose";
import type { ErrorCode } from "../src/types";

const app = { namespace: "argocd", name: "payments-api", project: "team-payments" };
const http = (status: number, code: ErrorCode | null, detail = "") => new ApiError("http", status, code, detail, "/api/v1/status");
const configOf = (d: ReturnType<typeof diagnose>) => d.checks.map((c) => c.config ?? "").join("\n");

test("the backend's two credential codes tell a missing secret from a wrong one", () => {
  const missing = diagnose(http(401, "MISSING_CREDENTIALS"), app);
  assert.match(missing.title, /does not send the shared secret/);
  assert.match(configOf(missing), /extension\.config\.drift:/);
  assert.match(configOf(missing), /name: Authorization/);
  const wrong = diagnose(http(401, "INVALID_CREDENTIALS"), app);
  assert.match(wrong.title, /shared secret does not match/);
  assert.match(configOf(wrong), /PROXY_TOKEN/);
  assert.notEqual(missing.title, wrong.title);
});

test("Argo CD's bare 401 points at the RBAC line for this app's project", () => {
  const d = diagnose(http(401, null, "Unauthorized extension request"), app);
  assert.match(d.title, /Argo CD refused/);
  assert.match(configOf(d), /p, role:<your-role>, extensions, invoke, drift, allow/);
  assert.match(configOf(d), /applications, get, team-payments\/payments-api, allow/);
});

test("502 and network errors say the backend or Argo CD is unreachable, and are transient", () => {
  const bad = diagnose(http(502, null), app);
  assert.match(bad.title, /cannot reach the argocd-drift backend/);
  assert.equal(bad.transient, true);
  assert.match(configOf(bad), /get pods,svc,endpoints/);
  const net = diagnose(new ApiError("network", 0, null, "Failed to fetch", "/api/v1/status"), app);
  assert.match(net.title, /No answer from Argo CD/);
});

test("a web page instead of JSON points at proxy extensions and path rewrites", () => {
  const d = diagnose(new ApiError("notJson", 200, null, "text/html: <!doctype html>", "/api/v1/status"), app);
  assert.match(d.title, /web page, not the backend/);
  assert.match(configOf(d), /server\.enable\.proxy\.extension: "true"/);
});

test("404s: Argo CD's (no such extension) differ from the backend's (app, namespace, route)", () => {
  const argo404 = diagnose(http(404, null, "404 page not found"), app);
  assert.match(argo404.title, /does not route calls to the "drift" extension/);
  assert.match(configOf(argo404), /server\.enable\.proxy\.extension: "true"/);
  assert.match(configOf(argo404), /extension\.config\.drift:/);
  assert.match(diagnose(http(404, "APP_NAMESPACE_NOT_WATCHED"), app).title, /does not watch the namespace argocd/);
  assert.match(configOf(diagnose(http(404, "APP_NAMESPACE_NOT_WATCHED"), app)), /ARGOCD_NAMESPACES/);
  assert.match(diagnose(http(404, "ROUTE_NOT_FOUND"), app).title, /does not serve this view/);
  assert.match(diagnose(http(404, "APP_NOT_FOUND"), app).title, /does not know this Application/);
});

test("503 NOT_READY is a starting backend, with its RBAC check", () => {
  const d = diagnose(http(503, "NOT_READY", "waiting for the first list of applications"), app);
  assert.match(d.title, /starting/);
  assert.equal(d.transient, true);
  assert.match(configOf(d), /kubectl auth can-i list applications\.argoproj\.io/);
});

test("every diagnosis carries the raw answer for a support ticket", () => {
  const d = diagnose(http(401, "INVALID_CREDENTIALS", "the proxy secret is wrong"), app);
  assert.equal(d.raw, "GET /api/v1/status → 401 INVALID_CREDENTIALS (argocd-drift): the proxy secret is wrong");
  assert.equal(diagnose(new Error("boom"), app).raw, "boom");
});

test("commands name the install once, at the top, where a different release is substituted", () => {
  for (const d of [
    diagnose(http(502, null), app),
    diagnose(new ApiError("timeout", 0, null, "no answer", "/api/v1/status"), app),
    diagnose(http(503, "NOT_READY", "waiting"), app),
    diagnose(http(401, "INVALID_CREDENTIALS"), app),
  ]) {
    const config = configOf(d);
    assert.match(config, /^NS=argocd-drift DEPLOY=argocd-drift$/m, d.title);
    assert.match(config, /the Helm release's/, d.title);
    // Every command reads the names from there: none is written into a command.
    for (const line of config.split("\n").filter((l) => l.startsWith("kubectl"))) {
      assert.doesNotMatch(line, /-n argocd-drift|deploy\/argocd-drift|serviceaccount:argocd-drift/, line);
    }
  }
  assert.match(configOf(diagnose(http(503, "NOT_READY", "waiting"), app)), /--as "system:serviceaccount:\$NS:\$SA"/);
});

test("a failure inside the tab itself (a render error) needs no app to be diagnosed", () => {
  const d = diagnose(new TypeError("Cannot read properties of undefined (reading 'byCause')"), null);
  assert.equal(d.title, "The tab failed");
  assert.match(d.raw, /byCause/);
  assert.match(diagnose(http(404, "APP_NAMESPACE_NOT_WATCHED"), null).title, /does not watch the namespace of this Application/);
});
