// Browser end-to-end tests of the Drift tab: headless Chromium (Debian's /usr/bin/chromium) driven
// by playwright-core, against the real backend in demo mode (scripts/demo.sh: the fake cluster
// with the demo's recorded drift) behind argo-sim, the Argo-CD-like proxy — once on a React 16
// host page and once on a React 19 host page. Screenshots go to ui/test-output/.
//
// Faults are made the way they happen in a cluster: argo-sim is told (test control) to point at
// a dead backend, to send a wrong or no shared secret, to drop the RBAC permission, or to have the
// proxy extension switched off; the backend and the browser are left alone.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync, existsSync } from "node:fs";
import { createServer } from "node:net";
import { dirname, join, resolve } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const ui = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const repo = resolve(ui, "..");
const out = join(ui, "test-output");
mkdirSync(out, { recursive: true });

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
// Without the networking flags Chromium keeps trying to reach Google's services.
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
    s.on("error", rej);
  });
}

async function waitFor(url, ms, alive = () => true) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (!alive()) throw new Error(`the demo exited before ${url} came up`);
    try {
      const r = await fetch(url);
      if (r.ok) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${url} did not come up within ${ms} ms`);
}

let demo;
let demoLog = "";
let base;
let browser;
const pageErrors = [];

const DEFAULT_CONFIG = {
  token: "demo-proxy-token-0123456789abcdef",
  proxyExtension: true,
  extensions: ["drift"],
  rbac: { applicationsGet: true, extensionsInvoke: ["drift"] },
};
let liveBackend;

async function sim(patch) {
  const r = await fetch(`${base}__sim/config`, { method: "POST", body: JSON.stringify(patch) });
  assert.equal(r.status, 200, "argo-sim test control");
}

before(async () => {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install -y chromium`);
  // Every port free (a second demo or another engineer's on the machine must not collide).
  const [api, service, reports, kube, uiPort] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()]);
  demo = spawn("scripts/demo.sh", [], {
    cwd: repo,
    env: {
      ...process.env,
      DEMO_PROFILE: process.env.DEMO_PROFILE ?? "debug",
      DEMO_API_PORT: String(api),
      DEMO_SERVICE_PORT: String(service),
      DEMO_REPORTS_PORT: String(reports),
      DEMO_KUBE_PORT: String(kube),
      DEMO_UI_PORT: String(uiPort),
      DEMO_UI: "1",
      DEMO_UI_TEST_CONTROL: "1",
      DEMO_DIR: "target/e2e-demo",
      LOG_LEVEL: "warn",
    },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  demo.stdout.on("data", (d) => (demoLog += d));
  demo.stderr.on("data", (d) => (demoLog += d));
  base = `http://127.0.0.1:${uiPort}/argo-cd/`;
  liveBackend = `http://127.0.0.1:${api}`;
  try {
    // The first run builds the backend (debug): minutes on a cold machine.
    await waitFor(`${base}healthz`, 15 * 60 * 1000, () => demo.exitCode === null);
  } catch (e) {
    console.error(demoLog);
    throw e;
  }
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
});

after(async () => {
  await browser?.close();
  if (demo && demo.exitCode === null) {
    process.kill(-demo.pid, "SIGINT");
    await new Promise((r) => demo.once("exit", r));
  }
});

async function openTab(react, { app = "argocd/payments-api", width = 1400, height = 1000, theme = "light" } = {}) {
  const context = await browser.newContext({ viewport: { width, height } });
  const page = await context.newPage();
  page.on("pageerror", (e) => pageErrors.push(`${react}: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error" && !/Failed to load resource/.test(m.text())) pageErrors.push(`${react}: console: ${m.text()}`);
  });
  await page.goto(`${base}applications/${app}?react=${react}&theme=${theme}`);
  await page.waitForFunction(() => window.__hostReady === true, null, { timeout: 30_000 });
  return { page, context };
}

/** What the backend says, through the same proxy, for the app: the figures the UI must show. */
async function backendDrift(page) {
  return page.evaluate(async () => {
    const r = await fetch("extensions/drift/api/v1/drift", {
      headers: { "Argocd-Application-Name": "argocd:payments-api", "Argocd-Project-Name": "team-payments" },
    });
    return r.json();
  });
}

const AXE = join(ui, "node_modules/axe-core/axe.min.js");

/** axe-core over the whole page: the violations a person with assistive technology meets first. */
async function seriousViolations(page) {
  await page.addScriptTag({ path: AXE });
  // The extension's own elements (the tab and the flyout are .drift-ext; the panel item); the
  // host page around them is a stand-in for Argo CD's.
  const result = await page.evaluate(() =>
    window.axe.run({ include: [[".drift-ext"], ["[data-testid=drift-panel]"]] }, { resultTypes: ["violations"] }),
  );
  return result.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(" ")).slice(0, 5).join(" | ")}`);
}

/**
 * Where the text of the given cells wraps, in the browser's own layout: every line break must
 * fall at a space, before `.` or `[`, or after `/` — never inside `containers[name=web]` or
 * `shop:1.4.2`. Returns the bad breaks and how many cells wrapped at all.
 */
async function lineBreaks(page, selector) {
  return page.evaluate((selector) => {
    const bad = [];
    let wrapped = 0;
    for (const cell of document.querySelectorAll(selector)) {
      const chars = [];
      const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
      for (let n = walker.nextNode(); n; n = walker.nextNode()) for (let i = 0; i < n.data.length; i++) chars.push([n, i]);
      const text = chars.map(([n, i]) => n.data[i]).join("");
      let top = null;
      let breaks = 0;
      chars.forEach(([node, i], k) => {
        const range = document.createRange();
        range.setStart(node, i);
        range.setEnd(node, i + 1);
        const rect = [...range.getClientRects()].find((r) => r.width > 0);
        if (!rect) return;
        if (top !== null && rect.top > top + 3) {
          breaks++;
          const here = text[k];
          const before = text[k - 1];
          if (!(/\s/.test(here) || /\s/.test(before) || here === "." || here === "[" || before === "/")) {
            bad.push(`${text.slice(Math.max(0, k - 20), k)}|${text.slice(k, k + 12)}`);
          }
        }
        top = rect.top;
      });
      if (breaks > 0) wrapped++;
    }
    return { bad, wrapped };
  }, selector);
}

/** A page on which the backend's drift answer is changed in the browser (for states the demo lacks). */
async function openWithDrift(react, change, { app = "argocd/payments-api", width = 1400 } = {}) {
  const context = await browser.newContext({ viewport: { width, height: 1000 } });
  const page = await context.newPage();
  page.on("pageerror", (e) => pageErrors.push(`${react}: ${e.message}`));
  await page.route(/\/extensions\/drift\/api\/v1\/drift(\?.*)?$/, async (route) => {
    const real = await (await route.fetch()).json();
    change(real);
    await route.fulfill({ json: real });
  });
  await page.goto(`${base}applications/${app}?react=${react}`);
  await page.waitForFunction(() => window.__hostReady === true, null, { timeout: 30_000 });
  return { page, context };
}

for (const react of [16, 19]) {
  describe(`React ${react} host`, () => {
    test("the page runs the host's React and the bundle registered the tab and the panel item", async () => {
      const { page, context } = await openTab(react);
      const version = await page.evaluate(() => window.React.version);
      assert.match(version, new RegExp(`^${react}\\.`));
      await page.getByRole("tab", { name: /Drift/ }).waitFor();
      await page.getByTestId("drift-panel").waitFor();
      await context.close();
    });

    test("the tab renders the drifted resources and, opened, each field with its field manager", async () => {
      const { page, context } = await openTab(react);
      await page.getByTestId("resources").waitFor();
      const drift = await backendDrift(page);
      assert.ok(drift.summary.resourcesDrifted > 0, "the demo app has drift");
      const rows = page.getByTestId("resource");
      const listed = drift.resources.filter((r) => ["liveChanged", "gitAhead", "missing", "extra", "notInspected"].includes(r.cause) || r.additions.length > 0);
      assert.equal(await rows.count(), listed.length);
      // Most recent change first, as the backend orders them.
      const first = drift.resources[0];
      assert.equal(await rows.first().getAttribute("data-resource"), `${first.kind} ${first.namespace}/${first.name}`);
      // Every manager behind a drifted field appears on its row.
      const managers = [...new Set(first.fields.map((f) => f.attribution?.manager).filter(Boolean))];
      assert.ok(managers.length > 0);
      const rowText = await rows.first().innerText();
      for (const m of managers) assert.ok(rowText.includes(m), `manager ${m} on the row: ${rowText}`);
      await rows.first().getByRole("button").first().click();
      await page.getByTestId("fields").first().waitFor();
      const fieldRows = page.getByTestId("field");
      assert.equal(await fieldRows.count(), first.fields.length);
      const table = await page.getByTestId("fields").first().innerText();
      for (const f of first.fields) {
        assert.ok(table.includes(f.path), `field ${f.path} shown`);
        if (f.attribution) assert.ok(table.includes(f.attribution.manager), `manager ${f.attribution.manager} shown`);
      }
      assert.match(table, /Field manager · last write/i);
      // The manager's class and operation are in its chip's tooltip, not in columns of their own.
      assert.equal(await page.getByTestId("fields").first().locator("th").count(), 4);
      const chip = page.getByTestId("fields").first().getByTestId("manager").first();
      assert.match(await chip.getAttribute("title"), /^field manager \S+: .+; (Update|Apply).*; that manager's last write /);
      assert.doesNotMatch(await page.getByTestId("drift-tab").innerText(), /user who changed/i);
      await page.getByTestId("diff").first().waitFor();
      const diff = await page.getByTestId("diff").first().innerText();
      assert.match(diff, /^[+-]/m, "the unified diff has changed lines");
      await page.screenshot({ path: join(out, `react${react}-tab.png`), fullPage: true });
      await context.close();
    });

    test("the status-panel badge shows the drifted resource count, and its flyout the worst fields", async () => {
      const { page, context } = await openTab(react);
      const drift = await backendDrift(page);
      const count = page.getByTestId("panel-count");
      await page.waitForFunction(() => /^\d+( · |$)/.test(document.querySelector("[data-testid=panel-count]")?.textContent ?? ""));
      const changed = drift.summary.byCause.liveChanged + drift.summary.byCause.missing + drift.summary.byCause.extra;
      assert.match(await count.innerText(), new RegExp(`^${changed} · \\d+ (s|min|h|d)$`));
      await page.getByTestId("drift-panel").click();
      await page.getByTestId("worst-fields").waitFor();
      const worst = await page.getByTestId("worst-fields").innerText();
      assert.match(worst, /by kubectl-\S+ · \d+ (min|h|d)/);
      assert.match(await page.getByTestId("worst-fields").locator(".drift-ext__chip").first().getAttribute("title"), /^field manager /);
      await page.screenshot({ path: join(out, `react${react}-flyout.png`) });
      await context.close();
    });

    test("with the tab closed, the status-panel item reads only /status: no live drift read", async () => {
      const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
      const page = await context.newPage();
      page.on("pageerror", (e) => pageErrors.push(`${react}: ${e.message}`));
      const calls = [];
      page.on("request", (r) => {
        const m = /\/extensions\/drift(\/api\/v1\/[a-z/]+)/.exec(r.url());
        if (m) calls.push(m[1]);
      });
      await page.goto(`${base}applications/argocd/payments-api?react=${react}&tab=summary`);
      await page.waitForFunction(() => window.__hostReady === true, null, { timeout: 30_000 });
      // The item shows the app drifted and for how long, from what the episode recorded.
      await page.waitForFunction(() => /^(\d+|…) · \d+ (s|min|h|d)$/.test(document.querySelector("[data-testid=panel-count]")?.textContent ?? ""));
      assert.ok(calls.includes("/api/v1/status"), calls.join(", "));
      assert.deepEqual(
        calls.filter((c) => c !== "/api/v1/status"),
        [],
        "the panel item alone reads no live object",
      );
      await context.close();
    });

    test("the tab's Refresh asks for one fresh read of the live objects; its polls do not", async () => {
      const { page, context } = await openTab(react);
      const drifts = [];
      page.on("request", (r) => {
        const m = /\/extensions\/drift\/api\/v1\/drift(\?[^#]*)?$/.exec(r.url());
        if (m) drifts.push(m[1] ?? "");
      });
      await page.getByTestId("resources").waitFor();
      const before = drifts.length;
      const fresh = page.waitForRequest(/\/api\/v1\/drift\?refresh=true$/, { timeout: 10_000 });
      await page.getByTestId("refresh").click();
      await fresh;
      assert.deepEqual(drifts.slice(before).filter((q) => q.includes("refresh")), ["?refresh=true"], drifts.join(", "));
      assert.ok(drifts.slice(0, before).every((q) => !q.includes("refresh")), drifts.join(", "));
      await context.close();
    });

    test("history and reports render", async () => {
      const { page, context } = await openTab(react);
      await page.getByTestId("timeline").waitFor();
      assert.ok((await page.getByTestId("episode-bar").count()) >= 1, "episodes drawn on the timeline");
      assert.ok((await page.getByTestId("episode").count()) >= 1, "episodes listed");
      assert.match(await page.getByTestId("history-totals").innerText(), /Mean time to resolve/i);
      await page.getByTestId("reports").waitFor();
      const reports = await page.getByTestId("report").count();
      assert.ok(reports >= 1, "reports listed");
      const text = await page.getByTestId("reports").innerText();
      assert.match(text, /Out of sync/);
      await page.getByTestId("history-section").screenshot({ path: join(out, `react${react}-history.png`) });
      await page.getByTestId("reports-section").screenshot({ path: join(out, `react${react}-reports.png`) });
      await context.close();
    });

    // The demo's drift has no Secret change and no ignore rule, so this test adds one of each to
    // the backend's real answer (in the browser, for this test only) to check how they render.
    test("Secret values show only as changed, and ignored differences sit behind a toggle", async () => {
      const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
      const page = await context.newPage();
      await page.route("**/extensions/drift/api/v1/drift", async (route) => {
        const real = await (await route.fetch()).json();
        const deployment = real.resources.find((r) => r.kind === "Deployment");
        deployment.ignored = [
          {
            pointer: "/spec/template/metadata/annotations/restartedAt",
            path: "spec.template.metadata.annotations.restartedAt",
            desired: null,
            live: "2026-11-29T10:00:00Z",
            rule: { origin: "app", source: "spec.ignoreDifferences[0]", kind: "jsonPointer", expression: "/spec/template/metadata/annotations" },
          },
        ];
        real.resources.push({
          group: "", version: "v1", kind: "Secret", namespace: "payments", name: "payments-db",
          argoStatus: "OutOfSync", argoHealth: null, requiresPruning: false, hook: false, cause: "liveChanged",
          notInspected: null, desiredSource: "lastApplied",
          fields: [{
            pointer: "/data/password", path: "data.password", change: "changed", desired: "++++++++", desiredKnown: true, live: "+++++++++++++",
            attribution: { manager: "kubectl-edit", operation: "Update", subresource: null, time: "2026-11-29T12:00:00Z", isArgoCd: false, managerClass: "interactive" },
          }],
          additions: [], ignored: [], problems: [], lastChangeAt: "2026-11-29T12:00:00Z", masked: true,
        });
        real.summary.resourcesDrifted += 1;
        real.summary.fieldsDrifted += 1;
        real.summary.byCause.liveChanged += 1;
        real.summary.ignoredDifferences += 1;
        await route.fulfill({ json: real });
      });
      await page.route(/\/drift\/resource\?.*kind=Secret/, (route) =>
        route.fulfill({
          json: {
            resource: null,
            desired: null,
            live: null,
            predictedLive: null,
            diff: '--- live\n+++ after a sync\n@@ -1,5 +1,5 @@\n {\n   "data": {\n-    "password": "+++++++++++++",\n+    "password": "++++++++",\n     "user": "++++"\n',
            managedFields: [],
          },
        }),
      );
      page.on("pageerror", (e) => pageErrors.push(`${react}: ${e.message}`));
      await page.goto(`${base}applications/argocd/payments-api?react=${react}`);
      const secret = page.locator('[data-resource="Secret payments/payments-db"]');
      await secret.waitFor();
      assert.match(await secret.innerText(), /values masked/);
      await secret.getByRole("button").first().click();
      await secret.getByTestId("field").waitFor();
      const row = await secret.getByTestId("field").innerText();
      assert.match(row, /masked; values differ/);
      assert.doesNotMatch(row, /\+\+\+/, "the mask is not shown as if it were a value");
      assert.match(row, /kubectl-edit/);
      // The diff shows the mask as a word: two runs of + of different lengths read like a length change.
      const diff = await secret.getByTestId("diff").innerText();
      assert.match(diff, /"password": ‹masked›,/);
      assert.doesNotMatch(diff, /\+{3,}"/);
      const deployment = page.locator('[data-resource="Deployment payments/payments-api"]');
      await deployment.getByRole("button").first().click();
      assert.equal(await deployment.getByTestId("ignored").count(), 0, "ignored differences start hidden");
      await deployment.getByTestId("toggle-ignored").check();
      const ignored = await deployment.getByTestId("ignored").innerText();
      assert.match(ignored, /spec\.template\.metadata\.annotations\.restartedAt/);
      assert.match(ignored, /spec\.ignoreDifferences\[0\]/);
      await page.screenshot({ path: join(out, `react${react}-secret-and-ignored.png`), fullPage: true });
      await context.close();
    });

    test("a failed refresh keeps the old data on screen with a banner", async () => {
      const { page, context } = await openTab(react);
      await page.getByTestId("resources").waitFor();
      const before = await page.getByTestId("resource").count();
      try {
        await sim({ backend: "http://127.0.0.1:9" });
        await page.getByRole("button", { name: /Refresh/ }).click();
        await page.getByTestId("refresh-banner").first().waitFor();
        const banner = await page.getByTestId("refresh-banner").first().innerText();
        // Every section refreshes; whichever failed first shows its banner.
        assert.match(banner, /Refreshing the (status|drift|history|reports) failed/);
        assert.match(banner, /cannot reach the argocd-drift backend/);
        assert.match(banner, /Showing the data from/);
        assert.equal(await page.getByTestId("resource").count(), before, "the old data stays");
        await page.screenshot({ path: join(out, `react${react}-refresh-failed.png`) });
      } finally {
        await sim({ backend: liveBackend });
      }
      // Recovery: the banner goes once a refresh succeeds.
      await page.getByRole("button", { name: /Refresh/ }).click();
      await page.getByTestId("refresh-banner").first().waitFor({ state: "detached" });
      await context.close();
    });


    test("the status-panel item is one line within a 1280 px page, in Argo CD's own typography", async () => {
      const { page, context } = await openTab(react, { width: 1280 });
      await page.waitForFunction(() => /^\d+ · /.test(document.querySelector("[data-testid=panel-count]")?.textContent ?? ""));
      const m = await page.evaluate(() => {
        const panel = document.querySelector("[data-testid=status-panel]");
        const item = document.querySelector("[data-testid=drift-panel]");
        const native = document.querySelector("[data-testid=native-item]");
        const style = (e) => (e ? ((s) => ({ size: s.fontSize, weight: s.fontWeight, family: s.fontFamily, color: s.color }))(getComputedStyle(e)) : null);
        const value = item.querySelector(".application-status-panel__item-value");
        return {
          visibleRight: panel.getBoundingClientRect().left + panel.clientWidth - panel.scrollLeft,
          right: item.getBoundingClientRect().right,
          width: item.getBoundingClientRect().width,
          valueHeight: value?.getBoundingClientRect().height,
          valueFont: parseFloat(value ? getComputedStyle(value).fontSize : "0"),
          title: style(item.querySelector("label")),
          nativeTitle: style(native.querySelector("label")),
          value: style(value),
          nativeValue: style(native.querySelector(".application-status-panel__item-value")),
          tooltip: item.getAttribute("title"),
          help: item.querySelector(".help-tip")?.getAttribute("aria-label"),
        };
      });
      assert.ok(m.right <= m.visibleRight, `the item ends at ${m.right} px, the panel shows up to ${m.visibleRight} px`);
      assert.ok(m.width <= 140, `compact: ${m.width} px wide`);
      assert.ok(m.valueHeight < 1.8 * m.valueFont, `one line: ${m.valueHeight} px high at ${m.valueFont} px`);
      // Argo CD's gray title (#6d7f8b) is below 4.5:1 on both themes: the colour is the text's own,
      // dimmed (axe checks it); size, weight and family are Argo CD's.
      assert.deepEqual({ ...m.title, color: null }, { ...m.nativeTitle, color: null }, "the title is styled as Argo CD's item titles");
      assert.deepEqual({ ...m.value, color: null }, { ...m.nativeValue, color: null }, "the value is sized as Argo CD's item values");
      assert.match(m.tooltip, /^\d+ resources? changed in the cluster for .+\(since \d{4}-\d\d-\d\d .+ UTC\).*Click for details\.$/);
      assert.ok(m.help && m.help.length > 40, "a help icon explains the item");
      await page.getByTestId("status-panel").screenshot({ path: join(out, `react${react}-status-panel-1280.png`) });
      await context.close();
    });

    test("at 1024 px, paths and values wrap only at . [ / (never mid-token)", async () => {
      const { page, context } = await openTab(react, { width: 1024 });
      await page.getByTestId("resource").first().getByRole("button").first().click();
      await page.getByTestId("fields").first().waitFor();
      const { bad, wrapped } = await lineBreaks(page, "[data-testid=field] td:nth-child(-n+3)");
      assert.deepEqual(bad, [], "no break inside a token");
      assert.ok(wrapped >= 1, "at 1024 px some path or value does wrap (the check ran on real breaks)");
      await page.getByTestId("fields").first().screenshot({ path: join(out, `react${react}-fields-1024.png`) });
      await context.close();
    });

    test("the header names the cluster and namespace the live objects were read from", async () => {
      const { page, context } = await openTab(react);
      await page.getByTestId("destination").waitFor();
      assert.equal(await page.getByTestId("destination").innerText(), "in-cluster / payments");
      await context.close();
    });

    test("the flyout links to the Drift tab, its key resolved among the other extensions' tabs", async () => {
      // Another extension, loaded after this one, registers an Application tab whose title sorts
      // first: the Drift tab becomes extension-1.
      await sim({
        extraExtensions: [
          {
            position: "after",
            source: 'window.extensionsAPI.registerResourceExtension(function () { return window.React.createElement("div", null, "alerts"); }, "argoproj.io", "*", "Alerts");',
          },
        ],
      });
      try {
        const { page, context } = await openTab(react, { width: 1280 });
        await page.getByTestId("drift-panel").click();
        await page.getByTestId("tab-link").first().waitFor();
        const href = await page.getByTestId("tab-link").first().getAttribute("href");
        const url = new URL(href, base);
        assert.equal(url.searchParams.get("node"), "argoproj.io/Application/argocd/payments-api/0");
        assert.equal(url.searchParams.get("tab"), "extension-1");
        // The flyout's header keeps clear of the host's close button.
        const overlaps = await page.evaluate(() => {
          const close = document.querySelector("[data-testid=flyout-close]").getBoundingClientRect();
          return [...document.querySelectorAll("[data-testid=flyout-head] > *")]
            .map((e) => [e.textContent, e.getBoundingClientRect()])
            .filter(([, r]) => r.left < close.right && r.right > close.left && r.top < close.bottom && r.bottom > close.top)
            .map(([t]) => t);
        });
        assert.deepEqual(overlaps, [], "nothing under the close button");
        await page.getByTestId("flyout").screenshot({ path: join(out, `react${react}-flyout.png`) });
        await page.getByTestId("tab-link").first().click();
        await page.waitForFunction(() => window.__hostReady === true && document.querySelector("[data-testid=drift-tab]"));
        assert.equal((await page.getByRole("tab", { selected: true }).innerText()).trim(), "DRIFT");
        assert.equal(await page.getByTestId("flyout").count(), 0);
        await context.close();
      } finally {
        await sim({ extraExtensions: [] });
      }
    });

    test("an extension loaded before this one is unseen, so the link uses the key the tab was shown with", async () => {
      await sim({
        extraExtensions: [
          {
            position: "before",
            source: 'window.extensionsAPI.registerResourceExtension(function () { return window.React.createElement("div", null, "alerts"); }, "argoproj.io", "Application", "Alerts");',
          },
        ],
      });
      try {
        const context = await browser.newContext({ viewport: { width: 1280, height: 1000 } });
        const page = await context.newPage();
        await page.goto(`${base}applications/argocd/payments-api?react=${react}&node=argoproj.io/Application/argocd/payments-api/0&tab=extension-1`);
        await page.getByTestId("drift-tab").waitFor();
        await page.getByTestId("drift-panel").click();
        const href = await page.getByTestId("tab-link").first().getAttribute("href");
        assert.equal(new URL(href, base).searchParams.get("tab"), "extension-1");
        await context.close();
      } finally {
        await sim({ extraExtensions: [] });
      }
    });

    test("a render error inside the tab is caught by its boundary and shown as the diagnosis", async () => {
      const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
      const page = await context.newPage();
      const uncaught = [];
      page.on("pageerror", (e) => uncaught.push(e.message));
      // A backend answer of another shape (a version mismatch): rendering it throws.
      let broken = true;
      await page.route(/\/extensions\/drift\/api\/v1\/drift$/, async (route) => {
        if (!broken) return route.continue();
        await route.fulfill({ json: { summary: { all: false }, resources: "not a list" } });
      });
      await page.goto(`${base}applications/argocd/payments-api?react=${react}`);
      await page.getByTestId("diagnosis-title").waitFor();
      assert.equal(await page.getByTestId("diagnosis-title").innerText(), "The tab failed");
      assert.match(await page.getByTestId("diagnosis-raw").innerText(), /./);
      // Argo CD's page around it is intact: its status panel and tabs still render.
      assert.ok((await page.getByTestId("native-item").count()) >= 2);
      assert.equal((await page.getByRole("tab", { selected: true }).innerText()).trim(), "DRIFT");
      await page.getByTestId("drift-tab").screenshot({ path: join(out, `react${react}-boundary.png`) });
      // Retry asks the backend again; a good answer renders.
      broken = false;
      await page.getByRole("button", { name: /Retry now/ }).click();
      await page.getByTestId("resources").waitFor();
      assert.deepEqual(uncaught, [], "nothing reached the page as an uncaught error");
      await context.close();
    });

    test("a Git-ahead resource is explained, not shown as \"no difference\", nor counted as changed in the cluster", async () => {
      const { page, context } = await openWithDrift(react, (d) => {
        const cm = d.resources.find((r) => r.kind === "ConfigMap");
        // Git moved; nobody wrote to the object since the last sync.
        cm.cause = "gitAhead";
        for (const f of cm.fields) f.attribution = null;
        cm.lastChangeAt = null;
        d.summary.byCause.liveChanged -= 1;
        d.summary.byCause.gitAhead += 1;
        d.summary.fieldsDrifted -= cm.fields.length;
      });
      const cm = page.locator('[data-resource="ConfigMap payments/payments-config"]');
      await cm.waitFor();
      const counts = await page.getByTestId("drift-counts").innerText();
      assert.match(counts, /^1 resource changed live, 2 fields · 1 resource changed in Git only/);
      await page.waitForFunction(() => /^1 · /.test(document.querySelector("[data-testid=panel-count]")?.textContent ?? ""));
      assert.match(await cm.getByTestId("cause").innerText(), /Git moved ahead/);
      await cm.getByRole("button").first().click();
      const text = await cm.getByTestId("git-ahead").innerText();
      assert.match(text, /still matches the last sync; the change is in Git/);
      assert.match(text, /Argo CD's DIFF tab/);
      assert.match(text, /data\.LOG_LEVEL/, "the paths the backend knows are named");
      assert.doesNotMatch(await cm.innerText(), /No textual difference/);
      assert.equal(await cm.getByTestId("diff").count(), 0);
      await page.screenshot({ path: join(out, `react${react}-git-ahead.png`) });
      await context.close();
    });

    test("additions outside Git are listed by default, counted in the summary", async () => {
      const { page, context } = await openWithDrift(react, (d) => {
        // A Synced resource whose only change is a label someone added by hand.
        d.resources.push({
          group: "", version: "v1", kind: "Service", namespace: "payments", name: "payments-api",
          argoStatus: "Synced", argoHealth: null, requiresPruning: false, hook: false, cause: "none",
          notInspected: null, desiredSource: "lastApplied", fields: [], ignored: [], problems: [],
          additions: [{
            pointer: "/metadata/labels/debug", path: "metadata.labels.debug", live: "true",
            attribution: { manager: "kubectl-edit", operation: "Update", subresource: null, time: "2026-11-29T12:00:00Z", isArgoCd: false, managerClass: "interactive" },
          }],
          lastChangeAt: "2026-11-29T12:00:00Z", masked: false,
        });
        d.summary.additions += 1;
        d.summary.byCause.none += 1;
      });
      const svc = page.locator('[data-resource="Service payments/payments-api"]');
      await svc.waitFor();
      assert.match(await page.getByTestId("additions-count").innerText(), /^1 addition outside Git$/);
      assert.match(await svc.getByTestId("cause").innerText(), /1 addition outside Git/);
      await svc.getByRole("button").first().click();
      assert.match(await svc.getByTestId("addition").innerText(), /metadata\.labels\.debug = true by kubectl-edit/);
      await context.close();
    });

    test("the timeline labels days, keeps short episodes visible, and draws nothing without episodes", async () => {
      const { page, context } = await openTab(react, { app: "argocd/guestbook" });
      await page.getByTestId("timeline-chart").waitFor();
      const labels = await page.getByTestId("tick").allInnerTexts();
      assert.ok(labels.length >= 2, `day labels: ${labels}`);
      for (const l of labels) assert.match(l, /^[A-Z][a-z]{2} \d{1,2}$/);
      // guestbook's episodes lasted under a minute, days ago: each is still a bar a person sees.
      const widths = await page.getByTestId("episode-bar").evaluateAll((bars) => bars.map((b) => b.getBoundingClientRect().width));
      assert.ok(widths.length >= 1);
      for (const w of widths) assert.ok(w >= 6, `bar ${w} px wide`);
      await context.close();
      const empty = await openTab(react, { app: "argocd/monitoring" });
      await empty.page.getByTestId("no-episodes").waitFor();
      assert.equal(await empty.page.getByTestId("timeline-chart").count(), 0);
      assert.equal(await empty.page.locator(".drift-ext__legend").count(), 0);
      await empty.context.close();
    });

    test("report file diffs are coloured like resource diffs", async () => {
      const { page, context } = await openTab(react);
      await page.getByTestId("reports").waitFor();
      await page.getByTestId("report").first().locator("summary").first().click();
      const lines = page.getByTestId("report-diff").first().locator("div");
      const classes = await lines.evaluateAll((ls) => ls.map((l) => l.className));
      assert.ok(classes.includes("add") || classes.includes("del"), `coloured lines: ${classes}`);
      await context.close();
    });

    test("accessibility: axe-core finds no serious violation in the tab, the panel item or the flyout", async () => {
      const { page, context } = await openTab(react);
      await page.getByTestId("resource").first().getByRole("button").first().click();
      await page.getByTestId("diff").first().waitFor();
      await page.getByTestId("timeline-chart").waitFor();
      assert.deepEqual(await seriousViolations(page), [], "tab");
      await page.getByTestId("drift-panel").click();
      await page.getByTestId("worst-fields").waitFor();
      assert.deepEqual(await seriousViolations(page), [], "flyout");
      await context.close();
      const dark = await openTab(react, { theme: "dark" });
      await dark.page.getByTestId("resources").waitFor();
      assert.deepEqual(await seriousViolations(dark.page), [], "dark theme");
      await dark.context.close();
    });

    const cases = [
      ["backend down", { backend: "http://127.0.0.1:9" }, /cannot reach the argocd-drift backend/, /get pods,svc,endpoints/],
      ["wrong shared secret", { token: "not-the-token-0123456789" }, /shared secret does not match/, /PROXY_TOKEN/],
      ["no shared secret", { token: null }, /does not send the shared secret/, /name: Authorization/],
      ["missing RBAC", { rbac: { applicationsGet: true, extensionsInvoke: [] } }, /Argo CD refused the extension call/, /extensions, invoke, drift, allow/],
      ["proxy extension off", { proxyExtension: false }, /does not route calls to the "drift" extension/, /server\.enable\.proxy\.extension: "true"/],
      ["extension not configured", { extensions: [], rbac: { applicationsGet: true, extensionsInvoke: ["*"] } }, /does not route calls to the "drift" extension/, /extension\.config\.drift:/],
    ];
    for (const [name, patch, title, config] of cases) {
      test(`diagnosis: ${name}`, async () => {
        await sim({ ...DEFAULT_CONFIG, backend: liveBackend, ...patch });
        try {
          const { page, context } = await openTab(react);
          await page.getByTestId("diagnosis-title").first().waitFor();
          assert.match(await page.getByTestId("diagnosis-title").first().innerText(), title);
          assert.match(await page.getByTestId("diagnosis").first().innerText(), config);
          if (name === "backend down") assert.deepEqual(await seriousViolations(page), [], "the diagnosis");
          if (react === 19 || name === "wrong shared secret") {
            await page.getByTestId("drift-tab").screenshot({ path: join(out, `react${react}-diagnosis-${name.replace(/ /g, "-")}.png`) });
          }
          await context.close();
        } finally {
          await sim({ ...DEFAULT_CONFIG, backend: liveBackend });
        }
      });
    }
  });
}

test("dark theme at a narrow width stays readable (screenshot)", async () => {
  const { page, context } = await openTab(19, { width: 420, height: 900, theme: "dark" });
  await page.getByTestId("resources").waitFor();
  await page.screenshot({ path: join(out, "react19-dark-narrow-top.png") });
  await page.getByTestId("resource").first().getByRole("button").first().click();
  await page.getByTestId("fields").first().waitFor();
  await page.getByTestId("diff").first().waitFor();
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 1, `no horizontal page scroll at 420 px (overflow ${overflow} px)`);
  await page.getByTestId("fields").first().scrollIntoViewIfNeeded();
  await page.screenshot({ path: join(out, "react19-dark-narrow-fields.png") });
  await page.screenshot({ path: join(out, "react19-dark-narrow-full.png"), fullPage: true });
  await context.close();
});

test("no page errors on either host", () => {
  assert.deepEqual(pageErrors, []);
});
