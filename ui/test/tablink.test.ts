import assert from "node:assert/strict";
import { test } from "node:test";
import { eventsHref, recordShownTab, tabHref, tabKeyFrom } from "../src/tabLink";

const app = { namespace: "argocd", name: "payments-api", project: "team-payments" };
const mine = { group: "argoproj.io", kind: "Application", title: "Drift", mine: true };

test("the tab's key is its place among the Application tabs sorted by title", () => {
  assert.equal(tabKeyFrom([mine]), "extension-0");
  // Tabs for other kinds do not count; a title sorting before "Drift" does, one after does not.
  assert.equal(
    tabKeyFrom([
      { group: "apps", kind: "Deployment", title: "Alerts", mine: false },
      mine,
      { group: "argoproj.io", kind: "Application", title: "Zebra", mine: false },
    ]),
    "extension-0",
  );
  assert.equal(tabKeyFrom([mine, { group: "*", kind: "*", title: "Alerts", mine: false }]), "extension-1", "a glob matches Applications");
  // Equal titles keep their registration order (Argo CD's sort is stable).
  assert.equal(tabKeyFrom([{ group: "argoproj.io", kind: "Application", title: "Drift", mine: false }, mine]), "extension-1");
  assert.equal(tabKeyFrom([mine, { group: "argoproj.io", kind: "Application", title: "Drift", mine: false }]), "extension-0");
});

test("the link keeps the page and sets the Application node and the tab", () => {
  const href = tabHref(app, "https://argocd.example/argo-cd/applications/argocd/payments-api?view=tree&tab=summary", "extension-2");
  const url = new URL(href, "https://argocd.example");
  assert.equal(url.pathname, "/argo-cd/applications/argocd/payments-api");
  assert.equal(url.searchParams.get("node"), "argoproj.io/Application/argocd/payments-api/0");
  assert.equal(url.searchParams.get("tab"), "extension-2");
  assert.equal(url.searchParams.get("view"), "tree");
});

test("the Events link opens Argo CD's Events tab of the Application itself", () => {
  const href = eventsHref(app, "https://argocd.example/argo-cd/applications/argocd/payments-api?view=tree&tab=extension-0");
  const url = new URL(href, "https://argocd.example");
  assert.equal(url.pathname, "/argo-cd/applications/argocd/payments-api");
  assert.equal(url.searchParams.get("node"), "argoproj.io/Application/argocd/payments-api/0");
  assert.equal(url.searchParams.get("tab"), "events");
});

test("the key the tab was shown with is remembered for this browser; other tab keys are not", () => {
  const stored = new Map<string, string>();
  const storage = { setItem: (k: string, v: string) => void stored.set(k, v) };
  recordShownTab("?node=x&tab=summary", storage);
  assert.equal(stored.size, 0);
  recordShownTab("?node=argoproj.io/Application/argocd/payments-api/0&tab=extension-3", storage);
  assert.deepEqual([...stored.values()], ["extension-3"]);
});
