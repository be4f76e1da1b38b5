#!/usr/bin/env node
// How many calls the tab makes through argocd-server: opens an app's page in headless Chromium
// (against a running `make demo`, or any argo-sim), counts the extension calls per route for a
// while, and prints them per minute. With the Drift tab open (panel item + tab) and with only the
// panel item showing (the Summary tab selected).
//
//   node ui/dev/count-calls.mjs [url of the app page] [seconds, default 60]
//   e.g. node ui/dev/count-calls.mjs http://127.0.0.1:8090/argo-cd/applications/argocd/payments-api 60

import { chromium } from "playwright-core";

const url = process.argv[2] ?? "http://127.0.0.1:8090/argo-cd/applications/argocd/payments-api";
const seconds = Number(process.argv[3] ?? 60);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});

async function count(tab) {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const calls = {};
  page.on("request", (r) => {
    const m = /\/extensions\/drift(\/api\/v1\/[a-z/]+)/.exec(r.url());
    if (m) calls[m[1]] = (calls[m[1]] ?? 0) + 1;
  });
  await page.goto(`${url}${url.includes("?") ? "&" : "?"}tab=${tab}`);
  await page.waitForFunction(() => window.__hostReady === true, null, { timeout: 30_000 });
  await page.waitForTimeout(seconds * 1000);
  await page.close();
  const perMinute = Object.fromEntries(Object.entries(calls).map(([k, v]) => [k, +((v * 60) / seconds).toFixed(1)]));
  const total = Object.values(perMinute).reduce((a, b) => a + b, 0);
  return { perMinute, total: +total.toFixed(1) };
}

const [tabOpen, panelOnly] = await Promise.all([count("extension-0"), count("summary")]);
console.log(JSON.stringify({ url, seconds, tabOpen, panelOnly }, null, 2));
await browser.close();
