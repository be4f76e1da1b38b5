// The UI's builds, one esbuild call each (no config files):
//   node build.mjs bundle   dist/extension-drift.js — the extension (minified, React from window.React)
//   node build.mjs hosts    .build/host/host-react{16,19}.js — the Argo-CD-like test/demo host pages
//   node build.mjs unit     .build/unit/*.test.mjs — the unit tests, for node --test
//   node build.mjs all      all three
import * as esbuild from "esbuild";
import { readdirSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const at = (...p) => join(here, ...p);

// `import * as React from "react"` in the bundle means the host's React. esbuild's --external
// would leave a bare require() in an IIFE, so resolve "react" to a one-line module instead.
const hostReact = {
  name: "host-react",
  setup(build) {
    build.onResolve({ filter: /^react$/ }, () => ({ path: "react", namespace: "host-react" }));
    // An ES module (not `module.exports = window.React`): no CommonJS interop helpers in the
    // bundle, and each API is a plain binding. An API used but not listed here is a build error.
    build.onLoad({ filter: /.*/, namespace: "host-react" }, () => ({
      contents: `const R = window.React; export const { ${HOST_REACT_API.join(", ")} } = R;`,
      loader: "js",
    }));
  },
};

/** What the bundle uses of the host's React (React 16.8+ and 19 have all of it). */
const HOST_REACT_API = ["createElement", "Fragment", "Component", "useState", "useEffect", "useRef", "useCallback", "useMemo"];

/**
 * The budget: Argo CD loads every extension on every page. (60 KiB until the panel item took its
 * counts from `/status` and the poll store learned to watch without calling: +0.7 KB.)
 */
const MAX_BUNDLE_BYTES = 61 * 1024;

// JSX becomes __h(...) from src/jsx.ts (React.createElement under a short name: see that file).
// (tsconfig.json says React.createElement for tsc; esbuild would take it from there, so not read.)
const jsx = { jsx: "transform", jsxFactory: "__h", jsxFragment: "__Fragment", inject: [at("src/jsx.ts")], tsconfigRaw: "{}" };

async function bundle() {
  const result = await esbuild.build({
    entryPoints: [at("src/index.tsx")],
    outfile: at("dist/extension-drift.js"),
    absWorkingDir: here,
    bundle: true,
    format: "iife",
    // ES2020: optional chaining and `??` native (every browser that runs Argo CD 2.x+ has them).
    target: ["es2020"],
    minify: true,
    legalComments: "none",
    metafile: true,
    plugins: [hostReact],
    banner: { js: "/* argocd-drift UI extension: the Drift tab. Uses the host's window.React. */" },
    ...jsx,
  });
  const missing = result.warnings.filter((w) => w.text.includes("will always be undefined"));
  if (missing.length) throw new Error(`add to HOST_REACT_API: ${missing.map((w) => w.text).join("; ")}`);
  const size = statSync(at("dist/extension-drift.js")).size;
  console.log(`dist/extension-drift.js: ${size} bytes (${(size / 1024).toFixed(1)} KiB) minified`);
  if (size > MAX_BUNDLE_BYTES) throw new Error(`the bundle grew past ${MAX_BUNDLE_BYTES} bytes: keep the tab light`);
  const react = Object.keys(result.metafile.inputs).filter((p) => p.includes("node_modules/react"));
  if (react.length) throw new Error(`React must not be bundled, found ${react.join(", ")}`);
}

// The host pages bundle the React they host (React 19 has no UMD build): the same host source,
// once with react@16 and once with react@19 (npm aliases react-19 / react-dom-19).
async function hosts() {
  for (const [name, alias] of [
    ["host-react16", {}],
    ["host-react19", { react: "react-19", "react-dom": "react-dom-19" }],
  ]) {
    await esbuild.build({
      entryPoints: [at(`host/${name === "host-react19" ? "host19" : "host16"}.tsx`)],
      outfile: at(`.build/host/${name}.js`),
      absWorkingDir: here,
      bundle: true,
      format: "iife",
      target: ["es2019"],
      minify: true,
      alias,
      define: { "process.env.NODE_ENV": '"production"' },
      ...jsx,
      logLevel: "warning",
    });
  }
  console.log(".build/host/host-react16.js, .build/host/host-react19.js");
}

async function unit() {
  const tests = readdirSync(at("test")).filter((f) => f.endsWith(".test.ts") || f.endsWith(".test.tsx"));
  await esbuild.build({
    entryPoints: tests.map((f) => at("test", f)),
    outdir: at(".build/unit"),
    outExtension: { ".js": ".mjs" },
    entryNames: "[name]",
    absWorkingDir: here,
    bundle: true,
    platform: "node",
    format: "esm",
    target: ["node20"],
    packages: "external",
    ...jsx,
    logLevel: "warning",
  });
}

const what = process.argv[2] ?? "all";
if (what === "bundle" || what === "all") await bundle();
if (what === "hosts" || what === "all") await hosts();
if (what === "unit" || what === "all") await unit();
