// Evaluates a Grafana dashboard's Infinity queries on /status.json bodies, the way the Infinity
// data source does, with the same expression libraries: JSONata for the backend parser's root
// selector (npm `jsonata`), JSONPath for the row filters of dashboards written for the old
// gitops-status-server (npm `jsonpath-plus`).
//
//   node test/evaluate.mjs <input.json>
//
// input.json: {"dashboard": "<path>", "bodies": {"<panel id>": <the body its URL got>},
//              "legacy": <an unfiltered /status.json>}
// Panels on a Prometheus data source are skipped (promtool checks their PromQL).
// stdout:     {"panels": {"<panel id>": {"title", "columns": [<text>…], "rows": [[<value>…]…]}},
//              "legacy": {"rows": [<repo:server>…], "files": [<$join(files.name, ', ')>…]}}
//
// A query Infinity could not run the same way fails loudly: a column selector that is not a
// plain field name (the backend parser reads columns with gjson, not JSONata), a value whose type
// is not the column's, a root selector that does not yield rows.
import { readFileSync } from 'node:fs';
import jsonata from 'jsonata';
import { JSONPath } from 'jsonpath-plus';

const input = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const dashboard = JSON.parse(readFileSync(input.dashboard, 'utf8'));

function fail(message) {
  throw new Error(message);
}

// What Infinity makes of a root selector's result: rows.
function asRows(value, where) {
  if (value === undefined || value === null) return [];
  if (Array.isArray(value)) return value;
  if (typeof value === 'object') return [value];
  fail(`${where}: the root selector yields ${JSON.stringify(value)}, not rows`);
}

function checkType(value, type, where) {
  if (value === undefined || value === null) return;
  const ok = {
    string: () => typeof value === 'string',
    number: () => typeof value === 'number',
    boolean: () => typeof value === 'boolean',
    timestamp: () => typeof value === 'string' && !Number.isNaN(Date.parse(value)),
  }[type];
  if (!ok) fail(`${where}: unknown column type ${type}`);
  if (!ok()) fail(`${where}: ${JSON.stringify(value)} is not a ${type}`);
}

const panels = {};
for (const panel of dashboard.panels) {
  // Prometheus panels are checked by promtool (backend/tests/fleet_dashboard.rs).
  if (panel.datasource?.type === 'prometheus') continue;
  const body = input.bodies[String(panel.id)];
  if (body === undefined) fail(`no /status.json body for panel ${panel.id}`);
  for (const target of panel.targets) {
    const where = `panel ${panel.id} (${panel.title})`;
    if (target.datasource?.type !== 'yesoreyeram-infinity-datasource') fail(`${where}: not an Infinity query`);
    if (target.type !== 'json' || target.source !== 'url') fail(`${where}: not a JSON URL query`);
    if (target.parser !== 'backend') fail(`${where}: parser ${target.parser}, expected backend (JSONata)`);
    const value = target.root_selector
      ? await jsonata(target.root_selector).evaluate(body)
      : body;
    const rows = asRows(value, where);
    const columns = target.columns.map((c) => c.text);
    const out = rows.map((row) =>
      target.columns.map((c) => {
        if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(c.selector)) {
          fail(`${where}: column selector ${c.selector} is not a plain field name`);
        }
        const cell = row[c.selector];
        checkType(cell, c.type, `${where}, column ${c.text}`);
        return cell ?? null;
      }),
    );
    panels[panel.id] = { title: panel.title, columns, rows: out };
  }
}

// The old dashboards' queries, as the issue quotes them.
const legacyRows = JSONPath({ path: '$[?(@.drift_count > 0)]', json: input.legacy });
const joinFiles = jsonata("$join(files.name, ', ')");
const legacy = {
  rows: legacyRows.map((r) => `${r.repo}:${r.server}`),
  files: await Promise.all(legacyRows.map(async (r) => (await joinFiles.evaluate(r)) ?? null)),
};

process.stdout.write(JSON.stringify({ panels, legacy }));
