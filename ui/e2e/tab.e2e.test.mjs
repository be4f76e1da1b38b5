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
  const [api, service, kube, uiPort] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  demo = spawn("scripts/demo.sh", [], {
    cwd: repo,
    env: {
      ...process.env,
      DEMO_PROFILE: process.env.DEMO_PROFILE ?? "debug",
      DEMO_API_PORT: String(api),
      DEMO_SERVICE_PORT: String(service),
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
      assert.equal(await rows.count(), drift.resources.filter((r) => ["liveChanged", "gitAhead", "missing", "extra", "notInspected"].includes(r.cause)).length);
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
      assert.match(table, /That manager's last write/i, "the time is labelled as the manager's last write");
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
      await page.waitForFunction(() => /^\d+$/.test(document.querySelector("[data-testid=panel-count]")?.textContent ?? ""));
      assert.equal(await count.innerText(), String(drift.summary.resourcesDrifted));
      await page.getByTestId("drift-panel").click();
      await page.getByTestId("worst-fields").waitFor();
      const worst = await page.getByTestId("worst-fields").innerText();
      assert.match(worst, /field manager/);
      await page.screenshot({ path: join(out, `react${react}-flyout.png`) });
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
      page.on("pageerror", (e) => pageErrors.push(`${react}: ${e.message}`));
      await page.goto(`${base}applications/argocd/payments-api?react=${react}`);
      const secret = page.locator('[data-resource="Secret payments/payments-db"]');
      await secret.waitFor();
      assert.match(await secret.innerText(), /values hidden/);
      await secret.getByRole("button").first().click();
      await secret.getByTestId("field").waitFor();
      const row = await secret.getByTestId("field").innerText();
      assert.match(row, /hidden · changed/);
      assert.doesNotMatch(row, /\+\+\+/, "the mask is not shown as if it were a value");
      assert.match(row, /kubectl-edit/);
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
