// A page that hosts UI extensions the way Argo CD does (ARGOCD.md §2), for the demo and the
// browser tests: it sets window.React / window.ReactDOM, offers window.extensionsAPI, loads
// `<base href>extensions.js`, reads the Application from `<base href>api/v1/applications/<name>`
// and renders the registered status-panel items (with their flyouts) and resource tabs. It is a
// stand-in for Argo CD's application page, not a copy of it.

import * as React from "react";

type Any = Record<string, unknown>;
type Comp = (props: Any) => React.ReactElement | null;

interface TabExt {
  component: Comp;
  group: string;
  kind: string;
  title: string;
  icon?: string;
}
interface PanelExt {
  component: Comp;
  title: string;
  id: string;
  flyout?: Comp;
}

const tabs: TabExt[] = [];
const panels: PanelExt[] = [];

declare global {
  interface Window {
    ReactDOM?: unknown;
    __hostReady?: boolean;
    __hostReact?: number;
  }
}

function glob(pattern: string, value: string): boolean {
  const re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*")}$`);
  return re.test(value);
}

interface AppObject {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace: string };
  spec: { project?: string; destination?: { server?: string; name?: string; namespace?: string } };
  status?: {
    sync?: { status?: string; revision?: string };
    health?: { status?: string };
    operationState?: { phase?: string; finishedAt?: string };
  };
}

const COLORS: Record<string, string> = {
  Synced: "#18be94",
  OutOfSync: "#f4c030",
  Healthy: "#18be94",
  Degraded: "#e96d76",
  Progressing: "#0dadea",
  Missing: "#f4c030",
};

function BuiltinItem(props: { title: string; value: string; icon: string }) {
  return (
    <div className="application-status-panel__item">
      <div className="host-item-title">{props.title}</div>
      <div className="host-item-value" style={{ color: COLORS[props.value] ?? "#8fa4b1" }}>
        <i className={props.icon} /> {props.value}
      </div>
    </div>
  );
}

function Page(props: { app: AppObject; reactVersion: number }) {
  const { app } = props;
  const params = new URLSearchParams(window.location.search);
  const [flyout, setFlyout] = React.useState<string | null>(null);
  const myTabs = tabs.filter((t) => glob(t.group, "argoproj.io") && glob(t.kind, "Application"));
  const wanted = params.get("tab");
  const initial = Math.max(0, myTabs.findIndex((t) => t.title.toLowerCase() === (wanted ?? "drift").toLowerCase()));
  const [tab, setTab] = React.useState<number>(myTabs.length ? initial + 1 : 0);
  const tree = { nodes: [] };
  const open = panels.find((p) => p.id === flyout);
  return (
    <div className="host-page">
      <div className="host-topbar">
        <i className="fa fa-layer-group" /> Applications / <b>{app.metadata.name}</b>
        <span className="host-topbar__right">
          demo host · React {props.reactVersion} ({React.version}) · <a href={hostLink({ theme: params.get("theme") === "dark" ? "light" : "dark" })}>{params.get("theme") === "dark" ? "light" : "dark"} theme</a> ·{" "}
          <a href={hostLink({ react: props.reactVersion === 19 ? "16" : "19" })}>React {props.reactVersion === 19 ? 16 : 19} host</a>
        </span>
      </div>
      <div className="application-status-panel" data-testid="status-panel">
        <BuiltinItem title="App health" value={app.status?.health?.status ?? "Unknown"} icon="fa fa-heart" />
        <BuiltinItem title="Sync status" value={app.status?.sync?.status ?? "Unknown"} icon="fa fa-sync" />
        {panels.map((p) => (
          <p.component key={p.id} application={app} openFlyout={() => setFlyout(p.id)} />
        ))}
      </div>
      <div className="white-box host-details">
        <div className="host-tabs" role="tablist">
          {["Summary", ...myTabs.map((t) => t.title)].map((title, i) => (
            <button key={title} role="tab" aria-selected={tab === i} className={tab === i ? "host-tab host-tab--active" : "host-tab"} onClick={() => setTab(i)}>
              {i > 0 && myTabs[i - 1].icon ? <i className={myTabs[i - 1].icon} /> : null} {title}
            </button>
          ))}
        </div>
        <div className="host-tab-body">
          {tab === 0 ? (
            <pre className="host-summary">{JSON.stringify({ metadata: app.metadata, spec: app.spec }, null, 2)}</pre>
          ) : (
            React.createElement(myTabs[tab - 1].component, { resource: app, tree, application: app })
          )}
        </div>
      </div>
      {open && open.flyout && (
        <div className="host-flyout" data-testid="flyout">
          <div className="host-flyout__head">
            <b>{open.title}</b>
            <button className="argo-button argo-button--base" onClick={() => setFlyout(null)} aria-label="close">
              <i className="fa fa-times" />
            </button>
          </div>
          {React.createElement(open.flyout, { application: app, tree })}
        </div>
      )}
    </div>
  );
}

function hostLink(change: Record<string, string>): string {
  const params = new URLSearchParams(window.location.search);
  for (const [k, v] of Object.entries(change)) params.set(k, v);
  return `${window.location.pathname}?${params.toString()}`;
}

function loadScript(src: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = document.createElement("script");
    s.src = src;
    s.onload = () => resolve();
    s.onerror = () => reject(new Error(`could not load ${src}`));
    document.head.appendChild(s);
  });
}

/** `<base href>applications/<namespace>/<name>` → the app named in the path. */
function appFromPath(): { namespace: string; name: string } {
  const base = new URL(document.baseURI).pathname;
  const rest = window.location.pathname.startsWith(base) ? window.location.pathname.slice(base.length) : "";
  const m = /^applications\/([^/]+)\/([^/]+)/.exec(rest);
  return m ? { namespace: decodeURIComponent(m[1]), name: decodeURIComponent(m[2]) } : { namespace: "argocd", name: "payments-api" };
}

export function boot(
  react: unknown,
  reactDom: unknown,
  reactVersion: number,
  render: (el: React.ReactElement, container: Element) => void,
): void {
  const w = window as unknown as Any;
  w.React = react;
  w.ReactDOM = reactDom;
  window.__hostReact = reactVersion;
  w.extensionsAPI = {
    registerResourceExtension(component: Comp, group: string, kind: string, title: string, opts?: { icon?: string }) {
      tabs.push({ component, group, kind, title, icon: opts?.icon });
    },
    registerStatusPanelExtension(component: Comp, title: string, id: string, flyout?: Comp) {
      panels.push({ component, title, id, flyout });
    },
    registerAppViewExtension() {},
    registerSystemLevelExtension() {},
    registerTopBarActionMenuExt() {},
  };
  const container = document.getElementById("app");
  if (!container) return;
  const { namespace, name } = appFromPath();
  const fail = (message: string) => {
    container.innerHTML = "";
    const div = document.createElement("div");
    div.className = "host-error";
    div.textContent = message;
    container.appendChild(div);
  };
  loadScript(new URL("extensions.js", document.baseURI).toString())
    .then(() => fetch(new URL(`api/v1/applications/${encodeURIComponent(name)}?appNamespace=${encodeURIComponent(namespace)}`, document.baseURI).toString()))
    .then(async (res) => {
      if (!res.ok) throw new Error(`GET application ${namespace}/${name}: ${res.status} ${await res.text()}`);
      return (await res.json()) as AppObject;
    })
    .then((app) => {
      render(<Page app={app} reactVersion={reactVersion} />, container);
      window.__hostReady = true;
    })
    .catch((e: unknown) => fail(e instanceof Error ? e.message : String(e)));
}
