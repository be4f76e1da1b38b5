import assert from "node:assert/strict";
import { test } from "node:test";
import { ApiError, appRefOf, argoHeaders, extensionRoot, getDrift, getJson, getResourceDetail, getStatus, routeUrl } from "../src/api";
import { askFresh, pollKey, takeFresh } from "../src/components/DriftTab";

const app = { namespace: "argocd", name: "payments-api", project: "team-payments" };

interface Call {
  url: string;
  init: RequestInit;
}

function fakeFetch(answer: (url: string) => Response | Promise<Response>) {
  const calls: Call[] = [];
  const fetch = async (url: string, init: RequestInit) => {
    calls.push({ url, init });
    return answer(url);
  };
  return { calls, fetch };
}

const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });

test("URLs are built under the page's <base href>, so Argo CD may be served under a path", () => {
  assert.equal(extensionRoot("https://cd.example.com/"), "https://cd.example.com/extensions/drift/");
  assert.equal(extensionRoot("https://cd.example.com/argo-cd/"), "https://cd.example.com/argo-cd/extensions/drift/");
  assert.equal(routeUrl("/api/v1/status", {}, "https://cd.example.com/argo-cd/"), "https://cd.example.com/argo-cd/extensions/drift/api/v1/status");
  assert.equal(
    routeUrl("/api/v1/drift", { all: "true", skip: null, empty: "" }, "https://cd.example.com/a/b/"),
    "https://cd.example.com/a/b/extensions/drift/api/v1/drift?all=true",
  );
});

test("every call sends the two Argo CD headers, same-origin credentials and no cache", async () => {
  const f = fakeFetch(() => json({ ok: true }));
  await getStatus(app, undefined, { baseHref: "http://h/argo-cd/", fetch: f.fetch });
  assert.equal(f.calls.length, 1);
  assert.equal(f.calls[0].url, "http://h/argo-cd/extensions/drift/api/v1/status");
  const headers = f.calls[0].init.headers as Record<string, string>;
  assert.equal(headers["Argocd-Application-Name"], "argocd:payments-api");
  assert.equal(headers["Argocd-Project-Name"], "team-payments");
  assert.equal(f.calls[0].init.credentials, "same-origin");
  assert.equal(f.calls[0].init.cache, "no-store");
  assert.ok(f.calls[0].init.signal, "each call has its own AbortSignal");
});

test("an empty project is Argo CD's default project", () => {
  assert.equal(argoHeaders({ ...app, project: "" })["Argocd-Project-Name"], "default");
  assert.deepEqual(appRefOf({ metadata: { namespace: "team-apps", name: "analytics" }, spec: {} }), {
    namespace: "team-apps",
    name: "analytics",
    project: "default",
  });
  assert.equal(appRefOf({ metadata: { name: "x" } }), null);
});

test("drift asks for all resources only when told to; the resource route sends empty group and namespace", async () => {
  const f = fakeFetch(() => json({}));
  const opts = { baseHref: "http://h/", fetch: f.fetch };
  await getDrift(app, {}, undefined, opts);
  await getDrift(app, { all: true }, undefined, opts);
  await getResourceDetail(app, { group: "", version: "v1", kind: "ConfigMap", namespace: "payments", name: "cfg" }, undefined, opts);
  assert.equal(f.calls[0].url, "http://h/extensions/drift/api/v1/drift");
  assert.equal(f.calls[1].url, "http://h/extensions/drift/api/v1/drift?all=true");
  assert.equal(f.calls[2].url, "http://h/extensions/drift/api/v1/drift/resource?group=&version=v1&kind=ConfigMap&namespace=payments&name=cfg");
});

test("the backend's error JSON gives its code; Argo CD's plain answers give none", async () => {
  const backend = fakeFetch(() => json({ status: "error", code: "INVALID_CREDENTIALS", message: "bad secret" }, 401));
  await assert.rejects(getStatus(app, undefined, { baseHref: "http://h/", fetch: backend.fetch }), (e: unknown) => {
    assert.ok(e instanceof ApiError);
    assert.equal(e.kind, "http");
    assert.equal(e.status, 401);
    assert.equal(e.code, "INVALID_CREDENTIALS");
    assert.equal(e.fromBackend, true);
    assert.equal(e.route, "/api/v1/status");
    return true;
  });
  const argo = fakeFetch(() => new Response("Unauthorized extension request", { status: 401 }));
  await assert.rejects(getStatus(app, undefined, { baseHref: "http://h/", fetch: argo.fetch }), (e: unknown) => {
    assert.ok(e instanceof ApiError);
    assert.equal(e.code, null);
    assert.equal(e.detail, "Unauthorized extension request");
    return true;
  });
  const empty502 = fakeFetch(() => new Response("", { status: 502 }));
  await assert.rejects(getStatus(app, undefined, { baseHref: "http://h/", fetch: empty502.fetch }), (e: unknown) => e instanceof ApiError && e.status === 502 && e.code === null);
});

test("a 200 that is not JSON (Argo CD's own page) is an error, not data", async () => {
  const f = fakeFetch(() => new Response("<!doctype html><html>…", { status: 200, headers: { "Content-Type": "text/html" } }));
  await assert.rejects(getStatus(app, undefined, { baseHref: "http://h/", fetch: f.fetch }), (e: unknown) => e instanceof ApiError && e.kind === "notJson");
});

test("a network failure is reported as such", async () => {
  const f = fakeFetch(() => Promise.reject(new TypeError("Failed to fetch")));
  await assert.rejects(getStatus(app, undefined, { baseHref: "http://h/", fetch: f.fetch }), (e: unknown) => e instanceof ApiError && e.kind === "network" && e.status === 0);
});

/** A fetch that answers only when its signal aborts (like a hung proxy). */
function hangingFetch() {
  return (_url: string, init: RequestInit) =>
    new Promise<Response>((_resolve, reject) => {
      if (init.signal?.aborted) reject(Object.assign(new Error("aborted"), { name: "AbortError" }));
      init.signal?.addEventListener("abort", () => reject(Object.assign(new Error("aborted"), { name: "AbortError" })));
    });
}

test("the caller's abort ends the call with an AbortError, not an ApiError", async () => {
  const controller = new AbortController();
  const p = getJson(app, "/api/v1/status", {}, controller.signal, { baseHref: "http://h/", fetch: hangingFetch() });
  controller.abort();
  await assert.rejects(p, (e: unknown) => (e as Error).name === "AbortError" && !(e instanceof ApiError));
});

test("an already aborted signal never waits", async () => {
  const controller = new AbortController();
  controller.abort();
  await assert.rejects(getJson(app, "/api/v1/status", {}, controller.signal, { baseHref: "http://h/", fetch: hangingFetch() }), (e: unknown) => (e as Error).name === "AbortError");
});

test("a call that hangs past the timeout is aborted and reported as a timeout", async () => {
  await assert.rejects(getJson(app, "/api/v1/status", {}, undefined, { baseHref: "http://h/", fetch: hangingFetch(), timeoutMs: 20 }), (e: unknown) => e instanceof ApiError && e.kind === "timeout");
});

test("the Refresh button's call asks for a fresh read once; polls read the backend's cache", async () => {
  const f = fakeFetch(() => json({}));
  const opts = { baseHref: "http://h/", fetch: f.fetch };
  const key = pollKey("drift", app);
  // What useDrift's fetcher does on each call of the shared poller.
  const poll = () => getDrift(app, { refresh: takeFresh(key) }, undefined, opts);
  await poll();
  askFresh(key);
  await poll();
  await poll();
  assert.deepEqual(
    f.calls.map((c) => c.url),
    ["http://h/extensions/drift/api/v1/drift", "http://h/extensions/drift/api/v1/drift?refresh=true", "http://h/extensions/drift/api/v1/drift"],
  );
  // Another app's key is not refreshed.
  askFresh(pollKey("drift", { ...app, name: "other" }));
  assert.equal(takeFresh(key), false);
});
