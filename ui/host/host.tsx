// A page that hosts UI extensions the way Argo CD does (ARGOCD.md §2), for the demo and the
// browser tests: it sets window.React / window.ReactDOM, offers window.extensionsAPI, loads
// `<base href>extensions.js`, reads the Application from `<base href>api/v1/applications/<name>`
// and renders the registered status-panel items (with their flyouts) and resource tabs. It is a
// stand-in for Argo CD's application page, not a copy of it, but it keeps the rules an extension
// meets there (read from Argo CD 3.5's application-status-panel and resource-details):
//   - the status panel is one row that never wraps (`overflow-x: auto`); Argo CD's own items come
//     first, with their title style (12 px, semi-bold, gray, a help icon) and their big values,
//     their text rows as wide as Argo CD's responsive widths; extension items come last;
//   - an Application's resource tabs are keyed `extension-<n>`, n the place among the tabs
//     registered for Applications sorted by title; `?node=argoproj.io/Application/<ns>/<name>/0&
//     tab=extension-<n>` opens one;
//   - a flyout is a sliding panel with only a close button, in its top right corner, over the
//     extension's content;
//   - a left navigation bar takes 60 px of the page's width.

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
  spec: {
    project?: string;
    destination?: { server?: string; name?: string; namespace?: string };
    source?: { repoURL?: string; targetRevision?: string };
    syncPolicy?: { automated?: unknown };
  };
  status?: {
    sync?: { status?: string; revision?: string };
    health?: { status?: string; message?: string };
    conditions?: Array<{ type: string }>;
    operationState?: { phase?: string; finishedAt?: string; syncResult?: { revision?: string } };
  };
}

const COLORS: Record<string, string> = {
  Synced: "#18be94",
  OutOfSync: "#f4c030",
  Healthy: "#18be94",
  Degraded: "#e96d76",
  Progressing: "#0dadea",
  Missing: "#f4c030",
  Succeeded: "#18be94",
  Failed: "#e96d76",
};

/** Argo CD's section label: title, then a help icon. */
function SectionLabel(props: { title: string; help: string }) {
  return (
    <label className="host-item-title" style={{ display: "flex", alignItems: "flex-start", fontSize: 12, fontWeight: 600, color: "#6d7f8b", minHeight: 18 }}>
      {props.title}
      <span style={{ marginLeft: 5 }} className="help-tip" title={props.help}>
        <i className="fa fa-question-circle" aria-hidden="true" />
      </span>
    </label>
  );
}

/** Argo CD's revision metadata under a revision: label and value rows. */
function RevisionRows(props: { rows: Array<[string, string]> }) {
  return (
    <div className="application-status-panel__item-name">
      {props.rows.map(([k, v]) => (
        <div key={k} className="application-status-panel__item__row">
          <div>{k}</div>
          <div>{v}</div>
        </div>
      ))}
    </div>
  );
}

function BuiltinItem(props: { title: string; help: string; value: string; icon: string; revision?: string; rows?: Array<string>; commit?: Array<[string, string]> }) {
  return (
    <div className="application-status-panel__item" data-testid="native-item">
      <SectionLabel title={props.title} help={props.help} />
      <div className="application-status-panel__item-value" style={{ color: COLORS[props.value] ?? "#8fa4b1" }} data-testid="native-value">
        <i className={props.icon} aria-hidden="true" />
        &nbsp;{props.value}
        {props.revision && <div className="application-status-panel__item-value__revision">{props.revision}</div>}
      </div>
      {(props.rows ?? []).map((r, i) => (
        <div key={i} className="application-status-panel__item-name">
          {r}
        </div>
      ))}
      {props.commit && <RevisionRows rows={props.commit} />}
    </div>
  );
}

function ago(iso: string | undefined): string {
  if (!iso) return "";
  const h = Math.round((Date.now() - Date.parse(iso)) / 3600_000);
  return h < 1 ? "less than an hour ago" : h < 48 ? `${h} hours ago` : `${Math.round(h / 24)} days ago`;
}

/** Argo CD's own status-panel items for this app (their content shaped like Argo CD's). */
function NativeItems(props: { app: AppObject }) {
  const { app } = props;
  const rev = (app.status?.sync?.revision ?? "").slice(0, 7);
  const op = app.status?.operationState;
  const target = app.spec.source?.targetRevision ?? "HEAD";
  const sync = app.status?.sync?.status ?? "Unknown";
  // The commit's metadata Argo CD shows under a revision (the demo has no Git server: a stand-in).
  const commit: Array<[string, string]> = [
    ["Author:", "Jane Doe <jane.doe@example.com>"],
    ["Comment:", "Bump payments-api to 1.4.2 and raise the HPA's ceiling for the sale"],
  ];
  const conditions = app.status?.conditions ?? [];
  return (
    <>
      <BuiltinItem title="APP HEALTH" help="The health status of your app" value={app.status?.health?.status ?? "Unknown"} icon="fa fa-heart" rows={app.status?.health?.message ? [app.status.health.message] : []} />
      <BuiltinItem
        title="SYNC STATUS"
        help="Whether or not the version of your app is up to date with your repo. You may wish to sync your app if it is out-of-sync."
        value={sync}
        icon={sync === "Synced" ? "fa fa-check-circle" : "fa fa-arrow-alt-circle-up"}
        revision={`${sync === "Synced" ? "to" : "from"} ${target} (${rev})`}
        rows={[app.spec.syncPolicy?.automated ? "Auto sync is enabled." : "Auto sync is not enabled."]}
        commit={commit}
      />
      {op && (
        <BuiltinItem
          title="LAST SYNC"
          help="Whether or not your last app sync was successful. Click for the status of that sync."
          value={op.phase === "Succeeded" ? "Sync OK" : (op.phase ?? "Unknown")}
          icon={op.phase === "Succeeded" ? "fa fa-check-circle" : "fa fa-times-circle"}
          revision={`to ${(op.syncResult?.revision ?? "").slice(0, 7)}`}
          rows={[`${op.phase ?? ""} ${ago(op.finishedAt)} (${op.finishedAt ? new Date(op.finishedAt).toString().slice(0, 24) : ""})`]}
          commit={commit}
        />
      )}
      {conditions.length > 0 && <BuiltinItem title="APP CONDITIONS" help="Conditions of the app" value={`${conditions.length} Warning${conditions.length === 1 ? "" : "s"}`} icon="fa fa-exclamation-triangle" />}
    </>
  );
}

/** The app's resource tabs as Argo CD keys them: `extension-<n>` in title order. */
function appTabs(): Array<TabExt & { key: string }> {
  return tabs
    .filter((t) => glob(t.group, "argoproj.io") && glob(t.kind, "Application"))
    .slice()
    .sort((a, b) => a.title.localeCompare(b.title))
    .map((t, i) => ({ ...t, key: `extension-${i}` }));
}

function Page(props: { app: AppObject; reactVersion: number }) {
  const { app } = props;
  const params = new URLSearchParams(window.location.search);
  const [flyout, setFlyout] = React.useState<string | null>(null);
  const myTabs = appTabs();
  // `?node=…&tab=extension-<n>` as Argo CD; without, the demo opens the Drift tab.
  const wanted = params.get("tab") ?? myTabs.find((t) => t.title === "Drift")?.key ?? "summary";
  const [tab, setTab] = React.useState<string>(wanted);
  const selected = myTabs.find((t) => t.key === tab);
  const tree = { nodes: [] };
  const open = panels.find((p) => p.id === flyout);
  const select = (key: string) => {
    setTab(key);
    const next = new URLSearchParams(window.location.search);
    next.set("node", `argoproj.io/Application/${app.metadata.namespace}/${app.metadata.name}/0`);
    next.set("tab", key);
    window.history.replaceState(null, "", `${window.location.pathname}?${next.toString()}`);
  };
  return (
    <div className="host-layout">
      <nav className="host-nav" aria-label="Argo CD">
        <i className="fa fa-layer-group" aria-hidden="true" />
      </nav>
      <div className="host-page">
        <div className="host-topbar">
          <span>
            Applications / <b>{app.metadata.name}</b>
          </span>
          <span className="host-topbar__right">
            demo host · React {props.reactVersion} ({React.version}) ·{" "}
            <a href={hostLink({ theme: params.get("theme") === "dark" ? "light" : "dark" })}>{params.get("theme") === "dark" ? "light" : "dark"} theme</a> ·{" "}
            <a href={hostLink({ react: props.reactVersion === 19 ? "16" : "19" })}>React {props.reactVersion === 19 ? 16 : 19} host</a>
          </span>
        </div>
        <div className="application-status-panel" data-testid="status-panel">
          <NativeItems app={app} />
          {panels.map((p) => (
            <p.component key={p.id} application={app} openFlyout={() => setFlyout(p.id)} />
          ))}
        </div>
        <main className="white-box host-details">
          <div className="host-tabs" role="tablist">
            {[{ key: "summary", title: "Summary", icon: undefined as string | undefined }, ...myTabs].map((t) => (
              <button key={t.key} role="tab" aria-selected={tab === t.key} className={tab === t.key ? "host-tab host-tab--active" : "host-tab"} onClick={() => select(t.key)} data-key={t.key}>
                {t.icon ? <i className={t.icon} aria-hidden="true" /> : null} {t.title}
              </button>
            ))}
          </div>
          <div className="host-tab-body" role="tabpanel">
            {selected ? (
              React.createElement(selected.component, { resource: app, tree, application: app })
            ) : (
              <pre className="host-summary">{JSON.stringify({ metadata: app.metadata, spec: app.spec }, null, 2)}</pre>
            )}
          </div>
        </main>
      </div>
      {open && open.flyout && (
        <aside className="host-flyout" data-testid="flyout" aria-label={open.title}>
          <button className="host-flyout__close" onClick={() => setFlyout(null)} aria-label="close" data-testid="flyout-close">
            <i className="fa fa-times" aria-hidden="true" />
          </button>
          {React.createElement(open.flyout, { application: app, tree })}
        </aside>
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
